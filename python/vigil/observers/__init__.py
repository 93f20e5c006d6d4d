"""vigil.observers: watchdog.observers' names, on vigil.

    from vigil.observers import Observer   # was: from watchdog.observers import Observer

Observer is vigil's inotify observer (vigil.observers.inotify), the one
watchdog picks on Linux. See vigil.observers.polling for PollingObserver.
"""
from .api import ObservedWatch
from .inotify import InotifyObserver

Observer = InotifyObserver

__all__ = ["Observer", "ObservedWatch"]
