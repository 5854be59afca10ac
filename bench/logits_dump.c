/* logits_dump.c — runs a fixed pseudo-random token stream through a model
 * and writes every position's logits (float32, (n, V)) to a file, or compares
 * them with a file written earlier: the before/after check of each speed
 * change (max |diff| relative to the logits' scale, and argmax agreement).
 *
 *   logits_dump MODEL.gguf OUT.bin [n_tokens] [threads] [batch] [kv f16|f32|q8_0]
 *   logits_dump MODEL.gguf --compare REF.bin [n_tokens] [threads] [batch] [kv]
 * The stream is fed as one prefill of n/2 tokens, then one token at a time,
 * so both the batched and the decode paths are covered. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "streamllm.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: logits_dump MODEL OUT.bin | --compare REF.bin [n] [threads] [batch] [kv]\n");
        return 2;
    }
    const bool cmp = !strcmp(argv[2], "--compare");
    const char *file = cmp ? argv[3] : argv[2];
    int a = cmp ? 4 : 3;
    int n = argc > a ? atoi(argv[a]) : 96;
    int nth = argc > a + 1 ? atoi(argv[a + 1]) : 2;
    int batch = argc > a + 2 ? atoi(argv[a + 2]) : 64;
    const char *kv = argc > a + 3 ? argv[a + 3] : "f16";
    sl_error err = {0};
    sl_model *m = NULL;
    if (sl_model_load(&m, argv[1], &err) != SL_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    sl_model_info info;
    sl_model_get_info(m, &info);
    const int V = info.n_vocab;
    sl_session_params sp;
    sl_session_params_default(&sp);
    sp.n_threads = nth;
    sp.n_batch = batch;
    sp.n_window = 40; /* small, so the stream also evicts */
    sp.kv_type = !strcmp(kv, "f32") ? SL_KV_F32 : SL_KV_F16;
#ifdef SL_HAVE_KV_Q8_0
    if (!strcmp(kv, "q8_0")) sp.kv_type = SL_KV_Q8_0;
#endif
    sl_session *s = NULL;
    if (sl_session_create(&s, m, &sp, &err) != SL_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int32_t *tok = malloc((size_t)n * sizeof *tok);
    float *lg = malloc((size_t)n * V * sizeof *lg);
    unsigned long long seed = 99;
    for (int i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        tok[i] = (int32_t)((seed >> 33) % (unsigned)V);
    }
    int half = n / 2;
    if (sl_session_feed(s, tok, (size_t)half, NULL, lg, &err) != SL_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    for (int i = half; i < n; i++)
        if (sl_session_feed(s, tok + i, 1, lg + (size_t)i * V, NULL, &err) != SL_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
    int rc = 0;
    if (!cmp) {
        FILE *fp = fopen(file, "wb");
        if (!fp || fwrite(lg, sizeof *lg, (size_t)n * V, fp) != (size_t)n * V) return 1;
        fclose(fp);
    } else {
        float *ref = malloc((size_t)n * V * sizeof *ref);
        FILE *fp = fopen(file, "rb");
        if (!fp || fread(ref, sizeof *ref, (size_t)n * V, fp) != (size_t)n * V) {
            fprintf(stderr, "%s: cannot read %d x %d floats\n", file, n, V);
            return 1;
        }
        fclose(fp);
        double worst = 0, scale = 0;
        int agree = 0;
        for (int i = 0; i < n; i++) {
            int am = 0, bm = 0;
            for (int v = 0; v < V; v++) {
                size_t k = (size_t)i * V + v;
                worst = fmax(worst, fabs((double)lg[k] - ref[k]));
                scale = fmax(scale, fabs((double)ref[k]));
                if (lg[k] > lg[(size_t)i * V + am]) am = v;
                if (ref[k] > ref[(size_t)i * V + bm]) bm = v;
            }
            agree += am == bm;
        }
        printf("max |diff| %.3g (logit scale %.3g, relative %.2e), argmax agrees %d/%d\n", worst, scale,
               worst / scale, agree, n);
        free(ref);
    }
    free(tok), free(lg);
    sl_session_free(s);
    sl_model_free(m);
    return rc;
}
