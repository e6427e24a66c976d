/*
 * cli.h — shared by the command-line front end (src/cli). The CLI is an edge:
 * it turns CL_ERROR codes into sysexits statuses through one table and prints
 * JSON with jansson.
 */
#pragma once

#include "core/core.h"
#include "pipeline/pipeline.h"
#include "store/store.h"

/* sysexits.h values, spelled out (DESIGN §5). */
enum {
    EXIT_OK = 0,
    EXIT_USAGE = 64,
    EXIT_DATAERR = 65,
    EXIT_NOINPUT = 66,
    EXIT_NOUSER = 67,
    EXIT_SOFTWARE = 70,
    EXIT_CANTCREAT = 73,
    EXIT_TEMPFAIL = 75,
    EXIT_CONFIG = 78,
};

typedef struct {
    const char *name;
    const char *args;    /* for the usage line */
    const char *summary;
    int (*run)(int argc, char **argv);
} ClCommand;

/* Options every command has; add them to a GOptionContext with cli_common_entries(). */
typedef struct {
    char *data_dir;
    char *config_file;
    char *tenant;
    gboolean json;
} CliCommon;

extern CliCommon cli_common;
extern const char *cli_program; /* argv[0], for hints */
/* name: the command (`demo` has a data directory of its own by default). */
GOptionEntry *cli_common_entries(const char *name, bool with_tenant, bool with_json);

/*
 * Parses argv for command `name` with its own entries plus the common ones.
 * On a wrong option prints one sentence and returns false (exit 64).
 */
bool cli_parse(const char *name, const char *params, const char *summary, GOptionEntry *entries,
               bool with_tenant, bool with_json, int *argc, char ***argv);

/* Prints "contactlog NAME: message" and returns the exit status for the error. */
int cli_fail(const char *name, const GError *error);
int cli_usage(const char *name, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
int cli_exit_status(const GError *error);

/* Configuration and store from the common options (--data-dir, CONTACTLOG_DATA_DIR). */
ClConfig *cli_config(const char *name, GError **error);
/* create: make the data directory when it does not exist (load, demo); else
 * CL_ERROR_NOT_FOUND. */
ClStore *cli_open_store(const ClConfig *config, bool create, GError **error);

/* Resolves --tenant to an id (0 when not given). */
bool cli_tenant_id(ClStore *store, gint64 *tenant_id, GError **error);

/* jansson's type, for the helpers below (cli/ is the only user of this header). */
typedef struct json_t json_t;
/* ISO 8601 UTC, or JSON null for 0. */
json_t *cli_time_json(gint64 t);

/* The DESIGN §5 result line, without newline; `import` adds where the message
 * came from ("origin": "box.mbox#3"), `deliver` passes NULL. */
char *cli_result_line(const ClResult *result, const char *origin);
/* {"status": "error", "reason": "tempfail", "message": …, "origin": …}: not stored. */
char *cli_error_line(const char *message, const char *origin);
/* The whole entry as JSON (show --json). */
char *cli_entry_json(ClStore *store, ClEntry *entry); /* reads the text of mail */
/* A person-readable block for an entry. */
void cli_entry_print(const ClEntry *entry, bool full);

int cmd_load(int argc, char **argv);
int cmd_deliver(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_inbox(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_confirm(int argc, char **argv);
int cmd_add(int argc, char **argv);
int cmd_rejected(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_fetch(int argc, char **argv);
int cmd_passwd(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_reindex(int argc, char **argv);
