"""Mounts made and removed after `ready`, inside and around a watched tree.

The kernel's inotify says nothing when a file system is mounted over a
watched directory, and nothing when a bind mount goes away; vigil watches
the mount table (/proc/self/mountinfo) instead. Each test runs vigil in a
private mount namespace (`unshare -m`, or `unshare -U -r -m` where the
first is refused) and mounts and unmounts there with `nsenter`, so nothing
outside the test sees a mount. Without a namespace that can mount a tmpfs,
the tests skip and say why.
"""

import os
import subprocess

import pytest

import vigiltest
from vigiltest import Replay, scan

_PREFIXES = (["unshare", "-m", "--propagation", "private"],
             ["unshare", "-U", "-r", "-m", "--propagation", "private"])
_probe = None


def namespace():
    """The unshare words that give a namespace able to mount a tmpfs, and
    whether it is a user namespace too; skips with the reasons if none."""
    global _probe
    if _probe is None:
        reasons = []
        for pre in _PREFIXES:
            try:
                r = subprocess.run(
                    pre + ["sh", "-c", 'd=$(mktemp -d) && mount -t tmpfs vigiltest "$d" '
                           '&& umount "$d" && rmdir "$d"'],
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, timeout=vigiltest.EVENT_TIMEOUT)
            except (OSError, subprocess.TimeoutExpired) as e:
                reasons.append("%s: %s" % (" ".join(pre), e))
                continue
            if r.returncode == 0:
                _probe = (pre, "-U" in pre)
                break
            reasons.append("%s: %s" % (" ".join(pre),
                                       r.stderr.decode(errors="replace").strip()))
        else:
            _probe = "; ".join(reasons)
    if isinstance(_probe, str):
        pytest.skip("no mount namespace with a tmpfs: " + _probe)
    return _probe


class Ns:
    """vigil watch --json ROOT in a mount namespace of its own."""

    def __init__(self, vigil, root, setup=None):
        pre, self.userns = namespace()
        wrapper = list(pre)
        if setup:
            # A shell makes the mounts the root needs, then becomes vigil.
            wrapper += ["sh", "-c", setup + ' && exec "$@"', "sh"]
        self.root = str(root)
        self.v = vigil("watch", "--json", self.root, wrapper=wrapper)
        self.v.wait_ready()
        self.replay = Replay(self.root, self.disk())

    def run(self, *cmd):
        """Runs cmd in vigil's mount namespace."""
        ns = ["nsenter", "-t", str(self.v.pid), "-m"] + (["-U"] if self.userns else [])
        r = subprocess.run(ns + ["--"] + list(cmd), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=vigiltest.EVENT_TIMEOUT)
        assert r.returncode == 0, (cmd, r.stderr)
        return r.stdout

    def disk(self):
        """The tree below the root as vigil's namespace sees it."""
        if not hasattr(self, "v") or not self.v.running():
            return scan(self.root)
        out = {}
        for line in self.run("find", self.root, "-mindepth", "1", "-printf",
                             r"%y %P\n").splitlines():
            out[line[2:]] = line[:1] == b"d"
        return out

    def sync(self):
        evs = self.v.sync(self.root, self.root)
        self.replay.apply_all(evs)
        assert not [e for e in evs if e["type"] in ("overflow", "error")], evs
        return evs

    def check(self):
        self.replay.check(self.disk())


def kinds(evs, root, kind):
    """The paths of the events of one kind, relative and sorted, sentinels left out."""
    rels = (os.path.relpath(e["path"], root) for e in evs if e["type"] == kind)
    return sorted(r for r in rels if not r.startswith(".sentinel"))


def test_a_mount_over_a_watched_directory_and_its_unmount(vigil, tmp):
    root = tmp / "w"
    (root / "sub" / "old").mkdir(parents=True)
    (root / "sub" / "a").write_text("")
    (root / "sub" / "old" / "b").write_text("")
    (root / "keep").mkdir()
    ns = Ns(vigil, root)
    sub = str(root / "sub")
    # What the tmpfs hides is removed, what it shows is created.
    ns.run("sh", "-c", 'mount -t tmpfs vigiltest "$0" && mkdir "$0/d" && touch "$0/d/f" "$0/g"',
           sub)
    evs = ns.sync()
    assert kinds(evs, root, "removed") == ["sub/a", "sub/old", "sub/old/b"], evs
    assert kinds(evs, root, "created") == ["sub/d", "sub/d/f", "sub/g"], evs
    ns.check()
    # The mounted directory is watched: changes in it are reported.
    ns.run("touch", sub + "/d/later")
    ns.run("mkdir", sub + "/e")
    ns.run("touch", sub + "/e/x")
    evs = ns.sync()
    assert kinds(evs, root, "created") == ["sub/d/later", "sub/e", "sub/e/x"], evs
    ns.check()
    # The unmount shows the directory beneath again, watched too.
    ns.run("umount", sub)
    evs = ns.sync()
    assert kinds(evs, root, "removed") == ["sub/d", "sub/d/f", "sub/d/later", "sub/e",
                                           "sub/e/x", "sub/g"], evs
    assert kinds(evs, root, "created") == ["sub/a", "sub/old", "sub/old/b"], evs
    (root / "sub" / "old" / "c").write_text("")
    evs = ns.sync()
    assert "sub/old/c" in kinds(evs, root, "created"), evs
    ns.check()


def test_a_bind_mount_over_a_watched_directory(vigil, tmp):
    # The same file system: what the mount shows has inode numbers of the
    # same kind, and must still be told apart from what it hides.
    root = tmp / "w"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a").write_text("")
    other = tmp / "other"
    (other / "d").mkdir(parents=True)
    (other / "d" / "f").write_text("")
    (other / "a").write_text("")
    ns = Ns(vigil, root)
    sub = str(root / "sub")
    ns.run("mount", "--bind", str(other), sub)
    evs = ns.sync()
    assert kinds(evs, root, "removed") == ["sub/a"], evs
    assert kinds(evs, root, "created") == ["sub/a", "sub/d", "sub/d/f"], evs
    ns.check()
    # A change made through the other path is one below sub now.
    (other / "d" / "g").write_text("")
    evs = ns.sync()
    assert "sub/d/g" in kinds(evs, root, "created"), evs
    ns.run("umount", sub)
    evs = ns.sync()
    ns.check()
    # No longer shown below sub: a change there is not reported.
    (other / "d" / "h").write_text("")
    evs = ns.sync()
    assert kinds(evs, root, "created") == [], evs
    ns.check()


def test_a_bind_mounted_root_that_is_unmounted_ends(vigil, tmp):
    src, root = tmp / "src", tmp / "b"
    (src / "d").mkdir(parents=True)
    (src / "d" / "f").write_text("")
    (src / "g").write_text("")
    root.mkdir()
    ns = Ns(vigil, root, setup='mount --bind "%s" "%s"' % (src, root))
    assert sorted(ns.replay.tree()) == [b"d", b"d/f", b"g"]
    ns.run("umount", str(root))
    # The root now leads to another directory: it ends as a removed root.
    status = ns.v.wait_exit()
    evs = []
    while True:
        ev = ns.v.event()
        if ev is None:
            break
        evs.append(ev)
    ns.replay.apply_all(evs)
    assert status == 3, (status, evs)
    assert evs[-1] == {"type": "removed", "path": str(root), "dir": True}, evs
    assert ns.replay.root_gone


def test_a_mount_over_a_directory_above_the_root_ends_it(vigil, tmp):
    root = tmp / "p" / "w"
    (root / "x").mkdir(parents=True)
    ns = Ns(vigil, root)
    ns.run("mount", "-t", "tmpfs", "vigiltest", str(tmp / "p"))
    status = ns.v.wait_exit()
    evs = []
    while True:
        ev = ns.v.event()
        if ev is None:
            break
        evs.append(ev)
    ns.replay.apply_all(evs)
    assert status == 3, (status, evs)
    assert ns.replay.root_gone, evs


def test_mount_points_with_spaces_and_tabs_in_their_names(vigil, tmp):
    # The mount table escapes them ("\040", "\011"); vigil must not.
    root = tmp / "w x"
    sub = root / "s p\tq"
    sub.mkdir(parents=True)
    (sub / "hidden").write_text("")
    ns = Ns(vigil, root)
    ns.run("sh", "-c", 'mount -t tmpfs vigiltest "$0" && touch "$0/shown"', str(sub))
    evs = ns.sync()
    assert kinds(evs, root, "removed") == ["s p\tq/hidden"], evs
    assert kinds(evs, root, "created") == ["s p\tq/shown"], evs
    ns.check()
