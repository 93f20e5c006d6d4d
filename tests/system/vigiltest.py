"""Helpers for the vigil system tests.

Everything here is about driving a real `vigil` process: reading its stdout
and stderr without ever blocking for ever, synchronising on its `ready` line
and on sentinel files, and checking its event stream by replaying it against
the tree on disk.
"""

import fcntl
import json
import os
import pwd
import queue
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time

# How long one wait for output may take before the test fails. Generous on
# purpose: a sanitizer build is several times slower, and a correct vigil
# answers in milliseconds, so this only matters when something is broken.
EVENT_TIMEOUT = float(os.environ.get("VIGIL_TEST_EVENT_TIMEOUT", "20"))

KINDS = ("created", "removed", "modified", "attrib", "moved", "closed",
         "overflow", "error", "opened", "closed_nowrite")


def backend_args(backend):
    """The options of `vigil watch` for a test's backend parameter:
    "default" (none), or "poll" with a short interval, so that the
    sentinel that proves a pass ran comes quickly."""
    if backend == "poll":
        return ["--backend", "poll", "--poll-interval", "50ms"]
    return []


def polled(args):
    """Do these options of `vigil watch` make it poll?"""
    args = [a.decode() if isinstance(a, bytes) else str(a) for a in args]
    return any(a == "poll" and i and args[i - 1] == "--backend"
               for i, a in enumerate(args)) or "--backend=poll" in args


def fsbytes(s):
    """The exact bytes of a path decoded with surrogateescape."""
    if isinstance(s, bytes):
        return s
    return s.encode("utf-8", "surrogateescape")


def join_root(root, rel):
    """The path vigil reports for `rel` below the root given as `root`."""
    root = fsbytes(root)
    rel = fsbytes(rel)
    if rel == b"":
        return root
    if root.endswith(b"/"):
        return root + rel
    return root + b"/" + rel


class Vigil:
    """One running vigil process with non-blocking access to its output."""

    def __init__(self, argv, cwd=None, env=None, stdout=None, stderr=None):
        """stdout and stderr: a descriptor of the test's own (a pipe it
        leaves unread, say) instead of the pipes read here; that stream is
        then not read at all."""
        self.argv = [str(a) if not isinstance(a, bytes) else a for a in argv]
        self.proc = subprocess.Popen(
            self.argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout is None else stdout,
            stderr=subprocess.PIPE if stderr is None else stderr,
            start_new_session=True)
        self.pid = self.proc.pid
        self._chunks = queue.Queue()
        self._buf = b""
        self._eof = False
        self._err_lock = threading.Condition()
        self._err_buf = b""
        self._err_eof = False
        self.stderr_lines = []  # complete stderr lines, bytes
        self.lines = []         # every complete stdout line read so far
        self.events = []        # every parsed JSON event read so far
        self._sentinel = 0
        self._t_out = threading.Thread(target=self._pump_out, daemon=True)
        self._t_err = threading.Thread(target=self._pump_err, daemon=True)
        if stdout is None:
            self._t_out.start()
        else:
            self._eof = True
        if stderr is None:
            self._t_err.start()
        else:
            self._err_eof = True

    # -- pumps (threads) ---------------------------------------------------
    def _pump_out(self):
        fd = self.proc.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:
                chunk = b""
            self._chunks.put(chunk)
            if not chunk:
                return

    def _pump_err(self):
        fd = self.proc.stderr.fileno()
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:
                chunk = b""
            with self._err_lock:
                if not chunk:
                    if self._err_buf:
                        self.stderr_lines.append(self._err_buf)
                        self._err_buf = b""
                    self._err_eof = True
                else:
                    self._err_buf += chunk
                    while b"\n" in self._err_buf:
                        line, self._err_buf = self._err_buf.split(b"\n", 1)
                        self.stderr_lines.append(line)
                self._err_lock.notify_all()
            if not chunk:
                return

    # -- diagnostics -------------------------------------------------------
    def describe(self):
        tail = self.lines[-15:]
        return ("vigil %r (pid %d, status %r)\n  last stdout lines: %r\n"
                "  stderr: %r" % (self.argv, self.pid, self.proc.poll(),
                                  tail, self.stderr_lines[-10:]))

    def fail(self, msg):
        raise AssertionError("%s\n%s" % (msg, self.describe()))

    # -- stdout ------------------------------------------------------------
    def _fill(self, deadline):
        """Waits for one more chunk; False on timeout."""
        if self._eof:
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            chunk = self._chunks.get(timeout=left)
        except queue.Empty:
            return False
        if chunk:
            self._buf += chunk
        else:
            self._eof = True
        return True

    def read_line(self, timeout=None):
        """The next stdout line (bytes, without the newline), None at EOF.

        Fails the test if nothing arrives within `timeout` seconds."""
        deadline = time.monotonic() + (EVENT_TIMEOUT if timeout is None
                                       else timeout)
        while b"\n" not in self._buf:
            if self._eof:
                if self._buf:
                    line, self._buf = self._buf, b""
                    self.lines.append(line)
                    return line
                return None
            if not self._fill(deadline):
                self.fail("no line from vigil within %.1f s" %
                          (EVENT_TIMEOUT if timeout is None else timeout))
        line, self._buf = self._buf.split(b"\n", 1)
        self.lines.append(line)
        return line

    def try_read_line(self, timeout):
        """Like read_line, but returns False on timeout instead of failing."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf and not self._eof:
            if not self._fill(deadline):
                return False
        return self.read_line(0)

    def read_all(self, timeout=None):
        """Everything up to EOF of stdout (plus what was buffered)."""
        deadline = time.monotonic() + (EVENT_TIMEOUT if timeout is None
                                       else timeout)
        while not self._eof:
            if not self._fill(deadline):
                self.fail("vigil's stdout did not close in time")
        data, self._buf = self._buf, b""
        return data

    def event(self, timeout=None):
        """The next JSON event as a dict, or None at EOF."""
        line = self.read_line(timeout)
        if line is None:
            return None
        try:
            ev = json.loads(line)
        except ValueError:
            self.fail("stdout line is not JSON: %r" % (line,))
        if not isinstance(ev, dict) or ev.get("type") not in KINDS:
            self.fail("bad event object: %r" % (line,))
        self.events.append(ev)
        return ev

    def events_until(self, pred, timeout=None, what="the awaited event"):
        """Reads events up to and including the first one matching pred."""
        got = []
        deadline = time.monotonic() + (EVENT_TIMEOUT if timeout is None
                                       else timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.fail("%s did not arrive in time; got %d events, last %r"
                          % (what, len(got), got[-5:]))
            ev = self.event(left)
            if ev is None:
                self.fail("vigil closed stdout before %s; last %r"
                          % (what, got[-5:]))
            got.append(ev)
            if pred(ev):
                return got

    def sync(self, root_dir, root_given, kind="created", timeout=None):
        """Creates a sentinel file at the root and reads events until its
        event arrives. Returns the events read (the sentinel's included).

        root_dir is where to create it (any usable path), root_given the
        root as vigil was given it. With kind="removed" the sentinel is also
        deleted and the wait is for its removed event (for --events filters
        that drop created)."""
        # A name another vigil's sentinel left in the same directory (a test
        # that tries again with a new vigil) is passed over.
        while True:
            self._sentinel += 1
            name = ".sentinel-%d" % self._sentinel
            path = os.path.join(fsbytes(root_dir), name.encode())
            if not os.path.lexists(path):
                break
        # mknod, not open: a sentinel makes a single created event (no
        # closed), so it never leaks into what the next wait reads.
        os.mknod(path, 0o644 | stat.S_IFREG)
        if kind == "removed":
            os.unlink(path)
        want = join_root(root_given, name)
        return self.events_until(
            lambda e: e["type"] == kind and e.get("path") is not None
            and fsbytes(e["path"]) == want,
            timeout=timeout, what="sentinel %s (%s)" % (name, kind))

    # -- stderr ------------------------------------------------------------
    def wait_stderr(self, pred, timeout=None, what="a stderr line"):
        deadline = time.monotonic() + (EVENT_TIMEOUT if timeout is None
                                       else timeout)
        with self._err_lock:
            while True:
                for line in self.stderr_lines:
                    if pred(line):
                        return line
                if self._err_eof:
                    self.fail("stderr closed before %s" % what)
                left = deadline - time.monotonic()
                if left <= 0:
                    self.fail("%s did not arrive in time" % what)
                self._err_lock.wait(left)

    def wait_ready(self, timeout=None):
        """Waits for the `ready` line on stderr; returns it (str)."""
        line = self.wait_stderr(lambda l: b"ready" in l, timeout,
                                "the ready line")
        return line.decode("utf-8", "replace")

    def stderr_text(self, timeout=None):
        """All of stderr, after it closed."""
        deadline = time.monotonic() + (EVENT_TIMEOUT if timeout is None
                                       else timeout)
        with self._err_lock:
            while not self._err_eof:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.fail("stderr did not close in time")
                self._err_lock.wait(left)
            return b"\n".join(self.stderr_lines).decode("utf-8", "replace")

    # -- process -----------------------------------------------------------
    def running(self):
        return self.proc.poll() is None

    def send(self, sig):
        if self.proc.poll() is None:
            os.kill(self.pid, sig)

    def wait_exit(self, timeout=None):
        try:
            return self.proc.wait(EVENT_TIMEOUT if timeout is None
                                  else timeout)
        except subprocess.TimeoutExpired:
            self.fail("vigil did not exit in time")

    def close(self):
        """Kills (if needed) and reaps the process; joins the pumps."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                os.kill(self.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            pass
        for t in (self._t_out, self._t_err):
            if t.is_alive():
                t.join(5)
        for f in (self.proc.stdout, self.proc.stderr):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass


# -- namespaces ------------------------------------------------------------
#
# Tests that need a namespace probe it first, with the very set-up they
# will use and a command that does nothing else, and skip with the reason
# on ANY failure of that probe: unshare may be missing, the kernel may
# refuse (EPERM, EACCES), a chroot cannot change root propagation
# (EINVAL), /proc/sys/user may be read-only. Only once the probe has
# worked is vigil run inside the namespace, so a failure then is a failure
# of vigil (or of the test), never a reason to skip.

# argv words that run the rest in a private mount namespace.
MOUNT_NS = ["unshare", "-m", "--propagation", "private"]


def in_userns_with_limit(name, value):
    """argv words that run the rest in a new user namespace (as its root)
    whose inotify limit /proc/sys/user/NAME is VALUE; the host's
    /proc/sys/fs/inotify is never touched."""
    return ["unshare", "-U", "-r", "sh", "-c",
            'echo %d > /proc/sys/user/%s && exec "$0" "$@"' % (value, name)]


def namespace_refused(setup, probe=("true",)):
    """None if `setup + probe` runs and exits 0, else why not (a sentence
    for a skip). setup is the argv words of the namespace set-up."""
    argv = list(setup) + list(probe)
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=EVENT_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "cannot set up the namespace (%s): %s" % (" ".join(setup[:4]), e)
    if r.returncode != 0:
        err = r.stderr.decode("utf-8", "replace").strip() or "no message"
        return ("cannot set up the namespace (%s): status %d: %s"
                % (" ".join(setup[:4]), r.returncode, err))
    return None


def mount_ns_refused():
    """None if a private mount namespace can be had here, else why not."""
    return namespace_refused(MOUNT_NS)


def userns_limit_refused(name, value):
    """None if a user namespace with /proc/sys/user/NAME set to VALUE can
    be had here (the value is read back), else why not."""
    return namespace_refused(
        in_userns_with_limit(name, value),
        ["sh", "-c", 'test "$(cat /proc/sys/user/%s)" = %d' % (name, value)])


# -- FUSE and network file systems -----------------------------------------
#
# Mounts where the kernel sees only what is done through the mount: a
# change made on the other side (bindfs's source directory, the sshd's
# side of an sshfs mount) reaches no inotify watch. The kernel's caches of
# names and attributes are turned off, so that a listing through the
# mount shows such a change at once.

FUSE_NO_CACHE = "attr_timeout=0,entry_timeout=0,negative_timeout=0"


def fuse_refused(*programs):
    """None if FUSE mounts with these programs can be tried here, else why
    not (a sentence for a skip)."""
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse: FUSE file systems cannot be mounted here"
    for prog in programs:
        if not shutil.which(prog):
            return ("%s is not installed (Debian: apt-get install bindfs "
                    "fuse3 sshfs openssh-server)" % prog)
    return None


def unmount(point):
    """Unmounts a FUSE mount; lazily if it is busy. Never raises."""
    for argv in (["fusermount3", "-u", point], ["umount", point],
                 ["umount", "-l", point]):
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=EVENT_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0:
            return


def _mount(argv, point):
    """Runs a FUSE program that mounts on point and returns once the mount
    is there; None, or why it could not mount."""
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=EVENT_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "%s could not mount: %s" % (argv[0], e)
    if r.returncode != 0 or not os.path.ismount(point):
        err = r.stderr.decode("utf-8", "replace").strip() or "no message"
        return "%s could not mount (status %d): %s" % (argv[0], r.returncode,
                                                       err)
    return None


def mount_bindfs(source, point):
    """Mounts source on point with bindfs, caches off; None or why not."""
    opts = FUSE_NO_CACHE
    # FUSE 2 refuses a mount point that is not empty unless told.
    if os.listdir(point) and _fuse2("bindfs"):
        opts += ",nonempty"
    return _mount(["bindfs", "-o", opts, source, point], point)


def _fuse2(prog):
    """Whether prog is built with FUSE 2 (whose options differ)."""
    try:
        r = subprocess.run(["ldd", shutil.which(prog)], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           timeout=EVENT_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return b"libfuse.so.2" in r.stdout


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SshServer:
    """An sshd of the test's own on 127.0.0.1: a free port, a host key and
    a client key made in workdir, its own sshd_config, the current user
    allowed in with the client key alone. stop() ends it."""

    def __init__(self, workdir):
        self.dir = workdir
        self.proc = None
        self.made_run_sshd = False
        self.lines = []
        self.cond = threading.Condition()
        self.port = None

    def start(self):
        """None once sshd listens, else why it cannot run here."""
        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        if not os.access(sshd, os.X_OK):
            return "sshd is not installed (Debian: apt-get install openssh-server)"
        for prog in ("ssh-keygen", "ssh"):
            if not shutil.which(prog):
                return "%s is not installed (Debian: apt-get install openssh-client)" % prog
        # sshd checks that its privilege separation directory exists.
        if not os.path.isdir("/run/sshd"):
            try:
                os.makedirs("/run/sshd", 0o755)
                self.made_run_sshd = True
            except OSError as e:
                return "cannot make /run/sshd for sshd: %s" % e
        os.makedirs(self.dir, exist_ok=True)
        self.host_key = os.path.join(self.dir, "host_key")
        self.client_key = os.path.join(self.dir, "client_key")
        for key in (self.host_key, self.client_key):
            r = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "",
                                "-f", key], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=EVENT_TIMEOUT)
            if r.returncode != 0:
                return "ssh-keygen failed: %s" % r.stdout.decode("utf-8", "replace")
        auth = os.path.join(self.dir, "authorized_keys")
        shutil.copy(self.client_key + ".pub", auth)
        self.port = free_port()
        config = os.path.join(self.dir, "sshd_config")
        with open(config, "w") as f:
            f.write("\n".join([
                "ListenAddress 127.0.0.1",
                "Port %d" % self.port,
                "HostKey %s" % self.host_key,
                "AuthorizedKeysFile %s" % auth,
                "PidFile none",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PubkeyAuthentication yes",
                "PermitRootLogin prohibit-password",
                "UsePAM no",
                "StrictModes no",
                "Subsystem sftp internal-sftp",
                "LogLevel INFO", ""]))
        # -D: in the foreground, as this process's child; -e: log to stderr,
        # which says when it listens.
        self.proc = subprocess.Popen([sshd, "-D", "-e", "-f", config],
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()
        deadline = time.monotonic() + EVENT_TIMEOUT
        with self.cond:
            while not any(b"Server listening" in l for l in self.lines):
                left = deadline - time.monotonic()
                if self.proc.poll() is not None or left <= 0:
                    log = b"".join(self.lines).decode("utf-8", "replace")
                    self.stop()
                    return "sshd did not start: %s" % (log.strip() or "no message")
                self.cond.wait(left)
        return None

    def _pump(self):
        for line in iter(self.proc.stderr.readline, b""):
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def sshfs_argv(self, remote, point):
        user = pwd.getpwuid(os.geteuid()).pw_name
        return ["sshfs", "-F", "/dev/null", "-p", str(self.port),
                "-o", "IdentityFile=%s" % self.client_key,
                "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null",
                "-o", "BatchMode=yes",
                "-o", "dir_cache=no",
                "-o", FUSE_NO_CACHE,
                "%s@127.0.0.1:%s" % (user, remote), point]

    def mount(self, remote, point):
        """Mounts remote (a directory on the server's side) on point with
        sshfs; None or why not."""
        return _mount(self.sshfs_argv(remote, point), point)

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(EVENT_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            # The reader sees the end of stderr once sshd and its children
            # are gone; the pipe is closed only after that.
            self.pump.join(EVENT_TIMEOUT)
            if not self.pump.is_alive():
                self.proc.stderr.close()
            self.proc = None
        if self.made_run_sshd:
            try:
                os.rmdir("/run/sshd")
            except OSError:
                pass
            self.made_run_sshd = False


# -- trees and replay ------------------------------------------------------

def scan(root, exclude=None):
    """The tree below root on disk: {relative path bytes: is_dir}.

    Symbolic links are entries (is_dir False) and never followed. exclude
    is an optional predicate exclude(rel, is_dir); an excluded directory is
    not descended into."""
    root = fsbytes(root)
    out = {}

    # Relative to open descriptors, so that a tree deeper than PATH_MAX
    # can be scanned too.
    def walk(dirfd, name, rel):
        try:
            # The root itself may be a link the test named.
            nofollow = os.O_NOFOLLOW if dirfd is not None else 0
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | nofollow,
                         dir_fd=dirfd)
        except (FileNotFoundError, NotADirectoryError):
            return
        try:
            it = list(os.scandir(fd))
            for e in it:
                ename = os.fsencode(e.name)
                r = rel + b"/" + ename if rel else ename
                try:
                    d = e.is_dir(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if exclude is not None and exclude(r, d):
                    continue
                out[r] = d
                if d:
                    walk(fd, ename, r)
        finally:
            os.close(fd)

    walk(None, root, b"")
    return out


def _parent(rel):
    i = rel.rfind(b"/")
    return b"" if i < 0 else rel[:i]


class ReplayError(AssertionError):
    pass


class Replay:
    """Applies a stream of vigil events to the tree vigil started from.

    Every event is checked as it is applied: no created for a present path,
    no removed for an absent one, parents before children on create,
    children before parents on remove, moves from a present path."""

    def __init__(self, root_given, tree):
        self.root = fsbytes(root_given)
        if self.root.endswith(b"/") and self.root != b"/":
            self.prefix = self.root
            self.root_norm = self.root.rstrip(b"/")
        else:
            self.prefix = self.root + b"/"
            self.root_norm = self.root
        self.isdir = {}
        self.kids = {b"": set()}
        self.root_gone = False
        self.applied = 0
        self.recent = []
        for rel in sorted(tree, key=lambda r: r.count(b"/")):
            self._add(rel, tree[rel])

    # internal tree operations
    def _add(self, rel, d):
        self.isdir[rel] = d
        self.kids.setdefault(_parent(rel), set()).add(rel)
        if d:
            self.kids.setdefault(rel, set())

    def _subtree(self, rel):
        out = [rel]
        i = 0
        while i < len(out):
            out.extend(self.kids.get(out[i], ()))
            i += 1
        return out

    def _del_subtree(self, rel):
        for r in self._subtree(rel):
            self.isdir.pop(r, None)
            self.kids.pop(r, None)
        self.kids[_parent(rel)].discard(rel)

    def rel(self, path):
        p = fsbytes(path)
        if p == self.root or p == self.root_norm:
            return b""
        if not p.startswith(self.prefix):
            self.err("path %r is not below the root %r" % (p, self.root))
        r = p[len(self.prefix):]
        if r == b"" or r.startswith(b"/") or r.endswith(b"/") or b"//" in r:
            self.err("malformed path %r" % (p,))
        return r

    def err(self, msg):
        raise ReplayError("%s\n  after %d events; recent events: %r"
                          % (msg, self.applied, self.recent[-8:]))

    def apply(self, ev):
        self.recent.append(ev)
        if len(self.recent) > 40:
            del self.recent[:20]
        t = ev["type"]
        if self.root_gone and t != "error":
            self.err("event after the root was removed: %r" % (ev,))
        if t in ("overflow",):
            if ev.get("path") is not None:
                self.err("overflow with a path: %r" % (ev,))
        elif t == "error":
            pass
        elif t == "created":
            r = self.rel(ev["path"])
            if r == b"":
                self.err("created for the root: %r" % (ev,))
            if r in self.isdir:
                self.err("duplicate created for %r (already present)" % (r,))
            p = _parent(r)
            if p != b"" and not self.isdir.get(p, False):
                self.err("created %r before its parent directory" % (r,))
            self._add(r, bool(ev["dir"]))
        elif t == "removed":
            r = self.rel(ev["path"])
            if r == b"":
                left = len(self.isdir)
                if left:
                    self.err("root removed while %d entries were not "
                             "(e.g. %r)" % (left, sorted(self.isdir)[:5]))
                self.root_gone = True
            else:
                if r not in self.isdir:
                    self.err("removed for absent path %r" % (r,))
                if bool(ev["dir"]) != self.isdir[r]:
                    self.err("removed %r with dir=%r but it was created "
                             "with dir=%r" % (r, ev["dir"], self.isdir[r]))
                if self.kids.get(r):
                    self.err("removed directory %r before its children %r"
                             % (r, sorted(self.kids[r])[:5]))
                self._del_subtree(r)
        elif t == "moved":
            if "from" not in ev or ev["from"] is None:
                self.err("moved without from: %r" % (ev,))
            fr = self.rel(ev["from"])
            to = self.rel(ev["path"])
            if fr == b"" or to == b"":
                self.err("moved involving the root: %r" % (ev,))
            if fr not in self.isdir:
                self.err("moved from absent path %r" % (fr,))
            if bool(ev["dir"]) != self.isdir[fr]:
                self.err("moved %r with dir=%r but it is dir=%r"
                         % (fr, ev["dir"], self.isdir[fr]))
            if to == fr:
                self.err("moved onto itself: %r" % (ev,))
            if to.startswith(fr + b"/"):
                self.err("moved into its own subtree: %r" % (ev,))
            p = _parent(to)
            if p != b"" and not self.isdir.get(p, False):
                self.err("moved to %r whose parent is absent" % (to,))
            if to in self.isdir:
                self._del_subtree(to)
            moving = self._subtree(fr)
            flags = {r: self.isdir[r] for r in moving}
            self._del_subtree(fr)
            for r in sorted(moving, key=lambda x: x.count(b"/")):
                self._add(to + r[len(fr):], flags[r])
        else:  # modified, attrib, closed, opened, closed_nowrite
            r = self.rel(ev["path"])
            if r != b"" and r not in self.isdir:
                self.err("%s for absent path %r" % (t, r))
        self.applied += 1

    def apply_all(self, events):
        for ev in events:
            self.apply(ev)

    def tree(self):
        return dict(self.isdir)

    def check(self, disk):
        """Asserts that the replayed tree equals `disk` ({rel: is_dir})."""
        mine = self.tree()
        if mine == disk:
            return
        missing = sorted(r for r in disk if r not in mine)
        extra = sorted(r for r in mine if r not in disk)
        kind = sorted(r for r in disk if r in mine and disk[r] != mine[r])
        self.err("replayed tree differs from disk: %d missing (on disk, not "
                 "replayed) e.g. %r; %d extra (replayed, not on disk) e.g. "
                 "%r; %d with wrong dir flag e.g. %r"
                 % (len(missing), missing[:8], len(extra), extra[:8],
                    len(kind), kind[:8]))


def count_watches(pid):
    """Kernel inotify watches held by a process, from /proc/PID/fdinfo."""
    n = 0
    base = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(base):
        try:
            with open(os.path.join(base, fd)) as f:
                n += sum(1 for l in f if l.startswith("inotify wd:"))
        except OSError:
            pass
    return n


def max_queued_events():
    with open("/proc/sys/fs/inotify/max_queued_events") as f:
        return int(f.read())


def flood(dirpath, count=None):
    """Queues more inotify records than the kernel keeps, cheaply: chmod on
    two files in turn (records that differ from the one before are never
    folded together by the kernel). The two files, .flood-a and .flood-b,
    are left in dirpath."""
    if count is None:
        count = max_queued_events() + 100
    a = os.path.join(dirpath, ".flood-a")
    b = os.path.join(dirpath, ".flood-b")
    for p in (a, b):
        if not os.path.exists(p):
            os.mknod(p, 0o644 | stat.S_IFREG)
    for i in range(count // 2 + 1):
        m = 0o644 if i % 2 else 0o600
        os.chmod(a, m)
        os.chmod(b, m)


# -- processes under strace ----------------------------------------------------

def traced_child(tracer_pid):
    """The pid of the one process that strace (tracer_pid) runs, or None."""
    with open("/proc/%d/task/%d/children" % (tracer_pid, tracer_pid)) as f:
        kids = f.read().split()
    return int(kids[0]) if kids else None


def wait_in_syscall(pid, nr, v, timeout=None):
    """Waits until pid is stopped inside system call number nr (held there
    by strace's fault injection, say). v is the Vigil, for the diagnostics."""
    deadline = time.monotonic() + (EVENT_TIMEOUT if timeout is None
                                   else timeout)
    while True:
        try:
            with open("/proc/%d/syscall" % pid) as f:
                words = f.read().split()
        except OSError:
            words = []
        if words and words[0] == str(nr):
            return
        if time.monotonic() > deadline or not v.running():
            v.fail("vigil never entered system call %d" % nr)
        time.sleep(0.002)


def small_pipe():
    """A pipe that holds one page, so that a few dozen lines fill it."""
    r, w = os.pipe()
    fcntl.fcntl(w, 1031, 4096)  # F_SETPIPE_SZ
    return r, w


def blocked_writing(pid, fd):
    """True when pid sleeps in write(fd, ...)."""
    try:
        with open("/proc/%d/syscall" % pid) as f:
            words = f.read().split()
    except OSError:
        return False
    # x86_64: write is system call 1; its first argument is the descriptor.
    return len(words) > 1 and words[0] == "1" and int(words[1], 16) == fd
