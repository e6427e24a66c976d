/*
 * pipeline.c — runs parse → route → match → store for one message and turns
 * the outcome into a ClResult. Stage: pipeline. The only place where the stages
 * meet; route/ and match/ stay pure because this file hands them the store's
 * directory.
 *
 * Durability: everything a result promises (entry, rejection record, blobs) is
 * committed before the function returns, or — in a batch — before
 * cl_pipeline_batch_commit() returns.
 */
#include "pipeline.h"

#include <jansson.h>
#include <string.h>
#include <unistd.h>

#include "match/match.h"
#include "parse/parse.h"
#include "route/route.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_t, json_decref)

struct ClPipeline {
    ClStore *store;          /* borrowed */
    const ClConfig *config;  /* borrowed */
    bool in_batch;
};

const char *
cl_result_status_name(ClResultStatus status)
{
    static const char *names[] = { "pending", "saved", "duplicate", "rejected" };
    return (unsigned)status < G_N_ELEMENTS(names) ? names[status] : "rejected";
}

void
cl_result_free(ClResult *r)
{
    if (r == NULL)
        return;
    g_free(r->message);
    g_free(r->tenant_key);
    g_free(r->user_key);
    cl_entry_free(r->entry);
    g_free(r);
}

ClPipeline *
cl_pipeline_new(ClStore *store, const ClConfig *config)
{
    cl_parse_init();
    ClPipeline *p = g_new0(ClPipeline, 1);
    p->store = store;
    p->config = config;
    return p;
}

void
cl_pipeline_free(ClPipeline *p)
{
    if (p == NULL)
        return;
    if (p->in_batch)
        cl_pipeline_batch_abort(p);
    g_free(p);
}

bool
cl_pipeline_batch_begin(ClPipeline *p, GError **error)
{
    g_return_val_if_fail(!p->in_batch, false);
    if (!cl_store_begin(p->store, error))
        return false;
    p->in_batch = true;
    return true;
}

bool
cl_pipeline_batch_commit(ClPipeline *p, GError **error)
{
    g_return_val_if_fail(p->in_batch, false);
    p->in_batch = false;
    /* Blobs first: the commit must never name a file that a crash could lose. */
    if (!cl_store_sync(p->store, error)) {
        cl_store_rollback(p->store);
        return false;
    }
    return cl_store_commit(p->store, error);
}

void
cl_pipeline_batch_abort(ClPipeline *p)
{
    if (p->in_batch)
        cl_store_rollback(p->store);
    p->in_batch = false;
}

static json_t *
address_list(GPtrArray *list)
{
    json_t *arr = json_array();
    for (guint i = 0; list && i < list->len; i++) {
        ClAddress *a = g_ptr_array_index(list, i);
        json_t *o = json_object();
        json_object_set_new(o, "name", a->name ? json_string(a->name) : json_null());
        json_object_set_new(o, "address", json_string(a->address));
        json_array_append_new(arr, o);
    }
    return arr;
}

static char *
addresses_json(const ClMessage *msg, const ClEnvelope *env)
{
    g_autoptr(json_t) o = json_object();
    g_autoptr(GPtrArray) from = g_ptr_array_new();
    if (msg->from)
        g_ptr_array_add(from, msg->from);
    json_object_set_new(o, "from", address_list(from));
    json_object_set_new(o, "to", address_list(msg->to));
    json_object_set_new(o, "cc", address_list(msg->cc));
    json_object_set_new(o, "reply_to", address_list(msg->reply_to));
    json_t *e = json_object();
    json_object_set_new(e, "sender", env && env->sender ? json_string(env->sender) : json_null());
    json_t *rcpts = json_array();
    for (guint i = 0; env && i < env->rcpts->len; i++)
        json_array_append_new(rcpts, json_string(g_ptr_array_index(env->rcpts, i)));
    json_object_set_new(e, "recipients", rcpts);
    json_object_set_new(o, "envelope", e);
    return json_dumps(o, JSON_COMPACT);
}

static char *
envelope_json(const ClEnvelope *env)
{
    if (env == NULL)
        return NULL;
    g_autoptr(json_t) e = json_object();
    json_object_set_new(e, "sender", env->sender ? json_string(env->sender) : json_null());
    json_t *rcpts = json_array();
    for (guint i = 0; i < env->rcpts->len; i++)
        json_array_append_new(rcpts, json_string(g_ptr_array_index(env->rcpts, i)));
    json_object_set_new(e, "recipients", rcpts);
    return json_dumps(e, JSON_COMPACT);
}

/* Within a transaction (batch or single). */
static bool
store_blob(ClPipeline *p, ClRawMessage *raw, GError **error)
{
    if (raw->path == NULL)
        return true; /* already adopted (same content earlier) */
    if (!cl_store_blob_adopt(p->store, raw->path, raw->sha256, !p->in_batch, error))
        return false;
    g_clear_pointer(&raw->path, g_free);
    return true;
}

static ClResult *
reject(ClPipeline *p, ClRawMessage *raw, const ClEnvelope *env, const ClMessage *msg,
       const ClItem *tenant, const char *reason, const char *message, GError **error)
{
    bool keep_raw = strcmp(reason, "too-large") != 0;
    if (keep_raw && !store_blob(p, raw, error))
        return NULL;
    g_autofree char *envj = envelope_json(env);
    ClRejection rej = {
        .tenant_id = tenant ? tenant->id : 0,
        .reason = reason,
        .message = message,
        .sender = msg && msg->from ? msg->from->address : (env ? env->sender : NULL),
        .envelope_json = envj,
        .subject = msg ? msg->subject : NULL,
        .message_id = msg ? msg->message_id : NULL,
        .origin = raw->origin,
        .raw_sha256 = keep_raw ? raw->sha256 : NULL,
        .raw_size = raw->size,
    };
    if (!cl_store_rejection_insert(p->store, &rej, error))
        return NULL;
    ClResult *r = g_new0(ClResult, 1);
    r->status = CL_RESULT_REJECTED;
    r->reason = reason;
    r->message = g_strdup(message);
    r->tenant_key = tenant ? g_strdup(tenant->key) : NULL;
    return r;
}

static bool
store_attachments(ClPipeline *p, ClMessage *msg, ClEntry *entry, GError **error)
{
    for (guint i = 0; i < msg->attachments->len; i++) {
        ClAttachment *att = g_ptr_array_index(msg->attachments, i);
        g_autofree char *path = NULL;
        int fd = cl_store_tmp_file(p->store, &path, error);
        if (fd < 0)
            return false;
        ClEntryAttachment *a = g_new0(ClEntryAttachment, 1);
        char sha[65];
        bool ok = cl_message_attachment_write(msg, att, fd, sha, &a->size, error);
        close(fd);
        if (ok)
            ok = cl_store_blob_adopt(p->store, path, sha, !p->in_batch, error);
        if (!ok) {
            unlink(path);
            g_free(a);
            return false;
        }
        a->name = g_strdup(att->filename);
        a->content_type = g_strdup(att->content_type);
        a->sha256 = g_strdup(sha);
        g_ptr_array_add(entry->attachments, a);
    }
    return true;
}

static ClResult *
duplicate(ClPipeline *p, ClRoute *route, gint64 id, GError **error)
{
    ClEntry *existing = cl_store_entry_get(p->store, route->tenant->id, id, error);
    if (existing == NULL)
        return NULL;
    ClResult *r = g_new0(ClResult, 1);
    r->status = CL_RESULT_DUPLICATE;
    r->tenant_key = g_strdup(route->tenant->key);
    r->user_key = g_strdup(route->user->key);
    r->entry = existing;
    return r;
}

static ClResult *
accept(ClPipeline *p, ClRawMessage *raw, const ClEnvelope *env, ClMessage *msg, ClRoute *route,
       GError **error)
{
    ClDirectory dir = cl_store_directory(p->store);
    gint64 tenant_id = route->tenant->id;

    /* Rule 9: the same Message-ID in the same tenant changes nothing. */
    if (msg->message_id != NULL) {
        gint64 id = cl_store_entry_find_message_id(p->store, tenant_id, msg->message_id, error);
        if (id < 0)
            return NULL;
        if (id > 0)
            return duplicate(p, route, id, error);
    }

    ClTenantSettings settings;
    if (!dir.ops->tenant_settings(dir.self, tenant_id, &settings, error))
        return NULL;
    g_autoptr(GPtrArray) rcpts = g_ptr_array_new();
    GPtrArray *lists[] = { msg->to, msg->cc };
    for (gsize l = 0; l < G_N_ELEMENTS(lists); l++)
        for (guint i = 0; i < lists[l]->len; i++)
            g_ptr_array_add(rcpts, ((ClAddress *)g_ptr_array_index(lists[l], i))->address);
    g_ptr_array_add(rcpts, NULL);
    ClMatchInput in = {
        .tenant_id = tenant_id,
        .settings = settings,
        .subject = msg->subject,
        .recipients = (const char *const *)rcpts->pdata,
    };
    g_autoptr(ClMatch) match = cl_match_decide(&dir, &in, error);
    if (match == NULL)
        return NULL;

    g_autoptr(ClEntry) e = cl_entry_new();
    e->tenant_id = tenant_id;
    e->tenant_key = g_strdup(route->tenant->key);
    e->state = settings.auto_save ? CL_ENTRY_SAVED : CL_ENTRY_PENDING;
    e->from_mail = true;
    e->channel = CL_CHANNEL_EMAIL;
    e->contact_time = msg->date;
    e->author = cl_item_copy(route->user);
    e->company = match->company ? cl_item_copy(match->company) : NULL;
    for (guint i = 0; i < match->contacts->len; i++)
        g_ptr_array_add(e->contacts, cl_item_copy(g_ptr_array_index(match->contacts, i)));
    e->lead = match->lead ? cl_item_copy(match->lead) : NULL;
    e->project = match->project ? cl_item_copy(match->project) : NULL;
    for (guint i = 0; i < match->candidates->len; i++)
        g_ptr_array_add(e->candidates, cl_item_copy(g_ptr_array_index(match->candidates, i)));
    for (guint i = 0; i < route->reasons->len; i++) {
        ClReason *r = g_ptr_array_index(route->reasons, i);
        g_ptr_array_add(e->reasons, cl_reason_new(r->field, r->rule, r->detail));
    }
    for (guint i = 0; i < match->reasons->len; i++) {
        ClReason *r = g_ptr_array_index(match->reasons, i);
        g_ptr_array_add(e->reasons, cl_reason_new(r->field, r->rule, r->detail));
    }
    e->subject = g_strdup(msg->subject);
    e->body = g_strdup(msg->text);
    e->body_from_html = msg->text_from_html;
    e->message_id = g_strdup(msg->message_id);
    e->in_reply_to = g_strdup(msg->in_reply_to);
    e->addresses_json = addresses_json(msg, env);
    e->raw_sha256 = g_strdup(raw->sha256);
    e->raw_size = raw->size;

    if (!store_attachments(p, msg, e, error) || !store_blob(p, raw, error))
        return NULL;
    if (!cl_store_entry_insert(p->store, e, error))
        return NULL;

    ClResult *r = g_new0(ClResult, 1);
    r->status = settings.auto_save ? CL_RESULT_SAVED : CL_RESULT_PENDING;
    r->tenant_key = g_strdup(route->tenant->key);
    r->user_key = g_strdup(route->user->key);
    r->entry = g_steal_pointer(&e);
    return r;
}

static ClResult *
process(ClPipeline *p, ClRawMessage *raw, const ClEnvelope *env, GError **error)
{
    if (cl_raw_message_too_large(raw)) {
        g_autofree char *msg = g_strdup_printf(
            "The message is %" G_GINT64_FORMAT " bytes; contactlog accepts at most %" G_GINT64_FORMAT
            " bytes.",
            raw->size, p->config->max_message_bytes);
        return reject(p, raw, env, NULL, NULL, "too-large", msg, error);
    }
    g_autoptr(GError) parse_error = NULL;
    g_autoptr(ClMessage) msg = cl_parse_message_fd(raw->fd, raw->stored, &parse_error);
    if (msg == NULL) {
        if (!g_error_matches(parse_error, CL_ERROR, CL_ERROR_INVALID)) {
            g_propagate_error(error, g_steal_pointer(&parse_error));
            return NULL;
        }
        g_autofree char *text = g_strdup_printf("The message cannot be read: %s.",
                                                parse_error->message);
        return reject(p, raw, env, NULL, NULL, "malformed", text, error);
    }
    ClDirectory dir = cl_store_directory(p->store);
    g_autoptr(ClRoute) route =
        cl_route_decide(&dir, msg->from ? msg->from->address : NULL, error);
    if (route == NULL)
        return NULL;
    if (!route->accepted)
        return reject(p, raw, env, msg, route->tenant, route->reason, route->message, error);
    return accept(p, raw, env, msg, route, error);
}

ClResult *
cl_pipeline_process(ClPipeline *p, ClRawMessage *raw, const ClEnvelope *env, GError **error)
{
    bool single = !p->in_batch;
    if (single ? !cl_store_begin(p->store, error) : !cl_store_savepoint(p->store, error))
        return NULL;
    g_autoptr(GError) local = NULL;
    g_autoptr(ClResult) r = process(p, raw, env, &local);
    if (r == NULL) {
        if (single)
            cl_store_rollback(p->store);
        else
            cl_store_rollback_to(p->store);
        /* Only "try again later" leaves the pipeline: every other failure of
         * one message is either a decision (above) or a bug. */
        if (local->domain == CL_ERROR && local->code != CL_ERROR_TEMPFAIL) {
            g_prefix_error(&local, "%s: ", cl_error_code_name(local->code));
            local->code = CL_ERROR_TEMPFAIL;
        }
        g_propagate_error(error, g_steal_pointer(&local));
        return NULL;
    }
    bool ok = single ? cl_store_commit(p->store, error) : cl_store_release(p->store, error);
    if (!ok) {
        if (!single)
            cl_store_rollback_to(p->store);
        return NULL;
    }
    return g_steal_pointer(&r);
}
