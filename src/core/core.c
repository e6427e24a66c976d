/*
 * core.c — shared helpers: error domain, address folding, reasons, envelopes,
 * spooled raw messages, CRM directory items.
 */
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

G_DEFINE_QUARK(contactlog-error-quark, cl_error)

const char *
cl_error_code_name(ClErrorCode code)
{
    static const char *names[] = {
        [CL_ERROR_TEMPFAIL] = "tempfail", [CL_ERROR_INVALID] = "invalid",
        [CL_ERROR_TOO_LARGE] = "too-large", [CL_ERROR_NOT_FOUND] = "not-found",
        [CL_ERROR_CONFLICT] = "conflict", [CL_ERROR_FORBIDDEN] = "forbidden",
        [CL_ERROR_CONFIG] = "config", [CL_ERROR_INTERNAL] = "internal",
    };
    if ((unsigned)code < G_N_ELEMENTS(names))
        return names[code];
    return "unknown";
}

static bool
ascii_only(const char *s)
{
    for (; *s; s++)
        if ((guchar)*s >= 0x80)
            return false;
    return true;
}

/* RFC 5322 atext: what a dot-atom's words are made of (8-bit: RFC 6532). */
static bool
atext(unsigned char c)
{
    return g_ascii_isalnum(c) || c >= 0x80 || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/*
 * "a.b"@d is the mailbox a.b@d (RFC 5321 §4.1.2: a quoted local part that is a
 * dot-atom is the same): the quotes go, in place, so that one mailbox has one
 * folded form whichever way it was written.
 */
static void
unquote_local_part(char *address)
{
    if (address[0] != '"')
        return; /* nearly every address */
    char *at = strrchr(address, '@');
    if (at == NULL || at - address < 3 || at[-1] != '"')
        return;
    const char *word = address + 1, *end = at - 1;
    for (const char *p = word; p < end; p++) {
        bool dot = *p == '.';
        if (dot ? p == word || p + 1 == end || p[1] == '.' : !atext((unsigned char)*p))
            return; /* not a dot-atom: the quotes are part of the mailbox */
    }
    memmove(address, word, (size_t)(end - word));
    memmove(address + (end - word), at, strlen(at) + 1);
}

char *
cl_address_fold(const char *address)
{
    if (address == NULL || !g_utf8_validate(address, -1, NULL))
        return NULL;
    g_autofree char *trimmed = g_strstrip(g_strdup(address));
    unquote_local_part(trimmed);
    if (ascii_only(trimmed))
        return g_ascii_strdown(trimmed, -1); /* NFC and case folding of ASCII */
    g_autofree char *nfc = g_utf8_normalize(trimmed, -1, G_NORMALIZE_DEFAULT_COMPOSE);
    if (nfc == NULL)
        return NULL;
    return g_utf8_casefold(nfc, -1);
}

char *
cl_address_domain(const char *address)
{
    if (address == NULL)
        return NULL;
    const char *at = strrchr(address, '@');
    if (at == NULL || at[1] == '\0')
        return NULL;
    return cl_address_fold(at + 1);
}

char *
cl_text_fold(const char *text)
{
    if (text == NULL || ascii_only(text))
        return g_ascii_strdown(text ? text : "", -1);
    g_autofree char *nfc = g_utf8_normalize(text ? text : "", -1, G_NORMALIZE_DEFAULT_COMPOSE);
    return g_utf8_casefold(nfc ? nfc : "", -1);
}

char *
cl_text_fold_search(const char *text)
{
    if (text == NULL || ascii_only(text))
        return g_ascii_strdown(text ? text : "", -1);
    g_autofree char *nfd = g_utf8_normalize(text, -1, G_NORMALIZE_DEFAULT);
    if (nfd == NULL)
        return NULL;
    GString *bare = g_string_sized_new(strlen(nfd));
    for (const char *p = nfd; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        if (c == 0x131) /* the dotless ı (Yılmaz): people type an i */
            g_string_append_c(bare, 'i');
        else if (!g_unichar_ismark(c))
            g_string_append_unichar(bare, c);
    }
    g_autofree char *text_bare = g_string_free(bare, FALSE);
    return g_utf8_casefold(text_bare, -1);
}

char *
cl_text_fold_spelled(const char *text, bool *changed)
{
    if (changed != NULL)
        *changed = false;
    if (text == NULL || ascii_only(text))
        return g_ascii_strdown(text ? text : "", -1);
    g_autofree char *nfc = g_utf8_normalize(text, -1, G_NORMALIZE_DEFAULT_COMPOSE);
    if (nfc == NULL)
        return NULL;
    GString *out = g_string_sized_new(strlen(nfc) + 8);
    for (const char *p = nfc; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_unichar_tolower(g_utf8_get_char(p));
        const char *spelled = c == 0xe4 ? "ae" : c == 0xf6 ? "oe" : c == 0xfc ? "ue"
                            : (c == 0xdf || c == 0x1e9e) ? "ss" : c == 0x131 ? "i" : NULL;
        if (spelled != NULL) {
            g_string_append(out, spelled);
            if (changed != NULL)
                *changed = true;
        } else {
            g_string_append_unichar(out, c);
        }
    }
    g_autofree char *plain = g_string_free(out, FALSE);
    return cl_text_fold_search(plain);
}

GStrv
cl_text_words(const char *folded, guint max)
{
    GPtrArray *words = g_ptr_array_new();
    const char *p = folded ? folded : "";
    while (*p && words->len < max) {
        while (*p && !g_unichar_isalnum(g_utf8_get_char(p)))
            p = g_utf8_next_char(p);
        const char *start = p;
        while (*p && g_unichar_isalnum(g_utf8_get_char(p)))
            p = g_utf8_next_char(p);
        if (p > start)
            g_ptr_array_add(words, g_strndup(start, p - start));
    }
    g_ptr_array_add(words, NULL);
    return (GStrv)g_ptr_array_free(words, FALSE);
}

char *
cl_text_name_key(const char *name)
{
    g_autofree char *folded = cl_text_fold(name);
    g_auto(GStrv) words = cl_text_words(folded, G_MAXUINT);
    return words[0] ? g_strjoinv(" ", words) : NULL;
}

void
cl_hash_hex(const void *data, gsize len, char out[CL_HASH_HEX_LEN])
{
    unsigned char digest[32];
    if (sodium_init() < 0)
        g_error("libsodium cannot start");
    crypto_generichash(digest, sizeof digest, data, len, NULL, 0);
    sodium_bin2hex(out, CL_HASH_HEX_LEN, digest, sizeof digest);
}

char *
cl_password_hash(const char *password, GError **error)
{
    char hash[crypto_pwhash_STRBYTES];
    if (sodium_init() < 0 ||
        crypto_pwhash_str(hash, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "out of memory hashing a password");
        return NULL;
    }
    return g_strdup(hash);
}

bool
cl_password_verify(const char *hash, const char *password)
{
    if (hash == NULL || password == NULL || sodium_init() < 0)
        return false;
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

char *
cl_random_token(gsize bytes)
{
    if (sodium_init() < 0)
        g_error("libsodium cannot start");
    g_autofree guint8 *buf = g_malloc(bytes);
    randombytes_buf(buf, bytes);
    gsize len = sodium_base64_ENCODED_LEN(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = g_malloc(len);
    sodium_bin2base64(out, len, buf, bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

ClReason *
cl_reason_new(const char *field, const char *rule, const char *detail)
{
    ClReason *r = g_new0(ClReason, 1);
    r->field = g_strdup(field);
    r->rule = g_strdup(rule);
    r->detail = g_strdup(detail);
    return r;
}

void
cl_reason_free(ClReason *reason)
{
    if (reason == NULL)
        return;
    g_free(reason->field);
    g_free(reason->rule);
    g_free(reason->detail);
    g_free(reason);
}

ClEnvelope *
cl_envelope_new(void)
{
    ClEnvelope *env = g_new0(ClEnvelope, 1);
    env->rcpts = g_ptr_array_new_with_free_func(g_free);
    return env;
}

void
cl_envelope_free(ClEnvelope *env)
{
    if (env == NULL)
        return;
    g_free(env->sender);
    g_ptr_array_unref(env->rcpts);
    g_free(env);
}

bool
cl_raw_message_too_large(const ClRawMessage *raw)
{
    return raw->size > raw->stored;
}

bool
cl_raw_message_load(ClRawMessage *raw, GError **error)
{
    if (raw->data != NULL) {
        /* Received into memory (LMTP): hashed here, on the parse thread. */
        if (raw->hash[0] == '\0')
            cl_hash_hex(raw->data->data, raw->data->len, raw->hash);
        return true;
    }
    if (raw->stored <= 0 || raw->stored > CL_MAP_MAX_BYTES)
        return true;
    GByteArray *data = g_byte_array_sized_new(raw->stored);
    g_byte_array_set_size(data, raw->stored);
    for (gint64 done = 0; done < raw->stored;) {
        ssize_t n = pread(raw->fd, data->data + done, raw->stored - done, raw->offset + done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "cannot read %s: %s", raw->origin,
                        n == 0 ? "the file got shorter" : g_strerror(errno));
            g_byte_array_unref(data);
            return false;
        }
        done += n;
    }
    cl_hash_hex(data->data, data->len, raw->hash);
    raw->data = data;
    return true;
}

void
cl_raw_message_free(ClRawMessage *raw)
{
    if (raw == NULL)
        return;
    if (raw->data != NULL)
        g_byte_array_unref(raw->data);
    if (raw->fd >= 0)
        close(raw->fd);
    /* The store keeps its own copy: a spool file is only a working copy. */
    if (raw->spool_path != NULL && unlink(raw->spool_path) != 0 && errno != ENOENT)
        g_warning("spool unlink-failed path=%s error=%s", raw->spool_path, g_strerror(errno));
    g_free(raw->spool_path);
    g_free(raw->origin);
    g_free(raw);
}

ClItem *
cl_item_new(ClItemKind kind, gint64 id, gint64 tenant_id, const char *key)
{
    ClItem *item = g_new0(ClItem, 1);
    item->kind = kind;
    item->id = id;
    item->tenant_id = tenant_id;
    item->key = g_strdup(key);
    return item;
}

ClItem *
cl_item_copy(const ClItem *item)
{
    ClItem *c = cl_item_new(item->kind, item->id, item->tenant_id, item->key);
    c->name = g_strdup(item->name);
    c->company_id = item->company_id;
    c->company_key = g_strdup(item->company_key);
    c->tenant_key = g_strdup(item->tenant_key);
    return c;
}

void
cl_item_free(ClItem *item)
{
    if (item == NULL)
        return;
    g_free(item->key);
    g_free(item->name);
    g_free(item->company_key);
    g_free(item->tenant_key);
    g_free(item);
}

const char *
cl_item_kind_name(ClItemKind kind)
{
    static const char *names[] = {
        [CL_ITEM_TENANT] = "tenant", [CL_ITEM_USER] = "user", [CL_ITEM_COMPANY] = "company",
        [CL_ITEM_CONTACT] = "contact", [CL_ITEM_LEAD] = "lead", [CL_ITEM_PROJECT] = "project",
    };
    return (unsigned)kind < G_N_ELEMENTS(names) ? names[kind] : "unknown";
}

bool
cl_set_add(GHashTable *set, char *key)
{
    /* g_hash_table_insert() keeps the key already stored and frees the new one. */
    return key != NULL && g_hash_table_insert(set, key, NULL);
}

int
cl_item_kind_parse(const char *name)
{
    for (int k = CL_ITEM_TENANT; k <= CL_ITEM_PROJECT; k++)
        if (g_strcmp0(name, cl_item_kind_name(k)) == 0)
            return k;
    return -1;
}

void
cl_thread_ref_clear(ClThreadRef *ref)
{
    g_clear_pointer(&ref->message_id, g_free);
    g_clear_pointer(&ref->company, cl_item_free);
    g_clear_pointer(&ref->lead, cl_item_free);
    g_clear_pointer(&ref->project, cl_item_free);
    ref->entry_id = 0;
}

/* Folded reply and forward prefixes of the mail programs (DESIGN §2 rule 5). */
static const struct {
    const char *word;
    bool forward;
} subject_prefixes[] = {
    { "re", false },     { "aw", false },    { "antw", false },  { "antwort", false },
    { "sv", false },     { "odp", false },   { "ynt", false },   { "rif", false },
    { "r", false },      { "ref", false },   { "réf", false },   { "res", false },
    { "fwd", true },     { "fw", true },     { "wg", true },     { "tr", true },
    { "rv", true },      { "i", true },      { "vs", true },     { "vb", true },
    { "vl", true },      { "doorst", true }, { "enc", true },    { "pd", true },
    { "i̇lt", true },     { "ilt", true },    { "wtr", true },    { "fs", true },
};

char *
cl_subject_strip(const char *subject, ClSubjectKind *kind_out)
{
    ClSubjectKind dummy;
    ClSubjectKind *kind = kind_out ? kind_out : &dummy;
    *kind = CL_SUBJECT_PLAIN;
    g_autofree char *copy = g_strdup(subject ? subject : "");
    char *p = copy;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        /* Netscape's "[Fwd: Subject]": the brackets go with the prefix. */
        gsize n = strlen(p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (*p == '[' && n > 2 && p[n - 1] == ']') {
            g_autofree char *inner = g_strndup(p + 1, n - 2);
            ClSubjectKind inner_kind = CL_SUBJECT_PLAIN;
            g_autofree char *rest = cl_subject_strip(inner, &inner_kind);
            if (strcmp(rest, inner) != 0) {
                if (*kind == CL_SUBJECT_PLAIN)
                    *kind = inner_kind;
                memmove(p, rest, strlen(rest) + 1);
                continue;
            }
        }
        /* A word of letters, an optional counter, then ':' (or the full-width one). */
        const char *w = p;
        while (*w && g_unichar_isalpha(g_utf8_get_char(w)))
            w = g_utf8_next_char(w);
        if (w == p || w - p > 8)
            break;
        const char *q = w;
        if (*q == '[' || *q == '(') {
            char close = *q == '[' ? ']' : ')';
            q++;
            while (g_ascii_isdigit(*q))
                q++;
            if (*q != close)
                break;
            q++;
        }
        while (*q == ' ')
            q++;
        gsize colon = *q == ':' ? 1 : g_str_has_prefix(q, "\xef\xbc\x9a") ? 3 : 0;
        if (colon == 0)
            break;
        g_autofree char *word = g_utf8_casefold(p, w - p);
        bool known = false;
        for (gsize i = 0; i < G_N_ELEMENTS(subject_prefixes) && !known; i++)
            if (strcmp(word, subject_prefixes[i].word) == 0) {
                known = true;
                if (*kind == CL_SUBJECT_PLAIN)
                    *kind = subject_prefixes[i].forward ? CL_SUBJECT_FORWARD : CL_SUBJECT_REPLY;
            }
        if (!known)
            break;
        p = (char *)q + colon;
    }
    return g_strdup(p);
}

GPtrArray *
cl_item_array_new(void)
{
    return g_ptr_array_new_with_free_func((GDestroyNotify)cl_item_free);
}

int
cl_data_dir_hold(const char *dir, bool exclusive)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

GDateTime *
cl_time_parse(const char *text, GTimeZone *tz)
{
    /* GLib wants the seconds: "HH:MM" before the end or the zone gets ":00". */
    g_autofree char *iso = g_strdup(text);
    gsize len = strlen(iso);
    if (len > 10 && iso[10] == ' ')
        iso[10] = 'T';
    if (len >= 16 && iso[10] == 'T' && g_ascii_isdigit(iso[11]) && g_ascii_isdigit(iso[12]) &&
        iso[13] == ':' && g_ascii_isdigit(iso[14]) && g_ascii_isdigit(iso[15]) &&
        (iso[16] == '\0' || strchr("Zz+-", iso[16]) != NULL)) {
        char *with_seconds = g_strdup_printf("%.16s:00%s", iso, iso + 16);
        g_free(iso);
        iso = with_seconds;
    }
    return g_date_time_new_from_iso8601(iso, tz);
}
