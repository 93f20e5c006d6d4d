"""Helpers shared by the tests of the Python binding."""
import os
import subprocess
import sys
import textwrap
import time

SCALE = float(os.environ.get("VIGIL_TEST_TIME_SCALE", "1"))
TIMEOUT = 15 * SCALE  # the bound of every wait for an event
# The suite also runs against a build with AddressSanitizer, its runtime
# preloaded into Debian's python3.
UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")


def touch(path, data=b""):
    with open(path, "wb") as f:
        f.write(data)


def read_until(w, pred, timeout=TIMEOUT, what="the awaited event"):
    """Reads from Watcher w until an event satisfies pred; returns every
    event read: that one, those before it and the rest of its batch.
    Fails after timeout seconds."""
    got = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("timed out waiting for %s; got %r" % (what, got))
        batch = w.read(left)
        got += batch
        if any(pred(ev) for ev in batch):
            return got


def created(path):
    return lambda ev: ev.kind == "created" and ev.path == path


def sentinel(w, directory, name="sentinel"):
    """Creates directory/name and reads up to its `created` event."""
    p = os.path.join(directory, name)
    touch(p)
    return read_until(w, created(p), what="created " + p)


def settle(w, directory, rounds=5):
    """Sentinels until a round has no overflow in it. After an overflow
    vigil lists the tree again, and a sentinel made before that listing can
    be found by it before other entries of the listing; a sentinel made
    after that one was reported comes after the whole listing."""
    evs = []
    for i in range(rounds):
        got = sentinel(w, directory, "settle%d" % i)
        evs += got
        if not any(e.kind == "overflow" for e in got):
            return evs
    raise AssertionError("still overflowing after %d sentinels" % rounds)


def fds():
    """The descriptors this process holds (numbers only)."""
    return set(int(n) for n in os.listdir("/proc/self/fd"))


def fd_count():
    return len(os.listdir("/proc/self/fd"))


def threads():
    return len(os.listdir("/proc/self/task"))


def threads_settle(n, timeout=2.0):
    """The number of OS threads, once it is down to n (or timeout passed).
    Thread.join() returns when the thread's Python state is gone, a moment
    before the kernel task itself has exited."""
    deadline = time.monotonic() + timeout
    while threads() > n and time.monotonic() < deadline:
        time.sleep(0.001)
    return threads()


def simple(evs, root):
    """(kind, relative path, relative from, is_dir) tuples, for comparing."""
    def rel(p):
        return None if p is None else os.path.relpath(p, root)
    return [(e.kind, rel(e.path), rel(e.from_path), e.is_dir) for e in evs]


def run_python(code, timeout=60, env=None, args=()):
    """Runs code in a fresh Debian python3 (sys.executable) and returns the
    CompletedProcess; fails with its output unless it exits 0."""
    e = dict(os.environ)
    e.update(env or {})
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout * SCALE, env=e)
    if r.returncode != 0:
        raise AssertionError("child exited %d\n--- stdout\n%s\n--- stderr\n%s" % (
            r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")))
    return r
