"""vigil.awatch: an async iterator for asyncio, built on loop.add_reader."""
import asyncio
import collections

from . import _vigil
from ._watcher import Watcher

_read = _vigil.Watcher.read  # the C read: never the green wait


def _ready(fut):
    if not fut.done():
        fut.set_result(None)


class awatch:
    """awatch(paths, *, exclude=(), events=None, recursive=True, ignore_file=None, backend=None)

    Yields vigil.Event objects as they happen::

        async with vigil.awatch("src") as events:
            async for ev in events:
                print(ev.kind, ev.path)

    Every watch is in place when awatch() returns. The descriptor is
    registered with the running loop (add_reader) only while the iterator
    waits, and removed before the wait returns; the wait also ends when
    Watcher.timeout() runs out. The iteration ends, and the
    watcher with its descriptor is closed exactly once, when an exception
    (including CancelledError) leaves __anext__, when aclose() is called or
    the `async with` block ends, or when the iterator is dropped (after a
    `break`, say).
    """

    def __init__(self, paths, *, exclude=(), events=None, recursive=True, ignore_file=None,
                 backend=None, max_events=_vigil.DEFAULT_MAX_EVENTS):
        self._watcher = Watcher(paths, exclude=exclude, events=events, recursive=recursive,
                                ignore_file=ignore_file, backend=backend)
        self._fd = self._watcher.fileno()
        self._max = max_events
        self._buf = collections.deque()
        self._loop = None  # where the reader is registered, or None
        self._fut = None   # the wait in progress

    @property
    def watcher(self):
        """The underlying Watcher (None once closed)."""
        return self._watcher

    def fileno(self):
        return self._fd

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self._buf:
            return self._buf.popleft()
        if self._fut is not None:
            raise RuntimeError("another task is already waiting on this awatch")
        try:
            while True:
                w = self._watcher
                if w is None or w.closed:
                    raise StopAsyncIteration
                events = _read(w, 0, self._max)
                if events:
                    self._buf.extend(events)
                    return self._buf.popleft()
                loop = asyncio.get_running_loop()
                fut = self._fut = loop.create_future()
                loop.add_reader(self._fd, _ready, fut)
                self._loop = loop
                # A deadline no descriptor carries (a rename held back for
                # its pair, on the POSIX platform layer) ends the wait too.
                due = w.timeout()
                timer = loop.call_later(due, _ready, fut) if due is not None else None
                try:
                    await fut
                finally:
                    self._fut = None
                    if timer is not None:
                        timer.cancel()
                    self._unregister()
        except BaseException:
            self._close()
            raise

    def _unregister(self):
        loop, self._loop = self._loop, None
        if loop is not None and not loop.is_closed():
            loop.remove_reader(self._fd)

    def _close(self):
        """Removes the reader, then closes the watcher; once."""
        self._unregister()
        fut, self._fut = self._fut, None
        if fut is not None and not fut.done():
            fut.set_result(None)  # the waiter wakes up and finds it closed
        w, self._watcher = self._watcher, None
        self._buf.clear()
        if w is not None:
            w.close()

    def close(self):
        self._close()

    async def aclose(self):
        self._close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self._close()

    def __del__(self):
        # Dropped with the reader still registered (a task destroyed while
        # pending): remove it before the descriptor goes.
        try:
            self._close()
        except Exception:
            pass


awatch.__module__ = "vigil"
