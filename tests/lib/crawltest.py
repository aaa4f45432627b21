"""crawltest.py - what every tests/integration/test_crawl_*.py script shares:
running evcrawl, reading its JSON-lines records, checking fields, and talking
to faultd's admin paths.

    from crawltest import t, evcrawl, expect, jsonl_ok
    run = evcrawl("--dns-server=127.0.0.1:%d" % w.dns_port, url)
    expect(run.records[0], {"status": 200, "kind": None}, "one page")
    t.done()

Importing this module creates the script's one Tap, `t` (a TAP stream belongs
to a process, and the check helpers below report into it); so import it only
from a test script, which must end with t.done(). The binary under test is
$EVCRAWL, else build/evcrawl.
"""

import http.client
import json
import os
import socket
import subprocess
import sys
import time

from tap import Tap

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVCRAWL = os.environ.get("EVCRAWL") or os.path.join(os.path.dirname(TESTS), "build", "evcrawl")
t = Tap()


class Run:
    """One finished evcrawl run: rc, stdout records, stderr text, seconds."""

    def __init__(self, rc, out, err, secs):
        self.rc, self.out, self.err, self.secs = rc, out, err.decode(errors="replace"), secs
        self.records, self.bad = [], []
        for line in out.decode(errors="replace").splitlines():
            try:
                rec = json.loads(line)
                (self.records if isinstance(rec, dict) else self.bad).append(rec)
            except ValueError:
                self.bad.append(line)

    def by_url(self):
        return {r.get("url"): r for r in self.records}


def evcrawl(*args, stdin=None, timeout=60, cwd=None, preexec_fn=None):
    """Run evcrawl with args (each str()-ed) to the end; its Run."""
    t0 = time.monotonic()
    p = subprocess.run([EVCRAWL] + [str(a) for a in args], input=stdin, cwd=cwd,
                       preexec_fn=preexec_fn,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return Run(p.returncode, p.stdout, p.stderr, time.monotonic() - t0)


def jsonl_ok(run, desc):
    """Every stdout line of a run is one JSON object (one check)."""
    t.ok(run.out.endswith(b"\n") and not run.bad, "%s: every stdout line is a JSON object" % desc,
         "bad lines: %r\nstderr: %s" % (run.bad[:3], run.err[-2000:]))


def fields(rec, want):
    """The fields of rec named in want; "kind" is error.kind (None when no error)."""
    if rec is None:
        return None
    got = {}
    for k in want:
        if k == "kind":
            got[k] = (rec.get("error") or {}).get("kind")
        else:
            got[k] = rec.get(k, "<missing>")
    return got


def expect(rec, want, desc):
    """One check: the fields of rec named in want are exactly want."""
    t.eq(fields(rec, want), want, desc, rec)


def http_get(port, path, host):
    """GET path from 127.0.0.1:port with that Host header; the body bytes
    exactly as the server sends them (no decoding)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", path, headers={"Host": host})
    body = c.getresponse().read()
    c.close()
    return body


def fault_admin(port, path):
    """faultd's /__stats or /__reset (never counted in its accounting)."""
    return http_get(port, path, "admin")


def fault_stats(port):
    """faultd's accounting as a dict (see tests/env/README.md)."""
    return json.loads(fault_admin(port, "/__stats"))


def closed_port(kind=socket.SOCK_STREAM):
    """A loopback port where nothing listens (bound, then closed)."""
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_python(code, timeout=60):
    """Run code in a child Python that imports the binding (python/evcrawl,
    through PYTHONPATH) against this build's libevcrawl.so; the
    CompletedProcess (text). The sanitizer build's library needs libasan
    loaded first; CPython itself leaks at exit, so leak detection is off
    there."""
    root = os.path.dirname(TESTS)
    build = os.environ.get("EVC_BUILD", os.path.join(root, "build"))
    env = dict(os.environ, EVCRAWL_LIB=os.path.join(build, "libevcrawl.so"),
               PYTHONPATH=os.path.join(root, "python"))
    if os.path.basename(build) == "sanitize":
        asan = subprocess.run([os.environ.get("CC", "cc"), "-print-file-name=libasan.so"],
                              capture_output=True, text=True).stdout.strip()
        env.update(LD_PRELOAD=os.path.realpath(asan), ASAN_OPTIONS="detect_leaks=0")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=timeout)
