#!/usr/bin/env bash
# PUT/s and latency at 32 clients for a primary alone, with an async standby,
# and with a sync standby: three runs of walship_bench's PUT phase (each with
# its own raw-SQLite baseline measured in the same run), each against a
# fresh standby on 127.0.0.1:${STANDBY_PORT:-17371}. Prints the bench lines
# and the standby's applied position and apply time.
#   tests/bench/replication.sh [BUILD_DIR]     (default: build)
set -euo pipefail
build=${1:-build}
port=${STANDBY_PORT:-17371}
walship=$build/walship
bench=$build/tests/walship_bench
run() {
  local name=$1 toml=$2 dir
  dir=$(mktemp -d /tmp/walship-repl-bench-XXXXXX)
  "$walship" serve --listen "127.0.0.1:$port" --data "$dir/standby" --role standby --log-level warn >"$dir/log" 2>&1 &
  local pid=$!
  sleep 1
  echo "=== $name"
  "$bench" --walship "$walship" --clients 32 --capture-rounds 0 --read-rounds 1 --seconds 5 --no-access-log \
    --node-toml "$toml" 2>&1 | grep -E "PUT|walship_bench" | grep -v "^  context" || true
  curl -s "http://127.0.0.1:$port/v1/status" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print("standby applied:", d["replication"]["applied_position"])'
  curl -s "http://127.0.0.1:$port/metrics" | grep -E "^walship_standby_apply_seconds_(sum|count)" || true
  kill "$pid"
  wait "$pid" || true
  rm -rf "$dir"
}
run "primary alone" ""
run "async standby" $'[replication]\nstandby = "http://127.0.0.1:'"$port"'"'
run "sync standby" $'[replication]\nstandby = "http://127.0.0.1:'"$port"'"\nmode = "sync"'
