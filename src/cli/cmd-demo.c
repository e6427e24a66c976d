/*
 * cmd-demo.c — `contactlog demo`: a demo agency (Nordlicht Kommunikation GmbH),
 * sample mails delivered one by one as an MTA would (drop address as envelope
 * recipient), then every user's review inbox and a summary. The master data
 * and the mails are compiled into the binary (demo/ in the source tree).
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "cli.h"
#include "intake/intake.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_t, json_decref)

#define DEMO_MARKER ".contactlog-demo"
#define DROP_ADDRESS "crm@contactlog.example"

/* Removes path and what is in it; a symbolic link is removed, never followed. */
static bool
remove_tree(const char *path)
{
    GStatBuf st;
    if (g_lstat(path, &st) != 0)
        return errno == ENOENT;
    g_autoptr(GDir) dir = S_ISDIR(st.st_mode) ? g_dir_open(path, 0, NULL) : NULL;
    if (dir != NULL) {
        const char *name;
        while ((name = g_dir_read_name(dir)) != NULL) {
            g_autofree char *child = g_build_filename(path, name, NULL);
            if (!remove_tree(child))
                return false;
        }
    }
    return g_remove(path) == 0 || errno == ENOENT;
}

static bool
dir_is_empty(const char *path)
{
    g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
    return dir != NULL && g_dir_read_name(dir) == NULL;
}

/* The demo starts afresh in a new or empty directory, or clears one it made
 * itself (its marker file) — unless a server is answering from it. Anything
 * else is refused: a directory with other files is never touched. */
static bool
prepare_dir(const char *dir, GError **error)
{
    g_autofree char *marker = g_build_filename(dir, DEMO_MARKER, NULL);
    if (g_file_test(dir, G_FILE_TEST_EXISTS) && !g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, CL_ERROR, CL_ERROR_CONFIG, "%s is not a directory", dir);
        return false;
    }
    if (g_file_test(marker, G_FILE_TEST_IS_REGULAR)) {
        int held = cl_data_dir_hold(dir, true);
        if (held < 0 && errno == EWOULDBLOCK) {
            g_set_error(error, CL_ERROR, CL_ERROR_CONFIG,
                        "%s is in use: a contactlog server answers from it (demo --serve or "
                        "serve); stop it first, or name another --data-dir",
                        dir);
            return false;
        }
        bool cleared = remove_tree(dir);
        int saved = errno;
        if (held >= 0)
            close(held);
        if (!cleared) {
            g_set_error(error, CL_ERROR, CL_ERROR_CONFIG, "cannot clear %s: %s", dir,
                        g_strerror(saved));
            return false;
        }
    } else if (g_file_test(dir, G_FILE_TEST_IS_DIR) && !dir_is_empty(dir)) {
        g_set_error(error, CL_ERROR, CL_ERROR_CONFIG,
                    "%s is not empty and was not made by the demo; name a new or empty "
                    "--data-dir (the demo clears only its own)",
                    dir);
        return false;
    }
    if (g_mkdir_with_parents(dir, 0750) != 0 ||
        !g_file_set_contents(marker, "created by contactlog demo\n", -1, error)) {
        if (error && *error == NULL)
            g_set_error(error, CL_ERROR, CL_ERROR_CONFIG, "cannot create %s", dir);
        return false;
    }
    return true;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool
write_resource(const char *resource, const char *path, GError **error)
{
    g_autoptr(GBytes) bytes = g_resources_lookup_data(resource, G_RESOURCE_LOOKUP_FLAGS_NONE,
                                                      error);
    if (bytes == NULL)
        return false;
    gsize len;
    const char *data = g_bytes_get_data(bytes, &len);
    return g_file_set_contents(path, data, len, error);
}

/* ---- the demo's LMTP client: delivers the sample mails as an MTA would -------------- */

typedef struct {
    GSocketConnection *conn;
    GDataInputStream *in;
    GOutputStream *out;
} Lmtp;

static void
lmtp_close(Lmtp *c)
{
    g_clear_object(&c->in);
    if (c->conn != NULL)
        g_io_stream_close(G_IO_STREAM(c->conn), NULL, NULL);
    g_clear_object(&c->conn);
}

/* One reply (the last line of a multi-line one); its code, or -1. */
static int
lmtp_reply(Lmtp *c, char **text_out, GError **error)
{
    for (;;) {
        g_autofree char *line =
            g_data_input_stream_read_line(c->in, NULL, NULL, error);
        if (line == NULL) {
            if (error && *error == NULL)
                g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "the server closed the session");
            return -1;
        }
        g_strchomp(line);
        if (strlen(line) < 3)
            continue;
        if (line[3] == '-')
            continue;
        if (text_out != NULL)
            *text_out = g_strdup(line[3] ? line + 4 : "");
        return atoi(line);
    }
}

static bool
lmtp_send(Lmtp *c, const char *text, gsize len, GError **error)
{
    return g_output_stream_write_all(c->out, text, len, NULL, NULL, error);
}

static bool
lmtp_open(Lmtp *c, const char *socket_path, GError **error)
{
    g_autoptr(GSocketClient) client = g_socket_client_new();
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(socket_path);
    c->conn = g_socket_client_connect(client, G_SOCKET_CONNECTABLE(addr), NULL, error);
    if (c->conn == NULL)
        return false;
    c->in = g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(c->conn)));
    g_data_input_stream_set_newline_type(c->in, G_DATA_STREAM_NEWLINE_TYPE_ANY);
    c->out = g_io_stream_get_output_stream(G_IO_STREAM(c->conn));
    if (lmtp_reply(c, NULL, error) != 220)
        return false;
    const char *lhlo = "LHLO demo.contactlog.example\r\n";
    return lmtp_send(c, lhlo, strlen(lhlo), error) && lmtp_reply(c, NULL, error) == 250;
}

/* MAIL, RCPT, DATA with the message dot-stuffed and in CRLF lines (RFC 5321
 * §4.5.2); returns the reply after the final dot (code, text). */
static int
lmtp_deliver(Lmtp *c, const char *data, gsize len, char **text_out, GError **error)
{
    g_autofree char *envelope =
        g_strdup_printf("MAIL FROM:<>\r\nRCPT TO:<%s>\r\nDATA\r\n", DROP_ADDRESS);
    if (!lmtp_send(c, envelope, strlen(envelope), error))
        return -1;
    /* PIPELINING: the three replies come in order. */
    for (int i = 0; i < 3; i++) {
        g_autofree char *text = NULL;
        int code = lmtp_reply(c, &text, error);
        if (code != (i < 2 ? 250 : 354)) {
            if (code > 0)
                g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "LMTP: %d %s", code, text);
            return -1;
        }
    }
    GString *body = g_string_sized_new(len + len / 20 + 8);
    for (gsize i = 0; i < len;) {
        const char *nl = memchr(data + i, '\n', len - i);
        gsize end = nl ? (gsize)(nl - data) : len;
        gsize n = end - i;
        if (n > 0 && data[end - 1] == '\r')
            n--;
        if (data[i] == '.')
            g_string_append_c(body, '.');
        g_string_append_len(body, data + i, n);
        g_string_append(body, "\r\n");
        i = nl ? end + 1 : len;
    }
    g_string_append(body, ".\r\n");
    bool ok = lmtp_send(c, body->str, body->len, error);
    g_string_free(body, TRUE);
    return ok ? lmtp_reply(c, text_out, error) : -1;
}

/* The DESIGN §5 result of a delivery, read back from the reply and the store,
 * so that the demo prints the same line as `deliver`. */
static ClResult *
result_from_reply(ClStore *store, int code, const char *text, GError **error)
{
    static const char *const reasons[] = { "unknown-tenant", "unknown-sender",
                                           "ambiguous-sender", "malformed",
                                           "too-large", "not-authenticated" };
    const char *p = text;
    while (*p == ' ' || g_ascii_isdigit(*p) || *p == '.') /* the enhanced status */
        p++;
    if (*p == '<' && strchr(p, '>') != NULL) /* "<rcpt> " of an LMTP reply */
        p = strchr(p, '>') + 1;
    while (*p == ' ')
        p++;
    g_autoptr(ClResult) r = g_new0(ClResult, 1);
    gint64 id = 0;
    if (code == 250) {
        const char *num = strstr(p, "entry ");
        id = num ? g_ascii_strtoll(num + 6, NULL, 10) : 0;
        r->entry = cl_store_entry_get(store, 0, id, error);
        if (r->entry == NULL)
            return NULL;
        r->status = g_str_has_prefix(p, "Already") ? CL_RESULT_DUPLICATE
                    : r->entry->state == CL_ENTRY_SAVED ? CL_RESULT_SAVED
                                                        : CL_RESULT_PENDING;
        r->tenant_key = g_strdup(r->entry->tenant_key);
        r->user_key = g_strdup(r->entry->author ? r->entry->author->key : NULL);
        return g_steal_pointer(&r);
    }
    for (gsize i = 0; code >= 500 && i < G_N_ELEMENTS(reasons); i++) {
        g_autofree char *head = g_strdup_printf("Rejected (%s): ", reasons[i]);
        if (!g_str_has_prefix(p, head))
            continue;
        r->status = CL_RESULT_REJECTED;
        r->reason = reasons[i];
        r->message = g_strdup(p + strlen(head));
        /* The tenant, when known, is in the rejection record just written. */
        g_autoptr(GPtrArray) rows = cl_store_rejections_list(store, 0, 1, NULL);
        g_autoptr(json_t) row = rows && rows->len
                                    ? json_loads(g_ptr_array_index(rows, 0), 0, NULL)
                                    : NULL;
        const char *tenant = json_string_value(json_object_get(row, "tenant"));
        r->tenant_key = g_strdup(tenant);
        return g_steal_pointer(&r);
    }
    g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "LMTP: %d %s", code, text);
    return NULL;
}

typedef struct {
    GMutex lock;
    GCond cond;
    bool ready;
} ReadyFlag;

static void
server_ready(ClServer *server, void *data)
{
    (void)server;
    ReadyFlag *f = data;
    g_mutex_lock(&f->lock);
    f->ready = true;
    g_cond_signal(&f->cond);
    g_mutex_unlock(&f->lock);
}

typedef struct {
    ClServer *server;
    ReadyFlag flag;
} ServerThread;

static gpointer
server_thread(gpointer data)
{
    ServerThread *st = data;
    cl_server_run(st->server, server_ready, &st->flag);
    /* Stopped before it was ready would leave the demo waiting. */
    server_ready(st->server, &st->flag);
    return NULL;
}

int
cmd_demo(int argc, char **argv)
{
    gboolean serve = FALSE;
    g_autofree char *lmtp = NULL;
    g_autofree char *smtp = NULL;
    g_autofree char *http = NULL;
    GOptionEntry entries[] = {
        { "serve", 0, 0, G_OPTION_ARG_NONE, &serve,
          "keep serving afterwards (LMTP, SMTP, the web UI and API on loopback) until Ctrl-C",
          NULL },
        { "http", 0, 0, G_OPTION_ARG_STRING, &http,
          "with --serve: HTTP listener of the web UI and API (default 127.0.0.1:8080)", "ADDR" },
        { "lmtp", 0, 0, G_OPTION_ARG_STRING, &lmtp,
          "with --serve: LMTP listener (default 127.0.0.1:2424)", "ADDR" },
        { "smtp", 0, 0, G_OPTION_ARG_STRING, &smtp,
          "with --serve: SMTP listener (default 127.0.0.1:2525)", "ADDR" },
        { NULL },
    };
    if (!cli_parse("demo", "",
                   "Creates a demo agency in the data directory (default here: "
                   "./contactlog-demo), starts the\nmail server, delivers sample mails to it "
                   "over LMTP and prints every user's review inbox\nand what was accepted or "
                   "rejected and why. It starts in a new or empty directory, or clears\none it "
                   "made itself; any other directory is never touched, nor one a running\nserver "
                   "answers from.",
                   entries, false, false, &argc, &argv))
        return EXIT_USAGE;
    if (argc > 1)
        return cli_usage("demo", "unexpected argument \"%s\"", argv[1]);
    if ((lmtp != NULL || smtp != NULL || http != NULL) && !serve)
        return cli_usage("demo", "--lmtp, --smtp and --http go with --serve");
    const char *env_dir = g_getenv("CONTACTLOG_DATA_DIR");
    if (cli_common.data_dir == NULL && (env_dir == NULL || *env_dir == '\0'))
        cli_common.data_dir = g_strdup("contactlog-demo");
    g_autoptr(GError) error = NULL;
    g_autoptr(ClConfig) config = cli_config("demo", &error);
    if (config == NULL || !prepare_dir(config->data_dir, &error))
        return cli_fail("demo", error);
    g_autoptr(ClStore) store = cli_open_store(config, true, &error);
    if (store == NULL)
        return cli_fail("demo", error);

    g_autofree char *md = g_build_filename(config->data_dir, "demo-masterdata.json", NULL);
    ClLoadStats stats;
    if (!write_resource("/contactlog/demo/masterdata.json", md, &error) ||
        !cl_store_load_masterdata(store, md, &stats, &error))
        return cli_fail("demo", error);
    printf("== Demo data in %s\n   master data: %u records (Nordlicht Kommunikation GmbH and "
           "Hafenblick Design)\n\n",
           config->data_dir, stats.created);

    /* The server: always on a Unix socket in the data directory (the demo's
     * own deliveries), with --serve also on loopback ports for the reader. */
    g_autofree char *lmtp_list = g_strdup_printf(
        "unix:lmtp.sock%s%s", serve ? "," : "", serve ? (lmtp ? lmtp : "127.0.0.1:2424") : "");
    if (!cl_config_set(config, "server.lmtp", lmtp_list, &error) ||
        !cl_config_set(config, "server.smtp", serve ? (smtp ? smtp : "127.0.0.1:2525") : "",
                       &error))
        return cli_fail("demo", error);
    /* Quiet while the demo prints; with --serve, a line per event afterwards. */
    cl_log_setup(G_LOG_LEVEL_WARNING);
    g_autoptr(ClServer) server = cl_server_new(config, cli_common.config_file, NULL, &error);
    if (server == NULL)
        return cli_fail("demo", error);
    ServerThread st = { .server = server };
    g_mutex_init(&st.flag.lock);
    g_cond_init(&st.flag.cond);
    GThread *thread = g_thread_new("cl-demo-serve", server_thread, &st);
    g_mutex_lock(&st.flag.lock);
    while (!st.flag.ready)
        g_cond_wait(&st.flag.cond, &st.flag.lock);
    g_mutex_unlock(&st.flag.lock);

    g_autofree char *mail_dir = g_build_filename(config->data_dir, "sample-mail", NULL);
    g_mkdir_with_parents(mail_dir, 0750);
    g_auto(GStrv) names = g_resources_enumerate_children("/contactlog/demo/mail",
                                                         G_RESOURCE_LOOKUP_FLAGS_NONE, &error);
    if (names == NULL)
        return cli_fail("demo", error);
    qsort(names, g_strv_length(names), sizeof(char *), cmp_names);

    g_autofree char *socket_path = g_build_filename(config->data_dir, "lmtp.sock", NULL);
    Lmtp client = { 0 };
    int status = EXIT_OK;
    guint accepted = 0, rejected = 0;
    GString *rejections = g_string_new(NULL);
    printf("== Delivering %u sample mails to %s over LMTP (as Postfix would, to %s)\n\n",
           g_strv_length(names), DROP_ADDRESS, socket_path);
    if (!lmtp_open(&client, socket_path, &error))
        status = cli_fail("demo", error);
    for (gsize i = 0; status == EXIT_OK && names[i]; i++) {
        g_autofree char *res = g_strdup_printf("/contactlog/demo/mail/%s", names[i]);
        g_autofree char *path = g_build_filename(mail_dir, names[i], NULL);
        g_autoptr(GBytes) bytes = g_resources_lookup_data(res, G_RESOURCE_LOOKUP_FLAGS_NONE,
                                                          &error);
        gsize len = 0;
        const char *data = bytes ? g_bytes_get_data(bytes, &len) : NULL;
        g_autofree char *text = NULL;
        int code = -1;
        g_autoptr(ClResult) r = NULL;
        if (data != NULL && g_file_set_contents(path, data, len, &error))
            code = lmtp_deliver(&client, data, len, &text, &error);
        if (code > 0)
            r = result_from_reply(store, code, text, &error);
        if (r == NULL) {
            status = cli_fail("demo", error);
            break;
        }
        g_autofree char *line = cli_result_line(r, NULL);
        printf("%s\n  %d %s\n  %s\n", names[i], code, text, line);
        if (r->status == CL_RESULT_REJECTED) {
            rejected++;
            g_string_append_printf(rejections, "  %-32s %-16s %s\n", names[i], r->reason,
                                   r->message);
        } else {
            accepted++;
        }
    }
    if (status == EXIT_OK) {
        const char *quit = "QUIT\r\n";
        lmtp_send(&client, quit, strlen(quit), NULL);
        lmtp_reply(&client, NULL, NULL);
    }
    lmtp_close(&client);
    if (status != EXIT_OK || !serve) {
        cl_server_stop(server);
        g_thread_join(thread);
        thread = NULL;
    }
    if (status != EXIT_OK) {
        g_string_free(rejections, TRUE);
        return status;
    }

    g_autoptr(GPtrArray) users = cl_store_users_list(store, 0, &error);
    if (users == NULL)
        return cli_fail("demo", error);
    for (guint i = 0; i < users->len; i++) {
        ClItem *u = g_ptr_array_index(users, i);
        ClEntryQuery q = { .tenant_id = u->tenant_id, .author_id = u->id, .limit = 100 };
        g_autoptr(GPtrArray) list = cl_store_entries_list(store, &q, &error);
        if (list == NULL)
            return cli_fail("demo", error);
        printf("\n== Meine Kontakthistorie: %s (%s, tenant %s) — %u to review\n\n", u->name,
               u->key, u->tenant_key, list->len);
        for (guint j = 0; j < list->len; j++) {
            cli_entry_print(g_ptr_array_index(list, j), false);
            printf("\n");
        }
    }
    printf("== Summary: %u accepted for review, %u rejected\n%s", accepted, rejected,
           rejections->str);
    g_string_free(rejections, TRUE);
    const char *self = cli_program;
    printf("\nTry:  %s inbox --data-dir %s --user lena\n"
           "      %s show --data-dir %s 9\n"
           "      %s confirm --data-dir %s 14 --lead 20417\n"
           "      %s history --data-dir %s --company sommer\n",
           self, config->data_dir, self, config->data_dir, self, config->data_dir, self,
           config->data_dir);
    if (thread != NULL) {
        /* The web UI and the API beside the mail server. */
        if (!cl_config_set(config, "http.listen", http ? http : "127.0.0.1:8080", &error))
            return cli_fail("demo", error);
        g_autoptr(ClApi) api = cl_api_new(config, &error);
        if (api == NULL) {
            cl_server_stop(server);
            g_thread_join(thread);
            g_prefix_error(&error, "the web UI cannot start (give another --http HOST:PORT): ");
            return cli_fail("demo", error);
        }
        g_auto(GStrv) listeners = cl_server_listeners(server);
        g_autofree char *joined = g_strjoinv(", ", listeners);
        g_auto(GStrv) web = cl_api_listeners(api);
        const char *web_addr = web[0] ? web[0] + 5 : "127.0.0.1:8080"; /* after "http " */
        printf("\n== contactlog is serving: %s, %s\n"
               "   Web UI: http://%s/ — log in as lena.hoffmann@nordlicht-agentur.example,\n"
               "   password change-me-lena (or tobias.brandt@…, mehmet.yilmaz@…, "
               "svenja.koehler@… with change-me-NAME).\n"
               "   Send a mail as Lena Hoffmann (a demo user), for example with swaks:\n"
               "      swaks --server %s --to %s --from lena.hoffmann@nordlicht-agentur.example "
               "--header 'Subject: Lead 20417 Rückruf'\n"
               "   Ctrl-C stops the server.\n",
               joined, web[0] ? web[0] : "", web_addr, smtp ? smtp : "127.0.0.1:2525",
               DROP_ADDRESS);
        fflush(stdout);
        cl_log_setup(G_LOG_LEVEL_INFO);
        g_thread_join(thread);
        cl_api_quiesce(api);
    }
    return EXIT_OK;
}
