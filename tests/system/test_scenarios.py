"""Short sequences of changes, made while vigil is stopped (SIGSTOP: it reads
them all afterwards, long after they happened, which makes the races of
new directories deterministic) or while it runs. After each, the replay of
the stream must give the tree on disk."""

import os
import shutil
import signal
import stat

import pytest

import vigiltest


def touch(path, data=b""):
    with open(path, "wb") as f:
        f.write(data)


def mk(path, files=()):
    os.makedirs(path, exist_ok=True)
    for f in files:
        touch(os.path.join(path, f), b"x")


# Each scenario: (setup before vigil starts, action); both get a function
# W(rel) for paths in the root and O(rel) for paths in the outside dir.
SCENARIOS = {
    "mkdir-p-with-files": (
        None,
        lambda W, O: mk(W("a/b/c"), ["x", "y"])),
    "mkdir-then-renamed": (
        None,
        lambda W, O: (mk(W("new/sub"), ["f"]),
                      os.rename(W("new"), W("new2")))),
    "mkdir-then-renamed-and-replaced": (
        None,
        lambda W, O: (mk(W("x/sub"), ["f"]), os.rename(W("x"), W("y")),
                      mk(W("x"), ["g"]))),
    "move-in-then-each-renamed-and-replaced": (
        lambda W, O: [mk(O("t/d%02d" % i), ["f"]) for i in range(20)],
        lambda W, O: (os.rename(O("t"), W("t")),
                      [(os.rename(W("t/d%02d" % i), W("t/r%02d" % i)),
                        mk(W("t/d%02d" % i))) for i in range(20)])),
    "mkdir-then-parent-renamed": (
        lambda W, O: mk(W("a")),
        lambda W, O: (mk(W("a/new/sub"), ["f"]),
                      os.rename(W("a"), W("b")))),
    "mkdir-then-grandparent-renamed": (
        lambda W, O: mk(W("a/b")),
        lambda W, O: (mk(W("a/b/new"), ["f"]),
                      os.rename(W("a"), W("z")))),
    "move-in-then-parent-renamed": (
        lambda W, O: (mk(W("a")), mk(O("o/sub"), ["f"])),
        lambda W, O: (os.rename(O("o"), W("a/i")),
                      os.rename(W("a"), W("b")))),
    "move-in-then-renamed": (
        lambda W, O: mk(O("o/sub"), ["f"]),
        lambda W, O: (os.rename(O("o"), W("i")),
                      os.rename(W("i"), W("j")))),
    "move-in-then-out-again": (
        lambda W, O: mk(O("o/sub"), ["f"]),
        lambda W, O: (os.rename(O("o"), W("i")),
                      os.rename(W("i"), O("o2")))),
    "mkdir-then-rm-rf": (
        None,
        lambda W, O: (mk(W("new/sub"), ["f"]), shutil.rmtree(W("new")))),
    "mkdir-then-moved-out": (
        None,
        lambda W, O: (mk(W("new/sub"), ["f"]),
                      os.rename(W("new"), O("new")))),
    "mkdir-then-child-moved-up": (
        None,
        lambda W, O: (mk(W("d/e"), ["f"]), os.rename(W("d/e"), W("e2")))),
    "mkdir-then-child-moved-into-old-dir": (
        lambda W, O: mk(W("old")),
        lambda W, O: (mk(W("d/e"), ["f"]),
                      os.rename(W("d/e"), W("old/e")))),
    "old-child-moved-into-new-dir": (
        lambda W, O: mk(W("old/e"), ["f"]),
        lambda W, O: (mk(W("d")), os.rename(W("old/e"), W("d/e")))),
    "dir-removed-and-recreated": (
        lambda W, O: mk(W("x/a"), ["f"]),
        lambda W, O: (shutil.rmtree(W("x")), mk(W("x/b"), ["g"]))),
    "file-replaced-by-dir": (
        lambda W, O: touch(W("f"), b"1"),
        lambda W, O: (os.unlink(W("f")), mk(W("f"), ["inside"]))),
    "dir-replaced-by-file": (
        lambda W, O: mk(W("d"), ["inside"]),
        lambda W, O: (shutil.rmtree(W("d")), touch(W("d"), b"1"))),
    "rename-chain": (
        lambda W, O: (touch(W("a")), mk(W("da"), ["f"])),
        lambda W, O: (os.rename(W("a"), W("b")), os.rename(W("b"), W("c")),
                      os.rename(W("da"), W("db")),
                      os.rename(W("db"), W("dc")))),
    "swap": (
        lambda W, O: (mk(W("a"), ["fa"]), mk(W("b"), ["fb"])),
        lambda W, O: (os.rename(W("a"), W("t")), os.rename(W("b"), W("a")),
                      os.rename(W("t"), W("b")))),
    "rename-over-existing-file": (
        lambda W, O: (touch(W("a"), b"1"), touch(W("b"), b"2")),
        lambda W, O: os.rename(W("a"), W("b"))),
    "new-file-renamed-over-existing": (
        lambda W, O: touch(W("b"), b"2"),
        lambda W, O: (touch(W("a"), b"1"), os.rename(W("a"), W("b")))),
    "move-in-over-existing-file": (
        lambda W, O: (touch(W("b"), b"2"), touch(O("a"), b"1")),
        lambda W, O: os.rename(O("a"), W("b"))),
    "rename-dir-over-empty-dir": (
        lambda W, O: (mk(W("a"), ["f"]), mk(W("b"))),
        lambda W, O: os.rename(W("a"), W("b"))),
    "move-out-and-back-renamed": (
        lambda W, O: mk(W("d/e"), ["f"]),
        lambda W, O: (os.rename(W("d"), O("d")), os.rename(O("d"), W("d2")))),
    "deep-renames": (
        None,
        lambda W, O: (mk(W("a/b/c/d"), ["f"]), os.rename(W("a/b"), W("x")),
                      os.rename(W("a"), W("y")), mk(W("x/c/d/e"), ["g"]))),
    "rm-rf-big": (
        lambda W, O: [mk(W("t/%d/%d" % (i, j)), ["f1", "f2"])
                      for i in range(10) for j in range(10)],
        lambda W, O: shutil.rmtree(W("t"))),
    "move-out-big-then-reuse-name": (
        lambda W, O: [mk(W("t/%d" % i), ["f1", "f2"]) for i in range(30)],
        lambda W, O: (os.rename(W("t"), O("t")), mk(W("t/0"), ["new"]))),
    "symlinks": (
        lambda W, O: mk(W("d")),
        lambda W, O: (os.symlink("d", W("ld")), os.symlink(".", W("d/loop")),
                      os.symlink("gone", W("dangling")),
                      os.rename(W("ld"), W("ld2")))),
    "hardlink": (
        lambda W, O: touch(W("a"), b"1"),
        lambda W, O: (os.link(W("a"), W("b")), os.unlink(W("a")))),
    "fifo-and-special": (
        None,
        lambda W, O: (os.mkfifo(W("fifo")),
                      os.mknod(W("node"), 0o600 | stat.S_IFREG))),
}


@pytest.mark.parametrize("backend", ["default", "poll"])
@pytest.mark.parametrize("mode", ["stopped", "live", "overflow"])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_replay(watched, name, mode, backend):
    """mode: "live" (vigil running), "stopped" (SIGSTOP during the
    changes) or "overflow" (stopped, and the kernel queue overflows before
    the changes, so they are found only by the rescan). backend: the
    default one, or polling, whose passes the sentinels wait for."""
    setup, action = SCENARIOS[name]
    if backend == "poll" and mode == "overflow":
        pytest.skip("polling has no kernel queue to overflow")
    if mode == "overflow" and vigiltest.max_queued_events() > 200000:
        pytest.skip("max_queued_events too big")

    def populate(root):
        if setup:
            setup(lambda r: os.path.join(root, r),
                  lambda r: os.path.join(os.path.dirname(root), "outside", r))
    s = watched(*vigiltest.backend_args(backend), populate=populate)
    W = s.p
    O = lambda r: os.path.join(s.outside, r)  # noqa: E731
    if mode != "live":
        s.v.send(signal.SIGSTOP)
    try:
        if mode == "overflow":
            vigiltest.flood(s.root)
        action(W, O)
    finally:
        if mode != "live":
            s.v.send(signal.SIGCONT)
    evs = s.sync_settled()
    if mode == "overflow":
        assert any(e["type"] == "overflow" for e in evs)
    s.check()
    # And vigil still watches everything that is there now: a file made in
    # every directory is reported.
    made = []
    for dirpath, dirnames, filenames in os.walk(s.root):
        made.append(os.path.join(dirpath, "probe"))
        touch(made[-1])
    evs = s.sync()
    created = {e["path"] for e in evs if e["type"] == "created"}
    missing = [m for m in made if m not in created]
    assert not missing, "not watched any more: %r" % missing
    s.check()
