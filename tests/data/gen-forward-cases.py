#!/usr/bin/env python3
"""Writes the forwarded-mail cases of the golden test (issue 3): tests/data/mail/f*, g*.

    python3 tests/data/gen-forward-cases.py      # rewrite the files (then review git diff)

Each case is a mail Anna Berg (tenant alpha, tests/data/masterdata.json) forwards to the drop
address, in the format of a mail program and the words of a language, with its expected result
line (CASE.expect.json) and a subset of `show --json` (CASE.show.json). The expectations are
written here by hand from DESIGN §2 rule 5 — never taken from the binary's output.
"""
import json
import os
from email.header import Header

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "mail")

ANNA = "Anna Berg <anna.berg@alpha-agentur.example>"
DROP = "crm@contactlog.example"
JM = ("Jürgen Müller", "j.mueller@acme-maschinen.example")
SK = ("Sabine Krause", "s.krause@acme-maschinen.example")
TG = ("Theo Grün", "t.gruen@baumschule-gruen.example")
DATE = "Thu, 03 Dec 2026 10:00:00 +0100"
ORIG_SUBJECT = "Angebot Lead 11111"
BODY = ("Sehr geehrte Frau Berg,\n\nbitte senden Sie uns das Angebot.\n\n"
        "Mit freundlichen Grüßen\nJürgen Müller")
WHEN = "2026-12-02T15:45:00Z"  # 16:45 in the zone of the forwarding mail (+0100)

ROUTE = [{"field": "tenant", "rule": "sender-domain", "detail": "alpha-agentur.example"},
         {"field": "user", "rule": "sender-address", "detail": "anna.berg@alpha-agentur.example"}]

# Header words, separators and dates as the mail programs write them.
LANGS = {
    "de": dict(frm="Von", sent="Gesendet", to="An", cc="Cc", subj="Betreff", date="Datum",
               gmail="---------- Weitergeleitete Nachricht ---------",
               tb="-------- Weitergeleitete Nachricht --------",
               orig="-----Ursprüngliche Nachricht-----",
               apple="Anfang der weitergeleiteten Nachricht:", prefix="WG:",
               outlook_date="Mittwoch, 2. Dezember 2026 16:45",
               gmail_date="Mi., 2. Dez. 2026 um 16:45 Uhr",
               apple_date="2. Dezember 2026 um 16:45:00 MEZ",
               tb_subj="Betreff", tb_date="Datum", tb_from="Von", tb_to="An"),
    "en": dict(frm="From", sent="Sent", to="To", cc="Cc", subj="Subject", date="Date",
               gmail="---------- Forwarded message ---------",
               tb="-------- Forwarded Message --------",
               orig="-----Original Message-----",
               apple="Begin forwarded message:", prefix="FW:",
               outlook_date="Wednesday, December 2, 2026 4:45 PM",
               gmail_date="Wed, Dec 2, 2026 at 4:45 PM",
               apple_date="2 December 2026 at 16:45:00 CET",
               tb_subj="Subject", tb_date="Date", tb_from="From", tb_to="To"),
    "fr": dict(frm="De", sent="Envoyé", to="À", cc="Cc", subj="Objet", date="Date",
               gmail="---------- Message transféré ---------",
               tb="-------- Message transféré --------",
               orig="-----Message d'origine-----",
               apple="Début du message réexpédié :", prefix="TR :",
               outlook_date="mercredi 2 décembre 2026 16:45",
               gmail_date="mer. 2 déc. 2026 à 16:45",
               apple_date="2 décembre 2026 à 16:45:00 UTC+1",
               tb_subj="Sujet :", tb_date="Date :", tb_from="De :", tb_to="Pour :"),
    "es": dict(frm="De", sent="Enviado", to="Para", cc="CC", subj="Asunto", date="Fecha",
               gmail="---------- Mensaje reenviado ---------",
               tb="-------- Mensaje reenviado --------",
               orig="-----Mensaje original-----",
               apple="Inicio del mensaje reenviado:", prefix="RV:",
               outlook_date="miércoles, 2 de diciembre de 2026 16:45",
               gmail_date="mié, 2 dic 2026 a las 16:45",
               apple_date="2 de diciembre de 2026, 16:45:00 CET",
               tb_subj="Asunto", tb_date="Fecha", tb_from="De", tb_to="Para"),
    "it": dict(frm="Da", sent="Inviato", to="A", cc="Cc", subj="Oggetto", date="Data",
               gmail="---------- Messaggio inoltrato ---------",
               tb="-------- Messaggio Inoltrato --------",
               orig="-----Messaggio originale-----",
               apple="Inizio messaggio inoltrato:", prefix="I:",
               outlook_date="mercoledì 2 dicembre 2026 16:45",
               gmail_date="mer 2 dic 2026 alle ore 16:45",
               apple_date="2 dicembre 2026 16:45:00 CET",
               tb_subj="Oggetto:", tb_date="Data:", tb_from="Mittente:", tb_to="A:"),
    "nl": dict(frm="Van", sent="Verzonden", to="Aan", cc="CC", subj="Onderwerp", date="Datum",
               gmail="---------- Doorgestuurd bericht ---------",
               tb="-------- Doorgestuurd bericht --------",
               orig="-----Oorspronkelijk bericht-----",
               apple="Begin doorgestuurd bericht:", prefix="Doorst:",
               outlook_date="woensdag 2 december 2026 16:45",
               gmail_date="wo 2 dec. 2026 om 16:45",
               apple_date="2 december 2026 om 16:45:00 CET",
               tb_subj="Onderwerp:", tb_date="Datum:", tb_from="Van:", tb_to="Aan:"),
}


def addr(p):
    return f"{p[0]} <{p[1]}>"


def mime_header(value):
    return value if value.isascii() else Header(value, "utf-8").encode()


def mail(name, subject, body, extra=(), content_type="text/plain; charset=utf-8", raw_body=False):
    lines = [f"From: {ANNA}", f"To: {DROP}", f"Subject: {mime_header(subject)}", f"Date: {DATE}",
             f"Message-ID: <{name}@golden.example>", *extra, "MIME-Version: 1.0"]
    if not raw_body:
        lines += [f"Content-Type: {content_type}", "Content-Transfer-Encoding: 8bit"]
    return ("\n".join(lines) + "\n\n" + body + ("" if body.endswith("\n") else "\n")).encode()


def expect(fmt, rule="inline-forward", contacts=(("jmueller", "original-sender", JM[1]),),
           company="acme", lead="11111", lead_rule="subject-number", candidates=None,
           forwarded=True, extra_reasons=(), lead_detail=None):
    reasons = list(ROUTE)
    if forwarded:
        reasons.append({"field": "forwarded", "rule": rule,
                        "detail": "message/rfc822" if rule == "attached-message" else fmt})
    for key, crule, detail in contacts:
        reasons.append({"field": "contact", "rule": crule, "detail": detail})
    reasons += list(extra_reasons)
    if contacts:
        reasons.append({"field": "company", "rule": "primary-contact", "detail": contacts[0][0]})
    if lead:
        reasons.append({"field": "lead", "rule": lead_rule, "detail": lead_detail or lead})
    e = {"status": "pending", "tenant": "alpha", "user": "anna", "company": company,
         "contact": contacts[0][0] if contacts else None, "contacts": [c[0] for c in contacts],
         "lead": lead, "project": None, "forwarded": forwarded, "reasons": reasons}
    if candidates:
        e["candidates"] = candidates
    return e


def show(subject=ORIG_SUBJECT, sender=JM[1], text=BODY, when=WHEN):
    s = {"forwarded": True, "subject": subject,
         "original": {"from": [{"address": sender}] if sender else []}}
    if when:
        s["contact_time"] = when
    if text is not None:
        s["original"]["text"] = text
    return s


cases = {}


def case(name, data, exp, sh=None):
    cases[name] = (data, exp, sh)


# ---- 1. the client formats, in six languages --------------------------------------------
for lang, w in LANGS.items():
    subject = f"{w['prefix']} {ORIG_SUBJECT}"
    sig = "Anna Berg\nAlpha Werbeagentur GmbH\n"
    block = (f"{w['frm']}: {addr(JM)}\n{w['sent']}: {w['outlook_date']}\n{w['to']}: {addr(('Anna Berg', 'anna.berg@alpha-agentur.example'))}\n"
             f"{w['cc']}: {addr(SK)}\n{w['subj']}: {ORIG_SUBJECT}\n")
    two = (("jmueller", "original-sender", JM[1]), ("skrause", "original-recipient", SK[1]))

    # Outlook: signature, underscore rule, header block (Cc: a second contact).
    case(f"f-outlook-{lang}", mail(f"f-outlook-{lang}", subject,
                                   f"\n{sig}\n________________________________\n{block}\n{BODY}\n"),
         expect("outlook", contacts=two), show())

    # "-----Original Message-----" (Outlook, also used for replies).
    case(f"f-original-{lang}", mail(f"f-original-{lang}", subject,
                                    f"{w['orig']}\n{block}\n{BODY}\n"),
         expect("original-message", contacts=two), show())

    # Gmail: separator, From/Date/Subject/To.
    gblock = (f"{w['frm']}: {addr(JM)}\n{w['date']}: {w['gmail_date']}\n{w['subj']}: {ORIG_SUBJECT}\n"
              f"{w['to']}: <anna.berg@alpha-agentur.example>\n")
    case(f"f-gmail-{lang}", mail(f"f-gmail-{lang}", f"Fwd: {ORIG_SUBJECT}",
                                 f"\n\n{w['gmail']}\n{gblock}\n{BODY}\n"),
         expect("forward-header"), show())

    # Apple Mail: title, the original quoted with '>'.
    quoted = "\n".join("> " + l if l else ">" for l in
                       [f"{w['frm']}: {addr(JM)}", f"{w['subj']}: {ORIG_SUBJECT}",
                        f"{w['date']}: {w['apple_date']}", f"{w['to']}: anna.berg@alpha-agentur.example",
                        ""] + BODY.split("\n"))
    case(f"f-apple-{lang}", mail(f"f-apple-{lang}", f"{w['prefix']} {ORIG_SUBJECT}",
                                 f"\n\n{w['apple']}\n\n{quoted}\n"),
         expect("forward-header"), show())

    # Thunderbird: separator, Subject/Date/From/To with tabs.
    def tbf(word):
        return word if word.endswith(":") else word + ":"
    tblock = (f"{tbf(w['tb_subj'])} \t{ORIG_SUBJECT}\n{tbf(w['tb_date'])} \tWed, 2 Dec 2026 16:45:00 +0100\n"
              f"{tbf(w['tb_from'])} \t{addr(JM)}\n{tbf(w['tb_to'])} \tanna.berg@alpha-agentur.example\n")
    case(f"f-thunderbird-{lang}", mail(f"f-thunderbird-{lang}", f"Fwd: {ORIG_SUBJECT}",
                                       f"\n\n\n{w['tb']}\n{tblock}\n\n\n{BODY}\n"),
         expect("forward-header"), show())

    # Outlook HTML only: the header block in a paragraph with bold names.
    html = (f"<html><body><p>{sig.replace(chr(10), '<br>')}</p>"
            f"<div style=\"border:none;border-top:solid #E1E1E1 1.0pt\"><p><b>{w['frm']}:</b> "
            f"{JM[0]} &lt;{JM[1]}&gt;<br><b>{w['sent']}:</b> {w['outlook_date']}<br>"
            f"<b>{w['to']}:</b> Anna Berg &lt;anna.berg@alpha-agentur.example&gt;<br>"
            f"<b>{w['subj']}:</b> {ORIG_SUBJECT}</p></div>"
            f"<p>{BODY.replace(chr(10) + chr(10), '</p><p>').replace(chr(10), '<br>')}</p></body></html>")
    case(f"f-outlook-html-{lang}", mail(f"f-outlook-html-{lang}", subject, html,
                                        content_type="text/html; charset=utf-8"),
         expect("header-block"), show(text=None))

    # Gmail HTML only (the gmail_quote block).
    ghtml = (f"<div dir=\"ltr\"><br><br><div class=\"gmail_quote\"><div dir=\"ltr\" class=\"gmail_attr\">"
             f"{w['gmail']}<br>{w['frm']}: <strong class=\"gmail_sendername\" dir=\"auto\">{JM[0]}</strong> "
             f"<span dir=\"auto\">&lt;<a href=\"mailto:{JM[1]}\">{JM[1]}</a>&gt;</span><br>"
             f"{w['date']}: {w['gmail_date']}<br>{w['subj']}: {ORIG_SUBJECT}<br>"
             f"{w['to']}: &lt;<a href=\"mailto:anna.berg@alpha-agentur.example\">anna.berg@alpha-agentur.example</a>&gt;<br>"
             f"</div><br><br><div dir=\"ltr\">{BODY.replace(chr(10), '<br>')}</div></div></div>")
    case(f"f-gmail-html-{lang}", mail(f"f-gmail-html-{lang}", f"Fwd: {ORIG_SUBJECT}", ghtml,
                                      content_type="text/html; charset=utf-8"),
         expect("forward-header"), show(text=None))

# ---- 2. more clients and languages ---------------------------------------------------------
MORE = {  # outlook-style blocks in further languages of the mail programs
    "pt": ("De", "Enviado", "Para", "Assunto", "ENC:"),
    "da": ("Fra", "Sendt", "Til", "Emne", "VS:"),
    "sv": ("Från", "Skickat", "Till", "Ämne", "VB:"),
    "pl": ("Od", "Wysłano", "Do", "Temat", "PD:"),
    "fi": ("Lähettäjä", "Lähetetty", "Vastaanottaja", "Aihe", "VL:"),
    "tr": ("Kimden", "Gönderildi", "Kime", "Konu", "İLT:"),
    "cs": ("Od", "Odesláno", "Komu", "Předmět", "Fwd:"),
    "hu": ("Feladó", "Elküldve", "Címzett", "Tárgy", "Fwd:"),
}
for lang, (frm, sent, to, subj, prefix) in MORE.items():
    block = (f"{frm}: {addr(JM)}\n{sent}: 02.12.2026 16:45\n{to}: anna.berg@alpha-agentur.example\n"
             f"{subj}: {ORIG_SUBJECT}\n")
    case(f"f-outlook-{lang}", mail(f"f-outlook-{lang}", f"{prefix} {ORIG_SUBJECT}",
                                   f"________________________________\n{block}\n{BODY}\n"),
         expect("outlook"), show())

# Yahoo: the fields on the separator line.
case("f-yahoo-de", mail("f-yahoo-de", f"WG: {ORIG_SUBJECT}",
                        f"   ----- Weitergeleitete Nachricht ----- Von: {addr(JM)}An: \"anna.berg@alpha-agentur.example\" "
                        f"<anna.berg@alpha-agentur.example>Gesendet: Mittwoch, 2. Dezember 2026, 16:45:00 MEZ"
                        f"Betreff: {ORIG_SUBJECT}\n {BODY}\n"),
     expect("forward-header"), show())
case("f-yahoo-en", mail("f-yahoo-en", f"Fwd: {ORIG_SUBJECT}",
                        f"   ----- Forwarded Message ----- From: {addr(JM)}To: \"anna.berg@alpha-agentur.example\" "
                        f"<anna.berg@alpha-agentur.example>Sent: Wednesday, December 2, 2026, 04:45:00 PM GMT+1"
                        f"Subject: {ORIG_SUBJECT}\n {BODY}\n"),
     expect("forward-header"), show())
# New Outlook: the block without a rule, Datum instead of Gesendet.
case("f-new-outlook-de", mail("f-new-outlook-de", f"WG: {ORIG_SUBJECT}",
                              f"Von: {addr(JM)}\nDatum: Mittwoch, 2. Dezember 2026 um 16:45\n"
                              f"An: Anna Berg <anna.berg@alpha-agentur.example>\nBetreff: {ORIG_SUBJECT}\n\n{BODY}\n"),
     expect("header-block"), show())
# French spacing and non-breaking spaces before the colon.
case("f-new-outlook-fr-nbsp", mail("f-new-outlook-fr-nbsp", f"TR : {ORIG_SUBJECT}",
                                   f"De\u00a0: {addr(JM)}\nDate\u00a0: mercredi 2 décembre 2026 à 16:45\n"
                                   f"À\u00a0: anna.berg@alpha-agentur.example\nObjet\u00a0: {ORIG_SUBJECT}\n\n{BODY}\n"),
     expect("header-block"), show())
# Outlook 2013: [mailto:], and what HTML-to-text of Outlook leaves: <mailto:>.
case("f-outlook-mailto", mail("f-outlook-mailto", f"FW: {ORIG_SUBJECT}",
                              f"From: {JM[0]} [mailto:{JM[1]}]\nSent: Wednesday, December 2, 2026 4:45 PM\n"
                              f"To: anna.berg@alpha-agentur.example\nCc: {SK[0]} [mailto:{SK[1]}]\n"
                              f"Subject: {ORIG_SUBJECT}\n\n{BODY}\n"),
     expect("header-block", contacts=(("jmueller", "original-sender", JM[1]),
                                      ("skrause", "original-recipient", SK[1]))), show())
case("f-outlook-angle-mailto", mail("f-outlook-angle-mailto", f"WG: {ORIG_SUBJECT}",
                                    f"________________________________\nVon: {JM[0]} <{JM[1]}<mailto:{JM[1]}>>\n"
                                    f"Gesendet: Mittwoch, 2. Dezember 2026 16:45\n"
                                    f"An: Anna Berg <anna.berg@alpha-agentur.example<mailto:anna.berg@alpha-agentur.example>>\n"
                                    f"Betreff: {ORIG_SUBJECT}\n\n{BODY}\n"),
     expect("outlook"), show())
# Quoted with '>' as a whole (a forward inside a quote-everything client).
qblock = "\n".join("> " + l if l else ">" for l in
                   ["-----Original Message-----", f"From: {addr(JM)}", "Sent: Wednesday, December 2, 2026 4:45 PM",
                    "To: anna.berg@alpha-agentur.example", f"Subject: {ORIG_SUBJECT}", ""] + BODY.split("\n"))
case("f-quoted-original-en", mail("f-quoted-original-en", f"FW: {ORIG_SUBJECT}", qblock + "\n"),
     expect("original-message"), show())
# A comment above the forward.
case("f-comment-de", mail("f-comment-de", f"WG: {ORIG_SUBJECT}",
                          "Zur Info, siehe unten. Bitte bis Freitag.\n\nGruß Anna\n\n"
                          f"---------- Weitergeleitete Nachricht ---------\nVon: {addr(JM)}\n"
                          f"Date: Mi., 2. Dez. 2026 um 16:45 Uhr\nSubject: {ORIG_SUBJECT}\n"
                          f"To: <anna.berg@alpha-agentur.example>\n\n{BODY}\n"),
     expect("forward-header"), show())
# Nested: Ben forwarded the customer's mail to Anna, Anna forwards it to the drop address.
# The outer original is Ben's (a user, no contact): the customer is found by the scan.
nested = (f"---------- Forwarded message ---------\nFrom: Ben Kaya <ben.kaya@alpha-agentur.example>\n"
          f"Date: Wed, Dec 2, 2026 at 5:00 PM\nSubject: Fwd: {ORIG_SUBJECT}\nTo: {ANNA}\n\nFür dich.\n\n"
          f"---------- Forwarded message ---------\nFrom: {addr(JM)}\nDate: Wed, Dec 2, 2026 at 4:45 PM\n"
          f"Subject: {ORIG_SUBJECT}\nTo: <ben.kaya@alpha-agentur.example>\n\n{BODY}\n")
case("f-nested-en", mail("f-nested-en", f"Fwd: Fwd: {ORIG_SUBJECT}", nested),
     expect("forward-header", contacts=(("jmueller", "message-scan", JM[1]),)),
     show(sender="ben.kaya@alpha-agentur.example", text=None, when="2026-12-02T16:00:00Z"))
# An attribution line ("Am ... schrieb ...:"), forwarded to the drop address only.
case("f-attribution-de", mail("f-attribution-de", f"WG: {ORIG_SUBJECT}",
                              f"Am 02.12.2026 um 16:45 schrieb {addr(JM)}:\n\n" +
                              "\n".join("> " + l if l else ">" for l in BODY.split("\n")) + "\n"),
     expect("attribution"), show(subject=ORIG_SUBJECT, text=BODY))
case("f-attribution-en", mail("f-attribution-en", f"Fwd: {ORIG_SUBJECT}",
                              f"On Wed, Dec 2, 2026 at 4:45 PM {JM[0]} <\n{JM[1]}> wrote:\n\n" +
                              "\n".join("> " + l if l else ">" for l in BODY.split("\n")) + "\n"),
     expect("attribution"), show(subject=ORIG_SUBJECT, text=BODY))


# ---- 3. forward as attachment ----------------------------------------------------------------
def inner(sender, subject, mid, body=BODY, cc=None):
    h = [f"From: {addr(sender)}", "To: Anna Berg <anna.berg@alpha-agentur.example>"]
    if cc:
        h.append(f"Cc: {addr(cc)}")
    h += [f"Subject: {mime_header(subject)}", "Date: Wed, 02 Dec 2026 16:45:00 +0100",
          f"Message-ID: <{mid}@acme.example>", "MIME-Version: 1.0",
          "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
    return "\n".join(h) + "\n\n" + body + "\n"


def attached(name, subject, inners, text=""):
    parts = [f"--b\nContent-Type: text/plain; charset=utf-8\n\n{text}\n"]
    for i, m in enumerate(inners):
        parts.append(f"--b\nContent-Type: message/rfc822\nContent-Disposition: attachment; "
                     f"filename=\"mail{i + 1}.eml\"\n\n{m}")
    body = "".join(parts) + "--b--\n"
    return mail(name, subject, body, extra=["Content-Type: multipart/mixed; boundary=b"], raw_body=True)


case("f-attached-one", attached("f-attached-one", f"Fwd: {ORIG_SUBJECT}",
                                [inner(JM, ORIG_SUBJECT, "att1", cc=SK)]),
     expect("attached-message", rule="attached-message",
            contacts=(("jmueller", "original-sender", JM[1]), ("skrause", "original-recipient", SK[1]))),
     show())
case("f-attached-two", attached("f-attached-two", "Fwd: zwei Mails",
                                [inner(JM, "Rückfrage Lead 11111", "att2a"), inner(TG, "Frühjahr", "att2b")]),
     expect("attached-message", rule="attached-message",
            contacts=(("jmueller", "original-sender", JM[1]), ("tgruen", "original-sender", TG[1]))),
     show(subject="Rückfrage Lead 11111"))
case("f-attached-encoded-subject", attached("f-attached-encoded-subject", "WG: Weiterleitung",
                                            [inner(JM, "Brötchentüten Lead 11111", "att3")],
                                            text="Siehe Anhang."),
     expect("attached-message", rule="attached-message"),
     show(subject="Brötchentüten Lead 11111"))
case("f-attached-no-text", attached("f-attached-no-text", "Mail von Herrn Müller",
                                    [inner(JM, ORIG_SUBJECT, "att4")]),
     expect("attached-message", rule="attached-message"), show())

# ---- 4. who is the contact: the original's sender, recipients, the scan, the domain ---------
case("g-original-cc-only", mail("g-original-cc-only", f"WG: {ORIG_SUBJECT}",
                                f"________________________________\nVon: Einkauf <einkauf@lieferant.example>\n"
                                f"Gesendet: Mittwoch, 2. Dezember 2026 16:45\nAn: anna.berg@alpha-agentur.example\n"
                                f"Cc: {addr(SK)}\nBetreff: {ORIG_SUBJECT}\n\nText\n"),
     expect("outlook", contacts=(("skrause", "original-recipient", SK[1]),)),
     show(sender="einkauf@lieferant.example", text="Text"))
case("g-scan-signature", mail("g-scan-signature", f"WG: {ORIG_SUBJECT}",
                              f"________________________________\nVon: Zentrale <zentrale@lieferant.example>\n"
                              f"Gesendet: Mittwoch, 2. Dezember 2026 16:45\nAn: anna.berg@alpha-agentur.example\n"
                              f"Betreff: {ORIG_SUBJECT}\n\nIhr Ansprechpartner: Herr Müller, {JM[1]}\n"),
     expect("outlook", contacts=(("jmueller", "message-scan", JM[1]),)),
     show(sender="zentrale@lieferant.example", text=f"Ihr Ansprechpartner: Herr Müller, {JM[1]}"))
case("g-company-domain", mail("g-company-domain", f"WG: {ORIG_SUBJECT}",
                              f"________________________________\nVon: Neu Kollege <neu.kollege@acme-maschinen.example>\n"
                              f"Gesendet: Mittwoch, 2. Dezember 2026 16:45\nAn: anna.berg@alpha-agentur.example\n"
                              f"Betreff: {ORIG_SUBJECT}\n\nText\n"),
     expect("outlook", contacts=(), extra_reasons=(
         {"field": "company", "rule": "company-domain", "detail": "acme-maschinen.example"},
         {"field": "contact", "rule": "suggest-create", "detail": "neu.kollege@acme-maschinen.example"})),
     show(sender="neu.kollege@acme-maschinen.example", text="Text"))
# The same original sender in the other tenant only: nothing of beta is seen from alpha.
case("g-other-tenant-original", mail("g-other-tenant-original", "WG: Speisekarte",
                                     f"________________________________\nVon: Kai Ahrens <k.ahrens@acme-nord.example>\n"
                                     f"Gesendet: Mittwoch, 2. Dezember 2026 16:45\nAn: anna.berg@alpha-agentur.example\n"
                                     f"Betreff: Speisekarte 30101\n\nText\n"),
     expect("outlook", contacts=(), company=None, lead=None),
     show(subject="Speisekarte 30101", sender="k.ahrens@acme-nord.example", text="Text"))

# ---- 5. a reply is no forward; a quote to a colleague is ------------------------------------
case("g-reply-not-forward", mail("g-reply-not-forward", "AW: Angebot",
                                 "Hallo Herr Müller,\n\ndas Angebot kommt morgen.\n\nAnna\n\n"
                                 f"________________________________\nVon: {addr(JM)}\n"
                                 "Gesendet: Mittwoch, 2. Dezember 2026 16:45\nAn: anna.berg@alpha-agentur.example\n"
                                 f"Betreff: {ORIG_SUBJECT}\n\n{BODY}\n").replace(
                                     f"To: {DROP}".encode(), f"To: {addr(JM)}".encode()),
     expect("outlook", forwarded=False, contacts=(("jmueller", "recipient-address", JM[1]),), lead=None),
     None)
# A reply to a colleague that quotes the customer: no forward (a reply, and it does not say
# it forwards); the customer is found by the scan, the entry keeps the reply's own subject.
case("g-quote-to-colleague", mail("g-quote-to-colleague", "AW: Angebot",
                                  "Ben, kannst du das übernehmen?\n\n"
                                  f"Am 02.12.2026 um 16:45 schrieb {addr(JM)}:\n> Bitte Angebot Lead 11111.\n").replace(
                                      f"To: {DROP}".encode(), b"To: Ben Kaya <ben.kaya@alpha-agentur.example>"),
     expect("", forwarded=False, contacts=(("jmueller", "message-scan", JM[1]),), lead=None),
     {"forwarded": False, "subject": "AW: Angebot", "original": None})
# A reply in a thread that began with a forward ("AW: WG:"): mail to the contact it is sent to.
case("g-reply-in-forward-thread", mail("g-reply-in-forward-thread", "AW: WG: Empfehlung Druckerei",
                                       "Danke, ich melde mich.\n\n________________________________\n"
                                       f"Von: {addr(TG)}\nGesendet: Mittwoch, 2. Dezember 2026 16:45\n"
                                       f"An: {addr(JM)}\nBetreff: Empfehlung Druckerei\n\nText\n").replace(
                                           f"To: {DROP}".encode(), f"To: {addr(JM)}".encode()),
     expect("", forwarded=False, contacts=(("jmueller", "recipient-address", JM[1]),), lead=None), None)
# A forward sent to a customer (drop address in Bcc): mail to that customer.
case("g-forward-to-contact", mail("g-forward-to-contact", "WG: Beispiel Katalog",
                                  "Liebe Frau Krause, hier ein Beispiel.\n\n-----Ursprüngliche Nachricht-----\n"
                                  f"Von: {addr(TG)}\nGesendet: Mittwoch, 2. Dezember 2026 16:45\n"
                                  "An: anna.berg@alpha-agentur.example\nBetreff: Frühjahrskatalog\n\nText\n").replace(
                                      f"To: {DROP}".encode(), f"To: {addr(SK)}".encode()),
     expect("", forwarded=False, contacts=(("skrause", "recipient-address", SK[1]),), lead=None), None)
# Comments above a forward that look like what they are not.
case("g-comment-address-colon", mail("g-comment-address-colon", f"WG: {ORIG_SUBJECT}",
                                     f"Zur Info – Rechnung bitte an Herrn Grün ({TG[1]}), Stand 13.11.:\n\n"
                                     f"________________________________\nVon: {addr(JM)}\n"
                                     "Gesendet: Mittwoch, 2. Dezember 2026 16:45\nAn: anna.berg@alpha-agentur.example\n"
                                     f"Betreff: {ORIG_SUBJECT}\n\n{BODY}\n"),
     expect("outlook"), show())
case("g-comment-schrieb", mail("g-comment-schrieb", f"WG: {ORIG_SUBJECT}",
                               "Herr Müller schrieb mir gestern dazu noch:\n\n"
                               f"________________________________\nVon: {addr(JM)}\n"
                               "Gesendet: Mittwoch, 2. Dezember 2026 16:45\nAn: anna.berg@alpha-agentur.example\n"
                               f"Betreff: {ORIG_SUBJECT}\n\n{BODY}\n"),
     expect("outlook"), show())
# A note that looks like header fields is no forwarded mail.
case("g-note-not-a-block", mail("g-note-not-a-block", "WG: Notiz",
                                "Von: 14 Uhr\nAn: Filiale Mitte\nBetreff: Fotos der Schilder\nDatum: egal\n\nTschüss\n"),
     expect("", forwarded=False, contacts=(), company=None, lead=None), None)
# A reply to a new address of a customer, quoting the customer: the reply is the entry.
case("g-reply-to-new-address", mail("g-reply-to-new-address", "AW: Öffnungszeiten",
                                    "Gerne, bis Freitag.\n\n"
                                    f"Am 10.11.2026 um 08:15 schrieb {addr(JM)}:\n> Wann haben Sie geöffnet?\n").replace(
                                        f"To: {DROP}".encode(), b"To: Info <info@lieferant.example>"),
     expect("", forwarded=False, contacts=(("jmueller", "message-scan", JM[1]),), lead=None),
     {"forwarded": False, "subject": "AW: Öffnungszeiten", "contact_time": "2026-12-03T09:00:00Z"})
# The scan finds contacts of two companies: none chosen, both candidates.
case("g-scan-two-companies", mail("g-scan-two-companies", "Adressen",
                                  f"Bitte an {JM[1]} und {TG[1]} weitergeben.\n").replace(
                                      f"To: {DROP}".encode(), b"To: Jemand <jemand@nirgendwo.example>"),
     {"status": "pending", "tenant": "alpha", "user": "anna", "company": None, "contact": None,
      "contacts": [], "lead": None, "project": None, "forwarded": False,
      "reasons": ROUTE + [{"field": "contact", "rule": "message-scan", "detail": "contacts of several companies"}],
      "candidates": {"contact": ["jmueller", "tgruen"]}}, None)
# A subdomain of a company's registered domain.
case("g-subdomain", mail("g-subdomain", "Lieferzeiten", "Hallo,\nwie lange dauert es?\n").replace(
         f"To: {DROP}".encode(), b"To: Vertrieb <vertrieb@mail.acme-maschinen.example>"),
     expect("", forwarded=False, contacts=(), lead=None, extra_reasons=(
         {"field": "company", "rule": "company-domain", "detail": "acme-maschinen.example"},
         {"field": "contact", "rule": "suggest-create", "detail": "vertrieb@mail.acme-maschinen.example"})),
     None)
# A forwarded mail cannot be younger than the forward: such a date is not taken.
case("g-impossible-date", mail("g-impossible-date", f"WG: {ORIG_SUBJECT}",
                               f"________________________________\nVon: {addr(JM)}\n"
                               "Gesendet: Donnerstag, 12. November 2199 10:00\nAn: anna.berg@alpha-agentur.example\n"
                               f"Betreff: {ORIG_SUBJECT}\n\n{BODY}\n"),
     expect("outlook"), show(when="2026-12-03T09:00:00Z"))

# ---- 6. both subjects (rules 6 and 7) ----------------------------------------------------------
def outlook_fwd(name, subject, orig_subject, sender=JM):
    return mail(name, subject, f"________________________________\nVon: {addr(sender)}\n"
                               f"Gesendet: Mittwoch, 2. Dezember 2026 16:45\nAn: anna.berg@alpha-agentur.example\n"
                               f"Betreff: {orig_subject}\n\nText\n")


case("g-number-in-forward-subject", outlook_fwd("g-number-in-forward-subject", "WG: 11111", "Rückfrage"),
     expect("outlook"), show(subject="Rückfrage", text="Text"))
case("g-number-in-original-subject", outlook_fwd("g-number-in-original-subject", "WG: Rückfrage",
                                                 "Rückfrage Lead 11111"),
     expect("outlook"), show(subject="Rückfrage Lead 11111", text="Text"))
case("g-two-subjects-two-leads", outlook_fwd("g-two-subjects-two-leads", "WG: Lead 11111", "Angebot 22222"),
     expect("outlook", lead=None, candidates={"lead": ["11111", "22222"]}),
     show(subject="Angebot 22222", text="Text"))
case("g-name-in-original-subject", outlook_fwd("g-name-in-original-subject", "WG: Info",
                                               "AW: Neues Logo für 2027"),
     expect("outlook", lead="11112", lead_rule="subject-name", lead_detail="Logo"),
     show(subject="Neues Logo für 2027", text="Text"))
case("g-prefix-stack", outlook_fwd("g-prefix-stack", "WG: AW: Fwd: RE: Lead 11111", "AW: Lead 11111"),
     expect("outlook"), show(subject="Lead 11111", text="Text"))
case("g-project-offer", outlook_fwd("g-project-offer", "WG: Messe", "Bestellung 4711"),
     dict(expect("outlook", lead=None), project="messe",
          reasons=ROUTE + [{"field": "forwarded", "rule": "inline-forward", "detail": "outlook"},
                           {"field": "contact", "rule": "original-sender", "detail": JM[1]},
                           {"field": "company", "rule": "primary-contact", "detail": "jmueller"},
                           {"field": "project", "rule": "subject-offer-number", "detail": "4711"}]),
     show(subject="Bestellung 4711", text="Text"))
case("g-baum-original", outlook_fwd("g-baum-original", "WG: Straßenfest", "Straßenfest 2027", sender=TG),
     expect("outlook", contacts=(("tgruen", "original-sender", TG[1]),), company="baum", lead="22224",
            lead_rule="subject-name", lead_detail="Straßenfest"),
     show(subject="Straßenfest 2027", sender=TG[1], text="Text"))

# ---- 7. duplicates without Message-ID; a reply in a thread -------------------------------------
noid = (f"From: {ANNA}\nTo: {addr(JM)}\nSubject: Notiz ohne Message-ID\nDate: {DATE}\n"
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nKurze Notiz.\n")
case("g-noid-1", ("Received: from a.example by mx.example; Thu, 03 Dec 2026 10:00:05 +0100\n" + noid).encode(),
     expect("", forwarded=False, contacts=(("jmueller", "recipient-address", JM[1]),), lead=None), None)
case("g-noid-2-copy", ("Received: from b.example by mx.example; Thu, 03 Dec 2026 10:03:00 +0100\n"
                       "Delivered-To: crm@contactlog.example\n" + noid).encode(),
     {"status": "duplicate", "tenant": "alpha", "user": "anna", "company": "acme", "contact": "jmueller",
      "contacts": ["jmueller"], "lead": None, "project": None, "forwarded": False,
      "reasons": ROUTE + [{"field": "contact", "rule": "recipient-address", "detail": JM[1]},
                          {"field": "company", "rule": "primary-contact", "detail": "jmueller"}]}, None)
def noid_att(content):
    return (f"From: {ANNA}\nTo: {addr(JM)}\nSubject: Entwurf\nDate: {DATE}\nMIME-Version: 1.0\n"
            "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=utf-8\n\n"
            "Anbei der Entwurf.\n--b\nContent-Type: application/pdf\nContent-Disposition: attachment; "
            f"filename=Entwurf.pdf\nContent-Transfer-Encoding: base64\n\n{content}\n--b--\n").encode()


case("g-noid-att-1", noid_att("JVBERi0xLjQgdjE="),
     expect("", forwarded=False, contacts=(("jmueller", "recipient-address", JM[1]),), lead=None), None)
case("g-noid-att-2-revised", noid_att("JVBERi0xLjQgdjI="),
     expect("", forwarded=False, contacts=(("jmueller", "recipient-address", JM[1]),), lead=None), None)
thread = (f"From: {ANNA}\nTo: Einkauf <einkauf@lieferant.example>\nSubject: AW: Rückfrage\nDate: {DATE}\n"
          "Message-ID: <t01@golden.example>\nIn-Reply-To: <antwort-des-kunden@lieferant.example>\n"
          "References: <n01-lead-word-number@golden.example> <antwort-des-kunden@lieferant.example>\n"
          "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nDanke, erledigt.\n")
case("t01-thread-reply", thread.encode(),
     {"status": "pending", "tenant": "alpha", "user": "anna", "company": "acme", "contact": None,
      "contacts": [], "lead": "11111", "project": None, "forwarded": False,
      "reasons": ROUTE + [{"field": "company", "rule": "thread", "detail": "<n01-lead-word-number@golden.example>"},
                          {"field": "lead", "rule": "thread", "detail": "<n01-lead-word-number@golden.example>"}]},
     None)


def main():
    written = 0
    for name, (data, exp, sh) in sorted(cases.items()):
        with open(os.path.join(OUT, name + ".eml"), "wb") as f:
            f.write(data)
        with open(os.path.join(OUT, name + ".expect.json"), "w", encoding="utf-8") as f:
            f.write(json.dumps(exp, ensure_ascii=False, indent=2) + "\n")
        sp = os.path.join(OUT, name + ".show.json")
        if sh is not None:
            with open(sp, "w", encoding="utf-8") as f:
                f.write(json.dumps(sh, ensure_ascii=False, indent=2) + "\n")
        elif os.path.exists(sp):
            os.remove(sp)
        written += 1
    print(f"gen-forward-cases: {written} cases in {OUT}")


if __name__ == "__main__":
    main()
