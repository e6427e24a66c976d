/*
 * api-web.c — the web UI's files (web/: HTML, JavaScript modules, CSS,
 * translations), served from the directory installed with contactlog.
 * Nothing is fetched from elsewhere at run time; the Content-Security-Policy
 * allows this origin's scripts and styles only. Stage: API.
 */
#include "api-private.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The policy of the UI's pages: no inline script, nothing from elsewhere. */
#define WEB_CSP                                                                                \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"           \
    " connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none';"              \
    " form-action 'self'; frame-ancestors 'none'"

static const struct {
    const char *suffix, *type;
} types[] = {
    { ".html", "text/html; charset=utf-8" },
    { ".js", "text/javascript; charset=utf-8" },
    { ".mjs", "text/javascript; charset=utf-8" },
    { ".css", "text/css; charset=utf-8" },
    { ".json", "application/json" },
    { ".svg", "image/svg+xml" },
    { ".png", "image/png" },
    { ".ico", "image/x-icon" },
    { ".woff2", "font/woff2" },
    { ".txt", "text/plain; charset=utf-8" },
};

static const char *
type_of(const char *path)
{
    for (gsize i = 0; i < G_N_ELEMENTS(types); i++)
        if (g_str_has_suffix(path, types[i].suffix))
            return types[i].type;
    return NULL;
}

void
api_web_file(Request *r)
{
    const char *root = api_web_root(r->api);
    if (root == NULL) {
        api_reply_problem(r, 404, "not-found", "the web UI is not installed");
        return;
    }
    /* Only plain names below the root: no "..", no hidden files. */
    const char *rel = r->path + 1;
    bool plain = strlen(rel) < 200;
    for (const char *p = rel; plain && *p; p++)
        plain = g_ascii_isalnum(*p) || strchr("-_./", *p) != NULL;
    if (plain && (strstr(rel, "..") || strstr(rel, "/.") || *rel == '.' || strstr(rel, "//")))
        plain = false;
    const char *type = plain && *rel ? type_of(rel) : NULL;
    /* Everything that is not a file of the UI is one of its pages: index.html routes. */
    g_autofree char *path = g_build_filename(root, type ? rel : "index.html", NULL);
    if (type == NULL)
        type = "text/html; charset=utf-8";
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        api_reply_problem(r, 404, "not-found", "no such file: %s", r->path);
        return;
    }
    struct MHD_Response *resp = MHD_create_response_from_fd64((uint64_t)st.st_size, fd);
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    if (g_str_has_prefix(type, "text/html"))
        MHD_add_response_header(resp, "Content-Security-Policy", WEB_CSP);
    api_reply_response(r, 200, resp);
}
