/*
 * Declarations shared by the files of core/ (and called back by platforms).
 * Not part of the public API.
 */
#ifndef MPROC_INTERNAL_H
#define MPROC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "mproc.h"
#include "object.h"
#include "platform.h"

/* ---- errors (core/error.c) and logging (core/log.c) ------------------- */

/* The longest detail kept for mproc_last_error_message and a log line. */
#define MPROC__DETAIL_MAX 512
/* Sets this thread's last error to code (with no detail) and returns it. */
int mproc__error(int code);
/* Same, keeping detail (truncated) for mproc_last_error_message. */
int mproc__error_detail(int code, const char *detail);
/* Passes on code from an inner call: as mproc__error, but a detail that
 * call gave the same code is kept (one given in an earlier public call,
 * before the latest object check, is not: core/object.h). */
int mproc__raise(int code);
/* Sets code with the formatted detail, prefixed by the code's sentence,
 * and sends that line to the log hook at ERROR level. */
int mproc__errorf(int code, const char *fmt, ...);
/* Keeps os_error for mproc_last_os_error() and returns MPROC_ESYS. */
int mproc__sys_error(long os_error);
/* Sets the last error and returns NULL, for pointer-returning calls; the
 * second passes on an inner call's code as mproc__raise does. */
void *mproc__null(int code);
void *mproc__raise_null(int code);
void mproc__log(int level, const char *fmt, ...);
/* Around a region that holds a library lock: messages logged meanwhile by
 * this thread are kept and given to the log hook at the matching release,
 * so that the hook never runs with a library lock held (it may call the
 * library).  Nests. */
void mproc__log_hold(void);
void mproc__log_release(void);

/* ---- fault injection for tests (core/fault.c) -------------------------- */

enum { MPROC__FAULT_BOOTSTRAP_SEND = 0, MPROC__FAULT_FEEDER_START, MPROC__FAULT_COUNT };
/* Makes the next n passes through point fail (tests only). */
void mproc__fault_arm(int point, int n);
/* 1 when this pass through point must fail (and counts it down). */
int mproc__fault_hit(int point);

/* ---- timeouts (core/timeout.c) ---------------------------------------- */

/* Beyond this many seconds a timeout means forever. */
#define MPROC__TIMEOUT_FOREVER 1e9
/* Normalises a timeout given to a public call: NaN is MPROC_EINVAL (with a
 * message); < 0, -inf, +inf and anything over MPROC__TIMEOUT_FOREVER
 * become -1 (forever); the rest (0, denormals included) stays.  Every
 * public call that blocks runs its timeout through this first. */
int mproc__timeout(double *timeout);
/* Takes a unit of semaphore s within timeout (< 0: for ever) while
 * watching for a peer that died: the first try does not wait, and after
 * each empty slice of MPROC__LIVENESS_SLICE seconds look(ud) may end the
 * wait with a nonzero result (MPROC_EBROKEN).  0, MPROC_ETIMEDOUT, look's
 * result, or the semaphore's error (core/timeout.c). */
int mproc__psem_acquire_watching(mproc__psync *s, double timeout, int (*look)(void *ud), void *ud);

/* ---- growable byte buffer and bounds-checked reader (core/buf.c) ------- */

typedef struct {
    unsigned char *data;
    size_t len, cap;
    int failed; /* an allocation failed: contents are incomplete */
} mproc__buf;

/* Makes room for n more bytes: 0, or MPROC_ENOMEM with b unchanged. */
int mproc__buf_reserve(mproc__buf *b, size_t n);
void mproc__buf_u8(mproc__buf *b, uint8_t v);
void mproc__buf_u32(mproc__buf *b, uint32_t v);
void mproc__buf_u64(mproc__buf *b, uint64_t v);
void mproc__buf_bytes(mproc__buf *b, const void *p, size_t n);
/* u32 length then the bytes; NULL is written as an empty string. */
void mproc__buf_str(mproc__buf *b, const char *s);
void mproc__buf_free(mproc__buf *b);

typedef struct {
    const unsigned char *p;
    size_t len, pos;
    int bad; /* a read went past the end or a field was malformed */
} mproc__reader;

uint8_t mproc__rd_u8(mproc__reader *r);
uint32_t mproc__rd_u32(mproc__reader *r);
uint64_t mproc__rd_u64(mproc__reader *r);
/* A pointer into the record, n bytes long, or NULL (and r->bad). */
const void *mproc__rd_bytes(mproc__reader *r, size_t n);
/* A string written by mproc__buf_str, copied and NUL-terminated; NULL when
 * bad or out of memory.  Strings containing NUL are malformed. */
char *mproc__rd_str(mproc__reader *r, size_t max);

/* ---- framing on byte channels (core/frame.c) -------------------------- */

/* A frame: u32 little-endian length, then the payload. */
int mproc__frame_write(mproc__handle h, const void *data, size_t len);
/* Reads one frame into a new buffer (free with free()).  MPROC_ECLOSED at a
 * clean EOF, MPROC_ETOOBIG when the header announces more than max. */
int mproc__frame_read(mproc__handle h, void **data, size_t *len, size_t max);

/* Message frames, shared by connections and queues: an 8-byte header
 * [u32 length][u16 magic][u16 check of length and magic], then the payload.
 * The check makes garbage detectable before anything is allocated. */
#define MPROC__MSG_HDR 8
#define MPROC__MSG_MAGIC 0x464du /* "MF" */
#define MPROC__MSG_DEFAULT_MAX ((size_t)512 << 20)
void mproc__msg_header(unsigned char hdr[MPROC__MSG_HDR], size_t len);
/* 0 and *len, MPROC_EBROKEN (malformed), MPROC_ETOOBIG (over max). */
int mproc__msg_parse(const unsigned char hdr[MPROC__MSG_HDR], size_t max, size_t *len);

/* ---- targets (core/registry.c) ---------------------------------------- */

/* The registered name of fn, or NULL when fn is not registered or its name
 * is ambiguous. */
const char *mproc__target_name(mproc_target_fn fn);
mproc_target_fn mproc__target_find(const char *name);
const char *mproc__task_name(mproc_task_fn fn);
mproc_task_fn mproc__task_find(const char *name);
#define MPROC__NAME_MAX MPROC_NAME_MAX /* names of processes and targets, with the NUL */

/* ---- arguments (core/args.c) ------------------------------------------ */

/* Encodes a into b; the handles of its objects go to hs (*nh of them, at
 * most MPROC__MAX_HANDLES).  0, MPROC_ENOMEM, MPROC_ETOOBIG. */
int mproc__args_encode(const mproc_args *a, mproc__buf *b, mproc__handle *hs, size_t *nh);
/* Decodes what mproc__args_encode wrote, with the nh handles received
 * beside it (all taken: owned by the objects, or closed on failure).  NULL
 * when malformed (r->bad) or out of memory. */
mproc_args *mproc__args_decode(mproc__reader *r, const mproc__handle *hs, size_t nh);
/* Adds a shareable object (a reference: the caller keeps owning it). */
int mproc__args_add_object(mproc_args *a, int kind, void *obj);
/* 0 when every object of a can be handed to a child process started by
 * method (its name, for the message); else MPROC_ENOTSUP, logged, naming
 * the first that lives in this process only.  Checked before any start
 * method but the thread's: fork would give the child a dead copy. */
int mproc__args_check_for_process(const mproc_args *a, const char *method);
/* The object at i if it is of kind, else NULL + MPROC_EINVAL. */
void *mproc__args_object(const mproc_args *a, size_t i, int kind);
/* Appends copies of src's values to dst (objects by reference).  0 or an
 * error (dst keeps what was appended). */
int mproc__args_append(mproc_args *dst, const mproc_args *src);
/* Moves the values from index k on into a new list (owned objects move with
 * them) and leaves a with the first k.  NULL on ENOMEM (a unchanged). */
mproc_args *mproc__args_split(mproc_args *a, size_t k);

/* ---- shareable objects --------------------------------------------------- */

enum { MPROC__OBJ_SHM = 1, MPROC__OBJ_CONN, MPROC__OBJ_LOCK, MPROC__OBJ_SEM, MPROC__OBJ_EVENT,
       MPROC__OBJ_COND, MPROC__OBJ_BARRIER, MPROC__OBJ_QUEUE, MPROC__OBJ_COUNT };

/* How a kind of object crosses into a spawned or forkserver child. */
typedef struct {
    /* Appends what a child needs to rebuild obj: bytes to b, handles to
     * hs[*n...] (*n grows, never beyond cap: MPROC_ETOOBIG). */
    int (*export_to)(void *obj, mproc__buf *b, mproc__handle *hs, size_t *n, size_t cap);
    /* Rebuilds it in the child from those bytes and the n received handles.
     * Takes the handles either way: the new object owns them, or they are
     * closed when it fails (NULL + last error). */
    void *(*import_from)(mproc__reader *r, const mproc__handle *hs, size_t n);
    /* Frees an imported object when the target has returned. */
    void (*release)(void *obj);
} mproc__objtype;

/* ---- the shared block behind synchronisation objects (core/sync_block.c) */

enum { MPROC__PRIM_SEM = 1, MPROC__PRIM_MUTEX };
#define MPROC__BLOCK_PRIMS 4
/* Shared state at the start of a block: with MPROC__BLOCK_PRIMS primitives
 * after it, still one page. */
#define MPROC__BLOCK_STATE_MAX 2048
/* The largest extra shared area a block may carry (a queue's read-ahead). */
#define MPROC__BLOCK_AREA_MAX ((size_t)1 << 20)
typedef struct {
    mproc_shm *shm;
    void *state; /* MPROC__BLOCK_STATE_MAX bytes of shared state */
    mproc__psync prims[MPROC__BLOCK_PRIMS];
    int n;
    void *area; /* area_len more shared bytes (mproc__block_new_area), else NULL */
    size_t area_len;
} mproc__block;

/* A block with n primitives: kinds[i] MPROC__PRIM_SEM (values[i], maxes[i])
 * or MPROC__PRIM_MUTEX.  Its state starts zeroed. */
int mproc__block_new(mproc__block *b, size_t state_size, const int *kinds, const unsigned *values,
                     const unsigned *maxes, int n);
/* The same with an area of area_len (at most MPROC__BLOCK_AREA_MAX) zeroed
 * shared bytes after the primitives, for state too large for the first
 * page.  An imported block has the area its creator gave it (the
 * segment's size says how much): the importer checks that it is what it
 * expects. */
int mproc__block_new_area(mproc__block *b, size_t state_size, size_t area_len, const int *kinds,
                          const unsigned *values, const unsigned *maxes, int n);
void mproc__block_free(mproc__block *b);
int mproc__block_export(const mproc__block *b, mproc__buf *out, mproc__handle *hs, size_t *n, size_t cap);
/* Takes all n handles, success or not. */
int mproc__block_import(mproc__block *b, mproc__reader *r, const mproc__handle *hs, size_t n);

/* Helpers for objects made of others (core/export.c). */
/* An object inside another's export: t's export of obj, framed. */
int mproc__export_nested(const mproc__objtype *t, void *obj, mproc__buf *b, mproc__handle *hs, size_t *n, size_t cap);
/* Imports it back from the first handles of hs; *used = how many it took
 * (closed when it fails; 0 when the framing was already bad).  NULL when
 * malformed. */
void *mproc__import_nested(const mproc__objtype *t, mproc__reader *r, const mproc__handle *hs, size_t n,
                           size_t *used);
void mproc__close_handles(const mproc__handle *hs, size_t n);

/* Connections (core/conn.c): the handle mproc_wait waits on, and the
 * blocking write both connections and queues use. */
/* mproc_pipe with the pipes' flags (mproc__plat_pipe): the pool's channels
 * are written with timeouts, so they are not BLOCKING, and LARGE. */
int mproc__pipe(int duplex, int flags, mproc_conn **a, mproc_conn **b);
mproc__handle mproc__conn_sentinel(mproc_conn *c);
/* The handle a connection's messages go out on (NO_HANDLE: a read end). */
mproc__handle mproc__conn_write_handle(mproc_conn *c);
int mproc__write_fully(mproc__handle h, const void *buf, size_t len);

/* What mproc_wait (core/wait.c) needs of the objects it takes (it tells
 * their kinds by their tags).  A *_ready is a look now, without waiting:
 * 1 when a call would not wait (an item can be got, the event is set), or
 * would fail at once (broken), else 0. */
/* The pipe a process queue's items arrive on; NO_HANDLE for a thread
 * context's queue (readiness is then mproc__queue_ready alone). */
mproc__handle mproc__queue_wait_handle(mproc_queue *q);
int mproc__queue_ready(mproc_queue *q);
/* A process queue: no read-ahead from now on, in any process (mproc_object_fd). */
int mproc__queue_read_one_at_a_time(mproc_queue *q);
int mproc__event_ready(mproc_event *e);

/* Tests only (core/queue.c). */
mproc__handle mproc__queue_write_handle(mproc_queue *q);
int mproc__queue_hold_reader_mid_message(mproc_queue *q);
/* body 0: half a header; else a header for body bytes and half of them. */
int mproc__queue_hold_writer_mid_message(mproc_queue *q, size_t body);
/* Bytes read from the pipe and not yet got (in the read-ahead). */
size_t mproc__queue_read_ahead(mproc_queue *q);
/* 1 when the reader lock is free (taken and given back), else 0. */
int mproc__queue_reader_lock_free(mproc_queue *q);
/* Tests only: takes the writer lock, writes frames whole items ("item")
 * and returns holding it (a producer killed between two frames); a
 * JoinableQueue's task lock (NULL for other kinds). */
int mproc__queue_hold_writer_between_frames(mproc_queue *q, int frames);
mproc_lock *mproc__queue_task_lock(mproc_queue *q);
/* Tests only: parties counted inside the barrier now; live sleepers in
 * their wait (past letting the lock go: these take it to count) in a
 * condition, an event, a JoinableQueue's join. */
unsigned mproc__barrier_inside(mproc_barrier *br);
unsigned mproc__cond_sleepers(mproc_cond *c);
unsigned mproc__event_sleepers(mproc_event *e);
unsigned mproc__queue_task_sleepers(mproc_queue *q);

/* This thread's number, never 0 and never reused in this process
 * (core/current.c). */
uint64_t mproc__thread_id(void);
/* Lock internals Condition needs (core/sync.c); and whether l is the
 * thread context's (lives in this process only). */
int mproc__lock_in_process(const mproc_lock *l);
int mproc__lock_is_mine(mproc_lock *l);
unsigned mproc__lock_release_all(mproc_lock *l);
/* Takes l back with its recursion count: 0, or MPROC_EBROKEN (held) when
 * its holder died meanwhile. */
int mproc__lock_restore(mproc_lock *l, unsigned count);

/* Indexed by MPROC__OBJ_*; NULL for kinds not built into this library. */
extern const mproc__objtype *const mproc__objtypes[MPROC__OBJ_COUNT];
/* 1 when obj is a live object of kind (its tag, core/object.h), else 0
 * (core/objects.c). */
int mproc__object_is(int kind, const void *obj);
/* What obj (of kind) is, for a message, when it lives in this process only
 * (the thread context's queues and locks, a condition using such a lock):
 * no child process can have it.  Else NULL (core/objects.c). */
const char *mproc__object_in_process(int kind, void *obj);

/* ---- contexts (core/context.c) ---------------------------------------- */

/* The method ctx stands for; NULL resolves (and fixes) the default. 0 with
 * the last error set when the default cannot be resolved, or MPROC_EINVAL
 * when ctx is not a context. */
mproc_method mproc__ctx_resolve(mproc_ctx *ctx);
/* What a constructor's ctx argument may be: NULL (the default context) or
 * a context. */
static inline int mproc__ctx_ok(const mproc_ctx *ctx) { return !ctx || mproc__is(ctx, MPROC__T_CTX); }
/* ctx's method, 0 for NULL (the default, not resolved), for a ctx already
 * checked with mproc__ctx_ok: sets no error. */
mproc_method mproc__ctx_method(const mproc_ctx *ctx);
/* 0, or the error MPROC_START_METHOD causes (invalid, or unavailable here). */
int mproc__check_start_method_env(void);
/* Tests only: forget the fixed default method. */
void mproc__reset_start_method_for_tests(void);

/* ---- exit and after-fork work (core/lifecycle.c) ---------------------- */

/* Exit phases, run in this order: queues stop taking items, then children
 * are terminated (daemons) or joined, then queues flush what is buffered. */
enum { MPROC__EXIT_CLOSE = 1, MPROC__EXIT_CHILDREN, MPROC__EXIT_FLUSH };
/* Registers fn to run once when this process exits (idempotent per fn). */
void mproc__on_exit(int phase, void (*fn)(void));
/* Registers fn to run in the child of every fork (idempotent per fn); it
 * runs single-threaded, after the platform re-initialised its locks. */
void mproc__on_fork_child(void (*fn)(void));
/* A list of this process's live objects of one kind (queues,
 * connections), which the exit and after-fork work walks.  Add and remove
 * take the global lock; walkers hold it, or run in a fork child. */
typedef struct mproc__link {
    struct mproc__link *prev, *next;
    void *obj;
} mproc__link;
void mproc__link_add(mproc__link **head, mproc__link *l, void *obj);
void mproc__link_remove(mproc__link **head, mproc__link *l);
/* Runs the exit work now, then leaves the process with code (skipping
 * atexit: a fork child).  Never returns. */
_Noreturn void mproc__exit_process(int code);

/* ---- this process (core/current.c) ------------------------------------- */

/* Called in a new child (fork, spawn, forkserver) before its target, on
 * its only thread: its name, daemon flag, how it was started, and its
 * parent's pid (0: the OS parent is the real one).  Also names the
 * process for the OS (best effort). */
void mproc__current_set(const char *name, int daemon, mproc_method method, long parent_pid);
/* A thread-method child's identity, for the calling thread only while it
 * runs the target: *id lives on that thread's stack until
 * mproc__current_thread_end.  Names the thread for the OS. */
typedef struct {
    char name[MPROC__NAME_MAX];
    int daemon;
} mproc__thread_identity;
void mproc__current_thread_begin(mproc__thread_identity *id, const char *name, int daemon);
void mproc__current_thread_end(void);
/* This process's name as its parent gave it ("MainProcess" in a process
 * mproc did not start), or in a thread child's thread that child's name,
 * copied into buf (truncated to cap). */
void mproc__current_name(char *buf, size_t cap);
/* Whether this process is a daemonic child (which may not have children);
 * the process's flag, not a thread child's. */
int mproc__current_is_daemon(void);

/* ---- the bootstrap record (core/bootstrap.c) --------------------------- */

enum { MPROC__BOOT_RUN = 1, MPROC__BOOT_FORKSERVER = 2 };
#define MPROC__RECORD_MAX ((size_t)1 << 30)
/* The environment variable naming a spawned child's bootstrap channel. */
#define MPROC__BOOTSTRAP_VAR "MPROC_BOOTSTRAP"

typedef struct {
    int kind;
    char *target;      /* RUN: registered target name */
    char *name;        /* process name */
    int daemon;
    long parent_pid;
    mproc_args *args;
    /* RUN: the child dies with the process that asked for it; lifeline is
     * its end of mproc__plat_lifeline_open (NO_HANDLE where the platform
     * needs none), sent after the arguments' handles. */
    int die_with_parent;
    mproc__handle lifeline;
    /* RUN: what the child applies before its target (NULL: nothing):
     * borrowed when encoding; decoded, the record's own (its std handles
     * travel after the arguments' and before the lifeline). */
    mproc__child_attrs *attrs;
} mproc__record;

/* An encoded record with the handles that must travel beside it. */
typedef struct {
    mproc__buf buf;
    mproc__handle hs[MPROC__MAX_HANDLES];
    size_t nh;
    int die_with_parent; /* spawn_record binds the child (mproc__plat_lifeline_bind) */
    const char *target, *name; /* the record's, for messages (not owned) */
    const char *cwd;           /* the directory the child enters, for messages */
    /* What mproc__spawn_record gives mproc__plat_spawn (not owned; NULL:
     * nothing): set by the caller after encoding. */
    const mproc__child_attrs *spawn_attrs;
} mproc__encoded;

/* Encodes a record: 0, MPROC_ENOMEM, MPROC_ETOOBIG (nothing to free then;
 * also when the arguments' handles leave no room for the lifeline).  The
 * lifeline is not taken: it travels as one of e->hs. */
int mproc__record_encode(mproc__encoded *e, const mproc__record *rec);
/* Decodes with the handles received beside the record (all taken; the
 * lifeline is rec->lifeline until mproc__run_record watches it).
 * MPROC_EBROKEN for a malformed record, MPROC_ENOMEM. */
int mproc__record_decode(const void *data, size_t len, const mproc__handle *hs, size_t nh, mproc__record *rec);
void mproc__record_clear(mproc__record *rec);
/* Sends an encoded record over channel: its handles first (to: the
 * receiving child, which Windows needs), then the record as a frame. */
int mproc__record_send(mproc__handle channel, mproc__child *to, const mproc__encoded *rec);
/* Receives what mproc__record_send sent.  MPROC_ECLOSED when the sender
 * closed first; handles are closed on any failure. */
int mproc__record_recv(mproc__handle channel, void **data, size_t *len, mproc__handle *hs, size_t *nh);
/* Spawns the program with the encoded record and waits for the child to
 * take it (a child that dies with its parent is bound to this process
 * before it gets the record).  MPROC_ENOINIT when the child exited before its mproc_init()
 * took it, MPROC_ENOTREG when it does not know the target.  A child that
 * did not take its record is killed and reaped before this returns. */
int mproc__spawn_record(mproc__child **out, const mproc__encoded *rec);

/* core/executable.c: what spawn starts (this program, the one set with
 * mproc_set_executable, or mproc-worker with the spawn module). */
typedef struct {
    mproc__program program; /* for mproc__plat_spawn; points into the rest */
    char *path;             /* NULL: this program */
    char *module;           /* NULL: no spawn module */
    const char *args[2];
} mproc__spawn_how;
/* Whether mproc_set_executable or mproc_set_spawn_module is in effect (then
 * spawn needs no mproc_init in this process). */
int mproc__spawn_configured(void);
/* Fills how for one start.  MPROC_ENOINIT (this program, mproc_init not
 * run), MPROC_ESYS (no mproc-worker found), MPROC_ENOMEM; each with a
 * message.  mproc__spawn_how_clear frees it (also after a failure). */
int mproc__spawn_how_get(mproc__spawn_how *how);
void mproc__spawn_how_clear(mproc__spawn_how *how);
/* Why a new child cannot run its target, which it tells its parent before
 * it exits (spawn: in its answer; forkserver: in place of its pid). */
enum { MPROC__FAIL_RECORD = 1, MPROC__FAIL_TARGET, MPROC__FAIL_LIFELINE, MPROC__FAIL_ENV, MPROC__FAIL_CWD,
       MPROC__FAIL_STDIO };
/* In a new child before its target: applies a (NULL: nothing) to this
 * process: environment, then working directory, then std streams.  0, or
 * the error with *stage set to MPROC__FAIL_ENV, _CWD or _STDIO (core/attrs.c). */
int mproc__attrs_apply(const mproc__child_attrs *a, int *stage);
/* Closes a decoded record's attributes' handles and frees them (NULL ok). */
void mproc__attrs_free(mproc__child_attrs *a);
/* In the child, with a decoded RUN record: finds the target and starts
 * watching the parent's life if asked.  0, or the code with *stage set
 * (the record is then still the caller's to clear). */
int mproc__record_prepare(mproc__record *rec, int *stage);
/* In the parent: the error for a child's report (code, stage), with a
 * message naming the process and its target. */
int mproc__child_failed(int code, int stage, const mproc__encoded *rec);
/* Runs a prepared RUN record in this child process and exits with the
 * target's code: with exit() when the child is a whole program (spawn),
 * else through mproc__exit_process (a fork of the forkserver). */
_Noreturn void mproc__run_record(mproc__record *rec, int whole_program);
/* The bootstrap channel this process inherited, taken once (the variable
 * is removed), or MPROC__NO_HANDLE. */
mproc__handle mproc__bootstrap_take(void);
/* Whether this process was spawned by mproc and its mproc_init() has not
 * taken the record yet (starting children now would be a fork bomb). */
int mproc__bootstrap_pending(void);
/* In the spawned child: reads the record from channel h, answers the
 * parent and runs it (never returns) or, for a forkserver record, returns
 * 1 (the caller then serves).  Exits 255 when the record is unusable. */
int mproc__bootstrap_run(mproc__handle h);

/* ---- children of any kind (core/process.c, core/forkserver.c) --------- */

/* What process.c needs of a started child, whoever started it. */
typedef struct {
    int (*wait)(void *c, double timeout, int *code);
    int (*signal)(void *c, int kill);
    mproc__handle (*sentinel)(void *c);
    long (*pid)(void *c);
    void (*free)(void *c);
} mproc__child_ops;
/* Marks p as the library's own (a pool's worker): mproc_active_children
 * does not hand it to the user.  Before start. */
void mproc__process_set_internal(mproc_process *p);

/* ---- the forkserver (core/forkserver.c) -------------------------------- */

/* Asks the forkserver (started on first use, restarted when it died) to
 * fork a child that runs the encoded record.  *out uses mproc__fs_ops. */
int mproc__forkserver_start(void **out, const mproc__encoded *rec);
extern const mproc__child_ops mproc__fs_ops;
/* Tests only: whether the client's lock is held (by this thread). */
int mproc__forkserver_client_locked(void);
/* Tests only: the pid of the running forkserver, 0 when none was started. */
long mproc__forkserver_pid(void);
/* Becomes the forkserver on control channel h.  Never returns. */
_Noreturn void mproc__forkserver_serve(mproc__handle h);

#endif /* MPROC_INTERNAL_H */
