"""Roots: many file roots in one directory, file roots across the ways
editors save, and roots that overlap."""

import os
import re
import shutil
import signal
import subprocess
import time

import pytest

import runtest
import vigiltest


def touch(path, data=b""):
    with open(path, "wb") as f:
        f.write(data)


# -- many file roots in one directory -----------------------------------------

def _many_file_roots(vigil, tmp, n):
    """vigil on n files of dir/ given one by one, plus s/ for sentinels."""
    d = tmp / "dir"
    d.mkdir()
    (tmp / "s").mkdir()
    names = ["f%03d.c" % i for i in range(n)]
    for name in names:
        (d / name).write_bytes(b"v1")
    (d / "other.c").write_bytes(b"not watched")
    v = vigil("watch", "--json", *["dir/" + name for name in names], "s",
              cwd=str(tmp))
    return v, d, names


def test_hundreds_of_file_roots_in_one_directory(vigil, tmp):
    v, d, names = _many_file_roots(vigil, tmp, 300)
    line = v.wait_ready()
    # dir/ is one directory however many of its files are roots, and s/.
    assert re.search(r"\bready, watching 2 directories\b", line), line
    for name in names:
        with open(str(d / name), "ab") as f:
            f.write(b"v2")
    with open(str(d / "other.c"), "ab") as f:
        f.write(b"!")
    evs = v.sync(str(tmp / "s"), "s")
    got = [(e["type"], e["path"]) for e in evs[:-1]]
    want = []
    for name in names:
        want += [("modified", "dir/" + name), ("closed", "dir/" + name)]
    assert got == want, (len(got), got[:6])
    for name in names:
        os.unlink(str(d / name))
    # A file root's file that goes away is waited for a moment (it may be
    # an editor's save), then reported removed; the roots go on.
    evs = v.events_until(lambda e: e["path"] == "dir/" + names[-1])
    assert [(e["type"], e["path"]) for e in evs] == [
        ("removed", "dir/" + name) for name in names]
    for name in names:
        (d / name).write_bytes(b"v3")
    evs = v.sync(str(tmp / "s"), "s")
    got = [(e["type"], e["path"]) for e in evs[:-1]]
    want = []
    for name in names:
        want += [("created", "dir/" + name), ("modified", "dir/" + name),
                 ("closed", "dir/" + name)]
    assert got == want, (len(got), got[:6])
    assert v.running()


# -- a file root across the ways editors save ---------------------------------

def _file_root(vigil, tmp):
    """vigil on dir/f.txt, plus a second root s/ used for sentinels."""
    d = tmp / "dir"
    d.mkdir()
    (tmp / "s").mkdir()
    (d / "f.txt").write_bytes(b"v0")
    (d / "other.txt").write_bytes(b"o")
    v = vigil("watch", "--json", "dir/f.txt", "s", cwd=str(tmp))
    v.wait_ready()
    return v, d, str(tmp / "s")


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def _save_rename_onto(d, data):
    # The common atomic save: a temporary file renamed onto the name.
    _write(str(d / ".f.txt.tmp"), data)
    os.rename(str(d / ".f.txt.tmp"), str(d / "f.txt"))


def _save_backup_rename(d, data):
    # vim's writebackup with backupcopy=no or auto, emacs's first save: the
    # file is renamed to a backup, a new one written, the backup removed.
    os.rename(str(d / "f.txt"), str(d / "f.txt~"))
    _write(str(d / "f.txt"), data)
    os.unlink(str(d / "f.txt~"))


def _save_safe_write(d, data):
    # JetBrains' safe write: a temporary file, the file renamed away, the
    # temporary file renamed onto the name, the old one removed.
    _write(str(d / "f.txt___jb_tmp___"), data)
    os.rename(str(d / "f.txt"), str(d / "f.txt___jb_old___"))
    os.rename(str(d / "f.txt___jb_tmp___"), str(d / "f.txt"))
    os.unlink(str(d / "f.txt___jb_old___"))


def _save_unlink_create(d, data):
    # rm f; then create f.
    os.unlink(str(d / "f.txt"))
    _write(str(d / "f.txt"), data)


def _tool(*argv):
    def save(d, data):
        _write(str(d.parent / "src.txt"), data)
        subprocess.run(argv, cwd=str(d), check=True, stdin=subprocess.DEVNULL)
    return save


SAVES = {
    "rename onto": _save_rename_onto,
    "backup rename": _save_backup_rename,
    "safe write": _save_safe_write,
    "unlink and create": _save_unlink_create,
    "cp --remove-destination": _tool("cp", "--remove-destination",
                                     "../src.txt", "f.txt"),
    "install": _tool("install", "-m", "644", "../src.txt", "f.txt"),
    "mv": _tool("sh", "-c", "cp ../src.txt .f.new && mv .f.new f.txt"),
}


def _one_change(evs, n):
    """The events of save n: changes to the file, never its absence."""
    kinds = [e["type"] for e in evs]
    assert all(e["path"] == "dir/f.txt" for e in evs), (n, evs)
    assert kinds and kinds[0] == "modified", (n, evs)
    assert set(kinds) <= {"modified", "attrib", "closed"}, (n, evs)


@pytest.mark.parametrize("how", sorted(SAVES))
def test_a_file_root_survives_each_way_of_saving(vigil, tmp, how):
    v, d, sdir = _file_root(vigil, tmp)
    for n in range(3):
        SAVES[how](d, b"saved %d" % n)
        evs = v.sync(sdir, "s")[:-1]
        _one_change(evs, n)
        assert (d / "f.txt").read_bytes() == b"saved %d" % n
    # The root goes on: a plain write is reported as before.
    with open(str(d / "f.txt"), "ab") as f:
        f.write(b"!")
    evs = v.sync(sdir, "s")
    assert [(e["type"], e["path"]) for e in evs] == [
        ("modified", "dir/f.txt"), ("closed", "dir/f.txt"),
        ("created", "s/.sentinel-4")], evs
    assert v.running()


def test_a_file_root_survives_git_checkout(vigil, tmp):
    d = tmp / "dir"
    d.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    (d / "f.txt").write_bytes(b"committed")
    subprocess.run(git + ["init", "-q"], cwd=str(d), check=True)
    subprocess.run(git + ["add", "f.txt"], cwd=str(d), check=True)
    subprocess.run(git + ["commit", "-qm", "f"], cwd=str(d), check=True)
    (tmp / "s").mkdir()
    v = vigil("watch", "--json", "dir/f.txt", "s", cwd=str(tmp))
    v.wait_ready()
    for n in range(2):
        (d / "f.txt").write_bytes(b"changed %d" % n)
        evs = v.sync(str(tmp / "s"), "s")[:-1]
        assert [e["type"] for e in evs][:1] == ["modified"], evs
        # git checkout deletes the file and creates it again.
        subprocess.run(git + ["checkout", "--", "f.txt"], cwd=str(d), check=True)
        evs = v.sync(str(tmp / "s"), "s")[:-1]
        _one_change(evs, n)
    assert (d / "f.txt").read_bytes() == b"committed"
    assert v.running()


VIM = shutil.which("vim.tiny") or shutil.which("vim")


@pytest.mark.skipif(VIM is None, reason="no vim (the README's test line "
                    "installs vim-tiny)")
@pytest.mark.parametrize("settings", [
    "writebackup nobackup backupcopy=auto",
    "writebackup nobackup backupcopy=no",
    "writebackup backup backupcopy=auto",
    "writebackup nobackup backupcopy=yes",
])
def test_a_file_root_survives_vim_saving(vigil, tmp, settings):
    v, d, sdir = _file_root(vigil, tmp)
    for n in range(3):
        # backupskip would leave out files under /tmp, where tests run.
        subprocess.run(
            [VIM, "-Es", "-u", "NONE", "-i", "NONE", "-N", "-n",
             "-c", "set %s backupskip=" % settings,
             "-c", "%%s/.*/vim %d/" % n, "-c", "wq", "f.txt"],
            cwd=str(d), check=True, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, timeout=vigiltest.EVENT_TIMEOUT)
        assert (d / "f.txt").read_bytes() == b"vim %d\n" % n
        evs = v.sync(sdir, "s")[:-1]
        _one_change(evs, n)
    assert v.running()


def test_a_file_root_deleted_is_removed_and_watched_for(vigil, tmp):
    v, d, sdir = _file_root(vigil, tmp)
    os.unlink(str(d / "f.txt"))
    evs = v.events_until(lambda e: e["type"] == "removed")
    assert evs == [{"type": "removed", "path": "dir/f.txt", "dir": False}]
    # Nothing else of the directory is reported meanwhile.
    (d / "f.txt~").write_bytes(b"x")
    evs = v.sync(sdir, "s")
    assert [e["path"] for e in evs] == ["s/.sentinel-1"], evs
    # A file made again under the name is created, then watched as before.
    (d / "f.txt").write_bytes(b"again")
    evs = v.sync(sdir, "s")[:-1]
    assert [(e["type"], e["path"]) for e in evs] == [
        ("created", "dir/f.txt"), ("modified", "dir/f.txt"),
        ("closed", "dir/f.txt")], evs
    os.rename(str(d / "f.txt"), str(d / "g.txt"))
    evs = v.events_until(lambda e: e["type"] == "removed")
    assert evs == [{"type": "removed", "path": "dir/f.txt", "by_move": True, "dir": False}]
    os.rename(str(d / "g.txt"), str(d / "f.txt"))
    evs = v.sync(sdir, "s")[:-1]
    assert evs == [{"type": "created", "path": "dir/f.txt", "by_move": True, "dir": False}]
    assert v.running()
    # The root ends with its directory.
    for name in os.listdir(str(d)):
        os.unlink(str(d / name))
    os.rmdir(str(d))
    evs = v.events_until(lambda e: e["path"] == "dir/f.txt"
                         and e["type"] == "removed")
    assert [e["type"] for e in evs] == ["removed"], evs
    shutil.rmtree(sdir)
    assert v.wait_exit() == 3, v.describe()


def test_a_file_root_deleted_just_before_a_stop_is_reported(vigil, tmp):
    # The stop's drain does not leave the file waited for: it is removed.
    v, d, sdir = _file_root(vigil, tmp)
    os.unlink(str(d / "f.txt"))
    v.send(signal.SIGTERM)
    assert v.wait_exit() == 0, v.describe()
    evs = [e for e in iter(v.event, None)]
    assert evs == [{"type": "removed", "path": "dir/f.txt", "dir": False}]


@pytest.fixture
def rt(vigil, vigil_bin, tmp):
    t = runtest.RunTest(vigil, vigil_bin, tmp)
    yield t
    t.cleanup()


def _seen(rt, n):
    """What run n's command read from the watched file."""
    p = rt.out / ("seen.%d" % n)
    runtest.wait_until(p.exists, what="run %d to read the file" % n)
    return p.read_bytes()


@pytest.mark.parametrize("how", ["backup rename", "safe write",
                                 "unlink and create", "install"])
def test_vigil_run_runs_once_per_save_with_the_file_there(rt, how):
    d = rt.w
    (d / "f.txt").write_bytes(b"v0")
    # The command reads the file: a run while it is missing would show.
    cmd = rt.rec("sh", "-c", 'cat f.txt > "$REC_OUT/seen.t" 2>&1; '
                 'mv "$REC_OUT/seen.t" "$REC_OUT/seen.$REC_N"')
    v = rt.start("-w", "f.txt", "--", *cmd)
    rt.wait_run(1)
    assert _seen(rt, 1) == b"v0"
    for n in range(1, 4):
        SAVES[how](d, b"save %d" % n)
        r = rt.wait_run(n + 1)
        assert r.changed == "f.txt", (n, r.changed, r.events)
        assert "removed" not in r.events.split(","), (n, r.events)
        # One run per save: run n+1 reads save n, not an earlier one.
        assert _seen(rt, n + 1) == b"save %d" % n
    with open(str(d / "f.txt"), "ab") as f:
        f.write(b"!")
    rt.wait_run(5)
    assert _seen(rt, 5) == b"save 3!"
    rt.stop(v)
    assert rt.runs() == 5


# -- roots that overlap ---------------------------------------------------------

def _tree(tmp):
    d = tmp / "d"
    (d / "sub" / "deeper").mkdir(parents=True)
    (d / "other").mkdir()
    (d / "sub" / "a.txt").write_bytes(b"a")
    (d / "f.txt").write_bytes(b"f")
    return d


def _workload(d):
    """Changes everywhere below d, d/sub included, and d/sub's own ones."""
    (d / "sub" / "new.txt").write_bytes(b"n")
    (d / "sub" / "deeper" / "x").write_bytes(b"x")
    os.mkdir(str(d / "sub" / "made"))
    (d / "sub" / "made" / "y").write_bytes(b"y")
    with open(str(d / "sub" / "a.txt"), "ab") as f:
        f.write(b"+")
    os.rename(str(d / "sub" / "new.txt"), str(d / "sub" / "renamed.txt"))
    os.rename(str(d / "sub" / "renamed.txt"), str(d / "moved-up.txt"))
    os.rename(str(d / "f.txt"), str(d / "sub" / "moved-down.txt"))
    os.rename(str(d / "sub" / "made"), str(d / "other" / "made"))
    os.chmod(str(d / "sub"), 0o750)
    os.unlink(str(d / "sub" / "deeper" / "x"))
    (d / "other" / "z").write_bytes(b"z")


def _sync(v, d, backend, timeout=None):
    """Waits for a sentinel in d, given as "d"; polled, for a second one
    too, since a pass reports in the order of its listings."""
    evs = v.sync(str(d), "d", timeout=timeout)
    if backend == "poll":
        evs += v.sync(str(d), "d", timeout=timeout)
    return evs


# Overlapping roots behave the same whatever watches them: the inotify
# backend's roots share a kernel watch per directory, polled roots share
# what a pass finds.
BACKENDS = pytest.mark.parametrize("backend", ["default", "poll"])


def _check_once(evs):
    """No event twice in a row for the same thing (it would be a duplicate)."""
    seen = [(e["type"], e["path"], e.get("from")) for e in evs
            if e["type"] not in ("modified", "closed", "attrib")]
    assert len(seen) == len(set(seen)), seen


@BACKENDS
@pytest.mark.parametrize("second", ["d/", "./d", "lnk", "d/../d"])
def test_the_same_directory_given_twice_is_watched_once(vigil, tmp, second,
                                                        backend):
    d = _tree(tmp)
    os.symlink("d", str(tmp / "lnk"))
    v = vigil("watch", "--json", *vigiltest.backend_args(backend), "d",
              second, cwd=str(tmp))
    line = v.wait_ready()
    # d, d/sub, d/sub/deeper, d/other
    assert re.search(r"\bready, watching 4 directories\b", line), line
    replay = vigiltest.Replay("d", vigiltest.scan(str(d)))
    _workload(d)
    evs = _sync(v, d, backend)
    assert all(e["path"].startswith("d/") for e in evs), evs
    _check_once(evs)
    replay.apply_all(evs)
    replay.check(vigiltest.scan(str(d)))


@BACKENDS
@pytest.mark.parametrize("roots", [
    ("d", "d/sub"), ("d/sub", "d"), ("d", "./d/sub/"), ("./d/sub", "d"),
    ("d", "d/sub", "d/sub/deeper"), ("d/sub/deeper", "d/sub", "d")])
def test_a_root_inside_another_is_reported_once_by_the_outer(vigil, tmp,
                                                             roots, backend):
    d = _tree(tmp)
    v = vigil("watch", "--json", *vigiltest.backend_args(backend), *roots,
              cwd=str(tmp))
    line = v.wait_ready()
    assert re.search(r"\bready, watching 4 directories\b", line), line
    replay = vigiltest.Replay("d", vigiltest.scan(str(d)))
    _workload(d)
    evs = _sync(v, d, backend)
    # Every change is reported by d, the outer root, and only once.
    _check_once(evs)
    replay.apply_all(evs)
    replay.check(vigiltest.scan(str(d)))
    # The inner root going away ends it silently: d reports what went.
    shutil.rmtree(str(d / "sub"))
    evs = _sync(v, d, backend)
    _check_once(evs)
    replay.apply_all(evs)
    replay.check(vigiltest.scan(str(d)))
    assert v.running()
    os.mkdir(str(d / "sub"))
    (d / "sub" / "back").write_bytes(b"")
    evs = _sync(v, d, backend)
    replay.apply_all(evs)
    replay.check(vigiltest.scan(str(d)))


@BACKENDS
def test_an_inner_root_moved_out_ends_silently(vigil, tmp, backend):
    d = _tree(tmp)
    (tmp / "elsewhere").mkdir()
    v = vigil("watch", "--json", *vigiltest.backend_args(backend), "d/sub",
              "d", cwd=str(tmp))
    v.wait_ready()
    replay = vigiltest.Replay("d", vigiltest.scan(str(d)))
    os.rename(str(d / "sub"), str(tmp / "elsewhere" / "sub"))
    (tmp / "elsewhere" / "sub" / "later").write_bytes(b"")
    evs = _sync(v, d, backend)
    replay.apply_all(evs)
    replay.check(vigiltest.scan(str(d)))
    assert not any("later" in e["path"] for e in evs), evs


@BACKENDS
@pytest.mark.parametrize("roots", [("d", "d/f.txt"), ("d/f.txt", "d"),
                                   ("./d/f.txt", "d")])
def test_a_file_root_inside_a_directory_root(vigil, tmp, roots, backend):
    d = _tree(tmp)
    v = vigil("watch", "--json", *vigiltest.backend_args(backend), *roots,
              cwd=str(tmp))
    line = v.wait_ready()
    assert re.search(r"\bready, watching 4 directories\b", line), line
    replay = vigiltest.Replay("d", vigiltest.scan(str(d)))
    with open(str(d / "f.txt"), "ab") as f:
        f.write(b"+")
    evs = _sync(v, d, backend)
    # Polling sees no close.
    want = [("modified", "d/f.txt"), ("closed", "d/f.txt"),
            ("created", "d/.sentinel-1")]
    if backend == "poll":
        want = [("modified", "d/f.txt"), ("created", "d/.sentinel-1"),
                ("created", "d/.sentinel-2")]
    assert [(e["type"], e["path"]) for e in evs] == want, evs
    replay.apply_all(evs)
    for how in ("backup rename", "unlink and create", "rename onto"):
        SAVES[how](d, b"saved")
        evs = _sync(v, d, backend)
        _check_once(evs)
        replay.apply_all(evs)
        replay.check(vigiltest.scan(str(d)))
    os.unlink(str(d / "f.txt"))
    evs = _sync(v, d, backend)
    replay.apply_all(evs)
    replay.check(vigiltest.scan(str(d)))
    assert v.running()


@pytest.mark.time_limit(240)
@BACKENDS
@pytest.mark.parametrize("seed,overflow", [(1, False), (2, False), (3, True)])
def test_overlapping_roots_replay_under_random_changes(vigil, tmp, seed,
                                                       overflow, backend):
    """Random changes below d, whose subdirectories are roots too (given
    so that any event of theirs would not replay as d's), then replay."""
    import random
    import test_random
    if overflow and backend == "poll":
        pytest.skip("polling has no kernel queue to overflow")
    if overflow and vigiltest.max_queued_events() > 200000:
        pytest.skip("max_queued_events too big to overflow cheaply")
    d = tmp / "d"
    outside = tmp / "outside"
    for p in (d / "sub" / "deeper", d / "two", outside):
        p.mkdir(parents=True)
    pre = test_random.Fuzzer(random.Random(seed ^ 0x5eed), str(d), str(d),
                             tag="p")
    for _ in range(100):
        pre.op_create() if pre.rng.random() < 0.6 else pre.op_mkdir()
    v = vigil("watch", "--json", *vigiltest.backend_args(backend), "./d/sub",
              str(d), "./d/sub/deeper/", "./d/two", cwd=str(tmp))
    v.wait_ready()
    replay = vigiltest.Replay(str(d), vigiltest.scan(str(d)))
    fz = test_random.Fuzzer(random.Random(seed), str(d), str(outside))
    for rnd in range(3):
        if overflow:
            v.send(signal.SIGSTOP)
            try:
                fz.run(200)
                vigiltest.flood(str(d))
                fz.run(200)
            finally:
                v.send(signal.SIGCONT)
        else:
            fz.run(400)
        evs = []
        for _ in range(5):
            got = v.sync(str(d), str(d), timeout=120)
            if backend == "poll":
                got += v.sync(str(d), str(d), timeout=120)
            evs += got
            if not any(e["type"] == "overflow" for e in got):
                break
        assert not overflow or any(e["type"] == "overflow" for e in evs)
        replay.apply_all(evs)
        replay.check(vigiltest.scan(str(d)))
    assert v.running()


def test_vigil_run_waits_for_a_watched_file_a_slow_save_takes_away(rt):
    # An editor that takes a while between moving the file away and
    # writing the new one (a large file, a slow disk): longer than the
    # library waits, so vigil run hears removed, then created. The run
    # still comes once, after the file is back.
    d = rt.w
    (d / "f.txt").write_bytes(b"v0")
    cmd = rt.rec("sh", "-c", 'cat f.txt > "$REC_OUT/seen.t" 2>&1; '
                 'mv "$REC_OUT/seen.t" "$REC_OUT/seen.$REC_N"')
    v = rt.start("-w", "f.txt", "--", *cmd)
    rt.wait_run(1)
    os.rename(str(d / "f.txt"), str(d / "f.txt~"))
    time.sleep(0.3)  # the slow editor's pause, not a wait for vigil
    (d / "f.txt").write_bytes(b"slow save")
    os.unlink(str(d / "f.txt~"))
    r = rt.wait_run(2)
    assert r.changed == "f.txt", r.changed
    assert _seen(rt, 2) == b"slow save"
    (d / "f.txt").write_bytes(b"next")
    rt.wait_run(3)
    assert _seen(rt, 3) == b"next"
    rt.stop(v)


def test_vigil_run_with_hundreds_of_watched_files_in_one_directory(rt):
    names = ["f%03d.c" % i for i in range(200)]
    for name in names:
        (rt.w / name).write_bytes(b"v0")
    args = []
    for name in names:
        args += ["-w", name]
    v = rt.start(*args, "--", *rt.rec("true"))
    assert re.search(rb"ready, watching 1 directory\b",
                     v.wait_stderr(lambda l: b"ready" in l)), v.describe()
    rt.wait_run(1)
    for n, name in enumerate((names[0], names[16], names[17], names[-1])):
        (rt.w / name).write_bytes(b"v1")
        r = rt.wait_run(n + 2)
        assert r.changed == name, (name, r.changed)
    rt.stop(v)


# -- a root whose parent is renamed -------------------------------------------

def _root_below_parent(vigil, tmp, backend="default"):
    """vigil on up/root (given relatively) and s/ for sentinels."""
    (tmp / "up" / "root").mkdir(parents=True, exist_ok=True)
    (tmp / "s").mkdir()
    v = vigil("watch", "--json", *vigiltest.backend_args(backend), "up/root",
              "s", cwd=str(tmp))
    v.wait_ready()
    return v


def _sync_s(v, tmp, backend):
    """Waits for a sentinel in s/; polled, for a second one too (a pass
    reports in the order of its listings)."""
    evs = v.sync(str(tmp / "s"), "s")
    if backend == "poll":
        evs += v.sync(str(tmp / "s"), "s")
    return [e for e in evs if not e["path"].startswith("s/.sentinel-")]


def test_a_renamed_parent_of_a_root_is_reported(vigil, tmp):
    # vigil finds the root by the path it resolved at the start. Once a
    # directory above it is renamed, a directory made in the root cannot
    # be opened by that path, so nothing inside it can be reported: vigil
    # must say so, for each such directory, rather than stay silent.
    v = _root_below_parent(vigil, tmp)
    os.rename(str(tmp / "up"), str(tmp / "up2"))
    root = tmp / "up2" / "root"
    (root / "new").mkdir()
    (root / "new" / "f.txt").write_bytes(b"x")
    (root / "top.txt").write_bytes(b"")
    (root / "new2").mkdir()
    evs = v.sync(str(tmp / "s"), "s")
    got = [(e["type"], e["path"]) for e in evs[:-1]]
    # The root's own watch goes on reporting, under the old prefix.
    assert ("created", "up/root/top.txt") in got, got
    errs = [e for e in evs if e["type"] == "error"]
    assert [e["path"] for e in errs] == ["up/root/new", "up/root/new2"], evs
    for e in errs:
        assert e.get("dir") is True, e
        assert "a directory above the root was renamed" in e["error"], e
        assert "add the root again" in e["error"], e
    # Each directory is reported once: a later change adds no error.
    (root / "new" / "g.txt").write_bytes(b"")
    (root / "top.txt").write_bytes(b"y")
    evs = v.sync(str(tmp / "s"), "s")
    assert not [e for e in evs if e["type"] == "error"], evs
    assert v.running()


@pytest.mark.parametrize("backend", ["default", "poll"])
def test_a_root_moved_itself_is_not_reported_as_a_renamed_parent(vigil, tmp,
                                                                 backend):
    # The same failure to open a new directory, but here the root itself
    # moved: the kernel's record of that ends the root (polled: the pass
    # that finds the directory above the root unchanged), and no error is
    # due. vigil is stopped so that it opens the directory only after the
    # move.
    v = _root_below_parent(vigil, tmp, backend)
    (tmp / "elsewhere").mkdir()
    v.send(signal.SIGSTOP)
    try:
        (tmp / "up" / "root" / "new").mkdir()
        os.rename(str(tmp / "up" / "root"), str(tmp / "elsewhere" / "root"))
    finally:
        v.send(signal.SIGCONT)
    evs = _sync_s(v, tmp, backend)
    assert not [e for e in evs if e["type"] == "error"], evs
    assert ("removed", "up/root") in [(e["type"], e["path"]) for e in evs], evs
    assert v.running()


def test_a_renamed_parent_of_a_polled_root_ends_it(vigil, tmp):
    # Polling finds the root by its path alone: once a directory above it
    # is renamed, nothing in it can be listed. A pass says so, on the root,
    # with the error inotify gives each directory it cannot list, and the
    # root ends as a rescan ends it, everything in it removed.
    (tmp / "up" / "root" / "a").mkdir(parents=True)
    (tmp / "up" / "root" / "a" / "f.txt").write_bytes(b"f")
    v = _root_below_parent(vigil, tmp, "poll")
    os.rename(str(tmp / "up"), str(tmp / "up2"))
    evs = _sync_s(v, tmp, "poll")
    assert [(e["type"], e["path"]) for e in evs] == [
        ("error", "up/root"), ("removed", "up/root/a/f.txt"),
        ("removed", "up/root/a"), ("removed", "up/root")], evs
    assert evs[0].get("dir") is True, evs
    assert "a directory above the root was renamed" in evs[0]["error"], evs
    assert "add the root again" in evs[0]["error"], evs
    # The other root goes on, and nothing more comes of this one.
    (tmp / "up2" / "root" / "new").mkdir()
    (tmp / "s" / "kept").write_bytes(b"")
    evs = _sync_s(v, tmp, "poll")
    assert [(e["type"], e["path"]) for e in evs] == [
        ("created", "s/kept")], evs
    assert v.running()
