/* parse-private.h — cleanups for the GMime types parse/ uses (GMime 3.2 declares none). */
#pragma once

#include <gmime/gmime.h>

#include "parse.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeStream, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeParser, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeMessage, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeParserOptions, g_mime_parser_options_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeReferences, g_mime_references_free)

/* parse.c */
char *parse_clean_line(const char *text, gsize max_bytes);
void parse_address_free(ClAddress *address);
/* Appends the mailboxes of an address list (groups flattened) to out (ClAddress *). */
void parse_address_list(const char *text, GPtrArray *out);

/* forward.c */
/* The first inline forward (or quoted mail) in a body text; NULL when none. Its
 * text and nested count are made by parse_forward_complete() (same text). */
ClForward *parse_forward_find(const char *text);
void parse_forward_complete(ClForward *forward, const char *text);
void parse_forward_free(ClForward *forward);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ClForward, parse_forward_free)
/* Dates as mail programs write them in several languages; 0 when not understood.
 * *zoned_out (may be NULL): the text named a time zone; else the time was read as UTC. */
gint64 parse_loose_date(const char *text, bool *zoned_out);
/* Appends the folded addresses found in text that are not in seen (and adds them there). */
void parse_scan_addresses(const char *text, GPtrArray *out, GHashTable *seen, guint max);
