#!/usr/bin/env python3
"""The recursive crawl (-r) over a site with a known link graph, written into
the test world's nginx root: relative and absolute links, <base>, another
host, fragments and duplicates, redirects into and out of scope, nofollow, a
loop, a chain deeper than --depth. For each scope and depth the crawl finds
exactly the expected set; each URL is fetched once (nginx's access log);
records carry depth and parent, --links lists a page's links; --include,
--exclude and --max-pages; a seed that redirects carries its scope along.

Run: EVCRAWL=build/evcrawl python3 tests/integration/test_recursive.py
"""

import collections
import json
import gzip
import os
import random
import signal
import subprocess
import sys
import time

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TESTS, "env"), os.path.join(TESTS, "lib")]

from crawltest import EVCRAWL, t, evcrawl, jsonl_ok  # noqa: E402
from world import World  # noqa: E402

# path -> HTML. Hosts are the world's: h01.test (the seeds), h02, h03.
SITE = {
    "g/index.html": """<html><head><title>g</title>
<link rel=stylesheet href=/g/style.css><link rel=next href=b.html></head><body>
<a href="a.html">a</a> <a href="/g/b.html">b</a> <a href="http://h01.test:{P}/g/c.html">c</a>
<a href="a.html#part">a again</a> <a href="./a.html">and again</a>
<a href="http://h02.test:{P}/g/other.html">other host</a>
<a href="/go/g/d.html">into scope by redirect</a>
<a href="/go-host/h03.test/g/e.html">out of scope by redirect</a>
<a href="nf.html" rel="nofollow">nofollow</a> <a href="mailto:x@127.0.0.1">mail</a>
<a href="sub/index.html">sub</a>
</body></html>""",
    "g/a.html": """<html><head><base href="/g/sub/"></head><body>
<a href="deep.html">deep, by base</a> <a href="/g/index.html">home (a loop)</a></body></html>""",
    "g/b.html": """<html><body><a href="index.html">home</a>
<a href="../g2/x.html">a sibling directory</a></body></html>""",
    "g/c.html": "<html><body>no links</body></html>",
    "g/d.html": "<html><body><a href=c.html>c</a></body></html>",
    "g/e.html": "<html><body><a href=c.html>c on h03</a></body></html>",
    "g/nf.html": "<html><body>never fetched</body></html>",
    "g/other.html": "<html><body><a href=/g/index.html>its index</a></body></html>",
    "g/sub/index.html": """<html><body><a href="deep.html">deep</a>
<a href="../a.html">a</a></body></html>""",
    "g/sub/deep.html": "<html><body><a href=deeper.html>deeper</a></body></html>",
    "g/sub/deeper.html": "<html><body><a href=deepest.html>deepest</a></body></html>",
    "g/sub/deepest.html": "<html><body>the end</body></html>",
    "g2/x.html": "<html><body><a href=/g/c.html>c</a></body></html>",
    "g/style.css": "body {}",
    "hdr/index.html": "<html><body>its links are in the Link header</body></html>",
    "hdr/next.html": "<html><body>found through a Link header</body></html>",
    "hdr/s.css": "body {}",
    # Traps: a calendar of 150 query strings on one path; a directory that
    # contains itself (loop/loop -> .), so loop/loop/loop/... never ends.
    "g/cal.html": "<html><body>%s</body></html>" % "".join(
        '<a href="cal.html?m=%d">%d</a>' % (m, m) for m in range(1, 151)),
    "g/loop/index.html": '<html><body><a href="loop/index.html">deeper</a></body></html>',
}

with World(pages=10, delay_ms=50, access_log=True) as w:
    P = w.http_port
    DNS = "--dns-server=127.0.0.1:%d" % w.dns_port
    for path, html in SITE.items():
        full = os.path.join(w.root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(html.replace("{P}", str(P)))
    os.symlink(".", os.path.join(w.root, "g", "loop", "loop"))
    # Sitemaps: robots.txt names an index, which names a plain sitemap and a
    # gzipped one (served as is).
    def urlset(urls):
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.'
                'sitemaps.org/schemas/sitemap/0.9">%s</urlset>\n' % "".join(
                    "<url><loc>%s</loc></url>" % u for u in urls))
    with open(os.path.join(w.root, "robots.txt"), "w") as f:
        f.write("User-agent: *\nDisallow:\nSitemap: http://h04.test:%d/sm/index.xml\n" % P)
    os.makedirs(os.path.join(w.root, "sm"))
    with open(os.path.join(w.root, "sm", "index.xml"), "w") as f:
        f.write('<?xml version="1.0"?><sitemapindex><sitemap><loc>http://h04.test:%d/sm/a.xml'
                '</loc></sitemap><sitemap><loc>http://h04.test:%d/sm/b.xml.gz</loc></sitemap>'
                '</sitemapindex>' % (P, P))
    with open(os.path.join(w.root, "sm", "a.xml"), "w") as f:
        f.write(urlset(["http://h04.test:%d/sm/p%d.html" % (P, i) for i in (1, 2)]))
    with gzip.open(os.path.join(w.root, "sm", "b.xml.gz"), "wt") as f:
        f.write(urlset(["http://h04.test:%d/sm/p3.html" % P,
                        "http://h05.test:%d/sm/p4.html?x=1&amp;y=2" % P]))
    for name in ("start", "p1", "p2", "p3", "p4"):
        with open(os.path.join(w.root, "sm", name + ".html"), "w") as f:
            f.write("<html><body>no links: the sitemaps alone decide</body></html>")
    log = os.path.join(w.dir, "access.log")
    SEED = "http://h01.test:%d/g/index.html" % P

    def U(path, host="h01.test"):
        return "http://%s:%d/%s" % (host, P, path)

    def crawl(*args):
        before = os.path.getsize(log)
        run = evcrawl("-q", DNS, "-r", *args)
        time.sleep(0.2)
        with open(log) as f:
            f.seek(before)
            asked = collections.Counter((x.split()[2], x.split()[6]) for x in f)
        return run, asked

    def fates(run):
        return {r["url"]: r["status"] if r["error"] is None else r["error"]["kind"]
                for r in run.records}

    # ---- scope host (the default), depth 5 (the default) -----------------------
    run, asked = crawl(SEED)
    want = {SEED: 200, U("g/a.html"): 200, U("g/b.html"): 200, U("g/c.html"): 200,
            U("go/g/d.html"): 200, U("go-host/h03.test/g/e.html"): "skipped",
            U("g/sub/index.html"): 200, U("g/sub/deep.html"): 200,
            U("g/sub/deeper.html"): 200, U("g/sub/deepest.html"): 200, U("g2/x.html"): 200}
    t.eq(fates(run), want, "scope host: exactly the host's pages, the redirect out of scope "
         "skipped, nofollow and the other host left alone")
    jsonl_ok(run, "scope host")
    twice = {k: n for k, n in asked.items() if n > 1}
    t.eq((twice, asked.get(("h01.test", "/g/nf.html"), 0), asked.get(("h01.test", "/g/d.html"))),
         ({}, 0, 1), "... every URL asked for once (d.html, reached by redirect, too)", asked)
    by = run.by_url()
    t.eq([(by[u]["depth"], by[u]["parent"]) for u in (SEED, U("g/sub/deep.html"),
                                                      U("g/sub/deepest.html"))],
         [(0, None), (2, U("g/a.html")), (4, U("g/sub/deeper.html"))],
         "records carry depth and parent (deep.html found first through a.html's <base>)")
    t.eq(by[U("go-host/h03.test/g/e.html")]["error"]["message"],
         "redirected out of scope to " + U("g/e.html", "h03.test"),
         "... the skipped redirect says where it went")
    t.eq(by[U("go/g/d.html")]["final_url"], U("g/d.html"), "the redirect into scope followed")

    # ---- depth ---------------------------------------------------------------------
    run, _ = crawl("--depth", 1, SEED)
    got = fates(run)
    t.eq({u: f for u, f in got.items() if f != "skipped"},
         {SEED: 200, U("g/a.html"): 200, U("g/b.html"): 200, U("g/c.html"): 200,
          U("go/g/d.html"): 200, U("g/sub/index.html"): 200},
         "--depth 1: the seed and the pages it links to")
    deeper = sorted(r["url"] for r in run.records
                    if (r["error"] or {}).get("message") == "deeper than --depth 1")
    t.eq(deeper, sorted([U("g/sub/deep.html"), U("g2/x.html")]),
         "... the links one level further are records of kind skipped, 'deeper than --depth 1'")

    # ---- scope prefix, domain, any ---------------------------------------------------
    run, _ = crawl("--scope", "prefix", SEED)
    t.eq(sorted(u for u in fates(run) if "/g/" not in u or "/go" in u), [],
         "--scope prefix: nothing outside /g/ (not /g2/, not the /go/ redirects)")
    t.eq(sum(1 for f in fates(run).values() if f == 200), 8, "... the 8 pages under /g/")
    run, _ = crawl("--scope", "any", "--depth", 1, SEED)
    got = fates(run)
    t.eq((got.get(U("g/other.html", "h02.test")), got.get(U("go-host/h03.test/g/e.html")),
          got.get(U("g/index.html", "h02.test")), got.get(U("g/c.html", "h03.test"))),
         (200, 200, "skipped", "skipped"),
         "--scope any --depth 1: the other hosts' pages too, their links one level deeper "
         "skipped")

    # ---- include / exclude / max-pages / links ----------------------------------------
    run, _ = crawl("--exclude", "/sub/", SEED)
    t.eq(sorted(u for u in fates(run) if "/sub/" in u), [], "--exclude /sub/: none of them")
    run, _ = crawl("--include", r"(index|a|b)\.html$", SEED)
    t.eq(sorted(fates(run)), sorted([SEED, U("g/a.html"), U("g/b.html"),
                                     U("g/sub/index.html")]),
         "--include: only URLs matching")
    run, _ = crawl("--max-pages", 3, SEED)
    got = fates(run)
    t.eq((sum(1 for f in got.values() if f == 200),
          {r["error"]["message"] for r in run.records if r["error"]}),
         (3, {"--max-pages 3 reached"}), "--max-pages 3: three pages, the rest skipped")
    run = evcrawl("-q", DNS, "--links", U("g/b.html"))
    t.eq(run.records[0].get("links"), [U("g/index.html"), U("g2/x.html")],
         "--links without -r: the record lists the page's links, resolved")
    t.eq("depth" in run.records[0], False, "... and has no depth (not recursive)")

    # ---- traps: query strings per path, repeated path segments ------------------------
    run, _ = crawl("--depth", 2, U("g/cal.html"))
    got = collections.Counter(r["error"]["message"] if r["error"] else r["status"]
                              for r in run.records)
    t.eq(got, {200: 101, "more than 100 query strings on " + U("g/cal.html"): 50},
         "a calendar of 150 query strings: 100 taken (--max-query-variants 100), 50 skipped "
         "saying why")
    run, _ = crawl("--depth", 20, U("g/loop/index.html"))
    t.eq(sorted((r["url"].count("/loop"), r["status"] or r["error"]["message"])
                for r in run.records),
         [(1, 200), (2, 200), (3, 200), (4, "path repeats segment 'loop' 4 times")],
         "a directory that contains itself: up to 3 'loop' segments, the 4th skipped")
    run, _ = crawl("--depth", 6, "--max-path-repeats", 0, U("g/loop/index.html"))
    t.eq(len(run.records), 8, "--max-path-repeats 0: only --depth stops it (7 pages + 1 "
         "skipped)")

    # ---- library code never prints: a page whose bytes are not its charset ------------------
    with open(os.path.join(w.root, "g", "sjis.html"), "wb") as f:
        f.write(b'<html><head><meta charset="Shift_JIS"></head><body><a href=c.html>c</a>'
                b'\x82\xff\xfe\x81<a href=d.html>d</a></body></html>')
    run = evcrawl("-q", DNS, "--links", U("g/sjis.html"))
    t.eq((run.rc, run.err, [r["status"] for r in run.records]), (0, "", [200]),
         "a page with bytes that are not its charset: its record, nothing on stderr")

    # ---- Link headers -------------------------------------------------------------------
    run, _ = crawl("--links", U("hdr/index.html"))
    t.eq((fates(run), run.by_url()[U("hdr/index.html")]["links"]),
         ({U("hdr/index.html"): 200, U("hdr/next.html"): 200},
          [U("hdr/next.html")]),
         "a Link header's rel=next is followed, its stylesheet is not")

    # ---- internationalised hosts --------------------------------------------------------
    run = evcrawl("-q", "--resolve", "xn--bcher-kva.test:%d:127.0.0.1" % P,
                  "http://b\u00fccher.test:%d/g/c.html" % P)
    t.eq((run.records[0]["final_url"], run.records[0]["status"]) if run.records else None,
         ("http://xn--bcher-kva.test:%d/g/c.html" % P, 200),
         "an IDN host is fetched by its punycode name")

    # ---- sitemaps ------------------------------------------------------------------------
    run, asked = crawl("--sitemap", "--depth", 0, U("sm/start.html", "h04.test"))
    got = {r["url"]: (r["status"], r["depth"], r["parent"]) for r in run.records
           if r["error"] is None}
    H4 = lambda p: U(p, "h04.test")  # noqa: E731
    t.eq(got, {H4("sm/start.html"): (200, 0, None),
               H4("sm/index.xml"): (200, 0, H4("robots.txt")),
               H4("sm/a.xml"): (200, 0, H4("sm/index.xml")),
               H4("sm/b.xml.gz"): (200, 0, H4("sm/index.xml")),
               H4("sm/p1.html"): (200, 0, H4("sm/a.xml")),
               H4("sm/p2.html"): (200, 0, H4("sm/a.xml")),
               H4("sm/p3.html"): (200, 0, H4("sm/b.xml.gz")),
               U("sm/p4.html?x=1&y=2", "h05.test"): (200, 0, H4("sm/b.xml.gz"))},
         "--sitemap: robots.txt's sitemap index, a sitemap and a gzipped one; their URLs "
         "fetched as seeds (depth 0), each once")
    run, _ = crawl("--sitemap", "--no-robots", "--depth", 0, U("sm/a.xml", "h06.test"))
    t.eq(sorted(r["url"] for r in run.records if r["error"] is None and "/p" in r["url"]),
         [H4("sm/p1.html"), H4("sm/p2.html")],
         "a sitemap given as the seed (--no-robots: robots.txt's sitemaps not read)")
    run, _ = crawl("--depth", 0, U("sm/start.html", "h07.test"))
    t.eq([r["url"] for r in run.records if r["error"] is None], [U("sm/start.html", "h07.test")],
         "without --sitemap no sitemap is read")

    # ---- --state: killed at random points and resumed ------------------------------------
    # 150 pages under /k/, each linking to three others.
    os.makedirs(os.path.join(w.root, "k"))
    for i in range(150):
        with open(os.path.join(w.root, "k", "%d.html" % i), "w") as f:
            f.write("<html><body>%s</body></html>" % "".join(
                '<a href="%d.html">x</a>' % ((i * m + 1) % 150) for m in (3, 7, 11)))
    KSEED = U("k/0.html")
    full, _ = crawl("--depth", 1000, KSEED)
    want = {r["url"]: r["status"] for r in full.records}
    state = os.path.join(w.dir, "state")
    rng = random.Random(7)
    runs, kills = [], 0
    for round_ in range(12):
        before = os.path.getsize(log)
        p = subprocess.Popen([EVCRAWL, "-q", DNS, "-r", "--depth", "1000", "--delay", "0.01",
                              "--state", state, KSEED], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            out, _ = p.communicate(timeout=rng.uniform(0.15, 0.5) if round_ < 10 else 60)
            done = True
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            out, _ = p.communicate()
            kills += 1
            done = False
        time.sleep(0.2)
        with open(log) as f:
            f.seek(before)
            asked = {x.split()[6] for x in f if " /k/" in x}
        recs = [json.loads(line) for line in out.decode().splitlines() if line.endswith("}")]
        runs.append(({r["url"] for r in recs}, asked, recs))
        if done:
            break
    union = collections.Counter(u for urls, _, _ in runs for u in urls)
    got = {r["url"]: r["status"] for _, _, recs in runs for r in recs}
    t.eq((got == want, [u for u, n in union.items() if n > 1], kills >= 3),
         (True, [], True),
         "--state, killed with SIGKILL %d times and run again: the same %d records as one "
         "uninterrupted crawl, none twice" % (kills, len(want)))
    refetched = []
    for i, (urls, _, _) in enumerate(runs):
        for later_urls, later_asked, _ in runs[i + 1:]:
            refetched += [u for u in urls if u[len(U("")) - 1:] in later_asked]
    t.eq(refetched, [], "... and no URL that had a record was asked for again by a later run")
    run = evcrawl("-q", DNS, "-r", "--state", state, KSEED)
    t.eq((run.rc, run.records), (0, []), "run once more: everything is done, nothing fetched")
    known = os.path.join(w.dir, "known.txt")
    with open(known, "w") as f:
        f.write("".join("%s\n" % U("k/%d.html" % (i % 150)) for i in range(400)))
    run = evcrawl("-q", DNS, "-r", "--state", state, "-i", known, timeout=30)
    t.eq((run.rc, run.records), (0, []),
         "400 input lines the state knows (more than one feed batch): nothing, and it ends")

    # ---- --frontier-mem: discovered URLs past the budget wait on disk -------------------
    run = evcrawl(DNS, "-r", "--depth", 1000, "--frontier-mem", "16K", "-c", 4, KSEED)
    spilled = [int(x.split()[0]) for x in run.err.split("; ") if "waited on disk" in x]
    t.eq(({r["url"]: r["status"] for r in run.records}, len(run.records)), (want, len(want)),
         "--frontier-mem 16K: the same %d records as with all of it in memory" % len(want))
    t.ok(spilled and spilled[0] > 20, "... %s of the URLs waited on disk" % spilled, run.err)
    # SIGTERM while URLs wait on disk: the crawl ends at once, each record once.
    p = subprocess.Popen([EVCRAWL, "-q", DNS, "-r", "--depth", "1000", "--delay", "0.02",
                          "--frontier-mem", "16K", KSEED], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    time.sleep(0.6)
    p.send_signal(signal.SIGTERM)
    try:
        out, _ = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    urls = [json.loads(x)["url"] for x in out.decode().splitlines()]
    t.eq((p.returncode, len(urls) == len(set(urls))), (143, True),
         "SIGTERM with URLs waiting on disk: exits 143 at once, no record twice")
    run, _ = crawl("--depth", 1000, "--frontier-mem", "16K", "--state",
                   os.path.join(w.dir, "state2"), KSEED)
    t.eq({r["url"]: r["status"] for r in run.records}, want,
         "--frontier-mem with --state: the same records")

    # ---- a seed that redirects carries its scope -------------------------------------
    run, _ = crawl("--depth", 1, U("go-host/h02.test/g/other.html"))
    t.eq({u: f for u, f in fates(run).items() if f != "skipped"},
         {U("go-host/h02.test/g/other.html"): 200, U("g/index.html", "h02.test"): 200},
         "a seed redirected to h02.test: the crawl goes on on h02.test")

    run = evcrawl("--mode", "blocking", "-r", SEED)
    t.ok(run.rc == 2 and "--recursive" in run.err, "-r with --mode blocking: usage error",
         run.err)
    run = evcrawl("-r", "--scope", "site", SEED)
    t.ok(run.rc == 2 and "--scope" in run.err, "--scope site: usage error", run.err)
    run = evcrawl("-r", "--include", "(", SEED)
    t.ok(run.rc == 2 and "include" in run.err, "--include '(': usage error", run.err)

t.done()
