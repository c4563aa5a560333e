/* mproc-info: what this mproc is, for a bug report or the first lines of a
 * CI log.  The version of the library linked (and of the header compiled
 * against), the OS and compiler it was built for and with, the start
 * methods this OS has and the default, the CPU count, and every
 * MPROC_HAVE_* feature cmake/features.cmake detected ("no": the fallback is
 * compiled in).  Text, or JSON with --json.
 *
 *   mproc-info [--json]
 *
 * The features come from the generated mproc_config.h, which is not
 * installed: this program is built with the library, in the same build, so
 * what it prints is what that build compiled.  The library has no call for
 * them: a program needs none (every feature has a fallback that behaves the
 * same, only slower or with a wider window); they matter to someone reading
 * a log. */
#include <stdio.h>
#include <string.h>

#include "mproc.h"
#include "mproc_config.h"

/* The compiler, from its predefined macros (clang also defines __GNUC__,
 * and clang-cl _MSC_VER: clang is asked first). */
#define STR2(x) #x
#define STR(x) STR2(x)
#if defined(__clang__)
#define COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define COMPILER "gcc " __VERSION__
#elif defined(_MSC_VER)
#define COMPILER "MSVC " STR(_MSC_FULL_VER)
#else
#define COMPILER "unknown"
#endif

/* Whether the library linked is the DLL/shared object: mproc_shared gives
 * its users MPROC_SHARED (mproc.h's dllimport switch). */
#if defined(MPROC_SHARED)
#define LIBRARY_KIND "shared"
#else
#define LIBRARY_KIND "static"
#endif

/* From CMake (tools/CMakeLists.txt): the system built for, and the
 * build type ("" when none was chosen). */
#ifndef MPROC_INFO_SYSTEM
#define MPROC_INFO_SYSTEM "unknown"
#endif
#ifndef MPROC_INFO_BUILD_TYPE
#define MPROC_INFO_BUILD_TYPE ""
#endif

struct feature {
    const char *name;
    int have;
};

#define FEATURE(name, have) {#name, have},
static const struct feature features[] = {MPROC_CONFIG_FEATURES(FEATURE)};
#define NFEATURES (sizeof features / sizeof features[0])

static const char *os_name(void)
{
    switch ((mproc_os)MPROC_CONFIG_OS) {
    case MPROC_OS_LINUX: return "linux";
    case MPROC_OS_MACOS: return "macos";
    case MPROC_OS_WINDOWS: return "windows";
    case MPROC_OS_BSD: return "bsd";
    }
    return "unknown";
}

/* The compiler's name without the trailing space __clang_version__ has. */
static const char *compiler(void)
{
    static char buf[256];
    size_t len;

    snprintf(buf, sizeof buf, "%s", COMPILER);
    len = strlen(buf);
    while (len > 0 && buf[len - 1] == ' ')
        buf[--len] = '\0';
    return buf;
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

/* The methods this OS has, the default first (mproc_get_all_start_methods'
 * order); n is how many. */
static int methods(mproc_method *out, int cap)
{
    int n = mproc_get_all_start_methods(out, cap);
    return n < 0 ? 0 : n > cap ? cap : n;
}

static void print_text(void)
{
    mproc_method all[8];
    int n = methods(all, 8);
    mproc_method current = mproc_get_start_method();
    unsigned v = mproc_version();

    printf("mproc %s (%s library, version 0x%06x; compiled against mproc.h %s)\n", mproc_version_string(),
           LIBRARY_KIND, v, MPROC_VERSION_STRING);
    printf("  built for       %s (%s)\n", os_name(), MPROC_INFO_SYSTEM);
    printf("  compiler        %s\n", compiler());
    printf("  build type      %s\n", MPROC_INFO_BUILD_TYPE[0] ? MPROC_INFO_BUILD_TYPE : "(none)");
    printf("  CPUs            %d\n", mproc_cpu_count());
    printf("  start methods  ");
    for (int i = 0; i < n; i++)
        printf(" %s%s%s", mproc_method_name(all[i]), all[i] == mproc_default_start_method() ? " (default)" : "",
               i + 1 < n ? "," : "");
    printf("\n  in use          %s\n",
           current ? mproc_method_name(current) : "none: MPROC_START_METHOD names no start method");
    printf("  features        (cmake/features.cmake; no: the fallback is compiled in%s)\n",
           MPROC_FORCED_FALLBACKS ? "; MPROC_FORCE_FALLBACKS turned all off" : "");
    for (size_t i = 0; i < NFEATURES; i++)
        printf("    %-24s %s\n", features[i].name, features[i].have ? "yes" : "no");
}

static void print_json(void)
{
    mproc_method all[8];
    int n = methods(all, 8);
    mproc_method current = mproc_get_start_method();

    printf("{\n  \"version\": ");
    json_string(mproc_version_string());
    printf(",\n  \"version_hex\": %u,\n  \"header_version\": ", mproc_version());
    json_string(MPROC_VERSION_STRING);
    printf(",\n  \"header_version_hex\": %u,\n  \"library\": ", (unsigned)MPROC_VERSION_HEX);
    json_string(LIBRARY_KIND);
    printf(",\n  \"os\": ");
    json_string(os_name());
    printf(",\n  \"system\": ");
    json_string(MPROC_INFO_SYSTEM);
    printf(",\n  \"compiler\": ");
    json_string(compiler());
    printf(",\n  \"build_type\": ");
    json_string(MPROC_INFO_BUILD_TYPE);
    printf(",\n  \"cpu_count\": %d,\n  \"start_methods\": {\n    \"available\": [", mproc_cpu_count());
    for (int i = 0; i < n; i++) {
        fputs(i ? ", " : "", stdout);
        json_string(mproc_method_name(all[i]));
    }
    printf("],\n    \"default\": ");
    json_string(mproc_method_name(mproc_default_start_method()));
    printf(",\n    \"in_use\": ");
    if (current)
        json_string(mproc_method_name(current));
    else
        printf("null");
    printf("\n  },\n  \"forced_fallbacks\": %s,\n  \"features\": {", MPROC_FORCED_FALLBACKS ? "true" : "false");
    for (size_t i = 0; i < NFEATURES; i++) {
        printf("%s\n    ", i ? "," : "");
        json_string(features[i].name);
        printf(": %s", features[i].have ? "true" : "false");
    }
    printf("\n  }\n}\n");
}

static void usage(FILE *to)
{
    fprintf(to, "usage: mproc-info [--json]\n"
                "Prints mproc's version, the OS and compiler it was built for and with, the\n"
                "start methods and their default, the CPU count and the features detected\n"
                "at build time; as JSON with --json.\n");
}

int main(int argc, char **argv)
{
    int json = 0;

    /* Only records argv here (this program starts no process); an invalid
     * MPROC_START_METHOD is shown as "in use: none", not an error. */
    (void)mproc_init(argc, argv);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "mproc-info: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (json)
        print_json();
    else
        print_text();
    return fflush(stdout) == 0 ? 0 : 1;
}
