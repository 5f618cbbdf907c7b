#!/usr/bin/env bash
# bench/compare.sh — owns the throughput + server-CPU comparison of darter
# against Debian's redis-server: both started with the same settings (no
# persistence, 127.0.0.1 only), server pinned to one CPU and the load
# generator to another, redis-benchmark (and memtier_benchmark when on PATH)
# run A B A B for N rounds; prints median rps, darter/redis ratios and server
# CPU µs per request. See bench/README.md for how to read the output.
set -u -o pipefail

# shellcheck source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
    cat <<EOF
usage: bench/compare.sh [options]
  --darter PATH        darter binary (default: \$REPO/build/darter-server).
                       A basename containing "redis-server" gets redis flags.
  --redis PATH         reference server (default: /usr/bin/redis-server)
  --rounds N           A/B rounds, at least 3 (default 3)
  --requests N         requests per run at pipeline 1 (default 500000)
  --requests-pipelined N
                       requests per run at pipeline >1 (default 10 x --requests)
  --clients N          concurrent connections (default 50)
  --pipelines "1 16"   pipeline depths to test (default "1 16")
  --keyspace N         -r keyspace; keys are preloaded so GETs hit (default 100000)
  --threads N          darter --threads (default 1; ignored for redis-style binaries)
  --cpu-server C       CPU (taskset -c list) for the servers (default 0)
  --cpu-load C         CPU (taskset -c list) for the load generator (default 1)
  --sequential         per round run all tests on redis, then all on darter
                       (default: alternate redis/darter per test, A B A B)
  --no-freeze          do not SIGSTOP the server that is not being measured
  --run-timeout S      kill a load-generator run after S seconds; it then
                       counts as NA (default 120)
  --no-memtier         skip memtier_benchmark even if it is on PATH
  --raw FILE           also write per-run raw results (TSV) to FILE
  --quick              smoke run: 3 rounds, 20000 / 200000 requests
  -h, --help           this help
EOF
}

DARTER="$REPO_ROOT/build/darter-server"
REDIS="/usr/bin/redis-server"
ROUNDS=3
REQUESTS=500000
REQUESTS_PIPE=""
CLIENTS=50
PIPELINES="1 16"
KEYSPACE=100000
THREADS=1
CPU_SERVER=0
CPU_LOAD=1
USE_MEMTIER=1
SEQUENTIAL=0
FREEZE=1
RUN_TIMEOUT=120
RAW_OUT=""
QUICK=0

need_arg() { [ $# -ge 2 ] || die "option $1 needs a value"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --darter)     need_arg "$@"; DARTER=$2; shift 2 ;;
        --redis)      need_arg "$@"; REDIS=$2; shift 2 ;;
        --rounds)     need_arg "$@"; ROUNDS=$2; shift 2 ;;
        --requests)   need_arg "$@"; REQUESTS=$2; shift 2 ;;
        --requests-pipelined) need_arg "$@"; REQUESTS_PIPE=$2; shift 2 ;;
        --clients)    need_arg "$@"; CLIENTS=$2; shift 2 ;;
        --pipelines)  need_arg "$@"; PIPELINES=$2; shift 2 ;;
        --keyspace)   need_arg "$@"; KEYSPACE=$2; shift 2 ;;
        --threads)    need_arg "$@"; THREADS=$2; shift 2 ;;
        --cpu-server) need_arg "$@"; CPU_SERVER=$2; shift 2 ;;
        --cpu-load)   need_arg "$@"; CPU_LOAD=$2; shift 2 ;;
        --no-memtier) USE_MEMTIER=0; shift ;;
        --sequential) SEQUENTIAL=1; shift ;;
        --no-freeze)  FREEZE=0; shift ;;
        --run-timeout) need_arg "$@"; RUN_TIMEOUT=$2; shift 2 ;;
        --raw)        need_arg "$@"; RAW_OUT=$2; shift 2 ;;
        --quick)      QUICK=1; shift ;;
        -h|--help)    usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done

if [ "$QUICK" = 1 ]; then
    ROUNDS=3; REQUESTS=20000; REQUESTS_PIPE=200000
fi
[ -n "$REQUESTS_PIPE" ] || REQUESTS_PIPE=$(( REQUESTS * 10 ))

for v in ROUNDS REQUESTS REQUESTS_PIPE CLIENTS KEYSPACE THREADS RUN_TIMEOUT; do
    [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -gt 0 ] || die "$v must be a positive integer (got '${!v}')"
done
[ "$ROUNDS" -ge 3 ] || die "--rounds must be at least 3"
for p in $PIPELINES; do [[ $p =~ ^[0-9]+$ ]] && [ "$p" -gt 0 ] || die "bad pipeline depth '$p'"; done
for t in redis-cli redis-benchmark taskset awk; do
    command -v "$t" >/dev/null || die "$t not found on PATH"
done
[ -x "$REDIS" ] || die "redis binary not found: $REDIS"
[ -x "$DARTER" ] || die "darter binary not found: $DARTER (build it, or pass --darter PATH)"
[ "$CPU_SERVER" != "$CPU_LOAD" ] || log "warning: server and load generator share CPU $CPU_SERVER"

MEMTIER=""
if [ "$USE_MEMTIER" = 1 ] && command -v memtier_benchmark >/dev/null; then
    MEMTIER=$(command -v memtier_benchmark)
fi

CLK_TCK=$(getconf CLK_TCK)
bench_init_tmp
RESULTS="$BENCH_TMP/results.tsv"
: >"$RESULTS"
T_START=$(date +%s)
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
BUSY_START=$(busy_pct 1)
[ "$BUSY_START" -le 10 ] || log "warning: machine is ${BUSY_START}% busy before the benchmark; results will be noisy"

# Preload file: every key redis-benchmark's -r can produce ("key:" + 12 digits,
# 3-byte value like its default -d 3), plus memtier's "mt:N" keys, so GET
# measures hits on a steady-size keyspace and SET overwrites in place.
PRELOAD="$BENCH_TMP/preload.resp"
gen_set_resp "$KEYSPACE" 'key:%012d' 'xxx' >"$PRELOAD"
if [ -n "$MEMTIER" ]; then
    gen_set_resp "$KEYSPACE" 'mt:%d' 'xxx' >>"$PRELOAD"
fi

requests_for() { [ "$1" -eq 1 ] && echo "$REQUESTS" || echo "$REQUESTS_PIPE"; }

# record ROUND SIDE METRIC RPS CPU_US
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"; }

# cpu_us_per_req T0 T1 N
cpu_us_per_req() {
    awk -v a="$1" -v b="$2" -v hz="$CLK_TCK" -v n="$3" 'BEGIN {
        if (a == "NA" || b == "NA") { print "NA"; exit }
        printf "%.4f\n", (b - a) / hz * 1e6 / n }'
}

# run_rb ROUND SIDE PID PORT TEST PIPE: one redis-benchmark run for one test.
run_rb() {
    local round=$1 side=$2 pid=$3 port=$4 test=$5 pipe=$6
    local n t0 t1 out rps cpu
    n=$(requests_for "$pipe")
    t0=$(cpu_ticks "$pid")
    run_fg "$BENCH_TMP/rb.out" timeout "$RUN_TIMEOUT" taskset -c "$CPU_LOAD" redis-benchmark -h 127.0.0.1 -p "$port" \
        -t "$test" -n "$n" -c "$CLIENTS" -P "$pipe" -r "$KEYSPACE" -q --csv
    t1=$(cpu_ticks "$pid")
    out=$(cat "$BENCH_TMP/rb.out")
    rps=$(printf '%s\n' "$out" | awk -F, -v t="\"${test^^}\"" '$1 == t { gsub(/"/, "", $2); print $2; exit }')
    [ -n "$rps" ] || { log "no result from redis-benchmark ($side $test P$pipe): $out"; rps=NA; }
    kill -0 "$pid" 2>/dev/null || die "$side server died during $test P$pipe"
    cpu=$(cpu_us_per_req "$t0" "$t1" "$n")
    record "$round" "$side" "${test}_p${pipe}" "$rps" "$cpu"
    log "  round $round $side ${test}_p${pipe}: $rps rps, $cpu us/req server CPU"
}

# run_mt ROUND SIDE PID PORT TEST PIPE: one memtier_benchmark run (SET-only or GET-only).
run_mt() {
    local round=$1 side=$2 pid=$3 port=$4 test=$5 pipe=$6
    local n per_client total t0 t1 out rps cpu ratio
    n=$(requests_for "$pipe")
    per_client=$(( (n + CLIENTS - 1) / CLIENTS ))
    total=$(( per_client * CLIENTS ))
    [ "$test" = set ] && ratio=1:0 || ratio=0:1
    t0=$(cpu_ticks "$pid")
    run_fg "$BENCH_TMP/mt.out" timeout "$RUN_TIMEOUT" taskset -c "$CPU_LOAD" "$MEMTIER" -s 127.0.0.1 -p "$port" \
        --protocol=redis --threads=1 --clients="$CLIENTS" --requests="$per_client" \
        --pipeline="$pipe" --ratio="$ratio" --key-pattern=R:R --key-prefix=mt: \
        --key-minimum=0 --key-maximum=$(( KEYSPACE - 1 )) --data-size=3 --hide-histogram \
        --distinct-client-seed
    t1=$(cpu_ticks "$pid")
    out=$(cat "$BENCH_TMP/mt.out")
    rps=$(printf '%s\n' "$out" | awk '$1 == "Totals" { print $2; exit }')
    [ -n "$rps" ] || { log "no result from memtier ($side $test P$pipe)"; rps=NA; }
    kill -0 "$pid" 2>/dev/null || die "$side server died during memtier $test P$pipe"
    cpu=$(cpu_us_per_req "$t0" "$t1" "$total")
    record "$round" "$side" "mt_${test}_p${pipe}" "$rps" "$cpu"
    log "  round $round $side mt_${test}_p${pipe}: $rps rps, $cpu us/req server CPU"
}

log "redis:  $REDIS"
log "darter: $DARTER$(is_redis_binary "$DARTER" && echo ' (redis-style flags)')"
log "rounds=$ROUNDS requests=$REQUESTS/$REQUESTS_PIPE (P1/P>1) clients=$CLIENTS pipelines='$PIPELINES' keyspace=$KEYSPACE cpu server=$CPU_SERVER load=$CPU_LOAD memtier=${MEMTIER:-no}"

# run_tests SIDE: every test once against SIDE (uses SRV_PID_*/SRV_PORT_*).
run_tests() {
    local side=$1 pipe test
    for pipe in $PIPELINES; do
        for test in set get; do
            run_one "$side" rb "$test" "$pipe"
        done
    done
    if [ -n "$MEMTIER" ]; then
        for pipe in $PIPELINES; do
            for test in set get; do
                run_one "$side" mt "$test" "$pipe"
            done
        done
    fi
}
run_one() {   # run_one SIDE rb|mt TEST PIPE
    local side=$1 tool=$2 pid port other
    if [ "$side" = redis ]; then pid=$SRV_PID_redis; port=$SRV_PORT_redis; other=$SRV_PID_darter
    else pid=$SRV_PID_darter; port=$SRV_PORT_darter; other=$SRV_PID_redis; fi
    # Freeze the server that is not being measured, so that even a server
    # that spins when idle cannot take CPU from the one under test.
    if [ "$FREEZE" = 1 ]; then
        kill -STOP "$other" 2>/dev/null
        kill -CONT "$pid" 2>/dev/null
    fi
    "run_$tool" "$round" "$side" "$pid" "$port" "$3" "$4"
}

# idle_check SIDE PID: warn if the server burns CPU while idle.
idle_check() {
    local t0 t1
    t0=$(cpu_ticks "$2"); sleep 1; t1=$(cpu_ticks "$2")
    if [ "$t0" != NA ] && [ "$t1" != NA ] && [ $(( (t1 - t0) * 100 / CLK_TCK )) -gt 10 ]; then
        log "warning: $1 used $(( (t1 - t0) * 100 / CLK_TCK ))% CPU while idle (busy-polling?)"
    fi
}

for round in $(seq 1 "$ROUNDS"); do
    # Both servers are started fresh each round, pinned to the same CPU; the
    # one not being measured is SIGSTOPped (see run_one).
    for side in redis darter; do
        if [ "$side" = redis ]; then bin=$REDIS; else bin=$DARTER; fi
        start_server "$side" "$bin" "$CPU_SERVER" "$THREADS"
        if [ "$side" = redis ]; then SRV_PID_redis=$SERVER_PID; SRV_PORT_redis=$SERVER_PORT
        else SRV_PID_darter=$SERVER_PID; SRV_PORT_darter=$SERVER_PORT; fi
        pipe_load "$SERVER_PORT" "$PRELOAD" || die "$side: preload failed"
        log "round $round: $side up (pid $SERVER_PID, port $SERVER_PORT), $KEYSPACE keys preloaded"
        [ "$round" = 1 ] && idle_check "$side" "$SERVER_PID"
    done
    if [ "$SEQUENTIAL" = 1 ]; then
        # A then B per round: all tests on redis, then all on darter.
        run_tests redis
        run_tests darter
    else
        # A B per test: each darter run right after the matching redis run,
        # so the pair sees the same machine state (this VM drifts between a
        # fast and a slow mode on a scale of seconds).
        for pipe in $PIPELINES; do
            for test in set get; do
                run_one redis rb "$test" "$pipe"
                run_one darter rb "$test" "$pipe"
            done
        done
        if [ -n "$MEMTIER" ]; then
            for pipe in $PIPELINES; do
                for test in set get; do
                    run_one redis mt "$test" "$pipe"
                    run_one darter mt "$test" "$pipe"
                done
            done
        fi
    fi
    stop_server "$SRV_PID_redis"
    stop_server "$SRV_PID_darter"
    SRV_PID_redis=""; SRV_PID_darter=""
done

T_END=$(date +%s)
[ -n "$RAW_OUT" ] && { printf 'round\tserver\tmetric\trps\tcpu_us_per_req\n'; cat "$RESULTS"; } >"$RAW_OUT"

# ---- aggregate --------------------------------------------------------------
# results.tsv columns: round, server, metric, rps, cpu_us_per_req
metrics=$(awk -F'\t' '!seen[$3]++ { print $3 }' "$RESULTS")

med_of() {   # med_of SIDE METRIC FIELD
    awk -F'\t' -v s="$1" -v m="$2" -v f="$3" '$2 == s && $3 == m { print $f }' "$RESULTS" | median
}
ratios() {   # per-round darter/redis for METRIC FIELD, one per line
    awk -F'\t' -v m="$1" -v f="$2" '
        $3 == m { v[$1, $2] = $f; r[$1] = 1 }
        END {
            for (k in r) {
                a = v[k, "darter"]; b = v[k, "redis"]
                if (a == "NA" || b == "NA" || a == "" || b == "" || b + 0 == 0) print "NA"
                else printf "%.6f\n", a / b
            }
        }' "$RESULTS"
}
med_ratio() { ratios "$1" "$2" | median; }
range_ratio() {   # "min-max" of the per-round ratios
    ratios "$1" "$2" | grep -Ev '^(NA|)$' | sort -g |
        awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%.2f-%.2f\n", lo, hi; else print "NA" }'
}

echo
echo "darter vs redis — $ROUNDS rounds, clients=$CLIENTS, requests P1=$REQUESTS P>1=$REQUESTS_PIPE, keyspace=$KEYSPACE"
echo "server CPU $CPU_SERVER, load CPU $CPU_LOAD, darter threads=$THREADS, CLK_TCK=$CLK_TCK, wall $(( T_END - T_START ))s"
echo "redis:  $REDIS"
echo "darter: $DARTER"
echo "before start: ${BUSY_START}% CPU busy over 1s, loadavg $LOADAVG_START (anything else running skews results)"
echo
HDR='%-12s %12s %12s %7s %11s   %12s %13s %7s %11s\n'
printf "$HDR" metric redis_rps darter_rps ratio "(range)" redis_us/req darter_us/req ratio "(range)"
printf "$HDR" ------------ ------------ ------------ ------- ----------- ------------ ------------- ------- -----------
MACHINE=""
for m in $metrics; do
    r_rps=$(med_of redis "$m" 4);  d_rps=$(med_of darter "$m" 4)
    r_cpu=$(med_of redis "$m" 5);  d_cpu=$(med_of darter "$m" 5)
    rat=$(med_ratio "$m" 4);       crat=$(med_ratio "$m" 5)
    printf "$HDR" "$m" \
        "$(fmt "$r_rps" 0)" "$(fmt "$d_rps" 0)" "$(fmt "$rat" 3)" "$(range_ratio "$m" 4)" \
        "$(fmt "$r_cpu" 3)" "$(fmt "$d_cpu" 3)" "$(fmt "$crat" 3)" "$(range_ratio "$m" 5)"
    MACHINE+="RPS_REDIS $m $(fmt "$r_rps" 2)"$'\n'
    MACHINE+="RPS_DARTER $m $(fmt "$d_rps" 2)"$'\n'
    MACHINE+="RATIO $m $(fmt "$rat" 4)"$'\n'
    MACHINE+="CPU_US_REDIS $m $(fmt "$r_cpu" 4)"$'\n'
    MACHINE+="CPU_US_DARTER $m $(fmt "$d_cpu" 4)"$'\n'
    MACHINE+="CPU_RATIO $m $(fmt "$crat" 4)"$'\n'
done
echo
echo "ratio = median over rounds of darter/redis, (range) = min-max of the per-round ratios"
echo "rps ratio >1: darter faster; CPU us/req ratio <1: darter cheaper"
echo
printf '%s' "$MACHINE"
