/* chat_internal.h — what chat.c and chat_state.c share: the conversation
 * state behind an sl_chat. Internal to src/chat. */
#ifndef SL_CHAT_INTERNAL_H
#define SL_CHAT_INTERNAL_H

#include "chat/chat.h"
#include "model/model.h"
#include "session/session.h"

#define CHAT_MAX_STOP 4
#define CHAT_MAX_BOUNDS 65536 /* turn starts remembered (ring; see chat.c) */

/* Everything a reset or a load replaces at once. */
typedef struct {
    sl_chat_template tmpl;
    sl_session *s;
    sl_sampler *smp;
    sl_sampler_params sampler_params;
    char *system;            /* NUL-terminated, "" when none */
    bool has_system;         /* the start rendered a system part */
    bool keep_system;
    size_t n_sys;            /* tokens of the rendered start */
    int32_t *end_ids;        /* (n_end) the reply's end marker */
    size_t n_end;
    int32_t stop_ids[CHAT_MAX_STOP];
    int n_stop;
    uint64_t *bounds;        /* (bounds_cap) ring of turn start positions, ascending */
    size_t bounds_cap, bounds_head, n_bounds;
    uint64_t turns, generated;
    double decode_s;
} chat_conv;

struct sl_chat {
    const sl_model *m;
    sl_chat_params p;        /* as created; family/system/sampler follow the conversation */
    chat_conv v;
    float *logits;           /* (V) */
};

void chat_conv_free(chat_conv *v);
sl_status chat_conv_bind_template(chat_conv *v, const sl_model *m, sl_chat_family f,
                                  sl_error *err);
sl_status chat_conv_alloc_bounds(chat_conv *v, sl_error *err);
size_t chat_bounds_capacity(int n_window);
void chat_bounds_push(chat_conv *v, uint64_t pos);
uint64_t chat_bound(const chat_conv *v, size_t i);

#endif
