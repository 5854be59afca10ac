#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

sl_status sl_fail(sl_error *err, sl_status status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

void sl_error_clear(sl_error *err) {
    if (err) {
        err->status = SL_OK;
        err->msg[0] = '\0';
    }
}

const char *sl_status_str(sl_status s) {
    switch (s) {
    case SL_OK: return "ok";
    case SL_ERR_IO: return "i/o error";
    case SL_ERR_FORMAT: return "malformed file";
    case SL_ERR_UNSUPPORTED: return "unsupported";
    case SL_ERR_INVALID_ARG: return "invalid argument";
    case SL_ERR_NOMEM: return "out of memory";
    case SL_ERR_CONTEXT_FULL: return "context full";
    case SL_ERR_NOT_FOUND: return "not found";
    }
    return "unknown status";
}
