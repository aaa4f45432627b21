#!/usr/bin/env python3
"""world.py - evcrawl's local test world: nginx, dnsmasq and faultd on loopback.

There is no internet here, so the tests bring their own: an nginx serving a
generated site (plus delays, redirects, gzip, chunked bodies, optionally TLS), a
dnsmasq answering for test host names (h01.test ... h20.test and a few more),
and faultd (faultd.py beside this file) for broken and hostile answers.
Everything listens on loopback only, on free ports, and is stopped by pid.
tests/env/README.md has the full list of paths and names.

From Python (tests put tests/env on sys.path):

    from world import World, resolve
    with World(pages=200, delay_ms=100) as w:
        w.url("h01.test", "/p/1.html")   # "http://h01.test:PORT/p/1.html"
        w.http_port, w.dns_port, w.fault_port, w.dir, w.root, w.hosts

From a shell:

    eval "$(tests/env/world.py start --pages 1000)"   # sets EVC_WORLD_DIR, ...
    tests/env/world.py stop "$EVC_WORLD_DIR"

Processes are tracked in DIR/world.pids as "NAME PID STARTTIME" lines. Stop
signals a pid only while /proc shows the same start time and the expected
program at that pid, so it never kills a process it did not start, and it
can be run any number of times.
"""

import argparse
import ctypes
import hashlib
import os
import random
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections import namedtuple

HERE = os.path.dirname(os.path.abspath(__file__))
FAULTD = os.path.join(HERE, "faultd.py")
NGINX = "/usr/sbin/nginx"
DNSMASQ = "/usr/sbin/dnsmasq"
ECHO_MODULE = "/usr/lib/nginx/modules/ngx_http_echo_module.so"

# nginx and faultd listen on all four at one port each (and on ::1 when the
# machine has IPv6); dnsmasq answers on 127.0.0.1 only.
LOOPBACK = ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4")

# The DNS map. hNN.test cycles through the four loopback addresses.
HOSTS = ["h%02d.test" % i for i in range(1, 21)]
DNS_RECORDS = {name: [LOOPBACK[i % 4]] for i, name in enumerate(HOSTS)}
DNS_RECORDS.update({
    "site.test": ["127.0.0.1"],
    "multi.test": ["127.0.0.2", "127.0.0.3"],     # two A records
    "v6.test": ["::1"],                           # AAAA only
    "nocert.test": ["127.0.0.1"],                 # left out of the TLS cert
})
CERT_NAMES = [n for n in DNS_RECORDS if n != "nocert.test"] + ["localhost"]

PAGE_SIZE = 2048                # every /p/N.html is exactly this long
CHAIN_MAX = 50                  # /r/chain/N exists for N = 0 .. CHAIN_MAX
STATUS_CODES = (200, 204, 400, 403, 404, 410, 500, 502, 503)
START_TIMEOUT = 10.0            # seconds each server gets to answer
PIDS_FILE = "world.pids"        # also marks a directory as a world's


class WorldError(RuntimeError):
    """A server did not start (the message includes its log)."""


# --------------------------------------------------------------------------
# A tiny stdlib DNS client, for checking dnsmasq and for tests.

Answer = namedtuple("Answer", "rcode addrs ttl")
QTYPES = {"A": 1, "AAAA": 28}


def resolve(name, server_port, qtype="A", server="127.0.0.1", tcp=False, timeout=2.0):
    """Ask the DNS server at server:server_port for NAME's A or AAAA records.

    Returns Answer(rcode, addrs, ttl): rcode 0 is success (addrs may still be
    empty: no record of that type), 3 is NXDOMAIN; addrs are strings in answer
    order; ttl is the first record's TTL or None. Raises OSError on timeout.
    """
    qid = random.randrange(1 << 16)
    query = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)      # RD set
    for label in name.rstrip(".").split("."):
        query += bytes([len(label)]) + label.encode("ascii")
    query += b"\0" + struct.pack(">HH", QTYPES[qtype], 1)       # class IN
    if tcp:
        with socket.create_connection((server, server_port), timeout) as s:
            s.sendall(struct.pack(">H", len(query)) + query)
            msg = b""
            while len(msg) < 2 or len(msg) < 2 + struct.unpack(">H", msg[:2])[0]:
                chunk = s.recv(4096)
                if not chunk:
                    raise OSError("DNS server closed the TCP connection")
                msg += chunk
            msg = msg[2:]
    else:
        with socket.socket(socket.AF_INET6 if ":" in server else socket.AF_INET,
                           socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            # connect(): only the server's answers get through, and "nobody
            # listens there" fails at once (ConnectionRefusedError).
            s.connect((server, server_port))
            s.send(query)
            while True:
                msg = s.recv(4096)
                if msg[:2] == query[:2]:
                    break
    return _parse_answer(msg, len(query))


def _skip_name(msg, pos):
    """Position just past a (possibly compressed) name."""
    while True:
        n = msg[pos]
        if n == 0:
            return pos + 1
        if n & 0xC0 == 0xC0:            # compression pointer: 2 bytes, ends name
            return pos + 2
        pos += 1 + n


def _parse_answer(msg, question_end):
    _, flags, qd, an, _, _ = struct.unpack(">HHHHHH", msg[:12])
    addrs, ttl = [], None
    pos = question_end if qd == 1 else 12
    for _ in range(an):
        pos = _skip_name(msg, pos)
        rtype, _, rttl, rdlen = struct.unpack(">HHIH", msg[pos:pos + 10])
        rdata = msg[pos + 10:pos + 10 + rdlen]
        pos += 10 + rdlen
        if rtype == 1:
            addrs.append(socket.inet_ntop(socket.AF_INET, rdata))
        elif rtype == 28:
            addrs.append(socket.inet_ntop(socket.AF_INET6, rdata))
        else:
            continue
        ttl = rttl if ttl is None else ttl
    return Answer(flags & 0xF, addrs, ttl)


# --------------------------------------------------------------------------
# The generated site

def page_links(n, pages):
    """The pages /p/N.html links to: the three after it, wrapping around."""
    return [(n + k - 1) % pages + 1 for k in (1, 2, 3)]


def page_html(n, pages):
    """The bytes of /p/N.html: distinct per N, exactly PAGE_SIZE long."""
    links = "".join('<li><a href="/p/%d.html">page %d</a></li>\n' % (m, m)
                    for m in page_links(n, pages))
    top = ('<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
           "<title>Page %d</title></head>\n<body>\n<h1>Page %d of %d</h1>\n"
           "<ul>\n%s</ul>\n<p>" % (n, n, pages, links))
    bottom = "</p>\n</body></html>\n"
    room = PAGE_SIZE - len(top) - len(bottom)
    filler = ("Filler text of page %d. " % n) * (room // 20 + 1)
    return (top + filler[:room] + bottom).encode()


def write_site(root, pages):
    """Write the static site: p/1.html .. p/PAGES.html and big/."""
    os.makedirs(os.path.join(root, "p"))
    os.makedirs(os.path.join(root, "big"))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    pdir = os.path.join(root, "p")
    for n in range(1, pages + 1):
        fd = os.open("%s/%d.html" % (pdir, n), flags, 0o644)
        os.write(fd, page_html(n, pages))
        os.close(fd)
    # 1 MiB of incompressible but reproducible bytes: SHAKE-128("evcrawl-1m").
    with open(os.path.join(root, "big", "1m.bin"), "wb") as f:
        f.write(hashlib.shake_128(b"evcrawl-1m").digest(1 << 20))
    # 256 KiB of compressible text, lines "000001 the quick brown fox ...".
    line = " the quick brown fox jumps over the lazy dog\n"
    text = "".join("%06d%s" % (i, line) for i in range(1, 262144 // 50 + 2))
    with open(os.path.join(root, "big", "text-256k.txt"), "w") as f:
        f.write(text[:262144])


# --------------------------------------------------------------------------
# Configuration files

def nginx_conf(w):
    """The nginx.conf for World w (ports already chosen)."""
    d = w.dir
    listens = "".join("        listen %s:%d backlog=4096;\n" % (a, w.http_port)
                      for a in w._addrs_v4)
    if w.ipv6:
        listens += "        listen [::1]:%d backlog=4096;\n" % w.http_port
    if w.tls:
        listens += "".join("        listen %s:%d ssl backlog=4096;\n" % (a, w.https_port)
                           for a in w._addrs_v4)
        if w.ipv6:
            listens += "        listen [::1]:%d ssl backlog=4096;\n" % w.https_port
        listens += ("        ssl_certificate %s/tls/server.pem;\n"
                    "        ssl_certificate_key %s/tls/server.key;\n"
                    "        ssl_protocols TLSv1.2 TLSv1.3;\n" % (d, d))
    if w.access_log:
        access = ("    log_format evc '$connection $connection_requests $host $status "
                  "$body_bytes_sent $msec $request_uri $request_time';\n"
                  "    access_log %s/access.log evc;\n" % d)
    else:
        access = "    access_log off;\n"
    chain = "".join("        location = /r/chain/%d { return 302 /r/chain/%d; }\n" % (n, n - 1)
                    for n in range(1, CHAIN_MAX + 1))
    status = "".join(
        "        location = /status/%d { return %d%s; }\n"
        % (c, c, "" if c == 204 else ' "status %d\\n"' % c) for c in STATUS_CODES)
    return NGINX_CONF % dict(
        dir=d, module=ECHO_MODULE, access=access, listens=listens, chain=chain,
        status=status, delay="%.3f" % (w.delay_ms / 1000.0), chain_max=CHAIN_MAX)


NGINX_CONF = """\
# Generated by tests/env/world.py for one test world; not to be edited.
load_module %(module)s;
user root;                      # workers as nobody could not read the 0700 dir
worker_processes 1;
daemon off;                     # world.py keeps it as a child and kills it by pid
pid %(dir)s/nginx.pid;
error_log %(dir)s/nginx-error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 16000; }

http {
    types {
        text/html html;
        text/plain txt;
        application/octet-stream bin;
    }
    default_type application/octet-stream;
%(access)s
    client_body_temp_path %(dir)s/tmp/body;
    proxy_temp_path %(dir)s/tmp/proxy;
    fastcgi_temp_path %(dir)s/tmp/fastcgi;
    uwsgi_temp_path %(dir)s/tmp/uwsgi;
    scgi_temp_path %(dir)s/tmp/scgi;

    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 65;
    absolute_redirect off;      # relative Location headers stay as written

    gzip on;                    # text/html, and text/plain below
    gzip_types text/plain;
    gzip_min_length 0;

    server {
%(listens)s
        root %(dir)s/site;

        # Which world is this? (world.py's readiness check: proves that it
        # is our nginx answering on every address, not some other program.)
        location = /__world { default_type text/plain; return 200 "%(dir)s\\n"; }

        # Who is asking: the peer's address, in the body and in X-Peer (the
        # proxies connect from their own addresses: see World's proxies).
        location = /peer {
            default_type text/plain;
            add_header X-Peer $remote_addr always;
            return 200 "$remote_addr\\n";
        }

        # The generated site (/p/N.html, /big/...) is served from root.

        # Answers "delayed\\n" (8 bytes, chunked) after delay_ms.
        location /delay/ {
            default_type text/plain;
            echo_sleep %(delay)s;
            echo "delayed";
        }
        # /sleep/SECONDS (fractions allowed): answers "slept\\n" (6 bytes, chunked).
        location ~ ^/sleep/(\\d+(\\.\\d+)?)$ {
            default_type text/plain;
            echo_sleep $1;
            echo "slept";
        }
        # Chunked body of 100024 bytes: "chunk 1\\n", "chunk 2\\n", "chunk 3\\n"
        # as separate chunks, then 10000 x "0123456789" as one chunk.
        location /chunked/ {
            default_type text/plain;
            echo "chunk 1";
            echo_flush;
            echo "chunk 2";
            echo_flush;
            echo "chunk 3";
            echo_flush;
            echo_duplicate 10000 "0123456789";
        }

        # Throttling: 429 and 503 with Retry-After: 2, and a 429 without.
        location = /throttle/429 { add_header Retry-After 2 always; return 429 "slow down\\n"; }
        location = /throttle/503 { add_header Retry-After 2 always; return 503 "busy\\n"; }
        location = /throttle/429-bare { return 429 "slow down\\n"; }

        # Redirects.
        location = /r/301 { return 301 http://$host:$server_port/p/1.html; }
        location = /r/302 { return 302 /p/2.html; }
        location = /r/303 { return 303 /p/5.html; }
        location = /r/307 { return 307 ../p/3.html; }
        location = /r/308 { return 308 /p/4.html; }
        location = /r/loop { return 302 /r/loop; }
        location = /r/ftp { return 302 ftp://127.0.0.1/x; }
        location ~ ^/r/host/([a-z0-9.-]+)$ { return 302 http://$1:$server_port/p/1.html; }
        # Files under /hdr/ come with a Link header naming two more.
        location /hdr/ {
            add_header Link '</hdr/next.html>; rel="next", </hdr/s.css>; rel=stylesheet';
        }
        # Any path: /go/PATH -> /PATH; /go-host/HOST/PATH -> http://HOST:port/PATH.
        location ~ ^/go/(.*)$ { return 302 /$1; }
        location ~ ^/go-host/([a-z0-9.-]+)/(.*)$ { return 302 http://$1:$server_port/$2; }
        # /r/chain/N -> /r/chain/N-1 -> ... -> /r/chain/0 -> /p/1.html (N <= %(chain_max)s)
        location = /r/chain/0 { return 302 /p/1.html; }
%(chain)s
        # Fixed statuses with a body "status NNN\\n" (11 bytes; none for 204).
%(status)s
        # The site again, but the connection is closed after each answer.
        location /keepalive-off/ {
            keepalive_timeout 0;
            alias %(dir)s/site/;
        }
    }
}
"""


def dnsmasq_conf(w):
    lines = [
        "# Generated by tests/env/world.py for one test world.",
        "port=%d" % w.dns_port,
        "listen-address=127.0.0.1",
        "bind-interfaces",
        "no-resolv",            # no upstream: nothing leaves the machine
        "no-hosts",
        "keep-in-foreground",
        "user=root",
        "pid-file=",            # none: world.py tracks the pid itself
        "log-facility=-",       # stderr, which goes to DIR/dnsmasq.log
        "local-ttl=60",
        "local=/test/",         # any other *.test name: NXDOMAIN
        # Benchmarks: every name under many.test (any number of hosts) is
        # 127.0.0.1, answered by dnsmasq like any other name.
        "address=/many.test/127.0.0.1",
    ]
    if w.dns_log:
        lines.append("log-queries")
    for name, addrs in DNS_RECORDS.items():
        lines += ["host-record=%s,%s" % (name, a) for a in addrs]
    return "\n".join(lines) + "\n"


def make_cert(tls_dir):
    """A throwaway CA (ca.pem) and a server certificate signed by it
    (server.pem/server.key) for CERT_NAMES and the loopback addresses."""
    if not shutil.which("openssl"):
        raise WorldError("tls=True needs the openssl command (Debian package openssl)")
    os.makedirs(tls_dir)
    p = lambda name: os.path.join(tls_dir, name)
    san = ",".join(["DNS:" + n for n in CERT_NAMES] +
                   ["IP:" + a for a in LOOPBACK] + ["IP:::1"])
    with open(p("ext.cnf"), "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n" % san)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    steps = [
        ["openssl", "req", "-x509"] + ec + ["-keyout", p("ca.key"), "-out", p("ca.pem"),
         "-days", "3650", "-subj", "/CN=evcrawl test CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["openssl", "req"] + ec + ["-keyout", p("server.key"), "-out", p("server.csr"),
         "-subj", "/CN=site.test"],
        ["openssl", "x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"),
         "-CAkey", p("ca.key"), "-set_serial", "1", "-days", "3650",
         "-extfile", p("ext.cnf"), "-out", p("server.pem")],
    ]
    for argv in steps:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True)
        if r.returncode:
            raise WorldError("openssl failed: %s\n%s" % (" ".join(argv), r.stderr.decode()))


# --------------------------------------------------------------------------
# Processes: spawning, identifying, stopping

def _die_with_parent():
    """preexec_fn for the watchdog: the kernel sends it SIGTERM when the
    process that started it dies, even by SIGKILL. (Linux ties this to the
    thread that forked: start a World from the main thread or from one that
    outlives it. The kernel also drops it when a process changes credentials,
    as dnsmasq does, which is why one watchdog does this for all servers.)"""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def watchdog(dir, parent):
    """Body of the hidden command "world.py _watchdog DIR PARENT_PID": sleep
    until the parent dies, then stop its world, so that no server outlives a
    test process that crashed or was killed. World.stop() kills the watchdog
    first (SIGKILL) when it stops the world itself."""
    def done(*_):
        try:
            stop_dir(dir)
        finally:
            os._exit(0)
    signal.signal(signal.SIGTERM, done)
    if os.getppid() != parent:      # the parent died before prctl took hold
        done()
    while True:
        signal.pause()


def _proc_stat(pid):
    """(state, starttime, ppid) of pid from /proc, or None if there is none."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()    # fields from 3 (state) on
    return fields[0], int(fields[19]), int(fields[1])


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


# What must appear in /proc/PID/cmdline for a record of that name.
CMDLINE_MARK = {"nginx": "nginx", "nginx-worker": "nginx", "dnsmasq": "dnsmasq",
                "dnsmasq-child": "dnsmasq", "faultd": "faultd.py",
                "tinyproxy": "tinyproxy", "tinyproxy-auth": "tinyproxy",
                "microsocks": "microsocks", "microsocks-auth": "microsocks"}

TINYPROXY = "/usr/bin/tinyproxy"
MICROSOCKS = "/usr/bin/microsocks"
# The proxies' credentials (World(proxies=True)). tinyproxy's configuration
# takes only plain characters; microsocks takes any, so its password needs
# percent-encoding in a proxy URL (PROXY_PASS_URL).
PROXY_USER = "evc"
TINYPROXY_PASS = "pa-ss.1"
SOCKS_PASS = "pa:ss@1"
SOCKS_PASS_URL = "pa%3Ass%401"
# The addresses the proxies connect from, so that the origin can tell who
# came (nginx's /peer): tinyproxy from .2, microsocks from .3, a direct
# connection from .1.
TINYPROXY_FROM = "127.0.0.2"
SOCKS_FROM = "127.0.0.3"


def _ours(name, pid, start):
    """True while pid is still the live process we recorded (not a zombie,
    not a new process that got the same pid)."""
    st = _proc_stat(pid)
    return (st is not None and st[0] != "Z" and st[1] == start
            and CMDLINE_MARK.get(name, "\0") in _cmdline(pid))


def _children(pid):
    """Pids whose parent is pid."""
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _proc_stat(int(entry))
            if st and st[2] == pid:
                kids.append(int(entry))
    return kids


def _read_pids(dir):
    recs = []
    try:
        with open(os.path.join(dir, PIDS_FILE)) as f:
            for line in f:
                name, pid, start = line.split()
                recs.append((name, int(pid), int(start)))
    except FileNotFoundError:
        pass
    return recs


def stop_dir(dir, popens=()):
    """Stop every process recorded in DIR/world.pids and remove DIR.

    Idempotent. Signals only processes that are provably ours (see _ours).
    popens: Popen objects of our own children, reaped here so that no zombie
    is left behind."""
    if not os.path.isdir(dir):
        return
    if not os.path.exists(os.path.join(dir, PIDS_FILE)):
        raise WorldError("%s is not a test world directory (no %s)" % (dir, PIDS_FILE))
    recs = [r for r in _read_pids(dir) if _ours(*r)]
    # Include the current children of nginx (its workers, maybe respawned)
    # and of dnsmasq (its TCP helpers): if a master dies abruptly they would
    # be left behind holding the ports.
    for name, pid, _ in list(recs):
        if name in ("nginx", "dnsmasq"):
            for kid in _children(pid):
                st = _proc_stat(kid)
                if st and CMDLINE_MARK[name] in _cmdline(kid):
                    recs.append((name + ("-worker" if name == "nginx" else "-child"),
                                 kid, st[1]))
    for sig, patience in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 2.0)):
        for r in recs:
            if _ours(*r):
                try:
                    os.kill(r[1], sig)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            for p in popens:
                p.poll()                # reap our own children as they exit
            recs = [r for r in recs if _ours(*r)]
            if not recs:
                break
            time.sleep(0.005)
        if not recs:
            break
    for p in popens:
        try:
            p.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
    if recs:
        raise WorldError("could not stop: %s" % recs)
    shutil.rmtree(dir, ignore_errors=True)


def _temp_base():
    """Where world directories go by default: $EVC_WORLD_TMP if set, else
    /dev/shm (tmpfs: writing 100,000 pages there takes seconds where a disk
    may take tens of seconds), else the usual temp dir."""
    base = os.environ.get("EVC_WORLD_TMP")
    if base:
        return base
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        return "/dev/shm"
    return None


def _ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _bind_all(addrs, port, kind=socket.SOCK_STREAM):
    """Sockets bound to every address at one port (0: any free port, taken
    from the first address). Raises OSError if the port is taken anywhere."""
    socks = []
    try:
        for a in addrs:
            s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET, kind)
            socks.append(s)
            if kind == socket.SOCK_STREAM:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((a, port))
            port = s.getsockname()[1]
        return socks
    except OSError:
        for s in socks:
            s.close()
        raise


def _free_port(addrs, udp=False):
    """A port that is free right now on all addrs (TCP, and UDP too if asked).
    It is released before use, so a server may still collide: callers retry."""
    while True:
        socks = _bind_all(addrs, 0)
        port = socks[0].getsockname()[1]
        try:
            if udp:
                socks += _bind_all(addrs, port, socket.SOCK_DGRAM)
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()


def _http_get(addr, port, path):
    """The raw answer to a GET (with Connection: close), or b"" on error."""
    try:
        with socket.create_connection((addr, port), timeout=0.5) as s:
            s.sendall(b"GET %s HTTP/1.1\r\nHost: world\r\nConnection: close\r\n\r\n"
                      % path.encode())
            got = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    return got
                got += chunk
    except OSError:
        return b""


def _can_connect(addr, port):
    try:
        with socket.create_connection((addr, port), timeout=0.5):
            return True
    except OSError:
        return False


class _PortTaken(Exception):
    """A server died because its port was taken meanwhile: pick another."""


# --------------------------------------------------------------------------
# The world

class World:
    """nginx + dnsmasq + faultd on loopback. See the module docstring."""

    dns_records = DNS_RECORDS       # name -> list of addresses

    def __init__(self, pages=200, delay_ms=100, tls=False, access_log=False,
                 dir=None, dns_log=False, die_with_parent=True, proxies=False):
        """pages: how many /p/N.html; delay_ms: the /delay/ answer time;
        tls: also serve HTTPS (https_port, ca_file); access_log: nginx writes
        DIR/access.log; dir: use this (new or empty) directory instead of a
        fresh temp dir; dns_log: dnsmasq logs each query to DIR/dnsmasq.log;
        die_with_parent: a watchdog process stops the world if this process
        dies without calling stop() (the command line turns this off so that
        the servers outlive it); proxies: also start two tinyproxy (HTTP and
        CONNECT; the second wants PROXY_USER:TINYPROXY_PASS) and two
        microsocks (SOCKS5; the second wants PROXY_USER:SOCKS_PASS) on
        127.0.0.1: http_proxy_port, http_proxy_auth_port, socks_port,
        socks_auth_port. They resolve names with the system's resolver, so
        URLs through them name 127.0.0.1 or localhost, not *.test; they
        connect from TINYPROXY_FROM and SOCKS_FROM (nginx's /peer says)."""
        if pages < 1:
            raise ValueError("pages must be >= 1")
        self.pages = pages
        self.delay_ms = delay_ms
        self.tls = tls
        self.access_log = access_log
        self.dns_log = dns_log
        self.die_with_parent = die_with_parent
        self.proxies = proxies
        self.http_proxy_port = self.http_proxy_auth_port = None
        self.socks_port = self.socks_auth_port = None
        self.hosts = list(HOSTS)        # h01.test .. h20.test
        self._dir_arg = dir
        self.dir = self.root = None
        self.http_port = self.https_port = self.dns_port = self.fault_port = None
        self.ca_file = None
        self.ipv6 = _ipv6_loopback()
        self._addrs_v4 = LOOPBACK
        self._popens = []
        self._watchdog = None
        self.started = False

    # -- public helpers --------------------------------------------------

    def url(self, host, path="/"):
        """http://HOST:HTTP_PORT/PATH on nginx."""
        return "http://%s:%d/%s" % (host, self.http_port, path.lstrip("/"))

    def https_url(self, host, path="/"):
        return "https://%s:%d/%s" % (host, self.https_port, path.lstrip("/"))

    def fault_url(self, host, path="/"):
        """http://HOST:FAULT_PORT/PATH on faultd."""
        return "http://%s:%d/%s" % (host, self.fault_port, path.lstrip("/"))

    def env(self):
        """The EVC_* variables describing this world (also in DIR/world.env)."""
        e = {"EVC_WORLD_DIR": self.dir, "EVC_WORLD_ROOT": self.root,
             "EVC_HTTP_PORT": self.http_port, "EVC_DNS_PORT": self.dns_port,
             "EVC_FAULT_PORT": self.fault_port, "EVC_PAGES": self.pages,
             "EVC_DELAY_MS": self.delay_ms}
        if self.tls:
            e.update(EVC_HTTPS_PORT=self.https_port, EVC_CA_FILE=self.ca_file)
        if self.proxies:
            e.update(EVC_HTTP_PROXY_PORT=self.http_proxy_port,
                     EVC_HTTP_PROXY_AUTH_PORT=self.http_proxy_auth_port,
                     EVC_SOCKS_PORT=self.socks_port, EVC_SOCKS_AUTH_PORT=self.socks_auth_port)
        return {k: str(v) for k, v in e.items()}

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- start / stop ----------------------------------------------------

    def start(self):
        """Create the directory and site, start the three servers and wait
        until each answers. On any failure everything started is stopped and
        WorldError is raised."""
        if self.started:
            return self
        if self._dir_arg:
            if re.search(r'[\s"\';{}$\\#]', self._dir_arg):
                raise WorldError("unusable world directory name (it goes into nginx.conf): %r"
                                 % self._dir_arg)
            os.makedirs(self._dir_arg, exist_ok=True)
            if os.listdir(self._dir_arg):
                raise WorldError("%s exists and is not empty" % self._dir_arg)
            self.dir = os.path.abspath(self._dir_arg)
        else:
            self.dir = tempfile.mkdtemp(prefix="evc-world.", dir=_temp_base())
        open(os.path.join(self.dir, PIDS_FILE), "w").close()     # the marker
        self.started = True
        if self.die_with_parent:
            with open(self._log("watchdog"), "ab") as out:
                self._watchdog = subprocess.Popen(
                    [sys.executable, os.path.abspath(__file__), "_watchdog",
                     self.dir, str(os.getpid())],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True, preexec_fn=_die_with_parent)
        try:
            # faultd needs nothing from the site: start it first and let its
            # Python start up while the site is written.
            faultd_ready = self._start_faultd()
            self.root = os.path.join(self.dir, "site")
            write_site(self.root, self.pages)
            os.makedirs(os.path.join(self.dir, "tmp"))
            if self.tls:
                make_cert(os.path.join(self.dir, "tls"))
                self.ca_file = os.path.join(self.dir, "tls", "ca.pem")
            self._start_dnsmasq()
            self._start_nginx()
            if self.proxies:
                self._start_proxies()
            faultd_ready()
            with open(os.path.join(self.dir, "world.env"), "w") as f:
                f.write("".join("%s=%s\n" % (k, shlex.quote(v))
                                for k, v in self.env().items()))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        """Stop every server and remove the directory. Safe to call twice."""
        if self.started:
            if self._watchdog is not None:
                self._watchdog.kill()
                self._watchdog.wait()
                self._watchdog = None
            stop_dir(self.dir, self._popens)
            self.started = False
            self._popens = []

    # -- internals -------------------------------------------------------

    def _log(self, name):
        return os.path.join(self.dir, name + ".log")

    def _spawn(self, name, argv, pass_fds=()):
        """Start a server in the background with its output in DIR/NAME.log
        (a fresh one each try) and record it in DIR/world.pids."""
        with open(self._log(name), "wb") as out:
            p = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=self.dir, pass_fds=pass_fds, start_new_session=True)
        self._popens.append(p)
        st = _proc_stat(p.pid)
        with open(os.path.join(self.dir, PIDS_FILE), "a") as f:
            f.write("%s %d %d\n" % (name, p.pid, st[1] if st else 0))
        return p

    def _wait_ready(self, name, proc, ready, logs):
        """Poll ready() until it is true; fail loudly if the process exits or
        START_TIMEOUT passes. Raise _PortTaken as soon as the logs say the
        port is in use (nginx would go on retrying bind() for seconds)."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            exited = proc.poll() is not None
            if not exited and ready():
                return
            text = self._read_logs(logs)
            if "already in use" in text or "Address in use" in text:
                raise _PortTaken()
            if exited:
                raise WorldError("%s exited with status %s:\n%s" % (name, proc.returncode, text))
            if time.monotonic() > deadline:
                raise WorldError("%s did not answer within %.0f s:\n%s"
                                 % (name, START_TIMEOUT, self._read_logs(logs)))
            time.sleep(0.005)

    def _read_logs(self, logs):
        text = ""
        for path in logs:
            try:
                with open(path, errors="replace") as f:
                    text += "--- %s\n%s" % (path, f.read()[-4000:])
            except OSError:
                pass
        return text

    def _stop_proc(self, proc):
        """Stop a server that failed to start, before a retry."""
        if proc.poll() is None:
            proc.kill()
        proc.wait()

    def _start_faultd(self):
        # World binds the sockets itself and hands them over: no port race.
        addrs = list(self._addrs_v4) + (["::1"] if self.ipv6 else [])
        while True:
            try:
                socks = _bind_all(addrs, 0)
                break
            except OSError:
                continue
        try:
            for s in socks:
                s.listen(4096)
            self.fault_port = socks[0].getsockname()[1]
            argv = [sys.executable, FAULTD]
            for s in socks:
                argv += ["--fd", str(s.fileno())]
            p = self._spawn("faultd", argv, pass_fds=[s.fileno() for s in socks])
        finally:
            for s in socks:
                s.close()

        def ready():
            return _http_get("127.0.0.1", self.fault_port, "/__stats").startswith(b"HTTP/1.1 200")
        # The caller waits for it later.
        return lambda: self._wait_ready("faultd", p, ready, [self._log("faultd")])

    def _start_server(self, name, argv_for, conf_for=None):
        """Start a server that takes its port on the command line or in a
        configuration file, on a free port of 127.0.0.1 (retried when the
        port is taken meanwhile). Returns the port."""
        for attempt in range(10):
            port = _free_port(["127.0.0.1"])
            if conf_for:
                with open(os.path.join(self.dir, name + ".conf"), "w") as f:
                    f.write(conf_for(port))
            p = self._spawn(name, argv_for(port))
            try:
                self._wait_ready(name, p, lambda: _can_connect("127.0.0.1", port),
                                 [self._log(name)])
                return port
            except _PortTaken:
                self._stop_proc(p)
        raise WorldError("%s: no free port after 10 tries" % name)

    def _start_proxies(self):
        def tinyproxy_conf(auth):
            def conf(port):
                return "".join(line + "\n" for line in [
                    "Port %d" % port, "Listen 127.0.0.1", "Allow 127.0.0.1",
                    "Bind %s" % TINYPROXY_FROM, "Timeout 30", "MaxClients 200",
                    "LogLevel Info", "DisableViaHeader Yes"] + (
                    ["BasicAuth %s %s" % (PROXY_USER, TINYPROXY_PASS)] if auth else []))
            return conf
        for name, auth in (("tinyproxy", False), ("tinyproxy-auth", True)):
            conf = os.path.join(self.dir, name + ".conf")
            port = self._start_server(name, lambda port: [TINYPROXY, "-d", "-c", conf],
                                      tinyproxy_conf(auth))
            if auth:
                self.http_proxy_auth_port = port
            else:
                self.http_proxy_port = port
        self.socks_port = self._start_server(
            "microsocks", lambda port: [MICROSOCKS, "-i", "127.0.0.1", "-p", str(port),
                                        "-b", SOCKS_FROM])
        self.socks_auth_port = self._start_server(
            "microsocks-auth", lambda port: [MICROSOCKS, "-i", "127.0.0.1", "-p", str(port),
                                             "-b", SOCKS_FROM, "-u", PROXY_USER,
                                             "-P", SOCKS_PASS])

    def _start_dnsmasq(self):
        conf = os.path.join(self.dir, "dnsmasq.conf")
        for attempt in range(10):
            self.dns_port = _free_port(["127.0.0.1"], udp=True)
            with open(conf, "w") as f:
                f.write(dnsmasq_conf(self))
            p = self._spawn("dnsmasq", [DNSMASQ, "--conf-file=" + conf])

            def ready():
                try:
                    return (resolve("h01.test", self.dns_port, timeout=0.2).addrs
                            == ["127.0.0.1"] and _can_connect("127.0.0.1", self.dns_port))
                except OSError:
                    return False
            try:
                self._wait_ready("dnsmasq", p, ready, [self._log("dnsmasq")])
                return
            except _PortTaken:
                self._stop_proc(p)
        raise WorldError("dnsmasq: no free port after 10 tries")

    def _start_nginx(self):
        conf = os.path.join(self.dir, "nginx.conf")
        err = os.path.join(self.dir, "nginx-error.log")
        addrs = list(self._addrs_v4) + (["::1"] if self.ipv6 else [])
        for attempt in range(10):
            self.http_port = _free_port(addrs)
            if self.tls:
                self.https_port = _free_port(addrs)
            with open(conf, "w") as f:
                f.write(nginx_conf(self))
            open(err, "w").close()          # forget an earlier try's errors
            p = self._spawn("nginx", [NGINX, "-p", self.dir + "/", "-c", conf, "-e", err])

            def ready():
                token = (self.dir + "\n").encode()
                return (all(_http_get(a, self.http_port, "/__world").endswith(token)
                            for a in addrs)
                        and (not self.tls or all(_can_connect(a, self.https_port)
                                                 for a in addrs)))
            try:
                self._wait_ready("nginx", p, ready, [self._log("nginx"), err])
            except _PortTaken:
                self._stop_proc(p)
                continue
            # Record the worker too: should the master ever die abruptly, its
            # orphaned worker (which holds the sockets) can still be found.
            with open(os.path.join(self.dir, PIDS_FILE), "a") as f:
                for kid in _children(p.pid):
                    st = _proc_stat(kid)
                    if st:
                        f.write("nginx-worker %d %d\n" % (kid, st[1]))
            return
        raise WorldError("nginx: no free port after 10 tries")


# --------------------------------------------------------------------------
# Command line

def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Start or stop evcrawl's local test world (loopback only).")
    sub = ap.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser("start", help="start a world; print EVC_* shell assignments")
    st.add_argument("--pages", type=int, default=200, help="number of /p/N.html pages")
    st.add_argument("--delay-ms", type=int, default=100, help="delay of /delay/...")
    st.add_argument("--dir", help="world directory (new or empty; default: a temp dir)")
    st.add_argument("--tls", action="store_true", help="also serve HTTPS")
    st.add_argument("--access-log", action="store_true", help="nginx writes DIR/access.log")
    st.add_argument("--dns-log", action="store_true", help="dnsmasq logs every query")
    st.add_argument("--proxies", action="store_true",
                    help="also start tinyproxy and microsocks (with and without credentials)")
    sp = sub.add_parser("stop", help="stop the world in DIR and remove DIR")
    sp.add_argument("dir", nargs="?", default=os.environ.get("EVC_WORLD_DIR"),
                    help="world directory (default: $EVC_WORLD_DIR)")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_watchdog"]:           # internal, see watchdog()
        watchdog(argv[1], int(argv[2]))
    args = ap.parse_args(argv)

    try:
        if args.cmd == "start":
            w = World(pages=args.pages, delay_ms=args.delay_ms, tls=args.tls,
                      access_log=args.access_log, dir=args.dir, dns_log=args.dns_log,
                      die_with_parent=False, proxies=args.proxies)
            w.start()
            for k, v in w.env().items():
                print("%s=%s" % (k, shlex.quote(v)))
        else:
            if not args.dir:
                ap.error("stop needs DIR (or $EVC_WORLD_DIR)")
            stop_dir(os.path.abspath(args.dir))
    except WorldError as e:
        print("world.py: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
