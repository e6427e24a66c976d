#!/usr/bin/env python3
"""Generate a deterministic benchmark corpus for contactlog.

    gen-corpus.py --contacts N --mails M --out DIR [--seed S] [--mail-contacts K]

Writes
    DIR/masterdata.json      one tenant "bench" (domain bench-agentur.example), 20 users,
                             N contact persons in ~N/5 companies, ~N/10 leads, projects
                             with offer numbers (format of docs/masterdata.example.json)
    DIR/mail/000001.eml ...  M messages sent by the users to the contact persons
    DIR/mail.mbox            the same M messages as one mboxrd file
    DIR/corpus.json          parameters and a few statistics of what was written

Properties the benchmark relies on:

* Deterministic: the same arguments (and Python version) give byte-identical output.
* Prefix-stable master data: contact i, company j, lead L and project P depend only on
  (seed, index), never on N.  Contacts 0..999 of a 1,000,000-contact tenant are exactly the
  contacts of a 1,000-contact tenant, so the same mails can be imported against growing
  master data (the matching curve).
* Mails depend only on (seed, M, K) where K = --mail-contacts (default N): recipients, lead
  numbers and lead names are drawn from the first K contacts and their companies.
* Streaming: master data is written company by company; 1,000,000 contacts take seconds.

Python 3 standard library only.
"""

import argparse
import base64
import datetime
import json
import math
import os
import random
import re
import statistics
import sys
import time

TENANT_KEY = "bench"
TENANT_DOMAIN = "bench-agentur.example"
DROP_ADDRESS = "crm@contactlog.example"
N_USERS = 20

M64 = (1 << 64) - 1

# ----------------------------------------------------------------------------------------
# Word material

VORNAMEN = [
    "Jürgen", "Sabine", "Anna", "Ben", "Lena", "Jörg", "Björn", "Käthe", "Sören", "Thomas",
    "Stefan", "Andreas", "Michael", "Petra", "Monika", "Ursula", "Claudia", "Katrin", "Jan",
    "Lukas", "Jonas", "Felix", "Maximilian", "Leonie", "Hannah", "Mia", "Emma", "Sophie",
    "Marie", "Lea", "Günter", "Hans-Peter", "Karl-Heinz", "Özlem", "Ayşe", "Zoë", "René",
    "André", "Jürgen", "Bärbel", "Götz", "Dörte", "Uwe", "Heike", "Silke", "Frauke", "Malte",
    "Tobias", "Julia", "Sarah", "Laura", "Niklas", "Paul", "Emil", "Greta", "Ida", "Mathilda",
    "Jens", "Kerstin", "Torsten", "Anke", "Marén", "Fabian", "Elif", "Mehmet", "Agnieszka",
]

NACHNAMEN = [
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
    "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder",
    "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange",
    "Schmitt", "Werner", "Schmitz", "Krause", "Meier", "Lehmann", "Schmid", "Schulze",
    "Maier", "Köhler", "Herrmann", "König", "Walter", "Mayer", "Huber", "Kaiser", "Fuchs",
    "Peters", "Lang", "Scholz", "Möller", "Weiß", "Jung", "Hahn", "Schubert", "Vogel",
    "Friedrich", "Keller", "Günther", "Frank", "Berger", "Winkler", "Roth", "Beck", "Lorenz",
    "Baumann", "Franke", "Albrecht", "Schuster", "Simon", "Ludwig", "Böhm", "Winter",
    "Kraus", "Martin", "Schumacher", "Krämer", "Vogt", "Stein", "Jäger", "Otto", "Sommer",
    "Groß", "Seidel", "Heinrich", "Brandt", "Haas", "Schreiber", "Graf", "Schulte",
    "Dietrich", "Ziegler", "Kuhn", "Kühn", "Pohl", "Engel", "Horn", "Busch", "Bergmann",
    "Voigt", "Sauer", "Arnold", "Wolff", "Pfeiffer", "Yılmaz", "Kaya", "Öztürk", "Nowak",
    "Dąbrowski", "Nguyen", "Çelik", "Großmann", "Süßmuth", "Bäumer",
]

BRANCHEN = [
    "Maschinenbau", "Bäckerei", "Autohaus", "Steuerberatung", "Logistik", "Gartenbau",
    "Möbelwerkstatt", "Zahnarztpraxis", "Elektrotechnik", "Immobilien", "Brauerei",
    "Druckerei", "Sanitär", "Hotel", "Weinhandel", "Feinkost", "Kältetechnik", "Optik",
    "Reisebüro", "Kanzlei", "Apotheke", "Metallbau", "Fahrradhandel", "Software",
]

RECHTSFORMEN = ["GmbH", "GmbH & Co. KG", "AG", "KG", "e. K.", "OHG", "UG (haftungsbeschränkt)"]

STAEDTE = [
    "Hamburg", "Köln", "München", "Düsseldorf", "Nürnberg", "Lübeck", "Münster", "Göttingen",
    "Würzburg", "Osnabrück", "Saarbrücken", "Bremen", "Kiel", "Rostock", "Dresden",
]

LEAD_THEMEN = [
    "Relaunch Website", "Messestand", "Imagebroschüre", "Social-Media-Kampagne",
    "Logo-Überarbeitung", "Newsletter-Vorlage", "Geschäftsbericht", "Produktfotos",
    "Imagefilm", "Onlineshop", "Corporate Design", "Plakatkampagne", "Kundenmagazin",
    "Verpackungsdesign", "Stellenanzeigen", "Jahreskalender", "Suchmaschinenoptimierung",
    "Produktkatalog", "Weihnachtsmailing", "Außenwerbung", "Fahrzeugbeschriftung",
    "Intranet", "Mitarbeiter-App", "Schulungsvideo", "Barrierefreie Website", "Podcast",
    "Radiospot", "Jubiläumsschrift", "Messekatalog", "Präsentationsvorlage",
]

LEAD_ZUSAETZE = [
    "Hannover", "Köln", "München", "Frühjahr 2026", "Herbst 2026", "Sommer 2026", "Süd",
    "Nord", "Österreich", "Schweiz", "Jubiläum", "Neukunden", "Händler", "B2B", "Ausbildung",
    "Düsseldorf", "Filialen", "Export", "Weihnachten", "Messe Leipzig", "Phase 2", "Ostsee",
]

SAETZE = [
    "Vielen Dank für das freundliche Gespräch am Telefon.",
    "Anbei sende ich Ihnen wie besprochen die überarbeiteten Unterlagen.",
    "Wir haben die Änderungswünsche aus der letzten Runde vollständig eingearbeitet.",
    "Könnten Sie bitte bis Freitag prüfen, ob die Farben so für Sie passen?",
    "Die Druckerei benötigt die Freigabe spätestens Mittwoch früh.",
    "Für die Größe der Anzeige schlagen wir ein Querformat vor.",
    "Bei Rückfragen erreichen Sie mich jederzeit unter der unten stehenden Nummer.",
    "Unser Grafikteam hat drei Entwürfe vorbereitet, die sich deutlich unterscheiden.",
    "Die Schriftgröße im Fließtext haben wir auf Wunsch leicht vergrößert.",
    "Leider hat sich der Liefertermin für die Muster um eine Woche verschoben.",
    "Wir würden uns freuen, Sie nächste Woche persönlich in Hamburg begrüßen zu dürfen.",
    "Das Budget für die zweite Phase liegt bei rund 12.500 Euro zuzüglich Mehrwertsteuer.",
    "Bitte beachten Sie, dass die Bildrechte für die Fotos noch geklärt werden müssen.",
    "Die Übersetzung ins Englische und Französische ist bereits beauftragt.",
    "Im Anhang finden Sie außerdem das Protokoll unseres Termins vom Dienstag.",
    "Für das Shooting benötigen wir noch zwei Ansprechpartner aus Ihrem Vertrieb.",
    "Die Zugangsdaten für die Testumgebung schicke ich Ihnen separat zu.",
    "Grundsätzlich sind wir mit dem Zeitplan gut im Rennen.",
    "Die Abstimmung mit Ihrer Geschäftsführung steht allerdings noch aus.",
    "Wäre es möglich, den Termin auf Donnerstagnachmittag zu verschieben?",
    "Wir haben die Texte gekürzt, damit alles auf eine Doppelseite passt.",
    "Die Kosten für die Überarbeitung der Piktogramme sind im Angebot bereits enthalten.",
    "Sobald uns Ihre Rückmeldung vorliegt, geht alles direkt in die Produktion.",
    "Auf Seite vier fehlt noch das Zitat von Herrn Dr. Böhm.",
    "Die Messe öffnet ihre Tore am Montag um neun Uhr, der Aufbau beginnt Freitag.",
    "Können Sie uns die hochauflösenden Logos als Vektordatei zur Verfügung stellen?",
    "Wir schlagen vor, die Kampagne zunächst in drei Regionen zu testen.",
    "Die Zugriffszahlen der neuen Seite sind seit dem Start um 40 Prozent gestiegen.",
    "Die Fotos vom Außengelände wirken bei Regen leider etwas trüb.",
    "Für die Barrierefreiheit prüfen wir gerade die Kontraste aller Schaltflächen.",
    "Ihre Anmerkungen zur Gestaltung der Titelseite haben wir übernommen.",
    "Die Rechnung für den ersten Abschnitt geht Ihnen in den nächsten Tagen zu.",
    "Gerne stimmen wir uns dazu auch kurz per Videokonferenz ab.",
    "Ich bin ab dem 14. wieder im Büro und melde mich dann umgehend.",
    "Der Text für die Pressemitteilung ist mit der Rechtsabteilung abgestimmt.",
    "Bitte entschuldigen Sie die späte Rückmeldung, die Woche war turbulent.",
    "Das Äußere der Verpackung soll hochwertiger wirken, ohne teurer zu werden.",
    "Die Größenangaben im Katalog übernehmen wir direkt aus Ihrer Warenwirtschaft.",
    "Für die Filialen planen wir Aufsteller im Format DIN A1.",
    "Die Schlussredaktion übernimmt wie immer Frau Jäger aus unserem Team.",
    "Übrigens: Die Gewinnspielbedingungen müssen noch ergänzt werden.",
    "Mit den Änderungen an der Navigation sind wir sehr zufrieden.",
    "Die Zahlen für das dritte Quartal liegen uns leider noch nicht vor.",
    "Wir empfehlen, die Anzeige zusätzlich in der Fachzeitschrift zu schalten.",
    "Ein Muster der Broschüre geht heute per Post an Ihre Adresse in Lübeck.",
    "Die Schulung für Ihre Mitarbeiterinnen und Mitarbeiter dauert etwa zwei Stunden.",
    "Könnten Sie mir kurz bestätigen, dass die Lieferadresse weiterhin stimmt?",
    "Für Rückfragen zur Technik ist Herr Öztürk Ihr Ansprechpartner.",
    "Das Motiv mit den Kühen auf der Weide hat im Test am besten abgeschnitten.",
    "Wir müssen noch klären, wer die Fahrtkosten für den Dreh übernimmt.",
]

SUBJ_NUMMER = [
    "Angebot {n}", "Lead {n} – Abstimmung Termin", "{n} Korrekturschleife",
    "Rückfrage zu {n}", "Unterlagen für {n} anbei", "Freigabe {n} bitte prüfen",
    "Kurze Frage zu Lead {n}", "{n} – neue Entwürfe", "Termin für {n} am Donnerstag",
    "Zwischenstand {n}", "Budget {n} Phase 2", "Briefing {n} überarbeitet",
]
SUBJ_OFFER = [
    "Angebot {n} – Ihre Bestellung", "Auftragsbestätigung zu Angebot {n}",
    "Nachtrag {n} für das Projekt",
]
SUBJ_NAME = [
    "Neues zum Thema {t}", "{t}: nächste Schritte", "Rückmeldung {t}", "Entwürfe {t}",
    "Fragen zu {t}", "Protokoll {t} vom Dienstag",
]
SUBJ_SONST = [
    "Terminbestätigung für Donnerstag", "Ihre Anfrage vom Montag", "Kurze Rückfrage",
    "Protokoll unseres Gesprächs", "Grüße aus Hamburg", "Unterlagen wie besprochen",
    "Einladung zum Sommerfest", "Neue Ansprechpartnerin bei uns", "Urlaubsvertretung",
    "Muster sind unterwegs", "Rechnung März", "Bildrechte geklärt", "Zugang Testumgebung",
    "Änderungswünsche Übersicht", "Schöne Feiertage!",
]
# numbers that are not a word of their own: must not match in strict mode
SUBJ_NOT_A_WORD = [
    "Ticket #{n}", "Bestellung ({n})", "Vorgang {n}: Rückfrage", "Lead {n}) Korrektur",
]

ATTACH_NAMES_PDF = [
    "Angebot.pdf", "Entwurf_Broschüre.pdf", "Protokoll Abstimmung.pdf", "Präsentation.pdf",
    "Kostenübersicht.pdf", "Briefing.pdf", "Rechnung.pdf", "Korrekturabzug Seite 1-8.pdf",
]
ATTACH_NAMES_PNG = [
    "Logo_neu.png", "Screenshot.png", "Entwurf Titelseite.png", "Farbmuster_Grün.png",
    "Anzeige-Größe-A.png", "Banner_Weihnachten.png",
]

MAILERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.6.0",
    "Microsoft Outlook 16.0", "Apple Mail (2.3774.300.61.1.2)", "Roundcube Webmail/1.6.5",
    "Evolution 3.46.4-2",
]

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

TRANSLIT = str.maketrans({
    "ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "é": "e",
    "è": "e", "ë": "e", "ç": "c", "Ç": "C", "ş": "s", "ı": "i", "ą": "a", "ğ": "g",
})

# ----------------------------------------------------------------------------------------
# Deterministic per-index values (prefix-stable: they depend on seed and index only)


class Model:
    # contacts per company, repeating over blocks of 4 companies (average 5)
    CCNT = (3, 5, 8, 4)
    COFF = (0, 3, 8, 16)
    CBLOCK = 20
    # leads per company, repeating over blocks of 10 companies (average 0.5 -> N/10 leads)
    LCNT = (3, 0, 1, 0, 0, 1, 0, 0, 0, 0)
    LOFF = (0, 3, 3, 4, 4, 4, 5, 5, 5, 5)
    LBLOCK = 5

    def __init__(self, seed):
        self.seed = seed
        self.s = self.mix(0x5EED, seed)

    @staticmethod
    def mix(a, b):
        h = (a * 0x9E3779B97F4A7C15 + b) & M64
        h ^= h >> 31
        h = (h * 0xBF58476D1CE4E5B9) & M64
        h ^= h >> 27
        h = (h * 0x94D049BB133111EB) & M64
        h ^= h >> 31
        return h

    def h(self, kind, i):
        return self.mix(self.s ^ kind, i)

    # companies / contacts
    def company_of(self, i):
        b, r = divmod(i, self.CBLOCK)
        k = 3 if r >= 16 else 2 if r >= 8 else 1 if r >= 3 else 0
        return 4 * b + k

    def contacts_of(self, j, n):
        start = (j // 4) * self.CBLOCK + self.COFF[j % 4]
        return range(start, min(start + self.CCNT[j % 4], n))

    def company_name(self, j):
        h = self.h(11, j)
        return "%s %s %s" % (NACHNAMEN[h % len(NACHNAMEN)],
                             BRANCHEN[(h >> 16) % len(BRANCHEN)],
                             RECHTSFORMEN[(h >> 32) % len(RECHTSFORMEN)])

    def contact(self, i):
        """(vorname, nachname, address, phone or None) of contact i."""
        h = self.h(12, i)
        vor = VORNAMEN[h % len(VORNAMEN)]
        nach = NACHNAMEN[(h >> 16) % len(NACHNAMEN)]
        addr = "%s.%s%d@firma%d.example" % (vor.translate(TRANSLIT).lower(),
                                            nach.translate(TRANSLIT).lower(), i,
                                            self.company_of(i))
        phone = None
        if (h >> 40) % 3 == 0:
            phone = "+49 %d %d %04d" % (30 + (h >> 44) % 900, 100 + (h >> 50) % 900, i % 10000)
        return vor, nach, addr, phone

    # leads
    def leads_of(self, j):
        start = (j // 10) * self.LBLOCK + self.LOFF[j % 10]
        return range(start, start + self.LCNT[j % 10])

    def leads_before(self, c):
        """Number of leads of companies 0..c-1."""
        r = c % 10
        return (c // 10) * self.LBLOCK + (self.LOFF[r] if r < 10 else 0)

    def lead_number(self, lead):
        """Unique 5- or 6-digit number; about a third of the leads get 5 digits."""
        if lead % 3 == 0 and lead // 3 < 90000:
            return str(10000 + (lead // 3 * 7919 + self.s) % 90000)
        if lead >= 900000:
            raise ValueError("too many leads for 6-digit numbers")
        return str(100000 + (lead * 104729 + self.s) % 900000)

    def lead_name(self, lead):
        h = self.h(13, lead)
        return "%s %s" % (LEAD_THEMEN[h % len(LEAD_THEMEN)],
                          LEAD_ZUSAETZE[(h >> 16) % len(LEAD_ZUSAETZE)])

    def lead_status(self, lead):
        r = self.h(14, lead) % 10
        return "won" if r == 0 else "lost" if r == 1 else "open"

    # projects: every fifth company has one
    @staticmethod
    def project_of(j):
        return j // 5 if j % 5 == 0 else None

    def project(self, p):
        h = self.h(15, p)
        offers = [str(1000000 + ((2 * p) * 7919 + self.s) % 9000000)]
        if h % 3 == 0:
            offers.append(str(1000000 + ((2 * p + 1) * 7919 + self.s) % 9000000))
        name = "%s %s" % (LEAD_THEMEN[(h >> 8) % len(LEAD_THEMEN)],
                          STAEDTE[(h >> 24) % len(STAEDTE)])
        return {"key": "p%d" % p, "number": "P-2026-%05d" % p, "name": name, "offers": offers}

    # users
    @staticmethod
    def user(u):
        """u in 1..N_USERS"""
        vor = VORNAMEN[(u * 7) % len(VORNAMEN)]
        nach = NACHNAMEN[(u * 13) % len(NACHNAMEN)]
        return vor, nach, "user%d@%s" % (u, TENANT_DOMAIN)


# ----------------------------------------------------------------------------------------
# Master data (streamed)


def write_masterdata(path, model, n):
    ncomp = model.company_of(n - 1) + 1 if n > 0 else 0
    nleads = nprojects = 0
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
    with open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as f:
        users = []
        for u in range(1, N_USERS + 1):
            vor, nach, addr = model.user(u)
            users.append({"key": "user%d" % u, "name": "%s %s" % (vor, nach),
                          "role": "admin" if u == 1 else "user",
                          "password": "bench-%d" % u, "emails": [addr]})
        f.write('{\n  "drop_addresses": [%s],\n  "tenants": [\n    {\n' % dumps(DROP_ADDRESS))
        f.write('      "key": %s,\n' % dumps(TENANT_KEY))
        f.write('      "name": "Bench Agentur GmbH",\n')
        f.write('      "domains": [%s],\n' % dumps(TENANT_DOMAIN))
        f.write('      "settings": {"subject_numbers": "strict", "auto_save": false},\n')
        f.write('      "users": [\n')
        f.write(",\n".join("        " + dumps(u) for u in users))
        f.write('\n      ],\n      "companies": [\n')
        for j in range(ncomp):
            contacts = []
            for i in model.contacts_of(j, n):
                vor, nach, addr, phone = model.contact(i)
                c = {"key": "c%d" % i, "name": "%s %s" % (vor, nach), "emails": [addr]}
                if phone:
                    c["phone"] = phone
                contacts.append(c)
            leads = [{"number": model.lead_number(L), "name": model.lead_name(L),
                      "status": model.lead_status(L)} for L in model.leads_of(j)]
            nleads += len(leads)
            p = model.project_of(j)
            projects = [model.project(p)] if p is not None else []
            nprojects += len(projects)
            comp = {"key": "firma%d" % j, "name": model.company_name(j),
                    "domains": ["firma%d.example" % j], "contacts": contacts,
                    "leads": leads, "projects": projects}
            f.write("        ")
            f.write(dumps(comp))
            f.write(",\n" if j + 1 < ncomp else "\n")
        f.write("      ]\n    }\n  ]\n}\n")
    return {"companies": ncomp, "contacts": n, "leads": nleads, "projects": nprojects,
            "users": N_USERS}


# ----------------------------------------------------------------------------------------
# MIME helpers

_QP_SAFE = [chr(b) if (33 <= b <= 126 and b != 61) else "=%02X" % b for b in range(256)]


def qp_line(line):
    """Quoted-printable encode one text line (no newline); returns encoded lines joined
    with soft line breaks, terminated by a newline."""
    out = [_QP_SAFE[b] if b != 32 else " " for b in line.encode("utf-8")]
    if out and out[-1] == " ":
        out[-1] = "=20"
    res = []
    cur = 0
    buf = []
    for tok in out:
        if cur + len(tok) > 75:
            res.append("".join(buf) + "=\n")
            buf = []
            cur = 0
        buf.append(tok)
        cur += len(tok)
    res.append("".join(buf) + "\n")
    return "".join(res)


def qp_text(text):
    return "".join(qp_line(line) for line in text.split("\n"))


def wrap(text, width=72):
    words = text.split(" ")
    lines, cur = [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = w if not cur else cur + " " + w
    if cur:
        lines.append(cur)
    return lines


def is_ascii(s):
    return all(ord(c) < 128 for c in s)


def _chunks_utf8(s, maxbytes):
    chunk, size = [], 0
    for ch in s:
        n = len(ch.encode("utf-8"))
        if chunk and size + n > maxbytes:
            yield "".join(chunk)
            chunk, size = [], 0
        chunk.append(ch)
        size += n
    if chunk:
        yield "".join(chunk)


def enc_b(s):
    return "\n ".join("=?UTF-8?B?%s?=" % base64.b64encode(c.encode("utf-8")).decode("ascii")
                      for c in _chunks_utf8(s, 45))


def _q_char(ch):
    if ch == " ":
        return "_"
    if ord(ch) < 128 and (ch.isalnum() or ch in "-!*+/"):
        return ch
    return "".join("=%02X" % b for b in ch.encode("utf-8"))


def enc_q(s):
    """RFC 2047 Q encoding, encoded words of at most 75 characters, split between
    characters (never inside a UTF-8 sequence)."""
    words, cur = [], ""
    for ch in s:
        q = _q_char(ch)
        if cur and len(cur) + len(q) > 62:
            words.append(cur)
            cur = ""
        cur += q
    if cur:
        words.append(cur)
    return "\n ".join("=?UTF-8?Q?%s?=" % w for w in words)


def enc_subject(s, use_b):
    if is_ascii(s):
        return s
    return enc_b(s) if use_b else enc_q(s)


def mailbox(name, addr):
    if is_ascii(name):
        if re.search(r'[()<>\[\]:;@\\,."]', name):
            name = '"%s"' % name.replace("\\", "\\\\").replace('"', '\\"')
        return "%s <%s>" % (name, addr)
    return "%s <%s>" % (enc_b(name), addr)


def fmt_date(dt):
    off = dt.utcoffset()
    mins = int(off.total_seconds() // 60)
    sign = "+" if mins >= 0 else "-"
    mins = abs(mins)
    return "%s, %02d %s %d %02d:%02d:%02d %s%02d%02d" % (
        WEEKDAYS[dt.weekday()], dt.day, MONTHS[dt.month - 1], dt.year, dt.hour, dt.minute,
        dt.second, sign, mins // 60, mins % 60)


def fmt_asctime(dt):
    u = dt.astimezone(datetime.timezone.utc)
    return "%s %s %2d %02d:%02d:%02d %d" % (WEEKDAYS[u.weekday()], MONTHS[u.month - 1], u.day,
                                            u.hour, u.minute, u.second, u.year)


def html_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ----------------------------------------------------------------------------------------
# Mail corpus


class ParagraphPool:
    """Pre-encoded paragraphs so that body assembly is cheap."""

    def __init__(self, rng, size=1500):
        self.plain, self.quoted, self.html = [], [], []
        for _ in range(size):
            k = rng.randint(2, 7)
            text = " ".join(rng.choice(SAETZE) for _ in range(k))
            lines = wrap(text)
            self.plain.append(qp_text("\n".join(lines)) + "\n")
            self.quoted.append(qp_text("\n".join("> " + ln for ln in lines)) + ">\n")
            self.html.append(qp_text("<p>" + "\n".join(html_escape(ln) for ln in lines) +
                                     "</p>") )
        # a line starting with "From " exercises mbox escaping
        self.from_line = qp_text("From the notes of our call on Tuesday (English summary for the\n"
                                 "London office): the layout is approved, colours follow later.") + "\n"

    def fill(self, rng, budget, quoted_share=0.0):
        """Indices of paragraphs whose encoded size reaches budget."""
        picks, size = [], 0
        while size < budget:
            i = rng.randrange(len(self.plain))
            q = rng.random() < quoted_share
            picks.append((i, q))
            size += len(self.quoted[i] if q else self.plain[i])
        return picks


def base64_lines(data):
    return base64.encodebytes(data).decode("ascii")


def attachment_bytes(rng, kind, n):
    if kind == "pdf":
        head = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        tail = b"\n%%EOF\n"
    else:
        head = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x04\x00\x00\x00\x03\x00\x08\x06\x00\x00\x00"
        tail = b"\x00\x00\x00\x00IEND\xaeB`\x82"
    body = max(0, n - len(head) - len(tail))
    return head + rng.randbytes(body) + tail


def content_disposition(name, style):
    if is_ascii(name):
        return 'attachment; filename="%s"' % name, 'name="%s"' % name
    if style == 0:   # RFC 2231 (Thunderbird, Apple Mail)
        pct = "".join(ch if (ch.isalnum() and ord(ch) < 128) or ch in "._-" else
                      "".join("%%%02X" % b for b in ch.encode("utf-8")) for ch in name)
        return "attachment;\n filename*=utf-8''%s" % pct, 'name="%s"' % enc_b(name).replace("\n ", "")
    # RFC 2047 in a quoted parameter (Outlook, many webmailers)
    e = enc_b(name).replace("\n ", "")
    return 'attachment;\n filename="%s"' % e, 'name="%s"' % e


class MailGenerator:
    def __init__(self, model, n_pool, seed, n_mails):
        self.model = model
        self.n_pool = n_pool
        self.ncomp_pool = model.company_of(n_pool - 1) + 1
        self.nleads_pool = model.leads_before(self.ncomp_pool)
        self.rng = random.Random("contactlog-bench-mails-%d" % seed)
        self.pool = ParagraphPool(random.Random("contactlog-bench-paras-%d" % seed))
        self.seed = seed
        self.n_mails = n_mails
        self.t = datetime.datetime(2026, 1, 5, 8, 0, 0,
                                   tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
        self.sent_ids = []
        self.stats = {"multipart_alternative": 0, "attachments": 0, "subject_lead_number": 0,
                      "subject_offer_number": 0, "subject_lead_name": 0, "replies": 0,
                      "recipients": 0, "unknown_recipients": 0, "from_lines": 0}

    def unknown_address(self, rng):
        r = rng.random()
        if r < 0.4:
            j = rng.randrange(self.ncomp_pool)
            return None, rng.choice(["info", "buchhaltung", "service", "zentrale"]) + "@firma%d.example" % j
        if r < 0.7:
            vor, nach = rng.choice(VORNAMEN), rng.choice(NACHNAMEN)
            return "%s %s" % (vor, nach), "%s.%s@extern%d.example" % (
                vor.translate(TRANSLIT).lower(), nach.translate(TRANSLIT).lower(), rng.randrange(500))
        vor, nach = rng.choice(VORNAMEN), rng.choice(NACHNAMEN)
        return "%s %s" % (vor, nach), "%s%d@freemail.example" % (
            nach.translate(TRANSLIT).lower(), rng.randrange(10000))

    def recipients(self, rng):
        k = rng.choices((1, 2, 3), weights=(60, 28, 12))[0]
        primary = rng.randrange(self.n_pool)
        comp = self.model.company_of(primary)
        same = list(self.model.contacts_of(comp, self.n_pool))
        out = []
        chosen = set()
        for slot in range(k):
            self.stats["recipients"] += 1
            if rng.random() < 0.10:
                self.stats["unknown_recipients"] += 1
                out.append(self.unknown_address(rng))
                continue
            if slot == 0:
                i = primary
            elif rng.random() < 0.8 and len(same) > 1:
                i = rng.choice(same)
            else:
                i = rng.randrange(self.n_pool)
            if i in chosen:
                continue
            chosen.add(i)
            vor, nach, addr, _ = self.model.contact(i)
            out.append(("%s %s" % (vor, nach), addr))
        return comp, out

    def subject(self, rng, comp):
        r = rng.random()
        leads = list(self.model.leads_of(comp))
        if r < 0.40:
            L = rng.choice(leads) if leads and rng.random() < 0.85 else rng.randrange(self.nleads_pool)
            self.stats["subject_lead_number"] += 1
            return rng.choice(SUBJ_NUMMER).format(n=self.model.lead_number(L))
        if r < 0.50:
            L = rng.choice(leads) if leads and rng.random() < 0.85 else rng.randrange(self.nleads_pool)
            name = self.model.lead_name(L)
            if rng.random() < 0.2:
                name = name.lower()
            self.stats["subject_lead_name"] += 1
            return rng.choice(SUBJ_NAME).format(t=name)
        if r < 0.54:
            p = rng.randrange(self.ncomp_pool // 5 + 1)
            self.stats["subject_offer_number"] += 1
            return rng.choice(SUBJ_OFFER).format(n=rng.choice(self.model.project(p)["offers"]))
        if r < 0.58:
            L = rng.randrange(self.nleads_pool)
            return rng.choice(SUBJ_NOT_A_WORD).format(n=self.model.lead_number(L))
        return rng.choice(SUBJ_SONST)

    def message(self, idx):
        rng = self.rng
        model = self.model
        # target size: truncated log-normal, 5..50 KB, median ~22 KB
        while True:
            target = int(rng.lognormvariate(math.log(22800), 0.45))
            if 5200 <= target <= 49500:
                break
        alternative = rng.random() < 0.30
        attach = rng.random() < 0.20
        u = rng.randint(1, N_USERS)
        uvor, unach, uaddr = model.user(u)
        uname = "%s %s" % (uvor, unach)
        comp, rcpts = self.recipients(rng)
        subj = self.subject(rng, comp)
        reply = self.sent_ids and rng.random() < 0.15
        if reply:
            subj = rng.choice(("AW: ", "Re: ", "RE: ")) + subj
            self.stats["replies"] += 1
        self.t += datetime.timedelta(seconds=rng.randint(30, 1800))
        date = self.t
        mid = "<%d.%06d.%08x@%s>" % (self.seed, idx, rng.getrandbits(32), TENANT_DOMAIN)
        use_b = rng.random() < 0.5

        ncc = rng.randint(0, len(rcpts) - 1) if len(rcpts) > 1 else 0
        to = rcpts[:len(rcpts) - ncc]
        cc = rcpts[len(rcpts) - ncc:]

        h = []
        h.append("Return-Path: <%s>\n" % uaddr)
        h.append("Delivered-To: %s\n" % DROP_ADDRESS)
        h.append("Received: from mail.%s (mail.%s [192.0.2.%d])\n"
                 "\tby mx.contactlog.example (Postfix) with ESMTPS id %08X\n"
                 "\tfor <%s>; %s\n" % (TENANT_DOMAIN, TENANT_DOMAIN, 10 + u, rng.getrandbits(32),
                                       DROP_ADDRESS, fmt_date(date + datetime.timedelta(seconds=2))))
        h.append("Message-ID: %s\n" % mid)
        h.append("Date: %s\n" % fmt_date(date))
        h.append("From: %s\n" % mailbox(uname, uaddr))
        h.append("To: %s\n" % ",\n ".join(mailbox(n, a) if n else a for n, a in to))
        if cc:
            h.append("Cc: %s\n" % ",\n ".join(mailbox(n, a) if n else a for n, a in cc))
        h.append("Subject: %s\n" % enc_subject(subj, use_b))
        if reply:
            parent = rng.choice(self.sent_ids[-200:])
            h.append("In-Reply-To: %s\nReferences: %s\n" % (parent, parent))
        h.append("MIME-Version: 1.0\n")
        h.append("User-Agent: %s\n" % rng.choice(MAILERS))
        self.sent_ids.append(mid)

        # body text
        first = rcpts[0][0] if rcpts[0][0] else "zusammen"
        greeting = qp_text(rng.choice(("Hallo %s,", "Guten Tag %s,", "Hallo %s, hallo zusammen,")) % first) + "\n"
        closing = qp_text("Viele Grüße\n%s\n\n-- \n%s\nBench Agentur GmbH · Musterstraße 12 · 20095 Hamburg\n"
                          "Tel. +49 40 555 01%02d · www.bench-agentur.example" % (uvor, uname, u))
        quote_head = qp_text("Am %02d.%02d.%d um %02d:%02d schrieb %s <%s>:" % (
            date.day, date.month, date.year, (date.hour + 23) % 24, date.minute,
            rcpts[0][0] or rcpts[0][1], rcpts[0][1]))
        from_para = rng.random() < 0.03
        if from_para:
            self.stats["from_lines"] += 1

        header_size = sum(len(x) for x in h)
        att = None
        att_enc_size = 0
        if attach:
            self.stats["attachments"] += 1
            kind = "pdf" if rng.random() < 0.6 else "png"
            share = rng.uniform(0.35, 0.8)
            att_enc_size = int(target * share)
            raw = max(800, att_enc_size * 57 // 77)
            name = rng.choice(ATTACH_NAMES_PDF if kind == "pdf" else ATTACH_NAMES_PNG)
            att = (kind, name, attachment_bytes(rng, kind, raw), rng.randrange(2))
        overhead = 300 + (250 if alternative else 0) + (350 if attach else 0)
        body_budget = max(200, target - header_size - att_enc_size - overhead
                          - len(greeting) - len(closing))
        text_budget = int(body_budget * (0.45 if alternative else 1.0))
        picks = self.pool.fill(rng, text_budget, quoted_share=0.0)
        # the second half of long mails is quoted history
        nq = len(picks) // 2 if rng.random() < 0.5 else 0

        pool = self.pool
        tparts = [greeting]
        for i, _ in picks[:len(picks) - nq]:
            tparts.append(pool.plain[i])
        if from_para:
            tparts.append(pool.from_line)
        tparts.append(closing)
        if nq:
            tparts.append("\n" + quote_head)
            for i, _ in picks[len(picks) - nq:]:
                tparts.append(pool.quoted[i])
        text = "".join(tparts)

        text_part_headers = ("Content-Type: text/plain; charset=UTF-8; format=flowed\n"
                             if rng.random() < 0.3 else "Content-Type: text/plain; charset=utf-8\n")
        text_part_headers += "Content-Transfer-Encoding: quoted-printable\n"

        def html_body():
            hp = ["<!DOCTYPE html>\n<html><head><meta http-equiv=3D\"Content-Type\" "
                  "content=3D\"text/html; charset=3DUTF-8\"></head>\n<body>\n"]
            hp.append(qp_text("<p>" + html_escape(rng.choice(("Hallo %s,", "Guten Tag %s,")) % first) + "</p>"))
            for i, _ in picks[:len(picks) - nq]:
                hp.append(pool.html[i])
            hp.append(qp_text("<p>Viele Grüße<br>%s</p>" % uvor))
            if nq:
                hp.append("<blockquote type=3D\"cite\">\n")
                for i, _ in picks[len(picks) - nq:]:
                    hp.append(pool.html[i])
                hp.append("</blockquote>\n")
            hp.append("</body></html>\n")
            return "".join(hp)

        b1 = "=_alt_%08x" % rng.getrandbits(32)
        b2 = "=_mix_%08x" % rng.getrandbits(32)

        def alt_block():
            return ("Content-Type: multipart/alternative;\n boundary=\"%s\"\n\n"
                    "--%s\n%s\n%s\n--%s\n"
                    "Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
                    "%s\n--%s--\n" % (b1, b1, text_part_headers, text, b1, html_body(), b1))

        if not attach and not alternative:
            body = text_part_headers + "\n" + text
        elif not attach:
            body = alt_block()
        else:
            kind, name, data, style = att
            disp, ctname = content_disposition(name, style)
            ctype = "application/pdf" if kind == "pdf" else "image/png"
            inner = alt_block() if alternative else text_part_headers + "\n" + text
            body = ("Content-Type: multipart/mixed;\n boundary=\"%s\"\n\n"
                    "This is a multi-part message in MIME format.\n"
                    "--%s\n%s\n--%s\n"
                    "Content-Type: %s;\n %s\nContent-Disposition: %s\n"
                    "Content-Transfer-Encoding: base64\n\n%s\n--%s--\n"
                    % (b2, b2, inner, b2, ctype, ctname, disp, base64_lines(data), b2))
        if alternative:
            self.stats["multipart_alternative"] += 1
        return uaddr, date, ("".join(h) + body).encode("utf-8")


_FROM_RE = re.compile(rb"^(>*From )", re.M)


def write_mails(out, model, n_pool, n_mails, seed):
    gen = MailGenerator(model, n_pool, seed, n_mails)
    maildir = os.path.join(out, "mail")
    os.makedirs(maildir, exist_ok=True)
    sizes = []
    width = max(6, len(str(n_mails)))
    with open(os.path.join(out, "mail.mbox"), "wb", buffering=1 << 20) as mbox:
        for k in range(1, n_mails + 1):
            sender, date, data = gen.message(k)
            with open(os.path.join(maildir, "%0*d.eml" % (width, k)), "wb") as f:
                f.write(data)
            sizes.append(len(data))
            mbox.write(b"From %s %s\n" % (sender.encode(), fmt_asctime(date).encode()))
            mbox.write(_FROM_RE.sub(rb">\1", data))
            if not data.endswith(b"\n"):
                mbox.write(b"\n")
            mbox.write(b"\n")
    st = dict(gen.stats)
    if sizes:
        st.update({"bytes_total": sum(sizes), "size_min": min(sizes), "size_max": max(sizes),
                   "size_median": int(statistics.median(sizes))})
    return st


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--contacts", type=int, required=True, help="number of contact persons N")
    ap.add_argument("--mails", type=int, required=True, help="number of mails M (0: master data only)")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--mail-contacts", type=int, default=None,
                    help="draw mail recipients from the first K contacts only (default N); "
                         "mails are identical for equal seed, M and K whatever N is")
    args = ap.parse_args()
    if args.contacts < 1 or args.mails < 0:
        ap.error("--contacts must be >= 1 and --mails >= 0")
    k = args.mail_contacts or args.contacts
    if not 1 <= k <= args.contacts:
        ap.error("--mail-contacts must be between 1 and --contacts")

    os.makedirs(args.out, exist_ok=True)
    model = Model(args.seed)
    t0 = time.monotonic()
    md = write_masterdata(os.path.join(args.out, "masterdata.json"), model, args.contacts)
    t1 = time.monotonic()
    ms = write_mails(args.out, model, k, args.mails, args.seed) if args.mails else {}
    t2 = time.monotonic()
    info = {"generator": "bench/gen-corpus.py", "seed": args.seed, "contacts": args.contacts,
            "mails": args.mails, "mail_contacts": k, "tenant": TENANT_KEY,
            "masterdata": md, "mail": ms}
    with open(os.path.join(args.out, "corpus.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, ensure_ascii=False, indent=2)
        f.write("\n")
    print("gen-corpus: %d contacts, %d companies, %d leads, %d projects (%.1fs); %d mails (%.1fs) -> %s"
          % (md["contacts"], md["companies"], md["leads"], md["projects"], t1 - t0,
             args.mails, t2 - t1, args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
