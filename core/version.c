/* The version of the library as built: the header's macros, compiled in,
 * so that a program can tell the library it runs with from the header it
 * was compiled with.  A leaf: calls nothing. */
#include "mproc.h"

unsigned mproc_version(void) { return (unsigned)MPROC_VERSION_HEX; }

const char *mproc_version_string(void) { return MPROC_VERSION_STRING; }
