/*
 * cmd-entries.c — reading and reviewing the contact history: inbox, history,
 * show, confirm, add, rejected.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <jansson.h>
#include <errno.h>

#include "cli.h"
#include "intake/intake.h"
#include "parse/parse.h"

typedef struct {
    ClConfig *config;
    ClStore *store;
    gint64 tenant_id;
} Ctx;

static void
ctx_clear(Ctx *c)
{
    cl_store_free(c->store);
    cl_config_free(c->config);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Ctx, ctx_clear)

static bool
ctx_open(Ctx *c, const char *name, int *status)
{
    g_autoptr(GError) error = NULL;
    c->config = cli_config(name, &error);
    if (c->config != NULL)
        c->store = cli_open_store(c->config, false, &error);
    if (c->store == NULL || !cli_tenant_id(c->store, &c->tenant_id, &error)) {
        *status = cli_fail(name, error);
        return false;
    }
    return true;
}

/* Resolves a key; the first found record fixes the tenant for the next lookups. */
static ClItem *
find(Ctx *c, const char *name, ClItemKind kind, const char *key, int *status)
{
    g_autoptr(GError) error = NULL;
    ClItem *item = cl_store_find(c->store, kind, c->tenant_id, key, &error);
    if (item == NULL) {
        *status = cli_fail(name, error);
        return NULL;
    }
    c->tenant_id = item->tenant_id;
    return item;
}

static int
print_list(Ctx *c, const char *name, const ClEntryQuery *q, const char *title)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) list = cl_store_entries_list(c->store, q, &error);
    if (list == NULL)
        return cli_fail(name, error);
    if (cli_common.json) {
        printf("[");
        for (guint i = 0; i < list->len; i++) {
            g_autofree char *json = cli_entry_json(c->store, g_ptr_array_index(list, i));
            printf("%s%s", i ? ",\n" : "\n", json);
        }
        printf("\n]\n");
        return EXIT_OK;
    }
    printf("%s — %u %s\n\n", title, list->len, list->len == 1 ? "entry" : "entries");
    for (guint i = 0; i < list->len; i++) {
        cli_entry_print(g_ptr_array_index(list, i), false);
        printf("\n");
    }
    return EXIT_OK;
}

int
cmd_inbox(int argc, char **argv)
{
    g_autofree char *user = NULL;
    gint limit = 50;
    GOptionEntry entries[] = {
        { "user", 'u', 0, G_OPTION_ARG_STRING, &user, "user key or e-mail address", "USER" },
        { "limit", 'n', 0, G_OPTION_ARG_INT, &limit, "at most N entries (default 50)", "N" },
        { NULL },
    };
    if (!cli_parse("inbox", "--user USER",
                   "Lists a user's pending captured mail (Meine Kontakthistorie), newest first.",
                   entries, true, true, &argc, &argv))
        return EXIT_USAGE;
    if (user == NULL)
        return cli_usage("inbox", "--user is required");
    if (argc > 1)
        return cli_usage("inbox", "unexpected argument \"%s\"", argv[1]);
    if (limit <= 0)
        return cli_usage("inbox", "--limit must be positive");
    g_auto(Ctx) c = { 0 };
    int status = EXIT_OK;
    if (!ctx_open(&c, "inbox", &status))
        return status;
    g_autoptr(ClItem) u = find(&c, "inbox", CL_ITEM_USER, user, &status);
    if (u == NULL)
        return status;
    ClEntryQuery q = { .tenant_id = u->tenant_id, .author_id = u->id, .limit = limit };
    g_autofree char *title = g_strdup_printf("Meine Kontakthistorie of %s (%s, %s)", u->name,
                                             u->key, u->tenant_key);
    return print_list(&c, "inbox", &q, title);
}

int
cmd_history(int argc, char **argv)
{
    g_autofree char *company = NULL, *lead = NULL, *project = NULL, *user = NULL;
    gint limit = 50;
    gint64 before = G_MININT64; /* not given */
    GOptionEntry entries[] = {
        { "company", 'c', 0, G_OPTION_ARG_STRING, &company, "company key", "KEY" },
        { "lead", 'l', 0, G_OPTION_ARG_STRING, &lead, "lead number", "NUMBER" },
        { "project", 'p', 0, G_OPTION_ARG_STRING, &project, "project key", "KEY" },
        { "user", 'u', 0, G_OPTION_ARG_STRING, &user, "a user's own history", "USER" },
        { "limit", 'n', 0, G_OPTION_ARG_INT, &limit, "at most N entries (default 50)", "N" },
        { "before", 0, 0, G_OPTION_ARG_INT64, &before, "entries older than entry ID (paging)", "ID" },
        { NULL },
    };
    if (!cli_parse("history", "--company KEY | --lead NUMBER | --project KEY | --user USER",
                   "Lists the saved contact history of a company, lead, project or a user's own "
                   "history, newest first.",
                   entries, true, true, &argc, &argv))
        return EXIT_USAGE;
    int given = (company != NULL) + (lead != NULL) + (project != NULL) + (user != NULL);
    if (given != 1)
        return cli_usage("history", "name exactly one of --company, --lead, --project, --user");
    if (argc > 1)
        return cli_usage("history", "unexpected argument \"%s\"", argv[1]);
    if (limit <= 0)
        return cli_usage("history", "--limit must be positive");
    if (before != G_MININT64 && before <= 0)
        return cli_usage("history", "--before names an entry id (a positive number)");
    if (before == G_MININT64)
        before = 0;
    g_auto(Ctx) c = { 0 };
    int status = EXIT_OK;
    if (!ctx_open(&c, "history", &status))
        return status;
    ClItemKind kind = company ? CL_ITEM_COMPANY : lead ? CL_ITEM_LEAD
                    : project ? CL_ITEM_PROJECT : CL_ITEM_USER;
    const char *key = company ? company : lead ? lead : project ? project : user;
    g_autoptr(ClItem) item = find(&c, "history", kind, key, &status);
    if (item == NULL)
        return status;
    ClEntryQuery q = { .tenant_id = item->tenant_id, .limit = limit, .before_id = before };
    switch (kind) {
    case CL_ITEM_COMPANY: q.company_id = item->id; break;
    case CL_ITEM_LEAD: q.lead_id = item->id; break;
    case CL_ITEM_PROJECT: q.project_id = item->id; break;
    default: q.author_id = item->id; q.own_history = true; break;
    }
    g_autofree char *title = g_strdup_printf("Kontakthistorie of %s %s (%s)",
                                             cl_item_kind_name(kind), item->key, item->name);
    return print_list(&c, "history", &q, title);
}

static bool
parse_id(const char *text, gint64 *id)
{
    guint64 n;
    if (text == NULL || !g_ascii_string_to_unsigned(text, 10, 1, G_MAXINT64, &n, NULL))
        return false;
    *id = (gint64)n;
    return true;
}

int
cmd_show(int argc, char **argv)
{
    gboolean raw = FALSE;
    gint attachment = G_MININT; /* not given */
    GOptionEntry entries[] = {
        { "raw", 0, 0, G_OPTION_ARG_NONE, &raw, "write the original message to standard output",
          NULL },
        { "attachment", 0, 0, G_OPTION_ARG_INT, &attachment,
          "write attachment N (from 1) to standard output", "N" },
        { NULL },
    };
    if (!cli_parse("show", "ID", "Shows one entry with its text, addresses, attachments and "
                                 "the reasons for every assignment.",
                   entries, true, true, &argc, &argv))
        return EXIT_USAGE;
    bool want_attachment = attachment != G_MININT;
    if (!want_attachment)
        attachment = 0;
    if (raw && want_attachment)
        return cli_usage("show", "use --raw or --attachment, not both");
    if (want_attachment && attachment < 1)
        return cli_usage("show", "--attachment counts from 1");
    if ((raw || want_attachment) && cli_common.json)
        return cli_usage("show", "--raw and --attachment write bytes, not JSON: leave out --json");
    gint64 id;
    if (argc != 2 || !parse_id(argv[1], &id))
        return cli_usage("show", "name one entry id (a positive number)");
    g_auto(Ctx) c = { 0 };
    int status = EXIT_OK;
    if (!ctx_open(&c, "show", &status))
        return status;
    g_autoptr(GError) error = NULL;
    g_autoptr(ClEntry) e = cl_store_entry_get(c.store, c.tenant_id, id, &error);
    if (e == NULL)
        return cli_fail("show", error);
    if (raw || attachment) {
        const char *hash = NULL;
        if (raw && e->raw_hash == NULL) {
            fprintf(stderr, "contactlog show: entry %" G_GINT64_FORMAT " has no original message\n", id);
            return EXIT_NOINPUT;
        }
        if (attachment > (gint)e->attachments->len) {
            fprintf(stderr, "contactlog show: entry %" G_GINT64_FORMAT " has %u attachment%s\n",
                    id, e->attachments->len, e->attachments->len == 1 ? "" : "s");
            return EXIT_NOINPUT;
        }
        hash = raw ? e->raw_hash : ((ClEntryAttachment *)e->attachments->pdata[attachment - 1])->hash;
        fflush(stdout);
        if (!cl_store_blob_write_to(c.store, hash, STDOUT_FILENO, &error))
            return cli_fail("show", error);
        return EXIT_OK;
    }
    if (!cl_pipeline_entry_text(c.store, e, &error))
        return cli_fail("show", error);
    if (cli_common.json) {
        g_autofree char *json = cli_entry_json(c.store, e);
        printf("%s\n", json);
    } else {
        cli_entry_print(e, true);
    }
    return EXIT_OK;
}

static bool
resolve_list(Ctx *c, const char *name, ClItemKind kind, GStrv keys, GPtrArray **out, int *status)
{
    if (keys == NULL)
        return true;
    *out = g_ptr_array_new_with_free_func(g_free);
    for (gsize i = 0; keys[i]; i++) {
        /* "--contact a,b" and "--contact a --contact b" both work. */
        g_auto(GStrv) parts = g_strsplit(keys[i], ",", -1);
        for (gsize j = 0; parts[j]; j++) {
            g_strstrip(parts[j]);
            if (*parts[j] == '\0')
                continue;
            g_autoptr(ClItem) item = find(c, name, kind, parts[j], status);
            if (item == NULL)
                return false;
            gint64 *id = g_new(gint64, 1);
            *id = item->id;
            g_ptr_array_add(*out, id);
        }
    }
    return true;
}

int
cmd_confirm(int argc, char **argv)
{
    g_autofree char *company = NULL, *lead = NULL, *project = NULL, *channel = NULL;
    g_auto(GStrv) contacts = NULL;
    gboolean no_lead = FALSE;
    gint64 version = 0;
    GOptionEntry entries[] = {
        { "company", 'c', 0, G_OPTION_ARG_STRING, &company, "assign to this company", "KEY" },
        { "contact", 0, 0, G_OPTION_ARG_STRING_ARRAY, &contacts,
          "contact persons (repeatable; the first is the primary)", "KEY" },
        { "lead", 'l', 0, G_OPTION_ARG_STRING, &lead, "assign to this lead", "NUMBER" },
        { "project", 'p', 0, G_OPTION_ARG_STRING, &project, "assign to this project", "KEY" },
        { "no-lead", 0, 0, G_OPTION_ARG_NONE, &no_lead, "remove the lead/project assignment", NULL },
        { "channel", 0, 0, G_OPTION_ARG_STRING, &channel, "change the channel", "CHANNEL" },
        { "version", 0, 0, G_OPTION_ARG_INT64, &version,
          "fail if the entry changed since this version", "N" },
        { NULL },
    };
    if (!cli_parse("confirm", "ID [--company K] [--contact K] [--lead N | --project K]",
                   "Review: saves a pending entry into the history of its company, lead or "
                   "project,\noptionally changing the assignment first.",
                   entries, true, true, &argc, &argv))
        return EXIT_USAGE;
    gint64 id;
    if (argc != 2 || !parse_id(argv[1], &id))
        return cli_usage("confirm", "name one entry id (a positive number)");
    if (lead && project)
        return cli_usage("confirm", "an entry belongs to a lead or a project, not both");
    if (no_lead && (lead || project))
        return cli_usage("confirm", "use --no-lead or --lead/--project, not both");
    int ch = channel ? cl_channel_parse(channel) : -1;
    if (channel && ch < 0)
        return cli_usage("confirm", "unknown channel \"%s\" (phone, email, meeting, video, "
                                    "letter, other)", channel);
    g_auto(Ctx) c = { 0 };
    int status = EXIT_OK;
    if (!ctx_open(&c, "confirm", &status))
        return status;
    g_autoptr(GError) error = NULL;
    g_autoptr(ClEntry) e = cl_store_entry_get(c.store, c.tenant_id, id, &error);
    if (e == NULL)
        return cli_fail("confirm", error);
    c.tenant_id = e->tenant_id;
    ClEntryChange change = { .channel = ch, .version = version };
    g_autoptr(ClItem) co = company ? find(&c, "confirm", CL_ITEM_COMPANY, company, &status) : NULL;
    g_autoptr(ClItem) le = lead ? find(&c, "confirm", CL_ITEM_LEAD, lead, &status) : NULL;
    g_autoptr(ClItem) pr = project ? find(&c, "confirm", CL_ITEM_PROJECT, project, &status) : NULL;
    if ((company && !co) || (lead && !le) || (project && !pr))
        return status;
    g_autoptr(GPtrArray) contact_ids = NULL;
    if (!resolve_list(&c, "confirm", CL_ITEM_CONTACT, contacts, &contact_ids, &status))
        return status;
    change.company_id = co ? co->id : 0;
    change.lead_id = le ? le->id : no_lead ? -1 : 0;
    change.project_id = pr ? pr->id : no_lead ? -1 : 0;
    change.contact_ids = contact_ids;
    if (!cl_store_begin(c.store, &error) ||
        !cl_store_entry_confirm(c.store, e->tenant_id, id, &change, &error)) {
        cl_store_rollback(c.store);
        int rc = cli_fail("confirm", error);
        if (g_error_matches(error, CL_ERROR, CL_ERROR_INVALID))
            fprintf(stderr, "contactlog confirm: name that company with --company, or leave the "
                            "lead or project out with --no-lead\n");
        return rc;
    }
    if (!cl_store_commit(c.store, &error))
        return cli_fail("confirm", error);
    g_autoptr(ClEntry) saved = cl_store_entry_get(c.store, e->tenant_id, id, &error);
    if (saved == NULL)
        return cli_fail("confirm", error);
    if (cli_common.json) {
        g_autofree char *json = cli_entry_json(c.store, saved);
        printf("%s\n", json);
    } else {
        printf("saved:\n");
        cli_entry_print(saved, false);
    }
    return EXIT_OK;
}

static bool
valid_date(const char *text)
{
    int y, m, d;
    char extra;
    if (text == NULL || sscanf(text, "%4d-%2d-%2d%c", &y, &m, &d, &extra) != 3 ||
        strlen(text) != 10)
        return false;
    return g_date_valid_dmy(d, m, y);
}

/* Inside the transaction that inserts the entry (blob writes need it). */
static bool
add_attachment(Ctx *c, const char *path, ClEntry *e, GError **error)
{
    g_autoptr(ClRawMessage) raw =
        cl_intake_open(path, 0, -1, c->config->max_message_bytes, path, error);
    if (raw == NULL)
        return false;
    if (cl_raw_message_too_large(raw)) {
        g_set_error(error, CL_ERROR, CL_ERROR_TOO_LARGE, "%s is larger than %" G_GINT64_FORMAT
                    " bytes", path, c->config->max_message_bytes);
        return false;
    }
    /* Type from name and first bytes (shared-mime-info), as a browser upload would. */
    guint8 head[4096];
    ssize_t n = pread(raw->fd, head, sizeof head, 0);
    g_autofree char *guess = g_content_type_guess(path, head, n > 0 ? n : 0, NULL);
    g_autofree char *mime = guess ? g_content_type_get_mime_type(guess) : NULL;
    g_autofree char *base = g_path_get_basename(path);
    char hash[CL_HASH_HEX_LEN];
    if (!cl_store_blob_put_fd(c->store, raw->fd, 0, raw->stored, hash, error))
        return false;
    ClEntryAttachment *a = g_new0(ClEntryAttachment, 1);
    a->name = cl_parse_safe_filename(base, mime, 0);
    a->content_type = g_strdup(mime ? mime : "application/octet-stream");
    a->size = raw->stored;
    a->hash = g_strdup(hash);
    g_ptr_array_add(e->attachments, a);
    return true;
}

int
cmd_add(int argc, char **argv)
{
    g_autofree char *user = NULL, *channel = NULL, *company = NULL, *lead = NULL, *project = NULL;
    g_autofree char *followup = NULL, *subject = NULL, *text = NULL, *text_file = NULL;
    g_autofree char *when = NULL;
    g_auto(GStrv) contacts = NULL, notify = NULL, attach = NULL;
    GOptionEntry entries[] = {
        { "user", 'u', 0, G_OPTION_ARG_STRING, &user, "author (key or address)", "USER" },
        { "channel", 0, 0, G_OPTION_ARG_STRING, &channel,
          "Kontaktweg: phone, email, meeting, video, letter, other (or Telefon, E-Mail, Termin, "
          "Brief, …)",
          "CHANNEL" },
        { "contact", 0, 0, G_OPTION_ARG_STRING_ARRAY, &contacts,
          "Ansprechpartner (repeatable; the first is the primary)", "KEY" },
        { "company", 'c', 0, G_OPTION_ARG_STRING, &company, "in this company's history", "KEY" },
        { "lead", 'l', 0, G_OPTION_ARG_STRING, &lead, "in this lead's history", "NUMBER" },
        { "project", 'p', 0, G_OPTION_ARG_STRING, &project, "in this project's history", "KEY" },
        { "followup", 0, 0, G_OPTION_ARG_STRING, &followup, "Wiedervorlage date", "YYYY-MM-DD" },
        { "notify", 0, 0, G_OPTION_ARG_STRING_ARRAY, &notify,
          "Benutzer informieren (repeatable)", "USER" },
        { "subject", 's', 0, G_OPTION_ARG_STRING, &subject, "Betreff", "TEXT" },
        { "text", 0, 0, G_OPTION_ARG_STRING, &text, "the note", "TEXT" },
        { "text-file", 0, 0, G_OPTION_ARG_FILENAME, &text_file, "read the note from a file", "FILE" },
        { "attach", 'a', 0, G_OPTION_ARG_FILENAME_ARRAY, &attach, "attach a file (repeatable)",
          "FILE" },
        { "time", 0, 0, G_OPTION_ARG_STRING, &when, "when the contact happened (ISO 8601, "
          "such as 2026-12-03T14:30 or 2026-12-03T14:30+01:00; local time (TZ) unless it names a "
          "zone; default now)", "TIME" },
        { NULL },
    };
    if (!cli_parse("add", "--user USER --channel CHANNEL --subject TEXT [...]",
                   "Records a contact by hand in a company, lead or project history, or in the "
                   "user's own history\nwhen none is named.",
                   entries, true, true, &argc, &argv))
        return EXIT_USAGE;
    if (argc > 1)
        return cli_usage("add", "unexpected argument \"%s\"", argv[1]);
    if (user == NULL || channel == NULL || subject == NULL)
        return cli_usage("add", "--user, --channel and --subject are required");
    int ch = cl_channel_parse(channel);
    if (ch < 0)
        return cli_usage("add", "unknown channel \"%s\" (phone, email, meeting, video, letter, "
                                "other)", channel);
    if (lead && project)
        return cli_usage("add", "an entry belongs to a lead or a project, not both");
    if (followup && !valid_date(followup))
        return cli_usage("add", "--followup must be a date such as 2026-12-24");
    if (text && text_file)
        return cli_usage("add", "use --text or --text-file, not both");
    if (!g_utf8_validate(subject, -1, NULL) || (text && !g_utf8_validate(text, -1, NULL)))
        return cli_usage("add", "subject and text must be UTF-8");
    g_autofree char *subject_stripped = g_strstrip(g_strdup(subject));
    if (*subject_stripped == '\0')
        return cli_usage("add", "--subject must not be empty");
    gint64 contact_time = 0;
    if (when) {
        /* "2026-12-03 14:30" and "2026-12-03T14:30" as people write them, with
         * or without seconds, with or without a zone ("…T14:30Z",
         * "…T14:30+01:00"); without one it is the local time (TZ). */
        g_autoptr(GTimeZone) tz = g_time_zone_new_local();
        g_autoptr(GDateTime) dt = cl_time_parse(when, tz);
        if (dt == NULL)
            return cli_usage("add", "--time must be ISO 8601, such as 2026-12-03T14:30");
        contact_time = g_date_time_to_unix(dt);
    }
    g_autofree char *body = NULL;
    if (text_file) {
        g_autoptr(GError) error = NULL;
        if (!g_file_get_contents(text_file, &body, NULL, &error)) {
            fprintf(stderr, "contactlog add: %s\n", error->message);
            return EXIT_NOINPUT;
        }
        if (!g_utf8_validate(body, -1, NULL))
            return cli_usage("add", "%s is not UTF-8 text", text_file);
    } else {
        body = g_strdup(text ? text : "");
    }

    g_auto(Ctx) c = { 0 };
    int status = EXIT_OK;
    if (!ctx_open(&c, "add", &status))
        return status;
    g_autoptr(ClItem) author = find(&c, "add", CL_ITEM_USER, user, &status);
    if (author == NULL)
        return status;
    g_autoptr(ClEntry) e = cl_entry_new();
    e->tenant_id = author->tenant_id;
    e->tenant_key = g_strdup(author->tenant_key);
    e->state = CL_ENTRY_SAVED;
    e->from_mail = false;
    e->channel = ch;
    e->contact_time = contact_time;
    e->author = g_steal_pointer(&author);
    e->subject = g_strdup(subject);
    e->body = g_steal_pointer(&body);
    e->followup = g_strdup(followup);
    if (lead && !(e->lead = find(&c, "add", CL_ITEM_LEAD, lead, &status)))
        return status;
    if (project && !(e->project = find(&c, "add", CL_ITEM_PROJECT, project, &status)))
        return status;
    if (company && !(e->company = find(&c, "add", CL_ITEM_COMPANY, company, &status)))
        return status;
    ClItem *record = e->lead ? e->lead : e->project;
    if (record && e->company && record->company_id != e->company->id) {
        fprintf(stderr, "contactlog add: %s %s belongs to company %s, not %s\n",
                cl_item_kind_name(record->kind), record->key, record->company_key, e->company->key);
        return EXIT_DATAERR;
    }
    if (record && !e->company)
        e->company = cl_item_new(CL_ITEM_COMPANY, record->company_id, e->tenant_id,
                                 record->company_key);
    for (gsize i = 0; contacts && contacts[i]; i++) {
        g_auto(GStrv) parts = g_strsplit(contacts[i], ",", -1);
        for (gsize j = 0; parts[j]; j++) {
            ClItem *p = find(&c, "add", CL_ITEM_CONTACT, g_strstrip(parts[j]), &status);
            if (p == NULL)
                return status;
            g_ptr_array_add(e->contacts, p);
            if (e->company == NULL)
                e->company = cl_item_new(CL_ITEM_COMPANY, p->company_id, e->tenant_id,
                                         p->company_key);
            if (p->company_id != e->company->id) {
                fprintf(stderr, "contactlog add: contact %s works for %s, not %s\n", p->key,
                        p->company_key, e->company->key);
                return EXIT_DATAERR;
            }
        }
    }
    for (gsize i = 0; notify && notify[i]; i++) {
        g_auto(GStrv) parts = g_strsplit(notify[i], ",", -1);
        for (gsize j = 0; parts[j]; j++) {
            ClItem *u = find(&c, "add", CL_ITEM_USER, g_strstrip(parts[j]), &status);
            if (u == NULL)
                return status;
            g_ptr_array_add(e->notify, u);
        }
    }
    for (gsize i = 0; attach && attach[i]; i++) {
        if (access(attach[i], R_OK) != 0) {
            fprintf(stderr, "contactlog add: cannot read %s: %s\n", attach[i], g_strerror(errno));
            return EXIT_NOINPUT;
        }
        if (!g_file_test(attach[i], G_FILE_TEST_IS_REGULAR)) {
            fprintf(stderr, "contactlog add: %s is not a file\n", attach[i]);
            return EXIT_NOINPUT;
        }
    }
    g_autoptr(GError) error = NULL;
    bool ok = cl_store_begin(c.store, &error);
    for (gsize i = 0; ok && attach && attach[i]; i++)
        ok = add_attachment(&c, attach[i], e, &error);
    if (!ok || !cl_store_entry_insert(c.store, e, &error)) {
        cl_store_rollback(c.store);
        return cli_fail("add", error);
    }
    if (!cl_store_commit(c.store, &error))
        return cli_fail("add", error);
    g_autoptr(ClEntry) stored = cl_store_entry_get(c.store, e->tenant_id, e->id, &error);
    if (stored == NULL)
        return cli_fail("add", error);
    if (cli_common.json) {
        g_autofree char *json = cli_entry_json(c.store, stored);
        printf("%s\n", json);
    } else {
        printf("recorded:\n");
        cli_entry_print(stored, false);
    }
    return EXIT_OK;
}

int
cmd_rejected(int argc, char **argv)
{
    gint limit = 100;
    GOptionEntry entries[] = {
        { "limit", 'n', 0, G_OPTION_ARG_INT, &limit, "at most N (default 100)", "N" },
        { NULL },
    };
    if (!cli_parse("rejected", "", "Lists mail that was refused, newest first, with the reason "
                                   "the sender was given.",
                   entries, true, true, &argc, &argv))
        return EXIT_USAGE;
    if (argc > 1)
        return cli_usage("rejected", "unexpected argument \"%s\"", argv[1]);
    g_auto(Ctx) c = { 0 };
    int status = EXIT_OK;
    if (!ctx_open(&c, "rejected", &status))
        return status;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) rows = cl_store_rejections_list(c.store, c.tenant_id, limit, &error);
    if (rows == NULL)
        return cli_fail("rejected", error);
    if (cli_common.json) {
        printf("[");
        for (guint i = 0; i < rows->len; i++)
            printf("%s\n  %s", i ? "," : "", (char *)g_ptr_array_index(rows, i));
        printf("\n]\n");
        return EXIT_OK;
    }
    for (guint i = 0; i < rows->len; i++) {
        const char *row = g_ptr_array_index(rows, i);
        json_t *o = json_loads(row, 0, NULL);
        if (o == NULL)
            continue;
        const char *sender = json_string_value(json_object_get(o, "sender"));
        const char *subject = json_string_value(json_object_get(o, "subject"));
        /* Local time, as every other listing prints it; JSON keeps UTC. */
        g_autoptr(GDateTime) utc =
            g_date_time_new_from_iso8601(json_string_value(json_object_get(o, "received")), NULL);
        g_autoptr(GDateTime) local = utc ? g_date_time_to_local(utc) : NULL;
        g_autofree char *when = local ? g_date_time_format(local, "%Y-%m-%d %H:%M") : g_strdup("?");
        printf("#%lld  %s  %-16s %s  \"%s\"\n    %s\n",
               (long long)json_integer_value(json_object_get(o, "id")), when,
               json_string_value(json_object_get(o, "reason")), sender ? sender : "(no sender)",
               subject ? subject : "", json_string_value(json_object_get(o, "message")));
        json_decref(o);
    }
    if (rows->len == 0)
        fprintf(stderr, "no rejected mail\n");
    return EXIT_OK;
}
