/*
 * store-directory.c — the ClDirectory that route/ and match/ read: each lookup
 * is one prepared statement on an index (see 0001-initial.sql).
 */
#include "store-private.h"


static GPtrArray *
collect(ClStore *store, ClDbStmt *s, ClItemKind kind, GError **error)
{
    /* Columns: id, tenant_id, key, name, company_id, company_key, tenant_key[, kind] */
    g_autoptr(GPtrArray) out = cl_item_array_new();
    int rc;
    while ((rc = cl_db_step(s, error)) == 1) {
        ClItemKind k = kind;
        if (kind == CL_ITEM_LEAD && cl_db_column_int64(s, 7) == 1)
            k = CL_ITEM_PROJECT;
        ClItem *item = cl_item_new(k, cl_db_column_int64(s, 0), cl_db_column_int64(s, 1),
                                   cl_db_column_text(s, 2));
        item->name = g_strdup(cl_db_column_text(s, 3));
        item->company_id = cl_db_column_int64(s, 4);
        item->company_key = g_strdup(cl_db_column_text(s, 5));
        item->tenant_key = g_strdup(cl_db_column_text(s, 6));
        g_ptr_array_add(out, item);
    }
    (void)store;
    return rc < 0 ? NULL : g_steal_pointer(&out);
}

static GPtrArray *
tenants_by_domain(void *self, const char *domain, GError **error)
{
    ClStore *store = self;
    ClDbStmt *s = cl_db_prepare(store->db,
                                "SELECT t.id, t.id, t.key, t.name, 0, NULL, t.key"
                                " FROM tenant_domains d JOIN tenants t ON t.id = d.tenant_id"
                                " WHERE d.domain = ?",
                                error);
    if (s == NULL)
        return NULL;
    cl_db_bind_text(s, 1, domain);
    return collect(store, s, CL_ITEM_TENANT, error);
}

/* Only active users: the mail of a deactivated one (who left) is refused as
 * unknown-sender instead of waiting in an inbox nobody opens any more. */
static GPtrArray *
users_by_address(void *self, gint64 tenant_id, const char *address, GError **error)
{
    ClStore *store = self;
    ClDbStmt *s;
    if (tenant_id == 0) {
        s = cl_db_prepare(store->db,
                          "SELECT DISTINCT u.id, u.tenant_id, u.key, u.name, 0, NULL, t.key"
                          " FROM user_addresses a JOIN users u ON u.id = a.user_id"
                          " JOIN tenants t ON t.id = u.tenant_id WHERE a.address = ? AND u.active"
                          " ORDER BY u.id",
                          error);
        if (s != NULL)
            cl_db_bind_text(s, 1, address);
    } else {
        s = cl_db_prepare(store->db,
                          "SELECT DISTINCT u.id, u.tenant_id, u.key, u.name, 0, NULL, t.key"
                          " FROM user_addresses a JOIN users u ON u.id = a.user_id"
                          " JOIN tenants t ON t.id = u.tenant_id"
                          " WHERE a.tenant_id = ? AND a.address = ? AND u.active ORDER BY u.id",
                          error);
        if (s != NULL) {
            cl_db_bind_int64(s, 1, tenant_id);
            cl_db_bind_text(s, 2, address);
        }
    }
    return s ? collect(store, s, CL_ITEM_USER, error) : NULL;
}

static GPtrArray *
contacts_by_address(void *self, gint64 tenant_id, const char *address, GError **error)
{
    ClStore *store = self;
    ClDbStmt *s = cl_db_prepare(
        store->db,
        "SELECT c.id, c.tenant_id, c.key, c.name, c.company_id, co.key, NULL"
        " FROM contact_addresses a JOIN contacts c ON c.id = a.contact_id"
        " JOIN companies co ON co.id = c.company_id"
        " WHERE a.tenant_id = ? AND a.address = ? ORDER BY c.id",
        error);
    if (s == NULL)
        return NULL;
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_text(s, 2, address);
    return collect(store, s, CL_ITEM_CONTACT, error);
}

static GPtrArray *
records_by_number(void *self, gint64 tenant_id, const char *number, GError **error)
{
    ClStore *store = self;
    ClDbStmt *s = cl_db_prepare(
        store->db,
        "SELECT l.id, l.tenant_id, l.number, l.name, l.company_id, co.key, NULL, 0"
        " FROM leads l JOIN companies co ON co.id = l.company_id"
        " WHERE l.tenant_id = ? AND l.number = ?"
        " UNION ALL "
        "SELECT p.id, p.tenant_id, p.key, p.name, p.company_id, co.key, NULL, 1"
        " FROM project_offers o JOIN projects p ON p.id = o.project_id"
        " JOIN companies co ON co.id = p.company_id"
        " WHERE o.tenant_id = ? AND o.number = ?",
        error);
    if (s == NULL)
        return NULL;
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_text(s, 2, number);
    cl_db_bind_int64(s, 3, tenant_id);
    cl_db_bind_text(s, 4, number);
    return collect(store, s, CL_ITEM_LEAD, error);
}

static GPtrArray *
records_by_name_keys(void *self, gint64 tenant_id, gint64 company_id, const char *const *keys,
                     GError **error)
{
    ClStore *store = self;
    /* One statement for all keys; per key an index probe of (tenant_id,
     * name_key[, company_id]) that reads at most ?4 rows, so that a name many
     * companies share ("Website") costs no more than a rare one. */
    ClDbStmt *s = company_id
        ? cl_db_prepare(store->db,
                        "SELECT l.id, l.tenant_id, l.number, l.name, l.company_id, co.key, NULL, 0"
                        " FROM json_each(?2) k JOIN leads l ON l.tenant_id = ?1"
                        " AND l.name_key = k.value AND l.company_id = ?3"
                        " JOIN companies co ON co.id = l.company_id"
                        " UNION ALL "
                        "SELECT p.id, p.tenant_id, p.key, p.name, p.company_id, co.key, NULL, 1"
                        " FROM json_each(?2) k JOIN projects p ON p.tenant_id = ?1"
                        " AND p.name_key = k.value AND p.company_id = ?3"
                        " JOIN companies co ON co.id = p.company_id"
                        " LIMIT ?4 * json_array_length(?2)",
                        error)
        : cl_db_prepare(store->db,
                        "SELECT l.id, l.tenant_id, l.number, l.name, l.company_id, co.key, NULL, 0"
                        " FROM json_each(?2) k JOIN leads l ON l.id IN (SELECT id FROM leads"
                        " WHERE tenant_id = ?1 AND name_key = k.value AND ?3 = 0 LIMIT ?4)"
                        " JOIN companies co ON co.id = l.company_id"
                        " UNION ALL "
                        "SELECT p.id, p.tenant_id, p.key, p.name, p.company_id, co.key, NULL, 1"
                        " FROM json_each(?2) k JOIN projects p ON p.id IN (SELECT id FROM projects"
                        " WHERE tenant_id = ?1 AND name_key = k.value AND ?3 = 0 LIMIT ?4)"
                        " JOIN companies co ON co.id = p.company_id",
                        error);
    if (s == NULL)
        return NULL;
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_strings(s, 2, keys, G_MAXSIZE);
    cl_db_bind_int64(s, 3, company_id);
    cl_db_bind_int64(s, 4, CL_MAX_NAME_CANDIDATES);
    return collect(store, s, CL_ITEM_LEAD, error);
}

static bool
tenant_settings(void *self, gint64 tenant_id, ClTenantSettings *out, GError **error)
{
    ClStore *store = self;
    ClDbStmt *s = cl_db_prepare(
        store->db, "SELECT subject_numbers = 'tolerant', auto_save FROM tenants WHERE id = ?",
        error);
    if (s == NULL)
        return false;
    cl_db_bind_int64(s, 1, tenant_id);
    int rc = cl_db_step(s, error);
    if (rc < 0)
        return false;
    *out = (ClTenantSettings){ 0 };
    if (rc == 1) {
        out->tolerant_numbers = cl_db_column_int64(s, 0) != 0;
        out->auto_save = cl_db_column_int64(s, 1) != 0;
        while (cl_db_step(s, NULL) == 1)
            ;
    }
    return true;
}

static GPtrArray *
companies_by_domain(void *self, gint64 tenant_id, const char *domain, GError **error)
{
    ClStore *store = self;
    ClDbStmt *s = cl_db_prepare(store->db,
                                "SELECT co.id, co.tenant_id, co.key, co.name, co.id, co.key, NULL"
                                " FROM company_domains d JOIN companies co ON co.id = d.company_id"
                                " WHERE d.tenant_id = ? AND d.domain = ? ORDER BY co.id",
                                error);
    if (s == NULL)
        return NULL;
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_text(s, 2, domain);
    return collect(store, s, CL_ITEM_COMPANY, error);
}

static ClItem *
thread_item(ClDbStmt *s, int col, ClItemKind kind, gint64 tenant_id)
{
    if (cl_db_column_is_null(s, col))
        return NULL;
    ClItem *item = cl_item_new(kind, cl_db_column_int64(s, col), tenant_id,
                               cl_db_column_text(s, col + 1));
    item->name = g_strdup(cl_db_column_text(s, col + 2));
    item->company_id = cl_db_column_int64(s, 10);
    item->company_key = g_strdup(cl_db_column_text(s, 11));
    return item;
}

static bool
thread_entry(void *self, gint64 tenant_id, gint64 author_id, const char *const *message_ids,
             ClThreadRef *out, GError **error)
{
    ClStore *store = self;
    *out = (ClThreadRef){ 0 };
    /* One probe of (tenant_id, message_id) per id; the newest entry the author
     * may see wins (cl_entry_visible: their own, or saved in a company, lead or project). */
    ClDbStmt *s = cl_db_prepare(
        store->db,
        "SELECT e.id, e.message_id, e.company_id, co.key, co.name, e.lead_id, l.number, l.name,"
        " e.project_id, p.key, e.company_id, co.key, p.name"
        " FROM json_each(?2) k JOIN entries e ON e.tenant_id = ?1 AND e.message_id = k.value"
        " LEFT JOIN companies co ON co.id = e.company_id"
        " LEFT JOIN leads l ON l.id = e.lead_id LEFT JOIN projects p ON p.id = e.project_id"
        " WHERE e.state != 'discarded' AND (e.author_id = ?3 OR (e.state = 'saved'"
        " AND (e.company_id IS NOT NULL OR e.lead_id IS NOT NULL OR e.project_id IS NOT NULL)))"
        " ORDER BY e.id DESC LIMIT 1",
        error);
    if (s == NULL)
        return false;
    cl_db_bind_int64(s, 1, tenant_id);
    cl_db_bind_strings(s, 2, message_ids, CL_MAX_REFERENCES + 1);
    cl_db_bind_int64(s, 3, author_id);
    int rc = cl_db_step(s, error);
    if (rc < 0)
        return false;
    if (rc == 1) {
        out->entry_id = cl_db_column_int64(s, 0);
        out->message_id = g_strdup(cl_db_column_text(s, 1));
        if (!cl_db_column_is_null(s, 2)) {
            out->company = cl_item_new(CL_ITEM_COMPANY, cl_db_column_int64(s, 2), tenant_id,
                                       cl_db_column_text(s, 3));
            out->company->name = g_strdup(cl_db_column_text(s, 4));
            out->company->company_id = out->company->id;
            out->company->company_key = g_strdup(out->company->key);
        }
        out->lead = thread_item(s, 5, CL_ITEM_LEAD, tenant_id);
        if (!cl_db_column_is_null(s, 8)) {
            out->project = cl_item_new(CL_ITEM_PROJECT, cl_db_column_int64(s, 8), tenant_id,
                                       cl_db_column_text(s, 9));
            out->project->name = g_strdup(cl_db_column_text(s, 12));
            out->project->company_id = cl_db_column_int64(s, 10);
            out->project->company_key = g_strdup(cl_db_column_text(s, 11));
        }
        while (cl_db_step(s, NULL) == 1)
            ;
    }
    return true;
}

static const ClDirectoryOps directory_ops = {
    .tenants_by_domain = tenants_by_domain,
    .users_by_address = users_by_address,
    .contacts_by_address = contacts_by_address,
    .records_by_number = records_by_number,
    .records_by_name_keys = records_by_name_keys,
    .tenant_settings = tenant_settings,
    .companies_by_domain = companies_by_domain,
    .thread_entry = thread_entry,
};

ClDirectory
cl_store_directory(ClStore *store)
{
    return (ClDirectory){ .ops = &directory_ops, .self = store };
}

bool
cl_store_is_drop_address(ClStore *store, const char *folded, GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db, "SELECT 1 FROM drop_addresses WHERE address = ?",
                                error);
    if (s == NULL)
        return false;
    cl_db_bind_text(s, 1, folded);
    return cl_db_one_int64(s, 0, error) == 1;
}
