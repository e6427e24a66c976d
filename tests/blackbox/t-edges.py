#!/usr/bin/env python3
"""t-edges: what a newcomer ran into — a mistyped data directory, paging a history whose
entries are not in id order, options that contradict each other, a locked database during
import, the same rejected mail imported twice, and the reviewer's changes as reasons."""
import os
import sqlite3
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import cltest  # noqa: E402
from cltest import mail

t = cltest.Test(__file__)
d = t.data_dir()
ANNA = "Anna Berg <anna.berg@alpha-agentur.example>"


def m(subject, mid, to="j.mueller@acme-maschinen.example", frm=ANNA):
    return mail([("From", frm), ("To", to), ("Subject", subject),
                 ("Date", "Wed, 11 Nov 2026 14:00:00 +0100"), ("Message-ID", f"<{mid}@edges.example>")],
                f"Text zu {subject}.\n")


# ---- a data directory that does not exist --------------------------------------------------
missing = os.path.join(t.tmpdir("typo"), "no", "such", "dir")
r = t.deliver(m("Tippfehler", "typo"), missing)
t.exit_status(r, 75, "deliver into a data directory that does not exist: try again later")
t.ok("no contactlog data" in r.err, "deliver: stderr says there is no data there", r)
t.ok(not os.path.exists(missing), "deliver does not create the data directory", got=missing)
for args in (["inbox", "--user", "anna"], ["show", "1"], ["history", "--company", "acme"],
             ["rejected"], ["import", t.masterdata]):
    r = t.run(args, data_dir=missing)
    t.exit_status(r, 66, f"{args[0]} on a missing data directory")
    t.ok(not os.path.exists(missing), f"{args[0]} does not create the data directory")

# ---- history paging: newest first by contact time, every entry once -------------------------
times = ["2026-11-01T10:00", "2025-01-01T09:00", "2026-11-20T08:00", "2026-11-01T10:00",
         "2024-06-30T12:00", "2026-10-05T16:30", "2026-11-01T10:00"]
added = []
for i, when in enumerate(times):
    r = t.run(["add", "--user", "anna", "--company", "acme", "--channel", "Telefon",
               "--subject", f"Anruf {i}", "--time", when, "--json"], data_dir=d)
    t.exit_status(r, 0, f"add call {i}")
    added.append((r.json() or {}).get("id"))
pages, before = [], None
for _ in range(10):
    args = ["history", "--tenant", "alpha", "--company", "acme", "--limit", "3"] + \
        (["--before", str(before)] if before else [])
    page = t.listing(args, d, "history page")
    if not page:
        break
    pages.append([e.get("id") for e in page])
    before = page[-1].get("id")
seen = [i for p in pages for i in p]
t.ok(sorted(seen) == sorted(added), "paging with --before shows every entry exactly once",
     got=pages, wanted=added)
full = t.listing(["history", "--tenant", "alpha", "--company", "acme", "--limit", "100"], d,
                 "history, one page")
stamps = [e.get("contact_time") for e in full]
t.eq(stamps, sorted(stamps, reverse=True), "history is newest first by contact time")
t.eq([e.get("id") for e in full], seen, "pages follow the order of one long page")
r = t.run(["history", "--tenant", "alpha", "--company", "acme", "--before", "999999"], data_dir=d)
t.exit_status(r, 66, "history --before an entry that does not exist")

# The review inbox is newest first by contact time too.
for i, date in enumerate(["Mon, 02 Nov 2026 09:00:00 +0100", "Fri, 01 Jan 2021 09:00:00 +0100",
                          "Tue, 03 Nov 2026 09:00:00 +0100"]):
    mm = mail([("From", ANNA), ("To", "j.mueller@acme-maschinen.example"), ("Subject", f"Post {i}"),
               ("Date", date), ("Message-ID", f"<inbox{i}@edges.example>")], "x\n")
    t.exit_status(t.deliver(mm, d), 0, f"deliver inbox mail {i}")
inbox = t.listing(["inbox", "--user", "anna"], d, "inbox")
stamps = [e.get("contact_time") for e in inbox]
t.eq(stamps, sorted(stamps, reverse=True), "inbox is newest first by contact time")


# ---- contradictions and bad values: one sentence, exit 64 -------------------------------------
def usage(args, what):
    r = t.run(args, data_dir=d)
    t.exit_status(r, 64, what)
    t.eq(len([l for l in r.err.splitlines() if l.strip()]), 1, f"{what}: one line on stderr", r)


entry = (t.one_line(t.deliver(m("Widerspruch", "contra"), d), "deliver contra") or {}).get("entry")
usage(["confirm", str(entry), "--lead", "11111", "--no-lead"], "confirm --lead with --no-lead")
usage(["show", str(entry), "--attachment", "0"], "show --attachment 0")
usage(["show", str(entry), "--raw", "--json"], "show --raw --json")
usage(["history", "--tenant", "alpha", "--company", "acme", "--before", "0"], "history --before 0")
usage(["history", "--tenant", "alpha", "--company", "acme", "--before", "-5"], "history --before -5")
usage(["add", "--user", "anna", "--channel", "phone", "--subject", "  "], "add with an empty subject")
r = t.run(["add", "--user", "anna", "--channel", "phone", "--subject", "x", "--attach",
           t.tmpdir("adir")], data_dir=d)
t.exit_status(r, 66, "add --attach a directory")
missing = os.path.join(t.tmpdir("nofile"), "none.json")
r = t.run(["load", missing], data_dir=d)
t.exit_status(r, 66, "load of a file that does not exist")
# The temporary directory's random name may hold a "-1" itself ("cl-t-edges-1llc5dae").
t.ok("-1" not in r.err.replace(missing, "FILE"), "load: no line/column noise for a missing file", r)
r = t.run(["load", t.tmpdir("dir")], data_dir=d)
t.exit_status(r, 66, "load of a directory")

# ---- the reviewer's changes are reasons ------------------------------------------------------
r = t.run(["confirm", str(entry), "--company", "baum", "--json"], data_dir=d)
t.exit_status(r, 0, "confirm into another company")
reasons = (r.json() or {}).get("reasons") or []
t.ok({"field": "company", "rule": "review", "detail": "baum (was acme)"} in reasons,
     "the company change is a reason", got=reasons)
t.ok(any(x.get("field") == "contact" and x.get("rule") == "review" for x in reasons),
     "dropping the old company's contacts is a reason", got=reasons)
e2 = (t.one_line(t.deliver(m("Konflikt Lead 22222", "conflict"), d), "deliver conflict") or {})
r = t.run(["confirm", str(e2.get("entry")), "--lead", "11111"], data_dir=d)
if r.rc != 0:
    t.ok("--company" in r.err and "--no-lead" in r.err,
         "a lead of another company: the message names the way out", r)

# ---- the same rejected mail, imported twice: one rejection record ------------------------------
src = t.tmpdir("rej")
bad = os.path.join(src, "fremd.eml")
with open(bad, "wb") as f:
    f.write(m("Fremd", "foreign", frm="Einkauf <einkauf@acme-maschinen.example>"))
before = len(t.rejected(d))
for n in (1, 2):
    r = t.run(["import", src], data_dir=d)
    t.exit_status(r, 0, f"import of a rejected mail, run {n}")
    line = (r.lines() or [{}])[0]
    t.eq(line.get("status"), "rejected", f"run {n}: rejected", r)
    t.eq(line.get("origin"), bad, f"run {n}: the line names the file", r)
t.eq(len(t.rejected(d)) - before, 1, "the same mail refused twice is recorded once")

# ---- import while another process holds the write lock: error lines, nothing lost -------------
lockdir = t.tmpdir("locked")
paths = []
for i in range(3):
    p = os.path.join(lockdir, f"{i}.eml")
    with open(p, "wb") as f:
        f.write(m(f"Gesperrt {i}", f"locked{i}"))
    paths.append(p)
db = sqlite3.connect(os.path.join(d, "contactlog.db"), timeout=30)
db.execute("BEGIN IMMEDIATE")
r = t.run(["import", lockdir], data_dir=d, timeout=60)
db.rollback()
db.close()
t.exit_status(r, 75, "import while the database is locked: try again later")
lines = r.lines()
t.eq(len(lines), 3, "one line per message even when nothing could be stored", r)
t.eq([x.get("status") for x in lines], ["error"] * 3, "every line says error", r)
t.eq([x.get("origin") for x in lines], paths, "error lines name their files", r)
summary = cltest.import_summary(r.err) or {}
t.ok("3 not stored" in r.err, "the summary counts them as not stored", r)
r = t.run(["import", lockdir], data_dir=d)
t.exit_status(r, 0, "the same import again, unlocked")
t.eq([x.get("status") for x in r.lines()], ["pending"] * 3, "now all three are stored", r)

# ---- tolerant subject numbers: a tenant setting, strict by default (issue 3, item 7) ----------
import json as _json
md2 = os.path.join(t.tmpdir("tolerant"), "gamma.json")
with open(md2, "w", encoding="utf-8") as f:
    _json.dump({"drop_addresses": ["crm@contactlog.example"], "tenants": [{
        "key": "gamma", "name": "Gamma", "domains": ["gamma.example"],
        "settings": {"subject_numbers": "tolerant"},
        "users": [{"key": "gina", "name": "Gina", "role": "user", "emails": ["gina@gamma.example"]}],
        "companies": [{"key": "kunde", "name": "Kunde", "domains": [],
                       "contacts": [{"key": "k", "name": "K", "emails": ["k@kunde.example"]}],
                       "leads": [{"number": "55555", "name": "Flyer"}], "projects": []}]}]}, f)
t.exit_status(t.run(["load", md2], data_dir=d), 0, "load a tenant with tolerant subject numbers")
for subject, lead in [("Angebot (55555)", "55555"), ("#55555 Termin", "55555"), ("55555: Termin", "55555"),
                      ("A55555", None), ("55555b", None)]:
    mm = mail([("From", "gina@gamma.example"), ("To", "k@kunde.example"), ("Subject", subject),
               ("Date", "Wed, 11 Nov 2026 14:00:00 +0100"), ("Message-ID", f"<tol-{subject}@x>")], "x\n")
    res = t.one_line(t.deliver(mm, d), f"tolerant: {subject}") or {}
    t.eq(res.get("lead"), lead, f"tolerant tenant: {subject!r} -> lead {lead}")
# The strict tenant alpha, the same way of writing: no lead.
mm = mail([("From", ANNA), ("To", "j.mueller@acme-maschinen.example"), ("Subject", "Angebot (11111)"),
           ("Date", "Wed, 11 Nov 2026 14:00:00 +0100"), ("Message-ID", "<strict-paren@x>")], "x\n")
t.eq((t.one_line(t.deliver(mm, d), "strict (11111)") or {}).get("lead"), None,
     "strict tenant: '(11111)' names no lead")


# ---- add --time: with and without seconds, zone, T or a space ---------------------------------------
# Without a zone it is the local time of TZ; a zone named wins over TZ.
for when, tz, want in [("2026-12-03T14:30", "Europe/Berlin", "2026-12-03T13:30:00Z"),
                       ("2026-12-03 14:30", "Europe/Berlin", "2026-12-03T13:30:00Z"),
                       ("2026-12-03T14:30:00", "UTC", "2026-12-03T14:30:00Z"),
                       ("2026-12-03T14:30+01:00", "UTC", "2026-12-03T13:30:00Z"),
                       ("2026-12-03 14:30+01:00", "UTC", "2026-12-03T13:30:00Z"),
                       ("2026-12-03T14:30-05:00", "Europe/Berlin", "2026-12-03T19:30:00Z"),
                       ("2026-12-03T14:30Z", "Europe/Berlin", "2026-12-03T14:30:00Z"),
                       ("2026-12-03 14:30Z", "Europe/Berlin", "2026-12-03T14:30:00Z"),
                       ("2026-12-03T14:30:15+01:00", "UTC", "2026-12-03T13:30:15Z"),
                       ("2026-12-03T14:30:00Z", "Europe/Berlin", "2026-12-03T14:30:00Z")]:
    r = t.run(["add", "--user", "anna", "--channel", "phone", "--subject", f"Zeit {when}", "--time", when,
               "--json"], data_dir=d, env={"TZ": tz})
    t.exit_status(r, 0, f"add --time {when!r} (TZ={tz})")
    got = ((r.json() or {}) if r.rc == 0 else {}).get("contact_time")
    t.eq(got, want, f"add --time {when!r} with TZ={tz}: the contact time in UTC")
for bad in ["2026-12-03T14", "2026-12-03T14:3", "2026-12-03T14:30+", "2026-12-03T14:30 +01:00", "14:30"]:
    r = t.run(["add", "--user", "anna", "--channel", "phone", "--subject", "x", "--time", bad], data_dir=d)
    t.exit_status(r, 64, f"add --time {bad!r} is refused")

t.finish()
