#!/usr/bin/env bash
# bench/cluster.sh — a 3-master cluster of redis-server and one of darter,
# side by side: redis-benchmark --cluster (and memtier_benchmark
# --cluster-mode when it is on PATH) against each, SET and GET, in
# alternation for --rounds rounds; prints medians and darter/redis ratios.
# redis's cluster is built with `redis-cli --cluster create`; darter's by
# pushing one JSON config to every node (CLUSTER SETCONFIG), as an
# orchestrator would. Everything listens on 127.0.0.1 only.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
source "$HERE/lib/common.sh"

DARTER="$ROOT/build/darter-server"
REDIS=/usr/bin/redis-server
ROUNDS=3
REQUESTS=300000
CLIENTS=50
PIPELINE=1
THREADS=1

usage() {
    cat <<EOF
usage: bench/cluster.sh [--rounds N] [--requests N] [--clients N] [--pipeline N]
                        [--threads N] [--darter PATH] [--redis PATH] [--quick]
EOF
    exit 1
}

while [ $# -gt 0 ]; do
    case $1 in
        --rounds) ROUNDS=$2; shift 2 ;;
        --requests) REQUESTS=$2; shift 2 ;;
        --clients) CLIENTS=$2; shift 2 ;;
        --pipeline) PIPELINE=$2; shift 2 ;;
        --threads) THREADS=$2; shift 2 ;;
        --darter) DARTER=$2; shift 2 ;;
        --redis) REDIS=$2; shift 2 ;;
        --quick) ROUNDS=1; REQUESTS=50000; shift ;;
        *) usage ;;
    esac
done

bench_init_tmp

# A free port whose cluster-bus port (+10000) is free too.
pick_cluster_port() {
    local i p
    for i in $(seq 1 200); do
        p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 30000 ))
        if port_is_free "$p" && port_is_free $((p + 10000)); then echo "$p"; return 0; fi
    done
    die "could not find a free port pair"
}

# try_node NAME BIN PORT: start one cluster-enabled node in its own dir;
# true (with NODE_PORT/NODE_PID set) once it answers PING.
try_node() {
    local name=$1 bin=$2 port=$3 dir pid i
    dir="$BENCH_TMP/$name-$port"
    mkdir -p "$dir"
    if is_redis_binary "$bin"; then
        (cd "$dir" && exec "$bin" --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
            --cluster-enabled yes --cluster-config-file nodes.conf) >"$dir/log" 2>&1 </dev/null &
    else
        (cd "$dir" && exec "$bin" --port "$port" --bind 127.0.0.1 --save '' --threads "$THREADS" \
            --cluster-enabled yes --dir "$dir") >"$dir/log" 2>&1 </dev/null &
    fi
    pid=$!
    BENCH_PIDS+=("$pid")
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        [ "$(timeout 2 redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && { NODE_PORT=$port; NODE_PID=$pid; return 0; }
        sleep 0.1
    done
    log "$name node on port $port did not start:"
    tail -n 5 "$dir/log" >&2
    stop_pid "$pid"; forget_pid "$pid"
    return 1
}

# start_node NAME BIN: a node on a free port pair, retried on a port race.
start_node() {
    local attempt
    for attempt in 1 2 3; do
        try_node "$1" "$2" "$(pick_cluster_port)" && return 0
    done
    die "$1 node would not start"
}

# A 3-master redis cluster via redis-cli --cluster create. Sets CLUSTER_PORTS.
start_redis_cluster() {
    local ports=() i
    for i in 1 2 3; do start_node redis "$REDIS"; ports+=("$NODE_PORT"); done
    timeout 60 redis-cli --cluster create "127.0.0.1:${ports[0]}" "127.0.0.1:${ports[1]}" \
        "127.0.0.1:${ports[2]}" --cluster-yes >"$BENCH_TMP/create.log" 2>&1 || die "redis-cli --cluster create failed"
    for i in $(seq 1 100); do
        [ "$(redis-cli -p "${ports[0]}" cluster info | tr -d '\r' | grep cluster_state)" = cluster_state:ok ] && break
        sleep 0.1
    done
    CLUSTER_PORTS=("${ports[@]}")
}

# A 3-master darter cluster: the same JSON pushed to every node.
start_darter_cluster() {
    local ports=() ids=() i json
    for i in 1 2 3; do
        start_node darter "$DARTER"
        ports+=("$NODE_PORT")
        ids+=("$(redis-cli -p "$NODE_PORT" cluster myid | tr -d '\r')")
    done
    json="[{\"slot_ranges\":[{\"start\":0,\"end\":5460}],\"master\":{\"id\":\"${ids[0]}\",\"ip\":\"127.0.0.1\",\"port\":${ports[0]}},\"replicas\":[]},"
    json+="{\"slot_ranges\":[{\"start\":5461,\"end\":10922}],\"master\":{\"id\":\"${ids[1]}\",\"ip\":\"127.0.0.1\",\"port\":${ports[1]}},\"replicas\":[]},"
    json+="{\"slot_ranges\":[{\"start\":10923,\"end\":16383}],\"master\":{\"id\":\"${ids[2]}\",\"ip\":\"127.0.0.1\",\"port\":${ports[2]}},\"replicas\":[]}]"
    for i in 0 1 2; do
        [ "$(redis-cli -p "${ports[$i]}" cluster setconfig "$json" | tr -d '\r')" = OK ] || die "CLUSTER SETCONFIG refused"
    done
    CLUSTER_PORTS=("${ports[@]}")
}

stop_cluster() {
    local pid
    for pid in "${BENCH_PIDS[@]}"; do stop_pid "$pid"; done
    BENCH_PIDS=()
}

# run_load PORT: redis-benchmark --cluster SET and GET; prints "set_rps get_rps".
run_load() {
    local port=$1 out
    out="$BENCH_TMP/rb.$port.csv"
    timeout 300 redis-benchmark --cluster -p "$port" -t set,get -n "$REQUESTS" -c "$CLIENTS" \
        -P "$PIPELINE" -r 100000 --csv >"$out" 2>>"$BENCH_TMP/loadgen.err" </dev/null || true
    local set get
    set=$(grep -i '^"SET"' "$out" | head -1 | cut -d, -f2 | tr -d '"')
    get=$(grep -i '^"GET"' "$out" | head -1 | cut -d, -f2 | tr -d '"')
    echo "${set:-NA} ${get:-NA}"
}

run_memtier() {
    local port=$1
    command -v memtier_benchmark >/dev/null 2>&1 || { echo "NA"; return; }
    timeout 300 memtier_benchmark --cluster-mode -s 127.0.0.1 -p "$port" --protocol=redis -t 1 -c "$CLIENTS" \
        --ratio=1:1 --key-maximum=100000 -n $((REQUESTS / CLIENTS)) --hide-histogram 2>/dev/null |
        awk '/^Totals/ {print $2; exit}'
}

declare -a R_SET R_GET D_SET D_GET R_MT D_MT
log "3-master clusters, $ROUNDS round(s), $REQUESTS requests, $CLIENTS clients, pipeline $PIPELINE, darter threads $THREADS"
for round in $(seq 1 "$ROUNDS"); do
    start_redis_cluster
    read -r s g <<<"$(run_load "${CLUSTER_PORTS[0]}")"
    R_SET+=("$s"); R_GET+=("$g"); R_MT+=("$(run_memtier "${CLUSTER_PORTS[0]}")")
    stop_cluster
    start_darter_cluster
    read -r s g <<<"$(run_load "${CLUSTER_PORTS[0]}")"
    D_SET+=("$s"); D_GET+=("$g"); D_MT+=("$(run_memtier "${CLUSTER_PORTS[0]}")")
    stop_cluster
    log "round $round: redis SET ${R_SET[-1]} GET ${R_GET[-1]} | darter SET ${D_SET[-1]} GET ${D_GET[-1]}"
done

med() { printf '%s\n' "$@" | median; }
rs=$(med "${R_SET[@]}"); rg=$(med "${R_GET[@]}")
ds=$(med "${D_SET[@]}"); dg=$(med "${D_GET[@]}")
printf '\n%-8s %14s %14s %8s\n' metric redis_rps darter_rps ratio
printf '%-8s %14s %14s %8s\n' SET "$rs" "$ds" "$(ratio "$ds" "$rs")"
printf '%-8s %14s %14s %8s\n' GET "$rg" "$dg" "$(ratio "$dg" "$rg")"
echo "CLUSTER_RATIO set $(ratio "$ds" "$rs")"
echo "CLUSTER_RATIO get $(ratio "$dg" "$rg")"
if [ "${R_MT[0]}" != NA ]; then
    echo "CLUSTER_MEMTIER redis $(med "${R_MT[@]}") darter $(med "${D_MT[@]}")"
fi
