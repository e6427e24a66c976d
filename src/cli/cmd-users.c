/*
 * cmd-users.c — what an administrator does for the HTTP API from the shell:
 * set a user's password, make a personal API token for a script or an
 * integration, and rebuild the search index of an older data directory.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* The user named by --user (a key or an address), in --tenant when given. */
static ClUser *
user_of(ClStore *store, const char *name, const char *key, int *status)
{
    g_autoptr(GError) error = NULL;
    gint64 tenant_id = 0;
    if (!cli_tenant_id(store, &tenant_id, &error)) {
        *status = cli_fail(name, error);
        return NULL;
    }
    g_autoptr(ClItem) item = cl_store_find(store, CL_ITEM_USER, tenant_id, key, &error);
    ClUser *user = item ? cl_store_user_get(store, item->tenant_id, item->id, &error) : NULL;
    if (user == NULL)
        *status = cli_fail(name, error);
    return user;
}

int
cmd_passwd(int argc, char **argv)
{
    g_autofree char *key = NULL;
    GOptionEntry entries[] = {
        { "user", 'u', 0, G_OPTION_ARG_STRING, &key, "the user (key or address)", "USER" },
        { NULL },
    };
    if (!cli_parse("passwd", "--user USER < PASSWORD",
                   "Sets a user's password for the web UI and the API, read from the first line\n"
                   "of standard input (never from the command line). Ends the user's sessions and\n"
                   "revokes their API tokens.",
                   entries, true, false, &argc, &argv))
        return EXIT_USAGE;
    if (key == NULL)
        return cli_usage("passwd", "name the user with --user");
    if (argc > 1)
        return cli_usage("passwd", "unexpected argument \"%s\"", argv[1]);
    char line[1100];
    if (fgets(line, sizeof line, stdin) == NULL)
        return cli_usage("passwd", "give the password on standard input");
    line[strcspn(line, "\r\n")] = '\0';
    if (g_utf8_strlen(line, -1) < 8 || !g_utf8_validate(line, -1, NULL))
        return cli_usage("passwd", "the password must have 8 characters or more");
    g_autoptr(GError) error = NULL;
    g_autoptr(ClConfig) config = cli_config("passwd", &error);
    g_autoptr(ClStore) store = config ? cli_open_store(config, false, &error) : NULL;
    if (store == NULL)
        return cli_fail("passwd", error);
    int status = EXIT_OK;
    g_autoptr(ClUser) user = user_of(store, "passwd", key, &status);
    if (user == NULL)
        return status;
    g_autofree char *hash = cl_password_hash(line, &error);
    memset(line, 0, sizeof line);
    bool ok = hash != NULL && cl_store_begin(store, &error) &&
              cl_store_user_set_password(store, user->tenant_id, user->id, hash, NULL, &error);
    if (!ok || !cl_store_commit(store, &error)) {
        cl_store_rollback(store);
        return cli_fail("passwd", error);
    }
    fprintf(stderr, "contactlog passwd: the password of %s (%s) is set\n", user->key,
            user->tenant_key);
    return EXIT_OK;
}

int
cmd_token(int argc, char **argv)
{
    g_autofree char *key = NULL, *label = NULL;
    gint days = 0;
    GOptionEntry entries[] = {
        { "user", 'u', 0, G_OPTION_ARG_STRING, &key, "the user (key or address)", "USER" },
        { "name", 0, 0, G_OPTION_ARG_STRING, &label, "what the token is for", "NAME" },
        { "expires-days", 0, 0, G_OPTION_ARG_INT, &days, "valid for N days (default: until "
          "deleted)", "N" },
        { NULL },
    };
    if (!cli_parse("token", "--user USER --name NAME",
                   "Makes a personal API token of a user (Authorization: Bearer TOKEN) and prints\n"
                   "it once on standard output; only its hash is kept.",
                   entries, true, false, &argc, &argv))
        return EXIT_USAGE;
    if (key == NULL || label == NULL || *label == '\0')
        return cli_usage("token", "name the user with --user and the token with --name");
    if (days < 0 || days > 3650)
        return cli_usage("token", "--expires-days must be from 1 to 3650");
    if (argc > 1)
        return cli_usage("token", "unexpected argument \"%s\"", argv[1]);
    g_autoptr(GError) error = NULL;
    g_autoptr(ClConfig) config = cli_config("token", &error);
    g_autoptr(ClStore) store = config ? cli_open_store(config, false, &error) : NULL;
    if (store == NULL)
        return cli_fail("token", error);
    int status = EXIT_OK;
    g_autoptr(ClUser) user = user_of(store, "token", key, &status);
    if (user == NULL)
        return status;
    g_autofree char *secret = cl_random_token(32);
    g_autofree char *token = g_strconcat("clt_", secret, NULL);
    char hash[CL_HASH_HEX_LEN];
    cl_secret_hash(token, hash);
    g_autofree char *prefix = g_strndup(token, 10);
    gint64 expires = days > 0 ? g_get_real_time() / G_USEC_PER_SEC + (gint64)days * 86400 : 0;
    bool ok = cl_store_begin(store, &error) &&
              cl_store_token_create(store, user, label, hash, prefix, expires, &error) > 0;
    if (!ok || !cl_store_commit(store, &error)) {
        cl_store_rollback(store);
        return cli_fail("token", error);
    }
    printf("%s\n", token);
    return EXIT_OK;
}

int
cmd_reindex(int argc, char **argv)
{
    GOptionEntry entries[] = { { NULL } };
    if (!cli_parse("reindex", "",
                   "Rebuilds the search index and the previews of every entry (for data made by\n"
                   "contactlog before 0.2; the text of captured mail is read from its original).",
                   entries, false, false, &argc, &argv))
        return EXIT_USAGE;
    if (argc > 1)
        return cli_usage("reindex", "unexpected argument \"%s\"", argv[1]);
    g_autoptr(GError) error = NULL;
    g_autoptr(ClConfig) config = cli_config("reindex", &error);
    g_autoptr(ClStore) store = config ? cli_open_store(config, false, &error) : NULL;
    if (store == NULL)
        return cli_fail("reindex", error);
    guint count = 0;
    if (!cl_store_reindex(store, cl_pipeline_index_text, NULL, &count, &error))
        return cli_fail("reindex", error);
    fprintf(stderr, "contactlog reindex: %u entries indexed\n", count);
    return EXIT_OK;
}
