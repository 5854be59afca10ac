/* chat_jsonl.c — see chat_jsonl.h. */
#include "chat_jsonl.h"

#include <stdio.h>

chat_jsonl_kind chat_jsonl_parse(const char *line, size_t len, json_t **root, json_t **turns, char *why,
                                 size_t why_cap) {
    *root = *turns = NULL;
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
    size_t k = 0;
    while (k < len && (line[k] == ' ' || line[k] == '\t')) k++;
    if (k == len) return CHAT_JSONL_BLANK;
    json_error_t je;
    json_t *r = json_loadb(line, len, 0, &je);
    if (!r) {
        snprintf(why, why_cap, ":%d: malformed JSON: %s", je.column, je.text);
        return CHAT_JSONL_MALFORMED;
    }
    json_t *t = json_is_object(r) ? json_object_get(r, "turns") : NULL;
    if (!json_is_array(t)) {
        snprintf(why, why_cap, ": malformed line: expected an object with a \"turns\" array");
        json_decref(r);
        return CHAT_JSONL_MALFORMED;
    }
    for (size_t i = 0; i < json_array_size(t); i++)
        if (!json_is_string(json_array_get(t, i))) {
            snprintf(why, why_cap, ": malformed line: turns[%zu] is not a string", i);
            json_decref(r);
            return CHAT_JSONL_MALFORMED;
        }
    *root = r;
    *turns = t;
    return CHAT_JSONL_TURNS;
}
