#!/usr/bin/env python3
"""t-demo: `contactlog demo` against demo/expected.tsv (the golden file of the demo), plus the
HTML-only mail's text and the decoded attachment names, blobs, sizes and checksums."""
import sys
import email
import email.policy
import json
import os
import re

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import cltest  # noqa: E402

t = cltest.Test(__file__)
demo = os.path.join(t.source_root, "demo")
d = os.path.join(t.tmpdir("demo"), "demo-data")

r = t.run(["demo", "--data-dir", d], timeout=300)
t.exit_status(r, 0, "demo")
t.no_crash(r, "demo")

# The demo delivers every mail over LMTP and prints its file name, the server's reply
# and the result line.
results, replies = {}, {}
lines = r.out.splitlines()
for i, line in enumerate(lines):
    m = re.fullmatch(r"(\S+\.eml)", line.strip())
    if m and i + 2 < len(lines) and lines[i + 2].lstrip().startswith("{"):
        replies[m.group(1)] = lines[i + 1].strip()
        try:
            results[m.group(1)] = json.loads(lines[i + 2])
        except ValueError:
            t.fail(f"demo: result line of {m.group(1)} is not JSON", r)
t.ok("over LMTP" in r.out, "demo says it delivers over LMTP", r)
# The LMTP reply agrees with the result: 250 for what was captured, 5xx with the reason.
REPLY_CODES = {"unknown-tenant": "550 5.7.1", "unknown-sender": "550 5.7.1", "malformed": "554 5.6.0"}
for fname, res in results.items():
    rep = replies.get(fname, "")
    if res.get("status") == "rejected":
        want = REPLY_CODES.get(res.get("reason"), "5")
        t.ok(rep.startswith(want) and f"Rejected ({res.get('reason')})" in rep,
             f"demo {fname}: LMTP reply {want} with the reason", got=rep)
    else:
        t.ok(rep.startswith("250 2.0.0 <crm@contactlog.example> ") and f"entry {res.get('entry')}" in rep,
             f"demo {fname}: LMTP reply 250 names the entry", got=rep)

expected = []
with open(os.path.join(demo, "expected.tsv"), encoding="utf-8") as f:
    for line in f:
        if line.strip():
            expected.append(line.rstrip("\n").split("\t"))
t.ok(len(expected) >= 21, "expected.tsv has a line per sample mail", got=len(expected), wanted=">= 21")
t.eq(sorted(results), sorted(e[0] for e in expected), "demo prints a result line for every mail in expected.tsv", r)


def dash(v):
    return None if v == "-" else v


# Candidates that the notes of expected.tsv describe (mails 13 and 14).
def candidates_from_note(note):
    if "candidates" in note:  # "... candidates lead 20418 and project filialen"
        part = note.split("candidates", 1)[1]
        want = {}
        for kind, key in re.findall(r"\b(lead|project) ([\w-]+)", part):
            want.setdefault(kind, []).append(key)
        return want
    if re.search(r"\btie\b", note):  # "'Relaunch Website' is lead 20417 (sommer) and 20440 (stadtwerke), tie"
        return {"lead": re.findall(r"\b\d{5}\b", note)}
    return None


with_candidates = 0
for row in expected:
    fname, status, reason, user, company, contacts, lead, project, note = (row + [""] * 9)[:9]
    got = results.get(fname)
    what = f"demo {fname}"
    if got is None:
        t.fail(f"{what}: no result line", r)
        continue
    t.result_shape(got, what)
    t.eq(got.get("status"), status, f"{what}: status")
    if status == "rejected":
        t.eq(got.get("reason"), reason, f"{what}: reason")
    t.eq(got.get("user"), dash(user), f"{what}: user")
    t.eq(got.get("company"), dash(company), f"{what}: company")
    want_contacts = [] if contacts == "-" else contacts.split(",")
    t.eq(got.get("contacts"), want_contacts, f"{what}: contacts (header order)")
    t.eq(got.get("contact"), want_contacts[0] if want_contacts else None, f"{what}: primary contact")
    t.eq(got.get("lead"), dash(lead), f"{what}: lead")
    t.eq(got.get("project"), dash(project), f"{what}: project")
    want_cand = candidates_from_note(note)
    if want_cand:
        with_candidates += 1
        cand = got.get("candidates") or {}
        t.eq({k: sorted(v) for k, v in cand.items()}, {k: sorted(v) for k, v in want_cand.items()},
             f"{what}: candidates named in the note")
    elif status != "rejected":
        t.ok("candidates" not in got, f"{what}: no candidates", got=got.get("candidates"))
t.eq(with_candidates, 2, "expected.tsv notes name candidates for two mails (13 and 14)")

# The human part of the demo: every user's inbox and the summary.
accepted = sum(1 for e in expected if e[1] in ("pending", "saved"))
rejected = sum(1 for e in expected if e[1] == "rejected")
t.ok(f"{accepted} accepted" in r.out and f"{rejected} rejected" in r.out,
     f"demo summary: {accepted} accepted, {rejected} rejected", r)

# ---- HTML-only mail ------------------------------------------------------------------------
html = results.get("07-nur-html.eml") or {}
if html.get("entry"):
    e = t.show(html.get("entry"), d, "07-nur-html")
    if e:
        text = e.get("text", "")
        for marker in ["GEHEIM-STYLE", "GEHEIM-SCRIPT", "trackingPixel", "font-family"]:
            t.ok(marker not in text, f"07-nur-html: text without {marker}", got=text)
        for ent in ["&auml;", "&ouml;", "&uuml;", "&amp;", "&nbsp;", "&szlig;", "&ndash;", "&middot;", "<p>", "<br"]:
            t.ok(ent not in text, f"07-nur-html: no {ent!r} left in the text", got=text)
        for word in ["Sehr geehrter Herr Jürgens", "Eröffnung", "Kaffee & Kuchen",
                     "Großflächenplakate", "Kinderprogramm – für", "Mit freundlichen Grüßen",
                     "Mehmet Yılmaz", "Lüneburg"]:
            t.ok(word in text, f"07-nur-html: text contains {word!r}", got=text)
        t.ok(re.search("28\\.[ \u00a0]November", text), "07-nur-html: &nbsp; became a space", got=text)
        t.eq(e.get("text_from_html"), True, "07-nur-html: text_from_html")
        t.eq(e.get("subject"), "Einladung zur Showroom-Eröffnung am 28. November", "07-nur-html: subject")
        t.eq(e.get("channel"), "email", "07-nur-html: channel")
        t.eq(e.get("state"), "pending", "07-nur-html: state")


# ---- attachments ---------------------------------------------------------------------------------
def original_attachments(path):
    with open(path, "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    out = []
    for part in msg.walk():
        if part.is_multipart() or part.get_content_disposition() != "attachment":
            continue
        out.append((part.get_filename(), part.get_payload(decode=True)))
    return out


for fname, want_name, want_type in [("09-pdf-anhang-rfc2231.eml", "Angebot Müller.pdf", "application/pdf"),
                                    ("10-anhang-rfc2047.eml", "Frühjahrsaktion Entwurf Plakat.png", "image/png")]:
    res = results.get(fname) or {}
    if not res.get("entry"):
        t.fail(f"{fname}: no entry")
        continue
    e = t.show(res.get("entry"), d, fname)
    if not e:
        continue
    atts = e.get("attachments", [])
    if not t.eq(len(atts), 1, f"{fname}: one attachment"):
        continue
    a = atts[0]
    t.eq(a.get("name"), want_name, f"{fname}: decoded attachment name")
    t.eq(a.get("content_type"), want_type, f"{fname}: content type")
    orig = original_attachments(os.path.join(demo, "mail", fname))
    if t.eq(len(orig), 1, f"{fname}: the sample mail has one attachment (test data)"):
        t.eq(orig[0][0], want_name, f"{fname}: Python's email package decodes the same name")
        # the stored attachment: right bytes (sha256), size; its metadata in show --json
        t.check_stored(res.get("entry"), d, 1, a, orig[0][1], f"{fname}: attachment")
    # The raw message is kept too (DESIGN §1: the original message): as it came over LMTP,
    # after the server's trace line (RFC 5321 §4.4), in LF lines.
    with open(os.path.join(demo, "mail", fname), "rb") as f:
        original = f.read().replace(b"\r\n", b"\n")
    stored = t.stored_bytes(res.get("entry"), d, "raw", e.get("raw"), f"{fname}: original message") or b""
    t.ok(stored.startswith(b"Received: from demo.contactlog.example (unix)\n\tby ") and b" with LMTP id " in stored,
         f"{fname}: stored message starts with contactlog's Received line", got=stored[:200])
    trace_end = stored.find(b"\n", stored.find(b" with LMTP id ")) + 1
    trace_end = stored.find(b"\n", trace_end) + 1  # the date line of the Received field
    t.check_stored(res.get("entry"), d, "raw", None, stored[:trace_end] + original, f"{fname}: original message")
    t.eq(stored[trace_end:], original, f"{fname}: after the trace line, the stored message is the original byte for byte")
    if isinstance(e.get("raw"), dict) and "size" in e["raw"]:
        t.eq(e["raw"]["size"], len(stored), f"{fname}: size in show --json is the stored size")

# The text inbox printed by the demo names the decoded attachments too.
t.ok("Angebot Müller.pdf" in r.out, "demo output lists 'Angebot Müller.pdf'", r)
t.ok("Frühjahrsaktion Entwurf Plakat.png" in r.out, "demo output lists the PNG name", r)

# The rejected mails are listed for the administrator.
rej = t.rejected(d)
t.eq(sorted(x.get("reason") for x in rej), ["malformed", "unknown-sender", "unknown-tenant"],
     "demo: rejected --json lists the three rejections")

# ---- how show prints an entry ---------------------------------------------------------------
# A display name with a comma is quoted, as mail programs write it: one recipient, not two.
r = t.run(["show", "9"], data_dir=d)
t.ok('To: "Müller, Jürgen" <juergen.mueller@kranz-maschinenbau.example>' in r.out,
     "show quotes a display name with a comma", r)
# The candidates are what the review chooses from: shown while the entry waits, not after.
r = t.run(["show", "14"], data_dir=d)
t.ok("candidates: lead 20417 lead 20440" in r.out, "a pending entry shows its candidates", r)
r = t.run(["confirm", "14", "--lead", "20417"], data_dir=d)
t.exit_status(r, 0, "confirm 14 --lead 20417")
r = t.run(["show", "14"], data_dir=d)
t.ok("candidates:" not in r.out and "lead 20417 (" in r.out, "once confirmed: the lead, no candidates", r)
# A saved entry without company, lead or project is in its author's own history.
r = t.run(["add", "--user", "lena", "--channel", "Telefon", "--subject", "Notiz für mich"], data_dir=d)
t.exit_status(r, 0, "add in the own history")
r = t.run(["history", "--user", "lena"], data_dir=d)
t.ok("Notiz für mich" in r.out and "in the author's own history" in r.out and "not assigned yet" not in r.out,
     "an entry of the own history says so, not 'not assigned yet'", r)

# ---- the data directory: only the demo's own is cleared -------------------------------------
base = t.tmpdir("dirs")
foreign = os.path.join(base, "foreign")
os.makedirs(os.path.join(foreign, "sub"))
for name in ("notes.txt", os.path.join("sub", "x.txt")):
    with open(os.path.join(foreign, name), "w") as f:
        f.write("keep\n")
r = t.run(["demo", "--data-dir", foreign], timeout=300)
t.exit_status(r, 78, "demo in a directory with files of someone else")
t.ok("not empty" in r.err and "was not made by the demo" in r.err, "it says why", r)
t.eq(sorted(os.listdir(foreign)), ["notes.txt", "sub"], "and leaves the directory as it was", r)
t.ok(os.path.exists(os.path.join(foreign, "sub", "x.txt")), "down to its subdirectories", r)

# While a server answers from the demo's directory, a second demo does not clear it away
# under it: the mail the server acknowledged would be gone.
srv = cltest.Server(t, d, ["--lmtp", f"127.0.0.1:{cltest.free_port()}"]).start()
try:
    r = t.run(["demo", "--data-dir", d], timeout=300)
    t.exit_status(r, 78, "demo in the directory a server answers from")
    t.ok("in use" in r.err and "stop it first" in r.err, "it says why", r)
    t.ok(os.path.exists(os.path.join(d, "contactlog.db")), "and the database is still there", r)
    t.ok(srv.proc.poll() is None, "the server keeps running")
finally:
    srv.stop()

# The demo's own directory is cleared — a link in it is removed, not followed.
outside = os.path.join(base, "outside")
os.makedirs(outside)
with open(os.path.join(outside, "keep.txt"), "w") as f:
    f.write("keep\n")
os.symlink(outside, os.path.join(d, "link"))
r = t.run(["demo", "--data-dir", d], timeout=300)
t.exit_status(r, 0, "demo again in its own directory, the server stopped")
t.ok(not os.path.lexists(os.path.join(d, "link")), "the link in it is gone", r)
t.eq(os.listdir(outside), ["keep.txt"], "what the link pointed to is kept", r)

empty = os.path.join(base, "empty")
os.makedirs(empty)
r = t.run(["demo", "--data-dir", empty], timeout=300)
t.exit_status(r, 0, "demo in an empty directory")
t.ok(os.path.exists(os.path.join(empty, "contactlog.db")), "makes its data there", r)

t.finish()
