#!/usr/bin/env python3
"""t-bad-input: hostile and broken input to `contactlog deliver` — each gets one result line and a
sysexits status, never a crash or a hang; size limits (default 50M, --max-message-size,
CONTACTLOG_MAX_MESSAGE_BYTES); peak memory while storing a 40 MB attachment.

Options after the binary: --quick skips the 60 MB and 40 MB cases."""
import base64
import hashlib
import os
import random
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import cltest  # noqa: E402
from cltest import mail

t = cltest.Test(__file__)
QUICK = "--quick" in t.extra_args


def sanitized(binary):
    """True for an AddressSanitizer build (its memory use says nothing about ours)."""
    if "ASAN_OPTIONS" in os.environ:
        return True
    try:
        with open(binary, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


SANITIZED = sanitized(t.binary)
d = t.data_dir()
rng = random.Random(20261203)
ANNA = "Anna Berg <anna.berg@alpha-agentur.example>"
JM = "j.mueller@acme-maschinen.example"
rejected_sizes = {}  # size of each message we expect in `rejected` → reason


def known(subject, mid, extra=(), body="Hallo.\n", to=JM):
    return mail([("From", ANNA), ("To", to), ("Subject", subject),
                 ("Date", "Fri, 06 Nov 2026 10:00:00 +0100"), ("Message-ID", f"<{mid}@bad.example>")]
                + list(extra), body)


def case(what, data, want_status, want_codes, want_reason=None, extra=(), env=None, timeout=120):
    if isinstance(data, str):
        data = data.encode("utf-8")
    r = t.deliver(data, d, extra=extra, env=env, timeout=timeout)
    t.no_crash(r, what)
    t.exit_status(r, want_codes, what)
    res = t.one_line(r, what)
    if res is None:
        return None, r
    t.result_shape(res, what, r)
    if isinstance(want_status, str):
        want_status = {want_status}
    t.ok(res.get("status") in want_status, f"{what}: status", r, got=res.get("status"), wanted=sorted(want_status))
    if want_reason is not None:
        t.eq(res.get("reason"), want_reason, f"{what}: reason", r)
    if res.get("status") == "rejected":
        rejected_sizes[len(data)] = res.get("reason")
        want = 65 if res.get("reason") in ("malformed", "too-large") else 67
        t.eq(r.rc, want, f"{what}: exit status fits the reason {res.get('reason')}", r)
    return res, r


# ---- empty and garbage ---------------------------------------------------------------------
case("empty input", b"", "rejected", 65, "malformed")
case("only a blank line", b"\n", "rejected", 65, "malformed")
case("binary garbage", rng.randbytes(64 * 1024), "rejected", {65, 67})
case("garbage with NUL bytes", b"\x00" * 1000 + rng.randbytes(1000), "rejected", {65, 67})
case("headers only, no body, no From", b"Subject: nur ein Header\n", "rejected", 65, "malformed")

# ---- broken MIME from a known sender ---------------------------------------------------------
broken = known("Kaputtes MIME", "broken-mime",
               [("MIME-Version", "1.0"), ("Content-Type", 'multipart/mixed; boundary="XYZ"')],
               "--XYZ\nContent-Type: text/plain; charset=utf-8\n\nLesbarer Teil vor dem Anhang.\n"
               "--XYZ\nContent-Type: application/pdf; name=\"kaputt.pdf\"\n"
               "Content-Disposition: attachment; filename=\"kaputt.pdf\"\n"
               "Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK%%%%!!!!====ÄÖÜ@@@\nnot*base64*at*all\n")
res, r = case("multipart without closing boundary, bad base64", broken, "pending", 0)
if res:
    e = t.show(res.get("entry"), d, "broken MIME")
    if e:
        t.ok("Lesbarer Teil" in e.get("text", ""), "broken MIME: the readable text part is kept", got=e.get("text"))

bad_charset = known("Unbekannter Zeichensatz", "bad-charset",
                    [("MIME-Version", "1.0"), ("Content-Type", "text/plain; charset=x-does-not-exist"),
                     ("Content-Transfer-Encoding", "quoted-printable")],
                    "Gr=FC=DFe =E2=80=93 und ein kaputtes =ZZ Escape=\n")
res, r = case("unknown charset, broken quoted-printable", bad_charset, "pending", 0)
if res:
    e = t.show(res.get("entry"), d, "unknown charset")
    if e:
        t.ok("Gr" in e.get("text", ""), "unknown charset: text is kept", got=e.get("text"))

binary_body = known("Binärer Text", "binary-body", [("Content-Type", "text/plain; charset=utf-8")],
                    "") + rng.randbytes(4096) + b"\n"
res, r = case("binary bytes in a text body", binary_body, "pending", 0)
if res:
    e = t.show(res.get("entry"), d, "binary body")
    t.ok(e is not None, "binary body: show --json prints valid JSON (valid UTF-8 text)")

nested = known("Tief verschachtelt", "nested", [("MIME-Version", "1.0"),
                                                ("Content-Type", 'multipart/mixed; boundary="b0"')], "")
depth = 3000
for i in range(1, depth):
    nested += f"--b{i - 1}\nContent-Type: multipart/mixed; boundary=\"b{i}\"\n\n".encode()
nested += f"--b{depth - 1}\nContent-Type: text/plain\n\nganz innen\n".encode()
case(f"{depth} nested multiparts", nested, "pending", 0)

hostile_names = ["../../etc/passwd", "C:\\Windows\\evil.exe", ".htaccess", "a\x01b\x7f.txt", "x" * 5000 + ".pdf",
                 "Rechnung\u202egnp.exe"]
parts = "".join(f'--H\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename="{n}"\n\n'
                f"Inhalt {i}\n" for i, n in enumerate(hostile_names))
hostile = known("Anhänge mit bösen Namen", "hostile-names",
                [("MIME-Version", "1.0"), ("Content-Type", 'multipart/mixed; boundary="H"')],
                "--H\nContent-Type: text/plain\n\nText\n" + parts + "--H--\n")
res, r = case("attachments with path names, control characters, 5000-character name", hostile, "pending", 0)
if res:
    e = t.show(res.get("entry"), d, "hostile file names")
    names = [a.get("name") or "" for a in (e or {}).get("attachments", [])]
    t.eq(len(names), len(hostile_names), "hostile file names: every attachment is kept")
    for n in names:
        t.ok(n and "/" not in n and "\\" not in n and not n.startswith(".") and
             not any(ord(ch) < 32 or ord(ch) == 127 or 0x202a <= ord(ch) <= 0x202e or 0x2066 <= ord(ch) <= 0x2069
                     for ch in n) and len(n.encode()) <= 255,
             "hostile file names: stored name is a safe file name (no /, \\, leading dot, control or bidi "
             "characters; at most 255 bytes)", got=n[:80])

# ---- NUL in the text --------------------------------------------------------------------------
# Two mails without Message-ID, alike up to a NUL in the body: two entries, the text whole (the
# text once ended at the NUL, and the second mail was "already captured" and lost).
def nul_mail(rest):
    head = (f"From: {ANNA}\r\nTo: {JM}\r\nSubject: Mit NUL\r\n"
            "Date: Fri, 06 Nov 2026 10:00:00 +0100\r\n\r\n").encode()
    return head + b"Hallo\r\n\x00" + rest + b"\r\n"


first, _ = case("a NUL in the body", nul_mail(b"ERSTER Inhalt"), "pending", 0)
second, _ = case("another mail, alike up to the NUL", nul_mail(b"GANZ anderer Inhalt"), "pending", 0)
if first and second:
    t.ok(first.get("entry") != second.get("entry"), "two mails alike up to a NUL are two entries",
         got=(first.get("entry"), second.get("entry")))
    r = t.run(["show", str(second.get("entry"))], data_dir=d)
    t.ok("GANZ anderer Inhalt" in r.out, "the text after the NUL is kept", r)

# ---- huge header lines -----------------------------------------------------------------------
long_hdr = known("Neues Logo mit langem Header", "long-header", [("X-Long", "a" * (1 << 20))])
case("1 MB single header line (X-Long)", long_hdr, "pending", 0)
long_subj = known("Neues Logo " + "Wort " * ((1 << 20) // 5), "long-subject")
res, r = case("1 MB Subject line", long_subj, "pending", 0)
if res:
    t.eq(res.get("lead"), "11112", "1 MB Subject: the name at its start still matches (lead 11112)", r)
long_to = mail([("From", ANNA), ("To", "x" * (1 << 20) + "@extern.example, " + JM),
                ("Subject", "Langer Empfänger"), ("Message-ID", "<long-to@bad.example>")])
res, r = case("1 MB address in To", long_to, "pending", 0)
if res:
    t.eq(res.get("contacts"), ["jmueller"], "1 MB address in To: the known contact still matches", r)

# ---- 10,000 recipients ---------------------------------------------------------------------------
rcpts = [f"Empfänger {i} <person{i}@verteiler{i % 97}.example>" for i in range(10000)]
rcpts[0] = f"Jürgen Müller <{JM}>"
rcpts[500] = "Theo Grün <t.gruen@baumschule-gruen.example>"
rcpts[700] = "Kai Ahrens <k.ahrens@acme-nord.example>"  # contact of the other tenant
many = mail([("From", ANNA), ("To", ",\n ".join(rcpts)), ("Cc", "S.Krause@acme-maschinen.example"),
             ("Subject", "Rundschreiben an alle"), ("Date", "Fri, 06 Nov 2026 10:00:00 +0100"),
             ("Message-ID", "<many-rcpts@bad.example>")])
res, r = case("10,000 recipients in To", many, "pending", 0)
if res:
    t.eq(res.get("contacts"), ["jmueller", "tgruen", "skrause"],
         "10,000 recipients: only the known contacts of the tenant, To then Cc", r)
    t.eq(res.get("company"), "acme", "10,000 recipients: company of the first contact", r)
    t.ok(r.seconds < 30, "10,000 recipients: done in under 30 s", r, got=round(r.seconds, 1))

# ---- size limits ----------------------------------------------------------------------------------
small = known("Klein", "small-1k", body="Kurz.\n")
t.ok(len(small) < 1024, "test data: the small mail is under 1 KiB", got=len(small))
big2k = known("Zwei Kilobyte", "big-2k", body=("Zeile mit Text. " * 4 + "\n") * 32)
t.ok(2048 <= len(big2k) < 4096, "test data: the 2 KB mail is 2-4 KiB", got=len(big2k))

res, r = case("--max-message-size 1K, 2 KB mail", big2k, "rejected", 65, "too-large",
              extra=["--max-message-size", "1K"])
if res:
    t.ok(str(len(big2k)) in res.get("message", ""), "--max-message-size 1K: the message says the size", r)
    t.ok("1024" in res.get("message", ""), "--max-message-size 1K: the message says the limit", r)
case("--max-message-size 1K, small mail", small, "pending", 0, extra=["--max-message-size", "1K"])

big2k_env = big2k.replace(b"big-2k@", b"big-2k-env@")
res, r = case("CONTACTLOG_MAX_MESSAGE_BYTES=1024, 2 KB mail", big2k_env, "rejected", 65, "too-large",
              env={"CONTACTLOG_MAX_MESSAGE_BYTES": "1024"})
if res:
    t.ok(str(len(big2k_env)) in res.get("message", ""), "CONTACTLOG_MAX_MESSAGE_BYTES: the message says the size", r)
small_env = small.replace(b"small-1k@", b"small-env@")
case("CONTACTLOG_MAX_MESSAGE_BYTES=1024, small mail", small_env, "pending", 0,
     env={"CONTACTLOG_MAX_MESSAGE_BYTES": "1024"})
# the flag wins over the environment
big2k_both = big2k.replace(b"big-2k@", b"big-2k-both@")
case("env 1024 but --max-message-size 1M: 2 KB mail", big2k_both, "pending", 0,
     extra=["--max-message-size", "1M"], env={"CONTACTLOG_MAX_MESSAGE_BYTES": "1024"})


def big_mail(path, total, mid, attachment=None):
    """Write a mail of about `total` bytes to path; with `attachment` (bytes) as base64 part."""
    with open(path, "wb") as f:
        f.write(known("Große Datei", mid, [("MIME-Version", "1.0"),
                                           ("Content-Type", 'multipart/mixed; boundary="GRENZE"')], ""))
        f.write(b"--GRENZE\nContent-Type: text/plain; charset=utf-8\n\nAnbei die Druckdaten.\n")
        f.write(b"--GRENZE\nContent-Type: application/octet-stream\n"
                b"Content-Disposition: attachment; filename=\"druckdaten.bin\"\n"
                b"Content-Transfer-Encoding: base64\n\n")
        if attachment is None:
            line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\n"
            block = line * 8192
            while f.tell() + len(block) < total:
                f.write(block)
        else:
            enc = base64.encodebytes(attachment)  # 76-char lines
            f.write(enc)
        f.write(b"--GRENZE--\n")
        return f.tell()


if QUICK:
    print("[t-bad-input] --quick: skipping the 60 MB and 40 MB cases")
else:
    tmp = t.tmpdir("big")
    # ---- 60 MB with the default limit (50M) ----------------------------------------------
    p60 = os.path.join(tmp, "60mb.eml")
    size60 = big_mail(p60, 60 * 1024 * 1024, "huge-60m")
    with open(p60, "rb") as f:
        r = t.run(["deliver", "--recipient", cltest.DROP], data_dir=d, input=f.read(), timeout=300)
    t.no_crash(r, "60 MB mail")
    t.exit_status(r, 65, "60 MB mail (default limit 50M)")
    res = t.one_line(r, "60 MB mail")
    if res:
        t.eq((res.get("status"), res.get("reason")), ("rejected", "too-large"), "60 MB mail: rejected too-large", r)
        t.ok(str(size60) in res.get("message", ""), "60 MB mail: the message says the size", r, got=res.get("message"))
        rejected_sizes[size60] = "too-large"

    # ---- 40 MB with one base64 attachment, limit 100M: peak memory ------------------------
    blob = random.Random(40).randbytes(29 * 1024 * 1024)
    want_sha = hashlib.sha256(blob).hexdigest()
    p40 = os.path.join(tmp, "40mb.eml")
    size40 = big_mail(p40, 0, "huge-40m", attachment=blob)
    del blob
    t.ok(38e6 < size40 < 45e6, "test data: the attachment mail is about 40 MB", got=size40)
    wrapper = (
        "import resource, subprocess, sys\n"
        "with open(sys.argv[1], 'rb') as f:\n"
        "    p = subprocess.run(sys.argv[2:], stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
        "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(p.returncode)\n"
        "print(ru.ru_maxrss)\n"
        "sys.stdout.write(p.stdout.decode('utf-8', 'replace'))\n"
        "sys.stderr.write(p.stderr.decode('utf-8', 'replace'))\n"
    )
    w = subprocess.run([sys.executable, "-c", wrapper, p40, t.binary, "deliver", "--recipient", cltest.DROP,
                        "--max-message-size", "100M", "--data-dir", d],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=t.env, timeout=300)
    out = w.stdout.decode("utf-8", "replace").split("\n", 2)
    if t.ok(len(out) == 3 and out[0].lstrip("-").isdigit(), "40 MB mail: the wrapper reports exit status and RSS",
            got=w.stdout[:300] + w.stderr[:300]):
        rc, maxrss_kb, line = int(out[0]), int(out[1]), out[2]
        fake = cltest.Result(["wrapper", "deliver", "(40 MB)"], rc, line.encode(), w.stderr, 0)
        t.exit_status(fake, 0, "40 MB mail with limit 100M")
        print(f"[t-bad-input] 40 MB mail: peak RSS {maxrss_kb / 1024:.1f} MB")
        if SANITIZED:
            print("[t-bad-input] sanitizer build: the 150 MB limit is not checked (ASan's shadow memory)")
        else:
            t.ok(maxrss_kb < 150 * 1024, "40 MB mail: peak RSS of deliver below 150 MB", fake,
                 got=f"{maxrss_kb / 1024:.1f} MB", wanted="< 150 MB")
        res = t.one_line(fake, "40 MB mail")
        if res and res.get("entry"):
            t.eq(res.get("status"), "pending", "40 MB mail: accepted", fake)
            e = t.show(res.get("entry"), d, "40 MB mail")
            atts = (e or {}).get("attachments", [])
            if t.eq(len(atts), 1, "40 MB mail: one attachment"):
                a = atts[0]
                t.eq(a.get("name"), "druckdaten.bin", "40 MB mail: attachment name")
                t.eq(a.get("size"), 29 * 1024 * 1024, "40 MB mail: attachment size in show --json")
                data = t.stored_bytes(res.get("entry"), d, 1, a, "40 MB mail: attachment")
                if data is not None:
                    t.eq(len(data), 29 * 1024 * 1024, "40 MB mail: size of the stored attachment")
                    t.eq(hashlib.sha256(data).hexdigest(), want_sha,
                         "40 MB mail: sha256 of the stored attachment equals the original's")
                    if "sha256" in a:
                        t.eq(a["sha256"], want_sha, "40 MB mail: sha256 in show --json")
                    if "hash" in a:
                        t.ok(a["hash"] in (want_sha, hashlib.blake2b(data, digest_size=32).hexdigest()),
                             "40 MB mail: content hash in show --json", got=a["hash"])
                    del data

# ---- every rejection is listed for the administrator ----------------------------------------------
rej = t.rejected(d)
listed = {}
for x in rej:
    listed.setdefault(x.get("size"), set()).add(x.get("reason"))
for size, reason in sorted(rejected_sizes.items()):
    t.ok(reason in listed.get(size, set()), f"rejected --json lists the {reason} mail of {size} bytes",
         got=listed.get(size))
t.eq(len(rej), len(rejected_sizes), "rejected --json: one record per rejected mail")

t.finish()
