"""A Watcher inherited through fork(): the child cannot use it but can
close it, and the parent keeps every event."""
import os

import vigil
from vigilpy import created, read_until, touch


def _child(body):
    """Runs body() in a forked child; returns (exit status, output)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            out = body()
            os.write(w, repr(out).encode())
        except BaseException as e:
            os.write(w, ("raised " + repr(e)).encode())
            code = 1
        os._exit(code)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), data.decode()


def test_child_gets_forked_error_and_can_close(root):
    with vigil.Watcher(root) as w:
        touch(os.path.join(root, "before"))
        read_until(w, created(os.path.join(root, "before")))

        def child():
            outcome = []
            for name, call in [("read", lambda: w.read(0)), ("fileno", w.fileno), ("wake", w.wake),
                               ("stats", w.stats), ("add", lambda: w.add(root)),
                               ("remove", lambda: w.remove(root))]:
                try:
                    call()
                    outcome.append((name, "no error"))
                except vigil.ForkedError as e:
                    outcome.append((name, "ForkedError", "fork" in str(e)))
            fds_before = len(os.listdir("/proc/self/fd"))
            w.close()
            w.close()
            outcome.append(("closed", w.closed, fds_before - len(os.listdir("/proc/self/fd"))))
            # The child's own changes, after its close(): the parent sees them.
            for i in range(100):
                touch(os.path.join(root, "child%03d" % i))
            # A new watcher in the child works.
            with vigil.Watcher(root) as w2:
                touch(os.path.join(root, "child-sentinel"))
                evs = read_until(w2, created(os.path.join(root, "child-sentinel")))
            outcome.append(("new watcher", len(evs) >= 1))
            return outcome

        status, out = _child(child)
        assert status == 0, out
        outcome = eval(out)
        assert outcome[:6] == [(n, "ForkedError", True) for n in
                               ("read", "fileno", "wake", "stats", "add", "remove")], outcome
        assert outcome[6][0:2] == ("closed", True) and outcome[6][2] >= 5, outcome
        assert outcome[7] == ("new watcher", True), outcome

        # The parent still gets every event: the child's close did not
        # remove the parent's watches, nor read the parent's records.
        touch(os.path.join(root, "parent-sentinel"))
        evs = read_until(w, created(os.path.join(root, "parent-sentinel")))
    names = [os.path.basename(e.path) for e in evs if e.kind == "created"]
    assert names == ["child%03d" % i for i in range(100)] + ["child-sentinel", "parent-sentinel"]


def test_fork_while_another_thread_reads(root):
    """A fork taken while another thread of the parent is blocked in read():
    the child's close() does not wait for that thread (it does not exist
    in the child) and the parent's reader goes on."""
    import threading
    w = vigil.Watcher(root)
    got = []
    t = threading.Thread(target=lambda: got.extend(read_until(
        w, created(os.path.join(root, "after-fork")))))
    t.start()

    def child():
        w.close()
        return "closed"

    status, out = _child(child)
    assert (status, out) == (0, "'closed'")
    touch(os.path.join(root, "after-fork"))
    t.join(30)
    assert not t.is_alive()
    assert got[-1].path == os.path.join(root, "after-fork")
    w.close()


def test_os_fork_with_a_running_observer(root):
    """The Observer's thread is not in the child; stop() and join() there
    return at once and close the inherited watchers."""
    class H:
        def dispatch(self, ev):
            pass

    obs = vigil.Observer()
    obs.schedule(H(), root)
    obs.start()
    try:
        def child():
            watchers = [e._watcher for e in obs.emitters]
            for w in watchers:
                try:
                    w.read(0)
                    return "read in the child"
                except vigil.ForkedError:
                    pass
            obs.stop()
            obs.join(5)
            if obs.is_alive() or not all(w.closed for w in watchers):
                return "left open"
            return "ok"

        assert _child(child) == (0, "'ok'")
    finally:
        obs.stop()
        obs.join(10)
    assert not obs.is_alive()
