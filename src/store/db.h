/*
 * db.h — the thin SQL layer under store/ (private to store/). One implementation
 * per backend (db-sqlite.c; PostgreSQL joins later as db-pg.c) behind the same
 * calls, so the store code is written once. SQL uses `?` placeholders; a backend
 * that needs `$n` rewrites them when preparing.
 *
 * Errors are translated here: busy/locked/full/I/O → CL_ERROR_TEMPFAIL, unique
 * violations → CL_ERROR_CONFLICT, anything else → CL_ERROR_INTERNAL.
 * One ClDb per thread.
 */
#pragma once

#include "core/core.h"

typedef struct ClDb ClDb;
typedef struct ClDbStmt ClDbStmt;

ClDb *cl_db_open_sqlite(const char *path, bool sync, GError **error);
void cl_db_close(ClDb *db);

/* Runs SQL text with several statements and no parameters (migrations). */
bool cl_db_exec(ClDb *db, const char *sql, GError **error);

/*
 * A prepared statement for `sql`, cached by the db (transfer none) and reset,
 * with no bindings: call cl_db_prepare() again for each use. `sql` must be a
 * string literal or otherwise live as long as the db.
 */
ClDbStmt *cl_db_prepare(ClDb *db, const char *sql, GError **error);

/* Binding: index from 1. bind_text with NULL binds NULL. */
void cl_db_bind_int64(ClDbStmt *stmt, int index, gint64 value);
void cl_db_bind_text(ClDbStmt *stmt, int index, const char *value);
void cl_db_bind_null(ClDbStmt *stmt, int index);
/* The database log (WAL): no checkpoints inside COMMIT on this connection;
 * cl_db_wal_pages() says how large the log is (any thread), and
 * cl_db_checkpoint() on another connection copies it (PASSIVE). */
void cl_db_watch_wal(ClDb *db);
/* Writes of this connection wait while any other writer of the process waits. */
void cl_db_set_background(ClDb *db);
guint cl_db_wal_pages(ClDb *db);
bool cl_db_checkpoint(ClDb *db, GError **error);
void cl_db_bind_blob(ClDbStmt *stmt, int index, const void *data, gsize len);
/* A list of strings (NULL-terminated, at most max) as one parameter, for
 * "… = one of ?" lookups; SQLite's SQL reads it with json_each(?). */
void cl_db_bind_strings(ClDbStmt *stmt, int index, const char *const *values, gsize max);

/* A list of numbers as one parameter: json_each(?) in SQLite's SQL. */
void cl_db_bind_int64s(ClDbStmt *stmt, int index, const gint64 *values, gsize n);

/* 1: a row is ready; 0: done; -1: error set. */
int cl_db_step(ClDbStmt *stmt, GError **error);

/* Runs a statement that returns no rows (or ignores them). */
bool cl_db_run(ClDbStmt *stmt, GError **error);

/* Runs a statement and returns the int64 in column 0 of its first row; `none`
 * when there is no row; -1 with error set on failure (so `none` should be >= 0). */
gint64 cl_db_one_int64(ClDbStmt *stmt, gint64 none, GError **error);

gint64 cl_db_column_int64(ClDbStmt *stmt, int col);
const char *cl_db_column_text(ClDbStmt *stmt, int col); /* NULL for NULL; valid until next step */
bool cl_db_column_is_null(ClDbStmt *stmt, int col);
/* The bytes of a BLOB column and their length; valid until the next step. */
const void *cl_db_column_blob(ClDbStmt *stmt, int col, gsize *len_out);

/* Has the database changed — by this or another connection — since the last
 * call (true on the first call, and when it cannot tell)? */
bool cl_db_changed(ClDb *db);

/* Number of rows changed by the last statement. */
gint64 cl_db_changes(ClDb *db);

bool cl_db_begin(ClDb *db, GError **error);
/* false: the transaction may still be open (and the write lock held) — call
 * cl_db_rollback() after undoing what was done beside the database. */
bool cl_db_commit(ClDb *db, GError **error);
void cl_db_rollback(ClDb *db);
/* Is a transaction open (a failed COMMIT may have ended it: SQLite rolls back
 * by itself after some errors, and lets go of the write lock)? */
bool cl_db_in_transaction(ClDb *db);
/* One view of the database for several statements that only read: a read
 * transaction when none is open (*began true), nothing inside one. Every
 * statement until cl_db_read_end(db, began) sees the same commits. */
bool cl_db_read_begin(ClDb *db, bool *began, GError **error);
void cl_db_read_end(ClDb *db, bool began);
bool cl_db_savepoint(ClDb *db, GError **error);
bool cl_db_release(ClDb *db, GError **error);
void cl_db_rollback_to(ClDb *db);

/* Schema version (0 for a new database) and setting it inside a transaction. */
gint64 cl_db_schema_version(ClDb *db, GError **error);
bool cl_db_set_schema_version(ClDb *db, gint64 version, GError **error);

/* The backend name for schema files: "sqlite". */
const char *cl_db_backend(ClDb *db);

/* Test hook: make the Nth following prepare/step fail with TEMPFAIL (0 = off).
 * Returns how many calls the previous setting still had to go (0: it fired). */
guint cl_db_fail_after(ClDb *db, guint n);
