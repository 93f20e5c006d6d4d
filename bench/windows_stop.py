#!/usr/bin/env python3
"""vigil_stop in a storm on the Windows backend, under wine, many times.

Runs test_library.exe's stop_in_a_storm_with_cancelioex and
stop_in_a_storm_without_cancelioex RUNS times each, each run a process of
its own, and prints for each the median and the largest time vigil_stop
took (the line "stop X ms" the test prints), how many runs took 2 s or
more (the test's bound) and how many failed, with the machine and wine's
version. docs/backends.md quotes it.

Usage: bench/windows_stop.py [BUILD] [RUNS]
  BUILD  the Windows build directory (default build-windows, as tests/run
         makes it); its wineprefix/ is used, as ctest does
  RUNS   runs of each test (default 50)
"""
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile

TESTS = ("stop_in_a_storm_with_cancelioex", "stop_in_a_storm_without_cancelioex")
BOUND_MS = 2000.0


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    wine = subprocess.run(["wine", "--version"], capture_output=True, text=True).stdout.strip()
    return "%s, %d CPUs, Linux %s, %s" % (cpu or platform.machine(), os.cpu_count() or 0,
                                           platform.release(), wine)


def one(exe, env, test):
    """The stop time of one run, in ms (None if it printed none), and whether it passed."""
    # A file, not a pipe: wine's own processes (services.exe, started with
    # the first program of a prefix) inherit the output and outlive the test.
    with tempfile.TemporaryFile(mode="w+") as out:
        rc = subprocess.run(["wine", exe, test], env=env, stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, timeout=120).returncode
        out.seek(0)
        m = re.search(r"^\s+stop ([\d.]+) ms", out.read(), re.M)
    return (float(m.group(1)) if m else None), rc == 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build-windows")
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    exe = os.path.join(build, "test_library.exe")
    if not os.path.exists(exe):
        print("windows_stop.py: no %s; build the Windows tests first (tests/run)" % exe,
              file=sys.stderr)
        return 1
    env = dict(os.environ, WINEPREFIX=os.path.join(build, "wineprefix"), WINEDEBUG="-all")
    print("machine: %s" % machine())
    failed_any = False
    for test in TESTS:
        times, failed = [], 0
        for _ in range(runs):
            ms, ok = one(exe, env, test)
            failed += not ok
            if ms is not None:
                times.append(ms)
        if not times:
            print("%s: no stop time printed in %d runs" % (test, runs))
            failed_any = True
            continue
        over = sum(t >= BOUND_MS for t in times)
        print("%s: %d runs (%d timed), stop median %.1f ms, max %.1f ms, %d at %.0f ms or more, "
              "%d failed" % (test, runs, len(times), statistics.median(times), max(times), over,
                             BOUND_MS, failed))
        failed_any |= failed > 0
    return 1 if failed_any else 0


if __name__ == "__main__":
    sys.exit(main())
