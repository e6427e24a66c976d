#!/usr/bin/env python3
"""t-api-security: what a security test of the HTTP API found, each checked over real HTTP
against `contactlog serve --http` (with http.trust_proxy, so that each part comes from a client
address of its own, X-Forwarded-For, and the throttling of one part does not touch another):

1. who a token or a session cookie is, kept in memory for ten seconds, is kept apart by kind:
   with the cache warm, a token sent as the cookie is no session (401, also for a POST with an
   X-CSRF-Token, which used to crash the server), a session cookie sent as a Bearer token is no
   token (401) — and the server is alive afterwards;
2. a login with the "address" user:ID does not throttle that user's password change;
3. the account of login throttling is the user, whichever of their addresses is given (5
   failures in all, not 5 per address; an address of nobody waits after 5 too); of 24 parallel
   wrong logins only 5 are evaluated;
4. a new password — the user's own (PUT /me/password), the admin's (PATCH
   /admin/users/{id}), `contactlog passwd` — ends the user's other sessions and revokes their
   API tokens; deactivating a user ends both for good (reactivating brings none back), and
   their mail is refused as unknown-sender while they are deactivated;
5. names of base64 attachments in JSON are cleaned as a form's file names are;
6. a JSON body is held to 1 MiB on the routes that also take forms (POST /entries,
   POST /entries/{id}/attachments); files go in multipart/form-data;
7. contact times outside 1970-01-02 … 9999-12-31 are 422 (POST and PATCH), years are written
   with four digits;
8. the 405 answer is JSON whatever the method is;
9. a string with a NUL character in a JSON body is 422, never the record named by its start.
"""
import base64
import http.client
import json
import socket
import sys
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import apiclient  # noqa: E402
import cltest  # noqa: E402

t = cltest.Test(__file__)
d = t.data_dir()
srv = cltest.Server(t, d, ["--lmtp", "127.0.0.1:0", "--http", "127.0.0.1:0"],
                    env={"CONTACTLOG_TRUST_PROXY": "true"}).start()
ADDR = srv.address("http")

ANNA = ("anna.berg@alpha-agentur.example", "test-anna")      # admin of alpha, two addresses
ANNA_PRIVATE = "anna.privat@freemail.example"
BEN = ("ben.kaya@alpha-agentur.example", "test-ben")
CARLA = ("carla.diaz@alpha-agentur.example", "test-carla")
DORA = ("dora.engel@alpha-mail.example", "test-dora")
JONAS = ("jonas.petersen@beta-design.example", "test-jonas")  # admin of beta
ERIK = ("erik.lund@beta-design.example", "test-erik")


class Client(apiclient.Client):
    """A client of its own address (X-Forwarded-For); a request that gets no answer at all
    (the server died) is a Response with status 0."""

    def __init__(self, client_ip, token=None):
        super().__init__(ADDR, token=token)
        self.client_ip = client_ip

    def request(self, method, path, headers=None, **kw):
        h = dict(headers or {})
        h.setdefault("X-Forwarded-For", self.client_ip)
        try:
            return super().request(method, path, headers=h, **kw)
        except (OSError, http.client.HTTPException) as x:
            return apiclient.Response(0, [], f"no answer: {x!r}".encode())


def st(r, want, what):
    return t.ok(r.status == want, f"{what}: HTTP {want}", got=f"{r.status} {r.text[:400]}", wanted=want)


def body(r):
    return r.json if isinstance(r.json, dict) else {}


def problem(r, status, what, code=None, detail_has=None):
    good = st(r, status, what)
    j = body(r)
    if code is not None:
        good &= t.eq(j.get("code"), code, f"{what}: problem code")
    if detail_has is not None:
        good &= t.ok(detail_has in (j.get("detail") or ""), f"{what}: the detail names {detail_has!r}",
                     got=j.get("detail"))
    return good


def login(who, ip):
    c = Client(ip)
    st(c.login(*who), 201, f"login {who[0]} ({ip})")
    return c


def alive(what):
    r = Client("10.0.0.1").get("/healthz")
    t.ok(r.status == 200 and srv.proc.poll() is None, f"{what}: the server is alive (GET /healthz)",
         got=f"{r.status} {r.text[:200]} exit={srv.proc.poll()}")


def token_of(c, name):
    r = c.post("/api/v1/me/tokens", {"name": name})
    st(r, 201, f"make a token {name!r}")
    return body(r).get("token") or "clt_none"


def user_id(admin, key):
    items = body(admin.get(f"/api/v1/admin/users?q={key}")).get("items", [])
    found = [u.get("id") for u in items if u.get("key") == key]
    t.ok(len(found) == 1, f"the admin finds user {key}", got=items)
    return found[0] if found else 0


def new_entry(c, what, **fields):
    r = c.post("/api/v1/entries", dict({"channel": "phone", "subject": what}, **fields))
    st(r, 201, what)
    return body(r)


anna = login(ANNA, "10.0.0.2")  # before anna's logins are throttled (part 3)
jonas = login(JONAS, "10.0.0.2")

# ---- 1. a token is no session cookie, a session cookie no token (cache warm) ------------------
ben = login(BEN, "10.0.1.1")
tok = token_of(ben, "cache")
bearer = Client("10.0.1.1", token=tok)
st(bearer.get("/api/v1/me"), 200, "the token works")  # notes its use: one commit
for i in range(3):  # nothing committed from here on: both are kept in memory
    st(bearer.get("/api/v1/me"), 200, f"GET /me with the token #{i + 1} (warms the cache)")
    r = ben.get("/api/v1/me")
    st(r, 200, f"GET /me with the cookie #{i + 1} (warms the cache)")
t.eq(body(r).get("csrf_token"), ben.csrf, "the session's CSRF token")

as_cookie = Client("10.0.1.1")
as_cookie.cookie = tok
r = as_cookie.get("/api/v1/me")
problem(r, 401, "the token sent as the cl_session cookie (GET /me)", "unauthenticated")
t.ok("csrf_token" not in r.text, "… and no answer with \"csrf_token\": null", got=r.text[:300])
r = as_cookie.get("/api/v1/session")
t.eq(body(r).get("authenticated"), False, "GET /session with the token as cookie: not logged in")
r = as_cookie.patch("/api/v1/me", {"locale": "en"}, headers={"X-CSRF-Token": "x"})
problem(r, 401, "PATCH /me with the token as cookie and an X-CSRF-Token", "unauthenticated")
r = as_cookie.post("/api/v1/entries", {"channel": "phone", "subject": "Cookie-Verwechslung"},
                   headers={"X-CSRF-Token": "anything"})
problem(r, 401, "POST /entries with the token as cookie and an X-CSRF-Token", "unauthenticated")
alive("after the token was sent as a cookie")

as_bearer = Client("10.0.1.1", token=ben.cookie)
problem(as_bearer.get("/api/v1/me"), 401, "the session cookie sent as a Bearer token (GET /me)",
        "unauthenticated")
problem(as_bearer.patch("/api/v1/me", {"locale": "en"}), 401,
        "PATCH /me with the session cookie as a Bearer token, without CSRF token", "unauthenticated")
t.eq((body(ben.get("/api/v1/me")).get("user") or {}).get("locale"), "de",
     "the refused PATCH changed nothing")
st(bearer.get("/api/v1/me"), 200, "the token still works as a token")
st(ben.patch("/api/v1/me", {"locale": "de"}), 200, "the cookie still works with its CSRF token")
problem(ben.patch("/api/v1/me", {"locale": "de"}, csrf=False), 403,
        "the cookie without its CSRF token", "csrf")
alive("after the confusions")

# ---- 2. a login as "user:ID" does not throttle that user's password change --------------------
carla = login(CARLA, "10.0.2.1")
carla_id = (body(carla.get("/api/v1/me")).get("user") or {}).get("id")
for i in range(6):
    r = Client("10.0.2.2").login(f"user:{carla_id}", f"guess-{i}")
    t.ok(r.status in (401, 429), f"a login as \"user:{carla_id}\" #{i + 1} fails", got=r.status)
r = carla.put("/api/v1/me/password", {"current": CARLA[1], "new": "carla-neu-12345"})
st(r, 204, "carla's password change with the right password, after those logins")
CARLA = (CARLA[0], "carla-neu-12345")

# ---- 3. the account of throttling is the user; parallel guesses ---------------------------------
for i in range(5):
    st(Client("10.0.3.1").login(ANNA[0], f"falsch-{i}"), 401, f"anna: wrong password #{i + 1}")
r = Client("10.0.3.2").login(ANNA_PRIVATE, "falsch-5")
problem(r, 429, "anna's other address after 5 failures with the first", "throttled")
r = Client("10.0.3.3").login(ANNA_PRIVATE, ANNA[1])
problem(r, 429, "… also with the right password", "throttled")
for i in range(5):
    st(Client("10.0.3.4").login("niemand@alpha-agentur.example", f"x-{i}"), 401,
       f"an address of nobody: failure #{i + 1}")
problem(Client("10.0.3.4").login("niemand@alpha-agentur.example", "x-5"), 429,
        "an address of nobody waits after 5 failures too", "throttled")
st(anna.get("/api/v1/me"), 200, "anna's session (made before) goes on")

results = []
lock = threading.Lock()


def guess(i):
    r = Client(f"10.0.4.{i + 1}").login(JONAS[0], f"parallel-{i}")
    with lock:
        results.append(r.status)


threads = [threading.Thread(target=guess, args=(i,)) for i in range(24)]
for th in threads:
    th.start()
for th in threads:
    th.join()
t.eq(sorted(results), [401] * 5 + [429] * 19,
     "24 parallel wrong logins of jonas (24 addresses): 5 evaluated (401), 19 wait (429)")
st(jonas.get("/api/v1/me"), 200, "jonas's session (made before) goes on")

# ---- 4. a new password ends sessions and revokes tokens; so does deactivation -------------------
dora_id = user_id(anna, "dora")
dora = login(DORA, "10.0.5.1")
dora_tok = token_of(dora, "dora")
st(anna.patch(f"/api/v1/admin/users/{dora_id}", {"active": False}), 200, "anna deactivates dora")
problem(Client("10.0.5.1", token=dora_tok).get("/api/v1/me"), 401, "dora's token while deactivated")


def dora_mail(n):
    m = cltest.mail([("From", DORA[0]), ("To", "kunde@example.org"), ("Bcc", cltest.DROP),
                     ("Subject", f"Nachfass {n}"), ("Message-ID", f"<dora-{n}@alpha-mail.example>"),
                     ("Date", "Mon, 02 Nov 2026 09:20:00 +0100")])
    return t.one_line(t.deliver(m, d), f"deliver dora's mail {n}") or {}


res = dora_mail(1)
t.eq((res.get("status"), res.get("reason")), ("rejected", "unknown-sender"),
     "the mail of a deactivated user is refused (unknown-sender), not kept for an inbox nobody opens")
st(anna.patch(f"/api/v1/admin/users/{dora_id}", {"active": True}), 200, "anna reactivates dora")
problem(dora.get("/api/v1/me"), 401, "dora's session after deactivation and reactivation",
        "unauthenticated")
problem(Client("10.0.5.1", token=dora_tok).get("/api/v1/me"), 401,
        "dora's token after deactivation and reactivation", "unauthenticated")
t.eq(body(login(DORA, "10.0.5.1").get("/api/v1/me/tokens")).get("items"), [],
     "dora's token list is empty")
t.eq(dora_mail(2).get("status"), "pending", "reactivated, dora's mail is captured again")

ben2 = login(BEN, "10.0.6.1")
ben_tok = token_of(ben, "before the new password")
st(Client("10.0.6.1", token=ben_tok).get("/api/v1/me"), 200, "ben's new token works")
r = ben.put("/api/v1/me/password", {"current": BEN[1], "new": "ben-neu-123456"})
st(r, 204, "ben changes his password")
BEN = (BEN[0], "ben-neu-123456")
st(ben.get("/api/v1/me"), 200, "the session that changed it goes on")
problem(ben2.get("/api/v1/me"), 401, "ben's other session ends", "unauthenticated")
problem(Client("10.0.6.1", token=ben_tok).get("/api/v1/me"), 401, "ben's token is revoked",
        "unauthenticated")
problem(bearer.get("/api/v1/me"), 401, "ben's older token is revoked too", "unauthenticated")
t.eq(body(ben.get("/api/v1/me/tokens")).get("items"), [], "ben's token list is empty")
st(Client("10.0.6.1").login(*BEN), 201, "the new password logs in")

erik_id = user_id(jonas, "erik")
erik = login(ERIK, "10.0.6.2")
erik_tok = token_of(erik, "erik")
r = jonas.patch(f"/api/v1/admin/users/{erik_id}", {"password": "erik-vom-admin-1"})
st(r, 200, "jonas (admin) sets erik's password")
problem(erik.get("/api/v1/me"), 401, "erik's session ends with the admin's new password")
problem(Client("10.0.6.2", token=erik_tok).get("/api/v1/me"), 401,
        "erik's token is revoked by the admin's new password", "unauthenticated")
st(Client("10.0.6.2").login(ERIK[0], "erik-vom-admin-1"), 201, "the admin's password logs in")
st(jonas.get("/api/v1/me"), 200, "the admin's own session goes on")

carla_tok = token_of(carla, "carla")
st(Client("10.0.6.3", token=carla_tok).get("/api/v1/me"), 200, "carla's token works")
st(carla.get("/api/v1/me"), 200, "carla's session works")
r = t.run(["passwd", "--user", "carla"], data_dir=d, input="carla-von-der-shell\n")
t.exit_status(r, 0, "contactlog passwd --user carla")
problem(carla.get("/api/v1/me"), 401, "carla's session ends with `contactlog passwd`")
problem(Client("10.0.6.3", token=carla_tok).get("/api/v1/me"), 401,
        "carla's token is revoked by `contactlog passwd`", "unauthenticated")
CARLA = (CARLA[0], "carla-von-der-shell")
carla = login(CARLA, "10.0.6.3")

# ---- 5. names of JSON attachments are cleaned like a form's -------------------------------------
B64 = base64.b64encode(b"Inhalt\n").decode()
NAMES = {
    "Rechnung\u202efdp.exe": "Rechnungfdp.exe",
    "a\r\nX-Injected: 1\r\n.txt": "aX-Injected: 1.txt",
    "../../etc/passwd": "passwd",
    "..\\..\\boot.ini": "boot.ini",
    "\u2066Bild\u2069.png": "Bild.png",
    "..": "attachment",
}
LONG = "A" * 5000 + ".pdf"
e = new_entry(ben, "Anhänge mit bösen Namen",
              attachments=[{"name": n, "data": B64} for n in list(NAMES) + [LONG]])
got = [a.get("name") for a in e.get("attachments", [])]
t.eq(got[:-1], list(NAMES.values()), "JSON attachments: names without paths, control and bidi characters")
long_name = got[-1] if got else ""
t.ok(isinstance(long_name, str) and 0 < len(long_name.encode()) <= 200 and long_name.startswith("AAAA"),
     "JSON attachments: a name of 5004 bytes is cut to at most 200", got=len((long_name or "").encode()))
form_ct, form = apiclient.multipart({"entry": json.dumps({"channel": "phone", "subject": "Formular"})},
                                    [("file", "../../etc/passwd", "text/plain", b"x"),
                                     ("file", LONG, "text/plain", b"y")])
r = ben.request("POST", "/api/v1/entries", body=form, content_type=form_ct)
st(r, 201, "the same names in a form")
t.eq([a.get("name") for a in body(r).get("attachments", [])], ["passwd", long_name],
     "a form and JSON clean names alike")
e2 = body(ben.post(f"/api/v1/entries/{e.get('id')}/attachments",
                   {"attachments": [{"name": "x/../Rechnung\u202efdp.exe", "data": B64}]}))
t.ok("Rechnungfdp.exe" in [a.get("name") for a in e2.get("attachments", [])] and
     not any("\u202e" in (a.get("name") or "") for a in e2.get("attachments", [])),
     "POST /entries/{id}/attachments (JSON) cleans the name too", got=e2.get("attachments"))

# ---- 6. JSON on the routes of forms: 1 MiB ---------------------------------------------------------
def raw_post(path, payload, c, chunked=False):
    conn = http.client.HTTPConnection(*ADDR, timeout=60)
    try:
        headers = {"Content-Type": "application/json", "Cookie": "cl_session=" + c.cookie,
                   "X-CSRF-Token": c.csrf, "X-Forwarded-For": c.client_ip}
        if chunked:
            conn.request("POST", path, body=iter([payload[i:i + 65536]
                                                  for i in range(0, len(payload), 65536)]),
                         headers=headers, encode_chunked=True)
        else:
            conn.request("POST", path, body=payload, headers=headers)
        resp = conn.getresponse()
        return apiclient.Response(resp.status, resp.getheaders(), resp.read())
    except (OSError, http.client.HTTPException) as x:
        return apiclient.Response(0, [], f"no answer: {x!r}".encode())
    finally:
        conn.close()


big = base64.b64encode(b"\x00" * (1024 * 1024)).decode()  # 1.33 MiB as base64
big_body = json.dumps({"channel": "phone", "subject": "Zu groß als JSON",
                       "attachments": [{"name": "gross.bin", "data": big}]}).encode()
problem(raw_post("/api/v1/entries", big_body, ben), 413,
        "POST /entries: JSON of 1.33 MiB (Content-Length)", "too-large")
problem(raw_post("/api/v1/entries", big_body, ben, chunked=True), 413,
        "POST /entries: JSON of 1.33 MiB (chunked)", "too-large")
big_add = json.dumps({"attachments": [{"name": "gross.bin", "data": big}]}).encode()
problem(raw_post(f"/api/v1/entries/{e.get('id')}/attachments", big_add, ben), 413,
        "POST /entries/{id}/attachments: JSON of 1.33 MiB", "too-large")
t.ok("Zu groß als JSON" not in [x.get("subject") for x in
                                body(ben.get("/api/v1/me/inbox?state=own")).get("items", [])],
     "the refused JSON made no entry")
small = base64.b64encode(b"\x01" * (512 * 1024)).decode()
r = ben.post("/api/v1/entries", {"channel": "phone", "subject": "Halbes MiB als JSON",
                                 "attachments": [{"name": "halb.bin", "data": small}]})
st(r, 201, "POST /entries: JSON of 0.7 MiB is fine")
form_ct, form = apiclient.multipart({"entry": json.dumps({"channel": "phone", "subject": "Groß"})},
                                    [("file", "gross.bin", "application/octet-stream",
                                      b"\x00" * (2 * 1024 * 1024))])
r = ben.request("POST", "/api/v1/entries", body=form, content_type=form_ct)
st(r, 201, "POST /entries: a file of 2 MiB in multipart/form-data")
t.eq([a.get("size") for a in body(r).get("attachments", [])], [2 * 1024 * 1024],
     "the 2 MiB file is stored")

# ---- 7. contact times ------------------------------------------------------------------------------
for when in ("1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "1969-12-31T23:00:00Z",
             "1970-01-01T23:59:59Z"):
    r = ben.post("/api/v1/entries", {"channel": "phone", "subject": f"Zeit {when}", "contact_time": when})
    problem(r, 422, f"POST /entries with contact_time {when}", "invalid", detail_has="contact_time")
edge = new_entry(ben, "Zeit am Rand", contact_time="1970-01-02T00:00:00Z")
t.eq(edge.get("contact_time"), "1970-01-02T00:00:00Z", "contact_time 1970-01-02T00:00:00Z is kept")
late = new_entry(ben, "Zeit am Ende", contact_time="9999-12-31T23:59:59Z")
t.eq(late.get("contact_time"), "9999-12-31T23:59:59Z", "contact_time 9999-12-31T23:59:59Z is kept")
r = ben.patch(f"/api/v1/entries/{edge.get('id')}", {"contact_time": "1970-01-01T00:00:00Z"})
problem(r, 422, "PATCH with contact_time 1970-01-01T00:00:00Z", "invalid", detail_has="contact_time")
t.eq(body(ben.get(f"/api/v1/entries/{edge.get('id')}")).get("contact_time"), "1970-01-02T00:00:00Z",
     "the refused PATCH changed nothing")
# Older times come from elsewhere (`contactlog add --time`): four digits on the way out.
r = t.run(["add", "--user", "ben", "--channel", "phone", "--subject", "Uralt",
           "--time", "0999-06-01T10:00:00Z", "--json"], data_dir=d)
t.exit_status(r, 0, "contactlog add --time 0999-06-01T10:00:00Z")
old_id = (r.json() or {}).get("id")
t.eq(body(ben.get(f"/api/v1/entries/{old_id}")).get("contact_time"), "0999-06-01T10:00:00Z",
     "a contact time of the year 999 is written with four digits")
t.ok(old_id in [x.get("id") for x in body(ben.get("/api/v1/me/inbox?state=own&limit=200")).get("items", [])],
     "… and listed in the own history")

# ---- 8. 405 with any method is JSON ------------------------------------------------------------------
def raw_request(request):
    """One request as bytes on a connection of its own: (the head as text, the body)."""
    with socket.create_connection(ADDR, timeout=30) as s:
        s.sendall(request)
        data = b""
        while True:
            piece = s.recv(65536)
            if not piece:
                break
            data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.decode("latin-1"), rest


def raw_method(method):
    return raw_request(method + b" /api/v1/me HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.0.8.1\r\n"
                       b"Connection: close\r\n\r\n")


for method in (b'X"}', b'BREW\\', b'Q"\x01'):
    head, rest = raw_method(method)
    t.ok(head.startswith("HTTP/1.1 405") or head.startswith("HTTP/1.1 400"),
         f"method {method!r}: 405 (or 400)", got=head[:200])
    if head.startswith("HTTP/1.1 405"):
        try:
            j = json.loads(rest.decode("utf-8"))
        except ValueError:
            j = None
        t.ok(isinstance(j, dict) and j.get("code") == "method-not-allowed" and j.get("status") == 405,
             f"method {method!r}: the 405 body is a JSON problem", got=rest[:300])
metrics = Client("10.0.8.1").get("/metrics").text
t.ok('method="X"}' not in metrics, "the method does not break a label in /metrics",
     got=[line for line in metrics.splitlines() if "X\"" in line][:3])
alive("after the odd methods")

# ---- 9. NUL characters in JSON strings ------------------------------------------------------------
r = ben.post("/api/v1/entries", {"channel": "phone", "subject": "NUL-Firma", "company": "acme\u0000zzz"})
problem(r, 422, "POST /entries with \"company\": \"acme\\u0000zzz\"", "invalid", detail_has="company")
r = ben.post("/api/v1/entries", {"channel": "phone", "subject": "NUL-Kontakt",
                                 "contacts": ["jmueller\u0000x"]})
problem(r, 422, "POST /entries with a contact \"jmueller\\u0000x\"", "invalid", detail_has="contacts")
r = ben.post("/api/v1/entries", {"channel": "phone", "subject": "NUL-Anhang",
                                 "attachments": [{"name": "a\u0000.exe", "data": B64}]})
problem(r, 422, "POST /entries with an attachment name holding NUL", "invalid",
        detail_has="attachments[0].name")
t.ok(not any(x.get("subject", "").startswith("NUL-") for x in
             body(ben.get("/api/v1/me/inbox?state=own&limit=200")).get("items", [])),
     "the refused entries made nothing")
r = Client("10.0.9.1").login(ANNA[0] + "\u0000zzz", "x")
problem(r, 422, "a login with a NUL in the address", "invalid")
r = Client("10.0.9.1").post("/api/v1/session", {"email": DORA[0], "password": DORA[1] + "\u0000x"})
problem(r, 422, "a login with a NUL in the password", "invalid")
r = anna.patch(f"/api/v1/admin/users/{dora_id}", {"name": "Dora\u0000 Engel"})
problem(r, 422, "PATCH /admin/users/{id} with a NUL in the name", "invalid", detail_has="name")
form_ct, form = apiclient.multipart({"entry": json.dumps({"channel": "phone", "subject": "NUL-Form",
                                                          "company": "acme\u0000zzz"})})
r = ben.request("POST", "/api/v1/entries", body=form, content_type=form_ct)
problem(r, 422, "a form's \"entry\" field with \"company\": \"acme\\u0000zzz\"", "invalid",
        detail_has="company")
for q in ("limit=%00", "limit=5%0010", "q=acme%00zzz", "x%00y=1"):
    path = "/api/v1/search?" + q if q.startswith("q=") else "/api/v1/me/inbox?" + q
    problem(ben.get(path), 400, f"GET {path}: a NUL in the query", "bad-request", detail_has="NUL")
st(ben.get("/api/v1/me/inbox?limit=5"), 200, "… and the same without it: 200")

# ---- 10. bytes that are not UTF-8 where an answer repeats them -------------------------------------
# A problem's detail may repeat the path, a form field's name or a key; jansson takes no string that
# is not UTF-8, and the server once died of it (one request, no login needed).
for method, path in ((b"GET", b"/api/%FF"), (b"DELETE", b"/%C3%28"), (b"GET", b"/api/v1/x%C3")):
    head, rest = raw_request(method + b" " + path + b" HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.0.10.1\r\n"
                             b"Connection: close\r\n\r\n")
    try:
        j = json.loads(rest.decode("utf-8"))
    except ValueError:
        j = None
    t.ok(head[9:12] in ("404", "405") and isinstance(j, dict) and j.get("status") in (404, 405),
         f"{method.decode()} {path.decode()}: 404 (or 405) as a JSON problem", got=(head[:100], rest[:200]))
    alive(f"after {method.decode()} {path.decode()}")
for q in ("company=%FF", "q=%FF", "q=b%C3%A4%FF"):
    problem(ben.get("/api/v1/contacts?" + q), 400, f"GET /contacts?{q}: not UTF-8", "bad-request",
            detail_has="UTF-8")
st(ben.get("/api/v1/contacts?q=b%C3%A4cker"), 200, "… and ?q=bäcker: 200")
cookie = f"cl_session={ben.cookie}".encode()
for name, value in ((b"\xff\xfe", b"x"), (b"\xff", b"y" * (1024 * 1024 + 10))):
    payload = (b"--b\r\nContent-Disposition: form-data; name=\"" + name + b"\"\r\n\r\n" + value +
               b"\r\n--b--\r\n")
    head, rest = raw_request(b"POST /api/v1/entries HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.0.10.2\r\n"
                             b"Cookie: " + cookie + b"\r\nX-CSRF-Token: " + ben.csrf.encode() + b"\r\n"
                             b"Content-Type: multipart/form-data; boundary=b\r\n"
                             b"Content-Length: " + str(len(payload)).encode() + b"\r\nConnection: close\r\n\r\n"
                             + payload)
    try:
        j = json.loads(rest.decode("utf-8"))
    except ValueError:
        j = None
    t.ok(head[9:10] == "4" and isinstance(j, dict) and j.get("code") in ("bad-request", "too-large", "invalid"),
         f"a form field named {name!r} ({len(value)} bytes): 4xx as a JSON problem", got=(head[:100], rest[:200]))
    alive(f"after the form field named {name!r}")

alive("at the end")
srv.stop()
t.finish()
