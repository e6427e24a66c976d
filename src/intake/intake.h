/*
 * intake.h — how raw mail enters: a stream (stdin) or a byte range of a file is
 * spooled into the data directory's tmp/ while its SHA-256 is computed; mbox
 * files are split into messages; Maildir folders and directories are listed.
 * Stage: intake. Hands ClRawMessage to the pipeline; knows nothing of tenants.
 */
#pragma once

#include "core/core.h"
#include "store/store.h"

/*
 * Copies up to max_bytes from src into a new spool file, reading until EOF (or
 * `length` bytes from `offset` when length >= 0, with pread). Bytes beyond
 * max_bytes are read and counted but not kept, so the sender is not cut off
 * mid-stream and the message can be rejected as too large.
 * Errors: CL_ERROR_TEMPFAIL when the spool file cannot be written (full disk)
 * or the source cannot be read.
 */
ClRawMessage *cl_intake_spool(ClStore *store, int src_fd, gint64 offset, gint64 length,
                              gint64 max_bytes, const char *origin, GError **error);

typedef struct {
    char *path;      /* file the message is in */
    gint64 offset;   /* first byte of the message (after an mbox From_ line) */
    gint64 length;
    char *origin;    /* "path" or "path#N" for the Nth message of an mbox */
} ClIntakeItem;

void cl_intake_item_free(ClIntakeItem *item);

/*
 * Lists the messages under `path`: an .eml (any single message file), an mbox
 * file (starts with "From "), a Maildir (cur/ and new/) or a directory of such
 * files, recursively, in name order. Appends ClIntakeItem * to `items` and adds
 * the bytes to *total_bytes.
 * Errors: CL_ERROR_NOT_FOUND when path does not exist; CL_ERROR_TEMPFAIL on
 * read errors.
 */
bool cl_intake_list(const char *path, GPtrArray *items, gint64 *total_bytes, GError **error);
