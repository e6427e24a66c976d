#!/usr/bin/env python3
"""t-postfix: a real Postfix, bound to loopback only, relays mail for the drop address to
`contactlog serve` over LMTP (docs/mta.md). Mail sent to Postfix with smtplib is captured; a
mail for two drop addresses becomes one entry with both recipients answered; an unknown sender
bounces with the reason in Postfix's log; while the database is locked Postfix defers the mail
(451 4.3.0) and delivers it once on the retry; a stopped contactlog makes Postfix defer and
deliver after the restart."""
import os
import smtplib
import sqlite3
import sys
import time

sys.dont_write_bytecode = True
import cltest  # noqa: E402
import mtahost  # noqa: E402
from cltest import DROP, Server, free_port, mail  # noqa: E402

t = cltest.Test(__file__)
ANNA = "anna.berg@alpha-agentur.example"


def msg(mid, subject, sender=ANNA):
    return mail([("From", f"Anna Berg <{sender}>"), ("To", "Jürgen Müller <j.mueller@acme-maschinen.example>"),
                 ("Subject", subject), ("Message-ID", f"<{mid}@postfix.test>"),
                 ("Date", "Thu, 03 Dec 2026 10:00:00 +0100")],
                body="Hallo Herr Müller,\n\nanbei das Angebot.\n.\nEine Zeile mit Punkt.\n", crlf=True)


d = t.data_dir()
lport = free_port()
srv = Server(t, d, ["--lmtp", f"127.0.0.1:{lport}"]).start()
pf_port = free_port()
try:
    pf = mtahost.Postfix(t.tmpdir("postfix"), pf_port, "contactlog.example", f"inet:127.0.0.1:{lport}")
    pf.start()
except mtahost.Unavailable as x:
    srv.stop()
    t.skip(f"Postfix not usable here: {x}")


def send(sender, rcpts, data):
    with smtplib.SMTP("127.0.0.1", pf_port, timeout=30) as c:
        return c.sendmail(sender, rcpts, data)


def entries():
    r = t.run(["inbox", "--user", "anna", "--json", "--limit", "100000"], data_dir=d)
    return {e.get("message_id", "").strip("<>"): e for e in (r.json() or [])} if r.rc == 0 else {}


def wait_log(pattern, timeout=30):
    """True once pattern (a string, or a predicate of the log text) holds. Postfix writes its log
    through postlogd, after the queue file is gone: an empty queue does not mean the log is
    complete."""
    test = pattern if callable(pattern) else (lambda log: pattern in log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if test(pf.log()):
            return True
        time.sleep(0.2)
    return test(pf.log())


def sent_to(rcpt):
    """Predicate: the log has a delivery line for rcpt with status=sent."""
    return lambda log: any(f"to=<{rcpt}>" in l and "status=sent" in l for l in log.splitlines())


try:
    # ---- captured through Postfix ----------------------------------------------------------------
    for i, subject in enumerate(["Lead 11111 Angebot", "Lead 11112 Termin", "Neues Logo"]):
        t.eq(send(ANNA, [DROP], msg(f"pf-{i}", subject)), {}, f"Postfix accepts mail {i} for the drop address")
    t.ok(pf.wait_empty(60), "Postfix delivers the queue", detail=pf.log()[-2000:])
    got = entries()
    for i, lead in enumerate(["11111", "11112", "11112"]):  # "Logo" is the name of lead 11112
        e = got.get(f"pf-{i}@postfix.test")
        if t.ok(e is not None, f"pf-{i}: captured in anna's inbox", got=sorted(got)):
            number = (e.get("lead") or {}).get("number") if isinstance(e.get("lead"), dict) else e.get("lead")
            t.eq(number, lead, f"pf-{i}: lead")
    t.ok(wait_log(lambda log: log.count("status=sent (250 2.0.0 <crm@contactlog.example> Captured as entry") >= 3),
         "Postfix logs status=sent with contactlog's reply for each", got=pf.log()[-2000:])
    log = pf.log()
    t.ok("relay=127.0.0.1[127.0.0.1]:%d" % lport in log, "… relayed over LMTP to contactlog's port", got=log[-1500:])
    e = got.get("pf-0@postfix.test")
    if e:
        s = t.show(e.get("id"), d, "pf-0")
        if s:
            t.ok("\n.\nEine Zeile mit Punkt." in s.get("text", ""), "a line with a single dot survives Postfix and LMTP",
                 got=s.get("text"))

    # ---- two drop addresses in one mail: one entry, both recipients answered ------------------------
    t.eq(send(ANNA, [DROP, "crm+11113@contactlog.example"], msg("pf-two", "Lead 11113")), {},
         "Postfix accepts a mail for two drop addresses")
    t.ok(pf.wait_empty(60), "… and delivers it")
    t.ok(wait_log(lambda log: sent_to(DROP)(log.split("pf-two@postfix.test")[-1])
                  and sent_to("crm+11113@contactlog.example")(log)),
         "both recipients: status=sent", got=pf.log()[-2000:])
    t.eq(sum(1 for k in entries() if k == "pf-two@postfix.test"), 1, "one entry for the mail")

    # ---- an unknown sender bounces with the reason -------------------------------------------------
    send("nobody@alpha-agentur.example", [DROP], msg("pf-unknown", "Hallo", sender="nobody@alpha-agentur.example"))
    t.ok(wait_log("status=bounced"), "Postfix bounces the mail of an unknown sender", got=pf.log()[-2000:])
    bounced = [l for l in pf.log().splitlines() if "status=bounced" in l and "to=<crm@contactlog.example>" in l]
    t.ok(bounced and "550 5.7.1" in bounced[-1] and "unknown-sender" in bounced[-1],
         "the bounce carries 550 5.7.1 and the reason", got=bounced[-1:] or None)
    t.ok(any(x.get("reason") == "unknown-sender" for x in t.rejected(d)), "the rejection is recorded")
    pf.wait_empty(30)

    # ---- a locked database: Postfix defers (451 4.3.0) and delivers on the retry --------------------
    db = sqlite3.connect(os.path.join(d, "contactlog.db"), isolation_level=None, timeout=30)
    db.execute("BEGIN IMMEDIATE")
    send(ANNA, [DROP], msg("pf-locked", "Lead 11111 gesperrt"))
    deferred = wait_log("451 4.3.0", timeout=60)
    db.execute("ROLLBACK")
    db.close()
    t.ok(deferred, "locked database: Postfix logs the 451 4.3.0 and keeps the mail", got=pf.log()[-2000:])
    t.ok("pf-locked@postfix.test" not in entries(), "… nothing stored while locked")
    pf.flush()
    t.ok(pf.wait_empty(60), "after the lock: Postfix delivers on the retry", got=pf.queue())
    t.eq(sum(1 for k in entries() if k == "pf-locked@postfix.test"), 1, "… stored exactly once")

    # ---- contactlog stopped: Postfix keeps the mail and delivers after the restart ------------------
    t.eq(srv.stop(), 0, "serve stops")
    send(ANNA, [DROP], msg("pf-down", "Lead 11112 während Neustart"))
    t.ok(wait_log("connect to 127.0.0.1[127.0.0.1]:%d: Connection refused" % lport, timeout=60),
         "contactlog down: Postfix defers", got=pf.log()[-1500:])
    srv = Server(t, d, ["--lmtp", f"127.0.0.1:{lport}"]).start()
    pf.flush()
    t.ok(pf.wait_empty(60), "after the restart: delivered", got=pf.queue())
    t.eq(sum(1 for k in entries() if k == "pf-down@postfix.test"), 1, "… stored exactly once")
finally:
    pf.stop()
    srv.stop()
t.finish()
