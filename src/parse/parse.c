/*
 * parse.c — turns raw RFC 5322 bytes into a ClMessage with GMime. Stage: parse.
 *
 * Tolerant on purpose (DESIGN §2 "Decoding is forgiving"): loose RFC 2047,
 * RFC 2231 and address parsing, raw 8-bit header bytes read in the charset of
 * the part, else Windows-1252. The message is parsed from a file descriptor with
 * a persistent stream, so part contents are not copied into memory: attachments
 * are decoded straight from the spool file into their blob files.
 */
#include "parse-private.h"

#include <libxml/parser.h>

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define OLDEST_FORWARDED_MAIL 315532800 /* 1980-01-01: earlier forwarded dates are misread */
#define MAX_MIME_DEPTH 32 /* deeper nesting is walked no further (hostile input) */

static GMimeParserOptions *parser_options; /* set once by cl_parse_init() */
static GRegex *b_word_regex;                 /* =?charset?B?payload?= */

void
cl_parse_init(void)
{
    static gsize done = 0;
    if (g_once_init_enter(&done)) {
        g_mime_init();
        parser_options = g_mime_parser_options_new();
        g_mime_parser_options_set_address_compliance_mode(parser_options,
                                                          GMIME_RFC_COMPLIANCE_LOOSE);
        g_mime_parser_options_set_parameter_compliance_mode(parser_options,
                                                            GMIME_RFC_COMPLIANCE_LOOSE);
        g_mime_parser_options_set_rfc2047_compliance_mode(parser_options,
                                                          GMIME_RFC_COMPLIANCE_LOOSE);
        static const char *fallback[] = { "UTF-8", "windows-1252", NULL };
        g_mime_parser_options_set_fallback_charsets(parser_options, fallback);
        b_word_regex = g_regex_new("=\\?([^?\\s]+)\\?[Bb]\\?([A-Za-z0-9+/=]*)\\?=",
                                   G_REGEX_OPTIMIZE, 0, NULL);
        /* libxml2 must be initialised once before threads use it. */
        xmlInitParser();
        g_once_init_leave(&done, 1);
    }
}

/* Valid UTF-8 whatever came in: GMime already converted declared charsets. */
static char *
utf8_or_cp1252(const char *text, gssize len)
{
    if (text == NULL || len == 0)
        return g_strdup("");
    if (len < 0)
        len = strlen(text);
    if (g_utf8_validate_len(text, len, NULL))
        return g_strndup(text, len);
    char *conv = g_convert_with_fallback(text, len, "UTF-8", "WINDOWS-1252", "?", NULL, NULL,
                                         NULL);
    if (conv != NULL)
        return conv;
    return g_utf8_make_valid(text, len);
}

/* Control characters (folded header lines, tabs, NUL) become spaces; length capped. */
char *
parse_clean_line(const char *text, gsize max_bytes)
{
    g_autofree char *valid = utf8_or_cp1252(text ? text : "", -1);
    GString *out = g_string_sized_new(strlen(valid));
    bool space = false;
    for (const char *p = valid; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        if (g_unichar_iscntrl(c) || c == ' ') {
            space = out->len > 0;
            continue;
        }
        if (space)
            g_string_append_c(out, ' ');
        space = false;
        if (out->len + 6 > max_bytes)
            break;
        g_string_append_unichar(out, c);
    }
    return g_string_free(out, FALSE);
}

/* ---- header decoding ------------------------------------------------------------
 *
 * GMime decodes headers well, with two exceptions we repair before handing it
 * the text: raw 8-bit bytes are read in the charset of the part the header
 * describes (DESIGN §2; GMime would try its fallback list, so ISO-8859-2 came
 * out as Windows-1252), and adjacent base64 encoded words are merged before
 * decoding, which GMime gets wrong when a word carries "=" padding
 * ("=?UTF-8?B?QW5nZWJvdCBmw7xyIA==?= =?UTF-8?B?TGVhZCAxMTExMQ==?=" lost its
 * second half).
 */

/* The charset of the first text part: what a raw 8-bit header most likely is in. */
static const char *
charset_hint(GMimeObject *obj, int depth)
{
    if (obj == NULL || depth > 8)
        return NULL;
    if (GMIME_IS_MULTIPART(obj)) {
        int n = g_mime_multipart_get_count(GMIME_MULTIPART(obj));
        for (int i = 0; i < n; i++) {
            const char *cs = charset_hint(g_mime_multipart_get_part(GMIME_MULTIPART(obj), i),
                                          depth + 1);
            if (cs != NULL)
                return cs;
        }
        return NULL;
    }
    return g_mime_object_get_content_type_parameter(obj, "charset");
}

static void
flush_b_run(GString *out, const char *charset, GByteArray *bytes)
{
    if (charset == NULL)
        return;
    g_autofree char *b64 = g_base64_encode(bytes->data, bytes->len);
    g_string_append_printf(out, "=?%s?B?%s?=", charset, b64);
    g_byte_array_set_size(bytes, 0);
}

/* Adjacent base64 words of one charset become one word with the bytes joined. */
static char *
merge_b_words(const char *text)
{
    if (strstr(text, "?=") == NULL)
        return g_strdup(text);
    g_autoptr(GMatchInfo) m = NULL;
    if (!g_regex_match(b_word_regex, text, 0, &m))
        return g_strdup(text);
    GString *out = g_string_new(NULL);
    g_autoptr(GByteArray) bytes = g_byte_array_new();
    g_autofree char *run_charset = NULL;
    int last_end = 0;
    do {
        int start, end;
        g_match_info_fetch_pos(m, 0, &start, &end);
        g_autofree char *charset = g_match_info_fetch(m, 1);
        g_autofree char *payload = g_match_info_fetch(m, 2);
        bool gap_blank = true;
        for (int i = last_end; i < start && gap_blank; i++)
            gap_blank = g_ascii_isspace(text[i]);
        if (run_charset == NULL || !gap_blank || g_ascii_strcasecmp(run_charset, charset) != 0) {
            flush_b_run(out, run_charset, bytes);
            g_string_append_len(out, text + last_end, start - last_end);
            g_free(run_charset);
            run_charset = g_strdup(charset);
        }
        gsize len = 0;
        g_autofree guchar *decoded = g_base64_decode(payload, &len);
        g_byte_array_append(bytes, decoded, len);
        last_end = end;
    } while (g_match_info_next(m, NULL));
    flush_b_run(out, run_charset, bytes);
    g_string_append(out, text + last_end);
    return g_string_free(out, FALSE);
}

/* All headers `name` of obj, raw, joined with ", " (or " " for text), as UTF-8. */
static char *
raw_header(GMimeObject *obj, const char *name, const char *joiner, const char *hint)
{
    GMimeHeaderList *list = g_mime_object_get_header_list(obj);
    int n = list ? g_mime_header_list_get_count(list) : 0;
    GString *raw = NULL;
    for (int i = 0; i < n; i++) {
        GMimeHeader *h = g_mime_header_list_get_header_at(list, i);
        if (g_ascii_strcasecmp(g_mime_header_get_name(h), name) != 0)
            continue;
        const char *value = g_mime_header_get_raw_value(h);
        if (value == NULL)
            continue;
        if (raw == NULL)
            raw = g_string_new(NULL);
        else
            g_string_append(raw, joiner);
        g_string_append(raw, value);
    }
    if (raw == NULL)
        return NULL;
    g_autofree char *bytes = g_string_free(raw, FALSE);
    char *utf8 = NULL;
    if (g_utf8_validate(bytes, -1, NULL))
        utf8 = g_steal_pointer(&bytes);
    else if (hint != NULL && g_ascii_strcasecmp(hint, "utf-8") != 0 &&
             g_ascii_strcasecmp(hint, "us-ascii") != 0)
        utf8 = g_convert(bytes, -1, "UTF-8", hint, NULL, NULL, NULL);
    if (utf8 == NULL)
        utf8 = utf8_or_cp1252(bytes, -1);
    char *merged = merge_b_words(utf8);
    g_free(utf8);
    return merged;
}

static char *
decoded_text_header(GMimeObject *obj, const char *name, const char *hint)
{
    g_autofree char *raw = raw_header(obj, name, " ", hint);
    if (raw == NULL)
        return NULL;
    return g_mime_utils_header_decode_text(parser_options, raw);
}

static ClAddress *
address_new(InternetAddressMailbox *mb)
{
    const char *addr = internet_address_mailbox_get_addr(mb);
    if (addr == NULL || *addr == '\0')
        return NULL;
    ClAddress *a = g_new0(ClAddress, 1);
    a->address = parse_clean_line(addr, 998);
    const char *name = internet_address_get_name(INTERNET_ADDRESS(mb));
    if (name != NULL && *name != '\0')
        a->name = parse_clean_line(name, 998);
    return a;
}

void
parse_address_free(ClAddress *a)
{
    if (a == NULL)
        return;
    g_free(a->name);
    g_free(a->address);
    g_free(a);
}

/* Flattens groups ("Team: a@x, b@y;") into mailboxes, in header order. */
static void
collect_addresses(InternetAddressList *list, GPtrArray *out, int depth)
{
    if (list == NULL || depth > 4)
        return;
    int n = internet_address_list_length(list);
    for (int i = 0; i < n; i++) {
        InternetAddress *ia = internet_address_list_get_address(list, i);
        if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
            ClAddress *a = address_new(INTERNET_ADDRESS_MAILBOX(ia));
            if (a != NULL)
                g_ptr_array_add(out, a);
        } else if (INTERNET_ADDRESS_IS_GROUP(ia)) {
            collect_addresses(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)),
                              out, depth + 1);
        }
    }
}

void
parse_address_list(const char *text, GPtrArray *out)
{
    InternetAddressList *list = internet_address_list_parse(parser_options, text);
    collect_addresses(list, out, 0);
    g_clear_object(&list);
}

static GPtrArray *
address_array(GMimeObject *obj, const char *name, const char *hint)
{
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)parse_address_free);
    g_autofree char *raw = raw_header(obj, name, ", ", hint);
    if (raw != NULL) {
        InternetAddressList *list = internet_address_list_parse(parser_options, raw);
        collect_addresses(list, out, 0);
        g_clear_object(&list);
    }
    return out;
}

static char *
part_mime_type(GMimeObject *obj)
{
    GMimeContentType *ct = g_mime_object_get_content_type(obj);
    if (ct == NULL)
        return g_strdup("application/octet-stream");
    g_autofree char *type = g_mime_content_type_get_mime_type(ct);
    return g_ascii_strdown(type, -1);
}

static bool
is_attachment_disposition(GMimeObject *obj)
{
    GMimeContentDisposition *disp = g_mime_object_get_content_disposition(obj);
    return disp != NULL && g_mime_content_disposition_is_attachment(disp);
}

/* Appends the text of a text part to out as UTF-8. */
static void
append_part_text(GMimePart *part, GString *out)
{
    const char *charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
    bool plain = charset == NULL || g_ascii_strcasecmp(charset, "utf-8") == 0 ||
                 g_ascii_strcasecmp(charset, "utf8") == 0 ||
                 g_ascii_strcasecmp(charset, "us-ascii") == 0;
    GMimeDataWrapper *content = g_mime_part_get_content(part);
    if (content == NULL)
        return;
    /* The transfer encoding undone, and another declared charset converted to
     * UTF-8 (as g_mime_text_part_get_text would, but with the length kept:
     * a NUL in the text would end it there). Already UTF-8 (or undeclared):
     * straight, a conversion from UTF-8 to UTF-8 would cost as much as the
     * parse. */
    g_autoptr(GMimeStream) mem = g_mime_stream_mem_new();
    GMimeFilter *convert = plain ? NULL : g_mime_filter_charset_new(charset, "UTF-8");
    if (convert != NULL) {
        g_autoptr(GMimeStream) filtered = g_mime_stream_filter_new(mem);
        g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered), convert);
        g_object_unref(convert);
        g_mime_data_wrapper_write_to_stream(content, filtered);
        g_mime_stream_flush(filtered);
    } else {
        g_mime_data_wrapper_write_to_stream(content, mem);
    }
    GByteArray *decoded = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    /* A NUL is no character anyone wrote, and would cut the text (and what is
     * found and compared of it) short: a space. */
    for (guint8 *p = decoded->len ? memchr(decoded->data, 0, decoded->len) : NULL; p != NULL;
         p = memchr(p, 0, decoded->len - (gsize)(p - decoded->data)))
        *p = ' ';
    if (g_utf8_validate_len((const char *)decoded->data, decoded->len, NULL)) {
        g_string_append_len(out, (const char *)decoded->data, decoded->len);
    } else {
        g_autofree char *valid = utf8_or_cp1252((const char *)decoded->data, decoded->len);
        g_string_append(out, valid);
    }
}

static char *
part_text(GMimePart *part)
{
    GString *out = g_string_new(NULL);
    append_part_text(part, out);
    return g_string_free(out, FALSE);
}

typedef struct {
    ClMessage *msg;   /* NULL: only the text is wanted (of a forwarded message) */
    GString *plain;   /* inline text/plain parts, in order */
    char *html;       /* first inline text/html part */
    GPtrArray *inner; /* GMimeMessage * (borrowed): attached messages, in order */
} Walk;

static void
add_attachment(Walk *w, GMimeObject *obj, const char *name_hint)
{
    if (w->msg == NULL)
        return;
    if (w->msg->attachments->len >= CL_MAX_ATTACHMENTS) {
        w->msg->attachments_dropped++;
        return;
    }
    ClAttachment *att = g_new0(ClAttachment, 1);
    att->index = w->msg->attachments->len;
    att->content_type = part_mime_type(obj);
    att->filename = cl_parse_safe_filename(name_hint, att->content_type, att->index);
    att->part = obj;
    g_ptr_array_add(w->msg->attachments, att);
}

static void
walk(Walk *w, GMimeObject *obj, bool in_related, int depth)
{
    if (obj == NULL)
        return;
    if (depth > MAX_MIME_DEPTH) {
        g_debug("parse depth-limit depth=%d", depth);
        return;
    }
    if (GMIME_IS_MULTIPART(obj)) {
        GMimeMultipart *mp = GMIME_MULTIPART(obj);
        GMimeContentType *ct = g_mime_object_get_content_type(obj);
        bool alternative = ct && g_mime_content_type_is_type(ct, "multipart", "alternative");
        bool related = ct && g_mime_content_type_is_type(ct, "multipart", "related");
        int n = g_mime_multipart_get_count(mp);
        if (alternative) {
            /* RFC 2046 §5.1.4: the same content in several forms; take plain text
             * when there is any, else the first HTML (or whatever comes first). */
            GMimeObject *choice = NULL;
            for (int i = 0; i < n && choice == NULL; i++) {
                GMimeObject *sub = g_mime_multipart_get_part(mp, i);
                GMimeContentType *sct = g_mime_object_get_content_type(sub);
                if (sct && g_mime_content_type_is_type(sct, "text", "plain") &&
                    !is_attachment_disposition(sub))
                    choice = sub;
            }
            for (int i = 0; i < n && choice == NULL; i++)
                choice = g_mime_multipart_get_part(mp, i);
            walk(w, choice, in_related, depth + 1);
            /* Attachments hidden in other alternatives are still attachments. */
            for (int i = 0; i < n; i++) {
                GMimeObject *sub = g_mime_multipart_get_part(mp, i);
                if (sub != choice && GMIME_IS_MULTIPART(sub))
                    walk(w, sub, true, depth + 1);
            }
            return;
        }
        for (int i = 0; i < n; i++)
            walk(w, g_mime_multipart_get_part(mp, i), in_related || related, depth + 1);
        return;
    }
    if (GMIME_IS_MESSAGE_PART(obj)) {
        /* A mail inside the mail (forward as attachment): kept whole as an .eml file. */
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
        const char *subject = inner ? g_mime_message_get_subject(inner) : NULL;
        g_autofree char *name = subject && *subject ? g_strdup_printf("%s.eml", subject) : NULL;
        add_attachment(w, obj, name);
        if (inner != NULL && w->inner != NULL && w->inner->len < CL_MAX_FORWARDS)
            g_ptr_array_add(w->inner, inner);
        return;
    }
    if (!GMIME_IS_PART(obj))
        return;

    GMimePart *part = GMIME_PART(obj);
    GMimeContentType *ct = g_mime_object_get_content_type(obj);
    const char *filename = g_mime_part_get_filename(part);
    bool attachment = is_attachment_disposition(obj);
    bool is_text = GMIME_IS_TEXT_PART(obj);

    if (is_text && !attachment && filename == NULL && ct != NULL) {
        if (g_mime_content_type_is_type(ct, "text", "plain")) {
            gsize before = w->plain->len;
            if (before > 0)
                g_string_append(w->plain, "\n\n");
            gsize start = w->plain->len;
            append_part_text(part, w->plain);
            if (w->plain->len == start)
                g_string_truncate(w->plain, before); /* an empty part adds no blank lines */
            return;
        }
        if (g_mime_content_type_is_type(ct, "text", "html")) {
            if (w->html == NULL) {
                w->html = part_text(part);
                return;
            }
        }
    }
    /* Resources of an HTML body (inline logos, cid: images) are not attachments
     * a person sent; the raw message keeps them. */
    if (in_related && !attachment && filename == NULL)
        return;
    add_attachment(w, obj, filename);
}

static void
attachment_free(ClAttachment *att)
{
    if (att == NULL)
        return;
    g_free(att->filename);
    g_free(att->content_type);
    g_free(att);
}

/* Line ends as the reader expects them: CRLF and lone CR become LF, and the
 * text ends without trailing blank lines. */
static void
normalize_newlines(GString *text)
{
    gsize out = 0;
    for (gsize i = 0; i < text->len; i++) {
        char c = text->str[i];
        if (c == '\r') {
            if (i + 1 < text->len && text->str[i + 1] == '\n')
                continue;
            c = '\n';
        }
        text->str[out++] = c;
    }
    while (out > 0 && g_ascii_isspace(text->str[out - 1]))
        out--;
    g_string_truncate(text, out);
}

static void
truncate_text(ClMessage *msg, GString *text)
{
    if (text->len <= CL_MAX_TEXT_BYTES)
        return;
    const char *end = g_utf8_find_prev_char(text->str, text->str + CL_MAX_TEXT_BYTES);
    g_string_truncate(text, end ? (gsize)(end - text->str) : 0);
    msg->text_truncated = true;
}

/* The body text of a walked part tree: text/plain preferred, else HTML as text. */
static GString *
walk_text(Walk *w, bool *from_html)
{
    *from_html = false;
    if (w->plain->len == 0 && w->html != NULL) {
        g_autofree char *text = cl_parse_html_to_text(w->html, strlen(w->html));
        g_string_assign(w->plain, text);
        *from_html = true;
    }
    g_clear_pointer(&w->html, g_free);
    normalize_newlines(w->plain);
    return g_steal_pointer(&w->plain);
}

/* A mail attached to the mail (forward as attachment): its header and text. */
static ClForward *
forward_from_message(GMimeMessage *inner)
{
    ClForward *f = g_new0(ClForward, 1);
    GMimeObject *obj = GMIME_OBJECT(inner);
    const char *hint = charset_hint(g_mime_message_get_mime_part(inner), 0);
    f->format = "attached-message";
    f->explicit_forward = true;
    g_autoptr(GPtrArray) from = address_array(obj, "From", hint);
    if (from->len > 0)
        f->from = g_ptr_array_steal_index(from, 0);
    f->to = address_array(obj, "To", hint);
    f->cc = address_array(obj, "Cc", hint);
    g_autofree char *subject = decoded_text_header(obj, "Subject", hint);
    f->subject = subject ? parse_clean_line(subject, CL_MAX_SUBJECT_BYTES) : NULL;
    GDateTime *date = g_mime_message_get_date(inner);
    f->date = date ? g_date_time_to_unix(date) : 0;
    const char *mid = g_mime_message_get_message_id(inner);
    f->message_id = mid && *mid ? parse_clean_line(mid, 998) : NULL;
    Walk w = { .plain = g_string_new(NULL) };
    walk(&w, g_mime_message_get_mime_part(inner), false, 0);
    bool from_html;
    f->text = g_string_free(walk_text(&w, &from_html), FALSE);
    ClForward *nested = parse_forward_find(f->text);
    if (nested != NULL) {
        f->nested = nested->nested + 1;
        parse_forward_free(nested);
    }
    f->text_ready = true;
    return f;
}

/* SHA-256 of an attachment's decoded content, streamed (nothing held). */
static char *
attachment_digest(const ClAttachment *a)
{
    g_autoptr(GMimeStream) null = g_mime_stream_null_new();
    g_autoptr(GMimeStream) filtered = g_mime_stream_filter_new(null);
    GMimeFilter *sum = g_mime_filter_checksum_new(G_CHECKSUM_SHA256);
    g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered), sum);
    GMimeObject *obj = a->part;
    if (GMIME_IS_MESSAGE_PART(obj)) {
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
        if (inner != NULL)
            g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, filtered);
    } else if (GMIME_IS_PART(obj)) {
        GMimeDataWrapper *content = g_mime_part_get_content(GMIME_PART(obj));
        if (content != NULL)
            g_mime_data_wrapper_write_to_stream(content, filtered);
    }
    g_mime_stream_flush(filtered);
    char *digest = g_mime_filter_checksum_get_string(GMIME_FILTER_CHECKSUM(sum));
    g_object_unref(sum);
    return digest;
}

/* Every address in the headers of obj (raw values: Received "for <…>" too). */
static void
scan_headers(GMimeObject *obj, GPtrArray *out, GHashTable *seen)
{
    GMimeHeaderList *list = g_mime_object_get_header_list(obj);
    int n = list ? g_mime_header_list_get_count(list) : 0;
    for (int i = 0; i < n && out->len < CL_MAX_SCAN_ADDRESSES; i++) {
        const char *value = g_mime_header_get_raw_value(g_mime_header_list_get_header_at(list, i));
        if (value == NULL || strchr(value, '@') == NULL)
            continue;
        g_autofree char *decoded = g_mime_utils_header_decode_text(parser_options, value);
        parse_scan_addresses(decoded, out, seen, CL_MAX_SCAN_ADDRESSES);
    }
}

static ClMessage *
message_from_mime(GMimeMessage *mime)
{
    ClMessage *msg = g_new0(ClMessage, 1);
    msg->mime = g_object_ref(mime);

    GMimeObject *obj = GMIME_OBJECT(mime);
    const char *hint = charset_hint(g_mime_message_get_mime_part(mime), 0);
    g_autoptr(GPtrArray) from = address_array(obj, "From", hint);
    if (from->len > 0)
        msg->from = g_ptr_array_steal_index(from, 0);
    msg->to = address_array(obj, "To", hint);
    msg->cc = address_array(obj, "Cc", hint);
    msg->reply_to = address_array(obj, "Reply-To", hint);
    g_autofree char *subject = decoded_text_header(obj, "Subject", hint);
    msg->subject = parse_clean_line(subject, CL_MAX_SUBJECT_BYTES);

    GDateTime *date = g_mime_message_get_date(mime);
    msg->date = date ? g_date_time_to_unix(date) : 0;

    const char *mid = g_mime_message_get_message_id(mime);
    if (mid != NULL && *mid)
        msg->message_id = parse_clean_line(mid, 998);
    const char *irt = g_mime_object_get_header(GMIME_OBJECT(mime), "In-Reply-To");
    msg->references = g_ptr_array_new_with_free_func(g_free);
    if (irt != NULL) {
        g_autoptr(GMimeReferences) refs = g_mime_references_parse(parser_options, irt);
        if (refs != NULL && g_mime_references_length(refs) > 0)
            msg->in_reply_to = parse_clean_line(g_mime_references_get_message_id(refs, 0), 998);
    }
    const char *refs_hdr = g_mime_object_get_header(GMIME_OBJECT(mime), "References");
    if (refs_hdr != NULL) {
        g_autoptr(GMimeReferences) refs = g_mime_references_parse(parser_options, refs_hdr);
        int n = refs ? g_mime_references_length(refs) : 0;
        for (int i = 0; i < n && msg->references->len < CL_MAX_REFERENCES; i++)
            g_ptr_array_add(msg->references,
                            parse_clean_line(g_mime_references_get_message_id(refs, i), 998));
    }

    msg->attachments = g_ptr_array_new_with_free_func((GDestroyNotify)attachment_free);
    g_autoptr(GPtrArray) inner = g_ptr_array_new();
    Walk w = { .msg = msg, .plain = g_string_new(NULL), .inner = inner };
    walk(&w, g_mime_message_get_mime_part(mime), false, 0);
    GString *body = walk_text(&w, &msg->text_from_html);
    truncate_text(msg, body);
    msg->text = g_string_free(body, FALSE);

    /* Rule 5: the forwarded originals. Attached mails first; else an inline
     * forward in the text. */
    msg->forwards = g_ptr_array_new_with_free_func((GDestroyNotify)parse_forward_free);
    for (guint i = 0; i < inner->len; i++)
        g_ptr_array_add(msg->forwards, forward_from_message(inner->pdata[i]));
    if (msg->forwards->len == 0) {
        ClForward *f = parse_forward_find(msg->text);
        if (f != NULL) {
            /* "Gesendet: Mittwoch, 2. Dezember 2026 16:45" is in the zone of the
             * mail program that wrote it: the one that sent the forward. */
            if (f->date > 0 && !f->date_zoned && date != NULL)
                f->date -= g_date_time_get_utc_offset(date) / G_USEC_PER_SEC;
            g_ptr_array_add(msg->forwards, f);
        }
    }
    /* A forwarded mail was written before the forward: a date after it (or
     * before 1980) is nonsense, and the forward's own date is kept. */
    for (guint i = 0; i < msg->forwards->len; i++) {
        ClForward *f = msg->forwards->pdata[i];
        if (f->date != 0 &&
            (f->date < OLDEST_FORWARDED_MAIL || (msg->date > 0 && f->date > msg->date + 86400)))
            f->date = 0;
    }

    /* Rule 9 for mail without Message-ID: what a copy of it has in common,
     * whatever was added in transit (Received, Delivered-To, X-…). */
    if (msg->message_id == NULL) {
        GString *norm = g_string_new(NULL);
        static const char *fields[] = { "From", "To", "Cc", "Subject", "Date" };
        for (gsize i = 0; i < G_N_ELEMENTS(fields); i++) {
            g_autofree char *raw = raw_header(obj, fields[i], ", ", hint);
            g_autofree char *line = parse_clean_line(raw ? raw : "", 64 * 1024);
            g_string_append_printf(norm, "%s:%s\n", fields[i], line);
        }
        g_string_append(norm, msg->text);
        /* Attachments by name and content: a second draft of a PDF is another mail. */
        for (guint i = 0; i < msg->attachments->len; i++) {
            ClAttachment *a = msg->attachments->pdata[i];
            g_autofree char *digest = attachment_digest(a);
            g_string_append_printf(norm, "\n%s %s", a->filename, digest);
        }
        char hash[CL_HASH_HEX_LEN];
        cl_hash_hex(norm->str, norm->len, hash);
        msg->content_hash = g_strdup(hash);
        g_string_free(norm, TRUE);
    }

    /* The whole-message scan: headers, text, and the attached mails. */
    msg->scan = g_ptr_array_new_null_terminated(16, g_free, TRUE);
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    scan_headers(obj, msg->scan, seen);
    parse_scan_addresses(msg->text, msg->scan, seen, CL_MAX_SCAN_ADDRESSES);
    for (guint i = 0; i < inner->len; i++) {
        scan_headers(GMIME_OBJECT(inner->pdata[i]), msg->scan, seen);
        ClForward *f = msg->forwards->pdata[i];
        parse_scan_addresses(f->text, msg->scan, seen, CL_MAX_SCAN_ADDRESSES);
    }
    return msg;
}

static ClMessage *
parse_stream(GMimeStream *stream, GError **error)
{
    cl_parse_init();
    g_autoptr(GMimeParser) parser = g_mime_parser_new_with_stream(stream);
    g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
    g_autoptr(GMimeMessage) mime = g_mime_parser_construct_message(parser, parser_options);
    if (mime == NULL) {
        g_set_error(error, CL_ERROR, CL_ERROR_INVALID, "not a mail message");
        return NULL;
    }
    return message_from_mime(mime);
}

/* Counts lines that start with "--", across calls: *state is 0 inside a line,
 * 1 at a line start, 2 after a line's first '-' (start with 1). Stops
 * counting past the limit. */
static guint
count_boundaries(const guint8 *data, gsize len, int *state, guint count)
{
    for (gsize i = 0; i < len && count <= CL_MAX_MIME_BOUNDARIES; i++) {
        if (data[i] == '\n')
            *state = 1;
        else if (data[i] == '-' && *state == 1)
            *state = 2;
        else if (data[i] == '-' && *state == 2) {
            count++;
            *state = 0;
        } else
            *state = 0;
    }
    return count;
}

static bool
too_many_parts(guint count, GError **error)
{
    if (count <= CL_MAX_MIME_BOUNDARIES)
        return false;
    g_set_error(error, CL_ERROR, CL_ERROR_INVALID,
                "the message has more than %d MIME parts", CL_MAX_MIME_BOUNDARIES);
    return true;
}

/* The same for a byte range of a file, read in blocks. */
static bool
fd_too_many_parts(int fd, gint64 offset, gint64 length, GError **error)
{
    if (length < 3 * CL_MAX_MIME_BOUNDARIES)
        return false;
    g_autofree guint8 *buf = g_malloc(64 * 1024);
    guint count = 0;
    int state = 1;
    for (gint64 done = 0; done < length && count <= CL_MAX_MIME_BOUNDARIES;) {
        ssize_t n = pread(fd, buf, MIN(64 * 1024, length - done), offset + done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false; /* the parser will say what is wrong */
        count = count_boundaries(buf, (gsize)n, &state, count);
        done += n;
    }
    return too_many_parts(count, error);
}

ClMessage *
cl_parse_message_fd(int fd, gint64 offset, gint64 length, GError **error)
{
    if (length <= 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_INVALID, "the message is empty");
        return NULL;
    }
    /* The parser keeps the stream (persistent), so part contents stay in the
     * file until an attachment is written. Typical mail is mapped (fewer system
     * calls); large mail is read in blocks, so the pages of a 40 MB attachment
     * do not all count against our memory at once. The stream owns (and closes)
     * its descriptor: give it a copy of ours. */
    if (fd_too_many_parts(fd, offset, length, error))
        return NULL;
    int own = dup(fd);
    GMimeStream *mapped = NULL;
    if (own >= 0 && length <= CL_MAP_MAX_BYTES)
        mapped = g_mime_stream_mmap_new_with_bounds(own, PROT_READ, MAP_PRIVATE, offset,
                                                    offset + length);
    else if (own >= 0)
        mapped = g_mime_stream_fs_new_with_bounds(own, offset, offset + length);
    if (mapped == NULL) {
        if (own >= 0)
            close(own);
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "cannot map the message: %s",
                    g_strerror(errno));
        return NULL;
    }
    g_autoptr(GMimeStream) stream = mapped;
    return parse_stream(stream, error);
}

ClMessage *
cl_parse_message_bytes(GByteArray *bytes, GError **error)
{
    if (bytes == NULL || bytes->len == 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_INVALID, "the message is empty");
        return NULL;
    }
    int state = 1;
    if (too_many_parts(count_boundaries(bytes->data, bytes->len, &state, 0), error))
        return NULL;
    /* The parser keeps the stream, and the stream the bytes; the message holds
     * its own reference so they outlive every part. */
    g_autoptr(GMimeStream) stream = g_mime_stream_mem_new_with_byte_array(bytes);
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
    ClMessage *msg = parse_stream(stream, error);
    if (msg != NULL)
        msg->bytes = g_byte_array_ref(bytes);
    return msg;
}

const char *
cl_forward_text(const ClMessage *msg, ClForward *f)
{
    parse_forward_complete(f, msg->text);
    return f->text;
}

ClMessage *
cl_parse_message_data(const void *data, gsize length, GError **error)
{
    if (length == 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_INVALID, "the message is empty");
        return NULL;
    }
    g_autoptr(GMimeStream) stream = g_mime_stream_mem_new_with_buffer(data, length);
    return parse_stream(stream, error);
}

void
cl_message_free(ClMessage *msg)
{
    if (msg == NULL)
        return;
    parse_address_free(msg->from);
    g_clear_pointer(&msg->to, g_ptr_array_unref);
    g_clear_pointer(&msg->cc, g_ptr_array_unref);
    g_clear_pointer(&msg->reply_to, g_ptr_array_unref);
    g_clear_pointer(&msg->references, g_ptr_array_unref);
    g_clear_pointer(&msg->attachments, g_ptr_array_unref);
    g_free(msg->subject);
    g_free(msg->message_id);
    g_free(msg->in_reply_to);
    g_free(msg->content_hash);
    g_free(msg->text);
    g_clear_pointer(&msg->forwards, g_ptr_array_unref);
    g_clear_pointer(&msg->scan, g_ptr_array_unref);
    g_clear_object(&msg->mime);
    g_clear_pointer(&msg->bytes, g_byte_array_unref);
    g_free(msg);
}

GByteArray *
cl_message_attachment_bytes(ClMessage *msg, const ClAttachment *att)
{
    g_return_val_if_fail(msg != NULL && att != NULL, NULL);
    GByteArray *bytes = g_byte_array_new();
    g_autoptr(GMimeStream) mem = g_mime_stream_mem_new_with_byte_array(bytes);
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
    GMimeObject *obj = att->part;
    if (GMIME_IS_MESSAGE_PART(obj)) {
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
        if (inner != NULL)
            g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, mem);
    } else {
        GMimeDataWrapper *content = g_mime_part_get_content(GMIME_PART(obj));
        if (content != NULL)
            g_mime_data_wrapper_write_to_stream(content, mem);
    }
    return bytes;
}

bool
cl_message_attachment_write(ClMessage *msg, const ClAttachment *att, int fd, gint64 *size_out,
                            GError **error)
{
    g_return_val_if_fail(msg != NULL && att != NULL, false);
    GMimeObject *obj = att->part;
    /* A pipe stream writes at the fd's position and counts; unlike a file stream
     * its flush does not fsync (the store syncs once per commit). */
    g_autoptr(GMimeStream) out = g_mime_stream_pipe_new(fd);
    g_mime_stream_pipe_set_owner(GMIME_STREAM_PIPE(out), FALSE);
    off_t start = lseek(fd, 0, SEEK_CUR);
    GMimeStream *filtered = out; /* decoding happens in the data wrapper */

    gint64 written;
    if (GMIME_IS_MESSAGE_PART(obj)) {
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
        written = inner ? g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, filtered) : 0;
    } else {
        GMimeDataWrapper *content = g_mime_part_get_content(GMIME_PART(obj));
        written = content ? g_mime_data_wrapper_write_to_stream(content, filtered) : 0;
    }
    if (written < 0 || g_mime_stream_flush(filtered) != 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "cannot write attachment %u: %s",
                    att->index, g_strerror(errno));
        return false;
    }
    off_t end = lseek(fd, 0, SEEK_CUR);
    if (start < 0 || end < start) {
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "cannot write attachment %u: %s",
                    att->index, g_strerror(errno));
        return false;
    }
    *size_out = end - start;
    return true;
}

char *
cl_mailbox_format(const char *name, const char *address)
{
    cl_parse_init();
    InternetAddress *ia =
        internet_address_mailbox_new(name && *name ? name : NULL, address ? address : "");
    char *text = internet_address_to_string(ia, NULL, FALSE);
    g_object_unref(ia);
    return text;
}
