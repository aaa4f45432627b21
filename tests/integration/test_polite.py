#!/usr/bin/env python3
"""Politeness, measured on the server side (nginx's access log: when each
request started, for which host): --delay between the requests to one host
while 20 hosts run in parallel; --rate over the whole crawl; a 429 or 503
with Retry-After pausing its whole host while the others go on; a host that
refuses connections given up after --host-errors; --politeness-key ip and
domain making several names share one set of limits; and the options'
usage errors.

Run: EVCRAWL=build/evcrawl python3 tests/integration/test_polite.py
"""

import collections
import os
import socket
import sys
import time

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TESTS, "env"), os.path.join(TESTS, "lib")]

from crawltest import t, evcrawl, jsonl_ok, run_python  # noqa: E402
from world import World  # noqa: E402

TOLERANCE = 0.003  # nginx logs ms ($msec, $request_time): a start is known to ±1.5 ms


def kinds(run):
    return collections.Counter(((r.get("error") or {}).get("kind"), r.get("status"))
                               for r in run.records)


with World(pages=200, delay_ms=100, access_log=True) as w:
    P = w.http_port
    DNS = "--dns-server=127.0.0.1:%d" % w.dns_port
    log = os.path.join(w.dir, "access.log")

    def crawl(*args, **kw):
        """Run evcrawl; its run and the requests nginx saw meanwhile, as
        (start, host, uri, status) sorted by start."""
        before = os.path.getsize(log)
        run = evcrawl("-q", DNS, *args, **kw)
        time.sleep(0.3)  # nginx writes a line once the answer is out
        reqs = []
        with open(log) as f:
            f.seek(before)
            for line in f:
                x = line.split()
                if len(x) >= 8:
                    reqs.append((float(x[5]) - float(x[7]), x[2], x[6], int(x[3])))
        return run, sorted(reqs)

    def gaps(starts):
        return [b - a for a, b in zip(starts, starts[1:])]

    # ---- --delay over 20 hosts ---------------------------------------------
    urls = [w.url(h, "/p/%d.html" % n) for n in range(1, 6) for h in w.hosts]
    run, reqs = crawl("--delay", "0.2", "-c", 100, *urls)
    by_host = collections.defaultdict(list)
    for start, host, _, _ in reqs:
        by_host[host].append(start)
    small = {h: round(min(gaps(s)), 3) for h, s in by_host.items() if min(gaps(s)) < 0.2 - TOLERANCE}
    t.eq((kinds(run), len(reqs), len(by_host), small), ({(None, 200): 100}, 100, 20, {}),
         "--delay 0.2, 20 hosts x 5 pages: 100 pages, every host's requests >= 0.2 s apart")
    first = min(s for s, _, _, _ in reqs)
    opened = sorted(s[0] - first for s in by_host.values())
    t.ok(opened[-1] < 0.15 and 0.8 <= run.secs < 1.6,
         "... the 20 hosts run in parallel: each had its first request within %.3f s of the "
         "first, the crawl took %.2f s (4 gaps of 0.2 s)" % (opened[-1], run.secs))

    run, reqs = crawl("--delay", "0.2", "--random-delay", "-c", 10,
                      *[w.url("h03.test", "/p/%d.html" % n) for n in range(1, 11)])
    g = gaps([s for s, _, _, _ in reqs])
    t.ok(len(reqs) == 10 and min(g) >= 0.1 - TOLERANCE and max(g) <= 0.3 + 0.05 and
         max(g) - min(g) > 0.02,
         "--random-delay 0.2: gaps between 0.1 and 0.3 s, and not all alike (%s)"
         % [round(x, 3) for x in g])

    # ---- --rate: the whole crawl -------------------------------------------
    urls = [w.url(w.hosts[i % 20], "/p/%d.html" % (1 + i // 20)) for i in range(300)]
    run, reqs = crawl("--rate", "50", "-c", 100, "--per-host", 20, *urls, timeout=30)
    starts = [s for s, _, _, _ in reqs]
    in5 = sum(1 for s in starts if s < starts[0] + 5.0)
    worst = max(sum(1 for s in starts[i:] if s < a + 1.0) for i, a in enumerate(starts))
    t.eq((kinds(run), len(starts)), ({(None, 200): 300}, 300), "--rate 50: 300 pages")
    t.ok(245 <= in5 <= 255, "... %d requests in the first 5 s (250 +- 5)" % in5)
    t.ok(worst <= 55, "... at most %d in any one second (rate 50 + burst 5)" % worst)
    run = evcrawl("--rate", "30/m", "-q", DNS, w.url("h01.test", "/p/1.html"))
    t.eq((run.rc, len(run.records)), (0, 1), "--rate 30/m is taken")
    for bad in ("0", "-5", "fast", "10/d", "5/"):
        run = evcrawl("--rate", bad, w.url("h01.test", "/p/1.html"))
        t.ok(run.rc == 2 and "--rate" in run.err and not run.records,
             "--rate %s: usage error" % bad, run.err)

    # ---- 429 / 503 with Retry-After pause the whole host ----------------------
    for status in (429, 503):
        slow = [w.url("h05.test", "/throttle/%d" % status)] + \
               [w.url("h05.test", "/p/%d.html" % n) for n in range(1, 6)]
        busy = [w.url("h06.test", "/delay/%d" % n) for n in range(25)]
        run, reqs = crawl("--retries", 0, "-c", 10, "--per-host", 1, *(slow + busy))
        hit = [s for s, h, u, st in reqs if h == "h05.test" and st == status]
        after = [s for s, h, u, _ in reqs if h == "h05.test" and u.startswith("/p/")]
        other = [s for s, h, _, _ in reqs if h == "h06.test"]
        t.eq(({r["url"]: (r["status"], (r["error"] or {}).get("kind")) for r in run.records
               if "h05" in r["url"]}, len(hit), len(after)),
             (dict([(slow[0], (status, None))] + [(u, (200, None)) for u in slow[1:]]), 1, 5),
             "%d with Retry-After: 2 (no retries): its record, and the host's 5 pages after "
             "it" % status)
        if hit and after:
            inside = [s for s in other if hit[0] < s < hit[0] + 2.0]
            t.ok(min(after) - hit[0] >= 2.0 - TOLERANCE and len(inside) >= 10,
                 "... no request to the host for %.3f s after the %d (>= 2), while the "
                 "other host had %d in that window" % (min(after) - hit[0], status, len(inside)))

    # Without Retry-After the host still pauses, doubling from 1 s.
    urls = [w.url("h07.test", "/throttle/429-bare")] + [w.url("h07.test", "/p/1.html")]
    run, reqs = crawl("--retries", 0, "--per-host", 1, *urls)
    s = [x[0] for x in reqs]
    t.ok(len(s) == 2 and 1.0 - TOLERANCE <= s[1] - s[0] < 1.5,
         "a 429 without Retry-After pauses its host 1 s (%s)" % [round(x, 3) for x in gaps(s)])

    # A retry its host's pause would hold past --timeout ends at once, saying so.
    t0 = time.monotonic()
    run = evcrawl("-q", DNS, "--timeout", 2, "--retries", 5, w.url("h10.test", "/status/503"))
    took = time.monotonic() - t0
    r = run.records[0] if run.records else {}
    t.ok((r.get("error") or {}).get("kind") == "timeout" and
         (r.get("error") or {}).get("message", "").startswith(
             "no time left for a retry: h10.test is paused") and took < 1.9,
         "503s pause the host past --timeout 2: the retry ends at once (%.2f s), saying why"
         % took, r)

    # --max-retry-after caps the pause.
    urls = [w.url("h08.test", "/throttle/429")] + [w.url("h08.test", "/p/1.html")]
    run, reqs = crawl("--retries", 0, "--per-host", 1, "--max-retry-after", "0.5", *urls)
    s = [x[0] for x in reqs]
    t.ok(len(s) == 2 and 0.5 - TOLERANCE <= s[1] - s[0] < 0.9,
         "--max-retry-after 0.5: Retry-After: 2 pauses the host 0.5 s (%s)"
         % [round(x, 3) for x in gaps(s)])

    # ---- a host that refuses connections is given up ----------------------------
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    D = dead.getsockname()[1]
    dead.close()  # nothing listens there now: connections are refused
    urls = ["http://127.0.0.1:%d/%d" % (D, i) for i in range(1000)]
    t0 = time.monotonic()
    run = evcrawl("-q", "--host-errors", 3, "-c", 50, *urls, timeout=60)
    took = time.monotonic() - t0
    gave = "127.0.0.1 given up after 3 connection failures in a row (last: connect to " \
           "127.0.0.1 port %d: Connection refused)" % D
    msgs = collections.Counter((r["error"] or {}).get("message") for r in run.records)
    t.eq((len(run.records), kinds(run)), (1000, {("connect", None): 1000}),
         "a refusing host, 1,000 URLs, --host-errors 3: 1,000 records, kind connect")
    t.ok(msgs[gave] >= 990 and took < 3.0,
         "... %d of them end at once with the give-up (%.2f s)" % (msgs[gave], took),
         msgs.most_common(3))
    jsonl_ok(run, "given up")

    # ---- several names, one set of limits ---------------------------------------
    # h01.test and h05.test are both 127.0.0.1 in the test world's DNS.
    names = ["h01.test", "h05.test"]
    urls = [w.url(h, "/p/%d.html" % n) for n in range(1, 6) for h in names]
    for key, apart in (("ip", True), ("host", False)):
        run, reqs = crawl("--politeness-key", key, "--delay", "0.2", "-c", 10, *urls)
        s = [x[0] for x in reqs]
        hosts = {x[1] for x in reqs}
        shared = min(gaps(s)) >= 0.2 - TOLERANCE
        t.eq((kinds(run), hosts, shared), ({(None, 200): 10}, set(names), apart),
             "--politeness-key %s --delay 0.2, two names on one address: %s" %
             (key, "all 10 requests >= 0.2 s apart" if apart else "each name on its own"))

    # a.shop.test and b.shop.test have one registrable domain: shop.test.
    names = ["a.shop.test", "b.shop.test"]
    res = ["--resolve", "a.shop.test:%d:127.0.0.1" % P, "--resolve", "b.shop.test:%d:127.0.0.2" % P]
    urls = ["http://%s:%d/p/%d.html" % (h, P, n) for n in range(1, 4) for h in names]
    run, reqs = crawl("--politeness-key", "domain", "--delay", "0.2", *(res + urls))
    s = [x[0] for x in reqs]
    t.ok(len(s) == 6 and min(gaps(s)) >= 0.2 - TOLERANCE,
         "--politeness-key domain: a.shop.test and b.shop.test share shop.test's delay (%s)"
         % [round(x, 3) for x in gaps(s)])

    # ---- the live progress shows hosts held back --------------------------------
    run = evcrawl(DNS, "--progress", "--delay", "0.3",
                  *[w.url(h, "/p/%d.html" % n) for n in range(1, 5)
                    for h in ("h02.test", "h03.test")])
    t.ok(run.rc == 0 and "hosts: 2 waiting, 0 backing off, 0 given up" in run.err,
         "--progress with --delay: the line counts the hosts waiting for their delay",
         run.err[-500:])

    # ---- the library: the same options by name (Python binding) -----------------
    code = r"""
import json, evcrawl
recs = list(evcrawl.crawl([%r, %r, %r], dns_server=%r, delay=0.25, random_delay=False,
                          politeness_key="domain", rate="100/s", max_retry_after=5,
                          host_errors=3))
print(json.dumps(sorted(r["status"] for r in recs)))
""" % tuple([w.url("h09.test", "/p/%d.html" % n) for n in (1, 2, 3)] + ["127.0.0.1:%d" % w.dns_port])
    before = os.path.getsize(log)
    p = run_python(code)
    time.sleep(0.3)
    with open(log) as f:
        f.seek(before)
        s = sorted(float(x.split()[5]) - float(x.split()[7]) for x in f if " h09.test " in x)
    t.ok(p.stdout.strip() == "[200, 200, 200]" and len(s) == 3 and
         min(gaps(s)) >= 0.25 - TOLERANCE,
         "Python binding: delay, politeness_key, rate, host_errors, ... by name; 3 pages "
         "0.25 s apart on the server (%s)" % [round(x, 3) for x in gaps(s)],
         p.stdout + p.stderr[-800:])

    run = evcrawl("--politeness-key", "port", w.url("h01.test", "/"))
    t.ok(run.rc == 2 and "--politeness-key" in run.err, "--politeness-key port: usage error",
         run.err)
    for opt in (["--delay", "1"], ["--rate", "5"], ["--random-delay"],
                ["--politeness-key", "ip"], ["--host-errors", "3"]):
        run = evcrawl("--mode", "blocking", *(opt + [w.url("h01.test", "/")]))
        t.ok(run.rc == 2 and opt[0] in run.err and "--mode async" in run.err,
             "%s with --mode blocking: usage error (the classic modes have no scheduler)"
             % opt[0], run.err)

t.done()
