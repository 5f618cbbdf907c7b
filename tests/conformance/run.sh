#!/usr/bin/env bash
# tests/conformance/run.sh — owns: running Redis 7.0's own TCL test suite (Debian's
# `redis` source package) in external-server mode against a server binary, one fresh
# server process per unit, and printing the final line "N passed, M failed".
#
# Usage: tests/conformance/run.sh [--server PATH] [--threads N] [unit ...]
#   --server PATH  server binary (default: build/darter-server in the repo root)
#   --threads N    passed to the server as --threads N (darter only)
#   unit ...       units such as unit/type/string (default: the list in units.txt)
# Environment:
#   REDIS_SRC_DIR  where the redis source is downloaded/cached (default: tests/conformance/.redis-src)
#   UNIT_TIMEOUT   seconds allowed per unit (default 600)
#   TEST_TIMEOUT   runtest --timeout: seconds without progress before runtest gives up (default 120)
#   VERBOSE=1      also stream runtest's own output
#   KEEP_TMP=1     keep each unit's temp dir (server log, runtest log) instead of deleting it
# Exit status: 0 only if every test passed and no unit crashed, aborted or timed out.

set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
REDIS_SRC_DIR=${REDIS_SRC_DIR:-$SCRIPT_DIR/.redis-src}
UNIT_TIMEOUT=${UNIT_TIMEOUT:-600}
TEST_TIMEOUT=${TEST_TIMEOUT:-120}
VERBOSE=${VERBOSE:-0}
KEEP_TMP=${KEEP_TMP:-0}
UNITS_FILE=$SCRIPT_DIR/units.txt
SKIP_FILE=$SCRIPT_DIR/skip.txt
SKIP_REASONS=$SCRIPT_DIR/skip-reasons.md
EXCLUDED_TAGS=(needs:repl needs:debug needs:config-maxmemory
               needs:config-resetstat needs:save needs:latency needs:local-process)
# Units whose `external:skip` tags are lifted: Redis tags them so only because
# its own external CI runs against clusters or managed services; against one
# darter process they run as written. run.sh feeds runtest a copy of the unit
# with the tag removed (nothing else changed); tests that really need a second
# server (replication) are then in skip.txt like any other exclusion.
LIFT_EXTERNAL_SKIP=(unit/pubsubshard)

SERVER=$REPO_ROOT/build/darter-server
THREADS=
UNITS=()
SRC_TREE=
TOTAL_PASSED=0
TOTAL_FAILED=0
BAD_UNITS=()
# State of the unit currently running (used by the cleanup trap).
SERVER_PID=
SERVER_STATUS=
START_ERROR=
RUNTEST_PID=
UNIT_TMP=

log()  { printf '%s\n' "$*"; }
warn() { printf 'run.sh: %s\n' "$*" >&2; }
die()  { warn "$*"; exit 2; }

usage() {
    sed -n '6,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

parse_args() {
    while (($#)); do
        case $1 in
            --server)  [[ $# -ge 2 ]] || die "--server needs a path"; SERVER=$2; shift 2 ;;
            --threads) [[ $# -ge 2 ]] || die "--threads needs a number"; THREADS=$2; shift 2 ;;
            -h|--help) usage; exit 0 ;;
            -*)        die "unknown option: $1 (see --help)" ;;
            *)         UNITS+=("$1"); shift ;;
        esac
    done
    [[ -z $THREADS || $THREADS =~ ^[0-9]+$ ]] || die "--threads must be a number"
    [[ $SERVER == /* ]] || SERVER=$PWD/$SERVER
    [[ -x $SERVER ]] || die "server binary not found or not executable: $SERVER"
    if ((${#UNITS[@]} == 0)); then
        mapfile -t UNITS < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e 's/^[[:space:]]*//' "$UNITS_FILE" | grep -v '^$')
    fi
    ((${#UNITS[@]})) || die "no units to run"
}

is_darter() { [[ $(basename "$SERVER") == *darter* ]]; }

# ---------------------------------------------------------------- prerequisites

apt_install() {
    [[ $EUID -eq 0 ]] || die "need root to apt-get install $*"
    log "Installing $* ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "$@" >/dev/null ||
        { apt-get update >/dev/null && apt-get install -y --no-install-recommends "$@" >/dev/null; } ||
        die "apt-get install $* failed"
}

ensure_tools() {
    # runtest looks for tclsh8.5/8.6/8.7 specifically.
    command -v tclsh8.6 >/dev/null || command -v tclsh8.7 >/dev/null ||
        command -v tclsh8.5 >/dev/null || apt_install tcl
    command -v redis-cli >/dev/null || apt_install redis-tools
    command -v timeout >/dev/null || die "coreutils 'timeout' is missing"
}

has_deb_src() {
    grep -qs '^Types:.*deb-src' /etc/apt/sources.list.d/*.sources ||
        grep -qs '^[[:space:]]*deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/*.list
}

ensure_deb_src() {
    has_deb_src && return 0
    local main=/etc/apt/sources.list.d/debian.sources
    if [[ -f $main ]]; then
        log "Adding a deb-src entry (/etc/apt/sources.list.d/debian-src.sources)"
        sed 's/^Types: deb$/Types: deb-src/' "$main" > /etc/apt/sources.list.d/debian-src.sources
    elif grep -qs '^[[:space:]]*deb ' /etc/apt/sources.list; then
        log "Adding deb-src lines (/etc/apt/sources.list.d/debian-src.list)"
        sed -n 's/^[[:space:]]*deb /deb-src /p' /etc/apt/sources.list > /etc/apt/sources.list.d/debian-src.list
    else
        die "no deb-src entry and no apt source to derive one from"
    fi
}

# Prints the path of a redis source tree (a dir containing runtest) under REDIS_SRC_DIR.
find_src_tree() {
    if [[ -x $REDIS_SRC_DIR/runtest ]]; then
        printf '%s\n' "$REDIS_SRC_DIR"; return 0
    fi
    local d found=
    for d in "$REDIS_SRC_DIR"/redis-*/; do
        [[ -x ${d}runtest ]] && found=${d%/}
    done
    [[ -n $found ]] && printf '%s\n' "$found"
}

ensure_redis_source() {
    if ! SRC_TREE=$(find_src_tree); then
        [[ $EUID -eq 0 ]] || die "need root to download the redis source into $REDIS_SRC_DIR"
        command -v dpkg-source >/dev/null || apt_install dpkg-dev
        ensure_deb_src
        mkdir -p "$REDIS_SRC_DIR" || die "cannot create $REDIS_SRC_DIR"
        log "Downloading the redis source package into $REDIS_SRC_DIR ..."
        apt-get update >/dev/null || die "apt-get update failed"
        (cd "$REDIS_SRC_DIR" && apt-get source redis) > "$REDIS_SRC_DIR/apt-get-source.log" 2>&1 ||
            die "apt-get source redis failed, see $REDIS_SRC_DIR/apt-get-source.log"
        SRC_TREE=$(find_src_tree) || die "no redis source tree found in $REDIS_SRC_DIR after download"
    fi
    grep -qs 'REDIS_VERSION "7\.0\.' "$SRC_TREE/src/version.h" ||
        warn "warning: $SRC_TREE does not look like redis 7.0.x"
}

check_skip_reasons() {
    local line
    while IFS= read -r line; do
        [[ -z $line ]] && continue
        grep -qF -- "$line" "$SKIP_REASONS" || warn "warning: skip.txt line has no reason in skip-reasons.md: $line"
    done < "$SKIP_FILE"
}

# ---------------------------------------------------------------- server

port_in_use() {
    if command -v ss >/dev/null; then
        ss -Hltn "sport = :$1" | grep -q .
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
    fi
}

# Random free port in 30000-32699: below Linux's ephemeral range and away from
# the ports runtest's own test server uses (around 21079).
free_port() {
    local port _
    for _ in {1..200}; do
        port=$((30000 + RANDOM % 2700))
        port_in_use "$port" || { printf '%s\n' "$port"; return 0; }
    done
    return 1
}

server_args() {
    local port=$1
    local args=(--port "$port" --bind 127.0.0.1 --save "" --appendonly no)
    if is_darter; then
        [[ -n $THREADS ]] && args+=(--threads "$THREADS")
    else
        args+=(--daemonize no)
    fi
    printf '%s\0' "${args[@]}"
}

ping_server() {
    local reply
    reply=$(timeout 2 redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null) && [[ $reply == PONG ]]
}

# start_server PORT: starts the server in UNIT_TMP, sets SERVER_PID, waits for PONG
# (10 s). On failure sets START_ERROR; SERVER_PID is then empty if the server exited.
start_server() {
    local port=$1 args deadline=$((SECONDS + 10))
    mapfile -d '' -t args < <(server_args "$port")
    (cd "$UNIT_TMP" && exec "$SERVER" "${args[@]}") > "$UNIT_TMP/server.log" 2>&1 &
    SERVER_PID=$!
    while ((SECONDS <= deadline)); do
        ping_server "$port" && return 0
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            wait "$SERVER_PID" 2>/dev/null
            START_ERROR="server exited before answering PING ($(describe_status $?))"
            SERVER_PID=
            return 1
        fi
        sleep 0.1
    done
    START_ERROR="server did not answer PING within 10 s"
    return 1
}

server_alive() { [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; }

# SIGTERM, then SIGKILL after 5 s. Sets SERVER_STATUS to the server's exit status.
stop_server() {
    [[ -n $SERVER_PID ]] || return 0
    local _
    kill -TERM "$SERVER_PID" 2>/dev/null
    for _ in {1..50}; do
        server_alive || break
        sleep 0.1
    done
    server_alive && kill -KILL "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_STATUS=$?
    SERVER_PID=
}

print_server_log_tail() {
    log "    --- server log (last 30 lines) ---"
    tail -n 30 "$UNIT_TMP/server.log" 2>/dev/null | sed 's/^/    | /'
    log "    ---"
}

# ---------------------------------------------------------------- one unit

# run_runtest UNIT PORT OUT: runs one unit under `timeout`, output to OUT; returns
# runtest's (or timeout's) exit status. Runs in the background and waits so that a
# signal to this script can stop it (timeout puts runtest in its own process group).
# unit_path UNIT: what to pass to runtest's --single (a path under tests/, no .tcl):
# UNIT itself, or for LIFT_EXTERNAL_SKIP units a copy in UNIT_TMP without the tag.
unit_path() {
    local unit=$1 u
    for u in "${LIFT_EXTERNAL_SKIP[@]}"; do
        [[ $u == "$unit" ]] || continue
        mkdir -p "$UNIT_TMP/lifted"
        sed 's/ external:skip//g; s/external:skip //g' "$SRC_TREE/tests/$unit.tcl" > "$UNIT_TMP/lifted/${unit##*/}.tcl"
        realpath --relative-to="$SRC_TREE/tests" "$UNIT_TMP/lifted/${unit##*/}"
        return
    done
    printf '%s\n' "$unit"
}

run_runtest() {
    local unit=$1 port=$2 out=$3 tags tail_pid="" rc
    tags=$(printf -- '-%s ' "${EXCLUDED_TAGS[@]}")
    unit=$(unit_path "$unit")
    # runtest's own client port is searched just below --baseport; a random
    # base keeps two runs on one machine from racing for the same port.
    local baseport=$((10000 + (RANDOM % 300) * 64)) # below the ephemeral range and the server ports
    # TERM=dumb keeps runtest's output free of colour codes.
    (cd "$SRC_TREE" && TERM=dumb exec timeout -k 10 "$UNIT_TIMEOUT" \
        ./runtest --host 127.0.0.1 --port "$port" --baseport "$baseport" --durable --single "$unit" \
                  --skipfile "$SKIP_FILE" --tags "${tags% }" --timeout "$TEST_TIMEOUT" \
        </dev/null > "$out" 2>&1) &
    RUNTEST_PID=$!
    if [[ $VERBOSE == 1 ]]; then
        tail -n +1 -f --pid="$RUNTEST_PID" "$out" &
        tail_pid=$!
    fi
    wait "$RUNTEST_PID"
    rc=$?
    RUNTEST_PID=
    [[ -n $tail_pid ]] && wait "$tail_pid"
    return "$rc"
}

# Prints each failing test: its name, then one line of its message. runtest drops
# the first 10 characters of non-assertion errors; the line after (the start of the
# Tcl backtrace) has the full text then, so prefer it when it contains the message.
print_failures() {
    awk '
        function flush() {
            if (!state) return
            line = (state == 2 && msg != "" && index(next_line, msg)) ? next_line : msg
            if (line != "") printf "        %s\n", substr(line, 1, 200)
            state = 0
        }
        /^\[(err|exception)\]: / {
            flush()
            name = $0; sub(/^\[[a-z]+\]: /, "", name); sub(/ in tests\/[^ ]*\.tcl$/, "", name)
            printf "    FAILED: %s\n", name; state = 1; msg = ""; next
        }
        state == 1 { msg = $0; state = 2; next_line = ""; next }
        state == 2 { next_line = $0; flush() }
        END { flush() }
    ' "$1"
}

# Describes an exit status: "exit status N" or "killed by SIGxxx".
describe_status() {
    if (($1 > 128)); then
        printf 'killed by SIG%s\n' "$(kill -l $(($1 - 128)) 2>/dev/null || echo "?")"
    else
        printf 'exit status %s\n' "$1"
    fi
}

# report_unit UNIT LOG RUNTEST_RC SERVER_CRASHED SERVER_STATUS SECONDS
report_unit() {
    local unit=$1 out=$2 rc=$3 crashed=$4 sstatus=$5 secs=$6
    local passed errs excs failed skipped notes=()
    passed=$(grep -c '^\[ok\]: ' "$out")
    skipped=$(grep -cE '^\[(skip|ignore)\]: ' "$out")
    errs=$(grep -c '^\[err\]: ' "$out")
    excs=$(grep -c '^\[exception\]: ' "$out")
    failed=$((errs + excs))

    if ((rc == 124 || rc == 137)); then
        notes+=("unit TIMED OUT after ${UNIT_TIMEOUT}s"); ((failed++))
    elif grep -q '^\[TIMEOUT\]' "$out"; then
        notes+=("runtest TIMEOUT: no progress for ${TEST_TIMEOUT}s"); ((failed++))
    elif ! grep -qE 'All tests passed without errors|The following tests failed' "$out"; then
        notes+=("unit ABORTED: runtest exited $rc without finishing")
        ((excs == 0)) && ((failed++))
    elif ((rc != 0 && failed == 0)); then
        notes+=("runtest exited $rc"); ((failed++))
    fi
    if [[ $crashed == 1 ]]; then
        notes+=("server DIED during the unit ($(describe_status "$sstatus"))"); ((failed++))
    fi

    log "  $unit: $passed passed, $failed failed, $skipped skipped (${secs}s)"
    if ((failed > 0)); then
        print_failures "$out"
        local n; for n in "${notes[@]}"; do log "    $n"; done
        if ((errs + excs == 0)) && [[ ${#notes[@]} -gt 0 ]]; then
            log "    --- runtest output (last 15 lines) ---"
            tail -n 15 "$out" | sed 's/^/    | /'
        fi
        print_server_log_tail
        BAD_UNITS+=("$unit")
    fi
    TOTAL_PASSED=$((TOTAL_PASSED + passed))
    TOTAL_FAILED=$((TOTAL_FAILED + failed))
}

unit_failed_to_start() {
    local unit=$1 why=$2
    log "  $unit: 0 passed, 1 failed, 0 skipped ($why)"
    BAD_UNITS+=("$unit")
    TOTAL_FAILED=$((TOTAL_FAILED + 1))
}

cleanup_unit() {
    if [[ -n $RUNTEST_PID ]]; then
        kill -TERM "$RUNTEST_PID" 2>/dev/null
        wait "$RUNTEST_PID" 2>/dev/null
        RUNTEST_PID=
    fi
    [[ -n $SERVER_PID ]] && stop_server
    if [[ -n $UNIT_TMP ]]; then
        if [[ $KEEP_TMP == 1 ]]; then log "    (kept $UNIT_TMP)"; else rm -rf "$UNIT_TMP"; fi
    fi
    UNIT_TMP=
}

run_unit() {
    local unit=$1 port _ start rc crashed=0
    if [[ ! -f $SRC_TREE/tests/$unit.tcl ]]; then
        unit_failed_to_start "$unit" "no such unit: tests/$unit.tcl"
        return
    fi
    UNIT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/darter-conformance.XXXXXX")
    # Retry on another port only if the server exited (e.g. lost a race for the port).
    START_ERROR="no free TCP port found"
    for _ in 1 2 3; do
        port=$(free_port) || break
        start_server "$port" && break
        local died=0; [[ -z $SERVER_PID ]] && died=1
        stop_server
        port=
        ((died)) || break
    done
    if [[ -z $port ]]; then
        unit_failed_to_start "$unit" "$START_ERROR"
        print_server_log_tail
        cleanup_unit
        return
    fi

    log "== $unit (port $port)"
    start=$SECONDS
    run_runtest "$unit" "$port" "$UNIT_TMP/runtest.log"
    rc=$?
    # runtest's own client port can be taken between its check and its bind
    # by an unrelated process: that run never reached the server, try once more.
    if [[ $rc -ne 0 ]] && grep -q "couldn't open socket: address already in use" "$UNIT_TMP/runtest.log" &&
        ! grep -q '^\[ok\]' "$UNIT_TMP/runtest.log"; then
        log "   runtest lost a race for its client port; running $unit again"
        run_runtest "$unit" "$port" "$UNIT_TMP/runtest.log"
        rc=$?
    fi
    server_alive || crashed=1
    stop_server
    report_unit "$unit" "$UNIT_TMP/runtest.log" "$rc" "$crashed" "$SERVER_STATUS" $((SECONDS - start))
    cleanup_unit
}

# ---------------------------------------------------------------- main

on_exit() { cleanup_unit; }
on_signal() { log "interrupted"; cleanup_unit; exit 130; }

main() {
    parse_args "$@"
    ensure_tools
    ensure_redis_source
    check_skip_reasons
    trap on_exit EXIT
    trap on_signal INT TERM

    log "Server: $SERVER${THREADS:+ (--threads $THREADS)}"
    log "Redis test suite: $SRC_TREE"
    [[ -n $THREADS ]] && ! is_darter && warn "note: --threads is only passed to darter; ignored for $SERVER"
    local started=$SECONDS unit
    for unit in "${UNITS[@]}"; do
        run_unit "$unit"
    done

    log ""
    log "Total time: $((SECONDS - started))s"
    ((${#BAD_UNITS[@]})) && log "Units with failures: ${BAD_UNITS[*]}"
    log "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
    ((TOTAL_FAILED == 0))
}

main "$@"
