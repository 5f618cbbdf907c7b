#!/usr/bin/env bash
# bench/script.sh — EVALSHA and MULTI/EXEC throughput, darter (--threads 1
# and 2) vs Debian's redis-server in the same run, with redis-benchmark on
# 127.0.0.1. Each server is started on a free port with no persistence, the
# script is loaded with SCRIPT LOAD, then redis-benchmark runs
#   EVALSHA <sha> 1 key:__rand_int__ <value>  (a GET + SET on one key)
# (50 clients), and MULTI / SET / INCR / EXEC transactions sent by
# redis-cli --pipe over one connection (redis-benchmark cannot send a
# transaction); transactions per second and darter/redis ratios are printed. Every server it
# starts is stopped on exit.
#   usage: bench/script.sh [--darter PATH] [--redis PATH] [-n REQUESTS] [-c CLIENTS]
set -u -o pipefail
export LC_ALL=C
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DARTER=$REPO/build/darter-server
REDIS=/usr/bin/redis-server
N=100000
CLIENTS=50
while [ $# -gt 0 ]; do
    case $1 in
    --darter) DARTER=$2; shift 2 ;;
    --redis) REDIS=$2; shift 2 ;;
    -n) N=$2; shift 2 ;;
    -c) CLIENTS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start() { # name binary args... -> sets PORT
    local port; port=$(free_port)
    "$@" --port "$port" --bind 127.0.0.1 --save "" --dir /tmp --dbfilename "bench-script-$port.rdb" >/dev/null 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    PORT=$port
}

SCRIPT="local v = redis.call('get', KEYS[1]) redis.call('set', KEYS[1], ARGV[1]) return v"

rps() { # port, benchmark args... -> requests per second
    redis-benchmark -p "$1" -n "$N" -c "$CLIENTS" -r 100000 -q "${@:2}" 2>/dev/null | tr '\r' '\n' |
        awk '/requests per second/ {for (i = 1; i <= NF; i++) if ($i == "requests") v = $(i-1)} END {print v+0}'
}

TX_FILE=$(mktemp /tmp/bench-script-tx.XXXXXX)
trap 'cleanup; rm -f "$TX_FILE"' EXIT
python3 - "$N" > "$TX_FILE" <<'PY'
import sys
n = int(sys.argv[1])
def cmd(*a):
    return "*%d\r\n" % len(a) + "".join("$%d\r\n%s\r\n" % (len(x), x) for x in a)
out = []
for i in range(n):
    k = "tx:%d" % (i % 1000)
    out.append(cmd("MULTI") + cmd("SET", k, "v") + cmd("INCR", k + ":n") + cmd("EXEC"))
sys.stdout.write("".join(out))
PY

tx_rate() { # port -> transactions per second through redis-cli --pipe
    local t0 t1
    t0=$(date +%s.%N)
    redis-cli -p "$1" --pipe < "$TX_FILE" >/dev/null 2>&1
    t1=$(date +%s.%N)
    awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", n / (b - a)}'
}

measure() { # label port
    local sha e m
    sha=$(redis-cli -p "$2" script load "$SCRIPT")
    e=$(rps "$2" evalsha "$sha" 1 "key:__rand_int__" xxxxxxxxxx)
    m=$(tx_rate "$2")
    printf '%-18s EVALSHA %10.0f/s   MULTI/EXEC %10.0f tx/s\n' "$1" "$e" "$m" >&2
    echo "$e $m"
}

start "$REDIS"
read -r RE RM < <(measure "redis-server" "$PORT")
declare -A DE DM
for t in 1 2; do
    start "$DARTER" --threads "$t"
    read -r e m < <(measure "darter --threads $t" "$PORT")
    DE[$t]=$e
    DM[$t]=$m
done
echo
for t in 1 2; do
    awk -v t="$t" -v de="${DE[$t]}" -v re="$RE" -v dm="${DM[$t]}" -v rm="$RM" \
        'BEGIN {printf "darter --threads %s / redis: EVALSHA %.2f  MULTI/EXEC %.2f\n", t, de / re, dm / rm}'
done
