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
} Load;

static bool
invalid(Load *l, GError **error, const char *what)
{
    g_set_error(error, CL_ERROR, CL_ERROR_INVALID, "%s: %s", l->path->str, what);
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

/* Argon2id (libsodium). An unchanged password keeps its hash: loading twice changes nothing. */
static bool
password_hash(Load *l, gint64 user_id, const char *password, char **hash_out, GError **error)
{
    *hash_out = NULL;
    if (password == NULL)
        return true;
    ClDbStmt *s = cl_db_prepare(l->store->db, "SELECT password_hash FROM users WHERE id = ?",
                                error);
    if (s == NULL)
        return false;
    cl_db_bind_int64(s, 1, user_id);
    int rc = cl_db_step(s, error);
    if (rc < 0)
        return false;
    g_autofree char *old = rc == 1 ? g_strdup(cl_db_column_text(s, 0)) : NULL;
    while (rc == 1 && cl_db_step(s, NULL) == 1)
        ;
    if (old != NULL && crypto_pwhash_str_verify(old, password, strlen(password)) == 0) {
        *hash_out = g_steal_pointer(&old);
        return true;
    }
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "out of memory hashing a password");
        return false;
    }
    *hash_out = g_strdup(hash);
    return true;
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
    g_autofree char *hash = NULL;
    if (!password_hash(l, id, password, &hash, error))
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
        if (cl_db_changes(l->store->db) > 0 && change == 0)
            change = 1;
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
    const char *values[] = { name ? name : key };
    int change;
    gint64 id = sync_row(l, "SELECT id, name FROM companies WHERE tenant_id = ? AND key = ?",
                         "INSERT INTO companies (tenant_id, key, name) VALUES (?, ?, ?)"
                         " RETURNING id",
                         "UPDATE companies SET name = ? WHERE id = ?", tenant_id, key, values,
                         1, &change, error);
    if (id < 0)
        return false;
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
    bool ok = cl_store_begin(store, error);
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
    return ok;
}
