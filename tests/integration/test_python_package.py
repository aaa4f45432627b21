#!/usr/bin/env python3
"""The Python package (python/evcrawl): installed, typed, interruptible.

1. Staged install: `make install PREFIX=/usr/local DESTDIR=<tmp>` puts the
   package (__init__.py, py.typed, and _config.py recording LIBDIR) where
   this Python imports PREFIX's packages from; a fresh interpreter (-s, a
   clean environment, PYTHONPATH naming only the staged directory, run from
   an empty directory) imports it from the stage and crawls with the staged
   library. Without $EVCRAWL_LIB, the package goes to the recorded LIBDIR
   (/usr/local/lib, absent from the stage) and says so.
2. A real prefix, a virtual environment's: after `make install PREFIX=<venv>`
   the venv's Python imports the package with no environment at all and
   loads the library from the recorded LIBDIR, which is on no loader path;
   `make uninstall` leaves the venv as it was (Python's __pycache__ too).
3. Where the package goes, per interpreter (this one, and Debian's
   /usr/bin/python3 when that is another): for /usr/local, /usr and the
   interpreter's own prefix, the directory under PREFIX/lib that the
   interpreter searches (Debian: .../dist-packages), else the standard
   PREFIX/lib/pythonX.Y/site-packages.
4. Types: the public API's annotations resolve (typing.get_type_hints); with
   mypy (Debian's python3-mypy), a program using the staged package checks
   clean and one misusing it is rejected, through py.typed (without it, mypy
   says so); the package itself checks clean.
5. Ctrl-C during a crawl (a stalled URL on faultd): the child ends within
   a second or two by SIGINT with a KeyboardInterrupt traceback and no
   ctypes text, its crawler and loop freed; for crawl(), for Loop.run(),
   and with a timer firing every millisecond (the signal then tends to come
   during a callback).
6. Iterating needs no close_input(): crawl() of an iterator, Crawler.feed(),
   add() then iterate, adding from the loop's body, Crawler.run(); while a
   timer that may still add is pending, the crawler waits for it.
7. From the checkout, no sys.path edits: PYTHONPATH=python finds the package
   and build/libevcrawl.so; scripts/find-broken-links imports it through
   the scripts/evcrawl symlink with no environment.

With a sanitizer build (EVC_BUILD=.../build/sanitize) the children load the
ASan library with libasan preloaded (leak detection off: CPython leaks at
exit).

Run: EVC_BUILD=$PWD/build python3 tests/integration/test_python_package.py
"""

import json
import os
import re
import shutil
import select
import signal
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
SITE_DIR = os.path.join(ROOT, "scripts", "python-site-dir")
PKG_FILES = ["__init__.py", "_config.py", "py.typed"]
CTYPES_TEXT = ("ctypes", "callbacks.c", "Exception ignored")
with open(os.path.join(ROOT, "include", "evcrawl", "version.h")) as f:
    VERSION = ".".join(re.findall(r"#define EVC_VERSION_(?:MAJOR|MINOR|PATCH) (\d+)", f.read()))
T0 = time.monotonic()


def run(cmd, timeout=120, **kw):
    """Run cmd to the end, text output captured."""
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def make(*args, timeout=600):
    """make in the checkout, without the MAKEFLAGS of a `make test` above us."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    extra = ["SANITIZE=1"] if SANITIZE else []
    return run(["make", "-s"] + list(args) + extra, cwd=ROOT, env=env, timeout=timeout)


def clean_env(**extra):
    """A minimal environment: PATH, and libasan for a sanitizer build."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}
    if SANITIZE:
        asan = run([os.environ.get("CC", "cc"), "-print-file-name=libasan.so"]).stdout.strip()
        env.update(LD_PRELOAD=os.path.realpath(asan), ASAN_OPTIONS="detect_leaks=0")
    env.update(extra)
    return env


def json_lines(text):
    """The JSON objects of a child's stdout, merged."""
    out = {}
    for line in text.splitlines():
        try:
            out.update(json.loads(line))
        except ValueError:
            pass
    return out


def py_info(python, code):
    """What `python -I -c code` prints, as JSON."""
    r = run([python, "-I", "-c", code])
    return json.loads(r.stdout) if r.returncode == 0 else None


# What the fresh interpreters run: where evcrawl came from, which library
# the process mapped, one crawl, and the annotations of the public API.
IMPORT_CHILD = r"""
import json, sys, typing
import evcrawl
maps = sorted({line.split()[-1] for line in open("/proc/self/maps") if "libevcrawl" in line})
rec = list(evcrawl.crawl(sys.argv[1], dns_server=sys.argv[2]))
hints = lambda f: {k: repr(v).replace("typing.", "") for k, v in typing.get_type_hints(f).items()}
print(json.dumps({
    "file": evcrawl.__file__, "library": evcrawl._LIBRARY, "maps": maps,
    "version": evcrawl.version(),
    "records": [[r["url"], r["final_url"], r["status"], r["bytes"], r["error"]] for r in rec],
    "path_has_checkout": [p for p in sys.path if p.startswith(sys.argv[3])],
    "hints": {"crawl": hints(evcrawl.crawl), "failure": hints(evcrawl.failure),
              "Crawler.__iter__": hints(evcrawl.Crawler.__iter__),
              "Crawler.stats": hints(evcrawl.Crawler.stats),
              "Loop.call_later": hints(evcrawl.Loop.call_later),
              "Record": sorted(typing.get_type_hints(evcrawl.Record))},
}))
"""

# Ctrl-C: a crawl with a stalled URL; "ready" once the fast URL's record is
# in (the loop runs, the stall is pending); what the crawl left behind is
# printed on the way out (finally), before the traceback.
SIGINT_CHILD = r"""
import json, sys, time
import evcrawl
how, fast, stall, dns = sys.argv[1:5]
loop = evcrawl.Loop()
if how == "busy":
    ticks = [0]
    def tick():
        ticks[0] += 1
    loop.call_every(0.001, tick)
def ready(rec):
    print(json.dumps({"ready": [rec["url"], rec["status"]]}), flush=True)
try:
    if how == "loop.run":
        c = evcrawl.Crawler(loop, on_result=ready, dns_server=dns, timeout=60, retries=0)
        c.add(fast)
        c.add(stall)
        c.close_input()
        loop.run()
    else:
        for rec in evcrawl.crawl([fast, stall], loop=loop, dns_server=dns, timeout=60,
                                 retries=0):
            ready(rec)
    print(json.dumps({"ended": True}), flush=True)
finally:
    loop.close()
    print(json.dumps({"handles_left": len(evcrawl._handles),
                      "at": time.monotonic()}), flush=True)
"""

# Input that ends without close_input().
INPUT_CHILD = r"""
import json, sys, time
import evcrawl
dns, urls = sys.argv[1], sys.argv[2:]
def status(recs):
    return sorted([r["url"], r["status"]] for r in recs)
def out(key, value):
    print(json.dumps({key: value}), flush=True)

out("crawl_iter", status(evcrawl.crawl(iter(urls[:3]), dns_server=dns)))

c = evcrawl.Crawler(dns_server=dns)
c.feed(iter(urls[:2]))
out("feed", status(c))
c.close()

c = evcrawl.Crawler(dns_server=dns)
for u in urls[:2]:
    c.add(u)
out("add_then_iterate", [status(c), c.finished])
c.close()

c = evcrawl.Crawler(dns_server=dns)
c.add(urls[0])
got = []
for rec in c:
    got.append(rec)
    if len(got) == 1:
        c.add(urls[1])          # the loop's body adds one more
out("add_from_body", status(got))
c.close()

seen = []
c = evcrawl.Crawler(dns_server=dns, on_result=seen.append)
c.add(urls[2])
c.run()
out("run", status(seen))
c.close()

# A timer that adds a URL later: the crawler waits for it (and the timer
# ends input itself).
loop = evcrawl.Loop()
c = evcrawl.Crawler(loop, dns_server=dns)
def later():
    c.add(urls[1])
    c.close_input()
loop.call_later(0.3, later)
c.add(urls[0])
t0 = time.monotonic()
recs = [(time.monotonic() - t0, r) for r in c]
out("timer_adds", [status(r for _, r in recs), recs[-1][0] >= 0.3 if recs else None])
c.close()
loop.close()
out("handles_left", len(evcrawl._handles))
"""

MYPY_GOOD = r"""
from typing import List, Optional
import evcrawl

def broken(urls: List[str], dns: str) -> List[str]:
    out: List[str] = []
    for rec in evcrawl.crawl(urls, concurrency=10, dns_server=dns, header=["X-A: 1"]):
        status: Optional[int] = rec["status"]
        why = evcrawl.failure(rec)
        if why is not None:
            out.append(rec["url"] + " " + why)
        elif status is not None and status >= 400:
            out.append(rec["url"])
    return out

loop = evcrawl.Loop()
timer: evcrawl.Timer = loop.call_every(1.0, print, "tick")
c = evcrawl.Crawler(loop, on_result=lambda rec: print(rec["time_ms"]["total"]))
n: int = c.stats()["done"]
err = evcrawl.EvcrawlError(-22)
code: int = err.code
"""

# Each line misuses the API in one way mypy must see.
MYPY_BAD = r"""
import evcrawl
for rec in evcrawl.crawl(["http://a.test/"]):
    rec["status"] + 1
    rec["nonexistent"]
evcrawl.crawl(["http://a.test/"], concurrency="many")
x: str = evcrawl.Crawler().stats()["done"]
evcrawl.Loop().watch(3.5, print)
"""


work = tempfile.mkdtemp(prefix="evc-pypkg-test.")
elsewhere = os.path.join(work, "elsewhere")  # an empty cwd for the children
os.mkdir(elsewhere)
w = None
try:
    w = World(pages=20)
    w.start()
    DNS = "127.0.0.1:%d" % w.dns_port
    page = w.url("h01.test", "/p/1.html")
    page_rec = [page, page, 200, 2048, None]

    # ------------------------------------------------------- staged install
    stage = os.path.join(work, "stage")
    r = make("install", "PREFIX=/usr/local", "DESTDIR=" + stage, "PYTHON=" + sys.executable)
    t.eq(r.returncode, 0, "make install PREFIX=/usr/local DESTDIR=<tmp>", r.stderr[-3000:])
    pydir = run([sys.executable, "-I", SITE_DIR, "/usr/local"]).stdout.strip()
    staged_pkg = os.path.join(stage + pydir, "evcrawl")
    got = sorted(f for f in files_under(stage) if "/evcrawl/" in f and "include/" not in f)
    t.eq(got, [os.path.join(pydir.lstrip("/"), "evcrawl", f) for f in PKG_FILES],
         "the package is installed into %s: __init__.py, _config.py, py.typed" % pydir)
    with open(os.path.join(staged_pkg, "__init__.py"), "rb") as a, \
            open(os.path.join(ROOT, "python", "evcrawl", "__init__.py"), "rb") as b:
        t.ok(a.read() == b.read(), "the staged __init__.py is python/evcrawl/__init__.py")
    config = {}
    if os.path.exists(os.path.join(staged_pkg, "_config.py")):
        with open(os.path.join(staged_pkg, "_config.py")) as f:
            exec(f.read(), config)
    staged_lib = os.path.join(stage + config.get("LIBDIR", "?"), config.get("SONAME", "?"))
    t.ok((config.get("LIBDIR"), config.get("SONAME")) == ("/usr/local/lib", "libevcrawl.so.0")
         and os.path.exists(staged_lib),
         "_config.py records LIBDIR = '/usr/local/lib' (the final path, not the stage's) "
         "and SONAME = 'libevcrawl.so.0', which the stage has there",
         {k: v for k, v in config.items() if k.isupper()})

    # A fresh interpreter: clean environment, the staged directory alone on
    # PYTHONPATH, started from an empty directory; the library is the staged
    # one, named by EVCRAWL_LIB since DESTDIR is not where LIBDIR points.
    r = run([sys.executable, "-s", "-c", IMPORT_CHILD, page, DNS, ROOT], cwd=elsewhere,
            env=clean_env(PYTHONPATH=stage + pydir, EVCRAWL_LIB=staged_lib), timeout=60)
    res = json_lines(r.stdout)
    t.ok(r.returncode == 0 and res, "a fresh interpreter imports evcrawl from the stage and crawls",
         r.stderr[-3000:])
    t.eq((res.get("file"), res.get("path_has_checkout")),
         (os.path.join(staged_pkg, "__init__.py"), []),
         "evcrawl.__file__ is the staged package; nothing of the checkout is on sys.path")
    so_full = os.path.join(stage, "usr/local/lib", "libevcrawl.so." + VERSION)
    t.eq((res.get("library"), res.get("maps"), res.get("version")),
         (staged_lib, [so_full], VERSION),
         "it loaded the staged libevcrawl.so.0 (the only libevcrawl in /proc/self/maps)")
    t.eq(res.get("records"), [page_rec],
         "crawl() of one URL from the staged package: status 200, 2048 bytes, no error")

    # Without EVCRAWL_LIB the staged package goes to the recorded LIBDIR.
    if os.path.exists("/usr/local/lib/libevcrawl.so.0"):
        t.skip("without EVCRAWL_LIB, the recorded LIBDIR is named in the error",
               "this machine has /usr/local/lib/libevcrawl.so.0")
    else:
        r = run([sys.executable, "-s", "-c", "import evcrawl"], cwd=elsewhere,
                env=clean_env(PYTHONPATH=stage + pydir), timeout=30)
        t.ok(r.returncode == 1 and "ImportError: cannot load libevcrawl (the LIBDIR make install "
             "recorded): /usr/local/lib/libevcrawl.so.0" in r.stderr,
             "without EVCRAWL_LIB the staged package loads /usr/local/lib/libevcrawl.so.0 "
             "(not there: an ImportError says which and why)", r.stderr[-1500:])

    # Types, as the installed package has them.
    hints = res.get("hints", {})
    t.eq(hints.get("crawl", {}).get("return"), "Iterator[evcrawl.Record]",
         "typing: crawl() returns Iterator[Record]", hints)
    t.eq(hints.get("crawl", {}).get("urls"),
         "Union[str, bytes, Iterable[Union[str, bytes]]]",
         "typing: crawl() takes a URL or an iterable of URLs (str or bytes)", hints)
    t.eq((hints.get("Crawler.__iter__"), hints.get("Crawler.stats"), hints.get("failure")),
         ({"return": "Iterator[evcrawl.Record]"}, {"return": "<class 'evcrawl.Stats'>"},
          {"rec": "Mapping[str, Any]", "return": "Optional[str]"}),
         "typing: Crawler iterates Records, stats() is a Stats, failure() -> Optional[str]")
    t.eq(hints.get("Loop.call_later", {}).get("return"), "<class 'evcrawl.Timer'>",
         "typing: Loop.call_later() returns a Timer", hints)
    t.ok(set(["url", "final_url", "status", "bytes", "error", "time_ms", "tls", "depth"])
         <= set(hints.get("Record", [])),
         "typing: the Record TypedDict has the record's fields", hints.get("Record"))

    r = make("uninstall", "PREFIX=/usr/local", "DESTDIR=" + stage, "PYTHON=" + sys.executable)
    t.eq((r.returncode, files_under(stage)), (0, []),
         "make uninstall removes the package with the rest", r.stderr)

    # ------------------------------------------- a venv as a real PREFIX
    venv = os.path.join(work, "venv")
    r = run([sys.executable, "-m", "venv", "--without-pip", venv])
    if r.returncode != 0:
        t.skip("install into a venv's prefix", "no venv here: " + r.stderr.strip()[-200:])
    else:
        vpy = os.path.join(venv, "bin", "python")
        before = files_under(venv)
        r = make("install", "PREFIX=" + venv, "PYTHON=" + vpy)
        t.eq(r.returncode, 0, "make install PREFIX=<venv> PYTHON=<venv>/bin/python",
             r.stderr[-3000:])
        vpydir = run([vpy, "-I", SITE_DIR, venv]).stdout.strip()
        r = run([vpy, "-s", "-c", IMPORT_CHILD, page, DNS, ROOT], cwd=elsewhere, env=clean_env(),
                timeout=60)
        res = json_lines(r.stdout)
        t.eq((r.returncode, res.get("file"), res.get("maps"), res.get("records")),
             (0, os.path.join(vpydir, "evcrawl", "__init__.py"),
              [os.path.join(venv, "lib", "libevcrawl.so." + VERSION)], [page_rec]),
             "the venv's Python, no environment: the installed package, the library from "
             "the recorded LIBDIR (on no loader path), one crawl", r.stderr[-3000:])
        r = make("uninstall", "PREFIX=" + venv, "PYTHON=" + vpy)
        t.eq((r.returncode, files_under(venv)), (0, before),
             "make uninstall leaves the venv as it was (__pycache__ included)", r.stderr)

    # --------------------------------------- where the package goes, per Python
    pythons = [sys.executable]
    if os.path.exists("/usr/bin/python3") and \
            os.path.realpath("/usr/bin/python3") != os.path.realpath(sys.executable):
        pythons.append("/usr/bin/python3")
    for python in pythons:
        info = py_info(python, "import json, sys; print(json.dumps([sys.prefix, "
                       "'%d.%d' % sys.version_info[:2], [p for p in sys.path if p]]))")
        if not info:
            t.skip("make install-python with PYTHON=%s" % python, "it does not run")
            continue
        own_prefix, xy, searched = info
        for prefix in sorted({"/usr/local", "/usr", own_prefix}):
            # The rule, said independently of scripts/python-site-dir: a
            # site- or dist-packages directory of PREFIX/lib that this Python
            # searches, else the standard layout.
            under = [p for p in searched if p.startswith(prefix.rstrip("/") + "/lib/")
                     and os.path.basename(p) in ("site-packages", "dist-packages")]
            want = under[0] if under else "%s/lib/python%s/site-packages" % (prefix, xy)
            st = os.path.join(work, "st-py")
            r = make("install-python", "PREFIX=" + prefix, "DESTDIR=" + st, "PYTHON=" + python)
            got = [os.path.dirname(os.path.dirname("/" + f)) for f in files_under(st)
                   if f.endswith("evcrawl/__init__.py")]
            t.eq((r.returncode, got), (0, [want]),
                 "PYTHON=%s PREFIX=%s: the package goes to %s%s" % (
                     python, prefix, want, " (on its sys.path)" if under else
                     " (standard; not searched by it)"), r.stderr)
            r = make("uninstall-python", "PREFIX=" + prefix, "DESTDIR=" + st, "PYTHON=" + python)
            t.eq((r.returncode, files_under(st)), (0, []),
                 "make uninstall-python removes it again")
            shutil.rmtree(st, ignore_errors=True)

    # --------------------------------------------------------------- mypy
    mypy_python = next((p for p in ["/usr/bin/python3", sys.executable]
                        if run([p, "-m", "mypy", "--version"]).returncode == 0), None)
    if not mypy_python:
        t.skip("mypy accepts a typed program using the installed package", "no mypy here")
        t.skip("mypy rejects a program misusing the installed package", "no mypy here")
    else:
        st = os.path.join(work, "st-mypy")
        r = make("install-python", "PREFIX=/usr/local", "DESTDIR=" + st, "PYTHON=" + mypy_python)
        mdir = st + run([mypy_python, "-I", SITE_DIR, "/usr/local"]).stdout.strip()
        for name, text in (("good.py", MYPY_GOOD), ("bad.py", MYPY_BAD)):
            with open(os.path.join(elsewhere, name), "w") as f:
                f.write(text)

        def mypy(name):
            # The package is found as an installed one (PYTHONPATH of the
            # interpreter mypy asks): only through its py.typed.
            return run([mypy_python, "-m", "mypy", "--no-incremental", "--python-executable",
                        mypy_python, "--no-error-summary", "--hide-error-context", name],
                       cwd=elsewhere, env=dict(clean_env(), PYTHONPATH=mdir), timeout=300)
        r = mypy("good.py")
        t.eq((r.returncode, r.stdout.strip()), (0, ""),
             "mypy accepts a typed program using the installed package", r.stderr[-1500:])
        r = mypy("bad.py")
        lines = sorted(set(int(m) for m in re.findall(r"^bad\.py:(\d+): error", r.stdout, re.M)))
        t.eq((r.returncode, lines), (1, [4, 5, 6, 7, 8]),
             "mypy rejects each misuse: Optional status, unknown key, concurrency='many', "
             "stats()['done'] as str, watch(3.5)", r.stdout[-2500:])
        r = run(["rm", "-f", os.path.join(mdir, "evcrawl", "py.typed")])
        r = mypy("good.py")
        t.ok(r.returncode == 1 and "py.typed" in r.stdout,
             "without py.typed mypy does not use the package's types", r.stdout[-800:])
        r = run([mypy_python, "-m", "mypy", "--no-incremental", "--no-error-summary", "evcrawl"],
                cwd=os.path.join(ROOT, "python"), env=clean_env(), timeout=300)
        t.eq((r.returncode, r.stdout), (0, ""), "mypy finds nothing wrong in the package itself")

    # -------------------------------------------------------------- Ctrl-C
    lib = os.path.join(BUILD, "libevcrawl.so")
    checkout_env = clean_env(PYTHONPATH=os.path.join(ROOT, "python"), EVCRAWL_LIB=lib)
    fast, stall = w.url("h02.test", "/p/2.html"), w.fault_url("h03.test", "/stall")
    for how in ("crawl", "loop.run", "busy"):
        p = subprocess.Popen([sys.executable, "-c", SIGINT_CHILD, how, fast, stall, DNS],
                             cwd=elsewhere, env=checkout_env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        # The child's first line says it is crawling; a child that never
        # says so fails the check below instead of hanging the suite.
        ready, _, _ = select.select([p.stdout], [], [], 20)
        first = p.stdout.readline() if ready else ""
        time.sleep(0.3)
        sent = time.monotonic()
        p.send_signal(signal.SIGINT)
        try:
            out, err = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        took = time.monotonic() - sent
        res = json_lines(first + out)
        tb = err.strip().splitlines()
        t.eq((p.returncode, res.get("ready"), res.get("ended"), res.get("handles_left")),
             (-signal.SIGINT, [fast, 200], None, 0),
             "Ctrl-C (%s): the child dies by SIGINT (130 in a shell) mid-crawl, its crawler "
             "and loop freed" % how, err[-2000:])
        t.ok(tb[:1] == ["Traceback (most recent call last):"] and tb[-1:] == ["KeyboardInterrupt"]
             and not any(s in err for s in CTYPES_TEXT),
             "Ctrl-C (%s): a KeyboardInterrupt traceback, no ctypes text" % how, err[-2000:])
        t.ok(took < 3.0, "Ctrl-C (%s): ended %.2f s after the signal (< 3 s)" % (how, took))

    # -------------------------------------------- input ends without close_input
    urls = [w.url("h%02d.test" % n, "/p/%d.html" % n) for n in (4, 5, 6)]
    try:
        r = run([sys.executable, "-c", INPUT_CHILD, DNS] + urls, cwd=elsewhere,
                env=checkout_env, timeout=30)
        out, err = r.stdout, r.stderr
    except subprocess.TimeoutExpired as e:  # killed: what it printed until then
        out, err = (e.stdout or b"").decode(), "timed out after 30 s"
    res = json_lines(out)
    t.ok("handles_left" in res,
         "the no-close_input() script ran to its end (none of it waited forever)", err[-2000:])

    def st(*us):
        return sorted([u, 200] for u in us)
    t.eq(res.get("crawl_iter"), st(*urls), "crawl(iter([...])): one record per URL, then it ends")
    t.eq(res.get("feed"), st(*urls[:2]), "Crawler.feed(iterator), iterated: ends with the iterator")
    t.eq(res.get("add_then_iterate"), [st(*urls[:2]), True],
         "Crawler.add() x2, iterated: two records, then finished")
    t.eq(res.get("add_from_body"), st(*urls[:2]),
         "a URL added from the iteration's body is crawled before the iteration ends")
    t.eq(res.get("run"), st(urls[2]), "Crawler.run() with on_result after add() returns")
    t.eq(res.get("timer_adds"), [st(*urls[:2]), True],
         "with a pending timer that adds a URL, iteration waits for it (0.3 s)")
    t.eq(res.get("handles_left"), 0, "every crawler, loop and timer freed")

    # ---------------------------------------------- from the checkout, as is
    # The package's own choice, build/libevcrawl.so, is the plain build's
    # (a sanitizer run may have none).
    if not os.path.exists(os.path.join(ROOT, "build", "libevcrawl.so")):
        t.skip("PYTHONPATH=python: the package and build/libevcrawl.so",
               "no build/libevcrawl.so (make build)")
        t.skip("scripts/find-broken-links with no environment", "no build/libevcrawl.so")
    else:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}
        r = run([sys.executable, "-s", "-c", IMPORT_CHILD, page, DNS, "/nonexistent"],
                cwd=elsewhere, env=dict(env, PYTHONPATH=os.path.join(ROOT, "python")), timeout=60)
        res = json_lines(r.stdout)
        t.eq((r.returncode, res.get("file"), res.get("library"), res.get("records")),
             (0, os.path.join(ROOT, "python", "evcrawl", "__init__.py"),
              os.path.join(ROOT, "build", "libevcrawl.so"), [page_rec]),
             "PYTHONPATH=python: the checkout's package with the checkout's build/libevcrawl.so",
             r.stderr[-2000:])
        r = run([os.path.join(ROOT, "scripts", "find-broken-links"), "--dns-server", DNS],
                input=page + "\n", cwd=elsewhere, env=env, timeout=60)
        t.eq((r.returncode, r.stdout, r.stderr), (0, "", "1 URLs checked, 0 broken\n"),
             "scripts/find-broken-links with no environment (the scripts/evcrawl symlink)")
finally:
    if w:
        w.stop()
    shutil.rmtree(work, ignore_errors=True)

t.diag("took %.1f s" % (time.monotonic() - T0))
t.done()
