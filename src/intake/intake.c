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

ClRawMessage *
cl_intake_spool(ClStore *store, int src_fd, gint64 max_bytes, const char *origin, GError **error)
{
    g_autoptr(ClRawMessage) raw = g_new0(ClRawMessage, 1);
    raw->origin = g_strdup(origin);
    raw->limit = max_bytes;
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
            if (!cl_write_all(raw->fd, buf, keep)) {
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
    raw->limit = max_bytes;
    raw->origin = g_strdup(origin);
    return raw;
}

struct ClIntakeList {
    GArray *items;         /* ClIntakeItem */
    GStringChunk *strings; /* directory names (interned) and file names */
};

ClIntakeList *
cl_intake_list_new(void)
{
    ClIntakeList *list = g_new0(ClIntakeList, 1);
    list->items = g_array_new(FALSE, TRUE, sizeof(ClIntakeItem));
    list->strings = g_string_chunk_new(64 * 1024);
    return list;
}

void
cl_intake_list_free(ClIntakeList *list)
{
    if (list == NULL)
        return;
    g_array_unref(list->items);
    g_string_chunk_free(list->strings);
    g_free(list);
}

guint
cl_intake_list_length(const ClIntakeList *list)
{
    return list->items->len;
}

const ClIntakeItem *
cl_intake_list_get(const ClIntakeList *list, guint index)
{
    g_return_val_if_fail(index < list->items->len, NULL);
    return &g_array_index(list->items, ClIntakeItem, index);
}

char *
cl_intake_item_path(const ClIntakeItem *item)
{
    return *item->dir ? g_build_filename(item->dir, item->name, NULL) : g_strdup(item->name);
}

char *
cl_intake_item_origin(const ClIntakeItem *item)
{
    g_autofree char *path = cl_intake_item_path(item);
    return item->mbox_index ? g_strdup_printf("%s#%u", path, item->mbox_index)
                            : g_steal_pointer(&path);
}

/* Where a file lives in the list's strings: directory interned, name copied. */
typedef struct {
    const char *dir;
    const char *name;
} Place;

static void
add_item(ClIntakeList *list, Place at, gint64 offset, gint64 length, guint mbox_index)
{
    ClIntakeItem it = { .dir = at.dir, .name = at.name, .offset = offset, .length = length,
                        .mbox_index = mbox_index };
    g_array_append_val(list->items, it);
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
split_mbox(ClIntakeList *list, Place at, const char *data, gsize size)
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
            add_item(list, at, start - data, stop - start, ++n);
        }
        start = next_line(line, end);
        prev = line;
    }
    if (start != NULL && start < end) {
        add_item(list, at, start - data, end - start, ++n);
    }
}

static bool
list_file(ClIntakeList *list, const char *path, Place at, gint64 *total, GError **error)
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
        add_item(list, at, 0, st.st_size, 0);
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
        split_mbox(list, at, data, size);
    else
        add_item(list, at, 0, size, 0);
    return true;
}

static gint
cmp_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char **)a, *(const char **)b);
}

static bool
list_dir(ClIntakeList *list, const char *path, gint64 *total, int depth, GError **error)
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
    const char *dir_name = g_string_chunk_insert_const(list->strings, path);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *child = g_build_filename(path, names->pdata[i], NULL);
        struct stat st;
        if (stat(child, &st) != 0)
            continue;
        bool ok = true;
        Place at = { dir_name, NULL };
        if (S_ISREG(st.st_mode))
            at.name = g_string_chunk_insert(list->strings, names->pdata[i]);
        if (S_ISDIR(st.st_mode))
            ok = list_dir(list, child, total, depth + 1, error);
        else if (S_ISREG(st.st_mode) && st.st_size == 0)
            add_item(list, at, 0, 0, 0); /* an empty file is a (malformed) message */
        else if (S_ISREG(st.st_mode))
            ok = list_file(list, child, at, total, error);
        if (!ok)
            return false;
    }
    return true;
}

bool
cl_intake_list_add(ClIntakeList *list, const char *path, gint64 *total_bytes, GError **error)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_NOT_FOUND, "%s: %s", path, g_strerror(errno));
        return false;
    }
    if (S_ISDIR(st.st_mode))
        return list_dir(list, path, total_bytes, 0, error);
    Place at = { "", g_string_chunk_insert(list->strings, path) };
    if (st.st_size == 0) {
        add_item(list, at, 0, 0, 0); /* an empty file is a (malformed) message */
        return true;
    }
    return list_file(list, path, at, total_bytes, error);
}
