#!/usr/bin/env bash
# scripts/test-all.sh — build and run every test: unit and integration
# (release build), the same under ASan+UBSan, and Redis's own TCL suite
# against darter. Prints one closing line "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
declare -a failures=()

# Count meson test results from its testlog.
count_meson() {
    local dir=$1 label=$2 log="$1/meson-logs/testlog.txt"
    local ok fail
    ok=$(grep -cE '^ *[0-9]+/[0-9]+ .* OK ' "$dir/meson-logs/testlog.txt" 2>/dev/null || true)
    # Criterion prints its own totals; sum them for a finer count
    local t f
    t=$(grep -oE 'Synthesis: Tested: +[0-9]+ \| Passing: +[0-9]+ \| Failing: +[0-9]+ \| Crashing: +[0-9]+' "$log" |
        awk -F'[:|]' '{p+=$5; f+=$7+$9} END {print p+0, f+0}')
    ok=${t% *}
    fail=${t#* }
    passed=$((passed + ok))
    failed=$((failed + fail))
    echo "[$label] criterion: $ok passed, $fail failed"
}

build() {
    local dir=$1; shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "$@" || return 1
    fi
    ninja -C "$dir" || return 1
}

run_meson_suite() {
    local dir=$1 label=$2
    if ! meson test -C "$dir" --print-errorlogs --num-processes 2 -t 4; then
        failures+=("$label meson test")
    fi
    count_meson "$dir" "$label"
}

bash scripts/deps.sh || { echo "dependency install failed"; exit 1; }

if build build --buildtype=release; then
    run_meson_suite build release
else
    failures+=("release build"); failed=$((failed + 1))
fi

if build build-asan -Dsanitize_all=true --buildtype=debugoptimized -Db_lundef=false; then
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        run_meson_suite build-asan asan
else
    failures+=("asan build"); failed=$((failed + 1))
fi

if [ -x build/darter-server ]; then
    out=$(mktemp)
    tests/conformance/run.sh --server build/darter-server --threads 4 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
    if [ -n "$line" ]; then
        p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
        passed=$((passed + p)); failed=$((failed + f))
    fi
    [ "$rc" -eq 0 ] || failures+=("conformance")
    rm -f "$out"
fi

echo
if [ ${#failures[@]} -gt 0 ]; then
    echo "failing parts: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ ${#failures[@]} -eq 0 ] && [ "$failed" -eq 0 ]
