/*
 * server.c — `contactlog serve`: LMTP and SMTP listeners. Stage: intake.
 *
 * Threads:
 *   - the serving thread runs a GLib main context with every listener and
 *     session: non-blocking sockets, one custom GSource per connection (its
 *     fd and its idle deadline), so a slow client only ever waits for itself;
 *   - a pool of parse threads (one per processor) runs cl_pipeline_prepare();
 *   - one storing thread owns the writing ClStore and ClPipeline. It takes
 *     every message that is ready, up to commit_batch, and commits them in one
 *     transaction (group commit): one fdatasync of the blob pack and one of
 *     the database log for all of them, which is what makes many concurrent
 *     sessions cheap. Only then do the replies go out (DESIGN §3).
 *
 * Memory is bounded per connection: at most IN_MAX bytes of unread input,
 * OUT_MAX of unsent replies, session_memory bytes of message (the rest is
 * spooled to tmp/), and one message in flight.
 *
 * Must not: answer 250 before the commit, block the serving thread on the
 * writing store, or touch a connection's session after its socket is gone.
 */
#include "intake.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "pipeline/pipeline.h"

#define IN_MAX (64 * 1024)
#define OUT_MAX (64 * 1024)
#define FEED_STEP (8 * 1024)
#define INLINE_BLOB_BYTES (64 * 1024)
/* After the idle timeout's 421, how long a client gets to take it. */
#define CLOSE_GRACE (5 * G_USEC_PER_SEC)

typedef struct Conn Conn;

typedef struct {
    ClServer *server;
    ClProtocol protocol;
    char *spec;        /* as configured */
    char *bound;       /* "127.0.0.1:2424", "/path/lmtp.sock" */
    char *unix_path;   /* to remove on shutdown, or NULL */
    GSocket *socket;
    GSource *source;
    guint paused;      /* the timeout that resumes accepting, or 0 */
} Listener;

typedef struct {
    Conn *conn;        /* a reference */
    ClRawMessage *raw; /* until prepared */
    ClEnvelope *env;
    ClPrepared *prepared;
    ClResult *result;
    GError *error;
    gint64 bytes;
    gint64 started;    /* end of DATA, monotonic µs */
} Job;

struct ClServer {
    ClConfig *base;        /* what the store and pipeline were opened with; never changes */
    ClConfig *current;     /* session settings; replaced on SIGHUP (serving thread only) */
    char *config_file;
    char **overrides;      /* the command line's "group.key=value", applied on reload too */
    char *hostname;
    int dir_fd;            /* holds the data directory (cl_data_dir_hold), or -1 */
    GMainContext *ctx;
    GMainLoop *loop;
    ClStore *store;        /* serving thread: drop addresses, spool files */
    GPtrArray *listeners;  /* Listener * */
    GHashTable *conns;     /* Conn * */
    guint next_id;
    guint in_flight;       /* jobs not yet answered */
    bool stopping;
    GSource *shutdown_timer;
    GThreadPool *parsers;
    GAsyncQueue *ready;    /* Job *, prepared, for the storing thread */
    GThread *storer;
    ClStore *wstore;       /* storing thread */
    ClPipeline *pipeline;  /* storing thread */
    ClStore *cstore;       /* checkpointing thread */
    GThread *checkpointer;
    GMutex ck_lock;
    GCond ck_cond;
    bool ck_wanted, ck_stop;
    ClStore *istore;       /* indexing thread: the text of captured mail for search */
    GThread *indexer;
    GMutex ix_lock;
    GCond ix_cond;
    bool ix_wanted;
    gint ix_stop;          /* atomic: read by the indexer between batches */
    gint64 last_commit;    /* monotonic µs of the storing thread's last commit (atomic) */
    /* counters for the stop line */
    guint sessions, messages, tempfails;
};

struct Conn {
    GSource source;
    ClServer *server;
    int fd;
    gpointer tag;
    ClSession *session;
    GByteArray *in;
    gsize out_sent;
    bool closed;
    char *id;
    char *peer;
    ClProtocol protocol;
    gint64 deadline;       /* monotonic µs: idle timeout */
    bool timed_out;        /* told 421; closed for good at the next deadline */
    gint64 opened;
};

static Job stop_job; /* tells the storing thread to finish */

static const char *
protocol_name(ClProtocol p)
{
    return p == CL_PROTOCOL_LMTP ? "lmtp" : "smtp";
}

/* ---- replies: one table from results to reply codes (STYLE §3) --------------------- */

static const struct {
    const char *reason;
    int code;
    const char *status;
} rejection_replies[] = {
    { "unknown-tenant", 550, "5.7.1" },   { "unknown-sender", 550, "5.7.1" },
    { "ambiguous-sender", 550, "5.7.1" }, { "not-authenticated", 550, "5.7.1" },
    { "too-large", 552, "5.3.4" },        { "malformed", 554, "5.6.0" },
};

/* The reply for a job's outcome; text in *text_out (owned by the caller). */
static ClReply
job_reply(const Job *job, char **text_out)
{
    if (job->result == NULL) {
        *text_out = g_strdup("Cannot store the message now, try again later");
        return (ClReply){ 451, "4.3.0", *text_out };
    }
    const ClResult *r = job->result;
    switch (r->status) {
    case CL_RESULT_PENDING:
    case CL_RESULT_SAVED:
        *text_out = g_strdup_printf("Captured as entry %" G_GINT64_FORMAT " (%s)",
                                    r->entry ? r->entry->id : 0, cl_result_status_name(r->status));
        return (ClReply){ 250, "2.0.0", *text_out };
    case CL_RESULT_DUPLICATE:
        *text_out = g_strdup_printf("Already captured as entry %" G_GINT64_FORMAT,
                                    r->entry ? r->entry->id : 0);
        return (ClReply){ 250, "2.0.0", *text_out };
    case CL_RESULT_REJECTED:
        break;
    }
    /* One line of ASCII (RFC 5321 replies; German letters as ae, oe, ue, ss):
     * the sender's sentence must not break the reply. */
    g_autofree char *ascii = g_str_to_ascii(r->message ? r->message : "", "de");
    *text_out = g_strdup_printf("Rejected (%s): %s", r->reason, ascii);
    g_strdelimit(*text_out, "\r\n", ' ');
    for (gsize i = 0; i < G_N_ELEMENTS(rejection_replies); i++)
        if (strcmp(rejection_replies[i].reason, r->reason) == 0)
            return (ClReply){ rejection_replies[i].code, rejection_replies[i].status, *text_out };
    return (ClReply){ 550, "5.7.1", *text_out };
}

static void
job_free(Job *job)
{
    cl_raw_message_free(job->raw);
    cl_envelope_free(job->env);
    cl_prepared_free(job->prepared);
    cl_result_free(job->result);
    g_clear_error(&job->error);
    if (job->conn != NULL)
        g_source_unref(&job->conn->source);
    g_free(job);
}

/* ---- connections ---------------------------------------------------------------------- */

static void conn_pump(Conn *c);

static void
conn_close(Conn *c, const char *why)
{
    if (c->closed)
        return;
    c->closed = true;
    ClServer *srv = c->server;
    g_info("event=session-close session=%s proto=%s messages=%u why=%s ms=%.0f", c->id,
           protocol_name(c->protocol), cl_session_messages(c->session), why,
           (g_get_monotonic_time() - c->opened) / 1000.0);
    g_source_remove_unix_fd(&c->source, c->tag);
    close(c->fd);
    c->fd = -1;
    g_hash_table_remove(srv->conns, c);
    g_source_destroy(&c->source); /* freed in conn_finalize once no job holds it */
    if (srv->stopping && g_hash_table_size(srv->conns) == 0 && srv->in_flight == 0)
        g_main_loop_quit(srv->loop);
}

static void
conn_interest(Conn *c)
{
    if (c->closed)
        return;
    GString *out = cl_session_output(c->session);
    GIOCondition want = 0;
    bool busy = cl_session_waiting(c->session) || cl_session_done(c->session);
    if (!busy && c->in->len < IN_MAX && out->len - c->out_sent < OUT_MAX)
        want |= G_IO_IN;
    if (out->len > c->out_sent)
        want |= G_IO_OUT;
    g_source_modify_unix_fd(&c->source, c->tag, want);
}

/* Sends what the session produced; false when the connection is gone. */
static bool
conn_flush(Conn *c)
{
    GString *out = cl_session_output(c->session);
    while (c->out_sent < out->len) {
        ssize_t n = send(c->fd, out->str + c->out_sent, out->len - c->out_sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true; /* the rest when the socket is writable */
        if (n < 0) {
            conn_close(c, "send-failed");
            return false;
        }
        c->out_sent += (gsize)n;
    }
    g_string_truncate(out, 0);
    c->out_sent = 0;
    if (cl_session_done(c->session)) {
        conn_close(c, "done");
        return false;
    }
    return true;
}

/* Feeds buffered input to the session while it takes it, then sends. */
static void
conn_pump(Conn *c)
{
    while (!c->closed && c->in->len > 0 && !cl_session_waiting(c->session) &&
           !cl_session_done(c->session) &&
           cl_session_output(c->session)->len - c->out_sent < OUT_MAX) {
        gsize used = cl_session_feed(c->session, (const char *)c->in->data, MIN(c->in->len, FEED_STEP));
        g_byte_array_remove_range(c->in, 0, (guint)used);
        if (used == 0)
            break;
    }
    if (!c->closed && conn_flush(c))
        conn_interest(c);
}

static void
conn_read(Conn *c)
{
    if (cl_session_waiting(c->session) || cl_session_done(c->session) || c->in->len >= IN_MAX)
        return;
    guint8 buf[16 * 1024];
    gsize room = MIN(sizeof buf, IN_MAX - c->in->len);
    ssize_t n = recv(c->fd, buf, room, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        /* The client went away. A message in flight is still committed, but
         * nobody hears of it: the MTA retries and gets "duplicate". */
        conn_close(c, n == 0 ? "client-closed" : "recv-failed");
        return;
    }
    g_byte_array_append(c->in, buf, (guint)n);
    guint before = cl_session_progress(c->session);
    conn_pump(c);
    /* The idle timer starts again for a command or a kilobyte of data, not
     * for any byte: a byte every few seconds keeps no session alive. */
    if (!c->closed && cl_session_progress(c->session) != before) {
        c->deadline =
            g_get_monotonic_time() + (gint64)c->server->current->idle_timeout * G_USEC_PER_SEC;
        g_source_set_ready_time(&c->source, c->deadline);
    }
}

static gboolean
conn_dispatch(GSource *source, GSourceFunc callback, gpointer data)
{
    (void)callback;
    (void)data;
    Conn *c = (Conn *)source;
    GIOCondition got = g_source_query_unix_fd(source, c->tag);
    if (got & G_IO_OUT)
        conn_pump(c);
    if (!c->closed && (got & (G_IO_HUP | G_IO_ERR)) && cl_session_waiting(c->session))
        conn_close(c, "client-gone"); /* its message is still committed */
    if (!c->closed && (got & (G_IO_IN | G_IO_HUP | G_IO_ERR)))
        conn_read(c);
    gint64 now = g_get_monotonic_time();
    if (!c->closed && got == 0 && now >= c->deadline) {
        if (cl_session_waiting(c->session)) {
            /* Our own delay, not the client's: wait for the store. */
            g_source_set_ready_time(source, -1);
        } else if (c->timed_out || cl_session_done(c->session)) {
            /* The 421 could not be sent in its grace time: the client reads nothing. */
            conn_close(c, "timeout");
        } else {
            g_info("event=session-timeout session=%s", c->id);
            c->timed_out = true;
            c->deadline = now + CLOSE_GRACE;
            g_source_set_ready_time(source, c->deadline);
            cl_session_close(c->session, "4.4.2", "Idle too long, closing connection");
            conn_pump(c);
        }
    }
    return G_SOURCE_CONTINUE;
}

static void
conn_finalize(GSource *source)
{
    Conn *c = (Conn *)source;
    if (c->fd >= 0)
        close(c->fd);
    cl_session_free(c->session);
    g_byte_array_unref(c->in);
    g_free(c->id);
    g_free(c->peer);
}

static GSourceFuncs conn_funcs = { NULL, NULL, conn_dispatch, conn_finalize, NULL, NULL };

/* ---- session hooks (serving thread) ------------------------------------------------- */

static ClRcptCheck
hook_check_rcpt(void *user, const char *address)
{
    Conn *c = user;
    g_autofree char *folded = cl_address_fold(address);
    if (folded == NULL)
        return CL_RCPT_UNKNOWN;
    g_autoptr(GError) error = NULL;
    if (cl_store_is_drop_address(c->server->store, folded, &error))
        return CL_RCPT_OK;
    /* crm+20417@…: a sub-address of a drop address (DESIGN §6, plus-address
     * commands); the whole address stays in the envelope. */
    char *plus = strchr(folded, '+'), *at = strrchr(folded, '@');
    if (error == NULL && plus != NULL && at != NULL && plus < at) {
        memmove(plus, at, strlen(at) + 1);
        if (cl_store_is_drop_address(c->server->store, folded, &error))
            return CL_RCPT_OK;
    }
    if (error != NULL) {
        g_warning("event=rcpt-check-failed session=%s error=\"%s\"", c->id, error->message);
        return CL_RCPT_TEMPFAIL;
    }
    g_info("event=rcpt-refused session=%s", c->id);
    return CL_RCPT_UNKNOWN;
}

static int
hook_spool_file(void *user, char **path_out, GError **error)
{
    Conn *c = user;
    return cl_store_tmp_file(c->server->store, path_out, error);
}

static void
hook_deliver(void *user, ClRawMessage *raw, ClEnvelope *env)
{
    Conn *c = user;
    Job *job = g_new0(Job, 1);
    job->conn = c;
    g_source_ref(&c->source);
    job->raw = raw;
    job->env = env;
    job->bytes = raw->size;
    job->started = g_get_monotonic_time();
    c->server->in_flight++;
    g_thread_pool_push(c->server->parsers, job, NULL);
}

static const ClSessionHooks hooks = { hook_check_rcpt, hook_spool_file, hook_deliver };

/* ---- the parse threads and the storing thread --------------------------------------- */

static void
parse_job(gpointer data, gpointer user_data)
{
    Job *job = data;
    ClServer *srv = user_data;
    job->prepared = cl_pipeline_prepare(g_steal_pointer(&job->raw), job->env, srv->base);
    g_async_queue_push(srv->ready, job);
}

typedef struct {
    ClServer *server;
    GPtrArray *jobs;
} Batch;

static void answer_batch(Batch *batch);

static gboolean
batch_done(gpointer data)
{
    answer_batch(data);
    return G_SOURCE_REMOVE;
}

/* One transaction for every job of the batch; on a failed commit none counts. */
static void
store_batch(ClServer *srv, GPtrArray *jobs)
{
    g_autoptr(GError) error = NULL;
    if (cl_pipeline_batch_begin(srv->pipeline, &error)) {
        for (guint i = 0; i < jobs->len; i++) {
            Job *job = jobs->pdata[i];
            job->result =
                cl_pipeline_process_prepared(srv->pipeline, job->prepared, job->env, &job->error);
        }
        if (cl_pipeline_batch_commit(srv->pipeline, &error))
            return;
    }
    for (guint i = 0; i < jobs->len; i++) {
        Job *job = jobs->pdata[i];
        g_clear_pointer(&job->result, cl_result_free);
        if (job->error == NULL)
            job->error = g_error_copy(error);
    }
}

/* As SQLite's automatic checkpoint, but not inside a COMMIT: when the log
 * holds this many pages after a commit, the checkpointing thread copies it
 * into the database while the storing thread goes on (PASSIVE). */
#define CHECKPOINT_PAGES 1000

static gpointer
checkpoint_main(gpointer data)
{
    ClServer *srv = data;
    g_mutex_lock(&srv->ck_lock);
    for (;;) {
        while (!srv->ck_wanted && !srv->ck_stop)
            g_cond_wait(&srv->ck_cond, &srv->ck_lock);
        bool last = srv->ck_stop;
        srv->ck_wanted = false;
        g_mutex_unlock(&srv->ck_lock);
        g_autoptr(GError) error = NULL;
        if (!cl_store_checkpoint(srv->cstore, &error))
            g_warning("event=checkpoint-failed error=\"%s\"", error->message);
        g_mutex_lock(&srv->ck_lock);
        if (last)
            break;
    }
    g_mutex_unlock(&srv->ck_lock);
    return NULL;
}

/* The text of captured mail goes into the search index here, behind the
 * acknowledgement (search_queue in 0003-api.sql): after each commit of the
 * storing thread, and every few seconds for mail another process captured.
 *
 * Behind in time too: its transactions take the database's write lock, and
 * indexing a mail costs about what capturing it does (the original parsed
 * again, its words through the tokenizer), on the same two cores. So it
 * indexes when the mail server has been quiet for INDEX_QUIET_US, a few mails
 * a transaction (one arriving meanwhile waits for no more than these); while
 * mail keeps coming it still indexes a batch every INDEX_TRICKLE_US, and
 * catches up when the rush is over. A search indexes what waits first (up to
 * 256), so it finds what is queued either way. */
#define INDEX_BATCH 4
#define INDEX_QUIET_US (10 * 1000)
#define INDEX_TRICKLE_US (200 * 1000)

/* Waits until the storing thread has been quiet for INDEX_QUIET_US, or
 * INDEX_TRICKLE_US have passed since the last batch. */
static void
index_wait_quiet(ClServer *srv, gint64 last_batch)
{
    while (!g_atomic_int_get(&srv->ix_stop)) {
        gint64 now = g_get_monotonic_time();
        gint64 quiet = now - __atomic_load_n(&srv->last_commit, __ATOMIC_RELAXED);
        if (quiet >= INDEX_QUIET_US || now - last_batch >= INDEX_TRICKLE_US)
            return;
        g_usleep((gulong)MIN(INDEX_QUIET_US - quiet, last_batch + INDEX_TRICKLE_US - now));
    }
}

static gpointer
index_main(gpointer data)
{
    ClServer *srv = data;
    /* Behind everything else: capture and HTTP answers go first (on Linux the
     * nice value of a thread is its own). */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) != 0)
        g_debug("event=index-priority error=\"%s\"", g_strerror(errno));
    g_mutex_lock(&srv->ix_lock);
    while (!srv->ix_stop) {
        if (!srv->ix_wanted)
            g_cond_wait_until(&srv->ix_cond, &srv->ix_lock,
                              g_get_monotonic_time() + 2 * G_TIME_SPAN_SECOND);
        srv->ix_wanted = false;
        g_mutex_unlock(&srv->ix_lock);
        gint64 n;
        gint64 last_batch = 0;
        do {
            index_wait_quiet(srv, last_batch);
            last_batch = g_get_monotonic_time();
            g_autoptr(GError) error = NULL;
            n = cl_store_index_queued(srv->istore, cl_pipeline_index_text, NULL, INDEX_BATCH,
                                      &error);
            if (n < 0)
                g_warning("event=index-failed error=\"%s\" (tried again later)", error->message);
        } while (n > 0 && !g_atomic_int_get(&srv->ix_stop));
        g_mutex_lock(&srv->ix_lock);
    }
    g_mutex_unlock(&srv->ix_lock);
    return NULL;
}

static gpointer
store_main(gpointer data)
{
    ClServer *srv = data;
    bool stop = false;
    while (!stop) {
        Job *job = g_async_queue_pop(srv->ready);
        if (job == &stop_job)
            break;
        GPtrArray *jobs = g_ptr_array_new();
        g_ptr_array_add(jobs, job);
        /* Group commit: whatever else is ready joins this transaction. */
        while (jobs->len < srv->base->commit_batch) {
            Job *more = g_async_queue_try_pop(srv->ready);
            if (more == NULL)
                break;
            if (more == &stop_job) {
                stop = true;
                break;
            }
            g_ptr_array_add(jobs, more);
        }
        store_batch(srv, jobs);
        __atomic_store_n(&srv->last_commit, g_get_monotonic_time(), __ATOMIC_RELAXED);
        g_mutex_lock(&srv->ix_lock);
        srv->ix_wanted = true;
        g_cond_signal(&srv->ix_cond);
        g_mutex_unlock(&srv->ix_lock);
        if (cl_store_wal_pages(srv->wstore) >= CHECKPOINT_PAGES) {
            g_mutex_lock(&srv->ck_lock);
            srv->ck_wanted = true;
            g_cond_signal(&srv->ck_cond);
            g_mutex_unlock(&srv->ck_lock);
        }
        Batch *batch = g_new0(Batch, 1);
        batch->server = srv;
        batch->jobs = jobs;
        g_main_context_invoke_full(srv->ctx, G_PRIORITY_DEFAULT, batch_done, batch, NULL);
    }
    return NULL;
}

static void
log_job(const Job *job, const ClReply *reply)
{
    Conn *c = job->conn;
    double ms = (g_get_monotonic_time() - job->started) / 1000.0;
    const char *proto = protocol_name(c->protocol);
    if (job->result == NULL) {
        g_autofree char *labels = g_strdup_printf("source=\"%s\",status=\"tempfail\"", proto);
        cl_metrics_count("contactlog_mails_total", labels, 1);
        g_warning("event=tempfail session=%s proto=%s bytes=%" G_GINT64_FORMAT
                  " reply=%d ms=%.2f error=\"%s\"",
                  c->id, protocol_name(c->protocol), job->bytes, reply->code, ms,
                  job->error ? job->error->message : "?");
        return;
    }
    const ClResult *r = job->result;
    g_autofree char *labels =
        r->status == CL_RESULT_REJECTED
            ? g_strdup_printf("source=\"%s\",status=\"rejected\",reason=\"%s\"", proto, r->reason)
            : g_strdup_printf("source=\"%s\",status=\"%s\"", proto,
                              cl_result_status_name(r->status));
    cl_metrics_count("contactlog_mails_total", labels, 1);
    g_autofree char *tenant = cl_log_value(r->tenant_key);
    g_autofree char *user = cl_log_value(r->user_key);
    if (r->status == CL_RESULT_REJECTED)
        g_info("event=message session=%s proto=%s status=rejected reason=%s tenant=%s "
               "bytes=%" G_GINT64_FORMAT " rcpts=%u reply=%d ms=%.2f",
               c->id, protocol_name(c->protocol), r->reason, tenant, job->bytes,
               job->env->rcpts->len, reply->code, ms);
    else
        g_info("event=message session=%s proto=%s status=%s entry=%" G_GINT64_FORMAT
               " tenant=%s user=%s bytes=%" G_GINT64_FORMAT " rcpts=%u reply=%d ms=%.2f",
               c->id, protocol_name(c->protocol), cl_result_status_name(r->status),
               r->entry ? r->entry->id : 0, tenant, user, job->bytes, job->env->rcpts->len,
               reply->code, ms);
}

/* Serving thread: the batch is committed (or failed); answer every session. */
static void
answer_batch(Batch *batch)
{
    ClServer *srv = batch->server;
    for (guint i = 0; i < batch->jobs->len; i++) {
        Job *job = batch->jobs->pdata[i];
        g_autofree char *text = NULL;
        ClReply reply = job_reply(job, &text);
        log_job(job, &reply);
        srv->messages++;
        if (job->result == NULL)
            srv->tempfails++;
        Conn *c = job->conn;
        if (!c->closed) {
            cl_session_delivered(c->session, &reply, 1);
            c->deadline = g_get_monotonic_time() + (gint64)srv->current->idle_timeout * G_USEC_PER_SEC;
            g_source_set_ready_time(&c->source, c->deadline);
            conn_pump(c);
        }
        srv->in_flight--;
        job_free(job);
    }
    g_ptr_array_unref(batch->jobs);
    g_free(batch);
    if (srv->stopping && g_hash_table_size(srv->conns) == 0 && srv->in_flight == 0)
        g_main_loop_quit(srv->loop);
}

/* ---- listeners ------------------------------------------------------------------------ */

static void
conn_open(Listener *l, int fd, const char *peer)
{
    ClServer *srv = l->server;
    srv->sessions++;
    g_autofree char *id = g_strdup_printf("%x%04x", (guint)(g_get_real_time() / G_USEC_PER_SEC) & 0xfffff,
                                          srv->next_id++ & 0xffff);
    if (srv->stopping || g_hash_table_size(srv->conns) >= srv->current->max_sessions) {
        /* RFC 5321 §3.1: a server that cannot take the session says 421 and closes. */
        const char *msg = srv->stopping ? "421 4.3.2 Service shutting down, try again later\r\n"
                                        : "421 4.3.2 Too many sessions, try again later\r\n";
        ssize_t ignored = send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)ignored;
        close(fd);
        g_warning("event=session-refused proto=%s why=%s", protocol_name(l->protocol),
                  srv->stopping ? "stopping" : "max-sessions");
        return;
    }
    Conn *c = (Conn *)g_source_new(&conn_funcs, sizeof(Conn));
    c->server = srv;
    c->fd = fd;
    c->protocol = l->protocol;
    c->id = g_steal_pointer(&id);
    c->peer = g_strdup(peer);
    c->in = g_byte_array_new();
    c->opened = g_get_monotonic_time();
    ClSessionConfig sc = {
        .protocol = l->protocol,
        .id = c->id,
        .hostname = srv->hostname,
        .peer = peer,
        .max_message_bytes = srv->current->max_message_bytes,
        .memory_bytes = srv->current->session_memory,
        .max_rcpts = srv->current->max_rcpts,
    };
    c->session = cl_session_new(&sc, &hooks, c);
    c->tag = g_source_add_unix_fd(&c->source, fd, G_IO_IN);
    c->deadline = c->opened + (gint64)srv->current->idle_timeout * G_USEC_PER_SEC;
    g_source_set_ready_time(&c->source, c->deadline);
    g_source_attach(&c->source, srv->ctx);
    g_source_unref(&c->source); /* the context holds it, and each job in flight */
    g_hash_table_add(srv->conns, c);
    g_info("event=session-open session=%s proto=%s client=%s", c->id, protocol_name(c->protocol),
           peer);
    cl_session_greet(c->session);
    conn_pump(c);
}

static char *
peer_name(const struct sockaddr_storage *sa, socklen_t len)
{
    if (sa->ss_family == AF_UNIX)
        return g_strdup("unix");
    g_autoptr(GSocketAddress) addr = g_socket_address_new_from_native((gpointer)sa, len);
    if (addr == NULL || !G_IS_INET_SOCKET_ADDRESS(addr))
        return g_strdup("unknown");
    GInetSocketAddress *in = G_INET_SOCKET_ADDRESS(addr);
    g_autofree char *ip = g_inet_address_to_string(g_inet_socket_address_get_address(in));
    return g_strdup_printf("%s:%u", ip, g_inet_socket_address_get_port(in));
}

static gboolean listener_accept(GSocket *socket, GIOCondition cond, gpointer data);

/* A descriptor kept in reserve: when the process runs out, it is given up to
 * accept one waiting client and tell it 421 instead of leaving it hanging. */
static int spare_fd = -1;

static gboolean
listener_resume(gpointer data)
{
    Listener *l = data;
    l->paused = 0;
    if (spare_fd < 0)
        spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    g_source_attach(l->source, l->server->ctx);
    return G_SOURCE_REMOVE;
}

/* accept(2) says EMFILE: answer one client with the spare descriptor, then
 * stop accepting for a moment, instead of being woken again and again. */
static void
out_of_files(Listener *l)
{
    if (spare_fd >= 0) {
        close(spare_fd);
        spare_fd = -1;
        int fd = accept4(g_socket_get_fd(l->socket), NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            const char *msg = "421 4.3.2 Too many open files here, try again later\r\n";
            ssize_t ignored = send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)ignored;
            close(fd);
        }
    }
    g_warning("event=accept-paused listener=%s error=\"%s\" ms=100", l->bound,
              g_strerror(EMFILE));
    /* The listener's source is taken out of the loop for 100 ms. */
    g_source_destroy(l->source);
    g_source_unref(l->source);
    l->source = g_socket_create_source(l->socket, G_IO_IN, NULL);
    g_source_set_callback(l->source, G_SOURCE_FUNC(listener_accept), l, NULL);
    GSource *t = g_timeout_source_new(100);
    g_source_set_callback(t, listener_resume, l, NULL);
    g_source_attach(t, l->server->ctx);
    l->paused = g_source_get_id(t);
    g_source_unref(t);
}

static gboolean
listener_accept(GSocket *socket, GIOCondition cond, gpointer data)
{
    (void)cond;
    Listener *l = data;
    int lfd = g_socket_get_fd(socket);
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage sa;
        socklen_t len = sizeof sa;
        int fd = accept4(lfd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
            out_of_files(l);
            return G_SOURCE_CONTINUE;
        }
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED)
                g_warning("event=accept-failed listener=%s error=\"%s\"", l->bound,
                          g_strerror(errno));
            break;
        }
        if (sa.ss_family != AF_UNIX) {
            int one = 1; /* replies are small and come one by one */
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        g_autofree char *peer = peer_name(&sa, len);
        conn_open(l, fd, peer);
    }
    return G_SOURCE_CONTINUE;
}

static void
listener_free(Listener *l)
{
    if (l->paused != 0) {
        GSource *t = g_main_context_find_source_by_id(l->server->ctx, l->paused);
        if (t != NULL)
            g_source_destroy(t);
    }
    if (l->source != NULL) {
        g_source_destroy(l->source);
        g_source_unref(l->source);
    }
    if (l->socket != NULL)
        g_socket_close(l->socket, NULL);
    g_clear_object(&l->socket);
    if (l->unix_path != NULL)
        unlink(l->unix_path);
    g_free(l->spec);
    g_free(l->bound);
    g_free(l->unix_path);
    g_free(l);
}

/* A Unix socket path that is in the way: removed when nobody listens on it. */
static bool
clear_stale_socket(const char *path, GError **error)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return true;
    if (!S_ISSOCK(st.st_mode)) {
        g_set_error(error, CL_ERROR, CL_ERROR_CONFIG, "%s exists and is not a socket", path);
        return false;
    }
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(path);
    g_autoptr(GSocket) probe =
        g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL);
    if (probe != NULL && g_socket_connect(probe, addr, NULL, NULL)) {
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL,
                    "%s: another server is listening there", path);
        return false;
    }
    unlink(path);
    return true;
}

static GSocketAddress *
parse_inet(const char *spec)
{
    const char *colon = strrchr(spec, ':');
    guint64 port = 0;
    if (colon == NULL || !g_ascii_string_to_unsigned(colon + 1, 10, 0, 65535, &port, NULL))
        return NULL;
    g_autofree char *host = g_strndup(spec, colon - spec);
    gsize n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    g_autoptr(GInetAddress) ip = NULL;
    if (strcmp(host, "*") == 0 || *host == '\0')
        ip = g_inet_address_new_any(G_SOCKET_FAMILY_IPV4);
    else if (strcmp(host, "localhost") == 0)
        ip = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    else
        ip = g_inet_address_new_from_string(host);
    return ip ? g_inet_socket_address_new(ip, (guint16)port) : NULL;
}

/* "unix:PATH", "HOST:PORT", "[V6]:PORT", "*:PORT" (all IPv4), "localhost:PORT". */
static GSocketAddress *
parse_listen(const char *spec, const char *data_dir, char **unix_path_out, GError **error)
{
    GSocketAddress *addr = NULL;
    if (g_str_has_prefix(spec, "unix:") && spec[5] != '\0') {
        const char *path = spec + 5;
        *unix_path_out = g_path_is_absolute(path) ? g_strdup(path)
                                                  : g_build_filename(data_dir, path, NULL);
        /* sun_path holds 108 bytes: a longer path would be cut silently. */
        if (strlen(*unix_path_out) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
            g_set_error(error, CL_ERROR, CL_ERROR_CONFIG,
                        "listener \"%s\": the socket path is longer than %zu bytes", spec,
                        sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
            return NULL;
        }
        addr = g_unix_socket_address_new(*unix_path_out);
    } else if (!g_str_has_prefix(spec, "unix:")) {
        addr = parse_inet(spec);
    }
    if (addr == NULL)
        g_set_error(error, CL_ERROR, CL_ERROR_CONFIG,
                    "listener \"%s\": use HOST:PORT (an IP address, localhost or *) or "
                    "unix:PATH",
                    spec);
    return addr;
}

static Listener *
listener_new(ClServer *srv, ClProtocol protocol, const char *spec, GError **error)
{
    g_autofree char *unix_path = NULL;
    g_autoptr(GSocketAddress) addr = parse_listen(spec, srv->base->data_dir, &unix_path, error);
    if (addr == NULL)
        return NULL;
    if (unix_path != NULL && !clear_stale_socket(unix_path, error))
        return NULL;
    g_autoptr(GError) local = NULL;
    g_autoptr(GSocket) sock = g_socket_new(g_socket_address_get_family(addr), G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_DEFAULT, &local);
    if (sock != NULL) {
        g_socket_set_listen_backlog(sock, 1024);
        g_socket_set_blocking(sock, FALSE);
    }
    if (sock == NULL || !g_socket_bind(sock, addr, TRUE, &local) || !g_socket_listen(sock, &local)) {
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "cannot listen on %s (%s): %s", spec,
                    protocol_name(protocol), local->message);
        return NULL;
    }
    Listener *l = g_new0(Listener, 1);
    l->server = srv;
    l->protocol = protocol;
    l->spec = g_strdup(spec);
    if (unix_path != NULL) {
        if (chmod(unix_path, srv->base->socket_mode) != 0)
            g_warning("event=chmod-failed path=%s error=\"%s\"", unix_path, g_strerror(errno));
        l->bound = g_strdup_printf("unix:%s", unix_path);
        l->unix_path = g_steal_pointer(&unix_path);
    } else {
        g_autoptr(GSocketAddress) local_addr = g_socket_get_local_address(sock, NULL);
        GInetSocketAddress *in = G_INET_SOCKET_ADDRESS(local_addr);
        g_autofree char *ip = g_inet_address_to_string(g_inet_socket_address_get_address(in));
        bool v6 = g_inet_address_get_family(g_inet_socket_address_get_address(in)) ==
                  G_SOCKET_FAMILY_IPV6;
        l->bound = g_strdup_printf(v6 ? "[%s]:%u" : "%s:%u", ip,
                                   g_inet_socket_address_get_port(in));
    }
    l->socket = g_steal_pointer(&sock);
    l->source = g_socket_create_source(l->socket, G_IO_IN, NULL);
    g_source_set_callback(l->source, G_SOURCE_FUNC(listener_accept), l, NULL);
    return l;
}

/* ---- signals, reload, shutdown ------------------------------------------------------- */

static gboolean
shutdown_expired(gpointer data)
{
    ClServer *srv = data;
    g_warning("event=shutdown-timeout sessions=%u in_flight=%u", g_hash_table_size(srv->conns),
              srv->in_flight);
    g_main_loop_quit(srv->loop);
    srv->shutdown_timer = NULL;
    return G_SOURCE_REMOVE;
}

static gboolean
begin_shutdown(gpointer data)
{
    ClServer *srv = data;
    if (srv->stopping)
        return G_SOURCE_CONTINUE;
    srv->stopping = true;
    g_message("event=stopping sessions=%u in_flight=%u", g_hash_table_size(srv->conns),
              srv->in_flight);
    /* New sessions are refused: the listeners close now. */
    g_ptr_array_set_size(srv->listeners, 0);
    GList *conns = g_hash_table_get_keys(srv->conns);
    for (GList *l = conns; l != NULL; l = l->next) {
        Conn *c = l->data;
        cl_session_shutdown(c->session);
        conn_pump(c);
    }
    g_list_free(conns);
    if (g_hash_table_size(srv->conns) == 0 && srv->in_flight == 0) {
        g_main_loop_quit(srv->loop);
        return G_SOURCE_CONTINUE;
    }
    srv->shutdown_timer = g_timeout_source_new_seconds(srv->current->shutdown_timeout);
    g_source_set_callback(srv->shutdown_timer, shutdown_expired, srv, NULL);
    g_source_attach(srv->shutdown_timer, srv->ctx);
    g_source_unref(srv->shutdown_timer);
    return G_SOURCE_CONTINUE;
}

static gboolean
reload(gpointer data)
{
    ClServer *srv = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(ClConfig) next = cl_config_load(srv->base->data_dir, srv->config_file, &error);
    if (next == NULL || !cl_config_apply(next, srv->overrides, &error)) {
        g_warning("event=reload-failed error=\"%s\" (the old configuration stays)", error->message);
        return G_SOURCE_CONTINUE;
    }
    /* What sessions read takes effect for new sessions and transactions;
     * listeners and [storage] are bound at start and change on restart. */
    cl_log_setup((GLogLevelFlags)cl_log_level_parse(next->log_level));
    if (srv->current != srv->base)
        cl_config_free(srv->current);
    srv->current = g_steal_pointer(&next);
    g_message("event=reloaded max_message_bytes=%" G_GINT64_FORMAT " max_sessions=%u "
              "idle_timeout=%u log_level=%s (listeners and storage change on restart)",
              srv->current->max_message_bytes, srv->current->max_sessions,
              srv->current->idle_timeout, srv->current->log_level);
    return G_SOURCE_CONTINUE;
}

static void
add_signal(ClServer *srv, int signum, GSourceFunc func)
{
    GSource *s = g_unix_signal_source_new(signum);
    g_source_set_callback(s, func, srv, NULL);
    g_source_attach(s, srv->ctx);
    g_source_unref(s);
}

/* ---- life cycle ---------------------------------------------------------------------- */

ClServer *
cl_server_new(const ClConfig *config, const char *config_file, char **overrides,
              GError **error)
{
    g_autoptr(ClServer) srv = g_new0(ClServer, 1);
    srv->dir_fd = -1;
    srv->base = cl_config_copy(config);
    srv->current = srv->base;
    srv->config_file = g_strdup(config_file);
    srv->overrides = g_strdupv(overrides);
    srv->hostname = g_strdup(config->hostname && *config->hostname ? config->hostname
                                                                   : g_get_host_name());
    srv->ctx = g_main_context_new();
    srv->loop = g_main_loop_new(srv->ctx, FALSE);
    srv->listeners = g_ptr_array_new_with_free_func((GDestroyNotify)listener_free);
    srv->conns = g_hash_table_new(NULL, NULL);
    srv->ready = g_async_queue_new();
    g_mutex_init(&srv->ck_lock);
    g_cond_init(&srv->ck_cond);
    g_mutex_init(&srv->ix_lock);
    g_cond_init(&srv->ix_cond);
    if (srv->base->commit_batch == 0)
        srv->base->commit_batch = 1;
    srv->store = cl_store_open(srv->base, error);
    if (srv->store == NULL)
        return NULL;
    /* While this server answers from the directory, `contactlog demo` does not
     * clear it away under it (the mail it acknowledged would be gone). */
    srv->dir_fd = cl_data_dir_hold(srv->base->data_dir, false);
    if (srv->dir_fd < 0 && errno == EWOULDBLOCK) {
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL,
                    "%s is being cleared by contactlog demo; try again when it is done",
                    srv->base->data_dir);
        return NULL;
    }
    if (srv->dir_fd < 0) {
        g_autofree char *dir = cl_log_value(srv->base->data_dir);
        g_warning("event=data-dir-hold-failed dir=%s error=\"%s\"", dir, g_strerror(errno));
    }
    guint stale = cl_store_tmp_clean(srv->store);
    if (stale > 0)
        g_message("event=spool-cleaned files=%u (left by a process that was killed)", stale);
    srv->wstore = cl_store_open(srv->base, error);
    if (srv->wstore == NULL)
        return NULL;
    /* A mail of an MTA is committed on its own or with a few others: keeping
     * its bytes in the database makes the COMMIT its only fsync (bench/lmtp:
     * about a third more mail per second on one connection). */
    cl_store_set_inline_blobs(srv->wstore, INLINE_BLOB_BYTES);
    /* The database log is checkpointed on a thread of its own: inside a
     * COMMIT (SQLite's way) it held up every session of that batch for up
     * to 25 ms (bench/lmtp, p99 at 10 sessions). */
    cl_store_defer_checkpoints(srv->wstore);
    srv->cstore = cl_store_open(srv->base, error);
    if (srv->cstore == NULL)
        return NULL;
    srv->istore = cl_store_open(srv->base, error);
    if (srv->istore == NULL)
        return NULL;
    cl_store_set_background(srv->istore);
    srv->pipeline = cl_pipeline_new(srv->wstore, srv->base);
    for (int pass = 0; pass < 2; pass++) {
        char **specs = pass == 0 ? config->lmtp_listen : config->smtp_listen;
        for (gsize i = 0; specs != NULL && specs[i] != NULL; i++) {
            Listener *l = listener_new(srv, pass == 0 ? CL_PROTOCOL_LMTP : CL_PROTOCOL_SMTP,
                                       specs[i], error);
            if (l == NULL)
                return NULL;
            g_ptr_array_add(srv->listeners, l);
        }
    }
    cl_metrics_describe("contactlog_mails_total",
                        "mail received, by source, result and reason of rejection", false);
    if (srv->listeners->len == 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_CONFIG,
                    "no listener: give --lmtp or --smtp, or server.lmtp in the configuration");
        return NULL;
    }
    return g_steal_pointer(&srv);
}

GStrv
cl_server_listeners(ClServer *srv)
{
    GStrvBuilder *b = g_strv_builder_new();
    for (guint i = 0; i < srv->listeners->len; i++) {
        Listener *l = srv->listeners->pdata[i];
        g_autofree char *s = g_strdup_printf("%s %s", protocol_name(l->protocol), l->bound);
        g_strv_builder_add(b, s);
    }
    GStrv out = g_strv_builder_end(b);
    g_strv_builder_unref(b);
    return out;
}

typedef struct {
    ClServer *server;
    void (*func)(ClServer *, void *);
    void *data;
} Ready;

static gboolean
call_ready(gpointer data)
{
    Ready *r = data;
    r->func(r->server, r->data);
    return G_SOURCE_REMOVE;
}

bool
cl_server_run(ClServer *srv, void (*on_ready)(ClServer *, void *), void *data)
{
    g_main_context_push_thread_default(srv->ctx);
    srv->parsers = g_thread_pool_new(parse_job, srv, (gint)MAX(1u, g_get_num_processors()), FALSE,
                                     NULL);
    if (spare_fd < 0)
        spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    srv->storer = g_thread_new("cl-store", store_main, srv);
    srv->checkpointer = g_thread_new("cl-checkpoint", checkpoint_main, srv);
    srv->indexer = g_thread_new("cl-index", index_main, srv);
    add_signal(srv, SIGTERM, begin_shutdown);
    add_signal(srv, SIGINT, begin_shutdown);
    add_signal(srv, SIGHUP, reload);
    for (guint i = 0; i < srv->listeners->len; i++) {
        Listener *l = srv->listeners->pdata[i];
        g_source_attach(l->source, srv->ctx);
        g_message("event=listening proto=%s address=%s", protocol_name(l->protocol), l->bound);
    }
    g_message("event=started version=%s data_dir=%s max_message_bytes=%" G_GINT64_FORMAT
              " max_sessions=%u commit_batch=%u parse_threads=%u",
              CL_VERSION_STRING, srv->base->data_dir, srv->current->max_message_bytes,
              srv->current->max_sessions, srv->base->commit_batch, g_get_num_processors());
    Ready ready = { srv, on_ready, data };
    if (on_ready != NULL) {
        GSource *s = g_idle_source_new();
        g_source_set_callback(s, call_ready, &ready, NULL);
        g_source_attach(s, srv->ctx);
        g_source_unref(s);
    }
    g_main_loop_run(srv->loop);

    /* Stopped: parse what was received, store it, then answer whoever is left. */
    g_thread_pool_free(srv->parsers, FALSE, TRUE);
    srv->parsers = NULL;
    g_async_queue_push(srv->ready, &stop_job);
    g_thread_join(srv->storer);
    srv->storer = NULL;
    g_mutex_lock(&srv->ck_lock); /* a last checkpoint, then the thread ends */
    srv->ck_stop = true;
    g_cond_signal(&srv->ck_cond);
    g_mutex_unlock(&srv->ck_lock);
    g_thread_join(srv->checkpointer);
    srv->checkpointer = NULL;
    g_mutex_lock(&srv->ix_lock); /* the indexer ends after its current batch */
    g_atomic_int_set(&srv->ix_stop, 1);
    g_cond_signal(&srv->ix_cond);
    g_mutex_unlock(&srv->ix_lock);
    g_thread_join(srv->indexer);
    srv->indexer = NULL;
    while (g_main_context_pending(srv->ctx))
        g_main_context_iteration(srv->ctx, FALSE);
    GList *conns = g_hash_table_get_keys(srv->conns);
    for (GList *l = conns; l != NULL; l = l->next)
        conn_close(l->data, "shutdown");
    g_list_free(conns);
    while (g_main_context_pending(srv->ctx))
        g_main_context_iteration(srv->ctx, FALSE);
    g_message("event=stopped sessions=%u messages=%u tempfails=%u", srv->sessions, srv->messages,
              srv->tempfails);
    g_main_context_pop_thread_default(srv->ctx);
    return true;
}

static gboolean
stop_now(gpointer data)
{
    begin_shutdown(data);
    return G_SOURCE_REMOVE;
}

void
cl_server_stop(ClServer *srv)
{
    g_main_context_invoke(srv->ctx, stop_now, srv);
}

void
cl_server_free(ClServer *srv)
{
    if (srv == NULL)
        return;
    g_ptr_array_unref(srv->listeners);
    g_hash_table_unref(srv->conns);
    cl_pipeline_free(srv->pipeline);
    cl_store_free(srv->wstore);
    cl_store_free(srv->cstore);
    cl_store_free(srv->istore);
    cl_store_free(srv->store);
    g_async_queue_unref(srv->ready);
    g_mutex_clear(&srv->ck_lock);
    g_cond_clear(&srv->ck_cond);
    g_mutex_clear(&srv->ix_lock);
    g_cond_clear(&srv->ix_cond);
    g_main_loop_unref(srv->loop);
    g_main_context_unref(srv->ctx);
    if (srv->current != srv->base)
        cl_config_free(srv->current);
    cl_config_free(srv->base);
    g_free(srv->config_file);
    g_strfreev(srv->overrides);
    g_free(srv->hostname);
    if (srv->dir_fd >= 0)
        close(srv->dir_fd);
    g_free(srv);
}
