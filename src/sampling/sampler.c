/* sampler.c — picks the next token from logits.
 *
 * The chain is llama.cpp's default order:
 *   penalties -> (temp <= 0: argmax) | top-k -> top-p -> min-p -> temp -> softmax -> draw
 * Penalties look at the last penalty_last_n accepted tokens:
 *   repeat (llama.cpp / CTRL): a seen token's positive logit is divided by
 *     repeat_penalty, a non-positive one multiplied (once per distinct token);
 *   frequency/presence (OpenAI): logit -= count * frequency + (count > 0) * presence.
 * Randomness is xoshiro256** seeded by splitmix64(seed): no global state, so
 * every session owns its sampler and the same seed gives the same tokens.
 *
 * Letters: V = n_vocab, K = candidates left after the filters. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/le_bytes.h"
#include "sampling/sampler_state.h"

typedef struct {
    int32_t id;
    float logit;
} candidate;

struct sl_sampler {
    sl_sampler_params p;
    int n_vocab;
    uint64_t rng[4];   /* xoshiro256** state */
    int32_t *hist;     /* (hist_cap) ring of the last accepted tokens */
    int hist_cap;      /* = penalty_last_n */
    int hist_len;      /* tokens held, <= hist_cap */
    int hist_head;     /* index of the oldest token */
    int32_t *counts;   /* (V) scratch: occurrences in the window, zero between calls */
    candidate *cand;   /* (V) scratch */
    double *probs;     /* (V) scratch: probabilities of the candidates */
};

/* ---- RNG ------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t xoshiro_next(uint64_t s[4]) {
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1) with 53 random bits. */
static double rng_uniform(uint64_t s[4]) { return (double)(xoshiro_next(s) >> 11) * 0x1.0p-53; }

/* ---- params, create/free ----------------------------------------------------- */

void sl_sampler_params_default(sl_sampler_params *p) {
    /* llama.cpp's defaults, except the seed: a fixed one, because the library
     * reads no clock; tools pass their own when they want variety. */
    p->temp = 0.8f;
    p->top_k = 40;
    p->top_p = 0.95f;
    p->min_p = 0.05f;
    p->repeat_penalty = 1.0f;
    p->presence_penalty = 0.0f;
    p->frequency_penalty = 0.0f;
    p->penalty_last_n = 64;
    p->seed = 42;
}

sl_status sl_sampler_create(sl_sampler **out, const sl_sampler_params *p, int n_vocab,
                            sl_error *err) {
    *out = NULL;
    if (n_vocab <= 0) return sl_fail(err, SL_ERR_INVALID_ARG, "sampler: n_vocab %d must be > 0", n_vocab);
    if (!(p->temp == p->temp)) return sl_fail(err, SL_ERR_INVALID_ARG, "sampler: temp is NaN");
    if (p->top_k < 0) return sl_fail(err, SL_ERR_INVALID_ARG, "sampler: top_k %d must be >= 0", p->top_k);
    if (!(p->top_p > 0.0f && p->top_p <= 1.0f))
        return sl_fail(err, SL_ERR_INVALID_ARG, "sampler: top_p %g must be in (0, 1]", p->top_p);
    if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
        return sl_fail(err, SL_ERR_INVALID_ARG, "sampler: min_p %g must be in [0, 1]", p->min_p);
    if (!(p->repeat_penalty > 0.0f) || isinf(p->repeat_penalty))
        return sl_fail(err, SL_ERR_INVALID_ARG, "sampler: repeat_penalty %g must be > 0",
                       p->repeat_penalty);
    if (!isfinite(p->presence_penalty) || !isfinite(p->frequency_penalty))
        return sl_fail(err, SL_ERR_INVALID_ARG, "sampler: presence/frequency penalty must be finite");
    if (p->penalty_last_n < 0 || p->penalty_last_n > SL_SAMPLER_MAX_LAST_N)
        return sl_fail(err, SL_ERR_INVALID_ARG, "sampler: penalty_last_n %d is out of range [0, %d]",
                       p->penalty_last_n, SL_SAMPLER_MAX_LAST_N);

    sl_sampler *s = calloc(1, sizeof *s);
    if (!s) return sl_fail(err, SL_ERR_NOMEM, "sampler: out of memory");
    s->p = *p;
    s->n_vocab = n_vocab;
    s->hist_cap = p->penalty_last_n;
    s->hist = calloc((size_t)s->hist_cap + 1, sizeof *s->hist);
    s->counts = calloc((size_t)n_vocab, sizeof *s->counts);
    s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
    s->probs = malloc((size_t)n_vocab * sizeof *s->probs);
    if (!s->hist || !s->counts || !s->cand || !s->probs) {
        sl_sampler_free(s);
        return sl_fail(err, SL_ERR_NOMEM, "sampler: out of memory for %d candidates", n_vocab);
    }
    uint64_t x = p->seed;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&x);
    *out = s;
    return SL_OK;
}

void sl_sampler_free(sl_sampler *s) {
    if (!s) return;
    free(s->hist);
    free(s->counts);
    free(s->cand);
    free(s->probs);
    free(s);
}

/* ---- history and penalties ------------------------------------------------- */

void sl_sampler_accept(sl_sampler *s, int32_t tok) {
    if (!s || tok < 0 || tok >= s->n_vocab || s->hist_cap == 0) return;
    if (s->hist_len < s->hist_cap) {
        s->hist[(s->hist_head + s->hist_len) % s->hist_cap] = tok;
        s->hist_len++;
    } else {
        s->hist[s->hist_head] = tok; /* overwrite the oldest */
        s->hist_head = (s->hist_head + 1) % s->hist_cap;
    }
}

static void apply_penalties(sl_sampler *s, float *logits) {
    const sl_sampler_params *p = &s->p;
    if (s->hist_len == 0) return;
    if (p->repeat_penalty == 1.0f && p->presence_penalty == 0.0f && p->frequency_penalty == 0.0f)
        return;
    for (int i = 0; i < s->hist_len; i++) s->counts[s->hist[(s->hist_head + i) % s->hist_cap]]++;
    for (int i = 0; i < s->hist_len; i++) {
        int32_t t = s->hist[(s->hist_head + i) % s->hist_cap];
        int c = s->counts[t];
        if (c == 0) continue; /* already handled: each distinct token once */
        float l = logits[t];
        if (p->repeat_penalty != 1.0f) l = l <= 0.0f ? l * p->repeat_penalty : l / p->repeat_penalty;
        l -= (float)c * p->frequency_penalty + p->presence_penalty;
        logits[t] = l;
        s->counts[t] = 0; /* also restores the all-zero invariant */
    }
}

/* ---- filters over the candidate list --------------------------------------- */

/* Sort order: higher logit first, ties by lower id (so results never depend
 * on the sort algorithm). */
static int cand_better(const candidate *a, const candidate *b) {
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static int cand_cmp(const void *pa, const void *pb) {
    const candidate *a = pa, *b = pb;
    if (cand_better(a, b)) return -1;
    if (cand_better(b, a)) return 1;
    return 0;
}

/* Keeps the k best of c[0..n) in c[0..k), sorted. A min-heap of the k best
 * seen so far: O(V log k) instead of sorting the whole vocabulary. */
static void top_k(candidate *c, int n, int k) {
    /* heap over c[0..k): root is the worst of the kept ones */
    for (int i = k / 2 - 1; i >= 0; i--) {
        for (int j = i;;) {
            int l = 2 * j + 1, r = l + 1, w = j;
            if (l < k && cand_better(&c[w], &c[l])) w = l;
            if (r < k && cand_better(&c[w], &c[r])) w = r;
            if (w == j) break;
            candidate t = c[j]; c[j] = c[w]; c[w] = t;
            j = w;
        }
    }
    for (int i = k; i < n; i++) {
        if (!cand_better(&c[i], &c[0])) continue;
        c[0] = c[i];
        for (int j = 0;;) {
            int l = 2 * j + 1, r = l + 1, w = j;
            if (l < k && cand_better(&c[w], &c[l])) w = l;
            if (r < k && cand_better(&c[w], &c[r])) w = r;
            if (w == j) break;
            candidate t = c[j]; c[j] = c[w]; c[w] = t;
            j = w;
        }
    }
    qsort(c, (size_t)k, sizeof *c, cand_cmp);
}

/* Softmax of c[0..n) into probs (double for the cumulative sums). Returns
 * the sum of exp before normalising (0 when every logit is -inf). */
static double softmax(const candidate *c, int n, double *probs) {
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) mx = c[i].logit > mx ? c[i].logit : mx;
    if (mx == -INFINITY) return 0.0;
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += probs[i] = exp((double)c[i].logit - (double)mx);
    for (int i = 0; i < n; i++) probs[i] /= sum;
    return sum;
}

static int32_t argmax(const float *logits, int n) {
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = i; /* strict: ties keep the lowest id */
    return best;
}

int32_t sl_sampler_sample(sl_sampler *s, float *logits) {
    const sl_sampler_params *p = &s->p;
    int V = s->n_vocab;
    /* NaN compares false everywhere; make it "never chosen" up front. */
    for (int i = 0; i < V; i++)
        if (logits[i] != logits[i]) logits[i] = -INFINITY;
    apply_penalties(s, logits);

    if (p->temp <= 0.0f) {
        int32_t t = argmax(logits, V);
        sl_sampler_accept(s, t);
        return t;
    }

    candidate *c = s->cand;
    int n = V;
    for (int i = 0; i < V; i++) c[i] = (candidate){i, logits[i]};
    int sorted = 0;
    if (p->top_k > 0 && p->top_k < n) {
        top_k(c, n, p->top_k);
        n = p->top_k;
        sorted = 1;
    }
    double *probs = s->probs;
    if (p->top_p < 1.0f) {
        if (!sorted) qsort(c, (size_t)n, sizeof *c, cand_cmp);
        sorted = 1;
        if (softmax(c, n, probs) > 0.0) {
            double cum = 0.0;
            for (int i = 0; i < n; i++) {
                cum += probs[i];
                if (cum >= p->top_p) { /* keep the token that crosses top_p */
                    n = i + 1;
                    break;
                }
            }
        }
    }
    if (p->min_p > 0.0f) {
        /* p_i >= min_p * p_max  <=>  logit_i >= max_logit + log(min_p) */
        float mx = -INFINITY;
        for (int i = 0; i < n; i++) mx = c[i].logit > mx ? c[i].logit : mx;
        float thr = mx + logf(p->min_p);
        int m = 0;
        for (int i = 0; i < n; i++)
            if (c[i].logit >= thr) c[m++] = c[i];
        if (m > 0) n = m;
    }
    for (int i = 0; i < n; i++) c[i].logit /= p->temp;
    int32_t tok;
    if (softmax(c, n, probs) <= 0.0) {
        tok = c[0].id; /* everything masked: any choice is as good */
        for (int i = 1; i < n; i++) tok = c[i].id < tok ? c[i].id : tok;
    } else {
        double u = rng_uniform(s->rng), cum = 0.0;
        tok = -1;
        for (int i = 0; i < n; i++) {
            cum += probs[i];
            if (u < cum) {
                tok = c[i].id;
                break;
            }
        }
        if (tok < 0) /* rounding left u above the last sum: take the last live one */
            for (int i = n - 1; i >= 0 && tok < 0; i--)
                if (probs[i] > 0.0) tok = c[i].id;
    }
    sl_sampler_accept(s, tok);
    return tok;
}

/* ---- state save/restore ------------------------------------------------------ */

#define STATE_MAGIC "SLSS"
#define STATE_VERSION 1u
#define STATE_HEADER (4 + 4 + 32 + 4 + 4 + 4)


size_t sl_sampler_state_size(const sl_sampler *s) {
    return STATE_HEADER + 4 * (size_t)s->hist_len;
}

sl_status sl_sampler_state_save(const sl_sampler *s, void *buf, size_t cap, size_t *written,
                                sl_error *err) {
    size_t need = sl_sampler_state_size(s);
    if (written) *written = 0;
    if (cap < need)
        return sl_fail(err, SL_ERR_INVALID_ARG, "sampler state: buffer of %zu bytes, need %zu", cap,
                       need);
    unsigned char *b = buf;
    memcpy(b, STATE_MAGIC, 4);
    sl_put_u32(b + 4, STATE_VERSION);
    for (int i = 0; i < 4; i++) sl_put_u64(b + 8 + 8 * i, s->rng[i]);
    sl_put_u32(b + 40, (uint32_t)s->n_vocab);
    sl_put_u32(b + 44, (uint32_t)s->hist_cap);
    sl_put_u32(b + 48, (uint32_t)s->hist_len);
    for (int i = 0; i < s->hist_len; i++)
        sl_put_u32(b + STATE_HEADER + 4 * (size_t)i,
                (uint32_t)s->hist[(s->hist_head + i) % s->hist_cap]);
    if (written) *written = need;
    return SL_OK;
}

sl_status sl_sampler_state_load(sl_sampler *s, const void *buf, size_t len, sl_error *err) {
    const unsigned char *b = buf;
    if (len < STATE_HEADER || memcmp(b, STATE_MAGIC, 4) != 0)
        return sl_fail(err, SL_ERR_FORMAT, "sampler state: bad magic or %zu bytes too short", len);
    uint32_t version = sl_get_u32(b + 4);
    if (version != STATE_VERSION)
        return sl_fail(err, SL_ERR_FORMAT, "sampler state: version %u, expected %u", version,
                       STATE_VERSION);
    uint32_t n_vocab = sl_get_u32(b + 40), cap = sl_get_u32(b + 44), n = sl_get_u32(b + 48);
    if (n_vocab != (uint32_t)s->n_vocab || cap != (uint32_t)s->hist_cap)
        return sl_fail(err, SL_ERR_INVALID_ARG,
                       "sampler state: saved with n_vocab %u, penalty_last_n %u; this sampler has "
                       "%d, %d",
                       n_vocab, cap, s->n_vocab, s->hist_cap);
    if (n > cap || len != STATE_HEADER + 4 * (size_t)n)
        return sl_fail(err, SL_ERR_FORMAT, "sampler state: %u history tokens (cap %u) in %zu bytes",
                       n, cap, len);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t t = sl_get_u32(b + STATE_HEADER + 4 * (size_t)i);
        if (t >= n_vocab)
            return sl_fail(err, SL_ERR_FORMAT, "sampler state: token %u out of range [0, %u)", t,
                           n_vocab);
    }
    for (int i = 0; i < 4; i++) s->rng[i] = sl_get_u64(b + 8 + 8 * i);
    s->hist_head = 0;
    s->hist_len = (int)n;
    for (uint32_t i = 0; i < n; i++) s->hist[i] = (int32_t)sl_get_u32(b + STATE_HEADER + 4 * (size_t)i);
    return SL_OK;
}
