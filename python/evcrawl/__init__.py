"""evcrawl - Python binding for libevcrawl (ctypes, standard library only).

Crawl a list of URLs, one dict per URL (the evcrawl command's JSON record):

    import evcrawl
    for rec in evcrawl.crawl(urls, concurrency=200, per_host=8, timeout=10):
        why = evcrawl.failure(rec)      # "404", "dns: ...", or None
        if why:
            print(rec["url"], why)

`urls` may be any iterable (a file, a generator); it is consumed lazily, as
the crawler has room, so a huge list never sits in memory. Other keyword
arguments are the evcrawl command's long options with '_' for '-'
(dns_server="127.0.0.1:5353", retries=0, header=["X-A: 1", "X-B: 2"],
compressed=True, ...): see evc_crawl_opts_set() in include/evcrawl/options.h.

The crawl runs on an evcrawl event loop, which your script can share: add
timers and fd watchers to a Loop and crawl on it:

    loop = evcrawl.Loop()
    loop.call_every(1.0, lambda: print(crawler.stats()["done"], "done"))
    loop.watch(sock.fileno(), on_readable)          # on_readable(fd, events)
    crawler = evcrawl.Crawler(loop, timeout=5)
    crawler.add("http://example.test/")
    crawler.close_input()       # the watcher adds none: iteration may end
    for rec in crawler:                             # runs the loop
        print(rec)

Everything happens in the calling thread. Callbacks (timers, watchers,
on_result) run inside the loop; an exception raised in one stops the loop
and is re-raised by whatever was running it (Loop.run(), iteration).
Ctrl-C while the loop runs stops it and raises KeyboardInterrupt from there
(never inside a callback, where ctypes would swallow it); leaving crawl()
that way cancels and frees its crawler. Errors from the library raise
EvcrawlError with evc_strerror()'s message.

The library is found through $EVCRAWL_LIB (a path); else, installed by
`make install`, the LIBDIR it recorded (evcrawl/_config.py); else, in a
checkout, build/libevcrawl.so; else the system's search path
(ctypes.util.find_library("evcrawl")).

Typed (PEP 561, py.typed): records are `Record` TypedDicts.
"""

import collections
import ctypes
import ctypes.util
import errno
import itertools
import json
import os
import signal
import threading
import weakref
from ctypes import (CFUNCTYPE, POINTER, Structure, byref, c_bool, c_char_p, c_int, c_size_t,
                    c_uint, c_uint64, c_void_p)
from typing import (Any, Callable, Deque, Dict, Iterable, Iterator, List, Mapping, Optional,
                    Protocol, Set, Tuple, TypedDict, Union, cast)

__all__ = ["crawl", "Loop", "Crawler", "Timer", "Robots", "EvcrawlError", "failure", "version",
           "Record", "RecordError", "TimeMs", "RedirectHop", "TlsInfo", "CertInfo", "Stats",
           "READ", "WRITE"]

READ = 1   # EVC_READ: for Loop.watch() and the events its callback gets
WRITE = 2  # EVC_WRITE

_RUN_DEFAULT, _RUN_ONCE, _RUN_NOWAIT = 0, 1, 2


# ---------------------------------------------------------------------------
# Types (Python 3.9 syntax: typing's Optional and Union, no "X | None")

URL = Union[str, bytes]


class _HasFileno(Protocol):
    def fileno(self) -> int: ...


FileLike = Union[int, _HasFileno]  # an fd, or a socket, file, ... with fileno()

# An option's value: str()-ed for the library; True/False become "1"/"0";
# a list or tuple sets a repeatable option (header=[...]) once per item.
OptionValue = Union[str, int, float, None, List[Union[str, int, float]],
                    Tuple[Union[str, int, float], ...]]


class TimeMs(TypedDict):
    """A record's phases in ms; None when the phase did not happen."""
    dns: Optional[float]
    connect: Optional[float]
    tls: Optional[float]
    ttfb: Optional[float]
    total: Optional[float]


class RecordError(TypedDict):
    """Why a URL failed: kind is one of bad_url, dns, connect, tls, proxy,
    timeout, protocol, too_large, redirect, io, http, robots, skipped,
    cancelled, lost."""
    kind: str
    message: str


class RedirectHop(TypedDict):
    url: str
    status: int


class TlsInfo(TypedDict):
    version: str
    cipher: Optional[str]
    alpn: Optional[str]
    resumed: bool


class CertInfo(TypedDict):
    subject: Optional[str]
    issuer: Optional[str]
    sans: List[str]
    not_before: Optional[str]
    not_after: Optional[str]
    days_left: int


class _RecordFields(TypedDict):
    url: str
    final_url: Optional[str]
    status: Optional[int]
    bytes: int
    content_type: Optional[str]
    redirects: int
    attempts: int
    time_ms: TimeMs
    error: Optional[RecordError]
    remote_ip: Optional[str]
    http_version: Optional[str]
    wire_bytes: int
    started_at: Optional[str]
    redirect_chain: List[RedirectHop]


class Record(_RecordFields, total=False):
    """One URL's result, the evcrawl command's JSON record (docs/design.md,
    "The result record"). The fields below appear only when they apply."""
    content_encoding: Optional[str]
    headers: Dict[str, Optional[str]]
    tls: TlsInfo
    cert: CertInfo
    depth: int
    parent: Optional[str]
    links: List[str]
    saved: str


class Stats(TypedDict):
    """Crawler.stats(): live counters; errors maps error kind -> count."""
    added: int
    done: int
    ok: int
    errors: Dict[str, int]
    bytes: int
    in_flight: int
    queued: int
    waiting: int
    connections: int
    connections_opened: int
    requests: int
    keys: int
    keys_waiting: int
    keys_backing_off: int
    keys_given_up: int
    frontier_on_disk: int
    frontier_spilled: int


class EvcrawlError(Exception):
    """A libevcrawl call failed. `code` is the negative error code, and the
    message is evc_strerror(code) (with some context in front)."""

    def __init__(self, code: int, context: Optional[str] = None) -> None:
        self.code = code
        msg = _lib.evc_strerror(code).decode()
        super().__init__("%s: %s" % (context, msg) if context else msg)


# ---------------------------------------------------------------------------
# Loading the library and declaring what we call

def _library_path() -> Tuple[str, str]:
    """The library to load, and where that choice came from. An installed
    package uses the library installed with it (make install records its
    LIBDIR, which need not be on the loader's path); a checkout's package
    uses the checkout's build."""
    path = os.environ.get("EVCRAWL_LIB")
    if path:
        return path, "$EVCRAWL_LIB"
    try:
        from . import _config  # type: ignore[attr-defined]  # by make install; not in a checkout
    except ImportError:
        pass
    else:
        return os.path.join(_config.LIBDIR, _config.SONAME), "the LIBDIR make install recorded"
    here = os.path.dirname(os.path.realpath(__file__))
    built = os.path.normpath(os.path.join(here, os.pardir, os.pardir, "build", "libevcrawl.so"))
    if os.path.exists(built):
        return built, "the checkout's build"
    found = ctypes.util.find_library("evcrawl")
    if found:
        return found, "the system's library path"
    raise ImportError("libevcrawl not found: this package was not installed by make install, "
                      "is not in a built checkout, and the system's library path has none; "
                      "set EVCRAWL_LIB to the path of libevcrawl.so")


def _load() -> Tuple[ctypes.CDLL, str]:
    path, whence = _library_path()
    try:
        return ctypes.CDLL(path), path
    except OSError as e:
        raise ImportError("cannot load libevcrawl (%s): %s" % (whence, e)) from None


_lib, _LIBRARY = _load()  # _LIBRARY: the path (or name) it was loaded from

_IO_CB = CFUNCTYPE(None, c_void_p, c_int, c_int, c_void_p)   # loop, fd, events, arg
_TIMER_CB = CFUNCTYPE(None, c_void_p, c_void_p)              # timer, arg
_RESULT_CB = CFUNCTYPE(None, c_void_p, c_void_p, c_void_p)   # crawler, result, arg
_FEED_CB = CFUNCTYPE(None, c_void_p, c_void_p)               # crawler, arg
_BODY_CB = CFUNCTYPE(c_int, c_void_p, c_void_p, c_void_p, c_size_t, c_void_p)
#                    crawler, user, data, len, arg -> non-zero stops that fetch


def _declare(name: str, restype: Any, *argtypes: Any) -> None:
    f = getattr(_lib, name)
    f.restype = restype
    f.argtypes = argtypes


for _name, _res, _args in [
        ("evc_version", c_char_p, ()),
        ("evc_strerror", c_char_p, (c_int,)),
        ("evc_error_kind_name", c_char_p, (c_int,)),
        ("evc_loop_new", c_int, (POINTER(c_void_p), c_char_p)),
        ("evc_loop_free", None, (c_void_p,)),
        ("evc_loop_backend", c_char_p, (c_void_p,)),
        ("evc_loop_run", c_int, (c_void_p, c_int)),
        ("evc_loop_stop", None, (c_void_p,)),
        ("evc_now", c_uint64, (c_void_p,)),
        ("evc_io_start", c_int, (c_void_p, c_int, c_int, _IO_CB, c_void_p)),
        ("evc_io_stop", c_int, (c_void_p, c_int)),
        ("evc_timer_new", c_void_p, (c_void_p, _TIMER_CB, c_void_p)),
        ("evc_timer_start", c_int, (c_void_p, c_uint64, c_uint64)),
        ("evc_timer_stop", None, (c_void_p,)),
        ("evc_timer_free", None, (c_void_p,)),
        ("evc_timer_active", c_int, (c_void_p,)),
        ("evc_crawl_opts_new", c_void_p, ()),
        ("evc_crawl_opts_set", c_int, (c_void_p, c_char_p, c_char_p)),
        ("evc_crawl_opts_free", None, (c_void_p,)),
        ("evc_result_to_json", c_size_t, (c_void_p, c_void_p, c_size_t)),
        ("evc_result_user", c_void_p, (c_void_p,)),
        ("evc_crawler_set_body_cb", None, (c_void_p, _BODY_CB, c_void_p)),
        ("evc_crawler_new", c_int, (POINTER(c_void_p), c_void_p, c_void_p, _RESULT_CB,
                                    c_void_p)),
        ("evc_crawler_free", None, (c_void_p,)),
        ("evc_crawler_add", c_int, (c_void_p, c_char_p, c_size_t, c_void_p)),
        ("evc_crawler_set_feed", None, (c_void_p, _FEED_CB, c_void_p)),
        ("evc_crawler_close_input", None, (c_void_p,)),
        ("evc_crawler_cancel", None, (c_void_p,)),
        ("evc_crawler_stats", None, (c_void_p, c_void_p)),
        ("evc_crawler_finished", c_bool, (c_void_p,)),
        ("evc_robots_parse", c_int, (POINTER(c_void_p), c_char_p, c_size_t, c_char_p)),
        ("evc_robots_allowed", c_bool, (c_void_p, c_char_p)),
        ("evc_robots_crawl_delay_ms", c_uint, (c_void_p,)),
        ("evc_robots_sitemaps", c_size_t, (c_void_p, POINTER(POINTER(c_char_p)))),
        ("evc_robots_free", None, (c_void_p,))]:
    _declare(_name, _res, *_args)


def version() -> str:
    """The library's version, "MAJOR.MINOR.PATCH"."""
    return _lib.evc_version().decode()


def _check(rc: int, context: Optional[str] = None) -> int:
    if rc < 0:
        raise EvcrawlError(rc, context)
    return rc


# evc_crawl_stats_t has one counter per error kind; the number of kinds is
# read from the library (evc_error_kind_name() says "unknown" past the last)
# so this mirror follows the library's enum.
_ERROR_KINDS = list(itertools.takewhile(
    lambda name: name != "unknown",
    (_lib.evc_error_kind_name(k).decode() for k in range(64))))


class _Stats(Structure):
    _fields_ = [("added", c_uint64), ("done", c_uint64), ("ok", c_uint64),
                ("errors", c_uint64 * len(_ERROR_KINDS)), ("bytes", c_uint64),
                ("in_flight", c_uint), ("queued", c_uint), ("waiting", c_uint),
                ("connections", c_uint), ("connections_opened", c_uint64),
                ("requests", c_uint64), ("keys", c_uint), ("keys_waiting", c_uint),
                ("keys_backing_off", c_uint), ("keys_given_up", c_uint),
                ("frontier_on_disk", c_uint64), ("frontier_spilled", c_uint64)]


# ---------------------------------------------------------------------------
# Callbacks: one C trampoline per kind, for the life of the module (so none
# is ever garbage-collected while C holds it). The C `arg` is a key into
# _handles, which maps it to the Python object (weakly: an object nobody
# uses any more can still be collected and closed).

_handles: Dict[int, "weakref.ref[Any]"] = {}
_next_key = itertools.count(1)


def _register(obj: Any) -> int:
    key = next(_next_key)
    _handles[key] = weakref.ref(obj)
    return key


def _lookup(key: int) -> Any:
    ref = _handles.get(key)
    return ref() if ref else None


def _guard(loop: "Optional[Loop]", fn: Callable[..., Any], *args: Any) -> None:
    """Run a Python callback from C: an exception must not cross into C, so
    it is kept for the loop's runner to raise, and the loop is stopped."""
    try:
        fn(*args)
    except BaseException as e:  # KeyboardInterrupt included
        if loop is not None:
            loop._fail(e)


class _Interrupts:
    """Ctrl-C while C runs the loop. Python runs a signal handler at its next
    chance, often inside a callback, where a KeyboardInterrupt cannot cross
    into C (ctypes prints "Exception ignored on calling ctypes callback
    function" and drops it); with no callback at all it waits. So around
    each call into the loop SIGINT's default handler is swapped for one
    that notes the signal and stops the loop, the loop runs an iteration at
    a time (a signal ends epoll_wait; evc_loop_run retries EINTR only in
    DEFAULT mode), and KeyboardInterrupt is raised once C has returned.
    A handler of the program's own, or a loop in another thread, is left
    alone. Costs two sigaction calls per iteration."""

    def __init__(self, loop: "Loop") -> None:
        self._loop = loop
        self._prev: Any = None
        self.hit = False

    def __enter__(self) -> "_Interrupts":
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._prev = signal.signal(signal.SIGINT, self._note)
        return self

    def _note(self, signum: int, frame: Any) -> None:
        self.hit = True
        if self._loop._ptr:
            _lib.evc_loop_stop(self._loop._ptr)

    def __exit__(self, etype: Any, value: Any, tb: Any) -> None:
        if self._prev is not None:
            signal.signal(signal.SIGINT, self._prev)  # runs _note if one is pending
            self._prev = None
        if self.hit and etype is None:
            raise KeyboardInterrupt


@_IO_CB
def _io_trampoline(loop_ptr: int, fd: int, events: int, key: int) -> None:
    loop = _lookup(key)
    fn = loop and loop._watchers.get(fd)
    if fn:
        _guard(loop, fn, fd, events)


@_TIMER_CB
def _timer_trampoline(timer_ptr: int, key: int) -> None:
    timer = _lookup(key)
    if timer:
        _guard(timer._loop, timer._fire)


@_RESULT_CB
def _result_trampoline(crawler_ptr: int, result: int, key: int) -> None:
    crawler = _lookup(key)
    if crawler:
        _guard(crawler.loop, crawler._result, result)


@_BODY_CB
def _body_trampoline(crawler_ptr: int, user: int, data: int, length: int, key: int) -> int:
    crawler = _lookup(key)
    if not crawler or crawler._closing:
        return 0
    stop: List[Any] = []
    _guard(crawler.loop, lambda: stop.append(crawler._body(user, ctypes.string_at(data, length))))
    return 1 if not stop or stop[0] else 0  # an exception stops the fetch too


@_FEED_CB
def _feed_trampoline(crawler_ptr: int, key: int) -> None:
    crawler = _lookup(key)
    if crawler:
        _guard(crawler.loop, crawler._feed_more)


def _fileno(fd: FileLike) -> int:
    return fd if isinstance(fd, int) else fd.fileno()


def _ms(seconds: float) -> int:
    ms = int(round(float(seconds) * 1000))
    if ms < 0:
        raise ValueError("negative time: %r" % (seconds,))
    return ms


# ---------------------------------------------------------------------------

class Loop:
    """An evcrawl event loop: fd watchers and timers, in this thread.

    Crawlers made on it (Crawler(loop)) run alongside. Close it with close()
    (or use it as a context manager), which also closes its crawlers, stops
    its watchers and cancels its timers.
    """

    def __init__(self, backend: Optional[str] = None) -> None:
        """backend: "epoll", "poll", "select", or None for the best here."""
        ptr = c_void_p()
        _check(_lib.evc_loop_new(byref(ptr), backend.encode() if backend else None),
               "loop %r" % (backend or "auto"))
        self._ptr: Optional[int] = ptr.value
        self._key = _register(self)
        self._watchers: Dict[int, Callable[[int, int], Any]] = {}  # fd -> fn(fd, events)
        self._timers: Dict[int, Timer] = {}     # key -> Timer, while allocated
        self._crawlers: Set[Crawler] = set()    # open crawlers on this loop
        self._error: Optional[BaseException] = None  # first exception from a callback
        self._running = False
        self._stopping = False  # stop() was called during run()

    # -- running

    @property
    def backend(self) -> str:
        """The selector in use: "epoll", "poll" or "select"."""
        return _lib.evc_loop_backend(self._live()).decode()

    def now(self) -> float:
        """The loop's cached monotonic time, in seconds."""
        return _lib.evc_now(self._live()) / 1000.0

    def run(self) -> None:
        """Run until nothing is watched and no timer or crawl is active, or
        until stop(). Re-raises an exception from a callback."""
        self._run(_RUN_DEFAULT)

    def run_once(self, block: bool = True) -> bool:
        """One iteration: run what is due, waiting for an event if block.
        Returns whether anything is still active."""
        return self._run(_RUN_ONCE if block else _RUN_NOWAIT) > 0

    def stop(self) -> None:
        """Make run() return after the current iteration."""
        self._stopping = True
        _lib.evc_loop_stop(self._live())

    def _run(self, mode: int) -> int:
        if self._running:
            raise RuntimeError("the loop is already running (a callback cannot run it)")
        ptr = self._live()
        self._running, self._stopping = True, False
        try:
            with _Interrupts(self) as interrupts:
                if mode != _RUN_DEFAULT:
                    rc = _lib.evc_loop_run(ptr, mode)
                else:
                    # DEFAULT, one iteration at a time (see _Interrupts).
                    rc = _lib.evc_loop_run(ptr, _RUN_NOWAIT)
                    while (rc > 0 and not self._stopping and self._error is None
                           and not interrupts.hit):
                        rc = _lib.evc_loop_run(ptr, _RUN_ONCE)
        finally:
            self._running = False
        self._raise_pending()
        return _check(rc, "event loop")

    def _fail(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = exc
        if self._ptr:
            _lib.evc_loop_stop(self._ptr)

    def _raise_pending(self) -> None:
        if self._error is not None:
            e, self._error = self._error, None
            raise e

    def _live(self) -> int:
        if not self._ptr:
            raise ValueError("the loop is closed")
        return self._ptr

    # -- timers and watchers

    def call_later(self, seconds: float, fn: Callable[..., Any], *args: Any) -> "Timer":
        """Run fn(*args) once, after `seconds` (fractions allowed). Returns
        a Timer (cancel() it to call it off)."""
        return Timer(self, seconds, 0, fn, args)

    def call_every(self, seconds: float, fn: Callable[..., Any], *args: Any,
                   first: Optional[float] = None) -> "Timer":
        """Run fn(*args) every `seconds`, the first time after `first`
        seconds (default: `seconds`). Returns a Timer; cancel() stops it.
        A repeating timer keeps run() from returning until cancelled."""
        if _ms(seconds) == 0:
            raise ValueError("call_every needs a period > 0")
        return Timer(self, seconds if first is None else first, seconds, fn, args)

    def watch(self, fd: "FileLike", fn: Callable[[int, int], Any], read: bool = True,
              write: bool = False) -> None:
        """Call fn(fd, events) while fd (an int or an object with fileno())
        is readable (read=True) and/or writable (write=True); events has
        READ and/or WRITE set. Watching a watched fd again replaces its
        callback and events. Level-triggered: read or write what is ready,
        or unwatch. Unwatch before closing the fd."""
        fd = _fileno(fd)
        events = (READ if read else 0) | (WRITE if write else 0)
        _check(_lib.evc_io_start(self._live(), fd, events, _io_trampoline, self._key),
               "watch fd %d" % fd)
        self._watchers[fd] = fn

    def unwatch(self, fd: "FileLike") -> None:
        """Stop watching fd (no callback for it runs after this). Watching
        nothing is fine."""
        fd = _fileno(fd)
        if self._watchers.pop(fd, None) is not None and self._ptr:
            _check(_lib.evc_io_stop(self._ptr, fd), "unwatch fd %d" % fd)

    # -- the end

    def close(self) -> None:
        """Close the loop's crawlers, stop its watchers, cancel its timers
        and free it. Not from inside a callback. Closing twice is fine."""
        if not self._ptr:
            return
        if self._running:
            raise RuntimeError("cannot close a running loop")
        for crawler in list(self._crawlers):
            crawler.close()
        for fd in list(self._watchers):
            self.unwatch(fd)
        for timer in list(self._timers.values()):
            timer.cancel()
        _lib.evc_loop_free(self._ptr)
        self._ptr = None
        _handles.pop(self._key, None)

    def __enter__(self) -> "Loop":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if getattr(self, "_ptr", None) and not self._running:
                self.close()
        except Exception:
            pass  # at interpreter exit the module may be half gone


class Timer:
    """A timer on a Loop: see Loop.call_later() and Loop.call_every()."""

    def __init__(self, loop: Loop, seconds: float, repeat: float, fn: Callable[..., Any],
                 args: Tuple[Any, ...] = ()) -> None:
        self._loop, self._fn, self._args = loop, fn, args
        self._repeat = _ms(repeat)
        self._key = _register(self)
        self._ptr: Optional[int] = _lib.evc_timer_new(loop._live(), _timer_trampoline, self._key)
        if not self._ptr:
            raise MemoryError("evc_timer_new")
        loop._timers[self._key] = self  # the loop keeps it alive while set
        rc = _lib.evc_timer_start(self._ptr, _ms(seconds), self._repeat)
        if rc < 0:
            self.cancel()
            _check(rc, "timer")

    @property
    def active(self) -> bool:
        """Whether the timer will still fire."""
        return bool(self._ptr) and bool(_lib.evc_timer_active(self._ptr))

    def cancel(self) -> None:
        """Stop the timer for good and free it (safe inside its own callback)."""
        if self._ptr:
            _lib.evc_timer_free(self._ptr)
            self._ptr = None
            self._loop._timers.pop(self._key, None)
            _handles.pop(self._key, None)

    def _fire(self) -> None:
        try:
            self._fn(*self._args)
        finally:
            if not self._repeat:
                self.cancel()  # a one-shot timer is done: free it now


class Crawler:
    """A crawler on a Loop: many URLs at once, one record (dict) per URL.

    Records go to on_result(rec) if given, else they are queued and
    iterating the crawler yields them (running the loop meanwhile) until
    every URL has its record and input is closed. Options as for crawl().
    Close it with close() (or use it as a context manager).

    Input ends by itself for iteration and run(): with feed(), when its
    iterable is exhausted; with add(), once every URL added has its record
    and nothing else on the loop (a watcher, a timer, another crawler)
    could add one. Otherwise (URLs still to come from a watcher, say) say
    so with close_input().
    """

    def __init__(self, loop: Optional[Loop] = None,
                 on_result: Optional[Callable[[Record], Any]] = None,
                 on_body: Optional[Callable[[Any, bytes], Any]] = None,
                 **options: OptionValue) -> None:
        """loop: a Loop to run on, or None for a private one (self.loop),
        closed with the crawler. on_body(url, data): called with each piece
        of a URL's final body (decoded bytes) as it arrives; return True to
        stop that fetch (its record then says io)."""
        # The options first: a misspelt one raises before anything exists
        # that would need undoing.
        opts = _make_opts(options)
        self._own_loop = loop is None
        try:
            self.loop = Loop() if loop is None else loop
        except BaseException:
            _lib.evc_crawl_opts_free(opts)
            raise
        self._on_result = on_result
        self._on_body = on_body
        self._url_of: Dict[int, URL] = {}  # user id given to C -> URL, while on_body is set
        self._next_id = itertools.count(1)
        self._results: Deque[Record] = collections.deque()
        self._urls: Optional[Iterator[URL]] = None
        self._closing = False
        self._buf = ctypes.create_string_buffer(4096)
        self._ptr: Optional[int] = None
        self._key = _register(self)
        try:
            ptr = c_void_p()
            _check(_lib.evc_crawler_new(byref(ptr), self.loop._live(), opts,
                                        _result_trampoline, self._key), "crawler")
        except BaseException:
            _handles.pop(self._key, None)
            if self._own_loop:
                self.loop.close()
            raise
        finally:
            _lib.evc_crawl_opts_free(opts)
        self._ptr = ptr.value
        self.loop._crawlers.add(self)
        if on_body:
            _lib.evc_crawler_set_body_cb(self._ptr, _body_trampoline, self._key)

    def _live(self) -> int:
        if not self._ptr:
            raise ValueError("the crawler is closed")
        return self._ptr

    def add(self, url: URL) -> None:
        """Add one URL (str or bytes); also fine inside any callback. A bad
        URL is not an error here: its record says bad_url."""
        b = url if isinstance(url, bytes) else url.encode("utf-8", "surrogateescape")
        uid = None
        if self._on_body:
            uid = next(self._next_id)
            self._url_of[uid] = url
        _check(_lib.evc_crawler_add(self._live(), b, len(b), uid), "add %r" % (url,))

    def feed(self, urls: Iterable[URL]) -> None:
        """Take URLs from the iterable `urls` as the crawler has room for
        them, and close input when it is exhausted. The iterable is read
        inside the loop: one that blocks (a terminal) stalls the crawl."""
        self._urls = iter(urls)
        _lib.evc_crawler_set_feed(self._live(), _feed_trampoline, self._key)

    def close_input(self) -> None:
        """Say no more URLs will be added: the crawl then ends when every
        URL has its record."""
        _lib.evc_crawler_close_input(self._live())

    def cancel(self) -> None:
        """Stop: queued and in-flight URLs get records with error
        "cancelled" (from the loop, soon); later add() raises."""
        _lib.evc_crawler_cancel(self._live())

    @property
    def finished(self) -> bool:
        """Whether input is closed and every URL has its record."""
        return bool(_lib.evc_crawler_finished(self._live()))

    def stats(self) -> Stats:
        """Live counters: added, done, ok, bytes, in_flight, queued, waiting,
        connections, connections_opened, requests, and errors (a dict of
        error kind -> count, for the kinds that occurred)."""
        # Room to spare, in case a newer library's struct is larger.
        buf = (ctypes.c_char * (ctypes.sizeof(_Stats) + 256))()
        _lib.evc_crawler_stats(self._live(), buf)
        st = _Stats.from_buffer(buf)
        out = {name: getattr(st, name) for name, _ in _Stats._fields_ if name != "errors"}
        out["errors"] = {_ERROR_KINDS[k]: n for k, n in enumerate(st.errors) if n}
        return cast(Stats, out)

    def run(self) -> None:
        """Run the loop until this crawler is finished (other watchers and
        timers run too); input ends as for iteration (see the class)."""
        records = list(self._drive())  # only without on_result: keep them
        self._results.extend(records)   # for iteration

    def __iter__(self) -> Iterator[Record]:
        """Yield records as they arrive, running the loop, until finished:
        every URL has its record and input has ended (see the class). The
        loop's body may add() more URLs."""
        return self._drive()

    def _drive(self) -> Iterator[Record]:
        while True:
            while self._results:
                yield self._results.popleft()
            if self.finished:
                return
            if self._nothing_can_come():
                _lib.evc_crawler_close_input(self._ptr)
                continue
            if not self.loop.run_once() and not self.finished and not self._results:
                raise RuntimeError("nothing left to run, yet the crawler is not finished")

    def _nothing_can_come(self) -> bool:
        # Without this, iterating after add() with input left open would
        # wait forever once the last record is out. Checked with every
        # record yielded (the loop's body has had its chance to add more);
        # Python-side first, the library's counters only then.
        loop = self.loop
        if self._urls is not None or loop._watchers or loop._timers or len(loop._crawlers) > 1:
            return False
        st = self.stats()
        return (st["done"] == st["added"] and st["in_flight"] == st["queued"] == 0
                and st["waiting"] == 0 and st["frontier_on_disk"] == 0)

    def close(self) -> None:
        """Free the crawler. If URLs are still pending, they are cancelled
        first and the loop is run until they have ended (their records are
        dropped; other watchers and timers of the loop may run meanwhile).
        Not from inside a callback of its loop."""
        if self._ptr:
            if self.loop._running:
                raise RuntimeError("cannot close a crawler while its loop runs; cancel() it")
            if not _lib.evc_crawler_finished(self._ptr):
                self._drain()
            _lib.evc_crawler_free(self._ptr)
            self._ptr = None
            self.loop._crawlers.discard(self)
            _handles.pop(self._key, None)
        if self._own_loop:
            self.loop.close()

    def _drain(self) -> None:
        # The library's own cancel path ends every pending fetch cleanly in
        # one loop iteration or two. (evc_crawler_free() with fetches still
        # in flight is allowed by crawler.h, but is avoided here.)
        self._on_result, self._urls, self._closing = None, None, True
        _lib.evc_crawler_cancel(self._ptr)
        self.loop._running = True
        try:
            with _Interrupts(self.loop) as interrupts:
                while not _lib.evc_crawler_finished(self._ptr) and not interrupts.hit:
                    if _lib.evc_loop_run(self.loop._ptr, _RUN_ONCE) <= 0:
                        break
        finally:
            self.loop._running = False
        self._results.clear()

    def __enter__(self) -> "Crawler":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if getattr(self, "_ptr", None) and not self.loop._running:
                self.close()
        except Exception:
            pass  # at interpreter exit the module may be half gone

    # -- from the loop

    def _body(self, user: int, data: bytes) -> Any:
        assert self._on_body is not None  # the body callback is set only with it
        return self._on_body(self._url_of.get(user), data)

    def _result(self, result: int) -> None:
        if self._url_of:
            self._url_of.pop(_lib.evc_result_user(result), None)
        n = _lib.evc_result_to_json(result, self._buf, len(self._buf))
        if n >= len(self._buf):
            self._buf = ctypes.create_string_buffer(n + 1)
            n = _lib.evc_result_to_json(result, self._buf, len(self._buf))
        rec: Record = json.loads(ctypes.string_at(self._buf, n).decode("utf-8", "replace"))
        if self._closing:
            return
        if self._on_result:
            self._on_result(rec)
        else:
            self._results.append(rec)

    def _feed_more(self) -> None:
        # Add up to 256 URLs. Returning without adding any means "nothing
        # for now" to the crawler, which would then stop asking: so blank
        # lines are skipped until a URL comes or the iterable ends.
        if self._urls is None:
            return
        added = 0
        try:
            while added < 256:
                url = next(self._urls).strip()
                # Blank lines and "#" comments are skipped, as the command's
                # -i does.
                if url and url[:1] not in ("#", b"#"):
                    self.add(url)
                    added += 1
        except BaseException as e:
            self._urls = None  # exhausted, or broken: no more input either way
            _lib.evc_crawler_set_feed(self._ptr, _FEED_CB(0), None)  # NULL
            _lib.evc_crawler_close_input(self._ptr)
            if not isinstance(e, StopIteration):
                raise


_ALIASES = {"headers": "header", "dns_servers": "dns_server", "dns": "dns_server"}


class Robots:
    """A robots.txt, parsed as the crawler reads it (RFC 9309):

        r = Robots(text, agent="evcrawl")
        r.allowed("/private/x?y=1")   # False or True
        r.crawl_delay                 # seconds, or None
        r.sitemaps                    # ["http://...", ...]
    """

    def __init__(self, text: Union[str, bytes], agent: str = "evcrawl") -> None:
        data = text.encode() if isinstance(text, str) else bytes(text)
        self._r: Optional[c_void_p] = c_void_p()
        _check(_lib.evc_robots_parse(byref(self._r), data, len(data), agent.encode()),
               "evc_robots_parse")

    def allowed(self, path: str) -> bool:
        """May a URL with this path (and query) be fetched? A whole URL
        works too: its path and query are taken."""
        if "://" in path:
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        return bool(_lib.evc_robots_allowed(self._r, path.encode()))

    @property
    def crawl_delay(self) -> Optional[float]:
        ms = _lib.evc_robots_crawl_delay_ms(self._r)
        return ms / 1000.0 if ms else None

    @property
    def sitemaps(self) -> List[str]:
        urls = POINTER(c_char_p)()
        n = _lib.evc_robots_sitemaps(self._r, byref(urls))
        return [urls[i].decode(errors="replace") for i in range(n)]

    def __del__(self) -> None:
        if getattr(self, "_r", None):
            _lib.evc_robots_free(self._r)
            self._r = None


def _make_opts(options: Mapping[str, OptionValue]) -> int:
    """evc_crawl_opts_t on the heap from keyword options; the caller frees it."""
    opts = _lib.evc_crawl_opts_new()
    if not opts:
        raise MemoryError("evc_crawl_opts_new")
    try:
        for name, value in options.items():
            if value is None:
                continue
            name = _ALIASES.get(name, name)
            values = value if isinstance(value, (list, tuple)) else [value]
            for v in values:
                s = ("1" if v else "0") if isinstance(v, bool) else str(v)
                rc = _lib.evc_crawl_opts_set(opts, name.encode(), s.encode())
                if rc == -errno.ENOENT:
                    raise TypeError("unknown option %r (the evcrawl command's long options, "
                                    "'-' written '_': per_host=8, dns_server=...)" % name)
                _check(rc, "option %s=%r" % (name, v))
    except BaseException:
        _lib.evc_crawl_opts_free(opts)
        raise
    return opts


def crawl(urls: Union[URL, Iterable[URL]], concurrency: int = 200, per_host: int = 8,
          timeout: float = 10, loop: Optional[Loop] = None,
          **options: OptionValue) -> Iterator[Record]:
    """Crawl `urls` (any iterable of str or bytes, read lazily, blank and "#"
    lines skipped; or one URL as a str) and yield one
    record per URL as it finishes (a dict: url, final_url, status, bytes,
    content_type, redirects, attempts, time_ms, error; see docs/design.md).

    timeout is in seconds for the whole fetch of one URL. loop: run on this
    Loop (its timers and watchers run during the crawl), else on a private
    one. Leaving the loop early (break) cancels the URLs still pending
    and frees the crawler.
    """
    if isinstance(urls, (str, bytes)):  # one URL, not one per character
        urls = [urls]
    opts: Dict[str, Any] = dict(options, concurrency=concurrency, per_host=per_host,
                                timeout=timeout)
    with Crawler(loop, **opts) as crawler:
        crawler.feed(urls)
        yield from crawler


def failure(rec: Mapping[str, Any]) -> Optional[str]:
    """Why a record counts as broken, as a short string: "404" for an HTTP
    status >= 400, "dns: Domain name not found" for an error; None when
    the URL answered with a status below 400."""
    err = rec.get("error")
    if err:
        return "%s: %s" % (err.get("kind"), err.get("message"))
    status = rec.get("status")
    if status is None or status >= 400:
        return str(status)
    return None
