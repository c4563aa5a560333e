#!/usr/bin/env bash
# Lists the tests a ctest run in a build tree skipped, with their reasons:
#
#   ci/report-skips.sh BUILD_DIR STAGE_NAME
#
# prints
#   --- skipped in STAGE_NAME ---
#   <ctest test>: SKIPPED: <CUnit test>: <reason>        a CUnit test skipped itself
#   <ctest test>: skipped by CTest (SKIP_RETURN_CODE=77): <last output line>
#   <ctest test>: not run by CTest (Required Files Missing), disabled, ...
#   none                                                  when nothing was skipped
#
# Sources, both under BUILD_DIR/Testing/Temporary:
# - LastTest.log: one block per test, written whole when the test ends
#   ("N/M Testing: <name>" ... "Output:" / dashes ... "<end of output>"), with
#   the test's complete output (not truncated like ctest's console output).
#   Lines containing "SKIPPED: " there are reported under the block's name.
# - LastTest.junit.xml (ctest --output-junit, as ci/build-and-test.sh runs
#   it): which tests CTest itself did not run (status "notrun": exit code 77
#   with SKIP_RETURN_CODE 77, missing required files; "disabled").
#   LastTest.log cannot tell: it says "Test Passed." for those too.
# Always exits 0 (a report, not a check).  Bash 3.2 and any POSIX awk.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: ci/report-skips.sh BUILD_DIR STAGE_NAME" >&2; exit 2; }
tmp="$1/Testing/Temporary"
log="$tmp/LastTest.log"
junit="$tmp/LastTest.junit.xml"

echo "--- skipped in $2 ---"
if [ ! -f "$log" ]; then
  echo "(no $log: ctest did not run)"
  exit 0
fi
[ -f "$junit" ] || junit=/dev/null

awk -v junit="$junit" '
function unxml(s) {
  gsub(/&lt;/, "<", s); gsub(/&gt;/, ">", s); gsub(/&quot;/, "\"", s)
  gsub(/&apos;/, "\047", s); gsub(/&amp;/, "\\&", s)
  return s
}
function attr(s, name,   v) {
  if (!match(s, name "=\"[^\"]*\"")) return ""
  v = substr(s, RSTART + length(name) + 2, RLENGTH - length(name) - 3)
  return unxml(v)
}
{ sub(/\r$/, "") }

# ---- junit: <testcase name="x" ... status="notrun"> then <skipped message="..."/>
FILENAME == junit && /<testcase / {
  test = attr($0, "name")
  st = attr($0, "status")
  if (st == "notrun") { ctskip[test] = "skipped by CTest"; order[++nskip] = test }
  else if (st == "disabled") { ctskip[test] = "disabled"; order[++nskip] = test }
  next
}
FILENAME == junit && /<skipped / {
  msg = attr($0, "message")
  if (test in ctskip && msg !~ /^SKIP_/) ctskip[test] = "not run by CTest"
  if (test in ctskip) ctskip[test] = ctskip[test] " (" msg ")"
  next
}
FILENAME == junit { next }

# ---- LastTest.log (inside the output of a test, only its end marker counts)
inout && /^<end of output>$/ { inout = 0; next }
inout {
  if ($0 ~ /[^ \t]/) last[name] = $0
  if ((i = index($0, "SKIPPED: ")) > 0) print name ": " substr($0, i)
  next
}
/^[0-9]+\/[0-9]+ Testing: / { name = $0; sub(/^[0-9]+\/[0-9]+ Testing: /, "", name); next }
/^Output:$/ && name != "" { want_dashes = 1; next }
want_dashes { want_dashes = 0; if ($0 ~ /^-+$/) { inout = 1; last[name] = "" } }
END {
  for (k = 1; k <= nskip; k++) {
    t = order[k]
    line = t ": " ctskip[t]
    if (last[t] != "") line = line ": " last[t]
    print line
  }
}
' "$junit" "$log" | LC_ALL=C sort -s -t ' ' -k1,1 >"$tmp/skipped.txt" || true

if [ -s "$tmp/skipped.txt" ]; then
  cat "$tmp/skipped.txt"
else
  echo "none"
fi
[ "$junit" != /dev/null ] || echo "(no $tmp/LastTest.junit.xml: tests CTest skipped, exit code 77, are not listed)"
exit 0
