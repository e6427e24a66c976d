/*
 * test-store.c — the store and the pipeline on a real SQLite data directory:
 * idempotent master data, directory lookups, capture end to end, duplicates,
 * review, tenant isolation, and a failing database at every step of a
 * delivery (nothing may remain, the answer must be TEMPFAIL).
 */
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "intake/intake.h"
#include "pipeline/pipeline.h"
#include "store/store.h"

static const char *masterdata =
    "{\"drop_addresses\": [\"crm@contactlog.example\"],\n"
    " \"tenants\": [\n"
    "  {\"key\": \"muster\", \"name\": \"Muster GmbH\", \"domains\": [\"muster.example\"],\n"
    "   \"users\": [{\"key\": \"anna\", \"name\": \"Anna\", \"role\": \"admin\", \"password\": \"pw-anna\",\n"
    "               \"emails\": [\"anna@muster.example\", \"Anna@Privat.example\"]}],\n"
    "   \"companies\": [{\"key\": \"acme\", \"name\": \"ACME AG\", \"domains\": [\"acme.example\"],\n"
    "     \"contacts\": [{\"key\": \"jm\", \"name\": \"Jürgen Müller\", \"emails\": [\"J.Mueller@acme.example\"]}],\n"
    "     \"leads\": [{\"number\": \"11111\", \"name\": \"Relaunch Website\", \"status\": \"open\"}],\n"
    "     \"projects\": [{\"key\": \"messe\", \"number\": \"P-1\", \"name\": \"Messestand\", \"offers\": [\"4711\"]}]}]},\n"
    "  {\"key\": \"hafen\", \"name\": \"Hafen\", \"domains\": [\"hafen.example\"],\n"
    "   \"users\": [{\"key\": \"jonas\", \"name\": \"Jonas\", \"emails\": [\"jonas@hafen.example\"]}],\n"
    "   \"companies\": [{\"key\": \"acme\", \"name\": \"ACME Hafen\",\n"
    "     \"contacts\": [{\"key\": \"jm\", \"name\": \"Other JM\", \"emails\": [\"j.mueller@acme.example\"]}],\n"
    "     \"leads\": [{\"number\": \"11111\", \"name\": \"Fremder Lead\"}]}]}\n"
    " ]}\n";

typedef struct {
    char *dir;
    ClConfig *config;
    ClStore *store;
} Fixture;

static char *
write_temp(const char *dir, const char *name, const char *text)
{
    char *path = g_build_filename(dir, name, NULL);
    g_assert_true(g_file_set_contents(path, text, -1, NULL));
    return path;
}

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
    (void)data;
    f->dir = g_dir_make_tmp("cl-store-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    g_autoptr(GError) error = NULL;
    f->config = cl_config_load(f->dir, NULL, &error);
    g_assert_no_error(error);
    f->config->sync = false; /* throw-away data: no fsync needed in unit tests */
    f->store = cl_store_open(f->config, &error);
    g_assert_no_error(error);
    g_autofree char *md = write_temp(f->dir, "md.json", masterdata);
    ClLoadStats stats;
    g_assert_true(cl_store_load_masterdata(f->store, md, &stats, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(stats.created, ==, 11);
}

static void
remove_tree(const char *path)
{
    g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *child = g_build_filename(path, name, NULL);
        remove_tree(child);
    }
    g_remove(path);
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
    (void)data;
    cl_store_free(f->store);
    cl_config_free(f->config);
    remove_tree(f->dir);
    g_free(f->dir);
}

static guint
count_files(const char *dir)
{
    guint n = 0;
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *child = g_build_filename(dir, name, NULL);
        n += g_file_test(child, G_FILE_TEST_IS_DIR) ? count_files(child) : 1;
    }
    return n;
}

static void
test_load_idempotent(Fixture *f, gconstpointer data)
{
    (void)data;
    g_autofree char *md = write_temp(f->dir, "md.json", masterdata);
    ClLoadStats stats;
    g_autoptr(GError) error = NULL;
    g_assert_true(cl_store_load_masterdata(f->store, md, &stats, &error));
    g_assert_cmpuint(stats.created, ==, 0);
    g_assert_cmpuint(stats.updated, ==, 0);
    g_assert_cmpuint(stats.unchanged, ==, 11);

    /* A renamed contact and a new address: updated, and lookups follow. */
    g_autofree char *changed = NULL;
    g_autofree char *changed2 = NULL;
    {
        g_auto(GStrv) names = g_strsplit(masterdata, "Jürgen Müller", 2);
        changed = g_strjoinv("Jürgen Mueller", names);
        g_auto(GStrv) parts = g_strsplit(changed, "\"J.Mueller@acme.example\"", 2);
        changed2 = g_strjoinv("\"J.Mueller@acme.example\", \"jm2@acme.example\"", parts);
    }
    g_autofree char *md2 = write_temp(f->dir, "md2.json", changed2);
    g_assert_true(cl_store_load_masterdata(f->store, md2, &stats, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(stats.updated, ==, 1);
    g_assert_cmpuint(stats.created, ==, 0);
    ClDirectory dir = cl_store_directory(f->store);
    g_autoptr(GPtrArray) found = dir.ops->contacts_by_address(dir.self, 1, "jm2@acme.example", &error);
    g_assert_cmpuint(found->len, ==, 1);
    g_assert_cmpstr(((ClItem *)found->pdata[0])->name, ==, "Jürgen Mueller");
}

static void
test_load_conflict_rolls_back(Fixture *f, gconstpointer data)
{
    (void)data;
    g_autofree char *md = write_temp(f->dir, "bad.json",
        "{\"tenants\": [{\"key\": \"neu\", \"domains\": [\"neu.example\"]},"
        " {\"key\": \"dieb\", \"domains\": [\"MUSTER.example\"]}]}");
    g_autoptr(GError) error = NULL;
    g_assert_false(cl_store_load_masterdata(f->store, md, NULL, &error));
    g_assert_error(error, CL_ERROR, CL_ERROR_CONFLICT);
    g_assert_nonnull(strstr(error->message, "muster.example"));
    g_clear_error(&error);
    g_autoptr(ClItem) t = cl_store_find(f->store, CL_ITEM_TENANT, 0, "neu", &error);
    g_assert_null(t);
    g_assert_error(error, CL_ERROR, CL_ERROR_NOT_FOUND);
}

static void
test_load_invalid(Fixture *f, gconstpointer data)
{
    (void)data;
    static const char *bad[] = {
        "{\"tenants\": [",
        "[]",
        "{\"tenants\": [{\"name\": \"no key\"}]}",
        "{\"tenants\": [{\"key\": \"x\", \"companies\": [{\"key\": \"c\", \"leads\": [{\"number\": \"12a\", \"name\": \"L\"}]}]}]}",
        "{\"tenants\": [{\"key\": \"x\", \"users\": [{\"key\": \"u\", \"role\": \"boss\"}]}]}",
        "{\"tenants\": [{\"key\": \"x\", \"users\": [{\"key\": \"u\", \"emails\": [\"no-at\"]}]}]}",
        "{\"tenants\": [{\"key\": \"x\", \"settings\": {\"subject_numbers\": \"loose\"}}]}",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *md = write_temp(f->dir, "bad.json", bad[i]);
        g_autoptr(GError) error = NULL;
        g_test_message("file: %s", bad[i]);
        g_assert_false(cl_store_load_masterdata(f->store, md, NULL, &error));
        g_assert_error(error, CL_ERROR, CL_ERROR_INVALID);
    }
}

static void
test_directory_lookups(Fixture *f, gconstpointer data)
{
    (void)data;
    ClDirectory dir = cl_store_directory(f->store);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) t = dir.ops->tenants_by_domain(dir.self, "muster.example", &error);
    g_assert_cmpuint(t->len, ==, 1);
    gint64 muster = ((ClItem *)t->pdata[0])->id;
    g_autoptr(GPtrArray) u = dir.ops->users_by_address(dir.self, 0, "anna@privat.example", &error);
    g_assert_cmpuint(u->len, ==, 1);
    g_assert_cmpstr(((ClItem *)u->pdata[0])->tenant_key, ==, "muster");
    g_autoptr(GPtrArray) c = dir.ops->contacts_by_address(dir.self, muster, "j.mueller@acme.example", &error);
    g_assert_cmpuint(c->len, ==, 1);
    g_assert_cmpstr(((ClItem *)c->pdata[0])->name, ==, "Jürgen Müller");
    g_autoptr(GPtrArray) r = dir.ops->records_by_number(dir.self, muster, "4711", &error);
    g_assert_cmpuint(r->len, ==, 1);
    g_assert_cmpint(((ClItem *)r->pdata[0])->kind, ==, CL_ITEM_PROJECT);
    g_autoptr(GPtrArray) l = dir.ops->records_by_number(dir.self, muster, "11111", &error);
    g_assert_cmpuint(l->len, ==, 1);
    g_assert_cmpstr(((ClItem *)l->pdata[0])->name, ==, "Relaunch Website");
    const char *names[] = { "relaunch", "relaunch website", "website", NULL };
    g_autoptr(GPtrArray) w = dir.ops->records_by_name_keys(dir.self, muster, 0, names, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(w->len, ==, 1);
    g_assert_cmpstr(((ClItem *)w->pdata[0])->name, ==, "Relaunch Website");
    g_autoptr(GPtrArray) w2 = dir.ops->records_by_name_keys(
        dir.self, muster, ((ClItem *)w->pdata[0])->company_id + 1000, names, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(w2->len, ==, 0); /* of another company */
}

/* Through a spool file, as `deliver` reads stdin. */
static ClRawMessage *
spool(Fixture *f, const char *mail)
{
    g_autofree char *path = write_temp(f->dir, "in.eml", mail);
    int fd = open(path, O_RDONLY);
    g_autoptr(GError) error = NULL;
    ClRawMessage *raw = cl_intake_spool(f->store, fd, f->config->max_message_bytes, "test",
                                        &error);
    close(fd);
    g_assert_no_error(error);
    return raw;
}

static char *
read_blob(Fixture *f, const char *hash)
{
    g_autofree char *path = g_build_filename(f->dir, "blob.out", NULL);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    g_autoptr(GError) error = NULL;
    g_assert_true(cl_store_blob_write_to(f->store, hash, fd, &error));
    g_assert_no_error(error);
    close(fd);
    char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    return text;
}

static const char *mail_lead =
    "From: Anna <anna@muster.example>\r\nTo: j.mueller@acme.example\r\n"
    "Subject: Angebot Lead 11111\r\nMessage-ID: <m1@muster.example>\r\n"
    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
    "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHallo Herr Müller\r\n"
    "--b\r\nContent-Type: application/pdf; name=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    "SGFsbG8gV2VsdA==\r\n--b--\r\n";

static guint
inbox_count(Fixture *f, const char *user)
{
    g_autoptr(ClItem) u = cl_store_find(f->store, CL_ITEM_USER, 0, user, NULL);
    ClEntryQuery q = { .tenant_id = u->tenant_id, .author_id = u->id, .limit = 1000 };
    g_autoptr(GPtrArray) list = cl_store_entries_list(f->store, &q, NULL);
    return list->len;
}

static void
test_capture_and_review(Fixture *f, gconstpointer data)
{
    (void)data;
    g_autoptr(ClPipeline) p = cl_pipeline_new(f->store, f->config);
    g_autoptr(ClRawMessage) raw = spool(f, mail_lead);
    g_autoptr(GError) error = NULL;
    g_autoptr(ClResult) r = cl_pipeline_process(p, raw, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpint(r->status, ==, CL_RESULT_PENDING);
    ClEntry *e = r->entry;
    g_assert_cmpstr(e->company->key, ==, "acme");
    g_assert_cmpstr(e->lead->key, ==, "11111");
    g_assert_cmpuint(e->attachments->len, ==, 1);

    g_autoptr(ClEntry) got = cl_store_entry_get(f->store, e->tenant_id, e->id, &error);
    g_assert_no_error(error);
    g_assert_null(got->body); /* not stored twice: read from the original */
    g_assert_true(cl_pipeline_entry_text(f->store, got, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(got->body, ==, "Hallo Herr Müller");
    g_assert_cmpuint(got->contacts->len, ==, 1);
    g_assert_cmpstr(((ClItem *)got->contacts->pdata[0])->key, ==, "jm");
    g_assert_cmpuint(got->reasons->len, >=, 4);
    ClEntryAttachment *a = got->attachments->pdata[0];
    g_assert_cmpint(a->size, ==, 10);
    char want[CL_HASH_HEX_LEN];
    cl_hash_hex("Hallo Welt", 10, want);
    g_assert_cmpstr(a->hash, ==, want);
    g_autofree char *content = read_blob(f, a->hash);
    g_assert_cmpstr(content, ==, "Hallo Welt");
    g_autofree char *rawtext = read_blob(f, got->raw_hash);
    g_assert_cmpstr(rawtext, ==, mail_lead);
    cl_hash_hex(mail_lead, strlen(mail_lead), want);
    g_assert_cmpstr(got->raw_hash, ==, want);

    /* Tenant isolation: the other tenant cannot read it. */
    g_autoptr(ClItem) hafen = cl_store_find(f->store, CL_ITEM_TENANT, 0, "hafen", NULL);
    g_autoptr(ClEntry) none = cl_store_entry_get(f->store, hafen->id, e->id, &error);
    g_assert_null(none);
    g_assert_error(error, CL_ERROR, CL_ERROR_NOT_FOUND);
    g_clear_error(&error);

    /* Duplicate: same Message-ID, same entry, nothing new. */
    g_autoptr(ClRawMessage) raw2 = spool(f, mail_lead);
    g_autoptr(ClResult) d = cl_pipeline_process(p, raw2, NULL, &error);
    g_assert_cmpint(d->status, ==, CL_RESULT_DUPLICATE);
    g_assert_cmpint(d->entry->id, ==, e->id);
    g_assert_cmpuint(inbox_count(f, "anna"), ==, 1);

    /* Review: a lead of the other tenant cannot be chosen; the project can. */
    g_autoptr(ClItem) foreign = cl_store_find(f->store, CL_ITEM_LEAD, hafen->id, "11111", NULL);
    ClEntryChange bad = { .lead_id = foreign->id, .channel = -1 };
    g_assert_true(cl_store_begin(f->store, NULL));
    g_assert_false(cl_store_entry_confirm(f->store, e->tenant_id, e->id, &bad, &error));
    g_assert_error(error, CL_ERROR, CL_ERROR_NOT_FOUND);
    cl_store_rollback(f->store);
    g_clear_error(&error);
    g_autoptr(ClItem) messe = cl_store_find(f->store, CL_ITEM_PROJECT, e->tenant_id, "messe", NULL);
    ClEntryChange change = { .project_id = messe->id, .channel = -1, .version = 1 };
    g_assert_true(cl_store_begin(f->store, NULL));
    g_assert_true(cl_store_entry_confirm(f->store, e->tenant_id, e->id, &change, &error));
    g_assert_true(cl_store_commit(f->store, NULL));
    g_autoptr(ClEntry) saved = cl_store_entry_get(f->store, e->tenant_id, e->id, &error);
    g_assert_cmpint(saved->state, ==, CL_ENTRY_SAVED);
    g_assert_null(saved->lead);
    g_assert_cmpstr(saved->project->key, ==, "messe");
    g_assert_cmpint(saved->version, ==, 2);
    g_assert_cmpuint(inbox_count(f, "anna"), ==, 0);
    ClEntryQuery q = { .tenant_id = e->tenant_id, .project_id = messe->id };
    g_autoptr(GPtrArray) hist = cl_store_entries_list(f->store, &q, &error);
    g_assert_cmpuint(hist->len, ==, 1);
    /* Confirming again is a conflict. */
    g_assert_true(cl_store_begin(f->store, NULL));
    g_assert_false(cl_store_entry_confirm(f->store, e->tenant_id, e->id, &change, &error));
    g_assert_error(error, CL_ERROR, CL_ERROR_CONFLICT);
    cl_store_rollback(f->store);
}

static void
test_rejections_recorded(Fixture *f, gconstpointer data)
{
    (void)data;
    g_autoptr(ClPipeline) p = cl_pipeline_new(f->store, f->config);
    static const struct {
        const char *mail, *reason;
    } cases[] = {
        { "From: x@unknown.example\r\nSubject: a\r\n\r\nb\r\n", "unknown-tenant" },
        { "From: fremd@muster.example\r\nSubject: a\r\n\r\nb\r\n", "unknown-sender" },
        { "Subject: no sender\r\n\r\nb\r\n", "malformed" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(ClRawMessage) raw = spool(f, cases[i].mail);
        g_autoptr(ClResult) r = cl_pipeline_process(p, raw, NULL, NULL);
        g_assert_cmpint(r->status, ==, CL_RESULT_REJECTED);
        g_assert_cmpstr(r->reason, ==, cases[i].reason);
    }
    g_autoptr(GPtrArray) rows = cl_store_rejections_list(f->store, 0, 10, NULL);
    g_assert_cmpuint(rows->len, ==, 3);
    g_assert_nonnull(strstr(rows->pdata[0], "malformed"));
}

static void
test_too_large(Fixture *f, gconstpointer data)
{
    (void)data;
    f->config->max_message_bytes = 100;
    g_autoptr(ClPipeline) p = cl_pipeline_new(f->store, f->config);
    g_autoptr(ClRawMessage) raw = spool(f, mail_lead);
    g_assert_cmpint(raw->stored, ==, 100);
    g_assert_cmpint(raw->size, ==, (gint64)strlen(mail_lead));
    g_autoptr(ClResult) r = cl_pipeline_process(p, raw, NULL, NULL);
    g_assert_cmpint(r->status, ==, CL_RESULT_REJECTED);
    g_assert_cmpstr(r->reason, ==, "too-large");
    g_autofree char *want = g_strdup_printf("%zu bytes", strlen(mail_lead));
    g_assert_nonnull(strstr(r->message, want));
}

/* The failing database driver: every database call of a delivery fails once,
 * up to the last one. A failure either answers TEMPFAIL and leaves nothing, or
 * (a call whose failure is harmless, such as finishing a read) the delivery
 * goes through complete. */
static void
test_failure_at_every_step(Fixture *f, gconstpointer data)
{
    (void)data;
    g_autoptr(ClPipeline) p = cl_pipeline_new(f->store, f->config);
    g_autofree char *tmp = g_build_filename(f->dir, "tmp", NULL);
    guint failures = 0, stored = 0;
    for (guint n = 1; n < 500; n++) {
        g_autofree char *mail = g_strdup_printf(
            "From: anna@muster.example\r\nTo: j.mueller@acme.example\r\n"
            "Message-ID: <step%u@x>\r\nSubject: Lead 11111\r\nContent-Type: multipart/mixed; "
            "boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nStep %u\r\n--b\r\n"
            "Content-Type: application/pdf\r\nContent-Disposition: attachment; "
            "filename=a%u.pdf\r\n\r\nPDF %u\r\n--b--\r\n", n, n, n, n);
        g_autoptr(ClRawMessage) raw = spool(f, mail);
        g_autoptr(GError) error = NULL;
        cl_store_fail_after(f->store, n);
        g_autoptr(ClResult) r = cl_pipeline_process(p, raw, NULL, &error);
        bool fired = cl_store_fail_after(f->store, 0) == 0;
        g_clear_pointer(&raw, cl_raw_message_free);
        g_assert_cmpuint(count_files(tmp), ==, 0); /* no spool file left behind */
        if (r != NULL) {
            g_assert_cmpint(r->status, ==, CL_RESULT_PENDING);
            stored++;
            g_assert_cmpuint(inbox_count(f, "anna"), ==, stored);
            g_autoptr(ClEntry) e = cl_store_entry_get(f->store, 0, r->entry->id, &error);
            g_assert_no_error(error);
            g_assert_cmpstr(e->lead->key, ==, "11111");
            g_assert_cmpuint(e->attachments->len, ==, 1);
            g_assert_true(cl_pipeline_entry_text(f->store, e, &error));
            g_assert_no_error(error);
            g_autofree char *want = g_strdup_printf("Step %u", n);
            g_assert_cmpstr(e->body, ==, want);
            if (!fired) {
                /* Past the last database call. */
                g_assert_cmpuint(failures, >=, 10);
                return;
            }
            continue;
        }
        failures++;
        g_assert_true(fired);
        g_assert_error(error, CL_ERROR, CL_ERROR_TEMPFAIL);
        g_assert_cmpuint(inbox_count(f, "anna"), ==, stored);
        g_autoptr(GPtrArray) rej = cl_store_rejections_list(f->store, 0, 10, NULL);
        g_assert_cmpuint(rej->len, ==, 0);
    }
    g_assert_not_reached();
}

/* In a batch, a message that fails at any database call is rolled back alone:
 * the message after it is stored and its blobs are intact. Each step on a
 * fresh data directory, so that the failing message is the one that creates
 * the first blob pack. */
static void
test_failure_in_batch(Fixture *unused, gconstpointer data)
{
    (void)unused;
    (void)data;
    guint failures = 0;
    for (guint n = 1; n < 500; n++) {
        Fixture fx = { 0 }, *f = &fx;
        fixture_set_up(f, NULL);
        g_autoptr(ClPipeline) p = cl_pipeline_new(f->store, f->config);
        g_assert_true(cl_pipeline_batch_begin(p, NULL));
        g_autoptr(GError) error = NULL;
        g_autoptr(ClRawMessage) raw = spool(f, mail_lead);
        cl_store_fail_after(f->store, n);
        g_autoptr(ClResult) r = cl_pipeline_process(p, raw, NULL, &error);
        bool fired = cl_store_fail_after(f->store, 0) == 0;
        if (r == NULL) {
            g_assert_error(error, CL_ERROR, CL_ERROR_TEMPFAIL);
            failures++;
        }
        g_autoptr(ClRawMessage) raw2 = spool(f,
            "From: anna@muster.example\r\nTo: j.mueller@acme.example\r\n"
            "Message-ID: <good@x>\r\nSubject: Nr 2\r\n\r\nText two\r\n");
        g_autoptr(GError) error2 = NULL;
        g_autoptr(ClResult) r2 = cl_pipeline_process(p, raw2, NULL, &error2);
        g_assert_no_error(error2);
        g_assert_cmpint(r2->status, ==, CL_RESULT_PENDING);
        g_assert_true(cl_pipeline_batch_commit(p, &error2));
        g_assert_no_error(error2);
        g_assert_cmpuint(inbox_count(f, "anna"), ==, r != NULL ? 2 : 1);
        ClResult *results[] = { r, r2 };
        for (gsize i = 0; i < G_N_ELEMENTS(results); i++) {
            if (results[i] == NULL)
                continue;
            g_autoptr(ClEntry) e = cl_store_entry_get(f->store, 0, results[i]->entry->id, &error2);
            g_assert_no_error(error2);
            g_assert_true(cl_pipeline_entry_text(f->store, e, &error2));
            g_assert_no_error(error2);
            g_assert_cmpstr(e->body, ==, i == 0 ? "Hallo Herr Müller" : "Text two");
            for (guint k = 0; k < e->attachments->len; k++) {
                ClEntryAttachment *a = e->attachments->pdata[k];
                g_autofree char *out = g_build_filename(f->dir, "att", NULL);
                int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
                g_assert_true(cl_store_blob_write_to(f->store, a->hash, fd, &error2));
                close(fd);
                g_autofree char *bytes = NULL;
                gsize len = 0;
                g_assert_true(g_file_get_contents(out, &bytes, &len, NULL));
                char hash[CL_HASH_HEX_LEN];
                cl_hash_hex(bytes, len, hash);
                g_assert_cmpstr(hash, ==, a->hash);
            }
        }
        g_clear_pointer(&p, cl_pipeline_free);
        fixture_tear_down(f, NULL);
        if (!fired) {
            g_assert_nonnull(r); /* past the last database call */
            g_assert_cmpuint(failures, >=, 10);
            return;
        }
    }
    g_assert_not_reached();
}

static void
test_batch(Fixture *f, gconstpointer data)
{
    (void)data;
    g_autoptr(ClPipeline) p = cl_pipeline_new(f->store, f->config);
    g_assert_true(cl_pipeline_batch_begin(p, NULL));
    for (int i = 0; i < 3; i++) {
        g_autofree char *mail = g_strdup_printf(
            "From: anna@muster.example\r\nTo: j.mueller@acme.example\r\n"
            "Message-ID: <batch%d@x>\r\nSubject: Nr %d\r\n\r\nText\r\n", i, i);
        g_autoptr(ClRawMessage) raw = spool(f, mail);
        g_autoptr(ClResult) r = cl_pipeline_process(p, raw, NULL, NULL);
        g_assert_cmpint(r->status, ==, CL_RESULT_PENDING);
    }
    /* Aborted: nothing of the batch remains. */
    cl_pipeline_batch_abort(p);
    g_assert_cmpuint(inbox_count(f, "anna"), ==, 0);
    g_assert_true(cl_pipeline_batch_begin(p, NULL));
    for (int i = 0; i < 3; i++) {
        g_autofree char *mail = g_strdup_printf(
            "From: anna@muster.example\r\nMessage-ID: <b%d@x>\r\n\r\nText\r\n", i % 2);
        g_autoptr(ClRawMessage) raw = spool(f, mail);
        g_autoptr(ClResult) r = cl_pipeline_process(p, raw, NULL, NULL);
        g_assert_cmpint(r->status, ==, i < 2 ? CL_RESULT_PENDING : CL_RESULT_DUPLICATE);
    }
    g_assert_true(cl_pipeline_batch_commit(p, NULL));
    g_assert_cmpuint(inbox_count(f, "anna"), ==, 2);
}

/* ---- the writers of one process (db-sqlite.c: Writer) ----------------------------------------- */

typedef struct {
    ClStore *store;  /* opened before the thread starts (opening is slow under ASan) */
    gint ready;      /* atomic: about to begin */
    gint64 started;  /* monotonic µs: the transaction began */
    GError *error;
} Taker;

static gpointer
take_write_lock(gpointer data)
{
    Taker *t = data;
    g_atomic_int_set(&t->ready, 1);
    if (cl_store_begin(t->store, &t->error)) {
        t->started = g_get_monotonic_time();
        g_usleep(2000);
        g_assert_true(cl_store_commit(t->store, NULL));
    }
    return NULL;
}

static Taker *
taker_new(Fixture *f, bool background)
{
    g_autoptr(GError) error = NULL;
    Taker *t = g_new0(Taker, 1);
    t->store = cl_store_open(f->config, &error);
    g_assert_no_error(error);
    if (background)
        cl_store_set_background(t->store);
    return t;
}

/* Until the thread is about to begin, and a while for it to reach the wait. */
static void
wait_ready(Taker *t)
{
    while (!g_atomic_int_get(&t->ready))
        g_usleep(1000);
    g_usleep(100 * 1000);
}

static void
test_writers_queue(Fixture *f, gconstpointer data)
{
    (void)data;
    g_autoptr(GError) error = NULL;
    g_assert_true(cl_store_begin(f->store, &error));

    /* A second connection of the same thread inside this one's transaction
     * would wait for itself: "locked" at once, not after the busy timeout. */
    ClStore *other = cl_store_open(f->config, &error);
    g_assert_no_error(error);
    gint64 t0 = g_get_monotonic_time();
    g_assert_false(cl_store_begin(other, &error));
    g_assert_error(error, CL_ERROR, CL_ERROR_TEMPFAIL);
    g_clear_error(&error);
    g_assert_cmpint(g_get_monotonic_time() - t0, <, G_USEC_PER_SEC);
    cl_store_free(other);

    /* Threads queue behind it: a background writer waits while a foreground
     * one waits, then both get the lock as soon as it is free (no busy sleep). */
    Taker *bg = taker_new(f, true), *fg = taker_new(f, false);
    GThread *tb = g_thread_new("bg", take_write_lock, bg);
    wait_ready(bg);
    GThread *tf = g_thread_new("fg", take_write_lock, fg);
    wait_ready(fg);
    gint64 released = g_get_monotonic_time();
    g_assert_true(cl_store_commit(f->store, &error));
    g_thread_join(tf);
    g_thread_join(tb);
    g_assert_no_error(fg->error);
    g_assert_no_error(bg->error);
    g_assert_cmpint(fg->started, >=, released);
    g_assert_cmpint(bg->started, >, fg->started); /* it came first, but mail goes first */
    g_assert_cmpint(fg->started - released, <, 50 * 1000);
    cl_store_free(bg->store);
    cl_store_free(fg->store);
    g_free(bg);
    g_free(fg);
}

/* cl_store_changed answers "no" from the wal-index header alone (db-sqlite.c);
 * it must still see every commit: of another connection, of another process,
 * after the log was checkpointed and started again, and the connection's own. */
static void
write_raw(const char *db_path, const char *sql)
{
    sqlite3 *db = NULL;
    g_assert_cmpint(sqlite3_open(db_path, &db), ==, SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        g_error("%s: %s", sql, msg);
    sqlite3_close(db);
}

static void
test_changed(Fixture *f, gconstpointer data)
{
    (void)data;
    g_autoptr(GError) error = NULL;
    ClStore *reader = cl_store_open(f->config, &error);
    g_assert_no_error(error);
    g_autofree char *db_path = g_build_filename(f->dir, "contactlog.db", NULL);
    g_assert_true(cl_store_changed(reader)); /* the first question */
    g_assert_false(cl_store_changed(reader));
    g_assert_false(cl_store_changed(reader)); /* now from the header alone */
    write_raw(db_path, "CREATE TABLE probe(x)");
    for (int i = 0; i < 50; i++) {
        g_autofree char *sql = g_strdup_printf("INSERT INTO probe VALUES (%d)", i);
        write_raw(db_path, sql);
        g_assert_true(cl_store_changed(reader));
        g_assert_false(cl_store_changed(reader));
        if (i % 10 == 9) /* the log starts again at its beginning with the next commit */
            write_raw(db_path, "PRAGMA wal_checkpoint(TRUNCATE)");
    }
    /* Another process. */
    pid_t pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        sqlite3 *db = NULL;
        int ok = sqlite3_open(db_path, &db) == SQLITE_OK &&
                 sqlite3_exec(db, "INSERT INTO probe VALUES (-1)", NULL, NULL, NULL) == SQLITE_OK;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    g_assert_true(cl_store_changed(reader));
    g_assert_false(cl_store_changed(reader));
    /* A checkpoint alone commits nothing: at most one more "yes", then quiet. */
    write_raw(db_path, "PRAGMA wal_checkpoint(TRUNCATE)");
    cl_store_changed(reader);
    g_assert_false(cl_store_changed(reader));
    /* The connection's own commit. */
    ClLoadStats stats;
    g_autofree char *md = write_temp(f->dir, "md-own.json", masterdata);
    g_assert_true(cl_store_load_masterdata(reader, md, &stats, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(stats.unchanged, ==, 11);
    g_assert_false(cl_store_changed(reader)); /* nothing changed: no row written */
    g_auto(GStrv) parts = g_strsplit(masterdata, "ACME AG", 2);
    g_autofree char *renamed = g_strjoinv("ACME AG & Co. KG", parts);
    g_autofree char *md2 = write_temp(f->dir, "md-own2.json", renamed);
    g_assert_true(cl_store_load_masterdata(reader, md2, &stats, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(stats.updated, ==, 1);
    g_assert_true(cl_store_changed(reader));
    g_assert_false(cl_store_changed(reader));
    cl_store_free(reader);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
    ADD("/store/load/idempotent", test_load_idempotent);
    ADD("/store/load/conflict", test_load_conflict_rolls_back);
    ADD("/store/load/invalid", test_load_invalid);
    ADD("/store/directory", test_directory_lookups);
    ADD("/pipeline/capture-review", test_capture_and_review);
    ADD("/pipeline/rejections", test_rejections_recorded);
    ADD("/pipeline/too-large", test_too_large);
    ADD("/pipeline/failure-every-step", test_failure_at_every_step);
    ADD("/pipeline/batch", test_batch);
    ADD("/pipeline/failure-in-batch", test_failure_in_batch);
    ADD("/store/writers-queue", test_writers_queue);
    ADD("/store/changed", test_changed);
    return g_test_run();
}
