"""vigil.observers against watchdog's inotify observer, scenario by scenario.

Each scenario is one of the cases of watchdog's own emitter tests. Its
steps run once, on a tree watched at the same time by vigil's
InotifyEmitter and (when Debian's python3-watchdog is installed) by
watchdog's; after each step a sentinel directory is made and each emitter
is read up to it. The events that watchdog delivers for the step are
written down here as facts (for the watchdog version installed: opened
events from 2.3, closed-without-writing from 5.0, an empty side of a half
move as None before 4.0 and "" after), and both emitters must deliver
exactly them, in that order.
"""
import logging
import os
import queue
import re
import shutil
import threading
import time

import pytest

import vigil
from vigil.observers import api as vigil_api
from vigil.observers import inotify as vigil_inotify
from vigilpy import TIMEOUT

try:
    from watchdog import events as E
    from watchdog.observers import Observer as WatchdogObserver
    from watchdog.observers import api as watchdog_api
    from watchdog.observers import inotify as watchdog_inotify
except ImportError:
    from vigil import events as E
    WatchdogObserver = watchdog_api = watchdog_inotify = None

VERSION = vigil_api.watchdog_version()
OPENED = hasattr(E, "FileOpenedEvent")
NOWRITE = hasattr(E, "FileClosedNoWriteEvent")
EMPTY = "" if VERSION >= (4, 0) else None

needs_watchdog = pytest.mark.skipif(watchdog_inotify is None, reason="python3-watchdog is not installed")


# -- events as comparable tuples ----------------------------------------------

def t(e):
    moved = isinstance(e, (E.FileMovedEvent, E.DirMovedEvent))
    return (type(e).__name__, e.src_path, e.dest_path if moved else None, bool(e.is_synthetic))


def FC(p):
    return ("FileCreatedEvent", p, None, False)


def DC(p):
    return ("DirCreatedEvent", p, None, False)


def FD(p):
    return ("FileDeletedEvent", p, None, False)


def DD(p):
    return ("DirDeletedEvent", p, None, False)


def FM(p):
    return ("FileModifiedEvent", p, None, False)


def DM(p):
    return ("DirModifiedEvent", p, None, False)


def FMV(a, b, synthetic=False):
    return ("FileMovedEvent", a, b, synthetic)


def DMV(a, b, synthetic=False):
    return ("DirMovedEvent", a, b, synthetic)


def FCL(p):
    return ("FileClosedEvent", p, None, False)


def FO(p):
    return [("FileOpenedEvent", p, None, False)] if OPENED else []


def FNW(p):
    return [("FileClosedNoWriteEvent", p, None, False)] if NOWRITE else []


def made(p):
    """A file made with open(p, "a").close() in a watched directory."""
    d = os.path.dirname(p)
    return [FC(p), DM(d), *FO(p), FCL(p), DM(d)]


def touched(p):
    """An existing file opened for appending, its times set, closed."""
    return [*FO(p), FM(p), FCL(p), DM(os.path.dirname(p))]


# -- the harness -------------------------------------------------------------

IMPLS = ["vigil", "watchdog"]


class Side:
    """One emitter (vigil's or watchdog's) and the events it queued."""

    def __init__(self, impl, path, recursive=True, full=False):
        mod = vigil_inotify if impl == "vigil" else watchdog_inotify
        watch_mod = vigil_api if impl == "vigil" else watchdog_api
        cls = mod.InotifyFullEmitter if full else mod.InotifyEmitter
        self.impl = impl
        self.q = queue.Queue()
        self.emitter = cls(self.q, watch_mod.ObservedWatch(path, recursive=recursive))
        self.emitter.start()

    def until(self, pred, what):
        got = []
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                e = self.q.get(timeout=max(0.01, deadline - time.monotonic()))[0]
            except queue.Empty:
                raise AssertionError("%s: no %s; got %r" % (self.impl, what, [t(x) for x in got]))
            if pred(e):
                return got
            got.append(e)

    def close(self):
        self.emitter.stop()
        self.emitter.join(TIMEOUT)
        assert not self.emitter.is_alive()


class Scenario:
    """The same operations under every emitter at once."""

    def __init__(self, root, watched=None, recursive=True, full=False):
        self.root = root
        self.watched = watched if watched is not None else root
        impls = [i for i in IMPLS if i == "vigil" or watchdog_inotify is not None]
        self.sides = []
        try:
            for impl in impls:
                self.sides.append(Side(impl, self.watched, recursive, full))
        except BaseException:
            self.close()
            raise
        self.n = 0

    def p(self, *parts):
        return os.path.join(self.root, *parts)

    def step(self, action, expected):
        """Runs action, then reads every emitter up to a sentinel made in
        the watched directory, and checks it delivered expected."""
        action()
        self.n += 1
        top = self.watched
        if isinstance(top, bytes):
            s = os.path.join(top, b".sentinel-%d" % self.n)
        else:
            s = os.path.join(top, ".sentinel-%d" % self.n)
        os.mkdir(s)
        for side in self.sides:
            got = side.until(lambda e: isinstance(e, E.DirCreatedEvent) and e.src_path == s,
                             "sentinel %r" % (s,))
            nxt = side.q.get(timeout=TIMEOUT)[0]
            assert t(nxt) == DM(os.path.dirname(s)), (side.impl, t(nxt))
            assert [t(e) for e in got] == expected, side.impl

    def until_gone(self, expected):
        """Reads every emitter until it ends (its root went away)."""
        for side in self.sides:
            side.emitter.join(TIMEOUT)
            assert not side.emitter.is_alive(), "%s: the emitter lives on" % side.impl
            got = []
            while not side.q.empty():
                got.append(side.q.get()[0])
            assert [t(e) for e in got] == expected, side.impl

    def close(self):
        for side in self.sides:
            side.close()


@pytest.fixture
def tree(root):
    made_ = []

    def start(*args, **kwargs):
        s = Scenario(*args, **kwargs)
        made_.append(s)
        return s

    yield start
    for s in made_:
        s.close()


def mkfile(p):
    open(p, "a").close()


def touch(p):
    with open(p, "ab"):
        os.utime(p, None)


# -- the scenarios of watchdog's tests/test_emitter.py -----------------------

def test_create(tree, root):
    s = tree(root)
    s.step(lambda: mkfile(s.p("a")), made(s.p("a")))


def test_closed(tree, root):
    f = open(os.path.join(root, "a"), "a")
    s = tree(root)
    s.step(f.close, [FCL(s.p("a")), DM(root)])
    s.step(lambda: open(s.p("a")).close(), [*FO(s.p("a")), *FNW(s.p("a"))])


def test_create_wrong_encoding(tree, root):
    s = tree(root)
    s.step(lambda: mkfile(s.p("a_\udce4")), made(s.p("a_\udce4")))


def test_delete(tree, root):
    mkfile(os.path.join(root, "a"))
    s = tree(root)
    s.step(lambda: os.remove(s.p("a")), [FD(s.p("a")), DM(root)])


def test_modify(tree, root):
    mkfile(os.path.join(root, "a"))
    s = tree(root)
    s.step(lambda: touch(s.p("a")), touched(s.p("a")))


def test_chmod(tree, root):
    mkfile(os.path.join(root, "a"))
    s = tree(root)
    s.step(lambda: os.chmod(s.p("a"), 0o400), [FM(s.p("a"))])


@pytest.mark.parametrize("target", ["b", "A"])
def test_move(tree, root, target):
    """A file renamed from one directory to another (test_move and, with
    a name in other case, test_case_change)."""
    for d in ("dir1", "dir2"):
        os.mkdir(os.path.join(root, d))
    mkfile(os.path.join(root, "dir1", "a"))
    s = tree(root)
    a, b = s.p("dir1", "a"), s.p("dir2", target)
    s.step(lambda: os.rename(a, b), [FMV(a, b), DM(s.p("dir1")), DM(s.p("dir2"))])


@pytest.mark.parametrize("full", [False, True])
def test_move_to(tree, root, full):
    for d in ("dir1", "dir2"):
        os.mkdir(os.path.join(root, d))
    mkfile(os.path.join(root, "dir1", "a"))
    s = tree(root, watched=os.path.join(root, "dir2"), full=full)
    b = s.p("dir2", "b")
    first = FMV(EMPTY, b) if full else FC(b)
    s.step(lambda: os.rename(s.p("dir1", "a"), b), [first, DM(s.p("dir2"))])


@pytest.mark.parametrize("full", [False, True])
def test_move_from(tree, root, full):
    for d in ("dir1", "dir2"):
        os.mkdir(os.path.join(root, d))
    mkfile(os.path.join(root, "dir1", "a"))
    s = tree(root, watched=os.path.join(root, "dir1"), full=full)
    a = s.p("dir1", "a")
    first = FMV(a, EMPTY) if full else FD(a)
    s.step(lambda: os.rename(a, s.p("dir2", "b")), [first, DM(s.p("dir1"))])


def test_separate_consecutive_moves(tree, root):
    os.mkdir(os.path.join(root, "dir1"))
    mkfile(os.path.join(root, "dir1", "a"))
    mkfile(os.path.join(root, "b"))
    s = tree(root, watched=os.path.join(root, "dir1"))

    def moves():
        os.rename(s.p("dir1", "a"), s.p("c"))
        os.rename(s.p("b"), s.p("dir1", "d"))

    d1 = s.p("dir1")
    s.step(moves, [FD(s.p("dir1", "a")), DM(d1), FC(s.p("dir1", "d")), DM(d1)])


def test_delete_self(tree, root):
    d = os.path.join(root, "dir1")
    os.mkdir(d)
    s = tree(root, watched=d)
    shutil.rmtree(d)
    s.until_gone([DD(d)])


def test_delete_self_with_content(tree, root):
    """The files go first, each with its parent modified, then the root."""
    d = os.path.join(root, "dir1")
    os.mkdir(d)
    mkfile(os.path.join(d, "f"))
    s = tree(root, watched=d)
    shutil.rmtree(d)
    s.until_gone([FD(os.path.join(d, "f")), DM(d), DD(d)])


def test_fast_subdirectory_creation_deletion(tree, root):
    d = os.path.join(root, "dir1")
    os.mkdir(d)
    s = tree(root, watched=d)
    sub = s.p("dir1", "subdir1")

    def churn():
        for _ in range(10):
            os.mkdir(sub)
            os.rmdir(sub)

    s.step(churn, [DC(sub), DM(d), DD(sub), DM(d)] * 10)


def test_passing_bytes_should_give_bytes(tree, root):
    s = tree(root, watched=os.fsencode(root))
    a = os.path.join(os.fsencode(root), b"a")
    s.step(lambda: mkfile(a), made(a))


def test_recursive_on(tree, root):
    os.makedirs(os.path.join(root, "dir1", "dir2", "dir3"))
    s = tree(root)
    a = s.p("dir1", "dir2", "dir3", "a")
    d3 = s.p("dir1", "dir2", "dir3")
    s.step(lambda: touch(a), [FC(a), DM(d3), *FO(a), FM(a), FCL(a), DM(d3)])


def test_recursive_off(tree, root):
    os.mkdir(os.path.join(root, "dir1"))
    s = tree(root, recursive=False)
    s.step(lambda: touch(s.p("dir1", "a")), [])
    s.step(lambda: mkfile(s.p("b")), made(s.p("b")))
    s.step(lambda: os.mkdir(s.p("dir1", "dir2")), [])


def test_renaming_top_level_directory(tree, root):
    s = tree(root)
    s.step(lambda: os.mkdir(s.p("a")), [DC(s.p("a")), DM(root)])
    s.step(lambda: os.mkdir(s.p("a", "b")), [DC(s.p("a", "b")), DM(s.p("a"))])
    s.step(lambda: os.rename(s.p("a"), s.p("a2")),
           [DMV(s.p("a"), s.p("a2")), DM(root), DM(root), DMV(s.p("a", "b"), s.p("a2", "b"), True)])
    s.step(lambda: mkfile(s.p("a2", "b", "c")), made(s.p("a2", "b", "c")))


def test_move_nested_subdirectories(tree, root):
    os.makedirs(os.path.join(root, "dir1", "dir2", "dir3"))
    mkfile(os.path.join(root, "dir1", "dir2", "dir3", "a"))
    s = tree(root)
    s.step(lambda: os.rename(s.p("dir1", "dir2"), s.p("dir2")), [
        DMV(s.p("dir1", "dir2"), s.p("dir2")), DM(s.p("dir1")), DM(root),
        DMV(s.p("dir1", "dir2", "dir3"), s.p("dir2", "dir3"), True),
        FMV(s.p("dir1", "dir2", "dir3", "a"), s.p("dir2", "dir3", "a"), True)])
    s.step(lambda: touch(s.p("dir2", "dir3", "a")), touched(s.p("dir2", "dir3", "a")))


def test_file_lifecycle(tree, root):
    s = tree(root)
    a, b = s.p("a"), s.p("b")

    def life():
        mkfile(a)
        touch(a)
        os.rename(a, b)
        os.remove(b)

    s.step(life, [*made(a), *touched(a), FMV(a, b), DM(root), DM(root), FD(b), DM(root)])


# -- the end-to-end cases of watchdog's tests/test_inotify_c.py --------------

def test_non_ascii_path(tree, root):
    s = tree(root)
    d = s.p("\N{SNOWMAN}")
    s.step(lambda: os.mkdir(d), [DC(d), DM(root)])


def test_watch_file(tree, root):
    f = os.path.join(root, "this_is_a_file")
    mkfile(f)
    s = tree(root, watched=f)
    os.remove(f)
    # watchdog watches the file itself: the kernel's IN_ATTRIB (its link
    # count) comes before its IN_DELETE_SELF, which watchdog reports as a
    # DirDeletedEvent although the path was a file. vigil watches a file
    # through its directory, which hears the removal only, and says file.
    for side in s.sides:
        side.emitter.join(TIMEOUT)
        assert not side.emitter.is_alive(), side.impl
        got = [t(side.q.get()[0]) for _ in range(side.q.qsize())]
        if side.impl == "vigil":
            assert got == [FD(f)]
        else:
            assert got == [FM(f), DD(f)]


# -- where vigil differs, and what it adds --------------------------------------

def test_subdirectory_metadata_is_modified_once(tree, root):
    """watchdog hears a subdirectory's chmod from the subdirectory's own
    watch and from its parent's, and reports it twice; vigil once."""
    os.mkdir(os.path.join(root, "sub"))
    s = tree(root)
    sub = s.p("sub")
    for side in s.sides:
        side.expected = [DM(sub)] if side.impl == "vigil" else [DM(sub), DM(sub)]
    os.chmod(sub, 0o700)
    s.n += 1
    sent = s.p(".sentinel-1")
    os.mkdir(sent)
    for side in s.sides:
        got = side.until(lambda e: isinstance(e, E.DirCreatedEvent) and e.src_path == sent, "sentinel")
        assert [t(e) for e in got] == side.expected, side.impl


def test_directory_moved_out_reports_its_entries(tree, root):
    """watchdog reports only the directory; vigil first reports what was in
    it, children first, as synthetic deletions (replay of the stream then
    leaves nothing behind)."""
    w = os.path.join(root, "w")
    os.makedirs(os.path.join(w, "d", "e"))
    mkfile(os.path.join(w, "d", "e", "f"))
    s = tree(root, watched=w)
    d = os.path.join(w, "d")
    s.sides = [x for x in s.sides if x.impl == "vigil"] + [x for x in s.sides if x.impl != "vigil"]
    os.rename(d, os.path.join(root, "out"))
    s.n += 1
    sent = os.path.join(w, ".sentinel-1")
    os.mkdir(sent)
    for side in s.sides:
        got = [t(e) for e in side.until(lambda e: isinstance(e, E.DirCreatedEvent) and e.src_path == sent,
                                        "sentinel")]
        side.q.get(timeout=TIMEOUT)
        tail = [DD(d), DM(w)]
        if side.impl == "vigil":
            assert got == [("FileDeletedEvent", os.path.join(d, "e", "f"), None, True),
                           ("DirDeletedEvent", os.path.join(d, "e"), None, True)] + tail
        else:
            assert got == tail


# -- the observer's API --------------------------------------------------------

OBSERVERS = [pytest.param(vigil.Observer, id="vigil"),
             pytest.param(WatchdogObserver, id="watchdog", marks=needs_watchdog)]


class Recorder(E.FileSystemEventHandler):
    def __init__(self):
        self.q = queue.Queue()

    def dispatch(self, event):
        self.q.put(event)

    def until(self, pred):
        got = []
        while True:
            e = self.q.get(timeout=TIMEOUT)
            got.append(e)
            if pred(e):
                return got


def _stop(obs):
    obs.stop()
    try:
        obs.join(TIMEOUT)
    except RuntimeError:
        pass


@pytest.mark.parametrize("Observer", OBSERVERS)
def test_missing_path_fails_in_start_then_start_works(Observer, root):
    obs = Observer()
    try:
        missing = os.path.join(root, "missing")
        obs.schedule(Recorder(), missing)  # not yet
        assert len(obs.emitters) == 1
        with pytest.raises(FileNotFoundError):
            obs.start()
        assert len(obs.emitters) == 0
        obs.start()
        assert obs.is_alive()
        with pytest.raises(FileNotFoundError):
            obs.schedule(Recorder(), missing)  # now, once running
        assert len(obs.emitters) == 0
        h = Recorder()
        obs.schedule(h, root)
        mkfile(os.path.join(root, "x"))
        h.until(lambda e: e.src_path == os.path.join(root, "x"))
    finally:
        _stop(obs)


@pytest.mark.parametrize("Observer", OBSERVERS)
def test_errors_at_the_same_moments(Observer, root):
    obs = Observer()
    with pytest.raises(RuntimeError):
        obs.join()
    h = Recorder()
    w = obs.schedule(h, root, recursive=True)
    assert (w.path, w.is_recursive) == (root, True)
    obs.add_handler_for_watch(h, w)
    obs.remove_handler_for_watch(h, w)
    with pytest.raises(KeyError):
        obs.remove_handler_for_watch(h, w)
    obs.unschedule(w)
    with pytest.raises(KeyError):
        obs.unschedule(w)
    obs.start()
    with pytest.raises(RuntimeError):
        obs.start()
    obs.stop()
    obs.join(TIMEOUT)
    assert not obs.is_alive()
    w2 = obs.schedule(Recorder(), root)  # after stop: accepted, never started
    assert [e.is_alive() for e in obs.emitters if e.watch == w2] == [False]


@pytest.mark.parametrize("Observer", OBSERVERS)
def test_emitters_threads_and_queue(Observer, root):
    obs = Observer()
    h = Recorder()
    w = obs.schedule(h, root, recursive=True)
    (em,) = obs.emitters
    assert not em.is_alive() and em.watch == w
    ev = E.FileModifiedEvent(os.path.join(root, "queued"))
    obs.event_queue.put((ev, w))
    obs.start()
    try:
        assert obs.daemon and em.daemon
        assert em.is_alive()
        assert h.until(lambda e: e.src_path == ev.src_path)
        em.queue_event(E.FileModifiedEvent(os.path.join(root, "by-emitter")))
        h.until(lambda e: e.src_path == os.path.join(root, "by-emitter"))
        assert re.fullmatch(r"<InotifyObserver\(Thread-\d+, started daemon \d+\)>", repr(obs)), repr(obs)
        t0 = time.monotonic()
        em.join(0.2)  # a running emitter: join waits, as a thread's does
        assert time.monotonic() - t0 >= 0.19 and em.is_alive()
    finally:
        _stop(obs)
    em.join(TIMEOUT)
    assert not em.is_alive()


@pytest.mark.parametrize("Observer", OBSERVERS)
def test_deleted_root_ends_its_emitter(Observer, root):
    d = os.path.join(root, "d")
    os.mkdir(d)
    obs = Observer()
    h = Recorder()
    obs.schedule(h, d)
    obs.start()
    try:
        (em,) = obs.emitters
        os.rmdir(d)
        h.until(lambda e: isinstance(e, E.DirDeletedEvent) and e.src_path == d)
        deadline = time.monotonic() + TIMEOUT
        while em.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not em.is_alive()
        assert obs.is_alive()
    finally:
        _stop(obs)


@pytest.mark.parametrize("Observer", OBSERVERS)
def test_unschedule_from_a_handler(Observer, root):
    obs = Observer()
    done = threading.Event()

    class Unscheduler(E.FileSystemEventHandler):
        def on_any_event(self, event):
            obs.unschedule(watch)
            done.set()

    watch = obs.schedule(Unscheduler(), root)
    obs.start()
    try:
        mkfile(os.path.join(root, "x"))
        assert done.wait(TIMEOUT)
        deadline = time.monotonic() + TIMEOUT
        while obs.emitters and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not obs.emitters
    finally:
        _stop(obs)


@pytest.mark.parametrize("Observer", OBSERVERS)
def test_a_subclass_dispatch_events_sees_every_event(Observer, root):
    """Programs that override dispatch_events (to batch or debounce)
    receive each (event, watch) through event_queue, as from watchdog."""
    seen = queue.Queue()

    class Batching(Observer):
        def dispatch_events(self, event_queue, *timeout):
            entry = event_queue.get(block=True, timeout=self.timeout)
            if not isinstance(entry, tuple):  # watchdog's stop marker
                return
            ev, watch = entry
            seen.put((t(ev), watch.path))
            event_queue.task_done()

    obs = Batching()
    obs.schedule(Recorder(), root)
    obs.start()
    try:
        a = os.path.join(root, "a")
        mkfile(a)
        got = []
        while FCL(a) not in [g[0] for g in got]:
            got.append(seen.get(timeout=TIMEOUT))
        assert [g[0] for g in got[:2]] == [FC(a), DM(root)]
        assert {g[1] for g in got} == {root}
    finally:
        _stop(obs)


@pytest.mark.parametrize("Observer", OBSERVERS)
def test_full_events_observer(Observer, tmp):
    w, out = str(tmp / "w"), str(tmp / "out")
    os.mkdir(w)
    os.mkdir(out)
    mkfile(os.path.join(out, "in"))
    obs = Observer(generate_full_events=True)
    h = Recorder()
    obs.schedule(h, w, recursive=True)
    obs.start()
    try:
        os.rename(os.path.join(out, "in"), os.path.join(w, "in"))
        got = h.until(lambda e: isinstance(e, E.FileMovedEvent))
        assert t(got[-1]) == FMV(EMPTY, os.path.join(w, "in"))
        os.rename(os.path.join(w, "in"), os.path.join(out, "back"))
        got = h.until(lambda e: isinstance(e, E.FileMovedEvent))
        assert t(got[-1]) == FMV(os.path.join(w, "in"), EMPTY)
    finally:
        _stop(obs)


@pytest.mark.skipif(VERSION < (4, 0), reason="event_filter came with watchdog 4.0")
def test_event_filter(root):
    obs = vigil.Observer()
    h = Recorder()
    w = obs.schedule(h, root, recursive=True, event_filter=[E.FileCreatedEvent, E.DirCreatedEvent])
    assert w.event_filter == frozenset([E.FileCreatedEvent, E.DirCreatedEvent])
    obs.start()
    try:
        mkfile(os.path.join(root, "a"))
        os.mkdir(os.path.join(root, "d"))
        got = h.until(lambda e: e.src_path == os.path.join(root, "d"))
        assert [t(e) for e in got] == [FC(os.path.join(root, "a")), DC(os.path.join(root, "d"))]
    finally:
        _stop(obs)


def test_event_filter_asks_the_kernel_only_for_what_it_needs(root):
    """Without FileOpenedEvent in the filter vigil does not ask for opens."""
    em = vigil_inotify.InotifyEmitter(queue.Queue(), vigil_api.ObservedWatch(root, True),
                                      event_filter=[E.FileCreatedEvent])
    assert "opened" not in em._c.kinds(em.event_filter)
    assert ("opened" in em._c.kinds(None)) == OPENED
    assert ("closed_nowrite" in em._c.kinds(None)) == NOWRITE


@needs_watchdog
def test_watchdog_handler_classes_just_work(root, caplog):
    from watchdog.events import LoggingEventHandler, PatternMatchingEventHandler, RegexMatchingEventHandler

    got = queue.Queue()

    class Pat(PatternMatchingEventHandler):
        def on_created(self, event):
            got.put(("pattern", event.src_path))

    class Rx(RegexMatchingEventHandler):
        def on_created(self, event):
            got.put(("regex", event.src_path))

    with caplog.at_level(logging.INFO):
        with vigil.Observer() as obs:
            obs.schedule(Pat(patterns=["*.txt"]), root)
            obs.schedule(Rx(regexes=[r".*\.log$"]), root)
            obs.schedule(LoggingEventHandler(), root)
            for n in ("a.bin", "b.txt", "c.log"):
                mkfile(os.path.join(root, n))
            seen = {got.get(timeout=TIMEOUT), got.get(timeout=TIMEOUT)}
    assert seen == {("pattern", os.path.join(root, "b.txt")), ("regex", os.path.join(root, "c.log"))}
    assert any("Created file: " + os.path.join(root, "a.bin") in r.getMessage() for r in caplog.records)


def test_import_paths_mirror_watchdog():
    from vigil.observers import Observer
    from vigil.observers.api import BaseObserver, EventEmitter, EventQueue, ObservedWatch  # noqa: F401
    from vigil.observers.inotify import InotifyEmitter, InotifyFullEmitter, InotifyObserver  # noqa: F401
    from vigil.observers.polling import PollingObserver, PollingObserverVFS

    assert Observer is vigil.Observer is InotifyObserver
    assert PollingObserver()._options["backend"] == "poll"
    with pytest.raises(NotImplementedError, match="lists directories itself"):
        PollingObserverVFS()


# -- the generic classes of watchdog's tests/test_observer.py -----------------

APIS = [pytest.param(vigil_api, id="vigil"), pytest.param(watchdog_api, id="watchdog", marks=needs_watchdog)]


@pytest.fixture
def generic(request):
    """BaseObserver(EventEmitter) of one library, stopped at the end."""
    made = []

    def make(api):
        obs = api.BaseObserver(api.EventEmitter)
        made.append(obs)
        return obs

    yield make
    for obs in made:
        _stop(obs)


@pytest.mark.parametrize("api", APIS)
def test_generic_emitters_follow_the_observer(api, generic):
    obs = generic(api)
    obs.schedule(None, "")
    (em,) = obs.emitters
    assert not em.is_alive()
    obs.start()
    assert em.is_alive()
    obs.schedule(None, "other")  # started at once, the observer running
    assert all(e.is_alive() for e in obs.emitters) and len(obs.emitters) == 2
    obs.unschedule_all()
    assert len(obs.emitters) == 0
    obs.stop()
    obs.join(TIMEOUT)
    assert not obs.is_alive() and not em.is_alive()


@pytest.mark.parametrize("api", APIS)
def test_generic_unschedule_from_a_handler(api, generic):
    obs = generic(api)
    done = threading.Event()

    class H(E.FileSystemEventHandler):
        def on_modified(self, event):
            obs.unschedule(watch)
            done.set()

    watch = obs.schedule(H(), "")
    obs.start()
    (em,) = obs.emitters
    em.queue_event(E.FileModifiedEvent(""))
    assert done.wait(TIMEOUT)
    assert len(obs.emitters) == 0


@pytest.mark.parametrize("api", APIS)
def test_generic_start_failure_leaves_a_usable_observer(api, generic):
    from unittest.mock import patch

    obs = generic(api)
    obs.schedule(None, "")
    (em,) = obs.emitters

    def fail():
        raise OSError("refused")

    with patch.object(em, "start", new=fail), pytest.raises(OSError, match="refused"):
        obs.start()
    assert len(obs.emitters) == 0
    obs.start()
    with patch.object(api.EventEmitter, "start", new=lambda self: fail()), pytest.raises(OSError):
        obs.schedule(None, "")
    assert not obs.emitters
    obs.schedule(None, "")
    assert len(obs.emitters) == 1


@pytest.mark.parametrize("api", APIS)
def test_generic_observed_watch_and_queue(api):
    a = api.ObservedWatch("/foobar", recursive=True)
    assert a == api.ObservedWatch("/foobar", recursive=True)
    assert a != api.ObservedWatch("/foobar", recursive=False)
    assert repr(a) in ("<ObservedWatch: path='/foobar', is_recursive=True>",
                       "<ObservedWatch: path=/foobar, is_recursive=True>")
    assert repr(a) == repr(vigil_api.ObservedWatch("/foobar", recursive=True))
    q = api.EventQueue()
    ev = E.FileModifiedEvent("/x")
    q.put((ev, a))
    q.put((ev, a))  # the same item, still waiting: not taken
    q.put((E.FileModifiedEvent("/y"), a))
    assert q.qsize() == 2


def test_polling_observer_sees_changes_and_moves(root):
    # PollingObserver polls with libvigil's "poll" backend; its timeout is
    # the time between passes, as in watchdog.
    from vigil.observers.polling import PollingObserver

    got = queue.Queue()

    class H(E.FileSystemEventHandler):
        def on_any_event(self, event):
            got.put((event.event_type, event.src_path, getattr(event, "dest_path", None) or ""))

    os.mkdir(os.path.join(root, "sub"))
    obs = PollingObserver(timeout=0.05)
    obs.schedule(H(), root, recursive=True)
    obs.start()
    seen = []

    def wait_for(want):
        while True:
            try:
                seen.append(got.get(timeout=TIMEOUT))
            except queue.Empty:
                raise AssertionError("no %r; got %r" % (want, seen))
            if seen[-1] == want:
                return

    try:
        a, b = os.path.join(root, "a"), os.path.join(root, "sub", "b")
        mkfile(a)
        wait_for(("created", a, ""))
        os.rename(a, b)
        wait_for(("moved", a, b))
    finally:
        obs.stop()
        obs.join()
