"""tap.py - a tiny TAP (Test Anything Protocol) producer for integration tests.

    from tap import Tap
    t = Tap()
    t.ok(1 + 1 == 2, "addition works")
    t.eq(len(body), 2048, "page size")
    t.done()            # prints "1..N"; exits 1 if anything failed, else 0

Output is TAP 12: "ok N - desc" / "not ok N - desc", diagnostics as "# ..."
lines, the plan "1..N" at the end. A script that dies of an unhandled exception
reports it as one more failed test and exits non-zero, and so does a script
that ends without calling done().
"""

import atexit
import os
import sys
import traceback


class Tap:
    def __init__(self, out=None):
        self.out = out or sys.stdout
        self.n = 0
        self.failed = 0
        self.finished = False
        # Make crashes visible in the TAP stream and in the exit status.
        self._prev_hook = sys.excepthook
        sys.excepthook = self._excepthook
        atexit.register(self._atexit)

    def _print(self, line):
        self.out.write(line + "\n")
        self.out.flush()

    def diag(self, msg):
        """Print a diagnostic: each line of msg as a "# " comment."""
        for line in str(msg).splitlines() or [""]:
            self._print("# " + line)

    def ok(self, cond, desc, detail=None):
        """Record one test. detail (any object) is printed as diagnostics
        when the test fails. Returns bool(cond)."""
        self.n += 1
        if cond:
            self._print("ok %d - %s" % (self.n, desc))
        else:
            self.failed += 1
            self._print("not ok %d - %s" % (self.n, desc))
            if detail is not None:
                self.diag(detail)
        return bool(cond)

    def eq(self, got, want, desc, detail=None):
        """ok(got == want), showing both values (and detail) on failure."""
        msg = "got:  %r\nwant: %r" % (got, want)
        if detail is not None:
            msg += "\n%s" % (detail,)
        return self.ok(got == want, desc, msg)

    def skip(self, desc, reason):
        """Record a test that was not run."""
        self.n += 1
        self._print("ok %d - %s # SKIP %s" % (self.n, desc, reason))

    def done(self):
        """Print the plan and exit: 1 if any test failed, else 0."""
        self.finished = True
        self._print("1..%d" % self.n)
        if self.failed:
            self.diag("failed %d of %d" % (self.failed, self.n))
        sys.exit(1 if self.failed else 0)

    # -- crash handling ---------------------------------------------------

    def _excepthook(self, etype, value, tb):
        if not self.finished and not issubclass(etype, KeyboardInterrupt):
            self.ok(False, "script died: %s: %s" % (etype.__name__, value),
                    "".join(traceback.format_exception(etype, value, tb)))
        self._prev_hook(etype, value, tb)       # traceback to stderr; exit 1

    def _atexit(self):
        if self.finished:
            return
        if not self.failed:
            self.ok(False, "test script ended without calling done()")
        self._print("1..%d" % self.n)
        # atexit cannot change the exit status any other way; Tap is created
        # first, so its handler runs last and nothing is skipped by this.
        self.out.flush()
        sys.stderr.flush()
        os._exit(1)
