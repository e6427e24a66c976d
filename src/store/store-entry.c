/*
 * store-entry.c — entries (captured mail and manual contacts), their contacts,
 * reasons and attachments; rejections; the review step; lookups for commands.
 * Every query names the tenant.
 */
#include "store-private.h"

#include <stdlib.h>
#include <string.h>

/*
 * Colleagues are told of what they can read: a saved entry without company
 * (a lead or project brings theirs) is its author's own history, private to
 * them, so it has nobody to notify. True when `n_notify` users may be told.
 */
static bool
notify_allowed(bool saved, gint64 company, guint n_notify, GError **error)
{
    if (!saved || company || n_notify == 0)
        return true;
    g_set_error_literal(error, CL_ERROR, CL_ERROR_INVALID,
                        "\"notify\": colleagues are told only of entries of a company, lead or "
                        "project; the own history is its author's alone");
    return false;
}

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

void
cl_entry_attachment_free(ClEntryAttachment *a)
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
    e->attachments = g_ptr_array_new_with_free_func((GDestroyNotify)cl_entry_attachment_free);
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
    g_free(e->preview);
    g_free(e->reasons_text);
    g_free(e->candidates_text);
    g_free(e->index_text);
    g_free(e);
}

/*
 * Rule 9, per author: an entry of the tenant with this Message-ID (content
 * hash) that is the author's own, or saved where every user sees it. Others'
 * pending, discarded and own-history entries are private to them: they
 * neither make this mail a duplicate nor may an answer name them. Every
 * copy of one mail has the same author (rule 3: the sender), so it is one
 * entry still; a mail of another sender claiming a colleague's Message-ID is
 * another mail and no longer takes the colleague's real one's place.
 */
#define FIND_DUPLICATE(column)                                                                 \
    "SELECT id FROM entries WHERE tenant_id = ?1 AND " column " = ?2 AND (author_id = ?3"       \
    " OR (state = 'saved' AND (company_id IS NOT NULL OR lead_id IS NOT NULL"                  \
    " OR project_id IS NOT NULL))) ORDER BY author_id = ?3 DESC, id LIMIT 1"

/* `sql`: a FIND_DUPLICATE literal (prepared statements are cached by the text's address). */
static gint64
find_duplicate(ClStore *store, const char *sql, gint64 tenant_id, gint64 author_id,
               const char *value, GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db, sql, error);
    if (s == NULL)
        return -1;
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_text(s, 2, value);
    cl_db_bind_int64(s, 3, author_id);
    return cl_db_one_int64(s, 0, error);
}

gint64
cl_store_entry_find_message_id(ClStore *store, gint64 tenant_id, gint64 author_id,
                               const char *message_id, GError **error)
{
    return find_duplicate(store, FIND_DUPLICATE("message_id"), tenant_id, author_id, message_id,
                          error);
}

gint64
cl_store_entry_find_content_hash(ClStore *store, gint64 tenant_id, gint64 author_id,
                                 const char *hash, GError **error)
{
    return find_duplicate(store, FIND_DUPLICATE("content_hash"), tenant_id, author_id, hash,
                          error);
}
#undef FIND_DUPLICATE

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

static bool insert_attachments(ClStore *store, const ClEntry *e, GPtrArray *list,
                               gint64 first, GError **error);

/* Notifies the users of an entry that is saved now (not its author, nobody twice). */
static bool
notify_users(ClStore *store, gint64 tenant_id, gint64 entry_id, GPtrArray *users, gint64 skip,
             gint64 actor, GError **error)
{
    for (guint k = 0; k < users->len; k++) {
        gint64 uid = ((ClItem *)g_ptr_array_index(users, k))->id;
        if (uid != skip && !store_notify(store, tenant_id, entry_id, uid, "notify", actor, error))
            return false;
    }
    return true;
}

bool
cl_store_entry_insert(ClStore *store, ClEntry *e, GError **error)
{
    if (!notify_allowed(e->state == CL_ENTRY_SAVED,
                        item_id(e->company) || item_id(e->lead) || item_id(e->project),
                        e->notify->len, error))
        return false;
    ClDb *db = store->db;
    ClDbStmt *s = cl_db_prepare(
        db,
        "INSERT INTO entries (tenant_id, state, origin, channel, contact_time, created_at,"
        " updated_at, author_id, company_id, lead_id, project_id, followup, subject, body,"
        " body_from_html, forwarded, message_id, content_hash, in_reply_to, addresses,"
        " candidates, reasons, raw_hash, raw_size, preview, followup_done, search_names)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
        " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        error);
    if (s == NULL)
        return false;
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;
    if (e->created_at == 0)
        e->created_at = now;
    e->updated_at = now;
    g_autofree char *cands = candidates_json(e->candidates);
    g_autofree char *reasons = reasons_json(e->reasons);
    const char *text = e->from_mail ? e->index_text : e->body;
    g_free(e->preview);
    e->preview = store_preview(text);
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
    cl_db_bind_text(s, i++, e->preview);
    cl_db_bind_int64(s, i++, e->followup_done);
    cl_db_bind_null(s, i++); /* search_names: not in the index yet */
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
    if (!insert_attachments(store, e, e->attachments, 0, error))
        return false;
    /* The search index: a manual entry in the same transaction; captured mail
     * a moment later, behind the acknowledgement (search_queue in 0003-api.sql). */
    if (!e->from_mail) {
        g_autofree char *names = store_entry_names(store, e->id, error);
        if (names == NULL || !store_index(store, "", e->id, e->subject, text, NULL, names, error) ||
            !store_set_indexed_names(store, e->id, names, error))
            return false;
    }
    if (e->from_mail) {
        ClDbStmt *q = cl_db_prepare(db, "INSERT INTO search_queue (entry_id) VALUES (?)", error);
        if (q == NULL)
            return false;
        cl_db_bind_int64(q, 1, e->id);
        if (!cl_db_run(q, error))
            return false;
    }
    /* Notifications (issue 5): the author learns of captured mail; the users
     * to notify, once the entry is saved. */
    if (e->from_mail &&
        !store_notify(store, e->tenant_id, e->id, item_id(e->author), "captured", 0, error))
        return false;
    if (e->state == CL_ENTRY_SAVED &&
        !notify_users(store, e->tenant_id, e->id, e->notify, item_id(e->author),
                      item_id(e->author), error))
        return false;
    return true;
}

/* Appends attachment records (positions from `first`); sets their ids. */
static bool
insert_attachments(ClStore *store, const ClEntry *e, GPtrArray *list, gint64 first,
                   GError **error)
{
    for (guint k = 0; k < list->len; k++) {
        ClEntryAttachment *a = g_ptr_array_index(list, k);
        ClDbStmt *n = cl_db_prepare(store->db,
                                    "INSERT INTO attachments (tenant_id, entry_id, position, name,"
                                    " content_type, size, hash) VALUES (?, ?, ?, ?, ?, ?, ?)"
                                    " RETURNING id",
                                    error);
        if (n == NULL)
            return false;
        cl_db_bind_int64(n, 1, e->tenant_id);
        cl_db_bind_int64(n, 2, e->id);
        cl_db_bind_int64(n, 3, first + k);
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

/* One statement reads an entry with the names of its author, company, lead and
 * project; ENTRY_BODY is its text (NULL in lists, which show the preview). */
#define ENTRY_SELECT(body)                                                                     \
    "SELECT e.id, e.tenant_id, t.key, e.state, e.origin, e.channel, e.contact_time,"          \
    " e.created_at, e.updated_at, e.author_id, u.key, u.name, e.company_id, c.key, c.name,"    \
    " e.lead_id, l.number, l.name, l.company_id, e.project_id, p.key, p.name, p.company_id,"   \
    " e.followup, e.followup_done, e.subject, e.preview, e.body_from_html, e.forwarded,"       \
    " e.message_id, e.in_reply_to, e.addresses, e.candidates, e.raw_hash, e.raw_size,"         \
    " e.version, e.reasons, " body                                                             \
    " FROM entries e JOIN tenants t ON t.id = e.tenant_id JOIN users u ON u.id = e.author_id" \
    " LEFT JOIN companies c ON c.id = e.company_id LEFT JOIN leads l ON l.id = e.lead_id"      \
    " LEFT JOIN projects p ON p.id = e.project_id"
#define ENTRY_LIST ENTRY_SELECT("NULL")

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

/* A record named in a row: columns id, key, name (and company id when company_col >= 0). */
static ClItem *
row_ref(ClDbStmt *s, int col, ClItemKind kind, const ClEntry *e, int company_col)
{
    if (cl_db_column_is_null(s, col))
        return NULL;
    ClItem *item = cl_item_new(kind, cl_db_column_int64(s, col), e->tenant_id,
                               cl_db_column_text(s, col + 1));
    item->name = g_strdup(cl_db_column_text(s, col + 2));
    item->tenant_key = g_strdup(e->tenant_key);
    if (kind == CL_ITEM_COMPANY)
        item->company_id = item->id;
    else if (company_col >= 0)
        item->company_id = cl_db_column_int64(s, company_col);
    return item;
}

static ClEntry *
row_entry(ClDbStmt *s, bool raw_json)
{
    ClEntry *e = cl_entry_new();
    e->id = cl_db_column_int64(s, 0);
    e->tenant_id = cl_db_column_int64(s, 1);
    e->tenant_key = g_strdup(cl_db_column_text(s, 2));
    e->state = parse_name(cl_db_column_text(s, 3), state_names, G_N_ELEMENTS(state_names));
    e->from_mail = g_strcmp0(cl_db_column_text(s, 4), "mail") == 0;
    e->channel = parse_name(cl_db_column_text(s, 5), channel_names, G_N_ELEMENTS(channel_names));
    e->contact_time = cl_db_column_int64(s, 6);
    e->created_at = cl_db_column_int64(s, 7);
    e->updated_at = cl_db_column_int64(s, 8);
    e->author = row_ref(s, 9, CL_ITEM_USER, e, -1);
    e->company = row_ref(s, 12, CL_ITEM_COMPANY, e, -1);
    e->lead = row_ref(s, 15, CL_ITEM_LEAD, e, 18);
    e->project = row_ref(s, 19, CL_ITEM_PROJECT, e, 22);
    if (e->lead && e->company && e->lead->company_id == e->company->id)
        e->lead->company_key = g_strdup(e->company->key);
    if (e->project && e->company && e->project->company_id == e->company->id)
        e->project->company_key = g_strdup(e->company->key);
    e->followup = g_strdup(cl_db_column_text(s, 23));
    e->followup_done = cl_db_column_int64(s, 24) != 0;
    e->subject = g_strdup(cl_db_column_text(s, 25));
    e->preview = g_strdup(cl_db_column_text(s, 26));
    e->body_from_html = cl_db_column_int64(s, 27) != 0;
    e->forwarded = cl_db_column_int64(s, 28) != 0;
    e->message_id = g_strdup(cl_db_column_text(s, 29));
    e->in_reply_to = g_strdup(cl_db_column_text(s, 30));
    e->addresses_json = g_strdup(cl_db_column_text(s, 31));
    if (raw_json)
        e->candidates_text = g_strdup(cl_db_column_text(s, 32));
    else
        load_candidates(e, cl_db_column_text(s, 32));
    e->raw_hash = g_strdup(cl_db_column_text(s, 33));
    e->raw_size = cl_db_column_int64(s, 34);
    e->version = cl_db_column_int64(s, 35);
    if (raw_json)
        e->reasons_text = g_strdup(cl_db_column_text(s, 36));
    else
        load_reasons(e, cl_db_column_text(s, 36));
    e->body = g_strdup(cl_db_column_text(s, 37));
    return e;
}

/* Contacts, users to notify and attachments of several entries: three queries. */
static bool
load_details(ClStore *store, GPtrArray *entries, GError **error)
{
    if (entries->len == 0)
        return true;
    ClDb *db = store->db;
    g_autofree gint64 *ids = g_new(gint64, entries->len);
    g_autoptr(GHashTable) by_id = g_hash_table_new(g_int64_hash, g_int64_equal);
    for (guint i = 0; i < entries->len; i++) {
        ClEntry *e = g_ptr_array_index(entries, i);
        ids[i] = e->id;
        g_hash_table_insert(by_id, &e->id, e);
    }
    ClDbStmt *s = cl_db_prepare(db,
                                "SELECT ec.entry_id, c.id, c.key, c.name, c.company_id"
                                " FROM entry_contacts ec JOIN contacts c ON c.id = ec.contact_id"
                                " WHERE ec.entry_id IN (SELECT value FROM json_each(?))"
                                " ORDER BY ec.entry_id, ec.position",
                                error);
    if (s == NULL)
        return false;
    cl_db_bind_int64s(s, 1, ids, entries->len);
    int rc;
    while ((rc = cl_db_step(s, error)) == 1) {
        gint64 id = cl_db_column_int64(s, 0);
        ClEntry *e = g_hash_table_lookup(by_id, &id);
        ClItem *c = row_ref(s, 1, CL_ITEM_CONTACT, e, 4);
        if (e->company && c->company_id == e->company->id)
            c->company_key = g_strdup(e->company->key);
        g_ptr_array_add(e->contacts, c);
    }
    if (rc < 0)
        return false;
    s = cl_db_prepare(db,
                      "SELECT n.entry_id, u.id, u.key, u.name FROM entry_notify n"
                      " JOIN users u ON u.id = n.user_id"
                      " WHERE n.entry_id IN (SELECT value FROM json_each(?))"
                      " ORDER BY n.entry_id, u.name, u.id",
                      error);
    if (s == NULL)
        return false;
    cl_db_bind_int64s(s, 1, ids, entries->len);
    while ((rc = cl_db_step(s, error)) == 1) {
        gint64 id = cl_db_column_int64(s, 0);
        ClEntry *e = g_hash_table_lookup(by_id, &id);
        g_ptr_array_add(e->notify, row_ref(s, 1, CL_ITEM_USER, e, -1));
    }
    if (rc < 0)
        return false;
    s = cl_db_prepare(db,
                      "SELECT entry_id, id, name, content_type, size, hash FROM attachments"
                      " WHERE entry_id IN (SELECT value FROM json_each(?))"
                      " ORDER BY entry_id, position",
                      error);
    if (s == NULL)
        return false;
    cl_db_bind_int64s(s, 1, ids, entries->len);
    while ((rc = cl_db_step(s, error)) == 1) {
        gint64 id = cl_db_column_int64(s, 0);
        ClEntry *e = g_hash_table_lookup(by_id, &id);
        ClEntryAttachment *a = g_new0(ClEntryAttachment, 1);
        a->id = cl_db_column_int64(s, 1);
        a->name = g_strdup(cl_db_column_text(s, 2));
        a->content_type = g_strdup(cl_db_column_text(s, 3));
        a->size = cl_db_column_int64(s, 4);
        a->hash = g_strdup(cl_db_column_text(s, 5));
        g_ptr_array_add(e->attachments, a);
    }
    return rc == 0;
}

/* Runs a bound statement of ENTRY_SELECT and loads the details of its rows. */
static GPtrArray *
collect_entries(ClStore *store, ClDbStmt *s, bool raw_json, GError **error)
{
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)cl_entry_free);
    int rc;
    while ((rc = cl_db_step(s, error)) == 1)
        g_ptr_array_add(out, row_entry(s, raw_json));
    if (rc < 0 || !load_details(store, out, error))
        return NULL;
    return g_steal_pointer(&out);
}

ClEntry *
cl_store_entry_get(ClStore *store, gint64 tenant_id, gint64 id, GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                ENTRY_SELECT("e.body")
                                " WHERE e.id = ?1 AND (?2 = 0 OR e.tenant_id = ?2)",
                                error);
    if (s == NULL)
        return NULL;
    cl_db_bind_int64(s, 1, id);
    cl_db_bind_int64(s, 2, tenant_id);
    g_autoptr(GPtrArray) list = collect_entries(store, s, false, error);
    if (list == NULL)
        return NULL;
    if (list->len == 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_NOT_FOUND, "no entry %" G_GINT64_FORMAT, id);
        return NULL;
    }
    return g_ptr_array_steal_index(list, 0);
}

bool
cl_entry_visible(const ClEntry *e, gint64 user_id)
{
    if (e->author && e->author->id == user_id)
        return true;
    return e->state == CL_ENTRY_SAVED && (e->company || e->lead || e->project);
}

/*
 * The ids of a page, in order. Every form walks one index of 0001-initial.sql
 * (or the search index) from the cursor on: the cursor condition is a row
 * value comparison of its own statement, without an OR that would keep
 * SQLite from starting the index range there (a page deep in a long history
 * cost 10 ms instead of 0.1; bench/http).
 */
#define PAGE(where)                                                                            \
    { "SELECT e.id FROM " where " ORDER BY e.contact_time DESC, e.id DESC LIMIT ?4",          \
      "SELECT e.id FROM " where " AND (e.contact_time, e.id) < (?5, ?3)"                       \
      " ORDER BY e.contact_time DESC, e.id DESC LIMIT ?4" }
typedef enum { PAGE_SEARCH, PAGE_INBOX, PAGE_OWN, PAGE_LEAD, PAGE_PROJECT, PAGE_COMPANY } PageKind;
static const struct {
    const char *first, *next;
} page_sql[] = {
    /* Visible to the viewer (cl_entry_visible): their own entries, and saved
     * ones of a company, lead or project. */
    [PAGE_SEARCH] = PAGE("entry_search JOIN entries e ON e.id = entry_search.rowid"
                         " WHERE entry_search MATCH ?6 AND e.tenant_id = ?1"
                         " AND e.state != 'discarded' AND (e.author_id = ?2 OR (e.state = 'saved'"
                         " AND (e.company_id IS NOT NULL OR e.lead_id IS NOT NULL"
                         " OR e.project_id IS NOT NULL)))"),
    [PAGE_INBOX] = PAGE("entries e WHERE e.tenant_id = ?1 AND e.author_id = ?2"
                        " AND e.state = 'pending'"),
    [PAGE_OWN] = PAGE("entries e WHERE e.tenant_id = ?1 AND e.author_id = ?2 AND e.state = 'saved'"
                      " AND e.company_id IS NULL AND e.lead_id IS NULL AND e.project_id IS NULL"),
    [PAGE_LEAD] = PAGE("entries e WHERE e.tenant_id = ?1 AND e.lead_id = ?2 AND e.state = 'saved'"),
    [PAGE_PROJECT] = PAGE("entries e WHERE e.tenant_id = ?1 AND e.project_id = ?2"
                          " AND e.state = 'saved'"),
    [PAGE_COMPANY] = PAGE("entries e WHERE e.tenant_id = ?1 AND e.company_id = ?2"
                          " AND e.state = 'saved'"),
};
#undef PAGE

static GArray *
page_ids(ClStore *store, const ClEntryQuery *q, GError **error)
{
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(gint64));
    if (q->entry_id) {
        g_array_append_val(ids, q->entry_id);
        return g_steal_pointer(&ids);
    }
    gint64 before_time = q->before_time;
    if (q->before_id && !q->before_time) {
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
    PageKind kind;
    gint64 owner;
    if (q->search) {
        kind = PAGE_SEARCH;
        owner = q->viewer_id;
    } else if (q->author_id && !q->own_history) {
        kind = PAGE_INBOX;
        owner = q->author_id;
    } else if (q->own_history) {
        kind = PAGE_OWN;
        owner = q->author_id;
    } else if (q->lead_id) {
        kind = PAGE_LEAD;
        owner = q->lead_id;
    } else if (q->project_id) {
        kind = PAGE_PROJECT;
        owner = q->project_id;
    } else {
        kind = PAGE_COMPANY;
        owner = q->company_id;
    }
    ClDbStmt *s = cl_db_prepare(store->db, q->before_id ? page_sql[kind].next
                                                        : page_sql[kind].first, error);
    if (s == NULL)
        return NULL;
    cl_db_bind_int64(s, 1, q->tenant_id);
    cl_db_bind_int64(s, 2, owner);
    if (q->before_id) {
        cl_db_bind_int64(s, 3, q->before_id);
        cl_db_bind_int64(s, 5, before_time);
    }
    /* One more than asked for tells whether there is a next page. */
    cl_db_bind_int64(s, 4, (q->limit ? q->limit : 50) + 1);
    if (q->search)
        cl_db_bind_text(s, 6, q->search);
    int rc;
    while ((rc = cl_db_step(s, error)) == 1) {
        gint64 id = cl_db_column_int64(s, 0);
        g_array_append_val(ids, id);
    }
    return rc < 0 ? NULL : g_steal_pointer(&ids);
}

/* Cuts the extra id of page_ids(); true when there was one (a next page). */
static bool
page_more(GArray *ids, const ClEntryQuery *q)
{
    guint limit = q->limit ? q->limit : 50;
    if (q->entry_id || q->followups || ids->len <= limit)
        return false;
    g_array_set_size(ids, limit);
    return true;
}

static GArray *
followup_ids(ClStore *store, const ClEntryQuery *q, GError **error)
{
#define FOLLOWUPS(done)                                                                        \
    "SELECT e.id FROM entries e WHERE e.tenant_id = ?1 AND e.author_id = ?2"                  \
    " AND e.followup IS NOT NULL" done " AND e.state != 'discarded'"                          \
    " AND (?3 IS NULL OR e.followup >= ?3) AND (?4 IS NULL OR e.followup <= ?4)"               \
    " ORDER BY e.followup, e.contact_time, e.id LIMIT ?5"
    ClDbStmt *s = cl_db_prepare(store->db,
                                q->include_done ? FOLLOWUPS("")
                                                : FOLLOWUPS(" AND e.followup_done = 0"),
                                error);
#undef FOLLOWUPS
    if (s == NULL)
        return NULL;
    cl_db_bind_int64(s, 1, q->tenant_id);
    cl_db_bind_int64(s, 2, q->author_id);
    cl_db_bind_text(s, 3, q->followup_from);
    cl_db_bind_text(s, 4, q->followup_to);
    cl_db_bind_int64(s, 5, q->limit ? q->limit : 200);
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(gint64));
    int rc;
    while ((rc = cl_db_step(s, error)) == 1) {
        gint64 id = cl_db_column_int64(s, 0);
        g_array_append_val(ids, id);
    }
    return rc < 0 ? NULL : g_steal_pointer(&ids);
}

/* The entries of ids, in that order (ClEntry with details). */
static GPtrArray *
entries_by_ids(ClStore *store, gint64 tenant_id, GArray *ids, bool raw_json, GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                ENTRY_SELECT("NULL") " JOIN json_each(?1) j ON j.value = e.id"
                                " WHERE e.tenant_id = ?2 ORDER BY j.key",
                                error);
    if (s == NULL)
        return NULL;
    cl_db_bind_int64s(s, 1, (const gint64 *)ids->data, ids->len);
    cl_db_bind_int64(s, 2, tenant_id);
    return collect_entries(store, s, raw_json, error);
}

GPtrArray *
cl_store_entries_list(ClStore *store, const ClEntryQuery *q, GError **error)
{
    g_autoptr(GArray) ids = q->followups ? followup_ids(store, q, error) : page_ids(store, q, error);
    if (ids == NULL)
        return NULL;
    page_more(ids, q);
    return entries_by_ids(store, q->tenant_id, ids, q->raw_json, error);
}

GPtrArray *
cl_store_followups(ClStore *store, gint64 tenant_id, gint64 user_id, const char *from,
                   const char *to, bool include_done, guint limit, GError **error)
{
    ClEntryQuery q = { .tenant_id = tenant_id, .author_id = user_id, .followups = true,
                       .followup_from = from, .followup_to = to, .include_done = include_done,
                       .limit = limit };
    return cl_store_entries_list(store, &q, error);
}

/* ---- rows: pages for the API, without an object per field ----------------------------- */

typedef struct {
    GString *contacts, *notify, *attachments;
} Details;

static void
details_free(Details *d)
{
    if (d->contacts)
        g_string_free(d->contacts, TRUE);
    if (d->notify)
        g_string_free(d->notify, TRUE);
    if (d->attachments)
        g_string_free(d->attachments, TRUE);
    g_free(d);
}

/* A JSON string (RFC 8259 §7) of text the store wrote: valid UTF-8. */
static void
json_text(GString *out, const char *s)
{
    if (s == NULL) {
        g_string_append(out, "null");
        return;
    }
    g_string_append_c(out, '"');
    const char *run = s;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        g_string_append_len(out, run, p - run);
        if (c == '"' || c == '\\') {
            g_string_append_c(out, '\\');
            g_string_append_c(out, (char)c);
        } else {
            g_string_append_printf(out, "\\u%04x", c);
        }
        run = p + 1;
    }
    g_string_append(out, run);
    g_string_append_c(out, '"');
}

/*
 * Contacts, users to notify and attachments of a page's entries, as JSON
 * arrays per entry: plain rows, one statement each, the JSON written here
 * (SQLite's json_group_array() over ordered subqueries cost a third of a
 * page; bench/http).
 */
static GHashTable *
row_details(ClStore *store, GArray *ids, GError **error)
{
    static const char *sql[] = {
        "SELECT ec.entry_id, c.id, c.key, c.name FROM entry_contacts ec"
        " JOIN contacts c ON c.id = ec.contact_id"
        " WHERE ec.entry_id IN (SELECT value FROM json_each(?)) ORDER BY ec.entry_id, ec.position",
        "SELECT n.entry_id, u.id, u.key, u.name FROM entry_notify n JOIN users u ON u.id = n.user_id"
        " WHERE n.entry_id IN (SELECT value FROM json_each(?)) ORDER BY n.entry_id, u.name, u.id",
        "SELECT entry_id, id, name, content_type, size FROM attachments"
        " WHERE entry_id IN (SELECT value FROM json_each(?)) ORDER BY entry_id, position",
    };
    g_autoptr(GHashTable) out = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                                       (GDestroyNotify)details_free);
    for (gsize k = 0; k < G_N_ELEMENTS(sql); k++) {
        ClDbStmt *s = cl_db_prepare(store->db, sql[k], error);
        if (s == NULL)
            return NULL;
        cl_db_bind_int64s(s, 1, (const gint64 *)ids->data, ids->len);
        int rc;
        while ((rc = cl_db_step(s, error)) == 1) {
            gint64 id = cl_db_column_int64(s, 0);
            Details *d = g_hash_table_lookup(out, &id);
            if (d == NULL) {
                d = g_new0(Details, 1);
                g_hash_table_insert(out, g_memdup2(&id, sizeof id), d);
            }
            GString **field = k == 0 ? &d->contacts : k == 1 ? &d->notify : &d->attachments;
            if (*field == NULL)
                *field = g_string_new("[");
            else
                g_string_append_c(*field, ',');
            GString *f = *field;
            g_string_append_printf(f, "{\"id\":%" G_GINT64_FORMAT, cl_db_column_int64(s, 1));
            if (k < 2) {
                g_string_append(f, ",\"key\":");
                json_text(f, cl_db_column_text(s, 2));
                g_string_append(f, ",\"name\":");
                json_text(f, cl_db_column_text(s, 3));
            } else {
                /* with the API's download address of each attachment */
                g_string_append(f, ",\"name\":");
                json_text(f, cl_db_column_text(s, 2));
                g_string_append(f, ",\"content_type\":");
                json_text(f, cl_db_column_text(s, 3));
                g_string_append_printf(f, ",\"size\":%" G_GINT64_FORMAT ",\"url\":\"/api/v1/entries/%"
                                       G_GINT64_FORMAT "/attachments/%" G_GINT64_FORMAT "\"",
                                       cl_db_column_int64(s, 4), id, cl_db_column_int64(s, 1));
            }
            g_string_append_c(f, '}');
        }
        if (rc < 0)
            return NULL;
    }
    return g_steal_pointer(&out);
}

static bool
entry_rows(ClStore *store, const ClEntryQuery *q, ClEntryRowFunc each, void *data,
           bool *more_out, GError **error)
{
    g_autoptr(GArray) ids = q->followups ? followup_ids(store, q, error) : page_ids(store, q, error);
    if (ids == NULL)
        return false;
    bool more = page_more(ids, q);
    if (more_out)
        *more_out = more;
    if (ids->len == 0)
        return true;
    g_autoptr(GHashTable) details = row_details(store, ids, error);
    if (details == NULL)
        return false;
    ClDbStmt *s = cl_db_prepare(
        store->db,
        "SELECT e.id, e.state, e.origin, e.channel, e.contact_time, e.created_at, e.updated_at,"
        " e.author_id, u.key, u.name, e.company_id, c.key, c.name, e.lead_id, l.number, l.name,"
        " e.project_id, p.key, p.name, e.followup, e.followup_done, e.subject, e.preview,"
        " e.forwarded, e.raw_hash, e.reasons, e.candidates, e.version, e.body_from_html,"
        " p.number, CASE WHEN e.state = 'pending' THEN json_remove(e.addresses, '$.envelope') END"
        " FROM json_each(?1) j JOIN entries e ON e.id = j.value JOIN users u ON u.id = e.author_id"
        " LEFT JOIN companies c ON c.id = e.company_id LEFT JOIN leads l ON l.id = e.lead_id"
        " LEFT JOIN projects p ON p.id = e.project_id WHERE e.tenant_id = ?2 ORDER BY j.key",
        error);
    if (s == NULL)
        return false;
    cl_db_bind_int64s(s, 1, (const gint64 *)ids->data, ids->len);
    cl_db_bind_int64(s, 2, q->tenant_id);
    int rc;
    while ((rc = cl_db_step(s, error)) == 1) {
        ClEntryRow row = {
            .id = cl_db_column_int64(s, 0),
            .state = cl_db_column_text(s, 1),
            .from_mail = g_strcmp0(cl_db_column_text(s, 2), "mail") == 0,
            .channel = cl_db_column_text(s, 3),
            .contact_time = cl_db_column_int64(s, 4),
            .created_at = cl_db_column_int64(s, 5),
            .updated_at = cl_db_column_int64(s, 6),
            .author_id = cl_db_column_int64(s, 7),
            .author_key = cl_db_column_text(s, 8),
            .author_name = cl_db_column_text(s, 9),
            .company_id = cl_db_column_int64(s, 10),
            .company_key = cl_db_column_text(s, 11),
            .company_name = cl_db_column_text(s, 12),
            .lead_id = cl_db_column_int64(s, 13),
            .lead_number = cl_db_column_text(s, 14),
            .lead_name = cl_db_column_text(s, 15),
            .project_id = cl_db_column_int64(s, 16),
            .project_key = cl_db_column_text(s, 17),
            .project_name = cl_db_column_text(s, 18),
            .followup = cl_db_column_text(s, 19),
            .followup_done = cl_db_column_int64(s, 20) != 0,
            .subject = cl_db_column_text(s, 21),
            .preview = cl_db_column_text(s, 22),
            .forwarded = cl_db_column_int64(s, 23) != 0,
            .has_original = !cl_db_column_is_null(s, 24),
            .reasons = cl_db_column_text(s, 25),
            .candidates = cl_db_column_text(s, 26),
            .version = cl_db_column_int64(s, 27),
            .text_from_html = cl_db_column_int64(s, 28) != 0,
            .project_number = cl_db_column_text(s, 29),
            .addresses = cl_db_column_text(s, 30),
            .tenant_id = q->tenant_id,
        };
        Details *d = g_hash_table_lookup(details, &row.id);
        /* The arrays are closed here, once: a row is read once. */
        GString *parts[] = { d ? d->contacts : NULL, d ? d->notify : NULL,
                             d ? d->attachments : NULL };
        for (gsize k = 0; k < G_N_ELEMENTS(parts); k++)
            if (parts[k] != NULL && parts[k]->str[parts[k]->len - 1] != ']')
                g_string_append_c(parts[k], ']');
        row.contacts = parts[0] ? parts[0]->str : "[]";
        row.notify = parts[1] ? parts[1]->str : "[]";
        row.attachments = parts[2] ? parts[2]->str : "[]";
        each(&row, data);
    }
    return rc == 0;
}

/* The page's ids, their contacts, notified users and attachments and the rows
 * themselves are read in one transaction: an entry moved into its author's own
 * history meanwhile is on the page as it was or not at all, never listed under
 * the company with the private state of after. */
bool
cl_store_entry_rows(ClStore *store, const ClEntryQuery *q, ClEntryRowFunc each, void *data,
                    bool *more_out, GError **error)
{
    bool began = false;
    if (!cl_db_read_begin(store->db, &began, error))
        return false;
    bool ok = entry_rows(store, q, each, data, more_out, error);
    cl_db_read_end(store->db, began);
    return ok;
}

ClItem *
cl_store_item_get(ClStore *store, ClItemKind kind, gint64 tenant_id, gint64 id, GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autoptr(ClItem) item = id > 0 ? store_item_by_id(store, kind, id, &local) : NULL;
    if (item != NULL && item->tenant_id == tenant_id)
        return g_steal_pointer(&item);
    if (local != NULL && !g_error_matches(local, CL_ERROR, CL_ERROR_NOT_FOUND)) {
        g_propagate_error(error, g_steal_pointer(&local));
        return NULL;
    }
    /* Another tenant's record is as unknown as one that does not exist. */
    g_set_error(error, CL_ERROR, CL_ERROR_NOT_FOUND, "no %s with id %" G_GINT64_FORMAT,
                cl_item_kind_name(kind), id);
    return NULL;
}

ClEntryAttachment *
cl_store_attachment_get(ClStore *store, gint64 tenant_id, gint64 entry_id, gint64 attachment_id,
                        GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                "SELECT id, name, content_type, size, hash FROM attachments"
                                " WHERE tenant_id = ? AND entry_id = ? AND id = ?",
                                error);
    if (s == NULL)
        return NULL;
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_int64(s, 2, entry_id);
    cl_db_bind_int64(s, 3, attachment_id);
    int rc = cl_db_step(s, error);
    if (rc < 0)
        return NULL;
    if (rc == 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_NOT_FOUND, "entry %" G_GINT64_FORMAT
                    " has no attachment %" G_GINT64_FORMAT, entry_id, attachment_id);
        return NULL;
    }
    ClEntryAttachment *a = g_new0(ClEntryAttachment, 1);
    a->id = cl_db_column_int64(s, 0);
    a->name = g_strdup(cl_db_column_text(s, 1));
    a->content_type = g_strdup(cl_db_column_text(s, 2));
    a->size = cl_db_column_int64(s, 3);
    a->hash = g_strdup(cl_db_column_text(s, 4));
    while (cl_db_step(s, NULL) == 1)
        ;
    return a;
}

/* ---- review and edits ------------------------------------------------------------------ */

static bool
check_record(ClStore *store, ClItemKind kind, gint64 id, gint64 tenant_id, gint64 company_id,
             GError **error)
{
    g_autoptr(ClItem) item = cl_store_item_get(store, kind, tenant_id, id, error);
    if (item == NULL)
        return false;
    if (company_id && kind != CL_ITEM_COMPANY && kind != CL_ITEM_USER &&
        item->company_id != company_id) {
        g_set_error(error, CL_ERROR, CL_ERROR_INVALID,
                    "%s %s belongs to company %s, not to the entry's company",
                    cl_item_kind_name(kind), item->key, item->company_key ? item->company_key : "?");
        return false;
    }
    return true;
}

static bool
blank(const char *text)
{
    for (; *text; text++)
        if (!g_ascii_isspace(*text))
            return false;
    return true;
}

bool
cl_date_valid(const char *text)
{
    if (text == NULL || strlen(text) != 10 || text[4] != '-' || text[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !g_ascii_isdigit(text[i]))
            return false;
    return g_date_valid_dmy((GDateDay)atoi(text + 8), (GDateMonth)atoi(text + 5),
                            (GDateYear)atoi(text));
}

/* Replaces a list of ids of an entry: contacts in order (insert_sql binds the
 * position fourth), users to notify (three parameters). */
static bool
replace_links(ClStore *store, const char *delete_sql, const char *insert_sql, bool positions,
              gint64 tenant_id, gint64 entry_id, const GPtrArray *ids, GError **error)
{
    ClDbStmt *del = cl_db_prepare(store->db, delete_sql, error);
    if (del == NULL)
        return false;
    cl_db_bind_int64(del, 1, entry_id);
    if (!cl_db_run(del, error))
        return false;
    for (guint i = 0; i < ids->len; i++) {
        ClDbStmt *ins = cl_db_prepare(store->db, insert_sql, error);
        if (ins == NULL)
            return false;
        cl_db_bind_int64(ins, 1, tenant_id);
        cl_db_bind_int64(ins, 2, entry_id);
        cl_db_bind_int64(ins, 3, *(gint64 *)g_ptr_array_index(ids, i));
        if (positions)
            cl_db_bind_int64(ins, 4, i);
        if (!cl_db_run(ins, error))
            return false;
    }
    return true;
}

static bool
in_items(GPtrArray *items, gint64 id)
{
    for (guint i = 0; i < items->len; i++)
        if (((ClItem *)g_ptr_array_index(items, i))->id == id)
            return true;
    return false;
}

/* The ids are the items' ids in the same order (contacts: the first is the primary). */
static bool
same_ids(const GPtrArray *ids, GPtrArray *items, bool ordered)
{
    if (ids->len != items->len)
        return false;
    for (guint i = 0; i < ids->len; i++) {
        gint64 id = *(gint64 *)g_ptr_array_index(ids, i);
        if (ordered ? item_id(g_ptr_array_index(items, i)) != id : !in_items(items, id))
            return false;
    }
    return true;
}

/*
 * A change that changes nothing (a form sent again as it was): no new
 * version, so that nobody who holds the entry gets a conflict for nothing.
 */
static bool
changes_nothing(const ClEntry *e, const ClEntryChange *c, gint64 company, gint64 lead,
                gint64 project, const GPtrArray *contact_ids, const GPtrArray *notify_ids)
{
    const char *followup = c->followup && *c->followup ? c->followup : NULL;
    return company == item_id(e->company) && lead == item_id(e->lead) &&
           project == item_id(e->project) &&
           (contact_ids == NULL || same_ids(contact_ids, e->contacts, true)) &&
           (notify_ids == NULL || same_ids(notify_ids, e->notify, false)) &&
           (c->channel < 0 || (ClChannel)c->channel == e->channel) &&
           (c->subject == NULL || g_strcmp0(c->subject, e->subject) == 0) &&
           (c->body == NULL || g_strcmp0(c->body, e->body ? e->body : "") == 0) &&
           (c->contact_time == 0 || c->contact_time == e->contact_time) &&
           (c->followup == NULL || g_strcmp0(followup, e->followup) == 0) &&
           (c->followup_done == 0 || (c->followup_done == 1) == e->followup_done) &&
           (c->add_attachments == NULL || c->add_attachments->len == 0) &&
           (c->remove_attachments == NULL || c->remove_attachments->len == 0);
}

/*
 * The review (confirm: a pending entry is saved) and edits (any entry but a
 * discarded one): every change is checked against the tenant and the entry's
 * company first, then written in one UPDATE that also moves the version on.
 */
static bool
apply_change(ClStore *store, gint64 tenant_id, gint64 id, const ClEntryChange *c, bool confirm,
             GError **error)
{
    g_autoptr(ClEntry) e = cl_store_entry_get(store, tenant_id, id, error);
    if (e == NULL)
        return false;
    if (confirm ? e->state != CL_ENTRY_PENDING : e->state == CL_ENTRY_DISCARDED) {
        g_set_error(error, CL_ERROR, CL_ERROR_CONFLICT, "entry %" G_GINT64_FORMAT " is %s%s", id,
                    cl_entry_state_name(e->state), confirm ? ", not pending" : "");
        return false;
    }
    if (c->version && c->version != e->version) {
        g_set_error(error, CL_ERROR, CL_ERROR_CONFLICT,
                    "entry %" G_GINT64_FORMAT " was changed meanwhile (version %" G_GINT64_FORMAT ")",
                    id, e->version);
        return false;
    }
    if (e->from_mail && (c->body || c->subject)) {
        g_set_error(error, CL_ERROR, CL_ERROR_INVALID,
                    "the subject and text of captured mail are the mail's own");
        return false;
    }
    if (c->subject && blank(c->subject)) {
        g_set_error(error, CL_ERROR, CL_ERROR_INVALID, "the subject must not be empty");
        return false;
    }
    if (c->followup && *c->followup && !cl_date_valid(c->followup)) {
        g_set_error(error, CL_ERROR, CL_ERROR_INVALID,
                    "the follow-up date must be a date YYYY-MM-DD, not \"%s\"", c->followup);
        return false;
    }
    if (c->channel > CL_CHANNEL_OTHER) {
        g_set_error(error, CL_ERROR, CL_ERROR_INVALID, "unknown channel");
        return false;
    }
    gint64 company = c->company_id ? (c->company_id < 0 ? 0 : c->company_id) : item_id(e->company);
    gint64 lead = c->lead_id ? (c->lead_id < 0 ? 0 : c->lead_id) : item_id(e->lead);
    gint64 project = c->project_id ? (c->project_id < 0 ? 0 : c->project_id) : item_id(e->project);
    if (c->lead_id > 0 && !c->project_id)
        project = 0; /* an entry belongs to a lead or a project, not both */
    if (c->project_id > 0 && !c->lead_id)
        lead = 0;
    if (lead && project) {
        g_set_error(error, CL_ERROR, CL_ERROR_INVALID,
                    "an entry belongs to a lead or a project, not to both");
        return false;
    }
    /* Contacts without a company bring the primary contact's (DESIGN §2 rule 4). */
    if (!company && !lead && !project && c->contact_ids != NULL && c->contact_ids->len > 0) {
        g_autoptr(ClItem) first = cl_store_item_get(
            store, CL_ITEM_CONTACT, tenant_id, *(gint64 *)g_ptr_array_index(c->contact_ids, 0),
            error);
        if (first == NULL)
            return false;
        company = first->company_id;
    }
    /* A chosen lead/project without a company brings its company along. */
    if (!company && (lead || project)) {
        g_autoptr(ClItem) r = cl_store_item_get(store, lead ? CL_ITEM_LEAD : CL_ITEM_PROJECT,
                                                tenant_id, lead ? lead : project, error);
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
    if (company != item_id(e->company)) {
        if (contact_ids == NULL) {
            kept = g_ptr_array_new_with_free_func(g_free);
            for (guint i = 0; i < e->contacts->len; i++) {
                ClItem *ct = g_ptr_array_index(e->contacts, i);
                if (company && ct->company_id == company)
                    g_ptr_array_add(kept, g_memdup2(&ct->id, sizeof ct->id));
            }
            if (kept->len != e->contacts->len)
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
    /* The own history is its author's: an admin correcting a colleague's entry
     * would make it vanish from every history but the colleague's. */
    if (!company && item_id(e->company) && c->actor_id &&
        c->actor_id != item_id(e->author)) {
        g_set_error(error, CL_ERROR, CL_ERROR_FORBIDDEN,
                    "only its author can move an entry into their own history; choose "
                    "another company");
        return false;
    }
    /* Into the own history, the list of users to notify goes. */
    bool saved = confirm || e->state == CL_ENTRY_SAVED;
    const GPtrArray *notify_ids = c->notify_ids;
    g_autoptr(GPtrArray) no_one = NULL;
    if (!notify_allowed(saved, company, notify_ids ? notify_ids->len : 0, error))
        return false;
    if (saved && !company && notify_ids == NULL && e->notify->len > 0)
        notify_ids = no_one = g_ptr_array_new();
    if (!confirm && !c->initial &&
        changes_nothing(e, c, company, lead, project, contact_ids, notify_ids))
        return true;
    ClDb *db = store->db;
    if (contact_ids != NULL) {
        for (guint i = 0; i < contact_ids->len; i++) {
            gint64 cid = *(gint64 *)g_ptr_array_index(contact_ids, i);
            if (!check_record(store, CL_ITEM_CONTACT, cid, e->tenant_id, company, error))
                return false;
        }
        if (!replace_links(store, "DELETE FROM entry_contacts WHERE entry_id = ?",
                           "INSERT INTO entry_contacts (tenant_id, entry_id, contact_id, position)"
                           " VALUES (?, ?, ?, ?)",
                           true, e->tenant_id, id, contact_ids, error))
            return false;
    }
    if (notify_ids != NULL) {
        for (guint i = 0; i < notify_ids->len; i++)
            if (!check_record(store, CL_ITEM_USER, *(gint64 *)g_ptr_array_index(notify_ids, i),
                              e->tenant_id, 0, error))
                return false;
        if (!replace_links(store, "DELETE FROM entry_notify WHERE entry_id = ?",
                           "INSERT OR IGNORE INTO entry_notify (tenant_id, entry_id, user_id)"
                           " VALUES (?, ?, ?)",
                           false, e->tenant_id, id, notify_ids, error))
            return false;
    }
    /* Users to notify hear of the entry once it is saved: all of them when the
     * review saves it, those new to the list when a saved entry is edited. */
    ClEntryState state = confirm ? CL_ENTRY_SAVED : e->state;
    if (state == CL_ENTRY_SAVED) {
        gint64 actor = c->actor_id ? c->actor_id : item_id(e->author);
        if (notify_ids != NULL) {
            for (guint i = 0; i < notify_ids->len; i++) {
                gint64 uid = *(gint64 *)g_ptr_array_index(notify_ids, i);
                if ((confirm || !in_items(e->notify, uid)) && uid != actor &&
                    !store_notify(store, e->tenant_id, id, uid, "notify", actor, error))
                    return false;
            }
        } else if (confirm && !notify_users(store, e->tenant_id, id, e->notify, actor, actor,
                                            error)) {
            return false;
        }
    }
    if (c->remove_attachments != NULL) {
        for (guint i = 0; i < c->remove_attachments->len; i++) {
            ClDbStmt *del = cl_db_prepare(db,
                                          "DELETE FROM attachments WHERE tenant_id = ?"
                                          " AND entry_id = ? AND id = ?",
                                          error);
            if (del == NULL)
                return false;
            cl_db_bind_int64(del, 1, e->tenant_id);
            cl_db_bind_int64(del, 2, id);
            cl_db_bind_int64(del, 3, g_array_index(c->remove_attachments, gint64, i));
            if (!cl_db_run(del, error))
                return false;
            if (cl_db_changes(db) != 1) {
                /* A change naming what is not there: bad content, the entry is found. */
                g_set_error(error, CL_ERROR, CL_ERROR_INVALID,
                            "entry %" G_GINT64_FORMAT " has no attachment %" G_GINT64_FORMAT, id,
                            g_array_index(c->remove_attachments, gint64, i));
                return false;
            }
        }
    }
    if (c->add_attachments != NULL && c->add_attachments->len > 0) {
        ClDbStmt *m = cl_db_prepare(db,
                                    "SELECT coalesce(max(position) + 1, 0) FROM attachments"
                                    " WHERE entry_id = ?",
                                    error);
        if (m == NULL)
            return false;
        cl_db_bind_int64(m, 1, id);
        gint64 first = cl_db_one_int64(m, 0, error);
        if (first < 0 || !insert_attachments(store, e, c->add_attachments, first, error))
            return false;
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
    bool reasons_changed = false;
    for (gsize i = 0; i < G_N_ELEMENTS(changes); i++) {
        /* Reasons explain what capture chose: a manual entry has none. */
        if (item_id(changes[i].old) == changes[i].now || !e->from_mail)
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
        reasons_changed = true;
    }
    if (contact_ids != NULL) {
        GString *keys = g_string_new(NULL);
        for (guint i = 0; i < contact_ids->len; i++) {
            g_autoptr(ClItem) ct = store_item_by_id(
                store, CL_ITEM_CONTACT, *(gint64 *)g_ptr_array_index(contact_ids, i), NULL);
            g_string_append_printf(keys, "%s%s", keys->len ? ", " : "", ct ? ct->key : "?");
        }
        g_autofree char *detail = g_string_free(keys, FALSE);
        if (e->from_mail) {
            g_ptr_array_add(e->reasons,
                            cl_reason_new("contact", "review", *detail ? detail : "none"));
            reasons_changed = true;
        }
    }
    /* The search index follows subject, text, contact persons and attachments.
     * A manual entry's words are changed here: the old ones (as search_names
     * keeps them) go and the new ones come. Captured mail's text is in its
     * original: it is queued, and the indexer does the same with it. An entry
     * not in the index yet (search_names NULL) is queued already. */
    g_autofree char *names = NULL;
    bool names_changed = contact_ids != NULL || c->remove_attachments != NULL ||
                         (c->add_attachments != NULL && c->add_attachments->len > 0);
    bool reindex = false;
    if (names_changed || (!e->from_mail && (c->subject || c->body))) {
        ClDbStmt *old = cl_db_prepare(db, "SELECT search_names FROM entries WHERE id = ?", error);
        if (old == NULL)
            return false;
        cl_db_bind_int64(old, 1, id);
        if (cl_db_step(old, error) < 0)
            return false;
        g_autofree char *old_names = g_strdup(cl_db_column_text(old, 0));
        while (cl_db_step(old, NULL) == 1)
            ;
        if (e->from_mail || old_names == NULL) {
            ClDbStmt *q = cl_db_prepare(db, "INSERT OR IGNORE INTO search_queue (entry_id)"
                                            " VALUES (?)", error);
            if (q == NULL)
                return false;
            cl_db_bind_int64(q, 1, id);
            if (!cl_db_run(q, error))
                return false;
        } else {
            names = store_entry_names(store, id, error);
            if (names == NULL ||
                !store_index(store, "delete", id, e->subject, e->body, NULL, old_names, error) ||
                !store_index(store, "", id, c->subject ? c->subject : e->subject,
                             c->body ? c->body : e->body, NULL, names, error))
                return false;
            reindex = true;
        }
    }
    g_autofree char *reasons = reasons_changed ? reasons_json(e->reasons) : NULL;
    g_autofree char *preview = c->body ? store_preview(c->body) : NULL;
    ClDbStmt *up = cl_db_prepare(
        db,
        "UPDATE entries SET state = ?1, company_id = ?2, lead_id = ?3, project_id = ?4,"
        " channel = ?5, updated_at = ?6, version = version + ?19, reasons = coalesce(?7, reasons),"
        " subject = coalesce(?8, subject), body = CASE WHEN ?12 THEN ?9 ELSE body END,"
        " preview = CASE WHEN ?12 THEN ?10 ELSE preview END,"
        " contact_time = coalesce(?11, contact_time),"
        " followup = CASE WHEN ?13 IS NULL THEN followup WHEN ?13 = '' THEN NULL ELSE ?13 END,"
        " followup_done = CASE ?14 WHEN 1 THEN 1 WHEN -1 THEN 0 ELSE followup_done END,"
        " search_names = CASE WHEN ?15 THEN ?16 ELSE search_names END"
        " WHERE id = ?17 AND version = ?18",
        error);
    if (up == NULL)
        return false;
    cl_db_bind_text(up, 1, cl_entry_state_name(state));
    bind_id(up, 2, company);
    bind_id(up, 3, lead);
    bind_id(up, 4, project);
    cl_db_bind_text(up, 5, cl_channel_name(c->channel >= 0 ? (ClChannel)c->channel : e->channel));
    cl_db_bind_int64(up, 6, g_get_real_time() / G_USEC_PER_SEC);
    cl_db_bind_text(up, 7, reasons);
    cl_db_bind_text(up, 8, c->subject);
    cl_db_bind_text(up, 9, c->body);
    cl_db_bind_text(up, 10, preview);
    if (c->contact_time)
        cl_db_bind_int64(up, 11, c->contact_time);
    else
        cl_db_bind_null(up, 11);
    cl_db_bind_int64(up, 12, c->body != NULL);
    cl_db_bind_text(up, 13, c->followup);
    cl_db_bind_int64(up, 14, c->followup_done);
    cl_db_bind_int64(up, 15, reindex);
    cl_db_bind_text(up, 16, names);
    cl_db_bind_int64(up, 17, id);
    cl_db_bind_int64(up, 18, e->version);
    cl_db_bind_int64(up, 19, c->initial ? 0 : 1);
    if (!cl_db_run(up, error))
        return false;
    if (cl_db_changes(db) != 1) {
        g_set_error(error, CL_ERROR, CL_ERROR_CONFLICT, "entry %" G_GINT64_FORMAT
                    " was changed meanwhile", id);
        return false;
    }
    return true;
}

/* Reviewed (saved or discarded): the author's "captured" notification is done with. */
static bool
captured_read(ClStore *store, gint64 id, GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                "UPDATE notifications SET read_at = ? WHERE entry_id = ?"
                                " AND kind = 'captured' AND read_at IS NULL",
                                error);
    if (s == NULL)
        return false;
    cl_db_bind_int64(s, 1, g_get_real_time() / G_USEC_PER_SEC);
    cl_db_bind_int64(s, 2, id);
    return cl_db_run(s, error);
}

bool
cl_store_entry_confirm(ClStore *store, gint64 tenant_id, gint64 id, const ClEntryChange *c,
                       GError **error)
{
    return apply_change(store, tenant_id, id, c, true, error) && captured_read(store, id, error);
}

bool
cl_store_entry_update(ClStore *store, gint64 tenant_id, gint64 id, const ClEntryChange *c,
                      GError **error)
{
    return apply_change(store, tenant_id, id, c, false, error);
}

bool
cl_store_entry_discard(ClStore *store, gint64 tenant_id, gint64 id, gint64 version,
                       GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                "UPDATE entries SET state = 'discarded', version = version + 1,"
                                " updated_at = ?4 WHERE tenant_id = ?1 AND id = ?2"
                                " AND state = 'pending' AND (?3 = 0 OR version = ?3)",
                                error);
    if (s == NULL)
        return false;
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_int64(s, 2, id);
    cl_db_bind_int64(s, 3, version);
    cl_db_bind_int64(s, 4, g_get_real_time() / G_USEC_PER_SEC);
    if (!cl_db_run(s, error))
        return false;
    if (cl_db_changes(store->db) == 1)
        return captured_read(store, id, error);
    /* Why not: it does not exist, it is not pending, or someone changed it. */
    g_autoptr(ClEntry) e = cl_store_entry_get(store, tenant_id, id, error);
    if (e == NULL)
        return false;
    if (e->state != CL_ENTRY_PENDING)
        g_set_error(error, CL_ERROR, CL_ERROR_CONFLICT, "entry %" G_GINT64_FORMAT
                    " is %s, not pending", id, cl_entry_state_name(e->state));
    else
        g_set_error(error, CL_ERROR, CL_ERROR_CONFLICT, "entry %" G_GINT64_FORMAT
                    " was changed meanwhile (version %" G_GINT64_FORMAT ")", id, e->version);
    return false;
}

bool
cl_store_entry_delete(ClStore *store, gint64 tenant_id, gint64 id, gint64 version,
                      const char *mail_text, GError **error)
{
    g_autoptr(ClEntry) e = cl_store_entry_get(store, tenant_id, id, error);
    if (e == NULL)
        return false;
    if (version && version != e->version) {
        g_set_error(error, CL_ERROR, CL_ERROR_CONFLICT, "entry %" G_GINT64_FORMAT
                    " was changed meanwhile (version %" G_GINT64_FORMAT ")", id, e->version);
        return false;
    }
    ClDbStmt *n = cl_db_prepare(store->db, "SELECT search_names FROM entries WHERE id = ?", error);
    if (n == NULL)
        return false;
    cl_db_bind_int64(n, 1, id);
    if (cl_db_step(n, error) < 0)
        return false;
    g_autofree char *names = g_strdup(cl_db_column_text(n, 0));
    while (cl_db_step(n, NULL) == 1)
        ;
    g_autofree char *addresses = e->from_mail ? store_mail_addresses_text(e->addresses_json)
                                              : NULL;
    ClDbStmt *q = cl_db_prepare(store->db, "DELETE FROM search_queue WHERE entry_id = ?", error);
    if (q == NULL)
        return false;
    cl_db_bind_int64(q, 1, id);
    if (!cl_db_run(q, error))
        return false;
    /* Not in the index yet (search_names NULL): nothing to take out. Captured
     * mail without its text (an unreadable original) leaves its text's words in
     * the index; they name a row that no longer exists, so no search shows them. */
    if (names != NULL && (!e->from_mail || mail_text != NULL) &&
        !store_index(store, "delete", id, e->subject, e->from_mail ? mail_text : e->body,
                     addresses, names, error))
        return false;
    ClDbStmt *s = cl_db_prepare(store->db, "DELETE FROM entries WHERE tenant_id = ? AND id = ?",
                                error);
    if (s == NULL)
        return false;
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_int64(s, 2, id);
    return cl_db_run(s, error);
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
