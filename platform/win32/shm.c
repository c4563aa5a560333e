/*
 * Shared memory on Windows: a section backed by the paging file, with no
 * name.  Sections are zero-filled and live as long as some process holds a
 * handle to one or a view of it, so nothing outlives the last process even
 * when it is killed.  The section handle is what a child needs (duplicated
 * into it by handles.c).
 */
#include "win.h"

int mproc__plat_shm_create(size_t size, mproc__handle *h, void **ptr)
{
    ULARGE_INTEGER bytes;
    HANDLE section;
    int rc;

    bytes.QuadPart = size > 0 ? size : 1; /* a section cannot be empty */
    section = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, bytes.HighPart, bytes.LowPart, NULL);
    if (section == NULL)
        return mproc__sys_error((long)GetLastError());
    if ((rc = mproc__plat_shm_map((mproc__handle)section, size, ptr)) != 0) {
        CloseHandle(section);
        return rc;
    }
    *h = (mproc__handle)section;
    return 0;
}

int mproc__plat_shm_map(mproc__handle h, size_t size, void **ptr)
{
    /* A length of 0 maps the whole section. */
    void *p = MapViewOfFile((HANDLE)h, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, size);
    if (p == NULL)
        return mproc__sys_error((long)GetLastError());
    *ptr = p;
    return 0;
}

void mproc__plat_shm_unmap(void *ptr, size_t size)
{
    (void)size; /* a view is unmapped whole */
    if (ptr != NULL)
        UnmapViewOfFile(ptr);
}
