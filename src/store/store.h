/*
 * store.h — everything contactlog keeps: master data, entries, attachments,
 * raw messages (content-addressed blob files), rejections. Stage: store.
 * Implements the read-only ClDirectory for route/ and match/.
 *
 * Data directory layout: contactlog.db (SQLite, WAL), blobs/pack-NNNNNN
 * (append-only packs of content-addressed blobs, BLAKE2b-256), tmp/ (spool
 * files of messages read from a stream).
 * One ClStore per thread. Errors: CL_ERROR_TEMPFAIL when the database is busy,
 * the disk full or an I/O call fails; CL_ERROR_NOT_FOUND, CL_ERROR_CONFLICT,
 * CL_ERROR_INVALID as documented per function.
 */
#pragma once

#include "core/core.h"

typedef struct ClStore ClStore;

typedef enum {
    CL_ENTRY_PENDING,
    CL_ENTRY_SAVED,
    CL_ENTRY_DISCARDED,
} ClEntryState;

typedef enum {
    CL_CHANNEL_PHONE,
    CL_CHANNEL_EMAIL,
    CL_CHANNEL_MEETING,
    CL_CHANNEL_VIDEO,
    CL_CHANNEL_LETTER,
    CL_CHANNEL_OTHER,
} ClChannel;

const char *cl_entry_state_name(ClEntryState state);
const char *cl_channel_name(ClChannel channel);
/* Accepts the English names and the German ones (Telefon, E-Mail, Termin, …). -1 if unknown. */
int cl_channel_parse(const char *text);

typedef struct {
    gint64 id;
    char *name;
    char *content_type;
    gint64 size;
    char *hash;
} ClEntryAttachment;

typedef struct {
    gint64 id;
    gint64 tenant_id;
    char *tenant_key;
    ClEntryState state;
    bool from_mail;        /* origin: captured mail (true) or manual entry */
    ClChannel channel;
    gint64 contact_time;   /* Unix time */
    gint64 created_at;
    gint64 updated_at;
    ClItem *author;        /* user */
    ClItem *company;       /* NULL when none */
    GPtrArray *contacts;   /* ClItem *, primary first */
    ClItem *lead;          /* key = number */
    ClItem *project;
    char *followup;        /* YYYY-MM-DD or NULL */
    GPtrArray *notify;     /* ClItem * users */
    char *subject;
    char *body;
    char *original_text;   /* forwarded mail: the original's text; like body of captured
                            * mail, not stored but read from the original message */
    bool body_from_html;
    bool forwarded;
    char *message_id;
    char *content_hash;    /* mail without Message-ID (rule 9), else NULL */
    char *in_reply_to;
    char *addresses_json;  /* JSON object text, NULL for manual entries */
    GPtrArray *candidates; /* ClItem * leads/projects */
    GPtrArray *reasons;    /* ClReason * */
    GPtrArray *attachments; /* ClEntryAttachment * */
    char *raw_hash;
    gint64 raw_size;
    gint64 version;
    char *preview;         /* the first characters of the text, for lists */
    bool followup_done;    /* the follow-up was dealt with: kept, no longer due */
    char *reasons_text;    /* reasons and candidates as stored (JSON), when read with
                            * raw_json: then reasons and candidates stay empty */
    char *candidates_text;
    char *index_text;      /* insert only: the text of captured mail for the search index
                            * and the preview (not stored: body stays NULL); NULL for
                            * manual entries, whose body is indexed */
} ClEntry;

ClEntry *cl_entry_new(void);
void cl_entry_free(ClEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ClEntry, cl_entry_free)

typedef struct {
    gint64 tenant_id;      /* 0 when the tenant is unknown */
    const char *reason;    /* "unknown-tenant", … */
    const char *message;
    const char *sender;
    const char *envelope_json;
    const char *subject;
    const char *message_id;
    const char *origin;
    const char *raw_hash; /* NULL when not kept */
    gint64 raw_size;
} ClRejection;

/* ---- opening, transactions ---------------------------------------------------- */

/* Opens (creating when needed) the data directory and migrates the schema. */
ClStore *cl_store_open(const ClConfig *config, GError **error);
void cl_store_free(ClStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ClStore, cl_store_free)

/* The read-only view route/ and match/ use; valid while the store lives. */
ClDirectory cl_store_directory(ClStore *store);

bool cl_store_begin(ClStore *store, GError **error);
bool cl_store_commit(ClStore *store, GError **error);
void cl_store_rollback(ClStore *store);
/* Bulk mode (import): the database log is copied into the database file less
 * often, in larger steps. Off again: copied now. Durability is the same. */
void cl_store_set_bulk(ClStore *store, bool on);

/*
 * Checkpoints of the database log elsewhere: this store's COMMITs no longer
 * copy the log into the database (SQLite does every 1000 pages, inside the
 * COMMIT that crosses the line); cl_store_wal_pages() (any thread) says how
 * large the log has grown, and cl_store_checkpoint() on another ClStore, on
 * another thread, copies it without blocking writers. The mail server does
 * this so that no acknowledgement waits for a checkpoint.
 */
void cl_store_defer_checkpoints(ClStore *store);
/* This store's transactions let the process's other writers go first (a
 * thread that works behind them, such as the search indexer). */
void cl_store_set_background(ClStore *store);
guint cl_store_wal_pages(ClStore *store);
bool cl_store_checkpoint(ClStore *store, GError **error);

/*
 * Has anything been committed — through this store or by any other connection
 * or process — since the previous call on this store? true on the first call
 * and whenever it cannot tell. For caches of what was read (the API's pages).
 */
bool cl_store_changed(ClStore *store);

/* A nested step inside a transaction (one message of an import batch). */
bool cl_store_savepoint(ClStore *store, GError **error);
bool cl_store_release(ClStore *store, GError **error);
void cl_store_rollback_to(ClStore *store);

/* Test hook: the Nth following database call fails with CL_ERROR_TEMPFAIL.
 * Returns how many calls the previous setting still had to go (0: it fired). */
guint cl_store_fail_after(ClStore *store, guint n);

/* ---- blobs ----------------------------------------------------------------------
 *
 * Raw messages and attachments are content-addressed blobs (BLAKE2b-256),
 * appended to pack files blobs/pack-NNNNNN and indexed in the database, so a
 * capture costs no file creation: one append, one fdatasync per commit.
 * Blob writes happen inside a transaction (which holds the database write lock,
 * so processes never append concurrently); the pack is made durable before the
 * COMMIT that refers to it, and a rollback cuts the pack back.
 */

/* Spool directory for streams (tmp/, same file system). */
const char *cl_store_tmp_dir(ClStore *store);

/*
 * Removes the spool files in tmp/ that a killed process left behind; returns
 * how many. Safe while other processes spool: a spool file is only read
 * through the descriptor of the process that wrote it, which keeps an
 * unlinked file readable.
 */
guint cl_store_tmp_clean(ClStore *store);

/* Creates a new spool file; returns its fd (read-write) and path. */
int cl_store_tmp_file(ClStore *store, char **path_out, GError **error);

/*
 * Blobs of at most max_bytes are kept in the database instead of a pack, so
 * that the COMMIT is their only fsync (the mail server's store: a 10 KB mail
 * then costs one fsync, not two). 0 (the default): every blob goes to a pack.
 */
void cl_store_set_inline_blobs(ClStore *store, gint64 max_bytes);

/* Stores bytes [offset, offset+length) of fd as a blob (no-op when the content
 * is already stored). Inside a transaction. */
bool cl_store_blob_put_fd(ClStore *store, int fd, gint64 offset, gint64 length,
                          char hash_out[CL_HASH_HEX_LEN], GError **error);

/* Stores bytes whose BLAKE2b hash the caller computed (cl_hash_hex); nothing is
 * written when the content is already stored. Inside a transaction. */
bool cl_store_blob_put_data(ClStore *store, const guint8 *data, gsize length,
                            const char hash[CL_HASH_HEX_LEN], GError **error);

/* Streaming: returns the pack's fd positioned where the blob starts (transfer
 * none); write the content to it, then call finish (or abort). */
int cl_store_blob_begin(ClStore *store, GError **error);
bool cl_store_blob_finish(ClStore *store, char hash_out[CL_HASH_HEX_LEN], gint64 *size_out,
                          GError **error);
void cl_store_blob_abort(ClStore *store);

/* Writes a blob's bytes to out_fd. Errors: CL_ERROR_NOT_FOUND. */
bool cl_store_blob_write_to(ClStore *store, const char *hash, int out_fd, GError **error);

/* Opens the pack file holding a blob (read-only; the caller closes it) and
 * tells where in it the blob is; a blob kept in the database comes as an
 * anonymous in-memory file (memfd) at offset 0. Returns -1 on error
 * (CL_ERROR_NOT_FOUND). */
int cl_store_blob_open(ClStore *store, const char *hash, gint64 *offset_out, gint64 *size_out,
                       GError **error);

/* ---- capture ------------------------------------------------------------------------- */

/*
 * Rule 9: the id of the entry a mail of `author_id` with this Message-ID
 * (content hash) duplicates — the author's own entry of it, else a saved
 * one of a company, lead or project (one every user sees) — 0 when none,
 * -1 on error. Colleagues' private entries (pending, discarded, own
 * history) are never found: a mail of another sender is another mail.
 */
gint64 cl_store_entry_find_content_hash(ClStore *store, gint64 tenant_id, gint64 author_id,
                                        const char *hash, GError **error);
gint64 cl_store_entry_find_message_id(ClStore *store, gint64 tenant_id, gint64 author_id,
                                      const char *message_id, GError **error);

/*
 * Inserts an entry with its contacts, notified users, reasons, candidates and
 * attachments (records that already have ids). Sets entry->id.
 * Errors: CL_ERROR_CONFLICT when the author already has this Message-ID.
 */
bool cl_store_entry_insert(ClStore *store, ClEntry *entry, GError **error);

/* 1 when a rejection of the same original message is recorded — the same raw
 * hash, or the same Message-ID from the same sender (either may be NULL) —,
 * 0 when not, -1 on error. */
int cl_store_rejection_known(ClStore *store, const char *raw_hash, const char *message_id,
                             const char *sender, GError **error);
bool cl_store_rejection_insert(ClStore *store, const ClRejection *rejection, GError **error);

/* ---- master data ------------------------------------------------------------------------ */

typedef struct {
    guint created;
    guint updated;
    guint unchanged;
} ClLoadStats;

/*
 * Creates or updates everything in a master-data file (format of
 * masterdata.example.json), idempotent by key, in one transaction.
 * Errors: CL_ERROR_INVALID with the JSON path of the bad value;
 * CL_ERROR_CONFLICT when a domain or address key is owned elsewhere.
 */
bool cl_store_load_masterdata(ClStore *store, const char *path, ClLoadStats *stats,
                              GError **error);

/* Is this folded address one of the drop addresses? */
bool cl_store_is_drop_address(ClStore *store, const char *folded, GError **error);

/* ---- reading and review ----------------------------------------------------------------- */

/*
 * Finds a record for a command-line argument: a key (lead: number; user: key or
 * address). tenant_id 0 searches all tenants.
 * Errors: CL_ERROR_NOT_FOUND; CL_ERROR_CONFLICT when several tenants have it.
 */
ClItem *cl_store_find(ClStore *store, ClItemKind kind, gint64 tenant_id, const char *key,
                      GError **error);

/* One whole entry. tenant_id 0 = any tenant. Errors: CL_ERROR_NOT_FOUND. */
ClEntry *cl_store_entry_get(ClStore *store, gint64 tenant_id, gint64 id, GError **error);

typedef struct {
    gint64 tenant_id;     /* required */
    const char *search;   /* full-text search (cl_store_search_query()): entries of the
                           * tenant that viewer_id may see; the other filters are unused */
    gint64 viewer_id;
    gint64 author_id;     /* inbox: pending entries of this user */
    gint64 company_id;    /* history: saved entries of a company / lead / project */
    gint64 lead_id;
    gint64 project_id;
    bool own_history;     /* saved entries of author_id without company/lead/project */
    guint limit;          /* 0 = 50 */
    gint64 before_id;     /* cursor: entries older than this id (0 = from the newest) */
    gint64 before_time;   /* the contact time of before_id when the caller knows it
                           * (an API cursor carries both); 0: looked up */
    bool raw_json;        /* reasons and candidates as stored text (reasons_text,
                           * candidates_text), not parsed: lists of the API */
    gint64 entry_id;      /* just this entry (cl_store_entry_rows) */
    bool followups;       /* follow-ups of author_id, earliest first, from..to: */
    const char *followup_from; /* YYYY-MM-DD or NULL */
    const char *followup_to;
    bool include_done;
} ClEntryQuery;

/*
 * Entries newest first (contact time, then id), with contacts, users to notify
 * and attachments, but without the text (body is NULL, preview set). Four
 * queries for a page, whatever its length.
 * Errors: CL_ERROR_NOT_FOUND when before_id names no entry of the tenant;
 * CL_ERROR_INVALID for a search that is not a valid query.
 */
GPtrArray *cl_store_entries_list(ClStore *store, const ClEntryQuery *query, GError **error);

/*
 * One entry as a page of the API shows it: every field borrowed from the
 * database row, valid during the callback only. contacts, notify and
 * attachments are JSON arrays (never NULL) of {"id", "key", "name"} and
 * {"id", "name", "content_type", "size", "url"}; reasons and candidates the
 * stored JSON (or NULL).
 */
typedef struct {
    gint64 id;
    gint64 tenant_id;
    const char *state;
    bool from_mail;
    const char *channel;
    gint64 contact_time, created_at, updated_at;
    gint64 author_id;
    const char *author_key, *author_name;
    gint64 company_id; /* 0: none */
    const char *company_key, *company_name;
    gint64 lead_id;
    const char *lead_number, *lead_name;
    gint64 project_id;
    const char *project_key, *project_name, *project_number;
    const char *followup;
    bool followup_done;
    const char *subject, *preview;
    bool forwarded, has_original, text_from_html;
    const char *reasons, *candidates;
    gint64 version;
    const char *contacts, *notify, *attachments;
    const char *addresses; /* pending mail: the mail's addresses (JSON, without the
                            * envelope), for the review; else NULL */
} ClEntryRow;

typedef void (*ClEntryRowFunc)(const ClEntryRow *row, void *data);

/*
 * The page of a query (as cl_store_entries_list, or one entry_id) row by row,
 * without an object per field: five statements a page, whatever its length.
 * *more_out (may be NULL): another page follows. The hot path of the HTTP
 * API. Errors as cl_store_entries_list().
 */
bool cl_store_entry_rows(ClStore *store, const ClEntryQuery *query, ClEntryRowFunc each,
                         void *data, bool *more_out, GError **error);

/* What a user has waiting: pending mail, follow-ups due by `today` (YYYY-MM-DD)
 * and not done, unread notifications. */
bool cl_store_user_counts(ClStore *store, gint64 tenant_id, gint64 user_id, const char *today,
                          gint64 *pending_out, gint64 *due_out, gint64 *unread_out,
                          GError **error);

/*
 * Who may see an entry (DESIGN §1, issue 5): pending and discarded mail and the
 * user's own history (saved without company, lead or project) only its author;
 * saved entries of a company, lead or project every user of the tenant. Admins
 * too see nobody's private items.
 */
bool cl_entry_visible(const ClEntry *entry, gint64 user_id);

/*
 * Turns what a user typed into a full-text query: every word must occur, the
 * last one may be the start of a word ("angeb" finds "Angebot"); quotes keep
 * a phrase. NULL when the text has no word.
 */
char *cl_store_search_query(const char *text);

typedef struct {
    gint64 company_id;   /* 0 = keep, -1 = clear (and the lead/project and contacts with it) */
    GPtrArray *contact_ids; /* gint64 *; NULL = keep */
    gint64 lead_id;      /* 0 = keep, -1 = clear */
    gint64 project_id;   /* 0 = keep, -1 = clear */
    int channel;         /* -1 = keep */
    gint64 version;      /* 0 = do not check */
    /* edits (cl_store_entry_update); 0 / NULL = keep */
    const char *subject;
    const char *body;    /* manual entries only */
    gint64 contact_time;
    const char *followup; /* YYYY-MM-DD, "" = none */
    int followup_done;   /* 1 = done, -1 = due again */
    GPtrArray *notify_ids; /* gint64 *: users to notify; those new to the list are notified */
    GPtrArray *add_attachments; /* ClEntryAttachment * (blobs already stored): appended */
    GArray *remove_attachments; /* gint64 attachment ids to remove */
    gint64 actor_id;     /* who makes the change (notifications name them) */
    /* The first assignment of an entry made in the same transaction (POST
     * /api/v1/entries): part of its making, so the version stays 1. */
    bool initial;
} ClEntryChange;

/* A change that keeps everything (channel -1), to fill in. */
#define CL_ENTRY_CHANGE_INIT { .channel = -1 }

/*
 * Review: saves a pending entry (DESIGN §2 rule 8), applying changes. Users
 * to notify are notified now; the author's notification of the captured mail
 * counts as read (so does it when the mail is discarded).
 * Errors: CL_ERROR_NOT_FOUND; CL_ERROR_CONFLICT when not pending or the version
 * differs; CL_ERROR_INVALID when a changed record belongs to another company.
 */
bool cl_store_entry_confirm(ClStore *store, gint64 tenant_id, gint64 id,
                            const ClEntryChange *change, GError **error);

/*
 * Edits an entry in any state, as cl_store_entry_confirm() but without saving
 * a pending one; the search index follows subject and text. body: manual
 * entries only (CL_ERROR_INVALID for mail, whose text is the original's).
 */
bool cl_store_entry_update(ClStore *store, gint64 tenant_id, gint64 id,
                           const ClEntryChange *change, GError **error);

/* Discards a pending entry: it leaves the inbox, and the same mail arriving
 * again stays a duplicate. Errors: NOT_FOUND; CONFLICT when not pending or the
 * version (0: not checked) differs. */
bool cl_store_entry_discard(ClStore *store, gint64 tenant_id, gint64 id, gint64 version,
                            GError **error);

/*
 * Deletes an entry with its contacts, attachments' records and notifications.
 * mail_text: the text of captured mail as it was indexed (read from the
 * original), so that it leaves the search index; NULL for manual entries.
 * The blobs stay in their packs. Errors: NOT_FOUND; CONFLICT when the version
 * (0: not checked) differs.
 */
bool cl_store_entry_delete(ClStore *store, gint64 tenant_id, gint64 id, gint64 version,
                           const char *mail_text, GError **error);

/*
 * Follow-ups due ("Wiedervorlagen") of a user's entries from `from` to `to`
 * (YYYY-MM-DD, inclusive; NULL: open-ended), earliest first, not those done
 * unless include_done. At most limit (0: 200).
 */
GPtrArray *cl_store_followups(ClStore *store, gint64 tenant_id, gint64 user_id, const char *from,
                              const char *to, bool include_done, guint limit, GError **error);

/* Is the text a valid date YYYY-MM-DD? */
bool cl_date_valid(const char *text);

/* A record by id, only when it is the tenant's (else CL_ERROR_NOT_FOUND). */
ClItem *cl_store_item_get(ClStore *store, ClItemKind kind, gint64 tenant_id, gint64 id,
                          GError **error);

/* An attachment of an entry of the tenant. Errors: CL_ERROR_NOT_FOUND. */
ClEntryAttachment *cl_store_attachment_get(ClStore *store, gint64 tenant_id, gint64 entry_id,
                                           gint64 attachment_id, GError **error);
void cl_entry_attachment_free(ClEntryAttachment *attachment);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ClEntryAttachment, cl_entry_attachment_free)

/* The text of captured mail (transfer full), read from its original; NULL when
 * it cannot be read. */
typedef char *(*ClEntryTextFunc)(ClStore *store, ClEntry *entry, void *data);

/* FTS5's integrity check of the search index, on the store's connection (it
 * needs the tokenizer registered there). Errors: CL_ERROR_INTERNAL when it
 * finds the index damaged. */
bool cl_store_index_check(ClStore *store, GError **error);

/*
 * Rebuilds the search index and the previews of every entry. For databases
 * made before the index existed, and after a change of how it is built
 * (0005-search.sql). Inside no transaction: commits in batches.
 */
bool cl_store_reindex(ClStore *store, ClEntryTextFunc text, void *data, guint *count_out,
                      GError **error);

/*
 * Captured mail is indexed at once by subject and addresses; its text waits
 * in a queue (indexing it doubled the cost of capture). This indexes the
 * text of at most max queued mails (0: 16): the originals are read and parsed
 * first, then one short transaction adds them. Returns how many queued mails
 * it took (0: none waits), or -1. Safe to run from several threads and
 * processes at once.
 */
gint64 cl_store_index_queued(ClStore *store, ClEntryTextFunc text, void *data, guint max,
                             GError **error);
/* How many mails wait for their text to be indexed; -1 on error. */
gint64 cl_store_index_backlog(ClStore *store, GError **error);

/* Rejected mail, newest first; tenant_id 0 = all. Each row is a JSON object text. */
GPtrArray *cl_store_rejections_list(ClStore *store, gint64 tenant_id, guint limit,
                                    GError **error);

/* All users (tenant_id 0: of every tenant), by tenant then key. tenant_key set. */
GPtrArray *cl_store_users_list(ClStore *store, gint64 tenant_id, GError **error);

/* ---- users, sessions, tokens, notifications (the HTTP API; store-api.c) ----------------- */

typedef struct {
    gint64 id;
    gint64 tenant_id;
    char *tenant_key;
    char *tenant_name;
    char *key;
    char *name;
    bool admin;
    bool active;
    char *locale;        /* "de" or "en" */
    char *email;         /* the first address, for display */
} ClUser;

void cl_user_free(ClUser *user);
ClUser *cl_user_copy(const ClUser *user);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ClUser, cl_user_free)

/*
 * Login: the user who has this address (business or private, compared
 * folded), in whichever tenant; the argon2id hash in *password_hash_out (NULL
 * when the user has no password). Errors: CL_ERROR_NOT_FOUND when no user or
 * several users have the address.
 */
ClUser *cl_store_user_for_login(ClStore *store, const char *address, char **password_hash_out,
                                GError **error);
/* A user of the tenant. Errors: CL_ERROR_NOT_FOUND. */
ClUser *cl_store_user_get(ClStore *store, gint64 tenant_id, gint64 user_id, GError **error);
/* The user's argon2id hash in *hash_out (NULL when none). */
bool cl_store_user_password_hash(ClStore *store, gint64 tenant_id, gint64 user_id,
                                 char **hash_out, GError **error);
/* Sets the password hash (cl_password_hash), ends the user's sessions but keep_session (a
 * session hash, may be NULL: all of them) and revokes all the user's API tokens. */
bool cl_store_user_set_password(ClStore *store, gint64 tenant_id, gint64 user_id,
                                const char *hash, const char *keep_session, GError **error);
bool cl_store_user_set_locale(ClStore *store, gint64 tenant_id, gint64 user_id,
                              const char *locale, GError **error);

/* Sessions, known by the BLAKE2b hash (hex) of the cookie's token. */
bool cl_store_session_create(ClStore *store, const char *hash, const ClUser *user,
                             const char *csrf, gint64 expires_at, const char *client,
                             GError **error);
/*
 * The user of a session that has not expired at `now`, its CSRF token, when it
 * was last seen and when it expires (*expires_out, may be NULL). Errors:
 * CL_ERROR_NOT_FOUND (no such session, expired, or the user was deactivated).
 */
ClUser *cl_store_session_user(ClStore *store, const char *hash, gint64 now, char **csrf_out,
                              gint64 *seen_at_out, gint64 *expires_out, GError **error);
/* Moves a session's expiry on (sliding sessions); also removes expired sessions of everyone. */
bool cl_store_session_touch(ClStore *store, const char *hash, gint64 now, gint64 expires_at,
                            GError **error);
bool cl_store_session_delete(ClStore *store, const char *hash, GError **error);

/* Personal API tokens. Returns the new token's id or -1. */
gint64 cl_store_token_create(ClStore *store, const ClUser *user, const char *name,
                             const char *hash, const char *prefix, gint64 expires_at,
                             GError **error);
/* The user of a token that has not expired and when it expires (*expires_out, may
 * be NULL; 0: never); notes when it was used (at most once a minute). Errors:
 * CL_ERROR_NOT_FOUND. */
ClUser *cl_store_token_user(ClStore *store, const char *hash, gint64 now, gint64 *expires_out,
                            GError **error);
/* Errors: CL_ERROR_NOT_FOUND when the user has no such token. */
bool cl_store_token_delete(ClStore *store, gint64 tenant_id, gint64 user_id, gint64 id,
                           GError **error);

/* jansson's object type: the functions below hand out JSON of the API's shape
 * (api/ turns it into responses; jansson.h stays inside store/ and api/). */
typedef struct json_t json_t;

/* [{"id", "name", "prefix", "created", "used", "expires"}] of a user's tokens. */
json_t *cl_store_tokens_json(ClStore *store, gint64 tenant_id, gint64 user_id, GError **error);

/*
 * A user's notifications, newest first: [{"id", "kind", "created", "read",
 * "actor": {…}|null, "entry": {"id", "subject", "company", "lead", "project"}}];
 * only unread ones when unread_only; before_id: a cursor (0 = from the newest).
 */
json_t *cl_store_notifications_json(ClStore *store, gint64 tenant_id, gint64 user_id,
                                    bool unread_only, gint64 before_id, guint limit,
                                    GError **error);
gint64 cl_store_notifications_unread(ClStore *store, gint64 tenant_id, gint64 user_id,
                                     GError **error);
/* Marks one (id > 0) or all (id 0) notifications of the user read.
 * Errors: CL_ERROR_NOT_FOUND when id is not the user's. */
bool cl_store_notifications_read(ClStore *store, gint64 tenant_id, gint64 user_id, gint64 id,
                                 GError **error);

/* ---- companies, contacts, leads, projects, users, the tenant (store-masterdata.c) ----- */

typedef struct {
    gint64 tenant_id;
    const char *query;  /* a word of the name, key, number, address or domain; NULL: all */
    gint64 company_id;  /* contacts, leads, projects of one company; 0: all */
    guint offset;
    guint limit;        /* 0 = 50 */
} ClRecordQuery;

/*
 * One record as the API shows it: company {id, key, name, domains}, contact
 * {id, key, name, phone, emails, company}, lead {id, number, name, status,
 * company}, project {id, key, number, name, offers, company}, user {id, key,
 * name, role, emails, active, locale}. Errors: CL_ERROR_NOT_FOUND.
 */
json_t *cl_store_record_json(ClStore *store, ClItemKind kind, gint64 tenant_id, gint64 id,
                             GError **error);
/* Records by name: {"items": [...], "next_offset": N|null}. */
json_t *cl_store_records_json(ClStore *store, ClItemKind kind, const ClRecordQuery *query,
                              GError **error);
/*
 * Creates (id 0) or changes a record from fields in the API's shape (those
 * given replace, others stay; "company" is an id; a missing key is made from
 * the name, a missing lead number is the next free one). Inside the caller's
 * transaction. Returns the id or -1.
 * Errors: CL_ERROR_INVALID naming the field; CL_ERROR_CONFLICT when a key,
 * address or domain is taken; CL_ERROR_NOT_FOUND.
 */
gint64 cl_store_record_save(ClStore *store, ClItemKind kind, gint64 tenant_id, gint64 id,
                            json_t *fields, GError **error);
/* {"id", "key", "name", "domains", "settings": {"subject_numbers", "auto_save"}} */
json_t *cl_store_tenant_json(ClStore *store, gint64 tenant_id, GError **error);
/* Changes name, domains, settings (inside the caller's transaction). */
bool cl_store_tenant_save(ClStore *store, gint64 tenant_id, json_t *fields, GError **error);
