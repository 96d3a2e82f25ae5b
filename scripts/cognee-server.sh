#!/usr/bin/env bash
# Install and run a real Cognee server (PyPI cognee==1.6.5) on 127.0.0.1, offline,
# for dswatch's live tests (tests/live, `pytest -m cognee_live`) and for .ci/run.
#
# Usage:
#   scripts/cognee-server.sh install           ensure the venv (first run: ~4 min, ~1.6 GB)
#   scripts/cognee-server.sh start             start a server; prints KEY=VALUE lines:
#                                              URL= PID= DATA_DIR= LOG= USER= PASSWORD=
#   scripts/cognee-server.sh stop PID [DIR]    stop that server (its whole process group)
#                                              and remove its data dir
#   scripts/cognee-server.sh run -- CMD...     start, run CMD with COGNEE_URL, COGNEE_USER,
#                                              COGNEE_PASSWORD exported, stop; exit with CMD's code
#
# Environment:
#   DSWATCH_CACHE_DIR     where the venv lives (default ~/.cache/dswatch-ci); the venv is
#                         $DSWATCH_CACHE_DIR/cognee-1.6.5, reused while `import cognee` works
#   COGNEE_PYTHON         interpreter for a new venv (default python3.11, else python3)
#   PORT                  port to bind on 127.0.0.1 (default: a free one)
#   COGNEE_PASSWORD       password of the default user (default: dswatch-live-password)
#   COGNEE_START_TIMEOUT  seconds to wait for the server to answer (default 120)
#   JWT_LIFETIME_SECONDS, ENABLE_BACKEND_ACCESS_CONTROL   passed to the server when set
#   COGNEE_SERVER_ENV_<NAME>=<value>                      passed to the server as NAME=value
#
# Exit codes: 0 ok; 75 (EX_TEMPFAIL) the package registry is unreachable, so cognee cannot be
# installed (callers report the live tests as SKIPPED); 2 usage; anything else is a failure.
# Only 127.0.0.1 is ever bound or contacted.
set -euo pipefail
set +m  # no job control: background children stay out of their own process groups

readonly COGNEE_VERSION="1.6.5"
readonly EXIT_OFFLINE=75
readonly CACHE_DIR="${DSWATCH_CACHE_DIR:-$HOME/.cache/dswatch-ci}"
readonly VENV="$CACHE_DIR/cognee-$COGNEE_VERSION"
readonly PY="$VENV/bin/python"
readonly MARKER="$VENV/.dswatch-cognee-ok"
readonly INSTALL_LOG="$CACHE_DIR/cognee-$COGNEE_VERSION-install.log"
readonly COGNEE_USER_EMAIL="default_user@example.com"
readonly COGNEE_USER_PASSWORD="${COGNEE_PASSWORD:-dswatch-live-password}"
# Fixed, test-only secret: tokens stay valid across restarts of the same test server.
readonly JWT_SECRET="dswatch-live-tests-only-jwt-secret"
readonly START_TIMEOUT="${COGNEE_START_TIMEOUT:-120}"
readonly DATA_DIR_TAG=".dswatch-cognee-data-dir"
VERIFY_IMPORT=""  # set by `install`: check `import cognee` even in a marked venv

log() { printf 'cognee-server: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
    exit 2
}

# ---------------------------------------------------------------- install

pick_python() {
    if [[ -n "${COGNEE_PYTHON:-}" ]]; then
        command -v "$COGNEE_PYTHON" || die "COGNEE_PYTHON=$COGNEE_PYTHON not found"
        return
    fi
    local cand
    for cand in python3.11 python3.12 python3.10 python3; do
        if command -v "$cand" >/dev/null 2>&1; then
            command -v "$cand"
            return
        fi
    done
    die "no python3 interpreter found (set COGNEE_PYTHON)"
}

# `import cognee` with its side effects (logs dir) kept out of $HOME.
cognee_importable() {
    [[ -x "$PY" ]] || return 1
    local tmp rc=0
    tmp="$(mktemp -d "${TMPDIR:-/tmp}/dswatch-cognee-check.XXXXXX")"
    env COGNEE_LOGS_DIR="$tmp" TELEMETRY_DISABLED=1 ENV=local \
        "$PY" -c "import cognee, importlib.metadata as m; \
assert m.version('cognee') == '$COGNEE_VERSION', m.version('cognee')" \
        >"$tmp/out" 2>&1 || rc=$?
    if ((rc != 0)); then
        log "existing venv $VENV cannot import cognee $COGNEE_VERSION:"
        tail -n 5 "$tmp/out" >&2 || true
    fi
    rm -rf "$tmp"
    return "$rc"
}

# pip's output when it could not reach the index (DNS, refused, timeout, proxy, TLS), or
# found no version at all of a package that exists (what an unreachable index looks like
# when pip does not retry).
registry_unreachable() {
    tail -n "+${1:-1}" "$INSTALL_LOG" | grep -qE 'NewConnectionError|Failed to establish a new connection|Temporary failure in name resolution|Name or service not known|Network is unreachable|No route to host|ConnectTimeout|Connection timed out|Read timed out|ProxyError|Max retries exceeded|Could not fetch URL|SSLError|connection broken by|\(from versions: none\)'
}

offline_exit() {
    tail -n 5 "$INSTALL_LOG" >&2 || true
    rm -rf "$VENV"
    log "SKIP: package registry unreachable, cannot install cognee==$COGNEE_VERSION ($1; log: $INSTALL_LOG)"
    exit "$EXIT_OFFLINE"
}

do_install() {
    mkdir -p "$CACHE_DIR"
    # One installer at a time (CI and a test session may race on a fresh machine).
    # The lock fd is closed again before any server is started, so that no server
    # inherits it and holds the lock for its whole life.
    local lock_fd=""
    if command -v flock >/dev/null 2>&1; then
        exec {lock_fd}>"$CACHE_DIR/.cognee-$COGNEE_VERSION.lock"
        flock "$lock_fd"
    fi
    install_locked
    if [[ -n "$lock_fd" ]]; then
        exec {lock_fd}>&-
    fi
}

# A venv that passed the import check once is marked, so `start` needs no 7 s
# `import cognee`; `install` (what CI runs first) always checks the import.
install_locked() {
    if [[ -z "$VERIFY_IMPORT" && -f "$MARKER" && -x "$PY" ]]; then
        return 0
    fi
    if cognee_importable; then
        date -u +%FT%TZ >"$MARKER"
        return 0
    fi

    local python
    python="$(pick_python)"
    log "installing cognee==$COGNEE_VERSION into $VENV with $python"
    log "(first run only: ~4 min, ~1.6 GB; log: $INSTALL_LOG)"
    rm -rf "$VENV"
    if ! "$python" -m venv "$VENV" >"$INSTALL_LOG" 2>&1; then
        tail -n 20 "$INSTALL_LOG" >&2
        die "could not create a venv with $python (see $INSTALL_LOG)"
    fi
    # Preflight: fetch just the cognee wheel, with few retries and a short timeout, so an
    # unreachable registry is reported within about a minute rather than after pip's
    # configured retries (the wheel lands in pip's cache and is reused below).
    local rc=0 probe_dir
    probe_dir="$(mktemp -d "${TMPDIR:-/tmp}/dswatch-cognee-probe.XXXXXX")"
    "$PY" -m pip download --disable-pip-version-check --no-input --no-deps \
        --retries 1 --timeout 30 -d "$probe_dir" \
        "cognee==$COGNEE_VERSION" >>"$INSTALL_LOG" 2>&1 || rc=$?
    rm -rf "$probe_dir"
    if ((rc != 0)); then
        registry_unreachable && offline_exit "preflight download failed"
        tail -n 20 "$INSTALL_LOG" >&2
        rm -rf "$VENV"
        die "could not download cognee==$COGNEE_VERSION (pip exit code $rc; see $INSTALL_LOG)"
    fi
    local first_line
    first_line=$(($(wc -l <"$INSTALL_LOG") + 1))
    "$PY" -m pip install --disable-pip-version-check --no-input \
        "cognee==$COGNEE_VERSION" >>"$INSTALL_LOG" 2>&1 || rc=$?
    if ((rc != 0)); then
        registry_unreachable "$first_line" && offline_exit "pip install failed"
        tail -n 20 "$INSTALL_LOG" >&2
        rm -rf "$VENV"
        die "pip install cognee==$COGNEE_VERSION failed with exit code $rc (see $INSTALL_LOG)"
    fi
    if ! cognee_importable; then
        die "cognee==$COGNEE_VERSION installed but does not import (see $INSTALL_LOG)"
    fi
    date -u +%FT%TZ >"$MARKER"
    log "installed cognee==$COGNEE_VERSION"
}

# ---------------------------------------------------------------- start / stop

free_port() {
    "$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# Prints the HTTP status of GET URL, or 000 when nothing answers.
http_status() {
    if command -v curl >/dev/null 2>&1; then
        curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$1" 2>/dev/null || true
    else
        "$PY" -c 'import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=3).status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("000")' "$1"
    fi
}

# Environment of the server: a clean one, plus only what is listed here.
server_env() {
    local data_dir="$1" site
    site="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    SERVER_ENV=(
        "PATH=$VENV/bin:/usr/local/bin:/usr/bin:/bin"
        "HOME=${HOME:-$data_dir}"
        "LANG=${LANG:-C.UTF-8}"
        "TMPDIR=${TMPDIR:-/tmp}"
        "ENV=local"
        "TELEMETRY_DISABLED=1"
        "LLM_API_KEY=dummy"
        "SYSTEM_ROOT_DIRECTORY=$data_dir/system"
        "DATA_ROOT_DIRECTORY=$data_dir/data"
        "CACHE_ROOT_DIRECTORY=$data_dir/cache"
        "COGNEE_LOGS_DIR=$data_dir/logs"
        "DEFAULT_USER_EMAIL=$COGNEE_USER_EMAIL"
        "DEFAULT_USER_PASSWORD=$COGNEE_USER_PASSWORD"
        "FASTAPI_USERS_JWT_SECRET=$JWT_SECRET"
        "COGNEE_SKIP_CONNECTION_TEST=true"
        "TIKTOKEN_CACHE_DIR=$site/litellm/litellm_core_utils/tokenizers"
        "LITELLM_LOCAL_MODEL_COST_MAP=True"
        "DSWATCH_COGNEE_DATA_DIR=$data_dir"
    )
    local name
    for name in JWT_LIFETIME_SECONDS ENABLE_BACKEND_ACCESS_CONTROL; do
        if [[ -n "${!name+x}" ]]; then
            SERVER_ENV+=("$name=${!name}")
        fi
    done
    while IFS= read -r name; do
        SERVER_ENV+=("${name#COGNEE_SERVER_ENV_}=${!name}")
    done < <(compgen -v COGNEE_SERVER_ENV_ || true)
}

# Sets SERVER_PID, SERVER_URL, SERVER_DATA_DIR, SERVER_LOG. On failure it prints the log
# tail, stops what it started and exits 1 (it is never called in a `||` list, where bash
# would turn off errexit inside it). Until the caller disowns them (OWNED_* = ""), the
# server and its data dir are removed by the EXIT/signal traps, whatever the exit path.
start_server() {
    do_install
    local port="${PORT:-}"
    [[ -n "$port" ]] || port="$(free_port)"
    [[ "$port" =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$port'"

    SERVER_DATA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/dswatch-cognee.XXXXXX")"
    OWNED_DATA_DIR="$SERVER_DATA_DIR"
    : >"$SERVER_DATA_DIR/$DATA_DIR_TAG"
    mkdir -p "$SERVER_DATA_DIR"/{system,data,cache,logs}
    SERVER_LOG="$SERVER_DATA_DIR/server.log"
    SERVER_URL="http://127.0.0.1:$port"
    server_env "$SERVER_DATA_DIR"

    log "starting cognee $COGNEE_VERSION on $SERVER_URL (data: $SERVER_DATA_DIR)"
    # setsid: the server leads its own process group, so stop can kill all of it.
    # Without job control the child is not a group leader, so setsid does not fork
    # and $! is the server itself.
    (cd "$SERVER_DATA_DIR" && exec setsid env -i "${SERVER_ENV[@]}" \
        "$PY" -m uvicorn cognee.api.client:app --host 127.0.0.1 --port "$port") \
        </dev/null >"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    OWNED_PID="$SERVER_PID"

    local t0=$SECONDS root="000" health="not tried"
    local deadline=$((t0 + START_TIMEOUT))
    while :; do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            start_failed "the server exited during startup"
        fi
        root="$(http_status "$SERVER_URL/")"
        if [[ "$root" == 200 ]]; then
            health="$(http_status "$SERVER_URL/health")"
            [[ "$health" == 200 ]] && break
        fi
        if ((SECONDS >= deadline)); then
            start_failed "no answer within ${START_TIMEOUT}s (GET / -> $root, GET /health -> $health)"
        fi
        sleep 0.5
    done
    log "ready after $((SECONDS - t0))s: $SERVER_URL (pid $SERVER_PID)"
}

start_failed() {
    log "error: cognee server failed to start: $1"
    log "last lines of $SERVER_LOG:"
    tail -n 40 "$SERVER_LOG" >&2 || true
    exit 1  # the EXIT trap stops the server and removes its data dir
}

# True while any process of group $1 exists.
group_alive() { kill -0 -- "-$1" 2>/dev/null; }

# The data dir recorded in the process' environment (Linux /proc), if readable.
proc_data_dir() {
    local environ="/proc/$1/environ"
    [[ -r "$environ" ]] || return 0
    tr '\0' '\n' <"$environ" 2>/dev/null | sed -n 's/^DSWATCH_COGNEE_DATA_DIR=//p' | head -n 1
}

stop_server() {
    local pid="$1" data_dir="${2:-}"
    if ! [[ "$pid" =~ ^[0-9]+$ ]] || ((pid <= 1)); then
        die "stop: bad PID '$pid'"
    fi

    if kill -0 "$pid" 2>/dev/null; then
        local recorded pgid
        recorded="$(proc_data_dir "$pid")"
        if [[ -r "/proc/$pid/environ" && -z "$recorded" ]]; then
            die "stop: PID $pid is not a server started by this script; not touching it"
        fi
        [[ -n "$data_dir" ]] || data_dir="$recorded"
        pgid="$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ' || true)"
        if [[ "$pgid" == "$pid" ]]; then
            kill -TERM -- "-$pid" 2>/dev/null || true
        else
            kill -TERM "$pid" 2>/dev/null || true
        fi
        local deadline=$((SECONDS + 15))
        while group_alive "$pid" || kill -0 "$pid" 2>/dev/null; do
            if ((SECONDS >= deadline)); then
                log "PID $pid did not stop on SIGTERM within 15s; sending SIGKILL"
                kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
                sleep 0.5
                break
            fi
            sleep 0.2
        done
        # Reap it when it is our own child (run mode); harmless otherwise.
        wait "$pid" 2>/dev/null || true
        log "stopped cognee server (pid $pid)"
    else
        # Already gone: still clean up any leftover members of its group.
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi

    if [[ -n "$data_dir" ]]; then
        if [[ -d "$data_dir" && -f "$data_dir/$DATA_DIR_TAG" ]]; then
            rm -rf -- "$data_dir"
        elif [[ -e "$data_dir" ]]; then
            log "not removing $data_dir: not a data dir made by this script"
        fi
    fi
}

# ---------------------------------------------------------------- cleanup and run

OWNED_PID=""       # a server this invocation must stop when it exits
OWNED_DATA_DIR=""  # its data dir, removed with it
RUN_CHILD=""       # run: the command being run

cleanup() {
    if [[ -n "$RUN_CHILD" ]] && kill -0 "$RUN_CHILD" 2>/dev/null; then
        kill -TERM "$RUN_CHILD" 2>/dev/null || true
        wait "$RUN_CHILD" 2>/dev/null || true
    fi
    RUN_CHILD=""
    if [[ -n "$OWNED_PID" ]]; then
        stop_server "$OWNED_PID" "$OWNED_DATA_DIR"
    elif [[ -n "$OWNED_DATA_DIR" && -f "$OWNED_DATA_DIR/$DATA_DIR_TAG" ]]; then
        rm -rf -- "$OWNED_DATA_DIR"
    fi
    OWNED_PID=""
    OWNED_DATA_DIR=""
}

install_traps() {
    trap cleanup EXIT
    trap 'cleanup; trap - EXIT; exit 129' HUP
    trap 'cleanup; trap - EXIT; exit 130' INT
    trap 'cleanup; trap - EXIT; exit 143' TERM
}

do_run() {
    [[ "${1:-}" == "--" ]] && shift
    (($# > 0)) || usage
    install_traps
    start_server

    export COGNEE_URL="$SERVER_URL" COGNEE_USER="$COGNEE_USER_EMAIL" \
        COGNEE_PASSWORD="$COGNEE_USER_PASSWORD" COGNEE_SERVER_PID="$SERVER_PID" \
        COGNEE_DATA_DIR="$SERVER_DATA_DIR"
    # In the background (stdin kept) so that a signal reaches the traps at once.
    local rc=0
    "$@" <&0 &
    RUN_CHILD=$!
    wait "$RUN_CHILD" || rc=$?
    RUN_CHILD=""
    cleanup
    exit "$rc"
}

# ---------------------------------------------------------------- main

main() {
    local cmd="${1:-}"
    (($# > 0)) && shift
    case "$cmd" in
        install)
            (($# == 0)) || usage
            VERIFY_IMPORT=1
            do_install
            log "cognee==$COGNEE_VERSION ready in $VENV"
            ;;
        start)
            (($# == 0)) || usage
            install_traps
            start_server
            OWNED_PID=""  # up and running: from now on it is the caller's to stop
            OWNED_DATA_DIR=""
            printf 'URL=%s\nPID=%s\nDATA_DIR=%s\nLOG=%s\nUSER=%s\nPASSWORD=%s\n' \
                "$SERVER_URL" "$SERVER_PID" "$SERVER_DATA_DIR" "$SERVER_LOG" \
                "$COGNEE_USER_EMAIL" "$COGNEE_USER_PASSWORD"
            ;;
        stop)
            (($# >= 1 && $# <= 2)) || usage
            stop_server "$@"
            ;;
        run)
            do_run "$@"
            ;;
        -h | --help | help) usage ;;
        *) usage ;;
    esac
}

main "$@"
