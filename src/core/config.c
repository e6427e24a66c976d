/*
 * config.c — contactlog.conf (a GLib key file), one table of keys.
 * Defaults < file < CONTACTLOG_* environment < command-line flags (applied by cli/).
 */
#include "core.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef enum { CONF_SIZE, CONF_BOOL, CONF_UINT, CONF_STRING, CONF_LIST, CONF_MODE } ConfType;

static const struct {
    const char *group, *key, *env;
    ConfType type;
    const char *def;
    const char *help;
    gsize offset;
} keys[] = {
    { "limits", "max_message_bytes", "CONTACTLOG_MAX_MESSAGE_BYTES", CONF_SIZE, "50M",
      "larger mail is rejected as too-large", G_STRUCT_OFFSET(ClConfig, max_message_bytes) },
    { "storage", "sync", "CONTACTLOG_SYNC", CONF_BOOL, "true",
      "fsync mail and database before acknowledging (never switch off in production)",
      G_STRUCT_OFFSET(ClConfig, sync) },
    { "import", "batch", "CONTACTLOG_IMPORT_BATCH", CONF_UINT, "500",
      "messages that `import` commits together", G_STRUCT_OFFSET(ClConfig, import_batch) },
    { "server", "lmtp", "CONTACTLOG_LMTP", CONF_LIST, "unix:lmtp.sock",
      "LMTP listeners of `serve`: HOST:PORT or unix:PATH (relative to the data directory), "
      "comma-separated; empty for none", G_STRUCT_OFFSET(ClConfig, lmtp_listen) },
    { "server", "smtp", "CONTACTLOG_SMTP", CONF_LIST, "",
      "SMTP listeners of `serve` (for setups without a front MTA), like lmtp",
      G_STRUCT_OFFSET(ClConfig, smtp_listen) },
    { "server", "hostname", "CONTACTLOG_HOSTNAME", CONF_STRING, "",
      "name in greetings and Received lines (empty: the system's host name)",
      G_STRUCT_OFFSET(ClConfig, hostname) },
    { "server", "socket_mode", "CONTACTLOG_SOCKET_MODE", CONF_MODE, "0660",
      "permissions of Unix-socket listeners (octal)", G_STRUCT_OFFSET(ClConfig, socket_mode) },
    { "server", "max_sessions", "CONTACTLOG_MAX_SESSIONS", CONF_UINT, "1000",
      "simultaneous LMTP/SMTP sessions; more are answered 421 and closed",
      G_STRUCT_OFFSET(ClConfig, max_sessions) },
    { "server", "max_rcpts", "CONTACTLOG_MAX_RCPTS", CONF_UINT, "100",
      "recipients per message (more get 452)", G_STRUCT_OFFSET(ClConfig, max_rcpts) },
    { "server", "session_memory", "CONTACTLOG_SESSION_MEMORY", CONF_SIZE, "256K",
      "message bytes a session keeps in memory; larger mail is spooled to tmp/",
      G_STRUCT_OFFSET(ClConfig, session_memory) },
    { "server", "idle_timeout", "CONTACTLOG_IDLE_TIMEOUT", CONF_UINT, "300",
      "seconds a session may be silent before it is closed (RFC 5321 §4.5.3.2)",
      G_STRUCT_OFFSET(ClConfig, idle_timeout) },
    { "server", "shutdown_timeout", "CONTACTLOG_SHUTDOWN_TIMEOUT", CONF_UINT, "30",
      "seconds that sessions in flight get to finish after SIGTERM",
      G_STRUCT_OFFSET(ClConfig, shutdown_timeout) },
    { "server", "commit_batch", "CONTACTLOG_COMMIT_BATCH", CONF_UINT, "64",
      "messages of concurrent sessions committed together at most (group commit)",
      G_STRUCT_OFFSET(ClConfig, commit_batch) },
    { "http", "listen", "CONTACTLOG_HTTP", CONF_LIST, "",
      "HTTP listeners of `serve` (API and web UI): HOST:PORT, comma-separated; empty for none",
      G_STRUCT_OFFSET(ClConfig, http_listen) },
    { "http", "threads", "CONTACTLOG_HTTP_THREADS", CONF_UINT, "4",
      "threads answering HTTP requests, each with its own database connection",
      G_STRUCT_OFFSET(ClConfig, http_threads) },
    { "http", "max_upload_bytes", "CONTACTLOG_HTTP_MAX_UPLOAD", CONF_SIZE, "25M",
      "largest multipart/form-data body, files included (413 above); JSON bodies (base64 "
      "attachments too) are limited to 1M",
      G_STRUCT_OFFSET(ClConfig, http_max_upload) },
    { "http", "session_timeout", "CONTACTLOG_SESSION_TIMEOUT", CONF_UINT, "43200",
      "seconds a login stays valid without being used", G_STRUCT_OFFSET(ClConfig, session_timeout) },
    { "http", "secure_cookies", "CONTACTLOG_SECURE_COOKIES", CONF_BOOL, "false",
      "mark the session cookie Secure (set when a TLS proxy is in front)",
      G_STRUCT_OFFSET(ClConfig, secure_cookies) },
    { "http", "trust_proxy", "CONTACTLOG_TRUST_PROXY", CONF_BOOL, "false",
      "take the client address from X-Forwarded-For and TLS from X-Forwarded-Proto "
      "(only behind a reverse proxy that sets them)", G_STRUCT_OFFSET(ClConfig, trust_proxy) },
    { "http", "web_root", "CONTACTLOG_WEB_ROOT", CONF_STRING, "",
      "directory of the web UI's files (empty: the one installed with contactlog)",
      G_STRUCT_OFFSET(ClConfig, web_root) },
    { "http", "page_cache", "CONTACTLOG_PAGE_CACHE", CONF_BOOL, "true",
      "keep pages of company, lead and project histories in memory (32 MB) until anything "
      "is committed", G_STRUCT_OFFSET(ClConfig, page_cache) },
    { "log", "level", "CONTACTLOG_LOG_LEVEL", CONF_STRING, "info",
      "what `serve` logs: debug, info, message or warning", G_STRUCT_OFFSET(ClConfig, log_level) },
};

gint64
cl_parse_size(const char *text)
{
    if (text == NULL)
        return -1;
    char *end = NULL;
    errno = 0;
    guint64 n = g_ascii_strtoull(text, &end, 10);
    if (end == text || errno != 0)
        return -1;
    guint64 mult = 1;
    switch (g_ascii_toupper(*end)) {
    case '\0': break;
    case 'K': mult = 1024; end++; break;
    case 'M': mult = 1024 * 1024; end++; break;
    case 'G': mult = 1024 * 1024 * 1024; end++; break;
    default: return -1;
    }
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end != '\0' || n > (guint64)G_MAXINT64 / mult)
        return -1;
    return (gint64)(n * mult);
}

static bool
set_value(ClConfig *config, gsize i, const char *value, const char *where, GError **error)
{
    void *field = G_STRUCT_MEMBER_P(config, keys[i].offset);
    switch (keys[i].type) {
    case CONF_SIZE: {
        gint64 n = cl_parse_size(value);
        if (n <= 0) {
            g_set_error(error, CL_ERROR, CL_ERROR_CONFIG,
                        "%s: %s.%s must be a size such as 50M, not \"%s\"", where,
                        keys[i].group, keys[i].key, value);
            return false;
        }
        *(gint64 *)field = n;
        return true;
    }
    case CONF_BOOL:
        if (g_ascii_strcasecmp(value, "true") == 0 || strcmp(value, "1") == 0) {
            *(bool *)field = true;
        } else if (g_ascii_strcasecmp(value, "false") == 0 || strcmp(value, "0") == 0) {
            *(bool *)field = false;
        } else {
            g_set_error(error, CL_ERROR, CL_ERROR_CONFIG, "%s: %s.%s must be true or false",
                        where, keys[i].group, keys[i].key);
            return false;
        }
        return true;
    case CONF_UINT: {
        guint64 n = 0;
        if (!g_ascii_string_to_unsigned(value, 10, 1, G_MAXUINT, &n, NULL)) {
            g_set_error(error, CL_ERROR, CL_ERROR_CONFIG,
                        "%s: %s.%s must be a positive number", where, keys[i].group,
                        keys[i].key);
            return false;
        }
        *(guint *)field = (guint)n;
        return true;
    }
    case CONF_STRING:
        if (strcmp(keys[i].key, "level") == 0 && strcmp(keys[i].group, "log") == 0 &&
            cl_log_level_parse(value) < 0) {
            g_set_error(error, CL_ERROR, CL_ERROR_CONFIG,
                        "%s: log.level must be debug, info, message or warning, not \"%s\"",
                        where, value);
            return false;
        }
        g_free(*(char **)field);
        *(char **)field = g_strdup(value);
        return true;
    case CONF_LIST:
        g_strfreev(*(char ***)field);
        *(char ***)field = cl_config_split_list(value);
        return true;
    case CONF_MODE: {
        guint64 n = 0;
        if (!g_ascii_string_to_unsigned(value, 8, 0, 0777, &n, NULL)) {
            g_set_error(error, CL_ERROR, CL_ERROR_CONFIG,
                        "%s: %s.%s must be an octal mode such as 0660", where, keys[i].group,
                        keys[i].key);
            return false;
        }
        *(guint *)field = (guint)n;
        return true;
    }
    }
    return false;
}

char **
cl_config_split_list(const char *text)
{
    g_auto(GStrv) parts = g_regex_split_simple("[,;\\s]+", text ? text : "", 0, 0);
    GPtrArray *out = g_ptr_array_new();
    for (gsize i = 0; parts[i] != NULL; i++)
        if (parts[i][0] != '\0')
            g_ptr_array_add(out, g_strdup(parts[i]));
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
}

ClConfig *
cl_config_load(const char *data_dir, const char *file, GError **error)
{
    g_return_val_if_fail(data_dir != NULL, NULL);
    g_autoptr(ClConfig) config = g_new0(ClConfig, 1);
    config->data_dir = g_strdup(data_dir);
    for (gsize i = 0; i < G_N_ELEMENTS(keys); i++)
        if (!set_value(config, i, keys[i].def, "default", error))
            return NULL;

    g_autofree char *implicit = g_build_filename(data_dir, "contactlog.conf", NULL);
    const char *path = file;
    if (path == NULL && g_file_test(implicit, G_FILE_TEST_EXISTS))
        path = implicit;
    if (path != NULL) {
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_autoptr(GError) local = NULL;
        if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &local)) {
            g_set_error(error, CL_ERROR, CL_ERROR_CONFIG, "cannot read %s: %s", path,
                        local->message);
            return NULL;
        }
        g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
        for (gsize g = 0; groups[g] != NULL; g++) {
            g_auto(GStrv) names = g_key_file_get_keys(kf, groups[g], NULL, NULL);
            for (gsize k = 0; names != NULL && names[k] != NULL; k++) {
                gsize i = 0;
                while (i < G_N_ELEMENTS(keys) && !(strcmp(keys[i].group, groups[g]) == 0 &&
                                                   strcmp(keys[i].key, names[k]) == 0))
                    i++;
                if (i == G_N_ELEMENTS(keys)) {
                    g_set_error(error, CL_ERROR, CL_ERROR_CONFIG, "%s: unknown key %s.%s",
                                path, groups[g], names[k]);
                    return NULL;
                }
                g_autofree char *value = g_key_file_get_string(kf, groups[g], names[k], NULL);
                if (!set_value(config, i, value ? value : "", path, error))
                    return NULL;
            }
        }
    }
    for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
        const char *value = g_getenv(keys[i].env);
        if (value != NULL && !set_value(config, i, value, keys[i].env, error))
            return NULL;
    }
    return g_steal_pointer(&config);
}

void
cl_config_free(ClConfig *config)
{
    if (config == NULL)
        return;
    g_free(config->data_dir);
    g_strfreev(config->lmtp_listen);
    g_strfreev(config->smtp_listen);
    g_free(config->hostname);
    g_free(config->log_level);
    g_strfreev(config->http_listen);
    g_free(config->web_root);
    g_free(config);
}

ClConfig *
cl_config_copy(const ClConfig *c)
{
    ClConfig *n = g_new0(ClConfig, 1);
    *n = *c;
    n->data_dir = g_strdup(c->data_dir);
    n->lmtp_listen = g_strdupv(c->lmtp_listen);
    n->smtp_listen = g_strdupv(c->smtp_listen);
    n->hostname = g_strdup(c->hostname);
    n->log_level = g_strdup(c->log_level);
    n->http_listen = g_strdupv(c->http_listen);
    n->web_root = g_strdup(c->web_root);
    return n;
}

bool
cl_config_set(ClConfig *config, const char *name, const char *value, GError **error)
{
    const char *dot = strchr(name, '.');
    for (gsize i = 0; dot != NULL && i < G_N_ELEMENTS(keys); i++)
        if (strlen(keys[i].group) == (gsize)(dot - name) &&
            strncmp(keys[i].group, name, dot - name) == 0 && strcmp(keys[i].key, dot + 1) == 0)
            return set_value(config, i, value, "command line", error);
    g_set_error(error, CL_ERROR, CL_ERROR_CONFIG, "unknown configuration key %s", name);
    return false;
}

bool
cl_config_apply(ClConfig *config, char **overrides, GError **error)
{
    for (gsize i = 0; overrides != NULL && overrides[i] != NULL; i++) {
        const char *eq = strchr(overrides[i], '=');
        g_return_val_if_fail(eq != NULL, false);
        g_autofree char *name = g_strndup(overrides[i], eq - overrides[i]);
        if (!cl_config_set(config, name, eq + 1, error))
            return false;
    }
    return true;
}

char *
cl_config_defaults_text(void)
{
    GString *out = g_string_new(NULL);
    const char *group = NULL;
    for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
        if (group == NULL || strcmp(group, keys[i].group) != 0) {
            group = keys[i].group;
            g_string_append_printf(out, "%s[%s]\n", out->len ? "\n" : "", group);
        }
        g_string_append_printf(out, "# %s (environment: %s)\n%s = %s\n", keys[i].help,
                               keys[i].env, keys[i].key, keys[i].def);
    }
    return g_string_free(out, FALSE);
}
