#!/usr/bin/env python3
"""t-mta-clients: `contactlog serve` with real mail clients that are not ours — swaks (SMTP and
LMTP, with pipelining) and Postfix's smtp-source (LMTP mode, concurrent sessions, several
recipients) — and the result checked in the store."""
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
import cltest  # noqa: E402
from cltest import DROP, Server, free_port  # noqa: E402

t = cltest.Test(__file__)
swaks, smtp_source = shutil.which("swaks"), shutil.which("smtp-source") or (
    "/usr/sbin/smtp-source" if os.access("/usr/sbin/smtp-source", os.X_OK) else None)
if not swaks or not smtp_source:
    t.skip("swaks or smtp-source missing (scripts/install-deps installs them)")

ANNA = "anna.berg@alpha-agentur.example"
d = t.data_dir()
srv = Server(t, d, ["--lmtp", f"127.0.0.1:{free_port()}", "--smtp", f"127.0.0.1:{free_port()}"]).start()
lhost, lport = srv.address("lmtp")
shost, sport = srv.address("smtp")


def run(argv, timeout=120):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def inbox():
    r = t.run(["inbox", "--user", "anna", "--json", "--limit", "100000"], data_dir=d)
    return r.json() if r.rc == 0 else []


# ---- swaks over SMTP: accepted, with the reply naming the entry -----------------------------------
rc, out = run([swaks, "--server", f"{shost}:{sport}", "--from", ANNA, "--to", DROP,
               "--header", "From: Anna Berg <anna.berg@alpha-agentur.example>",
               "--header", "To: Jürgen Müller <j.mueller@acme-maschinen.example>",
               "--header", "Subject: Lead 11112 Abstimmung per swaks",
               "--header", "Message-ID: <swaks-smtp@mta.test>",
               "--body", "Hallo Herr Müller,\n\nwie besprochen.\n", "--pipeline"])
t.eq(rc, 0, "swaks --pipeline over SMTP: exit 0", cltest.Result(["swaks"], rc, out.encode(), b"", 0))
t.ok("<-  250 2.0.0 Captured as entry" in out, "swaks sees 250 2.0.0 with the entry", got=out[-1500:])

# ---- swaks over LMTP ---------------------------------------------------------------------------
rc, out = run([swaks, "--protocol", "LMTP", "--server", f"{lhost}:{lport}", "--from", ANNA, "--to", DROP,
               "--header", "From: Anna Berg <anna.berg@alpha-agentur.example>",
               "--header", "To: Jürgen Müller <j.mueller@acme-maschinen.example>",
               "--header", "Subject: Lead 11113 per LMTP",
               "--header", "Message-ID: <swaks-lmtp@mta.test>"])
t.eq(rc, 0, "swaks --protocol LMTP: exit 0", cltest.Result(["swaks"], rc, out.encode(), b"", 0))
t.ok(f"250 2.0.0 <{DROP}> Captured as entry" in out, "swaks LMTP: the reply names the recipient and entry",
     got=out[-1500:])

# ---- swaks: an unknown sender is refused with the reason ----------------------------------------
rc, out = run([swaks, "--server", f"{shost}:{sport}", "--from", "x@unbekannt.example", "--to", DROP,
               "--header", "From: x@unbekannt.example", "--header", "Message-ID: <swaks-unknown@mta.test>"])
t.ok(rc != 0 and "550 5.7.1 Rejected (unknown-tenant)" in out, "swaks: unknown tenant refused with 550 5.7.1 and the reason",
     got=out[-1500:])
# and a foreign recipient at RCPT
rc, out = run([swaks, "--server", f"{shost}:{sport}", "--from", ANNA, "--to", "someone@example.org",
               "--header", f"From: {ANNA}"])
t.ok(rc != 0 and "550 5.1.1" in out, "swaks: a recipient that is no drop address gets 550 5.1.1", got=out[-1500:])

by_mid = {e.get("message_id"): e for e in inbox()}
for mid, lead in [("swaks-smtp@mta.test", "11112"), ("swaks-lmtp@mta.test", "11113")]:
    e = by_mid.get(mid) or by_mid.get(f"<{mid}>")
    if t.ok(e is not None, f"{mid}: in anna's inbox", got=sorted(by_mid)[:10]):
        t.eq((e.get("lead") or {}).get("number") if isinstance(e.get("lead"), dict) else e.get("lead"), lead,
             f"{mid}: lead from the subject")

# ---- smtp-source: 200 messages of 10 KB in LMTP mode over 10 concurrent sessions ------------------
# (its -r N numbers the recipients 1crm@, 2crm@…, which are not drop addresses: one recipient)
before = len(inbox())
rc, out = run([smtp_source, "-L", "-s", "10", "-m", "200", "-l", "10240", "-c",
               "-f", ANNA, "-t", DROP, "-S", "Lead 11111 Lasttest", f"{lhost}:{lport}"], timeout=300)
t.eq(rc, 0, "smtp-source -L -s 10 -m 200 -l 10240: exit 0", cltest.Result(["smtp-source"], rc, out.encode(), b"", 0))
after = inbox()
t.eq(len(after) - before, 200, "smtp-source: 200 new entries")
new = after[:200]
t.ok(all(e.get("state") == "pending" for e in new), "smtp-source: every entry pending review")
log = srv.log_text()
t.eq(log.count("bytes=10") and sum(1 for l in log.splitlines() if "status=pending" in l and "bytes=10" in l), 200,
     "server log: 200 messages of about 10 KB answered 250")
t.eq(srv.stop(), 0, "serve stops with exit 0")
t.finish()
