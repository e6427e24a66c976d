/*
 * match.h — contact persons, company and lead/project of a captured mail, with
 * the reason for each (DESIGN §2 rules 4, 6, 7). Stage: match.
 * Pure: reads CRM data only through ClDirectory and does no I/O, so every rule
 * can be tested with a fake directory.
 */
#pragma once

#include "core/core.h"

/* A forwarded mail inside the mail (rule 5), as parse/ found it; all borrowed. */
typedef struct {
    const char *format;            /* "attached-message", "forward-header", … (the reason) */
    bool explicit_forward;         /* it says it is a forward, not reply history */
    const char *from;              /* original sender address, NULL when none */
    const char *const *recipients; /* original To then Cc, NULL-terminated (may be NULL) */
    const char *subject;           /* NULL when none */
} ClMatchOriginal;

typedef struct {
    gint64 tenant_id;
    gint64 author_id;             /* rule 10 follows only entries the author may see */
    ClTenantSettings settings;
    const char *subject;          /* decoded subject, borrowed */
    const char *const *recipients; /* To then Cc addresses in header order, NULL-terminated */
    /* Rule 5: the forwarded mails in it (may be none) and every address of the whole
     * message (may be NULL), for the scan when nothing else names a contact. */
    const ClMatchOriginal *originals;
    guint n_originals;
    const char *const *scan;
    /* Rule 10: In-Reply-To, then References newest first (may be NULL). */
    const char *const *references;
} ClMatchInput;

typedef struct {
    GPtrArray *contacts;   /* ClItem * (CL_ITEM_CONTACT), primary first */
    ClItem *company;       /* NULL when none */
    ClItem *lead;          /* CL_ITEM_LEAD, key = number; NULL when none */
    ClItem *project;       /* CL_ITEM_PROJECT; NULL when none */
    GPtrArray *candidates; /* ClItem * (contacts, companies, leads, projects) a rule found
                            * several of, so that it chose none */
    GPtrArray *reasons;    /* ClReason * */
    bool forwarded;        /* rule 5: the mail is about the forwarded original */
    gint64 thread_entry;   /* rule 10: the earlier entry it followed, 0 when none */
} ClMatch;

/*
 * Runs rules 4-7 and 10 for one mail. Errors: whatever the directory reports
 * (CL_ERROR_TEMPFAIL when busy). Never fails on the content of the mail.
 *
 * Rule 5: the mail is taken as a forward when it holds a forwarded mail and
 * says so (a forward title, an attached mail, a Fwd/WG subject), or when no
 * To/Cc recipient is a known contact (then a quoted header block is what the
 * mail is about). Contacts come from the original's sender and recipients;
 * when neither they nor (for mail that is no forward) the recipients name a
 * contact, from the whole-message scan; when still none, a company may come
 * from the recipients' (or the original's) domains. Rules 6 and 7 read both
 * subjects; different records named are candidates.
 */
ClMatch *cl_match_decide(const ClDirectory *dir, const ClMatchInput *input, GError **error);

void cl_match_free(ClMatch *match);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ClMatch, cl_match_free)

/*
 * Rule 6: the candidate numbers of a subject, in order, without repeats.
 * Strict: pieces between spaces made only of the digits 0-9.
 * Tolerant: digit runs bounded by any character that is not a letter or digit.
 * At most 32 numbers. Returns a NULL-terminated array (never NULL).
 */
GStrv cl_match_subject_numbers(const char *subject, bool tolerant);

/*
 * Rule 7 helper: true when the folded `name` occurs in the folded `subject`
 * starting and ending at word boundaries. Both must be folded the same way
 * (cl_text_fold).
 */
bool cl_match_name_in_subject(const char *folded_subject, const char *folded_name);
