/* store-private.h — shared inside store/ only. */
#pragma once

#include <jansson.h>

#include "db.h"
#include "store.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_t, json_decref)

struct ClStore {
    ClDb *db;
    char *dir;
    char *tmp_dir;
    char *blob_dir;
    bool sync;
    /* the current pack; valid inside a transaction once pack_ready */
    int pack_fd;
    gint64 pack_id;
    bool pack_ready;
    bool pack_dirty;      /* appended since the transaction began */
    gint64 pack_end;      /* where the next blob goes */
    gint64 pack_flushed;  /* writeback started up to here (sync_file_range) */
    gint64 pack_tx_start; /* pack_end when the transaction began (rollback) */
    bool sp_pack_ready;   /* the pack state when the current savepoint began */
    gint64 sp_pack_id;
    gint64 sp_pack_end;
    gint64 blob_start;    /* streaming blob in progress */
    gint64 inline_max;    /* blobs up to this size go into the database (blob_data) */
};

/* store-api.c */
/* Ends what lets a user in without their password: every session but keep_session (a
 * session hash, or NULL for all) and every API token. Inside the caller's transaction. */
bool store_user_end_access(ClStore *store, gint64 tenant_id, gint64 user_id,
                           const char *keep_session, GError **error);

/* store-entry.c */
ClItem *store_item_by_id(ClStore *store, ClItemKind kind, gint64 id, GError **error);

/* store-search.c */
/* The first characters of a text for lists, without quoted lines; NULL when empty. */
char *store_preview(const char *text);
/* The names and addresses of a mail's addresses JSON (not the envelope), for the index. */
char *store_mail_addresses_text(const char *addresses_json);
/* Adds an entry to the search index (op "") or takes it out (op "delete", with
 * exactly the values it was added with). addresses: a mail's (store_mail_
 * addresses_text), NULL for manual entries; names: store_entry_names(). */
bool store_index(ClStore *store, const char *op, gint64 id, const char *subject, const char *text,
                 const char *addresses, const char *names, GError **error);
/* The words an entry is found by besides its text (transfer full): the names of
 * its contact persons and of its attachments as they are now; "" for none,
 * NULL on error. Kept in entries.search_names once indexed (0005-search.sql). */
char *store_entry_names(ClStore *store, gint64 id, GError **error);
/* Sets entries.search_names: the names the index holds now (NULL: not indexed). */
bool store_set_indexed_names(ClStore *store, gint64 id, const char *names, GError **error);
/* Queues the entries that name a contact person for indexing again (its name changed). */
bool store_reindex_contact(ClStore *store, gint64 contact_id, GError **error);
/* A notification for user_id (nothing when 0); actor_id 0: none. */
bool store_notify(ClStore *store, gint64 tenant_id, gint64 entry_id, gint64 user_id,
                  const char *kind, gint64 actor_id, GError **error);

/* store-api.c: JSON of the API's shape */
json_t *store_time_json(gint64 t);       /* ISO 8601 UTC, null for 0 */
json_t *store_text_json(const char *text); /* null for NULL */
json_t *store_ref_json(ClDbStmt *s, int col); /* {"id", "key", "name"} of three columns, or null */
json_t *store_ref_json_as(ClDbStmt *s, int col, const char *key); /* with another key name */
