/*
 * What the MPI component's files share: the private communicator and the
 * ranks' table (mpi/mpi_comm.c), the messages between the master and the
 * worker ranks, and a mailbox that receives without blocking, sends
 * without deadlock and sleeps with a back-off when there is nothing to do.
 *
 * The master (rank 0) talks to worker ranks only; every message is
 * point-to-point on a duplicate of MPI_COMM_WORLD, and MPI keeps the order
 * of messages between two ranks, which the protocol relies on.
 */
#ifndef MPROC_MPI_INTERNAL_H
#define MPROC_MPI_INTERNAL_H

#include <mpi.h>

#include "pool_internal.h"

/* Master to worker rank:
 *   START    [u32 maxtasks][u64 max_message][str initializer][args initargs]  begin a worker life
 *   FRAME    a pool message (TASKS, STOP), as the dispatcher built it
 *   CANCEL   end the current life now; drop what it was sent; answer ACK
 *   SHUTDOWN answer BYE, finalize MPI, exit 0
 * Worker rank to master:
 *   FRAME    a pool message (READY, DONE)
 *   END      [u32 code] the life ended by itself (STOP, maxtasksperchild, initializer)
 *   ACK      a CANCEL was handled: what the rank sends next is a new life's
 *   BYE      leaving */
enum {
    MPROC__MPI_START = 1,
    MPROC__MPI_FRAME,
    MPROC__MPI_CANCEL,
    MPROC__MPI_SHUTDOWN,
    MPROC__MPI_END,
    MPROC__MPI_ACK,
    MPROC__MPI_BYE
};

/* A received message. */
typedef struct mproc__mpi_msg {
    struct mproc__mpi_msg *next;
    int src, tag;
    void *data; /* mproc__mpi_body_alloc, len bytes */
    size_t len;
} mproc__mpi_msg;

/* A send still in flight, with the copy it owns. */
typedef struct mproc__mpi_pending {
    struct mproc__mpi_pending *next;
    MPI_Request req;
    void *copy;
} mproc__mpi_pending;

typedef struct {
    int inited;     /* mproc_mpi_init ran on this rank */
    int we_inited;  /* and called MPI_Init_thread */
    int finalized;
    int level;      /* the thread level MPI provided */
    long owner;     /* the process that ran mproc_mpi_init (not a fork child of it) */
    MPI_Comm comm;  /* a duplicate of MPI_COMM_WORLD */
    int rank, size;
    /* The mailbox: received messages not yet handled, in arrival order,
     * and sends still in flight. */
    mproc__mpi_msg *head, **tail;
    mproc__mpi_pending *pending;
    void *spare;    /* a large body kept for the next (mproc__mpi_body_free) */
    double backoff;   /* the next idle sleep, seconds */
    double active_at; /* when a message last came or went */
    mproc__mutex *mu;
    mproc__cond *cv;
    int woken;      /* mu: a thread asked the master's dispatcher to look */
    /* Master only. */
    long long *pids; /* every rank's pid (MPI_Gather's MPI_LONG_LONG) */
    int *stale;     /* per rank: CANCELs whose ACK has not come (its messages until then are dropped) */
    mproc_pool *live;   /* mu: the MPI pool alive now, if any */
    int live_transport; /* mu: its transport exists (set before the pool is made) */
} mproc__mpi_state;

extern mproc__mpi_state mproc__mpi;

/* Messages of at least this size are sent from the caller's buffer (the
 * call waits until MPI is done with it); smaller ones are copied and sent
 * in the background. */
#define MPROC__MPI_COPY_LIMIT ((size_t)64 << 10)

/* Receives every message already there (from any rank on the master, from
 * the master on a worker) into the mailbox and completes finished sends.
 * Returns how many messages arrived, or MPROC_ENOMEM. */
int mproc__mpi_poll(void);
/* The mailbox's first message, or NULL.  On the master, messages from a
 * rank with CANCELs unanswered are dropped here (the ACK ends that). */
mproc__mpi_msg *mproc__mpi_take(void);
/* Drops from the mailbox every message from rank src (a worker given up on). */
void mproc__mpi_drop_from(int src);
/* Drops the mailbox's messages before stop, a message in it, and stop too
 * when and_stop (a worker rank's life ended at a CANCEL or SHUTDOWN). */
void mproc__mpi_drop_until(mproc__mpi_msg *stop, int and_stop);
void mproc__mpi_msg_free(mproc__mpi_msg *m);
/* Received bodies: allocated here and given back here (also by the pool,
 * through its transport's release).  One large body (64 KiB and over) is
 * kept for the next: a stream of 16 MiB messages reuses one buffer instead
 * of faulting in fresh pages for each.  drop_spare frees that one. */
void *mproc__mpi_body_alloc(size_t n);
void mproc__mpi_body_free(void *data);
void mproc__mpi_body_drop_spare(void);
/* Sends data to rank dest with tag; receives into the mailbox meanwhile,
 * so two ranks sending to each other never deadlock.  0, MPROC_ETOOBIG
 * (over INT_MAX bytes) or MPROC_ENOMEM. */
int mproc__mpi_send(int dest, int tag, const void *data, size_t len);
/* Waits for every send in flight. */
void mproc__mpi_flush(void);
/* Sleeps the back-off's next step (doubling from 1 us to 1 ms, 5 ms once
 * idle for a while), at most limit seconds when limit >= 0; cut short by
 * mproc__mpi_wake (and not at all while a wake is pending). */
void mproc__mpi_idle(double limit);
/* Something happened: the next idle sleeps the shortest. */
void mproc__mpi_active(void);
/* From any thread: the dispatcher's idle ends now and its next event is a
 * wake.  mproc__mpi_woken() reads and clears that. */
void mproc__mpi_wake(void);
int mproc__mpi_woken(void);

/* Whether this process is the one that ran mproc_mpi_init (a fork child
 * of the master inherits the state, not MPI). */
int mproc__mpi_mine(void);

/* Sets up the state (comm, rank, size, mailbox); 0 or an error. */
int mproc__mpi_state_init(void);

/* A worker rank's life: serves START/CANCEL/SHUTDOWN until SHUTDOWN
 * (mpi/mpi_rank.c).  Does not return. */
void mproc__mpi_serve(void);

#endif
