"""vigil's benchmark: vigil and the watchers people use instead, in one run.

Run it through bench/run, which installs the anchors and builds everything
first; `bench/run --help` lists the options. Results go to
bench/out/results.json (each workload keeps its latest results) and are
written up in docs/benchmarks.md with two plots.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402
import tools as T  # noqa: E402

TOUCHED = 100
WORKLOADS = ["setup", "storm", "overflow", "latency", "stop", "throughput", "poll"]
LOG = None


def log(msg):
    line = f"[{time.strftime('%H:%M:%S')}] {msg}"
    print(line, file=sys.stderr, flush=True)
    if LOG:
        LOG.write(line + "\n")
        LOG.flush()


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# ---------------------------------------------------------------- parameters


def config(args):
    large = args.large
    c = {
        "runs": args.runs,
        "files_per_dir": 5,
        "setup_sizes": [1000, 10000, 100000, 200000] if large else [1000, 10000, 100000],
        "chokidar_max_dirs": args.chokidar_max_dirs,
        "storm_tmpfs_dirs": 100000 if large else 10000,
        "storm_disk_dirs": 1000,
        "storm_files": 100000 if large else 20000,
        "storm_subdirs": 1000 if large else 200,
        "storm_subdir_files": 20,
        "storm_disk_files": 20000,
        "storm_disk_subdirs": 200,
        "overflow_dirs": 100000 if large else 10000,
        "overflow_files": 200000 if large else 50000,
        "latency_dirs": 1000,
        "latency_writes": args.latency_writes,
        "latency_interval_ms": 20,
        "stop_reps": 7,
        "stop_storm_files": 20000,
        "throughput_files": 200000 if large else 50000,
        "lib_rounds": 40 if large else 20,
        "lib_batch": 5000,
        "lib_stop_iters": 101,
        "batch_files": 20000,
        "batch_paced_files": 3000,
        "quiet_s": 1.0,
        "poll_dirs": 10000,
        "poll_large_dirs": 100000,
        "poll_cycles": 5,
        "poll_latency_cycles": 10,
    }
    if args.quick:
        c.update(setup_sizes=[1000, 3000], storm_tmpfs_dirs=1000, storm_disk_dirs=300, storm_files=3000,
                 storm_subdirs=30, storm_disk_files=2000, storm_disk_subdirs=20, overflow_dirs=1000,
                 overflow_files=30000, latency_dirs=300, latency_writes=50, stop_reps=1,
                 stop_storm_files=5000, throughput_files=10000, lib_rounds=4, lib_stop_iters=21,
                 batch_files=3000, batch_paced_files=300, poll_dirs=1000, poll_large_dirs=3000,
                 poll_cycles=2, poll_latency_cycles=2,
                 quiet_s=0.5)
    if args.sizes:
        c["setup_sizes"] = [int(s) for s in args.sizes.split(",")]
    return c


# ---------------------------------------------------------------- the machine


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except subprocess.SubprocessError:
        return ""


def machine():
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    def sysctl(name):
        try:
            with open("/proc/sys/fs/inotify/" + name) as f:
                return f.read().strip()
        except OSError:
            return "?"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram": mem,
        "kernel": os.uname().release,
        "debian": sh("cat /etc/debian_version"),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "disk_fs": sh(f"findmnt -n -o FSTYPE -T {T.OUT}"),
        "max_queued_events": sysctl("max_queued_events"),
        "max_user_watches": sysctl("max_user_watches"),
        "compiler": sh("cc --version | head -1"),
        "node": sh("node --version"),
        "python": sh(f"{T.DEBIAN_PYTHON} --version"),
    }


# ---------------------------------------------------------------- file systems


class Space:
    """The tmpfs the benchmark mounts for its trees, and the disk directory."""

    def __init__(self, size):
        self.tmpfs = os.path.join(T.OUT, "tmpfs")
        self.disk = os.path.join(T.OUT, "disk")
        self.size = size
        self.mounted = False

    def __enter__(self):
        os.makedirs(self.tmpfs, exist_ok=True)
        if os.path.ismount(self.tmpfs):
            subprocess.run(["umount", self.tmpfs], check=False)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size},mode=0755", "vigil-bench",
                        self.tmpfs], check=True)
        self.mounted = True
        os.makedirs(self.disk, exist_ok=True)
        return self

    def __exit__(self, *exc):
        if self.mounted:
            for _ in range(20):
                if subprocess.run(["umount", self.tmpfs], capture_output=True).returncode == 0:
                    break
                time.sleep(0.25)
            else:
                subprocess.run(["umount", "-l", self.tmpfs], check=False)
        shutil.rmtree(self.disk, ignore_errors=True)


def make_tree(root, dirs, files):
    if os.path.isdir(root):
        return
    t = time.monotonic()
    subprocess.run([os.path.join(T.BIN, "gen"), "tree", root, str(dirs), str(files)], check=True)
    log(f"  tree {root}: {dirs} dirs x {files} files in {time.monotonic() - t:.1f} s")


def remove_tree(root):
    shutil.rmtree(root, ignore_errors=True)


class WatchLimit:
    """Raises fs.inotify.max_user_watches for the run if it is too low, and restores it."""

    PATH = "/proc/sys/fs/inotify/max_user_watches"

    def __init__(self, need):
        self.need = need
        self.old = None

    def __enter__(self):
        with open(self.PATH) as f:
            cur = int(f.read())
        if cur < self.need:
            try:
                with open(self.PATH, "w") as f:
                    f.write(str(self.need))
                self.old = cur
                log(f"raised fs.inotify.max_user_watches from {cur} to {self.need} for the run")
            except OSError as e:
                log(f"could not raise fs.inotify.max_user_watches ({e}); large trees may fail")
        return self

    def __exit__(self, *exc):
        if self.old is not None:
            with open(self.PATH, "w") as f:
                f.write(str(self.old))


# ---------------------------------------------------------------- helpers


def rotate(items, k):
    k %= len(items) if items else 1
    return items[k:] + items[:k]


def start(tool, root, timeout):
    """Starts tool on root; returns (Run, seconds to ready) or (Run, None)."""
    r = T.Run(tool, root)
    return r, r.wait_ready(timeout)


def settle(r, secs):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        r.pump(end - time.monotonic())


def quiet(r, quiet_s, max_s):
    """Pumps until the tool has been silent for quiet_s, or max_s passed."""
    end = time.monotonic() + max_s
    last = time.monotonic()
    while time.monotonic() < end:
        if r.pump(min(quiet_s, end - time.monotonic())):
            last = time.monotonic()
        elif time.monotonic() - last >= quiet_s:
            return True
    return False


def read_manifest(path):
    m = {"F": [], "D": [], "S": []}
    with open(path) as f:
        for line in f:
            k, p = line.rstrip("\n").split(" ", 1)
            m[k].append(p)
    return m


def clean_manifest(root, m):
    for p in m["F"]:
        try:
            os.unlink(os.path.join(root, p))
        except OSError:
            pass
    for p in m["D"]:
        shutil.rmtree(os.path.join(root, p), ignore_errors=True)


def catch_up(r, root, tag, every, timeout=120):
    """Makes sentinel files in root until the tool reports one.

    A sentinel's event is lost if the kernel's queue is still full when it
    is made (the tool stopped, or behind), so new ones are made every
    `every` seconds: the first one reported shows that the tool has caught
    up. Returns (time it was reported or None, paths of the sentinels).
    """
    seen = [None]
    r.watch_for(rb"bench-sentinel-" + tag.encode(), lambda t: seen.__setitem__(0, t) if seen[0] is None else None)
    sentinels = []
    deadline = time.monotonic() + timeout
    while seen[0] is None and time.monotonic() < deadline:
        p = os.path.join(root, f"bench-sentinel-{tag}-{len(sentinels)}")
        with open(p, "w"):
            pass
        sentinels.append(p)
        end = time.monotonic() + every
        while seen[0] is None and time.monotonic() < end:
            r.pump(end - time.monotonic())
    r.search = None
    return seen[0], sentinels


def parse_events(tool, r, lines, root):
    """(count of events, set of paths reported, overflow reported?)."""
    n = 0
    paths = set()
    over = False
    for line in lines:
        if tool.overflow(line):
            over = True
        for _kind, p in tool.parse(line, root):
            n += 1
            paths.add(p)
    return n, paths, over


def write_log(name, r):
    """Keeps a tool's raw output of one measurement in bench/out/logs."""
    d = os.path.join(T.OUT, "logs")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        for _, c in r.out:
            f.write(c)
    if r.err:
        with open(os.path.join(d, name + ".err"), "wb") as f:
            f.write(r.err)


def ready_timeout(dirs):
    return max(60.0, dirs * 0.004)


# ---------------------------------------------------------------- workloads


def w_setup(cfg, tools, floor, space):
    res = {"sizes": cfg["setup_sizes"], "files_per_dir": cfg["files_per_dir"], "rows": {}, "walk": {}}
    everyone = tools + [floor]
    for size in cfg["setup_sizes"]:
        root = os.path.join(space.tmpfs, f"setup-{size}")
        make_tree(root, size, cfg["files_per_dir"])
        walk = []
        for run in range(cfg["runs"]):
            t = time.monotonic()
            subprocess.run([os.path.join(T.BIN, "floor"), "-n", root], check=True, capture_output=True)
            walk.append(time.monotonic() - t)
            for tool in rotate(everyone, run):
                row = res["rows"].setdefault(tool.name, {}).setdefault(str(size), {
                    "ready": [], "rss_kb": [], "hwm_kb": [], "cpu": []})
                if tool.name == "chokidar" and size > cfg["chokidar_max_dirs"]:
                    row["skipped"] = f"over --chokidar-max-dirs {cfg['chokidar_max_dirs']}"
                    for k in ("ready", "rss_kb", "hwm_kb", "cpu"):
                        row[k].append(None)
                    continue
                r, ready = start(tool, root, ready_timeout(size))
                if ready is None:
                    log(f"setup {size} {tool.name}: not ready ({r.err[-300:]!r})")
                    row.setdefault("failed", []).append(run)
                    for k in ("ready", "rss_kb", "hwm_kb", "cpu"):
                        row[k].append(None)
                    r.stop()
                    continue
                cpu = r.cpu()
                settle(r, 0.25)
                rss, hwm = r.rss_kb(), r.hwm_kb()
                r.stop()
                row["ready"].append(ready)
                row["cpu"].append(cpu)
                row["rss_kb"].append(rss)
                row["hwm_kb"].append(hwm)
                log(f"setup {size:>7} run {run + 1} {tool.name:<12} ready {ready:8.3f} s  "
                    f"RSS {rss / 1024:7.1f} MB  CPU {cpu:7.3f} s")
        res["walk"][str(size)] = walk
        remove_tree(root)
    return res


def storm_once(tool, cfg, root, dirs, nfiles, nsub, subfiles, tag, stopped=False):
    """One storm (or, with stopped, one overflow) against one tool. Returns a dict."""
    r, ready = start(tool, root, ready_timeout(dirs))
    out = {"ready": ready}
    if ready is None:
        out["error"] = "not ready: " + r.err[-200:].decode(errors="replace")
        r.stop()
        return out
    settle(r, 0.2)
    index = len(r.out)
    cpu0 = r.cpu()
    manifest = os.path.join(T.OUT, f"manifest-{tag}")
    touched = []
    if stopped:
        # Files changed, and reported, a second before events are lost: they
        # do not change again, so a report of them after the loss is spurious.
        touched = [f"{dir_path(i)}/f1" for i in range(1, min(dirs, TOUCHED + 1))]
        for p in touched:
            with open(os.path.join(root, p), "a") as f:
                f.write("x")
        settle(r, 1.0)
        index = len(r.out)
        cpu0 = r.cpu()
        r.signal_group(signal.SIGSTOP)
    t0 = time.monotonic()
    w = subprocess.Popen([os.path.join(T.BIN, "gen"), "storm", root, str(dirs), str(nfiles), str(nsub),
                          str(subfiles), tag, manifest])
    while w.poll() is None:
        r.pump(0.02)
    out["writer_s"] = time.monotonic() - t0
    t_from = time.monotonic()
    if stopped:
        r.signal_group(signal.SIGCONT)
    caught_up, sentinels = catch_up(r, root, tag, 0.01 if stopped else 0.05)
    out["recover_s" if stopped else "sentinel_s"] = caught_up - t_from if caught_up else None
    out["sentinels"] = len(sentinels)
    quiet(r, cfg["quiet_s"], 60)
    out["cpu"] = r.cpu() - cpu0
    r.search = None
    lines = b"".join(c for _, c in r.out[index:]).splitlines()
    r.stop()
    m = read_manifest(manifest)
    os.unlink(manifest)
    n, paths, over = parse_events(tool, r, lines, root)
    n_sent = sum(1 for line in lines if b"bench-sentinel-" in line)
    created = m["F"] + m["D"] + m["S"]
    out["created"] = len(created)
    out["events"] = n - n_sent
    out["lines"] = len(lines)
    out["overflow"] = over
    out["seen_all"] = sum(1 for p in created if p in paths) / max(1, len(created))
    out["seen_files"] = sum(1 for p in m["F"] if p in paths) / max(1, len(m["F"]))
    out["seen_subdirs"] = sum(1 for p in m["D"] if p in paths) / max(1, len(m["D"])) if m["D"] else None
    out["seen_subfiles"] = sum(1 for p in m["S"] if p in paths) / max(1, len(m["S"])) if m["S"] else None
    base = re.compile(r"(^|/)f\d+$")
    touched_set = set(touched)
    out["unchanged_reported"] = sum(1 for p in paths if base.search(p) and p not in touched_set)
    if stopped:
        out["touched"] = len(touched)
        out["touched_reported"] = sum(1 for p in touched if p in paths)
    missed = [p for p in created if p not in paths]
    out["missed_sample"] = missed[:20]
    if tool.name.startswith("vigil") and missed:
        write_log(f"{tag}-{tool.name}.out", r)
        with open(os.path.join(T.OUT, "logs", f"{tag}-{tool.name}.missed"), "w") as f:
            f.write("\n".join(missed) + "\n")
    clean_manifest(root, m)
    for p in sentinels:
        try:
            os.unlink(p)
        except OSError:
            pass
    return out


def w_storm(cfg, tools, space, variant):
    if variant == "tmpfs":
        base, dirs, nfiles, nsub = space.tmpfs, cfg["storm_tmpfs_dirs"], cfg["storm_files"], cfg["storm_subdirs"]
    else:
        base, dirs, nfiles, nsub = space.disk, cfg["storm_disk_dirs"], cfg["storm_disk_files"], cfg["storm_disk_subdirs"]
    root = os.path.join(base, f"storm-{dirs}")
    make_tree(root, dirs, cfg["files_per_dir"])
    res = {"dirs": dirs, "files_per_dir": cfg["files_per_dir"], "files": nfiles, "subdirs": nsub,
           "subdir_files": cfg["storm_subdir_files"], "rows": {}}
    for run in range(cfg["runs"]):
        for tool in rotate(tools, run):
            if tool.name == "chokidar" and dirs > cfg["chokidar_max_dirs"]:
                res["rows"].setdefault(tool.name, []).append({"skipped": True})
                continue
            tag = f"{variant[0]}{run}{tool.name[:3]}"
            o = storm_once(tool, cfg, root, dirs, nfiles, nsub, cfg["storm_subdir_files"], tag)
            res["rows"].setdefault(tool.name, []).append(o)
            if "error" in o:
                log(f"storm {variant} run {run + 1} {tool.name}: {o['error']}")
                continue
            log(f"storm {variant} run {run + 1} {tool.name:<12} seen {o['seen_all']:.1%} "
                f"(new-subdir files {o['seen_subfiles'] or 0:.1%}) events {o['events']} "
                f"overflow {o['overflow']} CPU {o['cpu']:.3f} s")
    remove_tree(root)
    return res


def w_overflow(cfg, tools, space):
    dirs = cfg["overflow_dirs"]
    root = os.path.join(space.tmpfs, f"ovf-{dirs}")
    make_tree(root, dirs, cfg["files_per_dir"])
    res = {"dirs": dirs, "files_per_dir": cfg["files_per_dir"], "files": cfg["overflow_files"], "rows": {}}
    for run in range(cfg["runs"]):
        for tool in rotate(tools, run):
            if tool.name == "chokidar" and dirs > cfg["chokidar_max_dirs"]:
                res["rows"].setdefault(tool.name, []).append({"skipped": True})
                continue
            tag = f"o{run}{tool.name[:3]}"
            o = storm_once(tool, cfg, root, dirs, cfg["overflow_files"], 0, 0, tag, stopped=True)
            res["rows"].setdefault(tool.name, []).append(o)
            if "error" in o:
                log(f"overflow run {run + 1} {tool.name}: {o['error']}")
                continue
            rec = o["recover_s"]
            log(f"overflow run {run + 1} {tool.name:<12} seen {o['seen_all']:.1%} overflow {o['overflow']} "
                f"recover {'-' if rec is None else f'{rec:.3f} s'} unchanged reported {o['unchanged_reported']} "
                f"re-reported {o['touched_reported']}/{o['touched']}")
    remove_tree(root)
    return res


def dir_path(i):
    parts = []
    while i > 0:
        parts.append(f"d{i}")
        i = (i - 1) // 10
    return "/".join(reversed(parts))


def latency_once(tool, cfg, root, tag):
    r, ready = start(tool, root, ready_timeout(cfg["latency_dirs"]))
    if ready is None:
        r.stop()
        return {"error": "not ready"}
    settle(r, 0.3)
    n = cfg["latency_writes"]
    interval = cfg["latency_interval_ms"] / 1000
    pat = re.compile(rb"lat" + tag.encode() + rb"_(\d+)(?=\D)")
    dirs = [os.path.join(root, dir_path(1 + i % 10)) for i in range(10)]
    names = [os.path.join(dirs[i % 10], f"lat{tag}_{i}") for i in range(n)]
    sent = [None] * n
    got = {}
    scanned = len(r.out)
    tail = b""

    def scan():
        nonlocal scanned, tail
        while scanned < len(r.out):
            t, data = r.out[scanned]
            scanned += 1
            buf = tail + data
            for m in pat.finditer(buf):
                i = int(m.group(1))
                if i < n and i not in got and sent[i] is not None:
                    got[i] = t - sent[i]
            tail = buf[-128:]

    begin = time.monotonic() + 0.05
    for i in range(n):
        due = begin + i * interval
        while True:
            left = due - time.monotonic()
            if left <= 0:
                break
            r.pump(left)
            scan()
        sent[i] = time.monotonic()
        fd = os.open(names[i], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, b"x\n")
        os.close(fd)
        r.pump(0)
        scan()
    end = time.monotonic() + 5
    while len(got) < n and time.monotonic() < end:
        r.pump(0.05)
        scan()
    r.stop()
    for p in names:
        try:
            os.unlink(p)
        except OSError:
            pass
    lat = sorted(got.values())
    if not lat:
        return {"lost": n, "p50": None, "p99": None, "max": None}

    def pct(q):
        return lat[min(len(lat) - 1, int(q * len(lat)))]

    return {"p50": pct(0.5), "p99": pct(0.99), "max": lat[-1], "lost": n - len(lat), "n": n}


def w_latency(cfg, tools, floor, space):
    dirs = cfg["latency_dirs"]
    root = os.path.join(space.tmpfs, f"latency-{dirs}")
    make_tree(root, dirs, cfg["files_per_dir"])
    res = {"dirs": dirs, "writes": cfg["latency_writes"], "interval_ms": cfg["latency_interval_ms"], "rows": {}}
    for run in range(cfg["runs"]):
        for tool in rotate(tools + [floor], run):
            o = latency_once(tool, cfg, root, f"{run}{tool.name[:3]}")
            res["rows"].setdefault(tool.name, []).append(o)
            if o.get("p50") is None:
                log(f"latency run {run + 1} {tool.name}: {o}")
                continue
            log(f"latency run {run + 1} {tool.name:<12} p50 {o['p50'] * 1e3:8.3f} ms  p99 {o['p99'] * 1e3:8.3f} ms  "
                f"max {o['max'] * 1e3:8.3f} ms  lost {o['lost']}")
    remove_tree(root)
    return res


def poll_cycles(r, root, n, delay=None, timeout=120):
    """n changes of one file at the root, each made once the last was
    reported, each waited for. Without delay, each is made 50 ms after the
    last event, so that it is found by the next pass: each cycle is
    one pass, and the time and CPU from one event to the next are the
    period and the CPU of a pass. With delay, each change is made at a
    random moment within delay seconds of the last event. Returns
    [(cpu seconds, seconds from the last event, seconds from the change to
    its event)] per cycle, or None if an event did not come."""
    import random
    path = os.path.join(root, "poll-sentinel")
    rng = random.Random(7)
    seen = [None]
    r.watch_for(rb"poll-sentinel", lambda t: seen.__setitem__(0, t))
    out = []
    last, cpu0 = time.monotonic(), r.cpu()
    for i in range(n):
        settle(r, rng.random() * delay if delay else 0.05)
        seen[0] = None
        t0 = time.monotonic()
        with open(path, "a") as f:
            f.write("x")
        end = t0 + timeout
        while seen[0] is None and time.monotonic() < end:
            r.pump(0.05)
        if seen[0] is None:
            return None
        cpu = r.cpu()
        out.append((cpu - cpu0, seen[0] - last, seen[0] - t0))
        last, cpu0 = seen[0], cpu
    r.search = None
    return out


def poll_tool(tool, cfg, root, dirs, cycles, latency_cycles):
    """One polling watcher on root: CPU per pass, RSS, and the time from a
    change to its event at its default interval."""
    with open(os.path.join(root, "poll-sentinel"), "w"):
        pass
    r, ready = start(tool, root, ready_timeout(dirs) + 600)
    o = {"ready_s": ready}
    if ready is None:
        o["error"] = "not ready"
        r.stop()
        return o
    # The first cycles absorb the initial snapshot (watchdog takes it after its ready line).
    warm = poll_cycles(r, root, 2)
    got = poll_cycles(r, root, cycles) if warm else None
    lat = poll_cycles(r, root, latency_cycles, delay=1.0) if got else None
    o["rss_kb"] = r.rss_kb()
    o["hwm_kb"] = r.hwm_kb()
    r.stop()
    if not got or not lat:
        o["error"] = "an event did not come"
        return o
    # The first cycle's CPU and period start at the warm-up's last event.
    o["cpu_ms"] = median([c * 1e3 for c, _, _ in got])
    o["period_s"] = median([p for _, p, _ in got])
    o["latency_s"] = median([t for _, _, t in lat])
    o["latency_max_s"] = max(t for _, _, t in lat)
    return o


def slab_objects(name):
    """(objects in use, bytes each) of the kernel's slab cache name, or
    None. /sys/kernel/slab names every cache, also one the kernel merged
    with others of its size (then the count is theirs together, and only
    a difference between two readings is this cache's); /proc/slabinfo
    lists only caches that were not merged."""
    try:
        with open(f"/sys/kernel/slab/{name}/objects") as f:
            objs = int(f.read().split()[0])
        with open(f"/sys/kernel/slab/{name}/slab_size") as f:
            return objs, int(f.read())
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open("/proc/slabinfo") as f:
            for line in f:
                w = line.split()
                if w and w[0] == name:
                    return int(w[1]), int(w[3])
    except (OSError, ValueError, IndexError):
        pass
    return None


# What the kernel allocates for each inotify watch: the mark, and the
# connector that hangs the marks on the inode.
INOTIFY_SLABS = ("inotify_inode_mark", "fsnotify_mark_connector")


def inotify_kernel(before, after, watches):
    """The kernel memory an inotify watcher's marks took, from two
    readings of INOTIFY_SLABS: {"kernel_kb": the difference of the two
    readings, "marks": marks made, "kernel_calc_kb": watches times the
    size of one object of each cache}, or None. Where the kernel merged a
    cache with others of its size, what the others allocated or freed
    between the readings counts too, so kernel_kb is near the truth only;
    kernel_calc_kb is what the watches themselves take (one mark and one
    connector per watched directory)."""
    if any(before.get(n) is None or after.get(n) is None for n in INOTIFY_SLABS):
        return None
    total = sum((after[n][0] - before[n][0]) * after[n][1] for n in INOTIFY_SLABS)
    return {"kernel_kb": total / 1024,
            "marks": after["inotify_inode_mark"][0] - before["inotify_inode_mark"][0],
            "kernel_calc_kb": watches * sum(after[n][1] for n in INOTIFY_SLABS) / 1024}


def w_poll(cfg, space):
    """Polling: vigil --backend poll and watchdog's PollingObserver on the
    same tree, side by side, with the list-and-stat floor; and a pass of
    vigil over a tree ten times as large."""
    res = {"rows": {}}
    floor = T.PollFloor()
    tools = [T.VigilPoll()]
    wd = T.WatchdogPolling()
    why = wd.available()
    if why:
        res["missing"] = {wd.name: why}
        log(f"{wd.label} is not available: {why}")
    else:
        tools.append(wd)
    for key, dirs, run_tools in (("main", cfg["poll_dirs"], tools),
                                 ("large", cfg["poll_large_dirs"], tools[:1])):
        # At ten times the size a pass comes every ~15 s: fewer of them.
        cycles = cfg["poll_cycles"] if key == "main" else min(3, cfg["poll_cycles"])
        lat_cycles = cfg["poll_latency_cycles"] if key == "main" else min(3, cfg["poll_latency_cycles"])
        root = os.path.join(space.tmpfs, f"poll-{dirs}")
        make_tree(root, dirs, cfg["files_per_dir"])
        rows = res["rows"].setdefault(key, {"dirs": dirs, "files": dirs * cfg["files_per_dir"]})
        for run in range(cfg["runs"]):
            for tool in rotate(run_tools, run):
                o = poll_tool(tool, cfg, root, dirs, cycles, lat_cycles)
                rows.setdefault(tool.name, []).append(o)
                log(f"poll {dirs} run {run + 1} {tool.name:<17} " +
                    ("; ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                               for k, v in o.items())))
            f = floor.passes(root, cycles)
            rows.setdefault(floor.name, []).append({"cpu_ms": median([p["cpu_ms"] for p in f]),
                                                    "wall_ms": median([p["wall_ms"] for p in f]),
                                                    "stats": f[0]["stats"]})
            log(f"poll {dirs} run {run + 1} {floor.name:<17} {rows[floor.name][-1]}")
        if key == "main":
            # What the same tree costs vigil with inotify, for its memory:
            # its RSS, and the kernel's objects for its watches (the slab
            # caches read before it starts and once it is ready).
            v = T.Vigil(json_out=True)
            for run in range(cfg["runs"]):
                before = {n: slab_objects(n) for n in INOTIFY_SLABS}
                r, ready = start(v, root, ready_timeout(dirs))
                after = {n: slab_objects(n) for n in INOTIFY_SLABS}
                o = {"ready_s": ready, "rss_kb": r.rss_kb(), "hwm_kb": r.hwm_kb()}
                k = inotify_kernel(before, after, dirs + 1)
                if k:
                    o.update(k)
                rows.setdefault("vigil-inotify", []).append(o)
                log(f"poll {dirs} run {run + 1} vigil-inotify     " +
                    "; ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                              for k, v in o.items()))
                r.stop()
        remove_tree(root)
    return res


def stop_once(tool, cfg, root, storm_tag=None):
    r, ready = start(tool, root, ready_timeout(cfg["latency_dirs"]))
    if ready is None:
        r.stop()
        return None
    settle(r, 0.2)
    w = None
    manifest = None
    if storm_tag:
        manifest = os.path.join(T.OUT, f"manifest-{storm_tag}")
        w = subprocess.Popen([os.path.join(T.BIN, "gen"), "storm", root, str(cfg["latency_dirs"]),
                              str(cfg["stop_storm_files"]), "0", "0", storm_tag, manifest])
        settle(r, 0.1)
    t0 = time.monotonic()
    os.kill(r.pid, signal.SIGINT)
    t1 = r.wait_exit(10)
    r.stop()
    if w:
        w.wait()
        clean_manifest(root, read_manifest(manifest))
        os.unlink(manifest)
    return None if t1 is None else t1 - t0


def w_stop(cfg, tools, space):
    dirs = cfg["latency_dirs"]
    root = os.path.join(space.tmpfs, f"stop-{dirs}")
    make_tree(root, dirs, cfg["files_per_dir"])
    res = {"dirs": dirs, "storm_files": cfg["stop_storm_files"], "reps": cfg["stop_reps"], "rows": {}, "lib": []}
    for run in range(cfg["runs"]):
        for tool in rotate(tools, run):
            row = res["rows"].setdefault(tool.name, {"idle": [], "storm": []})
            idle = [stop_once(tool, cfg, root) for _ in range(cfg["stop_reps"])]
            storm = [stop_once(tool, cfg, root, f"x{run}{k}{tool.name[:3]}") for k in range(cfg["stop_reps"])]
            row["idle"].append(median(idle))
            row["storm"].append(median(storm))
            fmt = lambda x: "-" if x is None else f"{x * 1e3:.2f} ms"  # noqa: E731
            log(f"stop run {run + 1} {tool.name:<12} idle {fmt(row['idle'][-1])}  in a storm {fmt(row['storm'][-1])}")
        # The library: vigil_stop(v, 0) during a storm, many times.
        d = os.path.join(space.tmpfs, "libstop")
        os.makedirs(d, exist_ok=True)
        p = subprocess.run([os.path.join(T.BIN, "libthroughput"), "stop", d, str(cfg["lib_stop_iters"])],
                           capture_output=True, text=True)
        shutil.rmtree(d, ignore_errors=True)
        m = re.search(r"median_us ([\d.]+) max_us ([\d.]+) dropped (\d+)", p.stdout)
        if m:
            res["lib"].append({"median_us": float(m.group(1)), "max_us": float(m.group(2)), "dropped": int(m.group(3))})
            log(f"stop run {run + 1} vigil_stop median {m.group(1)} us max {m.group(2)} us")
        else:
            log(f"libthroughput stop failed: {p.stderr.strip()}")
    remove_tree(root)
    return res


def w_throughput(cfg, vigil_tools, space):
    root = os.path.join(space.tmpfs, "throughput")
    make_tree(root, 100, 0)
    res = {"files": cfg["throughput_files"], "dirs": 100, "rows": {}, "lib": []}
    for run in range(cfg["runs"]):
        for tool in rotate(vigil_tools, run):
            r, ready = start(tool, root, 60)
            if ready is None:
                r.stop()
                res["rows"].setdefault(tool.name, []).append({"error": "not ready"})
                continue
            settle(r, 0.2)
            index = len(r.out)
            cpu0 = r.cpu()
            tag = f"t{run}{tool.name[:3]}"
            manifest = os.path.join(T.OUT, f"manifest-{tag}")
            t0 = time.monotonic()
            w = subprocess.Popen([os.path.join(T.BIN, "gen"), "storm", root, "100", str(cfg["throughput_files"]),
                                  "0", "0", tag, manifest])
            while w.poll() is None:
                r.pump(0.02)
            t_w = time.monotonic()
            seen, sentinels = catch_up(r, root, tag, 0.05)
            quiet(r, 0.5, 30)
            cpu = r.cpu() - cpu0
            chunks = r.out[index:]
            r.stop()
            lines = b"".join(c for _, c in chunks).splitlines()
            n, _paths, over = parse_events(tool, r, lines, root)
            n -= sum(1 for line in lines if b"bench-sentinel-" in line)
            wall = (seen - t0) if seen else None
            o = {"events": n, "bytes": sum(len(c) for _, c in chunks), "cpu": cpu, "overflow": over,
                 "wall": wall, "writer_s": t_w - t0}
            res["rows"].setdefault(tool.name, []).append(o)
            log(f"throughput run {run + 1} {tool.name:<12} events {n} CPU {cpu:.3f} s -> "
                f"{n / cpu if cpu else 0:,.0f} events per CPU-second; overflow {over}")
            clean_manifest(root, read_manifest(manifest))
            os.unlink(manifest)
            for p in sentinels:
                os.unlink(p)
        d = os.path.join(space.tmpfs, "librate")
        os.makedirs(d, exist_ok=True)
        p = subprocess.run([os.path.join(T.BIN, "libthroughput"), "rate", d, str(cfg["lib_rounds"]),
                            str(cfg["lib_batch"])], capture_output=True, text=True)
        shutil.rmtree(d, ignore_errors=True)
        mv = re.search(r"vigil events (\d+) seconds ([\d.]+)", p.stdout)
        mr = re.search(r"raw events (\d+) seconds ([\d.]+)", p.stdout)
        if mv and mr:
            o = {"vigil_events": int(mv.group(1)), "vigil_s": float(mv.group(2)),
                 "raw_events": int(mr.group(1)), "raw_s": float(mr.group(2))}
            res["lib"].append(o)
            log(f"throughput run {run + 1} library {o['vigil_events'] / o['vigil_s']:,.0f} events/s, "
                f"raw inotify {o['raw_events'] / o['raw_s']:,.0f} events/s")
        else:
            log(f"libthroughput rate failed: {p.stderr.strip()}")
        # Batching in a storm: the reader's CPU with batch_us at its default and off,
        # for a storm (no pause between files) and two trickles.
        for pace, files in ((0, cfg["batch_files"]), (50, cfg["batch_paced_files"]),
                            (300, cfg["batch_paced_files"])):
            for batch in (0, -1):
                d = os.path.join(space.tmpfs, "libbatch")
                os.makedirs(d, exist_ok=True)
                p = subprocess.run([os.path.join(T.BIN, "libthroughput"), "batch", d, str(files), str(pace),
                                    str(batch)], capture_output=True, text=True)
                shutil.rmtree(d, ignore_errors=True)
                m = re.search(r"cpu_us (\d+) events (\d+) created (\d+)", p.stdout)
                if not m:
                    log(f"libthroughput batch failed: {p.stderr.strip()}")
                    continue
                o = {"pace_us": pace, "batch_us": batch, "files": files, "cpu_us": int(m.group(1)),
                     "events": int(m.group(2)), "created": int(m.group(3)), "run": run}
                res.setdefault("batch", []).append(o)
                log(f"throughput run {run + 1} batching {'on ' if batch == 0 else 'off'} pace {pace:3d} us: "
                    f"{o['cpu_us'] / files:.2f} us CPU per file, {o['created']}/{files} created reported")
    remove_tree(root)
    return res


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--large", action="store_true", help="trees up to 200,000 directories and 1,000,000 files")
    ap.add_argument("--runs", type=int, default=3, help="runs of every measurement; medians are reported (3)")
    ap.add_argument("--only", default="", help=f"comma-separated workloads: {','.join(WORKLOADS)}")
    ap.add_argument("--tools", default="", help="comma-separated tools (vigil always runs)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: checks that everything works")
    ap.add_argument("--sizes", default="", help="setup tree sizes in directories, e.g. 1000,10000")
    ap.add_argument("--latency-writes", type=int, default=500, help="writes in the latency test (500)")
    ap.add_argument("--chokidar-max-dirs", type=int, default=10000,
                    help="largest tree chokidar is run on (10000; it needs ~1.4 ms and ~70 KB per directory)")
    ap.add_argument("--report-only", action="store_true", help="rewrite docs/benchmarks.md from saved results")
    ap.add_argument("--no-report", action="store_true", help="do not rewrite docs/benchmarks.md")
    args = ap.parse_args()

    os.makedirs(T.OUT, exist_ok=True)
    results_path = os.path.join(T.OUT, "results.json")
    saved = {}
    if os.path.exists(results_path):
        with open(results_path) as f:
            saved = json.load(f)
    if args.report_only:
        report.write(saved)
        return 0

    global LOG
    LOG = open(os.path.join(T.OUT, "log.txt"), "a")
    cfg = config(args)
    only = [w for w in args.only.split(",") if w] or WORKLOADS
    for w in only:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w}")

    tools = T.all_tools()
    if args.tools:
        want = set(args.tools.split(",")) | {"vigil"}
        tools = [t for t in tools if t.name in want]
    available, missing = [], {}
    for t in tools:
        why = t.available()
        if why:
            missing[t.name] = why
            log(f"anchor {t.label} is not available: {why}")
        else:
            available.append(t)
    floor = T.Floor()
    if floor.available() or T.Vigil().available():
        log("the floor or vigil was not built; run bench/run, which builds them")
        return 1

    info = {
        "machine": machine(),
        "versions": {t.name: t.version() for t in available},
        "notes": {t.name: t.note for t in available + [floor]},
        "labels": {t.name: t.label for t in T.all_tools() + [floor, T.Vigil(json_out=True), T.VigilPoll(),
                                                             T.WatchdogPolling(), T.PollFloor()]},
        "missing": missing,
        "config": cfg,
        "when": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "command": " ".join(["bench/run"] + sys.argv[1:]),
    }
    saved["info"] = info
    log(f"machine: {info['machine']['cpu']}, {info['machine']['cores']} cores, load {info['machine']['load']}")

    def on_term(signum, frame):
        raise KeyboardInterrupt

    # SIGINT may be ignored if this was started in the background by a shell;
    # the tools inherit that, and would then not stop on SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_term)
    need = max(cfg["setup_sizes"] + [cfg["storm_tmpfs_dirs"], cfg["overflow_dirs"]]) * 2 + 50000
    tmpfs_size = "16g" if args.large else "6g"
    try:
        with WatchLimit(need), Space(tmpfs_size) as space:
            for w in only:
                t = time.monotonic()
                log(f"== {w}")
                if w == "setup":
                    r = w_setup(cfg, available, floor, space)
                elif w == "storm":
                    r = {"tmpfs": w_storm(cfg, available, space, "tmpfs"),
                         "disk": w_storm(cfg, available, space, "disk")}
                elif w == "overflow":
                    r = w_overflow(cfg, available, space)
                elif w == "latency":
                    r = w_latency(cfg, available, floor, space)
                elif w == "stop":
                    r = w_stop(cfg, available + [floor], space)
                elif w == "poll":
                    r = w_poll(cfg, space)
                else:
                    r = w_throughput(cfg, [T.Vigil(json_out=True), T.Vigil()] +
                                     [t for t in available if t.name == "inotifywait"] + [floor], space)
                r["when"] = info["when"]
                r["runs"] = cfg["runs"]
                r["large"] = args.large
                saved[w] = r
                with open(results_path, "w") as f:
                    json.dump(saved, f, indent=1)
                log(f"== {w} done in {time.monotonic() - t:.0f} s")
    except KeyboardInterrupt:
        T.stop_all()
        log("interrupted; results so far are kept in bench/out/results.json")
        return 130
    finally:
        T.stop_all()
    if not args.no_report:
        report.write(saved)
        log("wrote docs/benchmarks.md, docs/bench-setup-time.png, docs/bench-setup-rss.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
