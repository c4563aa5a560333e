/*
 * Pipes on Windows: always named pipes.  Anonymous pipes are one-way and
 * cannot do overlapped I/O, so a read or write on them could not be given a
 * timeout; CPython's multiprocessing.connection.Pipe makes the same choice.
 */
#define _CRT_RAND_S /* rand_s, for pipe names others cannot guess */

#include <stdio.h>
#include <stdlib.h>

#include "win.h"

#define PIPE_BUFFER 65536
#define PIPE_NAME_ATTEMPTS 10

/* The name is unique (pid, counter) and unguessable (random), the pipe has
 * one instance and refuses remote clients, and FILE_FLAG_FIRST_PIPE_INSTANCE
 * makes the creation fail if another process already owns the name.  Once
 * our CreateFileW succeeded the single instance is ours, so no one else can
 * be connected to the server end. */
int mproc__win_pipe_pair(DWORD server_mode, DWORD client_access, DWORD server_flags, DWORD client_flags,
                         int client_inheritable, HANDLE *server, HANDLE *client)
{
    static volatile LONG counter;
    SECURITY_ATTRIBUTES inheritable = {sizeof inheritable, NULL, TRUE};
    wchar_t name[96];
    DWORD err;

    *server = *client = NULL;
    for (int attempt = 1;; attempt++) {
        unsigned r1 = 0, r2 = 0;
        (void)rand_s(&r1);
        (void)rand_s(&r2);
        swprintf(name, sizeof name / sizeof name[0], L"\\\\.\\pipe\\mproc-%lu-%ld-%08x%08x", GetCurrentProcessId(),
                 InterlockedIncrement(&counter), r1, r2);
        *server = CreateNamedPipeW(name, server_mode | server_flags | FILE_FLAG_FIRST_PIPE_INSTANCE,
                                   PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1,
                                   PIPE_BUFFER, PIPE_BUFFER, 0, NULL);
        if (*server != INVALID_HANDLE_VALUE)
            break;
        err = GetLastError();
        *server = NULL;
        /* ERROR_ACCESS_DENIED: the name exists already; try another. */
        if (err != ERROR_ACCESS_DENIED || attempt == PIPE_NAME_ATTEMPTS)
            return mproc__sys_error((long)err);
    }
    *client = CreateFileW(name, client_access, 0, client_inheritable ? &inheritable : NULL, OPEN_EXISTING, client_flags,
                          NULL);
    if (*client == INVALID_HANDLE_VALUE) {
        err = GetLastError();
        *client = NULL;
        CloseHandle(*server);
        *server = NULL;
        return mproc__sys_error((long)err);
    }
    return 0;
}

/* h[0] is the server end: the read end of a one-way pipe, overlapped (a
 * read with timeout < 0 waits in the read).  The write end is overlapped
 * for timed writes; a BLOCKING pipe's is not: it is only written with
 * timeout < 0 (a synchronous handle completes an overlapped call before
 * returning), and it can be a child's standard stream, which the C
 * runtime writes without an OVERLAPPED, as Windows allows only on a
 * synchronous handle (the CreatePipe handles CPython's subprocess uses). */
int mproc__plat_pipe(int flags, mproc__handle h[2])
{
    HANDLE server, client;
    DWORD client_flags = flags & MPROC__PIPE_BLOCKING ? 0 : FILE_FLAG_OVERLAPPED;
    int rc = mproc__win_pipe_pair(PIPE_ACCESS_INBOUND, GENERIC_WRITE, FILE_FLAG_OVERLAPPED, client_flags, 0, &server,
                                  &client);
    if (rc != 0)
        return rc;
    h[0] = (mproc__handle)server;
    h[1] = (mproc__handle)client;
    return 0;
}
