/* api-private.h — shared inside api/ only: the request, the route table's
 * handlers and the helpers that answer. */
#pragma once

#include <jansson.h>
#include <microhttpd.h>

#include "api.h"
#include "pipeline/pipeline.h"
#include "store/store.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_t, json_decref)

/* Limits of requests (the body of a JSON request, a form field, the parts of a form). */
#define API_MAX_JSON_BYTES (1024 * 1024)
#define API_MAX_FIELD_BYTES (1024 * 1024)
#define API_MAX_UPLOADS 20
#define API_MAX_PAGE 200
#define API_MEMORY_BODY (1024 * 1024) /* raw uploads larger than this go to a spool file */
#define API_GZIP_MIN_BYTES 1024         /* JSON answers from this size on are sent compressed
                                         * to clients that take gzip */

typedef struct Request Request;
typedef struct ApiCache ApiCache;

/* What identifies a request: an API token (Authorization: Bearer) or a session cookie. */
typedef enum { API_CREDENTIAL_TOKEN, API_CREDENTIAL_SESSION } ApiCredential;

/* Route flags: who may call it, and what body it reads. */
enum {
    AUTH_NONE = 0,      /* anyone */
    AUTH_USER = 1,      /* a logged-in user (session cookie with CSRF token, or API token) */
    AUTH_ADMIN = 2,     /* an admin of the tenant */
    BODY_JSON = 1 << 4, /* application/json */
    BODY_FORM = 1 << 5, /* application/json or multipart/form-data (with files) */
    BODY_RAW = 1 << 6,  /* message/rfc822: a mail for the capture pipeline */
};

typedef struct {
    const char *method;
    const char *pattern; /* "/api/v1/entries/{id}": {id} is a positive number */
    unsigned flags;
    void (*handle)(Request *r);
} ApiRoute;

/* A file of a multipart/form-data body, spooled to the data directory's tmp/. */
typedef struct {
    char *field;
    char *filename;     /* as sent, made safe (no path, no control characters) */
    char *content_type; /* as sent */
    int fd;
    char *path;
    gint64 size;
} ApiUpload;

struct Request {
    ClApi *api;
    struct MHD_Connection *conn;
    const ApiRoute *route;
    const char *method;
    char *path;
    gint64 ids[4]; /* the {id}s of the path, in order */
    guint n_ids;
    char *client;  /* the client's address */
    bool secure;   /* came over TLS (a trusted proxy says so) */
    gint64 started; /* monotonic µs */
    unsigned status;
    bool answered;
    char *set_cookie;   /* Set-Cookie of the answer */
    bool defer;         /* an answer made before the body is read waits for its end */
    struct MHD_Response *deferred;
    gint64 retry_after; /* seconds, for 429 */

    /* who asks */
    ClUser *user;
    char *session_hash; /* logged in by cookie: the session */
    char *csrf;

    /* the body */
    char *content_type; /* without parameters, lower case */
    gint64 body_limit;
    gint64 body_bytes;  /* received, including what was not kept */
    bool too_large;
    GByteArray *body;   /* JSON, or a raw mail while it is small */
    int spool_fd;       /* a raw mail past API_MEMORY_BODY; -1 */
    char *spool_path;
    struct MHD_PostProcessor *post;
    GHashTable *form;   /* field → GString */
    GPtrArray *uploads; /* ApiUpload * */
    char *form_error;   /* why the form cannot be read */

    ClStore *store;     /* this thread's, for the duration of one callback */
    gint64 generation;  /* of the page cache when the request began (-1: not asked) */
};

/* ---- api.c ---- */
const ClConfig *api_config(Request *r);
/* The store of this request's thread (valid until the handler returns). */
ClStore *api_store(Request *r);

/* Answers (once; later calls are ignored). body: transfer full. */
void api_reply_json(Request *r, unsigned status, json_t *body);
void api_reply_empty(Request *r, unsigned status);
/* RFC 9457 problem details: {"type", "title", "status", "detail", "code"}. */
void api_reply_problem(Request *r, unsigned status, const char *code, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);
/* The problem for a GError, through the one table of CL_ERROR codes. */
void api_reply_error(Request *r, const GError *error);
/* Answers with an MHD response (transfer full), adding the common headers. */
void api_reply_response(Request *r, unsigned status, struct MHD_Response *response);

/* Who asks (session cookie or API token); false after answering 401/403 — or,
 * when quiet, false without answering when nobody is logged in. */
bool api_identify(Request *r, bool quiet);

/* Ends the transaction of a change: committed when ok (and the commit works),
 * else rolled back and answered with *error. true when committed. */
bool api_commit(Request *r, bool ok, GError **error);

/* The parsed JSON body (transfer full); NULL after answering 400 (or 422: a string
 * with a NUL character, api_json_acceptable). Objects only when `object`. */
json_t *api_body_json(Request *r, bool object);
/* No string anywhere in v (a request's JSON) holds a NUL character: C reads strings up
 * to the first one. false after answering 422 naming the field. */
bool api_json_acceptable(Request *r, json_t *v);
/* A query parameter, or NULL. */
const char *api_query(Request *r, const char *name);
/* An integer query parameter in [min, max] (def when absent); false after answering 400. */
bool api_query_int(Request *r, const char *name, gint64 def, gint64 min, gint64 max,
                   gint64 *out);
/* ?cursor= of a history page: "TIME.ID"; false after answering 400. */
bool api_query_cursor(Request *r, gint64 *time_out, gint64 *id_out);
/* A request header, or NULL. */
const char *api_header(Request *r, const char *name);
/* A file name as a client sent it (a form's file part, a JSON attachment's "name"), made
 * safe (transfer full): its last path component, no control or bidirectional-override
 * characters, at most CL_MAX_FILENAME_BYTES; "attachment" when nothing is left. */
char *api_safe_filename(const char *name);
/* Sets a response header on the answer about to be made (cookies). */
void api_set_cookie(Request *r, const char *value);

/*
 * Login throttling, per account and per client address. account: a key of the
 * caller's, with a prefix for its kind ("u:ID" logins of a user, "e:ADDRESS"
 * logins with an unknown address, "p:ID" password changes). begin: seconds to
 * wait, or 0 — and then the attempt already counts as a failure of the account
 * until passed() clears it; failed() counts a failure of the client.
 */
gint64 api_throttle_begin(ClApi *api, const char *account, const char *client);
void api_throttle_failed(ClApi *api, const char *client);
void api_throttle_passed(ClApi *api, const char *account);
/* A password hash to verify against when there is no user (the same time either way). */
const char *api_dummy_hash(ClApi *api);
/* The OpenAPI document (borrowed). */
GBytes *api_openapi(ClApi *api);
/* The directory of the web UI's files, or NULL. */
const char *api_web_root(ClApi *api);

/* ---- api-cache.c: pages kept in memory ---- */
ApiCache *api_cache_new(void);
void api_cache_free(ApiCache *cache);
/* The current generation, moved on first when anything was committed since. */
gint64 api_cache_generation(ApiCache *cache, ClStore *store);
/* The ETag of a page: a hash of its bytes, quoted. */
char *api_page_etag(GBytes *body);
/* The page kept under key in this generation (transfer full), or NULL; then also
 * its gzip form when one was kept (else *gzip_out is NULL) and its ETag. */
GBytes *api_cache_lookup(ApiCache *cache, const char *key, gint64 generation,
                         GBytes **gzip_out, char **etag_out);
/* Keeps body (its gzip form, or NULL, and its ETag) under key, if still in this
 * generation; a gzip form added later to a kept body is kept beside it. */
void api_cache_store(ApiCache *cache, const char *key, gint64 generation, GBytes *body,
                     GBytes *gzip, const char *etag);
/* Who a token or session cookie (by hash; kind says which, and the two never
 * find each other's entries) is, when known in this generation, for at most
 * 10 s and not after the credential expires: *user_out (transfer full), its
 * CSRF token (a session's, never NULL) and when it was seen. */
bool api_cache_user(ApiCache *cache, ApiCredential kind, const char *hash, gint64 generation,
                    ClUser **user_out, char **csrf_out, gint64 *seen_out);
/* csrf: a session's CSRF token; NULL for a token. expires: when the session or
 * token ends (Unix seconds; 0: never). */
void api_cache_keep_user(ApiCache *cache, ApiCredential kind, const char *hash,
                         gint64 generation, const ClUser *user, const char *csrf, gint64 seen,
                         gint64 expires);
/* The page cache's generation for this request (asked once; 0 without a cache). */
gint64 api_generation(Request *r);
/* The cache of pages, or NULL when http.page_cache is off. */
ApiCache *api_page_cache(ClApi *api);
/* Answers with JSON bytes (borrowed: a reference is taken), or their gzip form
 * (gzip, or NULL: the client asked for it) with Content-Encoding: gzip. */
void api_reply_bytes(Request *r, unsigned status, GBytes *json, GBytes *gzip, const char *etag);
/* The client takes Content-Encoding: gzip (Accept-Encoding). */
bool api_wants_gzip(Request *r);
/* data in the gzip format at zlib's level (1 fast … 9 small); NULL on failure. */
GBytes *api_gzip(const void *data, gsize len, int level);

/* ---- api-json.c: the API's shapes ---- */
json_t *api_time_json(gint64 t);
json_t *api_text_json(const char *text);
json_t *api_item_json(const ClItem *item); /* {"id", "key" | "number", "name"} or null */
json_t *api_user_json(const ClUser *user); /* the logged-in user */
/* Appends a JSON string (escaped; invalid UTF-8 repaired) or null. */
void api_put_string(GString *out, const char *s);
/* Appends an entry (a row of cl_store_entry_rows) as a JSON object; full (may be
 * NULL): the same entry read whole, for its text (read from the original for
 * mail) and addresses. */
void api_row_write(Request *r, GString *out, const ClEntryRow *row, ClEntry *full);
/* Appends "items": [the query's entries], "next_cursor": "TIME.ID" | null
 * (members, no braces; follow-ups, by date, have no cursor). */
bool api_page_write(Request *r, GString *out, const ClEntryQuery *query, GError **error);
/* Appends one entry, read again as stored; full: with text and addresses. */
bool api_entry_write(Request *r, GString *out, ClEntry *entry, bool full, GError **error);
/* Answers with JSON text (transfer full). */
void api_reply_text(Request *r, unsigned status, GString *json);
/* The id of a record named in a JSON value: an id, or a key (lead: number) of
 * the tenant; 0 when null. -1 after answering 422 (field named). */
gint64 api_record_id(Request *r, ClItemKind kind, json_t *value, const char *field);
/* A list of record ids (transfer full, gint64 *); NULL after answering. */
GPtrArray *api_record_ids(Request *r, ClItemKind kind, json_t *list, const char *field);

/* ---- handlers ---- */
void api_health(Request *r);
void api_metrics(Request *r);
void api_openapi_json(Request *r);
void api_web_file(Request *r);

void api_session_create(Request *r);
void api_session_delete(Request *r);
void api_session_get(Request *r);
void api_me(Request *r);
void api_me_update(Request *r);
void api_me_password(Request *r);
void api_tokens_list(Request *r);
void api_tokens_create(Request *r);
void api_tokens_delete(Request *r);
void api_notifications_list(Request *r);
void api_notification_read(Request *r);
void api_notifications_read_all(Request *r);
void api_users_list(Request *r);

void api_inbox(Request *r);
void api_followups(Request *r);
void api_search(Request *r);
void api_history_company(Request *r);
void api_history_lead(Request *r);
void api_history_project(Request *r);
void api_entry_get(Request *r);
void api_entry_create(Request *r);
void api_entry_update(Request *r);
void api_entry_delete(Request *r);
void api_entry_confirm(Request *r);
void api_entry_discard(Request *r);
void api_attachment_add(Request *r);
void api_attachment_get(Request *r);
void api_attachment_delete(Request *r);
void api_original_get(Request *r);
void api_message_upload(Request *r);

void api_companies_list(Request *r);
void api_company_get(Request *r);
void api_company_create(Request *r);
void api_company_update(Request *r);
void api_contacts_list(Request *r);
void api_contact_get(Request *r);
void api_contact_create(Request *r);
void api_contact_update(Request *r);
void api_leads_list(Request *r);
void api_lead_get(Request *r);
void api_lead_create(Request *r);
void api_lead_update(Request *r);
void api_projects_list(Request *r);
void api_project_get(Request *r);
void api_project_create(Request *r);
void api_project_update(Request *r);

void api_admin_tenant(Request *r);
void api_admin_tenant_update(Request *r);
void api_admin_users_list(Request *r);
void api_admin_user_get(Request *r);
void api_admin_user_create(Request *r);
void api_admin_user_update(Request *r);
void api_admin_rejections(Request *r);
