#!/usr/bin/env bash
# Load test of browser sign-in against a release build of Tessera on this machine, loopback only,
# on the embedded SQLite store and on PostgreSQL.
#
# Builds `tessera` and the load generator `examples/signin_load.rs` in release mode, then for each
# backend: starts `tessera serve` on a free 127.0.0.1 port with a fresh temporary data dir (and,
# for PostgreSQL, a fresh database it creates and drops), sets up two tenants through the CLI and
# the admin API:
#   bench-default   argon2id at the default cost (m=19 MiB, t=2, p=1)
#   bench-fast      argon2id at its minimum (m=8 KiB, t=1, p=1) — a benchmark tenant only
# each with one confidential first-party client (authorization_code + refresh_token, no consent
# page) and one user, then runs the generator against them:
#   login       GET /authorize + POST /login, fresh cookie jar, on bench-default and bench-fast
#   flow        login + code exchange with PKCE, on bench-fast
#   refresh     chained refresh grants (rotation), on bench-fast
#   userinfo    GET /userinfo with a bearer token, on bench-fast
# The generator samples the server's CPU time (utime + stime from /proc/PID/stat) and RSS over
# exactly its measured window. Each scenario becomes one Markdown row; the raw JSON lines, the
# server logs and the tables are kept under bench/results/<timestamp>-signin/ (git-ignored).
# See BENCHMARKS.md, "Browser sign-in".
#
# Environment:
#   DURATION=20            seconds per measured scenario (1..600)
#   WARMUP=3               seconds of unmeasured warm-up before each (0..60)
#   CONCURRENCY=64         virtual users for flow, refresh and userinfo
#   LOGIN_CONCURRENCY=16   virtual users for login
#   GEN_THREADS            generator runtime threads (default: one per core)
#   BACKENDS="sqlite postgres"   which backends, in order
#   SCENARIOS="login-default login-fast flow refresh refresh-es256-id userinfo"   which rows
#   TENANT_ALG=ES256       the tenants' signing algorithm (access tokens); ID tokens use the
#                          client's id_token_alg, RS256 by default
#   TESSERA_BIN, SIGNIN_LOAD_BIN   use these binaries instead of building them
#   CARGO_TARGET_DIR       where to build (default: ./target)
#   PG_HOST=127.0.0.1 PG_PORT=5432   the PostgreSQL server; the role is `postgres` or `root`
#   TESSERA__…             configuration overrides reach the server and the CLI unchanged, e.g.
#                          TESSERA__DATABASE__MAX_CONNECTIONS=4 (recorded in machine.txt)
#   KEEP_DATA=1            keep the temporary data dirs (the PostgreSQL database is always dropped)
#   PROFILE=1              also `perf record -g` the server during each measured window (perf adds
#                          CPU: use profiled runs to find where time goes, not for the figures);
#                          a flat profile per scenario is written to <backend>-<scenario>.perf.txt
#
# Bounded: every wait has a limit, every request of the generator has a timeout, the generator runs
# under `timeout`, only 127.0.0.1 is targeted, and the server is stopped on exit (trap).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD

DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
CONCURRENCY=${CONCURRENCY:-64}
LOGIN_CONCURRENCY=${LOGIN_CONCURRENCY:-16}
BACKENDS=${BACKENDS:-sqlite postgres}
TENANT_ALG=${TENANT_ALG:-ES256}
PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}

die() {
    printf 'signin.sh: %s\n' "$*" >&2
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
in_range WARMUP 0 60
in_range CONCURRENCY 1 4096
in_range LOGIN_CONCURRENCY 1 4096
if [[ -n "${GEN_THREADS:-}" ]]; then
    in_range GEN_THREADS 1 256
fi
for backend in $BACKENDS; do
    [[ $backend == sqlite || $backend == postgres ]] || die "unknown backend '$backend'"
done
case $TENANT_ALG in RS256 | ES256 | EdDSA) ;; *) die "TENANT_ALG must be RS256, ES256 or EdDSA" ;; esac

# --- tools and binaries --------------------------------------------------------------------------
for tool in python3 curl timeout getconf; do
    command -v "$tool" >/dev/null || die "$tool is required"
done
if [[ " $BACKENDS " == *" postgres "* ]]; then
    for tool in psql pg_isready; do
        command -v "$tool" >/dev/null || die "$tool is required for the PostgreSQL run"
    done
fi

target_dir=${CARGO_TARGET_DIR:-$repo/target}
if [[ -z "${TESSERA_BIN:-}" || -z "${SIGNIN_LOAD_BIN:-}" ]]; then
    cargo build --release --bin tessera --example signin_load
fi
BIN=${TESSERA_BIN:-$target_dir/release/tessera}
LOAD=${SIGNIN_LOAD_BIN:-$target_dir/release/examples/signin_load}
[[ -x "$BIN" ]] || die "no executable at $BIN"
[[ -x "$LOAD" ]] || die "no executable at $LOAD"

# --- workspace -----------------------------------------------------------------------------------
stamp=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS="$repo/bench/results/$stamp-signin"
mkdir -p "$RESULTS"
CLK_TCK=$(getconf CLK_TCK)
DATA=""
SERVER_PID=""
SERVER_LOG=""
PG_USER=""
PG_DB=""

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
            echo "data dir kept: $DATA (it holds the operator and client secrets)"
        else
            rm -rf "$DATA"
        fi
        DATA=""
    fi
}

cleanup() {
    local rc=$?
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

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status"; }
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
    echo "cpu:         $(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1)"
    echo "memory:      $(free -h | awk '/^Mem:/ { print $2 }')"
    echo "load:        ${DURATION}s per scenario after ${WARMUP}s warm-up; ${LOGIN_CONCURRENCY} users for login, ${CONCURRENCY} for the others"
    echo "generator:   $LOAD (threads: ${GEN_THREADS:-one per core}), on the same cores as the server"
    echo "tenant alg:  $TENANT_ALG (access tokens)"
    echo "loadavg:     $(cut -d' ' -f1-3 /proc/loadavg) (before the run)"
    echo "server env:  $(env | grep '^TESSERA__' | sort | tr '\n' ' ')(TESSERA__* variables reach the server; none means defaults)"
} | tee "$RESULTS/machine.txt"

# --- one backend ---------------------------------------------------------------------------------
REDIRECT_URI="http://127.0.0.1:9/callback"

# admin METHOD PATH: calls the admin API with the JSON body on stdin; the answer goes to stdout.
# The bearer token reaches curl through a config file in the temporary data dir, never argv.
admin() {
    local method=$1 path=$2 out code
    out=$(mktemp -p "$DATA")
    code=$(curl -sS --max-time 30 -K "$DATA/admin.curl" -o "$out" -w '%{http_code}' -X "$method" \
        -H 'Content-Type: application/json' --data-binary @- "$BASE/admin/v1$path")
    if [[ "$code" != 2?? ]]; then
        echo "admin API: $method $path answered $code: $(head -c 500 "$out")" >&2
        rm -f "$out"
        return 1
    fi
    cat "$out"
    rm -f "$out"
}

# admin_login: a bearer token of the operator client printed on the server's first start, written
# into the curl config $DATA/admin.curl.
admin_login() {
    local out=$DATA/server.out id="" secret="" i token
    for ((i = 0; i < 100; i++)); do
        id=$(sed -n 's/^[[:space:]]*client_id:[[:space:]]*//p' "$out" | head -n 1)
        secret=$(sed -n 's/^[[:space:]]*client_secret:[[:space:]]*//p' "$out" | head -n 1)
        [[ -n "$id" && -n "$secret" ]] && break
        sleep 0.1
    done
    [[ -n "$id" && -n "$secret" ]] || die "the server printed no operator credentials"
    # The credentials go to curl on stdin (-K -), never on a command line.
    token=$(printf 'user = "%s:%s"\n' "$id" "$secret" |
        curl -sS --fail-with-body --max-time 10 -K - -d grant_type=client_credentials -d scope=admin \
            "$BASE/t/system/token" | json_field access_token) || die "no operator token"
    (
        umask 077
        printf 'header = "Authorization: Bearer %s"\n' "$token" >"$DATA/admin.curl"
    )
}

# setup_tenant SLUG USERS SETTINGS_JSON [es]: a tenant with the given settings (PUT before any
# user exists, so every password hash is made with them), a first-party client, and the users
# bench-user1..USERS sharing one random password. With `es`, a second client whose ID tokens are
# ES256, when the CLI can register one. Fills CLIENT_ID, CLIENT_SECRET, PASSWORD (keyed by SLUG or
# SLUG-es); the secrets stay in memory and in the temporary data dir.
declare -A CLIENT_ID=() CLIENT_SECRET=() PASSWORD=()
setup_tenant() {
    local slug=$1 users=$2 settings=$3 extra_client=${4:-} i
    cli tenant create "$slug" --name "Benchmark $slug" --alg "$TENANT_ALG" >"$RESULTS/$BACKEND-tenant-$slug.json"
    admin PUT "/tenants/$slug/settings" <<<"$settings" >"$RESULTS/$BACKEND-settings-$slug.json"
    cli client create "$slug" --name "bench" --first-party \
        --grant authorization_code --grant refresh_token \
        --redirect-uri "$REDIRECT_URI" --scope openid --scope profile >"$DATA/client-$slug.json"
    CLIENT_ID[$slug]=$(json_field client_id <"$DATA/client-$slug.json")
    CLIENT_SECRET[$slug]=$(json_field client_secret <"$DATA/client-$slug.json")
    PASSWORD[$slug]=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
    for ((i = 1; i <= users; i++)); do
        python3 -c 'import json, sys; print(json.dumps({"username": sys.argv[1], "password": sys.argv[2]}))' \
            "bench-user$i" "${PASSWORD[$slug]}" | admin POST "/tenants/$slug/users" >/dev/null
    done
    if [[ -n "$extra_client" ]]; then
        cli client create "$slug" --name "bench-es256-id" --first-party \
            --grant authorization_code --grant refresh_token --id-token-alg ES256 \
            --redirect-uri "$REDIRECT_URI" --scope openid --scope profile >"$DATA/client-$slug-es.json"
        CLIENT_ID[$slug-es]=$(json_field client_id <"$DATA/client-$slug-es.json")
        CLIENT_SECRET[$slug-es]=$(json_field client_secret <"$DATA/client-$slug-es.json")
        PASSWORD[$slug-es]=${PASSWORD[$slug]}
    fi
}

TABLE=""
# scenario NAME TENANT_KEY SCENARIO USERS NOTE
scenario() {
    local name=$1 key=$2 kind=$3 users=$4 note=$5
    local slug=${key%-es}
    if [[ -n "${SCENARIOS:-}" && " $SCENARIOS " != *" $name "* ]]; then
        return 0
    fi
    local out="$RESULTS/$BACKEND-$name.json"
    server_alive || die "the server exited before $name (see $SERVER_LOG)"
    echo
    echo "== $BACKEND $name: $kind at $slug, $users users"
    local -a args=(
        --issuer "$BASE/t/$slug" --client-id "${CLIENT_ID[$key]}" --redirect-uri "$REDIRECT_URI"
        --username bench-user --users "$users" --source-ips "$users"
        --scenario "$kind" --concurrency "$users"
        --duration "$DURATION" --warmup "$WARMUP" --timeout-ms 10000
        --server-pid "$SERVER_PID" --clk-tck "$CLK_TCK"
    )
    if [[ -n "${GEN_THREADS:-}" ]]; then
        args+=(--threads "$GEN_THREADS")
    fi
    if [[ $BACKEND == postgres ]]; then
        # The PostgreSQL backends serving this database: `postgres: ROLE DB 127.0.0.1(port) …`.
        args+=(--db-match " $PG_DB ")
    fi
    local perf_pid="" perf_data="$RESULTS/$BACKEND-$name.perf.data"
    if [[ "${PROFILE:-}" == 1 ]]; then
        # Starts a second after the warm-up would (the sign-ins before the loop take about that).
        (
            sleep $((WARMUP + 1))
            exec timeout $((DURATION + 30)) perf record -q -F 499 -g -p "$SERVER_PID" -o "$perf_data" -- sleep "$((DURATION - 1 > 0 ? DURATION - 1 : 1))"
        ) >"$RESULTS/$BACKEND-$name.perf.log" 2>&1 &
        perf_pid=$!
    fi
    SIGNIN_LOAD_CLIENT_SECRET=${CLIENT_SECRET[$key]} SIGNIN_LOAD_PASSWORD=${PASSWORD[$key]} \
        timeout $((DURATION + WARMUP + 120)) "$LOAD" "${args[@]}" >"$out" ||
        die "the generator failed on $name: $(cat "$out")"
    if [[ -n "$perf_pid" ]]; then
        wait "$perf_pid" || echo "perf record failed on $name (see $RESULTS/$BACKEND-$name.perf.log)" >&2
        if [[ -s "$perf_data" ]]; then
            timeout 300 perf report -i "$perf_data" --stdio --no-children --sort dso,symbol \
                --percent-limit 0.5 -g none >"$RESULTS/$BACKEND-$name.perf.txt" 2>/dev/null || true
        fi
    fi
    python3 - "$out" "$name" "$note" >>"$TABLE" <<'EOF'
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
name, note = sys.argv[2], sys.argv[3]
s = r.get("server") or {}
def num(x, fmt):
    return "n/a" if x is None else format(x, fmt)
errors = r["errors_total"]
err = str(errors) if errors == 0 else "%d (%s)" % (errors, ", ".join("%s×%d" % kv for kv in r["errors"].items()))
c = r.get("cpu") or {}
db = r.get("database") or {}
db_us = num(db.get("cpu_us_per_unit"), ",.0f") if db else "in server"
cores = " / ".join(num(c.get(k), ".2f") if c.get(k) is not None else "–"
                   for k in ("server_cores", "database_cores", "generator_cores", "other_processes_cores"))
algs = ", ".join(sorted(set(k.split("/", 1)[1] for k in r.get("id_token_algs", {}))))
if algs:
    note = note + ("; " if note else "") + "ID token " + algs
print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
    name, note, num(r["per_second"], ",.1f"), num(r["p50_ms"], ".2f"), num(r["p99_ms"], ".2f"),
    num(s.get("cpu_us_per_unit"), ",.0f"), num(s.get("cpu_us_per_http_request"), ",.0f"), db_us,
    cores, num(s.get("rss_mib_mid"), ".1f"), err))
EOF
    tail -n 1 "$TABLE"
}

run_backend() {
    BACKEND=$1
    DATA=$(mktemp -d -t tessera-signin.XXXXXX)
    DB_ARGS=()
    local db_note="embedded SQLite in the data dir"
    if [[ $BACKEND == postgres ]]; then
        [[ -n "$PG_USER" ]] || detect_pg_user
        PG_DB="tessera_bench_${stamp,,}_$$"
        psql_admin "create database \"$PG_DB\"" >/dev/null
        DB_ARGS=(--database-url "postgres://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB")
        db_note="PostgreSQL $(psql_admin 'show server_version'), database $PG_DB as $PG_USER"
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
    admin_login

    local es_client=""
    if "$BIN" client create --help 2>/dev/null | grep -q -- '--id-token-alg'; then
        es_client=yes
    fi
    # One user (and one source address) per virtual user: the per-account and per-address
    # sign-in throttles then see what they would see from distinct people.
    local fast_users=$((CONCURRENCY > LOGIN_CONCURRENCY ? CONCURRENCY : LOGIN_CONCURRENCY))
    # The default cost, written out so the figure's parameters are the ones stated.
    setup_tenant bench-default "$LOGIN_CONCURRENCY" \
        '{"password":{"argon2_memory_kib":19456,"argon2_iterations":2,"argon2_parallelism":1}}'
    # Argon2's minimum cost: a benchmark tenant only.
    setup_tenant bench-fast "$fast_users" \
        '{"password":{"argon2_memory_kib":8,"argon2_iterations":1,"argon2_parallelism":1}}' "$es_client"
    wait_for_200 "$BASE/t/bench-default/.well-known/openid-configuration" 10
    wait_for_200 "$BASE/t/bench-fast/.well-known/openid-configuration" 10
    sleep 2 # the change feed polls every 250 ms; let every worker see the new settings
    local idle_rss
    idle_rss=$(rss_kib)

    TABLE="$RESULTS/$BACKEND-table.md"
    {
        echo "| scenario | tenant, parameters | per second | p50 ms | p99 ms | server CPU µs/unit | server CPU µs/HTTP request | database CPU µs/unit | cores used: server / database / generator / others | server RSS MiB | errors |"
        echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    } >"$TABLE"
    local default_argon="bench-default, argon2id m=19 MiB t=2 p=1"
    local fast_argon="bench-fast, argon2id m=8 KiB t=1 p=1"
    scenario login-default bench-default login "$LOGIN_CONCURRENCY" "$default_argon"
    scenario login-fast bench-fast login "$LOGIN_CONCURRENCY" "$fast_argon"
    scenario flow bench-fast flow "$CONCURRENCY" "$fast_argon"
    scenario refresh bench-fast refresh "$CONCURRENCY" "bench-fast, access token $TENANT_ALG"
    if [[ -n "$es_client" ]]; then
        scenario refresh-es256-id bench-fast-es refresh "$CONCURRENCY" "bench-fast, access token $TENANT_ALG"
    fi
    scenario userinfo bench-fast userinfo "$CONCURRENCY" "bench-fast, access token $TENANT_ALG"
    {
        echo
        echo "idle RSS after setup: $(mib "$idle_rss") MiB; peak (VmHWM): $(mib "$(awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status")") MiB"
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
