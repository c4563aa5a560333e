#!/usr/bin/env bash
# The MPI pool's figures in one run: the MPI pool (mpiexec -n 3: 1 master,
# 2 worker ranks), the process pool with 2 workers, and mpi4py.futures'
# MPIPoolExecutor with 2 worker ranks (Debian's python3-mpi4py), each
# ROUNDS times, as a Markdown table of medians (min-max).
#   bench/pool_mpi.sh [ROUNDS]
# Builds build/bench (Release, MPROC_BUILD_BENCH=ON) and installs what is
# missing first.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds="${1:-5}"
ci/deps.sh build-essential cmake libopenmpi-dev openmpi-bin python3-mpi4py
cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DMPROC_BUILD_BENCH=ON -DMPROC_BUILD_TESTS=OFF \
  -DMPROC_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/bench --target mproc-bench-mpi -j"$(nproc 2>/dev/null || echo 2)" >/dev/null

flags=()
if mpiexec --version 2>/dev/null | grep -qE "Open MPI|OpenRTE"; then
  flags=(--oversubscribe)
  [ "$(id -u)" = 0 ] && flags+=(--allow-run-as-root)
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo "MPI pool (mproc, mpiexec -n 3) ..." >&2
mpiexec -n 3 ${flags[@]+"${flags[@]}"} build/bench/bench/mproc-bench-mpi "$rounds" >"$out/mpi"
echo "process pool (mproc, 2 workers, default start method) ..." >&2
build/bench/bench/mproc-bench-mpi --local "$rounds" >"$out/local"
echo "mpi4py.futures (mpiexec -n 3) ..." >&2
mpiexec -n 3 ${flags[@]+"${flags[@]}"} /usr/bin/python3 -m mpi4py.futures bench/mpi4py_pool.py "$rounds" >"$out/py"

echo "| figure | MPI pool | process pool | mpi4py.futures | MPI pool / mpi4py |"
echo "|---|---|---|---|---|"
paste "$out/mpi" "$out/local" "$out/py" | awk -F'\t' '{
  printf "| %s (%s) | %s (%s-%s) | %s (%s-%s) | %s (%s-%s) | %.2f |\n",
    $1, $5, $2, $3, $4, $7, $8, $9, $12, $13, $14, $2 / $12 }'
echo
echo "$(date -u +%Y-%m-%d), $(nproc) cores, ${rounds} rounds each; mpi4py's default chunksize is 1: its"
echo "'default chunksize' row uses mproc's default for 2 workers, ceil(n / 8)."
