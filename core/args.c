/*
 * Argument lists.  In memory: an array of tagged values.  Across an exec:
 * encoded into the bootstrap record as [u32 count] then per value
 * [u8 type][payload] (i64/f64 as 8 bytes, str/bytes length-prefixed), so
 * every start method and platform shares one format.
 *
 * Shareable objects (shared memory, pipes, locks, queues, ...) travel by
 * reference under fork (the child's copy of memory and descriptors) and
 * thread (the same object), and by export/import under spawn and
 * forkserver: [u8 kind][u32 first handle][u32 handle count][u32 size][bytes],
 * the handles themselves going beside the record (core/platform.h).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum { ARG_I64 = 1, ARG_F64, ARG_STR, ARG_BYTES, ARG_OBJECT };

#define ARGS_MAX_COUNT 65536u
#define ARGS_MAX_BYTES ((size_t)1 << 30)

typedef struct {
    int type;
    union {
        int64_t i64;
        double f64;
        struct {
            void *ptr;
            size_t len;
        } blob;
        struct {
            int kind;
            void *ptr;
            int owned; /* imported in this child: freed with the args */
        } obj;
    } u;
} arg;

struct mproc_args {
    mproc__obj obj;
    arg *v;
    size_t n, cap;
    size_t bytes; /* encoded size of the blobs, bounded by ARGS_MAX_BYTES */
};
MPROC__TAG_FIRST(struct mproc_args);

mproc_args *mproc_args_new(void)
{
    mproc_args *a = calloc(1, sizeof *a);
    if (!a)
        return mproc__null(MPROC_ENOMEM);
    mproc__obj_init(&a->obj, MPROC__T_ARGS);
    return a;
}

static arg *push(mproc_args *a, int type, size_t blob_len)
{
    if (a->n >= ARGS_MAX_COUNT || blob_len > ARGS_MAX_BYTES - a->bytes) {
        mproc__error(MPROC_ETOOBIG);
        return NULL;
    }
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 4;
        arg *v = realloc(a->v, cap * sizeof *v);
        if (!v) {
            mproc__error(MPROC_ENOMEM);
            return NULL;
        }
        a->v = v;
        a->cap = cap;
    }
    a->bytes += blob_len;
    a->v[a->n].type = type;
    return &a->v[a->n++];
}

int mproc_args_add_i64(mproc_args *a, int64_t v)
{
    arg *x;
    if (!mproc__is(a, MPROC__T_ARGS))
        return mproc__error(MPROC_EINVAL);
    if (!(x = push(a, ARG_I64, 0)))
        return mproc_last_error();
    x->u.i64 = v;
    return 0;
}

int mproc_args_add_f64(mproc_args *a, double v)
{
    arg *x;
    if (!mproc__is(a, MPROC__T_ARGS))
        return mproc__error(MPROC_EINVAL);
    if (!(x = push(a, ARG_F64, 0)))
        return mproc_last_error();
    x->u.f64 = v;
    return 0;
}

static int add_blob(mproc_args *a, int type, const void *data, size_t len)
{
    void *copy;
    arg *x;

    /* One extra byte keeps strings NUL-terminated and makes len 0 valid. */
    if (len >= ARGS_MAX_BYTES)
        return mproc__error(MPROC_ETOOBIG);
    if (!(copy = malloc(len + 1)))
        return mproc__error(MPROC_ENOMEM);
    if (len)
        memcpy(copy, data, len);
    ((char *)copy)[len] = '\0';
    if (!(x = push(a, type, len))) {
        free(copy);
        return mproc_last_error();
    }
    x->u.blob.ptr = copy;
    x->u.blob.len = len;
    return 0;
}

int mproc_args_add_str(mproc_args *a, const char *str)
{
    if (!mproc__is(a, MPROC__T_ARGS) || !str)
        return mproc__error(MPROC_EINVAL);
    return add_blob(a, ARG_STR, str, strlen(str));
}

int mproc_args_add_bytes(mproc_args *a, const void *data, size_t len)
{
    if (!mproc__is(a, MPROC__T_ARGS) || (!data && len > 0))
        return mproc__error(MPROC_EINVAL);
    return add_blob(a, ARG_BYTES, data, len);
}

size_t mproc_args_count(const mproc_args *a)
{
    if (!mproc__is(a, MPROC__T_ARGS)) {
        mproc__error(MPROC_EINVAL);
        return 0;
    }
    return a->n;
}

static const arg *get(const mproc_args *a, size_t i, int type)
{
    if (!mproc__is(a, MPROC__T_ARGS) || i >= a->n || a->v[i].type != type) {
        mproc__error(MPROC_EINVAL);
        return NULL;
    }
    return &a->v[i];
}

int64_t mproc_args_i64(const mproc_args *a, size_t i)
{
    const arg *x = get(a, i, ARG_I64);
    return x ? x->u.i64 : 0;
}

double mproc_args_f64(const mproc_args *a, size_t i)
{
    const arg *x = get(a, i, ARG_F64);
    return x ? x->u.f64 : 0.0;
}

const char *mproc_args_str(const mproc_args *a, size_t i)
{
    const arg *x = get(a, i, ARG_STR);
    return x ? x->u.blob.ptr : NULL;
}

const void *mproc_args_bytes(const mproc_args *a, size_t i, size_t *len)
{
    const arg *x = get(a, i, ARG_BYTES);
    if (len)
        *len = x ? x->u.blob.len : 0;
    return x ? x->u.blob.ptr : NULL;
}

void mproc_args_free(mproc_args *a)
{
    if (!mproc__is(a, MPROC__T_ARGS))
        return;
    for (size_t i = 0; i < a->n; i++) {
        if (a->v[i].type == ARG_STR || a->v[i].type == ARG_BYTES)
            free(a->v[i].u.blob.ptr);
        else if (a->v[i].type == ARG_OBJECT && a->v[i].u.obj.owned)
            mproc__objtypes[a->v[i].u.obj.kind]->release(a->v[i].u.obj.ptr);
    }
    free(a->v);
    mproc__obj_clear(&a->obj);
    free(a);
}

int mproc__args_add_object(mproc_args *a, int kind, void *obj)
{
    arg *x;
    if (!mproc__is(a, MPROC__T_ARGS) || !mproc__object_is(kind, obj))
        return mproc__error(MPROC_EINVAL);
    if (!(x = push(a, ARG_OBJECT, 0)))
        return mproc_last_error();
    x->u.obj.kind = kind;
    x->u.obj.ptr = obj;
    x->u.obj.owned = 0;
    return 0;
}

int mproc__args_check_for_process(const mproc_args *a, const char *method)
{
    for (size_t i = 0; a && i < a->n; i++) {
        const arg *x = &a->v[i];
        const char *what = x->type == ARG_OBJECT ? mproc__object_in_process(x->u.obj.kind, x->u.obj.ptr) : NULL;
        if (what)
            return mproc__errorf(MPROC_ENOTSUP,
                                 "argument %zu is %s, which lives in this process only: it cannot be passed to a "
                                 "%s child (make it with a process context, or NULL)",
                                 i, what, method);
    }
    return 0;
}

void *mproc__args_object(const mproc_args *a, size_t i, int kind)
{
    const arg *x = get(a, i, ARG_OBJECT);
    if (x && x->u.obj.kind != kind) {
        mproc__error(MPROC_EINVAL);
        return NULL;
    }
    return x ? x->u.obj.ptr : NULL;
}

int mproc__args_append(mproc_args *dst, const mproc_args *src)
{
    for (size_t i = 0; src && i < src->n; i++) {
        const arg *x = &src->v[i];
        int rc;
        switch (x->type) {
        case ARG_I64: rc = mproc_args_add_i64(dst, x->u.i64); break;
        case ARG_F64: rc = mproc_args_add_f64(dst, x->u.f64); break;
        case ARG_STR: rc = add_blob(dst, ARG_STR, x->u.blob.ptr, x->u.blob.len); break;
        case ARG_BYTES: rc = add_blob(dst, ARG_BYTES, x->u.blob.ptr, x->u.blob.len); break;
        default: rc = mproc__args_add_object(dst, x->u.obj.kind, x->u.obj.ptr); break;
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

mproc_args *mproc__args_split(mproc_args *a, size_t k)
{
    mproc_args *tail = mproc_args_new();
    size_t moved = 0;
    if (!tail)
        return NULL;
    for (size_t i = k; i < a->n; i++) {
        size_t len = a->v[i].type == ARG_STR || a->v[i].type == ARG_BYTES ? a->v[i].u.blob.len : 0;
        arg *x = push(tail, a->v[i].type, len);
        if (!x) {
            /* Nothing moved yet is lost: the values still belong to a. */
            tail->n = 0;
            mproc_args_free(tail);
            return NULL;
        }
        *x = a->v[i];
        moved += len;
    }
    a->bytes -= moved;
    if (k < a->n)
        a->n = k;
    return tail;
}

/* An object's export, framed so a decoder can bound what it reads. */
static int encode_object(const arg *x, mproc__buf *b, mproc__handle *hs, size_t *nh)
{
    mproc__buf body = {0};
    size_t first = *nh;
    int rc = mproc__objtypes[x->u.obj.kind]->export_to(x->u.obj.ptr, &body, hs, nh, MPROC__MAX_HANDLES);
    if (rc == 0 && body.failed)
        rc = MPROC_ENOMEM;
    if (rc == 0) {
        mproc__buf_u8(b, (uint8_t)x->u.obj.kind);
        mproc__buf_u32(b, (uint32_t)first);
        mproc__buf_u32(b, (uint32_t)(*nh - first));
        mproc__buf_u32(b, (uint32_t)body.len);
        mproc__buf_bytes(b, body.data, body.len);
    }
    mproc__buf_free(&body);
    return rc;
}

int mproc__args_encode(const mproc_args *a, mproc__buf *b, mproc__handle *hs, size_t *nh)
{
    size_t n = a ? a->n : 0; /* a process may have no arguments */
    int rc = 0;
    *nh = 0;
    mproc__buf_u32(b, (uint32_t)n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const arg *x = &a->v[i];
        mproc__buf_u8(b, (uint8_t)x->type);
        switch (x->type) {
        case ARG_OBJECT: rc = encode_object(x, b, hs, nh); break;
        case ARG_I64: mproc__buf_u64(b, (uint64_t)x->u.i64); break;
        case ARG_F64: {
            uint64_t bits;
            memcpy(&bits, &x->u.f64, sizeof bits);
            mproc__buf_u64(b, bits);
            break;
        }
        default:
            mproc__buf_u32(b, (uint32_t)x->u.blob.len);
            mproc__buf_bytes(b, x->u.blob.ptr, x->u.blob.len);
            break;
        }
    }
    return rc;
}

static int decode_object(mproc__reader *r, mproc_args *a, const mproc__handle *hs, size_t nh, size_t *used)
{
    uint8_t kind = mproc__rd_u8(r);
    uint32_t first = mproc__rd_u32(r), count = mproc__rd_u32(r), size = mproc__rd_u32(r);
    const void *body = mproc__rd_bytes(r, size);
    mproc__reader sub = {body, size, 0, 0};
    void *obj;
    arg *x;

    /* Objects use the handles in order, each its own slice. */
    if (r->bad || kind == 0 || kind >= MPROC__OBJ_COUNT || !mproc__objtypes[kind] || first != *used ||
        count > nh - first) {
        r->bad = 1;
        return MPROC_EBROKEN;
    }
    obj = mproc__objtypes[kind]->import_from(&sub, hs + first, count);
    *used = first + count; /* taken, by the object or closed */
    if (!obj || sub.bad || sub.pos != sub.len) {
        if (obj)
            mproc__objtypes[kind]->release(obj);
        r->bad = 1;
        return obj ? MPROC_EBROKEN : mproc_last_error();
    }
    if (!(x = push(a, ARG_OBJECT, 0))) {
        mproc__objtypes[kind]->release(obj);
        return mproc_last_error();
    }
    x->u.obj.kind = kind;
    x->u.obj.ptr = obj;
    x->u.obj.owned = 1;
    mproc__obj_make_inner(obj); /* the args free it */
    return 0;
}

mproc_args *mproc__args_decode(mproc__reader *r, const mproc__handle *hs, size_t nh)
{
    /* No handles may come as NULL: every slice below (hs + first) must
     * point into an array, even an empty one (NULL + 0 is undefined). */
    static const mproc__handle none[1] = {MPROC__NO_HANDLE};
    uint32_t n = mproc__rd_u32(r);
    mproc_args *a = NULL;
    size_t used = 0;
    int rc = 0;

    if (!hs) {
        hs = none;
        nh = 0;
    }

    if (r->bad || n > ARGS_MAX_COUNT || !(a = mproc_args_new())) {
        if (!a)
            r->bad = 1;
        goto failed;
    }
    mproc__obj_make_inner((mproc__obj *)a); /* the child's runtime frees them after the target */
    for (uint32_t i = 0; i < n && rc == 0 && !r->bad; i++) {
        uint8_t type = mproc__rd_u8(r);
        if (type == ARG_I64) {
            rc = mproc_args_add_i64(a, (int64_t)mproc__rd_u64(r));
        } else if (type == ARG_F64) {
            uint64_t bits = mproc__rd_u64(r);
            double v;
            memcpy(&v, &bits, sizeof v);
            rc = mproc_args_add_f64(a, v);
        } else if (type == ARG_STR || type == ARG_BYTES) {
            uint32_t len = mproc__rd_u32(r);
            const void *p = mproc__rd_bytes(r, len);
            if (!p)
                break;
            if (type == ARG_STR && memchr(p, '\0', len))
                r->bad = 1;
            else
                rc = add_blob(a, type, p, len);
        } else if (type == ARG_OBJECT) {
            rc = decode_object(r, a, hs, nh, &used);
        } else {
            r->bad = 1;
        }
    }
    if (!r->bad && rc == 0 && used == nh)
        return a;
    r->bad = 1;
failed:
    /* Handles no object took must not leak into the child. */
    for (size_t i = used; i < nh; i++)
        mproc__plat_close(hs[i]);
    mproc_args_free(a);
    return NULL;
}
