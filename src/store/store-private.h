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

/* store-entry.c */
ClItem *store_item_by_id(ClStore *store, ClItemKind kind, gint64 id, GError **error);
