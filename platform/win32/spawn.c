/*
 * The spawn start method on Windows: CreateProcessW of this program with
 * this process's own command line (or of the program the core names, with
 * a command line quoted here), and the bootstrap channel it inherits.
 *
 * The channel is a duplex named pipe (pipe.c) whose client end is the only
 * handle the child inherits besides its std streams: the handle
 * list of PROC_THREAD_ATTRIBUTE_HANDLE_LIST limits inheritance, where plain
 * bInheritHandles would hand the child every inheritable handle of the
 * process, including other children's channels being set up concurrently.
 * The child learns the handle's value from the environment variable the
 * core names, in the environment block it is created with.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "win.h"

#define CREATE_ATTEMPTS 3

/* Set once by mproc__plat_init, under state_lock.  A private lock, not the
 * global one: the core may ask whether we are initialized while it holds
 * the global lock, and SRW locks are not recursive. */
static SRWLOCK state_lock = SRWLOCK_INIT;
static int initialized;
static wchar_t *exe_path;     /* GetModuleFileNameW(NULL) */
static wchar_t *command_line; /* GetCommandLineW(), copied */

static wchar_t *wcs_copy(const wchar_t *s)
{
    size_t size = (wcslen(s) + 1) * sizeof *s;
    wchar_t *copy = malloc(size);
    if (copy != NULL)
        memcpy(copy, s, size);
    return copy;
}

/* GetModuleFileNameW truncates silently (returning the buffer size) when
 * the path does not fit; paths may exceed MAX_PATH up to 32767 characters. */
static int module_path(HMODULE module, wchar_t **out)
{
    for (DWORD cap = MAX_PATH; cap <= 32768; cap *= 2) {
        wchar_t *buf = malloc(cap * sizeof *buf);
        DWORD n;
        if (buf == NULL)
            return mproc__error(MPROC_ENOMEM);
        n = GetModuleFileNameW(module, buf, cap);
        if (n == 0) {
            DWORD err = GetLastError();
            free(buf);
            return mproc__sys_error((long)err);
        }
        if (n < cap) {
            *out = buf;
            return 0;
        }
        free(buf);
    }
    return mproc__sys_error(ERROR_INSUFFICIENT_BUFFER);
}

/* argv is not used: the child gets this process's command line verbatim
 * (GetCommandLineW), so it parses to the same argv without re-quoting by
 * Windows' rules, and without the round trip through the ANSI code page
 * that argv went through. */
int mproc__plat_init(int argc, char **argv)
{
    wchar_t *path = NULL, *cmd = NULL;
    int rc;
    (void)argc;
    (void)argv;
    if (mproc__plat_initialized())
        return 0;
    rc = module_path(NULL, &path);
    if (rc != 0)
        return rc;
    cmd = wcs_copy(GetCommandLineW());
    if (cmd == NULL) {
        free(path);
        return mproc__error(MPROC_ENOMEM);
    }
    AcquireSRWLockExclusive(&state_lock);
    if (!initialized) {
        exe_path = path;
        command_line = cmd;
        initialized = 1;
        path = cmd = NULL;
    }
    ReleaseSRWLockExclusive(&state_lock);
    free(path);
    free(cmd);
    return 0;
}

int mproc__plat_initialized(void)
{
    int r;
    AcquireSRWLockShared(&state_lock);
    r = initialized;
    ReleaseSRWLockShared(&state_lock);
    return r;
}

/* The length of an environment entry's name.  The name ends at the first
 * '=' after its first character: the per-drive directories Windows keeps
 * in the block have names that begin with one ("=C:=C:\\dir"). */
static int env_name_len(const wchar_t *entry)
{
    const wchar_t *eq = wcschr(entry + 1, L'=');
    return eq != NULL ? (int)(eq - entry) : (int)wcslen(entry);
}

/* Orders entries by name as Windows orders environment blocks: ordinal,
 * case-insensitive (CreateProcess documents the block as sorted). */
static int env_entry_order(const void *a, const void *b)
{
    const wchar_t *x = *(const wchar_t *const *)a, *y = *(const wchar_t *const *)b;
    return CompareStringOrdinal(x, env_name_len(x), y, env_name_len(y), TRUE) - CSTR_EQUAL;
}

/* Whether entry's name is name (NUL-terminated), without case. */
static int env_entry_is(const wchar_t *entry, const wchar_t *name)
{
    return CompareStringOrdinal(entry, env_name_len(entry), name, -1, TRUE) == CSTR_EQUAL;
}

/* "name=value" (value NULL: "name"), wide, in a new string. */
static int env_entry_new(const char *name, const char *value, wchar_t **entry)
{
    wchar_t *n = NULL, *v = NULL;
    int rc = mproc__win_wide(name, &n);
    *entry = NULL;
    if (rc == 0 && value)
        rc = mproc__win_wide(value, &v);
    if (rc == 0) {
        size_t len = wcslen(n) + (v ? wcslen(v) + 1 : 0) + 1;
        if ((*entry = malloc(len * sizeof **entry)) == NULL)
            rc = mproc__error(MPROC_ENOMEM);
        else
            swprintf(*entry, len, v ? L"%ls=%ls" : L"%ls", n, v ? v : L"");
    }
    free(n);
    free(v);
    return rc;
}

/* This process's environment block with attrs' edits and
 * <env_name>=<client>, sorted.  The variable is never set in our own
 * environment: other threads could spawn (or read it) at the same time. */
static int environment_for_child(const char *env_name, HANDLE client, const mproc__child_attrs *attrs, wchar_t **out)
{
    size_t n_attrs = attrs ? attrs->n_env : 0, n_parent = 0, k = 0, total = 1;
    wchar_t **edits = NULL, **entries = NULL, *parent = NULL, *block, *dst;
    const wchar_t *entry;
    char value[32];
    int rc = 0;

    snprintf(value, sizeof value, "%llu", (unsigned long long)(uintptr_t)client);
    /* edits[0] the bootstrap variable, then attrs' as names or entries. */
    if ((edits = calloc(n_attrs + 1, sizeof *edits)) == NULL)
        return mproc__error(MPROC_ENOMEM);
    rc = env_entry_new(env_name, value, &edits[0]);
    for (size_t i = 0; rc == 0 && i < n_attrs; i++)
        rc = env_entry_new(attrs->env_names[i], attrs->env_values[i], &edits[i + 1]);
    if (rc == 0 && (parent = GetEnvironmentStringsW()) == NULL)
        rc = mproc__sys_error((long)GetLastError());
    for (entry = parent; rc == 0 && *entry != L'\0'; entry += wcslen(entry) + 1)
        n_parent++;
    if (rc == 0 && (entries = malloc((n_parent + n_attrs + 1) * sizeof *entries)) == NULL)
        rc = mproc__error(MPROC_ENOMEM);
    for (entry = parent; rc == 0 && *entry != L'\0'; entry += wcslen(entry) + 1) {
        int replaced = 0;
        for (size_t i = 0; i <= n_attrs && !replaced; i++) {
            /* An edit's name: the entry up to its '=' (or all of it). */
            wchar_t *eq = wcschr(edits[i] + 1, L'='), saved = 0;
            if (eq != NULL) {
                saved = *eq;
                *eq = L'\0';
            }
            replaced = env_entry_is(entry, edits[i]);
            if (eq != NULL)
                *eq = saved;
        }
        if (!replaced) /* a stale bootstrap value must not shadow ours */
            entries[k++] = (wchar_t *)entry;
    }
    for (size_t i = 0; rc == 0 && i <= n_attrs; i++)
        if (i == 0 || attrs->env_values[i - 1] != NULL)
            entries[k++] = edits[i];
    if (rc == 0) {
        qsort(entries, k, sizeof *entries, env_entry_order);
        for (size_t i = 0; i < k; i++)
            total += wcslen(entries[i]) + 1;
        if ((*out = block = malloc(total * sizeof *block)) == NULL)
            rc = mproc__error(MPROC_ENOMEM);
    }
    if (rc == 0) {
        /* Each entry NUL-terminated, and the block ended by one more. */
        dst = block;
        for (size_t i = 0; i < k; i++) {
            size_t len = wcslen(entries[i]) + 1;
            memcpy(dst, entries[i], len * sizeof *dst);
            dst += len;
        }
        *dst = L'\0';
    }
    if (parent != NULL)
        FreeEnvironmentStringsW(parent);
    for (size_t i = 0; i <= n_attrs; i++)
        free(edits[i]);
    free(edits);
    free(entries);
    return rc;
}

/* What the child inherits: the bootstrap client end and the std streams. */
typedef struct {
    HANDLE std[3];   /* the child's stdin, stdout, stderr */
    HANDLE owned[3]; /* inheritable duplicates made for it, closed after */
    HANDLE list[4];  /* PROC_THREAD_ATTRIBUTE_HANDLE_LIST: no duplicates */
    DWORD count;
} inherit_set;

static void inherit_add(inherit_set *s, HANDLE h)
{
    for (DWORD i = 0; i < s->count; i++)
        if (s->list[i] == h)
            return; /* CreateProcess rejects a handle listed twice */
    s->list[s->count++] = h;
}

/* Every handle in the handle list must be inheritable or CreateProcess
 * fails with ERROR_INVALID_PARAMETER; a std stream that is not (e.g. a
 * console or file the program opened itself) is given as an inheritable
 * duplicate, as CPython's subprocess does. */
static int inherit_set_build(inherit_set *s, HANDLE client, const mproc__child_attrs *attrs)
{
    static const DWORD which[3] = {STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE};
    memset(s, 0, sizeof *s);
    inherit_add(s, client);
    for (int i = 0; i < 3; i++) {
        /* A file or pipe the caller gave for the stream, else ours. */
        HANDLE h = attrs && attrs->std[i] != MPROC__NO_HANDLE ? (HANDLE)attrs->std[i] : GetStdHandle(which[i]);
        DWORD flags;
        s->std[i] = NULL;
        if (h == NULL || h == INVALID_HANDLE_VALUE)
            continue;
        /* Windows 7 console pseudo-handles (low bits 11) are passed on by
         * the console itself and make CreateProcess fail when listed. */
        if (((uintptr_t)h & 3) == 3 && GetFileType(h) == FILE_TYPE_CHAR) {
            s->std[i] = h;
            continue;
        }
        if (!GetHandleInformation(h, &flags))
            continue; /* not a handle (closed stream): the child gets none */
        if (!(flags & HANDLE_FLAG_INHERIT)) {
            if (!DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &s->owned[i], 0, TRUE,
                                 DUPLICATE_SAME_ACCESS))
                return mproc__sys_error((long)GetLastError());
            h = s->owned[i];
        }
        s->std[i] = h;
        inherit_add(s, h);
    }
    return 0;
}

static void inherit_set_release(inherit_set *s)
{
    for (int i = 0; i < 3; i++)
        if (s->owned[i] != NULL)
            CloseHandle(s->owned[i]);
}

static int create_process(const wchar_t *image, wchar_t *cmd, wchar_t *env, const wchar_t *cwd, inherit_set *inherit,
                          PROCESS_INFORMATION *pi)
{
    STARTUPINFOEXW si;
    SIZE_T size = 0;
    int rc = 0;
    memset(&si, 0, sizeof si);
    si.StartupInfo.cb = sizeof si;
    /* Always given explicitly: without STARTF_USESTDHANDLES a console child
     * would take the parent's handle values, which mean nothing in it when
     * they were not inherited. */
    si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    si.StartupInfo.hStdInput = inherit->std[0];
    si.StartupInfo.hStdOutput = inherit->std[1];
    si.StartupInfo.hStdError = inherit->std[2];
    /* The sizing call fails by design (ERROR_INSUFFICIENT_BUFFER). */
    (void)InitializeProcThreadAttributeList(NULL, 1, 0, &size);
    si.lpAttributeList = malloc(size);
    if (si.lpAttributeList == NULL)
        return mproc__error(MPROC_ENOMEM);
    if (!InitializeProcThreadAttributeList(si.lpAttributeList, 1, 0, &size)) {
        rc = mproc__sys_error((long)GetLastError());
        free(si.lpAttributeList);
        return rc;
    }
    if (!UpdateProcThreadAttribute(si.lpAttributeList, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherit->list,
                                   inherit->count * sizeof(HANDLE), NULL, NULL))
        rc = mproc__sys_error((long)GetLastError());
    /* Wine reports ERROR_INTERNAL_ERROR when the new process died before
     * its start-up completed (about one start in a thousand under load):
     * none of our code ran there, so starting it again is safe. */
    for (int attempt = 1; rc == 0; attempt++) {
        if (CreateProcessW(image, cmd, NULL, NULL, TRUE, CREATE_UNICODE_ENVIRONMENT | EXTENDED_STARTUPINFO_PRESENT,
                           env, cwd, &si.StartupInfo, pi))
            break;
        if (GetLastError() != ERROR_INTERNAL_ERROR || attempt == CREATE_ATTEMPTS)
            rc = mproc__sys_error((long)GetLastError());
    }
    DeleteProcThreadAttributeList(si.lpAttributeList);
    free(si.lpAttributeList);
    return rc;
}

/* UTF-8 to a malloc'd UTF-16 string; NULL when s is not UTF-8 or for want
 * of memory. */
static wchar_t *utf8_to_wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
    wchar_t *w = n > 0 ? malloc((size_t)n * sizeof *w) : NULL;
    if (w != NULL && MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n) != n) {
        free(w);
        w = NULL;
    }
    return w;
}

/* Appends arg to cmd (which has room) quoted so that CommandLineToArgvW and
 * the C runtime parse it back as one argument: backslashes are literal
 * except before a quote, where they are doubled. */
static wchar_t *append_quoted(wchar_t *dst, const wchar_t *arg)
{
    *dst++ = L'"';
    for (const wchar_t *p = arg;; p++) {
        size_t slashes = 0;
        while (*p == L'\\') {
            p++;
            slashes++;
        }
        if (*p == L'\0' || *p == L'"') {
            /* Before the closing quote or a quote: each backslash doubled. */
            for (size_t i = 0; i < slashes * 2; i++)
                *dst++ = L'\\';
            if (*p == L'\0')
                break;
            *dst++ = L'\\';
            *dst++ = L'"';
        } else {
            for (size_t i = 0; i < slashes; i++)
                *dst++ = L'\\';
            *dst++ = *p;
        }
    }
    *dst++ = L'"';
    return dst;
}

/* This process's command line without its first argument (the program's
 * name, quoted or ended by a blank, as the C runtime reads it). */
static const wchar_t *command_line_tail(void)
{
    const wchar_t *p = command_line;
    if (*p == L'"') {
        for (p++; *p != L'\0' && *p != L'"'; p++)
            ;
        if (*p == L'"')
            p++;
    } else {
        while (*p != L'\0' && *p != L' ' && *p != L'\t')
            p++;
    }
    return p;
}

/* The image and command line of program: "path" then its args quoted, or
 * this process's own arguments when it has none of its own. */
static int program_command(const mproc__program *program, wchar_t **image, wchar_t **cmd)
{
    wchar_t *args[8] = {NULL};
    const wchar_t *tail = L"";
    size_t nargs = 0, len;
    int rc = 0;
    wchar_t *dst;

    *cmd = NULL;
    if ((*image = utf8_to_wide(program->path)) == NULL)
        return mproc__errorf(MPROC_EINVAL, "the program '%s' is not a UTF-8 path (or memory ran out)", program->path);
    len = 3 + wcslen(*image) * 2;
    if (program->args != NULL) {
        for (; program->args[nargs] != NULL; nargs++) {
            if (nargs == sizeof args / sizeof args[0] || (args[nargs] = utf8_to_wide(program->args[nargs])) == NULL) {
                rc = mproc__error(nargs == sizeof args / sizeof args[0] ? MPROC_ETOOBIG : MPROC_ENOMEM);
                break;
            }
            len += 4 + wcslen(args[nargs]) * 2;
        }
    } else if (mproc__plat_initialized()) {
        tail = command_line_tail();
        len += wcslen(tail);
    }
    if (rc == 0 && (*cmd = malloc((len + 1) * sizeof **cmd)) == NULL)
        rc = mproc__error(MPROC_ENOMEM);
    if (rc == 0) {
        dst = append_quoted(*cmd, *image);
        for (size_t i = 0; i < nargs; i++) {
            *dst++ = L' ';
            dst = append_quoted(dst, args[i]);
        }
        wcscpy(dst, tail);
    }
    for (size_t i = 0; i < nargs; i++)
        free(args[i]);
    if (rc != 0) {
        free(*image);
        *image = NULL;
    }
    return rc;
}

int mproc__plat_library_path(char **out)
{
    HMODULE self;
    wchar_t *path = NULL;
    int n, rc;

    *out = NULL;
    /* Any function of the library names the module it was loaded from:
     * the DLL, or the program it is linked into. */
    if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                            (LPCWSTR)(uintptr_t)mproc__plat_library_path, &self))
        return mproc__sys_error((long)GetLastError());
    if ((rc = module_path(self, &path)) != 0)
        return rc;
    n = WideCharToMultiByte(CP_UTF8, 0, path, -1, NULL, 0, NULL, NULL);
    if (n <= 0 || (*out = malloc((size_t)n)) == NULL) {
        free(path);
        return n <= 0 ? mproc__sys_error((long)GetLastError()) : mproc__error(MPROC_ENOMEM);
    }
    WideCharToMultiByte(CP_UTF8, 0, path, -1, *out, n, NULL, NULL);
    free(path);
    return 0;
}

int mproc__plat_is_program(const char *path)
{
    wchar_t *w = path != NULL && *path != '\0' ? utf8_to_wide(path) : NULL;
    DWORD attributes = w != NULL ? GetFileAttributesW(w) : INVALID_FILE_ATTRIBUTES;
    free(w);
    return attributes != INVALID_FILE_ATTRIBUTES && !(attributes & FILE_ATTRIBUTE_DIRECTORY);
}

int mproc__plat_spawn_sets_cwd(void) { return 1; }

int mproc__plat_spawn(mproc__child **out, const char *env_name, const mproc__program *program,
                      const mproc__child_attrs *attrs)
{
    HANDLE server = NULL, client = NULL;
    wchar_t *env = NULL, *cmd = NULL, *image = NULL, *cwd = NULL;
    inherit_set inherit;
    PROCESS_INFORMATION pi;
    mproc__child *c;
    int rc;

    *out = NULL;
    memset(&inherit, 0, sizeof inherit);
    if (program != NULL && program->path != NULL) {
        if ((rc = program_command(program, &image, &cmd)) != 0)
            return rc;
    } else if (!mproc__plat_initialized()) {
        return mproc__error(MPROC_ENOINIT); /* core/bootstrap.c says why */
    } else {
        /* CreateProcessW may write into the command line it is given. */
        image = wcs_copy(exe_path);
        cmd = wcs_copy(command_line);
    }
    /* Allocated first, so nothing can fail once the child runs. */
    c = mproc__win_child_new(NULL, 0, NULL, 0);
    if (c == NULL || cmd == NULL || image == NULL)
        rc = mproc__error(MPROC_ENOMEM);
    else
        rc = attrs != NULL && attrs->cwd != NULL ? mproc__win_wide(attrs->cwd, &cwd) : 0;
    /* A synchronous pipe: the child reads its record with plain blocking
     * calls before anything else, and only the child end is inheritable. */
    if (rc == 0 && (rc = mproc__win_pipe_pair(PIPE_ACCESS_DUPLEX, GENERIC_READ | GENERIC_WRITE, 0, 0, 1, &server, &client)) ==
                 0 &&
             (rc = environment_for_child(env_name, client, attrs, &env)) == 0 &&
             (rc = inherit_set_build(&inherit, client, attrs)) == 0 &&
             (rc = create_process(image, cmd, env, cwd, &inherit, &pi)) == 0) {
        CloseHandle(pi.hThread);
        c->handle = pi.hProcess;
        c->pid = pi.dwProcessId;
        c->channel = server;
        server = NULL;
        *out = c;
        c = NULL;
    }
    /* The child has its own copy of the client end now.  Ours must go, or
     * the pipe would never break when the child dies and the parent's reads
     * would wait for ever instead of failing with ERROR_BROKEN_PIPE. */
    if (client != NULL)
        CloseHandle(client);
    if (server != NULL)
        CloseHandle(server);
    inherit_set_release(&inherit);
    free(env);
    free(cmd);
    free(image);
    free(c);
    /* CreateProcess reports a directory it cannot enter as its own failure. */
    if (rc == MPROC_ESYS && cwd != NULL && mproc__plat_check_dir(attrs->cwd) != 0) {
        (void)mproc__sys_error(ERROR_DIRECTORY);
        rc = mproc__errorf(MPROC_ESYS, "cannot start the child in working directory '%s'", attrs->cwd);
    }
    free(cwd);
    return rc;
}
