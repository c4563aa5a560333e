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
    mproc__buf buf;
    int rc, code;

    if (server) {
        /* A server that died (killed by someone) is replaced. */
        if (mproc__plat_child_wait(server, 0, &code) == MPROC_ETIMEDOUT)
            return 0;
        mproc__plat_child_free(server);
        server = NULL;
    }
    rec.parent_pid = getpid();
    if ((rc = mproc__record_encode(&buf, &rec)) != 0)
        return rc;
    rc = mproc__spawn_record(&server, &buf);
    mproc__buf_free(&buf);
    return rc;
}

int mproc__plat_forkserver_start(mproc__child **out, const void *rec, size_t len)
{
    mproc__child *c;
    unsigned char *msg;
    int status[2], rc, err;
    int64_t pid;

    if (len > MPROC__RECORD_MAX)
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

    pthread_mutex_lock(&client_lock);
    rc = ensure_server();
    if (rc == 0)
        rc = mproc__posix_send_fds(server->channel, msg, len + 4, &status[1], 1);
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

/* Reads one request: its record and the status descriptor sent with it.
 * Returns 1 on success, 0 at EOF, -1 on a malformed request. */
static int read_request(int ctl, void **rec, size_t *len, int *status_fd)
{
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int) * 64)];
    } control;
    unsigned char hdr[4];
    struct iovec iov = {hdr, sizeof hdr};
    struct msghdr msg = {0};
    struct cmsghdr *cm;
    uint32_t n = 0;
    ssize_t got;

    *status_fd = -1;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.space;
    msg.msg_controllen = sizeof control.space;
    do
        got = recvmsg(ctl, &msg, MSG_CMSG_CLOEXEC);
    while (got < 0 && errno == EINTR);
    if (got <= 0)
        return 0;
    for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
                if (*status_fd < 0)
                    *status_fd = fd;
                else
                    close(fd);
            }
        }
    }
    if ((size_t)got < sizeof hdr && mproc__plat_read_all(ctl, hdr + got, sizeof hdr - (size_t)got) != 0)
        return 0;
    for (int i = 0; i < 4; i++)
        n |= (uint32_t)hdr[i] << (8 * i);
    if (*status_fd < 0 || n > MPROC__RECORD_MAX || !(*rec = malloc(n ? n : 1)))
        return -1;
    if (n && mproc__plat_read_all(ctl, *rec, n) != 0) {
        free(*rec);
        return 0;
    }
    *len = n;
    return 1;
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
        struct pollfd fds[2] = {{ctl, POLLIN, 0}, {sigchld_pipe[0], POLLIN, 0}};
        void *rec = NULL;
        size_t len = 0;
        int status_fd, r;
        pid_t pid;

        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            _exit(1);
        }
        if (fds[1].revents)
            report_ended(table, &count);
        if (!fds[0].revents)
            continue;
        r = read_request(ctl, &rec, &len, &status_fd);
        if (r == 0)
            _exit(0); /* the parent is gone */
        if (r < 0) {
            if (status_fd >= 0)
                close(status_fd);
            continue;
        }
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            running *t = realloc(table, ncap * sizeof *t);
            if (!t) {
                close(status_fd);
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
            signal(SIGINT, SIG_DFL);
            sa.sa_handler = SIG_DFL;
            sigaction(SIGCHLD, &sa, NULL);
            mproc__posix_close_from(3);
            mproc__run_record(rec, len);
        }
        free(rec);
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
