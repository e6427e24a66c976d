/*
 * db-sqlite.c — the SQLite implementation of db.h. WAL journal, foreign keys,
 * a busy timeout, and synchronous=FULL when the configuration asks for
 * durability (every COMMIT is on disk before we acknowledge a mail).
 */
#include "db.h"

#include <fcntl.h>
#include <jansson.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 5000
/* The log file is reused from its start once everything in it was copied; a
 * steady stream of mail can grow it first (30-50 MB for 7,000 mails in the
 * LMTP benchmark). When it starts again, SQLite cuts it back to this size. */
#define WAL_KEEP_BYTES (64 * 1024 * 1024)
#define WAL_INDEX_REGION 32768     /* the size of a region of the wal-index (-shm) */
#define WAL_INDEX_VERSION 3007000u /* the wal-index format's version, its first 4 bytes */

struct ClDb {
    sqlite3 *handle;
    GHashTable *cache; /* const char *sql (by address) → ClDbStmt * */
    guint fail_after;  /* test hook */
    gint wal_pages;    /* pages in the log after the last commit, when watched */
    bool seen;         /* cl_db_changed() was called before */
    gint64 data_version, total_changes;
    const guint8 *shm; /* the wal-index header in SQLite's mapping; MAP_FAILED: none */
    bool shm_seen_set;
    guint8 shm_seen[48]; /* the header as it was before the last PRAGMA data_version */
    struct Writer *writer; /* shared by this process's connections to the same file */
    bool writing;          /* this connection holds it */
    bool background;       /* lets every other writer of the process go first */
};

/* The writers of one process queue here, not in SQLite's busy handler.
 *
 * serve writes from several connections at once (the storing thread, the
 * search indexer, the HTTP threads). When one of them met another's write
 * lock, SQLite's busy handler slept — 1 ms at first, then 2, 5, 10 —
 * however short the other's transaction was: a mail's acknowledgement took
 * 0.6 ms, and whenever the indexer came between two mails, 1.6 ms or more.
 * A condition variable wakes the next writer the moment the lock is free.
 * Other processes (an import, the CLI) still meet at SQLite's lock, with its
 * busy timeout; a thread that would wait for itself (a second connection
 * inside its own transaction) is told "busy" at once instead of hanging.
 * A background connection (serve's search indexer) waits while any other
 * writer of the process waits: mail to acknowledge goes first. */
typedef struct Writer {
    GMutex lock;
    GCond free;
    GThread *owner; /* NULL when free */
    int waiting;    /* writers waiting that are not in the background */
} Writer;

static GMutex writers_lock;
static GHashTable *writers; /* canonical path → Writer (never freed: a few per process) */

static Writer *
writer_for(const char *path)
{
    if (strcmp(path, ":memory:") == 0 || *path == '\0')
        return NULL;
    g_autofree char *key = g_canonicalize_filename(path, NULL);
    g_mutex_lock(&writers_lock);
    if (writers == NULL)
        writers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    Writer *w = g_hash_table_lookup(writers, key);
    if (w == NULL) {
        w = g_new0(Writer, 1);
        g_mutex_init(&w->lock);
        g_cond_init(&w->free);
        g_hash_table_insert(writers, g_steal_pointer(&key), w);
    }
    g_mutex_unlock(&writers_lock);
    return w;
}

static bool
writer_take(ClDb *db, GError **error)
{
    Writer *w = db->writer;
    if (w == NULL)
        return true;
    GThread *self = g_thread_self();
    gint64 until = g_get_monotonic_time() + (gint64)BUSY_TIMEOUT_MS * 1000;
    g_mutex_lock(&w->lock);
    if (!db->background)
        w->waiting++;
    while (w->owner != NULL || (db->background && w->waiting > 0)) {
        if (w->owner == self || !g_cond_wait_until(&w->free, &w->lock, until)) {
            if (!db->background)
                w->waiting--;
            g_mutex_unlock(&w->lock);
            g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL,
                        "database: begin: database is locked");
            return false;
        }
    }
    if (!db->background)
        w->waiting--;
    w->owner = self;
    g_mutex_unlock(&w->lock);
    db->writing = true;
    return true;
}

static void
writer_give(ClDb *db)
{
    if (!db->writing)
        return;
    Writer *w = db->writer;
    g_mutex_lock(&w->lock);
    w->owner = NULL;
    /* All: a background writer woken alone would wait on for the others. */
    g_cond_broadcast(&w->free);
    g_mutex_unlock(&w->lock);
    db->writing = false;
}

void
cl_db_set_background(ClDb *db)
{
    db->background = true;
}

struct ClDbStmt {
    ClDb *db;
    sqlite3_stmt *stmt;
};

static void
set_error(ClDb *db, int rc, const char *what, GError **error)
{
    int primary = rc & 0xff;
    ClErrorCode code = CL_ERROR_INTERNAL;
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED || primary == SQLITE_FULL ||
        primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN || primary == SQLITE_NOMEM ||
        primary == SQLITE_READONLY || primary == SQLITE_PROTOCOL)
        code = CL_ERROR_TEMPFAIL;
    else if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        code = CL_ERROR_CONFLICT;
    g_set_error(error, CL_ERROR, code, "database: %s: %s", what,
                db && db->handle ? sqlite3_errmsg(db->handle) : sqlite3_errstr(rc));
}

static bool
injected_failure(ClDb *db, GError **error)
{
    if (db->fail_after == 0)
        return false;
    if (--db->fail_after > 0)
        return false;
    g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "database: injected failure");
    return true;
}

static void
stmt_free(ClDbStmt *s)
{
    sqlite3_finalize(s->stmt);
    g_free(s);
}

/* cl_fold(text): case folding without accents (cl_text_fold_search), so that
 * SQL can find names as people type them ("muller" finds "Müller");
 * cl_spell(text): the same with umlauts spelled out (cl_text_fold_spelled:
 * "mueller" finds "Müller"). */
static char *
fold_spelled(const char *text)
{
    return cl_text_fold_spelled(text, NULL);
}

static void
sql_fold(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    char *(*fold)(const char *) = sqlite3_user_data(ctx);
    const char *text = (const char *)sqlite3_value_text(argv[0]);
    if (text == NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    char *folded = fold(text);
    if (folded == NULL)
        sqlite3_result_null(ctx);
    else
        sqlite3_result_text(ctx, folded, -1, g_free);
}

/*
 * The tokenizer of the search index (0005-search.sql): unicode61 with
 * remove_diacritics 2, as before ("Müller" is the token "muller", so "muller"
 * finds it), and for a word with ä, ö, ü or ß also its German spelling out at
 * the same position (FTS5_TOKEN_COLOCATED): "Müller" is found by "mueller",
 * "Yılmaz" by "yilmaz" (0006-search-dotless-i.sql),
 * "Öffnungszeiten" by "oeffnungszeiten", "Straße" by "strasse", in phrases too.
 * A query word with an umlaut asks for both ("Müller" finds "Mueller").
 */
typedef struct {
    fts5_tokenizer parent;
    Fts5Tokenizer *inner;
} GermanTokenizer;

typedef struct {
    void *ctx;
    int (*token)(void *, int, const char *, int, int, int);
    const char *text;
    int len;
} GermanCall;

static void
german_delete(Fts5Tokenizer *tok)
{
    GermanTokenizer *g = (GermanTokenizer *)tok;
    if (g->inner != NULL)
        g->parent.xDelete(g->inner);
    g_free(g);
}

static int
german_create(void *api_ptr, const char **argv, int argc, Fts5Tokenizer **out)
{
    (void)argv;
    (void)argc;
    fts5_api *api = api_ptr;
    GermanTokenizer *g = g_new0(GermanTokenizer, 1);
    void *uctx = NULL;
    int rc = api->xFindTokenizer(api, "unicode61", &uctx, &g->parent);
    static const char *args[] = { "remove_diacritics", "2" };
    if (rc == SQLITE_OK)
        rc = g->parent.xCreate(uctx, args, 2, &g->inner);
    if (rc != SQLITE_OK) {
        g_free(g);
        return rc;
    }
    *out = (Fts5Tokenizer *)g;
    return SQLITE_OK;
}

/* The word spelled out (ä → ae, ö → oe, ü → ue, ß → ss; the Turkish dotless
 * ı → i, which unicode61 keeps: "Yılmaz" is found by "yilmaz"), then folded as
 * unicode61 folds (lower case, no accents); NULL when it has none of them. */
static char *
german_spelling(const char *word, int len)
{
    if (!g_utf8_validate(word, len, NULL))
        return NULL;
    g_autofree char *text = g_strndup(word, (gsize)len);
    bool any = false;
    char *spelled = cl_text_fold_spelled(text, &any);
    if (!any)
        g_clear_pointer(&spelled, g_free);
    return spelled;
}

static int
german_token(void *data, int flags, const char *token, int n, int start, int end)
{
    GermanCall *call = data;
    int rc = call->token(call->ctx, flags, token, n, start, end);
    if (rc != SQLITE_OK || (flags & FTS5_TOKEN_COLOCATED) || start < 0 || end > call->len ||
        end <= start)
        return rc;
    /* Most words have none of these letters: only a lead byte of ä ö ü ß Ä Ö Ü
     * (0xC3), of ı (0xC4), of a combining diaeresis (0xCC) or of ẞ (0xE1) can
     * start one. */
    const char *word = call->text + start;
    if (memchr(word, 0xC3, (size_t)(end - start)) == NULL &&
        memchr(word, 0xC4, (size_t)(end - start)) == NULL &&
        memchr(word, 0xCC, (size_t)(end - start)) == NULL &&
        memchr(word, 0xE1, (size_t)(end - start)) == NULL)
        return rc;
    g_autofree char *spelled = german_spelling(word, end - start);
    if (spelled != NULL && ((int)strlen(spelled) != n || memcmp(spelled, token, n) != 0))
        rc = call->token(call->ctx, FTS5_TOKEN_COLOCATED, spelled, (int)strlen(spelled), start,
                         end);
    return rc;
}

static int
german_tokenize(Fts5Tokenizer *tok, void *ctx, int flags, const char *text, int len,
                int (*token)(void *, int, const char *, int, int, int))
{
    GermanTokenizer *g = (GermanTokenizer *)tok;
    GermanCall call = { .ctx = ctx, .token = token, .text = text, .len = len };
    return g->parent.xTokenize(g->inner, &call, flags, text, len, german_token);
}

/* Registers the tokenizer "contactlog" with the connection's FTS5. */
static bool
register_tokenizer(sqlite3 *handle)
{
    fts5_api *api = NULL;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(handle, "SELECT fts5(?1)", -1, &s, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_pointer(s, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(s);
    sqlite3_finalize(s);
    if (api == NULL || api->iVersion < 2)
        return false;
    static fts5_tokenizer german = { german_create, german_delete, german_tokenize };
    return api->xCreateTokenizer(api, "contactlog", api, &german, NULL) == SQLITE_OK;
}

ClDb *
cl_db_open_sqlite(const char *path, bool sync, GError **error)
{
    static gsize configured = 0;
    if (g_once_init_enter(&configured)) {
        /* Memory statistics take a global mutex on every allocation: several
         * threads with connections of their own would queue on it. */
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
        g_once_init_leave(&configured, 1);
    }
    ClDb *db = g_new0(ClDb, 1);
    int rc = sqlite3_open_v2(path, &db->handle,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        set_error(db, rc, path, error);
        cl_db_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db->handle, BUSY_TIMEOUT_MS);
    db->writer = writer_for(path);
    sqlite3_create_function(db->handle, "cl_fold", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                            (void *)cl_text_fold_search, sql_fold, NULL, NULL);
    sqlite3_create_function(db->handle, "cl_spell", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                            (void *)fold_spelled, sql_fold, NULL, NULL);
    if (!register_tokenizer(db->handle)) {
        g_set_error(error, CL_ERROR, CL_ERROR_INTERNAL,
                    "database: SQLite without FTS5: the search index cannot be opened");
        cl_db_close(db);
        return NULL;
    }
    sqlite3_extended_result_codes(db->handle, 1);
    db->cache = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                      (GDestroyNotify)stmt_free);
    g_autofree char *pragmas =
        g_strdup_printf("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;"
                        "PRAGMA synchronous=%s; PRAGMA temp_store=MEMORY;"
                        "PRAGMA cache_size=-16384; PRAGMA journal_size_limit=%d;",
                        sync ? "FULL" : "OFF", WAL_KEEP_BYTES);
    if (!cl_db_exec(db, pragmas, error)) {
        cl_db_close(db);
        return NULL;
    }
    return db;
}

void
cl_db_close(ClDb *db)
{
    if (db == NULL)
        return;
    g_clear_pointer(&db->cache, g_hash_table_unref);
    db->shm = NULL; /* SQLite's own mapping: it goes with the connection */
    if (db->handle != NULL && !sqlite3_get_autocommit(db->handle))
        sqlite3_exec(db->handle, "ROLLBACK", NULL, NULL, NULL);
    writer_give(db);
    if (db->handle != NULL)
        sqlite3_close_v2(db->handle);
    g_free(db);
}

bool
cl_db_exec(ClDb *db, const char *sql, GError **error)
{
    if (injected_failure(db, error))
        return false;
    char *msg = NULL;
    int rc = sqlite3_exec(db->handle, sql, NULL, NULL, &msg);
    sqlite3_free(msg);
    if (rc != SQLITE_OK) {
        set_error(db, rc, "exec", error);
        return false;
    }
    return true;
}

ClDbStmt *
cl_db_prepare(ClDb *db, const char *sql, GError **error)
{
    if (injected_failure(db, error))
        return NULL;
    ClDbStmt *s = g_hash_table_lookup(db->cache, sql);
    if (s != NULL) {
        sqlite3_reset(s->stmt);
        sqlite3_clear_bindings(s->stmt);
        return s;
    }
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v3(db->handle, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
    if (rc != SQLITE_OK) {
        set_error(db, rc, "prepare", error);
        return NULL;
    }
    s = g_new0(ClDbStmt, 1);
    s->db = db;
    s->stmt = stmt;
    g_hash_table_insert(db->cache, (gpointer)sql, s);
    return s;
}

void
cl_db_bind_int64(ClDbStmt *s, int index, gint64 value)
{
    sqlite3_bind_int64(s->stmt, index, value);
}

static int
wal_hook(void *data, sqlite3 *handle, const char *name, int pages)
{
    (void)handle;
    (void)name;
    g_atomic_int_set(&((ClDb *)data)->wal_pages, pages);
    return SQLITE_OK;
}

void
cl_db_watch_wal(ClDb *db)
{
    /* Replaces SQLite's automatic checkpoint (itself a WAL hook). */
    sqlite3_wal_hook(db->handle, wal_hook, db);
}

guint
cl_db_wal_pages(ClDb *db)
{
    return (guint)g_atomic_int_get(&db->wal_pages);
}

bool
cl_db_checkpoint(ClDb *db, GError **error)
{
    int rc = sqlite3_wal_checkpoint_v2(db->handle, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (rc != SQLITE_OK) {
        set_error(db, rc, "checkpoint", error);
        return false;
    }
    return true;
}

/*
 * Has anything been committed? Asked before every HTTP request (the page
 * cache, api-cache.c), so it must cost next to nothing when the answer is no.
 *
 * The authority is PRAGMA data_version, but it opens a read transaction: two
 * fcntl() locks and a few µs, a sixth of a kept page's CPU. So first the
 * wal-index header is compared with what it was before the last PRAGMA: the
 * first 48 bytes of the database's -shm file, which every commit of every
 * connection and process rewrites (mxFrame, iChange, the salts and the
 * checksum move) and which every reader reads to find the end of the log
 * (https://www.sqlite.org/walformat.html, "The WAL-Index Header"; shared by
 * all SQLite versions that open the file at once, version 3007000). A commit
 * becomes visible to readers only when copy 0 of the header is written, so
 * unchanged bytes there mean no reader could see anything new. A torn read
 * while a commit writes it only asks the PRAGMA once more. The header is read
 * through SQLite's own mapping of the file, taken after this connection's first
 * read transaction (the connection holds it until it closes); it is only read,
 * never written. When the header is not what this code knows, or the VFS maps
 * no wal-index, every call asks the PRAGMA.
 */
static void
shm_map(ClDb *db)
{
    db->shm = MAP_FAILED;
    /* SQLite's own mapping of the wal-index, through the VFS (xShmMap of the
     * database file, region 0 as the connection holds it, never extended).
     * Opening the -shm file here instead and closing it again dropped every
     * POSIX lock the process held on it — SQLite's too: another process then
     * took the file for the first one open, truncated and rebuilt it under
     * the server (SIGBUS, readers unprotected). */
    sqlite3_file *file = NULL;
    if (sqlite3_file_control(db->handle, "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK ||
        file == NULL || file->pMethods == NULL || file->pMethods->iVersion < 2 ||
        file->pMethods->xShmMap == NULL)
        return;
    volatile void *region = NULL;
    if (file->pMethods->xShmMap(file, 0, WAL_INDEX_REGION, 0, &region) != SQLITE_OK ||
        region == NULL)
        return;
    const volatile guint8 *header = region;
    guint32 version;
    memcpy(&version, (const void *)header, sizeof version);
    if (version == WAL_INDEX_VERSION && header[12] == 1)
        db->shm = (const guint8 *)header;
}

bool
cl_db_changed(ClDb *db)
{
    guint8 header[sizeof db->shm_seen];
    bool mapped = db->shm != NULL && db->shm != MAP_FAILED;
    if (mapped) {
        memcpy(header, db->shm, sizeof header);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        gint64 own = sqlite3_total_changes64(db->handle);
        if (db->shm_seen_set && own == db->total_changes &&
            memcmp(header, db->shm_seen, sizeof header) == 0)
            return false;
    }
    /* data_version moves when another connection commits; total_changes
     * counts this connection's own changed rows (autocommit ones too). */
    ClDbStmt *s = cl_db_prepare(db, "PRAGMA data_version", NULL);
    gint64 version = s ? cl_db_one_int64(s, -1, NULL) : -1;
    gint64 own = sqlite3_total_changes64(db->handle);
    bool changed = !db->seen || version < 0 || version != db->data_version ||
                   own != db->total_changes;
    db->seen = true;
    db->data_version = version;
    db->total_changes = own;
    if (mapped) {
        /* The header read before the PRAGMA: a commit after that read moves it. */
        memcpy(db->shm_seen, header, sizeof header);
        db->shm_seen_set = version >= 0;
    } else if (db->shm == NULL && version >= 0) {
        shm_map(db); /* the next call reads the header before its PRAGMA */
    }
    return changed;
}

void
cl_db_bind_blob(ClDbStmt *s, int index, const void *data, gsize len)
{
    sqlite3_bind_blob64(s->stmt, index, data, len, SQLITE_TRANSIENT);
}

void
cl_db_bind_text(ClDbStmt *s, int index, const char *value)
{
    if (value == NULL)
        sqlite3_bind_null(s->stmt, index);
    else
        sqlite3_bind_text(s->stmt, index, value, -1, SQLITE_TRANSIENT);
}

void
cl_db_bind_null(ClDbStmt *s, int index)
{
    sqlite3_bind_null(s->stmt, index);
}

void
cl_db_bind_strings(ClDbStmt *s, int index, const char *const *values, gsize max)
{
    /* A JSON array: json_each(?) turns it into rows. */
    json_t *list = json_array();
    for (gsize i = 0; values && values[i] && i < max; i++)
        json_array_append_new(list, json_string(values[i]));
    char *text = json_dumps(list, JSON_COMPACT);
    json_decref(list);
    sqlite3_bind_text(s->stmt, index, text, -1, free);
}

void
cl_db_bind_int64s(ClDbStmt *s, int index, const gint64 *values, gsize n)
{
    GString *text = g_string_sized_new(2 + n * 8);
    g_string_append_c(text, '[');
    for (gsize i = 0; i < n; i++) {
        /* digits by hand: printf was a twentieth of a history page (bench/http) */
        char buf[24], *p = buf + sizeof buf;
        guint64 u = values[i] < 0 ? (guint64)0 - (guint64)values[i] : (guint64)values[i];
        do {
            *--p = (char)('0' + u % 10);
            u /= 10;
        } while (u > 0);
        if (values[i] < 0)
            *--p = '-';
        if (i)
            g_string_append_c(text, ',');
        g_string_append_len(text, p, buf + sizeof buf - p);
    }
    g_string_append_c(text, ']');
    gsize len = text->len;
    sqlite3_bind_text(s->stmt, index, g_string_free(text, FALSE), (int)len, g_free);
}

int
cl_db_step(ClDbStmt *s, GError **error)
{
    if (injected_failure(s->db, error))
        return -1;
    int rc = sqlite3_step(s->stmt);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE) {
        sqlite3_reset(s->stmt);
        return 0;
    }
    set_error(s->db, rc, "step", error);
    sqlite3_reset(s->stmt);
    return -1;
}

bool
cl_db_run(ClDbStmt *s, GError **error)
{
    int rc;
    while ((rc = cl_db_step(s, error)) == 1)
        ;
    return rc == 0;
}

gint64
cl_db_one_int64(ClDbStmt *s, gint64 none, GError **error)
{
    int rc = cl_db_step(s, error);
    if (rc < 0)
        return -1;
    gint64 v = rc == 1 ? cl_db_column_int64(s, 0) : none;
    sqlite3_reset(s->stmt);
    return v;
}

gint64
cl_db_column_int64(ClDbStmt *s, int col)
{
    return sqlite3_column_int64(s->stmt, col);
}

const char *
cl_db_column_text(ClDbStmt *s, int col)
{
    return (const char *)sqlite3_column_text(s->stmt, col);
}

const void *
cl_db_column_blob(ClDbStmt *s, int col, gsize *len_out)
{
    const void *data = sqlite3_column_blob(s->stmt, col);
    *len_out = (gsize)sqlite3_column_bytes(s->stmt, col);
    return data;
}

bool
cl_db_column_is_null(ClDbStmt *s, int col)
{
    return sqlite3_column_type(s->stmt, col) == SQLITE_NULL;
}

gint64
cl_db_changes(ClDb *db)
{
    return sqlite3_changes64(db->handle);
}

bool
cl_db_begin(ClDb *db, GError **error)
{
    /* IMMEDIATE takes the write lock now, so a busy database is reported here
     * (and retried by the caller) instead of failing halfway through. */
    if (!writer_take(db, error))
        return false;
    if (!cl_db_exec(db, "BEGIN IMMEDIATE", error)) {
        writer_give(db);
        return false;
    }
    return true;
}

bool
cl_db_commit(ClDb *db, GError **error)
{
    /* On failure the transaction may still be open, and the write lock held:
     * the caller undoes what it did beside the database, then rolls back. */
    if (!cl_db_exec(db, "COMMIT", error))
        return false;
    writer_give(db);
    return true;
}

bool
cl_db_in_transaction(ClDb *db)
{
    return !sqlite3_get_autocommit(db->handle);
}

void
cl_db_rollback(ClDb *db)
{
    if (!sqlite3_get_autocommit(db->handle))
        sqlite3_exec(db->handle, "ROLLBACK", NULL, NULL, NULL);
    writer_give(db);
}

/* Prepared once and reused: an import takes a savepoint per message. */
static bool
run_cached(ClDb *db, const char *sql, GError **error)
{
    ClDbStmt *s = cl_db_prepare(db, sql, error);
    return s != NULL && cl_db_run(s, error);
}

bool
cl_db_read_begin(ClDb *db, bool *began, GError **error)
{
    *began = false;
    if (!sqlite3_get_autocommit(db->handle))
        return true;
    if (!run_cached(db, "BEGIN", error))
        return false;
    *began = true;
    return true;
}

void
cl_db_read_end(ClDb *db, bool began)
{
    /* Nothing was written: ending it cannot lose anything, only let go. */
    if (began && !sqlite3_get_autocommit(db->handle) &&
        sqlite3_exec(db->handle, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        sqlite3_exec(db->handle, "ROLLBACK", NULL, NULL, NULL);
}

bool
cl_db_savepoint(ClDb *db, GError **error)
{
    return run_cached(db, "SAVEPOINT msg", error);
}

bool
cl_db_release(ClDb *db, GError **error)
{
    return run_cached(db, "RELEASE msg", error);
}

void
cl_db_rollback_to(ClDb *db)
{
    sqlite3_exec(db->handle, "ROLLBACK TO msg; RELEASE msg", NULL, NULL, NULL);
}

gint64
cl_db_schema_version(ClDb *db, GError **error)
{
    ClDbStmt *s = cl_db_prepare(db, "PRAGMA user_version", error);
    return s ? cl_db_one_int64(s, 0, error) : -1;
}

bool
cl_db_set_schema_version(ClDb *db, gint64 version, GError **error)
{
    g_autofree char *sql = g_strdup_printf("PRAGMA user_version = %" G_GINT64_FORMAT, version);
    return cl_db_exec(db, sql, error);
}

const char *
cl_db_backend(ClDb *db)
{
    (void)db;
    return "sqlite";
}

guint
cl_db_fail_after(ClDb *db, guint n)
{
    guint left = db->fail_after;
    db->fail_after = n;
    return left;
}
