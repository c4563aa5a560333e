#!/usr/bin/python3
"""CPython multiprocessing baseline for mproc-bench.

This is the CPython side of the mproc benchmark.  The C driver
(mproc-bench) runs this script once per (figure, round), so CPython's
figures are interleaved with mproc's and with the raw-syscall baselines
rather than measured in one block.  Each run measures ONE figure with ONE
parameter set, prints ONE line of JSON on stdout and exits 0.  Progress and
diagnostics go to stderr only.  Standard library only; written for
Debian's /usr/bin/python3 (3.11).

Command line:

    baseline_python.py FIGURE [--method fork|spawn|forkserver] [--size BYTES]
                              [--rss MIB] [--reps N] [--chunksize C]

FIGURE is one of:

  start             Process(target=noop).start() + join(); unit "s" per
                    start+join.  --method (default fork); --reps (default 20
                    for fork, 5 for spawn/forkserver); --rss MIB (default 0):
                    first allocate and touch that many MiB in the parent.
  queue             this process puts --reps bytes payloads of --size bytes
                    (default 64) into a multiprocessing.Queue, one consumer
                    process gets them; timed from the first put to the
                    consumer's join; unit "msgs/s", plus "mb_per_s" (payload
                    bytes, 1e6 bytes per MB).  --method (default fork);
                    default reps max(50, min(200000, 50e6 // (size + 64))).
  conn_rtt          duplex Pipe(), a child echoes each --size byte message
                    (default 64) with send_bytes/recv_bytes; unit "s" per
                    round trip; --method (default fork); --reps (default 20000).
  lock_uncontended  Lock().acquire() + release() in one process; unit "s"
                    per pair; --reps (default 1000000).
  lock_pingpong     two Semaphore(0) a, b: each round the parent releases b
                    and acquires a, the child acquires b and releases a;
                    unit "s" per round trip; --method (default fork);
                    --reps (default 20000).
  pool              Pool(2).map(square, range(reps), chunksize=C); unit
                    "tasks/s"; --chunksize 0 (default) passes no chunksize
                    (Pool.map's own default); --reps default 200000 for
                    chunksize 1, else 2000000; pool creation and a small
                    warm-up map are outside the timed block; results are
                    checked.  --method (default fork).

Options that do not apply to FIGURE are rejected (exit 2), as are bad values.
Every figure does one untimed warm-up of the timed operation first, then
times the block with time.perf_counter; "value" is the mean over reps.

Output, one line (json.dumps), keys only where they apply:

    {"figure": FIGURE, "impl": "CPython 3.11.x multiprocessing",
     "method": ..., "size": ..., "rss_mib": ..., "unit": UNIT, "value": V,
     "reps": N}                       (queue also has "mb_per_s")

A figure that cannot run here (e.g. an unavailable start method) prints
{"figure": FIGURE, "skipped": "reason"} and exits 0.
"""

import argparse
import json
import multiprocessing
import platform
import sys
import time

FIGURES = ("start", "queue", "conn_rtt", "lock_uncontended",
           "lock_pingpong", "pool")
METHODS = ("fork", "spawn", "forkserver")
# Which options each figure accepts.
USES = {
    "start": {"method", "rss", "reps"},
    "queue": {"method", "size", "reps"},
    "conn_rtt": {"method", "size", "reps"},
    "lock_uncontended": {"reps"},
    "lock_pingpong": {"method", "reps"},
    "pool": {"method", "chunksize", "reps"},
}


# --- module-level child targets (import-safe for spawn/forkserver) ---------

def noop():
    pass


def queue_consumer(q, ready, n, size):
    """Get one warm-up item, signal, then get n items; exit 1 on bad data."""
    q.get()
    ready.set()
    total = 0
    get = q.get
    for _ in range(n):
        total += len(get())
    sys.exit(0 if total == n * size else 1)


def echo_child(conn, n):
    """Echo n messages back over conn."""
    recv, send = conn.recv_bytes, conn.send_bytes
    for _ in range(n):
        send(recv())
    conn.close()


def pingpong_child(a, b, n):
    for _ in range(n):
        b.acquire()
        a.release()


def square(x):
    return x * x


# --- helpers ----------------------------------------------------------------

def log(msg):
    print("baseline_python: " + msg, file=sys.stderr, flush=True)


def finish(proc, what):
    """Join proc (terminating it if it hangs) and check its exit code."""
    proc.join(60)
    if proc.is_alive():
        proc.terminate()
        proc.join()
        raise RuntimeError(what + " child did not exit")
    if proc.exitcode != 0:
        raise RuntimeError("%s child exited with %r" % (what, proc.exitcode))


def reap(proc):
    """Best-effort cleanup on an error path: no zombies."""
    if proc is not None and proc.is_alive():
        proc.terminate()
    if proc is not None and proc._popen is not None:
        proc.join()


# --- figures ----------------------------------------------------------------
# Each returns a dict of result keys (unit, value, ...).

def fig_start(ctx, args):
    ballast = None
    if args.rss:
        nbytes = args.rss * 1024 * 1024
        ballast = bytearray(nbytes)
        ballast[::4096] = b"\x01" * len(range(0, nbytes, 4096))
        log("touched %d MiB in the parent" % args.rss)
    p = ctx.Process(target=noop, daemon=True)
    p.start()
    finish(p, "warm-up")
    Process = ctx.Process
    t0 = time.perf_counter()
    for _ in range(args.reps):
        p = Process(target=noop, daemon=True)
        p.start()
        p.join()
        if p.exitcode != 0:
            raise RuntimeError("no-op child exited with %r" % p.exitcode)
    t1 = time.perf_counter()
    del ballast
    return {"unit": "s", "value": (t1 - t0) / args.reps}


def fig_queue(ctx, args):
    n, size = args.reps, args.size
    q = ctx.Queue()
    ready = ctx.Event()
    payload = b"x" * size
    p = ctx.Process(target=queue_consumer, args=(q, ready, n, size),
                    daemon=True)
    p.start()
    try:
        q.put(payload)                  # warm-up: starts the feeder thread
        if not ready.wait(60):
            raise RuntimeError("queue consumer never got the warm-up item")
        put = q.put
        t0 = time.perf_counter()
        for _ in range(n):
            put(payload)
        p.join()
        t1 = time.perf_counter()
        finish(p, "queue consumer")
    finally:
        reap(p)
        q.close()
        q.join_thread()
    dt = t1 - t0
    return {"unit": "msgs/s", "value": n / dt,
            "mb_per_s": n * size / dt / 1e6}


def fig_conn_rtt(ctx, args):
    n = args.reps
    parent, child = ctx.Pipe(duplex=True)
    msg = b"x" * args.size
    p = ctx.Process(target=echo_child, args=(child, n + 1), daemon=True)
    p.start()
    child.close()
    try:
        send, recv = parent.send_bytes, parent.recv_bytes
        send(msg)                       # warm-up round trip
        if recv() != msg:
            raise RuntimeError("echo mismatch")
        t0 = time.perf_counter()
        for _ in range(n):
            send(msg)
            recv()
        t1 = time.perf_counter()
        finish(p, "echo")
    finally:
        reap(p)
        parent.close()
    return {"unit": "s", "value": (t1 - t0) / n}


def fig_lock_uncontended(ctx, args):
    lock = ctx.Lock()
    acquire, release = lock.acquire, lock.release
    acquire()                           # warm-up
    release()
    t0 = time.perf_counter()
    for _ in range(args.reps):
        acquire()
        release()
    t1 = time.perf_counter()
    return {"unit": "s", "value": (t1 - t0) / args.reps}


def fig_lock_pingpong(ctx, args):
    n = args.reps
    a = ctx.Semaphore(0)
    b = ctx.Semaphore(0)
    p = ctx.Process(target=pingpong_child, args=(a, b, n + 1), daemon=True)
    p.start()
    try:
        b.release()                     # warm-up round
        if not a.acquire(timeout=60):
            raise RuntimeError("ping-pong child never answered")
        a_acquire, b_release = a.acquire, b.release
        t0 = time.perf_counter()
        for _ in range(n):
            b_release()
            a_acquire()
        t1 = time.perf_counter()
        finish(p, "ping-pong")
    finally:
        reap(p)
    return {"unit": "s", "value": (t1 - t0) / n}


def fig_pool(ctx, args):
    n = args.reps
    kw = {"chunksize": args.chunksize} if args.chunksize else {}
    expected = [x * x for x in range(n)]
    pool = ctx.Pool(2)
    try:
        warm = pool.map(square, range(1000), **kw)
        if warm != [x * x for x in range(1000)]:
            raise RuntimeError("pool warm-up returned wrong results")
        t0 = time.perf_counter()
        got = pool.map(square, range(n), **kw)
        t1 = time.perf_counter()
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
    if got != expected:
        raise RuntimeError("pool.map returned wrong results")
    return {"unit": "tasks/s", "value": n / (t1 - t0)}


RUN = {
    "start": fig_start,
    "queue": fig_queue,
    "conn_rtt": fig_conn_rtt,
    "lock_uncontended": fig_lock_uncontended,
    "lock_pingpong": fig_lock_pingpong,
    "pool": fig_pool,
}


# --- command line -----------------------------------------------------------

def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        description="CPython multiprocessing baseline for mproc-bench: "
                    "measures one figure, prints one JSON line.")
    ap.add_argument("figure", choices=FIGURES)
    ap.add_argument("--method", choices=METHODS, default=None,
                    help="start method (default fork)")
    ap.add_argument("--size", type=int, default=None,
                    help="payload bytes for queue/conn_rtt (default 64)")
    ap.add_argument("--rss", type=int, default=None,
                    help="MiB to allocate and touch before start (default 0)")
    ap.add_argument("--reps", type=int, default=None,
                    help="repetitions (default depends on the figure)")
    ap.add_argument("--chunksize", type=int, default=None,
                    help="pool chunksize; 0 = Pool.map's default (default 0)")
    args = ap.parse_args(argv)

    uses = USES[args.figure]
    for opt in ("method", "size", "rss", "reps", "chunksize"):
        if getattr(args, opt) is not None and opt not in uses:
            ap.error("--%s does not apply to figure %r" % (opt, args.figure))
    if args.size is not None and args.size < 0:
        ap.error("--size must be >= 0")
    if args.rss is not None and args.rss < 0:
        ap.error("--rss must be >= 0")
    if args.reps is not None and args.reps < 1:
        ap.error("--reps must be >= 1")
    if args.chunksize is not None and args.chunksize < 0:
        ap.error("--chunksize must be >= 0")

    if "method" in uses and args.method is None:
        args.method = "fork"
    if "size" in uses and args.size is None:
        args.size = 64
    if "rss" in uses and args.rss is None:
        args.rss = 0
    if "chunksize" in uses and args.chunksize is None:
        args.chunksize = 0
    if args.reps is None:
        f = args.figure
        if f == "start":
            args.reps = 20 if args.method == "fork" else 5
        elif f == "queue":
            args.reps = max(50, min(200000, int(50e6 / (args.size + 64))))
        elif f in ("conn_rtt", "lock_pingpong"):
            args.reps = 20000
        elif f == "lock_uncontended":
            args.reps = 1000000
        elif f == "pool":
            args.reps = 200000 if args.chunksize == 1 else 2000000
    return args


def main(argv=None):
    args = parse_args(argv)
    uses = USES[args.figure]
    v = sys.version_info
    out = {"figure": args.figure,
           "impl": "%s %d.%d.%d multiprocessing"
                   % (platform.python_implementation(),
                      v.major, v.minor, v.micro)}
    if "method" in uses:
        out["method"] = args.method
    if "size" in uses:
        out["size"] = args.size
    if "rss" in uses:
        out["rss_mib"] = args.rss
    if "chunksize" in uses:
        out["chunksize"] = args.chunksize

    method = args.method or "fork"
    if method not in multiprocessing.get_all_start_methods():
        print(json.dumps({"figure": args.figure,
                          "skipped": "start method %r not available" % method}),
              flush=True)
        return 0
    try:
        ctx = multiprocessing.get_context(method)
    except ValueError as e:
        print(json.dumps({"figure": args.figure, "skipped": str(e)}),
              flush=True)
        return 0

    log("%s %s" % (args.figure,
                   " ".join("%s=%s" % (k, out[k]) for k in
                            ("method", "size", "rss_mib", "chunksize")
                            if k in out) + " reps=%d" % args.reps))
    res = RUN[args.figure](ctx, args)
    out["unit"] = res.pop("unit")
    out["value"] = res.pop("value")
    out.update(res)
    out["reps"] = args.reps
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
