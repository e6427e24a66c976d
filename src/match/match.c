/*
 * match.c — DESIGN §2 rule 4 (contact persons by recipient address, company of
 * the primary contact), rule 6 (lead or project by a number in the subject) and
 * rule 7 (lead or project by its name in the subject). Pure: no I/O.
 */
#include "match.h"

#include <string.h>

#define MAX_NUMBERS 32      /* numbers looked up per subject */
#define MAX_SUBJECT_WORDS 64 /* subject words rule 7 looks at */
#define MAX_NAME_KEY_WORDS 12 /* the longest name (in words) rule 7 finds */

static bool
all_digits(const char *s, gsize len)
{
    if (len == 0)
        return false;
    for (gsize i = 0; i < len; i++)
        if (!g_ascii_isdigit(s[i]))
            return false;
    return true;
}

static void
add_number(GPtrArray *out, const char *s, gsize len)
{
    if (out->len >= MAX_NUMBERS || !all_digits(s, len))
        return;
    for (guint i = 0; i < out->len; i++)
        if (strlen(out->pdata[i]) == len && memcmp(out->pdata[i], s, len) == 0)
            return;
    g_ptr_array_add(out, g_strndup(s, len));
}

GStrv
cl_match_subject_numbers(const char *subject, bool tolerant)
{
    GPtrArray *out = g_ptr_array_new();
    const char *p = subject ? subject : "";
    if (!g_utf8_validate(p, -1, NULL))
        p = "";
    while (*p) {
        /* Strict (rule 6): pieces between white space. Tolerant: runs of
         * letters and digits, so "(11111)" and "#11111" count but "A11111" not. */
        const char *start = p;
        while (*p) {
            gunichar c = g_utf8_get_char(p);
            bool sep = tolerant ? !g_unichar_isalnum(c) : g_unichar_isspace(c);
            if (sep)
                break;
            p = g_utf8_next_char(p);
        }
        add_number(out, start, p - start);
        if (*p)
            p = g_utf8_next_char(p);
    }
    g_ptr_array_add(out, NULL);
    return (GStrv)g_ptr_array_free(out, FALSE);
}

static bool
boundary_before(const char *text, const char *at)
{
    if (at == text)
        return true;
    const char *prev = g_utf8_find_prev_char(text, at);
    return prev == NULL || !g_unichar_isalnum(g_utf8_get_char(prev));
}

static bool
boundary_after(const char *at)
{
    return *at == '\0' || !g_unichar_isalnum(g_utf8_get_char(at));
}

bool
cl_match_name_in_subject(const char *folded_subject, const char *folded_name)
{
    gsize n = strlen(folded_name);
    if (n == 0)
        return false;
    gunichar first = g_utf8_get_char(folded_name);
    const char *last_char = g_utf8_find_prev_char(folded_name, folded_name + n);
    gunichar last = g_utf8_get_char(last_char ? last_char : folded_name);
    for (const char *at = strstr(folded_subject, folded_name); at != NULL;
         at = strstr(at + 1, folded_name)) {
        /* A boundary is only needed where the name itself starts or ends with a
         * letter or digit ("Logo" must not match in "Logos"). */
        bool ok_start = !g_unichar_isalnum(first) || boundary_before(folded_subject, at);
        bool ok_end = !g_unichar_isalnum(last) || boundary_after(at + n);
        if (ok_start && ok_end)
            return true;
    }
    return false;
}

static ClMatch *
match_new(void)
{
    ClMatch *m = g_new0(ClMatch, 1);
    m->contacts = cl_item_array_new();
    m->candidates = cl_item_array_new();
    m->reasons = g_ptr_array_new_with_free_func((GDestroyNotify)cl_reason_free);
    return m;
}

void
cl_match_free(ClMatch *match)
{
    if (match == NULL)
        return;
    g_ptr_array_unref(match->contacts);
    g_ptr_array_unref(match->candidates);
    g_ptr_array_unref(match->reasons);
    cl_item_free(match->company);
    cl_item_free(match->lead);
    cl_item_free(match->project);
    g_free(match);
}

static bool
has_item(GPtrArray *items, const ClItem *item)
{
    for (guint i = 0; i < items->len; i++) {
        const ClItem *x = g_ptr_array_index(items, i);
        if (x->kind == item->kind && x->id == item->id)
            return true;
    }
    return false;
}

/* Rule 4. */
static bool
match_contacts(const ClDirectory *dir, const ClMatchInput *in, ClMatch *m, GError **error)
{
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    gsize i = 0;
    for (; in->recipients && in->recipients[i]; i++) {
        if (g_hash_table_size(seen) >= CL_MAX_ADDRESSES_MATCHED) {
            /* Bounded work for hostile input; the reviewer is told. */
            gsize total = i;
            while (in->recipients[total])
                total++;
            g_autofree char *d = g_strdup_printf("looked up the first %d of %zu recipients",
                                                 CL_MAX_ADDRESSES_MATCHED, total);
            g_ptr_array_add(m->reasons, cl_reason_new("contact", "too-many-recipients", d));
            break;
        }
        char *address = cl_address_fold(in->recipients[i]);
        if (address == NULL || !g_hash_table_add(seen, address))
            continue;
        g_autoptr(GPtrArray) found =
            dir->ops->contacts_by_address(dir->self, in->tenant_id, address, error);
        if (found == NULL)
            return false;
        for (guint j = 0; j < found->len; j++) {
            ClItem *c = g_ptr_array_index(found, j);
            if (has_item(m->contacts, c))
                continue;
            g_ptr_array_add(m->contacts, cl_item_copy(c));
            g_ptr_array_add(m->reasons, cl_reason_new("contact", "recipient-address", address));
        }
    }
    if (m->contacts->len > 0) {
        ClItem *primary = g_ptr_array_index(m->contacts, 0);
        m->company = cl_item_new(CL_ITEM_COMPANY, primary->company_id, in->tenant_id,
                                 primary->company_key);
        g_ptr_array_add(m->reasons, cl_reason_new("company", "primary-contact", primary->key));
    }
    return true;
}

static void
choose_record(ClMatch *m, ClItem *record, const char *rule, const char *detail)
{
    ClItem **slot = record->kind == CL_ITEM_LEAD ? &m->lead : &m->project;
    *slot = cl_item_copy(record);
    g_ptr_array_add(m->reasons, cl_reason_new(cl_item_kind_name(record->kind), rule, detail));

    if (m->company == NULL) {
        /* No contact named a company: the record belongs to one. */
        m->company = cl_item_new(CL_ITEM_COMPANY, record->company_id, record->tenant_id,
                                 record->company_key);
        g_ptr_array_add(m->reasons,
                        cl_reason_new("company", cl_item_kind_name(record->kind), record->key));
    } else if (m->company->id != record->company_id) {
        /* The reviewer must see that recipients and subject disagree. */
        g_autofree char *d = g_strdup_printf("%s %s belongs to %s, the contact to %s",
                                             cl_item_kind_name(record->kind), record->key,
                                             record->company_key, m->company->key);
        g_ptr_array_add(m->reasons, cl_reason_new("company", "conflict", d));
    }
}

/* Rule 6. Returns the number of distinct records found (0: go on with rule 7). */
static int
match_numbers(const ClDirectory *dir, const ClMatchInput *in, ClMatch *m, GError **error)
{
    g_auto(GStrv) numbers = cl_match_subject_numbers(in->subject, in->settings.tolerant_numbers);
    g_autoptr(GPtrArray) found = cl_item_array_new();
    g_autoptr(GPtrArray) via = g_ptr_array_new(); /* number that found found[i], borrowed */
    for (gsize i = 0; numbers[i]; i++) {
        g_autoptr(GPtrArray) records =
            dir->ops->records_by_number(dir->self, in->tenant_id, numbers[i], error);
        if (records == NULL)
            return -1;
        for (guint j = 0; j < records->len; j++) {
            ClItem *r = g_ptr_array_index(records, j);
            if (!has_item(found, r)) {
                g_ptr_array_add(found, cl_item_copy(r));
                g_ptr_array_add(via, numbers[i]);
            }
        }
    }
    if (found->len == 1) {
        ClItem *r = g_ptr_array_index(found, 0);
        const char *number = g_ptr_array_index(via, 0);
        choose_record(m, r, r->kind == CL_ITEM_PROJECT ? "subject-offer-number" : "subject-number",
                      number);
    } else {
        for (guint i = 0; i < found->len; i++)
            g_ptr_array_add(m->candidates, cl_item_copy(g_ptr_array_index(found, i)));
    }
    return (int)found->len;
}

/* Rule 7. A name that occurs in the subject at word boundaries is a run of
 * the subject's words: every run (up to MAX_NAME_KEY_WORDS words) is looked up
 * as a name key in one go, then the whole name is checked against the subject. */
static bool
match_names(const ClDirectory *dir, const ClMatchInput *in, ClMatch *m, GError **error)
{
    g_autofree char *subject = cl_text_fold(in->subject);
    g_auto(GStrv) words = cl_text_words(subject, MAX_SUBJECT_WORDS);
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GPtrArray) keys = g_ptr_array_new(); /* borrowed from seen */
    guint n = g_strv_length(words);
    for (guint i = 0; i < n; i++) {
        g_autoptr(GString) key = g_string_new(NULL);
        for (guint len = 1; len <= MAX_NAME_KEY_WORDS && i + len <= n; len++) {
            if (len > 1)
                g_string_append_c(key, ' ');
            g_string_append(key, words[i + len - 1]);
            if (g_hash_table_contains(seen, key->str))
                continue;
            char *copy = g_strdup(key->str);
            g_hash_table_add(seen, copy);
            g_ptr_array_add(keys, copy);
        }
    }
    if (keys->len == 0)
        return true;
    g_ptr_array_add(keys, NULL);

    /* Among the company's records when a company is known, else the tenant's. */
    g_autoptr(GPtrArray) records = dir->ops->records_by_name_keys(
        dir->self, in->tenant_id, m->company ? m->company->id : 0,
        (const char *const *)keys->pdata, error);
    if (records == NULL)
        return false;
    g_autoptr(GPtrArray) hits = cl_item_array_new();
    glong best = 0;
    for (guint i = 0; i < records->len; i++) {
        ClItem *r = g_ptr_array_index(records, i);
        if (m->company != NULL && r->company_id != m->company->id)
            continue;
        g_autofree char *name = cl_text_fold(r->name);
        if (has_item(hits, r) || !cl_match_name_in_subject(subject, name))
            continue;
        glong len = g_utf8_strlen(name, -1);
        if (len > best) {
            best = len;
            g_ptr_array_set_size(hits, 0);
        }
        if (len == best)
            g_ptr_array_add(hits, cl_item_copy(r));
    }
    if (hits->len == 1) {
        ClItem *r = g_ptr_array_index(hits, 0);
        choose_record(m, r, "subject-name", r->name);
    } else {
        for (guint i = 0; i < hits->len; i++)
            g_ptr_array_add(m->candidates, cl_item_copy(g_ptr_array_index(hits, i)));
    }
    return true;
}

ClMatch *
cl_match_decide(const ClDirectory *dir, const ClMatchInput *in, GError **error)
{
    g_autoptr(ClMatch) m = match_new();
    if (!match_contacts(dir, in, m, error))
        return NULL;
    int n = match_numbers(dir, in, m, error);
    if (n < 0)
        return NULL;
    if (n == 0 && !match_names(dir, in, m, error))
        return NULL;
    return g_steal_pointer(&m);
}
