/*
 * api-records.c — the tenant's records (companies, contact persons, leads,
 * projects: list, search, read, create, change) and the admin's resources
 * (the tenant's name, domains and settings; users and their addresses;
 * rejected mail). Stage: API. Every query names the tenant of the user who
 * asks; another tenant's id is 404.
 */
#include "api-private.h"

#include <string.h>

/* ?company= as a body's "company" is: the id or the key of one of the tenant's
 * companies (404 when there is none); 0 without, -1 when answered. */
static gint64
query_company(Request *r)
{
    const char *text = api_query(r, "company");
    gint64 id = 0;
    if (text == NULL || *text == '\0' || strcmp(text, "0") == 0)
        return 0;
    g_autoptr(GError) error = NULL;
    g_autoptr(ClItem) c =
        g_ascii_string_to_signed(text, 10, 1, G_MAXINT64, &id, NULL)
            ? cl_store_item_get(api_store(r), CL_ITEM_COMPANY, r->user->tenant_id, id, &error)
            : cl_store_find(api_store(r), CL_ITEM_COMPANY, r->user->tenant_id, text, &error);
    if (c == NULL) {
        api_reply_error(r, error);
        return -1;
    }
    return c->id;
}

static void
list(Request *r, ClItemKind kind)
{
    gint64 limit, offset, company;
    if (!api_query_int(r, "limit", 50, 1, API_MAX_PAGE, &limit) ||
        !api_query_int(r, "offset", 0, 0, G_MAXINT32, &offset) ||
        (company = query_company(r)) < 0)
        return;
    const char *q = api_query(r, "q");
    if (q != NULL && strlen(q) > 200) {
        api_reply_problem(r, 400, "bad-request", "?q= is at most 200 bytes");
        return;
    }
    ClRecordQuery query = { .tenant_id = r->user->tenant_id, .query = q,
                            .company_id = company, .offset = (guint)offset,
                            .limit = (guint)limit };
    g_autoptr(GError) error = NULL;
    json_t *out = cl_store_records_json(api_store(r), kind, &query, &error);
    if (out == NULL) {
        api_reply_error(r, error);
        return;
    }
    api_reply_json(r, 200, out);
}

static void
get(Request *r, ClItemKind kind)
{
    g_autoptr(GError) error = NULL;
    json_t *o = cl_store_record_json(api_store(r), kind, r->user->tenant_id, r->ids[0], &error);
    if (o == NULL) {
        api_reply_error(r, error);
        return;
    }
    api_reply_json(r, 200, o);
}

static void
save(Request *r, ClItemKind kind, gint64 id)
{
    g_autoptr(json_t) body = api_body_json(r, true);
    if (body == NULL)
        return;
    ClStore *store = api_store(r);
    g_autoptr(GError) error = NULL;
    gint64 saved = -1;
    bool ok = cl_store_begin(store, &error) &&
              (saved = cl_store_record_save(store, kind, r->user->tenant_id, id, body, &error)) > 0;
    if (!api_commit(r, ok, &error))
        return;
    json_t *o = cl_store_record_json(store, kind, r->user->tenant_id, saved, &error);
    if (o == NULL) {
        api_reply_error(r, error);
        return;
    }
    api_reply_json(r, id ? 200 : 201, o);
}

void api_companies_list(Request *r) { list(r, CL_ITEM_COMPANY); }
void api_company_get(Request *r) { get(r, CL_ITEM_COMPANY); }
void api_company_create(Request *r) { save(r, CL_ITEM_COMPANY, 0); }
void api_company_update(Request *r) { save(r, CL_ITEM_COMPANY, r->ids[0]); }
void api_contacts_list(Request *r) { list(r, CL_ITEM_CONTACT); }
void api_contact_get(Request *r) { get(r, CL_ITEM_CONTACT); }
void api_contact_create(Request *r) { save(r, CL_ITEM_CONTACT, 0); }
void api_contact_update(Request *r) { save(r, CL_ITEM_CONTACT, r->ids[0]); }
void api_leads_list(Request *r) { list(r, CL_ITEM_LEAD); }
void api_lead_get(Request *r) { get(r, CL_ITEM_LEAD); }
void api_lead_create(Request *r) { save(r, CL_ITEM_LEAD, 0); }
void api_lead_update(Request *r) { save(r, CL_ITEM_LEAD, r->ids[0]); }
void api_projects_list(Request *r) { list(r, CL_ITEM_PROJECT); }
void api_project_get(Request *r) { get(r, CL_ITEM_PROJECT); }
void api_project_create(Request *r) { save(r, CL_ITEM_PROJECT, 0); }
void api_project_update(Request *r) { save(r, CL_ITEM_PROJECT, r->ids[0]); }

/* ---- admin ------------------------------------------------------------------------------------- */

void
api_admin_tenant(Request *r)
{
    g_autoptr(GError) error = NULL;
    json_t *o = cl_store_tenant_json(api_store(r), r->user->tenant_id, &error);
    if (o == NULL) {
        api_reply_error(r, error);
        return;
    }
    api_reply_json(r, 200, o);
}

void
api_admin_tenant_update(Request *r)
{
    g_autoptr(json_t) body = api_body_json(r, true);
    if (body == NULL)
        return;
    ClStore *store = api_store(r);
    g_autoptr(GError) error = NULL;
    bool ok = cl_store_begin(store, &error) &&
              cl_store_tenant_save(store, r->user->tenant_id, body, &error);
    if (api_commit(r, ok, &error))
        api_admin_tenant(r);
}

void api_admin_users_list(Request *r) { list(r, CL_ITEM_USER); }
void api_admin_user_get(Request *r) { get(r, CL_ITEM_USER); }
void api_admin_user_create(Request *r) { save(r, CL_ITEM_USER, 0); }
void api_admin_user_update(Request *r) { save(r, CL_ITEM_USER, r->ids[0]); }

void
api_admin_rejections(Request *r)
{
    gint64 limit;
    if (!api_query_int(r, "limit", 100, 1, 1000, &limit))
        return;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) rows = cl_store_rejections_list(api_store(r), r->user->tenant_id,
                                                         (guint)limit, &error);
    if (rows == NULL) {
        api_reply_error(r, error);
        return;
    }
    json_t *items = json_array();
    for (guint i = 0; i < rows->len; i++) {
        json_t *row = json_loads(rows->pdata[i], 0, NULL);
        if (row != NULL) {
            json_object_del(row, "raw_hash");
            json_array_append_new(items, row);
        }
    }
    api_reply_json(r, 200, json_pack("{s:o}", "items", items));
}
