#!/usr/bin/env bash
# Scale benchmark of a release build of Tessera: many tenants and two nodes on one PostgreSQL.
#
# Builds `cargo build --release` (the server and the examples seed_tenants and signin_load), creates a fresh PostgreSQL database `tessera_bench_<ts>` on
# $PG_URL (dropped on exit), starts `tessera serve` on it (127.0.0.1 only), and then:
#   a. creates tenants through the admin API (POST /admin/v1/tenants, operator token from the
#      first-start credentials) with wrk and bench/create.lua, in rounds whose creation rate is
#      logged against the tenant count; RS256 creation separately for $RS_SECONDS;
#      client-credentials latency of an existing tenant alone and while creation runs (at the
#      start and near $TARGET). The bulk of the tenants up to $TARGET comes from the admin API
#      too with FILL=api, or with FILL=seed (the default) from examples/seed_tenants.rs, which
#      creates each tenant with the server's own operation but seals RSA keys from a pool of
#      $RSA_POOL instead of generating two per tenant (see below);
#   b. at 10, 10,000 and $TARGET tenants: discovery, JWKS and client credentials on a hot set of
#      10 tenants and spread over 1,000 tenants (random tenant per request, bench/spread.lua):
#      requests/s, p50/p99 and the server's CPU µs/request (from /proc/PID/stat);
#   c. memory per cached tenant: RSS after a restart, then after warming 1,000 and 10,000
#      tenants' discovery and JWKS into the snapshot cache;
#   d. startup time (spawn to /readyz 200) at 10 and at $TARGET tenants;
#   e. one node versus two nodes on the same database: client-credentials throughput, and
#      refresh-grant throughput (examples/signin_load.rs, scenario refresh: 32 users sign in once,
#      then rotate their refresh tokens in a loop; with two nodes half of them at each node);
#   f. `tessera migrate` on the $TARGET-tenant database: the newest migration re-applied (its
#      table dropped and its seaql_migrations row deleted first), and a run with nothing pending.
# Raw output goes to bench/results/<timestamp>-scale/ (git-ignored). See BENCHMARKS.md.
#
# Creating a tenant generates two RSA-2048 keys (its RS256 ID-token ring: active and next), about
# 0.25 CPU-s: on 2 cores expect 5–8 tenants/s through the API, so 100,000 tenants would take
# hours. FILL=seed reaches them in minutes: the seeded tenants are the same rows (tenant, standard
# scopes, four sealed keys, change-feed entry) made by the same code, but their RS256 rings share
# RSA moduli from a pool (each use sealed to its own tenant and kid). With FILL=api, CREATE_LIMIT,
# not TARGET, usually ends the bulk creation; every table says how many tenants it was measured at. On a machine where the
# shared PostgreSQL may be restarted, point PG_URL at a private instance (initdb + pg_ctl).
#
# Environment:
#   PG_URL=postgres://postgres@127.0.0.1:5432/   server URL (the database name is added)
#   SPREAD=1000       tenants (with a client each) in the spread pattern
#   TARGET=100000     tenants to reach;  MID=10000 the intermediate stage (TARGET ≥ MID + 10)
#   DURATION=10       seconds per measured wrk run;  WARMUP=2 seconds of unmeasured warm-up
#   CONNECTIONS=64    wrk connections for the measured runs (2 threads)
#   CREATE_CONNECTIONS=16   requests in flight while creating tenants
#   CREATE_LIMIT=1500 seconds allowed for bulk creation (stops early, and says so, when reached)
#   RS_SECONDS=20     seconds of RS256 tenant creation
#   FORGE_THREADS=1   keys.forge_threads of the server (threads generating signing keys)
#   FILL=seed         how the bulk tenants are made: seed (examples/seed_tenants.rs) or api
#   RSA_POOL=64       RSA keys in the seeder's pool
#   TESSERA_BIN=...   use this binary instead of building target/release/tessera
#   KEEP_DB=1         keep the database (its name is printed)
#
# Bounded: every wait has a limit, wrk runs under `timeout`, creation stops at CREATE_LIMIT, and
# the servers are stopped and the database dropped on exit (trap).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD

PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/}
TARGET=${TARGET:-100000}
MID=${MID:-10000}
SPREAD=${SPREAD:-1000}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-64}
CREATE_CONNECTIONS=${CREATE_CONNECTIONS:-16}
CREATE_LIMIT=${CREATE_LIMIT:-1500}
RS_SECONDS=${RS_SECONDS:-20}
FORGE_THREADS=${FORGE_THREADS:-1}
FILL=${FILL:-seed}
RSA_POOL=${RSA_POOL:-64}

die() {
    printf 'scale.sh: %s\n' "$*" >&2
    exit 1
}
in_range() {
    local value=${!1}
    if ! [[ $value =~ ^[0-9]+$ ]] || ((value < $2 || value > $3)); then
        die "$1 must be a whole number in $2..$3 (got '$value')"
    fi
}
in_range SPREAD 10 10000
in_range MID $((SPREAD + 1)) 1000000
in_range TARGET $((MID + 10)) 1000000
in_range DURATION 1 600
in_range WARMUP 0 60
in_range CONNECTIONS 2 10000
in_range CREATE_CONNECTIONS 1 256
in_range CREATE_LIMIT 10 7200
in_range RS_SECONDS 1 600
in_range FORGE_THREADS 1 64
in_range RSA_POOL 1 10000
[[ $FILL == seed || $FILL == api ]] || die "FILL must be seed or api (got '$FILL')"

for tool in python3 curl timeout getconf psql wrk; do
    command -v "$tool" >/dev/null || die "$tool is required (wrk and psql: apt-get install wrk postgresql-client)"
done

if [[ -n "${TESSERA_BIN:-}" ]]; then
    BIN=$TESSERA_BIN
else
    cargo build --release --bin tessera --example seed_tenants --example signin_load
    BIN="${CARGO_TARGET_DIR:-$repo/target}/release/tessera"
fi
[[ -x "$BIN" ]] || die "no executable at $BIN"
SEED_BIN="$(dirname "$BIN")/examples/seed_tenants"
LOAD_BIN="$(dirname "$BIN")/examples/signin_load"
for example in "$SEED_BIN" "$LOAD_BIN"; do
    [[ -x "$example" ]] || die "no executable at $example (cargo build --release --example seed_tenants --example signin_load)"
done

# --- workspace -----------------------------------------------------------------------------------
stamp=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS="$repo/bench/results/$stamp-scale"
mkdir -p "$RESULTS"
DATA=$(mktemp -d -t tessera-scale.XXXXXX)
DB_NAME="tessera_bench_$(date -u +%Y%m%d%H%M%S)"
DB_URL="${PG_URL%/}/$DB_NAME"
CLK_TCK=$(getconf CLK_TCK)
SERVER_PID=""
SERVER2_PID=""
BG_PIDS=()
DB_CREATED=""

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
PORT=$(free_port)
PORT2=$(free_port)
BASE="http://127.0.0.1:$PORT"
BASE2="http://127.0.0.1:$PORT2"

psql_admin() { psql -X -q -v ON_ERROR_STOP=1 "$PG_URL" "$@"; }
psql_db() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DB_URL" "$@"; }

stop_pid() {
    local pid=$1 i
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? pid
    for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    stop_pid "$SERVER2_PID"
    stop_pid "$SERVER_PID"
    if [[ $rc -ne 0 && -f "$RESULTS/server.log" ]]; then
        echo "--- last lines of the server log ---" >&2
        tail -n 30 "$RESULTS/server.log" >&2 || true
    fi
    if [[ -n "$DB_CREATED" ]]; then
        if [[ "${KEEP_DB:-}" == 1 ]]; then
            echo "database kept: $DB_URL"
        else
            psql_admin -c "DROP DATABASE IF EXISTS $DB_NAME" || echo "could not drop $DB_NAME" >&2
        fi
    fi
    rm -rf "$DATA"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$RESULTS/progress.log"; }

cpu_ticks() { # PID: user + system clock ticks of all its threads
    local stat fields
    stat=$(<"/proc/$1/stat")
    stat=${stat##*) }
    read -r -a fields <<<"$stat"
    echo $((fields[11] + fields[12]))
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
now_ms() { date +%s%3N; }

# wait_for_200 URL SECONDS PID
wait_for_200() {
    local url=$1 limit=$2 pid=$3 i code=""
    for ((i = 0; i < limit * 20; i++)); do
        kill -0 "$pid" 2>/dev/null || die "the server exited (see $RESULTS)"
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)
        [[ "$code" == 200 ]] && return 0
        sleep 0.05
    done
    die "no 200 from $url within ${limit}s (last status: ${code:-none})"
}

# start_server PORT LOG: starts a node on the bench database; sets STARTED_PID and STARTUP_MS.
start_server() {
    local port=$1 logfile=$2 t0
    t0=$(now_ms)
    TESSERA__KEYS__FORGE_THREADS=$FORGE_THREADS "$BIN" --data-dir "$DATA" --database-url "$DB_URL" serve --listen "127.0.0.1:$port" \
        --public-url "$BASE" >>"$logfile" 2>&1 </dev/null &
    STARTED_PID=$!
    wait_for_200 "http://127.0.0.1:$port/readyz" 300 "$STARTED_PID"
    STARTUP_MS=$(($(now_ms) - t0))
}

tenant_count() { psql_db -c "SELECT count(*) FROM tenants"; }

# PostgreSQL reachable within a minute (it may be restarting on a shared machine).
for ((i = 0; i < 60; i++)); do
    psql_admin -c 'SELECT 1' >/dev/null 2>&1 && break
    sleep 1
done
psql_admin -c 'SELECT 1' >/dev/null || die "PostgreSQL at $PG_URL is not reachable"

# --- machine -------------------------------------------------------------------------------------
{
    echo "date (UTC):  $(date -u '+%Y-%m-%d %H:%M')"
    echo "commit:      $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$repo" diff --quiet 2>/dev/null || echo ' (dirty)')"
    echo "cores:       $(nproc)"
    echo "cpu:         $(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)"
    echo "memory:      $(free -h | awk '/^Mem:/ { print $2 }')"
    echo "postgres:    $(psql_admin -t -A -c 'SHOW server_version')"
    echo "wrk:         $(wrk -v 2>&1 | head -n 1)"
    echo "load avg:    $(cut -d' ' -f1-3 /proc/loadavg) (before the run)"
    echo "server:      keys.forge_threads=$FORGE_THREADS, other settings default"
    echo "runs:        ${DURATION}s measured after ${WARMUP}s warm-up, ${CONNECTIONS} connections, 2 wrk threads"
} | tee "$RESULTS/machine.txt"

psql_admin -c "CREATE DATABASE $DB_NAME"
DB_CREATED=1
log "database $DB_NAME created"

start_server "$PORT" "$RESULTS/server.log"
SERVER_PID=$STARTED_PID
log "first start (empty database, migrations included): ${STARTUP_MS} ms"
op_id=$(sed -n 's/^[[:space:]]*client_id:[[:space:]]*//p' "$RESULTS/server.log" | head -n 1)
op_secret=$(sed -n 's/^[[:space:]]*client_secret:[[:space:]]*//p' "$RESULTS/server.log" | head -n 1)
[[ -n "$op_id" && -n "$op_secret" ]] || die "no operator credentials in the first-start output"
# The secret is in the server log; keep the log out of the results once it has been read.
mv "$RESULTS/server.log" "$DATA/first-start.log"

admin_token() {
    curl -sS --max-time 10 -u "$op_id:$op_secret" -d grant_type=client_credentials -d scope=admin \
        "$BASE/t/system/token" | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}
TOKEN=$(admin_token)

# make_measured FROM TO: creates tenants m0000..m0999 (ES256) with one client-credentials client
# each through the admin API, 8 at a time; appends "<slug> <Basic auth>" lines to $DATA/measured.
make_measured() {
    local from=$1 to=$2 end
    # In chunks of 200, each with a fresh operator token (one lives 600 s).
    while ((from < to)); do
        end=$((from + 200 < to ? from + 200 : to))
        TOKEN=$(admin_token) make_measured_chunk "$from" "$end"
        from=$end
    done
}
make_measured_chunk() {
    TOKEN=$TOKEN BASE=$BASE python3 - "$1" "$2" >>"$DATA/measured" <<'PY'
import base64, json, os, sys, urllib.parse, urllib.request
from concurrent.futures import ThreadPoolExecutor
token, base = os.environ["TOKEN"], os.environ["BASE"]
def call(path, body):
    req = urllib.request.Request(base + "/admin/v1" + path, data=json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)
def make(i):
    slug = "m%04d" % i
    call("/tenants", {"slug": slug, "alg": "ES256"})
    c = call("/tenants/%s/clients" % slug, {"name": "bench", "grant_types": ["client_credentials"], "scopes": []})
    pair = urllib.parse.quote_plus(c["client_id"]) + ":" + urllib.parse.quote_plus(c["client_secret"])
    return "%s Basic %s" % (slug, base64.b64encode(pair.encode()).decode())
with ThreadPoolExecutor(8) as pool:
    for line in pool.map(make, range(int(sys.argv[1]), int(sys.argv[2]))):
        print(line)
PY
}

# wrk_run NAME BASE_URL CONNECTIONS FILE KIND [SECONDS]: one measured run against the node at
# BASE_URL; prints "rps p50 p99 non2xx sock" and keeps the raw output.
wrk_run() {
    local name=$1 base=$2 conns=$3 file=$4 kind=$5 secs=${6:-$DURATION}
    env BENCH_LUA_DIR="$repo/bench" TENANTS_FILE="$file" KIND="$kind" \
        timeout $((secs + 60)) wrk -t 2 -c "$conns" -d "${secs}s" --timeout 5s -s "$repo/bench/spread.lua" \
        "$base" >"$RESULTS/$name.txt" 2>&1 || die "wrk failed in $name (see $RESULTS/$name.txt)"
    awk '/^BENCH / { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "%s %s %s %s %s %s\n", v["rps"], v["p50_ms"], v["p99_ms"], v["non200"], v["sock_errors"], v["requests"] }' \
        "$RESULTS/$name.txt"
}

# measure STAGE LABEL FILE KIND: warm-up, then a measured run on node 1 with its CPU; appends a row.
TABLE="$RESULTS/requests.md"
{
    echo "| tenants | pattern | endpoint | requests/s | p50 ms | p99 ms | non-2xx | server CPU µs/request |"
    echo "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |"
} >"$TABLE"
measure() {
    local stage=$1 label=$2 file=$3 kind=$4 before after line rps p50 p99 bad sock n cpu
    if ((WARMUP > 0)); then wrk_run "warm-$stage-$label-$kind" "$BASE" "$CONNECTIONS" "$file" "$kind" "$WARMUP" >/dev/null; fi
    before=$(cpu_ticks "$SERVER_PID")
    line=$(wrk_run "$stage-$label-$kind" "$BASE" "$CONNECTIONS" "$file" "$kind")
    after=$(cpu_ticks "$SERVER_PID")
    read -r rps p50 p99 bad sock n <<<"$line"
    cpu=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n="$n" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$stage" "$label" "$kind" "$rps" "$p50" "$p99" "$((bad + sock))" "$cpu" | tee -a "$TABLE"
}
measure_stage() {
    local stage=$1 kind
    head -n 10 "$DATA/measured" >"$DATA/hot"
    cp "$DATA/measured" "$DATA/spread"
    log "stage $stage tenants ($(tenant_count) rows in tenants), load avg $(cut -d' ' -f1-3 /proc/loadavg)"
    for kind in discovery jwks token; do
        measure "$stage" "hot 10" "$DATA/hot" "$kind"
        if (($(wc -l <"$DATA/measured") >= SPREAD)); then
            measure "$stage" "spread $SPREAD" "$DATA/spread" "$kind"
        fi
    done
}

# create_round PREFIX ALG SECONDS: one wrk run of bench/create.lua; prints "created rate p50 p99".
CREATE_LOG="$RESULTS/creation.md"
{
    echo "| tenants before | alg | seconds | created | tenants/s | p50 ms | p99 ms | non-201 |"
    echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
} >"$CREATE_LOG"
create_round() {
    local prefix=$1 alg=$2 secs=$3 before out token
    before=$(tenant_count)
    # A fresh operator token each round: one lives 600 s, and seeding can take longer than that.
    token=$(admin_token)
    out="$RESULTS/create-$prefix.txt"
    env TOKEN="$token" PREFIX="$prefix" ALG="$alg" timeout $((secs + 60)) \
        wrk -t 2 -c "$CREATE_CONNECTIONS" -d "${secs}s" --timeout 30s -s "$repo/bench/create.lua" "$BASE" \
        >"$out" 2>&1 || die "wrk failed creating tenants (see $out)"
    awk -v before="$before" -v alg="$alg" -v secs="$secs" '/^CREATE / {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", before, alg, secs, v["created"], v["rate"], v["p50_ms"], v["p99_ms"], v["other"] }' \
        "$out" | tee -a "$CREATE_LOG"
}

# cc_probe NAME: client-credentials latency of tenant m0000 at 4 connections (node 1).
PROBE_LOG="$RESULTS/probe.md"
{
    echo "| when | requests/s | p50 ms | p99 ms | non-2xx |"
    echo "| --- | ---: | ---: | ---: | ---: |"
} >"$PROBE_LOG"
cc_probe() {
    local name=$1 rps p50 p99 bad sock n
    head -n 1 "$DATA/measured" >"$DATA/probe"
    read -r rps p50 p99 bad sock n <<<"$(wrk_run "probe-$name" "$BASE" 4 "$DATA/probe" token)"
    printf '| %s | %s | %s | %s | %s |\n' "$name" "$rps" "$p50" "$p99" "$((bad + sock))" | tee -a "$PROBE_LOG"
}

# probe_during_creation NAME PREFIX: creation (DURATION s) with the probe running at the same time.
probe_during_creation() {
    local name=$1 prefix=$2
    create_round "$prefix" ES256 "$DURATION" >"$DATA/round.$prefix" &
    BG_PIDS+=($!)
    sleep 0.5
    cc_probe "$name"
    wait "${BG_PIDS[-1]}" || die "creation round $prefix failed"
    unset 'BG_PIDS[-1]'
    cat "$DATA/round.$prefix"
}

STARTUP="$RESULTS/startup.md"
{
    echo "| tenants | spawn → /readyz 200 ms | RSS after start MiB |"
    echo "| ---: | ---: | ---: |"
} >"$STARTUP"
restart_node1() {
    stop_pid "$SERVER_PID"
    start_server "$PORT" "$RESULTS/server.log"
    SERVER_PID=$STARTED_PID
    sleep 1
    printf '| %s | %s | %s |\n' "$(tenant_count)" "$STARTUP_MS" "$(mib "$(rss_kib "$SERVER_PID")")" | tee -a "$STARTUP"
    TOKEN=$(admin_token)
}

# --- stage 10 ------------------------------------------------------------------------------------
: >"$DATA/measured"
make_measured 0 9 # with the system tenant: 10 tenants
log "10 tenants with clients created"
restart_node1
sleep 1
measure_stage 10

# --- creation: the measured 1,000, then bulk to 10,000 ---------------------------------------------
make_measured 9 "$SPREAD"
log "$SPREAD measured tenants with clients created ($(tenant_count) tenants)"
cc_probe "alone, $(tenant_count) tenants"
probe_during_creation "during ES256 creation, ~$(tenant_count) tenants" "a"

create_started=$(date +%s)
round=0
bulk_until() {
    local goal=$1 count secs
    while true; do
        count=$(tenant_count)
        ((count >= goal)) && break
        if (($(date +%s) - create_started >= CREATE_LIMIT)); then
            log "CREATE_LIMIT (${CREATE_LIMIT}s) reached at $count tenants; continuing with that count"
            break
        fi
        round=$((round + 1))
        # Rounds of 60 s, shorter for the remainder at the rate measured so far.
        secs=60
        if [[ -n "${LAST_RATE:-}" ]]; then
            secs=$(awk -v r="$LAST_RATE" -v left=$((goal - count)) 'BEGIN { s = int(left / r) + 1; if (s > 60) s = 60; if (s < 3) s = 3; print s }')
        fi
        LAST_RATE=$(create_round "b$round" ES256 "$secs" | awk -F'|' '{ gsub(/ /, "", $6); print $6 }')
        [[ -n "$LAST_RATE" && "$LAST_RATE" != 0* ]] || die "tenant creation made no progress (see $RESULTS/create-b$round.txt)"
        log "round $round: $(tenant_count) tenants, $LAST_RATE tenants/s"
    done
}
# seed_until GOAL: examples/seed_tenants.rs adds tenants s000000… until there are GOAL.
SEED_LOG="$RESULTS/seeding.md"
{
    echo "| tenants before | seeded | seconds | tenants/s |"
    echo "| ---: | ---: | ---: | ---: |"
} >"$SEED_LOG"
SEEDED=0
seed_until() {
    local goal=$1 count n out
    count=$(tenant_count)
    n=$((goal - count))
    ((n > 0)) || return 0
    out=$(timeout 7200 "$SEED_BIN" --database-url "$DB_URL" --data-dir "$DATA" --prefix s --from "$SEEDED" \
        --count "$n" --rsa-pool "$RSA_POOL" 2>>"$RESULTS/seed.log") || die "seeding failed (see $RESULTS/seed.log)"
    SEEDED=$((SEEDED + n))
    python3 -c 'import json, sys; r = json.loads(sys.argv[2]); print("| %s | %s | %s | %s |" % (sys.argv[1], r["created"], r["seconds"], r["tenants_per_second"]))' \
        "$count" "$out" | tee -a "$SEED_LOG"
    log "seeded: $(tenant_count) tenants"
}
fill_until() {
    if [[ $FILL == seed ]]; then seed_until "$1"; else bulk_until "$1"; fi
}

fill_until "$MID"
if [[ $FILL == seed ]]; then
    # The API creation rate at this size (the seeded tenants did not go through it).
    create_round "c" ES256 60 >/dev/null
fi
measure_stage "$(tenant_count)"

# --- bulk to TARGET ------------------------------------------------------------------------------
fill_until $((TARGET - 300))
if [[ $FILL == seed ]]; then
    create_round "y" ES256 60 >/dev/null
fi
probe_during_creation "during ES256 creation, ~$(tenant_count) tenants" "z"
cc_probe "alone, $(tenant_count) tenants"
create_round r RS256 "$RS_SECONDS" >/dev/null
TOTAL=$(tenant_count)
if [[ $FILL == seed ]]; then
    log "creation done: $TOTAL tenants ($SEEDED seeded, the rest through the admin API)"
else
    log "creation done: $TOTAL tenants in $(($(date +%s) - create_started)) s of bulk creation"
fi

measure_stage "$TOTAL"

# --- startup and memory per cached tenant ----------------------------------------------------------
restart_node1
MEM="$RESULTS/memory.md"
{
    echo "| snapshots warmed | RSS MiB | Δ RSS / tenant KiB |"
    echo "| ---: | ---: | ---: |"
} >"$MEM"
sleep 2
rss0=$(rss_kib "$SERVER_PID")
printf '| 0 | %s | – |\n' "$(mib "$rss0")" | tee -a "$MEM"
# Warm K distinct tenants: the measured 1,000, then 9,000 bulk ones (slugs from the database).
psql_db -c "SELECT slug || ' -' FROM tenants WHERE slug LIKE 'b%' OR slug LIKE 's%' ORDER BY slug LIMIT 9000" >"$DATA/bulk9000"
k1=$(wc -l <"$DATA/measured")
cp "$DATA/measured" "$DATA/warm$k1"
cat "$DATA/measured" "$DATA/bulk9000" >"$DATA/warm10000"
k2=$(wc -l <"$DATA/warm10000")
[[ -f "$DATA/warm$k2" ]] || mv "$DATA/warm10000" "$DATA/warm$k2"
for k in "$k1" "$k2"; do
    for kind in discovery jwks; do
        # Sequential walk: 2 threads × 8 connections cover the list once in about k/2 requests each.
        env BENCH_LUA_DIR="$repo/bench" TENANTS_FILE="$DATA/warm$k" KIND="$kind" SEQUENTIAL=1 \
            timeout 200 wrk -t 2 -c 2 -d "$((k / 300 + 5))s" --timeout 5s -s "$repo/bench/spread.lua" "$BASE" \
            >"$RESULTS/warm$k-$kind.txt" 2>&1 || die "warming failed"
    done
    sleep 2
    rss=$(rss_kib "$SERVER_PID")
    printf '| %s | %s | %s |\n' "$k" "$(mib "$rss")" "$(awk -v a="$rss" -v b="$rss0" -v k="$k" 'BEGIN { printf "%.1f", (a - b) / k }')" | tee -a "$MEM"
done

# --- one node versus two -------------------------------------------------------------------------
NODES="$RESULTS/nodes.md"
{
    echo "| setup | endpoint | requests/s (sum) | p50 ms | p99 ms | non-2xx | server CPU µs/request |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
} >"$NODES"
one=$( (
    b=$(cpu_ticks "$SERVER_PID")
    l=$(wrk_run one-node-token "$BASE" "$CONNECTIONS" "$DATA/spread" token)
    a=$(cpu_ticks "$SERVER_PID")
    echo "$l $((a - b))"
))
read -r rps p50 p99 bad sock n ticks <<<"$one"
printf '| one node, %s connections | client credentials (spread %s) | %s | %s | %s | %s | %s |\n' "$CONNECTIONS" "$SPREAD" "$rps" "$p50" "$p99" "$((bad + sock))" \
    "$(awk -v t="$ticks" -v hz="$CLK_TCK" -v n="$n" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')" | tee -a "$NODES"
start_server "$PORT2" "$RESULTS/server2.log"
SERVER2_PID=$STARTED_PID
log "second node ready in ${STARTUP_MS} ms"
wrk_run warm-node2 "$BASE2" "$CONNECTIONS" "$DATA/spread" token >/dev/null
b1=$(cpu_ticks "$SERVER_PID")
b2=$(cpu_ticks "$SERVER2_PID")
half=$((CONNECTIONS / 2))
wrk_run two-nodes-1 "$BASE" "$half" "$DATA/spread" token >"$DATA/n1" &
p1=$!
wrk_run two-nodes-2 "$BASE2" "$half" "$DATA/spread" token >"$DATA/n2" &
p2=$!
wait "$p1" "$p2"
a1=$(cpu_ticks "$SERVER_PID")
a2=$(cpu_ticks "$SERVER2_PID")
read -r r1 q1 s1 x1 y1 n1 <"$DATA/n1"
read -r r2 q2 s2 x2 y2 n2 <"$DATA/n2"
printf '| two nodes, %s connections each | client credentials (spread %s) | %s (%s + %s) | %s / %s | %s / %s | %s | %s |\n' "$half" "$SPREAD" \
    "$(awk -v a="$r1" -v b="$r2" 'BEGIN { printf "%.1f", a + b }')" "$r1" "$r2" "$q1" "$q2" "$s1" "$s2" "$((x1 + y1 + x2 + y2))" \
    "$(awk -v t=$((a1 - b1 + a2 - b2)) -v hz="$CLK_TCK" -v n=$((n1 + n2)) 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')" | tee -a "$NODES"

# Refresh grants: tenant rfr with a first-party client and REFRESH_USERS users (admin API), then
# examples/signin_load.rs --scenario refresh: every user signs in once at node 1 (not measured),
# then rotates its refresh token in a loop (RFC 6749 §6), at node 1 alone or half at each node.
REFRESH_USERS=32
REDIRECT_URI="http://127.0.0.1:9/cb"
TOKEN=$(admin_token)
RFR_SECRETS="$DATA/refresh.env"
TOKEN=$TOKEN BASE=$BASE REDIRECT_URI=$REDIRECT_URI USERS=$REFRESH_USERS python3 - >"$RFR_SECRETS" <<'PY'
import json, os, secrets, urllib.request
token, base = os.environ["TOKEN"], os.environ["BASE"]
def call(path, body):
    req = urllib.request.Request(base + "/admin/v1" + path, data=json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.load(resp)
call("/tenants", {"slug": "rfr", "alg": "ES256"})
c = call("/tenants/rfr/clients", {"name": "bench", "first_party": True,
    "grant_types": ["authorization_code", "refresh_token"],
    "redirect_uris": [os.environ["REDIRECT_URI"]], "scopes": ["openid", "profile"]})
password = secrets.token_urlsafe(18)
for i in range(1, int(os.environ["USERS"]) + 1):
    call("/tenants/rfr/users", {"username": "bench-user%d" % i, "password": password})
print("RFR_CLIENT_ID=%s" % c["client_id"])
print("SIGNIN_LOAD_CLIENT_SECRET=%s" % c["client_secret"])
print("SIGNIN_LOAD_PASSWORD=%s" % password)
PY
# refresh_run NAME CONCURRENCY [LOOP_BASE]: one signin_load run; the JSON report goes
# to $RESULTS/NAME.json. The secrets reach it through the environment, never the command line.
refresh_run() {
    local name=$1 conc=$2 loop_base=${3:-}
    local -a args=(--issuer "$BASE/t/rfr" --client-id "$RFR_CLIENT_ID" --redirect-uri "$REDIRECT_URI"
        --username "bench-user" --users "$conc" --scenario refresh --concurrency "$conc"
        --duration "$DURATION" --warmup "$WARMUP" --threads 1 --timeout-ms 10000)
    [[ -n "$loop_base" ]] && args+=(--loop-base "$loop_base")
    (
        set -a
        # shellcheck source=/dev/null
        . "$RFR_SECRETS"
        set +a
        timeout $((DURATION + WARMUP + 120)) "$LOAD_BIN" "${args[@]}"
    ) >"$RESULTS/$name.json" 2>"$RESULTS/$name.err" || die "signin_load failed in $name (see $RESULTS/$name.err)"
}
RFR_CLIENT_ID=$(sed -n 's/^RFR_CLIENT_ID=//p' "$RFR_SECRETS")
field() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$@"; }
b1=$(cpu_ticks "$SERVER_PID")
refresh_run refresh-one "$REFRESH_USERS"
a1=$(cpu_ticks "$SERVER_PID")
f="$RESULTS/refresh-one.json"
printf '| one node, %s users | refresh grant | %s | %s | %s | %s | %s |\n' "$REFRESH_USERS" "$(field "$f" per_second)" "$(field "$f" p50_ms)" \
    "$(field "$f" p99_ms)" "$(field "$f" errors_total)" \
    "$(awk -v t=$((a1 - b1)) -v hz="$CLK_TCK" -v n="$(field "$f" completed)" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')" | tee -a "$NODES"
half=$((REFRESH_USERS / 2))
b1=$(cpu_ticks "$SERVER_PID")
b2=$(cpu_ticks "$SERVER2_PID")
refresh_run refresh-two-1 "$half" "$BASE" &
p1=$!
refresh_run refresh-two-2 "$half" "$BASE2" &
p2=$!
wait "$p1" "$p2"
a1=$(cpu_ticks "$SERVER_PID")
a2=$(cpu_ticks "$SERVER2_PID")
f1="$RESULTS/refresh-two-1.json"
f2="$RESULTS/refresh-two-2.json"
printf '| two nodes, %s users each | refresh grant | %s (%s + %s) | %s / %s | %s / %s | %s | %s |\n' "$half" \
    "$(awk -v a="$(field "$f1" per_second)" -v b="$(field "$f2" per_second)" 'BEGIN { printf "%.1f", a + b }')" \
    "$(field "$f1" per_second)" "$(field "$f2" per_second)" "$(field "$f1" p50_ms)" "$(field "$f2" p50_ms)" \
    "$(field "$f1" p99_ms)" "$(field "$f2" p99_ms)" $(($(field "$f1" errors_total) + $(field "$f2" errors_total))) \
    "$(awk -v t=$((a1 - b1 + a2 - b2)) -v hz="$CLK_TCK" -v n=$(($(field "$f1" completed) + $(field "$f2" completed))) 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')" | tee -a "$NODES"

stop_pid "$SERVER2_PID"
SERVER2_PID=""
stop_pid "$SERVER_PID"
SERVER_PID=""

# --- migration on the full database --------------------------------------------------------------
MIG="$RESULTS/migrate.md"
newest=$(psql_db -c "SELECT version FROM seaql_migrations ORDER BY version DESC LIMIT 1")
table=$(python3 -c 'import sys; n = sys.argv[1]; print(n.split("_create_", 1)[1] if "_create_" in n else "")' "$newest")
{
    echo "| run | wall ms |"
    echo "| --- | ---: |"
} >"$MIG"
if [[ -n "$table" ]] && [[ "$(psql_db -c "SELECT to_regclass('$table') IS NOT NULL")" == t ]]; then
    psql_db -c "DROP TABLE $table CASCADE; DELETE FROM seaql_migrations WHERE version = '$newest'"
    t0=$(now_ms)
    "$BIN" --data-dir "$DATA" --database-url "$DB_URL" migrate >"$RESULTS/migrate-newest.log" 2>&1
    printf '| %s re-applied on %s tenants (tessera migrate, process start to exit) | %s |\n' "$newest" "$TOTAL" "$(($(now_ms) - t0))" | tee -a "$MIG"
else
    echo "newest migration $newest is not a create-table migration; not re-applied" | tee -a "$MIG"
fi
t0=$(now_ms)
"$BIN" --data-dir "$DATA" --database-url "$DB_URL" migrate >"$RESULTS/migrate-nothing.log" 2>&1
printf '| nothing pending, %s tenants | %s |\n' "$TOTAL" "$(($(now_ms) - t0))" | tee -a "$MIG"
psql_db -c "SELECT pg_size_pretty(pg_database_size(current_database()))" | sed 's/^/database size: /' | tee -a "$MIG"
# The periodic (every 60 s per node, and at start) sweeps of the tenants actor, as it runs them.
SWEEP="$RESULTS/sweeps.md"
sweep() { # NAME SQL: PostgreSQL's execution time of the query
    printf '| %s | %s |\n' "$1" "$(psql_db -c "EXPLAIN (ANALYZE, FORMAT JSON) $2" | python3 -c 'import json, sys; print("%.1f ms" % json.load(sys.stdin)[0]["Execution Time"])')" | tee -a "$SWEEP"
}
{
    echo "| sweep query ($TOTAL tenants) | execution time |"
    echo "| --- | ---: |"
} >"$SWEEP"
sweep "tenants lacking an active RS256 key (keys::tenants_without_active, page of 100)" \
    "SELECT id FROM tenants WHERE id NOT IN (SELECT tenant_id FROM signing_keys WHERE alg = 'RS256' AND state = 'active') ORDER BY id LIMIT 100"
sweep "tenants due for rotation (tenants::due_for_rotation, 100)" \
    "SELECT * FROM tenants WHERE keys_rotate_at <= extract(epoch FROM now())::bigint ORDER BY keys_rotate_at LIMIT 100"

log "load avg at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo
for f in machine.txt creation.md probe.md requests.md startup.md memory.md nodes.md migrate.md sweeps.md; do
    echo "### $f"
    cat "$RESULTS/$f"
    echo
done | tee "$RESULTS/summary.md"
echo "results: $RESULTS"
