#!/usr/bin/env python3
"""The evcrawl command line: --help and --version, exit statuses and usage
errors, the summary line, --progress kept off stdout, SIGTERM/SIGINT with
fetches in flight, --resolve, input streamed from an open pipe, and the exact
request bytes (-A, -H, --compressed, Host, no fragment) as a one-shot server
on 127.0.0.1 sees them.

Run: EVCRAWL=build/evcrawl python3 tests/integration/test_crawl_cli.py
"""

import csv
import io
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TESTS, "env"), os.path.join(TESTS, "lib")]

from crawltest import (  # noqa: E402
    EVCRAWL, Run, t, closed_port, evcrawl, expect, fault_admin, fault_stats, fields, jsonl_ok)
from world import World  # noqa: E402


class Catcher:
    """A tiny HTTP server on 127.0.0.1 (port 0) that records each request head
    and answers 200 "hi" with Connection: close."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.heads = []
        self.th = threading.Thread(target=self._serve, daemon=True)
        self.th.start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            c.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = c.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                # ... and the body its Content-Length announces.
                m = re.search(rb"\r\ncontent-length: *(\d+)\r\n", data.lower())
                want = data.index(b"\r\n\r\n") + 4 + int(m.group(1)) if m else 0
                while len(data) < want:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.heads.append(data)
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
            except OSError:
                pass
            c.close()

    def take(self):
        heads, self.heads = self.heads, []
        return heads

    def close(self):
        self.sock.close()


def parse_head(data):
    """(request line, [(name, value)], anything after the blank line)."""
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    hdrs = [tuple(x.strip() for x in l.split(":", 1)) for l in lines[1:]]
    return lines[0], hdrs, rest


def wait_open(port, hostkey, n, deadline=10.0):
    """Wait until faultd has n connections open for hostkey; True if so."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        st = fault_stats(port)
        if st["hosts"].get(hostkey, {}).get("open") == n:
            return True
        time.sleep(0.02)
    return False


def interrupt(args, sig, hostkey, n_open, port):
    """Start evcrawl, wait for n_open connections to hostkey on faultd, send
    sig; return its Run."""
    t0 = time.monotonic()
    p = subprocess.Popen([EVCRAWL] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ready = wait_open(port, hostkey, n_open)
    # The one fast URL's record is out (flushed) before the signal.
    first = b""
    if select.select([p.stdout], [], [], 10)[0]:
        first = p.stdout.readline()
    p.send_signal(sig)
    try:
        out, err = p.communicate(timeout=20)
        out = first + out
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        err += b"\n[test: killed, no exit 20 s after the signal]"
    if not ready:
        err += b"\n[test: the fetches never got in flight]"
    return Run(p.returncode, out, err, time.monotonic() - t0)


OPTIONS = ["-c", "--concurrency", "--per-host", "--timeout", "--connect-timeout",
           "--idle-timeout", "--dns-timeout", "--retries", "--max-redirects", "--max-body",
           "--dns-server", "--resolve", "-A", "--user-agent", "-H", "--header", "--compressed",
           "-o", "--output-dir", "--progress", "--no-progress", "-q", "--quiet", "-i",
           "--input", "--help", "--version", "--cacert", "--capath", "-k", "--insecure",
           "--tls-min", "--cert-info", "--max-handshakes", "--mode", "--selector",
           "--politeness-key", "--delay", "--random-delay", "--rate", "--max-retry-after",
           "--host-errors", "--robots", "--max-crawl-delay", "-r", "--recursive", "--depth",
           "--scope", "--include", "--exclude", "--max-pages", "--max-url-length", "--links",
           "--no-robots"]

# ---- --help, --version, usage errors (no servers needed) --------------------
run = evcrawl("--help")
helptext = run.out.decode(errors="replace")
t.eq(run.rc, 0, "--help: exit 0")
missing = [o for o in OPTIONS if not re.search(r"(^|[\s,])%s\b" % re.escape(o), helptext)]
t.eq(missing, [], "--help lists every option of the command (%d)" % len(OPTIONS), helptext)
run = evcrawl("--version")
version = run.out.decode(errors="replace")
t.ok(run.rc == 0 and re.fullmatch(r"evcrawl \d+\.\d+\.\d+\n", version),
     "--version: 'evcrawl X.Y.Z', exit 0", (run.rc, version))
VERSION = version.split()[-1] if version.split() else "?"

url = "http://127.0.0.1:1/x"
usage = [
    (["--concurrency", "x", url], "--concurrency", "x"),
    (["-c", "0", url], "concurrency", "0"),
    (["--per-host", "-3", url], "--per-host", "-3"),
    (["--timeout", "abc", url], "--timeout", "abc"),
    (["--retries", "many", url], "--retries", "many"),
    (["--max-body", "1Q", url], "--max-body", "1Q"),
    # 2^34 G is 2^64 bytes: it must not wrap around to 0 ("no limit") or,
    # one more, to 1 GiB.
    (["--max-body", "17179869184G", url], "--max-body", "17179869184G"),
    (["--max-body", "17179869185G", url], "--max-body", "17179869185G"),
    (["--max-body", "1025G", url], "--max-body", "1025G"),
    # Headers that cannot fit in any request are refused at start, not
    # turned into a failure for every URL.
    (["-H", "X-Big: " + "a" * 8000, url], "request headers too large", "at most"),
    (["--resolve", "nonsense", url], "--resolve", "nonsense"),
    (["--dns-server", "not-an-ip", url], "--dns-server", ""),
    (["-H", "no colon here", url], "header", ""),
    (["-i", "/nonexistent/urls.txt"], "/nonexistent/urls.txt", "No such file"),
    (["-i", "/"], "/", "directory"),
    # No traps for curl users: whole option names only, habits named.
    (["--dns-server", "127.0.0.1:70000", url], "--dns-server", "PORT 1-65535"),
    (["--dns-server", "127.0.0.1:0", url], "--dns-server", "PORT 1-65535"),
    (["-H", "Host: other.test", url], "Host header cannot be set", "--resolve"),
    (["--hea", url], "'--hea'", ""),
    (["--he", url], "'--he'", ""),
    (["--form", "a=b", url], "'--form'", "--data-binary @FILE"),
    (["--output", "page.html", url], "'--output'", "-o/--output-dir DIR"),
    (["--concurr", "5", url], "'--concurr'", ""),
    (["-L", url], "'-L'", "redirects are always followed"),
    (["-x", "https://proxy:3128", url], "bad proxy 'https://proxy:3128'", "HTTPS proxies"),
    (["-x", "proxy:99999", url], "bad proxy 'proxy:99999'", "bad proxy port"),
    (["--socks5-hostname", "proxy:1080", url], "'--socks5-hostname'", "-x socks5h://"),
    (["-o", "page.html", url], "looks like a file name", "> page.html"),
    (["--default-scheme", "ftp", url], "--default-scheme", "ftp"),
    (["--match-status", "2xx", url], "--match-status", "2xx"),
    (["--fail", "--save-errors", url], "--fail", "--save-errors"),
]
for args, name, what in usage:
    run = evcrawl(*args, timeout=20)
    lines = run.err.splitlines()
    t.ok(run.rc == 2 and run.out == b"" and len(lines) == 1 and name in lines[0]
         and what in lines[0],
         "usage error %s: exit 2, one stderr line naming %s%s"
         % (" ".join(a[:40] for a in args[:2]), name, " and '%s'" % what if what else ""),
         (run.rc, run.out[:200], run.err))
run = evcrawl("-q", "--max-body", "1024G", "--retries", "0", url, timeout=20)
t.eq((run.rc, [(r["url"], (r["error"] or {}).get("kind")) for r in run.records]),
     (1, [(url, "connect")]), "--max-body 1024G (1 TiB, the most) is taken", run.err)
run = evcrawl("-q", "-H", "X-Big: " + "a" * 7000, "--retries", "0", url, timeout=20)
t.eq((run.rc, [(r["url"], (r["error"] or {}).get("kind")) for r in run.records]),
     (1, [(url, "connect")]), "-H of 7000 bytes is taken", run.err)
run = evcrawl("--no-such-option", url, timeout=20)
t.ok(run.rc == 2 and run.out == b"" and "--no-such-option" in run.err,
     "unknown option: exit 2, stderr names it", (run.rc, run.err))
run = evcrawl(timeout=20)
t.ok(run.rc == 2 and run.out == b"" and len(run.err.splitlines()) == 1,
     "no URLs at all: exit 2 with one line", (run.rc, run.err))
# A value that looks like an option is a value: -A --head is a user agent.
run = evcrawl("-q", "-A", "--head", "--retries", "0", url, timeout=20)
t.eq((run.rc, len(run.records)), (1, 1), "-A --head: '--head' is -A's value", run.err)

# ---- the request bytes ------------------------------------------------------
catcher = Catcher()
C = catcher.port
run = evcrawl("-q", "--resolve", "catch.test:%d:127.0.0.1" % C, "-A", "agent/7",
              "-H", "X-Test: 1", "--header", "X-Other: two words",
              "http://catch.test:%d/a/b.html?q=1&r=%%20#frag" % C)
heads = catcher.take()
expect(run.records[0] if run.records else None, {"status": 200, "bytes": 2, "kind": None},
       "request capture: the one-shot server's answer is 200, 2 bytes")
line, hdrs, rest = parse_head(heads[0]) if len(heads) == 1 else ("", [], b"")
t.eq(line, "GET /a/b.html?q=1&r=%20 HTTP/1.1", "request line: GET, path and query, HTTP/1.1")
t.eq(sorted(hdrs), sorted([("Host", "catch.test:%d" % C), ("User-Agent", "agent/7"),
                           ("Accept", "*/*"), ("Connection", "keep-alive"), ("X-Test", "1"),
                           ("X-Other", "two words")]),
     "request headers: Host with port, -A, Accept, Connection, both -H; nothing else",
     heads)
t.ok(heads and b"frag" not in heads[0] and b"#" not in heads[0] and rest == b"",
     "the fragment is not sent, no request body", heads)

run = evcrawl("-q", "--compressed", "-H", "Accept:", "http://127.0.0.1:%d/" % C)
heads = catcher.take()
line, hdrs, _ = parse_head(heads[0]) if len(heads) == 1 else ("", [], b"")
t.eq((line, sorted(hdrs)),
     ("GET / HTTP/1.1", sorted([("Host", "127.0.0.1:%d" % C),
                                ("User-Agent", "evcrawl/" + VERSION),
                                ("Accept-Encoding", "gzip, deflate, br, zstd"),
                                ("Connection", "keep-alive")])),
     "defaults: User-Agent evcrawl/VERSION; --compressed asks gzip, deflate, br, zstd; -H 'Accept:' "
     "drops Accept; Host is the IP and port", heads)
# Methods and bodies, seen on the server side, in the event loop and the
# blocking engine alike.
body_file = os.path.join(tempfile.mkdtemp(prefix="evc-cli."), "body.bin")
with open(body_file, "wb") as f:
    f.write(b"line1\r\nline2\n\x00\xffbinary")
for mode in ("async", "blocking"):
    url_c = "http://127.0.0.1:%d/form" % C
    cases = [
        (["-I"], "HEAD", None, None),
        (["-X", "DELETE"], "DELETE", None, None),
        (["-d", "a=1", "--data", "b=two words"], "POST", b"a=1&b=two words",
         "application/x-www-form-urlencoded"),
        (["-d", "@" + body_file], "POST", b"line1line2\x00\xffbinary",
         "application/x-www-form-urlencoded"),
        (["--data-binary", "@" + body_file, "-H", "Content-Type: application/octet-stream"],
         "POST", b"line1\r\nline2\n\x00\xffbinary", "application/octet-stream"),
        (["--data-raw", "@not-a-file", "-X", "PUT"], "PUT", b"@not-a-file",
         "application/x-www-form-urlencoded"),
    ]
    for args, method, body, ctype in cases:
        run = evcrawl("-q", "--mode", mode, *(args + [url_c]))
        heads = catcher.take()
        line, hdrs, rest = parse_head(heads[0]) if len(heads) == 1 else ("", [], b"")
        h = dict((k.lower(), v) for k, v in hdrs)
        t.eq((line, h.get("content-length"), h.get("content-type"), rest,
              [(r["status"], r["bytes"]) for r in run.records]),
             ("%s /form HTTP/1.1" % method, None if body is None else str(len(body)), ctype,
              body or b"", [(200, 0 if method == "HEAD" else 2)]),
             "%s %s: %s on the wire, Content-Length and -Type right, the body exact; "
             "a HEAD answer has no body to wait for" % (mode, " ".join(args[:2]), method),
             heads)
run = evcrawl("-I", "-d", "x", "http://127.0.0.1:%d/" % C)
t.ok(run.rc == 2 and "-I/--head sends HEAD" in run.err, "-I with -d: usage error", run.err)
catcher.close()

with World(pages=20, delay_ms=3000) as w:
    P, F = w.http_port, w.fault_port
    DNS = "--dns-server=127.0.0.1:%d" % w.dns_port

    # ---- exit statuses and the summary --------------------------------------
    ok_urls = [w.url("h01.test", "/p/1.html"), w.url("h02.test", "/status/404"),
               w.url("h03.test", "/status/500")]
    run = evcrawl(DNS, *ok_urls)
    t.eq((run.rc, len(run.records)), (0, 3),
         "every URL got a complete response (200, 404, 500): exit 0", run.err)
    lines = run.err.splitlines()
    t.ok(len(lines) == 1 and re.match(r"evcrawl: 3 URLs in [0-9.]+ s: 2xx 1 · 4xx 1 · 5xx 1; "
                                      r"[0-9.]+ pages/s, ", lines[0]),
         "summary: one stderr line, '3 URLs' and the responses by status class "
         "(stderr is not a terminal)", run.err)
    run = evcrawl(DNS, "--fail", *ok_urls)
    t.eq((run.rc, [(r["status"], (r["error"] or {}).get("kind")) for r in
                   sorted(run.records, key=lambda r: r["status"])]),
         (1, [(200, None), (404, "http"), (500, "http")]),
         "--fail: 404 and 500 are errors of kind http, exit 1", run.err)
    t.ok(re.search(r": 2xx 1 · http 2;", run.err) and
         [r["error"]["message"] for r in run.records if r["error"]] in
         (["HTTP 404", "HTTP 500"], ["HTTP 500", "HTTP 404"]),
         "--fail: the summary counts kind http, the message names the status", run.err)
    run = evcrawl(DNS, "--match-status", "400-499,0", *(ok_urls + ["not a url"]))
    t.eq((run.rc, sorted((r["status"], r["url"]) for r in run.records if r["status"]),
          len(run.records), re.search(r"\b4 URLs\b", run.err) is not None),
         (1, [(404, ok_urls[1])], 2, True),
         "--match-status 400-499,0: only the 404 and the status-less record are written; "
         "the summary counts all 4", run.err)
    run = evcrawl(DNS, "--filter-status", "200,500", *ok_urls)
    t.eq(sorted(r["status"] for r in run.records), [404],
         "--filter-status 200,500: all but those are written", run.err)
    run = evcrawl(DNS, w.url("h01.test", "/p/1.html"))
    t.ok(re.match(r"evcrawl: 1 URL in ", run.err), "summary: '1 URL', not '1 URLs'", run.err)
    bare = "h01.test:%d/p/1.html" % P
    run = evcrawl(DNS, "-q", "--default-scheme", "http", bare, "https://nx.invalid:1/x")
    t.eq(sorted((r["url"], r["final_url"], r["status"]) for r in run.records),
         [(bare, "http://" + bare, 200), ("https://nx.invalid:1/x", "https://nx.invalid:1/x",
                                         None)],
         "--default-scheme http: a line without a scheme is fetched over http; the record "
         "keeps the line as given; a URL with a scheme keeps it", run.err)
    # A POST redirected by 301/302/303 goes on as a GET without body (nginx
    # answers a POST to a static file with 405); 307/308 keep the POST.
    reds = {c: w.url("h02.test", "/r/%d" % c) for c in (301, 302, 303, 307, 308)}
    run = evcrawl(DNS, "-q", "-d", "x=1", *reds.values())
    r = run.by_url()
    t.eq([(c, r[u]["status"], r[u]["redirects"]) for c, u in sorted(reds.items())],
         [(301, 200, 1), (302, 200, 1), (303, 200, 1), (307, 405, 1), (308, 405, 1)],
         "-d: after a 301/302/303 the request is a GET (200); after 307/308 still the "
         "POST (nginx: 405)", run.records)
    run = evcrawl(DNS, "-q", "-I", reds[303], w.url("h02.test", "/p/1.html"))
    t.eq(sorted((rec["status"], rec["bytes"]) for rec in run.records), [(200, 0), (200, 0)],
         "-I: HEAD stays HEAD after a 303; no body", run.records)
    # The richer record: always remote_ip, http_version, wire_bytes,
    # started_at, redirect_chain; --record-header on request.
    gz = w.fault_url("h03.test", "/gzip")
    t0 = time.time()
    rh = ["--record-header", "Content-Encoding", "--record-header", "X-Absent"]
    run = evcrawl(DNS, "-q", *(rh + [w.url("h02.test", "/r/301"), "not a url"]))
    r = run.by_url()
    red, bad = r[w.url("h02.test", "/r/301")], r["not a url"]
    z = evcrawl(DNS, "-q", "--compressed", *(rh + [gz])).records[0]
    started = red["started_at"]
    t.eq((red["remote_ip"], red["http_version"], red["wire_bytes"], red["redirect_chain"],
          red["headers"]),
         ("127.0.0.2", "1.1", 2048, [{"url": w.url("h02.test", "/r/301"), "status": 301}],
          {"content-encoding": None, "x-absent": None}),
         "record: remote_ip, http_version, wire_bytes, the redirect chain, asked headers "
         "(null when absent)", red)
    t.ok(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", started) and
         abs(time.mktime(time.strptime(started[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
             - t0) < 5, "record: started_at is RFC 3339 UTC, now", started)
    t.eq((z["bytes"], z["wire_bytes"] < z["bytes"], z["headers"]["content-encoding"],
          z["content_encoding"]), (4600, True, "gzip", "gzip"),
         "record: wire_bytes counts the gzip bytes, bytes the decoded ones", z)
    t.eq((bad["remote_ip"], bad["http_version"], bad["started_at"], bad["redirect_chain"],
          bad["headers"]), (None, None, None, [], {"content-encoding": None, "x-absent": None}),
         "record: a bad URL has no address, version, start or chain", bad)

    # --format csv / tsv, read back by Python's csv module.
    urls3 = [w.url("h01.test", "/p/1.html"), "bad, \"url\"", w.url("h02.test", "/r/302")]
    run = evcrawl(DNS, "-q", "--format", "csv", "--record-header", "Server", *urls3)
    rows = list(csv.reader(io.StringIO(run.out.decode())))
    t.eq((rows[0][:4], rows[0][-1], sorted(row[0] for row in rows[1:]),
          sorted((row[0], row[2], row[8]) for row in rows[1:])),
         (["url", "final_url", "status", "bytes"], "server", sorted(urls3),
          sorted([(urls3[0], "200", ""), (urls3[1], "", "bad_url"), (urls3[2], "200", "")])),
         "--format csv: a header line, then one row per URL that csv.reader reads back "
         "(a comma and quotes in a field survive)", run.out[:600])
    t.ok(all(len(row) == len(rows[0]) for row in rows) and
         all(row[-1].startswith("nginx/") for row in rows[1:] if row[2] == "200"),
         "--format csv: every row as wide as the header; --record-header as a column")
    run = evcrawl(DNS, "-q", "--format", "tsv", "tab\there", w.url("h01.test", "/p/1.html"))
    lines = run.out.decode().splitlines()
    t.ok(lines[0].startswith("url\tfinal_url\tstatus") and len(lines) == 3 and
         any(line.startswith("tab\\there\t") for line in lines),
         "--format tsv: header, one line per URL, a tab in a field escaped as \\t", lines)
    run = evcrawl(DNS, "--format", "csv", "--mode", "processes", urls3[0])
    t.eq(run.rc, 2, "--format csv with --mode processes: usage error", run.err)

    # -v: both heads, each line prefixed by the URL and the direction.
    run = evcrawl(DNS, "-q", "-v", w.url("h02.test", "/r/301"))
    lines = run.err.splitlines()
    u1, u2 = w.url("h02.test", "/r/301"), w.url("h02.test", "/p/1.html")
    t.ok(u1 + " > GET /r/301 HTTP/1.1" in lines and u1 + " < HTTP/1.1 301 Moved Permanently"
         in lines and u2 + " > GET /p/1.html HTTP/1.1" in lines and
         u2 + " < HTTP/1.1 200 OK" in lines and u1 + " > Host: h02.test:%d" % P in lines and
         not any("\r" in line for line in lines) and
         all(line.startswith(u1 + " ") or line.startswith(u2 + " ") for line in lines),
         "-v: the request and response heads of both hops on stderr", run.err)
    run = evcrawl(DNS, "-q", bare)
    t.eq([(r["error"] or {}).get("kind") for r in run.records], ["bad_url"],
         "without --default-scheme a line without a scheme is a bad URL", run.err)
    run = evcrawl(DNS, "--retries", 0, *(ok_urls + ["http://nx.test:%d/" % P, "not a url",
                                                    w.fault_url("h04.test", "/garbage")]))
    lines = run.err.splitlines()
    t.eq(run.rc, 1, "some URLs failed: exit 1")
    t.ok(len(lines) == 1 and re.match(
        r"evcrawl: 6 URLs in [0-9.]+ s: 2xx 1 · 4xx 1 · 5xx 1 · bad_url 1 · dns 1 · protocol 1;",
        lines[0]), "summary: '6 URLs', the responses by class and the errors by kind",
        run.err)
    run = evcrawl(DNS, "-q", *ok_urls)
    t.eq((run.rc, len(run.records), run.err), (0, 3, ""), "-q: records, no summary")
    run = evcrawl(DNS, "--progress", "-c", 2, *[w.url(h, "/p/2.html") for h in w.hosts])
    jsonl_ok(run, "--progress")
    t.eq((run.rc, len(run.records)), (0, 20),
         "--progress: 20 records, stdout only records")

    # ---- --resolve ----------------------------------------------------------
    # dnsmasq answers NXDOMAIN for h99.test: only --resolve can make these work.
    run = evcrawl("-q", DNS, "--resolve", "h99.test:%d:127.0.0.1" % P,
                  "--resolve", "h98.test:*:127.0.0.2",
                  "http://h99.test:%d/p/3.html" % P, "http://h98.test:%d/p/4.html" % P)
    r = run.by_url()
    expect(r.get("http://h99.test:%d/p/3.html" % P),
           {"status": 200, "bytes": 2048, "kind": None}, "--resolve h99.test:PORT:127.0.0.1")
    t.eq((r.get("http://h99.test:%d/p/3.html" % P) or {}).get("time_ms", {}).get("dns"), None,
         "--resolve: no DNS phase")
    expect(r.get("http://h98.test:%d/p/4.html" % P),
           {"status": 200, "bytes": 2048, "kind": None}, "--resolve h98.test:*:127.0.0.2")
    run = evcrawl("-q", DNS, "--resolve", "h97.test:1:127.0.0.1", "http://h97.test:%d/p/3.html" % P)
    expect(run.records[0] if run.records else None, {"status": None, "kind": "dns"},
           "--resolve for another port does not apply (dnsmasq: NXDOMAIN)")
    # /etc/hosts is honoured (localhost), even with --dns-server.
    hosts_has_localhost = any(re.match(r"\s*127\.0\.0\.1\s.*\blocalhost\b", l)
                              for l in open("/etc/hosts"))
    if hosts_has_localhost:
        run = evcrawl("-q", DNS, "http://localhost:%d/p/5.html" % P)
        expect(run.records[0] if run.records else None,
               {"status": 200, "bytes": 2048, "kind": None}, "localhost from /etc/hosts")
    else:
        t.skip("localhost from /etc/hosts", "no 127.0.0.1 localhost line in /etc/hosts")

    # ---- input streamed from a pipe that stays open ---------------------------
    p = subprocess.Popen([EVCRAWL, "-q", DNS, "-i", "-"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = w.url("h05.test", "/p/6.html")
    p.stdin.write((first + "\n").encode())
    p.stdin.flush()
    ready, _, _ = select.select([p.stdout], [], [], 10)
    line = p.stdout.readline() if ready else b""
    expect(json.loads(line) if line.startswith(b"{") else None,
           {"url": first, "status": 200, "kind": None},
           "-i -: a record comes out while stdin is still open (streamed, flushed)")
    try:
        out, err = p.communicate((w.url("h06.test", "/p/7.html") + "\n").encode(), timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    t.eq((p.returncode, [json.loads(l).get("url") for l in out.splitlines()]),
         (0, [w.url("h06.test", "/p/7.html")]), "-i -: the rest read after EOF, exit 0")

    # ---- signals ----------------------------------------------------------------
    for sig, code, host in ((signal.SIGTERM, 143, "h10.test"), (signal.SIGINT, 130, "h11.test")):
        fault_admin(F, "/__reset")
        stall = [w.fault_url(host, "/stall?%d" % i) for i in range(3)]
        slow = [w.url("h12.test", "/delay/%d" % i) for i in range(2)]    # 3 s each
        queued = [w.fault_url(host, "/stall?q%d" % i) for i in range(2)]  # --per-host 3
        done = w.url("h13.test", "/p/1.html")
        urls = [done] + stall + slow + queued
        run = interrupt(["--no-progress", DNS, "--per-host", 3, "-c", 10] + urls, sig,
                        "%s:%d" % (host, F), 3, F)
        name = signal.Signals(sig).name
        jsonl_ok(run, name)
        r = run.by_url()
        t.eq(run.rc, code, "%s: exit status %d" % (name, code), run.err)
        t.eq(sorted(r), sorted(urls), "%s: every input URL has a record" % name, run.err)
        t.eq(len(run.records), len(urls), "%s: exactly one record each" % name)
        expect(r.get(done), {"status": 200, "kind": None},
               "%s: the URL finished before the signal is ok" % name)
        t.eq([fields(r.get(u), {"status": 0, "kind": 0}) for u in stall + slow],
             [{"status": None, "kind": "cancelled"}] * 5,
             "%s: in-flight URLs (3 stalled, 2 delayed) are cancelled" % name)
        t.eq([fields(r.get(u), {"status": 0, "kind": 0}) for u in queued],
             [{"status": None, "kind": "cancelled"}] * 2,
             "%s: URLs queued behind --per-host are cancelled too" % name)
        t.ok(re.search(r"evcrawl: 8 URLs in [0-9.]+ s: 2xx 1 · cancelled 7; ", run.err),
             "%s: the summary is printed" % name, run.err)
        # rate x time is the number of fetches the rate counts: 1, not 8
        # (the time is printed to 0.01 s, so allow for its rounding).
        m = re.search(r" in ([0-9.]+) s: .*; ([0-9.]+) pages/s", run.err)
        t.ok(m and float(m.group(1)) * float(m.group(2)) < 4,
             "%s: pages/s counts the 1 fetch that ended, not the 7 cancelled" % name,
             run.err)
        t.ok(run.secs < 10, "%s: exits at once, not after the delays (%.2f s)" % (name, run.secs))

# Input edge cases found in review: a line longer than the reader's buffer
# (128 KiB and more) is one record, not several; a blocking-mode crawl
# waiting on an empty pipe stops at SIGINT.
for mode in ("async", "blocking"):
    refused = "http://127.0.0.1:%d/" % closed_port()
    data = (refused + "a\n" + "x" * 300000 + "\n" + refused + "b").encode()  # no final newline
    run = evcrawl("-q", "--retries", "0", "--mode", mode, "-i", "-", stdin=data)
    got = sorted((r["url"][:3] + "..." + r["url"][-16:], (r["error"] or {}).get("kind"))
                 for r in run.records)
    want = sorted([(refused[:3] + "..." + (refused + "a")[-16:], "connect"),
                   (refused[:3] + "..." + (refused + "b")[-16:], "connect"),
                   ("xxx... (line too long)", "bad_url")])
    t.eq(got, want, "--mode %s: a 300 KB line is one bad_url record, its neighbours intact"
         % mode)
sleeper = subprocess.Popen(["sleep", "20"], stdout=subprocess.PIPE)
p = subprocess.Popen([EVCRAWL, "--mode", "blocking", "-i", "-"], stdin=sleeper.stdout,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
sleeper.stdout.close()
time.sleep(0.3)
t0 = time.monotonic()
p.send_signal(signal.SIGINT)
try:
    p.communicate(timeout=5)
    t.eq(p.returncode, 130, "--mode blocking: SIGINT while waiting on stdin exits 130")
    t.ok(time.monotonic() - t0 < 2, "... at once")
except subprocess.TimeoutExpired:
    p.kill()
    p.communicate()
    t.ok(False, "--mode blocking: SIGINT while waiting on stdin exits 130 (it hung)")
sleeper.kill()
sleeper.wait()

t.done()
