#!/usr/bin/env bash
# Load test of opaque tokens, token introspection and DPoP at the token endpoint, against a release
# build of Tessera on this machine, loopback only, on the embedded SQLite store and on PostgreSQL.
#
# Builds `tessera` and the proof generator `examples/dpop_proofs.rs` in release mode, then for each
# backend: starts `tessera serve` on a free 127.0.0.1 port with a fresh temporary data dir (and,
# for PostgreSQL, a fresh database it creates and drops), sets up through the CLI one tenant
# (ES256) with
#   - a resource server `https://api.bench.example/` with opaque access tokens (TTL 1 day),
#   - a confidential client-credentials client `bench` (the token requester),
#   - a confidential client `bench-rs` that the resource server names as its introspector,
#   - optionally (USER_TOKEN=1) a user and a first-party code-flow client whose default resource
#     is the opaque resource server, for a user's opaque access token,
# and runs wrk against:
#   token-jwt        POST /token  grant_type=client_credentials                 (baseline, JWT)
#   token-opaque     POST /token  grant_type=client_credentials&resource=…      (opaque, stored)
#   introspect-cc    POST /introspect token=<client-credentials opaque token>   (RFC 7662)
#   introspect-user  POST /introspect token=<code-flow opaque token>            (USER_TOKEN=1)
#   token-dpop       POST /token  grant_type=client_credentials + DPoP proof    (RFC 9449)
# All with client_secret_basic (RFC 6749 §2.3.1). Every 200 body is checked by the wrk script:
# the token rows for `"access_token"`, introspection for `"active":true`, DPoP for
# `"token_type":"DPoP"`; a body without it counts under "bad bodies". Before each introspection
# row a few curl samples must already answer 200 with `"active":true`.
#
# DPoP: wrk cannot sign, so right before the warm-up and again right before the measured window
# `dpop_proofs` writes fresh proofs (ES256, one key, unique jti, iat = now, htu = the issuer from
# discovery + /token), one file per wrk thread; bench/dpop.lua sends each proof once. The budget
# is 1.5 × the seconds × a rate bound: the token-jwt rate of the same run (DPoP only adds work to
# that request), or DPOP_RATE when token-jwt is not run, or, for the measured window when
# smaller, twice the rate of a warm-up that had no failure. A used-up budget shows
# as non-2xx (the server refuses the `exhausted` placeholder) and in the BENCH_DPOP line.
#
# Each row: requests/s, p50, p99, non-2xx, socket errors, bad bodies, the server's CPU time per
# request (utime + stime from /proc/PID/stat over the wrk run), the PostgreSQL backends' CPU per
# request (processes whose title names this run's database), how many cores the server, the
# database, wrk and everything else used (from /proc/stat), and the server's RSS sampled mid-run.
# Results, wrk outputs and server logs go to bench/results/<timestamp>-tokens/ (git-ignored).
#
# Environment:
#   DURATION=20        seconds per measured scenario (1..180: DPoP proofs are stamped when they
#                      are generated and must all be used within the server's 300 s iat window)
#   WARMUP=3           seconds of unmeasured warm-up before each scenario (0..30)
#   CONNECTIONS=64     open connections; THREADS=2 wrk threads
#   BACKENDS="sqlite postgres"   which backends, in order
#   SCENARIOS="token-jwt token-opaque introspect-cc introspect-user token-dpop"   which rows
#   USER_TOKEN=1       also set up the code-flow user token (0 = skip introspect-user)
#   DPOP_RATE=5000     DPoP budget rate when token-jwt is not run
#   TESSERA_BIN, DPOP_PROOFS_BIN   use these binaries instead of building them
#   CARGO_TARGET_DIR   where to build (default: ./target)
#   PG_HOST=127.0.0.1 PG_PORT=5432   the PostgreSQL server; the role is `postgres` or `root`
#   PG_URL_PARAMS      query parameters of the database URL, e.g. sslmode=disable (the default,
#                      sslmode=prefer, speaks TLS to a server with ssl=on, even on loopback)
#   TESSERA__…         configuration overrides reach the server and the CLI unchanged
#   KEEP_DATA=1        keep the temporary data dirs (the PostgreSQL database is always dropped)
#   PROFILE=1          also `perf record -g` the server during each measured window (adds CPU:
#                      for finding where time goes, not for the figures); flat profiles go to
#                      <backend>-<scenario>.perf.txt
#
# Bounded: every wait has a limit, wrk and the generator run under `timeout`, only 127.0.0.1 is
# targeted, and the server is stopped and the database dropped on exit (trap).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD

DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
BACKENDS=${BACKENDS:-sqlite postgres}
SCENARIOS=${SCENARIOS:-token-jwt token-opaque introspect-cc introspect-user token-dpop}
USER_TOKEN=${USER_TOKEN:-1}
DPOP_RATE=${DPOP_RATE:-5000}
DPOP_WARM_RATE=""
PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}

die() {
    printf 'tokens.sh: %s\n' "$*" >&2
    exit 1
}

# in_range NAME MIN MAX: the variable NAME holds a whole number in MIN..MAX.
in_range() {
    local value=${!1}
    if ! [[ $value =~ ^[0-9]+$ ]] || ((value < $2 || value > $3)); then
        die "$1 must be a whole number in $2..$3 (got '$value')"
    fi
}
in_range DURATION 1 180
in_range WARMUP 0 30
in_range CONNECTIONS 1 10000
in_range THREADS 1 "$CONNECTIONS"
in_range DPOP_RATE 1 1000000
for backend in $BACKENDS; do
    [[ $backend == sqlite || $backend == postgres ]] || die "unknown backend '$backend'"
done
for s in $SCENARIOS; do
    case $s in token-jwt | token-opaque | introspect-cc | introspect-user | token-dpop) ;;
    *) die "unknown scenario '$s'" ;;
    esac
done
wants() { [[ " $SCENARIOS " == *" $1 "* ]]; }

# --- tools and binaries --------------------------------------------------------------------------
for tool in python3 curl timeout getconf; do
    command -v "$tool" >/dev/null || die "$tool is required"
done
if [[ " $BACKENDS " == *" postgres "* ]]; then
    for tool in psql pg_isready; do
        command -v "$tool" >/dev/null || die "$tool is required for the PostgreSQL run"
    done
fi
if ! command -v wrk >/dev/null; then
    echo "wrk not found; installing it from Debian's packages"
    if [[ $EUID -eq 0 ]]; then
        apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk
    else
        sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y wrk
    fi
fi

target_dir=${CARGO_TARGET_DIR:-$repo/target}
if [[ -z "${TESSERA_BIN:-}" || -z "${DPOP_PROOFS_BIN:-}" ]]; then
    cargo build --release --bin tessera --example dpop_proofs
fi
BIN=${TESSERA_BIN:-$target_dir/release/tessera}
PROOFS_BIN=${DPOP_PROOFS_BIN:-$target_dir/release/examples/dpop_proofs}
[[ -x "$BIN" ]] || die "no executable at $BIN"
[[ -x "$PROOFS_BIN" ]] || die "no executable at $PROOFS_BIN"

# --- workspace -----------------------------------------------------------------------------------
stamp=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS="$repo/bench/results/$stamp-tokens"
mkdir -p "$RESULTS"
CLK_TCK=$(getconf CLK_TCK)
DATA=""
SERVER_PID=""
SERVER_LOG=""
SAMPLER_PID=""
PERF_PID=""
WRK_PID=""
PG_USER=""
PG_DB=""
BACKEND=""

server_alive() { [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; }

stop_server() {
    if server_alive; then
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
    fi
    if [[ -n "$SERVER_PID" ]]; then
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}

psql_admin() {
    timeout 60 psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -v ON_ERROR_STOP=1 -Atqc "$1"
}

drop_database() {
    if [[ -n "$PG_DB" ]]; then
        psql_admin "drop database if exists \"$PG_DB\" with (force)" >/dev/null ||
            echo "could not drop database $PG_DB" >&2
        PG_DB=""
    fi
}

remove_data() {
    if [[ -n "$DATA" ]]; then
        if [[ "${KEEP_DATA:-}" == 1 ]]; then
            echo "data dir kept: $DATA (it holds client secrets, tokens and the DPoP key)"
        else
            rm -rf "$DATA"
        fi
        DATA=""
    fi
}

cleanup() {
    local rc=$?
    local pid
    for pid in "$WRK_PID" "$SAMPLER_PID" "$PERF_PID"; do
        if [[ -n "$pid" ]]; then
            kill "$pid" 2>/dev/null || true
        fi
    done
    stop_server
    if [[ $rc -ne 0 && -n "$SERVER_LOG" && -f "$SERVER_LOG" ]]; then
        echo "--- last lines of the server log ($SERVER_LOG) ---" >&2
        tail -n 30 "$SERVER_LOG" >&2 || true
    fi
    drop_database
    remove_data
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The CLI, against the server's data dir and database; prints one JSON object.
cli() { "$BIN" --data-dir "$DATA" "${DB_ARGS[@]}" --json "$@"; }

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
    sys.exit("field %r not found in the output" % sys.argv[1])
print(value)' "$1"
}

# basic_auth ID SECRET: the client_secret_basic header value (RFC 6749 §2.3.1: form-encode, then base64).
basic_auth() {
    python3 -c '
import base64, sys, urllib.parse
pair = urllib.parse.quote_plus(sys.argv[1]) + ":" + urllib.parse.quote_plus(sys.argv[2])
print("Basic " + base64.b64encode(pair.encode()).decode())' "$1" "$2"
}

# form_encode VALUE: application/x-www-form-urlencoded value.
form_encode() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote_plus(sys.argv[1]))' "$1"; }

# wait_for_200 URL SECONDS
wait_for_200() {
    local url=$1 limit=$2 i code=""
    for ((i = 0; i < limit * 10; i++)); do
        server_alive || die "the server exited (see $SERVER_LOG)"
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)
        [[ "$code" == 200 ]] && return 0
        sleep 0.1
    done
    die "no 200 from $url within ${limit}s (last status: ${code:-none})"
}

# post_form PATH AUTH BODY [EXTRA_HEADER]: POSTs to the tenant; prints "STATUS BODY". The
# Authorization header reaches curl through stdin (-K -), never argv.
post_form() {
    local path=$1 auth=$2 body=$3 extra=${4:-}
    local -a args=(-sS --max-time 10 -K - -o - -w '\n%{http_code}' -X POST
        -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "$body")
    if [[ -n "$extra" ]]; then
        args+=(-H "$extra")
    fi
    local out
    out=$(printf 'header = "Authorization: %s"\n' "$auth" | curl "${args[@]}" "$BASE$path") || return 1
    printf '%s %s\n' "${out##*$'\n'}" "${out%$'\n'*}"
}

# CPU time in clock ticks (utime + stime) of one process; fields 14 and 15 of /proc/PID/stat,
# counted after the `(comm)` field, which may itself contain spaces.
pid_ticks() {
    local stat fields
    stat=$(<"/proc/$1/stat") || return 1
    stat=${stat##*) }
    read -r -a fields <<<"$stat"
    echo $((fields[11] + fields[12]))
}

# This shell's waited-for children (cutime + cstime, fields 16 and 17): wrk's CPU, since wrk and
# the `timeout` and pipeline subshells around it are all waited for.
children_ticks() {
    local stat fields
    stat=$(<"/proc/$$/stat")
    stat=${stat##*) }
    read -r -a fields <<<"$stat"
    echo $((fields[13] + fields[14]))
}

# Busy ticks of the whole machine (user nice system irq softirq steal of /proc/stat's cpu line).
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }

# CPU ticks of the PostgreSQL backends serving this run's database (their title is
# `postgres: ROLE DB 127.0.0.1(port) …`); 0 on SQLite. A backend that exits within the window
# takes its ticks along, so this is a lower bound.
db_ticks() {
    if [[ -z "$PG_DB" ]]; then
        echo 0
        return
    fi
    python3 - "$PG_DB" <<'EOF'
import os, sys
needle, total = (" " + sys.argv[1] + " ").encode(), 0
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            cmd = f.read().replace(b"\0", b" ")
        if not cmd.startswith(b"postgres:") or needle not in cmd + b" ":
            continue
        with open("/proc/%s/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    except OSError:
        pass
print(total)
EOF
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status"; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status"; }
mib() { awk -v k="$1" 'BEGIN { if (k ~ /^[0-9]+$/) printf "%.1f", k / 1024; else print "?" }'; }

# The PostgreSQL role: `postgres` where it exists, else `root` (as .ci/run does).
detect_pg_user() {
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" || die "PostgreSQL is not accepting connections on $PG_HOST:$PG_PORT"
    local candidate
    for candidate in postgres root; do
        if timeout 10 psql -h "$PG_HOST" -p "$PG_PORT" -U "$candidate" -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
            PG_USER=$candidate
            return 0
        fi
    done
    die "cannot connect to PostgreSQL on $PG_HOST:$PG_PORT as 'postgres' or 'root'"
}

# --- machine -------------------------------------------------------------------------------------
{
    echo "date (UTC):  $(date -u '+%Y-%m-%d %H:%M')"
    echo "commit:      $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$repo" diff --quiet 2>/dev/null || echo ' (dirty)')"
    echo "cores:       $(nproc)"
    echo "cpu:         $(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)"
    echo "memory:      $(free -h | awk '/^Mem:/ { print $2 }')"
    echo "wrk:         $(wrk -v 2>&1 | head -n 1)"
    echo "load:        ${CONNECTIONS} connections, ${THREADS} wrk threads on the same cores, ${DURATION}s per scenario after ${WARMUP}s warm-up"
    echo "loadavg:     $(cut -d' ' -f1-3 /proc/loadavg) (before the run)"
    echo "server env:  $(env | grep '^TESSERA__' | sort | tr '\n' ' ')(TESSERA__* variables reach the server; none means defaults)"
} | tee "$RESULTS/machine.txt"

# --- one scenario --------------------------------------------------------------------------------
TABLE=""
declare -A RATE=()

# parse_bench FILE: sets REQUESTS RPS P50 P99 NON200 SOCK UNEXPECTED from the BENCH lines.
parse_bench() {
    local kv
    REQUESTS="" RPS="" P50="" P99="" NON200="" SOCK="" UNEXPECTED=""
    # shellcheck disable=SC2013 # one line of space-separated key=value pairs
    for kv in $(grep -m 1 '^BENCH ' "$1"); do
        case $kv in
            requests=*) REQUESTS=${kv#*=} ;;
            rps=*) RPS=${kv#*=} ;;
            p50_ms=*) P50=${kv#*=} ;;
            p99_ms=*) P99=${kv#*=} ;;
            non200=*) NON200=${kv#*=} ;;
            sock_errors=*) SOCK=${kv#*=} ;;
        esac
    done
    UNEXPECTED=$(sed -n 's/^BENCH_CHECK unexpected=\([0-9]*\).*/\1/p' "$1" | head -n 1)
    [[ -n "$REQUESTS" && -n "$UNEXPECTED" ]] || die "no BENCH lines in $1"
}

# make_proofs NAME SECONDS: fresh DPoP proofs for SECONDS of load, one file per wrk thread, at
# $DATA/proofs-NAME.{0..THREADS-1}.
make_proofs() {
    local name=$1 secs=$2 rate=${RATE[token-jwt]:-$DPOP_RATE}
    # A clean DPoP warm-up bounds the rate more tightly: twice its rate (×1.5 below).
    if [[ -n "${DPOP_WARM_RATE:-}" ]] && ((DPOP_WARM_RATE * 2 < rate)); then
        rate=$((DPOP_WARM_RATE * 2))
    fi
    local count
    count=$(awk -v r="$rate" -v s="$secs" 'BEGIN { n = int(r * s * 1.5) + 1000; print n }')
    rm -f "$DATA/proofs-$name".*
    timeout 120 "$PROOFS_BIN" --htu "$HTU" --count "$count" --parts "$THREADS" \
        --key "$DATA/dpop-key.pem" --out "$DATA/proofs-$name" 2>>"$RESULTS/$BACKEND-dpop_proofs.log" ||
        die "the proof generator failed (see $RESULTS/$BACKEND-dpop_proofs.log)"
    echo "   $count DPoP proofs for ${secs}s (budget rate $rate/s × 1.5)"
}

# run_wrk LIMIT OUT ENV... -- WRK_ARGS...: wrk under `timeout LIMIT`, output to OUT. It runs in
# the background and is waited for, so a signal to this script is handled at once (the trap
# stops wrk) rather than after wrk ends; being waited for, its CPU lands in children_ticks.
run_wrk() {
    local limit=$1 out=$2
    shift 2
    local -a vars=()
    while [[ $1 != -- ]]; do
        vars+=("$1")
        shift
    done
    shift
    # Exported, not passed on a command line: AUTH holds a client secret.
    (
        export "${vars[@]}"
        exec timeout "$limit" wrk "$@" >"$out"
    ) &
    WRK_PID=$!
    wait "$WRK_PID" || die "wrk failed (see $out)"
    WRK_PID=""
}

# scenario NAME SCRIPT PATH AUTH BODY EXPECT NOTE
scenario() {
    local name=$1 script=$2 path=$3 auth=$4 body=$5 expect=$6 note=$7
    wants "$name" || return 0
    local out="$RESULTS/$BACKEND-$name.txt"
    local -a wrk_env=("BENCH_LUA_DIR=$repo/bench" "TARGET_PATH=$path" "AUTH=$auth" "BODY=$body" "EXPECT=$expect")
    local -a wrk_args=(-t "$THREADS" -c "$CONNECTIONS" --timeout 5s -s "$repo/bench/$script" "$BASE$path")

    server_alive || die "the server exited before $name (see $SERVER_LOG)"
    echo
    echo "== $BACKEND $name: POST $path ($note)"
    DPOP_WARM_RATE=""
    if ((WARMUP > 0)); then
        local -a warm_env=("${wrk_env[@]}")
        if [[ $script == dpop.lua ]]; then
            make_proofs "$name-warmup" "$WARMUP"
            warm_env+=("PROOFS=$DATA/proofs-$name-warmup")
        fi
        run_wrk $((WARMUP + 60)) "$RESULTS/$BACKEND-$name.warmup.txt" "${warm_env[@]}" -- -d "${WARMUP}s" "${wrk_args[@]}"
        parse_bench "$RESULTS/$BACKEND-$name.warmup.txt"
        echo "   warm-up: $RPS/s, non-2xx $NON200, bad bodies $UNEXPECTED"
        if [[ $script == dpop.lua && "$NON200" == 0 ]]; then
            DPOP_WARM_RATE=$(awk -v r="$RPS" 'BEGIN { printf "%d", r + 1 }')
        fi
    fi
    if [[ $script == dpop.lua ]]; then
        make_proofs "$name" "$DURATION"
        wrk_env+=("PROOFS=$DATA/proofs-$name")
    fi

    local perf_data="$RESULTS/$BACKEND-$name.perf.data"
    if [[ "${PROFILE:-}" == 1 ]]; then
        (
            sleep 1
            exec timeout $((DURATION + 30)) perf record -q -F 499 -g -p "$SERVER_PID" -o "$perf_data" -- sleep "$((DURATION > 2 ? DURATION - 2 : 1))"
        ) >"$RESULTS/$BACKEND-$name.perf.log" 2>&1 &
        PERF_PID=$!
    fi
    (
        sleep $((DURATION / 2))
        rss_kib >"$RESULTS/$BACKEND-$name.rss" 2>/dev/null || echo "?" >"$RESULTS/$BACKEND-$name.rss"
    ) &
    SAMPLER_PID=$!

    local s0 d0 c0 m0 s1 d1 c1 m1 t0 t1
    s0=$(pid_ticks "$SERVER_PID")
    d0=$(db_ticks)
    c0=$(children_ticks)
    m0=$(machine_ticks)
    t0=$(date +%s.%N)
    run_wrk $((DURATION + 60)) "$out" "${wrk_env[@]}" -- -d "${DURATION}s" "${wrk_args[@]}"
    t1=$(date +%s.%N)
    s1=$(pid_ticks "$SERVER_PID")
    d1=$(db_ticks)
    c1=$(children_ticks)
    m1=$(machine_ticks)
    wait "$SAMPLER_PID" 2>/dev/null || true
    SAMPLER_PID=""
    if [[ -n "$PERF_PID" ]]; then
        wait "$PERF_PID" || echo "perf record failed on $name (see $RESULTS/$BACKEND-$name.perf.log)" >&2
        PERF_PID=""
        if [[ -s "$perf_data" ]]; then
            timeout 300 perf report -i "$perf_data" --stdio --no-children --sort dso,symbol \
                --percent-limit 0.5 -g none >"$RESULTS/$BACKEND-$name.perf.txt" 2>/dev/null || true
        fi
    fi
    grep -v '^BENCH' "$out" || true
    grep '^BENCH_' "$out" || true

    parse_bench "$out"
    RATE[$name]=${RPS%.*}
    local rss cols
    rss=$(mib "$(cat "$RESULTS/$BACKEND-$name.rss")")
    cols=$(awk -v n="$REQUESTS" -v hz="$CLK_TCK" -v secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
        -v s=$((s1 - s0)) -v d=$((d1 - d0)) -v c=$((c1 - c0)) -v m=$((m1 - m0)) -v pg="$PG_DB" '
        function us(t) { return n > 0 ? sprintf("%.1f", t / hz * 1e6 / n) : "n/a" }
        BEGIN {
            other = m - s - d - c; if (other < 0) other = 0
            printf "%s|%s|%.2f / %s / %.2f / %.2f", us(s), (pg == "" ? "in server" : us(d)),
                s / hz / secs, (pg == "" ? "–" : sprintf("%.2f", d / hz / secs)), c / hz / secs, other / hz / secs
        }')
    local server_us=${cols%%|*} rest=${cols#*|}
    local db_us=${rest%%|*} cores=${rest#*|}
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
        "$name" "$note" "$RPS" "$P50" "$P99" "$NON200" "$SOCK" "$UNEXPECTED" "$server_us" "$db_us" "$cores" "$rss" >>"$TABLE"
    tail -n 1 "$TABLE"
    if [[ "$NON200" != 0 || "$UNEXPECTED" != 0 ]]; then
        echo "   WARNING: $name had $NON200 non-2xx and $UNEXPECTED bad bodies: $(sed -n 's/^BENCH_CHECK .*first_non200=//p' "$out")" >&2
    fi
}

# --- the code flow for a user's opaque token -----------------------------------------------------
# user_token ISSUER CLIENT_ID CLIENT_SECRET REDIRECT USERNAME PASSWORD: one authorization-code
# flow with PKCE (RFC 6749 §4.1, RFC 7636) through the login form; prints the token response's
# access_token. Secrets come from the environment, never argv.
user_token() {
    UT_ISSUER=$1 UT_CLIENT_ID=$2 UT_CLIENT_SECRET=$3 UT_REDIRECT=$4 UT_USERNAME=$5 UT_PASSWORD=$6 \
        timeout 60 python3 - <<'EOF'
import base64, hashlib, html.parser, http.cookiejar, json, os, secrets, sys, urllib.parse, urllib.request

issuer, client_id, secret = os.environ["UT_ISSUER"], os.environ["UT_CLIENT_ID"], os.environ["UT_CLIENT_SECRET"]
redirect, username, password = os.environ["UT_REDIRECT"], os.environ["UT_USERNAME"], os.environ["UT_PASSWORD"]

class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None

jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)

class Form(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.action, self.fields, self.done, self.inside = None, {}, False, False
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and not self.done:
            self.inside, self.action, self.fields = True, a.get("action"), {}
        elif tag == "input" and self.inside and a.get("name"):
            self.fields[a["name"]] = a.get("value") or ""
    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside = False
            if "csrf_token" in self.fields and "request" in self.fields:
                self.done = True

verifier = secrets.token_urlsafe(32)
challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
state = secrets.token_urlsafe(16)
query = urllib.parse.urlencode({
    "response_type": "code", "client_id": client_id, "redirect_uri": redirect, "scope": "openid",
    "state": state, "nonce": secrets.token_urlsafe(16),
    "code_challenge": challenge, "code_challenge_method": "S256",
})
url = issuer + "/authorize?" + query
page = opener.open(url, timeout=10).read().decode()
form = Form()
form.feed(page)
if not form.done:
    sys.exit("no login form at /authorize")
fields = dict(form.fields, username=username, password=password)
action = urllib.parse.urljoin(url, form.action or "login")
try:
    opener.open(urllib.request.Request(action, data=urllib.parse.urlencode(fields).encode()), timeout=10)
    sys.exit("the login answered without a redirect")
except urllib.error.HTTPError as e:
    if e.code not in (302, 303):
        sys.exit("the login answered %d" % e.code)
    location = e.headers["Location"]
params = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
if params.get("state") != [state] or "code" not in params:
    sys.exit("no code in the redirect (error: %s)" % params.get("error"))
basic = base64.b64encode((urllib.parse.quote_plus(client_id) + ":" + urllib.parse.quote_plus(secret)).encode()).decode()
req = urllib.request.Request(issuer + "/token", data=urllib.parse.urlencode({
    "grant_type": "authorization_code", "code": params["code"][0], "redirect_uri": redirect,
    "code_verifier": verifier,
}).encode(), headers={"Authorization": "Basic " + basic})
try:
    answer = json.load(opener.open(req, timeout=10))
except urllib.error.HTTPError as e:
    sys.exit("the code exchange answered %d: %s" % (e.code, e.read()[:300]))
print(answer["access_token"])
EOF
}

# check_active PATH AUTH BODY: a few curl samples must be 200 with "active":true.
check_active() {
    local i answer
    for ((i = 0; i < 3; i++)); do
        answer=$(post_form "$1" "$2" "$3") || die "introspection sample failed"
        [[ "${answer%% *}" == 200 && "$answer" == *'"active":true'* ]] ||
            die "introspection sample answered: $(head -c 300 <<<"$answer")"
    done
    echo "   3 curl samples: 200, \"active\":true"
}

# --- one backend ---------------------------------------------------------------------------------
RS_ID="https://api.bench.example/"
REDIRECT_URI="http://127.0.0.1:9/callback"

run_backend() {
    BACKEND=$1
    DATA=$(mktemp -d -t tessera-tokens.XXXXXX)
    DB_ARGS=()
    local db_note="embedded SQLite in the data dir"
    if [[ $BACKEND == postgres ]]; then
        [[ -n "$PG_USER" ]] || detect_pg_user
        PG_DB="tessera_bench_${stamp,,}_$$"
        psql_admin "create database \"$PG_DB\"" >/dev/null
        DB_ARGS=(--database-url "postgres://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB${PG_URL_PARAMS:+?$PG_URL_PARAMS}")
        db_note="PostgreSQL $(psql_admin 'show server_version'), database $PG_DB as $PG_USER${PG_URL_PARAMS:+, URL parameters $PG_URL_PARAMS}"
    fi
    echo
    echo "===== backend: $BACKEND ($db_note)"
    echo "$BACKEND: $db_note" >>"$RESULTS/machine.txt"

    local port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    BASE="http://127.0.0.1:$port"
    SERVER_LOG="$RESULTS/$BACKEND-server.log"
    # stdout carries the operator secret: it stays in the temporary data dir; logs go to stderr.
    "$BIN" --data-dir "$DATA" "${DB_ARGS[@]}" serve --listen "127.0.0.1:$port" --public-url "$BASE" \
        >"$DATA/server.out" 2>"$SERVER_LOG" </dev/null &
    SERVER_PID=$!
    wait_for_200 "$BASE/readyz" 120

    # --- tenant, clients, resource server (CLI; the running server follows its change feed)
    local slug=bench
    cli tenant create "$slug" --name "Benchmark tokens" --alg ES256 >"$RESULTS/$BACKEND-tenant.json"
    cli client create "$slug" --name bench --grant client_credentials >"$DATA/client-bench.json"
    cli client create "$slug" --name bench-rs --grant client_credentials >"$DATA/client-rs.json"
    local cc_id cc_secret rs_id rs_secret
    cc_id=$(json_field client_id <"$DATA/client-bench.json")
    cc_secret=$(json_field client_secret <"$DATA/client-bench.json")
    rs_id=$(json_field client_id <"$DATA/client-rs.json")
    rs_secret=$(json_field client_secret <"$DATA/client-rs.json")
    cli resource create "$slug" "$RS_ID" --name "Bench API" --token-format opaque --ttl 86400 \
        --introspector "$rs_id" >"$RESULTS/$BACKEND-resource.json"
    local cc_auth rs_auth
    cc_auth=$(basic_auth "$cc_id" "$cc_secret")
    rs_auth=$(basic_auth "$rs_id" "$rs_secret")

    local web_id="" web_secret="" password=""
    if [[ "$USER_TOKEN" == 1 ]] && wants introspect-user; then
        password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
        printf '%s\n' "$password" | cli user create "$slug" bench-user --password-stdin >/dev/null
        cli client create "$slug" --name bench-web --first-party --grant authorization_code \
            --redirect-uri "$REDIRECT_URI" --scope openid --default-resource "$RS_ID" >"$DATA/client-web.json"
        web_id=$(json_field client_id <"$DATA/client-web.json")
        web_secret=$(json_field client_secret <"$DATA/client-web.json")
    fi

    wait_for_200 "$BASE/t/$slug/.well-known/openid-configuration" 10
    sleep 2 # the change feed polls every 250 ms; let every worker see the new clients
    local issuer
    issuer=$(curl -sS --max-time 5 "$BASE/t/$slug/.well-known/openid-configuration" | json_field issuer)
    HTU="$issuer/token"

    # --- samples: every request kind answers as expected before anything is measured
    local answer resource_form opaque_cc
    resource_form="grant_type=client_credentials&resource=$(form_encode "$RS_ID")"
    answer=$(post_form "/t/$slug/token" "$cc_auth" "$resource_form")
    [[ "${answer%% *}" == 200 ]] || die "opaque token request answered: $(head -c 300 <<<"$answer")"
    opaque_cc=$(json_field access_token <<<"${answer#* }")
    [[ "$opaque_cc" != *.*.* ]] || die "the token for $RS_ID is a JWT, not opaque"
    echo "opaque client-credentials token: ${#opaque_cc} characters"
    local introspect_cc
    introspect_cc="token=$(form_encode "$opaque_cc")"
    check_active "/t/$slug/introspect" "$rs_auth" "$introspect_cc"

    local introspect_user=""
    if [[ -n "$web_id" ]]; then
        local opaque_user
        opaque_user=$(user_token "$issuer" "$web_id" "$web_secret" "$REDIRECT_URI" bench-user "$password") ||
            die "the code flow for the user token failed"
        [[ "$opaque_user" != *.*.* ]] || die "the user's token for $RS_ID is a JWT, not opaque"
        introspect_user="token=$(form_encode "$opaque_user")"
        check_active "/t/$slug/introspect" "$rs_auth" "$introspect_user"
    fi

    if wants token-dpop; then
        "$PROOFS_BIN" --htu "$HTU" --count 1 --key "$DATA/dpop-key.pem" --out "$DATA/proofs-sample" 2>/dev/null
        answer=$(post_form "/t/$slug/token" "$cc_auth" grant_type=client_credentials "DPoP: $(<"$DATA/proofs-sample.0")")
        [[ "${answer%% *}" == 200 && "$answer" == *'"token_type":"DPoP"'* ]] ||
            die "DPoP token request answered: $(head -c 300 <<<"$answer")"
        answer=$(post_form "/t/$slug/token" "$cc_auth" grant_type=client_credentials "DPoP: $(<"$DATA/proofs-sample.0")")
        [[ "${answer%% *}" == 400 ]] || die "a replayed DPoP proof answered ${answer%% *}, not 400"
        echo "DPoP sample: 200 with token_type DPoP; its replay: 400"
    fi
    local idle_rss
    idle_rss=$(rss_kib)

    TABLE="$RESULTS/$BACKEND-table.md"
    {
        echo "| scenario | request | requests/s | p50 ms | p99 ms | non-2xx | socket errors | bad bodies | server CPU µs/request | database CPU µs/request | cores: server / database / wrk / others | server RSS MiB |"
        echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    } >"$TABLE"
    local token_path="/t/$slug/token" introspect_path="/t/$slug/introspect"
    scenario token-jwt form.lua "$token_path" "$cc_auth" grant_type=client_credentials \
        '"access_token"' "client_credentials, JWT ES256"
    scenario token-opaque form.lua "$token_path" "$cc_auth" "$resource_form" \
        '"access_token"' "client_credentials + resource, opaque"
    scenario introspect-cc form.lua "$introspect_path" "$rs_auth" "$introspect_cc" \
        '"active":true' "introspect the client-credentials opaque token"
    if [[ -n "$introspect_user" ]]; then
        scenario introspect-user form.lua "$introspect_path" "$rs_auth" "$introspect_user" \
            '"active":true' "introspect a code-flow user's opaque token"
    fi
    scenario token-dpop dpop.lua "$token_path" "$cc_auth" grant_type=client_credentials \
        '"token_type":"DPoP"' "client_credentials + DPoP proof (ES256), JWT ES256"
    {
        echo
        echo "idle RSS after setup: $(mib "$idle_rss") MiB; peak (VmHWM): $(mib "$(hwm_kib)") MiB"
    } >>"$TABLE"

    stop_server
    drop_database
    remove_data
}

for backend in $BACKENDS; do
    run_backend "$backend"
done

echo
cat "$RESULTS/machine.txt"
for backend in $BACKENDS; do
    echo
    echo "### $backend"
    echo
    cat "$RESULTS/$backend-table.md"
done
echo
echo "results: $RESULTS"
