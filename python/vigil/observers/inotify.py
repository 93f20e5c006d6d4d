"""vigil.observers.inotify: watchdog's inotify observer, on vigil.

InotifyEmitter delivers the events that watchdog's InotifyEmitter delivers
for the same operations, in the same order, as instances of watchdog's
own event classes (of the watchdog that is installed, so with the events
of its version: FileOpenedEvent from 2.3, FileClosedNoWriteEvent from 5.0,
an empty side of a half move as None before 4.0 and "" from 4.0):

    vigil            watchdog, in this order
    created          FileCreatedEvent / DirCreatedEvent, DirModifiedEvent(parent)
    removed          FileDeletedEvent / DirDeletedEvent, DirModifiedEvent(parent)
    moved            FileMovedEvent / DirMovedEvent, DirModifiedEvent(old parent),
                     DirModifiedEvent(new parent), and for a directory in a
                     recursive watch a synthetic moved event for everything in it
    modified, attrib FileModifiedEvent / DirModifiedEvent
    closed           FileClosedEvent, DirModifiedEvent(parent)
    opened           FileOpenedEvent
    closed_nowrite   FileClosedNoWriteEvent
    the root removed DirDeletedEvent / FileDeletedEvent(root); the emitter stops

In full-events mode (InotifyFullEmitter, generate_full_events=True) an
entry renamed into the watch is a moved event with an empty source, and
one renamed out a moved event with an empty destination.

What vigil knows besides is delivered as well, marked is_synthetic: the
entries in a new directory (listed when it appears), the rescan after a
kernel queue overflow (which watchdog does not notice), and the entries of
a directory renamed out of the watch (removed, children first).
"""
import logging
import os

from .. import _green, _vigil
from .._watcher import Watcher
from . import api
from .api import DEFAULT_EMITTER_TIMEOUT, DEFAULT_OBSERVER_TIMEOUT, BaseObserver, EventEmitter

log = logging.getLogger("vigil")

_read = _vigil.Watcher.read

_DEFAULT_KINDS = ("created", "removed", "modified", "attrib", "moved", "closed", "overflow", "error")


class _Classes:
    """The event classes of one event module, and how to build them."""

    def __init__(self, ev):
        self.created = (ev.FileCreatedEvent, ev.DirCreatedEvent)
        self.deleted = (ev.FileDeletedEvent, ev.DirDeletedEvent)
        self.modified = (ev.FileModifiedEvent, ev.DirModifiedEvent)
        self.moved = (ev.FileMovedEvent, ev.DirMovedEvent)
        self.dir_modified = ev.DirModifiedEvent
        self.closed = ev.FileClosedEvent
        self.opened = getattr(ev, "FileOpenedEvent", None)
        self.closed_nowrite = getattr(ev, "FileClosedNoWriteEvent", None)
        self.empty = "" if api.watchdog_version() >= (4, 0) else None
        try:
            ev.FileCreatedEvent("", is_synthetic=True)
            self.synthetic_kw = True
        except TypeError:
            self.synthetic_kw = False

    def synthetic(self, cls, *args):
        if self.synthetic_kw:
            return cls(*args, is_synthetic=True)
        e = cls(*args)
        e.is_synthetic = True
        return e

    def kinds(self, event_filter):
        """The vigil kinds that produce the classes in event_filter (None:
        every class this watchdog has). Opens and closes without writing
        are costly: they are asked of the kernel only when needed."""
        if event_filter is None:
            kinds = set(_DEFAULT_KINDS)
            if self.opened is not None:
                kinds.add("opened")
            if self.closed_nowrite is not None:
                kinds.add("closed_nowrite")
            return sorted(kinds)
        kinds = {"overflow", "error", "removed"}  # removed: the root's end is always heard
        for cls in event_filter:
            if cls in self.moved:
                kinds.update(("moved", "created"))
            elif cls in self.created:
                kinds.update(("created", "moved"))
            elif cls is self.dir_modified:
                kinds.update(("created", "moved", "modified", "attrib", "closed"))
            elif cls in self.modified:
                kinds.update(("modified", "attrib"))
            elif cls is self.closed:
                kinds.add("closed")
            elif self.opened is not None and cls is self.opened:
                kinds.add("opened")
            elif self.closed_nowrite is not None and cls is self.closed_nowrite:
                kinds.add("closed_nowrite")
        return sorted(kinds)


_classes = {}


def _classes_for(ev):
    c = _classes.get(ev.__name__)
    if c is None:
        c = _classes[ev.__name__] = _Classes(ev)
    return c


class InotifyEmitter(EventEmitter):
    """InotifyEmitter(event_queue, watch, timeout=1.0, event_filter=None)

    watchdog's inotify emitter on a vigil.Watcher: the watch is placed by
    start() (a path that does not exist fails there, as in watchdog)."""

    _full = False

    def __init__(self, event_queue, watch, timeout=DEFAULT_EMITTER_TIMEOUT, event_filter=None):
        super().__init__(event_queue, watch, timeout=timeout, event_filter=event_filter)
        self._c = _classes_for(api.event_module())
        self._watcher = None
        self._stop_fd = -1
        self._options = {"exclude": (), "ignore_file": None}

    def _driven(self):
        return True

    def on_thread_start(self):
        watch = self._watch
        self._watcher = Watcher(watch.path, recursive=watch.is_recursive,
                                events=self._c.kinds(self._event_filter), **self._options)

    def on_thread_stop(self):
        w = self._watcher
        if w is None:
            return
        if self._thread is not None:
            # The emitter's own thread may wait on w: it closes w on its way out.
            fd = self._stop_fd
            if fd >= 0:
                try:
                    _vigil._eventfd_set(fd)
                except OSError:
                    pass
            return
        self._watcher = None
        host = self._host
        if host is not None:
            host._retire(w)
        else:
            w.close()

    def start(self):
        if not self._started and self._host is None:
            self._stop_fd = _vigil._eventfd()
        try:
            super().start()
        except BaseException:
            self._close_stop_fd()
            raise

    def _close_stop_fd(self):
        fd, self._stop_fd = self._stop_fd, -1
        if fd >= 0:
            os.close(fd)

    # -- its own thread, outside a vigil observer ------------------------

    def run(self):
        try:
            while self.should_keep_running():
                self.queue_events(self._timeout)
        finally:
            w, self._watcher = self._watcher, None
            if w is not None:
                w.close()
            self._close_stop_fd()

    def queue_events(self, timeout):
        """Waits for what vigil reports (or stop()) and queues it."""
        w = self._watcher
        if w is None:
            return
        # Not past vigil's own deadline (Watcher.timeout), which no
        # descriptor may carry: the read below then has work to do.
        due = w.timeout()
        ready = _green.wait_any([w.fileno(), self._stop_fd], due)
        if self._stop_fd in ready:
            _vigil._eventfd_clear(self._stop_fd)
        if (w.fileno() not in ready and (ready or due is None)) or not self.should_keep_running():
            return
        out = []
        self._convert(_read(w, 0), out)
        for ev in out:
            self.queue_event(ev)

    # -- vigil's events as watchdog's ------------------------------------

    def _convert(self, events, out):
        """Appends to out the watchdog events for a batch of vigil events.
        This runs for every event in a storm: names are looked up once."""
        c = self._c
        dirname = os.path.dirname
        append = out.append
        DirModified = c.dir_modified
        created, modified, moved, deleted = c.created, c.modified, c.moved, c.deleted
        # vigil's paths are normalised (no "//", no trailing "/"), so the
        # parent is what comes before the last slash: os.path.dirname's
        # answer, at a fraction of its cost.
        sep = b"/" if isinstance(self._watch.path, bytes) else "/"
        closed = c.closed
        full = self._full
        root = self._watch.path
        moved_out = None
        for e in events:
            kind = e.kind
            path = e.path
            if kind == "created":
                if e.synthetic:
                    append(c.synthetic(created[e.is_dir], path))
                    continue
                if full and e.by_move:
                    append(moved[e.is_dir](c.empty, path))
                else:
                    append(created[e.is_dir](path))
                i = path.rfind(sep)
                append(DirModified(path[:i] if i > 0 else path[:i + 1]))
            elif kind == "modified" or kind == "attrib":
                if e.synthetic:
                    append(c.synthetic(modified[e.is_dir], path))
                else:
                    append(modified[e.is_dir](path))
            elif kind == "closed":
                append(closed(path))
                i = path.rfind(sep)
                append(DirModified(path[:i] if i > 0 else path[:i + 1]))
            elif kind == "opened":
                if c.opened is not None:
                    append(c.opened(path))
            elif kind == "closed_nowrite":
                if c.closed_nowrite is not None:
                    append(c.closed_nowrite(path))
            elif kind == "moved":
                src = e.from_path
                append(moved[e.is_dir](src, path))
                append(DirModified(dirname(src)))
                append(DirModified(dirname(path)))
                if e.is_dir and self._watch.is_recursive:
                    self._sub_moved(src, path, append)
            elif kind == "removed":
                if path == root:
                    # The root itself: as watchdog, its end ends the emitter.
                    append(deleted[e.is_dir](path))
                    self.stop()
                    return
                if moved_out is None:
                    # vigil reports what was in a directory renamed out of
                    # the watch before the directory itself, in one batch.
                    moved_out = [x.path for x in events
                                 if x.kind == "removed" and x.by_move and x.is_dir]
                if moved_out and not e.by_move and self._below(path, moved_out):
                    # Inside a directory renamed out: vigil's addition.
                    append(c.synthetic(deleted[e.is_dir], path))
                    continue
                if full and e.by_move:
                    append(moved[e.is_dir](path, c.empty))
                else:
                    append(deleted[e.is_dir](path))
                append(DirModified(dirname(path)))
            elif kind == "overflow":
                log.warning("vigil: the kernel lost events for %r; rescanning", root)
            elif kind == "error":
                log.warning("vigil: %s", e.error)

    @staticmethod
    def _below(path, tops):
        for top in tops:
            sep = b"/" if isinstance(top, bytes) else "/"
            if path.startswith(top + sep):
                return True
        return False

    def _sub_moved(self, src, dst, append):
        """What the directory renamed from src to dst holds, each as a
        synthetic moved event, as it is on disk now."""
        c = self._c
        join = os.path.join
        n = len(dst)
        for top, dirs, files in os.walk(dst):
            for name in dirs:
                full = join(top, name)
                append(c.synthetic(c.moved[True], src + full[n:], full))
            for name in files:
                full = join(top, name)
                append(c.synthetic(c.moved[False], src + full[n:], full))


class InotifyFullEmitter(InotifyEmitter):
    """InotifyEmitter whose half moves are moved events with an empty side."""

    _full = True


class InotifyObserver(BaseObserver):
    """InotifyObserver(timeout=1.0, generate_full_events=False, *, grace=1.0,
    exclude=(), ignore_file=None): watchdog's Observer on vigil."""

    def __init__(self, timeout=DEFAULT_OBSERVER_TIMEOUT, generate_full_events=False, *, grace=1.0,
                 exclude=(), ignore_file=None):
        cls = InotifyFullEmitter if generate_full_events else InotifyEmitter
        super().__init__(cls, timeout, grace=grace, exclude=exclude, ignore_file=ignore_file)
