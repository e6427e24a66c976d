/*
 * test-parse.c — ClMessage from raw mail: decoding (RFC 2047/2231, raw 8-bit
 * headers), body choice, HTML to text, safe file names, attachments.
 */
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "parse/parse.h"

static ClMessage *
parse(const char *text)
{
    g_autoptr(GError) error = NULL;
    ClMessage *m = cl_parse_message_data(text, strlen(text), &error);
    g_assert_no_error(error);
    g_assert_nonnull(m);
    return m;
}

static void
test_subjects(void)
{
    static const struct {
        const char *header, *want;
    } cases[] = {
        { "Subject: =?UTF-8?Q?Angebot_f=C3=BCr_M=C3=BCller?=", "Angebot für Müller" },
        { "Subject: =?ISO-8859-1?B?S29ycmVrdHVyZW4gS2FuemxlaWJyb3NjaPxyZQ==?=",
          "Korrekturen Kanzleibroschüre" },
        /* adjacent base64 words with padding (GMime alone loses the second) */
        { "Subject: =?UTF-8?B?QW5nZWJvdCBmw7xyIA==?=\r\n =?UTF-8?B?TGVhZCAxMTExMQ==?=",
          "Angebot für Lead 11111" },
        { "Subject: =?UTF-8?B?R3LD?= =?UTF-8?B?vMOf?= und =?ISO-8859-1?B?Rvxy?=", "Grüß und Für" },
        /* an encoded word split in the middle of a UTF-8 character */
        { "Subject: =?UTF-8?Q?Gr=C3?= =?UTF-8?Q?=BC=C3=9Fe?=", "Grüße" },
        { "Subject: Lead\r\n 20417 folded", "Lead 20417 folded" },
        /* raw 8-bit, no charset anywhere: Windows-1252 */
        { "Subject: Preis 100 \x80 f\xfcr alle", "Preis 100 € für alle" },
        /* raw UTF-8 */
        { "Subject: Bäckerei", "Bäckerei" },
        { "X-No-Subject: 1", "" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *mail =
            g_strdup_printf("From: a@b.example\r\n%s\r\n\r\nbody\r\n", cases[i].header);
        g_autoptr(ClMessage) m = parse(mail);
        g_autofree char *shown = g_strescape(cases[i].header, NULL);
        g_test_message("header: %s", shown);
        g_assert_cmpstr(m->subject, ==, cases[i].want);
    }
}

static void
test_part_charset_for_raw_headers(void)
{
    /* DESIGN §2: raw header bytes are read in the charset of the part they describe. */
    g_autoptr(ClMessage) m = parse("From: =?ISO-8859-1?Q?J=FCrgen?= <j@x.example>\r\n"
                                   "Subject: Gr\xfc\xdf""e aus K\xf6ln\r\n"
                                   "MIME-Version: 1.0\r\n"
                                   "Content-Type: text/plain; charset=iso-8859-1\r\n"
                                   "Content-Transfer-Encoding: 8bit\r\n\r\n"
                                   "Sch\xf6ne Gr\xfc\xdf""e\r\n");
    g_assert_cmpstr(m->subject, ==, "Grüße aus Köln");
    g_assert_cmpstr(m->from->name, ==, "Jürgen");
    g_assert_cmpstr(m->text, ==, "Schöne Grüße");

    /* ISO-8859-2 is not Windows-1252: the part's charset decides. */
    g_autoptr(ClMessage) m2 = parse("From: a@x.example\r\n"
                                    "Subject: Za\xbf\xf3\xb3\xe6 g\xea\xb6l\xb1\r\n"
                                    "Content-Type: text/plain; charset=iso-8859-2\r\n\r\nx\r\n");
    g_assert_cmpstr(m2->subject, ==, "Zażółć gęślą");
}

static void
test_addresses(void)
{
    g_autoptr(ClMessage) m = parse(
        "From: \"Berg, Anna\" <Anna.Berg@Muster.example>, other@x.example\r\n"
        "To: Team: a@x.example, =?UTF-8?Q?J=C3=BCrgen?= <b@x.example>;, c@x.example\r\n"
        "Cc: undisclosed-recipients:;\r\n"
        "Message-ID: <abc@host.example>\r\n"
        "In-Reply-To: <parent@host.example>\r\n"
        "References: <root@host.example> <parent@host.example>\r\n"
        "Date: Tue, 03 Nov 2026 13:21:00 +0100\r\n\r\nx\r\n");
    g_assert_cmpstr(m->from->address, ==, "Anna.Berg@Muster.example");
    g_assert_cmpstr(m->from->name, ==, "Berg, Anna");
    g_assert_cmpuint(m->to->len, ==, 3);
    g_assert_cmpstr(((ClAddress *)m->to->pdata[0])->address, ==, "a@x.example");
    g_assert_cmpstr(((ClAddress *)m->to->pdata[1])->name, ==, "Jürgen");
    g_assert_cmpstr(((ClAddress *)m->to->pdata[2])->address, ==, "c@x.example");
    g_assert_cmpuint(m->cc->len, ==, 0);
    g_assert_cmpstr(m->message_id, ==, "abc@host.example");
    g_assert_cmpstr(m->in_reply_to, ==, "parent@host.example");
    g_assert_cmpuint(m->references->len, ==, 2);
    g_assert_cmpstr(m->references->pdata[0], ==, "root@host.example");
    g_assert_cmpint(m->date, ==, 1793708460);
}

static void
test_no_from(void)
{
    g_autoptr(ClMessage) m = parse("To: a@x.example\r\nSubject: hi\r\n\r\nx\r\n");
    g_assert_null(m->from);
}

static void
test_empty_is_invalid(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(ClMessage) m = cl_parse_message_data("", 0, &error);
    g_assert_null(m);
    g_assert_error(error, CL_ERROR, CL_ERROR_INVALID);
}

static void
test_alternative_prefers_plain(void)
{
    g_autoptr(ClMessage) m = parse(
        "From: a@x.example\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/alternative; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>HTML version</p>\r\n"
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlain version\r\n"
        "--b--\r\n");
    g_assert_cmpstr(m->text, ==, "Plain version");
    g_assert_false(m->text_from_html);
    g_assert_cmpuint(m->attachments->len, ==, 0);
}

static void
test_html_only(void)
{
    g_autoptr(ClMessage) m = parse(
        "From: a@x.example\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/html; charset=iso-8859-1\r\n\r\n"
        "<html><head><title>T</title><style>p{color:red} GEHEIM</style></head>"
        "<body><script>alert('GEHEIM')</script><p>Sehr geehrte Frau M&uuml;ller,</p>"
        "<p>anbei die Entw\xfcrfe &amp; Preise&nbsp;2027.<br>Zeile&#8203;zwei &euro;</p>"
        "<ul><li>Eins</li><li>Zwei</li></ul></body></html>\r\n");
    g_assert_true(m->text_from_html);
    g_assert_null(strstr(m->text, "GEHEIM"));
    g_assert_null(strstr(m->text, "color"));
    g_assert_nonnull(strstr(m->text, "Sehr geehrte Frau Müller,\n\nanbei die Entwürfe & Preise 2027.\n"));
    g_assert_nonnull(strstr(m->text, "€"));
    g_assert_nonnull(strstr(m->text, "- Eins\n- Zwei"));
}

static void
test_html_to_text_cases(void)
{
    static const struct {
        const char *html, *want;
    } cases[] = {
        { "", "" },
        { "plain &lt;b&gt; text", "plain <b> text" },
        { "<div>a</div><div>b</div>", "a\nb" },
        { "<p>a</p>\n\n\n<p>b</p>", "a\n\nb" },
        { "<table><tr><td>x</td><td>y</td></tr></table>", "x y" },
        { "<pre>  keep\n  lines</pre>", "  keep\n  lines" },
        { "<b>fett</b> und <i>kursiv</i>", "fett und kursiv" },
        { "<img alt=\"Logo\" src=x>", "Logo" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *got = cl_parse_html_to_text(cases[i].html, strlen(cases[i].html));
        g_autofree char *shown = g_strescape(cases[i].html, NULL);
        g_test_message("html: %s", shown);
        g_assert_cmpstr(got, ==, cases[i].want);
    }
}

static void
test_deep_html(void)
{
    GString *s = g_string_new(NULL);
    for (int i = 0; i < 100000; i++)
        g_string_append(s, "<div>");
    g_string_append(s, "deep");
    g_autofree char *got = cl_parse_html_to_text(s->str, s->len);
    g_assert_nonnull(got); /* no stack overflow; libxml2 may cut the depth */
    g_string_free(s, TRUE);
}

static void
test_safe_filenames(void)
{
    static const struct {
        const char *name, *type, *want;
    } cases[] = {
        { "Angebot Müller.pdf", "application/pdf", "Angebot Müller.pdf" },
        { "../../etc/passwd", "text/plain", "passwd" },
        { "C:\\Users\\x\\bericht.docx", NULL, "bericht.docx" },
        { ".htaccess", NULL, "htaccess" },
        { "a\x01" "b.txt", NULL, "a_b.txt" },
        { "rechnung\xe2\x80\xae" "fdp.exe", NULL, "rechnung_fdp.exe" },
        { "what?*<>|.pdf", NULL, "what_____.pdf" },
        { "  spaced   out  .pdf ", NULL, "spaced out .pdf" },
        { NULL, "application/pdf", "anhang-1.pdf" },
        { "", "image/png", "anhang-1.png" },
        { "...", "application/x-unknown", "anhang-1" },
        { "trailing dots...", NULL, "trailing dots" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *got = cl_parse_safe_filename(cases[i].name, cases[i].type, 0);
        g_autofree char *shown = g_strescape(cases[i].name ? cases[i].name : "(null)", NULL);
        g_test_message("name: %s", shown);
        g_assert_cmpstr(got, ==, cases[i].want);
    }
    GString *longname = g_string_new(NULL);
    for (int i = 0; i < 300; i++)
        g_string_append(longname, "ä");
    g_string_append(longname, ".pdf");
    g_autofree char *got = cl_parse_safe_filename(longname->str, NULL, 0);
    g_assert_cmpuint(strlen(got), <=, CL_MAX_FILENAME_BYTES);
    g_assert_true(g_str_has_suffix(got, "ä.pdf"));
    g_assert_true(g_utf8_validate(got, -1, NULL));
    g_string_free(longname, TRUE);
}

static void
test_attachments(void)
{
    const char *mail =
        "From: a@x.example\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSiehe Anhang.\r\n"
        "--b\r\nContent-Type: application/pdf\r\n"
        "Content-Disposition: attachment; filename*=UTF-8''Angebot%20M%C3%BCller.pdf\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nSGFsbG8gV2VsdA==\r\n"
        "--b\r\nContent-Type: image/png; name=\"=?UTF-8?Q?Fr=C3=BChjahr.png?=\"\r\n"
        "Content-Disposition: inline\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n"
        "--b\r\nContent-Type: message/rfc822\r\n\r\n"
        "From: x@y.example\r\nSubject: Alte Mail\r\n\r\nInhalt\r\n"
        "--b--\r\n";
    g_autoptr(ClMessage) m = parse(mail);
    g_assert_cmpstr(m->text, ==, "Siehe Anhang.");
    g_assert_cmpuint(m->attachments->len, ==, 3);
    ClAttachment *pdf = m->attachments->pdata[0];
    g_assert_cmpstr(pdf->filename, ==, "Angebot Müller.pdf");
    g_assert_cmpstr(pdf->content_type, ==, "application/pdf");
    ClAttachment *png = m->attachments->pdata[1];
    g_assert_cmpstr(png->filename, ==, "Frühjahr.png");
    ClAttachment *eml = m->attachments->pdata[2];
    g_assert_cmpstr(eml->filename, ==, "Alte Mail.eml");

    g_autofree char *path = NULL;
    int fd = g_file_open_tmp("cl-att-XXXXXX", &path, NULL);
    g_assert_cmpint(fd, >=, 0);
    gint64 size = 0;
    g_assert_cmpint(write(fd, "head:", 5), ==, 5); /* written at the fd's position */
    g_assert_true(cl_message_attachment_write(m, pdf, fd, &size, NULL));
    g_assert_cmpint(size, ==, 10);
    g_assert_true(cl_message_attachment_write(m, eml, fd, &size, NULL));
    close(fd);
    g_autofree char *content = NULL;
    g_assert_true(g_file_get_contents(path, &content, NULL, NULL));
    g_assert_true(g_str_has_prefix(content, "head:Hallo WeltFrom: x@y.example"));
    g_assert_nonnull(strstr(content, "Subject: Alte Mail"));
    g_unlink(path);
}

static void
test_related_images_not_attachments(void)
{
    g_autoptr(ClMessage) m = parse(
        "From: a@x.example\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/related; boundary=r\r\n\r\n"
        "--r\r\nContent-Type: text/html\r\n\r\n<p>Hallo <img src=cid:logo></p>\r\n"
        "--r\r\nContent-Type: image/png\r\nContent-ID: <logo>\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--r--\r\n");
    g_assert_cmpstr(m->text, ==, "Hallo");
    g_assert_cmpuint(m->attachments->len, ==, 0);
}

static void
test_fd_parse(void)
{
    g_autofree char *path = NULL;
    int fd = g_file_open_tmp("cl-msg-XXXXXX", &path, NULL);
    const char *mail = "From: a@x.example\r\nSubject: Datei\r\n\r\nInhalt\r\nTRAILING";
    g_assert_cmpint(write(fd, mail, strlen(mail)), ==, (gssize)strlen(mail));
    g_autoptr(GError) error = NULL;
    /* Only the first `length` bytes belong to the message. */
    g_autoptr(ClMessage) m = cl_parse_message_fd(fd, 0, strlen(mail) - 8, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(m->subject, ==, "Datei");
    g_assert_cmpstr(m->text, ==, "Inhalt"); /* not TRAILING */
    /* A message in the middle of a file (an mbox): offset and length bound it. */
    g_autoptr(ClMessage) inner = cl_parse_message_fd(fd, 19, strlen(mail) - 19 - 8, &error);
    g_assert_no_error(error);
    g_assert_null(inner->from); /* starts at "Subject:" */
    g_assert_cmpstr(inner->subject, ==, "Datei");
    close(fd);
    g_unlink(path);
}

/* Text as people read it: CRLF and lone CR become LF, no trailing blank
 * lines, and an empty part adds no blank lines between the others. */
static void
test_text_line_ends(void)
{
    g_autoptr(ClMessage) m = parse("From: a@x.example\r\nSubject: s\r\n\r\n"
                                   "eins\r\nzwei\rdrei\n\r\n\r\n  \r\n");
    g_assert_cmpstr(m->text, ==, "eins\nzwei\ndrei");
    g_autoptr(ClMessage) parts = parse(
        "From: a@x.example\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nA\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nB\r\n--b--\r\n");
    g_assert_cmpstr(parts->text, ==, "A\n\nB");
}

/* Parses a mail given with its length (it may hold NULs). */
static ClMessage *
parse_len(const char *mail, gsize len)
{
    GByteArray *bytes = g_byte_array_new();
    g_byte_array_append(bytes, (const guint8 *)mail, (guint)len);
    g_autoptr(GError) error = NULL;
    ClMessage *m = cl_parse_message_bytes(bytes, &error);
    g_byte_array_unref(bytes);
    g_assert_no_error(error);
    return m;
}

/* A NUL in the body is no end of the text (it was: two mails alike up to a NUL
 * were one duplicate); in a part of another charset neither. */
static void
test_nul_in_text(void)
{
    static const char plain[] = "From: a@x.example\r\nSubject: s\r\n\r\nvorher\r\n\0NACHHER sichtbar\r\n";
    g_autoptr(ClMessage) m = parse_len(plain, sizeof plain - 1);
    g_assert_cmpstr(m->text, ==, "vorher\n NACHHER sichtbar");
    static const char latin1[] = "From: a@x.example\r\nSubject: s\r\n"
                                 "Content-Type: text/plain; charset=iso-8859-1\r\n\r\n"
                                 "Gr\xfc\xdf" "e\0und mehr\r\n";
    g_autoptr(ClMessage) l = parse_len(latin1, sizeof latin1 - 1);
    g_assert_cmpstr(l->text, ==, "Grüße und mehr");
}

/* From bytes in memory: the message keeps them, no copy; the same result as
 * from a file. */
static void
test_bytes_parse(void)
{
    const char *mail = "From: a@x.example\r\nSubject: Speicher\r\n"
                       "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
                       "--b\r\nContent-Type: text/plain\r\n\r\nText\r\n"
                       "--b\r\nContent-Type: application/octet-stream\r\n"
                       "Content-Disposition: attachment; filename=x.bin\r\n"
                       "Content-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--b--\r\n";
    GByteArray *bytes = g_byte_array_new();
    g_byte_array_append(bytes, (const guint8 *)mail, strlen(mail));
    g_autoptr(GError) error = NULL;
    g_autoptr(ClMessage) m = cl_parse_message_bytes(bytes, &error);
    g_byte_array_unref(bytes); /* the message holds its own reference */
    g_assert_no_error(error);
    g_assert_cmpstr(m->subject, ==, "Speicher");
    g_assert_cmpstr(m->text, ==, "Text");
    g_assert_cmpuint(m->attachments->len, ==, 1);
    g_autoptr(GByteArray) content = cl_message_attachment_bytes(m, m->attachments->pdata[0]);
    g_assert_cmpmem(content->data, content->len, "\x00\x01\x02\x03", 4);

    GByteArray *empty = g_byte_array_new();
    g_assert_null(cl_parse_message_bytes(empty, &error));
    g_assert_error(error, CL_ERROR, CL_ERROR_INVALID);
    g_byte_array_unref(empty);
}

/* A multipart mail with n tiny attachments. */
static GByteArray *
many_parts(guint n)
{
    GString *m = g_string_new("From: a@b.example\nSubject: viele Teile\nMIME-Version: 1.0\n"
                              "Content-Type: multipart/mixed; boundary=\"--b\"\n\ntext\n");
    for (guint i = 0; i < n; i++)
        g_string_append_printf(m, "----b\nContent-Type: text/plain; name=\"%u.txt\"\n"
                                  "Content-Disposition: attachment\n\n%u\n", i, i);
    g_string_append(m, "----b--\n");
    gsize len = m->len;
    return g_byte_array_new_take((guint8 *)g_string_free(m, FALSE), len);
}

static void
test_too_many_parts(void)
{
    /* Under the limit: parsed (attachments capped at CL_MAX_ATTACHMENTS). */
    g_autoptr(GByteArray) ok = many_parts(CL_MAX_MIME_BOUNDARIES - 10);
    g_autoptr(GError) error = NULL;
    g_autoptr(ClMessage) msg = cl_parse_message_bytes(ok, &error);
    g_assert_no_error(error);
    g_assert_nonnull(msg);
    /* Over it: refused before GMime builds a part for each, in memory and from a file. */
    g_autoptr(GByteArray) bad = many_parts(CL_MAX_MIME_BOUNDARIES + 10);
    g_autoptr(ClMessage) none = cl_parse_message_bytes(bad, &error);
    g_assert_null(none);
    g_assert_error(error, CL_ERROR, CL_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "MIME parts"));
    g_clear_error(&error);
    g_autofree char *path = NULL;
    int fd = g_file_open_tmp("test-parse-XXXXXX", &path, NULL);
    g_assert_cmpint(fd, >=, 0);
    g_assert_true(cl_write_all(fd, bad->data, bad->len));
    g_autoptr(ClMessage) none_fd = cl_parse_message_fd(fd, 0, bad->len, &error);
    g_assert_null(none_fd);
    g_assert_error(error, CL_ERROR, CL_ERROR_INVALID);
    close(fd);
    unlink(path);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    cl_parse_init();
    g_test_add_func("/parse/too-many-parts", test_too_many_parts);
    g_test_add_func("/parse/subjects", test_subjects);
    g_test_add_func("/parse/raw-headers-part-charset", test_part_charset_for_raw_headers);
    g_test_add_func("/parse/addresses", test_addresses);
    g_test_add_func("/parse/no-from", test_no_from);
    g_test_add_func("/parse/empty", test_empty_is_invalid);
    g_test_add_func("/parse/body/alternative", test_alternative_prefers_plain);
    g_test_add_func("/parse/body/html-only", test_html_only);
    g_test_add_func("/parse/html/cases", test_html_to_text_cases);
    g_test_add_func("/parse/text-line-ends", test_text_line_ends);
    g_test_add_func("/parse/nul-in-text", test_nul_in_text);
    g_test_add_func("/parse/from-bytes", test_bytes_parse);
    g_test_add_func("/parse/html/deep", test_deep_html);
    g_test_add_func("/parse/filenames", test_safe_filenames);
    g_test_add_func("/parse/attachments", test_attachments);
    g_test_add_func("/parse/related", test_related_images_not_attachments);
    g_test_add_func("/parse/fd", test_fd_parse);
    return g_test_run();
}
