#!/usr/bin/env python3
"""t-load: `contactlog load` — idempotent by key, updates visible in behaviour, bad files
change nothing (DESIGN §5 "Master data file", §1, §2 rule 2)."""
import sys
import copy
import json
import os
import re

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import cltest  # noqa: E402

t = cltest.Test(__file__)
with open(t.masterdata, encoding="utf-8") as f:
    MASTER = json.load(f)


def count_records(doc):
    n = 0
    for tenant in doc["tenants"]:
        n += 1 + len(tenant.get("users", []))
        for c in tenant.get("companies", []):
            n += 1 + len(c.get("contacts", [])) + len(c.get("leads", [])) + len(c.get("projects", []))
    return n


def write(doc, name):
    path = os.path.join(t.tmpdir("md"), name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
    return path


def load_json(path, d, what):
    r = t.run(["load", "--json", path], data_dir=d)
    t.exit_status(r, 0, what)
    lines = r.lines()
    if not t.eq(len(lines), 1, f"{what}: one JSON line per file", r) or lines[0] is None:
        return None, r
    return lines[0], r


TOTAL = count_records(MASTER)
d = t.data_dir(load=False)

# ---- first and second load --------------------------------------------------------------
stats, r = load_json(t.masterdata, d, "first load")
if stats:
    t.eq(stats.get("file"), t.masterdata, "first load: file", r)
    t.eq(stats.get("created"), TOTAL, "first load: every record created", r)
    t.eq(stats.get("updated"), 0, "first load: updated", r)
stats, r = load_json(t.masterdata, d, "second load of the same file")
if stats:
    t.eq(stats.get("created"), 0, "second load: 0 created", r)
    t.eq(stats.get("updated"), 0, "second load: 0 updated", r)
    t.eq(stats.get("unchanged"), TOTAL, "second load: everything unchanged", r)

# The text form says the same.
r = t.run(["load", t.masterdata], data_dir=d)
t.exit_status(r, 0, "third load (text)")
t.ok(re.search(r"\b0 created, 0 updated\b", r.out), "third load (text): 0 created, 0 updated", r)

# Behaviour before the change: lead 11119 does not exist, so the number is ignored.
MAIL = """From: Anna Berg <anna.berg@alpha-agentur.example>
To: Sabine Krause <s.krause@acme-maschinen.example>
Subject: Angebot Lead 11119
Date: Tue, 03 Nov 2026 10:00:00 +0100
Message-ID: <{mid}@alpha-agentur.example>

Hallo Frau Krause,
"""
r = t.deliver(MAIL.format(mid="load-before"), d)
res = t.one_line(r, "deliver before the change")
if res:
    t.eq(res.get("lead"), None, "before the change: lead 11119 does not exist yet", r)
    e = t.show(res.get("entry"), d, "before the change")
    if e:
        t.eq([c.get("name") for c in e.get("contacts", [])], ["Sabine Krause"],
             "before the change: contact name", r)

# ---- a changed copy: renamed contact, new lead ---------------------------------------------
changed = copy.deepcopy(MASTER)
acme = changed["tenants"][0]["companies"][0]
assert acme["key"] == "acme"
for c in acme["contacts"]:
    if c["key"] == "skrause":
        c["name"] = "Sabine Krause-Lindner"
acme["leads"].append({"number": "11119", "name": "Jubiläumsbroschüre", "status": "open"})
path = write(changed, "changed.json")
stats, r = load_json(path, d, "load of a changed copy")
if stats:
    t.eq(stats.get("created"), 1, "changed copy: 1 created (the new lead)", r)
    t.eq(stats.get("updated"), 1, "changed copy: 1 updated (the renamed contact)", r)
    t.eq(stats.get("unchanged"), TOTAL - 1, "changed copy: the rest unchanged", r)
stats, r = load_json(path, d, "changed copy loaded again")
if stats:
    t.eq((stats.get("created"), stats.get("updated")), (0, 0), "changed copy again: 0 created, 0 updated", r)

r = t.deliver(MAIL.format(mid="load-after"), d)
res = t.one_line(r, "deliver after the change")
if res:
    t.eq(res.get("lead"), "11119", "after the change: the new lead is found by number", r)
    t.eq(res.get("contacts"), ["skrause"], "after the change: contact", r)
    e = t.show(res.get("entry"), d, "after the change")
    if e:
        t.eq([c.get("name") for c in e.get("contacts", [])], ["Sabine Krause-Lindner"],
             "after the change: the contact's new name is shown", r)
        t.eq((e.get("lead") or {}).get("name"), "Jubiläumsbroschüre", "after the change: lead name", r)
# the new lead is found by name too
r = t.deliver(MAIL.format(mid="load-name").replace("Angebot Lead 11119", "Entwurf Jubiläumsbroschüre"), d)
res = t.one_line(r, "deliver naming the new lead")
if res:
    t.eq(res.get("lead"), "11119", "after the change: the new lead is found by name", r)

# A changed address moves the match: the old address no longer selects the contact.
changed2 = copy.deepcopy(changed)
for c in changed2["tenants"][0]["companies"][0]["contacts"]:
    if c["key"] == "skrause":
        c["emails"] = ["sabine.lindner@acme-maschinen.example"]
stats, r = load_json(write(changed2, "changed2.json"), d, "load with a changed address")
if stats:
    t.eq((stats.get("created"), stats.get("updated")), (0, 1), "changed address: 0 created, 1 updated", r)
r = t.deliver(MAIL.format(mid="load-addr"), d)
res = t.one_line(r, "deliver to the old address")
if res:
    t.eq(res.get("contacts"), [], "the old address no longer matches a contact", r)

# ---- invalid JSON ------------------------------------------------------------------------------
bad = os.path.join(t.tmpdir("bad"), "broken.json")
with open(bad, "w", encoding="utf-8") as f:
    f.write('{\n  "drop_addresses": ["crm@contactlog.example"],\n  "tenants": [\n    {"key": "x",, }\n  ]\n}\n')
r = t.run(["load", bad], data_dir=d)
t.ok(r.rc != 0, "invalid JSON: non-zero exit", r, got=r.rc)
t.no_crash(r, "invalid JSON")
t.ok(re.search(r":4:\d+", r.err) is not None, "invalid JSON: message has line:column (line 4)", r)
t.ok("broken.json" in r.err, "invalid JSON: message names the file", r)
t.eq(r.out.strip(), "", "invalid JSON: nothing on stdout", r)

# ---- a tenant domain that another tenant registered -------------------------------------------
gamma = {
    "key": "gamma", "name": "Gamma GmbH", "domains": ["gamma.example"],
    "users": [{"key": "gina", "name": "Gina Gamma", "emails": ["gina@gamma.example"]}],
    "companies": [{"key": "gkunde", "name": "Gamma Kunde", "domains": [],
                   "contacts": [{"key": "gk1", "name": "G K", "emails": ["gk1@gkunde.example"]}],
                   "leads": [{"number": "70001", "name": "Gamma Lead"}], "projects": []}],
}
delta = {
    "key": "delta", "name": "Delta AG", "domains": ["delta.example", "ALPHA-agentur.example"],
    "users": [{"key": "dirk", "name": "Dirk Delta", "emails": ["dirk@delta.example"]}],
    "companies": [],
}
conflict = {"drop_addresses": ["crm@contactlog.example"], "tenants": [gamma, delta]}
path = write(conflict, "conflict.json")
r = t.run(["load", "--json", path], data_dir=d)
t.ok(r.rc != 0, "domain of another tenant: non-zero exit", r, got=r.rc)
t.no_crash(r, "domain of another tenant")
t.ok("alpha-agentur.example" in r.err.lower(), "domain of another tenant: message names the domain", r)
# nothing of that file was stored: gamma's user and lead do not exist …
r = t.run(["inbox", "--user", "gina"], data_dir=d)
t.ok(r.rc != 0, "domain conflict: user gina of the failed file was not stored", r, got=r.rc)
r = t.run(["history", "--lead", "70001"], data_dir=d)
t.ok(r.rc != 0, "domain conflict: lead 70001 of the failed file was not stored", r, got=r.rc)
# … alpha still owns its domain …
r = t.deliver(MAIL.format(mid="load-domain"), d)
res = t.one_line(r, "deliver after the failed load")
if res:
    t.eq((res.get("tenant"), res.get("user")), ("alpha", "anna"), "alpha keeps its domain", r)
# … and the file without the conflict creates everything.
delta_ok = copy.deepcopy(delta)
delta_ok["domains"] = ["delta.example"]
fixed = {"drop_addresses": ["crm@contactlog.example"], "tenants": [gamma, delta_ok]}
stats, r = load_json(write(fixed, "fixed.json"), d, "the fixed file")
if stats:
    t.eq(stats.get("created"), count_records(fixed), "fixed file: all records are new", r)
r = t.run(["inbox", "--user", "gina"], data_dir=d)
t.exit_status(r, 0, "after the fixed file: inbox of gina")

# The same domain twice in one fresh database (second tenant of one file): nothing stored.
d2 = t.data_dir(load=False)
r = t.run(["load", path], data_dir=d2)
t.exit_status(r, 0, "conflict.json into an empty database (no conflict there)")
r = t.run(["load", t.masterdata], data_dir=d2)
t.ok(r.rc != 0, "masterdata after a file that took alpha-agentur.example: non-zero exit", r, got=r.rc)
r = t.run(["inbox", "--user", "anna"], data_dir=d2)
t.ok(r.rc != 0, "…and none of masterdata.json was stored (user anna)", r, got=r.rc)

# ---- lead numbers with letters ------------------------------------------------------------------
for number in ["A1234", "12 34", "12-34", "１２３４"]:
    doc = copy.deepcopy(MASTER)
    doc["tenants"][0]["companies"][0]["leads"].append({"number": number, "name": "Falsch"})
    d3 = t.data_dir(load=False)
    r = t.run(["load", write(doc, "letters.json")], data_dir=d3)
    t.ok(r.rc not in (0,), f"lead number {number!r}: error exit", r, got=r.rc)
    t.no_crash(r, f"lead number {number!r}")
    t.ok("number" in r.err, f"lead number {number!r}: message is about the number", r)
    r = t.run(["inbox", "--user", "anna"], data_dir=d3)
    t.ok(r.rc != 0, f"lead number {number!r}: nothing of the file stored", r, got=r.rc)

# An offer number with letters is an error too.
doc = copy.deepcopy(MASTER)
doc["tenants"][0]["companies"][0]["projects"][0]["offers"].append("A-4711")
r = t.run(["load", write(doc, "offer.json")], data_dir=t.data_dir(load=False))
t.ok(r.rc != 0, "offer number with letters: error exit", r, got=r.rc)

# A missing file.
r = t.run(["load", "/nonexistent/masterdata.json"], data_dir=d)
t.ok(r.rc != 0, "missing file: non-zero exit", r, got=r.rc)
t.no_crash(r, "missing file")
t.ok("/nonexistent/masterdata.json" in r.err, "missing file: message names it", r)

t.finish()
