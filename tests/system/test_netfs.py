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


# -- polling: what the other side does is reported ---------------------------

# Passes every 100 ms: the tests wait for each event, never for a pass.
FAST = ("--poll-interval", "100ms")


def put(staging, path, data):
    """Makes the file path whole at once: written beside, then renamed in,
    so that no pass can find it half written."""
    tmp = os.path.join(staging, ".put")
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def append(path, data):
    with open(path, "ab") as f:
        f.write(data)


def ev(kind, path, is_dir=False, frm=None):
    e = {"type": kind, "path": path, "dir": is_dir}
    if frm is not None:
        e["from"] = frm
    return e


def other_side_reported(v, point, other, staging, inodes=True):
    """Each kind of change made on the other side of the mount is reported
    through it, as exactly the events it is, and the stream replays to the
    tree the mount shows. Without inode numbers in its listings (sshfs
    lists none), a file system cannot show that a name gone and a name
    come are one file: a move made on the other side is then its removal
    and its creation, in the order a replay needs."""
    replay = vigiltest.Replay(point, vigiltest.scan(point))

    def step(change, *want, ordered=True):
        change()
        left = list(want)

        def last(e):
            if e in left:
                left.remove(e)
            return not left

        got = v.events_until(last, what="%s %s" % (want[-1]["type"],
                                                   want[-1]["path"]))
        if ordered:
            assert got == list(want), got
        else:
            key = lambda e: (e["type"], e["path"])  # noqa: E731
            assert sorted(got, key=key) == sorted(want, key=key), got
        replay.apply_all(got)

    o = lambda *p: os.path.join(other, *p)  # noqa: E731
    m = lambda *p: os.path.join(point, *p)  # noqa: E731
    step(lambda: put(staging, o("a.txt"), b"one\n"), ev("created", m("a.txt")))
    step(lambda: append(o("a.txt"), b"two\n"), ev("modified", m("a.txt")))
    step(lambda: os.mkdir(o("d")), ev("created", m("d"), True))
    if inodes:
        step(lambda: os.rename(o("a.txt"), o("d", "b.txt")),
             ev("moved", m("d", "b.txt"), frm=m("a.txt")))
        step(lambda: os.rename(o("d"), o("e")),
             ev("moved", m("e"), True, m("d")))
    else:
        step(lambda: os.rename(o("a.txt"), o("d", "b.txt")),
             ev("removed", m("a.txt")), ev("created", m("d", "b.txt")),
             ordered=False)
        step(lambda: os.rename(o("d"), o("e")),
             ev("removed", m("d", "b.txt")), ev("removed", m("d"), True),
             ev("created", m("e"), True), ev("created", m("e", "b.txt")),
             ordered=False)
    step(lambda: os.unlink(o("e", "b.txt")), ev("removed", m("e", "b.txt")))
    step(lambda: os.rmdir(o("e")), ev("removed", m("e"), True))
    replay.check(vigiltest.scan(point))


def test_bindfs_changes_in_source_reported_by_auto(vigil, fuse, tmp):
    src, mnt = tmp / "src", tmp / "mnt"
    src.mkdir()
    mnt.mkdir()
    point = fuse.bindfs(src, mnt)
    v = vigil("watch", "--json", *FAST, point)
    assert v.wait_ready().strip() == \
        "vigil: ready, watching 1 directory by polling"
    other_side_reported(v, point, str(src), str(tmp))


def test_bindfs_changes_in_source_reported_by_poll(vigil, fuse, tmp):
    src, mnt = tmp / "src", tmp / "mnt"
    (src / "keep").mkdir(parents=True)
    mnt.mkdir()
    point = fuse.bindfs(src, mnt)
    v = vigil("watch", "--json", "--backend", "poll", *FAST, point)
    assert v.wait_ready().strip() == \
        "vigil: ready, watching 2 directories by polling"
    other_side_reported(v, point, str(src), str(tmp))


def test_sshfs_changes_on_server_reported_by_auto(vigil, fuse, tmp):
    remote, mnt = tmp / "remote", tmp / "mnt"
    remote.mkdir()
    mnt.mkdir()
    point = fuse.sshfs(remote, mnt)
    v = vigil("watch", "--json", *FAST, point)
    assert v.wait_ready().strip() == \
        "vigil: ready, watching 1 directory by polling"
    other_side_reported(v, point, str(remote), str(tmp), inodes=False)


def test_auto_polls_a_fuse_mount_inside_an_inotify_tree(vigil, fuse, tmp):
    """One root on a local file system with a FUSE mount below it: the
    mount (and what lies below it) is polled, the rest is watched with
    inotify, in one instance."""
    home, src = tmp / "home", tmp / "src"
    (home / "proj" / "lib").mkdir(parents=True)
    (home / "net").mkdir()
    (src / "deep").mkdir(parents=True)
    fuse.bindfs(src, home / "net")
    v = vigil("watch", "--json", *FAST, str(home))
    assert v.wait_ready().strip() == \
        "vigil: ready, watching 3 directories (inotify), 2 by polling"
    # The other side of the mount: only polling can see this.
    put(str(tmp), str(src / "deep" / "far.txt"), b"far\n")
    v.events_until(lambda e: e == ev("created", str(home / "net" / "deep" / "far.txt")),
                   what="created net/deep/far.txt")
    # The local part: inotify reports at once, and in order.
    os.mkdir(str(home / "proj" / "lib" / "new"))
    evs = v.sync(str(home), str(home))
    assert evs[0] == ev("created", str(home / "proj" / "lib" / "new"), True), evs
    # Through the mount, a change is seen too (by the pass after it).
    os.mkdir(str(home / "net" / "made-here"))
    v.events_until(lambda e: e == ev("created", str(home / "net" / "made-here"), True),
                   what="created net/made-here")


def test_auto_fuse_mount_appearing_and_going_below_a_root(vigil, fuse, tmp):
    """A FUSE mount made below a watched root while vigil runs is polled
    from then on; once it is unmounted, what it covered is watched with
    inotify again."""
    home, src = tmp / "home", tmp / "src"
    (home / "net").mkdir(parents=True)
    with open(str(home / "net" / "covered"), "wb") as f:
        f.write(b"under the mount\n")
    src.mkdir()
    put(str(tmp), str(src / "shown"), b"on the mount\n")
    v = vigil("watch", "--json", *FAST, str(home))
    assert v.wait_ready().strip() == "vigil: ready, watching 2 directories"
    net = str(home / "net")
    fuse.bindfs(src, home / "net")
    v.events_until(lambda e: e == ev("created", os.path.join(net, "shown")),
                   what="created net/shown")
    put(str(tmp), str(src / "later"), b"x")
    v.events_until(lambda e: e == ev("created", os.path.join(net, "later")),
                   what="created net/later (by polling)")
    fuse.unmount(home / "net")
    v.events_until(lambda e: e == ev("created", os.path.join(net, "covered")),
                   what="created net/covered, shown again")
    # inotify again: the sentinel comes after this one, in order.
    os.mkdir(os.path.join(net, "after"))
    evs = v.sync(str(home), str(home))
    assert ev("created", os.path.join(net, "after"), True) in evs, evs
