#!/usr/bin/env python3
"""Hostile servers, in every --mode: every case of faultd's catalogue
(tests/env/faultd.py: HOSTILE_CASES, HOSTILE_SEQUENCES, HOSTILE_RUNS; the
module docstring shows it as a table) and a few of this script's own
(LOCAL_CASES: sockets only the test can make), fetched by evcrawl in each
configuration: --mode async with --selector epoll, poll and select, and
--mode blocking, busy-poll, threads and processes.

Each case is one TAP line per configuration, asserting the exact record
fields it is about (status, bytes, error.kind, attempts, ...). Each evcrawl
process is checked too: one record per input line, it ends by itself before
its deadline (else it is killed and fails), exit status 0 or 1 (never a
signal), and a peak RSS (ru_maxrss from wait4; for --mode processes the
largest of the process and its workers) under RSS_BOUND_MIB.

All cases of a run (plain, --compressed, --retries 2) go into one evcrawl
process per configuration, every URL on its own host name under many.test
(so each has its own connections and faultd counts them apart); the
one-at-a-time modes (blocking, busy-poll) get their list in shards of about
SHARD_SECS run as concurrent processes. Each keep-alive sequence is a
process of its own. The configurations run in three waves (WAVES): the
async ones, then threads and processes, then blocking and busy-poll.

Also: an input line holding a NUL byte, and a binary file as input, in every
mode: one bad_url record per non-blank, non-# line whose url is the whole
line.

Run: EVCRAWL=build/evcrawl python3 tests/integration/test_hostile.py
     (HOSTILE_CONFIGS=async/epoll,blocking to run only some configurations)
"""

import collections
import json
import os
import random
import re
import resource
import select
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TESTS, "env"), os.path.join(TESTS, "lib")]

from crawltest import EVCRAWL, Run, t, fault_stats  # noqa: E402
from world import World  # noqa: E402
import faultd  # noqa: E402
from faultd import Case, HOSTILE_CASES, HOSTILE_RUNS, HOSTILE_SEQUENCES  # noqa: E402

# Peak RSS of any evcrawl process here. evcrawl holds no body in memory (it
# counts bytes; nothing is saved), a response head is at most 64 KiB, and the
# gzip bomb must be cut at --max-body 1M while it streams. Measured: 7-10 MiB
# for most runs (about 5 of it is the spawner's floor, see SPAWNER), 17 MiB
# for the largest (--mode threads, 64 workers). 64 MiB leaves room for
# allocator noise, yet a body kept whole (/stream-forever sends hundreds of
# MB before --timeout; the bomb inflates to 1 GiB) cannot pass unseen. Under
# AddressSanitizer (its shadow memory and quarantine) the bound is 1 GiB.
RSS_BOUND_MIB = 64
ASAN = b"__asan_init" in open(EVCRAWL, "rb").read()
if ASAN:                # shadow memory and the quarantine: a few hundred MiB
    RSS_BOUND_MIB = 1024

# (name, options, serial): serial modes fetch one URL at a time, so their
# lists are cut into shards run as concurrent processes.
CONFIGS = [
    ("async/epoll", ["--mode", "async", "--selector", "epoll"], False),
    ("async/poll", ["--mode", "async", "--selector", "poll"], False),
    ("async/select", ["--mode", "async", "--selector", "select"], False),
    ("blocking", ["--mode", "blocking"], True),
    ("busy-poll", ["--mode", "busy-poll"], True),
    ("threads", ["--mode", "threads"], False),
    ("processes", ["--mode", "processes"], False),
]
WAVES = [("async/epoll", "async/poll", "async/select"), ("threads", "processes"),
         ("blocking", "busy-poll")]
if ASAN:  # several ASan crawls at once starve faultd and dnsmasq of CPU
    WAVES = [(name,) for wave in WAVES for name in wave]
WORKERS = 64            # -c for threads and processes
SHARD_SECS = 5.0        # a serial shard's expected length, about
SLACK = 10.0            # added to a process's expected length: its deadline

# Cases made of sockets this script holds (plain run). PORT is filled in.
LOCAL_CASES = [
    Case("(local) never-accept", "a listener with backlog 0 that never accepts, its queue "
         "pre-filled: SYNs are dropped, connect never completes (--connect-timeout 1)",
         plain="null bytes=0 timeout secs=0.5..1.9"),
    Case("(local) accept-never-read", "accepts and never reads or writes (--idle-timeout 1)",
         plain="null bytes=0 timeout secs=0.9..1.9"),
    Case("(local) answer-first", "writes a whole 200 \"ok\\n\" (Connection: close) as soon as "
         "it accepts, before the request has arrived; then reads it and closes",
         plain="200 bytes=3 ok"),
]


# --------------------------------------------------------------------------
# Expectations: "200 bytes=4..8 timeout secs=1.9..3.0" (see faultd.Case)

KINDS = {"bad_url", "dns", "connect", "tls", "timeout", "protocol", "too_large", "redirect",
         "io", "cancelled", "robots", "skipped"}


def rng(text, conv=float):
    lo, _, hi = text.partition("..")
    return conv(lo), conv(hi or lo)


def parse_expect(text):
    """The checks of an expectation: a list of (field, op, value)."""
    words = shlex.split(text)
    checks = [("status", "eq", None if words[0] == "null" else int(words[0]))]
    for w in words[1:]:
        if w == "ok":
            checks.append(("kind", "eq", None))
        elif w in KINDS:
            checks.append(("kind", "eq", w))
        elif w == "bytes>0":
            checks.append(("bytes", "gt", 0))
        elif "=" in w:
            k, v = w.split("=", 1)
            if k == "bytes":
                checks.append(("bytes", "range", rng(v, int)))
            elif k in ("attempts", "redirects"):
                checks.append((k, "eq", int(v)))
            elif k == "ce":
                checks.append(("content_encoding", "eq", None if v == "null" else v))
            elif k == "final":
                checks.append(("final_path", "eq", v))
            elif k == "secs":
                checks.append(("secs", "range", rng(v)))
            else:
                raise ValueError("unknown expectation %r in %r" % (w, text))
        else:
            raise ValueError("unknown expectation %r in %r" % (w, text))
    return checks


def pct_upper(s):
    return re.sub(r"%[0-9a-fA-F]{2}", lambda m: m.group(0).upper(), s)


def field(rec, name):
    if name == "kind":
        return (rec.get("error") or {}).get("kind")
    if name == "final_path":
        if not rec.get("final_url"):
            return None
        u = urllib.parse.urlsplit(rec["final_url"])
        return pct_upper(u.path + ("?" + u.query if u.query else ""))
    if name == "secs":
        total = (rec.get("time_ms") or {}).get("total")
        return None if total is None else total / 1000.0
    return rec.get(name, "<missing>")


def mismatches(rec, checks):
    """What in rec differs from the checks (empty: all good)."""
    if rec is None:
        return ["no record"]
    bad = []
    for name, op, want in checks:
        got = field(rec, name)
        if name == "final_path":
            want = pct_upper(want)
        if op == "eq":
            ok = got == want
        elif op == "gt":
            ok = isinstance(got, (int, float)) and got > want
        else:
            ok = isinstance(got, (int, float)) and want[0] <= got <= want[1]
        if not ok:
            bad.append("%s: got %r, want %s" % (
                name, got, "%s..%s" % want if op == "range" else ("> %r" % want if op == "gt"
                                                                 else repr(want))))
    return bad


def pretty(text):
    """An expectation in words, for the TAP line."""
    words = shlex.split(text)
    out = ["no status" if words[0] == "null" else words[0]]
    for w in words[1:]:
        if w == "ok":
            out.append("no error")
        elif w in KINDS:
            out.append("kind " + w)
        elif w.startswith("bytes"):
            v = w[5:].lstrip("=")
            out.append("%s bytes" % ("some" if v == ">0" else v))
        else:
            out.append(w)
    return ", ".join(out)


# --------------------------------------------------------------------------
# evcrawl processes

# ru_maxrss of a child counts the RSS its parent had when it forked (Linux
# keeps the old address space's high-water mark across exec), so children
# forked from this test process (30 MiB and more) would all seem that big.
# They are forked instead by this spawner, a bare `python3 -S` of about
# 5 MiB, which reaps them with wait4 and reports their ru_maxrss. Commands
# on its stdin, one line each: ID NICE OUT ERR ARGV... (tab-separated);
# answers on its stdout: "started ID PID", "ended ID STATUS MAXRSS_KIB SECS".
SPAWNER = r"""
import os, select, sys, time
procs = {}
def start(line):
    ident, nice, out, err, *argv = line.split("\t")
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()                 # its own group: a kill takes its workers too
            if int(nice):
                os.nice(int(nice))
            fd = os.open(os.devnull, os.O_RDONLY)
            os.dup2(fd, 0)
            os.dup2(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 1)
            os.dup2(os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 2)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    procs[pid] = (ident, t0)
    print("started", ident, pid, flush=True)
eof = False
while not eof or procs:
    if not eof and select.select([sys.stdin], [], [], 0.01)[0]:
        line = sys.stdin.readline()
        if not line:
            eof = True
        else:
            start(line.rstrip("\n"))
    elif eof:
        time.sleep(0.01)
    while procs:
        try:
            pid, status, ru = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if not pid:
            break
        ident, t0 = procs.pop(pid)
        print("ended", ident, status, ru.ru_maxrss, time.monotonic() - t0, flush=True)
"""


class Proc:
    """One evcrawl process: its input lines, its deadline, and once it
    ended its Run, wall time and peak RSS."""

    def __init__(self, cfg, label, argv, lines, expected_secs, workdir, nice=0):
        self.cfg, self.label, self.lines = cfg, label, lines
        self.deadline = expected_secs + SLACK
        base = os.path.join(workdir, re.sub(r"[^a-z0-9]+", "-", "%s-%s" % (cfg, label)))
        self.input = base + ".in"
        with open(self.input, "wb") as f:
            f.write(b"".join(line + b"\n" for line in lines))
        self.out, self.err = base + ".out", base + ".err"
        self.argv = [EVCRAWL] + argv + ["-i", self.input]
        self.nice = nice
        self.pid = None
        self.killed = False
        self.done = False

    def command(self, ident):
        return "\t".join([str(ident), str(self.nice), self.out, self.err] + self.argv) + "\n"

    def ended(self, status, maxrss_kib, secs):
        self.secs = secs
        self.status = status
        self.rss_mib = maxrss_kib / 1024.0
        with open(self.out, "rb") as f:
            out = f.read()
        with open(self.err, "rb") as f:
            err = f.read()
        rc = os.waitstatus_to_exitcode(status)
        self.run = Run(rc, b"", err, self.secs)
        # Lines are split at "\n" only (str.splitlines would also split at
        # U+0085 and U+2028, which a record may hold raw).
        self.run.out = out
        for line in out.split(b"\n")[:-1] if out.endswith(b"\n") else out.split(b"\n"):
            try:
                rec = json.loads(line.decode("utf-8"))
                (self.run.records if isinstance(rec, dict) else self.run.bad).append(rec)
            except ValueError:
                self.run.bad.append(line)
        self.done = True


def run_all(procs):
    """Run them all at once through the spawner and wait for every one; one
    still running at its deadline is killed (with its process group)."""
    sp = subprocess.Popen([sys.executable, "-S", "-c", SPAWNER], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True, bufsize=1)
    for n, p in enumerate(procs):
        sp.stdin.write(p.command(n))
    sp.stdin.flush()
    sp.stdin.close()
    t0 = time.monotonic()
    while not all(p.done for p in procs):
        if select.select([sp.stdout], [], [], 0.05)[0]:
            words = sp.stdout.readline().split()
            if not words:
                break
            p = procs[int(words[1])]
            if words[0] == "started":
                p.pid = int(words[2])
            else:
                p.ended(int(words[2]), int(words[3]), float(words[4]))
        for p in procs:
            if p.pid and not p.done and not p.killed and time.monotonic() - t0 > p.deadline:
                p.killed = True
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    sp.wait()


# --------------------------------------------------------------------------
# Sockets of the local cases

class LocalServers:
    """The listeners of LOCAL_CASES, on 127.0.0.1; close() closes every
    socket they made."""

    def __init__(self):
        self.socks = []
        self.stop = threading.Event()
        # never-accept: backlog 0, one connection fills the queue; then SYNs
        # are dropped and a connect stays in SYN-SENT.
        self.never = self._listen(0)
        for _ in range(8):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(self.never.getsockname())
            self.socks.append(c)
            if not select.select([], [c], [], 0.3)[1]:
                break           # this one did not get in: the queue is full
        self.silent = self._listen(128)
        self.first = self._listen(128)
        self.threads = [threading.Thread(target=self._accept_hold, daemon=True),
                        threading.Thread(target=self._answer_first, daemon=True)]
        for th in self.threads:
            th.start()

    def _listen(self, backlog):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(backlog)
        self.socks.append(s)
        return s

    def _accept_hold(self):
        while not self.stop.is_set():
            if select.select([self.silent], [], [], 0.1)[0]:
                c, _ = self.silent.accept()
                self.socks.append(c)        # held, never read

    def _answer_first(self):
        while not self.stop.is_set():
            if select.select([self.first], [], [], 0.1)[0]:
                c, _ = self.first.accept()
                self.socks.append(c)
                threading.Thread(target=self._answer, args=(c,), daemon=True).start()

    def _answer(self, c):
        try:
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
                      b"Connection: close\r\n\r\nok\n")
            c.settimeout(5)
            buf = b""
            while b"\r\n\r\n" not in buf:
                data = c.recv(4096)
                if not data:
                    break
                buf += data
            c.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def url(self, case):
        name = case.path.split()[-1]
        sock = {"never-accept": self.never, "accept-never-read": self.silent,
                "answer-first": self.first}[name]
        return "http://127.0.0.1:%d/%s" % (sock.getsockname()[1], name)

    def close(self):
        self.stop.set()
        for th in self.threads:
            th.join()
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass


# --------------------------------------------------------------------------
# Bad input: a NUL in a line, a binary file

def json_string_of(line):
    """The record's url for an input line as evcrawl documents it: the bytes
    as given (NUL included, JSON-escaped by the encoder), each byte that is
    not part of valid UTF-8 becoming U+FFFD."""
    out, i = [], 0
    while i < len(line):
        for n in (1, 2, 3, 4):
            try:
                out.append(line[i:i + n].decode("utf-8"))
                i += n
                break
            except UnicodeDecodeError:
                continue
        else:
            out.append("\ufffd")
            i += 1
    return "".join(out)


def binary_lines(seed=20250101, size=64 * 1024):
    """64 KiB of random bytes cut into lines by some newlines, plus a few
    lines that must be skipped (empty, blanks, # comments). No kept line
    starts with a blank or # or ends with a blank or CR, so which lines are
    URLs is clear whatever the trimming."""
    r = random.Random(seed)
    lines, skipped, total = [], set(), 0
    while total < size:
        n = r.randint(1, 400)
        line = bytearray(r.randbytes(n).replace(b"\n", b"\x00"))
        if line[0] in b" \t#\r\x0b\x0c":
            line[0] = 0x01
        if line[-1] in b" \t\r\x0b\x0c":
            line[-1] = 0xfe
        lines.append(bytes(line))
        total += n + 1
        if r.random() < 0.05:
            lines.append(r.choice([b"", b"   ", b"\t", b"# \x00\xff comment", b"\r"]))
            skipped.add(lines[-1])
    return lines, skipped


# --------------------------------------------------------------------------

def est_secs(expect):
    """How long a case takes, about, and at most (for shards and deadlines)."""
    m = re.search(r"secs=([0-9.]+)\.\.([0-9.]+)", expect)
    if not m:
        return 0.15, 1.0
    lo, hi = float(m.group(1)), float(m.group(2))
    return max(lo, 0.15), hi


def shards(items, serial):
    """Cut [(expected, ...)] into lists of about SHARD_SECS each when serial."""
    if not serial:
        return [items]
    n = max(1, round(sum(i[0] for i in items) / SHARD_SECS))
    bins = [[0.0, []] for _ in range(n)]
    for item in sorted(items, key=lambda i: -i[0]):
        b = min(bins, key=lambda b: b[0])
        b[0] += item[0]
        b[1].append(item)
    return [b[1] for b in bins if b[1]]


def check_catalogue():
    """faultd's docstring documents every path it serves, and every /h/
    path has a case."""
    paths = [p for p in faultd.EXACT] + [p for p, _ in faultd.PREFIXES if p != "/h/"]
    paths += ["/h/" + name for name in faultd.HOSTILE]
    t.eq([p for p in paths if p not in faultd.__doc__], [],
         "faultd's docstring documents all its %d paths" % len(paths))
    t.ok(len(HOSTILE_CASES) >= 80, "the catalogue holds %d cases (%d on /h/ paths) and %d "
         "keep-alive sequences" % (len(HOSTILE_CASES), sum(c.path.startswith("/h/")
                                                         for c in HOSTILE_CASES),
                                   len(HOSTILE_SEQUENCES)))


def main():
    check_catalogue()
    only = os.environ.get("HOSTILE_CONFIGS")
    configs = [c for c in CONFIGS if not only or c[0] in only.split(",")]
    t0 = time.monotonic()
    with World(pages=1, delay_ms=10) as w:
        local = LocalServers()
        try:
            procs, cases = plan(w, local, configs)
            # In waves (WAVES): all at once would starve faultd, one
            # Python process, of CPU on two cores, and its answers would
            # come late (busy-poll's shards spin on both).
            for wave in WAVES:
                run_all([p for p in procs if p.cfg in wave])
            stats = fault_stats(w.fault_port)
        finally:
            local.close()
        report(w, procs, cases, stats, configs)
    t.diag("%d evcrawl processes, %.1f s in all" % (len(procs), time.monotonic() - t0))
    t.done()


def plan(w, local, configs):
    """The processes to run and, per configuration, what to check:
    cases[cfg] = list of ("case", run, path, url, expect) / ("seq", seq, urls)
    / ("input", kind, lines)."""
    common = ["-q", "--dns-server", "127.0.0.1:%d" % w.dns_port, "--host-errors", "0"]
    procs, cases = [], collections.defaultdict(list)
    port = w.fault_port
    for cfg, mode_args, serial in configs:
        slug = cfg.split("/")[-1][:8]
        # evcrawl yields the CPU to the servers (its clocks are not fooled by
        # waiting for the CPU, faultd's answers are); busy-poll spins.
        nice = 10 if cfg == "busy-poll" else 5

        def workers(n):
            if cfg in ("threads", "processes"):
                return ["-c", str(min(n, WORKERS))]
            return ["-c", str(max(n, 1))] if not serial else []

        # plain, z, backoff: one URL per case, each on its own host name
        for run in ("plain", "z", "backoff"):
            items = []
            for i, c in enumerate(HOSTILE_CASES + (LOCAL_CASES if run == "plain" else [])):
                if run not in c.expect:
                    continue
                host = "%s%03d-%s.many.test" % (run[0], i, slug)
                if c.path.startswith("(local)"):
                    url = local.url(c)
                else:
                    path = (c.path.replace("HOST", host)
                            .replace("OTHER", "o%03d-%s.many.test" % (i, slug))
                            .replace("KEY", "%s-%d" % (slug, i)))
                    url = "http://%s:%d%s" % (host, port, path)
                est, top = est_secs(c.expect[run])
                items.append((est, top, c.path, url, c.expect[run]))
                cases[cfg].append(("case", run, c.path, url, c.expect[run]))
            parts = shards(items, serial)
            for k, part in enumerate(parts):
                tops = [i[1] for i in part]
                if serial:
                    expected = sum(tops)
                elif cfg in ("threads", "processes"):     # WORKERS at a time
                    expected = max(tops) + sum(tops) / WORKERS
                else:
                    expected = max(tops)
                label = run + (" shard %d/%d" % (k + 1, len(parts)) if len(parts) > 1 else "")
                argv = common + HOSTILE_RUNS[run].split() + mode_args + workers(len(part))
                procs.append(Proc(cfg, label, argv, [i[3].encode() for i in part], expected,
                                  w.dir, nice))

        # keep-alive sequences: each its own process (so that nothing else
        # comes between its URLs or takes its place in the idle pool), URLs
        # one after another (the async engine takes its keys round-robin:
        # A, B, A stays in that order)
        argv = common + HOSTILE_RUNS["ka"].split() + mode_args
        for g, seq in enumerate(HOSTILE_SEQUENCES):
            urls = []
            for n, (letter, path, want) in enumerate(seq.steps):
                host = "k%02d%s-%s.many.test" % (g, letter.lower(), slug)
                # ?N: each URL distinct (faultd ignores the query)
                urls.append(("http://%s:%d%s?%d" % (host, port, path, n + 1), want))
            cases[cfg].append(("seq", seq, urls))
            procs.append(Proc(cfg, "ka " + seq.name, argv, [u.encode() for u, _ in urls],
                              1.0 * len(urls), w.dir, nice))

        # bad input
        ok_url = "http://i000-%s.many.test:%d/ok" % (slug, port)
        nul_lines = [("http://i001-%s.many.test:%d/ok\x00junk" % (slug, port)).encode(),
                     b"\x00http://i002.many.test/ok",
                     ("http://i003-%s.many.test:%d/ok\x00" % (slug, port)).encode()]
        binary, skipped = binary_lines()
        lines = [ok_url.encode()] + nul_lines + binary
        argv = common + HOSTILE_RUNS["plain"].split() + mode_args + workers(8)
        procs.append(Proc(cfg, "input", argv, lines, 2.0, w.dir, nice))
        cases[cfg].append(("input", "ok", [ok_url.encode()]))
        for line in nul_lines:
            cases[cfg].append(("input", "nul", [line]))
        cases[cfg].append(("input", "binary", [b for b in binary if b not in skipped]))
    return procs, cases


def input_urls(proc):
    """The url each non-blank, non-# input line must give its record."""
    urls = []
    for line in proc.lines:
        s = line.strip(b" \t\r")
        if s and not s.startswith(b"#"):
            urls.append(json_string_of(s))
    return urls


def report(w, procs, cases, stats, configs):
    hosts = stats.get("hosts", {})
    for cfg, _, _ in configs:
        recs = {}
        for p in (p for p in procs if p.cfg == cfg):
            run, name = p.run, "%s: %s" % (cfg, p.label)
            want = collections.Counter(input_urls(p))
            got = collections.Counter(r.get("url") for r in run.records)
            complete = run.out.endswith(b"\n") or not run.out
            t.ok(got == want and not run.bad and complete,
                 "%s: one JSON record per input line (%d)" % (name, sum(want.values())),
                 "missing: %r\nextra: %r\nnot JSON: %r\nstderr: %s" % (
                     list((want - got).items())[:5], list((got - want).items())[:5],
                     run.bad[:3], run.err[-1500:]))
            t.ok(not p.killed and p.secs <= p.deadline,
                 "%s: ended by itself in %.1f s (deadline %.0f s)" % (name, p.secs, p.deadline),
                 "killed at the deadline" if p.killed else None)
            t.ok(os.WIFEXITED(p.status) and run.rc in (0, 1),
                 "%s: exit status %s (0 or 1)" % (name, run.rc), run.err[-1500:])
            t.ok(p.rss_mib < RSS_BOUND_MIB, "%s: peak RSS %.1f MiB < %d MiB" % (
                name, p.rss_mib, RSS_BOUND_MIB))
            for r in run.records:
                recs.setdefault(r.get("url"), r)

        for item in cases[cfg]:
            if item[0] == "case":
                _, run, path, url, expect = item
                prefix = {"plain": "", "z": "--compressed: ", "backoff": "--retries 2: "}[run]
                rec = recs.get(url)
                bad = mismatches(rec, parse_expect(expect))
                t.ok(not bad, "%s: %s%s: %s" % (cfg, prefix, path, pretty(expect)),
                     "\n".join(bad + ["record: %s" % json.dumps(rec)]))
            elif item[0] == "seq":
                _, seq, urls = item
                bad = []
                for n, (url, want) in enumerate(urls):
                    for m in mismatches(recs.get(url), parse_expect(want)):
                        bad.append("URL %d (%s): %s" % (n + 1, url, m))
                for spec in seq.conns.split():
                    letter, _, count = spec.partition("=")
                    lo, hi = rng(count, int)
                    g = HOSTILE_SEQUENCES.index(seq)
                    key = "k%02d%s-%s.many.test:%d" % (g, letter.lower(),
                                                       cfg.split("/")[-1][:8], w.fault_port)
                    n = hosts.get(key, {}).get("total_conns", 0)
                    if not lo <= n <= hi:
                        bad.append("host %s: faultd saw %d connections, want %s" % (
                            letter, n, count))
                t.ok(not bad, "%s: keep-alive %s: %s; connections %s" % (
                    cfg, seq.name, "; ".join("%s %s: %s" % (letter, path, pretty(want))
                                             for letter, path, want in seq.steps), seq.conns),
                     "\n".join(bad + ["records:"] + [json.dumps(recs.get(u)) for u, _ in urls]))
            else:
                _, kind, lines = item
                if kind == "ok":
                    url = lines[0].decode()
                    bad = mismatches(recs.get(url), parse_expect("200 bytes=3 ok"))
                    t.ok(not bad, "%s: input: a good URL among the bad lines: 200, 3 bytes"
                         % cfg, "\n".join(bad + [json.dumps(recs.get(url))]))
                elif kind == "nul":
                    url = json_string_of(lines[0])
                    bad = mismatches(recs.get(url), parse_expect("null bytes=0 bad_url"))
                    shown = json.dumps(url).replace(str(w.fault_port), "PORT")
                    t.ok(not bad, "%s: input line %s: one bad_url record, the whole line "
                         "as its url" % (cfg, shown),
                         "\n".join(bad + ["records with a similar url: %s" % [
                             json.dumps(r) for u, r in recs.items()
                             if u and u[:12] == url[:12]][:3]]))
                else:
                    urls = [json_string_of(b) for b in lines]
                    bad = [(u, recs.get(u)) for u in urls
                           if mismatches(recs.get(u), parse_expect("null bytes=0 bad_url"))]
                    t.ok(not bad, "%s: input: a binary file (%d lines of random bytes): each "
                         "line one bad_url record with the whole line as url" % (cfg, len(urls)),
                         "%d lines wrong, e.g. %r" % (len(bad), bad[:2]))


if __name__ == "__main__":
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    main()
