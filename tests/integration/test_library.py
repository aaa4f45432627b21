#!/usr/bin/env python3
"""evcrawl as a library: install, pkg-config, the examples, the Python binding.

1. `make install PREFIX=/usr/local DESTDIR=<tmp>` installs exactly the
   expected files (command, static and shared library with soname links,
   headers, man page, evcrawl.pc, the Python package), and `make uninstall`
   removes them all.
2. The shared library exports only `evc_` symbols, and every EVC_API
   function of the headers.
3. examples/ builds against the staged install through pkg-config, and each
   program runs against the test world with exact checks: crawl_and_watch
   (records for argument and stdin URLs, heartbeat lines), dnslookup
   (answers, NXDOMAIN, input order, exit status), stats_server (live JSON
   counters while a slow crawl runs, interleaved clients, final counters).
4. The Python binding from the checkout (python/evcrawl through PYTHONPATH,
   ctypes over the installed libevcrawl.so): a 50-page crawl,
   timers/watchers on the crawl's loop, cancel, errors; and the scripts
   built on it, find-broken-links and check-sitemap (which import it through
   the scripts/evcrawl symlink, with no PYTHONPATH).

With a sanitizer build (EVC_BUILD=.../build/sanitize) the install, the
examples and the binding all use the ASan/UBSan library: the examples are
linked with -fsanitize=address,undefined, and Python loads the library with
libasan preloaded (LD_PRELOAD; leak detection off, CPython itself leaks at
exit). If the compiler cannot name its libasan, the Python part falls back to
the normal build (`make build` from here), and says so.

Run: EVC_BUILD=$PWD/build EVCRAWL=$PWD/build/evcrawl python3 tests/integration/test_library.py
"""

import gzip
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(TESTS)
sys.path[:0] = [os.path.join(TESTS, "env"), os.path.join(TESTS, "lib")]

from tap import Tap            # noqa: E402
from world import World        # noqa: E402
from stage import files_under  # noqa: E402

t = Tap()
BUILD = os.path.abspath(os.environ.get("EVC_BUILD") or os.path.join(ROOT, "build"))
SANITIZE = os.path.basename(BUILD) == "sanitize"
SANFLAGS = "-fsanitize=address,undefined -fno-omit-frame-pointer"
CC = os.environ.get("CC", "cc")
HEADERS = sorted(f for f in os.listdir(os.path.join(ROOT, "include", "evcrawl")) if f.endswith(".h"))
with open(os.path.join(ROOT, "include", "evcrawl", "version.h")) as f:
    VERSION = ".".join(re.findall(r"#define EVC_VERSION_(?:MAJOR|MINOR|PATCH) (\d+)", f.read()))
T0 = time.monotonic()


def run(cmd, timeout=120, **kw):
    """Run cmd to the end, text output captured."""
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def make_env(**extra):
    """The environment for a make of our own: without the MAKEFLAGS of a
    `make test` above us (they would carry its SANITIZE=... along)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env.update(extra)
    return env


def readelf_dynamic(path, tag):
    """The values of one dynamic-section tag (NEEDED, SONAME) of an ELF file."""
    r = run(["readelf", "-d", path])
    return re.findall(r"\(%s\)\s+\S.*?\[(.*?)\]" % tag, r.stdout)


def http_get_raw(port, request=b"GET / HTTP/1.0\r\n\r\n", sock=None):
    """Send request to 127.0.0.1:port (or on sock), read to EOF; returns
    (status line, headers dict, body)."""
    s = sock or socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return lines[0], headers, body


def readline_within(f, seconds):
    """One line from a pipe, or "" if none comes within seconds."""
    r, _, _ = select.select([f], [], [], seconds)
    return f.readline() if r else ""


def write_sitemap(path, urls, gz=False):
    """A <urlset> sitemap listing urls, gzipped if gz."""
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n'
           '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n%s</urlset>\n'
           % "".join("  <url><loc>%s</loc><changefreq>daily</changefreq></url>\n" % u
                     for u in urls)).encode()
    with open(path, "wb") as f:
        f.write(gzip.compress(xml) if gz else xml)


# Runs in a child Python (so a sanitizer build can be loaded with libasan
# preloaded) and prints what it saw, one JSON object per line as it goes.
BINDING_CHILD = r"""
import json, os, sys, time
cfg = json.loads(sys.argv[1])
import evcrawl

class Out(dict):
    def __setitem__(self, key, value):
        print(json.dumps({key: value}), flush=True)

P, DNS = cfg["port"], cfg["dns"]
def url(n, path):
    return "http://h%02d.test:%d%s" % (n, P, path)
out = Out()
out["version"] = evcrawl.version()

# 50 pages from a generator, across the 20 hosts.
gen = (url((n % 20) + 1, "/p/%d.html" % n) for n in range(1, 51))
out["pages"] = list(evcrawl.crawl(gen, dns_server=DNS))

# One loop: a repeating and a one-shot timer, a pipe watcher that adds a URL
# from its callback, and a crawl of three slow URLs.
loop = evcrawl.Loop()
ticks, once = [], []
loop.call_every(0.05, lambda: ticks.append(time.monotonic()))
loop.call_later(0.2, lambda: once.append(time.monotonic()))
crawler = evcrawl.Crawler(loop, dns_server=DNS)
rfd, wfd = os.pipe()
def on_pipe(fd, events):
    data = os.read(fd, 1000).decode()
    loop.unwatch(fd)
    crawler.add(data)
    crawler.close_input()
loop.watch(rfd, on_pipe)
watched = url(7, "/p/7.html")
loop.call_later(0.1, os.write, wfd, watched.encode())
for n in (1, 2, 3):
    crawler.add(url(n, "/sleep/0.6"))
t0 = time.monotonic()
recs = [(time.monotonic(), r) for r in crawler]
end = recs[-1][0]
st = crawler.stats()
w_at = [at for at, r in recs if r["url"] == watched]
slow_at = [at for at, r in recs if r["url"] != watched]
out["loop"] = {
    "ticks_during": len([x for x in ticks if t0 <= x <= end]),
    "crawl_secs": end - t0,
    "once": len(once), "once_before_end": bool(once) and once[0] < end,
    "records": len(recs),
    "watched_url_status": ([r["status"] for at, r in recs if r["url"] == watched] or [None])[0],
    "watched_before_slow": bool(w_at) and w_at[0] < min(slow_at),
    "stats": {k: st[k] for k in ("added", "done", "ok", "bytes", "in_flight", "queued",
                                 "errors")},
}
crawler.close()
os.close(rfd); os.close(wfd)

# cancel(): five slow URLs, cancelled after 0.1 s.
c = evcrawl.Crawler(loop, dns_server=DNS)
for n in range(1, 6):
    c.add(url(n, "/sleep/2"))
c.close_input()
loop.call_later(0.1, c.cancel)
t0 = time.monotonic()
kinds = [(r["error"] or {}).get("kind") for r in c]
out["cancel"] = {"kinds": kinds, "fast": time.monotonic() - t0 < 1.0,
                 "stats_errors": c.stats()["errors"]}
c.close()

def error_of(fn):
    try:
        fn()
        return None
    except Exception as e:
        return [type(e).__name__, getattr(e, "code", None), str(e)]
handles = len(evcrawl._handles)
out["bad_option"] = error_of(lambda: evcrawl.Crawler(loop, bogus="1"))
for _ in range(3):
    error_of(lambda: evcrawl.Crawler(bogus="1"))
out["handles_after_bad"] = len(evcrawl._handles) - handles
out["bad_value"] = error_of(lambda: evcrawl.Crawler(loop, retries="-1"))
out["one_url"] = [r["url"] for r in evcrawl.crawl("http://127.0.0.1:1/one", retries=0)]
out["comments"] = [r["url"] for r in evcrawl.crawl(["# a comment", "  ", "\n",
                                                    "http://127.0.0.1:1/x\n"], retries=0)]
out["bad_dns"] = error_of(lambda: evcrawl.Crawler(loop, dns_server="not-an-address"))
def boom():
    raise ValueError("boom")
loop.call_later(0.01, boom)
loop.call_every(0.01, lambda: None)   # would keep run() going forever
try:
    loop.run()
    out["callback_error"] = None
except ValueError as e:
    out["callback_error"] = ["ValueError", str(e)]
loop.close()

# on_body: the final bodies stream in, keyed by URL; a redirect's own body
# does not; returning True stops a fetch.
bodies = {}
def on_body(u, data):
    bodies[u] = bodies.get(u, b"") + data
    return u.endswith("/big/1m.bin")
c = evcrawl.Crawler(on_body=on_body, dns_server=DNS)  # a private loop
for u in (url(1, "/p/3.html"), url(2, "/r/302"), url(3, "/big/1m.bin")):
    c.add(u)
c.close_input()
recs = {r["url"]: r for r in c}
c.close()
out["body"] = {"sizes": {u[-12:]: len(b) for u, b in bodies.items()},
               "p3_head": bodies.get(url(1, "/p/3.html"), b"")[:15].decode("latin-1"),
               "big": [recs[url(3, "/big/1m.bin")]["error"]["kind"],
                       recs[url(3, "/big/1m.bin")]["error"]["message"]],
               "left": len(c._url_of)}

# Leaving crawl() early: the generator's cleanup frees its crawler and loop
# (each drops its entry in the binding's callback table).
handles = len(evcrawl._handles)
n = 0
g = evcrawl.crawl((url(1, "/p/%d.html" % k) for k in range(1, 61)), dns_server=DNS)
for r in g:
    n += 1
    break
during = len(evcrawl._handles)
g.close()
out["early_break"] = [n, during - handles, len(evcrawl._handles) - handles]
"""


def url_tail(port, path):
    """The last 12 characters of a binding-test URL, as the child reports sizes."""
    return ("http://hNN.test:%d%s" % (port, path))[-12:]


work = tempfile.mkdtemp(prefix="evc-lib-test.")
stage = os.path.join(work, "stage")
bindir = os.path.join(work, "bin")
LIBDIR = os.path.join(stage, "usr", "local", "lib")
w = None
try:
    # ---------------------------------------------------------------- install
    # The package goes where this Python looks (test_python_package checks
    # the directories scripts/python-site-dir picks).
    make_vars = (["SANITIZE=1"] if SANITIZE else []) + ["PYTHON=" + sys.executable]
    pydir = run([sys.executable, "-I", os.path.join(ROOT, "scripts", "python-site-dir"),
                 "/usr/local"]).stdout.strip()
    t1 = time.monotonic()
    r = run(["make", "-s", "install", "PREFIX=/usr/local", "DESTDIR=" + stage] + make_vars,
            cwd=ROOT, env=make_env(), timeout=600)
    t.diag("make install took %.2f s" % (time.monotonic() - t1))
    t.eq(r.returncode, 0, "make install PREFIX=/usr/local DESTDIR=<tmp>", r.stderr[-3000:])
    so_full = "libevcrawl.so." + VERSION
    want = ["usr/local/bin/evcrawl", "usr/local/lib/libevcrawl.a", "usr/local/lib/libevcrawl.so",
            "usr/local/lib/libevcrawl.so.0", "usr/local/lib/" + so_full,
            "usr/local/lib/pkgconfig/evcrawl.pc", "usr/local/share/man/man1/evcrawl.1"]
    want += ["usr/local/include/evcrawl/" + h for h in HEADERS]
    want += [os.path.join(pydir, "evcrawl", f).lstrip("/")
             for f in ("__init__.py", "_config.py", "py.typed")]
    t.eq(files_under(stage), sorted(want), "install puts exactly the expected files")
    t.eq((os.readlink(os.path.join(LIBDIR, "libevcrawl.so")),
          os.readlink(os.path.join(LIBDIR, "libevcrawl.so.0")),
          os.path.islink(os.path.join(LIBDIR, so_full))),
         ("libevcrawl.so.0", so_full, False),
         "libevcrawl.so -> libevcrawl.so.0 -> %s (a file)" % so_full)
    t.eq(readelf_dynamic(os.path.join(LIBDIR, so_full), "SONAME"), ["libevcrawl.so.0"],
         "the shared library's soname is libevcrawl.so.0")
    with open(os.path.join(LIBDIR, so_full), "rb") as a, \
            open(os.path.join(BUILD, "libevcrawl.so"), "rb") as b:
        t.ok(a.read() == b.read(), "the installed library is %s/libevcrawl.so" % BUILD)
    r = run([os.path.join(stage, "usr/local/bin/evcrawl"), "--version"],
            env=dict(os.environ, LD_LIBRARY_PATH=LIBDIR))
    t.eq((r.returncode, r.stdout.strip()), (0, "evcrawl " + VERSION),
         "the installed evcrawl runs", r.stderr)
    with open(os.path.join(LIBDIR, "pkgconfig", "evcrawl.pc")) as f:
        pc = f.read()
    t.ok("prefix=/usr/local\n" in pc and "Libs: -L${libdir} -levcrawl" in pc,
         "evcrawl.pc names the real prefix (not the DESTDIR)", pc)
    pc_env = make_env(PKG_CONFIG_SYSROOT_DIR=stage,
                      PKG_CONFIG_PATH=os.path.join(LIBDIR, "pkgconfig"))
    r = run(["pkg-config", "--modversion", "evcrawl"], env=pc_env)
    t.eq(r.stdout.strip(), VERSION, "pkg-config --modversion evcrawl", r.stderr)
    r = run(["pkg-config", "--cflags", "--libs", "evcrawl"], env=pc_env)
    flags = r.stdout.split()
    t.ok(r.returncode == 0 and "-I%s/usr/local/include" % stage in flags
         and flags[-2:] == ["-L" + LIBDIR, "-levcrawl"],
         "pkg-config --cflags --libs evcrawl points into the staged install", r)

    # ---------------------------------------------------------- exported symbols
    r = run(["nm", "-D", "--defined-only", os.path.join(LIBDIR, so_full)])
    exported = [line.split()[-1] for line in r.stdout.splitlines() if line.strip()]
    t.ok(r.returncode == 0 and len(exported) > 20, "nm -D lists the library's symbols",
         r.stderr)
    t.eq([s for s in exported if not s.startswith("evc_")], [],
         "the shared library exports only evc_ symbols")
    declared = set()
    for h in HEADERS:
        with open(os.path.join(ROOT, "include", "evcrawl", h)) as f:
            declared |= set(re.findall(r"EVC_API\b[^;{]*?\b(evc_\w+)\s*\(", f.read()))
    t.eq(sorted(declared - set(exported)), [], "every EVC_API function is exported (%d)"
         % len(declared))

    # ----------------------------------------------------------- the examples
    cflags = "-O1 -g -Werror" + (" " + SANFLAGS if SANITIZE else "")
    t1 = time.monotonic()
    r = run(["make", "-s", "-C", os.path.join(ROOT, "examples"), "OUT=" + bindir],
            env=dict(pc_env, CC=CC, CFLAGS=cflags, LDFLAGS=SANFLAGS if SANITIZE else ""))
    t.diag("building the examples took %.2f s" % (time.monotonic() - t1))
    progs = ["crawl_and_watch", "dnslookup", "stats_server"]
    t.ok(r.returncode == 0 and all(os.access(os.path.join(bindir, p), os.X_OK) for p in progs),
         "examples build against the install with pkg-config (-Werror)", r.stdout + r.stderr)
    t.eq([("libevcrawl.so.0" in readelf_dynamic(os.path.join(bindir, p), "NEEDED"))
          for p in progs], [True] * 3, "each example links the shared libevcrawl.so.0")
    ex_env = dict(os.environ, LD_LIBRARY_PATH=LIBDIR)

    def example(name):
        return os.path.join(bindir, name)

    w = World(pages=60, delay_ms=100)
    w.start()
    P, DNS = w.http_port, "127.0.0.1:%d" % w.dns_port

    # dnslookup: names from argv, at once; answers in input order.
    r = run([example("dnslookup"), "--server", DNS, "h01.test", "multi.test", "nx.test"],
            env=ex_env, timeout=30)
    lines = r.stdout.splitlines()
    multi = lines[1].split() if len(lines) == 3 else []
    t.eq((r.returncode, len(lines), lines[:1], multi[:1], sorted(multi[1:]), lines[2:]),
         (1, 3, ["h01.test 127.0.0.1"], ["multi.test"], ["127.0.0.2", "127.0.0.3"],
          ["nx.test error: Domain name not found"]),
         "dnslookup: h01.test, multi.test (two addresses), nx.test (error), exit 1", r)
    names = ["h%02d.test" % n for n in range(20, 0, -1)]
    r = run([example("dnslookup"), "--server", DNS], input="\n".join(names) + "\n",
            env=ex_env, timeout=30)
    t.eq((r.returncode, r.stdout),
         (0, "".join("%s 127.0.0.%d\n" % (n, (int(n[1:3]) - 1) % 4 + 1) for n in names)),
         "dnslookup: 20 names from stdin, answers in input order, exit 0", r.stderr)
    r = run([example("dnslookup"), "--bogus"], env=ex_env)
    t.ok(r.returncode == 2 and "usage" in r.stderr, "dnslookup: a bad option is exit 2", r)

    # crawl_and_watch: arguments, then stdin lines while the crawl runs.
    argv_urls = [w.url("h01.test", "/p/1.html"), w.url("h02.test", "/p/2.html"),
                 w.url("h03.test", "/sleep/1")]
    stdin_urls = [w.url("h04.test", "/p/3.html"), w.url("h05.test", "/delay/a")]
    last_url = w.url("h06.test", "/p/4.html")  # sent without a final newline
    t1 = time.monotonic()
    p = subprocess.Popen([example("crawl_and_watch"), "--dns-server", DNS] + argv_urls,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=ex_env)
    time.sleep(0.3)
    p.stdin.write(("\n".join(stdin_urls) + "\n\n").encode())
    p.stdin.flush()
    time.sleep(0.2)
    p.stdin.write(last_url.encode())
    out, err = p.communicate(timeout=20)
    took = time.monotonic() - t1
    recs = [json.loads(line) for line in out.decode().splitlines()]
    got = {r_["url"]: (r_["status"], r_["bytes"], r_["error"]) for r_ in recs}
    want = {u: (200, 2048, None) for u in argv_urls[:2] + stdin_urls[:1] + [last_url]}
    want[argv_urls[2]] = (200, 6, None)
    want[stdin_urls[1]] = (200, 8, None)
    t.eq((p.returncode, len(recs), got), (0, 6, want),
         "crawl_and_watch: one record per argument and stdin URL (%.2f s)" % took,
         err.decode()[-2000:])
    order = [r_["url"] for r_ in recs]
    t.ok(len(recs) == 6 and order[-1] == argv_urls[2],
         "crawl_and_watch: URLs read from stdin joined the running crawl (done before /sleep/1)",
         order)
    beats = err.decode().splitlines()
    pattern = re.compile(r"^heartbeat: (\d+) done, (\d+) in flight, (\d+) queued$")
    parsed = [pattern.match(b) for b in beats]
    t.ok(len(beats) >= 6 and all(parsed), "crawl_and_watch: a heartbeat line every 100 ms "
         "(%d lines in %.2f s)" % (len(beats), took), beats[:20])
    t.ok(any(m and int(m.group(2)) > 0 for m in parsed) and beats[-1:] ==
         ["heartbeat: 6 done, 0 in flight, 0 queued"],
         "crawl_and_watch: heartbeats show fetches in flight, the last one the end", beats[-5:])

    # stats_server: a slow crawl, served counters while it runs and after.
    n_urls = 12
    urlfile = os.path.join(work, "slow.txt")
    with open(urlfile, "w") as f:
        f.write("".join(w.url(h, "/sleep/1") + "\n" for h in w.hosts[:n_urls]))
    t1 = time.monotonic()
    p = subprocess.Popen([example("stats_server"), "--dns-server", DNS, "--linger", "1",
                          "0", urlfile], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=ex_env)
    line = readline_within(p.stderr, 5).decode()
    m = re.match(r"^listening on (\d+)\n$", line)
    t.ok(m, "stats_server: prints 'listening on PORT'", line)
    sport = int(m.group(1)) if m else 0
    time.sleep(0.2)
    status, headers, body = http_get_raw(sport)
    live = json.loads(body) if body else {}
    t.ok(status == "HTTP/1.0 200 OK" and headers.get("Content-Type") == "application/json"
         and headers.get("Content-Length") == str(len(body)),
         "stats_server: an HTTP/1.0 JSON answer", (status, headers, body))
    t.ok((live.get("added"), live.get("done"), live.get("in_flight", 0) + live.get("queued", 0),
          live.get("finished")) == (n_urls, 0, n_urls, False) and live.get("in_flight", 0) > 0,
         "stats_server: counters while the crawl runs (in_flight %s)" % live.get("in_flight"),
         live)
    # Two clients at once: the first sends half a request and waits; the
    # second is answered meanwhile; then the first finishes its request.
    c1 = socket.create_connection(("127.0.0.1", sport), timeout=5)
    c1.sendall(b"GET /a HTTP/1.0\r\n")
    time.sleep(0.05)
    s2 = http_get_raw(sport, b"GET /b HTTP/1.0\r\nHost: x\r\n\r\n")
    s1 = http_get_raw(sport, b"\r\n", sock=c1)
    t.eq((s2[0], json.loads(s2[2] or b"{}").get("added"), s1[0],
          json.loads(s1[2] or b"{}").get("added")),
         ("HTTP/1.0 200 OK", n_urls, "HTTP/1.0 200 OK", n_urls),
         "stats_server: a second client is answered while the first is mid-request")
    final = {}
    while time.monotonic() - t1 < 8:
        final = json.loads(http_get_raw(sport)[2])
        if final.get("done") == n_urls:
            break
        time.sleep(0.1)
    t.eq(final, {"added": n_urls, "done": n_urls, "ok": n_urls, "in_flight": 0, "queued": 0,
                 "waiting": 0, "bytes": 6 * n_urls, "finished": True},
         "stats_server: after the crawl, done == %d (%.2f s)" % (n_urls, time.monotonic() - t1))
    try:
        out, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    recs = [json.loads(line) for line in out.decode().splitlines()]
    t.eq((p.returncode, sorted((r_["url"], r_["status"], r_["bytes"]) for r_ in recs)),
         (0, sorted((w.url(h, "/sleep/1"), 200, 6) for h in w.hosts[:n_urls])),
         "stats_server: exits 0 after --linger, one record per URL", err.decode()[-2000:])
    t.eq(err.decode().splitlines()[-1:], ["crawl done: %d URLs, %d ok" % (n_urls, n_urls)],
         "stats_server: says the crawl is done")
    try:
        socket.create_connection(("127.0.0.1", sport), timeout=2).close()
        refused = False
    except ConnectionRefusedError:
        refused = True
    t.ok(refused, "stats_server: no longer listening once it has exited")

    # ------------------------------------------------------ the Python binding
    py_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    py_env["EVCRAWL_LIB"] = os.path.join(LIBDIR, "libevcrawl.so.0")
    if SANITIZE:
        asan = run([CC, "-print-file-name=libasan.so"]).stdout.strip()
        if os.path.isabs(asan) and os.path.exists(asan):
            py_env.update(LD_PRELOAD=os.path.realpath(asan), ASAN_OPTIONS="detect_leaks=0")
        else:
            # No libasan to preload: Python gets the normal build's library.
            r = run(["make", "-s", "build", "SANITIZE=0"], cwd=ROOT, env=make_env(), timeout=600)
            t.eq(r.returncode, 0, "make build (a normal library for Python)", r.stderr[-2000:])
            py_env["EVCRAWL_LIB"] = os.path.join(ROOT, "build", "libevcrawl.so")
            t.diag("no libasan to preload: the Python part uses build/libevcrawl.so")
    t1 = time.monotonic()
    cfg = {"dns": DNS, "port": P}
    r = run([sys.executable, "-c", BINDING_CHILD, json.dumps(cfg)],
            env=dict(py_env, PYTHONPATH=os.path.join(ROOT, "python")), timeout=60)
    t.diag("the binding's run took %.2f s" % (time.monotonic() - t1))
    res = {}
    for line in r.stdout.splitlines():
        try:
            res.update(json.loads(line))
        except ValueError:
            pass
    t.ok(r.returncode == 0 and "early_break" in res, "the binding's script ran to its end",
         r.stderr[-3000:])
    t.eq(res.get("version"), VERSION, "evcrawl.version()")
    pages = res.get("pages", [])
    page_urls = [w.url(w.hosts[n % 20], "/p/%d.html" % n) for n in range(1, 51)]
    t.eq((len(pages), sorted(r_["url"] for r_ in pages)), (50, sorted(page_urls)),
         "crawl(): one dict per URL of a 50-page generator")
    t.eq([(r_["url"], r_["status"], r_["bytes"], r_["error"]) for r_ in pages
          if (r_["status"], r_["bytes"], r_["error"], r_["final_url"]) != (200, 2048, None, r_["url"])],
         [], "crawl(): every page is status 200, 2048 bytes, no error")
    lp = res.get("loop", {})
    t.ok(lp.get("ticks_during", 0) >= 5, "Loop.call_every fires during a crawl on the loop "
         "(%s ticks in %.2f s)" % (lp.get("ticks_during"), lp.get("crawl_secs", 0)), lp)
    t.eq((lp.get("once"), lp.get("once_before_end")), (1, True),
         "Loop.call_later fires once, during the crawl", lp)
    t.eq((lp.get("records"), lp.get("watched_url_status"), lp.get("watched_before_slow")),
         (4, 200, True), "Loop.watch: a URL read from a pipe is added from the callback "
         "and crawled while the slow ones run", lp)
    t.eq(lp.get("stats"), {"added": 4, "done": 4, "ok": 4, "bytes": 3 * 6 + 2048,
                           "in_flight": 0, "queued": 0, "errors": {}},
         "Crawler.stats() after the crawl", lp)
    t.eq(res.get("cancel"), {"kinds": ["cancelled"] * 5, "fast": True, "stats_errors":
                             {"cancelled": 5}}, "Crawler.cancel(): every URL ends 'cancelled'")
    body = res.get("body", {})
    t.eq(body.get("sizes", {}).get(url_tail(P, "/p/3.html")),
         2048, "on_body: a page's body streams in whole (2048 bytes)", body)
    t.ok(url_tail(P, "/r/302") in body.get("sizes", {})
         and body["sizes"][url_tail(P, "/r/302")] == 2048,
         "on_body: a redirect streams its target's body, not its own", body)
    t.eq(body.get("big"), ["io", "the body callback stopped the fetch"],
         "on_body returning True stops that fetch (io)", body)
    t.eq(body.get("left"), 0, "on_body: the URL table is empty after the crawl", body)
    t.ok(res.get("bad_option", [None])[0] == "TypeError" and
         "unknown option 'bogus'" in res.get("bad_option")[2],
         "a misspelt option raises TypeError naming it", res.get("bad_option"))
    t.eq(res.get("handles_after_bad"), 0, "... and leaves nothing behind (no callback handle)")
    t.eq(res.get("bad_value"), ["EvcrawlError", -22, "option retries='-1': Invalid argument"],
         "a bad value raises EvcrawlError with evc_strerror's message")
    t.eq((res.get("one_url"), res.get("comments")),
         (["http://127.0.0.1:1/one"], ["http://127.0.0.1:1/x"]),
         "crawl('URL'): one URL, not one per character; blank and # lines skipped")
    t.eq(res.get("bad_dns")[:2] if res.get("bad_dns") else None, ["EvcrawlError", -22],
         "a bad dns_server raises EvcrawlError(-EINVAL)", res.get("bad_dns"))
    t.eq(res.get("callback_error"), ["ValueError", "boom"],
         "an exception in a timer callback comes out of Loop.run()")
    t.eq(res.get("early_break"), [1, 2, 0],
         "leaving crawl() early frees its crawler and loop")

    # --------------------------------------------- scripts that use the binding
    fbl = os.path.join(ROOT, "scripts", "find-broken-links")
    csm = os.path.join(ROOT, "scripts", "check-sitemap")
    nx = "http://nx.test:%d/p/1.html" % P
    good = [w.url("h01.test", "/p/1.html"), w.url("h02.test", "/r/302")]
    bad = {w.url("h03.test", "/status/404"): "404", w.url("h04.test", "/status/500"): "500",
           w.url("h05.test", "/p/999.html"): "404", nx: "dns", "not a url": "bad_url"}
    listing = "# a comment\n\n" + "\n".join(good + list(bad)) + "\n"
    r = run([fbl, "--dns-server", DNS], input=listing, env=py_env, timeout=60)
    got = {}
    for line in r.stdout.splitlines():
        url, _, why = line.partition("\t")
        got[url] = why if why.isdigit() else why.partition(":")[0]
    t.eq((r.returncode, got, r.stderr), (1, bad, "7 URLs checked, 5 broken\n"),
         "find-broken-links: the broken URLs of a list on stdin, exit 1", r.stdout)
    t.ok(all(line.startswith(nx + "\tdns: ") and line.endswith("Domain name not found")
             for line in r.stdout.splitlines() if line.startswith(nx)),
         "find-broken-links: a DNS failure says why", r.stdout)
    okfile = os.path.join(work, "ok.txt")
    with open(okfile, "w") as f:
        f.write("\n".join(good) + "\n")
    r = run([fbl, "--dns-server", DNS, okfile, okfile], env=py_env, timeout=60)
    t.eq((r.returncode, r.stdout, r.stderr), (0, "", "4 URLs checked, 0 broken\n"),
         "find-broken-links: nothing broken in two files, exit 0")

    sm = w.url("h01.test", "/sitemap.xml")
    entries = [w.url("h01.test", "/p/1.html"), w.url("h03.test", "/status/404"),
               w.url("h02.test", "/p/2.html"), w.url("h04.test", "/status/500"),
               w.url("h02.test", "/r/302"), w.url("h01.test", "/p/1.html")]
    write_sitemap(os.path.join(w.root, "sitemap.xml"), entries)
    r = run([csm, "--dns-server", DNS, sm], env=py_env, timeout=60)
    t.eq((r.returncode, r.stdout), (1, "5 URLs: 3 ok, 2 broken\n%s\t404\n%s\t500\n"
                                    % (entries[1], entries[3])),
         "check-sitemap: summary, then the failures in sitemap order, exit 1", r.stderr)
    write_sitemap(os.path.join(w.root, "sm-a.xml"), entries[:1] + entries[2:3])
    write_sitemap(os.path.join(w.root, "sm-b.xml.gz"), [w.url("h06.test", "/p/9.html")], gz=True)
    with open(os.path.join(w.root, "sm-index.xml"), "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns='
                '"http://www.sitemaps.org/schemas/sitemap/0.9">\n'
                '<sitemap><loc>%s</loc></sitemap>\n<sitemap><loc>%s</loc></sitemap>\n'
                '</sitemapindex>\n' % (w.url("h01.test", "/sm-a.xml"),
                                       w.url("h02.test", "/sm-b.xml.gz")))
    r = run([csm, "--dns-server", DNS, w.url("h01.test", "/sm-index.xml")], env=py_env,
            timeout=60)
    t.eq((r.returncode, r.stdout), (0, "3 URLs: 3 ok, 0 broken\n"),
         "check-sitemap: a sitemap index with a gzipped sitemap, all fine, exit 0", r.stderr)
    r = run([csm, "--dns-server", DNS, w.url("h01.test", "/p/1.html")], env=py_env, timeout=60)
    t.ok(r.returncode == 2 and r.stdout == "" and "is not XML" in r.stderr,
         "check-sitemap: an HTML page is not a sitemap, exit 2", r)
    r = run([csm, "--dns-server", DNS, w.url("h01.test", "/nope.xml")], env=py_env, timeout=60)
    t.eq((r.returncode, r.stderr), (2, "check-sitemap: cannot fetch %s: 404\n"
                                    % w.url("h01.test", "/nope.xml")),
         "check-sitemap: a missing sitemap, exit 2")

    # -------------------------------------------------------------- uninstall
    r = run(["make", "-s", "uninstall", "PREFIX=/usr/local", "DESTDIR=" + stage] + make_vars,
            cwd=ROOT, env=make_env())
    t.eq((r.returncode, files_under(stage),
          os.path.exists(os.path.join(stage, "usr/local/include/evcrawl"))), (0, [], False),
         "make uninstall removes every installed file", r.stderr)
finally:
    if w:
        w.stop()
    shutil.rmtree(work, ignore_errors=True)

t.diag("took %.1f s" % (time.monotonic() - T0))
t.done()
