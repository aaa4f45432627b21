#!/usr/bin/env python3
"""evcrawl's failures: every way a fetch can go wrong ends in exactly one record
with the right error kind, status, attempt count, and in the right time.

DNS (NXDOMAIN, a dead server, a silent server), refused connections, faultd's
broken answers, whole-fetch and idle timeouts, retries (503/429 with
Retry-After, resets, refusals), --max-body on plain, chunked, close-delimited
and decoded bodies, and URLs that are not URLs. Slow runs go in parallel.

Run: EVCRAWL=build/evcrawl python3 tests/integration/test_crawl_errors.py
"""

import os
import socket
import subprocess
import sys
import threading
import time

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TESTS, "env"), os.path.join(TESTS, "lib")]

from crawltest import EVCRAWL, Run, t, closed_port, evcrawl, expect, fields, jsonl_ok  # noqa: E402
from world import World  # noqa: E402


class Started:
    """An evcrawl started in the background (a thread collects its output, so
    its run time is its own); wait() gives its Run."""

    def __init__(self, *args, timeout=60):
        self.t0 = time.monotonic()
        self.p = subprocess.Popen([EVCRAWL] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.th = threading.Thread(target=self._collect, args=(timeout,))
        self.th.start()

    def _collect(self, timeout):
        try:
            out, err = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            out, err = self.p.communicate()
            err += b"\n[test: killed after %d s]" % timeout
        self.run = Run(self.p.returncode, out, err, time.monotonic() - self.t0)

    def wait(self):
        self.th.join()
        return self.run


def only(run):
    return run.records[0] if len(run.records) == 1 else None


def between(x, lo, hi):
    return x is not None and lo <= x <= hi


with World(pages=10, delay_ms=100) as w:
    P, F = w.http_port, w.fault_port
    DNS = "--dns-server=127.0.0.1:%d" % w.dns_port
    fu = w.fault_url
    refused = "http://127.0.0.1:%d/x" % closed_port()
    silent_dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)   # bound, never answers
    silent_dns.bind(("127.0.0.1", 0))
    dead_dns_port = closed_port(socket.SOCK_DGRAM)

    # The slow runs first, all at once; the fast ones run meanwhile.
    slow = {
        "timeout": Started("-q", DNS, "--timeout", 1, "--retries", 0, fu("h01.test", "/stall")),
        "idle_stall": Started("-q", DNS, "--idle-timeout", 1, "--retries", 0,
                              fu("h02.test", "/stall")),
        "idle_retry": Started("-q", DNS, "--idle-timeout", 1, "--retries", 1,
                              fu("h03.test", "/stall")),
        "idle_head": Started("-q", DNS, "--idle-timeout", 1, "--retries", 0,
                             fu("h04.test", "/head-only-then-stall")),
        "drip_short": Started("-q", DNS, "--idle-timeout", 0.1, "--retries", 0,
                              fu("h05.test", "/drip")),
        "drip_long": Started("-q", DNS, "--idle-timeout", 1, "--retries", 0,
                             fu("h06.test", "/drip")),
        "loris": Started("-q", DNS, "--timeout", 1, "--retries", 0,
                         fu("h07.test", "/slow-loris-head")),
        "dead_dns": Started("-q", "--dns-server", "127.0.0.1:%d" % dead_dns_port,
                            "--dns-timeout", 2, "http://h01.test:%d/p/1.html" % P),
        "silent_dns": Started("-q", "--dns-server", "127.0.0.1:%d" % silent_dns.getsockname()[1],
                              "--dns-timeout", 1, "http://h01.test:%d/p/1.html" % P,
                              "http://h02.test:%d/p/2.html" % P),
        "retries": Started("-q", DNS, fu("h08.test", "/retry/2/ka"), fu("h08.test", "/429/kb"),
                           refused, fu("h09.test", "/reset"),
                           fu("h10.test", "/close-before-head")),
        "retries1": Started("-q", DNS, "--retries", 1, fu("h11.test", "/retry/2/kc"),
                            fu("h11.test", "/retry/1/kd"), refused, fu("h12.test", "/reset")),
        "retries0": Started("-q", DNS, "--retries", 0, fu("h13.test", "/retry/1/ke")),
    }

    # ---- broken answers, one attempt each ----------------------------------
    bad_urls = ["not a url", "http://", "ftp://x/", "http://h01.test:99999/",
                "http://h01.test:port/", "http:///p/1.html"]
    u = {
        "nx": "http://nx.test:%d/p/1.html" % P,
        "refused": refused,
        "partial": fu("h01.test", "/partial-body"),
        "huge": fu("h02.test", "/huge-head"),
        "garbage": fu("h03.test", "/garbage"),
        "reset": fu("h04.test", "/reset"),
        "cbh": fu("h05.test", "/close-before-head"),
        "chunked_bad": fu("h06.test", "/chunked-bad"),
        "ok": fu("h07.test", "/ok"),
    }
    run = evcrawl("-q", DNS, "--retries", 0, "--timeout", 20, *(list(u.values()) + bad_urls))
    jsonl_ok(run, "broken answers")
    r = run.by_url()
    t.eq(sorted(r), sorted(list(u.values()) + bad_urls), "broken answers: one record per URL")
    t.eq(run.rc, 1, "broken answers: exit status 1")
    expect(r.get(u["nx"]), {"status": None, "bytes": 0, "kind": "dns"}, "nx.test (NXDOMAIN): dns")
    expect(r.get(u["refused"]), {"status": None, "attempts": 1, "kind": "connect"},
           "refused connection with --retries 0: connect, 1 attempt")
    expect(r.get(u["partial"]), {"status": 200, "bytes": 10, "attempts": 1, "kind": "protocol"},
           "/partial-body: protocol, status 200, the 10 bytes that came counted")
    expect(r.get(u["huge"]), {"status": None, "bytes": 0, "kind": "protocol"},
           "/huge-head (70 KiB head): protocol, no status")
    expect(r.get(u["garbage"]), {"status": None, "bytes": 0, "kind": "protocol"},
           "/garbage: protocol, no status")
    expect(r.get(u["reset"]), {"status": None, "bytes": 0, "attempts": 1, "kind": "io"},
           "/reset: io, no status")
    expect(r.get(u["cbh"]), {"status": None, "bytes": 0, "attempts": 1, "kind": "protocol"},
           "/close-before-head: protocol, no status")
    expect(r.get(u["chunked_bad"]), {"status": 200, "kind": "protocol"},
           "/chunked-bad: protocol after a 200 head")
    expect(r.get(u["ok"]), {"status": 200, "bytes": 3, "kind": None},
           "a good URL among them is unaffected")
    t.eq([fields(r.get(b), {"status": 0, "bytes": 0, "kind": 0}) for b in bad_urls],
         [{"status": None, "bytes": 0, "kind": "bad_url"}] * len(bad_urls),
         "%d malformed URLs: each one bad_url record (%s)" % (len(bad_urls), ", ".join(bad_urls)))
    t.ok(all(r.get(b, {}).get("attempts") == 0 for b in bad_urls),
         "malformed URLs: 0 attempts", [r.get(b) for b in bad_urls])

    # ---- --max-body -------------------------------------------------------
    m = {
        "page": w.url("h01.test", "/p/2.html"),         # gzipped by nginx, 2048 decoded
        "exact": fu("h02.test", "/big/2048"),
        "over": fu("h03.test", "/big/2049"),
        "chunked": w.url("h04.test", "/chunked/x"),     # 100024, no Content-Length
        "nolen": fu("h05.test", "/no-length"),          # 5000 to EOF
        "gzip": fu("h06.test", "/gzip"),                # 73 sent, 4600 decoded
        "text": w.url("h07.test", "/big/text-256k.txt"),
    }
    run = evcrawl("-q", DNS, "--compressed", "--max-body", "2K", "--retries", 0, *m.values())
    jsonl_ok(run, "--max-body 2K")
    r = run.by_url()
    expect(r.get(m["page"]), {"status": 200, "bytes": 2048, "kind": None},
           "--max-body 2K: a 2048-byte page (gzipped on the wire) is not too large")
    expect(r.get(m["exact"]), {"status": 200, "bytes": 2048, "kind": None},
           "--max-body 2K: exactly 2048 bytes is allowed")
    for key, desc in (("over", "2049 bytes with Content-Length"),
                      ("chunked", "a chunked body of 100024 bytes"),
                      ("nolen", "a close-delimited body of 5000 bytes"),
                      ("gzip", "gzip: 73 bytes on the wire, 4600 decoded"),
                      ("text", "256 KiB of text gzipped by nginx")):
        rec = r.get(m[key])
        t.ok(fields(rec, {"status": 0, "kind": 0}) == {"status": 200, "kind": "too_large"}
             and rec["bytes"] <= 2048,
             "--max-body 2K: %s is too_large (status 200, bytes <= 2048)" % desc, rec)
    t.eq(run.rc, 1, "--max-body 2K: exit status 1")
    run = evcrawl("-q", DNS, "--compressed", "--max-body", 4600, fu("h06.test", "/gzip"))
    expect(only(run), {"status": 200, "bytes": 4600, "kind": None},
           "--max-body 4600: the gzip answer decoded to exactly 4600 bytes is allowed")
    run = evcrawl("-q", DNS, "--max-body", 1000, w.url("h01.test", "/p/1.html"))
    rec = only(run)
    t.ok(fields(rec, {"status": 0, "kind": 0}) == {"status": 200, "kind": "too_large"}
         and rec["bytes"] <= 1000, "--max-body 1000: a 2048-byte page is too_large", rec)

    # ---- the slow runs ------------------------------------------------------
    res = {k: s.wait() for k, s in slow.items()}
    silent_dns.close()
    for k, run in res.items():
        jsonl_ok(run, k)

    run = res["timeout"]
    rec = only(run)
    expect(rec, {"status": None, "attempts": 1, "kind": "timeout"},
           "/stall with --timeout 1 --retries 0: timeout")
    t.ok(between(run.secs, 0.9, 3.0) and between((rec or {}).get("time_ms", {}).get("total"),
                                                  950, 2000),
         "... after about 1 s (%.2f s wall)" % run.secs, rec)
    run = res["idle_stall"]
    expect(only(run), {"status": None, "attempts": 1, "kind": "timeout"},
           "/stall with --idle-timeout 1: timeout")
    t.ok(between(run.secs, 0.9, 3.0), "... after about 1 s (%.2f s wall)" % run.secs)
    run = res["idle_retry"]
    expect(only(run), {"status": None, "attempts": 2, "kind": "timeout"},
           "/stall with --idle-timeout 1 --retries 1: timeout after 2 attempts")
    t.ok(between(run.secs, 1.9, 6.0), "... after about 2 s plus backoff (%.2f s wall)" % run.secs)
    run = res["idle_head"]
    expect(only(run), {"status": 200, "bytes": 0, "kind": "timeout"},
           "/head-only-then-stall with --idle-timeout 1: timeout after the 200 head")
    run = res["drip_short"]
    expect(only(run), {"status": 200, "bytes": 0, "kind": "timeout"},
           "/drip (a byte per 200 ms) with --idle-timeout 0.1: timeout before the first byte")
    t.ok(between(run.secs, 0.05, 1.5), "... at once (%.2f s wall)" % run.secs)
    run = res["drip_long"]
    expect(only(run), {"status": 200, "bytes": 20, "kind": None},
           "/drip with --idle-timeout 1: every byte restarts the idle timer; 20 bytes")
    t.ok(between(run.secs, 3.8, 9.0), "... in about 4 s (%.2f s wall)" % run.secs)
    run = res["loris"]
    expect(only(run), {"status": None, "kind": "timeout"},
           "/slow-loris-head with --timeout 1: timeout, no status")
    t.ok(between(run.secs, 0.9, 3.0), "... after about 1 s (%.2f s wall)" % run.secs)

    run = res["dead_dns"]
    expect(only(run), {"status": None, "bytes": 0, "kind": "dns"},
           "DNS server port closed: dns error")
    t.ok(between(run.secs, 0, 2.9), "... within --dns-timeout 2 (%.2f s wall)" % run.secs)
    t.eq(run.rc, 1, "... exit status 1")
    run = res["silent_dns"]
    t.eq([fields(x, {"status": 0, "kind": 0}) for x in run.records],
         [{"status": None, "kind": "dns"}] * 2,
         "DNS server that never answers: dns error for both names", run.records)
    t.ok(between(run.secs, 0.9, 3.0), "... after --dns-timeout 1 (%.2f s wall)" % run.secs)

    r = res["retries"].by_url()
    expect(r.get(fu("h08.test", "/retry/2/ka")),
           {"status": 200, "bytes": 3, "attempts": 3, "kind": None},
           "/retry/2/KEY, default --retries 2: 200 on attempt 3")
    expect(r.get(fu("h08.test", "/429/kb")),
           {"status": 200, "bytes": 3, "attempts": 2, "kind": None},
           "/429/KEY: 200 on attempt 2")
    t.ok(res["retries"].secs >= 1.9,
         "Retry-After: 1 honoured twice (%.2f s >= 2 s)" % res["retries"].secs)
    expect(r.get(refused), {"status": None, "attempts": 3, "kind": "connect"},
           "refused connection, --retries 2: connect after 3 attempts")
    expect(r.get(fu("h09.test", "/reset")), {"status": None, "attempts": 3, "kind": "io"},
           "/reset, --retries 2: io after 3 attempts")
    expect(r.get(fu("h10.test", "/close-before-head")),
           {"status": None, "attempts": 3, "kind": "protocol"},
           "/close-before-head, --retries 2: protocol after 3 attempts")
    r = res["retries1"].by_url()
    expect(r.get(fu("h11.test", "/retry/2/kc")),
           {"status": 503, "bytes": 12, "attempts": 2, "kind": None},
           "/retry/2/KEY, --retries 1: status 503 after 2 attempts, error null")
    expect(r.get(fu("h11.test", "/retry/1/kd")),
           {"status": 200, "bytes": 3, "attempts": 2, "kind": None},
           "/retry/1/KEY, --retries 1: 200 on attempt 2")
    expect(r.get(refused), {"status": None, "attempts": 2, "kind": "connect"},
           "refused connection, --retries 1: connect after 2 attempts")
    expect(r.get(fu("h12.test", "/reset")), {"status": None, "attempts": 2, "kind": "io"},
           "/reset, --retries 1: io after 2 attempts")
    expect(only(res["retries0"]), {"status": 503, "bytes": 12, "attempts": 1, "kind": None},
           "/retry/1/KEY, --retries 0: status 503 at once, error null")

t.done()
