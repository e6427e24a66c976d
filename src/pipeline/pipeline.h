/*
 * pipeline.h — one message through parse → route → match → store, committed
 * before the caller acknowledges it. Stage: pipeline.
 *
 * Single deliveries (deliver, LMTP) commit each message durably. An import
 * commits a batch: cl_pipeline_batch_begin(), cl_pipeline_process() per
 * message (each in a savepoint), cl_pipeline_batch_commit(); results of a batch
 * count only once it committed.
 */
#pragma once

#include "core/core.h"
#include "match/match.h"
#include "parse/parse.h"
#include "store/store.h"

typedef enum {
    CL_RESULT_PENDING,
    CL_RESULT_SAVED,
    CL_RESULT_DUPLICATE,
    CL_RESULT_REJECTED,
} ClResultStatus;

typedef struct {
    ClResultStatus status;
    const char *reason;  /* rejected: "unknown-tenant", "unknown-sender", "ambiguous-sender",
                          * "malformed", "too-large" (static) */
    char *message;       /* rejected: a sentence for the sender */
    char *tenant_key;    /* when known */
    char *user_key;      /* when known */
    ClEntry *entry;      /* pending/saved: the new entry; duplicate: the existing one */
} ClResult;

const char *cl_result_status_name(ClResultStatus status);
void cl_result_free(ClResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ClResult, cl_result_free)

typedef struct ClPipeline ClPipeline;

/* store, config: (transfer none), must outlive the pipeline. */
ClPipeline *cl_pipeline_new(ClStore *store, const ClConfig *config);
void cl_pipeline_free(ClPipeline *pipeline);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ClPipeline, cl_pipeline_free)

/*
 * Uploads (the HTTP API): only mail whose sender is a user of tenant_id (and
 * user_id, unless 0) is captured; anything else, and mail that is malformed or
 * too large, is answered as rejected (reason "unknown-sender", "forbidden",
 * "malformed", "too-large") without a rejection record: the uploader is told.
 */
void cl_pipeline_restrict(ClPipeline *pipeline, gint64 tenant_id, gint64 user_id);

/*
 * Processes one spooled message (raw: transfer none; its spool file is adopted
 * as a blob or left for cl_raw_message_free to remove). Decisions — rejected,
 * duplicate — are results, not errors.
 * Errors: CL_ERROR_TEMPFAIL when the message could not be stored; nothing of it
 * remains (the caller answers "try again later").
 */
ClResult *cl_pipeline_process(ClPipeline *pipeline, ClRawMessage *raw, const ClEnvelope *envelope,
                              GError **error);

/*
 * The same in two steps, so that parsing can run on other threads:
 * cl_pipeline_prepare() checks the size, parses, decodes and hashes (no store
 * access; safe on any thread; takes raw, transfer full; envelope: transfer
 * none, may be NULL), cl_pipeline_process_prepared() runs route, match and
 * store on the pipeline's thread (prepared: transfer none; pass the same
 * envelope).
 */
typedef struct ClPrepared ClPrepared;
ClPrepared *cl_pipeline_prepare(ClRawMessage *raw, const ClEnvelope *envelope,
                                const ClConfig *config);
ClResult *cl_pipeline_process_prepared(ClPipeline *pipeline, ClPrepared *prepared,
                                       const ClEnvelope *envelope, GError **error);
ClRawMessage *cl_prepared_raw(ClPrepared *prepared);
/* Memory the prepared message holds (raw bytes, decoded attachments). */
gint64 cl_prepared_bytes(ClPrepared *prepared);
void cl_prepared_free(ClPrepared *prepared);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ClPrepared, cl_prepared_free)

/*
 * The text of a captured mail is not stored twice: entry->body is NULL after
 * cl_store_entry_get() and this fills it from the original message, parsed
 * again with the rules it was captured with. Manual entries keep their text.
 * Errors: CL_ERROR_NOT_FOUND when the original is missing, CL_ERROR_TEMPFAIL.
 */
bool cl_pipeline_entry_text(ClStore *store, ClEntry *entry, GError **error);

/* A ClEntryTextFunc for cl_store_index_queued() and cl_store_reindex(): the
 * text cl_pipeline_entry_text() gives (transfer full), NULL when unreadable. */
char *cl_pipeline_index_text(ClStore *store, ClEntry *entry, void *data);

/*
 * Rules 4-7 and 10 for a parsed mail of an accepted tenant, as the pipeline
 * runs them: the mail's recipients, forwarded originals, scan addresses and
 * thread handed to the matcher (rule 10 as `author_id` may see it). For the fuzz
 * target; reads the settings from dir.
 */
ClMatch *cl_pipeline_match(const ClDirectory *dir, const ClMessage *msg, gint64 tenant_id,
                           gint64 author_id, GError **error);

bool cl_pipeline_batch_begin(ClPipeline *pipeline, GError **error);
/* Makes blobs durable (one syncfs) and commits; on failure everything since begin is gone. */
bool cl_pipeline_batch_commit(ClPipeline *pipeline, GError **error);
void cl_pipeline_batch_abort(ClPipeline *pipeline);
