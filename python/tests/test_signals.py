"""Signals: Ctrl-C interrupts a blocking read() at once, even while another
thread keeps the GIL busy; handlers, wakeup fds and stop() behave.

Each scenario runs in a fresh interpreter, so that a KeyboardInterrupt
that came late could not hit pytest itself.
"""
import os

import pytest

from vigilpy import run_python

BOUND = 0.1  # seconds, from the kill to the exception

PRELUDE = r'''
import os, signal, sys, threading, time
import vigil

def blocked(tid, timeout=10):
    """Waits until thread tid sleeps in poll/ppoll (read() is blocking)."""
    path = "/proc/self/task/%d/syscall" % tid
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                nr = f.read().split()[0]
        except (OSError, IndexError):
            time.sleep(0.2)  # no syscall file here: give it time instead
            return
        if nr in ("7", "271", "73"):  # poll, ppoll (x86-64), ppoll (arm64)
            return
        time.sleep(0.001)
    raise SystemExit("read() never blocked")

stop_busy = False
def busy():
    n = 0
    while not stop_busy:  # pure Python: holds the GIL but for forced switches
        n += 1

main_tid = threading.get_native_id()
'''


def run(scenario, root):
    r = run_python(PRELUDE + scenario, args=[root], timeout=60)
    return r.stdout.decode()


@pytest.mark.parametrize("target,with_busy", [
    ("process", False), ("main", False),
    ("process", True), ("main", True), ("busy-thread", True)])
def test_sigint_interrupts_a_blocking_read(root, target, with_busy):
    """SIGINT sent to the process, to the main thread, or to a thread
    spinning in Python code (whose C-level handler then only writes the
    wakeup fd) ends read() with KeyboardInterrupt within BOUND."""
    out = run(r'''
target, with_busy = %r, %r
w = vigil.Watcher(sys.argv[1])
sent = []
bt = None
if with_busy:
    bt = threading.Thread(target=busy, daemon=True)
    bt.start()
def killer():
    blocked(main_tid)
    sent.append(time.monotonic())
    if target == "process":
        os.kill(os.getpid(), signal.SIGINT)
    elif target == "main":
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
    else:
        signal.pthread_kill(bt.ident, signal.SIGINT)
threading.Thread(target=killer, daemon=True).start()
try:
    w.read(30)
except KeyboardInterrupt:
    print("interrupted after %%.4f" %% (time.monotonic() - sent[0]))
else:
    print("not interrupted")
stop_busy = True
w.close()
''' % (target, with_busy), root)
    assert out.startswith("interrupted after"), out
    assert float(out.split()[-1]) < BOUND, out
    print(target, "busy" if with_busy else "idle", out)


def test_handler_that_does_not_raise_and_the_wakeup_fd_is_kept(root):
    """A handler that returns lets read() go on waiting; the program's own
    wakeup fd is put back and receives the signal number."""
    out = run(r'''
r, wfd = os.pipe()
os.set_blocking(wfd, False)
signal.set_wakeup_fd(wfd)
got = []
signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
w = vigil.Watcher(sys.argv[1])
def killer():
    blocked(main_tid)
    os.kill(os.getpid(), signal.SIGUSR1)
    blocked(main_tid)  # waiting again after the handler ran
    open(os.path.join(sys.argv[1], "after"), "w").close()
threading.Thread(target=killer, daemon=True).start()
evs = w.read(30)
print(got == [signal.SIGUSR1], [os.path.basename(e.path) for e in evs][:1],
      os.read(r, 10) == bytes([signal.SIGUSR1]), signal.set_wakeup_fd(-1) == wfd)
''', root)
    assert out.split() == ["True", "['after']", "True", "True"], out


def test_alarm_handler_raising_ends_the_read(root):
    out = run(r'''
class Alarm(Exception): pass
def on_alarm(s, f): raise Alarm()
signal.signal(signal.SIGALRM, on_alarm)
w = vigil.Watcher(sys.argv[1])
signal.setitimer(signal.ITIMER_REAL, 0.2)
t = time.monotonic()
try:
    w.read(30)
except Alarm:
    print("alarm after %.3f" % (time.monotonic() - t))
''', root)
    assert out.startswith("alarm after"), out
    assert float(out.split()[-1]) < 0.2 + BOUND, out


def test_stop_and_close_with_a_busy_thread(root):
    """A thread spinning in Python does not delay Observer.stop/join nor a
    close() that ends another thread's blocking read beyond the bound."""
    out = run(r'''
bt = threading.Thread(target=busy, daemon=True)
bt.start()
class H:
    def dispatch(self, ev): pass
obs = vigil.Observer()
obs.schedule(H(), sys.argv[1], recursive=True)
obs.start()
time.sleep(0.1)
t = time.monotonic()
obs.stop()
obs.join(5)
t_obs = time.monotonic() - t
w = vigil.Watcher(sys.argv[1])
rt = threading.Thread(target=w.read)
rt.start()
blocked(rt.native_id)
t = time.monotonic()
w.close()
rt.join(5)
t_close = time.monotonic() - t
stop_busy = True
print(obs.is_alive(), rt.is_alive(), "%.4f %.4f" % (t_obs, t_close))
''', root)
    alive_obs, alive_rt, t_obs, t_close = out.split()
    assert (alive_obs, alive_rt) == ("False", "False"), out
    assert float(t_obs) < BOUND and float(t_close) < BOUND, out


def test_sigint_while_a_handler_closes_the_watcher(root):
    """close() from a signal handler that runs inside read() does not
    deadlock; the read returns and everything is released."""
    out = run(r'''
with vigil.Watcher(sys.argv[1]) as w0:
    w0.read(0.001)  # the module's signal pipe, made once per process
before = len(os.listdir("/proc/self/fd"))
w = vigil.Watcher(sys.argv[1])
signal.signal(signal.SIGUSR1, lambda s, f: w.close())
def killer():
    blocked(main_tid)
    os.kill(os.getpid(), signal.SIGUSR1)
threading.Thread(target=killer, daemon=True).start()
print(w.read(30), w.closed, before - len(os.listdir("/proc/self/fd")))
''', root)
    assert out.split() == ["[]", "True", "0"], out


@pytest.mark.time_limit(120)
def test_sigint_interrupts_a_long_setup(tmp):
    """Ctrl-C during the constructor on a large tree: KeyboardInterrupt
    within the bound, and nothing of the watcher is left."""
    top = tmp / "big"
    for i in range(100):
        for j in range(200):
            os.makedirs(str(top / str(i) / str(j)))
    out = run(r'''
t = time.monotonic()
vigil.Watcher(sys.argv[1]).close()
setup = time.monotonic() - t
before = len(os.listdir("/proc/self/fd"))
sent = []
def killer():
    time.sleep(setup / 3)
    sent.append(time.monotonic())
    os.kill(os.getpid(), signal.SIGINT)
threading.Thread(target=killer).start()
try:
    vigil.Watcher(sys.argv[1])
    print("not-interrupted %.3f" % setup)
except KeyboardInterrupt:
    print("interrupted %.4f %d" % (time.monotonic() - sent[0], before - len(os.listdir("/proc/self/fd"))))
''', str(top))
    if out.startswith("not-interrupted"):
        pytest.skip("setup too quick to interrupt here: " + out)
    word, latency, fds_diff = out.split()
    assert float(latency) < BOUND and fds_diff == "0", out
