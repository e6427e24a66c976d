/*
 * api.c — the HTTP server (libmicrohttpd, a pool of threads, epoll), the
 * route table, authentication, request bodies, and the helpers that answer.
 * Stage: API (an edge). Handlers live in api-auth.c, api-entries.c,
 * api-records.c, api-web.c.
 *
 * A request goes through: the first callback finds the route, who asks
 * (session cookie or API token) and whether the body is acceptable — and
 * answers 401/403/404/405/413/415 before reading a byte of it; the body is
 * read with limits (JSON in memory, files of forms and large mail spooled to
 * tmp/); the last callback runs the handler, which always queues an answer.
 * Each thread has a store of its own; one callback holds it at a time.
 */
#include "api-private.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "contactlog-resources.h"

#define THROTTLE_ACCOUNT_FREE 5   /* failed logins of an account before it waits */
#define THROTTLE_CLIENT_FREE 20   /* failed logins from one address before it waits */
#define THROTTLE_FORGET (15 * 60) /* seconds after which failures are forgotten */
#define THROTTLE_MAX_WAIT 3600
#define THROTTLE_MAX_KEYS 100000
#define DRAIN_MAX (16 * 1024 * 1024) /* bodies read and dropped after an early answer */

typedef struct {
    guint failures;
    gint64 last;   /* time of the last failure */
    gint64 until;  /* no attempt before */
} Throttle;

struct ClApi {
    ClConfig *config;
    GPtrArray *daemons;   /* struct MHD_Daemon * */
    GPtrArray *listeners; /* "http HOST:PORT" */
    GAsyncQueue *stores;  /* ClStore *, one per thread */
    GPtrArray *all_stores;
    gint in_flight;       /* requests between their first callback and completion */
    GMutex throttle_lock;
    GHashTable *throttle; /* "a:" + account key / "c:CLIENT" → Throttle */
    char *dummy_hash;
    GBytes *openapi;
    char *web_root;
    ApiCache *cache;      /* NULL: http.page_cache off */
};

static const ApiRoute routes[] = {
    { "GET", "/healthz", AUTH_NONE, api_health },
    { "GET", "/metrics", AUTH_NONE, api_metrics },
    { "GET", "/api/v1/openapi.json", AUTH_NONE, api_openapi_json },

    { "GET", "/api/v1/session", AUTH_NONE, api_session_get },
    { "POST", "/api/v1/session", AUTH_NONE | BODY_JSON, api_session_create },
    { "DELETE", "/api/v1/session", AUTH_USER, api_session_delete },
    { "GET", "/api/v1/me", AUTH_USER, api_me },
    { "PATCH", "/api/v1/me", AUTH_USER | BODY_JSON, api_me_update },
    { "PUT", "/api/v1/me/password", AUTH_USER | BODY_JSON, api_me_password },
    { "GET", "/api/v1/me/inbox", AUTH_USER, api_inbox },
    { "GET", "/api/v1/me/followups", AUTH_USER, api_followups },
    { "GET", "/api/v1/me/notifications", AUTH_USER, api_notifications_list },
    { "POST", "/api/v1/me/notifications/read", AUTH_USER, api_notifications_read_all },
    { "POST", "/api/v1/me/notifications/{id}/read", AUTH_USER, api_notification_read },
    { "GET", "/api/v1/me/tokens", AUTH_USER, api_tokens_list },
    { "POST", "/api/v1/me/tokens", AUTH_USER | BODY_JSON, api_tokens_create },
    { "DELETE", "/api/v1/me/tokens/{id}", AUTH_USER, api_tokens_delete },
    { "GET", "/api/v1/users", AUTH_USER, api_users_list },

    { "GET", "/api/v1/search", AUTH_USER, api_search },
    { "POST", "/api/v1/entries", AUTH_USER | BODY_FORM, api_entry_create },
    { "GET", "/api/v1/entries/{id}", AUTH_USER, api_entry_get },
    { "PATCH", "/api/v1/entries/{id}", AUTH_USER | BODY_JSON, api_entry_update },
    { "DELETE", "/api/v1/entries/{id}", AUTH_USER, api_entry_delete },
    { "POST", "/api/v1/entries/{id}/confirm", AUTH_USER | BODY_JSON, api_entry_confirm },
    { "POST", "/api/v1/entries/{id}/discard", AUTH_USER | BODY_JSON, api_entry_discard },
    { "POST", "/api/v1/entries/{id}/attachments", AUTH_USER | BODY_FORM, api_attachment_add },
    { "GET", "/api/v1/entries/{id}/attachments/{id}", AUTH_USER, api_attachment_get },
    { "DELETE", "/api/v1/entries/{id}/attachments/{id}", AUTH_USER, api_attachment_delete },
    { "GET", "/api/v1/entries/{id}/original", AUTH_USER, api_original_get },
    { "POST", "/api/v1/messages", AUTH_USER | BODY_RAW, api_message_upload },

    { "GET", "/api/v1/companies", AUTH_USER, api_companies_list },
    { "POST", "/api/v1/companies", AUTH_USER | BODY_JSON, api_company_create },
    { "GET", "/api/v1/companies/{id}", AUTH_USER, api_company_get },
    { "PATCH", "/api/v1/companies/{id}", AUTH_USER | BODY_JSON, api_company_update },
    { "GET", "/api/v1/companies/{id}/history", AUTH_USER, api_history_company },
    { "GET", "/api/v1/contacts", AUTH_USER, api_contacts_list },
    { "POST", "/api/v1/contacts", AUTH_USER | BODY_JSON, api_contact_create },
    { "GET", "/api/v1/contacts/{id}", AUTH_USER, api_contact_get },
    { "PATCH", "/api/v1/contacts/{id}", AUTH_USER | BODY_JSON, api_contact_update },
    { "GET", "/api/v1/leads", AUTH_USER, api_leads_list },
    { "POST", "/api/v1/leads", AUTH_USER | BODY_JSON, api_lead_create },
    { "GET", "/api/v1/leads/{id}", AUTH_USER, api_lead_get },
    { "PATCH", "/api/v1/leads/{id}", AUTH_USER | BODY_JSON, api_lead_update },
    { "GET", "/api/v1/leads/{id}/history", AUTH_USER, api_history_lead },
    { "GET", "/api/v1/projects", AUTH_USER, api_projects_list },
    { "POST", "/api/v1/projects", AUTH_USER | BODY_JSON, api_project_create },
    { "GET", "/api/v1/projects/{id}", AUTH_USER, api_project_get },
    { "PATCH", "/api/v1/projects/{id}", AUTH_USER | BODY_JSON, api_project_update },
    { "GET", "/api/v1/projects/{id}/history", AUTH_USER, api_history_project },

    { "GET", "/api/v1/admin/tenant", AUTH_ADMIN, api_admin_tenant },
    { "PATCH", "/api/v1/admin/tenant", AUTH_ADMIN | BODY_JSON, api_admin_tenant_update },
    { "GET", "/api/v1/admin/users", AUTH_ADMIN, api_admin_users_list },
    { "POST", "/api/v1/admin/users", AUTH_ADMIN | BODY_JSON, api_admin_user_create },
    { "GET", "/api/v1/admin/users/{id}", AUTH_ADMIN, api_admin_user_get },
    { "PATCH", "/api/v1/admin/users/{id}", AUTH_ADMIN | BODY_JSON, api_admin_user_update },
    { "GET", "/api/v1/admin/rejections", AUTH_ADMIN, api_admin_rejections },
};

/* The web UI: every other GET outside /api/. */
static const ApiRoute web_route = { "GET", "/", AUTH_NONE, api_web_file };

/* ---- answering ----------------------------------------------------------------------- */

/* CL_ERROR codes at this edge (STYLE §3: one table). */
static const struct {
    ClErrorCode code;
    unsigned status;
    const char *name;
} edge_map[] = {
    { CL_ERROR_TEMPFAIL, 503, "tempfail" },
    { CL_ERROR_INVALID, 422, "invalid" },
    { CL_ERROR_TOO_LARGE, 413, "too-large" },
    { CL_ERROR_NOT_FOUND, 404, "not-found" },
    { CL_ERROR_CONFLICT, 409, "conflict" },
    { CL_ERROR_FORBIDDEN, 403, "forbidden" },
    { CL_ERROR_CONFIG, 500, "internal" },
    { CL_ERROR_INTERNAL, 500, "internal" },
};

const ClConfig *
api_config(Request *r)
{
    return r->api->config;
}

ClStore *
api_store(Request *r)
{
    return r->store;
}

void
api_reply_response(Request *r, unsigned status, struct MHD_Response *response)
{
    if (r->answered) {
        MHD_destroy_response(response);
        return;
    }
    r->answered = true;
    r->status = status;
    /* Nothing of the API is cached or framed, and no type is guessed. */
    MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(response, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(response, "X-Frame-Options", "DENY");
    if (MHD_get_response_header(response, "Cache-Control") == NULL)
        MHD_add_response_header(response, "Cache-Control", "no-store");
    if (MHD_get_response_header(response, "Content-Security-Policy") == NULL)
        MHD_add_response_header(response, "Content-Security-Policy",
                                "default-src 'none'; frame-ancestors 'none'");
    if (r->set_cookie != NULL)
        MHD_add_response_header(response, MHD_HTTP_HEADER_SET_COOKIE, r->set_cookie);
    if (r->retry_after > 0 || status == 503) {
        char text[32];
        g_snprintf(text, sizeof text, "%" G_GINT64_FORMAT, r->retry_after > 0 ? r->retry_after : 5);
        MHD_add_response_header(response, MHD_HTTP_HEADER_RETRY_AFTER, text);
    }
    if (r->defer) {
        /* Answered before the body was read: the body is read and dropped
         * first, so that a client that sends it all before reading (most do)
         * gets the answer instead of a broken connection. */
        r->deferred = response;
        return;
    }
    if (MHD_queue_response(r->conn, status, response) != MHD_YES)
        g_debug("event=queue-failed path=%s", r->path);
    MHD_destroy_response(response);
}

/* ---- compression ---------------------------------------------------------------------------- */

bool
api_wants_gzip(Request *r)
{
    /* Accept-Encoding: gzip (or x-gzip, or *), unless with q=0. Read in
     * place: asked by every request for a page. */
    const char *p = api_header(r, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    if (p == NULL)
        return false;
    for (guint n = 0; *p != '\0' && n < 32; n++) {
        const char *end = strchr(p, ',');
        if (end == NULL)
            end = p + strlen(p);
        const char *params = memchr(p, ';', end - p);
        const char *name_end = params ? params : end;
        while (p < name_end && g_ascii_isspace(*p))
            p++;
        while (name_end > p && g_ascii_isspace(name_end[-1]))
            name_end--;
        gsize len = name_end - p;
        bool match = (len == 4 && g_ascii_strncasecmp(p, "gzip", 4) == 0) ||
                     (len == 6 && g_ascii_strncasecmp(p, "x-gzip", 6) == 0) ||
                     (len == 1 && *p == '*');
        if (match) {
            if (params == NULL)
                return true;
            g_autofree char *text = g_strndup(params, end - params);
            const char *q = strstr(text, "q=");
            return q == NULL || g_ascii_strtod(q + 2, NULL) > 0;
        }
        p = *end ? end + 1 : end;
    }
    return false;
}

GBytes *
api_gzip(const void *data, gsize len, int level)
{
    g_autoptr(GZlibCompressor) z = g_zlib_compressor_new(G_ZLIB_COMPRESSOR_FORMAT_GZIP, level);
    gsize size = len / 3 + 256, done = 0, read = 0;
    guint8 *out = g_malloc(size);
    for (;;) {
        gsize n_read = 0, n_written = 0;
        g_autoptr(GError) error = NULL;
        GConverterResult rc = g_converter_convert(G_CONVERTER(z), (const guint8 *)data + read,
                                                  len - read, out + done, size - done,
                                                  G_CONVERTER_INPUT_AT_END, &n_read, &n_written,
                                                  &error);
        read += n_read;
        done += n_written;
        if (rc == G_CONVERTER_FINISHED)
            break;
        if (rc == G_CONVERTER_ERROR && !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE)) {
            g_free(out);
            return NULL;
        }
        if (size - done < 256 || rc == G_CONVERTER_ERROR)
            out = g_realloc(out, size *= 2);
    }
    return g_bytes_new_take(out, done);
}

static void
reply_text(Request *r, unsigned status, const char *type, char *text, gsize len)
{
    /* Lists, entries and search results shrink to a fifth or less; made
     * once, they are compressed fast (kept pages: api_reply_bytes). */
    GBytes *gz = NULL;
    if (len >= API_GZIP_MIN_BYTES && api_wants_gzip(r))
        gz = api_gzip(text, len, 1);
    struct MHD_Response *resp;
    if (gz != NULL) {
        g_free(text);
        gsize size = 0;
        const void *data = g_bytes_get_data(gz, &size);
        resp = MHD_create_response_from_buffer_with_free_callback_cls(
            size, (void *)data, (MHD_ContentReaderFreeCallback)g_bytes_unref, gz);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    } else {
        resp = MHD_create_response_from_buffer_with_free_callback(len, text, g_free);
    }
    if (len >= API_GZIP_MIN_BYTES)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    MHD_add_response_header(resp, "Content-Type", type);
    api_reply_response(r, status, resp);
}

void
api_reply_json(Request *r, unsigned status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    if (text == NULL) {
        api_reply_problem(r, 500, "internal", "the answer could not be written");
        return;
    }
    /* jansson allocates with malloc; g_free is free (GLib ≥ 2.46). */
    reply_text(r, status, "application/json", text, strlen(text));
}

void
api_reply_text(Request *r, unsigned status, GString *json)
{
    gsize len = json->len;
    reply_text(r, status, "application/json", g_string_free(json, FALSE), len);
}

void
api_reply_bytes(Request *r, unsigned status, GBytes *json, GBytes *gzip, const char *etag)
{
    GBytes *body = gzip ? gzip : json;
    gsize len = 0;
    const void *data = g_bytes_get_data(body, &len);
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback_cls(
        len, (void *)data, (MHD_ContentReaderFreeCallback)g_bytes_unref, g_bytes_ref(body));
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (gzip != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    if (g_bytes_get_size(json) >= API_GZIP_MIN_BYTES)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    if (etag != NULL) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
        /* the browser may keep it, and asks again with If-None-Match */
        MHD_add_response_header(resp, "Cache-Control", "private, no-cache");
    }
    api_reply_response(r, status, resp);
}

void
api_reply_empty(Request *r, unsigned status)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    api_reply_response(r, status, resp);
}

static const char *
status_title(unsigned status)
{
    const char *t = MHD_get_reason_phrase_for(status);
    return t && *t ? t : "Error";
}

static void
reply_problem_v(Request *r, unsigned status, const char *code, const char *fmt, va_list ap)
{
    /* The detail may repeat what the client sent (a path, a field's name, a
     * key), which need not be UTF-8: jansson takes none that is not. */
    g_autofree char *said = g_strdup_vprintf(fmt, ap);
    g_autofree char *detail = g_utf8_make_valid(said, -1);
    json_t *body = json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", "about:blank", "title",
                             status_title(status), "status", (int)status, "detail", detail,
                             "code", code);
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(body);
    if (text == NULL) /* out of memory: the problem without its detail */
        text = g_strdup_printf("{\"type\":\"about:blank\",\"title\":\"%s\",\"status\":%u,"
                               "\"detail\":\"\",\"code\":\"%s\"}",
                               status_title(status), status, code);
    reply_text(r, status, "application/problem+json", text, strlen(text));
}

void
api_reply_problem(Request *r, unsigned status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_problem_v(r, status, code, fmt, ap);
    va_end(ap);
}

void
api_reply_error(Request *r, const GError *error)
{
    unsigned status = 500;
    const char *name = "internal";
    for (gsize i = 0; error->domain == CL_ERROR && i < G_N_ELEMENTS(edge_map); i++)
        if (edge_map[i].code == (ClErrorCode)error->code) {
            status = edge_map[i].status;
            name = edge_map[i].name;
        }
    if (status >= 500)
        g_warning("event=request-failed path=%s error=\"%s\"", r->path, error->message);
    /* The message of an internal error is for the log, not for the client. */
    api_reply_problem(r, status, name, "%s",
                      status == 500 ? "an internal error; the server log says more"
                                    : error->message);
}

bool
api_commit(Request *r, bool ok, GError **error)
{
    if (ok && cl_store_commit(r->store, error))
        return true;
    cl_store_rollback(r->store);
    api_reply_error(r, *error);
    return false;
}

const char *
api_header(Request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *
api_query(Request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

bool
api_query_int(Request *r, const char *name, gint64 def, gint64 min, gint64 max, gint64 *out)
{
    const char *text = api_query(r, name);
    if (text == NULL || *text == '\0') {
        *out = def;
        return true;
    }
    gint64 v = 0;
    if (!g_ascii_string_to_signed(text, 10, min, max, &v, NULL)) {
        api_reply_problem(r, 400, "bad-request",
                          "?%s= must be a number from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT,
                          name, min, max);
        return false;
    }
    *out = v;
    return true;
}

bool
api_query_cursor(Request *r, gint64 *time_out, gint64 *id_out)
{
    *time_out = *id_out = 0;
    const char *text = api_query(r, "cursor");
    if (text == NULL || *text == '\0')
        return true;
    const char *dot = strchr(text, '.');
    g_autofree char *t = dot ? g_strndup(text, dot - text) : NULL;
    guint64 time = 0, id = 0;
    if (dot == NULL || !g_ascii_string_to_unsigned(t, 10, 1, G_MAXINT64, &time, NULL) ||
        !g_ascii_string_to_unsigned(dot + 1, 10, 1, G_MAXINT64, &id, NULL)) {
        api_reply_problem(r, 400, "bad-request",
                          "?cursor= must be the next_cursor of the previous page");
        return false;
    }
    *time_out = (gint64)time;
    *id_out = (gint64)id;
    return true;
}

/* Where in v (a request's JSON) a string holds a NUL ("company", "attachments[0].name"),
 * or NULL. C code reads a string up to its first NUL: "sommer\u0000zzz" would be
 * the company "sommer", a password would be checked by its first part. */
static char *
json_nul_path(json_t *v, const char *path, guint depth)
{
    if (json_is_string(v))
        return memchr(json_string_value(v), '\0', json_string_length(v)) != NULL
                   ? g_strdup(*path ? path : "the body")
                   : NULL;
    if (depth > 64)
        return NULL; /* jansson bounds the depth of what it reads; so do we */
    if (json_is_object(v)) {
        const char *key;
        json_t *member;
        json_object_foreach(v, key, member) {
            g_autofree char *sub = *path ? g_strconcat(path, ".", key, NULL) : g_strdup(key);
            char *found = json_nul_path(member, sub, depth + 1);
            if (found != NULL)
                return found;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) {
            g_autofree char *sub = g_strdup_printf("%s[%zu]", path, i);
            char *found = json_nul_path(item, sub, depth + 1);
            if (found != NULL)
                return found;
        }
    }
    return NULL;
}

bool
api_json_acceptable(Request *r, json_t *v)
{
    g_autofree char *where = json_nul_path(v, "", 0);
    if (where == NULL)
        return true;
    api_reply_problem(r, 422, "invalid", "\"%s\" must not contain NUL characters", where);
    return false;
}

json_t *
api_body_json(Request *r, bool object)
{
    if (r->body == NULL || r->body->len == 0) {
        if (object)
            return json_object(); /* no body: no changes, all defaults */
        api_reply_problem(r, 400, "bad-request", "the request needs a JSON body");
        return NULL;
    }
    json_error_t err;
    json_t *v = json_loadb((const char *)r->body->data, r->body->len,
                           JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (v == NULL) {
        api_reply_problem(r, 400, "bad-json", "the body is not valid JSON: %s (line %d, column %d)",
                          err.text, err.line, err.column);
        return NULL;
    }
    if (object && !json_is_object(v)) {
        json_decref(v);
        api_reply_problem(r, 400, "bad-json", "the body must be a JSON object");
        return NULL;
    }
    if (!api_json_acceptable(r, v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/* ---- login throttling -------------------------------------------------------------------
 *
 * Kept in memory: a restart forgets it, and argon2id already makes every
 * guess cost about 0.1 s of the server's time. An account waits after 5
 * failures, an address after 20, 60 s doubling up to an hour; a success
 * clears the account, not the address.
 *
 * Accounts are keys the callers make, each kind with a prefix of its own
 * ("u:ID" a user's logins, "e:ADDRESS" logins with an address of nobody,
 * "p:ID" a user's password changes), so that no text a client sends can name
 * another kind's key; clients are kept under "c:" apart from all of them.
 * An account's attempt is counted when it is let through (api_throttle_begin,
 * under the lock), not when its password has been found wrong: parallel
 * guesses cannot all pass the check before the first failure is recorded.
 */

static Throttle *
throttle_get(ClApi *api, const char *prefix, const char *key, gint64 now, bool create)
{
    g_autofree char *k = g_strconcat(prefix, key ? key : "", NULL);
    Throttle *t = g_hash_table_lookup(api->throttle, k);
    if (t != NULL && now - t->last > THROTTLE_FORGET && now >= t->until) {
        g_hash_table_remove(api->throttle, k);
        t = NULL;
    }
    if (t == NULL && create) {
        if (g_hash_table_size(api->throttle) >= THROTTLE_MAX_KEYS) {
            /* Bounded: drop what has been quiet longest (everything forgettable). */
            GHashTableIter it;
            gpointer kk, vv;
            g_hash_table_iter_init(&it, api->throttle);
            while (g_hash_table_iter_next(&it, &kk, &vv)) {
                Throttle *o = vv;
                if (now - o->last > 60 && now >= o->until)
                    g_hash_table_iter_remove(&it);
            }
        }
        t = g_new0(Throttle, 1);
        g_hash_table_insert(api->throttle, g_steal_pointer(&k), t);
    }
    return t;
}

static void
throttle_fail(Throttle *t, guint free_failures, gint64 now)
{
    t->failures++;
    t->last = now;
    if (t->failures >= free_failures) {
        guint shift = MIN(t->failures - free_failures, 6u);
        t->until = now + MIN((gint64)60 << shift, THROTTLE_MAX_WAIT);
    }
}

gint64
api_throttle_begin(ClApi *api, const char *account, const char *client)
{
    gint64 now = g_get_real_time() / G_USEC_PER_SEC, wait = 0;
    g_mutex_lock(&api->throttle_lock);
    Throttle *a = throttle_get(api, "a:", account, now, false);
    Throttle *c = throttle_get(api, "c:", client, now, false);
    if (a && a->until > now)
        wait = a->until - now;
    if (c && c->until > now)
        wait = MAX(wait, c->until - now);
    if (wait == 0) /* counted as a failure until api_throttle_passed says otherwise */
        throttle_fail(throttle_get(api, "a:", account, now, true), THROTTLE_ACCOUNT_FREE, now);
    g_mutex_unlock(&api->throttle_lock);
    return wait;
}

void
api_throttle_failed(ClApi *api, const char *client)
{
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;
    g_mutex_lock(&api->throttle_lock);
    throttle_fail(throttle_get(api, "c:", client, now, true), THROTTLE_CLIENT_FREE, now);
    g_mutex_unlock(&api->throttle_lock);
}

void
api_throttle_passed(ClApi *api, const char *account)
{
    g_autofree char *k = g_strconcat("a:", account, NULL);
    g_mutex_lock(&api->throttle_lock);
    g_hash_table_remove(api->throttle, k);
    g_mutex_unlock(&api->throttle_lock);
}

const char *
api_dummy_hash(ClApi *api)
{
    return api->dummy_hash;
}

GBytes *
api_openapi(ClApi *api)
{
    return api->openapi;
}

const char *
api_web_root(ClApi *api)
{
    return api->web_root;
}

ApiCache *
api_page_cache(ClApi *api)
{
    return api->cache;
}

/* ---- who asks ----------------------------------------------------------------------------- */

/* The value of cookie `name` in a Cookie header (borrowed from MHD), or NULL. */
static const char *
cookie(Request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

void
api_set_cookie(Request *r, const char *value)
{
    /* Kept until the answer is made (api_reply_response). */
    g_free(r->set_cookie);
    r->set_cookie = g_strdup(value);
}

gint64
api_generation(Request *r)
{
    /* Asked once a request: whether anything was committed since its connection last asked. */
    if (r->generation < 0)
        r->generation = r->api->cache ? api_cache_generation(r->api->cache, r->store) : 0;
    return r->generation;
}

/*
 * Who asks: an API token (Authorization: Bearer) or a session cookie. A
 * cookie is sent by the browser on its own, so a request that changes
 * something must also carry the session's CSRF token in X-CSRF-Token
 * (the web UI reads it from /api/v1/me); a token in a header cannot be
 * sent by another site. Who a token or cookie is may come from the cache
 * (api-cache.c), which forgets it with every commit. Returns false after
 * answering 401/403 (quiet: without answering when nobody is logged in).
 */
bool
api_identify(Request *r, bool quiet)
{
    ClStore *store = r->store;
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;
    const char *auth = api_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    g_autoptr(GError) error = NULL;
    if (auth != NULL) {
        if (g_ascii_strncasecmp(auth, "Bearer ", 7) != 0) {
            api_reply_problem(r, 401, "unauthenticated", "use Authorization: Bearer TOKEN");
            return false;
        }
        const char *token = auth + 7;
        while (*token == ' ')
            token++;
        char hash[CL_HASH_HEX_LEN];
        cl_secret_hash(token, hash);
        ApiCache *cache = r->api->cache;
        if (cache && api_cache_user(cache, API_CREDENTIAL_TOKEN, hash, api_generation(r),
                                    &r->user, NULL, NULL))
            return true;
        gint64 expires = 0;
        r->user = cl_store_token_user(store, hash, now, &expires, &error);
        if (r->user != NULL && cache)
            api_cache_keep_user(cache, API_CREDENTIAL_TOKEN, hash, api_generation(r), r->user,
                                NULL, 0, expires);
        if (r->user == NULL) {
            if (!g_error_matches(error, CL_ERROR, CL_ERROR_NOT_FOUND)) {
                api_reply_error(r, error);
                return false;
            }
            if (!quiet)
                api_reply_problem(r, 401, "unauthenticated", "the API token is not valid");
            return false;
        }
        return true;
    }
    const char *value = cookie(r, "cl_session");
    if (value == NULL) {
        if (!quiet)
            api_reply_problem(r, 401, "unauthenticated", "log in first (POST /api/v1/session)");
        return false;
    }
    char hash[CL_HASH_HEX_LEN];
    cl_secret_hash(value, hash);
    gint64 seen = 0;
    ApiCache *cache = r->api->cache;
    if (!(cache && api_cache_user(cache, API_CREDENTIAL_SESSION, hash, api_generation(r),
                                  &r->user, &r->csrf, &seen))) {
        gint64 expires = 0;
        r->user = cl_store_session_user(store, hash, now, &r->csrf, &seen, &expires, &error);
        if (r->user != NULL && cache)
            api_cache_keep_user(cache, API_CREDENTIAL_SESSION, hash, api_generation(r), r->user,
                                r->csrf, seen, expires);
    }
    if (r->user == NULL) {
        if (!g_error_matches(error, CL_ERROR, CL_ERROR_NOT_FOUND)) {
            api_reply_error(r, error);
            return false;
        }
        if (!quiet)
            api_reply_problem(r, 401, "unauthenticated", "the session has ended; log in again");
        return false;
    }
    r->session_hash = g_strdup(hash);
    bool safe = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    if (!safe) {
        const char *sent = api_header(r, "X-CSRF-Token");
        /* A session without a CSRF token (there is none: the column is NOT NULL)
         * changes nothing rather than crash the server. */
        if (sent == NULL || r->csrf == NULL || strlen(sent) != strlen(r->csrf) ||
            sodium_memcmp(sent, r->csrf, strlen(sent)) != 0) {
            api_reply_problem(r, 403, "csrf", "the request lacks the session's X-CSRF-Token");
            return false;
        }
    }
    /* Sliding sessions, written at most every five minutes — or every half of
     * the timeout, when that is shorter: a session in use must not run out. */
    if (now - seen > MIN(300, api_config(r)->session_timeout / 2)) {
        g_autoptr(GError) local = NULL;
        if (!cl_store_session_touch(store, hash, now, now + api_config(r)->session_timeout,
                                    &local))
            g_debug("event=session-touch-failed error=\"%s\"", local->message);
    }
    return true;
}

/* ---- routing ------------------------------------------------------------------------------ */

/* Does `path` fit `pattern`? The {id}s go to ids. */
static bool
route_match(const char *pattern, const char *path, gint64 *ids, guint *n_ids)
{
    *n_ids = 0;
    while (*pattern && *path) {
        if (*pattern == '{' && strncmp(pattern, "{id}", 4) == 0) {
            /* 1 to 18 digits: no overflow */
            gint64 id = 0;
            const char *end = path;
            for (; g_ascii_isdigit(*end) && end - path < 19; end++)
                id = id * 10 + (*end - '0');
            if (end == path || end - path > 18 || (*end && *end != '/'))
                return false;
            if (id <= 0 || *n_ids >= 4)
                return false;
            ids[(*n_ids)++] = id;
            pattern += 4;
            path = end;
            continue;
        }
        if (*pattern != *path)
            return false;
        pattern++;
        path++;
    }
    return *pattern == '\0' && *path == '\0';
}

/* The route of a request; NULL after answering 404 or 405. */
static const ApiRoute *
find_route(Request *r)
{
    GString *allow = NULL;
    for (gsize i = 0; i < G_N_ELEMENTS(routes); i++) {
        if (!route_match(routes[i].pattern, r->path, r->ids, &r->n_ids))
            continue;
        if (strcmp(routes[i].method, r->method) == 0 ||
            (strcmp(r->method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0)) {
            if (allow)
                g_string_free(allow, TRUE);
            return &routes[i];
        }
        if (allow == NULL)
            allow = g_string_new(NULL);
        g_string_append_printf(allow, "%s%s", allow->len ? ", " : "", routes[i].method);
    }
    if (allow != NULL) {
        g_autofree char *methods = g_string_free(allow, FALSE);
        /* The method is the client's text: jansson escapes it (and repairs it
         * when it is not UTF-8), so that the body is JSON whatever was sent. */
        g_autofree char *valid = g_utf8_make_valid(r->method, -1);
        g_autofree char *detail = g_strdup_printf("%s is not allowed here; allowed: %s", valid,
                                                  methods);
        g_autoptr(json_t) problem = json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", "about:blank",
                                              "title", "Method Not Allowed", "status", 405,
                                              "detail", detail, "code", "method-not-allowed");
        char *text = problem ? json_dumps(problem, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        if (text == NULL) {
            api_reply_problem(r, 500, "internal", "the answer could not be written");
            return NULL;
        }
        struct MHD_Response *resp =
            MHD_create_response_from_buffer_with_free_callback(strlen(text), text, free);
        MHD_add_response_header(resp, "Content-Type", "application/problem+json");
        MHD_add_response_header(resp, "Allow", methods);
        api_reply_response(r, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
        return NULL;
    }
    if (!g_str_has_prefix(r->path, "/api/") && (strcmp(r->method, "GET") == 0 ||
                                                strcmp(r->method, "HEAD") == 0))
        return &web_route;
    api_reply_problem(r, 404, "not-found", "no such resource: %s", r->path);
    return NULL;
}

/* ---- request bodies -------------------------------------------------------------------------- */

static char *
media_type(const char *header)
{
    if (header == NULL)
        return NULL;
    const char *semi = strchr(header, ';');
    g_autofree char *t = semi ? g_strndup(header, semi - header) : g_strdup(header);
    return g_ascii_strdown(g_strstrip(t), -1);
}

char *
api_safe_filename(const char *name)
{
    g_autofree char *valid = g_utf8_make_valid(name ? name : "", -1);
    const char *base = valid;
    for (const char *p = valid; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    GString *out = g_string_new(NULL);
    for (const char *p = base; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        if (g_unichar_iscntrl(c) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069))
            continue;
        if (out->len + 6 > CL_MAX_FILENAME_BYTES)
            break;
        g_string_append_unichar(out, c);
    }
    g_strstrip(out->str);
    if (out->str[0] == '\0' || strcmp(out->str, ".") == 0 || strcmp(out->str, "..") == 0)
        g_string_assign(out, "attachment");
    return g_string_free(out, FALSE);
}

static void
gstring_free(gpointer s)
{
    g_string_free(s, TRUE);
}

static void
upload_free(ApiUpload *u)
{
    if (u->fd >= 0)
        close(u->fd);
    if (u->path)
        unlink(u->path);
    g_free(u->path);
    g_free(u->field);
    g_free(u->filename);
    g_free(u->content_type);
    g_free(u);
}

static enum MHD_Result
post_field(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
           const char *content_type, const char *transfer_encoding, const char *data, uint64_t off,
           size_t size)
{
    (void)kind;
    (void)transfer_encoding;
    Request *r = cls;
    if (r->form_error != NULL || key == NULL)
        return MHD_YES;
    if (filename != NULL) {
        ApiUpload *u = r->uploads->len ? g_ptr_array_index(r->uploads, r->uploads->len - 1) : NULL;
        if (u == NULL || off == 0 || g_strcmp0(u->field, key) != 0) {
            if (r->uploads->len >= API_MAX_UPLOADS) {
                r->form_error = g_strdup_printf("at most %d files per request", API_MAX_UPLOADS);
                return MHD_YES;
            }
            g_autoptr(GError) error = NULL;
            u = g_new0(ApiUpload, 1);
            u->fd = cl_store_tmp_file(r->store, &u->path, &error);
            u->field = g_strdup(key);
            u->filename = api_safe_filename(filename);
            u->content_type = g_strdup(content_type && *content_type ? content_type
                                                                    : "application/octet-stream");
            g_ptr_array_add(r->uploads, u);
            if (u->fd < 0) {
                r->form_error = g_strdup_printf("cannot keep the file: %s", error->message);
                return MHD_YES;
            }
        }
        if (size > 0 && !cl_write_all(u->fd, (const guint8 *)data, size)) {
            r->form_error = g_strdup_printf("cannot keep the file: %s", g_strerror(errno));
            return MHD_YES;
        }
        u->size += size;
        return MHD_YES;
    }
    GString *v = g_hash_table_lookup(r->form, key);
    if (v == NULL) {
        v = g_string_new(NULL);
        g_hash_table_insert(r->form, g_strdup(key), v);
    }
    if (v->len + size > API_MAX_FIELD_BYTES) {
        r->form_error = g_strdup_printf("the field \"%s\" is too long", key);
        return MHD_YES;
    }
    g_string_append_len(v, data, size);
    return MHD_YES;
}

/* Checks what a route says about the body before it is read; false after answering. */
static bool
body_begin(Request *r)
{
    unsigned flags = r->route->flags;
    const char *length = api_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *chunked = api_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    bool has_body = (length && strcmp(length, "0") != 0) || chunked;
    r->content_type = media_type(api_header(r, MHD_HTTP_HEADER_CONTENT_TYPE));
    if (!(flags & (BODY_JSON | BODY_FORM | BODY_RAW))) {
        r->body_limit = 0;
        return true; /* a body where none is expected is read and ignored */
    }
    /* Files get http.max_upload_bytes only in multipart/form-data: a JSON body
     * is read into memory and parsed whole (base64 attachments included), so it
     * is held to the JSON limit on every route, forms' routes too. */
    if (flags & BODY_RAW)
        r->body_limit = api_config(r)->max_message_bytes;
    else if ((flags & BODY_FORM) && g_strcmp0(r->content_type, "multipart/form-data") == 0)
        r->body_limit = api_config(r)->http_max_upload;
    else
        r->body_limit = API_MAX_JSON_BYTES;
    if (length != NULL) {
        guint64 n = 0;
        if (!g_ascii_string_to_unsigned(length, 10, 0, G_MAXINT64, &n, NULL)) {
            api_reply_problem(r, 400, "bad-request", "Content-Length is not a number");
            return false;
        }
        /* A raw mail over the limit is answered "too large" by the pipeline's
         * rules (read and counted); anything else is refused at once. */
        if (!(flags & BODY_RAW) && (gint64)n > r->body_limit) {
            api_reply_problem(r, 413, "too-large",
                              "the body is %" G_GUINT64_FORMAT " bytes; at most %" G_GINT64_FORMAT
                              " are accepted here",
                              n, r->body_limit);
            return false;
        }
    }
    if (!has_body)
        return true;
    const char *ct = r->content_type;
    if (flags & BODY_RAW) {
        if (g_strcmp0(ct, "message/rfc822") != 0) {
            api_reply_problem(r, 415, "unsupported-media-type",
                              "send the mail as Content-Type: message/rfc822");
            return false;
        }
    } else if (g_strcmp0(ct, "application/json") != 0 &&
               !((flags & BODY_FORM) && g_strcmp0(ct, "multipart/form-data") == 0)) {
        api_reply_problem(r, 415, "unsupported-media-type", "send %s",
                          (flags & BODY_FORM) ? "application/json or multipart/form-data"
                                              : "Content-Type: application/json");
        return false;
    }
    if (g_strcmp0(ct, "multipart/form-data") == 0) {
        r->form = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, gstring_free);
        r->uploads = g_ptr_array_new_with_free_func((GDestroyNotify)upload_free);
        r->post = MHD_create_post_processor(r->conn, 64 * 1024, post_field, r);
        if (r->post == NULL) {
            api_reply_problem(r, 400, "bad-request", "the multipart/form-data body has no boundary");
            return false;
        }
    } else {
        r->body = g_byte_array_new();
    }
    return true;
}

static void
body_take(Request *r, const char *data, size_t size)
{
    r->body_bytes += size;
    if (r->too_large || r->answered || !(r->route->flags & (BODY_JSON | BODY_FORM | BODY_RAW)))
        return; /* a body where none is expected is read and ignored */
    if (r->body_bytes > r->body_limit) {
        r->too_large = true;
        if (!(r->route->flags & BODY_RAW)) {
            /* Read and dropped; answered when the body ends. */
            return;
        }
        /* A raw mail keeps what the limit allows; the pipeline says too-large. */
        size -= (size_t)(r->body_bytes - r->body_limit);
    }
    if (r->post != NULL) {
        if (MHD_post_process(r->post, data, size) != MHD_YES && r->form_error == NULL)
            r->form_error = g_strdup("the multipart/form-data body is malformed");
        return;
    }
    if (r->body == NULL)
        return;
    if (r->spool_fd >= 0 || ((r->route->flags & BODY_RAW) &&
                             r->body->len + size > API_MEMORY_BODY)) {
        if (r->spool_fd < 0) {
            g_autoptr(GError) error = NULL;
            r->spool_fd = cl_store_tmp_file(r->store, &r->spool_path, &error);
            if (r->spool_fd < 0) {
                r->form_error = g_strdup(error->message);
                return;
            }
            if (!cl_write_all(r->spool_fd, r->body->data, r->body->len))
                r->form_error = g_strdup(g_strerror(errno));
            g_byte_array_set_size(r->body, 0);
        }
        if (!cl_write_all(r->spool_fd, (const guint8 *)data, size) && r->form_error == NULL)
            r->form_error = g_strdup(g_strerror(errno));
        return;
    }
    g_byte_array_append(r->body, (const guint8 *)data, (guint)size);
}

/* ---- the request's life --------------------------------------------------------------------- */

static void
request_free(Request *r)
{
    g_clear_pointer(&r->deferred, MHD_destroy_response);
    if (r->post)
        MHD_destroy_post_processor(r->post);
    g_clear_pointer(&r->form, g_hash_table_unref);
    g_clear_pointer(&r->uploads, g_ptr_array_unref);
    g_clear_pointer(&r->body, g_byte_array_unref);
    if (r->spool_fd >= 0)
        close(r->spool_fd);
    g_free(r->set_cookie);
    if (r->spool_path)
        unlink(r->spool_path);
    g_free(r->spool_path);
    g_free(r->form_error);
    g_free(r->content_type);
    cl_user_free(r->user);
    g_free(r->session_hash);
    g_free(r->csrf);
    g_free(r->client);
    g_free(r->path);
    g_free(r);
}

static char *
client_address(Request *r)
{
    if (r->api->config->trust_proxy) {
        /* The proxy appends the address it saw: the last entry is the client. */
        const char *xff = api_header(r, "X-Forwarded-For");
        if (xff != NULL) {
            const char *last = strrchr(xff, ',');
            g_autofree char *a = g_strdup(last ? last + 1 : xff);
            return g_strdup(g_strstrip(a));
        }
    }
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char host[INET6_ADDRSTRLEN + 1] = "";
    if (info && info->client_addr) {
        const struct sockaddr *sa = info->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host, sizeof host);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, host, sizeof host);
    }
    return g_strdup(*host ? host : "unknown");
}

/* A browser's request from another site: its Origin is not this host. Such
 * requests may not change anything, logging in included (login CSRF). */
static bool
cross_origin(Request *r)
{
    const char *origin = api_header(r, "Origin");
    const char *host = api_header(r, MHD_HTTP_HEADER_HOST);
    const char *forwarded = r->api->config->trust_proxy ? api_header(r, "X-Forwarded-Host") : NULL;
    if (forwarded != NULL)
        host = forwarded;
    if (origin == NULL || strcmp(origin, "null") == 0)
        return origin != NULL;
    const char *sep = strstr(origin, "://");
    return host == NULL || sep == NULL || g_ascii_strcasecmp(sep + 3, host) != 0;
}

/* A NUL in a query argument (?limit=%00, ?q=acme%00x) would cut the value
 * short where it is read as a C string, and bytes that are not UTF-8 (?q=%FF)
 * match nothing as a filter and would be no filter: refused as a whole. */
static enum MHD_Result
query_check(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
            const char *value, size_t value_size)
{
    (void)kind;
    const char **wrong = cls;
    if (strlen(key) != key_size || (value != NULL && strlen(value) != value_size))
        *wrong = "a query argument holds a NUL character";
    else if (!g_utf8_validate_len(key, key_size, NULL) ||
             (value != NULL && !g_utf8_validate_len(value, value_size, NULL)))
        *wrong = "a query argument is not UTF-8 text";
    return *wrong ? MHD_NO : MHD_YES;
}

/* The first callback: route, who asks, what body; true when it may go on. */
static bool
request_begin(Request *r)
{
    r->route = find_route(r);
    if (r->route == NULL)
        return false;
    const char *wrong = NULL;
    MHD_get_connection_values_n(r->conn, MHD_GET_ARGUMENT_KIND, query_check, &wrong);
    if (wrong != NULL) {
        api_reply_problem(r, 400, "bad-request", "%s", wrong);
        return false;
    }
    bool safe = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    if (!safe && cross_origin(r)) {
        api_reply_problem(r, 403, "cross-origin", "requests from other sites may not change "
                          "anything here");
        return false;
    }
    unsigned auth = r->route->flags & 3;
    if (auth != AUTH_NONE) {
        if (!api_identify(r, false))
            return false;
        if (auth == AUTH_ADMIN && !r->user->admin) {
            api_reply_problem(r, 403, "forbidden", "only an admin of the tenant may do this");
            return false;
        }
    }
    return body_begin(r);
}

static void
request_run(Request *r)
{
    if (r->too_large && !(r->route->flags & BODY_RAW)) {
        api_reply_problem(r, 413, "too-large", "the body is larger than the %" G_GINT64_FORMAT
                          " bytes accepted here", r->body_limit);
        return;
    }
    if (r->form_error != NULL) {
        bool full = strstr(r->form_error, "No space") != NULL;
        api_reply_problem(r, full ? 503 : 400, full ? "tempfail" : "bad-request", "%s",
                          r->form_error);
        return;
    }
    r->route->handle(r);
    if (!r->answered) {
        g_critical("event=no-answer path=%s", r->path);
        api_reply_problem(r, 500, "internal", "no answer was made");
    }
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)version;
    ClApi *api = cls;
    Request *r = *con_cls;
    if (r == NULL) {
        r = g_new0(Request, 1);
        r->api = api;
        r->conn = conn;
        r->method = method;
        r->path = g_strdup(url);
        r->spool_fd = -1;
        r->generation = -1;
        r->started = g_get_monotonic_time();
        r->client = client_address(r);
        const char *proto = api->config->trust_proxy ? api_header(r, "X-Forwarded-Proto") : NULL;
        r->secure = api->config->secure_cookies || g_strcmp0(proto, "https") == 0;
        g_atomic_int_inc(&api->in_flight);
        *con_cls = r;
        /* A body of known, modest length is read even when the answer is an
         * error; a larger or unknown one is not waited for (the connection
         * closes), nor one whose client waits for "100 Continue" first. */
        const char *length = api_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
        const char *expect = api_header(r, MHD_HTTP_HEADER_EXPECT);
        guint64 n = 0;
        r->defer = length && g_ascii_string_to_unsigned(length, 10, 1, DRAIN_MAX, &n, NULL) &&
                   (expect == NULL || g_ascii_strcasecmp(expect, "100-continue") != 0);
        r->store = g_async_queue_pop(api->stores);
        request_begin(r);
        g_async_queue_push(api->stores, g_steal_pointer(&r->store));
        r->defer = false;
        return MHD_YES;
    }
    if (r->answered) {
        /* Answered before the body: drop what still comes, then send the answer. */
        if (*upload_data_size > 0) {
            *upload_data_size = 0;
        } else if (r->deferred != NULL) {
            if (MHD_queue_response(conn, r->status, r->deferred) != MHD_YES)
                g_debug("event=queue-failed path=%s", r->path);
            g_clear_pointer(&r->deferred, MHD_destroy_response);
        }
        return MHD_YES;
    }
    r->store = g_async_queue_pop(api->stores);
    if (*upload_data_size > 0) {
        body_take(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
    } else {
        request_run(r);
    }
    g_async_queue_push(api->stores, g_steal_pointer(&r->store));
    return MHD_YES;
}

/* The method as a metrics label and in the log: the client's text only when it
 * is one of HTTP's own, so that it cannot break a label's quotes or a log line. */
static const char *
method_label(const char *method)
{
    static const char *const known[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE",
                                         "OPTIONS", "TRACE", "CONNECT" };
    for (gsize i = 0; i < G_N_ELEMENTS(known); i++)
        if (strcmp(method, known[i]) == 0)
            return known[i];
    return "other";
}

/* The strings of the NULL-ended parts, one after the other, cut to fit size. */
static void
concat(char *buf, gsize size, const char *const *parts)
{
    gsize at = 0;
    for (; *parts != NULL; parts++) {
        gsize len = strlen(*parts);
        if (len > size - 1 - at)
            len = size - 1 - at;
        memcpy(buf + at, *parts, len);
        at += len;
    }
    buf[at] = '\0';
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    ClApi *api = cls;
    Request *r = *con_cls;
    if (r == NULL)
        return;
    double seconds = (g_get_monotonic_time() - r->started) / 1e6;
    const char *route = r->route ? r->route->pattern : "none";
    /* Labels put together without printf or malloc: this runs for every request. */
    char status[4] = { '0' + r->status / 100 % 10, '0' + r->status / 10 % 10,
                       '0' + r->status % 10, '\0' };
    char labels[256], hl[128];
    concat(labels, sizeof labels, (const char *[]){ "method=\"", method_label(r->method),
                                                   "\",route=\"", route, "\",status=\"", status,
                                                   "\"", NULL });
    cl_metrics_count("contactlog_http_requests_total", labels, 1);
    concat(hl, sizeof hl, (const char *[]){ "route=\"", route, "\"", NULL });
    cl_metrics_observe("contactlog_http_request_seconds", hl, seconds);
    if (cl_log_enabled(G_LOG_LEVEL_INFO))
        g_info("event=request method=%s route=%s status=%u ms=%.2f user=%s tenant=%s%s",
               method_label(r->method), route, r->status, seconds * 1000,
               r->user ? r->user->key : "-",
               r->user ? r->user->tenant_key : "-",
               toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1");
    request_free(r);
    *con_cls = NULL;
    g_atomic_int_dec_and_test(&api->in_flight);
}

/* ---- listeners and life ------------------------------------------------------------------------ */

static int
listen_on(const char *spec, char **bound_out, GError **error)
{
    const char *colon = strrchr(spec, ':');
    if (colon == NULL || colon == spec || g_str_has_prefix(spec, "unix:")) {
        g_set_error(error, CL_ERROR, CL_ERROR_CONFIG,
                    "http listener \"%s\": use HOST:PORT, such as 127.0.0.1:8080", spec);
        return -1;
    }
    g_autofree char *host = g_strndup(spec, colon - spec);
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(*host ? host : NULL, colon + 1, &hints, &res);
    if (rc != 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_CONFIG, "http listener \"%s\": %s", spec,
                    gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "http listener %s: %s", spec,
                    g_strerror(e));
        return -1;
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    char name[INET6_ADDRSTRLEN + 1] = "";
    int port = 0;
    if (ss.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, name, sizeof name);
        port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        *bound_out = g_strdup_printf("http [%s]:%d", name, port);
    } else {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, name, sizeof name);
        port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        *bound_out = g_strdup_printf("http %s:%d", name, port);
    }
    return fd;
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    g_autofree char *text = g_strdup_vprintf(fmt, ap);
    g_strchomp(text);
    g_debug("event=mhd message=\"%s\"", text);
}

/* Where the web UI's files are: the configured directory, else the installed
 * one, else (running from the build tree) the source tree's web/. */
static char *
find_web_root(const ClConfig *config)
{
    if (config->web_root && *config->web_root)
        return g_strdup(config->web_root);
    const char *candidates[] = { CL_WEB_DIR, CL_SOURCE_WEB_DIR };
    for (gsize i = 0; i < G_N_ELEMENTS(candidates); i++) {
        g_autofree char *index = g_build_filename(candidates[i], "index.html", NULL);
        if (g_file_test(index, G_FILE_TEST_IS_REGULAR))
            return g_strdup(candidates[i]);
    }
    return NULL;
}

ClApi *
cl_api_new(const ClConfig *config, GError **error)
{
    g_autoptr(ClApi) api = g_new0(ClApi, 1);
    api->config = cl_config_copy(config);
    api->daemons = g_ptr_array_new();
    api->listeners = g_ptr_array_new_with_free_func(g_free);
    api->stores = g_async_queue_new();
    api->all_stores = g_ptr_array_new_with_free_func((GDestroyNotify)cl_store_free);
    api->throttle = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_mutex_init(&api->throttle_lock);
    api->openapi = g_resources_lookup_data("/contactlog/api/openapi.json",
                                           G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
    g_return_val_if_fail(contactlog_get_resource() != NULL && api->openapi != NULL, NULL);
    api->web_root = find_web_root(config);
    if (config->page_cache)
        api->cache = api_cache_new();
    api->dummy_hash = cl_password_hash("contactlog: no such user", error);
    if (api->dummy_hash == NULL)
        return NULL;
    cl_metrics_describe("contactlog_http_requests_total", "HTTP requests by route and status",
                        false);
    cl_metrics_describe("contactlog_http_request_seconds", "HTTP request duration", true);

    guint threads = MAX(config->http_threads, 1);
    for (guint i = 0; i < threads + 1; i++) {
        ClStore *store = cl_store_open(api->config, error);
        if (store == NULL)
            return NULL;
        /* Attachments of up to 64 KB go into the database: one fsync per upload. */
        cl_store_set_inline_blobs(store, 64 * 1024);
        g_ptr_array_add(api->all_stores, store);
        g_async_queue_push(api->stores, store);
    }
    for (gsize i = 0; config->http_listen && config->http_listen[i]; i++) {
        char *bound = NULL;
        int fd = listen_on(config->http_listen[i], &bound, error);
        if (fd < 0)
            return NULL;
        struct MHD_Daemon *d = MHD_start_daemon(
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
            on_request, api, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, threads,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096, MHD_OPTION_CONNECTION_TIMEOUT,
            (unsigned)120, MHD_OPTION_NOTIFY_COMPLETED, on_completed, api,
            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
        if (d == NULL) {
            close(fd);
            g_free(bound);
            g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "cannot start the HTTP server on %s",
                        config->http_listen[i]);
            return NULL;
        }
        g_ptr_array_add(api->daemons, d);
        g_ptr_array_add(api->listeners, bound);
    }
    return g_steal_pointer(&api);
}

GStrv
cl_api_listeners(ClApi *api)
{
    GStrvBuilder *b = g_strv_builder_new();
    for (guint i = 0; i < api->listeners->len; i++)
        g_strv_builder_add(b, api->listeners->pdata[i]);
    GStrv out = g_strv_builder_end(b);
    g_strv_builder_unref(b);
    return out;
}

void
cl_api_quiesce(ClApi *api)
{
    for (guint i = 0; i < api->daemons->len; i++) {
        MHD_socket fd = MHD_quiesce_daemon(api->daemons->pdata[i]);
        if (fd != MHD_INVALID_SOCKET)
            close(fd);
    }
}

void
cl_api_free(ClApi *api)
{
    if (api == NULL)
        return;
    cl_api_quiesce(api);
    /* Requests in flight get their answer (up to the shutdown timeout). */
    gint64 deadline = g_get_monotonic_time() +
                      (gint64)api->config->shutdown_timeout * G_USEC_PER_SEC;
    while (g_atomic_int_get(&api->in_flight) > 0 && g_get_monotonic_time() < deadline)
        g_usleep(10 * 1000);
    for (guint i = 0; i < api->daemons->len; i++)
        MHD_stop_daemon(api->daemons->pdata[i]);
    g_ptr_array_unref(api->daemons);
    g_ptr_array_unref(api->listeners);
    while (g_async_queue_try_pop(api->stores) != NULL)
        ;
    g_async_queue_unref(api->stores);
    g_ptr_array_unref(api->all_stores);
    g_hash_table_unref(api->throttle);
    g_mutex_clear(&api->throttle_lock);
    g_free(api->dummy_hash);
    g_clear_pointer(&api->openapi, g_bytes_unref);
    g_free(api->web_root);
    api_cache_free(api->cache);
    cl_config_free(api->config);
    g_free(api);
}
