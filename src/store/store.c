/*
 * store.c — opening the data directory, schema migrations, transactions and
 * content-addressed blob files.
 *
 * Durability (DESIGN §3): blobs are appended to a pack file and the pack is
 * fdatasync'ed before the database COMMIT that refers to them, so an
 * acknowledged entry never points at missing bytes. A crash in between leaves
 * at worst unreferenced bytes at the end of a pack, never a lost mail.
 */
#include "store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "contactlog-resources.h"

#define SCHEMA_VERSION 6
#define CL_PACK_MAX_BYTES ((gint64)1 << 30) /* a new pack file after 1 GiB */
#define BLOB_CHUNK (256 * 1024)

static bool
io_error(GError **error, const char *what, const char *path)
{
    int e = errno;
    g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "%s %s: %s", what, path, g_strerror(e));
    return false;
}

static void cut_to(ClStore *store, gint64 end);

static bool
fsync_dir(const char *path, GError **error)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return io_error(error, "cannot open", path);
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc == 0 || io_error(error, "fsync", path);
}

static bool
migrate(ClStore *store, GError **error)
{
    /* Referencing the resource links its object file (and its registering
     * constructor) out of the static library. */
    g_return_val_if_fail(contactlog_get_resource() != NULL, false);
    gint64 version = cl_db_schema_version(store->db, error);
    if (version < 0)
        return false;
    if (version > SCHEMA_VERSION) {
        g_set_error(error, CL_ERROR, CL_ERROR_CONFIG,
                    "the database has schema %" G_GINT64_FORMAT
                    ", newer than this contactlog (%d); upgrade contactlog",
                    version, SCHEMA_VERSION);
        return false;
    }
    static const char *files[] = { NULL, "0001-initial.sql", "0002-inline-blobs.sql",
                                   "0003-api.sql", "0004-duplicates-per-author.sql",
                                   "0005-search.sql", "0006-search-dotless-i.sql" };
    for (gint64 v = version + 1; v <= SCHEMA_VERSION; v++) {
        g_autofree char *res = g_strdup_printf("/contactlog/sql/%s/%s", cl_db_backend(store->db),
                                               files[v]);
        g_autoptr(GBytes) sql =
            g_resources_lookup_data(res, G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
        g_return_val_if_fail(sql != NULL, false);
        g_autofree char *text = g_strndup(g_bytes_get_data(sql, NULL), g_bytes_get_size(sql));
        if (!cl_db_begin(store->db, error))
            return false;
        /* Another process may have migrated while this one waited for the lock. */
        gint64 now = cl_db_schema_version(store->db, error);
        if (now < 0 || now >= v) {
            cl_db_rollback(store->db);
            if (now < 0)
                return false;
            continue;
        }
        if (!cl_db_exec(store->db, text, error) ||
            !cl_db_set_schema_version(store->db, v, error)) {
            cl_db_rollback(store->db);
            g_prefix_error(error, "migration %" G_GINT64_FORMAT ": ", v);
            return false;
        }
        if (!cl_db_commit(store->db, error)) {
            cl_db_rollback(store->db);
            return false;
        }
        g_info("store migrated schema=%" G_GINT64_FORMAT, v);
    }
    return true;
}

ClStore *
cl_store_open(const ClConfig *config, GError **error)
{
    if (sodium_init() < 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_INTERNAL, "libsodium cannot start");
        return NULL;
    }
    g_autoptr(ClStore) store = g_new0(ClStore, 1);
    store->pack_fd = -1;
    store->dir = g_strdup(config->data_dir);
    store->sync = config->sync;
    store->tmp_dir = g_build_filename(store->dir, "tmp", NULL);
    store->blob_dir = g_build_filename(store->dir, "blobs", NULL);

    const char *dirs[] = { store->dir, store->tmp_dir, store->blob_dir };
    for (gsize i = 0; i < G_N_ELEMENTS(dirs); i++)
        if (g_mkdir_with_parents(dirs[i], 0750) != 0) {
            g_set_error(error, CL_ERROR, CL_ERROR_CONFIG, "cannot create %s: %s", dirs[i],
                        g_strerror(errno));
            return NULL;
        }
    g_autofree char *db_path = g_build_filename(store->dir, "contactlog.db", NULL);
    store->db = cl_db_open_sqlite(db_path, config->sync, error);
    if (store->db == NULL || !migrate(store, error))
        return NULL;
    return g_steal_pointer(&store);
}

void
cl_store_free(ClStore *store)
{
    if (store == NULL)
        return;
    cl_db_close(store->db);
    if (store->pack_fd >= 0)
        close(store->pack_fd);
    g_free(store->dir);
    g_free(store->tmp_dir);
    g_free(store->blob_dir);
    g_free(store);
}

bool
cl_store_begin(ClStore *store, GError **error)
{
    store->pack_ready = false; /* re-read under the lock: others may have appended */
    return cl_db_begin(store->db, error);
}

/* What a failed transaction appended to the pack is cut off again — only
 * while it still holds the write lock, before the rollback: once it lets go,
 * another writer (a thread, or a deliver or import of another process) may
 * append and commit behind it, and a late cut took that writer's committed
 * blob. Without the lock (SQLite ended the transaction by itself) the bytes
 * stay, unreferenced, as after a crash. */
static void
pack_cut_back(ClStore *store)
{
    if (store->pack_ready && store->pack_end != store->pack_tx_start) {
        if (!cl_db_in_transaction(store->db))
            g_info("store pack-tail-kept bytes=%" G_GINT64_FORMAT " (the transaction had ended)",
                   store->pack_end - store->pack_tx_start);
        else if (ftruncate(store->pack_fd, store->pack_tx_start) != 0)
            g_warning("store pack-truncate-failed error=%s", g_strerror(errno));
    }
    store->pack_ready = false;
}

bool
cl_store_commit(ClStore *store, GError **error)
{
    /* The blobs first: the commit must never name bytes a crash could lose. */
    if (store->pack_ready && store->pack_dirty && store->sync && fdatasync(store->pack_fd) != 0) {
        io_error(error, "fdatasync", "blob pack");
        cl_store_rollback(store);
        return false;
    }
    if (!cl_db_commit(store->db, error)) {
        pack_cut_back(store);
        cl_db_rollback(store->db);
        return false;
    }
    store->pack_ready = false;
    return true;
}

void
cl_store_rollback(ClStore *store)
{
    pack_cut_back(store);
    cl_db_rollback(store->db);
}

bool
cl_store_changed(ClStore *store)
{
    return cl_db_changed(store->db);
}

void
cl_store_defer_checkpoints(ClStore *store)
{
    cl_db_watch_wal(store->db);
}

void
cl_store_set_background(ClStore *store)
{
    cl_db_set_background(store->db);
}

guint
cl_store_wal_pages(ClStore *store)
{
    return cl_db_wal_pages(store->db);
}

bool
cl_store_checkpoint(ClStore *store, GError **error)
{
    return cl_db_checkpoint(store->db, error);
}

void
cl_store_set_bulk(ClStore *store, bool on)
{
    /* SQLite's WAL checkpoints every 1000 pages by default: 10,000 during an
     * import, so that index pages changed in every batch are written once. */
    g_autoptr(GError) error = NULL;
    if (!cl_db_exec(store->db, on ? "PRAGMA wal_autocheckpoint = 10000"
                                  : "PRAGMA wal_autocheckpoint = 1000;"
                                    "PRAGMA wal_checkpoint(PASSIVE)",
                    &error))
        g_warning("store bulk-mode error=%s", error->message);
}

bool
cl_store_savepoint(ClStore *store, GError **error)
{
    store->sp_pack_ready = store->pack_ready;
    store->sp_pack_id = store->pack_id;
    store->sp_pack_end = store->pack_end;
    return cl_db_savepoint(store->db, error);
}

bool
cl_store_release(ClStore *store, GError **error)
{
    return cl_db_release(store->db, error);
}

void
cl_store_rollback_to(ClStore *store)
{
    cl_db_rollback_to(store->db);
    if (!store->pack_ready)
        return;
    if (store->sp_pack_ready && store->sp_pack_id == store->pack_id) {
        /* Same pack: cut off what the failed message appended. */
        if (store->pack_end != store->sp_pack_end)
            cut_to(store, store->sp_pack_end);
        store->pack_end = store->sp_pack_end;
    } else {
        /* The first append of the transaction was in the savepoint: the pack
         * was chosen (or created, its row now gone) there. Look again next time. */
        if (store->pack_end != store->pack_tx_start)
            cut_to(store, store->pack_tx_start);
        store->pack_ready = false;
    }
}

guint
cl_store_fail_after(ClStore *store, guint n)
{
    return cl_db_fail_after(store->db, n);
}

const char *
cl_store_tmp_dir(ClStore *store)
{
    return store->tmp_dir;
}

guint
cl_store_tmp_clean(ClStore *store)
{
    g_autoptr(GDir) dir = g_dir_open(store->tmp_dir, 0, NULL);
    guint removed = 0;
    for (const char *name; dir && (name = g_dir_read_name(dir)) != NULL;) {
        if (!g_str_has_prefix(name, "spool-"))
            continue;
        g_autofree char *path = g_build_filename(store->tmp_dir, name, NULL);
        /* A spool file in use is locked by its writer (cl_store_tmp_file):
         * another server or a deliver still writing it. Only the rest goes. */
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && unlink(path) == 0)
            removed++;
        close(fd);
    }
    return removed;
}

int
cl_store_tmp_file(ClStore *store, char **path_out, GError **error)
{
    char *path = g_build_filename(store->tmp_dir, "spool-XXXXXX", NULL);
    int fd = g_mkstemp_full(path, O_RDWR | O_CLOEXEC, 0640);
    if (fd < 0) {
        io_error(error, "cannot create spool file in", store->tmp_dir);
        g_free(path);
        return -1;
    }
    /* In use for as long as it is open: cl_store_tmp_clean leaves it alone. */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0)
        g_debug("store spool-lock-failed error=%s", g_strerror(errno));
    *path_out = path;
    return fd;
}

static char *
pack_path(ClStore *store, gint64 id)
{
    g_autofree char *name = g_strdup_printf("pack-%06" G_GINT64_FORMAT, id);
    return g_build_filename(store->blob_dir, name, NULL);
}

static bool
open_pack(ClStore *store, gint64 id, bool create, GError **error)
{
    g_autofree char *path = pack_path(store, id);
    int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0640);
    if (fd < 0)
        return io_error(error, "cannot open", path);
    if (store->pack_fd >= 0)
        close(store->pack_fd);
    store->pack_fd = fd;
    store->pack_id = id;
    return true;
}

/* Inside a transaction: find the current pack (another process may have
 * appended or started a new one since) and where its data ends. */
static bool
pack_prepare(ClStore *store, GError **error)
{
    if (store->pack_ready)
        return true;
    ClDbStmt *s = cl_db_prepare(store->db, "SELECT max(id) FROM packs", error);
    if (s == NULL)
        return false;
    gint64 id = cl_db_one_int64(s, 0, error);
    if (id < 0)
        return false;
    bool create = false;
    if (id > 0 && (store->pack_fd < 0 || store->pack_id != id) && !open_pack(store, id, false, error))
        return false;
    struct stat st = { 0 };
    if (id > 0 && fstat(store->pack_fd, &st) != 0)
        return io_error(error, "fstat", "pack");
    if (id == 0 || st.st_size >= CL_PACK_MAX_BYTES) {
        ClDbStmt *ins = cl_db_prepare(store->db, "INSERT INTO packs DEFAULT VALUES RETURNING id",
                                      error);
        if (ins == NULL || (id = cl_db_one_int64(ins, -1, error)) < 0)
            return false;
        create = true;
        if (!open_pack(store, id, true, error))
            return false;
        st.st_size = 0;
        /* The new file's directory entry must survive a crash before COMMIT. */
        if (store->sync && !fsync_dir(store->blob_dir, error))
            return false;
    }
    (void)create;
    store->pack_end = st.st_size;
    store->pack_flushed = st.st_size;
    store->pack_tx_start = st.st_size;
    store->pack_ready = true;
    store->pack_dirty = false;
    return true;
}

/* Starts writing appended bytes to disk in the background, so that the
 * fdatasync before COMMIT finds little left to do: an import keeps parsing
 * while the disk writes, instead of waiting for a whole batch at the end. */
#define WRITEBACK_BYTES (4 * 1024 * 1024)

static void
start_writeback(ClStore *store)
{
    if (!store->sync)
        return;
    store->pack_flushed = MIN(store->pack_flushed, store->pack_end); /* the pack was cut back */
    if (store->pack_end - store->pack_flushed < WRITEBACK_BYTES)
        return;
    /* Advice only: fdatasync still makes it durable. */
    if (sync_file_range(store->pack_fd, store->pack_flushed, store->pack_end - store->pack_flushed,
                        SYNC_FILE_RANGE_WRITE) == 0)
        store->pack_flushed = store->pack_end;
}

/* 1 when a blob with this hash is stored (in a pack or the database), 0 when
 * not, -1 on error. */
static int
blob_known(ClStore *store, const char *hash, GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db,
                                "SELECT EXISTS (SELECT 1 FROM blobs WHERE hash = ?1) OR "
                                "EXISTS (SELECT 1 FROM blob_data WHERE hash = ?1)",
                                error);
    if (s == NULL)
        return -1;
    cl_db_bind_text(s, 1, hash);
    gint64 found = cl_db_one_int64(s, 0, error);
    return found < 0 ? -1 : found == 1;
}

void
cl_store_set_inline_blobs(ClStore *store, gint64 max_bytes)
{
    store->inline_max = MAX(max_bytes, 0);
}

/* A small blob into the database: durable with the COMMIT, no pack fsync. */
static bool
blob_inline(ClStore *store, const guint8 *data, gsize length, const char *hash, GError **error)
{
    ClDbStmt *ins = cl_db_prepare(store->db, "INSERT INTO blob_data (hash, data) VALUES (?, ?)",
                                  error);
    if (ins == NULL)
        return false;
    cl_db_bind_text(ins, 1, hash);
    cl_db_bind_blob(ins, 2, data, length);
    return cl_db_run(ins, error);
}

/* Records a blob just written at [start, start+size) — or cuts it off again
 * when the same content is already stored (unless the caller just checked:
 * `known` 0). */
static bool
blob_index(ClStore *store, gint64 start, gint64 size, const char *hash, int known,
           GError **error)
{
    int found = known >= 0 ? known : blob_known(store, hash, error);
    if (found < 0)
        return false;
    if (found == 1) {
        if (ftruncate(store->pack_fd, start) != 0)
            return io_error(error, "ftruncate", "pack");
        store->pack_end = start;
        return true;
    }
    ClDbStmt *ins = cl_db_prepare(store->db,
                                  "INSERT INTO blobs (hash, pack, offset, size) VALUES (?, ?, ?, ?)",
                                  error);
    if (ins == NULL)
        return false;
    cl_db_bind_text(ins, 1, hash);
    cl_db_bind_int64(ins, 2, store->pack_id);
    cl_db_bind_int64(ins, 3, start);
    cl_db_bind_int64(ins, 4, size);
    if (!cl_db_run(ins, error))
        return false;
    store->pack_end = start + size;
    store->pack_dirty = true;
    start_writeback(store);
    return true;
}

static void
cut_to(ClStore *store, gint64 end)
{
    if (ftruncate(store->pack_fd, end) != 0)
        g_warning("store pack-truncate-failed error=%s", g_strerror(errno));
}

static void
hash_final(crypto_generichash_state *st, char out[CL_HASH_HEX_LEN])
{
    unsigned char digest[32];
    crypto_generichash_final(st, digest, sizeof digest);
    sodium_bin2hex(out, CL_HASH_HEX_LEN, digest, sizeof digest);
}

static bool
write_at(int fd, const guint8 *data, gint64 len, gint64 at)
{
    for (gint64 done = 0; done < len;) {
        ssize_t k = pwrite(fd, data + done, MIN(len - done, 4 * BLOB_CHUNK), at + done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return false;
        done += k;
    }
    return true;
}

bool
cl_store_blob_put_fd(ClStore *store, int fd, gint64 offset, gint64 length,
                     char hash_out[CL_HASH_HEX_LEN], GError **error)
{
    if (length > 0 && length <= store->inline_max) {
        g_autofree guint8 *buf = g_malloc(length);
        for (gint64 done = 0; done < length;) {
            ssize_t n = pread(fd, buf + done, length - done, offset + done);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                errno = n == 0 ? EIO : errno;
                return io_error(error, "cannot read", "message");
            }
            done += n;
        }
        cl_hash_hex(buf, length, hash_out);
        return cl_store_blob_put_data(store, buf, length, hash_out, error);
    }
    if (!pack_prepare(store, error))
        return false;
    gint64 start = store->pack_end;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    bool ok = true, read_failed = false;
    if (length > 0 && length <= CL_MAP_MAX_BYTES) {
        /* Typical mail: mapped, so the bytes are copied once, into the pack. */
        gint64 skew = offset % sysconf(_SC_PAGESIZE);
        void *map = mmap(NULL, length + skew, PROT_READ, MAP_PRIVATE, fd, offset - skew);
        if (map == MAP_FAILED)
            return io_error(error, "cannot map", "message");
        const guint8 *data = (const guint8 *)map + skew;
        crypto_generichash_update(&st, data, length);
        ok = write_at(store->pack_fd, data, length, start);
        int e = errno;
        munmap(map, length + skew);
        errno = e;
    } else {
        /* Large mail: in blocks, so memory stays bounded. */
        g_autofree guint8 *buf = g_malloc(BLOB_CHUNK);
        for (gint64 done = 0; ok && done < length;) {
            ssize_t n = pread(fd, buf, MIN(BLOB_CHUNK, length - done), offset + done);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                if (n == 0)
                    errno = EIO; /* the source got shorter */
                ok = false;
                read_failed = true;
                break;
            }
            crypto_generichash_update(&st, buf, n);
            ok = write_at(store->pack_fd, buf, n, start + done);
            done += n;
        }
    }
    if (!ok) {
        int e = errno;
        cut_to(store, start);
        errno = e;
        return io_error(error, read_failed ? "cannot read" : "cannot write",
                        read_failed ? "message" : "blob pack");
    }
    hash_final(&st, hash_out);
    return blob_index(store, start, length, hash_out, -1, error);
}

bool
cl_store_blob_put_data(ClStore *store, const guint8 *data, gsize length,
                       const char hash[CL_HASH_HEX_LEN], GError **error)
{
    int known = blob_known(store, hash, error);
    if (known != 0)
        return known == 1;
    if (length > 0 && (gint64)length <= store->inline_max)
        return blob_inline(store, data, length, hash, error);
    if (!pack_prepare(store, error))
        return false;
    gint64 start = store->pack_end;
    if (!write_at(store->pack_fd, data, length, start)) {
        int e = errno;
        cut_to(store, start);
        errno = e;
        return io_error(error, "cannot write", "blob pack");
    }
    return blob_index(store, start, length, hash, 0, error);
}

int
cl_store_blob_begin(ClStore *store, GError **error)
{
    if (!pack_prepare(store, error))
        return -1;
    store->blob_start = store->pack_end;
    if (lseek(store->pack_fd, store->blob_start, SEEK_SET) < 0) {
        io_error(error, "lseek", "blob pack");
        return -1;
    }
    return store->pack_fd;
}

void
cl_store_blob_abort(ClStore *store)
{
    if (store->pack_fd >= 0 && ftruncate(store->pack_fd, store->blob_start) != 0)
        g_warning("store pack-truncate-failed error=%s", g_strerror(errno));
    store->pack_end = store->blob_start;
}

bool
cl_store_blob_finish(ClStore *store, char hash_out[CL_HASH_HEX_LEN], gint64 *size_out,
                     GError **error)
{
    off_t end = lseek(store->pack_fd, 0, SEEK_CUR);
    if (end < store->blob_start) {
        cl_store_blob_abort(store);
        return io_error(error, "lseek", "blob pack");
    }
    /* Hash what was written, read back from the page cache. */
    gint64 size = end - store->blob_start;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    g_autofree guint8 *buf = g_malloc(BLOB_CHUNK);
    for (gint64 done = 0; done < size;) {
        ssize_t n = pread(store->pack_fd, buf, MIN(BLOB_CHUNK, size - done), store->blob_start + done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            cl_store_blob_abort(store);
            return io_error(error, "cannot read", "blob pack");
        }
        crypto_generichash_update(&st, buf, n);
        done += n;
    }
    hash_final(&st, hash_out);
    *size_out = size;
    return blob_index(store, store->blob_start, size, hash_out, -1, error);
}

/* A blob kept in the database, as an in-memory file, so that readers handle
 * both kinds alike. */
static int
blob_open_inline(ClStore *store, const char *hash, gint64 *offset_out, gint64 *size_out,
                 GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db, "SELECT data FROM blob_data WHERE hash = ?", error);
    if (s == NULL)
        return -1;
    cl_db_bind_text(s, 1, hash ? hash : "");
    int rc = cl_db_step(s, error);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_NOT_FOUND, "no blob %s", hash ? hash : "");
        return -1;
    }
    gsize len = 0;
    const guint8 *data = cl_db_column_blob(s, 0, &len);
    int fd = memfd_create("contactlog-blob", MFD_CLOEXEC);
    bool ok = fd >= 0 && cl_write_all(fd, data, len);
    while (cl_db_step(s, NULL) == 1)
        ;
    if (!ok) {
        if (fd >= 0)
            close(fd);
        io_error(error, "cannot make an in-memory file for", "a blob");
        return -1;
    }
    *offset_out = 0;
    *size_out = (gint64)len;
    return fd;
}

int
cl_store_blob_open(ClStore *store, const char *hash, gint64 *offset_out, gint64 *size_out,
                   GError **error)
{
    ClDbStmt *s = cl_db_prepare(store->db, "SELECT pack, offset, size FROM blobs WHERE hash = ?",
                                error);
    if (s == NULL)
        return -1;
    cl_db_bind_text(s, 1, hash ? hash : "");
    int rc = cl_db_step(s, error);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return blob_open_inline(store, hash, offset_out, size_out, error);
    gint64 pack = cl_db_column_int64(s, 0);
    *offset_out = cl_db_column_int64(s, 1);
    *size_out = cl_db_column_int64(s, 2);
    while (cl_db_step(s, NULL) == 1)
        ;
    g_autofree char *path = pack_path(store, pack);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        io_error(error, "cannot open", path);
    return fd;
}

bool
cl_store_blob_write_to(ClStore *store, const char *hash, int out_fd, GError **error)
{
    gint64 offset = 0, size = 0;
    int fd = cl_store_blob_open(store, hash, &offset, &size, error);
    if (fd < 0)
        return false;
    const char *path = "blob pack";
    g_autofree guint8 *buf = g_malloc(BLOB_CHUNK);
    bool ok = true;
    for (gint64 done = 0; ok && done < size;) {
        ssize_t n = pread(fd, buf, MIN(BLOB_CHUNK, size - done), offset + done);
        if (n < 0 && errno == EINTR)
            continue;
        ok = n > 0;
        for (ssize_t w = 0; ok && w < n;) {
            ssize_t k = write(out_fd, buf + w, n - w);
            if (k < 0 && errno == EINTR)
                continue;
            ok = k > 0;
            w += ok ? k : 0;
        }
        done += ok ? n : 0;
    }
    int e = errno;
    close(fd);
    errno = e;
    return ok || io_error(error, "cannot copy blob from", path);
}
