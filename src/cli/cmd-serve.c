/*
 * cmd-serve.c — `contactlog serve`: the LMTP/SMTP server in the foreground,
 * logging key=value lines to stderr (systemd keeps it running; see
 * contrib/contactlog.service). Flags override the configuration file, and
 * keep doing so when SIGHUP reloads it.
 */
#include <stdio.h>

#include "api/api.h"
#include "cli.h"
#include "intake/intake.h"

static void
print_ready(ClServer *server, void *data)
{
    ClApi *api = data;
    /* One line on stdout once every listener accepts: scripts wait for it. */
    g_auto(GStrv) listeners = cl_server_listeners(server);
    g_autofree char *joined = g_strjoinv(", ", listeners);
    g_auto(GStrv) http = api ? cl_api_listeners(api) : NULL;
    g_autofree char *http_joined = http && http[0] ? g_strjoinv(", ", http) : NULL;
    printf("contactlog serve: listening: %s%s%s\n", joined, http_joined ? ", " : "",
           http_joined ? http_joined : "");
    fflush(stdout);
}

/* Adds "name=value" for a flag that was given. */
static void
add_override(GPtrArray *overrides, const char *name, const char *value)
{
    if (value != NULL)
        g_ptr_array_add(overrides, g_strdup_printf("%s=%s", name, value));
}

int
cmd_serve(int argc, char **argv)
{
    g_auto(GStrv) lmtp = NULL;
    g_auto(GStrv) smtp = NULL;
    g_auto(GStrv) http = NULL;
    g_autofree char *max_size = NULL;
    g_autofree char *log_level = NULL;
    g_autofree char *hostname = NULL;
    GOptionEntry entries[] = {
        { "lmtp", 0, 0, G_OPTION_ARG_STRING_ARRAY, &lmtp,
          "LMTP listener, HOST:PORT or unix:PATH (repeatable; replaces server.lmtp, "
          "default unix:lmtp.sock in the data directory)", "ADDR" },
        { "smtp", 0, 0, G_OPTION_ARG_STRING_ARRAY, &smtp,
          "SMTP listener for setups without a front MTA (repeatable; replaces server.smtp)",
          "ADDR" },
        { "http", 0, 0, G_OPTION_ARG_STRING_ARRAY, &http,
          "HTTP listener for the API and the web UI, HOST:PORT (repeatable; replaces http.listen)",
          "ADDR" },
        { "max-message-size", 0, 0, G_OPTION_ARG_STRING, &max_size,
          "announced in SIZE; larger mail is rejected (default 50M)", "SIZE" },
        { "hostname", 0, 0, G_OPTION_ARG_STRING, &hostname, "name in greetings", "NAME" },
        { "log-level", 0, 0, G_OPTION_ARG_STRING, &log_level,
          "debug, info (default), message or warning", "LEVEL" },
        { NULL },
    };
    if (!cli_parse("serve", "",
                   "Receives mail for the drop addresses over LMTP (and SMTP) and captures it.\n"
                   "A message is answered 250 only once it is stored; 451 when it cannot be "
                   "stored now;\n5xx with the reason when it is rejected. SIGTERM stops "
                   "gracefully, SIGHUP reloads the configuration.",
                   entries, false, false, &argc, &argv))
        return EXIT_USAGE;
    if (argc > 1)
        return cli_usage("serve", "unexpected argument \"%s\"", argv[1]);
    g_autoptr(GPtrArray) overrides = g_ptr_array_new_with_free_func(g_free);
    /* Listeners on the command line replace the configured ones of their
     * protocol: --smtp alone keeps the configured LMTP listener. */
    g_autofree char *l = lmtp ? g_strjoinv(",", lmtp) : NULL;
    g_autofree char *s = smtp ? g_strjoinv(",", smtp) : NULL;
    add_override(overrides, "server.lmtp", l);
    add_override(overrides, "server.smtp", s);
    g_autofree char *h = http ? g_strjoinv(",", http) : NULL;
    add_override(overrides, "http.listen", h);
    add_override(overrides, "limits.max_message_bytes", max_size);
    add_override(overrides, "server.hostname", hostname);
    add_override(overrides, "log.level", log_level);
    g_ptr_array_add(overrides, NULL);

    g_autoptr(GError) error = NULL;
    g_autoptr(ClConfig) config = cli_config("serve", &error);
    if (config == NULL || !cl_config_apply(config, (char **)overrides->pdata, &error))
        return cli_fail("serve", error);
    cl_log_setup((GLogLevelFlags)cl_log_level_parse(config->log_level));
    {
        /* The data directory must exist: serving an empty one would bounce all mail. */
        g_autoptr(ClStore) check = cli_open_store(config, false, &error);
        if (check == NULL)
            return cli_fail("serve", error);
    }
    g_autoptr(ClServer) server =
        cl_server_new(config, cli_common.config_file, (char **)overrides->pdata, &error);
    if (server == NULL)
        return cli_fail("serve", error);
    /* The HTTP API serves on threads of its own beside the mail server; on
     * SIGTERM both stop taking new work and finish what is in flight. */
    g_autoptr(ClApi) api = NULL;
    if (config->http_listen[0] != NULL) {
        api = cl_api_new(config, &error);
        if (api == NULL)
            return cli_fail("serve", error);
    }
    bool ok = cl_server_run(server, print_ready, api);
    if (api != NULL)
        cl_api_quiesce(api);
    return ok ? EXIT_OK : EXIT_TEMPFAIL;
}
