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

/* ---- LMTP and SMTP sessions (session.c) -------------------------------------------
 *
 * One session as a state machine: bytes in (cl_session_feed), replies out
 * (cl_session_output). No sockets and no database: the caller moves bytes,
 * the hooks answer questions. Not thread-safe; one thread per session.
 */

typedef enum {
    CL_PROTOCOL_LMTP, /* RFC 2033: LHLO; one reply per recipient after DATA */
    CL_PROTOCOL_SMTP, /* RFC 5321: EHLO/HELO; one reply after DATA */
} ClProtocol;

typedef struct {
    ClProtocol protocol;
    const char *id;          /* session id for logs and Received lines */
    const char *hostname;    /* ours, in the greeting */
    const char *peer;        /* the client, "127.0.0.1:41234" */
    gint64 max_message_bytes; /* announced in SIZE; larger mail is counted, not kept */
    gint64 memory_bytes;     /* message bytes kept in memory before spilling to a spool file */
    guint max_rcpts;
} ClSessionConfig;

typedef enum {
    CL_RCPT_OK,
    CL_RCPT_UNKNOWN,  /* 550 5.1.1 */
    CL_RCPT_TEMPFAIL, /* 451 4.3.0 */
} ClRcptCheck;

typedef struct ClSession ClSession;

typedef struct {
    /* Is the address (as given in RCPT TO) a drop address? */
    ClRcptCheck (*check_rcpt)(void *user, const char *address);
    /* A new spool file for a message larger than memory_bytes; -1 with error set. */
    int (*spool_file)(void *user, char **path_out, GError **error);
    /* A message is complete (raw, env: transfer full). The session consumes no
     * input until cl_session_delivered() is called with the outcome. */
    void (*deliver)(void *user, ClRawMessage *raw, ClEnvelope *env);
} ClSessionHooks;

/* A reply line: code, enhanced status (RFC 3463), text. */
typedef struct {
    int code;
    const char *status;
    const char *text;
} ClReply;

ClSession *cl_session_new(const ClSessionConfig *config, const ClSessionHooks *hooks, void *user);
void cl_session_free(ClSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ClSession, cl_session_free)

/* The 220 greeting. */
void cl_session_greet(ClSession *session);
/* Consumes input; returns how many bytes were used. Stops early while a
 * message is delivered or once the session is done: keep the rest. */
gsize cl_session_feed(ClSession *session, const char *data, gsize len);
/* The outcome of the delivery hook: one reply per accepted recipient, in
 * RCPT order (LMTP), or the first only (SMTP); with n == 1 the same for all. */
void cl_session_delivered(ClSession *session, const ClReply *replies, guint n);
/* What to send (borrowed): write it and truncate it. */
GString *cl_session_output(ClSession *session);
bool cl_session_waiting(const ClSession *session);
/* QUIT or closed: send the output, then close the connection. */
bool cl_session_done(const ClSession *session);
bool cl_session_in_transaction(const ClSession *session);
guint cl_session_messages(const ClSession *session);
/* Grows with every command line and every kilobyte of data: the server's
 * idle timer starts again only when it moved. */
guint cl_session_progress(const ClSession *session);
/* 421 with the enhanced status and text, then done; while a message is being
 * stored, after its replies. */
void cl_session_close(ClSession *session, const char *status, const char *text);
/* SIGTERM: an idle session is closed (421 4.3.2) now, a transaction in flight
 * once it is answered. */
void cl_session_shutdown(ClSession *session);

/* ---- the mail server (server.c): `contactlog serve` ---------------------------------
 *
 * LMTP and SMTP listeners on TCP and Unix sockets, one thread for all
 * sessions (non-blocking sockets, GLib main loop), parsing on a pool of
 * threads, and one storing thread that commits the messages of concurrent
 * sessions together (group commit). A message is answered only after its
 * entry or rejection is committed; a storage failure answers 451 4.3.0.
 */

typedef struct ClServer ClServer;

/*
 * Opens the store and binds every listener of config (transfer none; copied).
 * config_file: re-read on SIGHUP (may be NULL: the data directory's), and
 * overrides ("group.key=value", the command line's; may be NULL) applied again.
 * Errors: CL_ERROR_CONFIG for a bad listener address, CL_ERROR_TEMPFAIL when
 * a port is taken or the store cannot be opened.
 */
ClServer *cl_server_new(const ClConfig *config, const char *config_file, char **overrides,
                        GError **error);
void cl_server_free(ClServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ClServer, cl_server_free)

/* The bound addresses, "lmtp 127.0.0.1:2424" (port 0 resolved), for logs and tests. */
GStrv cl_server_listeners(ClServer *server);

/*
 * Serves until SIGTERM or SIGINT (or cl_server_stop): then refuses new
 * sessions, lets the transactions in flight finish (at most
 * shutdown_timeout seconds) and returns. SIGHUP reloads the configuration.
 * on_ready (may be NULL) runs once in the serving thread when the listeners
 * accept. Returns false only when the store failed for good.
 */
bool cl_server_run(ClServer *server, void (*on_ready)(ClServer *server, void *data), void *data);
/* From any thread: as SIGTERM. */
void cl_server_stop(ClServer *server);

/* ---- IMAP polling (imap.c) ---- */
/*
 * `contactlog fetch`: a drop mailbox at an IMAP server (RFC 3501; Microsoft 365,
 * Google, Dovecot, …) read with libcurl. One connection per pass:
 * cl_imap_source_pending() connects, logs in, selects the mailbox and lists
 * the UIDs of the messages not captured yet; the caller fetches each, hands
 * it to the pipeline and, only once its result is committed, marks it, so
 * that a message is never lost: one committed but not marked (the process
 * died in between) is listed again by the next pass and the pipeline answers
 * "duplicate". cl_imap_source_close() ends the pass (LOGOUT).
 * Errors are CL_ERROR_TEMPFAIL (server unreachable, login refused, mailbox
 * missing, connection lost: one sentence saying which) unless said otherwise.
 * Not thread-safe: one source per thread.
 */

/* What marks a message as captured. */
typedef enum {
    CL_IMAP_MARK_FLAG,   /* +FLAGS (\Seen $ContactlogCaptured): stays in the mailbox */
    CL_IMAP_MARK_MOVE,   /* into move_to: MOVE (RFC 6851), else COPY + \Deleted + EXPUNGE */
    CL_IMAP_MARK_DELETE, /* \Deleted + EXPUNGE */
} ClImapMark;

typedef struct {
    const char *url;      /* imap://HOST[:PORT]/MAILBOX or imaps://…; mailbox UTF-8,
                           * percent-encoded (RFC 5092); none: INBOX */
    const char *user;
    const char *password; /* or NULL with bearer_token */
    const char *bearer_token; /* OAuth 2.0 access token (SASL XOAUTH2/OAUTHBEARER), or NULL */
    ClImapMark mark;
    const char *move_to;  /* CL_IMAP_MARK_MOVE: the folder (UTF-8); created when missing */
    gint64 max_message_bytes; /* larger mail is counted, not kept (rejected as too-large) */
    gint64 memory_bytes;  /* message bytes kept in memory before spilling to a spool file */
} ClImapConfig;

typedef struct ClImapSource ClImapSource;

/*
 * Checks config (copied; nothing is sent yet). imap:// to a host other than
 * loopback requires STARTTLS, so that the password never crosses the network
 * in the clear; imaps:// verifies the server's certificate.
 * Errors: CL_ERROR_CONFIG for a URL that is not imap[s]://HOST/MAILBOX (a
 * user or password in it, a ;UID=, a query) or a move_to that is the mailbox.
 */
ClImapSource *cl_imap_source_new(const ClImapConfig *config, GError **error);
void cl_imap_source_free(ClImapSource *source);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ClImapSource, cl_imap_source_free)

/* The mailbox as named in the URL (UTF-8, decoded), for logs and messages. */
const char *cl_imap_source_mailbox(const ClImapSource *source);
/* Replaces the OAuth 2.0 token (refreshed by another program) for the next connection. */
void cl_imap_source_set_bearer_token(ClImapSource *source, const char *token);

/*
 * Connects (when not connected), selects the mailbox and returns the UIDs
 * (guint32, ascending; transfer full) of the messages that are neither
 * captured ($ContactlogCaptured) nor \Deleted.
 * Errors: CL_ERROR_TEMPFAIL; CL_ERROR_CONFIG when the mailbox cannot be
 * marked (read-only; a server that keeps no keywords and no --move-to/--delete).
 */
GArray *cl_imap_source_pending(ClImapSource *source, GError **error);

/* "imap:MAILBOX;UIDVALIDITY=V;UID=N", where a message came from (after pending()). */
char *cl_imap_source_origin(const ClImapSource *source, guint32 uid);

/*
 * Fetches one message of the last pending() into a raw message (transfer
 * full; in memory, or a spool file in store's tmp/ when larger than
 * memory_bytes), CRLF line ends turned into LF as for mail from LMTP. At
 * most max_message_bytes are kept, the rest counted. libcurl fetches
 * BODY[], so the server sets \Seen; cl_imap_source_release() undoes that.
 * Errors: CL_ERROR_NOT_FOUND when the message is gone (expunged meanwhile);
 * CL_ERROR_TEMPFAIL (connection, spool file).
 */
ClRawMessage *cl_imap_source_fetch(ClImapSource *source, ClStore *store, guint32 uid,
                                   GError **error);

/* Marks a message whose result is committed, as configured. Errors: CL_ERROR_TEMPFAIL. */
bool cl_imap_source_mark(ClImapSource *source, guint32 uid, GError **error);

/*
 * A fetched message that could not be stored stays for the next pass:
 * clears the \Seen that the fetch set (only when it did). Errors: CL_ERROR_TEMPFAIL.
 */
bool cl_imap_source_release(ClImapSource *source, guint32 uid, GError **error);

/* Ends the pass: logs out and closes the connection (NULL-safe, idempotent). */
void cl_imap_source_close(ClImapSource *source);
