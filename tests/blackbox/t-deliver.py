#!/usr/bin/env python3
"""t-deliver: `contactlog deliver` — the result line of DESIGN §5, duplicates (rule 9),
rejections with sysexits statuses, and a locked database (exit 75, nothing half-stored)."""
import sys
import os
import sqlite3
import subprocess
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import cltest  # noqa: E402
from cltest import mail

t = cltest.Test(__file__)
d = t.data_dir()

BASE = [
    ("From", "Anna Berg <anna.berg@alpha-agentur.example>"),
    ("To", "Jürgen Müller <j.mueller@acme-maschinen.example>"),
    ("Subject", "Lead 11111 Angebot"),
    ("Date", "Mon, 02 Nov 2026 09:14:00 +0100"),
    ("Message-ID", "<deliver-1@alpha-agentur.example>"),
    ("MIME-Version", "1.0"),
    ("Content-Type", "text/plain; charset=utf-8"),
]


def headers(**change):
    """BASE with headers replaced (value None removes the header)."""
    out = []
    names = {k.replace("_", "-").lower(): v for k, v in change.items()}
    for k, v in BASE:
        if k.lower() in names:
            if names[k.lower()] is not None:
                out.append((k, names[k.lower()]))
        else:
            out.append((k, v))
    return out


def inbox_ids(user):
    return [e.get("id") for e in t.listing(["inbox", "--user", user], d, f"inbox --user {user}")]


def files_in(sub):
    """{path: size} of the files below DATA_DIR/sub."""
    root = os.path.join(d, sub)
    out = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = os.path.join(dirpath, n)
            out[p] = os.path.getsize(p)
    return out


# ---- accepted -----------------------------------------------------------------------------
m1 = mail(BASE, "Hallo Herr Müller,\n\nanbei das Angebot.\n")
r = t.deliver(m1, d, extra=["--sender", "anna.berg@alpha-agentur.example"])
t.exit_status(r, 0, "deliver accepted")
first = t.one_line(r, "deliver accepted")
if first:
    t.result_shape(first, "deliver accepted", r)
    t.eq(set(first), cltest.RESULT_KEYS, "accepted line: exactly the keys of DESIGN §5 (no candidates, no reason)", r)
    want = {"status": "pending", "tenant": "alpha", "user": "anna", "company": "acme",
            "contact": "jmueller", "contacts": ["jmueller"], "lead": "11111", "project": None,
            "forwarded": False}
    t.eq({k: first.get(k) for k in want}, want, "accepted line: values", r)
    t.ok(isinstance(first.get("entry"), int) and first.get("entry") > 0, "accepted line: entry is a positive id", r)
    for x in first.get("reasons", []):
        t.eq(sorted(x), ["detail", "field", "rule"], "reasons have field, rule, detail", r)
    t.ok({"field": "lead", "rule": "subject-number", "detail": "11111"} in first.get("reasons", []),
         "accepted line: the lead's reason names rule and number", r)
    e = t.show(first.get("entry"), d, "accepted mail")
    if e:
        env = (e.get("addresses") or {}).get("envelope") or {}
        t.eq(env.get("recipients"), [cltest.DROP], "show: envelope recipient is kept", r)
        t.eq(env.get("sender"), "anna.berg@alpha-agentur.example", "show: envelope sender is kept", r)
        t.eq(e.get("message_id"), "deliver-1@alpha-agentur.example", "show: Message-ID", r)
        t.eq(e.get("state"), "pending", "show: state pending", r)
        t.ok("anbei das Angebot" in e.get("text", ""), "show: body text", got=e.get("text"))
        t.eq(e.get("contact_time"), "2026-11-02T08:14:00Z", "show: contact time is the mail's Date (UTC)")

pending_before = inbox_ids("anna")
t.eq(len(pending_before), 1, "inbox of anna has the accepted mail")

# ---- candidates only when present --------------------------------------------------------
r = t.deliver(mail(headers(subject="Angebot 44444", message_id="<deliver-cand@alpha-agentur.example>")), d)
t.exit_status(r, 0, "deliver with candidates")
c = t.one_line(r, "deliver with candidates")
if c:
    t.result_shape(c, "deliver with candidates", r)
    t.eq(set(c), cltest.RESULT_KEYS | {"candidates"}, "candidates line: keys", r)
    t.eq(c.get("candidates"), {"lead": ["44444"], "project": ["film"]}, "candidates: lead and project", r)
    t.eq((c.get("lead"), c.get("project")), (None, None), "candidates: nothing chosen", r)

# ---- duplicate ---------------------------------------------------------------------------------
inbox_now = inbox_ids("anna")
for attempt in (1, 2):
    r = t.deliver(m1, d)
    t.exit_status(r, 0, f"same mail again (#{attempt})")
    dup = t.one_line(r, f"same mail again (#{attempt})")
    if dup and first:
        t.result_shape(dup, "duplicate", r)
        t.eq(dup.get("status"), "duplicate", f"same mail again (#{attempt}): status duplicate", r)
        t.eq(dup.get("entry"), first.get("entry"), f"same mail again (#{attempt}): same entry id", r)
t.eq(inbox_ids("anna"), inbox_now, "duplicates change nothing in the inbox")
# Different transport headers, same Message-ID: still the same mail.
m1b = b"Received: from mx2.example by mx.example; Mon, 02 Nov 2026 09:20:00 +0100\n" + m1
r = t.deliver(m1b, d)
dup = t.one_line(r, "same mail via another route")
if dup and first:
    t.eq((dup.get("status"), dup.get("entry")), ("duplicate", first.get("entry")),
         "same Message-ID with an extra Received header: duplicate of the first entry", r)

# Rule 9: without Message-ID, a hash of the normalised content (Received left out) decides.
noid = mail(headers(message_id=None, subject="Ohne Message-ID"), "Kurze Notiz ohne Message-ID.\n")
r1 = t.deliver(b"Received: from a.example by mx.example; Mon, 02 Nov 2026 09:20:00 +0100\n" + noid, d)
r2 = t.deliver(b"Received: from b.example by mx.example; Mon, 02 Nov 2026 09:21:07 +0100\n" + noid, d)
a, b = t.one_line(r1, "no Message-ID, first"), t.one_line(r2, "no Message-ID, second")
if a and b:
    t.eq(a.get("status"), "pending", "no Message-ID, first: pending", r1)
    t.eq((b.get("status"), b.get("entry")), ("duplicate", a.get("entry")),
         "no Message-ID, same content again (other Received): duplicate (DESIGN §2 rule 9)", r2)
    t.exit_status(r2, 0, "no Message-ID, second")
    # Other content without Message-ID is another mail.
    noid2 = mail(headers(message_id=None, subject="Ohne Message-ID"), "Eine andere Notiz.\n")
    c = t.one_line(t.deliver(noid2, d), "no Message-ID, other text")
    t.eq((c or {}).get("status"), "pending", "no Message-ID, other text: a new entry")

# The same Message-ID in another tenant is another mail.
other = mail([("From", "Jonas Petersen <jonas.petersen@beta-design.example>"),
              ("To", "k.ahrens@acme-nord.example"), ("Subject", "Neue Speisekarte"),
              ("Date", "Mon, 02 Nov 2026 11:00:00 +0100"),
              ("Message-ID", "<deliver-1@alpha-agentur.example>")])
r = t.deliver(other, d)
o = t.one_line(r, "same Message-ID, other tenant")
if o and first:
    t.eq((o.get("status"), o.get("tenant"), o.get("lead")), ("pending", "beta", "30101"),
         "same Message-ID in another tenant: a new pending entry", r)
    t.ok(o.get("entry") != first.get("entry"), "same Message-ID in another tenant: another entry id", r)

# ---- rejections ----------------------------------------------------------------------------------
def hdrs(from_value, mid):
    out = [(k, v) for k, v in BASE if k not in ("From", "Message-ID")]
    if from_value is not None:
        out.insert(0, ("From", from_value))
    out.append(("Message-ID", mid))
    return out


REJECTS = [
    ("unknown-tenant", hdrs("Kunde <einkauf@acme-maschinen.example>", "<rej-tenant@x.example>"), 67,
     "einkauf@acme-maschinen.example"),
    ("unknown-sender", hdrs("Neu <praktikant@alpha-agentur.example>", "<rej-sender@x.example>"), 67,
     "praktikant@alpha-agentur.example"),
    ("ambiguous-sender", hdrs("Team Alpha <team@alpha-agentur.example>", "<rej-amb@x.example>"), 67,
     "team@alpha-agentur.example"),
    ("ambiguous-sender", hdrs("TEAM@Alpha-Agentur.example", "<rej-amb2@x.example>"), 67,
     "team@alpha-agentur.example"),
    ("unknown-tenant", hdrs("doppelt@freemail.example", "<rej-private2@x.example>"), 67,
     "doppelt@freemail.example"),
    ("malformed", hdrs(None, "<rej-nofrom@x.example>"), 65, None),
]
entries_before = len(inbox_ids("anna"))
for reason, hs, code, addr in REJECTS:
    what = f"rejected {reason} ({dict(hs).get('From')})"
    r = t.deliver(mail(hs), d)
    t.exit_status(r, code, what)
    res = t.one_line(r, what)
    if res:
        t.result_shape(res, what, r)
        t.eq((res.get("status"), res.get("reason")), ("rejected", reason), f"{what}: status and reason", r)
        t.eq(res.get("entry"), None, f"{what}: no entry", r)
        if addr:
            t.ok(addr in res.get("message", "").lower(), f"{what}: the message names {addr}", r)
        t.ok(res.get("message") and res["message"] in r.err,
             f"{what}: the sentence for the sender is on stderr too (for the MTA's bounce)", r)
t.eq(len(inbox_ids("anna")), entries_before, "rejections add nothing to the inbox")

rej = t.rejected(d)
got = sorted(x.get("reason") for x in rej)
t.eq(got, sorted(x[0] for x in REJECTS), "rejected --json lists every rejection with its reason")
for x in rej:
    t.ok(x.get("message"), "rejected --json: each has the message the sender got", got=x)
amb = [x for x in rej if x.get("reason") == "ambiguous-sender"]
t.ok(all("team@alpha-agentur.example" in (x.get("message") or "").lower() for x in amb),
     "rejected --json: the ambiguous-sender message names the address", got=amb)
r = t.run(["rejected"], data_dir=d)
t.exit_status(r, 0, "rejected (text)")
t.ok("ambiguous-sender" in r.out and "unknown-tenant" in r.out, "rejected (text) lists the reasons", r)

# ---- a locked database ---------------------------------------------------------------------------
dbfile = os.path.join(d, "contactlog.db")
if t.ok(os.path.isfile(dbfile), "the data directory holds contactlog.db (SQLite)", got=sorted(os.listdir(d)) if os.path.isdir(d) else None):
    locked_mail = mail(headers(message_id="<deliver-locked@alpha-agentur.example>", subject="Neues Logo"))
    inbox_before = inbox_ids("anna")
    rej_before = len(t.rejected(d))
    blobs_before = files_in("blobs")
    db = sqlite3.connect(dbfile, isolation_level=None, timeout=30)
    db.execute("BEGIN EXCLUSIVE")
    held = time.monotonic()
    p = subprocess.Popen([t.binary, "deliver", "--recipient", cltest.DROP, "--data-dir", d],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=t.env)
    p.stdin.write(locked_mail)
    p.stdin.close()
    deadline = held + 8.0
    while p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    finished_while_locked = p.poll() is not None
    db.execute("ROLLBACK")
    db.close()
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    out, err = p.stdout.read(), p.stderr.read()
    lr = cltest.Result(p.args, p.returncode, out, err, time.monotonic() - held)
    t.ok(finished_while_locked, "locked database: deliver gives up while the lock is held (< 8 s)", lr)
    t.exit_status(lr, 75, "locked database")
    t.ok(err.strip() != b"", "locked database: says why on stderr", lr)
    t.eq(inbox_ids("anna"), inbox_before, "locked database: the inbox is unchanged")
    t.eq(len(t.rejected(d)), rej_before, "locked database: no rejection record")
    t.eq(files_in("blobs"), blobs_before, "locked database: blob files unchanged (no new files, no growth)")
    t.eq(sorted(files_in("tmp")), [], "locked database: no spool files left in tmp/")
    # afterwards the same mail goes through
    r = t.deliver(locked_mail, d)
    t.exit_status(r, 0, "after the lock")
    res = t.one_line(r, "after the lock")
    if res:
        t.eq((res.get("status"), res.get("lead")), ("pending", "11112"), "after the lock: accepted", r)
        t.eq(inbox_ids("anna"), [res.get("entry")] + inbox_before, "after the lock: one more entry, newest first")
    t.eq(sorted(files_in("tmp")), [], "after the lock: no spool files left in tmp/")

t.finish()
