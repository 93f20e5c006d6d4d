"""The command line: options, readiness, exit statuses, signals, errors."""

import json
import os
import re
import select
import shutil
import signal
import stat
import subprocess
import time

import pytest

import runtest
import vigiltest


def touch(path, data=b""):
    with open(path, "wb") as f:
        f.write(data)


# What vigil says to do about a root it may not read (cli/common.c).
DENIED_FIX = ("this user may not read it; give this user read access to it, "
              "or watch it as a user who has")


def lines_of(stderr):
    return [l for l in stderr.decode("utf-8", "replace").split("\n") if l]


# -- help and version ---------------------------------------------------------

@pytest.mark.parametrize("argv", [["--help"], ["watch", "--help"]])
def test_help_exits_0(run, argv):
    r = run(*argv)
    assert r.returncode == 0, r
    assert r.stdout.strip() or r.stderr.strip(), "no usage text printed"
    assert b"watch" in r.stdout + r.stderr


def test_version(run):
    r = run("--version")
    assert r.returncode == 0, r
    assert b"0.2.0" in r.stdout, r


# -- bad input ----------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["watch", "--bogus-option", "."],
    ["watch", "-Z", "."],
    ["--bogus-option"],
    ["watch"],                          # no path at all
    ["watch", "--events", "created,bogus", "."],
    ["watch", "--format", "%z", "."],
    ["watch", "--format", "abc%", "."],
    ["watch", "--timeout", "abc", "."],
])
def test_bad_usage_exit_1(run, tmp, argv):
    r = run(*argv, cwd=str(tmp))
    assert r.returncode == 1, r
    err = lines_of(r.stderr)
    assert err, "no error message on stderr"
    assert not any("ready" in l for l in err), err
    assert r.stdout == b"", r.stdout


def test_nonexistent_path(run, tmp):
    r = run("watch", "nope", cwd=str(tmp))
    assert r.returncode == 1, r
    assert lines_of(r.stderr) == ["vigil: nope: No such file or directory"]
    assert r.stdout == b""


def test_nonexistent_second_root(run, tmp):
    (tmp / "ok").mkdir()
    r = run("watch", "ok", "missing/deeper", cwd=str(tmp))
    assert r.returncode == 1, r
    err = lines_of(r.stderr)
    assert len(err) == 1, err
    assert "missing/deeper" in err[0] and "No such file or directory" in err[0]


def test_path_longer_than_path_max(run, tmp):
    long = "/".join(["abcdefghij"] * 500)  # 5499 characters
    r = run("watch", long, cwd=str(tmp))
    assert r.returncode == 1, r
    err = lines_of(r.stderr)
    assert len(err) == 1, err
    assert "File name too long" in err[0], err


def test_component_longer_than_name_max(run, tmp):
    r = run("watch", "x" * 300, cwd=str(tmp))
    assert r.returncode == 1, r
    assert "File name too long" in r.stderr.decode(), r


def test_unreadable_root_permission_denied(run, pubdir):
    root = os.path.join(pubdir, "root")
    os.mkdir(root)
    os.chown(root, 65534, 65534)
    os.chmod(root, 0)
    r = run("watch", root, wrapper=["setpriv", "--reuid=65534",
                                    "--regid=65534", "--clear-groups"])
    assert r.returncode == 1, r
    err = lines_of(r.stderr)
    assert err == ["vigil: %s: Permission denied: %s" % (root, DENIED_FIX)], err


# -- --backend ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["POLL", "fanotify", "INOTIFY", "inotify ", ""])
def test_backend_not_built_in(run, tmp, name):
    """A name that is not built in is refused before anything is watched,
    and the message lists the backends that are."""
    r = run("watch", "--backend", name, str(tmp))
    assert r.returncode == 1, r
    assert r.stdout == b"", r
    err = lines_of(r.stderr)
    assert err == ["vigil: --backend: '%s' is not built in; use auto, or one of: "
                   "inotify, poll" % name], err


@pytest.mark.parametrize("name", ["inotify", "auto", "poll"])
def test_backend_by_name_watches(vigil, tmp, name):
    root = tmp / "w"
    (root / "d").mkdir(parents=True)
    v = vigil("watch", "--json", "--backend", name, "--poll-interval", "50ms", str(root))
    line = v.wait_ready()
    assert re.search(r"\bready, watching 2 directories\b", line), line
    touch(str(root / "d" / "f"))
    ev = v.event()
    assert ev["type"] == "created" and ev["path"] == str(root / "d" / "f"), ev
    v.send(signal.SIGTERM)
    assert v.wait_exit() == 0, v.describe()


def test_backend_holds_for_every_root(vigil, tmp):
    a, b = tmp / "a", tmp / "b"
    a.mkdir()
    b.mkdir()
    v = vigil("watch", "--json", "--backend", "inotify", str(a), str(b))
    v.wait_ready()
    for root in (b, a):
        touch(str(root / "f"))
        ev = v.event()
        assert ev["type"] == "created" and ev["path"] == str(root / "f"), ev
        while ev["type"] != "closed":  # the write that follows
            ev = v.event()
            assert ev["path"] == str(root / "f"), ev
    v.send(signal.SIGTERM)
    assert v.wait_exit() == 0, v.describe()


def test_backend_in_help(run):
    r = run("watch", "--help")
    assert r.returncode == 0, r
    assert b"--backend NAME" in r.stdout and b"inotify" in r.stdout, r
    assert b"poll" in r.stdout and b"--poll-interval DURATION" in r.stdout, r


def test_backend_needs_a_name(run, tmp):
    r = run("watch", str(tmp), "--backend")
    assert r.returncode == 1, r
    assert lines_of(r.stderr) == [
        "vigil: option '--backend' needs a value; try 'vigil watch --help'"], r


# -- the options vigil watch and vigil run share -------------------------------

WATCH_KINDS = ("created, removed, modified, attrib, moved, closed, overflow, "
               "error, opened, closed_nowrite")
RUN_KINDS = "created, removed, modified, attrib, moved, closed, overflow"


@pytest.mark.parametrize("args,watch_err,run_err", [
    (["--exclude", "[abc"],
     "--exclude: malformed pattern '[abc' (gitignore syntax)", None),
    (["--exclude", "ok", "--exclude", "a\\"],
     "--exclude: malformed pattern 'a\\' (gitignore syntax)", None),
    (["--events", "created,bogus"],
     "--events: unknown kind in 'created,bogus' (kinds: %s)" % WATCH_KINDS,
     "--events: unknown kind in 'created,bogus' (kinds: %s)" % RUN_KINDS),
    (["--events", "opened"], None,
     "--events: unknown kind in 'opened' (kinds: %s)" % RUN_KINDS),
    (["--events", ""],
     "--events: unknown kind in '' (kinds: %s)" % WATCH_KINDS,
     "--events: unknown kind in '' (kinds: %s)" % RUN_KINDS),
    (["--backend", "kqueue"],
     "--backend: 'kqueue' is not built in; use auto, or one of: inotify, poll", None),
    (["--poll-interval", "soon"],
     "--poll-interval: 'soon' is not a duration (try 500ms, 2s or 1m)", None),
    (["--poll-interval", "0s"],
     "--poll-interval: '0s' is not a duration (try 500ms, 2s or 1m)", None),
    (["--move-wait", "long"],
     "--move-wait: 'long' is not a duration (try 10ms, 100ms or 1s)", None),
    (["--move-wait", "0ms"],
     "--move-wait: '0ms' is not a duration (try 10ms, 100ms or 1s)", None),
    (["--bogus"], "unknown option '--bogus'; try 'vigil watch --help'",
     "unknown option '--bogus'; try 'vigil run --help'"),
])
def test_shared_options_say_the_same(run, tmp, args, watch_err, run_err):
    """vigil watch and vigil run check the options they share alike, and
    say the same for the same mistake; --events names the kinds each
    takes."""
    if run_err is None:
        run_err = watch_err
    for cmd, want in (("watch", watch_err), ("run", run_err)):
        if want is None:    # watch takes these kinds
            continue
        argv = [cmd, *args, str(tmp)] if cmd == "watch" else \
               [cmd, *args, "-w", str(tmp), "--", "true"]
        r = run(*argv)
        assert r.returncode == 1, r
        assert lines_of(r.stderr) == ["vigil: " + want], r


@pytest.mark.parametrize("cmd", ["watch", "run"])
def test_shared_options_need_a_value(run, cmd):
    r = run(cmd, "--events")
    assert r.returncode == 1, r
    assert lines_of(r.stderr) == [
        "vigil: option '--events' needs a value; try 'vigil %s --help'" % cmd], r


def test_move_wait_holds_a_rename_out_until_the_next_record(vigil, tmp):
    """With a long --move-wait, a file renamed out of the tree stays a
    held first half, reported as removed as soon as the next record is
    read, not after the wait; a rename within the tree is still one
    moved."""
    root, outside = tmp / "w", tmp / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "a").write_bytes(b"a")
    (root / "b").write_bytes(b"b")
    v = vigil("watch", "--json", "--move-wait", "1h", str(root))
    v.wait_ready()
    short = vigil("watch", "--json", str(root))   # the default wait, 10 ms
    short.wait_ready()
    os.rename(str(root / "a"), str(outside / "a"))
    # The default wait gives up on the second half...
    short.events_until(lambda e: e == {"type": "removed", "path": str(root / "a"),
                                       "by_move": True, "dir": False},
                       what="a moved out, after the default wait")
    # ... the long one still waits, with nothing to report.
    line = v.try_read_line(0.5)
    assert line is False, line
    os.rename(str(root / "b"), str(root / "c"))
    evs = v.events_until(lambda e: e["path"] == str(root / "c"),
                         what="the rename of b to c")
    assert [(e["type"], e["path"]) for e in evs] == [
        ("removed", str(root / "a")), ("moved", str(root / "c"))], evs
    assert evs[1]["from"] == str(root / "b"), evs


def test_json_by_move_marks_the_top_of_a_tree_moved_in_or_out(vigil, tmp):
    """--json says by_move on the top entry of a tree renamed into the
    root and of one renamed out of it, and on nothing else: not on what is
    below it, not on a plain create or delete."""
    root, outside = tmp / "w", tmp / "outside"
    root.mkdir()
    (outside / "t" / "sub").mkdir(parents=True)
    (outside / "t" / "sub" / "f").write_bytes(b"f")
    v = vigil("watch", "--json", str(root))
    v.wait_ready()
    os.mkdir(str(root / "plain"))
    os.rename(str(outside / "t"), str(root / "t"))
    evs = v.events_until(lambda e: e["path"] == str(root / "t" / "sub" / "f"),
                         what="the tree moved in")
    assert evs == [
        {"type": "created", "path": str(root / "plain"), "dir": True},
        {"type": "created", "path": str(root / "t"), "by_move": True, "dir": True},
        {"type": "created", "path": str(root / "t" / "sub"), "dir": True},
        {"type": "created", "path": str(root / "t" / "sub" / "f"), "dir": False},
    ], evs
    os.rmdir(str(root / "plain"))
    os.rename(str(root / "t"), str(outside / "t2"))
    os.mkdir(str(root / "sentinel"))
    evs = v.events_until(lambda e: e["path"] == str(root / "sentinel"),
                         what="the sentinel")
    assert evs == [
        {"type": "removed", "path": str(root / "plain"), "dir": True},
        {"type": "removed", "path": str(root / "t" / "sub" / "f"), "dir": False},
        {"type": "removed", "path": str(root / "t" / "sub"), "dir": True},
        {"type": "removed", "path": str(root / "t"), "by_move": True, "dir": True},
        {"type": "created", "path": str(root / "sentinel"), "dir": True},
    ], evs


# -- readiness ----------------------------------------------------------------

def test_ready_line_counts_directories(vigil, tmp):
    root = tmp / "w"
    for d in ("a/b/c", "d", "e/f"):
        (root / d).mkdir(parents=True)
    (root / "file").write_bytes(b"x")
    os.symlink(".", str(root / "loop"))  # not a directory entry: no watch
    v = vigil("watch", str(root))
    line = v.wait_ready()
    # root, a, a/b, a/b/c, d, e, e/f
    assert re.search(r"\bready, watching 7 directories\b", line), line
    v.send(signal.SIGTERM)
    assert v.wait_exit() == 0
    err = v.stderr_text()
    assert sum("ready" in l for l in err.split("\n")) == 1, err


def test_ready_line_two_roots(vigil, tmp):
    (tmp / "r1" / "x").mkdir(parents=True)
    (tmp / "r2").mkdir()
    v = vigil("watch", "r1", "r2", cwd=str(tmp))
    line = v.wait_ready()
    assert re.search(r"\bready, watching 3 directories\b", line), line


@pytest.mark.parametrize("flag", ["-q", "--quiet"])
def test_quiet(vigil, tmp, flag):
    root = tmp / "w"
    root.mkdir()
    v = vigil("watch", flag, "--json", str(root))
    # No ready line to wait for: create sentinels until one is reported.
    deadline = time.monotonic() + vigiltest.EVENT_TIMEOUT
    k = 0
    while True:
        assert time.monotonic() < deadline, "quiet vigil never reported"
        assert v.running(), v.describe()
        k += 1
        touch(str(root / (".q-%d" % k)))
        line = v.try_read_line(0.2)
        if line:
            break
    ev = json.loads(line)
    # created, or closed if the file was opened before the watch was placed
    assert ev["path"].startswith(str(root / ".q-")), ev
    v.send(signal.SIGTERM)
    assert v.wait_exit() == 0
    assert v.stderr_text() == "", "stderr not silent with %s" % flag


# -- --once and --timeout -----------------------------------------------------

@pytest.mark.parametrize("flag", ["-1", "--once"])
def test_once(vigil, tmp, flag):
    root = tmp / "w"
    root.mkdir()
    v = vigil("watch", flag, "--json", str(root))
    v.wait_ready()
    touch(str(root / "a"))
    touch(str(root / "b"))
    assert v.wait_exit() == 0, v.describe()
    out = v.read_all()
    lines = [l for l in out.split(b"\n") if l]
    assert len(lines) == 1, lines
    ev = json.loads(lines[0])
    assert ev == {"type": "created", "path": str(root / "a"), "dir": False}


@pytest.mark.parametrize("flag", ["-t", "--timeout"])
def test_timeout_without_events_exits_2(vigil, tmp, flag):
    root = tmp / "w"
    root.mkdir()
    t0 = time.monotonic()
    v = vigil("watch", flag, "1", str(root))
    v.wait_ready()
    st = v.wait_exit(30)
    elapsed = time.monotonic() - t0
    assert st == 2, v.describe()
    assert elapsed >= 0.9, "exited after %.2f s, before the timeout" % elapsed
    assert elapsed < 15, "exited after %.2f s" % elapsed
    assert v.read_all() == b""


def test_timeout_with_event_exits_0(vigil, tmp):
    root = tmp / "w"
    root.mkdir()
    t0 = time.monotonic()
    v = vigil("watch", "-t", "3", "--json", str(root))
    v.wait_ready()
    touch(str(root / "a"))
    ev = v.event()
    assert ev["type"] == "created" and ev["path"] == str(root / "a")
    assert v.running(), "vigil exited at the first event despite -t"
    st = v.wait_exit(30)
    elapsed = time.monotonic() - t0
    assert st == 0, v.describe()
    assert 2.9 <= elapsed < 20, elapsed


# -- signals ------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_exits_0_fast(vigil, tmp, sig):
    root = tmp / "w"
    root.mkdir()
    v = vigil("watch", "--json", str(root))
    v.wait_ready()
    v.sync(str(root), str(root))
    t0 = time.monotonic()
    v.send(sig)
    st = v.wait_exit(10)
    elapsed = time.monotonic() - t0
    assert st == 0, v.describe()
    # The spec says 100 ms; allow 1 s for sanitizer builds.
    assert elapsed < 1.0, "took %.3f s to exit after %s" % (elapsed, sig)
    assert v.read_all() == b""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_writes_events_already_read(vigil, tmp, sig):
    """A signal during a burst: exit 0, and what was written is whole."""
    root = tmp / "w"
    root.mkdir()
    v = vigil("watch", "--json", str(root))
    v.wait_ready()
    for i in range(300):
        touch(str(root / ("f%03d" % i)))
    first = v.read_line()
    assert first is not None
    t0 = time.monotonic()
    v.send(sig)
    st = v.wait_exit(10)
    elapsed = time.monotonic() - t0
    assert st == 0, v.describe()
    assert elapsed < 1.0, "took %.3f s to exit after %s" % (elapsed, sig)
    rest = v.read_all()
    assert rest == b"" or rest.endswith(b"\n"), "partial line at exit"
    lines = [first] + [l for l in rest.split(b"\n") if l]
    names = []
    for l in lines:
        ev = json.loads(l)
        if ev["type"] == "created":
            names.append(os.path.basename(ev["path"]))
    # Whatever was reported is a prefix of what happened, in order.
    assert names == ["f%03d" % i for i in range(len(names))], names[:20]


def read_pipe_to_end(fd):
    out = b""
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return out
        out += chunk


@pytest.mark.parametrize("sig,fmt", [
    (signal.SIGINT, ["--json"]),
    (signal.SIGTERM, ["--json"]),
    # Events that end in no newline: the count is of events, not of lines.
    (signal.SIGTERM, ["--format", "%p\\0"])])
def test_signal_ends_a_write_to_a_reader_that_does_not_read(vigil, tmp, sig,
                                                           fmt):
    """Standard output is a full pipe nobody reads: a stop request still
    ends vigil at once, and stderr says how many events were not written."""
    root = tmp / "w"
    root.mkdir()
    sep = b"\0" if "--format" in fmt else b"\n"
    r, w = vigiltest.small_pipe()
    try:
        v = vigil("watch", *fmt, str(root), stdout=w)
        os.close(w)
        w = None
        v.wait_ready()
        # Every record is queued before vigil reads any, so that vigil has
        # read them all when it blocks: each is one `created` event.
        n = 200
        os.kill(v.pid, signal.SIGSTOP)
        for i in range(n):
            os.mknod(str(root / ("f%03d" % i)), 0o644 | stat.S_IFREG)
        os.kill(v.pid, signal.SIGCONT)
        runtest.wait_until(lambda: vigiltest.blocked_writing(v.pid, 1),
                           what="vigil to block writing to the full pipe")
        t0 = time.monotonic()
        v.send(sig)
        st = v.wait_exit(10)
        took = time.monotonic() - t0
        assert st == 0, v.describe()
        # DRAIN_MS (50 ms) for what is left, and slack for sanitizer builds.
        assert took < 1.0, "took %.3f s to exit after %s" % (took, sig)
        written = read_pipe_to_end(r).split(sep)[:-1]  # whole events
        names = [os.path.basename(json.loads(l)["path"] if sep == b"\n"
                                  else os.fsdecode(l)) for l in written]
        assert names == ["f%03d" % i for i in range(len(names))], names
        assert len(names) < n
        err = lines_of(v.stderr_text().encode())
        assert err[-1] == ("vigil: stopped before writing %d events: "
                           "standard output is not being read"
                           % (n - len(names))), err
    finally:
        os.close(r)
        if w is not None:
            os.close(w)


def _strace_signal_at_add_watch(log, sig, nth):
    """argv words: run the rest under strace, which raises sig at the nth
    inotify_add_watch, that is during setup."""
    return ["strace", "-f", "-o", str(log), "-e", "trace=inotify_add_watch",
            "-e", "inject=inotify_add_watch:signal=%s:when=%d"
            % (signal.Signals(sig).name, nth)]


def _env_for_strace():
    # LeakSanitizer cannot run under ptrace; the rest of ASan can.
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    return env


def _big_tree(root, dirs):
    for i in range(dirs // 50):
        for j in range(50):
            (root / ("d%d" % i) / ("e%d" % j)).mkdir(parents=True)
    return 1 + dirs // 50 + dirs  # the root, the d*, the e*


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_setup_stops_it_without_ready(vigil, tmp, sig):
    """A stop request during setup is obeyed at once, not after the tree is
    watched: no ready line, but a line that says setup was stopped, and
    status 0 (a supervisor stopping vigil; a script waiting for ready)."""
    root = tmp / "w"
    total = _big_tree(root, 1000)
    log = tmp / "trace"
    v = vigil("watch", "--json", str(root), env=_env_for_strace(),
              wrapper=_strace_signal_at_add_watch(log, sig, 3))
    assert v.wait_exit() == 0, v.describe()
    assert v.read_all() == b""
    assert lines_of(v.stderr_text().encode()) == [
        "vigil: stopped during setup, before ready"], v.describe()
    trace = log.read_text()
    assert "--- %s" % signal.Signals(sig).name in trace, trace[-2000:]
    placed = trace.count("inotify_add_watch(")
    # Setup is given up at its next check (every 256 directories).
    assert placed < total // 2, "%d of %d watches placed" % (placed, total)


def test_signal_during_setup_quiet(vigil, tmp):
    root = tmp / "w"
    _big_tree(root, 300)
    log = tmp / "trace"
    v = vigil("watch", "-q", str(root), env=_env_for_strace(),
              wrapper=_strace_signal_at_add_watch(log, signal.SIGTERM, 3))
    assert v.wait_exit() == 0, v.describe()
    assert v.read_all() == b""
    assert v.stderr_text() == ""


def test_signal_while_idle_before_events(vigil, tmp):
    root = tmp / "w"
    root.mkdir()
    v = vigil("watch", str(root))
    v.wait_ready()
    v.send(signal.SIGTERM)
    assert v.wait_exit(10) == 0
    assert v.read_all() == b""


def test_output_is_not_held_back_in_a_pipe(vigil, tmp):
    """One small event reaches the pipe while vigil keeps running."""
    root = tmp / "w"
    root.mkdir()
    for args in (["--json"], [], ["--format", "%e %p"]):
        v = vigil("watch", *args, str(root))
        v.wait_ready()
        touch(str(root / ("one-%d" % len(args))))
        line = v.read_line(10)
        assert line is not None and b"one-" in line, line
        assert v.running()
        v.close()


# -- exit 3 when every root is gone -------------------------------------------

def test_two_roots_exit_3_only_when_both_gone(vigil, tmp):
    r1, r2 = tmp / "r1", tmp / "r2"
    (r1 / "sub").mkdir(parents=True)
    (r1 / "sub" / "f").write_bytes(b"x")
    (r2 / "g").mkdir(parents=True)
    v = vigil("watch", "--json", "r1", "r2", cwd=str(tmp))
    v.wait_ready()
    rp1 = vigiltest.Replay("r1", vigiltest.scan(str(r1)))
    shutil.rmtree(str(r1))
    evs = v.events_until(
        lambda e: e["type"] == "removed" and e["path"] == "r1",
        what="removed r1")
    for e in evs:
        if (e.get("path") or "").startswith("r1"):
            rp1.apply(e)
    assert rp1.root_gone and rp1.tree() == {}
    assert v.running(), "vigil exited while r2 is still there"
    evs = v.sync(str(r2), "r2")
    assert [e["path"] for e in evs] == ["r2/.sentinel-1"], evs
    shutil.rmtree(str(r2))
    assert v.wait_exit() == 3, v.describe()
    rest = [json.loads(l) for l in v.read_all().split(b"\n") if l]
    assert rest[-1] == {"type": "removed", "path": "r2", "dir": True}, rest
    assert all(e["type"] == "removed" for e in rest), rest
    assert sorted(e["path"] for e in rest[:-1]) == [
        "r2/.sentinel-1", "r2/g"], rest


# -- options together ---------------------------------------------------------

def test_once_counts_only_reported_events(vigil, tmp):
    root = tmp / "w"
    root.mkdir()
    v = vigil("watch", "-1", "--json", "--events", "removed", str(root))
    v.wait_ready()
    touch(str(root / "a"), b"x")      # created, modified, closed: filtered
    os.chmod(str(root / "a"), 0o600)  # attrib: filtered
    os.unlink(str(root / "a"))
    assert v.wait_exit() == 0, v.describe()
    lines = [l for l in v.read_all().split(b"\n") if l]
    assert [json.loads(l) for l in lines] == [
        {"type": "removed", "path": str(root / "a"), "dir": False}]


def test_timeout_with_only_filtered_events_exits_2(vigil, tmp):
    root = tmp / "w"
    root.mkdir()
    v = vigil("watch", "-t", "2", "--events", "removed", str(root))
    v.wait_ready()
    touch(str(root / "a"), b"x")
    assert v.wait_exit(30) == 2, v.describe()
    assert v.read_all() == b""


def test_root_gone_exit_3_even_when_removed_is_filtered(vigil, tmp):
    root = tmp / "w"
    (root / "d").mkdir(parents=True)
    v = vigil("watch", "--json", "--events", "created", str(root))
    v.wait_ready()
    shutil.rmtree(str(root))
    assert v.wait_exit() == 3, v.describe()
    assert v.read_all() == b""


def test_opened_and_closed_nowrite_only_when_listed(vigil, tmp):
    root = tmp / "w"
    (root / "d").mkdir(parents=True)
    touch(str(root / "d" / "f"), b"x")
    every = vigil("watch", "--json", str(root))
    asked = vigil("watch", "--json", "--events",
                  "opened,closed_nowrite,created,closed", str(root))
    every.wait_ready()
    asked.wait_ready()
    with open(str(root / "d" / "f"), "rb") as f:
        f.read()
    os.listdir(str(root / "d"))          # directories: never reported
    touch(str(root / "s"), b"x")
    done = lambda e: e["type"] == "closed" and e["path"].endswith("/s")
    f_ = str(root / "d" / "f")
    s_ = str(root / "s")
    assert asked.events_until(done, what="closed s") == [
        {"type": "opened", "path": f_, "dir": False},
        {"type": "closed_nowrite", "path": f_, "dir": False},
        {"type": "created", "path": s_, "dir": False},
        {"type": "opened", "path": s_, "dir": False},
        {"type": "closed", "path": s_, "dir": False}]
    assert [e["type"] for e in every.events_until(done, what="closed s")] == [
        "created", "modified", "closed"]


def test_closed_stdout_ends_vigil(vigil_bin, tmp):
    """A reader that goes away (| head -1) must not leave vigil running."""
    root = tmp / "w"
    root.mkdir()
    r, w = os.pipe()
    p = subprocess.Popen([vigil_bin, "watch", str(root)],
                         stdin=subprocess.DEVNULL, stdout=w,
                         stderr=subprocess.PIPE, start_new_session=True)
    os.close(w)
    try:
        ready = select.select([p.stderr], [], [], vigiltest.EVENT_TIMEOUT)[0]
        assert ready and b"ready" in p.stderr.readline()
        touch(str(root / "first"))
        assert select.select([r], [], [], vigiltest.EVENT_TIMEOUT)[0]
        assert b"first" in os.read(r, 4096)
        os.close(r)
        r = None
        deadline = time.monotonic() + vigiltest.EVENT_TIMEOUT
        i = 0
        while p.poll() is None:
            assert time.monotonic() < deadline, "vigil kept running"
            i += 1
            touch(str(root / ("more%d" % i)))
            try:
                p.wait(0.05)
            except subprocess.TimeoutExpired:
                pass
    finally:
        if r is not None:
            os.close(r)
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        p.stderr.close()


def test_ready_count_large_tree(vigil, tmp):
    root = tmp / "w"
    for i in range(40):
        for j in range(50):
            (root / ("d%d" % i) / ("e%d" % j)).mkdir(parents=True)
    v = vigil("watch", str(root))
    line = v.wait_ready(60)
    assert "ready, watching %d directories" % (1 + 40 + 40 * 50) in line
    assert vigiltest.count_watches(v.pid) == 1 + 40 + 40 * 50


def test_raw_json_line_for_created(vigil, tmp):
    root = tmp / "w"
    root.mkdir()
    v = vigil("watch", "--json", "w", cwd=str(tmp))
    v.wait_ready()
    os.mkdir(str(root / "d"))
    assert v.read_line() == b'{"type":"created","path":"w/d","dir":true}'


def test_attrib_on_the_root_itself(vigil, tmp):
    root = tmp / "w"
    root.mkdir()
    v = vigil("watch", "--json", "w", cwd=str(tmp))
    v.wait_ready()
    os.chmod(str(root), 0o700)
    ev = v.event()
    assert ev == {"type": "attrib", "path": "w", "dir": True}, ev


def test_human_output_escapes_control_characters(vigil, tmp):
    root = tmp / "w"
    root.mkdir()
    v = vigil("watch", ".", cwd=str(root))
    v.wait_ready()
    os.mknod(os.path.join(str(root), "evil\nremoved  fake\x1b[31m"),
             0o644 | stat.S_IFREG)
    os.mknod(str(root / "end"), 0o644 | stat.S_IFREG)
    first = v.read_line()
    second = v.read_line()
    assert first.startswith(b"created  ./evil"), first
    assert b"\x1b" not in first and b"\n" not in first, first
    assert second == b"created  ./end", (first, second)


def test_format_writes_path_bytes_unchanged(vigil, tmp):
    root = tmp / "w"
    root.mkdir()
    v = vigil("watch", "--format", "%p", ".", cwd=str(root))
    v.wait_ready()
    os.mknod(os.path.join(os.fsencode(str(root)), b"caf\xe9\xff"),
             0o644 | stat.S_IFREG)
    assert v.read_line() == b"./caf\xe9\xff"


def test_rename_between_two_roots(vigil, tmp):
    r1, r2 = tmp / "r1", tmp / "r2"
    (r1 / "d" / "sub").mkdir(parents=True)
    (r1 / "d" / "sub" / "f").write_bytes(b"x")
    (r1 / "g").write_bytes(b"y")
    r2.mkdir()
    v = vigil("watch", "--json", "r1", "r2", cwd=str(tmp))
    v.wait_ready()
    rp = {"r1": vigiltest.Replay("r1", vigiltest.scan(str(r1))),
          "r2": vigiltest.Replay("r2", vigiltest.scan(str(r2)))}
    os.rename(str(r1 / "d"), str(r2 / "d"))
    os.rename(str(r1 / "g"), str(r2 / "g"))
    os.rename(str(r2 / "d" / "sub"), str(r1 / "sub"))
    evs = v.sync(str(r2), "r2")
    for e in evs:
        if e["type"] == "moved":
            assert e["from"].split("/")[0] == e["path"].split("/")[0], e
        rp[e["path"].split("/")[0]].apply(e)
    rp["r1"].check(vigiltest.scan(str(r1)))
    rp["r2"].check(vigiltest.scan(str(r2)))


def test_works_under_an_address_space_limit(vigil_bin, tmp):
    """The tree's arena reserves address space up front; under ulimit -v it
    must settle for less rather than fail to start."""
    with open(vigil_bin, "rb") as f:
        image = f.read()
    if b"__asan_init" in image or b"__tsan_init" in image:
        pytest.skip("a sanitizer's shadow memory needs more address space than the limit")
    root = tmp / "w"
    (root / "d").mkdir(parents=True)
    script = 'ulimit -v 1000000 && exec "$0" watch --json -t 0.3 "$1"'
    p = subprocess.run(["sh", "-c", script, vigil_bin, str(root)],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=vigiltest.EVENT_TIMEOUT)
    assert b"ready, watching 2 directories" in p.stderr, p.stderr
    assert p.returncode == 2, (p.returncode, p.stderr)



def _traced_child(tracer_pid):
    """The pid of the one process that strace (tracer_pid) runs."""
    with open("/proc/%d/task/%d/children" % (tracer_pid, tracer_pid)) as f:
        kids = f.read().split()
    return int(kids[0]) if kids else None


def _blocked_for_ever(pid):
    """True when pid sleeps in a wait with no timeout: vigil's idle wait.

    That is epoll_wait with the Linux platform layer, poll (or ppoll) with
    the POSIX one (src/platform/)."""
    try:
        with open("/proc/%d/syscall" % pid) as f:
            words = f.read().split()
    except OSError:
        return False
    if len(words) <= 4:
        return False
    # x86_64: epoll_wait is 232, epoll_pwait 281, epoll_pwait2 441; the
    # fourth argument is the timeout, an int: -1 for a wait without one.
    if words[0] in ("232", "281", "441"):
        return int(words[4], 16) & 0xFFFFFFFF == 0xFFFFFFFF
    # poll is 7, whose third argument is the timeout (-1); ppoll is 271,
    # whose third is a pointer to it (NULL).
    if words[0] == "7":
        return int(words[3], 16) & 0xFFFFFFFF == 0xFFFFFFFF
    return words[0] == "271" and int(words[3], 16) == 0


def _still_asleep(pid):
    """True when pid, idle in a wait with no timeout, is still in that
    same sleep a while later: no context switch in between. A wait that
    a pending wakeup ends at once is not taken for the bug."""
    def switches():
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None
    before = switches()
    time.sleep(0.5)
    return (before is not None and _blocked_for_ever(pid)
            and switches() == before)


@pytest.mark.parametrize("nth", range(1, 8))
def test_signal_at_every_read_of_the_queue(vigil, tmp, nth):
    """SIGTERM raised at the nth read of the inotify descriptor.

    strace delivers the signal at exactly that system call, so the cases
    between them put it at each point of the loop: the non-blocking read
    before anything happened, the check inside the blocking wait, the read
    that returns a record, and the non-blocking read that finds the queue
    empty right after an event. Wherever it lands, vigil exits 0 at once.
    (A wakeup taken by the non-blocking read used to leave vigil blocked
    for ever in the next wait.)

    Each round makes one directory (one kernel record) only once vigil is
    idle again and the signal has not been raised yet, so a change never
    wakes a vigil that missed its signal.
    """
    root = tmp / "w"
    root.mkdir()
    log = tmp / "trace"
    trace = ["strace", "-f", "-o", str(log), "-P", "anon_inode:inotify",
             "-e", "trace=read",
             "-e", "inject=read:signal=SIGTERM:when=%d" % nth]
    # LeakSanitizer cannot run under ptrace; the rest of ASan can.
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    v = vigil("watch", "--json", str(root), wrapper=trace, env=env)
    v.wait_ready()
    # strace started vigil before the ready line, so no child left means
    # vigil has already exited (at the first read, right after the ready
    # line, it can), and strace is about to: there is nothing to watch.
    pid = _traced_child(v.pid)
    made = 0
    deadline = time.monotonic() + vigiltest.EVENT_TIMEOUT
    while pid is not None and v.proc.poll() is None:
        assert time.monotonic() < deadline, v.describe()
        # The log first: a wake from elsewhere (a change of the mount
        # table, which vigil follows) may make the read that raises the
        # signal right after vigil was seen idle.
        signalled = b"--- SIGTERM" in log.read_bytes()
        if not _blocked_for_ever(pid):
            time.sleep(0.005)
            continue
        if signalled and _still_asleep(pid):
            # The signal was raised and vigil went back to sleep: the bug.
            v.fail("vigil is blocked after SIGTERM at read %d" % nth)
        if signalled:
            continue
        assert made < nth, "%d rounds and no signal yet" % made
        made += 1
        (root / ("d%d" % made)).mkdir()
        # Until vigil has read the record, it may still look idle.
        while v.proc.poll() is None and len(v.lines) < made:
            v.try_read_line(0.05)
    assert v.wait_exit(5) == 0, v.describe()
    assert b"--- SIGTERM" in log.read_bytes()
    rest = v.read_all()
    assert rest == b"" or rest.endswith(b"\n"), "partial line at exit"
