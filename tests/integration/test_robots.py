#!/usr/bin/env python3
"""--robots against a server on loopback that answers per host name (each
name is --resolve'd to it) and logs every request with its time: rules
obeyed, robots.txt fetched once per host and first, Crawl-delay measured on
the server side, 404 / 503 / unreachable / redirected robots.txt, groups by
product token (from -A), a slow robots.txt holding back only its own host,
the summary, and the Python binding's robots option.

Run: EVCRAWL=build/evcrawl python3 tests/integration/test_robots.py
"""

import collections
import http.server
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TESTS, "env"), os.path.join(TESTS, "lib")]

from crawltest import t, evcrawl, jsonl_ok, run_python  # noqa: E402

ROBOTS = {
    "rules.test": "User-agent: *\nDisallow: /private\nAllow: /private/ok\nCrawl-delay: 0.3\n",
    "missing.test": None,  # 404
    "down.test": 503,
    "moved.test": "redirect",
    "mine.test": "User-agent: evcrawl\nDisallow: /\n\nUser-agent: *\nDisallow: /x\n",
    "slow.test": "sleep",
    "loop.test": "loop",  # redirects to itself: no robots.txt to be had
    "flaky.test": "flaky",  # the first answer is cut short, the second whole
    "big.test": "User-agent: *\nDisallow: /early\n" + "#" * 600000 + "\nDisallow: /late\n",
}

LOG = []  # (time, host, path)
FLAKY = []  # flaky.test's robots.txt requests
LOCK = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0]
        with LOCK:
            LOG.append((time.monotonic(), host, self.path))
        if self.path == "/robots.txt":
            r = ROBOTS.get(host)
            if r is None:
                return self.send(404, b"not found\n")
            if r == 503:
                return self.send(503, b"busy\n")
            if r == "redirect":
                return self.send(301, b"", [("Location", "/real-robots.txt")])
            if r == "flaky":
                FLAKY.append(1)
                if len(FLAKY) == 1:  # a head promising 100 bytes, 20 of them, a close
                    self.send_response(200)
                    self.send_header("Content-Length", "100")
                    self.end_headers()
                    self.wfile.write(b"User-agent: *\nDisall")
                    self.wfile.flush()
                    self.close_connection = True
                    return
                return self.send(200, b"User-agent: *\nDisallow: /secret\n")
            if r == "loop":
                return self.send(302, b"", [("Location", "/robots.txt")])
            if r == "sleep":
                time.sleep(1.0)
                return self.send(200, b"User-agent: *\nDisallow: /no\n")
            return self.send(200, r.encode())
        if self.path == "/real-robots.txt":
            return self.send(200, b"User-agent: *\nDisallow: /hidden\n")
        return self.send(200, b"page\n")


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
srv.daemon_threads = True
P = srv.server_address[1]
threading.Thread(target=srv.serve_forever, daemon=True).start()
dead = socket.socket()
dead.bind(("127.0.0.1", 0))
D = dead.getsockname()[1]
dead.close()  # connections to D are refused

RESOLVE = []
for name in list(ROBOTS) + ["refused.test"]:
    RESOLVE += ["--resolve", "%s:*:127.0.0.1" % name]


def u(host, path, port=P):
    return "http://%s:%d%s" % (host, port, path)


def run_robots(*args):
    """evcrawl --robots with args; its run and the requests logged meanwhile."""
    with LOCK:
        start = len(LOG)
    run = evcrawl("-q", "--retries", 0, "--robots", *(RESOLVE + list(args)))
    with LOCK:
        return run, LOG[start:]


def outcome(run):
    return {r["url"]: (r["status"], (r["error"] or {}).get("kind"),
                       (r["error"] or {}).get("message")) for r in run.records}


# ---- rules obeyed, robots.txt first and once, Crawl-delay --------------------------
urls = [u("rules.test", p) for p in ("/a", "/b", "/private/x", "/private/ok/y", "/c")]
run, log = run_robots("-c", 10, *urls)
got = outcome(run)
t.eq(got, {urls[0]: (200, None, None), urls[1]: (200, None, None),
           urls[2]: (None, "robots", "disallowed by robots.txt"),
           urls[3]: (200, None, None), urls[4]: (200, None, None)},
     "rules.test: /private disallowed (kind robots), /private/ok allowed (longer rule)")
paths = [p for _, h, p in log if h == "rules.test"]
t.eq((paths[:1], paths.count("/robots.txt"), "/private/x" in paths),
     (["/robots.txt"], 1, False),
     "... robots.txt fetched first and once; the disallowed URL never requested", paths)
starts = [w for w, h, p in log if h == "rules.test" and p != "/robots.txt"]
g = [b - a for a, b in zip(starts, starts[1:])]
t.ok(len(starts) == 4 and min(g) >= 0.3 - 0.01,
     "... Crawl-delay: 0.3 kept between its requests on the server (%s)"
     % [round(x, 3) for x in g])
run2, _ = run_robots("--max-crawl-delay", "0.1", *urls[:2] + urls[4:])
jsonl_ok(run2, "--max-crawl-delay")
with LOCK:
    s2 = [w for w, h, p in LOG[-4:] if h == "rules.test" and p != "/robots.txt"]
t.ok(len(s2) == 3 and max(b - a for a, b in zip(s2, s2[1:])) < 0.25,
     "--max-crawl-delay 0.1 caps a Crawl-delay of 0.3 (%s)"
     % [round(b - a, 3) for a, b in zip(s2, s2[1:])])

# ---- 404, 503, unreachable, redirected, too big --------------------------------------
urls = [u("missing.test", "/a"), u("down.test", "/a"), u("refused.test", "/a", D),
        u("moved.test", "/hidden/1"), u("moved.test", "/shown"),
        u("big.test", "/early"), u("big.test", "/late"), u("loop.test", "/a")]
run, log = run_robots(*urls)
got = outcome(run)
refused = ("robots.txt unreachable (connect to 127.0.0.1 port %d: Connection refused): "
           "everything disallowed" % D)
t.eq(got, {urls[0]: (200, None, None),
           urls[1]: (None, "robots", "robots.txt answered 503: everything disallowed"),
           urls[2]: (None, "robots", refused),
           urls[3]: (None, "robots", "disallowed by robots.txt"),
           urls[4]: (200, None, None),
           urls[5]: (None, "robots", "disallowed by robots.txt"),
           urls[6]: (200, None, None),
           urls[7]: (200, None, None)},
     "robots.txt 404: all allowed; 503: all disallowed; unreachable: all disallowed, "
     "saying why; a redirect followed; only the first 500 KiB read; a redirect loop: "
     "no robots.txt, all allowed")
t.eq(sorted(p for _, h, p in log if h == "down.test"), ["/robots.txt"],
     "... nothing but robots.txt asked of the 503 host")

# ---- a robots.txt cut short is fetched again, not glued to its retry ---------------------
run = evcrawl("-q", "--robots", "--retries", 1, *(RESOLVE + [u("flaky.test", "/page"),
                                                             u("flaky.test", "/secret")]))
t.eq((outcome(run), len(FLAKY)),
     ({u("flaky.test", "/page"): (200, None, None),
       u("flaky.test", "/secret"): (None, "robots", "disallowed by robots.txt")}, 2),
     "a robots.txt cut short, then whole: only the whole one counts")

# ---- the group is chosen by the User-Agent's product token -----------------------------
run, _ = run_robots(u("mine.test", "/a"), u("mine.test", "/x"))
t.eq(sorted(v[1] for v in outcome(run).values()), ["robots", "robots"],
     "mine.test: the 'evcrawl' group disallows everything for evcrawl")
run, _ = run_robots("-A", "OtherBot/2.0 (+http://127.0.0.1/bot)", u("mine.test", "/a"),
                    u("mine.test", "/x"))
t.eq(outcome(run), {u("mine.test", "/a"): (200, None, None),
                    u("mine.test", "/x"): (None, "robots", "disallowed by robots.txt")},
     "-A OtherBot/2.0: the '*' group applies")

# ---- a slow robots.txt holds back its host only ---------------------------------------
urls = [u("slow.test", "/a")] + [u("missing.test", "/p%d" % i) for i in range(5)]
run, log = run_robots("-c", 10, *urls)
first_other = max(w for w, h, p in log if h == "missing.test" and p != "/robots.txt")
slow_page = [w for w, h, p in log if h == "slow.test" and p == "/a"]
t.ok(slow_page and first_other < slow_page[0] - 0.5,
     "a robots.txt that takes 1 s: the other host's pages are all done first, the slow "
     "host's page waits for its robots.txt")

# ---- without --robots nothing changes ---------------------------------------------------
with LOCK:
    start = len(LOG)
run = evcrawl("-q", *(RESOLVE + [u("down.test", "/a")]))
with LOCK:
    paths = [p for _, h, p in LOG[start:]]
t.eq((outcome(run)[u("down.test", "/a")][0], paths), (200, ["/a"]),
     "without --robots: no robots.txt asked for, the page fetched")

# ---- summary counts the refused URLs ----------------------------------------------------
run = evcrawl("--robots", "--retries", 0, *(RESOLVE + [u("down.test", "/a"),
                                                     u("down.test", "/b")]))
t.ok("robots 2" in run.err, "the summary counts URLs refused by robots.txt", run.err)

# ---- the Python binding -------------------------------------------------------------------
code = r"""
import json, evcrawl
recs = list(evcrawl.crawl([%r, %r], robots=True, max_crawl_delay=1, retries=0, resolve=%r))
print(json.dumps(sorted((r["url"], (r["error"] or {}).get("kind")) for r in recs)))
""" % (u("rules.test", "/a"), u("rules.test", "/private/z"), ["rules.test:*:127.0.0.1"])
p = run_python(code)
t.eq(p.stdout.strip(), json.dumps(sorted([(u("rules.test", "/a"), None),
                                          (u("rules.test", "/private/z"), "robots")])),
     "Python binding: robots=True", p.stderr[-800:])

# ---- --state keeps robots.txt for a resumed crawl ----------------------------------------
state = tempfile.mkdtemp(prefix="evc-robots-state.")
run1, log1 = run_robots("--state", state, u("rules.test", "/s1"))
run2, log2 = run_robots("--state", state, u("rules.test", "/s2"), u("rules.test", "/private/q"))
t.eq(([p for _, h, p in log1 if h == "rules.test"], [p for _, h, p in log2 if h == "rules.test"],
      outcome(run2)[u("rules.test", "/private/q")][1]),
     (["/robots.txt", "/s1"], ["/s2"], "robots"),
     "--state: a later run uses the robots.txt the first one fetched (not asked for again)")
shutil.rmtree(state)

# ---- "may I fetch this URL" from a script (evcrawl.Robots) --------------------------------
code = r"""
import json, evcrawl
r = evcrawl.Robots("Sitemap: http://127.0.0.1/s.xml\nUser-agent: *\nDisallow: /private\n"
                   "Allow: /private/ok\nCrawl-delay: 2\n")
print(json.dumps([r.allowed("/a"), r.allowed("/private/x"), r.allowed("/private/ok/1"),
                  r.allowed("http://127.0.0.1:8080/private/y?q=1"), r.crawl_delay, r.sitemaps]))
"""
p = run_python(code)
t.eq(p.stdout.strip(), json.dumps([True, False, True, False, 2.0, ["http://127.0.0.1/s.xml"]]),
     "Python: evcrawl.Robots(text).allowed(path or URL), crawl_delay, sitemaps",
     p.stderr[-800:])

srv.shutdown()
t.done()
