"""Writes docs/benchmarks.md and the setup plots from bench/out/results.json.

Every figure is a median over the runs; every ratio is taken within one
run (vigil's figure over the other tool's figure in the same run) and the
median of those ratios is shown, since the machine is shared and noisy.
"""
import os
import re
import shutil
import statistics
import subprocess

import tools as T

DOC = os.path.join(T.REPO, "docs", "benchmarks.md")
PLOT_TIME = os.path.join(T.REPO, "docs", "bench-setup-time.png")
PLOT_RSS = os.path.join(T.REPO, "docs", "bench-setup-rss.png")
ORDER = ["vigil", "vigil-json", "inotifywait", "watchdog", "fswatch", "watchman", "parcel", "chokidar", "floor"]
KEEP_HEADING = "## Changes and their effect"
# Written from bench/python_storm.py's output, which bench/run does not run.
PYTHON_HEADING = "## Python binding"


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def ratio(a, b):
    """Median over runs of a[i] / b[i]."""
    rs = [x / y for x, y in zip(a, b) if x is not None and y]
    return statistics.median(rs) if rs else None


def f_s(x, digits=3):
    return "–" if x is None else f"{x:.{digits}f}"


def f_ms(x):
    if x is None:
        return "–"
    ms = x * 1e3
    return f"{ms:.3f}" if ms < 10 else f"{ms:.1f}" if ms < 100 else f"{ms:.0f}"


def f_x(x):
    if x is None:
        return "–"
    if x != 1 and 0.995 <= x < 1.005:
        return f"{x:.3f}×"
    return f"{x:.2f}×"


def f_pct(x):
    if x is None:
        return "–"
    if x == 0:
        return "0%"
    if x >= 1:
        return "100%"
    return f"{x * 100:.1f}%" if x >= 0.001 else f"{x * 100:.2f}%"


def f_mb(kb):
    return "–" if kb is None else f"{kb / 1024:.1f}"


def f_int(x):
    return "–" if x is None else f"{x:,.0f}"


def order(names):
    return sorted(names, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


class Report:
    def __init__(self, res):
        self.res = res
        info = res.get("info", {})
        self.info = info
        self.labels = info.get("labels", {})
        self.targets = []  # (measure, target, result, met)

    def label(self, name):
        return self.labels.get(name, name)

    def when(self, r):
        return (f"*Measured {r.get('when', '?')}, {r.get('runs', '?')} run(s)"
                f"{', --large' if r.get('large') else ''}.*\n")

    def target(self, measure, goal, value, met):
        if isinstance(met, str):
            status = met
        else:
            status = "met" if met else ("missed" if met is not None else "not measured")
        self.targets.append((measure, goal, value, status))

    # ------------------------------------------------------------ header

    def header(self):
        info = self.info
        m = info.get("machine", {})
        c = info.get("config", {})
        s = ["# Benchmarks\n",
             "vigil against the watchers people use instead, measured side by side in one run by "
             "`bench/run`. Every figure is the median of the runs; every ratio (×) is taken within a "
             "run (vigil's figure over the other tool's, in the same run) and the median of those is "
             "shown, because the machine is shared and noisy. The tables below are generated: edit "
             "`bench/report.py`, not this file, except for the section "
             "[Changes and their effect](#changes-and-their-effect).\n",
             "## Running it\n",
             "```sh\nbench/run                    # the default run: 15-20 minutes on 2 cores\n"
             "bench/run --large            # trees up to 200,000 directories and 1,000,000 files\n"
             "bench/run --runs 5 --only setup,latency   # some workloads, more runs\n"
             "bench/run --report-only      # rewrite this page from bench/out/results.json\n```\n",
             "It must run as root: it installs what is missing (Debian's inotify-tools, python3-watchdog, "
             "fswatch, watchman, gnuplot-nox; @parcel/watcher and chokidar from npm into `bench/out/npm`), "
             "mounts a tmpfs on `bench/out/tmpfs` for the trees (unmounted at the end) and raises "
             "`fs.inotify.max_user_watches` for the run if it is too low. It builds vigil in Release "
             "mode into `build-bench/` and the helpers into `bench/out/bin`. An anchor that cannot be "
             "installed is listed as missing; the run goes on without it. Raw results stay in "
             "`bench/out/results.json`, the log in `bench/out/log.txt`.\n",
             f"Last run: {info.get('when', '?')}, `{info.get('command', 'bench/run').strip()}`, "
             f"{c.get('runs', '?')} run(s) of each measurement. A section measured by an earlier run "
             "says so.\n",
             "## Machine\n",
             table(["", ""], [
                 ["CPU", m.get("cpu", "?")],
                 ["cores", m.get("cores", "?")],
                 ["RAM", m.get("ram", "?")],
                 ["kernel", m.get("kernel", "?")],
                 ["Debian", m.get("debian", "?")],
                 ["load average at start", m.get("load", "?")],
                 ["disk file system (disk storm)", m.get("disk_fs", "?")],
                 ["fs.inotify.max_queued_events", m.get("max_queued_events", "?")],
                 ["compiler", m.get("compiler", "?")],
                 ["node", m.get("node", "?")],
                 ["python (Debian's, for watchdog)", m.get("python", "?")],
             ]),
             "## Tools\n"]
        rows = []
        notes = info.get("notes", {})
        versions = info.get("versions", {})
        for n in order(list(notes)):
            rows.append([self.label(n), versions.get(n, "") or "–", notes.get(n, "")])
        for n, why in info.get("missing", {}).items():
            rows.append([self.label(n), "**missing**", why])
        s.append(table(["tool", "version", "how it is run"], rows))
        s.append(
            "Readiness comes from each tool's own signal: vigil's `vigil: ready` line, inotifywait's "
            "`Watches established.`, the wrappers' `ready` line (printed once watchdog's `schedule()` "
            "and `start()`, @parcel/watcher's `subscribe()` or chokidar's `ready` event are done), the "
            "answer to watchman's subscription. fswatch has none: a new canary file is created in the "
            "root every 10 ms until fswatch reports one.\n\n"
            "**RSS** is VmRSS from `/proc/PID/status` 0.25 s after ready, summed over every process "
            "of the tool's session (the wrapper's interpreter; for watchman the daemon, the shell "
            "wrapper and the client); **peak** is VmHWM summed the same way. **CPU** is on-CPU time "
            "of every thread of those processes: utime+stime from `/proc/PID/stat`, or the sum of the "
            "threads' `/proc/PID/task/TID/schedstat` runtimes where that is larger (it has nanosecond "
            "rather than 10 ms resolution). Wrappers' interpreters (Python, node, sh) are part of "
            "what they cost.\n")
        return "\n".join(s)

    # ------------------------------------------------------------ setup

    def setup(self):
        r = self.res.get("setup")
        if not r:
            return ""
        rows_by = r["rows"]
        s = ["## 1. Setup\n", self.when(r),
             f"Trees of {', '.join(f'{n:,}' for n in r['sizes'])} directories with {r['files_per_dir']} "
             "files each, on tmpfs. Time from launch to ready, RSS after ready and CPU time until ready. "
             "The floor is `bench/floor.c`: a getdents64 walk that places the watches and does nothing "
             "else; *walk only* is the same walk without watches.\n",
             "![setup time](bench-setup-time.png) ![RSS after ready](bench-setup-rss.png)\n"]
        for size in r["sizes"]:
            k = str(size)
            iw = rows_by.get("inotifywait", {}).get(k, {}).get("ready", [])
            fl = rows_by.get("floor", {}).get(k, {}).get("ready", [])
            rows = []
            for n in order(list(rows_by)):
                row = rows_by[n].get(k)
                if not row:
                    continue
                if row.get("skipped"):
                    rows.append([self.label(n), "skipped: " + row["skipped"], "", "", "", "", ""])
                    continue
                rows.append([self.label(n), f_s(med(row["ready"])), f_x(ratio(row["ready"], iw)),
                             f_x(ratio(row["ready"], fl)), f_mb(med(row["rss_kb"])),
                             f_mb(med(row["hwm_kb"])), f_s(med(row["cpu"]))])
            walk = r.get("walk", {}).get(k)
            if walk:
                rows.append(["walk only (no watches)", f_s(med(walk)), f_x(ratio(walk, iw)),
                             f_x(ratio(walk, fl)), "", "", ""])
            s.append(f"### {size:,} directories, {size * r['files_per_dir']:,} files\n")
            s.append(table(["tool", "ready (s)", "× inotifywait", "× floor", "RSS (MB)", "peak RSS (MB)",
                            "CPU (s)"], rows))
        self.plots(r)
        v = rows_by.get("vigil", {})
        iwr = rows_by.get("inotifywait", {})
        flr = rows_by.get("floor", {})
        for size in r["sizes"]:
            k = str(size)
            if k not in v:
                continue
            a = ratio(v[k]["ready"], iwr.get(k, {}).get("ready", []))
            b = ratio(v[k]["ready"], flr.get(k, {}).get("ready", []))
            met = None if a is None or b is None else (a <= 0.6 and b <= 1.3)
            self.target(f"Setup time, {size:,} dirs", "≤ 0.6× inotifywait, ≤ 1.3× floor",
                        f"{f_x(a)} inotifywait, {f_x(b)} floor", met)
        for size in r["sizes"]:
            k = str(size)
            if k not in v:
                continue
            a = ratio(v[k]["rss_kb"], iwr.get(k, {}).get("rss_kb", []))
            self.target(f"RSS after ready, {size:,} dirs", "≤ inotifywait's",
                        f"{f_mb(med(v[k]['rss_kb']))} MB vs {f_mb(med(iwr.get(k, {}).get('rss_kb', [])))} MB "
                        f"({f_x(a)})", None if a is None else a <= 1.0)
        sizes = [x for x in r["sizes"] if str(x) in v and med(v[str(x)]["ready"])]
        if len(sizes) >= 2:
            lo, hi = sizes[-2], sizes[-1]
            tl = med(v[str(lo)]["ready"]) / lo
            th = med(v[str(hi)]["ready"]) / hi
            ml = med(v[str(lo)]["rss_kb"]) / lo
            mh = med(v[str(hi)]["rss_kb"]) / hi
            g_t, g_m = th / tl, mh / ml
            self.target(f"Linear growth, {lo:,} → {hi:,} dirs",
                        "cost per directory grows ≤ 1.5×",
                        f"time per dir {tl * 1e6:.1f} → {th * 1e6:.1f} µs ({g_t:.2f}×); "
                        f"RSS per dir {ml:.2f} → {mh:.2f} KB ({g_m:.2f}×)", g_t <= 1.5 and g_m <= 1.5)
        return "\n".join(s)

    def plots(self, r):
        if not shutil.which("gnuplot"):
            return
        d = os.path.join(T.OUT, "plot")
        os.makedirs(d, exist_ok=True)
        series = []
        for n in order(list(r["rows"])):
            pts = []
            for size in r["sizes"]:
                row = r["rows"][n].get(str(size))
                if row and med(row["ready"]) is not None:
                    pts.append((size, med(row["ready"]), med(row["rss_kb"]) / 1024))
            if pts:
                path = os.path.join(d, f"{n}.dat")
                with open(path, "w") as f:
                    for p in pts:
                        f.write(f"{p[0]} {p[1]} {p[2]}\n")
                series.append((n, path))
        if not series:
            return

        def script(out, col, ylabel, title):
            plots = ", ".join(f"'{p}' using 1:{col} with linespoints lw 2 pt 7 title '{self.label(n)}'"
                              for n, p in series)
            lo, hi = r["sizes"][0] / 1.5, r["sizes"][-1] * 1.5
            return (f"set terminal pngcairo noenhanced size 900,600 font 'sans,11'\nset output '{out}'\n"
                    f"set title '{title}'\nset logscale xy\nset grid\nset key top left\n"
                    f"set xrange [{lo}:{hi}]\nset format x '%.0f'\nset xtics ({', '.join(str(x) for x in r['sizes'])})\n"
                    f"set xlabel 'directories in the tree (5 files each)'\nset ylabel '{ylabel}'\n"
                    f"plot {plots}\n")

        for out, col, yl, title in ((PLOT_TIME, 2, "seconds from launch to ready", "Setup time"),
                                    (PLOT_RSS, 3, "RSS after ready (MB)", "Memory after ready")):
            subprocess.run(["gnuplot"], input=script(out, col, yl, title), text=True, check=False)

    # ------------------------------------------------------------ storm

    def storm(self):
        r = self.res.get("storm")
        if not r:
            return ""
        s = ["## 2. Storm\n", self.when(r)]
        for variant in ("tmpfs", "disk"):
            v = r.get(variant)
            if not v:
                continue
            s.append(f"### On {variant}\n")
            s.append(f"A tree of {v['dirs']:,} directories × {v['files_per_dir']} files; then, as fast as one "
                     f"C thread can (`bench/gen.c`), {v['files']:,} new files spread over the tree, each "
                     f"written with 6 bytes, and interleaved with them {v['subdirs']} new directories "
                     f"each filled with {v['subdir_files']} files right after its `mkdir`. The end is a "
                     "sentinel file, then 1 s without output. *Seen* is the share of created paths that "
                     "the tool named in any event; *events* counts its lines (for watchman, the file entries "
                     "in its answers). CPU is the tool's from the start of the storm to the "
                     "end of the quiet second; per path is CPU over the paths created. *Caught up* is the "
                     "time from the writer's end until the tool reported a sentinel file (a new one is "
                     "made every 50 ms, since one made while the kernel's queue is full is lost).\n")
            rows = []
            iw = [o.get("cpu") for o in v["rows"].get("inotifywait", [])]
            iw_paths = [o.get("created") for o in v["rows"].get("inotifywait", [])]
            for n in order(list(v["rows"])):
                runs = [o for o in v["rows"][n] if "error" not in o and not o.get("skipped")]
                if not runs:
                    why = "skipped (tree over --chokidar-max-dirs)" if any(o.get("skipped") for o in v["rows"][n]) \
                        else "failed: " + "; ".join(o.get("error", "") for o in v["rows"][n])[:80]
                    rows.append([self.label(n), why] + [""] * 9)
                    continue
                cpu = [o.get("cpu") if "error" not in o and not o.get("skipped") else None for o in v["rows"][n]]
                per = [o["cpu"] / o["created"] * 1e6 for o in runs]
                rows.append([
                    self.label(n), f_pct(med([o["seen_all"] for o in runs])),
                    f_pct(med([o["seen_files"] for o in runs])),
                    f_pct(med([o["seen_subdirs"] for o in runs])),
                    f_pct(med([o["seen_subfiles"] for o in runs])),
                    f_int(med([o["events"] for o in runs])),
                    f"{sum(1 for o in runs if o['overflow'])}/{len(runs)}",
                    f_s(med(cpu)), f"{med(per):.1f}", f_x(ratio(cpu, iw)),
                    f_s(med([o.get("sentinel_s") for o in runs]), 2),
                ])
            s.append(table(["tool", "seen", "new files", "new dirs", "files in new dirs", "events",
                            "overflow reported", "CPU (s)", "CPU µs per path", "CPU × inotifywait",
                            "caught up (s)"], rows))
            vg = [o for o in v["rows"].get("vigil", []) if "error" not in o]
            if vg:
                low = min(o["seen_all"] for o in vg)
                self.target(f"Storm on {variant}: created paths reported", "100%",
                            f"{f_pct(low)} (lowest of {len(vg)} runs)", low >= 1.0)
                cpu = [o.get("cpu") for o in v["rows"]["vigil"]]
                a = ratio(cpu, iw)
                self.target(f"CPU per event, storm on {variant}", "≤ inotifywait's",
                            f"{f_x(a)} inotifywait's CPU for the same storm", None if a is None else a <= 1.0)
                missed = [p for o in vg for p in o.get("missed_sample", [])]
                if missed:
                    s.append(f"vigil missed, for example: `{'`, `'.join(missed[:5])}` "
                             "(full lists in `bench/out/logs/*.missed`).\n")
            _ = iw_paths
        return "\n".join(s)

    # ------------------------------------------------------------ overflow

    def overflow(self):
        v = self.res.get("overflow")
        if not v:
            return ""
        s = ["## 3. Overflow\n", self.when(v),
             f"A tree of {v['dirs']:,} directories × {v['files_per_dir']} files. The tool is stopped "
             f"with SIGSTOP (its whole session), {v['files']:,} files are created across the tree "
             "(far more than the kernel's queue of `max_queued_events` holds), then SIGCONT. From then "
             "on a new sentinel file is created every 10 ms until the tool reports one: *recovery* is "
             "the time from SIGCONT to that report. *Unchanged files reported* counts files of the "
             "original tree, none of which changed, that the tool named anyway (a rescan that reports "
             "`modified` for them, say). One second before the SIGSTOP, 100 files of the tree were "
             "appended to (and reported); *reported again* counts those named again after the loss, "
             "although they did not change again.\n"]
        rows = []
        for n in order(list(v["rows"])):
            runs = [o for o in v["rows"][n] if "error" not in o and not o.get("skipped")]
            if not runs:
                why = "skipped (tree over --chokidar-max-dirs)" if any(o.get("skipped") for o in v["rows"][n]) \
                    else "failed"
                rows.append([self.label(n), why, "", "", "", "", ""])
                continue
            rec = [o.get("recover_s") for o in runs]
            rows.append([self.label(n), f_pct(med([o["seen_all"] for o in runs])),
                         f"{sum(1 for o in runs if o['overflow'])}/{len(runs)}",
                         "never" if med(rec) is None else f_s(med(rec)),
                         f_int(med([o["unchanged_reported"] for o in runs])),
                         f"{f_int(med([o.get('touched_reported') for o in runs]))} of "
                         f"{f_int(med([o.get('touched') for o in runs]))}",
                         f_int(med([o["events"] for o in runs]))])
        s.append(table(["tool", "created paths seen", "overflow reported", "recovery (s)",
                        "unchanged files reported", "reported again", "events"], rows))
        vg = [o for o in v["rows"].get("vigil", []) if "error" not in o]
        if vg:
            low = min(o["seen_all"] for o in vg)
            self.target("Overflow: created paths reported", "100%, overflow reported",
                        f"{f_pct(low)} (lowest of {len(vg)} runs), overflow reported in "
                        f"{sum(1 for o in vg if o['overflow'])}/{len(vg)}",
                        low >= 1.0 and all(o["overflow"] for o in vg))
        return "\n".join(s)

    # ------------------------------------------------------------ latency

    def latency(self):
        v = self.res.get("latency")
        if not v:
            return ""
        s = ["## 4. Latency\n", self.when(v),
             f"A tree of {v['dirs']:,} directories on tmpfs; {v['writes']} times, every "
             f"{v['interval_ms']} ms, a new file is created and written with 2 bytes. The benchmark "
             "process both writes and reads the tool's stdout, and takes CLOCK_MONOTONIC before the "
             "`open` and when the first line naming the file has been read. The floor's figure is the "
             "cost of the kernel and of this measurement itself. p99 and max are at the mercy of the "
             "machine's scheduling (5 of 500 samples make the p99): read them against the floor's.\n"]
        iw = [o.get("p50") for o in v["rows"].get("inotifywait", [])]
        fl = [o.get("p50") for o in v["rows"].get("floor", [])]
        rows = []
        for n in order(list(v["rows"])):
            runs = v["rows"][n]
            p50 = [o.get("p50") for o in runs]
            rows.append([self.label(n), f_ms(med(p50)), f_ms(med([o.get("p99") for o in runs])),
                         f_ms(med([o.get("max") for o in runs])),
                         f_int(med([o.get("lost") for o in runs])), f_x(ratio(p50, iw)), f_x(ratio(p50, fl))])
        s.append(table(["tool", "p50 (ms)", "p99 (ms)", "max (ms)", "not reported", "p50 × inotifywait",
                        "p50 × floor"], rows))
        vg = v["rows"].get("vigil", [])
        if vg:
            a = ratio([o.get("p50") for o in vg], iw)
            p99 = med([o.get("p99") for o in vg])
            self.target("Latency p50", "≤ inotifywait's", f"{f_ms(med([o.get('p50') for o in vg]))} ms ({f_x(a)})",
                        None if a is None else a <= 1.0)
            fp99 = med([o.get("p99") for o in v["rows"].get("floor", [])])
            self.target("Latency p99", "≤ 1 ms", f"{f_ms(p99)} ms (the floor's p99 in the same runs: {f_ms(fp99)} ms)",
                        None if p99 is None else p99 <= 0.001)
        return "\n".join(s)

    # ------------------------------------------------------------ stop

    def stop(self):
        v = self.res.get("stop")
        if not v:
            return ""
        s = ["## 5. Stop\n", self.when(v),
             f"Time from SIGINT to the exit of the tool's process (seen through a pidfd), on a tree of "
             f"{v['dirs']:,} directories: idle, and 0.1 s into a storm of {v['storm_files']:,} new "
             f"files. Median of {v['reps']} stops per run. For watchman the process is the wrapper, "
             "which asks the daemon to shut down and waits for it. The floor dies of SIGINT's default "
             "action, holding the same watches: its time is what the kernel takes to tear down an "
             "inotify instance (closing it waits for an SRCU grace period), which every tool pays.\n"]
        rows = []
        for n in order(list(v["rows"])):
            row = v["rows"][n]
            rows.append([self.label(n), f_ms(med(row["idle"])), f_ms(med(row["storm"]))])
        s.append(table(["tool", "idle (ms)", "in a storm (ms)"], rows))
        lib = v.get("lib", [])
        if lib:
            s.append(f"The library: `vigil_stop(v, 0)` on a started instance, 20 ms into a storm from a "
                     f"writer thread (create, write, close, unlink in a loop), "
                     f"{self.info.get('config', {}).get('lib_stop_iters', '?')} times per run "
                     "(`bench/libthroughput.c`).\n")
            s.append(table(["", "median (µs)", "max (µs)", "events dropped (then reported as overflow)"],
                           [["vigil_stop", f"{med([x['median_us'] for x in lib]):.1f}",
                             f"{med([x['max_us'] for x in lib]):.1f}",
                             f_int(med([x['dropped'] for x in lib]))]]))
        vg = v["rows"].get("vigil")
        fl = v["rows"].get("floor")
        if vg:
            idle, storm = med(vg["idle"]), med(vg["storm"])
            worst = max(x for x in (idle, storm) if x is not None) if idle is not None else None
            status = None if worst is None else worst <= 0.005
            text = f"idle {f_ms(idle)} ms, in a storm {f_ms(storm)} ms"
            if fl and worst is not None and worst > 0.005:
                above_idle = med([a - b for a, b in zip(vg["idle"], fl["idle"]) if a is not None and b is not None])
                above_storm = med([a - b for a, b in zip(vg["storm"], fl["storm"]) if a is not None and b is not None])
                def above(x):
                    return "–" if x is None else "none" if x <= 0 else f"{f_ms(x)} ms"
                text += (f"; above the floor's (the kernel's teardown, same run): idle {above(above_idle)}, "
                         f"in a storm {above(above_storm)}")
                if above_idle is not None and above_storm is not None and max(above_idle, above_storm) <= 0.005:
                    status = "met above the kernel's floor; missed in absolute time"
            self.target("Stop, CLI (SIGINT to exit)", "≤ 5 ms", text, status)
        if lib:
            m = med([x["median_us"] for x in lib])
            mx = med([x["max_us"] for x in lib])
            self.target("Stop, library (vigil_stop in a storm)", "≤ 5 ms",
                        f"median {m:.0f} µs, max {mx:.0f} µs", mx <= 5000)
        return "\n".join(s)

    # ------------------------------------------------------------ throughput

    def throughput(self):
        v = self.res.get("throughput")
        if not v:
            return ""
        s = ["## 6. Throughput\n", self.when(v),
             f"The CLI: {v['files']:,} new files (created, written, closed) in a tree of {v['dirs']} "
             "directories, as fast as one C thread can, with the tool's stdout read by the benchmark "
             "and counted. *Events per CPU-second* is the number of events printed over the CPU time "
             "the tool used for them: the rate it could sustain with a core to itself.\n"]
        rows = []

        def eps(o):
            return o["events"] / o["cpu"] if o.get("cpu") else None

        iw = [eps(o) if "error" not in o else None for o in v["rows"].get("inotifywait", [])]
        fl = [eps(o) if "error" not in o else None for o in v["rows"].get("floor", [])]
        for n in order(list(v["rows"])):
            runs = v["rows"][n]
            e = [eps(o) if "error" not in o else None for o in runs]
            ok = [o for o in runs if "error" not in o]
            rows.append([self.label(n), f_int(med([o["events"] for o in ok])),
                         f_s(med([o["cpu"] for o in ok])), f_int(med(e)), f_x(ratio(e, iw)), f_x(ratio(e, fl)),
                         f"{sum(1 for o in ok if o['overflow'])}/{len(ok)}"])
        s.append(table(["tool", "events", "CPU (s)", "events per CPU-second", "× inotifywait", "× floor",
                        "overflow"], rows))
        lib = v.get("lib", [])
        if lib:
            c = self.info.get("config", {})
            vr = [x["vigil_events"] / x["vigil_s"] for x in lib]
            rr = [x["raw_events"] / x["raw_s"] for x in lib]
            s.append(f"The library, in-process (`bench/libthroughput.c`): {c.get('lib_rounds', '?')} rounds of "
                     f"{c.get('lib_batch', '?'):,} files created (IN_CREATE, IN_CLOSE_WRITE) and then deleted "
                     "while nothing reads, each batch then drained with `vigil_read` and timed; the floor "
                     "drains the same batches from a bare inotify descriptor and only walks the records.\n")
            s.append(table(["", "events per second", "× raw inotify"],
                           [["vigil_read", f_int(med(vr)), f_x(ratio(vr, rr))],
                            ["raw inotify read", f_int(med(rr)), "1.00×"]]))
        bt = v.get("batch", [])
        if bt:
            s.append("Batching in a storm (`vigil_options.batch_us`, see docs/architecture.md), in-process "
                     "(`libthroughput batch`): a thread blocks in `vigil_read`, while the main thread creates "
                     "files (create, write 6 bytes, close) in one directory, as fast as it can or with a pause "
                     "after each; *CPU* is the reading thread's, user and kernel, per file. Batching at its "
                     "default (250 µs) against batching off, in the same run.\n")
            rows = []
            for pace in sorted({o["pace_us"] for o in bt}):
                on = [o for o in bt if o["pace_us"] == pace and o["batch_us"] == 0]
                off = [o for o in bt if o["pace_us"] == pace and o["batch_us"] == -1]
                runs = sorted({o["run"] for o in on} & {o["run"] for o in off})
                pon = [next(o["cpu_us"] / o["files"] for o in on if o["run"] == r) for r in runs]
                poff = [next(o["cpu_us"] / o["files"] for o in off if o["run"] == r) for r in runs]
                files = on[0]["files"] if on else "?"
                lost = sum(o["files"] - o["created"] for o in on + off)
                rows.append([("as fast as it can" if pace == 0 else f"{pace} µs after each file"),
                             f_int(files), f"{med(pon):.2f}", f"{med(poff):.2f}", f_x(ratio(pon, poff)),
                             f_int(lost)])
            s.append(table(["writer", "files", "CPU µs per file, batching on", "batching off", "on × off",
                            "created files not reported"], rows))
        return "\n".join(s)

    # ------------------------------------------------------------ polling

    def poll(self):
        v = self.res.get("poll")
        if not v:
            return ""
        main, large = v["rows"].get("main", {}), v["rows"].get("large", {})
        s = ["## 7. Polling\n", self.when(v),
             f"`vigil watch --backend poll` and watchdog's `PollingObserver` on the same tree of "
             f"{main.get('dirs', 0):,} directories and {main.get('files', 0):,} files on tmpfs, side by "
             "side, each at its default interval (one second), with the floor: a C loop that lists "
             "every directory (getdents64, each opened relative to its parent) and fstatat's every "
             "entry that is not a directory, keeping nothing (`bench/pollfloor.c`), which is what any "
             "poller must do to see every change of a file's size, times or inode. A file at the top "
             "is changed 50 ms after the last change was reported, so each change is found by the "
             "next pass: the CPU time and the time from one event to the next are the CPU of one "
             "pass and the period the watcher polls at. Then the same change is made at a random "
             "moment within a second of the last event: the time until its event is what a user "
             "waits. RSS is read at the end. Medians of "
             f"{self.info.get('config', {}).get('poll_cycles', '?')} passes and "
             f"{self.info.get('config', {}).get('poll_latency_cycles', '?')} changes per run.\n"]
        rows = []
        for n in ("vigil-poll", "watchdog-polling", "pollfloor"):
            row = main.get(n)
            if not row:
                continue
            cpu = med([o.get("cpu_ms") for o in row])
            rows.append([self.label(n), f"{cpu:.1f}" if cpu is not None else "–",
                         f_x(ratio([o.get("cpu_ms") for o in row],
                                   [o.get("cpu_ms") for o in main.get("pollfloor", [])])),
                         f_s(med([o.get("period_s") for o in row])) if n != "pollfloor" else "–",
                         f_s(med([o.get("latency_s") for o in row])) if n != "pollfloor" else "–",
                         f_mb(med([o.get("rss_kb") for o in row])) if n != "pollfloor" else "–"])
        ino = main.get("vigil-inotify")
        if ino:
            rows.append(["vigil (inotify), for its memory", "–", "–", "–", "–",
                         f_mb(med([o.get("rss_kb") for o in ino]))])
        s.append(table(["", "CPU per pass (ms)", "× the floor", "period (s)", "change to event (s)",
                        "RSS (MB)"], rows))
        kern = med([o.get("kernel_calc_kb") for o in ino or []])
        vp_rss = med([o.get("rss_kb") for o in main.get("vigil-poll", [])])
        if kern is not None and vp_rss is not None:
            ino_rss = med([o.get("rss_kb") for o in ino])
            seen = med([o.get("kernel_kb") for o in ino])
            marks = med([o.get("marks") for o in ino])
            s.append("Memory on this tree: vigil's RSS, and for inotify also the kernel's objects "
                     "for its watches: one `inotify_inode_mark` and one `fsnotify_mark_connector` "
                     f"per watched directory ({main.get('dirs', 0) + 1:,}), at their slab object sizes. "
                     "Read from the slab caches before vigil starts and once it is ready, they grew by "
                     f"{f_mb(seen)} MB ({marks:,.0f} marks): the kernel merges these caches with "
                     "others of the same size, whose allocations and frees in between count too. Polling "
                     "holds nothing in the kernel.\n")
            s.append(table(["", "vigil's RSS (MB)", "kernel (MB)", "total (MB)"],
                           [[self.label("vigil-poll"), f_mb(vp_rss), "0", f_mb(vp_rss)],
                            ["vigil (inotify)", f_mb(ino_rss), f_mb(kern), f_mb(ino_rss + kern)]]))
        share = med([o["cpu_ms"] / 1e3 / o["period_s"] for o in main.get("vigil-poll", [])
                     if o.get("cpu_ms") and o.get("period_s")])
        if share is not None:
            s.append(f"vigil's share of one core while polling (CPU per pass over the period): "
                     f"{f_pct(share)}.\n")
        if large:
            lr = large.get("vigil-poll", [])
            s.append(f"A tree ten times as large, {large['dirs']:,} directories and "
                     f"{large['files']:,} files: one pass of vigil, and of the floor. The period "
                     "is longer than a second because a pass may take at most a tenth of one core: "
                     "the next waits nine times the CPU time the last one took.\n")
            s.append(table(["", "CPU per pass (ms)", "× the floor", "period (s)", "change to event (s)",
                            "RSS (MB)"],
                           [[self.label("vigil-poll"), f"{med([o.get('cpu_ms') for o in lr]):.0f}",
                             f_x(ratio([o.get("cpu_ms") for o in lr],
                                       [o.get("cpu_ms") for o in large.get("pollfloor", [])])),
                             f_s(med([o.get("period_s") for o in lr])),
                             f_s(med([o.get("latency_s") for o in lr])),
                             f_mb(med([o.get("rss_kb") for o in lr]))],
                            [self.label("pollfloor"),
                             f"{med([o.get('cpu_ms') for o in large.get('pollfloor', [])]):.0f}",
                             "1.00×", "–", "–", "–"]]))
            share = med([o["cpu_ms"] / 1e3 / o["period_s"] for o in lr
                         if o.get("cpu_ms") and o.get("period_s")])
            if share is not None:
                s.append(f"vigil's share of one core while polling: {f_pct(share)} (at most a tenth, "
                         "by design).\n")
        vp, wd, fl = main.get("vigil-poll"), main.get("watchdog-polling"), main.get("pollfloor")
        if vp and wd:
            r = ratio([o.get("cpu_ms") for o in wd], [o.get("cpu_ms") for o in vp])
            text = f_x(r)
            if fl:
                wf = ratio([o.get("cpu_ms") for o in wd], [o.get("cpu_ms") for o in fl])
                text += f" (watchdog's own pass is {f_x(wf)} the floor's here)"
            self.target("Polling: CPU per pass, watchdog PollingObserver ÷ vigil", "≥ 10×", text,
                        None if r is None else r >= 10)
        if vp and fl:
            r = ratio([o.get("cpu_ms") for o in vp], [o.get("cpu_ms") for o in fl])
            self.target("Polling: CPU per pass, vigil ÷ list-and-stat floor", "≤ 1.3×", f_x(r),
                        None if r is None else r <= 1.3)
        if vp and ino:
            a, b = med([o.get("rss_kb") for o in vp]), med([o.get("rss_kb") for o in ino])
            if kern is not None:
                self.target("Polling: memory, vigil poll vs vigil inotify (RSS + the kernel's watches)",
                            "no more", f"{f_mb(a)} MB vs {f_mb(b + kern)} MB",
                            None if a is None or b is None else a <= b + kern)
            else:
                self.target("Polling: RSS, vigil poll vs vigil inotify", "no more",
                            f"{f_mb(a)} MB vs {f_mb(b)} MB", None if a is None or b is None else a <= b)
        return "\n".join(s)

    # ------------------------------------------------------------ all

    def write(self):
        body = [self.header(), self.setup(), self.storm(), self.overflow(), self.latency(), self.stop(),
                self.throughput(), self.poll()]
        t = ["## Targets\n", "The targets of the benchmark's issue, checked against this run.\n",
             table(["measure", "target", "this run", "status"], [list(x) for x in self.targets])]
        keep = (f"{KEEP_HEADING}\n\nFilled in by hand: each change to vigil made for performance, and "
                "what it did to the figures above.\n\n- (none yet)\n")
        python = ""
        if os.path.exists(DOC):
            with open(DOC) as f:
                old = f.read()
            m = re.search(r"^" + re.escape(KEEP_HEADING) + r"\n.*?(?=^## |\Z)", old, re.S | re.M)
            if m:
                keep = m.group(0).rstrip() + "\n"
            m = re.search(r"^" + re.escape(PYTHON_HEADING) + r"\n.*?(?=^## |\Z)", old, re.S | re.M)
            if m:
                python = m.group(0).rstrip() + "\n\n"
        text = "\n".join(x for x in body if x) + "\n" + python + "\n".join(t) + "\n" + keep
        with open(DOC, "w") as f:
            f.write(text)


def write(results):
    Report(results).write()


def section(results, name):
    """One section's text, and its rows of the targets table, for a
    workload run on its own (bench/run --only NAME --no-report)."""
    r = Report(results)
    text = getattr(r, name)()
    rows = table(["measure", "target", "this run", "status"], [list(x) for x in r.targets])
    return text + "\n" + rows


if __name__ == "__main__":
    import json
    import sys
    with open(os.path.join(T.OUT, "results.json")) as f:
        print(section(json.load(f), sys.argv[1]))
