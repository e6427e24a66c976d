/*
 * store-entry.c — entries (captured mail and manual contacts), their contacts,
 * reasons and attachments; rejections; the review step; lookups for commands.
 * Every query names the tenant.
 */
#include "store-private.h"

#include <string.h>

static const char *state_names[] = { "pending", "saved", "discarded" };
static const char *channel_names[] = { "phone", "email", "meeting", "video", "letter", "other" };

const char *
cl_entry_state_name(ClEntryState state)
{
    return (unsigned)state < G_N_ELEMENTS(state_names) ? state_names[state] : "pending";
}

const char *
cl_channel_name(ClChannel channel)
{
    return (unsigned)channel < G_N_ELEMENTS(channel_names) ? channel_names[channel] : "other";
}

int
cl_channel_parse(const char *text)
{
    static const struct {
        const char *word;
        ClChannel channel;
    } words[] = {
        { "telefon", CL_CHANNEL_PHONE },  { "anruf", CL_CHANNEL_PHONE },
        { "e-mail", CL_CHANNEL_EMAIL },   { "mail", CL_CHANNEL_EMAIL },
        { "termin", CL_CHANNEL_MEETING }, { "besuch", CL_CHANNEL_MEETING },
        { "treffen", CL_CHANNEL_MEETING }, { "videokonferenz", CL_CHANNEL_VIDEO },
        { "brief", CL_CHANNEL_LETTER },   { "sonstiges", CL_CHANNEL_OTHER },
    };
    if (text == NULL)
        return -1;
    for (gsize i = 0; i < G_N_ELEMENTS(channel_names); i++)
        if (g_ascii_strcasecmp(text, channel_names[i]) == 0)
            return (int)i;
    for (gsize i = 0; i < G_N_ELEMENTS(words); i++)
        if (g_ascii_strcasecmp(text, words[i].word) == 0)
            return words[i].channel;
    return -1;
}

static int
parse_name(const char *text, const char **names, gsize n)
{
    for (gsize i = 0; text && i < n; i++)
        if (strcmp(text, names[i]) == 0)
            return (int)i;
    return 0;
}

static void
attachment_free(ClEntryAttachment *a)
{
    if (a == NULL)
        return;
    g_free(a->name);
    g_free(a->content_type);
    g_free(a->hash);
    g_free(a);
}

ClEntry *
cl_entry_new(void)
{
    ClEntry *e = g_new0(ClEntry, 1);
    e->contacts = cl_item_array_new();
    e->notify = cl_item_array_new();
    e->candidates = cl_item_array_new();
    e->reasons = g_ptr_array_new_with_free_func((GDestroyNotify)cl_reason_free);
    e->attachments = g_ptr_array_new_with_free_func((GDestroyNotify)attachment_free);
    e->channel = CL_CHANNEL_EMAIL;
    e->version = 1;
    return e;
}

void
cl_entry_free(ClEntry *e)
{
    if (e == NULL)
        return;
    g_free(e->tenant_key);
    cl_item_free(e->author);
    cl_item_free(e->company);
    cl_item_free(e->lead);
    cl_item_free(e->project);
    g_ptr_array_unref(e->contacts);
    g_ptr_array_unref(e->notify);
    g_ptr_array_unref(e->candidates);
    g_ptr_array_unref(e->reasons);
    g_ptr_array_unref(e->attachments);
    g_free(e->followup);
    g_free(e->subject);
    g_free(e->body);
    g_free(e->message_id);
    g_free(e->content_hash);
    g_free(e->original_text);
    g_free(e->in_reply_to);
    g_free(e->addresses_json);
    g_free(e->raw_hash);
    g_free(e);
}

gint64
cl_store_entry_find_message_id(ClStore *store, gint64 tenant_id, const char *message_id,
                               GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                "SELECT id FROM entries WHERE tenant_id = ? AND message_id = ?",
                                error);
    if (s == NULL)
        return -1;
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_text(s, 2, message_id);
    return cl_db_one_int64(s, 0, error);
}

gint64
cl_store_entry_find_content_hash(ClStore *store, gint64 tenant_id, const char *hash,
                                 GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                "SELECT id FROM entries WHERE tenant_id = ? AND content_hash = ?",
                                error);
    if (s == NULL)
        return -1;
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_text(s, 2, hash);
    return cl_db_one_int64(s, 0, error);
}

static gint64
item_id(const ClItem *item)
{
    return item ? item->id : 0;
}

static void
bind_id(ClDbStmt *s, int index, gint64 id)
{
    if (id > 0)
        cl_db_bind_int64(s, index, id);
    else
        cl_db_bind_null(s, index);
}

static char *
candidates_json(GPtrArray *candidates)
{
    if (candidates->len == 0)
        return NULL;
    g_autoptr(json_t) obj = json_object();
    for (guint i = 0; i < candidates->len; i++) {
        ClItem *c = g_ptr_array_index(candidates, i);
        const char *field = cl_item_kind_name(c->kind);
        json_t *list = json_object_get(obj, field);
        if (list == NULL) {
            list = json_array();
            json_object_set_new(obj, field, list);
        }
        json_array_append_new(list, json_string(c->key));
    }
    return json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
}

static char *
reasons_json(GPtrArray *reasons)
{
    g_autoptr(json_t) arr = json_array();
    for (guint i = 0; i < reasons->len; i++) {
        ClReason *r = g_ptr_array_index(reasons, i);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s?}", "field", r->field, "rule",
                                             r->rule, "detail", r->detail));
    }
    return json_dumps(arr, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

static void
load_reasons(ClEntry *e, const char *json)
{
    g_autoptr(json_t) arr = json ? json_loads(json, 0, NULL) : NULL;
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r)
        g_ptr_array_add(e->reasons, cl_reason_new(json_string_value(json_object_get(r, "field")),
                                                  json_string_value(json_object_get(r, "rule")),
                                                  json_string_value(json_object_get(r, "detail"))));
}

bool
cl_store_entry_insert(ClStore *store, ClEntry *e, GError **error)
{
    ClDb *db = store->db;
    ClDbStmt *s = cl_db_prepare(
        db,
        "INSERT INTO entries (tenant_id, state, origin, channel, contact_time, created_at,"
        " updated_at, author_id, company_id, lead_id, project_id, followup, subject, body,"
        " body_from_html, forwarded, message_id, content_hash, in_reply_to, addresses,"
        " candidates, reasons, raw_hash, raw_size) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
        " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        error);
    if (s == NULL)
        return false;
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;
    if (e->created_at == 0)
        e->created_at = now;
    e->updated_at = now;
    g_autofree char *cands = candidates_json(e->candidates);
    g_autofree char *reasons = reasons_json(e->reasons);
    int i = 1;
    cl_db_bind_int64(s, i++, e->tenant_id);
    cl_db_bind_text(s, i++, cl_entry_state_name(e->state));
    cl_db_bind_text(s, i++, e->from_mail ? "mail" : "manual");
    cl_db_bind_text(s, i++, cl_channel_name(e->channel));
    cl_db_bind_int64(s, i++, e->contact_time ? e->contact_time : now);
    cl_db_bind_int64(s, i++, e->created_at);
    cl_db_bind_int64(s, i++, e->updated_at);
    cl_db_bind_int64(s, i++, item_id(e->author));
    bind_id(s, i++, item_id(e->company));
    bind_id(s, i++, item_id(e->lead));
    bind_id(s, i++, item_id(e->project));
    cl_db_bind_text(s, i++, e->followup);
    cl_db_bind_text(s, i++, e->subject ? e->subject : "");
    cl_db_bind_text(s, i++, e->body); /* NULL: captured mail, the text is in the original */
    cl_db_bind_int64(s, i++, e->body_from_html);
    cl_db_bind_int64(s, i++, e->forwarded);
    cl_db_bind_text(s, i++, e->message_id);
    cl_db_bind_text(s, i++, e->content_hash);
    cl_db_bind_text(s, i++, e->in_reply_to);
    cl_db_bind_text(s, i++, e->addresses_json);
    cl_db_bind_text(s, i++, cands);
    cl_db_bind_text(s, i++, reasons);
    cl_db_bind_text(s, i++, e->raw_hash);
    if (e->raw_hash)
        cl_db_bind_int64(s, i++, e->raw_size);
    else
        cl_db_bind_null(s, i++);
    e->id = cl_db_one_int64(s, -1, error);
    if (e->id < 0)
        return false;

    for (guint k = 0; k < e->contacts->len; k++) {
        ClDbStmt *c = cl_db_prepare(db,
                                    "INSERT INTO entry_contacts (tenant_id, entry_id, position,"
                                    " contact_id) VALUES (?, ?, ?, ?)",
                                    error);
        if (c == NULL)
            return false;
        cl_db_bind_int64(c, 1, e->tenant_id);
        cl_db_bind_int64(c, 2, e->id);
        cl_db_bind_int64(c, 3, k);
        cl_db_bind_int64(c, 4, ((ClItem *)g_ptr_array_index(e->contacts, k))->id);
        if (!cl_db_run(c, error))
            return false;
    }
    for (guint k = 0; k < e->notify->len; k++) {
        ClDbStmt *n = cl_db_prepare(db,
                                    "INSERT OR IGNORE INTO entry_notify (tenant_id, entry_id,"
                                    " user_id) VALUES (?, ?, ?)",
                                    error);
        if (n == NULL)
            return false;
        cl_db_bind_int64(n, 1, e->tenant_id);
        cl_db_bind_int64(n, 2, e->id);
        cl_db_bind_int64(n, 3, ((ClItem *)g_ptr_array_index(e->notify, k))->id);
        if (!cl_db_run(n, error))
            return false;
    }
    for (guint k = 0; k < e->attachments->len; k++) {
        ClEntryAttachment *a = g_ptr_array_index(e->attachments, k);
        ClDbStmt *n = cl_db_prepare(db,
                                    "INSERT INTO attachments (tenant_id, entry_id, position, name,"
                                    " content_type, size, hash) VALUES (?, ?, ?, ?, ?, ?, ?)"
                                    " RETURNING id",
                                    error);
        if (n == NULL)
            return false;
        cl_db_bind_int64(n, 1, e->tenant_id);
        cl_db_bind_int64(n, 2, e->id);
        cl_db_bind_int64(n, 3, k);
        cl_db_bind_text(n, 4, a->name);
        cl_db_bind_text(n, 5, a->content_type);
        cl_db_bind_int64(n, 6, a->size);
        cl_db_bind_text(n, 7, a->hash);
        a->id = cl_db_one_int64(n, -1, error);
        if (a->id < 0)
            return false;
    }
    return true;
}

bool
cl_store_rejection_insert(ClStore *store, const ClRejection *r, GError **error)
{
    ClDbStmt *s = cl_db_prepare(
        store->db,
        "INSERT INTO rejections (tenant_id, received_at, reason, message, sender, envelope,"
        " subject, message_id, origin, raw_hash, raw_size) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?,"
        " ?, ?)",
        error);
    if (s == NULL)
        return false;
    bind_id(s, 1, r->tenant_id);
    cl_db_bind_int64(s, 2, g_get_real_time() / G_USEC_PER_SEC);
    cl_db_bind_text(s, 3, r->reason);
    cl_db_bind_text(s, 4, r->message);
    cl_db_bind_text(s, 5, r->sender);
    cl_db_bind_text(s, 6, r->envelope_json);
    cl_db_bind_text(s, 7, r->subject);
    cl_db_bind_text(s, 8, r->message_id);
    cl_db_bind_text(s, 9, r->origin);
    cl_db_bind_text(s, 10, r->raw_hash);
    cl_db_bind_int64(s, 11, r->raw_size);
    return cl_db_run(s, error);
}

/* ---- lookups ------------------------------------------------------------------------ */

static const struct {
    const char *by_key;   /* ? tenant (0 = all), ? key */
    const char *by_id;
} item_sql[] = {
    [CL_ITEM_TENANT] = { "SELECT id, id, key, name, 0, NULL, key FROM tenants"
                         " WHERE (?1 = 0 OR id = ?1) AND key = ?2",
                         "SELECT id, id, key, name, 0, NULL, key FROM tenants WHERE id = ?" },
    [CL_ITEM_USER] = { "SELECT DISTINCT u.id, u.tenant_id, u.key, u.name, 0, NULL, t.key FROM users u"
                       " JOIN tenants t ON t.id = u.tenant_id"
                       " LEFT JOIN user_addresses a ON a.user_id = u.id"
                       " WHERE (?1 = 0 OR u.tenant_id = ?1) AND (u.key = ?2 OR a.address = ?3)",
                       "SELECT u.id, u.tenant_id, u.key, u.name, 0, NULL, t.key FROM users u"
                       " JOIN tenants t ON t.id = u.tenant_id WHERE u.id = ?" },
    [CL_ITEM_COMPANY] = { "SELECT c.id, c.tenant_id, c.key, c.name, c.id, c.key, t.key FROM companies c"
                          " JOIN tenants t ON t.id = c.tenant_id"
                          " WHERE (?1 = 0 OR c.tenant_id = ?1) AND c.key = ?2",
                          "SELECT c.id, c.tenant_id, c.key, c.name, c.id, c.key, t.key FROM companies c"
                          " JOIN tenants t ON t.id = c.tenant_id WHERE c.id = ?" },
    [CL_ITEM_CONTACT] = { "SELECT c.id, c.tenant_id, c.key, c.name, c.company_id, co.key, t.key"
                          " FROM contacts c JOIN companies co ON co.id = c.company_id"
                          " JOIN tenants t ON t.id = c.tenant_id"
                          " WHERE (?1 = 0 OR c.tenant_id = ?1) AND c.key = ?2",
                          "SELECT c.id, c.tenant_id, c.key, c.name, c.company_id, co.key, t.key"
                          " FROM contacts c JOIN companies co ON co.id = c.company_id"
                          " JOIN tenants t ON t.id = c.tenant_id WHERE c.id = ?" },
    [CL_ITEM_LEAD] = { "SELECT l.id, l.tenant_id, l.number, l.name, l.company_id, co.key, t.key"
                       " FROM leads l JOIN companies co ON co.id = l.company_id"
                       " JOIN tenants t ON t.id = l.tenant_id"
                       " WHERE (?1 = 0 OR l.tenant_id = ?1) AND l.number = ?2",
                       "SELECT l.id, l.tenant_id, l.number, l.name, l.company_id, co.key, t.key"
                       " FROM leads l JOIN companies co ON co.id = l.company_id"
                       " JOIN tenants t ON t.id = l.tenant_id WHERE l.id = ?" },
    [CL_ITEM_PROJECT] = { "SELECT p.id, p.tenant_id, p.key, p.name, p.company_id, co.key, t.key"
                          " FROM projects p JOIN companies co ON co.id = p.company_id"
                          " JOIN tenants t ON t.id = p.tenant_id"
                          " WHERE (?1 = 0 OR p.tenant_id = ?1) AND p.key = ?2",
                          "SELECT p.id, p.tenant_id, p.key, p.name, p.company_id, co.key, t.key"
                          " FROM projects p JOIN companies co ON co.id = p.company_id"
                          " JOIN tenants t ON t.id = p.tenant_id WHERE p.id = ?" },
};

static ClItem *
row_item(ClDbStmt *s, ClItemKind kind)
{
    ClItem *item = cl_item_new(kind, cl_db_column_int64(s, 0), cl_db_column_int64(s, 1),
                               cl_db_column_text(s, 2));
    item->name = g_strdup(cl_db_column_text(s, 3));
    item->company_id = cl_db_column_int64(s, 4);
    item->company_key = g_strdup(cl_db_column_text(s, 5));
    item->tenant_key = g_strdup(cl_db_column_text(s, 6));
    return item;
}

ClItem *
cl_store_find(ClStore *store, ClItemKind kind, gint64 tenant_id, const char *key, GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db, item_sql[kind].by_key, error);
    if (s == NULL)
        return NULL;
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_text(s, 2, key);
    g_autofree char *folded = NULL;
    if (kind == CL_ITEM_USER) {
        folded = cl_address_fold(key);
        cl_db_bind_text(s, 3, folded);
    }
    g_autoptr(GPtrArray) found = cl_item_array_new();
    int rc;
    while ((rc = cl_db_step(s, error)) == 1)
        g_ptr_array_add(found, row_item(s, kind));
    if (rc < 0)
        return NULL;
    if (found->len == 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_NOT_FOUND, "no %s \"%s\"", cl_item_kind_name(kind),
                    key);
        return NULL;
    }
    if (found->len > 1) {
        g_set_error(error, CL_ERROR, CL_ERROR_CONFLICT,
                    "%s \"%s\" exists in several tenants; name one with --tenant",
                    cl_item_kind_name(kind), key);
        return NULL;
    }
    return g_ptr_array_steal_index(found, 0);
}

ClItem *
store_item_by_id(ClStore *store, ClItemKind kind, gint64 id, GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db, item_sql[kind].by_id, error);
    if (s == NULL)
        return NULL;
    cl_db_bind_int64(s, 1, id);
    int rc = cl_db_step(s, error);
    if (rc < 0)
        return NULL;
    if (rc == 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_NOT_FOUND, "no %s with id %" G_GINT64_FORMAT,
                    cl_item_kind_name(kind), id);
        return NULL;
    }
    ClItem *item = row_item(s, kind);
    while (cl_db_step(s, NULL) == 1)
        ;
    return item;
}

/* ---- reading entries ------------------------------------------------------------------ */

#define ENTRY_COLUMNS                                                                          \
    "e.id, e.tenant_id, t.key, e.state, e.origin, e.channel, e.contact_time, e.created_at,"   \
    " e.updated_at, e.author_id, e.company_id, e.lead_id, e.project_id, e.followup,"          \
    " e.subject, e.body, e.body_from_html, e.forwarded, e.message_id, e.in_reply_to,"         \
    " e.addresses, e.candidates, e.raw_hash, e.raw_size, e.version, e.reasons"

static ClItem *
optional_item(ClStore *store, ClItemKind kind, gint64 id, GError **error, bool *ok)
{
    if (id <= 0)
        return NULL;
    ClItem *item = store_item_by_id(store, kind, id, error);
    if (item == NULL)
        *ok = false;
    return item;
}

static bool
load_candidates(ClEntry *e, const char *json)
{
    if (json == NULL)
        return true;
    g_autoptr(json_t) obj = json_loads(json, 0, NULL);
    if (obj == NULL)
        return false;
    const char *field;
    json_t *list;
    json_object_foreach(obj, field, list) {
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) {
            int kind = cl_item_kind_parse(field);
            if (kind < 0)
                continue;
            g_ptr_array_add(e->candidates, cl_item_new(kind, 0, e->tenant_id,
                                                       json_string_value(v)));
        }
    }
    return true;
}

static ClEntry *
row_entry(ClStore *store, ClDbStmt *s, GError **error)
{
    g_autoptr(ClEntry) e = cl_entry_new();
    e->id = cl_db_column_int64(s, 0);
    e->tenant_id = cl_db_column_int64(s, 1);
    e->tenant_key = g_strdup(cl_db_column_text(s, 2));
    e->state = parse_name(cl_db_column_text(s, 3), state_names, G_N_ELEMENTS(state_names));
    e->from_mail = g_strcmp0(cl_db_column_text(s, 4), "mail") == 0;
    e->channel = parse_name(cl_db_column_text(s, 5), channel_names, G_N_ELEMENTS(channel_names));
    e->contact_time = cl_db_column_int64(s, 6);
    e->created_at = cl_db_column_int64(s, 7);
    e->updated_at = cl_db_column_int64(s, 8);
    gint64 author = cl_db_column_int64(s, 9), company = cl_db_column_int64(s, 10);
    gint64 lead = cl_db_column_int64(s, 11), project = cl_db_column_int64(s, 12);
    e->followup = g_strdup(cl_db_column_text(s, 13));
    e->subject = g_strdup(cl_db_column_text(s, 14));
    e->body = g_strdup(cl_db_column_text(s, 15));
    e->body_from_html = cl_db_column_int64(s, 16) != 0;
    e->forwarded = cl_db_column_int64(s, 17) != 0;
    e->message_id = g_strdup(cl_db_column_text(s, 18));
    e->in_reply_to = g_strdup(cl_db_column_text(s, 19));
    e->addresses_json = g_strdup(cl_db_column_text(s, 20));
    g_autofree char *cands = g_strdup(cl_db_column_text(s, 21));
    e->raw_hash = g_strdup(cl_db_column_text(s, 22));
    e->raw_size = cl_db_column_int64(s, 23);
    e->version = cl_db_column_int64(s, 24);
    load_candidates(e, cands);
    load_reasons(e, cl_db_column_text(s, 25));
    /* The statement is not touched below: the caller stepped it to the end. */
    bool ok = true;
    e->author = optional_item(store, CL_ITEM_USER, author, error, &ok);
    if (ok)
        e->company = optional_item(store, CL_ITEM_COMPANY, company, error, &ok);
    if (ok)
        e->lead = optional_item(store, CL_ITEM_LEAD, lead, error, &ok);
    if (ok)
        e->project = optional_item(store, CL_ITEM_PROJECT, project, error, &ok);
    return ok ? g_steal_pointer(&e) : NULL;
}

static bool
load_details(ClStore *store, ClEntry *e, GError **error)
{
    ClDb *db = store->db;
    ClDbStmt *s = cl_db_prepare(db,
                                "SELECT contact_id FROM entry_contacts WHERE entry_id = ?"
                                " ORDER BY position",
                                error);
    if (s == NULL)
        return false;
    cl_db_bind_int64(s, 1, e->id);
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(gint64));
    int rc;
    while ((rc = cl_db_step(s, error)) == 1) {
        gint64 id = cl_db_column_int64(s, 0);
        g_array_append_val(ids, id);
    }
    if (rc < 0)
        return false;
    for (guint i = 0; i < ids->len; i++) {
        ClItem *c = store_item_by_id(store, CL_ITEM_CONTACT, g_array_index(ids, gint64, i), error);
        if (c == NULL)
            return false;
        g_ptr_array_add(e->contacts, c);
    }
    g_array_set_size(ids, 0);
    s = cl_db_prepare(db, "SELECT user_id FROM entry_notify WHERE entry_id = ? ORDER BY user_id",
                      error);
    if (s == NULL)
        return false;
    cl_db_bind_int64(s, 1, e->id);
    while ((rc = cl_db_step(s, error)) == 1) {
        gint64 id = cl_db_column_int64(s, 0);
        g_array_append_val(ids, id);
    }
    if (rc < 0)
        return false;
    for (guint i = 0; i < ids->len; i++) {
        ClItem *u = store_item_by_id(store, CL_ITEM_USER, g_array_index(ids, gint64, i), error);
        if (u == NULL)
            return false;
        g_ptr_array_add(e->notify, u);
    }
    s = cl_db_prepare(db,
                      "SELECT id, name, content_type, size, hash FROM attachments"
                      " WHERE entry_id = ? ORDER BY position",
                      error);
    if (s == NULL)
        return false;
    cl_db_bind_int64(s, 1, e->id);
    while ((rc = cl_db_step(s, error)) == 1) {
        ClEntryAttachment *a = g_new0(ClEntryAttachment, 1);
        a->id = cl_db_column_int64(s, 0);
        a->name = g_strdup(cl_db_column_text(s, 1));
        a->content_type = g_strdup(cl_db_column_text(s, 2));
        a->size = cl_db_column_int64(s, 3);
        a->hash = g_strdup(cl_db_column_text(s, 4));
        g_ptr_array_add(e->attachments, a);
    }
    return rc == 0;
}

ClEntry *
cl_store_entry_get(ClStore *store, gint64 tenant_id, gint64 id, GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                "SELECT " ENTRY_COLUMNS " FROM entries e"
                                " JOIN tenants t ON t.id = e.tenant_id"
                                " WHERE e.id = ?1 AND (?2 = 0 OR e.tenant_id = ?2)",
                                error);
    if (s == NULL)
        return NULL;
    cl_db_bind_int64(s, 1, id);
    cl_db_bind_int64(s, 2, tenant_id);
    int rc = cl_db_step(s, error);
    if (rc < 0)
        return NULL;
    if (rc == 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_NOT_FOUND, "no entry %" G_GINT64_FORMAT, id);
        return NULL;
    }
    /* Read the row's columns before any other statement runs. */
    g_autoptr(ClEntry) e = NULL;
    {
        g_autoptr(GError) local = NULL;
        e = row_entry(store, s, &local);
        while (cl_db_step(s, NULL) == 1)
            ;
        if (e == NULL) {
            g_propagate_error(error, g_steal_pointer(&local));
            return NULL;
        }
    }
    if (!load_details(store, e, error))
        return NULL;
    return g_steal_pointer(&e);
}

GPtrArray *
cl_store_entries_list(ClStore *store, const ClEntryQuery *q, GError **error)
{
    /* Newest first by contact time, then id; every form walks one index of
     * 0001-initial.sql. The cursor is an entry: the page continues after it. */
    gint64 before_time = G_MAXINT64;
    if (q->before_id) {
        ClDbStmt *c = cl_db_prepare(store->db,
                                    "SELECT contact_time FROM entries WHERE tenant_id = ? AND id = ?",
                                    error);
        if (c == NULL)
            return NULL;
        cl_db_bind_int64(c, 1, q->tenant_id);
        cl_db_bind_int64(c, 2, q->before_id);
        GError *local = NULL;
        before_time = cl_db_one_int64(c, G_MININT64, &local);
        if (local != NULL) {
            g_propagate_error(error, local);
            return NULL;
        }
        if (before_time == G_MININT64) {
            g_set_error(error, CL_ERROR, CL_ERROR_NOT_FOUND, "no entry %" G_GINT64_FORMAT,
                        q->before_id);
            return NULL;
        }
    }
#define CURSOR " AND (?3 = 0 OR (e.contact_time, e.id) < (?5, ?3))" \
               " ORDER BY e.contact_time DESC, e.id DESC LIMIT ?4"
    const char *sql;
    gint64 owner;
    if (q->author_id && !q->own_history) {
        sql = "SELECT e.id FROM entries e WHERE e.tenant_id = ?1 AND e.author_id = ?2"
              " AND e.state = 'pending'" CURSOR;
        owner = q->author_id;
    } else if (q->own_history) {
        sql = "SELECT e.id FROM entries e WHERE e.tenant_id = ?1 AND e.author_id = ?2"
              " AND e.state = 'saved' AND e.company_id IS NULL AND e.lead_id IS NULL"
              " AND e.project_id IS NULL" CURSOR;
        owner = q->author_id;
    } else if (q->lead_id) {
        sql = "SELECT e.id FROM entries e WHERE e.tenant_id = ?1 AND e.lead_id = ?2"
              " AND e.state = 'saved'" CURSOR;
        owner = q->lead_id;
    } else if (q->project_id) {
        sql = "SELECT e.id FROM entries e WHERE e.tenant_id = ?1 AND e.project_id = ?2"
              " AND e.state = 'saved'" CURSOR;
        owner = q->project_id;
    } else {
        sql = "SELECT e.id FROM entries e WHERE e.tenant_id = ?1 AND e.company_id = ?2"
              " AND e.state = 'saved'" CURSOR;
        owner = q->company_id;
    }
#undef CURSOR
    ClDbStmt *s = cl_db_prepare(store->db, sql, error);
    if (s == NULL)
        return NULL;
    cl_db_bind_int64(s, 1, q->tenant_id);
    cl_db_bind_int64(s, 2, owner);
    cl_db_bind_int64(s, 3, q->before_id);
    cl_db_bind_int64(s, 4, q->limit ? q->limit : 50);
    cl_db_bind_int64(s, 5, before_time);
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(gint64));
    int rc;
    while ((rc = cl_db_step(s, error)) == 1) {
        gint64 id = cl_db_column_int64(s, 0);
        g_array_append_val(ids, id);
    }
    if (rc < 0)
        return NULL;
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)cl_entry_free);
    for (guint i = 0; i < ids->len; i++) {
        ClEntry *e = cl_store_entry_get(store, q->tenant_id, g_array_index(ids, gint64, i), error);
        if (e == NULL)
            return NULL;
        g_ptr_array_add(out, e);
    }
    return g_steal_pointer(&out);
}

/* ---- review ------------------------------------------------------------------------------ */

static bool
check_record(ClStore *store, ClItemKind kind, gint64 id, gint64 tenant_id, gint64 company_id,
             GError **error)
{
    g_autoptr(ClItem) item = store_item_by_id(store, kind, id, error);
    if (item == NULL)
        return false;
    if (item->tenant_id != tenant_id) {
        g_set_error(error, CL_ERROR, CL_ERROR_NOT_FOUND, "no %s with id %" G_GINT64_FORMAT,
                    cl_item_kind_name(kind), id);
        return false;
    }
    if (company_id && kind != CL_ITEM_COMPANY && item->company_id != company_id) {
        g_set_error(error, CL_ERROR, CL_ERROR_INVALID,
                    "%s %s belongs to company %s, not to the entry's company",
                    cl_item_kind_name(kind), item->key, item->company_key ? item->company_key : "?");
        return false;
    }
    return true;
}

bool
cl_store_entry_confirm(ClStore *store, gint64 tenant_id, gint64 id, const ClEntryChange *c,
                       GError **error)
{
    g_autoptr(ClEntry) e = cl_store_entry_get(store, tenant_id, id, error);
    if (e == NULL)
        return false;
    if (e->state != CL_ENTRY_PENDING) {
        g_set_error(error, CL_ERROR, CL_ERROR_CONFLICT, "entry %" G_GINT64_FORMAT " is %s, not pending",
                    id, cl_entry_state_name(e->state));
        return false;
    }
    if (c->version && c->version != e->version) {
        g_set_error(error, CL_ERROR, CL_ERROR_CONFLICT,
                    "entry %" G_GINT64_FORMAT " was changed meanwhile (version %" G_GINT64_FORMAT ")",
                    id, e->version);
        return false;
    }
    gint64 company = c->company_id ? c->company_id : item_id(e->company);
    gint64 lead = c->lead_id ? (c->lead_id < 0 ? 0 : c->lead_id) : item_id(e->lead);
    gint64 project = c->project_id ? (c->project_id < 0 ? 0 : c->project_id) : item_id(e->project);
    if (c->lead_id > 0 && !c->project_id)
        project = 0; /* an entry belongs to a lead or a project, not both */
    if (c->project_id > 0 && !c->lead_id)
        lead = 0;
    /* A chosen lead/project without a company brings its company along. */
    if (!company && (lead || project)) {
        g_autoptr(ClItem) r = store_item_by_id(store, lead ? CL_ITEM_LEAD : CL_ITEM_PROJECT,
                                               lead ? lead : project, error);
        if (r == NULL)
            return false;
        company = r->company_id;
    }
    if (company && !check_record(store, CL_ITEM_COMPANY, company, e->tenant_id, 0, error))
        return false;
    /* Moving to another company takes along nothing of the old one that the
     * reviewer did not name again: its contacts, its lead or project. */
    g_autoptr(GPtrArray) kept = NULL;
    const GPtrArray *contact_ids = c->contact_ids;
    if (c->company_id && c->company_id != item_id(e->company)) {
        if (contact_ids == NULL) {
            kept = g_ptr_array_new_with_free_func(g_free);
            for (guint i = 0; i < e->contacts->len; i++) {
                ClItem *ct = g_ptr_array_index(e->contacts, i);
                if (ct->company_id == company)
                    g_ptr_array_add(kept, g_memdup2(&ct->id, sizeof ct->id));
            }
            contact_ids = kept;
        }
        if (c->lead_id == 0 && e->lead && e->lead->company_id != company)
            lead = 0;
        if (c->project_id == 0 && e->project && e->project->company_id != company)
            project = 0;
    }
    if (lead && !check_record(store, CL_ITEM_LEAD, lead, e->tenant_id, company, error))
        return false;
    if (project && !check_record(store, CL_ITEM_PROJECT, project, e->tenant_id, company, error))
        return false;
    ClDb *db = store->db;
    if (contact_ids != NULL) {
        for (guint i = 0; i < contact_ids->len; i++) {
            gint64 cid = *(gint64 *)g_ptr_array_index(contact_ids, i);
            if (!check_record(store, CL_ITEM_CONTACT, cid, e->tenant_id, company, error))
                return false;
        }
        ClDbStmt *del = cl_db_prepare(db, "DELETE FROM entry_contacts WHERE entry_id = ?", error);
        if (del == NULL)
            return false;
        cl_db_bind_int64(del, 1, id);
        if (!cl_db_run(del, error))
            return false;
        for (guint i = 0; i < contact_ids->len; i++) {
            ClDbStmt *ins = cl_db_prepare(db,
                                          "INSERT INTO entry_contacts (tenant_id, entry_id,"
                                          " position, contact_id) VALUES (?, ?, ?, ?)",
                                          error);
            if (ins == NULL)
                return false;
            cl_db_bind_int64(ins, 1, e->tenant_id);
            cl_db_bind_int64(ins, 2, id);
            cl_db_bind_int64(ins, 3, i);
            cl_db_bind_int64(ins, 4, *(gint64 *)g_ptr_array_index(contact_ids, i));
            if (!cl_db_run(ins, error))
                return false;
        }
    }
    /* What the reviewer changed is a reason too: the automatic ones stay as
     * they were, so that both can be seen. */
    struct {
        const char *field;
        ClItemKind kind;
        ClItem *old;
        gint64 now;
    } changes[] = {
        { "company", CL_ITEM_COMPANY, e->company, company },
        { "lead", CL_ITEM_LEAD, e->lead, lead },
        { "project", CL_ITEM_PROJECT, e->project, project },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(changes); i++) {
        if (item_id(changes[i].old) == changes[i].now)
            continue;
        g_autoptr(ClItem) now = changes[i].now
                                    ? store_item_by_id(store, changes[i].kind, changes[i].now, error)
                                    : NULL;
        if (changes[i].now && now == NULL)
            return false;
        g_autofree char *detail =
            changes[i].old ? g_strdup_printf("%s (was %s)", now ? now->key : "none",
                                             changes[i].old->key)
                           : g_strdup(now ? now->key : "none");
        g_ptr_array_add(e->reasons, cl_reason_new(changes[i].field, "review", detail));
    }
    if (contact_ids != NULL) {
        GString *keys = g_string_new(NULL);
        for (guint i = 0; i < contact_ids->len; i++) {
            g_autoptr(ClItem) ct = store_item_by_id(
                store, CL_ITEM_CONTACT, *(gint64 *)g_ptr_array_index(contact_ids, i), NULL);
            g_string_append_printf(keys, "%s%s", keys->len ? ", " : "", ct ? ct->key : "?");
        }
        g_autofree char *detail = g_string_free(keys, FALSE);
        g_ptr_array_add(e->reasons, cl_reason_new("contact", "review", *detail ? detail : "none"));
    }
    g_autofree char *reasons = reasons_json(e->reasons);
    ClDbStmt *up = cl_db_prepare(db,
                                 "UPDATE entries SET state = 'saved', company_id = ?,"
                                 " lead_id = ?, project_id = ?, channel = ?, updated_at = ?,"
                                 " version = version + 1, reasons = ? WHERE id = ? AND version = ?",
                                 error);
    if (up == NULL)
        return false;
    bind_id(up, 1, company);
    bind_id(up, 2, lead);
    bind_id(up, 3, project);
    cl_db_bind_text(up, 4, cl_channel_name(c->channel >= 0 ? (ClChannel)c->channel : e->channel));
    cl_db_bind_int64(up, 5, g_get_real_time() / G_USEC_PER_SEC);
    cl_db_bind_text(up, 6, reasons);
    cl_db_bind_int64(up, 7, id);
    cl_db_bind_int64(up, 8, e->version);
    if (!cl_db_run(up, error))
        return false;
    if (cl_db_changes(db) != 1) {
        g_set_error(error, CL_ERROR, CL_ERROR_CONFLICT, "entry %" G_GINT64_FORMAT
                    " was changed meanwhile", id);
        return false;
    }
    return true;
}

int
cl_store_rejection_known(ClStore *store, const char *raw_hash, const char *message_id,
                         const char *sender, GError **error)
{
    /* The same bytes, or the same Message-ID from the same sender: mail that
     * came over LMTP twice differs in its Received line. */
    ClDbStmt *s = cl_db_prepare(store->db,
                                "SELECT EXISTS (SELECT 1 FROM rejections WHERE raw_hash = ?1) OR "
                                "EXISTS (SELECT 1 FROM rejections WHERE ?2 IS NOT NULL AND "
                                "message_id = ?2 AND sender IS ?3)",
                                error);
    if (s == NULL)
        return -1;
    cl_db_bind_text(s, 1, raw_hash);
    cl_db_bind_text(s, 2, message_id);
    cl_db_bind_text(s, 3, sender);
    gint64 found = cl_db_one_int64(s, 0, error);
    return found < 0 ? -1 : found == 1;
}

GPtrArray *
cl_store_rejections_list(ClStore *store, gint64 tenant_id, guint limit, GError **error)
{
    ClDbStmt *s = cl_db_prepare(
        store->db,
        "SELECT r.id, r.received_at, r.reason, r.message, r.sender, r.subject, r.message_id,"
        " r.origin, r.raw_hash, r.raw_size, t.key FROM rejections r"
        " LEFT JOIN tenants t ON t.id = r.tenant_id"
        " WHERE (?1 = 0 OR r.tenant_id = ?1) ORDER BY r.id DESC LIMIT ?2",
        error);
    if (s == NULL)
        return NULL;
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_int64(s, 2, limit ? limit : 100);
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);
    int rc;
    while ((rc = cl_db_step(s, error)) == 1) {
        g_autoptr(json_t) o = json_object();
        json_object_set_new(o, "id", json_integer(cl_db_column_int64(s, 0)));
        g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(cl_db_column_int64(s, 1));
        g_autofree char *when = g_date_time_format_iso8601(t);
        json_object_set_new(o, "received", json_string(when));
        json_object_set_new(o, "tenant", cl_db_column_text(s, 10)
                                             ? json_string(cl_db_column_text(s, 10))
                                             : json_null());
        static const char *names[] = { NULL, NULL, "reason", "message", "sender", "subject",
                                       "message_id", "origin", "raw_hash" };
        for (int i = 2; i <= 8; i++)
            json_object_set_new(o, names[i], cl_db_column_text(s, i)
                                                 ? json_string(cl_db_column_text(s, i))
                                                 : json_null());
        json_object_set_new(o, "size", json_integer(cl_db_column_int64(s, 9)));
        g_ptr_array_add(out, json_dumps(o, JSON_COMPACT));
    }
    return rc < 0 ? NULL : g_steal_pointer(&out);
}

GPtrArray *
cl_store_users_list(ClStore *store, gint64 tenant_id, GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                "SELECT u.id, u.tenant_id, u.key, u.name, 0, NULL, t.key"
                                " FROM users u JOIN tenants t ON t.id = u.tenant_id"
                                " WHERE ?1 = 0 OR u.tenant_id = ?1 ORDER BY t.key, u.key",
                                error);
    if (s == NULL)
        return NULL;
    cl_db_bind_int64(s, 1, tenant_id);
    g_autoptr(GPtrArray) out = cl_item_array_new();
    int rc;
    while ((rc = cl_db_step(s, error)) == 1)
        g_ptr_array_add(out, row_item(s, CL_ITEM_USER));
    return rc < 0 ? NULL : g_steal_pointer(&out);
}
