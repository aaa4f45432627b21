#!/usr/bin/env python3
"""evcrawl against the local site: statuses, byte counts, redirects, content
decoding, chunked and close-delimited bodies, names from dnsmasq.

Each crawl is one evcrawl run over many URLs; records are matched by `url` and
checked field by field against what the test world serves (sizes of the files
under w.root, faultd's documented answers).

Run: EVCRAWL=build/evcrawl python3 tests/integration/test_crawl_basic.py
"""

import os
import sys

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TESTS, "env"), os.path.join(TESTS, "lib")]

from crawltest import t, evcrawl, expect, fields, http_get, jsonl_ok  # noqa: E402
from world import World  # noqa: E402


def raw_body(port, path, host="h01.test"):
    """The body bytes exactly as the server sends them (no decoding)."""
    return http_get(port, path, "%s:%d" % (host, port))


KNOWN_TEXT_LEN = len(b"evcrawl gzip test line\n" * 200)     # 4600, faultd /gzip decoded

with World(pages=40, delay_ms=200) as w:
    P, F = w.http_port, w.fault_port
    DNS = "--dns-server=127.0.0.1:%d" % w.dns_port

    def size(rel):
        return os.path.getsize(os.path.join(w.root, rel))

    # ---- one crawl over the site, faultd and names ------------------------
    pages = {w.url(h, "/p/%d.html" % (i + 1)): "p/%d.html" % (i + 1)
             for i, h in enumerate(w.hosts)}
    u = {
        "s200": w.url("h01.test", "/status/200"),
        "s204": w.url("h02.test", "/status/204"),
        "s404": w.url("h03.test", "/status/404"),
        "s500": w.url("h04.test", "/status/500"),
        "s503": w.url("h05.test", "/status/503"),
        "nginx404": w.url("h06.test", "/no/such/file.html"),
        "big": w.url("h01.test", "/big/1m.bin"),
        "text": w.url("h02.test", "/big/text-256k.txt"),
        "chunked": w.url("h03.test", "/chunked/x"),
        "delay": w.url("h04.test", "/delay/1/x"),
        "ka_off": w.url("h05.test", "/keepalive-off/p/7.html"),
        "r301": w.url("h07.test", "/r/301"),
        "r302": w.url("h08.test", "/r/302"),
        "r303": w.url("h09.test", "/r/303"),
        "r307": w.url("h10.test", "/r/307"),
        "r308": w.url("h11.test", "/r/308"),
        "chain": w.url("h12.test", "/r/chain/4"),
        "loop": w.url("h13.test", "/r/loop"),
        "ftp": w.url("h14.test", "/r/ftp"),
        "xhost": w.url("h15.test", "/r/host/h16.test"),
        "multi": w.url("multi.test", "/p/9.html"),
        "site": w.url("site.test", "/p/10.html"),
        "f_trailer": w.fault_url("h01.test", "/chunked-trailer"),
        "f_interim": w.fault_url("h02.test", "/interim"),
        "f_nolen": w.fault_url("h03.test", "/no-length"),
        "f_http10": w.fault_url("h04.test", "/http10"),
        "f_204": w.fault_url("h05.test", "/204"),
        "f_304": w.fault_url("h06.test", "/304"),
        "f_big": w.fault_url("h07.test", "/big/300001"),
        "f_gzip": w.fault_url("h08.test", "/gzip"),
        "f_deflate": w.fault_url("h09.test", "/deflate"),
        "f_close": w.fault_url("h10.test", "/close"),
        "f_okclose": w.fault_url("h11.test", "/ok-then-close"),
    }
    if w.ipv6:
        u["v6"] = w.url("v6.test", "/p/11.html")
    run = evcrawl("-q", DNS, "-c", 40, *(list(pages) + list(u.values())))
    jsonl_ok(run, "site crawl")
    r = run.by_url()
    t.eq(len(run.records), len(pages) + len(u), "site crawl: one record per URL")
    t.eq(sorted(r), sorted(list(pages) + list(u.values())),
         "site crawl: records name the input URLs")
    t.eq(run.rc, 1, "site crawl: exit 1 (the redirect loop and ftp redirect are errors)", run.err)

    wrong = []
    for url, rel in pages.items():
        want = {"status": 200, "bytes": size(rel), "content_type": "text/html",
                "final_url": url, "redirects": 0, "attempts": 1, "kind": None}
        if fields(r.get(url), want) != want:
            wrong.append(r.get(url))
    t.eq(wrong, [], "20 pages on h01..h20.test: 200, bytes = file size, text/html, final_url = url")

    for key, status, nbytes in (("s200", 200, 11), ("s204", 204, 0), ("s404", 404, 11),
                                ("s500", 500, 11)):
        expect(r.get(u[key]), {"status": status, "bytes": nbytes, "attempts": 1, "kind": None},
               "/status/%d: status %d, %d bytes, no error" % (status, status, nbytes))
    expect(r.get(u["s503"]), {"status": 503, "bytes": 11, "attempts": 3, "kind": None},
           "/status/503: retried (3 attempts with --retries 2), ends 503 without error")
    expect(r.get(u["nginx404"]), {"status": 404, "attempts": 1, "kind": None},
           "a missing file is 404 without error")
    expect(r.get(u["big"]), {"status": 200, "bytes": size("big/1m.bin"),
                             "content_type": "application/octet-stream", "kind": None},
           "/big/1m.bin: bytes = its size (1 MiB)")
    expect(r.get(u["text"]), {"status": 200, "bytes": size("big/text-256k.txt"), "kind": None},
           "/big/text-256k.txt without --compressed: plain size")
    expect(r.get(u["chunked"]), {"status": 200, "bytes": 100024, "kind": None},
           "/chunked/: 100024 bytes decoded from chunks")
    expect(r.get(u["delay"]), {"status": 200, "bytes": 8, "kind": None},
           "/delay/: 'delayed\\n' (8 bytes, chunked)")
    expect(r.get(u["ka_off"]), {"status": 200, "bytes": size("p/7.html"), "kind": None},
           "Connection: close answer: full page")

    # Redirects: final_url and the redirect count exact.
    redirect_cases = [
        ("r301", "http://h07.test:%d/p/1.html" % P, 1, "301 absolute"),
        ("r302", "http://h08.test:%d/p/2.html" % P, 1, "302 relative"),
        ("r303", "http://h09.test:%d/p/5.html" % P, 1, "303"),
        ("r307", "http://h10.test:%d/p/3.html" % P, 1, "307 '../p/3.html'"),
        ("r308", "http://h11.test:%d/p/4.html" % P, 1, "308"),
        ("chain", "http://h12.test:%d/p/1.html" % P, 5, "chain of 5 (/r/chain/4)"),
        ("xhost", "http://h16.test:%d/p/1.html" % P, 1, "cross-host"),
    ]
    for key, final, n, desc in redirect_cases:
        expect(r.get(u[key]), {"status": 200, "final_url": final, "redirects": n,
                               "bytes": 2048, "kind": None},
               "redirect %s: final_url %s, redirects %d" % (desc, final[final.index("/p/"):], n))
    expect(r.get(u["loop"]), {"status": 302, "final_url": u["loop"], "kind": "redirect"},
           "/r/loop: error redirect, status 302")
    expect(r.get(u["ftp"]), {"status": 302, "final_url": u["ftp"], "redirects": 0,
                             "kind": "redirect"},
           "/r/ftp (Location ftp://...): error redirect, not followed")

    # Names: multi.test (two A records), site.test, v6.test (AAAA only).
    expect(r.get(u["multi"]), {"status": 200, "bytes": 2048, "kind": None},
           "multi.test (two A records) fetched")
    expect(r.get(u["site"]), {"status": 200, "bytes": 2048, "kind": None}, "site.test fetched")
    if w.ipv6:
        expect(r.get(u["v6"]), {"status": 200, "bytes": 2048, "kind": None},
               "v6.test (AAAA ::1 only) fetched over IPv6")
    else:
        t.skip("v6.test fetched over IPv6", "no IPv6 loopback here")

    # faultd answers.
    faults = [
        ("f_trailer", 200, 12, "chunked with a trailer: 12 bytes"),
        ("f_interim", 200, 5, "100 and 103 skipped: 200 'done\\n'"),
        ("f_nolen", 200, 5000, "no Content-Length, body to EOF: 5000 bytes"),
        ("f_http10", 200, 9, "HTTP/1.0 answer: 9 bytes"),
        ("f_204", 204, 0, "204: no body"),
        ("f_304", 304, 0, "304: no body"),
        ("f_big", 200, 300001, "/big/300001: 300001 bytes"),
        ("f_close", 200, 3, "Connection: close answer"),
        ("f_okclose", 200, 3, "answer then close without notice"),
    ]
    for key, status, nbytes, desc in faults:
        expect(r.get(u[key]), {"status": status, "bytes": nbytes, "attempts": 1, "kind": None},
               "faultd %s" % desc)
    # Without --compressed evcrawl does not decode: bytes are what was sent.
    expect(r.get(u["f_gzip"]), {"status": 200, "bytes": len(raw_body(F, "/gzip")), "kind": None},
           "faultd /gzip without --compressed: the encoded length")
    expect(r.get(u["f_deflate"]),
           {"status": 200, "bytes": len(raw_body(F, "/deflate")), "kind": None},
           "faultd /deflate without --compressed: the encoded length")

    # ---- --compressed -----------------------------------------------------
    z = {
        "page": w.url("h01.test", "/p/3.html"),
        "text": w.url("h02.test", "/big/text-256k.txt"),
        "bin": w.url("h03.test", "/big/1m.bin"),
        "gzip": w.fault_url("h04.test", "/gzip"),
        "deflate": w.fault_url("h05.test", "/deflate"),
        "raw": w.fault_url("h06.test", "/deflate-raw"),
        "plain": w.fault_url("h07.test", "/big/5000"),
        "bad": w.fault_url("h08.test", "/gzip-bad"),
    }
    run = evcrawl("-q", DNS, "--compressed", "--retries", 0, *z.values())
    jsonl_ok(run, "--compressed crawl")
    r = run.by_url()
    t.eq(len(run.records), len(z), "--compressed crawl: one record per URL")
    expect(r.get(z["page"]), {"status": 200, "bytes": size("p/3.html"), "kind": None},
           "--compressed: nginx gzips the page; bytes = the uncompressed file size")
    expect(r.get(z["text"]), {"status": 200, "bytes": size("big/text-256k.txt"), "kind": None},
           "--compressed: 256 KiB text decoded to its file size")
    expect(r.get(z["bin"]), {"status": 200, "bytes": size("big/1m.bin"), "kind": None},
           "--compressed: a binary nginx does not gzip is counted as is")
    for key, desc in (("gzip", "gzip"), ("deflate", "deflate (zlib)"),
                      ("raw", "deflate (raw, no zlib wrapper)")):
        expect(r.get(z[key]), {"status": 200, "bytes": KNOWN_TEXT_LEN, "kind": None},
               "--compressed: faultd %s decodes to %d bytes" % (desc, KNOWN_TEXT_LEN))
    expect(r.get(z["plain"]), {"status": 200, "bytes": 5000, "kind": None},
           "--compressed: an unencoded answer is counted as is")
    expect(r.get(z["bad"]), {"status": 200, "kind": "protocol"},
           "--compressed: undecodable gzip is a protocol error (the 200 head did arrive)")

t.done()
