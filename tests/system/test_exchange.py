"""renameat2(RENAME_EXCHANGE): two entries swap names in one step.

The kernel reports it as two renames, `a -> b` then `b -> a`, each with a
cookie of its own. vigil reports it as `moved a -> b` (which, replayed,
replaces b) followed by `created` for a and everything now below it, so
replay holds with the kinds every reader knows (docs/events.md, "Renames").
Its tree swaps the two entries, subtrees and watches included, so later
changes inside either are reported under the right path.
"""

import ctypes
import errno
import os

import pytest

import vigiltest

_libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
RENAME_EXCHANGE = 2


def exchange(a, b):
    """Swaps the names a and b atomically (renameat2 RENAME_EXCHANGE)."""
    fn = getattr(_libc, "renameat2", None)
    if fn is None:
        pytest.skip("the C library has no renameat2")
    if fn(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b),
          RENAME_EXCHANGE) != 0:
        e = ctypes.get_errno()
        if e in (errno.ENOSYS, errno.EINVAL):
            pytest.skip("RENAME_EXCHANGE is not supported here: %s"
                        % os.strerror(e))
        raise OSError(e, os.strerror(e), a)


def write(path, data=b"x"):
    with open(path, "wb") as f:
        f.write(data)


def of(evs, kind, path=None):
    return [e for e in evs if e["type"] == kind
            and (path is None or e["path"] == path)]


def test_two_files(watched):
    def populate(r):
        write(os.path.join(r, "a"), b"A")
        write(os.path.join(r, "b"), b"B")
    s = watched(populate=populate)
    exchange(s.p("a"), s.p("b"))
    evs = s.sync()
    assert [(e["type"], e["path"], e.get("from")) for e in evs[:2]] == [
        ("moved", s.p("b"), s.p("a")), ("created", s.p("a"), None)], evs
    s.check()
    with open(s.p("a"), "ab") as f:
        f.write(b"!")
    evs = s.sync()
    assert of(evs, "modified", s.p("a")) and not of(evs, "modified", s.p("b"))
    s.check()


def populate_dirs(r):
    for d, files in (("a", ("a1", "a2")), ("b", ("b1",))):
        os.makedirs(os.path.join(r, d, "deep"))
        for f in files:
            write(os.path.join(r, d, "deep", f))


def test_two_directories_keep_their_watches(watched):
    s = watched(populate=populate_dirs)
    exchange(s.p("a"), s.p("b"))
    evs = s.sync()
    s.check()
    assert of(evs, "moved", s.p("b")), evs
    assert of(evs, "created", s.p("a/deep/b1")), evs
    # Changes inside both, afterwards, come under their new paths.
    write(s.p("a/deep/new-in-old-b"))
    write(s.p("b/deep/new-in-old-a"))
    os.mkdir(s.p("a/deep/sub"))
    evs = s.sync()
    for p in ("a/deep/new-in-old-b", "b/deep/new-in-old-a", "a/deep/sub"):
        assert of(evs, "created", s.p(p)), (p, evs)
    write(s.p("a/deep/sub/x"))
    os.unlink(s.p("b/deep/a1"))
    evs = s.sync()
    assert of(evs, "created", s.p("a/deep/sub/x")), evs
    assert of(evs, "removed", s.p("b/deep/a1")), evs
    s.check()
    # Each kernel watch is held once, for a directory of the tree.
    assert vigiltest.count_watches(s.v.pid) == len(
        [1 for d in vigiltest.scan(s.root).values() if d]) + 1


def test_file_with_directory_and_back(watched):
    def populate(r):
        write(os.path.join(r, "f"), b"file")
        os.makedirs(os.path.join(r, "d", "in"))
        write(os.path.join(r, "d", "in", "x"))
    s = watched(populate=populate)
    exchange(s.p("f"), s.p("d"))
    s.sync()
    s.check()
    write(s.p("f/in/y"))
    evs = s.sync()
    assert of(evs, "created", s.p("f/in/y")), evs
    exchange(s.p("f"), s.p("d"))
    s.sync()
    s.check()
    write(s.p("d/in/z"))
    evs = s.sync()
    assert of(evs, "created", s.p("d/in/z")), evs
    s.check()


def test_across_directories(watched):
    def populate(r):
        os.makedirs(os.path.join(r, "x", "a", "in"))
        os.makedirs(os.path.join(r, "y", "b"))
        write(os.path.join(r, "y", "b", "f"))
    s = watched(populate=populate)
    exchange(s.p("x/a"), s.p("y/b"))
    s.sync()
    s.check()
    write(s.p("x/a/new"))
    write(s.p("y/b/in/new"))
    evs = s.sync()
    assert of(evs, "created", s.p("x/a/new")), evs
    assert of(evs, "created", s.p("y/b/in/new")), evs
    s.check()


def test_rename_there_and_back_is_no_exchange(watched):
    """Two plain renames, a -> b (replacing b) and b -> a, give the same
    records as an exchange but another result: b is gone."""
    def populate(r):
        os.makedirs(os.path.join(r, "a"))
        write(os.path.join(r, "a", "in"))
        os.makedirs(os.path.join(r, "b"))
        write(os.path.join(r, "f"), b"F")
        write(os.path.join(r, "g"), b"G")
    s = watched(populate=populate)
    os.rename(s.p("a"), s.p("b"))
    os.rename(s.p("b"), s.p("a"))
    os.rename(s.p("f"), s.p("g"))
    os.rename(s.p("g"), s.p("f"))
    s.sync()
    s.check()
    write(s.p("a/more"))
    evs = s.sync()
    assert of(evs, "created", s.p("a/more")), evs
    s.check()


def test_across_roots(vigil, tmp):
    r1, r2 = tmp / "r1", tmp / "r2"
    populate_dirs(str(r1))
    populate_dirs(str(r2))
    v = vigil("watch", "--json", str(r1), str(r2))
    v.wait_ready()
    rep = {str(r): vigiltest.Replay(str(r), vigiltest.scan(str(r)))
           for r in (r1, r2)}
    exchange(str(r1 / "a"), str(r2 / "b"))
    exchange(str(r1 / "b" / "deep" / "b1"), str(r2 / "a" / "deep" / "a1"))
    evs = v.sync(str(r1), str(r1))
    evs += v.sync(str(r2), str(r2))
    write(str(r1 / "a" / "deep" / "later"))
    write(str(r2 / "b" / "deep" / "later"))
    evs += v.sync(str(r1), str(r1))
    evs += v.sync(str(r2), str(r2))
    for e in evs:
        root = str(r1) if e["path"].startswith(str(r1) + "/") else str(r2)
        rep[root].apply(e)
    for r in (r1, r2):
        rep[str(r)].check(vigiltest.scan(str(r)))
    assert of(evs, "created", str(r1 / "a" / "deep" / "later")), evs
    assert of(evs, "created", str(r2 / "b" / "deep" / "later")), evs


def test_one_side_excluded(watched):
    """Exchanges with an excluded entry, by name (*.tmp) and by type (x/
    excludes only a directory named x, so a file that takes its name is
    watched)."""
    def populate(r):
        write(os.path.join(r, "a"), b"A")
        write(os.path.join(r, "b.tmp"), b"T")
        os.makedirs(os.path.join(r, "d", "in"))
        os.makedirs(os.path.join(r, "e.tmp", "in"))
        write(os.path.join(r, "y"), b"Y")
        os.makedirs(os.path.join(r, "x", "in"))
    s = watched("--exclude", "*.tmp", "--exclude", "x/", populate=populate)

    def exclude(rel, d):
        name = rel.split(b"/")[-1]
        return name.endswith(b".tmp") or (d and name == b"x")
    s.replay = vigiltest.Replay(s.given, vigiltest.scan(s.root, exclude))
    exchange(s.p("a"), s.p("b.tmp"))
    exchange(s.p("d"), s.p("e.tmp"))
    exchange(s.p("y"), s.p("x"))
    s.sync()
    s.check(exclude)
    write(s.p("d/in/new"))
    write(s.p("e.tmp/in/hidden"))
    write(s.p("y/in/new"))
    evs = s.sync()
    assert of(evs, "created", s.p("d/in/new")), evs
    assert of(evs, "created", s.p("y/in/new")), evs
    assert not [e for e in evs if ".tmp" in e["path"]], evs
    s.check(exclude)


@pytest.mark.parametrize("kinds", ["created,removed", "created,removed,moved"])
def test_with_kinds(watched, kinds):
    s = watched("--events", kinds, populate=populate_dirs)
    exchange(s.p("a"), s.p("b"))
    exchange(s.p("a/deep"), s.p("b/deep"))
    s.sync()
    s.check()
    write(s.p("a/deep/later"))
    evs = s.sync()
    assert of(evs, "created", s.p("a/deep/later")), evs
    s.check()
