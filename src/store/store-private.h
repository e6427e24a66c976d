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
    int dir_fd;           /* the data directory, for syncfs() */
    bool sync;
    GHashTable *made_dirs; /* blob prefix directories known to exist */
};

/* store-entry.c */
ClItem *store_item_by_id(ClStore *store, ClItemKind kind, gint64 id, GError **error);
