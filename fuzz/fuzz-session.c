/*
 * fuzz-session.c — libFuzzer target for the LMTP/SMTP session state machine
 * (src/intake/session.c): any bytes from a client, fed in small chunks, with
 * fake hooks (no sockets, no store). Checks what a client could rely on: every
 * reply is one CRLF-terminated line starting with a three-digit code, the
 * message handed over never holds more than the limit, and nothing leaks.
 * The protocol is LMTP when the input starts with 'L' or 'l', else by the
 * first byte's lowest bit; the chunk size comes from the input's length.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "intake/intake.h"

#define MAX_BYTES 4096

typedef struct {
    ClSession *session;
    guint delivered;
} Fuzz;

static ClRcptCheck
check_rcpt(void *user, const char *address)
{
    (void)user;
    if (g_str_has_prefix(address, "busy"))
        return CL_RCPT_TEMPFAIL;
    return g_str_has_prefix(address, "crm") ? CL_RCPT_OK : CL_RCPT_UNKNOWN;
}

static int
spool_file(void *user, char **path_out, GError **error)
{
    (void)user;
    int fd = memfd_create("fuzz-spool", MFD_CLOEXEC);
    if (fd < 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "memfd_create failed");
        return -1;
    }
    *path_out = NULL; /* nothing to remove */
    return fd;
}

static void
deliver(void *user, ClRawMessage *raw, ClEnvelope *env)
{
    Fuzz *f = user;
    if (raw->stored > MAX_BYTES || raw->size < raw->stored || env->rcpts->len == 0)
        abort();
    if (raw->data != NULL && (gint64)raw->data->len != raw->stored)
        abort();
    cl_raw_message_free(raw);
    cl_envelope_free(env);
    static const ClReply replies[] = {
        { 250, "2.0.0", "stored" },
        { 451, "4.3.0", "later" },
        { 550, "5.7.1", "Rejected (unknown-sender): who?" },
    };
    cl_session_delivered(f->session, &replies[f->delivered++ % 3], 1);
}

static const ClSessionHooks hooks = { check_rcpt, spool_file, deliver };

static void
check_output(GString *out)
{
    for (gsize i = 0; i < out->len;) {
        const char *nl = memchr(out->str + i, '\n', out->len - i);
        if (nl == NULL)
            abort(); /* a reply without its line end */
        gsize len = nl - (out->str + i);
        const char *line = out->str + i;
        if (len < 4 || line[len - 1] != '\r' || !g_ascii_isdigit(line[0]) ||
            !g_ascii_isdigit(line[1]) || !g_ascii_isdigit(line[2]) ||
            (line[3] != ' ' && line[3] != '-') || memchr(line, '\r', len - 1) != NULL)
            abort();
        i += len + 1;
    }
    g_string_truncate(out, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    bool lmtp = data[0] == 'L' || data[0] == 'l' || !(data[0] & 1);
    ClSessionConfig cfg = { .protocol = lmtp ? CL_PROTOCOL_LMTP : CL_PROTOCOL_SMTP,
                            .id = "fuzz", .hostname = "mx.fuzz", .peer = "127.0.0.1:1",
                            .max_message_bytes = MAX_BYTES, .memory_bytes = 1024,
                            .max_rcpts = 5 };
    Fuzz f = { 0 };
    f.session = cl_session_new(&cfg, &hooks, &f);
    cl_session_greet(f.session);
    gsize chunk = 1 + size % 13;
    for (gsize at = 0; at < size && !cl_session_done(f.session);) {
        gsize n = MIN(chunk, size - at);
        gsize used = cl_session_feed(f.session, (const char *)data + at, n);
        check_output(cl_session_output(f.session));
        if (used == 0)
            break; /* waiting cannot happen: deliver answers at once */
        at += used;
    }
    if (size % 7 == 0)
        cl_session_shutdown(f.session);
    check_output(cl_session_output(f.session));
    cl_session_free(f.session);
    return 0;
}
