#!/usr/bin/env python3
"""t-corpus: real-world mail from other projects' test suites ($CL_SOURCE_ROOT/../shared/corpus).

Pass 1 imports every file of every corpus folder as it is (the crisp-forward-bodies are body
fragments, not mail: each must get a clear rejection). Pass 2 imports the same messages with the
sender replaced by a registered user, so that the whole pipeline (matching, attachments, HTML,
storage) runs on them, and reads every stored entry back with `show --json`.
Asserts: no crash (signal, exit 70) or hang, exactly one valid JSON result line per message of
the stderr summary, statuses pending/saved/duplicate/rejected, summary counts = lines.
Skips (77) when the corpus is not there."""
import sys
import collections
import os
import re

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import cltest  # noqa: E402

t = cltest.Test(__file__)
corpus = os.path.normpath(os.path.join(t.source_root, "..", "shared", "corpus"))
if not os.path.isdir(corpus):
    t.skip(f"no corpus at {corpus}")
folders = sorted(f for f in os.listdir(corpus) if os.path.isdir(os.path.join(corpus, f)) and not f.startswith("."))
if not folders:
    t.skip(f"{corpus} has no folders")
FRAGMENTS = "crisp-forward-bodies"


def import_folder(path, d, what):
    r = t.run(["import", path], data_dir=d, timeout=300)
    failures = t.failures
    t.no_crash(r, what)
    t.ok(r.rc in (0, 65, 66, 67), f"{what}: exit status", None, got=r.rc, wanted="0 (or a sysexits data status)")
    lines = r.lines()
    bad = [i for i, x in enumerate(lines) if not isinstance(x, dict)]
    t.eq(bad, [], f"{what}: every stdout line is a JSON object (indexes of bad lines)")
    summary = cltest.import_summary(r.err)
    if t.ok(summary is not None, f"{what}: summary on stderr"):
        t.eq(summary["messages"], len(lines), f"{what}: one line per message of the summary")
        counts = collections.Counter(x.get("status") for x in lines if isinstance(x, dict))
        for k in ("pending", "saved", "duplicate", "rejected"):
            t.eq(summary[k], counts.get(k, 0), f"{what}: summary count {k} equals the lines")
        t.eq(summary["not_stored"], 0, f"{what}: nothing 'not stored'")
    weird = [x for x in lines if isinstance(x, dict) and x.get("status") not in cltest.STATUSES]
    t.eq(len(weird), 0, f"{what}: lines whose status is not one of {sorted(cltest.STATUSES)}")
    shape_failures = 0
    for x in lines:  # the status check above covers lines with an unknown status
        if isinstance(x, dict) and x.get("status") in cltest.STATUSES and shape_failures < 3:
            before = t.failures
            t.result_shape(x, f"{what}: line")
            shape_failures += t.failures > before
    if t.failures > failures:
        print(r.describe())
        print(f"    first odd lines: {[lines[i] for i in bad[:2]] + weird[:2]}")
    return [x for x in lines if isinstance(x, dict)]


def tally(lines):
    return collections.Counter((x.get("status"), x.get("reason")) for x in lines)


def fmt(c):
    return ", ".join(f"{s}{'/' + r if r else ''} {n}" for (s, r), n in sorted(c.items(), key=lambda kv: str(kv[0])))


# ---- pass 1: every file as it is ----------------------------------------------------------------
d = t.data_dir()
total = collections.Counter()
files = 0
for folder in folders:
    path = os.path.join(corpus, folder)
    n_files = sum(len(fs) for _, _, fs in os.walk(path))
    files += n_files
    lines = import_folder(path, d, f"corpus {folder}")
    t.ok(len(lines) >= sum(1 for dp, _, fs in os.walk(path) for f in fs if os.path.getsize(os.path.join(dp, f)) > 0),
         f"corpus {folder}: at least one result line per non-empty file", got=len(lines), wanted=n_files)
    if folder == FRAGMENTS:
        not_rejected = [x for x in lines if x.get("status") != "rejected"]
        t.eq(len(not_rejected), 0, f"{FRAGMENTS}: every body fragment gets a clear rejection",
             )
    c = tally(lines)
    total += c
    print(f"[t-corpus] pass 1 {folder}: {n_files} files, {len(lines)} messages: {fmt(c)}")
print(f"[t-corpus] pass 1 total: {files} files, {sum(total.values())} messages: {fmt(total)}")

# ---- pass 2: the same messages from a registered sender ------------------------------------------
ANNA = b"From: Anna Berg <anna.berg@alpha-agentur.example>\n"
FROM_LINE = re.compile(rb"^(from|sender)[ \t]*:", re.I | re.M)
copy = t.tmpdir("corpus-as-anna")
n = 0
for folder in folders:
    if folder == FRAGMENTS:
        continue
    for dirpath, _, names in os.walk(os.path.join(corpus, folder)):
        for name in sorted(names):
            with open(os.path.join(dirpath, name), "rb") as f:
                data = f.read()
            if not data or data.startswith(b"From "):
                continue  # empty, or an mbox (pass 1 covers it)
            m = re.search(rb"\r?\n\r?\n", data)
            head, body = (data[:m.start()], data[m.start():]) if m else (data, b"")
            head = FROM_LINE.sub(lambda x: b"X-Original-" + x.group(0), head)
            n += 1
            with open(os.path.join(copy, f"{n:04d}-{folder}-{name}"), "wb") as f:
                f.write(ANNA + head + body)
d2 = t.data_dir()
lines = import_folder(copy, d2, "corpus as anna")
t.eq(len(lines), n, "corpus as anna: one line per rewritten message")
c = tally(lines)
print(f"[t-corpus] pass 2 (sender anna): {n} messages: {fmt(c)}")
accepted = [x for x in lines if x.get("status") in ("pending", "saved", "duplicate")]
t.ok(len(accepted) >= 0.9 * n, "corpus as anna: at least 90% accepted or duplicate (sender and tenant are known)",
     got=len(accepted), wanted=f">= {0.9 * n:.0f}")
broken = 0
for x in accepted:
    if broken >= 3:
        break
    e = t.run(["show", str(x.get("entry")), "--json"], data_dir=d2)
    doc = e.json() if e.rc == 0 else None
    if not t.ok(isinstance(doc, dict) and doc.get("id") == x.get("entry"),
                f"corpus as anna: entry {x.get('entry')}: show --json", e):
        broken += 1
        continue
    raw = doc.get("raw") or {}
    data = t.stored_bytes(x.get("entry"), d2, "raw", raw, f"corpus as anna: entry {x.get('entry')} original")
    if not t.ok(data is not None and len(data) == raw.get("size"),
                f"corpus as anna: entry {x.get('entry')}: the original reads back with its size",
                got=None if data is None else len(data), wanted=raw.get("size")):
        broken += 1
    for n, a in enumerate(doc.get("attachments", []), 1):
        data = t.stored_bytes(x.get("entry"), d2, n, a, f"corpus as anna: entry {x.get('entry')} attachment {n}")
        if not t.ok(data is not None and len(data) == a.get("size"),
                    f"corpus as anna: entry {x.get('entry')}: attachment {n} reads back with its size",
                    got=None if data is None else len(data), wanted=a.get("size")):
            broken += 1
t.finish()
