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
    return g_test_run();
}
