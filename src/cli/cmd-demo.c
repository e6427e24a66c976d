/*
 * cmd-demo.c — `contactlog demo`: a demo agency (Nordlicht Kommunikation GmbH),
 * sample mails delivered one by one as an MTA would (drop address as envelope
 * recipient), then every user's review inbox and a summary. The master data
 * and the mails are compiled into the binary (demo/ in the source tree).
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "intake/intake.h"

#define DEMO_MARKER ".contactlog-demo"
#define DROP_ADDRESS "crm@contactlog.example"

static bool
remove_tree(const char *path)
{
    g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
    if (dir != NULL) {
        const char *name;
        while ((name = g_dir_read_name(dir)) != NULL) {
            g_autofree char *child = g_build_filename(path, name, NULL);
            if (!remove_tree(child))
                return false;
        }
    }
    return g_remove(path) == 0 || errno == ENOENT;
}

/* Only a directory the demo made itself (or a new one) is wiped. */
static bool
prepare_dir(const char *dir, GError **error)
{
    g_autofree char *marker = g_build_filename(dir, DEMO_MARKER, NULL);
    g_autofree char *db = g_build_filename(dir, "contactlog.db", NULL);
    if (g_file_test(db, G_FILE_TEST_EXISTS) && !g_file_test(marker, G_FILE_TEST_EXISTS)) {
        g_set_error(error, CL_ERROR, CL_ERROR_CONFIG,
                    "%s holds data that the demo did not create; name another --data-dir", dir);
        return false;
    }
    if (g_file_test(dir, G_FILE_TEST_IS_DIR) && !remove_tree(dir)) {
        g_set_error(error, CL_ERROR, CL_ERROR_CONFIG, "cannot clear %s: %s", dir,
                    g_strerror(errno));
        return false;
    }
    if (g_mkdir_with_parents(dir, 0750) != 0 ||
        !g_file_set_contents(marker, "created by contactlog demo\n", -1, error)) {
        if (error && *error == NULL)
            g_set_error(error, CL_ERROR, CL_ERROR_CONFIG, "cannot create %s", dir);
        return false;
    }
    return true;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool
write_resource(const char *resource, const char *path, GError **error)
{
    g_autoptr(GBytes) bytes = g_resources_lookup_data(resource, G_RESOURCE_LOOKUP_FLAGS_NONE,
                                                      error);
    if (bytes == NULL)
        return false;
    gsize len;
    const char *data = g_bytes_get_data(bytes, &len);
    return g_file_set_contents(path, data, len, error);
}

int
cmd_demo(int argc, char **argv)
{
    if (!cli_parse("demo", "",
                   "Creates a demo agency in the data directory (default here: "
                   "./contactlog-demo), delivers\nsample mails and prints every user's review "
                   "inbox and what was accepted or rejected and why.\nA directory with data the "
                   "demo did not create is never touched.",
                   NULL, false, false, &argc, &argv))
        return EXIT_USAGE;
    if (argc > 1)
        return cli_usage("demo", "unexpected argument \"%s\"", argv[1]);
    if (cli_common.data_dir == NULL && g_getenv("CONTACTLOG_DATA_DIR") == NULL)
        cli_common.data_dir = g_strdup("contactlog-demo");
    g_autoptr(GError) error = NULL;
    g_autoptr(ClConfig) config = cli_config("demo", &error);
    if (config == NULL || !prepare_dir(config->data_dir, &error))
        return cli_fail("demo", error);
    g_autoptr(ClStore) store = cli_open_store(config, true, &error);
    if (store == NULL)
        return cli_fail("demo", error);

    g_autofree char *md = g_build_filename(config->data_dir, "demo-masterdata.json", NULL);
    ClLoadStats stats;
    if (!write_resource("/contactlog/demo/masterdata.json", md, &error) ||
        !cl_store_load_masterdata(store, md, &stats, &error))
        return cli_fail("demo", error);
    printf("== Demo data in %s\n   master data: %u records (Nordlicht Kommunikation GmbH and "
           "Hafenblick Design)\n\n",
           config->data_dir, stats.created);

    g_autofree char *mail_dir = g_build_filename(config->data_dir, "sample-mail", NULL);
    g_mkdir_with_parents(mail_dir, 0750);
    g_auto(GStrv) names = g_resources_enumerate_children("/contactlog/demo/mail",
                                                         G_RESOURCE_LOOKUP_FLAGS_NONE, &error);
    if (names == NULL)
        return cli_fail("demo", error);
    qsort(names, g_strv_length(names), sizeof(char *), cmp_names);

    g_autoptr(ClPipeline) pipeline = cl_pipeline_new(store, config);
    g_autoptr(ClEnvelope) env = cl_envelope_new();
    g_ptr_array_add(env->rcpts, g_strdup(DROP_ADDRESS));
    guint accepted = 0, rejected = 0;
    GString *rejections = g_string_new(NULL);
    printf("== Delivering %u sample mails to %s (as `contactlog deliver` would)\n\n",
           g_strv_length(names), DROP_ADDRESS);
    for (gsize i = 0; names[i]; i++) {
        g_autofree char *res = g_strdup_printf("/contactlog/demo/mail/%s", names[i]);
        g_autofree char *path = g_build_filename(mail_dir, names[i], NULL);
        if (!write_resource(res, path, &error))
            return cli_fail("demo", error);
        g_autoptr(ClRawMessage) raw =
            cl_intake_open(path, 0, -1, config->max_message_bytes, names[i], &error);
        g_autoptr(ClResult) r = raw ? cl_pipeline_process(pipeline, raw, env, &error) : NULL;
        if (r == NULL)
            return cli_fail("demo", error);
        g_autofree char *line = cli_result_line(r, NULL);
        printf("%s\n  %s\n", names[i], line);
        if (r->status == CL_RESULT_REJECTED) {
            rejected++;
            g_string_append_printf(rejections, "  %-32s %-16s %s\n", names[i], r->reason,
                                   r->message);
        } else {
            accepted++;
        }
    }

    g_autoptr(GPtrArray) users = cl_store_users_list(store, 0, &error);
    if (users == NULL)
        return cli_fail("demo", error);
    for (guint i = 0; i < users->len; i++) {
        ClItem *u = g_ptr_array_index(users, i);
        ClEntryQuery q = { .tenant_id = u->tenant_id, .author_id = u->id, .limit = 100 };
        g_autoptr(GPtrArray) list = cl_store_entries_list(store, &q, &error);
        if (list == NULL)
            return cli_fail("demo", error);
        printf("\n== Meine Kontakthistorie: %s (%s, tenant %s) — %u to review\n\n", u->name,
               u->key, u->tenant_key, list->len);
        for (guint j = 0; j < list->len; j++) {
            cli_entry_print(g_ptr_array_index(list, j), false);
            printf("\n");
        }
    }
    printf("== Summary: %u accepted for review, %u rejected\n%s", accepted, rejected,
           rejections->str);
    g_string_free(rejections, TRUE);
    const char *self = cli_program;
    printf("\nTry:  %s inbox --data-dir %s --user lena\n"
           "      %s show --data-dir %s 9\n"
           "      %s confirm --data-dir %s 14 --lead 20417\n"
           "      %s history --data-dir %s --company sommer\n",
           self, config->data_dir, self, config->data_dir, self, config->data_dir, self,
           config->data_dir);
    return EXIT_OK;
}
