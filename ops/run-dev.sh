#!/usr/bin/env bash
# `make run`: starts a node on 127.0.0.1 with the default config and a data
# folder under the checkout, then prints its URL and curl examples that work
# as printed. Ctrl-C drains and stops the node.
set -euo pipefail
bin=$1 listen=$2 data=$3
mkdir -p "$data"
log="$data/walship.log"
"$bin" serve --listen "$listen" --data "$data" 2> >(tee "$log" >&2) &
pid=$!
# Ctrl-C reaches the node directly (same process group) and starts its drain;
# a SIGTERM to this script is passed on. Either way, wait for the drain.
trap 'wait $pid' INT
trap 'kill -TERM $pid 2>/dev/null; wait $pid' TERM
for _ in $(seq 1 100); do
  url=$(grep -o 'url=http://[^ ]*' "$log" 2>/dev/null | tail -1 | cut -d= -f2 || true)
  [ -n "$url" ] && break
  kill -0 $pid 2>/dev/null || { wait $pid; exit $?; }
  sleep 0.1
done
[ -n "$url" ] || { echo "walship did not start; see $log" >&2; kill -TERM $pid; exit 1; }
cat <<MSG

walship is listening on $url   (data folder: $data; Ctrl-C to stop)

Try:
  curl -s -X PUT $url/v1/archives/notes/hello.md -H 'Content-Type: application/json' -d '{"content":"hello from walship","metadata":{"tags":["demo"]}}'
  curl -s $url/v1/archives/notes/hello.md
  curl -s "$url/v1/search?q=hello"

MSG
wait $pid
