/*
 * test-session.c — the LMTP/SMTP session state machine (src/intake/session.c)
 * with fake hooks: no sockets, no store. Every dialogue is fed whole, and
 * again one byte at a time; both must give the same replies and the same
 * delivered message (STYLE §9).
 */
#include <string.h>
#include <unistd.h>

#include "intake/intake.h"

typedef struct {
    GPtrArray *messages;  /* char *: delivered bytes */
    GPtrArray *envelopes; /* char *: "sender|rcpt,rcpt" */
    ClSession *session;
    int reply_code;       /* what "delivery" answers */
    bool answer_later;    /* leave the session waiting */
    guint spools;
} Fake;

static ClRcptCheck
fake_rcpt(void *user, const char *address)
{
    (void)user;
    if (g_str_has_prefix(address, "busy@"))
        return CL_RCPT_TEMPFAIL;
    return g_ascii_strncasecmp(address, "crm", 3) == 0 ? CL_RCPT_OK : CL_RCPT_UNKNOWN;
}

static int
fake_spool(void *user, char **path_out, GError **error)
{
    Fake *f = user;
    f->spools++;
    char *path = g_build_filename(g_get_tmp_dir(), "test-session-XXXXXX", NULL);
    int fd = g_mkstemp(path);
    if (fd < 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "mkstemp");
        g_free(path);
        return -1;
    }
    *path_out = path;
    return fd;
}

static char *
raw_text(ClRawMessage *raw)
{
    if (raw->data != NULL)
        return g_strndup((const char *)raw->data->data, raw->data->len);
    char *buf = g_malloc0(raw->stored + 1);
    g_assert_cmpint(pread(raw->fd, buf, raw->stored, raw->offset), ==, raw->stored);
    return buf;
}

static void
fake_deliver(void *user, ClRawMessage *raw, ClEnvelope *env)
{
    Fake *f = user;
    char *text = raw_text(raw);
    /* Leave out the Received line: its date changes. */
    char *body = strstr(text, "\n\t");
    body = body ? strchr(body + 2, '\n') : NULL;
    body = body ? strchr(body + 1, '\n') : NULL;
    g_assert_true(g_str_has_prefix(text, "Received: from "));
    g_ptr_array_add(f->messages, g_strdup_printf("%s[size=%" G_GINT64_FORMAT "]",
                                                 body ? body + 1 : text, raw->size));
    GString *e = g_string_new(env->sender);
    g_string_append_c(e, '|');
    for (guint i = 0; i < env->rcpts->len; i++)
        g_string_append_printf(e, "%s%s", i ? "," : "", (char *)env->rcpts->pdata[i]);
    g_ptr_array_add(f->envelopes, g_string_free(e, FALSE));
    g_free(text);
    cl_raw_message_free(raw);
    cl_envelope_free(env);
    if (!f->answer_later) {
        ClReply r = { f->reply_code, f->reply_code == 250 ? "2.0.0" : "4.3.0", "done" };
        cl_session_delivered(f->session, &r, 1);
    }
}

static const ClSessionHooks hooks = { fake_rcpt, fake_spool, fake_deliver };

/* Runs a dialogue; returns the replies (and fills f). step 0: whole. */
static char *
run(Fake *f, ClProtocol proto, const char *input, gsize step, gint64 max_bytes)
{
    ClSessionConfig cfg = { .protocol = proto, .id = "t1", .hostname = "mx.test",
                            .peer = "127.0.0.1:1", .max_message_bytes = max_bytes,
                            .memory_bytes = 64, .max_rcpts = 3 };
    f->messages = g_ptr_array_new_with_free_func(g_free);
    f->envelopes = g_ptr_array_new_with_free_func(g_free);
    f->session = cl_session_new(&cfg, &hooks, f);
    cl_session_greet(f->session);
    gsize len = strlen(input), at = 0;
    while (at < len && !cl_session_done(f->session)) {
        gsize n = step ? MIN(step, len - at) : len - at;
        gsize used = 0;
        while (used < n && !cl_session_done(f->session)) {
            gsize k = cl_session_feed(f->session, input + at + used, n - used);
            if (k == 0)
                break;
            used += k;
        }
        if (used == 0)
            break;
        at += used;
    }
    char *out = g_strdup(cl_session_output(f->session)->str);
    cl_session_free(f->session);
    return out;
}

static void
fake_clear(Fake *f)
{
    g_ptr_array_unref(f->messages);
    g_ptr_array_unref(f->envelopes);
}

static const char *const lmtp_dialog =
    "LHLO client.test\r\n"
    "MAIL FROM:<anna@a.example> BODY=8BITMIME SIZE=100\r\n"
    "RCPT TO:<crm@contactlog.example>\r\n"
    "RCPT TO:<other@x.example>\r\n"
    "RCPT TO:<busy@contactlog.example>\r\n"
    "RCPT TO:<CRM+1@contactlog.example>\r\n"
    "DATA\r\n"
    "Subject: Test\r\n"
    "\r\n"
    "..leading dot\r\n"
    ".\r\n"
    "QUIT\r\n";

static const char *const lmtp_replies =
    "220 mx.test contactlog LMTP ready\r\n"
    "250-mx.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-SIZE 1000\r\n"
    "250 ENHANCEDSTATUSCODES\r\n"
    "250 2.1.0 Sender OK\r\n"
    "250 2.1.5 Recipient OK\r\n"
    "550 5.1.1 <other@x.example>: not a contactlog drop address\r\n"
    "451 4.3.0 <busy@contactlog.example>: cannot check the address now, try again later\r\n"
    "250 2.1.5 Recipient OK\r\n"
    "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
    "250 2.0.0 <crm@contactlog.example> done\r\n"
    "250 2.0.0 <CRM+1@contactlog.example> done\r\n"
    "221 2.0.0 mx.test closing connection\r\n";

static void
test_lmtp_dialog(void)
{
    static const gsize steps[] = { 0, 1, 2, 7, 64 };
    for (gsize i = 0; i < G_N_ELEMENTS(steps); i++) {
        Fake f = { .reply_code = 250 };
        g_autofree char *out = run(&f, CL_PROTOCOL_LMTP, lmtp_dialog, steps[i], 1000);
        g_test_message("step %zu", steps[i]);
        g_assert_cmpstr(out, ==, lmtp_replies);
        g_assert_cmpuint(f.messages->len, ==, 1);
        /* dot-unstuffing and CRLF -> LF; the final dot line is not part of it */
        g_assert_true(g_str_has_prefix(f.messages->pdata[0],
                                       "Subject: Test\n\n.leading dot\n[size="));
        g_assert_cmpstr(f.envelopes->pdata[0], ==,
                        "anna@a.example|crm@contactlog.example,CRM+1@contactlog.example");
        fake_clear(&f);
    }
}

static void
test_data_forms(void)
{
    /* What arrives in the message for what is sent after DATA. */
    static const struct {
        const char *data;
        const char *want;
    } cases[] = {
        { "a\r\n.\r\n", "a\n" },
        /* A bare LF is kept but starts no line: no end of data, no unstuffing
         * (RFC 5321 §4.1.1.4; otherwise mail could be smuggled in). */
        { "a\n.\nb\r\n.\r\n", "a\n.\nb\n" },
        { "a\r\n.\nb\r\n.\r\n", "a\n.\nb\n" },
        { "a\r\n.\r\r\n.\r\n", "a\n\r\n" },
        { "x\n.\nMAIL FROM:<a@b.example>\r\nRCPT TO:<crm@x.example>\r\nDATA\r\nsmuggled\r\n.\r\n",
          "x\n.\nMAIL FROM:<a@b.example>\nRCPT TO:<crm@x.example>\nDATA\nsmuggled\n" },
        { "..\r\n.\r\n", ".\n" },                 /* a stuffed lone dot */
        { "a\rb\r\n.\r\n", "a\rb\n" },            /* a bare CR stays */
        { ".x\r\n.\r\n", "x\n" },                 /* an unstuffed leading dot is dropped */
        { "\r\n.\r\n", "\n" },
        { ".\r\n", "" },                          /* empty message */
        { "x.\r\n.\r\n", "x.\n" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        for (gsize step = 0; step <= 1; step++) {
            Fake f = { .reply_code = 250 };
            g_autofree char *in = g_strdup_printf(
                "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<crm@x.example>\r\nDATA\r\n%sNOOP\r\n",
                cases[i].data);
            g_autofree char *out = run(&f, CL_PROTOCOL_SMTP, in, step, 1000);
            g_test_message("data %s step %zu", cases[i].data, step);
            g_assert_cmpuint(f.messages->len, ==, 1);
            g_autofree char *want = g_strdup_printf("%s[size=", cases[i].want);
            g_assert_true(g_str_has_prefix(f.messages->pdata[0], want));
            g_assert_true(g_str_has_suffix(out, "250 2.0.0 done\r\n250 2.0.0 OK\r\n"));
            g_assert_cmpstr(f.envelopes->pdata[0], ==, "|crm@x.example");
            fake_clear(&f);
        }
    }
}

static void
test_errors(void)
{
    static const struct {
        ClProtocol proto;
        const char *line;
        const char *want; /* start of the reply */
    } cases[] = {
        { CL_PROTOCOL_LMTP, "MAIL FROM:<a@b.example>", "503 5.5.1" },
        { CL_PROTOCOL_LMTP, "EHLO x", "500 5.5.1" },
        { CL_PROTOCOL_SMTP, "LHLO x", "500 5.5.1" },
        { CL_PROTOCOL_LMTP, "LHLO", "501 5.5.4" },
        { CL_PROTOCOL_LMTP, "FROB", "500 5.5.2" },
        { CL_PROTOCOL_LMTP, "DATA", "503 5.5.1" },
        { CL_PROTOCOL_SMTP, "HELP", "214 2.0.0" },
        { CL_PROTOCOL_SMTP, "VRFY x", "252 2.5.0" },
        { CL_PROTOCOL_SMTP, "NOOP", "250 2.0.0" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        Fake f = { .reply_code = 250 };
        g_autofree char *in = g_strdup_printf("%s\r\n", cases[i].line);
        g_autofree char *out = run(&f, cases[i].proto, in, 0, 1000);
        const char *second = strstr(out, "\r\n") + 2;
        g_test_message("%s -> %s", cases[i].line, second);
        g_assert_true(g_str_has_prefix(second, cases[i].want));
        fake_clear(&f);
    }
}

static void
test_limits(void)
{
    Fake f = { .reply_code = 250 };
    /* SIZE over the limit at MAIL; bad parameters; too many recipients; a long line. */
    GString *in = g_string_new("EHLO c\r\nMAIL FROM:<a@b.example> SIZE=5000\r\n"
                               "MAIL FROM:<a@b.example> SIZE=x\r\n"
                               "MAIL FROM:<a@b.example> FOO=1\r\n"
                               "MAIL FROM:<a@b.example>\r\n");
    for (int i = 0; i < 4; i++)
        g_string_append(in, "RCPT TO:<crm@x.example>\r\n");
    for (int i = 0; i < 3000; i++)
        g_string_append_c(in, 'x');
    g_string_append(in, "\r\nRSET\r\n");
    g_autofree char *out = run(&f, CL_PROTOCOL_SMTP, in->str, 0, 1000);
    g_assert_nonnull(strstr(out, "552 5.3.4 Message too large"));
    g_assert_nonnull(strstr(out, "501 5.5.4 Bad SIZE"));
    g_assert_nonnull(strstr(out, "555 5.5.4 Unsupported MAIL parameter FOO=1"));
    g_assert_nonnull(strstr(out, "452 4.5.3 Too many recipients"));
    g_assert_nonnull(strstr(out, "500 5.5.2 Line too long"));
    fake_clear(&f);
    g_string_free(in, TRUE);
}

static void
test_large_message_spools(void)
{
    /* memory_bytes is at least 4096: a larger message goes to a spool file;
     * over max_message_bytes (6000) it is counted, not kept. */
    for (gsize step = 0; step <= 1; step++) {
        Fake f = { .reply_code = 250 };
        GString *in = g_string_new("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<crm@x.example>\r\nDATA\r\n");
        for (int i = 0; i < 200; i++)
            g_string_append(in, "0123456789012345678901234567890123456789\r\n");
        g_string_append(in, ".\r\n");
        g_autofree char *out = run(&f, CL_PROTOCOL_SMTP, in->str, step, 6000);
        g_assert_cmpuint(f.spools, ==, 1);
        g_assert_cmpuint(f.messages->len, ==, 1);
        /* kept: what came before the limit of 6000 bytes as sent (our Received
         * line not counted); counted: all of it, 200 lines of 42 bytes as sent */
        const char *m = f.messages->pdata[0];
        g_assert_nonnull(strstr(m, "[size="));
        gint64 size = g_ascii_strtoll(strstr(m, "[size=") + 6, NULL, 10);
        g_assert_cmpint(size, >, 200 * 42); /* as sent: CRLF counts two */
        g_assert_cmpint(size, <, 200 * 42 + 300);
        g_assert_cmpuint(strstr(m, "[size=") - m, <=, 6000); /* the limit, without our Received line */
        g_assert_cmpuint(strstr(m, "[size=") - m, >, 5500);
        fake_clear(&f);
        g_string_free(in, TRUE);
    }
}

static void
test_waiting_and_shutdown(void)
{
    /* While a message is being stored, pipelined input waits; SIGTERM during
     * it closes the session only after the replies. */
    Fake f = { .answer_later = true };
    ClSessionConfig cfg = { .protocol = CL_PROTOCOL_LMTP, .id = "t2", .hostname = "mx.test",
                            .max_message_bytes = 1000, .memory_bytes = 512 };
    f.messages = g_ptr_array_new_with_free_func(g_free);
    f.envelopes = g_ptr_array_new_with_free_func(g_free);
    f.session = cl_session_new(&cfg, &hooks, &f);
    const char *in = "LHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<crm@x.example>\r\nDATA\r\nx\r\n.\r\nNOOP\r\n";
    gsize used = cl_session_feed(f.session, in, strlen(in));
    g_assert_true(cl_session_waiting(f.session));
    g_assert_cmpuint(used, ==, strlen(in) - strlen("NOOP\r\n"));
    g_assert_cmpuint(cl_session_feed(f.session, "NOOP\r\n", 6), ==, 0);
    cl_session_shutdown(f.session);
    g_assert_false(cl_session_done(f.session));
    ClReply r = { 250, "2.0.0", "stored" };
    cl_session_delivered(f.session, &r, 1);
    g_assert_true(cl_session_done(f.session));
    g_assert_true(g_str_has_suffix(cl_session_output(f.session)->str,
                                   "250 2.0.0 <crm@x.example> stored\r\n"
                                   "421 4.3.2 mx.test Service shutting down, try again later\r\n"));
    cl_session_free(f.session);
    fake_clear(&f);

    /* An idle session closes at once. */
    Fake g = { .reply_code = 250 };
    g.messages = g_ptr_array_new_with_free_func(g_free);
    g.envelopes = g_ptr_array_new_with_free_func(g_free);
    g.session = cl_session_new(&cfg, &hooks, &g);
    cl_session_feed(g.session, "LHLO c\r\n", 8);
    cl_session_shutdown(g.session);
    g_assert_true(cl_session_done(g.session));
    cl_session_free(g.session);
    fake_clear(&g);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/intake/session/lmtp-dialog", test_lmtp_dialog);
    g_test_add_func("/intake/session/data-forms", test_data_forms);
    g_test_add_func("/intake/session/errors", test_errors);
    g_test_add_func("/intake/session/limits", test_limits);
    g_test_add_func("/intake/session/large-message-spools", test_large_message_spools);
    g_test_add_func("/intake/session/waiting-and-shutdown", test_waiting_and_shutdown);
    return g_test_run();
}
