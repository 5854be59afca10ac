/* gguf_get.c — typed access to parsed metadata, and the GGUF value-type table.
 * Getters convert between integer widths only when the value fits, so a
 * model reading an int32 key written as uint64 by some converter still works,
 * while a negative count or an out-of-range id is an error naming the key. */
#include "gguf/gguf.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"

static const struct {
    const char *name;
    size_t size;
} VALUE_TYPES[SL_GGUF_TYPE_COUNT] = {
    [SL_GGUF_UINT8] = {"uint8", 1},     [SL_GGUF_INT8] = {"int8", 1},
    [SL_GGUF_UINT16] = {"uint16", 2},   [SL_GGUF_INT16] = {"int16", 2},
    [SL_GGUF_UINT32] = {"uint32", 4},   [SL_GGUF_INT32] = {"int32", 4},
    [SL_GGUF_FLOAT32] = {"float32", 4}, [SL_GGUF_BOOL] = {"bool", 1},
    [SL_GGUF_STRING] = {"string", 0},   [SL_GGUF_ARRAY] = {"array", 0},
    [SL_GGUF_UINT64] = {"uint64", 8},   [SL_GGUF_INT64] = {"int64", 8},
    [SL_GGUF_FLOAT64] = {"float64", 8},
};

const char *sl_gguf_type_name(sl_gguf_type t) {
    return (unsigned)t < SL_GGUF_TYPE_COUNT ? VALUE_TYPES[t].name : "unknown";
}

size_t sl_gguf_type_size(sl_gguf_type t) {
    return (unsigned)t < SL_GGUF_TYPE_COUNT ? VALUE_TYPES[t].size : 0;
}

bool sl_gguf_str_eq(sl_gguf_str s, const char *c) {
    size_t n = strlen(c);
    return s.len == n && (n == 0 || memcmp(s.ptr, c, n) == 0);
}

static bool is_unsigned(sl_gguf_type t) {
    return t == SL_GGUF_UINT8 || t == SL_GGUF_UINT16 || t == SL_GGUF_UINT32 || t == SL_GGUF_UINT64;
}

static bool is_signed(sl_gguf_type t) {
    return t == SL_GGUF_INT8 || t == SL_GGUF_INT16 || t == SL_GGUF_INT32 || t == SL_GGUF_INT64;
}

static sl_status wrong_type(const sl_gguf *g, const sl_gguf_kv *kv, const char *key,
                            const char *want, sl_error *err) {
    const char *have = kv->type == SL_GGUF_ARRAY ? "an array" : sl_gguf_type_name(kv->type);
    return sl_fail(err, SL_ERR_FORMAT, "%s: key '%s' is %s, expected %s", g->path, key, have,
                   want);
}

/* Looks key up; NOT_FOUND leaves err alone so callers can treat absence as a default. */
static sl_status lookup(const sl_gguf *g, const char *key, const sl_gguf_kv **kv) {
    *kv = sl_gguf_find(g, key);
    return *kv ? SL_OK : SL_ERR_NOT_FOUND;
}

sl_status sl_gguf_get_i64(const sl_gguf *g, const char *key, int64_t *out, sl_error *err) {
    const sl_gguf_kv *kv;
    if (lookup(g, key, &kv)) return SL_ERR_NOT_FOUND;
    if (is_signed(kv->type)) {
        *out = kv->v.i64;
        return SL_OK;
    }
    if (!is_unsigned(kv->type)) return wrong_type(g, kv, key, "an integer", err);
    if (kv->v.u64 > (uint64_t)INT64_MAX)
        return sl_fail(err, SL_ERR_FORMAT, "%s: key '%s' = %llu does not fit in int64", g->path,
                       key, (unsigned long long)kv->v.u64);
    *out = (int64_t)kv->v.u64;
    return SL_OK;
}

sl_status sl_gguf_get_u32(const sl_gguf *g, const char *key, uint32_t *out, sl_error *err) {
    const sl_gguf_kv *kv;
    if (lookup(g, key, &kv)) return SL_ERR_NOT_FOUND;
    if (is_signed(kv->type)) {
        if (kv->v.i64 < 0 || kv->v.i64 > (int64_t)UINT32_MAX)
            return sl_fail(err, SL_ERR_FORMAT, "%s: key '%s' = %lld does not fit in uint32",
                           g->path, key, (long long)kv->v.i64);
        *out = (uint32_t)kv->v.i64;
        return SL_OK;
    }
    if (!is_unsigned(kv->type)) return wrong_type(g, kv, key, "an integer", err);
    if (kv->v.u64 > UINT32_MAX)
        return sl_fail(err, SL_ERR_FORMAT, "%s: key '%s' = %llu does not fit in uint32", g->path,
                       key, (unsigned long long)kv->v.u64);
    *out = (uint32_t)kv->v.u64;
    return SL_OK;
}

sl_status sl_gguf_get_f32(const sl_gguf *g, const char *key, float *out, sl_error *err) {
    const sl_gguf_kv *kv;
    if (lookup(g, key, &kv)) return SL_ERR_NOT_FOUND;
    if (kv->type != SL_GGUF_FLOAT32 && kv->type != SL_GGUF_FLOAT64)
        return wrong_type(g, kv, key, "float32 or float64", err);
    /* Converting a finite double beyond FLT_MAX to float is undefined in C. */
    if (isfinite(kv->v.f64) && fabs(kv->v.f64) > FLT_MAX)
        return sl_fail(err, SL_ERR_FORMAT, "%s: key '%s' = %g does not fit in float32", g->path,
                       key, kv->v.f64);
    *out = (float)kv->v.f64;
    return SL_OK;
}

sl_status sl_gguf_get_bool(const sl_gguf *g, const char *key, bool *out, sl_error *err) {
    const sl_gguf_kv *kv;
    if (lookup(g, key, &kv)) return SL_ERR_NOT_FOUND;
    if (kv->type != SL_GGUF_BOOL) return wrong_type(g, kv, key, "bool", err);
    *out = kv->v.u64 != 0;
    return SL_OK;
}

sl_status sl_gguf_get_str(const sl_gguf *g, const char *key, sl_gguf_str *out, sl_error *err) {
    const sl_gguf_kv *kv;
    if (lookup(g, key, &kv)) return SL_ERR_NOT_FOUND;
    if (kv->type != SL_GGUF_STRING) return wrong_type(g, kv, key, "string", err);
    *out = kv->v.str;
    return SL_OK;
}

sl_status sl_gguf_get_arr(const sl_gguf *g, const char *key, sl_gguf_type want,
                          const sl_gguf_kv **out, sl_error *err) {
    const sl_gguf_kv *kv;
    if (lookup(g, key, &kv)) return SL_ERR_NOT_FOUND;
    if (kv->type != SL_GGUF_ARRAY) {
        char what[48];
        if (want == SL_GGUF_TYPE_COUNT)
            snprintf(what, sizeof what, "an array");
        else
            snprintf(what, sizeof what, "an array of %s", sl_gguf_type_name(want));
        return wrong_type(g, kv, key, what, err);
    }
    if (want != SL_GGUF_TYPE_COUNT && kv->arr_type != want)
        return sl_fail(err, SL_ERR_FORMAT, "%s: key '%s' is an array of %s, expected %s",
                       g->path, key, sl_gguf_type_name(kv->arr_type), sl_gguf_type_name(want));
    *out = kv;
    return SL_OK;
}
