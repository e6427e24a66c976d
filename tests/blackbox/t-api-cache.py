#!/usr/bin/env python3
"""t-api-cache: what `serve --http` keeps in memory and builds behind — pages of company, lead and project
histories, and who a token or cookie is — is never served stale. After a change made through
the API, by another process (`contactlog add`, `confirm`, `passwd`), or by the mail server
(LMTP), the next answer shows it; ETags are hashes of the pages and If-None-Match answers
304 only while nothing changed; a revoked token and an ended session stop working at once;
with http.page_cache off the answers are the same, without ETags. Mail imported by another
process is indexed for search by the server behind it."""
import gzip
import socket
import sys

sys.dont_write_bytecode = True
import apiclient  # noqa: E402
import cltest  # noqa: E402

t = cltest.Test(__file__)
d = t.data_dir()
ANNA = ("anna.berg@alpha-agentur.example", "test-anna")
BEN = ("ben.kaya@alpha-agentur.example", "test-ben")


def subjects(r):
    return [e["subject"] for e in (r.json or {}).get("items", [])]


def lmtp_deliver(address, sender, message):
    """One message over LMTP to the running server; the reply line after the final dot."""
    with socket.create_connection(address, timeout=30) as s:
        f = s.makefile("rwb")

        def line():
            return f.readline().decode()

        line()
        f.write(b"LHLO test\r\n")
        f.flush()
        while line()[3] == "-":
            pass
        for cmd in (f"MAIL FROM:<{sender}>", f"RCPT TO:<{cltest.DROP}>", "DATA"):
            f.write(cmd.encode() + b"\r\n")
            f.flush()
            line()
        f.write(cltest.dot_stuff(message))
        f.flush()
        reply = line()
        f.write(b"QUIT\r\n")
        f.flush()
        return reply


def settle(client, path, tag):
    """GET twice: with nothing committed in between, the same page and the same ETag — one
    commit moves the generation once, whichever server thread answers."""
    first = client.get(path)
    second = client.get(path)
    t.eq((second.header("ETag"), second.body), (first.header("ETag"), first.body),
         f"{tag}: asked twice in a row, the same page and ETag")
    return second


def mail(subject, mid):
    return cltest.mail([("From", "Anna Berg <anna.berg@alpha-agentur.example>"),
                        ("To", "j.mueller@acme-maschinen.example"), ("Subject", subject),
                        ("Message-ID", f"<{mid}@cache.test>"),
                        ("Date", "Mon, 30 Nov 2026 10:00:00 +0100")])


# A saved entry in lead 11111 before the server starts.
r = t.deliver(mail("Lead 11111 Auftakt", "one"), d)
t.exit_status(r, 0, "deliver the first mail")
first = (r.json() or {}).get("entry")
t.exit_status(t.run(["confirm", str(first)], data_dir=d), 0, "confirm it (CLI)")


def run(cache):
    env = {} if cache else {"CONTACTLOG_PAGE_CACHE": "false"}
    srv = cltest.Server(t, d, ["--lmtp", "127.0.0.1:0", "--http", "127.0.0.1:0"], env=env).start()
    tag = "cache on" if cache else "cache off"
    try:
        anna = apiclient.Client(srv.address("http"))
        t.eq(anna.login(*ANNA).status, 201, f"{tag}: anna logs in")
        ben = apiclient.Client(srv.address("http"))
        t.eq(ben.login(*BEN).status, 201, f"{tag}: ben logs in")
        tok = ben.post("/api/v1/me/tokens", {"name": "cache test"}).json["token"]
        bearer = apiclient.Client(srv.address("http"), token=tok)
        lead = [x for x in anna.get("/api/v1/leads?q=11111").json["items"]
                if x["number"] == "11111"][0]
        path = f"/api/v1/leads/{lead['id']}/history"

        r1 = settle(anna, path, tag)
        t.eq(r1.status, 200, f"{tag}: history")
        t.ok("Lead 11111 Auftakt" in subjects(r1), f"{tag}: the confirmed mail is in it", got=subjects(r1))
        r2 = anna.get(path)
        t.eq(r2.body, r1.body, f"{tag}: asked again, the same page")
        etag = r1.header("ETag")
        if cache:
            t.ok(etag is not None and r2.header("ETag") == etag, f"{tag}: an ETag, the same twice",
                 got=(etag, r2.header("ETag")))
            r = anna.get(path, headers={"If-None-Match": etag})
            t.eq((r.status, r.body), (304, b""), f"{tag}: If-None-Match with it: 304, no body")
        else:
            t.eq(etag, None, f"{tag}: no ETag")

        # Compressed for clients that take gzip, as browsers do: the same page, an ETag of
        # its own; small answers and clients that refuse gzip (q=0) get it as it is.
        gz = anna.get(path, headers={"Accept-Encoding": "gzip, deflate, br"})
        t.eq(gz.header("Content-Encoding"), "gzip", f"{tag}: Accept-Encoding: gzip → gzip")
        t.eq(gzip.decompress(gz.body) if gz.header("Content-Encoding") == "gzip" else gz.body,
             r1.body, f"{tag}: the gzip answer is the same page")
        t.ok("Accept-Encoding" in (gz.header("Vary") or "") and
             "Accept-Encoding" in (r1.header("Vary") or ""), f"{tag}: Vary: Accept-Encoding on both",
             got=(gz.header("Vary"), r1.header("Vary")))
        if cache:
            t.ok(gz.header("ETag") not in (None, etag), f"{tag}: the gzip form has an ETag of its own",
                 got=(etag, gz.header("ETag")))
            r = anna.get(path, headers={"Accept-Encoding": "gzip", "If-None-Match": gz.header("ETag")})
            t.eq((r.status, r.body), (304, b""), f"{tag}: If-None-Match with the gzip ETag: 304")
            again = anna.get(path, headers={"Accept-Encoding": "gzip"})
            t.eq(again.body, gz.body, f"{tag}: the kept gzip form, asked again")
        r = anna.get(path, headers={"Accept-Encoding": "gzip;q=0, identity"})
        t.eq((r.header("Content-Encoding"), r.body), (None, r1.body), f"{tag}: gzip;q=0 → as it is")
        for accept, want in [(" deflate , X-GZIP ;q=0.5", "gzip"), ("br, *", "gzip"), ("*;q=0", None),
                             ("gzipx, xgzip", None), ("br;q=1, gzip ; q=0.0", None), ("", None)]:
            r = anna.get(path, headers={"Accept-Encoding": accept})
            t.eq(r.header("Content-Encoding"), want, f"{tag}: Accept-Encoding: {accept!r}")
        small = anna.get("/healthz", headers={"Accept-Encoding": "gzip"})
        t.eq(small.header("Content-Encoding"), None, f"{tag}: a small answer is not compressed")

        # Another tenant's user with a valid ETag: still 404, never 304 (nor the page).
        jonas = apiclient.Client(srv.address("http"))
        t.eq(jonas.login("jonas.petersen@beta-design.example", "test-jonas").status, 201,
             f"{tag}: jonas (tenant beta) logs in")
        r = jonas.get(path, headers={"If-None-Match": etag} if etag else None)
        t.eq(r.status, 404, f"{tag}: alpha's lead history for beta's user is 404, ETag or not")
        if cache:
            r1 = settle(anna, path, tag)
            etag = r1.header("ETag")
            r = jonas.get(path, headers={"If-None-Match": etag})
            t.eq(r.status, 404, f"{tag}: … also with the current ETag of a kept page")
            r = jonas.get(path)
            t.eq(r.status, 404, f"{tag}: … and without it, while alpha's page is kept")
            # The ETag is the page's, not the server's: another tenant's writes leave it
            # (nor can alpha's users tell from it when beta writes).
            w = jonas.post("/api/v1/entries", {"channel": "phone", "subject": "beta schreibt"})
            t.eq(w.status, 201, f"{tag}: jonas (beta) records a call")
            r = anna.get(path, headers={"If-None-Match": etag})
            t.eq((r.status, r.header("ETag")), (304, etag),
                 f"{tag}: after another tenant's commit, alpha's page is still 304 with its ETag")

        # Another process writes: a manual entry in the lead.
        rr = t.run(["add", "--user", "anna", "--lead", "11111", "--channel", "phone",
                    "--subject", f"Anruf {tag}"], data_dir=d)
        t.exit_status(rr, 0, f"{tag}: contactlog add (another process)")
        r3 = anna.get(path, headers={"If-None-Match": etag} if etag else None)
        t.eq(r3.status, 200, f"{tag}: after another process wrote, If-None-Match is no 304")
        if cache:
            tags = {anna.get(path).header("ETag") for _ in range(6)}
            t.eq(tags, {r3.header("ETag")}, f"{tag}: one commit, one new ETag on every thread")
        t.ok(f"Anruf {tag}" in subjects(r3), f"{tag}: the other process's entry is there at once",
             got=subjects(r3))
        gz3 = anna.get(path, headers={"Accept-Encoding": "gzip"})
        t.ok(f"Anruf {tag}".encode() in gzip.decompress(gz3.body), f"{tag}: … in the gzip form too")
        if cache:
            t.ok(r3.header("ETag") not in (None, etag), f"{tag}: a new ETag",
                 got=(etag, r3.header("ETag")))
        # Another user's view: can_edit is theirs, not the first reader's.
        r4 = ben.get(path)
        mine = [e["can_edit"] for e in r4.json["items"]]
        t.eq(mine, [False] * len(mine), f"{tag}: ben's page says he may edit none of anna's entries")
        r5 = anna.get(path)
        t.ok(all(e["can_edit"] for e in r5.json["items"]), f"{tag}: anna's page says she may (admin)")

        # The API writes: the lead's name changes in the history's entries.
        new_name = f"Relaunch neu ({tag})"
        t.eq(anna.patch(f"/api/v1/leads/{lead['id']}", {"name": new_name}).status, 200,
             f"{tag}: rename the lead")
        names = {e["lead"]["name"] for e in ben.get(path).json["items"]}
        t.eq(names, {new_name}, f"{tag}: the new name in every entry of the page")

        # The mail server writes: a mail over LMTP, confirmed; then the page has it.
        reply = lmtp_deliver(srv.address("lmtp"), ANNA[0], mail(f"Lead 11111 Mail {tag}", f"m-{cache}"))
        t.ok(reply.startswith("250"), f"{tag}: LMTP accepts", got=reply)
        inbox = anna.get("/api/v1/me/inbox").json["items"]
        pending = [e for e in inbox if e["subject"] == f"Lead 11111 Mail {tag}"]
        t.eq(len(pending), 1, f"{tag}: the LMTP mail is in anna's inbox at once")
        inbox_plain = anna.get("/api/v1/me/inbox")
        inbox_gz = anna.get("/api/v1/me/inbox", headers={"Accept-Encoding": "gzip"})
        t.eq(gzip.decompress(inbox_gz.body) if inbox_gz.header("Content-Encoding") == "gzip" else None,
             inbox_plain.body, f"{tag}: the inbox (never kept) compressed too, the same answer")
        before = anna.get(path)
        t.ok(f"Lead 11111 Mail {tag}" not in subjects(before), f"{tag}: pending, not in the history")
        if pending:
            t.eq(anna.post(f"/api/v1/entries/{pending[0]['id']}/confirm", {}).status, 200,
                 f"{tag}: confirm it")
        t.ok(f"Lead 11111 Mail {tag}" in subjects(ben.get(path)),
             f"{tag}: confirmed, it is in the history ben reads", got=subjects(ben.get(path)))

        # Who someone is: a revoked token stops at once, also right after it was used.
        t.eq(bearer.get("/api/v1/me").status, 200, f"{tag}: the token works")
        tid = [x for x in ben.get("/api/v1/me/tokens").json["items"] if x["name"] == "cache test"][0]["id"]
        t.eq(ben.delete(f"/api/v1/me/tokens/{tid}").status, 204, f"{tag}: ben revokes it")
        for i in range(4):  # every thread of the server
            t.eq(bearer.get("/api/v1/me").status, 401, f"{tag}: the revoked token is refused ({i + 1})")
        # A password set by another process ends the sessions at once.
        t.eq(anna.get("/api/v1/me").status, 200, f"{tag}: anna's session works")
        rr = t.run(["passwd", "--user", "anna"], data_dir=d, input=f"neues-passwort-{cache}\n")
        t.exit_status(rr, 0, f"{tag}: contactlog passwd (another process)")
        for i in range(4):
            t.eq(anna.get("/api/v1/me").status, 401, f"{tag}: anna's old session ended ({i + 1})")
        t.eq(anna.login(ANNA[0], f"neues-passwort-{cache}").status, 201,
             f"{tag}: the new password logs in")
        # back to the test password for the next run
        t.eq(anna.put("/api/v1/me/password", {"current": f"neues-passwort-{cache}",
                                               "new": ANNA[1]}).status, 204, f"{tag}: password back")
    finally:
        t.eq(srv.stop(), 0, f"{tag}: serve exits 0")


def search_index():
    """Mail captured by another process (an import) is indexed by the server behind it: a
    search right away catches up with part of it and says how much still waits; within a
    few seconds everything is found by a word of its text."""
    import os
    import time
    srv = cltest.Server(t, d, ["--lmtp", "127.0.0.1:0", "--http", "127.0.0.1:0"]).start()
    try:
        anna = apiclient.Client(srv.address("http"))
        t.eq(anna.login(*ANNA).status, 201, "index: anna logs in")
        box = os.path.join(t.tmpdir("mbox"), "viele.mbox")
        with open(box, "wb") as f:
            for i in range(400):
                f.write(b"From anna.berg@alpha-agentur.example Mon Nov 30 10:00:00 2026\n")
                f.write(mail(f"Import {i}", f"imp-{i}").replace(
                    b"anbei die Unterlagen", b"anbei die Unterlagen (Quittengelee)"))
                f.write(b"\n")
        r = t.run(["import", box], data_dir=d)
        t.exit_status(r, 0, "index: import 400 mails (another process)")
        first = anna.get("/api/v1/search?q=quittengelee&limit=1")
        t.eq(first.status, 200, "index: search right after the import")
        pending = (first.json or {}).get("index_pending")
        t.ok(isinstance(pending, int) and pending <= 400 - 256,
             "index: the search indexed at least 256 itself first, and says what waits", got=pending)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            r = anna.get("/api/v1/search?q=quittengelee&limit=1")
            if (r.json or {}).get("index_pending") == 0:
                break
            time.sleep(0.2)
        t.eq((r.json or {}).get("index_pending"), 0, "index: the server indexed the rest by itself")
        seen, cursor = 0, None
        while True:
            r = anna.get("/api/v1/search?q=quittengelee&limit=200" + (f"&cursor={cursor}" if cursor else ""))
            seen += len(r.json["items"])
            cursor = r.json["next_cursor"]
            if not cursor:
                break
        t.eq(seen, 400, "index: all 400 mails are found by a word of their text")
    finally:
        t.eq(srv.stop(), 0, "index: serve exits 0")


def torn_pages(cache, seconds=3.0):
    """A history page is read in one view of the database: while anna moves her entry between
    the company and her own history (private), ben's pages of the company list it with the
    company or not at all — never with the private state of after (a page read in several
    statements once did, about one in a thousand)."""
    import threading
    import time
    env = {} if cache else {"CONTACTLOG_PAGE_CACHE": "false"}
    tag = "torn " + ("cache on" if cache else "cache off")
    srv = cltest.Server(t, d, ["--http", "127.0.0.1:0"], env=env).start()
    try:
        anna = apiclient.Client(srv.address("http"))
        t.eq(anna.login(*ANNA).status, 201, f"{tag}: anna logs in")
        acme = [x for x in anna.get("/api/v1/companies?q=acme").json["items"] if x["key"] == "acme"][0]["id"]
        r = anna.post("/api/v1/entries", {"company": "acme", "channel": "phone", "subject": "Privat-Kanarienvogel",
                                          "text": "geheim"})
        t.eq(r.status, 201, f"{tag}: anna records a call in acme")
        eid = r.json["id"]
        stop, seen, leaked, failed = threading.Event(), [0], [], []

        def reader():
            ben = apiclient.Client(srv.address("http"))
            if ben.login(*BEN).status != 201:
                failed.append("login")
                return
            while not stop.is_set():
                page = ben.get(f"/api/v1/companies/{acme}/history?limit=10")
                if page.status != 200:
                    failed.append(page.status)
                    continue
                seen[0] += 1
                leaked.extend(e for e in page.json["items"] if e["id"] == eid and e["company"] is None)

        threads = [threading.Thread(target=reader) for _ in range(2)]
        for th in threads:
            th.start()
        moves = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for company in (None, "acme"):
                if anna.patch(f"/api/v1/entries/{eid}", {"company": company}).status == 200:
                    moves += 1
        stop.set()
        for th in threads:
            th.join()
        t.eq(failed, [], f"{tag}: every page was answered")
        t.ok(moves > 20 and seen[0] > 100, f"{tag}: the entry moved and the pages were read",
             got=(moves, seen[0]))
        t.eq(leaked[:1], [], f"{tag}: no page of the company lists the entry in its private state "
             f"({moves} moves, {seen[0]} pages)")
        t.eq(anna.delete(f"/api/v1/entries/{eid}").status, 204, f"{tag}: the entry deleted again")
    finally:
        t.eq(srv.stop(), 0, f"{tag}: serve exits 0")


def session_expiry():
    """A session left alone ends on time although the server keeps who it is for 10 s (expiry
    is no commit that would tell it); a session in use does not run out, also with a timeout
    shorter than five minutes (it is renewed every half of it)."""
    import time
    srv = cltest.Server(t, d, ["--http", "127.0.0.1:0"], env={"CONTACTLOG_SESSION_TIMEOUT": "4"}).start()
    try:
        idle = apiclient.Client(srv.address("http"))
        busy = apiclient.Client(srv.address("http"))
        t.eq(idle.login(*ANNA).status, 201, "expiry: anna logs in (session_timeout 4 s)")
        # A search first indexes what waits (a commit); after it nothing is committed until
        # anna's session is asked for again, and the server keeps who she is meanwhile.
        t.eq(idle.get("/api/v1/search?q=auftakt").json.get("index_pending"), 0,
             "expiry: nothing waits to be indexed")
        # Asked a dozen times: every thread of the server has seen the last commit and knows her.
        t.eq({idle.get("/api/v1/me").status for _ in range(12)}, {200}, "expiry: anna's session works")
        time.sleep(4.6)  # nothing committed meanwhile
        t.eq(idle.get("/api/v1/me").status, 401,
             "expiry: anna's session, 4.6 s unused: ended, though the server knew who she is")
        t.eq(busy.login(*BEN).status, 201, "expiry: ben logs in")
        start = time.monotonic()
        statuses = []
        while time.monotonic() < start + 6:
            statuses.append(busy.get("/api/v1/me").status)
            time.sleep(0.25)
        t.ok(set(statuses) == {200}, "expiry: ben's, used every quarter second for 6 s: lives", got=statuses)
        # A commit of another process: the server asks the database again, not what it kept.
        r = t.run(["add", "--user", "carla", "--channel", "phone", "--subject", "Commit"], data_dir=d)
        t.exit_status(r, 0, "expiry: another process commits")
        t.eq(busy.get("/api/v1/me").status, 200, "expiry: ben's session was renewed while in use")
    finally:
        t.eq(srv.stop(), 0, "expiry: serve exits 0")


def shm_locks():
    """While the server runs, it holds SQLite's shared lock on the database's wal-index (-shm),
    which tells other processes (the CLI, deliver, an import) that the file is in use. Reading
    the wal-index for the page cache must not let go of it: opening and closing the -shm file
    once did (a POSIX lock belongs to the process and file, and any close ends it), and the next
    process to open the database truncated and rebuilt the file under the server (SIGBUS)."""
    import os
    shm = os.path.join(d, "contactlog.db-shm")
    srv = cltest.Server(t, d, ["--http", "127.0.0.1:0"]).start()
    try:
        anna = apiclient.Client(srv.address("http"))
        t.eq(anna.login(*ANNA).status, 201, "shm: anna logs in")

        def held():
            inode = os.stat(shm).st_ino
            with open("/proc/locks") as f:
                return [line.split() for line in f
                        if line.split()[4] == str(srv.proc.pid) and line.split()[5].endswith(f":{inode}")]

        t.ok(held(), "shm: the server holds a lock on the -shm file", got=open("/proc/locks").read())
        for _ in range(24):  # every thread of the server, more than once
            t.eq(anna.get("/api/v1/companies?limit=5").status, 200, "shm: a request")
            t.eq(anna.get("/api/v1/me/inbox").status, 200, "shm: a request")
        t.ok(held(), "shm: after answering requests it still holds it", got=open("/proc/locks").read())
        size = os.stat(shm).st_size
        r = t.run(["inbox", "--user", "anna"], data_dir=d)
        t.exit_status(r, 0, "shm: another process reads the database")
        t.ok(os.stat(shm).st_size >= size and srv.proc.poll() is None, "shm: the server and its -shm file as they were")
        t.eq(anna.get("/api/v1/me").status, 200, "shm: the server answers")
    finally:
        t.eq(srv.stop(), 0, "shm: serve exits 0")


def reindex_beside_edits(n=120):
    """`contactlog reindex` in another process while the server edits and deletes entries: the
    edits once took words out of the emptied index ("database disk image is malformed", 500),
    and a deleted entry stopped the reindex halfway ("no entry N", the rest unsearchable)."""
    import random
    import threading
    srv = cltest.Server(t, d, ["--http", "127.0.0.1:0"]).start()
    try:
        anna = apiclient.Client(srv.address("http"))
        t.eq(anna.login(*ANNA).status, 201, "reindex: anna logs in")
        rng = random.Random(7)
        made = {}
        for i in range(n):
            word = "reidx" + "".join(rng.choice("bcdfghklmnpqrstvwz") for _ in range(8))
            r = anna.post("/api/v1/entries", {"channel": "phone", "company": "acme", "subject": f"Notiz {word}"})
            if r.status == 201:
                made[r.json["id"]] = word
        t.eq(len(made), n, "reindex: entries to work on")
        ids = list(made)
        rng.shuffle(ids)
        doomed, kept = ids[: n // 2], ids[n // 2:]
        answers, stop = [], threading.Event()

        deleted = []

        def deleter():
            c = apiclient.Client(srv.address("http"))
            c.login(*ANNA)
            while doomed:
                eid = doomed.pop()
                answers.append(c.delete(f"/api/v1/entries/{eid}").status)
                deleted.append(eid)

        def editor():
            c = apiclient.Client(srv.address("http"))
            c.login(*ANNA)
            i = 0
            while not stop.is_set():
                eid = kept[i % len(kept)]
                i += 1
                answers.append(c.patch(f"/api/v1/entries/{eid}", {"text": f"Stand {i}"}).status)

        threads = [threading.Thread(target=deleter), threading.Thread(target=editor)]
        for th in threads:
            th.start()
        runs = []
        while len(runs) < 3 or (doomed and len(runs) < 20):
            r = t.run(["reindex"], data_dir=d, timeout=120)
            runs.append((r.rc, r.err.strip()[-200:]))
        stop.set()
        for th in threads:
            th.join()
        t.ok(all(rc == 0 for rc, _ in runs), "reindex: every run beside the edits ends well", got=runs)
        t.eq(len(deleted), n // 2, "reindex: half of the entries deleted meanwhile")
        t.eq(sorted(set(answers) - {200, 204}), [], "reindex: every edit and delete meanwhile answered 200/204")
        # what the index holds now: the kept entries by their words, the deleted ones not at all
        missing = [made[e] for e in kept
                   if e not in [x["id"] for x in anna.get(f"/api/v1/search?q={made[e]}").json.get("items", [])]]
        t.eq(missing, [], "reindex: every kept entry is found by its word")
        found = [made[e] for e in deleted if anna.get(f"/api/v1/search?q={made[e]}").json.get("items")]
        t.eq(found, [], "reindex: no deleted entry is found")
    finally:
        t.eq(srv.stop(), 0, "reindex: serve exits 0")


shm_locks()
reindex_beside_edits()
run(cache=True)
run(cache=False)
search_index()
session_expiry()
torn_pages(cache=False)
torn_pages(cache=True)
t.finish()
