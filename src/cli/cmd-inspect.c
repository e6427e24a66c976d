/*
 * cmd-inspect.c — `contactlog inspect PATH...`: what contactlog reads in a mail,
 * before any tenant is involved — sender, recipients, subject, the forwarded
 * originals (rule 5) and the addresses of the whole-message scan. For
 * administrators asking "why did this mail land there", and for the corpus
 * checks of docs/capture.md. Stores nothing and needs no data directory.
 */
#include <jansson.h>
#include <stdio.h>

#include "cli.h"
#include "intake/intake.h"
#include "parse/parse.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_t, json_decref)

static json_t *
addresses(GPtrArray *list)
{
    json_t *arr = json_array();
    for (guint i = 0; list && i < list->len; i++) {
        ClAddress *a = g_ptr_array_index(list, i);
        json_t *o = json_object();
        json_object_set_new(o, "name", a->name ? json_string(a->name) : json_null());
        json_object_set_new(o, "address", json_string(a->address));
        json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *
address_or_null(ClAddress *a)
{
    if (a == NULL)
        return json_null();
    g_autoptr(GPtrArray) one = g_ptr_array_new();
    g_ptr_array_add(one, a);
    json_t *arr = addresses(one);
    json_t *o = json_incref(json_array_get(arr, 0));
    json_decref(arr);
    return o;
}

static char *
message_json(const char *origin, ClMessage *m)
{
    g_autoptr(json_t) o = json_object();
    json_object_set_new(o, "origin", json_string(origin));
    json_object_set_new(o, "from", address_or_null(m->from));
    json_object_set_new(o, "to", addresses(m->to));
    json_object_set_new(o, "cc", addresses(m->cc));
    json_object_set_new(o, "subject", json_string(m->subject));
    ClSubjectKind kind = CL_SUBJECT_PLAIN;
    g_autofree char *stripped = cl_subject_strip(m->subject, &kind);
    static const char *kinds[] = { "plain", "reply", "forward" };
    json_object_set_new(o, "subject_stripped", json_string(stripped));
    json_object_set_new(o, "subject_kind", json_string(kinds[kind]));
    json_object_set_new(o, "date", cli_time_json(m->date));
    json_object_set_new(o, "message_id", m->message_id ? json_string(m->message_id) : json_null());
    json_object_set_new(o, "in_reply_to", m->in_reply_to ? json_string(m->in_reply_to) : json_null());
    json_object_set_new(o, "text_from_html", json_boolean(m->text_from_html));
    json_object_set_new(o, "text_bytes", json_integer((json_int_t)strlen(m->text)));
    json_t *fw = json_array();
    for (guint i = 0; i < m->forwards->len; i++) {
        ClForward *f = m->forwards->pdata[i];
        cl_forward_text(m, f);
        json_t *x = json_object();
        json_object_set_new(x, "format", json_string(f->format));
        json_object_set_new(x, "explicit", json_boolean(f->explicit_forward));
        json_object_set_new(x, "from", address_or_null(f->from));
        json_object_set_new(x, "from_text", f->from_text ? json_string(f->from_text) : json_null());
        json_object_set_new(x, "to", addresses(f->to));
        json_object_set_new(x, "cc", addresses(f->cc));
        json_object_set_new(x, "subject", f->subject ? json_string(f->subject) : json_null());
        json_object_set_new(x, "date", cli_time_json(f->date));
        json_object_set_new(x, "date_text", f->date_text ? json_string(f->date_text) : json_null());
        json_object_set_new(x, "comment_lines", json_integer(f->comment_lines));
        json_object_set_new(x, "nested", json_integer(f->nested));
        json_array_append_new(fw, x);
    }
    json_object_set_new(o, "forwards", fw);
    json_t *scan = json_array();
    for (guint i = 0; i < m->scan->len; i++)
        json_array_append_new(scan, json_string(m->scan->pdata[i]));
    json_object_set_new(o, "scan", scan);
    json_t *atts = json_array();
    for (guint i = 0; i < m->attachments->len; i++) {
        ClAttachment *a = m->attachments->pdata[i];
        json_t *x = json_object();
        json_object_set_new(x, "name", json_string(a->filename));
        json_object_set_new(x, "content_type", json_string(a->content_type));
        json_array_append_new(atts, x);
    }
    json_object_set_new(o, "attachments", atts);
    return json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

int
cmd_inspect(int argc, char **argv)
{
    if (!cli_parse("inspect", "PATH...",
                   "Shows what contactlog reads in mail (.eml, mbox, Maildir): sender, "
                   "recipients,\nsubject, forwarded originals and the addresses of the "
                   "whole-message scan.\nOne JSON line per message; stores nothing.",
                   NULL, false, false, &argc, &argv))
        return EXIT_USAGE;
    if (argc < 2)
        return cli_usage("inspect", "name at least one file or folder");
    cl_parse_init();
    g_autoptr(ClIntakeList) items = cl_intake_list_new();
    gint64 total = 0;
    int status = EXIT_OK;
    for (int i = 1; i < argc; i++) {
        g_autoptr(GError) error = NULL;
        if (!cl_intake_list_add(items, argv[i], &total, &error)) {
            fprintf(stderr, "contactlog inspect: %s\n", error->message);
            status = cli_exit_status(error);
        }
    }
    for (guint i = 0; i < cl_intake_list_length(items); i++) {
        const ClIntakeItem *it = cl_intake_list_get(items, i);
        g_autofree char *path = cl_intake_item_path(it);
        g_autofree char *origin = cl_intake_item_origin(it);
        g_autoptr(GError) error = NULL;
        g_autoptr(ClRawMessage) raw =
            cl_intake_open(path, it->offset, it->length, G_MAXINT64, origin, &error);
        g_autoptr(ClMessage) m =
            raw ? cl_parse_message_fd(raw->fd, raw->offset, raw->stored, &error) : NULL;
        if (m == NULL) {
            g_autoptr(json_t) o = json_pack("{s:s, s:s}", "origin", origin, "error",
                                            error->message);
            g_autofree char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
            printf("%s\n", line);
            if (status == EXIT_OK)
                status = error->code == CL_ERROR_INVALID ? EXIT_DATAERR : EXIT_TEMPFAIL;
            continue;
        }
        g_autofree char *line = message_json(origin, m);
        printf("%s\n", line);
    }
    return status;
}
