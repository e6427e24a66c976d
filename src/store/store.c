/*
 * store.c — opening the data directory, schema migrations, transactions and
 * content-addressed blob files.
 *
 * Durability (DESIGN §3): a blob is written to tmp/, fsync'ed, renamed into
 * blobs/, and blobs/xx/ is fsync'ed, all before the database COMMIT that refers
 * to it; so an acknowledged entry never points at a missing file. A crash in
 * between leaves at worst an unreferenced blob, never a lost mail.
 */
#include "store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "contactlog-resources.h"

#define SCHEMA_VERSION 1

static bool
io_error(GError **error, const char *what, const char *path)
{
    int e = errno;
    g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "%s %s: %s", what, path, g_strerror(e));
    return false;
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
    static const char *files[] = { NULL, "0001-initial.sql" };
    for (gint64 v = version + 1; v <= SCHEMA_VERSION; v++) {
        g_autofree char *res = g_strdup_printf("/contactlog/sql/%s/%s", cl_db_backend(store->db),
                                               files[v]);
        g_autoptr(GBytes) sql =
            g_resources_lookup_data(res, G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
        g_return_val_if_fail(sql != NULL, false);
        g_autofree char *text = g_strndup(g_bytes_get_data(sql, NULL), g_bytes_get_size(sql));
        if (!cl_db_begin(store->db, error))
            return false;
        if (!cl_db_exec(store->db, text, error) ||
            !cl_db_set_schema_version(store->db, v, error)) {
            cl_db_rollback(store->db);
            g_prefix_error(error, "migration %" G_GINT64_FORMAT ": ", v);
            return false;
        }
        if (!cl_db_commit(store->db, error))
            return false;
        g_info("store migrated schema=%" G_GINT64_FORMAT, v);
    }
    return true;
}

ClStore *
cl_store_open(const ClConfig *config, GError **error)
{
    g_autoptr(ClStore) store = g_new0(ClStore, 1);
    store->dir_fd = -1;
    store->dir = g_strdup(config->data_dir);
    store->sync = config->sync;
    store->tmp_dir = g_build_filename(store->dir, "tmp", NULL);
    store->blob_dir = g_build_filename(store->dir, "blobs", NULL);
    store->made_dirs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    const char *dirs[] = { store->dir, store->tmp_dir, store->blob_dir };
    for (gsize i = 0; i < G_N_ELEMENTS(dirs); i++)
        if (g_mkdir_with_parents(dirs[i], 0750) != 0) {
            g_set_error(error, CL_ERROR, CL_ERROR_CONFIG, "cannot create %s: %s", dirs[i],
                        g_strerror(errno));
            return NULL;
        }
    store->dir_fd = open(store->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (store->dir_fd < 0) {
        io_error(error, "cannot open", store->dir);
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
    if (store->dir_fd >= 0)
        close(store->dir_fd);
    g_clear_pointer(&store->made_dirs, g_hash_table_unref);
    g_free(store->dir);
    g_free(store->tmp_dir);
    g_free(store->blob_dir);
    g_free(store);
}

bool
cl_store_begin(ClStore *store, GError **error)
{
    return cl_db_begin(store->db, error);
}

bool
cl_store_commit(ClStore *store, GError **error)
{
    return cl_db_commit(store->db, error);
}

void
cl_store_rollback(ClStore *store)
{
    cl_db_rollback(store->db);
}

bool
cl_store_savepoint(ClStore *store, GError **error)
{
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
}

void
cl_store_fail_after(ClStore *store, guint n)
{
    cl_db_fail_after(store->db, n);
}

const char *
cl_store_tmp_dir(ClStore *store)
{
    return store->tmp_dir;
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
    *path_out = path;
    return fd;
}

char *
cl_store_blob_path(ClStore *store, const char *sha256)
{
    char prefix[3] = { sha256[0], sha256[1], '\0' };
    return g_build_filename(store->blob_dir, prefix, sha256, NULL);
}

static bool
fsync_path(const char *path, int flags, GError **error)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return io_error(error, "cannot open", path);
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc == 0 || io_error(error, "fsync", path);
}

bool
cl_store_blob_adopt(ClStore *store, const char *tmp_path, const char *sha256, bool sync,
                    GError **error)
{
    g_return_val_if_fail(strlen(sha256) == 64, false);
    char prefix[3] = { sha256[0], sha256[1], '\0' };
    g_autofree char *dir = g_build_filename(store->blob_dir, prefix, NULL);
    if (!g_hash_table_contains(store->made_dirs, prefix)) {
        if (mkdir(dir, 0750) != 0 && errno != EEXIST)
            return io_error(error, "cannot create", dir);
        if (store->sync && sync && !fsync_path(store->blob_dir, O_RDONLY | O_DIRECTORY, error))
            return false;
        g_hash_table_add(store->made_dirs, g_strdup(prefix));
    }
    g_autofree char *target = g_build_filename(dir, sha256, NULL);
    /* The content decides the name: an existing blob already holds these bytes. */
    if (g_file_test(target, G_FILE_TEST_EXISTS)) {
        unlink(tmp_path);
        return true;
    }
    if (store->sync && sync && !fsync_path(tmp_path, O_RDONLY, error))
        return false;
    if (rename(tmp_path, target) != 0)
        return io_error(error, "cannot rename to", target);
    /* The rename is durable only once the directory entry is on disk. */
    if (store->sync && sync && !fsync_path(dir, O_RDONLY | O_DIRECTORY, error))
        return false;
    return true;
}

bool
cl_store_sync(ClStore *store, GError **error)
{
    if (!store->sync)
        return true;
    if (syncfs(store->dir_fd) != 0)
        return io_error(error, "syncfs", store->dir);
    return true;
}
