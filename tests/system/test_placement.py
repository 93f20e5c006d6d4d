"""Where watches land: the directory vigil watches is the directory it lists.

A watch placed by name can land on another directory than the one listed,
when the name changes hands between the two steps. Those windows are opened
on purpose here: strace's fault injection holds vigil inside
inotify_add_watch while the test renames or replaces the directory. The
rest drives the same races in plain use, and trees deeper than PATH_MAX.
"""

import os
import signal
import subprocess
import time

import pytest

import vigiltest

INOTIFY_ADD_WATCH = 254  # x86_64
GETDENTS64 = 217  # x86_64


def touch(path, data=b""):
    with open(path, "wb") as f:
        f.write(data)


def created_paths(evs):
    return [e["path"] for e in evs if e["type"] == "created"]


def strace_delay(log, first, call="inotify_add_watch", when="enter"):
    """strace's argv holding each call (inotify_add_watch: on entry, before
    the kernel sees its path) from the first-th on for a second."""
    return ["strace", "-f", "-o", str(log), "-e", "trace=" + call,
            "-e", "inject=%s:delay_%s=1000000:when=%d+" % (call, when, first)]


def sanitizer_env():
    # LeakSanitizer cannot run under ptrace; the rest of ASan can.
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    return env


def traced(vigil, root, first, log, *extra, **delay):
    """vigil watch --json under strace, ready; returns (Vigil, traced pid)."""
    if subprocess.run(["strace", "-V"], capture_output=True).returncode != 0:
        pytest.skip("strace does not run here")
    v = vigil("watch", "--json", *extra, str(root),
              wrapper=strace_delay(log, first, **delay), env=sanitizer_env())
    v.wait_ready()
    pid = vigiltest.traced_child(v.pid)
    assert pid is not None, v.describe()
    return v, pid


def check_replay(v, root, evs_before, evs):
    replay = vigiltest.Replay(str(root), evs_before)
    replay.apply_all(evs)
    replay.check(vigiltest.scan(str(root)))


def test_directory_renamed_while_its_watch_is_placed(vigil, tmp):
    """mkdir x; while vigil places x's watch, mv x y and mkdir x again.
    Files made later in y (the directory vigil listed as x) and in the new
    x are each reported once, under their own paths."""
    root = tmp / "w"
    root.mkdir()
    v, pid = traced(vigil, root, 2, tmp / "trace")
    start = vigiltest.scan(str(root))
    (root / "x").mkdir()
    vigiltest.wait_in_syscall(pid, INOTIFY_ADD_WATCH, v)
    os.rename(root / "x", root / "y")
    (root / "x").mkdir()
    evs = v.sync(str(root), str(root))
    check_replay(v, root, start, evs)
    touch(str(root / "y" / "in-renamed"))
    touch(str(root / "x" / "in-new"))
    evs2 = v.sync(str(root), str(root))
    made = created_paths(evs2)
    assert made.count(str(root / "y" / "in-renamed")) == 1, evs2
    assert made.count(str(root / "x" / "in-new")) == 1, evs2
    assert str(root / "y" / "in-new") not in made, evs2
    check_replay(v, root, start, evs + evs2)


def test_directory_replaced_between_listing_and_open(vigil, tmp):
    """A tree moved in is listed; right after the listing returned x, x is
    renamed to y and another x made, so the x vigil opens is the new one.
    The kernel's records of the rename then set the tree right: files made
    later in y and in the new x are each reported once."""
    root = tmp / "w"
    root.mkdir()
    t = tmp / "outside" / "t"
    (t / "x").mkdir(parents=True)
    touch(str(t / "x" / "fa"))
    # The empty root is listed at setup with two getdents64 calls; hold
    # every later one for a second once it has returned its entries.
    v, pid = traced(vigil, root, 3, tmp / "trace", call="getdents64", when="exit")
    start = vigiltest.scan(str(root))
    os.rename(t, root / "t")
    vigiltest.wait_in_syscall(pid, GETDENTS64, v)
    os.rename(root / "t" / "x", root / "t" / "y")
    (root / "t" / "x").mkdir()
    evs = v.sync(str(root), str(root))
    check_replay(v, root, start, evs)
    touch(str(root / "t" / "y" / "in-old"))
    touch(str(root / "t" / "x" / "in-new"))
    evs2 = v.sync(str(root), str(root))
    made = created_paths(evs2)
    assert made.count(str(root / "t" / "y" / "in-old")) == 1, evs2
    assert made.count(str(root / "t" / "x" / "in-new")) == 1, evs2
    check_replay(v, root, start, evs + evs2)


def test_parent_replaced_by_symlink_while_a_watch_is_placed(vigil, tmp):
    """mkdir p/c; while vigil places c's watch, p is renamed to p2 and a
    symbolic link to a directory outside the tree, which has a c of its
    own, takes its name. Nothing from outside is ever reported, and c is
    watched where it went."""
    root = tmp / "w"
    (root / "p").mkdir(parents=True)
    outside = tmp / "outside"
    (outside / "c").mkdir(parents=True)
    touch(str(outside / "c" / "secret"))
    # The root and p are watched at setup; c's watch is the third.
    v, pid = traced(vigil, root, 3, tmp / "trace")
    start = vigiltest.scan(str(root))
    (root / "p" / "c").mkdir()
    vigiltest.wait_in_syscall(pid, INOTIFY_ADD_WATCH, v)
    os.rename(root / "p", root / "p2")
    os.symlink(str(outside), str(root / "p"))
    evs = v.sync(str(root), str(root))
    check_replay(v, root, start, evs)
    touch(str(outside / "c" / "evil"))
    touch(str(root / "p2" / "c" / "good"))
    evs2 = v.sync(str(root), str(root))
    leaked = [e for e in evs + evs2 if "secret" in (e.get("path") or "")
              or "evil" in (e.get("path") or "")]
    assert not leaked, evs + evs2
    assert created_paths(evs2).count(str(root / "p2" / "c" / "good")) == 1, evs2
    check_replay(v, root, start, evs + evs2)


@pytest.mark.time_limit(120)
def test_hundred_moved_in_then_renamed_and_replaced(vigil, tmp):
    """A tree of 100 directories moved in, and at once each renamed and a
    new one made under its old name: files made later inside every renamed
    one, and inside every new one, are reported, 100 of 100."""
    root = tmp / "w"
    root.mkdir()
    staging = tmp / "outside" / "t"
    n = 100
    for i in range(n):
        (staging / ("d%03d" % i)).mkdir(parents=True)
    v = vigil("watch", "--json", str(root))
    v.wait_ready()
    start = vigiltest.scan(str(root))
    t = root / "t"
    os.rename(staging, t)
    for i in range(n):
        os.rename(t / ("d%03d" % i), t / ("r%03d" % i))
        (t / ("d%03d" % i)).mkdir()
    evs = v.sync(str(root), str(root))
    for i in range(n):
        touch(str(t / ("r%03d" % i) / "f"))
        touch(str(t / ("d%03d" % i) / "g"))
    evs2 = v.sync(str(root), str(root))
    made = created_paths(evs2)
    missing = [p for i in range(n)
               for p in (str(t / ("r%03d" % i) / "f"), str(t / ("d%03d" % i) / "g"))
               if made.count(p) != 1]
    assert not missing, "%d of %d not reported exactly once: %r" % (
        len(missing), 2 * n, missing[:10])
    check_replay(v, root, start, evs + evs2)


# -- deeper than PATH_MAX ----------------------------------------------------

NAME = "d" * 200


def make_deep(top, depth):
    """top/NAME/NAME/... depth levels, made relative to open descriptors,
    since the whole path is longer than the kernel takes in one call.
    Returns the relative path of the deepest directory."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir(NAME, dir_fd=fd)
            nfd = os.open(NAME, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
    finally:
        os.close(fd)
    return "/".join([NAME] * depth)


def at_depth(top, rel, fn):
    """Calls fn(dir_fd) with rel below top opened one name at a time."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name in rel.split("/"):
            nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        return fn(fd)
    finally:
        os.close(fd)


def mknod_at(name):
    def make(fd):
        os.mknod(name, 0o644 | 0o100000, dir_fd=fd)
    return make


def test_deeper_than_path_max(vigil, tmp):
    """A tree deeper than PATH_MAX is watched to the bottom: changes deep
    inside are reported with their full paths, longer than PATH_MAX."""
    root = tmp / "w"
    root.mkdir()
    depth = 25  # 25 * 201 bytes: more than PATH_MAX (4096)
    deep = make_deep(str(root), depth)
    assert len(str(root / deep)) > 4096
    v = vigil("watch", "--json", str(root))
    ready = v.wait_ready()
    assert "watching %d directories" % (depth + 1) in ready, ready
    start = vigiltest.scan(str(root))
    at_depth(str(root), deep, mknod_at("bottom"))
    at_depth(str(root), deep, lambda fd: os.mkdir("more", dir_fd=fd))
    at_depth(str(root), deep + "/more", mknod_at("below"))
    evs = v.sync(str(root), str(root))
    assert not [e for e in evs if e["type"] == "error"], evs[:3]
    made = created_paths(evs)
    assert str(root / deep / "bottom") in made, [p[-40:] for p in made]
    assert str(root / deep / "more" / "below") in made, [p[-40:] for p in made]
    # A rename deep inside keeps both ends right.
    at_depth(str(root), deep, lambda fd: os.rename("more", "moved", src_dir_fd=fd,
                                                   dst_dir_fd=fd))
    at_depth(str(root), deep + "/moved", mknod_at("after"))
    evs2 = v.sync(str(root), str(root))
    assert {"type": "moved", "path": str(root / deep / "moved"),
            "from": str(root / deep / "more"), "dir": True} in evs2, evs2
    assert str(root / deep / "moved" / "after") in created_paths(evs2)
    check_replay(v, root, start, evs + evs2)
    v.send(signal.SIGINT)
    assert v.wait_exit() == 0, v.describe()


def test_without_openat2(vigil, tmp):
    """On a kernel without openat2 (strace makes it fail with ENOSYS),
    directories are opened one name at a time: a tree deeper than PATH_MAX
    is still watched to the bottom, and a link to a directory outside the
    tree is still never followed."""
    if subprocess.run(["strace", "-V"], capture_output=True).returncode != 0:
        pytest.skip("strace does not run here")
    root = tmp / "w"
    root.mkdir()
    outside = tmp / "outside"
    (outside / "o").mkdir(parents=True)
    depth = 25
    deep = make_deep(str(root), depth)
    trace = ["strace", "-f", "-o", "/dev/null", "-e", "trace=openat2",
             "-e", "inject=openat2:error=ENOSYS"]
    v = vigil("watch", "--json", str(root), wrapper=trace,
              env=sanitizer_env())
    ready = v.wait_ready()
    assert "watching %d directories" % (depth + 1) in ready, ready
    start = vigiltest.scan(str(root))
    # New directories are opened by path from the root: below a link too?
    os.symlink(str(outside / "o"), str(root / "link"))
    at_depth(str(root), deep, lambda fd: os.mkdir("new", dir_fd=fd))
    at_depth(str(root), deep + "/new", mknod_at("f"))
    touch(str(outside / "o" / "evil"))
    evs = v.sync(str(root), str(root))
    assert not [e for e in evs if e["type"] == "error"], evs[:3]
    assert not [e for e in evs if "evil" in (e.get("path") or "")], evs
    assert str(root / deep / "new" / "f") in created_paths(evs)
    check_replay(v, root, start, evs)


def test_without_proc_vigil_says_so(vigil_bin, tmp):
    """Watches are placed through /proc: without it (unmounted in a mount
    namespace of its own) vigil does not start, and says why."""
    root = tmp / "w"
    root.mkdir()
    try:
        r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                            'umount -l /proc || exit 77; exec "$0" "$@"',
                            vigil_bin, "watch", str(root)],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=vigiltest.EVENT_TIMEOUT)
    except OSError as e:
        pytest.skip("cannot run unshare -m: %s" % e)
    err = r.stderr.decode(errors="replace")
    if r.returncode == 77 or (r.returncode != 0 and "unshare" in err):
        pytest.skip("cannot unmount /proc in a mount namespace: " + err.strip())
    # Under AddressSanitizer the runtime's leak check fails without /proc
    # (it cannot even read its options there), also with status 1: the
    # message and the missing ready line are what show vigil's answer.
    assert r.returncode == 1, (r.returncode, err)
    assert "/proc is not mounted" in err, err
    assert "ready" not in err, err
    assert r.stdout == b""
