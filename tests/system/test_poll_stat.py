"""What the poll backend compares, on file systems whose change time says
little, and a directory's own metadata.

sshfs shows a file's change time (ctime) as its modification time (SFTP
carries no ctime), so a change that keeps the mtime (cp -p, rsync -t,
touch -r, tar over an existing file) or touches only the mode leaves both
times as they were. A pass must still see it, from the size, the mode or
the inode of the file.

A directory's own metadata (mode, owner, times set, extended attributes)
is attrib on every backend; entries added to it or removed from it change
its times too, and are no attrib of it.
"""

import os

import pytest

import vigiltest


def sync_far(v, point, other_side, n):
    """Makes a sentinel on the other side and waits for its event: every
    change made there before it has been found by then (a pass applies
    the changes it found before the names that appeared)."""
    name = ".sentinel-%d" % n
    with open(os.path.join(other_side, name), "wb"):
        pass
    evs = v.events_until(
        lambda e: e["type"] == "created" and e["path"] == os.path.join(point, name),
        what="the sentinel %s, made on the other side" % name)
    return {(e["type"], e["path"]) for e in evs if "/.sentinel-" not in e["path"]}


def changes_with_times_kept(vigil, point, other_side):
    far = os.path.join(other_side, "f")
    with open(far, "wb") as f:
        f.write(b"hello\n")
    os.utime(far, ns=(1_500_000_000_000_000_000, 1_500_000_000_000_000_000))
    os.mkdir(os.path.join(other_side, "d"))
    v = vigil("watch", "--json", "--backend", "poll", "--poll-interval", "50ms", point)
    v.wait_ready()
    near = os.path.join(point, "f")
    # Content and size change, the times put back as they were. Twice: the
    # second time the directory holds a newer file (the first sentinel).
    for n in (1, 2):
        st = os.stat(far)
        with open(far, "ab") as f:
            f.write(b"appended, times kept\n")
        os.utime(far, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert sync_far(v, point, other_side, n) == {("modified", near)}
    # Only the mode changes.
    os.chmod(far, 0o600)
    assert sync_far(v, point, other_side, 3) == {("attrib", near)}
    # A directory's mode.
    os.chmod(os.path.join(other_side, "d"), 0o700)
    assert sync_far(v, point, other_side, 4) == {("attrib", os.path.join(point, "d"))}


def test_bindfs_changes_with_times_kept(vigil, fuse, tmp):
    src, mnt = tmp / "src", tmp / "mnt"
    src.mkdir()
    mnt.mkdir()
    changes_with_times_kept(vigil, fuse.bindfs(src, mnt), str(src))


def test_sshfs_changes_with_times_kept(vigil, fuse, tmp):
    remote, mnt = tmp / "remote", tmp / "mnt"
    remote.mkdir()
    mnt.mkdir()
    changes_with_times_kept(vigil, fuse.sshfs(remote, mnt), str(remote))


def test_sshfs_change_right_after_a_pass(vigil, fuse, tmp):
    """sshfs gives times in whole seconds: a file rewritten in the second
    a pass saw it, with another size, keeps its times, and is modified."""
    remote, mnt = tmp / "remote", tmp / "mnt"
    remote.mkdir()
    mnt.mkdir()
    point = fuse.sshfs(remote, mnt)
    v = vigil("watch", "--json", "--backend", "poll", "--poll-interval", "50ms", point)
    v.wait_ready()
    far, near = os.path.join(str(remote), "f"), os.path.join(point, "f")
    with open(far, "wb") as f:
        f.write(b"0")
    assert sync_far(v, point, str(remote), 1) == {("created", near)}
    for n in range(2, 12):
        with open(far, "wb") as f:
            f.write(b"x" * n)
        assert sync_far(v, point, str(remote), n) == {("modified", near)}


@pytest.mark.parametrize("backend", ["default", "poll"])
def test_directory_metadata(watched, backend):
    s = watched(*vigiltest.backend_args(backend),
                populate=lambda r: os.makedirs(os.path.join(r, "d", "e")))
    d = s.p("d")

    def changes():
        return {(e["type"], e["path"]) for e in s.sync()
                if "/.sentinel-" not in e["path"]}

    assert changes() == set()
    os.chmod(d, 0o700)
    assert changes() == {("attrib", d)}
    os.utime(d, ns=(1_500_000_000_000_000_000, 1_500_000_000_000_000_000))
    assert changes() == {("attrib", d)}
    os.setxattr(d, "user.vigil", b"1")
    assert changes() == {("attrib", d)}
    # The root's own directory too.
    os.chmod(s.root, 0o750)
    assert changes() == {("attrib", s.root)}
    # Entries added, renamed and removed change its times: no attrib of it.
    os.mknod(os.path.join(d, "x"))
    os.mkdir(os.path.join(d, "sub"))
    assert changes() == {("created", os.path.join(d, "x")),
                         ("created", os.path.join(d, "sub"))}
    os.rename(os.path.join(d, "x"), os.path.join(d, "y"))
    assert changes() == {("moved", os.path.join(d, "y"))}
    os.unlink(os.path.join(d, "y"))
    os.rmdir(os.path.join(d, "sub"))
    assert changes() == {("removed", os.path.join(d, "y")),
                         ("removed", os.path.join(d, "sub"))}
    # Renamed, a directory keeps its metadata (the rename sets its ctime).
    os.rename(d, s.p("d2"))
    assert changes() == {("moved", s.p("d2"))}
    assert changes() == set()
    if os.geteuid() == 0:
        os.chown(s.p("d2"), 1, 1)
        assert changes() == {("attrib", s.p("d2"))}
