#!/usr/bin/env python3
"""faultd - a hostile, instrumented HTTP/1.1 server for evcrawl's tests.

It is deliberately independent of evcrawl: plain Python stdlib (asyncio, which
is itself a selectors loop), so a bug in evcrawl's loop or parser can never hide
a bug here. Every path below answers the same on every host name; the Host
header only matters for the connection accounting (see "Accounting").

Paths (the query string is ignored; "..." means anything may follow):

  path                    behaviour
  ----------------------  ----------------------------------------------------
  /ok, /ok/...            200, Content-Length: 3, body "ok\\n"; keep-alive (HTTP/1.1
                          persistent, pipelined requests answered in order)
  /slow/MS/...            like /ok but answers after MS milliseconds (for
                          overlapping requests in concurrency tests)
  /echo, /echo/...        200, body = the raw request head as received (lets a
                          test see exactly what the client sent)
  /close                  200 "ok\\n" with Connection: close, then closes
  /ok-then-close          200 "ok\\n" WITHOUT Connection: close, then closes
                          anyway (a keep-alive connection that goes stale)
  /close-before-head      reads the request, closes without answering
  /reset                  reads the request, closes with RST (SO_LINGER 0)
  /partial-body           200, Content-Length: 1000, sends 10 body bytes
                          "0123456789", closes
  /huge-head              200 with about 70 KiB of header lines (70 lines
                          "X-Filler-NN: " + 1010 x "h"), body "ok\\n", closes
  /garbage                non-HTTP bytes (b"SSH-2.0-garbage\\x00\\xff...") then
                          closes
  /no-length              HTTP/1.1 200, Connection: close, no Content-Length,
                          5000 body bytes ("no-length\\n" x 500), closes
  /http10                 "HTTP/1.0 200 OK", Content-Length: 9, body
                          "http/1.0\\n", no keep-alive, closes
  /interim                "100 Continue", then "103 Early Hints" (with a Link
                          header), then 200 with body "done\\n" (Content-Length 5)
  /drip                   200, Content-Length: 20, then one body byte every
                          200 ms ("abcdefghijklmnopqrst", 4 s in all), closes
  /stream-forever         200, chunked, 16 KiB chunks as fast as the client
                          reads them until it goes away (or 60 s): a body
                          that never ends and never pauses (only a
                          whole-fetch deadline stops it)
  /stall                  reads the request, never answers; closes after 60 s
                          or as soon as the client goes away
  /head-only-then-stall   200 head with Content-Length: 100, then stalls
                          like /stall
  /slow-loris-head        "HTTP/1.1 200 OK\\r\\n" then one header byte per
                          second, never finishing the head (gives up at 60 s)
  /retry/N/KEY            503 with Retry-After: 1 (body "retry later\\n") the
                          first N times for that KEY, then 200 "ok\\n"
  /429/KEY                429 with Retry-After: 1 (body "slow down\\n") the first
                          time for that KEY, then 200 "ok\\n"
  /204                    204, no body; keep-alive
  /304                    304 with an ETag, no body; keep-alive
  /chunked-bad            chunked body whose second chunk size is "zz"; closes
  /chunked-trailer        valid chunked body "hello world\\n" (12 bytes) with a
                          trailer "X-Checksum: 12"; keep-alive
  /gzip                   Content-Encoding: gzip, Content-Length set; decodes
                          to KNOWN_TEXT (4600 bytes: "evcrawl gzip test line\\n"
                          x 200)
  /gzip-bad               Content-Encoding: gzip, valid gzip header followed by
                          an invalid deflate block (decoding must fail)
  /deflate                Content-Encoding: deflate, zlib-wrapped (RFC 1950)
                          KNOWN_TEXT
  /deflate-raw            Content-Encoding: deflate, raw RFC 1951 data (what
                          some broken servers send) of KNOWN_TEXT
  /big/N                  200, Content-Length: N, N bytes of the repeating
                          pattern "0123456789abcdef" (N up to 4 GiB)
  /h/NAME, /h/NAME/...    the hostile cases: see "Hostile cases" below
  /cookie/...             cookies (any path under /cookie/, for Path tests):
                          one Set-Cookie per "c=" query parameter (URL-
                          encoded, in order); with "to=URL", a 302 to it;
                          else 200 with the request head as body; with
                          "delay=MS", after MS milliseconds. Always
                          X-Got-Cookie: the Cookie header received (absent
                          when none came) and X-Cookie-Headers: how many came
  /curl/NNNN, /curl/NNNN/...
                          hostile cases ported from curl's test suite (the
                          answer of its tests/data/testNNNN, in bytes of
                          faultd's own): see "Hostile cases" below
  /__stats                JSON accounting (below); never counted itself
  /__reset                zeroes the accounting and the /retry and /429
                          counters; answers "reset\\n"
  anything else           404, body "not found\\n"

A broken proxy. faultd also answers as an HTTP proxy and as a SOCKS5 proxy
(a connection whose first byte is 5), and misbehaves as the target host
NAME.proxy says (PROXY_FAULTS):

  NAME        HTTP proxy (CONNECT, or GET http://...)   SOCKS5 proxy (socks5h)
  ----------  ----------------------------------------  -----------------------
  forbidden   403 Forbidden                             reply 2 (not allowed)
  unavailable 503 Service Unavailable                   reply 1 (general failure)
  refused     502 Bad Gateway                           reply 5 (refused)
  auth        407 with Proxy-Authenticate               -
  garbage     non-HTTP bytes, closes                    non-SOCKS bytes, closes
  stall       never answers                             never answers
  close       closes without a byte                     closes without a byte
  trickle     a head byte every 0.25 s, never ending    a reply byte every 0.25 s
  huge        an endless head (64 KiB of header lines)  -
  early       200 with garbage right after its head     -

Any other target is served as if faultd were that origin: an absolute-form
GET http://HOST:PORT/PATH is answered as GET /PATH (so /echo shows what a
client sends to a proxy), a CONNECT to another host gets 200 and the tunnel
is faultd itself (plain HTTP), and so is a SOCKS5 tunnel (any address or
name, with or without a user name and password: any are accepted).

Answers with a body have Content-Type: text/plain unless said otherwise. HEAD
gets the same head as GET and no body. Request bodies (Content-Length only) are
read and discarded.

Accounting: each connection is attributed to the Host header value of its first
request (e.g. "h01.test:41234"; "" when there is none); admin requests (/__stats,
/__reset) are never counted, and a connection is attributed on its first
non-admin request. For each host: "open" (connections open now), "max_open"
(the most open at once), "total_conns" and "requests". A connection counts as
open from its first request until it is closed by either side; the server
watches for the client's close while it is idle or busy in a slow handler, so
the count drops as soon as the client hangs up. The top level of the JSON
holds the same four numbers across all hosts:

  {"hosts": {"h01.test:41234": {"open": 0, "max_open": 2, "total_conns": 5,
   "requests": 50}}, "open": 0, "max_open": 2, "total_conns": 5, "requests": 50}

Hostile cases. HOSTILE_CASES (in this file) is the catalogue of every path
above and every /h/ and /curl/ path: what the server does and the record
evcrawl must make of it, per test run; HOSTILE_SEQUENCES are URLs fetched one
after another to see what evcrawl does with a kept-alive connection. The
/curl/NNNN cases (CURL_CASES, CURL_SEQUENCES) have the wire shape of the
answer in curl's tests/data/testNNNN, in bytes written here; each says what
curl makes of it, and where evcrawl's documented policy differs.
tests/integration/test_hostile.py runs every case in every --mode. The runs
(HOSTILE_RUNS; URLs go to distinct host names under many.test, so every case
has its own connections and accounting):

@RUNS@

An expectation is a status (or null) and words: bytes=N (or A..B, >0), the
error kind or "ok" (error is null), attempts=N, redirects=N, ce=VALUE (the
record's content_encoding), final=PATH (final_url's path), secs=A..B
(time_ms.total). In paths, HOST, OTHER and KEY stand for names the test
chooses. The table is filled in from HOSTILE_CASES when the module loads
(read it with `faultd.py --cases` or pydoc):

@CASES@

Usage:
  faultd.py [--listen ADDR]... [--port PORT]     binds ADDR:PORT itself
  faultd.py --fd N [--fd N]...                   serves already-listening
                                                 sockets (how world.py starts it)
  faultd.py --cases                              prints the hostile cases
Only loopback addresses are accepted. It prints one line to stdout when ready
("faultd ready port=PORT"), logs errors to stderr, and exits on SIGTERM/SIGINT.
"""

import argparse
import asyncio
import ipaddress
import json
import logging
import os
import resource
import signal
import socket
import struct
import sys
import time
import zlib
import gzip

# --------------------------------------------------------------------------
# Constants: the bodies tests compare against.

OK_BODY = b"ok\n"
KNOWN_TEXT = b"evcrawl gzip test line\n" * 200          # 4600 bytes
GZIP_BODY = gzip.compress(KNOWN_TEXT, mtime=0)
DEFLATE_BODY = zlib.compress(KNOWN_TEXT)                # zlib wrapper
_raw = zlib.compressobj(wbits=-15)
DEFLATE_RAW_BODY = _raw.compress(KNOWN_TEXT) + _raw.flush()
# A valid 10-byte gzip header, then a deflate block whose type bits are the
# reserved value 11 (0xff), then a fake 8-byte trailer: any inflater rejects it.
GZIP_BAD_BODY = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\xff" * 20 + b"\0" * 8
BIG_PATTERN = b"0123456789abcdef" * 4096                # 64 KiB building block
HEAD_LIMIT = 64 * 1024          # a longer request head gets 431
IDLE_TIMEOUT = 120.0            # an idle keep-alive connection is closed then
STALL_SECONDS = 60.0            # how long /stall and friends hold on

ADMIN_PATHS = ("/__stats", "/__reset")
REASONS = {
    100: "Continue", 103: "Early Hints", 200: "OK", 204: "No Content",
    304: "Not Modified", 404: "Not Found", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 501: "Not Implemented",
    503: "Service Unavailable",
}

log = logging.getLogger("faultd")


# --------------------------------------------------------------------------
# Connection accounting

class HostStats:
    """Counters for one Host header value."""
    __slots__ = ("open", "max_open", "total_conns", "requests")

    def __init__(self):
        self.open = self.max_open = self.total_conns = self.requests = 0

    def as_dict(self):
        return {k: getattr(self, k) for k in self.__slots__}


class Stats:
    """All accounting. A reset swaps in fresh objects; connections attributed
    before the reset keep updating their old (now unreachable) objects, so
    they can neither pollute nor corrupt the new numbers."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.hosts = {}
        self.total = HostStats()
        self.retry_counts = {}

    def connection_attributed(self, host):
        """A connection just made its first countable request."""
        hs = self.hosts.setdefault(host, HostStats())
        for s in (hs, self.total):
            s.open += 1
            s.total_conns += 1
            s.max_open = max(s.max_open, s.open)
        return hs, self.total

    def as_json(self):
        doc = {"hosts": {h: s.as_dict() for h, s in sorted(self.hosts.items())}}
        doc.update(self.total.as_dict())
        return json.dumps(doc).encode() + b"\n"


STATS = Stats()


# --------------------------------------------------------------------------
# One request and one connection

class Request:
    """A parsed request head."""

    def __init__(self, raw):
        self.raw = raw
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            raise ValueError("bad request line %r" % lines[0])
        self.method, self.target, self.version = parts
        self.path = self.target.split("?", 1)[0]
        self.headers = {}
        for line in lines[1:]:
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep:
                raise ValueError("bad header line %r" % line)
            self.headers[name.strip().lower()] = value.strip()

    @property
    def keep_alive(self):
        """HTTP/1.1 defaults to persistent, HTTP/1.0 to close."""
        conn = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.1":
            return "close" not in conn
        return "keep-alive" in conn


class Closed(Exception):
    """The connection is gone (closed by the client or by us)."""


class Conn:
    """One client connection.

    A "pump" task reads everything the client sends into self.buf, so the
    server notices the client's close at once whatever the handler is doing
    (idle between requests, sleeping in /slow, stalling in /stall), while
    pipelined requests simply wait in the buffer for their turn."""

    BUF_LIMIT = 256 * 1024      # the pump pauses while this much is unread

    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer
        self.buf = bytearray()
        self.counters = ()          # (HostStats, total) once attributed
        self.closed = False
        self.gone = asyncio.Event()         # set by close()
        self.more = asyncio.Event()         # set when data or EOF arrives
        self.eof = False
        self.nreq = 0               # requests read on this connection
        self.pump_task = asyncio.ensure_future(self.pump())

    async def pump(self):
        try:
            while not self.closed:
                while len(self.buf) > self.BUF_LIMIT and not self.closed:
                    self.more.clear()
                    await self.more.wait()      # the consumer sets it
                data = await self.reader.read(65536)
                if not data:
                    break
                self.buf += data
                self.more.set()
        except (ConnectionError, OSError):
            pass
        except asyncio.CancelledError:
            return
        # The client hung up (a half-close counts as hanging up here).
        self.eof = True
        self.close()

    def count(self, req):
        """Account for one (non-admin) request."""
        if not self.counters:
            self.counters = STATS.connection_attributed(req.headers.get("host", ""))
        for s in self.counters:
            s.requests += 1

    def close(self, reset=False):
        """Close (idempotent). The open counts drop here, synchronously, in
        the same step that saw the client's EOF: a client that closes one
        connection and then opens another is never seen with both open."""
        if self.closed:
            return
        self.closed = True
        for s in self.counters:
            s.open -= 1
        self.gone.set()
        self.more.set()
        if self.pump_task is not asyncio.current_task():
            self.pump_task.cancel()
        try:
            if reset:
                sock = self.writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                struct.pack("ii", 1, 0))
                self.writer.transport.abort()
            else:
                self.writer.close()
        except OSError:
            pass

    async def wait_data(self, timeout):
        """Wait until more bytes (or the close) arrive; False on timeout."""
        self.more.clear()
        if self.closed:
            return False
        try:
            await asyncio.wait_for(self.more.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    async def read_request(self):
        """The next request head from the buffer (its body, if any, is
        discarded). None when the connection is finished: closed, idle too
        long, or sent something unanswerable (then it was told so)."""
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self.buf) > HEAD_LIMIT:
                await self.send(head(431, [("Content-Length", 0), ("Connection", "close")]))
                return None
            if self.closed or not await self.wait_data(IDLE_TIMEOUT):
                return None
        raw = bytes(self.buf[:end + 4])
        del self.buf[:end + 4]
        req = Request(raw)
        if "transfer-encoding" in req.headers:     # chunked uploads: not here
            await self.send(head(501, [("Content-Length", 0), ("Connection", "close")]))
            return None
        left = int(req.headers.get("content-length", "0") or 0)
        while True:
            take = min(left, len(self.buf))
            del self.buf[:take]
            left -= take
            self.more.set()             # wake the pump if it was paused
            if not left:
                return req
            if self.closed or not await self.wait_data(IDLE_TIMEOUT):
                return None

    async def send(self, data):
        if self.closed or self.writer.is_closing():
            raise Closed()
        self.writer.write(data)
        try:
            await self.writer.drain()
        except (ConnectionError, OSError) as e:
            raise Closed() from e

    async def flushed(self):
        """Wait until everything written has gone to the kernel (an abort
        would drop what is still buffered)."""
        transport = self.writer.transport
        while transport.get_write_buffer_size() and not self.closed:
            await asyncio.sleep(0.005)

    async def sleep(self, seconds):
        """Sleep, but raise Closed as soon as the connection goes."""
        try:
            await asyncio.wait_for(self.gone.wait(), seconds)
        except asyncio.TimeoutError:
            return
        raise Closed()


def head(status, headers=(), version="HTTP/1.1", reason=None):
    """Bytes of a response head."""
    lines = ["%s %d %s" % (version, status, reason or REASONS.get(status, "Status"))]
    lines += ["%s: %s" % h for h in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def respond(conn, req, status, body=b"", headers=(), close=False,
                  ctype="text/plain"):
    """Send a complete Content-Length response. Returns whether the connection
    stays open for the next request."""
    keep = req.keep_alive and not close
    hdrs = []
    if ctype and status not in (204, 304):
        hdrs.append(("Content-Type", ctype))
    if status not in (204, 304):
        hdrs.append(("Content-Length", len(body)))
    hdrs += list(headers)
    if not keep:
        hdrs.append(("Connection", "close"))
    elif req.version == "HTTP/1.0":
        hdrs.append(("Connection", "keep-alive"))
    send_body = req.method != "HEAD" and status not in (204, 304)
    await conn.send(head(status, hdrs) + (body if send_body else b""))
    return keep


# --------------------------------------------------------------------------
# Handlers. Each takes (conn, req, rest) where rest is the path after the
# route's prefix, and returns True to keep the connection for another request.

async def h_ok(conn, req, rest):
    return await respond(conn, req, 200, OK_BODY)


async def h_slow(conn, req, rest):
    ms = rest.split("/", 1)[0]
    if not ms.isdigit():
        return await respond(conn, req, 404, b"not found\n")
    await conn.sleep(int(ms) / 1000.0)
    return await respond(conn, req, 200, OK_BODY)


async def h_echo(conn, req, rest):
    return await respond(conn, req, 200, req.raw)


async def h_close(conn, req, rest):
    return await respond(conn, req, 200, OK_BODY, close=True)


async def h_ok_then_close(conn, req, rest):
    await conn.send(head(200, [("Content-Type", "text/plain"),
                               ("Content-Length", len(OK_BODY))]) + OK_BODY)
    return False


async def h_close_before_head(conn, req, rest):
    return False


async def h_reset(conn, req, rest):
    conn.close(reset=True)
    return False


async def h_partial_body(conn, req, rest):
    await conn.send(head(200, [("Content-Type", "text/plain"),
                               ("Content-Length", 1000)]) + b"0123456789")
    return False


async def h_huge_head(conn, req, rest):
    filler = [("X-Filler-%02d" % i, "h" * 1010) for i in range(70)]
    await respond(conn, req, 200, OK_BODY, headers=filler, close=True)
    return False


async def h_garbage(conn, req, rest):
    await conn.send(b"SSH-2.0-garbage\x00\xff\xfe this is not HTTP \x01\x02\x03\r\n\r\n")
    return False


async def h_no_length(conn, req, rest):
    await conn.send(head(200, [("Content-Type", "text/plain"), ("Connection", "close")])
                    + b"no-length\n" * 500)
    return False


async def h_http10(conn, req, rest):
    await conn.send(head(200, [("Content-Type", "text/plain"), ("Content-Length", 9)],
                         version="HTTP/1.0") + b"http/1.0\n")
    return False


async def h_interim(conn, req, rest):
    await conn.send(head(100) + head(103, [("Link", "</style.css>; rel=preload")]))
    return await respond(conn, req, 200, b"done\n")


async def h_drip(conn, req, rest):
    await conn.send(head(200, [("Content-Type", "text/plain"), ("Content-Length", 20),
                               ("Connection", "close")]))
    for b in b"abcdefghijklmnopqrst":
        await conn.sleep(0.2)
        await conn.send(bytes([b]))
    return False


async def h_stream_forever(conn, req, rest):
    await conn.send(head(200, [("Content-Type", "text/plain"),
                               ("Transfer-Encoding", "chunked")]))
    chunk = b"4000\r\n" + b"s" * 16384 + b"\r\n"
    until = time.monotonic() + STALL_SECONDS
    while time.monotonic() < until:
        await conn.send(chunk)
        await asyncio.sleep(0)      # a fast reader must not starve the others
    return False


async def h_stall(conn, req, rest):
    await conn.sleep(STALL_SECONDS)
    return False


async def h_head_only_then_stall(conn, req, rest):
    await conn.send(head(200, [("Content-Type", "text/plain"), ("Content-Length", 100)]))
    await conn.sleep(STALL_SECONDS)
    return False


async def h_slow_loris_head(conn, req, rest):
    await conn.send(b"HTTP/1.1 200 OK\r\n")
    line = b"X-Slow-Loris: " + b"z" * 1000
    for i in range(int(STALL_SECONDS)):
        await conn.sleep(1.0)
        await conn.send(line[i:i + 1])
    return False


async def _retry_after(conn, req, key, times, status, body):
    n = STATS.retry_counts.get(key, 0)
    if n < times:
        STATS.retry_counts[key] = n + 1
        return await respond(conn, req, status, body, headers=[("Retry-After", 1)])
    return await respond(conn, req, 200, OK_BODY)


async def h_retry(conn, req, rest):
    n, _, key = rest.partition("/")
    if not n.isdigit() or not key:
        return await respond(conn, req, 404, b"not found\n")
    return await _retry_after(conn, req, "retry/" + key, int(n), 503, b"retry later\n")


async def h_429(conn, req, rest):
    if not rest:
        return await respond(conn, req, 404, b"not found\n")
    return await _retry_after(conn, req, "429/" + rest, 1, 429, b"slow down\n")


async def h_204(conn, req, rest):
    return await respond(conn, req, 204)


async def h_304(conn, req, rest):
    return await respond(conn, req, 304, headers=[("ETag", '"faultd"')])


async def h_chunked_bad(conn, req, rest):
    await conn.send(head(200, [("Content-Type", "text/plain"),
                               ("Transfer-Encoding", "chunked")])
                    + b"5\r\nhello\r\nzz\r\nnot a chunk\r\n0\r\n\r\n")
    return False


async def h_chunked_trailer(conn, req, rest):
    hdrs = [("Content-Type", "text/plain"), ("Transfer-Encoding", "chunked"),
            ("Trailer", "X-Checksum")]
    body = b"6\r\nhello \r\n6\r\nworld\n\r\n0\r\nX-Checksum: 12\r\n\r\n"
    await conn.send(head(200, hdrs) + (body if req.method != "HEAD" else b""))
    return req.keep_alive


def _encoded(body, coding):
    async def handler(conn, req, rest):
        return await respond(conn, req, 200, body,
                             headers=[("Content-Encoding", coding)])
    return handler


async def h_big(conn, req, rest):
    if not rest.isdigit() or int(rest) > 1 << 32:
        return await respond(conn, req, 404, b"not found\n")
    n = int(rest)
    await conn.send(head(200, [("Content-Type", "application/octet-stream"),
                               ("Content-Length", n)]))
    if req.method == "HEAD":
        return req.keep_alive
    while n > 0:
        piece = BIG_PATTERN[:min(n, len(BIG_PATTERN))]
        await conn.send(piece)
        n -= len(piece)
    return req.keep_alive


async def h_stats(conn, req, rest):
    return await respond(conn, req, 200, STATS.as_json(), ctype="application/json")


async def h_reset_stats(conn, req, rest):
    STATS.reset()
    return await respond(conn, req, 200, b"reset\n")


# --------------------------------------------------------------------------
# Hostile cases: /h/NAME, and the catalogue of what evcrawl must make of
# every case (HOSTILE_CASES and HOSTILE_SEQUENCES below; the module docstring
# shows them as a table, and tests/integration/test_hostile.py runs them).

def _line(x):
    return x.encode("latin-1") if isinstance(x, str) else x


def raw_head(first, *lines):
    """Raw head bytes, exactly as given: the first line and the header lines
    (str or bytes), each ended by CRLF, then the empty line."""
    return b"".join(_line(x) + b"\r\n" for x in (first,) + lines) + b"\r\n"


def h200(*lines):
    """An HTTP/1.1 200 head with Content-Type: text/plain and these lines."""
    return raw_head("HTTP/1.1 200 OK", "Content-Type: text/plain", *lines)


OK_RESPONSE = h200("Content-Length: 3") + OK_BODY
CHUNKED = "Transfer-Encoding: chunked"
# A whole response that must never be taken for the answer to anything: the
# "extra bytes" of the keep-alive cases (a client that takes it shows 6 bytes).
FAKE_RESPONSE = h200("Content-Length: 6") + b"WRONG\n"
GARBAGE = b"\x16\x03\x01 garbage, not HTTP at all \x00\xff\r\n\r\n"


def chunked(*pieces, last=b"0\r\n\r\n"):
    """A chunked body: each piece as one chunk, then `last`."""
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + last


def _gzip_bomb():
    """1 GiB of zeros, gzip-compressed: 1,061,908 bytes. Built from one
    deflate block of 1 MiB of zeros ended by a full flush (so it can simply
    be repeated), 1024 times, then an empty final block and the trailer (the
    CRC-32 of 2^30 zero bytes is 0x5b64c2b0; ISIZE is 2^30)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + block * 1024 + b"\x03\x00"
            + struct.pack("<II", 0x5B64C2B0, 1 << 30))


GZIP_BOMB = _gzip_bomb()
GZIP_TRUNCATED = GZIP_BODY[:len(GZIP_BODY) // 2]
GZIP_BAD_CRC = GZIP_BODY[:-8] + bytes(b ^ 0xFF for b in GZIP_BODY[-8:-4]) + GZIP_BODY[-4:]
DEFLATE_BAD_BODY = b"\x78\x9c" + b"\xff" * 20     # zlib header, reserved block type
GZIP_GZIP_BODY = gzip.compress(GZIP_BODY, mtime=0)
# KNOWN_TEXT compressed by `brotli -q 11` (1.0.9) and `zstd -19` (1.5.4):
# the standard library has neither compressor.
BR_BODY = (b"\xd1\xb8\x8f\xc0/\xb6\xcb\xbde\xbayMN\"I\x9f\x7f>.\x0c\x13\xba\x99\x00\xc0k"
           b"\xa3/\xe1?\x1a\xcb\xb3\xc8(\n")
ZSTD_BODY = (b"(\xb5/\xfdd\xf8\x10\xfd\x00\x00\xb8evcrawl gzip test line\n\x01\x00\xbdC"
             b"\xfb\xd9\x04Q\"\x9e\x9b")


def script(*steps):
    """A handler that plays steps in order: bytes are sent; a number sleeps
    that many seconds (cut short when the client leaves); a last word says
    what becomes of the connection: "close" (FIN), "reset" (RST, after what
    was sent has reached the kernel), "stall" (hold it silently for
    STALL_SECONDS), "shut" (shutdown(SHUT_WR): FIN, yet keep reading until
    the client closes) or "keep" (read the next request). Default: close."""
    async def handler(conn, req, rest):
        for step in steps:
            if isinstance(step, (bytes, bytearray)):
                await conn.send(step)
            elif isinstance(step, (int, float)):
                await conn.sleep(step)
            elif step == "keep":
                return True
            elif step == "reset":
                await conn.flushed()
                conn.close(reset=True)
                return False
            elif step == "stall":
                await conn.sleep(STALL_SECONDS)
            elif step == "shut":
                await conn.flushed()
                conn.writer.write_eof()
                await conn.sleep(STALL_SECONDS)
            elif step != "close":
                raise ValueError("bad script step %r" % (step,))
        return False
    return handler


def repeat(first, unit, every, end=b""):
    """Send `first`, then `unit` every `every` seconds until the client
    leaves (or STALL_SECONDS pass), then `end`."""
    async def handler(conn, req, rest):
        await conn.send(first)
        until = time.monotonic() + STALL_SECONDS
        while time.monotonic() < until:
            await conn.sleep(every)
            await conn.send(unit)
        await conn.send(end)
        return False
    return handler


def dribble(data, every, first=b""):
    """Send `first`, then `data` one byte every `every` seconds, then close."""
    async def handler(conn, req, rest):
        await conn.send(first)
        for i in range(len(data)):
            await conn.send(data[i:i + 1])
            await conn.sleep(every)
        return False
    return handler


def answer(status, body, *headers, reason=None, keep=True):
    """A whole response: status, headers as given, Content-Length of body."""
    async def handler(conn, req, rest):
        first = "HTTP/1.1 %d %s" % (status, reason or REASONS.get(status, "Status"))
        await conn.send(raw_head(first, "Content-Type: text/plain", *headers,
                                 "Content-Length: %d" % len(body)) + body)
        return keep
    return handler


def encoded(body, coding):
    """200 with Content-Encoding: coding and this (encoded) body."""
    return answer(200, body, "Content-Encoding: " + coding)


def redirect(location):
    """302 to location (str or bytes), body "redirect\\n"."""
    async def handler(conn, req, rest):
        await conn.send(raw_head("HTTP/1.1 302 Found", b"Location: " + _line(location),
                                 "Content-Type: text/plain", "Content-Length: 9")
                        + b"redirect\n")
        return True
    return handler


async def h_redirect_chain(conn, req, rest):
    n = rest.split("/")[0]
    if not n.isdigit():
        return await respond(conn, req, 404, b"not found\n")
    return await redirect("/h/redirect-chain/%d" % (int(n) - 1) if int(n) else "/ok")(
        conn, req, rest)


async def h_redirect_loop(conn, req, rest):
    nxt = {"a": "b", "b": "c", "c": "a"}.get(rest)
    if not nxt:
        return await respond(conn, req, 404, b"not found\n")
    return await redirect("/h/redirect-loop/" + nxt)(conn, req, rest)


async def h_redirect_hosts(conn, req, rest):
    here, _, there = rest.partition("/")
    port = req.headers.get("host", "").rpartition(":")[2]
    if not (here and there and port.isdigit()):
        return await respond(conn, req, 404, b"not found\n")
    return await redirect("http://%s:%s/h/redirect-hosts/%s/%s" % (there, port, there, here))(
        conn, req, rest)


async def h_redirect_protocol_relative(conn, req, rest):
    return await redirect("//%s/ok" % req.headers.get("host", ""))(conn, req, rest)


def retry_after(value, times=None, status=503):
    """`status` with Retry-After: value (body "retry later\\n", 12 bytes) the
    first `times` requests for this host and path (always when None), then
    200 "ok\\n". Counted per Host header and path, so every test run has its
    own count; /__reset zeroes the counts."""
    async def handler(conn, req, rest):
        key = "h/%s%s" % (req.headers.get("host", ""), req.path)
        n = STATS.retry_counts.get(key, 0)
        if times is None or n < times:
            STATS.retry_counts[key] = n + 1
            return await answer(status, b"retry later\n", "Retry-After: " + value)(
                conn, req, rest)
        return await answer(200, OK_BODY)(conn, req, rest)
    return handler


async def h_garbage_on_reuse(conn, req, rest):
    if conn.nreq == 1:
        await conn.send(OK_RESPONSE)
    else:
        await conn.send(GARBAGE)
    return True


def ok_then_408(close):
    """200 "ok\\n" (keep-alive), then 0.2 s later, unasked, a 408 on the idle
    connection; then close, or keep reading and answering requests."""
    async def handler(conn, req, rest):
        await conn.send(OK_RESPONSE)
        await conn.sleep(0.2)
        if close:
            await conn.send(raw_head("HTTP/1.1 408 Request Timeout", "Content-Length: 0",
                                     "Connection: close"))
            return False
        await conn.send(raw_head("HTTP/1.1 408 Request Timeout", "Content-Type: text/plain",
                                 "Content-Length: 8") + b"timeout\n")
        return True
    return handler


T = "Content-Type: text/plain"
HEAD_1MIB = raw_head("HTTP/1.1 200 OK", "X-Big: " + "b" * (1 << 20), "Content-Length: 3") + OK_BODY
HEADERS_SMALL = raw_head("HTTP/1.1 200 OK", *(["h: v"] * 10000), "Content-Length: 3") + OK_BODY
HEADERS_BIG = raw_head("HTTP/1.1 200 OK", *("X-Header-%05d: value" % i for i in range(10000)),
                       "Content-Length: 3") + OK_BODY
SET_COOKIES = raw_head("HTTP/1.1 200 OK",
                       *("Set-Cookie: c%04d=%s" % (i, "v" * 12) for i in range(2000)),
                       "Content-Length: 3") + OK_BODY
assert len(SET_COOKIES) < 64 * 1024 and len(HEADERS_SMALL) < 64 * 1024
TRAILERS_MANY = (h200(CHUNKED) + b"6\r\nhello \r\n6\r\nworld\n\r\n0\r\n"
                 + b"".join(b"X-Trailer-%03d: t\r\n" % i for i in range(100))
                 + b"Content-Length: 999\r\nTransfer-Encoding: gzip\r\n\r\n")
TRAILERS_HUGE = (h200(CHUNKED) + b"5\r\nhello\r\n0\r\n"
                 + b"".join(b"X-Trailer-%05d: %s\r\n" % (i, b"t" * 80) for i in range(1000))
                 + b"\r\n")
STATUS_999 = raw_head("HTTP/1.1 999 Whatever", T, "Content-Length: 3") + OK_BODY


def bad_status(first):
    return script(raw_head(first, T, "Content-Length: 3") + OK_BODY)


def bad_header(*lines):
    return script(h200(*lines, "Content-Length: 3") + OK_BODY)


class Case:
    """One hostile path and the record evcrawl must make of it, in each test
    run it belongs to ("plain", "z" for --compressed, "backoff"; see
    HOSTILE_RUNS). An expectation is a few words: a status (or null), then
    field=value words: bytes=N (or A..B, or >0), an error kind or "ok" (the
    record's error is null), attempts=N, redirects=N, ce=VALUE (the
    record's content_encoding; quote a value with spaces), final=PATH
    (final_url's path), secs=A..B (time_ms.total in seconds)."""

    def __init__(self, path, does, handler=None, **expect):
        self.path, self.does, self.handler, self.expect = path, does, handler, expect


class Sequence:
    """URLs fetched one after another (-c 1 --per-host 1) on host names A,
    B, ...: steps are (host letter, path, expected record); conns is how
    many connections faultd must have seen per host ("A=2", or a range
    "A=1..2"). Each sequence runs in an evcrawl process of its own."""

    def __init__(self, name, does, steps, conns):
        self.name, self.does, self.steps, self.conns = name, does, steps, conns


TIMEOUT_WHOLE = "secs=1.9..3.0"     # the whole-fetch --timeout (2 s) fired
TIMEOUT_IDLE = "secs=0.9..1.9"      # the --idle-timeout (1 s) fired, not the whole one

# The options of each run (tests/integration/test_hostile.py adds -i, the DNS
# server, --host-errors 0, the --mode and -c). URLs of the plain, z and
# backoff runs all run at once in the concurrent modes, each on its own host
# name. --max-body 0 (no limit) in the plain run: endless bodies must end at
# --timeout, and without using memory.
HOSTILE_RUNS = {
    "plain": "--timeout 2 --idle-timeout 1 --connect-timeout 1 --retries 0 --max-body 0",
    "z": "--timeout 2 --idle-timeout 1 --connect-timeout 1 --retries 0 --compressed --max-body 1M",
    "backoff": "--timeout 2 --idle-timeout 1 --connect-timeout 1 --retries 2",
    "ka": "--timeout 2 --idle-timeout 1 --connect-timeout 1 --retries 0 -c 1 --per-host 1",
}

HOSTILE_CASES = [
    # ---- the classic paths above ------------------------------------------
    Case("/ok", "200 \"ok\\n\"", plain="200 bytes=3 ok"),
    Case("/ok/x", "200 \"ok\\n\"", plain="200 bytes=3 ok"),
    Case("/slow/300", "200 \"ok\\n\" after 0.3 s", plain="200 bytes=3 ok"),
    Case("/echo", "200, the request head as the body", plain="200 bytes>0 ok"),
    Case("/close", "200 \"ok\\n\", Connection: close", plain="200 bytes=3 ok"),
    Case("/ok-then-close", "200 \"ok\\n\", closes unannounced", plain="200 bytes=3 ok"),
    Case("/close-before-head", "closes without a byte", plain="null bytes=0 protocol"),
    Case("/reset", "RST without a byte", plain="null bytes=0 io"),
    Case("/partial-body", "Content-Length 1000, 10 bytes, closes", plain="200 bytes=10 protocol"),
    Case("/huge-head", "70 KiB of headers", plain="null bytes=0 protocol"),
    Case("/garbage", "non-HTTP bytes, closes", plain="null bytes=0 protocol"),
    Case("/no-length", "5000 bytes to the close", plain="200 bytes=5000 ok"),
    Case("/http10", "HTTP/1.0 200, 9 bytes", plain="200 bytes=9 ok"),
    Case("/interim", "100, 103, then 200 \"done\\n\"", plain="200 bytes=5 ok"),
    Case("/drip", "Content-Length 20, a byte every 200 ms",
         plain="200 bytes=1..19 timeout " + TIMEOUT_WHOLE),
    Case("/stream-forever", "endless chunked body, as fast as read",
         plain="200 bytes>0 timeout " + TIMEOUT_WHOLE),
    Case("/stall", "never answers", plain="null bytes=0 timeout " + TIMEOUT_IDLE),
    Case("/head-only-then-stall", "200 head (Content-Length 100), then stalls",
         plain="200 bytes=0 timeout " + TIMEOUT_IDLE),
    Case("/slow-loris-head", "a head byte per second, never ends",
         plain="null bytes=0 timeout secs=0.9..3.0"),
    Case("/204", "204", plain="204 bytes=0 ok"),
    Case("/304", "304", plain="304 bytes=0 ok"),
    Case("/chunked-bad", "chunk size \"zz\"", plain="200 bytes=5 protocol"),
    Case("/chunked-trailer", "chunked, 12 bytes, a trailer", plain="200 bytes=12 ok"),
    Case("/big/100000", "100,000 bytes", plain="200 bytes=100000 ok"),
    Case("/gzip", "gzip, 4600 bytes decoded",
         plain="200 bytes=%d ok ce=gzip" % len(GZIP_BODY), z="200 bytes=4600 ok"),
    Case("/gzip-bad", "gzip header, invalid deflate block",
         plain="200 bytes=%d ok ce=gzip" % len(GZIP_BAD_BODY), z="200 protocol"),
    Case("/deflate", "zlib-wrapped deflate",
         plain="200 bytes=%d ok ce=deflate" % len(DEFLATE_BODY), z="200 bytes=4600 ok"),
    Case("/deflate-raw", "raw deflate",
         plain="200 bytes=%d ok ce=deflate" % len(DEFLATE_RAW_BODY), z="200 bytes=4600 ok"),
    Case("/retry/1/KEY", "503 Retry-After: 1 once, then 200",
         backoff="200 bytes=3 ok attempts=2 secs=0.9..2.0"),
    Case("/429/KEY", "429 Retry-After: 1 once, then 200",
         backoff="200 bytes=3 ok attempts=2 secs=0.9..2.0"),

    # ---- time ---------------------------------------------------------------
    Case("/h/trickle-body", "200, Content-Length 100, then one body byte every 0.3 s",
         dribble(b"x" * 100, 0.3, first=h200("Content-Length: 100")),
         plain="200 bytes=1..99 timeout " + TIMEOUT_WHOLE),
    Case("/h/trickle-head", "a whole 200 response, one byte every 0.3 s (the head cannot "
         "end in time)",
         dribble(OK_RESPONSE, 0.3), plain="null bytes=0 timeout " + TIMEOUT_WHOLE),
    Case("/h/trickle-chunked", "200 chunked, a 1-byte chunk every 0.3 s, never the last",
         repeat(h200(CHUNKED), b"1\r\nx\r\n", 0.3),
         plain="200 bytes>0 timeout " + TIMEOUT_WHOLE),
    Case("/h/stall-mid-head", "\"HTTP/1.1 200 OK\\r\\nContent-Ty\", then silence",
         script(b"HTTP/1.1 200 OK\r\nContent-Ty", "stall"),
         plain="null bytes=0 timeout " + TIMEOUT_IDLE),
    Case("/h/stall-after-100", "\"100 Continue\", then silence",
         script(raw_head("HTTP/1.1 100 Continue"), "stall"),
         plain="null bytes=0 timeout " + TIMEOUT_IDLE),
    Case("/h/stall-mid-body", "Content-Length 100, 10 bytes, then silence",
         script(h200("Content-Length: 100") + b"0123456789", "stall"),
         plain="200 bytes=10 timeout " + TIMEOUT_IDLE),
    Case("/h/stall-mid-chunk", "chunked, \"a\\r\\n01234\" (half a chunk), then silence",
         script(h200(CHUNKED) + b"a\r\n01234", "stall"),
         plain="200 bytes=5 timeout " + TIMEOUT_IDLE),
    Case("/h/stall-mid-chunk-size", "chunked, \"5\\r\\nhello\\r\\n1\", then silence",
         script(h200(CHUNKED) + b"5\r\nhello\r\n1", "stall"),
         plain="200 bytes=5 timeout " + TIMEOUT_IDLE),
    Case("/h/stall-mid-trailer", "chunked, last chunk, \"X-T: 1\\r\\n\", then silence",
         script(h200(CHUNKED) + b"5\r\nhello\r\n0\r\nX-T: 1\r\n", "stall"),
         plain="200 bytes=5 timeout " + TIMEOUT_IDLE),
    Case("/h/endless-103", "\"103 Early Hints\" every 0.2 s, never a final answer",
         repeat(b"", raw_head("HTTP/1.1 103 Early Hints", "Link: </s.css>; rel=preload"), 0.2),
         plain="null bytes=0 timeout " + TIMEOUT_WHOLE),

    # ---- connection faults -------------------------------------------------
    Case("/h/close-mid-head", "\"HTTP/1.1 200 OK\\r\\nContent-Len\", then FIN",
         script(b"HTTP/1.1 200 OK\r\nContent-Len"), plain="null bytes=0 protocol"),
    Case("/h/reset-mid-head", "\"HTTP/1.1 200 OK\\r\\nContent-Len\", then RST",
         script(b"HTTP/1.1 200 OK\r\nContent-Len", 0.05, "reset"), plain="null bytes=0 io"),
    Case("/h/close-after-head", "200 head, Content-Length 100, then FIN",
         script(h200("Content-Length: 100")), plain="200 bytes=0 protocol"),
    Case("/h/reset-after-head", "200 head, Content-Length 100, then RST",
         script(h200("Content-Length: 100"), 0.05, "reset"), plain="200 bytes=0 io"),
    Case("/h/reset-mid-body", "Content-Length 100, 10 bytes, then RST",
         script(h200("Content-Length: 100") + b"0123456789", 0.05, "reset"),
         plain="200 bytes=10 io"),
    Case("/h/close-mid-chunk", "chunked, \"a\\r\\n01234\", then FIN",
         script(h200(CHUNKED) + b"a\r\n01234"), plain="200 bytes=5 protocol"),
    Case("/h/reset-mid-chunk", "chunked, \"a\\r\\n01234\", then RST",
         script(h200(CHUNKED) + b"a\r\n01234", 0.05, "reset"), plain="200 bytes=5 io"),
    Case("/h/reset-after-complete", "a whole 200 \"ok\\n\" (keep-alive), then RST at once",
         script(OK_RESPONSE, "reset"), plain="200 bytes=3 ok"),
    Case("/h/half-close-body", "200, no length, 5000 bytes, then shutdown(SHUT_WR), still reading",
         script(h200() + b"no-length\n" * 500, "shut"), plain="200 bytes=5000 ok"),
    Case("/h/half-close-before-head", "shutdown(SHUT_WR) at once, still reading",
         script("shut"), plain="null bytes=0 protocol"),
    Case("/h/half-close-mid-body", "Content-Length 100, 10 bytes, shutdown(SHUT_WR)",
         script(h200("Content-Length: 100") + b"0123456789", "shut"),
         plain="200 bytes=10 protocol"),

    # ---- malformed heads ---------------------------------------------------
    Case("/h/no-status-line", "HTTP/0.9 style: a body with no status line, then FIN",
         script(b"<html>hello from HTTP/0.9</html>\n"), plain="null bytes=0 protocol"),
    Case("/h/status-no-version", "\"200 OK\"", bad_status("200 OK"),
         plain="null bytes=0 protocol"),
    Case("/h/status-2000", "\"HTTP/1.1 2000 X\"", bad_status("HTTP/1.1 2000 X"),
         plain="null bytes=0 protocol"),
    Case("/h/status-20", "\"HTTP/1.1 20 OK\"", bad_status("HTTP/1.1 20 OK"),
         plain="null bytes=0 protocol"),
    Case("/h/status-letters", "\"HTTP/1.1 2x0 OK\"", bad_status("HTTP/1.1 2x0 OK"),
         plain="null bytes=0 protocol"),
    Case("/h/status-http2", "\"HTTP/2 200\"", bad_status("HTTP/2 200"),
         plain="null bytes=0 protocol"),
    Case("/h/status-lowercase", "\"http/1.1 200 OK\"", bad_status("http/1.1 200 OK"),
         plain="null bytes=0 protocol"),
    Case("/h/status-000", "\"HTTP/1.1 000 Zero\"", bad_status("HTTP/1.1 000 Zero"),
         plain="null bytes=0 protocol"),
    Case("/h/status-099", "\"HTTP/1.1 099 Low\"", bad_status("HTTP/1.1 099 Low"),
         plain="null bytes=0 protocol"),
    Case("/h/status-999", "\"HTTP/1.1 999 Whatever\", Content-Length 3",
         script(STATUS_999, "keep"), plain="999 bytes=3 ok"),
    Case("/h/status-101", "an unasked \"101 Switching Protocols\" (websocket), frames, silence",
         script(raw_head("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket",
                         "Connection: Upgrade") + b"\x81\x05hello", "stall"),
         plain="null bytes=0 protocol"),
    Case("/h/header-space-colon", "\"Content-Type : text/plain\" (space before the colon)",
         script(raw_head("HTTP/1.1 200 OK", "Content-Type : text/plain", "Content-Length: 3")
                + OK_BODY, "keep"), plain="200 bytes=3 ok"),
    Case("/h/header-bad-name", "\"X(Bad)@Name: v\" (non-token characters)",
         bad_header("X(Bad)@Name: v"), plain="null bytes=0 protocol"),
    Case("/h/header-no-colon", "a header line without a colon",
         bad_header("NoColonHere"), plain="null bytes=0 protocol"),
    Case("/h/header-empty-name", "\": value\" (an empty name)",
         bad_header(": value"), plain="200 bytes=3 ok"),
    Case("/h/header-ctl-value", "\"X-Ctl: a\\x01b\" (a control character in a value)",
         bad_header(b"X-Ctl: a\x01b"), plain="null bytes=0 protocol"),
    Case("/h/header-nul", "\"X-Nul: a\\x00b\"", bad_header(b"X-Nul: a\x00b"),
         plain="null bytes=0 protocol"),
    Case("/h/header-bare-cr", "\"X-Cr: a\\rb\" (a CR not before LF)", bad_header(b"X-Cr: a\rb"),
         plain="null bytes=0 protocol"),
    Case("/h/header-obs-text", "\"X-Latin: caf\\xe9 \\xff\" (obs-text: allowed)",
         script(h200(b"X-Latin: caf\xe9 \xff", "Content-Length: 3") + OK_BODY, "keep"),
         plain="200 bytes=3 ok"),
    Case("/h/obs-fold", "a header continued on a line starting with spaces (obsolete folding)",
         script(h200("X-Folded: first", "   second", "Content-Length: 3") + OK_BODY, "keep"),
         plain="200 bytes=3 ok"),
    Case("/h/bare-lf", "every head line ended by LF alone",
         script(b"HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 3\n\nok\n", "keep"),
         plain="200 bytes=3 ok"),
    Case("/h/header-1mib", "one header line of 1 MiB",
         script(HEAD_1MIB), plain="null bytes=0 protocol"),
    Case("/h/headers-10000-small", "10,000 header lines \"h: v\" (60 KB, under 64 KiB)",
         script(HEADERS_SMALL, "keep"), plain="200 bytes=3 ok"),
    Case("/h/headers-10000", "10,000 header lines \"X-Header-NNNNN: value\" (230 KB)",
         script(HEADERS_BIG), plain="null bytes=0 protocol"),
    Case("/h/set-cookie-flood", "2,000 Set-Cookie lines of 30 bytes (64,000 bytes, under 64 KiB)",
         script(SET_COOKIES, "keep"), plain="200 bytes=3 ok"),

    # ---- framing -----------------------------------------------------------
    Case("/h/chunk-size-overflow", "chunk size \"ffffffffffffffffff\" (72 bits)",
         script(h200(CHUNKED) + b"ffffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
         plain="200 bytes=0 protocol"),
    Case("/h/chunk-size-negative", "chunk size \"-5\"",
         script(h200(CHUNKED) + b"-5\r\nhello\r\n0\r\n\r\n"), plain="200 bytes=0 protocol"),
    Case("/h/chunk-ext", "chunk extensions \";a=b;c=\\\"d e\\\"\", \";x\", \";last=\\\"1\\\"\"",
         script(h200(CHUNKED) + b"5;a=b;c=\"d e\"\r\nhello\r\n6;x\r\n world\r\n"
                b"0;last=\"1\"\r\n\r\n", "keep"), plain="200 bytes=11 ok"),
    Case("/h/chunk-ext-endless", "a chunk size, then an extension that never ends "
         "(1 KiB every 10 ms)",
         repeat(h200(CHUNKED) + b"5;", b"e" * 1024, 0.01),
         plain="200 bytes=0 protocol secs=0..1.5"),
    Case("/h/chunk-ext-trickle", "a chunk size, then an extension one byte every 0.3 s",
         repeat(h200(CHUNKED) + b"5;", b"e", 0.3),
         plain="200 bytes=0 timeout " + TIMEOUT_WHOLE),
    Case("/h/chunk-ext-bws", "\"5 ; a = b\" (whitespace around the extension)",
         script(h200(CHUNKED) + b"5 ; a = b\r\nhello\r\n0\r\n\r\n", "keep"),
         plain="200 bytes=5 ok"),
    Case("/h/chunk-bare-lf", "chunked framing with LF alone as line end",
         script(h200(CHUNKED) + b"5\nhello\n0\n\n", "keep"), plain="200 bytes=5 ok"),
    Case("/h/chunk-data-too-long", "\"5\\r\\nhelloXX\\r\\n\": more data than the size said",
         script(h200(CHUNKED) + b"5\r\nhelloXX\r\n0\r\n\r\n"), plain="200 bytes=5 protocol"),
    Case("/h/chunked-no-last-chunk", "chunked \"hello\", then FIN without the last chunk",
         script(h200(CHUNKED) + b"5\r\nhello\r\n"), plain="200 bytes=5 protocol"),
    Case("/h/trailer-many", "12 bytes chunked, then 100 trailer fields, Content-Length: 999 "
         "and Transfer-Encoding: gzip among them (ignored)",
         script(TRAILERS_MANY, "keep"), plain="200 bytes=12 ok"),
    Case("/h/trailer-huge", "5 bytes chunked, then 1000 trailer fields (96 KB)",
         script(TRAILERS_HUGE), plain="200 bytes=5 protocol"),
    Case("/h/cl-dup-differ", "Content-Length: 3 and Content-Length: 5",
         script(h200("Content-Length: 3", "Content-Length: 5") + b"hello"),
         plain="null bytes=0 protocol"),
    Case("/h/cl-dup-same", "Content-Length: 3 twice",
         script(h200("Content-Length: 3", "Content-Length: 3") + OK_BODY, "keep"),
         plain="null bytes=0 protocol"),
    Case("/h/cl-negative", "Content-Length: -1",
         script(h200("Content-Length: -1") + OK_BODY), plain="null bytes=0 protocol"),
    Case("/h/cl-2to64", "Content-Length: 18446744073709551616 (2^64)",
         script(h200("Content-Length: 18446744073709551616") + OK_BODY),
         plain="null bytes=0 protocol"),
    Case("/h/cl-not-a-number", "Content-Length: abc",
         script(h200("Content-Length: abc") + OK_BODY), plain="null bytes=0 protocol"),
    Case("/h/cl-plus", "Content-Length: +3",
         script(h200("Content-Length: +3") + OK_BODY), plain="null bytes=0 protocol"),
    Case("/h/cl-too-short", "Content-Length 5, \"hello\" and a whole second (fake) response "
         "in the same write; keep-alive",
         script(h200("Content-Length: 5") + b"hello" + FAKE_RESPONSE, "keep"),
         plain="200 bytes=5 ok"),
    Case("/h/cl-and-chunked", "Content-Length: 100 and Transfer-Encoding: chunked, a 5-byte "
         "chunked body; keep-alive",
         script(h200("Content-Length: 100", CHUNKED) + chunked(b"hello"), "keep"),
         plain="200 bytes=5 ok"),
    Case("/h/te-gzip", "Transfer-Encoding: gzip alone, a gzip body to the close",
         script(h200("Transfer-Encoding: gzip") + GZIP_BODY), plain="200 bytes=0 protocol"),
    Case("/h/te-gzip-chunked", "Transfer-Encoding: gzip, chunked (no TE asked)",
         script(h200("Transfer-Encoding: gzip, chunked") + chunked(GZIP_BODY)),
         plain="200 bytes=0 protocol"),
    Case("/h/te-chunked-upper", "Transfer-Encoding: Chunked (coding names ignore case)",
         script(h200("Transfer-Encoding: Chunked") + chunked(b"hello"), "keep"),
         plain="200 bytes=5 ok"),

    # ---- bodies --------------------------------------------------------------
    Case("/h/endless-close", "200, no length, 16 KiB every 10 ms, never ends",
         repeat(h200(), b"e" * 16384, 0.01), plain="200 bytes>0 timeout " + TIMEOUT_WHOLE),
    Case("/h/endless-chunked", "200 chunked, a 16 KiB chunk every 10 ms, never the last",
         repeat(h200(CHUNKED), chunked(b"e" * 16384, last=b""), 0.01),
         plain="200 bytes>0 timeout " + TIMEOUT_WHOLE),
    Case("/h/gzip-bomb", "gzip: 1 GiB of zeros in 1,061,908 bytes",
         encoded(GZIP_BOMB, "gzip"), plain="200 bytes=%d ok ce=gzip" % len(GZIP_BOMB),
         z="200 bytes=0..1048576 too_large secs=0..1.5"),
    Case("/h/gzip-chunked", "gzip in chunked framing (3 chunks)",
         script(h200("Content-Encoding: gzip", CHUNKED)
                + chunked(GZIP_BODY[:10], GZIP_BODY[10:40], GZIP_BODY[40:]), "keep"),
         plain="200 bytes=%d ok ce=gzip" % len(GZIP_BODY), z="200 bytes=4600 ok"),
    Case("/h/gzip-empty", "Content-Encoding: gzip, Content-Length: 0",
         encoded(b"", "gzip"), plain="200 bytes=0 ok ce=gzip", z="200 bytes=0 ok"),
    Case("/h/gzip-truncated", "the first half of a gzip stream (Content-Length matches)",
         encoded(GZIP_TRUNCATED, "gzip"),
         plain="200 bytes=%d ok ce=gzip" % len(GZIP_TRUNCATED), z="200 protocol"),
    Case("/h/gzip-bad-crc", "gzip whose CRC-32 trailer is wrong",
         encoded(GZIP_BAD_CRC, "gzip"),
         plain="200 bytes=%d ok ce=gzip" % len(GZIP_BAD_CRC), z="200 protocol"),
    Case("/h/deflate-bad", "Content-Encoding: deflate, a zlib header then a reserved block type",
         encoded(DEFLATE_BAD_BODY, "deflate"),
         plain="200 bytes=%d ok ce=deflate" % len(DEFLATE_BAD_BODY), z="200 protocol"),
    Case("/h/ce-unknown", "Content-Encoding: x-unknown, plain text",
         encoded(KNOWN_TEXT, "x-unknown"), plain="200 bytes=4600 ok ce=x-unknown",
         z="200 protocol"),
    Case("/h/ce-br", "Content-Encoding: br (brotli)", encoded(BR_BODY, "br"),
         plain="200 bytes=%d ok ce=br" % len(BR_BODY), z="200 bytes=4600 ok"),
    Case("/h/ce-zstd", "Content-Encoding: zstd", encoded(ZSTD_BODY, "zstd"),
         plain="200 bytes=%d ok ce=zstd" % len(ZSTD_BODY), z="200 bytes=4600 ok"),
    Case("/h/ce-gzip-gzip", "Content-Encoding: gzip, gzip (gzip applied twice)",
         encoded(GZIP_GZIP_BODY, "gzip, gzip"),
         plain="200 bytes=%d ok ce='gzip, gzip'" % len(GZIP_GZIP_BODY),
         z="200 bytes=0 protocol"),
    Case("/h/ce-x-gzip", "Content-Encoding: x-gzip (gzip's old name)",
         encoded(GZIP_BODY, "x-gzip"),
         plain="200 bytes=%d ok ce=x-gzip" % len(GZIP_BODY), z="200 bytes=4600 ok"),
    Case("/h/ce-gzip-upper", "Content-Encoding: GZIP", encoded(GZIP_BODY, "GZIP"),
         plain="200 bytes=%d ok ce=GZIP" % len(GZIP_BODY), z="200 bytes=4600 ok"),
    Case("/h/ce-identity", "Content-Encoding: identity, plain text",
         encoded(KNOWN_TEXT, "identity"), plain="200 bytes=4600 ok ce=identity",
         z="200 bytes=4600 ok"),
    Case("/h/204-with-body", "204 with Content-Length: 55 and a whole (fake) response after "
         "it; keep-alive",
         script(raw_head("HTTP/1.1 204 No Content", "Content-Length: %d" % len(FAKE_RESPONSE))
                + FAKE_RESPONSE, "keep"), plain="204 bytes=0 ok"),
    Case("/h/304-with-body", "304 with Content-Length: 55 and a whole (fake) response after "
         "it; keep-alive",
         script(raw_head("HTTP/1.1 304 Not Modified", "ETag: \"x\"",
                         "Content-Length: %d" % len(FAKE_RESPONSE)) + FAKE_RESPONSE, "keep"),
         plain="304 bytes=0 ok"),

    # ---- interim and odd statuses ------------------------------------------
    Case("/h/100-continue", "\"100 Continue\", then 200 \"ok\\n\"",
         script(raw_head("HTTP/1.1 100 Continue") + OK_RESPONSE, "keep"), plain="200 bytes=3 ok"),
    Case("/h/102-processing", "\"102 Processing\", 0.2 s, then 200 \"ok\\n\"",
         script(raw_head("HTTP/1.1 102 Processing"), 0.2, OK_RESPONSE, "keep"),
         plain="200 bytes=3 ok"),
    Case("/h/103-many", "20 \"103 Early Hints\", then 200 \"ok\\n\"",
         script(raw_head("HTTP/1.1 103 Early Hints", "Link: </s.css>; rel=preload") * 20
                + OK_RESPONSE, "keep"), plain="200 bytes=3 ok"),
    Case("/h/100-then-close", "\"100 Continue\", then FIN",
         script(raw_head("HTTP/1.1 100 Continue")), plain="null bytes=0 protocol"),

    # ---- redirects -----------------------------------------------------------
    Case("/h/redirect-no-location", "302 without Location, body \"no location\\n\"",
         answer(302, b"no location\n"), plain="302 bytes=12 ok redirects=0"),
    Case("/h/redirect-ftp", "302 to ftp://127.0.0.1/x", redirect("ftp://127.0.0.1/x"),
         plain="302 redirect"),
    Case("/h/redirect-javascript", "302 to javascript:alert(1)", redirect("javascript:alert(1)"),
         plain="302 redirect"),
    Case("/h/redirect-data", "302 to data:text/plain,hi", redirect("data:text/plain,hi"),
         plain="302 redirect"),
    Case("/h/redirect-climb/a/b", "302 to ../../../../../ok (climbs above the root: /ok)",
         redirect("../../../../../ok"), plain="200 bytes=3 ok redirects=1 final=/ok"),
    Case("/h/redirect-space", "302 to \"/ok/with space/\\xc3\\xbc\" (raw space and UTF-8)",
         redirect(b"/ok/with space/\xc3\xbc"),
         plain="200 bytes=3 ok redirects=1 final=/ok/with%20space/%C3%BC"),
    Case("/h/redirect-protocol-relative", "302 to //HOST:PORT/ok (the request's Host)",
         h_redirect_protocol_relative, plain="200 bytes=3 ok redirects=1 final=/ok"),
    Case("/h/redirect-chain/3", "302 to /h/redirect-chain/N-1 ... /h/redirect-chain/0, which "
         "goes to /ok: N+1 redirects", h_redirect_chain,
         plain="200 bytes=3 ok redirects=4 final=/ok"),
    Case("/h/redirect-chain/9", "the same, 10 redirects (--max-redirects 10 allows them)",
         plain="200 bytes=3 ok redirects=10 final=/ok"),
    Case("/h/redirect-chain/10", "the same, 11 redirects (one more than --max-redirects 10)",
         plain="302 redirect"),
    Case("/h/redirect-loop/a", "302 a -> b -> c -> a", h_redirect_loop, plain="302 redirect"),
    Case("/h/redirect-hosts/HOST/OTHER", "302 to http://OTHER:PORT/h/redirect-hosts/OTHER/HOST, "
         "which comes back: a loop across two hosts", h_redirect_hosts, plain="302 redirect"),

    # ---- back-off (with --retries 2) ----------------------------------------
    Case("/h/retry-after-huge", "503, Retry-After: 100000, every time",
         retry_after("100000"), backoff="503 bytes=12 ok attempts=1 secs=0..1.0"),
    Case("/h/retry-after-overflow", "503, Retry-After: 99999999999999999999999, every time",
         retry_after("99999999999999999999999"),
         backoff="503 bytes=12 ok attempts=1 secs=0..1.0"),
    Case("/h/retry-after-future", "503, Retry-After: Fri, 31 Dec 2100 23:59:59 GMT, every time",
         retry_after("Fri, 31 Dec 2100 23:59:59 GMT"),
         backoff="503 bytes=12 ok attempts=1 secs=0..1.0"),
    Case("/h/429-huge", "429, Retry-After: 100000, every time",
         retry_after("100000", status=429), backoff="429 bytes=12 ok attempts=1 secs=0..1.0"),
    Case("/h/retry-after-past", "503, Retry-After: Thu, 01 Jan 1970 00:00:00 GMT, once; then 200",
         retry_after("Thu, 01 Jan 1970 00:00:00 GMT", 1),
         backoff="200 bytes=3 ok attempts=2 secs=0..2.0"),
    Case("/h/retry-after-garbage", "503, Retry-After: soon-ish, once; then 200",
         retry_after("soon-ish", 1), backoff="200 bytes=3 ok attempts=2 secs=0..2.0"),
    Case("/h/retry-after-negative", "503, Retry-After: -5, once; then 200",
         retry_after("-5", 1), backoff="200 bytes=3 ok attempts=2 secs=0..2.0"),
    Case("/h/retry-after-1-always", "503, Retry-After: 1, every time: the third try would "
         "start after --timeout 2", retry_after("1"),
         backoff="503 bytes=12 ok attempts=2 secs=0.9..2.0"),

    # ---- keep-alive life (the HOSTILE_SEQUENCES use them) -------------------
    Case("/h/garbage-on-reuse", "200 \"ok\\n\" to a connection's first request, garbage (no "
         "close) to every later one", h_garbage_on_reuse, plain="200 bytes=3 ok"),
    Case("/h/ok-then-408", "200 \"ok\\n\", 0.2 s later an unasked 408 (Connection: close), FIN",
         ok_then_408(close=True), plain="200 bytes=3 ok"),
    Case("/h/ok-then-408-open", "200 \"ok\\n\", 0.2 s later an unasked 408 \"timeout\\n\"; goes "
         "on answering", ok_then_408(close=False), plain="200 bytes=3 ok"),
    Case("/h/http10-keepalive", "\"HTTP/1.0 200 OK\", no Connection header (so: not "
         "persistent), Content-Length 3; the server keeps the connection open",
         script(raw_head("HTTP/1.0 200 OK", T, "Content-Length: 3") + OK_BODY, "keep"),
         plain="200 bytes=3 ok"),
    Case("/h/says-close-keeps-open", "200 \"ok\\n\" with Connection: close, but the server "
         "keeps the connection open",
         script(h200("Content-Length: 3", "Connection: close") + OK_BODY, "keep"),
         plain="200 bytes=3 ok"),
]

HOSTILE_SEQUENCES = [
    Sequence("ka-reuse", "control: three /ok on one kept-alive connection",
             [("A", "/ok", "200 bytes=3 ok")] * 3, "A=1"),
    Sequence("ka-stale", "a server that closes after every response without saying so",
             [("A", "/ok-then-close", "200 bytes=3 ok attempts=1")] * 3, "A=3"),
    Sequence("ka-garbage", "garbage to every reused request: the 2nd fails, the 3rd gets a "
             "new connection",
             [("A", "/h/garbage-on-reuse", "200 bytes=3 ok"),
              ("A", "/h/garbage-on-reuse", "null bytes=0 protocol"),
              ("A", "/h/garbage-on-reuse", "200 bytes=3 ok")], "A=2"),
    Sequence("ka-408", "an unasked 408 and FIN on the pooled connection while B takes 0.5 s",
             [("A", "/h/ok-then-408", "200 bytes=3 ok"), ("B", "/slow/500", "200 bytes=3 ok"),
              ("A", "/ok", "200 bytes=3 ok")], "A=2 B=1"),
    Sequence("ka-408-open", "an unasked 408 on the pooled connection, which stays open",
             [("A", "/h/ok-then-408-open", "200 bytes=3 ok"),
              ("B", "/slow/500", "200 bytes=3 ok"), ("A", "/ok", "200 bytes=3 ok")],
             "A=2 B=1"),
    # In these three the next URL must get its own answer, never the extra
    # bytes; the connection may be reused only if they were all thrown away
    # (curl does that: "Excess found"), so one connection or two are fine.
    Sequence("ka-cl-short", "extra bytes (a whole fake response) after a Content-Length body",
             [("A", "/h/cl-too-short", "200 bytes=5 ok"), ("A", "/ok", "200 bytes=3 ok")],
             "A=1..2"),
    Sequence("ka-204-body", "a body (a whole fake response) after a 204",
             [("A", "/h/204-with-body", "204 bytes=0 ok"), ("A", "/ok", "200 bytes=3 ok")],
             "A=1..2"),
    Sequence("ka-304-body", "a body (a whole fake response) after a 304",
             [("A", "/h/304-with-body", "304 bytes=0 ok"), ("A", "/ok", "200 bytes=3 ok")],
             "A=1..2"),
    Sequence("ka-cl-chunked", "Content-Length with chunked: the connection is not reused",
             [("A", "/h/cl-and-chunked", "200 bytes=5 ok"), ("A", "/ok", "200 bytes=3 ok")],
             "A=2"),
    Sequence("ka-http10", "an HTTP/1.0 answer without keep-alive is not reused",
             [("A", "/h/http10-keepalive", "200 bytes=3 ok"), ("A", "/ok", "200 bytes=3 ok")],
             "A=2"),
    Sequence("ka-says-close", "Connection: close is obeyed even if the server keeps it open",
             [("A", "/h/says-close-keeps-open", "200 bytes=3 ok"),
              ("A", "/ok", "200 bytes=3 ok")], "A=2"),
]


# --------------------------------------------------------------------------
# Ports of curl's own tests (/curl/NNNN: curl's tests/data/testNNNN). Each
# answer has the wire shape of that test's <reply><data> (the line ends, the
# framing, the odd bytes), written here anew: other headers, other bodies.
# The expectation follows curl's verdict (its <verify>, <errorcode>) unless
# evcrawl's documented policy (README.md, "When things go wrong") differs,
# and then the description says so.

def lf_head(first, *lines):
    """Like raw_head, but every line (and the empty one) ended by LF alone."""
    return b"".join(_line(x) + b"\n" for x in (first,) + lines) + b"\n"


def curl_chunks(eol=b"\r\n"):
    """Three chunks of 64, 48 and 33 bytes (145 in all), the third with an
    extension and a LF as its last data byte, each line ended by `eol`; no
    last chunk."""
    return (b"40" + eol + b"A" * 64 + eol + b"30" + eol + b"B" * 48 + eol
            + b"21;faultd=ext" + eol + b"C" * 32 + b"\n" + eol)


def pages(routes):
    """A handler answering by what follows /curl/NNNN/ in the path (the
    query ignored): routes maps it to a handler; anything else is 404 (so a
    redirect resolved wrongly, or a request target with a fragment, shows)."""
    async def handler(conn, req, rest):
        h = routes.get(rest)
        if not h:
            return await respond(conn, req, 404, b"not found\n")
        return await h(conn, req, rest)
    return handler


def per_request(first, later):
    """`first` answers a connection's first request, `later` every later one."""
    async def handler(conn, req, rest):
        return await (first if conn.nreq == 1 else later)(conn, req, rest)
    return handler


def curl_gzip(data, flags=0, extra=b"", name=b"", comment=b""):
    """A gzip member of data with the optional header fields of RFC 1952."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = b"\x1f\x8b\x08" + bytes([flags]) + b"\x00\x00\x00\x00\x02\x03"
    if flags & 4:
        head += struct.pack("<H", len(extra)) + extra
    if flags & 8:
        head += name + b"\0"
    if flags & 16:
        head += comment + b"\0"
    return (head + c.compress(data) + c.flush()
            + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF))


CURL_TEXT = b"first line\n second line\n  third line\n"            # 37 bytes
CURL_GZ_NAME = curl_gzip(CURL_TEXT, 8, name=b"lines.txt")
CURL_GZ_LONG = curl_gzip(b"a gzip member behind a long extra field and comment\n", 4 | 8 | 16,
                         extra=b"FD" + struct.pack("<H", 996) + b"x" * 996,
                         name=b"long-header.txt", comment=b"c" * 1500)
CURL_GZ_TWO = gzip.compress(b"member one\n", mtime=0) + gzip.compress(b"member two\n", mtime=0)
CURL_DEFLATE_GZIP = gzip.compress(zlib.compress(KNOWN_TEXT), mtime=0)
# 256 MiB of zeros by `brotli -q 11 -w 24` (1.0.9): 211 bytes.
BR_BOMB = bytes.fromhex(
    "cfffff7ff82700e2b14020f7fe9ffffffff04f00c4610180eefd3fffffffe19f0088c322"
    "00ddfb7ffeffffc33f0110870500baf7fffcffff877f02200e0b0074effff9ffff0fff04"
    "401c1600e8defff3ffff1ffe0980382c00d0bdffe7ffff3ffc1300715800a07bffcfffff"
    "7ff82700e2b00040f7fe9ffffffff04f00c4610180eefd3fffffffe19f0088c30200ddfb"
    "7ffeffffc33f0110870500baf7fffcffff877f02200e0b0074effff9ffff0fff04401c16"
    "00e8defff3ffff1ffe0980382c00d0bdffe7ffff3ffc1300715800a07bff3f")
NINETEEN = b"nineteen bytes ok.\n"
UTF8_QUERY = "\u03ba\u03cc\u03c3\u03bc\u03b5-gr\xfc\xdfe-\u65e5\u672c".encode("utf-8")
UTF8_QUERY_PCT = "".join(chr(b) if b < 0x80 else "%%%02X" % b for b in UTF8_QUERY)
TRAILER_END = b"0\r\nX-Late-One: 1\r\nX-Late-Two: yes\r\n\r\n"


def follow_host(fmt):
    """A 302 whose Location is fmt % the request's Host header."""
    async def handler(conn, req, rest):
        return await redirect(fmt % req.headers.get("host", ""))(conn, req, rest)
    return handler


def curl_target(body=b"body\n"):
    """What a redirect of curl's tests lands on: a 200 with a Location
    header of its own (never followed) and a body to the close."""
    return script(lf_head("HTTP/1.1 200 OK", "Location: this is not followed",
                          "Connection: close") + body)


CURL_CASES = [
    # ---- chunked framing -----------------------------------------------------
    Case("/curl/34", "curl test 34: chunked (64, 48, 33 bytes; an extension; a LF "
         "inside the data) after a head of bare-LF lines with \"Connection: bogus\"",
         script(lf_head("HTTP/1.1 200 chunks ahead", "Server: faultd", CHUNKED,
                        "Connection: bogus") + curl_chunks() + b"0\r\n\r\n", "keep"),
         plain="200 bytes=145 ok"),
    Case("/curl/36", "curl test 36: a 2-byte chunk, then the chunk size \"NOT-HEX\"; "
         "the connection stays open (curl: error 56)",
         script(lf_head("HTTP/1.1 200 chunks ahead", CHUNKED)
                + b"2\r\nq\n\r\nNOT-HEX\r\n" + b"r" * 47 + b"\r\n", "keep"),
         plain="200 bytes=2 protocol"),
    Case("/curl/207", "curl test 207: one 65-byte chunk, then FIN before the last chunk "
         "(curl: 18, partial file)",
         script(lf_head("HTTP/1.1 200 chunks ahead", CHUNKED)
                + b"41\r\n" + b"A" * 64 + b"\n\r\n"),
         plain="200 bytes=65 protocol"),
    Case("/curl/1116", "curl test 1116: chunked framing with LF alone as line end, two "
         "trailer fields without a Trailer header",
         script(raw_head("HTTP/1.1 200 chunks ahead", CHUNKED) + curl_chunks(b"\n")
                + b"0\nX-Late-One: 1\nX-Late-Two: yes\n\n", "keep"),
         plain="200 bytes=145 ok"),
    Case("/curl/1416", "curl test 1416: chunk size \"fedcba9876543210f\" (17 hex digits, "
         "over 64 bits); the connection stays open (curl: error 56)",
         script(lf_head("HTTP/1.1 200 chunks ahead", CHUNKED)
                + b"fedcba9876543210f\r\n" + b"A" * 64 + b"\r\n0\r\n\r\n", "keep"),
         plain="200 bytes=0 protocol"),
    Case("/curl/373", "curl test 373: four chunks of 255 NUL bytes and a LF, "
         "Connection: close",
         script(raw_head("HTTP/1.1 200 OK", "Connection: close",
                         "Content-Type: application/octet-stream", CHUNKED)
                + b"100\r\n" + b"\0" * 255 + b"\n\r\n"
                + b"100\r\n" + b"\0" * 255 + b"\n\r\n"
                + b"100\r\n" + b"\0" * 255 + b"\n\r\n"
                + b"100\r\n" + b"\0" * 255 + b"\n\r\n0\r\n\r\n"),
         plain="200 bytes=1024 ok"),
    Case("/curl/2106", "curl test 2106: a 6-byte chunk, then a trailer field holding a "
         "NUL byte (curl: error 8: a trailer field passes the checks of a header field, "
         "and a NUL in the head is refused)",
         script(raw_head("HTTP/1.1 200 OK", CHUNKED, "Trailer: X-Sum")
                + b"6\r\nnul-t\n\r\n0\r\nX-Sum: ab\x00cd\r\n\r\n", "keep"),
         plain="200 bytes=6 protocol"),
    Case("/curl/365", "curl test 365: Content-Length: 123456 beside Transfer-Encoding: "
         "chunked (the chunks count: 16 bytes), bare-LF head",
         script(lf_head("HTTP/1.1 200 OK", "Content-Length: 123456", CHUNKED, T)
                + b"10\r\nsixteen bytes!!\n\r\n0\r\n\r\n", "keep"),
         plain="200 bytes=16 ok"),
    Case("/curl/1499", "curl test 1499: chunked with an extension and a trailer (the "
         "keep-alive sequence fetches it twice on one connection)",
         script(raw_head("HTTP/1.1 200 chunks ahead", CHUNKED, "Trailer: X-Late-One")
                + curl_chunks() + TRAILER_END, "keep"),
         plain="200 bytes=145 ok"),

    # ---- transfer codings ------------------------------------------------------
    Case("/curl/1482", "curl test 1482: Transfer-Encoding: chunked, chunked (chunked "
         "listed twice, the body chunked once), trailers (curl decodes the chunks once; "
         "evcrawl refuses: chunked applied twice would mean chunks inside chunks, and "
         "RFC 9112 forbids it, so the framing is not to be guessed)",
         script(raw_head("HTTP/1.1 200 chunks ahead", "Transfer-Encoding: chunked, chunked")
                + curl_chunks() + TRAILER_END, "keep"),
         plain="200 bytes=0 protocol"),
    Case("/curl/1483", "curl test 1483: two Transfer-Encoding: chunked header lines, the "
         "body chunked once, trailers (as 1482: curl decodes, evcrawl refuses)",
         script(raw_head("HTTP/1.1 200 chunks ahead", CHUNKED, CHUNKED)
                + curl_chunks() + TRAILER_END, "keep"),
         plain="200 bytes=0 protocol"),
    Case("/curl/1493", "curl test 1493: Transfer-Encoding: identity, chunked (curl "
         "decodes the chunks; evcrawl refuses a transfer coding other than chunked, "
         "\"identity\" included)",
         script(raw_head("HTTP/1.1 200 chunks ahead", "Transfer-Encoding: identity, chunked")
                + curl_chunks() + TRAILER_END, "keep"),
         plain="200 bytes=0 protocol"),
    Case("/curl/1494", "curl test 1494: Transfer-Encoding: identity, identity with "
         "Content-Length: 19 (curl takes the 19 bytes; evcrawl refuses a transfer "
         "coding other than chunked)",
         script(raw_head("HTTP/1.1 200 OK", "Transfer-Encoding: identity, identity",
                         "Content-Length: 19") + NINETEEN, "keep"),
         plain="200 bytes=0 protocol"),
    Case("/curl/1495", "curl test 1495: Transfer-Encoding: chunked, identity (chunked not "
         "last) with Content-Length: 19 (curl: error 61)",
         script(raw_head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked, identity",
                         "Content-Length: 19") + NINETEEN, "keep"),
         plain="200 bytes=0 protocol"),
    Case("/curl/1496", "curl test 1496: Transfer-Encoding: gzip, chunked, not asked for, "
         "with Content-Length: 19 and a plain body (curl: error 61)",
         script(raw_head("HTTP/1.1 200 OK", "Transfer-Encoding: gzip, chunked",
                         "Content-Length: 19") + NINETEEN, "keep"),
         plain="200 bytes=0 protocol"),
    Case("/curl/1546", "curl test 1546: Transfer-Encoding: chunked, gzip (the codings in "
         "the wrong order), an empty chunked body (curl: error 61)",
         script(raw_head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked, gzip")
                + b"0\r\n\r\n", "keep"),
         plain="200 bytes=0 protocol"),
    Case("/curl/1722", "curl test 1722: Transfer-Encoding: chunked, x-another (chunked "
         "not last), a chunked body (curl: error 61)",
         script(lf_head("HTTP/1.1 200 chunks ahead", "Transfer-Encoding: chunked, x-another")
                + curl_chunks() + b"0\r\n\r\n", "keep"),
         plain="200 bytes=0 protocol"),

    # ---- Content-Length ----------------------------------------------------------
    Case("/curl/178", "curl test 178: Content-Length: -6, a body to the close (curl: "
         "error 8)",
         script(lf_head("HTTP/1.1 200 OK", "Content-Length: -6", T) + b"negative body\n"),
         plain="null bytes=0 protocol"),
    Case("/curl/394", "curl test 394: Content-Length: junk (curl: error 8)",
         script(lf_head("HTTP/1.1 200 OK", "Content-Length: junk", "Connection: close", T)
                + b"-body-\n"),
         plain="null bytes=0 protocol"),
    Case("/curl/395", "curl test 395: Content-Length: 73786976294838206464 (2^66), "
         "Connection: close (curl reads to the close; evcrawl refuses an over-long "
         "length)",
         script(lf_head("HTTP/1.1 200 OK", "Content-Length: 73786976294838206464",
                        "Connection: close", T) + b"-body-\n"),
         plain="null bytes=0 protocol"),
    Case("/curl/415", "curl test 415: \"Content-Length: \\r-6\" (a CR, then a negative "
         "number; curl: error 8)",
         script(lf_head("HTTP/1.1 200 OK", b"Content-Length: \r-6", T) + b"negative body\n"),
         plain="null bytes=0 protocol"),
    Case("/curl/249", "curl test 249: 304 with Content-Length: 654321 and Connection: "
         "close, no body, FIN",
         script(lf_head("HTTP/1.1 304 Not Modified", 'ETag: "curl-249"',
                        "Content-Length: 654321", "Connection: close", T)),
         plain="304 bytes=0 ok"),
    Case("/curl/282", "curl test 282: \"HTTP/1.1 200 OK\\n\\n\" (no header at all), FIN",
         script(b"HTTP/1.1 200 OK\n\n"), plain="200 bytes=0 ok"),

    # ---- status lines, HTTP/0.9 ---------------------------------------------------
    Case("/curl/1174", "curl test 1174: a body with no status line (HTTP/0.9), FIN "
         "(curl refuses HTTP/0.9 by default: error 1)",
         script(b"just some text, no status line\n"), plain="null bytes=0 protocol"),
    Case("/curl/1266", "curl test 1266: a whole answer of two bytes \"x\\n\", FIN (curl takes it "
         "for HTTP/0.9 only with --http0.9)",
         script(b"x\n"), plain="null bytes=0 protocol"),
    Case("/curl/1267", "curl test 1267: \"HTTPx\\n\" (starts like a status line, is "
         "not one), FIN (HTTP/0.9 for curl only with --http0.9)",
         script(b"HTTPx\n"), plain="null bytes=0 protocol"),
    Case("/curl/1164", "curl test 1164: 208 NUL bytes, FIN (HTTP/0.9 for curl only with "
         "--http0.9)", script(b"\0" * 208),
         plain="null bytes=0 protocol"),
    Case("/curl/1429", "curl test 1429: \"HTTP/1.1 999 OK\", Content-Length: 6, "
         "Connection: close",
         script(raw_head("HTTP/1.1 999 OK", "Content-Length: 6", "Connection: close", T)
                + b"-999-\n"),
         plain="999 bytes=6 ok"),
    Case("/curl/1432", "curl test 1432: a status code of 100 digits (curl: error 1)",
         script(lf_head("HTTP/1.1 " + "9876543210" * 10 + " OK", "Content-Length: 6",
                        "Connection: close") + b"-big-\n"),
         plain="null bytes=0 protocol"),
    Case("/curl/1433", "curl test 1433: \"HTTP/1.\" and a minor version of 100 digits "
         "(curl: error 1)",
         script(lf_head("HTTP/1." + "1234567890" * 10 + " 200 OK", "Content-Length: 6",
                        "Connection: close") + b"-big-\n"),
         plain="null bytes=0 protocol"),
    Case("/curl/1466", "curl test 1466: \"HTTP/1.1 405 405\" (a reason of digits)",
         script(lf_head("HTTP/1.1 405 405", "Content-Length: 6", "Connection: close")
                + b"-405-\n"),
         plain="405 bytes=6 ok"),
    Case("/curl/1115", "curl test 1115: an unknown interim \"104 Experiment\" with "
         "headers, then 200 with Content-Length: 0",
         script(raw_head("HTTP/1.1 104 Experiment", "X-Powered-By: faultd")
                + raw_head("HTTP/1.1 200 OK", T, "Content-Length: 0"), "keep"),
         plain="200 bytes=0 ok"),
    Case("/curl/1479", "curl test 1479: 200 \"data\\n\" to a connection's first request, "
         "an HTTP/0.9 answer (no status line) to every later one",
         per_request(script(raw_head("HTTP/1.1 200 OK", "Content-Length: 5") + b"data\n",
                            "keep"),
                     script(b"data\r\ndata\r\ndata\r\n", "keep")),
         plain="200 bytes=5 ok"),
    Case("/curl/471", "curl test 471: 200 to a connection's first request, \"HTTP/2 200 "
         "OK\" to every later one, then FIN",
         per_request(script(raw_head("HTTP/1.1 200 OK", "Content-Length: 6", T) + b"-foo-\n",
                            "keep"),
                     script(raw_head("HTTP/2 200 OK", T, "Connection: close")
                            + b"not http/1.1\n")),
         plain="200 bytes=6 ok"),

    # ---- header lines -------------------------------------------------------------
    Case("/curl/1274", "curl test 1274: folded header lines (spaces, tabs, a value on "
         "three lines) and a folded \"Connection:\\r\\n   close\"; the server keeps the "
         "connection open",
         script(raw_head("HTTP/1.1 200 OK", "Server: faultd/", " curl", " port",
                         "X-Tabs: tab/\t", "\tafter-tab", "\t mixed", 'ETag: "fold"',
                         "Content-Length: 6", "Connection:" + " " * 40, "   close")
                + b"-fold\n", "keep"),
         plain="200 bytes=6 ok"),
    Case("/curl/1473", "curl test 1473: the first header line starts with a space",
         script(raw_head("HTTP/1.1 200 OK", " X-Leading: space before the first field",
                         "Server: faultd", "Content-Length: 6") + b"-lead\n", "keep"),
         plain="200 bytes=6 ok"),
    Case("/curl/262", "curl test 262: a NUL byte at the end of the status line and of "
         "two header lines (curl: error 8)",
         script(lf_head(b"HTTP/1.1 200 OK\x00", b"Server: faultd\x00", b'ETag: "n"\x00',
                        "Content-Length: 6", "Connection: close") + b"hello\n"),
         plain="null bytes=0 protocol"),
    Case("/curl/2105", "curl test 2105: a CR inside a header value (curl: error 8)",
         script(raw_head("HTTP/1.1 200 OK", b"Server: fault\rd", "Content-Length: 6")
                + b"-cr--\n", "keep"),
         plain="null bytes=0 protocol"),
    Case("/curl/398", "curl test 398: a header line without a colon (curl: error 8)",
         script(lf_head("HTTP/1.1 200 OK", "Server faultd-no-colon", "Content-Length: 6",
                        "Connection: close") + b"hello\n"),
         plain="null bytes=0 protocol"),
    Case("/curl/1154", "curl test 1154: one header line of 100 KiB (curl: error 100, "
         "too large; evcrawl: a head over 64 KiB is kind protocol)",
         script(lf_head("HTTP/1.1 200 OK", "Content-Length: 6", "Connection: close",
                        "Long: " + "L" * 102400) + b"-long\n"),
         plain="null bytes=0 protocol"),
    Case("/curl/1205", "curl test 1205: one header line of 18 KB",
         script(lf_head("HTTP/1.1 200 OK", "Content-Length: 6", "Connection: close",
                        "Wide-Header: " + "W" * 18000 + "end") + b"-wide\n"),
         plain="200 bytes=6 ok"),
    Case("/curl/747", "curl test 747: 5,001 header lines of 16 bytes (80 KB; curl: error "
         "100, over its 5,000 headers; evcrawl counts bytes, not lines: a head over "
         "64 KiB is kind protocol, /h/headers-10000-small passes)",
         script(lf_head("HTTP/1.1 200 OK", "Content-Length: 6", "Connection: close",
                        *(["Small: and many"] * 5001)) + b"-many\n"),
         plain="null bytes=0 protocol"),

    # ---- content codings ----------------------------------------------------------
    Case("/curl/220", "curl test 220: Content-Encoding: GZIP, a gzip member with a file "
         "name (FNAME) in its header",
         encoded(CURL_GZ_NAME, "GZIP"),
         plain="200 bytes=%d ok ce=GZIP" % len(CURL_GZ_NAME),
         z="200 bytes=%d ok" % len(CURL_TEXT)),
    Case("/curl/221", "curl test 221: Content-Encoding: gzip, the member without its first "
         "3 bytes (magic and method; curl: error 61)",
         encoded(CURL_GZ_NAME[3:], "gzip"),
         plain="200 bytes=%d ok ce=gzip" % (len(CURL_GZ_NAME) - 3), z="200 protocol"),
    Case("/curl/223", "curl test 223: Content-Encoding: deflate, Content-Length: %d, the "
         "zlib stream without its first 3 bytes and cut short: 17 bytes, then silence "
         "(curl: error 61 at once)" % len(DEFLATE_BODY),
         script(h200("Content-Encoding: deflate", "Content-Length: %d" % len(DEFLATE_BODY))
                + DEFLATE_BODY[3:20], "stall"),
         plain="200 bytes=17 timeout " + TIMEOUT_IDLE, z="200 protocol secs=0..1.5"),
    Case("/curl/224", "curl test 224: Content-Encoding: gzip, a member whose header has "
         "a 1000-byte extra field (FEXTRA), a name and a 1500-byte comment",
         encoded(CURL_GZ_LONG, "gzip"),
         plain="200 bytes=%d ok ce=gzip" % len(CURL_GZ_LONG), z="200 bytes=52 ok"),
    Case("/curl/230", "curl test 230: Content-Encoding: deflate, identity, gzip (deflate, "
         "then gzip; curl decodes both; evcrawl decodes one coding and refuses a list)",
         encoded(CURL_DEFLATE_GZIP, "deflate, identity, gzip"),
         plain="200 bytes=%d ok ce='deflate, identity, gzip'" % len(CURL_DEFLATE_GZIP),
         z="200 bytes=0 protocol"),
    Case("/curl/2305", "curl test 2305: Content-Encoding: gzip, two gzip members one "
         "after the other (curl: error 23, multi-member gzip not supported; evcrawl "
         "decodes both, as gzip -d does: RFC 1952 allows several members)",
         encoded(CURL_GZ_TWO, "gzip"),
         plain="200 bytes=%d ok ce=gzip" % len(CURL_GZ_TWO), z="200 bytes=22 ok"),
    Case("/curl/315", "curl test 315: Content-Encoding: br, Content-Length: %d, the "
         "brotli stream without its first 3 bytes and cut short: 17 bytes, then "
         "silence (curl: error 61)" % len(BR_BODY),
         script(h200("Content-Encoding: br", "Content-Length: %d" % len(BR_BODY))
                + BR_BODY[3:20], "stall"),
         plain="200 bytes=17 timeout " + TIMEOUT_IDLE, z="200 protocol secs=0..1.5"),
    Case("/curl/1618", "curl test 1618: a brotli bomb: 256 MiB of zeros in 211 bytes "
         "(curl with --max-filesize: error 63)",
         encoded(BR_BOMB, "br"), plain="200 bytes=211 ok ce=br",
         z="200 bytes=0..1048576 too_large secs=0..1.5"),
    Case("/curl/328", "curl test 328: Content-Encoding: none (curl takes it for identity, "
         "as evcrawl takes \"identity\")",
         encoded(b"what did the zero say to the eight? nice belt!\n", "none"),
         plain="200 bytes=47 ok ce=none", z="200 bytes=47 ok"),

    # ---- redirects ------------------------------------------------------------------
    Case("/curl/28/want", "curl test 28: 301 with \"Location:   /curl/28/page/1,17,Hi,"
         "00.html/2.txt?logout=yes\" (spaces before it, commas in it), a body to the close",
         pages({"want": script(lf_head("HTTP/1.1 301 This is a weird reason text",
                                       "Location:   /curl/28/page/1,17,Hi,00.html/2.txt"
                                       "?logout=yes", "Connection: close")
                               + b"a body that is not followed\n"),
                "page/1,17,Hi,00.html/2.txt": answer(200, b"followed here fine\n")}),
         plain="200 bytes=19 ok redirects=1 final=/curl/28/page/1,17,Hi,00.html/2.txt"
               "?logout=yes"),
    Case("/curl/54", "curl test 54: 302 with \"Location: \" (empty), a body to the close",
         script(lf_head("HTTP/1.1 302 Found", "Connection: close", "Location: ")
                + b"no place to go\n"),
         plain="302 bytes=15 ok redirects=0"),
    Case("/curl/49/we/are/all/here", "curl test 49: 302 to \"../moo.html/2\" (to "
         "/curl/49/we/are/moo.html/2, whose 200 has a Location of its own)",
         pages({"we/are/all/here": script(lf_head("HTTP/1.1 302 OK", "Location: ../moo.html/2",
                                                  "Connection: close")),
                "we/are/moo.html/2": curl_target()}),
         plain="200 bytes=5 ok redirects=1 final=/curl/49/we/are/moo.html/2"),
    Case("/curl/42/we/are/all/here", "curl test 42: 302 to \"../s p a c e.html/2    \" "
         "(spaces inside, and after it)",
         pages({"we/are/all/here": script(raw_head("HTTP/1.1 302 OK",
                                                   "Location: ../s p a c e.html/2    ",
                                                   "Connection: close")),
                "we/are/s%20p%20a%20c%20e.html/2": curl_target()}),
         plain="200 bytes=5 ok redirects=1 final=/curl/42/we/are/s%20p%20a%20c%20e.html/2"),
    Case("/curl/1138/we/are/all/here", "curl test 1138: 302 to \"../moo.html/?name=\" and "
         "raw UTF-8 (Greek, German, Japanese: %d bytes)" % len(UTF8_QUERY),
         pages({"we/are/all/here": script(raw_head("HTTP/1.1 302 OK",
                                                   b"Location: ../moo.html/?name=" + UTF8_QUERY,
                                                   "Connection: close")),
                "we/are/moo.html/": curl_target()}),
         plain="200 bytes=5 ok redirects=1 final=/curl/1138/we/are/moo.html/?name="
               + UTF8_QUERY_PCT),
    Case("/curl/1413/this/here", "curl test 1413: 302 to \"moo.html/2#fragmentpart\" (the "
         "fragment is never sent: a target with one gets 404)",
         pages({"this/here": script(raw_head("HTTP/1.1 302 OK",
                                             "Location: moo.html/2#fragmentpart",
                                             "Connection: close")),
                "this/moo.html/2": curl_target()}),
         plain="200 bytes=5 ok redirects=1 final=/curl/1413/this/moo.html/2"),
    Case("/curl/276/want?uri=http://anything/276?second/276", "curl test 276: 301 to "
         "\"data/2.txt?site=http://elsewhere/?a_second/2\" (\"?\" and \"://\" in the query)",
         pages({"want": script(lf_head("HTTP/1.1 301 Moved", "Location: data/2.txt?site="
                                       "http://elsewhere/?a_second/2", "Connection: close")
                               + b"a body that is not followed\n"),
                "data/2.txt": answer(200, b"followed here fine\n")}),
         plain="200 bytes=19 ok redirects=1 final=/curl/276/data/2.txt?site=http://"
               "elsewhere/?a_second/2"),
    Case("/curl/1141/want", "curl test 1141: 302 to \"http:///HOST:PORT/curl/1141/got\" "
         "(three slashes: the host is the one after them; curl follows it, as URL "
         "parsers of the WHATWG standard do)",
         pages({"want": follow_host("http:///%s/curl/1141/got"),
                "got": answer(200, b"hej\n")}),
         plain="200 bytes=4 ok redirects=1 final=/curl/1141/got"),
    Case("/curl/1142/want", "curl test 1142: 302 to \"http:////HOST:PORT/curl/1142/got\" "
         "(four slashes; curl: error 3, a malformed URL)",
         pages({"want": follow_host("http:////%s/curl/1142/got"),
                "got": answer(200, b"hej\n")}),
         plain="302 redirect"),
    Case("/curl/580", "curl test 580: 302 with two different Location headers (curl: "
         "error 8, \"Multiple Location headers\"; browsers refuse it too): neither is "
         "followed",
         script(raw_head("HTTP/1.1 302 Found", "Location: first.html", "Content-Length: 0",
                         "Connection: close", "Location: second.html")),
         plain="302 bytes=0 protocol"),

    # ---- Retry-After (with --retries 2) ----------------------------------------------
    Case("/curl/366", "curl test 366: 503 with Retry-After: 200, every time (beyond "
         "--timeout: not retried)",
         script(lf_head("HTTP/1.1 503 BAD", "Content-Length: 21", "Retry-After: 200")
                + b"service unavailable!\n", "keep"),
         backoff="503 bytes=21 ok attempts=1 secs=0..1.0"),
    Case("/curl/1594", "curl test 1594: 503 with Retry-After: 22, no length and no body, "
         "FIN",
         script(lf_head("HTTP/1.1 503 Error", "Server: faultd", "Retry-After: 22")),
         plain="503 bytes=0 ok", backoff="503 bytes=0 ok attempts=1 secs=0..1.0"),
    Case("/curl/1596", "curl test 1596: 429 with Retry-After: Thu, 31 Dec 2139 23:00:00 "
         "GMT, no length and no body, FIN",
         script(lf_head("HTTP/1.1 429 Too Many Requests",
                        "Retry-After: Thu, 31 Dec 2139 23:00:00 GMT")),
         backoff="429 bytes=0 ok attempts=1 secs=0..1.0"),
    Case("/curl/1633", "curl test 1633: 301 to /curl/1633/2, which answers 429 with "
         "Retry-After: 1 every time (the third try would start after --timeout 2)",
         pages({"": script(lf_head("HTTP/1.1 301 OK", "Content-Length: 0", "Connection: close",
                                   "Location: /curl/1633/2")),
                "2": script(lf_head("HTTP/1.1 429 too many requests", "Retry-After: 1",
                                    "Content-Length: 0", "Connection: close"))}),
         backoff="429 bytes=0 ok attempts=2 redirects=1 final=/curl/1633/2 secs=0.9..2.0"),

    # ---- connections (the CURL_SEQUENCES) --------------------------------------------
    Case("/curl/160", "curl test 160: 200 \"surprise\\n\" (Content-Length 9, no "
         "Connection: close), then FIN 0.2 s later whatever came in; /curl/160/more: 200 "
         "\"surprise2\\n\" to the close",
         pages({"": script(raw_head("HTTP/1.1 200 OK", "Content-Length: 9") + b"surprise\n",
                           0.2),
                "more": script(raw_head("HTTP/1.1 200 OK", "Connection: close")
                               + b"surprise2\n")}),
         plain="200 bytes=9 ok"),
]
HOSTILE_CASES += CURL_CASES

CURL_SEQUENCES = [
    Sequence("curl-160", "curl test 160: the pooled connection is closed 0.2 s after its "
             "answer, perhaps with the next request on it: that one goes on a new "
             "connection",
             [("A", "/curl/160", "200 bytes=9 ok"),
              ("A", "/curl/160/more", "200 bytes=10 ok")], "A=2"),
    Sequence("curl-1274", "curl test 1274: a Connection: close folded over two lines is "
             "obeyed",
             [("A", "/curl/1274", "200 bytes=6 ok"), ("A", "/ok", "200 bytes=3 ok")], "A=2"),
    Sequence("curl-1479", "curl test 1479: an HTTP/0.9 answer on a reused connection",
             [("A", "/curl/1479", "200 bytes=5 ok"),
              ("A", "/curl/1479", "null bytes=0 protocol")], "A=1"),
    Sequence("curl-471", "curl test 471: an \"HTTP/2 200\" answer on a reused connection",
             [("A", "/curl/471", "200 bytes=6 ok"),
              ("A", "/curl/471", "null bytes=0 protocol")], "A=1"),
    Sequence("curl-1499", "curl test 1499: the connection is reused after a chunked body "
             "with a trailer",
             [("A", "/curl/1499", "200 bytes=145 ok")] * 2, "A=1"),
]
HOSTILE_SEQUENCES += CURL_SEQUENCES


def hostile_table():
    """The catalogue as text (the module docstring and `faultd.py --cases`)."""
    out = []
    for c in HOSTILE_CASES:
        out.append("  %s\n      %s" % (c.path, c.does))
        for run in ("plain", "z", "backoff"):
            if run in c.expect:
                out.append("      %-8s-> %s" % (run, c.expect[run]))
    out.append("")
    out.append("  Sequences (run \"ka\"; hosts A, B; conns: connections faultd saw per host):")
    for s in HOSTILE_SEQUENCES:
        out.append("  %s: %s (conns %s)" % (s.name, s.does, s.conns))
        for host, path, want in s.steps:
            out.append("      %s %-26s -> %s" % (host, path, want))
    return "\n".join(out)


__doc__ = __doc__.replace("@RUNS@", "\n".join(
    "  %-8s %s" % (k, v) for k, v in HOSTILE_RUNS.items())).replace("@CASES@", hostile_table())

HOSTILE = {}            # NAME -> handler, for /h/NAME[/...]
CURL = {}               # NNNN -> handler, for /curl/NNNN[/...]
for _c in HOSTILE_CASES:
    for _prefix, _table in (("/h/", HOSTILE), ("/curl/", CURL)):
        if _c.path.startswith(_prefix) and _c.handler:
            _table[_c.path[len(_prefix):].split("/")[0].split("?")[0]] = _c.handler


async def h_hostile(conn, req, rest):
    handler = HOSTILE.get(rest.split("/")[0])
    if not handler:
        return await respond(conn, req, 404, b"not found\n")
    return await handler(conn, req, rest.partition("/")[2])


async def h_curl(conn, req, rest):
    handler = CURL.get(rest.split("/")[0])
    if not handler:
        return await respond(conn, req, 404, b"not found\n")
    return await handler(conn, req, rest.partition("/")[2])


# Exact paths first, then prefixes (longest first wins; "rest" is what follows).
EXACT = {
    "/ok": h_ok, "/echo": h_echo, "/close": h_close,
    "/ok-then-close": h_ok_then_close,
    "/close-before-head": h_close_before_head, "/reset": h_reset,
    "/partial-body": h_partial_body, "/huge-head": h_huge_head,
    "/garbage": h_garbage, "/no-length": h_no_length, "/http10": h_http10,
    "/interim": h_interim, "/drip": h_drip, "/stall": h_stall,
    "/stream-forever": h_stream_forever,
    "/head-only-then-stall": h_head_only_then_stall,
    "/slow-loris-head": h_slow_loris_head, "/204": h_204, "/304": h_304,
    "/chunked-bad": h_chunked_bad, "/chunked-trailer": h_chunked_trailer,
    "/gzip": _encoded(GZIP_BODY, "gzip"),
    "/gzip-bad": _encoded(GZIP_BAD_BODY, "gzip"),
    "/deflate": _encoded(DEFLATE_BODY, "deflate"),
    "/deflate-raw": _encoded(DEFLATE_RAW_BODY, "deflate"),
    "/__stats": h_stats, "/__reset": h_reset_stats,
}
PREFIXES = [
    ("/ok/", h_ok), ("/slow/", h_slow), ("/echo/", h_echo),
    ("/retry/", h_retry), ("/429/", h_429), ("/big/", h_big), ("/h/", h_hostile),
    ("/curl/", h_curl),
]



# --------------------------------------------------------------------------
# Cookies (/cookie/...): what a server sets, and what the client sent back.

async def h_cookie(conn, req, rest):
    from urllib.parse import parse_qsl
    query = req.target.partition("?")[2]
    params = parse_qsl(query, keep_blank_values=True, encoding="latin-1")
    hdrs = [("Set-Cookie", v) for k, v in params if k == "c"]
    sent = [l.partition(":")[2].strip() for l in req.raw.decode("latin-1").split("\r\n")[1:]
            if l.lower().startswith("cookie:")]
    if sent:
        hdrs.append(("X-Got-Cookie", sent[-1]))
    hdrs.append(("X-Cookie-Headers", len(sent)))
    delay = [v for k, v in params if k == "delay" and v.isdigit()]
    if delay:
        await conn.sleep(int(delay[-1]) / 1000.0)
    to = [v for k, v in params if k == "to"]
    if to:
        hdrs.append(("Location", to[-1]))
        return await respond(conn, req, 302, b"", headers=hdrs)
    return await respond(conn, req, 200, req.raw, headers=hdrs)


PREFIXES.append(("/cookie/", h_cookie))


def route(path):
    if path in EXACT:
        return EXACT[path], ""
    for prefix, handler in PREFIXES:
        if path.startswith(prefix):
            return handler, path[len(prefix):]
    return None, ""


async def h_not_found(conn, req, rest):
    return await respond(conn, req, 404, b"not found\n")


# --------------------------------------------------------------------------
# The connection loop

PROXY_FAULTS = ("forbidden", "unavailable", "refused", "auth", "garbage", "stall", "close",
                "trickle", "huge", "early")
PROXY_GARBAGE = b"SSH-2.0-garbage\x00\xff\xfe\r\n\r\n"


def proxy_fault(host):
    """The misbehaviour a proxy target NAME.proxy asks for, or None."""
    host = (host or "").lower().rstrip(".")
    name, _, rest = host.partition(".")
    return name if rest == "proxy" and name in PROXY_FAULTS else None


async def stall(conn):
    await conn.sleep(60)


async def trickle(conn, data):
    """data a byte every 0.25 s (each read is well within any I/O timeout),
    then a stall."""
    for i in range(len(data)):
        await conn.send(data[i:i + 1])
        await conn.sleep(0.25)
    await stall(conn)


async def http_proxy_fault(conn, req, fault):
    """Misbehave as an HTTP proxy (CONNECT or absolute-form). Returns
    whether the connection goes on."""
    close = [("Content-Length", 0), ("Connection", "close")]
    if fault in ("forbidden", "unavailable", "refused"):
        status, reason = {"forbidden": (403, "Forbidden"), "refused": (502, "Bad Gateway"),
                          "unavailable": (503, "Service Unavailable")}[fault]
        await conn.send(head(status, close, reason=reason))
    elif fault == "auth":
        await conn.send(head(407, [("Proxy-Authenticate", 'Basic realm="faultd"')] + close,
                             reason="Proxy Authentication Required"))
    elif fault == "garbage":
        await conn.send(PROXY_GARBAGE)
    elif fault == "stall":
        await stall(conn)
    elif fault == "trickle":
        await trickle(conn, b"HTTP/1.1 200 Connection established\r\nX-Slow: yes\r\n")
    elif fault == "huge":
        await conn.send(b"HTTP/1.1 200 Connection established\r\n")
        for i in range(64):
            await conn.send(b"X-Filler-%02d: %s\r\n" % (i, b"h" * 1010))
        await stall(conn)
    elif fault == "early":
        await conn.send(b"HTTP/1.1 200 Connection established\r\n\r\n" + PROXY_GARBAGE)
    await conn.flushed()
    return False


async def socks5(conn):
    """Act as a SOCKS5 proxy (RFC 1928, RFC 1929) until the tunnel is open:
    True to serve HTTP on the same connection (the tunnel leads to faultd
    itself), False to close."""
    async def take(n):
        while len(conn.buf) < n:
            if conn.closed or not await conn.wait_data(IDLE_TIMEOUT):
                raise Closed()
        data = bytes(conn.buf[:n])
        del conn.buf[:n]
        conn.more.set()
        return data
    ver, nmethods = await take(2)
    methods = await take(nmethods)
    if 2 in methods:                    # a user name and password: any will do
        await conn.send(b"\x05\x02")
        _, ulen = await take(2)
        await take(ulen)
        plen, = await take(1)
        await take(plen)
        await conn.send(b"\x01\x00")
    else:
        await conn.send(b"\x05\x00")
    ver, cmd, _, atyp = await take(4)
    if atyp == 1:
        host = socket.inet_ntop(socket.AF_INET, await take(4))
    elif atyp == 4:
        host = socket.inet_ntop(socket.AF_INET6, await take(16))
    else:
        n, = await take(1)
        host = (await take(n)).decode("latin-1")
    await take(2)
    fault = proxy_fault(host)
    ok = b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x50"
    if fault is None:
        await conn.send(ok)
        return True
    if fault in ("forbidden", "unavailable", "refused"):
        code = {"forbidden": 2, "unavailable": 1, "refused": 5}[fault]
        await conn.send(b"\x05" + bytes([code]) + ok[2:])
    elif fault == "garbage":
        await conn.send(PROXY_GARBAGE)
    elif fault in ("stall", "huge", "early", "auth"):
        await stall(conn)
    elif fault == "trickle":
        await trickle(conn, ok)
    await conn.flushed()
    return False


async def serve(reader, writer):
    """Answer requests on one connection, in order, until a handler says to
    close or the client goes. As a proxy (see "A broken proxy"), first the
    SOCKS5 handshake or the CONNECT."""
    conn = Conn(reader, writer)
    try:
        while not conn.buf and not conn.closed:
            if not await conn.wait_data(IDLE_TIMEOUT):
                break
        if conn.buf[:1] == b"\x05" and not await socks5(conn):
            conn.close()
            return
        while not conn.closed:
            req = await conn.read_request()
            if req is None:
                break
            conn.nreq += 1
            if req.method == "CONNECT" or req.target.startswith("http://"):
                target = req.target[7:] if req.method != "CONNECT" else req.target
                hostport, _, path = target.partition("/")
                host = hostport.rsplit(":", 1)[0].strip("[]")
                fault = proxy_fault(host)
                if fault:
                    await http_proxy_fault(conn, req, fault)
                    break
                if req.method == "CONNECT":
                    await conn.send(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    continue
                req.path = "/" + path.split("?", 1)[0]
            handler, rest = route(req.path)
            if req.path not in ADMIN_PATHS:
                conn.count(req)
            if not await (handler or h_not_found)(conn, req, rest):
                break
    except (Closed, ConnectionError, OSError):
        pass
    except ValueError as e:             # unparsable request: just hang up
        log.info("bad request: %s", e)
    except asyncio.CancelledError:      # server shutting down
        conn.close()
        raise
    except Exception:                   # a bug here must not kill the server
        log.exception("handler failed")
    conn.close()


# --------------------------------------------------------------------------
# Startup

def loopback_only(addr):
    if not ipaddress.ip_address(addr).is_loopback:
        sys.exit("faultd: refusing to listen on non-loopback address %s" % addr)


def listening_sockets(args):
    socks = []
    for fd in args.fd:
        s = socket.socket(fileno=fd)
        loopback_only(s.getsockname()[0])
        socks.append(s)
    if not socks:
        port = args.port
        for addr in args.listen or ["127.0.0.1"]:
            loopback_only(addr)
            fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((addr, port))
            s.listen(4096)
            port = s.getsockname()[1]   # later addresses share the first's port
            socks.append(s)
    return socks


async def main_async(socks):
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    servers = [await asyncio.start_server(serve, sock=s, limit=HEAD_LIMIT, backlog=4096)
               for s in socks]
    print("faultd ready port=%d" % socks[0].getsockname()[1], flush=True)
    await stop.wait()
    for srv in servers:
        srv.close()


def main():
    ap = argparse.ArgumentParser(description="hostile HTTP test server (see module docstring)")
    ap.add_argument("--listen", action="append", help="loopback address (repeatable)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--fd", type=int, action="append", default=[],
                    help="an inherited listening socket (repeatable)")
    ap.add_argument("--cases", action="store_true",
                    help="print the hostile cases (the catalogue) and exit")
    args = ap.parse_args()
    if args.cases:
        print(hostile_table())
        return
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="faultd: %(levelname)s %(message)s")
    # asyncio complains loudly about writes to sockets the client reset;
    # those are expected here.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    socks = listening_sockets(args)
    try:
        asyncio.run(main_async(socks))
    except KeyboardInterrupt:
        pass
    # Exit without waiting for stalled handlers to unwind.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
