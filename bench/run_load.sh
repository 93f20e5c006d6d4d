#!/bin/sh
# vigil run under load: drives a steady stream of changes at `vigil run`,
# at several rates and in both busy modes, and records vigil's own CPU use
# (utime + stime from /proc/PID/stat, so the command's CPU is not counted)
# and how long it takes to stop when SIGTERM arrives in the middle of the
# stream.
#
# Usage: bench/run_load.sh [VIGIL] [SECONDS] [RATES]
#   VIGIL    the binary (default build/vigil)
#   SECONDS  how long each rate is driven (default 5)
#   RATES    changes per second, space-separated (default "100 300 1000")
#
# Each change is a write to one of 50 files in the watched directory. The
# command appends to a file outside it and sleeps 0.2 s, so with `restart`
# a run is cut short by the next trigger and with `queue` runs follow one
# another. Columns: the mode, the rate asked for, the changes made (fewer
# than asked if the machine could not keep up), the runs started, vigil's
# CPU time, that as a share of one CPU, and the time from SIGTERM to
# vigil's exit (with the command stopped and reaped).
set -eu

cd "$(dirname "$0")/.."
vigil=${1:-build/vigil}
secs=${2:-5}
rates=${3:-"100 300 1000"}
[ -x "$vigil" ] || { echo "run_load.sh: $vigil is not executable; build first" >&2; exit 1; }
command -v python3 >/dev/null || { echo "run_load.sh: needs python3 for the writer" >&2; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/vigil-run-load.XXXXXX")
vpid=
cleanup() {
  [ -n "$vpid" ] && kill "$vpid" 2>/dev/null && wait "$vpid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

hz=$(getconf CLK_TCK)

# utime + stime of a process, in clock ticks.
cpu_ticks() {
  # The name field may hold spaces; the fields after it are fixed.
  sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

now_ms() {
  echo $(($(date +%s%N) / 1000000))
}

# Writes $2 changes a second for $3 seconds into $1; prints how many it made.
writer() {
  python3 - "$1" "$2" "$3" <<'EOF'
import os, sys, time
d, rate, secs = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
start = time.monotonic()
n = 0
while True:
    now = time.monotonic()
    if now - start >= secs:
        break
    due = start + n / rate
    if due > now:
        time.sleep(due - now)
    with open(os.path.join(d, "f%d" % (n % 50)), "w") as f:
        f.write(str(n))
    n += 1
print(n)
EOF
}

printf '%-8s %8s %8s %6s %10s %7s %9s\n' mode rate/s changes runs "vigil cpu" "cpu %" "stop ms"
for mode in restart queue; do
  for rate in $rates; do
    rm -rf "$dir/w" "$dir/runs" "$dir/err"
    mkdir "$dir/w"
    "$vigil" run --on-busy "$mode" -w "$dir/w" -- \
      sh -c 'echo x >> "$0"; sleep 0.2' "$dir/runs" 2>"$dir/err" &
    vpid=$!
    while ! grep -q ready "$dir/err" 2>/dev/null; do sleep 0.01; done
    before=$(cpu_ticks "$vpid")
    # The stream goes on for a second after the measurement ends, so that
    # SIGTERM arrives in the middle of it.
    writer "$dir/w" "$rate" "$((secs + 1))" >"$dir/made" &
    wpid=$!
    sleep "$secs"
    after=$(cpu_ticks "$vpid")
    made_by_now=$(python3 -c "print(int($rate * $secs))")
    t0=$(now_ms)
    kill -TERM "$vpid"
    wait "$vpid" || true
    t1=$(now_ms)
    vpid=
    wait "$wpid"
    runs=$(wc -l <"$dir/runs" 2>/dev/null || echo 0)
    made=$(cat "$dir/made")
    # Changes made during the measured seconds (the writer went on longer).
    [ "$made" -gt "$made_by_now" ] && made=$made_by_now
    ticks=$((after - before))
    awk -v m="$mode" -v r="$rate" -v c="$made" -v n="$runs" -v t="$ticks" \
        -v hz="$hz" -v s="$secs" -v stop="$((t1 - t0))" 'BEGIN {
      ms = t * 1000 / hz
      printf "%-8s %8d %8d %6d %8d ms %6.1f%% %9d\n", m, r, c, n, ms, ms / (s * 10), stop
    }'
  done
done
echo "($secs s per row; CPU is counted in ticks of $((1000 / hz)) ms)"
