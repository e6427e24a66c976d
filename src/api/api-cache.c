/*
 * api-cache.c — answers kept in memory: the pages of company, lead and
 * project histories, the API's most read and least changing answers (every
 * user of a tenant reads them; the web UI asks again when it comes back).
 * Stage: API.
 *
 * Correctness over cleverness: one generation number for the whole process,
 * moved on whenever anything was committed — by an HTTP thread, the mail
 * server, an import in another process. Each request first asks the database
 * connection it was given whether anything was committed since that
 * connection last asked (cl_store_changed: SQLite's data_version, which moves
 * with every commit of any other connection, and the connection's own
 * changes; asked only when SQLite's wal-index header moved, db-sqlite.c);
 * a yes moves the generation on and empties the cache. Every
 * connection sees every commit at its first question after it, so a request
 * that began after a commit gets a generation moved on after that commit: a
 * kept page is served only while nothing at all has been committed since it
 * was made. A commit may move the generation once per connection (the cache
 * then fills again); the question itself takes no lock, so that the threads
 * do not queue on one connection. Coarse (a mail of another tenant empties
 * the cache too), but it cannot serve stale pages. A page's ETag is a hash
 * of its bytes (If-None-Match → 304).
 */
#include "api-private.h"

#include <sodium.h>
#include <string.h>

#define CACHE_MAX_BYTES (32 * 1024 * 1024)
#define CACHE_MAX_PAGE (2 * 1024 * 1024)

#define USER_SECONDS 10 /* who a token or cookie is, kept this long at most */

typedef struct {
    GBytes *body;
    GBytes *gzip; /* made when a client first asks for it, or NULL */
    char *etag;   /* of the body (api_page_etag) */
    gint64 generation;
} Kept;

typedef struct {
    ApiCredential kind; /* what the hash is of: kept apart, and checked again */
    ClUser *user;
    char *csrf;         /* a session's; NULL for a token */
    gint64 seen;
    gint64 generation;
    gint64 until;   /* monotonic µs */
    gint64 expires; /* when the session or token ends, Unix seconds; 0: never */
} KeptUser;

static void
kept_user_free(KeptUser *k)
{
    cl_user_free(k->user);
    g_free(k->csrf);
    g_free(k);
}

static void
kept_free(Kept *k)
{
    g_bytes_unref(k->body);
    if (k->gzip != NULL)
        g_bytes_unref(k->gzip);
    g_free(k->etag);
    g_free(k);
}

struct ApiCache {
    GMutex lock;
    GHashTable *pages; /* key → Kept */
    GHashTable *users; /* "t:" or "s:" + hash of a token or cookie → KeptUser */
    gsize bytes;
    gint64 generation;
};

ApiCache *
api_cache_new(void)
{
    ApiCache *c = g_new0(ApiCache, 1);
    g_mutex_init(&c->lock);
    c->pages = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)kept_free);
    c->users = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                     (GDestroyNotify)kept_user_free);
    return c;
}

void
api_cache_free(ApiCache *c)
{
    if (c == NULL)
        return;
    g_hash_table_unref(c->pages);
    g_hash_table_unref(c->users);
    g_mutex_clear(&c->lock);
    g_free(c);
}

gint64
api_cache_generation(ApiCache *c, ClStore *store)
{
    /* Outside the lock: the connection is this request's alone. */
    bool changed = cl_store_changed(store);
    g_mutex_lock(&c->lock);
    if (changed) {
        c->generation++;
        /* Nothing kept before can be served again: a revoked token, a
         * deactivated user, an entry changed — all were commits. */
        g_hash_table_remove_all(c->pages);
        g_hash_table_remove_all(c->users);
        c->bytes = 0;
    }
    gint64 g = c->generation;
    g_mutex_unlock(&c->lock);
    return g;
}

char *
api_page_etag(GBytes *body)
{
    /* Of the page's bytes: it changes when the page does, and only then —
     * not with every commit, which would tell one tenant when another
     * writes, and would answer 200 where 304 is true. */
    guint8 hash[16];
    gsize len = 0;
    const guint8 *data = g_bytes_get_data(body, &len);
    crypto_generichash(hash, sizeof hash, data, len, NULL, 0);
    char b64[sodium_base64_ENCODED_LEN(sizeof hash, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(b64, sizeof b64, hash, sizeof hash, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return g_strdup_printf("\"%s\"", b64);
}

GBytes *
api_cache_lookup(ApiCache *c, const char *key, gint64 generation, GBytes **gzip_out,
                 char **etag_out)
{
    GBytes *body = NULL;
    *gzip_out = NULL;
    g_mutex_lock(&c->lock);
    Kept *k = g_hash_table_lookup(c->pages, key);
    if (k != NULL && k->generation == generation) {
        body = g_bytes_ref(k->body);
        if (k->gzip != NULL)
            *gzip_out = g_bytes_ref(k->gzip);
        *etag_out = g_strdup(k->etag);
    }
    g_mutex_unlock(&c->lock);
    return body;
}

static gsize
kept_size(const Kept *k)
{
    return g_bytes_get_size(k->body) + (k->gzip ? g_bytes_get_size(k->gzip) : 0);
}

void
api_cache_store(ApiCache *c, const char *key, gint64 generation, GBytes *body, GBytes *gzip,
                const char *etag)
{
    gsize size = g_bytes_get_size(body) + (gzip ? g_bytes_get_size(gzip) : 0);
    if (size > CACHE_MAX_PAGE)
        return;
    g_mutex_lock(&c->lock);
    if (generation == c->generation) {
        Kept *old = g_hash_table_lookup(c->pages, key);
        if (old != NULL && old->body == body) {
            /* The same page: only its gzip form is new. */
            if (gzip != NULL && old->gzip == NULL &&
                c->bytes + g_bytes_get_size(gzip) <= CACHE_MAX_BYTES) {
                old->gzip = g_bytes_ref(gzip);
                c->bytes += g_bytes_get_size(gzip);
            }
            g_mutex_unlock(&c->lock);
            return;
        }
        if (old != NULL)
            c->bytes -= kept_size(old);
        if (c->bytes + size > CACHE_MAX_BYTES) {
            /* Bounded: start afresh rather than keep a list of ages. */
            g_hash_table_remove_all(c->pages);
            c->bytes = 0;
        }
        Kept *k = g_new0(Kept, 1);
        k->body = g_bytes_ref(body);
        k->gzip = gzip ? g_bytes_ref(gzip) : NULL;
        k->etag = g_strdup(etag);
        k->generation = generation;
        g_hash_table_replace(c->pages, g_strdup(key), k);
        c->bytes += size;
    }
    g_mutex_unlock(&c->lock);
}

/* Tokens and session cookies are both known by the hash of their secret, but
 * one is never the other: a token sent as a cookie must not find the token's
 * entry (it has no CSRF token), nor a cookie sent as a token the session's
 * (which would spare it the CSRF check). Each kind has keys of its own. */
static char *
user_key(ApiCredential kind, const char *hash)
{
    return g_strconcat(kind == API_CREDENTIAL_TOKEN ? "t:" : "s:", hash, NULL);
}

bool
api_cache_user(ApiCache *c, ApiCredential kind, const char *hash, gint64 generation,
               ClUser **user_out, char **csrf_out, gint64 *seen_out)
{
    bool hit = false;
    g_autofree char *key = user_key(kind, hash);
    g_mutex_lock(&c->lock);
    KeptUser *k = g_hash_table_lookup(c->users, key);
    /* Expiry is no commit: the generation does not tell of it. */
    if (k != NULL && k->kind == kind && k->generation == generation &&
        g_get_monotonic_time() < k->until &&
        (k->expires == 0 || g_get_real_time() / G_USEC_PER_SEC < k->expires) &&
        (kind == API_CREDENTIAL_TOKEN || k->csrf != NULL)) {
        *user_out = cl_user_copy(k->user);
        if (csrf_out)
            *csrf_out = g_strdup(k->csrf);
        if (seen_out)
            *seen_out = k->seen;
        hit = true;
    }
    g_mutex_unlock(&c->lock);
    return hit;
}

void
api_cache_keep_user(ApiCache *c, ApiCredential kind, const char *hash, gint64 generation,
                    const ClUser *user, const char *csrf, gint64 seen, gint64 expires)
{
    g_autofree char *key = user_key(kind, hash);
    g_mutex_lock(&c->lock);
    if (generation == c->generation) {
        if (g_hash_table_size(c->users) > 10000)
            g_hash_table_remove_all(c->users);
        KeptUser *k = g_new0(KeptUser, 1);
        k->kind = kind;
        k->user = cl_user_copy(user);
        k->csrf = g_strdup(csrf);
        k->seen = seen;
        k->expires = expires;
        k->generation = generation;
        k->until = g_get_monotonic_time() + USER_SECONDS * G_USEC_PER_SEC;
        g_hash_table_replace(c->users, g_steal_pointer(&key), k);
    }
    g_mutex_unlock(&c->lock);
}
