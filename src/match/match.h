/*
 * match.h — contact persons, company and lead/project of a captured mail, with
 * the reason for each (DESIGN §2 rules 4, 6, 7). Stage: match.
 * Pure: reads CRM data only through ClDirectory and does no I/O, so every rule
 * can be tested with a fake directory.
 */
#pragma once

#include "core/core.h"

typedef struct {
    gint64 tenant_id;
    ClTenantSettings settings;
    const char *subject;          /* decoded subject, borrowed */
    const char *const *recipients; /* To then Cc addresses in header order, NULL-terminated */
} ClMatchInput;

typedef struct {
    GPtrArray *contacts;   /* ClItem * (CL_ITEM_CONTACT), primary first */
    ClItem *company;       /* NULL when none */
    ClItem *lead;          /* CL_ITEM_LEAD, key = number; NULL when none */
    ClItem *project;       /* CL_ITEM_PROJECT; NULL when none */
    GPtrArray *candidates; /* ClItem * (leads and projects) when a rule found several */
    GPtrArray *reasons;    /* ClReason * */
} ClMatch;

/*
 * Runs rules 4, 6 and 7 for one mail. Errors: whatever the directory reports
 * (CL_ERROR_TEMPFAIL when busy). Never fails on the content of the mail.
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
