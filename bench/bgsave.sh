#!/usr/bin/env bash
# bench/bgsave.sh — peak memory of BGSAVE under a write load, darter vs
# Debian's redis-server. For each server (redis then darter, for N rounds):
# start it pinned to --cpu-server, load N keys with 100-byte values, record
# RSS ("before"), start a continuous redis-benchmark SET load on the same
# keys (pinned to --cpu-load) so keys are overwritten during the snapshot,
# issue BGSAVE and sample memory every 20 ms until INFO persistence shows
# rdb_bgsave_in_progress:0. redis forks a child, darter snapshots in-process,
# so the peak is measured as
#     server RSS + Private_Dirty of the server's children
# (the forked child's RSS also counts the pages it still shares with the
# parent; its Private_Dirty is what copy-on-write really cost). The naive
# "parent RSS + child RSS" is reported next to it. 127.0.0.1 only; every
# process and temp dir is removed on exit. See bench/README.md.
set -u -o pipefail
export LC_ALL=C   # byte-counting `read -N` on RESP replies, C number formats

# shellcheck source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
    cat <<EOF
usage: bench/bgsave.sh [options]
  --darter PATH      darter binary (default: \$REPO/build/darter-server).
                     A basename containing "redis-server" gets redis flags.
  --redis PATH       reference server (default: /usr/bin/redis-server)
  --rounds N         rounds; each round runs redis then darter (default 2)
  --keys N           keys to load, and the write load's -r keyspace (default 1000000)
  --threads N        darter --threads (default 2; ignored for redis-style binaries)
  --cpu-server C     taskset -c CPU list for BOTH servers (default 0; e.g. "0,1"
                     gives darter's threads two CPUs — and redis the same two)
  --cpu-load C       CPU list for redis-benchmark and this script's sampler
                     (default: the first allowed CPU not in --cpu-server)
  --clients N        redis-benchmark -c during the snapshot (default 20)
  --load MODE        how keys are loaded: "pipe" (default) = redis-cli --pipe of
                     SET key:%012d <100 bytes>, exactly the keys redis-benchmark
                     -r overwrites; "populate" = DEBUG POPULATE N key 100 (keys
                     key:N, which redis-benchmark does NOT hit: its SETs then
                     add new keys and the dataset grows during the save)
  --save-timeout S   give up on a BGSAVE after S seconds (default 60)
  --quick            smoke run: 100000 keys, 1 round
  -h, --help         this help
EOF
}

DARTER="$REPO_ROOT/build/darter-server"
REDIS="/usr/bin/redis-server"
ROUNDS=2
KEYS=1000000
THREADS=2
CPU_SERVER=0
CPU_LOAD=""
CLIENTS=20
LOAD_MODE=pipe
SAVE_TIMEOUT=60
SAMPLE_US=20000       # sampling period: 20 ms
VALUE_SIZE=100
QUICK=0

need_arg() { [ $# -ge 2 ] || die "option $1 needs a value"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --darter)       need_arg "$@"; DARTER=$2; shift 2 ;;
        --redis)        need_arg "$@"; REDIS=$2; shift 2 ;;
        --rounds)       need_arg "$@"; ROUNDS=$2; shift 2 ;;
        --keys)         need_arg "$@"; KEYS=$2; shift 2 ;;
        --threads)      need_arg "$@"; THREADS=$2; shift 2 ;;
        --cpu-server)   need_arg "$@"; CPU_SERVER=$2; shift 2 ;;
        --cpu-load)     need_arg "$@"; CPU_LOAD=$2; shift 2 ;;
        --clients)      need_arg "$@"; CLIENTS=$2; shift 2 ;;
        --load)         need_arg "$@"; LOAD_MODE=$2; shift 2 ;;
        --save-timeout) need_arg "$@"; SAVE_TIMEOUT=$2; shift 2 ;;
        --quick)        QUICK=1; shift ;;
        -h|--help)      usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done
if [ "$QUICK" = 1 ]; then KEYS=100000; ROUNDS=1; fi

for v in ROUNDS KEYS THREADS CLIENTS SAVE_TIMEOUT; do
    [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -gt 0 ] || die "$v must be a positive integer (got '${!v}')"
done
case "$LOAD_MODE" in pipe|populate) ;; *) die "--load must be pipe or populate" ;; esac
for t in redis-cli redis-benchmark taskset awk mkfifo; do
    command -v "$t" >/dev/null || die "$t not found on PATH"
done
[ -x "$REDIS" ] || die "redis binary not found: $REDIS"
[ -x "$DARTER" ] || die "darter binary not found: $DARTER (build it, or pass --darter PATH)"

# expand_cpus "0-2,5" -> "0 1 2 5"
expand_cpus() {
    local part i out=() IFS=,
    for part in $1; do
        if [[ $part =~ ^([0-9]+)-([0-9]+)$ ]]; then
            for (( i = BASH_REMATCH[1]; i <= BASH_REMATCH[2]; i++ )); do out+=("$i"); done
        elif [[ $part =~ ^[0-9]+$ ]]; then
            out+=("$part")
        else
            die "bad CPU list '$1'"
        fi
    done
    IFS=' '; echo "${out[*]}"
}
SERVER_CPUS=" $(expand_cpus "$CPU_SERVER") "
if [ -z "$CPU_LOAD" ]; then
    for c in $(expand_cpus "$(awk '/^Cpus_allowed_list:/ { print $2 }' /proc/$$/status)"); do
        case "$SERVER_CPUS" in *" $c "*) ;; *) CPU_LOAD=$c; break ;; esac
    done
    if [ -z "$CPU_LOAD" ]; then
        CPU_LOAD=$CPU_SERVER
        log "warning: no CPU left for the load generator; it shares $CPU_SERVER with the server"
    fi
fi
for c in $(expand_cpus "$CPU_LOAD"); do
    case "$SERVER_CPUS" in *" $c "*) log "warning: load CPU list '$CPU_LOAD' overlaps server CPUs '$CPU_SERVER'"; break ;; esac
done
# The sampler, redis-cli calls etc. run in this shell: keep them off the
# server CPUs (the servers themselves get their own taskset -c below).
taskset -pc "$CPU_LOAD" $$ >/dev/null || die "taskset -pc $CPU_LOAD failed"

# common.sh's server_argv has no --dir: wrap it (without editing common.sh) so
# each server saves into its own temp dir, and let redis accept DEBUG from
# localhost when --load populate needs it (redis 7 refuses DEBUG by default).
eval "_common_server_argv() $(declare -f server_argv | tail -n +2)"
SAVE_DIR=""
server_argv() {
    _common_server_argv "$@"
    SERVER_ARGV+=(--dir "$SAVE_DIR")
    if [ "$LOAD_MODE" = populate ] && is_redis_binary "$1"; then
        SERVER_ARGV+=(--enable-debug-command local)
    fi
}

bench_init_tmp
RESULTS="$BENCH_TMP/results.tsv"
: >"$RESULTS"
mkfifo "$BENCH_TMP/sleep.fifo"
exec {SLEEP_FD}<>"$BENCH_TMP/sleep.fifo"   # read -t on it = a sleep without a fork
T_START=$SECONDS
BUSY_START=$(busy_pct 1)
[ "$BUSY_START" -le 10 ] || log "warning: machine is ${BUSY_START}% busy before the benchmark; results will be noisy"

LOADFILE="$BENCH_TMP/load.resp"
if [ "$LOAD_MODE" = pipe ]; then
    log "generating $KEYS SET commands (key:%012d, ${VALUE_SIZE}-byte values)"
    gen_set_resp "$KEYS" 'key:%012d' "%0${VALUE_SIZE}d" >"$LOADFILE" || die "gen_set_resp failed"
fi

# ---- fork-free /proc and INFO readers for the 20 ms sampling loop ----------

# kb_of FILE FIELD: sets KB to FIELD's kB value, or NA. Reads the file in one
# go (smaps_rollup is regenerated on every seek, so no line-by-line reads).
kb_of() {
    local buf=""
    KB=NA
    { IFS= read -r -d '' buf <"$1"; } 2>/dev/null
    [[ $buf =~ (^|$'\n')$2:[[:space:]]+([0-9]+) ]] && KB=${BASH_REMATCH[2]}
}

# children_of PID: sets KIDS to the pids whose parent is PID.
children_of() {
    local f st rest
    KIDS=()
    for f in /proc/[0-9]*/stat; do
        { IFS= read -r st <"$f"; } 2>/dev/null || continue
        rest=${st##*) }            # fields after comm: state ppid ...
        rest=${rest#* }
        [ "${rest%% *}" = "$1" ] && { f=${f#/proc/}; KIDS+=("${f%/stat}"); }
    done
}

# resp_send FD ARGS...: send one command. resp_read FD: read one reply into
# REPLY_TYPE ('+', '-', ':', '$') and REPLY_BODY; 1 on timeout / bad reply.
resp_send() {
    local fd=$1 a out; shift
    out="*$#"$'\r\n'
    for a in "$@"; do out+="\$${#a}"$'\r\n'"$a"$'\r\n'; done
    { printf '%s' "$out" >&"$fd"; } 2>/dev/null
}
resp_read() {
    local fd=$1 hdr len
    REPLY_TYPE=""; REPLY_BODY=""
    IFS= read -r -t 10 -u "$fd" hdr || return 1
    hdr=${hdr%$'\r'}
    REPLY_TYPE=${hdr:0:1}; REPLY_BODY=${hdr:1}
    if [ "$REPLY_TYPE" = '$' ]; then
        len=$REPLY_BODY; REPLY_BODY=""
        [[ $len =~ ^[0-9]+$ ]] || return 1
        IFS= read -r -t 10 -N $(( len + 2 )) -u "$fd" REPLY_BODY || return 1
    fi
    return 0
}

# sample_bgsave PID PORT: send BGSAVE, then every 20 ms sample the server's
# and its children's memory, until INFO persistence says
# rdb_bgsave_in_progress:0. INFO is polled asynchronously (a new INFO is sent
# once the previous reply is in), so a slow reply from the busy server never
# stretches the sampling period. All sizes in kB. Sets S_* globals.
sample_bgsave() {
    local pid=$1 port=$2 fd t0 now next deadline p kids_rss kids_pd honest naive k wait_s pending=0
    S_PEAK=0; S_PEAK_NAIVE=0; S_PEAK_PARENT=0; S_PEAK_KID_PD=0; S_PEAK_KID_RSS=0
    S_SAMPLES=0; S_POLLS=0; S_SECS=NA; S_OK=0; S_ERR=""; S_SAW_PROGRESS=0
    exec {fd}<>"/dev/tcp/127.0.0.1/$port" || { S_ERR="connect failed"; return 1; }
    t0=${EPOCHREALTIME/./}
    resp_send "$fd" BGSAVE
    if ! resp_read "$fd" || [ "$REPLY_TYPE" = - ]; then
        S_ERR="BGSAVE: ${REPLY_BODY:-no reply}"; exec {fd}>&-; return 1
    fi
    next=$t0
    deadline=$(( t0 + SAVE_TIMEOUT * 1000000 ))
    while :; do
        kb_of "/proc/$pid/status" VmRSS; p=$KB
        [ "$p" = NA ] && { S_ERR="server process gone"; break; }
        children_of "$pid"
        kids_rss=0; kids_pd=0
        for k in "${KIDS[@]}"; do
            kb_of "/proc/$k/status" VmRSS;              [ "$KB" = NA ] || kids_rss=$(( kids_rss + KB ))
            kb_of "/proc/$k/smaps_rollup" Private_Dirty; [ "$KB" = NA ] || kids_pd=$(( kids_pd + KB ))
        done
        honest=$(( p + kids_pd )); naive=$(( p + kids_rss ))
        (( honest > S_PEAK )) && S_PEAK=$honest
        (( naive > S_PEAK_NAIVE )) && S_PEAK_NAIVE=$naive
        (( p > S_PEAK_PARENT )) && S_PEAK_PARENT=$p
        (( kids_pd > S_PEAK_KID_PD )) && S_PEAK_KID_PD=$kids_pd
        (( kids_rss > S_PEAK_KID_RSS )) && S_PEAK_KID_RSS=$kids_rss
        S_SAMPLES=$(( S_SAMPLES + 1 ))
        if [ "$pending" = 1 ] && read -r -t 0 -u "$fd"; then
            resp_read "$fd" || { S_ERR="INFO persistence: bad or no reply"; break; }
            pending=0; S_POLLS=$(( S_POLLS + 1 ))
            if [[ $REPLY_BODY == *rdb_bgsave_in_progress:1* ]]; then
                S_SAW_PROGRESS=1
            elif [[ $REPLY_BODY == *rdb_bgsave_in_progress:0* ]]; then
                now=${EPOCHREALTIME/./}
                printf -v S_SECS '%d.%02d' $(( (now - t0) / 1000000 )) $(( (now - t0) % 1000000 / 10000 ))
                [[ $REPLY_BODY == *rdb_last_bgsave_status:ok* ]] && S_OK=1 || S_ERR="rdb_last_bgsave_status not ok"
                break
            else
                S_ERR="no rdb_bgsave_in_progress in INFO persistence"; break
            fi
        fi
        if [ "$pending" = 0 ]; then resp_send "$fd" INFO persistence; pending=1; fi
        now=${EPOCHREALTIME/./}
        (( now > deadline )) && { S_ERR="BGSAVE still running after ${SAVE_TIMEOUT}s"; break; }
        next=$(( next + SAMPLE_US ))
        (( next <= now )) && next=$now
        if (( next > now )); then
            printf -v wait_s '%d.%06d' $(( (next - now) / 1000000 )) $(( (next - now) % 1000000 ))
            read -r -t "$wait_s" -u "$SLEEP_FD" _
        fi
    done
    exec {fd}>&-
    [ -z "$S_ERR" ]
}

# ---- one measurement --------------------------------------------------------

# mb KB -> MiB with 1 decimal
mb() { awk -v k="$1" 'BEGIN { if (k == "NA" || k == "") print "NA"; else printf "%.1f", k / 1024 }'; }

# run_one ROUND SIDE BIN: appends one row to $RESULTS.
run_one() {
    local round=$1 side=$2 bin=$3 pid port n before at_save lpid cb tb c0 t0 c1 t1 writes rate_idle rate_save cow rdbsz
    SAVE_DIR="$BENCH_TMP/rdb-$side-$round"
    mkdir -p "$SAVE_DIR"
    start_server "$side" "$bin" "$CPU_SERVER" "$THREADS"
    pid=$SERVER_PID; port=$SERVER_PORT
    if [ "$LOAD_MODE" = pipe ]; then
        pipe_load "$port" "$LOADFILE" || die "$side: bulk load failed"
    else
        n=$(timeout 300 redis-cli -h 127.0.0.1 -p "$port" debug populate "$KEYS" key "$VALUE_SIZE" 2>&1 | tr -d '\r')
        [ "$n" = OK ] || die "$side: DEBUG POPULATE failed: $n"
    fi
    n=$(timeout 10 redis-cli -h 127.0.0.1 -p "$port" dbsize 2>/dev/null | tr -d '\r')
    [ "$n" = "$KEYS" ] || die "$side: DBSIZE is '$n' after loading, expected $KEYS"
    sleep 1                                   # let lazy frees / rehashing settle
    before=$(( $(rss_bytes "$pid") / 1024 ))

    taskset -c "$CPU_LOAD" redis-benchmark -h 127.0.0.1 -p "$port" -t set -r "$KEYS" -d "$VALUE_SIZE" \
        -c "$CLIENTS" -n 2000000000 -q >"$BENCH_TMP/rb-$side-$round.out" 2>&1 </dev/null &
    lpid=$!
    BENCH_PIDS+=("$lpid")
    sleep 0.5                                 # let the load ramp up
    kill -0 "$lpid" 2>/dev/null || die "$side: redis-benchmark exited: $(tail -c 300 "$BENCH_TMP/rb-$side-$round.out")"
    # write rate without a snapshot (1 s), then the same counter across the save
    cb=$(info_field "$port" total_commands_processed); tb=${EPOCHREALTIME/./}
    sleep 1
    c0=$(info_field "$port" total_commands_processed); t0=${EPOCHREALTIME/./}
    at_save=$(( $(rss_bytes "$pid") / 1024 ))

    sample_bgsave "$pid" "$port" || die "$side round $round: ${S_ERR}"
    [ "$S_OK" = 1 ] || die "$side round $round: BGSAVE did not succeed"

    c1=$(info_field "$port" total_commands_processed); t1=${EPOCHREALTIME/./}
    stop_pid "$lpid"; forget_pid "$lpid"
    n=$(timeout 10 redis-cli -h 127.0.0.1 -p "$port" dbsize 2>/dev/null | tr -d '\r')
    [ "$n" = "$KEYS" ] || log "  warning: $side DBSIZE is $n after the write load (was $KEYS): the load added keys, so the peak includes dataset growth"
    writes=$(awk -v a="$c0" -v b="$c1" 'BEGIN { if (a == "NA" || b == "NA") print "NA"; else print b - a }')
    rate_idle=$(awk -v a="$cb" -v b="$c0" -v t="$(( t0 - tb ))" 'BEGIN { if (a == "NA" || b == "NA") print "NA"; else printf "%.0f", (b - a) / (t / 1e6) }')
    rate_save=$(awk -v a="$c0" -v b="$c1" -v t="$(( t1 - t0 ))" 'BEGIN { if (a == "NA" || b == "NA") print "NA"; else printf "%.0f", (b - a) / (t / 1e6) }')
    cow=$(info_field "$port" rdb_last_cow_size)
    rdbsz=$(stat -c %s "$SAVE_DIR/dump.rdb" 2>/dev/null || echo NA)
    stop_server "$pid"
    rm -rf -- "$SAVE_DIR"

    log "  round $round $side: before $(mb "$before") MiB, at BGSAVE $(mb "$at_save") MiB," \
        "peak $(mb "$S_PEAK") MiB (naive $(mb "$S_PEAK_NAIVE")), child Private_Dirty $(mb "$S_PEAK_KID_PD") MiB," \
        "save ${S_SECS}s, $S_SAMPLES samples, $S_POLLS INFO polls, ~$writes commands during save" \
        "(write rate: $rate_idle/s before, $rate_save/s during the save)"
    [ "$S_SAW_PROGRESS" = 1 ] || log "  note: BGSAVE finished before the first INFO poll (one sample only)"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$round" "$side" "$before" "$at_save" "$S_PEAK" "$S_PEAK_NAIVE" "$S_PEAK_PARENT" \
        "$S_PEAK_KID_PD" "$S_PEAK_KID_RSS" "$S_SECS" "$S_SAMPLES" "$writes" "$cow" "$rdbsz" \
        "$rate_idle" "$rate_save" >>"$RESULTS"
}

log "redis:  $REDIS"
log "darter: $DARTER$(is_redis_binary "$DARTER" && echo ' (redis-style flags)') --threads $THREADS"
log "rounds=$ROUNDS keys=$KEYS load=$LOAD_MODE clients=$CLIENTS cpu server=$CPU_SERVER load=$CPU_LOAD"
for (( r = 1; r <= ROUNDS; r++ )); do
    run_one "$r" redis "$REDIS"
    run_one "$r" darter "$DARTER"
done
T_END=$SECONDS

# ---- report -----------------------------------------------------------------

echo
echo "BGSAVE peak memory under write load — $KEYS keys x ${VALUE_SIZE}-byte values (load: $LOAD_MODE), $ROUNDS round(s), wall $(( T_END - T_START ))s"
echo "redis:  $REDIS --save '' --appendonly no --dir <tmp>   (taskset -c $CPU_SERVER)"
echo "darter: $DARTER --save '' --dir <tmp> --threads $THREADS   (taskset -c $CPU_SERVER)"
echo "write load during BGSAVE: redis-benchmark -t set -r $KEYS -d $VALUE_SIZE -c $CLIENTS (taskset -c $CPU_LOAD); machine ${BUSY_START}% busy at start"
echo
echo "measure: peak = max over 20 ms samples of (server VmRSS + sum of its children's Private_Dirty"
echo "         from /proc/PID/smaps_rollup); ratio = peak / before. redis: child = the fork;"
echo "         darter: no child. naive = server VmRSS + children's VmRSS (counts pages shared"
echo "         with the parent twice). Sizes in MiB."
echo
awk -F'\t' '
    function mb(k) { return (k == "NA" ? "NA" : sprintf("%.1f", k / 1024)) }
    function m(b) { return (b == "NA" ? "NA" : sprintf("%.1f", b / 1048576)) }
    BEGIN {
        printf "%-5s %-6s %7s %9s %7s %6s %7s %6s %8s %8s %9s %6s %7s %7s %9s %9s %8s %6s\n",
            "round", "server", "before", "at_bgsave", "peak", "ratio", "naive", "ratio", "srv_peak",
            "child_pd", "child_rss", "save_s", "samples", "cmds", "set/s_pre", "set/s_save", "cow_info", "rdb"
    }
    {
        printf "%-5s %-6s %7s %9s %7s %6.3f %7s %6.3f %8s %8s %9s %6s %7s %7s %9s %9s %8s %6s\n",
            $1, $2, mb($3), mb($4), mb($5), $5 / $3, mb($6), $6 / $3, mb($7), mb($8), mb($9),
            $10, $11, $12, $15, $16, m($13), m($14)
    }' "$RESULTS"
echo
echo "cmds = total_commands_processed during the save (the SET load plus ~1 INFO per sample);"
echo "set/s_pre, set/s_save = command rate in the 1 s before BGSAVE and during the save. A server"
echo "that serves fewer writes while saving also copies fewer pages/slots: compare the peaks"
echo "only together with these rates."
echo "cow_info = INFO rdb_last_cow_size (redis's own count of COW bytes; darter reports 0); rdb = dump.rdb size."
echo

# per-server medians and the per-round darter/redis overhead comparison
col() { awk -F'\t' -v s="$1" -v c="$2" '$2 == s { print $c }' "$RESULTS"; }
ratios() { awk -F'\t' -v s="$1" -v c="$2" '$2 == s { printf "%.6f\n", $c / $3 }' "$RESULTS"; }
R_RATIO=$(ratios redis 5 | median);  D_RATIO=$(ratios darter 5 | median)
R_NAIVE=$(ratios redis 6 | median);  D_NAIVE=$(ratios darter 6 | median)
R_BEFORE=$(col redis 3 | median);    D_BEFORE=$(col darter 3 | median)
R_OVER=$(awk -F'\t' '$2 == "redis" { print $5 - $3 }' "$RESULTS" | median)
D_OVER=$(awk -F'\t' '$2 == "darter" { print $5 - $3 }' "$RESULTS" | median)
# per round: darter (peak - before) / redis (peak - before)
OVER_RATIOS=$(awk -F'\t' '$2 == "redis" { r[$1] = $5 - $3 } $2 == "darter" { d[$1] = $5 - $3 }
    END { for (k in r) if (k in d) { if (r[k] > 0) printf "%.6f\n", d[k] / r[k]; else print "NA" } }' "$RESULTS")
OVER_RATIO=$(printf '%s\n' "$OVER_RATIOS" | median)
OVER_RANGE=$(printf '%s\n' "$OVER_RATIOS" | grep -v NA | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%.3f-%.3f", lo, hi; else print "NA" }')

printf '%-7s %12s %12s %14s %12s\n' server before_MiB overhead_MiB "peak/before" "naive/before"
printf '%-7s %12s %12s %14s %12s\n' redis  "$(mb "$R_BEFORE")" "$(mb "$R_OVER")" "$(fmt "$R_RATIO" 3)" "$(fmt "$R_NAIVE" 3)"
printf '%-7s %12s %12s %14s %12s\n' darter "$(mb "$D_BEFORE")" "$(mb "$D_OVER")" "$(fmt "$D_RATIO" 3)" "$(fmt "$D_NAIVE" 3)"
echo "(medians over rounds; overhead = peak - before)"
echo
echo "darter/redis peak overhead (per-round (peak-before) ratio, median): $(fmt "$OVER_RATIO" 3)  range $OVER_RANGE  (<1: darter needs less extra memory to snapshot)"
echo
echo "BGSAVE_PEAK_RATIO_NAIVE redis $(fmt "$R_NAIVE" 2)"
echo "BGSAVE_PEAK_RATIO_NAIVE darter $(fmt "$D_NAIVE" 2)"
echo "BGSAVE_OVERHEAD_RATIO darter/redis $(fmt "$OVER_RATIO" 3)"
echo "BGSAVE_PEAK_RATIO redis $(fmt "$R_RATIO" 2)"
echo "BGSAVE_PEAK_RATIO darter $(fmt "$D_RATIO" 2)"
