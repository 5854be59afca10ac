/* error.h — building sl_error messages inside the library.
 * sl_fail() formats a message into err (when non-NULL) and returns status,
 * so error paths read:  return sl_fail(err, SL_ERR_FORMAT, "%s: bad magic", path); */
#ifndef SL_CORE_ERROR_H
#define SL_CORE_ERROR_H

#include "streamllm.h"

#if defined(__GNUC__)
#define SL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SL_PRINTF(a, b)
#endif

sl_status sl_fail(sl_error *err, sl_status status, const char *fmt, ...) SL_PRINTF(3, 4);
/* Clears err to SL_OK with an empty message. */
void sl_error_clear(sl_error *err);

#endif
