/*
 * log.c — key=value log lines on stderr for the long-running commands
 * (STYLE §6). Stage: core. One GLib writer function; the short-lived
 * commands keep GLib's default format.
 */
#include "core.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static GLogLevelFlags threshold = G_LOG_LEVEL_INFO;

static const struct {
    const char *name;
    GLogLevelFlags level;
} levels[] = {
    { "debug", G_LOG_LEVEL_DEBUG },
    { "info", G_LOG_LEVEL_INFO },
    { "message", G_LOG_LEVEL_MESSAGE },
    { "warning", G_LOG_LEVEL_WARNING },
};

int
cl_log_level_parse(const char *name)
{
    for (gsize i = 0; name != NULL && i < G_N_ELEMENTS(levels); i++)
        if (g_ascii_strcasecmp(name, levels[i].name) == 0)
            return (int)levels[i].level;
    return -1;
}

static const char *
level_name(GLogLevelFlags level)
{
    if (level & G_LOG_LEVEL_ERROR)
        return "error";
    if (level & G_LOG_LEVEL_CRITICAL)
        return "critical";
    for (gsize i = G_N_ELEMENTS(levels); i-- > 0;)
        if (level & levels[i].level)
            return levels[i].name;
    return "info";
}

char *
cl_log_value(const char *text)
{
    if (text == NULL)
        return g_strdup("-");
    bool plain = *text != '\0';
    for (const char *p = text; *p && plain; p++)
        plain = (guchar)*p > ' ' && *p != '"' && *p != '=' && *p != '\\' && (guchar)*p < 0x7f;
    if (plain)
        return g_strdup(text);
    GString *out = g_string_new("\"");
    for (const char *p = text; *p; p++) {
        if (*p == '"' || *p == '\\')
            g_string_append_c(out, '\\');
        if ((guchar)*p < ' ')
            g_string_append_c(out, ' '); /* one event, one line */
        else
            g_string_append_c(out, *p);
    }
    g_string_append_c(out, '"');
    return g_string_free(out, FALSE);
}

static GLogWriterOutput
writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
    (void)user_data;
    /* Lower numbers are more severe in GLib's flags. */
    if ((level & G_LOG_LEVEL_MASK) > threshold && !(level & G_LOG_FLAG_FATAL))
        return G_LOG_WRITER_HANDLED;
    const char *message = NULL, *domain = NULL;
    for (gsize i = 0; i < n_fields; i++) {
        if (strcmp(fields[i].key, "MESSAGE") == 0)
            message = fields[i].value;
        else if (strcmp(fields[i].key, "GLIB_DOMAIN") == 0)
            domain = fields[i].value;
    }
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *ts = g_date_time_format(now, "%Y-%m-%dT%H:%M:%S.%fZ");
    /* microseconds → milliseconds: "…:05.123456Z" → "…:05.123Z" */
    gsize len = strlen(ts);
    if (len > 8)
        memmove(ts + len - 4, "Z", 2);
    const char *module = domain && g_str_has_prefix(domain, "contactlog-") ? domain + 11
                         : domain                                          ? domain
                                                                           : "main";
    g_autofree char *line = g_strdup_printf("ts=%s level=%s module=%s %s\n", ts,
                                            level_name(level), module, message ? message : "");
    /* One write per line, so that lines of several threads do not interleave. */
    if (!cl_write_all(STDERR_FILENO, (const guint8 *)line, strlen(line)))
        return G_LOG_WRITER_UNHANDLED;
    return G_LOG_WRITER_HANDLED;
}

void
cl_log_setup(GLogLevelFlags level)
{
    threshold = level;
    static gsize once = 0;
    if (g_once_init_enter(&once)) {
        g_log_set_writer_func(writer, NULL, NULL);
        g_once_init_leave(&once, 1);
    }
}

bool
cl_log_enabled(GLogLevelFlags level)
{
    return (level & G_LOG_LEVEL_MASK) <= threshold;
}

bool
cl_write_all(int fd, const guint8 *buf, gsize len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        buf += n;
        len -= (gsize)n;
    }
    return true;
}
