/* attn_dispatch.c — picks the attention inner loops once, following the
 * weight kernels' CPU detection (kernels/dispatch.c), so SL_FORCE_REF=1
 * forces the scalar references here too. */
#include <stddef.h>

#include "kernels/attn_kernels.h"
#include "kernels/quant_isa.h"

#if !(defined(__x86_64__) || defined(__i386__))
const sl_attn_kernels *sl_attn_kernels_avx2(void) { return NULL; }
#endif

const sl_attn_kernels *sl_attn_kernels_get(void) {
    static const sl_attn_kernels *chosen;
    const sl_attn_kernels *k = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
    if (k) return k;
    sl_simd level = sl_simd_active();
    k = (level == SL_SIMD_AVX2 || level == SL_SIMD_AVX512) ? sl_attn_kernels_avx2() : NULL;
    if (!k) k = sl_attn_kernels_ref();
    __atomic_store_n(&chosen, k, __ATOMIC_RELEASE);
    return k;
}
