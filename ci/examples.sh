#!/usr/bin/env bash
# Builds the examples and runs them on this OS's default start method (the
# README's first command).  Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."

ci/deps.sh build-essential cmake
cmake -S . -B build/examples -DCMAKE_BUILD_TYPE=Release -DMPROC_BUILD_TESTS=OFF >/dev/null
cmake --build build/examples -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
for example in start_methods countdown_process countdown_thread queue_producer_consumer queue_try shared_counter \
               pool_map pool_threads; do
  echo "=== examples/$example"
  build/examples/examples/$example
done
