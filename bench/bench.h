/*
 * What mproc-bench's files share: one measurement's parameters, mproc's
 * own figures (bench/bench_mproc.c, the public API only) and a clock of
 * the benchmark's own.
 */
#ifndef MPROC_BENCH_H
#define MPROC_BENCH_H

#include <stddef.h>

#include "mproc.h"

/* The figures, as the baseline programs name them too. */
typedef enum {
    FIG_START,       /* start+join of an empty target: seconds */
    FIG_QUEUE,       /* 1 producer process -> 1 consumer process: msgs/s */
    FIG_QUEUE_4X4,   /* 4 producers -> 4 consumers: msgs/s */
    FIG_QUEUE_THREAD,/* thread context, producer thread -> consumer thread: msgs/s */
    FIG_CONN_RTT,    /* 64 B round trip: seconds */
    FIG_LOCK,        /* uncontended acquire+release: seconds */
    FIG_LOCK_PINGPONG, /* 2-process ping-pong: seconds per round trip */
    FIG_POOL,        /* pool.map of squares, 2 workers: tasks/s */
    FIG_COUNT
} bench_figure;

typedef struct {
    bench_figure fig;
    mproc_method method; /* FIG_START, FIG_QUEUE, FIG_POOL */
    size_t size;         /* FIG_QUEUE*: message bytes */
    int rss_mib;         /* FIG_START: the parent's resident memory */
    size_t chunksize;    /* FIG_POOL: 0 = the default */
    long reps;           /* how many operations one measurement times */
} bench_params;

/* One measurement of mproc's figure: the value in the figure's unit
 * (seconds per operation, or operations per second), or < 0 with a reason
 * in why (at most 160 bytes). */
double bench_mproc(const bench_params *bp, char *why);

/* How many messages one queue measurement moves (the same formula as the
 * baseline programs: about 50 MB or 500,000 messages). */
long bench_queue_reps(size_t size);

/* Seconds from an arbitrary origin, monotonic. */
double bench_now(void);

#endif
