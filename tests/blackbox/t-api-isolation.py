#!/usr/bin/env python3
"""t-api-isolation: the HTTP API keeps tenants and private items apart (issue 5, point 5).

Two tenants (tests/data/masterdata.json: alpha = A, beta = B) get mail of their users (pending,
discarded, confirmed, confirmed into the own history), manual entries with attachments (JSON
base64 and multipart), notifications, API tokens and a record made through the API. Then:

1. every route of `routes[]` in src/api/api.c (parsed, so a new route is walked too: a route
   with {id} this script has no rule for is a failure) is called by users of A — an admin and a
   plain user, with a session cookie (+ X-CSRF-Token) and with an API token — with the ids of
   B's entries, attachments, tokens, notifications, users, companies, contacts, leads and
   projects: 404 every time, answered exactly like an id that does not exist (status, body with
   the id left out, Content-Type); after every unsafe route, B read back by B's own users is
   unchanged;
2. private items inside A (a colleague's pending and discarded mail, own-history mail and
   manual entries, tokens, notifications) are the same 404 for another user and for the admin,
   never in search, histories, own history or follow-ups of others, and their subjects do not
   reach others through notifications;
3. lists and searches of A (every GET route without {id}, plus ?q= and ?company= queries)
   contain nothing of B; request bodies naming B's records are refused like unknown ones;
   uploading a mail of B's users as a user of A creates nothing in B;
4. many concurrent requests of users of both tenants (persistent and fresh connections) each
   get the asking user's data only;
5. an admin of A cannot take over what identifies B's users (addresses, domains): B's users can
   still log in and B's mail is still captured for them.
"""
import base64
import hashlib
import json
import os
import random
import re
import sys
import threading
import http.client
from email.message import EmailMessage

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import cltest  # noqa: E402
import apiclient  # noqa: E402

t = cltest.Test(__file__)
d = t.data_dir()
DATE = "Wed, 11 Nov 2026 14:00:00 +0100"
NONE_BASE = 7_000_000          # ids from here on exist nowhere

# ---- the routes ---------------------------------------------------------------------------------

def parse_routes():
    path = os.path.join(t.source_root, "src", "api", "api.c")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"static\s+const\s+ApiRoute\s+routes\[\]\s*=\s*\{(.*?)\n\};", text, re.S)
    if not m:
        t.fail("src/api/api.c: the route table routes[] was not found")
        t.finish()
    out = []
    for rm in re.finditer(r'\{\s*"([A-Z]+)"\s*,\s*"([^"]+)"\s*,\s*([A-Z_|\s]+?)\s*,\s*(\w+)\s*\}',
                          m.group(1)):
        flags = {f.strip() for f in rm.group(3).split("|")}
        out.append({"method": rm.group(1), "pattern": rm.group(2), "flags": flags,
                    "handler": rm.group(4)})
    t.ok(len(out) >= 40, "routes[] parsed from src/api/api.c", got=len(out), wanted=">= 40")
    return out


ROUTES = parse_routes()

# What each {id} of a pattern names (in order). A new route with {id} must be added here.
ID_KINDS = {
    "/api/v1/me/notifications/{id}/read": ["notification"],
    "/api/v1/me/tokens/{id}": ["token"],
    "/api/v1/entries/{id}": ["entry"],
    "/api/v1/entries/{id}/confirm": ["entry"],
    "/api/v1/entries/{id}/discard": ["entry"],
    "/api/v1/entries/{id}/attachments": ["entry"],
    "/api/v1/entries/{id}/attachments/{id}": ["entry", "attachment"],
    "/api/v1/entries/{id}/original": ["entry"],
    "/api/v1/companies/{id}": ["company"],
    "/api/v1/companies/{id}/history": ["company"],
    "/api/v1/contacts/{id}": ["contact"],
    "/api/v1/leads/{id}": ["lead"],
    "/api/v1/leads/{id}/history": ["lead"],
    "/api/v1/projects/{id}": ["project"],
    "/api/v1/projects/{id}/history": ["project"],
    "/api/v1/admin/users/{id}": ["user"],
}
B64 = base64.b64encode(b"A was here\n").decode()
# Bodies of unsafe routes with {id}: what an attacker would send (JSON; {} otherwise).
ID_BODIES = {
    ("PATCH", "/api/v1/entries/{id}"): {"subject": "Von A übernommen", "text": "A war hier",
                                        "followup": "2027-03-01"},
    ("POST", "/api/v1/entries/{id}/confirm"): {"channel": "phone"},
    ("POST", "/api/v1/entries/{id}/discard"): {},
    ("POST", "/api/v1/entries/{id}/attachments"): {"attachments": [
        {"name": "von-a.txt", "content_type": "text/plain", "data": B64}]},
    ("PATCH", "/api/v1/companies/{id}"): {"name": "Von A übernommen"},
    ("PATCH", "/api/v1/contacts/{id}"): {"name": "Von A übernommen", "phone": "0"},
    ("PATCH", "/api/v1/leads/{id}"): {"name": "Von A übernommen", "status": "lost"},
    ("PATCH", "/api/v1/projects/{id}"): {"name": "Von A übernommen"},
    ("PATCH", "/api/v1/admin/users/{id}"): {"name": "Von A übernommen", "password": "uebernommen-123",
                                            "role": "user", "active": False},
}

# ---- helpers -------------------------------------------------------------------------------------

def canon(v):
    return json.dumps(v, sort_keys=True, ensure_ascii=False)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def mime_mail(frm, to, subject, body, mid, attachments=()):
    m = EmailMessage()
    m["From"] = frm
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = DATE
    m["Message-ID"] = f"<{mid}@isolation.example>"
    m.set_content(body)
    for name, ctype, data in attachments:
        main, sub = ctype.split("/")
        m.add_attachment(data, maintype=main, subtype=sub, filename=name)
    return m.as_bytes()


def deliver(frm, to, subject, body, mid, attachments=()):
    r = t.deliver(mime_mail(frm, to, subject, body, mid, attachments), d)
    t.exit_status(r, 0, f"deliver {mid}")
    res = t.one_line(r, f"deliver {mid}") or {}
    t.eq(res.get("status"), "pending", f"deliver {mid}: pending", r)
    return res.get("entry")


def need(r, status, what):
    """A setup step: the answer must be `status`; its JSON (or {})."""
    t.eq(r.status, status, f"setup: {what}: HTTP status", None) or print(f"    answer: {r!r}")
    return r.json if isinstance(r.json, (dict, list)) else {}


def jget(client, path, what):
    r = client.get(path)
    if not t.eq(r.status, 200, f"{what}: GET {path} answers 200"):
        print(f"    answer: {r!r}")
        return {}
    return r.json or {}


def item_ids(doc):
    return [i.get("id") for i in (doc or {}).get("items", []) if isinstance(i, dict)]


# ---- data: mail of both tenants, delivered before the server starts ------------------------------

BEN = "Ben Kaya <ben.kaya@alpha-agentur.example>"
ANNA = "Anna Berg <anna.berg@alpha-agentur.example>"
ERIK = "Erik Lund <erik.lund@beta-design.example>"
JONAS = "Jonas Petersen <jonas.petersen@beta-design.example>"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"

# A: Ben's private mail (pending, to be discarded, to be confirmed into his own history) and a
# mail he confirms into the company; Anna's pending mail.
eA = {}
eA["ben_pending"] = deliver(BEN, "j.mueller@acme-maschinen.example", "Angebot Lead 11111 Quokkapend",
                            "Hallo Herr Müller,\n\nQuokkapendtext anbei.\n", "a-ben-pend",
                            [("quokka-angebot.pdf", "application/pdf", PDF)])
eA["ben_discard"] = deliver(BEN, "j.mueller@acme-maschinen.example", "Entwurf Quokkadisc",
                            "Quokkadisctext\n", "a-ben-disc",
                            [("quokka-entwurf.txt", "text/plain", b"Entwurf Quokka\n")])
eA["ben_ownmail"] = deliver(BEN, "freund@privat-irgendwo.example", "Privat Quokkaownmail",
                            "Quokkaownmailtext\n", "a-ben-own",
                            [("quokka-privat.txt", "text/plain", b"privat\n")])
eA["ben_saved"] = deliver(BEN, "s.krause@acme-maschinen.example", "Messe Lead 11112 Quokkasaved",
                          "Quokkasavedtext\n", "a-ben-saved",
                          [("quokka-messe.txt", "text/plain", b"Messe\n")])
# Carla writes to B's contact, names B's lead number and an offer number both tenants have.
eA["carla_cross"] = deliver("Carla Díaz <carla.diaz@alpha-agentur.example>",
                            "k.ahrens@acme-nord.example, olaf@okapibeta-werft.example",
                            "Lead 30101 Angebot 4711 Katalog 2027", "Text\n", "a-carla-cross")
eA["anna_pending"] = deliver(ANNA, "t.gruen@baumschule-gruen.example", "Baum Lead 22222 Alphapend",
                             "Alphapendtext\n", "a-anna-pend")

# B: the same kinds for Erik and Jonas.
eB = {}
eB["erik_pending"] = deliver(ERIK, "k.ahrens@acme-nord.example", "Speisekarte Lead 30101 Okapibeta offen",
                             "Hallo Kai,\n\nOkapibeta Entwurf anbei.\n", "b-erik-pend",
                             [("okapibeta-karte.pdf", "application/pdf", PDF + b"B")])
eB["erik_discard"] = deliver(ERIK, "k.ahrens@acme-nord.example", "Okapibeta verworfen",
                             "Okapibeta weg\n", "b-erik-disc",
                             [("okapibeta-weg.txt", "text/plain", b"weg\n")])
eB["erik_saved"] = deliver(ERIK, "k.ahrens@acme-nord.example", "Katalog Okapibeta bestaetigt",
                           "Okapibeta Katalogtext\n", "b-erik-saved",
                           [("okapibeta-katalog.txt", "text/plain", b"Katalog\n")])
eB["jonas_pending"] = deliver(JONAS, "k.ahrens@acme-nord.example", "Okapibeta Jonas offen",
                              "Okapibeta Jonas\n", "b-jonas-pend")
eB["jonas_ownmail"] = deliver(JONAS, "freund@privat-irgendwo.example", "Okapibeta Jonas privat",
                              "Okapibeta privat\n", "b-jonas-own")

# Rejections of both tenants (known domain, unknown sender).
for frm, subj, mid in (("unbekannt@beta-design.example", "Okapibeta abgelehnt", "b-rej"),
                       ("unbekannt@alpha-agentur.example", "Alpha abgelehnt", "a-rej")):
    r = t.deliver(cltest.mail([("From", frm), ("To", "k.ahrens@acme-nord.example"), ("Subject", subj),
                               ("Date", DATE), ("Message-ID", f"<{mid}@isolation.example>")]), d)
    t.exit_status(r, 67, f"deliver {mid} (unknown sender: rejected)")

srv = cltest.Server(t, d, ["--lmtp", "127.0.0.1:0", "--http", "127.0.0.1:0"]).start()
ADDR = srv.address("http")

PASSWORDS = {"anna": ("anna.berg@alpha-agentur.example", "test-anna"),
             "ben": ("ben.kaya@alpha-agentur.example", "test-ben"),
             "carla": ("carla.diaz@alpha-agentur.example", "test-carla"),
             "jonas": ("jonas.petersen@beta-design.example", "test-jonas"),
             "erik": ("erik.lund@beta-design.example", "test-erik")}
TENANT = {"anna": "alpha", "ben": "alpha", "carla": "alpha", "jonas": "beta", "erik": "beta"}


def session(user):
    c = apiclient.Client(ADDR)
    r = c.login(*PASSWORDS[user])
    if not t.eq(r.status, 201, f"setup: login {user}"):
        print(f"    answer: {r!r}")
        srv.stop()
        t.finish()
    return c


S = {u: session(u) for u in PASSWORDS}               # session cookie + CSRF token
ME = {u: S[u].get("/api/v1/me").json["user"] for u in S}
UID = {u: ME[u]["id"] for u in S}

# API tokens: two per user (one stays for the walk, one is a target).
TOK = {}       # user -> bearer token used by this script
TOKIDS = {}    # user -> [token ids]
for u in S:
    TOKIDS[u] = []
    for n in (1, 2):
        name = f"{'okapibeta' if TENANT[u] == 'beta' else 'quokka'}-{u}-token-{n}"
        j = need(S[u].post("/api/v1/me/tokens", {"name": name}), 201, f"token {name}")
        TOKIDS[u].append(j.get("id"))
        if n == 1:
            TOK[u] = j.get("token")
T = {u: apiclient.Client(ADDR, token=TOK[u]) for u in S}  # Bearer

# Review through the API.
for u, key, body in (("ben", "ben_ownmail", {"company": None, "lead": None, "project": None}),
                     ("ben", "ben_saved", {}),
                     ("erik", "erik_saved", {"lead": "30101"}),
                     ("jonas", "jonas_ownmail", {"company": None, "lead": None, "project": None})):
    ids = eA if key in eA else eB
    need(S[u].post(f"/api/v1/entries/{ids[key]}/confirm", body), 200, f"confirm {key}")
for u, ids, key in (("ben", eA, "ben_discard"), ("erik", eB, "erik_discard")):
    need(S[u].post(f"/api/v1/entries/{ids[key]}/discard", {}), 200, f"discard {key}")

# B: a company and a contact made through the API.
bco = need(S["jonas"].post("/api/v1/companies", {"name": "Okapibeta Werft GmbH",
                                                 "domains": ["okapibeta-werft.example"]}),
           201, "B company by API")
bct = need(S["jonas"].post("/api/v1/contacts", {"name": "Olaf Okapibeta", "company": bco.get("id"),
                                                "emails": ["olaf@okapibeta-werft.example"]}),
           201, "B contact by API")
# A: the same, so that both tenants have records made by the API.
need(S["anna"].post("/api/v1/companies", {"name": "Quokka Druck GmbH"}), 201, "A company by API")


def manual(user, fields, files=None, via_token=False):
    c = T[user] if via_token else S[user]
    if files:
        ct, body = apiclient.multipart({"entry": json.dumps(fields)}, files)
        r = c.request("POST", "/api/v1/entries", body=body, content_type=ct)
    else:
        r = c.post("/api/v1/entries", fields)
    return need(r, 201, f"manual entry of {user}: {fields.get('subject')}").get("id")


def b64(data):
    return base64.b64encode(data).decode()


# B manual entries: saved in the company with attachments and notify; Erik's own history
# (multipart, notifies Jonas); a lead entry and a project entry.
eB["jonas_manual"] = manual("jonas", {
    "channel": "meeting", "subject": "Okapibeta Termin Katalog", "text": "Okapibeta Notiz",
    "company": "acme", "contacts": ["kahrens"], "notify": ["erik"], "followup": "2027-02-01",
    "attachments": [{"name": "okapibeta-protokoll.txt", "content_type": "text/plain",
                     "data": b64(b"Protokoll Okapibeta\n")},
                    {"name": "okapibeta-plan.pdf", "content_type": "application/pdf",
                     "data": b64(PDF + b"plan")}]})
eB["erik_own"] = manual("erik", {"channel": "phone", "subject": "Okapibeta privat Erik",
                                 "text": "Okapibeta nur fuer Erik", "followup": "2027-02-02"},
                        files=[("file", "okapibeta-erik.txt", "text/plain", b"nur Erik\n")])
eB["erik_lead"] = manual("erik", {"channel": "email", "subject": "Okapibeta Lead Flyer",
                                  "lead": "11111", "notify": ["jonas"]}, via_token=True)
eB["jonas_project"] = manual("jonas", {"channel": "letter", "subject": "Okapibeta Katalog Brief",
                                       "project": "katalog", "notify": ["erik"]})

# A manual entries: Anna's in the company (notifies Ben); Ben's own history (multipart, with a
# follow-up, notifies Carla); Carla's in the company (her own entry with an attachment).
eA["anna_manual"] = manual("anna", {
    "channel": "phone", "subject": "Alpha Anruf Messe", "company": "acme", "lead": "11111",
    "notify": ["ben"], "attachments": [{"name": "alpha-notiz.txt", "content_type": "text/plain",
                                        "data": b64(b"Alpha Notiz\n")}]})
eA["ben_own"] = manual("ben", {"channel": "phone", "subject": "Quokkaown Gespraech privat",
                               "text": "Quokkaowntext nur fuer Ben", "followup": "2027-01-15"},
                       files=[("file", "quokka-own.txt", "text/plain", b"nur Ben\n")])
eA["carla_manual"] = manual("carla", {"channel": "video", "subject": "Alpha Carla Video",
                                      "company": "baum",
                                      "attachments": [{"name": "alpha-carla.txt", "data": b64(b"c\n")}]})

# ---- what exists: ids of each tenant ---------------------------------------------------------------

AUTHOR = {}    # entry id -> user key
for k, v in list(eA.items()) + list(eB.items()):
    AUTHOR[v] = k.split("_")[0]


def entry_full(eid):
    return jget(S[AUTHOR[eid]], f"/api/v1/entries/{eid}", f"entry {eid} as its author")


ATT = {}   # entry id -> [attachment ids]
for eid in AUTHOR:
    ATT[eid] = [a.get("id") for a in entry_full(eid).get("attachments", [])]


def records_of(admin, kind, path):
    return [i["id"] for i in jget(S[admin], f"{path}?limit=200", f"{kind} list of {admin}").get("items", [])]


def tenant_ids(admin, users, entries):
    ids = {"entry": list(entries.values()),
           "attachment": [(e, a) for e in entries.values() for a in ATT[e]],
           "token": [i for u in users for i in TOKIDS[u]],
           "notification": [n["id"] for u in users
                            for n in jget(S[u], "/api/v1/me/notifications?limit=200",
                                          f"notifications of {u}").get("items", [])],
           "user": records_of(admin, "user", "/api/v1/admin/users"),
           "company": records_of(admin, "company", "/api/v1/companies"),
           "contact": records_of(admin, "contact", "/api/v1/contacts"),
           "lead": records_of(admin, "lead", "/api/v1/leads"),
           "project": records_of(admin, "project", "/api/v1/projects")}
    return ids


IDS_A = tenant_ids("anna", ["anna", "ben", "carla"], eA)
IDS_B = tenant_ids("jonas", ["jonas", "erik"], eB)
for kind, ids in IDS_B.items():
    t.ok(len(ids) > 0, f"setup: tenant B has {kind} ids to try", got=ids)
    overlap = set(map(str, ids)) & set(map(str, IDS_A[kind]))
    t.ok(not overlap, f"setup: ids of {kind} differ between the tenants", got=sorted(overlap))

# Strings that exist in B only: none of them may reach A.
B_MARKERS = ["Okapibeta", "okapibeta", "Beta Design", "beta-design", "Jonas", "Petersen", "Erik",
             "Lund", "ACME Nord", "acme-nord", "Ahrens", "jm-beta", "(Beta)", "Speisekarte", "30101",
             "Flyer", "Katalog 2027", "katalog", '"beta"', "jonas.p@"]
# "katalog" as a key of B's project; A has "Frühjahrskatalog" (lead name), so compare words:
B_WORD_MARKERS = {"katalog"}


def b_leaks(text):
    found = []
    for m in B_MARKERS:
        if m in B_WORD_MARKERS:
            if re.search(r'"key"\s*:\s*"' + re.escape(m) + '"', text):
                found.append(m)
        elif m.lower() in text.lower():
            found.append(m)
    return found


# ---- snapshots: a tenant read back by its own users ---------------------------------------------------

def snapshot(readers, entries, admin=None, records=None):
    """label -> canonical text of what `readers` (user -> cookie client) see of their own data,
    their entries (read by the author: content, attachments' bytes, the original) and, with an
    admin, the tenant's records, users, settings and rejections."""
    s = {}

    def put(label, client, path, drop=()):
        r = client.get(path)
        body = r.json
        if isinstance(body, dict):
            for k in drop:
                body.pop(k, None)
            for it in body.get("items", []) if isinstance(body.get("items"), list) else []:
                for k in drop:
                    if isinstance(it, dict):
                        it.pop(k, None)
            s[label] = f"{r.status} {canon(body)}"
        else:
            s[label] = f"{r.status} sha256:{sha(r.body)}"

    for u, c in readers.items():
        put(f"{u}: /me", c, "/api/v1/me")
        put(f"{u}: inbox", c, "/api/v1/me/inbox?limit=200")
        put(f"{u}: own history", c, "/api/v1/me/inbox?state=own&limit=200")
        put(f"{u}: follow-ups", c, "/api/v1/me/followups?include_done=1")
        put(f"{u}: notifications", c, "/api/v1/me/notifications?limit=200")
        put(f"{u}: tokens", c, "/api/v1/me/tokens", drop=("used",))
        put(f"{u}: users", c, "/api/v1/users")
    for eid in entries:
        c = readers[AUTHOR[eid]]
        put(f"entry {eid}", c, f"/api/v1/entries/{eid}")
        for a in ATT.get(eid, []):
            put(f"entry {eid} attachment {a}", c, f"/api/v1/entries/{eid}/attachments/{a}")
        put(f"entry {eid} original", c, f"/api/v1/entries/{eid}/original")
    if admin is not None:
        c = readers[admin]
        put("admin: tenant", c, "/api/v1/admin/tenant")
        put("admin: users", c, "/api/v1/admin/users?limit=200")
        put("admin: rejections", c, "/api/v1/admin/rejections")
        for kind, ids in (records or {}).items():
            base = {"company": "companies", "contact": "contacts", "lead": "leads",
                    "project": "projects", "user": "admin/users"}[kind]
            for i in ids:
                put(f"{kind} {i}", c, f"/api/v1/{base}/{i}")
                if kind in ("company", "lead", "project"):
                    put(f"{kind} {i} history", c, f"/api/v1/{base}/{i}/history?limit=200")
    return s


def snapshot_b():
    return snapshot({"jonas": S["jonas"], "erik": S["erik"]}, list(eB.values()), admin="jonas",
                    records={k: IDS_B[k] for k in ("company", "contact", "lead", "project", "user")})


def same_snapshot(before, after, what):
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    ok = t.ok(not changed, f"{what}: nothing changed", got=changed[:20], wanted=[])
    for k in changed[:5]:
        print(f"    {k}:\n      before: {cltest.short(before.get(k), 400)}\n"
              f"      after:  {cltest.short(after.get(k), 400)}")
    return ok


# ---- the walk: every route with {id}, with ids one may not see ------------------------------------------

def fill(pattern, ids):
    it = iter(ids)
    return re.sub(r"\{id\}", lambda _m: str(next(it)), pattern)


def normalize(text, ids):
    for n, i in enumerate(ids):
        text = re.sub(rf"(?<!\d){i}(?!\d)", f"{{ID{n}}}", text)
    return text


def cases(kinds, foreign, own):
    """(ids, mask of the foreign positions) for a pattern's {id}s."""
    if kinds == ["entry", "attachment"]:
        out = [((e, a), (True, True)) for e, a in foreign.get("attachment", [])]
        if own:
            oe, oa = own
            out += [((oe, a), (False, True)) for _e, a in foreign.get("attachment", [])]
            out += [((e, oa), (True, False)) for e in foreign.get("entry", [])]
        return out
    if len(kinds) == 1:
        return [((i,), (True,)) for i in foreign.get(kinds[0], [])]
    t.fail(f"no rule for a route whose ids are {kinds}: add one to cases()")
    return []


def request(client, method, path, body):
    if body is None:
        return client.request(method, path)
    if isinstance(body, tuple) and body[0] == "multipart":
        ct, data = apiclient.multipart(*body[1])
        return client.request(method, path, body=data, content_type=ct)
    return client.request(method, path, json_body=body)


# Routes that take files: also sent as multipart/form-data (spooled before the handler runs).
MULTIPART_BODIES = {
    ("POST", "/api/v1/entries/{id}/attachments"): ("multipart", (
        {}, [("file", "von-a-form.txt", "text/plain", b"A was here (form)\n")])),
}


walked = {}    # (method, pattern) -> requests made
failures_by_route = {}


def walk(route, actors, foreign, own_of, what, expect_admin_403=True):
    """Calls one route as each actor with the foreign ids; each answer must equal that for
    ids that do not exist (404; 403 for a plain user on an admin route)."""
    pattern, method = route["pattern"], route["method"]
    kinds = ID_KINDS.get(pattern)
    if kinds is None:
        t.fail(f"{method} {pattern}: a route with {{id}} that this test has no rule for "
               f"(add it to ID_KINDS, with a body in ID_BODIES when it changes something)")
        return
    if len(kinds) != pattern.count("{id}"):
        t.fail(f"{method} {pattern}: ID_KINDS names {len(kinds)} ids, the pattern has "
               f"{pattern.count('{id}')}")
        return
    has_body = bool(route["flags"] & {"BODY_JSON", "BODY_FORM"})
    bodies = [ID_BODIES.get((method, pattern), {} if has_body else None)]
    if (method, pattern) in MULTIPART_BODIES:
        bodies.append(MULTIPART_BODIES[(method, pattern)])
    admin_route = "AUTH_ADMIN" in route["flags"]
    for label, client, actor in actors:
        is_admin = ME[actor]["role"] == "admin"
        want = 403 if admin_route and not is_admin else 404
        for (ids, mask), body in [(c, b) for c in cases(kinds, foreign, own_of.get(actor)) for b in bodies]:
            ref = tuple(NONE_BASE + 1000 * n + 1 if mask[n] else i for n, i in enumerate(ids))
            path, ref_path = fill(pattern, ids), fill(pattern, ref)
            if method == "GET":
                h, hr = client.request("HEAD", path), client.request("HEAD", ref_path)
                t.eq((h.status, h.body), (hr.status, b""),
                     f"{what}: HEAD {path} as {label}: answered like an id that does not exist")
            r = request(client, method, path, body)
            rr = request(client, method, ref_path, body)
            walked[(method, pattern)] = walked.get((method, pattern), 0) + 1
            w = f"{what}: {method} {path} as {label}"
            good = t.eq(r.status, want, f"{w}: status (an id one may not see is {want}, like a "
                                        f"missing one)")
            good &= t.eq(rr.status, want, f"{what}: {method} {ref_path} (does not exist) as {label}: "
                                          f"status")
            good &= t.eq(normalize(r.text, ids), normalize(rr.text, ref),
                         f"{w}: the body is that of an id that does not exist (no hint)")
            good &= t.eq(r.header("Content-Type"), rr.header("Content-Type"),
                         f"{w}: Content-Type as for an id that does not exist")
            leaked = b_leaks(r.text) if foreign is FOREIGN_B else []
            good &= t.ok(not leaked, f"{w}: nothing of tenant B in the answer", got=leaked)
            if not good:
                print(f"    answer:    {r!r}\n    reference: {rr!r}")
                failures_by_route.setdefault(f"{method} {pattern}", []).append(f"{label} {path} -> {r.status}")


ORDER = {"GET": 0, "HEAD": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2}
ID_ROUTES = sorted([r for r in ROUTES if "{id}" in r["pattern"]],
                   key=lambda r: (ORDER.get(r["method"], 1), r["pattern"]))
A_ACTORS = [("anna (admin, session cookie)", S["anna"], "anna"),
            ("anna (admin, API token)", T["anna"], "anna"),
            ("ben (user, API token)", T["ben"], "ben"),
            ("ben (user, session cookie)", S["ben"], "ben")]
FOREIGN_B = IDS_B
OWN_A = {"anna": (eA["anna_manual"], ATT[eA["anna_manual"]][0]),
         "ben": (eA["ben_own"], ATT[eA["ben_own"]][0]),
         "carla": (eA["carla_manual"], ATT[eA["carla_manual"]][0])}

# Sanity: the same routes answer the owners (the 404s below are not a broken route).
for name, client, path in (("jonas", S["jonas"], f"/api/v1/entries/{eB['jonas_manual']}"),
                           ("erik", T["erik"], f"/api/v1/entries/{eB['erik_own']}"),
                           ("erik", S["erik"], f"/api/v1/entries/{eB['erik_pending']}/attachments/"
                                               f"{ATT[eB['erik_pending']][0]}"),
                           ("jonas", S["jonas"], f"/api/v1/companies/{IDS_B['company'][0]}/history"),
                           ("jonas", S["jonas"], f"/api/v1/admin/users/{UID['erik']}"),
                           ("anna", S["anna"], f"/api/v1/entries/{eA['ben_saved']}"),
                           ("carla", T["carla"], f"/api/v1/entries/{eA['anna_manual']}")):
    r = client.get(path)
    t.eq(r.status, 200, f"sanity: GET {path} as {name} (allowed) answers 200")

before_b = snapshot_b()
for route in ID_ROUTES:
    actors = A_ACTORS
    walk(route, actors, FOREIGN_B, OWN_A, "tenant A with B's ids")
    if route["method"] not in ("GET", "HEAD"):
        after = snapshot_b()
        same_snapshot(before_b, after, f"tenant B after {route['method']} {route['pattern']} "
                                       f"called by tenant A with B's ids")
        before_b = after
for route in ID_ROUTES:
    t.ok(walked.get((route["method"], route["pattern"]), 0) > 0,
         f"{route['method']} {route['pattern']} was walked with B's ids")

# Request bodies that name B's records (ids; B-only keys) are refused like unknown ones.
REF_FIELDS = [("company", IDS_B["company"][0], "company"), ("lead", IDS_B["lead"][0], "lead"),
              ("project", IDS_B["project"][0], "project"), ("contacts", IDS_B["contact"][0], "contact"),
              ("notify", UID["erik"], "user")]
for label, client, actor in A_ACTORS[:3]:
    own_entry = OWN_A[actor][0]
    for field, bid, kind in REF_FIELDS:
        for how in ("id", "object"):
            val = bid if how == "id" else {"id": bid}
            ref = NONE_BASE + 77 if how == "id" else {"id": NONE_BASE + 77}
            wrap = (lambda v: [v]) if field in ("contacts", "notify") else (lambda v: v)
            for method, path, base in (("POST", "/api/v1/entries", {"channel": "phone", "subject": "Quokka ref"}),
                                       ("PATCH", f"/api/v1/entries/{own_entry}", {})):
                b = dict(base, **{field: wrap(val)})
                rb = dict(base, **{field: wrap(ref)})
                r = request(client, method, path, b)
                rr = request(client, method, path, rb)
                w = f"{method} {path} as {label} with {field} = B's {kind} {how} {bid}"
                t.eq(r.status, 422, f"{w}: refused (422)")
                t.eq(normalize(r.text, [bid]), normalize(rr.text, [NONE_BASE + 77]),
                     f"{w}: answered like an unknown {kind}")
    # B-only keys by name; the key both tenants have (acme, lead 11111) is A's own.
    for field, key in (("company", "okapibeta-werft-gmbh"), ("lead", "30101"), ("project", "katalog"),
                       ("contacts", ["kahrens"]), ("notify", ["erik"]), ("notify", ["erik.lund@beta-design.example"]),
                       ("notify", ["jonas.p@freemail.example"])):
        r = client.post("/api/v1/entries", {"channel": "phone", "subject": "Quokka key", field: key})
        t.eq(r.status, 422, f"POST /api/v1/entries as {label} with {field} = B's {key}: refused (422)")
        t.ok(not b_leaks(r.text.replace(str(key).strip("[]'"), "")),
             f"POST /api/v1/entries as {label} with {field} = {key}: the answer names nothing of B",
             got=r.text)
r = S["ben"].post("/api/v1/entries", {"channel": "phone", "subject": "Quokka acme", "company": "acme",
                                      "lead": "11111", "contacts": ["jmueller"]})
j = need(r, 201, "entry with the shared keys acme / 11111")
t.ok((j.get("company") or {}).get("id") in IDS_A["company"] and
     (j.get("lead") or {}).get("id") in IDS_A["lead"],
     "company 'acme' and lead '11111' (keys of both tenants) name A's records for a user of A",
     got=(j.get("company"), j.get("lead")))
eA["ben_acme"] = j.get("id")
AUTHOR[j.get("id")] = "ben"
# Records of A that name B's company.
for path, body in (("/api/v1/contacts", {"name": "Quokka X"}), ("/api/v1/leads", {"name": "Quokka X"}),
                   ("/api/v1/projects", {"name": "Quokka X"}),
                   (f"/api/v1/contacts/{IDS_A['contact'][0]}", {}), (f"/api/v1/leads/{IDS_A['lead'][0]}", {}),
                   (f"/api/v1/projects/{IDS_A['project'][0]}", {})):
    method = "POST" if path.count("/") == 3 else "PATCH"
    b = dict(body, company=IDS_B["company"][0])
    rb = dict(body, company=NONE_BASE + 78)
    r = request(S["anna"], method, path, b)
    rr = request(S["anna"], method, path, rb)
    t.ok(r.status in (404, 422), f"{method} {path} with B's company: refused", got=r.status)
    t.eq((r.status, normalize(r.text, [IDS_B["company"][0]])),
         (rr.status, normalize(rr.text, [NONE_BASE + 78])),
         f"{method} {path} with B's company: answered like an unknown company")
# List filters that name B's company.
for path in ("/api/v1/contacts", "/api/v1/leads", "/api/v1/projects", "/api/v1/companies"):
    r = S["anna"].get(f"{path}?company={IDS_B['company'][0]}")
    rr = S["anna"].get(f"{path}?company={NONE_BASE + 79}")
    t.ok(r.status == 404 or (r.status == 200 and not item_ids(r.json)),
         f"GET {path}?company=<B's company>: 404 or nothing", got=repr(r))
    t.eq((r.status, normalize(r.text, [IDS_B["company"][0]])), (rr.status, normalize(rr.text, [NONE_BASE + 79])),
         f"GET {path}?company=<B's company>: answered like an unknown company")
same_snapshot(before_b, snapshot_b(), "tenant B after A's requests naming B's records in bodies")

# A's mail that names B's contact addresses, B's lead number and a shared offer number: the
# API shows only A's records (or none) on it.
cross = entry_full(eA["carla_cross"])
refs = [("company", cross.get("company")), ("lead", cross.get("lead")), ("project", cross.get("project"))] + \
       [("contact", c) for c in cross.get("contacts", [])] + \
       [(k, c) for k, lst in (cross.get("candidates") or {}).items() for c in lst]
bad = [(k, v) for k, v in refs if isinstance(v, dict) and (v.get("id") in IDS_B.get(k, []) or b_leaks(canon(v)))]
t.ok(not bad, "A's mail naming B's addresses and numbers: no record of B on the entry", got=bad)
t.ok((cross.get("project") or {}).get("id") in IDS_A["project"] + [None],
     "A's mail with offer 4711 (both tenants): A's project or none", got=cross.get("project"))

# ---- private items inside A ---------------------------------------------------------------------------------

PRIVATE_A = {k: eA[k] for k in ("ben_pending", "ben_discard", "ben_ownmail", "ben_own")}
FOREIGN_BEN = {"entry": list(PRIVATE_A.values()),
               "attachment": [(e, a) for e in PRIVATE_A.values() for a in ATT[e]],
               "token": TOKIDS["ben"],
               "notification": [n["id"] for n in jget(S["ben"], "/api/v1/me/notifications",
                                                      "ben's notifications").get("items", [])]}
t.ok(len(FOREIGN_BEN["notification"]) > 0, "setup: ben has a notification (anna notified him)")
t.ok(all(ATT[e] for e in PRIVATE_A.values()), "setup: each private entry of ben has an attachment",
     got={k: ATT[v] for k, v in PRIVATE_A.items()})
COLLEAGUES = [("anna (admin, session cookie)", S["anna"], "anna"),
              ("anna (admin, API token)", T["anna"], "anna"),
              ("carla (user, API token)", T["carla"], "carla"),
              ("carla (user, session cookie)", S["carla"], "carla")]


def snapshot_ben():
    return snapshot({"ben": S["ben"]}, list(PRIVATE_A.values()))


before_ben = snapshot_ben()
for route in ID_ROUTES:
    kinds = ID_KINDS.get(route["pattern"], [])
    if not kinds or kinds[0] not in FOREIGN_BEN:
        continue   # records and users of one's own tenant are everybody's
    walk(route, COLLEAGUES, FOREIGN_BEN, OWN_A, "a colleague's private item")
    if route["method"] not in ("GET", "HEAD"):
        after = snapshot_ben()
        same_snapshot(before_ben, after, f"ben's private items after {route['method']} "
                                         f"{route['pattern']} by colleagues")
        before_ben = after
for k, eid in PRIVATE_A.items():
    r = T["ben"].get(f"/api/v1/entries/{eid}")
    t.eq(r.status, 200, f"sanity: ben still reads his {k} entry {eid}")
# Ben's tokens still work (nobody else could delete them).
for tok_id in TOKIDS["ben"]:
    t.ok(tok_id in item_ids(jget(S["ben"], "/api/v1/me/tokens", "ben's tokens")),
         f"ben's token {tok_id} is still there")

# Search, histories, own history, follow-ups of others.
WORDS = {"ben_pending": ["Quokkapend", "Quokkapendtext"], "ben_discard": ["Quokkadisc", "Quokkadisctext"],
         "ben_ownmail": ["Quokkaownmail", "Quokkaownmailtext"], "ben_own": ["Quokkaown", "Quokkaowntext"]}
for k, words in WORDS.items():
    eid = eA[k]
    for w in words:
        if k != "ben_discard":
            got = item_ids(jget(T["ben"], f"/api/v1/search?q={w}", f"ben searches {w}"))
            t.ok(eid in got, f"sanity: ben's search for {w!r} finds his {k} entry {eid}", got=got)
        for label, client, _a in COLLEAGUES[1:3]:
            doc = jget(client, f"/api/v1/search?q={w}", f"{label} searches {w}")
            doc.pop("query", None)   # the words one asked for, said back
            t.ok(eid not in item_ids(doc), f"search ?q={w} as {label}: ben's {k} entry {eid} is not listed",
                 got=item_ids(doc))
            t.ok(w.lower() not in json.dumps(doc, ensure_ascii=False).lower(),
                 f"search ?q={w} as {label}: the word appears nowhere in the answer")
pend = entry_full(eA["ben_pending"])
hist_paths = [f"/api/v1/companies/{c}/history?limit=200" for c in IDS_A["company"]] + \
             [f"/api/v1/leads/{x}/history?limit=200" for x in IDS_A["lead"]] + \
             [f"/api/v1/projects/{x}/history?limit=200" for x in IDS_A["project"]]
t.ok((pend.get("company") or {}).get("key") == "acme",
     "setup: ben's pending mail is assigned to acme (so its history is a place it could leak to)",
     got=pend.get("company"))
for label, client, _a in COLLEAGUES[1:3]:
    seen = set()
    for p in hist_paths:
        seen |= set(item_ids(jget(client, p, f"{label} history")))
    for p in ("/api/v1/me/inbox?limit=200", "/api/v1/me/inbox?state=own&limit=200",
              "/api/v1/me/followups?include_done=1&limit=500"):
        seen |= set(item_ids(jget(client, p, f"{label} {p}")))
    leaked = sorted(seen & set(PRIVATE_A.values()))
    t.ok(not leaked, f"histories, inbox, own history, follow-ups of {label}: none of ben's private entries",
         got=leaked)
# Notifications must not show what one may not open: Ben notified Carla on his own-history entry;
# Anna notified Carla on a company entry and then moved it to her own history.
later = manual("anna", {"channel": "phone", "subject": "Quokkalater erst Firma", "company": "acme",
                        "notify": ["carla"]})
AUTHOR[later] = "anna"
need(S["anna"].patch(f"/api/v1/entries/{later}", {"company": None, "lead": None, "project": None,
                                                  "contacts": []}), 200, "anna moves her entry to her own history")
t.eq(S["carla"].get(f"/api/v1/entries/{later}").status, 404,
     "anna's entry moved to her own history: 404 for carla")
doc = jget(S["carla"], "/api/v1/me/notifications?limit=200", "carla notifications")
shown = [n for n in doc.get("items", []) if (n.get("entry") or {}).get("id") == later]
t.ok(not shown and "Quokkalater" not in json.dumps(doc),
     f"notifications of carla: nothing of anna's entry {later} after it became own history "
     f"(it answers 404 to her)", got=shown[:1])
for label, client, _a in COLLEAGUES:
    doc = jget(client, "/api/v1/me/notifications?limit=200", f"{label} notifications")
    text = json.dumps(doc, ensure_ascii=False)
    shown = [n for n in doc.get("items", []) if (n.get("entry") or {}).get("id") in PRIVATE_A.values()]
    t.ok(not shown and "Quokkaown" not in text,
         f"notifications of {label}: no subject or id of ben's private (own-history) entry "
         f"{eA['ben_own']} (it answers 404 to them)", got=shown[:2])

# ---- lists of A contain nothing of B ------------------------------------------------------------------------

# Sanity: B's users do see those markers (the checks below can see a leak).
for path, marker in (("/api/v1/companies?q=Nord", "ACME Nord"), ("/api/v1/contacts?q=Ahrens", "Ahrens"),
                     ("/api/v1/leads?q=30101", "30101"), ("/api/v1/projects?q=Katalog", "Katalog 2027"),
                     ("/api/v1/search?q=Okapibeta", "Okapibeta"), ("/api/v1/admin/users?q=erik", "Erik"),
                     ("/api/v1/admin/rejections", "Okapibeta"), ("/api/v1/users", "Erik")):
    r = S["jonas"].get(path)
    t.ok(r.status == 200 and marker in r.text, f"sanity: jonas sees {marker!r} in GET {path}", got=repr(r))

LIST_PATHS = [r["pattern"] for r in ROUTES if r["method"] == "GET" and "{id}" not in r["pattern"]]
QUERIES = ["/api/v1/companies?q=acme", "/api/v1/companies?q=Nord", "/api/v1/companies?q=okapibeta",
           "/api/v1/companies?limit=200", "/api/v1/contacts?q=mueller", "/api/v1/contacts?q=Ahrens",
           "/api/v1/contacts?q=acme-nord", "/api/v1/contacts?q=j.mueller@acme-maschinen.example",
           "/api/v1/contacts?limit=200", "/api/v1/leads?q=11111", "/api/v1/leads?q=30101",
           "/api/v1/leads?q=Speisekarte", "/api/v1/leads?q=Flyer", "/api/v1/leads?limit=200",
           "/api/v1/projects?q=4711", "/api/v1/projects?q=Katalog", "/api/v1/projects?q=B-1",
           "/api/v1/projects?limit=200", "/api/v1/admin/users?q=erik", "/api/v1/admin/users?q=beta",
           "/api/v1/admin/users?q=doppelt", "/api/v1/admin/users?limit=200", "/api/v1/admin/rejections?limit=1000",
           "/api/v1/search?q=Okapibeta", "/api/v1/search?q=acme", "/api/v1/search?q=Nord",
           "/api/v1/search?q=11111", "/api/v1/search?q=30101", "/api/v1/search?q=Ahrens",
           "/api/v1/search?q=Katalog", "/api/v1/search?q=Speisekarte", "/api/v1/search?q=Erik",
           "/api/v1/me/inbox?limit=200", "/api/v1/me/inbox?state=own&limit=200",
           "/api/v1/me/followups?include_done=1&limit=500", "/api/v1/me/notifications?limit=200",
           "/api/v1/users", "/api/v1/me/tokens", "/api/v1/admin/tenant", "/api/v1/me"]
B_ENTRY_IDS = set(eB.values())
LIST_KIND = {"companies": "company", "contacts": "contact", "leads": "lead", "projects": "project",
             "users": "user"}
# GET routes that need a parameter: what to give them.
NEEDS_QUERY = {"/api/v1/search": "?q=Quokka"}
for label, client, actor in A_ACTORS[:3]:
    for path in [p + NEEDS_QUERY.get(p, "") for p in LIST_PATHS] + QUERIES:
        r = client.get(path)
        admin_only = path.startswith("/api/v1/admin/") and ME[actor]["role"] != "admin"
        if admin_only:
            t.eq(r.status, 403, f"GET {path} as {label}: 403 for a plain user")
            continue
        t.ok(r.status == 200, f"GET {path} as {label}: 200", got=repr(r))
        doc = r.json if isinstance(r.json, dict) else {}
        text = r.text
        if "query" in doc:   # search says back the words one asked for
            doc.pop("query")
            text = json.dumps(doc, ensure_ascii=False)
        leaked = b_leaks(text)
        t.ok(not leaked, f"GET {path} as {label}: nothing of tenant B", got=leaked,
             detail=f"answer: {cltest.short(text, 500)}")
        for key in ("items", "companies", "contacts", "leads", "projects"):
            items = doc.get(key)
            if not isinstance(items, list):
                continue
            ids = {i.get("id") for i in items if isinstance(i, dict)}
            seg = path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
            kind = LIST_KIND.get(key if key != "items" else seg)
            if key == "items" and seg in ("search", "inbox", "followups"):
                bad = ids & B_ENTRY_IDS
            elif kind:
                bad = ids & set(IDS_B[kind])
            else:
                bad = set()
            t.ok(not bad, f"GET {path} as {label}: no id of B's {kind or 'entries'} in {key!r}",
                 got=sorted(bad))
# Tenant A's admin sees A's rejection, not B's.
rej = jget(S["anna"], "/api/v1/admin/rejections", "A's rejections")
t.ok(any("Alpha abgelehnt" == (x.get("subject")) for x in rej.get("items", [])),
     "sanity: anna sees A's own rejection", got=[x.get("subject") for x in rej.get("items", [])])

# Uploads of B's mail by users of A create nothing in B.
before_b = snapshot_b()
for label, client, actor in A_ACTORS:
    for frm in ("Erik Lund <erik.lund@beta-design.example>", "jonas.p@freemail.example",
                "Jonas Petersen <JONAS.PETERSEN@Beta-Design.example>", "doppelt@freemail.example",
                "nobody@nowhere-at-all.example"):
        addr = re.sub(r".*<|>.*", "", frm)
        mid = f"up-{actor}-{addr}-{random.randrange(1 << 30)}"
        raw = mime_mail(frm, "k.ahrens@acme-nord.example", "Okapibeta Upload Lead 30101",
                        "Okapibeta hochgeladen\n", mid)
        r = client.request("POST", "/api/v1/messages", body=raw, content_type="message/rfc822")
        w = f"POST /api/v1/messages as {label}, From {frm}"
        t.eq(r.status, 422, f"{w}: 422")
        t.eq((r.json or {}).get("code"), "unknown-sender", f"{w}: unknown-sender", None)
        norm = r.text.replace(addr, "ADDR").replace(addr.lower(), "ADDR")
        if addr.startswith("nobody@"):
            continue
        # the same answer as for an address that exists nowhere (checked after the loop)
        t.ok("beta" not in norm.lower() and "Jonas" not in norm and "Erik" not in norm,
             f"{w}: the answer says nothing of tenant B", got=r.text)
        ref = mime_mail("nobody@nowhere-at-all.example", "k.ahrens@acme-nord.example",
                        "Okapibeta Upload Lead 30101", "Okapibeta hochgeladen\n", mid + "-ref")
        rr = client.request("POST", "/api/v1/messages", body=ref, content_type="message/rfc822")
        t.eq(norm, rr.text.replace("nobody@nowhere-at-all.example", "ADDR"),
             f"{w}: answered like a sender who exists nowhere")
same_snapshot(before_b, snapshot_b(), "tenant B (inboxes, rejections, entries) after uploads of B's "
                                      "mail by users of A")
for u in ("erik", "jonas"):
    r = t.run(["inbox", "--user", u, "--tenant", "beta", "--json"], data_dir=d)
    got = [e.get("id") for e in (r.json() or [])] if r.rc == 0 else None
    want = [eB[f"{u}_pending"]]
    t.eq(got, want, f"contactlog inbox --user {u}: only the pending mail delivered for {u}", r)

# Unsafe routes without {id}: what A may do there must not reach B.
before_b = snapshot_b()
NOID_UNSAFE = {
    ("POST", "/api/v1/session"), ("DELETE", "/api/v1/session"), ("PATCH", "/api/v1/me"),
    ("PUT", "/api/v1/me/password"), ("POST", "/api/v1/me/notifications/read"),
    ("POST", "/api/v1/me/tokens"), ("POST", "/api/v1/entries"), ("POST", "/api/v1/messages"),
    ("POST", "/api/v1/companies"), ("POST", "/api/v1/contacts"), ("POST", "/api/v1/leads"),
    ("POST", "/api/v1/projects"), ("PATCH", "/api/v1/admin/tenant"), ("POST", "/api/v1/admin/users"),
}
for route in ROUTES:
    if "{id}" in route["pattern"] or route["method"] in ("GET", "HEAD"):
        continue
    t.ok((route["method"], route["pattern"]) in NOID_UNSAFE,
         f"{route['method']} {route['pattern']}: an unsafe route this test knows "
         f"(add what it must not do to tenant B)")
# notifications/read of A (all) leaves B's unread ones; a session of B is not ended by A's logout.
for label, client, actor in A_ACTORS[:3]:
    t.eq(client.post("/api/v1/me/notifications/read").status, 204,
         f"POST /api/v1/me/notifications/read as {label}")
    t.eq(client.patch("/api/v1/me", {"locale": "en"}).status, 200, f"PATCH /api/v1/me as {label}")
    t.eq(client.put("/api/v1/me/password", {"current": "falsch-falsch", "new": "neu-neu-neu-1"}).status,
         403, f"PUT /api/v1/me/password (wrong current) as {label}")
    t.eq(client.post("/api/v1/me/tokens", {"name": "quokka-extra"}).status, 201,
         f"POST /api/v1/me/tokens as {label}")
# Records of A with B's keys: new records in A, B's untouched.
for path, body in (("/api/v1/companies", {"key": "okapibeta-werft-gmbh", "name": "Quokka Werft"}),
                   ("/api/v1/leads", {"number": "30101", "name": "Quokka Lead",
                                      "company": IDS_A["company"][0]}),
                   ("/api/v1/projects", {"key": "katalog", "name": "Quokka Katalog",
                                         "company": IDS_A["company"][0]}),
                   ("/api/v1/contacts", {"key": "kahrens", "name": "Quokka Kontakt",
                                         "company": IDS_A["company"][0],
                                         "emails": ["k.ahrens@acme-nord.example"]})):
    r = S["anna"].post(path, body)
    t.eq(r.status, 201, f"POST {path} with a key of B's: a record of A's own (keys are per tenant)")
    t.ok((r.json or {}).get("id") not in IDS_B[LIST_KIND[path.rsplit('/', 1)[1]]],
         f"POST {path} with a key of B's: not B's record", got=r.json)
t.eq(S["anna"].patch("/api/v1/admin/tenant", {"name": "Alpha Werbeagentur GmbH"}).status, 200,
     "PATCH /api/v1/admin/tenant (name) as anna")
r = S["anna"].patch("/api/v1/admin/tenant", {"key": "beta"})
t.ok(r.status in (409, 422), "PATCH /api/v1/admin/tenant {key: beta} as anna: refused", got=repr(r))
r = S["anna"].post("/api/v1/admin/users", {"key": "jonas", "name": "Quokka Jonas", "password": "quokka-jonas-1"})
t.eq(r.status, 201, "POST /api/v1/admin/users with key 'jonas' (B's user's key): a user of A's own")
t.ok((r.json or {}).get("id") not in IDS_B["user"], "the new user is not B's jonas", got=r.json)
# A's logout does not end B's sessions (the same server, different users).
x = session("anna")
t.eq(x.logout().status, 204, "DELETE /api/v1/session as anna (a second session)")
t.eq(S["jonas"].get("/api/v1/me").status, 200, "jonas's session lives on after anna's logout")
same_snapshot(before_b, snapshot_b(), "tenant B after A's unsafe requests without ids")

# ---- concurrency: no data of one request in another ------------------------------------------------------

EXPECT = {}
for u in ("anna", "ben", "carla", "jonas", "erik"):
    EXPECT[u] = {
        "inbox": sorted(item_ids(jget(S[u], "/api/v1/me/inbox?limit=200", f"{u} inbox"))),
        "tokens": sorted(item_ids(jget(S[u], "/api/v1/me/tokens", f"{u} tokens"))),
        "notifications": sorted(item_ids(jget(S[u], "/api/v1/me/notifications?limit=200", f"{u} notes"))),
        "users": sorted(item_ids(jget(S[u], "/api/v1/users", f"{u} users"))),
        "companies": sorted(item_ids(jget(S[u], "/api/v1/companies?limit=200", f"{u} companies"))),
        "search": sorted(item_ids(jget(S[u], "/api/v1/search?q=Okapibeta&limit=200", f"{u} search"))),
    }
t.ok(EXPECT["erik"]["search"] and not EXPECT["anna"]["search"],
     "sanity: 'Okapibeta' finds entries for erik, none for anna",
     got=(EXPECT["erik"]["search"], EXPECT["anna"]["search"]))
IDENT = [("anna", "cookie"), ("jonas", "cookie"), ("ben", "token"), ("erik", "token"),
         ("carla", "cookie"), ("erik", "cookie"), ("anna", "token"), ("jonas", "token"),
         ("carla", "token"), ("ben", "cookie")]
KINDS = ["me", "inbox", "tokens", "notifications", "users", "companies", "search", "create"]
lock = threading.Lock()
problems = []
created = {u: [] for u in EXPECT}
counts = {"requests": 0}


def headers_for(user, how, method):
    h = {}
    if how == "token":
        h["Authorization"] = "Bearer " + TOK[user]
    else:
        h["Cookie"] = "cl_session=" + S[user].cookie
        if method != "GET":
            h["X-CSRF-Token"] = S[user].csrf
    return h


def check_answer(user, kind, status, doc, extra):
    want_t = TENANT[user]
    if status not in (200, 201):
        return f"status {status}"
    if not isinstance(doc, dict):
        return "no JSON object"
    if kind == "me":
        u = doc.get("user") or {}
        if u.get("key") != user or (u.get("tenant") or {}).get("key") != want_t:
            return f"/me answered {u.get('key')}@{(u.get('tenant') or {}).get('key')}"
        return None
    if kind == "create":
        a = doc.get("author") or {}
        if a.get("key") != user or a.get("id") != UID[user] or doc.get("subject") != extra:
            return f"created entry by {a.get('key')} with subject {doc.get('subject')!r}"
        with lock:
            created[user].append(doc.get("id"))
        return None
    got = sorted(item_ids(doc))
    if got != EXPECT[user][kind]:
        return f"{kind}: got ids {got}, wanted {EXPECT[user][kind]}"
    if kind == "inbox" and any((i.get("author") or {}).get("key") != user for i in doc["items"]):
        return "inbox items of another author"
    return None


PATHS = {"me": "/api/v1/me", "inbox": "/api/v1/me/inbox?limit=200", "tokens": "/api/v1/me/tokens",
         "notifications": "/api/v1/me/notifications?limit=200", "users": "/api/v1/users",
         "companies": "/api/v1/companies?limit=200", "search": "/api/v1/search?q=Okapibeta&limit=200"}


def worker(n, persistent, per_thread):
    rnd = random.Random(n)
    conn = None
    for i in range(per_thread):
        user, how = IDENT[(n + i) % len(IDENT)]
        kind = KINDS[rnd.randrange(len(KINDS))]
        method, path, body, extra = "GET", PATHS.get(kind), None, None
        if kind == "create":
            extra = f"Parallel {user} {n}-{i}"
            method, path = "POST", "/api/v1/entries"
            body = json.dumps({"channel": "other", "subject": extra}).encode()
        h = headers_for(user, how, method)
        if body is not None:
            h["Content-Type"] = "application/json"
        try:
            if conn is None or not persistent:
                conn = http.client.HTTPConnection(*ADDR, timeout=30)
            conn.request(method, path, body=body, headers=h)
            resp = conn.getresponse()
            data = resp.read()
            if not persistent or resp.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
            status = resp.status
            try:
                doc = json.loads(data.decode())
            except ValueError:
                doc = None
            why = check_answer(user, kind, status, doc, extra)
        except (OSError, http.client.HTTPException) as x:
            why = f"transport error {x!r}"
            if conn is not None:
                conn.close()
            conn = None
        with lock:
            counts["requests"] += 1
            if why:
                problems.append(f"thread {n} ({'keep-alive' if persistent else 'new connections'}) "
                                f"request {i}: {method} {path} as {user} ({how}): {why}")
    if conn is not None:
        conn.close()


threads = [threading.Thread(target=worker, args=(n, n % 2 == 0, 50)) for n in range(8)]
for th in threads:
    th.start()
for th in threads:
    th.join(120)
t.eq(counts["requests"], 8 * 50, "concurrency: every request was answered")
t.ok(not problems, f"concurrency: 8 threads x 50 requests of 5 users of 2 tenants each got their "
                   f"own data ({len(problems)} did not)", got=problems[:10], wanted=[])
for u in EXPECT:
    own = item_ids(jget(S[u], "/api/v1/me/inbox?state=own&limit=200", f"{u} own history"))
    mine = [i for i in own if i in set(x for v in created.values() for x in v)]
    t.eq(sorted(mine), sorted(created[u]),
         f"concurrency: {u}'s own history holds exactly the entries {u} made in parallel")

# ---- an admin of A cannot take over what identifies B's users -----------------------------------------------

r = S["anna"].patch("/api/v1/admin/tenant", {"domains": ["alpha-agentur.example", "Alpha-Mail.example",
                                                         "beta-design.example"]})
t.ok(r.status in (409, 422), "PATCH /api/v1/admin/tenant adding B's domain beta-design.example: refused",
     got=repr(r))
t.ok("beta-design.example" in json.dumps(jget(S["jonas"], "/api/v1/admin/tenant", "B tenant")),
     "B's tenant keeps its domain beta-design.example")
# Addresses of B's users given to users of A.
for body in ({"key": "quokka-klau", "name": "Quokka Klau", "password": "quokka-klau-1",
              "emails": ["erik.lund@beta-design.example"]},
             {"key": "quokka-privat", "name": "Quokka Privat", "password": "quokka-privat-1",
              "emails": ["jonas.p@freemail.example"]}):
    r = S["anna"].post("/api/v1/admin/users", body)
    print(f"note: POST /api/v1/admin/users with {body['emails'][0]} as anna: {r!r}")
    t.ok(r.status in (201, 409, 422),
         f"POST /api/v1/admin/users with {body['emails'][0]} (an address of a user of B): answered",
         got=repr(r))
r = S["anna"].patch(f"/api/v1/admin/users/{UID['ben']}",
                    {"emails": ["ben.kaya@alpha-agentur.example", "jonas.petersen@beta-design.example"]})
print(f"note: PATCH /api/v1/admin/users/<ben> adding jonas.petersen@beta-design.example: {r!r}")
t.ok(r.status in (200, 409, 422),
     "PATCH /api/v1/admin/users/<ben> adding jonas.petersen@beta-design.example: answered", got=repr(r))
for u, email in (("erik", "erik.lund@beta-design.example"), ("jonas", "jonas.petersen@beta-design.example"),
                 ("jonas", "jonas.p@freemail.example")):
    c = apiclient.Client(ADDR)
    r = c.login(email, PASSWORDS[u][1])
    t.eq(r.status, 201, f"{u} of tenant B still logs in with {email} after A's admin gave that "
                        f"address to a user of A")
    if r.status == 201:
        t.eq((r.json.get("user") or {}).get("key"), u, f"login with {email}: it is {u}")
for frm, u, mid in (("erik.lund@beta-design.example", "erik", "b-after-1"),
                    ("jonas.p@freemail.example", "jonas", "b-after-2")):
    r = t.deliver(mime_mail(frm, "k.ahrens@acme-nord.example", "Okapibeta danach", "danach\n", mid), d)
    res = t.one_line(r, f"deliver {mid}") or {}
    t.eq((r.rc, res.get("status"), res.get("tenant"), res.get("user")), (0, "pending", "beta", u),
         f"mail from {frm} (B's {u}) is still captured for {u} of tenant B after A's admin "
         f"registered the address", r)
for u in ("erik", "jonas"):
    r = S[u].get("/api/v1/me")
    t.eq(r.status, 200, f"{u}'s session still works")

# ---- an admin of A registers nothing where B has something (domains and addresses) --------------------------

LMTP_ADDR = srv.address("lmtp")


def lmtp(message, sender="sender@lmtp.example"):
    """One message over LMTP to the drop address: (code, text) of the reply after DATA."""
    dlg = cltest.Dialog(LMTP_ADDR)
    try:
        dlg.reply()
        dlg.send(f"LHLO isolation.example\r\nMAIL FROM:<{sender}>\r\nRCPT TO:<{cltest.DROP}>\r\nDATA\r\n")
        replies = dlg.replies(4)
        if [c for c, _ in replies] != [250, 250, 250, 354]:
            return replies[-1]
        dlg.send(cltest.dot_stuff(message))
        return dlg.reply()
    finally:
        dlg.close()


NOT_YOURS = "cannot be registered for your organisation; the operator of contactlog can register it (master data)"
A_DOMAINS = ["alpha-agentur.example", "alpha-mail.example"]
# B made a contact person at A's own domain (A's people may be B's customers).
need(S["jonas"].post("/api/v1/contacts", {"name": "Quokka als Kunde", "company": bco.get("id"),
                                          "emails": ["quokka.kollege@alpha-agentur.example"]}),
     201, "B: a contact person at A's domain")
# What B has at a domain, and the domain anna tries to add to A.
for dom, what in (("freemail.example", "private addresses of B's users (and of A's: jonas.p@, doppelt@)"),
                  ("FreeMail.Example", "the same, in other case"),
                  ("acme-nord.example", "a company domain of B"),
                  ("mail.acme-nord.example", "a subdomain of a company domain of B"),
                  ("okapibeta-werft.example", "a company domain of B made through the API"),
                  ("acme-maschinen.example", "an address of a contact person of B (jm-beta); A's own company domain"),
                  ("beta-design.example", "B's domain"),
                  ("intern.beta-design.example", "a subdomain of B's domain"),
                  ("contactlog.example", "the drop address's domain"),
                  ("co.beta-design.example", "a subdomain of B's domain, three labels")):
    r = S["anna"].patch("/api/v1/admin/tenant", {"domains": A_DOMAINS + [dom]})
    t.eq((r.status, (r.json or {}).get("code"), (r.json or {}).get("detail")),
         (409, "conflict", f"domains[2]: {dom} {NOT_YOURS}"),
         f"A's admin adds {dom} ({what}) to A's domains: 409, the one sentence for all refusals")
t.eq(jget(S["anna"], "/api/v1/admin/tenant", "A tenant").get("domains"), A_DOMAINS,
     "the refused domains are not A's")
# Free domains, also ones that only look like B's, can be added; A's domains can be removed.
r = S["anna"].patch("/api/v1/admin/tenant", {"domains": A_DOMAINS + ["design.example", "quokka-neu.example"]})
t.eq(r.status, 200, "A's admin adds design.example (no label of beta-design.example) and quokka-neu.example")
r = S["anna"].patch("/api/v1/admin/tenant", {"domains": ["alpha-agentur.example", "quokka-neu.example"]})
t.eq((r.status, (r.json or {}).get("domains")), (200, ["alpha-agentur.example", "quokka-neu.example"]),
     "A's admin removes alpha-mail.example and design.example")
r = S["anna"].patch("/api/v1/admin/tenant", {"domains": A_DOMAINS})
t.eq((r.status, (r.json or {}).get("domains")), (200, A_DOMAINS), "and adds alpha-mail.example back")
for dom, what in (("nicht eine@domain", "a space and an @"), ("example", "one label (a parent of all B has)"),
                  ("*.beta-design.example", "a wildcard"), ("xn--beta-design-example", "one label"),
                  ("b" * 64 + ".example", "a label of 64 octets"), ("beta-design.example.", "a trailing dot")):
    r = S["anna"].patch("/api/v1/admin/tenant", {"domains": A_DOMAINS + [dom]})
    t.eq((r.status, (r.json or {}).get("detail")), (422, f"domains[2]: {dom} is not a domain"),
         f"A's admin adds {dom} ({what}): 422, no domain")

# Addresses anna gives a (new) user of A.
A_USERS = sorted(u.get("key") for u in jget(S["anna"], "/api/v1/admin/users?limit=200", "A users").get("items", []))
for addr, what in (("k.ahrens@acme-nord.example", "B's contact person"),
                   ("neu.person@acme-nord.example", "at a company domain of B"),
                   ("x@mail.acme-nord.example", "at a subdomain of a company domain of B"),
                   ("olaf@okapibeta-werft.example", "B's contact person made through the API"),
                   ("J.Mueller@acme-maschinen.example", "B's contact person (A's too), in other case"),
                   ("jonas.p@freemail.example", "the private address of B's admin"),
                   ('"jonas.p"@freemail.example', "the same, its local part quoted"),
                   ('"Jonas.P"@FreeMail.example', "the same, quoted and in other case"),
                   ("erik.lund@beta-design.example", "B's user at B's domain"),
                   ("neu@beta-design.example", "at B's domain"),
                   ("neu@intern.beta-design.example", "at a subdomain of B's domain"),
                   ("quokka@contactlog.example", "at the drop address's domain")):
    r = S["anna"].post("/api/v1/admin/users", {"name": "Quokka Neu", "password": "quokka-neu-123",
                                               "emails": [addr]})
    t.eq((r.status, (r.json or {}).get("code"), (r.json or {}).get("detail")),
         (409, "conflict", f"emails[0]: {addr} {NOT_YOURS}"),
         f"A's admin creates a user with {addr} ({what}): 409, the one sentence")
r = S["anna"].patch(f"/api/v1/admin/users/{UID['ben']}",
                    {"emails": ["ben.kaya@alpha-agentur.example", "ben@acme-nord.example"]})
t.eq((r.status, (r.json or {}).get("detail")), (409, f"emails[1]: ben@acme-nord.example {NOT_YOURS}"),
     "A's admin adds an address at B's company domain to ben: 409")
# Inside A the answer is precise.
r = S["anna"].post("/api/v1/admin/users", {"name": "Quokka Neu", "password": "quokka-neu-123",
                                           "emails": ["Ben.Kaya@alpha-agentur.example"]})
t.eq((r.status, (r.json or {}).get("detail")),
     (409, "emails[0]: Ben.Kaya@alpha-agentur.example is already an address of the user ben"),
     "an address of a colleague in A: 409 naming the colleague")
t.eq(sorted(u.get("key") for u in jget(S["anna"], "/api/v1/admin/users?limit=200", "A users").get("items", [])),
     A_USERS, "no user was made by the refused requests")
# What is A's to give: another private address at the free-mail domain B's users use too, and an
# address at A's own domain that B has as a contact person (it is A's mail by its domain anyway).
for addr, key in (("quokka.privat@freemail.example", "quokka-frei"),
                  ("quokka.kollege@alpha-agentur.example", "quokka-kollege")):
    r = S["anna"].post("/api/v1/admin/users", {"name": key, "key": key, "password": "quokka-neu-123",
                                               "emails": [addr]})
    t.eq((r.status, (r.json or {}).get("emails")), (201, [addr]), f"A's admin creates a user with {addr}")
code, text = lmtp(mime_mail("quokka.privat@freemail.example", "k.ahrens@acme-nord.example", "Quokka privat",
                            "privat\n", "a-quokka-privat"))
t.ok(code == 250, "LMTP: mail from the new private address of A's user is captured", got=(code, text))

# B's mail from where anna tried to register things goes to B, or is refused, never to A.
for frm, mid, want in (("jonas.p@freemail.example", "b-free-after", 250),
                       ("k.ahrens@acme-nord.example", "b-customer-after", 550),
                       ("neu.person@acme-nord.example", "b-customer-new", 550)):
    code, text = lmtp(mime_mail(frm, "crm@contactlog.example, j.mueller@acme-maschinen.example",
                                f"Okapibeta Kunde {mid}", "Okapibeta\n", mid))
    t.ok(code == want, f"LMTP: mail from {frm} after A's attempts: {want}", got=(code, text))
rej = jget(S["anna"], "/api/v1/admin/rejections?limit=1000", "A rejections").get("items", [])
t.ok(not [x for x in rej if "acme-nord" in (x.get("sender") or "") or "freemail" in (x.get("sender") or "")],
     "A's rejections list no mail of B's customers or users", got=[x.get("sender") for x in rej])
jp = [e for e in jget(S["jonas"], "/api/v1/me/inbox?limit=200", "jonas inbox").get("items", [])
      if e.get("subject") == "Okapibeta Kunde b-free-after"]
t.eq(len(jp), 1, "the mail from jonas.p@freemail.example is in jonas's inbox")

# ---- a colleague's private mail: neither named by a duplicate nor followed by a reply ------------------------

CARLA = "Carla Díaz <carla.diaz@alpha-agentur.example>"


def upload(client, data):
    return client.request("POST", "/api/v1/messages", body=data, content_type="message/rfc822")


def reply_mail(frm, subject, mid, refs):
    """A reply of frm to nobody the CRM knows, in the thread of refs (Message-IDs without <>)."""
    m = EmailMessage()
    m["From"] = frm
    m["To"] = "jemand@unbekannt-irgendwo.example"
    m["Subject"] = subject
    m["Date"] = DATE
    m["Message-ID"] = f"<{mid}@isolation.example>"
    m["In-Reply-To"] = f"<{refs[-1]}@isolation.example>"
    m["References"] = " ".join(f"<{x}@isolation.example>" for x in refs)
    m.set_content("Danke!\n")
    return m.as_bytes()


def inbox(user, subject):
    return [e for e in jget(S[user], "/api/v1/me/inbox?limit=200", f"{user}'s inbox").get("items", [])
            if e.get("subject") == subject]


def reasons(user, eid):
    return [(x.get("field"), x.get("rule")) for x in jget(S[user], f"/api/v1/entries/{eid}",
                                                          f"entry {eid} as {user}").get("reasons", [])]


# Rule 10 (thread): a reply follows entries its author may see only.
cases = (("ben", "Ben", "a-ben-pend", "ben's own pending mail", True),
         ("carla", "Carla Díaz", "a-ben-pend", "ben's pending mail", False),
         ("carla", "Carla Díaz", "a-ben-disc", "ben's discarded mail", False),
         ("carla", "Carla Díaz", "a-ben-saved", "ben's saved mail (acme, lead 11112)", True),
         ("carla", "Carla Díaz", "a-ben-pend", "ben's pending mail", False))
for n, (user, name, ref, what, follows) in enumerate(cases):
    frm = f"{name} <{PASSWORDS[user][0]}>"
    subj = f"AW: Rückfrage Quokkareply {n}"
    via_lmtp = n % 2 == 1
    data = reply_mail(frm, subj, f"reply-{n}", ["thread-start", ref])
    if via_lmtp:
        code, text = lmtp(data)
        t.ok(code == 250, f"LMTP: {user}'s reply to {what}", got=(code, text))
        got = inbox(user, subj)
        eid = got[0].get("id") if got else None
    else:
        r = upload(S[user], data)
        t.eq(r.status, 201, f"upload: {user}'s reply to {what}")
        eid = ((r.json or {}).get("entry") or {}).get("id")
    e = jget(S[user], f"/api/v1/entries/{eid}", f"the reply {eid}") if eid else {}
    thread = [x for x in reasons(user, eid) if x[1] == "thread"] if eid else []
    if follows:
        t.ok((e.get("company") or {}).get("key") == "acme" and thread,
             f"{user}'s reply to {what} ({'LMTP' if via_lmtp else 'upload'}) inherits its company (rule 10)",
             got=(e.get("company"), thread))
    else:
        t.eq((e.get("company"), e.get("lead"), thread), (None, None, []),
             f"{user}'s reply to {what} ({'LMTP' if via_lmtp else 'upload'}): nothing inherited, "
             f"no reason 'thread'")

# Carla uploads mail of hers with the Message-IDs of ben's private mail: another mail, her own
# new entry; the answer names nothing of ben's.
for k, mid in (("ben_pending", "a-ben-pend"), ("ben_discard", "a-ben-disc"), ("ben_ownmail", "a-ben-own")):
    subj = f"Carla mit Bens Message-ID {k}"
    r = upload(S["carla"], mime_mail(CARLA, "j.mueller@acme-maschinen.example", subj, "Carla\n", mid))
    doc = r.json or {}
    t.eq((r.status, doc.get("status")), (201, "pending"),
         f"carla uploads a mail with the Message-ID of ben's {k} entry: 201 pending, her own mail")
    t.ok((doc.get("entry") or {}).get("id") not in PRIVATE_A.values() and "Quokka" not in r.text,
         f"the answer names none of ben's private entries ({k}: {eA[k]})", got=r.text[:300])
    t.eq([(e.get("author") or {}).get("key") for e in inbox("carla", subj)], ["carla"],
         f"carla's upload with ben's {k} Message-ID waits in her inbox")
    r2 = upload(S["carla"], mime_mail(CARLA, "j.mueller@acme-maschinen.example", subj, "Carla\n", mid))
    t.eq((r2.status, (r2.json or {}).get("status"), ((r2.json or {}).get("entry") or {}).get("id")),
         (200, "duplicate", (doc.get("entry") or {}).get("id")),
         f"carla's upload again: a duplicate of her own entry, named")
    t.eq(S["carla"].get(f"/api/v1/entries/{eA[k]}").status, 404, f"ben's {k} entry is still 404 for carla")
    t.eq(S["ben"].get(f"/api/v1/entries/{eA[k]}").status, 200, f"ben still reads his {k} entry")
# A Message-ID of a saved entry every user sees: rule 9 as before, one entry in the tenant.
r = upload(S["carla"], mime_mail(CARLA, "s.krause@acme-maschinen.example", "Carla mit gespeicherter ID",
                                 "Carla\n", "a-ben-saved"))
t.eq((r.status, (r.json or {}).get("status"), ((r.json or {}).get("entry") or {}).get("id")),
     (200, "duplicate", eA["ben_saved"]),
     "carla uploads a mail with the Message-ID of ben's saved (shared) entry: a duplicate of it, named")

# A Message-ID squatted: ben uploads a fake mail of his with the Message-ID carla's real mail will
# carry; carla's real mail, arriving later over LMTP, is still hers.
REAL = mime_mail(CARLA, "t.gruen@baumschule-gruen.example", "Carlas echte Mail Quokkasquat",
                 "echt\n", "carla-real")
r = upload(S["ben"], mime_mail(BEN, "t.gruen@baumschule-gruen.example", "Bens Fälschung",
                               "falsch\n", "carla-real"))
t.eq(r.status, 201, "ben uploads a mail with the Message-ID of carla's coming mail")
code, text = lmtp(REAL)
t.ok(code == 250, "LMTP: carla's real mail", got=(code, text))
real = inbox("carla", "Carlas echte Mail Quokkasquat")
t.eq(len(real), 1, "carla's real mail is in her inbox although ben took its Message-ID first")
code, text = lmtp(REAL)
t.ok(code == 250, "LMTP: carla's real mail again (an MTA retrying)", got=(code, text))
t.eq(len(inbox("carla", "Carlas echte Mail Quokkasquat")), 1, "the same mail again: still one entry (rule 9)")
# The admin uploads carla's mail that she has already: duplicate, and not named.
r = upload(S["anna"], REAL)
t.eq((r.status, (r.json or {}).get("status"), (r.json or {}).get("entry")), (200, "duplicate", None),
     "anna (admin) uploads carla's mail that carla has pending: duplicate without the entry")
if real:
    t.ok(f'{real[0].get("id")}' not in r.text, "the answer holds no id of carla's entry", got=r.text)

# ---- end ------------------------------------------------------------------------------------------------------

print(f"[t-api-isolation] walked {len(walked)} routes with {{id}} ({sum(walked.values())} requests, each "
      f"with a reference request for an id that does not exist); {counts['requests']} concurrent requests")
if failures_by_route:
    print("routes that answered wrongly:")
    for k, v in sorted(failures_by_route.items()):
        print(f"    {k}: {len(v)} cases, e.g. {v[0]}")
rc = srv.stop()
t.eq(rc, 0, "serve exits 0 on SIGTERM")
t.finish()
