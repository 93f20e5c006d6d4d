"""What the poll backend compares, on file systems whose change time says
little.

sshfs shows a file's change time (ctime) as its modification time (SFTP
carries no ctime), so a change that keeps the mtime (cp -p, rsync -t,
touch -r, tar over an existing file) or touches only the mode leaves both
times as they were. A pass must still see it, from the size, the mode or
the inode of the file.
"""

import os

import vigiltest


def sync_far(v, point, other_side, n):
    """Makes a sentinel on the other side and waits for its event: every
    change made there before it has been found by then."""
    name = ".sentinel-%d" % n
    with open(os.path.join(other_side, name), "wb"):
        pass
    return v.events_until(
        lambda e: e["type"] == "created" and e["path"] == os.path.join(point, name),
        what="the sentinel %s, made on the other side" % name)


def changes_with_times_kept(vigil, point, other_side):
    far = os.path.join(other_side, "f")
    with open(far, "wb") as f:
        f.write(b"hello\n")
    os.utime(far, ns=(1_500_000_000_000_000_000, 1_500_000_000_000_000_000))
    v = vigil("watch", "--json", "--backend", "poll", "--poll-interval", "50ms", point)
    v.wait_ready()
    near = os.path.join(point, "f")
    # Content and size change, the times put back as they were.
    st = os.stat(far)
    with open(far, "ab") as f:
        f.write(b"appended, times kept\n")
    os.utime(far, ns=(st.st_atime_ns, st.st_mtime_ns))
    evs = sync_far(v, point, other_side, 1)
    assert ("modified", near) in [(e["type"], e["path"]) for e in evs], evs
    # Only the mode changes.
    os.chmod(far, 0o600)
    evs = sync_far(v, point, other_side, 2)
    assert ("attrib", near) in [(e["type"], e["path"]) for e in evs], evs


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
