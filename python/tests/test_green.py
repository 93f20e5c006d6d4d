"""vigil under eventlet and gevent monkey patching.

Each scenario runs in a fresh interpreter (monkey patching is process
wide): see green_scenario.py.
"""
import json
import os
import subprocess
import sys

import pytest

from vigilpy import SCALE, UNDER_ASAN

HERE = os.path.dirname(os.path.abspath(__file__))

# greenlet switches stacks by copying them, redzones and all, which
# AddressSanitizer reports as stack-buffer-underflow inside greenlet.
pytestmark = pytest.mark.skipif(UNDER_ASAN, reason="greenlet's stack copying trips AddressSanitizer")


def scenario(lib, mode, root):
    pytest.importorskip(lib)
    r = subprocess.run([sys.executable, os.path.join(HERE, "green_scenario.py"), lib, mode, root],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60 * SCALE)  # the program exits: no hang
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return json.loads(r.stdout.decode().strip().splitlines()[-1])


@pytest.mark.parametrize("lib", ["eventlet", "gevent"])
@pytest.mark.parametrize("mode", ["watcher", "observer"])
def test_a_green_thread_stops_another(lib, mode, root):
    out = scenario(lib, mode, root)
    assert out["sentinel_seen"], out
    assert out["stop_seconds"] < 1, out
    assert out["fds_left"] == [], out
    assert out["tasks_after"] == out["tasks_before"], out
    assert not out.get("observer_alive"), out


POOL = r'''
import sys
from gevent import monkey
monkey.patch_all()
import multiprocessing, multiprocessing.connection, os, json
from gevent.socket import wait_read

# multiprocessing.Pool does not survive patch_all() on its own, vigil or
# not: its result-handler thread, now a greenlet, blocks the whole hub in
# os.read on the result pipe while Pool() is still being constructed, so
# no task is ever sent. Waiting for the pipe through the hub first is
# the gevent-side fix; nothing here is about vigil.
_recv = multiprocessing.connection.Connection._recv
def _green_recv(self, size, read=os.read):
    wait_read(self._handle)
    return _recv(self, size, read)
multiprocessing.connection.Connection._recv = _green_recv

def work(d):
    import vigil
    os.mkdir(d)
    with vigil.Watcher(d) as w:
        for i in range(50):
            open(os.path.join(d, "f%02d" % i), "w").close()
        open(os.path.join(d, "end"), "w").close()
        got = []
        while not any(e.kind == "created" and e.path.endswith("/end") for e in got):
            evs = w.read(15)
            if not evs:
                raise SystemExit("no event within 15 s")
            got += evs
    return os.getpid(), sorted(set(os.path.basename(e.path) for e in got if e.kind == "created"))

if __name__ == "__main__":
    root = sys.argv[1]
    pool = multiprocessing.Pool(4)
    results = pool.map(work, [os.path.join(root, "w%d" % i) for i in range(8)])
    workers = [p.pid for p in pool._pool]
    pool.close()
    pool.join()
    alive = [pid for pid in workers if os.path.exists("/proc/%d" % pid)
             and open("/proc/%d/stat" % pid).read().split()[2] != "Z"]
    print(json.dumps({"results": results, "alive": alive}))
'''


def test_gevent_multiprocessing_pool(tmp):
    """After patch_all, Pool(4) workers each open a Watcher on their own
    directory, report every event and close it; the pool shuts down."""
    pytest.importorskip("gevent")
    script = tmp / "pool.py"
    script.write_text(POOL)
    root = tmp / "r"
    root.mkdir()
    r = subprocess.run([sys.executable, str(script), str(root)], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120 * SCALE)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    out = json.loads(r.stdout.decode().strip().splitlines()[-1])
    expected = sorted(["end"] + ["f%02d" % i for i in range(50)])
    assert len(out["results"]) == 8
    for pid, names in out["results"]:
        assert names == expected
    assert len(set(pid for pid, _ in out["results"])) <= 4
    assert out["alive"] == []
