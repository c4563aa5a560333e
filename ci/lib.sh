# shellcheck shell=bash
# Helpers shared by the ci/ scripts; sourced, not run:
#   . "$(dirname "$0")/lib.sh"
# Kept to bash 3.2 (macOS's /bin/bash): the build-and-test scripts run there.

# Prints a progress line on stderr.
log() { printf '== %s\n' "$*" >&2; }

# Prints "<script>: message" on stderr and exits 1.
die() { printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

# Prints the number of online CPUs (Linux, macOS, MSYS2, Git Bash).
ncpus() {
  getconf _NPROCESSORS_ONLN 2>/dev/null || nproc 2>/dev/null || echo 2
}

# Creates a directory if needed and prints its absolute path.
abs_dir() {
  mkdir -p "$1" && (cd "$1" && pwd)
}
