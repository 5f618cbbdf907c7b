#!/usr/bin/env bash
# bench/memory.sh — owns the memory-per-key comparison of darter against
# Debian's redis-server: starts each server empty (no persistence, 127.0.0.1
# only), bulk-loads a dataset with `redis-cli --pipe`, and reports used_memory
# (INFO memory) and VmRSS growth per key and per element over the
# empty-server baseline, plus the darter/redis ratio. Shapes (--shape):
#   strings  N small strings (keys key:%07d, 10-byte values; N = --keys)
#   hashes   100k hashes of 10 fields      sets   100k sets of 10 members
#   zsets    100k zsets of 10 members      lists  10 lists of 100k elements
#   all      every shape in turn, then one summary table
set -u -o pipefail

# shellcheck source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
    cat <<EOF
usage: bench/memory.sh [options]
  --darter PATH     darter binary (default: \$REPO/build/darter-server).
                    A basename containing "redis-server" gets redis flags.
  --redis PATH      reference server (default: /usr/bin/redis-server)
  --keys N          number of keys to load (default 1000000)
  --threads N       darter --threads (default 1)
  --cpu-server C    CPU (taskset -c list) for the servers (default 0)
  --quick           smoke run: strings 100000 keys, collections 1/10 size
  --shape S         strings (default), hashes, sets, zsets, lists or all
  -h, --help        this help
EOF
}

DARTER="$REPO_ROOT/build/darter-server"
REDIS="/usr/bin/redis-server"
KEYS=1000000
THREADS=1
SHAPE=strings
QUICK=0
CPU_SERVER=0

need_arg() { [ $# -ge 2 ] || die "option $1 needs a value"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --darter)     need_arg "$@"; DARTER=$2; shift 2 ;;
        --redis)      need_arg "$@"; REDIS=$2; shift 2 ;;
        --keys)       need_arg "$@"; KEYS=$2; shift 2 ;;
        --threads)    need_arg "$@"; THREADS=$2; shift 2 ;;
        --cpu-server) need_arg "$@"; CPU_SERVER=$2; shift 2 ;;
        --quick)      KEYS=100000; QUICK=1; shift ;;
        --shape)      need_arg "$@"; SHAPE=$2; shift 2 ;;
        -h|--help)    usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done
[[ $KEYS =~ ^[0-9]+$ ]] && [ "$KEYS" -gt 0 ] || die "--keys must be a positive integer"
[[ $THREADS =~ ^[0-9]+$ ]] && [ "$THREADS" -gt 0 ] || die "--threads must be a positive integer"
for t in redis-cli taskset awk; do command -v "$t" >/dev/null || die "$t not found on PATH"; done
[ -x "$REDIS" ] || die "redis binary not found: $REDIS"
[ -x "$DARTER" ] || die "darter binary not found: $DARTER (build it, or pass --darter PATH)"

case $SHAPE in strings|hashes|sets|zsets|lists|all) ;; *) die "--shape: unknown shape $SHAPE" ;; esac

bench_init_tmp
T_START=$(date +%s)
LOAD="$BENCH_TMP/load.resp"

# shape_dims SHAPE -> sets NKEYS NELEMS (elements per key)
shape_dims() {
    local div=1
    [ "$QUICK" = 1 ] && div=10
    case $1 in
        strings) NKEYS=$KEYS; NELEMS=1 ;;
        lists)   NKEYS=10; NELEMS=$((100000 / div)) ;;
        *)       NKEYS=$((100000 / div)); NELEMS=10 ;;
    esac
}

gen_load() {   # gen_load SHAPE
    shape_dims "$1"
    log "generating $1: $NKEYS keys x $NELEMS elements"
    if [ "$1" = strings ]; then
        gen_set_resp "$NKEYS" 'key:%07d' '%010d' >"$LOAD"
    else
        gen_coll_resp "$1" "$NKEYS" "$NELEMS" >"$LOAD"
    fi
}

# measure SIDE BIN -> sets M_USED0 M_USED1 M_RSS0 M_RSS1 M_DBSIZE
measure() {
    local side=$1 bin=$2 pid port
    start_server "$side" "$bin" "$CPU_SERVER" "$THREADS"
    pid=$SERVER_PID; port=$SERVER_PORT
    sleep 0.5
    M_USED0=$(info_field "$port" used_memory)
    M_RSS0=$(rss_bytes "$pid")
    log "$side: empty used_memory=$M_USED0 rss=$M_RSS0; loading $NKEYS keys"
    pipe_load "$port" "$LOAD" || die "$side: bulk load failed"
    M_DBSIZE=$(timeout 10 redis-cli -h 127.0.0.1 -p "$port" dbsize 2>/dev/null | tr -d '\r')
    [[ $M_DBSIZE =~ ^[0-9]+$ ]] || M_DBSIZE=NA
    [ "$M_DBSIZE" = NA ] || [ "$M_DBSIZE" -eq "$NKEYS" ] || log "warning: $side DBSIZE=$M_DBSIZE, expected $NKEYS"
    sleep 1   # let lazy frees / background work settle
    M_USED1=$(info_field "$port" used_memory)
    M_RSS1=$(rss_bytes "$pid")
    log "$side: loaded  used_memory=$M_USED1 rss=$M_RSS1 dbsize=$M_DBSIZE"
    stop_server "$pid"
}

per_n() {   # per_n BEFORE AFTER N
    awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {
        if (a == "NA" || b == "NA") print "NA"; else printf "%.2f\n", (b - a) / n }'
}

# run_shape SHAPE: measure both servers, print the table, append a summary row
run_shape() {
    local shape=$1 nel
    gen_load "$shape"
    nel=$((NKEYS * NELEMS))
    measure redis "$REDIS"
    R_USED=$(per_n "$M_USED0" "$M_USED1" "$NKEYS"); R_RSS=$(per_n "$M_RSS0" "$M_RSS1" "$NKEYS"); R_DB=$M_DBSIZE
    R_EL=$(per_n "$M_USED0" "$M_USED1" "$nel")
    R_USED0=$M_USED0; R_USED1=$M_USED1; R_RSS0=$M_RSS0; R_RSS1=$M_RSS1
    measure darter "$DARTER"
    D_USED=$(per_n "$M_USED0" "$M_USED1" "$NKEYS"); D_RSS=$(per_n "$M_RSS0" "$M_RSS1" "$NKEYS"); D_DB=$M_DBSIZE
    D_EL=$(per_n "$M_USED0" "$M_USED1" "$nel")
    D_USED0=$M_USED0; D_USED1=$M_USED1; D_RSS0=$M_RSS0; D_RSS1=$M_RSS1
    echo
    echo "memory — $shape: $NKEYS keys x $NELEMS elements"
    printf '%-8s %9s %14s %14s %10s %14s %14s %10s\n' server dbsize used_empty used_loaded used/key rss_empty rss_loaded rss/key
    printf '%-8s %9s %14s %14s %10s %14s %14s %10s\n' redis "$R_DB" "$R_USED0" "$R_USED1" "$R_USED" "$R_RSS0" "$R_RSS1" "$R_RSS"
    printf '%-8s %9s %14s %14s %10s %14s %14s %10s\n' darter "$D_DB" "$D_USED0" "$D_USED1" "$D_USED" "$D_RSS0" "$D_RSS1" "$D_RSS"
    echo "MEM_REDIS $shape used_per_key $R_USED used_per_element $R_EL rss_per_key $R_RSS"
    echo "MEM_DARTER $shape used_per_key $D_USED used_per_element $D_EL rss_per_key $D_RSS"
    echo "RATIO $shape used $(ratio "$D_USED" "$R_USED") rss $(ratio "$D_RSS" "$R_RSS")"
    SUMMARY+=("$(printf '%-8s %8s x %-6s %12s %12s %8s %8s' "$shape" "$NKEYS" "$NELEMS" "$R_EL" "$D_EL" \
        "$(ratio "$D_USED" "$R_USED")" "$(ratio "$D_RSS" "$R_RSS")")")
}

SUMMARY=()
if [ "$SHAPE" = all ]; then
    for sh in strings hashes sets zsets lists; do run_shape "$sh"; done
else
    run_shape "$SHAPE"
fi
T_END=$(date +%s)

echo
echo "summary (used_memory bytes per element; ratio = darter/redis, <1 darter smaller), wall $(( T_END - T_START ))s"
echo "redis:  $REDIS"
echo "darter: $DARTER (--threads $THREADS)"
printf '%-8s %19s %12s %12s %8s %8s\n' shape size redis/elem darter/elem used rss
for row in "${SUMMARY[@]}"; do echo "$row"; done
