#!/usr/bin/env bash
# Builds the examples and runs them on this OS's default start method (the
# README's first command), after mproc-info's report on the build.  Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."

# gnuplot draws mproc-bench --plot's PNGs; python3 runs its CPython baselines.
ci/deps.sh build-essential cmake pkg-config libopenmpi-dev openmpi-bin libapr1-dev gnuplot-nox python3
cmake -S . -B build/examples -DCMAKE_BUILD_TYPE=Release -DMPROC_BUILD_TESTS=OFF >/dev/null
cmake --build build/examples -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
# First in the log: what this build is (version, compiler, start methods,
# the features detected).
echo "=== mproc-info"
build/examples/tools/mproc-info
for example in start_methods countdown_process countdown_thread queue_producer_consumer queue_try shared_counter \
               pool_map pool_threads; do
  echo "=== examples/$example"
  build/examples/examples/$example
done

# Spawn without owning main: a host with no mproc_init runs a plugin whose
# spawn children run the plugin's targets in mproc-worker.
if [ -x build/examples/examples/plugin_host ]; then
  echo "=== examples/plugin (plugin_host with mproc_example_plugin)"
  build/examples/examples/plugin_host "$(ls build/examples/examples/libmproc_example_plugin.*)"
fi

# mproc inside an APR program (built when pkg-config finds apr-1, which
# ci/deps.sh installed above): a prefork-style parent whose apr_pool_t owns
# a job queue, a result pipe and three spawn workers, one apr_pollset for
# them and a socket of its own.
if [ -x build/examples/examples/apr_workers ]; then
  echo "=== examples/apr_workers"
  build/examples/examples/apr_workers
fi

# The same squares on MPI ranks: 1 master and 2 workers on this machine.
# Open MPI runs as root and puts 3 ranks on fewer cores only when told.
if [ -x build/examples/examples/pool_mpi ]; then
  echo "=== examples/pool_mpi (mpiexec -n 3)"
  flags=()
  if mpiexec --version 2>/dev/null | grep -qE "Open MPI|OpenRTE"; then
    flags=(--oversubscribe)
    [ "$(id -u)" = 0 ] && flags+=(--allow-run-as-root)
  fi
  mpiexec -n 3 ${flags[@]+"${flags[@]}"} build/examples/examples/pool_mpi
fi
