"""Helpers for the tests of `vigil run` (test_run.py).

The command under test is wrapped in a recorder script (RECORDER below)
that writes, for run number N, into a directory outside the watched tree:

    n            N, the number of the latest run
    check.N      "PID alive|dead" for each process of run N-1, checked the
                 moment run N starts
    changed.N    $VIGIL_CHANGED
    events.N     $VIGIL_EVENTS
    group.N      the leader's pid, then whatever the command appends
    pid.N        the leader's pid, written last: the sign that run N began

and then execs the command, so the recorded pid is the command's own.
"""

import fcntl
import os
import pty
import re
import select
import shutil
import subprocess
import termios
import threading
import time

import pytest

import vigiltest

EVENT_TIMEOUT = vigiltest.EVENT_TIMEOUT
TIME_SCALE = float(os.environ.get("VIGIL_TEST_TIME_SCALE", "1"))

RECORDER = r"""#!/bin/sh
out=$1; shift
n=$(( $(cat "$out/n" 2>/dev/null || echo 0) + 1 ))
echo $n > "$out/n"
prev=$((n - 1))
if [ -e "$out/group.$prev" ]; then
  for p in $(cat "$out/group.$prev"); do
    if kill -0 "$p" 2>/dev/null; then echo "$p alive"; else echo "$p dead"; fi
  done > "$out/check.$n"
fi
printf '%s' "$VIGIL_CHANGED" > "$out/changed.$n"
printf '%s' "$VIGIL_EVENTS" > "$out/events.$n"
echo $$ >> "$out/group.$n"
echo $$ > "$out/pid.$n.tmp" && mv "$out/pid.$n.tmp" "$out/pid.$n"
export REC_OUT="$out" REC_N=$n
exec "$@"
"""

# A command writes this after setting its traps, for RunTest.wait_armed.
ARMED = ': > "$REC_OUT/armed.$REC_N"; '


def scaled(seconds):
    """A time bound, stretched for slow (sanitizer) builds."""
    return seconds * TIME_SCALE


def wait_until(pred, timeout=None, what="the condition", poll=0.005):
    deadline = time.monotonic() + (EVENT_TIMEOUT if timeout is None
                                   else timeout)
    while True:
        if pred():
            return
        if time.monotonic() > deadline:
            raise AssertionError("%s did not happen in time" % what)
        time.sleep(poll)


def re_match(pattern, s):
    return re.match(pattern, s) is not None


# -- processes ------------------------------------------------------------------

def stat_fields(text):
    """/proc/PID/stat split into fields; [0] is the pid, [1] the name,
    [2] the state, [3] the parent, [4] the group, [7] the terminal's
    foreground group."""
    head, _, rest = text.rpartition(")")
    pid, _, comm = head.partition(" (")
    return [pid, comm] + rest.split()


def _all_stats():
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                out.append(stat_fields(f.read()))
        except OSError:
            pass
    return out


def exists(pid):
    return os.path.exists("/proc/%d" % pid)


def children_of(pid):
    return [int(f[0]) for f in _all_stats() if int(f[3]) == pid]


def zombies_of(pid):
    return [int(f[0]) for f in _all_stats()
            if int(f[3]) == pid and f[2] == "Z"]


def group_members(pgid):
    return [int(f[0]) for f in _all_stats() if int(f[4]) == pgid]


def inotify_watches(pid):
    """The kernel watches held by all of pid's inotify descriptors."""
    n = 0
    d = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(d):
        try:
            with open(os.path.join(d, fd)) as f:
                n += sum(1 for line in f if line.startswith("inotify wd:"))
        except OSError:
            pass
    return n


# -- one test's world ---------------------------------------------------------------

class Run:
    def __init__(self, out, n):
        def read(name):
            p = out / ("%s.%d" % (name, n))
            return p.read_text() if p.exists() else None
        self.n = n
        self.changed = read("changed")
        self.events = read("events")
        check = read("check") or ""
        self.check = dict((int(a), b) for a, b in
                          (line.split() for line in check.splitlines()))


class RunTest:
    """A watched directory w, a directory out for the recorder, and a
    private HOME and XDG_CONFIG_HOME so that the user's git settings
    never leak in."""

    def __init__(self, start, vigil_bin, tmp):
        self._start = start
        self.vigil_bin = vigil_bin
        self.w = tmp / "w"
        self.out = tmp / "out"
        self.home = tmp / "home"
        self.xdg = tmp / "xdg"
        for d in (self.w, self.out, self.home):
            d.mkdir()
        self.recorder = self.out / "rec.sh"
        self.recorder.write_text(RECORDER)
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "HOME": str(self.home), "XDG_CONFIG_HOME": str(self.xdg),
                    "LC_ALL": "C", "SHELL": "/bin/sh"}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                self.env[k] = os.environ[k]

    def rec(self, *cmd):
        return ["sh", str(self.recorder), str(self.out), *cmd]

    def start(self, *args, env=None, ready=True, cwd=None, stdout=None,
              stderr=None):
        v = self._start("run", *args, cwd=str(cwd or self.w),
                        env=env or self.env, stdout=stdout, stderr=stderr)
        if ready:
            v.wait_ready()
        return v

    def run_to_end(self, *argv, timeout=None):
        return subprocess.run(
            [self.vigil_bin, *argv], cwd=str(self.w), env=self.env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, timeout=timeout or EVENT_TIMEOUT)

    def wait_run(self, n, poll=0.005):
        wait_until(lambda: (self.out / ("pid.%d" % n)).exists(),
                   what="run %d (runs so far: %d)" % (n, self.runs()),
                   poll=poll)
        return Run(self.out, n)

    def wait_armed(self, n):
        """Waits until run n's command has set its traps (see ARMED)."""
        wait_until(lambda: (self.out / ("armed.%d" % n)).exists(),
                   what="run %d to set its traps" % n)
        return Run(self.out, n)

    def runs(self):
        return len([p for p in os.listdir(self.out)
                    if re.match(r"pid\.\d+$", p)])

    def pid(self, n):
        return int((self.out / ("pid.%d" % n)).read_text())

    def group(self, n):
        p = self.out / ("group.%d" % n)
        return [int(x) for x in p.read_text().split()] if p.exists() else []

    def cleanup(self):
        """Kills what a failed test left: when vigil itself was killed,
        its command's group lives on."""
        pids = set()
        for name in os.listdir(self.out):
            if re.match(r"(pid|group)\.\d+$", name):
                pids.update(int(x) for x in
                            (self.out / name).read_text().split())
        for pid in pids:
            for kill in (os.killpg, os.kill):
                try:
                    kill(pid, 9)
                except OSError:
                    pass

    def stop(self, v):
        v.send(15)
        assert v.wait_exit() == 0, v.describe()

    @staticmethod
    def git_init(d):
        """Enough of a repository for vigil to find its top."""
        for sub in ("refs/heads", "objects", "info"):
            (d / ".git" / sub).mkdir(parents=True, exist_ok=True)
        (d / ".git" / "HEAD").write_text("ref: refs/heads/main\n")

    # -- git itself, for the tests that check vigil against it ----------------

    def git(self, *args, cwd):
        """Runs git with the tests' HOME and XDG_CONFIG_HOME, as vigil
        has them, and without the system's configuration, which vigil
        does not read; returns its standard output."""
        if shutil.which("git", path=self.env["PATH"]) is None:
            pytest.skip("git is not installed")
        env = dict(self.env, GIT_CONFIG_NOSYSTEM="1")
        return subprocess.run(["git", *args], cwd=str(cwd), env=env, check=True,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              timeout=EVENT_TIMEOUT).stdout

    def git_repo(self, d):
        """A real repository at d, made by git init."""
        self.git("init", "-q", ".", cwd=d)

    def git_counted(self, d, files, excludes=()):
        """Of files (paths relative to d, which exist), those git does
        not ignore, sorted: `git ls-files --others --exclude-standard`
        run in d lists them, with each of excludes as an --exclude
        pattern, which git ranks above its files as vigil ranks its
        own --exclude."""
        out = self.git("ls-files", "-z", "--others", "--exclude-standard",
                       *("--exclude=" + p for p in excludes), cwd=d)
        listed = set(out.decode().split("\0"))
        return sorted(f for f in files if f in listed)


class Terminal:
    """vigil with a pseudo-terminal as its controlling terminal, on stdin,
    stdout and stderr, as in an interactive shell."""

    def __init__(self, vigil_bin, args, cwd, env):
        self.master, slave = pty.openpty()

        def take_terminal():
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            [vigil_bin, *args], cwd=cwd, env=env, stdin=slave, stdout=slave,
            stderr=slave, start_new_session=True, preexec_fn=take_terminal)
        os.close(slave)
        self.pid = self.proc.pid
        self.output = b""
        self._closing = False
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        # Polls, so that hang_up can stop it: a read blocked in another
        # thread would keep the terminal open after os.close.
        while not self._closing:
            r, _, _ = select.select([self.master], [], [], 0.02)
            if not r:
                continue
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            if not chunk:
                return
            with self._lock:
                self.output += chunk

    def text(self):
        with self._lock:
            return self.output.decode("utf-8", "replace")

    def type(self, data):
        os.write(self.master, data)

    def hang_up(self):
        """Closes the terminal, as closing its window does."""
        self._closing = True
        self._reader.join(5)
        os.close(self.master)
        self.master = None

    def foreground_group(self):
        return os.tcgetpgrp(self.master)

    def wait(self, timeout=None):
        return self.proc.wait(EVENT_TIMEOUT if timeout is None else timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            try:
                os.killpg(self.pid, 9)
            except ProcessLookupError:
                pass
            self.proc.wait(10)
        self._closing = True
        self._reader.join(5)
        if self.master is not None:
            os.close(self.master)
