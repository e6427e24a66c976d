/*
 * api-json.c — the shapes the API answers with: entries, pages of them,
 * references to records, times; and reading references from request bodies.
 * Stage: API.
 */
#include "api-private.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static void put_time(GString *out, gint64 t);

json_t *
api_time_json(gint64 t)
{
    if (t == 0)
        return json_null();
    /* The same text as in entries (put_time): years of four digits. */
    g_autoptr(GString) text = g_string_new(NULL);
    put_time(text, t);
    return json_stringn(text->str + 1, text->len - 2);
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
put_int(GString *out, gint64 v)
{
    char buf[24];
    char *p = buf + sizeof buf;
    guint64 u = v < 0 ? (guint64)0 - (guint64)v : (guint64)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (v < 0)
        *--p = '-';
    g_string_append_len(out, p, buf + sizeof buf - p);
}

static void
put_2(GString *out, int v)
{
    g_string_append_c(out, (char)('0' + v / 10));
    g_string_append_c(out, (char)('0' + v % 10));
}

/* ISO 8601 in UTC ("2026-12-04T10:30:00Z"), or null for 0; the civil date from
 * days since 1970 (H. Hinnant's algorithm), no time zone code on the way. */
static void
put_time(GString *out, gint64 t)
{
    if (t == 0) {
        g_string_append(out, "null");
        return;
    }
    gint64 days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    gint64 secs = t - days * 86400;
    gint64 z = days + 719468;
    gint64 era = (z >= 0 ? z : z - 146096) / 146097;
    gint64 doe = z - era * 146097;
    gint64 yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    gint64 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    gint64 mp = (5 * doy + 2) / 153;
    int day = (int)(doy - (153 * mp + 2) / 5 + 1);
    int month = (int)(mp < 10 ? mp + 3 : mp - 9);
    gint64 year = yoe + era * 400 + (month <= 2);
    g_string_append_c(out, '"');
    /* ISO 8601 and RFC 3339 want four digits: "0001-01-01", not "1-01-01". */
    if (year < 0)
        g_string_append_c(out, '-');
    gint64 abs_year = year < 0 ? -year : year;
    for (gint64 p = 1000; p > 1 && abs_year < p; p /= 10)
        g_string_append_c(out, '0');
    put_int(out, abs_year);
    g_string_append_c(out, '-');
    put_2(out, month);
    g_string_append_c(out, '-');
    put_2(out, day);
    g_string_append_c(out, 'T');
    put_2(out, (int)(secs / 3600));
    g_string_append_c(out, ':');
    put_2(out, (int)(secs / 60 % 60));
    g_string_append_c(out, ':');
    put_2(out, (int)(secs % 60));
    g_string_append(out, "Z\"");
}

/* {"id", "key" (leads: "number"), "name"} or null. */
static void
put_ref(GString *out, gint64 id, const char *key_name, const char *key, const char *name)
{
    if (id <= 0) {
        g_string_append(out, "null");
        return;
    }
    g_string_append(out, "{\"id\":");
    put_int(out, id);
    g_string_append(out, ",\"");
    g_string_append(out, key_name);
    g_string_append(out, "\":");
    api_put_string(out, key);
    g_string_append(out, ",\"name\":");
    api_put_string(out, name ? name : key);
    g_string_append_c(out, '}');
}

static void
put_item(GString *out, const ClItem *item)
{
    if (item == NULL)
        g_string_append(out, "null");
    else
        put_ref(out, item->id, item->kind == CL_ITEM_LEAD ? "number" : "key", item->key,
                item->name);
}

static void
put_json(GString *out, json_t *v)
{
    char *text = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) : NULL;
    g_string_append(out, text ? text : "null");
    free(text);
}

/* Candidates are stored by key: the API names them with id and name as well. */
static void
put_candidates(Request *r, GString *out, gint64 tenant_id, const char *stored)
{
    if (stored == NULL) {
        g_string_append(out, "{}");
        return;
    }
    g_autoptr(json_t) obj = json_loads(stored, 0, NULL);
    g_string_append_c(out, '{');
    bool first_field = true;
    const char *field;
    json_t *list;
    json_object_foreach(obj, field, list) {
        int kind = cl_item_kind_parse(field);
        if (kind < 0 || !json_is_array(list))
            continue;
        g_string_append(out, first_field ? "\"" : ",\"");
        g_string_append(out, field);
        g_string_append(out, "\":[");
        first_field = false;
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) {
            if (i)
                g_string_append_c(out, ',');
            g_autoptr(GError) error = NULL;
            g_autoptr(ClItem) item = cl_store_find(api_store(r), kind, tenant_id,
                                                   json_string_value(v), &error);
            if (item == NULL) {
                put_ref(out, 0, "key", NULL, NULL);
                continue;
            }
            put_item(out, item);
            /* With the record's company (so that choosing it can set both, and
             * records of one name can be told apart) and a project's number. */
            g_autoptr(json_t) record = kind == CL_ITEM_COMPANY
                                           ? NULL
                                           : cl_store_record_json(api_store(r), kind, tenant_id,
                                                                  item->id, NULL);
            json_t *company = json_object_get(record, "company");
            if (company != NULL || kind == CL_ITEM_PROJECT) {
                g_string_truncate(out, out->len - 1);
                if (kind == CL_ITEM_PROJECT) {
                    g_string_append(out, ",\"number\":");
                    api_put_string(out, json_string_value(json_object_get(record, "number")));
                }
                if (company != NULL) {
                    g_string_append(out, ",\"company\":");
                    put_json(out, company);
                }
                g_string_append_c(out, '}');
            }
        }
        g_string_append_c(out, ']');
    }
    g_string_append_c(out, '}');
}

void
api_row_write(Request *r, GString *out, const ClEntryRow *e, ClEntry *full)
{
    g_string_append(out, "{\"id\":");
    put_int(out, e->id);
    g_string_append(out, ",\"state\":");
    api_put_string(out, e->state);
    g_string_append(out, e->from_mail ? ",\"origin\":\"mail\",\"channel\":"
                                      : ",\"origin\":\"manual\",\"channel\":");
    api_put_string(out, e->channel);
    g_string_append(out, ",\"contact_time\":");
    put_time(out, e->contact_time);
    g_string_append(out, ",\"created\":");
    put_time(out, e->created_at);
    g_string_append(out, ",\"updated\":");
    put_time(out, e->updated_at);
    g_string_append(out, ",\"author\":");
    put_ref(out, e->author_id, "key", e->author_key, e->author_name);
    g_string_append(out, ",\"company\":");
    put_ref(out, e->company_id, "key", e->company_key, e->company_name);
    g_string_append(out, ",\"contacts\":");
    g_string_append(out, e->contacts);
    g_string_append(out, ",\"lead\":");
    put_ref(out, e->lead_id, "number", e->lead_number, e->lead_name);
    g_string_append(out, ",\"project\":");
    if (e->project_id > 0) {
        /* Projects are known by their key and, to people, by their number too. */
        g_string_append(out, "{\"id\":");
        put_int(out, e->project_id);
        g_string_append(out, ",\"key\":");
        api_put_string(out, e->project_key);
        g_string_append(out, ",\"number\":");
        api_put_string(out, e->project_number);
        g_string_append(out, ",\"name\":");
        api_put_string(out, e->project_name);
        g_string_append_c(out, '}');
    } else {
        g_string_append(out, "null");
    }
    g_string_append(out, ",\"followup\":");
    api_put_string(out, e->followup);
    g_string_append(out, e->followup_done ? ",\"followup_done\":true,\"notify\":"
                                          : ",\"followup_done\":false,\"notify\":");
    g_string_append(out, e->notify);
    g_string_append(out, ",\"subject\":");
    api_put_string(out, e->subject);
    g_string_append(out, ",\"preview\":");
    api_put_string(out, e->preview);
    if (full != NULL) {
        g_autoptr(GError) error = NULL;
        if (!cl_pipeline_entry_text(api_store(r), full, &error))
            g_warning("event=entry-text-failed entry=%" G_GINT64_FORMAT " error=\"%s\"", full->id,
                      error->message);
        g_string_append(out, ",\"text\":");
        api_put_string(out, full->body);
        g_string_append(out, full->body_from_html ? ",\"text_from_html\":true"
                                                  : ",\"text_from_html\":false");
        if (full->original_text) {
            g_string_append(out, ",\"original_text\":");
            api_put_string(out, full->original_text);
        }
        /* The mail's addresses; not the envelope (the transport's, with the BCC). */
        g_autoptr(json_t) addresses =
            full->addresses_json ? json_loads(full->addresses_json, 0, NULL) : NULL;
        if (addresses != NULL)
            json_object_del(addresses, "envelope");
        g_string_append(out, ",\"addresses\":");
        put_json(out, addresses);
    } else if (e->addresses != NULL) {
        /* Pending mail in a list: the review shows From and To. */
        g_string_append(out, ",\"addresses\":");
        g_string_append(out, e->addresses);
    }
    g_string_append(out, e->forwarded ? ",\"forwarded\":true,\"attachments\":"
                                      : ",\"forwarded\":false,\"attachments\":");
    g_string_append(out, e->attachments);
    g_string_append(out, ",\"original_url\":");
    if (e->has_original) {
        g_string_append(out, "\"/api/v1/entries/");
        put_int(out, e->id);
        g_string_append(out, "/original\"");
    } else {
        g_string_append(out, "null");
    }
    /* Stored by the store as [{"field", "rule", "detail"}]: the API's shape. */
    g_string_append(out, ",\"reasons\":");
    g_string_append(out, e->reasons ? e->reasons : "[]");
    g_string_append(out, ",\"candidates\":");
    put_candidates(r, out, e->tenant_id, e->candidates);
    g_string_append(out, ",\"version\":");
    put_int(out, e->version);
    bool may = r->user && (e->author_id == r->user->id || r->user->admin);
    g_string_append(out, may ? ",\"can_edit\":true}" : ",\"can_edit\":false}");
}

typedef struct {
    Request *r;
    GString *out;
    guint count;
    gint64 last_time, last_id;
} PageWriter;

static void
page_row(const ClEntryRow *row, void *data)
{
    PageWriter *w = data;
    if (w->count++)
        g_string_append_c(w->out, ',');
    api_row_write(w->r, w->out, row, NULL);
    w->last_time = row->contact_time;
    w->last_id = row->id;
}

bool
api_page_write(Request *r, GString *out, const ClEntryQuery *q, GError **error)
{
    PageWriter w = { .r = r, .out = out };
    bool more = false;
    g_string_append(out, "\"items\":[");
    if (!cl_store_entry_rows(api_store(r), q, page_row, &w, &more, error))
        return false;
    if (q->followups) { /* by date, all of them: no cursor */
        g_string_append_c(out, ']');
        return true;
    }
    g_string_append(out, "],\"next_cursor\":");
    if (more && w.count > 0) {
        g_string_append_c(out, '"');
        put_int(out, w.last_time);
        g_string_append_c(out, '.');
        put_int(out, w.last_id);
        g_string_append_c(out, '"');
    } else {
        g_string_append(out, "null");
    }
    return true;
}

typedef struct {
    Request *r;
    GString *out;
    ClEntry *full;
    bool found;
} OneWriter;

static void
one_row(const ClEntryRow *row, void *data)
{
    OneWriter *w = data;
    w->found = true;
    api_row_write(w->r, w->out, row, w->full);
}

bool
api_entry_write(Request *r, GString *out, ClEntry *entry, bool full, GError **error)
{
    ClEntryQuery q = { .tenant_id = entry->tenant_id, .entry_id = entry->id };
    OneWriter w = { .r = r, .out = out, .full = full ? entry : NULL };
    if (!cl_store_entry_rows(api_store(r), &q, one_row, &w, NULL, error))
        return false;
    if (!w.found) {
        g_set_error(error, CL_ERROR, CL_ERROR_NOT_FOUND, "no entry %" G_GINT64_FORMAT, entry->id);
        return false;
    }
    return true;
}

gint64
api_record_id(Request *r, ClItemKind kind, json_t *value, const char *field)
{
    if (value == NULL || json_is_null(value))
        return 0;
    if (json_is_string(value) &&
        memchr(json_string_value(value), '\0', json_string_length(value)) != NULL) {
        /* The store would find the record named by the part before the NUL. */
        api_reply_problem(r, 422, "invalid", "\"%s\" must not contain NUL characters", field);
        return -1;
    }
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
