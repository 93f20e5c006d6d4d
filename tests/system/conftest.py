"""Fixtures for the vigil system tests.

Run with Debian's interpreter:
    /usr/bin/python3 -m pytest -q tests/system --vigil=build/vigil
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import vigiltest  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))

# The per-test time bound (seconds) when a test has no time_limit marker.
DEFAULT_TIME_LIMIT = 60
TIME_SCALE = float(os.environ.get("VIGIL_TEST_TIME_SCALE", "1"))


def pytest_addoption(parser):
    parser.addoption(
        "--vigil", action="store", default=os.path.join("build", "vigil"),
        help="the vigil binary to test (relative paths are taken from the "
             "repository root); default build/vigil")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "time_limit(seconds): fail the test if it runs longer")


class TimeLimitExceeded(Exception):
    pass


@pytest.fixture(autouse=True)
def _time_limit(request):
    """Fails a test that runs longer than its bound (no plugin needed)."""
    m = request.node.get_closest_marker("time_limit")
    limit = (m.args[0] if m else DEFAULT_TIME_LIMIT) * TIME_SCALE

    def on_alarm(signum, frame):
        raise TimeLimitExceeded("test exceeded its time limit of %.0f s" % limit)

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="session")
def vigil_bin(request):
    path = request.config.getoption("--vigil")
    if not os.path.isabs(path):
        path = os.path.join(REPO, path)
    path = os.path.abspath(path)
    if not os.access(path, os.X_OK):
        pytest.fail("vigil binary not found or not executable: %s" % path)
    return path


def _rmtree(path):
    def onerror(func, p, exc):
        try:
            os.chmod(p, 0o700)
        except OSError:
            pass
        try:
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.unlink(p)
        except OSError:
            pass
    if os.path.lexists(path):
        shutil.rmtree(path, onerror=onerror)


@pytest.fixture
def tmp(tmp_path):
    """tmp_path, emptied again when the test ends."""
    yield tmp_path
    _rmtree(str(tmp_path))


@pytest.fixture
def pubdir():
    """A fresh directory under /tmp with mode 0755, so that an unprivileged
    user can reach what is below it. Removed when the test ends."""
    d = tempfile.mkdtemp(prefix="vigil-systest-", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    _rmtree(d)


@pytest.fixture
def vigil(vigil_bin, tmp):
    """Starts vigil processes: vigil("watch", "--json", root, cwd=...).

    wrapper= is a list of argv words put before the binary (setpriv, ...);
    stdout= and stderr= a descriptor to give vigil instead of a pipe that
    is read (see vigiltest.Vigil).
    Every process is killed and reaped when the test ends."""
    procs = []

    def start(*args, cwd=None, wrapper=(), env=None, stdout=None,
              stderr=None):
        v = vigiltest.Vigil([*wrapper, vigil_bin, *args], cwd=cwd, env=env,
                            stdout=stdout, stderr=stderr)
        procs.append(v)
        return v

    yield start
    for v in procs:
        v.close()


@pytest.fixture
def run(vigil_bin, tmp):
    """Runs vigil to completion with a timeout; returns CompletedProcess
    with bytes stdout and stderr."""

    def go(*args, cwd=None, wrapper=(), timeout=None):
        return subprocess.run(
            [*wrapper, vigil_bin, *args], cwd=cwd, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            timeout=timeout or vigiltest.EVENT_TIMEOUT)

    return go


@pytest.fixture
def watched(vigil, tmp):
    """Starts `vigil watch --json [extra] ROOT` on a fresh root directory
    and returns a Session once vigil is ready."""

    def start(*extra, populate=None, root_name="w", cwd=None, given=None):
        root = tmp / root_name
        root.mkdir(exist_ok=True)
        outside = tmp / "outside"
        outside.mkdir(exist_ok=True)
        if populate:
            populate(str(root))
        if given is None:
            given = str(root)
        v = vigil("watch", "--json", *extra, given, cwd=cwd)
        v.wait_ready()
        return Session(v, str(root), given, str(outside),
                       polled=vigiltest.polled(extra))

    return start


class Session:
    """A ready vigil on one root with a Replay started from the disk."""

    def __init__(self, v, root, given, outside, polled=False):
        self.v = v
        self.polled = polled
        self.root = root
        self.given = given
        self.outside = outside
        self.replay = vigiltest.Replay(given, vigiltest.scan(root))
        self.seen = []

    def p(self, rel):
        return os.path.join(self.root, rel)

    def sync(self, kind="created", timeout=None):
        """Waits for a sentinel's event. A polled root reports a pass's
        events in the order of its listings, so the sentinel can come
        before others of its pass: a second sentinel, made once the first
        was reported, is found by a later pass, after all of them."""
        evs = self.v.sync(self.root, self.given, kind=kind, timeout=timeout)
        if self.polled:
            evs += self.v.sync(self.root, self.given, kind=kind,
                               timeout=timeout)
        self.seen.extend(evs)
        self.replay.apply_all(evs)
        return evs

    def sync_settled(self, timeout=None, rounds=5):
        """Syncs until a round of events has no overflow in it.

        After an overflow vigil lists the tree again, and a sentinel made
        before that listing is found by the listing itself, possibly before
        other entries of it. A second sentinel, made after the first was
        reported, comes after the whole listing."""
        evs = []
        for _ in range(rounds):
            got = self.sync(timeout=timeout)
            evs.extend(got)
            if not any(e["type"] == "overflow" for e in got):
                return evs
        raise AssertionError("still overflowing after %d sentinels" % rounds)

    def check(self, exclude=None):
        self.replay.check(vigiltest.scan(self.root, exclude))


class _Mounts:
    """FUSE mounts made by a test, unmounted when it ends (see bindfs and
    sshfs below). A mount that cannot be made skips the test with why."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.points = []
        self.server = None

    def _made(self, why, point):
        if why:
            pytest.skip(why)
        self.points.append(point)
        return point

    def bindfs(self, source, point):
        """Mounts source on point with bindfs, its caches off."""
        why = vigiltest.fuse_refused("bindfs")
        if why:
            pytest.skip(why)
        return self._made(vigiltest.mount_bindfs(str(source), str(point)),
                          str(point))

    def sshfs(self, remote, point):
        """Mounts the directory remote on point with sshfs, through an sshd
        that the test starts on 127.0.0.1 (once, for all its mounts)."""
        why = vigiltest.fuse_refused("sshfs")
        if why:
            pytest.skip(why)
        if self.server is None:
            self.server = vigiltest.SshServer(str(self.tmp / ".sshd"))
            why = self.server.start()
            if why:
                self.server = None
                pytest.skip(why)
        return self._made(self.server.mount(str(remote), str(point)),
                          str(point))

    def unmount(self, point):
        """Unmounts one of the test's mounts now."""
        vigiltest.unmount(str(point))
        self.points.remove(str(point))

    def close(self):
        # The deepest first: a mount inside another goes before it.
        for point in sorted(self.points, key=len, reverse=True):
            vigiltest.unmount(point)
        self.points = []
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
def fuse(tmp):
    """Makes FUSE mounts, fuse.bindfs(source, point) and
    fuse.sshfs(remote, point), with the kernel's caches off, and undoes
    them (and stops the sshd) when the test ends, before tmp is emptied.
    A test that cannot have them (no /dev/fuse, a program missing, a
    mount refused) skips with the reason."""
    m = _Mounts(tmp)
    yield m
    m.close()
