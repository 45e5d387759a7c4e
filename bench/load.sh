#!/usr/bin/env bash
# Load test of a release build of Tessera on this machine, loopback only.
#
# Builds `cargo build --release`, starts `tessera serve` on a free 127.0.0.1 port with a fresh
# temporary data dir (embedded SQLite), creates three tenants (RS256, ES256, EdDSA) with one
# confidential client-credentials client each through the CLI (`--json`), then runs wrk against:
#   token-RS256, token-ES256, token-EdDSA   POST /t/{tenant}/token (client_secret_basic)
#   discovery                               GET  /t/bench-rs/.well-known/openid-configuration
#   jwks                                    GET  /t/bench-rs/jwks
# For each scenario it prints a Markdown row: requests/s, p50, p99, non-2xx, socket errors, the
# server's CPU time per request (from /proc/PID/stat) and its RSS sampled mid-run. Results and the
# server log are kept under bench/results/<timestamp>/ (git-ignored). See BENCHMARKS.md.
#
# Environment:
#   DURATION=20       seconds per measured scenario (1..600)
#   CONNECTIONS=64    open connections
#   THREADS=2         wrk threads
#   WARMUP=3          seconds of unmeasured warm-up before each scenario (0 = none)
#   TESSERA_BIN=...   use this binary instead of building target/release/tessera
#   BENCH_LOG_FILTER  if set, passed to the server as TESSERA__LOG__FILTER (default: server default)
#   KEEP_DATA=1       keep the temporary data dir
#
# Bounded: every wait has a limit, wrk runs under `timeout`, only 127.0.0.1 is targeted, and the
# server is stopped on exit (trap).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD

DURATION=${DURATION:-20}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-3}

die() {
    printf 'load.sh: %s\n' "$*" >&2
    exit 1
}

# in_range NAME MIN MAX: the variable NAME holds a whole number in MIN..MAX.
in_range() {
    local value=${!1}
    if ! [[ $value =~ ^[0-9]+$ ]] || ((value < $2 || value > $3)); then
        die "$1 must be a whole number in $2..$3 (got '$value')"
    fi
}
in_range DURATION 1 600
in_range CONNECTIONS 1 10000
in_range THREADS 1 "$CONNECTIONS"
in_range WARMUP 0 60

# --- tools ---------------------------------------------------------------------------------------
for tool in python3 curl timeout getconf; do
    command -v "$tool" >/dev/null || die "$tool is required"
done
if ! command -v wrk >/dev/null; then
    echo "wrk not found; installing it from Debian's packages"
    if [[ $EUID -eq 0 ]]; then
        apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk
    else
        sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y wrk
    fi
fi

if [[ -n "${TESSERA_BIN:-}" ]]; then
    BIN=$TESSERA_BIN
else
    cargo build --release
    BIN="${CARGO_TARGET_DIR:-$repo/target}/release/tessera"
fi
[[ -x "$BIN" ]] || die "no executable at $BIN"

# --- workspace -----------------------------------------------------------------------------------
stamp=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS="$repo/bench/results/$stamp"
mkdir -p "$RESULTS"
DATA=$(mktemp -d -t tessera-bench.XXXXXX)
SERVER_LOG="$RESULTS/server.log"
SERVER_PID=""
SAMPLER_PID=""
CLK_TCK=$(getconf CLK_TCK)

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
BASE="http://127.0.0.1:$PORT"

cleanup() {
    local rc=$?
    if [[ -n "$SAMPLER_PID" ]]; then
        kill "$SAMPLER_PID" 2>/dev/null || true
    fi
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        local i
        for ((i = 0; i < 150; i++)); do # graceful shutdown gets 15 s
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "server did not stop within 15 s of SIGTERM; killing it" >&2
            kill -KILL "$SERVER_PID" 2>/dev/null || true
        fi
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ $rc -ne 0 && -f "$SERVER_LOG" ]]; then
        echo "--- last lines of the server log ($SERVER_LOG) ---" >&2
        tail -n 30 "$SERVER_LOG" >&2 || true
    fi
    if [[ "${KEEP_DATA:-}" == 1 ]]; then
        echo "data dir kept: $DATA"
    else
        rm -rf "$DATA"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The CLI, against the same data dir as the server; prints one JSON object.
cli() { "$BIN" --data-dir "$DATA" --json "$@"; }

# json_field NAME: the first value of key NAME anywhere in the JSON object on stdin.
json_field() {
    python3 -c '
import json, sys
def find(node, key):
    if isinstance(node, dict):
        if key in node:
            return node[key]
        node = list(node.values())
    if isinstance(node, list):
        for item in node:
            found = find(item, key)
            if found is not None:
                return found
    return None
value = find(json.load(sys.stdin), sys.argv[1])
if value is None:
    sys.exit("field %r not found in the CLI output" % sys.argv[1])
print(value)' "$1"
}

# basic_auth ID SECRET: the client_secret_basic header value (RFC 6749 §2.3.1: form-encode, then base64).
basic_auth() {
    python3 -c '
import base64, sys, urllib.parse
pair = urllib.parse.quote_plus(sys.argv[1]) + ":" + urllib.parse.quote_plus(sys.argv[2])
print("Basic " + base64.b64encode(pair.encode()).decode())' "$1" "$2"
}

# jwt_alg: the `alg` of the access token in the token response on stdin.
jwt_alg() {
    python3 -c '
import base64, json, sys
token = json.load(sys.stdin)["access_token"]
head = token.split(".")[0]
print(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["alg"])'
}

server_alive() { kill -0 "$SERVER_PID" 2>/dev/null; }

# Server CPU time (user + system, all threads) in clock ticks. Fields 14 and 15 of /proc/PID/stat;
# counted after the `(comm)` field, which may itself contain spaces.
cpu_ticks() {
    local stat fields
    stat=$(<"/proc/$SERVER_PID/stat")
    stat=${stat##*) }
    read -r -a fields <<<"$stat"
    echo $((fields[11] + fields[12]))
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status"; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status"; }
mib() { awk -v k="$1" 'BEGIN { if (k ~ /^[0-9]+$/) printf "%.1f", k / 1024; else print "?" }'; }

# wait_for_200 URL SECONDS
wait_for_200() {
    local url=$1 limit=$2 i code
    for ((i = 0; i < limit * 10; i++)); do
        server_alive || die "the server exited (see $SERVER_LOG)"
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)
        [[ "$code" == 200 ]] && return 0
        sleep 0.1
    done
    die "no 200 from $url within ${limit}s (last status: ${code:-none})"
}

# --- machine -------------------------------------------------------------------------------------
{
    echo "date (UTC):  $(date -u '+%Y-%m-%d %H:%M')"
    echo "commit:      $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$repo" diff --quiet 2>/dev/null || echo ' (dirty)')"
    echo "cores:       $(nproc)"
    echo "cpu:         $(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)"
    echo "memory:      $(free -h | awk '/^Mem:/ { print $2 }')"
    echo "wrk:         $(wrk -v 2>&1 | head -n 1)"
    echo "load:        ${CONNECTIONS} connections, ${THREADS} threads, ${DURATION}s per scenario after ${WARMUP}s warm-up"
} | tee "$RESULTS/machine.txt"

# --- server --------------------------------------------------------------------------------------
echo "starting $BIN on $BASE (data dir $DATA)"
server_env=()
if [[ -n "${BENCH_LOG_FILTER:-}" ]]; then
    server_env+=("TESSERA__LOG__FILTER=$BENCH_LOG_FILTER")
fi
env "${server_env[@]}" "$BIN" --data-dir "$DATA" serve --listen "127.0.0.1:$PORT" --public-url "$BASE" \
    >"$SERVER_LOG" 2>&1 </dev/null &
SERVER_PID=$!
wait_for_200 "$BASE/readyz" 120

# --- tenants and clients -------------------------------------------------------------------------
declare -A AUTH_FOR=()
declare -A ALG_FOR=([bench-rs]=RS256 [bench-es]=ES256 [bench-ed]=EdDSA)
for tenant in bench-rs bench-es bench-ed; do
    alg=${ALG_FOR[$tenant]}
    cli tenant create "$tenant" --name "Benchmark $alg" --alg "$alg" >"$RESULTS/tenant-$tenant.json"
    # The secret is printed only here; it stays in the temporary data dir, removed on exit.
    cli client create "$tenant" --name "bench" --grant client_credentials >"$DATA/client-$tenant.json"
    client_id=$(json_field client_id <"$DATA/client-$tenant.json")
    client_secret=$(json_field client_secret <"$DATA/client-$tenant.json")
    AUTH_FOR[$tenant]=$(basic_auth "$client_id" "$client_secret")
done

# A running server sees CLI changes within a second (change feed); allow some slack.
for tenant in bench-rs bench-es bench-ed; do
    wait_for_200 "$BASE/t/$tenant/.well-known/openid-configuration" 10
    response=$(curl -sS --max-time 5 -X POST -H "Authorization: ${AUTH_FOR[$tenant]}" \
        -d grant_type=client_credentials "$BASE/t/$tenant/token")
    got=$(jwt_alg <<<"$response") || die "token request at $tenant failed: $response"
    [[ "$got" == "${ALG_FOR[$tenant]}" ]] || die "$tenant signed with $got, expected ${ALG_FOR[$tenant]}"
    echo "tenant $tenant issues ${got}-signed access tokens"
done

sleep 2
IDLE_RSS=$(rss_kib)

# --- scenarios -----------------------------------------------------------------------------------
TABLE="$RESULTS/table.md"
{
    echo "| scenario | requests/s | p50 ms | p99 ms | non-2xx | socket errors | server CPU µs/request | server RSS MiB |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
} >"$TABLE"

# scenario NAME SCRIPT PATH [AUTH]
scenario() {
    local name=$1 script=$2 path=$3 auth=${4:-}
    local out="$RESULTS/$name.txt"
    local -a wrk_env=("BENCH_LUA_DIR=$repo/bench" "TARGET_PATH=$path" "AUTH=$auth")
    local -a wrk_args=(-t "$THREADS" -c "$CONNECTIONS" --timeout 5s -s "$repo/bench/$script" "$BASE$path")

    server_alive || die "the server exited before $name (see $SERVER_LOG)"
    echo
    echo "== $name: $path"
    if ((WARMUP > 0)); then
        env "${wrk_env[@]}" timeout $((WARMUP + 30)) wrk -d "${WARMUP}s" "${wrk_args[@]}" >/dev/null
    fi

    local before after
    before=$(cpu_ticks)
    (
        sleep $((DURATION / 2))
        rss_kib >"$RESULTS/$name.rss" 2>/dev/null || echo "?" >"$RESULTS/$name.rss"
    ) &
    SAMPLER_PID=$!
    env "${wrk_env[@]}" timeout $((DURATION + 60)) wrk -d "${DURATION}s" "${wrk_args[@]}" | tee "$out"
    after=$(cpu_ticks)
    wait "$SAMPLER_PID" 2>/dev/null || true
    SAMPLER_PID=""

    local requests="" rps="" p50="" p99="" non200="" sock="" kv
    # shellcheck disable=SC2013 # one line of space-separated key=value pairs
    for kv in $(grep -m 1 '^BENCH ' "$out"); do
        case $kv in
            requests=*) requests=${kv#*=} ;;
            rps=*) rps=${kv#*=} ;;
            p50_ms=*) p50=${kv#*=} ;;
            p99_ms=*) p99=${kv#*=} ;;
            non200=*) non200=${kv#*=} ;;
            sock_errors=*) sock=${kv#*=} ;;
        esac
    done
    [[ -n "$requests" ]] || die "no BENCH line in the wrk output of $name"

    local cpu_us
    cpu_us=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n="$requests" \
        'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "n/a" }')
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' \
        "$name" "$rps" "$p50" "$p99" "$non200" "$sock" "$cpu_us" "$(mib "$(cat "$RESULTS/$name.rss")")" >>"$TABLE"
}

scenario token-RS256 token.lua /t/bench-rs/token "${AUTH_FOR[bench-rs]}"
scenario token-ES256 token.lua /t/bench-es/token "${AUTH_FOR[bench-es]}"
scenario token-EdDSA token.lua /t/bench-ed/token "${AUTH_FOR[bench-ed]}"
scenario discovery get.lua /t/bench-rs/.well-known/openid-configuration
scenario jwks get.lua /t/bench-rs/jwks

{
    echo
    echo "| memory | server RSS MiB |"
    echo "| --- | ---: |"
    echo "| idle (3 tenants, after setup) | $(mib "$IDLE_RSS") |"
    echo "| peak (VmHWM, whole run) | $(mib "$(hwm_kib)") |"
} >>"$TABLE"

echo
cat "$RESULTS/machine.txt"
echo
cat "$TABLE"
echo
echo "results: $RESULTS"
