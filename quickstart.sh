#!/bin/sh
# quickstart.sh -- build mini-balancer in this tree, then run its demo or tests.
#
#   ./quickstart.sh demo   build, start two demo backends and run the balancer
#                          in front of them (Ctrl-C stops everything)
#   ./quickstart.sh test   build and run the whole test suite (make check)
#
# Missing build dependencies are installed with apt-get (through sudo when
# not run as root). Works without a terminal, e.g. in CI.
set -eu

PACKAGES="build-essential autoconf automake libtool pkg-config libglib2.0-dev libjson-glib-dev libsoup-3.0-dev libconfuse-dev check libsystemd-dev python3 socat"

DEMO_HOST=127.0.0.1
DEMO_FRONTEND_PORT=7070
DEMO_BACKENDS="one:8080 two:9090"

say() { printf 'quickstart: %s\n' "$*"; }
die() { printf 'quickstart: error: %s\n' "$*" >&2; exit 1; }

usage() {
    cat <<EOF
usage: $0 demo|test

  demo   build mini-balancer, start two demo backends on $DEMO_HOST:8080 and
         $DEMO_HOST:9090 and run the balancer on $DEMO_HOST:$DEMO_FRONTEND_PORT in the
         foreground (Ctrl-C stops it and the backends)
  test   build mini-balancer and run its test suite (make check)
EOF
}

jobs_count() {
    nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1
}

# --- dependencies ----------------------------------------------------------

package_installed() {
    case "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" in
        *" ok installed") return 0 ;;
        *) return 1 ;;
    esac
}

ensure_dependencies() {
    if ! command -v dpkg-query >/dev/null 2>&1; then
        # Not a Debian-like system: we cannot install anything, only check.
        for cmd in cc make autoreconf libtoolize pkg-config python3; do
            command -v "$cmd" >/dev/null 2>&1 ||
                die "'$cmd' not found. This script installs dependencies on Debian/Ubuntu only; elsewhere install the equivalents of: $PACKAGES"
        done
        return 0
    fi

    missing=
    for pkg in $PACKAGES; do
        package_installed "$pkg" || missing="$missing $pkg"
    done
    [ -z "$missing" ] && return 0

    say "installing missing packages:$missing"
    if [ "$(id -u)" -eq 0 ]; then
        as_root=
    elif command -v sudo >/dev/null 2>&1; then
        # No terminal (CI): never wait for a password prompt.
        if [ -t 0 ]; then as_root=sudo; else as_root="sudo -n"; fi
    else
        die "missing packages:$missing; run as root or install sudo (or install them yourself)"
    fi
    # shellcheck disable=SC2086 # word splitting of $as_root and $missing is intended
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get update </dev/null ||
        die "apt-get update failed"
    # shellcheck disable=SC2086
    $as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends $missing </dev/null ||
        die "apt-get install failed for:$missing"
}

# --- build -----------------------------------------------------------------

build() {
    if [ ! -x configure ]; then
        say "running ./autogen.sh"
        ./autogen.sh
    fi
    if [ ! -f Makefile ]; then
        say "running ./configure"
        ./configure
    fi
    say "running make"
    make -j"$(jobs_count)"
}

# --- test ------------------------------------------------------------------

print_file() {
    printf '\n===== %s =====\n' "$1"
    cat "$1"
}

run_tests() {
    say "running make check"
    # Drop a previous run's summary so that a failure never shows stale logs.
    find . -name test-suite.log -type f -exec rm -f {} +
    if make -j"$(jobs_count)" check; then
        say "all tests passed"
        return 0
    fi
    printf '\nquickstart: make check FAILED\n' >&2
    if [ -z "$(find . -name test-suite.log -type f)" ]; then
        printf 'quickstart: no test-suite.log: the tests did not run; see the make output above.\n' >&2
        exit 1
    fi
    find . -name test-suite.log -type f | while read -r log; do
        print_file "$log"
    done >&2
    find . -name '*.trs' -type f | while read -r trs; do
        if grep -Eq '^:test-result: (FAIL|ERROR|XPASS)' "$trs"; then
            log=${trs%.trs}.log
            [ -f "$log" ] && print_file "$log"
        fi
    done >&2
    exit 1
}

# --- demo ------------------------------------------------------------------

# Succeeds when nothing listens on HOST PORT (tested by binding it, with the
# same SO_REUSEADDR as the daemon, so leftover TIME_WAIT sockets don't count).
port_free() {
    python3 - "$1" "$2" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind((sys.argv[1], int(sys.argv[2])))
except OSError:
    sys.exit(1)
EOF
}

backend_pids=

stop_backends() {
    for pid in $backend_pids; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in $backend_pids; do
        wait "$pid" 2>/dev/null || true
    done
    backend_pids=
}

run_demo() {
    busy=
    for port in $DEMO_FRONTEND_PORT 8080 9090; do
        port_free "$DEMO_HOST" "$port" || busy="$busy $DEMO_HOST:$port"
    done
    if [ -n "$busy" ]; then
        die "the demo needs these ports, but something already listens on:$busy
(see what with: ss -ltnp) -- stop it and try again"
    fi

    trap stop_backends EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    for backend in $DEMO_BACKENDS; do
        name=${backend%%:*}
        port=${backend#*:}
        python3 demo/backend.py "$name" "$DEMO_HOST:$port" &
        backend_pids="$backend_pids $!"
    done

    # Wait (bounded) until both backends listen.
    for backend in $DEMO_BACKENDS; do
        port=${backend#*:}
        tries=0
        while port_free "$DEMO_HOST" "$port"; do
            tries=$((tries + 1))
            [ "$tries" -le 50 ] || die "demo backend on $DEMO_HOST:$port did not start"
            for pid in $backend_pids; do
                kill -0 "$pid" 2>/dev/null || die "a demo backend exited early"
            done
            sleep 0.1
        done
    done

    cat <<EOF

------------------------------------------------------------------------
 mini-balancer demo (demo/mini-balancer.conf)
   frontend "demo"  $DEMO_HOST:$DEMO_FRONTEND_PORT
   backend  "one"   $DEMO_HOST:8080   (demo/backend.py)
   backend  "two"   $DEMO_HOST:9090   (demo/backend.py)

 Try it from another terminal:

   echo "first connection"  | socat - tcp:$DEMO_HOST:$DEMO_FRONTEND_PORT
   echo "second connection" | socat - tcp:$DEMO_HOST:$DEMO_FRONTEND_PORT

 or interactively:  nc $DEMO_HOST $DEMO_FRONTEND_PORT

 Watch and steer it through its control socket:

   src/mini-balancerctl -s demo/admin.sock show backends
   src/mini-balancerctl -s demo/admin.sock drain demo/one

 Each backend greets with "hello from NAME" and echoes what you send.
 Consecutive connections alternate between the backends: one, two, one...
 Press Ctrl-C here to stop the balancer and the backends.
------------------------------------------------------------------------

EOF

    # Ctrl-C reaches mini-balancer too (same process group): it drains and
    # exits 0. Keep the shell alive until then, and exit with its status.
    trap ':' INT TERM
    status=0
    ./src/mini-balancer -v -c demo/mini-balancer.conf || status=$?
    stop_backends
    return "$status"
}

# --- main ------------------------------------------------------------------

[ $# -eq 1 ] || { usage >&2; exit 64; }
case "$1" in
    demo|test) ;;
    -h|--help|help) usage; exit 0 ;;
    *) usage >&2; exit 64 ;;
esac

cd "$(dirname "$0")"
ensure_dependencies
build

case "$1" in
    demo) run_demo ;;
    test) run_tests ;;
esac
