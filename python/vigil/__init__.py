"""vigil: report file-system changes, exactly.

    vigil.Watcher(paths, *, exclude=(), events=None)   blocking, pollable
    vigil.awatch(paths, ...)                           async iterator (asyncio)
    vigil.Observer()                                   watchdog's Observer (also
                                                       vigil.observers.Observer)

See docs/python.md in the vigil repository.
"""
from ._vigil import (ATTRIB, CLOSED, CLOSED_NOWRITE, CREATED, ERROR, LIBVIGIL_VERSION, MODIFIED, MOVED,
                     OPENED, OVERFLOW, REMOVED, Event, ForkedError, backends, strerror)
from ._watcher import Watcher
from ._aio import awatch
from .observers import Observer, ObservedWatch

__version__ = LIBVIGIL_VERSION

__all__ = ["Watcher", "Event", "ForkedError", "awatch", "Observer", "ObservedWatch", "strerror", "backends",
           "CREATED", "REMOVED", "MODIFIED", "ATTRIB", "MOVED", "CLOSED", "OVERFLOW", "ERROR",
           "OPENED", "CLOSED_NOWRITE"]
