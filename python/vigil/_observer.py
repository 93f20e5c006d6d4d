"""vigil.Observer: a drop-in for watchdog.observers.Observer.

    from vigil import Observer          # was: from watchdog.observers import Observer

Design. The observer runs one Python thread (threading.Thread, looked up
when start() is called, so under gevent or eventlet monkey patching it is
a green thread like the rest of the program). That thread waits on every
watcher's descriptor and on a stop eventfd, reads what is ready and calls
the handlers. libvigil's own background thread (vigil_start) is not used:
its callback would run on an OS thread that the green hub knows nothing
about, so a handler touching a green lock, queue or socket would block or
fail, and a stop() from a green thread would have to block the hub while
that thread drains. A Python thread over Watcher.read waits cooperatively
under green runtimes and blocks in C without the GIL otherwise, and keeps
the same drain promise: stop() from any thread (or from inside a handler)
returns at once, and the thread delivers every event it has already read,
plus what is ready, for up to `grace` seconds, before it closes the
watchers and ends.
"""
import logging
import os
import threading
import time

from . import _green, _vigil
from ._watcher import Watcher

log = logging.getLogger("vigil")

_read = _vigil.Watcher.read  # the C read, used with timeout 0 only

_NEEDED = ("FileCreatedEvent", "DirCreatedEvent", "FileDeletedEvent", "DirDeletedEvent",
           "FileModifiedEvent", "DirModifiedEvent", "FileMovedEvent", "DirMovedEvent",
           "FileClosedEvent")


def event_module():
    """watchdog.events when watchdog is importable (and has every class
    used), else vigil.events, which has the same names and attributes."""
    try:
        from watchdog import events as mod
        if all(hasattr(mod, n) for n in _NEEDED):
            return mod
    except ImportError:
        pass
    from . import events as mod
    return mod


class ObservedWatch:
    """What schedule() returns: path and is_recursive, as in watchdog."""

    def __init__(self, path, recursive):
        self._path = os.fspath(path) if hasattr(path, "__fspath__") else path
        self._is_recursive = bool(recursive)

    @property
    def path(self):
        return self._path

    @property
    def is_recursive(self):
        return self._is_recursive

    @property
    def key(self):
        return self._path, self._is_recursive

    def __eq__(self, other):
        return isinstance(other, ObservedWatch) and self.key == other.key

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(self.key)

    def __repr__(self):
        return "<%s: path=%r, is_recursive=%s>" % (type(self).__name__, self._path, self._is_recursive)


class Observer:
    """Observer(timeout=1, *, grace=1.0, exclude=(), ignore_file=None)

    watchdog's Observer API: schedule, unschedule, unschedule_all,
    add_handler_for_watch, remove_handler_for_watch, start, stop, join,
    is_alive, and use as a context manager (start on entry, stop and join
    on exit). `timeout` is accepted for compatibility and unused: the
    thread never polls. `grace` bounds the drain after stop(). `exclude`
    and `ignore_file` are passed to every Watcher.
    """

    def __init__(self, timeout=1, *, grace=1.0, exclude=(), ignore_file=None):
        self.timeout = timeout
        self._grace = grace
        self._exclude = tuple(exclude)
        self._ignore_file = ignore_file
        self._lock = threading.RLock()
        self._handlers = {}  # watch -> [handler]
        self._watchers = {}  # watch -> Watcher
        self._retired = []   # watchers for the thread to close
        self._stopping = False
        self._thread = None
        self._done = False
        self._poke_fd = _vigil._eventfd()
        self._ev = event_module()
        self._classes = {
            ("created", False): self._ev.FileCreatedEvent, ("created", True): self._ev.DirCreatedEvent,
            ("removed", False): self._ev.FileDeletedEvent, ("removed", True): self._ev.DirDeletedEvent,
            ("modified", False): self._ev.FileModifiedEvent, ("modified", True): self._ev.DirModifiedEvent,
            ("attrib", False): self._ev.FileModifiedEvent, ("attrib", True): self._ev.DirModifiedEvent,
            ("closed", False): self._ev.FileClosedEvent,
        }
        self._moved = {False: self._ev.FileMovedEvent, True: self._ev.DirMovedEvent}

    # -- watches ---------------------------------------------------------

    def schedule(self, event_handler, path, recursive=False):
        """Watches path and sends its events to event_handler; returns the
        watch. Like watchdog, recursive defaults to False. Every watch is in
        place when it returns."""
        watch = ObservedWatch(path, recursive)
        with self._lock:
            if self._done:
                raise RuntimeError("the observer has stopped")
            if watch not in self._watchers:
                self._watchers[watch] = Watcher(watch.path, recursive=watch.is_recursive,
                                                exclude=self._exclude, ignore_file=self._ignore_file)
                self._handlers[watch] = []
                self._poke()
            if event_handler not in self._handlers[watch]:
                self._handlers[watch].append(event_handler)
        return watch

    def add_handler_for_watch(self, event_handler, watch):
        with self._lock:
            handlers = self._handlers[watch]
            if event_handler not in handlers:
                handlers.append(event_handler)

    def remove_handler_for_watch(self, event_handler, watch):
        with self._lock:
            self._handlers[watch].remove(event_handler)

    def unschedule(self, watch):
        """Stops watching; no event of that watch is delivered afterwards."""
        with self._lock:
            w = self._watchers.pop(watch)
            del self._handlers[watch]
            self._retire(w)

    def unschedule_all(self):
        with self._lock:
            for w in self._watchers.values():
                self._retire(w)
            self._watchers.clear()
            self._handlers.clear()

    def _retire(self, w):
        # The thread may be waiting on w's descriptor: let it close w.
        if self._thread is not None and not self._done:
            self._retired.append(w)
            self._poke()
        else:
            w.close()

    @property
    def emitters(self):
        """The watchers, one per scheduled watch (watchdog has emitters)."""
        with self._lock:
            return set(self._watchers.values())

    # -- the thread ------------------------------------------------------

    def start(self):
        with self._lock:
            if self._thread is not None or self._done:
                raise RuntimeError("threads can only be started once")
            t = threading.Thread(target=self._run, name="vigil-observer", daemon=True)
            self._thread = t
        t.start()

    def stop(self):
        """Asks the thread to end and returns at once, from any thread,
        from a signal handler or from inside a handler. The thread delivers
        what it has read and what is ready (for up to `grace` seconds),
        then closes every watcher; join() waits for that."""
        self._stopping = True
        self._poke()
        with self._lock:
            if self._thread is None and not self._done:
                self._finish()

    def join(self, timeout=None):
        t = self._thread
        if t is not None:
            t.join(timeout)

    def is_alive(self):
        t = self._thread
        return t is not None and t.is_alive()

    @property
    def name(self):
        return self._thread.name if self._thread is not None else "vigil-observer"

    @property
    def daemon(self):
        return True

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        self.join()

    def _poke(self):
        fd = self._poke_fd
        if fd >= 0:
            try:
                _vigil._eventfd_set(fd)
            except OSError:
                pass

    def _finish(self):
        """Closes every watcher and the stop descriptor (lock held)."""
        self._done = True
        for w in list(self._watchers.values()) + self._retired:
            w.close()
        self._retired = []
        self._watchers.clear()
        self._handlers.clear()
        fd, self._poke_fd = self._poke_fd, -1
        if fd >= 0:
            os.close(fd)

    def _run(self):
        try:
            while not self._stopping:
                with self._lock:
                    retired, self._retired = self._retired, []
                    current = list(self._watchers.items())
                for w in retired:
                    w.close()
                byfd = {w.fileno(): (watch, w) for watch, w in current}
                ready = _green.wait_any([self._poke_fd, *byfd], None)
                for fd in ready:
                    if fd == self._poke_fd:
                        _vigil._eventfd_clear(fd)
                        continue
                    watch, w = byfd[fd]
                    self._deliver(watch, _read(w, 0))
            self._drain()
        finally:
            with self._lock:
                self._finish()

    def _drain(self):
        deadline = time.monotonic() + self._grace
        with self._lock:
            current = list(self._watchers.items())
        for watch, w in current:
            while time.monotonic() < deadline:
                events = _read(w, 0)
                if not events:
                    break
                self._deliver(watch, events)

    def _deliver(self, watch, events):
        classes = self._classes
        for ev in events:
            kind = ev.kind
            if kind == "moved":
                wev = self._moved[ev.is_dir](ev.from_path, ev.path)
            else:
                cls = classes.get((kind, ev.is_dir))
                if cls is None:
                    if kind == "overflow":
                        log.warning("vigil: events were lost for %r; rescanning", watch.path)
                    elif kind == "error":
                        log.warning("vigil: %s", ev.error)
                    continue
                wev = cls(ev.path)
            if ev.synthetic:
                try:
                    wev.is_synthetic = True
                except AttributeError:
                    pass
            with self._lock:
                handlers = list(self._handlers.get(watch, ()))
            for h in handlers:
                # As watchdog does: a handler removed by an earlier one is skipped.
                if h in self._handlers.get(watch, ()):
                    h.dispatch(wev)


Observer.__module__ = "vigil"
ObservedWatch.__module__ = "vigil"
