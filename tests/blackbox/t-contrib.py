#!/usr/bin/env python3
"""t-contrib: contrib/contactlog.service is a unit systemd accepts (systemd-analyze verify, with
ExecStart pointing at the built binary), its sandbox's system-call filter leaves what serve needs
(sched_setattr for GLib's threads), and the configuration its install steps write
(`contactlog config --defaults`) is one `serve` starts with."""
import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
import cltest  # noqa: E402
from cltest import Server, free_port  # noqa: E402

t = cltest.Test(__file__)
unit_path = os.path.join(t.source_root, "contrib", "contactlog.service")
with open(unit_path, encoding="utf-8") as f:
    unit = f.read()

exec_start = re.search(r"^ExecStart=(\S+) serve (.*)$", unit, re.M)
t.ok(exec_start is not None, "the unit runs `contactlog serve`")
filters = re.findall(r"^SystemCallFilter=(.*)$", unit, re.M)
t.ok(any("@system-service" in x for x in filters), "the unit allows @system-service", got=filters)
t.ok(not any("@resources" in x for x in filters), "the unit does not forbid @resources (GLib's sched_setattr)",
     got=filters)
analyze = shutil.which("systemd-analyze")
if analyze and exec_start:
    work = t.tmpdir("unit")
    local = os.path.join(work, "contactlog.service")
    with open(local, "w", encoding="utf-8") as f:
        f.write(unit.replace(exec_start.group(1), t.binary))
    r = subprocess.run([analyze, "verify", local], capture_output=True, text=True)
    t.eq(r.returncode, 0, f"systemd-analyze verify accepts the unit ({r.stderr.strip()[:300]})")
    if any("~@privileged" in x for x in filters):
        r = subprocess.run([analyze, "syscall-filter", "@privileged"], capture_output=True, text=True)
        t.ok("sched_setattr" not in r.stdout, "sched_setattr is not in @privileged")
else:
    print("[t-contrib] systemd-analyze not here: the unit's syntax is not checked")

# The configuration the install steps write is one serve accepts.
d = t.data_dir()
conf = os.path.join(t.tmpdir("etc"), "contactlog.conf")
r = t.run(["config", "--defaults"])
t.exit_status(r, 0, "config --defaults")
with open(conf, "wb") as f:
    f.write(r.stdout)
srv = Server(t, d, ["--config", conf, "--lmtp", f"127.0.0.1:{free_port()}"])
try:
    srv.start()
    t.ok(True, "serve starts with the configuration of `config --defaults`")
except RuntimeError as x:
    t.fail(f"serve starts with the configuration of `config --defaults`: {x}")
t.eq(srv.stop(), 0, "… and stops with exit 0")
t.finish()
