/**
 * @file mproc.h
 * @brief mproc — Python's multiprocessing for C.
 *
 * Run a C function in another process (fork, spawn, forkserver) or a thread,
 * with one API on Linux, macOS and Windows.  This header is the whole public
 * API; every function is documented where it is declared.  The guide
 * (docs/guide.md) shows each part at work in a short complete program.
 *
 * Conventions
 *  - Calls returning int give 0 on success or a negative MPROC_E* code.
 *  - Calls returning a pointer give NULL on failure; mproc_last_error() then
 *    holds the code (per thread).
 *  - Predicates (mproc_process_is_alive, mproc_event_is_set,
 *    mproc_queue_empty, mproc_queue_full, mproc_conn_poll,
 *    mproc_result_ready) return 1, 0, or a negative MPROC_E* code on
 *    error: compare with == 1, never test the result for truth.
 *  - Every public call checks the type of the object it is given: NULL or
 *    an object of another type gives MPROC_EINVAL.  Best effort only: a use
 *    after free is undefined behaviour, as in libuv.
 *  - Timeouts are double seconds: < 0 waits forever, 0 does not wait.
 *  - Objects are thread-safe unless a function says otherwise.
 *  - Each process frees the objects it made with their mproc_*_free call;
 *    that releases this process's handle only, the others keep theirs.
 *    Objects a child receives through mproc_args belong to the library
 *    there.  Buffers the library returns are freed with mproc_free.
 */
#ifndef MPROC_H
#define MPROC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @def MPROC_API
 * Marks the functions the library exports.  A program linking the shared
 * library on Windows defines MPROC_SHARED before including this header
 * (the CMake target mproc_shared does it for its users); the library's own
 * build defines MPROC_SHARED_BUILD.  Static linking needs neither.
 */
#if defined(_WIN32) && defined(MPROC_SHARED_BUILD)
#define MPROC_API __declspec(dllexport)
#elif defined(_WIN32) && defined(MPROC_SHARED)
#define MPROC_API __declspec(dllimport)
#elif defined(__GNUC__) && defined(MPROC_SHARED_BUILD)
#define MPROC_API __attribute__((visibility("default")))
#else
#define MPROC_API
#endif

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */
/**
 * @defgroup mproc_errors Errors
 * Negative MPROC_E* codes, their sentences, the per-thread last error.
 * The library never prints: details go to the log hook
 * (mproc_set_log_handler).
 * @{
 */

/** The error codes: every int-returning call gives 0 (MPROC_OK) or one of
 * these; a call returning a pointer gives NULL and leaves the code in
 * mproc_last_error().  mproc_strerror() gives a sentence for each. */
enum {
    MPROC_OK = 0,         /**< success */
    MPROC_EINVAL = -1,    /**< bad argument */
    MPROC_ENOMEM = -2,    /**< out of memory */
    MPROC_EEMPTY = -3,    /**< nothing to get */
    MPROC_EFULL = -4,     /**< no room to put */
    MPROC_ETIMEDOUT = -5, /**< the timeout passed first */
    MPROC_ECLOSED = -6,   /**< the object or its peer is closed */
    MPROC_ENOTSUP = -7,   /**< not available on this OS or start method */
    MPROC_ENOTREG = -8,   /**< target not registered with MPROC_TARGET */
    MPROC_ENOINIT = -9,   /**< mproc_init() has not run where it must have */
    MPROC_ESTATE = -10,   /**< call not valid in the object's current state */
    MPROC_EEXIST = -11,   /**< already set */
    MPROC_EBROKEN = -12,  /**< peer died or data is corrupt; object unusable */
    MPROC_ETOOBIG = -13,  /**< message larger than the configured limit */
    MPROC_ESYS = -14,     /**< OS error; see mproc_last_os_error() */
    MPROC_ETASK = -15     /**< the task returned a nonzero code */
};

/** The code behind the last failing call of this thread (0 if none failed
 * yet).  A successful call does not reset it: read it right after the call
 * that returned NULL (or a negative code). */
MPROC_API int mproc_last_error(void);
/** The OS error (errno, or GetLastError() on Windows) behind the last
 * MPROC_ESYS of this thread. */
MPROC_API long mproc_last_os_error(void);
/** A sentence describing code; never NULL, also for unknown codes. */
MPROC_API const char *mproc_strerror(int code);
/** The detail of this thread's last failure: the line the log hook got
 * (the code's sentence, then what went wrong, naming the object, target or
 * OS call), or the code's sentence when the failure came without one; ""
 * before any failure.  Like mproc_last_error, a successful call leaves it
 * as it was.  The string belongs to the thread and is overwritten by its
 * next failure: copy it to keep it. */
MPROC_API const char *mproc_last_error_message(void);
/** Frees a buffer the library allocated for the caller: items got from a
 * queue, messages received from a connection, results of a pool.  NULL is
 * allowed.  Not for objects: each has its own mproc_*_free. */
MPROC_API void mproc_free(void *buf);

/** @} */

/* ------------------------------------------------------------------ */
/* Version                                                             */
/* ------------------------------------------------------------------ */

/* The one place the version is written: CMake reads these three lines for
 * project(VERSION), the shared library's version and the package files. */
#define MPROC_VERSION_MAJOR 0 /**< incompatible API changes */
#define MPROC_VERSION_MINOR 1 /**< compatible additions */
#define MPROC_VERSION_PATCH 0 /**< fixes */
/** The version of this header as one number, (major << 16) | (minor << 8) |
 * patch: compare it in a preprocessor condition, or with mproc_version()
 * at run time. */
#define MPROC_VERSION_HEX ((MPROC_VERSION_MAJOR << 16) | (MPROC_VERSION_MINOR << 8) | MPROC_VERSION_PATCH)
#define MPROC__VERSION_STR2(x) #x
#define MPROC__VERSION_STR(x) MPROC__VERSION_STR2(x)
/** The version of this header as text, "major.minor.patch". */
#define MPROC_VERSION_STRING                                                         \
    MPROC__VERSION_STR(MPROC_VERSION_MAJOR) "." MPROC__VERSION_STR(MPROC_VERSION_MINOR) \
    "." MPROC__VERSION_STR(MPROC_VERSION_PATCH)

/** The version of the library actually linked (MPROC_VERSION_HEX as it was
 * when the library was built), which a program using a shared library can
 * compare with the MPROC_VERSION_HEX it was compiled with.  Cannot fail. */
MPROC_API unsigned mproc_version(void);
/** The version of the library actually linked as text, "major.minor.patch"
 * (MPROC_VERSION_STRING of its build); static storage, never NULL. */
MPROC_API const char *mproc_version_string(void);

/* ------------------------------------------------------------------ */
/* Start-up and logging                                                */
/* ------------------------------------------------------------------ */
/**
 * @defgroup mproc_startup Start-up and logging
 * mproc_init, first statement of main, and the log hook.
 * @{
 */

/**
 * Must be the first statement of main() in any program that uses the spawn
 * or forkserver start methods (a library or plugin that does not own main
 * calls mproc_set_spawn_module instead).  In the parent it records argv and the path of
 * the program and checks MPROC_START_METHOD.  In a process started by spawn
 * it receives the bootstrap record, runs the target and exits: it never
 * returns there.  In the forkserver it becomes the server loop.
 * So whatever main does before it runs again in every spawned child and
 * in the forkserver: keep that to calls without effects elsewhere, such as
 * mproc_set_log_handler.  Targets and tasks are registered before main
 * (MPROC_TARGET, MPROC_TASK).
 * Errors: MPROC_EINVAL when MPROC_START_METHOD names no start method
 * (a message goes to the log hook), MPROC_ENOTSUP when it names one this
 * OS lacks, MPROC_ESYS.  Calling it twice is allowed.
 */
MPROC_API int mproc_init(int argc, char **argv);

/**
 * The program spawn children (and the forkserver, which is spawned) run
 * instead of this one, as CPython's multiprocessing.set_executable; NULL
 * restores the default (this program, found by mproc_init).  The program's
 * main must call mproc_init(argc, argv) first: it receives the bootstrap
 * record there, so its targets (MPROC_TARGET) are the ones children can
 * run.  It gets this program's arguments (none when this program never
 * called mproc_init); with mproc_set_spawn_module it is the mproc-worker
 * to use and gets the module's path instead.  Callable before or after
 * mproc_init, from any thread; the path is copied and not checked: a
 * program that cannot be started makes mproc_process_start fail with
 * MPROC_ESYS and a message naming it.  A forkserver already running keeps
 * the program it was started with.  Errors: MPROC_ENOMEM.
 */
MPROC_API int mproc_set_executable(const char *path);
/**
 * Spawn without owning main: spawn and forkserver children run the helper
 * program mproc-worker, which loads the shared library at path (dlopen /
 * LoadLibraryW) before its mproc_init, so the library's MPROC_TARGETs,
 * registered as it loads, are what those children can run.  For a plugin or
 * extension loaded into a host whose main knows nothing of mproc: it calls
 * this with its own path, and no mproc_init is needed in the host.  NULL
 * turns it off.
 *
 * mproc-worker is the program set with mproc_set_executable if any, else
 * the one beside the mproc library's own file (the shared library's
 * directory: where a build tree, and Windows' bin/, put it), else the one at
 * the installed path (PREFIX/bin/mproc-worker).  The module must link the
 * shared mproc library, as mproc-worker does, so that both use one registry;
 * a host that uses mproc itself must link the shared library too (a static
 * copy in the host is a second, separate library).  Fork and thread
 * children run the module's targets directly.  A module that fails to load
 * in the child makes the start fail with MPROC_ENOTREG (the worker writes
 * the loader's error to its stderr).  Callable before or after mproc_init;
 * the path is copied; make it absolute (the child may start elsewhere).
 * Errors: MPROC_ENOMEM.
 */
MPROC_API int mproc_set_spawn_module(const char *path);

/** Levels of the log hook's messages (the values of Python's logging). */
enum { MPROC_LOG_DEBUG = 10, MPROC_LOG_INFO = 20, MPROC_LOG_WARNING = 30, MPROC_LOG_ERROR = 40 };
/** @var MPROC_LOG_DEBUG
 * Detail for debugging the library's use. */
/** @var MPROC_LOG_INFO
 * Something worth knowing that went as planned. */
/** @var MPROC_LOG_WARNING
 * Something that may go wrong: fork from a process with threads, a
 * forkserver that died and is replaced. */
/** @var MPROC_LOG_ERROR
 * The details of an error a call returned (the code's sentence, then what
 * exactly failed). */
/** The log hook: level is an MPROC_LOG_* value, msg one line without a
 * newline (valid during the call only), ud what mproc_set_log_handler was
 * given. */
typedef void (*mproc_log_fn)(int level, const char *msg, void *ud);
/** Installs the log hook (NULL removes it).  The library never prints: all
 * warnings (e.g. fork from a multi-threaded process) and error details go
 * here.  fn may be called from any thread, never with a library lock held.
 * May be called before mproc_init. */
MPROC_API void mproc_set_log_handler(mproc_log_fn fn, void *ud);
/** Installs a ready log hook (as CPython's multiprocessing.log_to_stderr)
 * that writes each message of at least level (MPROC_LOG_*) to stderr as one
 * line: "[LEVEL/process-name pid] message", the name "MainProcess" in a
 * process mproc did not start.  Replaces the hook mproc_set_log_handler
 * installed, and is replaced by the next one.  Children started by fork
 * inherit it; spawn and forkserver children install their own. */
MPROC_API void mproc_log_to_stderr(int level);

/** @} */

/* ------------------------------------------------------------------ */
/* Start methods and contexts                                          */
/* ------------------------------------------------------------------ */
/**
 * @defgroup mproc_methods Start methods and contexts
 * How a child starts (multiprocessing's get_context, set_start_method).
 * Every constructor takes a context; NULL is the default context, whose
 * method is fixed on first use.
 * @{
 */

/** A start method. */
typedef enum { MPROC_FORK = 1, MPROC_SPAWN, MPROC_FORKSERVER, MPROC_THREAD } mproc_method;
/** @var MPROC_FORK
 * fork(): the child is a copy of this process.  POSIX only.  Unsafe in a
 * process with threads: a lock another thread holds stays locked in the
 * child. */
/** @var MPROC_SPAWN
 * The program started again (posix_spawn, CreateProcess); mproc_init in
 * the child runs the target.  Every OS. */
/** @var MPROC_FORKSERVER
 * Forked by a single-threaded server process started (by spawn) on first
 * use.  POSIX only.  The default on Linux and the BSDs. */
/** @var MPROC_THREAD
 * A thread of this process (multiprocessing.dummy).  Every OS. */
/** An operating system, for mproc_default_start_method_for. */
typedef enum { MPROC_OS_LINUX = 1, MPROC_OS_MACOS, MPROC_OS_WINDOWS, MPROC_OS_BSD } mproc_os;
/** @var MPROC_OS_LINUX
 * Linux. */
/** @var MPROC_OS_MACOS
 * macOS. */
/** @var MPROC_OS_WINDOWS
 * Windows. */
/** @var MPROC_OS_BSD
 * FreeBSD, OpenBSD, NetBSD. */
/** A context: a start method, for the constructors (NULL: the default
 * context).  Static: never freed. */
typedef struct mproc_ctx mproc_ctx;

/** CPython's current default for this OS: forkserver on Linux/BSD, spawn on
 * macOS and Windows.  MPROC_START_METHOD does not change this value. */
MPROC_API mproc_method mproc_default_start_method(void);
/** CPython 3.x's default on os, x being python_minor: Windows always spawn;
 * macOS fork before 3.8, spawn from 3.8; Linux/BSD fork before 3.14,
 * forkserver from 3.14.  Returns 0 (and MPROC_EINVAL) for an unknown os or
 * a negative minor. */
MPROC_API mproc_method mproc_default_start_method_for(mproc_os os, int python_minor);
/** Fixes the start method used by the default context (NULL).  Fails with
 * MPROC_EEXIST once a method is fixed (by an earlier call or by first use of
 * the default context) unless force is nonzero; MPROC_ENOTSUP if m is not
 * available on this OS; MPROC_EINVAL for an unknown m. */
MPROC_API int mproc_set_start_method(mproc_method m, int force);
/** The method of the default context, fixing it if not yet fixed: the one set
 * with mproc_set_start_method, else MPROC_START_METHOD, else the OS default.
 * Returns 0 (and MPROC_EINVAL) if MPROC_START_METHOD is invalid. */
MPROC_API mproc_method mproc_get_start_method(void);
/** Writes up to cap available methods to out, the OS default first; returns
 * how many are available (may exceed cap), or MPROC_EINVAL. */
MPROC_API int mproc_get_all_start_methods(mproc_method *out, int cap);
/** "fork", "spawn", "forkserver", "thread"; "unknown" otherwise. */
MPROC_API const char *mproc_method_name(mproc_method m);
/** Parses a method name (exact, lower case).  MPROC_EINVAL if unknown. */
MPROC_API int mproc_method_parse(const char *name, mproc_method *out);
/** The context for m (static, never freed); m == 0 means the default context
 * (see mproc_get_start_method).  NULL with MPROC_ENOTSUP where m is not
 * available (fork/forkserver on Windows), MPROC_EINVAL for an unknown m. */
MPROC_API mproc_ctx *mproc_get_context(mproc_method m);
/** The start method a context uses; 0 (not an mproc_method) for NULL. */
MPROC_API mproc_method mproc_ctx_method(const mproc_ctx *ctx);

/** @} */

/* ------------------------------------------------------------------ */
/* Targets                                                             */
/* ------------------------------------------------------------------ */
/**
 * @defgroup mproc_targets Targets
 * The functions a child runs, registered by name so that a spawned child
 * (a fresh run of the program) finds them.
 * @{
 */

/** A list of typed values for a child: see mproc_args_new. */
typedef struct mproc_args mproc_args;
/** A target runs in the child; its return value is the exit code (POSIX keeps
 * the low 8 bits; a thread target's value is kept whole).  args belongs to
 * the library: do not free it. */
typedef int (*mproc_target_fn)(mproc_args *args);

/** Registers fn under name so spawn and forkserver children (which exec the
 * program again) can find it.  MPROC_TARGET does this for you; call this
 * directly, before mproc_init, only with a compiler the macro does not know.
 * Errors: MPROC_EINVAL (NULL, empty or over-long name), MPROC_EEXIST (the
 * name is taken by another function: spawn then refuses both). */
MPROC_API int mproc_register_target(const char *name, mproc_target_fn fn);

/**
 * @def MPROC_TARGET(fn)
 * MPROC_TARGET(fn); at file scope, after fn's definition, registers fn under
 * its own name before main runs.  Two different functions registered under
 * one name (static functions of the same name in two files) are refused by
 * spawn and forkserver (MPROC_ENOTREG), whatever the compiler.  GCC, Clang
 * (a constructor function) and MSVC (an entry of the C runtime's
 * initializer table); elsewhere call mproc_register_target.
 */
#if defined(_MSC_VER)
/* MSVC's C compiler has no constructor attribute: a pointer placed in the
 * C runtime's initializer table (.CRT$XCU), kept by /include even when it
 * comes from a static library.  Its name is made unique per use (function,
 * line, counter); 32-bit x86 decorates C symbols with a leading '_'. */
#pragma section(".CRT$XCU", read)
#if defined(_M_IX86)
#define MPROC__SYMBOL_PREFIX "_"
#else
#define MPROC__SYMBOL_PREFIX ""
#endif
#define MPROC__STRING2(x) #x
#define MPROC__STRING(x) MPROC__STRING2(x)
#define MPROC__MSVC_TARGET(fn, ptr)                                                   \
    static void mproc__register_##fn(void) { (void)mproc_register_target(#fn, fn); } \
    __declspec(allocate(".CRT$XCU")) void (*const ptr)(void) = mproc__register_##fn; \
    __pragma(comment(linker, "/include:" MPROC__SYMBOL_PREFIX MPROC__STRING(ptr)))    \
    extern int mproc__target_registry_anchor
#define MPROC__MSVC_TARGET2(fn, line, n) MPROC__MSVC_TARGET(fn, mproc__ctor_##fn##_##line##_##n)
#define MPROC__MSVC_TARGET1(fn, line, n) MPROC__MSVC_TARGET2(fn, line, n)
#define MPROC_TARGET(fn) MPROC__MSVC_TARGET1(fn, __LINE__, __COUNTER__)
#elif defined(__GNUC__) || defined(__clang__)
#define MPROC_TARGET(fn)                                                                    \
    static void mproc__register_##fn(void) __attribute__((constructor));                   \
    static void mproc__register_##fn(void) { (void)mproc_register_target(#fn, fn); }       \
    extern int mproc__target_registry_anchor
#else
#error "MPROC_TARGET needs constructor support; call mproc_register_target() instead"
#endif

/** @} */

/* ------------------------------------------------------------------ */
/* Arguments                                                           */
/* ------------------------------------------------------------------ */
/**
 * @defgroup mproc_arguments Arguments
 * Process(args=(...)): typed values and shareable objects for a child, read
 * there by index with the getter of the same type.
 *
 * Objects (queues, connections, shared memory, locks, semaphores, events,
 * conditions, barriers) go by reference: the caller keeps owning each and
 * must keep it alive until the child has started; a thread child uses it
 * directly, so keep it until that thread is joined.  A spawn or forkserver
 * child gets its own handle on the same object, owned by the library and
 * freed when the target returns: the target must not free it.  A fork
 * child has a copy of everything the parent had, which it may close
 * (CPython programs close the ends of pipes they do not use the same way).
 * A queue or lock of the thread context goes to thread children only
 * (mproc_queue_new, mproc_lock_new).
 * @{
 */

/** A list of typed values copied into the child (by memory for fork and
 * thread, by an encoded record for spawn and forkserver).  NULL + ENOMEM.
 * mproc_process_new takes it; otherwise free it with mproc_args_free. */
MPROC_API mproc_args *mproc_args_new(void);
/** Appends a 64-bit integer.  Errors of every mproc_args_add_*:
 * MPROC_EINVAL (NULL args, NULL str, NULL data with len > 0, NULL object),
 * MPROC_ENOMEM, MPROC_ETOOBIG (the list would exceed 1 GiB encoded). */
MPROC_API int mproc_args_add_i64(mproc_args *args, int64_t v);
/** Appends a double; errors as mproc_args_add_i64. */
MPROC_API int mproc_args_add_f64(mproc_args *args, double v);
/** Appends a copy of the NUL-terminated str; errors as mproc_args_add_i64. */
MPROC_API int mproc_args_add_str(mproc_args *args, const char *str);
/** Appends a copy of len bytes at data (len 0 allowed); errors as
 * mproc_args_add_i64. */
MPROC_API int mproc_args_add_bytes(mproc_args *args, const void *data, size_t len);
/** A block of shared memory (multiprocessing.shared_memory, Value, Array):
 * mproc_shm_new. */
typedef struct mproc_shm mproc_shm;
/** A Lock or RLock: mproc_lock_new, mproc_rlock_new. */
typedef struct mproc_lock mproc_lock;
/** A Semaphore or BoundedSemaphore: mproc_sem_new, mproc_bounded_sem_new. */
typedef struct mproc_sem mproc_sem;
/** An Event: mproc_event_new. */
typedef struct mproc_event mproc_event;
/** A Condition: mproc_cond_new. */
typedef struct mproc_cond mproc_cond;
/** A Barrier: mproc_barrier_new. */
typedef struct mproc_barrier mproc_barrier;
/** One end of a Pipe (a Connection): mproc_pipe. */
typedef struct mproc_conn mproc_conn;
/** A Queue, JoinableQueue or SimpleQueue: mproc_queue_new,
 * mproc_joinable_queue_new, mproc_simple_queue_new. */
typedef struct mproc_queue mproc_queue;
/** Appends a reference to queue (see the rules above); errors as
 * mproc_args_add_i64. */
MPROC_API int mproc_args_add_queue(mproc_args *args, mproc_queue *queue);
/** Appends a reference to conn (see the rules above); errors as
 * mproc_args_add_i64. */
MPROC_API int mproc_args_add_conn(mproc_args *args, mproc_conn *conn);
/** Appends a reference to shm (see the rules above); errors as
 * mproc_args_add_i64. */
MPROC_API int mproc_args_add_shm(mproc_args *args, mproc_shm *shm);
/** Appends a reference to lock (see the rules above); errors as
 * mproc_args_add_i64. */
MPROC_API int mproc_args_add_lock(mproc_args *args, mproc_lock *lock);
/** Appends a reference to sem (see the rules above); errors as
 * mproc_args_add_i64. */
MPROC_API int mproc_args_add_sem(mproc_args *args, mproc_sem *sem);
/** Appends a reference to event (see the rules above); errors as
 * mproc_args_add_i64. */
MPROC_API int mproc_args_add_event(mproc_args *args, mproc_event *event);
/** Appends a reference to cond (and through it its lock; see the rules
 * above); errors as mproc_args_add_i64. */
MPROC_API int mproc_args_add_cond(mproc_args *args, mproc_cond *cond);
/** Appends a reference to barrier (see the rules above); errors as
 * mproc_args_add_i64. */
MPROC_API int mproc_args_add_barrier(mproc_args *args, mproc_barrier *barrier);
/** Number of values (0 for NULL). */
MPROC_API size_t mproc_args_count(const mproc_args *args);
/** The 64-bit integer at index i.  Every getter: a wrong type or index
 * gives 0 / NULL and sets mproc_last_error() to MPROC_EINVAL; returned
 * pointers stay owned by args (in a child: until the target returns). */
MPROC_API int64_t mproc_args_i64(const mproc_args *args, size_t i);
/** The double at index i; 0 + MPROC_EINVAL as mproc_args_i64. */
MPROC_API double mproc_args_f64(const mproc_args *args, size_t i);
/** The string at index i (owned by args); NULL + MPROC_EINVAL as
 * mproc_args_i64. */
MPROC_API const char *mproc_args_str(const mproc_args *args, size_t i);
/** The bytes at index i (owned by args), their length in *len when len is
 * not NULL; NULL + MPROC_EINVAL as mproc_args_i64. */
MPROC_API const void *mproc_args_bytes(const mproc_args *args, size_t i, size_t *len);
/** The shared memory at index i (owned by args: do not free it); NULL +
 * MPROC_EINVAL as mproc_args_i64. */
MPROC_API mproc_shm *mproc_args_shm(const mproc_args *args, size_t i);
/** The connection at index i (owned by args: do not close it); NULL +
 * MPROC_EINVAL as mproc_args_i64. */
MPROC_API mproc_conn *mproc_args_conn(const mproc_args *args, size_t i);
/** The queue at index i (owned by args: do not free it); NULL +
 * MPROC_EINVAL as mproc_args_i64. */
MPROC_API mproc_queue *mproc_args_queue(const mproc_args *args, size_t i);
/** The lock at index i (owned by args: do not free it); NULL +
 * MPROC_EINVAL as mproc_args_i64. */
MPROC_API mproc_lock *mproc_args_lock(const mproc_args *args, size_t i);
/** The semaphore at index i (owned by args: do not free it); NULL +
 * MPROC_EINVAL as mproc_args_i64. */
MPROC_API mproc_sem *mproc_args_sem(const mproc_args *args, size_t i);
/** The event at index i (owned by args: do not free it); NULL +
 * MPROC_EINVAL as mproc_args_i64. */
MPROC_API mproc_event *mproc_args_event(const mproc_args *args, size_t i);
/** The condition at index i (owned by args: do not free it); NULL +
 * MPROC_EINVAL as mproc_args_i64. */
MPROC_API mproc_cond *mproc_args_cond(const mproc_args *args, size_t i);
/** The barrier at index i (owned by args: do not free it); NULL +
 * MPROC_EINVAL as mproc_args_i64. */
MPROC_API mproc_barrier *mproc_args_barrier(const mproc_args *args, size_t i);
/** Frees args (NULL is allowed), not the objects it refers to.  Never free
 * args that were given to mproc_process_new, which takes them, nor the
 * args a target receives. */
MPROC_API void mproc_args_free(mproc_args *args);

/** @} */

/* ------------------------------------------------------------------ */
/* Processes                                                           */
/* ------------------------------------------------------------------ */
/**
 * @defgroup mproc_processes Processes
 * multiprocessing.Process, connection.wait, and this process's parent and
 * CPU count.  A process object belongs to the process that made it: only
 * there may it be started, joined or asked for its exit code.
 * @{
 */

/** A child: a process (fork, spawn, forkserver) or a thread running a
 * target.  Made by mproc_process_new, freed by mproc_process_free. */
typedef struct mproc_process mproc_process;

/** A process that will run fn(args) under ctx's start method (NULL: the
 * default context).  Takes args (may be NULL) even on failure.  Errors:
 * MPROC_EINVAL (NULL fn, or MPROC_START_METHOD invalid), MPROC_ENOMEM. */
MPROC_API mproc_process *mproc_process_new(mproc_ctx *ctx, mproc_target_fn fn, mproc_args *args);
/** mproc_process_new with fn_text, the caller's text for fn (a string that
 * outlives the process, e.g. a literal), which error messages use to name
 * an unregistered target ("target 'worker' is not registered: add
 * MPROC_TARGET(worker) ...").  The mproc_process_new macro below calls it
 * with the text of fn; NULL is allowed. */
MPROC_API mproc_process *mproc_process_new_named(mproc_ctx *ctx, mproc_target_fn fn, const char *fn_text,
                                                 mproc_args *args);
#ifndef MPROC_NO_TARGET_TEXT
/** Every mproc_process_new(ctx, fn, args) passes the text of fn along, so
 * that a message can name the function (define MPROC_NO_TARGET_TEXT before
 * including mproc.h to call the function itself). */
#define mproc_process_new(ctx, fn, args) mproc_process_new_named((ctx), (fn), #fn, (args))
#endif
/** Longest process name, with its terminating NUL. */
#define MPROC_NAME_MAX 256
/** Name (copied) shown by mproc_process_name; default "Process-N".  Only
 * before start: MPROC_ESTATE after.  MPROC_EINVAL for NULL or a name of
 * MPROC_NAME_MAX bytes or more.  The child sees it in
 * mproc_current_process(), and the OS shows it, best effort, as the
 * child's name: Linux as the thread name (ps, top, /proc/PID/comm) cut
 * to 15 bytes; macOS and the BSDs as the thread name (pthread_setname_np,
 * pthread_set_name_np), the BSDs also in ps's command line
 * (setproctitle); Windows as the thread description (SetThreadDescription,
 * where the system has it, as debuggers and Process Explorer show it).
 * A thread-method child names its thread only. */
MPROC_API int mproc_process_set_name(mproc_process *p, const char *name);
/** The process's name (owned by p, valid until it is renamed or freed);
 * NULL for NULL. */
MPROC_API const char *mproc_process_name(const mproc_process *p);
/** Daemon processes are terminated, not waited for, when the parent exits
 * normally, and end within about a second of the parent's death however
 * it dies (they die with their parent: see
 * mproc_process_set_die_with_parent); they may not start children of
 * their own.  Only before start: MPROC_ESTATE after; MPROC_EINVAL for
 * NULL. */
MPROC_API int mproc_process_set_daemon(mproc_process *p, int daemon);
/** Ends the child within about a second of this process's death, however
 * this process dies (SIGKILL included), instead of leaving it running
 * (CPython's default, kept when on is 0).  Daemon children, pool workers
 * and the forkserver always die with their parent.  Only this child: its own
 * children die with it only if it asks the same for them.  Only before
 * start.  Errors: MPROC_EINVAL (p NULL), MPROC_ESTATE (already started).
 *
 * POSIX: a lifeline pipe whose write end only this process holds (it is
 * closed in every other child, forked ones included); a thread in the
 * child reads the other end and, at end of file, kills the child with
 * SIGKILL, so whoever reaps it sees -9 (as a killed forkserver child).
 * Linux adds the kernel's parent-death signal (PR_SET_PDEATHSIG) for a
 * child forked from the main thread only: it follows the thread that
 * forked, so from any other thread it would kill the child when that
 * thread ends.  Under forkserver the parent that counts is the process
 * that called mproc_process_start, not the server.  Windows: the child is
 * assigned to a job object this process creates once with
 * JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE, whose only handle it holds; where
 * the OS refuses (Windows 7 inside another job), start fails with
 * MPROC_ESYS.  Thread method: no effect (a thread ends with its process).
 * A child that cannot start its watcher exits with 255 before its target
 * runs. */
MPROC_API int mproc_process_set_die_with_parent(mproc_process *p, int on);

/*
 * Child attributes (APR's apr_procattr_*, libuv's uv_process_options_t):
 * the environment, working directory and standard streams a child gets
 * instead of its parent's.  Set on the process object before
 * mproc_process_start, each by its own small call (one call per kind of
 * stream rather than one call with a kind and arguments some kinds
 * ignore); by default a child inherits all three, as in CPython.
 *
 * Common errors: MPROC_EINVAL (p not a process, an argument out of range),
 * MPROC_ENOMEM, MPROC_ESTATE once p was started (MPROC_ESTATE too while
 * another thread starts it), MPROC_ENOTSUP for the thread method (a thread
 * shares its process's environment, directory and streams).
 *
 * Per method:
 *   spawn       the environment and streams are given to posix_spawn /
 *               CreateProcess (Windows: a sorted environment block; the
 *               streams as STARTUPINFO handles, inherited through the
 *               handle list only); the directory too where the platform
 *               can (posix_spawn_file_actions_addchdir_np, CreateProcess),
 *               else the child enters it in mproc_init before its target.
 *   forkserver  they travel in the child's start record (files and
 *               connections as handles) and the server's fork applies
 *               them (setenv/unsetenv, chdir, dup2) before the target.
 *   fork        the child applies them before its target.  The parent
 *               checks the directory and opens the files before forking; a
 *               failure left after that (a directory removed in between)
 *               is logged by the child, which exits with 255 without
 *               running its target.
 * Files are opened in the parent by mproc_process_start (a file that
 * cannot be opened fails it with MPROC_ESYS and a message naming the
 * path), so they are created in the parent's working directory when the
 * path is relative.  A directory the child cannot enter fails
 * mproc_process_start with MPROC_ESYS and a message naming it (reported
 * by the child for spawn and forkserver: nothing of the target runs).  A
 * relative directory is taken from the parent's directory (spawn, fork) or
 * the forkserver's (the parent's when the server started).
 */
/** Sets variable name to value (copied) in the child's environment, or
 * removes it from there when value is NULL; a later call for the same name
 * replaces the earlier.  name: not empty, no '='.  Windows compares names
 * without case, as its environment does. */
MPROC_API int mproc_process_setenv(mproc_process *p, const char *name, const char *value);
/** The child's working directory (copied); NULL: the parent's again.
 * MPROC_EINVAL for "". */
MPROC_API int mproc_process_set_cwd(mproc_process *p, const char *path);

/** A child's standard stream. */
typedef enum {
    MPROC_STDIN = 0,  /**< standard input (descriptor 0) */
    MPROC_STDOUT = 1, /**< standard output (descriptor 1) */
    MPROC_STDERR = 2  /**< standard error (descriptor 2) */
} mproc_stdio;
/** The child's stream which reads (MPROC_STDIN: the file must exist) or
 * writes the file at path (copied), opened by mproc_process_start.  An
 * output file is created if missing, and truncated, or with append != 0
 * written at its end (append is MPROC_EINVAL for MPROC_STDIN).  Replaces
 * any earlier setting for which. */
MPROC_API int mproc_process_set_stdio_file(mproc_process *p, mproc_stdio which, const char *path, int append);
/** The child's stream which on the null device (/dev/null, NUL): reads
 * find end of file, writes are discarded. */
MPROC_API int mproc_process_set_stdio_null(mproc_process *p, mproc_stdio which);
/** The child's stdout or stderr writes into conn, a connection end that
 * sends (from mproc_pipe); the caller keeps conn, which must stay open
 * until mproc_process_start returns (the child has its own copy then).
 * The child writes plain bytes, not messages: read them with
 * mproc_conn_read_raw on the other end, which sees end of file once the
 * child and every other holder of the sending end closed it (close this
 * process's after the start).  MPROC_EINVAL for MPROC_STDIN (messages are
 * framed: give a file) and for a receive-only end. */
MPROC_API int mproc_process_set_stdio_conn(mproc_process *p, mproc_stdio which, mproc_conn *conn);
/**
 * Starts the process.  0, or:
 *  - MPROC_EINVAL: p is NULL.
 *  - MPROC_ESTATE: already started, or called from a daemonic process or
 *    from a process that is not p's creator.
 *  - MPROC_ENOTREG: spawn/forkserver and fn is not registered with
 *    MPROC_TARGET (nothing starts), or the spawned child does not know it.
 *  - MPROC_ENOINIT: spawn/forkserver and mproc_init() has not run in this
 *    program, or this is a spawned child whose mproc_init() has not run,
 *    or the child (or the forkserver being started) exited before its
 *    mproc_init() took the bootstrap record.
 *  - MPROC_ETOOBIG: spawn/forkserver: the arguments' objects need more
 *    than 64 handles to cross into the child.
 *  - MPROC_ENOMEM: out of memory (here, in the spawned child, or in the
 *    forkserver).
 *  - MPROC_ESYS: the OS refused (fork, posix_spawn or CreateProcess, a
 *    pipe, a thread, or the forkserver's fork, e.g. EAGAIN under
 *    RLIMIT_NPROC); see mproc_last_os_error().  Also when the bootstrap
 *    record could not be sent: the child started for it is ended and
 *    reaped first, never waited for.
 *  - MPROC_EBROKEN: forkserver: the server died during the request, and
 *    so did the new server started to retry it.
 *
 * With child attributes (above): MPROC_ESYS with a message when a file for
 * a standard stream cannot be opened or the working directory cannot be
 * entered; a spawned or forkserver child that cannot apply one reports it
 * (MPROC_ESYS, MPROC_ENOMEM) and does not run its target.
 *
 * Forkserver: a server that died, or that could not fork (it keeps the
 * resource limits it was started with), is replaced by a new one, and the
 * request tried again once, before an error is returned; a server that
 * could not be started is started again by the next call.
 */
MPROC_API int mproc_process_start(mproc_process *p);
/** Waits for the process to end.  0 when it has ended (it is then reaped),
 * MPROC_ETIMEDOUT, MPROC_ESTATE before start or outside p's creator. */
MPROC_API int mproc_process_join(mproc_process *p, double timeout);
/** 1 while started and not yet ended, 0 if not (before start, or once
 * ended: the call then reaps it), a negative MPROC_E* code on error
 * (MPROC_EINVAL for NULL or a wrong object): compare with == 1. */
MPROC_API int mproc_process_is_alive(mproc_process *p);
/** Stores the exit code: the target's return value, -N if killed by signal
 * N (on Windows terminate gives -15 and kill -9).  MPROC_ESTATE before start
 * or while running.
 * Forkserver: when the server dies (killed by someone), its children's
 * status dies with it; they are killed with it and read -9.  They count as
 * running until they no longer run, and terminate/kill act on them
 * meanwhile: the first call on the process that sees its server gone
 * (join, is_alive, exitcode, terminate, kill, or the exit rule) kills it.
 * The log hook is told (MPROC_LOG_WARNING).  When this process dies, its
 * forkserver leaves within a fraction of a second; the server's children
 * live on unless they die with their parent (daemons, or
 * mproc_process_set_die_with_parent). */
MPROC_API int mproc_process_exitcode(mproc_process *p, int *code);
/** Asks the process to end: SIGTERM (TerminateProcess on Windows; the exit
 * code then reads -15).  No effect on an ended process.  0, MPROC_ENOTSUP
 * for the thread method (a thread cannot be stopped), MPROC_ESTATE before
 * start, MPROC_EINVAL.  Then join it. */
MPROC_API int mproc_process_terminate(mproc_process *p);
/** Kills the process: SIGKILL (TerminateProcess on Windows; the exit code
 * then reads -9).  Codes as mproc_process_terminate. */
MPROC_API int mproc_process_kill(mproc_process *p);
/** The OS process id once started (for the thread method: this process's);
 * 0 before start. */
MPROC_API long mproc_process_pid(const mproc_process *p);
/** Stores in *sentinel the handle that becomes ready when the process
 * ends (CPython's Process.sentinel), for an event loop: on POSIX an int
 * file descriptor that becomes readable (a pidfd, or a pipe that reaches
 * end of file; the thread method: a pipe the thread's end closes); on
 * Windows a HANDLE that becomes signalled (the process or thread handle).
 * It is owned by p: valid until mproc_process_free(p), even after a join;
 * never close it, read it or wait on it for writing.  Once it signals,
 * call mproc_process_join(p, 0) to reap the process and read its exit
 * code (it returns 0 then).  Uses:
 * - poll()/select()/epoll on POSIX: POLLIN on (int)sentinel;
 * - WaitForSingleObject / WaitForMultipleObjects on (HANDLE)sentinel;
 * - libuv: on POSIX uv_poll_init(loop, &h, (int)sentinel) then
 *   uv_poll_start(&h, UV_READABLE, cb); on Windows uv_poll takes sockets
 *   only: use RegisterWaitForSingleObject((HANDLE)sentinel) and wake the
 *   loop with uv_async_send from its callback;
 * - APR: apr_os_file_put (or apr_os_sock_put) the descriptor and add it
 *   to the pollset as APR_POLL_FILE (APR_POLL_SOCKET) with APR_POLLIN.
 * MPROC_ESTATE before start or outside p's creator, MPROC_EINVAL (p or
 * sentinel NULL). */
MPROC_API int mproc_process_sentinel(mproc_process *p, intptr_t *sentinel);
/** Releases p.  A process still running is not stopped: the library keeps
 * track of it, reaps it when it ends and applies the exit rule to it. */
MPROC_API void mproc_process_free(mproc_process *p);

/**
 * multiprocessing.active_children: the children this process started that
 * have not ended, after reaping those that ended (their exit codes are
 * then in mproc_process_exitcode).  Stores up to cap of them in out (out
 * may be NULL when cap is 0) and returns how many there are (which may
 * exceed cap), or MPROC_EINVAL (out NULL with cap > 0).
 *
 * Only process objects the caller still holds are listed: the pointers
 * stay the caller's (they are not new references; do not free them
 * twice).  A child whose object was freed while it ran (the library reaps
 * it) and a pool's workers (the pool's) are not listed.  A pointer is
 * valid only while no other thread frees that object.
 */
MPROC_API int mproc_active_children(mproc_process **out, size_t cap);

/**
 * multiprocessing.connection.wait: waits until at least one of the n objects
 * is ready or the timeout passes.  Objects are, in any mix:
 * - mproc_process pointers: ready once the process ended;
 * - mproc_conn pointers: something to receive, or end of file;
 * - mproc_queue pointers (any kind, any context): an item can be got (or
 *   the queue is broken, so a get fails at once);
 * - mproc_event pointers: the event is set (or broken).
 * Sets ready[i] to 1 or 0 when ready is not NULL.  Returns the number
 * ready (0 on timeout), MPROC_EINVAL (unknown object, n == 0 or over 64),
 * MPROC_ESTATE (a process not started, or not this process's).
 * Readiness is a hint, as in CPython: another consumer may take the item
 * (or clear the event) before the caller acts, so get with a timeout of 0
 * and expect MPROC_EEMPTY.  A list with processes and connections only is
 * one wait on their handles; one with a queue or an event is waited on in
 * slices of at most 10 ms (events and read-ahead items have no handle), so
 * a set or a put is seen within a slice.
 */
MPROC_API int mproc_wait(void *const objects[], size_t n, double timeout, int ready[]);

/** @} */

/* ------------------------------------------------------------------ */
/* Objects of any type                                                 */
/* ------------------------------------------------------------------ */
/**
 * @defgroup mproc_objects Objects of any type
 * For code that holds mproc objects without knowing their type: a layer
 * that ties them to another library's lifetimes (an APR pool, a GLib main
 * context, a C++ owner) or waits on them in another event loop.
 * include/mproc_apr.h is built on these calls alone.
 * @{
 */

/** The type of an object, as mproc_object_type tells it. */
typedef enum {
    MPROC_TYPE_NONE = 0, /**< not a live mproc object: NULL, freed, or other memory */
    MPROC_TYPE_PROCESS,  /**< mproc_process */
    MPROC_TYPE_QUEUE,    /**< mproc_queue, of any kind and context */
    MPROC_TYPE_CONN,     /**< mproc_conn */
    MPROC_TYPE_SHM,      /**< mproc_shm */
    MPROC_TYPE_LOCK,     /**< mproc_lock (Lock or RLock, any context) */
    MPROC_TYPE_SEM,      /**< mproc_sem */
    MPROC_TYPE_EVENT,    /**< mproc_event */
    MPROC_TYPE_COND,     /**< mproc_cond */
    MPROC_TYPE_BARRIER,  /**< mproc_barrier */
    MPROC_TYPE_POOL,     /**< mproc_pool */
    MPROC_TYPE_RESULT,   /**< mproc_result */
    MPROC_TYPE_ARGS      /**< mproc_args */
} mproc_type;

/** The type of object, MPROC_TYPE_NONE when it is not a live mproc object
 * (NULL, or an object already freed while its memory still holds the
 * cleared header: best effort, as every call's check).  Never fails. */
MPROC_API mproc_type mproc_object_type(const void *object);

/** Frees object with its type's own call (mproc_process_free,
 * mproc_queue_free, mproc_conn_close, mproc_shm_free, mproc_lock_free,
 * mproc_sem_free, mproc_event_free, mproc_cond_free, mproc_barrier_free,
 * mproc_pool_free, mproc_result_free, mproc_args_free), with that call's
 * semantics: a running process is not stopped, a pool is terminated and
 * joined.  In a fork child, each of them leaves what the parent uses as
 * it is: a queue, connection, shared memory or synchronization object
 * closes this process's copies of its handles; a process or a pool, which
 * belong to the parent, is only let go of (its descriptors stay open in
 * the child until it exits or execs: they are close-on-exec); memory the
 * parent's threads were using at the fork stays allocated, as in CPython.
 * An object that belongs to another one (see mproc_object_on_free) is
 * left for that one to free.  NULL or
 * an object that is not live does nothing. */
MPROC_API void mproc_object_free(void *object);

/** The hook mproc_object_on_free sets: called with the object being freed
 * and the arg given with it. */
typedef void (*mproc_free_hook)(void *object, void *arg);

/** Has hook(object, arg) called once when object is freed, by whichever
 * call frees it (its own free call or mproc_object_free), so that an owner that keeps the object in a list of
 * its own (an APR pool's cleanups) forgets it and does not free it twice.
 * The hook runs in the freeing thread while the object is being torn
 * down: it may use object only as a key (compare it, remove it from a
 * list), never call mproc on it.  In a fork child the hook is the one the
 * parent set, and runs when the child frees its copy.  A hook NULL
 * removes the one set.  Returns 0, MPROC_EINVAL (not a live object),
 * MPROC_EEXIST (a hook is already set: remove it first), MPROC_ESTATE
 * (the object belongs to another one, which frees it: args given to
 * mproc_process_new, a condition's own lock (mproc_cond_lock of a
 * condition made without one), the args a target receives and the
 * objects it gets from them in a spawn or forkserver child).  An object
 * that comes to belong to another one later (args given to
 * mproc_process_new) has its hook run then, as at a free. */
MPROC_API int mproc_object_on_free(void *object, mproc_free_hook hook, void *arg);

/** Stores in *fd a file descriptor that becomes readable when object is
 * ready as mproc_wait tells it, for a poll()/select()/epoll/kqueue loop of
 * the caller's own (APR's apr_pollset, libuv's uv_poll, GLib's GSource):
 * - a process: its sentinel, as mproc_process_sentinel (readable once it
 *   ended; then mproc_process_join(p, 0));
 * - a connection: its receiving pipe, readable when a message or end of
 *   file is there (a send-only end: MPROC_ESTATE);
 * - a process queue: its pipe, readable when an item may be got.  Other
 *   consumers may take it first: get with a timeout of 0 and expect
 *   MPROC_EEMPTY.  A queue's consumers normally read many small items
 *   with one read and keep those they did not take in the queue's shared
 *   memory, where no descriptor announces them; from this call on, every
 *   consumer of this queue, in every process, reads one item at a time,
 *   so that the pipe stays readable while an item is left (small items
 *   then cost two reads each).  Call it before the queue's first get
 *   in any process: items already read ahead by then are announced only
 *   when a get takes them.
 * The descriptor stays the object's: valid until the object is freed,
 * never to be closed, read or written; only wait on it for reading, and
 * remove it from the loop before freeing the object.  Returns 0,
 * MPROC_EINVAL (not a live object, fd NULL), MPROC_ENOTSUP for objects
 * that have no descriptor (events, locks and the other synchronization
 * objects, shared memory, pools, the thread context's queues: use
 * mproc_wait) and on systems whose pipes are not descriptors a poll
 * waits on (Windows: mproc_process_sentinel's HANDLE and mproc_wait
 * instead), MPROC_ESTATE (a process not started, or not this process's),
 * MPROC_EBROKEN (a queue already broken). */
MPROC_API int mproc_object_fd(void *object, intptr_t *fd);

/** @} */

/* ------------------------------------------------------------------ */
/* Queues (multiprocessing.Queue, SimpleQueue, JoinableQueue)          */
/* ------------------------------------------------------------------ */
/**
 * @defgroup mproc_queues Queues
 * multiprocessing.Queue, JoinableQueue and SimpleQueue: items are byte
 * strings, copied in by put and handed out in a new buffer by get.
 *
 * Join before drain deadlocks, as in CPython: a process that put items
 * waits at exit until its feeder thread has written them all into the
 * pipe, and a pipe holds only so much until someone gets from it.  Get
 * the items a child put before joining that child (or let the child call
 * mproc_queue_cancel_join_thread, losing what it had not written).
 * @{
 */

/** A pipe-backed queue for any mix of processes and threads.  maxsize 0 is
 * unbounded.  put() copies the item into a per-process buffer that a feeder
 * thread (started on first put) writes to the pipe, so put on an unbounded
 * queue never blocks.  Items are byte strings of 0 .. 512 MiB by default.
 * No torn item is ever delivered: each item is written whole under the
 * writer lock and read whole under the reader lock, and a process that
 * dies inside either breaks the queue before the lock passes on (a pipe
 * itself neither loses nor changes bytes).  So items carry no checksum of
 * their own: a portable one costs about 5 us per 64 KiB item on each side,
 * 5-20% of a 64 KiB item's time through the queue, for nothing the rule
 * above lets through.
 * Reads are batched: one read of the pipe fills a 64 KiB read-ahead in the
 * queue's shared memory (touched only as it is used), from which every
 * process of the queue takes small items under the reader lock; items over
 * 16 KiB go straight from the pipe into the item.
 * The thread context (ctx == mproc_get_context(MPROC_THREAD)) makes instead
 * a queue for the threads of this process only, as multiprocessing.dummy
 * uses queue.Queue: items are copied into memory and handed over under a
 * mutex (no pipe, no feeder, no shared lock; several times as fast).  The
 * calls below keep their meaning and codes (join_thread and
 * cancel_join_thread have nothing to wait for; nothing can break it), and
 * an item over a limit lowered after it was put is dropped by the get that
 * reaches it (MPROC_ETOOBIG; a JoinableQueue counts it done).  Such a queue
 * cannot reach another process: mproc_process_start of a fork, spawn or
 * forkserver child given it in its arguments fails with MPROC_ENOTSUP, as
 * does mproc_pool_new of a process pool given it in initargs, and a forked
 * child's copy refuses every call with MPROC_ENOTSUP.  NULL (the default
 * context) always makes the pipe-backed queue, whatever the default start
 * method.
 * Errors: NULL + MPROC_EINVAL (maxsize over 2^31-1), MPROC_ENOMEM, MPROC_ESYS. */
MPROC_API mproc_queue *mproc_queue_new(mproc_ctx *ctx, size_t maxsize);
/** A queue (as mproc_queue_new) whose items must each be confirmed with
 * mproc_queue_task_done, so that mproc_queue_join can wait for all of
 * them.  Errors as mproc_queue_new. */
MPROC_API mproc_queue *mproc_joinable_queue_new(mproc_ctx *ctx, size_t maxsize);
/** SimpleQueue: no feeder and no maxsize: put writes to the pipe itself
 * (and may block while the pipe is full).  Nothing to flush at exit.
 * Errors as mproc_queue_new. */
MPROC_API mproc_queue *mproc_simple_queue_new(mproc_ctx *ctx);
/** Puts a copy of data.  0, MPROC_EFULL (bounded queue still full after
 * timeout), MPROC_ETOOBIG (over the item limit), MPROC_ESTATE (closed),
 * MPROC_EBROKEN (a process died holding the queue's reader, writer or task
 * lock: the queue is unusable for everyone).  A put waiting for room on a
 * bounded queue, and a feeder waiting for room in the pipe (the exit flush
 * too), end with MPROC_EBROKEN within about a second of such a death.  The death is seen at once where the OS has
 * robust or abandoned mutexes (Linux, FreeBSD, Windows), else within about
 * 0.1 s of the dead holder's pid disappearing (macOS, OpenBSD). */
MPROC_API int mproc_queue_put(mproc_queue *queue, const void *data, size_t len, double timeout);
/** Removes the oldest item into a new buffer (free with mproc_free).  0,
 * MPROC_EEMPTY (none within timeout), MPROC_EBROKEN, MPROC_ESTATE.  Items
 * written before a producer died holding the writer lock (mid-item or
 * between two) are still got; after them, a waiting get returns
 * MPROC_EBROKEN within about a second instead of waiting for ever. */
MPROC_API int mproc_queue_get(mproc_queue *queue, void **data, size_t *len, double timeout);
/** mproc_queue_put with timeout 0: MPROC_EFULL at once when a bounded
 * queue is full. */
MPROC_API int mproc_queue_put_nowait(mproc_queue *queue, const void *data, size_t len);
/** mproc_queue_get with timeout 0: MPROC_EEMPTY at once when no item is
 * ready.  An item another process has just put may still be in its
 * feeder, not yet in the pipe: not ready yet (as in CPython). */
MPROC_API int mproc_queue_get_nowait(mproc_queue *queue, void **data, size_t *len);
/** Items put and not yet got, across all processes (approximate while
 * others put and get); works on every OS.  Items a killed producer had put
 * but its feeder had not yet written are lost and still counted (and
 * still hold their slots of a bounded queue) unless the death broke the
 * queue; once broken, *n is 0 (nothing can be got any more) and the call
 * returns MPROC_EBROKEN. */
MPROC_API int mproc_queue_qsize(mproc_queue *queue, size_t *n);
/** 1 if the queue holds no item (by mproc_queue_qsize: approximate while
 * others put and get), 0 if not, a negative MPROC_E* code on error
 * (MPROC_EINVAL for NULL or a wrong object, MPROC_EBROKEN): compare with
 * == 1. */
MPROC_API int mproc_queue_empty(mproc_queue *queue);
/** 1 if a bounded queue holds maxsize items (never for an unbounded one),
 * 0 if not, a negative MPROC_E* code on error (MPROC_EINVAL for NULL or a
 * wrong object, MPROC_EBROKEN): compare with == 1. */
MPROC_API int mproc_queue_full(mproc_queue *queue);
/** The largest item this process puts or accepts (at most 4 GiB - 1;
 * 512 MiB by default): 0, or MPROC_EINVAL for NULL or a larger max.  Larger
 * puts fail with MPROC_ETOOBIG; a larger item met by get breaks the queue
 * (thread context: that item is dropped, see mproc_queue_new). */
MPROC_API int mproc_queue_set_max_message(mproc_queue *queue, size_t max);
/** Joinable queues: one task_done per item got (MPROC_ESTATE when called
 * more often than items were put); join waits until all are done.
 * MPROC_EINVAL on other queues; MPROC_EBROKEN once the queue is broken
 * (join returns it when the queue breaks while it waits).  Neither waits
 * for a process that died: task_done does not wait for a killed joiner. */
MPROC_API int mproc_queue_task_done(mproc_queue *queue);
/** Joinable queues: waits, with no timeout, until every item put has been
 * marked done with mproc_queue_task_done.  0, MPROC_EINVAL (not a joinable
 * queue), MPROC_EBROKEN (see mproc_queue_task_done). */
MPROC_API int mproc_queue_join(mproc_queue *queue);
/** mproc_queue_join with a timeout: 0 once every item put has been
 * task_done'd, MPROC_ETIMEDOUT when some are still not done when timeout
 * passes (< 0: waits for ever, as mproc_queue_join; 0: does not wait).
 * MPROC_EINVAL on a queue that is not joinable; MPROC_EBROKEN once the
 * queue is broken.  Use it where a consumer may die: one killed, or that
 * returned, between its get and its task_done leaves that item undone for
 * ever, and mproc_queue_join would wait for ever. */
MPROC_API int mproc_queue_join_timeout(mproc_queue *queue, double timeout);
/** No more put or get from this process; the feeder flushes then exits. */
MPROC_API void mproc_queue_close(mproc_queue *queue);
/** After close: waits until the feeder wrote everything (MPROC_ESTATE
 * before close).  A process flushes its queues this way when it exits. */
MPROC_API int mproc_queue_join_thread(mproc_queue *queue);
/** Exit (and free) without waiting for the feeder: buffered items may be
 * lost, as with CPython's cancel_join_thread. */
MPROC_API void mproc_queue_cancel_join_thread(mproc_queue *queue);
/** Closes, flushes (unless cancelled) and releases this process's handle. */
MPROC_API void mproc_queue_free(mproc_queue *queue);

/** @} */

/* ------------------------------------------------------------------ */
/* Pipes (multiprocessing.Pipe)                                        */
/* ------------------------------------------------------------------ */
/**
 * @defgroup mproc_pipes Pipes
 * multiprocessing.Pipe and its Connection's send_bytes, recv_bytes, poll
 * and close; mproc_wait waits on several ends (and processes) at once.
 * A peer's close is seen only once every copy of its end is closed: a
 * fork child holds copies of the parent's ends (close the ones it does
 * not use).
 * @{
 */

/** Two connected ends.  duplex: both send and receive (two pipes, one each
 * way); otherwise *a only receives and *b only sends (CPython's order).
 * Messages are framed: 0 bytes up to the maximum (512 MiB by default).
 * Errors: MPROC_EINVAL, MPROC_ENOMEM, MPROC_ESYS. */
MPROC_API int mproc_pipe(mproc_ctx *ctx, int duplex, mproc_conn **a, mproc_conn **b);
/** Sends one message (copied; blocks while the pipe is full).  MPROC_ETOOBIG
 * over the maximum (nothing sent), MPROC_ECLOSED when the peer is gone,
 * MPROC_ESTATE on a receive-only end. */
MPROC_API int mproc_conn_send(mproc_conn *conn, const void *data, size_t len);
/** Receives one message into a new buffer (free with mproc_free).  0,
 * MPROC_ETIMEDOUT (a message half received is kept for the next call),
 * MPROC_ECLOSED when the peer closed, MPROC_EBROKEN for a malformed frame
 * (the connection stays broken), MPROC_ETOOBIG for a header announcing more
 * than the maximum (also breaking it), MPROC_ESTATE on a send-only end.
 * One receiving process per end, as in CPython: a timed receive waits for
 * the end to be readable, then reads, so if another process reading the
 * same end takes the message in between, the read waits for the next one
 * past the timeout. */
MPROC_API int mproc_conn_recv(mproc_conn *conn, void **data, size_t *len, double timeout);
/** Reads plain bytes, not a message: what a child wrote to a standard
 * stream given with mproc_process_set_stdio_conn.  Waits up to timeout for
 * the first byte, then takes what else is there, up to cap; *got is the
 * count.  0, MPROC_ETIMEDOUT, MPROC_ECLOSED at end of file, MPROC_ESTATE on
 * a send-only end or while a message is half received, MPROC_EINVAL (buf
 * or got NULL, cap 0). */
MPROC_API int mproc_conn_read_raw(mproc_conn *conn, void *buf, size_t cap, size_t *got, double timeout);
/** 1 when something can be received (or the peer closed) within timeout,
 * 0 if not, a negative MPROC_E* code on error (MPROC_EINVAL for NULL or a
 * wrong object, MPROC_ESTATE on a send-only end): compare with == 1. */
MPROC_API int mproc_conn_poll(mproc_conn *conn, double timeout);
/** The largest message this end sends or accepts (at most 4 GiB - 1;
 * 512 MiB by default): 0, or MPROC_EINVAL for NULL or a larger max. */
MPROC_API int mproc_conn_set_max_message(mproc_conn *conn, size_t max);
/** Closes and releases this end (NULL is allowed).  Not for an end a target
 * received in its arguments, which the library owns. */
MPROC_API void mproc_conn_close(mproc_conn *conn);

/** @} */

/* ------------------------------------------------------------------ */
/* Shared memory (multiprocessing.shared_memory, Value, Array)         */
/* ------------------------------------------------------------------ */
/**
 * @defgroup mproc_shared_memory Shared memory
 * multiprocessing.shared_memory, Value and Array: one zero-filled block,
 * laid out by the program (a struct, an array).  Nothing guards it: use a
 * Lock for data several processes update.
 * @{
 */

/** A zero-filled block of size bytes shared with every process it is given
 * to (mapped at a possibly different address in each).  Anonymous: nothing
 * is left in /dev/shm or elsewhere once the last holder exits, even when
 * killed.  NULL + MPROC_EINVAL (size 0 or over 1 TiB), MPROC_ESYS. */
MPROC_API mproc_shm *mproc_shm_new(mproc_ctx *ctx, size_t size);
/** This process's address of the block (page-aligned, valid until
 * mproc_shm_free); NULL for NULL. */
MPROC_API void *mproc_shm_ptr(mproc_shm *shm);
/** The block's size in bytes, as given to mproc_shm_new; 0 for NULL. */
MPROC_API size_t mproc_shm_size(const mproc_shm *shm);
/** Unmaps and releases this process's handle (others keep theirs; NULL is
 * allowed).  Not for a block a target received in its arguments. */
MPROC_API void mproc_shm_free(mproc_shm *shm);

/** @} */

/* ------------------------------------------------------------------ */
/* Synchronisation: Lock RLock Semaphore BoundedSemaphore Event       */
/* Condition Barrier (multiprocessing.synchronize)                    */
/* ------------------------------------------------------------------ */
/**
 * @defgroup mproc_sync Synchronisation
 * Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier
 * (multiprocessing.synchronize).
 *
 * Each works across every process it is passed to and between threads.
 * Constructors return NULL + MPROC_ENOMEM / MPROC_ESYS.
 * Except the thread context's Lock and RLock (ctx ==
 * mproc_get_context(MPROC_THREAD)), as multiprocessing.dummy uses
 * threading's: a lock for the threads of this process only, with no shared
 * memory (an atomic flag, and a mutex only for threads that wait; about
 * twice as fast), and the same semantics otherwise.  Like the thread
 * context's queues (mproc_queue_new) it cannot reach another process: a
 * child process given it (or a Condition made over it) fails to start with
 * MPROC_ENOTSUP, and a forked child's copy refuses acquire and release
 * with MPROC_ENOTSUP.  The other objects of the thread context, and the
 * RLock a Condition makes for itself, are the shared ones.
 *
 * Each *_free call releases this process's handle (NULL is allowed); the
 * object lives on in the processes that still hold it.  Not for an object
 * a target received in its arguments.
 * @{
 */

/** Lock: not recursive; any thread or process may release it (CPython). */
MPROC_API mproc_lock *mproc_lock_new(mproc_ctx *ctx);
/** RLock: the holding thread may re-acquire; only it may release. */
MPROC_API mproc_lock *mproc_rlock_new(mproc_ctx *ctx);
/** 0 once held, MPROC_ETIMEDOUT, or MPROC_EBROKEN: the holder died holding
 * it (a waiter finds out within about a second).  Then the caller HOLDS
 * the lock, as after POSIX's EOWNERDEAD: what it guarded may be half
 * updated; the caller repairs it and releases the lock, which then works
 * as before.  Only one waiter is told.  Unlike CPython's, a Lock or RLock
 * never hangs its waiters for ever on a dead holder.  Limits: a holder
 * killed in the few instructions between taking the lock and recording
 * its pid is not found, and a pid reused by a new process hides the
 * death until that process ends. */
MPROC_API int mproc_lock_acquire(mproc_lock *lock, double timeout);
/** Releases the lock (an RLock: one level of it).  0, MPROC_ESTATE if not
 * locked (RLock: not held by this thread), MPROC_EINVAL. */
MPROC_API int mproc_lock_release(mproc_lock *lock);
/** Releases this process's handle on a Lock or RLock. */
MPROC_API void mproc_lock_free(mproc_lock *lock);

/** Semaphore(value): value units to acquire.  NULL + MPROC_EINVAL when
 * value exceeds the OS's semaphore maximum. */
MPROC_API mproc_sem *mproc_sem_new(mproc_ctx *ctx, unsigned value);
/** BoundedSemaphore(value): a semaphore whose release refuses to go above
 * value (MPROC_ESTATE).  Errors as mproc_sem_new. */
MPROC_API mproc_sem *mproc_bounded_sem_new(mproc_ctx *ctx, unsigned value);
/** Takes one unit, waiting up to timeout for one.  0, MPROC_ETIMEDOUT,
 * MPROC_EINVAL.  A semaphore has no owner (CPython's semantics): a unit
 * taken by a process that then died is lost. */
MPROC_API int mproc_sem_acquire(mproc_sem *sem, double timeout);
/** Gives one unit back (any thread or process may).  0, MPROC_ESTATE when
 * a bounded semaphore would exceed its initial value, MPROC_EINVAL. */
MPROC_API int mproc_sem_release(mproc_sem *sem);
/** Releases this process's handle on a semaphore. */
MPROC_API void mproc_sem_free(mproc_sem *sem);

/** Event: a flag processes wait for.  set, clear, is_set and wait return
 * MPROC_EBROKEN once a process died inside one of them holding the
 * event's internal lock; a waiter killed while waiting breaks nothing
 * (set does not wait for it).  A new event is clear. */
MPROC_API mproc_event *mproc_event_new(mproc_ctx *ctx);
/** Sets the flag and wakes every waiter.  0, MPROC_EBROKEN, MPROC_EINVAL. */
MPROC_API int mproc_event_set(mproc_event *event);
/** Clears the flag.  0, MPROC_EBROKEN, MPROC_EINVAL. */
MPROC_API int mproc_event_clear(mproc_event *event);
/** 1 if the flag is set, 0 if not, a negative MPROC_E* code on error
 * (MPROC_EINVAL for NULL or a wrong object, MPROC_EBROKEN): compare with
 * == 1. */
MPROC_API int mproc_event_is_set(mproc_event *event);
/** Waits until the flag is set.  0 once set (at once if it is),
 * MPROC_ETIMEDOUT, MPROC_EBROKEN, MPROC_EINVAL. */
MPROC_API int mproc_event_wait(mproc_event *event, double timeout);
/** Releases this process's handle on an event. */
MPROC_API void mproc_event_free(mproc_event *event);

/** Condition over lock (Lock or RLock; NULL: a new RLock it owns, reachable
 * with mproc_cond_lock).  The caller keeps owning a lock it passed, and
 * must keep it alive as long as the condition. */
MPROC_API mproc_cond *mproc_cond_new(mproc_ctx *ctx, mproc_lock *lock);
/** The condition's lock (the one given to mproc_cond_new, or its own
 * RLock): acquire it before waiting or notifying.  Owned by the condition
 * or the caller, never to be freed through this.  NULL for NULL. */
MPROC_API mproc_lock *mproc_cond_lock(mproc_cond *cond);
/** With the lock held by this thread: releases it, waits for a notify or the
 * timeout, re-acquires it.  0 when notified, MPROC_ETIMEDOUT, MPROC_ESTATE
 * when the lock is not held, MPROC_EBROKEN when the lock came back from a
 * holder that died meanwhile (held again all the same, as with
 * mproc_lock_acquire). */
MPROC_API int mproc_cond_wait(mproc_cond *cond, double timeout);
/** With the lock held: wakes up to n waiters.  0, MPROC_ESTATE when the
 * lock is not held, MPROC_EINVAL.  Waits for the woken to wake, but not
 * for a waiter that was killed: such a one is found within about a second
 * and the count repaired. */
MPROC_API int mproc_cond_notify(mproc_cond *cond, unsigned n);
/** With the lock held: wakes every waiter.  Codes as mproc_cond_notify. */
MPROC_API int mproc_cond_notify_all(mproc_cond *cond);
/** Releases this process's handle on a condition, and on the RLock it
 * made for itself (not on a lock the caller gave it). */
MPROC_API void mproc_cond_free(mproc_cond *cond);

/** Barrier for parties waiters.  NULL + MPROC_EINVAL when parties is 0. */
MPROC_API mproc_barrier *mproc_barrier_new(mproc_ctx *ctx, unsigned parties);
/** The arrival index 0..parties-1 once all arrived; MPROC_ETIMEDOUT for the
 * waiter whose timeout passed (the barrier breaks), MPROC_EBROKEN for the
 * others and for waits on a broken barrier until reset.  A party that dies
 * inside the barrier (or holding its internal lock) breaks it: the others
 * get MPROC_EBROKEN within about a second, well before their timeout.  A
 * party that dies before arriving cannot be told from a late one: the
 * others wait for their timeout. */
MPROC_API int mproc_barrier_wait(mproc_barrier *barrier, double timeout);
/** Breaks the barrier: waiters get MPROC_EBROKEN, and so do later waits
 * until mproc_barrier_reset.  0, MPROC_EBROKEN (a process died holding
 * the barrier's internal lock), MPROC_EINVAL. */
MPROC_API int mproc_barrier_abort(mproc_barrier *barrier);
/** Back to empty and unbroken; current waiters get MPROC_EBROKEN.  Codes
 * as mproc_barrier_abort. */
MPROC_API int mproc_barrier_reset(mproc_barrier *barrier);
/** Releases this process's handle on a barrier. */
MPROC_API void mproc_barrier_free(mproc_barrier *barrier);

/** @} */

/* ------------------------------------------------------------------ */
/* Pools (multiprocessing.Pool, concurrent.futures, multiprocessing.dummy) */
/* ------------------------------------------------------------------ */
/**
 * @defgroup mproc_pools Pools
 * multiprocessing.Pool, concurrent.futures' executors and
 * multiprocessing.dummy.Pool: workers that run registered tasks, with
 * map, imap / imap_unordered and apply_async, a status per item, and a
 * worker that dies failing only its own item.
 * @{
 */

/**
 * A pool runs registered *tasks* in worker processes (or threads, with
 * mproc_get_context(MPROC_THREAD)): a task reads one input byte string and
 * writes one result.  Each worker has its own private channel to the pool
 * (no shared task queue, so no lock a dying worker can take with it) and a
 * small window of tasks in flight.  When a worker dies, the one task it was
 * running fails with MPROC_EBROKEN (or runs again, see max_retries), the
 * tasks queued behind it go to other workers, the worker is replaced and
 * the pool goes on.  A dispatcher thread of the pool does all of this; the
 * calling threads only hand it work and wait for results.  Every pool
 * function may be called from any thread.
 */
typedef struct mproc_pool mproc_pool;
/** Where a task writes its result (mproc_out_write); valid during the
 * task's call only. */
typedef struct mproc_out mproc_out;
/** Appends len bytes to the task's result.  MPROC_ETOOBIG when the result
 * would exceed the pool's max_message (nothing appended; the item then
 * fails with MPROC_ETOOBIG whatever the task returns), MPROC_ENOMEM,
 * MPROC_EINVAL. */
MPROC_API int mproc_out_write(mproc_out *out, const void *data, size_t len);
/** A task: in/len is the input (valid during the call only); returns 0, or
 * its own nonzero code (the item then fails with MPROC_ETASK and that code;
 * what it wrote is dropped). */
typedef int (*mproc_task_fn)(const void *in, size_t len, mproc_out *out);

/** Registers fn under name so spawn and forkserver workers (a fresh copy of
 * the program) can find it; MPROC_TASK(fn) does this before main.  Errors as
 * mproc_register_target. */
MPROC_API int mproc_register_task(const char *name, mproc_task_fn fn);

/**
 * @def MPROC_TASK(fn)
 * MPROC_TASK(fn); at file scope after fn's definition: registers fn under
 * its own name.  Under spawn and forkserver an unregistered task (or one of
 * two registered under one name) fails with MPROC_ENOTREG before anything
 * runs; fork and thread pools also run unregistered tasks.  The same
 * compilers as MPROC_TARGET; elsewhere call mproc_register_task.
 */
#if defined(_MSC_VER)
#define MPROC__MSVC_TASK(fn, ptr)                                                   \
    static void mproc__register_##fn(void) { (void)mproc_register_task(#fn, fn); } \
    __declspec(allocate(".CRT$XCU")) void (*const ptr)(void) = mproc__register_##fn; \
    __pragma(comment(linker, "/include:" MPROC__SYMBOL_PREFIX MPROC__STRING(ptr)))  \
    extern int mproc__target_registry_anchor
#define MPROC__MSVC_TASK2(fn, line, n) MPROC__MSVC_TASK(fn, mproc__ctor_##fn##_##line##_##n)
#define MPROC__MSVC_TASK1(fn, line, n) MPROC__MSVC_TASK2(fn, line, n)
#define MPROC_TASK(fn) MPROC__MSVC_TASK1(fn, __LINE__, __COUNTER__)
#elif defined(__GNUC__) || defined(__clang__)
#define MPROC_TASK(fn)                                                                \
    static void mproc__register_##fn(void) __attribute__((constructor));             \
    static void mproc__register_##fn(void) { (void)mproc_register_task(#fn, fn); }   \
    extern int mproc__target_registry_anchor
#else
#error "MPROC_TASK needs constructor support; call mproc_register_task() instead"
#endif

/** What became of one item. */
typedef struct {
    int status;   /**< 0; MPROC_ETASK (the task returned nonzero); MPROC_EBROKEN (its worker died);
                     MPROC_ETIMEDOUT (ran past task_timeout, worker killed); MPROC_ECLOSED (pool
                     terminated first); MPROC_ETOOBIG (input or result over max_message);
                     MPROC_ENOTREG (the task is not registered) */
    int code;     /**< ETASK: the task's return value; EBROKEN: the worker's exit code, -N for signal N */
    long pid;     /**< the worker that ran it last (0 if none) */
    int attempts; /**< how many times it was started */
} mproc_task_status;

/** Options of mproc_pool_new.  Zero-initialised = CPython's defaults, no
 * timeout, no retries. */
typedef struct {
    mproc_target_fn initializer;  /**< run once in each new worker; nonzero return: that worker exits
                                     and its tasks go to others; when no new worker gets past it
                                     the pending tasks fail with MPROC_EBROKEN (no restart loop) */
    mproc_args *initargs;         /**< copied for each worker; the caller keeps it */
    int maxtasksperchild;         /**< 0: unlimited; else a worker is replaced after this many items */
    double task_timeout;          /**< seconds; <= 0: none.  An item running longer is killed with its
                                     worker (a thread pool cannot kill a thread: the item fails and
                                     its result is dropped, the thread is replaced) */
    int max_retries;              /**< re-run an item whose worker died up to this many times; 0: fail it */
    size_t max_message;           /**< largest input or result; 0: 64 MiB */
    void (*progress)(size_t done, size_t total, void *ud); /**< per map/imap call, in the caller's
                                     thread; total 0 when unknown (imap) */
    void *progress_ud;            /**< the ud progress is called with */
} mproc_pool_opts;                /* zero-initialised = CPython's defaults, no timeout, no retries */

/** A pool of workers started with ctx's method (NULL: the default context);
 * workers 0: mproc_cpu_count() (at most 31 for a process pool, whose
 * limit it is).  opts NULL: defaults.  Workers start now.
 * NULL on error: MPROC_EINVAL (workers < 0 or, for processes, over 31, an
 * option out of range),
 * MPROC_ENOTREG (an initializer not registered, spawn/forkserver),
 * MPROC_ENOINIT, MPROC_ENOMEM, MPROC_ESYS. */
MPROC_API mproc_pool *mproc_pool_new(mproc_ctx *ctx, int workers, const mproc_pool_opts *opts);

/** n fixed-size records in -> n fixed-size results out, in order (a result
 * shorter than out_size is zero-padded; a longer one fails that item with
 * MPROC_ETOOBIG).  chunksize 0: CPython's ceil(n / (4 * workers)).  status:
 * n entries filled in, or NULL.  Returns 0 when every item succeeded, else
 * the status of the first failed item (every item still runs);
 * MPROC_EINVAL, MPROC_ENOTREG (nothing ran), MPROC_ECLOSED (pool closed).
 * out is written only for items that succeeded (the rest are zeroed). */
MPROC_API int mproc_pool_map(mproc_pool *pool, mproc_task_fn fn, const void *in, size_t n, size_t in_size,
                             void *out, size_t out_size, size_t chunksize, mproc_task_status *status);

/** imap's input: stores the next item in *data and *len and returns 1 (the
 * item stays valid until the next call), returns 0 at the end, or < 0 to
 * stop with that error.  ud is imap's in_ud. */
typedef int (*mproc_input_fn)(void *ud, const void **data, size_t *len);
/** imap's output: item index (0-based, in input order) ended with st; its
 * result is data/len (valid during the call only; NULL/0 when it failed).
 * ud is imap's out_ud. */
typedef void (*mproc_result_fn)(void *ud, size_t index, const mproc_task_status *st, const void *data, size_t len);
/** Variable-length inputs pulled lazily by next (at most a bounded window in
 * flight, so input of any length runs in bounded memory) and results handed
 * to on_result in input order (ordered != 0: imap) or as they complete
 * (imap_unordered).  next returns 1 with an item (valid until its next
 * call), 0 at the end, < 0 to stop: items already sent still complete and
 * are delivered, then imap returns that value.  Callbacks run in the
 * caller's thread; data is valid during on_result only.  chunksize 0: 1.
 * Returns 0, or the status of the first failed item (all still delivered),
 * or MPROC_EINVAL / MPROC_ENOTREG / MPROC_ECLOSED as map. */
MPROC_API int mproc_pool_imap(mproc_pool *pool, mproc_task_fn fn, mproc_input_fn next, void *in_ud,
                              mproc_result_fn on_result, void *out_ud, size_t chunksize, int ordered);

/** The pending result of mproc_pool_apply_async (an AsyncResult), freed
 * with mproc_result_free. */
typedef struct mproc_result mproc_result;
/** One task run asynchronously (apply_async); in is copied.  NULL on error
 * (MPROC_EINVAL, MPROC_ENOTREG, MPROC_ECLOSED after close, MPROC_ENOMEM). */
MPROC_API mproc_result *mproc_pool_apply_async(mproc_pool *pool, mproc_task_fn fn, const void *in, size_t len);
/** 0 once the task is done (whether it succeeded or not), MPROC_ETIMEDOUT
 * before, MPROC_EINVAL. */
MPROC_API int mproc_result_wait(mproc_result *r, double timeout);
/** 1 when the task is done, 0 if not yet, a negative MPROC_E* code on
 * error (MPROC_EINVAL for NULL or a wrong object): compare with == 1. */
MPROC_API int mproc_result_ready(mproc_result *r);
/** Waits as mproc_result_wait, then hands over the result (*data: free with
 * mproc_free; NULL when empty or failed) and its status (st may be NULL).
 * data and len may both be NULL to read the status only.  Returns 0,
 * MPROC_ETIMEDOUT (nothing handed over), the task's status, or
 * MPROC_EINVAL.  A second get after success hands over nothing.
 * MPROC_ETIMEDOUT is also the status of a task that ran past
 * task_timeout: st is filled in only once the task is done, and
 * mproc_result_ready(r) == 1 then, which tells the two apart. */
MPROC_API int mproc_result_get(mproc_result *r, void **data, size_t *len, double timeout, mproc_task_status *st);
/** Releases r; the task still runs if it has not (its result is dropped). */
MPROC_API void mproc_result_free(mproc_result *r);

/** No new work (map, imap and apply_async then fail with MPROC_ECLOSED);
 * queued tasks still run.  0 or MPROC_EINVAL. */
MPROC_API int mproc_pool_close(mproc_pool *pool);
/** Stops now: workers are killed, unfinished tasks end with MPROC_ECLOSED,
 * calls waiting on them return.  0 or MPROC_EINVAL. */
MPROC_API int mproc_pool_terminate(mproc_pool *pool);
/** After close or terminate: waits until every task is done (close) and
 * every worker has ended and been reaped.  0, MPROC_ETIMEDOUT, MPROC_ESTATE
 * (neither close nor terminate called), MPROC_EINVAL. */
MPROC_API int mproc_pool_join(mproc_pool *pool, double timeout);
/** Terminates the pool if it still runs, joins it, and releases it.  A
 * thread pool's worker abandoned for task_timeout is joined here: free
 * waits for its task to return. */
MPROC_API void mproc_pool_free(mproc_pool *pool);

/** @} */

/** @addtogroup mproc_processes
 * @{ */

/** This process as mproc sees it (multiprocessing.current_process()). */
typedef struct mproc_process_info {
    /** "MainProcess" in a process mproc did not start; else the name its
     * parent gave it (mproc_process_set_name or "Process-N"). */
    char name[MPROC_NAME_MAX];
    long pid;        /**< this process's pid (a thread child's process's) */
    long parent_pid; /**< as mproc_parent_pid() */
    int daemon;      /**< 1 for a daemonic child */
    /** How it was started; 0 for a process mproc did not start. */
    mproc_method method;
} mproc_process_info;

/** Fills *info with the calling process's identity.  In a thread-method
 * child's thread (and only there) it is that child's: its name, daemon
 * flag and MPROC_THREAD; other threads see their process's.  0, or
 * MPROC_EINVAL for NULL. */
MPROC_API int mproc_current_process(mproc_process_info *info);

/** The pid of the process that started this one: under forkserver the
 * process that asked for it (not the forkserver, the OS parent); in a
 * thread-method child's thread this process's own pid; otherwise the OS
 * parent (on POSIX 1 or a subreaper once the parent has died; on Windows
 * the creator's pid, which may be reused after its exit).  0 when unknown. */
MPROC_API long mproc_parent_pid(void);
/** The number of CPUs this process may use (os.process_cpu_count(), and
 * the cgroup CPU quota): the CPUs of the caller's affinity mask (Linux
 * sched_getaffinity, FreeBSD cpuset_getaffinity, Windows the process
 * affinity mask; all online CPUs elsewhere), lowered to ceil(quota /
 * period) under a Linux cgroup v2 cpu.max or v1 cpu.cfs_quota_us limit
 * (of the process's cgroup or an ancestor, under /sys/fs/cgroup).  At
 * least 1.  The environment variable MPROC_CPU_COUNT, a decimal integer
 * from 1 to 1048576, overrides it; any other value is ignored.  A pool
 * created with workers 0 starts this many (processes: at most 31). */
MPROC_API int mproc_cpu_count(void);

/** @} */

#ifdef __cplusplus
}
#endif
#endif /* MPROC_H */
