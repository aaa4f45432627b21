#!/usr/bin/env python3
"""`make demo` (scripts/demo) runs: it starts the local site, crawls
urls/demo.txt, shows records and the summary, stops the servers, and exits 0.

Run: EVC_BUILD=build python3 tests/integration/test_demo.py
"""

import json
import os
import re
import socket
import subprocess
import sys

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(TESTS)
sys.path[:0] = [os.path.join(TESTS, "lib")]

from tap import Tap  # noqa: E402

t = Tap()
build = os.environ.get("EVC_BUILD") or os.path.join(ROOT, "build")
p = subprocess.run([os.path.join(ROOT, "scripts", "demo"), os.path.relpath(build, ROOT)],
                   cwd=ROOT, capture_output=True, text=True, timeout=120)
out = p.stdout + p.stderr
t.eq(p.returncode, 0, "scripts/demo exits 0", out[-2000:])
m = re.search(r"evcrawl: (\d+) URLs in [0-9.]+ s: ([^;]*);", out)
t.ok(m is not None, "the summary line is printed", out[-2000:])
if m:
    t.eq(m.groups(), ("313", "2xx 307 · 4xx 1 · 5xx 1 · bad_url 1 · dns 1 · connect 1 · "
                             "redirect 1"),
         "313 URLs: 309 complete responses (a 404 and a 500 among them) and the four "
         "failures the list holds on purpose")
with open(os.path.join(build, "demo.jsonl")) as f:
    recs = [json.loads(line) for line in f]
lines = [line.strip() for line in open(os.path.join(ROOT, "urls", "demo.txt"))]
urls = [line for line in lines if line and not line.startswith("#")]
port, tls_port = re.search(r"nginx on 127\.0\.0\.1-4:(\d+) \(https: (\d+)\)", out).groups()
t.eq(sorted(r["url"] for r in recs),
     sorted(u.replace(":PORT", ":" + port).replace(":TLSPORT", ":" + tls_port) for u in urls),
     "one record per demo URL")
https = [r for r in recs if r["url"].startswith("https://")]
t.ok(len(https) == 20 and all(r["status"] == 200 and r["bytes"] > 0 and
                              r["tls"]["alpn"] == "http/1.1" for r in https),
     "the 20 https pages: 200, verified with the site's CA, tls in the record", https[:2])
delays = [r for r in recs if "/delay/" in r["url"]]
t.ok(len(delays) == 200 and all(r["status"] == 200 and r["time_ms"]["ttfb"] >= 95
                                for r in delays),
     "the 200 delayed pages answered after ~100 ms each (nginx timers: >= 95)")
# The servers are gone: nothing listens on the demo's port any more.
s = socket.socket()
t.ok(s.connect_ex(("127.0.0.1", int(port))) != 0, "the demo's nginx was stopped")
s.close()
t.done()
