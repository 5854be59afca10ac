/* attn_dispatch.c — picks the attention inner loops once. */
#include <stdlib.h>
#include <string.h>

#include "kernels/attn_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_X86 1
#else
#define HAVE_X86 0
const sl_attn_kernels *sl_attn_kernels_avx2(void) { return NULL; }
#endif

const sl_attn_kernels *sl_attn_kernels_get(void) {
    static const sl_attn_kernels *chosen;
    const sl_attn_kernels *k = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
    if (k) return k;
    const char *force = getenv("SL_FORCE_REF");
    k = NULL;
    if (!(force && *force && strcmp(force, "0") != 0)) k = sl_attn_kernels_avx2();
    if (!k) k = sl_attn_kernels_ref();
    __atomic_store_n(&chosen, k, __ATOMIC_RELEASE);
    return k;
}
