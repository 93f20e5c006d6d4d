"""FUSE and network-like file systems, mounted by the tests themselves.

A bindfs mount of a source directory and an sshfs mount through an sshd
started on 127.0.0.1 show changes made on their other side (the source
directory, the server's side) at the next listing, but the kernel sees
only what is done through the mount: no inotify watch hears of the
others. That is why such mounts are polled.
"""

import os

import vigiltest


def unseen_by_inotify(vigil, point, other_side):
    """Changes made on the other side of the mount at point (the same
    directory as other_side) reach no inotify watch on point, although a
    listing through the mount shows them at once."""
    v = vigil("watch", "--json", "--backend", "inotify", point)
    v.wait_ready()
    # Through the mount: the kernel sees this one.
    os.mkdir(os.path.join(point, "through"))
    v.events_until(lambda e: e["type"] == "created"
                   and e["path"] == os.path.join(point, "through"),
                   what="created through/ (made through the mount)")
    # On the other side: a file, a directory, a write, a rename, a removal.
    with open(os.path.join(other_side, "far.txt"), "wb") as f:
        f.write(b"made on the other side\n")
    os.mkdir(os.path.join(other_side, "fardir"))
    with open(os.path.join(other_side, "through", "inside"), "wb") as f:
        f.write(b"x")
    os.rename(os.path.join(other_side, "far.txt"),
              os.path.join(other_side, "fardir", "far.txt"))
    # The mount shows them all, at once...
    assert sorted(os.listdir(point)) == ["fardir", "through"]
    assert os.listdir(os.path.join(point, "fardir")) == ["far.txt"]
    assert os.listdir(os.path.join(point, "through")) == ["inside"]
    # ... and a sentinel made through the mount after them comes with no
    # event of theirs before it: inotify did not see them.
    evs = v.sync(point, point)
    assert [e["path"] for e in evs] == [os.path.join(point, ".sentinel-1")], evs


def test_bindfs_changes_in_source_unseen_by_inotify(vigil, fuse, tmp):
    src, mnt = tmp / "src", tmp / "mnt"
    src.mkdir()
    mnt.mkdir()
    point = fuse.bindfs(src, mnt)
    unseen_by_inotify(vigil, point, str(src))


def test_sshfs_changes_on_server_unseen_by_inotify(vigil, fuse, tmp):
    remote, mnt = tmp / "remote", tmp / "mnt"
    remote.mkdir()
    mnt.mkdir()
    point = fuse.sshfs(remote, mnt)
    unseen_by_inotify(vigil, point, str(remote))


def seen_by_polling(vigil, point, other_side):
    """The same changes, on the other side of the mount, are found by the
    poll backend's passes through it, and the stream replays to what the
    mount shows."""
    os.mkdir(os.path.join(other_side, "old"))
    with open(os.path.join(other_side, "old", "kept"), "wb") as f:
        f.write(b"before\n")
    v = vigil("watch", "--json", "--backend", "poll", "--poll-interval", "50ms",
              point)
    v.wait_ready()
    replay = vigiltest.Replay(point, vigiltest.scan(point))
    with open(os.path.join(other_side, "far.txt"), "wb") as f:
        f.write(b"made on the other side\n")
    os.mkdir(os.path.join(other_side, "fardir"))
    with open(os.path.join(other_side, "old", "kept"), "ab") as f:
        f.write(b"and more\n")
    os.rename(os.path.join(other_side, "far.txt"),
              os.path.join(other_side, "fardir", "far.txt"))
    # Two sentinels on the other side: the pass that finds the second came
    # after every event of the one that found the first.
    evs = []
    for n in (1, 2):
        name = ".sentinel-%d" % n
        with open(os.path.join(other_side, name), "wb"):
            pass
        evs += v.events_until(
            lambda e, name=name: e["type"] == "created"
            and e["path"] == os.path.join(point, name),
            what="the sentinel %s, made on the other side" % name)
    replay.apply_all(evs)
    replay.check(vigiltest.scan(point))
    kinds = {(e["type"], e["path"]) for e in evs}
    assert ("created", os.path.join(point, "fardir")) in kinds, evs
    assert ("modified", os.path.join(point, "old", "kept")) in kinds, evs
    assert ("created", os.path.join(point, "fardir", "far.txt")) in kinds, evs


def test_bindfs_changes_in_source_seen_by_polling(vigil, fuse, tmp):
    src, mnt = tmp / "src", tmp / "mnt"
    src.mkdir()
    mnt.mkdir()
    point = fuse.bindfs(src, mnt)
    seen_by_polling(vigil, point, str(src))


def test_sshfs_changes_on_server_seen_by_polling(vigil, fuse, tmp):
    remote, mnt = tmp / "remote", tmp / "mnt"
    remote.mkdir()
    mnt.mkdir()
    point = fuse.sshfs(remote, mnt)
    seen_by_polling(vigil, point, str(remote))


def random_replay_through(vigil, tmp, mount):
    """The randomized replay of test_random.py, with every operation made on
    the other side of a mount (and an outside directory beside it), and
    vigil polling through the mount: after each round, replay of the
    stream gives the tree the mount shows."""
    import random
    from test_random import Fuzzer
    src, mnt, out = tmp / "src", tmp / "mnt", tmp / "out"
    for d in (src, mnt, out):
        d.mkdir()
    pre = Fuzzer(random.Random(11), str(src), str(src), tag="p")
    for _ in range(100):
        pre.op_create() if pre.rng.random() < 0.6 else pre.op_mkdir()
    point = mount(src, mnt)
    v = vigil("watch", "--json", "--backend", "poll", "--poll-interval", "50ms",
              point)
    v.wait_ready()
    replay = vigiltest.Replay(point, vigiltest.scan(point))
    fz = Fuzzer(random.Random(12), str(src), str(out))
    for rnd in range(3):
        fz.run(300)
        # Two sentinels: the second's pass comes after all of the first's.
        for n in (1, 2):
            v.sync(str(src), point)
        replay.apply_all(v.events)
        v.events = []
        try:
            replay.check(vigiltest.scan(point))
        except AssertionError as e:
            raise AssertionError("round %d (ops %r): %s" % (rnd, fz.counts, e)) from None


def test_bindfs_random_operations_replay_by_polling(vigil, fuse, tmp):
    random_replay_through(vigil, tmp, fuse.bindfs)


def test_sshfs_random_operations_replay_by_polling(vigil, fuse, tmp):
    random_replay_through(vigil, tmp, fuse.sshfs)
