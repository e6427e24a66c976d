/*
 * api-auth.c — logging in and out, the user's own settings, personal API
 * tokens, notifications, the list of colleagues; /healthz, /metrics and the
 * OpenAPI document. Stage: API.
 *
 * Passwords are checked with argon2id (libsodium); an unknown address costs
 * as long as a wrong password, so that nobody learns from the time which
 * addresses are users. Failed logins are throttled per user (whichever of their
 * addresses is given; an address of nobody on its own) and per client address.
 */
#include "api-private.h"

#include <string.h>

#define TOKEN_BYTES 32
#define CSRF_BYTES 24

void
api_health(Request *r)
{
    /* Healthy when the database answers. */
    g_autoptr(GError) error = NULL;
    g_autoptr(ClItem) none = cl_store_find(api_store(r), CL_ITEM_TENANT, 0, "", &error);
    if (none == NULL && !g_error_matches(error, CL_ERROR, CL_ERROR_NOT_FOUND)) {
        api_reply_problem(r, 503, "tempfail", "the database does not answer: %s", error->message);
        return;
    }
    api_reply_json(r, 200, json_pack("{s:s, s:s}", "status", "ok", "version", CL_VERSION_STRING));
}

void
api_metrics(Request *r)
{
    char *text = cl_metrics_text();
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback(strlen(text), text, g_free);
    MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    api_reply_response(r, 200, resp);
}

void
api_openapi_json(Request *r)
{
    gsize len = 0;
    const void *data = g_bytes_get_data(api_openapi(r->api), &len);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    api_reply_response(r, 200, resp);
}

static void
session_cookie(Request *r, const char *token, gint64 max_age)
{
    g_autofree char *value = g_strdup_printf(
        "cl_session=%s; Path=/; Max-Age=%" G_GINT64_FORMAT "; HttpOnly; SameSite=Strict%s",
        token, max_age, r->secure ? "; Secure" : "");
    api_set_cookie(r, value);
}

/* The user, the session's CSRF token, and what waits for them (the UI's badges). */
static json_t *
me_json(Request *r, const char *csrf)
{
    json_t *o = json_pack("{s:b, s:o}", "authenticated", 1, "user", api_user_json(r->user));
    json_object_set_new(o, "csrf_token", api_text_json(csrf));
    g_autoptr(GDateTime) now = g_date_time_new_now_local();
    g_autofree char *today = g_date_time_format(now, "%Y-%m-%d");
    gint64 pending = 0, due = 0, unread = 0;
    g_autoptr(GError) error = NULL;
    if (!cl_store_user_counts(api_store(r), r->user->tenant_id, r->user->id, today, &pending,
                              &due, &unread, &error))
        g_warning("event=counts-failed error=\"%s\"", error->message);
    json_object_set_new(o, "unread_notifications", json_integer(unread));
    json_object_set_new(o, "counts", json_pack("{s:I, s:I, s:I}", "pending", (json_int_t)pending,
                                               "followups_due", (json_int_t)due,
                                               "unread_notifications", (json_int_t)unread));
    return o;
}

void
api_session_get(Request *r)
{
    /* Whether the browser is logged in, without a 401 for the answer "no". */
    if (!api_identify(r, true)) {
        if (!r->answered)
            api_reply_json(r, 200, json_pack("{s:b}", "authenticated", 0));
        return;
    }
    api_reply_json(r, 200, me_json(r, r->csrf));
}

void
api_session_create(Request *r)
{
    g_autoptr(json_t) body = api_body_json(r, true);
    if (body == NULL)
        return;
    const char *email = json_string_value(json_object_get(body, "email"));
    const char *password = json_string_value(json_object_get(body, "password"));
    if (email == NULL || password == NULL || *email == '\0') {
        api_reply_problem(r, 422, "invalid", "give \"email\" and \"password\"");
        return;
    }
    g_autofree char *folded = cl_address_fold(email);
    if (folded == NULL || strlen(folded) > 320 || strlen(password) > 1024) {
        api_reply_problem(r, 422, "invalid", "\"email\" or \"password\" is not acceptable");
        return;
    }
    g_autoptr(GError) error = NULL;
    g_autofree char *hash = NULL;
    g_autoptr(ClUser) user = cl_store_user_for_login(api_store(r), email, &hash, &error);
    if (user == NULL && !g_error_matches(error, CL_ERROR, CL_ERROR_NOT_FOUND)) {
        api_reply_error(r, error);
        return;
    }
    /* The account is the user, whichever of their addresses is given (else
     * each address would have guesses of its own); an address of nobody is an
     * account of its own, answered alike. */
    g_autofree char *account = user ? g_strdup_printf("u:%" G_GINT64_FORMAT, user->id)
                                    : g_strconcat("e:", folded, NULL);
    gint64 wait = api_throttle_begin(r->api, account, r->client);
    if (wait > 0) {
        r->retry_after = wait;
        api_reply_problem(r, 429, "throttled",
                          "too many failed logins; try again in %" G_GINT64_FORMAT " seconds", wait);
        return;
    }
    /* The same work whether or not the user exists. */
    bool ok = cl_password_verify(hash ? hash : api_dummy_hash(r->api), password);
    if (user == NULL || hash == NULL || !ok || !user->active) {
        api_throttle_failed(r->api, r->client);
        g_info("event=login-failed client=%s", r->client);
        api_reply_problem(r, 401, "login-failed", "the e-mail address or the password is wrong");
        return;
    }
    api_throttle_passed(r->api, account);
    g_autofree char *token = cl_random_token(TOKEN_BYTES);
    g_autofree char *csrf = cl_random_token(CSRF_BYTES);
    char token_hash[CL_HASH_HEX_LEN];
    cl_secret_hash(token, token_hash);
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;
    gint64 timeout = api_config(r)->session_timeout;
    if (!cl_store_session_create(api_store(r), token_hash, user, csrf, now + timeout, r->client,
                                 &error)) {
        api_reply_error(r, error);
        return;
    }
    g_info("event=login user=%s tenant=%s client=%s", user->key, user->tenant_key, r->client);
    r->user = g_steal_pointer(&user);
    session_cookie(r, token, timeout);
    api_reply_json(r, 201, me_json(r, csrf));
}

void
api_session_delete(Request *r)
{
    g_autoptr(GError) error = NULL;
    if (r->session_hash != NULL && !cl_store_session_delete(api_store(r), r->session_hash, &error)) {
        api_reply_error(r, error);
        return;
    }
    session_cookie(r, "", 0);
    api_reply_empty(r, 204);
}

void
api_me(Request *r)
{
    api_reply_json(r, 200, me_json(r, r->csrf));
}

void
api_me_update(Request *r)
{
    g_autoptr(json_t) body = api_body_json(r, true);
    if (body == NULL)
        return;
    const char *field;
    json_t *v;
    json_object_foreach(body, field, v) {
        if (strcmp(field, "locale") != 0) {
            api_reply_problem(r, 422, "invalid", "only \"locale\" can be changed here, not \"%s\"",
                              field);
            return;
        }
    }
    json_t *value = json_object_get(body, "locale");
    const char *locale = json_string_value(value);
    if (value != NULL && locale == NULL) {
        api_reply_problem(r, 422, "invalid", "\"locale\" must be \"de\" or \"en\"");
        return;
    }
    g_autoptr(GError) error = NULL;
    if (locale != NULL) {
        if (!cl_store_user_set_locale(api_store(r), r->user->tenant_id, r->user->id, locale,
                                      &error)) {
            api_reply_error(r, error);
            return;
        }
        g_free(r->user->locale);
        r->user->locale = g_strdup(locale);
    }
    api_reply_json(r, 200, me_json(r, r->csrf));
}

void
api_me_password(Request *r)
{
    g_autoptr(json_t) body = api_body_json(r, true);
    if (body == NULL)
        return;
    const char *current = json_string_value(json_object_get(body, "current"));
    const char *next = json_string_value(json_object_get(body, "new"));
    if (current == NULL || next == NULL) {
        api_reply_problem(r, 422, "invalid", "give \"current\" and \"new\"");
        return;
    }
    if (g_utf8_strlen(next, -1) < 8 || strlen(next) > 1024) {
        api_reply_problem(r, 422, "invalid", "the new password must have 8 characters or more");
        return;
    }
    g_autoptr(GError) error = NULL;
    /* Throttled apart from logins ("p:"): nobody's failed logins make a
     * user's own password change wait. */
    g_autofree char *account = g_strdup_printf("p:%" G_GINT64_FORMAT, r->user->id);
    gint64 wait = api_throttle_begin(r->api, account, r->client);
    if (wait > 0) {
        r->retry_after = wait;
        api_reply_problem(r, 429, "throttled", "too many wrong passwords; try again in %"
                          G_GINT64_FORMAT " seconds", wait);
        return;
    }
    g_autofree char *hash = NULL;
    if (!cl_store_user_password_hash(api_store(r), r->user->tenant_id, r->user->id, &hash,
                                     &error)) {
        api_reply_error(r, error);
        return;
    }
    if (!cl_password_verify(hash ? hash : api_dummy_hash(r->api), current) || hash == NULL) {
        api_throttle_failed(r->api, r->client);
        api_reply_problem(r, 403, "wrong-password", "the current password is wrong");
        return;
    }
    api_throttle_passed(r->api, account);
    g_autofree char *new_hash = cl_password_hash(next, &error);
    if (new_hash == NULL ||
        !cl_store_user_set_password(api_store(r), r->user->tenant_id, r->user->id, new_hash,
                                    r->session_hash, &error)) {
        api_reply_error(r, error);
        return;
    }
    api_reply_empty(r, 204);
}

/* ---- API tokens ---------------------------------------------------------------------------- */

void
api_tokens_list(Request *r)
{
    g_autoptr(GError) error = NULL;
    json_t *list = cl_store_tokens_json(api_store(r), r->user->tenant_id, r->user->id, &error);
    if (list == NULL) {
        api_reply_error(r, error);
        return;
    }
    api_reply_json(r, 200, json_pack("{s:o}", "items", list));
}

void
api_tokens_create(Request *r)
{
    g_autoptr(json_t) body = api_body_json(r, true);
    if (body == NULL)
        return;
    const char *name = json_string_value(json_object_get(body, "name"));
    if (name == NULL || *name == '\0') {
        api_reply_problem(r, 422, "invalid", "give the token a \"name\" (what it is for)");
        return;
    }
    if (strlen(name) > 200) {
        api_reply_problem(r, 422, "invalid", "the token's \"name\" is at most 200 bytes");
        return;
    }
    json_t *days = json_object_get(body, "expires_days");
    if (days != NULL && !json_is_null(days) &&
        (!json_is_integer(days) || json_integer_value(days) < 1 ||
         json_integer_value(days) > 3650)) {
        api_reply_problem(r, 422, "invalid", "\"expires_days\" must be from 1 to 3650, or null");
        return;
    }
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;
    gint64 expires = json_is_integer(days) ? now + json_integer_value(days) * 86400 : 0;
    g_autofree char *secret = cl_random_token(TOKEN_BYTES);
    g_autofree char *token = g_strconcat("clt_", secret, NULL);
    char hash[CL_HASH_HEX_LEN];
    cl_secret_hash(token, hash);
    g_autofree char *prefix = g_strndup(token, 10);
    g_autoptr(GError) error = NULL;
    gint64 id = cl_store_token_create(api_store(r), r->user, name, hash, prefix, expires, &error);
    if (id < 0) {
        api_reply_error(r, error);
        return;
    }
    /* The only time the token is shown: only its hash is kept. */
    api_reply_json(r, 201, json_pack("{s:I, s:s, s:s, s:s, s:o}", "id", (json_int_t)id, "name",
                                     name, "token", token, "prefix", prefix, "expires",
                                     api_time_json(expires)));
}

void
api_tokens_delete(Request *r)
{
    g_autoptr(GError) error = NULL;
    if (!cl_store_token_delete(api_store(r), r->user->tenant_id, r->user->id, r->ids[0], &error)) {
        api_reply_error(r, error);
        return;
    }
    api_reply_empty(r, 204);
}

/* ---- notifications -------------------------------------------------------------------------- */

void
api_notifications_list(Request *r)
{
    gint64 limit, before, unread;
    if (!api_query_int(r, "limit", 50, 1, API_MAX_PAGE, &limit) ||
        !api_query_int(r, "cursor", 0, 0, G_MAXINT64, &before) ||
        !api_query_int(r, "unread", 0, 0, 1, &unread))
        return;
    g_autoptr(GError) error = NULL;
    json_t *items = cl_store_notifications_json(api_store(r), r->user->tenant_id, r->user->id,
                                                unread, before, (guint)limit, &error);
    if (items == NULL) {
        api_reply_error(r, error);
        return;
    }
    json_t *next = json_null();
    if (json_array_size(items) == (size_t)limit) {
        json_t *last = json_array_get(items, json_array_size(items) - 1);
        g_autofree char *c = g_strdup_printf("%" G_GINT64_FORMAT,
                                             (gint64)json_integer_value(json_object_get(last, "id")));
        next = json_string(c);
    }
    gint64 count = cl_store_notifications_unread(api_store(r), r->user->tenant_id, r->user->id,
                                                 &error);
    if (count < 0) {
        json_decref(items);
        json_decref(next);
        api_reply_error(r, error);
        return;
    }
    api_reply_json(r, 200, json_pack("{s:o, s:o, s:I}", "items", items, "next_cursor", next,
                                     "unread", (json_int_t)count));
}

void
api_notification_read(Request *r)
{
    g_autoptr(GError) error = NULL;
    if (!cl_store_notifications_read(api_store(r), r->user->tenant_id, r->user->id, r->ids[0],
                                     &error)) {
        api_reply_error(r, error);
        return;
    }
    api_reply_empty(r, 204);
}

void
api_notifications_read_all(Request *r)
{
    g_autoptr(GError) error = NULL;
    if (!cl_store_notifications_read(api_store(r), r->user->tenant_id, r->user->id, 0, &error)) {
        api_reply_error(r, error);
        return;
    }
    api_reply_empty(r, 204);
}

void
api_users_list(Request *r)
{
    /* Colleagues, for "Benutzer informieren": names, no addresses. */
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) users = cl_store_users_list(api_store(r), r->user->tenant_id, &error);
    if (users == NULL) {
        api_reply_error(r, error);
        return;
    }
    json_t *items = json_array();
    for (guint i = 0; i < users->len; i++) {
        ClItem *u = g_ptr_array_index(users, i);
        g_autoptr(ClUser) full = cl_store_user_get(api_store(r), u->tenant_id, u->id, NULL);
        if (full != NULL && full->active)
            json_array_append_new(items, api_item_json(u));
    }
    api_reply_json(r, 200, json_pack("{s:o}", "items", items));
}
