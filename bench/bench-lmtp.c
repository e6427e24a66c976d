/*
 * bench-lmtp.c — an LMTP load client that measures acknowledgement latency
 * (bench/lmtp). Postfix's smtp-source gives the rate but not the latency of
 * each message; this client keeps C connections open (as Postfix's LMTP
 * client does with connection caching) and sends N messages of SIZE bytes in
 * all, each with its own Message-ID, timing each from the last byte of the
 * message to the reply after the final dot.
 *
 * usage: bench-lmtp HOST:PORT|unix:PATH -c CONC -n COUNT -s SIZE -f FROM -t TO [-x TAG]
 * Prints one JSON line: messages, failed, seconds, rate, p50_ms, p90_ms, p99_ms, max_ms.
 */
#include <errno.h>
#include <glib.h>
#include <netdb.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

typedef struct {
    const char *address, *from, *to, *tag;
    int size;
    gint next;       /* messages handed out (atomic) */
    int count;
    double *latency; /* ms per message */
    gint failed;
} Plan;

static int
connect_to(const char *address)
{
    if (g_str_has_prefix(address, "unix:")) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        g_strlcpy(sa.sun_path, address + 5, sizeof sa.sun_path);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
            return fd;
        if (fd >= 0)
            close(fd);
        return -1;
    }
    g_autofree char *host = g_strdup(address);
    char *colon = strrchr(host, ':');
    if (colon == NULL)
        return -1;
    *colon = '\0';
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
        return -1;
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

typedef struct {
    int fd;
    char buf[8192];
    size_t len, pos;
} Conn;

/* One reply line's code (the last line of a multi-line reply), or -1. */
static int
read_reply(Conn *c)
{
    for (;;) {
        char *nl = c->pos < c->len ? memchr(c->buf + c->pos, '\n', c->len - c->pos) : NULL;
        if (nl != NULL) {
            char *line = c->buf + c->pos;
            c->pos = (size_t)(nl - c->buf) + 1;
            if (nl - line >= 3 && line[3] == '-')
                continue;
            return atoi(line);
        }
        if (c->pos > 0) {
            memmove(c->buf, c->buf + c->pos, c->len - c->pos);
            c->len -= c->pos;
            c->pos = 0;
        }
        if (c->len == sizeof c->buf)
            return -1;
        ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
        if (n <= 0)
            return -1;
        c->len += (size_t)n;
    }
}

static bool
send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* A German business mail of about `size` bytes with its own Message-ID. */
static GString *
message(const Plan *p, int i)
{
    GString *m = g_string_new(NULL);
    g_string_append_printf(m,
                           "From: Bench Sender <%s>\r\nTo: Jürgen Müller <j.mueller@acme-maschinen.example>\r\n"
                           "Subject: Lead 11111 Rückfrage Nr. %d\r\nMessage-ID: <%s-%d@bench.contactlog.example>\r\n"
                           "Date: Fri, 04 Dec 2026 09:00:00 +0100\r\nMIME-Version: 1.0\r\n"
                           "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                           "Sehr geehrter Herr Müller,\r\n\r\n",
                           p->from, i, p->tag, i);
    static const char line[] = "vielen Dank für das Gespräch; anbei die Punkte, die wir besprochen haben.\r\n";
    while ((int)m->len + (int)sizeof line < p->size)
        g_string_append(m, line);
    g_string_append(m, "Mit freundlichen Grüßen\r\n.\r\n");
    return m;
}

/* The messages of one connection; false when the session broke. */
static bool
session(Plan *p, Conn *c)
{
    const char *lhlo = "LHLO bench.contactlog.example\r\n";
    if (read_reply(c) != 220 || !send_all(c->fd, lhlo, strlen(lhlo)) || read_reply(c) != 250)
        return false;
    g_autofree char *envelope =
        g_strdup_printf("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n", p->from, p->to);
    for (;;) {
        int i = g_atomic_int_add(&p->next, 1);
        if (i >= p->count)
            break;
        g_autoptr(GString) m = message(p, i);
        /* PIPELINING: MAIL, RCPT and DATA in one write (RFC 2920). */
        if (!send_all(c->fd, envelope, strlen(envelope)) || read_reply(c) != 250 ||
            read_reply(c) != 250 || read_reply(c) != 354 || !send_all(c->fd, m->str, m->len))
            return false;
        gint64 t0 = g_get_monotonic_time();
        int code = read_reply(c);
        p->latency[i] = (g_get_monotonic_time() - t0) / 1000.0;
        if (code < 0)
            return false;
        if (code != 250)
            g_atomic_int_inc(&p->failed);
    }
    send_all(c->fd, "QUIT\r\n", 6);
    read_reply(c);
    return true;
}

static gpointer
worker(gpointer data)
{
    Plan *p = data;
    Conn c = { .fd = connect_to(p->address) };
    if (c.fd < 0 || !session(p, &c)) {
        fprintf(stderr, "bench-lmtp: session with %s broken\n", p->address);
        g_atomic_int_inc(&p->failed);
    }
    if (c.fd >= 0)
        close(c.fd);
    return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
    Plan p = { .from = "anna.berg@alpha-agentur.example", .to = "crm@contactlog.example",
               .tag = "bench", .size = 10240, .count = 1000 };
    int conc = 1;
    int opt;
    while ((opt = getopt(argc, argv, "c:n:s:f:t:x:")) != -1) {
        switch (opt) {
        case 'c': conc = atoi(optarg); break;
        case 'n': p.count = atoi(optarg); break;
        case 's': p.size = atoi(optarg); break;
        case 'f': p.from = optarg; break;
        case 't': p.to = optarg; break;
        case 'x': p.tag = optarg; break;
        default:
            fprintf(stderr, "usage: bench-lmtp HOST:PORT|unix:PATH -c CONC -n COUNT -s SIZE -f FROM -t TO [-x TAG]\n");
            return 2;
        }
    }
    if (optind >= argc || conc < 1 || p.count < 1) {
        fprintf(stderr, "usage: bench-lmtp HOST:PORT|unix:PATH -c CONC -n COUNT -s SIZE -f FROM -t TO [-x TAG]\n");
        return 2;
    }
    p.address = argv[optind];
    p.latency = g_new0(double, p.count);
    GThread **threads = g_new0(GThread *, conc);
    gint64 t0 = g_get_monotonic_time();
    for (int i = 0; i < conc; i++)
        threads[i] = g_thread_new("client", worker, &p);
    for (int i = 0; i < conc; i++)
        g_thread_join(threads[i]);
    double secs = (g_get_monotonic_time() - t0) / 1e6;
    int done = MIN(p.next, p.count);
    qsort(p.latency, done, sizeof(double), cmp_double);
#define PCT(q) (done ? p.latency[MIN(done - 1, (int)((q) * done))] : 0.0)
    printf("{\"messages\": %d, \"failed\": %d, \"concurrency\": %d, \"seconds\": %.3f, "
           "\"rate\": %.1f, \"p50_ms\": %.3f, \"p90_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f}\n",
           done, p.failed, conc, secs, done / secs, PCT(0.50), PCT(0.90), PCT(0.99),
           done ? p.latency[done - 1] : 0.0);
    g_free(p.latency);
    g_free(threads);
    return p.failed ? 1 : 0;
}
