/*
 * parse.h — a plain C view of one mail (ClMessage). Stage: parse.
 * parse/ is the only code that includes GMime (and libxml2 for HTML-to-text).
 * It reads the raw message from a file descriptor and does no other I/O; it
 * knows nothing of tenants, users or the database.
 */
#pragma once

#include "core/core.h"

typedef struct {
    char *name;    /* display name, decoded UTF-8, NULL when none */
    char *address; /* addr-spec as written (UTF-8); compare with cl_address_fold() */
} ClAddress;

typedef struct {
    char *filename;     /* decoded (RFC 2231/2047) and made safe: no path, no control chars */
    char *content_type; /* "application/pdf", lower case */
    guint index;        /* position among the message's attachments, from 0 */
    gpointer part;      /* private: the GMimeObject (borrowed from the message) */
} ClAttachment;

/*
 * A forwarded mail inside the mail (DESIGN §2 rule 5): an attached message
 * (message/rfc822) or an inline forward as mail programs write it.
 */
typedef struct {
    const char *format;     /* static: "attached-message", "forward-header" (a title that says
                             * so), "original-message", "outlook" (underscore rule),
                             * "header-block" (fields without a title), "attribution" */
    bool explicit_forward;  /* says it is a forward: not possibly reply history */
    ClAddress *from;        /* the original sender; NULL when it names no address */
    char *from_text;        /* the From value as written when it has no address */
    GPtrArray *to;          /* ClAddress * */
    GPtrArray *cc;
    char *subject;          /* as written, prefixes kept; NULL when the block has none */
    gint64 date;            /* Unix time; 0 when not understood. Without a zone in the text,
                             * the zone of the forwarding mail's own Date is assumed. */
    bool date_zoned;        /* private: the text named a zone */
    char *date_text;        /* as written (inline forwards) */
    char *message_id;       /* attached messages */
    guint comment_lines;    /* non-empty lines above the forward (the forwarder's comment) */
    /* Read these with cl_forward_text(): capture does not need them, so they
     * are made when first asked for. */
    char *text;             /* the original's body */
    guint nested;           /* further forwards inside this one */
    /* private */
    bool text_ready;
    gsize body_offset;      /* inline: where the original's body starts in the mail's text */
    guint body_depth;       /* inline: its quote level */
} ClForward;

typedef struct {
    ClAddress *from;        /* first mailbox of From; NULL when none */
    GPtrArray *to;          /* ClAddress *, in header order (groups flattened) */
    GPtrArray *cc;
    GPtrArray *reply_to;
    char *subject;          /* decoded, unfolded, control characters as spaces; "" when none */
    gint64 date;            /* Date header as Unix time; 0 when missing or unparseable */
    char *message_id;       /* without angle brackets; NULL when none */
    char *content_hash;     /* no Message-ID: BLAKE2b (hex) of From, To, Cc, Subject, Date,
                             * text and attachments (names and content), for rule 9; else NULL */
    char *in_reply_to;      /* first message id of In-Reply-To, NULL when none */
    GPtrArray *references;  /* char *, message ids of References, at most CL_MAX_REFERENCES */
    char *text;             /* body text, UTF-8; text/plain preferred, else converted HTML */
    bool text_from_html;
    bool text_truncated;    /* the text was longer than CL_MAX_TEXT_BYTES */
    GPtrArray *forwards;    /* ClForward *: attached messages in order, else the inline one */
    GPtrArray *scan;        /* char *: every address in headers and text, folded, distinct,
                             * at most CL_MAX_SCAN_ADDRESSES (the whole-message scan);
                             * NULL-terminated, so pdata is a string vector */
    GPtrArray *attachments; /* ClAttachment *, at most CL_MAX_ATTACHMENTS */
    guint attachments_dropped; /* beyond CL_MAX_ATTACHMENTS (still in the raw message) */
    gpointer mime;          /* private: GMimeMessage */
    GByteArray *bytes;      /* private: what mime was parsed from, when from memory */
} ClMessage;

/* Initialises GMime once; safe to call from several places (not thread-safe the first time). */
void cl_parse_init(void);

/*
 * Parses bytes [offset, offset+length) of the regular file fd (memory-mapped;
 * fd itself is not kept). Attachment content is decoded from the mapping when
 * it is written, never copied whole. Tolerant as mail programs are: never fails
 * on odd MIME. Errors: CL_ERROR_INVALID when there is nothing to read (empty
 * input); CL_ERROR_TEMPFAIL when the file cannot be mapped.
 */
ClMessage *cl_parse_message_fd(int fd, gint64 offset, gint64 length, GError **error);

/* Same, from bytes in memory, which the message keeps a reference to (no copy). */
ClMessage *cl_parse_message_bytes(GByteArray *bytes, GError **error);

/* Same, from memory (copied). For tests and small inputs. */
ClMessage *cl_parse_message_data(const void *data, gsize length, GError **error);

void cl_message_free(ClMessage *msg);

/* The original's text (and f->nested) of one of msg->forwards; valid as long as msg. */
const char *cl_forward_text(const ClMessage *msg, ClForward *forward);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ClMessage, cl_message_free)

/*
 * Streams the decoded content of an attachment into fd at its current position;
 * nothing is held in memory whole. *size_out: bytes written.
 * Errors: CL_ERROR_TEMPFAIL when writing fails (full disk).
 */
bool cl_message_attachment_write(ClMessage *msg, const ClAttachment *att, int fd,
                                 gint64 *size_out, GError **error);

/* The decoded content of an attachment, in memory: for mail small enough to
 * be parsed from memory (msg->bytes), whose attachments are smaller still. */
GByteArray *cl_message_attachment_bytes(ClMessage *msg, const ClAttachment *att);

/*
 * Readable text from HTML: scripts, styles and the head dropped, entities
 * decoded, block elements on their own lines, white space collapsed.
 * Returns a new UTF-8 string ("" for empty input).
 */
char *cl_parse_html_to_text(const char *html, gsize length);

/*
 * A file name safe to store and offer for download: the last path component,
 * no control characters or reserved characters, no leading dots, valid UTF-8, at
 * most CL_MAX_FILENAME_BYTES bytes keeping the extension. When name is NULL or
 * nothing is left, "anhang-<index+1>" plus an extension guessed from content_type.
 */
char *cl_parse_safe_filename(const char *name, const char *content_type, guint index);

/* A mailbox as mail programs write it, for people to read: the name quoted where it
 * holds a comma or the like ("Müller, Jürgen" <j.mueller@…>), the address alone
 * without a name. Not encoded (RFC 2047): not for a header. */
char *cl_mailbox_format(const char *name, const char *address);
