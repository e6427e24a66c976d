/*
 * fuzz-capture.c — libFuzzer target over what a mail goes through before it is
 * stored: parse (MIME, headers, HTML to text, attachment names), forward
 * extraction and the whole-message scan, subject prefixes and numbers, then
 * route and the pipeline's match (cl_pipeline_match) against a small fake CRM
 * (tests/support). `make fuzz` runs it;
 * fuzz/regressions/ holds every input it ever crashed on, replayed by
 * `make test` (fuzz-replay, the same function with a main()).
 */
#include <stdint.h>
#include <string.h>

#include "pipeline/pipeline.h"
#include "route/route.h"
#include "support/fake-directory.h"

static FakeDirectory *crm;
static gint64 tenant;

static void
setup(void)
{
    if (crm != NULL)
        return;
    cl_parse_init();
    crm = fake_directory_new();
    tenant = fake_tenant(crm, "alpha", "example.com");
    fake_user(crm, tenant, "anna", "anna@example.com");
    fake_user(crm, tenant, "ben", "ben@example.org");
    gint64 acme = fake_company(crm, tenant, "acme");
    fake_address(crm, acme, "acme.com");
    fake_contact(crm, tenant, acme, "jdoe", "john.doe@acme.com");
    fake_contact(crm, tenant, acme, "bessie", "bessie.berry@acme.com");
    gint64 globex = fake_company(crm, tenant, "globex");
    fake_address(crm, globex, "globex.corp");
    gint64 nick = fake_contact(crm, tenant, globex, "nick", "nicholas@globex.corp");
    fake_address(crm, nick, "info@example.net");
    fake_lead(crm, tenant, acme, "11111", "Relaunch Website");
    fake_lead(crm, tenant, globex, "22222", "Logo");
    fake_project(crm, tenant, acme, "messe", "Messestand Hannover", "4711");
    fake_thread(crm, tenant, 1, "first@example.com", acme, 0, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    g_autoptr(GError) error = NULL;
    g_autoptr(ClMessage) m = cl_parse_message_data(data, size, &error);
    if (m == NULL)
        return 0;
    /* What parse promises: valid UTF-8 everywhere the rest of the pipeline reads. */
    g_assert_true(g_utf8_validate(m->subject, -1, NULL));
    g_assert_true(g_utf8_validate(m->text, -1, NULL));
    for (guint i = 0; i < m->scan->len; i++)
        g_assert_true(g_utf8_validate(m->scan->pdata[i], -1, NULL));
    for (guint i = 0; i < m->attachments->len; i++) {
        ClAttachment *a = m->attachments->pdata[i];
        g_assert_true(g_utf8_validate(a->filename, -1, NULL));
        g_assert_null(strchr(a->filename, '/'));
    }

    ClDirectory dir = fake_directory_view(crm);
    g_autoptr(ClRoute) route = cl_route_decide(&dir, m->from ? m->from->address : NULL, &error);
    g_assert_nonnull(route);

    for (guint i = 0; i < m->forwards->len; i++) {
        ClForward *f = m->forwards->pdata[i];
        g_assert_true(f->subject == NULL || g_utf8_validate(f->subject, -1, NULL));
        g_assert_true(g_utf8_validate(cl_forward_text(m, f), -1, NULL));
    }
    /* The match as the pipeline runs it, in both subject-number modes. */
    for (int tolerant = 0; tolerant <= 1; tolerant++) {
        fake_settings(crm, tenant, (ClTenantSettings){ .tolerant_numbers = tolerant });
        g_autoptr(ClMatch) match = cl_pipeline_match(&dir, m, tenant,
                                                       route->user ? route->user->id : 0, &error);
        g_assert_nonnull(match);
        g_assert_true(match->lead == NULL || match->project == NULL);
    }
    return 0;
}
