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
 * Copies a stream (stdin, a socket) into a new spool file under the store's
 * tmp/, reading until EOF. At most max_bytes are kept; the rest is read and
 * counted, so the sender is not cut off mid-stream and the message can be
 * rejected as too large.
 * Errors: CL_ERROR_TEMPFAIL when the spool file cannot be written (full disk)
 * or the source cannot be read.
 */
ClRawMessage *cl_intake_spool(ClStore *store, int src_fd, gint64 max_bytes, const char *origin,
                              GError **error);

/*
 * A message that already is in a regular file (an .eml, a range of an mbox):
 * nothing is copied. length -1: to the end of the file. Errors: CL_ERROR_TEMPFAIL when the file cannot be opened.
 */
ClRawMessage *cl_intake_open(const char *path, gint64 offset, gint64 length, gint64 max_bytes,
                             const char *origin, GError **error);

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
