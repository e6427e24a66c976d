#!/usr/bin/env python3
"""t-serve: `contactlog serve` over real sockets. LMTP (RFC 2033) and SMTP (RFC 5321) with
Python's smtplib and a raw client that reads every reply: one reply per recipient after DATA,
pipelining, dot-unstuffing, SIZE, command errors, rejections with reasons, 451 on a locked
database and a full disk, idle timeouts, many sessions at once with a slow client, SIGTERM
(sessions in flight finish), SIGHUP (reload), SIGKILL (nothing acknowledged is lost) and the
key=value log."""
import os
import signal
import smtplib
import socket
import sqlite3
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
import cltest  # noqa: E402
from cltest import DROP, Dialog, Server, dot_stuff, free_port, mail  # noqa: E402

t = cltest.Test(__file__)
ANNA = "anna.berg@alpha-agentur.example"


def same(got, wanted, what, detail=None):
    """t.eq, showing `detail` (the whole reply) when it fails."""
    return t.ok(got == wanted, what, got=got if detail is None else detail, wanted=wanted)


def msg(mid, subject="Angebot 11111", sender=ANNA, body="Hallo Herr Müller,\n\nanbei das Angebot.\n", extra=()):
    return mail([("From", f"Anna Berg <{sender}>"), ("To", "Jürgen Müller <j.mueller@acme-maschinen.example>"),
                 ("Subject", subject), ("Message-ID", f"<{mid}@serve.test>"),
                 ("Date", "Thu, 03 Dec 2026 10:00:00 +0100")] + list(extra), body=body)


def entries_by_mid(d):
    """Message-ID → entry id of every captured entry (of anna, the author of these tests)."""
    r = t.run(["inbox", "--user", "anna", "--json", "--limit", "100000"], data_dir=d)
    out = {}
    if r.rc == 0:
        for e in r.json() if isinstance(r.json(), list) else r.json().get("entries", []):
            out["<" + (e.get("message_id") or "").strip("<>") + ">"] = e.get("id")
    return out


def lmtp_transaction(dlg, rcpts, message, lhlo=True):
    """LHLO, MAIL, RCPT…, DATA; returns (replies to RCPT, replies after the final dot)."""
    if lhlo:
        dlg.reply()  # greeting
        dlg.send("LHLO test.example\r\n")
        dlg.reply()
    dlg.send("MAIL FROM:<anna.berg@alpha-agentur.example>\r\n")
    t.eq(dlg.reply()[0], 250, "MAIL accepted")
    rcpt_replies = []
    for r in rcpts:
        dlg.send(f"RCPT TO:<{r}>\r\n")
        rcpt_replies.append(dlg.reply())
    dlg.send("DATA\r\n")
    code, text = dlg.reply()
    if code != 354:
        return rcpt_replies, [(code, text)]
    dlg.send(dot_stuff(message))
    accepted = sum(1 for c, _ in rcpt_replies if c == 250)
    return rcpt_replies, dlg.replies(accepted)


d = t.data_dir()
sock_path = os.path.join(os.path.dirname(d), "lmtp.sock")
lport, sport = free_port(), free_port()
srv = Server(t, d, ["--lmtp", f"127.0.0.1:{lport}", "--lmtp", f"unix:{sock_path}",
                    "--smtp", f"127.0.0.1:{sport}", "--max-message-size", "200K"])
try:
    srv.start()
except RuntimeError as x:
    t.fail(f"serve starts: {x}")
    t.finish()
t.eq(sorted(srv.listeners), ["lmtp", "smtp"], "serve prints its listeners")
t.ok(os.path.exists(sock_path), "the Unix socket exists")
LMTP, SMTP = srv.address("lmtp"), srv.address("smtp")

# ---- smtplib: LMTP over TCP and the Unix socket, single recipient -----------------------------
with smtplib.LMTP(*LMTP) as c:
    code, caps = c.ehlo("test.example")
    caps = caps.decode()
    t.eq(code, 250, "LHLO answered 250")
    for ext in ["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "SIZE 204800"]:
        t.ok(ext in caps.split("\n"), f"LHLO announces {ext}", got=caps)
    refused = c.sendmail(ANNA, [DROP], msg("lmtp-1"))
    t.eq(refused, {}, "smtplib.LMTP: the message is accepted")
with smtplib.LMTP(sock_path) as c:
    t.eq(c.sendmail(ANNA, [DROP], msg("lmtp-unix", subject="Lead 11112 Termin")), {},
         "smtplib.LMTP over the Unix socket: accepted")
got = entries_by_mid(d)
t.ok("<lmtp-1@serve.test>" in got and "<lmtp-unix@serve.test>" in got, "both mails are in anna's inbox", got=got)
e = t.show(got.get("<lmtp-1@serve.test>"), d, "lmtp-1") if got.get("<lmtp-1@serve.test>") else None
if e:
    t.eq((e.get("lead") or {}).get("number"), "11111", "lmtp-1: lead from the subject number")
e2 = t.show(got.get("<lmtp-unix@serve.test>"), d, "lmtp-unix") if got.get("<lmtp-unix@serve.test>") else None
if e2:
    t.eq((e2.get("lead") or {}).get("number"), "11112", "lmtp-unix: lead from the subject number")

# ---- LMTP: one reply per accepted recipient, in RCPT order (RFC 2033 §4.2) ----------------------
dlg = Dialog(LMTP)
rcpt_replies, data_replies = lmtp_transaction(
    dlg, [DROP, "nobody@example.org", "CRM+11113@contactlog.example"], msg("multi-1"))
t.eq([c for c, _ in rcpt_replies], [250, 550, 250], "RCPT: drop address 250, other address 550 5.1.1, sub-address 250")
t.ok("5.1.1" in rcpt_replies[1][1], "RCPT of a foreign address: 5.1.1", got=rcpt_replies[1])
t.eq(len(data_replies), 2, "after DATA: one reply per accepted recipient")
t.eq([c for c, _ in data_replies], [250, 250], "both replies 250")
t.ok(DROP in data_replies[0][1] and "CRM+11113@contactlog.example" in data_replies[1][1],
     "the replies name the recipients in RCPT order", got=data_replies)
t.ok(all("2.0.0" in x and "entry" in x for _, x in data_replies), "the replies say which entry", got=data_replies)
# the same message again in the same session: a duplicate, still 250 for each recipient
_, again = lmtp_transaction(dlg, [DROP, DROP], msg("multi-1"), lhlo=False)
t.eq([c for c, _ in again], [250, 250], "a duplicate is answered 250 per recipient")
t.ok(all("Already captured" in x for _, x in again), "… saying it is already captured", got=again)
dlg.send("QUIT\r\n")
t.eq(dlg.reply()[0], 221, "QUIT: 221")
dlg.close()
t.eq(sum(1 for k in entries_by_mid(d) if k == "<multi-1@serve.test>"), 1, "multi-recipient mail stored once")
r = t.run(["show", str(entries_by_mid(d).get("<multi-1@serve.test>")), "--json"], data_dir=d)
t.ok("CRM+11113@contactlog.example" in r.out or "crm+11113@contactlog.example" in r.out.lower(),
     "the envelope recipients are kept with the entry", r)

# ---- pipelining: a whole session in one write ---------------------------------------------------
dlg = Dialog(LMTP)
dlg.reply()
batch = b"LHLO pipe.example\r\n"
for i in range(3):
    batch += (b"MAIL FROM:<anna.berg@alpha-agentur.example>\r\nRCPT TO:<" + DROP.encode() + b">\r\nDATA\r\n"
              + dot_stuff(msg(f"pipe-{i}", body=f"Teil {i}\n.punkt am Anfang\n..zwei\n.\n".replace(".\n", "x\n", 0))))
batch += b"QUIT\r\n"
dlg.send(batch)
reps = dlg.replies(1 + 3 * 4 + 1)
codes = [c for c, _ in reps]
t.ok(codes == [250] + [250, 250, 354, 250] * 3 + [221], "pipelined session: every reply, in order", got=reps)
dlg.close()
got = entries_by_mid(d)
e = t.show(got.get("<pipe-1@serve.test>"), d, "pipe-1") if got.get("<pipe-1@serve.test>") else None
if t.ok(e is not None, "pipelined mail stored"):
    text = e.get("text", "")
    # dot_stuff doubled every leading dot on the wire; the server removed one per line, and
    # the lone "." line inside the body did not end the message.
    t.ok("\n.punkt am Anfang\n..zwei\n.x" in text.replace("\n.\n", "\n.x\n") or text.endswith("\n..zwei\n."),
         "dot-unstuffing: the text is the original, leading dots and all", got=text)

# ---- SMTP: smtplib.SMTP, rejections with the reason -------------------------------------------
with smtplib.SMTP(*SMTP) as c:
    code, caps = c.ehlo("test.example")
    t.ok("SIZE 204800" in caps.decode(), "EHLO announces SIZE", got=caps)
    t.eq(c.sendmail(ANNA, [DROP], msg("smtp-1", subject="Lead 22222")), {}, "SMTP: accepted")
    for mid, sender, want_code, want_status, reason in [
            ("smtp-unknown-tenant", "someone@elsewhere.example", 550, "5.7.1", "unknown-tenant"),
            ("smtp-unknown-sender", "nobody@alpha-agentur.example", 550, "5.7.1", "unknown-sender"),
            ("smtp-ambiguous", "team@alpha-agentur.example", 550, "5.7.1", "ambiguous-sender")]:
        try:
            c.sendmail(sender, [DROP], msg(mid, sender=sender))
            t.fail(f"SMTP {reason}: refused")
        except smtplib.SMTPDataError as x:
            t.eq(x.smtp_code, want_code, f"SMTP {reason}: reply code")
            text = x.smtp_error.decode()
            t.ok(text.startswith(want_status) and reason in text and "sender" in text.lower(),
                 f"SMTP {reason}: {want_status} with the reason in words", got=text)
            t.ok("Absenderadresse" in text and text.isascii(),
                 f"SMTP {reason}: in German first, in ASCII (ae, oe, ue)", got=text)
    try:
        c.sendmail(ANNA, [DROP], b"Subject: no sender at all\r\n\r\nbody\r\n")
        t.fail("SMTP malformed: refused")
    except smtplib.SMTPDataError as x:
        t.eq((x.smtp_code, x.smtp_error.decode()[:5]), (554, "5.6.0"), "SMTP: mail without From: 554 5.6.0")
rej = t.rejected(d)
t.eq(sorted(x.get("reason") for x in rej),
     ["ambiguous-sender", "malformed", "unknown-sender", "unknown-tenant"], "each rejection is recorded once")
with smtplib.SMTP(*SMTP) as c:
    # A sender of 250 bytes: the reply line stays within RFC 5321's 512 octets.
    long_sender = "k" * 230 + "@elsewhere.example"
    try:
        c.sendmail(ANNA, [DROP], msg("smtp-long-sender", sender=long_sender))
        t.fail("SMTP: a long unknown sender is refused")
    except smtplib.SMTPDataError as x:
        line = f"{x.smtp_code} ".encode() + x.smtp_error
        t.ok(len(line) + 2 <= 512 and b"..." in line, "SMTP: the reply to a 250-byte sender fits 512 octets",
             got=(len(line), line[:120]))

# ---- SIZE and too-large -----------------------------------------------------------------------
dlg = Dialog(SMTP)
dlg.reply()
dlg.send("EHLO t\r\n")
dlg.reply()
dlg.send("MAIL FROM:<anna.berg@alpha-agentur.example> SIZE=300000\r\n")
code, text = dlg.reply()
same((code, text[:5]), (552, "5.3.4"), "MAIL with SIZE over the limit: 552 5.3.4", detail=(code, text))
dlg.send("MAIL FROM:<anna.berg@alpha-agentur.example> SIZE=1000 BODY=8BITMIME\r\n")
t.eq(dlg.reply()[0], 250, "MAIL with SIZE under the limit and BODY=8BITMIME: 250")
dlg.send(f"RCPT TO:<{DROP}>\r\nDATA\r\n")
dlg.replies(2)
big = msg("too-big", body="x" * 100 + "\n" + ("Zeile mit Text " * 6 + "\n") * 3000)
dlg.send(dot_stuff(big))
code, text = dlg.reply()
same((code, text[:5]), (552, "5.3.4"), "a message over the limit without SIZE: 552 5.3.4 after DATA", detail=(code, text))
t.ok("too-large" in text, "… with the reason", got=text)
t.ok("at most 204800 bytes" in text, "… naming the limit the server announced", got=text)
dlg.send("NOOP\r\n")
t.eq(dlg.reply()[0], 250, "the session goes on after a too-large message")
dlg.close()
too_large = [x for x in t.rejected(d) if x.get("reason") == "too-large"]
t.ok(len(too_large) == 1, "the too-large mail is recorded as rejected", got=too_large)
t.ok(too_large and too_large[0].get("sender") == ANNA and too_large[0].get("message_id"),
     "… naming its sender and Message-ID (read from its head)", got=too_large)

# ---- command errors ---------------------------------------------------------------------------
dlg = Dialog(LMTP)
dlg.reply()
steps = [("MAIL FROM:<a@b.example>\r\n", 503, "MAIL before LHLO: 503"),
         ("EHLO x\r\n", 500, "EHLO on LMTP: 500 (RFC 2033 §4.1)"),
         ("LHLO x\r\n", 250, "LHLO"),
         ("RCPT TO:<crm@contactlog.example>\r\n", 503, "RCPT before MAIL: 503"),
         ("DATA\r\n", 503, "DATA before MAIL: 503"),
         ("MAIL FROM:<a@b.example>\r\n", 250, "MAIL"),
         ("MAIL FROM:<a@b.example>\r\n", 503, "a second MAIL: 503"),
         ("DATA\r\n", 554, "DATA without an accepted recipient: 554"),
         ("RCPT TO:<crm@contactlog.example> NOTIFY=NEVER\r\n", 555, "unknown RCPT parameter: 555"),
         ("RCPT TO:crm@contactlog.example\r\n", 501, "RCPT without brackets: 501"),
         ("FROB\r\n", 500, "unknown command: 500"),
         ("X" * 5000 + "\r\n", 500, "a 5000-byte line: 500 5.5.2"),
         ("NOOP\r\n", 250, "the session survives a long line"),
         ("RSET\r\n", 250, "RSET"),
         ("VRFY crm\r\n", 252, "VRFY: 252"),
         ("QUIT\r\n", 221, "QUIT")]
for line, want, what in steps:
    dlg.send(line)
    code, text = dlg.reply()
    same(code, want, f"LMTP {what}", detail=(code, text))
dlg.close()

# ---- a locked database: 451 4.3.0, nothing stored; the retry is accepted -----------------------
before = entries_by_mid(d)
db = sqlite3.connect(os.path.join(d, "contactlog.db"), isolation_level=None, timeout=30)
db.execute("BEGIN IMMEDIATE")
dlg = Dialog(LMTP, timeout=60)
t0 = time.monotonic()
_, reps = lmtp_transaction(dlg, [DROP], msg("locked-1"))
held = time.monotonic() - t0
db.execute("ROLLBACK")
db.close()
same([(c, x[:5]) for c, x in reps], [(451, "4.3.0")], "locked database: 451 4.3.0 after DATA", detail=reps)
t.ok(held < 30, "locked database: the answer comes within the busy timeout", got=held)
t.ok("<locked-1@serve.test>" not in entries_by_mid(d), "locked database: nothing stored")
_, reps = lmtp_transaction(dlg, [DROP], msg("locked-1"), lhlo=False)
same([c for c, _ in reps], [250], "after the lock: the retry in the same session is accepted", detail=reps)
dlg.close()
t.eq(len(entries_by_mid(d)), len(before) + 1, "after the lock: exactly one more entry")

# ---- many sessions at once, one of them slow ---------------------------------------------------
idle = []
for i in range(200):
    c = Dialog(LMTP)
    idle.append(c)
for c in idle:
    c.reply()
slow = Dialog(LMTP)
slow.reply()
slow.send("LHLO slow\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<crm@contactlog.example>\r\nDATA\r\n")
slow.replies(4)
slow.send(b"From: Anna Berg <anna.berg@alpha-agentur.example>\r\nSubject: langsam")  # and then nothing
t0 = time.monotonic()
results = []


def deliver_one(i):
    try:
        with smtplib.LMTP(*LMTP) as c:
            results.append(c.sendmail(ANNA, [DROP], msg(f"conc-{i}", subject=f"Lead 11111 Nr {i}")))
    except Exception as x:  # noqa: BLE001
        results.append(repr(x))


threads = [threading.Thread(target=deliver_one, args=(i,)) for i in range(20)]
for th in threads:
    th.start()
for th in threads:
    th.join(60)
took = time.monotonic() - t0
same(results, [{}] * 20, "200 idle sessions and a stalled one: 20 concurrent deliveries are accepted", detail=results)
t.ok(took < 20, "… without waiting for the stalled client", got=f"{took:.1f} s")
slow.send(b"\r\n\r\nText.\r\n.\r\n")
t.eq(slow.reply()[0], 250, "the slow client's mail is accepted when it finishes")
for c in idle + [slow]:
    c.close()
got = entries_by_mid(d)
t.eq(sum(1 for i in range(20) if f"<conc-{i}@serve.test>" in got), 20, "all 20 concurrent mails are stored")

# ---- the log: one key=value line per event, no personal data at level info ---------------------
log = srv.log_text()
lines = [l for l in log.splitlines() if l.strip()]
bad = [l for l in lines if not cltest.re.match(r"^ts=\S+ level=\w+ module=\w+ event=[\w-]+( \w+=(\"[^\"]*\"|\S+))*$", l)]
same(bad[:3], [], "every log line is ts=… level=… module=… event=… key=value", detail=bad[:3])
t.ok(any("event=message" in l and "status=pending" in l and "entry=" in l for l in lines),
     "a message line with status and entry")
t.ok(any("status=rejected reason=unknown-sender" in l for l in lines), "a rejection line with the reason")
t.ok(any("event=tempfail" in l and "reply=451" in l for l in lines), "the tempfail is logged with its reply")
t.ok("Angebot" not in log and ANNA not in log, "subjects and addresses are not logged at level info")

# The threads carry names an operator sees in top -H, ps -L and perf (Linux keeps 15 bytes;
# a longer name is refused and the thread is left as "contactlog").
names = set()
for task in os.listdir(f"/proc/{srv.proc.pid}/task"):
    try:
        with open(f"/proc/{srv.proc.pid}/task/{task}/comm") as f:
            names.add(f.read().strip())
    except FileNotFoundError:
        pass  # a parse thread that ended meanwhile
same(sorted(n for n in names if n in ("cl-store", "cl-checkpoint", "cl-index")),
     ["cl-checkpoint", "cl-index", "cl-store"], "the server's threads are named", detail=sorted(names))

# ---- SIGHUP: the configuration file is read again ------------------------------------------------
conf = os.path.join(d, "contactlog.conf")
with open(conf, "w") as f:
    f.write("[server]\nmax_rcpts = 1\n")
srv.signal(signal.SIGHUP)
time.sleep(1.0)
dlg = Dialog(LMTP)
dlg.reply()
dlg.send("LHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<crm@contactlog.example>\r\nRCPT TO:<crm@contactlog.example>\r\n")
reps = dlg.replies(4)
same([c for c, _ in reps], [250, 250, 250, 452], "after SIGHUP: max_rcpts = 1 from the file (452 4.5.3)", detail=reps)
t.ok("SIZE 204800" in reps[0][1], "after SIGHUP: the command line's --max-message-size still holds", got=reps[0])
dlg.close()
t.ok("event=reloaded" in srv.log_text(), "the reload is logged")
os.unlink(conf)

# ---- SIGTERM: the transaction in flight finishes, idle sessions get 421, new ones are refused ----
idle = Dialog(LMTP)
idle.reply()
busy = Dialog(LMTP)
busy.reply()
busy.send("LHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<crm@contactlog.example>\r\nDATA\r\n")
busy.replies(4)
busy.send(b"From: Anna Berg <anna.berg@alpha-agentur.example>\r\nMessage-ID: <term-1@serve.test>\r\nSubject: Lead 11111\r\n")
time.sleep(0.3)
srv.signal(signal.SIGTERM)
code, text = idle.reply()
same((code, text[:5]), (421, "4.3.2"), "SIGTERM: an idle session is told 421 4.3.2", detail=(code, text))
time.sleep(0.3)
try:
    socket.create_connection(LMTP, timeout=2).close()
    t.fail("SIGTERM: new sessions are refused")
except OSError:
    t.ok(True, "SIGTERM: new sessions are refused")
busy.send(b"\r\nDer Rest.\r\n.\r\n")
code, text = busy.reply()
same(code, 250, "SIGTERM: the message in flight is accepted", detail=(code, text))
t.eq(busy.reply()[0], 421, "… and then the session is closed with 421")
rc = srv.stop()
t.eq(rc, 0, "serve exits 0 after SIGTERM")
t.ok("<term-1@serve.test>" in entries_by_mid(d), "the message in flight is stored")
t.ok(not os.path.exists(sock_path), "the Unix socket is removed on exit")
t.ok("event=stopped" in srv.log_text(), "the stop is logged")

# ---- idle timeout and max_sessions ---------------------------------------------------------------
srv = Server(t, d, ["--lmtp", f"127.0.0.1:{free_port()}"],
             env={"CONTACTLOG_IDLE_TIMEOUT": "1", "CONTACTLOG_MAX_SESSIONS": "3"}).start()
LMTP = srv.address("lmtp")
a = Dialog(LMTP)
t.eq(a.reply()[0], 220, "greeting")
t0 = time.monotonic()
code, text = a.reply()
same((code, text[:5]), (421, "4.4.2"), "a silent session is closed after idle_timeout with 421 4.4.2", detail=(code, text))
t.ok(time.monotonic() - t0 < 10, "… after about a second")
# a client that pipelines megabytes of commands and never reads a reply: the server stops
# reading, tells it 421 after the idle timeout and closes it a grace time later
deaf = socket.create_connection(LMTP)
deaf.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
deaf.settimeout(0.5)
sent = 0
t0 = time.monotonic()
while time.monotonic() - t0 < 3:
    try:
        sent += deaf.send(b"NOOP\r\n" * 4096)
    except (socket.timeout, BlockingIOError):
        pass
    except OSError:
        break
t.ok(sent < 20 * 1024 * 1024, "a client that never reads: the server stops taking its input", got=sent)
with smtplib.LMTP(*LMTP) as c:
    t.eq(c.noop()[0], 250, "meanwhile another session is served")
deadline = time.monotonic() + 20
while time.monotonic() < deadline and "why=timeout" not in srv.log_text():
    time.sleep(0.5)
t.ok("why=timeout" in srv.log_text(),
     "the client that never reads is closed after the idle timeout and a grace time", got=srv.log_text()[-1500:])
deaf.close()
conns = [Dialog(LMTP) for _ in range(3)]
for c in conns:
    c.reply()
extra = Dialog(LMTP)
code, text = extra.reply()
same((code, text[:5]), (421, "4.3.2"), "max_sessions reached: the next session gets 421 4.3.2", detail=(code, text))
for c in conns + [a, extra]:
    c.close()
srv.stop()

# ---- SIGKILL in the middle of deliveries: what got 250 is stored, the rest is retried -------------
srv = Server(t, d, ["--lmtp", f"127.0.0.1:{free_port()}"]).start()
LMTP = srv.address("lmtp")
acked = set()
lock = threading.Lock()


def hammer(k):
    for i in range(400):
        mid = f"kill-{k}-{i}"
        try:
            with smtplib.LMTP(*LMTP, timeout=20) as c:
                if c.sendmail(ANNA, [DROP], msg(mid)) == {}:
                    with lock:
                        acked.add(f"<{mid}@serve.test>")
        except (OSError, smtplib.SMTPException):
            return


threads = [threading.Thread(target=hammer, args=(k,)) for k in range(4)]
for th in threads:
    th.start()
time.sleep(1.5)
srv.proc.kill()
srv.wait()
for th in threads:
    th.join(60)
srv.stop()
t.ok(len(acked) > 0, "some messages were acknowledged before the kill", got=len(acked))
stored = set(entries_by_mid(d))
lost = sorted(acked - stored)
t.eq(lost, [], f"SIGKILL: every one of {len(acked)} acknowledged messages is stored")
r = t.run(["history", "--user", "anna", "--json"], data_dir=d)
t.exit_status(r, 0, "the database is readable after SIGKILL")
srv = Server(t, d, ["--lmtp", f"127.0.0.1:{free_port()}"]).start()
LMTP = srv.address("lmtp")
with smtplib.LMTP(*LMTP) as c:
    t.eq(c.sendmail(ANNA, [DROP], msg("after-kill")), {}, "after a restart, mail is accepted again")
srv.stop()

# ---- what a breaker found ------------------------------------------------------------------------
srv = Server(t, d, ["--lmtp", f"127.0.0.1:{free_port()}", "--max-message-size", "2000"],
             env={"CONTACTLOG_IDLE_TIMEOUT": "2"}).start()
LMTP = srv.address("lmtp")
before = set(entries_by_mid(d))
# SMTP smuggling: a bare LF before the dot does not end the data, so a second transaction
# hidden in the message is text of the first, not a forged mail
dlg = Dialog(LMTP)
dlg.reply()
dlg.send("LHLO x\r\nMAIL FROM:<outsider@evil.example>\r\nRCPT TO:<crm@contactlog.example>\r\nDATA\r\n")
dlg.replies(4)
dlg.send(b"From: <anna.berg@alpha-agentur.example>\r\nMessage-ID: <outer@serve.test>\r\nSubject: outer\r\n\r\n"
         b"hello\n.\nMAIL FROM:<anna.berg@alpha-agentur.example>\r\nRCPT TO:<crm@contactlog.example>\r\nDATA\r\n"
         b"From: <anna.berg@alpha-agentur.example>\r\nMessage-ID: <smuggled@serve.test>\r\nSubject: SMUGGLED\r\n\r\n"
         b"forged\r\n.\r\nNOOP\r\n")
reps = dlg.replies(2)
same([c for c, _ in reps], [250, 250], "smuggling: one reply for the message, then the NOOP", detail=reps)
after = set(entries_by_mid(d)) - before
same(sorted(after), ["<outer@serve.test>"], "smuggling: one entry; the hidden mail is not captured")
dlg.close()
# the size limit is the client's bytes as sent (CRLF counts two, as in SIZE), not our Received line
wire = (b"From: Anna Berg <anna.berg@alpha-agentur.example>\r\nSubject: Lead 11111 genau\r\n"
        b"Message-ID: <exact-size@serve.test>\r\n\r\n")
while len(wire) + 62 <= 2000:
    wire += b"x" * 60 + b"\r\n"
wire += b"y" * (2000 - len(wire) - 2) + b"\r\n"
stored_len = len(wire)  # 2000 bytes as sent, CRLF and all: what SIZE counts
with smtplib.LMTP(*LMTP) as c:
    try:
        t.eq(c.sendmail(ANNA, [DROP], wire), {}, f"a message of exactly the limit ({stored_len} bytes) is accepted")
    except smtplib.SMTPException as x:
        t.fail(f"a message of exactly the limit is accepted: {x}")
with smtplib.LMTP(*LMTP) as c:
    try:
        c.sendmail(ANNA, [DROP], wire.replace(b"genau", b"genau!"))
        t.fail("one byte over the limit is refused")
    except smtplib.SMTPSenderRefused as x:
        t.eq(x.smtp_code, 552, "one byte over the limit: 552 at MAIL (SIZE)")
# the same refused mail twice over LMTP is recorded once
refused = msg("refused-twice", sender="nobody@alpha-agentur.example")
n_before = len(t.rejected(d))
for _ in range(2):
    with smtplib.LMTP(*LMTP) as c:
        try:
            c.sendmail("nobody@alpha-agentur.example", [DROP], refused)
        except smtplib.SMTPDataError:
            pass
t.eq(len(t.rejected(d)) - n_before, 1, "the same refused mail over LMTP twice: recorded once")
# A mail without From from the MTA with MAIL FROM:<> (a bounce's envelope), then the same by
# import (no envelope at all): one record.
nofrom = (b"To: crm@contactlog.example\r\nSubject: Ohne Absender\r\nMessage-ID: <ohne-absender@test>\r\n"
          b"Date: Thu, 03 Dec 2026 10:00:00 +0100\r\n\r\nKein From.\r\n")
n_before = len(t.rejected(d))
with smtplib.LMTP(*LMTP) as c:
    try:
        c.sendmail("", [DROP], nofrom)
        t.fail("a mail without From is refused")
    except smtplib.SMTPDataError as x:
        t.ok(x.smtp_code >= 500, "a mail without From, MAIL FROM:<>: refused", got=x.smtp_code)
nofrom_file = os.path.join(t.tmpdir("nofrom"), "ohne-absender.eml")
with open(nofrom_file, "wb") as f:
    f.write(nofrom)
r = t.run(["import", nofrom_file], data_dir=d)
t.eq((r.lines() or [{}])[0].get("reason"), "malformed", "the same mail by import: malformed", r)
t.eq(len(t.rejected(d)) - n_before, 1, "a mail without From, by LMTP with <> and by import: recorded once")
# "crm"@ is crm@
dlg = Dialog(LMTP)
dlg.reply()
dlg.send('LHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<"crm"@contactlog.example>\r\n')
same([c for c, _ in dlg.replies(3)], [250, 250, 250], 'RCPT TO:<"crm"@…> is the drop address')
dlg.close()
# slowloris: a byte every 0.5 s does not keep a session past the idle timeout
import select  # noqa: E402
slow = socket.create_connection(LMTP)
slow.recv(4096)  # greeting
t0 = time.monotonic()
got = b""
while time.monotonic() - t0 < 15 and not got:
    try:
        slow.send(b"N")
    except OSError:
        break
    ready, _, _ = select.select([slow], [], [], 0.5)
    if ready:
        got = slow.recv(4096)
t.ok(got.startswith(b"421 4.4.2") and time.monotonic() - t0 < 10,
     "a byte every half second: closed with 421 4.4.2 after the idle timeout",
     got=(got[:80], round(time.monotonic() - t0, 1)))
slow.close()
srv.stop()

# a Unix socket path longer than sun_path: refused at start, not cut
long_path = "unix:" + os.path.join(t.tmpdir("long"), "x" * 120 + ".sock")
r = t.run(["serve", "--lmtp", long_path], data_dir=d, timeout=30)
t.ok(r.rc == 78 and "longer than" in r.err, "a socket path of more than 107 bytes: exit 78 with the reason", r)

# spool files of a killed server are removed at the next start
spool = os.path.join(d, "tmp", "spool-stale1")
with open(spool, "w") as f:
    f.write("x")
srv = Server(t, d, ["--lmtp", f"127.0.0.1:{free_port()}"]).start()
t.ok(not os.path.exists(spool), "a stale spool file in tmp/ is removed at start")
# … but not the spool file of a message another server is still receiving
LMTP = srv.address("lmtp")
dlg = Dialog(LMTP)
dlg.reply()
dlg.send(f"LHLO x\r\nMAIL FROM:<{ANNA}>\r\nRCPT TO:<{DROP}>\r\nDATA\r\n")
dlg.replies(4)
big_body = ("Zeile mit Text für die Spooldatei.\n" * 12000)  # about 430 KB: more than session_memory
wire = dot_stuff(msg("spool-in-use", body=big_body))
dlg.send(wire[:-5])  # all but the final dot
deadline = time.monotonic() + 10
while time.monotonic() < deadline and not any(n.startswith("spool-") for n in os.listdir(os.path.join(d, "tmp"))):
    time.sleep(0.05)
spooling = [n for n in os.listdir(os.path.join(d, "tmp")) if n.startswith("spool-")]
t.eq(len(spooling), 1, "a message of 430 KB on its way is spooled to tmp/")
second = Server(t, d, ["--lmtp", f"127.0.0.1:{free_port()}"]).start()
t.ok(all(os.path.exists(os.path.join(d, "tmp", n)) for n in spooling),
     "a second server starting on the directory leaves the spool file in use alone", got=os.listdir(os.path.join(d, "tmp")))
t.ok("spool-cleaned" not in second.log_text(), "… and says it cleaned nothing")
second.stop()
dlg.send(wire[-5:])
same([c for c, _ in dlg.replies(1)], [250], "the message is then stored (250)")
dlg.close()
srv.stop()

# out of file descriptors: waiting clients get 421, and the server does not spin
import resource  # noqa: E402


def low_files():
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


port = free_port()
argv = [t.binary, "serve", "--data-dir", d, "--lmtp", f"127.0.0.1:{port}"]
logf = open(os.path.join(t.tmpdir("emfile"), "serve.log"), "wb")
p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=logf, env=t.env, preexec_fn=low_files)
p.stdout.readline()
held, codes = [], []
for _ in range(100):
    try:
        c = Dialog(("127.0.0.1", port), timeout=3)
        held.append(c)
    except OSError:
        break
for c in held:
    try:
        codes.append(c.reply()[0])
    except OSError:
        codes.append(None)
t.ok(220 in codes and 421 in codes, "out of descriptors: the first sessions are greeted, later ones get 421",
     got=sorted(set(codes), key=str))
for c in held:
    c.close()
noop = None
for _ in range(20):  # the listener resumes 100 ms after a pause, the sessions close meanwhile
    time.sleep(0.3)
    try:
        with smtplib.LMTP("127.0.0.1", port) as c:
            noop = c.noop()[0]
            break
    except smtplib.SMTPConnectError:
        continue
t.eq(noop, 250, "out of descriptors: serving again once sessions are closed")
p.terminate()
p.wait(30)
logf.close()
with open(logf.name, errors="replace") as f:
    paused = f.read().count("event=accept-paused")
t.ok(0 < paused < 200, "out of descriptors: accepting pauses instead of spinning", got=paused)

# ---- a full disk: 451 4.3.0, and accepted once there is room again ---------------------------------
mnt = t.tmpdir("small-disk")
mounted = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3M", "tmpfs", mnt],
                                               capture_output=True).returncode == 0
if not mounted:
    print("[t-serve] full disk: not checked (mounting a small tmpfs needs root)")
else:
    try:
        fd = os.path.join(mnt, "data")
        r = t.run(["load", t.masterdata], data_dir=fd)
        t.exit_status(r, 0, "full disk: load into a 3 MB file system")
        srv = Server(t, fd, ["--lmtp", f"127.0.0.1:{free_port()}"]).start()
        LMTP = srv.address("lmtp")
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        attachment = "x" * 200000
        dlg = Dialog(LMTP)
        _, reps = lmtp_transaction(dlg, [DROP], msg("disk-full", body=attachment + "\n"))
        same([(c, x[:5]) for c, x in reps], [(451, "4.3.0")], "full disk: 451 4.3.0", detail=reps)
        os.unlink(filler)
        _, reps = lmtp_transaction(dlg, [DROP], msg("disk-full", body=attachment + "\n"), lhlo=False)
        same([c for c, _ in reps], [250], "full disk: accepted once there is room", detail=reps)
        dlg.close()
        srv.stop()
        r = t.run(["inbox", "--user", "anna", "--json"], data_dir=fd)
        t.eq(r.out.count("disk-full@serve.test"), 1, "full disk: stored exactly once", r)
    finally:
        subprocess.run(["umount", "-l", mnt], capture_output=True)

# ---- a failed transaction's bytes in the blob pack are cut off before it lets go of the lock ----------
# Mail over 64 KB goes to the blob pack; an upload that ends in 409 (a stale version) wrote its file
# there first and cuts it off again. That cut came after the rollback had let go of the write lock,
# and took the blob of a mail committed meanwhile: acknowledged with 250, its original broken.
def packs_intact(data_dir):
    """(blobs, broken): every blob in a pack read back and checked against its BLAKE2b."""
    import hashlib
    db = sqlite3.connect(f"file:{data_dir}/contactlog.db?mode=ro", uri=True)
    n, broken = 0, []
    for h, pack, off, size in db.execute("SELECT hash, pack, offset, size FROM blobs"):
        n += 1
        with open(os.path.join(data_dir, "blobs", f"pack-{pack:06d}"), "rb") as f:
            f.seek(off)
            data = f.read(size)
        if hashlib.blake2b(data, digest_size=32).hexdigest() != h:
            broken.append((h[:12], pack, off, size))
    db.close()
    return n, broken


def pack_race(seconds=4.0):
    import base64
    import http.client
    import json
    import uuid
    pd = t.data_dir()
    token = t.run(["token", "--user", "anna", "--name", "packs"], data_dir=pd).out.strip()
    srv = Server(t, pd, ["--lmtp", f"127.0.0.1:{free_port()}", "--http", f"127.0.0.1:{free_port()}"]).start()
    host, port = srv.address("http")

    def call(method, path, body, content_type):
        c = http.client.HTTPConnection(host, port, timeout=60)
        try:
            c.request(method, path, body, {"Authorization": "Bearer " + token, "Content-Type": content_type})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    try:
        status, answer = call("POST", "/api/v1/entries", json.dumps({"channel": "phone", "subject": "Anhänge"}),
                              "application/json")
        t.eq(status, 201, "packs: an entry to add files to")
        eid = json.loads(answer).get("id")
        stop, conflicts, other = threading.Event(), [0], []

        def conflicting():
            while not stop.is_set():
                b = uuid.uuid4().hex
                body = (f'--{b}\r\nContent-Disposition: form-data; name="entry"\r\n\r\n{{"version": 99}}\r\n'
                        f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="x.bin"\r\n'
                        f'Content-Type: application/octet-stream\r\n\r\n').encode() + os.urandom(150000) + \
                    f"\r\n--{b}--\r\n".encode()
                status, _ = call("POST", f"/api/v1/entries/{eid}/attachments", body,
                                 "multipart/form-data; boundary=" + b)
                if status == 409:
                    conflicts[0] += 1
                else:
                    other.append(status)

        threads = [threading.Thread(target=conflicting) for _ in range(2)]
        for th in threads:
            th.start()
        acked = 0
        deadline = time.monotonic() + seconds
        with smtplib.LMTP(*srv.address("lmtp")) as c:
            i = 0
            while time.monotonic() < deadline:
                big = base64.encodebytes(os.urandom(52000)).decode()  # about 70 KB of text
                try:
                    c.sendmail(ANNA, [DROP], msg(f"pack-{i}", body=big))
                    acked += 1
                except smtplib.SMTPException:
                    pass
                i += 1
        stop.set()
        for th in threads:
            th.join()
        t.eq(other, [], "packs: every upload with a stale version was 409")
        t.ok(acked > 10 and conflicts[0] > 10, "packs: mails acknowledged and uploads refused meanwhile",
             got=(acked, conflicts[0]))
    finally:
        srv.stop()
    n, broken = packs_intact(pd)
    t.ok(n >= acked > 0 and broken == [], f"packs: every blob of the {acked} acknowledged mails intact",
         got=(n, broken[:5], len(broken)))


pack_race()


# ---- `load` beside a running server: the passwords are checked before the write lock --------------
def load_beside_mail(users=30):
    """Loading master data again checks every password it names (argon2id, about 70 ms each); that
    once happened inside the transaction, and mail waited seconds for the write lock (451 after 9 s
    with 200 users). Now the lock is held only for the writing: mail meanwhile is answered at once."""
    import json
    ld = t.data_dir()
    with open(t.masterdata) as f:
        md = json.load(f)
    md["tenants"][0]["users"] += [{"key": f"u{i}", "name": f"Nutzer {i}", "role": "user",
                                   "password": f"kennwort-{i}-lang", "emails": [f"u{i}@alpha-agentur.example"]}
                                  for i in range(users)]
    big = os.path.join(t.tmpdir("load"), "viele-nutzer.json")
    with open(big, "w") as f:
        json.dump(md, f)
    t.exit_status(t.run(["load", big], data_dir=ld, timeout=300), 0, "load: 30 users with passwords")
    srv = Server(t, ld, ["--lmtp", f"127.0.0.1:{free_port()}"]).start()
    try:
        loading = subprocess.Popen([t.binary, "load", "--data-dir", ld, big], env=t.env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        slowest, n = 0.0, 0
        while loading.poll() is None:
            started = time.monotonic()
            with smtplib.LMTP(*srv.address("lmtp")) as c:
                c.sendmail(ANNA, [DROP], msg(f"beside-load-{n}"))
            slowest = max(slowest, time.monotonic() - started)
            n += 1
            time.sleep(0.05)
        rc = loading.wait()
        t.ok(rc == 0, "load: the same file again, beside the server", got=(rc, loading.stderr.read()))
        t.ok(n >= 5 and slowest < 1.0, f"load: {n} mails meanwhile, none waited a second for it",
             got=(n, round(slowest, 3)))
    finally:
        srv.stop()


load_beside_mail()

t.finish()
