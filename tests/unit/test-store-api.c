/*
 * test-store-api.c — what the store keeps for the HTTP API, on a real SQLite
 * data directory: the search index (words in, words out on edits and deletes,
 * tenants and private items apart), search queries made from what users type,
 * previews, edits and their checks, discarding, notifications, follow-ups,
 * records saved through the master-data loader, sessions and tokens.
 */
#include <glib/gstdio.h>
#include <jansson.h>
#include <string.h>


#include "store/store.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_t, json_decref)

static const char *masterdata =
    "{\"drop_addresses\": [\"crm@contactlog.example\"],\n"
    " \"tenants\": [\n"
    "  {\"key\": \"muster\", \"name\": \"Muster GmbH\", \"domains\": [\"muster.example\"],\n"
    "   \"users\": [{\"key\": \"anna\", \"name\": \"Anna\", \"role\": \"admin\", \"password\": \"pw-anna-1\",\n"
    "               \"emails\": [\"anna@muster.example\"]},\n"
    "              {\"key\": \"ben\", \"name\": \"Ben\", \"emails\": [\"ben@muster.example\"]}],\n"
    "   \"companies\": [{\"key\": \"acme\", \"name\": \"ACME AG\", \"domains\": [\"acme.example\"],\n"
    "     \"contacts\": [{\"key\": \"jm\", \"name\": \"Jürgen Müller\", \"emails\": [\"j.mueller@acme.example\"]}],\n"
    "     \"leads\": [{\"number\": \"11111\", \"name\": \"Relaunch Website\"}]},\n"
    "    {\"key\": \"baum\", \"name\": \"Baum KG\",\n"
    "     \"leads\": [{\"number\": \"22222\", \"name\": \"Baumschule\"}]}]},\n"
    "  {\"key\": \"hafen\", \"name\": \"Hafen\", \"domains\": [\"hafen.example\"],\n"
    "   \"users\": [{\"key\": \"jonas\", \"name\": \"Jonas\", \"role\": \"admin\", \"emails\": [\"jonas@hafen.example\"]}],\n"
    "   \"companies\": [{\"key\": \"acme\", \"name\": \"ACME Hafen\",\n"
    "     \"contacts\": [{\"key\": \"jm\", \"name\": \"Other JM\", \"emails\": [\"jm@acme-hafen.example\"]}]}]}\n"
    " ]}\n";

typedef struct {
    char *dir;
    ClConfig *config;
    ClStore *store;
    ClItem *muster, *hafen, *anna, *ben, *jonas, *acme, *baum, *jm, *lead, *hafen_acme;
} Fixture;

static ClItem *
find(Fixture *f, ClItemKind kind, ClItem *tenant, const char *key)
{
    g_autoptr(GError) error = NULL;
    ClItem *item = cl_store_find(f->store, kind, tenant ? tenant->id : 0, key, &error);
    g_assert_no_error(error);
    return item;
}

static void
set_up(Fixture *f, gconstpointer data)
{
    (void)data;
    f->dir = g_dir_make_tmp("cl-store-api-XXXXXX", NULL);
    g_autoptr(GError) error = NULL;
    f->config = cl_config_load(f->dir, NULL, &error);
    g_assert_no_error(error);
    f->config->sync = false;
    f->store = cl_store_open(f->config, &error);
    g_assert_no_error(error);
    g_autofree char *md = g_build_filename(f->dir, "md.json", NULL);
    g_assert_true(g_file_set_contents(md, masterdata, -1, NULL));
    g_assert_true(cl_store_load_masterdata(f->store, md, NULL, &error));
    g_assert_no_error(error);
    f->muster = find(f, CL_ITEM_TENANT, NULL, "muster");
    f->hafen = find(f, CL_ITEM_TENANT, NULL, "hafen");
    f->anna = find(f, CL_ITEM_USER, f->muster, "anna");
    f->ben = find(f, CL_ITEM_USER, f->muster, "ben");
    f->jonas = find(f, CL_ITEM_USER, f->hafen, "jonas");
    f->acme = find(f, CL_ITEM_COMPANY, f->muster, "acme");
    f->baum = find(f, CL_ITEM_COMPANY, f->muster, "baum");
    f->jm = find(f, CL_ITEM_CONTACT, f->muster, "jm");
    f->lead = find(f, CL_ITEM_LEAD, f->muster, "11111");
    f->hafen_acme = find(f, CL_ITEM_COMPANY, f->hafen, "acme");
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
tear_down(Fixture *f, gconstpointer data)
{
    (void)data;
    ClItem *items[] = { f->muster, f->hafen, f->anna, f->ben, f->jonas, f->acme, f->baum,
                        f->jm, f->lead, f->hafen_acme };
    for (gsize i = 0; i < G_N_ELEMENTS(items); i++)
        cl_item_free(items[i]);
    cl_store_free(f->store);
    cl_config_free(f->config);
    remove_tree(f->dir);
    g_free(f->dir);
}

/* A manual entry of `author` (saved), committed; returns its id. */
static gint64
add_entry(Fixture *f, ClItem *tenant, ClItem *author, ClItem *company, const char *subject,
          const char *body, ClEntryState state)
{
    g_autoptr(ClEntry) e = cl_entry_new();
    e->tenant_id = tenant->id;
    e->state = state;
    e->channel = CL_CHANNEL_PHONE;
    e->author = cl_item_copy(author);
    e->company = company ? cl_item_copy(company) : NULL;
    e->subject = g_strdup(subject);
    e->body = g_strdup(body);
    g_autoptr(GError) error = NULL;
    g_assert_true(cl_store_begin(f->store, &error));
    g_assert_true(cl_store_entry_insert(f->store, e, &error));
    g_assert_true(cl_store_commit(f->store, &error));
    g_assert_no_error(error);
    return e->id;
}

/* The ids a search finds, as text "1 2 3" (newest first). */
static char *
search(Fixture *f, ClItem *tenant, ClItem *viewer, const char *typed)
{
    g_autofree char *q = cl_store_search_query(typed);
    g_assert_nonnull(q);
    ClEntryQuery query = { .tenant_id = tenant->id, .search = q, .viewer_id = viewer->id };
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) list = cl_store_entries_list(f->store, &query, &error);
    g_assert_no_error(error);
    GString *out = g_string_new(NULL);
    for (guint i = 0; i < list->len; i++)
        g_string_append_printf(out, "%s%" G_GINT64_FORMAT, out->len ? " " : "",
                               ((ClEntry *)list->pdata[i])->id);
    return g_string_free(out, FALSE);
}

static char *
ids(gint64 a, gint64 b)
{
    if (b == 0)
        return g_strdup_printf("%" G_GINT64_FORMAT, a);
    return g_strdup_printf("%" G_GINT64_FORMAT " %" G_GINT64_FORMAT, a, b);
}

static void
test_search_query(void)
{
    static const struct {
        const char *typed, *want;
    } cases[] = {
        { "Angebot", "\"Angebot\"*" },
        { "Angebot Müller", "\"Angebot\"* \"Müller\"*" },
        { "\"neues logo\" 2027", "\"neues logo\" \"2027\"*" },
        { "a", "\"a\"" },                       /* one letter: no prefix */
        { "OR NOT AND", "\"OR\"* \"NOT\"* \"AND\"*" }, /* words, not operators */
        { "ab\"cd", "\"ab\"* \"cd\"" },         /* an open quote: the rest is a phrase */
        { "x*y(z)", "\"x*y(z)\"*" },
        { "  ", NULL },
        { "!!! ??", NULL },
        { "", NULL },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *got = cl_store_search_query(cases[i].typed);
        g_test_message("typed: %s", cases[i].typed);
        g_assert_cmpstr(got, ==, cases[i].want);
    }
}

static void
test_search_tenants_and_privacy(Fixture *f, gconstpointer data)
{
    (void)data;
    gint64 a = add_entry(f, f->muster, f->anna, f->acme, "Angebot Relaunch",
                         "Rückruf von Herrn Müller wegen der Schriftarten", CL_ENTRY_SAVED);
    gint64 b = add_entry(f, f->muster, f->ben, NULL, "Eigene Notiz Angebot",
                         "nur für Ben", CL_ENTRY_SAVED);
    gint64 c = add_entry(f, f->muster, f->ben, f->acme, "Angebot offen", "wartet",
                         CL_ENTRY_PENDING);
    gint64 h = add_entry(f, f->hafen, f->jonas, f->hafen_acme, "Angebot Hafen",
                         "Müller vom Hafen", CL_ENTRY_SAVED);
    g_autofree char *anna_sees = search(f, f->muster, f->anna, "angeb");
    g_autofree char *want_anna = ids(a, 0);
    g_assert_cmpstr(anna_sees, ==, want_anna);
    /* Ben sees his own history and his pending mail, and the company's entry. */
    g_autofree char *ben_sees = search(f, f->muster, f->ben, "Angebot");
    g_autofree char *want_ben = g_strdup_printf("%" G_GINT64_FORMAT " %" G_GINT64_FORMAT
                                                " %" G_GINT64_FORMAT, c, b, a);
    g_assert_cmpstr(ben_sees, ==, want_ben);
    /* Diacritics and case: "muller" finds "Müller"; the other tenant's Müller is not found. */
    g_autofree char *muller = search(f, f->muster, f->anna, "MULLER");
    g_assert_cmpstr(muller, ==, want_anna);
    g_autofree char *hafen = search(f, f->hafen, f->jonas, "müller");
    g_autofree char *want_h = ids(h, 0);
    g_assert_cmpstr(hafen, ==, want_h);
    g_autofree char *none = search(f, f->hafen, f->jonas, "Schriftarten");
    g_assert_cmpstr(none, ==, "");
}

static void
test_edit_and_delete_reindex(Fixture *f, gconstpointer data)
{
    (void)data;
    gint64 a = add_entry(f, f->muster, f->anna, f->acme, "Termin Fotos", "Fotograf kommt Dienstag",
                         CL_ENTRY_SAVED);
    g_autofree char *want = ids(a, 0);
    g_autofree char *before = search(f, f->muster, f->anna, "dienstag");
    g_assert_cmpstr(before, ==, want);
    ClEntryChange c = CL_ENTRY_CHANGE_INIT;
    c.body = "Fotograf kommt Mittwoch";
    c.subject = "Termin Fotos verschoben";
    g_autoptr(GError) error = NULL;
    g_assert_true(cl_store_begin(f->store, &error));
    g_assert_true(cl_store_entry_update(f->store, f->muster->id, a, &c, &error));
    g_assert_true(cl_store_commit(f->store, &error));
    g_autofree char *old_word = search(f, f->muster, f->anna, "dienstag");
    g_assert_cmpstr(old_word, ==, "");
    g_autofree char *new_word = search(f, f->muster, f->anna, "mittwoch verschoben");
    g_assert_cmpstr(new_word, ==, want);
    g_autoptr(ClEntry) e = cl_store_entry_get(f->store, f->muster->id, a, &error);
    g_assert_cmpstr(e->preview, ==, "Fotograf kommt Mittwoch");
    g_assert_cmpint(e->version, ==, 2);
    /* A stale version is a conflict and changes nothing. */
    ClEntryChange stale = CL_ENTRY_CHANGE_INIT;
    stale.version = 1;
    stale.subject = "zu spät";
    g_assert_true(cl_store_begin(f->store, &error));
    g_assert_false(cl_store_entry_update(f->store, f->muster->id, a, &stale, &error));
    g_assert_error(error, CL_ERROR, CL_ERROR_CONFLICT);
    cl_store_rollback(f->store);
    g_clear_error(&error);
    /* Deleted: gone from the index too. */
    g_assert_true(cl_store_begin(f->store, &error));
    g_assert_true(cl_store_entry_delete(f->store, f->muster->id, a, 0, NULL, &error));
    g_assert_true(cl_store_commit(f->store, &error));
    g_autofree char *gone = search(f, f->muster, f->anna, "mittwoch");
    g_assert_cmpstr(gone, ==, "");
    g_autoptr(ClEntry) none = cl_store_entry_get(f->store, f->muster->id, a, &error);
    g_assert_null(none);
    g_assert_error(error, CL_ERROR, CL_ERROR_NOT_FOUND);
}

static void
test_change_checks(Fixture *f, gconstpointer data)
{
    (void)data;
    gint64 a = add_entry(f, f->muster, f->anna, NULL, "Notiz", "x", CL_ENTRY_SAVED);
    g_autoptr(GError) error = NULL;
    /* Another tenant's company is as unknown as a missing one. */
    ClEntryChange c = CL_ENTRY_CHANGE_INIT;
    c.company_id = f->hafen_acme->id;
    g_assert_true(cl_store_begin(f->store, &error));
    g_assert_false(cl_store_entry_update(f->store, f->muster->id, a, &c, &error));
    g_assert_error(error, CL_ERROR, CL_ERROR_NOT_FOUND);
    cl_store_rollback(f->store);
    g_clear_error(&error);
    /* A lead of another company than the one named. */
    ClEntryChange d = CL_ENTRY_CHANGE_INIT;
    d.company_id = f->baum->id;
    d.lead_id = f->lead->id;
    g_assert_true(cl_store_begin(f->store, &error));
    g_assert_false(cl_store_entry_update(f->store, f->muster->id, a, &d, &error));
    g_assert_error(error, CL_ERROR, CL_ERROR_INVALID);
    cl_store_rollback(f->store);
    g_clear_error(&error);
    /* Contacts alone bring their company (rule 4); a bad date is refused. */
    g_autoptr(GPtrArray) contacts = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(contacts, g_memdup2(&f->jm->id, sizeof f->jm->id));
    ClEntryChange e = CL_ENTRY_CHANGE_INIT;
    e.contact_ids = contacts;
    e.followup = "2026-02-30";
    g_assert_true(cl_store_begin(f->store, &error));
    g_assert_false(cl_store_entry_update(f->store, f->muster->id, a, &e, &error));
    g_assert_error(error, CL_ERROR, CL_ERROR_INVALID);
    cl_store_rollback(f->store);
    g_clear_error(&error);
    e.followup = "2026-12-24";
    g_assert_true(cl_store_begin(f->store, &error));
    g_assert_true(cl_store_entry_update(f->store, f->muster->id, a, &e, &error));
    g_assert_true(cl_store_commit(f->store, &error));
    g_autoptr(ClEntry) got = cl_store_entry_get(f->store, f->muster->id, a, &error);
    g_assert_nonnull(got->company);
    g_assert_cmpint(got->company->id, ==, f->acme->id);
    g_assert_cmpstr(got->followup, ==, "2026-12-24");
    g_assert_cmpuint(got->contacts->len, ==, 1);
    /* The contact's name is found by search now. */
    g_autofree char *found = search(f, f->muster, f->ben, "jürgen");
    g_autofree char *want = ids(a, 0);
    g_assert_cmpstr(found, ==, want);
}

static gint64
unread(Fixture *f, ClItem *user)
{
    g_autoptr(GError) error = NULL;
    gint64 n = cl_store_notifications_unread(f->store, user->tenant_id, user->id, &error);
    g_assert_no_error(error);
    return n;
}

static void
test_notifications_and_discard(Fixture *f, gconstpointer data)
{
    (void)data;
    g_autoptr(GError) error = NULL;
    /* Pending with users to notify: nobody hears of it before the review. */
    g_autoptr(ClEntry) e = cl_entry_new();
    e->tenant_id = f->muster->id;
    e->state = CL_ENTRY_PENDING;
    e->from_mail = true;
    e->author = cl_item_copy(f->anna);
    e->company = cl_item_copy(f->acme);
    e->subject = g_strdup("Mail");
    e->index_text = g_strdup("Text der Mail");
    g_ptr_array_add(e->notify, cl_item_copy(f->ben));
    g_assert_true(cl_store_begin(f->store, &error));
    g_assert_true(cl_store_entry_insert(f->store, e, &error));
    g_assert_true(cl_store_commit(f->store, &error));
    g_assert_cmpint(unread(f, f->anna), ==, 1); /* captured */
    g_assert_cmpint(unread(f, f->ben), ==, 0);
    ClEntryChange c = CL_ENTRY_CHANGE_INIT;
    c.actor_id = f->anna->id;
    g_assert_true(cl_store_begin(f->store, &error));
    g_assert_true(cl_store_entry_confirm(f->store, f->muster->id, e->id, &c, &error));
    g_assert_true(cl_store_commit(f->store, &error));
    g_assert_cmpint(unread(f, f->ben), ==, 1);
    g_autoptr(json_t) list = cl_store_notifications_json(f->store, f->muster->id, f->ben->id,
                                                         true, 0, 0, &error);
    g_assert_cmpuint(json_array_size(list), ==, 1);
    json_t *n = json_array_get(list, 0);
    g_assert_cmpstr(json_string_value(json_object_get(n, "kind")), ==, "notify");
    gint64 nid = json_integer_value(json_object_get(n, "id"));
    /* Another user's notification cannot be marked. */
    g_assert_false(cl_store_notifications_read(f->store, f->muster->id, f->anna->id, nid, &error));
    g_assert_error(error, CL_ERROR, CL_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_assert_true(cl_store_notifications_read(f->store, f->muster->id, f->ben->id, nid, &error));
    g_assert_cmpint(unread(f, f->ben), ==, 0);
    /* Moved into Anna's own history, the entry is hers alone: Ben's notification goes. */
    ClEntryChange own = CL_ENTRY_CHANGE_INIT;
    own.company_id = -1;
    g_assert_true(cl_store_begin(f->store, &error));
    g_assert_true(cl_store_entry_update(f->store, f->muster->id, e->id, &own, &error));
    g_assert_true(cl_store_commit(f->store, &error));
    g_assert_true(cl_store_notifications_read(f->store, f->muster->id, f->ben->id, 0, &error));
    g_autoptr(json_t) hidden = cl_store_notifications_json(f->store, f->muster->id, f->ben->id,
                                                           false, 0, 0, &error);
    g_assert_cmpuint(json_array_size(hidden), ==, 0);
    /* Saved: no more discarding. */
    g_assert_false(cl_store_entry_discard(f->store, f->muster->id, e->id, 0, &error));
    g_assert_error(error, CL_ERROR, CL_ERROR_CONFLICT);
    g_clear_error(&error);
    gint64 p = add_entry(f, f->muster, f->anna, f->acme, "Neu", "x", CL_ENTRY_PENDING);
    g_assert_false(cl_store_entry_discard(f->store, f->muster->id, p, 7, &error));
    g_assert_error(error, CL_ERROR, CL_ERROR_CONFLICT);
    g_clear_error(&error);
    g_assert_true(cl_store_entry_discard(f->store, f->muster->id, p, 1, &error));
    g_autoptr(ClEntry) d = cl_store_entry_get(f->store, f->muster->id, p, &error);
    g_assert_cmpint(d->state, ==, CL_ENTRY_DISCARDED);
    g_assert_false(cl_entry_visible(d, f->ben->id));
    g_assert_true(cl_entry_visible(d, f->anna->id));
}

static void
test_followups(Fixture *f, gconstpointer data)
{
    (void)data;
    const char *dates[] = { "2026-12-24", "2026-12-01", "2027-01-15" };
    gint64 id[3];
    g_autoptr(GError) error = NULL;
    for (int i = 0; i < 3; i++) {
        id[i] = add_entry(f, f->muster, f->anna, f->acme, "WV", "x", CL_ENTRY_SAVED);
        ClEntryChange c = CL_ENTRY_CHANGE_INIT;
        c.followup = dates[i];
        g_assert_true(cl_store_begin(f->store, &error));
        g_assert_true(cl_store_entry_update(f->store, f->muster->id, id[i], &c, &error));
        g_assert_true(cl_store_commit(f->store, &error));
    }
    ClEntryChange done = CL_ENTRY_CHANGE_INIT;
    done.followup_done = 1;
    g_assert_true(cl_store_begin(f->store, &error));
    g_assert_true(cl_store_entry_update(f->store, f->muster->id, id[0], &done, &error));
    g_assert_true(cl_store_commit(f->store, &error));
    g_autoptr(GPtrArray) due = cl_store_followups(f->store, f->muster->id, f->anna->id, NULL,
                                                  "2026-12-31", false, 0, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(due->len, ==, 1);
    g_assert_cmpint(((ClEntry *)due->pdata[0])->id, ==, id[1]);
    g_autoptr(GPtrArray) all = cl_store_followups(f->store, f->muster->id, f->anna->id, NULL,
                                                  NULL, true, 0, &error);
    g_assert_cmpuint(all->len, ==, 3);
    g_assert_cmpint(((ClEntry *)all->pdata[0])->id, ==, id[1]); /* earliest first */
    g_assert_cmpint(((ClEntry *)all->pdata[2])->id, ==, id[2]);
    g_autoptr(GPtrArray) bens = cl_store_followups(f->store, f->muster->id, f->ben->id, NULL,
                                                   NULL, true, 0, &error);
    g_assert_cmpuint(bens->len, ==, 0);
}

static gint64
save(Fixture *f, ClItemKind kind, ClItem *tenant, gint64 id, const char *json, GError **error)
{
    g_autoptr(json_t) fields = json_loads(json, 0, NULL);
    g_assert_nonnull(fields);
    g_assert_true(cl_store_begin(f->store, NULL));
    gint64 saved = cl_store_record_save(f->store, kind, tenant->id, id, fields, error);
    if (saved > 0)
        g_assert_true(cl_store_commit(f->store, NULL));
    else
        cl_store_rollback(f->store);
    return saved;
}

static void
test_records(Fixture *f, gconstpointer data)
{
    (void)data;
    g_autoptr(GError) error = NULL;
    gint64 c = save(f, CL_ITEM_COMPANY, f->muster, 0,
                    "{\"name\": \"Bäckerei Süß & Söhne\", \"domains\": [\"suess.example\"]}", &error);
    g_assert_no_error(error);
    g_autoptr(json_t) got = cl_store_record_json(f->store, CL_ITEM_COMPANY, f->muster->id, c, &error);
    g_assert_cmpstr(json_string_value(json_object_get(got, "key")), ==, "baeckerei-suess-soehne");
    /* The same name again gets a key of its own. */
    gint64 c2 = save(f, CL_ITEM_COMPANY, f->muster, 0, "{\"name\": \"Bäckerei Süß & Söhne\"}",
                     &error);
    g_assert_cmpint(c2, >, c);
    g_autoptr(json_t) got2 = cl_store_record_json(f->store, CL_ITEM_COMPANY, f->muster->id, c2, &error);
    g_assert_cmpstr(json_string_value(json_object_get(got2, "key")), ==, "baeckerei-suess-soehne-2");
    /* A tenant domain is one tenant's only (rule 2). */
    g_autoptr(json_t) domains = json_loads("{\"domains\": [\"muster.example\", \"HAFEN.example\"]}",
                                           0, NULL);
    g_assert_true(cl_store_begin(f->store, NULL));
    g_assert_false(cl_store_tenant_save(f->store, f->muster->id, domains, &error));
    g_assert_error(error, CL_ERROR, CL_ERROR_CONFLICT);
    cl_store_rollback(f->store);
    g_clear_error(&error);
    /* A lead without number gets the next one; a contact of another tenant's company cannot be made. */
    g_autofree char *lead_json = g_strdup_printf("{\"name\": \"Neue Broschüre\", \"company\": %"
                                                 G_GINT64_FORMAT "}", c);
    gint64 l = save(f, CL_ITEM_LEAD, f->muster, 0, lead_json, &error);
    g_assert_no_error(error);
    g_autoptr(json_t) lead = cl_store_record_json(f->store, CL_ITEM_LEAD, f->muster->id, l, &error);
    g_assert_cmpstr(json_string_value(json_object_get(lead, "number")), ==, "22223");
    g_autofree char *foreign = g_strdup_printf("{\"name\": \"X\", \"company\": %" G_GINT64_FORMAT "}",
                                               f->hafen_acme->id);
    g_assert_cmpint(save(f, CL_ITEM_CONTACT, f->muster, 0, foreign, &error), <, 0);
    g_assert_error(error, CL_ERROR, CL_ERROR_INVALID); /* a field naming nothing of the tenant */
    g_clear_error(&error);
    /* Unknown fields and the other tenant's record id are refused. */
    g_assert_cmpint(save(f, CL_ITEM_COMPANY, f->muster, c, "{\"colour\": \"red\"}", &error), <, 0);
    g_assert_error(error, CL_ERROR, CL_ERROR_INVALID);
    g_clear_error(&error);
    g_assert_cmpint(save(f, CL_ITEM_COMPANY, f->muster, f->hafen_acme->id, "{\"name\": \"mine\"}",
                         &error), <, 0);
    g_assert_error(error, CL_ERROR, CL_ERROR_NOT_FOUND);
    g_clear_error(&error);
    /* Search by a folded part of the name; only the tenant's. */
    ClRecordQuery q = { .tenant_id = f->muster->id, .query = "SÜSS" };
    g_autoptr(json_t) found = cl_store_records_json(f->store, CL_ITEM_COMPANY, &q, &error);
    g_assert_cmpuint(json_array_size(json_object_get(found, "items")), ==, 2);
    ClRecordQuery all = { .tenant_id = f->hafen->id };
    g_autoptr(json_t) hafen = cl_store_records_json(f->store, CL_ITEM_COMPANY, &all, &error);
    g_assert_cmpuint(json_array_size(json_object_get(hafen, "items")), ==, 1);
    /* The last admin stays an admin. */
    g_assert_cmpint(save(f, CL_ITEM_USER, f->hafen, f->jonas->id, "{\"role\": \"user\"}", &error),
                    <, 0);
    g_assert_error(error, CL_ERROR, CL_ERROR_CONFLICT);
}

static void
test_sessions_and_tokens(Fixture *f, gconstpointer data)
{
    (void)data;
    g_autoptr(GError) error = NULL;
    g_autofree char *hash = NULL;
    g_autoptr(ClUser) anna = cl_store_user_for_login(f->store, "ANNA@muster.example", &hash, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(anna->key, ==, "anna");
    g_assert_true(cl_password_verify(hash, "pw-anna-1"));
    g_assert_false(cl_password_verify(hash, "pw-anna-2"));
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;
    char s1[CL_HASH_HEX_LEN], s2[CL_HASH_HEX_LEN];
    cl_secret_hash("cookie-one", s1);
    cl_secret_hash("cookie-two", s2);
    g_assert_true(cl_store_session_create(f->store, s1, anna, "csrf1", now + 100, "::1", &error));
    g_assert_true(cl_store_session_create(f->store, s2, anna, "csrf2", now + 100, "::1", &error));
    g_autofree char *csrf = NULL;
    g_autoptr(ClUser) u = cl_store_session_user(f->store, s1, now, &csrf, NULL, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(csrf, ==, "csrf1");
    /* Expired is no session. */
    g_autoptr(ClUser) late =
        cl_store_session_user(f->store, s1, now + 100, NULL, NULL, NULL, &error);
    g_assert_null(late);
    g_assert_error(error, CL_ERROR, CL_ERROR_NOT_FOUND);
    g_clear_error(&error);
    /* A new password ends the other sessions. */
    g_autofree char *h = cl_password_hash("new-password", &error);
    g_assert_true(cl_store_user_set_password(f->store, anna->tenant_id, anna->id, h, s1, &error));
    g_autoptr(ClUser) kept = cl_store_session_user(f->store, s1, now, NULL, NULL, NULL, &error);
    g_assert_nonnull(kept);
    g_autoptr(ClUser) ended = cl_store_session_user(f->store, s2, now, NULL, NULL, NULL, &error);
    g_assert_null(ended);
    g_clear_error(&error);
    /* Tokens: found by hash, deleted only by their owner. */
    char t[CL_HASH_HEX_LEN];
    cl_secret_hash("clt_token", t);
    gint64 id = cl_store_token_create(f->store, anna, "script", t, "clt_tok", 0, &error);
    g_assert_cmpint(id, >, 0);
    g_autoptr(ClUser) by_token = cl_store_token_user(f->store, t, now, NULL, &error);
    g_assert_cmpint(by_token->id, ==, anna->id);
    g_assert_false(cl_store_token_delete(f->store, f->hafen->id, f->jonas->id, id, &error));
    g_assert_error(error, CL_ERROR, CL_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_assert_true(cl_store_token_delete(f->store, anna->tenant_id, anna->id, id, &error));
    g_autoptr(ClUser) revoked = cl_store_token_user(f->store, t, now, NULL, &error);
    g_assert_null(revoked);
}

/* A session and a token of user (ids of the table), and whether each still lets them in. */
static void
give_access(Fixture *f, const ClUser *user, const char *name, char *session, char *token)
{
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;
    g_autofree char *cookie = g_strconcat("cookie-", name, NULL);
    g_autofree char *secret = g_strconcat("clt_", name, NULL);
    cl_secret_hash(cookie, session);
    cl_secret_hash(secret, token);
    g_assert_true(cl_store_session_create(f->store, session, user, "csrf", now + 100, "::1", NULL));
    g_assert_cmpint(cl_store_token_create(f->store, user, name, token, "clt_", 0, NULL), >, 0);
}

static bool
session_works(Fixture *f, const char *session)
{
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;
    g_autoptr(ClUser) u = cl_store_session_user(f->store, session, now, NULL, NULL, NULL, NULL);
    return u != NULL;
}

static bool
token_works(Fixture *f, const char *token)
{
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;
    g_autoptr(ClUser) u = cl_store_token_user(f->store, token, now, NULL, NULL);
    return u != NULL;
}

static void
test_password_revokes(Fixture *f, gconstpointer data)
{
    (void)data;
    g_autoptr(GError) error = NULL;
    g_autoptr(ClUser) anna = cl_store_user_get(f->store, f->anna->tenant_id, f->anna->id, &error);
    g_autoptr(ClUser) ben = cl_store_user_get(f->store, f->ben->tenant_id, f->ben->id, &error);
    g_autoptr(ClUser) jonas = cl_store_user_get(f->store, f->jonas->tenant_id, f->jonas->id,
                                                &error);
    g_assert_no_error(error);
    char a1[CL_HASH_HEX_LEN], a2[CL_HASH_HEX_LEN], at1[CL_HASH_HEX_LEN], at2[CL_HASH_HEX_LEN];
    char b[CL_HASH_HEX_LEN], bt[CL_HASH_HEX_LEN], j[CL_HASH_HEX_LEN], jt[CL_HASH_HEX_LEN];
    give_access(f, anna, "anna-1", a1, at1);
    give_access(f, anna, "anna-2", a2, at2);
    give_access(f, ben, "ben", b, bt);
    give_access(f, jonas, "jonas", j, jt);

    /* The user's own new password: the session that changed it stays, every token goes. */
    g_autofree char *h = cl_password_hash("new-password", &error);
    g_assert_true(cl_store_user_set_password(f->store, anna->tenant_id, anna->id, h, a1, &error));
    g_assert_true(session_works(f, a1));
    g_assert_false(session_works(f, a2));
    g_assert_false(token_works(f, at1));
    g_assert_false(token_works(f, at2));
    /* Nobody else's: a colleague's, another tenant's. */
    g_assert_true(session_works(f, b) && token_works(f, bt));
    g_assert_true(session_works(f, j) && token_works(f, jt));

    /* An admin's new password (the admin API): all of them. */
    g_assert_cmpint(save(f, CL_ITEM_USER, f->muster, anna->id, "{\"password\": \"admin-set-1\"}",
                         &error), ==, anna->id);
    g_assert_no_error(error);
    g_assert_false(session_works(f, a1));
    g_assert_true(session_works(f, b) && token_works(f, bt));

    /* Deactivated: out, and reactivating brings nothing back. */
    g_assert_cmpint(save(f, CL_ITEM_USER, f->muster, ben->id, "{\"active\": false}", &error), ==,
                    ben->id);
    g_assert_cmpint(save(f, CL_ITEM_USER, f->muster, ben->id, "{\"active\": true}", &error), ==,
                    ben->id);
    g_assert_no_error(error);
    g_assert_false(session_works(f, b));
    g_assert_false(token_works(f, bt));
    g_assert_true(session_works(f, j) && token_works(f, jt));
}

static char *
queued_text(ClStore *store, ClEntry *entry, void *data)
{
    (void)store;
    (void)data;
    /* What the pipeline would read from the original: here, by the subject. */
    return g_strdup_printf("Text zu %s: Fotograf kommt Dienstag", entry->subject);
}

/* A mail entry of anna in acme, as capture stores it (text queued for the index). */
static gint64
add_mail(Fixture *f, const char *subject)
{
    g_autoptr(ClEntry) e = cl_entry_new();
    e->tenant_id = f->muster->id;
    e->state = CL_ENTRY_SAVED;
    e->from_mail = true;
    e->author = cl_item_copy(f->anna);
    e->company = cl_item_copy(f->acme);
    e->subject = g_strdup(subject);
    e->addresses_json = g_strdup("{\"from\": [{\"name\": \"Anna\", \"address\": \"anna@muster.example\"}],"
                                 " \"to\": [{\"name\": null, \"address\": \"j.mueller@acme.example\"}]}");
    e->index_text = g_strdup("the text the pipeline found");
    g_autoptr(GError) error = NULL;
    g_assert_true(cl_store_begin(f->store, &error));
    g_assert_true(cl_store_entry_insert(f->store, e, &error));
    g_assert_true(cl_store_commit(f->store, &error));
    return e->id;
}

static void
index_integrity(Fixture *f)
{
    /* FTS5 checks the structure of its index after the inserts and deletes
     * (on the store's connection, where its tokenizer is registered). */
    g_autoptr(GError) error = NULL;
    bool ok = cl_store_index_check(f->store, &error);
    g_test_message("integrity-check: %s", error ? error->message : "ok");
    g_assert_true(ok);
}

static void
test_index_queue(Fixture *f, gconstpointer data)
{
    (void)data;
    g_autoptr(GError) error = NULL;
    gint64 a = add_mail(f, "Termin Fotos");
    gint64 b = add_mail(f, "Zweiter Termin");
    g_assert_cmpint(cl_store_index_backlog(f->store, &error), ==, 2);
    /* Queued: not found yet (the API's search indexes the queue first). */
    g_autofree char *by_subject = search(f, f->muster, f->ben, "fotos");
    g_assert_cmpstr(by_subject, ==, "");
    g_autofree char *want_a = ids(a, 0);
    /* Deleted while queued: the index forgets it, nothing else is disturbed. */
    g_assert_true(cl_store_begin(f->store, &error));
    g_assert_true(cl_store_entry_delete(f->store, f->muster->id, b, 0, NULL, &error));
    g_assert_true(cl_store_commit(f->store, &error));
    g_assert_cmpint(cl_store_index_backlog(f->store, &error), ==, 1);
    g_assert_cmpint(cl_store_index_queued(f->store, queued_text, NULL, 0, &error), ==, 1);
    g_assert_no_error(error);
    g_assert_cmpint(cl_store_index_queued(f->store, queued_text, NULL, 0, &error), ==, 0);
    g_assert_cmpint(cl_store_index_backlog(f->store, &error), ==, 0);
    g_autofree char *now_text = search(f, f->muster, f->ben, "dienstag fotograf");
    g_assert_cmpstr(now_text, ==, want_a);
    g_autofree char *now_subject = search(f, f->muster, f->ben, "fotos");
    g_assert_cmpstr(now_subject, ==, want_a);
    g_autofree char *by_address = search(f, f->muster, f->ben, "j.mueller@acme.example");
    g_assert_cmpstr(by_address, ==, want_a);
    g_autofree char *gone = search(f, f->muster, f->ben, "zweiter");
    g_assert_cmpstr(gone, ==, "");
    /* Deleted once indexed: its text leaves too (the text as indexed is given). */
    g_autofree char *text = g_strdup_printf("Text zu %s: Fotograf kommt Dienstag", "Termin Fotos");
    g_assert_true(cl_store_begin(f->store, &error));
    g_assert_true(cl_store_entry_delete(f->store, f->muster->id, a, 0, text, &error));
    g_assert_true(cl_store_commit(f->store, &error));
    g_autofree char *none = search(f, f->muster, f->ben, "dienstag");
    g_assert_cmpstr(none, ==, "");
    index_integrity(f);
}

/* A reindex that stops anywhere (here: every step it takes, failing in turn)
 * leaves the index whole, or every entry it did not reach queued and out of
 * the index as far as edits know: an edit meanwhile takes no words out of the
 * emptied index (that was "database disk image is malformed"), and draining
 * the queue finds every entry again. */
static void
test_reindex_interrupted(Fixture *f, gconstpointer data)
{
    (void)data;
    gint64 a = add_entry(f, f->muster, f->anna, f->acme, "Erster Kranich", "Notiz eins",
                         CL_ENTRY_SAVED);
    gint64 b = add_entry(f, f->muster, f->anna, f->acme, "Zweiter Reiher", "Notiz zwei",
                         CL_ENTRY_SAVED);
    gint64 m = add_mail(f, "Dritter Storch");
    g_autoptr(GError) error = NULL;
    while (cl_store_index_queued(f->store, queued_text, NULL, 0, &error) > 0)
        ;
    g_autofree char *want_a = ids(a, 0);
    g_autofree char *want_b = ids(b, 0);
    g_autofree char *want_m = ids(m, 0);
    bool fired = true;
    for (guint n = 1; fired && n < 200; n++) {
        cl_store_fail_after(f->store, n);
        guint count = 0;
        bool ok = cl_store_reindex(f->store, queued_text, NULL, &count, &error);
        fired = cl_store_fail_after(f->store, 0) == 0;
        g_assert_true(ok != fired);
        g_clear_error(&error);
        /* An edit before anything catches up. */
        g_autofree char *subject = g_strdup_printf("Erster Kranich %u", n);
        ClEntryChange c = CL_ENTRY_CHANGE_INIT;
        c.subject = subject;
        g_assert_true(cl_store_begin(f->store, &error));
        g_assert_true(cl_store_entry_update(f->store, f->muster->id, a, &c, &error));
        g_assert_true(cl_store_commit(f->store, &error));
        g_assert_no_error(error);
        while (cl_store_index_queued(f->store, queued_text, NULL, 0, &error) > 0)
            ;
        g_assert_no_error(error);
        const char *words[] = { "kranich", "reiher", "storch" };
        const char *wanted[] = { want_a, want_b, want_m };
        for (gsize w = 0; w < G_N_ELEMENTS(words); w++) {
            g_autofree char *got = search(f, f->muster, f->anna, words[w]);
            g_assert_cmpstr(got, ==, wanted[w]);
        }
        index_integrity(f);
    }
    g_assert_false(fired); /* the last run went through */
}

static void
test_preview(Fixture *f, gconstpointer data)
{
    (void)data;
    GString *long_text = g_string_new("Sehr geehrter Herr Müller,\n\n> zitierte Zeile\n");
    for (int i = 0; i < 60; i++)
        g_string_append(long_text, "Wort ");
    g_string_append(long_text, "\n-- \nSignatur\n");
    gint64 a = add_entry(f, f->muster, f->anna, f->acme, "Vorschau", long_text->str,
                         CL_ENTRY_SAVED);
    g_string_free(long_text, TRUE);
    g_autoptr(GError) error = NULL;
    g_autoptr(ClEntry) e = cl_store_entry_get(f->store, f->muster->id, a, &error);
    g_assert_true(g_str_has_prefix(e->preview, "Sehr geehrter Herr Müller, Wort Wort"));
    g_assert_null(strstr(e->preview, "zitierte"));
    g_assert_null(strstr(e->preview, "Signatur"));
    g_assert_true(g_str_has_suffix(e->preview, "…"));
    g_assert_cmpint(g_utf8_strlen(e->preview, -1), <=, 241);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/store-api/search/query", test_search_query);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, set_up, fn, tear_down)
    ADD("/store-api/search/tenants-and-privacy", test_search_tenants_and_privacy);
    ADD("/store-api/entry/edit-and-delete-reindex", test_edit_and_delete_reindex);
    ADD("/store-api/entry/change-checks", test_change_checks);
    ADD("/store-api/entry/notifications-and-discard", test_notifications_and_discard);
    ADD("/store-api/entry/followups", test_followups);
    ADD("/store-api/entry/preview", test_preview);
    ADD("/store-api/search/index-queue", test_index_queue);
    ADD("/store-api/search/reindex-interrupted", test_reindex_interrupted);
    ADD("/store-api/records/save", test_records);
    ADD("/store-api/auth/sessions-and-tokens", test_sessions_and_tokens);
    ADD("/store-api/auth/password-revokes", test_password_revokes);
    return g_test_run();
}
