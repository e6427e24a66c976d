#!/usr/bin/env python3
"""t-import: `contactlog import` — .eml, mbox, Maildir (tmp/ ignored) and plain directories;
one JSON line per message in order, the stderr summary, exit statuses, missing paths."""
import sys
import collections
import os

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import cltest  # noqa: E402

t = cltest.Test(__file__)
d = t.data_dir()
src = t.tmpdir("mail")


def mk(subject, mid, sender="Anna Berg <anna.berg@alpha-agentur.example>",
       to="Jürgen Müller <j.mueller@acme-maschinen.example>", body=None, crlf=False):
    body = body if body is not None else f"Text zu {subject}.\n"
    return cltest.mail([("From", sender), ("To", to), ("Subject", subject),
                        ("Date", "Thu, 05 Nov 2026 09:00:00 +0100"), ("Message-ID", f"<{mid}@import.example>"),
                        ("MIME-Version", "1.0"), ("Content-Type", "text/plain; charset=utf-8")],
                       body, crlf=crlf)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


expected = []  # (subject, status) in the order import must report them

# 1. a single .eml
single = mk("Einzeldatei Lead 11111", "single")
eml = write(os.path.join(src, "single.eml"), single)
expected.append(("Einzeldatei Lead 11111", "pending"))

# 2. an mbox with three messages; the second has a body line starting with ">From "
mbox_msgs = [
    mk("Mbox eins", "mbox1", body="Erste Nachricht.\n"),
    mk("Mbox zwei", "mbox2", body="Zweite Nachricht.\n\n>From the desk of Anna: bitte beachten.\n"
                                  "From here on a line that is not a separator (no blank line before).\n"),
    mk("Mbox drei", "mbox3", to="t.gruen@baumschule-gruen.example", body="Dritte Nachricht.\n"),
]
mbox_data = b""
for i, m in enumerate(mbox_msgs):
    mbox_data += f"From anna.berg@alpha-agentur.example Thu Nov  5 09:0{i}:00 2026\n".encode() + m
    if not m.endswith(b"\n"):
        mbox_data += b"\n"
    mbox_data += b"\n"
mbox = write(os.path.join(src, "archiv.mbox"), mbox_data)
expected += [("Mbox eins", "pending"), ("Mbox zwei", "pending"), ("Mbox drei", "pending")]

# 3. a Maildir: cur/ and new/ count, tmp/ (still being written) must be ignored
md = os.path.join(src, "Maildir")
write(os.path.join(md, "cur", "1762330000.M1P100.host:2,S"), mk("Maildir cur eins", "md-cur1"))
write(os.path.join(md, "cur", "1762330001.M2P100.host:2,RS"), mk("Maildir cur zwei", "md-cur2"))
write(os.path.join(md, "new", "1762330002.M3P100.host"), mk("Maildir new", "md-new"))
write(os.path.join(md, "tmp", "1762330003.M4P100.host"), mk("Maildir tmp NICHT IMPORTIEREN", "md-tmp"))
expected += [("Maildir cur eins", "pending"), ("Maildir cur zwei", "pending"), ("Maildir new", "pending")]

# 4. a plain directory: CRLF mail, a rejected mail, a duplicate of the single .eml
plain = os.path.join(src, "ordner")
write(os.path.join(plain, "a-crlf.eml"), mk("Ordner CRLF", "plain-crlf", crlf=True))
write(os.path.join(plain, "b-fremd.eml"), mk("Ordner fremd", "plain-foreign",
                                             sender="Einkauf <einkauf@acme-maschinen.example>"))
write(os.path.join(plain, "c-kopie.eml"), single)
expected += [("Ordner CRLF", "pending"), ("Ordner fremd", "rejected"), ("Einzeldatei Lead 11111", "duplicate")]

r = t.run(["import", eml, mbox, md, plain], data_dir=d)
t.exit_status(r, 0, "import of .eml, mbox, Maildir, directory")
t.no_crash(r, "import")
lines = r.lines()
t.eq(len(lines), len(expected), "one JSON line per message", r)
t.ok(all(isinstance(x, dict) for x in lines), "every line is a JSON object", r)
for i, x in enumerate(lines):
    if isinstance(x, dict):
        t.result_shape(x, f"import line {i + 1}", r)

# Which message is which line: subject of each entry (rejections have no entry).
got = []
for x in lines:
    if not isinstance(x, dict):
        got.append((None, None))
    elif x.get("entry"):
        e = t.show(x.get("entry"), d, "imported entry")
        got.append(((e or {}).get("subject"), x.get("status")))
    else:
        got.append(("Ordner fremd" if x.get("reason") == "unknown-tenant" else None, x.get("status")))
t.eq(got, expected, "lines in order (files as named; folders in name order; cur/ before new/)", r)
# Each line names where its message came from: the file, and #N for the Nth of an mbox.
want_origins = ([eml] + [f"{mbox}#{n}" for n in (1, 2, 3)]
                + [os.path.join(md, "cur", "1762330000.M1P100.host:2,S"),
                   os.path.join(md, "cur", "1762330001.M2P100.host:2,RS"),
                   os.path.join(md, "new", "1762330002.M3P100.host")]
                + [os.path.join(plain, n) for n in ("a-crlf.eml", "b-fremd.eml", "c-kopie.eml")])
t.eq([x.get("origin") if isinstance(x, dict) else None for x in lines], want_origins,
     "every import line names its origin", r)
subjects = [s for s, _ in got]
t.ok("Maildir tmp NICHT IMPORTIEREN" not in subjects, "Maildir tmp/ is ignored", got=subjects)

# The duplicate line names the entry of the first import of the same mail.
if len(lines) == len(expected) and all(isinstance(x, dict) for x in lines):
    t.eq(lines[-1].get("entry"), lines[0].get("entry"), "the copy in the folder is a duplicate of single.eml")
    e = t.show(lines[0].get("entry"), d, "single.eml")
    if e:
        t.check_stored(lines[0].get("entry"), d, "raw", e.get("raw"), single, "single.eml: original message")
    t.eq(lines[3].get("contacts"), ["tgruen"], "mbox message 3: its own recipient (no bleeding between messages)")
    # mbox boundaries: each stored original is exactly one message without the "From " line
    for idx, m in zip((1, 2, 3), mbox_msgs):
        e = t.show(lines[idx].get("entry"), d, f"mbox message {idx}")
        if not e:
            continue
        data = t.stored_bytes(lines[idx].get("entry"), d, "raw", e.get("raw"), f"mbox message {idx}")
        if data is not None:
            t.ok(data.startswith(b"From: "), f"mbox message {idx}: raw starts with the headers, not the From_ line",
                 got=data[:80])
            t.ok(data.rstrip(b"\n") == m.rstrip(b"\n"), f"mbox message {idx}: raw is exactly the message",
                 got=data[-200:], wanted=m[-200:])
        if idx == 2:
            text = e.get("text", "")
            t.ok("From the desk of Anna" in text, "mbox message 2: the '>From ' body line stays in the text", got=text)
            t.ok("From here on a line" in text, "mbox message 2: a 'From ' line without blank line before stays",
                 got=text)

# The stderr summary.
s = cltest.import_summary(r.err)
if t.ok(s is not None, "import prints a summary on stderr", r):
    count = collections.Counter(x.get("status") for x in lines if isinstance(x, dict))
    t.eq(s["messages"], len(lines), "summary: message count equals the number of lines", r)
    for k in ("pending", "saved", "duplicate", "rejected"):
        t.eq(s[k], count.get(k, 0), f"summary: {k} count", r)
    t.eq(s["reasons"], {"unknown-tenant": 1}, "summary: rejection reasons", r)
    t.eq(s["not_stored"], 0, "summary: nothing failed", r)
t.eq(r.out.count("\n"), len(lines), "stdout holds only the result lines", r)

# Importing everything again: all duplicates (or rejected again), nothing new.
r = t.run(["import", eml, mbox, md, plain], data_dir=d)
t.exit_status(r, 0, "second import")
again = [x.get("status") if isinstance(x, dict) else None for x in r.lines()]
t.eq(again, ["rejected" if st == "rejected" else "duplicate" for _, st in expected],
     "second import: every accepted message is a duplicate", r)

# ---- a path that does not exist ------------------------------------------------------------------
d2 = t.data_dir()
missing = os.path.join(src, "gibt-es-nicht.mbox")
r = t.run(["import", eml, missing, md], data_dir=d2)
t.no_crash(r, "import with a missing path")
t.exit_status(r, 66, "import with a missing path (EX_NOINPUT)")
t.ok("gibt-es-nicht.mbox" in r.err, "import with a missing path: stderr names it", r)
lines = r.lines()
t.eq(len(lines), 4, "import with a missing path: the other paths are still imported (1 + 3 lines)", r)
t.eq([x.get("status") if isinstance(x, dict) else None for x in lines], ["pending"] * 4,
     "import with a missing path: the other messages are accepted", r)
s = cltest.import_summary(r.err)
t.ok(s is not None and s["messages"] == 4, "import with a missing path: summary counts 4", r, got=s)

# An empty file named on the command line is one (malformed) message.
empty = write(os.path.join(src, "leer.eml"), b"")
r = t.run(["import", empty], data_dir=d2)
t.no_crash(r, "import of an empty file")
x = (r.lines() or [None])[0]
t.eq(len(r.lines()), 1, "import of an empty file: one line", r)
if isinstance(x, dict):
    t.eq((x.get("status"), x.get("reason")), ("rejected", "malformed"), "import of an empty file: rejected malformed", r)

t.finish()
