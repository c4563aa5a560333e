#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages a build needs, only those missing.
#   ci/deps.sh PACKAGE...
# Runs apt-get update once, and only when something is missing.  Needs root
# or sudo then.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
