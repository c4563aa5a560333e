#!/usr/bin/env bash
# Makes `apt-get source` work on Debian and Ubuntu: when the distribution's
# own archive has no deb-src entry, adds one for each of its deb entries and
# fetches the source index.
#
#   ci/deb-src.sh            (as root, or with sudo)
#   ci/deb-src.sh --print    only print the entries it would add
#
# Reads /etc/apt/sources.list and /etc/apt/sources.list.d/*.list (one-line
# form) and /etc/apt/sources.list.d/*.sources (deb822 form, Debian 12 and
# Ubuntu 24.04); APT_ETC_DIR overrides /etc/apt (for trying it on a copy).
# Writes sources.list.d/mproc-deb-src.sources and/or mproc-deb-src.list.
#
# An entry counts as the distribution's archive when all its URIs are on
# debian.org or on Ubuntu's archive hosts (archive.ubuntu.com and its
# regional/cloud mirrors such as azure.archive.ubuntu.com, security., ports.),
# when it is a mirror+file: list of such URIs (GitHub's Ubuntu runners), or
# when it is signed by the Debian/Ubuntu archive keyring (other mirrors).
# Third-party repositories (PPAs, packages.microsoft.com, ...) are left out:
# most publish no sources and apt-get update would fail on them.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

print_only=0
case "${1:-}" in
  --print) print_only=1 ;;
  "") ;;
  *) die "usage: ci/deb-src.sh [--print]" ;;
esac

etc="${APT_ETC_DIR:-/etc/apt}"
ours_deb822="$etc/sources.list.d/mproc-deb-src.sources"
ours_oneline="$etc/sources.list.d/mproc-deb-src.list"

files=()
for f in "$etc/sources.list" "$etc"/sources.list.d/*.list "$etc"/sources.list.d/*.sources; do
  [ -f "$f" ] && [ "$f" != "$ours_deb822" ] && [ "$f" != "$ours_oneline" ] && files+=("$f")
done
[ ${#files[@]} -gt 0 ] || die "no APT sources in $etc"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# One pass over every file.  Prints "have-deb-src" when the archive already
# has a deb-src entry; writes the derived deb822 stanzas to $tmp/deb822 and
# the derived one-line entries to $tmp/oneline.
awk -v out822="$tmp/deb822" -v outline="$tmp/oneline" '
function host_ok(u,   h) {
  h = tolower(u)
  sub(/^mirror\+/, "", h)
  sub(/^[a-z0-9+.-]*:\/\//, "", h)
  sub(/[\/:].*$/, "", h)
  sub(/^.*@/, "", h)
  return h ~ /(^|\.)debian\.org$/ ||
         h ~ /(^|\.)(archive|ports)\.ubuntu\.com$/ ||
         h ~ /^(security|old-releases|mirrors)\.ubuntu\.com$/
}
# A mirror+file: URI names a local list of mirrors, one URI per line.
function uri_ok(u,   path, line, n, ok, fields) {
  if (u !~ /^mirror\+file:/)
    return host_ok(u)
  path = u
  sub(/^mirror\+file:(\/\/)?/, "", path)
  ok = 0; n = 0
  while ((getline line < path) > 0) {
    if (line ~ /^[ \t]*(#|$)/) continue
    split(line, fields, /[ \t]+/)
    n++
    if (!host_ok(fields[1])) { ok = -1 }
    else if (ok == 0) { ok = 1 }
  }
  close(path)
  return n > 0 && ok == 1
}
function keyring_ok(k) {
  return k ~ /(debian|ubuntu)-archive-keyring\.(gpg|pgp|asc)$/
}
function all_uris_ok(list,   n, i, u) {
  n = split(list, u, /[ \t]+/)
  if (n == 0) return 0
  for (i = 1; i <= n; i++) if (u[i] != "" && !uri_ok(u[i])) return 0
  return 1
}

# ---- deb822 stanzas (*.sources) ----------------------------------------------
function flush_stanza(   i, types, distro) {
  if (nlines == 0) return
  types = " " field["types"] " "
  distro = tolower(field["enabled"]) != "no" &&
           (all_uris_ok(field["uris"]) || keyring_ok(field["signed-by"]))
  if (distro && types ~ /[ \t]deb-src[ \t]/) {
    print "have-deb-src"
  } else if (distro && types ~ /[ \t]deb[ \t]/) {
    print "Types: deb-src" > out822
    for (i = 1; i <= nlines; i++)
      if (sline[i] !~ /^[Tt]ypes:/ && sline[i] !~ /^[Ee]nabled:/) print sline[i] > out822
    print "" > out822
  }
  nlines = 0; key = ""
  delete field
}
FNR == 1 && prevfile != "" && prevfile ~ /\.sources$/ { flush_stanza() }
FNR == 1 { prevfile = FILENAME; nlines = 0; key = "" }

FILENAME ~ /\.sources$/ {
  sub(/\r$/, "")
  if ($0 ~ /^[ \t]*$/) { flush_stanza(); next }
  if ($0 ~ /^#/) next
  if ($0 ~ /^[ \t]/) {                 # continuation of the previous field
    if (key != "") sline[++nlines] = $0
    next
  }
  key = tolower($0); sub(/:.*$/, "", key)
  value = $0; sub(/^[^:]*:[ \t]*/, "", value); sub(/[ \t]+$/, "", value)
  field[key] = value
  sline[++nlines] = $0
  next
}

# ---- one-line entries (sources.list, *.list) ---------------------------------
{
  sub(/\r$/, "")
  entry = $0
  sub(/#.*$/, "", entry)
  n = split(entry, w, /[ \t]+/)
  i = 1
  if (w[i] == "") i++
  type = w[i++]
  if (type != "deb" && type != "deb-src") next
  signedby = ""
  if (substr(w[i], 1, 1) == "[") {     # [ option=value ... ]
    do {
      opt = w[i]
      gsub(/[\[\]]/, "", opt)
      if (opt ~ /^signed-by=/) { signedby = opt; sub(/^signed-by=/, "", signedby) }
    } while (w[i++] !~ /\]$/ && i <= n)
  }
  if (i > n || !(uri_ok(w[i]) || keyring_ok(signedby))) next
  if (type == "deb-src") { print "have-deb-src"; next }
  derived = entry
  sub(/^[ \t]*deb[ \t]+/, "deb-src ", derived)
  sub(/[ \t]+$/, "", derived)
  print derived > outline
}
END { if (prevfile ~ /\.sources$/) flush_stanza() }
' "${files[@]}" >"$tmp/status"

if grep -q have-deb-src "$tmp/status"; then
  [ "$print_only" -eq 1 ] && echo "# the distribution's archive already has deb-src entries"
  exit 0
fi
[ -s "$tmp/deb822" ] || [ -s "$tmp/oneline" ] ||
  die "no entry of the Debian/Ubuntu archive in ${files[*]} to derive deb-src from"

if [ "$print_only" -eq 1 ]; then
  for f in deb822 oneline; do
    [ -s "$tmp/$f" ] && cat "$tmp/$f"
  done
  exit 0
fi

# Writes (or removes) one of our files; status 0 when it changed.
install_if_changed() { # derived-file, our-file
  if [ -s "$1" ]; then
    cmp -s "$1" "$2" 2>/dev/null && return 1
    log "adding deb-src entries to $2"
    as_root cp "$1" "$2"
    as_root chmod 644 "$2"
  else
    [ -e "$2" ] || return 1
    as_root rm -f "$2"
  fi
}
changed=0
install_if_changed "$tmp/deb822" "$ours_deb822" && changed=1
install_if_changed "$tmp/oneline" "$ours_oneline" && changed=1

# The new entries need their index (so does a machine whose lists were
# cleaned after an earlier run).
if [ "$changed" -eq 1 ] || ! ls /var/lib/apt/lists/*_Sources* >/dev/null 2>&1; then
  log "apt-get update (source indexes)"
  as_root apt-get update -qq
fi
