#include "core/mapped_file.h"
#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

sl_status sl_mapped_file_open(sl_mapped_file *f, const char *path, sl_error *err) {
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return sl_fail(err, SL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return sl_fail(err, SL_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return sl_fail(err, SL_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return SL_OK; /* an empty view; parsers report it as truncated */
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED)
        return sl_fail(err, SL_ERR_IO, "%s: cannot map: %s", path, strerror(e));
    f->data = p;
    f->size = (size_t)st.st_size;
    f->is_mapped = 1;
    return SL_OK;
}

void sl_mapped_file_borrow(sl_mapped_file *f, const void *data, size_t size) {
    f->data = data;
    f->size = size;
    f->is_mapped = 0;
}

void sl_mapped_file_close(sl_mapped_file *f) {
    if (!f) return;
    if (f->is_mapped && f->data) munmap((void *)f->data, f->size);
    f->data = NULL;
    f->size = 0;
    f->is_mapped = 0;
}
