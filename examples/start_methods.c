/* Prints the start methods this OS offers and CPython's default for it. */
#include <stdio.h>

#include "mproc.h"

/* The library never prints; show its warnings and error details. */
static void log_to_stderr(int level, const char *msg, void *ud)
{
    (void)ud;
    fprintf(stderr, "mproc[%d]: %s\n", level, msg);
}

int main(int argc, char **argv)
{
    mproc_method methods[8];
    int n, rc;

    mproc_set_log_handler(log_to_stderr, NULL);
    rc = mproc_init(argc, argv);

    if (rc != 0) {
        fprintf(stderr, "mproc_init: %s\n", mproc_strerror(rc));
        return 1;
    }
    n = mproc_get_all_start_methods(methods, 8);
    printf("available start methods:");
    for (int i = 0; i < n && i < 8; i++)
        printf(" %s", mproc_method_name(methods[i]));
    printf("\ndefault for this OS: %s\n", mproc_method_name(mproc_default_start_method()));
    printf("in use (MPROC_START_METHOD or default): %s\n", mproc_method_name(mproc_get_start_method()));
    return 0;
}
