"""`vigil watch --events`: every selection of kinds against replay.

The rule (docs/events.md, "Selecting kinds"): the stream delivered for a
mask is the whole stream with each `moved` turned, when `moved` is not
asked for, into what it does to paths (`removed` for what the rename
replaced and for the old path and everything below it, children first,
then `created` for the new path and everything below it, parents first),
and then filtered to the kinds asked for.

One workload of creates, writes, renames (files, directories, onto
existing names, into and out of the tree, exchanges) and deletes is watched at once by
a reference vigil that asks for every kind and by vigils that each ask for
one selection. After each step every vigil is synchronised on a sentinel;
the events of each selection must be exactly those the rule derives from
the reference's events of that step, and where both `created` and
`removed` are asked for, replay of what was delivered gives the tree on
disk.
"""

import collections
import itertools
import os
import shutil

import pytest

import vigiltest
from test_exchange import exchange

BASE = ("created", "removed", "modified", "attrib", "moved", "closed")
ACCESS = ("opened", "closed_nowrite")
EVERY = BASE + ACCESS + ("overflow", "error")
# Every vigil here must pair a rename as the others do. The two halves of
# a rename are queued one after the other by the renaming process, which a
# loaded machine can hold up in between for longer than the default 10 ms
# wait; then one vigil reads the halves apart and reports a move out and
# in. The sentinel that follows every step ends any wait at its first
# record, so a long wait costs these tests nothing.
MOVE_WAIT = "30s"


def masks():
    """Every non-empty selection of the six kinds that change or describe
    paths; every other one also asks for the two access kinds, so that
    those are tried with 32 selections too."""
    out = []
    for n in range(1, len(BASE) + 1):
        for combo in itertools.combinations(BASE, n):
            out.append(combo)
    return [m + ACCESS if i % 2 else m for i, m in enumerate(out)]


def write(path, data=b"x", mode="wb"):
    with open(path, mode) as f:
        f.write(data)


def populate(root, outside):
    for n in ("a.txt", "b.txt", "c.txt"):
        write(os.path.join(root, n), b"start")
    os.makedirs(os.path.join(root, "d", "sub"))
    write(os.path.join(root, "d", "f1"))
    write(os.path.join(root, "d", "sub", "g"))
    os.mkdir(os.path.join(root, "e"))
    os.mkdir(os.path.join(root, "z"))
    write(os.path.join(root, "z", "zz"))
    os.makedirs(os.path.join(outside, "incoming", "y"))
    write(os.path.join(outside, "incoming", "x"))
    write(os.path.join(outside, "incoming", "y", "w"))


def steps(root, outside):
    """The workload, as (name, action) pairs. Each step only touches
    directories watched since an earlier step, so what the kernel reports
    does not depend on when vigil places its watches."""
    p = lambda *r: os.path.join(root, *r)
    o = lambda *r: os.path.join(outside, *r)

    def read(path):
        with open(path, "rb") as f:
            f.read()

    return [
        ("mkdir", lambda: os.mkdir(p("n"))),
        ("new file in it", lambda: write(p("n", "new1"), b"hello")),
        ("append", lambda: write(p("a.txt"), b" more", "ab")),
        ("chmod", lambda: os.chmod(p("b.txt"), 0o600)),
        ("read", lambda: read(p("c.txt"))),
        ("rename a file", lambda: os.rename(p("a.txt"), p("a2.txt"))),
        ("rename onto a file", lambda: os.rename(p("a2.txt"), p("b.txt"))),
        ("rename a directory", lambda: os.rename(p("d"), p("d2"))),
        ("into another directory", lambda: os.rename(p("d2", "f1"), p("e", "f1"))),
        ("mkdir empty", lambda: os.mkdir(p("emp"))),
        ("directory onto an empty one", lambda: os.rename(p("z"), p("emp"))),
        ("directory into a directory", lambda: os.rename(p("emp"), p("d2", "emp"))),
        ("move in", lambda: os.rename(o("incoming"), p("inc"))),
        ("change inside the moved tree", lambda: write(p("d2", "emp", "zz"), b"!", "ab")),
        ("exchange directories", lambda: exchange(p("inc"), p("n"))),
        ("atomic save", lambda: (write(p("n", "tmp"), b"saved"),
                                 os.rename(p("n", "tmp"), p("b.txt")))),
        ("exchange a file and a directory", lambda: exchange(p("c.txt"), p("e"))),
        ("and back", lambda: exchange(p("c.txt"), p("e"))),
        ("move out", lambda: os.rename(p("d2"), o("gone"))),
        ("unlink", lambda: os.unlink(p("c.txt"))),
        ("rm -r", lambda: shutil.rmtree(p("inc"))),
        ("rmdir", lambda: os.rmdir(p("e")) if not os.listdir(p("e")) else
         (os.unlink(p("e", "f1")), os.rmdir(p("e")))),
    ]


def sentinel_ops(root, name, rename=True):
    """Makes every kind of event for one sentinel name; returns the
    reference's events for it, in order, as the rule's input."""
    s = os.path.join(root, name)
    m = s + ".m" if rename else s
    with open(s, "wb") as f:
        f.write(b"s")
    os.chmod(s, 0o600)
    with open(s, "rb") as f:
        f.read()
    if rename:
        os.rename(s, m)
    os.unlink(m)
    ev = lambda t, path, **k: dict(type=t, path=path, dir=False, **k)
    out = [ev("created", s), ev("opened", s), ev("modified", s),
           ev("closed", s), ev("attrib", s), ev("opened", s),
           ev("closed_nowrite", s)]
    if rename:
        out.append(ev("moved", m, **{"from": s}))
    return out + [ev("removed", m)]


def key(e):
    return (e["type"], e.get("path"), e.get("from"), bool(e.get("dir")))


class Tracker:
    """The tree as the reference's stream says it is, to expand moves."""

    def __init__(self, root, tree):
        self.replay = vigiltest.Replay(root, tree)
        self.root = root

    def path(self, rel):
        return os.path.join(self.root, rel.decode("utf-8", "surrogateescape"))

    def subtree(self, path):
        """Entries at and below path, parents first: [(path, is_dir)]."""
        r = self.replay.rel(path)
        out = [(path, self.replay.isdir[r])]
        below = sorted((k for k in self.replay.isdir
                        if k.startswith(r + b"/")),
                       key=lambda k: k.count(b"/"))
        out.extend((self.path(k), self.replay.isdir[k]) for k in below)
        return out

    def expand(self, e, asked):
        """What the rule delivers for the reference's event e."""
        out = []
        if e["type"] == "moved" and "moved" not in asked:
            dst = self.replay.rel(e["path"])
            if dst in self.replay.isdir:
                for path, d in reversed(self.subtree(e["path"])):
                    out.append(dict(type="removed", path=path, dir=d))
            src = self.subtree(e["from"])
            for path, d in reversed(src):
                out.append(dict(type="removed", path=path, dir=d))
            for path, d in src:
                out.append(dict(type="created", dir=d,
                                path=e["path"] + path[len(e["from"]):]))
        else:
            out.append(e)
        return [x for x in out if x["type"] in asked]

    def apply(self, e):
        if e.get("type") not in ("overflow", "error"):
            self.replay.apply(e)


@pytest.mark.time_limit(600)
def test_every_selection_of_kinds_replays(vigil, tmp):
    root = str(tmp / "w")
    outside = str(tmp / "outside")
    os.mkdir(root)
    os.mkdir(outside)
    all_masks = masks()
    # A few vigils at a time: the inotify instances are shared by the user.
    batch = 8
    for start in range(0, len(all_masks), batch):
        shutil.rmtree(root)
        shutil.rmtree(outside)
        os.mkdir(root)
        os.mkdir(outside)
        populate(root, outside)
        run_batch(vigil, root, outside, all_masks[start:start + batch])


def run_batch(vigil, root, outside, batch):
    ref = vigil("watch", "--json", "--move-wait", MOVE_WAIT, "--events", ",".join(EVERY), root)
    ref.wait_ready()
    procs = []
    for m in batch:
        v = vigil("watch", "--json", "--move-wait", MOVE_WAIT, "--events", ",".join(m), root)
        v.wait_ready()
        procs.append((m, v))
    tree = vigiltest.scan(root)
    tracker = Tracker(root, tree)
    replays = {m: vigiltest.Replay(root, tree) for m in batch
               if "created" in m and "removed" in m}
    n = 0
    for name, action in steps(root, outside):
        action()
        n += 1
        sent = sentinel_ops(root, ".s%d" % n)
        sent_paths = {sent[0]["path"], sent[-1]["path"]}

        def upto(v, asked):
            want = [x for e in sent for x in expanded_sentinel(e, asked)]
            last = key(want[-1])
            v.events_until(lambda e: key(e) == last,
                           what="the sentinel of step %r" % name)
            got, v.events = v.events, []
            body = [e for e in got if e.get("path") not in sent_paths
                    and e.get("from") not in sent_paths]
            tail = [key(e) for e in got if e.get("path") in sent_paths
                    or e.get("from") in sent_paths]
            assert tail == [key(x) for x in want], (name, asked, tail)
            return body

        ref_evs = upto(ref, EVERY)
        assert not [e for e in ref_evs if e["type"] in ("overflow", "error")], \
            (name, ref_evs)
        expected = {}
        for m, _ in procs:
            expected[m] = []
        for e in ref_evs:
            for m, _ in procs:
                expected[m].extend(tracker.expand(e, m))
            tracker.apply(e)
        for m, v in procs:
            got = upto(v, m)
            assert (collections.Counter(map(key, got)) ==
                    collections.Counter(map(key, expected[m]))), \
                "step %r with --events %s: got %r, the rule gives %r" % (
                    name, ",".join(m), got, expected[m])
            if m in replays:
                replays[m].apply_all(got)
    disk = vigiltest.scan(root)
    tracker.replay.check(disk)
    for m, r in replays.items():
        r.check(disk)
    ref.close()
    for _, v in procs:
        v.close()


def expanded_sentinel(e, asked):
    """The rule applied to a sentinel's own event (a file, never replacing)."""
    if e["type"] == "moved" and "moved" not in asked:
        out = [dict(type="removed", path=e["from"], dir=False),
               dict(type="created", path=e["path"], dir=False)]
    else:
        out = [e]
    return [x for x in out if x["type"] in asked]
