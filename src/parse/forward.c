/*
 * forward.c — inline forwards: the header block or attribution line that a mail
 * program writes above a forwarded (or quoted) mail, in the words of many
 * languages, and the original mail below it (DESIGN §2 rule 5). Stage: parse.
 *
 * Works on the body text as parse.c extracted it (text/plain, or HTML turned
 * into text), so one reader serves both. What it recognises, in the order a
 * line is tried:
 *   - a dashed title anywhere in a line: "---------- Forwarded message ---------",
 *     "-------- Weitergeleitete Nachricht --------", "-----Original Message-----",
 *     "----- Weitergeleitete Nachricht ----- Von: … An: …" (Yahoo: the fields on
 *     the same line);
 *   - an underscore rule (Outlook: "________________________________");
 *   - a title line ending in ':' ("Begin forwarded message:", "Anfang der
 *     weitergeleiteten Nachricht:", "Début du message réexpédié :");
 *   - a header block without a title (Outlook: Von/Gesendet/An/Betreff …);
 *   - an attribution line ("Am 28.10.2021 schrieb Max <max@x.de>:").
 * Lines may be quoted with '>' and field names bold ("*From:*", from HTML).
 * Pure text work: no I/O.
 */
#include "parse-private.h"

#include <string.h>

#define MAX_LINE_BYTES 2000     /* longer lines are body text, not header fields */
#define MAX_BLOCK_LINES 40      /* lines of one header block */
#define MAX_ATTRIBUTION_BYTES 400
#define MAX_NESTED 4            /* forwards inside the forward counted, at most */
#define MAX_NESTED_BYTES (256 * 1024) /* larger originals are not searched for more */
#define MAX_SCAN_LINES 200      /* a forward starts within this many lines of the text */
#define MAX_INLINE_FIELDS_BYTES 4096 /* Yahoo's one-line fields, at most */

typedef enum {
    F_NONE,
    F_FROM,
    F_DATE,
    F_TO,
    F_CC,
    F_SUBJECT,
    F_REPLY_TO,
    F_BCC,
} Field;

/* Header field names of mail programs, folded (Outlook, Gmail, Apple Mail,
 * Thunderbird, Yahoo, … in the languages they ship). */
static const struct {
    const char *word;
    Field field;
} field_words[] = {
    /* en */ { "from", F_FROM }, { "sent", F_DATE }, { "date", F_DATE }, { "to", F_TO },
    { "cc", F_CC }, { "bcc", F_BCC }, { "subject", F_SUBJECT }, { "reply-to", F_REPLY_TO },
    /* de */ { "von", F_FROM }, { "gesendet", F_DATE }, { "datum", F_DATE }, { "an", F_TO },
    { "kopie", F_CC }, { "betreff", F_SUBJECT }, { "antwort an", F_REPLY_TO },
    { "absender", F_FROM }, { "empfänger", F_TO }, { "gesendet am", F_DATE },
    /* fr */ { "de", F_FROM }, { "envoyé", F_DATE }, { "à", F_TO }, { "pour", F_TO },
    { "objet", F_SUBJECT }, { "sujet", F_SUBJECT }, { "copie à", F_CC }, { "cci", F_BCC },
    { "répondre à", F_REPLY_TO }, { "expéditeur", F_FROM }, { "destinataire", F_TO },
    /* es, pt */ { "enviado", F_DATE }, { "enviado el", F_DATE }, { "para", F_TO },
    { "asunto", F_SUBJECT }, { "fecha", F_DATE }, { "assunto", F_SUBJECT },
    { "enviada em", F_DATE }, { "remetente", F_FROM }, { "data", F_DATE },
    /* it */ { "da", F_FROM }, { "inviato", F_DATE }, { "a", F_TO }, { "oggetto", F_SUBJECT },
    { "mittente", F_FROM }, { "inviato il", F_DATE },
    /* nl */ { "van", F_FROM }, { "verzonden", F_DATE }, { "aan", F_TO },
    { "onderwerp", F_SUBJECT }, { "verstuurd", F_DATE },
    /* da, no, sv */ { "fra", F_FROM }, { "sendt", F_DATE }, { "til", F_TO }, { "emne", F_SUBJECT },
    { "dato", F_DATE }, { "kopi", F_CC }, { "från", F_FROM }, { "skickat", F_DATE },
    { "till", F_TO }, { "ämne", F_SUBJECT }, { "kopia", F_CC },
    /* fi */ { "lähettäjä", F_FROM }, { "lähetetty", F_DATE }, { "vastaanottaja", F_TO },
    { "aihe", F_SUBJECT }, { "päivämäärä", F_DATE }, { "päiväys", F_DATE }, { "kopio", F_CC },
    /* pl */ { "od", F_FROM }, { "wysłano", F_DATE }, { "do", F_TO }, { "temat", F_SUBJECT },
    { "dw", F_CC }, { "nadawca", F_FROM }, { "adresat", F_TO },
    /* cs, sk */ { "odesláno", F_DATE }, { "komu", F_TO }, { "předmět", F_SUBJECT },
    { "predmet", F_SUBJECT }, { "dátum", F_DATE }, { "kópia", F_CC }, { "pre", F_TO },
    { "odoslané", F_DATE }, { "odesílatel", F_FROM },
    /* hu */ { "feladó", F_FROM }, { "elküldve", F_DATE }, { "címzett", F_TO },
    { "tárgy", F_SUBJECT }, { "másolat", F_CC }, { "másolatot kap", F_CC },
    /* tr */ { "kimden", F_FROM }, { "gönderen", F_FROM }, { "gönderildi", F_DATE },
    { "kime", F_TO }, { "konu", F_SUBJECT }, { "tarih", F_DATE }, { "bilgi", F_CC },
    { "gönderilen", F_DATE },
    /* ro */ { "de la", F_FROM }, { "expeditorul", F_FROM }, { "trimis", F_DATE },
    { "către", F_TO }, { "destinatarul", F_TO }, { "subiect", F_SUBJECT },
    { "subiectul", F_SUBJECT }, { "dată", F_DATE },
    /* hr */ { "šalje", F_FROM }, { "poslano", F_DATE }, { "prima", F_TO }, { "naslov", F_SUBJECT },
    /* et */ { "saatja", F_FROM }, { "saaja", F_TO }, { "teema", F_SUBJECT },
    /* ru, uk */ { "от", F_FROM }, { "отправитель", F_FROM }, { "отправлено", F_DATE },
    { "кому", F_TO }, { "тема", F_SUBJECT }, { "дата", F_DATE }, { "копия", F_CC },
    { "від", F_FROM }, { "від кого", F_FROM }, { "надіслано", F_DATE }, { "копія", F_CC },
};

/* Words of titles that announce reply history rather than a forward
 * ("-----Original Message-----"); folded. */
static const char *original_words[] = {
    "original", "ursprüngliche", "origine", "originale", "oorspronkelijk", "původní",
    "pôvodná", "oryginalna", "eredeti", "alkuperäinen", "opprinnelig", "ursprungligt",
    "oprindelig", "исходное", "оригинал", "orijinal", "izvorna", "originală",
};

/* Words of titles that say a mail is forwarded; folded, often a stem. */
static const char *forward_words[] = {
    "forward", "fwd", "weitergeleitet", "transféré", "réexpédié", "reenviado", "inoltrat",
    "doorgestuurd", "encaminhad", "reencaminhad", "videresendt", "vidarebefordra", "przekazan",
    "przesłan", "přeposlan", "preposlan", "továbbított", "edelleenlähetet", "välitet",
    "iletilen", "ileti başlangıcı", "redirecționat", "proslijeđen", "переслан", "пересила",
    "перенаправлен", "переадресован", "transmis", "iletilmiş",
};

/* Verbs of attribution lines ("… wrote:"), folded. */
static const char *wrote_words[] = {
    "wrote", "schrieb", "écrit", "escribió", "scritto", "geschreven", "escreveu", "napisał",
    "skrev", "kirjoitti", "napsal", "napísal", "írta", "написал", "написав", "yazdı", "a scris",
    "napisao", "kirjutas",
};

/* The start of a line without quote markers ("> > "), a byte order mark or
 * leading white space; *depth_out: the number of '>' markers. */
static const char *
unquote(const char *line, guint *depth_out)
{
    const char *p = line;
    guint depth = 0;
    for (;;) {
        if (g_str_has_prefix(p, "\xef\xbb\xbf")) {
            p += 3;
        } else if (*p == '>') {
            depth++;
            p++;
        } else if (*p == ' ' || *p == '\t') {
            p++;
        } else if (g_str_has_prefix(p, "\xc2\xa0")) {
            p += 2;
        } else {
            break;
        }
    }
    if (depth_out)
        *depth_out = depth;
    return p;
}

/* Removes up to `depth` quote markers (each with one following space). */
static const char *
unquote_to(const char *line, guint depth)
{
    const char *p = line;
    for (guint d = 0; d < depth; d++) {
        const char *q = p;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q != '>')
            break;
        p = q + 1;
        if (*p == ' ')
            p++;
    }
    return p;
}

static bool
blank(const char *line)
{
    const char *p = unquote(line, NULL);
    return *p == '\0';
}

static GHashTable *
field_table(void)
{
    static gsize done = 0;
    static GHashTable *table;
    if (g_once_init_enter(&done)) {
        table = g_hash_table_new(g_str_hash, g_str_equal);
        for (gsize i = 0; i < G_N_ELEMENTS(field_words); i++)
            g_hash_table_insert(table, (gpointer)field_words[i].word,
                                GINT_TO_POINTER(field_words[i].field));
        g_once_init_leave(&done, 1);
    }
    return table;
}

static Field
lookup_field(const char *name, gsize len)
{
    if (len == 0 || len > 40)
        return F_NONE;
    g_autofree char *raw = g_strndup(name, len);
    g_strstrip(raw);
    /* "*From:*" (bold in HTML), "De :" (French spacing), "Von\t:" */
    char *s = raw;
    while (*s == '*' || *s == '_')
        s++;
    gsize n = strlen(s);
    for (;;) {
        if (n > 0 && (s[n - 1] == '*' || s[n - 1] == '_' || s[n - 1] == ' ' || s[n - 1] == '\t'))
            s[--n] = '\0';
        else if (n >= 2 && (guchar)s[n - 2] == 0xc2 && (guchar)s[n - 1] == 0xa0)
            s[n -= 2] = '\0'; /* "Date\u00a0:" */
        else
            break;
    }
    if (n == 0)
        return F_NONE;
    g_autofree char *folded = cl_text_fold(s);
    return GPOINTER_TO_INT(g_hash_table_lookup(field_table(), folded));
}

/* "Von: Max <max@x.de>" → F_FROM and the value; F_NONE when the line is no
 * header field. */
static Field
field_line(const char *line, const char **value_out)
{
    const char *p = unquote(line, NULL);
    if (strlen(p) > MAX_LINE_BYTES)
        return F_NONE;
    /* The name ends at the first colon; it may have a trailing space (French). */
    const char *colon = strchr(p, ':');
    if (colon == NULL || colon - p > 40)
        return F_NONE;
    Field f = lookup_field(p, colon - p);
    if (f == F_NONE)
        return F_NONE;
    const char *v = colon + 1;
    while (*v == '*' || *v == ' ' || *v == '\t' || g_str_has_prefix(v, "\xc2\xa0"))
        v += *v == '\xc2' ? 2 : 1;
    *value_out = v;
    return f;
}

static bool
contains_word(const char *folded, const char *const *words, gsize n)
{
    for (gsize i = 0; i < n; i++)
        if (strstr(folded, words[i]) != NULL)
            return true;
    return false;
}

typedef enum {
    SEP_NONE,
    SEP_FORWARD,  /* says it is a forward */
    SEP_ORIGINAL, /* "Original Message": a forward or a reply */
    SEP_RULE,     /* an underscore rule (Outlook) */
    SEP_TITLE,    /* a line ending in ':' that may introduce a header block */
} Separator;

/* A dashed title in the line ("--- Forwarded message ---"); *rest_out: what
 * follows the closing dashes on the same line (Yahoo puts the fields there). */
static Separator
dashed_title(const char *line, const char **rest_out)
{
    const char *open = strstr(line, "---");
    while (open != NULL) {
        const char *t = open;
        while (*t == '-')
            t++;
        const char *close = strstr(t, "---");
        if (close == NULL)
            return SEP_NONE;
        gsize tlen = close - t;
        if (tlen >= 3 && tlen <= 80) {
            g_autofree char *title = g_strndup(t, tlen);
            g_strstrip(title);
            bool letters = false;
            for (const char *c = title; *c; c = g_utf8_next_char(c))
                if (g_unichar_isalpha(g_utf8_get_char(c)))
                    letters = true;
            if (letters && strchr(title, '@') == NULL) {
                const char *rest = close;
                while (*rest == '-')
                    rest++;
                *rest_out = rest;
                g_autofree char *folded = cl_text_fold(title);
                if (contains_word(folded, forward_words, G_N_ELEMENTS(forward_words)))
                    return SEP_FORWARD;
                if (contains_word(folded, original_words, G_N_ELEMENTS(original_words)))
                    return SEP_ORIGINAL;
                return SEP_TITLE; /* "-----BEGIN PGP…-----" too: needs a header block */
            }
        }
        open = strstr(t, "---");
    }
    return SEP_NONE;
}

static bool
underscore_rule(const char *p)
{
    gsize n = 0;
    for (; *p == '_'; p++)
        n++;
    while (*p == ' ')
        p++;
    return n >= 10 && *p == '\0';
}

/* A short line ending in ':' without an address: "Begin forwarded message:". */
static bool
title_line(const char *p)
{
    gsize n = strlen(p);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n < 4 || n > 80 || p[n - 1] != ':' || memchr(p, '@', n) != NULL)
        return false;
    for (gsize i = 0; i < n; i++)
        if (g_ascii_isdigit(p[i]))
            return false;
    return true;
}

/* ---- addresses in text ------------------------------------------------------- */

static bool
local_char(char c)
{
    return g_ascii_isalnum(c) || strchr(".!#$%&'*+/=?^_`{|}~-", c) != NULL || (guchar)c >= 0x80;
}

static bool
domain_char(char c)
{
    return g_ascii_isalnum(c) || c == '-' || c == '.' || (guchar)c >= 0x80;
}

void
parse_scan_addresses(const char *text, GPtrArray *out, GHashTable *seen, guint max)
{
    const char *p = text;
    while (p != NULL && out->len < max && (p = strchr(p, '@')) != NULL) {
        const char *s = p, *e = p + 1;
        while (s > text && local_char(s[-1]))
            s--;
        while (*e && domain_char(*e))
            e++;
        while (e > p + 1 && (e[-1] == '.' || e[-1] == '-'))
            e--;
        while (s < p && s[0] == '.')
            s++;
        if (s < p && e > p + 1 && memchr(p + 1, '.', e - p - 1) != NULL) {
            g_autofree char *addr = g_strndup(s, e - s);
            if (g_str_has_prefix(addr, "mailto:"))
                memmove(addr, addr + 7, strlen(addr + 7) + 1);
            char *folded = cl_address_fold(addr);
            if (folded != NULL && !g_utf8_validate(folded, -1, NULL))
                g_clear_pointer(&folded, g_free);
            if (folded != NULL) {
                char *copy = g_strdup(folded);
                if (cl_set_add(seen, folded))
                    g_ptr_array_add(out, copy);
                else
                    g_free(copy);
            }
        }
        p = e > p ? e : p + 1;
    }
}

/* "Max <max@x.de<mailto:max@x.de>>", "Max [mailto:max@x.de]", "a@x; b@y" as
 * Outlook writes them, made into an address list GMime reads. */
static char *
normalise_address_value(const char *value)
{
    GString *s = g_string_new(value);
    for (char *m; (m = strstr(s->str, "<mailto:")) != NULL;) {
        char *end = strchr(m, '>');
        gsize at = m - s->str;
        g_string_erase(s, at, end ? (gssize)(end - m + 1) : -1);
    }
    for (char *m; (m = strstr(s->str, "[mailto:")) != NULL;) {
        char *end = strchr(m, ']');
        gsize at = m - s->str;
        if (end == NULL) {
            g_string_erase(s, at, -1);
            break;
        }
        *end = '>';
        g_string_erase(s, at, 8);
        g_string_insert_c(s, at, '<');
    }
    for (gsize i = 0; i < s->len; i++)
        if (s->str[i] == ';')
            s->str[i] = ',';
    /* "„John Doe”" quotes some locales use */
    g_autofree char *out = g_string_free(s, FALSE);
    GString *q = g_string_new(NULL);
    for (const char *p = out; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        if (c == 0x201e || c == 0x201c || c == 0x201d || c == 0x00ab || c == 0x00bb)
            g_string_append_c(q, '"');
        else
            g_string_append_unichar(q, c);
    }
    return g_string_free(q, FALSE);
}

static void
add_addresses(const char *value, GPtrArray *out)
{
    g_autofree char *norm = normalise_address_value(value);
    guint before = out->len;
    parse_address_list(norm, out);
    bool found = false;
    for (guint i = before; i < out->len; i++)
        if (strchr(((ClAddress *)out->pdata[i])->address, '@') != NULL)
            found = true;
    if (found)
        return;
    /* "John Doe (john.doe@acme.com)" and other forms GMime reads as a name:
     * take the addresses that are in it. */
    g_ptr_array_set_size(out, before);
    g_autoptr(GPtrArray) found_addrs = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    parse_scan_addresses(norm, found_addrs, seen, 100);
    for (guint i = 0; i < found_addrs->len; i++) {
        ClAddress *a = g_new0(ClAddress, 1);
        a->address = g_strdup(found_addrs->pdata[i]);
        g_ptr_array_add(out, a);
    }
}

/* ---- dates as mail programs write them ------------------------------------------- */

/* Month names, folded, in the languages above; index 0-11 by month. */
static const char *months[][12] = {
    { "january", "february", "march", "april", "may", "june", "july", "august", "september",
      "october", "november", "december" },
    { "januar", "februar", "märz", "april", "mai", "juni", "juli", "august", "september",
      "oktober", "november", "dezember" },
    { "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
      "octobre", "novembre", "décembre" },
    { "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
      "octubre", "noviembre", "diciembre" },
    { "gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto",
      "settembre", "ottobre", "novembre", "dicembre" },
    { "januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
      "oktober", "november", "december" },
    { "janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro",
      "outubro", "novembro", "dezembro" },
    { "januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september",
      "oktober", "november", "december" },
    { "stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca", "lipca", "sierpnia",
      "września", "października", "listopada", "grudnia" },
    { "ledna", "února", "března", "dubna", "května", "června", "července", "srpna", "září",
      "října", "listopadu", "prosince" },
    { "января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
      "октября", "ноября", "декабря" },
    { "jänner", "feber", "mrz", "apr", "mai", "jun", "jul", "aug", "sept", "okt", "nov", "dez" },
    { "tammikuuta", "helmikuuta", "maaliskuuta", "huhtikuuta", "toukokuuta", "kesäkuuta",
      "heinäkuuta", "elokuuta", "syyskuuta", "lokakuuta", "marraskuuta", "joulukuuta" },
    { "január", "február", "március", "április", "május", "június", "július", "augusztus",
      "szeptember", "október", "november", "december" },
    { "januára", "februára", "marca", "apríla", "mája", "júna", "júla", "augusta", "septembra",
      "októbra", "novembra", "decembra" },
    { "ocak", "şubat", "mart", "nisan", "mayıs", "haziran", "temmuz", "ağustos", "eylül", "ekim",
      "kasım", "aralık" },
    { "січня", "лютого", "березня", "квітня", "травня", "червня", "липня", "серпня", "вересня",
      "жовтня", "листопада", "грудня" },
    { "ianuarie", "februarie", "martie", "aprilie", "mai", "iunie", "iulie", "august",
      "septembrie", "octombrie", "noiembrie", "decembrie" },
    { "jaanuar", "veebruar", "märts", "aprill", "mai", "juuni", "juuli", "august", "september",
      "oktoober", "november", "detsember" },
};

/* The month a word names: 2 for a whole name, 1 for an abbreviation ("Oct",
 * "okt", "lokak"), 0 for none; *month_out from 0. */
static int
month_of(const char *word, int *month_out)
{
    if (strlen(word) < 3)
        return 0;
    for (gsize l = 0; l < G_N_ELEMENTS(months); l++)
        for (int m = 0; m < 12; m++)
            if (strcmp(word, months[l][m]) == 0) {
                *month_out = m;
                return 2;
            }
    for (gsize l = 0; l < G_N_ELEMENTS(months); l++)
        for (int m = 0; m < 12; m++)
            if (g_str_has_prefix(months[l][m], word)) {
                *month_out = m;
                return 1;
            }
    return 0;
}

/* Zone names mail programs print after a time, folded; minutes east of UTC. */
static const struct {
    const char *name;
    int minutes;
} zones[] = {
    { "utc", 0 },     { "gmt", 0 },     { "z", 0 },       { "wet", 0 },    { "mez", 60 },
    { "cet", 60 },    { "bst", 60 },    { "west", 60 },   { "mesz", 120 }, { "cest", 120 },
    { "eet", 120 },   { "eest", 180 },  { "msk", 180 },   { "est", -300 }, { "edt", -240 },
    { "cst", -360 },  { "cdt", -300 },  { "mst", -420 },  { "mdt", -360 }, { "pst", -480 },
    { "pdt", -420 },  { "seč", 60 },    { "sel", 120 },
};

/* n with one more decimal digit, saturating: numbers in dates are short, and
 * hostile input must not overflow. */
static int
next_digit(int n, char digit)
{
    return n < 100000 ? n * 10 + (digit - '0') : n;
}

gint64
parse_loose_date(const char *text, bool *zoned_out)
{
    bool zoned_dummy;
    bool *zoned = zoned_out ? zoned_out : &zoned_dummy;
    *zoned = false;
    if (text == NULL || *text == '\0')
        return 0;
    /* RFC 5322 first (Thunderbird, MailMate write it); GMime reads other forms
     * too, but ignores "PM" and the like, so only this one is left to it. */
    static gsize once = 0;
    static GRegex *rfc5322;
    if (g_once_init_enter(&once)) {
        rfc5322 = g_regex_new("^\\s*([A-Za-z]{3},\\s*)?\\d{1,2}\\s+[A-Za-z]{3}\\s+\\d{2,4}\\s+"
                              "\\d{1,2}:\\d{2}(:\\d{2})?\\s*([+-]\\d{4}|[A-Z]{1,5})?\\s*(\\(.*\\))?\\s*$",
                              G_REGEX_OPTIMIZE, 0, NULL);
        g_once_init_leave(&once, 1);
    }
    GDateTime *rfc = g_regex_match(rfc5322, text, 0, NULL) ? g_mime_utils_header_decode_date(text)
                                                           : NULL;
    if (rfc != NULL) {
        gint64 t = g_date_time_to_unix(rfc);
        g_date_time_unref(rfc);
        if (t > 0) {
            *zoned = true;
            return t;
        }
    }
    g_autofree char *folded = cl_text_fold(text);
    int year = -1, month = -1, month_score = 0, day = -1, hour = 0, minute = 0, second = 0;
    int pm = -1;
    int offset_min = 0;
    int nums[8], n_nums = 0;
    const char *p = folded;
    while (*p) {
        gunichar c = g_utf8_get_char(p);
        if (g_unichar_isdigit(c) && g_ascii_isdigit(*p)) {
            /* h:mm[:ss] */
            int a = 0;
            const char *s = p;
            while (g_ascii_isdigit(*p))
                a = next_digit(a, *p++);
            /* "9:31", "09.26.50" once the year is known (Danish, Finnish) */
            bool time = *p == ':' || (*p == '.' && year >= 0 && p - s <= 2 &&
                                      g_ascii_isdigit(p[1]) && g_ascii_isdigit(p[2]) &&
                                      !g_ascii_isdigit(p[3]));
            if (time && g_ascii_isdigit(p[1]) && a < 24) {
                char sep = *p;
                p++;
                int b = 0;
                while (g_ascii_isdigit(*p))
                    b = next_digit(b, *p++);
                hour = a;
                minute = b;
                if (*p == sep && g_ascii_isdigit(p[1])) {
                    p++;
                    int c2 = 0;
                    while (g_ascii_isdigit(*p))
                        c2 = next_digit(c2, *p++);
                    second = c2;
                }
                continue;
            }
            /* dd.mm.yyyy, dd/mm/yyyy, yyyy-mm-dd */
            if ((*p == '.' || *p == '/' || *p == '-') && g_ascii_isdigit(p[1])) {
                char sep = *p;
                int b = 0;
                const char *q = p + 1;
                while (g_ascii_isdigit(*q))
                    b = next_digit(b, *q++);
                if (*q == sep && g_ascii_isdigit(q[1])) {
                    int c3 = 0;
                    q++;
                    while (g_ascii_isdigit(*q))
                        c3 = next_digit(c3, *q++);
                    if (a > 31) {
                        year = a, month = b - 1, day = c3;
                    } else {
                        day = a, month = b - 1, year = c3 < 100 ? 2000 + c3 : c3;
                        if (month > 11 && day <= 12) { /* 12/31/2021: American */
                            int t = day;
                            day = month + 1;
                            month = t - 1;
                        }
                    }
                    p = q;
                    continue;
                }
            }
            if (a >= 1970 && a < 2200 && p - s == 4)
                year = a;
            else if (n_nums < 8)
                nums[n_nums++] = a;
            continue;
        }
        if (c == '+' || c == '-') {
            /* a numeric zone after GMT/UTC or a time: +0100, -0400, +2 */
            const char *q = p + 1;
            int v = 0, digits = 0;
            while (g_ascii_isdigit(*q)) {
                v = next_digit(v, *q++);
                digits++;
            }
            if (digits == 4)
                offset_min = (v / 100) * 60 + v % 100;
            else if (digits >= 1 && digits <= 2)
                offset_min = v * 60;
            if (digits > 0 && (digits <= 2 || digits == 4) && hour + minute > 0) {
                if (c == '-')
                    offset_min = -offset_min;
                *zoned = true;
                p = q;
                continue;
            }
            offset_min = 0;
        }
        if (g_unichar_isalpha(c)) {
            const char *s = p;
            while (*p && g_unichar_isalpha(g_utf8_get_char(p)))
                p = g_utf8_next_char(p);
            g_autofree char *word = g_strndup(s, p - s);
            bool zone = false;
            for (gsize z = 0; z < G_N_ELEMENTS(zones) && hour + minute > 0 && !*zoned; z++)
                if (strcmp(word, zones[z].name) == 0) {
                    offset_min = zones[z].minutes;
                    *zoned = zone = true;
                }
            if (zone)
                continue;
            if (strcmp(word, "pm") == 0)
                pm = 1;
            else if (strcmp(word, "am") == 0)
                pm = 0;
            else {
                /* "mar., 27 oct. 2021": a weekday may look like a month; a
                 * whole name beats an abbreviation, a later one an earlier. */
                int m = -1, score = month_of(word, &m);
                if (score > 0 && score >= month_score) {
                    month = m;
                    month_score = score;
                }
            }
            continue;
        }
        p = g_utf8_next_char(p);
    }
    if (month < 0 && n_nums >= 2 && nums[0] >= 1 && nums[0] <= 31 && nums[1] >= 1 &&
        nums[1] <= 12) {
        day = nums[0]; /* "27. 10. 2021" */
        month = nums[1] - 1;
    }
    if (day < 0)
        for (int i = 0; i < n_nums; i++)
            if (nums[i] >= 1 && nums[i] <= 31) {
                day = nums[i];
                break;
            }
    if (year < 0 || month < 0 || month > 11 || day < 1 || day > 31)
        return 0;
    if (offset_min > 14 * 60 || offset_min < -14 * 60)
        offset_min = 0; /* no zone is further from UTC */
    if (pm == 1 && hour < 12)
        hour += 12;
    else if (pm == 0 && hour == 12)
        hour = 0;
    g_autoptr(GDateTime) dt = g_date_time_new_utc(year, month + 1, day, hour, minute, second);
    return dt ? g_date_time_to_unix(dt) - (gint64)offset_min * 60 : 0;
}

/* ---- header blocks ------------------------------------------------------------ */

static void
forward_set(ClForward *f, Field field, const char *value)
{
    switch (field) {
    case F_FROM:
        if (f->from == NULL && f->from_text == NULL) {
            g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify)parse_address_free);
            add_addresses(value, list);
            if (list->len > 0)
                f->from = g_ptr_array_steal_index(list, 0);
            else
                f->from_text = parse_clean_line(value, 998);
        }
        break;
    case F_TO:
        add_addresses(value, f->to);
        break;
    case F_CC:
        add_addresses(value, f->cc);
        break;
    case F_DATE:
        if (f->date_text == NULL) {
            f->date_text = parse_clean_line(value, 200);
            f->date = parse_loose_date(f->date_text, &f->date_zoned);
        }
        break;
    case F_SUBJECT:
        if (f->subject == NULL)
            f->subject = parse_clean_line(value, CL_MAX_SUBJECT_BYTES);
        break;
    default:
        break;
    }
}

/* Yahoo writes "Von: A <a@x>An: b@y Betreff: S" on one line: split it before
 * each field name that ends at a colon (spaces allowed between) and starts
 * with a capital — three letters or more, or right after an address ('>',
 * '"'). Looked for from each colon back, so the work is per colon, not per
 * character. */
static GPtrArray *
split_inline_fields(const char *text)
{
    GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
    while (*text == ' ' || *text == '\t')
        text++;
    const char *start = text;
    gsize len = MIN(strlen(text), (gsize)MAX_INLINE_FIELDS_BYTES);
    const char *end = text + len;
    for (const char *colon = memchr(text, ':', len); colon != NULL && colon < end;
         colon = memchr(colon + 1, ':', end - colon - 1)) {
        const char *q = colon;
        while (q > start && (q[-1] == ' ' || (q - start >= 2 && (guchar)q[-2] == 0xc2 &&
                                                (guchar)q[-1] == 0xa0)))
            q -= q[-1] == ' ' ? 1 : 2;
        /* the letters right before the colon (no field name is longer than 20) */
        const char *w = q;
        while (w > start && q - w < 40) {
            const char *prev = g_utf8_find_prev_char(start, w);
            if (prev == NULL || !g_unichar_isalpha(g_utf8_get_char(prev)))
                break;
            w = prev;
        }
        /* the longest field name that is a suffix of them, starting with a capital */
        for (const char *p = w; p < q; p = g_utf8_next_char(p)) {
            if (p == start || !g_unichar_isupper(g_utf8_get_char(p)))
                continue;
            bool after_address = p[-1] == '>' || p[-1] == '"';
            g_autofree char *word = g_utf8_casefold(p, q - p);
            Field f = GPOINTER_TO_INT(g_hash_table_lookup(field_table(), word));
            if (f == F_NONE || (g_utf8_strlen(word, -1) < 3 && !after_address))
                continue;
            g_ptr_array_add(lines, g_strndup(start, p - start));
            start = p;
            break;
        }
    }
    if (*start)
        g_ptr_array_add(lines, g_strdup(start));
    return lines;
}

typedef struct {
    char **lines;     /* into buf (or borrowed strings) */
    guint n;
    const char *text; /* what lines were split from */
    bool partial;     /* only the first MAX_SCAN_LINES lines are split; the last holds the rest */
    char *buf;        /* one copy of the text with the line ends made NULs */
} Text;

/* The lines of text, in one copy of it: a forward starts within the first
 * MAX_SCAN_LINES, so a long text is split only that far until one is found. */
static Text
text_lines(const char *text, bool whole)
{
    Text t = { .text = text, .buf = g_strdup(text) };
    GPtrArray *lines = g_ptr_array_new();
    char *p = t.buf;
    for (;;) {
        g_ptr_array_add(lines, p);
        if (!whole && lines->len > MAX_SCAN_LINES) {
            t.partial = strchr(p, '\n') != NULL;
            break;
        }
        char *nl = strchr(p, '\n');
        if (nl == NULL)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    t.n = lines->len;
    g_ptr_array_add(lines, NULL);
    t.lines = (char **)g_ptr_array_free(lines, FALSE);
    return t;
}

static void
text_clear(Text *t)
{
    g_free(t->lines);
    g_free(t->buf);
}

/* Reads a header block starting at line *i; returns the number of distinct
 * fields found (0: no block) and leaves *i after it. */
static guint
read_block(const Text *t, guint *i, ClForward *f, guint *depth_out, bool *has_from_out)
{
    guint seen = 0, fields = 0;
    Field last = F_NONE;
    guint k = *i;
    unquote(t->lines[k], depth_out);
    for (; k < t->n && k - *i < MAX_BLOCK_LINES; k++) {
        const char *value = NULL;
        Field fl = field_line(t->lines[k], &value);
        if (fl != F_NONE) {
            if (!(seen & (1u << fl)))
                fields++;
            seen |= 1u << fl;
            forward_set(f, fl, value);
            last = fl;
            continue;
        }
        const char *p = unquote(t->lines[k], NULL);
        /* A wrapped To/Cc list continues on the next line. */
        if (*p && (last == F_TO || last == F_CC) && strchr(p, '@') != NULL &&
            strlen(p) < MAX_LINE_BYTES && strchr(p, ':') == NULL) {
            forward_set(f, last, p);
            continue;
        }
        break;
    }
    *has_from_out = (seen & (1u << F_FROM)) != 0;
    if (fields > 0)
        *i = k;
    return fields;
}

/* The original's text: the lines from `from` on, one quote level removed. */
static char *
body_from(const Text *t, guint from, guint depth)
{
    GString *out = g_string_new(NULL);
    guint k = from;
    while (k < t->n && blank(t->lines[k]))
        k++;
    for (; k < t->n; k++) {
        if (out->len)
            g_string_append_c(out, '\n');
        g_string_append(out, depth ? unquote_to(t->lines[k], depth) : t->lines[k]);
    }
    while (out->len > 0 && g_ascii_isspace(out->str[out->len - 1]))
        g_string_truncate(out, out->len - 1);
    gsize lead = 0;
    while (lead < out->len && (out->str[lead] == ' ' || out->str[lead] == '\t'))
        lead++;
    g_string_erase(out, 0, lead);
    return g_string_free(out, FALSE);
}

/* "Am 28.10.2021 um 12:46 schrieb Max <max@x.de>:" and the like. */
static bool
attribution(const char *p, ClForward *f)
{
    gsize n = strlen(p);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n < 8 || n > MAX_ATTRIBUTION_BYTES || p[n - 1] != ':')
        return false;
    g_autofree char *line = g_strndup(p, n - 1);
    g_autofree char *folded = cl_text_fold(line);
    /* "… wrote:" with who or when: a verb of the languages above, and an address
     * or a date ("Peter schrieb mir gestern dazu noch:" is a comment, and so is
     * "Rechnung an Frau Krüger (a.k@x.de), Stand 13.11.:"). */
    bool verb = contains_word(folded, wrote_words, G_N_ELEMENTS(wrote_words));
    bool has_at = strchr(line, '@') != NULL;
    bool digit = false;
    for (const char *c = line; *c && !digit; c++)
        digit = g_ascii_isdigit(*c);
    if (!verb || (!has_at && !digit))
        return false;
    if (has_at) {
        g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        parse_scan_addresses(line, list, seen, 4);
        if (list->len > 0) {
            f->from = g_new0(ClAddress, 1);
            f->from->address = g_strdup(list->pdata[0]);
        }
    }
    f->date = parse_loose_date(line, &f->date_zoned);
    return true;
}

static ClForward *
forward_new(void)
{
    ClForward *f = g_new0(ClForward, 1);
    f->to = g_ptr_array_new_with_free_func((GDestroyNotify)parse_address_free);
    f->cc = g_ptr_array_new_with_free_func((GDestroyNotify)parse_address_free);
    return f;
}

void
parse_forward_free(ClForward *f)
{
    if (f == NULL)
        return;
    parse_address_free(f->from);
    g_free(f->from_text);
    g_ptr_array_unref(f->to);
    g_ptr_array_unref(f->cc);
    g_free(f->subject);
    g_free(f->date_text);
    g_free(f->message_id);
    g_free(f->text);
    g_free(f);
}

static ClForward *find_in(const Text *t, int level);

static bool
ends_with_colon(const char *p)
{
    gsize n = strlen(p);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
        n--;
    return n > 0 && p[n - 1] == ':';
}

/* The text of the original is made when asked for (cl_forward_text): the
 * first level only records where it starts; levels below count nested
 * forwards for it. */
static ClForward *
finish(const Text *t, ClForward *f, guint body_line, guint depth, int level)
{
    if (level == 0 && t->buf != NULL) {
        f->body_offset = body_line < t->n ? (gsize)(t->lines[body_line] - t->buf) : strlen(t->text);
        f->body_depth = depth;
        return f;
    }
    if (t->partial) {
        /* The same first lines, and now the rest too. */
        Text whole = text_lines(t->text, true);
        f->text = body_from(&whole, body_line, depth);
        text_clear(&whole);
    } else {
        f->text = body_from(t, body_line, depth);
    }
    if (level < MAX_NESTED && strlen(f->text) <= MAX_NESTED_BYTES) {
        Text inner = text_lines(f->text, false);
        ClForward *nested = find_in(&inner, level + 1);
        text_clear(&inner);
        if (nested != NULL) {
            f->nested = nested->nested + 1;
            parse_forward_free(nested);
        }
    }
    return f;
}

/* The first forward block in the text, or NULL. */
static ClForward *
find_in(const Text *t, int level)
{
    guint comment = 0;
    for (guint i = 0; i < t->n && i < MAX_SCAN_LINES; i++) {
        const char *line = t->lines[i];
        if (strlen(line) > 4 * MAX_LINE_BYTES) {
            comment++;
            continue;
        }
        guint depth = 0;
        const char *p = unquote(line, &depth);
        if (*p == '\0')
            continue;

        /* 1. A dashed title, perhaps with the fields on the same line. */
        const char *rest = NULL;
        Separator sep = dashed_title(p, &rest);
        if (sep == SEP_NONE && underscore_rule(p))
            sep = SEP_RULE;
        if (sep == SEP_NONE && title_line(p))
            sep = SEP_TITLE;
        if (sep != SEP_NONE) {
            g_autoptr(ClForward) f = forward_new();
            guint bdepth = depth, k = i + 1;
            bool has_from = false;
            guint fields = 0;
            if (rest != NULL && field_line(rest, &(const char *){ NULL }) != F_NONE) {
                g_autoptr(GPtrArray) parts = split_inline_fields(rest);
                g_ptr_array_add(parts, NULL);
                Text inl = { (char **)parts->pdata, parts->len - 1, NULL, false, NULL };
                guint j = 0, d = 0;
                fields = read_block(&inl, &j, f, &d, &has_from);
            }
            if (fields == 0) {
                while (k < t->n && k <= i + 3 && blank(t->lines[k]))
                    k++;
                if (k < t->n)
                    fields = read_block(t, &k, f, &bdepth, &has_from);
            }
            /* A title needs a header block under it; a dashed forward title
             * stands on its own (the fields may be missing). */
            bool ok = sep == SEP_FORWARD ? true : fields >= 2 && (has_from || fields >= 3);
            if (ok && (fields > 0 || sep == SEP_FORWARD)) {
                g_autofree char *folded = cl_text_fold(p);
                bool says = sep == SEP_FORWARD ||
                            (sep == SEP_TITLE &&
                             contains_word(folded, forward_words, G_N_ELEMENTS(forward_words)));
                f->format = sep == SEP_ORIGINAL ? "original-message"
                            : sep == SEP_RULE   ? "outlook"
                            : says              ? "forward-header"
                                                : "header-block";
                f->explicit_forward = says;
                f->comment_lines = comment;
                return finish(t, g_steal_pointer(&f), k, bdepth, level);
            }
        }

        /* 2. A header block without a title (Outlook). */
        const char *value;
        if (field_line(line, &value) != F_NONE) {
            g_autoptr(ClForward) f = forward_new();
            guint k = i, bdepth = 0;
            bool has_from = false;
            guint fields = read_block(t, &k, f, &bdepth, &has_from);
            /* Without a title, the sender must be an address: "Von: 14 Uhr / An:
             * Filiale / Betreff: Fotos" is a note, not a forwarded mail. */
            if (has_from && fields >= 3 && f->from != NULL) {
                f->format = "header-block";
                f->explicit_forward = false;
                f->comment_lines = comment;
                return finish(t, g_steal_pointer(&f), k, bdepth, level);
            }
        }

        /* 3. An attribution line, perhaps wrapped onto a second line: it ends
         * in ':' (checked before anything is allocated). */
        if (ends_with_colon(p) || (i + 1 < t->n && ends_with_colon(t->lines[i + 1]))) {
            g_autoptr(ClForward) f = forward_new();
            bool found = attribution(p, f);
            guint next = i + 1;
            if (!found && i + 1 < t->n && strlen(p) < MAX_ATTRIBUTION_BYTES) {
                /* Gmail wraps long attribution lines. */
                const char *p2 = unquote(t->lines[i + 1], NULL);
                gsize n2 = strlen(p2);
                while (n2 > 0 && p2[n2 - 1] == ' ')
                    n2--;
                if (n2 > 0 && p2[n2 - 1] == ':') {
                    g_autofree char *joined = g_strconcat(p, " ", p2, NULL);
                    found = attribution(joined, f);
                    next = i + 2;
                }
            }
            if (found) {
                f->format = "attribution";
                f->explicit_forward = false;
                f->comment_lines = comment;
                /* The quote depth of the quoted mail's first line. */
                guint qdepth = 0, q = next;
                while (q < t->n && blank(t->lines[q]))
                    q++;
                if (q < t->n)
                    unquote(t->lines[q], &qdepth);
                return finish(t, g_steal_pointer(&f), next, MAX(qdepth, depth), level);
            }
        }
        comment++;
    }
    return NULL;
}

void
parse_forward_complete(ClForward *f, const char *text)
{
    if (f->text_ready)
        return;
    f->text_ready = true;
    gsize len = strlen(text);
    const char *body = text + MIN(f->body_offset, len);
    Text t = text_lines(body, true);
    g_free(f->text);
    f->text = body_from(&t, 0, f->body_depth);
    text_clear(&t);
    if (strlen(f->text) > MAX_NESTED_BYTES)
        return;
    Text inner = text_lines(f->text, false);
    ClForward *nested = find_in(&inner, 1);
    text_clear(&inner);
    if (nested != NULL) {
        f->nested = nested->nested + 1;
        parse_forward_free(nested);
    }
}

ClForward *
parse_forward_find(const char *text)
{
    if (text == NULL || *text == '\0')
        return NULL;
    Text t = text_lines(text, false);
    ClForward *f = find_in(&t, 0);
    text_clear(&t);
    return f;
}
