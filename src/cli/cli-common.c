/*
 * cli-common.c — option parsing, the error → exit status table, opening the
 * store, and the JSON/text forms of results and entries.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_t, json_decref)

CliCommon cli_common;
const char *cli_program = "contactlog";

/* One table turns error codes into exit statuses (sysexits, DESIGN §5). */
static const struct {
    ClErrorCode code;
    int exit_status;
} edge_map[] = {
    { CL_ERROR_TEMPFAIL, EXIT_TEMPFAIL },  { CL_ERROR_INVALID, EXIT_DATAERR },
    { CL_ERROR_TOO_LARGE, EXIT_DATAERR },  { CL_ERROR_NOT_FOUND, EXIT_NOINPUT },
    { CL_ERROR_CONFLICT, EXIT_DATAERR },   { CL_ERROR_FORBIDDEN, EXIT_NOUSER },
    { CL_ERROR_CONFIG, EXIT_CONFIG },      { CL_ERROR_INTERNAL, EXIT_SOFTWARE },
};

int
cli_exit_status(const GError *error)
{
    if (error == NULL)
        return EXIT_OK;
    if (error->domain == CL_ERROR)
        for (gsize i = 0; i < G_N_ELEMENTS(edge_map); i++)
            if (edge_map[i].code == (ClErrorCode)error->code)
                return edge_map[i].exit_status;
    return EXIT_SOFTWARE;
}

int
cli_fail(const char *name, const GError *error)
{
    fprintf(stderr, "contactlog %s: %s\n", name, error->message);
    return cli_exit_status(error);
}

int
cli_usage(const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "contactlog %s: %s (see contactlog %s --help)\n", name, msg, name);
    return EXIT_USAGE;
}

GOptionEntry *
cli_common_entries(const char *name, bool with_tenant, bool with_json)
{
    static GOptionEntry all[5];
    gsize n = 0;
    bool demo = name != NULL && strcmp(name, "demo") == 0;
    all[n++] = (GOptionEntry){ "data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &cli_common.data_dir,
                               demo ? "data directory (default: $CONTACTLOG_DATA_DIR or "
                                      "./contactlog-demo)"
                                    : "data directory (default: $CONTACTLOG_DATA_DIR or "
                                      "./contactlog-data)",
                               "DIR" };
    all[n++] = (GOptionEntry){ "config", 0, 0, G_OPTION_ARG_FILENAME, &cli_common.config_file,
                               "configuration file (default: DIR/contactlog.conf)", "FILE" };
    if (with_tenant)
        all[n++] = (GOptionEntry){ "tenant", 't', 0, G_OPTION_ARG_STRING, &cli_common.tenant,
                                   "tenant key, when keys exist in several tenants", "KEY" };
    if (with_json)
        all[n++] = (GOptionEntry){ "json", 0, 0, G_OPTION_ARG_NONE, &cli_common.json,
                                   "print JSON instead of text", NULL };
    all[n] = (GOptionEntry){ NULL };
    return all;
}

bool
cli_parse(const char *name, const char *params, const char *summary, GOptionEntry *entries,
          bool with_tenant, bool with_json, int *argc, char ***argv)
{
    g_autofree char *title = g_strdup_printf("%s %s", name, params);
    g_autoptr(GOptionContext) ctx = g_option_context_new(title);
    g_option_context_set_summary(ctx, summary);
    if (entries != NULL)
        g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_add_main_entries(ctx, cli_common_entries(name, with_tenant, with_json), NULL);
    g_autoptr(GError) error = NULL;
    /* GOption prints the program name from argv[0]: make it "contactlog NAME". */
    g_set_prgname("contactlog");
    if (!g_option_context_parse(ctx, argc, argv, &error)) {
        cli_usage(name, "%s", error->message);
        return false;
    }
    return true;
}

ClConfig *
cli_config(const char *name, GError **error)
{
    (void)name;
    const char *dir = cli_common.data_dir;
    if (dir == NULL)
        dir = g_getenv("CONTACTLOG_DATA_DIR");
    if (dir == NULL || *dir == '\0')
        dir = "contactlog-data";
    return cl_config_load(dir, cli_common.config_file, error);
}

ClStore *
cli_open_store(const ClConfig *config, bool create, GError **error)
{
    /* Only `load` and `demo` make a new data directory: anything else on a
     * mistyped path would work on an empty one (and `deliver` would bounce
     * every mail as unknown-tenant). */
    g_autofree char *db = g_build_filename(config->data_dir, "contactlog.db", NULL);
    if (!create && !g_file_test(db, G_FILE_TEST_EXISTS)) {
        g_set_error(error, CL_ERROR, CL_ERROR_NOT_FOUND,
                    "no contactlog data in %s: load master data first (contactlog load "
                    "--data-dir %s FILE.json)",
                    config->data_dir, config->data_dir);
        return NULL;
    }
    return cl_store_open(config, error);
}

bool
cli_tenant_id(ClStore *store, gint64 *tenant_id, GError **error)
{
    *tenant_id = 0;
    if (cli_common.tenant == NULL)
        return true;
    g_autoptr(ClItem) t = cl_store_find(store, CL_ITEM_TENANT, 0, cli_common.tenant, error);
    if (t == NULL)
        return false;
    *tenant_id = t->id;
    return true;
}

static json_t *
key_or_null(const ClItem *item)
{
    return item && item->key ? json_string(item->key) : json_null();
}

static json_t *
reasons_json(GPtrArray *reasons)
{
    json_t *arr = json_array();
    for (guint i = 0; reasons && i < reasons->len; i++) {
        ClReason *r = g_ptr_array_index(reasons, i);
        json_t *o = json_object();
        json_object_set_new(o, "field", json_string(r->field));
        json_object_set_new(o, "rule", json_string(r->rule));
        json_object_set_new(o, "detail", r->detail ? json_string(r->detail) : json_null());
        json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *
candidates_json(GPtrArray *candidates)
{
    json_t *o = json_object();
    for (guint i = 0; i < candidates->len; i++) {
        ClItem *c = g_ptr_array_index(candidates, i);
        const char *field = cl_item_kind_name(c->kind);
        json_t *list = json_object_get(o, field);
        if (list == NULL) {
            list = json_array();
            json_object_set_new(o, field, list);
        }
        json_array_append_new(list, json_string(c->key));
    }
    return o;
}

char *
cli_error_line(const char *message, const char *origin)
{
    g_autoptr(json_t) o = json_object();
    json_object_set_new(o, "status", json_string("error"));
    json_object_set_new(o, "reason", json_string("tempfail"));
    json_object_set_new(o, "message", json_string(message));
    if (origin != NULL)
        json_object_set_new(o, "origin", json_string(origin));
    return json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

char *
cli_result_line(const ClResult *r, const char *origin)
{
    g_autoptr(json_t) o = json_object();
    const ClEntry *e = r->entry;
    json_object_set_new(o, "status", json_string(cl_result_status_name(r->status)));
    if (r->status == CL_RESULT_REJECTED) {
        json_object_set_new(o, "reason", json_string(r->reason));
        json_object_set_new(o, "message", json_string(r->message));
    }
    json_object_set_new(o, "entry", e ? json_integer(e->id) : json_null());
    json_object_set_new(o, "tenant", r->tenant_key ? json_string(r->tenant_key) : json_null());
    json_object_set_new(o, "user", r->user_key ? json_string(r->user_key) : json_null());
    json_object_set_new(o, "company", key_or_null(e ? e->company : NULL));
    json_object_set_new(o, "contact",
                        e && e->contacts->len ? key_or_null(g_ptr_array_index(e->contacts, 0))
                                              : json_null());
    json_t *contacts = json_array();
    for (guint i = 0; e && i < e->contacts->len; i++)
        json_array_append_new(contacts, key_or_null(g_ptr_array_index(e->contacts, i)));
    json_object_set_new(o, "contacts", contacts);
    json_object_set_new(o, "lead", key_or_null(e ? e->lead : NULL));
    json_object_set_new(o, "project", key_or_null(e ? e->project : NULL));
    json_object_set_new(o, "forwarded", json_boolean(e && e->forwarded));
    json_object_set_new(o, "reasons", reasons_json(e ? e->reasons : NULL));
    if (e && e->candidates->len > 0)
        json_object_set_new(o, "candidates", candidates_json(e->candidates));
    if (origin != NULL)
        json_object_set_new(o, "origin", json_string(origin));
    return json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

json_t *
cli_time_json(gint64 t)
{
    if (t == 0)
        return json_null();
    g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(t);
    g_autofree char *s = g_date_time_format_iso8601(dt);
    return json_string(s);
}

static json_t *
item_json(const ClItem *item, const char *key_field)
{
    if (item == NULL)
        return json_null();
    json_t *o = json_object();
    json_object_set_new(o, key_field, json_string(item->key));
    json_object_set_new(o, "name", item->name ? json_string(item->name) : json_null());
    return o;
}

char *
cli_entry_json(ClStore *store, ClEntry *e)
{
    g_autoptr(GError) text_error = NULL;
    if (!cl_pipeline_entry_text(store, e, &text_error))
        g_warning("entry %" G_GINT64_FORMAT " text-unreadable error=%s", e->id, text_error->message);
    g_autoptr(json_t) o = json_object();
    json_object_set_new(o, "id", json_integer(e->id));
    json_object_set_new(o, "tenant", json_string(e->tenant_key));
    json_object_set_new(o, "state", json_string(cl_entry_state_name(e->state)));
    json_object_set_new(o, "origin", json_string(e->from_mail ? "mail" : "manual"));
    json_object_set_new(o, "channel", json_string(cl_channel_name(e->channel)));
    json_object_set_new(o, "contact_time", cli_time_json(e->contact_time));
    json_object_set_new(o, "created", cli_time_json(e->created_at));
    json_object_set_new(o, "author", item_json(e->author, "key"));
    json_object_set_new(o, "company", item_json(e->company, "key"));
    json_t *contacts = json_array();
    for (guint i = 0; i < e->contacts->len; i++)
        json_array_append_new(contacts, item_json(g_ptr_array_index(e->contacts, i), "key"));
    json_object_set_new(o, "contacts", contacts);
    json_object_set_new(o, "lead", item_json(e->lead, "number"));
    json_object_set_new(o, "project", item_json(e->project, "key"));
    json_object_set_new(o, "followup", e->followup ? json_string(e->followup) : json_null());
    json_t *notify = json_array();
    for (guint i = 0; i < e->notify->len; i++)
        json_array_append_new(notify, key_or_null(g_ptr_array_index(e->notify, i)));
    json_object_set_new(o, "notify", notify);
    json_object_set_new(o, "subject", json_string(e->subject ? e->subject : ""));
    json_object_set_new(o, "text", json_string(e->body ? e->body : ""));
    json_object_set_new(o, "text_from_html", json_boolean(e->body_from_html));
    json_object_set_new(o, "forwarded", json_boolean(e->forwarded));
    json_object_set_new(o, "message_id", e->message_id ? json_string(e->message_id) : json_null());
    json_object_set_new(o, "in_reply_to", e->in_reply_to ? json_string(e->in_reply_to) : json_null());
    json_t *addresses = e->addresses_json ? json_loads(e->addresses_json, 0, NULL) : NULL;
    /* A forward is about its original: who wrote it, to whom, when, and its text. */
    json_t *forwards = addresses ? json_object_get(addresses, "forwarded") : NULL;
    json_t *original = e->forwarded && json_array_size(forwards) > 0
                           ? json_deep_copy(json_array_get(forwards, 0))
                           : NULL;
    if (original != NULL)
        json_object_set_new(original, "text",
                            json_string(e->original_text ? e->original_text : ""));
    json_object_set_new(o, "original", original ? original : json_null());
    json_object_set_new(o, "addresses", addresses ? addresses : json_null());
    json_t *atts = json_array();
    for (guint i = 0; i < e->attachments->len; i++) {
        ClEntryAttachment *a = g_ptr_array_index(e->attachments, i);
        json_t *x = json_object();
        json_object_set_new(x, "id", json_integer(a->id));
        json_object_set_new(x, "name", json_string(a->name));
        json_object_set_new(x, "content_type", json_string(a->content_type));
        json_object_set_new(x, "size", json_integer(a->size));
        json_object_set_new(x, "hash", json_string(a->hash));
        json_array_append_new(atts, x);
    }
    json_object_set_new(o, "attachments", atts);
    json_object_set_new(o, "reasons", reasons_json(e->reasons));
    json_object_set_new(o, "candidates", candidates_json(e->candidates));
    if (e->raw_hash) {
        json_t *raw = json_object();
        json_object_set_new(raw, "hash", json_string(e->raw_hash));
        json_object_set_new(raw, "size", json_integer(e->raw_size));
        json_object_set_new(o, "raw", raw);
    } else {
        json_object_set_new(o, "raw", json_null());
    }
    json_object_set_new(o, "version", json_integer(e->version));
    return json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
}

static char *
format_time(gint64 t)
{
    if (t == 0)
        return g_strdup("-");
    g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(t);
    g_autoptr(GDateTime) local = g_date_time_to_local(utc);
    return g_date_time_format(local, "%Y-%m-%d %H:%M");
}

/* "From: Peter Sommer <p.sommer@…>" lines of a captured mail. */
static void
print_list(json_t *o, const char *indent);

static void
print_addresses(const char *addresses_json, bool forwarded)
{
    g_autoptr(json_t) o = addresses_json ? json_loads(addresses_json, 0, NULL) : NULL;
    if (o == NULL)
        return;
    print_list(o, "    ");
    json_t *orig = forwarded ? json_array_get(json_object_get(o, "forwarded"), 0) : NULL;
    if (orig != NULL) {
        const char *date = json_string_value(json_object_get(orig, "date_text"));
        const char *subject = json_string_value(json_object_get(orig, "subject"));
        printf("    forwarded mail (%s):\n", json_string_value(json_object_get(orig, "format")));
        const char *from_text = json_string_value(json_object_get(orig, "from_text"));
        if (from_text && json_array_size(json_object_get(orig, "from")) == 0)
            printf("      From: %s\n", from_text);
        print_list(orig, "      ");
        if (date || json_is_string(json_object_get(orig, "date")))
            printf("      Date: %s\n", date ? date : json_string_value(json_object_get(orig, "date")));
        if (subject)
            printf("      Subject: %s\n", subject);
    }
}

static void
print_list(json_t *o, const char *indent)
{
    static const struct {
        const char *key, *label;
    } lists[] = { { "from", "From" }, { "to", "To" }, { "cc", "Cc" } };
    for (gsize l = 0; l < G_N_ELEMENTS(lists); l++) {
        json_t *arr = json_object_get(o, lists[l].key);
        if (!json_is_array(arr) || json_array_size(arr) == 0)
            continue;
        GString *line = g_string_new(NULL);
        size_t i;
        json_t *a;
        json_array_foreach(arr, i, a) {
            const char *name = json_string_value(json_object_get(a, "name"));
            const char *addr = json_string_value(json_object_get(a, "address"));
            if (i >= 10) {
                g_string_append_printf(line, ", … (%zu in all)", json_array_size(arr));
                break;
            }
            g_autofree char *mailbox = cl_mailbox_format(name, addr);
            g_string_append_printf(line, "%s%s", i ? ", " : "", mailbox);
        }
        printf("%s%s: %s\n", indent, lists[l].label, line->str);
        g_string_free(line, TRUE);
    }
}

void
cli_entry_print(const ClEntry *e, bool full)
{
    g_autofree char *when = format_time(e->contact_time);
    printf("#%" G_GINT64_FORMAT "  %s  %-7s  %s  %s\n", e->id, when, cl_channel_name(e->channel),
           cl_entry_state_name(e->state), e->subject && *e->subject ? e->subject : "(no subject)");
    GString *where = g_string_new(NULL);
    if (e->company)
        g_string_append_printf(where, "company %s (%s)", e->company->key, e->company->name);
    for (guint i = 0; i < e->contacts->len; i++) {
        ClItem *c = g_ptr_array_index(e->contacts, i);
        g_string_append_printf(where, "%s%s %s (%s)", where->len ? ", " : "",
                               i == 0 ? "contact" : "also", c->key, c->name);
    }
    if (e->lead)
        g_string_append_printf(where, "%slead %s (%s)", where->len ? ", " : "", e->lead->key,
                               e->lead->name);
    if (e->project)
        g_string_append_printf(where, "%sproject %s (%s)", where->len ? ", " : "",
                               e->project->key, e->project->name);
    /* A saved entry without company, lead or project is in its author's own history. */
    printf("    by %s; %s\n", e->author ? e->author->key : "?",
           where->len                   ? where->str
           : e->state == CL_ENTRY_SAVED ? "in the author's own history"
                                        : "not assigned yet");
    g_string_free(where, TRUE);
    if (full)
        print_addresses(e->addresses_json, e->forwarded);
    if (e->candidates->len > 0 && e->state == CL_ENTRY_PENDING) { /* chosen from on review */
        printf("    candidates:");
        for (guint i = 0; i < e->candidates->len; i++) {
            ClItem *c = g_ptr_array_index(e->candidates, i);
            printf(" %s %s", cl_item_kind_name(c->kind), c->key);
        }
        printf("\n");
    }
    if (e->followup)
        printf("    follow-up (Wiedervorlage): %s\n", e->followup);
    if (e->notify->len > 0) {
        printf("    notify:");
        for (guint i = 0; i < e->notify->len; i++)
            printf(" %s", ((ClItem *)g_ptr_array_index(e->notify, i))->key);
        printf("\n");
    }
    for (guint i = 0; i < e->reasons->len; i++) {
        ClReason *r = g_ptr_array_index(e->reasons, i);
        if (strcmp(r->field, "tenant") == 0 || strcmp(r->field, "user") == 0)
            continue;
        printf("    why %s: %s%s%s\n", r->field, r->rule, r->detail ? " " : "",
               r->detail ? r->detail : "");
    }
    for (guint i = 0; i < e->attachments->len; i++) {
        ClEntryAttachment *a = g_ptr_array_index(e->attachments, i);
        printf("    attachment: %s (%s, %" G_GINT64_FORMAT " bytes)\n", a->name, a->content_type,
               a->size);
    }
    if (full && e->body && *e->body)
        printf("\n%s\n", e->body);
}
