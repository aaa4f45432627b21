#!/usr/bin/env python3
"""Every I/O mode gives the same records: --mode blocking, busy-poll,
threads, processes and async (on each selector) fetch one 200-URL list from
the local test world, mixing pages, redirects, error statuses, gzip, DNS
names, --resolve overrides, retries, saved bodies and failures (NXDOMAIN,
refused, bad URLs, a stalled server, a body that streams past --timeout), and
must produce identical records: every field but the times (saved paths
compared below each run's own -o directory). Also: --selector
select refuses more concurrency than FD_SETSIZE allows, and --selector is
for the async mode only.

Run: EVCRAWL=build/evcrawl python3 tests/integration/test_modes.py
"""

import collections
import json
import os
import re
import signal
import subprocess
import sys
import time

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TESTS, "env"), os.path.join(TESTS, "lib")]

from crawltest import EVCRAWL, t, evcrawl, jsonl_ok, closed_port, fault_admin  # noqa: E402
from world import World  # noqa: E402

MODES = [
    ("async/epoll", ["--mode", "async", "--selector", "epoll"]),
    ("async/poll", ["--mode", "async", "--selector", "poll"]),
    ("async/select", ["--mode", "async", "--selector", "select"]),
    ("blocking", ["--mode", "blocking"]),
    ("busy-poll", ["--mode", "busy-poll"]),
    ("threads", ["--mode", "threads", "-c", "8"]),
    ("processes", ["--mode", "processes", "-c", "8"]),
]


def url_list(w):
    hosts = w.hosts[:10]
    urls = [w.url(hosts[i % 10], "/p/%d.html" % (i % 50 + 1)) for i in range(150)]
    urls += [w.url("h01.test", "/r/302"), w.url("h02.test", "/r/301"),
             w.url("h03.test", "/r/chain/3"), w.url("h04.test", "/r/loop"),
             w.url("h05.test", "/r/ftp")]
    urls += [w.url(hosts[i], "/status/404") for i in range(5)]
    urls += [w.url(hosts[i], "/status/500") for i in range(5)]
    urls += [w.url(hosts[i], "/big/text-256k.txt") for i in range(5)]
    urls += [w.url(hosts[i], "/chunked/%d" % i) for i in range(5)]
    urls += [w.url(hosts[i], "/delay/%d" % i) for i in range(5)]
    urls += ["http://nx%d.test:%d/" % (i, w.http_port) for i in range(5)]
    refused = closed_port()
    urls += ["http://127.0.0.1:%d/%d" % (refused, i) for i in range(5)]
    urls += ["not a url", "ftp://h01.test/x", "http://", "http://h01.test:99999/", "mailto:x@y"]
    urls += [w.fault_url("h06.test", "/stall"), w.fault_url("h07.test", "/partial-body"),
             w.fault_url("h08.test", "/gzip"), w.fault_url("h09.test", "/interim"),
             w.fault_url("h10.test", "/no-length")]
    assert len(urls) == 200, len(urls)
    # Overridden names (no DNS), retried answers, a body that never ends
    # (hence --max-body 0 below).
    urls += ["http://alias%d.test:%d/p/%d.html" % (i % 2, w.http_port, i + 1) for i in range(4)]
    urls += [w.fault_url("h01.test", "/retry/1/modes"), w.fault_url("h02.test", "/429/modes"),
             w.fault_url("h03.test", "/stream-forever")]
    return urls


def comparable(rec, outdir):
    """The record without its times; a saved path relative to the run's own
    -o directory, without the collision suffix (which file of two URLs with
    one name gets the "~hash" depends on which finished first)."""
    r = dict(rec)
    r.pop("time_ms", None)
    r.pop("started_at", None)
    if r.get("url", "").endswith("/stream-forever"):
        r.pop("wire_bytes")  # timing, as bytes below
    if r.get("saved"):
        rel = os.path.relpath(r["saved"], outdir)
        r["saved"] = re.sub(r"~[0-9a-f]{8}(\.[0-9]+)?$", "", rel)
    if r.get("url", "").endswith("/stream-forever"):
        r.pop("bytes")  # how much arrived before the deadline is timing
    return json.dumps(r, sort_keys=True)


def outcome(rec):
    return (rec.get("url"), rec.get("status"), rec.get("bytes"),
            (rec.get("error") or {}).get("kind"))


with World(pages=50, delay_ms=50) as w:
    urls = url_list(w)
    path = os.path.join(w.dir, "modes-urls.txt")
    with open(path, "w") as f:
        f.write("\n".join(urls) + "\n")
    # --host-errors 0: the refused port's failures neither pause nor give up
    # its host, which only the event-loop engine's scheduler does.
    common = ["-q", "-i", path, "--dns-server", "127.0.0.1:%d" % w.dns_port, "--retries", "1",
              "--host-errors", "0",
              "--timeout", "2", "--compressed", "--per-host", "8", "--max-body", "0",
              "--resolve", "alias0.test:%d:127.0.0.1" % w.http_port,
              "--resolve", "alias1.test:*:127.0.0.2"]

    results, records = {}, {}
    for name, args in MODES:
        fault_admin(w.fault_port, "/__reset")  # the retry counters start again
        outdir = os.path.join(w.dir, "modes-out", name.replace("/", "-"))
        run = evcrawl(*(common + args + ["-o", outdir]), timeout=120)
        jsonl_ok(run, name)
        t.eq(run.rc, 1, "%s: exit status 1 (the list has failures)" % name, run.err[-500:])
        got = collections.Counter(r.get("url") for r in run.records)
        want_urls = collections.Counter(urls)  # pages appear three times each
        t.ok(got == want_urls, "%s: exactly one record per input line" % name,
             "missing: %r extra: %r" % (list((want_urls - got).items())[:5],
                                        list((got - want_urls).items())[:5]))
        results[name] = sorted(comparable(r, outdir) for r in run.records)
        records[name] = run.by_url()

    want = [json.loads(x) for x in results["async/epoll"]]
    kinds = collections.Counter((r.get("error") or {}).get("kind") for r in want)
    # 150 pages, 3 good redirects, 10 error statuses, 5 gzip, 5 chunked, 5
    # delays, faultd's gzip, interim and no-length, 4 overridden names and 2
    # retried answers are complete responses; loop and ftp redirects, 5
    # NXDOMAIN, 5 refused, 5 bad URLs, the stall, the partial body and the
    # endless stream are not.
    t.eq(dict(kinds), {None: 187, "redirect": 2, "dns": 5, "connect": 5, "bad_url": 5,
                       "timeout": 2, "protocol": 1},
         "async/epoll: the expected mix of outcomes")
    # Spot checks of exact values, so that "all modes agree" cannot mean
    # "all modes are equally wrong".
    by_url = {r["url"]: r for r in want}

    def short(u):
        r = by_url[u]
        return (r["status"], r.get("bytes"), (r["error"] or {}).get("kind"))

    t.eq(short(w.url("h01.test", "/p/1.html")), (200, 2048, None), "a page: 200, 2048 bytes")
    t.eq(short(w.url("h01.test", "/big/text-256k.txt")), (200, 262144, None),
         "gzip decoded: 262144 bytes")
    t.eq(short(w.url("h01.test", "/chunked/0")), (200, 100024, None), "chunked: 100024 bytes")
    t.eq(short(w.fault_url("h06.test", "/stall"))[2], "timeout", "stalled server: timeout")
    r = by_url[w.fault_url("h01.test", "/retry/1/modes")]
    t.eq((r["status"], r["attempts"], r["error"]), (200, 2, None), "a 503 retried: 200 on attempt 2")
    r = by_url[w.fault_url("h02.test", "/429/modes")]
    t.eq((r["status"], r["attempts"], r["error"]), (200, 2, None), "a 429 retried: 200 on attempt 2")
    r = by_url[w.url("h01.test", "/p/1.html")]
    t.eq(r["saved"], "h01.test_%d/p/1.html" % w.http_port, "a saved body's path below -o")
    for name, _ in MODES:
        stream = records[name][w.fault_url("h03.test", "/stream-forever")]
        t.eq((stream["status"], (stream["error"] or {}).get("kind"),
              (stream["error"] or {}).get("message")),
             (200, "timeout", "whole fetch timed out after 2000 ms"),
             "%s: a body streaming past --timeout ends at the deadline" % name, stream)
        t.ok(1900 <= stream["time_ms"]["total"] <= 3500 and stream["bytes"] > 0,
             "%s: ... after about 2 s, with the bytes that came" % name, stream)
        dns = [records[name]["http://alias%d.test:%d/p/%d.html" % (i % 2, w.http_port, i + 1)]
               ["time_ms"]["dns"] for i in range(4)]
        t.eq(dns, [None] * 4, "%s: --resolve hosts have no DNS time" % name)
    for name, _ in MODES[1:]:
        diff = sorted(set(results[name]) ^ set(results["async/epoll"]))
        t.ok(results[name] == results["async/epoll"],
             "%s: the same records as async/epoll (all but times)" % name,
             "differences: %s" % "\n".join(diff[:6]))

    # select cannot watch descriptors past FD_SETSIZE: refuse at start.
    run = evcrawl("--selector", "select", "-c", "2000", w.url("h01.test", "/p/1.html"))
    t.eq((run.rc, run.records), (2, []), "--selector select -c 2000: usage error, no records")
    t.ok("FD_SETSIZE" in run.err and "-c" in run.err,
         "... the message names FD_SETSIZE and the -c to use", run.err)
    run = evcrawl("--selector", "select", "-c", "900", "--dns-server",
                  "127.0.0.1:%d" % w.dns_port, w.url("h01.test", "/p/1.html"))
    t.eq([outcome(r) for r in run.records], [(w.url("h01.test", "/p/1.html"), 200, 2048, None)],
         "--selector select -c 900 works")
    run = evcrawl("--mode", "threads", "--selector", "poll", w.url("h01.test", "/p/1.html"))
    t.eq(run.rc, 2, "--selector with --mode threads: usage error")
    t.ok("async" in run.err, "... saying --selector is for the async mode", run.err)
    run = evcrawl("--mode", "fibers", w.url("h01.test", "/p/1.html"))
    t.eq(run.rc, 2, "--mode fibers: usage error")

    # A worker process that dies still owes its URLs a record each.
    slow = [w.url("h01.test", "/sleep/0.3?%d" % i) for i in range(10)]
    p = subprocess.Popen([EVCRAWL, "-q", "--mode", "processes", "-c", "2",
                          "--dns-server", "127.0.0.1:%d" % w.dns_port] + slow,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    kids = []
    for _ in range(100):  # wait for both workers
        try:
            with open("/proc/%d/task/%d/children" % (p.pid, p.pid)) as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            pass
        if len(kids) == 2:
            break
        time.sleep(0.02)
    time.sleep(0.1)  # both are inside a fetch now
    if kids:
        os.kill(kids[0], signal.SIGKILL)
    out, err = p.communicate(timeout=30)
    recs = [json.loads(line) for line in out.decode().splitlines()]
    t.eq(sorted(r["url"] for r in recs), sorted(slow),
         "processes, one worker killed: still one record per URL")
    lost = [r for r in recs if r["error"]]
    t.eq([(r["error"]["kind"], r["error"]["message"]) for r in lost],
         [("io", "worker process killed by signal 9")] * 2,
         "... the two URLs it held are io errors naming the signal", err.decode()[-300:])
    t.eq(p.returncode, 1, "... and the exit status is 1")

t.done()
