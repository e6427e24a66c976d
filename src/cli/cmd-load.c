/*
 * cmd-load.c — `contactlog load FILE.json...` and `contactlog config --defaults`.
 */
#include <jansson.h>
#include <stdio.h>

#include "cli.h"

int
cmd_load(int argc, char **argv)
{
    if (!cli_parse("load", "FILE.json...",
                   "Creates or updates tenants, users, companies, contact persons, leads and "
                   "projects\nfrom master-data files (format: masterdata.example.json). Loading "
                   "the same file twice changes nothing.",
                   NULL, false, true, &argc, &argv))
        return EXIT_USAGE;
    if (argc < 2)
        return cli_usage("load", "name a master-data file");
    for (int i = 1; i < argc; i++) {
        if (!g_file_test(argv[i], G_FILE_TEST_EXISTS)) {
            fprintf(stderr, "contactlog load: %s: no such file\n", argv[i]);
            return EXIT_NOINPUT;
        }
        if (!g_file_test(argv[i], G_FILE_TEST_IS_REGULAR)) {
            fprintf(stderr, "contactlog load: %s is not a file\n", argv[i]);
            return EXIT_NOINPUT;
        }
    }
    g_autoptr(GError) error = NULL;
    g_autoptr(ClConfig) config = cli_config("load", &error);
    if (config == NULL)
        return cli_fail("load", error);
    g_autoptr(ClStore) store = cli_open_store(config, true, &error);
    if (store == NULL)
        return cli_fail("load", error);
    for (int i = 1; i < argc; i++) {
        ClLoadStats stats;
        if (!cl_store_load_masterdata(store, argv[i], &stats, &error))
            return cli_fail("load", error);
        if (cli_common.json) {
            json_t *o = json_pack("{s:s, s:i, s:i, s:i}", "file", argv[i], "created",
                                  (int)stats.created, "updated", (int)stats.updated,
                                  "unchanged", (int)stats.unchanged);
            g_autofree char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
            json_decref(o);
            printf("%s\n", line);
        } else
            printf("%s: %u created, %u updated, %u unchanged\n", argv[i], stats.created,
                   stats.updated, stats.unchanged);
    }
    return EXIT_OK;
}

int
cmd_config(int argc, char **argv)
{
    gboolean defaults = FALSE;
    GOptionEntry entries[] = {
        { "defaults", 0, 0, G_OPTION_ARG_NONE, &defaults, "print the keys with their defaults",
          NULL },
        { NULL },
    };
    if (!cli_parse("config", "--defaults",
                   "Prints the configuration keys (contactlog.conf) with defaults and help.",
                   entries, false, false, &argc, &argv))
        return EXIT_USAGE;
    if (!defaults || argc > 1)
        return cli_usage("config", "use --defaults");
    g_autofree char *text = cl_config_defaults_text();
    fputs(text, stdout);
    return EXIT_OK;
}
