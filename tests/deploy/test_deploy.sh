#!/usr/bin/env bash
# tests/deploy/test_deploy.sh DARTER SOURCE_ROOT BUILD_ROOT
#
# Checks darter's deployment as installed by `meson install`:
#   (a) deploy/darter.service passes `systemd-analyze verify` (offline: no
#       running systemd needed), has the settings the deployment relies on,
#       filters no io_uring syscall, and keeps its hardening score;
#   (b) sd_notify: READY=1 + STATUS once darter serves (PING answers at once),
#       STOPPING=1 on SIGTERM, exit status 0 (tests/deploy/procs.py);
#   (c) --daemonize yes --pidfile: parent exits 0, pidfile holds the daemon's
#       pid, SIGTERM stops it (status 0) and removes the pidfile;
#   (d) `meson install --destdir` puts the binary, unit, sysusers.d entry and
#       config where systemd and the unit expect them; the installed unit
#       verifies, the sysusers entry creates the user, the config loads.
# Prints PASS/FAIL per check and "deploy: N passed, M failed"; exits 1 on any
# failure. Every process and temporary file it makes is removed at exit.
set -uo pipefail

if [ $# -ne 3 ]; then
    echo "usage: $0 DARTER SOURCE_ROOT BUILD_ROOT" >&2
    exit 2
fi
DARTER=$(realpath "$1")
SRC=$(realpath "$2")
BUILD=$(realpath "$3")
UNIT=$SRC/deploy/darter.service
HERE=$SRC/tests/deploy

PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

TMP=$(mktemp -d "${TMPDIR:-/tmp}/darter-deploy.XXXXXX")
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
check() { # check "what" command...
    local what=$1; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
# Count the PASS/FAIL lines of a helper's output, and fail if it failed
# without saying why.
run_helper() {
    local what=$1; shift
    local out rc p f
    out=$("$@" 2>&1); rc=$?
    printf '%s\n' "$out"
    p=$(grep -c '^PASS: ' <<<"$out"); f=$(grep -c '^FAIL: ' <<<"$out")
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        fail "$what: helper exited $rc"
    fi
}

# systemd-analyze verify exits 0 even on unknown keys and bad values; what
# it says about the unit is the verdict. Run offline, with ExecStart pointed
# at an existing binary (it checks that the command is executable).
verify_unit() { # verify_unit UNITFILE BINARY
    local dir out
    dir=$(mktemp -d "$TMP/verify.XXXXXX")
    sed "s|^ExecStart=[^ ]*|ExecStart=$2|" "$1" >"$dir/darter.service"
    out=$(cd "$dir" && SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no darter.service 2>&1)
    local rc=$?
    if [ $rc -ne 0 ] || grep -q darter <<<"$out"; then
        printf '  systemd-analyze verify (exit %d):\n%s\n' "$rc" "$(sed 's/^/    /' <<<"$out")"
        return 1
    fi
}

unit_has() { # unit_has FILE Key=value : the exact line is present
    grep -qxF -- "$2" "$1" || { echo "  missing line: $2"; return 1; }
}

# io_uring_setup/enter/register must stay allowed: no deny-list set may
# contain them, and an allow-list must contain them.
io_uring_allowed() {
    local line list deny expanded tok
    while IFS= read -r line; do
        list=${line#SystemCallFilter=}
        deny=0
        if [ "${list:0:1}" = "~" ]; then deny=1; list=${list:1}; fi
        expanded=""
        for tok in $list; do
            if [ "${tok:0:1}" = "@" ]; then
                expanded+=" $(systemd-analyze syscall-filter --no-pager "$tok" | grep -v -e '^@' -e '#')"
            else
                expanded+=" ${tok%%:*}"
            fi
        done
        for tok in io_uring_setup io_uring_enter io_uring_register; do
            if [ $deny -eq 1 ] && grep -qw "$tok" <<<"$expanded"; then
                echo "  $line denies $tok"; return 1
            fi
            if [ $deny -eq 0 ] && ! grep -qw "$tok" <<<"$expanded"; then
                echo "  $line does not allow $tok"; return 1
            fi
        done
    done < <(grep '^SystemCallFilter=' "$1")
    return 0
}

echo "== (a) systemd unit: $UNIT"
if ! command -v systemd-analyze >/dev/null; then
    fail "systemd-analyze not found (install the 'systemd' package: scripts/deps.sh)"
else
    check "unit: systemd-analyze verify (ExecStart -> built binary)" verify_unit "$UNIT" "$DARTER"
    required=(
        "Type=notify"
        "ExecStart=/usr/local/bin/darter-server /etc/darter/darter.conf --daemonize no --supervised systemd"
        "User=darter" "Group=darter" "StateDirectory=darter" "RuntimeDirectory=darter"
        "WorkingDirectory=/var/lib/darter" "ReadWritePaths=/var/lib/darter" "LimitNOFILE=65535"
        "NoNewPrivileges=yes" "ProtectSystem=strict" "ProtectHome=yes" "PrivateTmp=yes"
        "PrivateDevices=yes" "MemoryDenyWriteExecute=yes"
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX"
        "WantedBy=multi-user.target"
    )
    ok=1
    for l in "${required[@]}"; do unit_has "$UNIT" "$l" || ok=0; done
    check "unit: has the settings the deployment relies on (${#required[@]} lines)" test $ok -eq 1
    check "unit: no SystemCallFilter= blocks io_uring_setup/enter/register" io_uring_allowed "$UNIT"
    # exposure is on a 0-10 scale, --threshold on 0-100; 1.7 when written
    sec_dir=$(mktemp -d "$TMP/security.XXXXXX")
    sed "s|^ExecStart=[^ ]*|ExecStart=$DARTER|" "$UNIT" >"$sec_dir/darter.service"
    sec=$(cd "$sec_dir" && systemd-analyze security --offline=true --threshold=30 --no-pager darter.service 2>&1)
    sec_rc=$?
    check "unit: systemd-analyze security exposure <= 3.0 ($(grep -o 'exposure level[^:]*: [0-9.]*' <<<"$sec" | grep -o '[0-9.]*$'))" \
        test $sec_rc -eq 0
fi

echo "== (b) sd_notify READY/STOPPING"
run_helper notify "$PY" "$HERE/procs.py" notify "$DARTER" "$(mktemp -d "$TMP/notify.XXXXXX")"

echo "== (c) --daemonize yes --pidfile"
run_helper daemonize "$PY" "$HERE/procs.py" daemonize "$DARTER" "$(mktemp -d "$TMP/daemon.XXXXXX")"

echo "== (d) meson install --destdir"
DEST=$TMP/dest
if ! out=$(meson install -C "$BUILD" --no-rebuild --quiet --destdir "$DEST" 2>&1); then
    printf '%s\n' "$out"
    fail "install: meson install --destdir failed"
else
    pass "install: meson install --destdir"
    eval "$("$PY" - "$BUILD" <<'EOF'
import json, subprocess, sys, shlex
opts = {o["name"]: o["value"] for o in json.loads(subprocess.check_output(
    ["meson", "introspect", "--buildoptions", sys.argv[1]]))}
for k in ("prefix", "bindir", "sysconfdir"):
    print(f"opt_{k}={shlex.quote(opts[k])}")
EOF
)"
    # where systemd looks, for this prefix: <prefix>/lib/systemd/system and
    # <prefix>/lib/sysusers.d (systemd also searches /usr/local/lib/...);
    # the config under /etc unless sysconfdir was given as an absolute path
    bin=$opt_prefix/$opt_bindir/darter-server
    unit=$opt_prefix/lib/systemd/system/darter.service
    sysusers=$opt_prefix/lib/sysusers.d/darter.conf
    case $opt_sysconfdir in /*) confdir=$opt_sysconfdir ;; *) confdir=/$opt_sysconfdir ;; esac
    conf=$confdir/darter/darter.conf
    check "install: binary at $bin" test -x "$DEST$bin"
    check "install: unit at $unit" test -f "$DEST$unit"
    check "install: sysusers.d entry at $sysusers" test -f "$DEST$sysusers"
    check "install: config at $conf" test -f "$DEST$conf"
    if [ -f "$DEST$unit" ]; then
        check "install: unit's ExecStart runs $bin with $conf" unit_has "$DEST$unit" \
            "ExecStart=$bin $conf --daemonize no --supervised systemd"
        if command -v systemd-analyze >/dev/null; then
            check "install: installed unit passes systemd-analyze verify" verify_unit "$DEST$unit" "$DEST$bin"
        fi
    fi
    if [ -f "$DEST$conf" ]; then
        ok=1
        for l in "dir /var/lib/darter" "supervised systemd" "daemonize no" "bind 127.0.0.1 -::1"; do
            unit_has "$DEST$conf" "$l" || ok=0
        done
        check "install: config sets dir /var/lib/darter, supervised systemd, daemonize no, loopback bind" \
            test $ok -eq 1
        # an edited config survives a reinstall; the new default goes beside it
        echo "# local edit" >>"$DEST$conf"
        if meson install -C "$BUILD" --no-rebuild --quiet --destdir "$DEST" >/dev/null 2>&1 &&
            tail -n1 "$DEST$conf" | grep -qxF "# local edit" && [ -f "$DEST$conf.new" ]; then
            pass "install: reinstall keeps an edited config, writes darter.conf.new"
        else
            fail "install: reinstall keeps an edited config, writes darter.conf.new"
        fi
        sed -i '$d' "$DEST$conf"
        if [ -x "$DEST$bin" ]; then
            run_helper config "$PY" "$HERE/procs.py" config "$DEST$bin" "$(mktemp -d "$TMP/config.XXXXXX")" "$DEST$conf"
        fi
    fi
    if ! command -v systemd-sysusers >/dev/null; then
        fail "install: systemd-sysusers not found (install the 'systemd' package: scripts/deps.sh)"
    elif [ -f "$DEST$sysusers" ]; then
        root=$(mktemp -d "$TMP/root.XXXXXX")
        mkdir -p "$root/etc"
        if systemd-sysusers --root="$root" "$DEST$sysusers" >/dev/null 2>&1 &&
            grep -qE '^darter:x:[0-9]+:[0-9]+:darter in-memory data store:/var/lib/darter:[^:]*nologin$' "$root/etc/passwd" &&
            grep -qE '^darter:x:[0-9]+:$' "$root/etc/group"; then
            pass "install: systemd-sysusers creates user+group darter, home /var/lib/darter, no login"
        else
            fail "install: systemd-sysusers creates user+group darter, home /var/lib/darter, no login"
            cat "$root/etc/passwd" 2>/dev/null
        fi
    fi
fi

echo
echo "deploy: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
