/* le_bytes.h — little-endian field access for the file formats we write
 * (session state, sampler state): byte by byte, so alignment and host byte
 * order never matter. */
#ifndef SL_CORE_LE_BYTES_H
#define SL_CORE_LE_BYTES_H

#include <stdint.h>
#include <string.h>

static inline void sl_put_u32(unsigned char *b, uint32_t v) {
    for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
}
static inline void sl_put_u64(unsigned char *b, uint64_t v) {
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}
static inline uint32_t sl_get_u32(const unsigned char *b) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)b[i] << (8 * i);
    return v;
}
static inline uint64_t sl_get_u64(const unsigned char *b) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)b[i] << (8 * i);
    return v;
}
static inline void sl_put_f32(unsigned char *b, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    sl_put_u32(b, u);
}
static inline float sl_get_f32(const unsigned char *b) {
    uint32_t u = sl_get_u32(b);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

#endif
