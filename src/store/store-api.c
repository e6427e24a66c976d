/*
 * store-api.c — what the HTTP API keeps besides entries and master data:
 * users as they log in, sessions, personal API tokens and notifications.
 * Stage: store. Secrets are never stored: sessions and tokens are known by
 * the BLAKE2b hash of the random value the client holds. Every query names
 * the tenant, except the two that find it: a login address and a secret's hash.
 */
#include "store-private.h"

#include <string.h>

void
cl_user_free(ClUser *u)
{
    if (u == NULL)
        return;
    g_free(u->tenant_key);
    g_free(u->tenant_name);
    g_free(u->key);
    g_free(u->name);
    g_free(u->locale);
    g_free(u->email);
    g_free(u);
}

ClUser *
cl_user_copy(const ClUser *u)
{
    ClUser *c = g_new0(ClUser, 1);
    *c = *u;
    c->tenant_key = g_strdup(u->tenant_key);
    c->tenant_name = g_strdup(u->tenant_name);
    c->key = g_strdup(u->key);
    c->name = g_strdup(u->name);
    c->locale = g_strdup(u->locale);
    c->email = g_strdup(u->email);
    return c;
}

#define USER_COLUMNS                                                                           \
    "u.id, u.tenant_id, t.key, t.name, u.key, u.name, u.role, u.active, u.locale,"            \
    " (SELECT display FROM user_addresses a WHERE a.user_id = u.id ORDER BY position LIMIT 1)"

static ClUser *
row_user(ClDbStmt *s)
{
    ClUser *u = g_new0(ClUser, 1);
    u->id = cl_db_column_int64(s, 0);
    u->tenant_id = cl_db_column_int64(s, 1);
    u->tenant_key = g_strdup(cl_db_column_text(s, 2));
    u->tenant_name = g_strdup(cl_db_column_text(s, 3));
    u->key = g_strdup(cl_db_column_text(s, 4));
    u->name = g_strdup(cl_db_column_text(s, 5));
    u->admin = g_strcmp0(cl_db_column_text(s, 6), "admin") == 0;
    u->active = cl_db_column_int64(s, 7) != 0;
    u->locale = g_strdup(cl_db_column_text(s, 8));
    u->email = g_strdup(cl_db_column_text(s, 9));
    return u;
}

/* The one user of a statement's rows; NOT_FOUND (with `what`) when there is none. */
static ClUser *
one_user(ClDbStmt *s, const char *what, GError **error)
{
    int rc = cl_db_step(s, error);
    if (rc < 0)
        return NULL;
    if (rc == 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_NOT_FOUND, "%s", what);
        return NULL;
    }
    ClUser *u = row_user(s);
    while (cl_db_step(s, NULL) == 1)
        ;
    return u;
}

ClUser *
cl_store_user_for_login(ClStore *store, const char *address, char **password_hash_out,
                        GError **error)
{
    *password_hash_out = NULL;
    g_autofree char *folded = cl_address_fold(address);
    ClDbStmt *s = cl_db_prepare(store->db,
                                "SELECT " USER_COLUMNS ", u.password_hash FROM user_addresses ua"
                                " JOIN users u ON u.id = ua.user_id"
                                " JOIN tenants t ON t.id = u.tenant_id WHERE ua.address = ?",
                                error);
    if (s == NULL)
        return NULL;
    cl_db_bind_text(s, 1, folded ? folded : "");
    g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func((GDestroyNotify)cl_user_free);
    g_autofree char *hash = NULL;
    int rc;
    while ((rc = cl_db_step(s, error)) == 1) {
        g_ptr_array_add(found, row_user(s));
        g_free(hash);
        hash = g_strdup(cl_db_column_text(s, 10));
    }
    if (rc < 0)
        return NULL;
    /* An address registered with several users (rule 3's ambiguous sender)
     * logs nobody in: which one would it be? */
    if (found->len != 1) {
        g_set_error(error, CL_ERROR, CL_ERROR_NOT_FOUND, "no user can log in with this address");
        return NULL;
    }
    *password_hash_out = g_steal_pointer(&hash);
    return g_ptr_array_steal_index(found, 0);
}

ClUser *
cl_store_user_get(ClStore *store, gint64 tenant_id, gint64 user_id, GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                "SELECT " USER_COLUMNS " FROM users u"
                                " JOIN tenants t ON t.id = u.tenant_id"
                                " WHERE u.tenant_id = ? AND u.id = ?",
                                error);
    if (s == NULL)
        return NULL;
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_int64(s, 2, user_id);
    return one_user(s, "no such user", error);
}

bool
cl_store_user_password_hash(ClStore *store, gint64 tenant_id, gint64 user_id, char **hash_out,
                            GError **error)
{
    *hash_out = NULL;
    ClDbStmt *s = cl_db_prepare(store->db,
                                "SELECT password_hash FROM users WHERE tenant_id = ? AND id = ?",
                                error);
    if (s == NULL)
        return false;
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_int64(s, 2, user_id);
    int rc = cl_db_step(s, error);
    if (rc < 0)
        return false;
    if (rc == 1)
        *hash_out = g_strdup(cl_db_column_text(s, 0));
    while (rc == 1 && cl_db_step(s, NULL) == 1)
        ;
    return true;
}

bool
store_user_end_access(ClStore *store, gint64 tenant_id, gint64 user_id, const char *keep_session,
                      GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                "DELETE FROM sessions WHERE tenant_id = ? AND user_id = ?"
                                " AND hash IS NOT ?",
                                error);
    if (s == NULL)
        return false;
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_int64(s, 2, user_id);
    if (keep_session != NULL)
        cl_db_bind_text(s, 3, keep_session);
    else
        cl_db_bind_null(s, 3);
    if (!cl_db_run(s, error))
        return false;
    s = cl_db_prepare(store->db, "DELETE FROM api_tokens WHERE tenant_id = ? AND user_id = ?",
                      error);
    if (s == NULL)
        return false;
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_int64(s, 2, user_id);
    return cl_db_run(s, error);
}

bool
cl_store_user_set_password(ClStore *store, gint64 tenant_id, gint64 user_id, const char *hash,
                           const char *keep_session, GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                "UPDATE users SET password_hash = ? WHERE tenant_id = ? AND id = ?",
                                error);
    if (s == NULL)
        return false;
    cl_db_bind_text(s, 1, hash);
    cl_db_bind_int64(s, 2, tenant_id);
    cl_db_bind_int64(s, 3, user_id);
    if (!cl_db_run(s, error))
        return false;
    if (cl_db_changes(store->db) != 1) {
        g_set_error(error, CL_ERROR, CL_ERROR_NOT_FOUND, "no such user");
        return false;
    }
    /* A new password ends every other session and every API token: whoever
     * knew the old one, or made a token with it, is out. */
    return store_user_end_access(store, tenant_id, user_id, keep_session, error);
}

bool
cl_store_user_set_locale(ClStore *store, gint64 tenant_id, gint64 user_id, const char *locale,
                         GError **error)
{
    if (g_strcmp0(locale, "de") != 0 && g_strcmp0(locale, "en") != 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_INVALID, "the language must be \"de\" or \"en\"");
        return false;
    }
    ClDbStmt *s = cl_db_prepare(store->db,
                                "UPDATE users SET locale = ? WHERE tenant_id = ? AND id = ?", error);
    if (s == NULL)
        return false;
    cl_db_bind_text(s, 1, locale);
    cl_db_bind_int64(s, 2, tenant_id);
    cl_db_bind_int64(s, 3, user_id);
    return cl_db_run(s, error);
}

/* ---- sessions ------------------------------------------------------------------------------ */

bool
cl_store_session_create(ClStore *store, const char *hash, const ClUser *user, const char *csrf,
                        gint64 expires_at, const char *client, GError **error)
{
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;
    ClDbStmt *s = cl_db_prepare(store->db,
                                "INSERT INTO sessions (hash, tenant_id, user_id, csrf, created_at,"
                                " seen_at, expires_at, client) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                error);
    if (s == NULL)
        return false;
    cl_db_bind_text(s, 1, hash);
    cl_db_bind_int64(s, 2, user->tenant_id);
    cl_db_bind_int64(s, 3, user->id);
    cl_db_bind_text(s, 4, csrf);
    cl_db_bind_int64(s, 5, now);
    cl_db_bind_int64(s, 6, now);
    cl_db_bind_int64(s, 7, expires_at);
    cl_db_bind_text(s, 8, client);
    return cl_db_run(s, error);
}

ClUser *
cl_store_session_user(ClStore *store, const char *hash, gint64 now, char **csrf_out,
                      gint64 *seen_at_out, gint64 *expires_out, GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                "SELECT " USER_COLUMNS ", s.csrf, s.seen_at, s.expires_at"
                                " FROM sessions s"
                                " JOIN users u ON u.id = s.user_id AND u.tenant_id = s.tenant_id"
                                " JOIN tenants t ON t.id = u.tenant_id"
                                " WHERE s.hash = ? AND s.expires_at > ? AND u.active",
                                error);
    if (s == NULL)
        return NULL;
    cl_db_bind_text(s, 1, hash);
    cl_db_bind_int64(s, 2, now);
    int rc = cl_db_step(s, error);
    if (rc < 0)
        return NULL;
    if (rc == 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_NOT_FOUND, "no session");
        return NULL;
    }
    ClUser *u = row_user(s);
    if (csrf_out)
        *csrf_out = g_strdup(cl_db_column_text(s, 10));
    if (seen_at_out)
        *seen_at_out = cl_db_column_int64(s, 11);
    if (expires_out)
        *expires_out = cl_db_column_int64(s, 12);
    while (cl_db_step(s, NULL) == 1)
        ;
    return u;
}

bool
cl_store_session_touch(ClStore *store, const char *hash, gint64 now, gint64 expires_at,
                       GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                "UPDATE sessions SET seen_at = ?, expires_at = ? WHERE hash = ?",
                                error);
    if (s == NULL)
        return false;
    cl_db_bind_int64(s, 1, now);
    cl_db_bind_int64(s, 2, expires_at);
    cl_db_bind_text(s, 3, hash);
    if (!cl_db_run(s, error))
        return false;
    s = cl_db_prepare(store->db, "DELETE FROM sessions WHERE expires_at <= ?", error);
    if (s == NULL)
        return false;
    cl_db_bind_int64(s, 1, now);
    return cl_db_run(s, error);
}

bool
cl_store_session_delete(ClStore *store, const char *hash, GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db, "DELETE FROM sessions WHERE hash = ?", error);
    if (s == NULL)
        return false;
    cl_db_bind_text(s, 1, hash);
    return cl_db_run(s, error);
}

/* ---- API tokens ------------------------------------------------------------------------------ */

gint64
cl_store_token_create(ClStore *store, const ClUser *user, const char *name, const char *hash,
                      const char *prefix, gint64 expires_at, GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                "INSERT INTO api_tokens (tenant_id, user_id, name, hash, prefix,"
                                " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                                error);
    if (s == NULL)
        return -1;
    cl_db_bind_int64(s, 1, user->tenant_id);
    cl_db_bind_int64(s, 2, user->id);
    cl_db_bind_text(s, 3, name);
    cl_db_bind_text(s, 4, hash);
    cl_db_bind_text(s, 5, prefix);
    cl_db_bind_int64(s, 6, g_get_real_time() / G_USEC_PER_SEC);
    if (expires_at > 0)
        cl_db_bind_int64(s, 7, expires_at);
    else
        cl_db_bind_null(s, 7);
    return cl_db_one_int64(s, -1, error);
}

ClUser *
cl_store_token_user(ClStore *store, const char *hash, gint64 now, gint64 *expires_out,
                    GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                "SELECT " USER_COLUMNS ", k.id, k.used_at, k.expires_at"
                                " FROM api_tokens k"
                                " JOIN users u ON u.id = k.user_id AND u.tenant_id = k.tenant_id"
                                " JOIN tenants t ON t.id = u.tenant_id WHERE k.hash = ?"
                                " AND (k.expires_at IS NULL OR k.expires_at > ?) AND u.active",
                                error);
    if (s == NULL)
        return NULL;
    cl_db_bind_text(s, 1, hash);
    cl_db_bind_int64(s, 2, now);
    int rc = cl_db_step(s, error);
    if (rc < 0)
        return NULL;
    if (rc == 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_NOT_FOUND, "no such token");
        return NULL;
    }
    g_autoptr(ClUser) u = row_user(s);
    gint64 token = cl_db_column_int64(s, 10), used = cl_db_column_int64(s, 11);
    if (expires_out)
        *expires_out = cl_db_column_int64(s, 12); /* NULL reads as 0: never */
    while (cl_db_step(s, NULL) == 1)
        ;
    /* "Last used" to the minute: a write per request would serialise readers. */
    if (now - used >= 60) {
        ClDbStmt *up = cl_db_prepare(store->db, "UPDATE api_tokens SET used_at = ? WHERE id = ?",
                                     error);
        if (up == NULL)
            return NULL;
        cl_db_bind_int64(up, 1, now);
        cl_db_bind_int64(up, 2, token);
        g_autoptr(GError) local = NULL;
        if (!cl_db_run(up, &local))
            g_debug("token used_at not updated: %s", local->message);
    }
    return g_steal_pointer(&u);
}

bool
cl_store_token_delete(ClStore *store, gint64 tenant_id, gint64 user_id, gint64 id, GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                "DELETE FROM api_tokens WHERE tenant_id = ? AND user_id = ? AND id = ?",
                                error);
    if (s == NULL)
        return false;
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_int64(s, 2, user_id);
    cl_db_bind_int64(s, 3, id);
    if (!cl_db_run(s, error))
        return false;
    if (cl_db_changes(store->db) != 1) {
        g_set_error(error, CL_ERROR, CL_ERROR_NOT_FOUND, "no token %" G_GINT64_FORMAT, id);
        return false;
    }
    return true;
}

json_t *
store_time_json(gint64 t)
{
    if (t <= 0)
        return json_null();
    g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(t);
    g_autofree char *text = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ");
    return json_string(text);
}

json_t *
store_text_json(const char *text)
{
    return text ? json_string(text) : json_null();
}

json_t *
cl_store_tokens_json(ClStore *store, gint64 tenant_id, gint64 user_id, GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                "SELECT id, name, prefix, created_at, used_at, expires_at"
                                " FROM api_tokens WHERE tenant_id = ? AND user_id = ? ORDER BY id",
                                error);
    if (s == NULL)
        return NULL;
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_int64(s, 2, user_id);
    g_autoptr(json_t) out = json_array();
    int rc;
    while ((rc = cl_db_step(s, error)) == 1)
        json_array_append_new(out, json_pack("{s:I, s:o, s:o, s:o, s:o, s:o}",
                                             "id", (json_int_t)cl_db_column_int64(s, 0),
                                             "name", store_text_json(cl_db_column_text(s, 1)),
                                             "prefix", store_text_json(cl_db_column_text(s, 2)),
                                             "created", store_time_json(cl_db_column_int64(s, 3)),
                                             "used", store_time_json(cl_db_column_int64(s, 4)),
                                             "expires", store_time_json(cl_db_column_int64(s, 5))));
    return rc < 0 ? NULL : g_steal_pointer(&out);
}

/* ---- notifications ----------------------------------------------------------------------------- */

/* Only of entries the user may see (cl_entry_visible): a colleague's entry that
 * went into their own history, or was notified and then moved there, is
 * nobody else's — not even its subject. ?2 is the user. */
#define VISIBLE_TO_USER                                                                        \
    "(e.author_id = ?2 OR (e.state = 'saved' AND (e.company_id IS NOT NULL"                  \
    " OR e.lead_id IS NOT NULL OR e.project_id IS NOT NULL)))"

/* {"id", "key", "name"} of a record named by three columns, or null. */
json_t *
store_ref_json(ClDbStmt *s, int col)
{
    return store_ref_json_as(s, col, "key");
}

/* The same with another name for the key ("number" for leads). */
json_t *
store_ref_json_as(ClDbStmt *s, int col, const char *key)
{
    if (cl_db_column_is_null(s, col))
        return json_null();
    return json_pack("{s:I, s:o, s:o}", "id", (json_int_t)cl_db_column_int64(s, col), key,
                     store_text_json(cl_db_column_text(s, col + 1)), "name",
                     store_text_json(cl_db_column_text(s, col + 2)));
}

json_t *
cl_store_notifications_json(ClStore *store, gint64 tenant_id, gint64 user_id, bool unread_only,
                            gint64 before_id, guint limit, GError **error)
{
    ClDbStmt *s = cl_db_prepare(
        store->db,
        "SELECT n.id, n.kind, n.created_at, n.read_at, a.id, a.key, a.name, e.id, e.subject,"
        " e.state, c.id, c.key, c.name, l.id, l.number, l.name, p.id, p.key, p.name, p.number"
        " FROM notifications n JOIN entries e ON e.id = n.entry_id"
        " LEFT JOIN users a ON a.id = n.actor_id LEFT JOIN companies c ON c.id = e.company_id"
        " LEFT JOIN leads l ON l.id = e.lead_id LEFT JOIN projects p ON p.id = e.project_id"
        " WHERE n.tenant_id = ?1 AND n.user_id = ?2 AND (?3 = 0 OR n.read_at IS NULL)"
        " AND (?4 = 0 OR n.id < ?4) AND " VISIBLE_TO_USER " ORDER BY n.id DESC LIMIT ?5",
        error);
    if (s == NULL)
        return NULL;
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_int64(s, 2, user_id);
    cl_db_bind_int64(s, 3, unread_only);
    cl_db_bind_int64(s, 4, before_id);
    cl_db_bind_int64(s, 5, limit ? limit : 50);
    g_autoptr(json_t) out = json_array();
    int rc;
    while ((rc = cl_db_step(s, error)) == 1) {
        json_t *entry = json_pack("{s:I, s:o, s:o, s:o, s:o, s:o}",
                                  "id", (json_int_t)cl_db_column_int64(s, 7),
                                  "subject", store_text_json(cl_db_column_text(s, 8)),
                                  "state", store_text_json(cl_db_column_text(s, 9)),
                                  "company", store_ref_json(s, 10),
                                  "lead", store_ref_json_as(s, 13, "number"),
                                  "project", store_ref_json(s, 16));
        json_t *project = json_object_get(entry, "project");
        if (json_is_object(project))
            json_object_set_new(project, "number", store_text_json(cl_db_column_text(s, 19)));
        json_array_append_new(out, json_pack("{s:I, s:s, s:o, s:o, s:o, s:o}",
                                             "id", (json_int_t)cl_db_column_int64(s, 0),
                                             "kind", cl_db_column_text(s, 1),
                                             "created", store_time_json(cl_db_column_int64(s, 2)),
                                             "read", store_time_json(cl_db_column_int64(s, 3)),
                                             "actor", store_ref_json(s, 4),
                                             "entry", entry));
    }
    return rc < 0 ? NULL : g_steal_pointer(&out);
}

gint64
cl_store_notifications_unread(ClStore *store, gint64 tenant_id, gint64 user_id, GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                "SELECT count(*) FROM notifications n JOIN entries e"
                                " ON e.id = n.entry_id WHERE n.tenant_id = ?1 AND n.user_id = ?2"
                                " AND n.read_at IS NULL AND " VISIBLE_TO_USER,
                                error);
    if (s == NULL)
        return -1;
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_int64(s, 2, user_id);
    return cl_db_one_int64(s, 0, error);
}

bool
cl_store_notifications_read(ClStore *store, gint64 tenant_id, gint64 user_id, gint64 id,
                            GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                "UPDATE notifications SET read_at = coalesce(read_at, ?4)"
                                " WHERE tenant_id = ?1 AND user_id = ?2 AND (?3 = 0 OR id = ?3)"
                                " AND (?3 != 0 OR read_at IS NULL)",
                                error);
    if (s == NULL)
        return false;
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_int64(s, 2, user_id);
    cl_db_bind_int64(s, 3, id);
    cl_db_bind_int64(s, 4, g_get_real_time() / G_USEC_PER_SEC);
    if (!cl_db_run(s, error))
        return false;
    if (id > 0 && cl_db_changes(store->db) != 1) {
        g_set_error(error, CL_ERROR, CL_ERROR_NOT_FOUND, "no notification %" G_GINT64_FORMAT, id);
        return false;
    }
    return true;
}

bool
cl_store_user_counts(ClStore *store, gint64 tenant_id, gint64 user_id, const char *today,
                     gint64 *pending_out, gint64 *due_out, gint64 *unread_out, GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                "SELECT (SELECT count(*) FROM entries WHERE tenant_id = ?1"
                                " AND author_id = ?2 AND state = 'pending'),"
                                " (SELECT count(*) FROM entries WHERE tenant_id = ?1"
                                " AND author_id = ?2 AND followup IS NOT NULL AND followup_done = 0"
                                " AND followup <= ?3 AND state != 'discarded')",
                                error);
    if (s == NULL)
        return false;
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_int64(s, 2, user_id);
    cl_db_bind_text(s, 3, today);
    int rc = cl_db_step(s, error);
    if (rc < 0)
        return false;
    *pending_out = rc == 1 ? cl_db_column_int64(s, 0) : 0;
    *due_out = rc == 1 ? cl_db_column_int64(s, 1) : 0;
    while (rc == 1 && cl_db_step(s, NULL) == 1)
        ;
    *unread_out = cl_store_notifications_unread(store, tenant_id, user_id, error);
    return *unread_out >= 0;
}
