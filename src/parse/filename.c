/*
 * filename.c — attachment file names that are safe to store, list and offer for
 * download. The name arrives decoded (RFC 2231 / RFC 2047 by GMime) but is
 * otherwise hostile input: paths, control characters, bidi overrides, dots.
 */
#include "parse.h"

#include <string.h>

static const struct {
    const char *type, *ext;
} extensions[] = {
    { "application/pdf", ".pdf" },  { "image/png", ".png" },   { "image/jpeg", ".jpg" },
    { "image/gif", ".gif" },        { "text/plain", ".txt" },  { "text/html", ".html" },
    { "text/calendar", ".ics" },    { "message/rfc822", ".eml" }, { "text/csv", ".csv" },
    { "application/zip", ".zip" },  { "text/vcard", ".vcf" },  { "image/webp", ".webp" },
    { "application/msword", ".doc" },
    { "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx" },
    { "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx" },
};

static bool
unsafe_char(gunichar c)
{
    /* Path separators, characters Windows forbids, controls, and format
     * characters such as U+202E (right-to-left override: "gpj.exe"). */
    return c < 0x20 || c == 0x7f || strchr("/\\:*?\"<>|", (int)(c < 0x80 ? c : 'a')) != NULL ||
           g_unichar_type(c) == G_UNICODE_FORMAT || g_unichar_type(c) == G_UNICODE_CONTROL ||
           g_unichar_type(c) == G_UNICODE_LINE_SEPARATOR ||
           g_unichar_type(c) == G_UNICODE_PARAGRAPH_SEPARATOR;
}

char *
cl_parse_safe_filename(const char *name, const char *content_type, guint index)
{
    GString *out = g_string_new(NULL);
    if (name != NULL) {
        g_autofree char *valid = g_utf8_make_valid(name, -1);
        /* Only the last path component ("../../etc/passwd", "C:\x\y.pdf"). */
        const char *base = valid;
        for (const char *p = valid; *p; p++)
            if (*p == '/' || *p == '\\')
                base = p + 1;
        g_autofree char *nfc = g_utf8_normalize(base, -1, G_NORMALIZE_DEFAULT_COMPOSE);
        for (const char *p = nfc ? nfc : ""; *p; p = g_utf8_next_char(p)) {
            gunichar c = g_utf8_get_char(p);
            if (unsafe_char(c))
                c = '_';
            if (g_unichar_isspace(c))
                c = ' ';
            if (c == ' ' && (out->len == 0 || out->str[out->len - 1] == ' '))
                continue;
            g_string_append_unichar(out, c);
        }
        /* No hidden files, no "." or "..", no trailing dots or spaces (Windows). */
        gsize lead = 0;
        while (lead < out->len && (out->str[lead] == '.' || out->str[lead] == ' '))
            lead++;
        g_string_erase(out, 0, lead);
        while (out->len > 0 && (out->str[out->len - 1] == '.' || out->str[out->len - 1] == ' '))
            g_string_truncate(out, out->len - 1);
    }
    if (out->len == 0) {
        const char *ext = "";
        for (gsize i = 0; content_type && i < G_N_ELEMENTS(extensions); i++)
            if (g_ascii_strcasecmp(content_type, extensions[i].type) == 0)
                ext = extensions[i].ext;
        g_string_printf(out, "anhang-%u%s", index + 1, ext);
    }
    if (out->len > CL_MAX_FILENAME_BYTES) {
        /* Keep the extension (up to 16 bytes) and cut the stem at a character boundary. */
        const char *dot = strrchr(out->str, '.');
        gsize ext_len = dot && out->str + out->len - dot <= 16 ? (gsize)(out->str + out->len - dot) : 0;
        g_autofree char *ext = g_strdup(out->str + out->len - ext_len);
        const char *cut = g_utf8_find_prev_char(out->str, out->str + CL_MAX_FILENAME_BYTES - ext_len);
        g_string_truncate(out, cut ? (gsize)(cut - out->str) : 0);
        g_string_append(out, ext);
    }
    return g_string_free(out, FALSE);
}
