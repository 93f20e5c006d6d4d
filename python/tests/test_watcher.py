"""vigil.Watcher: events, paths, options, errors and life cycle."""
import collections
import contextlib
import itertools
import errno
import os
import pickle
import re
import select
import shutil
import subprocess
import sys
import threading
import time

import pytest

import vigil
from vigilpy import (TIMEOUT, UNDER_ASAN, created, fd_count, fds, read_until, run_python, sentinel,
                     settle, simple, touch)


def test_scripted_scenario(root):
    d = os.path.join(root, "d")
    with vigil.Watcher(root) as w:
        os.mkdir(d)
        evs = read_until(w, created(d))
        with open(os.path.join(d, "f"), "w") as f:
            f.write("hello")
        evs += read_until(w, lambda e: e.kind == "closed")
        os.rename(os.path.join(d, "f"), os.path.join(d, "g"))
        os.chmod(os.path.join(d, "g"), 0o600)
        os.unlink(os.path.join(d, "g"))
        os.rmdir(d)
        evs += read_until(w, lambda e: e.kind == "removed" and e.path == d)
    assert simple(evs, root) == [
        ("created", "d", None, True),
        ("created", "d/f", None, False),
        ("modified", "d/f", None, False),
        ("closed", "d/f", None, False),
        ("moved", "d/g", "d/f", False),
        ("attrib", "d/g", None, False),
        ("removed", "d/g", None, False),
        ("removed", "d", None, True),
    ]
    assert not any(e.synthetic for e in evs)


def test_opened_and_closed_nowrite_only_when_named(root):
    f = os.path.join(root, "f")
    touch(f)
    kinds = ["opened", "closed_nowrite", "created", "closed"]
    with vigil.Watcher(root) as every, vigil.Watcher(root, events=kinds) as asked:
        with open(f, "rb") as fh:
            fh.read()
        os.listdir(root)
        s = os.path.join(root, "s")
        touch(s, b"x")
        done = lambda e: e.kind == "closed" and e.path == s
        assert simple(read_until(asked, done), root) == [
            ("opened", "f", None, False),
            ("closed_nowrite", "f", None, False),
            ("created", "s", None, False),
            ("opened", "s", None, False),
            ("closed", "s", None, False),
        ]
        assert [e.kind for e in read_until(every, done)] == ["created", "modified", "closed"]
    assert (vigil.OPENED, vigil.CLOSED_NOWRITE) == ("opened", "closed_nowrite")


def test_files_in_a_new_directory_are_not_missed(root):
    with vigil.Watcher(root) as w:
        for i in range(20):
            sub = os.path.join(root, "n%d" % i, "deeper")
            os.makedirs(sub)
            for j in range(10):
                touch(os.path.join(sub, "f%d" % j))
        evs = sentinel(w, root)
    paths = [e.path for e in evs if e.kind == "created"]
    assert len(paths) == len(set(paths)), "duplicates"
    for i in range(20):
        for j in range(10):
            assert os.path.join(root, "n%d" % i, "deeper", "f%d" % j) in paths


def test_event_objects(root):
    with vigil.Watcher(root) as w:
        os.mkdir(os.path.join(root, "a"))
        ev = read_until(w, lambda e: True)[0]
    assert isinstance(ev, vigil.Event)
    assert (ev.kind, ev.path, ev.from_path, ev.is_dir, ev.synthetic, ev.error) == \
        ("created", os.path.join(root, "a"), None, True, False, None)
    assert ev.kind is vigil.CREATED
    with pytest.raises(AttributeError):
        ev.path = "x"
    with pytest.raises(AttributeError):
        ev.anything = 1
    assert pickle.loads(pickle.dumps(ev)) == ev
    assert hash(pickle.loads(pickle.dumps(ev))) == hash(ev)
    assert len({ev, vigil.Event("created", ev.path, is_dir=True)}) == 1
    assert ev != vigil.Event("removed", ev.path, is_dir=True)
    assert "created" in repr(ev)
    with pytest.raises(ValueError):
        vigil.Event("exploded", "x")


def test_bytes_in_bytes_out_and_surrogateescape(root):
    raw = os.fsencode(root) + b"/caf\xe9-\xff"
    with vigil.Watcher(os.fsencode(root)) as w:
        os.mkdir(raw)
        ev = read_until(w, lambda e: True)[0]
    assert ev.path == raw and isinstance(ev.path, bytes)
    with vigil.Watcher(root) as w:
        os.rename(raw, raw + b"2")
        ev = read_until(w, lambda e: True)[0]
    assert isinstance(ev.path, str) and ev.kind == "moved"
    assert os.fsencode(ev.path) == raw + b"2"
    assert os.fsencode(ev.from_path) == raw
    assert ev.path == os.fsdecode(raw + b"2")


def test_pathlike_and_several_roots(tmp):
    a, b = tmp / "a", tmp / "b"
    a.mkdir()
    b.mkdir()
    with vigil.Watcher([a, str(b)]) as w:
        assert w.paths == (str(a), str(b))
        touch(str(a / "x"))
        touch(str(b / "y"))
        evs = read_until(w, created(str(b / "y")))
        evs += [] if any(e.path == str(a / "x") for e in evs) else read_until(w, created(str(a / "x")))
    with pytest.raises(TypeError):
        vigil.Watcher([str(a), bytes(b)])


def test_add_and_remove_roots(tmp):
    a, b = str(tmp / "a"), str(tmp / "b")
    os.mkdir(a)
    os.mkdir(b)
    with vigil.Watcher([]) as w:
        assert w.read(0) == []
        w.add(a)
        touch(os.path.join(a, "1"))
        read_until(w, created(os.path.join(a, "1")))
        w.add(b, recursive=False)
        assert w.stats()["roots"] == 2
        with pytest.raises(ValueError):
            w.add(b)
        w.remove(a)
        touch(os.path.join(a, "2"))
        evs = sentinel(w, b)
        assert not any(e.path.startswith(a) for e in evs)
        with pytest.raises(ValueError):
            w.remove(a)
        assert w.paths == (b,)


def test_overlapping_roots_report_once_and_outlive_each_other(tmp):
    d = str(tmp / "d")
    sub = os.path.join(d, "sub")
    os.makedirs(sub)
    with pytest.raises(ValueError):
        vigil.Watcher([d, d + "/"])
    for first, second in ((d, sub), (sub, d)):
        with vigil.Watcher([first, second]) as w:
            assert w.stats()["watches"] == 2
            touch(os.path.join(sub, "x"))
            evs = sentinel(w, d)
            # The outer root reports it, once.
            assert [e.path for e in evs if e.kind == "created"] == [
                os.path.join(sub, "x"), os.path.join(d, "sentinel")]
            os.unlink(os.path.join(d, "sentinel"))
            # Either root goes on fully when the other is removed.
            w.remove(d)
            touch(os.path.join(sub, "y"))
            os.mkdir(os.path.join(sub, "n"))
            touch(os.path.join(sub, "n", "z"))
            evs = read_until(w, created(os.path.join(sub, "n", "z")))
            assert [(e.kind, e.path) for e in evs if e.kind in ("created", "removed")] == [
                ("created", os.path.join(sub, "y")), ("created", os.path.join(sub, "n")),
                ("created", os.path.join(sub, "n", "z"))]
            w.add(d)
            w.remove(sub)
            os.unlink(os.path.join(sub, "y"))
            evs = read_until(w, lambda e: e.kind == "removed")
            assert [(e.kind, e.path) for e in evs] == [("removed", os.path.join(sub, "y"))]
        for name in ("x", "n/z", "n"):
            p = os.path.join(sub, name)
            os.rmdir(p) if os.path.isdir(p) else os.unlink(p)


def test_an_inner_root_the_outer_one_stops_holding_is_reported_anew(tmp):
    d = str(tmp / "d")
    sub = os.path.join(d, "sub")
    os.makedirs(os.path.join(sub, "deep"))
    touch(os.path.join(sub, "deep", "y"))
    with vigil.Watcher([d, sub], ignore_file=".gitignore") as w:
        # d now leaves sub out: it reports sub's entries removed, and sub,
        # still a root, reports them created again, so that replay holds.
        touch(os.path.join(d, ".gitignore"), b"sub/\n")
        evs = read_until(w, created(os.path.join(sub, "deep", "y")))
        assert [(e.kind, e.path) for e in evs if e.kind in ("created", "removed")] == [
            ("created", os.path.join(d, ".gitignore")),
            ("removed", os.path.join(sub, "deep", "y")),
            ("removed", os.path.join(sub, "deep")),
            ("removed", sub),
            ("created", sub),
            ("created", os.path.join(sub, "deep")),
            ("created", os.path.join(sub, "deep", "y"))]
        touch(os.path.join(sub, "z"))
        evs = read_until(w, created(os.path.join(sub, "z")))
        assert [e.path for e in evs if e.kind == "created"] == [os.path.join(sub, "z")]


def test_exclude_events_and_recursive(root):
    os.mkdir(os.path.join(root, "sub"))
    os.mkdir(os.path.join(root, "node_modules"))
    with vigil.Watcher(root, exclude=["*.tmp", "node_modules"], events=["created", "removed"]) as w:
        assert w.stats()["watches"] == 2
        touch(os.path.join(root, "a.tmp"))
        touch(os.path.join(root, "node_modules", "x"))
        touch(os.path.join(root, "sub", "kept"), b"data")
        os.unlink(os.path.join(root, "sub", "kept"))
        evs = sentinel(w, root)
    assert simple(evs, root) == [("created", "sub/kept", None, False), ("removed", "sub/kept", None, False),
                                 ("created", "sentinel", None, False)]
    with vigil.Watcher(root, recursive=False) as w:
        touch(os.path.join(root, "sub", "deep"))
        evs = sentinel(w, root, "sentinel2")
    assert [e.path for e in evs if e.kind == "created"] == [os.path.join(root, "sentinel2")]
    with pytest.raises(ValueError):
        vigil.Watcher(root, events=["exploded"])
    with pytest.raises(ValueError):
        vigil.Watcher(root, exclude=["[unclosed"])


def test_ignore_file(root):
    touch(os.path.join(root, ".gitignore"), b"*.o\n")
    with vigil.Watcher(root, ignore_file=".gitignore") as w:
        touch(os.path.join(root, "x.o"))
        evs = sentinel(w, root)
    assert [e.path for e in evs if e.kind == "created"] == [os.path.join(root, "sentinel")]


def test_add_with_patterns_and_ignore_file_of_its_own(root):
    # add()'s exclude and ignore_file replace the Watcher's for that root
    # only, relative to it; None keeps the Watcher's, [] and "" mean none.
    names = ("a", "b", "c", "d")
    for n in names:
        os.makedirs(os.path.join(root, n, "gen"))
        touch(os.path.join(root, n, ".gitignore"), b"*.o\n")
        touch(os.path.join(root, n, ".vigilignore"), b"*.v\n")
    a, b, c, d = (os.path.join(root, n) for n in names)
    with vigil.Watcher(a, exclude=["*.tmp"], ignore_file=".gitignore") as w:
        w.add(b, exclude=["/gen", "*.log"])
        w.add(c, exclude=[], ignore_file="")
        w.add(d, ignore_file=".vigilignore")
        # b/gen is not watched: the others' gen directories are.
        assert w.stats()["watches"] == 7
        for n in names:
            for f in ("x.tmp", "x.log", "x.o", "x.v", "gen/f"):
                touch(os.path.join(root, n, f))
        evs = sentinel(w, d)
        got = sorted(os.path.relpath(e.path, root) for e in evs if e.kind == "created")
        assert got == sorted([
            "a/x.log", "a/x.v", "a/gen/f",
            "b/x.tmp", "b/x.v",
            "c/x.tmp", "c/x.log", "c/x.o", "c/x.v", "c/gen/f",
            "d/x.log", "d/x.o", "d/gen/f",
            "d/sentinel"])
        with pytest.raises(ValueError):
            w.add(os.path.join(root, "a", "gen"), exclude=["[unclosed"])
        with pytest.raises(TypeError):
            w.add(os.path.join(root, "a", "gen"), exclude="*.o")
        assert w.paths == (a, b, c, d)


def test_add_with_base_patterns_below_its_ignore_files(root):
    # add()'s base_exclude ranks below the root's ignore files, as git's
    # info/exclude does below its .gitignore files; exclude ranks above
    # them all.
    os.makedirs(os.path.join(root, "gen"))
    touch(os.path.join(root, ".gitignore"), b"!keep.o\n!top.o\n")
    with vigil.Watcher([], ignore_file=".gitignore") as w:
        w.add(root, exclude=["top.o"], base_exclude=["*.o", "gen/", "!gen/x"])
        assert w.stats()["watches"] == 1
        for f in ("a.o", "keep.o", "top.o", "gen/x", "b.c"):
            touch(os.path.join(root, f))
        evs = sentinel(w, root)
        got = sorted(os.path.relpath(e.path, root) for e in evs if e.kind == "created")
        assert got == ["b.c", "keep.o", "sentinel"]
        with pytest.raises(ValueError):
            w.add(os.path.join(root, "gen"), base_exclude=["[unclosed"])
        with pytest.raises(TypeError):
            w.add(os.path.join(root, "gen"), base_exclude="*.o")
        assert w.paths == (root,)


def test_backend_choice(root):
    assert vigil.backends() == ("inotify", "poll")
    for name in (None, "auto", "inotify", "poll"):
        with vigil.Watcher(root, backend=name, poll_interval=0.05) as w:
            touch(os.path.join(root, "f-%s" % name))
            read_until(w, created(os.path.join(root, "f-%s" % name)))
    for name in ("POLL", "INOTIFY", ""):
        with pytest.raises(ValueError) as e:
            vigil.Watcher(root, backend=name)
        assert str(e.value) == ("backend '%s' is not built in; use 'auto' or one of "
                                "('inotify', 'poll')" % name)
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError):
            vigil.Watcher(root, backend="poll", poll_interval=bad)
    with pytest.raises(TypeError):
        vigil.Watcher(root, backend=1)


def test_backend_per_root(tmp):
    a, b, c = (os.path.join(tmp, n) for n in "abc")
    for d in (a, b, c):
        os.mkdir(d)
    first = vigil.backends()[0]
    with vigil.Watcher(a) as w:
        assert w.backend(a) == first
        w.add(b, backend=first)
        assert w.backend(b) == first
        touch(os.path.join(b, "f"))
        read_until(w, created(os.path.join(b, "f")))
        with pytest.raises(ValueError) as e:
            w.add(c, backend="no-such")
        assert str(e.value) == ("backend 'no-such' is not built in; use 'auto' or one of %r"
                                % (vigil.backends(),))
        with pytest.raises(TypeError):
            w.add(c, backend=1)
        assert w.paths == (a, b)
        with pytest.raises(ValueError):
            w.backend(c)  # not a root
        w.add(c, backend="auto")
        assert w.backend(c) == first
        w.remove(b)
        with pytest.raises(ValueError):
            w.backend(b)


def test_overlapping_roots_of_two_backends(tmp):
    if "poll" not in vigil.backends():
        pytest.skip("no polling backend is built in")
    a, other = os.path.join(tmp, "a"), os.path.join(tmp, "other")
    os.makedirs(os.path.join(a, "sub"))
    os.mkdir(other)
    with vigil.Watcher(a, backend="inotify") as w:
        # Each backend would report the change: refused, either way round.
        with pytest.raises(ValueError) as e:
            w.add(os.path.join(a, "sub"), backend="poll")
        assert "another backend" in str(e.value)
        w.add(other, backend="poll")
        assert (w.backend(a), w.backend(other)) == ("inotify", "poll")
        with pytest.raises(ValueError):
            w.add(tmp)
        # A polled root is read when its pass is due, which read() waits for.
        touch(os.path.join(other, "f"))
        read_until(w, created(os.path.join(other, "f")))
        assert w.paths == (a, other)


def _wait_as_told(w, bound):
    """Waits as a program with its own loop does: on fileno() alone, no
    longer than timeout(). Returns the events then ready."""
    t = w.timeout()
    left = bound - time.monotonic()
    assert left > 0, "waited past the bound"
    select.select([w.fileno()], [], [], left if t is None else min(t, left))
    return w.read(0)


def test_a_wait_on_fileno_and_timeout_misses_nothing(tmp):
    # On the POSIX platform layer vigil_fd follows neither the kernel's
    # queue nor the deadlines; fileno() and timeout() must, on both layers.
    root, out = os.path.join(tmp, "root"), os.path.join(tmp, "out")
    os.mkdir(root)
    os.mkdir(out)
    f, new = os.path.join(root, "f"), os.path.join(root, "new")
    touch(f)
    with vigil.Watcher(root) as w:
        fd = w.fileno()
        timer = threading.Timer(0.05, touch, (new,))
        timer.start()
        got, bound = [], time.monotonic() + TIMEOUT
        while not any(e.kind == "created" and e.path == new for e in got):
            got += _wait_as_told(w, bound)
        timer.join()
        # Held back for its pair, then settled when timeout() runs out.
        os.rename(f, os.path.join(out, "f"))
        got, bound = [], time.monotonic() + TIMEOUT
        while not any(e.kind == "removed" and e.path == f for e in got):
            got += _wait_as_told(w, bound)
        assert w.fileno() == fd  # the same descriptor for the watcher's life
    assert w.closed


def test_an_ignore_file_changed_later(root):
    # What a new or edited ignore file excludes leaves the watched tree
    # (removed), and what it no longer excludes comes back (created).
    w, mk = os.path.join(root, "w"), os.path.join(root, "mk")
    os.makedirs(os.path.join(w, "build"))
    os.mkdir(mk)
    touch(os.path.join(w, "build", "out.o"))
    with vigil.Watcher([w, mk], ignore_file=".gitignore") as wt:
        touch(os.path.join(w, ".gitignore"), b"build/\n")
        evs = sentinel(wt, mk, "s1")
        assert [e for e in simple(evs, w) if e[0] in ("created", "removed")][:3] == [
            ("created", ".gitignore", None, False),
            ("removed", "build/out.o", None, False),
            ("removed", "build", None, True)]
        touch(os.path.join(w, "build", "new.o"))
        evs = sentinel(wt, mk, "s2")
        assert [e for e in evs if e.path.startswith(w + os.sep)] == []
        os.unlink(os.path.join(w, ".gitignore"))
        evs = sentinel(wt, mk, "s3")
        got = [(e.kind, os.path.relpath(e.path, w), e.synthetic) for e in evs if e.path.startswith(w)]
        assert got[0] == ("removed", ".gitignore", False)
        assert sorted(got[1:]) == [("created", "build", True), ("created", "build/new.o", True),
                                   ("created", "build/out.o", True)]
        touch(os.path.join(w, "build", "out.o"), b"x")
        evs = read_until(wt, lambda e: e.kind == "modified")
        assert evs[0].path == os.path.join(w, "build", "out.o")


def test_a_file_as_root(root):
    f = os.path.join(root, "file")
    touch(f)
    with vigil.Watcher(f) as w:
        touch(os.path.join(root, "other"))
        with open(f, "ab") as h:
            h.write(b"x")
        evs = read_until(w, lambda e: e.kind == "closed")
    assert [e.path for e in evs] == [f, f]


def test_hundreds_of_files_as_roots(tmp):
    # Every file root watches the one directory: all of them are served.
    d = str(tmp / "d")
    os.mkdir(d)
    files = [os.path.join(d, "f%03d.c" % i) for i in range(250)]
    for f in files:
        touch(f, b"v1")
    with vigil.Watcher(files) as w:
        assert w.stats()["watches"] == 1
        for f in files:
            with open(f, "ab") as h:
                h.write(b"v2")
        evs = read_until(w, lambda e: e.kind == "closed" and e.path == files[-1])
        assert [(e.kind, e.path) for e in evs] == [
            (k, f) for f in files for k in ("modified", "closed")]
        for f in files:
            os.unlink(f)
        evs = read_until(w, lambda e: e.kind == "removed" and e.path == files[-1])
        assert [(e.kind, e.path) for e in evs] == [("removed", f) for f in files]
        # A file root follows its name: files made again are watched again.
        for f in files:
            touch(f, b"v3")
        evs = read_until(w, lambda e: e.kind == "closed" and e.path == files[-1])
        assert [(e.kind, e.path) for e in evs] == [
            (k, f) for f in files for k in ("created", "modified", "closed")]
        assert w.stats()["roots"] == len(files)


def test_timeouts_and_wake(root):
    with vigil.Watcher(root) as w:
        t = time.monotonic()
        assert w.read(0) == []
        assert w.read(0.2) == []
        assert 0.19 <= time.monotonic() - t < 0.2 + TIMEOUT / 3
        threading.Timer(0.1, w.wake).start()
        t = time.monotonic()
        assert w.read(TIMEOUT) == []
        assert time.monotonic() - t < TIMEOUT / 2
        with pytest.raises(ValueError):
            w.read(-1)


def test_max_events(root):
    with vigil.Watcher(root) as w:
        for i in range(10):
            touch(os.path.join(root, "f%d" % i))
        sentinel(w, root, "s")  # everything has reached the queue
    with vigil.Watcher(root) as w:
        for i in range(10):
            os.unlink(os.path.join(root, "f%d" % i))
        touch(os.path.join(root, "s2"))
        first = w.read(TIMEOUT, max_events=3)
        assert 1 <= len(first) <= 3
        read_until(w, created(os.path.join(root, "s2")))


def test_close_is_idempotent_and_releases_everything(root):
    before = fds()
    w = vigil.Watcher(root)
    fd = w.fileno()
    assert fd in fds() - before
    w.close()
    w.close()
    assert fds() == before
    assert w.closed
    for call in (w.read, w.fileno, w.wake, w.stats, lambda: w.add(root)):
        with pytest.raises(ValueError):
            call()
    with pytest.raises(ValueError):
        with w:
            pass
    n = fd_count()
    for _ in range(200):
        with vigil.Watcher(root):
            pass
        vigil.Watcher(root)  # dropped without close()
    assert fd_count() == n


def test_close_from_another_thread_ends_a_blocked_read(root):
    before = fd_count()
    w = vigil.Watcher(root)
    result = []
    t = threading.Thread(target=lambda: result.append(w.read()))
    t.start()
    time.sleep(0.05)  # let it block (the outcome is the same if it has not)
    t0 = time.monotonic()
    w.close()
    assert time.monotonic() - t0 < 1
    t.join(TIMEOUT)
    assert not t.is_alive()
    assert result == [[]]
    assert fd_count() == before


def test_iteration_ends_on_close(root):
    w = vigil.Watcher(root)
    got = []

    def consume():
        for ev in w:
            got.append(ev)
            if ev.path.endswith("last"):
                threading.Thread(target=w.close).start()

    t = threading.Thread(target=consume)
    t.start()
    touch(os.path.join(root, "first"))
    touch(os.path.join(root, "last"))
    t.join(TIMEOUT)
    assert not t.is_alive()
    assert [os.path.basename(e.path) for e in got if e.kind == "created"] == ["first", "last"]


def test_concurrent_readers_share_the_stream(root):
    with vigil.Watcher(root) as w:
        got, lock = [], threading.Lock()

        def reader():
            while not w.closed:
                evs = w.read(0.05)
                with lock:
                    got.extend(evs)

        ts = [threading.Thread(target=reader) for _ in range(4)]
        for t in ts:
            t.start()
        for i in range(300):
            touch(os.path.join(root, "f%03d" % i))
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            with lock:
                if sum(e.kind == "created" for e in got) == 300:
                    break
            time.sleep(0.01)
    for t in ts:
        t.join(TIMEOUT)
    created_paths = [e.path for e in got if e.kind == "created"]
    assert sorted(created_paths) == sorted(os.path.join(root, "f%03d" % i) for i in range(300))


def test_errors_map_to_python_exceptions(tmp):
    with pytest.raises(FileNotFoundError) as ei:
        vigil.Watcher(str(tmp / "missing"))
    assert ei.value.filename == str(tmp / "missing")
    assert ei.value.errno == errno.ENOENT
    with pytest.raises(ValueError):
        vigil.Watcher("a\0b")
    assert issubclass(vigil.ForkedError, RuntimeError)
    assert "max_user_watches" in vigil.strerror(-10001)


def _unprivileged(code, tmp):
    """Runs code in a forked child as uid/gid 65534; returns its output."""
    r, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            out = code()
            os.write(wfd, repr(out).encode())
        except BaseException as e:
            os.write(wfd, ("raised " + repr(e)).encode())
        os._exit(0)
    os.close(wfd)
    data = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return data.decode()


def test_permission_error_and_error_events(pubdir):
    tmp = pubdir
    locked = tmp / "locked"
    locked.mkdir(mode=0o700)
    pub = tmp / "pub"
    (pub / "secret").mkdir(parents=True)
    os.chmod(str(pub / "secret"), 0o700)
    os.chmod(str(pub), 0o777)

    def try_locked():
        try:
            vigil.Watcher(str(locked))
        except PermissionError as e:
            return "PermissionError", e.errno, e.filename
        return "no error"

    assert _unprivileged(try_locked, tmp) == repr(("PermissionError", errno.EACCES, str(locked)))

    def error_event():
        with vigil.Watcher(str(pub)) as w:
            evs = w.read(TIMEOUT)
            e = evs[0]
            return e.kind, e.path, type(e.error).__name__, e.error.errno, e.error.filename

    assert _unprivileged(error_event, tmp) == repr(
        ("error", str(pub / "secret"), "PermissionError", errno.EACCES, str(pub / "secret")))


def test_watch_limit_names_the_sysctl(tmp):
    # The system tests' namespace probe: skip on any failure of the set-up.
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))), "tests", "system"))
    import vigiltest
    why = vigiltest.userns_limit_refused("max_inotify_watches", 5)
    if why:
        pytest.skip(why)
    for i in range(12):
        (tmp / "w" / ("d%02d" % i)).mkdir(parents=True)
    code = """
import errno, sys, vigil
try:
    vigil.Watcher(sys.argv[1], backend="inotify")
except OSError as e:
    assert type(e) is OSError and e.errno == errno.ENOSPC, repr(e)
    print(e.strerror)
else:
    sys.exit("no error")
"""
    r = subprocess.run(vigiltest.in_userns_with_limit("max_inotify_watches", 5) +
                       [sys.executable, "-c", code, str(tmp / "w")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    msg = r.stdout.decode()
    # The namespace's own limit bit: raising the host's would not help.
    assert "inotify watch limit" in msg and "user.max_inotify_watches" in msg, msg
    assert "fs.inotify" not in msg, msg
    assert "No space left on device" not in msg


def test_no_proc_is_file_not_found(tmp):
    """Without /proc (unmounted in a mount namespace of its own) no watch
    can be placed: the Watcher fails at once with FileNotFoundError saying
    so, rather than watching nothing."""
    if UNDER_ASAN:
        # The sanitizer's runtime reads its options from /proc/self/environ
        # and stops the world through /proc for its leak check, so without
        # /proc it fails the process whatever vigil does; the plain build's
        # run of this test is the one that counts.
        pytest.skip("AddressSanitizer's runtime cannot run without /proc")
    (tmp / "w").mkdir()
    code = """
import errno, sys, vigil
try:
    vigil.Watcher(sys.argv[1])
except FileNotFoundError as e:
    assert e.errno == errno.ENOENT, repr(e)
    print(e.strerror)
else:
    sys.exit("no error")
"""
    try:
        r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                            'umount -l /proc || exit 77; exec "$0" "$@"',
                            sys.executable, "-c", code, str(tmp / "w")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    except OSError as e:
        pytest.skip("cannot run unshare -m: %s" % e)
    if r.returncode == 77 or (r.returncode != 0 and b"unshare" in r.stderr):
        pytest.skip("cannot unmount /proc in a mount namespace: "
                    + r.stderr.decode(errors="replace").strip())
    assert r.returncode == 0, r.stderr.decode()
    assert "/proc is not mounted" in r.stdout.decode(), r.stdout


def test_overflow_is_reported_and_repaired(tmp):
    """More changes than the kernel queue holds while nobody reads: an
    overflow event, then a rescan that reports every file anyway."""
    root = str(tmp / "w")
    os.mkdir(root)
    with open("/proc/sys/fs/inotify/max_queued_events") as f:
        n = int(f.read()) + 2000
    with vigil.Watcher(root) as w:
        for i in range(n):
            touch(os.path.join(root, "f%05d" % i))
        evs = settle(w, root)
    if not any(e.kind == "overflow" for e in evs):
        pytest.fail("no overflow reported for %d creations" % n)
    paths = set(e.path for e in evs if e.kind == "created")
    missing = [i for i in range(n) if os.path.join(root, "f%05d" % i) not in paths]
    assert not missing, (len(missing), missing[:10], collections.Counter((e.kind, e.synthetic) for e in evs))
    assert any(e.synthetic for e in evs)


def test_not_a_str_or_bytes(root):
    with pytest.raises(TypeError):
        vigil.Watcher(42)
    with pytest.raises(TypeError):
        vigil.Watcher(root, exclude="*.o")


def test_events_without_moved_replay(root, tmp_path):
    """events= without "moved": every move is delivered as what it does to
    the kinds asked for, so the created and removed events still replay to
    the tree; checked for every selection of created, removed, modified
    and moved against a Watcher that asks for everything."""
    kinds = ("created", "removed", "modified", "moved")
    masks = [m for n in range(1, 5) for m in itertools.combinations(kinds, n)]
    j = lambda *p: os.path.join(root, *p)
    outside = str(tmp_path / "outside")
    steps = [lambda: os.rename(j("a"), j("a2")),
             lambda: os.rename(j("a2"), j("b")),
             lambda: os.rename(j("d"), j("d2")),
             lambda: os.rename(os.path.join(outside, "in"), j("d2", "in")),
             lambda: os.rename(j("d2", "sub"), j("d2", "in", "sub")),
             lambda: os.rename(j("d2", "in"), os.path.join(outside, "gone")),
             lambda: touch(j("b"), b"changed"),
             lambda: os.unlink(j("b"))]
    # Four at a time besides the reference: inotify instances are shared by the user.
    for first in range(0, len(masks), 4):
        for d in (root, outside):
            shutil.rmtree(d, ignore_errors=True)
        os.makedirs(os.path.join(outside, "in", "deep"))
        touch(os.path.join(outside, "in", "deep", "x"))
        os.makedirs(j("d", "sub"))
        for p in ("a", "b", "d/f", "d/sub/g"):
            touch(j(p))
        tree = {j(p): p in ("d", "d/sub") for p in ("a", "b", "d", "d/f", "d/sub", "d/sub/g")}
        group = masks[first:first + 4]
        with contextlib.ExitStack() as stack:
            ref = stack.enter_context(vigil.Watcher(root, events=list(kinds)))
            ws = [stack.enter_context(vigil.Watcher(root, events=list(m))) for m in group]
            replays = {m: dict(tree) for m in group
                       if "created" in m and "removed" in m and "moved" not in m}
            for n, step in enumerate(steps):
                step()
                s = j(".s%d" % n)
                touch(s, b"s")
                os.rename(s, s + ".m")
                os.unlink(s + ".m")
                last = lambda e: e.kind == "removed" and e.path == s + ".m"
                is_sentinel = lambda e: s in (e.path, e.from_path) or s + ".m" in (e.path, e.from_path)
                ref_evs = [e for e in read_until(ref, last) if not is_sentinel(e)]
                before = dict(tree)
                for m, w in zip(group, ws):
                    want = _expand_moves(ref_evs, dict(before), m)
                    sent = [("created", s), ("modified", s), ("moved", s + ".m"), ("removed", s + ".m")]
                    if "moved" not in m:
                        sent[2:3] = [("removed", s), ("created", s + ".m")]
                    final = [x for x in sent if x[0] in m][-1]
                    got = read_until(w, lambda e: (e.kind, e.path) == final)
                    got = [(e.kind, e.path, e.from_path, e.is_dir) for e in got if not is_sentinel(e)]
                    assert sorted(got, key=repr) == sorted(want, key=repr), (m, n, got, want)
                    if m in replays:
                        for k, path, _, d in got:
                            if k == "created":
                                assert path not in replays[m], (m, n, path)
                                replays[m][path] = d
                            elif k == "removed":
                                assert path in replays[m], (m, n, path)
                                del replays[m][path]
                _expand_moves(ref_evs, tree, kinds)
            disk = {}
            for dirpath, dirs, files in os.walk(root):
                for name in dirs + files:
                    disk[os.path.join(dirpath, name)] = name in dirs
            assert tree == disk
            for m, r in replays.items():
                assert r == disk, m


def _expand_moves(ref_evs, tree, asked):
    """The events a Watcher with events=asked gets for the reference's
    ref_evs (docs/events.md, "Selecting kinds"): without "moved", a move
    is removed for what it replaced and for the old paths (children first),
    then created for the new ones (parents first). tree ({path: is_dir})
    follows the reference's stream and is updated."""
    out = []
    for e in ref_evs:
        if e.kind == "moved":
            below = lambda p: sorted((k for k in tree if k == p or k.startswith(p + "/")),
                                     key=lambda k: k.count("/"))
            replaced, src = below(e.path), below(e.from_path)
            if "moved" not in asked:
                out += [("removed", k, None, tree[k]) for k in reversed(replaced)]
                out += [("removed", k, None, tree[k]) for k in reversed(src)]
                out += [("created", e.path + k[len(e.from_path):], None, tree[k]) for k in src]
            else:
                out.append((e.kind, e.path, e.from_path, e.is_dir))
            moved = {e.path + k[len(e.from_path):]: tree[k] for k in src}
            for k in replaced + src:
                del tree[k]
            tree.update(moved)
            continue
        if e.kind == "created":
            tree[e.path] = e.is_dir
        elif e.kind == "removed":
            del tree[e.path]
        out.append((e.kind, e.path, e.from_path, e.is_dir))
    return [x for x in out if x[0] in asked]
