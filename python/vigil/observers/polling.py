"""vigil.observers.polling: watchdog's PollingObserver names.

watchdog's PollingObserver lists the tree again and again; programs use it
where inotify sees nothing (network file systems, some container mounts).
An observer that used inotify under this name would silently miss exactly
those changes. So these classes use libvigil's "poll" backend, and where
the library has none (vigil.backends() does not list it), constructing
one raises NotImplementedError saying what to use instead. As in
watchdog, PollingObserver's timeout is the time between passes.
"""
from .. import _vigil
from .api import DEFAULT_OBSERVER_TIMEOUT, BaseObserver
from .inotify import InotifyEmitter

_WHY = ("vigil has no polling backend yet (vigil.backends() is %r), so "
        "vigil.observers.polling.%s cannot watch anything: use vigil.Observer (inotify) where "
        "inotify sees the changes, or keep watchdog.observers.polling.%s where it does not "
        "(network file systems)")


def _require_poll(name):
    if "poll" not in _vigil.backends():
        raise NotImplementedError(_WHY % (_vigil.backends(), name, name))


class PollingEmitter(InotifyEmitter):
    """The inotify emitter's events, from libvigil's poll backend."""

    def __init__(self, *args, **kwargs):
        _require_poll(type(self).__name__)
        super().__init__(*args, **kwargs)
        self._options = dict(self._options, backend="poll")


class PollingObserver(BaseObserver):
    def __init__(self, timeout=DEFAULT_OBSERVER_TIMEOUT, **kwargs):
        _require_poll(type(self).__name__)
        super().__init__(PollingEmitter, timeout, **kwargs)
        self._options["backend"] = "poll"
        self._options["poll_interval"] = timeout


class PollingObserverVFS(PollingObserver):
    """watchdog's PollingObserverVFS takes stat and listdir functions;
    libvigil lists directories itself, so they cannot be honoured."""

    def __init__(self, stat=None, listdir=None, polling_interval=1, **kwargs):
        _require_poll(type(self).__name__)
        raise NotImplementedError("vigil.observers.polling.PollingObserverVFS: libvigil lists "
                                  "directories itself and cannot use the given stat and listdir")


__all__ = ["PollingObserver", "PollingObserverVFS", "PollingEmitter"]
