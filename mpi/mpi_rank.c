/*
 * A worker rank: between pools it waits for the master's START (probing
 * with a back-off, so an idle rank costs almost nothing), then runs the
 * pool's own worker loop (core/pool_worker.c) over an endpoint made of
 * MPI messages, once per worker life, until the master's SHUTDOWN.
 */
#include <stdlib.h>
#include <string.h>

#include "mpi_internal.h"

typedef struct {
    mproc__pool_endpoint ep;
    mproc__pool_slot slot; /* the master cannot read it; nothing else does */
    int cancelled;         /* the life ended at a CANCEL: answer ACK, not END */
} rank_endpoint;

/* The mailbox's first CANCEL or SHUTDOWN, or NULL. */
static mproc__mpi_msg *first_control(void)
{
    for (mproc__mpi_msg *m = mproc__mpi.head; m; m = m->next)
        if (m->tag == MPROC__MPI_CANCEL || m->tag == MPROC__MPI_SHUTDOWN)
            return m;
    return NULL;
}

static int ep_recv(mproc__pool_endpoint *ep, void **data, size_t *len)
{
    rank_endpoint *re = (rank_endpoint *)ep;
    for (;;) {
        mproc__mpi_msg *m, *stop;
        if (mproc__mpi_poll() < 0)
            return MPROC_ENOMEM;
        if ((stop = first_control()) != NULL) {
            /* What came before it belongs to this life: dropped unrun.  A
             * SHUTDOWN stays for the serving loop. */
            int cancel = stop->tag == MPROC__MPI_CANCEL;
            mproc__mpi_drop_until(stop, cancel);
            if (cancel)
                re->cancelled = 1;
            return MPROC_ECLOSED;
        }
        if ((m = mproc__mpi.head) != NULL && m->tag == MPROC__MPI_FRAME) {
            m = mproc__mpi_take();
            *data = m->data;
            *len = m->len;
            free(m);
            return 0;
        }
        if (m)
            return MPROC_ECLOSED; /* a START: the master thinks this life over */
        mproc__mpi_idle(-1);
    }
}

static void ep_release(mproc__pool_endpoint *ep, void *data)
{
    (void)ep;
    mproc__mpi_body_free(data);
}

static int ep_send(mproc__pool_endpoint *ep, const void *data, size_t len)
{
    (void)ep;
    return mproc__mpi_send(0, MPROC__MPI_FRAME, data, len);
}

/* One worker life as START describes it; returns its exit code. */
static int run_life(rank_endpoint *re, const mproc__mpi_msg *start)
{
    mproc__reader r = {start->data, start->len, 0, 0};
    mproc_target_fn init = NULL;
    mproc_args *initargs;
    char *init_name;
    int code;

    re->ep.maxtasks = (int)mproc__rd_u32(&r);
    re->ep.max_message = (size_t)mproc__rd_u64(&r);
    init_name = mproc__rd_str(&r, MPROC__NAME_MAX);
    initargs = mproc__args_decode(&r, NULL, 0);
    if (r.bad || !init_name || !initargs) {
        free(init_name);
        mproc_args_free(initargs);
        return 70; /* EX_SOFTWARE: the master sent what this rank cannot read */
    }
    if (*init_name && !(init = mproc__target_find(init_name)))
        code = 70; /* unknown here: this rank runs another program */
    else
        code = mproc__pool_worker_loop(&re->ep, init, initargs);
    free(init_name);
    mproc_args_free(initargs);
    return code;
}

void mproc__mpi_serve(void)
{
    rank_endpoint re;
    int shutdown = 0;

    memset(&re, 0, sizeof re);
    re.ep.recv = ep_recv;
    re.ep.release = ep_release;
    re.ep.send = ep_send;
    re.ep.slot = &re.slot;
    while (!shutdown) {
        mproc__mpi_msg *m;
        (void)mproc__mpi_poll();
        if (!(m = mproc__mpi_take())) {
            mproc__mpi_idle(-1);
            continue;
        }
        switch (m->tag) {
        case MPROC__MPI_START: {
            mproc__buf end = {0};
            re.cancelled = 0;
            mproc__buf_u32(&end, (uint32_t)run_life(&re, m));
            if (re.cancelled)
                (void)mproc__mpi_send(0, MPROC__MPI_ACK, NULL, 0);
            else /* out of memory: an END without its code still ends the life */
                (void)mproc__mpi_send(0, MPROC__MPI_END, end.data, end.failed ? 0 : end.len);
            mproc__buf_free(&end);
            break;
        }
        case MPROC__MPI_CANCEL: (void)mproc__mpi_send(0, MPROC__MPI_ACK, NULL, 0); break;
        case MPROC__MPI_SHUTDOWN: shutdown = 1; break;
        default: break; /* frames a life that ended was sent: never run */
        }
        mproc__mpi_msg_free(m);
    }
    (void)mproc__mpi_send(0, MPROC__MPI_BYE, NULL, 0);
    mproc__mpi_flush();
    mproc__mpi_body_drop_spare();
    MPI_Comm_free(&mproc__mpi.comm);
    MPI_Finalize();
    exit(0);
}
