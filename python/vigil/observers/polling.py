"""vigil.observers.polling: there is no polling backend in vigil yet.

watchdog's PollingObserver lists the tree again and again; it is what
programs use where inotify sees nothing (network file systems, some
container mounts). vigil cannot do that yet, and an observer that used
inotify under this name would silently miss exactly those changes. So the
names exist (the import keeps working) but constructing one raises
NotImplementedError saying what to use instead.
"""

_WHY = ("vigil has no polling backend yet, so vigil.observers.polling.%s cannot watch "
        "anything: use vigil.Observer (inotify) where inotify sees the changes, or keep "
        "watchdog.observers.polling.%s where it does not (network file systems)")


class _NoPolling:
    def __init__(self, *args, **kwargs):
        name = type(self).__name__
        raise NotImplementedError(_WHY % (name, name))


class PollingObserver(_NoPolling):
    pass


class PollingObserverVFS(_NoPolling):
    pass


class PollingEmitter(_NoPolling):
    pass


__all__ = ["PollingObserver", "PollingObserverVFS", "PollingEmitter"]
