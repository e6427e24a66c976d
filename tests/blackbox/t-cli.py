#!/usr/bin/env python3
"""t-cli: the command-line surface (DESIGN §5): help, version, usage errors (exit 64)."""
import sys
import re

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import cltest  # noqa: E402

COMMANDS = ["load", "deliver", "import", "inbox", "history", "show", "confirm", "add",
            "rejected", "demo", "inspect"]

t = cltest.Test(__file__)
d = t.data_dir(load=False)

# --help lists every command.
r = t.run(["--help"])
t.exit_status(r, 0, "contactlog --help")
listed = set(re.findall(r"^\s+([a-z]+)\s{2,}\S", r.out, re.M))
for c in COMMANDS:
    t.ok(c in listed, f"--help lists command {c!r}", r, got=sorted(listed))

# Every command's --help exits 0, prints a usage for that command and names --data-dir.
for c in COMMANDS:
    r = t.run([c, "--help"])
    t.exit_status(r, 0, f"{c} --help")
    t.ok(re.search(rf"\b{c}\b", r.out) is not None, f"{c} --help names the command", r)
    t.ok("--data-dir" in r.out, f"{c} --help documents --data-dir", r)
    t.eq(r.err, "", f"{c} --help writes nothing to stderr", r)

# The demo's data directory defaults to ./contactlog-demo, and its --help says so.
r = t.run(["demo", "--help"])
t.ok("$CONTACTLOG_DATA_DIR or ./contactlog-demo" in r.out and "contactlog-data" not in r.out,
     "demo --help: --data-dir defaults to $CONTACTLOG_DATA_DIR or ./contactlog-demo", r)
r = t.run(["inbox", "--help"])
t.ok("$CONTACTLOG_DATA_DIR or ./contactlog-data" in r.out, "inbox --help: --data-dir defaults to ./contactlog-data", r)

# README shows the beginning of `config --defaults` and says so: what it shows is the real
# output's first lines, and the sections it leaves out are named.
import os  # noqa: E402
with open(os.path.join(t.source_root, "README.md"), encoding="utf-8") as f:
    readme = f.read()
m = re.search(r"`contactlog config --defaults`\s+prints(.*?)```ini\n(.*?)```", readme, re.S)
r = t.run(["config", "--defaults"])
t.exit_status(r, 0, "config --defaults")
if t.ok(m is not None, "README shows the output of `config --defaults`"):
    shown = m.group(2).rstrip("\n").splitlines()
    real = r.out.splitlines()
    t.eq(real[:len(shown)], shown, "README's `config --defaults` block is the start of the real output")
    missing = [sec for sec in re.findall(r"^\[(\w+)\]$", r.out, re.M) if f"[{sec}]" not in m.group(2)]
    t.ok(all(f"`[{sec}]`" in m.group(1) for sec in missing),
         "README names the sections its block leaves out", got=missing)

# Commands that print for people document --json (DESIGN §5: "Add --json where a
# command prints for people by default").
for c in ["load", "inbox", "history", "show", "confirm", "add", "rejected"]:
    r = t.run([c, "--help"])
    t.ok("--json" in r.out, f"{c} --help documents --json", r)

# --version
r = t.run(["--version"])
t.exit_status(r, 0, "--version")
t.ok(re.search(r"\b\d+\.\d+(\.\d+)?\b", r.out) is not None, "--version prints a version number", r)
t.ok(len(r.out.strip().splitlines()) == 1, "--version prints one line", r)


def usage_error(args, what, data=True):
    """Exit 64 and exactly one non-empty line on stderr, nothing on stdout."""
    r = t.run(args, data_dir=d if data else None)
    t.exit_status(r, 64, what)
    lines = [l for l in r.err.splitlines() if l.strip()]
    t.eq(len(lines), 1, f"{what}: one line on stderr", r)
    t.eq(r.out, "", f"{what}: nothing on stdout", r)
    return r


usage_error(["--no-such-option"], "unknown global option", data=False)
usage_error(["frobnicate"], "unknown command", data=False)
r = usage_error(["frobnicate"], "unknown command (message)", data=False)
t.ok("frobnicate" in r.err, "unknown command: stderr names the command", r)
for c in COMMANDS:
    usage_error([c, "--no-such-option"], f"{c} with an unknown option")
usage_error(["load"], "load without FILE")
usage_error(["import"], "import without PATH")
usage_error(["inbox"], "inbox without --user")
usage_error(["history"], "history without --company/--lead/--project/--user")
usage_error(["history", "--company", "a", "--lead", "1"], "history with two selectors")
usage_error(["show"], "show without ID")
usage_error(["confirm"], "confirm without ID")
usage_error(["add", "--user", "anna"], "add without --channel and --subject")
usage_error(["add", "--user", "anna", "--channel", "Brieftaube", "--subject", "x"],
            "add with an unknown channel")
usage_error(["inbox", "--user"], "inbox --user without its value")
usage_error(["deliver", "stray-argument"], "deliver with an argument")
usage_error(["deliver", "--max-message-size", "viel"], "deliver --max-message-size viel")

r = usage_error(["show", "abc"], "show abc")
usage_error(["show", "0"], "show 0")
usage_error(["show", "-5"], "show -5")
usage_error(["show", "1", "2"], "show with two ids")
usage_error(["confirm", "abc"], "confirm abc")

t.finish()
