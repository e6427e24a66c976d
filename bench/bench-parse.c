/* bench-parse: the "bare GMime parse" ceiling for the ingest benchmark.
 *
 *   bench-parse [--quiet] PATH...
 *
 * PATH is a message file, an mbox file (detected by a leading "From " line) or a
 * directory whose regular files (not recursing, names sorted) are read as messages;
 * Maildir folders (cur/, new/) are read as well.  For every message: open the file,
 * map it (GMimeStreamMmap; GMimeStreamFs if mapping fails), parse it with
 * g_mime_parser_construct_message, walk every part (descending into multiparts and
 * message/rfc822 parts) and decode the content of every leaf part into a null stream.
 * Nothing else: no header decoding, no charset conversion, no storage.
 *
 * At the end one JSON line goes to stdout:
 *   {"name":"bare-parse","items":N,"seconds":S,"per_second":R,"bytes":B,"parts":P,
 *    "decoded_bytes":D}
 * Exit status 1 when a path cannot be read or a message fails to parse.
 */
#define _POSIX_C_SOURCE 200809L
#include <gmime/gmime.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
	guint64 items;
	guint64 parts;
	guint64 bytes;
	guint64 failures;
	GMimeStream *null;
} Stats;

static void walk (GMimeObject *obj, Stats *st);

static void
decode_leaf (GMimePart *part, Stats *st)
{
	GMimeDataWrapper *content = g_mime_part_get_content (part);

	st->parts++;
	if (content)
		g_mime_data_wrapper_write_to_stream (content, st->null);
}

static void
walk (GMimeObject *obj, Stats *st)
{
	if (GMIME_IS_MULTIPART (obj)) {
		GMimeMultipart *mp = (GMimeMultipart *) obj;
		int n = g_mime_multipart_get_count (mp);
		for (int i = 0; i < n; i++)
			walk (g_mime_multipart_get_part (mp, i), st);
	} else if (GMIME_IS_MESSAGE_PART (obj)) {
		GMimeMessage *inner = g_mime_message_part_get_message ((GMimeMessagePart *) obj);
		st->parts++;
		if (inner && inner->mime_part)
			walk (inner->mime_part, st);
	} else if (GMIME_IS_PART (obj)) {
		decode_leaf ((GMimePart *) obj, st);
	}
}

static GMimeStream *
open_stream (const char *path, gint64 *size)
{
	int fd = open (path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	GMimeStream *stream;

	if (fd < 0) {
		fprintf (stderr, "bench-parse: %s: %s\n", path, strerror (errno));
		return NULL;
	}
	if (fstat (fd, &sb) < 0) {
		fprintf (stderr, "bench-parse: %s: %s\n", path, strerror (errno));
		close (fd);
		return NULL;
	}
	*size = sb.st_size;
	stream = sb.st_size > 0 ? g_mime_stream_mmap_new (fd, PROT_READ, MAP_PRIVATE) : NULL;
	if (!stream)
		stream = g_mime_stream_fs_new (fd);  /* takes ownership of fd */
	return stream;
}

static gboolean
is_mbox (GMimeStream *stream)
{
	char buf[5];
	gboolean mbox = g_mime_stream_read (stream, buf, 5) == 5 && memcmp (buf, "From ", 5) == 0;
	g_mime_stream_reset (stream);
	return mbox;
}

static gboolean
parse_file (const char *path, Stats *st)
{
	gint64 size = 0;
	GMimeStream *stream = open_stream (path, &size);
	GMimeParser *parser;
	gboolean ok = TRUE, mbox;

	if (!stream) {
		st->failures++;
		return FALSE;
	}
	st->bytes += (guint64) size;
	mbox = is_mbox (stream);
	parser = g_mime_parser_new_with_stream (stream);
	if (mbox) {
		g_mime_parser_set_format (parser, GMIME_FORMAT_MBOX);
		while (!g_mime_parser_eos (parser)) {
			GMimeMessage *msg = g_mime_parser_construct_message (parser, NULL);
			if (!msg) {
				if (!g_mime_parser_eos (parser)) {
					fprintf (stderr, "bench-parse: %s: parse error at offset %lld\n",
						 path, (long long) g_mime_parser_tell (parser));
					st->failures++;
					ok = FALSE;
				}
				break;
			}
			st->items++;
			if (msg->mime_part)
				walk (msg->mime_part, st);
			g_object_unref (msg);
		}
	} else {
		GMimeMessage *msg = g_mime_parser_construct_message (parser, NULL);
		if (!msg) {
			fprintf (stderr, "bench-parse: %s: not a message\n", path);
			st->failures++;
			ok = FALSE;
		} else {
			st->items++;
			if (msg->mime_part)
				walk (msg->mime_part, st);
			g_object_unref (msg);
		}
	}
	g_object_unref (parser);
	g_object_unref (stream);
	return ok;
}

static int
cmp_str (const void *a, const void *b)
{
	return strcmp (*(char *const *) a, *(char *const *) b);
}

static void parse_path (const char *path, Stats *st, gboolean top);

static void
parse_dir (const char *path, Stats *st)
{
	DIR *dir = opendir (path);
	GPtrArray *names;
	struct dirent *de;

	if (!dir) {
		fprintf (stderr, "bench-parse: %s: %s\n", path, strerror (errno));
		st->failures++;
		return;
	}
	names = g_ptr_array_new_with_free_func (g_free);
	while ((de = readdir (dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		g_ptr_array_add (names, g_build_filename (path, de->d_name, NULL));
	}
	closedir (dir);
	qsort (names->pdata, names->len, sizeof (char *), cmp_str);
	for (guint i = 0; i < names->len; i++)
		parse_path (names->pdata[i], st, FALSE);
	g_ptr_array_unref (names);
}

static void
parse_path (const char *path, Stats *st, gboolean top)
{
	struct stat sb;

	if (stat (path, &sb) < 0) {
		fprintf (stderr, "bench-parse: %s: %s\n", path, strerror (errno));
		st->failures++;
		return;
	}
	if (S_ISDIR (sb.st_mode)) {
		const char *base = strrchr (path, '/');
		base = base ? base + 1 : path;
		/* the directory given, or the cur/new of a Maildir; tmp/ holds partial files */
		if (top || strcmp (base, "cur") == 0 || strcmp (base, "new") == 0)
			parse_dir (path, st);
		return;
	}
	if (S_ISREG (sb.st_mode))
		parse_file (path, st);
}

int
main (int argc, char **argv)
{
	Stats st = { 0 };
	gboolean quiet = FALSE;
	gint64 t0, t1;
	double seconds;
	int first = 1;

	if (argc > 1 && strcmp (argv[1], "--quiet") == 0) {
		quiet = TRUE;
		first = 2;
	}
	if (first >= argc || strcmp (argv[first], "--help") == 0 || strcmp (argv[first], "-h") == 0) {
		fprintf (stderr, "usage: bench-parse [--quiet] FILE|MBOX|DIR...\n");
		return first >= argc ? 2 : 0;
	}

	g_mime_init ();
	st.null = g_mime_stream_null_new ();

	t0 = g_get_monotonic_time ();
	for (int i = first; i < argc; i++)
		parse_path (argv[i], &st, TRUE);
	t1 = g_get_monotonic_time ();

	seconds = (double) (t1 - t0) / 1e6;
	if (!quiet)
		printf ("{\"name\":\"bare-parse\",\"items\":%" G_GUINT64_FORMAT ",\"seconds\":%.6f,"
			"\"per_second\":%.1f,\"bytes\":%" G_GUINT64_FORMAT ",\"parts\":%" G_GUINT64_FORMAT
			",\"decoded_bytes\":%" G_GINT64_FORMAT "}\n",
			st.items, seconds, seconds > 0 ? (double) st.items / seconds : 0.0,
			st.bytes, st.parts, GMIME_STREAM_NULL (st.null)->written);
	if (st.failures)
		fprintf (stderr, "bench-parse: %" G_GUINT64_FORMAT " failure(s)\n", st.failures);

	g_object_unref (st.null);
	g_mime_shutdown ();
	return st.failures ? 1 : 0;
}
