/*
 * main.c — the `contactlog` command table (DESIGN §5).
 */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const ClCommand commands[] = {
    { "load", "FILE.json...", "create or update tenants, users and CRM records from master data",
      cmd_load },
    { "deliver", "[--recipient ADDR] [--sender ADDR] < MESSAGE",
      "capture one mail from standard input (for MTA pipe transports)", cmd_deliver },
    { "import", "PATH...", "capture .eml files, mbox files and Maildir folders", cmd_import },
    { "inbox", "--user KEY_OR_ADDRESS", "a user's review inbox (Meine Kontakthistorie)", cmd_inbox },
    { "history", "--company KEY | --lead NUMBER | --project KEY | --user KEY",
      "the saved contact history, newest first", cmd_history },
    { "show", "ID", "one entry with text, addresses, attachments and reasons", cmd_show },
    { "confirm", "ID [--company K] [--contact K] [--lead N | --project K]",
      "review: save a pending entry, optionally changing its assignment", cmd_confirm },
    { "add", "--user KEY --channel CHANNEL --subject TEXT [...]",
      "record a call, meeting, letter or other contact by hand", cmd_add },
    { "serve", "[--lmtp ADDR] [--smtp ADDR] [--http ADDR]",
      "receive mail over LMTP/SMTP; serve the HTTP API and the web UI", cmd_serve },
    { "fetch", "--url imaps://HOST/MAILBOX --user NAME [--interval SECONDS]",
      "poll an IMAP mailbox (Microsoft 365, Google, any server) and capture its mail", cmd_fetch },
    { "rejected", "", "mail that was refused, and why", cmd_rejected },
    { "passwd", "--user KEY < PASSWORD", "set a user's password for the web UI and the API",
      cmd_passwd },
    { "token", "--user KEY --name NAME", "make a personal API token for a script or integration",
      cmd_token },
    { "reindex", "", "rebuild the search index (data of older versions)", cmd_reindex },
    { "inspect", "PATH...", "what contactlog reads in mail: sender, forwards, addresses",
      cmd_inspect },
    { "demo", "", "create a demo agency, capture sample mails and show the result", cmd_demo },
    { "config", "--defaults", "print the configuration keys and their defaults", cmd_config },
};

static void
print_help(FILE *out)
{
    fprintf(out, "contactlog %s — the contact history (Kontakthistorie) of a CRM, fed by e-mail\n\n"
                 "Usage: contactlog COMMAND [OPTIONS]\n\nCommands:\n",
            CL_VERSION_STRING);
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nEvery command takes --data-dir DIR (default: $CONTACTLOG_DATA_DIR, else "
                 "./contactlog-data)\nand --help. `contactlog --version` prints the version.\n");
}

int
main(int argc, char **argv)
{
    setlocale(LC_ALL, "");
    cli_program = argv[0];
    if (argc < 2) {
        print_help(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        print_help(stdout);
        return EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
        printf("contactlog %s\n", CL_VERSION_STRING);
        return EXIT_OK;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
        if (strcmp(commands[i].name, name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "contactlog: unknown command \"%s\" (see contactlog --help)\n", name);
    return EXIT_USAGE;
}
