/*
 * store-masterdata.c — `contactlog load FILE.json`: tenants, users, companies,
 * contact persons, leads and projects from a master-data file
 * (masterdata.example.json). Idempotent by key: a row is inserted when its key
 * is new, updated when a field differs, left alone otherwise; address and
 * domain lists are replaced when they differ. All in one transaction, so a bad
 * file changes nothing.
 */
#include "store-private.h"

#include <sodium.h>
#include <string.h>

typedef struct {
    ClStore *store;
    ClLoadStats *stats;
    GString *path; /* JSON path of the value being read, for error messages */
    gint64 last_id; /* the record the last load_*() wrote */
    bool failed;    /* invalid() was called: an optional field had the wrong type */
    GHashTable *hashed; /* a user's json_t → Hashed (hash_passwords) */
} Load;

static bool
invalid(Load *l, GError **error, const char *what)
{
    l->failed = true;
    if (l->path->len)
        g_set_error(error, CL_ERROR, CL_ERROR_INVALID, "%s: %s", l->path->str, what);
    else
        g_set_error(error, CL_ERROR, CL_ERROR_INVALID, "%s", what);
    return false;
}

static const char *
get_string(Load *l, json_t *obj, const char *field, bool required, GError **error)
{
    json_t *v = json_object_get(obj, field);
    if (v == NULL || json_is_null(v)) {
        if (required) {
            g_autofree char *msg = g_strdup_printf("\"%s\" is missing", field);
            invalid(l, error, msg);
        }
        return NULL;
    }
    if (!json_is_string(v) || (required && json_string_length(v) == 0)) {
        g_autofree char *msg = g_strdup_printf("\"%s\" must be a non-empty string", field);
        invalid(l, error, msg);
        return NULL;
    }
    return json_string_value(v);
}

static json_t *
get_array(Load *l, json_t *obj, const char *field, GError **error)
{
    static json_t *empty;
    if (empty == NULL)
        empty = json_array();
    json_t *v = json_object_get(obj, field);
    if (v == NULL || json_is_null(v))
        return empty;
    if (!json_is_array(v)) {
        g_autofree char *msg = g_strdup_printf("\"%s\" must be a list", field);
        invalid(l, error, msg);
        return NULL;
    }
    return v;
}

static void
path_push(Load *l, const char *field, gsize index, gsize *mark)
{
    *mark = l->path->len;
    g_string_append_printf(l->path, "%s%s[%zu]", l->path->len ? "." : "", field, index);
}

static bool
digits_only(const char *s)
{
    if (s == NULL || *s == '\0')
        return false;
    for (; *s; s++)
        if (!g_ascii_isdigit(*s))
            return false;
    return true;
}

static void
count(Load *l, int change)
{
    if (change == 2)
        l->stats->created++;
    else if (change == 1)
        l->stats->updated++;
    else
        l->stats->unchanged++;
}

/*
 * Inserts or updates one row found by (tenant_id, key). `select_sql` returns
 * id and the n value columns in the order of `values`; `insert_sql` binds
 * tenant_id, key, values… and returns the id; `update_sql` binds values…, id.
 * Returns the id (and *change: 0 unchanged, 1 updated, 2 created) or -1.
 */
static gint64
sync_row(Load *l, const char *select_sql, const char *insert_sql, const char *update_sql,
         gint64 tenant_id, const char *key, const char *const *values, int n, int *change,
         GError **error)
{
    ClDb *db = l->store->db;
    ClDbStmt *s = cl_db_prepare(db, select_sql, error);
    if (s == NULL)
        return -1;
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_text(s, 2, key);
    int rc = cl_db_step(s, error);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        ClDbStmt *ins = cl_db_prepare(db, insert_sql, error);
        if (ins == NULL)
            return -1;
        cl_db_bind_int64(ins, 1, tenant_id);
        cl_db_bind_text(ins, 2, key);
        for (int i = 0; i < n; i++)
            cl_db_bind_text(ins, 3 + i, values[i]);
        *change = 2;
        return cl_db_one_int64(ins, -1, error);
    }
    gint64 id = cl_db_column_int64(s, 0);
    bool same = true;
    for (int i = 0; i < n && same; i++)
        same = g_strcmp0(cl_db_column_text(s, 1 + i), values[i]) == 0;
    while (cl_db_step(s, NULL) == 1)
        ;
    *change = same ? 0 : 1;
    if (same)
        return id;
    ClDbStmt *up = cl_db_prepare(db, update_sql, error);
    if (up == NULL)
        return -1;
    for (int i = 0; i < n; i++)
        cl_db_bind_text(up, 1 + i, values[i]);
    cl_db_bind_int64(up, n + 1, id);
    return cl_db_run(up, error) ? id : -1;
}

typedef enum { SET_TENANT_DOMAINS, SET_USER_ADDRESSES, SET_COMPANY_DOMAINS,
               SET_CONTACT_ADDRESSES, SET_PROJECT_OFFERS } SetKind;

static const struct {
    const char *select_sql, *delete_sql, *insert_sql, *what;
} sets[] = {
    [SET_TENANT_DOMAINS] = { "SELECT domain FROM tenant_domains WHERE tenant_id = ? ORDER BY domain",
                             "DELETE FROM tenant_domains WHERE tenant_id = ?",
                             "INSERT INTO tenant_domains (tenant_id, domain) VALUES (?, ?)",
                             "domain" },
    [SET_USER_ADDRESSES] = { "SELECT address FROM user_addresses WHERE user_id = ? ORDER BY address",
                             "DELETE FROM user_addresses WHERE user_id = ?",
                             "INSERT INTO user_addresses (user_id, address, tenant_id, display, position)"
                             " VALUES (?, ?, ?, ?, ?)",
                             "address" },
    [SET_COMPANY_DOMAINS] = { "SELECT domain FROM company_domains WHERE company_id = ? ORDER BY domain",
                              "DELETE FROM company_domains WHERE company_id = ?",
                              "INSERT INTO company_domains (company_id, domain, tenant_id)"
                              " VALUES (?, ?, ?)",
                              "domain" },
    [SET_CONTACT_ADDRESSES] = { "SELECT address FROM contact_addresses WHERE contact_id = ? ORDER BY address",
                                "DELETE FROM contact_addresses WHERE contact_id = ?",
                                "INSERT INTO contact_addresses (contact_id, address, tenant_id, display,"
                                " position) VALUES (?, ?, ?, ?, ?)",
                                "address" },
    [SET_PROJECT_OFFERS] = { "SELECT number FROM project_offers WHERE project_id = ? ORDER BY number",
                             "DELETE FROM project_offers WHERE project_id = ?",
                             "INSERT INTO project_offers (project_id, number, tenant_id) VALUES (?, ?, ?)",
                             "offer number" },
};

static gint
cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char **)a, *(char **)b);
}

/* Replaces the list of domains/addresses/offers of `owner` when it differs. */
static bool
sync_set(Load *l, SetKind kind, gint64 owner, gint64 tenant_id, json_t *list, const char *field,
         bool *changed, GError **error)
{
    ClDb *db = l->store->db;
    g_autoptr(GPtrArray) want = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) display = g_ptr_array_new();
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        const char *text = json_string_value(v);
        gsize mark = l->path->len;
        g_string_append_printf(l->path, ".%s[%zu]", field, i);
        if (text == NULL || *text == '\0')
            return invalid(l, error, "must be a non-empty string");
        bool is_address = kind == SET_USER_ADDRESSES || kind == SET_CONTACT_ADDRESSES;
        if (is_address && (strchr(text, '@') == NULL || strchr(text, ' ') != NULL))
            return invalid(l, error, "is not an e-mail address");
        if (kind == SET_PROJECT_OFFERS && !digits_only(text))
            return invalid(l, error, "an offer number must be made of the digits 0-9 only");
        g_string_truncate(l->path, mark);
        char *folded = kind == SET_PROJECT_OFFERS ? g_strdup(text) : cl_address_fold(text);
        if (folded == NULL)
            return invalid(l, error, "is not valid UTF-8");
        bool dup = false;
        for (guint j = 0; j < want->len && !dup; j++)
            dup = strcmp(want->pdata[j], folded) == 0;
        if (dup) {
            g_free(folded);
            continue;
        }
        g_ptr_array_add(want, folded);
        g_ptr_array_add(display, (gpointer)text);
    }

    g_autoptr(GPtrArray) have = g_ptr_array_new_with_free_func(g_free);
    ClDbStmt *s = cl_db_prepare(db, sets[kind].select_sql, error);
    if (s == NULL)
        return false;
    cl_db_bind_int64(s, 1, owner);
    int rc;
    while ((rc = cl_db_step(s, error)) == 1)
        g_ptr_array_add(have, g_strdup(cl_db_column_text(s, 0)));
    if (rc < 0)
        return false;
    g_autoptr(GPtrArray) sorted = g_ptr_array_copy(want, NULL, NULL);
    g_ptr_array_set_free_func(sorted, NULL); /* borrowed from want */
    g_ptr_array_sort(sorted, cmp_str);
    bool same = have->len == sorted->len;
    for (guint j = 0; same && j < have->len; j++)
        same = strcmp(have->pdata[j], sorted->pdata[j]) == 0;
    if (same)
        return true;

    *changed = true;
    ClDbStmt *del = cl_db_prepare(db, sets[kind].delete_sql, error);
    if (del == NULL)
        return false;
    cl_db_bind_int64(del, 1, owner);
    if (!cl_db_run(del, error))
        return false;
    for (guint j = 0; j < want->len; j++) {
        ClDbStmt *ins = cl_db_prepare(db, sets[kind].insert_sql, error);
        if (ins == NULL)
            return false;
        cl_db_bind_int64(ins, 1, kind == SET_TENANT_DOMAINS ? tenant_id : owner);
        if (kind == SET_TENANT_DOMAINS) {
            cl_db_bind_text(ins, 2, want->pdata[j]);
        } else {
            cl_db_bind_text(ins, 2, want->pdata[j]);
            cl_db_bind_int64(ins, 3, tenant_id);
            cl_db_bind_text(ins, 4, display->pdata[j]);
            cl_db_bind_int64(ins, 5, j);
        }
        g_autoptr(GError) local = NULL;
        if (!cl_db_run(ins, &local)) {
            if (g_error_matches(local, CL_ERROR, CL_ERROR_CONFLICT)) {
                g_set_error(error, CL_ERROR, CL_ERROR_CONFLICT,
                            "%s: %s %s is already registered%s", l->path->str,
                            sets[kind].what, (char *)want->pdata[j],
                            kind == SET_TENANT_DOMAINS ? " by another tenant" : " twice");
                return false;
            }
            g_propagate_error(error, g_steal_pointer(&local));
            return false;
        }
    }
    return true;
}

/* The password hash a prepared, bound SELECT reads (*old_out NULL: none). */
static bool
read_hash(ClDbStmt *s, char **old_out, GError **error)
{
    int rc = cl_db_step(s, error);
    if (rc < 0)
        return false;
    *old_out = rc == 1 ? g_strdup(cl_db_column_text(s, 0)) : NULL;
    while (rc == 1 && cl_db_step(s, NULL) == 1)
        ;
    return true;
}

/* Argon2id (libsodium). An unchanged password keeps its hash: loading twice changes nothing. */
static char *
keep_or_hash(const char *old, const char *password, GError **error)
{
    if (old != NULL && cl_password_verify(old, password))
        return g_strdup(old);
    return cl_password_hash(password, error);
}

typedef struct {
    char *old;  /* the stored hash it was checked against; NULL: none */
    char *hash; /* what to store */
} Hashed;

static void
hashed_free(Hashed *h)
{
    g_free(h->old);
    g_free(h->hash);
    g_free(h);
}

/* u: the user's object of the file; what hash_passwords made for it is taken
 * while the stored hash is still the one it checked. */
static bool
password_hash(Load *l, json_t *u, gint64 user_id, const char *password, char **hash_out,
              GError **error)
{
    *hash_out = NULL;
    if (password == NULL)
        return true;
    ClDbStmt *s = cl_db_prepare(l->store->db, "SELECT password_hash FROM users WHERE id = ?",
                                error);
    if (s == NULL)
        return false;
    cl_db_bind_int64(s, 1, user_id);
    g_autofree char *old = NULL;
    if (!read_hash(s, &old, error))
        return false;
    Hashed *ready = l->hashed ? g_hash_table_lookup(l->hashed, u) : NULL;
    *hash_out = ready != NULL && g_strcmp0(ready->old, old) == 0
                    ? g_strdup(ready->hash)
                    : keep_or_hash(old, password, error);
    return *hash_out != NULL;
}

static bool
load_user(Load *l, gint64 tenant_id, json_t *u, GError **error)
{
    const char *key = get_string(l, u, "key", true, error);
    if (key == NULL)
        return false;
    const char *name = get_string(l, u, "name", false, error);
    const char *role = get_string(l, u, "role", false, error);
    const char *password = get_string(l, u, "password", false, error);
    if (l->failed)
        return false;
    if (role == NULL)
        role = "user";
    if (strcmp(role, "admin") != 0 && strcmp(role, "user") != 0)
        return invalid(l, error, "\"role\" must be \"admin\" or \"user\"");
    const char *values[] = { name ? name : key, role };
    int change;
    gint64 id = sync_row(l, "SELECT id, name, role FROM users WHERE tenant_id = ? AND key = ?",
                         "INSERT INTO users (tenant_id, key, name, role) VALUES (?, ?, ?, ?)"
                         " RETURNING id",
                         "UPDATE users SET name = ?, role = ? WHERE id = ?", tenant_id, key,
                         values, 2, &change, error);
    if (id < 0)
        return false;
    l->last_id = id;
    g_autofree char *hash = NULL;
    if (!password_hash(l, u, id, password, &hash, error))
        return false;
    if (hash != NULL) {
        ClDbStmt *s = cl_db_prepare(l->store->db,
                                    "UPDATE users SET password_hash = ? WHERE id = ?"
                                    " AND password_hash IS NOT ?",
                                    error);
        if (s == NULL)
            return false;
        cl_db_bind_text(s, 1, hash);
        cl_db_bind_int64(s, 2, id);
        cl_db_bind_text(s, 3, hash);
        if (!cl_db_run(s, error))
            return false;
        if (cl_db_changes(l->store->db) > 0) {
            if (change == 0)
                change = 1;
            /* A new password (master data, the admin API) ends the user's sessions and
             * revokes their API tokens, as the user's own change does. */
            if (!store_user_end_access(l->store, tenant_id, id, NULL, error))
                return false;
        }
    }
    json_t *emails = get_array(l, u, "emails", error);
    bool changed = false;
    if (emails == NULL ||
        !sync_set(l, SET_USER_ADDRESSES, id, tenant_id, emails, "emails", &changed, error))
        return false;
    count(l, change == 0 && changed ? 1 : change);
    return true;
}

static bool
load_contact(Load *l, gint64 tenant_id, gint64 company_id, json_t *c, GError **error)
{
    const char *key = get_string(l, c, "key", true, error);
    if (key == NULL)
        return false;
    const char *name = get_string(l, c, "name", false, error);
    const char *phone = get_string(l, c, "phone", false, error);
    if (l->failed)
        return false;
    g_autofree char *company = g_strdup_printf("%" G_GINT64_FORMAT, company_id);
    const char *values[] = { name ? name : key, phone, company };
    int change;
    gint64 id = sync_row(l, "SELECT id, name, phone, company_id FROM contacts"
                            " WHERE tenant_id = ? AND key = ?",
                         "INSERT INTO contacts (tenant_id, key, name, phone, company_id)"
                         " VALUES (?, ?, ?, ?, ?) RETURNING id",
                         "UPDATE contacts SET name = ?, phone = ?, company_id = ? WHERE id = ?",
                         tenant_id, key, values, 3, &change, error);
    if (id < 0)
        return false;
    /* Entries are found by their contact persons' names: a changed name is
     * indexed again (behind, as captured mail is). */
    if (change == 1 && !store_reindex_contact(l->store, id, error))
        return false;
    l->last_id = id;
    json_t *emails = get_array(l, c, "emails", error);
    bool changed = false;
    if (emails == NULL ||
        !sync_set(l, SET_CONTACT_ADDRESSES, id, tenant_id, emails, "emails", &changed, error))
        return false;
    count(l, change == 0 && changed ? 1 : change);
    return true;
}

static bool
load_lead(Load *l, gint64 tenant_id, gint64 company_id, json_t *d, GError **error)
{
    const char *number = get_string(l, d, "number", true, error);
    if (number == NULL)
        return false;
    if (!digits_only(number))
        return invalid(l, error, "a lead \"number\" must be made of the digits 0-9 only");
    const char *name = get_string(l, d, "name", true, error);
    if (name == NULL)
        return false;
    const char *status = get_string(l, d, "status", false, error);
    if (l->failed)
        return false;
    g_autofree char *company = g_strdup_printf("%" G_GINT64_FORMAT, company_id);
    g_autofree char *word = cl_text_name_key(name);
    const char *values[] = { name, status ? status : "open", company, word };
    int change;
    gint64 id = sync_row(l, "SELECT id, name, status, company_id, name_key FROM leads"
                            " WHERE tenant_id = ? AND number = ?",
                         "INSERT INTO leads (tenant_id, number, name, status, company_id,"
                         " name_key) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                         "UPDATE leads SET name = ?, status = ?, company_id = ?, name_key = ?"
                         " WHERE id = ?",
                         tenant_id, number, values, 4, &change, error);
    if (id < 0)
        return false;
    l->last_id = id;
    count(l, change);
    return true;
}

static bool
load_project(Load *l, gint64 tenant_id, gint64 company_id, json_t *p, GError **error)
{
    const char *key = get_string(l, p, "key", true, error);
    if (key == NULL)
        return false;
    const char *name = get_string(l, p, "name", true, error);
    if (name == NULL)
        return false;
    const char *number = get_string(l, p, "number", false, error);
    if (l->failed)
        return false;
    g_autofree char *company = g_strdup_printf("%" G_GINT64_FORMAT, company_id);
    g_autofree char *word = cl_text_name_key(name);
    const char *values[] = { name, number, company, word };
    int change;
    gint64 id = sync_row(l, "SELECT id, name, number, company_id, name_key FROM projects"
                            " WHERE tenant_id = ? AND key = ?",
                         "INSERT INTO projects (tenant_id, key, name, number, company_id,"
                         " name_key) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                         "UPDATE projects SET name = ?, number = ?, company_id = ?,"
                         " name_key = ? WHERE id = ?",
                         tenant_id, key, values, 4, &change, error);
    if (id < 0)
        return false;
    l->last_id = id;
    json_t *offers = get_array(l, p, "offers", error);
    bool changed = false;
    if (offers == NULL ||
        !sync_set(l, SET_PROJECT_OFFERS, id, tenant_id, offers, "offers", &changed, error))
        return false;
    count(l, change == 0 && changed ? 1 : change);
    return true;
}

typedef bool (*LoadChild)(Load *, gint64, gint64, json_t *, GError **);

static bool
load_children(Load *l, gint64 tenant_id, gint64 company_id, json_t *parent, const char *field,
              LoadChild fn, GError **error)
{
    json_t *list = get_array(l, parent, field, error);
    if (list == NULL)
        return false;
    size_t i;
    json_t *child;
    json_array_foreach(list, i, child) {
        gsize mark;
        path_push(l, field, i, &mark);
        if (!json_is_object(child))
            return invalid(l, error, "must be an object");
        if (!fn(l, tenant_id, company_id, child, error))
            return false;
        g_string_truncate(l->path, mark);
    }
    return true;
}

static bool
load_company(Load *l, gint64 tenant_id, gint64 unused, json_t *c, GError **error)
{
    (void)unused;
    const char *key = get_string(l, c, "key", true, error);
    if (key == NULL)
        return false;
    const char *name = get_string(l, c, "name", false, error);
    if (l->failed)
        return false;
    const char *values[] = { name ? name : key };
    int change;
    gint64 id = sync_row(l, "SELECT id, name FROM companies WHERE tenant_id = ? AND key = ?",
                         "INSERT INTO companies (tenant_id, key, name) VALUES (?, ?, ?)"
                         " RETURNING id",
                         "UPDATE companies SET name = ? WHERE id = ?", tenant_id, key, values,
                         1, &change, error);
    if (id < 0)
        return false;
    l->last_id = id;
    json_t *domains = get_array(l, c, "domains", error);
    bool changed = false;
    if (domains == NULL ||
        !sync_set(l, SET_COMPANY_DOMAINS, id, tenant_id, domains, "domains", &changed, error))
        return false;
    count(l, change == 0 && changed ? 1 : change);
    return load_children(l, tenant_id, id, c, "contacts", load_contact, error) &&
           load_children(l, tenant_id, id, c, "leads", load_lead, error) &&
           load_children(l, tenant_id, id, c, "projects", load_project, error);
}

static bool
load_user_child(Load *l, gint64 tenant_id, gint64 unused, json_t *u, GError **error)
{
    (void)unused;
    return load_user(l, tenant_id, u, error);
}

static bool
load_tenant(Load *l, gint64 unused1, gint64 unused2, json_t *t, GError **error)
{
    (void)unused1;
    (void)unused2;
    const char *key = get_string(l, t, "key", true, error);
    if (key == NULL)
        return false;
    const char *name = get_string(l, t, "name", false, error);
    if (l->failed)
        return false;
    json_t *settings = json_object_get(t, "settings");
    const char *numbers = "strict";
    const char *auto_save = "0";
    if (settings != NULL && json_is_object(settings)) {
        json_t *n = json_object_get(settings, "subject_numbers");
        if (n != NULL) {
            numbers = json_string_value(n);
            if (numbers == NULL ||
                (strcmp(numbers, "strict") != 0 && strcmp(numbers, "tolerant") != 0))
                return invalid(l, error,
                               "settings.subject_numbers must be \"strict\" or \"tolerant\"");
        }
        json_t *a = json_object_get(settings, "auto_save");
        if (a != NULL && !json_is_boolean(a))
            return invalid(l, error, "settings.auto_save must be true or false");
        auto_save = json_is_true(a) ? "1" : "0";
    }
    const char *values[] = { name ? name : key, numbers, auto_save };
    int change;
    /* Tenants are not inside a tenant: ?1 (the tenant id sync_row binds) is unused. */
    gint64 id = sync_row(l, "SELECT id, name, subject_numbers, auto_save FROM tenants"
                            " WHERE ?1 IS NOT NULL AND key = ?2",
                         "INSERT INTO tenants (key, name, subject_numbers, auto_save)"
                         " VALUES (?2, ?3, ?4, ?5) RETURNING id",
                         "UPDATE tenants SET name = ?, subject_numbers = ?, auto_save = ?"
                         " WHERE id = ?",
                         0, key, values, 3, &change, error);
    if (id < 0)
        return false;
    l->last_id = id;
    json_t *domains = get_array(l, t, "domains", error);
    bool changed = false;
    if (domains == NULL ||
        !sync_set(l, SET_TENANT_DOMAINS, id, id, domains, "domains", &changed, error))
        return false;
    count(l, change == 0 && changed ? 1 : change);
    return load_children(l, id, 0, t, "users", load_user_child, error) &&
           load_children(l, id, 0, t, "companies", load_company, error);
}

static bool
load_drop_addresses(Load *l, json_t *root, GError **error)
{
    json_t *list = get_array(l, root, "drop_addresses", error);
    if (list == NULL)
        return false;
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        g_autofree char *folded = cl_address_fold(json_string_value(v));
        if (folded == NULL || strchr(folded, '@') == NULL) {
            gsize mark;
            path_push(l, "drop_addresses", i, &mark);
            return invalid(l, error, "is not an e-mail address");
        }
        ClDbStmt *s = cl_db_prepare(l->store->db,
                                    "INSERT OR IGNORE INTO drop_addresses (address) VALUES (?)",
                                    error);
        if (s == NULL)
            return false;
        cl_db_bind_text(s, 1, folded);
        if (!cl_db_run(s, error))
            return false;
    }
    return true;
}

/* Argon2id takes about 70 ms a password, checked or made: done before the
 * transaction, so that its write lock is not held for seconds while mail and
 * the API wait (a file of 200 users with passwords, loaded again unchanged,
 * held it for 15 s). Inside, password_hash() takes what was made here when
 * the stored hash is still the one checked. */
static bool
hash_passwords(Load *l, json_t *root, GError **error)
{
    l->hashed = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                      (GDestroyNotify)hashed_free);
    size_t i, j;
    json_t *tenant, *user;
    json_array_foreach(json_object_get(root, "tenants"), i, tenant) {
        const char *tkey = json_string_value(json_object_get(tenant, "key"));
        json_array_foreach(json_object_get(tenant, "users"), j, user) {
            const char *ukey = json_string_value(json_object_get(user, "key"));
            const char *password = json_string_value(json_object_get(user, "password"));
            if (tkey == NULL || ukey == NULL || password == NULL)
                continue; /* the load itself says what is wrong */
            ClDbStmt *s = cl_db_prepare(l->store->db,
                                        "SELECT u.password_hash FROM users u JOIN tenants t"
                                        " ON t.id = u.tenant_id WHERE t.key = ? AND u.key = ?",
                                        error);
            if (s == NULL)
                return false;
            cl_db_bind_text(s, 1, tkey);
            cl_db_bind_text(s, 2, ukey);
            Hashed *h = g_new0(Hashed, 1);
            g_hash_table_insert(l->hashed, user, h);
            if (!read_hash(s, &h->old, error) ||
                (h->hash = keep_or_hash(h->old, password, error)) == NULL)
                return false;
        }
    }
    return true;
}

bool
cl_store_load_masterdata(ClStore *store, const char *path, ClLoadStats *stats, GError **error)
{
    if (sodium_init() < 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_INTERNAL, "libsodium cannot start");
        return false;
    }
    json_error_t jerr;
    g_autoptr(json_t) root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        g_set_error(error, CL_ERROR, CL_ERROR_INVALID, "%s:%d:%d: %s", path, jerr.line,
                    jerr.column, jerr.text);
        return false;
    }
    if (!json_is_object(root)) {
        g_set_error(error, CL_ERROR, CL_ERROR_INVALID, "%s: the top level must be an object",
                    path);
        return false;
    }
    ClLoadStats local_stats = { 0 };
    Load l = { .store = store, .stats = stats ? stats : &local_stats, .path = g_string_new(NULL) };
    *l.stats = (ClLoadStats){ 0 };
    bool ok = hash_passwords(&l, root, error) && cl_store_begin(store, error);
    if (ok) {
        ok = load_drop_addresses(&l, root, error) &&
             load_children(&l, 0, 0, root, "tenants", load_tenant, error);
        if (ok)
            ok = cl_store_commit(store, error);
        else
            cl_store_rollback(store);
    }
    if (!ok && error && *error)
        g_prefix_error(error, "%s: ", path);
    g_string_free(l.path, TRUE);
    g_clear_pointer(&l.hashed, g_hash_table_unref);
    return ok;
}

/* ---- records for the HTTP API ------------------------------------------------------------
 *
 * Reading shows a record as the API does; writing goes through the loader
 * above, so that a record made in the web UI is checked, folded and indexed
 * exactly as one loaded from a file: the record's current fields, the changed
 * ones laid over them, loaded by key.
 */

static json_t *
strings_json(ClStore *store, const char *sql, gint64 owner, GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db, sql, error);
    if (s == NULL)
        return NULL;
    cl_db_bind_int64(s, 1, owner);
    g_autoptr(json_t) out = json_array();
    int rc;
    while ((rc = cl_db_step(s, error)) == 1)
        json_array_append_new(out, json_string(cl_db_column_text(s, 0)));
    return rc < 0 ? NULL : g_steal_pointer(&out);
}

/* A list of records by name and the count of all of it, from one FROM … WHERE. */
#define LIST(from_where)                                                                       \
    "SELECT r.id FROM " from_where " ORDER BY r.name COLLATE NOCASE, r.id LIMIT ?4 OFFSET ?5",  \
        "SELECT count(*) FROM " from_where

/* A name as typed with or without umlauts ("Bäckerei", "backerei", "baeckerei"); keys,
 * addresses and domains are ASCII, where umlauts are spelled out ("baeckerei-sommer"). */
#define NAME_MATCHES "(instr(cl_fold(r.name), ?2) OR instr(cl_spell(r.name), ?6))"
#define KEY_MATCHES "(instr(cl_fold(r.key), ?2) OR instr(r.key, ?6))"

static const struct {
    const char *table;
    const char *select;  /* ?1 tenant, ?2 id */
    const char *list;    /* ?1 tenant, ?2 folded query or NULL, ?3 company or 0, ?4 limit, ?5 offset,
                          * ?6 the query with umlauts spelled out (cl_text_fold_spelled) */
    const char *count;   /* how many the list has in all: ?1, ?2, ?3, ?6 */
    const char *strings; /* domains, addresses or offers of ?1 */
    const char *strings_field;
} records[] = {
    [CL_ITEM_COMPANY] = {
        "companies",
        "SELECT r.id, r.key, r.name FROM companies r WHERE r.tenant_id = ?1 AND r.id = ?2",
        LIST("companies r WHERE r.tenant_id = ?1 AND (?3 = 0 OR r.id = ?3) AND (?2 IS NULL"
        " OR " NAME_MATCHES " OR " KEY_MATCHES " OR EXISTS (SELECT 1 FROM company_domains d"
        " WHERE d.company_id = r.id AND (instr(d.domain, ?2) OR instr(d.domain, ?6))))"),
        "SELECT domain FROM company_domains WHERE company_id = ? ORDER BY domain", "domains" },
    [CL_ITEM_CONTACT] = {
        "contacts",
        "SELECT r.id, r.key, r.name, r.phone, c.id, c.key, c.name FROM contacts r"
        " JOIN companies c ON c.id = r.company_id WHERE r.tenant_id = ?1 AND r.id = ?2",
        LIST("contacts r WHERE r.tenant_id = ?1 AND (?3 = 0 OR r.company_id = ?3)"
        " AND (?2 IS NULL OR " NAME_MATCHES " OR " KEY_MATCHES " OR EXISTS (SELECT 1 FROM"
        " contact_addresses a WHERE a.contact_id = r.id"
        " AND (instr(a.address, ?2) OR instr(a.address, ?6))))"),
        "SELECT display FROM contact_addresses WHERE contact_id = ? ORDER BY position", "emails" },
    [CL_ITEM_LEAD] = {
        "leads",
        "SELECT r.id, r.number, r.name, r.status, c.id, c.key, c.name FROM leads r"
        " JOIN companies c ON c.id = r.company_id WHERE r.tenant_id = ?1 AND r.id = ?2",
        LIST("leads r WHERE r.tenant_id = ?1 AND (?3 = 0 OR r.company_id = ?3)"
        " AND (?2 IS NULL OR " NAME_MATCHES " OR instr(r.number, ?2))"),
        NULL, NULL },
    [CL_ITEM_PROJECT] = {
        "projects",
        "SELECT r.id, r.key, r.number, r.name, c.id, c.key, c.name FROM projects r"
        " JOIN companies c ON c.id = r.company_id WHERE r.tenant_id = ?1 AND r.id = ?2",
        LIST("projects r WHERE r.tenant_id = ?1 AND (?3 = 0 OR r.company_id = ?3)"
        " AND (?2 IS NULL OR " NAME_MATCHES " OR " KEY_MATCHES
        " OR instr(coalesce(r.number, ''), ?2) OR EXISTS (SELECT 1 FROM project_offers o"
        " WHERE o.project_id = r.id AND instr(o.number, ?2)))"),
        "SELECT number FROM project_offers WHERE project_id = ? ORDER BY number", "offers" },
    [CL_ITEM_USER] = {
        "users",
        "SELECT r.id, r.key, r.name, r.role, r.active, r.locale FROM users r"
        " WHERE r.tenant_id = ?1 AND r.id = ?2",
        LIST("users r WHERE r.tenant_id = ?1 AND ?3 = 0 AND (?2 IS NULL"
        " OR " NAME_MATCHES " OR " KEY_MATCHES " OR EXISTS (SELECT 1 FROM user_addresses a"
        " WHERE a.user_id = r.id AND (instr(a.address, ?2) OR instr(a.address, ?6))))"),
        "SELECT display FROM user_addresses WHERE user_id = ? ORDER BY position", "emails" },
};

static bool
record_kind_ok(ClItemKind kind)
{
    return kind == CL_ITEM_COMPANY || kind == CL_ITEM_CONTACT || kind == CL_ITEM_LEAD ||
           kind == CL_ITEM_PROJECT || kind == CL_ITEM_USER;
}

json_t *
cl_store_record_json(ClStore *store, ClItemKind kind, gint64 tenant_id, gint64 id, GError **error)
{
    g_return_val_if_fail(record_kind_ok(kind), NULL);
    ClDbStmt *s = cl_db_prepare(store->db, records[kind].select, error);
    if (s == NULL)
        return NULL;
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_int64(s, 2, id);
    int rc = cl_db_step(s, error);
    if (rc < 0)
        return NULL;
    if (rc == 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_NOT_FOUND, "no %s with id %" G_GINT64_FORMAT,
                    cl_item_kind_name(kind), id);
        return NULL;
    }
    g_autoptr(json_t) o = json_object();
    json_object_set_new(o, "id", json_integer(cl_db_column_int64(s, 0)));
    switch (kind) {
    case CL_ITEM_COMPANY:
        json_object_set_new(o, "key", store_text_json(cl_db_column_text(s, 1)));
        json_object_set_new(o, "name", store_text_json(cl_db_column_text(s, 2)));
        break;
    case CL_ITEM_CONTACT:
        json_object_set_new(o, "key", store_text_json(cl_db_column_text(s, 1)));
        json_object_set_new(o, "name", store_text_json(cl_db_column_text(s, 2)));
        json_object_set_new(o, "phone", store_text_json(cl_db_column_text(s, 3)));
        json_object_set_new(o, "company", store_ref_json(s, 4));
        break;
    case CL_ITEM_LEAD:
        json_object_set_new(o, "number", store_text_json(cl_db_column_text(s, 1)));
        json_object_set_new(o, "name", store_text_json(cl_db_column_text(s, 2)));
        json_object_set_new(o, "status", store_text_json(cl_db_column_text(s, 3)));
        json_object_set_new(o, "company", store_ref_json(s, 4));
        break;
    case CL_ITEM_PROJECT:
        json_object_set_new(o, "key", store_text_json(cl_db_column_text(s, 1)));
        json_object_set_new(o, "number", store_text_json(cl_db_column_text(s, 2)));
        json_object_set_new(o, "name", store_text_json(cl_db_column_text(s, 3)));
        json_object_set_new(o, "company", store_ref_json(s, 4));
        break;
    case CL_ITEM_USER:
        json_object_set_new(o, "key", store_text_json(cl_db_column_text(s, 1)));
        json_object_set_new(o, "name", store_text_json(cl_db_column_text(s, 2)));
        json_object_set_new(o, "role", store_text_json(cl_db_column_text(s, 3)));
        json_object_set_new(o, "active", json_boolean(cl_db_column_int64(s, 4)));
        json_object_set_new(o, "locale", store_text_json(cl_db_column_text(s, 5)));
        break;
    default:
        break;
    }
    while (cl_db_step(s, NULL) == 1)
        ;
    if (records[kind].strings != NULL) {
        json_t *list = strings_json(store, records[kind].strings, id, error);
        if (list == NULL)
            return NULL;
        json_object_set_new(o, records[kind].strings_field, list);
    }
    return g_steal_pointer(&o);
}

json_t *
cl_store_records_json(ClStore *store, ClItemKind kind, const ClRecordQuery *q, GError **error)
{
    g_return_val_if_fail(record_kind_ok(kind), NULL);
    ClDbStmt *s = cl_db_prepare(store->db, records[kind].list, error);
    if (s == NULL)
        return NULL;
    guint limit = q->limit ? q->limit : 50;
    g_autofree char *folded = q->query && *q->query ? cl_text_fold_search(q->query) : NULL;
    g_autofree char *spelled = folded ? cl_text_fold_spelled(q->query, NULL) : NULL;
    cl_db_bind_int64(s, 1, q->tenant_id);
    cl_db_bind_text(s, 2, folded);
    cl_db_bind_int64(s, 3, q->company_id);
    cl_db_bind_int64(s, 4, (gint64)limit + 1);
    cl_db_bind_int64(s, 5, q->offset);
    cl_db_bind_text(s, 6, spelled);
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(gint64));
    int rc;
    while ((rc = cl_db_step(s, error)) == 1) {
        gint64 id = cl_db_column_int64(s, 0);
        g_array_append_val(ids, id);
    }
    if (rc < 0)
        return NULL;
    g_autoptr(json_t) items = json_array();
    for (guint i = 0; i < ids->len && i < limit; i++) {
        json_t *o = cl_store_record_json(store, kind, q->tenant_id, g_array_index(ids, gint64, i),
                                         error);
        if (o == NULL)
            return NULL;
        json_array_append_new(items, o);
    }
    ClDbStmt *c = cl_db_prepare(store->db, records[kind].count, error);
    if (c == NULL)
        return NULL;
    cl_db_bind_int64(c, 1, q->tenant_id);
    cl_db_bind_text(c, 2, folded);
    cl_db_bind_int64(c, 3, q->company_id);
    cl_db_bind_text(c, 6, spelled);
    gint64 total = cl_db_one_int64(c, 0, error);
    if (total < 0)
        return NULL;
    return json_pack("{s:o, s:o, s:I}", "items", g_steal_pointer(&items), "next_offset",
                     ids->len > limit ? json_integer(q->offset + limit) : json_null(), "total",
                     (json_int_t)total);
}

/* A key for a record made without one: the name's letters and digits, umlauts
 * spelled out ("Bäckerei Sommer" → "baeckerei-sommer"), made unique. */
static char *
make_key(ClStore *store, ClItemKind kind, gint64 tenant_id, const char *name, GError **error)
{
    GString *slug = g_string_new(NULL);
    g_autofree char *folded = cl_text_fold(name ? name : "");
    for (const char *p = folded; p && *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        const char *spelled = c == 0xe4 ? "ae" : c == 0xf6 ? "oe" : c == 0xfc ? "ue"
                            : c == 0xdf ? "ss" : NULL;
        if (spelled) {
            g_string_append(slug, spelled);
        } else if (c < 128 && g_ascii_isalnum((char)c)) {
            g_string_append_c(slug, (char)c);
        } else if (g_unichar_isalnum(c)) {
            /* other letters: their base letter where there is one (é → e) */
            gunichar d[4];
            gsize n = g_unichar_fully_decompose(c, FALSE, d, 4);
            if (n > 0 && d[0] < 128 && g_ascii_isalnum((char)d[0]))
                g_string_append_c(slug, (char)d[0]);
        } else if (slug->len && slug->str[slug->len - 1] != '-') {
            g_string_append_c(slug, '-');
        }
        if (slug->len >= 40)
            break;
    }
    while (slug->len && slug->str[slug->len - 1] == '-')
        g_string_truncate(slug, slug->len - 1);
    if (slug->len == 0)
        g_string_append(slug, cl_item_kind_name(kind));
    g_autofree char *base = g_string_free(slug, FALSE);
    for (guint n = 1; n < 1000; n++) {
        g_autofree char *key = n == 1 ? g_strdup(base) : g_strdup_printf("%s-%u", base, n);
        g_autoptr(GError) local = NULL;
        g_autoptr(ClItem) taken = cl_store_find(store, kind, tenant_id, key, &local);
        if (taken == NULL && g_error_matches(local, CL_ERROR, CL_ERROR_NOT_FOUND))
            return g_steal_pointer(&key);
        if (taken == NULL) {
            g_propagate_error(error, g_steal_pointer(&local));
            return NULL;
        }
    }
    g_set_error(error, CL_ERROR, CL_ERROR_CONFLICT, "no free key for \"%s\"", base);
    return NULL;
}

static char *
next_lead_number(ClStore *store, gint64 tenant_id, GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                "SELECT max(CAST(number AS INTEGER)) FROM leads"
                                " WHERE tenant_id = ? AND length(number) < 18",
                                error);
    if (s == NULL)
        return NULL;
    cl_db_bind_int64(s, 1, tenant_id);
    gint64 max = cl_db_one_int64(s, 0, error);
    if (max < 0)
        return NULL;
    return g_strdup_printf("%" G_GINT64_FORMAT, MAX(max + 1, 10001));
}

/* The fields each kind takes, and whether it is read as the loader reads it. */
static bool
check_fields(ClItemKind kind, json_t *fields, GError **error)
{
    static const char *allowed[][8] = {
        [CL_ITEM_COMPANY] = { "key", "name", "domains" },
        [CL_ITEM_CONTACT] = { "key", "name", "phone", "emails", "company" },
        [CL_ITEM_LEAD] = { "number", "name", "status", "company" },
        [CL_ITEM_PROJECT] = { "key", "number", "name", "offers", "company" },
        [CL_ITEM_USER] = { "key", "name", "role", "emails", "password", "active", "locale" },
    };
    if (!json_is_object(fields)) {
        g_set_error(error, CL_ERROR, CL_ERROR_INVALID, "the body must be a JSON object");
        return false;
    }
    const char *name;
    json_t *v;
    json_object_foreach(fields, name, v) {
        bool ok = strcmp(name, "id") == 0;
        for (gsize i = 0; !ok && i < 8 && allowed[kind][i]; i++)
            ok = strcmp(allowed[kind][i], name) == 0;
        if (!ok) {
            g_set_error(error, CL_ERROR, CL_ERROR_INVALID, "a %s has no field \"%s\"",
                        cl_item_kind_name(kind), name);
            return false;
        }
    }
    return true;
}

/* Renames a record's key (or a lead's number) when the fields change it. */
static bool
rename_key(ClStore *store, ClItemKind kind, gint64 tenant_id, gint64 id, const char *old_key,
           const char *new_key, GError **error)
{
    if (new_key == NULL || g_strcmp0(old_key, new_key) == 0)
        return true;
    static const char *sql[] = {
        [CL_ITEM_COMPANY] = "UPDATE companies SET key = ? WHERE tenant_id = ? AND id = ?",
        [CL_ITEM_CONTACT] = "UPDATE contacts SET key = ? WHERE tenant_id = ? AND id = ?",
        [CL_ITEM_LEAD] = "UPDATE leads SET number = ? WHERE tenant_id = ? AND id = ?",
        [CL_ITEM_PROJECT] = "UPDATE projects SET key = ? WHERE tenant_id = ? AND id = ?",
        [CL_ITEM_USER] = "UPDATE users SET key = ? WHERE tenant_id = ? AND id = ?",
    };
    if (*new_key == '\0' || (kind == CL_ITEM_LEAD && !digits_only(new_key))) {
        g_set_error(error, CL_ERROR, CL_ERROR_INVALID,
                    kind == CL_ITEM_LEAD ? "a lead number must be made of the digits 0-9 only"
                                         : "the key must not be empty");
        return false;
    }
    ClDbStmt *s = cl_db_prepare(store->db, sql[kind], error);
    if (s == NULL)
        return false;
    cl_db_bind_text(s, 1, new_key);
    cl_db_bind_int64(s, 2, tenant_id);
    cl_db_bind_int64(s, 3, id);
    g_autoptr(GError) local = NULL;
    if (!cl_db_run(s, &local)) {
        if (g_error_matches(local, CL_ERROR, CL_ERROR_CONFLICT))
            g_set_error(error, CL_ERROR, CL_ERROR_CONFLICT, "%s \"%s\" exists already",
                        kind == CL_ITEM_LEAD ? "lead number" : "key", new_key);
        else
            g_propagate_error(error, g_steal_pointer(&local));
        return false;
    }
    return true;
}

/* ---- what a tenant's admin may register ----------------------------------------------------
 *
 * Mail goes to a tenant by the sender's domain, else by the sender's exact
 * address (DESIGN §2 rule 2). A domain or address an admin registers through
 * the API therefore takes over mail from there. Whatever another tenant has
 * at a domain (its domain, a user's address, a company's domain, a contact
 * person's address) says that mail from there may be that tenant's: its
 * users' private mail, its customers' replies to a mail with the drop address
 * in Cc. So an admin may only register what no other tenant has anything at,
 * and never the domain of a drop address. Master-data files, the operator's
 * tool, may still do what they like.
 *
 * Every refusal for such a reason is the same sentence, NOT_YOURS, whatever
 * (and whoever's) the cause: the answer must not tell an admin what other
 * customers of the service have. Conflicts inside the own tenant are told
 * precisely.
 */
#define NOT_YOURS "cannot be registered for your organisation; the operator of contactlog can " \
                  "register it (master data)"

/*
 * A domain and its parents of two labels or more, folded
 * (mail.acme.example → mail.acme.example, acme.example), as the company-domain
 * rule walks them: a company domain also names its subdomains.
 */
static GPtrArray *
domain_and_parents(const char *domain)
{
    GPtrArray *out = g_ptr_array_new();
    g_ptr_array_add(out, (gpointer)domain);
    for (const char *d = strchr(domain, '.'); d != NULL; d = strchr(d, '.')) {
        d++;
        if (strchr(d, '.') == NULL)
            break;
        g_ptr_array_add(out, (gpointer)d);
    }
    g_ptr_array_add(out, NULL);
    return out;
}

/*
 * 1 when something of another tenant than `tenant_id` is at `domain`
 * (folded), at one of its parents or at one of its subdomains: a tenant
 * domain or company domain, or the domain of a drop address; with
 * `addresses`, also the domain of a user's or a contact person's address.
 * 0 when nothing is; -1 on error.
 *
 * Subdomains are found by suffix, which no index serves: this reads the
 * address tables whole. It runs only when an admin registers something new.
 */
static int
domain_used_elsewhere(ClStore *store, gint64 tenant_id, const char *domain, bool addresses,
                      GError **error)
{
    /* ?2: the domain and its parents; ?3: "." + domain, the suffix of its subdomains. */
#define DOMAIN_HIT(col)                                                                        \
    "(" col " IN (SELECT value FROM json_each(?2)) OR substr(" col ", -length(?3)) = ?3)"
    /* An address at one of them: "@" + a domain of ?2 ends it (a domain has no "@", so
     * that "@" is the address's last one), or the suffix of a subdomain does. */
#define ADDRESS_HIT(col)                                                                       \
    "(substr(" col ", -length(?3)) = ?3 OR EXISTS (SELECT 1 FROM json_each(?2) k"            \
    " WHERE substr(" col ", -length(k.value) - 1) = '@' || k.value))"
    ClDbStmt *s = cl_db_prepare(
        store->db,
        "SELECT EXISTS (SELECT 1 FROM tenant_domains WHERE tenant_id != ?1 AND "
        DOMAIN_HIT("domain") ")"
        " OR EXISTS (SELECT 1 FROM company_domains WHERE tenant_id != ?1 AND "
        DOMAIN_HIT("domain") ")"
        " OR EXISTS (SELECT 1 FROM drop_addresses WHERE " ADDRESS_HIT("address") ")"
        " OR (?4 AND EXISTS (SELECT 1 FROM user_addresses WHERE tenant_id != ?1 AND "
        ADDRESS_HIT("address") "))"
        " OR (?4 AND EXISTS (SELECT 1 FROM contact_addresses WHERE tenant_id != ?1 AND "
        ADDRESS_HIT("address") "))",
        error);
#undef DOMAIN_HIT
#undef ADDRESS_HIT
    if (s == NULL)
        return -1;
    g_autoptr(GPtrArray) parents = domain_and_parents(domain);
    g_autofree char *suffix = g_strconcat(".", domain, NULL);
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_strings(s, 2, (const char *const *)parents->pdata, G_MAXSIZE);
    cl_db_bind_text(s, 3, suffix);
    cl_db_bind_int64(s, 4, addresses);
    gint64 used = cl_db_one_int64(s, 0, error);
    return used < 0 ? -1 : used > 0;
}

/*
 * A domain as an admin may write it: two labels or more of letters, digits
 * and hyphens (an internationalised one as IDNA writes it: müller.example is
 * xn--mller-kva.example), at most 63 octets a label and 253 in all. No "@",
 * no "*" (a company domain names its subdomains anyway), no spaces.
 */
static bool
domain_syntax_ok(const char *folded)
{
    g_autofree char *ascii = g_hostname_to_ascii(folded);
    if (ascii == NULL || strlen(ascii) > 253 || strchr(ascii, '.') == NULL)
        return false;
    g_auto(GStrv) labels = g_strsplit(ascii, ".", -1);
    for (char **l = labels; *l != NULL; l++) {
        size_t n = strlen(*l);
        if (n == 0 || n > 63 || (*l)[0] == '-' || (*l)[n - 1] == '-')
            return false;
        for (const char *p = *l; *p; p++)
            if (!g_ascii_isalnum(*p) && *p != '-')
                return false;
    }
    return true;
}

/*
 * A key given through the API: what a person can read and type back, the same
 * way every time — at most 100 bytes, no white space at its ends, no control
 * or formatting characters (U+202E would show "sommer" for another key), in
 * Unicode NFC (else "sömmer" could be there twice, composed and decomposed).
 */
static bool
key_syntax_ok(const char *key, size_t length)
{
    /* jansson's strings are valid UTF-8; a NUL inside would cut the key short. */
    if (length > 100 || memchr(key, '\0', length) != NULL ||
        g_unichar_isspace(g_utf8_get_char(key)) ||
        g_unichar_isspace(g_utf8_get_char(g_utf8_find_prev_char(key, key + length))))
        return false;
    for (const char *p = key; *p; p = g_utf8_next_char(p)) {
        GUnicodeType type = g_unichar_type(g_utf8_get_char(p));
        if (type == G_UNICODE_CONTROL || type == G_UNICODE_FORMAT)
            return false;
    }
    g_autofree char *nfc = g_utf8_normalize(key, -1, G_NORMALIZE_DEFAULT_COMPOSE);
    return nfc != NULL && strcmp(nfc, key) == 0;
}

/*
 * The domains an admin adds to the tenant (those it has already stay, and
 * may be removed): each must be free of everything of other tenants and of
 * the drop addresses (see above).
 */
static bool
tenant_domains_free(ClStore *store, gint64 tenant_id, json_t *have, json_t *want,
                    GError **error)
{
    size_t i;
    json_t *v;
    json_array_foreach(want, i, v) {
        if (!json_is_string(v))
            continue; /* the loader says what is wrong with it */
        g_autofree char *folded = cl_address_fold(json_string_value(v));
        if (folded == NULL)
            continue;
        bool kept = false;
        size_t j;
        json_t *h;
        json_array_foreach(have, j, h) {
            if (g_strcmp0(json_string_value(h), folded) == 0)
                kept = true;
        }
        if (kept)
            continue;
        if (!domain_syntax_ok(folded)) {
            g_set_error(error, CL_ERROR, CL_ERROR_INVALID, "domains[%zu]: %s is not a domain", i,
                        json_string_value(v));
            return false;
        }
        int used = domain_used_elsewhere(store, tenant_id, folded, true, error);
        if (used < 0)
            return false;
        if (used) {
            g_set_error(error, CL_ERROR, CL_ERROR_CONFLICT, "domains[%zu]: %s " NOT_YOURS, i,
                        json_string_value(v));
            return false;
        }
    }
    return true;
}

/* 1 when the tenant registered `domain` (folded) itself, 0 when not, -1 on error. */
static int
own_tenant_domain(ClStore *store, gint64 tenant_id, const char *domain, GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                "SELECT count(*) FROM tenant_domains WHERE domain = ?"
                                " AND tenant_id = ?",
                                error);
    if (s == NULL)
        return -1;
    cl_db_bind_text(s, 1, domain);
    cl_db_bind_int64(s, 2, tenant_id);
    gint64 n = cl_db_one_int64(s, 0, error);
    return n < 0 ? -1 : n > 0;
}

/*
 * The addresses a tenant's admin gives a user. The exact address must be
 * nobody else's: another user's (rule 2: a private address registered with
 * two users belongs to neither, and it logs in), nor a contact person's of
 * another tenant (its mail to a drop address would be this tenant's). An
 * address at one of the tenant's own domains goes to the tenant by its
 * domain anyway; any other goes to it by the address (rule 2), so its domain
 * must be free as a tenant domain is — except for addresses of other
 * tenants there: those are single people at what may well be a free-mail
 * domain (freemail.example), each with the exact address that is theirs.
 */
static bool
user_addresses_free(ClStore *store, gint64 tenant_id, gint64 user_id, json_t *emails,
                    GError **error)
{
    size_t i;
    json_t *v;
    json_array_foreach(emails, i, v) {
        g_autofree char *folded = cl_address_fold(json_string_value(v));
        g_autofree char *domain = folded ? cl_address_domain(folded) : NULL;
        if (folded == NULL)
            continue; /* the loader says what is wrong with it */
        /* What the user has already stays (it may come from a master-data file). */
        ClDbStmt *own = cl_db_prepare(store->db,
                                      "SELECT count(*) FROM user_addresses WHERE user_id = ?"
                                      " AND address = ?",
                                      error);
        if (own == NULL)
            return false;
        cl_db_bind_int64(own, 1, user_id);
        cl_db_bind_text(own, 2, folded);
        gint64 has = cl_db_one_int64(own, 0, error);
        if (has < 0)
            return false;
        if (has > 0)
            continue;
        /* A colleague's address: inside the tenant, so said precisely. */
        ClDbStmt *mate = cl_db_prepare(store->db,
                                       "SELECT u.key FROM user_addresses a JOIN users u"
                                       " ON u.id = a.user_id WHERE a.tenant_id = ? AND"
                                       " a.address = ? AND a.user_id != ? ORDER BY u.id",
                                       error);
        if (mate == NULL)
            return false;
        cl_db_bind_int64(mate, 1, tenant_id);
        cl_db_bind_text(mate, 2, folded);
        cl_db_bind_int64(mate, 3, user_id);
        int rc = cl_db_step(mate, error);
        if (rc < 0)
            return false;
        if (rc == 1) {
            g_set_error(error, CL_ERROR, CL_ERROR_CONFLICT,
                        "emails[%zu]: %s is already an address of the user %s", i,
                        json_string_value(v), cl_db_column_text(mate, 0));
            while (cl_db_step(mate, NULL) == 1)
                ;
            return false;
        }
        int mine = domain != NULL ? own_tenant_domain(store, tenant_id, domain, error) : 0;
        if (mine < 0)
            return false;
        /* ?3: the address goes to this tenant by itself, not by its domain. */
        ClDbStmt *s = cl_db_prepare(store->db,
                                    "SELECT EXISTS (SELECT 1 FROM user_addresses WHERE address = ?1"
                                    " AND tenant_id != ?2) OR (?3 AND EXISTS (SELECT 1 FROM"
                                    " contact_addresses WHERE address = ?1 AND tenant_id != ?2))",
                                    error);
        if (s == NULL)
            return false;
        cl_db_bind_text(s, 1, folded);
        cl_db_bind_int64(s, 2, tenant_id);
        cl_db_bind_int64(s, 3, !mine);
        gint64 taken = cl_db_one_int64(s, 0, error);
        if (taken < 0)
            return false;
        if (!taken && !mine && domain != NULL) {
            taken = domain_used_elsewhere(store, tenant_id, domain, false, error);
            if (taken < 0)
                return false;
        }
        if (taken) {
            g_set_error(error, CL_ERROR, CL_ERROR_CONFLICT, "emails[%zu]: %s " NOT_YOURS, i,
                        json_string_value(v));
            return false;
        }
    }
    return true;
}

/* A contact person's addresses made in the API: no drop address — every mail
 * to it (BCC, CC) would name that person. */
static bool
contact_addresses_ok(ClStore *store, json_t *emails, GError **error)
{
    size_t i;
    json_t *v;
    json_array_foreach(emails, i, v) {
        g_autofree char *folded = cl_address_fold(json_string_value(v));
        if (folded == NULL)
            continue; /* the loader says what is wrong with it */
        g_autoptr(GError) local = NULL;
        bool drop = cl_store_is_drop_address(store, folded, &local);
        if (local != NULL) {
            g_propagate_error(error, g_steal_pointer(&local));
            return false;
        }
        if (drop) {
            g_set_error(error, CL_ERROR, CL_ERROR_INVALID,
                        "emails[%zu]: %s is the drop address, no contact person's", i,
                        json_string_value(v));
            return false;
        }
    }
    return true;
}

/* A company domain made in the API is one company's: the company-domain rule
 * then names that company and no list of candidates (files may differ). */
static bool
company_domains_free(ClStore *store, gint64 tenant_id, gint64 company_id, json_t *domains,
                     GError **error)
{
    size_t i;
    json_t *v;
    json_array_foreach(domains, i, v) {
        g_autofree char *folded = cl_address_fold(json_string_value(v));
        if (folded == NULL)
            continue;
        if (!domain_syntax_ok(folded)) {
            g_set_error(error, CL_ERROR, CL_ERROR_INVALID, "domains[%zu]: %s is not a domain", i,
                        json_string_value(v));
            return false;
        }
        /* Every mail to the drop address would name the company. */
        ClDbStmt *drop = cl_db_prepare(store->db,
                                       "SELECT EXISTS (SELECT 1 FROM drop_addresses WHERE"
                                       " substr(address, -length(?1) - 1) = '@' || ?1"
                                       " OR substr(address, -length(?1) - 1) = '.' || ?1)",
                                       error);
        if (drop == NULL)
            return false;
        cl_db_bind_text(drop, 1, folded);
        gint64 is_drop = cl_db_one_int64(drop, 0, error);
        if (is_drop < 0)
            return false;
        if (is_drop) {
            g_set_error(error, CL_ERROR, CL_ERROR_INVALID,
                        "domains[%zu]: %s is the domain of the drop address, no company's", i,
                        json_string_value(v));
            return false;
        }
        ClDbStmt *s = cl_db_prepare(store->db,
                                    "SELECT c.name FROM company_domains d JOIN companies c"
                                    " ON c.id = d.company_id WHERE d.tenant_id = ? AND d.domain = ?"
                                    " AND d.company_id != ?",
                                    error);
        if (s == NULL)
            return false;
        cl_db_bind_int64(s, 1, tenant_id);
        cl_db_bind_text(s, 2, folded);
        cl_db_bind_int64(s, 3, company_id);
        int rc = cl_db_step(s, error);
        if (rc < 0)
            return false;
        if (rc == 1) {
            g_set_error(error, CL_ERROR, CL_ERROR_CONFLICT,
                        "domains[%zu]: %s is already the domain of %s", i, folded,
                        cl_db_column_text(s, 0));
            while (cl_db_step(s, NULL) == 1)
                ;
            return false;
        }
    }
    return true;
}

gint64
cl_store_record_save(ClStore *store, ClItemKind kind, gint64 tenant_id, gint64 id, json_t *fields,
                     GError **error)
{
    g_return_val_if_fail(record_kind_ok(kind), -1);
    if (!check_fields(kind, fields, error))
        return -1;
    const char *key_field = kind == CL_ITEM_LEAD ? "number" : "key";
    g_autoptr(json_t) obj = NULL;
    if (id > 0) {
        obj = cl_store_record_json(store, kind, tenant_id, id, error);
        if (obj == NULL)
            return -1;
    } else {
        obj = json_object();
        if (json_object_get(fields, "name") == NULL) {
            g_set_error(error, CL_ERROR, CL_ERROR_INVALID, "\"name\" is missing");
            return -1;
        }
    }
    /* The company: the id, {"id": …} or the key of the tenant's (for contacts,
     * leads and projects), as an entry names it. */
    gint64 company_id = 0;
    json_t *company = json_object_get(fields, "company");
    if (company == NULL)
        company = json_object_get(obj, "company");
    if (kind == CL_ITEM_CONTACT || kind == CL_ITEM_LEAD || kind == CL_ITEM_PROJECT) {
        json_t *cid = json_is_object(company) ? json_object_get(company, "id") : company;
        if (!json_is_integer(cid) && !json_is_string(cid)) {
            g_set_error(error, CL_ERROR, CL_ERROR_INVALID,
                        "\"company\" must be the id or the key of a company");
            return -1;
        }
        g_autoptr(GError) local = NULL;
        g_autoptr(ClItem) c =
            json_is_integer(cid)
                ? cl_store_item_get(store, CL_ITEM_COMPANY, tenant_id, json_integer_value(cid),
                                    &local)
                : cl_store_find(store, CL_ITEM_COMPANY, tenant_id, json_string_value(cid),
                                &local);
        if (c == NULL) {
            /* A field naming nothing is bad content, not a missing resource. */
            if (g_error_matches(local, CL_ERROR, CL_ERROR_NOT_FOUND))
                local->code = CL_ERROR_INVALID;
            g_prefix_error(&local, "\"company\": ");
            g_propagate_error(error, g_steal_pointer(&local));
            return -1;
        }
        company_id = c->id;
    }
    g_autofree char *old_key = g_strdup(json_string_value(json_object_get(obj, key_field)));
    json_object_update(obj, fields);
    json_object_del(obj, "company");
    json_object_del(obj, "id");
    /* Keys: given, made from the name, or (leads) the next free number. */
    json_t *key = json_object_get(obj, key_field);
    if (key != NULL && !json_is_string(key)) {
        g_set_error(error, CL_ERROR, CL_ERROR_INVALID, "\"%s\" must be a string", key_field);
        return -1;
    }
    if (key != NULL && json_string_length(key) > 0 &&
        g_strcmp0(old_key, json_string_value(key)) != 0 &&
        !key_syntax_ok(json_string_value(key), json_string_length(key))) {
        g_set_error(error, CL_ERROR, CL_ERROR_INVALID,
                    "\"%s\" must be at most 100 bytes without spaces at its ends, control or"
                    " formatting characters (such as bidirectional overrides)",
                    key_field);
        return -1;
    }
    if (key == NULL || json_string_length(key) == 0) {
        g_autofree char *made = kind == CL_ITEM_LEAD
                                    ? next_lead_number(store, tenant_id, error)
                                    : make_key(store, kind, tenant_id,
                                               json_string_value(json_object_get(obj, "name")),
                                               error);
        if (made == NULL)
            return -1;
        json_object_set_new(obj, key_field, json_string(made));
    } else if (id == 0) {
        /* A new record must not take over an existing one of the same key. */
        g_autoptr(GError) local = NULL;
        g_autoptr(ClItem) taken = cl_store_find(store, kind, tenant_id, json_string_value(key),
                                                &local);
        if (taken != NULL || !g_error_matches(local, CL_ERROR, CL_ERROR_NOT_FOUND)) {
            if (taken != NULL)
                g_set_error(error, CL_ERROR, CL_ERROR_CONFLICT, "%s \"%s\" exists already",
                            kind == CL_ITEM_LEAD ? "lead number" : "key",
                            json_string_value(key));
            else
                g_propagate_error(error, g_steal_pointer(&local));
            return -1;
        }
    }
    json_t *name = json_object_get(obj, "name");
    if (!json_is_string(name) || json_string_length(name) == 0 ||
        json_string_length(name) > 500) {
        g_set_error(error, CL_ERROR, CL_ERROR_INVALID,
                    "\"name\" must be a non-empty string of at most 500 bytes");
        return -1;
    }
    if (id > 0 && !rename_key(store, kind, tenant_id, id, old_key,
                              json_string_value(json_object_get(obj, key_field)), error))
        return -1;
    ClLoadStats stats = { 0 };
    Load l = { .store = store, .stats = &stats, .path = g_string_new(NULL) };
    bool ok;
    switch (kind) {
    case CL_ITEM_COMPANY: {
        if (!company_domains_free(store, tenant_id, id, json_object_get(obj, "domains"), error)) {
            g_string_free(l.path, TRUE);
            return -1;
        }
        /* Only the company itself: contacts, leads and projects are records of their own. */
        json_t *c = json_pack("{s:O, s:O, s:O?}", "key", json_object_get(obj, "key"), "name",
                              name, "domains", json_object_get(obj, "domains"));
        ok = c != NULL && load_company(&l, tenant_id, 0, c, error);
        json_decref(c);
        break;
    }
    case CL_ITEM_CONTACT:
        ok = contact_addresses_ok(store, json_object_get(obj, "emails"), error) &&
             load_contact(&l, tenant_id, company_id, obj, error);
        break;
    case CL_ITEM_LEAD:
        ok = load_lead(&l, tenant_id, company_id, obj, error);
        break;
    case CL_ITEM_PROJECT:
        ok = load_project(&l, tenant_id, company_id, obj, error);
        break;
    default: {
        if (!user_addresses_free(store, tenant_id, id, json_object_get(obj, "emails"), error)) {
            g_string_free(l.path, TRUE);
            return -1;
        }
        json_t *password = json_object_get(obj, "password");
        if (password != NULL && (!json_is_string(password) || json_string_length(password) < 8)) {
            g_string_free(l.path, TRUE);
            g_set_error(error, CL_ERROR, CL_ERROR_INVALID,
                        "\"password\" must have at least 8 characters");
            return -1;
        }
        ok = load_user(&l, tenant_id, obj, error);
        /* A password the admin sets ends the user's sessions and revokes their API
         * tokens, as the user's own change does — also when it is the same again. */
        if (ok && json_object_get(fields, "password") != NULL && id > 0)
            ok = store_user_end_access(store, tenant_id, id, NULL, error);
        json_t *active = json_object_get(obj, "active");
        json_t *locale = json_object_get(obj, "locale");
        if (ok && active != NULL && !json_is_boolean(active))
            ok = invalid(&l, error, "\"active\" must be true or false");
        if (ok && locale != NULL && !json_is_null(locale) &&
            !cl_store_user_set_locale(store, tenant_id, l.last_id, json_string_value(locale),
                                      error))
            ok = false;
        if (ok && active != NULL) {
            ClDbStmt *s = cl_db_prepare(store->db, "UPDATE users SET active = ? WHERE id = ?",
                                        error);
            ok = s != NULL;
            if (ok) {
                cl_db_bind_int64(s, 1, json_is_true(active));
                cl_db_bind_int64(s, 2, l.last_id);
                ok = cl_db_run(s, error);
            }
            /* A deactivated user is out for good: reactivating them later must not
             * bring back the sessions and tokens they had. */
            if (ok && !json_is_true(active))
                ok = store_user_end_access(store, tenant_id, l.last_id, NULL, error);
        }
        if (ok) {
            /* Nobody could administer a tenant without an active admin. */
            ClDbStmt *s = cl_db_prepare(store->db,
                                        "SELECT count(*) FROM users WHERE tenant_id = ?"
                                        " AND role = 'admin' AND active",
                                        error);
            ok = s != NULL;
            if (ok) {
                cl_db_bind_int64(s, 1, tenant_id);
                gint64 admins = cl_db_one_int64(s, 0, error);
                ok = admins >= 0;
                if (admins == 0) {
                    g_set_error(error, CL_ERROR, CL_ERROR_CONFLICT,
                                "the tenant must keep at least one active admin");
                    ok = false;
                }
            }
        }
        break;
    }
    }
    g_string_free(l.path, TRUE);
    return ok ? l.last_id : -1;
}

json_t *
cl_store_tenant_json(ClStore *store, gint64 tenant_id, GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                "SELECT id, key, name, subject_numbers, auto_save FROM tenants"
                                " WHERE id = ?",
                                error);
    if (s == NULL)
        return NULL;
    cl_db_bind_int64(s, 1, tenant_id);
    int rc = cl_db_step(s, error);
    if (rc < 0)
        return NULL;
    if (rc == 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_NOT_FOUND, "no tenant %" G_GINT64_FORMAT, tenant_id);
        return NULL;
    }
    g_autoptr(json_t) o = json_pack("{s:I, s:s, s:s, s:{s:s, s:b}}",
                                    "id", (json_int_t)cl_db_column_int64(s, 0),
                                    "key", cl_db_column_text(s, 1),
                                    "name", cl_db_column_text(s, 2),
                                    "settings", "subject_numbers", cl_db_column_text(s, 3),
                                    "auto_save", (int)cl_db_column_int64(s, 4));
    while (cl_db_step(s, NULL) == 1)
        ;
    json_t *domains = strings_json(store, "SELECT domain FROM tenant_domains WHERE tenant_id = ?"
                                          " ORDER BY domain",
                                   tenant_id, error);
    if (domains == NULL)
        return NULL;
    json_object_set_new(o, "domains", domains);
    return g_steal_pointer(&o);
}

bool
cl_store_tenant_save(ClStore *store, gint64 tenant_id, json_t *fields, GError **error)
{
    if (!json_is_object(fields)) {
        g_set_error(error, CL_ERROR, CL_ERROR_INVALID, "the body must be a JSON object");
        return false;
    }
    const char *field;
    json_t *v;
    json_object_foreach(fields, field, v) {
        if (strcmp(field, "name") != 0 && strcmp(field, "domains") != 0 &&
            strcmp(field, "settings") != 0 && strcmp(field, "id") != 0 &&
            strcmp(field, "key") != 0) {
            g_set_error(error, CL_ERROR, CL_ERROR_INVALID, "a tenant has no field \"%s\"", field);
            return false;
        }
    }
    g_autoptr(json_t) obj = cl_store_tenant_json(store, tenant_id, error);
    if (obj == NULL)
        return false;
    json_t *key = json_object_get(fields, "key");
    if (key != NULL && !json_equal(key, json_object_get(obj, "key"))) {
        g_set_error(error, CL_ERROR, CL_ERROR_INVALID, "the tenant's key cannot be changed");
        return false;
    }
    json_t *settings = json_object_get(fields, "settings");
    if (settings != NULL) {
        if (!json_is_object(settings)) {
            g_set_error(error, CL_ERROR, CL_ERROR_INVALID, "\"settings\" must be an object");
            return false;
        }
        const char *name;
        json_t *value;
        json_object_foreach(settings, name, value) {
            if (strcmp(name, "subject_numbers") != 0 && strcmp(name, "auto_save") != 0) {
                g_set_error(error, CL_ERROR, CL_ERROR_INVALID, "there is no setting \"%s\"",
                            name);
                return false;
            }
        }
        json_object_update(json_object_get(obj, "settings"), settings);
    }
    if (json_object_get(fields, "name") != NULL)
        json_object_set(obj, "name", json_object_get(fields, "name"));
    json_t *domains = json_object_get(fields, "domains");
    if (domains != NULL && !json_is_array(domains)) {
        g_set_error(error, CL_ERROR, CL_ERROR_INVALID, "\"domains\" must be a list");
        return false;
    }
    if (domains != NULL) {
        if (!tenant_domains_free(store, tenant_id, json_object_get(obj, "domains"), domains,
                                 error))
            return false;
        json_object_set(obj, "domains", domains);
    }
    json_t *name = json_object_get(obj, "name");
    if (!json_is_string(name) || json_string_length(name) == 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_INVALID, "\"name\" must be a non-empty string");
        return false;
    }
    ClLoadStats stats = { 0 };
    Load l = { .store = store, .stats = &stats, .path = g_string_new(NULL) };
    g_autoptr(GError) local = NULL;
    bool ok = load_tenant(&l, 0, 0, obj, &local);
    g_string_free(l.path, TRUE);
    /* The loader's message names the other tenant's domain as such; the checks
     * above leave nothing for it to find, but it must not tell even then. */
    if (!ok && g_error_matches(local, CL_ERROR, CL_ERROR_CONFLICT)) {
        g_clear_error(&local);
        g_set_error(&local, CL_ERROR, CL_ERROR_CONFLICT, "domains: a domain " NOT_YOURS);
    }
    if (!ok)
        g_propagate_error(error, g_steal_pointer(&local));
    return ok;
}
