"""The watchers under test, and how to run one and read what it says.

Every tool is started in a session of its own (so that a wrapper's
children, such as watchman's daemon, can be measured and stopped with it)
with stdout and stderr on pipes that the benchmark drains itself. Each
tool knows its command line, its ready signal and how to turn one line of
its output into (kind, path) pairs.
"""
import fcntl
import json
import os
import re
import select
import shutil
import signal
import subprocess
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
OUT = os.path.join(BENCH, "out")
BIN = os.path.join(OUT, "bin")
NPM = os.path.join(OUT, "npm")
ANCHORS = os.path.join(BENCH, "anchors")
DEBIAN_PYTHON = "/usr/bin/python3"
PIPE_SIZE = 1 << 20
CLK_TCK = os.sysconf("SC_CLK_TCK")


def now():
    return time.monotonic()


# ---------------------------------------------------------------- /proc


def session_pids(sid):
    """Every live process whose session id is sid (the tool and its children)."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2:].split()
        if int(fields[3]) == sid:
            pids.append(int(name))
    return pids


def cpu_seconds(pid):
    """On-CPU time of one process, every thread, in seconds.

    utime+stime from /proc/PID/stat counts exited threads too but only in
    clock ticks (10 ms); the per-thread schedstat runtimes are exact to the
    nanosecond but cover live threads only. The larger of the two is used.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        fields = stat[stat.rindex(b")") + 2:].split()
        ticks = (int(fields[11]) + int(fields[12])) / CLK_TCK
    except OSError:
        return 0.0
    exact = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    exact += int(f.read().split()[0])
            except OSError:
                pass
    except OSError:
        pass
    return max(ticks, exact / 1e9)


def status_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# ---------------------------------------------------------------- tools


class Tool:
    """One watcher. Subclasses set name, label and what differs."""

    name = ""
    label = ""
    ready = "stderr"  # "stderr": a line on stderr matches ready_re; "stdout": same on stdout; "canary"
    ready_re = re.compile(rb"ready")
    note = ""

    def __init__(self, root_env=None):
        self.env = dict(os.environ)
        if root_env:
            self.env.update(root_env)

    def available(self):
        """None if the tool can run, else why not."""
        return None

    def version(self):
        return ""

    def argv(self, root):
        raise NotImplementedError

    def parse(self, line, root):
        """Yields (kind, relative path) for one output line (bytes)."""
        parts = line.split(None, 1)
        if len(parts) == 2:
            kind, path = parts
            yield kind.decode(errors="replace"), rel(path, root)

    def overflow(self, line):
        """Whether the line reports lost events. By default: its first word says so."""
        first = line.split(None, 1)[0] if line.strip() else b""
        return b"overflow" in first.lower()

    def __repr__(self):
        return self.name


def rel(path, root):
    """A tool's path (bytes) relative to the root (str), without a trailing slash."""
    p = path.decode(errors="surrogateescape").rstrip("\n")
    if p.endswith("/") and len(p) > 1:
        p = p[:-1]
    if p == root:
        return ""
    if p.startswith(root + "/"):
        return p[len(root) + 1:]
    return p


def run_text(argv, **kw):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30, **kw)
        return (r.stdout or r.stderr).strip()
    except (OSError, subprocess.SubprocessError):
        return ""


class Vigil(Tool):
    name = "vigil"
    label = "vigil"
    ready_re = re.compile(rb"vigil: ready")
    note = "`vigil watch ROOT` (text output)"

    def __init__(self, json_out=False):
        super().__init__()
        self.json = json_out
        if json_out:
            self.name = "vigil-json"
            self.label = "vigil --json"
            self.note = "`vigil watch --json ROOT`"

    @staticmethod
    def exe():
        return os.path.join(REPO, "build-bench", "vigil")

    def available(self):
        return None if os.access(self.exe(), os.X_OK) else "build-bench/vigil was not built"

    def version(self):
        d = run_text(["git", "-C", REPO, "describe", "--always", "--dirty", "--tags"])
        v = run_text([self.exe(), "--version"])
        return f"{v} (git {d})" if v and "usage" not in v.lower() else f"git {d}"

    def argv(self, root):
        return [self.exe(), "watch"] + (["--json"] if self.json else []) + [root]

    def parse(self, line, root):
        if self.json:
            try:
                o = json.loads(line)
            except ValueError:
                return
            if o.get("path") is not None:
                yield o["type"], rel(o["path"].encode("utf-8", "surrogateescape"), root)
            if o.get("from"):
                yield "from", rel(o["from"].encode("utf-8", "surrogateescape"), root)
            return
        parts = line.split(None, 1)
        if len(parts) != 2:
            return
        kind = parts[0].decode()
        if kind == "moved" and b" -> " in parts[1]:
            src, dst = parts[1].split(b" -> ", 1)
            yield "from", rel(src, root)
            yield kind, rel(dst, root)
        else:
            yield kind, rel(parts[1], root)

    def overflow(self, line):
        return line.startswith(b"overflow") or line.startswith(b'{"type":"overflow"')


class Floor(Tool):
    name = "floor"
    label = "floor (C loop)"
    ready_re = re.compile(rb"floor: ready")
    note = "bench/floor.c: getdents64 walk + inotify_add_watch, no stat; prints raw events"

    def available(self):
        return None if os.access(os.path.join(BIN, "floor"), os.X_OK) else "bench/floor.c was not built"

    def argv(self, root):
        return [os.path.join(BIN, "floor"), root]

    def parse(self, line, root):
        parts = line.rsplit(None, 1)
        if len(parts) == 2:
            yield parts[1].decode(), rel(parts[0], root)

    def overflow(self, line):
        return line.startswith(b"?/")  # wd -1: IN_Q_OVERFLOW


class Inotifywait(Tool):
    name = "inotifywait"
    label = "inotifywait"
    ready_re = re.compile(rb"Watches established")
    events = "create,delete,modify,move,attrib,close_write"
    note = f"`inotifywait -m -r -e {events} --format '%e %w%f' ROOT`"

    def available(self):
        return None if shutil.which("inotifywait") else "inotifywait not found (Debian inotify-tools)"

    def version(self):
        return run_text(["sh", "-c", "inotifywait --help 2>&1 | head -1"])

    def argv(self, root):
        return ["inotifywait", "-m", "-r", "-e", self.events, "--format", "%e %w%f", root]

    def overflow(self, line):
        return line.startswith(b"Q_OVERFLOW")


class Watchdog(Tool):
    name = "watchdog"
    label = "watchdog"
    note = "bench/anchors/watchdog_watch.py: InotifyObserver, recursive, Debian's python3"

    def available(self):
        if not os.access(DEBIAN_PYTHON, os.X_OK):
            return "Debian's /usr/bin/python3 not found"
        if subprocess.run([DEBIAN_PYTHON, "-c", "import watchdog.observers.inotify"],
                          capture_output=True).returncode:
            return "python3-watchdog not installed"
        return None

    def version(self):
        return "watchdog " + run_text([DEBIAN_PYTHON, "-c",
                                       "import watchdog.version as v; print(v.VERSION_STRING)"])

    def argv(self, root):
        return [DEBIAN_PYTHON, os.path.join(ANCHORS, "watchdog_watch.py"), root]

    def parse(self, line, root):
        parts = line.split(None, 1)
        if len(parts) != 2:
            return
        kind = parts[0].decode()
        if b" -> " in parts[1]:
            src, dst = parts[1].split(b" -> ", 1)
            yield "from", rel(src, root)
            yield kind, rel(dst, root)
        else:
            yield kind, rel(parts[1], root)


class WatchdogPolling(Watchdog):
    name = "watchdog-polling"
    label = "watchdog PollingObserver"
    note = ("bench/anchors/watchdog_watch.py --polling: PollingObserver (a snapshot every "
            "second, its default), recursive, Debian's python3")

    def argv(self, root):
        return [DEBIAN_PYTHON, os.path.join(ANCHORS, "watchdog_watch.py"), "--polling", root]


class VigilPoll(Vigil):
    """vigil watch --backend poll, at its default interval (1 s)."""

    def __init__(self):
        super().__init__(json_out=True)
        self.name = "vigil-poll"
        self.label = "vigil --backend poll"
        self.note = "`vigil watch --json --backend poll ROOT` (a pass every second, its default)"

    def argv(self, root):
        return [self.exe(), "watch", "--json", "--backend", "poll", root]


class PollFloor(Tool):
    name = "pollfloor"
    label = "floor (list + fstatat, C)"
    note = ("bench/pollfloor.c: a getdents64 walk that fstatat's every entry that is not a "
            "directory, relative to its directory, keeping nothing")

    def available(self):
        return None if os.access(os.path.join(BIN, "pollfloor"), os.X_OK) else \
            "bench/pollfloor.c was not built"

    def passes(self, root, n):
        """CPU and wall milliseconds of n passes over root."""
        out = subprocess.run([os.path.join(BIN, "pollfloor"), root, str(n)], capture_output=True,
                             text=True, check=True).stdout
        got = []
        for line in out.splitlines():
            f = line.split()
            got.append({"cpu_ms": float(f[3]), "wall_ms": float(f[5]), "dirs": int(f[7]),
                        "stats": int(f[9])})
        return got


class Fswatch(Tool):
    name = "fswatch"
    label = "fswatch"
    ready = "canary"
    flags = ["Created", "Updated", "Removed", "Renamed", "OwnerModified", "AttributeModified",
             "MovedFrom", "MovedTo", "Overflow"]
    note = ("`fswatch -r -m inotify_monitor --allow-overflow -l 0.01 -x` with `--event` for "
            "every change kind and Overflow (without them it prints its own rescans' directory "
            "opens, ~30,000 lines/s on an idle 10k-directory tree); ready = canary")

    def available(self):
        return None if shutil.which("fswatch") else "fswatch not found"

    def version(self):
        return run_text(["sh", "-c", "fswatch --version | head -1"])

    def argv(self, root):
        ev = []
        for f in self.flags:
            ev += ["--event", f]
        return ["fswatch", "-r", "-m", "inotify_monitor", "--allow-overflow", "-l", "0.01", "-x"] + ev + [root]

    def parse(self, line, root):
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(b"/"):
            yield b",".join(parts[1:]).decode(), rel(parts[0], root)

    def overflow(self, line):
        return any(tok == b"Overflow" for tok in line.split() if not tok.startswith(b"/"))


class Watchman(Tool):
    name = "watchman"
    label = "watchman"
    ready = "stdout"
    ready_re = re.compile(rb'"subscribe":')
    note = ("bench/anchors/watchman_watch.sh: private daemon, `watch`, a subscription printed by "
            "`watchman -j -p` (line-buffered), settle 1 ms; measured: daemon + client")

    def available(self):
        if not shutil.which("watchman"):
            return "watchman not found"
        if not shutil.which("stdbuf"):
            return "stdbuf not found (coreutils)"
        return None

    def version(self):
        return "watchman " + run_text(["watchman", "--version"])

    def argv(self, root):
        return ["sh", os.path.join(ANCHORS, "watchman_watch.sh"), root]

    def parse(self, line, root):
        if not line.startswith(b"{"):
            return
        try:
            o = json.loads(line)
        except ValueError:
            return
        for f in o.get("files") or ():
            if isinstance(f, dict):
                kind = "new" if f.get("new") else ("exists" if f.get("exists") else "gone")
                yield kind, f.get("name", "")

    def overflow(self, line):
        """A recrawl (what watchman does on IN_Q_OVERFLOW) shows in an answer's warning."""
        if not line.startswith(b"{") or b'"warning"' not in line:
            return False
        try:
            return "recrawl" in json.loads(line).get("warning", "").lower()
        except (ValueError, AttributeError):
            return False


class NodeTool(Tool):
    script = ""
    package = ""

    def available(self):
        if not shutil.which("node"):
            return "node not found"
        if not os.path.isdir(os.path.join(NPM, "node_modules", self.package)):
            return f"npm package {self.package} not installed"
        return None

    def version(self):
        try:
            with open(os.path.join(NPM, "node_modules", self.package, "package.json")) as f:
                return f"{self.package} {json.load(f)['version']}"
        except (OSError, ValueError, KeyError):
            return ""

    def __init__(self):
        super().__init__({"NODE_PATH": os.path.join(NPM, "node_modules")})

    def argv(self, root):
        return ["node", os.path.join(ANCHORS, self.script), root]


class Parcel(NodeTool):
    name = "parcel"
    label = "@parcel/watcher"
    script = "parcel_watch.js"
    package = "@parcel/watcher"
    note = "bench/anchors/parcel_watch.js: subscribe() with backend 'inotify'; ready when it resolves"


class Chokidar(NodeTool):
    name = "chokidar"
    label = "chokidar"
    script = "chokidar_watch.js"
    package = "chokidar"
    note = "bench/anchors/chokidar_watch.js: watch() with ignoreInitial, no polling; ready on 'ready'"


def all_tools():
    return [Vigil(), Inotifywait(), Watchdog(), Fswatch(), Watchman(), Parcel(), Chokidar()]


# ---------------------------------------------------------------- running


LIVE = set()


def stop_all():
    """Kills whatever is left of every tool still running (after an interruption)."""
    for r in list(LIVE):
        r.signal_group(signal.SIGCONT)
        r.signal_group(signal.SIGKILL)
        try:
            r.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        LIVE.discard(r)


class Run:
    """One running tool: its pipes drained into memory, with read times."""

    def __init__(self, tool, root):
        self.tool = tool
        self.root = root
        self.out = []  # (time, bytes) chunks from stdout
        self.err = b""
        self.ready_at = None
        self.ready_index = 0  # stdout chunks before this came before ready
        self.canaries = []
        self.t_start = now()
        self.p = subprocess.Popen(tool.argv(root), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=tool.env, start_new_session=True)
        self.pid = self.p.pid
        LIVE.add(self)
        self.fds = {}
        for stream, name in ((self.p.stdout, "out"), (self.p.stderr, "err")):
            fd = stream.fileno()
            try:
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
            except OSError:
                pass
            os.set_blocking(fd, False)
            self.fds[fd] = name
        self.poller = select.poll()
        for fd in self.fds:
            self.poller.register(fd, select.POLLIN)
        self.search = None  # (compiled regex, callback) applied to new stdout data
        self._tail = b""

    def pump(self, timeout):
        """Reads whatever the tool wrote, waiting up to timeout seconds for the first of it."""
        if not self.fds:
            time.sleep(max(0.0, timeout))
            return False
        got = False
        for fd, _ in self.poller.poll(max(0, int(timeout * 1000))):
            if fd not in self.fds:
                continue  # a pidfd of wait_exit
            t = now()
            while True:
                try:
                    data = os.read(fd, PIPE_SIZE)
                except BlockingIOError:
                    break
                if not data:
                    self.poller.unregister(fd)
                    del self.fds[fd]
                    break
                got = True
                if self.fds[fd] == "out":
                    self.out.append((t, data))
                    if self.search:
                        buf = self._tail + data
                        if self.search[0].search(buf):
                            self.search[1](t)
                        self._tail = buf[-256:]
                else:
                    self.err += data
                if len(data) < PIPE_SIZE:
                    break
        return got

    def alive(self):
        return self.p.poll() is None

    def watch_for(self, pattern, callback):
        self.search = (re.compile(pattern), callback)
        self._tail = b""

    def wait_ready(self, timeout):
        """Waits for the tool's ready signal; returns seconds since launch or None."""
        deadline = now() + timeout
        tool = self.tool
        if tool.ready == "canary":
            return self._wait_canary(deadline)
        seen = 0
        while now() < deadline:
            self.pump(min(0.05, max(0.0, deadline - now())))
            if tool.ready == "stderr":
                if tool.ready_re.search(self.err):
                    break
            else:
                data = b"".join(c for _, c in self.out[seen:])
                if tool.ready_re.search(data):
                    break
            if not self.alive() and not self.fds:
                return None
        else:
            return None
        self.ready_at = now()
        self.ready_index = len(self.out)
        return self.ready_at - self.t_start

    def _wait_canary(self, deadline):
        n = 0
        seen = [None]
        self.watch_for(rb"bench-canary-\d+", lambda t: seen.__setitem__(0, t))
        next_touch = now()
        while now() < deadline and seen[0] is None:
            if now() >= next_touch:
                name = os.path.join(self.root, f"bench-canary-{n}")
                with open(name, "w"):
                    pass
                self.canaries.append(name)
                n += 1
                next_touch = now() + 0.01
            self.pump(max(0.0, min(next_touch - now(), 0.01)))
            if not self.alive() and not self.fds:
                return None
        self.search = None
        if seen[0] is None:
            return None
        self.ready_at = seen[0]
        self.ready_index = len(self.out)
        return self.ready_at - self.t_start

    def pids(self):
        pids = session_pids(self.pid)
        return pids if pids else [self.pid]

    def cpu(self):
        return sum(cpu_seconds(p) for p in self.pids())

    def rss_kb(self):
        return sum(status_kb(p, "VmRSS") for p in self.pids())

    def hwm_kb(self):
        return sum(status_kb(p, "VmHWM") for p in self.pids())

    def wait_exit(self, timeout):
        """Drains the pipes until the tool's main process exits; returns the time it did, or None.

        The exit is seen through a pidfd polled with the pipes, so its time is
        exact while output keeps being read (a tool blocked on a full pipe
        would never exit).
        """
        pidfd = os.pidfd_open(self.pid)
        try:
            self.poller.register(pidfd, select.POLLIN)
            deadline = now() + timeout
            while now() < deadline:
                left = max(0, int((deadline - now()) * 1000))
                events = self.poller.poll(left)
                if any(fd == pidfd for fd, _ in events):
                    t = now()
                    self.p.wait()
                    return t
                if events:
                    self.pump(0)
                elif not self.fds:
                    time.sleep(0.001)
            return None
        finally:
            self.poller.unregister(pidfd)
            os.close(pidfd)

    def signal_group(self, sig):
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, grace=5.0):
        """SIGINT to the tool, then SIGTERM and SIGKILL to its whole session."""
        try:
            os.kill(self.pid, signal.SIGCONT)
            os.kill(self.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        deadline = now() + grace
        while self.alive() and now() < deadline:
            self.pump(0.02)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if not self.alive():
                break
            self.signal_group(sig)
            deadline = now() + 2
            while self.alive() and now() < deadline:
                self.pump(0.02)
        self.p.wait()
        self.signal_group(signal.SIGKILL)  # whatever the wrapper left behind
        LIVE.discard(self)
        while self.fds:
            if not self.pump(0.05):
                break
        for c in self.canaries:
            try:
                os.unlink(c)
            except OSError:
                pass

    def lines(self, after_ready=True):
        data = b"".join(c for _, c in (self.out[self.ready_index:] if after_ready else self.out))
        return data.splitlines()
