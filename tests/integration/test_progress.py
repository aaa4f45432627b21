#!/usr/bin/env python3
"""The progress line on a real terminal (tmux), read back from the screen.

- 60 columns, records written to the same terminal: the line is never
  wider than the terminal, and never glued to a record (every other line of
  the screen, unwrapped, is a whole JSON record);
- 200 columns: done/total, in flight, queued, errors, pages/s and MiB/s,
  elapsed and ETA;
- URLs waiting for a retry are shown as such;
- a one-host list held back by --per-host: the line and the summary say so
  and name the option;
- the line is cleared at the end (the summary is the last thing there), and
  never drawn when stderr is not a terminal.

Run: EVCRAWL=build/evcrawl python3 tests/integration/test_progress.py
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TESTS, "env"), os.path.join(TESTS, "lib")]

from crawltest import EVCRAWL, t, evcrawl  # noqa: E402
from world import World  # noqa: E402

TMUX = shutil.which("tmux")
SOCK = "evc-progress-%d" % os.getpid()  # our own tmux server, stopped at the end


CONF = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
CONF.write("set -g history-limit 100000\n")  # every record stays readable
CONF.close()


def tmux(*args, check=True):
    return subprocess.run(["tmux", "-L", SOCK, "-f", CONF.name] + list(args),
                          capture_output=True, text=True, check=check, timeout=20)


class Screen:
    """evcrawl running in a detached tmux pane of the given size."""

    def __init__(self, cols, argv):
        self.name = "p%d" % cols
        cmd = " ".join("'%s'" % a.replace("'", "'\\''") for a in argv)
        # The pane stays after evcrawl exits, so its last screen can be read.
        tmux("new-session", "-d", "-s", self.name, "-x", str(cols), "-y", "50",
             "sh -c \"%s; echo EXIT=\\$?; sleep 30\"" % cmd.replace('"', '\\"'))

    def lines(self, joined=True):
        """The screen (and its scrollback), wrapped lines joined by default."""
        args = ["capture-pane", "-p", "-t", self.name, "-S", "-"]
        out = tmux(*(args + (["-J"] if joined else []))).stdout
        return [line.rstrip() for line in out.splitlines()]

    def wait_for(self, pred, secs):
        end = time.monotonic() + secs
        while time.monotonic() < end:
            lines = self.lines()
            if pred(lines):
                return lines
            time.sleep(0.05)
        return self.lines()

    def close(self):
        tmux("kill-session", "-t", self.name, check=False)


def progress_line(lines):
    """The last non-empty line, when it is the progress line."""
    rest = [line for line in lines if line]
    return rest[-1] if rest and re.match(r"^\d[\d/]* done", rest[-1]) else None


def is_record(line):
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


if not TMUX:
    t.skip("the progress line on a terminal", "tmux is not installed (scripts/install-deps)")
    t.done()
    sys.exit(0)

with World(pages=20, delay_ms=300) as w:
    dns = "--dns-server=127.0.0.1:%d" % w.dns_port
    tmp = tempfile.mkdtemp(prefix="evc-progress.")
    many = os.path.join(tmp, "many.txt")
    with open(many, "w") as f:
        f.write("".join("http://%s:%d/delay/%d\n" % (w.hosts[i % 20], w.http_port, i)
                        for i in range(400)))
    try:
        # ---- 60 columns, records on the same terminal ----------------------
        s = Screen(60, [EVCRAWL, dns, "-c", "40", "--per-host", "2", "-i", many])
        mid = s.wait_for(lambda ls: progress_line(ls) and sum(map(is_record, ls)) >= 40, 15)
        raw = s.lines(joined=False)
        line = progress_line(mid)
        t.ok(line and len(line) <= 59 and re.match(r"^\d+/400 done \(\d+%\)", line),
             "60 columns: the progress line (%r) fits in 59 columns" % line, "\n".join(mid[-5:]))
        t.ok(max(len(x) for x in raw) <= 60, "60 columns: no screen line is wider")
        body = [x for x in mid if x][:-1]
        t.ok(body and all(is_record(x) for x in body),
             "60 columns: every other line is a whole record (%d), none glued to the "
             "progress line" % len(body), "\n".join(x for x in body if not is_record(x))[:800])
        end = s.wait_for(lambda ls: any(x.startswith("EXIT=") for x in ls), 30)
        text = [x for x in end if x]
        summary = [x for x in text if x.startswith("evcrawl: ")]
        t.ok(summary and text[-1] == "EXIT=0" and text[-2].startswith("evcrawl: ") and
             sum(map(is_record, text)) == 400 and not any(re.match(r"^\d+/400 done", x)
                                                       for x in text),
             "60 columns, at the end: 400 records, the progress line gone, the summary "
             "last", "\n".join(text[-4:]))
        s.close()

        # ---- 200 columns: everything the line can say -----------------------
        s = Screen(200, [EVCRAWL, dns, "-c", "40", "--per-host", "2", "-i", many])
        mid = s.wait_for(lambda ls: progress_line(ls) and "ETA" in progress_line(ls), 15)
        line = progress_line(mid) or ""
        t.ok(re.match(r"^\d+/400 done \(\d+%\) \| \d+ in flight \| \d+ queued \| 0 errors \| "
                      r"\d+ pages/s, [\d.]+ MiB/s \| \d+:\d\d, ETA \d+:\d\d$", line),
             "200 columns: done/total, in flight, queued, errors, rates, elapsed, ETA: %r"
             % line)
        s.close()

        # ---- retries waiting -------------------------------------------------
        retry = [w.fault_url(w.hosts[i], "/retry/2/progress-%d" % i) for i in range(20)]
        s = Screen(200, [EVCRAWL, dns, "--retries", "3", "-c", "20"] + retry)
        mid = s.wait_for(lambda ls: progress_line(ls) and "waiting to retry" in
                         progress_line(ls), 10)
        line = progress_line(mid) or ""
        t.ok(re.search(r"\| 20 waiting to retry \|", line) and "0 in flight" in line,
             "retries waiting: '20 waiting to retry' while nothing is in flight: %r" % line)
        s.wait_for(lambda ls: any(x.startswith("EXIT=") for x in ls), 15)
        s.close()

        # ---- the per-host limit holds a one-host list back -------------------
        one = [w.url("h01.test", "/delay/%d" % i) for i in range(60)]
        s = Screen(200, [EVCRAWL, dns, "-c", "50"] + one)
        mid = s.wait_for(lambda ls: progress_line(ls) and "--per-host" in progress_line(ls),
                         10)
        line = progress_line(mid) or ""
        t.ok("held back by --per-host 8" in line and "8 in flight" in line,
             "one host, -c 50: the line says the per-host limit holds it back: %r" % line)
        end = s.wait_for(lambda ls: any(x.startswith("EXIT=") for x in ls), 15)
        t.ok(any("the per-host limit (--per-host 8) held URLs back" in x and "raise --per-host"
                 in x for x in end), "... and the summary says so, naming the option",
             "\n".join(end[-4:]))
        s.close()
    finally:
        tmux("kill-server", check=False)
        shutil.rmtree(tmp, ignore_errors=True)
        os.unlink(CONF.name)

    # ---- not a terminal: never drawn (unless --progress asks) ------------------
    run = evcrawl(dns, "-c", "50", *[w.url("h01.test", "/delay/%d" % i) for i in range(30)])
    t.ok("\r" not in run.err and "done" not in run.err.split("\n")[0][:20],
         "stderr not a terminal: no progress line", run.err)
t.done()
