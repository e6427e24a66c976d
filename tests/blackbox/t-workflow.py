#!/usr/bin/env python3
"""t-workflow: review and history (DESIGN §2 rule 8, §5): deliver → inbox → confirm → history;
manual entries with `add`; tenant isolation of keys, ids and lookups."""
import sys
import os

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import cltest  # noqa: E402
from cltest import mail

t = cltest.Test(__file__)
d = t.data_dir()


def deliver(frm, to, subject, mid):
    m = mail([("From", frm), ("To", to), ("Subject", subject), ("Date", "Wed, 11 Nov 2026 14:00:00 +0100"),
              ("Message-ID", f"<{mid}@workflow.example>")], f"Text zu {subject}.\n")
    r = t.deliver(m, d)
    t.exit_status(r, 0, f"deliver {mid}")
    res = t.one_line(r, f"deliver {mid}")
    return (res or {}).get("entry"), res


def ids(args, what):
    return [e.get("id") for e in t.listing(args, d, what)]


ANNA = "Anna Berg <anna.berg@alpha-agentur.example>"
e1, res = deliver(ANNA, "j.mueller@acme-maschinen.example", "Angebot Lead 11111", "wf-1")
t.eq((res or {}).get("lead"), "11111", "wf-1: lead 11111 from the subject")

# ---- inbox ----------------------------------------------------------------------------------
r = t.run(["inbox", "--user", "anna"], data_dir=d)
t.exit_status(r, 0, "inbox --user anna")
t.ok(f"#{e1} " in r.out, "inbox (text) lists the entry", r)
t.ok("Angebot Lead 11111" in r.out and "pending" in r.out, "inbox (text) shows subject and state", r)
inbox = t.listing(["inbox", "--user", "anna"], d, "inbox --user anna --json")
mine = [e for e in inbox if e.get("id") == e1]
if t.eq(len(mine), 1, "inbox --json lists the entry once"):
    e = mine[0]
    t.eq(e.get("state"), "pending", "inbox --json: state pending")
    t.eq((e.get("author") or {}).get("key"), "anna", "inbox --json: author")
    t.eq((e.get("lead") or {}).get("number"), "11111", "inbox --json: lead")
    t.eq((e.get("company") or {}).get("key"), "acme", "inbox --json: company")
t.eq(ids(["inbox", "--user", "anna.berg@alpha-agentur.example"], "inbox by address"), [e1],
     "inbox --user accepts the user's address")
t.eq(ids(["inbox", "--user", "ANNA.PRIVAT@freemail.example"], "inbox by private address"), [e1],
     "inbox --user accepts the private address, case-insensitively")
t.eq(ids(["inbox", "--user", "ben"], "inbox --user ben"), [], "another user's inbox is empty")
r = t.run(["inbox", "--user", "niemand"], data_dir=d)
t.ok(r.rc not in (0, 70) and r.rc > 0, "inbox of an unknown user: error exit", r, got=r.rc)
t.ok("niemand" in r.err, "inbox of an unknown user: names it", r)

# ---- confirm with a changed lead ----------------------------------------------------------------
r = t.run(["confirm", str(e1), "--lead", "11113", "--json"], data_dir=d)
t.exit_status(r, 0, "confirm --lead 11113")
e = t.show(e1, d, "confirmed entry")
if e:
    t.eq(e.get("state"), "saved", "confirmed: state saved")
    t.eq((e.get("lead") or {}).get("number"), "11113", "confirmed: the changed lead")
    t.eq(e.get("project"), None, "confirmed: no project")
    t.eq((e.get("company") or {}).get("key"), "acme", "confirmed: company kept")
    t.eq([c.get("key") for c in e.get("contacts", [])], ["jmueller"], "confirmed: contact kept")
t.eq(ids(["history", "--lead", "11113"], "history --lead 11113"), [e1], "history --lead 11113 lists it")
t.ok(e1 not in ids(["history", "--lead", "11111", "--tenant", "alpha"], "history --lead 11111"),
     "history of the old lead does not list it")
t.ok(e1 in ids(["history", "--company", "acme", "--tenant", "alpha"], "history --company acme"),
     "history --company acme lists it")
r = t.run(["history", "--lead", "11113"], data_dir=d)
t.exit_status(r, 0, "history --lead 11113 (text)")
t.ok(f"#{e1} " in r.out and "saved" in r.out, "history (text) shows the entry as saved", r)
t.eq(ids(["inbox", "--user", "anna"], "inbox after confirm"), [], "the inbox no longer lists it")

r = t.run(["confirm", str(e1)], data_dir=d)
t.ok(r.rc not in (0, 70) and r.rc > 0, "confirming twice: error exit", r, got=r.rc)
t.exit_status(r, 65, "confirming twice (conflict)")
t.ok("pending" in r.err or "saved" in r.err, "confirming twice: says the entry is no longer pending", r)
r = t.run(["confirm", "999999"], data_dir=d)
t.ok(r.rc not in (0, 70) and r.rc > 0, "confirm of a missing entry: error exit", r, got=r.rc)

# confirm with a company, contact and project of another company of the same tenant
e2, _ = deliver(ANNA, "j.mueller@acme-maschinen.example", "Allgemeine Frage", "wf-2")
r = t.run(["confirm", str(e2), "--company", "baum", "--contact", "tgruen", "--project", "shop"], data_dir=d)
t.exit_status(r, 0, "confirm --company baum --contact tgruen --project shop")
e = t.show(e2, d, "re-assigned entry")
if e:
    t.eq(((e.get("company") or {}).get("key"), [c.get("key") for c in e.get("contacts", [])],
          (e.get("project") or {}).get("key"), e.get("state")),
         ("baum", ["tgruen"], "shop", "saved"), "confirm re-assigns company, contact and project")
t.eq(ids(["history", "--project", "shop"], "history --project shop"), [e2], "history --project shop lists it")
t.ok(e2 not in ids(["history", "--company", "acme", "--tenant", "alpha"], "history acme"),
     "the re-assigned entry left acme's history")

# Changing only the company must not leave a contact person of the old company on the entry
# (`add` refuses such a mix: "contact X works for Y"); either refuse or drop/replace the contact.
e2b, _ = deliver(ANNA, "j.mueller@acme-maschinen.example", "Frage zur Lieferung", "wf-2b")
r = t.run(["confirm", str(e2b), "--company", "baum"], data_dir=d)
t.no_crash(r, "confirm --company baum (contact jmueller works for acme)")
e = t.show(e2b, d, "confirm --company only")
if e:
    contacts = [c.get("key") for c in e.get("contacts", [])]
    if r.rc == 0:
        t.eq(((e.get("company") or {}).get("key"), "jmueller" in contacts), ("baum", False),
             "confirm --company baum: the saved entry has no contact of another company (acme's jmueller)", r)
    else:
        t.eq(e.get("state"), "pending", "confirm --company baum refused: the entry stays pending", r)

# ---- add ------------------------------------------------------------------------------------------
att = os.path.join(t.tmpdir("att"), "Gesprächsnotiz März.pdf")
payload = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
with open(att, "wb") as f:
    f.write(payload)
r = t.run(["add", "--user", "anna", "--channel", "Telefon", "--contact", "skrause", "--lead", "11111",
           "--followup", "2026-12-24", "--notify", "ben", "--subject", "Rückruf wegen Messestand",
           "--text", "Frau Krause bittet um Rückruf nach Weihnachten.", "--attach", att, "--json"], data_dir=d)
t.exit_status(r, 0, "add --channel Telefon …")
added = r.json() if r.rc == 0 else None
t.ok(isinstance(added, dict) and added.get("id"), "add --json prints the entry", r)
if isinstance(added, dict) and added.get("id"):
    a_id = added["id"]
    e = t.show(a_id, d, "added entry")
    if e:
        t.eq(e.get("channel"), "phone", "add: channel Telefon is stored as phone")
        t.eq(e.get("origin"), "manual", "add: origin manual")
        t.eq(e.get("state"), "saved", "add: state saved")
        t.eq(e.get("followup"), "2026-12-24", "add: follow-up date (Wiedervorlage)")
        t.eq(e.get("notify"), ["ben"], "add: notify (Benutzer informieren)")
        t.eq((e.get("author") or {}).get("key"), "anna", "add: author")
        t.eq([c.get("key") for c in e.get("contacts", [])], ["skrause"], "add: contact")
        t.eq((e.get("company") or {}).get("key"), "acme", "add: company from the contact/lead")
        t.eq((e.get("lead") or {}).get("number"), "11111", "add: lead")
        t.eq(e.get("subject"), "Rückruf wegen Messestand", "add: subject")
        t.eq(e.get("text"), "Frau Krause bittet um Rückruf nach Weihnachten.", "add: text")
        atts = e.get("attachments", [])
        if t.eq(len(atts), 1, "add: one attachment"):
            a = atts[0]
            t.eq(a.get("name"), "Gesprächsnotiz März.pdf", "add: attachment name")
            t.check_stored(a_id, d, 1, a, payload, "add: attachment")
    t.ok(a_id in ids(["history", "--lead", "11111", "--tenant", "alpha"], "history --lead 11111"),
         "add: the entry is in the lead's history")
    t.ok(a_id not in ids(["inbox", "--user", "anna"], "inbox after add"), "add: a manual entry is not in the inbox")
    r = t.run(["show", str(a_id)], data_dir=d)
    t.exit_status(r, 0, "show (text) of the added entry")
    t.ok("2026-12-24" in r.out and "ben" in r.out, "show (text) names follow-up and notify", r)

# German channel names and the own history
r = t.run(["add", "--user", "ben", "--channel", "Termin", "--subject", "Interne Teamrunde", "--json"], data_dir=d)
t.exit_status(r, 0, "add without company/lead/project")
own = r.json() if r.rc == 0 else None
if isinstance(own, dict):
    t.eq(own.get("channel"), "meeting", "add --channel Termin → meeting")
    t.eq((own.get("company"), own.get("lead"), own.get("project")), (None, None, None),
         "add without company/lead/project: nothing assigned")
    t.ok(own.get("id") in ids(["history", "--user", "ben"], "history --user ben"),
         "add without company/lead/project lands in history --user ben")
    t.ok(own.get("id") not in ids(["history", "--user", "anna"], "history --user anna"),
         "…and not in anna's own history")

# The own history is the author's alone: nobody to notify of it.
before = ids(["history", "--user", "ben"], "history --user ben")
r = t.run(["add", "--user", "ben", "--channel", "phone", "--subject", "Privat mit Benachrichtigung",
           "--notify", "anna"], data_dir=d)
t.exit_status(r, 65, "add in the own history with --notify")
t.ok("notify" in r.err and "own history" in r.err, "add --notify without company: the error says why", r)
t.eq(ids(["history", "--user", "ben"], "history --user ben"), before, "the refused entry made nothing")

# History is newest first (by the time of the contact, not the order of recording).
order = []
for when, subj in [("2026-03-01T10:00:00", "März"), ("2026-09-01T10:00:00", "September"),
                   ("2026-05-01T10:00:00", "Mai")]:
    r = t.run(["add", "--user", "anna", "--channel", "letter", "--lead", "11112", "--subject", f"Brief {subj}",
               "--time", when, "--json"], data_dir=d)
    t.exit_status(r, 0, f"add --time {when}")
    order.append(((r.json() or {}) if r.rc == 0 else {}).get("id"))
t.eq(ids(["history", "--lead", "11112"], "history --lead 11112"), [order[1], order[2], order[0]],
     "history is newest first by contact time (September, Mai, März)")
t.eq(ids(["history", "--lead", "11112", "--limit", "2"], "history --limit 2"), [order[1], order[2]],
     "history --limit 2: the two newest")
# --time in the form that `add`'s own error message gives as the example (no seconds)
r = t.run(["add", "--user", "anna", "--channel", "phone", "--subject", "Kurz", "--time", "2026-12-03T14:30",
           "--json"], data_dir=d)
t.exit_status(r, 0, "add --time 2026-12-03T14:30 (the example of the --time error message)")
if r.rc == 0:
    t.ok(((r.json() or {}).get("contact_time") or "").startswith("2026-12-03T"), "add --time: contact time stored",
         r)

for bad in ["2026-02-30", "24.12.2026", "2026-13-01", "2026-12-24x", "morgen"]:
    r = t.run(["add", "--user", "anna", "--channel", "phone", "--subject", "x", "--followup", bad], data_dir=d)
    t.exit_status(r, 64, f"add --followup {bad}")
r = t.run(["add", "--user", "anna", "--channel", "phone", "--subject", "x", "--contact", "tgruen",
           "--lead", "11111"], data_dir=d)
t.ok(r.rc not in (0, 70) and r.rc > 0, "add: contact of baum with a lead of acme is refused", r, got=r.rc)
r = t.run(["add", "--user", "anna", "--channel", "phone", "--subject", "x", "--attach", "/nonexistent/file.pdf"],
          data_dir=d)
t.ok(r.rc not in (0, 70) and r.rc > 0, "add --attach of a missing file: error exit", r, got=r.rc)

# ---- tenant isolation ------------------------------------------------------------------------------
JONAS = "Jonas Petersen <jonas.petersen@beta-design.example>"
b1, res = deliver(JONAS, "k.ahrens@acme-nord.example", "Lead 30101 Korrektur", "wf-b1")
t.eq(((res or {}).get("tenant"), (res or {}).get("company")), ("beta", "acme"), "beta mail: tenant beta, its acme")
r = t.run(["confirm", str(b1)], data_dir=d)
t.exit_status(r, 0, "confirm of beta's entry")

r = t.run(["history", "--company", "acme"], data_dir=d)
t.ok(r.rc not in (0, 70) and r.rc > 0, "history --company acme without --tenant: error (key in two tenants)", r,
     got=r.rc)
t.ok("--tenant" in r.err, "history --company acme without --tenant: asks for --tenant", r)
r = t.run(["history", "--lead", "11111"], data_dir=d)
t.ok(r.rc not in (0, 70) and r.rc > 0 and "--tenant" in r.err,
     "history --lead 11111 (in both tenants) without --tenant asks for --tenant", r, got=r.rc)
alpha_hist = t.listing(["history", "--company", "acme", "--tenant", "alpha"], d, "history acme --tenant alpha")
beta_hist = t.listing(["history", "--company", "acme", "--tenant", "beta"], d, "history acme --tenant beta")
t.eq(sorted({e.get("tenant") for e in alpha_hist}), ["alpha"], "history --tenant alpha: only alpha's entries")
t.eq([e.get("id") for e in beta_hist], [b1], "history --tenant beta: only beta's entry")
t.ok(e1 in [e.get("id") for e in alpha_hist], "history --tenant alpha: has alpha's confirmed mail")

r = t.run(["show", str(e1), "--tenant", "beta"], data_dir=d)
t.ok(r.rc not in (0, 70) and r.rc > 0, "show of alpha's entry with --tenant beta: not found", r, got=r.rc)
t.eq(r.out.strip(), "", "show with the wrong tenant prints nothing of the entry", r)
r = t.run(["show", str(b1), "--tenant", "beta", "--json"], data_dir=d)
t.exit_status(r, 0, "show of beta's entry with --tenant beta")

b2, _ = deliver(JONAS, "k.ahrens@acme-nord.example", "Rückfrage", "wf-b2")
r = t.run(["confirm", str(b2), "--tenant", "beta", "--contact", "skrause"], data_dir=d)
t.ok(r.rc not in (0, 70) and r.rc > 0, "confirm --tenant beta with alpha's contact key: not found", r, got=r.rc)
t.ok("skrause" in r.err, "…and the message names the key", r)
r = t.run(["confirm", str(b2), "--contact", "skrause"], data_dir=d)
t.ok(r.rc not in (0, 70) and r.rc > 0, "confirm of beta's entry with alpha's contact key (no --tenant): not found",
     r, got=r.rc)
r = t.run(["confirm", str(b2), "--lead", "11113"], data_dir=d)
t.ok(r.rc not in (0, 70) and r.rc > 0, "confirm of beta's entry with alpha's lead 11113: not found", r, got=r.rc)
e = t.show(b2, d, "beta entry after the failed confirms")
if e:
    t.eq(e.get("state"), "pending", "the failed confirms left beta's entry pending")
    t.eq([c.get("key") for c in e.get("contacts", [])], ["kahrens"], "…with its contact")
e3, _ = deliver(ANNA, "j.mueller@acme-maschinen.example", "Noch offen", "wf-3")
r = t.run(["confirm", str(e3), "--tenant", "beta"], data_dir=d)
t.ok(r.rc not in (0, 70) and r.rc > 0, "confirm of alpha's entry with --tenant beta: not found", r, got=r.rc)
r = t.run(["inbox", "--user", "anna", "--tenant", "beta"], data_dir=d)
t.ok(r.rc not in (0, 70) and r.rc > 0, "inbox of alpha's user with --tenant beta: not found", r, got=r.rc)
t.eq(ids(["inbox", "--user", "jonas"], "inbox jonas"), [b2], "jonas' inbox has only beta's pending mail")
t.ok(all(x.get("tenant") == "beta" for x in t.rejected(d, ["--tenant", "beta"])), "rejected --tenant beta")

t.finish()
