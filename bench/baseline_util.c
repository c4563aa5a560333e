/* See baseline_util.h. */
#include "baseline_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int baseline_parse_count(const char *s, long long min, long long max, long long *out)
{
    char *end = NULL;
    long long v;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Written through a volatile pointer so the compiler cannot drop the
 * stores. */
static volatile unsigned char *ballast;

int baseline_ballast_alloc(const char *prog, long long mib)
{
    size_t n, i;
    unsigned char *p;

    if (mib <= 0)
        return 0;
    n = (size_t)mib * (size_t)1048576u;
    p = malloc(n);
    if (p == NULL) {
        fprintf(stderr, "%s: cannot allocate %lld MiB for --rss\n", prog, mib);
        return -1;
    }
    ballast = p;
    for (i = 0; i < n; i += 4096u)
        ballast[i] = (unsigned char)(i >> 12 | 1u);
    return 0;
}

void baseline_ballast_free(void)
{
    free((void *)ballast);
    ballast = NULL;
}
