/*
 * intake.h — how raw mail enters: a stream (stdin) or a byte range of a file is
 * spooled into the data directory's tmp/; mbox
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

/*
 * The messages found under some paths, in order. Compact (some 50 bytes a
 * message plus its file name), so that listing a million mails stays small.
 */
typedef struct ClIntakeList ClIntakeList;

typedef struct {
    const char *dir;  /* directory the file was found in, "" for a path given as is */
    const char *name; /* file name in dir (or the path as given) */
    gint64 offset;    /* first byte of the message (after an mbox From_ line) */
    gint64 length;
    guint mbox_index; /* the Nth message of an mbox file (from 1); 0: the whole file */
} ClIntakeItem;

ClIntakeList *cl_intake_list_new(void);
void cl_intake_list_free(ClIntakeList *list);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ClIntakeList, cl_intake_list_free)
guint cl_intake_list_length(const ClIntakeList *list);
const ClIntakeItem *cl_intake_list_get(const ClIntakeList *list, guint index);

/* The file an item is in, and how to name it to people ("path" or "path#N"). */
char *cl_intake_item_path(const ClIntakeItem *item);
char *cl_intake_item_origin(const ClIntakeItem *item);

/*
 * Lists the messages under `path`: an .eml (any single message file), an mbox
 * file (starts with "From "), a Maildir (cur/ and new/) or a directory of such
 * files, recursively, in name order. Appends them to `list` and adds the bytes
 * to *total_bytes.
 * Errors: CL_ERROR_NOT_FOUND when path does not exist; CL_ERROR_TEMPFAIL on
 * read errors.
 */
bool cl_intake_list_add(ClIntakeList *list, const char *path, gint64 *total_bytes,
                        GError **error);
