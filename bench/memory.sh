#!/usr/bin/env bash
# bench/memory.sh — owns the memory-per-key comparison of darter against
# Debian's redis-server: starts each server empty (no persistence, 127.0.0.1
# only), bulk-loads N small strings with `redis-cli --pipe` (keys key:%07d,
# 10-byte values), and reports used_memory (INFO memory) and VmRSS growth per
# key over the empty-server baseline, plus the darter/redis ratio.
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
  --quick           smoke run with 100000 keys
  -h, --help        this help
EOF
}

DARTER="$REPO_ROOT/build/darter-server"
REDIS="/usr/bin/redis-server"
KEYS=1000000
THREADS=1
CPU_SERVER=0

need_arg() { [ $# -ge 2 ] || die "option $1 needs a value"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --darter)     need_arg "$@"; DARTER=$2; shift 2 ;;
        --redis)      need_arg "$@"; REDIS=$2; shift 2 ;;
        --keys)       need_arg "$@"; KEYS=$2; shift 2 ;;
        --threads)    need_arg "$@"; THREADS=$2; shift 2 ;;
        --cpu-server) need_arg "$@"; CPU_SERVER=$2; shift 2 ;;
        --quick)      KEYS=100000; shift ;;
        -h|--help)    usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done
[[ $KEYS =~ ^[0-9]+$ ]] && [ "$KEYS" -gt 0 ] || die "--keys must be a positive integer"
[[ $THREADS =~ ^[0-9]+$ ]] && [ "$THREADS" -gt 0 ] || die "--threads must be a positive integer"
for t in redis-cli taskset awk; do command -v "$t" >/dev/null || die "$t not found on PATH"; done
[ -x "$REDIS" ] || die "redis binary not found: $REDIS"
[ -x "$DARTER" ] || die "darter binary not found: $DARTER (build it, or pass --darter PATH)"

bench_init_tmp
T_START=$(date +%s)

LOAD="$BENCH_TMP/load.resp"
log "generating $KEYS SET commands"
gen_set_resp "$KEYS" 'key:%07d' '%010d' >"$LOAD"

# measure SIDE BIN -> sets M_USED0 M_USED1 M_RSS0 M_RSS1 M_DBSIZE
measure() {
    local side=$1 bin=$2 pid port
    start_server "$side" "$bin" "$CPU_SERVER" "$THREADS"
    pid=$SERVER_PID; port=$SERVER_PORT
    sleep 0.5
    M_USED0=$(info_field "$port" used_memory)
    M_RSS0=$(rss_bytes "$pid")
    log "$side: empty used_memory=$M_USED0 rss=$M_RSS0; loading $KEYS keys"
    pipe_load "$port" "$LOAD" || die "$side: bulk load failed"
    M_DBSIZE=$(timeout 10 redis-cli -h 127.0.0.1 -p "$port" dbsize 2>/dev/null | tr -d '\r')
    [[ $M_DBSIZE =~ ^[0-9]+$ ]] || M_DBSIZE=NA
    [ "$M_DBSIZE" = NA ] || [ "$M_DBSIZE" -eq "$KEYS" ] || log "warning: $side DBSIZE=$M_DBSIZE, expected $KEYS"
    sleep 1   # let lazy frees / background work settle
    M_USED1=$(info_field "$port" used_memory)
    M_RSS1=$(rss_bytes "$pid")
    log "$side: loaded  used_memory=$M_USED1 rss=$M_RSS1 dbsize=$M_DBSIZE"
    stop_server "$pid"
}

per_key() {   # per_key BEFORE AFTER
    awk -v a="$1" -v b="$2" -v n="$KEYS" 'BEGIN {
        if (a == "NA" || b == "NA") print "NA"; else printf "%.2f\n", (b - a) / n }'
}

measure redis "$REDIS"
R_USED=$(per_key "$M_USED0" "$M_USED1"); R_RSS=$(per_key "$M_RSS0" "$M_RSS1"); R_DB=$M_DBSIZE
R_USED0=$M_USED0; R_USED1=$M_USED1; R_RSS0=$M_RSS0; R_RSS1=$M_RSS1
measure darter "$DARTER"
D_USED=$(per_key "$M_USED0" "$M_USED1"); D_RSS=$(per_key "$M_RSS0" "$M_RSS1"); D_DB=$M_DBSIZE
D_USED0=$M_USED0; D_USED1=$M_USED1; D_RSS0=$M_RSS0; D_RSS1=$M_RSS1
T_END=$(date +%s)

echo
echo "memory per key — $KEYS keys (key:%07d, 10-byte values), wall $(( T_END - T_START ))s"
echo "redis:  $REDIS"
echo "darter: $DARTER"
echo
printf '%-8s %9s %14s %14s %10s %14s %14s %10s\n' server dbsize used_empty used_loaded used/key rss_empty rss_loaded rss/key
printf '%-8s %9s %14s %14s %10s %14s %14s %10s\n' redis "$R_DB" "$R_USED0" "$R_USED1" "$R_USED" "$R_RSS0" "$R_RSS1" "$R_RSS"
printf '%-8s %9s %14s %14s %10s %14s %14s %10s\n' darter "$D_DB" "$D_USED0" "$D_USED1" "$D_USED" "$D_RSS0" "$D_RSS1" "$D_RSS"
echo
echo "bytes/key = (loaded - empty) / keys; ratio = darter/redis (<1 darter smaller)"
echo
echo "MEM_REDIS used_per_key $R_USED"
echo "MEM_DARTER used_per_key $D_USED"
echo "RATIO used_per_key $(ratio "$D_USED" "$R_USED")"
echo "MEM_REDIS rss_per_key $R_RSS"
echo "MEM_DARTER rss_per_key $D_RSS"
echo "RATIO rss_per_key $(ratio "$D_RSS" "$R_RSS")"
