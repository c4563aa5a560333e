/* mproc_init in spawned children: a child that starts processes before
 * mproc_init gets MPROC_ENOINIT (no fork bomb), and so does its parent; a
 * record that cannot be sent never hangs start(); the program is found
 * again however it was started. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testutil.h"

#ifndef _WIN32
#include <spawn.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>
extern char **environ;
#endif

static int return_five(mproc_args *a)
{
    (void)a;
    return 5;
}
MPROC_TARGET(return_five);

/* spawn-based method to test: forkserver when it is under test, else spawn. */
static mproc_ctx *exec_ctx(void)
{
    return mproc_get_context(tu_method() == MPROC_FORKSERVER ? MPROC_FORKSERVER : MPROC_SPAWN);
}

static void test_child_starting_processes_before_init_gets_enoinit(void)
{
    char marker[256];
    mproc_process *p;
    FILE *f;
    int child_rc = 0;
    double t0;

    tu_temp_path(marker, "marker");
    tu_setenv("MPROC_TEST_MARKER", marker);
    p = mproc_process_new(exec_ctx(), return_five, NULL);
    t0 = tu_now();
    CU_ASSERT_EQUAL(mproc_process_start(p), MPROC_ENOINIT);
    CU_ASSERT(tu_now() - t0 < 30);
    tu_setenv("MPROC_TEST_MARKER", NULL);
    /* The child's own start failed the same way instead of spawning again. */
    f = fopen(marker, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fscanf(f, "%d", &child_rc), 1);
    fclose(f);
    remove(marker);
    CU_ASSERT_EQUAL(child_rc, MPROC_ENOINIT);
    /* The failed start left the object unstarted. */
    CU_ASSERT_EQUAL(mproc_process_join(p, 0), MPROC_ESTATE);
    mproc_process_free(p);
}

static void test_start_works_after_a_failed_bootstrap(void)
{
    mproc_process *p = mproc_process_new(exec_ctx(), return_five, NULL);
    int code = -1;
    CU_ASSERT_EQUAL_FATAL(mproc_process_start(p), 0);
    CU_ASSERT_EQUAL(mproc_process_join(p, 60), 0);
    CU_ASSERT_EQUAL(mproc_process_exitcode(p, &code), 0);
    CU_ASSERT_EQUAL(code, 5);
    mproc_process_free(p);
}

/* The hook may call the library: never under the forkserver client's lock. */
static int hook_calls, hook_saw_lock_held;

static void check_client_lock(int level, const char *msg, void *ud)
{
    (void)level;
    (void)msg;
    (void)ud;
    hook_calls++;
    hook_saw_lock_held += mproc__forkserver_client_locked();
}

/* The child waits for its record on a channel the parent holds: a parent
 * that failed to send it must end the child, not wait for it. */
static void test_failed_bootstrap_send_does_not_hang_start(void)
{
    for (int round = 0; round < 2; round++) {
        mproc_process *p = mproc_process_new(exec_ctx(), return_five, NULL);
        double t0 = tu_now();
        hook_calls = hook_saw_lock_held = 0;
        mproc_set_log_handler(check_client_lock, NULL);
        /* Under forkserver, round 0 may fail the server's own start and
         * round 1 the request to a running server, or both the request. */
        mproc__fault_arm(MPROC__FAULT_BOOTSTRAP_SEND, 1);
        CU_ASSERT_EQUAL(mproc_process_start(p), MPROC_ESYS);
        mproc__fault_arm(MPROC__FAULT_BOOTSTRAP_SEND, 0);
        mproc_set_log_handler(NULL, NULL);
        CU_ASSERT(tu_now() - t0 < 30);
        CU_ASSERT(hook_calls > 0);
        CU_ASSERT_EQUAL(hook_saw_lock_held, 0);
        CU_ASSERT_EQUAL(mproc_process_join(p, 0), MPROC_ESTATE);
        mproc_process_free(p);
    }
    /* Nothing was left behind that stops the next start. */
    {
        mproc_process *p = mproc_process_new(exec_ctx(), return_five, NULL);
        int code = -1;
        int rc = mproc_process_start(p);
        if (rc != 0)
            printf("start after the failed sends: %s (os error %ld)\n", mproc_strerror(rc), mproc_last_os_error());
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        CU_ASSERT_EQUAL(mproc_process_join(p, 60), 0);
        CU_ASSERT_EQUAL(mproc_process_exitcode(p, &code), 0);
        CU_ASSERT_EQUAL(code, 5);
        mproc_process_free(p);
    }
}

#ifndef _WIN32
/* A spawned child that lets go of its bootstrap channel and then lingers
 * before any mproc_init: start() reports it at once, it does not wait for
 * the child to end by itself. */
static void test_child_that_drops_its_channel_is_not_waited_for(void)
{
    mproc_process *p;
    double t0;
    tu_setenv("MPROC_TEST_DROP_CHANNEL", "1");
    p = mproc_process_new(mproc_get_context(MPROC_SPAWN), return_five, NULL);
    t0 = tu_now();
    CU_ASSERT_EQUAL(mproc_process_start(p), MPROC_ENOINIT);
    tu_setenv("MPROC_TEST_DROP_CHANNEL", NULL);
    CU_ASSERT(tu_now() - t0 < 30); /* the child lingers for 120 s */
    mproc_process_free(p);
}

/* A program found through PATH (argv[0] without a slash) still spawns
 * itself: where the OS cannot name the running executable, mproc searches
 * PATH as execvp did. */
static void test_program_started_through_path_spawns_itself(void)
{
    char dir[512], *slash, *argv[2], path_env[600];
    const char *base;
    pid_t pid;
    int status = 0;

    CU_ASSERT_FATAL(strlen(tu_argv[0]) < sizeof dir);
    if (!strchr(tu_argv[0], '/')) {
        tu_skip("the suite itself was started through PATH");
        return;
    }
    strcpy(dir, tu_argv[0]);
    slash = strrchr(dir, '/');
    *slash = '\0';
    base = slash + 1;
    argv[0] = (char *)base;
    argv[1] = NULL;
    snprintf(path_env, sizeof path_env, "PATH=/nonexistent:%s", dir);
    {
        /* This environment (sanitizer options...) with PATH replaced. */
        size_t n = 0, k = 0;
        char **env;
        while (environ[n])
            n++;
        env = calloc(n + 3, sizeof *env);
        CU_ASSERT_PTR_NOT_NULL_FATAL(env);
        for (size_t i = 0; i < n; i++)
            if (strncmp(environ[i], "PATH=", 5) != 0)
                env[k++] = environ[i];
        env[k++] = path_env;
        env[k++] = "MPROC_TEST_VIA_PATH=1";
        /* By its full path, but with a bare argv[0], as a shell that found
         * it along PATH would start it. */
        CU_ASSERT_EQUAL_FATAL(posix_spawn(&pid, tu_argv[0], NULL, NULL, argv, env), 0);
        free(env);
    }
    CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFEXITED(status));
    CU_ASSERT_EQUAL(WEXITSTATUS(status), 5);
}

/* The program's side of that test: spawn a child, return its code. */
static int spawn_one_via_path(int argc, char **argv)
{
    mproc_process *p;
    int code = -1;
    if (mproc_init(argc, argv) != 0)
        return 90;
    p = mproc_process_new(mproc_get_context(MPROC_SPAWN), return_five, NULL);
    if (!p || mproc_process_start(p) != 0)
        return 91;
    if (mproc_process_join(p, 60) != 0 || mproc_process_exitcode(p, &code) != 0)
        return 92;
    mproc_process_free(p);
    return code;
}
#endif

static CU_TestInfo tests[] = {
    /* First: under forkserver the misbehaving child is the server itself. */
    TU_TEST(test_child_starting_processes_before_init_gets_enoinit),
    TU_TEST(test_start_works_after_a_failed_bootstrap),
    TU_TEST(test_failed_bootstrap_send_does_not_hang_start),
#ifndef _WIN32
    TU_TEST(test_child_that_drops_its_channel_is_not_waited_for),
    TU_TEST(test_program_started_through_path_spawns_itself),
#endif
    CU_TEST_INFO_NULL,
};

static void reg(void) { tu_add_suite("bootstrap", tests); }

/* A spawned copy of this program while MPROC_TEST_MARKER is set does what
 * mproc_init's contract forbids: it starts a process before mproc_init. */
static int misbehave(const char *marker)
{
    mproc_process *p = mproc_process_new(NULL, return_five, NULL);
    int rc = p ? mproc_process_start(p) : mproc_last_error();
    FILE *f = fopen(marker, "w");
    if (f) {
        fprintf(f, "%d\n", rc);
        fclose(f);
    }
    if (rc == 0)
        mproc_process_join(p, 60);
    mproc_process_free(p);
    return 3;
}

int main(int argc, char **argv)
{
    const char *marker = getenv("MPROC_TEST_MARKER");
    if (marker && getenv("MPROC_BOOTSTRAP"))
        return misbehave(marker);
#ifndef _WIN32
    if (getenv("MPROC_TEST_VIA_PATH"))
        return spawn_one_via_path(argc, argv);
    if (getenv("MPROC_TEST_DROP_CHANNEL") && getenv("MPROC_BOOTSTRAP")) {
        struct timespec linger = {120, 0};
        close(3); /* the bootstrap channel of a POSIX spawn */
        nanosleep(&linger, NULL);
        return 4;
    }
#endif
    return tu_main(argc, argv, reg);
}
