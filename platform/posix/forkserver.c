/*
 * The forkserver start method (CPython's popen_forkserver.py/forkserver.py).
 *
 * Client: the first request spawns a copy of the program in server mode,
 * connected by the inherited bootstrap socketpair (nothing in the file
 * system, nothing another user could connect to).  Each request sends the
 * child's bootstrap record and one end of a fresh "status" socketpair; the
 * server writes the child's pid and, when it ends, its exit status there.
 *
 * Server: single-threaded and clean (it ran no application code), it forks
 * one child per request and reaps them on SIGCHLD.  It exits when its parent
 * goes away (EOF on the control socket).
 */
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- client --------------------------------------------------------------- */

static pthread_mutex_t client_lock = PTHREAD_MUTEX_INITIALIZER;
static mproc__child *server; /* the server process; its channel is the control socket */

void mproc__posix_forkserver_after_fork(void)
{
    /* The server belongs to the parent: a forked child starts its own.  The
     * lock may have been held by a thread that does not exist here. */
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    memcpy(&client_lock, &fresh, sizeof fresh);
    if (server) {
        close(server->channel);
        if (server->sentinel != server->channel)
            close(server->sentinel);
        server = NULL; /* the parent's memory: not ours to free */
    }
}

static int ensure_server(void)
{
    mproc__record rec = {MPROC__BOOT_FORKSERVER, "", "forkserver", 0, 0, NULL};
    mproc__encoded enc;
    int rc, code;

    if (server) {
        /* A server that died (killed by someone) is replaced. */
        if (mproc__plat_child_wait(server, 0, &code) == MPROC_ETIMEDOUT)
            return 0;
        mproc__plat_child_free(server);
        server = NULL;
    }
    rec.parent_pid = getpid();
    if ((rc = mproc__record_encode(&enc, &rec)) != 0)
        return rc;
    rc = mproc__spawn_record(&server, &enc);
    mproc__buf_free(&enc.buf);
    return rc;
}

int mproc__plat_forkserver_start(mproc__child **out, const void *rec, size_t len, const mproc__handle *hs, size_t n)
{
    mproc__child *c;
    unsigned char *msg;
    int status[2], fds[MPROC__MAX_HANDLES + 1], rc, err;
    int64_t pid;

    if (len > MPROC__RECORD_MAX || n > MPROC__MAX_HANDLES)
        return mproc__error(MPROC_ETOOBIG);
    if (!(c = mproc__posix_child_new(CHILD_FORKSERVER)))
        return MPROC_ENOMEM;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, status) != 0) {
        err = errno;
        mproc__plat_child_free(c);
        return mproc__sys_error(err);
    }
    if (!(msg = malloc(len + 4))) {
        close(status[0]);
        close(status[1]);
        mproc__plat_child_free(c);
        return MPROC_ENOMEM;
    }
    for (int i = 0; i < 4; i++)
        msg[i] = (unsigned char)((uint32_t)len >> (8 * i));
    memcpy(msg + 4, rec, len);

    /* The status socket first, then the target's handles. */
    fds[0] = status[1];
    for (size_t i = 0; i < n; i++)
        fds[i + 1] = (int)hs[i];
    pthread_mutex_lock(&client_lock);
    rc = ensure_server();
    if (rc == 0)
        rc = mproc__posix_send_fds(server->channel, msg, len + 4, fds, n + 1);
    pthread_mutex_unlock(&client_lock);
    free(msg);
    close(status[1]);

    /* The pid arrives once the server forked; EOF means it could not. */
    if (rc == 0 && mproc__plat_read_all(status[0], &pid, sizeof pid) != 0)
        rc = mproc__errorf(MPROC_EBROKEN, "the forkserver did not start the child (it died?)");
    if (rc != 0) {
        close(status[0]);
        mproc__plat_child_free(c);
        return rc;
    }
    c->pid = (pid_t)pid;
    c->sentinel = status[0];
    *out = c;
    return 0;
}

/* ---- server --------------------------------------------------------------- */

typedef struct {
    pid_t pid;
    int status_fd;
} running;

static int sigchld_pipe[2] = {-1, -1};

static void on_sigchld(int sig)
{
    int saved = errno;
    char b = 0;
    (void)sig;
    (void)!write(sigchld_pipe[1], &b, 1);
    errno = saved;
}

static void report_ended(running *table, size_t *count)
{
    int status;
    pid_t pid;
    char drain[64];

    while (read(sigchld_pipe[0], drain, sizeof drain) > 0)
        ;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (size_t i = 0; i < *count; i++) {
            if (table[i].pid == pid) {
                int32_t code = mproc__posix_status_code(status);
                (void)mproc__plat_write_all(table[i].status_fd, &code, sizeof code);
                close(table[i].status_fd);
                table[i] = table[--*count];
                break;
            }
        }
    }
}

void mproc__plat_forkserver_serve(mproc__handle h)
{
    int ctl = (int)h;
    running *table = NULL;
    size_t count = 0, cap = 0;
    struct sigaction sa;

    /* Ctrl-C goes to the whole process group: the server outlives it so the
     * parent can still collect its children, as CPython's does. */
    signal(SIGINT, SIG_IGN);
    if (pipe2(sigchld_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        _exit(1);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigchld;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);

    for (;;) {
        struct pollfd pfd[2] = {{ctl, POLLIN, 0}, {sigchld_pipe[0], POLLIN, 0}};
        void *rec = NULL;
        size_t len = 0, nfds = 0;
        int fds[MPROC__MAX_HANDLES + 1], status_fd, r;
        pid_t pid;

        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            _exit(1);
        }
        if (pfd[1].revents)
            report_ended(table, &count);
        if (!pfd[0].revents)
            continue;
        r = mproc__posix_recv_frame_fds(ctl, &rec, &len, MPROC__RECORD_MAX, fds, &nfds, MPROC__MAX_HANDLES + 1);
        if (r == MPROC_ECLOSED)
            _exit(0); /* the parent is gone */
        if (r != 0 || nfds == 0) {
            for (size_t i = 0; i < nfds; i++)
                close(fds[i]);
            if (r == 0)
                free(rec);
            if (r == MPROC_EBROKEN || r == MPROC_ESYS)
                _exit(1); /* the stream lost its framing: nothing safe to do */
            continue;
        }
        status_fd = fds[0];
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            running *t = realloc(table, ncap * sizeof *t);
            if (!t) {
                for (size_t i = 0; i < nfds; i++)
                    close(fds[i]);
                free(rec);
                continue;
            }
            table = t;
            cap = ncap;
        }
        pid = fork();
        if (pid == 0) {
            /* The child holds nothing of the server's: not the control
             * socket, not other children's status sockets. */
            mproc__handle hs[MPROC__MAX_HANDLES];
            signal(SIGINT, SIG_DFL);
            sa.sa_handler = SIG_DFL;
            sigaction(SIGCHLD, &sa, NULL);
            nfds = mproc__posix_keep_only(fds + 1, nfds - 1);
            for (size_t i = 0; i < nfds; i++)
                hs[i] = fds[i + 1];
            mproc__run_record(rec, len, hs, nfds);
        }
        free(rec);
        for (size_t i = 1; i < nfds; i++)
            close(fds[i]); /* the child has them now */
        if (pid < 0) {
            close(status_fd);
            continue;
        }
        {
            int64_t pid64 = pid;
            (void)mproc__plat_write_all(status_fd, &pid64, sizeof pid64);
        }
        table[count].pid = pid;
        table[count].status_fd = status_fd;
        count++;
    }
}

size_t mproc__posix_keep_only(int *fds, size_t n)
{
    int moved[MPROC__MAX_HANDLES];
    /* Move the keepers above every number they will take, then down to
     * 3, 4, ... so no dup2 overwrites a keeper not yet moved. */
    for (size_t i = 0; i < n; i++) {
        moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3 + (int)n);
        close(fds[i]);
    }
    for (size_t i = 0; i < n; i++) {
        fds[i] = 3 + (int)i;
        dup2(moved[i], fds[i]);
        mproc__posix_cloexec(fds[i]);
        close(moved[i]);
    }
    mproc__posix_close_from(3 + (int)n);
    return n;
}

void mproc__posix_close_from(int lowfd)
{
#if defined(__linux__) && defined(SYS_close_range)
    if (syscall(SYS_close_range, (unsigned)lowfd, ~0u, 0) == 0)
        return;
#endif
    {
        long max = sysconf(_SC_OPEN_MAX);
        if (max < 0 || max > 65536)
            max = 65536;
        for (int fd = lowfd; fd < max; fd++)
            close(fd);
    }
}
