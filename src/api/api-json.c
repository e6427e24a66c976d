/*
 * api-json.c — the shapes the API answers with: entries, pages of them,
 * references to records, times; and reading references from request bodies.
 * Stage: API.
 */
#include "api-private.h"

#include <string.h>

json_t *
api_time_json(gint64 t)
{
    if (t == 0)
        return json_null();
    g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(t);
    if (dt == NULL)
        return json_null();
    g_autofree char *text = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ");
    return json_string(text);
}

json_t *
api_text_json(const char *text)
{
    return text ? json_string(text) : json_null();
}

json_t *
api_item_json(const ClItem *item)
{
    if (item == NULL)
        return json_null();
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(item->id));
    json_object_set_new(o, item->kind == CL_ITEM_LEAD ? "number" : "key", api_text_json(item->key));
    json_object_set_new(o, "name", api_text_json(item->name ? item->name : item->key));
    return o;
}

json_t *
api_user_json(const ClUser *u)
{
    return json_pack("{s:I, s:s, s:s, s:o, s:s, s:s, s:{s:I, s:s, s:s}}",
                     "id", (json_int_t)u->id, "key", u->key, "name", u->name,
                     "email", api_text_json(u->email), "role", u->admin ? "admin" : "user",
                     "locale", u->locale ? u->locale : "de",
                     "tenant", "id", (json_int_t)u->tenant_id, "key", u->tenant_key,
                     "name", u->tenant_name);
}

static json_t *
items_json(GPtrArray *items)
{
    json_t *arr = json_array();
    for (guint i = 0; i < items->len; i++)
        json_array_append_new(arr, api_item_json(g_ptr_array_index(items, i)));
    return arr;
}

/* Candidates are stored by key: the API names them with id and name as well. */
static json_t *
candidates_json(Request *r, const ClEntry *e)
{
    json_t *o = json_object();
    for (guint i = 0; i < e->candidates->len; i++) {
        ClItem *c = g_ptr_array_index(e->candidates, i);
        const char *field = cl_item_kind_name(c->kind);
        json_t *list = json_object_get(o, field);
        if (list == NULL) {
            list = json_array();
            json_object_set_new(o, field, list);
        }
        g_autoptr(GError) error = NULL;
        g_autoptr(ClItem) found = cl_store_find(api_store(r), c->kind, e->tenant_id, c->key, &error);
        json_array_append_new(list, found ? api_item_json(found) : api_item_json(c));
    }
    return o;
}

json_t *
api_entry_json(Request *r, ClEntry *e, bool full)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(e->id));
    json_object_set_new(o, "state", json_string(cl_entry_state_name(e->state)));
    json_object_set_new(o, "origin", json_string(e->from_mail ? "mail" : "manual"));
    json_object_set_new(o, "channel", json_string(cl_channel_name(e->channel)));
    json_object_set_new(o, "contact_time", api_time_json(e->contact_time));
    json_object_set_new(o, "created", api_time_json(e->created_at));
    json_object_set_new(o, "updated", api_time_json(e->updated_at));
    json_object_set_new(o, "author", api_item_json(e->author));
    json_object_set_new(o, "company", api_item_json(e->company));
    json_object_set_new(o, "contacts", items_json(e->contacts));
    json_object_set_new(o, "lead", api_item_json(e->lead));
    json_object_set_new(o, "project", api_item_json(e->project));
    json_object_set_new(o, "followup", api_text_json(e->followup));
    json_object_set_new(o, "followup_done", json_boolean(e->followup_done));
    json_object_set_new(o, "notify", items_json(e->notify));
    json_object_set_new(o, "subject", api_text_json(e->subject));
    json_object_set_new(o, "preview", api_text_json(e->preview));
    if (full) {
        g_autoptr(GError) error = NULL;
        if (!cl_pipeline_entry_text(api_store(r), e, &error))
            g_warning("event=entry-text-failed entry=%" G_GINT64_FORMAT " error=\"%s\"", e->id,
                      error->message);
        json_object_set_new(o, "text", api_text_json(e->body));
        json_object_set_new(o, "text_from_html", json_boolean(e->body_from_html));
        if (e->original_text)
            json_object_set_new(o, "original_text", json_string(e->original_text));
    }
    json_object_set_new(o, "forwarded", json_boolean(e->forwarded));
    json_t *atts = json_array();
    for (guint i = 0; i < e->attachments->len; i++) {
        ClEntryAttachment *a = g_ptr_array_index(e->attachments, i);
        g_autofree char *url = g_strdup_printf("/api/v1/entries/%" G_GINT64_FORMAT
                                               "/attachments/%" G_GINT64_FORMAT, e->id, a->id);
        json_array_append_new(atts, json_pack("{s:I, s:s, s:s, s:I, s:s}", "id",
                                              (json_int_t)a->id, "name", a->name, "content_type",
                                              a->content_type, "size", (json_int_t)a->size,
                                              "url", url));
    }
    json_object_set_new(o, "attachments", atts);
    if (e->raw_hash != NULL) {
        g_autofree char *url = g_strdup_printf("/api/v1/entries/%" G_GINT64_FORMAT "/original",
                                               e->id);
        json_object_set_new(o, "original_url", json_string(url));
    } else {
        json_object_set_new(o, "original_url", json_null());
    }
    json_t *addresses = e->addresses_json ? json_loads(e->addresses_json, 0, NULL) : NULL;
    if (addresses != NULL)
        json_object_del(addresses, "envelope"); /* the transport's, not the mail's */
    json_object_set_new(o, "addresses", addresses ? addresses : json_null());
    json_t *reasons = json_array();
    for (guint i = 0; i < e->reasons->len; i++) {
        ClReason *rs = g_ptr_array_index(e->reasons, i);
        json_array_append_new(reasons, json_pack("{s:s, s:s, s:o}", "field", rs->field, "rule",
                                                 rs->rule, "detail", api_text_json(rs->detail)));
    }
    json_object_set_new(o, "reasons", reasons);
    json_object_set_new(o, "candidates", candidates_json(r, e));
    json_object_set_new(o, "version", json_integer(e->version));
    bool author = r->user && e->author && e->author->id == r->user->id;
    json_object_set_new(o, "can_edit", json_boolean(author || (r->user && r->user->admin)));
    return o;
}

json_t *
api_page_json(Request *r, GPtrArray *entries, guint limit)
{
    json_t *items = json_array();
    for (guint i = 0; i < entries->len; i++)
        json_array_append_new(items, api_entry_json(r, g_ptr_array_index(entries, i), false));
    json_t *next = json_null();
    if (entries->len > 0 && entries->len >= limit) {
        ClEntry *last = g_ptr_array_index(entries, entries->len - 1);
        g_autofree char *cursor = g_strdup_printf("%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT,
                                                  last->contact_time, last->id);
        json_decref(next);
        next = json_string(cursor);
    }
    return json_pack("{s:o, s:o}", "items", items, "next_cursor", next);
}

gint64
api_record_id(Request *r, ClItemKind kind, json_t *value, const char *field)
{
    if (value == NULL || json_is_null(value))
        return 0;
    g_autoptr(GError) error = NULL;
    g_autoptr(ClItem) item = NULL;
    if (json_is_integer(value))
        item = cl_store_item_get(api_store(r), kind, r->user->tenant_id, json_integer_value(value),
                                 &error);
    else if (json_is_object(value) && json_is_integer(json_object_get(value, "id")))
        item = cl_store_item_get(api_store(r), kind, r->user->tenant_id,
                                 json_integer_value(json_object_get(value, "id")), &error);
    else if (json_is_string(value))
        item = cl_store_find(api_store(r), kind, r->user->tenant_id, json_string_value(value),
                             &error);
    else {
        api_reply_problem(r, 422, "invalid", "\"%s\" must be the id (or key) of a %s", field,
                          cl_item_kind_name(kind));
        return -1;
    }
    if (item == NULL) {
        if (g_error_matches(error, CL_ERROR, CL_ERROR_NOT_FOUND))
            api_reply_problem(r, 422, "invalid", "\"%s\": %s", field, error->message);
        else
            api_reply_error(r, error);
        return -1;
    }
    return item->id;
}

GPtrArray *
api_record_ids(Request *r, ClItemKind kind, json_t *list, const char *field)
{
    if (!json_is_array(list)) {
        api_reply_problem(r, 422, "invalid", "\"%s\" must be a list", field);
        return NULL;
    }
    if (json_array_size(list) > 100) {
        api_reply_problem(r, 422, "invalid", "\"%s\" names more than 100 records", field);
        return NULL;
    }
    g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        g_autofree char *name = g_strdup_printf("%s[%zu]", field, i);
        gint64 id = api_record_id(r, kind, v, name);
        if (id <= 0) {
            if (id == 0)
                api_reply_problem(r, 422, "invalid", "\"%s\" must not be null", name);
            return NULL;
        }
        bool dup = false;
        for (guint k = 0; k < ids->len && !dup; k++)
            dup = *(gint64 *)ids->pdata[k] == id;
        if (!dup)
            g_ptr_array_add(ids, g_memdup2(&id, sizeof id));
    }
    return g_steal_pointer(&ids);
}
