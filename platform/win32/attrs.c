/* What a child gets instead of this process's own: its std streams'
 * files, its working directory, its environment (mproc__child_attrs).
 * Paths and variables come as UTF-8 and go to the wide-character calls. */
#include <stdlib.h>
#include <string.h>

#include "win.h"

int mproc__win_wide(const char *utf8, wchar_t **out)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, -1, NULL, 0);
    *out = NULL;
    if (n <= 0)
        return mproc__sys_error((long)GetLastError());
    if ((*out = malloc((size_t)n * sizeof **out)) == NULL)
        return mproc__error(MPROC_ENOMEM);
    (void)MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, -1, *out, n);
    return 0;
}

int mproc__plat_open_std(const char *path, int mode, mproc__handle *h)
{
    /* FILE_APPEND_DATA without FILE_WRITE_DATA: every write goes to the
     * end, as O_APPEND.  Shared for reading, writing and deleting, as a
     * POSIX file is. */
    DWORD access = mode == MPROC__STD_READ ? GENERIC_READ
                   : mode == MPROC__STD_APPEND && path ? FILE_APPEND_DATA | SYNCHRONIZE | FILE_READ_ATTRIBUTES
                                                       : GENERIC_WRITE;
    DWORD disposition = !path || mode == MPROC__STD_READ ? OPEN_EXISTING
                        : mode == MPROC__STD_APPEND      ? OPEN_ALWAYS
                                                         : CREATE_ALWAYS;
    wchar_t *wide = NULL;
    HANDLE f;
    int rc;
    if (path && (rc = mproc__win_wide(path, &wide)) != 0)
        return rc;
    /* Not inheritable: spawn duplicates it for the one child it is for. */
    f = CreateFileW(wide ? wide : L"NUL", access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                    disposition, FILE_ATTRIBUTE_NORMAL, NULL);
    free(wide);
    if (f == INVALID_HANDLE_VALUE)
        return mproc__sys_error((long)GetLastError());
    *h = (mproc__handle)f;
    return 0;
}

int mproc__plat_check_dir(const char *path)
{
    wchar_t *wide;
    DWORD attrs;
    int rc = mproc__win_wide(path, &wide);
    if (rc != 0)
        return rc;
    attrs = GetFileAttributesW(wide);
    free(wide);
    if (attrs == INVALID_FILE_ATTRIBUTES)
        return mproc__sys_error((long)GetLastError());
    return attrs & FILE_ATTRIBUTE_DIRECTORY ? 0 : mproc__sys_error(ERROR_DIRECTORY);
}

/* The C runtime's copy of the environment (getenv) and the process's
 * (GetEnvironmentStrings, CreateProcess) both: _putenv_s sets both. */
int mproc__plat_setenv(const char *name, const char *value)
{
    if (!value) {
        mproc__plat_unsetenv(name);
        return 0;
    }
    return _putenv_s(name, value) != 0 ? mproc__error(MPROC_EINVAL) : 0;
}

int mproc__plat_chdir(const char *path)
{
    wchar_t *wide;
    BOOL ok;
    int rc = mproc__win_wide(path, &wide);
    if (rc != 0)
        return rc;
    ok = SetCurrentDirectoryW(wide);
    free(wide);
    return ok ? 0 : mproc__sys_error((long)GetLastError());
}

/* Only a fork's child changes its own streams, and Windows has no fork:
 * spawn gives them to CreateProcess. */
int mproc__plat_redirect_std(int which, mproc__handle h)
{
    (void)which;
    (void)h;
    return mproc__error(MPROC_ENOTSUP);
}
