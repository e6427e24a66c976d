/*
 * intake.c — spooling and mailbox formats. Stage: intake.
 *
 * mbox is split here rather than by GMime's mbox mode because the pipeline
 * needs each message's exact byte range (it is stored as the original) and
 * should parse every message only once.
 */
#include "intake.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPOOL_CHUNK (64 * 1024)

static bool
write_all(int fd, const guint8 *buf, gsize len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        buf += n;
        len -= n;
    }
    return true;
}

ClRawMessage *
cl_intake_spool(ClStore *store, int src_fd, gint64 max_bytes, const char *origin, GError **error)
{
    g_autoptr(ClRawMessage) raw = g_new0(ClRawMessage, 1);
    raw->origin = g_strdup(origin);
    raw->fd = cl_store_tmp_file(store, &raw->spool_path, error);
    if (raw->fd < 0)
        return NULL;

    g_autofree guint8 *buf = g_malloc(SPOOL_CHUNK);
    for (;;) {
        ssize_t n = read(src_fd, buf, SPOOL_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "cannot read %s: %s", origin,
                        g_strerror(errno));
            return NULL;
        }
        if (n == 0)
            break;
        /* Keep at most max_bytes; count the rest so the rejection can say how much. */
        gint64 keep = MIN((gint64)n, MAX(0, max_bytes - raw->stored));
        if (keep > 0) {
            if (!write_all(raw->fd, buf, keep)) {
                g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "cannot write %s: %s",
                            raw->spool_path, g_strerror(errno));
                return NULL;
            }
            raw->stored += keep;
        }
        raw->size += n;
    }
    return g_steal_pointer(&raw);
}

ClRawMessage *
cl_intake_open(const char *path, gint64 offset, gint64 length, gint64 max_bytes,
               const char *origin, GError **error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "cannot open %s: %s", path,
                    g_strerror(errno));
        return NULL;
    }
    struct stat st;
    if (length < 0 && fstat(fd, &st) == 0)
        length = st.st_size - offset;
    ClRawMessage *raw = g_new0(ClRawMessage, 1);
    raw->fd = fd;
    raw->offset = offset;
    raw->size = length;
    raw->stored = MIN(length, max_bytes);
    raw->origin = g_strdup(origin);
    return raw;
}

void
cl_intake_item_free(ClIntakeItem *item)
{
    if (item == NULL)
        return;
    g_free(item->path);
    g_free(item->origin);
    g_free(item);
}

static void
add_item(GPtrArray *items, const char *path, gint64 offset, gint64 length, const char *origin)
{
    ClIntakeItem *it = g_new0(ClIntakeItem, 1);
    it->path = g_strdup(path);
    it->offset = offset;
    it->length = length;
    it->origin = g_strdup(origin);
    g_ptr_array_add(items, it);
}

/* Start of the line after the one starting at p, or end. */
static const char *
next_line(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', end - p);
    return nl ? nl + 1 : end;
}

static bool
blank_line(const char *line, const char *end)
{
    return line < end && (*line == '\n' || (*line == '\r' && line + 1 < end && line[1] == '\n'));
}

/* A From_ line: "From " + sender + date, e.g. "From joe@example.com Fri Feb 19
 * 08:41:30 2010". Not "From  : Joe" (a header with odd spacing), not "From the
 * desk of ..." (an unescaped body line): a sender token and a 4-digit year. */
static bool
from_line(const char *line, const char *end)
{
    const char *eol = memchr(line, '\n', end - line);
    if (eol == NULL)
        eol = end;
    if (eol - line < 6 || memcmp(line, "From ", 5) != 0 || line[5] == ' ' || line[5] == ':')
        return false;
    const char *p = line + 5;
    while (p < eol && *p != ' ')
        p++;
    if (p[-1] == ':')
        return false; /* "From: ..." without the space is a header anyway */
    int digits = 0;
    for (; p < eol; p++) {
        digits = g_ascii_isdigit(*p) ? digits + 1 : 0;
        if (digits == 4 && (p + 1 == eol || !g_ascii_isdigit(p[1])))
            return true;
    }
    return false;
}

/* mboxo/mboxrd: a message starts after a From_ line that opens the file or
 * follows an empty line. The empty line before a separator belongs to it. */
static void
split_mbox(const char *path, const char *data, gsize size, GPtrArray *items)
{
    const char *end = data + size;
    const char *start = NULL; /* first byte of the current message */
    const char *prev = NULL;  /* start of the previous line */
    guint n = 0;
    for (const char *line = data; line < end; line = next_line(line, end)) {
        bool sep = (line == data || (prev != NULL && blank_line(prev, end))) &&
                   from_line(line, end);
        if (!sep) {
            prev = line;
            continue;
        }
        if (start != NULL) {
            const char *stop = prev != NULL && prev >= start ? prev : line;
            g_autofree char *origin = g_strdup_printf("%s#%u", path, ++n);
            add_item(items, path, start - data, stop - start, origin);
        }
        start = next_line(line, end);
        prev = line;
    }
    if (start != NULL && start < end) {
        const char *stop = end;
        g_autofree char *origin = g_strdup_printf("%s#%u", path, ++n);
        add_item(items, path, start - data, stop - start, origin);
    }
}

static bool
list_file(const char *path, GPtrArray *items, gint64 *total, GError **error)
{
    /* Most files are single messages: their first line tells, without mapping them. */
    char head[1024];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "cannot open %s: %s", path,
                    g_strerror(errno));
        return false;
    }
    struct stat st;
    ssize_t n = fstat(fd, &st) == 0 ? pread(fd, head, sizeof head, 0) : -1;
    int e = errno;
    close(fd);
    if (n < 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "cannot read %s: %s", path, g_strerror(e));
        return false;
    }
    if (!from_line(head, head + n)) {
        *total += st.st_size;
        add_item(items, path, 0, st.st_size, path);
        return true;
    }
    g_autoptr(GError) local = NULL;
    g_autoptr(GMappedFile) map = g_mapped_file_new(path, FALSE, &local);
    if (map == NULL) {
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "%s", local->message);
        return false;
    }
    const char *data = g_mapped_file_get_contents(map);
    gsize size = g_mapped_file_get_length(map);
    *total += size;
    if (from_line(data, data + size))
        split_mbox(path, data, size, items);
    else
        add_item(items, path, 0, size, path);
    return true;
}

static gint
cmp_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char **)a, *(const char **)b);
}

static bool
list_dir(const char *path, GPtrArray *items, gint64 *total, int depth, GError **error)
{
    if (depth > 16)
        return true;
    g_autoptr(GError) local = NULL;
    g_autoptr(GDir) dir = g_dir_open(path, 0, &local);
    if (dir == NULL) {
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "%s", local->message);
        return false;
    }
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *name;
    while ((name = g_dir_read_name(dir)) != NULL) {
        /* Maildir's tmp/ holds messages still being written: not ours to take. */
        if (name[0] == '.' || strcmp(name, "tmp") == 0)
            continue;
        g_ptr_array_add(names, g_strdup(name));
    }
    g_ptr_array_sort(names, cmp_names);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *child = g_build_filename(path, names->pdata[i], NULL);
        struct stat st;
        if (stat(child, &st) != 0)
            continue;
        bool ok = true;
        if (S_ISDIR(st.st_mode))
            ok = list_dir(child, items, total, depth + 1, error);
        else if (S_ISREG(st.st_mode) && st.st_size == 0)
            add_item(items, child, 0, 0, child); /* an empty file is a (malformed) message */
        else if (S_ISREG(st.st_mode))
            ok = list_file(child, items, total, error);
        if (!ok)
            return false;
    }
    return true;
}

bool
cl_intake_list(const char *path, GPtrArray *items, gint64 *total_bytes, GError **error)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_NOT_FOUND, "%s: %s", path, g_strerror(errno));
        return false;
    }
    if (S_ISDIR(st.st_mode))
        return list_dir(path, items, total_bytes, 0, error);
    if (st.st_size == 0) {
        add_item(items, path, 0, 0, path); /* an empty file is a (malformed) message */
        return true;
    }
    return list_file(path, items, total_bytes, error);
}
