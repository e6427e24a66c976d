/*
 * core.h — what every module of contactlog shares: the CL_ERROR domain, limits,
 * address folding, reasons, the spooled raw message, configuration and the
 * read-only CRM directory that route/ and match/ consult.
 *
 * Nothing here does I/O except the configuration loader (cl_config_load) and
 * the spooled-message release function.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define CL_VERSION_STRING "0.1.0"

/* ---- errors ---------------------------------------------------------------- */

#define CL_ERROR (cl_error_quark())
GQuark cl_error_quark(void);

/* What the caller should do, not what went wrong inside. */
typedef enum {
    CL_ERROR_TEMPFAIL,  /* try again later: busy/locked database, full disk, I/O */
    CL_ERROR_INVALID,   /* the input can never be processed as given */
    CL_ERROR_TOO_LARGE, /* the input exceeds a configured limit */
    CL_ERROR_NOT_FOUND, /* a named record does not exist */
    CL_ERROR_CONFLICT,  /* a unique key or version check failed */
    CL_ERROR_FORBIDDEN, /* not allowed for this user */
    CL_ERROR_CONFIG,    /* bad configuration or command-line usage */
    CL_ERROR_INTERNAL,  /* a bug or an unexpected library failure */
} ClErrorCode;

const char *cl_error_code_name(ClErrorCode code);

/* ---- limits ------------------------------------------------------------------ */

#define CL_DEFAULT_MAX_MESSAGE_BYTES ((gint64)50 * 1024 * 1024)
#define CL_MAX_ADDRESSES_MATCHED 100000 /* distinct recipients looked up per mail */
#define CL_MAX_SUBJECT_BYTES 4096       /* subject kept for matching and display */
#define CL_MAX_TEXT_BYTES (4 * 1024 * 1024) /* text body kept in the entry */
#define CL_MAX_FILENAME_BYTES 200
#define CL_MAP_MAX_BYTES (4 * 1024 * 1024) /* larger mail is streamed in blocks, not read whole */
#define CL_MAX_ATTACHMENTS 500
/* Lines that may be MIME boundaries ("--…") in one mail; more is refused as
 * malformed before parsing: GMime builds every part, and 400,000 tiny parts
 * in a 47 MB mail took 800 MB. */
#define CL_MAX_MIME_BOUNDARIES 10000
#define CL_MAX_SCAN_ADDRESSES 500 /* addresses the whole-message scan collects */
#define CL_MAX_FORWARDS 20        /* attached messages read as forwarded originals */
#define CL_MAX_REFERENCES 100
#define CL_MAX_NAME_CANDIDATES 16 /* records of one name that rule 7 lists as candidates */

/* ---- addresses ----------------------------------------------------------------- */

/*
 * Folds an e-mail address or domain for comparison: Unicode NFC, then case
 * folding, surrounding white space removed. DESIGN §2: addresses and domains
 * compare case-insensitively. Returns NULL for NULL or invalid UTF-8.
 */
char *cl_address_fold(const char *address);

/* The folded domain of an address (after the last '@'), or NULL. */
char *cl_address_domain(const char *address);

/* Unicode-case-insensitive form of names and subjects: NFC, then case folding. */
char *cl_text_fold(const char *text);
/* For searching names as people type them: also without accents and umlaut dots
 * ("Müller", "MULLER" → "muller"; "Straße" → "strasse"; "Yılmaz" → "yilmaz"), as the
 * search index does. */
char *cl_text_fold_search(const char *text);
/* The same with ä, ö, ü spelled out as they are written without umlauts ("Müller",
 * "Mueller" → "mueller"; ß → ss, ı → i as above); *changed (may be NULL): whether the
 * text had any of these letters. Searches compare both forms: "Bäckerei" and "baeckerei"
 * find each other. */
char *cl_text_fold_spelled(const char *text, bool *changed);

typedef enum {
    CL_SUBJECT_PLAIN,   /* no prefix */
    CL_SUBJECT_REPLY,   /* the outermost prefix says reply: "AW: WG: …" */
    CL_SUBJECT_FORWARD, /* the outermost prefix says forward: "WG: AW: …" */
} ClSubjectKind;

/*
 * A subject without its reply and forward prefixes ("AW: WG: Fwd: Angebot" →
 * "Angebot"): Re, AW, Antw, SV, Odp, YNT, Fwd, FW, WG, TR, RV, I, VS, VB, VL,
 * Doorst, ENC, PD, İLT, Rif, R, with "[2]" or "(3)" counters, and Netscape's
 * "[Fwd: …]". *kind_out (may be NULL): what the outermost prefix says.
 */
char *cl_subject_strip(const char *subject, ClSubjectKind *kind_out);

/* The words (maximal runs of letters and digits) of a folded text, at most `max`. */
GStrv cl_text_words(const char *folded, guint max);

/* How rule 7 finds a name: its folded words joined by single spaces ("neues logo"
 * for "Neues Logo!"); NULL when the name has no word. */
char *cl_text_name_key(const char *name);

/*
 * Adds key (transfer full) to a set of strings made with a key free function;
 * false, and key freed, when it is there already: the stored key stays, so
 * callers may keep pointing to it (g_hash_table_add() would free it instead).
 */
bool cl_set_add(GHashTable *set, char *key);

/* Content address of blobs: lower-case hex BLAKE2b-256 (libsodium), 64 characters + NUL. */
#define CL_HASH_HEX_LEN 65
void cl_hash_hex(const void *data, gsize len, char out[CL_HASH_HEX_LEN]);

/* ---- secrets --------------------------------------------------------------------- */

/* An argon2id hash of a password (libsodium's string form, with its
 * parameters). Errors: CL_ERROR_TEMPFAIL when memory for hashing is missing. */
char *cl_password_hash(const char *password, GError **error);
/* Does the password match the hash? Takes as long as hashing does. */
bool cl_password_verify(const char *hash, const char *password);
/* `bytes` random bytes (libsodium), base64url without padding. */
char *cl_random_token(gsize bytes);
/* A secret's hash for storage: hex BLAKE2b-256 (CL_HASH_HEX_LEN). */
#define cl_secret_hash(text, out) cl_hash_hex((text), strlen(text), (out))

/* ---- reasons --------------------------------------------------------------------- */

/* Why an automatic assignment was made: {"field": "lead", "rule": "subject-number", "detail": "20417"} */
typedef struct {
    char *field;
    char *rule;
    char *detail;
} ClReason;

ClReason *cl_reason_new(const char *field, const char *rule, const char *detail);
void cl_reason_free(ClReason *reason);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ClReason, cl_reason_free)

/* ---- envelope and spooled raw message ---------------------------------------------- */

/* What the transport said: MAIL FROM and RCPT TO. All fields may be empty. */
typedef struct {
    char *sender;     /* NULL when unknown */
    GPtrArray *rcpts; /* char *, never NULL */
} ClEnvelope;

ClEnvelope *cl_envelope_new(void);
void cl_envelope_free(ClEnvelope *env);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ClEnvelope, cl_envelope_free)

/*
 * A raw message: a byte range of a regular file — the file it was imported from
 * (an .eml, a range of an mbox) or a spool file under tmp/ that a stream (stdin)
 * was written to. At most the configured maximum is available (`stored`);
 * `size` is what the source offered, so size > stored means too large.
 * The store copies the range into its blob packs; cl_raw_message_free()
 * closes the file and removes a spool file.
 */
typedef struct {
    int fd;            /* owned; -1 when closed */
    gint64 offset;     /* first byte of the message in fd */
    gint64 stored;     /* bytes available from offset */
    gint64 size;       /* bytes offered by the source */
    char *spool_path;  /* spool file to remove when done, or NULL */
    char *origin;      /* "stdin", "file.eml", "box.mbox#12" */
    gint64 limit;      /* the size limit the source applied; 0 when not known */
    GByteArray *data;  /* the stored bytes, after cl_raw_message_load(); else NULL */
    char hash[CL_HASH_HEX_LEN]; /* BLAKE2b of the stored bytes once loaded, else "" */
} ClRawMessage;

bool cl_raw_message_too_large(const ClRawMessage *raw);
/*
 * Reads the stored bytes of a message of at most CL_MAP_MAX_BYTES into
 * raw->data and hashes them, so that parsing and storing share one read and
 * the hash is computed where the bytes are (the parse thread of an import).
 * Larger messages are left as they are (returns true): they are streamed.
 * Errors: CL_ERROR_TEMPFAIL when the file cannot be read.
 */
bool cl_raw_message_load(ClRawMessage *raw, GError **error);
void cl_raw_message_free(ClRawMessage *raw);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ClRawMessage, cl_raw_message_free)

/* ---- logging ---------------------------------------------------------------------- */

/*
 * Log lines for long-running commands (serve, fetch): one line per event on
 * stderr, `ts=… level=… module=…` and then the message, which is written as
 * `event=… key=value …` (STYLE §6), so that journald and log shippers can
 * split the fields. Messages below `level` are dropped.
 */
void cl_log_setup(GLogLevelFlags level);
/* Would a message of this level be written? (GLib formats a message before its
 * writer drops it: hot paths ask first.) */
bool cl_log_enabled(GLogLevelFlags level);
/* "debug", "info", "message", "warning" → the GLib level; -1 when unknown. */
int cl_log_level_parse(const char *name);
/* A value for a key=value field: as is when it is one plain word, else in
 * double quotes with \ and " escaped. */
char *cl_log_value(const char *text);

/* A time as people and programs write it: ISO 8601 / RFC 3339 ("2026-12-03T14:30:00+01:00"),
 * also with a space for the T, without seconds ("2026-12-03 14:30") and without a zone —
 * then in tz. NULL when it is none of these. */
GDateTime *cl_time_parse(const char *text, GTimeZone *tz);

/* write(2) until everything is written; false with errno set. */
bool cl_write_all(int fd, const guint8 *buf, gsize len);

/* Holds a data directory for as long as the returned descriptor is open (a
 * flock(2) of the directory itself): shared by every server that answers from
 * it, exclusive while `contactlog demo` clears it. -1 with errno EWOULDBLOCK
 * when another process holds it the other way (or errno of open(2)). */
int cl_data_dir_hold(const char *dir, bool exclusive);

/* ---- configuration ----------------------------------------------------------------- */

typedef struct {
    char *data_dir;
    gint64 max_message_bytes;
    bool sync;                   /* fsync before acknowledging; off only for throw-away data */
    guint import_batch;          /* messages committed together by `import` */
    /* serve */
    char **lmtp_listen;          /* "HOST:PORT", "unix:PATH"; never NULL */
    char **smtp_listen;
    char *hostname;              /* "" for the system's */
    guint socket_mode;
    guint max_sessions;
    guint max_rcpts;
    gint64 session_memory;
    guint idle_timeout;          /* seconds */
    guint shutdown_timeout;      /* seconds */
    guint commit_batch;
    char *log_level;             /* "debug", "info", "message", "warning" */
    /* serve: the HTTP API */
    char **http_listen;          /* "HOST:PORT"; never NULL */
    guint http_threads;
    gint64 http_max_upload;      /* request bodies with attachments */
    guint session_timeout;       /* seconds a login stays valid unused */
    bool secure_cookies;
    bool trust_proxy;            /* X-Forwarded-For / -Proto are the client's */
    char *web_root;              /* "" for the installed one */
    bool page_cache;             /* keep history pages in memory */
} ClConfig;

/* "a, b;c d" → {"a", "b", "c", "d", NULL}; empty text gives an empty list. */
char **cl_config_split_list(const char *text);

/*
 * Loads configuration: defaults < FILE (or DATA_DIR/contactlog.conf when file is NULL
 * and it exists) < CONTACTLOG_* environment. data_dir must be set.
 * Errors: CL_ERROR_CONFIG with one sentence naming the key.
 */
ClConfig *cl_config_load(const char *data_dir, const char *file, GError **error);
void cl_config_free(ClConfig *config);
/* A deep copy. */
ClConfig *cl_config_copy(const ClConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ClConfig, cl_config_free)

/*
 * Sets one key by its name ("server.lmtp") from text, as the file would:
 * command-line flags go through here. Errors: CL_ERROR_CONFIG.
 */
bool cl_config_set(ClConfig *config, const char *name, const char *value, GError **error);
/* cl_config_set() for each "group.key=value" of overrides (may be NULL). */
bool cl_config_apply(ClConfig *config, char **overrides, GError **error);

/* Parses "50M", "1048576", "2G", "512K". Returns -1 on bad input. */
gint64 cl_parse_size(const char *text);

/* Prints the configuration keys with defaults and help, as a key file. */
char *cl_config_defaults_text(void);

/* ---- metrics (metrics.c) ------------------------------------------------------------
 *
 * Counters and histograms of the process for GET /metrics (Prometheus text
 * format). name: "contactlog_…"; labels: the inside of {…}, already escaped
 * ("reason=\"unknown-sender\""), or NULL. Thread-safe.
 */
void cl_metrics_describe(const char *name, const char *help, bool histogram);
void cl_metrics_count(const char *name, const char *labels, guint64 n);
void cl_metrics_observe(const char *name, const char *labels, double value);
char *cl_metrics_text(void);

/* ---- the CRM directory (read-only view for route/ and match/) -------------------------- */

typedef enum {
    CL_ITEM_TENANT,
    CL_ITEM_USER,
    CL_ITEM_COMPANY,
    CL_ITEM_CONTACT,
    CL_ITEM_LEAD,
    CL_ITEM_PROJECT,
} ClItemKind;

/* One record as the matcher sees it. All strings owned. */
typedef struct {
    ClItemKind kind;
    gint64 id;
    gint64 tenant_id;
    char *key;          /* tenant/user/company/contact/project key; lead number */
    char *name;         /* display name */
    gint64 company_id;  /* contacts, leads, projects; 0 otherwise */
    char *company_key;
    char *tenant_key;
} ClItem;

ClItem *cl_item_new(ClItemKind kind, gint64 id, gint64 tenant_id, const char *key);
ClItem *cl_item_copy(const ClItem *item);
void cl_item_free(ClItem *item);
const char *cl_item_kind_name(ClItemKind kind);
/* The kind of a name of cl_item_kind_name(); -1 when none. */
int cl_item_kind_parse(const char *name);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ClItem, cl_item_free)

/* What rule 10 takes from an earlier entry of the thread (items owned; NULL when none). */
typedef struct {
    gint64 entry_id;
    char *message_id;
    ClItem *company;
    ClItem *lead;
    ClItem *project;
} ClThreadRef;

void cl_thread_ref_clear(ClThreadRef *ref);

typedef struct ClTenantSettings {
    bool tolerant_numbers; /* subject_numbers = tolerant */
    bool auto_save;
} ClTenantSettings;

/*
 * Each lookup returns a new GPtrArray of ClItem (free function set; possibly
 * empty) or NULL with error set (CL_ERROR_TEMPFAIL when the store is busy).
 * Every lookup must be an index lookup in the implementation.
 */
typedef struct {
    /* tenant whose registered domain is `domain` (folded) */
    GPtrArray *(*tenants_by_domain)(void *self, const char *domain, GError **error);
    /* users with this folded address; tenant_id 0 = in all tenants (item->tenant_key set) */
    GPtrArray *(*users_by_address)(void *self, gint64 tenant_id, const char *address, GError **error);
    /* contact persons of the tenant with this folded address (company_id/key set) */
    GPtrArray *(*contacts_by_address)(void *self, gint64 tenant_id, const char *address, GError **error);
    /* leads with this number and projects with this offer number */
    GPtrArray *(*records_by_number)(void *self, gint64 tenant_id, const char *number, GError **error);
    /* leads and projects whose name key (cl_text_name_key) is one of `keys` (NULL-terminated);
     * name set. company_id 0: of the whole tenant; at most CL_MAX_NAME_CANDIDATES per key. */
    GPtrArray *(*records_by_name_keys)(void *self, gint64 tenant_id, gint64 company_id,
                                       const char *const *keys, GError **error);
    /* the tenant's settings */
    bool (*tenant_settings)(void *self, gint64 tenant_id, ClTenantSettings *out, GError **error);
    /* companies of the tenant with this registered (folded) mail domain */
    GPtrArray *(*companies_by_domain)(void *self, gint64 tenant_id, const char *domain,
                                      GError **error);
    /* rule 10: the newest entry of the tenant (not discarded) whose Message-ID is one of
     * `message_ids` (NULL-terminated) and that `author_id` may see: their own, or saved
     * in a company, lead or project (a colleague's pending mail is private to them);
     * false with error set on failure, true and out->entry_id 0 when there is none */
    bool (*thread_entry)(void *self, gint64 tenant_id, gint64 author_id,
                         const char *const *message_ids, ClThreadRef *out, GError **error);
} ClDirectoryOps;

typedef struct {
    const ClDirectoryOps *ops;
    void *self; /* borrowed */
} ClDirectory;

GPtrArray *cl_item_array_new(void);
