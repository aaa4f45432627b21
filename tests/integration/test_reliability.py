#!/usr/bin/env python3
"""Nothing lost: crashes, interruptions, full disks, closed pipes, bad input
files, descriptor exhaustion and hosts that never answer.

- SIGKILL at random moments leaves a file of whole records, and --resume
  goes on until every input URL has exactly one record (async and threads);
- --resume cuts a torn last line and fetches cancelled URLs again;
- SIGINT says how to go on;
- records to a full device (/dev/full, a 64 KiB tmpfs) or a closed pipe
  (`| head`): a clear message, exit 1, no spin, in every mode; -o bodies on a
  full tmpfs fail with kind io and leave no partial file;
- an input that cannot be read (/proc/self/mem) exits 1 in every mode;
- -o never writes through a symbolic link inside the output directory;
- ulimit -n 256 with -c 1000: no URL fails for lack of descriptors
  (async and threads);
- 10,000 URLs to a host that accepts and never answers, --timeout 2: all
  kind timeout, bounded wall time and memory.

Run: EVCRAWL=build/evcrawl python3 tests/integration/test_reliability.py
"""

import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TESTS, "env"), os.path.join(TESTS, "lib")]

from crawltest import EVCRAWL, t, evcrawl  # noqa: E402
from world import World  # noqa: E402

MODES = ["async", "blocking", "busy-poll", "threads", "processes"]


def parse_lines(data):
    """(records, bad lines) of JSONL bytes; a last line without its newline
    counts as bad."""
    recs, bad = [], []
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the data ends with a newline
    for line in lines:
        try:
            recs.append(json.loads(line))
        except ValueError:
            bad.append(line)
    if tail:
        bad.append(tail)
    return recs, bad


def run_rusage(argv, timeout):
    """Run argv to the end: (rc, stdout, stderr, seconds, its peak RSS in KiB)."""
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        deadline = t0 + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                p.kill()
            time.sleep(0.05)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (p.returncode, out.read(), err.read().decode(errors="replace"),
                time.monotonic() - t0, ru.ru_maxrss)


with World(pages=50, delay_ms=100) as w:
    dns = "--dns-server=127.0.0.1:%d" % w.dns_port
    tmp = tempfile.mkdtemp(prefix="evc-rel.")

    # ---- SIGKILL at random moments, then --resume until done ---------------
    rnd = random.Random(1234)
    urls = ["http://%s:%d/delay/%d" % (w.hosts[i % 20], w.http_port, i) for i in range(5000)]
    listing = os.path.join(tmp, "5k.txt")
    with open(listing, "w") as f:
        f.write("\n".join(urls) + "\n")
    for mode in ("async", "threads"):
        out = os.path.join(tmp, "resume-%s.jsonl" % mode)
        argv = [EVCRAWL, dns, "-q", "--mode", mode, "-c", "200", "--per-host", "10",
                "-i", listing, "--resume", out]
        kills = runs = 0
        torn_seen = whole_after_kill = True
        while runs < 40:
            runs += 1
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
            # Killed at a random moment, eight times at most; then the
            # crawl is let finish (however slow the build: ASan, a busy
            # machine) so that the union can be checked.
            try:
                p.wait(timeout=rnd.uniform(0.15, 0.6) if kills < 8 else 120)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                kills += 1
                with open(out, "rb") as f:
                    recs, bad = parse_lines(f.read())
                # A kill may at worst tear the very last line.
                if bad[:-1] or (bad and not bad[-1]):
                    whole_after_kill = False
                p.stderr.close()
                continue
            p.stderr.close()
            if p.returncode in (0, 1):
                break
        with open(out, "rb") as f:
            recs, bad = parse_lines(f.read())
        seen = {}
        for r in recs:
            seen[r["url"]] = seen.get(r["url"], 0) + 1
        missing = [u for u in urls if u not in seen]
        twice = [u for u, n in seen.items() if n > 1]
        t.ok(kills >= 3, "%s: the crawl was killed %d times before it finished" % (mode, kills))
        t.ok(whole_after_kill, "%s: after each SIGKILL the file holds whole records" % mode)
        t.eq((len(missing), len(twice), len(bad), len(recs)), (0, 0, 0, 5000),
             "%s: after %d runs every one of 5,000 URLs has exactly one record" % (mode, runs),
             "missing %s; twice %s; bad %r" % (missing[:3], twice[:3], bad[:2]))
        t.diag("%s: %d runs, %d killed" % (mode, runs, kills))

    # ---- --resume: a torn last line, cancelled records ------------------------
    torn = os.path.join(tmp, "torn.jsonl")
    a, b, c = (w.url("h01.test", "/p/%d.html" % i) for i in (1, 2, 3))
    with open(torn, "wb") as f:
        f.write(json.dumps({"url": a, "status": 200, "error": None}).encode() + b"\n")
        f.write(json.dumps({"url": b, "status": None,
                            "error": {"kind": "cancelled", "message": "x"}}).encode() + b"\n")
        f.write(b'{"url":"' + c.encode() + b'","final_u')
    run = evcrawl(dns, "--resume", torn, a, b, c)
    with open(torn, "rb") as f:
        recs, bad = parse_lines(f.read())
    t.eq(([r["url"] for r in recs[:2]], sorted(r["url"] for r in recs[2:]), bad, run.out),
         ([a, b], sorted([b, c]), [], b""),
         "--resume: the torn line is cut, the cancelled URL and the torn one are fetched, "
         "the records go to the file")
    t.ok("a torn last line was cut off" in run.err and "1 URL has a record" in run.err,
         "--resume says what it found", run.err)
    t.eq(run.rc, 0, "--resume: exit 0 when the new fetches succeed", run.err)
    run = evcrawl(dns, "--resume", torn, a, b, c)
    t.eq((run.rc, os.path.getsize(torn) > 0, "3 skipped: they have records" in run.err),
         (0, True, True), "--resume again: nothing left to fetch", run.err)
    # URLs are matched byte for byte, escapes and NULs included.
    odd = os.path.join(tmp, "odd.jsonl")
    nul_url = b"http://h01.test/\x00\"\\\xc3\xa9\xf0\x9f\x98\x80"
    with open(odd, "wb") as f:
        f.write(b'{"url":"http://h01.test/\\u0000\\"\\\\\\u00e9\\ud83d\\ude00","status":null}\n')
    run = evcrawl(dns, "--resume", odd, "-i", "-", stdin=nul_url + b"\n")
    t.eq((run.rc, "1 skipped" in run.err, open(odd, "rb").read().count(b"\n")), (0, True, 1),
         "--resume: a url with escapes, a NUL and a surrogate pair matches its input line",
         run.err)

    # ---- SIGINT says how to go on ------------------------------------------------
    p = subprocess.Popen([EVCRAWL, dns, "-c", "5", "-i", listing], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    out_b, err_b = p.communicate(timeout=30)
    err = err_b.decode(errors="replace")
    recs, bad = parse_lines(out_b)
    t.eq((p.returncode, bad), (130, []), "SIGINT: exit 130, whole records", err)
    t.ok("interrupted: URLs not yet read from the input have no record" in err and
         "--resume FILE" in err, "SIGINT: the summary says how to go on", err)

    # ---- full device, closed pipe ----------------------------------------------------
    many = os.path.join(tmp, "1k.txt")
    with open(many, "w") as f:
        f.write("".join("%s\n" % u for u in urls[:1000]))
    for mode in MODES:
        with open("/dev/full", "wb") as full:
            t0 = time.monotonic()
            p = subprocess.run([EVCRAWL, dns, "--mode", mode, "-c", "20", "-i", many],
                               stdout=full, stderr=subprocess.PIPE, timeout=60)
            secs = time.monotonic() - t0
        err = p.stderr.decode(errors="replace")
        t.ok(p.returncode == 1 and "cannot write records: No space left on device" in err and
             secs < 10, "%s: records to /dev/full: said once, exit 1, %.1f s" % (mode, secs),
             "rc %s\n%s" % (p.returncode, err[-600:]))
        t0 = time.monotonic()
        p = subprocess.run("'%s' %s --mode %s -c 20 -i %s | head -n 3 >/dev/null; "
                           "echo ${PIPESTATUS[0]}" % (EVCRAWL, dns, mode, many),
                           shell=True, executable="/bin/bash", capture_output=True, timeout=60)
        secs = time.monotonic() - t0
        err = p.stderr.decode(errors="replace")
        t.ok(p.stdout.strip() == b"1" and "cannot write records: Broken pipe" in err and
             secs < 10, "%s: `| head -n 3`: said once, exit 1, %.1f s" % (mode, secs),
             "status %r\n%s" % (p.stdout, err[-600:]))

    small = os.path.join(tmp, "small")
    os.mkdir(small)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", small],
                             capture_output=True).returncode == 0
    if not mounted:
        t.skip("records and -o on a full tmpfs", "cannot mount a tmpfs (not root)")
    else:
        try:
            # Bodies: 20 x 16 KiB into 64 KiB. Those that did not fit are
            # kind io and leave no file behind.
            big = [w.fault_url("h01.test", "/big/16384?%d" % i) for i in range(20)]
            run = evcrawl(dns, "-c", "1", "-o", os.path.join(small, "o"), *big)
            kinds = [(r["error"] or {}).get("kind") for r in run.records]
            saved = [r.get("saved") for r in run.records if r.get("saved")]
            on_disk = []
            for root, _, files in os.walk(os.path.join(small, "o")):
                on_disk += [os.path.join(root, f) for f in files]
            sizes_ok = all(os.path.getsize(f) == 16384 for f in on_disk)
            io = [r for r in run.records if kinds and (r["error"] or {}).get("kind") == "io"]
            t.ok(run.rc == 1 and len(run.records) == 20 and io and
                 all("No space left on device" in r["error"]["message"] for r in io) and
                 set(kinds) <= {None, "io"} and sorted(saved) == sorted(on_disk) and sizes_ok,
                 "-o on a full tmpfs: %d saved, %d kind io, no partial file" %
                 (len(saved), len(io)), run.records[-1:] + [run.err[-300:]])
            shutil.rmtree(os.path.join(small, "o"))
            # Records: a tmpfs that fills up while they are written.
            rec_file = os.path.join(small, "records.jsonl")
            with open(rec_file, "wb") as f:
                p = subprocess.run([EVCRAWL, dns, "-c", "50", "-i", many], stdout=f,
                                   stderr=subprocess.PIPE, timeout=60)
            err = p.stderr.decode(errors="replace")
            with open(rec_file, "rb") as f:
                recs, bad = parse_lines(f.read())
            t.ok(p.returncode == 1 and "No space left on device" in err and len(bad) <= 1 and
                 0 < len(recs) < 1000,
                 "records on a full tmpfs: %d whole records, exit 1, said so" % len(recs),
                 err[-400:])
            os.truncate(rec_file, 0)
        finally:
            subprocess.run(["umount", small])

    # ---- an input that cannot be read ---------------------------------------------------
    for mode in MODES:
        run = evcrawl(dns, "--mode", mode, "-i", "/proc/self/mem")
        t.ok(run.rc == 1 and "reading /proc/self/mem: Input/output error" in run.err,
             "%s: -i /proc/self/mem: the read error, exit 1" % mode, run.err)

    # ---- -o and symbolic links inside the output directory -----------------------------
    for mode in MODES:
        out = os.path.join(tmp, "out-" + mode)
        target = os.path.join(tmp, "target-" + mode)
        os.makedirs(os.path.join(out, "h01.test_%d" % w.http_port))
        os.mkdir(target)
        host_dir = os.path.join(out, "h01.test_%d" % w.http_port)
        os.symlink(target, os.path.join(host_dir, "p"))               # a directory link
        os.symlink(os.path.join(target, "f"), os.path.join(host_dir, "x.html"))  # a file link
        run = evcrawl(dns, "--mode", mode, "-o", out, w.url("h01.test", "/p/1.html"),
                      w.url("h01.test", "/x.html"))
        saved = sorted(r.get("saved") or "" for r in run.records)
        inside = all(s.startswith(out + "/") and not os.path.islink(s) and os.path.isfile(s)
                     for s in saved if s)
        t.ok(os.listdir(target) == [] and inside and
             [r["status"] for r in run.records].count(404) == 1,
             "%s: -o never writes through a link inside DIR (saved: %s)" %
             (mode, ", ".join(os.path.relpath(s, out) for s in saved if s)),
             run.records)

    # ---- descriptors: ulimit -n 256 with -c 1000 -----------------------------------------
    def nofile_256():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    slow = os.path.join(tmp, "slow1k.txt")
    with open(slow, "w") as f:
        f.write("".join("http://%s:%d/delay/%d\n" % (w.hosts[i % 20], w.http_port, i)
                        for i in range(1000)))
    for mode in ("async", "threads"):
        run = evcrawl(dns, "--mode", mode, "-c", "1000", "--per-host", "1000", "-i", slow,
                      preexec_fn=nofile_256, timeout=120)
        ok = sum(1 for r in run.records if r["status"] == 200 and not r["error"])
        t.eq((run.rc, len(run.records), ok), (0, 1000, 1000),
             "%s: ulimit -n 256, -c 1000: all 1,000 fetched, none failed for descriptors"
             % mode, run.err[-500:])

    # ---- 10,000 URLs to a host that accepts and never answers ----------------------------
    stall = os.path.join(tmp, "stall10k.txt")
    with open(stall, "w") as f:
        f.write("".join("%s\n" % w.fault_url("h01.test", "/stall?%d" % i)
                        for i in range(10000)))
    rc, out, err, secs, rss = run_rusage(
        [EVCRAWL, dns, "-q", "-c", "10000", "--per-host", "10000", "--timeout", "2",
         "--retries", "0", "-i", stall], timeout=60)
    recs, bad = parse_lines(out)
    kinds = {(r["error"] or {}).get("kind") for r in recs}
    t.eq((rc, len(recs), bad, kinds), (1, 10000, [], {"timeout"}),
         "10,000 URLs to a host that never answers: 10,000 records, all kind timeout", err)
    t.ok(secs < 12, "... in %.1f s (the timeout is 2 s)" % secs)
    t.ok(rss < 128 * 1024, "... peak RSS %.1f MiB (< 128 MiB)" % (rss / 1024.0))

    shutil.rmtree(tmp, ignore_errors=True)
t.done()
