#!/usr/bin/env python3
"""End-to-end proof that tests/blackbox/mtahost.py works (stdlib only).

Starts a private Dovecot (IMAP + LMTP) and a private Postfix relaying contactlog.example
to Dovecot's LMTP; sends 3 mails by SMTP (smtplib), waits for them in the Maildir, reads
them back over IMAP (imaplib); drives Dovecot's LMTP with Postfix's smtp-source (20 mails)
and dovecot-lda (1 mail); runs a second Postfix at the same time whose LMTP target (a
unix socket served here) answers 451 once, and sees the deferral and the retry; finally
checks that every process of the three instances is gone.

    python3 tests/blackbox/mtahost_selfcheck.py        # exit 0 ok, 1 failed, 77 skipped

The work directory is removed on success and kept (path printed) on failure or with
CL_KEEP_TMP=1.
"""
import imaplib
import os
import shutil
import smtplib
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtahost  # noqa: E402

NAME = "mtahost_selfcheck"
DOMAIN = "contactlog.example"
USER, PASSWORD = "crm", "secret"
RCPT = f"{USER}@{DOMAIN}"


class Checks:
    def __init__(self):
        self.n = self.failed = 0

    def ok(self, cond, what, detail=""):
        self.n += 1
        if cond:
            print(f"ok   {what}")
        else:
            self.failed += 1
            print(f"FAIL [{NAME}] {what}" + (f"\n     {detail}" if detail else ""))
        return cond


class FlakyLMTP(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """A minimal LMTP server on a unix socket: the first message gets
    "451 4.3.0" for its recipient, every later one "250"."""
    daemon_threads = True

    def __init__(self, path):
        self.received, self.replies = [], []
        self.lock = threading.Lock()
        super().__init__(path, FlakyHandler)
        os.chmod(path, 0o666)  # Postfix's lmtp client runs as user postfix


class FlakyHandler(socketserver.StreamRequestHandler):
    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        srv, rcpts = self.server, 0
        self.reply("220 flaky LMTP")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb == b"LHLO":
                self.reply("250-flaky\r\n250-PIPELINING\r\n250 8BITMIME")
            elif verb == b"MAIL":
                rcpts = 0
                self.reply("250 2.1.0 ok")
            elif verb == b"RCPT":
                rcpts += 1
                self.reply("250 2.1.5 ok")
            elif verb == b"DATA":
                self.reply("354 go ahead")
                data = b""
                while True:
                    chunk = self.rfile.readline()
                    if chunk in (b".\r\n", b""):
                        break
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                with srv.lock:
                    first = not srv.replies
                    code = "451 4.3.0 try again later" if first else "250 2.0.0 stored"
                    srv.replies.append(code)
                    if not first:
                        srv.received.append(data)
                for _ in range(rcpts):
                    self.reply(code)
            elif verb == b"QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


def imap_inbox(dc):
    """(count, {subject: body}) of the INBOX read over IMAP."""
    with imaplib.IMAP4("127.0.0.1", dc.imap_port) as im:
        im.login(USER, PASSWORD)
        typ, data = im.select("INBOX", readonly=True)
        count = int(data[0])
        typ, data = im.search(None, "ALL")
        found = {}
        for num in data[0].split():
            typ, parts = im.fetch(num, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT])")
            head, text = parts[0][1], parts[1][1]
            subject = head.decode().split(":", 1)[1].strip() if b":" in head else ""
            found[subject] = text.decode(errors="replace")
        typ, data = im.search(None, "SUBJECT", '"mtahost selfcheck"')
        by_subject = len(data[0].split())
        im.logout()
    return count, found, by_subject


def main():
    c = Checks()
    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix=f"cl-{NAME}-")
    try:
        dc = mtahost.Dovecot(os.path.join(tmp, "dovecot"), users={USER: PASSWORD})
        pf = mtahost.Postfix(os.path.join(tmp, "postfix"), mtahost.free_port(), DOMAIN,
                             f"inet:127.0.0.1:{dc.lmtp_port}")
        flaky_sock = os.path.join(tmp, "flaky-lmtp.sock")
        pf2 = mtahost.Postfix(os.path.join(tmp, "postfix2"), mtahost.free_port(), DOMAIN,
                              "unix:" + flaky_sock)
    except mtahost.Unavailable as e:
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"[{NAME}] skipped: {e}")
        return 77

    pgids = []
    try:
        with dc, pf:
            pgids += [dc.pgid, pf.pgid]
            print(f"     dovecot started in {dc.start_seconds:.2f} s (IMAP {dc.imap_port}, "
                  f"LMTP {dc.lmtp_port}), postfix in {pf.start_seconds:.2f} s (SMTP {pf.smtp_port})")
            for port in (pf.smtp_port, dc.imap_port, dc.lmtp_port):
                c.ok(listen_addrs(port) == {"127.0.0.1"}, f"port {port} listens on 127.0.0.1 only",
                     f"listening on {listen_addrs(port)}")
            c.ok(not any(listen_addrs(p) for p in (25, 143, 24, 993)),
                 "nothing listens on the system ports 25/143/24/993")

            # 1. three mails through Postfix -> LMTP -> Dovecot
            subjects = [f"mtahost selfcheck {i}" for i in range(1, 4)]
            with smtplib.SMTP("127.0.0.1", pf.smtp_port, timeout=30) as s:
                for i, subj in enumerate(subjects, 1):
                    msg = (f"From: Alice <a@x.example>\r\nTo: <{RCPT}>\r\nSubject: {subj}\r\n"
                           f"Message-ID: <selfcheck-{i}@x.example>\r\n\r\nbody {i}\r\n")
                    s.sendmail("a@x.example", [RCPT], msg)
            c.ok(pf.wait_empty(30), "postfix queue empty after 3 mails", str(pf.queue()))
            c.ok(dc.wait_messages(USER, 3, 30), "3 mails in the Maildir",
                 f"{len(dc.messages(USER))} there\n{pf.log()[-2000:]}\n{dc.log()[-2000:]}")
            pf.wait_log(r"(?s)(status=sent.*?){3}", 10)  # postlogd writes after the queue empties
            c.ok(pf.log().count("status=sent") == 3, "postfix log: 3 x status=sent via lmtp",
                 pf.log()[-2000:])
            c.ok(all(os.stat(m).st_uid == dc.uid for m in dc.messages(USER)),
                 "Maildir files belong to the mail user")

            # 2. read them back over IMAP
            count, found, by_subject = imap_inbox(dc)
            c.ok(count == 3, "IMAP: SELECT INBOX has 3 messages", f"{count}")
            c.ok(set(found) == set(subjects), "IMAP: FETCH gives the 3 subjects", f"{sorted(found)}")
            c.ok(all(found.get(s, "").strip() == f"body {i}" for i, s in enumerate(subjects, 1)),
                 "IMAP: FETCH gives the bodies", str(found))
            c.ok(by_subject == 3, "IMAP: SEARCH SUBJECT finds 3", f"{by_subject}")

            # 3. smtp-source in LMTP mode straight into Dovecot
            src = mtahost._find("smtp-source")
            args = [src, "-L", "-c", "-s", "2", "-m", "20", "-l", "10240", "-f", "a@x.example",
                    "-t", RCPT, f"127.0.0.1:{dc.lmtp_port}"]
            t1 = time.monotonic()
            r = subprocess.run(args, capture_output=True, text=True, timeout=120)
            secs = time.monotonic() - t1
            c.ok(r.returncode == 0, f"smtp-source -L -s 2 -m 20 -l 10240 exits 0 ({secs:.2f} s)",
                 f"rc {r.returncode}: {r.stderr}")
            # -c prints "1\r2\r...20\r\n" (text mode turns the \r into newlines)
            c.ok(r.stdout.split()[-1:] == ["20"], "smtp-source -c counted 20",
                 repr(r.stdout[-40:]))
            c.ok(dc.wait_messages(USER, 23, 30), "23 mails in the Maildir after smtp-source",
                 f"{len(dc.messages(USER))}\n{dc.log()[-2000:]}")
            new = [m for m in dc.messages(USER) if "selfcheck" not in open(m, errors="replace").read()]
            ids = set()
            for m in new:
                with open(m, "rb") as f:
                    for line in f.read().split(b"\n\n", 1)[0].split(b"\n"):
                        if line.lower().startswith(b"message-id:"):
                            ids.add(line)
            c.ok(len(new) == 20 and len(ids) == 20, "the 20 smtp-source mails have 20 Message-IDs",
                 f"{len(new)} mails, {len(ids)} ids")
            c.ok(all(os.path.getsize(m) > 10240 for m in new), "each smtp-source mail > 10240 bytes")

            # 4. dovecot-lda
            eml = os.path.join(tmp, "lda.eml")
            with open(eml, "w") as f:
                f.write("From: b@x.example\nTo: crm@contactlog.example\n"
                        "Subject: mtahost lda\nMessage-ID: <lda@x.example>\n\nvia lda\n")
            dc.deliver_file(USER, eml)
            c.ok(dc.wait_messages(USER, 24, 10), "dovecot-lda put 1 more mail in the INBOX")
            count, found, _ = imap_inbox(dc)
            c.ok(count == 24 and "mtahost lda" in found, "IMAP sees 24 messages, the LDA one too",
                 f"{count}")

            # 5. a second Postfix at the same time; its LMTP (unix socket) says 451 once
            flaky = FlakyLMTP(flaky_sock)
            threading.Thread(target=flaky.serve_forever, daemon=True).start()
            try:
                with pf2:
                    pgids.append(pf2.pgid)
                    c.ok(pf.running() and pf2.running() and pf.master_pid() != pf2.master_pid(),
                         "two Postfix instances run at once")
                    with smtplib.SMTP("127.0.0.1", pf2.smtp_port, timeout=30) as s:
                        s.sendmail("a@x.example", [RCPT],
                                   f"From: a@x.example\r\nTo: {RCPT}\r\nSubject: retry\r\n\r\nonce more\r\n")
                    m = pf2.wait_log(r"status=deferred \(host .* said: 451 4\.3\.0", 20)
                    c.ok(m is not None, "postfix2 log: deferred after 451", pf2.log()[-2000:])
                    q = pf2.queue()
                    c.ok(pf2.wait_empty(30), "postfix2 retried and its queue is empty",
                         f"{pf2.queue()}\n{pf2.log()[-2000:]}")
                    c.ok(len(flaky.received) == 1 and b"once more" in flaky.received[0],
                         "the flaky LMTP server got the mail on the retry",
                         f"replies {flaky.replies}")
                    pf2.wait_log(r"status=sent", 10)
                    c.ok(pf2.log().count("status=sent") == 1, "postfix2 log: status=sent once")
                    print(f"     queue while deferred: {q}")
                    times = [line.split()[2] for line in pf2.log().splitlines()
                             if "status=deferred" in line or "status=sent" in line]
                    print(f"     deferred at {times[0] if times else '?'}, "
                          f"sent at {times[-1] if times else '?'}")
            finally:
                flaky.shutdown()
                flaky.server_close()
            c.ok(not pf2.running(), f"postfix2 stopped in {pf2.stop_seconds or 0:.2f} s")
    except Exception as e:  # the harness itself failed
        c.ok(False, "harness ran without an exception", repr(e))
    finally:
        for inst in (pf2, pf, dc):
            inst.stop()
    print(f"     postfix stopped in {pf.stop_seconds or 0:.2f} s, "
          f"dovecot in {dc.stop_seconds or 0:.2f} s")
    left = [p for g in pgids for p in mtahost.group_pids(g)]
    c.ok(not left, "no process of any instance is left", f"left: {left}")
    c.ok(not any(listen_addrs(p) for p in (pf.smtp_port, pf2.smtp_port, dc.imap_port, dc.lmtp_port)),
         "their ports are closed")

    if c.failed or os.environ.get("CL_KEEP_TMP"):
        print(f"     kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"[{NAME}] {c.n} checks, {c.failed} failed ({time.monotonic() - t0:.1f} s)")
    return 1 if c.failed else 0


def listen_addrs(port):
    """Local IPv4/IPv6 addresses with a listening TCP socket on port (from /proc)."""
    out = set()
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            addr, p = local.split(":")
            if state != "0A" or int(p, 16) != port:
                continue
            if v6:
                out.add("::" if int(addr, 16) == 0 else addr)
            else:
                out.add(".".join(str(b) for b in reversed(bytes.fromhex(addr))))
    return out


if __name__ == "__main__":
    sys.exit(main())
