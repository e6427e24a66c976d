/*
 * cmd-capture.c — `deliver` (one message on stdin, for pipe transports) and
 * `import` (files, mbox, Maildir). Both print the DESIGN §5 result line per
 * message, and only after the message is committed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "intake/intake.h"

static int
result_exit_status(const ClResult *r)
{
    if (r->status != CL_RESULT_REJECTED)
        return EXIT_OK;
    if (strcmp(r->reason, "malformed") == 0 || strcmp(r->reason, "too-large") == 0)
        return EXIT_DATAERR;
    return EXIT_NOUSER; /* unknown-tenant, unknown-sender, ambiguous-sender */
}

static bool
apply_max_size(ClConfig *config, const char *text, const char *name)
{
    if (text == NULL)
        return true;
    gint64 n = cl_parse_size(text);
    if (n <= 0) {
        cli_usage(name, "--max-message-size must be a size such as 50M, not \"%s\"", text);
        return false;
    }
    config->max_message_bytes = n;
    return true;
}

int
cmd_deliver(int argc, char **argv)
{
    g_auto(GStrv) recipients = NULL;
    g_autofree char *sender = NULL;
    g_autofree char *max_size = NULL;
    GOptionEntry entries[] = {
        { "recipient", 'r', 0, G_OPTION_ARG_STRING_ARRAY, &recipients,
          "envelope recipient (RCPT TO; repeatable)", "ADDR" },
        { "sender", 'f', 0, G_OPTION_ARG_STRING, &sender, "envelope sender (MAIL FROM)", "ADDR" },
        { "max-message-size", 0, 0, G_OPTION_ARG_STRING, &max_size,
          "reject larger mail as too-large (default 50M)", "SIZE" },
        { NULL },
    };
    if (!cli_parse("deliver", "< MESSAGE",
                   "Reads one message on standard input, captures it and prints one JSON result "
                   "line.\nExit status: 0 accepted or duplicate, 65 malformed or too large, 67 "
                   "unknown or ambiguous sender or tenant, 75 try again later.",
                   entries, false, false, &argc, &argv))
        return EXIT_USAGE;
    if (argc > 1)
        return cli_usage("deliver", "unexpected argument \"%s\"", argv[1]);
    g_autoptr(GError) error = NULL;
    g_autoptr(ClConfig) config = cli_config("deliver", &error);
    if (config == NULL || !apply_max_size(config, max_size, "deliver"))
        return config == NULL ? cli_fail("deliver", error) : EXIT_USAGE;
    g_autoptr(ClStore) store = cli_open_store(config, false, &error);
    if (store == NULL) {
        /* Whatever keeps us from storing: the MTA keeps the mail and retries. */
        fprintf(stderr, "contactlog deliver: %s\n", error->message);
        return EXIT_TEMPFAIL;
    }
    g_autoptr(ClEnvelope) env = cl_envelope_new();
    env->sender = g_strdup(sender);
    for (gsize i = 0; recipients && recipients[i]; i++)
        g_ptr_array_add(env->rcpts, g_strdup(recipients[i]));

    g_autoptr(ClRawMessage) raw =
        cl_intake_spool(store, STDIN_FILENO, config->max_message_bytes, "stdin", &error);
    if (raw == NULL) {
        fprintf(stderr, "contactlog deliver: %s\n", error->message);
        return EXIT_TEMPFAIL;
    }
    g_autoptr(ClPipeline) pipeline = cl_pipeline_new(store, config);
    g_autoptr(ClResult) result = cl_pipeline_process(pipeline, raw, env, &error);
    if (result == NULL) {
        fprintf(stderr, "contactlog deliver: try again later: %s\n", error->message);
        return EXIT_TEMPFAIL;
    }
    g_autofree char *line = cli_result_line(result, NULL);
    printf("%s\n", line);
    if (fflush(stdout) != 0)
        return EXIT_TEMPFAIL;
    /* An MTA puts what we print into the bounce: give the sender a sentence. */
    if (result->status == CL_RESULT_REJECTED)
        fprintf(stderr, "contactlog: message rejected (%s): %s\n", result->reason,
                result->message);
    return result_exit_status(result);
}

/* ---- import ------------------------------------------------------------------------ */

typedef struct {
    guint total, done;
    guint by_status[4];
    guint failed;
    GHashTable *reasons; /* reason → count */
    gint64 bytes_total, bytes_done;
    gint64 started, last_draw;
    bool tty;
} Progress;

static void
draw(Progress *p, bool final)
{
    if (!p->tty)
        return;
    gint64 now = g_get_monotonic_time();
    if (!final && now - p->last_draw < 100000)
        return;
    p->last_draw = now;
    double frac = p->bytes_total > 0 ? (double)p->bytes_done / p->bytes_total : 1.0;
    int width = 30, fill = (int)(frac * width);
    double secs = (now - p->started) / 1e6;
    fprintf(stderr, "\r[%.*s%*s] %3d%%  %u/%u messages  %.0f/s ", fill,
            "##############################", width - fill, "", (int)(frac * 100), p->done,
            p->total, secs > 0 ? p->done / secs : 0.0);
    if (final)
        fputc('\n', stderr);
}

typedef struct {
    char *line;
    char *origin;
    ClResultStatus status;
    const char *reason;
    bool failed;
} Pending;

static void
pending_free(Pending *x)
{
    g_free(x->line);
    g_free(x->origin);
    g_free(x);
}

static void
flush_lines(GPtrArray *lines, Progress *p, bool committed, const char *why)
{
    for (guint i = 0; i < lines->len; i++) {
        Pending *x = g_ptr_array_index(lines, i);
        if (!committed && !x->failed) {
            /* The batch did not commit: nothing of these messages was kept. */
            g_free(x->line);
            x->line = cli_error_line(why, x->origin);
            x->failed = true;
        }
        printf("%s\n", x->line);
        if (x->failed) {
            p->failed++;
        } else {
            p->by_status[x->status]++;
            if (x->reason)
                g_hash_table_replace(p->reasons, (gpointer)x->reason,
                                     GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(
                                                          p->reasons, x->reason)) + 1));
        }
    }
    g_ptr_array_set_size(lines, 0);
    fflush(stdout);
}

static bool
commit_batch(ClPipeline *pipeline, GPtrArray *lines, Progress *p)
{
    g_autoptr(GError) error = NULL;
    bool ok = cl_pipeline_batch_commit(pipeline, &error);
    if (!ok)
        fprintf(stderr, "\ncontactlog import: a batch of %u messages was not stored, try again: %s\n",
                lines->len, error->message);
    flush_lines(lines, p, ok, ok ? NULL : error->message);
    return ok;
}

/* Messages parsed ahead of the store, so that parsing goes on while it commits;
 * bounded by count and by the memory they hold. */
#define READ_AHEAD 64
#define READ_AHEAD_BYTES ((gint64)64 * 1024 * 1024)

typedef struct {
    ClPrepared *prepared;
    GError *error;
} ReadItem;

static gint64
item_bytes(const ReadItem *ri)
{
    return ri->prepared ? cl_prepared_bytes(ri->prepared) : 0;
}

static void
read_item_free(ReadItem *ri)
{
    cl_prepared_free(ri->prepared);
    g_clear_error(&ri->error);
    g_free(ri);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ReadItem, read_item_free)

/*
 * Parsing runs ahead of the store on a pool of threads, one per processor;
 * storing stays on the calling thread, in input order. The window of parsed
 * messages is bounded by count (READ_AHEAD) and by the memory they hold
 * (READ_AHEAD_BYTES). Processed messages are handed back and freed by the
 * parse threads: freeing a parsed mail costs about a tenth of parsing it.
 */
typedef struct {
    const ClIntakeList *items; /* borrowed */
    const ClConfig *config; /* borrowed */
    GMutex lock;
    GCond changed;
    ReadItem **slots;       /* READ_AHEAD places; item i is in slots[i % READ_AHEAD] */
    guint next;             /* the next item a parse thread takes */
    guint consumed;         /* items the store has taken */
    gint64 held_bytes;      /* memory of parsed items not yet freed */
    GPtrArray *done;        /* ReadItem *: processed, to be freed by a parse thread */
    bool stop;
} Reader;

static gpointer
read_ahead(gpointer data)
{
    Reader *r = data;
    g_mutex_lock(&r->lock);
    for (;;) {
        while (r->done->len > 0) {
            ReadItem *back = g_ptr_array_steal_index_fast(r->done, r->done->len - 1);
            r->held_bytes -= item_bytes(back);
            g_mutex_unlock(&r->lock);
            read_item_free(back);
            g_mutex_lock(&r->lock);
        }
        if (r->stop || r->next >= cl_intake_list_length(r->items))
            break;
        if (r->next - r->consumed >= READ_AHEAD ||
            (r->next > r->consumed && r->held_bytes >= READ_AHEAD_BYTES)) {
            g_cond_wait(&r->changed, &r->lock);
            continue;
        }
        guint i = r->next++;
        g_mutex_unlock(&r->lock);

        const ClIntakeItem *it = cl_intake_list_get(r->items, i);
        ReadItem *ri = g_new0(ReadItem, 1);
        g_autofree char *path = cl_intake_item_path(it);
        g_autofree char *origin = cl_intake_item_origin(it);
        ClRawMessage *raw = cl_intake_open(path, it->offset, it->length,
                                           r->config->max_message_bytes, origin, &ri->error);
        if (raw != NULL)
            ri->prepared = cl_pipeline_prepare(raw, NULL, r->config);

        g_mutex_lock(&r->lock);
        r->slots[i % READ_AHEAD] = ri;
        r->held_bytes += item_bytes(ri);
        g_cond_broadcast(&r->changed);
    }
    g_mutex_unlock(&r->lock);
    return NULL;
}

/* The parsed item `i`, waiting for it (transfer full; hand it back with reader_done). */
static ReadItem *
reader_take(Reader *r, guint i)
{
    g_mutex_lock(&r->lock);
    while (r->slots[i % READ_AHEAD] == NULL)
        g_cond_wait(&r->changed, &r->lock);
    ReadItem *ri = r->slots[i % READ_AHEAD];
    r->slots[i % READ_AHEAD] = NULL;
    r->consumed = i + 1;
    g_cond_broadcast(&r->changed);
    g_mutex_unlock(&r->lock);
    return ri;
}

static void
reader_done(Reader *r, ReadItem *ri)
{
    g_mutex_lock(&r->lock);
    g_ptr_array_add(r->done, ri);
    g_cond_broadcast(&r->changed);
    g_mutex_unlock(&r->lock);
}

int
cmd_import(int argc, char **argv)
{
    g_autofree char *max_size = NULL;
    GOptionEntry entries[] = {
        { "max-message-size", 0, 0, G_OPTION_ARG_STRING, &max_size,
          "reject larger mail as too-large (default 50M)", "SIZE" },
        { NULL },
    };
    if (!cli_parse("import", "PATH...",
                   "Captures .eml files, mbox files, Maildir folders and directories of them.\n"
                   "Prints one JSON result line per message and a summary on standard error.",
                   entries, false, false, &argc, &argv))
        return EXIT_USAGE;
    if (argc < 2)
        return cli_usage("import", "name at least one file or folder");
    g_autoptr(GError) error = NULL;
    g_autoptr(ClConfig) config = cli_config("import", &error);
    if (config == NULL || !apply_max_size(config, max_size, "import"))
        return config == NULL ? cli_fail("import", error) : EXIT_USAGE;

    g_autoptr(ClIntakeList) items = cl_intake_list_new();
    Progress p = { .tty = isatty(STDERR_FILENO), .started = g_get_monotonic_time() };
    int status = EXIT_OK;
    for (int i = 1; i < argc; i++) {
        g_autoptr(GError) local = NULL;
        if (!cl_intake_list_add(items, argv[i], &p.bytes_total, &local)) {
            fprintf(stderr, "contactlog import: %s\n", local->message);
            status = cli_exit_status(local);
        }
    }
    g_autoptr(ClStore) store = cli_open_store(config, false, &error);
    if (store == NULL)
        return cli_fail("import", error);
    g_autoptr(ClPipeline) pipeline = cl_pipeline_new(store, config);
    cl_store_set_bulk(store, true);
    p.total = cl_intake_list_length(items);
    p.reasons = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func((GDestroyNotify)pending_free);

    Reader reader = { .items = items, .config = config, .slots = g_new0(ReadItem *, READ_AHEAD),
                      .done = g_ptr_array_new() };
    g_mutex_init(&reader.lock);
    g_cond_init(&reader.changed);
    guint n_threads = CLAMP(g_get_num_processors(), 1, 8);
    GThread *threads[8];
    for (guint t = 0; t < n_threads; t++)
        threads[t] = g_thread_new("cl-parse", read_ahead, &reader);

    bool in_batch = false;
    g_autoptr(GError) stuck = NULL; /* the store cannot begin: the rest is not stored */
    for (guint i = 0; i < p.total; i++) {
        const ClIntakeItem *it = cl_intake_list_get(items, i);
        ReadItem *ri = reader_take(&reader, i);
        Pending *x = g_new0(Pending, 1);
        x->origin = cl_intake_item_origin(it);
        if (!in_batch && stuck == NULL) {
            if (cl_pipeline_batch_begin(pipeline, &stuck)) {
                in_batch = true;
            } else {
                fprintf(stderr, "%scontactlog import: cannot store, try again: %s\n",
                        p.tty ? "\n" : "", stuck->message);
                status = EXIT_TEMPFAIL;
            }
        }
        g_autoptr(GError) local = g_steal_pointer(&ri->error);
        g_autoptr(ClResult) r = NULL;
        if (stuck == NULL && ri->prepared)
            r = cl_pipeline_process_prepared(pipeline, ri->prepared, NULL, &local);
        reader_done(&reader, ri); /* a parse thread frees it */
        if (r != NULL) {
            x->line = cli_result_line(r, x->origin);
            x->status = r->status;
            x->reason = r->reason;
        } else {
            const char *why = stuck ? stuck->message : local->message;
            if (stuck == NULL)
                fprintf(stderr, "%scontactlog import: %s: %s\n", p.tty ? "\n" : "", x->origin,
                        why);
            x->line = cli_error_line(why, x->origin);
            x->failed = true;
            status = EXIT_TEMPFAIL;
        }
        g_ptr_array_add(lines, x);
        p.done++;
        p.bytes_done += it->length;
        if (lines->len >= config->import_batch || (stuck != NULL && !in_batch)) {
            bool ok = true;
            if (in_batch) {
                in_batch = false;
                ok = commit_batch(pipeline, lines, &p);
            } else {
                flush_lines(lines, &p, true, NULL);
            }
            if (!ok)
                status = EXIT_TEMPFAIL;
        }
        draw(&p, false);
    }
    g_mutex_lock(&reader.lock);
    reader.stop = true;
    g_cond_broadcast(&reader.changed);
    g_mutex_unlock(&reader.lock);
    for (guint t = 0; t < n_threads; t++)
        g_thread_join(threads[t]);
    for (guint k = 0; k < READ_AHEAD; k++)
        g_clear_pointer(&reader.slots[k], read_item_free);
    for (guint k = 0; k < reader.done->len; k++)
        read_item_free(reader.done->pdata[k]);
    g_ptr_array_unref(reader.done);
    g_free(reader.slots);
    g_mutex_clear(&reader.lock);
    g_cond_clear(&reader.changed);
    if (in_batch && !commit_batch(pipeline, lines, &p))
        status = EXIT_TEMPFAIL;
    else if (!in_batch && lines->len > 0)
        flush_lines(lines, &p, true, NULL);
    cl_store_set_bulk(store, false);
    draw(&p, true);

    double secs = (g_get_monotonic_time() - p.started) / 1e6;
    GString *why = g_string_new(NULL);
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, p.reasons);
    while (g_hash_table_iter_next(&it, &key, &value))
        g_string_append_printf(why, "%s%s %u", why->len ? ", " : " (", (char *)key,
                               GPOINTER_TO_UINT(value));
    if (why->len)
        g_string_append_c(why, ')');
    fprintf(stderr,
            "contactlog import: %u messages in %.1f s (%.0f/s): %u pending, %u saved, "
            "%u duplicate, %u rejected%s, %u not stored\n",
            p.done, secs, secs > 0 ? p.done / secs : 0.0, p.by_status[CL_RESULT_PENDING],
            p.by_status[CL_RESULT_SAVED], p.by_status[CL_RESULT_DUPLICATE],
            p.by_status[CL_RESULT_REJECTED], why->str, p.failed);
    g_string_free(why, TRUE);
    g_hash_table_unref(p.reasons);
    return status;
}
