#!/usr/bin/env python3
"""t-golden: DESIGN §2 rules 2, 3, 4, 6 and 7 case by case.

Each tests/data/mail/CASE.eml is delivered (envelope recipient = drop address) into one data
directory loaded with tests/data/masterdata.json; its result line, without the volatile key
"entry", must equal CASE.expect.json. Where present, CASE.show.json holds expected values of
`show --json` (a subset: only the keys it names are compared; used for decoded subjects and
display names). The exit status must fit the status (0; 65 malformed/too-large; 67 others).

    python3 t-golden.py BINARY              # check
    python3 t-golden.py BINARY --regenerate # rewrite the expect files from the binary's output
                                            # (deliberate updates only: review every diff!)
    python3 t-golden.py BINARY CASE...      # only these cases
"""
import sys
import glob
import json
import os

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import cltest  # noqa: E402

t = cltest.Test(__file__)
REGENERATE = "--regenerate" in t.extra_args
only = [a for a in t.extra_args if not a.startswith("--")]
mail_dir = os.path.join(t.data, "mail")
cases = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(mail_dir, "*.eml")))
if only:
    cases = [c for c in cases if c in only]
elif not t.ok(len(cases) >= 25, "at least 25 golden cases", got=len(cases)):
    t.finish()

d = t.data_dir()


def dump(obj):
    return json.dumps(obj, ensure_ascii=False, indent=2) + "\n"


def subset_diff(got, want, path=""):
    """Differences where `want` (a subset) disagrees with `got`, as (path, got, want)."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return [(path or ".", got, want)]
        out = []
        for k, v in want.items():
            out += subset_diff(got.get(k, "<missing>"), v, f"{path}.{k}")
        return out
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return [(path, got, want)]
        out = []
        for i, (g, w) in enumerate(zip(got, want)):
            out += subset_diff(g, w, f"{path}[{i}]")
        return out
    return [] if got == want else [(path, got, want)]


def fill(got, want):
    """`want`'s shape with `got`'s values (for --regenerate of show files)."""
    if isinstance(want, dict) and isinstance(got, dict):
        return {k: fill(got.get(k), v) for k, v in want.items()}
    if isinstance(want, list) and isinstance(got, list):
        return [fill(g, w) for g, w in zip(got, want)] + got[len(want):]
    return got


changed = []
for name in cases:
    with open(os.path.join(mail_dir, name + ".eml"), "rb") as f:
        data = f.read()
    r = t.deliver(data, d)
    t.no_crash(r, name)
    res = t.one_line(r, name)
    if res is None:
        continue
    t.result_shape(res, name, r)
    status, reason = res.get("status"), res.get("reason")
    want_rc = 0 if status != "rejected" else (65 if reason in ("malformed", "too-large") else 67)
    t.exit_status(r, want_rc, f"{name}: exit status for {status} {reason or ''}".rstrip())
    got = {k: v for k, v in res.items() if k != "entry"}

    expect_path = os.path.join(mail_dir, name + ".expect.json")
    if REGENERATE:
        old = None
        if os.path.exists(expect_path):
            with open(expect_path, encoding="utf-8") as f:
                old = json.load(f)
        if old != got:
            with open(expect_path, "w", encoding="utf-8") as f:
                f.write(dump(got))
            changed.append(name + ".expect.json")
    elif not os.path.exists(expect_path):
        t.fail(f"{name}: {name}.expect.json is missing (write it, or --regenerate and review)")
    else:
        with open(expect_path, encoding="utf-8") as f:
            want = json.load(f)
        t.checks += 1
        if got != want:
            keys = [k for k in sorted(set(got) | set(want)) if got.get(k, "<missing>") != want.get(k, "<missing>")]
            t.fail(f"{name}: result line differs from {name}.expect.json in {', '.join(keys)}", r,
                   detail="\n    ".join(f"{k}: got {json.dumps(got.get(k, '<missing>'), ensure_ascii=False)}"
                                         f"\n       wanted {json.dumps(want.get(k, '<missing>'), ensure_ascii=False)}"
                                         for k in keys))

    show_path = os.path.join(mail_dir, name + ".show.json")
    if os.path.exists(show_path):
        with open(show_path, encoding="utf-8") as f:
            want_show = json.load(f)
        if not res.get("entry"):
            t.fail(f"{name}: {name}.show.json exists but the mail has no entry", r)
            continue
        e = t.show(res.get("entry"), d, name)
        if e is None:
            continue
        if REGENERATE:
            new = fill(e, want_show)
            if new != want_show:
                with open(show_path, "w", encoding="utf-8") as f:
                    f.write(dump(new))
                changed.append(name + ".show.json")
        else:
            diffs = subset_diff(e, want_show)
            t.checks += 1
            if diffs:
                t.fail(f"{name}: show --json differs from {name}.show.json",
                       detail="\n    ".join(f"{p}: got {json.dumps(g, ensure_ascii=False)}\n       wanted "
                                             f"{json.dumps(w, ensure_ascii=False)}" for p, g, w in diffs))

if REGENERATE:
    print(f"[t-golden] --regenerate: rewrote {len(changed)} files; review them with git diff:")
    for c in changed:
        print(f"    tests/data/mail/{c}")
print(f"[t-golden] {len(cases)} cases")
t.finish()
