# bench/lib/common.sh — shared helpers for bench/*.sh: server start/stop
# (redis vs darter command lines), free-port picking, /proc CPU and RSS
# readers, medians, RESP bulk-load generation and cleanup. Sourced, not run.
# Everything here talks to 127.0.0.1 only and only kills pids it started.
# shellcheck shell=bash disable=SC2034  # globals are read by the callers

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_ROOT="$(cd "$BENCH_DIR/.." && pwd)"

BENCH_TMP=""
BENCH_PIDS=()

log()  { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die()  { printf 'error: %s\n' "$*" >&2; exit 1; }

bench_init_tmp() {
    BENCH_TMP="$(mktemp -d "${TMPDIR:-/tmp}/darter-bench.XXXXXX")" || die "mktemp failed"
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# Kill every server this script started (by pid), then remove the temp dir.
bench_cleanup() {
    local pid
    for pid in "${BENCH_PIDS[@]}"; do
        [ -n "$pid" ] && stop_pid "$pid"
    done
    BENCH_PIDS=()
    [ -n "$BENCH_TMP" ] && [ -d "$BENCH_TMP" ] && rm -rf -- "$BENCH_TMP"
}

# stop_pid PID: TERM, wait up to 5 s, then KILL.
stop_pid() {
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    kill -TERM "$pid" 2>/dev/null
    kill -CONT "$pid" 2>/dev/null      # in case it was SIGSTOPped
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

# run_fg OUTFILE CMD...: run CMD with stdout to OUTFILE (stderr appended to
# $BENCH_TMP/loadgen.err) in the background and wait for it, so a TERM/INT
# trap fires at once instead of after CMD finishes; cleanup kills it too.
run_fg() {
    local outf=$1 pid rc; shift
    "$@" >"$outf" 2>>"$BENCH_TMP/loadgen.err" </dev/null &
    pid=$!
    BENCH_PIDS+=("$pid")
    wait "$pid"; rc=$?
    forget_pid "$pid"
    return $rc
}

forget_pid() {
    local p=$1 out=() x
    for x in "${BENCH_PIDS[@]}"; do [ "$x" != "$p" ] && out+=("$x"); done
    BENCH_PIDS=("${out[@]}")
}

# port_is_free PORT: nothing listening on 127.0.0.1:PORT (or wildcard).
port_is_free() {
    local p=$1
    if ss -Htln 2>/dev/null | awk '{print $4}' | grep -Eq "[:.]$p\$"; then
        return 1
    fi
    # Double check with a connect attempt (works without ss too).
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        return 1
    fi
    return 0
}

# pick_port: print a random free TCP port in 20000..59999.
pick_port() {
    local i p
    for i in $(seq 1 200); do
        p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        if port_is_free "$p"; then echo "$p"; return 0; fi
    done
    die "could not find a free port"
}

# is_redis_binary PATH: true if the binary should get redis-server style flags.
is_redis_binary() {
    case "$(basename -- "$1")" in *redis-server*) return 0 ;; esac
    return 1
}

# server_argv PATH PORT THREADS: fill the global array SERVER_ARGV.
server_argv() {
    local bin=$1 port=$2 threads=$3
    if is_redis_binary "$bin"; then
        SERVER_ARGV=("$bin" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no)
    else
        SERVER_ARGV=("$bin" --port "$port" --bind 127.0.0.1 --save '' --threads "$threads")
    fi
}

# start_server NAME BIN CPU THREADS
# Starts the server pinned to CPU, waits until it answers PING.
# Sets globals SERVER_PID and SERVER_PORT. Retries on a port race.
start_server() {
    local name=$1 bin=$2 cpu=$3 threads=$4
    local attempt port pid logf wdir ok deadline
    [ -x "$bin" ] || die "$name binary not found or not executable: $bin"
    for attempt in 1 2 3; do
        port=$(pick_port)
        server_argv "$bin" "$port" "$threads"
        logf="$BENCH_TMP/$name.$port.log"
        wdir="$BENCH_TMP/wd-$name-$port"     # cwd: any stray files land here
        mkdir -p "$wdir"
        ( cd "$wdir" && exec taskset -c "$cpu" "${SERVER_ARGV[@]}" ) >"$logf" 2>&1 </dev/null &
        pid=$!
        BENCH_PIDS+=("$pid")
        ok=0
        deadline=$(( SECONDS + 10 ))
        while [ "$SECONDS" -lt "$deadline" ]; do
            if ! kill -0 "$pid" 2>/dev/null; then break; fi
            if [ "$(timeout 2 redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = "PONG" ]; then ok=1; break; fi
            sleep 0.1
        done
        if [ "$ok" = 1 ] && kill -0 "$pid" 2>/dev/null; then
            SERVER_PID=$pid
            SERVER_PORT=$port
            return 0
        fi
        if kill -0 "$pid" 2>/dev/null; then
            # Running but silent: not a port race, retrying will not help.
            log "$name is running but did not answer PING within 10 s on port $port; log:"
            sed 's/^/    /' "$logf" | tail -n 20 >&2
            die "$name not answering: ${SERVER_ARGV[*]}"
        fi
        log "$name exited during startup on port $port (attempt $attempt); log:"
        sed 's/^/    /' "$logf" | tail -n 20 >&2
        stop_pid "$pid"; forget_pid "$pid"
    done
    die "$name would not start: ${SERVER_ARGV[*]}"
}

stop_server() {
    local pid=$1
    stop_pid "$pid"
    forget_pid "$pid"
}

# cpu_ticks PID: utime+stime (clock ticks) of the whole process, from /proc/PID/stat.
cpu_ticks() {
    local stat rest
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo "NA"; return 1; }
    rest=${stat##*) }          # comm may contain spaces/parens: cut after the last ")"
    # rest starts at field 3 (state); utime is field 14, stime field 15.
    set -- $rest
    echo $(( ${12} + ${13} ))
}

# rss_bytes PID: VmRSS from /proc/PID/status, in bytes.
rss_bytes() {
    awk '/^VmRSS:/ { print $2 * 1024; found=1 } END { if (!found) print "NA" }' "/proc/$1/status" 2>/dev/null
}

# info_field PORT FIELD: a field from INFO (e.g. used_memory), or NA.
info_field() {
    local v
    v=$(timeout 10 redis-cli -h 127.0.0.1 -p "$1" info 2>/dev/null | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2; exit }')
    [ -n "$v" ] && echo "$v" || echo "NA"
}

# busy_pct SECONDS: machine-wide non-idle CPU percentage (of all CPUs) over
# SECONDS, from /proc/stat. Used as a "is something else running?" check.
busy_pct() {
    local a b
    a=$(awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $5+$6 }' /proc/stat)
    sleep "$1"
    b=$(awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $5+$6 }' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN {
        split(a, x, " "); split(b, y, " ")
        busy = y[1] - x[1]; idle = y[2] - x[2]
        if (busy + idle == 0) print 0; else printf "%.0f\n", 100 * busy / (busy + idle) }'
}

# median: numbers on stdin (one per line, "NA" ignored) -> median on stdout, or NA.
median() {
    grep -Ev '^(NA|)$' | sort -g | awk '{ a[NR] = $1 }
        END {
            if (NR == 0) { print "NA"; exit }
            if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2
        }'
}

# gen_set_resp N KEYFMT VALFMT > file: RESP stream of N "SET key value" commands.
# KEYFMT / VALFMT are awk printf formats taking the index i (0-based).
gen_set_resp() {
    awk -v n="$1" -v kf="$2" -v vf="$3" 'BEGIN {
        for (i = 0; i < n; i++) {
            k = sprintf(kf, i); v = sprintf(vf, i)
            printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v
        }
    }'
}

# gen_coll_resp SHAPE NKEYS NELEMS > file: RESP stream that builds NKEYS
# collections of NELEMS small elements each, 10 elements per command:
#   hashes: HSET h:%07d field:%d val:%d ...   sets: SADD s:%07d member:%d ...
#   zsets:  ZADD z:%07d <i> member:%d ...      lists: RPUSH l:%07d item:%d ...
gen_coll_resp() {
    awk -v shape="$1" -v nk="$2" -v ne="$3" '
    function bulk(s) { return sprintf("$%d\r\n%s\r\n", length(s), s) }
    BEGIN {
        cmd = shape == "hashes" ? "HSET" : shape == "sets" ? "SADD" : shape == "zsets" ? "ZADD" : "RPUSH"
        pfx = shape == "hashes" ? "h:" : shape == "sets" ? "s:" : shape == "zsets" ? "z:" : "l:"
        per = (shape == "hashes" || shape == "zsets") ? 2 : 1
        for (k = 0; k < nk; k++) {
            key = sprintf("%s%07d", pfx, k)
            for (e = 0; e < ne; e += 10) {
                m = ne - e < 10 ? ne - e : 10
                out = sprintf("*%d\r\n", 2 + m * per) bulk(cmd) bulk(key)
                for (j = e; j < e + m; j++) {
                    if (shape == "hashes") out = out bulk("field:" j) bulk("val:" j)
                    else if (shape == "sets") out = out bulk("member:" j)
                    else if (shape == "zsets") out = out bulk(j) bulk("member:" j)
                    else out = out bulk("item:" j)
                }
                printf "%s", out
            }
        }
    }'
}

# pipe_load PORT FILE: bulk-load a RESP file with redis-cli --pipe; checks for errors.
pipe_load() {
    local port=$1 file=$2 out
    out=$(timeout 600 redis-cli -h 127.0.0.1 -p "$port" --pipe <"$file" 2>&1) || {
        log "redis-cli --pipe failed: $out"; return 1; }
    if ! printf '%s\n' "$out" | grep -q 'errors: 0,'; then
        log "redis-cli --pipe reported errors: $out"; return 1
    fi
    return 0
}

# fmt NUM DECIMALS: printf a number, passing NA through.
fmt() {
    case "$1" in NA|"") echo "NA" ;; *) printf "%.${2}f" "$1" ;; esac
}

# ratio A B: A/B with 4 decimals, NA if either missing or B is 0.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "NA" || b == "NA" || a == "" || b == "" || b + 0 == 0) print "NA"
        else printf "%.4f\n", a / b
    }'
}
