#!/bin/sh
# A program built with plain cc against an installed mproc, found by
# pkg-config (ci/consumers.sh sets PKG_CONFIG_PATH to the prefix's
# lib/pkgconfig): the README's two lines.  --static: the static library
# and what it needs.
#   tests/consumers/pkg_config/build.sh OUTPUT [--static]
set -eu
out="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
cd "$(dirname "$0")/.."
# shellcheck disable=SC2046 # pkg-config's output is a list of words
if [ "${2:-}" = --static ]; then
  cc -o "$out" app.c $(pkg-config --cflags --libs --static mproc)
else
  cc -o "$out" app.c $(pkg-config --cflags --libs mproc)
fi
