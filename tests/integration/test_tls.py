#!/usr/bin/env python3
"""HTTPS: the certificate matrix (tests/env/tlsmatrix.py) checked record by
record; hostile TLS servers (a stall and a reset mid-handshake, plain HTTP on
an https port); a server with a bad certificate is handshaken at most
--per-host times for 1,000 URLs; session resumption counted on the server
side; redirects between http and https; every mode gives the same records;
the library options through the Python binding; and a mixed crawl runs clean
under valgrind.

Run: EVCRAWL=build/evcrawl python3 tests/integration/test_tls.py
"""

import json
import os
import shutil
import socket
import select
import ssl
import struct
import subprocess
import sys
import threading
import time

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TESTS, "env"), os.path.join(TESTS, "lib")]

from crawltest import EVCRAWL, t, evcrawl, jsonl_ok, run_python  # noqa: E402
from tlsmatrix import TLSMatrix  # noqa: E402

NAMES = ["good.test", "other.test", "a.wild.test", "a.b.wild.test", "one.test", "two.test"]
MODES = [
    ("async", []),
    ("async/select", ["--selector", "select"]),
    ("blocking", ["--mode", "blocking"]),
    ("busy-poll", ["--mode", "busy-poll"]),
    ("threads", ["--mode", "threads", "-c", "4"]),
    ("processes", ["--mode", "processes", "-c", "4"]),
]


def kind_msg(rec):
    e = rec.get("error") or {}
    return (e.get("kind"), e.get("message"))


def comparable(rec):
    r = dict(rec)
    r.pop("time_ms", None)
    r.pop("started_at", None)
    if "tls" in r:
        r["tls"] = dict(r["tls"])
        r["tls"].pop("resumed")  # which connection resumed depends on timing
    return json.dumps(r, sort_keys=True)


class Hostile(threading.Thread):
    """A TCP server on loopback that misbehaves during the TLS handshake:
    "stall" reads the ClientHello and never answers; "trickle" answers with
    a record header announcing 16 KiB and then one byte every 0.25 s (each
    read gets a byte well within any I/O timeout); "reset" reads it and
    closes with RST; "count" completes TLS handshakes with a self-signed
    certificate (the client refuses it) and counts connections."""

    def __init__(self, how, certfile=None, keyfile=None):
        super().__init__(daemon=True)
        self.how = how
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stop_flag = False
        self.held = []
        self.ctx = None
        if certfile:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(certfile, keyfile)

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stop_flag:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted += 1
            c.settimeout(2)
            try:
                c.recv(4096)  # the ClientHello
                if self.how == "reset":
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    c.close()
                elif self.how == "stall":
                    self.held.append(c)  # never answers; closed at stop
                elif self.how == "trickle":
                    self.held.append(c)
                    threading.Thread(target=self.trickle, args=(c,), daemon=True).start()
                else:
                    c.close()
            except OSError:
                c.close()

    def trickle(self, c):
        data = b"\x16\x03\x03\x40\x00" + b"\x00" * 40
        try:
            for i in range(len(data)):
                if self.stop_flag:
                    return
                c.sendall(data[i:i + 1])
                time.sleep(0.25)
        except OSError:
            pass

    def stop(self):
        self.stop_flag = True
        self.join(5)
        for c in self.held:
            c.close()
        self.sock.close()


class Counting(threading.Thread):
    """A TLS server (Python's ssl module, not nginx) that counts the
    handshakes it is asked for."""

    def __init__(self, certfile, keyfile):
        super().__init__(daemon=True)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(certfile, keyfile)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.handshakes = 0
        self.stop_flag = False

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stop_flag:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.handshakes += 1
            c.settimeout(2)
            try:
                self.ctx.wrap_socket(c, server_side=True).close()
            except (OSError, ssl.SSLError):
                c.close()

    def stop(self):
        self.stop_flag = True
        self.join(5)
        self.sock.close()


class Holding(threading.Thread):
    """A TCP server that reads the ClientHello and never answers, and
    counts how many connections it holds at once (the most at any time)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.accepted = self.most = 0
        self.stop_flag = False

    def run(self):
        held = []
        while not self.stop_flag:
            ready, _, _ = select.select([self.sock] + held, [], [], 0.1)
            # Closes first: a client that closes one connection and then
            # opens the next must not look like two at once.
            for c in [c for c in ready if c is not self.sock]:
                try:
                    data = c.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    held.remove(c)
                    c.close()
            if self.sock in ready:
                c, _ = self.sock.accept()
                held.append(c)
                self.accepted += 1
                self.most = max(self.most, len(held))
        for c in held:
            c.close()

    def stop(self):
        self.stop_flag = True
        self.join(5)
        self.sock.close()


class SServer:
    """openssl s_server in its echo mode: what the client sends comes out on
    its stdout, and what we write to its stdin goes to the client, except
    the line "k" (send a TLS 1.3 KeyUpdate) and "K" (a KeyUpdate asking the
    client for one back). One connection at a time."""

    def __init__(self, cert, chain, key):
        self.p = subprocess.Popen(
            ["openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", cert, "-cert_chain",
             chain, "-key", key, "-tls1_3", "-crlf"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        self.out = b""
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        self.wait_for(b"ACCEPT 127.0.0.1:")
        self.wait_for(b"\n")
        self.port = int(self.out.split(b"ACCEPT 127.0.0.1:")[1].split(b"\n")[0])

    def _read(self):
        while True:
            b = self.p.stdout.read1(4096)
            if not b:
                return
            with self.lock:
                self.out += b

    def wait_for(self, what, secs=10):
        end = time.monotonic() + secs
        while time.monotonic() < end:
            with self.lock:
                if what in self.out:
                    return True
            time.sleep(0.02)
        return False

    def send(self, text):
        self.p.stdin.write(text)
        self.p.stdin.flush()

    def stop(self):
        self.p.kill()
        self.p.wait()


def read_record(proc, secs=10):
    """The next JSON record on a running evcrawl's stdout, or None."""
    ready, _, _ = select.select([proc.stdout], [], [], secs)
    return json.loads(proc.stdout.readline()) if ready else None


with TLSMatrix() as m:
    P = m.port
    resolve = []
    for n in NAMES:
        resolve += ["--resolve", "%s:*:127.0.0.1" % n]
    base = ["-q", "--retries", "0", "--connect-timeout", "2"] + resolve
    ca = ["--cacert", m.ca_file]

    def u(case, host="good.test", path="/"):
        return "https://%s:%d%s" % (host, P[case], path)

    # ---- the matrix, record by record ---------------------------------------
    matrix = [
        (u("chain"), 200, 6, None),
        (u("leafonly"), None, 0, ("tls", "certificate verify failed: unable to get local "
                                  "issuer certificate")),
        (u("expired"), None, 0, ("tls", "certificate verify failed: certificate has expired")),
        (u("notyet"), None, 0, ("tls", "certificate verify failed: certificate is not yet "
                                "valid")),
        (u("wrongname"), None, 0, ("tls", "certificate verify failed: hostname mismatch")),
        (u("wildcard", "a.wild.test"), 200, 9, None),
        (u("wildcard", "a.b.wild.test"), None, 0,
         ("tls", "certificate verify failed: hostname mismatch")),
        (u("selfsigned"), None, 0, ("tls", "certificate verify failed: self-signed "
                                    "certificate")),
        (u("ip", "127.0.0.1"), 200, 3, None),
        (u("sni", "one.test"), 200, 4, None),
        (u("sni", "two.test"), 200, 7, None),
        (u("tls10"), None, 0, ("tls", "TLS handshake failed: tlsv1 alert protocol version")),
        (u("plain"), None, 0, ("tls", "TLS handshake failed: wrong version number")),
    ]
    urls = [x[0] for x in matrix]
    run = evcrawl(*(base + ca + urls), timeout=60)
    jsonl_ok(run, "matrix")
    got = run.by_url()
    for url, status, nbytes, err in matrix:
        r = got.get(url, {})
        t.eq((r.get("status"), r.get("bytes"), kind_msg(r) if err else None),
             (status, nbytes, err), "matrix %s: %s" % (url.split("/")[2], err[1] if err
                                                      else "%d, %d bytes" % (status, nbytes)),
             r)
    r = got.get(u("chain"), {})
    t.eq((r.get("tls", {}).get("version"), r.get("tls", {}).get("alpn"),
          r.get("tls", {}).get("resumed"), bool(r.get("tls", {}).get("cipher"))),
         ("TLSv1.3", "http/1.1", False, True), "an https record has tls{version,cipher,alpn,resumed}",
         r)
    t.ok(r.get("time_ms", {}).get("tls") is not None and r["time_ms"]["tls"] > 0,
         "... and time_ms.tls is the handshake time", r.get("time_ms"))
    t.ok("tls" not in (got.get(u("leafonly")) or {}), "a failed handshake has no tls object")
    t.eq(run.rc, 1, "the matrix exits 1 (it has failures)")

    # ---- --cert-info: the leaf certificate, verified or not --------------------
    run = evcrawl(*(base + ca + ["--cert-info", u("chain"), u("expired"), u("ip", "127.0.0.1")]))
    got = run.by_url()
    c = got.get(u("chain"), {}).get("cert", {})
    t.eq((c.get("subject"), c.get("issuer"), c.get("sans")),
         ("CN=good.test", "CN=evcrawl matrix intermediate", ["DNS:good.test"]),
         "--cert-info: subject, issuer and SANs of the leaf", c)
    t.ok(3640 <= c.get("days_left", 0) <= 3650 and c.get("not_after", "").endswith("Z"),
         "... not_after and days_left (the test PKI's 10 years)", c)
    c = got.get(u("expired"), {}).get("cert", {})
    t.eq((c.get("not_before"), c.get("not_after"), c.get("days_left", 0) < -2000),
         ("2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z", True),
         "--cert-info on a certificate that failed: still shown, days_left negative", c)
    t.eq(got.get(u("ip", "127.0.0.1"), {}).get("cert", {}).get("sans"), ["IP:127.0.0.1"],
         "--cert-info: an IP SAN")
    expiring = [r["url"] for r in run.records if r.get("cert", {}).get("days_left", 99) < 30]
    t.eq(expiring, [u("expired")], "which hosts expire within 30 days: one filter on the JSONL")
    run = evcrawl(*(base + ca + [u("chain")]))
    t.ok("cert" not in run.records[0], "without --cert-info no cert object")

    # ---- verification: the system store, -k, --capath, --tls-min -------------
    run = evcrawl(*(base + [u("chain")]))
    t.eq([kind_msg(r) for r in run.records],
         [("tls", "certificate verify failed: unable to get local issuer certificate")],
         "without --cacert our CA is unknown (the system store is used)")
    run = evcrawl(*(["-k"] + base[1:] + [u("selfsigned"), u("expired"), u("wrongname")]))
    t.eq(sorted((r["status"], r["error"]) for r in run.records), [(200, None)] * 3,
         "-k: self-signed, expired and wrong-name servers answer 200", run.err)
    t.eq(run.err.count("not checked"), 1, "-k says once on stderr that nothing is checked",
         run.err)
    capath = os.path.join(m.dir, "capath")
    os.makedirs(capath)
    h = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", m.ca_file],
                       capture_output=True, text=True).stdout.strip()
    shutil.copy(m.ca_file, os.path.join(capath, h + ".0"))
    run = evcrawl(*(base + ["--capath", capath, u("chain")]))
    t.eq([(r["status"], r["error"]) for r in run.records], [(200, None)],
         "--capath DIR with the CA hashed in it verifies")
    run = evcrawl(*(base + ca + ["--tls-min", "1.3", u("close12"), u("close13")]))
    t.eq(sorted((r["url"] == u("close13"), r["status"], (r["error"] or {}).get("kind"))
                for r in run.records), [(False, None, "tls"), (True, 200, None)],
         "--tls-min 1.3: a TLS 1.2-only server is refused, a 1.3 one is fine")
    run = evcrawl("--cacert", "/nonexistent/ca.pem", u("chain"))
    t.ok(run.rc == 2 and "--cacert" in run.err, "--cacert of a missing file: usage error",
         run.err)
    run = evcrawl("--tls-min", "1.1", u("chain"))
    t.ok(run.rc == 2 and "--tls-min" in run.err, "--tls-min 1.1: usage error", run.err)

    # ---- hostile handshakes ----------------------------------------------------
    stall, reset = Hostile("stall"), Hostile("reset")
    stall.start()
    reset.start()
    t0 = time.monotonic()
    run = evcrawl(*(["-q", "--retries", "0", "--connect-timeout", "1", "--resolve",
                     "good.test:*:127.0.0.1"] +
                    ["https://good.test:%d/" % stall.port, "https://good.test:%d/" % reset.port]),
                  timeout=30)
    took = time.monotonic() - t0
    got = {int(r["url"].split(":")[2].rstrip("/")): r for r in run.records}
    t.eq(kind_msg(got.get(stall.port, {})), ("timeout", "TLS handshake timed out after 1000 ms"),
         "a server that stalls mid-handshake: timeout after --connect-timeout")
    t.eq(kind_msg(got.get(reset.port, {})),
         ("tls", "TLS handshake: Connection reset by peer"),
         "a reset mid-handshake: tls, saying so")
    t.ok(took < 5, "... and the run ends by itself (%.1f s)" % took)
    stall.stop()
    reset.stop()
    # A byte every 0.25 s: each read is well within any I/O timeout, but the
    # handshake as a whole has --connect-timeout, in every engine.
    trickle = Hostile("trickle")
    trickle.start()
    for mode in ("async", "blocking", "busy-poll"):
        t0 = time.monotonic()
        run = evcrawl("-q", "--retries", "0", "--connect-timeout", "1", "--mode", mode,
                      "--resolve", "good.test:*:127.0.0.1", "https://good.test:%d/" % trickle.port,
                      timeout=30)
        took = time.monotonic() - t0
        t.eq(kind_msg(run.records[0] if run.records else {}),
             ("timeout", "TLS handshake timed out after 1000 ms"),
             "%s: a server that trickles its handshake a byte at a time: timeout after "
             "--connect-timeout" % mode)
        t.ok(took < 2.5, "... within it (%.1f s)" % took)
    trickle.stop()

    # ---- a KeyUpdate on an idle kept-alive connection ------------------------------
    # The server sends TLS records that carry no data while the connection
    # waits in the pool; it stays open and carries the next request.
    for mode in (["--mode", "async"], ["--mode", "blocking"]):
        srv = SServer(*[os.path.join(m.dir, "pki", f) for f in ("good.pem", "inter.pem",
                                                                 "good.key")])
        proc = subprocess.Popen([EVCRAWL, "-q", "-i", "-", "--resolve",
                                 "good.test:%d:127.0.0.1" % srv.port] + ca + mode,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        answer = b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok"
        recs = []
        for i in (1, 2):
            proc.stdin.write(b"https://good.test:%d/%d\n" % (srv.port, i))
            proc.stdin.flush()
            if srv.wait_for(b"GET /%d HTTP/1.1" % i):
                srv.send(answer)
            recs.append(read_record(proc))
            if i == 1:
                srv.send(b"k\n")  # a KeyUpdate
                time.sleep(0.3)
                srv.send(b"K\n")  # a KeyUpdate that wants one back
                time.sleep(0.3)
        proc.stdin.close()
        proc.wait(10)
        srv.stop()
        got = [(r or {}).get("status") for r in recs]
        tls_ms = [((r or {}).get("time_ms") or {}).get("tls") for r in recs]
        t.eq((got, tls_ms[1], srv.out.count(b"CIPHER is")), ([200, 200], None, 1),
             "%s: KeyUpdates on an idle kept-alive connection: it stays, and the next "
             "request goes on it (no new handshake)" % mode[1], srv.out[-600:])

    # ---- --max-handshakes: https connections being set up at once --------------
    for cap, most in (("3", 3), ("0", 12)):
        hold = Holding()
        hold.start()
        run = evcrawl(*(["-q", "--retries", "0", "--connect-timeout", "0.5", "-c", "12",
                         "--per-host", "12", "--max-handshakes", cap] +
                        ["https://127.0.0.1:%d/%d" % (hold.port, i) for i in range(12)]),
                      timeout=30)
        hold.stop()
        t.eq(({kind_msg(r) for r in run.records}, len(run.records)),
             ({("timeout", "TLS handshake timed out after 500 ms")}, 12),
             "--max-handshakes %s: 12 stalled handshakes, 12 timeout records" % cap)
        t.eq((hold.accepted, hold.most), (12, most),
             "... 12 connections, at most %d at once on the server" % most)

    # ---- a bad certificate costs at most --per-host handshakes ------------------
    counting = Counting(os.path.join(m.dir, "pki", "self-chain.pem"),
                        os.path.join(m.dir, "pki", "self.key"))
    counting.start()
    many = ["https://good.test:%d/%d" % (counting.port, i) for i in range(1000)]
    listfile = os.path.join(m.dir, "many.txt")
    with open(listfile, "w") as f:
        f.write("\n".join(many) + "\n")
    run = evcrawl(*(["-q", "--retries", "0", "--per-host", "4", "-c", "100", "-i", listfile,
                     "--resolve", "good.test:*:127.0.0.1"] + ca), timeout=60)
    counting.stop()
    kinds = {kind_msg(r) for r in run.records}
    t.eq((len(run.records), kinds),
         (1000, {("tls", "certificate verify failed: self-signed certificate")}),
         "1,000 URLs to a server with a self-signed certificate: 1,000 tls records")
    t.ok(1 <= counting.handshakes <= 4,
         "... for at most --per-host (4) handshakes on the server (%d)" % counting.handshakes)

    # ---- resumption, counted on the server ----------------------------------------
    for case, version in (("close12", "TLSv1.2"), ("close13", "TLSv1.3")):
        before = len(m.resumed(case))
        run = evcrawl(*(base + ca + ["-c", "1"] + [u(case, path="/%d" % i) for i in range(30)]))
        flags = m.resumed(case)[before:]
        t.eq((len(run.records), len(flags), {r["tls"]["version"] for r in run.records}),
             (30, 30, {version}), "%s: 30 fetches, 30 connections (the server closes each)"
             % case)
        share = flags[1:].count("r") / 29.0
        t.ok(share >= 0.9, "%s: %.0f %% of the handshakes after the first resumed (server's "
             "$ssl_session_reused)" % (case, share * 100), flags)
        t.eq(sum(1 for r in run.records if r["tls"]["resumed"]), flags.count("r"),
             "%s: the records' tls.resumed agree with the server" % case)

    # ---- redirects between http and https ------------------------------------------
    run = evcrawl(*(base + ca + [u("chain", path="/to-plain"),
                                 "http://good.test:%d/to-tls" % P["plain"]]))
    got = run.by_url()
    r1 = got.get(u("chain", path="/to-plain"), {})
    r2 = got.get("http://good.test:%d/to-tls" % P["plain"], {})
    t.eq((r1.get("final_url"), r1.get("status"), r1.get("bytes"), "tls" in r1),
         ("http://good.test:%d/" % P["plain"], 200, 6, False), "https -> http redirect")
    t.eq((r2.get("final_url"), r2.get("status"), r2.get("bytes"), "tls" in r2),
         ("https://good.test:%d/" % P["chain"], 200, 6, True), "http -> https redirect")

    # ---- every mode, the same records ---------------------------------------------
    results = {}
    for name, args in MODES:
        run = evcrawl(*(base + ca + args + ["--cert-info"] + urls +
                        [u("chain", path="/to-plain")]), timeout=60)
        jsonl_ok(run, name)
        results[name] = sorted(comparable(r) for r in run.records)
    for name, _ in MODES[1:]:
        diff = sorted(set(results[name]) ^ set(results["async"]))
        t.ok(results[name] == results["async"],
             "%s: the same records as async on the matrix (all but times)" % name,
             "\n".join(diff[:6]))

    # ---- the library: options by name (Python binding) ------------------------------
    code = r"""
import json
import evcrawl
recs = list(evcrawl.crawl([%r, %r], cacert=%r, tls_min="1.2", retries=0,
                          resolve=["good.test:*:127.0.0.1"]))
print(json.dumps(sorted([r["url"], r["status"], (r["error"] or {}).get("kind")] for r in recs)))
recs = list(evcrawl.crawl([%r], insecure=True, retries=0, resolve=["good.test:*:127.0.0.1"]))
print(json.dumps([r["status"] for r in recs]))
""" % (u("chain"), u("selfsigned"), m.ca_file, u("selfsigned"))
    p = run_python(code)
    lines = p.stdout.splitlines()
    t.eq(lines[:1], [json.dumps(sorted([[u("chain"), 200, None],
                                        [u("selfsigned"), None, "tls"]]))],
         "Python binding: cacert and tls_min options", p.stderr[-800:])
    t.eq(lines[1:2], ["[200]"], "Python binding: insecure=True", p.stderr[-800:])

    # ---- valgrind: a crawl mixing failures and successes, no definite leaks -----------
    if "sanitize" in os.environ.get("EVC_BUILD", ""):
        t.skip("valgrind on a mixed https crawl", "the sanitizer build (ASan checks it there)")
    else:
        p = subprocess.run(
            ["valgrind", "-q", "--leak-check=full", "--errors-for-leak-kinds=definite",
             "--error-exitcode=99", EVCRAWL] + base + ca + urls[:9] + [u("chain", path="/to-plain")],
            capture_output=True, timeout=300)
        t.ok(p.returncode == 1 and b"definitely lost" not in p.stderr and
             b"Invalid" not in p.stderr,
             "valgrind: a mixed https crawl has no memory errors and no definite leaks",
             (p.returncode, p.stderr.decode()[-1500:]))

t.done()
