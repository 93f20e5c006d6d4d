"""Run by test_green.py in a fresh interpreter, since monkey patching is
process-wide:  python3 green_scenario.py {eventlet|gevent} {watcher|observer} ROOT

Patches everything, then one green thread waits for events on a Watcher
or an Observer and a second one stops it once the first has seen a
sentinel. Prints one line of JSON: how long the stop took, what was seen,
and the descriptors and OS threads before and after.
"""
import sys

LIB, MODE, ROOT = sys.argv[1:4]

if LIB == "eventlet":
    import eventlet
    eventlet.monkey_patch()
    spawn, sleep = eventlet.spawn, eventlet.sleep

    def wait(g, timeout):
        with eventlet.Timeout(timeout):
            g.wait()
else:
    from gevent import monkey
    monkey.patch_all()
    import gevent
    spawn, sleep = gevent.spawn, gevent.sleep

    def wait(g, timeout):
        g.join(timeout)
        if not g.dead:
            raise SystemExit("green thread still running")

import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402

import vigil  # noqa: E402


def fds():
    return sorted(int(n) for n in os.listdir("/proc/self/fd"))


def tasks():
    return len(os.listdir("/proc/self/task"))


def warm_up():
    """Lets the hub make its own descriptors before counting ours."""
    import select  # the patched one
    r, w = os.pipe()
    select.select([r], [], [], 0.01)
    sleep(0.01)
    os.close(r)
    os.close(w)
    # vigil's own per-process signal pipe (made by the first vigil call
    # that can block in the main thread) is kept too.
    vigil.Watcher(ROOT).close()


warm_up()
fds_before, tasks_before = fds(), tasks()
seen = []
out = {}


def sentinel_seen():
    return any(os.path.basename(p) == "sentinel" for p in seen)


if MODE == "watcher":
    w = vigil.Watcher(ROOT)

    def waiter():
        while True:
            evs = w.read()
            if not evs and w.closed:
                return
            seen.extend(e.path for e in evs)

    def stop():
        w.close()
else:
    class Handler:
        def dispatch(self, ev):
            seen.append(ev.src_path)

    obs = vigil.Observer()
    obs.schedule(Handler(), ROOT, recursive=True)
    obs.start()

    def waiter():
        obs.join()

    def stop():
        obs.stop()
        obs.join(1)
        out["observer_alive"] = obs.is_alive()


def stopper():
    open(os.path.join(ROOT, "sentinel"), "w").close()
    deadline = time.monotonic() + 15
    while not sentinel_seen() and time.monotonic() < deadline:
        sleep(0.005)
    out["sentinel_seen"] = sentinel_seen()
    t = time.monotonic()
    stop()
    out["stop_seconds"] = time.monotonic() - t


g1 = spawn(waiter)
g2 = spawn(stopper)
wait(g2, 20)
wait(g1, 5)
out["fds_left"] = [os.readlink("/proc/self/fd/%d" % fd) for fd in sorted(set(fds()) - set(fds_before))]
out["tasks_before"], out["tasks_after"] = tasks_before, tasks()
print(json.dumps(out))
