"""--exclude: gitignore patterns, relative to the root; excluded directories
get no kernel watch at all."""

import os
import re
import signal

import pytest


import vigiltest
from vigiltest import count_watches


def touch(path, data=b""):
    with open(path, "wb") as f:
        f.write(data)


PATTERNS = ["node_modules", "/build", "*.o", "a/**/deep", "cache/", "*.log",
            "!keep.log"]


def excluded(rel, is_dir):
    """What PATTERNS exclude (a hand-written model of the gitignore rules
    for exactly these patterns). rel is bytes, relative to the root."""
    comps = rel.split(b"/")
    for i, c in enumerate(comps):
        last = i == len(comps) - 1
        cdir = is_dir if last else True
        if c == b"node_modules":
            return True
        if i == 0 and c == b"build":
            return True
        if c.endswith(b".o"):
            return True
        if comps[0] == b"a" and i >= 1 and c == b"deep":
            return True
        if c == b"cache" and cdir:
            return True
        if c.endswith(b".log") and c != b"keep.log":
            return True
    return False


def build(root):
    def d(p):
        os.makedirs(os.path.join(root, p), exist_ok=True)

    def f(p):
        d(os.path.dirname(p) or ".")
        touch(os.path.join(root, p), b"x")
    for p in ("node_modules/sub1", "node_modules/sub2/sub3",
              "a/node_modules/x", "x/y/node_modules/z", "node_modules_x",
              "build/sub", "a/build/sub", "src",
              "a/deep/d1", "a/b/deep", "a/b/c/deep/d2", "deep", "b/a/deep",
              "cache/c1", "x/cache", "objdir.o/inner", "logs.log/inner"):
        d(p)
    for p in ("node_modules/f", "node_modules/sub2/sub3/f",
              "a/node_modules/x/f", "a/b/node_modules", "node_modules_x/f",
              "build/f", "a/build/f", "src/x.o", "src/x.c", "y.o",
              "a/deep/f", "deep/f", "b/a/deep/f", "cache/f", "a/cache",
              "x.log", "keep.log", "a/keep.log", "a/other.log"):
        f(p)


def args():
    out = []
    for p in PATTERNS:
        out += ["--exclude", p]
    return out


def dirs_in(tree):
    return sum(1 for d in tree.values() if d)


def test_exclude_semantics_and_watch_counts(watched, vigil):
    s = watched(*args(), populate=build)
    full = vigiltest.scan(s.root)
    kept = vigiltest.scan(s.root, excluded)
    # The model above agrees with the gitignore examples in the brief.
    for must_keep in (b"node_modules_x/f", b"a/build/f", b"src/x.c",
                      b"deep/f", b"b/a/deep/f", b"a/cache", b"keep.log",
                      b"a/keep.log", b"x/y"):
        assert must_keep in kept, must_keep
    for must_drop in (b"node_modules", b"a/node_modules/x/f",
                      b"a/b/node_modules", b"build", b"src/x.o", b"y.o",
                      b"a/deep", b"a/b/deep", b"a/b/c/deep/d2", b"cache",
                      b"x.log", b"a/other.log", b"objdir.o/inner",
                      b"x/cache", b"logs.log", b"x/y/node_modules/z"):
        assert must_drop not in kept, must_drop
    s.replay = vigiltest.Replay(s.given, kept)

    # Excluded directories have no kernel watch at all.
    n_kept = dirs_in(kept) + 1
    n_full = dirs_in(full) + 1
    got = count_watches(s.v.pid)
    assert got == n_kept, "watches: %d, want %d (%d without excludes)" % (
        got, n_kept, n_full)
    ready = [l for l in s.v.stderr_lines if b"ready" in l][0].decode()
    assert re.search(r"watching %d directories" % n_kept, ready), ready
    plain = vigil("watch", s.root)
    plain.wait_ready()
    assert count_watches(plain.pid) == n_full
    plain.close()

    # Changes everywhere: nothing excluded is ever reported.
    for rel, d in sorted(full.items()):
        p = s.p(rel.decode())
        if d:
            touch(os.path.join(p, "new.txt"), b"n")
            touch(os.path.join(p, "new.o"), b"n")
            touch(os.path.join(p, "n.log"), b"n")
            touch(os.path.join(p, "keep.log"), b"n")
        else:
            with open(p, "ab") as f:
                f.write(b"more")
    evs = s.sync()
    for e in evs:
        rel = vigiltest.fsbytes(e["path"])[len(s.root) + 1:]
        assert not excluded(rel, e.get("dir", False)), e
    assert any(e["path"] == s.p("a/build/new.txt") for e in evs)
    assert any(e["path"] == s.p("a/keep.log") for e in evs)
    assert any(e["path"] == s.p("x/y/keep.log") for e in evs)
    s.check(excluded)
    assert count_watches(s.v.pid) == n_kept


def test_excluded_dirs_created_later_get_no_watch(watched):
    s = watched(*args())
    base = count_watches(s.v.pid)
    assert base == 1
    for p in ("node_modules/a/b/c", "p/node_modules/q", "build/x/y",
              "a/deep/z", "a/b/deep", "cache/k", "v.o/w", "q.log/r"):
        os.makedirs(s.p(p))
        touch(s.p(p + "/f"))
    os.makedirs(s.p("visible/build/cache.d"))  # 3 dirs, all kept
    touch(s.p("visible/build/cache.d/f.c"))
    touch(s.p("visible/build/cache.d/f.o"))
    evs = s.sync()
    for e in evs:
        rel = vigiltest.fsbytes(e["path"])[len(s.root) + 1:]
        assert not excluded(rel, e.get("dir", False)), e
    s.check(excluded)
    # New kept dirs: p, a, a/b, visible, visible/build, visible/build/cache.d
    assert count_watches(s.v.pid) == 1 + 6, count_watches(s.v.pid)


def test_moves_across_the_exclusion_boundary(watched):
    def populate(r):
        os.makedirs(os.path.join(r, "node_modules", "pkg", "lib"))
        touch(os.path.join(r, "node_modules", "pkg", "lib", "m.js"))
        os.makedirs(os.path.join(r, "vis", "inner"))
        touch(os.path.join(r, "vis", "inner", "f"))
        touch(os.path.join(r, "f.c"))
        touch(os.path.join(r, "g.o"))
    s = watched(*args(), populate=populate)
    s.replay = vigiltest.Replay(s.given, vigiltest.scan(s.root, excluded))
    assert count_watches(s.v.pid) == 3  # root, vis, vis/inner
    # An excluded tree renamed to a kept name appears...
    os.rename(s.p("node_modules"), s.p("nm_visible"))
    # ...a kept tree renamed to an excluded name disappears...
    os.rename(s.p("vis"), s.p("cache"))
    # ...and the same for files.
    os.rename(s.p("f.c"), s.p("f.o"))
    os.rename(s.p("g.o"), s.p("g.c"))
    evs = s.sync()
    for e in evs:
        for k in ("path", "from"):
            if e.get(k):
                rel = vigiltest.fsbytes(e[k])[len(s.root) + 1:]
                assert not excluded(rel, e.get("dir", False)), e
    s.check(excluded)
    assert not [e for e in evs if e["type"] == "moved"], evs
    # root, nm_visible, pkg, lib
    assert count_watches(s.v.pid) == 4
    touch(s.p("nm_visible/pkg/lib/late.js"))
    touch(s.p("cache/inner/late"))
    evs = s.sync()
    assert [(e["type"], e["path"]) for e in evs
            if e["type"] != "closed"] == [
        ("created", s.p("nm_visible/pkg/lib/late.js")),
        ("created", s.p(".sentinel-2"))], evs
    s.check(excluded)


def test_bad_pattern_or_missing_argument(run, tmp):
    (tmp / "w").mkdir()
    r = run("watch", "w", "--exclude", cwd=str(tmp))
    assert r.returncode == 1, r


EXCLUDE_CASES = [
    (["*.txt", "!important.txt"],
     ["important.txt", "a/important.txt", "x.md"], ["x.txt", "a/y.txt"]),
    (["!important.txt", "*.txt"],  # the last matching pattern decides
     ["x.md"], ["important.txt", "x.txt"]),
    (["foo/**"], ["a/foo/x", "foo2/x"], ["foo/a", "foo/b/c"]),
    (["**/foo"], ["foox", "a/foox/y"], ["foo", "a/foo", "a/b/foo/z"]),
    (["?.c"], ["ab.c", ".c"], ["a.c", "d/b.c"]),
    (["[ab].txt"], ["c.txt", "ab.txt"], ["a.txt", "d/b.txt"]),
    (["/top.txt"], ["d/top.txt"], ["top.txt"]),
    (["d/*.o"], ["e/d/x.o", "d/sub/x.o", "d/x.c"], ["d/x.o"]),
    (["logs/"], ["x/logs", "logsx/a"], ["logs/a", "y/logs/a"]),
    (["a/**/b"], ["x/a/b", "a/c"], ["a/b", "a/x/b", "a/x/y/b/f"]),
]


@pytest.mark.parametrize("patterns,kept,dropped", EXCLUDE_CASES,
                         ids=[" ".join(c[0]) for c in EXCLUDE_CASES])
def test_exclude_patterns(watched, patterns, kept, dropped):
    extra = []
    for p in patterns:
        extra += ["--exclude", p]
    s = watched(*extra)
    for rel in kept + dropped:
        os.makedirs(os.path.dirname(s.p(rel)) or s.root, exist_ok=True)
        touch(s.p(rel), b"x")
    evs = s.sync()
    paths = {e["path"] for e in evs}
    created = {e["path"] for e in evs if e["type"] == "created"}
    for rel in kept:
        assert s.p(rel) in created, (rel, sorted(paths))
    for rel in dropped:
        assert s.p(rel) not in paths, (rel, sorted(paths))


def test_directory_moved_is_judged_again_under_its_new_path(watched):
    """Anchored patterns depend on the path: a directory moved within the
    root is filtered again where it lands."""
    def excl(rel, is_dir):
        c = rel.split(b"/")
        return c[0] == b"build" or (len(c) == 2 and c[0] == b"d"
                                    and c[1].endswith(b".o"))

    def populate(r):
        mk(os.path.join(r, "x", "sub"), ["f"])
        mk(os.path.join(r, "build", "sub"), ["g"])
        mk(os.path.join(r, "e"), ["x.o", "x.c"])
        mk(os.path.join(r, "d"))
        touch(os.path.join(r, "d", "y.o"))
    s = watched("--exclude", "/build", "--exclude", "d/*.o",
                populate=populate)
    s.replay = vigiltest.Replay(s.given, vigiltest.scan(s.root, excl))
    os.rename(s.p("build"), s.p("was_build"))   # everything in it appears
    os.rename(s.p("x"), s.p("build"))           # everything in it goes
    s.sync()
    s.check(excl)
    os.rename(s.p("d"), s.p("e2"))   # d/y.o becomes e2/y.o: appears
    os.rename(s.p("e"), s.p("d"))    # e/x.o becomes d/x.o: goes
    s.sync()
    s.check(excl)
    touch(s.p("was_build/sub/late"))
    touch(s.p("build/sub/late"))
    touch(s.p("d/late.o"))
    touch(s.p("e2/late.o"))
    evs = s.sync()
    created = sorted(e["path"] for e in evs if e["type"] == "created")
    assert created == sorted([s.p("was_build/sub/late"), s.p("e2/late.o"),
                              s.p(".sentinel-3")]), evs
    s.check(excl)


def mk(path, files=()):
    os.makedirs(path, exist_ok=True)
    for f in files:
        touch(os.path.join(path, f), b"x")


def test_excludes_hold_after_an_overflow(watched):
    if vigiltest.max_queued_events() > 200000:
        pytest.skip("max_queued_events too big")
    s = watched(*args(), populate=build)
    kept = vigiltest.scan(s.root, excluded)
    s.replay = vigiltest.Replay(s.given, kept)
    n_kept = dirs_in(kept) + 1
    assert count_watches(s.v.pid) == n_kept
    s.v.send(signal.SIGSTOP)
    try:
        vigiltest.flood(s.root)
        mk(s.p("node_modules/new/deeper"), ["f"])
        mk(s.p("fresh/node_modules/x"), ["f"])
        mk(s.p("fresh/ok"), ["f.c", "f.o"])
        touch(s.p("a/node_modules/x/f"), b"changed")
    finally:
        s.v.send(signal.SIGCONT)
    evs = s.sync_settled()
    assert any(e["type"] == "overflow" for e in evs)
    for e in evs:
        if e.get("path"):
            rel = vigiltest.fsbytes(e["path"])[len(s.root) + 1:]
            assert not excluded(rel, e.get("dir", False)), e
    s.check(excluded)
    # fresh, fresh/ok are new kept directories; nothing excluded is watched.
    assert count_watches(s.v.pid) == n_kept + 2
