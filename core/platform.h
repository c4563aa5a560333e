/*
 * The contract between the portable core and a platform.
 *
 * Exactly one of platform/posix/ and platform/win32/ implements every
 * function below.  The core calls only these and the C library; it never
 * includes an OS header.  The platform is a leaf: it moves bytes and
 * handles, starts and reaps children, and provides locks and clocks.  It
 * knows no record format, no forkserver protocol and no exit rule, and it
 * calls nothing in core/ but the error and log helpers (mproc__error,
 * mproc__errorf, mproc__sys_error, mproc__log).
 *
 * Functions return 0 or a negative MPROC_E* code; an OS failure is
 * reported with mproc__sys_error(os_errno), which keeps the OS code for
 * mproc_last_os_error() and returns MPROC_ESYS.  Unless a function says
 * otherwise it may be called from any thread, holds no library lock when it
 * returns, and never calls the log hook with a lock of its own held.
 */
#ifndef MPROC_PLATFORM_H
#define MPROC_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#include "mproc.h"

/* Thread-local storage.  MSVC's C compiler has no _Thread_local (clang in
 * MSVC mode takes this branch too, which ci/msvc-syntax.sh relies on). */
#if defined(_MSC_VER)
#define MPROC_TLS __declspec(thread)
#else
#define MPROC_TLS _Thread_local
#endif

/* An OS object: a descriptor on POSIX, a HANDLE on Windows. */
typedef intptr_t mproc__handle;
#define MPROC__NO_HANDLE ((mproc__handle)-1)
/* Most handles that may travel with one bootstrap record. */
#define MPROC__MAX_HANDLES 64

/* A started child: a process (fork, spawn) or a thread (see below). */
typedef struct mproc__child mproc__child;

/* ---- identity, time ---------------------------------------------------- */

/* The OS this platform was built for (MPROC_OS_*). */
mproc_os mproc__plat_os(void);
/* Whether start method m can be used here (fork and forkserver need fork). */
int mproc__plat_method_available(mproc_method m);
/* Monotonic clock in seconds. */
double mproc__plat_now(void);
long mproc__plat_getpid(void);
long mproc__plat_getppid(void);
/* CPUs this process may use: those of the calling thread's affinity (all
 * online CPUs where the OS does not tell), lowered to an OS CPU quota
 * (cgroups) rounded up.  At least 1; never fails. */
int mproc__plat_cpu_count(void);
/* Names the calling thread as the OS shows it (ps, top, debuggers); on an
 * OS that names processes apart from threads (the BSDs' setproctitle),
 * also the process when whole_process is set.  Best effort: cut to what
 * the OS keeps (15 bytes on Linux), ignored where it cannot. */
void mproc__plat_set_name(const char *name, int whole_process);
/* Threads of this process, or -1 where the OS does not tell. */
long mproc__plat_thread_count(void);
/* Value of an environment variable or NULL; unset removes it from what
 * getenv reads and what children inherit.  Not safe against other threads
 * writing the environment at the same time (no C library's is). */
const char *mproc__plat_getenv(const char *name);
void mproc__plat_unsetenv(const char *name);

/* ---- start-up ---------------------------------------------------------- */

/* Records what spawn needs to re-run this program: the executable's path
 * and the argument vector.  Idempotent; called by mproc_init.  Errors:
 * MPROC_EINVAL (argc < 0, argv NULL), MPROC_ENOMEM, MPROC_ESYS (the
 * executable cannot be found). */
int mproc__plat_init(int argc, char **argv);
/* Whether mproc__plat_init has succeeded. */
int mproc__plat_initialized(void);
/* Checks that h, named by a spawning parent, is a channel this process
 * inherited (a socket on POSIX, the client end of a pipe on Windows) and
 * makes it non-inheritable.  0, or MPROC_EINVAL for anything else (a stale
 * variable must never make the caller read some other object). */
int mproc__plat_adopt_channel(mproc__handle h);

/* ---- byte channels ----------------------------------------------------- */

/* Writes/reads exactly len bytes, blocking as long as it takes and retrying
 * on interruption.  read_all returns MPROC_ECLOSED when the peer closed
 * before len bytes arrived; write_all MPROC_ECLOSED when no reader is left
 * (never a SIGPIPE).  Two threads must not use one handle at once. */
int mproc__plat_write_all(mproc__handle h, const void *buf, size_t len);
int mproc__plat_read_all(mproc__handle h, void *buf, size_t len);
/* Closes h; MPROC__NO_HANDLE is ignored. */
void mproc__plat_close(mproc__handle h);
/* Waits until one of n handles (sentinels, pipes, channels) is ready: a
 * sentinel signalled, a pipe readable or at end of file.  Sets ready[i];
 * returns the count ready (0 on timeout).  MPROC_EINVAL if n is 0 or over
 * the platform's limit (64).  Readiness may be stale by the time the
 * caller reads: another reader can take the data first. */
int mproc__plat_wait_handles(const mproc__handle *hs, size_t n, double timeout, int *ready);
/* 1 when sentinels and pipes are file descriptors the caller's own poll()
 * waits on (POSIX); 0 when only mproc__plat_wait_handles can wait on them
 * (Windows: an anonymous pipe signals nothing). */
int mproc__plat_handles_are_fds(void);
/* Sleeps for about seconds (>= 0; a wait for what has no handle, in
 * slices: mproc_wait's events and queues when there is no handle to wait
 * on meanwhile).  Any thread; may end early on a signal. */
void mproc__plat_sleep(double seconds);

/* ---- handle passing ---------------------------------------------------- */

/* Sends n (<= MPROC__MAX_HANDLES, may be 0) handles over channel so that
 * the process reading it gets its own copies with recv_handles.  POSIX:
 * SCM_RIGHTS on a socket (to may be NULL).  Windows: each is duplicated
 * into to's process and the values written; on failure the duplicates are
 * closed there again.  The caller keeps its own handles.  One sender at a
 * time per channel (the caller serialises). */
int mproc__plat_send_handles(mproc__handle channel, mproc__child *to, const mproc__handle *hs, size_t n);
/* Receives what send_handles sent: up to cap handles into hs, *n set; they
 * are close-on-exec / non-inheritable.  MPROC_ECLOSED at end of file before
 * anything arrived, MPROC_EBROKEN for a malformed message (nothing kept). */
int mproc__plat_recv_handles(mproc__handle channel, mproc__handle *hs, size_t cap, size_t *n);

/* ---- children ---------------------------------------------------------- */

/* Every function on a child may be called from several threads at once;
 * the child keeps a lock of its own for that, never held while waiting. */

/* Runs in the child of a fork; must not return. */
typedef void (*mproc__fork_fn)(void *ud);
/* Runs in a new thread; its return value is the thread's exit code. */
typedef int (*mproc__thread_fn)(void *ud);

/* fork(): the child calls fn(ud).  Warns through the log hook (before
 * forking, no lock held) when the process has other threads.
 * MPROC_ENOTSUP where there is no fork. */
int mproc__plat_fork(mproc__child **out, mproc__fork_fn fn, void *ud);
/* fork() for a process that reaps its children itself with reap_any (the
 * forkserver): no sentinel, just the pid.  The child starts with default
 * SIGCHLD and SIGINT handling and calls fn(ud), which must not return.
 * The child outlives this process unless it arranges otherwise. */
int mproc__plat_fork_detached(long *pid, mproc__fork_fn fn, void *ud);
/* What a new child process gets instead of this process's own
 * (mproc_process_setenv, _set_cwd, _set_stdio_*), resolved by the core
 * before the start: files are open already, so only applying them can
 * fail.  Nothing here is taken by the calls that use it. */
typedef struct {
    size_t n_env;
    char **env_names;  /* distinct; no '=' in a name */
    char **env_values; /* env_values[i] NULL: env_names[i] is removed */
    char *cwd;         /* NULL: this process's working directory */
    mproc__handle std[3]; /* stdin, stdout, stderr; NO_HANDLE: this process's */
} mproc__child_attrs;

/* The program spawn starts: path (UTF-8) NULL means this program, as
 * mproc__plat_init found it.  args, the arguments after argv[0] ending
 * with NULL; args NULL means this program's own (the argv mproc__plat_init
 * saved, none before it ran). */
typedef struct mproc__program {
    const char *path;
    const char *const *args;
} mproc__program;
/* Starts program (NULL: this program again with the argv saved by
 * mproc__plat_init) with posix_spawn / CreateProcessW.  The child inherits
 * only its std streams and the bootstrap channel, whose value it finds in
 * the environment variable env_name; the parent's end is
 * mproc__plat_child_channel.  attrs (NULL: none) edits the environment it
 * starts with, replaces its std streams and, where
 * mproc__plat_spawn_sets_cwd says so, sets its working directory; a
 * directory that cannot be entered is MPROC_ESYS with a message naming
 * it.  MPROC_ENOINIT for this program before mproc__plat_init; MPROC_ESYS
 * when the program cannot be started (where the OS reports a failed exec
 * to the parent, as glibc, musl, macOS and Windows do). */
int mproc__plat_spawn(mproc__child **out, const char *env_name, const mproc__program *program,
                      const mproc__child_attrs *attrs);
/* The path (UTF-8, malloc'd, *out) of the file holding the library's code:
 * the shared library, or the program when mproc is linked into it.
 * MPROC_ENOTSUP where the platform cannot tell (no dladdr), MPROC_ENOMEM,
 * MPROC_ESYS. */
int mproc__plat_library_path(char **out);
/* Whether path names an existing file this process may execute. */
int mproc__plat_is_program(const char *path);
/* 1 when mproc__plat_spawn sets attrs->cwd itself (posix_spawn's
 * addchdir, CreateProcess's directory); 0 when it ignores it, and the
 * core has the child change directory before its target. */
int mproc__plat_spawn_sets_cwd(void);
/* Runs fn(ud) in a new thread. */
int mproc__plat_thread_start(mproc__child **out, mproc__thread_fn fn, void *ud);

/* The parent's end of a spawned child's bootstrap channel (else NO_HANDLE). */
mproc__handle mproc__plat_child_channel(mproc__child *c);
/* A handle mproc__plat_wait_handles reports ready once the child ended. */
mproc__handle mproc__plat_child_sentinel(mproc__child *c);
long mproc__plat_child_pid(mproc__child *c);
/* Waits up to timeout for the child to end and reaps it; stores the exit
 * code (return value, or -signal).  0, MPROC_ETIMEDOUT, or the error of
 * the wait itself (MPROC_ESYS). */
int mproc__plat_child_wait(mproc__child *c, double timeout, int *code);
/* Sends SIGTERM (kill == 0) or SIGKILL; on Windows TerminateProcess with a
 * code that later reads as -15 or -9.  No effect once the child ended.
 * MPROC_ENOTSUP for threads. */
int mproc__plat_child_signal(mproc__child *c, int kill);
/* Sends SIGTERM (kill == 0) or SIGKILL to process pid, which need not be
 * a child of this process (a forkserver child).  The caller makes sure the
 * pid has not been reaped yet.  Windows: TerminateProcess with the codes
 * mproc__plat_child_signal uses. */
int mproc__plat_kill_pid(long pid, int kill);
/* Whether process pid still runs: 0 once it has ended (a zombie counts
 * as ended where the OS tells: /proc, sysctl, our own child, Windows), else
 * 1.  Used by the core to find holders and members of shared objects that
 * died; a pid reused by a new process reads as alive. */
int mproc__plat_pid_alive(long pid);
/* Closes the parent's end of a spawned child's bootstrap channel, so the
 * child reads end of file there, and keeps the child for child_wait with a
 * timeout of 0 (which reaps it once ended) and child_free.  Waits with
 * another timeout may no longer see the end (without pidfds the channel
 * was the sentinel).  Not at the same time as other calls on c. */
void mproc__plat_child_close_channel(mproc__child *c);
/* Releases the child's handles; the child must have been reaped, or the
 * caller accepts leaving it running (a thread is detached). */
void mproc__plat_child_free(mproc__child *c);

/* ---- a child's attributes (mproc__child_attrs) ------------------------- */

/* Opens a file for a child's std stream, not inherited by other children:
 * MPROC__STD_READ (must exist), MPROC__STD_WRITE (created or truncated),
 * MPROC__STD_APPEND (created, written at its end); path NULL opens the null
 * device.  0, or MPROC_ESYS. */
enum { MPROC__STD_READ = 1, MPROC__STD_WRITE, MPROC__STD_APPEND };
int mproc__plat_open_std(const char *path, int mode, mproc__handle *h);
/* 0 when path names a directory this process could enter; else
 * MPROC_ESYS (ENOENT, ENOTDIR, EACCES...). */
int mproc__plat_check_dir(const char *path);
/* In a new child before its target (a fork, a forkserver's child, a
 * spawned child whose platform could not set its directory): sets
 * (value NULL: removes) a variable of its environment; changes its working
 * directory; makes h its std stream which (0, 1, 2; h stays open too).
 * 0 or MPROC_ESYS; redirect_std is MPROC_ENOTSUP where there is no fork. */
int mproc__plat_setenv(const char *name, const char *value);
int mproc__plat_chdir(const char *path);
int mproc__plat_redirect_std(int which, mproc__handle h);

/* ---- children that die with their parent ------------------------------ */

/* What ends a child this way: it is killed with SIGKILL where there are
 * signals, so it reads as -9 to whoever reaps it (a forkserver child's
 * server, an orphan's reaper), like a child the forkserver's death took. */
#define MPROC__DIED_WITH_PARENT (-9)

/* In the parent, before starting a child that must not outlive this
 * process.  POSIX: a pipe; *keep (the write end) stays in this process and
 * is never inherited: close-on-exec, and closed in the child of every fork
 * of this process, including forks racing with this call from other
 * threads.  *give (the read end) goes to the child (inherited by fork, or
 * sent beside the bootstrap record); the caller closes its own copy once
 * the child has it.  Windows: creates this process's kill-on-close job
 * once; both are MPROC__NO_HANDLE.  MPROC_ESYS, MPROC_ENOMEM. */
int mproc__plat_lifeline_open(mproc__handle *keep, mproc__handle *give);
/* In the parent, right after spawn and before the child can run anything
 * of its own (it waits for its record): Windows assigns the child to the
 * job, so the OS kills it when this process's last handle to the job
 * closes, however it dies.  POSIX: nothing.  MPROC_ESYS when the OS
 * refuses (Windows 7 inside another job without breakaway); the caller
 * then ends the child. */
int mproc__plat_lifeline_bind(mproc__child *c);
/* In the parent, once the child was reaped: closes keep (NO_HANDLE is
 * ignored).  Not for a keep another thread may still be using. */
void mproc__plat_lifeline_close(mproc__handle keep);
/* In the child, before its target runs: takes give and ends this process
 * as MPROC__DIED_WITH_PARENT as soon as the parent no longer holds keep
 * (at once if it is gone already).  POSIX: a detached watcher thread,
 * signals blocked, reading give until end of file; where the OS can tie
 * a child to its parent (MPROC_HAVE_PDEATHSIG) and this is the child of a
 * fork() from the parent's main thread, the kernel's parent-death signal
 * as well.  NO_HANDLE (Windows: the job does it) returns 0.
 * MPROC_ESYS when the watcher cannot start. */
int mproc__plat_lifeline_watch(mproc__handle give, long parent_pid);

/* ---- exit notification for a process that reaps its own children ------ */

/* A handle that becomes readable whenever a child of this process ends
 * (POSIX: a SIGCHLD self-pipe, installed on first call).  Only for a
 * process whose children all come from fork_detached.  NO_HANDLE where
 * there is no fork. */
mproc__handle mproc__plat_child_events(void);
/* Consumes the notifications, then reaps one ended child: 1 and its pid
 * and exit code, 0 when none has ended, or an error. */
int mproc__plat_reap_any(long *pid, int *code);
/* Ignores (1) the interactive interrupt (SIGINT), so that a server process
 * outlives the Ctrl-C sent to its process group; 0 sets the default
 * action back (for the server's children). */
void mproc__plat_ignore_interrupt(int ignore);
/* In a new child: keeps the std streams and hs[0..n), renumbered from 3 on
 * (hs is updated), and closes every other descriptor.  Returns n. */
size_t mproc__plat_keep_only(mproc__handle *hs, size_t n);

/* ---- pipes and timed I/O (connections and queues) ---------------------- */

/* A one-way pipe: h[0] reads and h[1] writes.  Never inherited by spawned
 * children.  flags 0: ends for the timed calls below with any timeout.
 * MPROC__PIPE_LARGE: as large a buffer as the OS gives without privilege
 * (Linux: 1 MiB), so that a batch of frames goes in one write.
 * MPROC__PIPE_BLOCKING: ends that wait inside the read and write calls
 * themselves, where the OS wakes a waiting reader sooner than one waiting
 * for readiness (POSIX: a blocking read() against poll() then read());
 * such a pipe is only written with timeout < 0, and a timed read asks
 * mproc__plat_readable first, then reads with timeout 0 (which may still
 * wait if another process takes the bytes in between). */
#define MPROC__PIPE_BLOCKING 1
#define MPROC__PIPE_LARGE 2
int mproc__plat_pipe(int flags, mproc__handle h[2]);
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

/* ---- process-shared semaphores and robust mutexes ---------------------- */

/* Each lives in MPROC__SYNC_MEM bytes of shared memory the core provides
 * and/or in a kernel object (Windows: its handle, to be sent to children).
 * Any thread of any process holding the memory may call any of these at
 * once.  Recursion differs: a Windows kernel mutex lets its holder acquire
 * it again (and must be released as often); a pthread or pid-owner mutex
 * makes the holder wait on itself.  The core never acquires a mutex it
 * holds, so neither behaviour is relied on. */
#define MPROC__SYNC_MEM 128
typedef struct {
    void *mem;
    mproc__handle h;
} mproc__psync;

/* A counting semaphore starting at value that may never exceed max.
 * MPROC_ENOTSUP when the OS cannot share it between processes. */
int mproc__plat_psem_init(mproc__psync *s, void *mem, unsigned value, unsigned max);
/* 0, or MPROC_ETIMEDOUT.  A unit taken by a process that then died is
 * lost, as with any semaphore. */
int mproc__plat_psem_acquire(mproc__psync *s, double timeout);
/* Adds one; MPROC_ESTATE (and no change) when already at max. */
int mproc__plat_psem_release(mproc__psync *s);
/* Adds one where being at max cannot matter (a Lock's wake-up: its
 * semaphore counts hints up to SEM_VALUE_MAX): where the OS semaphore has
 * no maximum, without release's check and its lock; elsewhere as release. */
int mproc__plat_psem_post(mproc__psync *s);
/* A robust mutex: only the holder releases it.  acquire returns 0,
 * MPROC_ETIMEDOUT, or MPROC_EBROKEN when the previous holder died holding
 * it: the caller then holds it (POSIX EOWNERDEAD semantics), decides what
 * the death means for what it guarded while no one else can act on it (a
 * queue marks itself broken), and releases it.  Robust pthread mutexes and
 * abandoned Windows mutexes report the death at once; elsewhere the
 * holder's pid is kept beside the lock and a waiter checks it every
 * MPROC__LIVENESS_SLICE seconds (a pid reused by a new process before then
 * hides the death).
 * MPROC_ENOTSUP when the OS cannot share it between processes. */
#define MPROC__LIVENESS_SLICE 0.1
int mproc__plat_pmutex_init(mproc__psync *m, void *mem);
int mproc__plat_pmutex_acquire(mproc__psync *m, double timeout);
/* MPROC_ESTATE when the caller does not hold it. */
int mproc__plat_pmutex_release(mproc__psync *m);
/* Either kind: the handle to send to a child (MPROC__NO_HANDLE when the
 * shared memory is all there is), re-attaching in a child (mem inside the
 * child's mapping of the same segment, h the received handle), closing. */
mproc__handle mproc__plat_psync_handle(const mproc__psync *s);
int mproc__plat_psync_attach(mproc__psync *s, void *mem, mproc__handle h);
void mproc__plat_psync_close(mproc__psync *s);

/* ---- locks of this process and fork safety ----------------------------- */

/* One library-wide lock for the core's small shared state (registries,
 * children, contexts).  Not recursive.  Held only briefly: never across a
 * blocking call, never while calling the log hook or user code.  A forked
 * child gets it unlocked whatever another thread was doing. */
void mproc__plat_global_lock(void);
void mproc__plat_global_unlock(void);

/* Sets the function that runs in the child of every fork() of this process
 * (the library's or the application's), single-threaded, after the
 * platform has re-initialised its own locks.  Called with the global lock
 * held, once (by core/lifecycle.c).  No effect without fork. */
void mproc__plat_atfork_child(void (*fn)(void));

/* A per-object mutex for threads of one process (pthread mutex, SRW lock).
 * Not recursive.  new returns NULL when out of memory.  A forked child
 * must not use one another thread held at the fork: objects re-create
 * theirs through core/lifecycle.c's after-fork registry. */
typedef struct mproc__mutex mproc__mutex;
mproc__mutex *mproc__plat_mutex_new(void);
void mproc__plat_mutex_lock(mproc__mutex *m);
void mproc__plat_mutex_unlock(mproc__mutex *m);
void mproc__plat_mutex_free(mproc__mutex *m);

/* A condition variable for threads of one process (feeder threads). */
typedef struct mproc__cond mproc__cond;
mproc__cond *mproc__plat_cond_new(void);
/* m held by the caller; 0 when signalled (early wake-ups are possible, so
 * re-check the condition), MPROC_ETIMEDOUT. */
int mproc__plat_cond_wait(mproc__cond *c, mproc__mutex *m, double timeout);
void mproc__plat_cond_signal(mproc__cond *c);
void mproc__plat_cond_broadcast(mproc__cond *c);
void mproc__plat_cond_free(mproc__cond *c);

/* Ends the process now: flushes stdio, skips atexit handlers (a fork child
 * after its target and exit rule ran). */
_Noreturn void mproc__plat_exit_now(int code);

#endif /* MPROC_PLATFORM_H */
