/* imap and imap_unordered: inputs of any length pulled lazily, results
 * delivered through a callback; maxtasksperchild and progress. */
#include <stdio.h>
#include <string.h>

#include "mproc.h"

enum { N = 40 };

/* Upper-cases its input. */
static int upper(const void *in, size_t len, mproc_out *out)
{
    char buf[64];
    if (len > sizeof buf)
        return 1;
    for (size_t i = 0; i < len; i++) {
        char c = ((const char *)in)[i];
        buf[i] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
    }
    return mproc_out_write(out, buf, len);
}
MPROC_TASK(upper);

struct input {
    int next;
    char text[32];
};

/* Called in this thread whenever the pool wants another item: 1 with an
 * item (valid until the next call), 0 at the end. */
static int next_input(void *ud, const void **data, size_t *len)
{
    struct input *in = ud;
    int n;
    if (in->next == N)
        return 0;
    n = snprintf(in->text, sizeof in->text, "item %d", in->next++);
    *data = in->text;
    *len = (size_t)n;
    return 1;
}

struct output {
    int received, in_order, failed;
};

/* Called in this thread for each result; data is valid during the call. */
static void on_result(void *ud, size_t index, const mproc_task_status *st, const void *data, size_t len)
{
    struct output *out = ud;
    char expect[32];
    int n = snprintf(expect, sizeof expect, "ITEM %d", (int)index);
    out->in_order += index == (size_t)out->received;
    out->failed += st->status != 0 || len != (size_t)n || memcmp(data, expect, len) != 0;
    out->received++;
}

static void progress(size_t done, size_t total, void *ud)
{
    (void)total; /* 0 for imap: the input's length is not known */
    *(size_t *)ud = done;
}

int main(int argc, char **argv)
{
    mproc_pool_opts opts;
    mproc_pool *pool;
    struct input in = {0, ""};
    struct output ordered = {0, 0, 0}, unordered = {0, 0, 0};
    size_t done = 0;

    if (mproc_init(argc, argv) != 0)
        return 1;
    memset(&opts, 0, sizeof opts);
    opts.maxtasksperchild = 10; /* each worker is replaced after 10 items */
    opts.progress = progress;
    opts.progress_ud = &done;
    if (!(pool = mproc_pool_new(NULL, 2, &opts)))
        return 1;
    /* ordered = 1: imap, results in input order. */
    if (mproc_pool_imap(pool, upper, next_input, &in, on_result, &ordered, 4, 1) != 0)
        return 1;
    /* ordered = 0: imap_unordered, results as they complete. */
    in.next = 0;
    if (mproc_pool_imap(pool, upper, next_input, &in, on_result, &unordered, 4, 0) != 0)
        return 1;
    mproc_pool_close(pool);
    mproc_pool_join(pool, -1);
    mproc_pool_free(pool);
    printf("imap: %d results, %d in order; imap_unordered: %d results; progress %lu\n", ordered.received,
           ordered.in_order, unordered.received, (unsigned long)done);
    return ordered.received == N && ordered.in_order == N && !ordered.failed && unordered.received == N &&
                   !unordered.failed && done == N
               ? 0
               : 1;
}
