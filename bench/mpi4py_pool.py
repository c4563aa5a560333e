"""bench/pool_mpi_bench.c's figures for mpi4py.futures.MPIPoolExecutor.

    mpiexec -n 3 /usr/bin/python3 -m mpi4py.futures bench/mpi4py_pool.py [ROUNDS]

Static mode: rank 0 runs this script, ranks 1 and 2 are the workers.  The
same work as the C program: squares of ints (chunksize 1, then the chunk
size mproc's default gives 2 workers, ceil(n / 8), since mpi4py's own
default is 1), and 8 tasks of 16 MiB of bytes in, 16 MiB out (every byte
xor 0xa5).  Output: "name<TAB>median<TAB>min<TAB>max<TAB>unit".
"""
import statistics
import sys
import time

from mpi4py.futures import MPIPoolExecutor

BIG = 16 << 20
BIG_TASKS = 8
FLIP = bytes(i ^ 0xA5 for i in range(256))


def square(x):
    return x * x


def flip(b):
    return b.translate(FLIP)


def squares(ex, n, chunksize):
    t0 = time.perf_counter()
    out = list(ex.map(square, range(n), chunksize=chunksize))
    t = time.perf_counter() - t0
    assert out[-1] == (n - 1) * (n - 1)
    return n / t


def big_rate(ex):
    data = bytes([0x11]) * BIG
    t0 = time.perf_counter()
    ok = sum(1 for r in ex.map(flip, [data] * BIG_TASKS) if len(r) == BIG and r[1] == 0x11 ^ 0xA5)
    t = time.perf_counter() - t0
    assert ok == BIG_TASKS
    return BIG_TASKS * BIG / 1e6 / t


def report(name, v, unit):
    print(f"{name}\t{statistics.median(v):.0f}\t{min(v):.0f}\t{max(v):.0f}\t{unit}", flush=True)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with MPIPoolExecutor() as ex:
        squares(ex, 1000, 1)
        big_rate(ex)
        one, dflt, mb = [], [], []
        for _ in range(rounds):
            one.append(squares(ex, 100000, 1))
            dflt.append(squares(ex, 1000000, -(-1000000 // 8)))
            mb.append(big_rate(ex))
    report("trivial, chunksize 1", one, "tasks/s")
    report("trivial, default chunksize", dflt, "tasks/s")
    report("16 MiB in + 16 MiB out", mb, "MB/s in")


if __name__ == "__main__":
    main()
