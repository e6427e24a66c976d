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

/* An attachment decoded and hashed on the parse thread. */
typedef struct {
    GByteArray *bytes;
    char hash[CL_HASH_HEX_LEN];
} Decoded;

static void
decoded_free(Decoded *d)
{
    g_byte_array_unref(d->bytes);
    g_free(d);
}

struct ClPipeline {
    ClStore *store;          /* borrowed */
    const ClConfig *config;  /* borrowed */
    bool in_batch;
    GHashTable *routes;      /* sender → ClRoute, for the current batch */
    gint64 settings_tenant;  /* whose settings are cached for the current batch, 0: none */
    ClTenantSettings settings;
    gint64 only_tenant;      /* cl_pipeline_restrict(): 0 = any */
    gint64 only_user;
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
    p->routes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify)cl_route_free);
    return p;
}

void
cl_pipeline_free(ClPipeline *p)
{
    if (p == NULL)
        return;
    if (p->in_batch)
        cl_pipeline_batch_abort(p);
    g_hash_table_unref(p->routes);
    g_free(p);
}

bool
cl_pipeline_batch_begin(ClPipeline *p, GError **error)
{
    g_return_val_if_fail(!p->in_batch, false);
    if (!cl_store_begin(p->store, error))
        return false;
    g_hash_table_remove_all(p->routes);
    p->settings_tenant = 0;
    p->in_batch = true;
    return true;
}

bool
cl_pipeline_batch_commit(ClPipeline *p, GError **error)
{
    g_return_val_if_fail(p->in_batch, false);
    p->in_batch = false;
    return cl_store_commit(p->store, error); /* syncs the blob pack first */
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

static json_t *
time_or_null(gint64 t)
{
    if (t == 0)
        return json_null();
    g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(t);
    g_autofree char *s = g_date_time_format_iso8601(dt);
    return json_string(s);
}

/* The forwarded mail as the entry shows it (rule 5): who wrote it to whom, when. */
static json_t *
original_json(const ClForward *f)
{
    json_t *o = json_object();
    json_object_set_new(o, "format", json_string(f->format));
    g_autoptr(GPtrArray) from = g_ptr_array_new();
    if (f->from)
        g_ptr_array_add(from, f->from);
    json_object_set_new(o, "from", address_list(from));
    if (f->from_text)
        json_object_set_new(o, "from_text", json_string(f->from_text));
    json_object_set_new(o, "to", address_list(f->to));
    json_object_set_new(o, "cc", address_list(f->cc));
    json_object_set_new(o, "date", time_or_null(f->date));
    json_object_set_new(o, "date_text", f->date_text ? json_string(f->date_text) : json_null());
    json_object_set_new(o, "subject", f->subject ? json_string(f->subject) : json_null());
    json_object_set_new(o, "message_id", f->message_id ? json_string(f->message_id) : json_null());
    return o;
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
    if (msg->forwards->len > 0) {
        json_t *list = json_array();
        for (guint i = 0; i < msg->forwards->len; i++)
            json_array_append_new(list, original_json(msg->forwards->pdata[i]));
        json_object_set_new(o, "forwarded", list);
    }
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

/* Within a transaction (batch or single): the original message as a blob. */
static bool
store_raw(ClPipeline *p, ClRawMessage *raw, char hash[CL_HASH_HEX_LEN], GError **error)
{
    if (raw->data != NULL) {
        memcpy(hash, raw->hash, CL_HASH_HEX_LEN);
        return cl_store_blob_put_data(p->store, raw->data->data, raw->data->len, hash, error);
    }
    return cl_store_blob_put_fd(p->store, raw->fd, raw->offset, raw->stored, hash, error);
}

/* A refusal that is answered to the uploader and recorded nowhere (restricted pipelines). */
static ClResult *
refuse(const char *reason, const char *message)
{
    ClResult *r = g_new0(ClResult, 1);
    r->status = CL_RESULT_REJECTED;
    r->reason = reason;
    r->message = g_strdup(message);
    return r;
}

static ClResult *
reject(ClPipeline *p, ClRawMessage *raw, const ClEnvelope *env, const ClMessage *msg,
       const ClItem *tenant, const char *reason, const char *message, GError **error)
{
    bool keep_raw = strcmp(reason, "too-large") != 0;
    char hash[CL_HASH_HEX_LEN] = "";
    /* The same mail refused again (an import run twice, an MTA retrying) is
     * answered the same, and recorded (and kept) once: known by its
     * Message-ID and sender first, else by its bytes. */
    const char *sender = msg && msg->from ? msg->from->address : (env ? env->sender : NULL);
    if (sender != NULL && *sender == '\0')
        sender = NULL; /* MAIL FROM:<> is no sender, as an import's mail without From has none */
    int known = msg && msg->message_id
                    ? cl_store_rejection_known(p->store, NULL, msg->message_id, sender, error)
                    : 0;
    if (known == 0 && keep_raw) {
        if (!store_raw(p, raw, hash, error))
            return NULL;
        known = cl_store_rejection_known(p->store, hash, NULL, NULL, error);
    }
    if (known < 0)
        return NULL;
    g_autofree char *envj = envelope_json(env);
    ClRejection rej = {
        .tenant_id = tenant ? tenant->id : 0,
        .reason = reason,
        .message = message,
        .sender = sender,
        .envelope_json = envj,
        .subject = msg ? msg->subject : NULL,
        .message_id = msg ? msg->message_id : NULL,
        .origin = raw->origin,
        .raw_hash = keep_raw ? hash : NULL,
        .raw_size = raw->size,
    };
    if (known == 0 && !cl_store_rejection_insert(p->store, &rej, error))
        return NULL;
    ClResult *r = g_new0(ClResult, 1);
    r->status = CL_RESULT_REJECTED;
    r->reason = reason;
    r->message = g_strdup(message);
    r->tenant_key = tenant ? g_strdup(tenant->key) : NULL;
    return r;
}

static bool
store_attachments(ClPipeline *p, ClMessage *msg, GPtrArray *decoded, ClEntry *entry,
                  GError **error)
{
    for (guint i = 0; i < msg->attachments->len; i++) {
        ClAttachment *att = g_ptr_array_index(msg->attachments, i);
        if (decoded != NULL) {
            Decoded *d = g_ptr_array_index(decoded, i);
            if (!cl_store_blob_put_data(p->store, d->bytes->data, d->bytes->len, d->hash, error))
                return false;
            ClEntryAttachment *a = g_new0(ClEntryAttachment, 1);
            a->name = g_strdup(att->filename);
            a->content_type = g_strdup(att->content_type);
            a->size = d->bytes->len;
            a->hash = g_strdup(d->hash);
            g_ptr_array_add(entry->attachments, a);
            continue;
        }
        /* Large mail: decoded straight into the blob pack, never whole in memory. */
        int fd = cl_store_blob_begin(p->store, error);
        if (fd < 0)
            return false;
        gint64 written = 0, size = 0;
        char hash[CL_HASH_HEX_LEN];
        if (!cl_message_attachment_write(msg, att, fd, &written, error)) {
            cl_store_blob_abort(p->store);
            return false;
        }
        if (!cl_store_blob_finish(p->store, hash, &size, error))
            return false;
        ClEntryAttachment *a = g_new0(ClEntryAttachment, 1);
        a->name = g_strdup(att->filename);
        a->content_type = g_strdup(att->content_type);
        a->size = size;
        a->hash = g_strdup(hash);
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

/* The addresses of lists of ClAddress, NULL-terminated (borrowed strings). */
static GPtrArray *
address_strings(GPtrArray *a, GPtrArray *b)
{
    GPtrArray *out = g_ptr_array_new();
    GPtrArray *lists[] = { a, b };
    for (gsize l = 0; l < G_N_ELEMENTS(lists); l++)
        for (guint i = 0; lists[l] && i < lists[l]->len; i++)
            g_ptr_array_add(out, ((ClAddress *)g_ptr_array_index(lists[l], i))->address);
    g_ptr_array_add(out, NULL);
    return out;
}

static ClMatch *
decide_match(const ClDirectory *dir, const ClMessage *msg, gint64 tenant_id, gint64 author_id,
             const ClTenantSettings *settings, GError **error)
{
    g_autoptr(GPtrArray) rcpts = address_strings(msg->to, msg->cc);
    g_autoptr(GPtrArray) keep = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
    g_autofree ClMatchOriginal *originals = g_new0(ClMatchOriginal, msg->forwards->len + 1);
    for (guint i = 0; i < msg->forwards->len; i++) {
        const ClForward *f = msg->forwards->pdata[i];
        GPtrArray *r = address_strings(f->to, f->cc);
        g_ptr_array_add(keep, r);
        originals[i] = (ClMatchOriginal){
            .format = f->format,
            .explicit_forward = f->explicit_forward,
            .from = f->from ? f->from->address : NULL,
            .recipients = (const char *const *)r->pdata,
            .subject = f->subject,
        };
    }
    /* Rule 10: the message a reply answers first, then its thread newest first. */
    g_autoptr(GPtrArray) refs = g_ptr_array_new();
    if (msg->in_reply_to)
        g_ptr_array_add(refs, msg->in_reply_to);
    for (guint i = msg->references->len; i > 0; i--)
        g_ptr_array_add(refs, msg->references->pdata[i - 1]);
    g_ptr_array_add(refs, NULL);
    ClMatchInput in = {
        .tenant_id = tenant_id,
        .author_id = author_id,
        .settings = *settings,
        .subject = msg->subject,
        .recipients = (const char *const *)rcpts->pdata,
        .originals = originals,
        .n_originals = msg->forwards->len,
        .scan = (const char *const *)msg->scan->pdata, /* NULL-terminated */
        .references = (const char *const *)refs->pdata,
    };
    return cl_match_decide(dir, &in, error);
}

ClMatch *
cl_pipeline_match(const ClDirectory *dir, const ClMessage *msg, gint64 tenant_id,
                  gint64 author_id, GError **error)
{
    ClTenantSettings settings;
    if (!dir->ops->tenant_settings(dir->self, tenant_id, &settings, error))
        return NULL;
    return decide_match(dir, msg, tenant_id, author_id, &settings, error);
}

/* The tenant's settings, read once per batch: under the write lock nobody
 * changes them meanwhile. */
static bool
tenant_settings(ClPipeline *p, gint64 tenant_id, ClTenantSettings *out, GError **error)
{
    if (p->in_batch && p->settings_tenant == tenant_id) {
        *out = p->settings;
        return true;
    }
    ClDirectory dir = cl_store_directory(p->store);
    if (!dir.ops->tenant_settings(dir.self, tenant_id, out, error))
        return false;
    p->settings_tenant = p->in_batch ? tenant_id : 0;
    p->settings = *out;
    return true;
}

static ClResult *
accept(ClPipeline *p, ClRawMessage *raw, ClMessage *msg, GPtrArray *decoded, ClRoute *route,
       const char *addresses, GError **error)
{
    ClDirectory dir = cl_store_directory(p->store);
    gint64 tenant_id = route->tenant->id;

    /* Rule 9: the same Message-ID in the same tenant changes nothing; mail
     * without one is known by its content. Per author: a colleague's private
     * entry is neither a duplicate nor named (cl_store_entry_find_message_id). */
    gint64 author_id = route->user->id;
    gint64 dup = msg->message_id
                     ? cl_store_entry_find_message_id(p->store, tenant_id, author_id,
                                                      msg->message_id, error)
                     : cl_store_entry_find_content_hash(p->store, tenant_id, author_id,
                                                        msg->content_hash, error);
    if (dup < 0)
        return NULL;
    if (dup > 0)
        return duplicate(p, route, dup, error);

    ClTenantSettings settings;
    if (!tenant_settings(p, tenant_id, &settings, error))
        return NULL;
    g_autoptr(ClMatch) match = decide_match(&dir, msg, tenant_id, author_id, &settings, error);
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
    e->forwarded = match->forwarded;
    if (match->forwarded) {
        /* The entry is about the original: its subject and date (rule 5). */
        const ClForward *f = msg->forwards->pdata[0];
        e->subject = cl_subject_strip(f->subject ? f->subject : msg->subject, NULL);
        if (f->date > 0)
            e->contact_time = f->date;
    } else {
        e->subject = g_strdup(msg->subject);
    }
    /* The text is not stored twice: it is read from the original message when
     * the entry is shown (cl_pipeline_entry_text), like every other part. */
    e->body = NULL;
    e->body_from_html = msg->text_from_html;
    e->message_id = g_strdup(msg->message_id);
    e->content_hash = g_strdup(msg->content_hash);
    e->in_reply_to = g_strdup(msg->in_reply_to);
    e->addresses_json = g_strdup(addresses);
    e->raw_size = raw->size;

    char hash[CL_HASH_HEX_LEN];
    if (!store_attachments(p, msg, decoded, e, error) || !store_raw(p, raw, hash, error))
        return NULL;
    e->raw_hash = g_strdup(hash);
    e->index_text = msg->text; /* borrowed for the insert: searched, and its preview kept */
    bool inserted = cl_store_entry_insert(p->store, e, error);
    e->index_text = NULL;
    if (!inserted)
        return NULL;

    ClResult *r = g_new0(ClResult, 1);
    r->status = settings.auto_save ? CL_RESULT_SAVED : CL_RESULT_PENDING;
    r->tenant_key = g_strdup(route->tenant->key);
    r->user_key = g_strdup(route->user->key);
    r->entry = g_steal_pointer(&e);
    return r;
}

#define TOO_LARGE_HEAD (256 * 1024)

struct ClPrepared {
    ClRawMessage *raw;   /* owned */
    bool too_large;
    ClMessage *msg;      /* NULL when too large or unreadable */
    GError *parse_error; /* why msg is NULL (CL_ERROR_INVALID: malformed) */
    GPtrArray *decoded;  /* Decoded *, one per attachment, when msg is in memory; else NULL */
    gint64 bytes;        /* memory held: raw and decoded attachments */
    char *addresses;     /* JSON of the message's and the envelope's addresses */
};

ClPrepared *
cl_pipeline_prepare(ClRawMessage *raw, const ClEnvelope *env, const ClConfig *config)
{
    cl_parse_init();
    ClPrepared *prep = g_new0(ClPrepared, 1);
    prep->raw = raw;
    (void)config;
    prep->too_large = cl_raw_message_too_large(raw);
    /* Too large: only the head is read, so that the rejection record can
     * name the sender, subject and Message-ID. */
    gint64 length = prep->too_large ? MIN(raw->stored, TOO_LARGE_HEAD) : raw->stored;
    if (prep->too_large && raw->data != NULL) {
        /* Received into memory (LMTP with a small limit): the head from there. */
        g_autoptr(GByteArray) head = g_byte_array_sized_new(length);
        g_byte_array_append(head, raw->data->data, (guint)MIN((gint64)raw->data->len, length));
        prep->msg = cl_parse_message_bytes(head, &prep->parse_error);
    } else if (prep->too_large)
        prep->msg = cl_parse_message_fd(raw->fd, raw->offset, length, &prep->parse_error);
    else if (!cl_raw_message_load(raw, &prep->parse_error))
        prep->msg = NULL; /* TEMPFAIL: the file could not be read */
    else if (raw->data != NULL)
        prep->msg = cl_parse_message_bytes(raw->data, &prep->parse_error);
    else
        prep->msg = cl_parse_message_fd(raw->fd, raw->offset, length, &prep->parse_error);
    prep->bytes = raw->data ? raw->data->len : 0;
    if (prep->msg != NULL && raw->data != NULL) {
        /* Small mail: attachments are decoded and hashed here too, so that
         * the storing thread only appends bytes. */
        prep->decoded = g_ptr_array_new_with_free_func((GDestroyNotify)decoded_free);
        for (guint i = 0; i < prep->msg->attachments->len; i++) {
            Decoded *d = g_new0(Decoded, 1);
            d->bytes = cl_message_attachment_bytes(prep->msg, prep->msg->attachments->pdata[i]);
            cl_hash_hex(d->bytes->data, d->bytes->len, d->hash);
            prep->bytes += d->bytes->len;
            g_ptr_array_add(prep->decoded, d);
        }
    }
    if (prep->msg != NULL && !prep->too_large)
        prep->addresses = addresses_json(prep->msg, env);
    return prep;
}

void
cl_prepared_free(ClPrepared *prep)
{
    if (prep == NULL)
        return;
    g_clear_pointer(&prep->decoded, g_ptr_array_unref);
    g_free(prep->addresses);
    cl_message_free(prep->msg);
    g_clear_error(&prep->parse_error);
    cl_raw_message_free(prep->raw);
    g_free(prep);
}

ClRawMessage *
cl_prepared_raw(ClPrepared *prep)
{
    return prep->raw;
}

gint64
cl_prepared_bytes(ClPrepared *prep)
{
    return prep->bytes;
}

/* Route results are cached for the current transaction: an import sees the
 * same few senders thousands of times, and under the write lock nobody can
 * change the master data meanwhile. */
static ClRoute *
route_cached(ClPipeline *p, const char *sender, GError **error)
{
    ClDirectory dir = cl_store_directory(p->store);
    if (!p->in_batch || sender == NULL)
        return cl_route_decide(&dir, sender, error);
    ClRoute *hit = g_hash_table_lookup(p->routes, sender);
    if (hit == NULL) {
        hit = cl_route_decide(&dir, sender, error);
        if (hit == NULL)
            return NULL;
        g_hash_table_insert(p->routes, g_strdup(sender), hit);
    }
    return hit;
}

static ClResult *
process(ClPipeline *p, ClPrepared *prep, const ClEnvelope *env, GError **error)
{
    ClRawMessage *raw = prep->raw;
    if (prep->too_large) {
        g_autofree char *msg = g_strdup_printf(
            "The message is %" G_GINT64_FORMAT " bytes; contactlog accepts at most %" G_GINT64_FORMAT
            " bytes.",
            raw->size, raw->limit > 0 ? raw->limit : MAX(raw->stored, p->config->max_message_bytes));
        if (p->only_tenant)
            return refuse("too-large", msg);
        return reject(p, raw, env, prep->msg, NULL, "too-large", msg, error);
    }
    if (prep->msg == NULL) {
        if (!g_error_matches(prep->parse_error, CL_ERROR, CL_ERROR_INVALID)) {
            g_propagate_error(error, g_error_copy(prep->parse_error));
            return NULL;
        }
        g_autofree char *text =
            g_strdup_printf("Die Nachricht ist nicht lesbar (%s). The message cannot be read: %s.",
                            prep->parse_error->message, prep->parse_error->message);
        if (p->only_tenant)
            return refuse("malformed", text);
        return reject(p, raw, env, NULL, NULL, "malformed", text, error);
    }
    ClMessage *msg = prep->msg;
    ClRoute *route = route_cached(p, msg->from ? msg->from->address : NULL, error);
    if (route == NULL)
        return NULL;
    if (p->only_tenant) {
        /* An upload: the mail must be one of the uploader's organisation (and,
         * unless they may upload for colleagues, their own). Another tenant's
         * sender is answered as unknown: which domains are customers of this
         * service is nobody's business. */
        ClResult *refused = NULL;
        if (!route->accepted && g_strcmp0(route->reason, "malformed") == 0) {
            /* No usable From: unreadable as over SMTP, whoever uploads it. */
            refused = refuse("malformed", route->message);
        } else if (!route->accepted || route->tenant->id != p->only_tenant) {
            g_autofree char *text = g_strdup_printf(
                "The sender %s is not a user of your organisation.",
                msg->from ? msg->from->address : "(none)");
            refused = refuse("unknown-sender", text);
        } else if (p->only_user && route->user->id != p->only_user) {
            refused = refuse("forbidden", "The message was sent by a colleague; only an admin "
                                          "may upload mail of other users.");
        }
        if (refused != NULL) {
            if (!p->in_batch || msg->from == NULL)
                cl_route_free(route);
            return refused;
        }
    }
    ClResult *r = route->accepted
                      ? accept(p, raw, msg, prep->decoded, route, prep->addresses, error)
                      : reject(p, raw, env, msg, route->tenant, route->reason, route->message,
                               error);
    if (!p->in_batch || msg->from == NULL)
        cl_route_free(route); /* not cached: this call owns it */
    return r;
}

void
cl_pipeline_restrict(ClPipeline *p, gint64 tenant_id, gint64 user_id)
{
    p->only_tenant = tenant_id;
    p->only_user = user_id;
}

ClResult *
cl_pipeline_process(ClPipeline *p, ClRawMessage *raw, const ClEnvelope *env, GError **error)
{
    ClPrepared *prep = cl_pipeline_prepare(raw, env, p->config);
    ClResult *r = cl_pipeline_process_prepared(p, prep, env, error);
    prep->raw = NULL; /* the caller owns raw */
    cl_prepared_free(prep);
    return r;
}

ClResult *
cl_pipeline_process_prepared(ClPipeline *p, ClPrepared *prep, const ClEnvelope *env,
                             GError **error)
{
    bool single = !p->in_batch;
    if (single ? !cl_store_begin(p->store, error) : !cl_store_savepoint(p->store, error))
        return NULL;
    g_autoptr(GError) local = NULL;
    g_autoptr(ClResult) r = process(p, prep, env, &local);
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

bool
cl_pipeline_entry_text(ClStore *store, ClEntry *entry, GError **error)
{
    if (entry->body != NULL)
        return true;
    if (entry->raw_hash == NULL) {
        entry->body = g_strdup("");
        return true;
    }
    gint64 offset = 0, size = 0;
    int fd = cl_store_blob_open(store, entry->raw_hash, &offset, &size, error);
    if (fd < 0)
        return false;
    g_autoptr(ClMessage) msg = cl_parse_message_fd(fd, offset, size, error);
    close(fd);
    if (msg == NULL)
        return false;
    if (entry->forwarded && msg->forwards->len > 0)
        entry->original_text = g_strdup(cl_forward_text(msg, msg->forwards->pdata[0]));
    entry->body = g_steal_pointer(&msg->text);
    entry->body_from_html = msg->text_from_html;
    return true;
}

char *
cl_pipeline_index_text(ClStore *store, ClEntry *entry, void *data)
{
    (void)data;
    g_autoptr(GError) error = NULL;
    if (!cl_pipeline_entry_text(store, entry, &error)) {
        g_warning("event=index-text-failed entry=%" G_GINT64_FORMAT " error=\"%s\"", entry->id,
                  error->message);
        return NULL;
    }
    return g_steal_pointer(&entry->body);
}
