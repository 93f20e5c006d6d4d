"""Lifecycle guarantees of `vigil watch` that need the kernel's help.

- The real inotify watch limit, set in a user namespace (`unshare -U -r`,
  then /proc/sys/user/max_inotify_watches; the host's /proc/sys/fs/inotify
  is never touched). tests/system/test_limits.py already checks the message
  at setup, a tree that just fits, the instance limit and directories made
  one by one after `ready`; this file adds how many watches were placed for
  which path, and a whole tree moved in after `ready`, then removed, after
  which the watches it held can be used again.
- A file system that goes away: a tmpfs in a private mount namespace
  (`unshare -m`) is unmounted while vigil watches it, as the root and as a
  directory inside the tree (tests/system/test_mounts.py has mounts made
  after `ready`, bind mounts, and a mount above the root).

Everything this file needs is in it, but for the namespace probes shared
with the other tests (vigiltest.py), which skip a test with the reason on
any failure to set the namespace up. The mount cases run this very file as
a script inside the new mount namespace (see helper_main at the end), since
only processes in that namespace see the tmpfs.
"""

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time

try:
    import pytest
except ImportError:  # run as the helper script inside a namespace
    pytest = None

TIMEOUT = float(os.environ.get("VIGIL_TEST_EVENT_TIMEOUT", "20"))
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import vigiltest  # noqa: E402  (the namespace probes)


# -- a running vigil -----------------------------------------------------------

class Proc:
    """A vigil process whose stdout (JSON lines) and stderr are read with
    deadlines, never blocking for ever."""

    def __init__(self, argv, cwd=None):
        self.argv = [str(a) for a in argv]
        self.p = subprocess.Popen(self.argv, cwd=cwd, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE,
                                  start_new_session=True)
        self.buf = {self.p.stdout.fileno(): b"", self.p.stderr.fileno(): b""}
        self.eof = set()
        self.events = []

    def _pump(self, deadline):
        """Reads what is ready on stdout and stderr; False on timeout."""
        fds = [fd for fd in self.buf if fd not in self.eof]
        if not fds:
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select(fds, [], [], left)
        if not ready:
            return False
        for fd in ready:
            chunk = os.read(fd, 1 << 16)
            if chunk:
                self.buf[fd] += chunk
            else:
                self.eof.add(fd)
        return True

    @property
    def stderr(self):
        return self.buf[self.p.stderr.fileno()].decode(errors="replace")

    def describe(self):
        return "%r (status %r)\n  events: %r\n  stderr: %r" % (
            self.argv, self.p.poll(), self.events[-12:], self.stderr[-600:])

    def wait_ready(self, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        err = self.p.stderr.fileno()
        while b"ready" not in self.buf[err]:
            if err in self.eof:
                raise AssertionError("vigil ended before ready: " +
                                     self.describe())
            if not self._pump(deadline):
                raise AssertionError("no ready line in time: " +
                                     self.describe())

    def event(self, timeout=TIMEOUT):
        """The next event as a dict; None at end of output."""
        deadline = time.monotonic() + timeout
        out = self.p.stdout.fileno()
        while b"\n" not in self.buf[out]:
            if out in self.eof:
                return None
            if not self._pump(deadline):
                raise AssertionError("no event within %.0f s: %s"
                                     % (timeout, self.describe()))
        line, self.buf[out] = self.buf[out].split(b"\n", 1)
        ev = json.loads(line)
        self.events.append(ev)
        return ev

    def events_until(self, pred, what, timeout=TIMEOUT):
        got = []
        deadline = time.monotonic() + timeout
        while True:
            ev = self.event(max(0.0, deadline - time.monotonic()))
            if ev is None:
                raise AssertionError("output ended before %s: %s"
                                     % (what, self.describe()))
            got.append(ev)
            if pred(ev):
                return got

    def finish(self, timeout=TIMEOUT):
        """Waits for the end; returns (status, the remaining events)."""
        deadline = time.monotonic() + timeout
        rest = []
        while True:
            ev = self.event(max(0.0, deadline - time.monotonic()))
            if ev is None:
                break
            rest.append(ev)
        while len(self.eof) < 2:
            if not self._pump(deadline):
                raise AssertionError("stderr did not close: " +
                                     self.describe())
        return self.p.wait(max(0.1, deadline - time.monotonic())), rest

    def stop(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except OSError:
                pass
        self.p.wait()
        self.p.stdout.close()
        self.p.stderr.close()


def created(evs, path):
    return [e for e in evs if e["type"] == "created" and e.get("path") == path]


def is_event(kind, path):
    return lambda e: e["type"] == kind and e.get("path") == path


def touch(path):
    with open(path, "wb"):
        pass


def listing(root):
    """{relative path: is directory} of everything below root."""
    out = {}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            out[os.path.relpath(p, root)] = os.path.isdir(p) and \
                not os.path.islink(p)
    return out


def replay(start, root, events):
    """Applies the events to the listing the watch started from. Fails on
    an event that does not fit (a duplicate, a removal of nothing)."""
    tree = dict(start)

    def rel(p):
        assert p == root or p.startswith(root + "/"), p
        return os.path.relpath(p, root)

    for e in events:
        kind, path = e["type"], e.get("path")
        if kind in ("overflow", "error"):
            continue
        r = rel(path)
        if kind == "created":
            assert r not in tree, ("created twice", e)
            tree[r] = e["dir"]
        elif kind == "removed":
            if r == ".":
                assert not tree, ("root removed before its contents", tree)
                continue
            assert r in tree, ("removed what is not there", e)
            assert not [k for k in tree if k.startswith(r + "/")], \
                ("removed before its contents", e)
            del tree[r]
        elif kind == "moved":
            f = rel(e["from"])
            assert f in tree and r not in tree, ("bad move", e)
            for k in [k for k in tree if k == f or k.startswith(f + "/")]:
                tree[r + k[len(f):]] = tree.pop(k)
        else:
            assert r == "." or r in tree, ("change of nothing", e)
    return tree


# -- the real watch limit --------------------------------------------------------

if pytest:
    @pytest.fixture
    def vigil_exe(request):
        path = request.config.getoption("--vigil", default="build/vigil")
        if not os.path.isabs(path):
            path = os.path.join(REPO, path)
        if not os.access(path, os.X_OK):
            pytest.fail("vigil binary not found: %s" % path)
        return path

    @pytest.fixture
    def procs():
        started = []
        yield started
        for p in started:
            p.stop()


def test_watch_limit_names_the_path_and_the_watches_it_placed(vigil_exe,
                                                               tmp_path):
    """Two roots and a limit of 5: the first (2 directories) fits, the second
    (6) fails after placing 3 watches; the message says so, for that path."""
    why = vigiltest.userns_limit_refused("max_inotify_watches", 5)
    if why:
        pytest.skip(why)
    small = tmp_path / "small"
    (small / "one").mkdir(parents=True)
    big = tmp_path / "big"
    for i in range(5):
        (big / ("d%d" % i)).mkdir(parents=True)
    r = subprocess.run(
        vigiltest.in_userns_with_limit("max_inotify_watches", 5) +
        [vigil_exe, "watch", "--backend", "inotify", str(small), str(big)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, timeout=TIMEOUT)
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 1, (r.returncode, err)
    assert r.stdout == b""
    assert "ready" not in err, err
    lines = [ln for ln in err.splitlines() if "inotify watch limit" in ln]
    assert len(lines) == 1, err
    line = lines[0]
    assert str(big) in line and str(small) + ":" not in line, line
    assert "user.max_inotify_watches" in line, line
    assert "fs.inotify" not in line, line
    assert "No space left on device" not in err, err
    rest = line.replace(str(big), "")
    placed = re.search(r"\b(\d+) watch(es)?\b", rest)
    assert placed and placed.group(1) == "3", \
        "the message should say that 3 watches were placed: " + line


def test_watch_limit_after_ready_for_a_tree_moved_in(vigil_exe, tmp_path,
                                                    procs):
    """After ready, a tree of 6 directories moves in with room for 3 more
    watches: the 3 that do not fit are each an `error` event naming the
    directory, the others are watched, the rest of the tree keeps working,
    and once the tree is removed its watches serve new directories."""
    why = vigiltest.userns_limit_refused("max_inotify_watches", 6)
    if why:
        pytest.skip(why)
    root = tmp_path / "w"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    staging = tmp_path / "staging"
    incoming = staging / "incoming"
    subs = ["s%d" % i for i in range(5)]
    for s in subs:
        (incoming / s).mkdir(parents=True)
    v = Proc(vigiltest.in_userns_with_limit("max_inotify_watches", 6) +
             [vigil_exe, "watch", "--json", str(root)])
    procs.append(v)
    v.wait_ready()
    assert "watching 3 directories" in v.stderr, v.stderr

    moved = root / "incoming"
    os.rename(str(incoming), str(moved))
    touch(str(root / "a" / "still"))
    evs = v.events_until(is_event("created", str(root / "a" / "still")),
                         "created a/still")
    assert created(evs, str(moved)) == [
        {"type": "created", "path": str(moved), "by_move": True, "dir": True}], evs
    for p in [moved / s for s in subs]:
        assert created(evs, str(p)) == [
            {"type": "created", "path": str(p), "dir": True}], evs
    errs = [e for e in evs if e["type"] == "error"]
    assert len(errs) == 3, evs
    failed = set()
    for e in errs:
        assert os.path.dirname(e["path"]) == str(moved), e
        assert "user.max_inotify_watches" in e["error"], e
        assert "No space left on device" not in e["error"], e
        failed.add(os.path.basename(e["path"]))
    assert len(failed) == 3, errs
    # A directory that got its watch reports what happens in it.
    ok = sorted(set(subs) - failed)[0]
    touch(str(moved / ok / "x"))
    v.events_until(is_event("created", str(moved / ok / "x")),
                   "created in a watched directory of the moved tree")

    # Removing the tree gives its watches back: new directories fit again.
    shutil.rmtree(str(moved))
    v.events_until(is_event("removed", str(moved)), "removed incoming")
    for n in ("fresh1", "fresh2"):
        (root / n).mkdir()
    touch(str(root / "fresh2" / "y"))
    evs = v.events_until(is_event("created", str(root / "fresh2" / "y")),
                         "created fresh2/y")
    assert not [e for e in evs if e["type"] == "error"], evs
    assert created(evs, str(root / "fresh1")), evs
    assert v.p.poll() is None, v.describe()


# -- a file system that goes away ------------------------------------------------

def run_in_mount_namespace(mode, vigil_exe, tmp_path):
    """Runs helper_main(mode) in a private mount namespace; returns its
    report (a dict), or skips when the namespace cannot be set up here (any
    failure of the probe; a failure after it is the test's)."""
    why = vigiltest.mount_ns_refused()
    if why:
        pytest.skip(why)
    r = subprocess.run(
        vigiltest.MOUNT_NS + [sys.executable, os.path.abspath(__file__),
                              "--mount-helper", mode, vigil_exe,
                              str(tmp_path)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, timeout=3 * TIMEOUT)
    err = r.stderr.decode(errors="replace")
    if r.returncode != 0 or not r.stdout.strip():
        raise AssertionError("helper failed (%d): %s" % (r.returncode, err))
    report = json.loads(r.stdout.decode().strip().splitlines()[-1])
    if report.get("skip"):
        pytest.skip(report["skip"])
    return report


@pytest.mark.time_limit(120) if pytest else (lambda f: f)
def test_unmounted_root_is_removed_and_vigil_ends(vigil_exe, tmp_path):
    """The watched root is a tmpfs that is unmounted: `removed` for every
    entry, then for the root, and vigil exits with status 3 on its own."""
    rep = run_in_mount_namespace("root", vigil_exe, tmp_path)
    root, evs = rep["root"], rep["events"]
    assert rep["status"] == 3, rep
    assert rep["stderr"].strip().splitlines() == [
        "vigil: ready, watching 3 directories"], rep["stderr"]
    assert all(e["type"] == "removed" for e in evs), evs
    assert evs and evs[-1] == {"type": "removed", "path": root, "dir": True}, evs
    # Every entry is reported once, children before their directory.
    assert replay(rep["before"], root, evs) == {}, evs
    assert len(evs) == len(rep["before"]) + 1, evs


@pytest.mark.time_limit(120) if pytest else (lambda f: f)
def test_unmount_inside_the_tree_shows_what_lies_beneath(vigil_exe, tmp_path):
    """A tmpfs mounted on a directory inside the tree is unmounted: vigil
    reports what disappeared with the tmpfs and what lies beneath it, with
    no rescan (the mount table says where), and keeps watching, there too."""
    rep = run_in_mount_namespace("inner", vigil_exe, tmp_path)
    root, evs = rep["root"], rep["events"]
    assert rep["status"] == 0, rep  # ended by SIGTERM once checked
    assert not [e for e in evs if e["type"] == "overflow"], evs
    assert not [e for e in evs if e["type"] == "error"], evs
    # Replaying the stream from the tree at ready gives the tree at the end.
    assert replay(rep["before"], root, evs) == rep["after"], evs
    gone = [root + "/mnt/t1", root + "/mnt/tdir/t2", root + "/mnt/tdir"]
    for p in gone:
        assert [e for e in evs if e["type"] == "removed" and e["path"] == p], \
            (p, evs)
    assert [e for e in evs if e["type"] == "created"
            and e["path"] == root + "/mnt/under"], evs
    for p in (root + "/mnt/after", root + "/after2"):
        assert created(evs, p), (p, evs)


# -- the helper, run inside the mount namespace ----------------------------------

def helper_main(mode, vigil_exe, top):
    """Mounts a tmpfs, watches it, unmounts it; prints a JSON report."""
    signal.alarm(int(3 * TIMEOUT))
    root = os.path.join(top, "w")
    os.makedirs(root)
    mnt = root if mode == "root" else os.path.join(root, "mnt")
    if mode == "inner":
        os.makedirs(os.path.join(root, "keep"))
        os.makedirs(mnt)
        touch(os.path.join(mnt, "under"))  # hidden while the tmpfs is there
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "vigiltest",
                        mnt], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        print(json.dumps({"skip": "cannot mount a tmpfs: " +
                          r.stderr.decode(errors="replace").strip()}))
        return 0
    try:
        os.makedirs(os.path.join(mnt, "tdir"))
        touch(os.path.join(mnt, "tdir", "t2"))
        touch(os.path.join(mnt, "t1"))
        if mode == "root":
            os.makedirs(os.path.join(mnt, "empty"))
        before = listing(root)
        v = Proc([vigil_exe, "watch", "--json", root])
        try:
            v.wait_ready()
            if subprocess.run(["umount", mnt]).returncode != 0:
                subprocess.run(["umount", "-l", mnt], check=True)
            if mode == "inner":
                # Later changes, in the directory that was a mount point too.
                under = os.path.join(mnt, "under")
                v.events_until(is_event("created", under), "created " + under)
                touch(os.path.join(mnt, "after"))
                touch(os.path.join(root, "after2"))
                for p in (os.path.join(mnt, "after"),
                          os.path.join(root, "after2")):
                    v.events_until(is_event("created", p), "created " + p)
                os.kill(v.p.pid, signal.SIGTERM)
            status, _ = v.finish()
            report = {"root": root, "status": status, "events": v.events,
                      "stderr": v.stderr, "before": before,
                      "after": listing(root)}
        finally:
            v.stop()
    finally:
        subprocess.run(["umount", "-l", mnt], stderr=subprocess.DEVNULL)
    print(json.dumps(report))
    return 0


if __name__ == "__main__" and len(sys.argv) == 5 and \
        sys.argv[1] == "--mount-helper":
    sys.exit(helper_main(sys.argv[2], sys.argv[3], sys.argv[4]))
