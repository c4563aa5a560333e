/*
 * mproc-bench: how fast mproc is here, against what a user would otherwise
 * write, in one run.  Every figure is measured next to its baselines —
 * raw syscalls (mproc-bench-raw, bench/baseline_raw.c), APR's
 * apr_proc_fork and apr_proc_create for start+join (mproc-bench-apr,
 * bench/baseline_apr.c, when built with libapr1-dev), CPython's
 * multiprocessing (bench/baseline_python.py, when python3 is there) —
 * interleaved round by round after a warm-up, and reported as the median
 * and min-max of the rounds with mproc's speed relative to each baseline
 * (> 1: mproc is faster).
 *
 *     mproc-bench [--quick] [--rounds N] [--json FILE] [--plot DIR] [--only TEXT]
 *                 [--raw PROGRAM] [--apr PROGRAM] [--python PYTHON] [--script FILE]
 *
 * mproc-bench-raw and mproc-bench-apr are looked for beside mproc-bench's
 * own executable, the CPython script in the source tree, then in the
 * install's share/mproc; --raw, --apr, --python and --script name others.
 *
 * A Markdown table on stdout, progress on stderr, every sample in JSON
 * with --json, PNG plots through gnuplot with --plot.  --quick: 3 rounds
 * and fewer sizes (under a minute here); the default: 5 rounds, every size
 * and parent memory of 0, 256 MiB and 1 GiB.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <direct.h>
#else
#include <sys/stat.h>
#endif

#include "bench.h"

#ifndef MPROC_BENCH_SCRIPT
#define MPROC_BENCH_SCRIPT "bench/baseline_python.py"
#endif
/* Why the build made no mproc-bench-apr ("": it did, beside mproc-bench). */
#ifndef MPROC_BENCH_NO_APR
#define MPROC_BENCH_NO_APR ""
#endif
#ifndef MPROC_BENCH_SCRIPT_INSTALLED
#define MPROC_BENCH_SCRIPT_INSTALLED MPROC_BENCH_SCRIPT
#endif

#define MAX_ROUNDS 15
#define MAX_SERIES 4

typedef struct {
    char impl[96];
    const char *kind;  /* "mproc", "raw", "apr", "python" */
    double v[MAX_ROUNDS];
    double mb[MAX_ROUNDS]; /* queue: MB/s */
    int n;
    char skipped[200];
} series;

typedef struct {
    char name[96];
    bench_params bp;
    const char *unit; /* "s" (lower is better) or a rate */
    const char *raw_fig, *apr_fig, *py_fig; /* the baselines' figure names, or NULL */
    series s[MAX_SERIES];
    int ns;
} row;

static struct {
    int quick, rounds, python_ok;
    const char *json, *plot, *only, *raw, *apr, *python, *script;
} opt;

static const char no_apr_reason[] = MPROC_BENCH_NO_APR;

static row *rows;
static int nrows;

static const char *method_name(mproc_method m) { return mproc_method_name(m); }

static row *add_row(const char *name, bench_figure fig, const char *unit)
{
    row *r;
    if (opt.only && !strstr(name, opt.only))
        return NULL;
    rows = realloc(rows, (size_t)(nrows + 1) * sizeof *rows);
    if (!rows) {
        fprintf(stderr, "mproc-bench: out of memory\n");
        exit(1);
    }
    r = &rows[nrows++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->bp.fig = fig;
    r->unit = unit;
    return r;
}

static void add_series(row *r, const char *kind, const char *impl)
{
    series *s;
    if (r->ns == MAX_SERIES) {
        fprintf(stderr, "mproc-bench: more than %d series in a row (raise MAX_SERIES)\n", MAX_SERIES);
        exit(1);
    }
    s = &r->s[r->ns++];
    s->kind = kind;
    snprintf(s->impl, sizeof s->impl, "%s", impl);
}

/* ---- the figures of a run ------------------------------------------------------- */

static void plan(void)
{
    static const size_t all_sizes[] = {16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304};
    static const size_t quick_sizes[] = {64, 4096, 65536, 1048576};
    static const int all_rss[] = {0, 256, 1024}, quick_rss[] = {0, 256};
    mproc_method methods[8];
    int nm = mproc_get_all_start_methods(methods, 8);
    const size_t *sizes = opt.quick ? quick_sizes : all_sizes;
    int nsizes = opt.quick ? 4 : 10, nrss = opt.quick ? 2 : 3;
    const int *rss = opt.quick ? quick_rss : all_rss;
    char name[96];
    row *r;

    for (int k = 0; k < nrss; k++) {
        for (int i = 0; i < nm; i++) {
            mproc_method m = methods[i];
            snprintf(name, sizeof name, "start+join, %s, parent RSS %d MiB", method_name(m), rss[k]);
            if (!(r = add_row(name, FIG_START, "s")))
                continue;
            r->bp.method = m;
            r->bp.rss_mib = rss[k];
            r->bp.reps = m == MPROC_SPAWN ? 10 : m == MPROC_THREAD ? 500 : 50;
            if (opt.quick) /* a fifth: --quick stays near a minute */
                r->bp.reps /= rss[k] ? 10 : 5;
            add_series(r, "mproc", "mproc");
            r->raw_fig = m == MPROC_FORK ? "fork" : m == MPROC_SPAWN ? "posix_spawn" : m == MPROC_THREAD ? "pthread"
                                                                                            : "fork";
#ifdef _WIN32
            r->raw_fig = "createprocess";
#endif
            r->apr_fig = m == MPROC_SPAWN ? "apr_proc_create" : m == MPROC_THREAD ? NULL : "apr_fork";
            r->py_fig = m == MPROC_THREAD ? NULL : "start";
        }
    }
    for (int k = 0; k < nsizes; k++) {
        snprintf(name, sizeof name, "Queue 1 -> 1 process, %zu B", sizes[k]);
        if ((r = add_row(name, FIG_QUEUE, "msgs/s")) != NULL) {
            r->bp.method = mproc_get_start_method();
            r->bp.size = sizes[k];
            r->bp.reps = bench_queue_reps(sizes[k]) / (opt.quick ? 4 : 1);
            add_series(r, "mproc", "mproc");
            r->raw_fig = "pipe";
            r->py_fig = "queue";
        }
    }
    if ((r = add_row("Queue 4 -> 4 processes, 64 B", FIG_QUEUE_4X4, "msgs/s")) != NULL) {
        r->bp.method = mproc_get_start_method();
        r->bp.size = 64;
        r->bp.reps = bench_queue_reps(64);
        add_series(r, "mproc", "mproc");
    }
    if ((r = add_row("Queue 1 -> 1 thread (thread context), 64 B", FIG_QUEUE_THREAD, "msgs/s")) != NULL) {
        r->bp.method = MPROC_THREAD;
        r->bp.size = 64;
        r->bp.reps = bench_queue_reps(64);
        add_series(r, "mproc", "mproc");
    }
    if ((r = add_row("Connection round trip, 64 B", FIG_CONN_RTT, "s")) != NULL) {
        r->bp.method = mproc_get_start_method();
        r->bp.reps = opt.quick ? 5000 : 20000; /* a round trip wakes a sleeper: 30-90 us on a VM */
        add_series(r, "mproc", "mproc");
        r->raw_fig = "pipe_rtt";
        r->py_fig = "conn_rtt";
    }
    if ((r = add_row("Lock acquire+release, uncontended", FIG_LOCK, "s")) != NULL) {
        r->bp.method = mproc_get_start_method();
        r->bp.reps = 1000000;
        add_series(r, "mproc", "mproc");
        r->raw_fig = "mutex_uncontended";
        r->py_fig = "lock_uncontended";
    }
    if ((r = add_row("Semaphore ping-pong, 2 processes", FIG_LOCK_PINGPONG, "s")) != NULL) {
        r->bp.method = mproc_get_start_method();
        r->bp.reps = opt.quick ? 5000 : 20000;
        add_series(r, "mproc", "mproc");
        r->raw_fig = "mutex_pingpong";
        r->py_fig = "lock_pingpong";
    }
    for (int c = 0; c < 2; c++) {
        snprintf(name, sizeof name, "Pool.map of squares, 2 workers, chunksize %s", c ? "default" : "1");
        if ((r = add_row(name, FIG_POOL, "tasks/s")) != NULL) {
            r->bp.method = mproc_get_start_method();
            r->bp.chunksize = c ? 0 : 1;
            r->bp.reps = c ? (opt.quick ? 500000 : 2000000) : opt.quick ? 50000 : 200000;
            add_series(r, "mproc", "mproc");
            r->py_fig = "pool";
        }
    }
    for (int i = 0; i < nrows; i++) {
        if (rows[i].raw_fig)
            add_series(&rows[i], "raw", rows[i].raw_fig);
        if (rows[i].apr_fig) {
            /* The label until mproc-bench-apr's JSON gives its own. */
            add_series(&rows[i], "apr",
                       strcmp(rows[i].apr_fig, "apr_fork") == 0 ? "APR apr_proc_fork" : "APR apr_proc_create");
            if (!opt.apr)
                snprintf(rows[i].s[rows[i].ns - 1].skipped, sizeof rows[i].s[0].skipped,
                         "mproc-bench was built without APR (%s)", no_apr_reason);
        }
        if (rows[i].py_fig) {
            add_series(&rows[i], "python", "CPython");
            if (!opt.python_ok)
                snprintf(rows[i].s[rows[i].ns - 1].skipped, sizeof rows[i].s[0].skipped,
                         "%s cannot import multiprocessing (no CPython here)", opt.python);
        }
    }
}

/* ---- one measurement --------------------------------------------------------------- */

/* The value of "key": in a JSON line, or -1. */
static double json_number(const char *line, const char *key)
{
    char pat[64];
    const char *p;
    snprintf(pat, sizeof pat, "\"%s\":", key);
    if (!(p = strstr(line, pat)))
        return -1;
    return strtod(p + strlen(pat), NULL);
}

/* Copies "key"'s string value of a JSON line into out; 0 when absent. */
static int json_string(const char *line, const char *key, char *out, size_t cap)
{
    char pat[64];
    const char *p;
    size_t n = 0;
    snprintf(pat, sizeof pat, "\"%s\": \"", key);
    if (!(p = strstr(line, pat))) {
        snprintf(pat, sizeof pat, "\"%s\":\"", key);
        if (!(p = strstr(line, pat)))
            return 0;
    }
    p += strlen(pat);
    while (*p && *p != '"' && n + 1 < cap)
        out[n++] = *p++;
    out[n] = 0;
    return 1;
}

#ifdef _WIN32
#define popen _popen
#define pclose _pclose
#endif

/* The program a baseline series runs (CPython's: the script). */
static const char *baseline_program(const series *s)
{
    return strcmp(s->kind, "raw") == 0 ? opt.raw : strcmp(s->kind, "apr") == 0 ? opt.apr : opt.script;
}

/* Runs a baseline program for one measurement; its JSON line in line. */
static int run_baseline(const row *r, const series *s, char *line, size_t cap)
{
    char cmd[1024];
    FILE *f;
    int n;
    const char *meth = method_name(r->bp.method);
    if (strcmp(s->kind, "raw") == 0 || strcmp(s->kind, "apr") == 0) {
        n = snprintf(cmd, sizeof cmd, "\"%s\" %s --reps %ld", baseline_program(s),
                     strcmp(s->kind, "raw") == 0 ? r->raw_fig : r->apr_fig, r->bp.reps);
    } else {
        /* CPython is 10-100x slower: fewer operations, the same per-second
         * or per-operation unit (its start uses the script's own counts). */
        long reps = r->bp.reps;
        if (r->bp.fig == FIG_POOL && r->bp.chunksize == 1)
            reps = 20000;
        else if (r->bp.fig == FIG_QUEUE || r->bp.fig == FIG_CONN_RTT || r->bp.fig == FIG_LOCK_PINGPONG)
            reps = reps < 20000 ? reps : 20000;
        n = snprintf(cmd, sizeof cmd, "\"%s\" \"%s\" %s", opt.python, opt.script, r->py_fig);
        if (r->bp.fig == FIG_START) /* 20 by the script's count; --quick: a few (a spawn is 60-80 ms) */
            reps = !opt.quick ? 0 : r->bp.method == MPROC_SPAWN ? 4 : 10;
        if (reps > 0)
            n += snprintf(cmd + n, sizeof cmd - (size_t)n, " --reps %ld", reps);
    }
    if (r->bp.fig == FIG_START)
        n += snprintf(cmd + n, sizeof cmd - (size_t)n, " --rss %d", r->bp.rss_mib);
    if (r->bp.fig == FIG_QUEUE)
        n += snprintf(cmd + n, sizeof cmd - (size_t)n, " --size %zu", r->bp.size);
    if (strcmp(s->kind, "python") == 0 && (r->bp.fig == FIG_START || r->bp.fig == FIG_POOL || r->bp.fig == FIG_QUEUE))
        n += snprintf(cmd + n, sizeof cmd - (size_t)n, " --method %s", meth);
    if (strcmp(s->kind, "python") == 0 && r->bp.fig == FIG_POOL)
        n += snprintf(cmd + n, sizeof cmd - (size_t)n, " --chunksize %zu", r->bp.chunksize);
    (void)n;
    if (!(f = popen(cmd, "r")))
        return -1;
    line[0] = 0;
    if (!fgets(line, (int)cap, f))
        line[0] = 0;
    return pclose(f) == 0 && line[0] ? 0 : -1;
}

static void *ballast;
static int ballast_mib;

/* The parent's resident memory: mib MiB allocated and touched. */
static void set_rss(int mib)
{
    if (mib == ballast_mib)
        return;
    free(ballast);
    ballast = NULL;
    ballast_mib = 0;
    if (mib > 0 && (ballast = malloc((size_t)mib << 20)) != NULL) {
        for (size_t i = 0; i < ((size_t)mib << 20); i += 4096)
            ((char *)ballast)[i] = 1;
        ballast_mib = mib;
    }
}

static void measure(row *r, series *s, int keep)
{
    double v = -1, mb = -1;
    char why[200] = "", line[2048];
    if (s->skipped[0])
        return;
    if (!keep && strcmp(s->kind, "mproc") != 0)
        return; /* the baseline programs warm up on their own */
    if (strcmp(s->kind, "mproc") == 0) {
        set_rss(r->bp.fig == FIG_START ? r->bp.rss_mib : 0);
        v = bench_mproc(&r->bp, why);
        if (v > 0 && r->bp.fig >= FIG_QUEUE && r->bp.fig <= FIG_QUEUE_THREAD)
            mb = v * (double)r->bp.size / 1e6;
    } else if (run_baseline(r, s, line, sizeof line) != 0) {
        snprintf(why, sizeof why, "%s failed", baseline_program(s));
    } else if (json_string(line, "skipped", why, sizeof why)) {
        /* why holds the reason */
    } else {
        char impl[96];
        v = json_number(line, "value");
        mb = json_number(line, "mb_per_s");
        if (json_string(line, "impl", impl, sizeof impl))
            snprintf(s->impl, sizeof s->impl, "%s", impl);
        if (v <= 0)
            snprintf(why, sizeof why, "no value in: %.150s", line);
    }
    if (v <= 0) {
        snprintf(s->skipped, sizeof s->skipped, "%s", why[0] ? why : "failed");
        return;
    }
    if (keep && s->n < MAX_ROUNDS) {
        s->mb[s->n] = mb;
        s->v[s->n++] = v;
    }
}

/* ---- statistics and output ------------------------------------------------------------ */

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n, double *lo, double *hi)
{
    double s[MAX_ROUNDS];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp);
    *lo = s[0];
    *hi = s[n - 1];
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* A value in its unit, readable: 1.23 ms, 456 k/s. */
static void fmt(char *out, size_t cap, double v, const char *unit)
{
    if (strcmp(unit, "s") == 0) {
        if (v < 1e-6)
            snprintf(out, cap, "%.0f ns", v * 1e9);
        else if (v < 1e-3)
            snprintf(out, cap, "%.1f µs", v * 1e6);
        else
            snprintf(out, cap, "%.2f ms", v * 1e3);
    } else if (v >= 1e6) {
        snprintf(out, cap, "%.2f M", v / 1e6);
    } else if (v >= 1e3) {
        snprintf(out, cap, "%.0f k", v / 1e3);
    } else {
        snprintf(out, cap, "%.0f", v);
    }
}

static void print_table(void)
{
    printf("| figure | implementation | median | min–max | unit | mproc's speed relative to it |\n");
    printf("|---|---|---|---|---|---|\n");
    for (int i = 0; i < nrows; i++) {
        row *r = &rows[i];
        double mm = 0, lo, hi;
        int have_m = r->s[0].n > 0;
        if (have_m)
            mm = median(r->s[0].v, r->s[0].n, &lo, &hi);
        for (int k = 0; k < r->ns; k++) {
            series *s = &r->s[k];
            char a[32], b[32], c[32];
            const char *unit = strcmp(r->unit, "s") == 0 ? "per operation" : r->unit;
            if (s->n == 0) {
                printf("| %s | %s | — | — | %s | not measured: %s |\n", k ? "" : r->name, s->impl, unit,
                       s->skipped[0] ? s->skipped : "no samples");
                continue;
            }
            double m = median(s->v, s->n, &lo, &hi);
            fmt(a, sizeof a, m, r->unit);
            fmt(b, sizeof b, lo, r->unit);
            fmt(c, sizeof c, hi, r->unit);
            if (k == 0 || !have_m)
                printf("| %s | %s | %s | %s–%s | %s | |\n", k ? "" : r->name, s->impl, a, b, c, unit);
            else
                printf("| | %s | %s | %s–%s | %s | %.2f× |\n", s->impl, a, b, c, unit,
                       strcmp(r->unit, "s") == 0 ? m / mm : mm / m);
        }
    }
}

static void json_escape(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        if ((unsigned char)*s >= 0x20)
            fputc(*s, f);
    }
    fputc('"', f);
}

static int write_json(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "{\"rounds\": %d, \"quick\": %s, \"rows\": [\n", opt.rounds, opt.quick ? "true" : "false");
    for (int i = 0; i < nrows; i++) {
        row *r = &rows[i];
        fprintf(f, "  {\"figure\": ");
        json_escape(f, r->name);
        fprintf(f, ", \"unit\": ");
        json_escape(f, strcmp(r->unit, "s") == 0 ? "s" : r->unit);
        fprintf(f, ", \"size\": %zu, \"rss_mib\": %d, \"series\": [", r->bp.size, r->bp.rss_mib);
        for (int k = 0; k < r->ns; k++) {
            series *s = &r->s[k];
            fprintf(f, "%s\n    {\"kind\": \"%s\", \"impl\": ", k ? "," : "", s->kind);
            json_escape(f, s->impl);
            if (s->n == 0) {
                fprintf(f, ", \"skipped\": ");
                json_escape(f, s->skipped[0] ? s->skipped : "no samples");
            } else {
                double lo, hi, m = median(s->v, s->n, &lo, &hi);
                fprintf(f, ", \"median\": %.9g, \"min\": %.9g, \"max\": %.9g, \"samples\": [", m, lo, hi);
                for (int j = 0; j < s->n; j++)
                    fprintf(f, "%s%.9g", j ? ", " : "", s->v[j]);
                fprintf(f, "]");
            }
            fprintf(f, "}");
        }
        fprintf(f, "]}%s\n", i + 1 < nrows ? "," : "");
    }
    fprintf(f, "]}\n");
    return fclose(f) == 0 ? 0 : -1;
}

/* ---- plots (gnuplot) ----------------------------------------------------------------- */

/* The median of row i's series of kind, or -1. */
static double med_of(int i, const char *kind)
{
    double lo, hi;
    for (int k = 0; k < rows[i].ns; k++)
        if (strcmp(rows[i].s[k].kind, kind) == 0 && rows[i].s[k].n > 0)
            return median(rows[i].s[k].v, rows[i].s[k].n, &lo, &hi);
    return -1;
}

/* Creates dir when it is not there (its parent must be). */
static int make_dir(const char *dir)
{
#ifdef _WIN32
    return _mkdir(dir) == 0 || errno == EEXIST ? 0 : -1;
#else
    return mkdir(dir, 0777) == 0 || errno == EEXIST ? 0 : -1;
#endif
}

static int plot(const char *dir)
{
    char path[1024], cmd[1200];
    FILE *d;
    mproc_method methods[8];
    int nm = mproc_get_all_start_methods(methods, 8), nqueue = 0, nstart = 0;

    for (int i = 0; i < nrows; i++) {
        nqueue += rows[i].bp.fig == FIG_QUEUE && med_of(i, "mproc") > 0;
        nstart += rows[i].bp.fig == FIG_START && med_of(i, "mproc") > 0;
    }
    if (make_dir(dir) != 0) {
        fprintf(stderr, "mproc-bench: cannot create %s: %s\n", dir, strerror(errno));
        return -1;
    }

    /* Queue throughput (MB/s) against message size. */
    snprintf(path, sizeof path, "%s/queue.dat", dir);
    if (!(d = fopen(path, "w")))
        return -1;
    fprintf(d, "# size mproc raw-pipe CPython (MB/s; -1 when not measured)\n");
    for (int i = 0; i < nrows; i++)
        if (rows[i].bp.fig == FIG_QUEUE) {
            double s = (double)rows[i].bp.size / 1e6;
            double a = med_of(i, "mproc"), b = med_of(i, "raw"), c = med_of(i, "python");
            fprintf(d, "%zu %g %g %g\n", rows[i].bp.size, a > 0 ? a * s : -1, b > 0 ? b * s : -1, c > 0 ? c * s : -1);
        }
    fclose(d);
    /* Start+join (ms) against parent RSS, per method. */
    snprintf(path, sizeof path, "%s/start.dat", dir);
    if (!(d = fopen(path, "w")))
        return -1;
    fprintf(d, "# rss_mib then, per method in order, mproc's start+join in ms\n#");
    for (int k = 0; k < nm; k++)
        fprintf(d, " %s", method_name(methods[k]));
    fprintf(d, "\n");
    for (int rss = 0; rss <= 1024; rss += 1) {
        int any = 0;
        double v[8];
        for (int k = 0; k < nm; k++) {
            v[k] = -1;
            for (int i = 0; i < nrows; i++)
                if (rows[i].bp.fig == FIG_START && rows[i].bp.rss_mib == rss && rows[i].bp.method == methods[k])
                    v[k] = med_of(i, "mproc"), any = 1;
        }
        if (!any)
            continue;
        fprintf(d, "%d", rss);
        for (int k = 0; k < nm; k++)
            fprintf(d, " %g", v[k] > 0 ? v[k] * 1e3 : -1);
        fprintf(d, "\n");
    }
    fclose(d);
    snprintf(path, sizeof path, "%s/plots.gp", dir);
    if (!(d = fopen(path, "w")))
        return -1;
    fprintf(d, "set terminal png size 900,560\nset datafile missing '-1'\nset key left top\nset grid\n");
    if (nqueue)
        fprintf(d, "set output '%s/queue.png'\nset logscale xy\nset xlabel 'message size (bytes)'\n"
               "set ylabel 'MB/s'\nset title 'Queue, 1 producer process -> 1 consumer process'\n",
            dir);
    if (nqueue)
        fprintf(d, "plot '%s/queue.dat' using 1:($2>0?$2:1/0) with linespoints title 'mproc', "
               "'' using 1:($3>0?$3:1/0) with linespoints title 'raw pipe, one write per message', "
               "'' using 1:($4>0?$4:1/0) with linespoints title 'CPython multiprocessing.Queue'\n",
            dir);
    if (nstart)
        fprintf(d, "set output '%s/start.png'\nunset logscale\nset logscale y\nset xlabel 'parent RSS (MiB)'\n"
               "set ylabel 'start+join (ms)'\nset title 'Start + join of an empty target, by start method'\nplot ",
            dir);
    for (int k = 0; k < nm && nstart; k++)
        fprintf(d, "%s'%s/start.dat' using 1:($%d>0?$%d:1/0) with linespoints title '%s'", k ? ", " : "", dir, k + 2,
                k + 2, method_name(methods[k]));
    fprintf(d, "\n");
    fclose(d);
    snprintf(cmd, sizeof cmd, "gnuplot \"%s/plots.gp\"", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- main ----------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: mproc-bench [--quick] [--rounds N] [--json FILE] [--plot DIR] [--only TEXT]\n"
                    "                   [--raw PROGRAM] [--apr PROGRAM] [--python PYTHON] [--script FILE]\n");
    exit(2);
}

/* PROGRAM's directory joined with name (the baselines are installed beside it). */
static char *beside(const char *argv0, const char *name)
{
    const char *slash = strrchr(argv0, '/'), *back = strrchr(argv0, '\\');
    if (back && (!slash || back > slash))
        slash = back;
    size_t dir = slash ? (size_t)(slash - argv0 + 1) : 0;
    char *p = malloc(dir + strlen(name) + 1);
    if (!p)
        exit(1);
    memcpy(p, argv0, dir);
    strcpy(p + dir, name);
    return p;
}

int main(int argc, char **argv)
{
    int rc = mproc_init(argc, argv); /* first: spawned children run from here */
    if (rc != 0) {
        fprintf(stderr, "mproc_init: %s\n", mproc_strerror(rc));
        return 1;
    }
    opt.rounds = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0)
            opt.quick = 1;
        else if (strcmp(a, "--rounds") == 0 && v)
            opt.rounds = atoi(v), i++;
        else if (strcmp(a, "--json") == 0 && v)
            opt.json = v, i++;
        else if (strcmp(a, "--plot") == 0 && v)
            opt.plot = v, i++;
        else if (strcmp(a, "--only") == 0 && v)
            opt.only = v, i++;
        else if (strcmp(a, "--raw") == 0 && v)
            opt.raw = v, i++;
        else if (strcmp(a, "--apr") == 0 && v)
            opt.apr = v, i++;
        else if (strcmp(a, "--python") == 0 && v)
            opt.python = v, i++;
        else if (strcmp(a, "--script") == 0 && v)
            opt.script = v, i++;
        else
            usage();
    }
    if (opt.rounds <= 0)
        opt.rounds = opt.quick ? 3 : 5;
    if (opt.rounds > MAX_ROUNDS)
        opt.rounds = MAX_ROUNDS;
    if (!opt.raw)
        opt.raw = beside(argv[0], "mproc-bench-raw");
    if (!opt.apr && no_apr_reason[0] == '\0')
        opt.apr = beside(argv[0], "mproc-bench-apr");
    if (!opt.script) {
        FILE *f = fopen(MPROC_BENCH_SCRIPT, "r");
        opt.script = f ? MPROC_BENCH_SCRIPT : MPROC_BENCH_SCRIPT_INSTALLED;
        if (f)
            fclose(f);
    }
    if (!opt.python)
        opt.python = "python3";
    {
        char probe[600];
#ifdef _WIN32
        snprintf(probe, sizeof probe, "\"%s\" -c \"import multiprocessing\" >nul 2>&1", opt.python);
#else
        snprintf(probe, sizeof probe, "\"%s\" -c \"import multiprocessing\" >/dev/null 2>&1", opt.python);
#endif
        opt.python_ok = system(probe) == 0;
    }
    plan();

    /* Warm-up, then the rounds: every series of every row once per round,
     * rows in order and parent memory growing (0, then 256 MiB, ...). */
    fprintf(stderr, "mproc-bench: %d figures, %d rounds after a warm-up\n", nrows, opt.rounds);
    for (int round = 0; round <= opt.rounds; round++) {
        fprintf(stderr, "%s", round ? "" : "warm-up");
        if (round)
            fprintf(stderr, "round %d/%d", round, opt.rounds);
        for (int i = 0; i < nrows; i++) {
            for (int k = 0; k < rows[i].ns; k++)
                measure(&rows[i], &rows[i].s[k], round > 0);
            fprintf(stderr, ".");
        }
        fprintf(stderr, "\n");
    }
    set_rss(0);
    print_table();
    if (opt.json && write_json(opt.json) != 0) {
        fprintf(stderr, "mproc-bench: cannot write %s\n", opt.json);
        return 1;
    }
    if (opt.plot && plot(opt.plot) != 0) {
        fprintf(stderr, "mproc-bench: plots: gnuplot failed (is it installed?)\n");
        return 1;
    }
    free(rows);
    return 0;
}
