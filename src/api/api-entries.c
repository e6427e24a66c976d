/*
 * api-entries.c — the contact history: "Meine Kontakthistorie" (the inbox
 * and the own history), the histories of companies, leads and projects,
 * follow-ups, search, manual entries, the review of captured mail,
 * attachments and original messages, and uploads of raw mail into the
 * capture pipeline. Stage: API.
 *
 * Who sees what (cl_entry_visible): pending and discarded mail and the own
 * history only its author; saved entries of a company, lead or project every
 * user of the tenant. An entry one may not see is answered 404, exactly like
 * one that does not exist. Changing an entry: its author, or an admin for
 * entries they can see.
 */
#include "api-private.h"

#include <errno.h>
#include <gio/gio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#define SNIFF_BYTES 4096
#define SEARCH_CATCH_UP 256 /* queued mails a search indexes itself before it searches */
#define CONTACT_TIME_MIN G_GINT64_CONSTANT(86400)        /* 1970-01-02T00:00:00Z */
#define CONTACT_TIME_MAX G_GINT64_CONSTANT(253402300799) /* 9999-12-31T23:59:59Z */

/* ---- lists ---------------------------------------------------------------------------------- */

/* If-None-Match names etag (a list, weak tags too: RFC 9110 §13.1.2). */
static bool
none_match(const char *header, const char *etag, const char *etag_gz)
{
    if (header == NULL)
        return false;
    g_auto(GStrv) tags = g_strsplit(header, ",", 64);
    for (char **t = tags; *t != NULL; t++) {
        const char *tag = g_strstrip(*t);
        if (g_str_has_prefix(tag, "W/"))
            tag += 2;
        if (strcmp(tag, etag) == 0 || strcmp(tag, etag_gz) == 0 || strcmp(tag, "*") == 0)
            return true;
    }
    return false;
}

/* A page that is (or is about to be) kept under key: 304 when the client has
 * it already; its gzip form (made once, kept beside it) when the client takes
 * gzip. The two forms have ETags of their own ("…-gz"), as RFC 9110 wants of
 * representations that differ; either matches If-None-Match. */
static void
reply_kept(Request *r, ApiCache *cache, const char *key, gint64 generation, GBytes *body,
           GBytes *gzip, const char *etag)
{
    bool want = g_bytes_get_size(body) >= API_GZIP_MIN_BYTES && api_wants_gzip(r);
    /* "hash" → "hash-gz": the compressed answer's own ETag (no printf: every request) */
    gsize n = strlen(etag);
    char etag_gz[64];
    if (n < 2 || n + 3 >= sizeof etag_gz)
        n = 2;
    memcpy(etag_gz, etag, n - 1);
    memcpy(etag_gz + n - 1, "-gz\"", 5);
    if (none_match(api_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH), etag, etag_gz)) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL,
                                                                    MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, want ? etag_gz : etag);
        MHD_add_response_header(resp, "Cache-Control", "private, no-cache");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
        api_reply_response(r, 304, resp);
        return;
    }
    g_autoptr(GBytes) made = NULL;
    if (want && gzip == NULL) {
        gsize len = 0;
        const void *data = g_bytes_get_data(body, &len);
        gzip = made = api_gzip(data, len, 6);
        if (made != NULL)
            api_cache_store(cache, key, generation, body, made, etag);
    }
    if (!want)
        gzip = NULL;
    api_reply_bytes(r, 200, body, gzip, gzip ? etag_gz : etag);
}

/* A page of entries; cache_kind (a letter, or 0): kept in the page cache under it.
 * owner_kind (or -1): the record whose history it is, checked to be the tenant's
 * before a page is made (a kept page was checked when it was made, in the same
 * generation, under a key that names the tenant). */
static void
reply_page(Request *r, ClEntryQuery *q, char cache_kind, gint64 owner, int owner_kind)
{
    gint64 limit;
    if (!api_query_int(r, "limit", 50, 1, API_MAX_PAGE, &limit) ||
        !api_query_cursor(r, &q->before_time, &q->before_id))
        return;
    q->limit = (guint)limit;
    ApiCache *cache = cache_kind ? api_page_cache(r->api) : NULL;
    g_autofree char *key = NULL, *etag = NULL;
    gint64 generation = 0;
    if (cache != NULL) {
        /* The page as this user sees it (can_edit is theirs). */
        generation = api_generation(r);
        key = g_strdup_printf("%c:%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT
                              ":%d:%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT,
                              cache_kind, r->user->tenant_id, owner, r->user->id, r->user->admin,
                              limit, q->before_time, q->before_id);
        g_autoptr(GBytes) kept_gzip = NULL;
        g_autoptr(GBytes) kept = api_cache_lookup(cache, key, generation, &kept_gzip, &etag);
        if (kept != NULL) {
            reply_kept(r, cache, key, generation, kept, kept_gzip, etag);
            return;
        }
    }
    g_autoptr(GError) error = NULL;
    if (owner_kind >= 0) {
        g_autoptr(ClItem) item = cl_store_item_get(api_store(r), owner_kind, r->user->tenant_id,
                                                   owner, &error);
        if (item == NULL) {
            api_reply_error(r, error);
            return;
        }
    }
    GString *out = g_string_sized_new(1024 + q->limit * 1300);
    g_string_append_c(out, '{');
    if (!api_page_write(r, out, q, &error)) {
        g_string_free(out, TRUE);
        api_reply_error(r, error);
        return;
    }
    g_string_append_c(out, '}');
    if (cache == NULL) {
        api_reply_text(r, 200, out);
        return;
    }
    g_autoptr(GBytes) body = g_string_free_to_bytes(out);
    etag = api_page_etag(body);
    api_cache_store(cache, key, generation, body, NULL, etag);
    reply_kept(r, cache, key, generation, body, NULL, etag);
}

void
api_inbox(Request *r)
{
    const char *state = api_query(r, "state");
    if (state != NULL && strcmp(state, "pending") != 0 && strcmp(state, "own") != 0) {
        api_reply_problem(r, 400, "bad-request", "?state= is \"pending\" or \"own\"");
        return;
    }
    ClEntryQuery q = { .tenant_id = r->user->tenant_id, .author_id = r->user->id,
                       .own_history = state != NULL && strcmp(state, "own") == 0 };
    reply_page(r, &q, 0, 0, -1);
}

static void
history(Request *r, ClItemKind kind)
{
    ClEntryQuery q = { .tenant_id = r->user->tenant_id };
    if (kind == CL_ITEM_COMPANY)
        q.company_id = r->ids[0];
    else if (kind == CL_ITEM_LEAD)
        q.lead_id = r->ids[0];
    else
        q.project_id = r->ids[0];
    /* Histories are read by every user of the tenant and change seldom: kept. */
    reply_page(r, &q, kind == CL_ITEM_COMPANY ? 'c' : kind == CL_ITEM_LEAD ? 'l' : 'p', r->ids[0],
               kind);
}

void
api_history_company(Request *r)
{
    history(r, CL_ITEM_COMPANY);
}

void
api_history_lead(Request *r)
{
    history(r, CL_ITEM_LEAD);
}

void
api_history_project(Request *r)
{
    history(r, CL_ITEM_PROJECT);
}

void
api_followups(Request *r)
{
    const char *from = api_query(r, "from"), *to = api_query(r, "to");
    if ((from && !cl_date_valid(from)) || (to && !cl_date_valid(to))) {
        api_reply_problem(r, 400, "bad-request", "?from= and ?to= are dates YYYY-MM-DD");
        return;
    }
    gint64 limit, done;
    if (!api_query_int(r, "limit", 200, 1, 500, &limit) ||
        !api_query_int(r, "include_done", 0, 0, 1, &done))
        return;
    ClEntryQuery q = { .tenant_id = r->user->tenant_id, .author_id = r->user->id,
                       .followups = true, .followup_from = from, .followup_to = to,
                       .include_done = done, .limit = (guint)limit };
    g_autoptr(GError) error = NULL;
    GString *out = g_string_new("{");
    if (!api_page_write(r, out, &q, &error)) {
        g_string_free(out, TRUE);
        api_reply_error(r, error);
        return;
    }
    g_string_append_c(out, '}');
    api_reply_text(r, 200, out);
}

void
api_search(Request *r)
{
    const char *text = api_query(r, "q");
    g_autofree char *query = cl_store_search_query(text);
    if (query == NULL) {
        api_reply_problem(r, 400, "bad-request", "?q= needs a word to search for");
        return;
    }
    gint64 limit, before_time, before_id;
    if (!api_query_int(r, "limit", 50, 1, API_MAX_PAGE, &limit) ||
        !api_query_cursor(r, &before_time, &before_id))
        return;
    ClEntryQuery q = { .tenant_id = r->user->tenant_id, .search = query,
                       .viewer_id = r->user->id, .limit = (guint)limit,
                       .before_time = before_time, .before_id = before_id };
    g_autoptr(GError) error = NULL;
    /* Mail captured a moment ago is found by its text too: the server indexes
     * it behind the acknowledgement; a search catches up first (a bounded
     * part of it, and says what still waits). */
    for (guint i = 0; i < SEARCH_CATCH_UP / 16; i++) {
        gint64 n = cl_store_index_queued(api_store(r), cl_pipeline_index_text, NULL, 16, &error);
        if (n < 0) {
            api_reply_error(r, error);
            return;
        }
        if (n == 0)
            break;
    }
    gint64 backlog = cl_store_index_backlog(api_store(r), &error);
    if (backlog < 0) {
        api_reply_error(r, error);
        return;
    }
    GString *out = g_string_new("{\"query\":");
    api_put_string(out, text);
    g_string_append_printf(out, ",\"index_pending\":%" G_GINT64_FORMAT ",", backlog);
    if (!api_page_write(r, out, &q, &error)) {
        g_string_free(out, TRUE);
        api_reply_error(r, error);
        return;
    }
    /* The tenant's records of that name, with the first page. */
    static const struct {
        ClItemKind kind;
        const char *field;
    } kinds[] = { { CL_ITEM_COMPANY, "companies" }, { CL_ITEM_CONTACT, "contacts" },
                  { CL_ITEM_LEAD, "leads" }, { CL_ITEM_PROJECT, "projects" } };
    for (gsize i = 0; i < G_N_ELEMENTS(kinds); i++) {
        g_autoptr(json_t) records = NULL;
        if (before_id == 0) {
            ClRecordQuery rq = { .tenant_id = r->user->tenant_id, .query = text, .limit = 10 };
            records = cl_store_records_json(api_store(r), kinds[i].kind, &rq, &error);
            if (records == NULL) {
                g_string_free(out, TRUE);
                api_reply_error(r, error);
                return;
            }
        }
        g_autofree char *items = records ? json_dumps(json_object_get(records, "items"),
                                                      JSON_COMPACT | JSON_PRESERVE_ORDER)
                                         : NULL;
        g_string_append_printf(out, ",\"%s\":%s", kinds[i].field, items ? items : "[]");
    }
    g_string_append_c(out, '}');
    api_reply_text(r, 200, out);
}

/* ---- one entry ------------------------------------------------------------------------------ */

/* The entry of the path when the user may see it (and, when `change`, change it);
 * NULL after answering. */
static ClEntry *
visible_entry(Request *r, bool change)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(ClEntry) e = cl_store_entry_get(api_store(r), r->user->tenant_id, r->ids[0], &error);
    if (e == NULL) {
        api_reply_error(r, error);
        return NULL;
    }
    if (!cl_entry_visible(e, r->user->id)) {
        api_reply_problem(r, 404, "not-found", "no entry %" G_GINT64_FORMAT, r->ids[0]);
        return NULL;
    }
    bool author = e->author && e->author->id == r->user->id;
    if (change && !author && !r->user->admin) {
        api_reply_problem(r, 403, "forbidden", "only its author or an admin may change entry %"
                          G_GINT64_FORMAT, e->id);
        return NULL;
    }
    return g_steal_pointer(&e);
}

/* Answers with the entry as it is now (after a change). */
static void
reply_entry(Request *r, gint64 id, unsigned status)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(ClEntry) e = cl_store_entry_get(api_store(r), r->user->tenant_id, id, &error);
    if (e == NULL) {
        api_reply_error(r, error);
        return;
    }
    GString *out = g_string_new(NULL);
    if (!api_entry_write(r, out, e, true, &error)) {
        g_string_free(out, TRUE);
        api_reply_error(r, error);
        return;
    }
    api_reply_text(r, status, out);
}

void
api_entry_get(Request *r)
{
    g_autoptr(ClEntry) e = visible_entry(r, false);
    if (e == NULL)
        return;
    g_autoptr(GError) error = NULL;
    GString *out = g_string_new(NULL);
    if (!api_entry_write(r, out, e, true, &error)) {
        g_string_free(out, TRUE);
        api_reply_error(r, error);
        return;
    }
    api_reply_text(r, 200, out);
}

/* What a request body may say about an entry, read into a change. */
typedef struct {
    ClEntryChange change;
    GPtrArray *contact_ids;
    GPtrArray *notify_ids;
    GArray *remove;
    GPtrArray *attachments; /* ClEntryAttachment *, from JSON (base64) */
    GPtrArray *data;        /* GBytes * of those attachments */
    bool has_channel;
} Change;

static void
change_clear(Change *c)
{
    g_clear_pointer(&c->contact_ids, g_ptr_array_unref);
    g_clear_pointer(&c->notify_ids, g_ptr_array_unref);
    g_clear_pointer(&c->remove, g_array_unref);
    g_clear_pointer(&c->attachments, g_ptr_array_unref);
    g_clear_pointer(&c->data, g_ptr_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Change, change_clear)

static bool
string_field(Request *r, json_t *body, const char *field, gsize max, const char **out)
{
    json_t *v = json_object_get(body, field);
    if (v == NULL)
        return true;
    if (!json_is_string(v) || json_string_length(v) > max) {
        api_reply_problem(r, 422, "invalid", "\"%s\" must be a text of at most %zu bytes", field,
                          max);
        return false;
    }
    if (memchr(json_string_value(v), '\0', json_string_length(v)) != NULL) {
        api_reply_problem(r, 422, "invalid", "\"%s\" must not contain NUL characters", field);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

/* A record field: absent = keep (0), null = clear (-1), else its id. false after answering. */
static bool
record_field(Request *r, json_t *body, const char *field, ClItemKind kind, gint64 *out)
{
    json_t *v = json_object_get(body, field);
    if (v == NULL)
        return true;
    gint64 id = api_record_id(r, kind, v, field);
    if (id < 0)
        return false;
    *out = id == 0 ? -1 : id;
    return true;
}

static bool
attachments_from_json(Request *r, json_t *list, Change *c)
{
    if (!json_is_array(list) || json_array_size(list) > API_MAX_UPLOADS) {
        api_reply_problem(r, 422, "invalid", "\"attachments\" must be a list of at most %d files",
                          API_MAX_UPLOADS);
        return false;
    }
    c->attachments = g_ptr_array_new_with_free_func((GDestroyNotify)cl_entry_attachment_free);
    c->data = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    size_t i;
    json_t *a;
    json_array_foreach(list, i, a) {
        const char *name = json_string_value(json_object_get(a, "name"));
        const char *data = json_string_value(json_object_get(a, "data"));
        const char *type = json_string_value(json_object_get(a, "content_type"));
        if (name == NULL || data == NULL) {
            api_reply_problem(r, 422, "invalid",
                              "attachments[%zu] needs \"name\" and \"data\" (base64)", i);
            return false;
        }
        gsize len = strlen(data);
        g_autofree guint8 *bin = g_malloc(len / 4 * 3 + 3);
        size_t bin_len = 0;
        if (sodium_base642bin(bin, len / 4 * 3 + 3, data, len, " \r\n", &bin_len, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0) {
            api_reply_problem(r, 422, "invalid", "attachments[%zu].data is not base64", i);
            return false;
        }
        ClEntryAttachment *att = g_new0(ClEntryAttachment, 1);
        /* The same cleaning as a form's file names: no path, no control or
         * bidi characters (a "Rechnung\u202efdp.exe"), no header breaks, at
         * most CL_MAX_FILENAME_BYTES. */
        att->name = api_safe_filename(name);
        att->content_type = g_strdup(type ? type : "application/octet-stream");
        att->size = (gint64)bin_len;
        g_ptr_array_add(c->attachments, att);
        g_ptr_array_add(c->data, g_bytes_new(bin, bin_len));
    }
    return true;
}

/*
 * Reads the fields of an entry from a body into c. Absent fields keep what
 * is; null clears company, lead, project and follow-up. `allowed`: the
 * fields this request may give (NULL-terminated). false after answering.
 */
static bool
read_change(Request *r, json_t *body, Change *c, const char *const *allowed)
{
    const char *field;
    json_t *v;
    json_object_foreach(body, field, v) {
        bool ok = false;
        for (gsize i = 0; allowed[i] && !ok; i++)
            ok = strcmp(allowed[i], field) == 0;
        if (!ok) {
            api_reply_problem(r, 422, "invalid", "\"%s\" cannot be given here", field);
            return false;
        }
    }
    c->change = (ClEntryChange)CL_ENTRY_CHANGE_INIT;
    c->change.actor_id = r->user->id;
    json_t *version = json_object_get(body, "version");
    if (version != NULL) {
        if (!json_is_integer(version) || json_integer_value(version) < 1) {
            api_reply_problem(r, 422, "invalid", "\"version\" must be the entry's version");
            return false;
        }
        c->change.version = json_integer_value(version);
    }
    const char *channel = NULL;
    if (!string_field(r, body, "channel", 64, &channel) ||
        !string_field(r, body, "subject", CL_MAX_SUBJECT_BYTES, &c->change.subject) ||
        !string_field(r, body, "text", CL_MAX_TEXT_BYTES, &c->change.body))
        return false;
    if (channel != NULL) {
        c->change.channel = cl_channel_parse(channel);
        c->has_channel = true;
        if (c->change.channel < 0) {
            api_reply_problem(r, 422, "invalid", "\"channel\" must be phone, email, meeting, "
                              "video, letter or other, not \"%s\"", channel);
            return false;
        }
    }
    json_t *when = json_object_get(body, "contact_time");
    if (when != NULL) {
        g_autoptr(GTimeZone) local = g_time_zone_new_local();
        g_autoptr(GDateTime) dt =
            json_is_string(when) ? cl_time_parse(json_string_value(when), local) : NULL;
        if (dt == NULL) {
            api_reply_problem(r, 422, "invalid",
                              "\"contact_time\" must be a time such as 2026-12-04T10:30:00+01:00 "
                              "(seconds and zone may be left out)");
            return false;
        }
        /* 0 means "not given" to the store (now, or unchanged), and answers have
         * years of four digits: a contact happened after 1970-01-01 and before
         * the year 10000, or the time is a mistake. */
        gint64 t = g_date_time_to_unix(dt);
        if (t < CONTACT_TIME_MIN || t > CONTACT_TIME_MAX) {
            api_reply_problem(r, 422, "invalid", "\"contact_time\" must be from "
                              "1970-01-02T00:00:00Z to 9999-12-31T23:59:59Z");
            return false;
        }
        c->change.contact_time = t;
    }
    if (!record_field(r, body, "company", CL_ITEM_COMPANY, &c->change.company_id) ||
        !record_field(r, body, "lead", CL_ITEM_LEAD, &c->change.lead_id) ||
        !record_field(r, body, "project", CL_ITEM_PROJECT, &c->change.project_id))
        return false;
    json_t *contacts = json_object_get(body, "contacts");
    if (contacts != NULL) {
        c->contact_ids = api_record_ids(r, CL_ITEM_CONTACT, contacts, "contacts");
        if (c->contact_ids == NULL)
            return false;
        c->change.contact_ids = c->contact_ids;
    }
    json_t *notify = json_object_get(body, "notify");
    if (notify != NULL) {
        c->notify_ids = api_record_ids(r, CL_ITEM_USER, notify, "notify");
        if (c->notify_ids == NULL)
            return false;
        c->change.notify_ids = c->notify_ids;
    }
    json_t *followup = json_object_get(body, "followup");
    if (followup != NULL) {
        if (json_is_null(followup) ||
            (json_is_string(followup) && json_string_length(followup) == 0)) {
            c->change.followup = "";
        } else if (json_is_string(followup) && cl_date_valid(json_string_value(followup))) {
            c->change.followup = json_string_value(followup);
        } else {
            api_reply_problem(r, 422, "invalid", "\"followup\" must be a date YYYY-MM-DD or null");
            return false;
        }
    }
    json_t *done = json_object_get(body, "followup_done");
    if (done != NULL) {
        if (!json_is_boolean(done)) {
            api_reply_problem(r, 422, "invalid", "\"followup_done\" must be true or false");
            return false;
        }
        c->change.followup_done = json_is_true(done) ? 1 : -1;
    }
    json_t *remove = json_object_get(body, "remove_attachments");
    if (remove != NULL) {
        if (!json_is_array(remove)) {
            api_reply_problem(r, 422, "invalid", "\"remove_attachments\" must be a list of ids");
            return false;
        }
        c->remove = g_array_new(FALSE, FALSE, sizeof(gint64));
        size_t i;
        json_t *id;
        json_array_foreach(remove, i, id) {
            if (!json_is_integer(id)) {
                api_reply_problem(r, 422, "invalid", "\"remove_attachments\" must be a list of ids");
                return false;
            }
            gint64 n = json_integer_value(id);
            g_array_append_val(c->remove, n);
        }
        c->change.remove_attachments = c->remove;
    }
    json_t *atts = json_object_get(body, "attachments");
    if (atts != NULL && !attachments_from_json(r, atts, c))
        return false;
    return true;
}

/* The blobs of a request's files (form uploads or base64 in JSON): stored, and
 * described in c->attachments. Inside the caller's transaction. */
static bool
store_files(Request *r, Change *c, GError **error)
{
    ClStore *store = api_store(r);
    if (c->attachments != NULL) {
        for (guint i = 0; i < c->attachments->len; i++) {
            ClEntryAttachment *a = g_ptr_array_index(c->attachments, i);
            gsize len = 0;
            const guint8 *data = g_bytes_get_data(g_ptr_array_index(c->data, i), &len);
            char hash[CL_HASH_HEX_LEN];
            cl_hash_hex(data, len, hash);
            if (!cl_store_blob_put_data(store, data, len, hash, error))
                return false;
            a->hash = g_strdup(hash);
        }
    }
    if (r->uploads != NULL && r->uploads->len > 0) {
        if (c->attachments == NULL)
            c->attachments =
                g_ptr_array_new_with_free_func((GDestroyNotify)cl_entry_attachment_free);
        for (guint i = 0; i < r->uploads->len; i++) {
            ApiUpload *u = g_ptr_array_index(r->uploads, i);
            char hash[CL_HASH_HEX_LEN];
            if (!cl_store_blob_put_fd(store, u->fd, 0, u->size, hash, error))
                return false;
            ClEntryAttachment *a = g_new0(ClEntryAttachment, 1);
            a->name = g_strdup(u->filename);
            a->content_type = g_strdup(u->content_type);
            a->size = u->size;
            a->hash = g_strdup(hash);
            g_ptr_array_add(c->attachments, a);
        }
    }
    if (c->attachments != NULL)
        c->change.add_attachments = c->attachments;
    return true;
}

/* The JSON of a request: its body, or (multipart) the form field "entry". */
static json_t *
request_fields(Request *r)
{
    if (r->form == NULL)
        return api_body_json(r, true);
    /* Any other part without a filename would be a file lost without a word
     * (RFC 7578 §4.2: a file part has filename=, never only filename*=). */
    GHashTableIter it;
    const char *name;
    g_hash_table_iter_init(&it, r->form);
    while (g_hash_table_iter_next(&it, (gpointer *)&name, NULL)) {
        if (strcmp(name, "entry") != 0) {
            api_reply_problem(r, 422, "invalid",
                              "the form part \"%s\" has no filename: a file is a part with "
                              "filename=\"…\", the entry's fields are the part \"entry\"",
                              name);
            return NULL;
        }
    }
    GString *entry = g_hash_table_lookup(r->form, "entry");
    if (entry == NULL)
        return json_object();
    json_error_t err;
    json_t *v = json_loadb(entry->str, entry->len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                           &err);
    if (v == NULL || !json_is_object(v)) {
        json_decref(v);
        api_reply_problem(r, 400, "bad-json", "the form field \"entry\" must be a JSON object");
        return NULL;
    }
    if (!api_json_acceptable(r, v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

static const char *const entry_fields[] = {
    "channel", "subject", "text", "contact_time", "company", "lead", "project", "contacts",
    "notify", "followup", "followup_done", "attachments", "version", "remove_attachments", NULL,
};

void
api_entry_create(Request *r)
{
    static const char *const fields[] = {
        "channel", "subject", "text", "contact_time", "company", "lead", "project", "contacts",
        "notify", "followup", "followup_done", "attachments", NULL,
    };
    g_autoptr(json_t) body = request_fields(r);
    if (body == NULL)
        return;
    g_auto(Change) c = { 0 };
    if (!read_change(r, body, &c, fields))
        return;
    g_autofree char *subject = g_strstrip(g_strdup(c.change.subject ? c.change.subject : ""));
    if (*subject == '\0' || !c.has_channel) {
        api_reply_problem(r, 422, "invalid", "a new entry needs \"channel\" and \"subject\"");
        return;
    }
    /* Made in two steps inside one transaction: the entry in the user's own
     * history, then assigned exactly as a review assigns (one set of checks). */
    ClStore *store = api_store(r);
    g_autoptr(GError) error = NULL;
    g_autoptr(ClEntry) e = cl_entry_new();
    e->tenant_id = r->user->tenant_id;
    e->state = CL_ENTRY_SAVED;
    e->from_mail = false;
    e->channel = (ClChannel)c.change.channel;
    e->contact_time = c.change.contact_time;
    e->author = cl_item_new(CL_ITEM_USER, r->user->id, r->user->tenant_id, r->user->key);
    e->subject = g_strdup(c.change.subject);
    e->body = g_strdup(c.change.body ? c.change.body : "");
    e->followup = c.change.followup && *c.change.followup ? g_strdup(c.change.followup) : NULL;
    e->followup_done = c.change.followup_done == 1;
    ClEntryChange assign = CL_ENTRY_CHANGE_INIT;
    assign.company_id = c.change.company_id;
    assign.lead_id = c.change.lead_id;
    assign.project_id = c.change.project_id;
    assign.contact_ids = c.change.contact_ids;
    assign.notify_ids = c.change.notify_ids;
    assign.actor_id = r->user->id;
    assign.initial = true; /* a new entry is version 1 */
    bool ok = cl_store_begin(store, &error) && store_files(r, &c, &error);
    if (ok && c.attachments != NULL) {
        for (guint i = 0; i < c.attachments->len; i++) {
            ClEntryAttachment *a = g_ptr_array_index(c.attachments, i);
            ClEntryAttachment *copy = g_new0(ClEntryAttachment, 1);
            copy->name = g_strdup(a->name);
            copy->content_type = g_strdup(a->content_type);
            copy->size = a->size;
            copy->hash = g_strdup(a->hash);
            g_ptr_array_add(e->attachments, copy);
        }
    }
    ok = ok && cl_store_entry_insert(store, e, &error) &&
         cl_store_entry_update(store, e->tenant_id, e->id, &assign, &error);
    if (api_commit(r, ok, &error))
        reply_entry(r, e->id, 201);
}

typedef enum { OP_UPDATE, OP_CONFIRM, OP_DISCARD } Op;

/*
 * The changes of one entry: the user may change it, the body (JSON, or a
 * form's "entry" field and files) says what, and one transaction does it.
 * Answers with the entry as it is afterwards.
 */
static void
change_entry(Request *r, const char *const *fields, Op op, unsigned status)
{
    g_autoptr(ClEntry) e = visible_entry(r, true);
    if (e == NULL)
        return;
    g_autoptr(json_t) body = request_fields(r);
    if (body == NULL)
        return;
    g_auto(Change) c = { 0 };
    if (!read_change(r, body, &c, fields))
        return;
    if (op == OP_UPDATE && status == 201 && c.attachments == NULL &&
        (r->uploads == NULL || r->uploads->len == 0)) { /* POST …/attachments */
        api_reply_problem(r, 422, "invalid", "give the files (multipart/form-data) or "
                          "\"attachments\" (JSON with base64 data)");
        return;
    }
    if (r->ids[1] > 0) { /* DELETE …/attachments/{id}: the path names it, so 404 when absent */
        g_autoptr(GError) missing = NULL;
        g_autoptr(ClEntryAttachment) a = cl_store_attachment_get(api_store(r), e->tenant_id, e->id,
                                                                 r->ids[1], &missing);
        if (a == NULL) {
            api_reply_error(r, missing);
            return;
        }
        c.remove = g_array_new(FALSE, FALSE, sizeof(gint64));
        g_array_append_val(c.remove, r->ids[1]);
        c.change.remove_attachments = c.remove;
    }
    ClStore *store = api_store(r);
    g_autoptr(GError) error = NULL;
    bool ok = cl_store_begin(store, &error) && store_files(r, &c, &error);
    if (ok && op == OP_CONFIRM)
        ok = cl_store_entry_confirm(store, e->tenant_id, e->id, &c.change, &error);
    else if (ok && op == OP_DISCARD)
        ok = cl_store_entry_discard(store, e->tenant_id, e->id, c.change.version, &error);
    else if (ok)
        ok = cl_store_entry_update(store, e->tenant_id, e->id, &c.change, &error);
    if (!api_commit(r, ok, &error))
        return;
    if (status == 204)
        api_reply_empty(r, 204);
    else
        reply_entry(r, e->id, status);
}

void
api_entry_update(Request *r)
{
    change_entry(r, entry_fields, OP_UPDATE, 200);
}

void
api_entry_delete(Request *r)
{
    g_autoptr(ClEntry) e = visible_entry(r, true);
    if (e == NULL)
        return;
    gint64 version;
    if (!api_query_int(r, "version", 0, 0, G_MAXINT64, &version))
        return;
    ClStore *store = api_store(r);
    g_autoptr(GError) error = NULL;
    /* The words of captured mail leave the search index: its text again. */
    g_autofree char *text = NULL;
    if (e->from_mail) {
        g_autoptr(GError) local = NULL;
        if (cl_pipeline_entry_text(store, e, &local))
            text = g_strdup(e->body);
        else
            g_warning("event=entry-text-failed entry=%" G_GINT64_FORMAT " error=\"%s\"", e->id,
                      local->message);
    }
    bool ok = cl_store_begin(store, &error) &&
              cl_store_entry_delete(store, e->tenant_id, e->id, version, text, &error);
    if (api_commit(r, ok, &error))
        api_reply_empty(r, 204);
}

void
api_entry_confirm(Request *r)
{
    static const char *const fields[] = { "company", "lead", "project", "contacts", "channel",
                                          "notify", "followup", "version", NULL };
    change_entry(r, fields, OP_CONFIRM, 200);
}

void
api_entry_discard(Request *r)
{
    static const char *const fields[] = { "version", NULL };
    change_entry(r, fields, OP_DISCARD, 200);
}

/* ---- attachments and originals ---------------------------------------------------------------- */

void
api_attachment_add(Request *r)
{
    static const char *const fields[] = { "attachments", "version", NULL };
    change_entry(r, fields, OP_UPDATE, 201);
}

void
api_attachment_delete(Request *r)
{
    static const char *const fields[] = { "version", NULL };
    change_entry(r, fields, OP_UPDATE, 204);
}

/* Content-Disposition for a download (RFC 6266): an ASCII fallback and the
 * UTF-8 name (RFC 8187). The fallback, for clients that do not read
 * filename*, spells German letters out ("Gesprächsnotiz.pdf" →
 * "Gespraechsnotiz.pdf") and puts one "_" for each other character that is
 * not printable ASCII (and for the quote, backslash and semicolon). */
static char *
disposition(const char *name)
{
    static const struct {
        gunichar c;
        const char *ascii;
    } spelled[] = {
        { 0xe4, "ae" }, { 0xf6, "oe" }, { 0xfc, "ue" }, { 0xdf, "ss" },
        { 0xc4, "Ae" }, { 0xd6, "Oe" }, { 0xdc, "Ue" }, { 0x1e9e, "SS" },
    };
    g_autofree char *valid = g_utf8_make_valid(name, -1);
    g_autofree char *nfc = g_utf8_normalize(valid, -1, G_NORMALIZE_DEFAULT_COMPOSE);
    const char *text = nfc ? nfc : valid;
    GString *ascii = g_string_new(NULL);
    for (const char *p = text; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        const char *out = NULL;
        for (gsize i = 0; i < G_N_ELEMENTS(spelled) && out == NULL; i++)
            if (spelled[i].c == c)
                out = spelled[i].ascii;
        if (out != NULL)
            g_string_append(ascii, out);
        else if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == ';')
            g_string_append_c(ascii, '_');
        else
            g_string_append_c(ascii, (char)c);
    }
    g_autofree char *fallback = g_string_free(ascii, FALSE);
    g_autofree char *encoded = g_uri_escape_string(name, NULL, FALSE);
    return g_strdup_printf("attachment; filename=\"%s\"; filename*=UTF-8''%s", fallback, encoded);
}

/* Sends a blob as a download: the type sniffed from its first bytes and
 * name (not what a mail or uploader claimed), never shown inline. */
static void
reply_blob(Request *r, const char *hash, const char *name, const char *type)
{
    g_autoptr(GError) error = NULL;
    gint64 offset = 0, size = 0;
    int fd = cl_store_blob_open(api_store(r), hash, &offset, &size, &error);
    if (fd < 0) {
        api_reply_error(r, error);
        return;
    }
    g_autofree char *mime = NULL;
    if (type == NULL) {
        /* The content decides; the name only refines a type the content agrees
         * with (a .docx is a zip): "bild.png" holding HTML is text/html. */
        guint8 head[SNIFF_BYTES];
        ssize_t n = pread(fd, head, MIN((gint64)sizeof head, size), offset);
        gboolean uncertain = FALSE;
        g_autofree char *by_content = g_content_type_guess(NULL, n > 0 ? head : NULL,
                                                           n > 0 ? (gsize)n : 0, &uncertain);
        g_autofree char *by_name = g_content_type_guess(name, NULL, 0, NULL);
        const char *guess = by_content;
        if (by_name && by_content && !g_content_type_equals(by_name, by_content) &&
            g_content_type_is_a(by_name, by_content))
            guess = by_name;
        mime = guess ? g_content_type_get_mime_type(guess) : NULL;
        type = mime ? mime : "application/octet-stream";
    }
    struct MHD_Response *resp = MHD_create_response_from_fd_at_offset64((uint64_t)size, fd,
                                                                        (uint64_t)offset);
    if (resp == NULL) {
        close(fd);
        api_reply_problem(r, 500, "internal", "the file cannot be sent");
        return;
    }
    g_autofree char *disp = disposition(name);
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Content-Disposition", disp);
    MHD_add_response_header(resp, "Content-Security-Policy", "sandbox; default-src 'none'");
    MHD_add_response_header(resp, "Cache-Control", "private, no-store");
    api_reply_response(r, 200, resp);
}

void
api_attachment_get(Request *r)
{
    g_autoptr(ClEntry) e = visible_entry(r, false);
    if (e == NULL)
        return;
    g_autoptr(GError) error = NULL;
    g_autoptr(ClEntryAttachment) a = cl_store_attachment_get(api_store(r), e->tenant_id, e->id,
                                                             r->ids[1], &error);
    if (a == NULL) {
        api_reply_error(r, error);
        return;
    }
    reply_blob(r, a->hash, a->name, NULL);
}

void
api_original_get(Request *r)
{
    g_autoptr(ClEntry) e = visible_entry(r, false);
    if (e == NULL)
        return;
    if (e->raw_hash == NULL) {
        api_reply_problem(r, 404, "not-found", "entry %" G_GINT64_FORMAT
                          " was recorded by hand: it has no original message", e->id);
        return;
    }
    g_autofree char *name = g_strdup_printf("entry-%" G_GINT64_FORMAT ".eml", e->id);
    reply_blob(r, e->raw_hash, name, "message/rfc822");
}

/* ---- uploads of raw mail ----------------------------------------------------------------------- */

static void
count_mail(ClResult *result)
{
    g_autofree char *labels =
        result->status == CL_RESULT_REJECTED
            ? g_strdup_printf("source=\"http\",status=\"rejected\",reason=\"%s\"", result->reason)
            : g_strdup_printf("source=\"http\",status=\"%s\"",
                              cl_result_status_name(result->status));
    cl_metrics_count("contactlog_mails_total", labels, 1);
}

void
api_message_upload(Request *r)
{
    if (r->body == NULL && r->spool_fd < 0) {
        api_reply_problem(r, 400, "bad-request", "the request needs the mail as its body");
        return;
    }
    g_autoptr(ClRawMessage) raw = g_new0(ClRawMessage, 1);
    gint64 limit = api_config(r)->max_message_bytes;
    raw->limit = limit;
    raw->stored = MIN(r->body_bytes, limit);
    /* size > stored is what says "too large" to the pipeline. */
    raw->size = r->body_bytes;
    raw->origin = g_strdup_printf("http:%s", r->user->key);
    if (r->spool_fd >= 0) {
        raw->fd = r->spool_fd;
        raw->spool_path = g_steal_pointer(&r->spool_path);
        r->spool_fd = -1;
    } else {
        raw->fd = -1;
        raw->data = g_steal_pointer(&r->body);
    }
    g_autoptr(ClEnvelope) env = cl_envelope_new();
    g_autoptr(ClPipeline) pipeline = cl_pipeline_new(api_store(r), api_config(r));
    /* Mail of the uploader's organisation only; of colleagues only for admins. */
    cl_pipeline_restrict(pipeline, r->user->tenant_id, r->user->admin ? 0 : r->user->id);
    g_autoptr(GError) error = NULL;
    g_autoptr(ClResult) result = cl_pipeline_process(pipeline, raw, env, &error);
    if (result == NULL) {
        api_reply_error(r, error);
        return;
    }
    count_mail(result);
    if (result->status == CL_RESULT_REJECTED) {
        unsigned status = strcmp(result->reason, "too-large") == 0   ? 413
                          : strcmp(result->reason, "forbidden") == 0 ? 403
                                                                     : 422;
        api_reply_problem(r, status, result->reason, "%s", result->message);
        return;
    }
    /* An upload of a colleague's mail (admins) lands in their private inbox:
     * the uploader learns where, not what. A duplicate of an entry the
     * uploader may not see (the colleague's mail was there already) is not
     * named at all: its id would tell that the colleague has it, and which. */
    GString *out = g_string_new(NULL);
    g_string_append_printf(out, "{\"status\":\"%s\",\"entry\":",
                           cl_result_status_name(result->status));
    /* As stored, with the names of its records (the pipeline's result has keys). */
    g_autoptr(ClEntry) stored = cl_store_entry_get(api_store(r), r->user->tenant_id,
                                                   result->entry->id, NULL);
    if (stored != NULL && cl_entry_visible(stored, r->user->id))
        api_entry_write(r, out, stored, false, NULL);
    else if (result->status == CL_RESULT_DUPLICATE)
        g_string_append(out, "null");
    else
        g_string_append_printf(out, "{\"id\":%" G_GINT64_FORMAT "}", result->entry->id);
    g_string_append_c(out, '}');
    api_reply_text(r, result->status == CL_RESULT_DUPLICATE ? 200 : 201, out);
}
