#!/usr/bin/env python3
"""evcrawl -o DIR: bodies saved under DIR, byte-equal to what the server has,
each record naming its file in "saved", safe file names for hostile URL paths
and queries, and nothing written outside DIR.

Run: EVCRAWL=build/evcrawl python3 tests/integration/test_crawl_output.py
"""

import os
import sys
import tempfile
import time
from urllib.parse import urlsplit

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TESTS, "env"), os.path.join(TESTS, "lib")]

from crawltest import t, evcrawl, jsonl_ok  # noqa: E402
from world import World  # noqa: E402


def all_files(top):
    """Every file and directory under top, as paths relative to top."""
    found = set()
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            found.add(os.path.relpath(os.path.join(d, n), top))
    return found


def read(path):
    with open(path, "rb") as f:
        return f.read()


KNOWN_TEXT = b"evcrawl gzip test line\n" * 200

with tempfile.TemporaryDirectory(prefix="evc-output.") as work, \
        World(pages=20, delay_ms=100) as w:
    DNS = "--dns-server=127.0.0.1:%d" % w.dns_port
    out = os.path.join(work, "out")          # given relative to the cwd, "out"
    real_out = os.path.realpath(out)

    def inside(rec):
        """The saved path of rec, resolved against the run's cwd, if it is a
        file strictly inside DIR; else None."""
        saved = (rec or {}).get("saved")
        if not isinstance(saved, str):
            return None
        full = os.path.realpath(os.path.join(work, saved))
        ok = full.startswith(real_out + os.sep) and os.path.isfile(full)
        return full if ok else None

    site = {w.url("h01.test", "/p/%d.html" % n): "p/%d.html" % n for n in range(1, 6)}
    site[w.url("h02.test", "/big/1m.bin")] = "big/1m.bin"
    site[w.url("h03.test", "/big/text-256k.txt")] = "big/text-256k.txt"
    site[w.url("h04.test", "/p/1.html?x=1")] = "p/1.html"
    site[w.url("h04.test", "/p/1.html?x=2")] = "p/1.html"
    site[w.url("h04.test", "/p/1.html")] = "p/1.html"
    site[w.url("h05.test", "/p/6.html#frag")] = "p/6.html"
    site[w.url("h06.test", "/r/302")] = "p/2.html"               # final /p/2.html ...
    site[w.url("h06.test", "/p/2.html")] = "p/2.html"            # ... the same name
    hostile = {
        "root": w.url("h07.test", "/"),
        "dotdot": w.url("h07.test", "/%2e%2e/%2e%2e/%2e%2e/tmp/evc-escape"),
        "qdotdot": w.url("h07.test", "/p/1.html?x=../../../../evc-escape"),
        "qslash": w.url("h07.test", "/p/3.html?a=/etc/passwd&b=..%2F..%2Fx"),
        "ctl": w.url("h07.test", "/p/4.html?a=%00%01%1b%0a%0d"),
        "long": w.url("h07.test", "/p/5.html?" + "a" * 1000),
        "slashes": w.url("h07.test", "//p//7.html"),
        "dir": w.url("h08.test", "/p/"),
    }
    gz = w.fault_url("h09.test", "/gzip")
    urls = list(site) + list(hostile.values()) + [gz]
    # --save-errors: some hostile paths are nginx's 403 and 404 pages.
    run = evcrawl("-q", DNS, "--compressed", "--save-errors", "-o", "out", *urls, cwd=work)
    jsonl_ok(run, "-o out")
    r = run.by_url()
    t.eq(sorted(r), sorted(urls), "-o: one record per URL")
    t.ok(os.path.isdir(out), "-o: DIR created")

    bad = []
    for url, rel in site.items():
        full = inside(r.get(url))
        if not (full and read(full) == read(os.path.join(w.root, rel))
                and r[url]["bytes"] == os.path.getsize(full)):
            bad.append((url, r.get(url)))
    t.eq(bad, [], "-o: %d saved files inside DIR are byte-equal to the originals" % len(site))
    savedpaths = [r.get(u, {}).get("saved") for u in site]
    t.eq(len(set(savedpaths)), len(site),
         "-o: distinct URLs (queries, a redirect onto the same name) get distinct files",
         savedpaths)
    hostdirs = {u: os.path.relpath(inside(r[u]), real_out).split(os.sep)[0]
                for u in site if inside(r.get(u))}
    t.eq([(u, d) for u, d in hostdirs.items() if not d.startswith(urlsplit(u).hostname)], [],
         "-o: each file is under a directory DIR/HOST... named after its URL's host")
    t.eq(os.path.relpath(inside(r.get(w.url("h01.test", "/p/3.html"))) or "", real_out)
         .split(os.sep)[1:], ["p", "3.html"], "-o: /p/3.html is saved as HOST/p/3.html")
    t.ok(inside(r.get(gz)) and read(inside(r[gz])) == KNOWN_TEXT,
         "-o --compressed: the gzip answer is saved decoded", r.get(gz))

    for key, url in hostile.items():
        rec = r.get(url)
        full = inside(rec)
        t.ok(full is not None and os.path.getsize(full) == rec["bytes"]
             and all(len(c) <= 255 for c in full.split(os.sep))
             and not any(ord(ch) < 32 for ch in rec["saved"]),
             "-o: %s (%s) saved inside DIR, sane name, size = bytes"
             % (key, url.split(str(w.http_port), 1)[1][:60]), rec)
    t.ok(inside(r.get(hostile["root"])) and not inside(r[hostile["root"]]).endswith(os.sep),
         "-o: / gets a file name (not the host directory itself)", r.get(hostile["root"]))
    t.eq(all_files(work) - {"out"} - {os.path.join("out", n) for n in all_files(out)}, set(),
         "-o: nothing written outside DIR")
    t.ok(not os.path.exists("/tmp/evc-escape") and not os.path.exists(
        os.path.join(os.path.dirname(work), "evc-escape")), "-o: no escape through '..'")

    # An absolute DIR that does not exist yet; the same names in a second run.
    out2 = os.path.join(work, "out2")
    run2 = evcrawl("-q", DNS, "--compressed", "--save-errors", "-o", out2, *urls)
    r2 = run2.by_url()
    rel1 = sorted(os.path.relpath(os.path.join(work, x["saved"]), out) for x in run.records
                  if x.get("saved"))
    rel2 = sorted(os.path.relpath(x["saved"], out2) for x in run2.records if x.get("saved"))
    t.eq(rel2, rel1, "-o ABSOLUTE_DIR: created, and the same file names as the first run",
         run2.err)
    t.ok(run2.records and all(os.path.isabs(x.get("saved", "")) for x in run2.records
                              if x.get("saved")), "-o ABSOLUTE_DIR: saved paths are absolute")
    big = r2.get(w.url("h02.test", "/big/1m.bin"), {}).get("saved")
    t.ok(big and read(big) == read(os.path.join(w.root, "big/1m.bin")),
         "-o ABSOLUTE_DIR: the 1 MiB file byte-equal")

    # A nested DIR whose parents do not exist either (as wget2 -P does).
    out3 = os.path.join(work, "a", "b", "out3")
    run3 = evcrawl("-q", DNS, "-o", out3, w.url("h01.test", "/p/8.html"))
    saved = (run3.records or [{}])[0].get("saved")
    t.ok(run3.rc == 0 and saved and saved.startswith(out3 + os.sep)
         and read(saved) == read(os.path.join(w.root, "p/8.html")),
         "-o a/b/DIR (parents missing): created and the page saved there",
         "rc %s, %s %s" % (run3.rc, run3.records, run3.err))

    # Re-running over the same list replaces each URL's file (an earlier
    # run's, even one spoiled since) instead of piling up copies; a second
    # URL of this run mapping onto a name this run wrote still gets its own.
    out6 = os.path.join(work, "out6")
    again = [w.url("h01.test", "/p/%d.html" % i) for i in (1, 2, 3)]
    again += [w.url("h06.test", "/r/302"), w.url("h06.test", "/p/2.html")]
    first = evcrawl("-q", DNS, "-o", out6, *again)
    spoiled = first.by_url()[again[0]]["saved"]
    with open(spoiled, "wb") as f:
        f.write(b"spoiled")
    os.utime(spoiled, (time.time() - 60, time.time() - 60))
    files1 = all_files(out6)
    second = evcrawl("-q", DNS, "-o", out6, *again)
    t.eq((all_files(out6), sorted(r["saved"] for r in second.records),
          read(spoiled) == read(os.path.join(w.root, "p/1.html"))),
         (files1, sorted(r["saved"] for r in first.records), True),
         "-o again over the same list: the same files, replaced (the spoiled one too), "
         "no copies", (files1, all_files(out6)))
    # --no-clobber: a URL whose file exists is not fetched, kind skipped.
    third = evcrawl(DNS, "--no-clobber", "-o", out6, again[0], w.url("h01.test", "/p/9.html"))
    r3 = third.by_url()
    t.eq((third.rc, (r3[again[0]]["error"] or {}).get("kind"), r3[again[0]]["status"],
          r3[w.url("h01.test", "/p/9.html")]["status"], "exists (--no-clobber)" in
          (r3[again[0]]["error"] or {}).get("message", "")),
         (0, "skipped", None, 200, True),
         "--no-clobber: the existing file's URL is skipped (and says so), the new one "
         "fetched; exit 0", third.records)
    # ... also when a redirect leads onto an existing file (/r/302 -> /p/2.html).
    target = os.path.join(out6, "h06.test_%d" % w.http_port, "p", "2.html")
    with open(target, "wb") as f:
        f.write(b"mine")
    fourth = evcrawl(DNS, "-q", "--no-clobber", "-o", out6, w.url("h06.test", "/r/302"))
    t.eq(([(r["error"] or {}).get("kind") for r in fourth.records], read(target)),
         (["skipped"], b"mine"),
         "--no-clobber: a redirect onto an existing file is skipped, the file untouched",
         fourth.records)

    # A 503 that will not be retried (Retry-After: 1 s is past --timeout) is
    # the final answer: its body is saved with --save-errors, in every mode;
    # without it, and with --fail, an error page is not saved at all.
    for mode in ("async", "blocking"):
        out4 = os.path.join(work, "out4-" + mode)
        url = w.fault_url("h03.test", "/retry/5/final-%s" % mode)
        run4 = evcrawl("-q", DNS, "--mode", mode, "--timeout", "0.5", "--save-errors",
                       "-o", out4, url)
        rec = (run4.records or [{}])[0]
        saved = rec.get("saved")
        t.ok(rec.get("status") == 503 and rec.get("attempts") == 1 and saved
             and os.path.getsize(saved) == rec.get("bytes") == 12,
             "--mode %s: a 503 not retried (deadline) is saved with --save-errors, 12 bytes"
             % mode, rec)
        for extra in ([], ["--fail"]):
            out5 = os.path.join(work, "out5-%s%s" % (mode, "".join(extra)))
            url = w.fault_url("h03.test", "/retry/5/nosave-%s%s" % (mode, "".join(extra)))
            run5 = evcrawl("-q", DNS, "--mode", mode, "--timeout", "0.5", "-o", out5,
                           *(extra + [url, w.url("h01.test", "/status/404")]))
            files = [os.path.join(d, f) for d, _, fs in os.walk(out5) for f in fs]
            t.eq((sorted(r["status"] for r in run5.records),
                  [r.get("saved") for r in run5.records], files),
                 ([404, 503], [None, None], []),
                 "--mode %s %s: the 503 and the 404 pages are not saved" %
                 (mode, " ".join(extra) or "without --save-errors"), run5.records)

t.done()
