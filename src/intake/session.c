/*
 * session.c — one LMTP (RFC 2033) or SMTP (RFC 5321) session as a state
 * machine: bytes in, replies out. Stage: intake.
 *
 * No sockets and no database here: the server (server.c) feeds what it read
 * and writes what the session produced; the tests and the fuzz target feed
 * bytes directly. The session knows three hooks: is a recipient a drop
 * address, a spool file for a message larger than its memory share, and
 * "deliver this message". Delivery is asynchronous: the session consumes no
 * input until cl_session_delivered() hands it the outcome, so a pipelining
 * client's next commands wait in the server's buffer and every reply comes
 * in order (RFC 2920).
 *
 * Extensions: PIPELINING, 8BITMIME, SIZE, ENHANCEDSTATUSCODES, SMTPUTF8.
 * Not offered: CHUNKING, STARTTLS, AUTH (contactlog sits behind an MTA or on
 * a trusted network; the sender is judged by the mail's From, DESIGN §2).
 */
#include "intake.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* RFC 5321 §4.5.3.1.4: 512 octets for a command line; extensions (SIZE, BODY,
 * SMTPUTF8) make MAIL longer, so allow more but keep it bounded. */
#define MAX_COMMAND_LINE 2048
/* A session that keeps sending nonsense is closed (421). */
#define MAX_ERRORS 20

typedef enum {
    ST_GREETING, /* before LHLO/EHLO/HELO */
    ST_READY,    /* no transaction */
    ST_MAIL,     /* after MAIL */
    ST_RCPT,     /* at least one accepted recipient */
    ST_DATA,     /* reading the message */
    ST_WAITING,  /* the message is being stored; no input is consumed */
    ST_DONE,     /* QUIT or closed: flush the output and close */
} State;

static const char *const state_names[] = { "greeting", "ready", "mail", "rcpt",
                                           "data",     "waiting", "done" };

/* Where a data line stands, for dot-unstuffing and CRLF → LF (RFC 5321 §4.5.2). */
typedef enum {
    D_BOL,    /* at the beginning of a line */
    D_DOT,    /* the line began with '.', which was dropped */
    D_DOT_CR, /* ".\r" */
    D_TEXT,   /* inside a line */
    D_CR,     /* inside a line, after '\r' */
} DataState;

struct ClSession {
    ClSessionConfig config; /* strings copied */
    ClSessionHooks hooks;
    void *user;
    State state;
    GString *out;
    GString *line;          /* a command line that has not ended yet */
    bool line_too_long;
    guint errors;
    bool close_after_reply; /* shutting down: 421 once the transaction is answered */
    char *helo;
    /* the transaction */
    char *sender;
    GPtrArray *rcpts;       /* char * */
    DataState dstate;
    GByteArray *data;       /* message bytes while they fit in memory */
    int spool_fd;           /* after spilling: the spool file, else -1 */
    char *spool_path;
    gint64 stored;          /* bytes kept (memory or file), our Received line included */
    gint64 size;            /* bytes of the message: the Received line and what the client sent */
    gint64 trace_len;       /* our Received line: not counted against the limit */
    bool too_large;         /* over the limit: counted, no longer kept */
    guint progress;         /* commands and data received: what resets the idle timer */
    gsize data_credit;      /* data bytes since progress last moved */
    int spool_errno;        /* a failed spool write: answered 451 at the end */
    guint messages;
};

static void
enter(ClSession *s, State next)
{
    g_debug("session id=%s state=%s next=%s", s->config.id, state_names[s->state],
            state_names[next]);
    s->state = next;
}

/* One reply line. The enhanced status code (RFC 3463, announced by
 * ENHANCEDSTATUSCODES) is left out for the greeting only. */
static void
reply(ClSession *s, int code, const char *status, const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static void
reply(ClSession *s, int code, const char *status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_string_append_printf(s->out, "%d ", code);
    if (status != NULL)
        g_string_append_printf(s->out, "%s ", status);
    g_string_append_vprintf(s->out, fmt, ap);
    g_string_append(s->out, "\r\n");
    va_end(ap);
}

/* The message bytes of the transaction, not its envelope. */
static void
reset_data(ClSession *s)
{
    if (s->data != NULL)
        g_byte_array_set_size(s->data, 0);
    if (s->spool_fd >= 0)
        close(s->spool_fd);
    s->spool_fd = -1;
    if (s->spool_path != NULL) {
        unlink(s->spool_path);
        g_clear_pointer(&s->spool_path, g_free);
    }
    s->stored = s->size = s->trace_len = 0;
    s->too_large = false;
    s->spool_errno = 0;
    s->dstate = D_BOL;
}

static void
reset_transaction(ClSession *s)
{
    g_clear_pointer(&s->sender, g_free);
    g_ptr_array_set_size(s->rcpts, 0);
    reset_data(s);
}

ClSession *
cl_session_new(const ClSessionConfig *config, const ClSessionHooks *hooks, void *user)
{
    ClSession *s = g_new0(ClSession, 1);
    s->config = *config;
    s->config.id = g_strdup(config->id ? config->id : "-");
    s->config.hostname = g_strdup(config->hostname ? config->hostname : "localhost");
    s->config.peer = g_strdup(config->peer ? config->peer : "unknown");
    if (s->config.max_rcpts == 0)
        s->config.max_rcpts = 100;
    s->config.memory_bytes = MIN(MAX(s->config.memory_bytes, 4096), s->config.max_message_bytes);
    s->hooks = *hooks;
    s->user = user;
    s->out = g_string_sized_new(256);
    s->line = g_string_sized_new(128);
    s->rcpts = g_ptr_array_new_with_free_func(g_free);
    s->data = g_byte_array_new();
    s->spool_fd = -1;
    return s;
}

void
cl_session_free(ClSession *s)
{
    if (s == NULL)
        return;
    reset_transaction(s);
    g_free((char *)s->config.id);
    g_free((char *)s->config.hostname);
    g_free((char *)s->config.peer);
    g_free(s->helo);
    g_string_free(s->out, TRUE);
    g_string_free(s->line, TRUE);
    g_ptr_array_unref(s->rcpts);
    g_byte_array_unref(s->data);
    g_free(s);
}

static const char *
proto_name(const ClSession *s)
{
    return s->config.protocol == CL_PROTOCOL_LMTP ? "LMTP" : "ESMTP";
}

void
cl_session_greet(ClSession *s)
{
    reply(s, 220, NULL, "%s contactlog %s ready", s->config.hostname, proto_name(s));
}

GString *
cl_session_output(ClSession *s)
{
    return s->out;
}

bool
cl_session_waiting(const ClSession *s)
{
    return s->state == ST_WAITING;
}

bool
cl_session_done(const ClSession *s)
{
    return s->state == ST_DONE;
}

bool
cl_session_in_transaction(const ClSession *s)
{
    return s->state == ST_MAIL || s->state == ST_RCPT || s->state == ST_DATA ||
           s->state == ST_WAITING;
}

guint
cl_session_progress(const ClSession *s)
{
    return s->progress;
}

guint
cl_session_messages(const ClSession *s)
{
    return s->messages;
}

void
cl_session_close(ClSession *s, const char *status, const char *text)
{
    if (s->state == ST_DONE)
        return;
    if (s->state == ST_WAITING) {
        /* The message is being stored: its replies come first. */
        s->close_after_reply = true;
        return;
    }
    reply(s, 421, status, "%s %s", s->config.hostname, text);
    reset_transaction(s);
    enter(s, ST_DONE);
}

void
cl_session_shutdown(ClSession *s)
{
    if (s->state == ST_DATA || s->state == ST_WAITING || s->state == ST_MAIL ||
        s->state == ST_RCPT) {
        /* A transaction in flight finishes; the session closes after it. */
        s->close_after_reply = true;
        return;
    }
    cl_session_close(s, "4.3.2", "Service shutting down, try again later");
}

/* ---- addresses and parameters --------------------------------------------------- */

/*
 * "<addr> PARAMS" after "FROM:" or "TO:". Returns the address without its
 * brackets ("" for the null path <>) and sets *params_out; NULL on bad syntax.
 * A source route (<@a,@b:user@c>, RFC 5321 §4.1.1.3) is accepted and dropped.
 */
static char *
path_arg(const char *arg, const char **params_out)
{
    while (*arg == ' ')
        arg++;
    if (*arg != '<')
        return NULL;
    const char *p = arg + 1;
    GString *addr = g_string_new(NULL);
    bool quoted = false;
    for (; *p != '\0'; p++) {
        if (quoted) {
            if (*p == '\\' && p[1] != '\0')
                g_string_append_c(addr, *p++);
            else if (*p == '"')
                quoted = false;
            g_string_append_c(addr, *p);
            continue;
        }
        if (*p == '"')
            quoted = true;
        else if (*p == '>')
            break;
        else if (*p == ' ' || (guchar)*p < 0x20)
            break;
        g_string_append_c(addr, *p);
    }
    if (*p != '>') {
        g_string_free(addr, TRUE);
        return NULL;
    }
    if (addr->str[0] == '@') {
        const char *colon = strchr(addr->str, ':');
        if (colon == NULL) {
            g_string_free(addr, TRUE);
            return NULL;
        }
        g_string_erase(addr, 0, colon + 1 - addr->str);
    }
    p++;
    while (*p == ' ')
        p++;
    *params_out = p;
    /* "crm"@x is crm@x (RFC 5321 §4.1.2): quotes around a plain local part go. */
    const char *at = strrchr(addr->str, '@');
    if (addr->str[0] == '"' && at != NULL && at - addr->str >= 2 && at[-1] == '"') {
        bool plain = true;
        for (const char *q = addr->str + 1; q < at - 1 && plain; q++)
            plain = g_ascii_isalnum(*q) || strchr("!#$%&'*+-/=?^_`{|}~.", *q) != NULL;
        if (plain) {
            gsize local = (gsize)(at - addr->str);
            g_string_erase(addr, local - 1, 1);
            g_string_erase(addr, 0, 1);
        }
    }
    return g_string_free(addr, FALSE);
}

/* Whether the text is valid as an address here: UTF-8 only with SMTPUTF8
 * (we announce it, so we accept it), some '@' unless it is the null path. */
static bool
address_ok(const char *addr, bool allow_empty)
{
    if (*addr == '\0')
        return allow_empty;
    return g_utf8_validate(addr, -1, NULL) && strchr(addr, '@') != NULL &&
           strlen(addr) <= 320;
}

/* Checks MAIL parameters (RFC 1870 SIZE, RFC 6152 BODY, RFC 6531 SMTPUTF8). */
static bool
mail_params(ClSession *s, const char *params)
{
    g_auto(GStrv) words = g_strsplit(params, " ", -1);
    for (gsize i = 0; words[i] != NULL; i++) {
        const char *w = words[i];
        if (*w == '\0')
            continue;
        if (g_ascii_strncasecmp(w, "SIZE=", 5) == 0) {
            guint64 n = 0;
            g_autoptr(GError) bad = NULL;
            if (!g_ascii_string_to_unsigned(w + 5, 10, 0, G_MAXINT64, &n, &bad)) {
                if (!g_error_matches(bad, G_NUMBER_PARSER_ERROR,
                                     G_NUMBER_PARSER_ERROR_OUT_OF_BOUNDS)) {
                    reply(s, 501, "5.5.4", "Bad SIZE parameter");
                    return false;
                }
                n = G_MAXUINT64; /* a number, just too large */
            }
            if (n > (guint64)s->config.max_message_bytes) {
                reply(s, 552, "5.3.4",
                      "Message too large: contactlog accepts at most %" G_GINT64_FORMAT " bytes",
                      s->config.max_message_bytes);
                return false;
            }
        } else if (g_ascii_strcasecmp(w, "BODY=7BIT") == 0 ||
                   g_ascii_strcasecmp(w, "BODY=8BITMIME") == 0 ||
                   g_ascii_strcasecmp(w, "SMTPUTF8") == 0) {
            /* accepted as announced */
        } else {
            reply(s, 555, "5.5.4", "Unsupported MAIL parameter %.64s", w);
            return false;
        }
    }
    return true;
}

/* ---- commands ----------------------------------------------------------------- */

static void
cmd_hello(ClSession *s, const char *verb, const char *arg)
{
    bool lmtp = s->config.protocol == CL_PROTOCOL_LMTP;
    bool extended = g_ascii_strcasecmp(verb, "HELO") != 0;
    /* RFC 2033 §4.1: LMTP has LHLO only; an SMTP server does not know LHLO. */
    if (lmtp != (g_ascii_strcasecmp(verb, "LHLO") == 0)) {
        reply(s, 500, "5.5.1", "%s is not a %s command; use %s", verb,
              lmtp ? "LMTP" : "SMTP", lmtp ? "LHLO" : "EHLO");
        s->errors++;
        return;
    }
    if (*arg == '\0') {
        reply(s, 501, "5.5.4", "%s needs a host name", verb);
        s->errors++;
        return;
    }
    reset_transaction(s);
    g_free(s->helo);
    s->helo = g_strndup(arg, 255);
    enter(s, ST_READY);
    if (!extended) {
        reply(s, 250, NULL, "%s", s->config.hostname);
        return;
    }
    g_string_append_printf(s->out,
                           "250-%s\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
                           "250-SIZE %" G_GINT64_FORMAT "\r\n250 ENHANCEDSTATUSCODES\r\n",
                           s->config.hostname, s->config.max_message_bytes);
}

static void
cmd_mail(ClSession *s, const char *arg)
{
    if (g_ascii_strncasecmp(arg, "FROM:", 5) != 0) {
        reply(s, 501, "5.5.4", "Syntax: MAIL FROM:<address>");
        return;
    }
    const char *params = NULL;
    g_autofree char *addr = path_arg(arg + 5, &params);
    if (addr == NULL || !address_ok(addr, true)) {
        reply(s, 501, "5.1.7", "Bad sender address syntax");
        return;
    }
    if (!mail_params(s, params))
        return;
    reset_transaction(s);
    s->sender = g_steal_pointer(&addr);
    enter(s, ST_MAIL);
    reply(s, 250, "2.1.0", "Sender OK");
}

static void
cmd_rcpt(ClSession *s, const char *arg)
{
    if (g_ascii_strncasecmp(arg, "TO:", 3) != 0) {
        reply(s, 501, "5.5.4", "Syntax: RCPT TO:<address>");
        return;
    }
    const char *params = NULL;
    g_autofree char *addr = path_arg(arg + 3, &params);
    if (addr == NULL || !address_ok(addr, false)) {
        reply(s, 501, "5.1.3", "Bad recipient address syntax");
        return;
    }
    if (*params != '\0') {
        reply(s, 555, "5.5.4", "Unsupported RCPT parameter");
        return;
    }
    if (s->rcpts->len >= s->config.max_rcpts) {
        /* RFC 5321 §4.5.3.1.8: the client sends the rest in another transaction. */
        reply(s, 452, "4.5.3", "Too many recipients");
        return;
    }
    switch (s->hooks.check_rcpt(s->user, addr)) {
    case CL_RCPT_OK:
        break;
    case CL_RCPT_UNKNOWN:
        reply(s, 550, "5.1.1", "<%s>: not a contactlog drop address", addr);
        return;
    case CL_RCPT_TEMPFAIL:
        reply(s, 451, "4.3.0", "<%s>: cannot check the address now, try again later", addr);
        return;
    }
    g_ptr_array_add(s->rcpts, g_steal_pointer(&addr));
    enter(s, ST_RCPT);
    reply(s, 250, "2.1.5", "Recipient OK");
}

/* RFC 5321 §4.4: trace information first. */
static void
add_trace(ClSession *s)
{
    /* RFC 5322 §3.3 date, in English whatever the locale. */
    static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
    static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    g_autoptr(GDateTime) now = g_date_time_new_now_local();
    g_autofree char *zone = g_date_time_format(now, "%z");
    g_autofree char *date = g_strdup_printf(
        "%s, %d %s %d %02d:%02d:%02d %s", days[g_date_time_get_day_of_week(now) - 1],
        g_date_time_get_day_of_month(now), months[g_date_time_get_month(now) - 1],
        g_date_time_get_year(now), g_date_time_get_hour(now), g_date_time_get_minute(now),
        g_date_time_get_second(now), zone);
    g_autofree char *line = g_strdup_printf(
        "Received: from %s (%s)\n\tby %s (contactlog) with %s id %s.%u;\n\t%s\n",
        s->helo ? s->helo : "unknown", s->config.peer, s->config.hostname,
        s->config.protocol == CL_PROTOCOL_LMTP ? "LMTP" : "ESMTP", s->config.id,
        s->messages + 1, date);
    g_byte_array_append(s->data, (const guint8 *)line, strlen(line));
    s->stored = s->size = s->trace_len = (gint64)strlen(line);
}

static void
cmd_data(ClSession *s, const char *arg)
{
    if (*arg != '\0') {
        reply(s, 501, "5.5.4", "DATA takes no argument");
        return;
    }
    reset_data(s);
    add_trace(s);
    enter(s, ST_DATA);
    reply(s, 354, NULL, "Start mail input; end with <CRLF>.<CRLF>");
}

static void
cmd_rset(ClSession *s, const char *arg)
{
    (void)arg;
    reset_transaction(s);
    if (s->state != ST_GREETING)
        enter(s, ST_READY);
    reply(s, 250, "2.0.0", "OK");
}

static void
cmd_noop(ClSession *s, const char *arg)
{
    (void)arg;
    reply(s, 250, "2.0.0", "OK");
}

static void
cmd_quit(ClSession *s, const char *arg)
{
    (void)arg;
    reset_transaction(s);
    reply(s, 221, "2.0.0", "%s closing connection", s->config.hostname);
    enter(s, ST_DONE);
}

static void
cmd_vrfy(ClSession *s, const char *arg)
{
    (void)arg;
    reply(s, 252, "2.5.0", "Cannot verify, but will accept mail for drop addresses");
}

static void
cmd_help(ClSession *s, const char *arg)
{
    (void)arg;
    reply(s, 214, "2.0.0", "contactlog: %s, MAIL, RCPT, DATA, RSET, NOOP, QUIT",
          s->config.protocol == CL_PROTOCOL_LMTP ? "LHLO" : "EHLO, HELO");
}

#define IN(st) (1u << (st))
#define ANY (IN(ST_GREETING) | IN(ST_READY) | IN(ST_MAIL) | IN(ST_RCPT))

static const struct {
    const char *verb;
    unsigned allowed;
    const char *not_allowed; /* the reply text when the state is wrong */
    void (*handle)(ClSession *s, const char *arg);
} commands[] = {
    { "MAIL", IN(ST_READY), NULL, cmd_mail },
    { "RCPT", IN(ST_MAIL) | IN(ST_RCPT), "Need MAIL before RCPT", cmd_rcpt },
    { "DATA", IN(ST_RCPT), NULL, cmd_data },
    { "RSET", ANY, NULL, cmd_rset },
    { "NOOP", ANY, NULL, cmd_noop },
    { "QUIT", ANY, NULL, cmd_quit },
    { "VRFY", ANY, NULL, cmd_vrfy },
    { "HELP", ANY, NULL, cmd_help },
};

static void
wrong_state(ClSession *s, const char *verb)
{
    if (s->state == ST_GREETING)
        reply(s, 503, "5.5.1", "Say %s first",
              s->config.protocol == CL_PROTOCOL_LMTP ? "LHLO" : "EHLO");
    else if (g_ascii_strcasecmp(verb, "MAIL") == 0)
        reply(s, 503, "5.5.1", "Sender already given");
    else if (g_ascii_strcasecmp(verb, "DATA") == 0)
        reply(s, s->state == ST_MAIL ? 554 : 503, "5.5.1",
              s->state == ST_MAIL ? "No valid recipients" : "Need MAIL and RCPT before DATA");
    else
        reply(s, 503, "5.5.1", "Need MAIL before RCPT");
}

static void
command(ClSession *s, char *line)
{
    g_debug("session id=%s command=%.4s", s->config.id, line);
    char *sp = strchr(line, ' ');
    const char *arg = "";
    if (sp != NULL) {
        *sp = '\0';
        arg = sp + 1;
    }
    const char *verb = line;
    if (g_ascii_strcasecmp(verb, "LHLO") == 0 || g_ascii_strcasecmp(verb, "EHLO") == 0 ||
        g_ascii_strcasecmp(verb, "HELO") == 0) {
        cmd_hello(s, verb, arg);
        return;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (g_ascii_strcasecmp(verb, commands[i].verb) != 0)
            continue;
        if (!(commands[i].allowed & IN(s->state))) {
            wrong_state(s, verb);
            s->errors++;
            return;
        }
        commands[i].handle(s, arg);
        return;
    }
    reply(s, 500, "5.5.2", "Command not recognised");
    s->errors++;
}

/* ---- message data ---------------------------------------------------------------- */

/* Keeps message bytes (`wire` of them as sent): in memory up to the
 * session's share, then in a spool file; past the maximum only counted, so
 * the reply can say how large it was and the client is not cut off. */
static void
keep(ClSession *s, const char *bytes, gsize len, gsize wire)
{
    /* The limit is on the bytes as sent, CRLF counted as two, as SIZE counts
     * them (RFC 1870); our Received line does not count. */
    s->size += wire;
    if (s->too_large || s->spool_errno != 0)
        return;
    if (s->size - s->trace_len > s->config.max_message_bytes) {
        s->too_large = true;
        return;
    }
    if (s->spool_fd < 0 && s->stored + (gint64)len > s->config.memory_bytes + s->trace_len) {
        g_autoptr(GError) error = NULL;
        s->spool_fd = s->hooks.spool_file(s->user, &s->spool_path, &error);
        if (s->spool_fd < 0) {
            int e = errno;
            g_warning("event=spool-failed session=%s error=\"%s\"", s->config.id,
                      error->message);
            s->spool_errno = e ? e : EIO;
            return;
        }
        if (!cl_write_all(s->spool_fd, s->data->data, s->data->len)) {
            s->spool_errno = errno;
            return;
        }
        g_byte_array_set_size(s->data, 0);
    }
    if (s->spool_fd >= 0) {
        if (!cl_write_all(s->spool_fd, (const guint8 *)bytes, len)) {
            s->spool_errno = errno;
            return;
        }
    } else {
        g_byte_array_append(s->data, (const guint8 *)bytes, len);
    }
    s->stored += len;
}

static void
data_end(ClSession *s)
{
    s->messages++;
    if (s->spool_errno != 0) {
        /* Not a decision about the mail: the MTA keeps it and retries. */
        g_warning("event=spool-failed session=%s error=\"%s\"", s->config.id,
                  g_strerror(s->spool_errno));
        reply(s, 451, "4.3.0", "Cannot spool the message now (%s), try again later",
              g_strerror(s->spool_errno));
        guint n = s->config.protocol == CL_PROTOCOL_LMTP ? s->rcpts->len : 1;
        for (guint i = 1; i < n; i++)
            reply(s, 451, "4.3.0", "Cannot spool the message now, try again later");
        reset_transaction(s);
        enter(s, ST_READY);
        return;
    }
    ClRawMessage *raw = g_new0(ClRawMessage, 1);
    raw->stored = s->stored;
    raw->limit = s->config.max_message_bytes;
    /* size > stored is what says "too large" to the pipeline. */
    raw->size = s->too_large ? MAX(s->size, s->stored + 1) : s->stored;
    raw->origin = g_strdup_printf("%s:%s.%u", s->config.protocol == CL_PROTOCOL_LMTP ? "lmtp"
                                                                                  : "smtp",
                                  s->config.id, s->messages);
    if (s->spool_fd >= 0) {
        raw->fd = s->spool_fd;
        raw->spool_path = g_steal_pointer(&s->spool_path);
        s->spool_fd = -1;
    } else {
        raw->fd = -1;
        raw->data = g_steal_pointer(&s->data);
        s->data = g_byte_array_new();
    }
    ClEnvelope *env = cl_envelope_new();
    env->sender = g_strdup(s->sender);
    for (guint i = 0; i < s->rcpts->len; i++)
        g_ptr_array_add(env->rcpts, g_strdup(s->rcpts->pdata[i]));
    enter(s, ST_WAITING);
    s->hooks.deliver(s->user, raw, env);
}

/* Consumes message bytes; returns how many, stopping after the final dot. */
static gsize
data_feed(ClSession *s, const char *buf, gsize len)
{
    gsize i = 0;
    while (i < len) {
        char c = buf[i];
        switch (s->dstate) {
        case D_BOL:
            if (c == '.') {
                s->dstate = D_DOT; /* dropped: dot-stuffing, RFC 5321 §4.5.2 */
                i++;
            } else {
                s->dstate = D_TEXT;
            }
            break;
        case D_DOT:
            if (c == '\r') {
                s->dstate = D_DOT_CR;
                i++;
            } else if (c == '\n') {
                /* ".<LF>" is no end of data: only <CRLF>.<CRLF> is (RFC 5321
                 * §4.1.1.4). Ending at a bare LF would let a sender hide a
                 * second transaction in one message ("SMTP smuggling"). */
                keep(s, ".", 1, 1);
                s->dstate = D_TEXT;
            } else {
                s->dstate = D_TEXT;
            }
            break;
        case D_DOT_CR:
            if (c == '\n') {
                data_end(s);
                return i + 1;
            }
            s->dstate = D_CR; /* ".\rX": the line was ".\r" + text */
            break;
        case D_CR:
            s->dstate = D_TEXT;
            if (c == '\n') {
                keep(s, "\n", 1, 2); /* CRLF is stored as LF, like mail from a pipe */
                s->dstate = D_BOL;
                i++;
            } else {
                keep(s, "\r", 1, 1);
            }
            break;
        case D_TEXT: {
            gsize j = i;
            while (j < len && buf[j] != '\r' && buf[j] != '\n')
                j++;
            if (j > i)
                keep(s, buf + i, j - i, j - i);
            if (j < len) {
                if (buf[j] == '\n') {
                    /* A bare LF is kept, but it starts no line: a dot after it
                     * neither ends the data nor is unstuffed (no smuggling). */
                    keep(s, "\n", 1, 1);
                } else {
                    s->dstate = D_CR;
                }
                j++;
            }
            i = j;
            break;
        }
        }
    }
    return len;
}

/* ---- input ------------------------------------------------------------------------- */

static bool
has_control(const char *line, gsize len)
{
    for (gsize i = 0; i < len; i++)
        if ((guchar)line[i] < 0x20 && line[i] != '\t')
            return true;
    return false;
}

gsize
cl_session_feed(ClSession *s, const char *buf, gsize len)
{
    gsize used = 0;
    while (used < len && s->state != ST_WAITING && s->state != ST_DONE) {
        if (s->state == ST_DATA) {
            gsize n = data_feed(s, buf + used, len - used);
            used += n;
            /* Data counts as progress by the kilobyte: a byte now and then
             * does not keep a session alive (slowloris). */
            s->data_credit += n;
            if (s->data_credit >= 1024 || s->state != ST_DATA) {
                s->progress++;
                s->data_credit = 0;
            }
            continue;
        }
        const char *nl = memchr(buf + used, '\n', len - used);
        gsize n = nl ? (gsize)(nl - (buf + used)) + 1 : len - used;
        if (!s->line_too_long) {
            if (s->line->len + n > MAX_COMMAND_LINE)
                s->line_too_long = true; /* the rest of the line is read and dropped */
            else
                g_string_append_len(s->line, buf + used, n);
        }
        used += n;
        if (nl == NULL)
            break;
        if (s->line_too_long) {
            reply(s, 500, "5.5.2", "Line too long");
            s->errors++;
        } else {
            g_string_truncate(s->line, s->line->len - 1);
            if (s->line->len > 0 && s->line->str[s->line->len - 1] == '\r')
                g_string_truncate(s->line, s->line->len - 1);
            if (has_control(s->line->str, s->line->len)) {
                /* A CR or NUL inside a command would end up in a reply. */
                reply(s, 500, "5.5.2", "Control characters in command");
                s->errors++;
            } else {
                command(s, s->line->str);
            }
            s->progress++;
        }
        g_string_truncate(s->line, 0);
        s->line_too_long = false;
        if (s->errors >= MAX_ERRORS)
            cl_session_close(s, "4.7.0", "Too many errors, closing connection");
        else if (s->close_after_reply && !cl_session_in_transaction(s))
            cl_session_close(s, "4.3.2", "Service shutting down, try again later");
    }
    return used;
}

void
cl_session_delivered(ClSession *s, const ClReply *replies, guint n)
{
    g_return_if_fail(s->state == ST_WAITING && n > 0);
    /* RFC 2033 §4.2: after DATA, one reply per accepted recipient, in RCPT order. */
    guint wanted = s->config.protocol == CL_PROTOCOL_LMTP ? s->rcpts->len : 1;
    for (guint i = 0; i < wanted; i++) {
        const ClReply *r = &replies[MIN(i, n - 1)];
        if (s->config.protocol == CL_PROTOCOL_LMTP)
            reply(s, r->code, r->status, "<%s> %s", (char *)s->rcpts->pdata[i], r->text);
        else
            reply(s, r->code, r->status, "%s", r->text);
    }
    reset_transaction(s);
    enter(s, ST_READY);
    if (s->close_after_reply)
        cl_session_close(s, "4.3.2", "Service shutting down, try again later");
}
