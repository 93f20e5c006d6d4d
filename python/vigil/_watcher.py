from . import _green, _vigil


class Watcher(_vigil.Watcher):
    """Watcher(paths, *, exclude=(), events=None, recursive=True, ignore_file=None, backend=None,
    poll_interval=None)

    Watches directories (recursively, unless recursive=False) and files.
    When the constructor returns, every watch is in place. paths is one
    path or a list of them: str, bytes or os.PathLike. Events carry paths of
    the same type (str decoded with os.fsdecode's surrogateescape, so
    os.fsencode(event.path) gives back the exact bytes).

    exclude: gitignore-style patterns (an excluded directory is never
    watched). events: kind names to deliver ("created", "removed",
    "modified", "attrib", "moved", "closed", "overflow", "error", "opened",
    "closed_nowrite"), None for all but the last two, which are delivered
    (and asked of the kernel) only when named. ignore_file: a per-directory ignore file such as ".gitignore".
    backend: None or "auto" for the best one built in, or a name from vigil.backends().
    poll_interval: seconds between passes of the "poll" backend (None: 1).

    Use it as a context manager, or call close() (idempotent).
    """

    __slots__ = ()

    def read(self, timeout=None, max_events=_vigil.DEFAULT_MAX_EVENTS):
        """Returns a list of the events that are ready (up to max_events).

        Blocks until at least one is, or timeout seconds pass (None: no
        limit), or wake() or close() is called, in which case the list can
        be empty. The GIL is released while it blocks, signal handlers run
        at once (Ctrl-C raises KeyboardInterrupt), and under gevent or
        eventlet monkey patching the wait lets other green threads run.
        """
        return _vigil.Watcher.read(self, timeout, max_events, _wait=_green.waiter())

    def __iter__(self):
        """Yields events for ever, until the watcher is closed."""
        while not self.closed:
            try:
                events = self.read()
            except ValueError:
                if self.closed:  # closed by another thread meanwhile
                    return
                raise
            yield from events


Watcher.__module__ = "vigil"
