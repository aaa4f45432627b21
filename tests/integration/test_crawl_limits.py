#!/usr/bin/env python3
"""evcrawl's limits and input handling: --per-host and -c counted on the
server side (faultd's /__stats), keep-alive reuse (nginx's access log), a slow
host not holding the others back, and exactly one record per input line of a
1,000-line file (and of stdin) mixing good, bad, blank, comment and duplicate
lines.

Run: EVCRAWL=build/evcrawl python3 tests/integration/test_crawl_limits.py
"""

import collections
import os
import random
import sys
import tempfile
import time

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TESTS, "env"), os.path.join(TESTS, "lib")]

from crawltest import t, evcrawl, fault_admin, fault_stats, jsonl_ok  # noqa: E402
from world import World  # noqa: E402


def statuses(run):
    return collections.Counter((r.get("status"), (r.get("error") or {}).get("kind"))
                               for r in run.records)


with tempfile.TemporaryDirectory(prefix="evc-limits.") as tmp, \
        World(pages=100, delay_ms=100, access_log=True) as w:
    P, F = w.http_port, w.fault_port
    DNS = "--dns-server=127.0.0.1:%d" % w.dns_port
    hostkeys = ["%s:%d" % (h, F) for h in w.hosts]

    # ---- --per-host 2 over 1,000 URLs and 20 names -------------------------
    fault_admin(F, "/__reset")
    urls = [w.fault_url(w.hosts[i % 20], "/ok/%d" % i) for i in range(1000)]
    run = evcrawl("-q", DNS, "--per-host", 2, "-c", 50, *urls)
    st = fault_stats(F)
    jsonl_ok(run, "1000 URLs --per-host 2")
    t.eq(sorted(r.get("url") for r in run.records), sorted(urls),
         "1000 URLs --per-host 2: one record per URL")
    t.eq(statuses(run), {(200, None): 1000}, "... every one 200 without error")
    t.eq(run.rc, 0, "... exit status 0", run.err)
    t.eq(sorted(st["hosts"]), sorted(hostkeys), "faultd saw connections for exactly the 20 names")
    t.eq({h: 1 <= st["hosts"].get(h, {}).get("max_open", 0) <= 2 for h in hostkeys},
         {h: True for h in hostkeys}, "no host ever had more than 2 connections open (>= 1)",
         {h: st["hosts"].get(h) for h in hostkeys})
    t.eq(st["requests"], 1000, "faultd answered exactly 1000 requests")
    t.ok(st["max_open"] <= 40, "never more than 20 x 2 connections at once (%d)" % st["max_open"])

    # Slow answers keep both slots of every host busy: max_open is exactly 2.
    fault_admin(F, "/__reset")
    urls = [w.fault_url(w.hosts[i % 20], "/slow/100/%d" % i) for i in range(200)]
    run = evcrawl("-q", DNS, "--per-host", 2, "-c", 50, *urls)
    st = fault_stats(F)
    t.eq(statuses(run), {(200, None): 200}, "200 slow URLs --per-host 2: all 200")
    t.eq({h: st["hosts"].get(h, {}).get("max_open") for h in hostkeys},
         {h: 2 for h in hostkeys}, "200 slow URLs: every host reached exactly 2 connections")
    t.ok(run.secs >= 0.5, "... 10 per host, 2 at a time, 100 ms each: >= 0.5 s (%.2f s)"
         % run.secs)

    # -c 3 on one host with --per-host 10: 3 connections at most, and 3 reached.
    fault_admin(F, "/__reset")
    urls = [w.fault_url("h01.test", "/slow/200/c%d" % i) for i in range(9)]
    run = evcrawl("-q", DNS, "-c", 3, "--per-host", 10, *urls)
    st = fault_stats(F)
    t.eq(statuses(run), {(200, None): 9}, "-c 3: 9 slow URLs all 200")
    t.eq(st["hosts"].get(hostkeys[0], {}).get("max_open"), 3,
         "-c 3 --per-host 10: exactly 3 connections at once", st)
    t.ok(run.secs >= 0.6, "-c 3: 9 answers of 200 ms take 3 rounds (%.2f s >= 0.6 s)" % run.secs)

    # ---- keep-alive: one connection for 20 pages on one host ---------------
    log = os.path.join(w.dir, "access.log")
    before = os.path.getsize(log)
    urls = [w.url("h03.test", "/p/%d.html" % i) for i in range(1, 21)]
    run = evcrawl("-q", DNS, "-c", 1, *urls)
    time.sleep(0.2)         # nginx writes the log line after the answer
    with open(log) as f:
        f.seek(before)
        lines = [l.split() for l in f if l.split()[2:3] == ["h03.test"]]
    t.eq(statuses(run), {(200, None): 20}, "-c 1: 20 pages all 200")
    t.eq(([l[0] for l in lines] == [lines[0][0]] * 20 if len(lines) == 20 else lines,
          [l[1] for l in lines]),
         (True, [str(i) for i in range(1, 21)]),
         "-c 1: nginx served all 20 on one keep-alive connection (requests 1..20)")
    t.eq(sorted(r["time_ms"]["connect"] is None for r in run.records), [False] + [True] * 19,
         "... and only the first record has a connect time")

    # ---- a slow host does not hold the others back -------------------------
    stall = [w.fault_url("h01.test", "/stall?%d" % i) for i in range(4)]
    fast = [w.fault_url(w.hosts[1 + i % 19], "/ok/f%d" % i) for i in range(40)]
    run = evcrawl("-q", DNS, "-c", 6, "--per-host", 2, "--timeout", 1.5, "--retries", 0,
                  *(stall + fast))
    order = [r.get("url") in stall for r in run.records]
    t.eq(statuses(run), {(200, None): 40, (None, "timeout"): 4},
         "4 stalled URLs on h01 (--per-host 2, -c 6) and 40 fast ones elsewhere: 40 ok, 4 timeouts")
    t.eq(order, [False] * 40 + [True] * 4,
         "... every fast URL finished before the first stalled one timed out", order)

    # ---- one record per input line -----------------------------------------
    rnd = random.Random(4)
    good = [w.fault_url(w.hosts[i % 20], "/ok/in%d" % i) for i in range(600)]
    lines = list(good)
    lines += good[:50]                                              # duplicates
    lines += [w.url("h05.test", "/p/%d.html" % n) for n in range(1, 101)]
    lines += [w.fault_url("h02.test", "/nope/%d" % i) for i in range(20)]   # 404
    lines += ["http://nx.test:%d/x%d" % (P, i) for i in range(10)]          # dns
    lines += ["not a url", "ftp://x/", "http://", "http://h01.test:99999/", "mailto:a@b",
              "//h01.test/x", "h01.test/p/1.html"] * 10                    # bad_url
    urls_only = list(lines)
    lines += [""] * 80 + ["# a comment"] * 40 + ["#" + good[0]] * 20 + ["#"] * 10
    rnd.shuffle(lines)
    t.diag("input file: %d lines, %d URL lines" % (len(lines), len(urls_only)))
    want = collections.Counter(l for l in lines if l and not l.startswith("#"))
    path = os.path.join(tmp, "urls.txt")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    run = evcrawl("-q", DNS, "-c", 50, "-i", path)
    jsonl_ok(run, "-i FILE")
    got = collections.Counter(r.get("url") for r in run.records)
    t.eq((len(run.records), sum(want.values())), (sum(want.values()),) * 2,
         "-i FILE (%d lines): as many records as non-blank, non-comment lines" % len(lines))
    t.ok(got == want, "-i FILE: the records' urls are exactly those lines, duplicates included",
         "missing: %r\nextra: %r" % (list((want - got).items())[:5],
                                     list((got - want).items())[:5]))
    t.eq(statuses(run), {(200, None): 750, (404, None): 20, (None, "dns"): 10,
                         (None, "bad_url"): 70},
         "-i FILE: 750 ok, 20 404s, 10 dns, 70 bad_url")
    t.eq(run.rc, 1, "-i FILE: exit status 1 (some failed)")

    # The same from stdin, a pipe.
    run = evcrawl("-q", DNS, "-c", 20, "-i", "-", stdin=("\n".join(lines[:300]) + "\n").encode())
    want = collections.Counter(l for l in lines[:300] if l and not l.startswith("#"))
    jsonl_ok(run, "-i -")
    t.ok(collections.Counter(r.get("url") for r in run.records) == want and
         len(run.records) == sum(want.values()),
         "-i - (300 lines on a pipe): one record per URL line (%d)" % sum(want.values()))
    # No newline at the end, CRLF line ends.
    stdin = ("%s\r\n\r\n# c\r\n%s" % (w.url("h01.test", "/p/1.html"),
                                       w.url("h02.test", "/p/2.html"))).encode()
    run = evcrawl("-q", DNS, "-i", "-", stdin=stdin)
    jsonl_ok(run, "-i - CRLF")
    t.eq(sorted((r.get("url"), r.get("status"), r.get("bytes")) for r in run.records),
         [(w.url("h01.test", "/p/1.html"), 200, 2048), (w.url("h02.test", "/p/2.html"), 200, 2048)],
         "-i -: CRLF line ends stripped, last line without a newline read")
    run = evcrawl("-q", DNS, "-i", "-", stdin=b"")
    t.eq((run.rc, run.out), (0, b""), "-i - with empty input: no records, exit 0", run.err)

t.done()
