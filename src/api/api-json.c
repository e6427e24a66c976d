/*
 * api-json.c — the shapes the API answers with: entries, pages of them,
 * references to records, times; and reading references from request bodies.
 * Stage: API.
 */
#include "api-private.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* ---- entries as JSON text ------------------------------------------------------------
 *
 * Entries are the API's hottest answers (a history page holds 50: bench/http).
 * They are written as text into one GString — the reasons as the store keeps
 * them (JSON of the same shape) — instead of building a jansson object for
 * every field after parsing the stored JSON: a page then costs a few
 * allocations instead of thousands. jansson still reads every request body
 * and writes the other answers.
 */

void
api_put_string(GString *out, const char *s)
{
    if (s == NULL) {
        g_string_append(out, "null");
        return;
    }
    g_autofree char *valid = NULL;
    if (!g_utf8_validate(s, -1, NULL))
        s = valid = g_utf8_make_valid(s, -1);
    g_string_append_c(out, '"');
    const char *run = s;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        g_string_append_len(out, run, p - run);
        switch (c) {
        case '"': g_string_append(out, "\\\""); break;
        case '\\': g_string_append(out, "\\\\"); break;
        case '\n': g_string_append(out, "\\n"); break;
        case '\r': g_string_append(out, "\\r"); break;
        case '\t': g_string_append(out, "\\t"); break;
        default: g_string_append_printf(out, "\\u%04x", c); break;
        }
        run = p + 1;
    }
    g_string_append(out, run);
    g_string_append_c(out, '"');
}

static void
put_time(GString *out, gint64 t)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (t == 0 || gmtime_r(&tt, &tm) == NULL) {
        g_string_append(out, "null");
        return;
    }
    g_string_append_printf(out, "\"%04d-%02d-%02dT%02d:%02d:%02dZ\"", tm.tm_year + 1900,
                           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void
put_ref(GString *out, const ClItem *item)
{
    if (item == NULL) {
        g_string_append(out, "null");
        return;
    }
    g_string_append_printf(out, "{\"id\":%" G_GINT64_FORMAT ",\"%s\":", item->id,
                           item->kind == CL_ITEM_LEAD ? "number" : "key");
    api_put_string(out, item->key);
    g_string_append(out, ",\"name\":");
    api_put_string(out, item->name ? item->name : item->key);
    g_string_append_c(out, '}');
}

static void
put_refs(GString *out, GPtrArray *items)
{
    g_string_append_c(out, '[');
    for (guint i = 0; i < items->len; i++) {
        if (i)
            g_string_append_c(out, ',');
        put_ref(out, g_ptr_array_index(items, i));
    }
    g_string_append_c(out, ']');
}

static void
put_json(GString *out, json_t *v)
{
    char *text = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) : NULL;
    g_string_append(out, text ? text : "null");
    free(text);
}

/* Candidates are stored by key (or parsed into e->candidates): the API names them
 * with id and name as well. */
static void
put_candidates(Request *r, GString *out, const ClEntry *e)
{
    g_autoptr(GPtrArray) found = cl_item_array_new();
    if (e->candidates_text != NULL) {
        g_autoptr(json_t) obj = json_loads(e->candidates_text, 0, NULL);
        const char *field;
        json_t *list;
        json_object_foreach(obj, field, list) {
            int kind = cl_item_kind_parse(field);
            size_t i;
            json_t *v;
            json_array_foreach(list, i, v) {
                if (kind >= 0 && json_is_string(v))
                    g_ptr_array_add(found, cl_item_new(kind, 0, e->tenant_id, json_string_value(v)));
            }
        }
    } else {
        for (guint i = 0; i < e->candidates->len; i++)
            g_ptr_array_add(found, cl_item_copy(g_ptr_array_index(e->candidates, i)));
    }
    g_string_append_c(out, '{');
    static const ClItemKind kinds[] = { CL_ITEM_LEAD, CL_ITEM_PROJECT, CL_ITEM_CONTACT,
                                        CL_ITEM_COMPANY };
    bool first_field = true;
    for (gsize k = 0; k < G_N_ELEMENTS(kinds); k++) {
        bool open = false;
        for (guint i = 0; i < found->len; i++) {
            ClItem *c = g_ptr_array_index(found, i);
            if (c->kind != kinds[k])
                continue;
            if (!open) {
                g_string_append_printf(out, "%s\"%s\":[", first_field ? "" : ",",
                                       cl_item_kind_name(kinds[k]));
                first_field = false;
                open = true;
            } else {
                g_string_append_c(out, ',');
            }
            g_autoptr(GError) error = NULL;
            g_autoptr(ClItem) item = cl_store_find(api_store(r), c->kind, e->tenant_id, c->key,
                                                   &error);
            put_ref(out, item ? item : c);
        }
        if (open)
            g_string_append_c(out, ']');
    }
    g_string_append_c(out, '}');
}

static void
put_reasons(GString *out, const ClEntry *e)
{
    if (e->reasons_text != NULL) {
        /* Stored by the store as [{"field", "rule", "detail"}]: the API's shape. */
        g_string_append(out, e->reasons_text);
        return;
    }
    g_string_append_c(out, '[');
    for (guint i = 0; i < e->reasons->len; i++) {
        ClReason *rs = g_ptr_array_index(e->reasons, i);
        g_string_append(out, i ? ",{\"field\":" : "{\"field\":");
        api_put_string(out, rs->field);
        g_string_append(out, ",\"rule\":");
        api_put_string(out, rs->rule);
        g_string_append(out, ",\"detail\":");
        api_put_string(out, rs->detail);
        g_string_append_c(out, '}');
    }
    g_string_append_c(out, ']');
}

void
api_entry_write(Request *r, GString *out, ClEntry *e, bool full)
{
    g_string_append_printf(out, "{\"id\":%" G_GINT64_FORMAT ",\"state\":\"%s\",\"origin\":\"%s\","
                           "\"channel\":\"%s\",\"contact_time\":",
                           e->id, cl_entry_state_name(e->state), e->from_mail ? "mail" : "manual",
                           cl_channel_name(e->channel));
    put_time(out, e->contact_time);
    g_string_append(out, ",\"created\":");
    put_time(out, e->created_at);
    g_string_append(out, ",\"updated\":");
    put_time(out, e->updated_at);
    g_string_append(out, ",\"author\":");
    put_ref(out, e->author);
    g_string_append(out, ",\"company\":");
    put_ref(out, e->company);
    g_string_append(out, ",\"contacts\":");
    put_refs(out, e->contacts);
    g_string_append(out, ",\"lead\":");
    put_ref(out, e->lead);
    g_string_append(out, ",\"project\":");
    put_ref(out, e->project);
    g_string_append(out, ",\"followup\":");
    api_put_string(out, e->followup);
    g_string_append_printf(out, ",\"followup_done\":%s,\"notify\":",
                           e->followup_done ? "true" : "false");
    put_refs(out, e->notify);
    g_string_append(out, ",\"subject\":");
    api_put_string(out, e->subject);
    g_string_append(out, ",\"preview\":");
    api_put_string(out, e->preview);
    if (full) {
        g_autoptr(GError) error = NULL;
        if (!cl_pipeline_entry_text(api_store(r), e, &error))
            g_warning("event=entry-text-failed entry=%" G_GINT64_FORMAT " error=\"%s\"", e->id,
                      error->message);
        g_string_append(out, ",\"text\":");
        api_put_string(out, e->body);
        g_string_append_printf(out, ",\"text_from_html\":%s",
                               e->body_from_html ? "true" : "false");
        if (e->original_text) {
            g_string_append(out, ",\"original_text\":");
            api_put_string(out, e->original_text);
        }
        /* The mail's addresses; not the envelope (the transport's, with the BCC). */
        g_autoptr(json_t) addresses = e->addresses_json ? json_loads(e->addresses_json, 0, NULL)
                                                        : NULL;
        if (addresses != NULL)
            json_object_del(addresses, "envelope");
        g_string_append(out, ",\"addresses\":");
        put_json(out, addresses);
    }
    g_string_append_printf(out, ",\"forwarded\":%s,\"attachments\":[",
                           e->forwarded ? "true" : "false");
    for (guint i = 0; i < e->attachments->len; i++) {
        ClEntryAttachment *a = g_ptr_array_index(e->attachments, i);
        g_string_append_printf(out, "%s{\"id\":%" G_GINT64_FORMAT ",\"name\":", i ? "," : "",
                               a->id);
        api_put_string(out, a->name);
        g_string_append(out, ",\"content_type\":");
        api_put_string(out, a->content_type);
        g_string_append_printf(out, ",\"size\":%" G_GINT64_FORMAT ",\"url\":\"/api/v1/entries/%"
                               G_GINT64_FORMAT "/attachments/%" G_GINT64_FORMAT "\"}",
                               a->size, e->id, a->id);
    }
    g_string_append(out, "],\"original_url\":");
    if (e->raw_hash != NULL)
        g_string_append_printf(out, "\"/api/v1/entries/%" G_GINT64_FORMAT "/original\"", e->id);
    else
        g_string_append(out, "null");
    g_string_append(out, ",\"reasons\":");
    put_reasons(out, e);
    g_string_append(out, ",\"candidates\":");
    put_candidates(r, out, e);
    bool author = r->user && e->author && e->author->id == r->user->id;
    g_string_append_printf(out, ",\"version\":%" G_GINT64_FORMAT ",\"can_edit\":%s}", e->version,
                           author || (r->user && r->user->admin) ? "true" : "false");
}

void
api_page_write(Request *r, GString *out, GPtrArray *entries, guint limit)
{
    g_string_append(out, "\"items\":[");
    for (guint i = 0; i < entries->len; i++) {
        if (i)
            g_string_append_c(out, ',');
        api_entry_write(r, out, g_ptr_array_index(entries, i), false);
    }
    g_string_append(out, "],\"next_cursor\":");
    if (entries->len > 0 && entries->len >= limit) {
        ClEntry *last = g_ptr_array_index(entries, entries->len - 1);
        g_string_append_printf(out, "\"%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT "\"",
                               last->contact_time, last->id);
    } else {
        g_string_append(out, "null");
    }
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
