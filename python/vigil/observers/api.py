"""vigil.observers.api: watchdog.observers.api's names, on vigil.

    from vigil.observers.api import BaseObserver, EventEmitter, ObservedWatch

The classes keep watchdog's interface (every version from 2.x to 6.x) and
its moments: a path that does not exist fails in start() (or in schedule()
once the observer runs), join() before start() raises RuntimeError, an
unknown watch or handler raises KeyError, every thread is a daemon.

What differs is underneath. watchdog runs one thread per emitter and a
dispatcher thread between them and the handlers. vigil's observer runs one
thread (threading.Thread, looked up when start() is called, so under
gevent or eventlet monkey patching it is a green thread like the rest of
the program): it waits on every emitter's descriptor, on event_queue and
on a stop eventfd, turns what vigil reports into watchdog's events, and
calls the handlers. Its emitters are driven by that thread and have no
thread of their own; an emitter started on its own (outside an observer),
or an emitter class that is not vigil's, gets a thread as in watchdog.

stop() returns at once from any thread, from a signal handler or from
inside a handler (it sets a flag and writes an eventfd); the thread then
delivers what it has read and what is ready, for up to `grace` seconds,
closes every watcher and ends; join() waits for that.
"""
import logging
import os
import queue
import threading
import time

from .. import _green, _vigil

log = logging.getLogger("vigil")

DEFAULT_EMITTER_TIMEOUT = 1.0
DEFAULT_OBSERVER_TIMEOUT = 1.0

_read = _vigil.Watcher.read  # the C read, used with timeout 0 only


def event_module():
    """watchdog.events when watchdog is importable, else vigil.events,
    which has the same names and attributes."""
    try:
        from watchdog import events as mod
        if hasattr(mod, "FileClosedEvent"):
            return mod
    except ImportError:
        pass
    from .. import events as mod
    return mod


def watchdog_version():
    """(major, minor) of the watchdog whose events are delivered; (99, 0)
    without watchdog (the newest behaviour)."""
    try:
        from watchdog import version
        return (int(version.VERSION_MAJOR), int(version.VERSION_MINOR))
    except (ImportError, AttributeError, ValueError):
        return (99, 0)


class EventQueue(queue.Queue):
    """A queue.Queue of (event, watch) that, as watchdog's, does not take an
    item equal to the last one put while that one still waits."""

    def _init(self, maxsize):
        super()._init(maxsize)
        self._waiting_last = None

    def put(self, item, block=True, timeout=None):
        last = self._waiting_last
        if last is not None and item == last:
            return
        super().put(item, block, timeout)

    def _put(self, item):
        super()._put(item)
        self._waiting_last = item

    def _get(self):
        item = super()._get()
        if item is self._waiting_last:
            self._waiting_last = None
        return item


class ObservedWatch:
    """What schedule() returns: path, is_recursive, event_filter."""

    def __init__(self, path, recursive=False, event_filter=None):
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        self._path = path
        self._is_recursive = bool(recursive)
        self._event_filter = frozenset(event_filter) if event_filter is not None else None

    @property
    def path(self):
        return self._path

    @property
    def is_recursive(self):
        return self._is_recursive

    @property
    def event_filter(self):
        return self._event_filter

    @property
    def key(self):
        return self._path, self._is_recursive, self._event_filter

    def __eq__(self, other):
        if not isinstance(other, ObservedWatch):
            return NotImplemented
        return self.key == other.key

    def __ne__(self, other):
        if not isinstance(other, ObservedWatch):
            return NotImplemented
        return self.key != other.key

    def __hash__(self):
        return hash(self.key)

    def __repr__(self):
        # watchdog's own form, which changed in 3.0 (the path quoted).
        path = repr(self._path) if watchdog_version() >= (3, 0) else "%s" % (self._path,)
        flt = ""
        if self._event_filter is not None:
            flt = ", event_filter=" + "|".join(sorted(c.__name__ for c in self._event_filter))
        return "<%s: path=%s, is_recursive=%s%s>" % (type(self).__name__, path, self._is_recursive, flt)


_counter = iter(range(1, 1 << 62))


class _ThreadLike:
    """The threading.Thread surface that watchdog's emitters and observers
    have (start, join, is_alive, name, daemon, ident, repr), over either a
    real thread or the observer's thread that drives this object."""

    def __init__(self):
        # threading's own numbering, so that repr() reads as a thread's does.
        newname = getattr(threading, "_newname", None)
        self._name = newname("Thread-%d") if newname else "Thread-%d" % next(_counter)
        self._stopped_event = threading.Event()
        self._thread = None
        self._started = False

    # threading.Thread's names
    @property
    def name(self):
        return self._name

    @name.setter
    def name(self, value):
        self._name = str(value)

    def getName(self):
        return self._name

    @property
    def daemon(self):
        return True

    @daemon.setter
    def daemon(self, value):
        pass  # always a daemon, as watchdog's threads are

    def isDaemon(self):
        return True

    @property
    def ident(self):
        return self._thread.ident if self._thread is not None else None

    @property
    def native_id(self):
        return getattr(self._thread, "native_id", None) if self._thread is not None else None

    @property
    def stopped_event(self):
        return self._stopped_event

    def should_keep_running(self):
        return not self._stopped_event.is_set()

    def on_thread_start(self):
        """Called by start() on the caller's thread, before anything runs."""

    def on_thread_stop(self):
        """Called by stop()."""

    def __repr__(self):
        if not self._started:
            status = "initial"
        elif self.is_alive():
            status = "started"
        else:
            status = "stopped"
        ident = self.ident
        return "<%s(%s, %s daemon%s)>" % (type(self).__name__, self._name, status,
                                          " %s" % ident if ident is not None and status == "started" else "")


class EventEmitter(_ThreadLike):
    """EventEmitter(event_queue, watch, timeout=1.0, event_filter=None)

    Produces the events of one watch into event_queue as (event, watch).
    This base class produces none (subclasses override queue_events, as
    with watchdog's); vigil's InotifyEmitter watches the path."""

    def __init__(self, event_queue, watch, timeout=DEFAULT_EMITTER_TIMEOUT, event_filter=None):
        super().__init__()
        self._event_queue = event_queue
        self._watch = watch
        self._timeout = timeout
        if event_filter is None:
            event_filter = getattr(watch, "event_filter", None)
        self._event_filter = frozenset(event_filter) if event_filter is not None else None
        self._filter = tuple(self._event_filter) if self._event_filter is not None else None
        self._host = None  # the vigil observer that drives it, if any

    @property
    def timeout(self):
        return self._timeout

    @property
    def watch(self):
        return self._watch

    @property
    def event_filter(self):
        return self._event_filter

    def queue_event(self, event):
        """Puts (event, watch) on the queue, unless event_filter leaves it out."""
        flt = self._filter
        if flt is None or isinstance(event, flt):
            self._event_queue.put((event, self._watch))

    def queue_events(self, timeout):
        """Subclasses produce events here; the base waits until stopped."""
        self._stopped_event.wait(timeout)

    def run(self):
        while self.should_keep_running():
            self.queue_events(self._timeout)

    # Driven by a vigil observer: no thread of its own.
    def _driven(self):
        return False

    def start(self):
        if self._started:
            raise RuntimeError("threads can only be started once")
        self.on_thread_start()
        host = self._host
        if host is not None and self._driven():
            self._started = True
            host._poke()
            return
        t = threading.Thread(target=self.run, name=self._name, daemon=True)
        self._thread = t
        self._started = True
        t.start()

    def stop(self):
        self._stopped_event.set()
        self.on_thread_stop()

    def join(self, timeout=None):
        if not self._started:
            raise RuntimeError("cannot join thread before it is started")
        t = self._thread
        if t is not None:
            if t is not threading.current_thread():
                t.join(timeout)
        elif self._host is not None and not self._host._on_thread():
            # Driven by the observer's thread: it ends when stopped, or
            # when the observer ends (which stops every emitter).
            self._stopped_event.wait(timeout)

    def is_alive(self):
        if not self._started:
            return False
        t = self._thread
        if t is not None:
            return t.is_alive()
        host = self._host
        return not self._stopped_event.is_set() and host is not None and host._running()


class EventDispatcher(_ThreadLike):
    """A thread that takes (event, watch) from event_queue and passes each
    to dispatch_events, as watchdog's EventDispatcher does."""

    stop_event = object()

    def __init__(self, timeout=DEFAULT_OBSERVER_TIMEOUT):
        super().__init__()
        self._event_queue = EventQueue()
        self._timeout = timeout

    @property
    def timeout(self):
        return self._timeout

    @property
    def event_queue(self):
        return self._event_queue

    def dispatch_events(self, event_queue, timeout=None):
        """Subclasses handle one entry of event_queue here."""
        entry = event_queue.get(block=True, timeout=timeout)
        if entry is not EventDispatcher.stop_event:
            event_queue.task_done()

    def run(self):
        while self.should_keep_running():
            try:
                self.dispatch_events(self._event_queue, self._timeout)
            except queue.Empty:
                continue

    def start(self):
        if self._started:
            raise RuntimeError("threads can only be started once")
        self.on_thread_start()
        self._thread = threading.Thread(target=self.run, name=self._name, daemon=True)
        self._started = True
        self._thread.start()

    def stop(self):
        self._stopped_event.set()
        self.on_thread_stop()
        try:
            self._event_queue.put_nowait(EventDispatcher.stop_event)
        except queue.Full:
            pass

    def join(self, timeout=None):
        if not self._started:
            raise RuntimeError("cannot join thread before it is started")
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def is_alive(self):
        return self._thread is not None and self._thread.is_alive()


def _driven(emitter):
    """Whether the observer's thread reads this emitter now."""
    return (isinstance(emitter, EventEmitter) and emitter._started and emitter._driven()
            and not emitter._stopped_event.is_set() and getattr(emitter, "_watcher", None) is not None)


class _ObserverQueue(EventQueue):
    """event_queue of a vigil observer: a put wakes the observer's thread."""

    def __init__(self, wake):
        super().__init__()
        self._wake = wake

    def _put(self, item):
        super()._put(item)
        self._wake()


class BaseObserver(_ThreadLike):
    """BaseObserver(emitter_class, timeout=1.0, *, grace=1.0, exclude=(),
    ignore_file=None)

    watchdog's observer API: schedule, unschedule, unschedule_all,
    add_handler_for_watch, remove_handler_for_watch, emitters,
    event_queue, dispatch_events, start, stop, join, is_alive, and use as
    a context manager. `grace` bounds the drain after stop(); `exclude`
    and `ignore_file` are vigil's, passed to every watcher.
    """

    def __init__(self, emitter_class, timeout=DEFAULT_OBSERVER_TIMEOUT, *, grace=1.0, exclude=(),
                 ignore_file=None):
        super().__init__()
        self._emitter_class = emitter_class
        self._timeout = timeout
        self._grace = grace
        self._options = {"exclude": tuple(exclude), "ignore_file": ignore_file}
        self._lock = threading.RLock()
        self._handlers = {}          # watch -> {handler: None}, in the order added
        self._emitter_for_watch = {}  # watch -> emitter
        self._emitters = set()
        self._retired = []           # watchers for the thread to close
        self._stopping = False
        self._done = False
        self._poke_fd = _vigil._eventfd()
        self._blocked_in = None      # the watcher whose read the thread blocks in
        self._custom_dispatch = None  # a subclass's dispatch_events (see start)
        self._event_queue = _ObserverQueue(self._poke)

    # -- properties ------------------------------------------------------

    @property
    def timeout(self):
        return self._timeout

    @property
    def event_queue(self):
        return self._event_queue

    @property
    def emitters(self):
        """The emitters, one per scheduled watch."""
        with self._lock:
            return set(self._emitters)

    # -- watches ---------------------------------------------------------

    def schedule(self, event_handler, path, recursive=False, event_filter=None, **kwargs):
        """Watches path and sends its events to event_handler; returns the
        watch. As in watchdog, recursive defaults to False, and a missing
        path fails here only once the observer has started (else in
        start()). Every watch is in place when it returns."""
        watch = ObservedWatch(path, recursive, event_filter)
        with self._lock:
            self._handlers.setdefault(watch, {})[event_handler] = None
            if watch not in self._emitter_for_watch:
                if event_filter is not None:
                    emitter = self._emitter_class(self._event_queue, watch, timeout=self._timeout,
                                                  event_filter=event_filter)
                else:
                    emitter = self._emitter_class(self._event_queue, watch, timeout=self._timeout)
                emitter._host = self
                emitter._options = self._options
                if self.is_alive():
                    emitter.start()
                self._emitter_for_watch[watch] = emitter
                self._emitters.add(emitter)
        return watch

    def add_handler_for_watch(self, event_handler, watch):
        with self._lock:
            self._handlers.setdefault(watch, {})[event_handler] = None

    def remove_handler_for_watch(self, event_handler, watch):
        """KeyError if the handler is not one of the watch's."""
        with self._lock:
            del self._handlers[watch][event_handler]

    def unschedule(self, watch):
        """Stops watching; no event of that watch is delivered afterwards.
        KeyError for a watch that is not scheduled."""
        with self._lock:
            emitter = self._emitter_for_watch[watch]
            handlers = self._handlers.pop(watch, None)
            if handlers:
                handlers.clear()  # a batch being delivered stops here
            self._remove_emitter(emitter)

    def unschedule_all(self):
        with self._lock:
            for handlers in self._handlers.values():
                handlers.clear()
            self._handlers.clear()
            for emitter in list(self._emitters):
                self._remove_emitter(emitter)

    def _remove_emitter(self, emitter):
        self._emitter_for_watch.pop(emitter.watch, None)
        self._emitters.discard(emitter)
        emitter.stop()
        t = getattr(emitter, "_thread", None)
        if t is not None and t is not threading.current_thread():
            emitter.join()
        elif t is None and not isinstance(emitter, EventEmitter) and emitter.is_alive():
            emitter.join()

    def _retire(self, watcher):
        """Closes watcher now, or has the thread close it if it may be
        waiting on its descriptor."""
        if self._running() and threading.current_thread() is not self._thread:
            with self._lock:
                self._retired.append(watcher)
            self._poke()
        else:
            watcher.close()

    # -- the thread ------------------------------------------------------

    def start(self):
        """Starts every emitter (a missing path raises here, and that
        emitter is dropped), then the thread."""
        with self._lock:
            if self._started or self._done:
                raise RuntimeError("threads can only be started once")
            for emitter in list(self._emitters):
                try:
                    emitter.start()
                except BaseException:
                    self._remove_emitter(emitter)
                    raise
            self.on_thread_start()
            self._custom_dispatch = self._find_custom_dispatch()
            t = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread = t
            self._started = True
        t.start()

    def stop(self):
        """Asks the thread to end and returns at once, from any thread,
        from a signal handler or from inside a handler. The thread delivers
        what it has read and what is ready (for up to `grace` seconds),
        then closes every watcher; join() waits for that."""
        self._stopping = True
        self._stopped_event.set()
        self._poke()
        t = self._thread
        if t is None or (not t.is_alive() and not self._done):
            # Never started, or in a forked child, where the thread does
            # not exist: close the watchers here. A lock that the parent's
            # thread held at the fork is never released in the child.
            if self._lock.acquire(timeout=1.0):
                try:
                    if not self._done:
                        self._finish()
                finally:
                    self._lock.release()
            elif not self._done:
                self._finish()

    def join(self, timeout=None):
        t = self._thread
        if t is None:
            raise RuntimeError("cannot join thread before it is started")
        if t is not threading.current_thread():
            t.join(timeout)

    def is_alive(self):
        t = self._thread
        return t is not None and t.is_alive()

    def _on_thread(self):
        return threading.current_thread() is self._thread

    def _running(self):
        t = self._thread
        return t is not None and not self._done and t.is_alive()

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
        w = self._blocked_in
        if w is not None:
            try:
                w.wake()
            except Exception:  # closed meanwhile, or inherited through fork
                pass

    def _finish(self):
        """Stops every emitter, closes what is left and the stop
        descriptor (lock held)."""
        self._done = True
        self.on_thread_stop()
        self.unschedule_all()
        for w in self._retired:
            w.close()
        self._retired = []
        fd, self._poke_fd = self._poke_fd, -1
        if fd >= 0:
            os.close(fd)

    def dispatch_events(self, event_queue, timeout=None):
        """Dispatches one (event, watch) of event_queue to the watch's
        handlers, waiting up to timeout; queue.Empty if none came."""
        entry = event_queue.get(block=timeout is None or timeout > 0, timeout=timeout)
        if entry is EventDispatcher.stop_event:
            return
        event, watch = entry
        with self._lock:
            self._dispatch(event, watch)
        event_queue.task_done()

    def _dispatch(self, event, watch):
        # As watchdog does: a handler removed by an earlier one is skipped.
        handlers = self._handlers.get(watch)
        if not handlers:
            return
        for h in list(handlers):
            if h in handlers:
                h.dispatch(event)

    def _dispatch_queued(self):
        q = self._event_queue
        custom = self._custom_dispatch
        if custom is None:
            while True:
                try:
                    self.dispatch_events(q, 0)
                except queue.Empty:
                    return
        # A subclass's dispatch_events blocks on the queue as watchdog's
        # does: call it only while something waits there.
        while not q.empty():
            try:
                custom(q)
            except queue.Empty:
                return

    def _find_custom_dispatch(self):
        """A subclass that overrides dispatch_events gets every event
        through event_queue and its dispatch_events, as in watchdog;
        returns how to call it, or None."""
        if type(self).dispatch_events is BaseObserver.dispatch_events:
            return None
        try:
            import inspect
            n = len(inspect.signature(self.dispatch_events).parameters)
        except (TypeError, ValueError):
            n = 2
        if n >= 2:  # watchdog 2.x: dispatch_events(event_queue, timeout)
            return lambda q: self.dispatch_events(q, self._timeout)
        return self.dispatch_events

    def _run(self):
        try:
            while not self._stopping:
                with self._lock:
                    retired, self._retired = self._retired, []
                    driven = [e for e in self._emitters if _driven(e)]
                for w in retired:
                    w.close()
                if len(driven) == 1:
                    self._read_one(driven[0])
                    continue
                # A watcher is closed only here, at the top of the loop (see
                # _retire), so the ones taken now stay open until then.
                byfd = {}
                due = None  # the soonest of vigil's own deadlines (Watcher.timeout)
                for e in driven:
                    w = e._watcher
                    if w is not None:
                        byfd[w.fileno()] = (e, w)
                        t = w.timeout()
                        if t is not None and (due is None or t < due):
                            due = t
                ready = _green.wait_any([self._poke_fd, *byfd], due)
                if not ready and due is not None:
                    ready = list(byfd)  # a deadline passed: each read sees to its own
                for fd in ready:
                    if fd == self._poke_fd:
                        _vigil._eventfd_clear(fd)
                        self._dispatch_queued()
                        continue
                    emitter, w = byfd[fd]
                    if not emitter._stopped_event.is_set():
                        self._deliver(emitter, _read(w, 0))
            self._drain()
        finally:
            with self._lock:
                self._finish()

    def _read_one(self, emitter):
        """With one watch (the usual case) the thread blocks in the
        watcher's own read, which in a storm gathers the kernel's records
        into large batches (see vigil_options.batch_us) where a wait on
        the descriptors would wake for every few; _poke wakes it."""
        w = emitter._watcher
        if w is None:  # stopped by another thread meanwhile
            return
        self._blocked_in = w
        try:
            if _vigil._poll([self._poke_fd], 0):
                _vigil._eventfd_clear(self._poke_fd)
                self._dispatch_queued()
                return
            events = _read(w, None, _wait=_green.waiter())
        finally:
            self._blocked_in = None
        if events and not emitter._stopped_event.is_set():
            self._deliver(emitter, events)

    def _drain(self):
        deadline = time.monotonic() + self._grace
        with self._lock:
            driven = [e for e in self._emitters if _driven(e)]
        for emitter in driven:
            w = emitter._watcher
            while w is not None and time.monotonic() < deadline and not emitter._stopped_event.is_set():
                events = _read(w, 0)
                if not events:
                    break
                self._deliver(emitter, events)
        self._dispatch_queued()

    def _deliver(self, emitter, events):
        out = []
        emitter._convert(events, out)
        if not out:
            return
        flt = emitter._filter
        watch = emitter._watch
        if self._custom_dispatch is not None:
            q = self._event_queue
            for ev in out:
                if flt is None or isinstance(ev, flt):
                    q.put((ev, watch))
            self._dispatch_queued()
            return
        with self._lock:
            handlers = self._handlers.get(watch)
            if not handlers:
                return
            if len(handlers) == 1 and flt is None:
                # The common case, kept cheap: one handler, no filter.
                (h,) = handlers
                for ev in out:
                    if h not in handlers:
                        return
                    h.dispatch(ev)
                return
            for ev in out:
                if flt is None or isinstance(ev, flt):
                    self._dispatch(ev, watch)
