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
  /__stats                JSON accounting (below); never counted itself
  /__reset                zeroes the accounting and the /retry and /429
                          counters; answers "reset\\n"
  anything else           404, body "not found\\n"

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

Usage:
  faultd.py [--listen ADDR]... [--port PORT]     binds ADDR:PORT itself
  faultd.py --fd N [--fd N]...                   serves already-listening
                                                 sockets (how world.py starts it)
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
    ("/retry/", h_retry), ("/429/", h_429), ("/big/", h_big),
]


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

async def serve(reader, writer):
    """Answer requests on one connection, in order, until a handler says to
    close or the client goes."""
    conn = Conn(reader, writer)
    try:
        while not conn.closed:
            req = await conn.read_request()
            if req is None:
                break
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
    args = ap.parse_args()
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
