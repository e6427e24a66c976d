#!/usr/bin/env python3
"""t-api: the HTTP JSON API (issue 5) over real HTTP, against `contactlog serve --http`.

The daily workflow of an agency, checked by status, body, headers and by reading the effect
back: logging in and out (cookie attributes, CSRF, throttling), personal API tokens, the
password and the language; mail delivered with `deliver` and over LMTP waiting in the review
inbox (newest first, cursor pages); the review (confirm with a changed lead, stale versions,
a lead of another company, discard) and the histories; manual entries as JSON and as a form
with files, notifications, follow-ups, edits and deletes by author, colleague and admin;
attachments and original messages byte for byte with safe download headers; search; the
records (companies, contacts, leads, projects); the admin's tenant, users and rejections;
uploads of raw mail; body limits, problem details, 404/405, /healthz and /metrics.
"""
import base64
import datetime
import email.message
import email.policy
import email.utils
import hashlib
import http.client
import json
import re
import struct
import sys
import time
import unicodedata
import urllib.parse
import zlib

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import apiclient  # noqa: E402
import cltest  # noqa: E402
from cltest import DROP, mail  # noqa: E402

t = cltest.Test(__file__)
d = t.data_dir()
MAX_MESSAGE = 1024 * 1024  # --max-message-size 1M
srv = cltest.Server(t, d, ["--lmtp", "127.0.0.1:0", "--http", "127.0.0.1:0",
                           "--max-message-size", "1M"]).start()
ADDR = srv.address("http")

ANNA = ("anna.berg@alpha-agentur.example", "test-anna")      # admin of alpha
BEN = ("ben.kaya@alpha-agentur.example", "test-ben")          # user of alpha
CARLA = ("carla.diaz@alpha-agentur.example", "test-carla")    # user of alpha
DORA = ("dora.engel@alpha-mail.example", "test-dora")         # user of alpha
JONAS = ("jonas.petersen@beta-design.example", "test-jonas")  # admin of beta
ERIK = ("erik.lund@beta-design.example", "test-erik")         # user of beta
PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}

healthz_calls = 0  # for /metrics
lmtp_counts = {}   # (status, reason) → mails sent over LMTP, for /metrics
http_counts = {}   # (status, reason) → mails uploaded, for /metrics


# ---- helpers ----------------------------------------------------------------------------------

def st(r, want, what):
    """The HTTP status is `want` (the body is shown when not)."""
    return t.ok(r.status == want, f"{what}: HTTP {want}", got=f"{r.status} {r.text[:500]}", wanted=want)


def body(r):
    j = r.json
    return j if isinstance(j, dict) else {}


def problem(r, status, what, code=None):
    """An RFC 9457 problem: status, application/problem+json, type/title/status/detail/code."""
    good = st(r, status, what)
    if r.status < 400:
        return False  # not a problem at all: the status check said so
    ct = r.header("Content-Type") or ""
    good &= t.ok(ct.split(";")[0].strip() == "application/problem+json",
                 f"{what}: Content-Type application/problem+json", got=ct)
    j = r.json
    if t.ok(isinstance(j, dict) and PROBLEM_KEYS <= set(j), f"{what}: problem has {sorted(PROBLEM_KEYS)}",
            got=r.text[:400]):
        good &= t.eq(j["status"], status, f"{what}: problem's status member")
        good &= t.ok(isinstance(j["title"], str) and j["title"] and isinstance(j["type"], str),
                     f"{what}: problem's title and type are texts", got=j)
        good &= t.ok(isinstance(j["detail"], str) and len(j["detail"]) > 5, f"{what}: problem has a detail",
                     got=j.get("detail"))
        if code is not None:
            good &= t.eq(j["code"], code, f"{what}: problem code")
    else:
        good = False
    return good


def ids(items):
    return [e.get("id") for e in items if isinstance(e, dict)]


def client(who=None, token=None):
    c = apiclient.Client(ADDR, token=token)
    if who is not None:
        r = c.login(*who)
        st(r, 201, f"login {who[0]}")
    return c


def with_cookie(cookie):
    """A client that sends this cl_session cookie (and no CSRF token)."""
    c = apiclient.Client(ADDR)
    c.cookie = cookie
    return c


def raw_request(method, path, body_bytes=b"", headers=None, chunked=False):
    """A request with a hand-made body, sent in 64 KB pieces (chunked: without Content-Length).
    A server may answer before it has read the body (413) and close: the answer is read anyway,
    and `aborted` of the response says whether sending the body was cut short."""
    conn = http.client.HTTPConnection(*ADDR, timeout=60)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
        else:
            conn.putheader("Content-Length", str(len(body_bytes)))
        conn.endheaders()
        aborted = None
        try:
            for i in range(0, len(body_bytes), 65536):
                piece = body_bytes[i:i + 65536]
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if chunked:
                conn.send(b"0\r\n\r\n")
        except OSError as x:
            aborted = x
        try:
            resp = conn.getresponse()
            out = apiclient.Response(resp.status, resp.getheaders(), resp.read())
        except (OSError, http.client.HTTPException) as x:
            out = apiclient.Response(0, [], f"no answer: {x!r} (sending stopped by {aborted!r})".encode())
        out.aborted = aborted
        return out
    finally:
        conn.close()


def date(day, hour, minute=0):
    """A Date header in November 2026, CET."""
    when = datetime.datetime(2026, 11, day, hour, minute, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
    return email.utils.format_datetime(when)


def amail(frm, to, subject, mid, when, text=None, extra=()):
    headers = [("From", frm), ("To", to), ("Subject", subject), ("Date", when),
               ("Message-ID", f"<{mid}@api-test.example>"), ("MIME-Version", "1.0"),
               ("Content-Type", "text/plain; charset=utf-8"),
               ("Content-Transfer-Encoding", "8bit")] + list(extra)
    return mail(headers, text) if text is not None else mail(headers)


def deliver(m, what, status="pending"):
    """`contactlog deliver`; the entry id (or None)."""
    r = t.deliver(m, d)
    res = t.one_line(r, what) or {}
    t.eq(res.get("status"), status, f"{what}: deliver says {status}", r)
    return res.get("entry"), res


def lmtp_send(message, sender):
    """One LMTP transaction to the server; (code, text) of the reply after the final dot."""
    dlg = cltest.Dialog(srv.address("lmtp"))
    try:
        dlg.reply()
        dlg.send("LHLO api-test.example\r\n")
        dlg.reply()
        dlg.send(f"MAIL FROM:<{sender}>\r\n")
        dlg.reply()
        dlg.send(f"RCPT TO:<{DROP}>\r\n")
        dlg.reply()
        dlg.send("DATA\r\n")
        dlg.reply()
        dlg.send(cltest.dot_stuff(message))
        code, text = dlg.reply()
        dlg.send("QUIT\r\n")
        dlg.reply()
        return code, text
    finally:
        dlg.close()


def png_bytes():
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    rows = b"".join(b"\x00" + bytes([(x * 40) % 256, 80, 160] * 4) for x in range(4))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def disposition_name(value):
    """The file name of a Content-Disposition: filename* (RFC 8187) decoded, else filename."""
    m = re.search(r"filename\*\s*=\s*UTF-8''([^;\s]+)", value or "", re.I)
    if m:
        return urllib.parse.unquote(m.group(1), encoding="utf-8", errors="strict")
    m = re.search(r'filename\s*=\s*"([^"]*)"', value or "")
    return m.group(1) if m else None


def ascii_fallback(name):
    """The filename= a download should carry beside filename*: German letters spelled out,
    one "_" for every other character that is not printable ASCII (and for " \\ ;)."""
    spelled = {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ẞ": "SS"}
    return "".join(spelled.get(c, "_" if not " " <= c <= "~" or c in '"\\;' else c)
                   for c in unicodedata.normalize("NFC", name))


def check_download(r, want_bytes, want_name, what, want_type=None, not_type=None):
    """A download: the exact bytes, attachment disposition with the UTF-8 name, nosniff."""
    if not st(r, 200, what):
        return
    t.eq(len(r.body), len(want_bytes), f"{what}: size of the body")
    t.eq(hashlib.sha256(r.body).hexdigest(), hashlib.sha256(want_bytes).hexdigest(),
         f"{what}: the body is the exact bytes")
    disp = r.header("Content-Disposition") or ""
    t.ok(disp.split(";")[0].strip().lower() == "attachment", f"{what}: Content-Disposition: attachment (never inline)",
         got=disp)
    t.ok(re.search(r"filename\*\s*=\s*UTF-8''", disp, re.I) is not None, f"{what}: Content-Disposition has filename*=UTF-8''",
         got=disp)
    t.eq(disposition_name(disp), want_name, f"{what}: the file name in Content-Disposition")
    m = re.search(r'filename\s*=\s*"([^"]*)"', disp)
    t.eq(m.group(1) if m else None, ascii_fallback(want_name),
         f"{what}: the ASCII fallback filename= spells umlauts out")
    t.eq((r.header("X-Content-Type-Options") or "").lower(), "nosniff", f"{what}: X-Content-Type-Options: nosniff")
    ct = (r.header("Content-Type") or "").split(";")[0].strip().lower()
    if want_type is not None:
        t.eq(ct, want_type, f"{what}: Content-Type (sniffed)")
    if not_type is not None:
        t.ok(ct != not_type and ct != "", f"{what}: Content-Type is not the claimed {not_type}", got=ct)


def metrics():
    """/metrics as {(name, frozenset of label pairs): value}."""
    r = client().get("/metrics")
    out = {}
    for line in r.text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$', line)
        if not m:
            continue
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return r, out


def walk_pages(api, path, limit, what, cursor_key="next_cursor"):
    """Follows next_cursor from the first page; (ids in order, number of pages)."""
    seen, cursor, pages = [], None, 0
    sep = "&" if "?" in path else "?"
    while pages < 50:
        r = api.get(f"{path}{sep}limit={limit}" + (f"&cursor={urllib.parse.quote(str(cursor))}" if cursor else ""))
        if not st(r, 200, f"{what}: page {pages + 1}"):
            break
        page = body(r).get("items", [])
        t.ok(len(page) <= limit, f"{what}: page {pages + 1} has at most {limit} items", got=len(page))
        seen += ids(page)
        pages += 1
        cursor = body(r).get(cursor_key)
        if not cursor:
            break
    return seen, pages


def lead_id(api, number):
    r = api.get(f"/api/v1/leads?q={number}")
    found = [x for x in body(r).get("items", []) if x.get("number") == number]
    return found[0]["id"] if found else None


def record_id(api, kind, key):
    r = api.get(f"/api/v1/{kind}?q={urllib.parse.quote(key)}&limit=200")
    found = [x for x in body(r).get("items", []) if x.get("key") == key]
    return found[0]["id"] if found else None


# ================================================================================================
def main():
    global healthz_calls

    # ---- the server, unauthenticated -----------------------------------------------------------
    anon = client()
    r = anon.get("/healthz")
    healthz_calls += 1
    st(r, 200, "GET /healthz")
    t.eq(body(r).get("status"), "ok", "/healthz says ok")
    r = anon.get("/api/v1/me")
    problem(r, 401, "GET /api/v1/me without a session", "unauthenticated")
    r = anon.get("/api/v1/me/inbox")
    problem(r, 401, "GET /api/v1/me/inbox without a session")
    r = anon.get("/api/v1/nope")
    problem(r, 404, "unknown route /api/v1/nope", "not-found")
    r = anon.get("/api/v1/entries/abc")
    problem(r, 404, "GET /api/v1/entries/abc (not a number)")
    r = anon.delete("/api/v1/me")
    problem(r, 405, "DELETE /api/v1/me", "method-not-allowed")
    allow = {m.strip() for m in (r.header("Allow") or "").split(",") if m.strip()}
    t.eq(allow, {"GET", "PATCH"}, "405 names the allowed methods in Allow")
    r = anon.request("PUT", "/healthz")
    st(r, 405, "PUT /healthz")
    t.ok("GET" in (r.header("Allow") or ""), "PUT /healthz: Allow names GET", got=r.header("Allow"))

    # ---- login ---------------------------------------------------------------------------------
    anna = apiclient.Client(ADDR)
    r = anna.login(*ANNA)
    st(r, 201, "POST /api/v1/session (anna)")
    cookies = [v for v in r.all_headers("Set-Cookie") if v.startswith("cl_session=")]
    if t.eq(len(cookies), 1, "login sets one cl_session cookie"):
        parts = [p.strip() for p in cookies[0].split(";")]
        value = parts[0].split("=", 1)[1]
        attrs = {p.split("=")[0].lower(): p for p in parts[1:]}
        t.ok(len(value) >= 32, "the session cookie holds a long random value", got=value)
        t.ok("httponly" in attrs, "session cookie: HttpOnly", got=cookies[0])
        t.eq(attrs.get("samesite"), "SameSite=Strict", "session cookie: SameSite=Strict")
        t.eq(attrs.get("path"), "Path=/", "session cookie: Path=/")
        t.ok("secure" not in attrs, "session cookie: no Secure by default (plain HTTP)", got=cookies[0])
        t.ok(value not in r.text, "the session token is not in the body")
    j = body(r)
    csrf = j.get("csrf_token")
    t.ok(isinstance(csrf, str) and len(csrf) >= 16, "login: csrf_token in the body", got=j)
    u = j.get("user") or {}
    t.eq((u.get("key"), u.get("role"), (u.get("tenant") or {}).get("key"), u.get("email")),
         ("anna", "admin", "alpha", ANNA[0]), "login: the user, role, tenant and address")
    t.ok("password" not in r.text and "argon2" not in r.text, "login: no password (hash) in the body", got=r.text)

    r = apiclient.Client(ADDR).login(ANNA[0], "falsch")
    problem(r, 401, "login with a wrong password", "login-failed")
    wrong_pw = r.json
    t.eq(r.all_headers("Set-Cookie"), [], "a failed login sets no cookie")
    r = apiclient.Client(ADDR).login("niemand@alpha-agentur.example", "test-anna")
    problem(r, 401, "login with an unknown address", "login-failed")
    t.eq(r.json, wrong_pw, "unknown address: the very same body as a wrong password")
    r = apiclient.Client(ADDR).login("team@alpha-agentur.example", "test-ben")
    problem(r, 401, "login with an address of two users (team@)", "login-failed")
    r = apiclient.Client(ADDR).post("/api/v1/session", {"email": ANNA[0]})
    problem(r, 422, "login without a password", "invalid")

    r = anna.get("/api/v1/me")
    st(r, 200, "GET /api/v1/me")
    t.eq(((body(r).get("user") or {}).get("key"), body(r).get("csrf_token")), ("anna", csrf),
         "GET /api/v1/me: the user and the session's CSRF token")
    t.eq(r.header("Cache-Control"), "no-store", "API answers: Cache-Control: no-store")

    # CSRF: a cookie alone does not change anything
    r = anna.patch("/api/v1/me", {"locale": "en"}, csrf=False)
    problem(r, 403, "PATCH /api/v1/me with the cookie but without X-CSRF-Token", "csrf")
    r = anna.patch("/api/v1/me", {"locale": "en"}, csrf=False, headers={"X-CSRF-Token": "x" * len(csrf)})
    problem(r, 403, "PATCH /api/v1/me with a wrong X-CSRF-Token", "csrf")
    r = anna.post("/api/v1/entries", {"channel": "phone", "subject": "CSRF-Versuch"}, csrf=False)
    problem(r, 403, "POST /api/v1/entries without X-CSRF-Token", "csrf")
    r = anna.get("/api/v1/me")
    t.eq((body(r).get("user") or {}).get("locale"), "de", "the refused PATCH changed nothing (locale still de)")
    r = anna.delete("/api/v1/session", csrf=False)
    problem(r, 403, "DELETE /api/v1/session without X-CSRF-Token", "csrf")
    st(anna.get("/api/v1/me"), 200, "the session survives a logout without CSRF token")

    # the language
    r = anna.patch("/api/v1/me", {"locale": "en"})
    st(r, 200, "PATCH /api/v1/me {locale: en}")
    t.eq((body(r).get("user") or {}).get("locale"), "en", "PATCH /api/v1/me answers the new locale")
    t.eq((body(anna.get("/api/v1/me")).get("user") or {}).get("locale"), "en", "GET /api/v1/me: locale en kept")
    problem(anna.patch("/api/v1/me", {"locale": "fr"}), 422, "PATCH /api/v1/me {locale: fr}", "invalid")
    problem(anna.patch("/api/v1/me", {"name": "Anna B."}), 422, "PATCH /api/v1/me {name} (not changeable)", "invalid")
    st(anna.patch("/api/v1/me", {"locale": "de"}), 200, "PATCH /api/v1/me back to de")

    # logout ends exactly this session
    other = client(ANNA)
    old_cookie = other.cookie
    r = other.logout()
    st(r, 204, "DELETE /api/v1/session")
    sc = [v for v in r.all_headers("Set-Cookie") if v.startswith("cl_session=")]
    t.ok(len(sc) == 1 and sc[0].startswith("cl_session=;") and "max-age=0" in sc[0].lower(),
         "logout clears the cookie (empty value, Max-Age=0)", got=sc)
    problem(with_cookie(old_cookie).get("/api/v1/me"), 401, "the logged-out session cookie", "unauthenticated")
    st(anna.get("/api/v1/me"), 200, "logout of one session leaves the other session of the user")
    problem(with_cookie("erfunden").get("/api/v1/me"), 401, "an invented session cookie")

    # ---- throttling: 5 failed logins of one account ------------------------------------------------
    for i in range(5):
        r = apiclient.Client(ADDR).login(ERIK[0], f"falsch-{i}")
        st(r, 401, f"erik: failed login {i + 1}")
    r = apiclient.Client(ADDR).login(*ERIK)
    problem(r, 429, "erik: the 6th login, with the right password, after 5 failures", "throttled")
    ra = r.header("Retry-After") or ""
    t.ok(ra.isdigit() and 0 < int(ra) <= 3600, "429 has Retry-After in seconds", got=ra)
    t.eq(r.all_headers("Set-Cookie"), [], "a throttled login sets no cookie")
    r = apiclient.Client(ADDR).login(ERIK[0].upper(), ERIK[1])
    st(r, 429, "erik: the address in capitals is the same account (throttled)")
    jonas = apiclient.Client(ADDR)
    st(jonas.login(*JONAS), 201, "another account (jonas) still logs in from the same address")
    r = apiclient.Client(ADDR).login(DORA[0].upper(), DORA[1])
    st(r, 201, "login with the address in capitals")
    t.eq((body(r).get("user") or {}).get("key"), "dora", "the address in capitals is dora's")

    # ---- personal API tokens -------------------------------------------------------------------
    ben = client(BEN)
    r = ben.post("/api/v1/me/tokens", {"name": "Outlook-Add-in"})
    st(r, 201, "POST /api/v1/me/tokens")
    tok = body(r)
    secret = tok.get("token") or ""
    t.ok(isinstance(secret, str) and len(secret) >= 32, "the new token is shown once", got=tok)
    t.eq((tok.get("name"), tok.get("prefix")), ("Outlook-Add-in", secret[:10]), "token: name and prefix")
    bearer = apiclient.Client(ADDR, token=secret)
    r = bearer.get("/api/v1/me")
    st(r, 200, "GET /api/v1/me with Authorization: Bearer")
    t.eq((body(r).get("user") or {}).get("key"), "ben", "the token is ben's")
    r = bearer.patch("/api/v1/me", {"locale": "de"})
    st(r, 200, "PATCH /api/v1/me with the token and no X-CSRF-Token (tokens need none)")
    r = ben.get("/api/v1/me/tokens")
    st(r, 200, "GET /api/v1/me/tokens")
    items = body(r).get("items", [])
    t.eq([(x.get("id"), x.get("name"), x.get("prefix")) for x in items], [(tok.get("id"), "Outlook-Add-in", secret[:10])],
         "the list shows the token by id, name and prefix")
    t.ok(secret not in r.text and all("token" not in x for x in items), "the list does not show the secret", got=r.text)
    t.ok(items and items[0].get("used") is not None, "the list says when the token was used", got=items)
    problem(client(CARLA).delete(f"/api/v1/me/tokens/{tok.get('id')}"), 404,
            "carla deletes ben's token", "not-found")
    st(bearer.get("/api/v1/me"), 200, "ben's token still works after carla's try")
    problem(ben.post("/api/v1/me/tokens", {}), 422, "a token without a name", "invalid")
    r = ben.post("/api/v1/me/tokens", {"name": "n" * 201})
    problem(r, 422, "a token with a name of 201 bytes", "invalid")
    t.ok("at most 200 bytes" in (body(r).get("detail") or ""), "the 422 says the name is too long", r)
    r = ben.delete(f"/api/v1/me/tokens/{tok.get('id')}")
    st(r, 204, "DELETE /api/v1/me/tokens/ID")
    problem(bearer.get("/api/v1/me"), 401, "the revoked token", "unauthenticated")
    t.eq(body(ben.get("/api/v1/me/tokens")).get("items"), [], "the token list is empty after the revocation")
    problem(apiclient.Client(ADDR, token="clt_erfunden").get("/api/v1/me"), 401, "an invented token")
    problem(anon.get("/api/v1/me", headers={"Authorization": "Basic YmVuOnRlc3QtYmVu"}), 401,
            "Authorization: Basic is no login")

    # ---- password change -------------------------------------------------------------------------
    carla1, carla2 = client(CARLA), client(CARLA)
    r = carla1.put("/api/v1/me/password", {"current": "falsch", "new": "Neues-Passwort-1"})
    problem(r, 403, "PUT /api/v1/me/password with a wrong current password", "wrong-password")
    r = carla1.put("/api/v1/me/password", {"current": CARLA[1], "new": "kurz"})
    problem(r, 422, "PUT /api/v1/me/password with a too short new password", "invalid")
    st(carla2.get("/api/v1/me"), 200, "the refused changes ended no session")
    r = carla1.put("/api/v1/me/password", {"current": CARLA[1], "new": "Neues-Passwort-1"})
    st(r, 204, "PUT /api/v1/me/password")
    st(carla1.get("/api/v1/me"), 200, "the session that changed the password goes on")
    problem(carla2.get("/api/v1/me"), 401, "carla's other session ends with the new password", "unauthenticated")
    st(apiclient.Client(ADDR).login(CARLA[0], CARLA[1]), 401, "the old password no longer logs in")
    carla = apiclient.Client(ADDR)
    st(carla.login(CARLA[0], "Neues-Passwort-1"), 201, "the new password logs in")

    # ---- the review inbox ------------------------------------------------------------------------
    MUELLER = "Jürgen Müller <j.mueller@acme-maschinen.example>"
    KRAUSE = "Sabine Krause <S.Krause@ACME-Maschinen.example>"
    A = "Anna Berg <anna.berg@alpha-agentur.example>"
    m_lead = amail(A, MUELLER, "Angebot Lead 11111", "lead", date(10, 9),
                   "Hallo Herr Müller,\n\nanbei das Angebot mit Zwetschgenkuchen-Rabatt.\n\nGruß\n")
    e_lead, res = deliver(m_lead, "mail with lead 11111")
    t.eq((res.get("company"), res.get("lead")), ("acme", "11111"), "mail with lead 11111: assignment")
    e_cand, res = deliver(amail(A, MUELLER, "Angebot 44444", "cand", date(10, 10)), "mail with 44444")
    e_disc, _ = deliver(amail(A, KRAUSE, "Newsletter Anmeldung Platzhirsch", "disc", date(9, 8)), "mail to discard")
    e_same1, _ = deliver(amail(A, KRAUSE, "Termin A", "same1", date(8, 12)), "mail A at 12:00")
    e_same2, _ = deliver(amail(A, KRAUSE, "Termin B", "same2", date(8, 12)), "mail B at 12:00 too")
    e_baum, _ = deliver(amail(A, "Theo Grün <t.gruen@baumschule-gruen.example>", "Frage zum Katalog", "baum",
                              date(7, 15)), "mail to baum")
    e_nocomp, res = deliver(amail(A, "info@irgendwo.example", "Allgemeine Notiz Eisvogel", "nocomp", date(5, 11)),
                            "mail without company")
    t.eq(res.get("company"), None, "mail to an unknown address: no company")
    att_pdf = b"%PDF-1.4\n" + bytes(range(256)) * 16 + b"\n%%EOF\n"
    em = email.message.EmailMessage(policy=email.policy.SMTP.clone(linesep="\n"))
    em["From"], em["To"], em["Subject"] = A, MUELLER, "Unterlagen Angebot Messe"
    em["Date"], em["Message-ID"] = date(6, 10), "<att@api-test.example>"
    em.set_content("Anbei die Unterlagen.\n")
    em.add_attachment(att_pdf, maintype="application", subtype="pdf", filename="Angebot Müller.pdf")
    m_att = em.as_bytes()
    e_att, _ = deliver(m_att, "mail with an attachment")
    e_ben, _ = deliver(amail("Ben Kaya <ben.kaya@alpha-agentur.example>", "oe.oeztuerk@acme-maschinen.example",
                             "Rückfrage Logo", "ben1", date(9, 9)), "ben's mail")
    e_dora, _ = deliver(amail("Dora Engel <dora.engel@alpha-mail.example>", "l.holz@baumschule-gruen.example",
                              "Pflanzliste", "dora1", date(4, 9)), "dora's mail")
    # over LMTP, to the running server
    m_lmtp = amail(A, MUELLER, "Lieferung Lead 11112", "lmtp1", date(11, 8))
    code, text = lmtp_send(m_lmtp, ANNA[0])
    t.eq(code, 250, "LMTP: the mail is accepted")
    lmtp_counts[("pending", None)] = lmtp_counts.get(("pending", None), 0) + 1
    m = re.search(r"entry (\d+)", text)
    e_lmtp = int(m.group(1)) if m else None
    t.ok(e_lmtp is not None, "LMTP reply names the entry", got=text)
    code, text = lmtp_send(amail("Fremd <fremd@alpha-agentur.example>", MUELLER, "Unbekannt LMTP", "lmtp2",
                                 date(11, 9)), "fremd@alpha-agentur.example")
    t.eq(code, 550, "LMTP: an unknown sender of alpha is refused")
    lmtp_counts[("rejected", "unknown-sender")] = lmtp_counts.get(("rejected", "unknown-sender"), 0) + 1

    anna_pending = [e_lead, e_cand, e_disc, e_same1, e_same2, e_baum, e_nocomp, e_att, e_lmtp]
    r = anna.get("/api/v1/me/inbox")
    st(r, 200, "GET /api/v1/me/inbox")
    inbox = body(r).get("items", [])
    t.eq(sorted(ids(inbox)), sorted(anna_pending), "the inbox holds exactly anna's pending mail")
    keys = [(x.get("contact_time"), x.get("id")) for x in inbox]
    t.eq(keys, sorted(keys, reverse=True), "the inbox is newest first (contact time, then id)")
    t.eq(ids(inbox)[:1], [e_lmtp], "the newest mail (LMTP, 11 Nov) comes first")
    t.eq(body(r).get("next_cursor"), None, "one page: no next_cursor")
    t.ok(all(x.get("state") == "pending" for x in inbox), "the inbox lists pending entries only", got=inbox)
    by_id = {x.get("id"): x for x in inbox}
    x = by_id.get(e_lead, {})
    t.eq(((x.get("company") or {}).get("key"), [c.get("key") for c in x.get("contacts", [])],
          (x.get("lead") or {}).get("number"), (x.get("author") or {}).get("key")),
         ("acme", ["jmueller"], "11111", "anna"), "inbox item: company, contacts, lead, author")
    t.ok({"field": "lead", "rule": "subject-number", "detail": "11111"} in x.get("reasons", []),
         "inbox item: the reason for the lead", got=x.get("reasons"))
    t.eq((x.get("subject"), x.get("origin"), x.get("channel"), x.get("contact_time")),
         ("Angebot Lead 11111", "mail", "email", "2026-11-10T08:00:00Z"), "inbox item: subject, origin, channel, time")
    c = by_id.get(e_cand, {}).get("candidates") or {}
    t.eq(([y.get("number") for y in c.get("lead", [])], [y.get("key") for y in c.get("project", [])]),
         (["44444"], ["film"]), "inbox item: candidates lead 44444 and project film", )
    t.ok(all(isinstance(y.get("id"), int) for y in c.get("lead", []) + c.get("project", [])),
         "candidates are named with their ids", got=c)
    x = by_id.get(e_att, {})
    t.eq([(a.get("name"), a.get("size")) for a in x.get("attachments", [])], [("Angebot Müller.pdf", len(att_pdf))],
         "inbox item: the attachment's name and size")
    # paging: no duplicates, no gaps; by 5 the two mails of the same minute fall on two pages
    for limit, want_pages in ((2, 5), (5, 2)):
        seen, pages = walk_pages(anna, "/api/v1/me/inbox", limit, f"inbox by {limit}")
        t.eq(seen, ids(inbox), f"inbox by {limit}: the pages are the whole inbox, in order, no duplicates or gaps")
        t.eq(pages, want_pages, f"inbox by {limit}: {want_pages} pages for 9 entries")
    problem(anna.get("/api/v1/me/inbox?cursor=kaputt"), 400, "inbox ?cursor=kaputt", "bad-request")
    problem(anna.get("/api/v1/me/inbox?limit=0"), 400, "inbox ?limit=0", "bad-request")
    problem(anna.get("/api/v1/me/inbox?state=saved"), 400, "inbox ?state=saved", "bad-request")
    t.eq(ids(body(ben.get("/api/v1/me/inbox")).get("items", [])), [e_ben], "ben's inbox holds only ben's mail")
    t.eq(body(anna.get("/api/v1/me/inbox?state=own")).get("items"), [], "anna's own history is empty yet")

    # ---- original messages -------------------------------------------------------------------------
    r = anna.get(f"/api/v1/entries/{e_lead}/original")
    check_download(r, m_lead, f"entry-{e_lead}.eml", "GET original of delivered mail", want_type="message/rfc822")
    stored = t.stored_bytes(e_lead, d, "raw", None, "show --raw of the delivered mail")
    t.ok(stored is not None and r.body == stored, "the original over HTTP equals `show --raw`")
    r = anna.get(f"/api/v1/entries/{e_lmtp}/original")
    st(r, 200, "GET original of the LMTP mail")
    trace = re.match(rb"Received: [^\n]*\n(?:[ \t][^\n]*\n)*", r.body)
    t.ok(trace is not None and r.body[trace.end():] == m_lmtp,
         "LMTP original: contactlog's Received field, then the mail byte for byte (LF lines)", got=r.body[:300])
    t.eq(r.body, t.stored_bytes(e_lmtp, d, "raw", None, "show --raw of the LMTP mail"),
         "LMTP original over HTTP equals `show --raw`")
    problem(ben.get(f"/api/v1/entries/{e_lead}/original"), 404, "ben reads anna's pending mail's original")
    problem(ben.get(f"/api/v1/entries/{e_lead}"), 404, "ben reads anna's pending entry (not visible: 404)")
    r = anna.get(f"/api/v1/entries/{e_att}")
    atts = body(r).get("attachments", [])
    if t.eq(len(atts), 1, "the captured attachment is listed"):
        r = anna.get(atts[0].get("url", "/"))
        check_download(r, att_pdf, "Angebot Müller.pdf", "download of a captured attachment",
                       want_type="application/pdf")
    r = anna.get(f"/api/v1/entries/{e_lead}")
    t.ok("Zwetschgenkuchen" in (body(r).get("text") or ""), "GET entry: the mail's text", got=body(r).get("text"))
    t.eq(body(r).get("original_url"), f"/api/v1/entries/{e_lead}/original", "GET entry: original_url")

    # ---- review ----------------------------------------------------------------------------------
    v = body(anna.get(f"/api/v1/entries/{e_lead}")).get("version")
    t.eq(v, 1, "captured mail starts at version 1")
    problem(anna.post(f"/api/v1/entries/{e_lead}/confirm", {"lead": "11113", "version": (v or 1) + 7}), 409,
            "confirm with a stale version", "conflict")
    problem(anna.post(f"/api/v1/entries/{e_lead}/confirm", {"lead": "22222"}), 422,
            "confirm with a lead of another company (baum's 22222)", "invalid")
    problem(anna.post(f"/api/v1/entries/{e_lead}/confirm", {"lead": "99999"}), 422,
            "confirm with an unknown lead", "invalid")
    problem(ben.post(f"/api/v1/entries/{e_lead}/confirm", {}), 404, "ben confirms anna's mail")
    problem(anna.post(f"/api/v1/entries/{e_lead}/confirm", {"subject": "anders"}), 422,
            "confirm with a field the review cannot change (subject)", "invalid")
    r = anna.get(f"/api/v1/entries/{e_lead}")
    t.eq((body(r).get("state"), (body(r).get("lead") or {}).get("number"), body(r).get("version")),
         ("pending", "11111", v), "the refused confirmations changed nothing")
    r = anna.post(f"/api/v1/entries/{e_lead}/confirm", {"lead": "11113", "version": v})
    st(r, 200, "confirm with a changed lead (11113)")
    j = body(r)
    t.eq((j.get("state"), (j.get("lead") or {}).get("number"), (j.get("company") or {}).get("key"),
          [c.get("key") for c in j.get("contacts", [])], j.get("version")),
         ("saved", "11113", "acme", ["jmueller"], (v or 0) + 1), "confirmed: saved, lead 11113, company and contact kept")
    t.ok({"field": "lead", "rule": "review", "detail": "11113 (was 11111)"} in j.get("reasons", []),
         "confirmed: the review is a reason", got=j.get("reasons"))
    problem(anna.post(f"/api/v1/entries/{e_lead}/confirm", {}), 409, "confirming twice", "conflict")
    l11113, l11111, acme = lead_id(anna, "11113"), lead_id(anna, "11111"), record_id(anna, "companies", "acme")
    r = anna.get(f"/api/v1/leads/{l11113}/history")
    st(r, 200, "GET /api/v1/leads/ID/history")
    t.eq(ids(body(r).get("items", [])), [e_lead], "the history of lead 11113 lists the confirmed mail")
    t.ok(e_lead not in ids(body(anna.get(f"/api/v1/leads/{l11111}/history")).get("items", [])),
         "the history of the old lead 11111 does not")
    r = ben.get(f"/api/v1/companies/{acme}/history")
    t.ok(e_lead in ids(body(r).get("items", [])), "ben sees it in the history of acme", got=r)
    r = ben.get(f"/api/v1/entries/{e_lead}")
    st(r, 200, "ben reads the saved entry of acme")
    t.eq(body(r).get("can_edit"), False, "ben may not edit anna's entry (can_edit false)")
    problem(jonas.get(f"/api/v1/entries/{e_lead}"), 404, "beta's admin reads alpha's entry")
    problem(jonas.get(f"/api/v1/leads/{l11113}/history"), 404, "beta's admin reads the history of alpha's lead")
    t.ok(e_lead not in ids(body(anna.get("/api/v1/me/inbox")).get("items", [])), "the confirmed mail left the inbox")
    # discard
    r = anna.post(f"/api/v1/entries/{e_disc}/discard", {})
    st(r, 200, "POST /api/v1/entries/ID/discard")
    t.eq(body(r).get("state"), "discarded", "discard: state discarded")
    t.ok(e_disc not in ids(body(anna.get("/api/v1/me/inbox")).get("items", [])), "the discarded mail left the inbox")
    problem(anna.post(f"/api/v1/entries/{e_disc}/discard", {}), 409, "discarding twice", "conflict")
    problem(anna.post(f"/api/v1/entries/{e_disc}/confirm", {}), 409, "confirming a discarded mail", "conflict")
    t.eq(body(anna.get(f"/api/v1/entries/{e_disc}")).get("state"), "discarded", "GET of the discarded entry: discarded")
    # more confirmations: a project with a colleague to notify, another company, no company at all
    r = anna.post(f"/api/v1/entries/{e_cand}/confirm", {"project": "film", "notify": ["carla"]})
    st(r, 200, "confirm 44444 as project film, notifying carla")
    t.eq(((body(r).get("project") or {}).get("key"), body(r).get("lead")), ("film", None), "confirmed as project film")
    film = record_id(anna, "projects", "film")
    t.eq(ids(body(anna.get(f"/api/v1/projects/{film}/history")).get("items", [])), [e_cand],
         "the history of project film lists it")
    lead22223 = lead_id(anna, "22223")
    r = anna.post(f"/api/v1/entries/{e_baum}/confirm", {"lead": lead22223})
    st(r, 200, "confirm baum's mail with lead 22223 (by id)")
    t.eq((body(r).get("lead") or {}).get("number"), "22223", "confirmed with the lead named by its id")
    baum = record_id(anna, "companies", "baum")
    t.ok(e_baum in ids(body(anna.get(f"/api/v1/companies/{baum}/history")).get("items", [])),
         "the history of baum lists the mail confirmed with its lead")
    st(anna.post(f"/api/v1/entries/{e_nocomp}/confirm", {}), 200, "confirm the mail without company")
    t.eq(ids(body(anna.get("/api/v1/me/inbox?state=own")).get("items", [])), [e_nocomp],
         "?state=own: the saved mail without company, lead or project")
    r = carla.get("/api/v1/me/notifications")
    st(r, 200, "GET /api/v1/me/notifications (carla)")
    t.eq([(n.get("kind"), (n.get("entry") or {}).get("id"), (n.get("actor") or {}).get("key"))
          for n in body(r).get("items", [])], [("notify", e_cand, "anna")],
         "carla is told of the mail confirmed with notify")

    # ---- manual entries ------------------------------------------------------------------------------
    pdf = b"%PDF-1.4\n% Gespraechsnotiz\n" + bytes(range(256)) * 12 + b"\n%%EOF\n"
    r = anna.post("/api/v1/entries", {
        "channel": "Telefon", "subject": "Rückruf wegen Messestand", "contacts": ["skrause"], "lead": "11111",
        "text": "Sie bittet um Rückruf. Stichwort Quittenbrot.", "followup": "2026-12-24",
        "notify": ["ben"], "contact_time": "2026-12-03T16:45:00+01:00",
        "attachments": [{"name": "Gesprächsnotiz März.pdf", "content_type": "application/pdf",
                         "data": base64.b64encode(pdf).decode()}]})
    st(r, 201, "POST /api/v1/entries (JSON, Telefon)")
    m1 = body(r)
    e_m1 = m1.get("id")
    t.eq((m1.get("state"), m1.get("origin"), m1.get("channel"), (m1.get("company") or {}).get("key"),
          (m1.get("lead") or {}).get("number"), [c.get("key") for c in m1.get("contacts", [])],
          m1.get("followup"), [u.get("key") for u in m1.get("notify", [])], (m1.get("author") or {}).get("key")),
         ("saved", "manual", "phone", "acme", "11111", ["skrause"], "2026-12-24", ["ben"], "anna"),
         "manual entry: saved, phone, company from the lead, contact, follow-up, notify, author")
    t.eq(m1.get("contact_time"), "2026-12-03T15:45:00Z", "manual entry: contact_time (given in +01:00) in UTC")
    t.eq((m1.get("subject"), m1.get("text"), m1.get("original_url")),
         ("Rückruf wegen Messestand", "Sie bittet um Rückruf. Stichwort Quittenbrot.", None),
         "manual entry: subject, text, no original")
    m1_atts = m1.get("attachments", [])
    t.eq([(a.get("name"), a.get("size")) for a in m1_atts], [("Gesprächsnotiz März.pdf", len(pdf))],
         "manual entry: the attachment (base64) with name and size")
    if m1_atts:
        check_download(anna.get(m1_atts[0].get("url", "/")), pdf, "Gesprächsnotiz März.pdf",
                       "download of the JSON attachment", want_type="application/pdf")
        check_download(ben.get(m1_atts[0].get("url", "/")), pdf, "Gesprächsnotiz März.pdf",
                       "ben downloads the attachment of a saved acme entry")
        problem(jonas.get(m1_atts[0].get("url", "/")), 404, "beta's admin downloads alpha's attachment", "not-found")
    problem(anna.get(f"/api/v1/entries/{e_m1}/original"), 404, "the original of a manual entry", "not-found")
    # Times as people write them: without seconds, with a space for the T (README, add --time).
    for given, wanted in (("2026-12-03T16:45+01:00", "2026-12-03T15:45:00Z"),
                          ("2026-12-03 16:45Z", "2026-12-03T16:45:00Z"),
                          ("2026-12-03T16:45:30-02:00", "2026-12-03T18:45:30Z")):
        r = anna.post("/api/v1/entries", {"channel": "phone", "subject": "Zeitform", "contact_time": given})
        st(r, 201, f"a manual entry with contact_time {given}")
        if r.status == 201:
            t.eq(body(r).get("contact_time"), wanted, f"contact_time {given} is {wanted}")
            anna.delete(f"/api/v1/entries/{body(r).get('id')}")
    for bad in ("2026-12-03T16", "2026-12-03T16:4", "2026-12-03T16:45+", "heute 16:45"):
        problem(anna.post("/api/v1/entries", {"channel": "phone", "subject": "x", "contact_time": bad}), 422,
                f"a manual entry with contact_time {bad!r}", "invalid")
    problem(anna.post("/api/v1/entries", {"channel": "Brieftaube", "subject": "x"}), 422,
            "a manual entry with an unknown channel", "invalid")
    problem(anna.post("/api/v1/entries", {"channel": "phone"}), 422, "a manual entry without subject", "invalid")
    r = anna.post("/api/v1/entries", {"channel": "phone", "subject": "   "})
    problem(r, 422, "a manual entry with a blank subject (an edit refuses one too)", "invalid")
    if r.status == 201:  # made anyway: take it away again, so that the own history below is as planned
        anna.delete(f"/api/v1/entries/{body(r).get('id')}")
    problem(anna.patch(f"/api/v1/entries/{e_m1}", {"subject": "   "}), 422, "an edit to a blank subject", "invalid")
    problem(anna.post("/api/v1/entries", {"channel": "phone", "subject": "x", "contacts": ["kahrens"]}), 422,
            "a manual entry with beta's contact", "invalid")
    problem(anna.post("/api/v1/entries", {"channel": "phone", "subject": "x", "notify": ["jonas"]}), 422,
            "a manual entry notifying beta's admin", "invalid")
    problem(anna.post("/api/v1/entries", {"channel": "phone", "subject": "x", "followup": "2026-02-30"}), 422,
            "a manual entry with follow-up 2026-02-30", "invalid")
    problem(anna.post("/api/v1/entries", {"channel": "phone", "subject": "x", "attachments": [{"name": "a", "data": "%%%"}]}),
            422, "a manual entry with an attachment that is not base64", "invalid")

    # as multipart/form-data: "entry" (JSON) and files
    png = png_bytes()
    scan = hashlib.sha512(b"scan").digest() * 3200  # 200 KB: kept in a pack file, not inline
    html = b"<!DOCTYPE html>\n<html><body><script>alert('contactlog')</script>Hallo</body></html>\n"
    ct, form = apiclient.multipart(
        {"entry": json.dumps({"channel": "phone", "subject": "Besprechung Fotos Kranich", "company": "baum",
                              "contacts": ["tgruen"], "text": "Fotos besprochen."})},
        [("file", "Fotö Übersicht.png", "image/png", png), ("file", "bild.png", "image/png", html),
         ("file", "C:\\Users\\anna\\Scan 7.bin", "application/octet-stream", scan)])
    r = anna.request("POST", "/api/v1/entries", body=form, content_type=ct)
    st(r, 201, "POST /api/v1/entries (multipart/form-data with two files)")
    m2 = body(r)
    e_m2 = m2.get("id")
    t.eq(((m2.get("company") or {}).get("key"), [c.get("key") for c in m2.get("contacts", [])], m2.get("subject"),
          m2.get("channel")), ("baum", ["tgruen"], "Besprechung Fotos Kranich", "phone"), "form entry: its fields")
    m2_atts = {a.get("name"): a for a in m2.get("attachments", [])}
    t.eq(sorted(m2_atts), sorted(["Fotö Übersicht.png", "bild.png", "Scan 7.bin"]),
         "form entry: the files are attachments (a path in the file name left out)")
    if "Scan 7.bin" in m2_atts:
        check_download(anna.get(m2_atts["Scan 7.bin"]["url"]), scan, "Scan 7.bin", "download of the 200 KB file")
    if "Fotö Übersicht.png" in m2_atts:
        check_download(anna.get(m2_atts["Fotö Übersicht.png"]["url"]), png, "Fotö Übersicht.png",
                       "download of the PNG", want_type="image/png")
    if "bild.png" in m2_atts:
        r = anna.get(m2_atts["bild.png"]["url"])
        check_download(r, html, "bild.png", "download of an HTML file uploaded as image/png", not_type="image/png")
        csp = r.header("Content-Security-Policy") or ""
        t.ok("sandbox" in csp, "download of HTML: Content-Security-Policy sandbox", got=csp)

    # notifications of ben
    r = ben.get("/api/v1/me/notifications")
    st(r, 200, "GET /api/v1/me/notifications (ben)")
    nb = body(r)
    notes = [n for n in nb.get("items", []) if n.get("kind") == "notify"]
    t.eq([((n.get("entry") or {}).get("id"), (n.get("actor") or {}).get("key"), n.get("read")) for n in notes],
         [(e_m1, "anna", None)], "ben is told of anna's call (unread)")
    t.eq(nb.get("unread"), len([n for n in nb.get("items", []) if n.get("read") is None]),
         "notifications: unread counts the unread items")
    t.eq(body(ben.get("/api/v1/me")).get("unread_notifications"), nb.get("unread"), "/me: unread_notifications")
    t.ok(all(n.get("kind") != "notify" for n in body(anna.get("/api/v1/me/notifications")).get("items", [])),
         "anna is not told of her own entry")
    if notes:
        nid = notes[0].get("id")
        problem(carla.post(f"/api/v1/me/notifications/{nid}/read"), 404, "carla marks ben's notification read")
        st(ben.post(f"/api/v1/me/notifications/{nid}/read"), 204, "POST /api/v1/me/notifications/ID/read")
        after = body(ben.get("/api/v1/me/notifications"))
        t.ok([n.get("read") for n in after.get("items", []) if n.get("id") == nid] != [None],
             "the notification is read now", got=after)
        t.eq(after.get("unread"), (nb.get("unread") or 0) - 1, "unread is one less")
        t.ok(nid not in ids(body(ben.get("/api/v1/me/notifications?unread=1")).get("items", [])),
             "?unread=1 leaves it out")
    st(ben.post("/api/v1/me/notifications/read"), 204, "POST /api/v1/me/notifications/read (all)")
    t.eq((body(ben.get("/api/v1/me/notifications")).get("unread"), body(ben.get("/api/v1/me")).get("unread_notifications"),
          body(ben.get("/api/v1/me/notifications?unread=1")).get("items")), (0, 0, []), "all read: nothing unread")

    # follow-ups
    r = anna.get("/api/v1/me/followups?to=2026-12-31")
    st(r, 200, "GET /api/v1/me/followups?to=2026-12-31")
    t.eq(ids(body(r).get("items", [])), [e_m1], "the follow-up of 24 Dec is due by 31 Dec")
    t.eq(ids(body(anna.get("/api/v1/me/followups?to=2026-12-23")).get("items", [])), [], "not due by 23 Dec")
    t.eq(ids(body(anna.get("/api/v1/me/followups?from=2026-12-25")).get("items", [])), [], "not due from 25 Dec on")
    t.eq(ids(body(anna.get("/api/v1/me/followups?from=2026-12-24&to=2026-12-24")).get("items", [])), [e_m1],
         "due on 24 Dec exactly")
    t.eq(ids(body(ben.get("/api/v1/me/followups?to=2026-12-31")).get("items", [])), [], "ben has no follow-ups")
    problem(anna.get("/api/v1/me/followups?to=24.12.2026"), 400, "followups ?to=24.12.2026", "bad-request")
    r = anna.patch(f"/api/v1/entries/{e_m1}", {"followup_done": True})
    st(r, 200, "PATCH {followup_done: true}")
    t.eq(ids(body(anna.get("/api/v1/me/followups?to=2026-12-31")).get("items", [])), [], "a done follow-up is not due")
    t.eq(ids(body(anna.get("/api/v1/me/followups?to=2026-12-31&include_done=1")).get("items", [])), [e_m1],
         "?include_done=1 lists it")

    # an edit of the contacts and the users to notify: the search words and notifications follow
    r = anna.patch(f"/api/v1/entries/{e_m1}", {"contacts": ["oeztuerk"], "notify": ["ben", "carla"]})
    st(r, 200, "PATCH contacts and notify of a saved entry")
    t.eq(([c.get("key") for c in body(r).get("contacts", [])], sorted(u.get("key") for u in body(r).get("notify", []))),
         (["oeztuerk"], ["ben", "carla"]), "the edit: the new contact and users to notify")
    t.eq([(n.get("entry") or {}).get("id") for n in body(carla.get("/api/v1/me/notifications?unread=1")).get("items", [])
          if n.get("kind") == "notify"], [e_m1, e_cand], "carla, newly named, is told of the edited entry")
    t.eq(body(ben.get("/api/v1/me/notifications?unread=1")).get("items"), [],
         "ben, named before, is not told again")

    # edits: author, colleague, admin, versions
    r = ben.post("/api/v1/entries", {"channel": "Termin", "subject": "Workshop Planung Kolibri", "company": "acme",
                                     "contacts": ["jmueller"], "text": "Workshop vereinbart."})
    st(r, 201, "ben records a meeting (Termin)")
    m3 = body(r)
    e_m3, v3 = m3.get("id"), m3.get("version")
    t.eq(m3.get("channel"), "meeting", "Termin is the channel meeting")
    t.eq(v3, 1, "a new entry (with company and contacts) starts at version 1")
    t.eq(body(ben.get(f"/api/v1/entries/{e_m3}")).get("version"), 1, "GET of the new entry: version 1")
    r = anna.patch(f"/api/v1/entries/{e_m3}", {"company": None})
    problem(r, 403, "the admin moves ben's entry into ben's own history", "forbidden")
    t.eq((body(anna.get(f"/api/v1/entries/{e_m3}")).get("company") or {}).get("key"), "acme",
         "ben's entry stays in acme's history")
    problem(carla.patch(f"/api/v1/entries/{e_m3}", {"subject": "Carla war hier"}), 403,
            "carla (not the author, no admin) edits ben's entry", "forbidden")
    problem(carla.delete(f"/api/v1/entries/{e_m3}"), 403, "carla deletes ben's entry", "forbidden")
    r = ben.patch(f"/api/v1/entries/{e_m3}", {"subject": "Workshop Planung Pelikan", "version": v3})
    st(r, 200, "the author edits the subject")
    t.eq((body(r).get("subject"), body(r).get("version")), ("Workshop Planung Pelikan", (v3 or 0) + 1),
         "the edit: new subject, next version")
    problem(ben.patch(f"/api/v1/entries/{e_m3}", {"subject": "Zu spät", "version": v3}), 409,
            "an edit with the old version", "conflict")
    r = anna.patch(f"/api/v1/entries/{e_m3}", {"text": "Workshop am 12. Januar, Raum Seeadler."})
    st(r, 200, "the admin edits ben's entry")
    t.eq(body(ben.get(f"/api/v1/entries/{e_m3}")).get("text"), "Workshop am 12. Januar, Raum Seeadler.",
         "the admin's edit is read back")
    t.eq(body(carla.get(f"/api/v1/entries/{e_m3}")).get("subject"), "Workshop Planung Pelikan",
         "carla's refused edit changed nothing")
    problem(anna.patch(f"/api/v1/entries/{e_lmtp}", {"subject": "Neu"}), 422,
            "editing the subject of captured mail", "invalid")
    problem(anna.patch(f"/api/v1/entries/{e_m3}", {"lead": "22222"}), 422,
            "editing to a lead of another company", "invalid")

    # ---- search --------------------------------------------------------------------------------------
    def search(api, q, what):
        r = api.get("/api/v1/search?q=" + urllib.parse.quote(q))
        st(r, 200, f"search {q!r} ({what})")
        return body(r)

    s = search(anna, "angeb", "prefix of Angebot")
    t.ok({e_lead, e_cand, e_att} <= set(ids(s.get("items", []))), "'angeb' finds the Angebot mails",
         got=ids(s.get("items", [])))
    t.eq(s.get("query"), "angeb", "search answers the query")
    s = search(ben, "angeb", "as ben")
    t.ok({e_lead, e_cand} <= set(ids(s.get("items", []))) and e_att not in ids(s.get("items", [])),
         "ben finds the saved Angebot mails, not anna's pending one", got=ids(s.get("items", [])))
    t.eq(ids(search(jonas, "angeb", "beta's admin").get("items", [])), [], "beta finds nothing of alpha")
    t.eq(ids(search(anna, "Zwetschgenkuchen", "a word of the mail's text").get("items", [])), [e_lead],
         "a word of a mail's text finds it")
    t.eq(ids(search(anna, "quittenbr", "prefix of a manual entry's text").get("items", [])), [e_m1],
         "a prefix of a manual entry's text finds it")
    s = search(anna, "muller", "umlaut-insensitive Müller")
    t.ok({e_lead, e_cand, e_lmtp} <= set(ids(s.get("items", []))), "'muller' finds the mails to Jürgen Müller",
         got=ids(s.get("items", [])))
    t.ok("jmueller" in [c.get("key") for c in s.get("contacts", [])],
         "'muller' also returns the contact person Jürgen Müller", got=s.get("contacts"))
    dora = client(DORA)
    s = search(dora, "Engel", "a sender's name")
    t.eq(ids(s.get("items", [])), [e_dora], "the sender's name finds dora's mail")
    s = search(dora, "dora.engel@alpha-mail.example", "a sender's address")
    t.eq(ids(s.get("items", [])), [e_dora], "the sender's address finds dora's mail")
    t.eq(ids(search(anna, "s.krause@acme-maschinen.example", "a recipient's address").get("items", [])),
         sorted([e_same1, e_same2], reverse=True), "a recipient's address finds the mails to her (not the discarded one)")
    t.eq(ids(search(anna, "Platzhirsch", "the discarded mail").get("items", [])), [], "discarded mail is not found")
    t.eq(ids(search(anna, "Kolibri", "the old subject").get("items", [])), [], "the old subject of an edited entry is gone")
    t.eq(ids(search(carla, "Pelikan", "the new subject").get("items", [])), [e_m3], "the new subject is found")
    t.eq(ids(search(carla, "Seeadler", "the new text").get("items", [])), [e_m3], "the new text is found")
    t.ok(e_m1 in ids(search(anna, "ozturk", "a manual entry's contact").get("items", [])),
         "a manual entry is found by its contact person's name (Öztürk)")
    t.ok(e_m1 not in ids(search(anna, "Krause", "the manual entry's former contact").get("items", [])),
         "the manual entry is no longer found by its former contact person's name")
    found, _ = walk_pages(anna, "/api/v1/search?q=angebot", 1, "search by 1")
    t.eq(found, ids(search(anna, "angebot", "one page").get("items", [])), "search pages by 1 are the whole result")
    found, _ = walk_pages(anna, f"/api/v1/companies/{acme}/history", 1, "acme's history by 1")
    t.eq(found, ids(body(anna.get(f"/api/v1/companies/{acme}/history")).get("items", [])),
         "acme's history pages by 1 are the whole history")
    t.ok(len(found) >= 3, "acme's history has several entries (test data)", got=found)
    s = search(anna, "acme", "records")
    t.eq([c.get("key") for c in s.get("companies", [])], ["acme"], "search returns the company acme")
    s = search(anna, "11113", "records")
    t.eq([c.get("number") for c in s.get("leads", [])], ["11113"], "search returns lead 11113")
    t.ok("messe" in [p.get("key") for p in search(anna, "Messestand", "records").get("projects", [])],
         "search returns the project Messestand Hannover")
    t.ok("baum" in [c.get("key") for c in search(anna, "grun", "umlaut-insensitive Grün").get("companies", [])],
         "'grun' returns the company Baumschule Grün")
    # Contact persons' names find captured mail too: a mail whose To: has no display name, and
    # contact persons chosen (and changed) in the review.
    e_bare, _ = deliver(amail(A, "oe.oeztuerk@acme-maschinen.example", "Terminbestätigung Wollgras", "bare1",
                              date(12, 9)), "mail to a bare address of Ömer Öztürk")
    s = search(anna, "Ömer Wollgras", "the contact person's first name, not in the mail")
    t.eq(ids(s.get("items", [])), [e_bare], "a pending mail is found by its contact person's name (no display name)")
    st(anna.post(f"/api/v1/entries/{e_bare}/confirm", {}), 200, "confirm the mail to Ömer Öztürk")
    t.eq(ids(search(carla, "Ömer Wollgras", "a colleague, after the review").get("items", [])), [e_bare],
         "the saved mail is found by its contact person's name")
    t.eq(ids(search(carla, "oemer wollgras", "Ömer spelled out").get("items", [])), [e_bare],
         "'oemer' finds Ömer (ö spelled oe)")
    t.eq(ids(search(carla, "omer wollgras", "Ömer without the dots").get("items", [])), [e_bare],
         "'omer' still finds Ömer")
    e_rev, _ = deliver(amail(A, "einkauf@irgendwo-anders.example", "Bestellung Sumpfdotter", "rev1",
                             date(12, 10)), "mail to an unknown address")
    t.eq(ids(search(anna, "Sabine Sumpfdotter", "before the review").get("items", [])), [],
         "before the review no contact person's name finds it")
    r = anna.post(f"/api/v1/entries/{e_rev}/confirm", {"company": "acme", "contacts": ["skrause"]})
    st(r, 200, "confirm it with contact person Sabine Krause")
    t.eq(ids(search(ben, "Sabine Sumpfdotter", "the contact chosen in the review").get("items", [])), [e_rev],
         "the contact person chosen in the review finds the mail")
    st(anna.patch(f"/api/v1/entries/{e_rev}", {"contacts": ["jmueller"]}), 200, "change its contact person")
    t.eq(ids(search(ben, "Sabine Sumpfdotter", "the former contact").get("items", [])), [],
         "the former contact person's name no longer finds it")
    t.eq(ids(search(ben, "Jürgen Sumpfdotter", "the new contact").get("items", [])), [e_rev],
         "the new contact person's name finds it")
    holz = record_id(anna, "contacts", "lholz")
    st(anna.patch(f"/api/v1/contacts/{holz}", {"name": "Lisa Holzapfel"}), 200, "rename the contact Lisa Holz")
    t.eq(ids(search(dora, "Holzapfel", "the contact's new name").get("items", [])), [e_dora],
         "a renamed contact person's new name finds the mail to her")
    st(anna.patch(f"/api/v1/contacts/{holz}", {"name": "Lisa Holz"}), 200, "rename her back")
    t.eq(ids(search(dora, "Holzapfel", "the name given up").get("items", [])), [], "the name given up finds nothing")
    t.eq(ids(search(dora, "Lisa Pflanzliste", "her name again").get("items", [])), [e_dora], "her name finds it again")

    # German spellings: "oe" for ö, "ae" for ä, "ue" for ü, "ss" for ß — in the text, the query and
    # phrases; without the dots ("muller") as before.
    s = search(anna, "mueller", "Müller spelled out")
    t.ok({e_lead, e_cand, e_lmtp} <= set(ids(s.get("items", []))), "'mueller' finds the mails to Jürgen Müller",
         got=ids(s.get("items", [])))
    r = anna.post("/api/v1/entries", {"channel": "phone", "subject": "Anruf Herr Mueller Kiefernzapfen",
                                      "company": "acme",
                                      "text": "Neue Öffnungszeiten ab Januar, Lieferung über die Große Straße."})
    st(r, 201, "a manual entry with umlauts and ß")
    e_de = body(r).get("id")
    for q in ["oeffnungszeiten", "Öffnungszeiten", "offnungszeiten", "öffnungsz", "oeffnungsz", "strasse",
              "Straße", "grosse strasse", '"neue oeffnungszeiten"', '"Große Straße"', "ueber", "Müller Kiefernzapfen",
              "mueller kiefernzapfen"]:
        t.ok(e_de in ids(search(anna, q, "German spelling").get("items", [])), f"{q!r} finds the entry",
             got=ids(search(anna, q, "again").get("items", [])))
    t.ok(e_de not in ids(search(anna, "offnungszeiten Eisvogel", "a word it lacks").get("items", [])),
         "every word must occur")
    # The Turkish dotless ı, as people type it: an i.
    r = anna.post("/api/v1/entries", {"channel": "phone", "subject": "Rückruf Herr Yılmaz Seeadler", "company": "acme"})
    st(r, 201, "a manual entry naming Yılmaz")
    e_tr = body(r).get("id")
    for q in ["yilmaz", "Yılmaz", "YILMAZ", "yılmaz seeadler", '"herr yilmaz"']:
        t.ok(e_tr in ids(search(anna, q, "dotless i").get("items", [])), f"{q!r} finds 'Herr Yılmaz'")

    # Attachments' names.
    t.ok(e_m1 in ids(search(anna, "Gesprächsnotiz", "an attachment's name").get("items", [])),
         "a manual entry is found by its attachment's name")
    t.ok(e_m1 in ids(search(anna, "maerz", "an attachment's name spelled out").get("items", [])),
         "'maerz' finds the attachment 'Gesprächsnotiz März.pdf'")
    t.ok(e_att in ids(search(anna, "Angebot Müller.pdf", "a captured attachment's name").get("items", [])),
         "captured mail is found by its attachment's name")

    # `contactlog reindex` builds the same index again.
    r = t.run(["reindex"], data_dir=d)
    t.exit_status(r, 0, "contactlog reindex")
    t.eq(ids(search(carla, "oemer wollgras", "after reindex").get("items", [])), [e_bare],
         "after reindex: a captured mail by its contact person's name, spelled out")
    t.eq(ids(search(ben, "Jürgen Sumpfdotter", "after reindex").get("items", [])), [e_rev],
         "after reindex: the contact person chosen in the review")
    t.ok(e_m1 in ids(search(anna, "maerz", "after reindex").get("items", [])),
         "after reindex: an attachment's name")
    t.ok(e_de in ids(search(anna, '"grosse strasse"', "after reindex").get("items", [])),
         "after reindex: a phrase spelled out")

    problem(anna.get("/api/v1/search"), 400, "search without q", "bad-request")
    problem(anna.get("/api/v1/search?q="), 400, "search with an empty q", "bad-request")
    problem(anna.get("/api/v1/search?q=%21%21%21"), 400, "search for '!!!' (no word)", "bad-request")

    # ---- delete ----------------------------------------------------------------------------------------
    r = ben.delete(f"/api/v1/entries/{e_m3}")
    st(r, 204, "the author deletes the entry")
    problem(ben.get(f"/api/v1/entries/{e_m3}"), 404, "the deleted entry", "not-found")
    problem(ben.delete(f"/api/v1/entries/{e_m3}"), 404, "deleting it again")
    t.eq(ids(search(carla, "Pelikan", "after the delete").get("items", [])), [], "the deleted entry is not found")
    r = anna.post("/api/v1/entries", {"channel": "other", "subject": "Notiz ohne Firma Zaunkönig"})
    st(r, 201, "a manual entry without company")
    e_m4, v4 = body(r).get("id"), body(r).get("version")
    t.eq(v4, 1, "a new entry without company starts at version 1")
    t.eq(sorted(ids(body(anna.get("/api/v1/me/inbox?state=own")).get("items", []))), sorted([e_nocomp, e_m4]),
         "?state=own lists the manual entry without company too")
    problem(carla.get(f"/api/v1/entries/{e_m4}"), 404, "carla reads anna's own-history entry")
    # The own history is the author's alone: nobody to tell of it.
    r = anna.post("/api/v1/entries", {"channel": "other", "subject": "Privat Zaunkönig", "notify": ["carla"]})
    problem(r, 422, "a manual entry in the own history with a colleague to notify", "invalid")
    t.ok("notify" in (body(r).get("detail") or ""), "the 422 names notify", r)
    problem(anna.patch(f"/api/v1/entries/{e_m4}", {"notify": ["carla"]}), 422,
            "a colleague to notify added to an own-history entry", "invalid")
    r = anna.post("/api/v1/entries", {"channel": "other", "subject": "Zaunkönig Firma", "company": "acme",
                                      "notify": ["carla"]})
    st(r, 201, "a manual entry in a company with carla to notify")
    e_m5 = body(r).get("id")
    r = anna.patch(f"/api/v1/entries/{e_m5}", {"company": None})
    st(r, 200, "the entry moved to anna's own history")
    t.eq(body(r).get("notify"), [], "moved to the own history, it has nobody to notify any more", r)
    st(anna.delete(f"/api/v1/entries/{e_m5}"), 204, "the moved entry deleted")
    # A change that changes nothing (a form sent again as it was) makes no new version.
    for change, what in (({}, "an empty PATCH"),
                         ({"subject": "Notiz ohne Firma Zaunkönig", "channel": "other", "version": v4},
                          "the same subject and channel"),
                         ({"followup": None, "notify": [], "contacts": []}, "no follow-up, nobody, as before")):
        r = anna.patch(f"/api/v1/entries/{e_m4}", change)
        st(r, 200, f"PATCH with {what}")
        t.eq((body(r).get("version"), body(r).get("updated")), (v4, body(anna.get(f"/api/v1/entries/{e_m4}")).get("updated")),
             f"{what}: the version stays {v4}", r)
    r = anna.patch(f"/api/v1/entries/{e_m4}", {"channel": "phone", "version": v4})
    t.eq((r.status, body(r).get("version")), (200, (v4 or 0) + 1), "a real change makes the next version", r)
    v4 = body(r).get("version")
    problem(anna.delete(f"/api/v1/entries/{e_m4}?version={(v4 or 0) + 3}"), 409, "DELETE with a stale version", "conflict")
    st(anna.delete(f"/api/v1/entries/{e_m4}?version={v4}"), 204, "DELETE with the current version")

    t.eq(ids(search(ben, "Rückfrage", "ben's pending mail").get("items", [])), [e_ben], "ben finds his pending mail")
    st(ben.delete(f"/api/v1/entries/{e_ben}"), 204, "ben deletes his captured mail")
    t.eq(ids(search(ben, "Rückfrage", "after deleting the mail").get("items", [])), [], "the deleted mail is not found")
    t.ok(e_ben not in ids(search(ben, "oe.oeztuerk@acme-maschinen.example", "its recipient").get("items", [])),
         "nor by its recipient")

    # ---- attachments: add and delete ---------------------------------------------------------------------
    proto = "Protokoll der Besprechung\n".encode() * 10
    ct, form = apiclient.multipart({}, [("file", "Protokoll Ü – Café.txt", "text/plain", proto)])
    r = anna.request("POST", f"/api/v1/entries/{e_m1}/attachments", body=form, content_type=ct)
    st(r, 201, "POST /api/v1/entries/ID/attachments (multipart)")
    added = [a for a in body(r).get("attachments", []) if a.get("name") == "Protokoll Ü – Café.txt"]
    t.eq(len(body(r).get("attachments", [])), 2, "the entry has two attachments now")
    if t.eq(len(added), 1, "the added file is listed"):
        check_download(anna.get(added[0]["url"]), proto, "Protokoll Ü – Café.txt", "download of the added file",
                       want_type="text/plain")
        t.ok('filename="Protokoll Ue _ Caf_.txt"' in (anna.get(added[0]["url"]).header("Content-Disposition") or ""),
             "the fallback: Ü spelled Ue, one _ for the dash and for é")
        problem(ben.delete(added[0]["url"]), 403, "ben deletes an attachment of anna's entry", "forbidden")
        st(anna.delete(added[0]["url"]), 204, "DELETE /api/v1/entries/ID/attachments/AID")
        problem(anna.get(added[0]["url"]), 404, "the deleted attachment", "not-found")
        t.eq([a.get("name") for a in body(anna.get(f"/api/v1/entries/{e_m1}")).get("attachments", [])],
             ["Gesprächsnotiz März.pdf"], "after the delete, the first attachment is left")
    # A part without filename= (or with only filename*=) would be a file lost without a word.
    n_att = len(body(anna.get(f"/api/v1/entries/{e_m1}")).get("attachments", []))
    bnd = "----clnofilename"
    for disp, what in (('form-data; name="file"', "no filename"),
                       ("form-data; name=\"file\"; filename*=UTF-8''%C3%A4.txt", "only filename*")):
        raw = (f"--{bnd}\r\nContent-Disposition: {disp}\r\nContent-Type: text/plain\r\n\r\n"
               f"Inhalt\r\n--{bnd}--\r\n").encode()
        for path, verb in ((f"/api/v1/entries/{e_m1}/attachments", "POST …/attachments"),
                           ("/api/v1/entries", "POST /entries")):
            r = anna.request("POST", path, body=raw, content_type=f"multipart/form-data; boundary={bnd}")
            problem(r, 422, f"{verb}: a file part with {what}", "invalid")
            t.ok('"file" has no filename' in (body(r).get("detail") or ""), f"{verb}: the 422 names the part", r)
    t.eq(len(body(anna.get(f"/api/v1/entries/{e_m1}")).get("attachments", [])), n_att,
         "the refused parts added nothing")
    ct, form = apiclient.multipart({}, [("file", "x.txt", "text/plain", b"x")])
    problem(ben.request("POST", f"/api/v1/entries/{e_m1}/attachments", body=form, content_type=ct), 403,
            "ben adds a file to anna's entry", "forbidden")
    problem(anna.get(f"/api/v1/entries/{e_m1}/attachments/999999"), 404, "an attachment that does not exist")

    # ---- records -----------------------------------------------------------------------------------------
    r = anna.get("/api/v1/companies")
    st(r, 200, "GET /api/v1/companies")
    t.eq(sorted(c.get("key") for c in body(r).get("items", [])), ["acme", "baum"],
         "the companies of alpha (not beta's acme)")
    t.eq([c.get("key") for c in body(anna.get("/api/v1/companies?q=baumschule")).get("items", [])], ["baum"],
         "?q=baumschule")
    r = anna.get(f"/api/v1/companies/{acme}")
    st(r, 200, "GET /api/v1/companies/ID")
    t.eq((body(r).get("key"), body(r).get("name"), body(r).get("domains")),
         ("acme", "ACME Maschinenbau AG", ["acme-maschinen.example"]), "the company acme")
    beta_acme = record_id(jonas, "companies", "acme")
    problem(anna.get(f"/api/v1/companies/{beta_acme}"), 404, "anna reads beta's company by id", "not-found")
    r = anna.post("/api/v1/companies", {"name": "Bäckerei Süß", "domains": ["baeckerei-suess.example"]})
    st(r, 201, "POST /api/v1/companies without key")
    sweet = body(r)
    t.eq((sweet.get("key"), sweet.get("name"), sweet.get("domains")),
         ("baeckerei-suess", "Bäckerei Süß", ["baeckerei-suess.example"]), "the key is made from the name")
    r = anna.post("/api/v1/companies", {"name": "Bäckerei Süß"})
    t.eq((r.status, body(r).get("key")), (201, "baeckerei-suess-2"), "the same name again: a key of its own")
    # Names with or without umlauts find each other, as in the search of entries; keys and
    # addresses have them spelled out.
    for q in ("Bäckerei Süß", "baeckerei suess", "backerei", "BAECKEREI-SUESS"):
        t.eq(sorted(c.get("key") for c in body(anna.get("/api/v1/companies?q=" + urllib.parse.quote(q))).get("items", [])),
             ["baeckerei-suess", "baeckerei-suess-2"], f"companies ?q={q}")
    for q in ("oemer", "Ömer", "omer", "oeztuerk"):
        t.eq([c.get("key") for c in body(anna.get("/api/v1/contacts?q=" + urllib.parse.quote(q))).get("items", [])],
             ["oeztuerk"], f"contacts ?q={q}")
    for q in ("mueller", "Müller", "juergen mueller"):
        t.eq([c.get("key") for c in body(anna.get("/api/v1/contacts?q=" + urllib.parse.quote(q))).get("items", [])],
             ["jmueller"], f"contacts ?q={q}: alpha's only, not beta's Jürgen Müller")
    r = anna.get("/api/v1/search?q=" + urllib.parse.quote("Bäckerei"))
    t.eq(sorted(c.get("key") for c in body(r).get("companies", [])), ["baeckerei-suess", "baeckerei-suess-2"],
         "search ?q=Bäckerei lists the companies")
    n_before = len(body(anna.get("/api/v1/companies?limit=200")).get("items", []))
    problem(anna.post("/api/v1/companies", {"name": "Noch eine ACME", "key": "acme"}), 409,
            "a company with a key that is taken", "conflict")
    problem(anna.post("/api/v1/companies", {"name": "Domain-Dieb GmbH", "domains": ["acme-maschinen.example"]}), 409,
            "a company with acme's domain", "conflict")
    problem(anna.post("/api/v1/companies", {"name": ""}), 422, "a company with an empty name", "invalid")
    problem(anna.post("/api/v1/companies", {"key": "ohne-name"}), 422, "a company without name", "invalid")
    problem(anna.post("/api/v1/companies", {"name": "X", "farbe": "blau"}), 422, "a company with an unknown field",
            "invalid")
    problem(anna.post("/api/v1/companies", {"name": "X", "domains": "x.example"}), 422, "domains not a list", "invalid")
    # Keys a person can read and type back, the same way every time.
    for key, what in ((" acme-2", "a space before it"), ("acme-2 ", "a space after it"),
                      ("\u202eacme-2", "a bidirectional override"), ("acme\t2", "a tab"),
                      ("k" * 101, "101 bytes"), ("so\u0308mmer", "not in NFC (o + combining diaeresis)")):
        r = anna.post("/api/v1/companies", {"name": "Schlüssel-Test", "key": key})
        problem(r, 422, f"a company key with {what}", "invalid")
        t.ok('"key"' in (body(r).get("detail") or ""), f"the 422 for a key with {what} names the key", r)
    # Domains that are no domains, or the drop address's.
    for dom, what in (("*.schluessel.example", "a wildcard"), ("schluessel", "one label"),
                      ("x" * 64 + ".example", "a label of 64 octets"), ("-schluessel.example", "a leading hyphen"),
                      ("contactlog.example", "the drop address's domain"),
                      ("example", "a parent of the drop address's domain")):
        r = anna.post("/api/v1/companies", {"name": "Domain-Test", "domains": [dom]})
        problem(r, 422, f"a company domain: {what}", "invalid")
        t.ok((body(r).get("detail") or "").startswith(f"domains[0]: {dom} "), f"the 422 for {what} names the domain", r)
    t.eq(len(body(anna.get("/api/v1/companies?limit=200")).get("items", [])), n_before,
         "the refused companies were not made")
    r = anna.patch(f"/api/v1/companies/{sweet.get('id')}", {"name": "Bäckerei Süß & Söhne"})
    st(r, 200, "PATCH /api/v1/companies/ID")
    r = anna.get(f"/api/v1/companies/{sweet.get('id')}")
    t.eq((body(r).get("key"), body(r).get("name"), body(r).get("domains")),
         ("baeckerei-suess", "Bäckerei Süß & Söhne", ["baeckerei-suess.example"]),
         "the change is read back; key and domains kept")
    problem(anna.patch(f"/api/v1/companies/{sweet.get('id')}", {"key": "baum"}), 409,
            "renaming a company to a taken key", "conflict")
    problem(anna.patch(f"/api/v1/companies/{sweet.get('id')}", {"domains": ["baumschule-gruen.example"]}), 409,
            "giving a company baum's domain", "conflict")
    problem(jonas.patch(f"/api/v1/companies/{sweet.get('id')}", {"name": "Gekapert"}), 404,
            "beta's admin changes alpha's company")
    t.eq(body(anna.get(f"/api/v1/companies/{sweet.get('id')}")).get("name"), "Bäckerei Süß & Söhne",
         "the refused changes changed nothing")
    # contacts
    r = anna.post("/api/v1/contacts", {"name": "Paula Pfeffer", "company": sweet.get("id"),
                                       "emails": ["P.Pfeffer@baeckerei-suess.example"], "phone": "+49 4131 123"})
    st(r, 201, "POST /api/v1/contacts")
    paula = body(r)
    t.eq((paula.get("key"), (paula.get("company") or {}).get("id"), paula.get("emails"), paula.get("phone")),
         ("paula-pfeffer", sweet.get("id"), ["P.Pfeffer@baeckerei-suess.example"], "+49 4131 123"),
         "the new contact: key from the name, company, address, phone")
    e_paula, res = deliver(amail(A, "p.pfeffer@baeckerei-suess.example", "Brötchen-Bestellung", "paula", date(12, 9)),
                           "mail to the new contact")
    t.eq((res.get("company"), res.get("contact")), ("baeckerei-suess", "paula-pfeffer"),
         "mail to the new contact is assigned to her and her company")
    problem(anna.post("/api/v1/contacts", {"name": "Ohne Firma"}), 422, "a contact without company", "invalid")
    problem(anna.post("/api/v1/contacts", {"name": "Falsche Firma", "company": 999999}), 422,
            "a contact with a company that does not exist", "invalid")
    problem(anna.post("/api/v1/contacts", {"name": "Kaputt", "company": acme, "emails": ["keine-adresse"]}), 422,
            "a contact with an address without @", "invalid")
    for addr in ("crm@contactlog.example", "CRM@Contactlog.Example"):
        r = anna.post("/api/v1/contacts", {"name": "Ablage", "company": acme, "emails": [addr]})
        problem(r, 422, f"a contact person with the drop address {addr}", "invalid")
        t.ok((body(r).get("detail") or "").startswith(f"emails[0]: {addr} is the drop address"),
             "the 422 names the address", r)
    problem(anna.post("/api/v1/contacts", {"name": "Doppelt", "company": acme, "key": "jmueller"}), 409,
            "a contact with a taken key", "conflict")
    skrause = record_id(anna, "contacts", "skrause")
    r = anna.patch(f"/api/v1/contacts/{skrause}", {"phone": "+49 40 555 0202"})
    st(r, 200, "PATCH /api/v1/contacts/ID (a contact without phone gets one)")
    r = anna.get(f"/api/v1/contacts/{skrause}")
    t.eq((body(r).get("phone"), body(r).get("name"), body(r).get("emails"), (body(r).get("company") or {}).get("key")),
         ("+49 40 555 0202", "Sabine Krause", ["S.Krause@ACME-Maschinen.example"], "acme"),
         "the contact's phone is read back, the rest kept")
    t.ok("paula-pfeffer" in [c.get("key") for c in body(anna.get(f"/api/v1/contacts?company={sweet.get('id')}")).get("items", [])],
         "?company= lists the company's contacts")
    t.eq([c.get("key") for c in body(anna.get("/api/v1/contacts?company=baeckerei-suess")).get("items", [])],
         [c.get("key") for c in body(anna.get(f"/api/v1/contacts?company={sweet.get('id')}")).get("items", [])],
         "?company= takes the company's key as well as its id")
    problem(anna.get("/api/v1/contacts?company=gibt-es-nicht"), 404, "?company= with a key of nobody", "not-found")
    r = anna.post("/api/v1/contacts", {"name": "Karl Key", "company": "baeckerei-suess"})
    st(r, 201, "POST /api/v1/contacts with the company's key")
    t.eq((body(r).get("company") or {}).get("id"), sweet.get("id"), "the company named by its key")
    problem(anna.post("/api/v1/contacts", {"name": "Karl Key", "company": "gibt-es-nicht"}), 422,
            "a contact with a company key of nobody", "invalid")
    problem(jonas.post("/api/v1/contacts", {"name": "Karl Key", "company": "baeckerei-suess"}), 422,
            "beta names alpha's company by its key", "invalid")
    # leads
    r = anna.post("/api/v1/leads", {"name": "Neuer Katalog", "company": acme})
    st(r, 201, "POST /api/v1/leads without number")
    new_lead = body(r)
    t.eq((new_lead.get("number"), new_lead.get("name"), new_lead.get("status"), (new_lead.get("company") or {}).get("key")),
         ("44445", "Neuer Katalog", "open", "acme"), "the lead number is the next free one (44445)")
    _, res = deliver(amail(A, MUELLER, "Lead 44445 Entwurf", "newlead", date(12, 10)), "mail naming the new lead")
    t.eq(res.get("lead"), "44445", "mail naming the new lead number is assigned to it")
    problem(anna.post("/api/v1/leads", {"name": "Doppelt", "number": "11111", "company": acme}), 409,
            "a lead with a taken number", "conflict")
    problem(anna.post("/api/v1/leads", {"name": "Buchstaben", "number": "12a", "company": acme}), 422,
            "a lead number with a letter", "invalid")
    r = anna.patch(f"/api/v1/leads/{new_lead.get('id')}", {"status": "won"})
    st(r, 200, "PATCH /api/v1/leads/ID")
    t.eq((body(anna.get(f"/api/v1/leads/{new_lead.get('id')}")).get("status"),
          body(anna.get(f"/api/v1/leads/{new_lead.get('id')}")).get("number")), ("won", "44445"),
         "the lead's status is read back, its number kept")
    t.eq(sorted(x.get("number") for x in body(anna.get("/api/v1/leads?q=katalog")).get("items", [])),
         ["22223", "44445"], "?q=katalog finds the new lead (and Frühjahrskatalog)")
    # projects
    r = anna.post("/api/v1/projects", {"name": "Frühlingsfest 2027", "company": baum, "offers": ["5002"]})
    st(r, 201, "POST /api/v1/projects")
    proj = body(r)
    t.eq((proj.get("key"), proj.get("offers"), (proj.get("company") or {}).get("key")),
         ("fruehlingsfest-2027", ["5002"], "baum"), "the project: key from the name, offers, company")
    problem(anna.post("/api/v1/projects", {"name": "Messe 2", "key": "messe", "company": acme}), 409,
            "a project with a taken key", "conflict")
    problem(anna.post("/api/v1/projects", {"name": "Angebot kaputt", "company": acme, "offers": ["A-1"]}), 422,
            "an offer number with letters", "invalid")
    r = anna.patch(f"/api/v1/projects/{proj.get('id')}", {"name": "Frühlingsfest 2027 Lüneburg"})
    st(r, 200, "PATCH /api/v1/projects/ID")
    r = anna.get(f"/api/v1/projects/{proj.get('id')}")
    t.eq((body(r).get("name"), body(r).get("key"), body(r).get("offers")),
         ("Frühlingsfest 2027 Lüneburg", "fruehlingsfest-2027", ["5002"]), "the project change is read back")
    r = anna.get("/api/v1/projects?limit=1")
    t.eq((len(body(r).get("items", [])), body(r).get("next_offset")), (1, 1), "?limit=1: one item and next_offset 1")

    # ---- admin -----------------------------------------------------------------------------------------------
    r = anna.get("/api/v1/admin/tenant")
    st(r, 200, "GET /api/v1/admin/tenant")
    ten = body(r)
    t.eq((ten.get("key"), ten.get("name"), ten.get("domains"), ten.get("settings")),
         ("alpha", "Alpha Werbeagentur GmbH", ["alpha-agentur.example", "alpha-mail.example"],
          {"subject_numbers": "strict", "auto_save": False}), "the tenant: key, name, domains, settings")
    problem(ben.get("/api/v1/admin/tenant"), 403, "ben (no admin) reads the tenant", "forbidden")
    problem(ben.patch("/api/v1/admin/tenant", {"settings": {"auto_save": True}}), 403, "ben changes the tenant", "forbidden")
    r = anna.patch("/api/v1/admin/tenant", {"settings": {"auto_save": True}})
    st(r, 200, "PATCH /api/v1/admin/tenant {settings: {auto_save: true}}")
    t.eq((body(r).get("settings"), body(r).get("domains")),
         ({"subject_numbers": "strict", "auto_save": True}, ["alpha-agentur.example", "alpha-mail.example"]),
         "auto_save on, the rest kept")
    e_auto, _ = deliver(amail(A, MUELLER, "Automatisch gespeichert", "auto", date(13, 9)), "mail with auto_save",
                        status="saved")
    t.ok(e_auto not in ids(body(anna.get("/api/v1/me/inbox")).get("items", [])), "auto-saved mail skips the inbox")
    st(anna.patch("/api/v1/admin/tenant", {"settings": {"auto_save": False}}), 200, "auto_save off again")
    deliver(amail(A, MUELLER, "Wieder zur Prüfung", "manualreview", date(13, 10)), "mail without auto_save")
    r = anna.patch("/api/v1/admin/tenant", {"domains": ["alpha-agentur.example", "alpha-mail.example", "alpha-neu.example"]})
    st(r, 200, "PATCH /api/v1/admin/tenant {domains: + alpha-neu.example}")
    t.eq(body(anna.get("/api/v1/admin/tenant")).get("domains"),
         ["alpha-agentur.example", "alpha-mail.example", "alpha-neu.example"], "the new domain is read back")
    problem(anna.patch("/api/v1/admin/tenant", {"domains": ["alpha-agentur.example", "beta-design.example"]}), 409,
            "taking beta's domain", "conflict")
    st(anna.patch("/api/v1/admin/tenant", {"name": "Alpha Werbeagentur GmbH & Co. KG"}), 200, "renaming the tenant")
    t.eq(((body(ben.get("/api/v1/me")).get("user") or {}).get("tenant") or {}).get("name"),
         "Alpha Werbeagentur GmbH & Co. KG", "the users see the tenant's new name")
    problem(anna.patch("/api/v1/admin/tenant", {"key": "omega"}), 422, "changing the tenant's key", "invalid")
    problem(anna.patch("/api/v1/admin/tenant", {"settings": {"auto_save": "ja"}}), 422, "auto_save: \"ja\"", "invalid")
    problem(anna.patch("/api/v1/admin/tenant", {"farbe": "blau"}), 422, "an unknown tenant field", "invalid")
    t.eq(body(anna.get("/api/v1/admin/tenant")).get("domains"),
         ["alpha-agentur.example", "alpha-mail.example", "alpha-neu.example"], "the refused changes changed nothing")
    # rejections: mail of an unknown sender at the new domain belongs to alpha
    r = t.deliver(amail("Niemand <niemand@alpha-neu.example>", MUELLER, "Wer bin ich", "rej1", date(13, 11)), d)
    t.eq((t.one_line(r, "unknown sender at alpha-neu.example") or {}).get("reason"), "unknown-sender",
         "an unknown sender at the new domain is rejected as unknown-sender")
    t.deliver(amail("Jemand <jemand@gar-keine-agentur.example>", MUELLER, "Unbekannter Mandant", "rej2", date(13, 12)), d)
    r = anna.get("/api/v1/admin/rejections")
    st(r, 200, "GET /api/v1/admin/rejections")
    rej = body(r).get("items", [])
    mine = [x for x in rej if x.get("sender") == "niemand@alpha-neu.example"]
    if t.eq(len(mine), 1, "the rejection of alpha's unknown sender is listed once"):
        t.eq((mine[0].get("reason"), mine[0].get("subject"), mine[0].get("tenant")),
             ("unknown-sender", "Wer bin ich", "alpha"), "the rejection: reason, subject, tenant")
        t.ok(isinstance(mine[0].get("message"), str) and mine[0]["message"], "the rejection has the sentence for the sender")
    t.ok(all(x.get("tenant") == "alpha" for x in rej), "the list shows only alpha's rejections",
         got=[(x.get("tenant"), x.get("sender")) for x in rej])
    t.ok("fremd@alpha-agentur.example" in [x.get("sender") for x in rej], "the LMTP rejection is listed too",
         got=[x.get("sender") for x in rej])
    t.ok("raw_hash" not in r.text, "rejections do not show blob hashes")
    t.eq([x.get("sender") for x in body(jonas.get("/api/v1/admin/rejections")).get("items", [])], [],
         "beta's admin sees none of alpha's rejections")
    problem(ben.get("/api/v1/admin/rejections"), 403, "ben reads the rejections", "forbidden")
    # users
    r = anna.get("/api/v1/admin/users")
    st(r, 200, "GET /api/v1/admin/users")
    users = {x.get("key"): x for x in body(r).get("items", [])}
    t.eq(sorted(users), ["anna", "ben", "carla", "dora"], "alpha's users (not beta's)")
    t.eq((users.get("ben", {}).get("role"), users.get("ben", {}).get("emails"), users.get("ben", {}).get("active")),
         ("user", ["ben.kaya@alpha-agentur.example", "Team@alpha-agentur.example"], True), "ben as the admin sees him")
    t.ok("password" not in r.text and "argon2" not in r.text, "no password hashes in the user list")
    problem(ben.get("/api/v1/admin/users"), 403, "ben lists the users", "forbidden")
    problem(ben.post("/api/v1/admin/users", {"name": "Ben 2", "emails": ["b2@alpha-agentur.example"]}), 403,
            "ben creates a user", "forbidden")
    problem(ben.patch(f"/api/v1/admin/users/{users.get('ben', {}).get('id')}", {"role": "admin"}), 403,
            "ben makes himself admin", "forbidden")
    r = anna.post("/api/v1/admin/users", {"name": "Emil Fuchs", "emails": ["emil.fuchs@alpha-agentur.example"],
                                          "password": "Emils-Passwort", "role": "user"})
    st(r, 201, "POST /api/v1/admin/users")
    emil = body(r)
    t.eq((emil.get("key"), emil.get("role"), emil.get("emails"), emil.get("active")),
         ("emil-fuchs", "user", ["emil.fuchs@alpha-agentur.example"], True), "the new user: key from the name")
    emil_c = apiclient.Client(ADDR)
    st(emil_c.login("emil.fuchs@alpha-agentur.example", "Emils-Passwort"), 201, "the new user logs in")
    r = ben.get("/api/v1/users")
    st(r, 200, "GET /api/v1/users (ben)")
    t.eq(sorted(u.get("key") for u in body(r).get("items", [])), ["anna", "ben", "carla", "dora", "emil-fuchs"],
         "GET /api/v1/users: the colleagues of alpha, the new user too")
    t.ok("@" not in r.text, "GET /api/v1/users shows no addresses", got=r.text)
    problem(anna.post("/api/v1/admin/users", {"name": "Kurz", "emails": ["k@alpha-agentur.example"], "password": "kurz"}),
            422, "a user with a too short password", "invalid")
    problem(anna.post("/api/v1/admin/users", {"name": "Ben Zwei", "key": "ben", "emails": ["b2@alpha-agentur.example"]}),
            409, "a user with a taken key", "conflict")
    problem(anna.post("/api/v1/admin/users", {"name": "Boss", "role": "boss", "emails": ["boss@alpha-agentur.example"]}),
            422, "a user with role boss", "invalid")
    r = anna.patch(f"/api/v1/admin/users/{emil.get('id')}", {"role": "admin"})
    st(r, 200, "PATCH /api/v1/admin/users/ID {role: admin}")
    st(emil_c.get("/api/v1/admin/tenant"), 200, "the promoted user's session may administer at once")
    st(anna.patch(f"/api/v1/admin/users/{emil.get('id')}", {"role": "user"}), 200, "and back to user")
    problem(emil_c.get("/api/v1/admin/tenant"), 403, "the demoted user may no longer administer", "forbidden")
    r = anna.patch(f"/api/v1/admin/users/{emil.get('id')}", {"active": False})
    st(r, 200, "PATCH /api/v1/admin/users/ID {active: false}")
    problem(emil_c.get("/api/v1/me"), 401, "the deactivated user's session ends")
    st(apiclient.Client(ADDR).login("emil.fuchs@alpha-agentur.example", "Emils-Passwort"), 401,
       "the deactivated user cannot log in")
    # a password set by the admin ends the user's sessions, as the user's own change does
    dora_id = users.get("dora", {}).get("id")
    dora_c = client(DORA)
    r = anna.patch(f"/api/v1/admin/users/{dora_id}", {"password": "Doras-neues-Passwort"})
    st(r, 200, "the admin sets dora's password")
    t.ok("Doras-neues-Passwort" not in r.text and "argon2" not in r.text, "the answer shows no password", got=r.text)
    st(apiclient.Client(ADDR).login(DORA[0], "Doras-neues-Passwort"), 201, "dora logs in with the new password")
    st(apiclient.Client(ADDR).login(*DORA), 401, "dora's old password no longer logs in")
    problem(dora_c.get("/api/v1/me"), 401, "dora's session from before the new password ends", "unauthenticated")
    # an admin of alpha cannot take over an address of beta's users
    r = anna.post("/api/v1/admin/users", {"name": "Jonas Kopie", "emails": [JONAS[0]], "password": "Kopie-Passwort"})
    problem(r, 409, "alpha's admin registers beta's admin's address for a user of alpha", "conflict")
    st(apiclient.Client(ADDR).login(*JONAS), 201, "beta's admin still logs in with his address")
    if r.status == 201:  # undo, so that the rest runs on the test data
        anna.patch(f"/api/v1/admin/users/{body(r).get('id')}", {"emails": ["jonas.kopie@alpha-agentur.example"],
                                                                 "active": False})
    anna_id = users.get("anna", {}).get("id")
    problem(anna.patch(f"/api/v1/admin/users/{anna_id}", {"role": "user"}), 409, "demoting the last admin", "conflict")
    problem(anna.patch(f"/api/v1/admin/users/{anna_id}", {"active": False}), 409, "deactivating the last admin",
            "conflict")
    r = anna.get(f"/api/v1/admin/users/{anna_id}")
    t.eq((body(r).get("role"), body(r).get("active")), ("admin", True), "the last admin is still an active admin")
    st(anna.get("/api/v1/admin/tenant"), 200, "and may still administer")
    problem(jonas.get(f"/api/v1/admin/users/{anna_id}"), 404, "beta's admin reads alpha's user", "not-found")

    # ---- uploads of raw mail ----------------------------------------------------------------------------------
    def upload(api, data, ctype="message/rfc822"):
        return api.request("POST", "/api/v1/messages", body=data, content_type=ctype)

    def count_http(status, reason=None):
        http_counts[(status, reason)] = http_counts.get((status, reason), 0) + 1

    B = "Ben Kaya <ben.kaya@alpha-agentur.example>"
    up1 = amail(B, MUELLER, "Hochgeladen aus Outlook", "up1", date(14, 9))
    r = upload(ben, up1)
    st(r, 201, "POST /api/v1/messages (ben's own mail)")
    count_http("pending")
    e_up1 = (body(r).get("entry") or {}).get("id")
    t.eq((body(r).get("status"), (body(r).get("entry") or {}).get("state"),
          ((body(r).get("entry") or {}).get("author") or {}).get("key"), ((body(r).get("entry") or {}).get("company") or {}).get("key")),
         ("pending", "pending", "ben", "acme"), "the upload is ben's pending mail of acme")
    t.ok(e_up1 in ids(body(ben.get("/api/v1/me/inbox")).get("items", [])), "the upload waits in ben's inbox")
    r = ben.get(f"/api/v1/entries/{e_up1}/original")
    t.eq(r.body, up1, "the uploaded mail is stored byte for byte")
    r = upload(ben, up1)
    st(r, 200, "the same upload again")
    count_http("duplicate")
    t.eq((body(r).get("status"), (body(r).get("entry") or {}).get("id")), ("duplicate", e_up1),
         "the same upload again is a duplicate of the first entry")
    r = upload(ben, amail("Fremder <fremder@nirgendwo.example>", MUELLER, "Fremd", "up2", date(14, 10)))
    problem(r, 422, "an upload of a stranger's mail", "unknown-sender")
    count_http("rejected", "unknown-sender")
    r = upload(anna, amail("Jonas <jonas.petersen@beta-design.example>", MUELLER, "Andere Firma", "up3", date(14, 11)))
    problem(r, 422, "the admin uploads mail of another tenant's user", "unknown-sender")
    count_http("rejected", "unknown-sender")
    up_carla = amail("Carla Díaz <carla.diaz@alpha-agentur.example>", MUELLER, "Carlas Mail", "up4", date(14, 12))
    r = upload(ben, up_carla)
    problem(r, 403, "ben uploads carla's mail", "forbidden")
    count_http("rejected", "forbidden")
    t.eq(ids(body(carla.get("/api/v1/me/inbox")).get("items", [])), [], "the refused upload is not in carla's inbox")
    r = upload(anna, up_carla)
    st(r, 201, "the admin uploads carla's mail")
    count_http("pending")
    e_up_c = (body(r).get("entry") or {}).get("id")
    t.eq(ids(body(carla.get("/api/v1/me/inbox")).get("items", [])), [e_up_c], "the admin's upload waits in carla's inbox")
    t.ok("Carlas Mail" not in r.text, "the admin learns where carla's mail went, not what it says", got=r.text)
    r = upload(ben, b"Subject: Ohne Absender\r\n\r\nHallo\r\n")
    problem(r, 422, "an upload without From", "malformed")
    t.ok("sender" in (body(r).get("detail") or "") and "(none)" not in (body(r).get("detail") or ""),
         "the 422 says there is no usable sender address", r)
    count_http("rejected", "malformed")
    r = upload(ben, amail(B, MUELLER, "Falscher Typ", "up5", date(14, 13)), "text/plain")
    problem(r, 415, "an upload as text/plain", "unsupported-media-type")
    big = amail(B, MUELLER, "Zu groß", "up6", date(14, 14), "Zeile mit Text zum Auffüllen.\n" * 45000)
    t.ok(len(big) > MAX_MESSAGE, "the big mail is larger than --max-message-size (test data)", got=len(big))
    r = upload(ben, big)
    problem(r, 413, "an upload larger than --max-message-size", "too-large")
    count_http("rejected", "too-large")
    t.ok("Zu groß" not in [x.get("subject") for x in body(ben.get("/api/v1/me/inbox")).get("items", [])],
         "the too large upload is not stored")
    r = upload(apiclient.Client(ADDR, token=None), up1)
    problem(r, 401, "an upload without login", "unauthenticated")

    full = ids(body(ben.get("/api/v1/me/notifications")).get("items", []))
    t.ok(len(full) >= 2, "ben has several notifications (test data)", got=full)
    found, _ = walk_pages(ben, "/api/v1/me/notifications", 1, "ben's notifications by 1")
    t.eq(found, full, "notification pages by 1 are the whole list, newest first, no duplicates or gaps")
    t.eq(full, sorted(full, reverse=True), "notifications are newest first")

    # ---- body limits and malformed requests ------------------------------------------------------------------
    hdr = {"Cookie": "cl_session=" + anna.cookie, "X-CSRF-Token": anna.csrf, "Content-Type": "application/json"}
    huge = json.dumps({"name": "X" * (1024 * 1024 + 10)}).encode()
    r = raw_request("POST", "/api/v1/companies", huge, hdr)
    problem(r, 413, "a JSON body over 1 MB (Content-Length)", "too-large")
    r = raw_request("POST", "/api/v1/companies", huge, hdr, chunked=True)
    problem(r, 413, "a JSON body over 1 MB (chunked)", "too-large")
    t.ok(not any(c.get("name", "").startswith("XXXX") for c in
                 body(anna.get("/api/v1/companies?limit=200")).get("items", [])), "the too large body made nothing")
    r = raw_request("PATCH", "/api/v1/me", b'{"locale": "en",', hdr)
    problem(r, 400, "invalid JSON", "bad-json")
    r = raw_request("PATCH", "/api/v1/me", b'["locale"]', hdr)
    problem(r, 400, "a JSON array where an object belongs", "bad-json")
    r = raw_request("PATCH", "/api/v1/me", b'{"locale": "en"}', dict(hdr, **{"Content-Type": "text/plain"}))
    problem(r, 415, "a JSON body sent as text/plain", "unsupported-media-type")
    t.eq((body(anna.get("/api/v1/me")).get("user") or {}).get("locale"), "de", "the refused bodies changed nothing")

    # ---- /metrics ----------------------------------------------------------------------------------------------
    st(anon.get("/healthz"), 200, "GET /healthz again")
    healthz_calls += 1
    deadline = time.monotonic() + 3
    while True:
        r, mx = metrics()
        got_h = mx.get(("contactlog_http_requests_total",
                        frozenset({("method", "GET"), ("route", "/healthz"), ("status", "200")})))
        if got_h == healthz_calls or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    st(r, 200, "GET /metrics")
    t.ok((r.header("Content-Type") or "").startswith("text/plain"), "/metrics is text/plain (Prometheus)",
         got=r.header("Content-Type"))
    t.eq(got_h, healthz_calls, "/metrics counts the GET /healthz requests")
    got_405 = mx.get(("contactlog_http_requests_total",
                      frozenset({("method", "DELETE"), ("route", "none"), ("status", "405")})))
    t.eq(got_405, 1, "/metrics counts the 405 of DELETE /api/v1/me")
    logins = mx.get(("contactlog_http_requests_total",
                     frozenset({("method", "POST"), ("route", "/api/v1/session"), ("status", "429")})))
    t.eq(logins, 2, "/metrics counts the two throttled logins")
    for (status, reason), n in sorted(lmtp_counts.items(), key=str):
        labels = {("source", "lmtp"), ("status", status)} | ({("reason", reason)} if reason else set())
        t.eq(mx.get(("contactlog_mails_total", frozenset(labels))), n,
             f"/metrics counts the LMTP mails ({status} {reason or ''})")
    for (status, reason), n in sorted(http_counts.items(), key=str):
        labels = {("source", "http"), ("status", status)} | ({("reason", reason)} if reason else set())
        t.eq(mx.get(("contactlog_mails_total", frozenset(labels))), n,
             f"/metrics counts the uploaded mails ({status} {reason or ''})")


def secure_cookies():
    """With http.secure_cookies (a TLS proxy in front) the session cookie is Secure."""
    srv2 = cltest.Server(t, d, ["--lmtp", "127.0.0.1:0", "--http", "127.0.0.1:0"],
                         env={"CONTACTLOG_SECURE_COOKIES": "true"}).start()
    try:
        r = apiclient.Client(srv2.address("http")).login(*BEN)
        st(r, 201, "login at a server with secure_cookies")
        sc = [v for v in r.all_headers("Set-Cookie") if v.startswith("cl_session=")]
        t.ok(len(sc) == 1 and "secure" in [p.strip().lower() for p in sc[0].split(";")],
             "with secure_cookies the session cookie is Secure", got=sc)
    finally:
        t.eq(srv2.stop(), 0, "the second server exits 0 on SIGTERM")


try:
    main()
    secure_cookies()
finally:
    rc = srv.stop()
    t.eq(rc, 0, "serve exits 0 on SIGTERM")
t.finish()
