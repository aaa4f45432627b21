#!/usr/bin/env python3
"""Tests of the test world itself (tests/env/world.py, tests/env/faultd.py).

If these fail, every other integration test is suspect. Loopback only: the
HTTP clients connect to 127.0.0.x directly and send the test host name in the
Host header; names are checked against dnsmasq with world.resolve().

Run: python3 tests/integration/test_world.py   (TAP on stdout)
"""

import gzip
import hashlib
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import zlib

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TESTS, "env"), os.path.join(TESTS, "lib")]

from tap import Tap            # noqa: E402
import world                   # noqa: E402
from world import World, resolve   # noqa: E402

t = Tap()
KNOWN_TEXT = b"evcrawl gzip test line\n" * 200


# --------------------------------------------------------------------------
# Small clients

def get(port, path, host="h01.test", addr="127.0.0.1", headers=None, conn=None):
    """One GET with http.client; returns (response, body, seconds)."""
    c = conn or http.client.HTTPConnection(addr, port, timeout=5)
    h = {"Host": "%s:%d" % (host, port)}
    h.update(headers or {})
    t0 = time.monotonic()
    c.request("GET", path, headers=h)
    r = c.getresponse()
    body = r.read()
    took = time.monotonic() - t0
    if conn is None:
        c.close()
    return r, body, took


def raw(port, data, addr="127.0.0.1", timeout=2.0, limit=None):
    """Send raw bytes, read until the server closes (or limit bytes, or the
    timeout). Returns (bytes, how it ended: "eof" | "reset" | "timeout" | "limit")."""
    s = socket.create_connection((addr, port), timeout=timeout)
    try:
        s.sendall(data)
        got = b""
        while limit is None or len(got) < limit:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return got, "timeout"
            except ConnectionResetError:
                return got, "reset"
            if not chunk:
                return got, "eof"
            got += chunk
        return got, "limit"
    finally:
        s.close()


def req(path, host="h01.test:1", close=True):
    return ("GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n"
            % (path, host, "Connection: close\r\n" if close else "")).encode()


def stats(port):
    return json.loads(get(port, "/__stats", host="admin")[1])


def alive(pid):
    st = world._proc_stat(pid)
    return st is not None and st[0] != "Z"


# --------------------------------------------------------------------------

t0 = time.monotonic()
w = World(pages=50, delay_ms=100, access_log=True)
w.start()
t.diag("start took %.3f s; dir %s; http %d dns %d fault %d"
       % (time.monotonic() - t0, w.dir, w.http_port, w.dns_port, w.fault_port))
P, F = w.http_port, w.fault_port

# ---- nginx: the site ----
r, body, _ = get(P, "/p/1.html")
t.eq((r.status, len(body), r.getheader("Content-Length")), (200, 2048, "2048"),
     "/p/1.html is 200 with 2048 bytes and Content-Length")
with open(os.path.join(w.root, "p", "1.html"), "rb") as f:
    t.eq(body, f.read(), "/p/1.html body is the file in w.root")
t.ok(b'href="/p/2.html"' in body and b'href="/p/4.html"' in body,
     "/p/1.html links to the next pages")
t.eq(get(P, "/p/50.html")[0].status, 200, "/p/50.html exists")
t.eq(get(P, "/p/51.html")[0].status, 404, "/p/51.html does not")
t.ok(get(P, "/p/2.html")[1] != body, "pages differ")
sizes = {os.path.getsize(os.path.join(w.root, "p", "%d.html" % n)) for n in range(1, 51)}
t.eq(sizes, {2048}, "every page is 2048 bytes")
t.eq(world.page_links(50, 50), [1, 2, 3], "links wrap around")

r, gz, _ = get(P, "/p/3.html", headers={"Accept-Encoding": "gzip"})
t.eq((r.getheader("Content-Encoding"), r.getheader("Transfer-Encoding")), ("gzip", "chunked"),
     "Accept-Encoding: gzip gets a gzipped chunked answer")
t.eq(len(gzip.decompress(gz)), 2048, "it gunzips to the page")
r, body, _ = get(P, "/big/1m.bin")
t.eq(len(body), 1 << 20, "/big/1m.bin is 1 MiB")
t.eq(body[:4], hashlib.shake_128(b"evcrawl-1m").digest(4), "...of SHAKE-128 bytes")
r, body, _ = get(P, "/big/text-256k.txt", headers={"Accept-Encoding": "gzip"})
t.eq((r.getheader("Content-Encoding"), len(gzip.decompress(body))), ("gzip", 262144),
     "/big/text-256k.txt gzips, 262144 bytes decoded")

for addr in world.LOOPBACK + (("::1",) if w.ipv6 else ()):
    t.eq(get(P, "/p/1.html", addr=addr)[0].status, 200, "nginx answers on %s" % addr)

# ---- nginx: delays, chunked ----
r, body, took = get(P, "/delay/1/x")
t.ok(took >= 0.1 and body == b"delayed\n" and r.getheader("Transfer-Encoding") == "chunked",
     "/delay/1/x answers 'delayed\\n' after >= delay_ms (%.3f s)" % took)
r, body, took = get(P, "/sleep/0.3")
t.ok(took >= 0.3 and body == b"slept\n", "/sleep/0.3 sleeps 0.3 s (%.3f s)" % took)
r, body, _ = get(P, "/chunked/a")
t.eq((r.getheader("Transfer-Encoding"), len(body), body[:24]),
     ("chunked", 100024, b"chunk 1\nchunk 2\nchunk 3\n"), "/chunked/ body is 100024 bytes")

# ---- nginx: redirects and statuses ----
REDIRECTS = [
    ("/r/301", 301, "http://h01.test:%d/p/1.html" % P),
    ("/r/302", 302, "/p/2.html"),
    ("/r/303", 303, "/p/5.html"),
    ("/r/307", 307, "../p/3.html"),
    ("/r/308", 308, "/p/4.html"),
    ("/r/loop", 302, "/r/loop"),
    ("/r/ftp", 302, "ftp://127.0.0.1/x"),
    ("/r/chain/30", 302, "/r/chain/29"),
    ("/r/chain/1", 302, "/r/chain/0"),
    ("/r/chain/0", 302, "/p/1.html"),
    ("/r/host/h03.test", 302, "http://h03.test:%d/p/1.html" % P),
]
c = http.client.HTTPConnection("127.0.0.1", P, timeout=5)
for path, status, location in REDIRECTS:
    r = get(P, path, conn=c)[0]
    t.eq((r.status, r.getheader("Location")), (status, location), "%s redirects" % path)
for code in (200, 204, 404, 500, 503):
    r, body, _ = get(P, "/status/%d" % code, conn=c)
    t.eq((r.status, body), (code, b"" if code == 204 else b"status %d\n" % code),
         "/status/%d" % code)
c.close()
r, body, _ = get(P, "/keepalive-off/p/7.html")
t.eq((r.getheader("Connection"), len(body)), ("close", 2048),
     "/keepalive-off/ serves the site and closes")

# ---- nginx: keep-alive and the access log ----
c = http.client.HTTPConnection("127.0.0.2", P, timeout=5)
get(P, "/p/10.html", host="h02.test", conn=c)
get(P, "/p/11.html", host="h02.test", conn=c)
c.close()
time.sleep(0.05)
with open(os.path.join(w.dir, "access.log")) as f:
    lines = [l.split() for l in f if "/p/1" in l and "h02.test" in l]
t.ok(len(lines) == 2 and lines[0][0] == lines[1][0] and [l[1] for l in lines] == ["1", "2"],
     "access.log: two requests on one connection", lines)

# ---- dnsmasq ----
D = w.dns_port
t.eq(resolve("h01.test", D)[:2], (0, ["127.0.0.1"]), "h01.test -> 127.0.0.1")
t.eq(resolve("h02.test", D).addrs, ["127.0.0.2"], "h02.test -> 127.0.0.2")
t.eq(resolve("h05.test", D).addrs, ["127.0.0.1"], "h05.test -> 127.0.0.1 (cycling)")
t.eq(resolve("h20.test", D).addrs, ["127.0.0.4"], "h20.test -> 127.0.0.4")
t.eq(resolve("h01.test", D).ttl, 60, "TTL is 60")
t.eq(sorted(resolve("multi.test", D).addrs), ["127.0.0.2", "127.0.0.3"], "multi.test has two A records")
t.eq(resolve("nx.test", D).rcode, 3, "nx.test is NXDOMAIN")
t.eq(resolve("v6.test", D, "AAAA")[:2], (0, ["::1"]), "v6.test AAAA ::1")
t.eq(resolve("v6.test", D)[:2], (0, []), "v6.test has no A record")
t.eq(resolve("h03.test", D, tcp=True).addrs, ["127.0.0.3"], "DNS over TCP works")
t.eq(sorted(w.hosts)[:2] + [len(w.hosts)], ["h01.test", "h02.test", 20], "w.hosts is h01..h20")

# ---- faultd ----
r, body, _ = get(F, "/ok/anything")
t.eq((r.status, body, r.getheader("Content-Length")), (200, b"ok\n", "3"), "faultd /ok/")
c = http.client.HTTPConnection("127.0.0.1", F, timeout=5)
t.ok(get(F, "/ok/1", conn=c)[1] == b"ok\n" and get(F, "/ok/2", conn=c)[1] == b"ok\n",
     "/ok/ keeps the connection alive")
c.close()
got, how = raw(F, req("/ok/1", close=False) + req("/echo/2", close=False) + req("/ok/3"))
parts = got.split(b"HTTP/1.1 200 OK")
t.ok(how == "eof" and len(parts) == 4 and b"GET /echo/2 HTTP/1.1" in parts[2],
     "pipelined requests answered in order", got)

got, how = raw(F, req("/close-before-head"))
t.eq((got, how), (b"", "eof"), "/close-before-head closes without a byte")
got, how = raw(F, req("/reset"))
t.eq((got, how), (b"", "reset"), "/reset resets the connection")
try:
    get(F, "/partial-body")
    t.ok(False, "/partial-body is cut short")
except http.client.IncompleteRead as e:
    t.eq(len(e.partial), 10, "/partial-body is cut short after 10 bytes")
got, how = raw(F, req("/huge-head"))
t.ok(got.index(b"\r\n\r\n") >= 70 * 1024 and got.endswith(b"\r\n\r\nok\n"),
     "/huge-head sends >= 70 KiB of head")
got, how = raw(F, req("/garbage"))
t.ok(got and not got.startswith(b"HTTP/") and how == "eof", "/garbage is not HTTP")
got, how = raw(F, req("/no-length", close=False))
head, _, body = got.partition(b"\r\n\r\n")
t.ok(b"Content-Length" not in head and len(body) == 5000 and how == "eof",
     "/no-length: 5000 bytes to EOF")
got, how = raw(F, req("/http10", close=False))
t.ok(got.startswith(b"HTTP/1.0 200") and got.endswith(b"\r\n\r\nhttp/1.0\n") and how == "eof",
     "/http10 answers HTTP/1.0 and closes")
got, how = raw(F, req("/interim"))
t.ok(got.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n")
     and got.endswith(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
                      b"Connection: close\r\n\r\ndone\n"), "/interim: 100, 103, 200 done", got)
answers = [get(F, "/retry/2/k1")[0] for _ in range(3)]
t.eq([(r.status, r.getheader("Retry-After")) for r in answers],
     [(503, "1"), (503, "1"), (200, None)], "/retry/2/KEY: 503, 503, then 200")
t.eq([get(F, "/429/k2")[0].status for _ in range(2)], [429, 200], "/429/KEY: 429 then 200")
c = http.client.HTTPConnection("127.0.0.1", F, timeout=5)
t.eq([get(F, p, conn=c)[0].status for p in ("/204", "/304", "/ok")], [204, 304, 200],
     "/204 and /304 have no body and keep the connection")
c.close()
got, how = raw(F, req("/chunked-bad"))
t.ok(b"Transfer-Encoding: chunked" in got and b"\r\nzz\r\n" in got, "/chunked-bad")
r, body, _ = get(F, "/chunked-trailer")
t.eq(body, b"hello world\n", "/chunked-trailer decodes to 'hello world\\n'")
r, body, _ = get(F, "/gzip")
t.eq((r.getheader("Content-Encoding"), gzip.decompress(body)), ("gzip", KNOWN_TEXT), "/gzip")
r, body, _ = get(F, "/gzip-bad")
try:
    gzip.decompress(body)
    t.ok(False, "/gzip-bad does not decode")
except (OSError, EOFError, zlib.error):
    t.ok(True, "/gzip-bad does not decode")
t.eq(zlib.decompress(get(F, "/deflate")[1]), KNOWN_TEXT, "/deflate is zlib-wrapped")
t.eq(zlib.decompress(get(F, "/deflate-raw")[1], -15), KNOWN_TEXT, "/deflate-raw is raw deflate")
r, body, _ = get(F, "/big/100000")
t.eq((len(body), body[:20]), (100000, b"0123456789abcdef0123"), "/big/100000")
r, body, took = get(F, "/slow/200/x")
t.ok(took >= 0.2 and body == b"ok\n", "/slow/200 answers after 200 ms (%.3f s)" % took)
t.eq(get(F, "/nope")[0].status, 404, "unknown path is 404")

# Timing paths: only their start, to keep the run short.
s = socket.create_connection(("127.0.0.1", F), timeout=2)
s.sendall(req("/drip", host="drip.test:1"))
t0 = time.monotonic()
got = b""
while not got.endswith(b"ab"):
    got += s.recv(100)
took = time.monotonic() - t0
t.ok(b"Content-Length: 20" in got and 0.35 <= took < 1.0,
     "/drip sends a byte every 200 ms (2 in %.3f s)" % took)
s.close()
got, how = raw(F, req("/stall"), timeout=0.3)
t.eq((got, how), (b"", "timeout"), "/stall never answers")
got, how = raw(F, req("/head-only-then-stall"), timeout=0.3)
t.ok(how == "timeout" and got.endswith(b"Content-Length: 100\r\n\r\n"),
     "/head-only-then-stall: head, then nothing")
got, how = raw(F, req("/slow-loris-head"), timeout=0.3)
t.eq((got, how), (b"HTTP/1.1 200 OK\r\n", "timeout"), "/slow-loris-head starts slowly")

# ---- faultd accounting ----
get(F, "/__reset", host="admin")
host = "h01.test:%d" % F
c1 = http.client.HTTPConnection("127.0.0.1", F, timeout=5)
c2 = http.client.HTTPConnection("127.0.0.1", F, timeout=5)
get(F, "/ok/1", host="h01.test", conn=c1)
get(F, "/ok/2", host="h01.test", conn=c2)
get(F, "/ok/3", host="h01.test", conn=c2)
st = stats(F)
t.eq(st["hosts"].get(host), {"open": 2, "max_open": 2, "total_conns": 2, "requests": 3},
     "__stats counts two concurrent connections for one Host", st)
t.eq(stats(F)["requests"], 3, "__stats requests are not counted")
c1.close()
c2.close()
deadline = time.monotonic() + 2
while stats(F)["hosts"][host]["open"] and time.monotonic() < deadline:
    time.sleep(0.01)
t.eq(stats(F)["hosts"][host]["open"], 0, "closed connections are no longer open")
# A client that goes away mid-stall is noticed at once.
s = socket.create_connection(("127.0.0.1", F), timeout=2)
s.sendall(req("/stall", host="stall.test:1"))
time.sleep(0.1)
open_before = stats(F)["hosts"]["stall.test:1"]["open"]
s.close()
time.sleep(0.1)
t.eq((open_before, stats(F)["hosts"]["stall.test:1"]["open"]), (1, 0),
     "a client leaving /stall is seen to close")
get(F, "/__reset", host="admin")
t.eq(stats(F)["hosts"], {}, "__reset zeroes the accounting")

# ---- stop ----
pids = [pid for _, pid, _ in world._read_pids(w.dir)]
d = w.dir
t0 = time.monotonic()
w.stop()
t.diag("stop took %.3f s" % (time.monotonic() - t0))
t.eq([p for p in pids if alive(p)], [], "stop() leaves no server running")
t.ok(not os.path.exists(d), "stop() removes the directory")
w.stop()
t.ok(True, "stop() twice is fine")

# ---- TLS ----
if shutil.which("openssl"):
    with World(pages=5, tls=True) as tw:
        ctx = ssl.create_default_context(cafile=tw.ca_file)

        def tls_get(addr, name, path):
            with ctx.wrap_socket(socket.create_connection((addr, tw.https_port), timeout=5),
                                 server_hostname=name) as s:
                s.sendall(req(path, host="%s:%d" % (name, tw.https_port)))
                got = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        return got
                    got += chunk
        got = tls_get("127.0.0.2", "h02.test", "/p/5.html")
        t.ok(got.startswith(b"HTTP/1.1 200") and len(got.partition(b"\r\n\r\n")[2]) == 2048,
             "HTTPS with the world's CA (h02.test)")
        try:
            tls_get("127.0.0.1", "nocert.test", "/p/5.html")
            t.ok(False, "nocert.test fails verification")
        except ssl.SSLCertVerificationError:
            t.ok(True, "nocert.test fails verification")
else:
    t.skip("HTTPS", "no openssl command")

# ---- the command line ----
cmd = [sys.executable, os.path.join(TESTS, "env", "world.py")]
t0 = time.monotonic()
out = subprocess.run(cmd + ["start", "--pages", "10", "--delay-ms", "50"],
                     capture_output=True, text=True, timeout=30)
t.diag("command-line start took %.3f s" % (time.monotonic() - t0))
env = dict(line.split("=", 1) for line in out.stdout.split())
t.ok(out.returncode == 0 and {"EVC_WORLD_DIR", "EVC_HTTP_PORT", "EVC_DNS_PORT",
                              "EVC_FAULT_PORT"} <= set(env),
     "world.py start prints the EVC_* assignments", out)
d = env.get("EVC_WORLD_DIR", "/nonexistent")
pids = [pid for _, pid, _ in world._read_pids(d)]
t.eq(get(int(env["EVC_HTTP_PORT"]), "/p/10.html")[0].status, 200,
     "the servers outlive the start command")
t.eq(resolve("h04.test", int(env["EVC_DNS_PORT"])).addrs, ["127.0.0.4"], "its dnsmasq answers")
out = subprocess.run(cmd + ["stop", d], capture_output=True, text=True, timeout=30)
time.sleep(0.05)
t.ok(out.returncode == 0 and not os.path.exists(d) and not [p for p in pids if alive(p)],
     "world.py stop DIR stops it all and removes DIR", out)
out = subprocess.run(cmd + ["stop", d], capture_output=True, text=True, timeout=30)
t.eq(out.returncode, 0, "world.py stop is idempotent")
os.makedirs("/tmp/evc-not-a-world", exist_ok=True)
out = subprocess.run(cmd + ["stop", "/tmp/evc-not-a-world"], capture_output=True, text=True)
t.ok(out.returncode != 0 and os.path.isdir("/tmp/evc-not-a-world"),
     "world.py stop refuses a directory that is not a world's")
os.rmdir("/tmp/evc-not-a-world")

t.done()
