#!/usr/bin/env python3
"""Proxies: http and https URLs through real proxies started on loopback
(tinyproxy for HTTP requests and CONNECT, microsocks for SOCKS5, each with
and without credentials) in every --mode, the origin telling who connected
(nginx's /peer: tinyproxy connects from 127.0.0.2, microsocks from
127.0.0.3, evcrawl directly from 127.0.0.1); who resolves the name with
socks5 and socks5h; faultd as a broken HTTP and SOCKS5 proxy (refusals,
garbage, stalls, hang-ups: kind proxy within the time set, never a hang);
the exact request an HTTP proxy gets; the environment variables and
--noproxy; a proxy that is not there; and the library option from Python.

Run: EVCRAWL=build/evcrawl python3 tests/integration/test_proxy.py
"""

import base64
import os
import socket
import sys
import threading

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TESTS, "env"), os.path.join(TESTS, "lib")]

from crawltest import EVCRAWL, t, evcrawl, jsonl_ok, closed_port, run_python  # noqa: E402
import world  # noqa: E402
from world import World  # noqa: E402

MODES = [
    ("async", []),
    ("blocking", ["--mode", "blocking"]),
    ("busy-poll", ["--mode", "busy-poll"]),
    ("threads", ["--mode", "threads", "-c", "2"]),
    ("processes", ["--mode", "processes", "-c", "2"]),
]


def kind(rec):
    return (rec.get("error") or {}).get("kind")


def message(rec):
    return (rec.get("error") or {}).get("message") or ""


def peer(rec):
    return (rec.get("headers") or {}).get("x-peer")


def check_proxies(w):
    """Each proxy kind, http and https, every mode: the page arrives, and the
    origin saw the proxy's address."""
    plain = "http://127.0.0.1:%d/peer" % w.http_port
    secure = "https://localhost:%d/peer" % w.https_port
    u, tp, sp = world.PROXY_USER, world.TINYPROXY_PASS, world.SOCKS_PASS_URL
    proxies = [
        ("none", None, "127.0.0.1"),
        ("http", "http://127.0.0.1:%d" % w.http_proxy_port, world.TINYPROXY_FROM),
        ("http+auth", "http://%s:%s@127.0.0.1:%d" % (u, tp, w.http_proxy_auth_port),
         world.TINYPROXY_FROM),
        ("socks5", "socks5://127.0.0.1:%d" % w.socks_port, world.SOCKS_FROM),
        ("socks5h", "socks5h://127.0.0.1:%d" % w.socks_port, world.SOCKS_FROM),
        ("socks5h+auth", "socks5h://%s:%s@127.0.0.1:%d" % (u, sp, w.socks_auth_port),
         world.SOCKS_FROM),
    ]
    for mode, margs in MODES:
        for name, proxy, origin_sees in proxies:
            args = margs + ["--cacert", w.ca_file, "--record-header", "X-Peer", "--retries", "0"]
            if proxy:
                args += ["-x", proxy]
            run = evcrawl(*(args + [plain, secure]), timeout=30)
            got = {r["url"]: (r["status"], kind(r), peer(r), r.get("remote_ip"))
                   for r in run.records}
            want = {plain: (200, None, origin_sees, "127.0.0.1"),
                    secure: (200, None, origin_sees, "127.0.0.1")}
            t.eq((run.rc, got), (0, want),
                 "%s, %s: http and https arrive; the origin sees %s" % (mode, name, origin_sees),
                 run.err[-1500:] + "\n" + run.out.decode(errors="replace")[-1500:])


def check_who_resolves(w):
    """socks5h hands the name to the proxy; socks5 resolves it here. With
    evcrawl's own answer for localhost pointing nowhere (127.0.0.9), only
    the proxy's lookup reaches nginx."""
    url = "http://localhost:%d/peer" % w.http_port
    wrong = ["--resolve", "localhost:%d:127.0.0.9" % w.http_port, "--retries", "0",
             "--record-header", "X-Peer"]
    for mode, margs in MODES[:2]:
        run = evcrawl(*(margs + wrong + ["-x", "socks5h://127.0.0.1:%d" % w.socks_port, url]))
        r = run.records[0] if run.records else {}
        t.eq((r.get("status"), kind(r), peer(r)), (200, None, world.SOCKS_FROM),
             "%s: socks5h: the proxy resolved localhost itself" % mode, run.err)
        run = evcrawl(*(margs + wrong + ["-x", "socks5://127.0.0.1:%d" % w.socks_port, url]))
        r = run.records[0] if run.records else {}
        t.eq((r.get("status"), kind(r)), (None, "proxy"),
             "%s: socks5: evcrawl resolved it (to 127.0.0.9) and the proxy could not "
             "connect there" % mode, r)
        t.ok("could not connect to localhost:%d" % w.http_port in message(r),
             "%s: socks5: the message names the origin" % mode, message(r))
        run = evcrawl(*(margs + wrong + [url]))
        r = run.records[0] if run.records else {}
        t.eq(kind(r), "connect", "%s: no proxy: the same answer fails to connect" % mode, r)


def check_credentials(w):
    """Wrong or missing credentials: kind proxy, saying which."""
    url = "http://127.0.0.1:%d/p/1.html" % w.http_port
    secure = "https://localhost:%d/p/1.html" % w.https_port
    cases = [
        ("tinyproxy, none, http", "http://127.0.0.1:%d" % w.http_proxy_auth_port, url,
         407, "the proxy wants credentials (407)"),
        ("tinyproxy, wrong, https", "http://evc:nope@127.0.0.1:%d" % w.http_proxy_auth_port,
         secure, None, "the HTTP proxy 127.0.0.1:%d refused the tunnel to localhost:%d: 401 "
         "Unauthorized" % (w.http_proxy_auth_port, w.https_port)),
        ("tinyproxy, none, https", "http://127.0.0.1:%d" % w.http_proxy_auth_port, secure,
         None, "the HTTP proxy 127.0.0.1:%d wants credentials (407 Proxy Authentication "
               "Required)" % w.http_proxy_auth_port),
        ("microsocks, none", "socks5h://127.0.0.1:%d" % w.socks_auth_port, url,
         None, "the SOCKS5 proxy 127.0.0.1:%d wants a user name and password"
               % w.socks_auth_port),
        ("microsocks, wrong", "socks5h://evc:nope@127.0.0.1:%d" % w.socks_auth_port, url,
         None, "the SOCKS5 proxy 127.0.0.1:%d refused the user name and password"
               % w.socks_auth_port),
    ]
    for mode, margs in MODES[:2]:
        for desc, proxy, u, status, msg in cases:
            run = evcrawl(*(margs + ["--cacert", w.ca_file, "--retries", "2", "-x", proxy, u]))
            r = run.records[0] if run.records else {}
            t.eq((r.get("status"), kind(r), r.get("attempts"), message(r).startswith(msg),
                  run.rc), (status, "proxy", 1, True, 1),
                 "%s: %s: kind proxy, not retried, exit 1" % (mode, desc), r)
        # tinyproxy answers wrong credentials on a plain request with a 401
        # of its own: that is the response (there is no telling it from an
        # origin's).
        run = evcrawl(*(margs + ["-x", "http://evc:nope@127.0.0.1:%d" % w.http_proxy_auth_port,
                                 url]))
        r = run.records[0] if run.records else {}
        t.eq((r.get("status"), kind(r)), (401, None),
             "%s: tinyproxy, wrong, http: its 401 is the record's status" % mode, r)


# faultd as a broken proxy: what each misbehaviour gives, as (status, kind,
# message start, seconds at least, at most). The proxy's handshake (CONNECT,
# SOCKS5) has --connect-timeout (1 s); a plain request through an HTTP proxy
# has --idle-timeout (2 s) and --timeout (3 s).
def broken_expect(fault, via, fport):
    http = "the HTTP proxy 127.0.0.1:%d " % fport
    socks = "the SOCKS5 proxy 127.0.0.1:%d " % fport
    stall = (None, "proxy", "the proxy did not answer within 1000 ms", 0.9, 1.8)
    table = {
        ("forbidden", "connect"): (None, "proxy", http + "refused the tunnel to "
                                   "forbidden.proxy:443: 403 Forbidden", 0, 1),
        ("unavailable", "connect"): (None, "proxy", http + "refused the tunnel to "
                                     "unavailable.proxy:443: 503 Service Unavailable", 0, 1),
        ("refused", "connect"): (None, "proxy", http + "refused the tunnel to "
                                 "refused.proxy:443: 502 Bad Gateway", 0, 1),
        ("auth", "connect"): (None, "proxy", http + "wants credentials (407", 0, 1),
        ("garbage", "connect"): (None, "proxy", http + "answered CONNECT with something "
                                 "that is not HTTP", 0, 1),
        ("stall", "connect"): stall,
        ("close", "connect"): (None, "proxy", http + "closed the connection before it "
                               "answered", 0, 1),
        ("trickle", "connect"): stall,
        ("huge", "connect"): (None, "proxy", http + "sent an answer longer than 16384 bytes",
                              0, 1),
        ("early", "connect"): (None, "tls", "TLS handshake failed", 0, 1),
        # A plain request: the proxy's answer is the response.
        ("forbidden", "plain"): (403, None, "", 0, 1),
        ("unavailable", "plain"): (503, None, "", 0, 1),
        ("refused", "plain"): (502, None, "", 0, 1),
        ("auth", "plain"): (407, "proxy", "the proxy wants credentials (407)", 0, 1),
        ("garbage", "plain"): (None, "proxy", "the HTTP proxy's answer: not an HTTP/1.x "
                               "response", 0, 1),
        ("stall", "plain"): (None, "timeout", "no data received for 2000 ms", 1.9, 2.9),
        ("close", "plain"): (None, "proxy", "the HTTP proxy closed the connection without "
                             "answering", 0, 1),
        ("trickle", "plain"): (None, "timeout", "whole fetch timed out after 3000 ms", 2.9, 4),
        ("huge", "plain"): (None, "proxy", "the HTTP proxy's answer: response head larger "
                            "than 64 KiB", 0, 1),
        ("early", "plain"): (200, None, "", 0, 1),       # a body up to the close
        ("forbidden", "socks"): (None, "proxy", socks + "could not connect to "
                                 "forbidden.proxy:443: connection not allowed by its rules", 0, 1),
        ("unavailable", "socks"): (None, "proxy", socks + "could not connect to "
                                   "unavailable.proxy:443: general SOCKS server failure", 0, 1),
        ("refused", "socks"): (None, "proxy", socks + "could not connect to refused.proxy:443: "
                               "connection refused", 0, 1),
        ("garbage", "socks"): (None, "proxy", socks + "did not answer as a SOCKS5 proxy", 0, 1),
        ("stall", "socks"): stall,
        ("close", "socks"): (None, "proxy", socks + "closed the connection before it answered",
                             0, 1),
        ("trickle", "socks"): stall,
    }
    return table.get((fault, via))


def check_broken_proxy(w):
    fport = w.fault_port
    timing = ["--connect-timeout", "1", "--idle-timeout", "2", "--timeout", "3",
              "--retries", "0"]
    for mode, margs in MODES[:3]:
        for via, proxy, scheme in (("connect", "http://127.0.0.1:%d" % fport, "https"),
                                   ("plain", "http://127.0.0.1:%d" % fport, "http"),
                                   ("socks", "socks5h://127.0.0.1:%d" % fport, "https")):
            if mode == "busy-poll" and via == "plain":
                continue        # its own spin is the handshake's: CONNECT, SOCKS5
            urls = {}
            for fault in ("forbidden", "unavailable", "refused", "auth", "garbage", "stall",
                          "close", "trickle", "huge", "early"):
                want = broken_expect(fault, via, fport)
                if want:
                    urls["%s://%s.proxy/x" % (scheme, fault)] = (fault, want)
            run = evcrawl(*(margs + timing + ["-c", "20", "-x", proxy] + list(urls)),
                          timeout=60)
            jsonl_ok(run, "%s, broken %s proxy" % (mode, via))
            got = run.by_url()
            t.eq(sorted(got), sorted(urls), "%s, broken %s proxy: one record per URL" % (mode, via))
            for url, (fault, (status, k, msg, lo, hi)) in sorted(urls.items()):
                r = got.get(url, {})
                secs = ((r.get("time_ms") or {}).get("total") or 0) / 1000.0
                t.ok(r.get("status") == status and kind(r) == k and message(r).startswith(msg)
                     and lo <= secs <= hi,
                     "%s, %s through the broken %s proxy: %s %s '%s' in %s..%s s"
                     % (mode, fault, via, status, k, msg, lo, hi),
                     "got %s %s '%s' in %.2f s" % (r.get("status"), kind(r), message(r), secs))


def check_request_to_proxy(w):
    """What an HTTP proxy gets for a plain URL: the whole URL as target,
    Host, and Proxy-Authorization; a SOCKS5 tunnel carries the origin's
    request unchanged. faultd's /echo shows it."""
    fport = w.fault_port
    url = "http://origin.test:8081/echo?a=1"
    auth = base64.b64encode(b"us er:p@ss").decode()
    import tempfile
    for mode, margs in MODES[:2]:
        # The body, saved: exactly what was sent.
        with tempfile.TemporaryDirectory() as d:
            run = evcrawl(*(margs + ["-o", d, "-x", "http://us%%20er:p%%40ss@127.0.0.1:%d"
                                     % fport, url]))
            with open(os.path.join(d, "origin.test_8081", "echo@a=1"), "rb") as f:
                head = f.read().decode("latin-1").split("\r\n")
            t.eq(head[0], "GET http://origin.test:8081/echo?a=1 HTTP/1.1",
                 "%s: HTTP proxy: the request line names the whole URL" % mode, run.err)
            t.eq([h for h in head if h.split(":")[0] in ("Host", "Proxy-Authorization")],
                 ["Host: origin.test:8081", "Proxy-Authorization: Basic " + auth],
                 "%s: HTTP proxy: Host and Proxy-Authorization (Basic, decoded credentials)"
                 % mode)
    with tempfile.TemporaryDirectory() as d:
        run = evcrawl("-o", d, "-x", "socks5h://u:p@127.0.0.1:%d" % fport, url)
        with open(os.path.join(d, "origin.test_8081", "echo@a=1"), "rb") as f:
            head = f.read().decode("latin-1").split("\r\n")
        t.eq((head[0], [h for h in head if h.startswith("Proxy-")]),
             ("GET /echo?a=1 HTTP/1.1", []),
             "SOCKS5 tunnel: the origin's request, no proxy header", run.err)


def check_environment(w):
    """curl's variables: http_proxy (lower case only), https_proxy,
    all_proxy, no_proxy (either case); -x and --noproxy win."""
    page = "http://127.0.0.1:%d/p/1.html" % w.http_port      # nginx: 2048 bytes
    fault = "http://127.0.0.1:%d" % w.fault_port               # faultd: 404 for /p/1.html
    base = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}

    def status(env, *args):
        run = evcrawl_env(dict(base, **env), *(list(args) + ["--retries", "0", page]))
        r = run.records[0] if run.records else {}
        return (r.get("status"), kind(r)) if run.rc in (0, 1) else (run.rc, run.err.strip())

    direct, proxied = (200, None), (404, None)
    t.eq(status({}), direct, "no variables: direct")
    t.eq(status({"http_proxy": fault}), proxied, "http_proxy: through it")
    t.eq(status({"HTTP_PROXY": fault}), direct, "HTTP_PROXY (upper case) is not read, as in curl")
    t.eq(status({"all_proxy": fault}), proxied, "all_proxy: through it")
    t.eq(status({"ALL_PROXY": fault}), proxied, "ALL_PROXY: through it")
    t.eq(status({"http_proxy": fault, "no_proxy": "127.0.0.1"}), direct, "no_proxy: an address")
    t.eq(status({"http_proxy": fault, "NO_PROXY": "127.0.0.0/8"}), direct, "NO_PROXY: a range")
    t.eq(status({"http_proxy": fault, "no_proxy": "*"}), direct, "no_proxy=*")
    t.eq(status({"http_proxy": fault, "no_proxy": "10.0.0.0/8"}), proxied,
         "no_proxy that does not match")
    t.eq(status({"http_proxy": fault}, "--noproxy", "127.0.0.1"), direct, "--noproxy")
    t.eq(status({"http_proxy": fault, "no_proxy": "127.0.0.1"}, "--noproxy", "other.test"),
         proxied, "--noproxy replaces no_proxy")
    t.eq(status({"http_proxy": "http://127.0.0.1:%d" % closed_port()}, "-x", fault), proxied,
         "-x wins over http_proxy")
    t.eq(status({}, "-x", fault, "--noproxy", "*"), direct, "--noproxy '*' even with -x")
    # https_proxy is for https URLs only.
    secure = "https://forbidden.proxy/"
    for var in ("https_proxy", "HTTPS_PROXY"):
        run = evcrawl_env(dict(base, **{var: fault}), "--retries", "0", secure, page)
        got = {r["url"]: kind(r) for r in run.records}
        t.eq(got, {secure: "proxy", page: None}, "%s: https through it, http direct" % var,
             run.out)
    run = evcrawl_env(dict(base, https_proxy="socks4://127.0.0.1:1"), page)
    t.eq((run.rc, run.records), (2, []), "a bad proxy in the environment is a usage error")
    t.ok("bad proxy 'socks4://127.0.0.1:1' (from the environment): SOCKS4" in run.err,
         "... saying where it came from", run.err)


def evcrawl_env(env, *args):
    import subprocess
    import time
    from crawltest import Run
    t0 = time.monotonic()
    p = subprocess.run([EVCRAWL] + [str(a) for a in args], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return Run(p.returncode, p.stdout, p.stderr, time.monotonic() - t0)


def check_unreachable(w):
    """No proxy there, or its name does not resolve: kind proxy at once,
    retried like a connect failure (the refusal) or not (the name)."""
    dns = "--dns-server=127.0.0.1:%d" % w.dns_port
    page = "http://127.0.0.1:%d/p/1.html" % w.http_port
    port = closed_port()
    for mode, margs in MODES[:2]:
        run = evcrawl(*(margs + [dns, "--retries", "1", "-x", "http://127.0.0.1:%d" % port,
                                 page]))
        r = run.records[0] if run.records else {}
        t.eq((kind(r), r.get("attempts"), message(r)),
             ("proxy", 2, "cannot connect to the proxy 127.0.0.1 port %d: Connection refused"
              % port), "%s: a proxy that is not there: kind proxy, retried" % mode, r)
        run = evcrawl(*(margs + [dns, "--retries", "1", "-x", "socks5h://nosuch.test:1080",
                                 page]))
        r = run.records[0] if run.records else {}
        t.eq((kind(r), r.get("attempts"), message(r).startswith(
            "cannot resolve the proxy's host nosuch.test")),
             ("proxy", 1, True), "%s: a proxy name that does not resolve" % mode, r)
    run = evcrawl("-x", "https://127.0.0.1:3128", page)
    t.eq(run.rc, 2, "an https:// proxy is refused at the start")
    t.ok("HTTPS proxies" in run.err, "... saying so", run.err)
    for opt in ("--proxy-user", "--socks5"):
        run = evcrawl(opt, "x", page)
        t.ok(run.rc == 2 and "-x" in run.err, "%s: a hint to use -x" % opt, run.err)


class OneAnswer(threading.Thread):
    """A TCP server on loopback that answers every connection with the same
    bytes and closes."""

    def __init__(self, answer):
        super().__init__(daemon=True)
        self.answer = answer
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False

    def run(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            with c:
                c.settimeout(2)
                try:
                    c.recv(65536)
                    c.sendall(self.answer)
                except OSError:
                    pass

    def stop(self):
        self.stopping = True
        self.join()
        self.sock.close()


def check_review_fixes(w):
    """What an independent review found, each checked on its exact outcome."""
    fport = w.fault_port
    # An origin's 407 through a SOCKS5 proxy is the origin's answer.
    origin = OneAnswer(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n"
                       b"Connection: close\r\n\r\n")
    origin.start()
    for mode, margs in MODES[:2]:
        run = evcrawl(*(margs + ["-x", "socks5://127.0.0.1:%d" % w.socks_port,
                                 "http://127.0.0.1:%d/" % origin.port]))
        r = run.records[0] if run.records else {}
        t.eq((r.get("status"), kind(r)), (407, None),
             "%s: an origin's 407 through SOCKS5 is its answer, not the proxy's" % mode, r)
    origin.stop()

    # --politeness-key ip asks no DNS server about a name the proxy resolves.
    dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dns.bind(("127.0.0.1", 0))
    dns.setblocking(False)
    args = ["--politeness-key", "ip", "--dns-server", "127.0.0.1:%d" % dns.getsockname()[1],
            "--dns-timeout", "0.5", "--retries", "0", "http://secret.test/ok"]

    def queries():
        n = 0
        while True:
            try:
                dns.recv(512)
                n += 1
            except BlockingIOError:
                return n
    run = evcrawl(*(["-x", "socks5h://127.0.0.1:%d" % fport] + args))
    r = run.records[0] if run.records else {}
    t.eq((r.get("status"), kind(r), queries()), (200, None, 0),
         "--politeness-key ip through socks5h: no lookup here", r)
    run = evcrawl(*(["-x", "socks5://127.0.0.1:%d" % fport] + args))
    r = run.records[0] if run.records else {}
    t.ok(kind(r) == "dns" and queries() > 0,
         "... through socks5 the name is looked up here (the control)", r)
    dns.close()

    # -v stars out the proxy's credentials.
    run = evcrawl("-v", "-x", "http://user:secret@127.0.0.1:%d" % fport, "http://a.test/ok")
    secret = base64.b64encode(b"user:secret").decode()
    t.ok("> Proxy-Authorization: Basic " + "*" * len(secret) in run.err and secret not in run.err,
         "-v: the proxy's credentials are starred out", run.err[-1500:])
    # A bad proxy URL is named without its password.
    run = evcrawl("-x", "http://user:secret@proxy:99999", "http://a.test/")
    t.ok(run.rc == 2 and "'http://***@proxy:99999'" in run.err and "secret" not in run.err,
         "a bad proxy URL is shown without its credentials", run.err)
    # robots.txt through a failing proxy: the proxy's error, not "disallowed".
    for mode, margs in MODES[:1]:
        run = evcrawl(*(margs + ["--robots", "--retries", "0", "-x",
                                 "http://127.0.0.1:%d" % fport, "http://auth.proxy/a",
                                 "http://auth.proxy/b"]))
        got = sorted((r["url"], kind(r), message(r)) for r in run.records)
        msg = ("robots.txt: the proxy wants credentials (407): give them in the proxy URL, "
               "http://USER:PASSWORD@HOST:PORT")
        t.eq(got, [("http://auth.proxy/a", "proxy", msg), ("http://auth.proxy/b", "proxy", msg)],
             "%s: --robots through a proxy that refuses: kind proxy, not a robots verdict"
             % mode)


def check_python(w):
    """The library option, through the Python binding."""
    code = ("import evcrawl\n"
            "r = list(evcrawl.crawl(['http://127.0.0.1:%d/peer'], proxy='socks5://127.0.0.1:%d',"
            " record_header=['X-Peer']))[0]\n"
            "print(r['status'], r['headers']['x-peer'])\n" % (w.http_port, w.socks_port))
    p = run_python(code)
    t.eq(p.stdout.strip(), "200 " + world.SOCKS_FROM, "Python: crawl(proxy=...)", p.stderr)


def main():
    with World(pages=10, tls=True, proxies=True) as w:
        check_proxies(w)
        check_who_resolves(w)
        check_credentials(w)
        check_broken_proxy(w)
        check_request_to_proxy(w)
        check_environment(w)
        check_unreachable(w)
        check_review_fixes(w)
        check_python(w)
    t.done()


if __name__ == "__main__":
    main()
