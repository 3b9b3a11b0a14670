#!/usr/bin/env bash
# peers.sh: luaws beside plain gorilla and Bun (uWebSockets), one load
# generator (luaws bench) for all three, on loopback, and the table of
# docs/performance.md's "Peers" section. Run it from the repository root:
#
#   scripts/peers.sh            # fetches Bun with npm when it can
#   BUN=/path/to/bun scripts/peers.sh
#
# Each server runs alone, fresh for each row: luaws (examples/echo/echo.lua,
# or scripts/bench_broadcast.lua with the JSON serializer), the gorilla
# baseline (cmd/luaws/cli/loadgen/baseline) and scripts/bun_peer.js. The
# server's CPU and memory come from /proc (luaws bench --server-pid).
# Without npm or network for Bun, its column says "-".
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
DURATION=${DURATION:-5s}

go build -o "$work/luaws" "$root/cmd/luaws"
go build -o "$work/baseline" "$root/cmd/luaws/cli/loadgen/baseline"
bun=${BUN:-}
if [[ -z $bun ]] && command -v npm >/dev/null; then
	if (cd "$work" && npm pack --silent @oven/bun-linux-x64@1.4.4 >/dev/null 2>&1 && tar xzf oven-bun-linux-x64-1.4.4.tgz); then
		bun=$work/package/bin/bun
	fi
fi

# start SERVER: starts one server (luaws-echo, luaws-broadcast,
# gorilla-echo, gorilla-broadcast, bun) and sets url and pid.
start() {
	local log=$work/server.log
	case $1 in
	luaws-echo) "$work/luaws" serve --no-watch --log-level warn --listen 127.0.0.1:0 "$root/examples/echo/echo.lua" >"$log" 2>&1 & ;;
	luaws-broadcast) "$work/luaws" serve --no-watch --log-level warn --listen 127.0.0.1:0 --serializer json "$root/scripts/bench_broadcast.lua" >"$log" 2>&1 & ;;
	gorilla-echo) "$work/baseline" --mode echo >"$log" 2>&1 & ;;
	gorilla-broadcast) "$work/baseline" --mode broadcast >"$log" 2>&1 & ;;
	bun) "$bun" "$root/scripts/bun_peer.js" >"$log" 2>&1 & ;;
	esac
	pid=$!
	for _ in $(seq 100); do
		url=$(grep -o 'ws://[^ ]*' "$log" || true)
		[[ -n $url ]] && return
		sleep 0.1
	done
	echo "peers: $1 did not start: $(cat "$log")" >&2
	exit 1
}

# measure SERVER FIELD BENCH-FLAGS...: one fresh server, one luaws bench
# run, one figure printed (FIELD picks it from bench's JSON).
measure() {
	local server=$1 field=$2
	shift 2
	if [[ $server == bun && -z $bun ]]; then
		echo "-"
		return
	fi
	start "$server"
	"$work/luaws" bench --json --server-pid "$pid" "$@" "$url" >"$work/result.json" || true
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	python3 - "$field" "$work/result.json" <<'EOF'
import json, sys
field, path = sys.argv[1], sys.argv[2]
r = json.load(open(path))
s = r.get("server") or {}
if r.get("errors"):
    print("errors: %d" % r["errors"]); sys.exit()
if field == "cpu_us":       # server CPU per message (or per delivery)
    print("%.2f" % (s["cpu_seconds"] * 1e6 / max(r["messages"], 1)))
elif field == "kib":        # RSS per connection
    print("%.2f" % (s["rss_per_conn_bytes"] / 1024))
elif field == "rate":       # messages (handshakes, deliveries) per second
    print("%.0f" % r["messages_per_second"])
EOF
}

ratio() { python3 -c 'import sys; a,b=sys.argv[1:]; print("%.2f" % (float(a)/float(b)) if a.replace(".","").isdigit() and b.replace(".","").isdigit() else "-")' "$1" "$2"; }

row() {
	local name=$1 kind=$2 field=$3
	shift 3
	local g l b
	g=$(measure "gorilla-$kind" "$field" "$@")
	l=$(measure "luaws-$kind" "$field" "$@")
	b=$(measure bun "$field" "$@")
	echo "| $name | $g | $l | $b | $(ratio "$l" "$g") | $(ratio "$l" "$b") |"
}

echo "luaws peers, $(date -u +%Y-%m-%d), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), Bun ${bun:+$("$bun" --version)}"
echo
echo "| | plain gorilla | luaws | Bun (uWS) | luaws / gorilla | luaws / Bun |"
echo "|---|---|---|---|---|---|"
row "echo, 50 connections, 1 in flight: server CPU per 64-byte message (µs)" echo cpu_us --mode echo --conns 50 --inflight 1 --duration "$DURATION"
row "echo, 16 in flight each (µs)" echo cpu_us --mode echo --conns 50 --inflight 16 --duration "$DURATION"
row "idle connection at 5,000: RSS (KiB)" echo kib --mode idle --conns 5000 --duration "$DURATION"
row "handshakes per second while opening 5,000" echo rate --mode connect --conns 5000
row "broadcast burst, 1,000 subscribers × 200 messages: deliveries per second" broadcast rate --mode broadcast --conns 1000 --messages 200 --inflight 200
row "the same: server CPU per delivery (µs)" broadcast cpu_us --mode broadcast --conns 1000 --messages 200 --inflight 200
