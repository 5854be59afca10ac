/* type_table.c — names and block geometry of every ggml type id, plus the
 * lookups the rest of the library uses. The kernels (to_float, from_float,
 * vec_dot) are filled in by kernels/ref and the per-ISA dispatch; see
 * quant.h. Block sizes and byte counts are GGUF's. */
#include "tensor/quant.h"

#include <ctype.h>
#include <string.h>

typedef struct {
    const char *name;
    int blck_size;
    size_t type_size;
} type_geometry;

/* Index = ggml type id. Zero rows are ids we do not know. */
static const type_geometry GEOMETRY[SL_TYPE_COUNT] = {
    [SL_TYPE_F32] = {"f32", 1, 4},
    [SL_TYPE_F16] = {"f16", 1, 2},
    [SL_TYPE_Q4_0] = {"q4_0", 32, 18},
    [SL_TYPE_Q4_1] = {"q4_1", 32, 20},
    [SL_TYPE_Q5_0] = {"q5_0", 32, 22},
    [SL_TYPE_Q5_1] = {"q5_1", 32, 24},
    [SL_TYPE_Q8_0] = {"q8_0", 32, 34},
    [SL_TYPE_Q8_1] = {"q8_1", 32, 36},
    [SL_TYPE_Q2_K] = {"q2_k", 256, 84},
    [SL_TYPE_Q3_K] = {"q3_k", 256, 110},
    [SL_TYPE_Q4_K] = {"q4_k", 256, 144},
    [SL_TYPE_Q5_K] = {"q5_k", 256, 176},
    [SL_TYPE_Q6_K] = {"q6_k", 256, 210},
    [SL_TYPE_Q8_K] = {"q8_k", 256, 292},
    [16] = {"iq2_xxs", 256, 66},
    [17] = {"iq2_xs", 256, 74},
    [18] = {"iq3_xxs", 256, 98},
    [19] = {"iq1_s", 256, 50},
    [20] = {"iq4_nl", 32, 18},
    [21] = {"iq3_s", 256, 110},
    [22] = {"iq2_s", 256, 82},
    [23] = {"iq4_xs", 256, 136},
    [24] = {"i8", 1, 1},
    [25] = {"i16", 1, 2},
    [26] = {"i32", 1, 4},
    [27] = {"i64", 1, 8},
    [28] = {"f64", 1, 8},
    [29] = {"iq1_m", 256, 56},
    [SL_TYPE_BF16] = {"bf16", 1, 2},
};

const char *sl_type_name(uint32_t type) {
    if (type >= SL_TYPE_COUNT || !GEOMETRY[type].name) return "unknown";
    return GEOMETRY[type].name;
}

int sl_type_from_name(const char *name) {
    for (int t = 0; t < SL_TYPE_COUNT; t++) {
        const char *n = GEOMETRY[t].name;
        if (!n) continue;
        size_t i = 0;
        while (n[i] && name[i] && tolower((unsigned char)name[i]) == n[i]) i++;
        if (!n[i] && !name[i]) return t;
    }
    return -1;
}

/* Block geometry for any known id, including ones we cannot run, so the GGUF
 * reader can validate sizes of every tensor and name unsupported ones. */
int sl_type_block_size(uint32_t type) {
    return type < SL_TYPE_COUNT && GEOMETRY[type].name ? GEOMETRY[type].blck_size : 0;
}
size_t sl_type_block_bytes(uint32_t type) {
    return type < SL_TYPE_COUNT && GEOMETRY[type].name ? GEOMETRY[type].type_size : 0;
}

size_t sl_row_size(uint32_t type, int64_t n) {
    int bs = sl_type_block_size(type);
    if (bs == 0 || n < 0 || n % bs != 0) return 0;
    return (size_t)(n / bs) * sl_type_block_bytes(type);
}
