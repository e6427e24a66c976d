/*
 * store-search.c — the full-text index of entries (SQLite FTS5, contentless:
 * the text of captured mail is stored once, in the original message), the
 * previews that lists show, and notifications. Stage: store.
 *
 * A contentless FTS5 table forgets what it indexed: taking a row out needs the
 * very words that went in. So everything indexed is either stored (subject,
 * a manual entry's text, and for every entry the contact persons' and
 * attachments' names as indexed, in search_names) or can be made again from
 * the original message (the text and addresses of captured mail).
 *
 * search_queue holds entries to be (re)indexed: captured mail behind its
 * acknowledgement, and entries whose names changed (a review, a renamed
 * contact person). search_names NULL: the entry is not in the index yet.
 */
#include "store-private.h"

#include <string.h>

#define PREVIEW_CHARS 240
/* Text indexed per entry: a mail with megabytes of text is found by its first 256 KB. */
#define INDEX_TEXT_BYTES (256 * 1024)

/* Lines where the writer's own text ends: a quoted original or a signature. */
static bool
ends_own_text(const char *line, gsize len)
{
    static const char *marks[] = {
        "-----Original Message-----", "-----Ursprüngliche Nachricht-----",
        "---------- Forwarded message", "-------- Weitergeleitete Nachricht",
        "-------- Original-Nachricht", "-------- Forwarded Message",
    };
    if ((len == 3 && memcmp(line, "-- ", 3) == 0) || (len == 2 && memcmp(line, "--", 2) == 0))
        return true;
    for (gsize i = 0; i < G_N_ELEMENTS(marks); i++)
        if (len >= strlen(marks[i]) && memcmp(line, marks[i], strlen(marks[i])) == 0)
            return true;
    return false;
}

char *
store_preview(const char *text)
{
    if (text == NULL)
        return NULL;
    g_autofree char *valid = g_utf8_make_valid(text, -1);
    GString *out = g_string_new(NULL);
    glong chars = 0;
    bool more = false, space = false;
    for (const char *line = valid; *line && !more;) {
        const char *nl = strchr(line, '\n');
        gsize len = nl ? (gsize)(nl - line) : strlen(line);
        const char *next = nl ? nl + 1 : line + len;
        while (len > 0 && (*line == ' ' || *line == '\t')) {
            line++;
            len--;
        }
        gsize trimmed = len;
        while (trimmed > 0 && (line[trimmed - 1] == '\r'))
            trimmed--;
        if (ends_own_text(line, trimmed) && chars > 0)
            break;
        if (trimmed == 0 || line[0] == '>') {
            space = chars > 0;
            line = next;
            continue;
        }
        for (const char *p = line; p < line + trimmed; p = g_utf8_next_char(p)) {
            gunichar c = g_utf8_get_char(p);
            if (g_unichar_isspace(c) || g_unichar_iscntrl(c)) {
                space = chars > 0;
                continue;
            }
            if (chars >= PREVIEW_CHARS) {
                more = true;
                break;
            }
            if (space) {
                g_string_append_c(out, ' ');
                chars++;
                space = false;
            }
            g_string_append_unichar(out, c);
            chars++;
        }
        space = chars > 0;
        line = next;
    }
    if (more)
        g_string_append(out, "…");
    if (out->len == 0) {
        g_string_free(out, TRUE);
        return NULL;
    }
    return g_string_free(out, FALSE);
}

static void
collect_addresses(json_t *v, GString *out)
{
    const char *key;
    json_t *child;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach(v, key, child) {
            if (strcmp(key, "envelope") == 0)
                continue; /* the drop address is in every mail */
            if (json_is_string(child) &&
                (strcmp(key, "name") == 0 || strcmp(key, "address") == 0 ||
                 strcmp(key, "from_text") == 0))
                g_string_append_printf(out, "%s%s", out->len ? " " : "",
                                       json_string_value(child));
            else
                collect_addresses(child, out);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, child)
            collect_addresses(child, out);
    }
}

char *
store_mail_addresses_text(const char *addresses_json)
{
    if (addresses_json == NULL)
        return NULL;
    g_autoptr(json_t) root = json_loads(addresses_json, 0, NULL);
    GString *out = g_string_new(NULL);
    collect_addresses(root, out);
    return g_string_free(out, out->len == 0);
}

bool
store_index(ClStore *store, const char *op, gint64 id, const char *subject, const char *text,
            const char *addresses, const char *names, GError **error)
{
    /* The same cut going in and coming out: at a character boundary. */
    g_autofree char *cut = NULL;
    if (text != NULL && strlen(text) > INDEX_TEXT_BYTES) {
        const char *end = g_utf8_find_prev_char(text, text + INDEX_TEXT_BYTES + 1);
        cut = g_strndup(text, end ? (gsize)(end - text) : 0);
        text = cut;
    }
    ClDbStmt *s = cl_db_prepare(store->db,
                                *op ? "INSERT INTO entry_search (entry_search, rowid, subject,"
                                      " text, addresses, names) VALUES ('delete', ?, ?, ?, ?, ?)"
                                    : "INSERT INTO entry_search (rowid, subject, text,"
                                      " addresses, names) VALUES (?, ?, ?, ?, ?)",
                                error);
    if (s == NULL)
        return false;
    cl_db_bind_int64(s, 1, id);
    cl_db_bind_text(s, 2, subject ? subject : "");
    cl_db_bind_text(s, 3, text ? text : "");
    cl_db_bind_text(s, 4, addresses ? addresses : "");
    cl_db_bind_text(s, 5, names ? names : "");
    return cl_db_run(s, error);
}

char *
store_entry_names(ClStore *store, gint64 id, GError **error)
{
    /* Contact persons in their order, then the attachments in theirs. */
    ClDbStmt *s = cl_db_prepare(store->db,
                                "SELECT coalesce(c.name, c.key) FROM entry_contacts ec"
                                " JOIN contacts c ON c.id = ec.contact_id WHERE ec.entry_id = ?1"
                                " UNION ALL SELECT name FROM (SELECT name FROM attachments"
                                " WHERE entry_id = ?1 ORDER BY position, id)",
                                error);
    if (s == NULL)
        return NULL;
    cl_db_bind_int64(s, 1, id);
    GString *out = g_string_new(NULL);
    int rc;
    while ((rc = cl_db_step(s, error)) == 1) {
        const char *name = cl_db_column_text(s, 0);
        if (name != NULL && *name)
            g_string_append_printf(out, "%s%s", out->len ? "; " : "", name);
    }
    if (rc < 0) {
        g_string_free(out, TRUE);
        return NULL;
    }
    return g_string_free(out, FALSE);
}

bool
store_set_indexed_names(ClStore *store, gint64 id, const char *names, GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db, "UPDATE entries SET search_names = ? WHERE id = ?",
                                error);
    if (s == NULL)
        return false;
    cl_db_bind_text(s, 1, names);
    cl_db_bind_int64(s, 2, id);
    return cl_db_run(s, error);
}

bool
store_reindex_contact(ClStore *store, gint64 contact_id, GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                "INSERT OR IGNORE INTO search_queue (entry_id)"
                                " SELECT entry_id FROM entry_contacts WHERE contact_id = ?",
                                error);
    if (s == NULL)
        return false;
    cl_db_bind_int64(s, 1, contact_id);
    return cl_db_run(s, error);
}

bool
store_notify(ClStore *store, gint64 tenant_id, gint64 entry_id, gint64 user_id, const char *kind,
             gint64 actor_id, GError **error)
{
    if (user_id <= 0)
        return true;
    ClDbStmt *s = cl_db_prepare(store->db,
                                "INSERT INTO notifications (tenant_id, user_id, entry_id, kind,"
                                " actor_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                                error);
    if (s == NULL)
        return false;
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_int64(s, 2, user_id);
    cl_db_bind_int64(s, 3, entry_id);
    cl_db_bind_text(s, 4, kind);
    if (actor_id > 0)
        cl_db_bind_int64(s, 5, actor_id);
    else
        cl_db_bind_null(s, 5);
    cl_db_bind_int64(s, 6, g_get_real_time() / G_USEC_PER_SEC);
    return cl_db_run(s, error);
}

/* A word for FTS5: in double quotes (doubled inside), so that no character of
 * it is query syntax; `prefix` adds * (the word may go on). */
static void
append_term(GString *q, const char *word, gsize len, bool prefix)
{
    if (q->len)
        g_string_append_c(q, ' ');
    g_string_append_c(q, '"');
    for (gsize i = 0; i < len; i++) {
        if (word[i] == '"')
            g_string_append_c(q, '"');
        g_string_append_c(q, word[i]);
    }
    g_string_append_c(q, '"');
    if (prefix)
        g_string_append_c(q, '*');
}

/* Does the text hold a letter or digit (something the tokenizer keeps)? */
static bool
has_word(const char *p, gsize len)
{
    for (const char *end = p + len; p < end; p = g_utf8_next_char(p))
        if (g_unichar_isalnum(g_utf8_get_char(p)))
            return true;
    return false;
}

char *
cl_store_search_query(const char *text)
{
    if (text == NULL)
        return NULL;
    g_autofree char *valid = g_utf8_make_valid(text, -1);
    GString *q = g_string_new(NULL);
    const char *p = valid;
    guint terms = 0;
    while (*p && terms < 32) {
        while (*p && g_ascii_isspace(*p))
            p++;
        if (!*p)
            break;
        if (*p == '"') {
            /* "a phrase": its words in this order, the last one complete */
            const char *end = strchr(p + 1, '"');
            gsize len = end ? (gsize)(end - p - 1) : strlen(p + 1);
            if (has_word(p + 1, len)) {
                append_term(q, p + 1, len, false);
                terms++;
            }
            p = end ? end + 1 : p + 1 + len;
            continue;
        }
        const char *start = p;
        while (*p && !g_ascii_isspace(*p) && *p != '"')
            p++;
        if (has_word(start, p - start)) {
            /* a one-letter prefix would read most of the index */
            append_term(q, start, p - start, g_utf8_strlen(start, p - start) >= 2);
            terms++;
        }
    }
    return g_string_free(q, q->len == 0);
}

bool
cl_store_index_check(ClStore *store, GError **error)
{
    return cl_db_exec(store->db, "INSERT INTO entry_search (entry_search) VALUES ('integrity-check')",
                      error);
}

gint64
cl_store_index_backlog(ClStore *store, GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db, "SELECT count(*) FROM search_queue", error);
    return s ? cl_db_one_int64(s, 0, error) : -1;
}

/* One queued entry, its mail read and parsed before the write lock is taken. */
typedef struct {
    gint64 id;
    bool from_mail;
    char *subject, *addresses, *text; /* text NULL: the entry is gone */
} Queued;

static void
queued_clear(Queued *q)
{
    g_free(q->subject);
    g_free(q->addresses);
    g_free(q->text);
}

gint64
cl_store_index_queued(ClStore *store, ClEntryTextFunc text_fn, void *data, guint max,
                      GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                "SELECT entry_id FROM search_queue ORDER BY entry_id LIMIT ?",
                                error);
    if (s == NULL)
        return -1;
    cl_db_bind_int64(s, 1, max ? max : 16);
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(gint64));
    int rc;
    while ((rc = cl_db_step(s, error)) == 1) {
        gint64 id = cl_db_column_int64(s, 0);
        g_array_append_val(ids, id);
    }
    if (rc < 0)
        return -1;
    if (ids->len == 0)
        return 0;
    /* Reading and parsing the originals happens outside the write lock: only
     * the index's insert holds it, so that mail keeps being acknowledged. */
    g_autoptr(GArray) work = g_array_new(FALSE, TRUE, sizeof(Queued));
    g_array_set_clear_func(work, (GDestroyNotify)queued_clear);
    for (guint i = 0; i < ids->len; i++) {
        Queued q = { .id = g_array_index(ids, gint64, i) };
        g_autoptr(GError) local = NULL;
        g_autoptr(ClEntry) e = cl_store_entry_get(store, 0, q.id, &local);
        if (e == NULL && !g_error_matches(local, CL_ERROR, CL_ERROR_NOT_FOUND)) {
            g_propagate_error(error, g_steal_pointer(&local));
            return -1;
        }
        if (e != NULL && e->from_mail) {
            q.from_mail = true;
            q.subject = g_strdup(e->subject);
            q.addresses = store_mail_addresses_text(e->addresses_json);
            q.text = text_fn(store, e, data);
            if (q.text == NULL)
                q.text = g_strdup(""); /* an unreadable original: found by subject and address */
        } else if (e != NULL) {
            q.text = g_strdup(""); /* a manual entry: read again under the lock */
        }
        g_array_append_val(work, q);
    }
    /* Without an fsync of its own: the transaction is atomic, so a crash
     * that loses it leaves the mails queued, and they are indexed again. The
     * write lock is then held for the index's insert only, and mail arriving
     * meanwhile waits for no disk. */
    if (store->sync && !cl_db_exec(store->db, "PRAGMA synchronous=NORMAL", error))
        return -1;
    gint64 done = -1;
    if (!cl_store_begin(store, error))
        goto out;
    done = 0;
    for (guint i = 0; i < work->len; i++) {
        Queued *q = &g_array_index(work, Queued, i);
        ClDbStmt *d = cl_db_prepare(store->db, "DELETE FROM search_queue WHERE entry_id = ?",
                                    error);
        if (d == NULL)
            goto fail;
        cl_db_bind_int64(d, 1, q->id);
        if (!cl_db_run(d, error))
            goto fail;
        /* Another indexer, or a delete, came first: nothing to do. */
        if (cl_db_changes(store->db) != 1)
            continue;
        done++;
        if (q->text == NULL)
            continue;
        /* Under the lock: what the index holds of it now (search_names, and a
         * manual entry's subject and text, which an edit may have changed
         * meanwhile; a mail's never change) comes out, the entry as it is
         * now goes in. */
        ClDbStmt *cur = cl_db_prepare(store->db,
                                      "SELECT search_names, subject, body FROM entries"
                                      " WHERE id = ?",
                                      error);
        if (cur == NULL)
            goto fail;
        cl_db_bind_int64(cur, 1, q->id);
        int rc = cl_db_step(cur, error);
        if (rc < 0)
            goto fail;
        if (rc == 0)
            continue; /* deleted meanwhile */
        g_autofree char *old_names = g_strdup(cl_db_column_text(cur, 0));
        if (!q->from_mail) {
            g_free(q->subject);
            g_free(q->text);
            q->subject = g_strdup(cl_db_column_text(cur, 1));
            q->text = g_strdup(cl_db_column_text(cur, 2));
        }
        while (cl_db_step(cur, NULL) == 1)
            ;
        g_autofree char *names = store_entry_names(store, q->id, error);
        if (names == NULL)
            goto fail;
        if (old_names != NULL &&
            !store_index(store, "delete", q->id, q->subject, q->text, q->addresses, old_names,
                         error))
            goto fail;
        if (!store_index(store, "", q->id, q->subject, q->text, q->addresses, names, error) ||
            !store_set_indexed_names(store, q->id, names, error))
            goto fail;
    }
    if (!cl_store_commit(store, error))
        done = -1;
out:
    if (store->sync)
        cl_db_exec(store->db, "PRAGMA synchronous=FULL", NULL);
    return done;
fail:
    cl_store_rollback(store);
    done = -1;
    goto out;
}

bool
cl_store_reindex(ClStore *store, char *(*text_fn)(ClStore *, ClEntry *, void *), void *data,
                 guint *count_out, GError **error)
{
    /* In batches, so that mail keeps arriving meanwhile. With the emptied
     * index every entry is "not in the index yet" (search_names NULL) and
     * queued: an edit or a delete meanwhile takes nothing out of the index
     * (taking out words that are not there was "database disk image is
     * malformed"), the server's indexer may index some of them first, and
     * what an interrupted run did not reach stays queued for it. */
    guint count = 0;
    if (!cl_store_begin(store, error))
        return false;
    ClDbStmt *s = cl_db_prepare(store->db,
                                "INSERT INTO entry_search (entry_search) VALUES ('delete-all')",
                                error);
    bool ok = s != NULL && cl_db_run(s, error);
    if (ok) {
        s = cl_db_prepare(store->db, "UPDATE entries SET search_names = NULL", error);
        ok = s != NULL && cl_db_run(s, error);
    }
    if (ok) {
        s = cl_db_prepare(store->db,
                          "INSERT OR IGNORE INTO search_queue (entry_id) SELECT id FROM entries",
                          error);
        ok = s != NULL && cl_db_run(s, error);
    }
    if (!ok || !cl_store_commit(store, error)) {
        cl_store_rollback(store);
        return false;
    }
    gint64 after = 0;
    for (;;) {
        s = cl_db_prepare(store->db, "SELECT id, tenant_id FROM entries WHERE id > ?"
                                     " ORDER BY id LIMIT 200",
                          error);
        if (s == NULL)
            return false;
        cl_db_bind_int64(s, 1, after);
        g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(gint64) * 2);
        int rc;
        while ((rc = cl_db_step(s, error)) == 1) {
            gint64 pair[2] = { cl_db_column_int64(s, 0), cl_db_column_int64(s, 1) };
            g_array_append_vals(ids, pair, 1);
        }
        if (rc < 0)
            return false;
        if (ids->len == 0)
            break;
        if (!cl_store_begin(store, error))
            return false;
        for (guint i = 0; i < ids->len; i++) {
            gint64 *pair = &g_array_index(ids, gint64, 2 * i);
            after = pair[0];
            /* Still queued? Else the server's indexer came first, or it was deleted. */
            ClDbStmt *q = cl_db_prepare(store->db, "DELETE FROM search_queue WHERE entry_id = ?",
                                        error);
            if (q == NULL)
                goto fail;
            cl_db_bind_int64(q, 1, pair[0]);
            if (!cl_db_run(q, error))
                goto fail;
            if (cl_db_changes(store->db) != 1)
                continue;
            g_autoptr(ClEntry) e = cl_store_entry_get(store, pair[1], pair[0], error);
            if (e == NULL)
                goto fail;
            g_autofree char *text = e->from_mail ? text_fn(store, e, data) : g_strdup(e->body);
            g_autofree char *addresses =
                e->from_mail ? store_mail_addresses_text(e->addresses_json) : NULL;
            g_autofree char *names = store_entry_names(store, e->id, error);
            if (names == NULL)
                goto fail;
            g_autofree char *preview = store_preview(text);
            ClDbStmt *up = cl_db_prepare(store->db,
                                         "UPDATE entries SET preview = ?, search_names = ?"
                                         " WHERE id = ?",
                                         error);
            if (up == NULL)
                goto fail;
            cl_db_bind_text(up, 1, preview);
            cl_db_bind_text(up, 2, names);
            cl_db_bind_int64(up, 3, e->id);
            if (!cl_db_run(up, error) ||
                !store_index(store, "", e->id, e->subject, text, addresses, names, error))
                goto fail;
            count++;
        }
        if (!cl_store_commit(store, error))
            goto fail;
    }
    if (count_out)
        *count_out = count;
    return true;
fail:
    cl_store_rollback(store);
    return false;
}
