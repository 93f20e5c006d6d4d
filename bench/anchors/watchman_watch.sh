#!/bin/sh
# Watch a tree with watchman: a private daemon (its own socket, state and
# log in a temporary directory), `watchman watch`, then a subscription
# whose answers the watchman client prints as JSON, one line per answer.
# The subscription's first answer ({"subscribe":...}) is the ready signal.
#
# Best settings: settle 1 ms instead of 20 ms (the global config file, via
# WATCHMAN_CONFIG_FILE), and the client's output made line-buffered with
# stdbuf: without it, the client holds answers in its stdio buffer when
# writing to a pipe and they arrive seconds late.
#
# SIGINT or SIGTERM shuts the daemon down and removes the directory.
# The root must not contain a double quote or a backslash.
set -eu
root=$1
state=$(mktemp -d "${TMPDIR:-/tmp}/vigil-bench-watchman.XXXXXX")
sock=$state/sock
printf '{"settle": 1}\n' >"$state/config.json"
WATCHMAN_CONFIG_FILE=$state/config.json watchman --foreground --sockname="$sock" \
  --logfile="$state/log" --statefile="$state/state" --pidfile="$state/pid" \
  --no-save-state >/dev/null 2>&1 &
daemon=$!
client=
cleanup() {
  watchman --sockname="$sock" --no-spawn --no-local shutdown-server >/dev/null 2>&1 ||
    kill "$daemon" 2>/dev/null || true
  [ -n "$client" ] && kill "$client" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$state"
}
trap 'cleanup; exit 0' INT TERM
i=0
while [ ! -S "$sock" ]; do
  i=$((i + 1))
  if [ "$i" -gt 3000 ] || ! kill -0 "$daemon" 2>/dev/null; then
    echo "watchman_watch: the daemon did not start" >&2
    cleanup
    exit 1
  fi
  sleep 0.01
done
watchman --sockname="$sock" --no-spawn --no-local --no-pretty watch "$root" >/dev/null
printf '["subscribe", "%s", "bench", {"expression": ["true"], "fields": ["name", "exists", "new", "type"], "empty_on_fresh_instance": true}]\n' "$root" |
  stdbuf -oL watchman --sockname="$sock" --no-spawn --no-local --no-pretty \
    --server-encoding=json --output-encoding=json -j -p &
client=$!
wait "$client" || true
cleanup
