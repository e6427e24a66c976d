/*
 * bench-http-ceiling.c — the ceiling of contactlog's HTTP stack for bench/http:
 * libmicrohttpd with the flags and options of src/api/api.c (its own polling
 * threads, epoll, a pool of N threads, 4096 connections, 120 s timeout, the
 * listening socket made the same way) answering every request with the same
 * 300-byte JSON body, and nothing else: no routing, no authentication, no
 * database, no JSON encoding. Like the API it answers in the second call of the
 * request callback and adds the same five response headers.
 *
 *     bench-http-ceiling [-t THREADS] [-l HOST:PORT] [-s BYTES]
 *
 * THREADS defaults to 4 (http.threads); HOST:PORT to 127.0.0.1:0 (any free
 * port); BYTES (the size of the JSON body) to 300 — bench/http also runs it with
 * the size of a history page, to tell the cost of the bytes from the cost of
 * making them. Prints "bench-http-ceiling: listening: http 127.0.0.1:PORT …"
 * once it accepts, then serves until SIGTERM or SIGINT.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#define BODY_MIN 128

static char *body;
static size_t body_bytes = 300;

/* A JSON object of exactly body_bytes bytes, shaped like an API answer. */
static void
make_body(void)
{
    const char *head = "{\"items\":[{\"id\":1,\"state\":\"saved\",\"channel\":\"email\","
                       "\"subject\":\"Lead 70001 Abstimmung\",\"preview\":\"";
    const char *tail = "\"}],\"next_cursor\":null}";
    size_t fill = body_bytes - strlen(head) - strlen(tail);
    body = malloc(body_bytes + 1);
    if (body == NULL)
        abort();
    char *p = body;
    p = stpcpy(p, head);
    memset(p, 'x', fill);
    p += fill;
    p = stpcpy(p, tail);
    *p = '\0';
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    static int first_call_marker;
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    if (*con_cls == NULL) {
        /* The API finds route and user here and answers in the next call. */
        *con_cls = &first_call_marker;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        *upload_data_size = 0; /* a body is read and ignored */
        return MHD_YES;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(body_bytes, body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'none'; frame-ancestors 'none'");
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    *con_cls = NULL;
}

static int
listen_on(const char *spec, char *bound, size_t bound_len)
{
    const char *colon = strrchr(spec, ':');
    if (colon == NULL || colon == spec) {
        fprintf(stderr, "bench-http-ceiling: -l wants HOST:PORT, not %s\n", spec);
        return -1;
    }
    char host[256];
    snprintf(host, sizeof host, "%.*s", (int)(colon - spec), spec);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(*host ? host : NULL, colon + 1, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "bench-http-ceiling: %s: %s\n", spec, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        fprintf(stderr, "bench-http-ceiling: %s: %s\n", spec, strerror(errno));
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    char name[INET6_ADDRSTRLEN + 1] = "";
    if (ss.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, name, sizeof name);
        snprintf(bound, bound_len, "[%s]:%d", name, ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
    } else {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, name, sizeof name);
        snprintf(bound, bound_len, "%s:%d", name, ntohs(((struct sockaddr_in *)&ss)->sin_port));
    }
    return fd;
}

int
main(int argc, char **argv)
{
    unsigned threads = 4;
    const char *spec = "127.0.0.1:0";
    int opt;
    while ((opt = getopt(argc, argv, "t:l:s:h")) != -1) {
        switch (opt) {
        case 't':
            threads = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'l':
            spec = optarg;
            break;
        case 's':
            body_bytes = (size_t)strtoul(optarg, NULL, 10);
            break;
        default:
            fprintf(stderr, "usage: bench-http-ceiling [-t THREADS] [-l HOST:PORT] [-s BYTES]\n");
            return opt == 'h' ? 0 : 64;
        }
    }
    if (threads < 1)
        threads = 1;
    if (body_bytes < BODY_MIN)
        body_bytes = BODY_MIN;
    make_body();

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* the daemon's threads inherit the mask */
    signal(SIGPIPE, SIG_IGN);

    char bound[INET6_ADDRSTRLEN + 16];
    int fd = listen_on(spec, bound, sizeof bound);
    if (fd < 0)
        return 75;
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        on_request, NULL, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)120, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "bench-http-ceiling: cannot start the HTTP server on %s\n", bound);
        return 75;
    }
    printf("bench-http-ceiling: listening: http %s (%u threads, %zu-byte body)\n", bound, threads,
           body_bytes);
    fflush(stdout);
    int sig = 0;
    sigwait(&sigs, &sig);
    MHD_stop_daemon(d);
    free(body);
    return 0;
}
