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

/* Addresses looked up for one mail, across rules 4 and 5 and the scan. */
typedef struct {
    GHashTable *seen; /* folded addresses (a set) */
    bool capped;
} Looked;

/*
 * Rule 4 (and 5): the contact persons of addresses, in order. An address
 * registered with one contact person chooses it; with several, none: they are
 * candidates for the reviewer.
 */
static bool
contacts_from(const ClDirectory *dir, const ClMatchInput *in, ClMatch *m, Looked *looked,
              const char *const *addresses, const char *rule, GError **error)
{
    for (gsize i = 0; addresses && addresses[i]; i++) {
        if (g_hash_table_size(looked->seen) >= CL_MAX_ADDRESSES_MATCHED) {
            if (!looked->capped) {
                /* Bounded work for hostile input; the reviewer is told. */
                gsize total = i;
                while (addresses[total])
                    total++;
                g_autofree char *d = g_strdup_printf("looked up the first %d of %zu addresses",
                                                     CL_MAX_ADDRESSES_MATCHED, total);
                g_ptr_array_add(m->reasons, cl_reason_new("contact", "too-many-recipients", d));
                looked->capped = true;
            }
            return true;
        }
        char *address = cl_address_fold(addresses[i]);
        if (!cl_set_add(looked->seen, address))
            continue;
        g_autoptr(GPtrArray) found =
            dir->ops->contacts_by_address(dir->self, in->tenant_id, address, error);
        if (found == NULL)
            return false;
        if (found->len > 1) {
            for (guint j = 0; j < found->len; j++) {
                ClItem *c = g_ptr_array_index(found, j);
                if (!has_item(m->contacts, c) && !has_item(m->candidates, c))
                    g_ptr_array_add(m->candidates, cl_item_copy(c));
            }
            g_autofree char *d = g_strdup_printf("%s belongs to %u contact persons", address,
                                                 found->len);
            g_ptr_array_add(m->reasons, cl_reason_new("contact", "ambiguous-address", d));
            continue;
        }
        for (guint j = 0; j < found->len; j++) {
            ClItem *c = g_ptr_array_index(found, j);
            if (has_item(m->contacts, c))
                continue;
            g_ptr_array_add(m->contacts, cl_item_copy(c));
            g_ptr_array_add(m->reasons, cl_reason_new("contact", rule, address));
        }
    }
    return true;
}

static guint
count_kind(GPtrArray *items, ClItemKind kind)
{
    guint n = 0;
    for (guint i = 0; i < items->len; i++)
        n += ((ClItem *)g_ptr_array_index(items, i))->kind == kind;
    return n;
}

static void
take_over(ClMatch *to, ClMatch *from)
{
    for (guint i = 0; i < from->contacts->len; i++)
        g_ptr_array_add(to->contacts, cl_item_copy(g_ptr_array_index(from->contacts, i)));
    for (guint i = 0; i < from->candidates->len; i++)
        g_ptr_array_add(to->candidates, cl_item_copy(g_ptr_array_index(from->candidates, i)));
    for (guint i = 0; i < from->reasons->len; i++) {
        ClReason *r = g_ptr_array_index(from->reasons, i);
        g_ptr_array_add(to->reasons, cl_reason_new(r->field, r->rule, r->detail));
    }
}

/* Rules 4 and 5: contact persons, and the company of the primary one. */
static bool
match_contacts(const ClDirectory *dir, const ClMatchInput *in, ClSubjectKind subject_kind,
               ClMatch *m, GError **error)
{
    Looked looked = { .seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL) };
    bool ok = false;
    g_autoptr(ClMatch) header = match_new();
    if (!contacts_from(dir, in, header, &looked, in->recipients, "recipient-address", error))
        goto out;

    /* Rule 5. Mail to a known contact is mail to that contact, whatever it
     * quotes or forwards; so is a reply ("AW: …") unless it says it forwards.
     * Otherwise a forwarded mail in it is what it is about. */
    const ClMatchOriginal *first = in->n_originals > 0 ? &in->originals[0] : NULL;
    bool header_names = header->contacts->len > 0 || header->candidates->len > 0;
    m->forwarded = first != NULL && !header_names &&
                   (first->explicit_forward || subject_kind != CL_SUBJECT_REPLY);
    if (m->forwarded) {
        /* The original's addresses are looked up afresh: a recipient of the
         * forward may well be in the original too. */
        g_hash_table_remove_all(looked.seen);
        bool attached = g_strcmp0(first->format, "attached-message") == 0;
        g_ptr_array_add(m->reasons, cl_reason_new("forwarded",
                                                  attached ? "attached-message" : "inline-forward",
                                                  attached ? "message/rfc822" : first->format));
        for (guint k = 0; k < in->n_originals; k++) {
            const ClMatchOriginal *o = &in->originals[k];
            const char *from[] = { o->from, NULL };
            if (!contacts_from(dir, in, m, &looked, from, "original-sender", error) ||
                !contacts_from(dir, in, m, &looked, o->recipients, "original-recipient", error))
                goto out;
        }
    } else {
        take_over(m, header);
    }
    /* Nothing named a contact: any known address in the whole message. Found
     * at several companies, the scan chooses none: the reviewer does. */
    if (m->contacts->len == 0 && count_kind(m->candidates, CL_ITEM_CONTACT) == 0) {
        g_autoptr(ClMatch) scan = match_new();
        if (!contacts_from(dir, in, scan, &looked, in->scan, "message-scan", error))
            goto out;
        bool one_company = true;
        for (guint i = 1; i < scan->contacts->len; i++)
            one_company = one_company && ((ClItem *)scan->contacts->pdata[i])->company_id ==
                                             ((ClItem *)scan->contacts->pdata[0])->company_id;
        if (one_company) {
            take_over(m, scan);
        } else {
            for (guint i = 0; i < scan->contacts->len; i++)
                g_ptr_array_add(m->candidates, cl_item_copy(scan->contacts->pdata[i]));
            g_ptr_array_add(m->reasons, cl_reason_new("contact", "message-scan",
                                                      "contacts of several companies"));
        }
    }
    if (m->contacts->len > 0) {
        ClItem *primary = g_ptr_array_index(m->contacts, 0);
        m->company = cl_item_new(CL_ITEM_COMPANY, primary->company_id, in->tenant_id,
                                 primary->company_key);
        g_ptr_array_add(m->reasons, cl_reason_new("company", "primary-contact", primary->key));
    }
    ok = true;
out:
    g_hash_table_unref(looked.seen);
    return ok;
}

/* No contact person: a company whose registered domain is the domain of a
 * recipient (of the original, for a forward); the reviewer is offered to
 * create the contact person. */
static bool
match_company_domain(const ClDirectory *dir, const ClMatchInput *in, ClMatch *m, GError **error)
{
    if (m->company != NULL || m->contacts->len > 0 || count_kind(m->candidates, CL_ITEM_CONTACT))
        return true;
    g_autoptr(GPtrArray) addresses = g_ptr_array_new();
    if (m->forwarded) {
        for (guint k = 0; k < in->n_originals; k++) {
            if (in->originals[k].from)
                g_ptr_array_add(addresses, (gpointer)in->originals[k].from);
            for (gsize i = 0; in->originals[k].recipients && in->originals[k].recipients[i]; i++)
                g_ptr_array_add(addresses, (gpointer)in->originals[k].recipients[i]);
        }
    } else {
        for (gsize i = 0; in->recipients && in->recipients[i]; i++)
            g_ptr_array_add(addresses, (gpointer)in->recipients[i]);
    }
    g_autoptr(GHashTable) domains = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GPtrArray) found = cl_item_array_new();
    const char *first_address = NULL, *first_domain = NULL;
    for (guint i = 0; i < addresses->len && g_hash_table_size(domains) < 64; i++) {
        char *full = cl_address_domain(addresses->pdata[i]);
        if (full == NULL)
            continue;
        /* mail.baeckerei-sommer.example belongs to baeckerei-sommer.example: the
         * first of the domain and its parents (down to two labels) that names one. */
        g_autoptr(GPtrArray) companies = NULL;
        const char *domain = NULL;
        for (const char *d = full; d != NULL && strchr(d, '.') != NULL;) {
            char *copy = g_strdup(d);
            bool fresh = cl_set_add(domains, copy);
            const char *next = strchr(d, '.') + 1;
            if (!fresh) {
                d = strchr(next, '.') ? next : NULL;
                continue;
            }
            companies = dir->ops->companies_by_domain(dir->self, in->tenant_id, copy, error);
            if (companies == NULL) {
                g_free(full);
                return false;
            }
            if (companies->len > 0) {
                domain = copy;
                break;
            }
            g_clear_pointer(&companies, g_ptr_array_unref);
            d = strchr(next, '.') ? next : NULL;
        }
        g_free(full);
        if (companies == NULL)
            continue;
        for (guint j = 0; j < companies->len; j++) {
            ClItem *c = g_ptr_array_index(companies, j);
            if (has_item(found, c))
                continue;
            if (found->len == 0) {
                first_address = addresses->pdata[i];
                first_domain = domain;
            }
            g_ptr_array_add(found, cl_item_copy(c));
        }
    }
    if (found->len == 1) {
        ClItem *c = g_ptr_array_index(found, 0);
        m->company = cl_item_copy(c);
        m->company->company_id = c->id;
        g_ptr_array_add(m->reasons, cl_reason_new("company", "company-domain", first_domain));
        g_autofree char *address = cl_address_fold(first_address);
        g_ptr_array_add(m->reasons, cl_reason_new("contact", "suggest-create", address));
    } else {
        for (guint i = 0; i < found->len; i++)
            g_ptr_array_add(m->candidates, cl_item_copy(g_ptr_array_index(found, i)));
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

/* Rule 6 over the subjects (the mail's and the original's). Returns the
 * number of distinct records found (0: go on with rule 7). */
static int
match_numbers(const ClDirectory *dir, const ClMatchInput *in, const char *const *subjects,
              ClMatch *m, GError **error)
{
    g_autoptr(GPtrArray) found = cl_item_array_new();
    g_autoptr(GPtrArray) via = g_ptr_array_new_with_free_func(g_free); /* number of found[i] */
    for (gsize k = 0; subjects[k]; k++) {
        g_auto(GStrv) numbers = cl_match_subject_numbers(subjects[k], in->settings.tolerant_numbers);
        for (gsize i = 0; numbers[i]; i++) {
            g_autoptr(GPtrArray) records =
                dir->ops->records_by_number(dir->self, in->tenant_id, numbers[i], error);
            if (records == NULL)
                return -1;
            for (guint j = 0; j < records->len; j++) {
                ClItem *r = g_ptr_array_index(records, j);
                if (!has_item(found, r)) {
                    g_ptr_array_add(found, cl_item_copy(r));
                    g_ptr_array_add(via, g_strdup(numbers[i]));
                }
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
names_in(const ClDirectory *dir, const ClMatchInput *in, const ClMatch *m, const char *text,
         GPtrArray *hits, GError **error)
{
    g_autofree char *subject = cl_text_fold(text);
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
    glong best = 0;

    /* Among the company's records when a company is known, else the tenant's. */
    g_autoptr(GPtrArray) records = dir->ops->records_by_name_keys(
        dir->self, in->tenant_id, m->company ? m->company->id : 0,
        (const char *const *)keys->pdata, error);
    if (records == NULL)
        return false;
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
    return true;
}

/* Rule 7 for each subject; the longest name wins within one, and when the
 * subjects name different records they all are candidates. */
static bool
match_names(const ClDirectory *dir, const ClMatchInput *in, const char *const *subjects,
            ClMatch *m, GError **error)
{
    g_autoptr(GPtrArray) all = cl_item_array_new();
    for (gsize k = 0; subjects[k]; k++) {
        g_autoptr(GPtrArray) hits = cl_item_array_new();
        if (!names_in(dir, in, m, subjects[k], hits, error))
            return false;
        for (guint i = 0; i < hits->len; i++)
            if (!has_item(all, g_ptr_array_index(hits, i)))
                g_ptr_array_add(all, cl_item_copy(g_ptr_array_index(hits, i)));
    }
    if (all->len == 1) {
        ClItem *r = g_ptr_array_index(all, 0);
        choose_record(m, r, "subject-name", r->name);
    } else {
        for (guint i = 0; i < all->len; i++)
            g_ptr_array_add(m->candidates, cl_item_copy(g_ptr_array_index(all, i)));
    }
    return true;
}

/* Rule 10: a reply inherits company and lead/project of the entry of its
 * thread where its own rules found none — of an entry its author may see:
 * a colleague's pending mail is private, and inheriting from it would show
 * what it is about (and that it exists) to whoever replies to it. */
static bool
match_thread(const ClDirectory *dir, const ClMatchInput *in, ClMatch *m, GError **error)
{
    if (in->references == NULL || in->references[0] == NULL)
        return true;
    if (m->company != NULL && (m->lead != NULL || m->project != NULL))
        return true;
    ClThreadRef ref = { 0 };
    if (!dir->ops->thread_entry(dir->self, in->tenant_id, in->author_id, in->references, &ref,
                                error))
        return false;
    if (ref.entry_id != 0) {
        m->thread_entry = ref.entry_id;
        g_autofree char *detail = g_strdup_printf("<%s>", ref.message_id ? ref.message_id : "");
        if (m->company == NULL && ref.company != NULL) {
            m->company = cl_item_copy(ref.company);
            g_ptr_array_add(m->reasons, cl_reason_new("company", "thread", detail));
        }
        ClItem *record = ref.lead ? ref.lead : ref.project;
        bool same_company = m->company == NULL || record == NULL ||
                            record->company_id == m->company->id;
        if (m->lead == NULL && m->project == NULL && record != NULL && same_company &&
            count_kind(m->candidates, CL_ITEM_LEAD) + count_kind(m->candidates, CL_ITEM_PROJECT) == 0) {
            ClItem **slot = record->kind == CL_ITEM_LEAD ? &m->lead : &m->project;
            *slot = cl_item_copy(record);
            g_ptr_array_add(m->reasons,
                            cl_reason_new(cl_item_kind_name(record->kind), "thread", detail));
        }
    }
    cl_thread_ref_clear(&ref);
    return true;
}

ClMatch *
cl_match_decide(const ClDirectory *dir, const ClMatchInput *in, GError **error)
{
    g_autoptr(ClMatch) m = match_new();
    ClSubjectKind kind = CL_SUBJECT_PLAIN;
    g_autofree char *subject = cl_subject_strip(in->subject, &kind);
    if (!match_contacts(dir, in, kind, m, error))
        return NULL;
    if (!match_company_domain(dir, in, m, error))
        return NULL;
    /* Rules 6 and 7 read the mail's subject and, for a forward, the original's. */
    g_autofree char *original = NULL;
    const char *subjects[3] = { subject, NULL, NULL };
    if (m->forwarded && in->originals[0].subject != NULL) {
        original = cl_subject_strip(in->originals[0].subject, NULL);
        if (strcmp(original, subject) != 0)
            subjects[1] = original;
    }
    int n = match_numbers(dir, in, subjects, m, error);
    if (n < 0)
        return NULL;
    if (n == 0 && !match_names(dir, in, subjects, m, error))
        return NULL;
    if (!match_thread(dir, in, m, error))
        return NULL;
    return g_steal_pointer(&m);
}
