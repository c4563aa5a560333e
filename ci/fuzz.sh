#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz (frame parser, argument decoder,
# bootstrap record decoder) for a bounded time each, starting from the
# committed seeds.  A crash, sanitizer report or leak is a finding: it fails
# the run, and libFuzzer leaves the input that caused it in the build dir.
#
#   ci/fuzz.sh [BUILD_DIR] [SECONDS_PER_TARGET]   (default: build/fuzz 20)
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/lib.sh

build="${1:-build/fuzz}"
seconds="${2:-20}"
ci/deps.sh clang libclang-rt-dev cmake
echo "=== libFuzzer (clang, ASan+UBSan), ${seconds} s per target"
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMPROC_FUZZ=ON \
  -DMPROC_BUILD_TESTS=OFF -DMPROC_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" --parallel "$(ncpus)" >/dev/null
root="$PWD"
build="$(cd "$build" && pwd)"
for target in frame args record; do
  corpus="$build/corpus-$target" # what the run finds; the seeds stay as committed
  mkdir -p "$corpus"
  "$build/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$build/finding-$target-" "$corpus" "$root/tests/fuzz/seeds/$target" \
    2>"$build/fuzz-$target.log" || {
    tail -n 40 "$build/fuzz-$target.log"
    die "fuzz_$target found a problem (input saved as $build/finding-$target-*)"
  }
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$build/fuzz-$target.log" |
    sed "s/^/fuzz_$target: /"
done
echo "fuzzing: no finding"
