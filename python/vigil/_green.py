"""Cooperative waiting under gevent and eventlet.

A blocking read() releases the GIL, but under gevent or eventlet every
green thread runs on one OS thread: blocking that thread in poll() would
stop them all, including the one that wants to stop the watcher. When the
program has monkey-patched `select` (gevent.monkey.patch_all() and
eventlet.monkey_patch() both do), vigil waits through the green select of
that library instead, so the hub runs other green threads meanwhile.
"""
import sys

from . import _vigil

_waiter = None
_select = None


def _find():
    global _waiter, _select
    m = sys.modules.get("gevent.monkey")
    if m is not None and m.is_module_patched("select"):
        from gevent.select import select
    else:
        m = sys.modules.get("eventlet.patcher")
        if m is None or not m.is_monkey_patched("select"):
            return False
        from eventlet.green.select import select

    def wait(fd, timeout):
        select([fd], [], [], timeout)

    _select, _waiter = select, wait
    return True


def waiter():
    """wait(fd, timeout) for Watcher.read under a monkey-patched program,
    or None to block in C. Monkey patching cannot be undone, so a positive
    answer is kept; a negative one is asked again each time."""
    if _waiter is None and not _find():
        return None
    return _waiter


def wait_any(fds, timeout=None):
    """The members of fds that are readable, waiting up to timeout."""
    if _waiter is None and not _find():
        return _vigil._poll(fds, timeout)
    return _select(fds, [], [], timeout)[0]
