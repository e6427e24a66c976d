/*
 * cmd-fetch.c — `contactlog fetch`: polls an IMAP mailbox (src/intake/imap.c)
 * and captures its mail through the pipeline, one message at a time, like
 * `import`: the DESIGN §5 result line per message, printed only after the
 * message is committed, and only then is the message marked at the server.
 * A message that cannot be stored now stays unmarked for the next pass.
 * --once (default) makes one pass; --interval polls until SIGTERM/SIGINT,
 * which end the pass after the message at hand.
 */
#include <errno.h>
#include <glib-unix.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "intake/intake.h"

typedef struct {
    guint by_status[4]; /* ClResultStatus */
    guint failed;
    GHashTable *reasons; /* reason (static) → count */
} Tally;

typedef struct {
    ClImapSource *source;
    ClPipeline *pipeline;
    ClStore *store;
    ClEnvelope *env;
    guint die_after; /* test hook, 0: off */
    guint committed; /* results in this process */
    bool stop;       /* SIGTERM/SIGINT */
    bool logging;    /* --interval: key=value log lines instead of sentences */
    Tally total;
} Fetch;

/* Why a pass stopped short: one sentence on stderr, or a log line when polling. */
static void G_GNUC_PRINTF(2, 3)
complain(const Fetch *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (!f->logging) {
        fprintf(stderr, "contactlog fetch: %s\n", text);
        return;
    }
    g_autofree char *mb = cl_log_value(cl_imap_source_mailbox(f->source));
    g_autofree char *why = cl_log_value(text);
    g_warning("event=fetch-error mailbox=%s error=%s", mb, why);
}

static gboolean
on_signal(gpointer data)
{
    Fetch *f = data;
    f->stop = true;
    return G_SOURCE_CONTINUE;
}

/* Dispatches pending signals: they only set f->stop. */
static bool
stopping(Fetch *f)
{
    while (g_main_context_iteration(NULL, FALSE))
        ;
    return f->stop;
}

static void
tally_add(Tally *total, const Tally *pass)
{
    for (gsize i = 0; i < G_N_ELEMENTS(total->by_status); i++)
        total->by_status[i] += pass->by_status[i];
    total->failed += pass->failed;
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, pass->reasons);
    while (g_hash_table_iter_next(&it, &key, &value))
        g_hash_table_replace(total->reasons, key,
                             GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(total->reasons,
                                                                                   key)) +
                                              GPOINTER_TO_UINT(value)));
}

static void
tally_result(Tally *t, const ClResult *r)
{
    t->by_status[r->status]++;
    if (r->reason != NULL)
        g_hash_table_replace(t->reasons, (gpointer)r->reason,
                             GUINT_TO_POINTER(GPOINTER_TO_UINT(
                                                  g_hash_table_lookup(t->reasons, r->reason)) +
                                              1));
}

static void
print_line(char *line)
{
    printf("%s\n", line);
    fflush(stdout);
    g_free(line);
}

/*
 * List, then fetch → pipeline → commit → mark per message. Returns
 * EXIT_OK, EXIT_TEMPFAIL (something not stored, the server unreachable or
 * the connection lost: said on stderr) or EXIT_CONFIG (the mailbox cannot be
 * used as configured).
 */
static int
messages(Fetch *f, Tally *t, guint *fetched)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) uids = cl_imap_source_pending(f->source, &error);
    if (uids == NULL) {
        complain(f, "%s", error->message);
        return cli_exit_status(error);
    }
    int status = EXIT_OK;
    for (guint i = 0; i < uids->len && !stopping(f); i++) {
        guint32 uid = g_array_index(uids, guint32, i);
        g_autofree char *origin = cl_imap_source_origin(f->source, uid);
        g_autoptr(ClRawMessage) raw = cl_imap_source_fetch(f->source, f->store, uid, &error);
        if (raw == NULL && g_error_matches(error, CL_ERROR, CL_ERROR_NOT_FOUND)) {
            /* Expunged by someone else since the search: nothing to capture. */
            g_debug("fetch event=gone origin=%s", origin);
            g_clear_error(&error);
            continue;
        }
        g_autoptr(ClResult) r = NULL;
        if (raw != NULL) {
            (*fetched)++;
            r = cl_pipeline_process(f->pipeline, raw, f->env, &error);
        }
        if (r == NULL) {
            /* Not stored (locked database, full disk, the connection lost):
             * the message stays unmarked, and so does the rest of the
             * mailbox — the same cause would hold them up one by one. */
            print_line(cli_error_line(error->message, origin));
            t->failed++;
            g_autoptr(GError) local = NULL;
            if (raw != NULL && !cl_imap_source_release(f->source, uid, &local))
                g_debug("fetch event=release-failed origin=%s", origin);
            complain(f, "%s: not stored, %u left for the next run: %s", origin, uids->len - i,
                     error->message);
            status = EXIT_TEMPFAIL;
            break;
        }
        print_line(cli_result_line(r, origin));
        tally_result(t, r);
        if (f->die_after > 0 && ++f->committed == f->die_after) {
            /* Test hook (CONTACTLOG_TEST_FETCH_DIE_AFTER=K): die as if killed
             * between the commit of the K-th message and its marking, so that
             * the tests see the next run bring it back as a duplicate. */
            _exit(9);
        }
        if (!cl_imap_source_mark(f->source, uid, &error)) {
            complain(f,
                     "%s is stored but not marked (the next run finds it again, as a "
                     "duplicate): %s",
                     origin, error->message);
            status = EXIT_TEMPFAIL;
            break;
        }
    }
    return status;
}

/* One pass and its log line; the connection is closed after each. */
static int
pass(Fetch *f, Tally *t)
{
    guint fetched = 0;
    int status = messages(f, t, &fetched);
    cl_imap_source_close(f->source);
    g_autofree char *mb = cl_log_value(cl_imap_source_mailbox(f->source));
    g_info("event=fetch-pass mailbox=%s fetched=%u captured=%u rejected=%u duplicate=%u "
           "failed=%u",
           mb, fetched, t->by_status[CL_RESULT_PENDING] + t->by_status[CL_RESULT_SAVED],
           t->by_status[CL_RESULT_REJECTED], t->by_status[CL_RESULT_DUPLICATE], t->failed);
    return status;
}

/* The first line of a file: a password or an OAuth token. */
static char *
read_secret(const char *path, const char *what, int *status)
{
    g_autoptr(GError) error = NULL;
    char *text = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &text, &len, &error)) {
        fprintf(stderr, "contactlog fetch: cannot read the %s file: %s\n", what, error->message);
        *status = g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? EXIT_NOINPUT
                                                                           : EXIT_CONFIG;
        return NULL;
    }
    text[strcspn(text, "\r\n")] = '\0';
    if (*text == '\0') {
        fprintf(stderr, "contactlog fetch: the %s file %s is empty\n", what, path);
        g_free(text);
        *status = EXIT_CONFIG;
        return NULL;
    }
    return text;
}

static void
wipe(char *secret)
{
    if (secret != NULL)
        memset(secret, 0, strlen(secret)); /* not in memory longer than needed */
    g_free(secret);
}

static void
print_summary(const Tally *t)
{
    guint n = t->failed;
    for (gsize i = 0; i < G_N_ELEMENTS(t->by_status); i++)
        n += t->by_status[i];
    g_autoptr(GList) keys = g_list_sort(g_hash_table_get_keys(t->reasons), (GCompareFunc)strcmp);
    GString *why = g_string_new(NULL);
    for (GList *k = keys; k; k = k->next)
        g_string_append_printf(why, "%s%s %u", why->len ? ", " : " (", (char *)k->data,
                               GPOINTER_TO_UINT(g_hash_table_lookup(t->reasons, k->data)));
    if (why->len)
        g_string_append_c(why, ')');
    fprintf(stderr,
            "contactlog fetch: %u messages: %u pending, %u saved, %u duplicate, %u rejected%s, "
            "%u not stored\n",
            n, t->by_status[CL_RESULT_PENDING], t->by_status[CL_RESULT_SAVED],
            t->by_status[CL_RESULT_DUPLICATE], t->by_status[CL_RESULT_REJECTED], why->str,
            t->failed);
    g_string_free(why, TRUE);
}

static gboolean
on_wake(gpointer data)
{
    *(bool *)data = true;
    return G_SOURCE_REMOVE;
}

/* Sleeps `seconds`, or less when a signal comes. */
static void
nap(Fetch *f, guint seconds)
{
    bool woke = false;
    GSource *timer = g_timeout_source_new(seconds * 1000);
    g_source_set_callback(timer, on_wake, &woke, NULL);
    g_source_attach(timer, NULL);
    /* Blocks in poll() until the timer or a signal source wakes it. */
    while (!woke && !f->stop)
        g_main_context_iteration(NULL, TRUE);
    g_source_destroy(timer);
    g_source_unref(timer);
}

int
cmd_fetch(int argc, char **argv)
{
    g_autofree char *url = NULL;
    g_autofree char *user = NULL;
    g_autofree char *password_file = NULL;
    g_autofree char *token_file = NULL;
    g_autofree char *move_to = NULL;
    g_autofree char *max_size = NULL;
    g_autofree char *log_level = NULL;
    gboolean delete = FALSE, once = FALSE;
    int interval = -1; /* -1: not given */
    GOptionEntry entries[] = {
        { "url", 0, 0, G_OPTION_ARG_STRING, &url,
          "the mailbox, imaps://HOST[:PORT]/MAILBOX (default mailbox INBOX)", "URL" },
        { "user", 'u', 0, G_OPTION_ARG_STRING, &user, "IMAP user name", "NAME" },
        { "password-file", 0, 0, G_OPTION_ARG_FILENAME, &password_file,
          "the password, first line of FILE (default: $CONTACTLOG_IMAP_PASSWORD)", "FILE" },
        { "oauth2-token-file", 0, 0, G_OPTION_ARG_FILENAME, &token_file,
          "an OAuth 2.0 access token instead of a password (Microsoft 365), first line of "
          "FILE, read again for every pass",
          "FILE" },
        { "move-to", 0, 0, G_OPTION_ARG_STRING, &move_to,
          "move captured mail into FOLDER (created when missing)", "FOLDER" },
        { "delete", 0, 0, G_OPTION_ARG_NONE, &delete, "delete captured mail", NULL },
        { "once", 0, 0, G_OPTION_ARG_NONE, &once, "one pass, then exit (the default)", NULL },
        { "interval", 0, 0, G_OPTION_ARG_INT, &interval,
          "poll every SECONDS until SIGTERM or SIGINT", "SECONDS" },
        { "max-message-size", 0, 0, G_OPTION_ARG_STRING, &max_size,
          "reject larger mail as too-large (default 50M)", "SIZE" },
        { "log-level", 0, 0, G_OPTION_ARG_STRING, &log_level,
          "with --interval: debug, info (default), message or warning", "LEVEL" },
        { NULL },
    };
    if (!cli_parse("fetch", "--url URL --user NAME",
                   "Captures the mail of an IMAP mailbox and marks it at the server once it is "
                   "stored:\nwith the keyword $ContactlogCaptured (and \\Seen), or moved with "
                   "--move-to, or deleted with --delete.\nThe password comes from "
                   "--password-file or $CONTACTLOG_IMAP_PASSWORD, never from the command line.\n"
                   "Prints one JSON result line per message and a summary on standard error.\n"
                   "Exit status: 0 every message got a result, 75 some could not be stored or "
                   "the server\ncould not be reached, 64 usage, 66 no data directory, 78 bad "
                   "configuration.",
                   entries, false, false, &argc, &argv))
        return EXIT_USAGE;
    if (argc > 1)
        return cli_usage("fetch", "unexpected argument \"%s\"", argv[1]);
    if (url == NULL || user == NULL || *user == '\0')
        return cli_usage("fetch", "name the mailbox with --url and the user with --user");
    if (move_to != NULL && delete)
        return cli_usage("fetch", "--move-to and --delete exclude each other");
    if (once && interval != -1)
        return cli_usage("fetch", "--once and --interval exclude each other");
    if (interval == -1)
        interval = 0;
    else if (interval <= 0)
        return cli_usage("fetch", "--interval must be at least 1 second, not %d", interval);
    if (password_file != NULL && token_file != NULL)
        return cli_usage("fetch", "--password-file and --oauth2-token-file exclude each other");
    const char *env_password = g_getenv("CONTACTLOG_IMAP_PASSWORD");
    if (password_file == NULL && token_file == NULL && (env_password == NULL || !*env_password))
        return cli_usage("fetch", "give the password with --password-file FILE or in "
                                  "CONTACTLOG_IMAP_PASSWORD");
    int log_threshold = cl_log_level_parse(log_level ? log_level : "info");
    if (log_threshold < 0)
        return cli_usage("fetch", "--log-level must be debug, info, message or warning");

    g_autoptr(GError) error = NULL;
    g_autoptr(ClConfig) config = cli_config("fetch", &error);
    if (config == NULL)
        return cli_fail("fetch", error);
    if (max_size != NULL) {
        gint64 n = cl_parse_size(max_size);
        if (n <= 0)
            return cli_usage("fetch", "--max-message-size must be a size such as 50M, not \"%s\"",
                             max_size);
        config->max_message_bytes = n;
    }
    g_autoptr(ClStore) store = cli_open_store(config, false, &error);
    if (store == NULL)
        return cli_fail("fetch", error);

    int status = EXIT_OK;
    char *password = NULL, *token = NULL;
    if (token_file != NULL)
        token = read_secret(token_file, "OAuth token", &status);
    else if (password_file != NULL)
        password = read_secret(password_file, "password", &status);
    else
        password = g_strdup(env_password);
    if (password == NULL && token == NULL)
        return status;
    ClImapConfig ic = {
        .url = url,
        .user = user,
        .password = password,
        .bearer_token = token,
        .mark = move_to ? CL_IMAP_MARK_MOVE : delete ? CL_IMAP_MARK_DELETE : CL_IMAP_MARK_FLAG,
        .move_to = move_to,
        .max_message_bytes = config->max_message_bytes,
        .memory_bytes = config->session_memory,
    };
    g_autoptr(ClImapSource) source = cl_imap_source_new(&ic, &error);
    wipe(password);
    wipe(token);
    if (source == NULL)
        return cli_fail("fetch", error);

    g_autoptr(ClPipeline) pipeline = cl_pipeline_new(store, config);
    /* No MAIL FROM over IMAP; the recipient is the mailbox's user. */
    g_autoptr(ClEnvelope) env = cl_envelope_new();
    g_ptr_array_add(env->rcpts, g_strdup(user));
    Fetch f = { .source = source, .pipeline = pipeline, .store = store, .env = env };
    f.total.reasons = g_hash_table_new(g_str_hash, g_str_equal);
    const char *die = g_getenv("CONTACTLOG_TEST_FETCH_DIE_AFTER");
    if (die != NULL)
        f.die_after = (guint)strtoul(die, NULL, 10);
    guint sig_term = g_unix_signal_add(SIGTERM, on_signal, &f);
    guint sig_int = g_unix_signal_add(SIGINT, on_signal, &f);

    if (interval > 0) {
        f.logging = true;
        cl_log_setup((GLogLevelFlags)log_threshold);
        g_autofree char *mb = cl_log_value(cl_imap_source_mailbox(source));
        g_message("event=fetch-start mailbox=%s interval=%d", mb, interval);
    }
    guint passes = 0;
    do {
        Tally t = { .reasons = g_hash_table_new(g_str_hash, g_str_equal) };
        if (token_file != NULL && passes > 0) {
            /* Access tokens live an hour; another program refreshes the file. */
            g_autofree char *fresh = read_secret(token_file, "OAuth token", &status);
            if (fresh != NULL)
                cl_imap_source_set_bearer_token(source, fresh);
            wipe(g_steal_pointer(&fresh));
        }
        int st = pass(&f, &t);
        passes++;
        tally_add(&f.total, &t);
        g_hash_table_unref(t.reasons);
        if (interval == 0 || st == EXIT_CONFIG) {
            status = st;
            break;
        }
        nap(&f, (guint)interval);
    } while (!f.stop);
    if (interval > 0 && status != EXIT_CONFIG) {
        g_autofree char *mb = cl_log_value(cl_imap_source_mailbox(source));
        g_message("event=fetch-stop mailbox=%s", mb);
        status = EXIT_OK; /* stopped by a signal, as asked */
    }
    g_source_remove(sig_term);
    g_source_remove(sig_int);
    print_summary(&f.total);
    g_hash_table_unref(f.total.reasons);
    return status;
}
