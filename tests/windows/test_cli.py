"""vigil.exe watch under wine: the ready line, events as NDJSON, --exclude,
and Ctrl-C (wine delivers SIGINT to the console control handler) ending it
with status 0 after what was read is written.

Run by ctest in the Windows build (cmake/windows.cmake), which sets
VIGIL_EXE, WINEPREFIX and WINEDEBUG. Changes are made from Linux: wine
reports them as it does a Windows program's.
"""
import glob
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import queue

import pytest

EXE = os.environ.get("VIGIL_EXE")
# vigil.exe on which every ReadDirectoryChangesW fails with "invalid function" (refusing.c).
REFUSING_EXE = os.environ.get("VIGIL_REFUSING_EXE")
WINE = shutil.which("wine")

pytestmark = pytest.mark.skipif(
    not EXE or not WINE, reason="needs wine and VIGIL_EXE (the Windows build runs this test)"
)

TIMEOUT = 30


def winpath(path):
    """The Windows name of a Linux path: wine's Z: drive is /."""
    return "Z:" + path.replace("/", "\\")


class Watch:
    def __init__(self, root, *args, exe=None):
        self.root = root
        self.proc = subprocess.Popen(
            [WINE, exe or EXE, "watch", *args, winpath(root)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lines = queue.Queue()
        self.errs = queue.Queue()
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.errs), daemon=True).start()

    @staticmethod
    def _pump(stream, q):
        for line in iter(stream.readline, b""):
            q.put(line.decode("utf-8", "surrogateescape").rstrip("\n"))
        q.put(None)

    def wait_ready(self):
        while True:
            line = self.errs.get(timeout=TIMEOUT)
            assert line is not None, "vigil.exe ended before it was ready"
            if line.startswith("vigil: ready"):
                return line

    def until_sentinel(self, name):
        """Makes the file name, then returns the events before its creation."""
        open(os.path.join(self.root, name), "w").close()
        got = []
        while True:
            line = self.lines.get(timeout=TIMEOUT)
            assert line is not None, "vigil.exe ended: %r" % got
            ev = json.loads(line)  # every line is one JSON object
            rel = ev["path"][len(winpath(self.root)) + 1 :]
            if rel == name and ev["type"] == "created":
                return got
            if rel.startswith("sentinel"):
                continue
            got.append((ev["type"], rel, ev["dir"]))

    def interrupt(self):
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=TIMEOUT)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def root():
    d = tempfile.mkdtemp(prefix="vigil-win-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_json_events_and_ctrl_c_ends_with_0(root):
    w = Watch(root, "--json")
    try:
        assert w.wait_ready() == "vigil: ready, watching 1 directory"
        open(os.path.join(root, "a file.txt"), "w").close()
        os.mkdir(os.path.join(root, "d"))
        with open(os.path.join(root, "d", "\u00e9t\u00e9.txt"), "w") as f:
            f.write("x")
        got = w.until_sentinel("sentinel-1")
        assert ("created", "a file.txt", False) in got
        assert ("created", "d", True) in got
        assert ("created", "d/\u00e9t\u00e9.txt", False) in got
        os.rename(os.path.join(root, "a file.txt"), os.path.join(root, "b.txt"))
        got = w.until_sentinel("sentinel-2")
        assert got == [("moved", "b.txt", False)]
        assert w.interrupt() == 0
    finally:
        w.close()


def test_exclude(root):
    w = Watch(root, "--json", "--exclude", "*.o", "--exclude", "build/")
    try:
        w.wait_ready()
        open(os.path.join(root, "x.o"), "w").close()
        os.mkdir(os.path.join(root, "build"))
        open(os.path.join(root, "build", "y"), "w").close()
        open(os.path.join(root, "x.c"), "w").close()
        got = w.until_sentinel("sentinel-1")
        assert [g for g in got if g[0] == "created"] == [("created", "x.c", False)]
        assert all(g[1] == "x.c" for g in got)
        assert w.interrupt() == 0
    finally:
        w.close()


def test_run_is_not_built_on_windows():
    p = subprocess.run([WINE, EXE, "run", "--", "cmd"], capture_output=True, timeout=TIMEOUT)
    assert p.returncode == 1
    assert b"'vigil run' is not built on Windows yet" in p.stderr


def test_file_root_with_format(root):
    """A file root, named with '\\' as Windows users write paths."""
    path = os.path.join(root, "f.txt")
    with open(path, "w") as f:
        f.write("x")
    p = subprocess.Popen(
        [WINE, EXE, "watch", "--format", "%e %p", winpath(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert p.stderr.readline().decode().rstrip("\n") == "vigil: ready, watching 1 directory"
        with open(os.path.join(root, "other"), "w") as f:
            f.write("not this one")
        with open(path, "a") as f:
            f.write("more")
        assert p.stdout.readline().decode() == "modified %s\n" % winpath(path)
        os.unlink(path)
        assert p.stdout.readline().decode() == "removed %s\n" % winpath(path)
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=TIMEOUT) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_trailing_separator_is_not_doubled(root):
    w = Watch(root + "/", "--json")
    try:
        w.wait_ready()
        open(os.path.join(root, "a"), "w").close()
        line = w.lines.get(timeout=TIMEOUT)
        assert json.loads(line)["path"] == winpath(root) + "/a"
        assert w.interrupt() == 0
    finally:
        w.close()


def test_missing_path_names_it(root):
    missing = winpath(os.path.join(root, "missing"))
    p = subprocess.run([WINE, EXE, "watch", missing], capture_output=True, timeout=TIMEOUT)
    assert p.returncode == 1
    assert p.stderr.decode() == "vigil: %s: No such file or directory\n" % missing


def test_unreadable_root_permission_denied():
    """A directory this user may not open: wine gives ERROR_ACCESS_DENIED,
    and vigil.exe names the path, the cause and what to do. The superuser is never
    denied, so as root the test runs wine as nobody, in a prefix of its own."""
    as_root = os.geteuid() == 0
    setpriv = shutil.which("setpriv")
    if as_root and not setpriv:
        pytest.skip("needs setpriv, to run wine as a user who can be denied")
    home = tempfile.mkdtemp(prefix="vigil-win-denied-")
    env = dict(os.environ, HOME=home, WINEPREFIX=os.path.join(home, "prefix"), WINEDEBUG="-all")
    wrapper = []
    exe = EXE
    if as_root:
        os.chown(home, 65534, 65534)
        wrapper = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
        # The build directory may lie where nobody may not go (root's home).
        exe = os.path.join(home, "vigil.exe")
        shutil.copyfile(EXE, exe)
        os.chmod(exe, 0o755)
    else:
        env = os.environ  # this user's own prefix of the build serves
    locked = os.path.join(home, "locked")
    os.mkdir(locked)
    os.chmod(locked, 0)
    try:
        if as_root:  # the prefix first: making it is said on stderr
            boot = [*wrapper, WINE, "wineboot", "--init"]
            subprocess.run(
                boot, env=env, cwd=home, stdin=subprocess.DEVNULL, capture_output=True, check=True, timeout=120
            )
        # In nobody's own directory: wine says so on stderr when it cannot enter the current one.
        p = subprocess.run(
            [*wrapper, WINE, exe, "watch", winpath(locked)],
            env=env,
            cwd=home,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=TIMEOUT,
        )
        assert p.returncode == 1, p
        assert p.stdout == b""
        assert p.stderr.decode() == (
            "vigil: %s: Permission denied: this user may not read it; "
            "give this user read access to it, or watch it as a user who has\n" % winpath(locked)
        )
    finally:
        if as_root and shutil.which("wineserver"):
            # Its wineserver lingers a few seconds after wine ends; end it now.
            subprocess.run(
                [*wrapper, "wineserver", "-k", "-w"], env=env, cwd=home, capture_output=True, timeout=TIMEOUT
            )
            _remove_server_dirs(env["WINEPREFIX"])
        os.chmod(locked, 0o700)
        shutil.rmtree(home, ignore_errors=True)


def _remove_server_dirs(prefix):
    """wine leaves its server's socket directory, named after the prefix's
    device and inode, in a /tmp/wine-XXXXXX of nobody's: remove the ones
    of this prefix, and their directory once it is empty."""
    try:
        st = os.stat(prefix)
    except OSError:
        return
    name = "server-%x-%x" % (st.st_dev, st.st_ino)
    for top in glob.glob("/tmp/wine-*") + glob.glob("/tmp/.wine-%d" % 65534):
        server = os.path.join(top, name)
        if os.path.isdir(server):
            shutil.rmtree(server, ignore_errors=True)
            try:
                os.rmdir(top)
            except OSError:
                pass  # another prefix of nobody's still uses it


def test_backends_named_are_windows_ones(root):
    help_text = subprocess.run([WINE, EXE, "watch", "--help"], capture_output=True, timeout=TIMEOUT)
    assert b"--backend NAME      how to watch: auto (default), windows or poll\n" in help_text.stdout
    p = subprocess.run(
        [WINE, EXE, "watch", "--backend", "inotify", winpath(root)], capture_output=True, timeout=TIMEOUT
    )
    assert p.returncode == 1
    assert p.stderr == b"vigil: --backend: 'inotify' is not built in; use auto, or one of: windows, poll\n"


def test_poll_backend(root):
    """Polling, for what ReadDirectoryChangesW refuses (some network shares)."""
    w = Watch(root, "--json", "--backend", "poll", "--poll-interval", "100ms")
    try:
        w.wait_ready()
        os.mkdir(os.path.join(root, "d"))
        open(os.path.join(root, "d", "f"), "w").close()
        got = w.until_sentinel("sentinel-1")
        assert ("created", "d", True) in got
        assert ("created", "d/f", False) in got
        assert w.interrupt() == 0
    finally:
        w.close()


refusing = pytest.mark.skipif(not REFUSING_EXE, reason="needs VIGIL_REFUSING_EXE (the Windows build sets it)")


@refusing
def test_refused_root_is_polled_under_auto(root):
    """A file system that refuses ReadDirectoryChangesW: auto polls it, and says so once."""
    w = Watch(root, "--json", "--poll-interval", "100ms", exe=REFUSING_EXE)
    try:
        said = w.errs.get(timeout=TIMEOUT)
        assert said == (
            "vigil: %s: its file system refuses ReadDirectoryChangesW, as some network shares do: "
            "polling it instead, which sees every change but later and at the cost of listing it"
            % winpath(root)
        )
        assert w.errs.get(timeout=TIMEOUT) == "vigil: ready, watching 1 directory by polling"
        os.mkdir(os.path.join(root, "d"))
        open(os.path.join(root, "d", "f"), "w").close()
        got = w.until_sentinel("sentinel-1")
        assert ("created", "d", True) in got
        assert ("created", "d/f", False) in got
        assert w.interrupt() == 0
        rest = list(iter(lambda: w.errs.get(timeout=TIMEOUT), None))
        assert rest == []
    finally:
        w.close()


@refusing
def test_refused_root_with_backend_windows_is_an_error(root):
    p = subprocess.run(
        [WINE, REFUSING_EXE, "watch", "--backend", "windows", winpath(root)],
        capture_output=True,
        timeout=TIMEOUT,
    )
    assert p.returncode == 1
    assert p.stderr.decode() == (
        "vigil: %s: its file system refuses ReadDirectoryChangesW, as some network shares do: "
        "--backend windows cannot watch it; use --backend poll, or auto, which polls it\n" % winpath(root)
    )


@pytest.fixture
def tmpfs_root(root):
    """A directory on a tmpfs of its own, mounted for the test and
    unmounted after it (root only: the Windows tests otherwise skip it).
    The directory is one inside the mount, as on a system whose /tmp is a
    tmpfs."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    d = os.path.join(root, "tmpfs")
    os.mkdir(d)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", d],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs: %s" % r.stderr.decode().strip())
    try:
        inside = os.path.join(d, "w")
        os.mkdir(inside)
        yield inside
    finally:
        subprocess.run(["umount", d], check=True)


@pytest.mark.parametrize("backend", ["auto", "windows", "poll"])
def test_a_tmpfs_root_is_watched(tmpfs_root, backend):
    """wine keeps no volume information for a tmpfs (/tmp on many
    systems): its FileFsVolumeInformation is "not implemented". That is no
    reason to refuse the root, with any backend, nor to blame
    ReadDirectoryChangesW for it."""
    w = Watch(tmpfs_root, "--json", "--backend", backend)
    try:
        ready = w.wait_ready()
        assert ready.startswith("vigil: ready, watching 1 directory"), ready
        open(os.path.join(tmpfs_root, "a"), "w").close()
        os.mkdir(os.path.join(tmpfs_root, "d"))
        got = w.until_sentinel("sentinel-1")
        assert ("created", "a", False) in got, got
        assert ("created", "d", True) in got, got
        assert w.interrupt() == 0
    finally:
        w.close()
