/*
 * The contract between the portable core and a platform.
 *
 * Exactly one of platform/posix/ and platform/win32/ implements every
 * function below.  The core calls only these and the C library; it never
 * includes an OS header.  Functions return 0 or a negative MPROC_E* code;
 * an OS failure is reported with mproc__sys_error(os_errno), which keeps the
 * OS code for mproc_last_os_error() and returns MPROC_ESYS.
 */
#ifndef MPROC_PLATFORM_H
#define MPROC_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#include "mproc.h"

/* An OS object: a descriptor on POSIX, a HANDLE on Windows. */
typedef intptr_t mproc__handle;
#define MPROC__NO_HANDLE ((mproc__handle)-1)

/* ---- identity, time --------------------------------------------------- */

/* The OS this platform was built for (MPROC_OS_*). */
mproc_os mproc__plat_os(void);
/* Whether start method m can be used here (fork and forkserver: POSIX only). */
int mproc__plat_method_available(mproc_method m);
/* Monotonic clock in seconds. */
double mproc__plat_now(void);
long mproc__plat_getpid(void);
long mproc__plat_getppid(void);
int mproc__plat_cpu_count(void);
/* Value of an environment variable or NULL; unset removes it (so children
 * do not inherit it).  Not thread-safe against other environment writers. */
const char *mproc__plat_getenv(const char *name);
void mproc__plat_unsetenv(const char *name);

/* ---- start-up --------------------------------------------------------- */

/* Records what spawn needs to re-run this program: the executable's path
 * (/proc/self/exe, _NSGetExecutablePath, GetModuleFileNameW; argv[0] as a
 * fallback) and the argument vector.  Called by mproc_init, once. */
int mproc__plat_init(int argc, char **argv);
/* Whether mproc__plat_init has run. */
int mproc__plat_initialized(void);
/* The bootstrap channel this process inherited from a spawning parent, or
 * MPROC__NO_HANDLE.  The first call takes it from the environment and removes
 * the variable there; later calls return MPROC__NO_HANDLE. */
mproc__handle mproc__plat_take_bootstrap(void);
/* Whether this process was spawned by mproc (the bootstrap variable is set
 * and has not been taken yet).  Used to refuse starting children before
 * mproc_init ran in a spawned child. */
int mproc__plat_is_spawned_child(void);

/* ---- byte channels ---------------------------------------------------- */

/* Writes/reads exactly len bytes, retrying on interruption.  read_all returns
 * MPROC_ECLOSED when the peer closed before len bytes arrived. */
int mproc__plat_write_all(mproc__handle h, const void *buf, size_t len);
int mproc__plat_read_all(mproc__handle h, void *buf, size_t len);
void mproc__plat_close(mproc__handle h);
/* Waits until one of n sentinels (see mproc__plat_child_sentinel) is
 * signalled or readable, or timeout passes.  Sets ready[i]; returns the count
 * ready (0 on timeout).  MPROC_EINVAL if n exceeds the platform's limit. */
int mproc__plat_wait_handles(const mproc__handle *hs, size_t n, double timeout, int *ready);

/* ---- children --------------------------------------------------------- */

/* A started child: a process (fork, spawn, forkserver) or a thread.  All
 * functions on it may be called from several threads at once. */
typedef struct mproc__child mproc__child;

/* Runs in the child of a fork; must not return (the core exits for it). */
typedef void (*mproc__fork_fn)(void *ud);
/* Runs in a new thread; its return value is the thread's exit code. */
typedef int (*mproc__thread_fn)(void *ud);

/* fork(): the child calls fn(ud).  Warns through the log hook when the
 * process has other threads.  MPROC_ENOTSUP on Windows. */
int mproc__plat_fork(mproc__child **out, mproc__fork_fn fn, void *ud);
/* Starts the program again (posix_spawn / CreateProcessW) with the parent's
 * argv, the bootstrap channel as the only inherited object besides the std
 * streams, and the variable naming it in the environment.  The core then
 * talks to the child over mproc__plat_child_channel. */
int mproc__plat_spawn(mproc__child **out);
/* Asks the forkserver (started on first use) to fork a child that runs the
 * bootstrap record rec with the n handles hs (the server passes them on).
 * MPROC_ENOTSUP on Windows. */
int mproc__plat_forkserver_start(mproc__child **out, const void *rec, size_t len, const mproc__handle *hs, size_t n);
/* Runs fn(ud) in a new thread. */
int mproc__plat_thread_start(mproc__child **out, mproc__thread_fn fn, void *ud);

/* The parent's end of a spawned child's bootstrap channel (else NO_HANDLE). */
mproc__handle mproc__plat_child_channel(mproc__child *c);
/* A handle mproc__plat_wait_handles reports ready once the child ended. */
mproc__handle mproc__plat_child_sentinel(mproc__child *c);
long mproc__plat_child_pid(mproc__child *c);
/* Waits up to timeout for the child to end and reaps it; stores the exit
 * code (return value, or -signal).  0 or MPROC_ETIMEDOUT. */
int mproc__plat_child_wait(mproc__child *c, double timeout, int *code);
/* Sends SIGTERM (kill == 0) or SIGKILL; on Windows TerminateProcess with a
 * code that later reads as -15 or -9.  No effect once the child ended.
 * MPROC_ENOTSUP for threads. */
int mproc__plat_child_signal(mproc__child *c, int kill);
/* Releases the child's handles; the child must have been reaped, or the
 * caller accepts leaving it running (a thread is detached). */
void mproc__plat_child_free(mproc__child *c);

/* ---- the forkserver side ---------------------------------------------- */

/* Becomes the forkserver on the control channel h; never returns.  Each
 * request's child runs mproc__run_record (core/bootstrap.c). */
_Noreturn void mproc__plat_forkserver_serve(mproc__handle h);

/* ---- the bootstrap message -------------------------------------------- */

/* Sends the bootstrap frame (built by the core) to spawned child c over its
 * channel together with n handles that the child must receive: POSIX
 * attaches them with SCM_RIGHTS; Windows duplicates them into the child and
 * sends their values ahead of the frame.  At most MPROC__MAX_HANDLES. */
#define MPROC__MAX_HANDLES 64
int mproc__plat_send_bootstrap(mproc__child *c, const void *frame, size_t len, const mproc__handle *hs, size_t n);
/* The child's side: reads the handles sent with the frame (into hs, *n set)
 * then the frame itself (u32 length + payload, payload returned in *data,
 * free with free()).  MPROC_ECLOSED when the parent closed first,
 * MPROC_ETOOBIG / MPROC_EBROKEN for a frame over max or malformed. */
int mproc__plat_recv_bootstrap(mproc__handle ch, void **data, size_t *len, size_t max, mproc__handle *hs, size_t *n);

/* ---- pipes and timed I/O (connections and queues) --------------------- */

/* A pipe: h[0] reads and h[1] writes; duplex: both ends read and write.
 * Never inherited by spawned children; suited to the timed calls below. */
int mproc__plat_pipe(int duplex, mproc__handle h[2]);
/* Reads 1..len bytes, waiting up to timeout for the first one.  Returns the
 * count, 0 when the timeout passed, MPROC_ECLOSED at end of file. */
long mproc__plat_read_timed(mproc__handle h, void *buf, size_t len, double timeout);
/* Writes 1..len bytes, waiting up to timeout for room.  Returns the count,
 * 0 when the timeout passed, MPROC_ECLOSED when no reader is left.  After
 * a 0 the caller must offer the same bytes again (Windows keeps a timed-out
 * write in flight, since a cancelled pipe write cannot tell how much the
 * reader already took; the next call completes it). */
long mproc__plat_write_timed(mproc__handle h, const void *buf, size_t len, double timeout);
/* 1 when h has data to read (or the writer closed), 0 after timeout. */
int mproc__plat_readable(mproc__handle h, double timeout);

/* ---- shared memory ----------------------------------------------------- */

/* An anonymous, zero-filled shared mapping that disappears with the last
 * process holding it, even a killed one (memfd; shm_open + immediate
 * unlink; a pagefile-backed mapping).  *h is what a child needs to map it. */
int mproc__plat_shm_create(size_t size, mproc__handle *h, void **ptr);
/* Maps in this process a segment received from a parent. */
int mproc__plat_shm_map(mproc__handle h, size_t size, void **ptr);
void mproc__plat_shm_unmap(void *ptr, size_t size);

/* ---- process-shared semaphores and robust mutexes --------------------- */

/* Each lives in MPROC__SYNC_MEM bytes of shared memory the core provides
 * (POSIX: a process-shared mutex, condition and count) and/or in a kernel
 * object (Windows: its handle, to be duplicated into children). */
#define MPROC__SYNC_MEM 128
typedef struct {
    void *mem;
    mproc__handle h;
} mproc__psync;

/* A counting semaphore starting at value that may never exceed max. */
int mproc__plat_psem_init(mproc__psync *s, void *mem, unsigned value, unsigned max);
/* 0, or MPROC_ETIMEDOUT. */
int mproc__plat_psem_acquire(mproc__psync *s, double timeout);
/* Adds one; MPROC_ESTATE (and no change) when already at max. */
int mproc__plat_psem_release(mproc__psync *s);
/* A robust mutex: only the holder releases it.  acquire returns 0,
 * MPROC_ETIMEDOUT, or MPROC_EBROKEN when the previous holder died holding
 * it (the caller then does not hold it: what it guarded is suspect, and the
 * next acquire succeeds).  macOS has no robust mutexes: no EBROKEN. */
int mproc__plat_pmutex_init(mproc__psync *m, void *mem);
int mproc__plat_pmutex_acquire(mproc__psync *m, double timeout);
int mproc__plat_pmutex_release(mproc__psync *m);
/* Either kind: the handle to send to a child (MPROC__NO_HANDLE when the
 * shared memory is all there is), re-attaching in a child (mem inside the
 * child's mapping of the same segment, h the received handle), closing. */
mproc__handle mproc__plat_psync_handle(const mproc__psync *s);
int mproc__plat_psync_attach(mproc__psync *s, void *mem, mproc__handle h);
void mproc__plat_psync_close(mproc__psync *s);

/* ---- locks and fork safety -------------------------------------------- */

/* One library-wide lock for the core's small shared state (registry,
 * children, contexts).  Held only briefly, never across a blocking call; the
 * platform keeps it consistent across fork (pthread_atfork). */
void mproc__plat_global_lock(void);
void mproc__plat_global_unlock(void);

/* A per-object mutex.  new returns NULL when out of memory. */
typedef struct mproc__mutex mproc__mutex;
mproc__mutex *mproc__plat_mutex_new(void);
void mproc__plat_mutex_lock(mproc__mutex *m);
void mproc__plat_mutex_unlock(mproc__mutex *m);
void mproc__plat_mutex_free(mproc__mutex *m);

/* A condition variable for threads of one process (feeder threads). */
typedef struct mproc__cond mproc__cond;
mproc__cond *mproc__plat_cond_new(void);
/* m held by the caller; 0 when signalled (or spuriously), MPROC_ETIMEDOUT. */
int mproc__plat_cond_wait(mproc__cond *c, mproc__mutex *m, double timeout);
void mproc__plat_cond_signal(mproc__cond *c);
void mproc__plat_cond_broadcast(mproc__cond *c);
void mproc__plat_cond_free(mproc__cond *c);

/* Process exit after the target ran: flush stdio, skip atexit (fork child). */
_Noreturn void mproc__plat_exit_now(int code);

#endif /* MPROC_PLATFORM_H */
