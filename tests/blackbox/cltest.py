"""Shared helpers for the black-box tests of contactlog (stdlib only).

Every test script is called as `python3 t-NAME.py PATH/TO/contactlog` and
exits 0 (all checks passed), 1 (a check failed) or 77 (skipped).

    t = cltest.Test(__file__)          # parses argv, finds the source root
    r = t.run(["load", "--json", t.masterdata], data_dir=d)
    t.eq(r.rc, 0, "load exit status", r)
    ...
    t.finish()                          # prints the tally, exits 0 or 1
"""
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77
DROP = "crm@contactlog.example"

# DESIGN §5: the keys of every deliver/import result line.
RESULT_KEYS = {"status", "entry", "tenant", "user", "company", "contact", "contacts",
               "lead", "project", "forwarded", "reasons"}
REJECT_KEYS = {"reason", "message"}
STATUSES = {"pending", "saved", "duplicate", "rejected"}
REASONS = {"unknown-tenant", "unknown-sender", "ambiguous-sender", "malformed", "too-large",
           "not-authenticated"}

# sysexits (DESIGN §5)
EXIT_OK, EXIT_USAGE, EXIT_DATAERR, EXIT_NOUSER, EXIT_SOFTWARE, EXIT_TEMPFAIL = 0, 64, 65, 67, 70, 75


def short(text, limit=600):
    """A printable, shortened form of bytes/str for failure messages."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if text is None:
        return "None"
    text = str(text)
    if len(text) > limit:
        return text[:limit] + f"… [{len(text)} chars]"
    return text


class Result:
    """Outcome of one run of the binary."""

    def __init__(self, args, rc, stdout, stderr, seconds, timed_out=False):
        self.args, self.rc, self.stdout, self.stderr = args, rc, stdout, stderr
        self.seconds, self.timed_out = seconds, timed_out

    @property
    def out(self):
        return self.stdout.decode("utf-8", "replace")

    @property
    def err(self):
        return self.stderr.decode("utf-8", "replace")

    def crashed(self):
        """Killed by a signal, EX_SOFTWARE (internal error) or a hang."""
        return self.timed_out or self.rc < 0 or self.rc == EXIT_SOFTWARE or self.rc >= 128

    def json(self):
        """stdout as one JSON document (None when it is not JSON)."""
        try:
            return json.loads(self.out)
        except ValueError:
            return None

    def lines(self):
        """stdout as JSON lines: list of (object or None for an invalid line)."""
        out = []
        for line in self.out.splitlines():
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append(None)
        return out

    def describe(self):
        cmd = " ".join(self.args[1:])
        status = "TIMEOUT" if self.timed_out else (
            f"signal {-self.rc}" if self.rc < 0 else f"exit {self.rc}")
        return (f"    command: contactlog {short(cmd, 300)}\n    {status} after {self.seconds:.1f} s\n"
                f"    stdout: {short(self.out)}\n    stderr: {short(self.err)}")


class Test:
    def __init__(self, script):
        self.name = os.path.splitext(os.path.basename(script))[0]
        if len(sys.argv) < 2:
            print(f"usage: {sys.argv[0]} PATH/TO/contactlog [options]", file=sys.stderr)
            sys.exit(2)
        self.binary = os.path.abspath(sys.argv[1])
        self.extra_args = sys.argv[2:]
        if not os.access(self.binary, os.X_OK):
            print(f"{self.name}: {self.binary} is not executable", file=sys.stderr)
            sys.exit(1)
        here = os.path.dirname(os.path.abspath(script))
        self.source_root = os.environ.get("CL_SOURCE_ROOT") or os.path.dirname(os.path.dirname(here))
        self.data = os.path.join(self.source_root, "tests", "data")
        self.masterdata = os.path.join(self.data, "masterdata.json")
        self.checks = 0
        self.failures = 0
        self.gaps = 0
        self.started = time.monotonic()
        self._tmp = tempfile.mkdtemp(prefix=f"cl-{self.name}-")
        self._dirs = 0
        # The tests must not depend on the caller's environment.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTLOG_")}
        self.env.setdefault("LC_ALL", "C.UTF-8")
        sys.excepthook = self._crashed

    def _crashed(self, kind, value, tb):
        """A bug in the test or output it cannot digest: report, keep the files, exit 1."""
        import traceback
        traceback.print_exception(kind, value, tb, file=sys.stdout)
        print(f"[{self.name}] aborted by {kind.__name__} after {self.checks} checks, {self.failures} failed; "
              f"temporary files kept in {self._tmp}")
        sys.stdout.flush()
        os._exit(1)

    # ---- temporary data ------------------------------------------------------------
    def tmpdir(self, label="data"):
        """A fresh directory below this test's temporary directory."""
        self._dirs += 1
        path = os.path.join(self._tmp, f"{self._dirs:02d}-{label}")
        os.makedirs(path)
        return path

    def data_dir(self, load=True):
        """A fresh data directory, with tests/data/masterdata.json loaded."""
        d = os.path.join(self.tmpdir("db"), "contactlog-data")
        if load:
            r = self.run(["load", self.masterdata], data_dir=d)
            if r.rc != 0:
                self.fail("loading tests/data/masterdata.json", r)
                self.finish()
        return d

    # ---- running -------------------------------------------------------------------
    def run(self, args, data_dir=None, input=None, env=None, timeout=120):
        argv = [self.binary] + list(args)
        if data_dir is not None:
            argv += ["--data-dir", data_dir]
        e = dict(self.env)
        if env:
            e.update(env)
        if isinstance(input, str):
            input = input.encode("utf-8")
        t0 = time.monotonic()
        try:
            p = subprocess.run(argv, input=input if input is not None else b"",
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e,
                               timeout=timeout)
            return Result(argv, p.returncode, p.stdout, p.stderr, time.monotonic() - t0)
        except subprocess.TimeoutExpired as x:
            return Result(argv, -signal.SIGKILL, x.stdout or b"", x.stderr or b"",
                          time.monotonic() - t0, timed_out=True)

    def deliver(self, mail, data_dir, recipient=DROP, extra=(), env=None, timeout=120):
        args = ["deliver"] + (["--recipient", recipient] if recipient else []) + list(extra)
        return self.run(args, data_dir=data_dir, input=mail, env=env, timeout=timeout)

    # ---- checks --------------------------------------------------------------------
    def fail(self, what, result=None, got=None, wanted=None, detail=None):
        self.failures += 1
        print(f"FAIL [{self.name}] {what}")
        if got is not None or wanted is not None:
            print(f"    got:    {short(repr(got))}")
            print(f"    wanted: {short(repr(wanted))}")
        if detail:
            print(f"    {detail}")
        if result is not None:
            print(result.describe())
        sys.stdout.flush()

    def ok(self, cond, what, result=None, got=None, wanted=None, detail=None):
        self.checks += 1
        if not cond:
            self.fail(what, result, got, wanted, detail)
        return bool(cond)

    def known_gap(self, cond, what, note, result=None, got=None, wanted=None):
        """A DESIGN requirement that the project documents as not built yet (README "Not yet
        here"): reported as KNOWN GAP, not counted as a failure — unless CL_STRICT_GAPS=1."""
        if os.environ.get("CL_STRICT_GAPS"):
            return self.ok(cond, f"{what} [{note}]", result, got, wanted)
        self.checks += 1
        if not cond:
            self.gaps += 1
            print(f"KNOWN GAP [{self.name}] {what} [{note}]")
            if got is not None or wanted is not None:
                print(f"    got:    {short(repr(got))}\n    wanted: {short(repr(wanted))}")
        return bool(cond)

    def eq(self, got, wanted, what, result=None):
        self.checks += 1
        if got != wanted:
            self.fail(what, result, got, wanted)
            return False
        return True

    def exit_status(self, r, wanted, what):
        """Exit status equals `wanted` (an int or a collection of ints)."""
        good = r.rc in wanted if isinstance(wanted, (set, tuple, list, frozenset)) else r.rc == wanted
        return self.ok(good, f"{what}: exit status", r, got=r.rc, wanted=wanted)

    def no_crash(self, r, what):
        return self.ok(not r.crashed(), f"{what}: no crash/hang (signal, exit 70, >=128 or timeout)",
                       r, got=r.rc, wanted="a sysexits status")

    def one_line(self, r, what):
        """The single JSON result line of deliver, or None (after recording a failure)."""
        lines = [l for l in r.out.splitlines() if l.strip()]
        if not self.ok(len(lines) == 1, f"{what}: exactly one result line on stdout", r,
                       got=len(lines), wanted=1):
            return None
        try:
            obj = json.loads(lines[0])
        except ValueError as x:
            self.fail(f"{what}: result line is JSON ({x})", r)
            return None
        self.ok(isinstance(obj, dict), f"{what}: result line is a JSON object", r)
        return obj if isinstance(obj, dict) else None

    def result_shape(self, obj, what, r=None):
        """The keys of a result line follow DESIGN §5."""
        if obj is None:
            return False
        want = set(RESULT_KEYS)
        if obj.get("status") == "rejected":
            want |= REJECT_KEYS
        if "candidates" in obj:
            want.add("candidates")
        if "origin" in obj:  # import names the file (and mbox message) of each line
            want.add("origin")
        good = self.eq(set(obj), want, f"{what}: keys of the result line", r)
        good &= self.ok(obj.get("status") in STATUSES, f"{what}: status is one of {sorted(STATUSES)}",
                        r, got=obj.get("status"))
        if obj.get("status") == "rejected":
            good &= self.ok(obj.get("reason") in REASONS, f"{what}: rejection reason is known", r,
                            got=obj.get("reason"), wanted=sorted(REASONS))
            good &= self.ok(isinstance(obj.get("message"), str) and len(obj["message"]) > 10,
                            f"{what}: rejection has a message", r, got=obj.get("message"))
        if "candidates" in obj:
            good &= self.ok(isinstance(obj["candidates"], dict) and obj["candidates"],
                            f"{what}: candidates is a non-empty object", r, got=obj["candidates"])
        good &= self.ok(isinstance(obj.get("contacts"), list), f"{what}: contacts is a list", r)
        good &= self.ok(isinstance(obj.get("reasons"), list), f"{what}: reasons is a list", r)
        return good

    def show(self, entry, data_dir, what, extra=()):
        if not self.ok(isinstance(entry, int) and entry > 0, f"{what}: has an entry id", got=entry):
            return None
        r = self.run(["show", str(entry), "--json"] + list(extra), data_dir=data_dir)
        if not self.exit_status(r, 0, f"{what}: show {entry} --json"):
            return None
        obj = r.json()
        self.ok(isinstance(obj, dict), f"{what}: show --json prints one JSON object", r)
        return obj if isinstance(obj, dict) else None

    def stored_bytes(self, entry, data_dir, which, meta=None, what="stored bytes"):
        """The bytes contactlog stored for an entry: the original message (which="raw") or
        attachment N (from 1), via `show ID --raw` / `show ID --attachment N`. A binary
        without those options (exit 64) is read through meta["path"] (the blob file that
        older versions named in show --json). None, after a recorded failure, otherwise."""
        args = ["show", str(entry)] + (["--raw"] if which == "raw" else ["--attachment", str(which)])
        r = self.run(args, data_dir=data_dir, timeout=300)
        if r.rc == 0:
            return r.stdout
        if r.rc == EXIT_USAGE and isinstance(meta, dict) and meta.get("path"):
            try:
                with open(meta["path"], "rb") as f:
                    return f.read()
            except OSError as x:
                self.fail(f"{what}: blob file {meta['path']} readable ({x})")
                return None
        self.fail(f"{what}: read the stored bytes back", r)
        return None

    def check_stored(self, entry, data_dir, which, meta, want, what, strip_newlines=False):
        """The stored bytes (see stored_bytes) equal `want`; the metadata of show --json (size,
        sha256 or content hash) describes them."""
        self.checks += 1
        data = self.stored_bytes(entry, data_dir, which, meta, what)
        if data is None:
            return False
        if strip_newlines:
            data, want = data.rstrip(b"\r\n"), want.rstrip(b"\r\n")
        good = self.eq(len(data), len(want), f"{what}: size of the stored bytes")
        good &= self.eq(hashlib.sha256(data).hexdigest(), hashlib.sha256(want).hexdigest(),
                        f"{what}: sha256 of the stored bytes equals the original's")
        if isinstance(meta, dict) and not strip_newlines:
            if "size" in meta:
                good &= self.eq(meta["size"], len(want), f"{what}: size in show --json")
            if "sha256" in meta:
                good &= self.eq(meta["sha256"], hashlib.sha256(want).hexdigest(), f"{what}: sha256 in show --json")
            if "hash" in meta:  # content address: SHA-256 or BLAKE2b-256 of the content
                good &= self.ok(meta["hash"] in (hashlib.sha256(want).hexdigest(),
                                                 hashlib.blake2b(want, digest_size=32).hexdigest()),
                                f"{what}: the content hash in show --json is the content's", got=meta["hash"],
                                wanted="SHA-256 or BLAKE2b-256 of the original")
        return good

    def rejected(self, data_dir, extra=()):
        """`rejected --json` as a list of objects (JSON lines or one array)."""
        r = self.run(["rejected", "--json", "--limit", "100000"] + list(extra), data_dir=data_dir)
        if not self.exit_status(r, 0, "rejected --json"):
            return []
        doc = r.json()
        if isinstance(doc, list):
            return doc
        if isinstance(doc, dict):
            return [doc]
        lines = r.lines()
        self.ok(all(isinstance(x, dict) for x in lines), "rejected --json prints JSON", r)
        return [x for x in lines if isinstance(x, dict)]

    def listing(self, args, data_dir, what):
        """inbox/history --json as a list of entry objects."""
        r = self.run(list(args) + ["--json"], data_dir=data_dir)
        if not self.exit_status(r, 0, what):
            return []
        doc = r.json()
        if not self.ok(isinstance(doc, list), f"{what}: --json prints a JSON list", r):
            return []
        return doc

    # ---- end -------------------------------------------------------------------------
    def finish(self):
        secs = time.monotonic() - self.started
        if self.failures == 0 and os.environ.get("CL_KEEP_TMP") is None:
            shutil.rmtree(self._tmp, ignore_errors=True)
        else:
            print(f"[{self.name}] temporary files kept in {self._tmp}")
        gaps = f", {self.gaps} known gaps" if self.gaps else ""
        print(f"[{self.name}] {self.checks} checks, {self.failures} failed{gaps} ({secs:.1f} s)")
        sys.exit(1 if self.failures else 0)

    def skip(self, why):
        print(f"[{self.name}] SKIP: {why}")
        shutil.rmtree(self._tmp, ignore_errors=True)
        sys.exit(SKIP)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`contactlog serve` as a child process: started with its listeners, waited for until its
    'listening:' line, stopped with a signal. stderr (the key=value log) goes to a file."""

    def __init__(self, test, data_dir, args=(), env=None):
        self.test, self.data_dir, self.args = test, data_dir, list(args)
        self.env = dict(test.env)
        self.env.update(env or {})
        self.proc = None
        self.log_path = os.path.join(data_dir, "..", f"serve-{id(self)}.log")
        self.listeners = {}

    def start(self, timeout=30):
        argv = [self.test.binary, "serve", "--data-dir", self.data_dir] + self.args
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log, env=self.env)
        import select
        deadline = time.monotonic() + timeout
        line = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                line = self.proc.stdout.readline()
                break
            if self.proc.poll() is not None:
                break
        text = line.decode("utf-8", "replace").strip()
        if not text.startswith("contactlog serve: listening: "):
            self.stop()
            raise RuntimeError(f"serve did not start (exit {self.proc.returncode}): {text!r}; "
                               f"log: {self.log_text()[-2000:]}")
        for part in text.split(": ", 2)[2].split(", "):
            proto, _, addr = part.partition(" ")
            self.listeners.setdefault(proto, []).append(addr)
        return self

    def address(self, proto="lmtp", unix=False):
        """(host, port) of the first TCP listener of proto, or the path of its Unix socket."""
        for a in self.listeners.get(proto, []):
            if a.startswith("unix:") == unix:
                if unix:
                    return a[5:]
                host, _, port = a.rpartition(":")
                return host.strip("[]"), int(port)
        raise KeyError(proto)

    def signal(self, signum):
        self.proc.send_signal(signum)

    def wait(self, timeout=60):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def stop(self, timeout=60):
        """SIGTERM and wait; the exit status (None when it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.wait(timeout)
        if self.proc.stdout:
            self.proc.stdout.close()
        self.log.close()
        log = self.log_text()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "CRITICAL"):
            self.test.ok(marker not in log, f"serve: no {marker!r} in its log",
                         got=log[log.find(marker):][:3000] if marker in log else None)
        return rc

    def log_text(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Dialog:
    """A raw LMTP/SMTP client that reads every reply line (smtplib.LMTP reads only one reply
    after DATA). replies() returns [(code, text)], one per reply, multi-line replies joined."""

    def __init__(self, address, timeout=30):
        import socket
        if isinstance(address, str):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(address)
        else:
            self.sock = socket.create_connection(address, timeout=timeout)
        self.file = self.sock.makefile("rb")

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def reply(self):
        """One reply: (code, text); (None, '') when the server closed the connection."""
        lines = []
        while True:
            line = self.file.readline()
            if not line:
                return (None, "\n".join(lines))
            line = line.decode("utf-8", "replace").rstrip("\r\n")
            lines.append(line[4:])
            if len(line) < 4 or line[3] != "-":
                try:
                    return (int(line[:3]), "\n".join(lines))
                except ValueError:
                    return (None, line)

    def replies(self, n):
        return [self.reply() for _ in range(n)]

    def close(self):
        # the file from makefile() holds the socket open too
        for part in (self.file, self.sock):
            try:
                part.close()
            except OSError:
                pass


def dot_stuff(message):
    """Message bytes as DATA: CRLF lines, leading dots doubled, the final dot line added."""
    lines = message.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines) + b".\r\n"


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def mail(headers, body="Hallo,\n\nanbei die Unterlagen.\n\nGruß\n", crlf=False):
    """A message from (name, value) pairs and a body; str → UTF-8 bytes."""
    text = "".join(f"{k}: {v}\n" for k, v in headers) + "\n" + body
    data = text.encode("utf-8")
    return data.replace(b"\n", b"\r\n") if crlf else data


IMPORT_SUMMARY = re.compile(
    r"(\d+) messages in [\d.]+ s \([\d.]+/s\): (\d+) pending, (\d+) saved, (\d+) duplicate, "
    r"(\d+) rejected(?: \(([^)]*)\))?, (\d+) not stored")


def import_summary(stderr_text):
    """The counts of `import`'s summary line on stderr, or None."""
    m = None
    for m in IMPORT_SUMMARY.finditer(stderr_text):
        pass
    if m is None:
        return None
    reasons = {}
    if m.group(6):
        for part in m.group(6).split(","):
            k, _, v = part.strip().rpartition(" ")
            reasons[k] = int(v)
    return {"messages": int(m.group(1)), "pending": int(m.group(2)), "saved": int(m.group(3)),
            "duplicate": int(m.group(4)), "rejected": int(m.group(5)), "reasons": reasons,
            "not_stored": int(m.group(7))}
