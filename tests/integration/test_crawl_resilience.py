#!/usr/bin/env python3
"""evcrawl under pressure: out of file descriptors (EMFILE slows the crawl, it
fails no URL), a reused keep-alive connection dropped before the answer
(retried once on a fresh connection, no attempt counted), and a host whose
listener never accepts (its fetches time out in connect while the other hosts'
pages go through).

Run: EVCRAWL=build/evcrawl python3 tests/integration/test_crawl_resilience.py
"""

import collections
import os
import re
import resource
import socket
import subprocess
import sys
import threading
import time

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TESTS, "env"), os.path.join(TESTS, "lib")]

from crawltest import (EVCRAWL, Run, t, closed_port, evcrawl, expect, fault_admin,  # noqa: E402
                       fault_stats)
from world import World  # noqa: E402

FD_LIMIT = 40


def fd_limit():
    """preexec_fn: the child may have at most FD_LIMIT descriptors open."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


def summary(run):
    """(connections, requests) from the stderr summary line, or None."""
    m = re.search(r"(\d+) connections, (\d+) requests$", run.err.strip())
    return (int(m.group(1)), int(m.group(2))) if m else None


def outcomes(records):
    """How many records had each (status, bytes, attempts, error kind, error
    message) outcome."""
    return collections.Counter((r.get("status"), r.get("bytes"), r.get("attempts"),
                                (r.get("error") or {}).get("kind"),
                                (r.get("error") or {}).get("message"))
                               for r in records)


def crawl_timed(*args, timeout=30):
    """Run evcrawl to the end, noting when each record line came out: its Run
    and {url: seconds after start}. (evcrawl writes each record as it ends.)"""
    t0 = time.monotonic()
    p = subprocess.Popen([EVCRAWL] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    killer = threading.Timer(timeout, p.kill)
    killer.start()
    out, when = b"", []
    for line in p.stdout:
        out += line
        when.append(time.monotonic() - t0)
    err = p.stderr.read()
    p.wait()
    killer.cancel()
    run = Run(p.returncode, out, err, time.monotonic() - t0)
    return run, {r.get("url"): s for r, s in zip(run.records, when)}


with World(pages=2000) as w:
    P, F = w.http_port, w.fault_port
    DNS = "--dns-server=127.0.0.1:%d" % w.dns_port

    # ---- (a) out of file descriptors ----------------------------------------
    # 200 fetches wanted at once, room for fewer than 40 sockets: socket()
    # fails with EMFILE, and evcrawl must shrink its concurrency and go on.
    pages = ["http://127.0.0.1:%d/p/%d.html" % (P, n) for n in range(1, 2001)]
    run = evcrawl("--no-progress", "-c", 200, "--per-host", 200, *pages, preexec_fn=fd_limit)
    t.ok(run.rc == 0 and sorted(r.get("url") for r in run.records) == sorted(pages),
         "fd limit %d, -c 200: exit 0, one record for each of the 2,000 pages" % FD_LIMIT,
         (run.rc, len(run.records), run.err[-2000:]))
    t.eq(outcomes(run.records), {(200, 2048, 1, None, None): 2000},
         "fd limit %d: every page 200, 2048 bytes, in one attempt, no error" % FD_LIMIT)
    conns = summary(run)
    t.ok(conns is not None and conns[0] < FD_LIMIT and conns[1] == 2000,
         "fd limit %d: the summary counts fewer than %d connections, 2000 requests"
         % (FD_LIMIT, FD_LIMIT), run.err)
    # Without the limit the same crawl opens one connection per slot, so it
    # is the limit, not chance, that kept the count above under 40.
    run = evcrawl("--no-progress", "-c", 200, "--per-host", 200, *pages)
    t.eq((run.rc, summary(run)), (0, (200, 2000)),
         "no fd limit, -c 200: exit 0, 200 connections, 2000 requests", run.err)

    # ---- (b) a reused connection dropped before the answer ------------------
    # A server may close an idle keep-alive connection just as a request goes
    # out on it, so a request that got no byte back on a reused connection is
    # sent once more on a fresh one, and that costs no attempt. faultd counts a
    # request when it reads it, answered or not (so /close-before-head counts),
    # and a connection on its first request: /ok/1 opens connection 1 (1
    # request, 1 connection); /close-before-head on it (2 requests); the same
    # again on connection 2 (3 requests, 2 connections), whose failure is the
    # one that counts.
    fault_admin(F, "/__reset")
    ok1, cbh = w.fault_url("h01.test", "/ok/1"), w.fault_url("h01.test", "/close-before-head")
    run = evcrawl("-q", DNS, "-c", 1, "--per-host", 1, "--retries", 0, ok1, cbh)
    expect(run.records[0] if run.records else None,
           {"url": ok1, "status": 200, "attempts": 1, "kind": None},
           "-c 1: /ok/1 first, 200 in one attempt")
    expect(run.records[1] if len(run.records) > 1 else None,
           {"url": cbh, "status": None, "attempts": 1, "kind": "protocol"},
           "--retries 0: /close-before-head on the reused connection is a protocol error "
           "after one counted attempt")
    st = fault_stats(F)["hosts"].get("h01.test:%d" % F, {})
    t.eq({k: st.get(k) for k in ("requests", "total_conns")}, {"requests": 3, "total_conns": 2},
         "faultd saw 3 requests on 2 connections: the dropped request sent again, once, "
         "on a fresh connection", st)

    # ---- (c) a host that never accepts ----------------------------------------
    # listen(1) lets the kernel complete backlog + 1 = 2 handshakes; the test's
    # two connections fill that queue and nobody accepts, so the kernel drops
    # every further SYN: evcrawl's connects stay in SYN-SENT and end in its
    # connect timeout (they never get as far as an idle timeout).
    stuck = socket.socket()
    stuck.bind(("127.0.0.1", 0))
    stuck.listen(1)
    S = stuck.getsockname()[1]
    fillers = [socket.create_connection(("127.0.0.1", S), timeout=2) for _ in range(2)]
    probe = socket.socket()
    probe.settimeout(0.3)
    try:
        probe.connect(("127.0.0.1", S))
        completed = True
    except socket.timeout:
        completed = False
    probe.close()
    t.eq(completed, False, "setup: with 2 connections queued, a third connect to the "
         "listener does not complete")

    stuck_urls = ["http://127.0.0.1:%d/stuck/%d" % (S, i) for i in range(20)]
    page_urls = [w.url(w.hosts[1 + i % 19], "/p/%d.html" % (i + 1)) for i in range(200)]
    run, when = crawl_timed("--no-progress", DNS, "--connect-timeout", 1, "--retries", 0,
                            "-c", 20, "--per-host", 2, "--host-errors", 4,
                            *(stuck_urls + page_urls))
    by = run.by_url()
    t.eq(outcomes(by.get(u, {}) for u in page_urls), {(200, 2048, 1, None, None): 200},
         "200 pages on h02..h20 beside a stuck host: every one 200, 2048 bytes, one attempt")
    last = max([when.get(u, 99.0) for u in page_urls])
    t.ok(last < 3.0, "... and the last of them was out %.2f s after the start (< 3 s), "
         "while the stuck host's fetches waited in connect" % last)
    # Two connect timeouts at 1 s (--per-host 2): the first frees a slot
    # for a third URL, the second (two in a row) pauses the host for 1 s;
    # the third times out at 2 s (it was in flight: no doubling), the probe
    # after the pause at 3 s: four in a row, and the host is given up, its
    # 16 URLs left ending at once.
    gave = ("127.0.0.1 given up after 4 connection failures in a row "
            "(last: connect timed out after 1000 ms)")
    t.eq(outcomes(by.get(u, {}) for u in stuck_urls),
         {(None, 0, 1, "timeout", "connect timed out after 1000 ms"): 4,
          (None, 0, 0, "timeout", gave): 16},
         "the stuck host: 4 connect timeouts, then given up (--host-errors 4): its other 16 "
         "URLs end at once, kind timeout, naming the give-up")
    t.ok(run.rc == 1 and len(run.records) == 220 and 2.9 <= run.secs < 4.0,
         "exit 1, 220 records, after 3 s: 4 timeouts and a 1 s pause (%.2f s)" % run.secs,
         (run.rc, len(run.records), run.err[-2000:]))
    for s in fillers + [stuck]:
        s.close()

# Regressions from the engine review, each once a hang or a crash:
with World(pages=300) as w:
    P, F = w.http_port, w.fault_port
    page = "http://127.0.0.1:%d/p/1.html" % P

    # Out of fds with nothing else in flight: no socket() spin; the whole-
    # fetch deadline still ends it (6 fds: stdio, epoll, the signal pipe).
    def six_fds():
        resource.setrlimit(resource.RLIMIT_NOFILE, (6, 6))
    run = evcrawl("--timeout", "1", page, preexec_fn=six_fds, timeout=20)
    t.eq([(r["error"] or {}).get("kind") for r in run.records], ["timeout"],
         "EMFILE with nothing in flight: ends with kind timeout")
    t.ok(run.secs < 5, "... after about --timeout 1 (%.2f s), not a spin" % run.secs)

    # The last line of the input, without newline, closing a 256-URL batch.
    lines = ["http://127.0.0.1:%d/p/%d.html" % (P, n) for n in range(1, 257)]
    run = evcrawl("-q", "-i", "-", stdin="\n".join(lines).encode(), timeout=20)
    t.eq((run.rc, len(run.records)), (0, 256),
         "256 lines, no final newline: all 256 records, and evcrawl exits")

    # A retry's backoff gives its slot back at once: with -c 1 the next URL
    # runs during the 1 s Retry-After, not after it.
    key = "/retry/1/slot-%d" % os.getpid()
    run = evcrawl("-q", "-c", "1", "--per-host", "1", "http://127.0.0.1:%d%s" % (F, key), page)
    t.eq([r["url"].rsplit("/", 1)[-1] for r in run.records], ["1.html", key.rsplit("/", 1)[-1]],
         "-c 1: the page finishes while the 503 waits out its Retry-After")
    t.ok(run.records and run.records[0]["time_ms"]["total"] < 500,
         "... at once (%.0f ms)" % (run.records[0]["time_ms"]["total"] if run.records else -1))

    # A task in retry backoff keeps its host alive through the 1 s
    # housekeeping sweep (the host was freed under it: ASan caught it).
    refused = "http://127.0.0.1:%d/" % closed_port()
    feeder = subprocess.Popen(["sh", "-c", "sleep 0.8; echo %s" % refused],
                              stdout=subprocess.PIPE)
    p = subprocess.run([EVCRAWL, "-q", "-i", "-"], stdin=feeder.stdout, capture_output=True,
                       timeout=30)
    feeder.wait()
    t.eq((p.returncode, p.stdout.count(b"\n"), b"ERROR: AddressSanitizer" in p.stderr),
         (1, 1, False), "retries across the host sweep: one record, no memory error",
         p.stderr.decode(errors="replace")[-1500:])

t.done()
