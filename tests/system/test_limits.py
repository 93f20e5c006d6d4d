"""Unreadable directories and the kernel's inotify limits."""

import os
import re
import shutil
import subprocess

import pytest

import vigiltest

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def touch(path, data=b""):
    with open(path, "wb") as f:
        f.write(data)


def chown_tree(top, uid=65534, gid=65534):
    os.chown(top, uid, gid)
    for dirpath, dirnames, filenames in os.walk(top):
        for n in dirnames + filenames:
            os.lchown(os.path.join(dirpath, n), uid, gid)


def locked_dir(path):
    os.mkdir(path)
    touch(os.path.join(path, "secret"))
    chown_tree(path)
    os.chmod(path, 0)


def error_for(evs, path):
    return [e for e in evs if e["type"] == "error" and e.get("path") == path]


# -- unreadable directories -------------------------------------------------

def test_unreadable_subdir_at_setup(vigil, pubdir):
    root = os.path.join(pubdir, "root")
    os.makedirs(os.path.join(root, "ok", "deeper"))
    chown_tree(root)
    locked_dir(os.path.join(root, "locked"))
    v = vigil("watch", "--json", root, wrapper=NOBODY)
    v.wait_ready()
    touch(os.path.join(root, "ok", "deeper", "x"))
    evs = v.events_until(
        lambda e: e["type"] == "created"
        and e["path"] == os.path.join(root, "ok", "deeper", "x"),
        what="created ok/deeper/x")
    errs = error_for(evs, os.path.join(root, "locked"))
    assert len(errs) == 1, evs
    assert "Permission denied" in errs[0]["error"], errs
    assert v.running()


def test_unreadable_subdir_moved_in_later(vigil, pubdir):
    root = os.path.join(pubdir, "root")
    os.makedirs(os.path.join(root, "ok"))
    chown_tree(root)
    staging = os.path.join(pubdir, "staging")
    os.mkdir(staging)
    locked_dir(os.path.join(staging, "locked"))
    v = vigil("watch", "--json", root, wrapper=NOBODY)
    v.wait_ready()
    os.rename(os.path.join(staging, "locked"), os.path.join(root, "locked"))
    touch(os.path.join(root, "ok", "after"))
    evs = v.events_until(
        lambda e: e["type"] == "created"
        and e["path"] == os.path.join(root, "ok", "after"),
        what="created ok/after")
    lp = os.path.join(root, "locked")
    created = [e for e in evs if e["type"] == "created" and e["path"] == lp]
    assert created == [{"type": "created", "path": lp, "by_move": True, "dir": True}], evs
    errs = error_for(evs, lp)
    assert len(errs) == 1 and "Permission denied" in errs[0]["error"], evs
    assert evs.index(created[0]) < evs.index(errs[0]), evs
    # Nothing below the locked directory is invented.
    assert not [e for e in evs if (e.get("path") or "").startswith(lp + "/")]
    # Its removal is still reported, and the rest keeps working.
    os.chmod(lp, 0o700)
    shutil.rmtree(lp)
    touch(os.path.join(root, "ok", "after2"))
    evs = v.events_until(
        lambda e: e["type"] == "created"
        and e["path"] == os.path.join(root, "ok", "after2"),
        what="created ok/after2")
    assert [e for e in evs if e["type"] == "removed"] == [
        {"type": "removed", "path": lp, "dir": True}], evs


def test_unreadable_subdir_created_in_place(vigil, pubdir):
    """mkdir with mode 000 (atomic, no race): created, then an error."""
    root = os.path.join(pubdir, "root")
    os.makedirs(os.path.join(root, "ok"))
    chown_tree(root)
    v = vigil("watch", "--json", root, wrapper=NOBODY)
    v.wait_ready()
    lp = os.path.join(root, "closed0")
    os.mkdir(lp, 0)
    touch(os.path.join(root, "ok", "after"))
    evs = v.events_until(
        lambda e: e["type"] == "created"
        and e["path"] == os.path.join(root, "ok", "after"),
        what="created ok/after")
    assert [e for e in evs if e["type"] == "created" and e["path"] == lp]
    errs = error_for(evs, lp)
    assert len(errs) == 1 and "Permission denied" in errs[0]["error"], evs


# -- the inotify limits ------------------------------------------------------

def _in_userns(name, value, vigil_bin, *args):
    return subprocess.run(
        vigiltest.in_userns_with_limit(name, value) + [vigil_bin, *args],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, timeout=vigiltest.EVENT_TIMEOUT)


def test_watch_limit_message(vigil_bin, tmp):
    why = vigiltest.userns_limit_refused("max_inotify_watches", 5)
    if why:
        pytest.skip(why)
    root = tmp / "w"
    for i in range(12):
        (root / ("d%02d" % i) / "sub").mkdir(parents=True)
    r = _in_userns("max_inotify_watches", 5, vigil_bin, "watch",
                   "--backend", "inotify", str(root))
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 1, (r.returncode, err)
    assert "inotify watch limit" in err, err
    # The namespace's own limit bit, and raising the host's would not help.
    assert "user.max_inotify_watches" in err, err
    assert "fs.inotify" not in err, err
    assert "now 5;" in err, err
    assert re.search(r"\d", err.replace("max_inotify_watches", "")), \
        "the message does not say how many watches were placed: " + err
    assert "No space left on device" not in err, err
    assert "ready" not in err, err
    assert r.stdout == b""


def test_watch_limit_just_enough(vigil_bin, tmp):
    """A tree that fits the limit exactly still works."""
    why = vigiltest.userns_limit_refused("max_inotify_watches", 5)
    if why:
        pytest.skip(why)
    root = tmp / "w"
    for i in range(4):
        (root / ("d%d" % i)).mkdir(parents=True)
    r = _in_userns("max_inotify_watches", 5, vigil_bin, "watch", "-t", "1",
                   str(root))
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 2, (r.returncode, err)
    assert "ready, watching 5 directories" in err, err


def test_instance_limit_message(vigil_bin, tmp):
    why = vigiltest.userns_limit_refused("max_inotify_instances", 0)
    if why:
        pytest.skip(why)
    root = tmp / "w"
    root.mkdir()
    r = _in_userns("max_inotify_instances", 0, vigil_bin, "watch",
                   "--backend", "inotify", str(root))
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 1, (r.returncode, err)
    assert "user.max_inotify_instances is 0" in err, err
    assert "fs.inotify" not in err, err
    assert "Too many open files" not in err, err
    assert "ready" not in err, err


def test_watch_limit_auto_polls_instead(vigil, tmp):
    """With the backend auto (the default) a root that does not fit the
    watch limit is polled instead, whole; vigil says so once, naming the
    limit to raise, and every change is still reported."""
    why = vigiltest.userns_limit_refused("max_inotify_watches", 5)
    if why:
        pytest.skip(why)
    small = tmp / "small"
    small.mkdir()
    root = tmp / "w"
    for i in range(12):
        (root / ("d%02d" % i) / "sub").mkdir(parents=True)
    v = vigil("watch", "--json", str(small), str(root),
              wrapper=vigiltest.in_userns_with_limit("max_inotify_watches", 5))
    line = v.wait_ready()
    assert line.strip() == ("vigil: ready, watching 1 directory (inotify), "
                            "25 by polling"), line
    told = [l.decode() for l in v.stderr_lines if b"polling it instead" in l]
    assert len(told) == 1, v.stderr_lines
    assert str(root) + ": inotify watch limit reached" in told[0], told
    assert "user.max_inotify_watches (now 5;" in told[0], told
    assert "fs.inotify" not in told[0], told
    # Polled: a change deep down is reported (by a pass), and so is one
    # in the root that inotify watches (at once, before its sentinel).
    os.mkdir(str(root / "d07" / "sub" / "new"))
    new = {"type": "created", "path": str(root / "d07" / "sub" / "new"),
           "dir": True}
    v.events_until(lambda e: e == new, what="created d07/sub/new")
    touch(str(small / "there"))
    evs = v.sync(str(small), str(small))
    assert evs[0] == {"type": "created", "path": str(small / "there"),
                      "dir": False}, evs


def test_instance_limit_auto_polls_instead(vigil, tmp):
    why = vigiltest.userns_limit_refused("max_inotify_instances", 0)
    if why:
        pytest.skip(why)
    root = tmp / "w"
    (root / "a").mkdir(parents=True)
    v = vigil("watch", "--json", str(root),
              wrapper=vigiltest.in_userns_with_limit("max_inotify_instances", 0))
    line = v.wait_ready()
    assert line.strip() == "vigil: ready, watching 2 directories by polling", line
    told = [l.decode() for l in v.stderr_lines if b"polling it instead" in l]
    assert len(told) == 1, v.stderr_lines
    assert "inotify instance limit reached" in told[0], told
    assert "user.max_inotify_instances (now 0;" in told[0], told
    os.mkdir(str(root / "a" / "new"))
    new = {"type": "created", "path": str(root / "a" / "new"), "dir": True}
    v.events_until(lambda e: e == new, what="created a/new (by a pass)")


def test_watch_limit_reached_later_is_an_error_event(vigil, tmp):
    why = vigiltest.userns_limit_refused("max_inotify_watches", 4)
    if why:
        pytest.skip(why)
    root = tmp / "w"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    wrapper = vigiltest.in_userns_with_limit("max_inotify_watches", 4)
    v = vigil("watch", "--json", str(root), wrapper=wrapper)
    v.wait_ready()
    for n in ("c", "d", "e"):
        (root / n).mkdir()
    touch(str(root / "a" / "still"))
    evs = v.events_until(
        lambda e: e["type"] == "created"
        and e["path"] == str(root / "a" / "still"), what="created a/still")
    created = [e["path"] for e in evs if e["type"] == "created"]
    for n in ("c", "d", "e"):
        assert str(root / n) in created, evs
    errs = [e for e in evs if e["type"] == "error"]
    # root, a, b and c fit; d and e do not.
    assert sorted(e["path"] for e in errs) == [str(root / "d"),
                                              str(root / "e")], evs
    for e in errs:
        assert "user.max_inotify_watches" in e["error"], e
        assert "fs.inotify" not in e["error"], e
        assert "No space left on device" not in e["error"], e
    assert v.running()
