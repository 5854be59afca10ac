/* mapped_file.h — a whole file mapped read-only (weights live here for the
 * model's lifetime), or a caller-owned memory buffer viewed the same way. */
#ifndef SL_CORE_MAPPED_FILE_H
#define SL_CORE_MAPPED_FILE_H

#include <stddef.h>
#include "streamllm.h"

typedef struct {
    const unsigned char *data; /* (size) bytes; NULL for an empty file */
    size_t size;
    int is_mapped;             /* 1: munmap on close; 0: borrowed memory, not freed */
} sl_mapped_file;

/* Maps path read-only. Errors name the path. */
sl_status sl_mapped_file_open(sl_mapped_file *f, const char *path, sl_error *err);
/* Views memory the caller keeps alive; close does not free it. */
void sl_mapped_file_borrow(sl_mapped_file *f, const void *data, size_t size);
/* Safe on a zeroed or already-closed file. */
void sl_mapped_file_close(sl_mapped_file *f);

#endif
