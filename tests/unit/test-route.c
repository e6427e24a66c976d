/*
 * test-route.c — DESIGN §2 rules 2 (tenant) and 3 (author) on a fake directory.
 */
#include <string.h>

#include "route/route.h"
#include "support/fake-directory.h"

typedef struct {
    FakeDirectory *fd;
    gint64 t1, t2, anna, ben, shared1, shared2;
} World;

static void
world_init(World *w)
{
    w->fd = fake_directory_new();
    w->t1 = fake_tenant(w->fd, "muster", "muster-agentur.example");
    w->t2 = fake_tenant(w->fd, "hafen", "hafen.example");
    w->anna = fake_user(w->fd, w->t1, "anna", "anna.berg@muster-agentur.example");
    fake_address(w->fd, w->anna, "anna.berg@privat.example");
    w->ben = fake_user(w->fd, w->t1, "ben", "ben@muster-agentur.example");
    /* registered twice inside tenant 1 */
    w->shared1 = fake_user(w->fd, w->t1, "info1", "info@muster-agentur.example");
    w->shared2 = fake_user(w->fd, w->t1, "info2", "info@muster-agentur.example");
    /* a private address registered in two tenants */
    fake_address(w->fd, w->ben, "family@privat.example");
    gint64 jonas = fake_user(w->fd, w->t2, "jonas", "jonas@hafen.example");
    fake_address(w->fd, jonas, "family@privat.example");
}

static void
test_cases(void)
{
    World w;
    world_init(&w);
    static const struct {
        const char *sender;
        bool accepted;
        const char *reason, *tenant, *user, *tenant_rule;
    } cases[] = {
        { "anna.berg@muster-agentur.example", true, NULL, "muster", "anna", "sender-domain" },
        { "Anna.Berg@MUSTER-Agentur.Example", true, NULL, "muster", "anna", "sender-domain" },
        { "anna.berg@privat.example", true, NULL, "muster", "anna", "private-address" },
        { "jonas@hafen.example", true, NULL, "hafen", "jonas", "sender-domain" },
        { "family@privat.example", false, "unknown-tenant", NULL, NULL, NULL },
        { "someone@elsewhere.example", false, "unknown-tenant", NULL, NULL, NULL },
        { "fremd@muster-agentur.example", false, "unknown-sender", "muster", NULL, NULL },
        /* tenant 2's user never authors mail of tenant 1's domain */
        { "jonas@muster-agentur.example", false, "unknown-sender", "muster", NULL, NULL },
        { "info@muster-agentur.example", false, "ambiguous-sender", "muster", NULL, NULL },
        { NULL, false, "malformed", NULL, NULL, NULL },
        { "", false, "malformed", NULL, NULL, NULL },
        { "no-at-sign", false, "malformed", NULL, NULL, NULL },
        { "trailing@", false, "malformed", NULL, NULL, NULL },
    };
    ClDirectory dir = fake_directory_view(w.fd);
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_test_message("sender: %s", cases[i].sender ? cases[i].sender : "(none)");
        g_autoptr(GError) error = NULL;
        g_autoptr(ClRoute) r = cl_route_decide(&dir, cases[i].sender, &error);
        g_assert_no_error(error);
        g_assert_nonnull(r);
        g_assert_cmpint(r->accepted, ==, cases[i].accepted);
        g_assert_cmpstr(r->reason, ==, cases[i].reason);
        g_assert_cmpstr(r->tenant ? r->tenant->key : NULL, ==, cases[i].tenant);
        g_assert_cmpstr(r->user ? r->user->key : NULL, ==, cases[i].user);
        if (!r->accepted)
            g_assert_nonnull(r->message);
        if (cases[i].tenant_rule) {
            ClReason *first = g_ptr_array_index(r->reasons, 0);
            g_assert_cmpstr(first->field, ==, "tenant");
            g_assert_cmpstr(first->rule, ==, cases[i].tenant_rule);
        }
    }
    fake_directory_free(w.fd);
}

static void
test_ambiguous_message_names_address(void)
{
    World w;
    world_init(&w);
    ClDirectory dir = fake_directory_view(w.fd);
    g_autoptr(ClRoute) r = cl_route_decide(&dir, "info@muster-agentur.example", NULL);
    g_assert_nonnull(strstr(r->message, "info@muster-agentur.example"));
    g_assert_nonnull(strstr(r->message, "info1"));
    g_assert_nonnull(strstr(r->message, "info2"));
    fake_directory_free(w.fd);
}

static void
test_directory_failure(void)
{
    World w;
    world_init(&w);
    ClDirectory dir = fake_directory_view(w.fd);
    for (guint step = 0; step < 2; step++) {
        g_autoptr(GError) error = NULL;
        fake_fail_after(w.fd, step);
        g_autoptr(ClRoute) r = cl_route_decide(&dir, "anna.berg@muster-agentur.example", &error);
        g_assert_null(r);
        g_assert_error(error, CL_ERROR, CL_ERROR_TEMPFAIL);
    }
    fake_directory_free(w.fd);
}

/* One mailbox, one folded form: case, NFC, and a quoted local part that is a dot-atom. */
static void
test_address_fold(void)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        { " Lena.Hoffmann@Web.Example ", "lena.hoffmann@web.example" },
        { "\"lena.hoffmann\"@web.example", "lena.hoffmann@web.example" },
        { "\"LENA\"@WEB.example", "lena@web.example" },
        { "\"o'neil+crm\"@web.example", "o'neil+crm@web.example" },
        { "\"J\u00f6rg\"@web.example", "j\u00f6rg@web.example" },
        /* Not a dot-atom: the quotes belong to the mailbox. */
        { "\"lena hoffmann\"@web.example", "\"lena hoffmann\"@web.example" },
        { "\"lena..hoffmann\"@web.example", "\"lena..hoffmann\"@web.example" },
        { "\".lena\"@web.example", "\".lena\"@web.example" },
        { "\"lena.\"@web.example", "\"lena.\"@web.example" },
        { "\"a@b\"@web.example", "\"a@b\"@web.example" },
        { "\"\"@web.example", "\"\"@web.example" },
        { "\"lena@web.example", "\"lena@web.example" },
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *got = cl_address_fold(cases[i].in);
        g_assert_cmpstr(got, ==, cases[i].want);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/route/cases", test_cases);
    g_test_add_func("/route/address-fold", test_address_fold);
    g_test_add_func("/route/ambiguous-message", test_ambiguous_message_names_address);
    g_test_add_func("/route/directory-failure", test_directory_failure);
    return g_test_run();
}
