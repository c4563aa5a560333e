/*
 * What mproc-bench's baseline programs (baseline_raw.c, baseline_apr.c)
 * share: their count arguments and the parent memory of --rss.
 */
#ifndef MPROC_BASELINE_UTIL_H
#define MPROC_BASELINE_UTIL_H

/* s as a decimal count within [min, max] into *out: 0, or -1. */
int baseline_parse_count(const char *s, long long min, long long max, long long *out);

/* Allocates mib MiB and touches every page, so that the process really
 * holds it (for --rss); 0, or -1 with a message naming prog. */
int baseline_ballast_alloc(const char *prog, long long mib);
void baseline_ballast_free(void);

#endif
