/*
 * imap.c — the IMAP client of `contactlog fetch` (RFC 3501), on libcurl.
 * Stage: intake. Lists, fetches and marks messages of one mailbox; hands
 * ClRawMessage to the caller and knows nothing of the pipeline. The only file
 * that includes curl.h.
 *
 * How libcurl (7.88) is used, and why:
 * - Every command is one curl_easy_perform() on the same easy handle, so the
 *   connection (and its login and SELECT) is reused within a pass. The
 *   mailbox URL makes libcurl SELECT it once; commands of our own go in
 *   CURLOPT_CUSTOMREQUEST, whose untagged responses arrive on the write
 *   callback. Every response line (SELECT's too) also arrives on the header
 *   callback: that is where UIDVALIDITY, UIDNEXT, PERMANENTFLAGS and the text
 *   of a refusal are read.
 * - A message is fetched through its URL, MAILBOX;UIDVALIDITY=V/;UID=N, which
 *   libcurl sends as "UID FETCH N BODY[]" and whose literal it hands to the
 *   write callback. A custom "UID FETCH N BODY.PEEK[]" would not set \Seen,
 *   but libcurl drops the literal of a custom command (only the first line
 *   comes through), so the fetch sets \Seen; release() clears it again when
 *   the message could not be stored. The URL's UIDVALIDITY makes libcurl
 *   refuse a mailbox that was re-created (UIDs reused, RFC 3501 §2.3.1.1).
 * - libcurl accepts at most 300 KB of response lines per request ("Too large
 *   response headers"), so UID SEARCH goes in ranges of SEARCH_CHUNK UIDs.
 * - A failed SELECT is reported as CURLE_LOGIN_DENIED, like a refused login;
 *   the CAPABILITY command that opens each pass logs in without selecting, so
 *   the two are told apart.
 * Must not: pass a password anywhere but CURLOPT_PASSWORD, log it, or send it
 * in the clear to anything but loopback.
 */
#include "intake.h"

#include <curl/curl.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

/* The keyword that says "captured" (RFC 3501 §2.3.2: keywords are atoms). */
#define CAPTURED_KEYWORD "$ContactlogCaptured"
/* UIDs per UID SEARCH: at most some 11 bytes each, well below libcurl's 300 KB. */
#define SEARCH_CHUNK 20000
#define CONNECT_TIMEOUT_S 30L
/* A server that sends nothing for this long is taken as gone. */
#define STALL_TIMEOUT_S 120L

/* Receives a message's literal while it is fetched. */
typedef struct {
    ClStore *store;    /* borrowed */
    ClRawMessage *raw; /* being filled */
    bool cr;           /* the last byte seen was a CR, not yet written */
    GError *error;     /* why the write callback stopped the transfer */
} Sink;

struct ClImapSource {
    char *server_url;  /* "imaps://host:993", no path */
    char *host;        /* "host:993" as given, for messages */
    char *mailbox;     /* UTF-8, as named in the URL */
    char *mailbox_url; /* server_url + "/" + the modified UTF-7 name, percent-encoded */
    char *user;
    char *password;    /* wiped when freed */
    char *bearer;      /* likewise */
    bool require_tls;  /* imap:// beyond loopback: STARTTLS or nothing */
    ClImapMark mark;
    char *move_to;     /* UTF-8 */
    char *move_to_arg; /* the folder as an IMAP quoted string, modified UTF-7 */
    gint64 max_bytes;
    gint64 memory_bytes;

    /* The pass's connection. */
    CURL *curl;
    char errbuf[CURL_ERROR_SIZE];
    GString *lines;  /* response lines of the last request (header callback) */
    GString *body;   /* untagged responses of the last custom command */
    Sink *sink;      /* during a fetch */
    bool has_move, has_uidplus;
    bool folder_ready;
    guint32 uidvalidity;
    guint32 uidnext; /* 0: the server did not say */
    GHashTable *seen_by_fetch; /* UIDs whose \Seen the fetch set */
};

/* ---- names: RFC 3501 §5.1.3 modified UTF-7, quoted strings ------------------------ */

static const char mutf7_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/* Is an ASCII name already valid modified UTF-7 ("Gel&APY-schte Elemente")? */
static bool
is_mutf7(const char *name)
{
    for (const char *p = name; *p; p++) {
        if ((guchar)*p < 0x20 || (guchar)*p > 0x7e)
            return false;
        if (*p != '&')
            continue;
        const char *q = p + 1;
        while (*q && strchr(mutf7_alphabet, *q))
            q++;
        if (*q != '-')
            return false;
        p = q;
    }
    return true;
}

/*
 * A mailbox name as the server wants it: printable ASCII stays ("&" becomes
 * "&-"), other characters go as UTF-16 in modified base64 between "&" and "-".
 * A pure-ASCII name that is valid modified UTF-7 is taken as already encoded,
 * so that names copied from another client work too. NULL for control characters.
 */
static char *
mailbox_encode(const char *utf8)
{
    bool ascii = true;
    for (const char *p = utf8; *p; p++) {
        if ((guchar)*p < 0x20 || (guchar)*p == 0x7f)
            return NULL; /* CR, LF, NUL would end or split the command line */
        if ((guchar)*p > 0x7f)
            ascii = false;
    }
    if (ascii && is_mutf7(utf8))
        return g_strdup(utf8);
    GString *out = g_string_new(NULL);
    for (const char *p = utf8; *p;) {
        if ((guchar)*p < 0x80) {
            if (*p == '&')
                g_string_append(out, "&-");
            else
                g_string_append_c(out, *p);
            p++;
            continue;
        }
        const char *start = p;
        while (*p && (guchar)*p >= 0x80)
            p++;
        g_autofree char *run = g_strndup(start, p - start);
        glong n = 0;
        g_autofree gunichar2 *u16 = g_utf8_to_utf16(run, -1, NULL, &n, NULL);
        if (u16 == NULL) {
            g_string_free(out, TRUE);
            return NULL;
        }
        g_string_append_c(out, '&');
        guint32 bits = 0;
        int nbits = 0;
        for (glong i = 0; i < n; i++) {
            for (int shift = 8; shift >= 0; shift -= 8) {
                bits = (bits << 8) | ((u16[i] >> shift) & 0xff);
                nbits += 8;
                while (nbits >= 6) {
                    nbits -= 6;
                    g_string_append_c(out, mutf7_alphabet[(bits >> nbits) & 0x3f]);
                }
            }
        }
        if (nbits > 0)
            g_string_append_c(out, mutf7_alphabet[(bits << (6 - nbits)) & 0x3f]);
        g_string_append_c(out, '-');
    }
    return g_string_free(out, FALSE);
}

/* RFC 3501 §4.3 quoted string (the name holds no CR, LF or 8-bit bytes). */
static char *
quoted(const char *text)
{
    GString *out = g_string_new("\"");
    for (const char *p = text; *p; p++) {
        if (*p == '"' || *p == '\\')
            g_string_append_c(out, '\\');
        g_string_append_c(out, *p);
    }
    g_string_append_c(out, '"');
    return g_string_free(out, FALSE);
}

static bool
loopback(const char *host)
{
    return g_ascii_strcasecmp(host, "localhost") == 0 || g_str_has_prefix(host, "127.") ||
           strcmp(host, "::1") == 0 || strcmp(host, "[::1]") == 0;
}

/* ---- life cycle -------------------------------------------------------------------- */

static void
curl_init_once(void)
{
    /* curl_global_init is not thread-safe in every libcurl: once, here. It is
     * never undone (curl_global_cleanup would race other users). */
    static gsize once = 0;
    if (g_once_init_enter(&once)) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        g_once_init_leave(&once, 1);
    }
}

static void
wipe_free(char *secret)
{
    if (secret != NULL)
        sodium_memzero(secret, strlen(secret));
    g_free(secret);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CURLU, curl_url_cleanup)

static char *
url_part(CURLU *u, CURLUPart part, unsigned flags)
{
    char *value = NULL;
    if (curl_url_get(u, part, &value, flags) != CURLUE_OK)
        return NULL;
    char *copy = g_strdup(value);
    curl_free(value);
    return copy;
}

static bool
parse_url(ClImapSource *s, const char *url, GError **error)
{
    g_autoptr(CURLU) u = curl_url();
    if (url == NULL || curl_url_set(u, CURLUPART_URL, url, CURLU_ALLOW_SPACE) != CURLUE_OK) {
        g_set_error(error, CL_ERROR, CL_ERROR_CONFIG,
                    "\"%s\" is not a URL such as imaps://imap.example.com/INBOX", url ? url : "");
        return false;
    }
    g_autofree char *scheme = url_part(u, CURLUPART_SCHEME, 0);
    g_autofree char *host = url_part(u, CURLUPART_HOST, 0);
    g_autofree char *port = url_part(u, CURLUPART_PORT, 0);
    g_autofree char *raw_path = url_part(u, CURLUPART_PATH, 0);
    g_autofree char *path = url_part(u, CURLUPART_PATH, CURLU_URLDECODE);
    g_autofree char *user = url_part(u, CURLUPART_USER, 0);
    g_autofree char *password = url_part(u, CURLUPART_PASSWORD, 0);
    g_autofree char *query = url_part(u, CURLUPART_QUERY, 0);
    g_autofree char *fragment = url_part(u, CURLUPART_FRAGMENT, 0);
    if (scheme == NULL || (strcmp(scheme, "imap") != 0 && strcmp(scheme, "imaps") != 0)) {
        g_set_error(error, CL_ERROR, CL_ERROR_CONFIG,
                    "the URL must start with imaps:// (or imap://), not \"%s\"", url);
        return false;
    }
    if (user != NULL || password != NULL) {
        /* A password in the URL would show in ps and in logs. */
        g_set_error(error, CL_ERROR, CL_ERROR_CONFIG,
                    "put no user or password in the URL: name the user with --user, the "
                    "password with --password-file or CONTACTLOG_IMAP_PASSWORD");
        return false;
    }
    if (query != NULL || fragment != NULL || (raw_path && strchr(raw_path, ';'))) {
        g_set_error(error, CL_ERROR, CL_ERROR_CONFIG,
                    "the URL names a mailbox, imap[s]://HOST[:PORT]/MAILBOX, not \"%s\"", url);
        return false;
    }
    const char *name = path ? path : "";
    while (*name == '/')
        name++;
    g_autofree char *mailbox = g_strdup(*name ? name : "INBOX");
    gsize len = strlen(mailbox);
    while (len > 0 && mailbox[len - 1] == '/') /* a trailing slash is not part of the name */
        mailbox[--len] = '\0';
    g_autofree char *encoded = g_utf8_validate(mailbox, -1, NULL) ? mailbox_encode(mailbox) : NULL;
    if (encoded == NULL || len == 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_CONFIG, "\"%s\" is not a usable mailbox name",
                    mailbox);
        return false;
    }
    s->host = port ? g_strdup_printf("%s:%s", host, port) : g_strdup(host);
    s->server_url = g_strdup_printf("%s://%s", scheme, s->host);
    char *escaped = curl_easy_escape(NULL, encoded, 0);
    s->mailbox_url = g_strdup_printf("%s/%s", s->server_url, escaped);
    curl_free(escaped);
    s->mailbox = g_steal_pointer(&mailbox);
    s->require_tls = strcmp(scheme, "imap") == 0 && !loopback(host);
    return true;
}

ClImapSource *
cl_imap_source_new(const ClImapConfig *config, GError **error)
{
    g_return_val_if_fail(config->user != NULL, NULL);
    g_return_val_if_fail(config->password != NULL || config->bearer_token != NULL, NULL);
    curl_init_once();
    g_autoptr(ClImapSource) s = g_new0(ClImapSource, 1);
    s->lines = g_string_new(NULL);
    s->body = g_string_new(NULL);
    s->seen_by_fetch = g_hash_table_new(NULL, NULL);
    if (!parse_url(s, config->url, error))
        return NULL;
    s->user = g_strdup(config->user);
    s->password = g_strdup(config->password);
    s->bearer = g_strdup(config->bearer_token);
    s->mark = config->mark;
    s->max_bytes = config->max_message_bytes;
    s->memory_bytes = config->memory_bytes;
    if (s->mark == CL_IMAP_MARK_MOVE) {
        g_autofree char *encoded = config->move_to && *config->move_to &&
                                           g_utf8_validate(config->move_to, -1, NULL)
                                       ? mailbox_encode(config->move_to)
                                       : NULL;
        g_autofree char *mine = mailbox_encode(s->mailbox);
        /* * and % are LIST wildcards (RFC 3501 §6.3.8): the check that the
         * folder exists would find others. */
        if (encoded == NULL || strpbrk(encoded, "*%") != NULL) {
            g_set_error(error, CL_ERROR, CL_ERROR_CONFIG, "\"%s\" is not a usable folder name",
                        config->move_to ? config->move_to : "");
            return NULL;
        }
        /* INBOX is case-insensitive (RFC 3501 §5.1), other names are not. */
        if (strcmp(encoded, mine) == 0 ||
            (g_ascii_strcasecmp(encoded, "INBOX") == 0 && g_ascii_strcasecmp(mine, "INBOX") == 0)) {
            g_set_error(error, CL_ERROR, CL_ERROR_CONFIG,
                        "--move-to must name another folder than the mailbox %s", s->mailbox);
            return NULL;
        }
        s->move_to = g_strdup(config->move_to);
        s->move_to_arg = quoted(encoded);
    }
    return g_steal_pointer(&s);
}

void
cl_imap_source_close(ClImapSource *s)
{
    if (s == NULL || s->curl == NULL)
        return;
    /* Cleanup sends LOGOUT on a live connection. */
    curl_easy_cleanup(s->curl);
    s->curl = NULL;
    s->uidvalidity = 0;
    s->uidnext = 0;
    g_hash_table_remove_all(s->seen_by_fetch);
}

void
cl_imap_source_free(ClImapSource *s)
{
    if (s == NULL)
        return;
    cl_imap_source_close(s);
    g_free(s->server_url);
    g_free(s->host);
    g_free(s->mailbox);
    g_free(s->mailbox_url);
    g_free(s->user);
    wipe_free(s->password);
    wipe_free(s->bearer);
    g_free(s->move_to);
    g_free(s->move_to_arg);
    g_string_free(s->lines, TRUE);
    g_string_free(s->body, TRUE);
    g_hash_table_unref(s->seen_by_fetch);
    g_free(s);
}

const char *
cl_imap_source_mailbox(const ClImapSource *s)
{
    return s->mailbox;
}

void
cl_imap_source_set_bearer_token(ClImapSource *s, const char *token)
{
    wipe_free(s->bearer);
    s->bearer = g_strdup(token);
}

char *
cl_imap_source_origin(const ClImapSource *s, guint32 uid)
{
    return g_strdup_printf("imap:%s;UIDVALIDITY=%u;UID=%u", s->mailbox, s->uidvalidity, uid);
}

/* ---- requests ---------------------------------------------------------------------- */

static size_t
on_header(char *data, size_t size, size_t n, void *user)
{
    ClImapSource *s = user;
    g_string_append_len(s->lines, data, size * n);
    return size * n;
}

/* Keeps message bytes (LF line ends): in memory up to memory_bytes, then in a
 * spool file; past max_bytes only counted, so the rejection can say how large
 * the mail was. */
static bool
sink_keep(ClImapSource *s, Sink *k, const char *bytes, gsize len)
{
    ClRawMessage *raw = k->raw;
    raw->size += len;
    gint64 room = s->max_bytes - raw->stored;
    if (room <= 0)
        return true;
    len = MIN((gint64)len, room);
    if (raw->fd < 0 && raw->stored + (gint64)len > s->memory_bytes) {
        raw->fd = cl_store_tmp_file(k->store, &raw->spool_path, &k->error);
        if (raw->fd < 0)
            return false;
        if (!cl_write_all(raw->fd, raw->data->data, raw->data->len))
            goto failed;
        g_clear_pointer(&raw->data, g_byte_array_unref);
    }
    if (raw->fd >= 0) {
        if (!cl_write_all(raw->fd, (const guint8 *)bytes, len))
            goto failed;
    } else {
        g_byte_array_append(raw->data, (const guint8 *)bytes, len);
    }
    raw->stored += len;
    return true;
failed:
    g_set_error(&k->error, CL_ERROR, CL_ERROR_TEMPFAIL, "cannot write %s: %s", raw->spool_path,
                g_strerror(errno));
    return false;
}

/* The literal of a FETCH: CRLF becomes LF, as LMTP stores mail (session.c),
 * so that the same mail fetched and delivered has the same bytes. A CR at the
 * end of one chunk waits for the next. */
static bool
sink_write(ClImapSource *s, Sink *k, const char *data, gsize len)
{
    const char *p = data, *end = data + len;
    if (k->cr && p < end) {
        k->cr = false;
        if (*p != '\n' && !sink_keep(s, k, "\r", 1))
            return false;
    }
    while (p < end) {
        const char *cr = memchr(p, '\r', end - p);
        const char *stop = cr ? cr : end;
        if (stop > p && !sink_keep(s, k, p, stop - p))
            return false;
        if (cr == NULL)
            break;
        if (cr + 1 == end) {
            k->cr = true;
            break;
        }
        if (cr[1] != '\n' && !sink_keep(s, k, "\r", 1))
            return false;
        p = cr + 1;
    }
    return true;
}

static size_t
on_write(char *data, size_t size, size_t n, void *user)
{
    ClImapSource *s = user;
    if (s->sink == NULL) {
        /* Untagged responses of a custom command; no more than SEARCH_CHUNK UIDs. */
        g_string_append_len(s->body, data, size * n);
        return size * n;
    }
    return sink_write(s, s->sink, data, size * n) ? size * n : 0;
}

static bool
connect_handle(ClImapSource *s, GError **error)
{
    if (s->curl != NULL)
        return true;
    s->curl = curl_easy_init();
    if (s->curl == NULL) {
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "cannot start libcurl (out of memory?)");
        return false;
    }
    CURL *c = s->curl;
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "imap,imaps");
    curl_easy_setopt(c, CURLOPT_USERNAME, s->user);
    if (s->bearer != NULL)
        curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, s->bearer);
    else
        curl_easy_setopt(c, CURLOPT_PASSWORD, s->password);
    /* imaps:// is TLS from the start; imap:// beyond loopback must upgrade
     * with STARTTLS (RFC 8314 prefers the former). */
    curl_easy_setopt(c, CURLOPT_USE_SSL, (long)(s->require_tls ? CURLUSESSL_ALL : CURLUSESSL_NONE));
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, STALL_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    return true;
}

/* What the server said when it refused: the text of the last tagged NO or BAD
 * ("[TRYCREATE] Mailbox doesn't exist"), else of the last tagged response. */
static char *
server_says(const ClImapSource *s)
{
    g_auto(GStrv) lines = g_strsplit(s->lines->str, "\n", -1);
    char *last = NULL;
    for (gsize i = g_strv_length(lines); i-- > 0;) {
        char *l = g_strstrip(lines[i]);
        const char *sp = strchr(l, ' '); /* after the tag */
        if (*l == '\0' || *l == '*' || *l == '+' || sp == NULL)
            continue;
        sp++;
        if (g_str_has_prefix(sp, "NO ") || g_str_has_prefix(sp, "BAD ")) {
            g_free(last);
            return g_strdup(strchr(sp, ' ') + 1);
        }
        if (last == NULL)
            last = g_strdup(sp);
    }
    return last;
}

/* One sentence for a failed request. */
static void
request_error(ClImapSource *s, CURLcode rc, const char *what, GError **error)
{
    g_autofree char *said = server_says(s);
    g_autofree char *detail = g_strdup(*s->errbuf ? s->errbuf : curl_easy_strerror(rc));
    long os_errno = 0;
    curl_easy_getinfo(s->curl, CURLINFO_OS_ERRNO, &os_errno);
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "cannot find the IMAP server %s: %s",
                    s->host, detail);
        return;
    case CURLE_COULDNT_CONNECT:
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "cannot connect to the IMAP server %s: %s",
                    s->host, os_errno ? g_strerror((int)os_errno) : detail);
        return;
    case CURLE_OPERATION_TIMEDOUT:
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "the IMAP server %s did not answer in time",
                    s->host);
        return;
    case CURLE_LOGIN_DENIED:
        /* libcurl says so for a refused SELECT as well (its error text differs). */
        if (strstr(detail, "elect") != NULL)
            g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL,
                        "cannot open the mailbox %s at %s: %s", s->mailbox,
                        s->host, said ? said : detail);
        else
            g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL,
                        "login failed: %s refused user %s or the password: %s", s->host, s->user,
                        said ? said : detail);
        return;
    case CURLE_USE_SSL_FAILED:
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL,
                    "the IMAP server %s offers no STARTTLS, and the password must not cross the "
                    "network in the clear: use imaps://",
                    s->host);
        return;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CONNECT_ERROR:
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "no trusted TLS connection to %s: %s",
                    s->host, detail);
        return;
    case CURLE_REMOTE_FILE_NOT_FOUND:
        if (strstr(detail, "UIDVALIDITY") != NULL)
            g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL,
                        "the mailbox %s was re-created meanwhile (new UIDVALIDITY)", s->mailbox);
        else
            g_set_error(error, CL_ERROR, CL_ERROR_NOT_FOUND, "%s: the message is gone", what);
        return;
    case CURLE_QUOTE_ERROR: /* a custom command got NO or BAD */
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "the IMAP server %s refused to %s: %s",
                    s->host, what, said ? said : detail);
        return;
    default:
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "IMAP with %s failed (%s): %s", s->host,
                    what, detail);
        return;
    }
}

/*
 * Runs one command: custom (a command line of ours) on url, or — custom NULL
 * — what the URL says (a FETCH). what: for messages ("mark UID 7").
 */
static bool
request(ClImapSource *s, const char *url, const char *custom, const char *what, GError **error)
{
    if (!connect_handle(s, error))
        return false;
    g_string_truncate(s->lines, 0);
    g_string_truncate(s->body, 0);
    s->errbuf[0] = '\0';
    curl_easy_setopt(s->curl, CURLOPT_URL, url);
    curl_easy_setopt(s->curl, CURLOPT_CUSTOMREQUEST, custom);
    CURLcode rc = curl_easy_perform(s->curl);
    if (rc == CURLE_OK)
        return true;
    if (rc == CURLE_WRITE_ERROR && s->sink != NULL && s->sink->error != NULL) {
        g_propagate_error(error, g_steal_pointer(&s->sink->error));
        return false;
    }
    request_error(s, rc, what, error);
    g_debug("imap host=%s event=request-failed what=\"%s\" curl=%d", s->host, what, (int)rc);
    return false;
}

/* The mailbox URL with its UIDVALIDITY, so that libcurl refuses a re-created one. */
static char *
mailbox_url_checked(const ClImapSource *s)
{
    return g_strdup_printf("%s;UIDVALIDITY=%u", s->mailbox_url, s->uidvalidity);
}

/* ---- parsing responses -------------------------------------------------------------- */

/* The number after "[NAME " in an untagged OK of the last request, or 0. */
static guint32
response_code_number(const ClImapSource *s, const char *name)
{
    g_autofree char *needle = g_strdup_printf("[%s ", name);
    const char *p = strstr(s->lines->str, needle);
    if (p == NULL)
        return 0;
    guint64 v = g_ascii_strtoull(p + strlen(needle), NULL, 10);
    return v <= G_MAXUINT32 ? (guint32)v : 0;
}

static bool
has_capability(const char *caps, const char *name)
{
    g_auto(GStrv) words = g_strsplit_set(caps, " \r\n", -1);
    for (gsize i = 0; words[i]; i++)
        if (g_ascii_strcasecmp(words[i], name) == 0)
            return true;
    return false;
}

/* May messages of the selected mailbox carry our keyword (RFC 3501 §7.1)? */
static bool
keyword_allowed(const ClImapSource *s)
{
    const char *p = strstr(s->lines->str, "[PERMANENTFLAGS (");
    if (p == NULL)
        return true; /* not sent: every flag is permanent (RFC 3501 §7.1) */
    p += strlen("[PERMANENTFLAGS (");
    const char *end = strchr(p, ')');
    g_autofree char *flags = g_strndup(p, end ? (gsize)(end - p) : strlen(p));
    return has_capability(flags, "\\*") || has_capability(flags, CAPTURED_KEYWORD);
}

static bool
select_read_only(const ClImapSource *s)
{
    g_auto(GStrv) lines = g_strsplit(s->lines->str, "\n", -1);
    for (gsize i = 0; lines[i]; i++)
        if (lines[i][0] != '*' && strstr(lines[i], " OK [READ-ONLY]") != NULL)
            return true;
    return false;
}

/* The UIDs of "* SEARCH 3 5 9" lines. */
static void
parse_search(const char *body, GArray *uids)
{
    g_auto(GStrv) lines = g_strsplit(body, "\n", -1);
    for (gsize i = 0; lines[i]; i++) {
        if (g_ascii_strncasecmp(lines[i], "* SEARCH", 8) != 0)
            continue;
        g_auto(GStrv) words = g_strsplit_set(lines[i] + 8, " \r", -1);
        for (gsize w = 0; words[w]; w++) {
            guint64 v = 0;
            if (*words[w] && g_ascii_string_to_unsigned(words[w], 10, 1, G_MAXUINT32, &v, NULL)) {
                guint32 uid = (guint32)v;
                g_array_append_val(uids, uid);
            }
        }
    }
}

static gint
cmp_uid(gconstpointer a, gconstpointer b)
{
    guint32 x = *(const guint32 *)a, y = *(const guint32 *)b;
    return x < y ? -1 : x > y;
}

/* ---- the pass ------------------------------------------------------------------------ */

/* --move-to: the folder exists, or is made (RFC 3501 §6.3.3 CREATE). Once per source. */
static bool
ensure_folder(ClImapSource *s, GError **error)
{
    if (s->mark != CL_IMAP_MARK_MOVE || s->folder_ready)
        return true;
    g_autofree char *root = g_strdup_printf("%s/", s->server_url);
    g_autofree char *list = g_strdup_printf("LIST \"\" %s", s->move_to_arg);
    if (!request(s, root, list, "list the folder", error))
        return false;
    if (strstr(s->body->str, "* LIST") == NULL) {
        g_autofree char *create = g_strdup_printf("CREATE %s", s->move_to_arg);
        g_autofree char *what = g_strdup_printf("create the folder %s", s->move_to);
        if (!request(s, root, create, what, error))
            return false;
        g_info("imap host=%s event=folder-created", s->host);
    }
    s->folder_ready = true;
    return true;
}

static bool
search_range(ClImapSource *s, const char *url, const char *range, GArray *uids, GError **error)
{
    g_autofree char *search =
        g_strdup_printf("UID SEARCH UID %s UNDELETED UNKEYWORD " CAPTURED_KEYWORD, range);
    if (!request(s, url, search, "search the mailbox", error))
        return false;
    parse_search(s->body->str, uids);
    return true;
}

GArray *
cl_imap_source_pending(ClImapSource *s, GError **error)
{
    /* Connect and log in without selecting: a failure here is the server or
     * the login, not the mailbox. CAPABILITY after login lists what the
     * server offers an authenticated user (RFC 3501 §6.1.1). */
    g_autofree char *root = g_strdup_printf("%s/", s->server_url);
    if (!request(s, root, "CAPABILITY", "list its capabilities", error))
        return NULL;
    s->has_move = has_capability(s->body->str, "MOVE");
    s->has_uidplus = has_capability(s->body->str, "UIDPLUS");
    if (!ensure_folder(s, error))
        return NULL;

    /* SELECT (by libcurl, for the mailbox URL), then a NOOP of ours. */
    if (!request(s, s->mailbox_url, "NOOP", "open the mailbox", error))
        return NULL;
    s->uidvalidity = response_code_number(s, "UIDVALIDITY");
    s->uidnext = response_code_number(s, "UIDNEXT");
    if (s->uidvalidity == 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL,
                    "the IMAP server %s sent no UIDVALIDITY for %s", s->host, s->mailbox);
        return NULL;
    }
    if (select_read_only(s)) {
        g_set_error(error, CL_ERROR, CL_ERROR_CONFIG,
                    "the mailbox %s is read-only for user %s: contactlog must mark what it "
                    "captured",
                    s->mailbox, s->user);
        return NULL;
    }
    if (s->mark == CL_IMAP_MARK_FLAG && !keyword_allowed(s)) {
        /* Exchange Online keeps no keywords: marking would be forgotten and
         * every pass would fetch everything again. */
        g_set_error(error, CL_ERROR, CL_ERROR_CONFIG,
                    "the IMAP server %s keeps no keywords in %s (PERMANENTFLAGS), so captured "
                    "mail cannot be marked there: use --move-to FOLDER or --delete",
                    s->host, s->mailbox);
        return NULL;
    }

    g_autofree char *url = mailbox_url_checked(s);
    g_autoptr(GArray) uids = g_array_new(FALSE, FALSE, sizeof(guint32));
    if (s->uidnext == 0) /* the server named no UIDNEXT: one search */
        return search_range(s, url, "1:*", uids, error) ? g_steal_pointer(&uids) : NULL;
    /* In ranges of UIDs, for libcurl's limit on response lines (see above). */
    for (guint64 lo = 1; lo < s->uidnext; lo += SEARCH_CHUNK) {
        guint64 hi = MIN(lo + SEARCH_CHUNK - 1, (guint64)s->uidnext - 1);
        g_autofree char *range =
            g_strdup_printf("%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT, lo, hi);
        if (!search_range(s, url, range, uids, error))
            return NULL;
    }
    g_array_sort(uids, cmp_uid);
    return g_steal_pointer(&uids);
}

/* Did the fetch set \Seen? RFC 3501 §6.4.5: the server SHOULD then send the
 * changed FLAGS with the FETCH response ("* 2 FETCH (UID 7 FLAGS (\Seen) BODY[] {136}"). */
static bool
fetch_set_seen(const ClImapSource *s)
{
    const char *f = strstr(s->lines->str, " FETCH (");
    const char *flags = f ? strstr(f, "FLAGS (") : NULL;
    if (flags == NULL)
        return false;
    flags += strlen("FLAGS (");
    const char *end = strchr(flags, ')');
    g_autofree char *list = g_strndup(flags, end ? (gsize)(end - flags) : strlen(flags));
    return has_capability(list, "\\Seen");
}

ClRawMessage *
cl_imap_source_fetch(ClImapSource *s, ClStore *store, guint32 uid, GError **error)
{
    g_return_val_if_fail(s->uidvalidity != 0, NULL);
    g_autoptr(ClRawMessage) raw = g_new0(ClRawMessage, 1);
    raw->fd = -1;
    raw->data = g_byte_array_new();
    raw->origin = cl_imap_source_origin(s, uid);
    raw->limit = s->max_bytes;
    Sink sink = { .store = store, .raw = raw };
    g_autofree char *url = g_strdup_printf("%s;UIDVALIDITY=%u/;UID=%u", s->mailbox_url,
                                           s->uidvalidity, uid);
    g_autofree char *what = g_strdup_printf("fetch UID %u", uid);
    s->sink = &sink;
    bool ok = request(s, url, NULL, what, error);
    s->sink = NULL;
    g_clear_error(&sink.error);
    if (!ok)
        return NULL;
    if (fetch_set_seen(s))
        g_hash_table_add(s->seen_by_fetch, GUINT_TO_POINTER(uid));
    if (sink.cr && !sink_keep(s, &sink, "\r", 1)) {
        g_propagate_error(error, sink.error);
        return NULL;
    }
    if (cl_raw_message_too_large(raw) && raw->fd < 0) {
        /* The pipeline reads the head of a too-large mail from its file, to
         * name sender and subject in the rejection: give it one. */
        raw->fd = cl_store_tmp_file(store, &raw->spool_path, error);
        if (raw->fd < 0)
            return NULL;
        if (!cl_write_all(raw->fd, raw->data->data, raw->data->len)) {
            g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "cannot write %s: %s",
                        raw->spool_path, g_strerror(errno));
            return NULL;
        }
        g_clear_pointer(&raw->data, g_byte_array_unref);
    }
    return g_steal_pointer(&raw);
}

/* Expunges one \Deleted message: UID EXPUNGE (RFC 4315) when offered, else
 * EXPUNGE, which also removes what others marked \Deleted in the mailbox. */
static bool
expunge(ClImapSource *s, const char *url, guint32 uid, GError **error)
{
    g_autofree char *cmd = s->has_uidplus ? g_strdup_printf("UID EXPUNGE %u", uid)
                                          : g_strdup("EXPUNGE");
    g_autofree char *what = g_strdup_printf("expunge UID %u", uid);
    return request(s, url, cmd, what, error);
}

bool
cl_imap_source_mark(ClImapSource *s, guint32 uid, GError **error)
{
    g_return_val_if_fail(s->uidvalidity != 0, false);
    g_autofree char *url = mailbox_url_checked(s);
    g_autofree char *what = g_strdup_printf("mark UID %u as captured", uid);
    g_hash_table_remove(s->seen_by_fetch, GUINT_TO_POINTER(uid));
    switch (s->mark) {
    case CL_IMAP_MARK_FLAG: {
        g_autofree char *cmd = g_strdup_printf(
            "UID STORE %u +FLAGS.SILENT (\\Seen " CAPTURED_KEYWORD ")", uid);
        return request(s, url, cmd, what, error);
    }
    case CL_IMAP_MARK_MOVE: {
        if (s->has_move) {
            /* RFC 6851: atomic, and no \Deleted copy is left behind. */
            g_autofree char *cmd = g_strdup_printf("UID MOVE %u %s", uid, s->move_to_arg);
            return request(s, url, cmd, what, error);
        }
        g_autofree char *copy = g_strdup_printf("UID COPY %u %s", uid, s->move_to_arg);
        g_autofree char *del =
            g_strdup_printf("UID STORE %u +FLAGS.SILENT (\\Seen \\Deleted)", uid);
        /* Copied but not deleted (the connection broke): the next pass copies
         * it again and the pipeline answers duplicate. */
        return request(s, url, copy, what, error) && request(s, url, del, what, error) &&
               expunge(s, url, uid, error);
    }
    case CL_IMAP_MARK_DELETE: {
        g_autofree char *del =
            g_strdup_printf("UID STORE %u +FLAGS.SILENT (\\Seen \\Deleted)", uid);
        return request(s, url, del, what, error) && expunge(s, url, uid, error);
    }
    }
    g_assert_not_reached();
}

bool
cl_imap_source_release(ClImapSource *s, guint32 uid, GError **error)
{
    if (!g_hash_table_remove(s->seen_by_fetch, GUINT_TO_POINTER(uid)))
        return true; /* it was seen before: leave it so */
    g_autofree char *url = mailbox_url_checked(s);
    g_autofree char *cmd = g_strdup_printf("UID STORE %u -FLAGS.SILENT (\\Seen)", uid);
    g_autofree char *what = g_strdup_printf("clear \\Seen of UID %u", uid);
    return request(s, url, cmd, what, error);
}
