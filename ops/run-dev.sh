#!/usr/bin/env bash
# `make run`: starts a primary and its standby on 127.0.0.1 with default
# configs and data folders under the checkout, then prints both URLs and
# curl examples that work as printed. Ctrl-C drains and stops both.
set -euo pipefail
bin=$1 listen=$2 data=$3 standby_listen=$4 standby_data=$5
mkdir -p "$data" "$standby_data"
log="$data/walship.log"
standby_log="$standby_data/walship.log"
: >"$log"
: >"$standby_log"

# Waits until the node logging to $1 listens; prints its URL.
wait_for_url() {
  local log=$1 pid=$2 url=""
  for _ in $(seq 1 100); do
    url=$(grep -o 'url=http://[^ ]*' "$log" 2>/dev/null | tail -1 | cut -d= -f2 || true)
    [ -n "$url" ] && { echo "$url"; return 0; }
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

primary_url="http://$listen"
"$bin" serve --listen "$standby_listen" --data "$standby_data" --role standby --primary "$primary_url" \
  2> >(tee "$standby_log" >&2) &
standby_pid=$!
standby_url=$(wait_for_url "$standby_log" $standby_pid) || {
  echo "the standby did not start; see $standby_log" >&2; kill -TERM $standby_pid 2>/dev/null; exit 1; }
"$bin" serve --listen "$listen" --data "$data" --standby "$standby_url" 2> >(tee "$log" >&2) &
pid=$!
# Ctrl-C reaches both nodes directly (same process group) and starts their
# drains; a SIGTERM to this script is passed on. Either way, wait for both.
trap 'wait $pid $standby_pid' INT
trap 'kill -TERM $pid $standby_pid 2>/dev/null; wait $pid $standby_pid' TERM
url=$(wait_for_url "$log" $pid) || {
  echo "the primary did not start; see $log" >&2; kill -TERM $pid $standby_pid 2>/dev/null; exit 1; }
cat <<MSG

walship primary is listening on $url   (data folder: $data)
walship standby is listening on $standby_url   (data folder: $standby_data)
Ctrl-C stops both.

Try:
  curl -s -X PUT $url/v1/archives/notes/hello.md -H 'Content-Type: application/json' -d '{"content":"hello from walship","metadata":{"tags":["demo"]}}'
  curl -s "$standby_url/v1/archives/notes/hello.md?min_position=1/1"
  curl -s "$url/v1/search?q=hello"
  curl -s $standby_url/v1/status

MSG
wait $pid $standby_pid
