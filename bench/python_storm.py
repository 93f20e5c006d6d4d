#!/usr/bin/python3
"""The storm workload through the Python binding, against watchdog.

    bench/python_storm.py [--runs 3] [--dirs 10000] [--files 20000]
                          [--subdirs 200] [--subdir-files 20] [--no-tmpfs]

A tree of --dirs directories is made on a tmpfs that the script mounts
(and unmounts at the end; root is needed for that, or pass --no-tmpfs to
use a directory on the disk). Then, for each watcher in turn, on a fresh
copy of the tree and in a fresh process:

  1. the watcher starts and says when every watch is in place;
  2. another process writes --files new files spread over the tree, plus
     --subdirs new directories holding --subdir-files files each, as fast
     as it can;
  3. the watcher's process counts what reaches Python until a sentinel
     made after the storm has arrived and nothing more comes for 0.5 s.

The watchers: vigil.Watcher (the binding's read loop), vigil.Observer
(the watchdog shim, with a watchdog-style handler) and watchdog's own
Observer with the same handler. Reported, as a markdown table (the median
run of each): events delivered to Python and per second (from the start
of the storm to the last event), CPU time of the watcher's process over
the storm and per event, its peak RSS, the share of the created paths it
reported in the worst run (overall, and for the files in the new
subdirectories), and whether it reported an overflow. events/s is bounded
by how fast the storm is written; CPU per event is the cost.

Debian's python3 with python3-watchdog; the binding either installed or
built (PYTHONPATH=build/python is set automatically when build/python
exists).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# -- the watcher processes ------------------------------------------------------

CHILD = r'''
import json, os, resource, sys, time
kind, root, sentinel = sys.argv[1:4]

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

created = set()
n_events = 0
overflow = False
first = last = None

if kind == "vigil":
    import vigil
    w = vigil.Watcher(root)
    print("ready", flush=True)
    c0 = cpu()
    seen_sentinel = False
    while True:
        evs = w.read(0.5 if seen_sentinel else 120)
        if not evs:
            break
        now = time.monotonic()
        first = first or now
        last = now
        n_events += len(evs)
        for e in evs:
            k = e.kind
            if k == "created" or k == "moved":
                created.add(e.path)
                if e.path == sentinel:
                    seen_sentinel = True
            elif k == "overflow":
                overflow = True
    w.close()
else:
    import threading
    if kind == "vigil-observer":
        from vigil import Observer
    else:
        from watchdog.observers import Observer
    from watchdog.events import FileSystemEventHandler
    lock = threading.Lock()
    got_sentinel = threading.Event()

    class Counter(FileSystemEventHandler):
        def on_any_event(self, ev):
            global n_events, first, last
            now = time.monotonic()
            with lock:
                n_events += 1
                first = first or now
                last = now
                if ev.event_type == "created":
                    created.add(ev.src_path)
                    if ev.src_path == sentinel:
                        got_sentinel.set()
                elif ev.event_type == "moved":
                    created.add(ev.dest_path)

    obs = Observer()
    obs.schedule(Counter(), root, recursive=True)
    obs.start()
    print("ready", flush=True)
    c0 = cpu()
    got_sentinel.wait(120)
    while True:  # until nothing more comes for 0.5 s
        with lock:
            l = last
        if time.monotonic() - l >= 0.5:
            break
        time.sleep(0.1)
    obs.stop()
    obs.join()

c1 = cpu()
print(json.dumps({"events": n_events, "first": first, "last": last, "cpu": c1 - c0,
                  "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "overflow": overflow, "created": sorted(created)}), flush=True)
'''

# -- the storm ------------------------------------------------------------------

STORM = r'''
import os, sys
root, files, subdirs, subfiles = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
leaves = [l.rstrip("\n") for l in open(sys.argv[5])]
flags = os.O_CREAT | os.O_WRONLY | os.O_TRUNC
for i in range(files):
    fd = os.open(os.path.join(leaves[i % len(leaves)], "s%06d" % i), flags, 0o644)
    os.write(fd, b"x")
    os.close(fd)
for j in range(subdirs):
    d = os.path.join(root, "new%04d" % j)
    os.mkdir(d)
    for k in range(subfiles):
        fd = os.open(os.path.join(d, "f%03d" % k), flags, 0o644)
        os.write(fd, b"x")
        os.close(fd)
'''


def make_tree(root, ndirs):
    """ndirs directories: sqrt(ndirs) groups of leaves. Returns the leaves."""
    os.mkdir(root)
    per = max(1, int(ndirs ** 0.5))
    leaves = []
    made = 0
    g = 0
    while made < ndirs:
        top = os.path.join(root, "g%04d" % g)
        os.mkdir(top)
        made += 1
        for k in range(per):
            if made >= ndirs:
                break
            leaf = os.path.join(top, "d%04d" % k)
            os.mkdir(leaf)
            leaves.append(leaf)
            made += 1
        g += 1
    return leaves or [root]


def expected_paths(root, leaves, files, subdirs, subfiles):
    plain = set(os.path.join(leaves[i % len(leaves)], "s%06d" % i) for i in range(files))
    sub = set()
    for j in range(subdirs):
        d = os.path.join(root, "new%04d" % j)
        sub.add(d)
        sub.update(os.path.join(d, "f%03d" % k) for k in range(subfiles))
    return plain, sub


def env_with_binding():
    env = dict(os.environ)
    build = os.path.join(REPO, "build", "python")
    if os.path.isdir(os.path.join(build, "vigil")):
        env["PYTHONPATH"] = build + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def one_run(kind, base, args, env):
    root = os.path.join(base, "storm")
    if os.path.exists(root):
        shutil.rmtree(root)
    leaves = make_tree(root, args.dirs)
    leaves_file = os.path.join(base, "leaves.txt")
    with open(leaves_file, "w") as f:
        f.write("\n".join(leaves) + "\n")
    sentinel = os.path.join(root, "storm-end")
    child = subprocess.Popen([sys.executable, "-c", CHILD, kind, root, sentinel], env=env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError("%s did not start: %r" % (kind, line))
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-c", STORM, root, str(args.files), str(args.subdirs),
                        str(args.subdir_files), leaves_file], check=True, timeout=600)
        storm_s = time.monotonic() - t0
        with open(sentinel, "w"):
            pass
        out, _ = child.communicate(timeout=300)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    res = json.loads(out.strip().splitlines()[-1])
    plain, sub = expected_paths(root, leaves, args.files, args.subdirs, args.subdir_files)
    got = set(res.pop("created"))
    span = (res["last"] - t0) if res["last"] else float("nan")
    res.update(storm_s=storm_s, span=span,
               rate=res["events"] / span if res["last"] else 0.0,
               share=len(got & (plain | sub)) / len(plain | sub),
               share_sub=len(got & sub) / len(sub) if sub else 1.0)
    shutil.rmtree(root)
    return res


def mount_tmpfs(args):
    if args.no_tmpfs:
        return tempfile.mkdtemp(prefix="vigil-pystorm-"), False
    out = os.path.join(HERE, "out")
    os.makedirs(out, exist_ok=True)
    mnt = tempfile.mkdtemp(prefix="pystorm-", dir=out)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1g,mode=0755", "tmpfs", mnt], check=True)
    return mnt, True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dirs", type=int, default=10000)
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--subdirs", type=int, default=200)
    ap.add_argument("--subdir-files", type=int, default=20)
    ap.add_argument("--no-tmpfs", action="store_true", help="use a directory on the disk")
    ap.add_argument("--tools", default="vigil,vigil-observer,watchdog")
    ap.add_argument("--json", help="also write the raw results here")
    args = ap.parse_args()
    env = env_with_binding()
    tools = args.tools.split(",")
    base, mounted = mount_tmpfs(args)
    results = {t: [] for t in tools}
    try:
        for run in range(args.runs):
            for t in tools:
                r = one_run(t, base, args, env)
                results[t].append(r)
                print("run %d %-15s %7d events %9.0f ev/s  cpu %.2fs  rss %6.1f MiB  paths %.2f%%  "
                      "new subdirs %.2f%%  overflow %s" % (
                          run + 1, t, r["events"], r["rate"], r["cpu"], r["rss_kib"] / 1024,
                          100 * r["share"], 100 * r["share_sub"], r["overflow"]),
                      file=sys.stderr, flush=True)
    finally:
        if mounted:
            subprocess.run(["umount", base], check=False)
            os.rmdir(base)
        else:
            shutil.rmtree(base, ignore_errors=True)

    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    where = "tmpfs" if mounted else "disk"
    print("Storm on %s: %d directories; %d new files spread over them, and %d new "
          "directories of %d files (%d runs: the median run's numbers, the worst run's shares)\n" % (
              where, args.dirs, args.files, args.subdirs, args.subdir_files, args.runs))
    # An operation is one file or directory the storm makes. watchdog's
    # Observer and vigil's shim turn one operation into several events
    # (the parent's DirModifiedEvent, the closed event...), so CPU per
    # operation is what compares them.
    ops = args.files + args.subdirs * (1 + args.subdir_files)
    print("| watcher | events to Python | events/s | CPU s | CPU µs/event | CPU µs/operation "
          "| peak RSS MiB | paths reported (worst) | files in new subdirs (worst) | overflow reported |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    names = {"vigil": "vigil.Watcher", "vigil-observer": "vigil.Observer (shim)",
             "watchdog": "watchdog Observer"}
    for t in tools:
        rs = sorted(results[t], key=lambda r: r["rate"])
        r = rs[len(rs) // 2]
        share = min(x["share"] for x in results[t])  # the worst run: a miss is a miss
        share_sub = min(x["share_sub"] for x in results[t])
        print("| %s | %d | %.0f | %.2f | %.1f | %.1f | %.1f | %.2f%% | %.2f%% | %s |" % (
            names.get(t, t), r["events"], r["rate"], r["cpu"],
            1e6 * r["cpu"] / r["events"] if r["events"] else float("nan"),
            1e6 * r["cpu"] / ops, r["rss_kib"] / 1024, 100 * share, 100 * share_sub,
            "yes" if r["overflow"] else ("n/a" if t == "watchdog" or t == "vigil-observer" else "no")))
    if "vigil-observer" in results and "watchdog" in results:
        med = lambda t: statistics.median(x["cpu"] for x in results[t])
        print("\nvigil.Observer's CPU per operation is %.2f of watchdog's Observer's "
              "(median CPU of each, same storm, same run)." % (med("vigil-observer") / med("watchdog")))


if __name__ == "__main__":
    main()
