/* Argument lists and the bootstrap record: typed access, bounds-checked decoding. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testutil.h"

static mproc_args *sample(void)
{
    mproc_args *a = mproc_args_new();
    static const unsigned char blob[] = {0, 1, 2, 255};
    mproc_args_add_i64(a, -1234567890123LL);
    mproc_args_add_f64(a, 3.25);
    mproc_args_add_str(a, "héllo");
    mproc_args_add_bytes(a, blob, sizeof blob);
    mproc_args_add_bytes(a, NULL, 0);
    mproc_args_add_str(a, "");
    return a;
}

static void check_sample(const mproc_args *a)
{
    size_t len = 99;
    const unsigned char *b;
    CU_ASSERT_EQUAL_FATAL(mproc_args_count(a), 6);
    CU_ASSERT_EQUAL(mproc_args_i64(a, 0), -1234567890123LL);
    CU_ASSERT_DOUBLE_EQUAL(mproc_args_f64(a, 1), 3.25, 0.0);
    CU_ASSERT_STRING_EQUAL(mproc_args_str(a, 2), "héllo");
    b = mproc_args_bytes(a, 3, &len);
    CU_ASSERT_EQUAL(len, 4);
    CU_ASSERT(b && b[0] == 0 && b[3] == 255);
    CU_ASSERT_PTR_NOT_NULL(mproc_args_bytes(a, 4, &len));
    CU_ASSERT_EQUAL(len, 0);
    CU_ASSERT_STRING_EQUAL(mproc_args_str(a, 5), "");
}

static void test_args_keep_typed_values(void)
{
    mproc_args *a = sample();
    check_sample(a);
    mproc_args_free(a);
}

static void test_args_wrong_type_or_index_is_einval(void)
{
    mproc_args *a = sample();
    size_t len = 7;
    CU_ASSERT_EQUAL(mproc_args_i64(a, 1), 0);
    CU_ASSERT_EQUAL(mproc_last_error(), MPROC_EINVAL);
    CU_ASSERT_PTR_NULL(mproc_args_str(a, 0));
    CU_ASSERT_EQUAL(mproc_last_error(), MPROC_EINVAL);
    CU_ASSERT_PTR_NULL(mproc_args_bytes(a, 2, &len));
    CU_ASSERT_EQUAL(len, 0);
    CU_ASSERT_DOUBLE_EQUAL(mproc_args_f64(a, 6), 0.0, 0.0);
    CU_ASSERT_EQUAL(mproc_last_error(), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_args_i64(NULL, 0), 0);
    CU_ASSERT_EQUAL(mproc_args_count(NULL), 0);
    mproc_args_free(a);
}

static void test_args_reject_null_input(void)
{
    mproc_args *a = mproc_args_new();
    CU_ASSERT_EQUAL(mproc_args_add_str(a, NULL), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_args_add_bytes(a, NULL, 3), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_args_add_i64(NULL, 1), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_args_count(a), 0);
    mproc_args_free(a);
    mproc_args_free(NULL);
}

static void test_args_copy_their_input(void)
{
    char text[] = "mutable";
    mproc_args *a = mproc_args_new();
    mproc_args_add_str(a, text);
    text[0] = 'X';
    CU_ASSERT_STRING_EQUAL(mproc_args_str(a, 0), "mutable");
    mproc_args_free(a);
}

static int encode_sample(mproc__buf *b)
{
    mproc__record rec = {MPROC__BOOT_RUN, "target_fn", "Process-7", 1, 4242, NULL, 0, MPROC__NO_HANDLE, NULL};
    mproc__encoded e;
    int rc;
    rec.args = sample();
    rc = mproc__record_encode(&e, &rec);
    mproc_args_free(rec.args);
    *b = e.buf;
    return rc;
}

static void test_record_round_trips(void)
{
    mproc__buf b;
    mproc__record rec;
    CU_ASSERT_EQUAL_FATAL(encode_sample(&b), 0);
    CU_ASSERT_EQUAL_FATAL(mproc__record_decode(b.data, b.len, NULL, 0, &rec), 0);
    CU_ASSERT_EQUAL(rec.kind, MPROC__BOOT_RUN);
    CU_ASSERT_STRING_EQUAL(rec.target, "target_fn");
    CU_ASSERT_STRING_EQUAL(rec.name, "Process-7");
    CU_ASSERT_EQUAL(rec.daemon, 1);
    CU_ASSERT_EQUAL(rec.parent_pid, 4242);
    check_sample(rec.args);
    mproc__record_clear(&rec);
    mproc__buf_free(&b);
}

/* A record with a child's attributes: variables set and removed, a
 * directory; truncated anywhere it is refused. */
static void test_record_with_attributes_round_trips(void)
{
    char *names[2] = {"ADDED", "GONE"}, *values[2] = {"value", NULL};
    mproc__child_attrs attrs = {2, names, values, "/some/dir", {MPROC__NO_HANDLE, MPROC__NO_HANDLE, MPROC__NO_HANDLE}};
    mproc__record rec = {MPROC__BOOT_RUN, "target_fn", "Process-7", 0, 4242, NULL, 0, MPROC__NO_HANDLE, &attrs};
    mproc__encoded e;
    mproc__record out;
    rec.args = sample();
    CU_ASSERT_EQUAL_FATAL(mproc__record_encode(&e, &rec), 0);
    mproc_args_free(rec.args);
    CU_ASSERT_STRING_EQUAL(e.cwd, "/some/dir");
    CU_ASSERT_EQUAL_FATAL(mproc__record_decode(e.buf.data, e.buf.len, NULL, 0, &out), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out.attrs);
    CU_ASSERT_EQUAL(out.attrs->n_env, 2);
    CU_ASSERT_STRING_EQUAL(out.attrs->env_names[0], "ADDED");
    CU_ASSERT_STRING_EQUAL(out.attrs->env_values[0], "value");
    CU_ASSERT_STRING_EQUAL(out.attrs->env_names[1], "GONE");
    CU_ASSERT_PTR_NULL(out.attrs->env_values[1]);
    CU_ASSERT_STRING_EQUAL(out.attrs->cwd, "/some/dir");
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(out.attrs->std[i], MPROC__NO_HANDLE);
    check_sample(out.args);
    mproc__record_clear(&out);
    for (size_t cut = 0; cut < e.buf.len; cut++) {
        unsigned char *p = malloc(cut ? cut : 1);
        memcpy(p, e.buf.data, cut);
        CU_ASSERT_EQUAL(mproc__record_decode(p, cut, NULL, 0, &out), MPROC_EBROKEN);
        free(p);
    }
    mproc__buf_free(&e.buf);
}

static void test_record_truncated_anywhere_is_ebroken(void)
{
    mproc__buf b;
    mproc__record rec;
    CU_ASSERT_EQUAL_FATAL(encode_sample(&b), 0);
    for (size_t cut = 0; cut < b.len; cut++) {
        /* A heap copy of exactly cut bytes: ASan catches any over-read. */
        unsigned char *p = malloc(cut ? cut : 1);
        memcpy(p, b.data, cut);
        CU_ASSERT_EQUAL(mproc__record_decode(p, cut, NULL, 0, &rec), MPROC_EBROKEN);
        free(p);
    }
    mproc__buf_free(&b);
}

static void test_record_with_trailing_bytes_is_ebroken(void)
{
    mproc__buf b;
    mproc__record rec;
    CU_ASSERT_EQUAL_FATAL(encode_sample(&b), 0);
    mproc__buf_u8(&b, 0);
    CU_ASSERT_EQUAL(mproc__record_decode(b.data, b.len, NULL, 0, &rec), MPROC_EBROKEN);
    mproc__buf_free(&b);
}

static void test_record_garbage_is_rejected(void)
{
    mproc__record rec;
    unsigned char p[512];
    unsigned seed = 12345;
    mproc__buf b;

    /* Flipping any single byte of a good record never crashes the decoder. */
    CU_ASSERT_EQUAL_FATAL(encode_sample(&b), 0);
    for (size_t i = 0; i < b.len; i++) {
        b.data[i] ^= 0xA5;
        if (mproc__record_decode(b.data, b.len, NULL, 0, &rec) == 0)
            mproc__record_clear(&rec);
        b.data[i] ^= 0xA5;
    }
    mproc__buf_free(&b);
    for (int round = 0; round < 2000; round++) {
        for (size_t i = 0; i < sizeof p; i++)
            p[i] = (unsigned char)((seed = seed * 1103515245u + 12345u) >> 16);
        CU_ASSERT_NOT_EQUAL(mproc__record_decode(p, sizeof p, NULL, 0, &rec), 0);
    }
}

static void test_record_huge_declared_length_is_not_allocated(void)
{
    /* magic, version, kind, then a string claiming 4 GiB. */
    static const unsigned char p[] = {'M', 'P', 'R', 'C', 1, 1, 0xff, 0xff, 0xff, 0xff, 'x'};
    mproc__record rec;
    CU_ASSERT_EQUAL(mproc__record_decode(p, sizeof p, NULL, 0, &rec), MPROC_EBROKEN);
}

static CU_TestInfo tests[] = {
    TU_TEST(test_args_keep_typed_values),
    TU_TEST(test_args_wrong_type_or_index_is_einval),
    TU_TEST(test_args_reject_null_input),
    TU_TEST(test_args_copy_their_input),
    TU_TEST(test_record_round_trips),
    TU_TEST(test_record_with_attributes_round_trips),
    TU_TEST(test_record_truncated_anywhere_is_ebroken),
    TU_TEST(test_record_with_trailing_bytes_is_ebroken),
    TU_TEST(test_record_garbage_is_rejected),
    TU_TEST(test_record_huge_declared_length_is_not_allocated),
    CU_TEST_INFO_NULL,
};

static void reg(void) { tu_add_suite("args", tests); }

int main(int argc, char **argv) { return tu_main(argc, argv, reg); }
