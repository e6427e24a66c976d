/*
 * test-match.c — DESIGN §2 rules 4, 6 and 7, case by case, on a fake directory.
 */
#include "match/match.h"
#include "support/fake-directory.h"

static void
test_subject_numbers_strict(void)
{
    static const struct {
        const char *subject, *want;
    } cases[] = {
        { "Lead 11111", "11111" },
        { "11111 Angebot", "11111" },
        { "11111", "11111" },
        { "Lead 11111 ", "11111" },
        { "Lead 11111)", "" },
        { "(11111)", "" },
        { "#11111", "" },
        { "11111:", "" },
        { "A11111", "" },
        { "11111b", "" },
        { "Lead-11111", "" },
        { "Re: 4711 und 20417", "4711 20417" },
        { "20417 und nochmal 20417", "20417" },
        { "Lead\t11111", "11111" },
        { "\xd9\xa1\xd9\xa2\xd9\xa3", "" }, /* Arabic-Indic digits are not 0-9 */
        { "", "" },
        { "   ", "" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_auto(GStrv) got = cl_match_subject_numbers(cases[i].subject, false);
        g_autofree char *joined = g_strjoinv(" ", got);
        g_test_message("subject: \"%s\"", cases[i].subject);
        g_assert_cmpstr(joined, ==, cases[i].want);
    }
}

static void
test_subject_numbers_tolerant(void)
{
    static const struct {
        const char *subject, *want;
    } cases[] = {
        { "Lead 11111)", "11111" }, { "(11111)", "11111" }, { "#11111", "11111" },
        { "11111:", "11111" },      { "A11111", "" },       { "11111b", "" },
        { "Lead 11111", "11111" },  { "Nr.4711/20417", "4711 20417" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_auto(GStrv) got = cl_match_subject_numbers(cases[i].subject, true);
        g_autofree char *joined = g_strjoinv(" ", got);
        g_test_message("subject: \"%s\"", cases[i].subject);
        g_assert_cmpstr(joined, ==, cases[i].want);
    }
}

static void
test_subject_numbers_limit(void)
{
    GString *s = g_string_new(NULL);
    for (int i = 0; i < 1000; i++)
        g_string_append_printf(s, "%d ", 10000 + i);
    g_auto(GStrv) got = cl_match_subject_numbers(s->str, false);
    g_assert_cmpuint(g_strv_length(got), ==, 32);
    g_string_free(s, TRUE);
}

static void
test_name_in_subject(void)
{
    static const struct {
        const char *subject, *name;
        bool want;
    } cases[] = {
        { "Neues Logo!", "Logo", true },
        { "Neue Logos", "Logo", false },
        { "xLogo", "Logo", false },
        { "Logo", "Logo", true },
        { "Angebot Relaunch Website – Lead", "Relaunch Website", true },
        { "RELAUNCH WEBSITE", "relaunch website", true },
        { "Relaunch Websites", "Relaunch Website", false },
        { "Der Web-Shop ist live", "Web-Shop", true },
        { "Der Web-Shop ist live", "Web", true },
        { "Korrekturen Kanzleibroschüre", "Kanzleibroschüre", true },
        { "KORREKTUREN KANZLEIBROSCHÜRE", "kanzleibroschüre", true },
        { "Cafés", "Café", false },
        { "Logo Logos", "Logos", true },
        { "Logos und Logo", "Logo", true }, /* second occurrence counts */
        { "", "Logo", false },
        { "Logo", "", false },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *s = cl_text_fold(cases[i].subject);
        g_autofree char *n = cl_text_fold(cases[i].name);
        g_test_message("subject \"%s\" name \"%s\"", cases[i].subject, cases[i].name);
        g_assert_cmpint(cl_match_name_in_subject(s, n), ==, cases[i].want);
    }
}

/* The agency of the tests: two tenants, the second with look-alike data. */
typedef struct {
    FakeDirectory *fd;
    gint64 t1, t2, acme, globex, other_co;
    gint64 jm, sk, gx, other_contact;
    gint64 lead11111, lead22222, lead_logo, lead_neues_logo, project_messe, project_web;
    gint64 lead_web_other, other_lead;
} World;

static void
world_init(World *w)
{
    w->fd = fake_directory_new();
    FakeDirectory *fd = w->fd;
    w->t1 = fake_tenant(fd, "muster", "muster-agentur.example");
    w->t2 = fake_tenant(fd, "other", "other.example");
    w->acme = fake_company(fd, w->t1, "acme");
    w->globex = fake_company(fd, w->t1, "globex");
    w->other_co = fake_company(fd, w->t2, "acme");
    w->jm = fake_contact(fd, w->t1, w->acme, "jmueller", "j.mueller@acme.example");
    fake_address(fd, w->jm, "juergen@acme.example");
    w->sk = fake_contact(fd, w->t1, w->acme, "skrause", "s.krause@acme.example");
    w->gx = fake_contact(fd, w->t1, w->globex, "gboss", "boss@globex.example");
    /* The same address in the other tenant: must never match in tenant 1. */
    w->other_contact = fake_contact(fd, w->t2, w->other_co, "ojm", "shared@acme.example");
    w->lead11111 = fake_lead(fd, w->t1, w->acme, "11111", "Relaunch Website");
    w->lead22222 = fake_lead(fd, w->t1, w->globex, "22222", "Relaunch Website");
    w->lead_logo = fake_lead(fd, w->t1, w->acme, "33333", "Logo");
    w->lead_neues_logo = fake_lead(fd, w->t1, w->acme, "44444", "Neues Logo");
    w->project_messe = fake_project(fd, w->t1, w->acme, "messe2027", "Messestand Hannover", "4711");
    w->project_web = fake_project(fd, w->t1, w->globex, "webshop", "Web-Shop", "5000");
    w->lead_web_other = fake_lead(fd, w->t1, w->acme, "55555", "Web-Shop");
    w->other_lead = fake_lead(fd, w->t2, w->other_co, "99999", "Geheimprojekt");
    fake_lead(fd, w->t1, w->globex, "66666", "Katalog (Frühjahr 2027)");
    fake_lead(fd, w->t1, w->globex, "77777", "Schulung Vertrieb Süd");
}

static void
world_clear(World *w)
{
    fake_directory_free(w->fd);
}

static ClMatch *
run(World *w, const char *subject, const char *const *rcpts)
{
    ClDirectory dir = fake_directory_view(w->fd);
    ClMatchInput in = { .tenant_id = w->t1, .subject = subject, .recipients = rcpts };
    g_autoptr(GError) error = NULL;
    ClMatch *m = cl_match_decide(&dir, &in, &error);
    g_assert_no_error(error);
    g_assert_nonnull(m);
    return m;
}

static char *
keys(GPtrArray *items)
{
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < items->len; i++) {
        ClItem *it = g_ptr_array_index(items, i);
        g_string_append_printf(s, "%s%s:%s", i ? " " : "", cl_item_kind_name(it->kind), it->key);
    }
    return g_string_free(s, FALSE);
}

static bool
has_reason(ClMatch *m, const char *field, const char *rule, const char *detail)
{
    for (guint i = 0; i < m->reasons->len; i++) {
        ClReason *r = g_ptr_array_index(m->reasons, i);
        if (g_strcmp0(r->field, field) == 0 && g_strcmp0(r->rule, rule) == 0 &&
            (detail == NULL || g_strcmp0(r->detail, detail) == 0))
            return true;
    }
    return false;
}

static void
test_contacts_header_order(void)
{
    World w;
    world_init(&w);
    const char *rcpts[] = { "unknown@acme.example", "S.Krause@ACME.example",
                            "j.mueller@acme.example", "s.krause@acme.example", NULL };
    g_autoptr(ClMatch) m = run(&w, "Hallo", rcpts);
    g_autofree char *got = keys(m->contacts);
    g_assert_cmpstr(got, ==, "contact:skrause contact:jmueller");
    g_assert_nonnull(m->company);
    g_assert_cmpstr(m->company->key, ==, "acme");
    g_assert_true(has_reason(m, "contact", "recipient-address", "s.krause@acme.example"));
    g_assert_true(has_reason(m, "company", "primary-contact", "skrause"));
    g_assert_null(m->lead);
    g_assert_null(m->project);
    world_clear(&w);
}

static void
test_contacts_second_address_and_other_company(void)
{
    World w;
    world_init(&w);
    const char *rcpts[] = { "boss@globex.example", "juergen@acme.example", NULL };
    g_autoptr(ClMatch) m = run(&w, "", rcpts);
    g_autofree char *got = keys(m->contacts);
    g_assert_cmpstr(got, ==, "contact:gboss contact:jmueller");
    g_assert_cmpstr(m->company->key, ==, "globex"); /* the primary contact's company */
    world_clear(&w);
}

static void
test_contacts_other_tenant_never(void)
{
    World w;
    world_init(&w);
    const char *rcpts[] = { "shared@acme.example", NULL };
    g_autoptr(ClMatch) m = run(&w, "Lead 99999 Geheimprojekt", rcpts);
    g_assert_cmpuint(m->contacts->len, ==, 0);
    g_assert_null(m->company);
    g_assert_null(m->lead);
    g_assert_cmpuint(m->candidates->len, ==, 0);
    world_clear(&w);
}

static void
test_number_selects_lead(void)
{
    World w;
    world_init(&w);
    const char *rcpts[] = { "j.mueller@acme.example", NULL };
    static const struct {
        const char *subject;
        const char *lead;
    } cases[] = {
        { "Lead 11111", "11111" },
        { "11111 Angebot", "11111" },
        { "Lead 11111)", NULL },
        { "(11111)", NULL },
        { "#11111", NULL },
        { "11111:", NULL },
        { "Lead 12345 und 11111", "11111" }, /* 12345 names nothing: ignored */
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_test_message("subject: %s", cases[i].subject);
        g_autoptr(ClMatch) m = run(&w, cases[i].subject, rcpts);
        g_assert_cmpstr(m->lead ? m->lead->key : NULL, ==, cases[i].lead);
        if (cases[i].lead)
            g_assert_true(has_reason(m, "lead", "subject-number", cases[i].lead));
    }
    world_clear(&w);
}

static void
test_offer_number_selects_project(void)
{
    World w;
    world_init(&w);
    const char *rcpts[] = { "j.mueller@acme.example", NULL };
    g_autoptr(ClMatch) m = run(&w, "Ihr Angebot 4711", rcpts);
    g_assert_null(m->lead);
    g_assert_nonnull(m->project);
    g_assert_cmpstr(m->project->key, ==, "messe2027");
    g_assert_true(has_reason(m, "project", "subject-offer-number", "4711"));
    world_clear(&w);
}

static void
test_two_numbers_candidates(void)
{
    World w;
    world_init(&w);
    const char *rcpts[] = { "j.mueller@acme.example", NULL };
    /* Two records by number: none chosen, both listed, and rule 7 does not run
     * ("Logo" would otherwise match by name). */
    g_autoptr(ClMatch) m = run(&w, "11111 und 4711 Logo", rcpts);
    g_assert_null(m->lead);
    g_assert_null(m->project);
    g_autofree char *got = keys(m->candidates);
    g_assert_cmpstr(got, ==, "lead:11111 project:messe2027");
    g_assert_cmpstr(m->company->key, ==, "acme");
    world_clear(&w);
}

static void
test_number_of_other_company_conflict(void)
{
    World w;
    world_init(&w);
    const char *rcpts[] = { "j.mueller@acme.example", NULL };
    g_autoptr(ClMatch) m = run(&w, "Lead 22222", rcpts);
    g_assert_cmpstr(m->lead->key, ==, "22222");
    g_assert_true(has_reason(m, "company", "conflict", NULL));
    world_clear(&w);
}

static void
test_number_without_contact_brings_company(void)
{
    World w;
    world_init(&w);
    const char *rcpts[] = { "nobody@example.org", NULL };
    g_autoptr(ClMatch) m = run(&w, "Lead 22222", rcpts);
    g_assert_cmpstr(m->lead->key, ==, "22222");
    g_assert_nonnull(m->company);
    g_assert_cmpstr(m->company->key, ==, "globex");
    g_assert_true(has_reason(m, "company", "lead", "22222"));
    world_clear(&w);
}

static void
test_name_rules(void)
{
    World w;
    world_init(&w);
    const char *acme[] = { "j.mueller@acme.example", NULL };
    const char *nobody[] = { "nobody@example.org", NULL };
    static const struct {
        const char *subject;
        bool with_contact;
        const char *want;       /* kind:key chosen, or NULL */
        const char *candidates; /* when nothing chosen */
    } cases[] = {
        { "Neues Logo!", true, "lead:44444", "" },          /* longest name wins */
        { "Das Logo", true, "lead:33333", "" },
        { "Neue Logos", true, NULL, "" },                   /* word boundary */
        { "RELAUNCH WEBSITE Termin", true, "lead:11111", "" }, /* company acme only */
        { "Relaunch Website Termin", false, NULL, "lead:11111 lead:22222" }, /* tie */
        { "Web-Shop Livegang", true, "lead:55555", "" },    /* among acme's records */
        { "Web-Shop Livegang", false, NULL, "project:webshop lead:55555" },
        { "Messestand Hannover Aufbau", true, "project:messe2027", "" },
        { "Geheimprojekt", false, NULL, "" },               /* other tenant's lead */
        /* punctuation inside a name: the whole name must occur as written */
        { "AW: Katalog (Frühjahr 2027) Korrektur", false, "lead:66666", "" },
        { "Katalog Frühjahr 2027", false, NULL, "" },
        /* several words, in the middle, any case */
        { "Termin zur SCHULUNG vertrieb süd am Montag", false, "lead:77777", "" },
        { "Schulung Vertrieb Südwest", false, NULL, "" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_test_message("subject: %s", cases[i].subject);
        g_autoptr(ClMatch) m = run(&w, cases[i].subject, cases[i].with_contact ? acme : nobody);
        ClItem *chosen = m->lead ? m->lead : m->project;
        g_autofree char *got = chosen ? g_strdup_printf("%s:%s", cl_item_kind_name(chosen->kind),
                                                        chosen->key)
                                      : NULL;
        g_assert_cmpstr(got, ==, cases[i].want);
        g_autofree char *cands = keys(m->candidates);
        /* candidate order follows lookups of a hash table: compare as sets */
        g_auto(GStrv) a = g_strsplit(cands, " ", -1), b = g_strsplit(cases[i].candidates, " ", -1);
        g_assert_cmpuint(g_strv_length(a), ==, g_strv_length(b));
        for (gsize j = 0; b[j]; j++)
            g_assert_true(g_strv_contains((const char *const *)a, b[j]));
        if (chosen)
            g_assert_true(has_reason(m, cl_item_kind_name(chosen->kind), "subject-name", NULL));
    }
    world_clear(&w);
}

static void
test_many_recipients_bounded(void)
{
    World w;
    world_init(&w);
    GPtrArray *rcpts = g_ptr_array_new_with_free_func(g_free);
    for (int i = 0; i < 10000; i++)
        g_ptr_array_add(rcpts, g_strdup_printf("user%d@example.org", i % 5000));
    g_ptr_array_add(rcpts, g_strdup("j.mueller@acme.example")); /* after 10,000: still found */
    for (int i = 0; i < CL_MAX_ADDRESSES_MATCHED; i++)
        g_ptr_array_add(rcpts, g_strdup_printf("more%d@example.org", i));
    g_ptr_array_add(rcpts, g_strdup("s.krause@acme.example")); /* beyond the limit */
    g_ptr_array_add(rcpts, NULL);
    guint before = fake_lookups(w.fd);
    g_autoptr(ClMatch) m = run(&w, "", (const char *const *)rcpts->pdata);
    /* every distinct address once, and no more than the limit */
    g_assert_cmpuint(fake_lookups(w.fd) - before, <=, CL_MAX_ADDRESSES_MATCHED + 64);
    g_autofree char *got = keys(m->contacts);
    g_assert_cmpstr(got, ==, "contact:jmueller");
    g_assert_true(has_reason(m, "contact", "too-many-recipients", NULL));
    g_ptr_array_unref(rcpts);
    world_clear(&w);
}

/* ---- rule 5: forwarded mail, the whole-message scan; company by domain; rule 10 ------------ */

static ClMatch *
run_in(World *w, ClMatchInput *in)
{
    ClDirectory dir = fake_directory_view(w->fd);
    in->tenant_id = w->t1;
    g_autoptr(GError) error = NULL;
    ClMatch *m = cl_match_decide(&dir, in, &error);
    g_assert_no_error(error);
    g_assert_nonnull(m);
    return m;
}

static void
test_forward_decision(void)
{
    World w;
    world_init(&w);
    const char *drop[] = { "crm@drop.example", NULL };
    const char *to_jm[] = { "j.mueller@acme.example", NULL };
    const char *orig_rcpt[] = { "anna@muster-agentur.example", "s.krause@acme.example", NULL };
    static const struct {
        const char *subject;
        bool explicit_forward;
        bool to_contact; /* the mail's own recipient is a known contact */
        bool forwarded;
    } cases[] = {
        { "WG: Angebot", false, false, true },    /* to the drop address: about the original */
        { "Angebot", false, false, true },
        { "AW: Angebot", true, false, true },     /* a reply that says it forwards */
        { "WG: Angebot", false, true, false },    /* to a known contact: mail to that contact */
        { "Fwd: Angebot", true, true, false },
        { "AW: Angebot", false, true, false },    /* a reply quoting a header block */
        { "AW: Angebot", false, false, false },   /* a reply to someone unknown: the scan */
        { "AW: WG: Angebot", false, false, false }, /* a reply in a thread begun by a forward */
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_test_message("case %zu: %s", i, cases[i].subject);
        ClMatchOriginal orig = { .format = "outlook", .explicit_forward = cases[i].explicit_forward,
                                 .from = "boss@globex.example", .recipients = orig_rcpt,
                                 .subject = "Angebot" };
        ClMatchInput in = { .subject = cases[i].subject,
                            .recipients = cases[i].to_contact ? to_jm : drop,
                            .originals = &orig, .n_originals = 1 };
        g_autoptr(ClMatch) m = run_in(&w, &in);
        g_assert_cmpint(m->forwarded, ==, cases[i].forwarded);
        g_autofree char *got = keys(m->contacts);
        if (cases[i].forwarded) {
            /* original sender first, then its recipients; not the forward's own To */
            g_assert_cmpstr(got, ==, "contact:gboss contact:skrause");
            g_assert_cmpstr(m->company->key, ==, "globex");
            g_assert_true(has_reason(m, "forwarded", "inline-forward", "outlook"));
            g_assert_true(has_reason(m, "contact", "original-sender", "boss@globex.example"));
            g_assert_true(has_reason(m, "contact", "original-recipient", "s.krause@acme.example"));
        } else if (cases[i].to_contact) {
            g_assert_cmpstr(got, ==, "contact:jmueller");
            g_assert_false(has_reason(m, "forwarded", NULL, NULL));
        } else {
            g_assert_false(has_reason(m, "forwarded", NULL, NULL));
        }
    }
    world_clear(&w);
}

static void
test_forward_subjects(void)
{
    World w;
    world_init(&w);
    const char *drop[] = { "crm@drop.example", NULL };
    const char *none[] = { NULL };
    static const struct {
        const char *subject, *original;
        const char *lead;       /* chosen, or NULL */
        const char *candidates; /* when none chosen */
    } cases[] = {
        { "WG: Angebot", "Lead 11111 Termin", "11111", "" },         /* the original's number */
        { "WG: 11111", "Termin", "11111", "" },                      /* the forward's number */
        { "WG: Lead 11111", "AW: 11111", "11111", "" },              /* the same in both */
        { "WG: Lead 11111", "Angebot 22222", NULL, "lead:11111 lead:22222" }, /* two records */
        { "Fwd: Neues Logo", "Das Logo", NULL, "lead:44444 lead:33333" },     /* two names */
        { "Fwd: Info", "AW: Neues Logo!", "44444", "" },             /* by name, prefix removed */
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_test_message("case %zu: %s / %s", i, cases[i].subject, cases[i].original);
        ClMatchOriginal orig = { .format = "forward-header", .explicit_forward = true,
                                 .from = "j.mueller@acme.example", .recipients = none,
                                 .subject = cases[i].original };
        ClMatchInput in = { .subject = cases[i].subject, .recipients = drop, .originals = &orig,
                            .n_originals = 1 };
        g_autoptr(ClMatch) m = run_in(&w, &in);
        g_assert_cmpstr(m->lead ? m->lead->key : NULL, ==, cases[i].lead);
        g_autofree char *cands = keys(m->candidates);
        g_auto(GStrv) a = g_strsplit(cands, " ", -1), b = g_strsplit(cases[i].candidates, " ", -1);
        g_assert_cmpuint(g_strv_length(a), ==, g_strv_length(b));
        for (gsize j = 0; b[j]; j++)
            g_assert_true(g_strv_contains((const char *const *)a, b[j]));
    }
    world_clear(&w);
}

/* A forward to the drop address whose original names someone who is also a
 * recipient of the forward: looked up again, not lost. */
static void
test_forward_recipient_in_original(void)
{
    World w;
    world_init(&w);
    const char *rcpts[] = { "crm@drop.example", "nobody@x.example", NULL };
    const char *orig_rcpt[] = { "nobody@x.example", "s.krause@acme.example", NULL };
    ClMatchOriginal orig = { .format = "outlook", .from = "j.mueller@acme.example",
                             .recipients = orig_rcpt, .subject = "x" };
    ClMatchInput in = { .subject = "WG: x", .recipients = rcpts, .originals = &orig,
                        .n_originals = 1 };
    g_autoptr(ClMatch) m = run_in(&w, &in);
    g_autofree char *got = keys(m->contacts);
    g_assert_cmpstr(got, ==, "contact:jmueller contact:skrause");
    world_clear(&w);
}

/* The scan finds contacts of two companies: none chosen, all candidates. */
static void
test_scan_several_companies(void)
{
    World w;
    world_init(&w);
    const char *rcpts[] = { "nobody@nowhere.example", NULL };
    const char *scan[] = { "boss@globex.example", "j.mueller@acme.example", NULL };
    ClMatchInput in = { .subject = "Hallo", .recipients = rcpts, .scan = scan };
    g_autoptr(ClMatch) m = run_in(&w, &in);
    g_assert_cmpuint(m->contacts->len, ==, 0);
    g_assert_null(m->company);
    g_autofree char *cands = keys(m->candidates);
    g_assert_cmpstr(cands, ==, "contact:gboss contact:jmueller");
    world_clear(&w);
}

static void
test_message_scan(void)
{
    World w;
    world_init(&w);
    const char *drop[] = { "crm@drop.example", "nobody@nowhere.example", NULL };
    const char *scan[] = { "anna@muster-agentur.example", "crm@drop.example",
                           "shared@acme.example", /* the other tenant's contact: never */
                           "s.krause@acme.example", "j.mueller@acme.example", NULL };
    ClMatchInput in = { .subject = "Hallo", .recipients = drop, .scan = scan };
    g_autoptr(ClMatch) m = run_in(&w, &in);
    g_autofree char *got = keys(m->contacts);
    g_assert_cmpstr(got, ==, "contact:skrause contact:jmueller");
    g_assert_cmpstr(m->company->key, ==, "acme");
    g_assert_true(has_reason(m, "contact", "message-scan", "s.krause@acme.example"));
    g_assert_false(m->forwarded);

    /* Recipients that name a contact: no scan. */
    const char *to_sk[] = { "s.krause@acme.example", NULL };
    ClMatchInput in2 = { .subject = "Hallo", .recipients = to_sk, .scan = scan };
    g_autoptr(ClMatch) m2 = run_in(&w, &in2);
    g_autofree char *got2 = keys(m2->contacts);
    g_assert_cmpstr(got2, ==, "contact:skrause");
    g_assert_false(has_reason(m2, "contact", "message-scan", NULL));
    world_clear(&w);
}

static void
test_ambiguous_contact_address(void)
{
    World w;
    world_init(&w);
    /* info@ registered for a contact of acme and one of globex */
    fake_address(w.fd, w.sk, "info@shared.example");
    fake_address(w.fd, w.gx, "info@shared.example");
    const char *rcpts[] = { "info@shared.example", NULL };
    g_autoptr(ClMatch) m = run(&w, "Hallo", rcpts);
    g_assert_cmpuint(m->contacts->len, ==, 0);
    g_assert_null(m->company);
    g_autofree char *cands = keys(m->candidates);
    g_assert_cmpstr(cands, ==, "contact:skrause contact:gboss");
    g_assert_true(has_reason(m, "contact", "ambiguous-address", NULL));
    /* with another, unique address the unique one is chosen and the others stay candidates */
    const char *rcpts2[] = { "info@shared.example", "j.mueller@acme.example", NULL };
    g_autoptr(ClMatch) m2 = run(&w, "Hallo", rcpts2);
    g_autofree char *got2 = keys(m2->contacts);
    g_assert_cmpstr(got2, ==, "contact:jmueller");
    g_assert_cmpstr(m2->company->key, ==, "acme");
    world_clear(&w);
}

static void
test_company_by_domain(void)
{
    World w;
    world_init(&w);
    fake_address(w.fd, w.acme, "acme.example");
    fake_address(w.fd, w.globex, "globex.example");
    fake_address(w.fd, w.globex, "shared-domain.example");
    fake_address(w.fd, w.acme, "shared-domain.example");
    const char *rcpts[] = { "neu@ACME.example", NULL };
    g_autoptr(ClMatch) m = run(&w, "Lead 11111", rcpts);
    g_assert_cmpuint(m->contacts->len, ==, 0);
    g_assert_cmpstr(m->company->key, ==, "acme");
    g_assert_true(has_reason(m, "company", "company-domain", "acme.example"));
    g_assert_true(has_reason(m, "contact", "suggest-create", "neu@acme.example"));
    g_assert_cmpstr(m->lead->key, ==, "11111");
    g_assert_false(has_reason(m, "company", "conflict", NULL));

    const char *two[] = { "x@shared-domain.example", NULL };
    g_autoptr(ClMatch) m2 = run(&w, "Hallo", two);
    g_assert_null(m2->company);
    g_autofree char *cands = keys(m2->candidates);
    g_assert_cmpstr(cands, ==, "company:acme company:globex");

    /* a forward: the original sender's domain */
    const char *drop[] = { "crm@drop.example", NULL };
    ClMatchOriginal orig = { .format = "attached-message", .explicit_forward = true,
                             .from = "chef@globex.example", .subject = "Hallo" };
    ClMatchInput in = { .subject = "Fwd: Hallo", .recipients = drop, .originals = &orig,
                        .n_originals = 1 };
    g_autoptr(ClMatch) m3 = run_in(&w, &in);
    g_assert_cmpstr(m3->company->key, ==, "globex");
    g_assert_true(has_reason(m3, "forwarded", "attached-message", NULL));
    world_clear(&w);
}

static void
test_thread(void)
{
    World w;
    world_init(&w);
    fake_thread(w.fd, w.t1, 7, "first@agentur.example", w.acme, w.lead11111, 0);
    fake_thread(w.fd, w.t2, 8, "other-tenant@x.example", w.other_co, w.other_lead, 0);
    const char *nobody[] = { "nobody@example.org", NULL };
    const char *refs[] = { "reply@kunde.example", "first@agentur.example", NULL };
    ClMatchInput in = { .subject = "AW: Rückfrage", .recipients = nobody, .references = refs };
    g_autoptr(ClMatch) m = run_in(&w, &in);
    g_assert_cmpstr(m->company->key, ==, "acme");
    g_assert_cmpstr(m->lead->key, ==, "11111");
    g_assert_true(has_reason(m, "company", "thread", NULL));
    g_assert_true(has_reason(m, "lead", "thread", NULL));
    g_assert_cmpint(m->thread_entry, ==, 7);

    /* Its own rules win: a number in the subject. */
    ClMatchInput in2 = { .subject = "AW: Lead 33333", .recipients = nobody, .references = refs };
    g_autoptr(ClMatch) m2 = run_in(&w, &in2);
    g_assert_cmpstr(m2->lead->key, ==, "33333");
    g_assert_false(has_reason(m2, "lead", "thread", NULL));

    /* A contact of another company: the thread's lead does not come along. */
    const char *to_gx[] = { "boss@globex.example", NULL };
    ClMatchInput in3 = { .subject = "AW: Rückfrage", .recipients = to_gx, .references = refs };
    g_autoptr(ClMatch) m3 = run_in(&w, &in3);
    g_assert_cmpstr(m3->company->key, ==, "globex");
    g_assert_null(m3->lead);

    /* Another tenant's Message-ID is never followed. */
    const char *refs_other[] = { "other-tenant@x.example", NULL };
    ClMatchInput in4 = { .subject = "AW: x", .recipients = nobody, .references = refs_other };
    g_autoptr(ClMatch) m4 = run_in(&w, &in4);
    g_assert_null(m4->company);
    g_assert_cmpint(m4->thread_entry, ==, 0);
    world_clear(&w);
}

/* Rule 10 follows only entries the author may see: a colleague's pending mail
 * is private to them, so a reply to it inherits nothing from it. */
static void
test_thread_private(void)
{
    World w;
    world_init(&w);
    const gint64 lena = 501, max = 502;
    fake_thread(w.fd, w.t1, 7, "saved@agentur.example", w.globex, w.lead22222, 0);
    fake_thread_private(w.fd, w.t1, lena, 9, "pending@agentur.example", w.acme, w.lead11111, 0);
    const char *nobody[] = { "nobody@example.org", NULL };
    const char *refs[] = { "pending@agentur.example", NULL };
    const struct {
        gint64 author;
        const char *const *refs;
        const char *company, *lead;
        gint64 entry;
    } cases[] = {
        { lena, refs, "acme", "11111", 9 },  /* her own pending mail */
        { max, refs, NULL, NULL, 0 },        /* a colleague's: nothing */
        { 0, refs, NULL, NULL, 0 },          /* nobody's */
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        ClMatchInput in = { .author_id = cases[i].author, .subject = "AW: Rückfrage",
                            .recipients = nobody, .references = cases[i].refs };
        g_autoptr(ClMatch) m = run_in(&w, &in);
        g_test_message("author %" G_GINT64_FORMAT, cases[i].author);
        g_assert_cmpstr(m->company ? m->company->key : NULL, ==, cases[i].company);
        g_assert_cmpstr(m->lead ? m->lead->key : NULL, ==, cases[i].lead);
        g_assert_cmpint(m->thread_entry, ==, cases[i].entry);
        g_assert_false(cases[i].entry == 0 && has_reason(m, "company", "thread", NULL));
    }
    /* A thread with a saved entry and, newer, a colleague's pending one: the saved one. */
    const char *both[] = { "pending@agentur.example", "saved@agentur.example", NULL };
    ClMatchInput in = { .author_id = max, .subject = "AW: Rückfrage", .recipients = nobody,
                        .references = both };
    g_autoptr(ClMatch) m = run_in(&w, &in);
    g_assert_cmpint(m->thread_entry, ==, 7);
    g_assert_cmpstr(m->company->key, ==, "globex");
    g_assert_cmpstr(m->lead->key, ==, "22222");
    world_clear(&w);
}

static void
test_subject_strip(void)
{
    const ClSubjectKind P = CL_SUBJECT_PLAIN, R = CL_SUBJECT_REPLY, F = CL_SUBJECT_FORWARD;
    const struct {
        const char *in, *out;
        ClSubjectKind kind; /* of the outermost prefix */
    } cases[] = {
        { "AW: WG: Fwd: Angebot", "Angebot", R },   /* a reply in a thread that began with a forward */
        { "WG: AW: Angebot", "Angebot", F },        /* a forward of a reply */
        { "Re: Re[2]: Frage", "Frage", R },
        { "TR : Devis", "Devis", F },
        { "RV: Presupuesto", "Presupuesto", F },
        { "I: Preventivo", "Preventivo", F },
        { "SV: VS: Tilbud", "Tilbud", R },
        { "Doorst: Antw: Offerte", "Offerte", F },
        { "Lead 11111: Termin", "Lead 11111: Termin", P },
        { "[Fwd: Re: 34Mbit/s Netz]", "34Mbit/s Netz", F },
        { "[Fwd: [Fwd: FW: Moment]]", "Moment", F },
        { "[EXTERN] Angebot", "[EXTERN] Angebot", P },
        { "Aufgabe: Logo", "Aufgabe: Logo", P },
        { "", "", P },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        ClSubjectKind kind = P;
        g_autofree char *got = cl_subject_strip(cases[i].in, &kind);
        g_assert_cmpstr(got, ==, cases[i].out);
        g_assert_cmpint(kind, ==, cases[i].kind);
    }
}

static void
test_directory_failure(void)
{
    World w;
    world_init(&w);
    const char *rcpts[] = { "j.mueller@acme.example", NULL };
    ClDirectory dir = fake_directory_view(w.fd);
    /* "Nummer 12345" names nothing, so rules 4, 6 and 7 each look something up. */
    ClMatchInput in = { .tenant_id = w.t1, .subject = "Nummer 12345", .recipients = rcpts };
    guint before = fake_lookups(w.fd);
    g_autoptr(ClMatch) ok = cl_match_decide(&dir, &in, NULL);
    g_assert_nonnull(ok);
    guint needed = fake_lookups(w.fd) - before;
    g_assert_cmpuint(needed, >=, 3);
    for (guint step = 0; step < needed; step++) {
        /* Whichever lookup fails, the error surfaces and no decision is made. */
        g_autoptr(GError) error = NULL;
        fake_fail_after(w.fd, step);
        g_autoptr(ClMatch) m = cl_match_decide(&dir, &in, &error);
        g_assert_null(m);
        g_assert_error(error, CL_ERROR, CL_ERROR_TEMPFAIL);
    }
    world_clear(&w);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/match/numbers/strict", test_subject_numbers_strict);
    g_test_add_func("/match/numbers/tolerant", test_subject_numbers_tolerant);
    g_test_add_func("/match/numbers/limit", test_subject_numbers_limit);
    g_test_add_func("/match/names/in-subject", test_name_in_subject);
    g_test_add_func("/match/contacts/header-order", test_contacts_header_order);
    g_test_add_func("/match/contacts/second-address", test_contacts_second_address_and_other_company);
    g_test_add_func("/match/contacts/other-tenant", test_contacts_other_tenant_never);
    g_test_add_func("/match/number/lead", test_number_selects_lead);
    g_test_add_func("/match/number/offer", test_offer_number_selects_project);
    g_test_add_func("/match/number/candidates", test_two_numbers_candidates);
    g_test_add_func("/match/number/conflict", test_number_of_other_company_conflict);
    g_test_add_func("/match/number/company-from-lead", test_number_without_contact_brings_company);
    g_test_add_func("/match/names/rules", test_name_rules);
    g_test_add_func("/match/contacts/bounded", test_many_recipients_bounded);
    g_test_add_func("/match/directory-failure", test_directory_failure);
    g_test_add_func("/match/forward/decision", test_forward_decision);
    g_test_add_func("/match/forward/subjects", test_forward_subjects);
    g_test_add_func("/match/forward/recipient-in-original", test_forward_recipient_in_original);
    g_test_add_func("/match/scan/several-companies", test_scan_several_companies);
    g_test_add_func("/match/scan", test_message_scan);
    g_test_add_func("/match/contacts/ambiguous-address", test_ambiguous_contact_address);
    g_test_add_func("/match/company-domain", test_company_by_domain);
    g_test_add_func("/match/thread", test_thread);
    g_test_add_func("/match/thread/private", test_thread_private);
    g_test_add_func("/match/subject-strip", test_subject_strip);
    return g_test_run();
}
