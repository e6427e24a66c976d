/*
 * test-parse-forward.c — forwarded mail (DESIGN §2 rule 5) as mail programs
 * write it: inline header blocks, titles, attribution lines, attached
 * messages; loose dates; the whole-message address scan.
 */
#include "parse/parse-private.h"

#include <string.h>

static ClMessage *
mail(const char *body)
{
    g_autofree char *text =
        g_strdup_printf("From: Lena Hoffmann <lena@agentur.example>\r\nTo: crm@drop.example\r\n"
                        "Subject: WG: Angebot\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s",
                        body);
    g_autoptr(GError) error = NULL;
    ClMessage *m = cl_parse_message_data(text, strlen(text), &error);
    g_assert_no_error(error);
    return m;
}

static ClForward *
only_forward(ClMessage *m)
{
    g_assert_cmpuint(m->forwards->len, ==, 1);
    return m->forwards->pdata[0];
}

static gint64
utc(int y, int mo, int d, int h, int mi, int s)
{
    g_autoptr(GDateTime) dt = g_date_time_new_utc(y, mo, d, h, mi, s);
    return g_date_time_to_unix(dt);
}

typedef struct {
    const char *name;
    const char *body;
    const char *format;
    bool explicit_forward;
    const char *from;    /* NULL: no address */
    const char *subject; /* NULL: none */
    guint to, cc;
    const char *text;    /* the original's body (start of it) */
} Case;

static const Case cases[] = {
    { "outlook-de",
      "Hallo, zur Info.\n\n________________________________\n"
      "Von: Peter Sommer <p.sommer@sommer.example>\nGesendet: Montag, 2. November 2026 09:12\n"
      "An: Lena Hoffmann <lena@agentur.example>\nCc: a@x.example; b@y.example\n"
      "Betreff: Angebot 20417\n\nGuten Tag,\nwie besprochen.\n",
      "outlook", false, "p.sommer@sommer.example", "Angebot 20417", 1, 2,
      "Guten Tag,\nwie besprochen." },
    { "outlook-mailto",
      "From: John Doe [mailto:john.doe@acme.example]\nSent: 25 October 2021 11:17\n"
      "To: bessie@acme.example\nCc: Walter [mailto:w@acme.example], Nick [mailto:n@globex.example]\n"
      "Subject: Integer\n\nBody\n",
      "header-block", false, "john.doe@acme.example", "Integer", 1, 2, "Body" },
    { "ursprüngliche-nachricht",
      "-----Ursprüngliche Nachricht-----\nVon: Max Muster <max@kunde.example>\n"
      "Gesendet: Dienstag, 3. November 2026 10:00\nAn: lena@agentur.example\nBetreff: Frage\n\n"
      "Text\n",
      "original-message", false, "max@kunde.example", "Frage", 1, 0, "Text" },
    { "gmail-en",
      "---------- Forwarded message ---------\nFrom: John Doe <john.doe@acme.example>\n"
      "Date: Wed, Oct 27, 2021 at 9:31 AM\nSubject: Integer consequat\nTo: <bessie@acme.example>\n"
      "Cc: Walter Sheltan <w@acme.example>, Nicholas <n@globex.example>\n\nAenean quis.\n",
      "forward-header", true, "john.doe@acme.example", "Integer consequat", 1, 2, "Aenean quis." },
    { "gmail-de",
      "---------- Weitergeleitete Nachricht ---------\nVon: Peter Sommer <p@sommer.example>\n"
      "Date: Mo., 2. Nov. 2026 um 09:12 Uhr\nSubject: Termin\nTo: <lena@agentur.example>\n\nHallo\n",
      "forward-header", true, "p@sommer.example", "Termin", 1, 0, "Hallo" },
    { "apple-mail-de-quoted",
      "Anfang der weitergeleiteten Nachricht:\n\n> Von: Peter Sommer <p@sommer.example>\n"
      "> Betreff: Logo\n> Datum: 2. November 2026 um 09:12:00 MEZ\n> An: lena@agentur.example\n>\n"
      "> Erster Absatz.\n> Zweiter.\n",
      "forward-header", true, "p@sommer.example", "Logo", 1, 0, "Erster Absatz.\nZweiter." },
    { "apple-mail-en",
      "Begin forwarded message:\n\n> From: John Doe <john.doe@acme.example>\n"
      "> Subject: Integer\n> Date: 25 October 2021 at 11:17:21 EEST\n> To: Bessie <b@acme.example>\n"
      ">\n> Body\n",
      "forward-header", true, "john.doe@acme.example", "Integer", 1, 0, "Body" },
    { "thunderbird-de",
      "-------- Weitergeleitete Nachricht --------\nBetreff: \tAngebot\n"
      "Datum: \tMon, 2 Nov 2026 09:12:00 +0100\nVon: \tPeter Sommer <p@sommer.example>\n"
      "An: \tlena@agentur.example\n\n\n\nText\n",
      "forward-header", true, "p@sommer.example", "Angebot", 1, 0, "Text" },
    { "thunderbird-fr",
      "-------- Message transféré --------\nSujet : \tDevis\nDate : \tMon, 2 Nov 2026 09:12:00 +0100\n"
      "De : \tJean <jean@client.example>\nPour : \tlena@agentur.example\n"
      "Copie à : \tPaul <paul@client.example>\n\nBonjour\n",
      "forward-header", true, "jean@client.example", "Devis", 1, 1, "Bonjour" },
    { "french-nbsp",
      "---------- Message transféré ---------\nDe : Jean <jean@client.example>\n"
      "Date\xc2\xa0: lundi 19 septembre 2022 \xc3\xa0 15:20:05 +0200\nObjet\xc2\xa0: Devis\n"
      "\xc3\x80\xc2\xa0: lena@agentur.example\n\nBonjour\n",
      "forward-header", true, "jean@client.example", "Devis", 1, 0, "Bonjour" },
    { "spanish-outlook",
      "________________________________\nDe: Ana <ana@cliente.example>\nEnviado: lunes, 2 de noviembre de 2026 9:12\n"
      "Para: lena@agentur.example\nAsunto: Presupuesto\n\nHola\n",
      "outlook", false, "ana@cliente.example", "Presupuesto", 1, 0, "Hola" },
    { "italian-outlook",
      "________________________________\nDa: Marco <marco@cliente.example>\nInviato: lunedì 2 novembre 2026 09:12\n"
      "A: lena@agentur.example\nOggetto: Preventivo\n\nCiao\n",
      "outlook", false, "marco@cliente.example", "Preventivo", 1, 0, "Ciao" },
    { "dutch-outlook",
      "________________________________\nVan: Joost <joost@klant.example>\nVerzonden: maandag 2 november 2026 09:12\n"
      "Aan: lena@agentur.example\nOnderwerp: Offerte\n\nHallo\n",
      "outlook", false, "joost@klant.example", "Offerte", 1, 0, "Hallo" },
    { "yahoo-one-line",
      "   ----- Weitergeleitete Nachricht ----- Von: John Doe <john.doe@acme.example>An: "
      "\"b@acme.example\" <b@acme.example>CC: W <w@acme.example>; N <n@globex.example>Gesendet: "
      "Dienstag, 2. November 2021, 09:26:50 MEZBetreff: Integer\n Aenean\n",
      "forward-header", true, "john.doe@acme.example", "Integer", 1, 2, "Aenean" },
    { "html-bold-outlook-mailto",
      "*Von:* Peter Sommer <p@sommer.example<mailto:p@sommer.example>>\n*Gesendet:* Montag, 2. "
      "November 2026 09:12\n*An:* Lena <lena@agentur.example<mailto:lena@agentur.example>>\n"
      "*Betreff:* Angebot\n\nText\n",
      "header-block", false, "p@sommer.example", "Angebot", 1, 0, "Text" },
    { "attribution-de",
      "Am 28.10.2026 um 12:46 schrieb Peter Sommer <p@sommer.example>:\n\n> Zitat\n",
      "attribution", false, "p@sommer.example", NULL, 0, 0, "Zitat" },
    { "attribution-en-wrapped",
      "On Wed, Oct 27, 2021 at 9:31 AM John Doe <\njohn.doe@acme.example> wrote:\n> Quoted\n",
      "attribution", false, "john.doe@acme.example", NULL, 0, 0, "Quoted" },
    { "no-address",
      "-----Original Message-----\nFrom: John Doe\nSent: 23 July 2022 07:53\nTo: Bessie Berry\n"
      "Subject: Integer\n\nBody\n",
      "original-message", false, NULL, "Integer", 0, 0, "Body" },
};

static void
test_formats(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        const Case *c = &cases[i];
        g_test_message("case %s", c->name);
        g_autoptr(ClMessage) m = mail(c->body);
        ClForward *f = only_forward(m);
        g_assert_cmpstr(f->format, ==, c->format);
        g_assert_cmpint(f->explicit_forward, ==, c->explicit_forward);
        g_assert_cmpstr(f->from ? f->from->address : NULL, ==, c->from);
        g_assert_cmpstr(f->subject, ==, c->subject);
        g_assert_cmpuint(f->to->len, ==, c->to);
        g_assert_cmpuint(f->cc->len, ==, c->cc);
        if (!g_str_has_prefix(cl_forward_text(m, f), c->text))
            g_error("text: [%s]", f->text);
    }
}

static void
test_details(void)
{
    g_autoptr(ClMessage) m = mail(cases[0].body);
    ClForward *f = only_forward(m);
    cl_forward_text(m, f);
    g_assert_cmpstr(f->from->name, ==, "Peter Sommer");
    g_assert_cmpint(f->date, ==, utc(2026, 11, 2, 9, 12, 0));
    g_assert_cmpstr(f->date_text, ==, "Montag, 2. November 2026 09:12");
    g_assert_cmpuint(f->comment_lines, ==, 1); /* "Hallo, zur Info." */
    g_assert_cmpstr(((ClAddress *)f->cc->pdata[1])->address, ==, "b@y.example");
    g_assert_cmpuint(f->nested, ==, 0);
}

/* A time without a zone is in the zone of the forwarding mail's Date. */
static void
test_date_zone_of_forward(void)
{
    const char *text =
        "From: Lena <lena@agentur.example>\r\nTo: crm@drop.example\r\nSubject: WG: x\r\n"
        "Date: Thu, 03 Dec 2026 10:00:00 +0100\r\n\r\n"
        "________________________________\r\nVon: Peter <p@sommer.example>\r\n"
        "Gesendet: Mittwoch, 2. Dezember 2026 16:45\r\nAn: lena@agentur.example\r\n"
        "Betreff: x\r\n\r\nText\r\n";
    g_autoptr(GError) error = NULL;
    g_autoptr(ClMessage) m = cl_parse_message_data(text, strlen(text), &error);
    ClForward *f = only_forward(m);
    g_assert_cmpint(f->date, ==, utc(2026, 12, 2, 15, 45, 0));
}

static void
test_nested(void)
{
    g_autoptr(ClMessage) m = mail(
        "---------- Forwarded message ---------\nFrom: Colleague <c@agentur.example>\n"
        "Date: Wed, Oct 27, 2021 at 9:31 AM\nSubject: Fwd: Frage\nTo: <lena@agentur.example>\n\n"
        "fyi\n\n---------- Forwarded message ---------\nFrom: Kunde <k@kunde.example>\n"
        "Date: Tue, Oct 26, 2021 at 8:00 AM\nSubject: Frage\nTo: <c@agentur.example>\n\nText\n");
    ClForward *f = only_forward(m);
    cl_forward_text(m, f);
    /* The outermost forwarded mail is the original; one more inside it. */
    g_assert_cmpstr(f->from->address, ==, "c@agentur.example");
    g_assert_cmpuint(f->nested, ==, 1);
    g_assert_nonnull(strstr(f->text, "k@kunde.example"));
}

static void
test_not_forwards(void)
{
    static const char *bodies[] = {
        "Hallo Herr Sommer,\n\nanbei das Angebot.\nDate: morgen\nViele Grüße\n",
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nText\n",
        "Bitte schreiben Sie an info@kunde.example bis zum 12.05.:\nDanke\n",
        "Agenda:\n1. Begrüßung\n2. Angebot\n",
        "-- \nLena Hoffmann\nTel. 040 1234\n",
        "",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bodies); i++) {
        g_test_message("body %zu", i);
        g_autoptr(ClMessage) m = mail(bodies[i]);
        g_assert_cmpuint(m->forwards->len, ==, 0);
    }
}

static void
test_attached_messages(void)
{
    const char *text =
        "From: Lena <lena@agentur.example>\r\nTo: crm@drop.example\r\nSubject: Fwd: zwei\r\n"
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\n\r\n"
        "--b\r\nContent-Type: message/rfc822\r\n\r\n"
        "From: Peter Sommer <p@sommer.example>\r\nTo: lena@agentur.example\r\n"
        "Cc: x@sommer.example\r\nSubject: =?UTF-8?Q?Br=C3=B6tchen?=\r\n"
        "Date: Mon, 02 Nov 2026 09:12:00 +0100\r\nMessage-ID: <orig1@sommer.example>\r\n\r\n"
        "Erste Mail\r\n"
        "--b\r\nContent-Type: message/rfc822\r\n\r\n"
        "From: Anna <anna@globex.example>\r\nTo: lena@agentur.example\r\nSubject: Zweite\r\n\r\n"
        "Zweite Mail, siehe boss@globex.example\r\n"
        "--b--\r\n";
    g_autoptr(GError) error = NULL;
    g_autoptr(ClMessage) m = cl_parse_message_data(text, strlen(text), &error);
    g_assert_no_error(error);
    g_assert_cmpuint(m->forwards->len, ==, 2);
    ClForward *f = m->forwards->pdata[0];
    g_assert_cmpstr(f->format, ==, "attached-message");
    g_assert_true(f->explicit_forward);
    g_assert_cmpstr(f->from->address, ==, "p@sommer.example");
    g_assert_cmpstr(f->subject, ==, "Brötchen");
    g_assert_cmpstr(f->message_id, ==, "orig1@sommer.example");
    g_assert_cmpint(f->date, ==, utc(2026, 11, 2, 8, 12, 0));
    g_assert_cmpuint(f->cc->len, ==, 1);
    g_assert_cmpstr(f->text, ==, "Erste Mail");
    ClForward *g = m->forwards->pdata[1];
    g_assert_cmpstr(g->from->address, ==, "anna@globex.example");
    /* still attachments too (the .eml files) */
    g_assert_cmpuint(m->attachments->len, ==, 2);
    /* the scan sees headers and text of the attached mails */
    g_assert_true(g_ptr_array_find_with_equal_func(m->scan, "boss@globex.example", g_str_equal, NULL));
    g_assert_true(g_ptr_array_find_with_equal_func(m->scan, "x@sommer.example", g_str_equal, NULL));
}

static void
test_scan(void)
{
    g_autoptr(ClMessage) m = mail("Bitte an <Peter.Sommer@Sommer.example> und mailto:info@x.example.\n"
                                  "Nicht: @nix, a@b, foo@bar.\n");
    const char *want[] = { "lena@agentur.example", "crm@drop.example", "peter.sommer@sommer.example",
                           "info@x.example" };
    g_assert_cmpuint(m->scan->len, ==, G_N_ELEMENTS(want));
    for (gsize i = 0; i < G_N_ELEMENTS(want); i++)
        g_assert_cmpstr(m->scan->pdata[i], ==, want[i]);
}

static void
test_dates(void)
{
    static const struct {
        const char *text;
        int y, mo, d, h, mi, s;
    } dates[] = {
        { "Wed, Oct 27, 2021 at 9:31 AM", 2021, 10, 27, 9, 31, 0 },
        { "Thursday, 6 April 2023 at 16:17", 2023, 4, 6, 16, 17, 0 },
        { "Montag, 19. September 2022, 17:55:44 -0400", 2022, 9, 19, 21, 55, 44 },
        { "Dienstag, 2. November 2021, 09:26:50 MEZ", 2021, 11, 2, 8, 26, 50 },
        { "jeudi, 28 octobre 2021 à 12:06", 2021, 10, 28, 12, 6, 0 },
        { "17 août 2022 à 09:06:24 UTC+2", 2022, 8, 17, 7, 6, 24 },
        { "lunes, 2 de noviembre de 2026 9:12", 2026, 11, 2, 9, 12, 0 },
        { "mar., 27 oct. 2021 09:31", 2021, 10, 27, 9, 31, 0 },
        { "July 19, 2022 at 3:09 PM", 2022, 7, 19, 15, 9, 0 },
        { "28.10.2026 um 12:46", 2026, 10, 28, 12, 46, 0 },
        { "tirsdag den 2. november 2021 09.26.50 CET", 2021, 11, 2, 8, 26, 50 },
        { "st 27. 10. 2021 v 9:31", 2021, 10, 27, 9, 31, 0 },
        { "Mon, 2 Nov 2026 09:12:00 +0100", 2026, 11, 2, 8, 12, 0 },
        { "26 октября 2021 г. в 14:25:08 GMT+3", 2021, 10, 26, 11, 25, 8 },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(dates); i++) {
        g_test_message("date %s", dates[i].text);
        g_assert_cmpint(parse_loose_date(dates[i].text, NULL), ==,
                        utc(dates[i].y, dates[i].mo, dates[i].d, dates[i].h, dates[i].mi,
                            dates[i].s));
    }
    g_assert_cmpint(parse_loose_date("gestern", NULL), ==, 0);
    g_assert_cmpint(parse_loose_date("", NULL), ==, 0);
    bool zoned = true;
    parse_loose_date("28.10.2026 um 12:46", &zoned);
    g_assert_false(zoned);
    parse_loose_date("Dienstag, 2. November 2021, 09:26:50 MEZ", &zoned);
    g_assert_true(zoned);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    cl_parse_init();
    g_test_add_func("/forward/formats", test_formats);
    g_test_add_func("/forward/details", test_details);
    g_test_add_func("/forward/nested", test_nested);
    g_test_add_func("/forward/date-zone", test_date_zone_of_forward);
    g_test_add_func("/forward/not-forwards", test_not_forwards);
    g_test_add_func("/forward/attached-messages", test_attached_messages);
    g_test_add_func("/forward/scan", test_scan);
    g_test_add_func("/forward/dates", test_dates);
    return g_test_run();
}
