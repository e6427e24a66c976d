"""Private, loopback-only instances of real Postfix and real Dovecot (stdlib only).

For the tests and benchmarks that need a real MTA in front of contactlog, or a real
Dovecot LMTP/IMAP server as a baseline. Each instance lives entirely in its own work
directory (configuration, queue, state, sockets, log, mail); nothing in /etc is read
for it or changed, and several instances can run at once in different directories.

    with Dovecot(d + "/dovecot", users={"crm": "secret"}) as dc, \\
         Postfix(d + "/postfix", free_port(), "contactlog.example",
                 f"inet:127.0.0.1:{dc.lmtp_port}") as pf:
        ...                  # SMTP to 127.0.0.1:pf.smtp_port, IMAP to dc.imap_port
        pf.wait_empty(30)
        print(pf.log(), dc.log())

Both need root (the daemons switch to the users postfix, dovecot, dovenull and mail
that the Debian packages create) and the packages of scripts/install-deps; otherwise
the constructor raises Unavailable (a test then exits 77).

How they run: `postfix -c CONF check` creates the queue, then Postfix's `master -c CONF`
and `dovecot -F -c FILE` run in the foreground as children of ours, each leading its
own process group (as root a non-default Postfix configuration directory needs no
alternate_config_directories in /etc/postfix/main.cf). stop() sends SIGTERM to the
master (what `postfix stop` and `doveadm stop` do), waits until no process of the
group is left and SIGKILLs the group if it must. Instances also stop at interpreter
exit, and a small watchdog process per instance (this file run with --watchdog) ends
the group when the test process dies without stop(), even by SIGKILL or a timeout.
"""
import atexit
import grp
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


class Unavailable(Exception):
    """The instance cannot run on this machine (not root, package missing): skip (77)."""


# --------------------------------------------------------------------------- helpers

def free_port(host="127.0.0.1"):
    """A TCP port on host that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def listening(port):
    """True when a socket listens on TCP port (read from /proc/net/tcp, so checking
    leaves no connect/disconnect lines in the daemons' logs)."""
    want = ":%04X" % port
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] == "0A" and cols[1].endswith(want):
                return True
    return False


def wait_port(port, timeout=10.0, alive=None):
    """Wait until something listens on port; alive() returning False ends it early."""
    deadline = time.monotonic() + timeout
    while True:
        if listening(port):
            return True
        if time.monotonic() > deadline or (alive is not None and not alive()):
            return False
        time.sleep(0.05)


def group_pids(pgid):
    """Live (non-zombie) processes of process group pgid."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:  # state ppid pgrp ...
            pids.append(int(entry))
    return pids


def _find(name, dirs=("/usr/sbin", "/usr/bin", "/usr/lib/dovecot")):
    for d in dirs:
        if os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    return shutil.which(name)


def _require(what, programs, users, groups=()):
    """{name: path} of the programs, or Unavailable saying what is missing."""
    if os.geteuid() != 0:
        raise Unavailable(f"{what} needs root (its daemons switch users)")
    paths = {}
    for name in programs:
        paths[name] = _find(name)
        if not paths[name]:
            raise Unavailable(f"{what}: program {name} not found (scripts/install-deps installs it)")
    for name, lookup in [(u, pwd.getpwnam) for u in users] + [(g, grp.getgrnam) for g in groups]:
        try:
            lookup(name)
        except KeyError:
            raise Unavailable(f"{what}: system user/group {name} missing (package not installed?)")
    return paths


def _make_reachable(path):
    """Let the daemons' users (postfix, dovecot, mail) reach path: they open files
    below it after dropping root. A directory without search permission for others
    (a mkdtemp directory is 0700) gets g+x,o+x if it is path itself or lies in the
    temporary directory; elsewhere that is an error rather than a change."""
    path = os.path.abspath(path)
    tmp = os.path.realpath(tempfile.gettempdir())
    d = path
    while True:
        mode = os.stat(d).st_mode
        if not mode & 0o001:
            if d == path or os.path.realpath(d).startswith(tmp + os.sep):
                os.chmod(d, (mode & 0o7777) | 0o011)
            else:
                raise RuntimeError(f"{d} (mode {mode & 0o7777:o}) keeps the mail daemons out of "
                                   f"{path}: use a work directory below {tmp}")
        if d == "/":
            return
        d = os.path.dirname(d)


def _kill_group(pgid, timeout):
    """SIGTERM to process group pgid, SIGKILL after timeout; True when it is gone."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
        if not group_pids(pgid):
            return True
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while group_pids(pgid) and time.monotonic() < deadline:
            time.sleep(0.02)
    return not group_pids(pgid)


def _watchdog(pgid):
    """Runs as `python3 mtahost.py --watchdog PGID` with a pipe from the test on
    stdin: when the pipe closes (stop() done, or the test died, even by SIGKILL),
    end whatever is left of the instance's process group."""
    while sys.stdin.buffer.read(4096):
        pass
    _kill_group(pgid, 10)


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


class _Daemon:
    """A master process run as our child, leading its own process group, with a
    watchdog process that ends the group if this process dies without stop()."""
    proc = watchdog = None
    start_seconds = stop_seconds = None

    @property
    def pgid(self):
        return self.proc.pid if self.proc else None

    def pids(self):
        """Live processes of the instance (the master's process group)."""
        return group_pids(self.pgid) if self.proc else []

    def running(self):
        return bool(self.pids())

    def _spawn(self, argv, ports, timeout, stderr_path):
        with open(stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                         start_new_session=True)
        atexit.register(self.stop)
        # its own session too, so that killing the test's process group spares it
        self.watchdog = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--watchdog", str(self.proc.pid)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, start_new_session=True)
        alive = lambda: self.proc.poll() is None
        if not all(wait_port(p, timeout, alive=alive) for p in ports if p) or not alive():
            why = f"{_read(stderr_path)}\n--- log:\n{self.log()[-3000:]}"
            self.stop()
            raise RuntimeError(f"{argv[0]} did not start:\n{why}")

    def stop(self, timeout=15):
        """SIGTERM to the master, then make sure no process of the instance is left
        (SIGKILL to the group after timeout). Does nothing when not started."""
        if self.proc is None:
            return
        atexit.unregister(self.stop)
        t0 = time.monotonic()
        pgid = self.proc.pid
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        deadline = time.monotonic() + timeout
        while group_pids(pgid) and time.monotonic() < deadline:
            time.sleep(0.02)
        gone = _kill_group(pgid, 0)
        self.proc.wait()
        self.proc = None
        if self.watchdog:
            self.watchdog.stdin.close()
            self.watchdog.wait()
            self.watchdog = None
        self.stop_seconds = time.monotonic() - t0
        if not gone:
            raise RuntimeError(f"processes of group {pgid} survive SIGKILL: {group_pids(pgid)}")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def wait_log(self, pattern, timeout=30):
        """The first match of regex pattern in log() within timeout, else None."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log())
            if m or time.monotonic() > deadline:
                return m
            time.sleep(0.1)


# --------------------------------------------------------------------------- Postfix

POSTFIX_MASTER_CF = """\
# written by tests/blackbox/mtahost.py; chroot off everywhere (column 5)
# service type  private unpriv  chroot  wakeup  maxproc command + args
{listen} inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix(_Daemon):
    """A Postfix instance in workdir: smtpd on 127.0.0.1:smtp_port only, accepting mail
    from 127.0.0.0/8 for relay_domains (a name or a list) and passing it by LMTP to
    lmtp_target ("inet:127.0.0.1:PORT" or "unix:/path/to/socket"; the lmtp client runs
    as user postfix, so a socket needs mode 0666 or so). No local delivery, no DNS,
    nothing relayed elsewhere (default_transport is error); deferred mail is retried
    after 1-2 s. `extra` adds or overrides main.cf parameters (e.g.
    {"message_size_limit": "104857600"}); the log is maillog() in workdir."""

    def __init__(self, workdir, smtp_port, relay_domains, lmtp_target, extra=None):
        self.paths = _require("Postfix", ["postfix", "postqueue", "postconf"],
                              ["postfix"], ["postdrop"])
        r = subprocess.run([self.paths["postconf"], "-dh", "daemon_directory"],
                           capture_output=True, text=True)
        self.paths["master"] = os.path.join(r.stdout.strip() or "/usr/lib/postfix/sbin", "master")
        if not os.access(self.paths["master"], os.X_OK):
            raise Unavailable(f"Postfix: {self.paths['master']} not found")
        if not re.match(r"(inet:[^:]+:\d+|unix:/.+)$", lmtp_target):
            raise ValueError(f"lmtp_target must be inet:HOST:PORT or unix:/PATH, not {lmtp_target!r}")
        self.workdir = os.path.abspath(workdir)
        self.smtp_port = int(smtp_port)
        self.relay_domains = [relay_domains] if isinstance(relay_domains, str) else list(relay_domains)
        self.lmtp_target = lmtp_target
        self.extra = dict(extra or {})
        self.config_dir = os.path.join(self.workdir, "conf")
        self.queue_dir = os.path.join(self.workdir, "queue")
        self.data_dir = os.path.join(self.workdir, "data")
        self.log_path = os.path.join(self.workdir, "maillog")

    def main_cf(self):
        """The main.cf parameters, in order."""
        params = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue_dir,
            "data_directory": self.data_dir,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": "mta-test.localdomain",  # fixed: no hostname/DNS guessing
            "mydomain": "localdomain",
            "myorigin": "$myhostname",
            "mydestination": "",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "relay_domains": ", ".join(self.relay_domains),
            "relay_transport": "lmtp:" + self.lmtp_target,
            "default_transport": "error:5.7.1 outbound mail is disabled in this test instance",
            # no DNS anywhere
            "smtpd_peername_lookup": "no",
            "smtp_host_lookup": "native",
            "lmtp_host_lookup": "native",
            "smtp_dns_support_level": "disabled",
            "lmtp_dns_support_level": "disabled",
            # quick retries: a test sees the retry after a 4xx within seconds
            "minimal_backoff_time": "2s",
            "maximal_backoff_time": "4s",
            "queue_run_delay": "1s",
            "delay_warning_time": "0h",
            "biff": "no",
            # the log goes to a file of our own (postlogd), not to syslog
            "maillog_file": self.log_path,
            "maillog_file_prefixes": self.workdir,
        }
        params.update(self.extra)
        return params

    def write_config(self):
        os.makedirs(self.config_dir, exist_ok=True)
        os.makedirs(self.queue_dir, exist_ok=True)
        _make_reachable(self.queue_dir)
        with open(os.path.join(self.config_dir, "main.cf"), "w") as f:
            f.write("# written by tests/blackbox/mtahost.py\n")
            f.writelines(f"{k} = {v}\n" for k, v in self.main_cf().items())
        with open(os.path.join(self.config_dir, "master.cf"), "w") as f:
            f.write(POSTFIX_MASTER_CF.format(listen=f"127.0.0.1:{self.smtp_port}"))
        # The postfix command waits until main.cf is about 2 s old; ours need not be new.
        past = time.time() - 60
        for name in ("main.cf", "master.cf"):
            os.utime(os.path.join(self.config_dir, name), (past, past))

    def postfix(self, *args, timeout=60):
        """Run `postfix -c CONF ARGS...`; the CompletedProcess (text)."""
        return subprocess.run([self.paths["postfix"], "-c", self.config_dir, *args],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)

    def start(self, timeout=30):
        """Write the configuration, create the queue and check it (`postfix check`),
        start the master and wait for smtpd's port."""
        if self.running():
            return self
        t0 = time.monotonic()
        self.write_config()
        r = self.postfix("check", timeout=timeout)
        self.check_output = r.stdout + r.stderr
        if r.returncode != 0:
            raise RuntimeError(f"postfix check failed ({r.returncode}):\n{self.check_output}\n"
                               f"--- log:\n{self.log()[-3000:]}")
        self._spawn([self.paths["master"], "-c", self.config_dir], [self.smtp_port], timeout,
                    os.path.join(self.workdir, "master.stderr"))
        self.start_seconds = time.monotonic() - t0
        return self

    def reload(self):
        """Rewrite the configuration (after changing extra/lmtp_target) and `postfix reload`."""
        self.write_config()
        r = self.postfix("reload")
        if r.returncode != 0:
            raise RuntimeError(f"postfix reload failed: {r.stdout}{r.stderr}")

    def master_pid(self):
        try:
            with open(os.path.join(self.queue_dir, "pid", "master.pid")) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def log(self):
        """Text of the instance's maillog."""
        return _read(self.log_path)

    def postqueue(self, *args, timeout=30):
        """Run `postqueue -c CONF ARGS...`; the CompletedProcess (text)."""
        return subprocess.run([self.paths["postqueue"], "-c", self.config_dir, *args],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)

    def queue(self):
        """The queued messages as `postqueue -j` gives them: dicts with queue_id,
        queue_name (incoming/active/deferred/hold), sender, message_size,
        arrival_time and recipients [{address, delay_reason (when deferred)}]."""
        r = self.postqueue("-j")
        if r.returncode != 0:
            raise RuntimeError(f"postqueue -j failed ({r.returncode}): {r.stderr}")
        return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]

    def flush(self):
        """`postqueue -f`: try every deferred message now."""
        r = self.postqueue("-f")
        if r.returncode != 0:
            raise RuntimeError(f"postqueue -f failed ({r.returncode}): {r.stderr}")

    def wait_empty(self, timeout=30):
        """True once the queue is empty, False if it still is not after timeout."""
        deadline = time.monotonic() + timeout
        while self.queue():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)
        return True


# --------------------------------------------------------------------------- Dovecot

DOVECOT_CONF = """\
# written by tests/blackbox/mtahost.py
base_dir = {w}/run
state_dir = {w}/state
log_path = {w}/dovecot.log
instance_name = {instance}
protocols = {protocols}
listen = 127.0.0.1
ssl = no
# plain text passwords, on loopback only (listen above)
disable_plaintext_auth = no
auth_mechanisms = plain login
# LMTP "RCPT TO:<crm@contactlog.example>" and IMAP login "crm" are both user crm
auth_username_format = %Ln
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {w}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%n {w}/users
  default_fields = home={w}/home/%u
}}
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:{w}/mail/%u
namespace inbox {{
  inbox = yes
}}
# durable like a production server: every mail on disk before the 250
mail_fsync = always
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
  unix_listener lmtp {{
    mode = 0666
  }}
}}
{extra}
"""


class Dovecot(_Daemon):
    """A Dovecot instance in workdir: IMAP on 127.0.0.1:imap_port and LMTP on
    127.0.0.1:lmtp_port (None picks a free port, 0 turns the listener off; the LMTP
    unix socket `lmtp_socket` is always there, mode 0666), users from a passwd-file
    (users = {name: password}; a recipient's domain is ignored), mail in Maildir
    WORKDIR/mail/USER owned by the system user mail_user (default `mail`), fsync on
    every save. `extra` is appended to the configuration file."""

    def __init__(self, workdir, imap_port=None, lmtp_port=None, users=None,
                 mail_user="mail", extra=""):
        self.paths = _require("Dovecot", ["dovecot", "doveadm", "dovecot-lda"],
                              ["dovecot", "dovenull", mail_user], ["dovecot"])
        if imap_port != 0 and not os.path.exists("/usr/lib/dovecot/imap"):
            raise Unavailable("Dovecot: /usr/lib/dovecot/imap missing (package dovecot-imapd)")
        if not os.path.exists("/usr/lib/dovecot/lmtp"):
            raise Unavailable("Dovecot: /usr/lib/dovecot/lmtp missing (package dovecot-lmtpd)")
        self.workdir = os.path.abspath(workdir)
        self.imap_port = free_port() if imap_port is None else int(imap_port)
        self.lmtp_port = free_port() if lmtp_port is None else int(lmtp_port)
        self.users = dict(users if users is not None else {"drop": "secret"})
        pw = pwd.getpwnam(mail_user)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.extra = extra
        self.config_path = os.path.join(self.workdir, "dovecot.conf")
        self.base_dir = os.path.join(self.workdir, "run")
        self.log_path = os.path.join(self.workdir, "dovecot.log")
        self.lmtp_socket = os.path.join(self.base_dir, "lmtp")

    def write_config(self):
        os.makedirs(self.workdir, exist_ok=True)
        _make_reachable(self.workdir)
        for sub in ("mail", "home"):
            d = os.path.join(self.workdir, sub)
            os.makedirs(d, exist_ok=True)
            os.chown(d, self.uid, self.gid)
        os.makedirs(os.path.join(self.workdir, "state"), exist_ok=True)
        users = os.path.join(self.workdir, "users")
        with open(users, "w") as f:
            f.writelines(f"{name}:{password}::::::\n" for name, password in self.users.items())
        os.chown(users, 0, grp.getgrnam("dovecot").gr_gid)  # read by auth, user dovecot
        os.chmod(users, 0o640)
        protocols = "lmtp imap" if self.imap_port else "lmtp"
        with open(self.config_path, "w") as f:
            f.write(DOVECOT_CONF.format(
                w=self.workdir, instance="mtahost-" + os.path.basename(self.workdir),
                protocols=protocols, uid=self.uid, gid=self.gid,
                imap_port=self.imap_port, lmtp_port=self.lmtp_port, extra=self.extra))

    def start(self, timeout=30):
        """Write the configuration, start `dovecot -F` and wait for its listeners."""
        if self.running():
            return self
        t0 = time.monotonic()
        self.write_config()
        self._spawn([self.paths["dovecot"], "-F", "-c", self.config_path],
                    [self.imap_port, self.lmtp_port], timeout,
                    os.path.join(self.workdir, "dovecot.stderr"))
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.lmtp_socket) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.start_seconds = time.monotonic() - t0
        return self

    def log(self):
        """Text of the instance's log."""
        return _read(self.log_path)

    def doveadm(self, *args, timeout=60):
        """Run `doveadm -c CONF ARGS...`; the CompletedProcess (text)."""
        return subprocess.run([self.paths["doveadm"], "-c", self.config_path, *args],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)

    def maildir(self, user):
        """The user's Maildir (INBOX), with new/ cur/ tmp/ below it."""
        return os.path.join(self.workdir, "mail", user)

    def messages(self, user):
        """Paths of the messages in the user's INBOX (new/ and cur/), sorted."""
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir(user), sub)
            if os.path.isdir(d):
                out += [os.path.join(d, n) for n in os.listdir(d) if not n.startswith(".")]
        return sorted(out)

    def wait_messages(self, user, count, timeout=30):
        """True once the user's INBOX holds at least count messages."""
        deadline = time.monotonic() + timeout
        while len(self.messages(user)) < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def deliver_file(self, user, path):
        """Put the message in file path into the user's INBOX with dovecot-lda, as
        Dovecot itself delivers (the instance must be running: the LDA asks its auth
        process for the user)."""
        with open(path, "rb") as f:
            r = subprocess.run([self.paths["dovecot-lda"], "-c", self.config_path, "-d", user],
                               stdin=f, capture_output=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"dovecot-lda -d {user} failed ({r.returncode}): "
                               f"{r.stderr.decode(errors='replace')}")


if __name__ == "__main__" and sys.argv[1:2] == ["--watchdog"]:
    _watchdog(int(sys.argv[2]))
