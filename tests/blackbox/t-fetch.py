#!/usr/bin/env python3
"""t-fetch: `contactlog fetch` against a real Dovecot IMAP server on loopback (docs/mta.md).
Mail in the mailbox is captured with one result line per message, lands in the right inbox
with the right lead, is then marked $ContactlogCaptured (checked with imaplib) and not fetched
again; --move-to moves it (the folder is created), --delete deletes it, also on a server
without MOVE and UIDPLUS; rejected mail (unknown sender, too large) is marked too and listed
by `rejected`; a locked database leaves the mail unmarked (exit 75) for the next run; a
process killed between commit and marking (CONTACTLOG_TEST_FETCH_DIE_AFTER) loses nothing and
stores nothing twice; a wrong password, a closed port and a missing mailbox exit 75 with one
sentence; --interval polls until SIGTERM and logs a key=value line per pass."""
import base64
import imaplib
import os
import re
import signal
import socketserver
import sqlite3
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
import cltest  # noqa: E402
import mtahost  # noqa: E402
from cltest import free_port, mail  # noqa: E402

t = cltest.Test(__file__)
ANNA = "anna.berg@alpha-agentur.example"
MUELLER = "j.mueller@acme-maschinen.example"
KEYWORD = "$ContactlogCaptured"
USERS = ["crm", "rej", "mover", "deleter", "locker", "dier", "poller", "plain"]

try:
    dc = mtahost.Dovecot(t.tmpdir("dovecot"), lmtp_port=0, users={u: "secret" for u in USERS})
    dc.start()
    # A server without MOVE (RFC 6851) and UIDPLUS (RFC 4315): the COPY/EXPUNGE way.
    dc_old = mtahost.Dovecot(t.tmpdir("dovecot-old"), lmtp_port=0, users={"old": "secret"},
                             extra="imap_capability = IMAP4rev1 SASL-IR LITERAL+ IDLE\n")
    dc_old.start()
except mtahost.Unavailable as x:
    t.skip(f"Dovecot not usable here: {x}")

_n = 0


def msg(subject, mid=True, sender=ANNA, body="Hallo Herr Müller,\n\nanbei das Angebot.\n\nGruß\n"):
    global _n
    _n += 1
    headers = [("From", f"Anna Berg <{sender}>"), ("To", f"Jürgen Müller <{MUELLER}>"),
               ("Subject", subject), ("Date", "Thu, 03 Dec 2026 10:00:00 +0100")]
    if mid:
        headers.append(("Message-ID", f"<fetch-{_n}@imap.test>"))
    return mail(headers, body=body)


def put(user, messages, server=None):
    """Deliver messages (bytes) to the user's INBOX, in order (UIDs 1, 2, …)."""
    server = server or dc
    for m in messages:
        path = os.path.join(server.workdir, "in.eml")
        with open(path, "wb") as f:
            f.write(m)
        server.deliver_file(user, path)


def imap(user, server=None):
    c = imaplib.IMAP4("127.0.0.1", (server or dc).imap_port, timeout=30)
    c.login(user, "secret")
    return c


def flags(user, mailbox="INBOX", server=None):
    """{uid: set of flags} of a mailbox (EXAMINE: looking changes nothing)."""
    c = imap(user, server)
    try:
        typ, _ = c.select(mailbox, readonly=True)
        if typ != "OK":
            return None
        typ, data = c.uid("FETCH", "1:*", "(FLAGS)")
        out = {}
        for item in data or []:
            if not isinstance(item, bytes):
                continue
            uid = re.search(rb"UID (\d+)", item)
            fl = re.search(rb"FLAGS \(([^)]*)\)", item)
            if uid and fl:
                out[int(uid.group(1))] = set(fl.group(1).decode().split())
        return out
    finally:
        c.logout()


def fetch(user, d, *extra, env=None, mailbox="INBOX", server=None, password="secret", timeout=120):
    e = {"CONTACTLOG_IMAP_PASSWORD": password} if password is not None else {}
    e.update(env or {})
    url = f"imap://127.0.0.1:{(server or dc).imap_port}/{mailbox}"
    return t.run(["fetch", "--url", url, "--user", user] + list(extra), data_dir=d, env=e,
                 timeout=timeout)


SUMMARY = re.compile(r"(\d+) messages: (\d+) pending, (\d+) saved, (\d+) duplicate, (\d+) rejected"
                     r"(?: \(([^)]*)\))?, (\d+) not stored")


def summary(r):
    m = SUMMARY.search(r.err)
    return tuple(int(m.group(i)) for i in (1, 2, 3, 4, 5, 7)) if m else None


def inbox(d):
    r = t.run(["inbox", "--user", "anna", "--json", "--limit", "100000"], data_dir=d)
    return r.json() or [] if r.rc == 0 else []


def clean(r, what):
    """No sanitizer report and no crash."""
    t.no_crash(r, what)
    for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "CRITICAL"):
        t.ok(marker not in r.err, f"{what}: no {marker!r} on stderr", r)


def origin_ok(line, uid, mailbox="INBOX"):
    return re.fullmatch(rf"imap:{re.escape(mailbox)};UIDVALIDITY=\d+;UID={uid}",
                        str(line.get("origin"))) is not None


# ---- 1. capture, mark, nothing twice --------------------------------------------------
d = t.data_dir()
big_body = "".join(f"Zeile {i}: Protokoll der Besprechung, Punkt für Punkt.\n" for i in range(8000))
mails = [msg("Angebot Lead 11111"), msg("Entwurf Logo 11112"),
         msg("Protokoll 11111", body=big_body)]  # > session_memory: spooled to tmp/
put("crm", mails)
pw = os.path.join(t.tmpdir("secret"), "imap-password")
with open(pw, "w") as f:
    f.write("secret\n")
r = fetch("crm", d, "--password-file", pw, password=None)
clean(r, "fetch 3 mails")
t.exit_status(r, 0, "fetch 3 mails")
lines = r.lines()
t.eq(len(lines), 3, "fetch 3 mails: one result line per message", r)
for i, line in enumerate(lines, 1):
    t.result_shape(line, f"fetch 3 mails: line {i}", r)
    t.eq(line.get("status") if line else None, "pending", f"fetch 3 mails: line {i} pending", r)
    t.ok(line and origin_ok(line, i), f"fetch 3 mails: line {i} names imap:INBOX;UIDVALIDITY=V;UID={i}",
         r, got=line and line.get("origin"))
t.eq(summary(r), (3, 3, 0, 0, 0, 0), "fetch 3 mails: summary on stderr", r)
got = {e["subject"]: e for e in inbox(d)}
t.eq(sorted(got), sorted(["Angebot Lead 11111", "Entwurf Logo 11112", "Protokoll 11111"]),
     "fetch 3 mails: all in anna's inbox")
for subject, lead in [("Angebot Lead 11111", "11111"), ("Entwurf Logo 11112", "11112"),
                      ("Protokoll 11111", "11111")]:
    e = got.get(subject) or {}
    t.eq((e.get("lead") or {}).get("number"), lead, f"fetch 3 mails: {subject!r} has lead {lead}")
    t.eq((e.get("company") or {}).get("key"), "acme", f"fetch 3 mails: {subject!r} is acme's")
for line, m in zip(lines, mails):
    if line and line.get("entry"):
        # Dovecot serves CRLF; what is stored is the mail as delivered (LF), like LMTP.
        t.check_stored(line["entry"], d, "raw", None, m, f"entry {line['entry']}: original stored")
fl = flags("crm")
t.eq(sorted(fl), [1, 2, 3], "fetch 3 mails: still in INBOX")
t.ok(all(KEYWORD in f and "\\Seen" in f for f in fl.values()),
     f"fetch 3 mails: every message carries {KEYWORD} and \\Seen", got=fl)
r = fetch("crm", d, "--password-file", pw, password=None)
t.exit_status(r, 0, "second fetch")
t.eq(len(r.lines()), 0, "second fetch: nothing fetched again", r)
t.eq(summary(r), (0, 0, 0, 0, 0, 0), "second fetch: summary says 0 messages", r)
t.eq(len(inbox(d)), 3, "second fetch: still 3 entries")
spool = os.path.join(d, "tmp")
t.eq(os.listdir(spool) if os.path.isdir(spool) else [], [], "no spool file left in tmp/")

# ---- 2. rejected mail is marked too: unknown sender, too large ------------------------
d2 = t.data_dir()
huge = msg("Lead 11111 mit Anhang", body="x" * 70 + "\n" + ("Daten " * 12 + "\n") * 3000)
put("rej", [msg("Lead 11111", sender="nobody@alpha-agentur.example"), huge, msg("Logo 11112")])
r = fetch("rej", d2, "--max-message-size", "100K")
clean(r, "fetch rejected mail")
t.exit_status(r, 0, "fetch rejected mail (a result for every message)")
lines = r.lines()
t.eq([(x or {}).get("status") for x in lines], ["rejected", "rejected", "pending"],
     "fetch rejected mail: statuses", r)
t.eq([(x or {}).get("reason") for x in lines], ["unknown-sender", "too-large", None],
     "fetch rejected mail: reasons", r)
for i, line in enumerate(lines, 1):
    t.result_shape(line, f"fetch rejected mail: line {i}", r)
t.eq(summary(r), (3, 1, 0, 0, 2, 0), "fetch rejected mail: summary", r)
t.ok("too-large 1" in r.err and "unknown-sender 1" in r.err,
     "fetch rejected mail: summary names the reasons", r)
fl = flags("rej")
t.ok(len(fl) == 3 and all(KEYWORD in f for f in fl.values()),
     "fetch rejected mail: rejected mail is marked too", got=fl)
rej = {x.get("reason"): x for x in t.rejected(d2)}
t.eq(sorted(rej), ["too-large", "unknown-sender"], "rejected lists both")
t.ok(origin_ok(rej.get("unknown-sender", {}), 1), "rejected: origin of the unknown sender's mail",
     got=rej.get("unknown-sender", {}).get("origin"))
t.eq(rej.get("unknown-sender", {}).get("sender"), "nobody@alpha-agentur.example",
     "rejected: the unknown sender")
t.eq(rej.get("too-large", {}).get("size"), len(huge), "rejected: the size of the too-large mail")
t.eq(rej.get("too-large", {}).get("subject"), "Lead 11111 mit Anhang",
     "rejected: the too-large mail's subject was read from its head")
r = fetch("rej", d2, "--max-message-size", "100K")
t.eq((r.rc, len(r.lines())), (0, 0), "fetch rejected mail again: nothing", r)

# ---- 3. --move-to and --delete ----------------------------------------------------------
d3 = t.data_dir()
put("mover", [msg("Lead 11111 a"), msg("Lead 11111 b")])
r = fetch("mover", d3, "--move-to", "Captured")
clean(r, "fetch --move-to")
t.exit_status(r, 0, "fetch --move-to")
t.eq([(x or {}).get("status") for x in r.lines()], ["pending", "pending"], "fetch --move-to: lines", r)
t.eq(flags("mover"), {}, "fetch --move-to: INBOX is empty")
moved = flags("mover", "Captured")
t.ok(len(moved or {}) == 2, "fetch --move-to: Captured (created by fetch) holds both", got=moved)
r = fetch("mover", d3, "--move-to", "Captured")
t.eq((r.rc, len(r.lines())), (0, 0), "fetch --move-to again: nothing", r)
r = fetch("mover", d3, "--move-to", "inbox")
t.exit_status(r, 78, "fetch --move-to the mailbox itself")

put("deleter", [msg("Lead 11112 c")])
r = fetch("deleter", d3, "--delete")
t.exit_status(r, 0, "fetch --delete")
t.eq([(x or {}).get("status") for x in r.lines()], ["pending"], "fetch --delete: line", r)
t.eq(flags("deleter"), {}, "fetch --delete: INBOX is empty")

# Without MOVE and UIDPLUS: UID COPY, STORE \Deleted, EXPUNGE.
put("old", [msg("Lead 11111 d"), msg("Lead 11111 e")], server=dc_old)
r = fetch("old", d3, "--move-to", "Kontakthistorie übernommen", server=dc_old)
clean(r, "fetch --move-to, server without MOVE")
t.exit_status(r, 0, "fetch --move-to, server without MOVE")
t.eq(len(r.lines()), 2, "fetch --move-to, server without MOVE: lines", r)
t.eq(flags("old", server=dc_old), {}, "fetch --move-to, server without MOVE: INBOX is empty")
c = imap("old", dc_old)
typ, listed = c.list()
c.logout()
names = [re.search(r'(?:"([^"]*)"|(\S+))$', x.decode()) for x in listed or [] if isinstance(x, bytes)]
names = [m.group(1) or m.group(2) for m in names if m]
# RFC 3501 §5.1.3: the server keeps the name in modified UTF-7 (ü is &APw-)
t.ok("Kontakthistorie &APw-bernommen" in names, "the new folder's name is modified UTF-7", got=names)
t.eq(len(flags("old", '"Kontakthistorie &APw-bernommen"', server=dc_old) or {}), 2,
     "fetch --move-to, server without MOVE: the folder holds both")
put("old", [msg("Lead 11112 f")], server=dc_old)
r = fetch("old", d3, "--delete", server=dc_old)
t.eq((r.rc, len(r.lines())), (0, 1), "fetch --delete, server without UIDPLUS", r)
t.eq(flags("old", server=dc_old), {}, "fetch --delete, server without UIDPLUS: INBOX is empty")
t.eq(len(inbox(d3)), 6, "all moved and deleted mail is in the inbox")

# ---- 4. a locked database: exit 75, nothing marked, the next run captures --------------
d4 = t.data_dir()
put("locker", [msg("Lead 11111 gesperrt"), msg("Lead 11112 gesperrt")])
db = sqlite3.connect(os.path.join(d4, "contactlog.db"), isolation_level=None, timeout=30)
db.execute("BEGIN IMMEDIATE")
r = fetch("locker", d4)
db.execute("ROLLBACK")
db.close()
clean(r, "fetch, database locked")
t.exit_status(r, 75, "fetch, database locked")
lines = r.lines()
t.ok(len(lines) == 1 and (lines[0] or {}).get("status") == "error" and
     lines[0].get("reason") == "tempfail",
     "fetch, database locked: one error line, the rest is left for the next run", r)
t.ok(lines and origin_ok(lines[0], 1), "fetch, database locked: the error line names the message", r)
t.ok("not stored" in r.err, "fetch, database locked: says so on stderr", r)
fl = flags("locker")
t.ok(len(fl) == 2 and not any(KEYWORD in f for f in fl.values()),
     "fetch, database locked: nothing marked", got=fl)
t.ok(not any("\\Seen" in f for f in fl.values()),
     "fetch, database locked: the \\Seen the fetch set is cleared again", got=fl)
r = fetch("locker", d4)
t.exit_status(r, 0, "fetch after the lock")
t.eq([(x or {}).get("status") for x in r.lines()], ["pending", "pending"], "fetch after the lock: both", r)
t.ok(all(KEYWORD in f for f in flags("locker").values()), "fetch after the lock: both marked")
t.eq(len(inbox(d4)), 2, "fetch after the lock: 2 entries")

# ---- 5. killed between commit and mark: nothing lost, nothing twice --------------------
d5 = t.data_dir()
# The 2nd has no Message-ID: found again by its content (DESIGN rule 9).
die_mails = [msg("Lead 11111 eins"), msg("Lead 11111 zwei", mid=False), msg("Lead 11111 drei"),
             msg("Lead 11111 vier")]
put("dier", die_mails)
r = fetch("dier", d5, env={"CONTACTLOG_TEST_FETCH_DIE_AFTER": "2"})
t.eq(r.rc, 9, "fetch killed after the 2nd commit (test hook)", r)
t.eq([(x or {}).get("status") for x in r.lines()], ["pending", "pending"],
     "fetch killed: two results before it died", r)
fl = flags("dier")
t.ok([KEYWORD in fl.get(u, set()) for u in (1, 2, 3, 4)] == [True, False, False, False],
     "fetch killed: only the 1st is marked", got=fl)
r = fetch("dier", d5)
clean(r, "fetch after the kill")
t.exit_status(r, 0, "fetch after the kill")
lines = r.lines()
t.eq([(x or {}).get("status") for x in lines], ["duplicate", "pending", "pending"],
     "fetch after the kill: the 2nd comes back as duplicate, then the rest", r)
t.ok(lines and origin_ok(lines[0], 2), "fetch after the kill: the duplicate is UID 2", r)
t.ok(all(KEYWORD in f for f in flags("dier").values()), "fetch after the kill: all marked")
entries = inbox(d5)
t.eq(sorted(e["subject"] for e in entries),
     sorted(["Lead 11111 eins", "Lead 11111 zwei", "Lead 11111 drei", "Lead 11111 vier"]),
     "fetch after the kill: every message exactly once in the store")
r = fetch("dier", d5)
t.eq((r.rc, len(r.lines())), (0, 0), "fetch after the kill, again: nothing", r)

# ---- 6. the server cannot be reached: 75 and one sentence -------------------------------
d6 = t.data_dir()
put("plain", [msg("Lead 11111 Passwort")])
r = fetch("plain", d6, password="wrong")
clean(r, "fetch, wrong password")
t.exit_status(r, 75, "fetch, wrong password")
t.ok("login failed" in r.err, "fetch, wrong password: says login failed", r)
t.ok("wrong" not in r.err, "fetch, wrong password: the password is not printed", r)
t.eq(len(r.lines()), 0, "fetch, wrong password: no result line", r)
r = t.run(["fetch", "--url", f"imap://127.0.0.1:{free_port()}/INBOX", "--user", "plain"], data_dir=d6,
          env={"CONTACTLOG_IMAP_PASSWORD": "secret"})
t.exit_status(r, 75, "fetch, nothing listens")
t.ok(re.search(r"cannot connect .*: connection refused", r.err, re.I), "fetch, nothing listens: says so", r)
r = fetch("plain", d6, mailbox="Nirgendwo")
t.exit_status(r, 75, "fetch, mailbox missing")
t.ok("cannot open the mailbox Nirgendwo" in r.err, "fetch, mailbox missing: says so", r)
t.ok(KEYWORD not in str(flags("plain")), "the mail stays unmarked")

# ---- 7. usage, configuration, data directory --------------------------------------------
url = f"imap://127.0.0.1:{dc.imap_port}/INBOX"
sec = {"CONTACTLOG_IMAP_PASSWORD": "secret"}
for args, want, what in [
        (["--url", url], 64, "no --user"),
        (["--user", "plain"], 64, "no --url"),
        (["--url", url, "--user", "plain", "--move-to", "X", "--delete"], 64, "--move-to and --delete"),
        (["--url", url, "--user", "plain", "--once", "--interval", "5"], 64, "--once and --interval"),
        (["--url", url, "--user", "plain", "--interval", "0"], 64, "--interval 0"),
        (["--url", url, "--user", "plain", "--password", "secret"], 64, "a password option"),
        (["--url", url, "--user", "plain", "--max-message-size", "big"], 64, "a bad size"),
        (["--url", f"imap://plain:secret@127.0.0.1:{dc.imap_port}/", "--user", "plain"], 78,
         "a password in the URL"),
        (["--url", f"pop3://127.0.0.1:{dc.imap_port}/", "--user", "plain"], 78, "not an IMAP URL"),
        (["--url", url + ";UID=1", "--user", "plain"], 78, "a message URL")]:
    r = t.run(["fetch"] + args, data_dir=d6, env=sec)
    t.exit_status(r, want, f"fetch with {what}")
    t.eq(len(r.err.strip().splitlines()), 1, f"fetch with {what}: one sentence on stderr", r)
r = t.run(["fetch", "--url", url, "--user", "plain"], data_dir=d6)
t.exit_status(r, 64, "fetch without a password")
r = t.run(["fetch", "--url", url, "--user", "plain"], data_dir=os.path.join(t.tmpdir("none"), "x"), env=sec)
t.exit_status(r, 66, "fetch without a data directory")
r = fetch("plain", d6, "--password-file", os.path.join(t.tmpdir("nofile"), "pw"), password=None)
t.exit_status(r, 66, "fetch with a missing password file")
t.ok(KEYWORD not in str(flags("plain")), "the mail is still unmarked")

# ---- 8. --interval: polls until SIGTERM -------------------------------------------------
d8 = t.data_dir()
log_path = os.path.join(t.tmpdir("poll"), "fetch.log")
env = dict(t.env)
env["CONTACTLOG_IMAP_PASSWORD"] = "secret"


def wait_entries(n, timeout=30):
    deadline = time.monotonic() + timeout
    while len(inbox(d8)) < n and time.monotonic() < deadline:
        time.sleep(0.2)
    return len(inbox(d8))


with open(log_path, "wb") as log:
    p = subprocess.Popen([t.binary, "fetch", "--url", url.replace("INBOX", ""), "--user", "poller",
                          "--interval", "1", "--data-dir", d8], stdout=subprocess.PIPE, stderr=log,
                         env=env)
    put("poller", [msg("Lead 11111 erste Runde")])
    t.eq(wait_entries(1), 1, "fetch --interval: the first mail is captured")
    put("poller", [msg("Lead 11112 zweite Runde")])
    t.eq(wait_entries(2), 2, "fetch --interval: the next pass captures the second")
    p.send_signal(signal.SIGTERM)
    try:
        out, _ = p.communicate(timeout=60)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        rc = None
with open(log_path, encoding="utf-8", errors="replace") as f:
    log_text = f.read()
t.ok(rc == 0, "fetch --interval: exit 0 after SIGTERM", got=rc, detail=log_text[-2000:])
t.eq(len([x for x in out.splitlines() if x.strip()]), 2, "fetch --interval: two result lines")
passes = re.findall(r"event=fetch-pass mailbox=INBOX fetched=(\d+) captured=(\d+) rejected=(\d+) "
                    r"duplicate=(\d+) failed=(\d+)", log_text)
t.ok(len(passes) >= 2, "fetch --interval: a key=value line per pass", got=log_text[-2000:])
t.ok(sum(int(x[1]) for x in passes) == 2, "fetch --interval: the passes captured 2", got=passes)
t.ok(re.search(r"^ts=\S+ level=info module=\S+ event=fetch-pass", log_text, re.M),
     "fetch --interval: log lines in the key=value format", got=log_text[-1000:])
for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "CRITICAL"):
    t.ok(marker not in log_text, f"fetch --interval: no {marker!r} in its log")

# ---- 9. OAuth 2.0 (Microsoft 365 accepts no passwords over IMAP) ----------------------
# Dovecot checks XOAUTH2 tokens only against an OAuth server; a scripted IMAP server stands
# in: it offers AUTH=PLAIN and AUTH=XOAUTH2 and accepts one token.
seen_auth = []


class FakeImap(socketserver.StreamRequestHandler):
    def handle(self):
        def say(line):
            self.wfile.write(line.encode() + b"\r\n")
        say("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=XOAUTH2] fake ready")
        for raw in self.rfile:
            tag, _, rest = raw.decode(errors="replace").strip().partition(" ")
            verb, _, args = rest.partition(" ")
            verb = verb.upper()
            if verb == "CAPABILITY":
                say("* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=XOAUTH2 MOVE UIDPLUS")
                say(f"{tag} OK done")
            elif verb == "AUTHENTICATE":
                mech, _, ir = args.partition(" ")
                seen_auth.append((mech.upper(), base64.b64decode(ir or "=").decode(errors="replace")))
                good = mech.upper() == "XOAUTH2" and "auth=Bearer tok-good\x01" in seen_auth[-1][1]
                say(f"{tag} OK authenticated" if good else f"{tag} NO [AUTHENTICATIONFAILED] bad token")
            elif verb in ("SELECT", "EXAMINE"):
                say("* 0 EXISTS")
                say("* OK [UIDVALIDITY 42] ok")
                say("* OK [UIDNEXT 1] ok")
                say(f"{tag} OK [READ-WRITE] selected")
            elif verb == "LOGOUT":
                say("* BYE bye")
                say(f"{tag} OK bye")
                return
            else:
                say(f"{tag} OK {verb.lower()}")


socketserver.ThreadingTCPServer.allow_reuse_address = True
fake = socketserver.ThreadingTCPServer(("127.0.0.1", 0), FakeImap)
fake.daemon_threads = True
threading.Thread(target=fake.serve_forever, daemon=True).start()
fake_url = f"imap://127.0.0.1:{fake.server_address[1]}/INBOX"
tok = os.path.join(t.tmpdir("oauth"), "token")
with open(tok, "w") as f:
    f.write("tok-good\n")
r = t.run(["fetch", "--url", fake_url, "--user", "crm@agentur.example", "--oauth2-token-file", tok],
          data_dir=d6)
clean(r, "fetch with an OAuth token")
t.exit_status(r, 0, "fetch with an OAuth token")
t.ok(seen_auth and seen_auth[0][0] == "XOAUTH2", "fetch with an OAuth token: SASL XOAUTH2", got=seen_auth)
t.ok(seen_auth and seen_auth[0][1] == "user=crm@agentur.example\x01auth=Bearer tok-good\x01\x01",
     "fetch with an OAuth token: user and token as XOAUTH2 sends them", got=seen_auth)
with open(tok, "w") as f:
    f.write("tok-expired\n")
r = t.run(["fetch", "--url", fake_url, "--user", "crm@agentur.example", "--oauth2-token-file", tok],
          data_dir=d6)
t.exit_status(r, 75, "fetch with an expired OAuth token")
t.ok("login failed" in r.err and "tok-expired" not in r.err,
     "fetch with an expired OAuth token: says so, without the token", r)
fake.shutdown()

dc.stop()
dc_old.stop()
t.finish()
