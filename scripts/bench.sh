#!/usr/bin/env bash
# Portcullis benchmark: one command, rerunnable from a clean clone.
#
#   scripts/bench.sh                 # SQLite, every load for BENCH_SECONDS (10) seconds
#   scripts/bench.sh --quick         # every step for 2 s (CI smoke test; exits non-zero on failure)
#   scripts/bench.sh --pg postgres://postgres@127.0.0.1:5432/postgres
#                                    # SQLite, then the same on PostgreSQL (scratch database
#                                    # portcullis_bench, created and dropped here)
#
# What it does: builds the release binary and two example programs (examples/sign_rate.rs,
# examples/bench_seed.rs); measures the raw signing rate of each algorithm on the server's
# core; starts `target/release/portcullis serve` on a fresh temporary database and keys
# directory, pinned to one core (taskset -c 0, PORTCULLIS_WORKERS=1), with the load
# generator (Debian's wrk, installed with apt-get when missing) pinned to the other core;
# drives every endpoint of interest over 127.0.0.1 for a bounded time; checks that every
# sampled token verifies against the JWKS; times `serve` readiness on the existing
# database; prints one table (also written to target/bench/results.md).
#
# Environment:
#   BENCH_SECONDS         seconds per load and per signing-rate measurement (default 10; --quick: 2)
#   BENCH_CONCURRENCY     connections of the throughput runs (default 32)
#   BENCH_SEED_PER_SEC    single-use codes / refresh tokens seeded per second of load (default 5000);
#                         a run that uses them all stops early and its rate is taken over its window
#   BENCH_PORT            first port tried on 127.0.0.1 (default 18480)
#   BENCH_SERVER_CPU / BENCH_LOAD_CPU   cores for the server and the load generator (0 / 1)
#   BENCH_ALLOW_ERRORS=1  do not fail when a load saw errors (non-2xx or socket errors)
#   BENCH_ENFORCE_TARGETS=1   fail when a performance target of the issue is missed
#   BENCH_KEEP=1          keep the temporary directory (databases, keys, logs, wrk output)
#   BENCH_LOG             the server's PORTCULLIS_LOG (default warn)
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

QUICK=0
PG_URL=""
while (($#)); do
    case $1 in
    --quick) QUICK=1 ;;
    --pg) PG_URL=${2:?--pg needs a PostgreSQL URL}; shift ;;
    --pg=*) PG_URL=${1#--pg=} ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SECS=${BENCH_SECONDS:-10}
((QUICK)) && SECS=2
CONC=${BENCH_CONCURRENCY:-32}
SEED_PER_SEC=${BENCH_SEED_PER_SEC:-5000}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
LOAD_CPU=${BENCH_LOAD_CPU:-1}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release/portcullis
EXAMPLES=$TARGET_DIR/release/examples
export BENCH_WRK_DIR=$ROOT/scripts/wrk

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

# Settings from the caller's environment must not leak into the servers we start.
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(PORTCULLIS_|DATABASE_URL$)' || true)

# --- tools ---------------------------------------------------------------------------
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v jq >/dev/null || missing+=(jq)
command -v curl >/dev/null || missing+=(curl)
command -v taskset >/dev/null || missing+=(util-linux)
if [[ -n $PG_URL ]] && ! command -v psql >/dev/null; then missing+=(postgresql-client); fi
if ((${#missing[@]})); then
    log "installing ${missing[*]} with apt-get"
    SUDO=()
    ((EUID == 0)) || SUDO=(sudo)
    "${SUDO[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || die "cargo is not on PATH"

NPROC=$(nproc)
if ((NPROC < 2)); then
    log "only one core: server and load generator share core 0 (figures are not comparable)"
    LOAD_CPU=$SERVER_CPU
fi

# --- build -----------------------------------------------------------------------------
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff-index --quiet HEAD -- 2>/dev/null || echo " with local changes")"
log "building (cargo build --release; examples sign_rate, bench_seed)"
cargo build --release
cargo build --release --example sign_rate --example bench_seed --example client_jose
[[ -x $BIN && -x $EXAMPLES/sign_rate && -x $EXAMPLES/bench_seed && -x $EXAMPLES/client_jose ]] ||
    die "build outputs missing"

# From here on this script and everything it starts run on the load core; only the
# servers and the signing-rate program are pinned to the server core explicitly.
taskset -pc "$LOAD_CPU" $$ >/dev/null

TMP=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-bench.XXXXXX")
SERVER_PID=""
PG_CREATED=""
cleanup() {
    local rc=$?
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ -n $PG_CREATED ]]; then
        psql "$PG_URL" -qX -v ON_ERROR_STOP=1 -c 'DROP DATABASE IF EXISTS portcullis_bench WITH (FORCE)' \
            >/dev/null 2>&1 || log "could not drop database portcullis_bench"
    fi
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then
        log "kept $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- helpers ---------------------------------------------------------------------------
now_us() { local t=${EPOCHREALTIME/./}; echo "$((10#$t))"; }

free_port() {
    local p=${BENCH_PORT:-18480}
    while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
    echo "$p"
}

b64url_decode() {
    local s=${1//-/+}
    s=${s//_//}
    case $((${#s} % 4)) in 2) s+="==" ;; 3) s+="=" ;; esac
    printf '%s' "$s" | base64 -d
}
jwt_alg() { b64url_decode "${1%%.*}" | jq -r .alg; }

vmhwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# CPU accounting, to tell a slow server from a starved one (the machine is shared):
# the server's user+system ticks (all threads, /proc/PID/stat), and the server core's
# busy / total / steal ticks (/proc/stat).
CLK_TCK=$(getconf CLK_TCK)
proc_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
core_ticks() {
    awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $9 }' /proc/stat
}

# start_server DB_URL KEYS_DIR LOG: start `serve` pinned to the server core, wait
# until /healthz answers; sets SERVER_PID, PORT, BASE, READY_MS.
start_server() {
    PORT=$(free_port)
    BASE="http://127.0.0.1:$PORT"
    local t0
    t0=$(now_us)
    DATABASE_URL=$1 PORTCULLIS_KEYS_DIR=$2 PORTCULLIS_BIND=127.0.0.1:$PORT \
        PORTCULLIS_WORKERS=1 PORTCULLIS_LOG=${BENCH_LOG:-warn} \
        taskset -c "$SERVER_CPU" "$BIN" serve >>"$3" 2>&1 &
    SERVER_PID=$!
    until curl -fs -o /dev/null --max-time 1 "$BASE/healthz"; do
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$3" >&2; die "serve exited during start"; }
        (($(now_us) - t0 < 60000000)) || die "serve not ready after 60 s"
    done
    READY_MS=$(awk -v d=$(($(now_us) - t0)) 'BEGIN { printf "%.1f", d / 1000 }')
}

stop_server() {
    [[ -n $SERVER_PID ]] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        log "serve did not stop within 10 s of SIGTERM; killing it"
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

check_alive() {
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -50 "$SERVER_LOG" >&2; die "serve died ($1)"; }
}

# The admin CLI on the suite's database and keys.
cli() { DATABASE_URL=$DB_URL PORTCULLIS_KEYS_DIR=$KEYS "$BIN" "$@"; }

cc_token() {
    curl -fsS -u "$CC_ID:$CC_SECRET" -d grant_type=client_credentials "$BASE/token" | jq -er .access_token
}

# --- the table ---------------------------------------------------------------------------
ROWS=()
FAILURES=()
TARGETS=()
fmt_ms() { if [[ $1 == - ]]; then echo -; else awk -v u="$1" 'BEGIN { printf "%.3f", u / 1000 }'; fi; }
# row DB WHAT CONC RATE VS_RAW P50_US P99_US ERRORS RSS_KB CPU_PCT OTHER_PCT NOTE
row() {
    local rss=-
    [[ $9 == - ]] || rss=$(awk -v k="$9" 'BEGIN { printf "%.1f", k / 1024 }')
    local line
    line=$(printf '| %-6s | %-44s | %4s | %10s | %-22s | %8s | %8s | %6s | %7s | %5s | %6s | %s |' \
        "$1" "$2" "$3" "$4" "$5" "$(fmt_ms "$6")" "$(fmt_ms "$7")" "$8" "$rss" "${10}" "${11}" "${12}")
    ROWS+=("$line")
    echo "$line" >&2
}
target() { # DESCRIPTION MET(0/1) MEASURED
    local verdict=MISSED
    (($2)) && verdict=met
    TARGETS+=("$(printf -- '- %-62s %-7s (%s)' "$1" "$verdict" "$3")")
}
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", 100 * a / b }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

declare -A R
# wrk_run OUTFILE CONC PATH LUA [ENV=VALUE...]: run wrk on the load core, parse RESULT into R.
wrk_run() {
    local out=$1 conc=$2 path=$3 lua=$4
    shift 4
    local s0 s1 t0 t1 c0 c1
    s0=$(proc_ticks "$SERVER_PID")
    read -r -a c0 < <(core_ticks "$SERVER_CPU")
    t0=$(now_us)
    if ! env "$@" taskset -c "$LOAD_CPU" wrk -t1 -c"$conc" -d"${SECS}s" --timeout 5s --latency \
        -s "$BENCH_WRK_DIR/$lua" "$BASE$path" >"$out" 2>&1; then
        cat "$out" >&2
        die "wrk failed on $path"
    fi
    local line
    t1=$(now_us)
    s1=$(proc_ticks "$SERVER_PID")
    read -r -a c1 < <(core_ticks "$SERVER_CPU")
    line=$(grep '^RESULT ' "$out") || { cat "$out" >&2; die "no RESULT from wrk on $path"; }
    R=()
    local kv
    for kv in ${line#RESULT }; do R[${kv%%=*}]=${kv#*=}; done
    check_alive "$path"
    CPU_PCT=$(awk -v s=$((s1 - s0)) -v w=$((t1 - t0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.0f", 100 * s / hz / (w / 1e6) }')
    local total=$((c1[1] - c0[1]))
    ((total > 0)) || total=1
    OTHER_PCT=$(awk -v b=$((c1[0] - c0[0])) -v s=$((s1 - s0)) -v t=$total 'BEGIN { o = 100 * (b - s) / t; printf "%.0f", o < 0 ? 0 : o }')
    STEAL_PCT=$(awk -v x=$((c1[2] - c0[2])) -v t=$total 'BEGIN { printf "%.0f", 100 * x / t }')
}

# row_run DB WHAT CONC RATE VS_RAW NOTE: a row from the last wrk_run.
row_run() {
    local note=$6
    ((STEAL_PCT == 0)) || note+="${note:+; }steal ${STEAL_PCT}%"
    row "$1" "$2" "$3" "$4" "$5" "${R[p50_us]}" "${R[p99_us]}" "${R[errors]}" "$(vmhwm_kb "$SERVER_PID")" \
        "$CPU_PCT" "$OTHER_PCT" "$note"
}

count_errors() { # WHAT ERRORS
    if (($2 > 0)); then FAILURES+=("$BACKEND: $1: $2 error(s)"); fi
}

# load WHAT CONC PATH [ENV=VALUE...]: wrk with a fixed request (results in R; the caller adds the row).
N=0
load() {
    local what=$1 conc=$2 path=$3
    shift 3
    N=$((N + 1))
    wrk_run "$TMP/wrk-$BACKEND-$N.txt" "$conc" "$path" load.lua "$@"
}

# --- signing rates ------------------------------------------------------------------------
log "machine: $NPROC cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(uname -srm)"
log "raw signing rates on core $SERVER_CPU (${SECS} s per algorithm)"
declare -A RAW OURS
taskset -c "$SERVER_CPU" "$EXAMPLES/sign_rate" rate --seconds "$SECS" >"$TMP/sign_rate.txt" ||
    die "sign_rate failed"
declare -A SIGN_CPU SIGN_WAIT
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2"; }
while read -r l; do
    alg=$(field alg "$l")
    RAW[$alg]=$(field raw "$l")
    OURS[$alg]=$(field ours "$l")
    SIGN_CPU[$alg]=$(field oncpu_pct "$l")
    SIGN_WAIT[$alg]=$(field waited_pct "$l")
done <"$TMP/sign_rate.txt"
for alg in RS256 ES256 EdDSA; do
    [[ -n ${RAW[$alg]:-} ]] || die "no signing rate for $alg"
    sign_us=$(awk -v r="${RAW[$alg]}" 'BEGIN { printf "%.1f", 1e6 / r }')
    row - "raw aws-lc sign $alg (1 thread)" 1 "${RAW[$alg]}" "100%" - - 0 - "${SIGN_CPU[$alg]%.*}" \
        "${SIGN_WAIT[$alg]%.*}" "${sign_us} us per signature"
    row - "sign_access_token $alg (1 thread)" 1 "${OURS[$alg]}" "$(pct "${OURS[$alg]}" "${RAW[$alg]}")% of raw" \
        - - 0 - "${SIGN_CPU[$alg]%.*}" "${SIGN_WAIT[$alg]%.*}" "cpu%/other% cover both sign rows"
done

# --- one suite per database -----------------------------------------------------------------
# single_use WHAT KIND ALG_NOTE: seed codes or refresh tokens, use 3 with curl (verified
# later), then the rest with wrk until they run out or the time is up.
single_use() {
    local what=$1 kind=$2 note=$3
    local n=$((SEED_PER_SEC * SECS))
    ((n >= 500)) || n=500
    local file=$TMP/$BACKEND-$kind-$N.txt seed_out
    seed_out=$("$EXAMPLES/bench_seed" "$kind" --database-url "$DB_URL" --client-id "$UC_ID" \
        --count $((n + 3)) --out "$file") || die "bench_seed $kind failed"
    local prefix
    if [[ $kind == codes ]]; then
        local verifier
        verifier=$(sed -n 's/^verifier=//p' <<<"$seed_out")
        prefix="grant_type=authorization_code&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&code_verifier=$verifier&code="
    else
        prefix="grant_type=refresh_token&refresh_token="
    fi
    local t body
    while read -r t; do
        body=$(curl -fsS -u "$UC_ID:$UC_SECRET" --data-raw "$prefix$t" "$BASE/token") ||
            die "$what: a seeded credential was refused"
        jq -er '.access_token, .refresh_token' <<<"$body" >/dev/null || die "$what: odd answer $body"
        jq -r '.access_token, (.id_token // empty)' <<<"$body" >>"$TOKENS"
    done < <(head -n 3 "$file")
    tail -n +4 "$file" >"$file.load"
    N=$((N + 1))
    wrk_run "$TMP/wrk-$BACKEND-$N.txt" "$CONC" /token single_use.lua \
        BENCH_TOKENS="$file.load" BENCH_BODY_PREFIX="$prefix" BENCH_AUTH="$UC_BASIC" \
        BENCH_SAMPLES="$TOKENS"
    local errs=${R[single_use_errors]}
    local noteline="used ${R[used]} of ${R[seeded]}, ${R[ok]} ok in ${R[window_s]} s"
    ((R[exhausted])) && noteline+=" (ran out)"
    [[ ${R[first_error]} == - ]] || noteline+="; first error ${R[first_error]}"
    row "$BACKEND" "$what $note" "$CONC" "${R[ok_rps]}" "" "${R[p50_us]}" "${R[p99_us]}" "$errs" \
        "$(vmhwm_kb "$SERVER_PID")" "$CPU_PCT" "$OTHER_PCT" "$noteline"
    count_errors "$what $note" "$errs"
    ((R[ok] > 0)) || FAILURES+=("$BACKEND: $what $note: no successful request")
}

# cc_rows ALG: client_credentials at concurrency CONC and 1, with the target checks.
cc_rows() {
    local alg=$1 sign_us
    sign_us=$(awk -v r="${RAW[$alg]}" 'BEGIN { print 1e6 / r }')
    load "cc" "$CONC" /token BENCH_METHOD=POST BENCH_BODY=grant_type=client_credentials BENCH_AUTH="$CC_BASIC"
    local share
    share=$(pct "${R[rps]}" "${RAW[$alg]}")
    row_run "$BACKEND" "client_credentials $alg" "$CONC" "${R[rps]}" "$share% of raw" ""
    count_errors "client_credentials $alg c=$CONC" "${R[errors]}"
    case $alg in
    RS256) target "$BACKEND: client_credentials RS256 >= 90% of raw signing" "$(ge "$share" 90 && echo 1 || echo 0)" "$share%" ;;
    ES256) target "$BACKEND: client_credentials ES256 >= 40% of raw signing" "$(ge "$share" 40 && echo 1 || echo 0)" "$share%" ;;
    esac
    load "cc" 1 /token BENCH_METHOD=POST BENCH_BODY=grant_type=client_credentials BENCH_AUTH="$CC_BASIC"
    local x
    x=$(awk -v p="${R[p50_us]}" -v s="$sign_us" 'BEGIN { printf "%.2f", p / s }')
    row_run "$BACKEND" "client_credentials $alg" 1 "${R[rps]}" "p50 = ${x}x one signature" ""
    count_errors "client_credentials $alg c=1" "${R[errors]}"
    target "$BACKEND: client_credentials $alg c=1 median < 1.2x one signature" \
        "$(awk -v x="$x" 'BEGIN { print (x < 1.2) ? 1 : 0 }')" "${x}x; p50 ${R[p50_us]} us, signature $(printf '%.1f' "$sign_us") us, GET /healthz c=1 p50 $FLOOR_US us"
    for _ in 1 2 3; do cc_token >>"$TOKENS"; done
}

# one_each WHAT FILE PREFIX AUTH HEADER BASE_RPS: a wrk run of single_use.lua sending one
# line of FILE per request (in HEADER, or after PREFIX in the body); sets ONE_RPS and
# writes the row, as a share of BASE_RPS when given.
one_each() {
    local what=$1 file=$2 prefix=$3 auth=$4 header=$5 base=$6 note=""
    N=$((N + 1))
    wrk_run "$TMP/wrk-$BACKEND-$N.txt" "$CONC" /token single_use.lua \
        BENCH_TOKENS="$file" BENCH_BODY_PREFIX="$prefix" BENCH_AUTH="$auth" \
        BENCH_TOKEN_HEADER="$header" BENCH_SAMPLES="$TOKENS"
    local errs=${R[single_use_errors]}
    ONE_RPS=${R[ok_rps]}
    if [[ -n $base ]]; then
        note="$(pct "$ONE_RPS" "$base")% of the baseline's rate"
    else
        note="the baseline of the two rows below"
    fi
    [[ ${R[first_error]} == - ]] || note+="; first error ${R[first_error]}"
    row "$BACKEND" "$what" "$CONC" "${R[ok_rps]}" "" "${R[p50_us]}" "${R[p99_us]}" "$errs" \
        "$(vmhwm_kb "$SERVER_PID")" "$CPU_PCT" "$OTHER_PCT" "$note"
    count_errors "$what" "$errs"
    ((R[ok] > 0)) || FAILURES+=("$BACKEND: $what: no successful request")
}

# sender_rows ALG: client_credentials three ways in one harness (one pre-made value per
# request): a secret (the baseline), a private_key_jwt assertion, a DPoP proof (both
# ES256, made beforehand by examples/client_jose). Each adds one signature verification
# and one indexed insert (the spent jti) to the baseline; the rows say by how much.
sender_rows() {
    local alg=$1 n=$((SEED_PER_SEC * SECS)) key=$TMP/$BACKEND-client-key.pem j
    ((n >= 2000)) || n=2000
    "$EXAMPLES/client_jose" keygen ES256 >"$key"
    "$EXAMPLES/client_jose" jwks "$key" >"$key.jwks"
    j=$(cli client create --name bench-signed --scope "bench:read" --jwks-file "$key.jwks" --json) ||
        die "client create (private_key_jwt)"
    local kid
    kid=$(jq -er .client_id <<<"$j")
    seq "$n" >"$TMP/$BACKEND-plain.txt"
    one_each "client_credentials $alg, client_secret_basic (same harness)" "$TMP/$BACKEND-plain.txt" \
        "grant_type=client_credentials&n=" "$CC_BASIC" "" ""
    local base=$ONE_RPS
    "$EXAMPLES/client_jose" assertions "$n" "$key" "$kid" "$BASE" >"$TMP/$BACKEND-assertions.txt"
    one_each "client_credentials $alg, private_key_jwt (ES256 assertion)" "$TMP/$BACKEND-assertions.txt" \
        "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=" \
        "" "" "$base"
    "$EXAMPLES/client_jose" dpops "$n" "$key" POST "$BASE/token" >"$TMP/$BACKEND-proofs.txt"
    one_each "client_credentials $alg + DPoP (ES256 proof)" "$TMP/$BACKEND-proofs.txt" \
        "grant_type=client_credentials" "$CC_BASIC" DPoP "$base"
    # A bound token, for the JWKS check: it verifies like any other.
    curl -fsS -H "DPoP: $("$EXAMPLES/client_jose" dpop "$key" POST "$BASE/token")" -u "$CC_ID:$CC_SECRET" \
        -d grant_type=client_credentials "$BASE/token" | jq -er 'select(.token_type == "DPoP") | .access_token' \
        >>"$TOKENS" || die "no DPoP-bound token"
}

rotate_to() {
    local alg=$1 t0 tok got
    cli keys rotate --alg "$alg" --json >/dev/null || die "keys rotate --alg $alg failed"
    t0=$(now_us)
    sleep 3
    while :; do
        tok=$(cc_token) || die "token request failed after rotation"
        got=$(jwt_alg "$tok")
        [[ $got == "$alg" ]] && break
        (($(now_us) - t0 < 10000000)) || die "server still signs $got 10 s after rotating to $alg"
        sleep 0.5
    done
    echo "$tok" >>"$TOKENS"
    log "rotated to $alg: a token has alg $got"
}

suite() {
    BACKEND=$1 DB_URL=$2
    KEYS=$TMP/$BACKEND-keys
    SERVER_LOG=$TMP/$BACKEND-serve.log
    TOKENS=$TMP/$BACKEND-tokens.txt
    : >"$TOKENS"
    log "[$BACKEND] fresh database and keys; first start (creates the RS256 key)"
    start_server "$DB_URL" "$KEYS" "$SERVER_LOG"
    log "[$BACKEND] serving on $BASE (pid $SERVER_PID, core $SERVER_CPU; first start ${READY_MS} ms)"

    local j
    j=$(cli client create --name bench-service --scope "bench:read bench:write" --json) || die "client create"
    CC_ID=$(jq -er .client_id <<<"$j")
    CC_SECRET=$(jq -er .client_secret <<<"$j")
    CC_BASIC="Basic $(printf '%s:%s' "$CC_ID" "$CC_SECRET" | base64 -w0)"
    j=$(cli client create --name bench-user-app --grant-type authorization_code \
        --grant-type refresh_token --redirect-uri http://127.0.0.1:9/cb \
        --scope "openid offline_access" --json) || die "client create (user app)"
    UC_ID=$(jq -er .client_id <<<"$j")
    UC_SECRET=$(jq -er .client_secret <<<"$j")
    UC_BASIC="Basic $(printf '%s:%s' "$UC_ID" "$UC_SECRET" | base64 -w0)"

    # Static documents (one RS256 key published).
    local bytes
    bytes=$(curl -fsS "$BASE/jwks.json" | wc -c)
    load jwks "$CONC" /jwks.json
    row_run "$BACKEND" "GET /jwks.json ($bytes B)" "$CONC" "${R[rps]}" "" ""
    count_errors "GET /jwks.json" "${R[errors]}"
    target "$BACKEND: GET /jwks.json >= 30000 req/s on one core" "$(ge "${R[rps]}" 30000 && echo 1 || echo 0)" "${R[rps]} req/s"
    bytes=$(curl -fsS "$BASE/.well-known/openid-configuration" | wc -c)
    load disco "$CONC" /.well-known/openid-configuration
    row_run "$BACKEND" "GET /.well-known/openid-configuration ($bytes B)" "$CONC" "${R[rps]}" "" ""
    count_errors "GET /.well-known/openid-configuration" "${R[errors]}"
    target "$BACKEND: GET /.well-known/openid-configuration >= 30000 req/s" "$(ge "${R[rps]}" 30000 && echo 1 || echo 0)" "${R[rps]} req/s"
    # The floor under every c=1 latency: loopback, wrk, actix, no work.
    load healthz 1 /healthz
    FLOOR_US=${R[p50_us]}
    row_run "$BACKEND" "GET /healthz (round-trip floor)" 1 "${R[rps]}" "" ""
    count_errors "GET /healthz" "${R[errors]}"

    # RS256, the default key.
    local tok
    tok=$(cc_token) || die "client_credentials token request failed"
    [[ $(jwt_alg "$tok") == RS256 ]] || die "the first key is not RS256"
    echo "$tok" >>"$TOKENS"
    cc_rows RS256

    tok=$(cc_token)
    curl -fsS -u "$CC_ID:$CC_SECRET" -d "token=$tok" "$BASE/introspect" | jq -e '.active == true' >/dev/null ||
        die "introspection of a fresh token is not active"
    load introspect "$CONC" /introspect BENCH_METHOD=POST BENCH_BODY="token=$tok" BENCH_AUTH="$CC_BASIC"
    row_run "$BACKEND" "POST /introspect (one RS256 access token)" "$CONC" "${R[rps]}" "" ""
    count_errors "POST /introspect" "${R[errors]}"

    single_use "refresh_token rotation" refresh "(RS256 AT)"
    single_use "authorization_code exchange" codes "(RS256 AT + RS256 ID)"

    rotate_to ES256
    cc_rows ES256
    rotate_to EdDSA
    cc_rows EdDSA
    sender_rows EdDSA
    single_use "refresh_token rotation" refresh "(EdDSA AT)"
    single_use "authorization_code exchange" codes "(EdDSA AT + RS256 ID)"

    # Every sampled token (curl and wrk samples, all three algorithms) against the JWKS.
    curl -fsS "$BASE/jwks.json" >"$TMP/$BACKEND-jwks.json"
    local v
    v=$("$EXAMPLES/sign_rate" verify --jwks "$TMP/$BACKEND-jwks.json" --issuer "$BASE" \
        --audience "$BASE" "$TOKENS") || die "[$BACKEND] a sampled token does not verify against the JWKS"
    log "[$BACKEND] tokens: $v"
    VERIFIED+=("$BACKEND: $v")

    # Readiness on the existing database and keys (3 keys), three times.
    local rss
    rss=$(vmhwm_kb "$SERVER_PID")
    stop_server
    local times=()
    for _ in 1 2 3; do
        start_server "$DB_URL" "$KEYS" "$SERVER_LOG"
        times+=("$READY_MS")
        cc_token >>"$TOKENS" || die "no token after restart"
        rss=$(vmhwm_kb "$SERVER_PID")
        stop_server
    done
    local med
    med=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)
    row "$BACKEND" "serve ready on existing DB (median of 3)" - - "" "$(awk -v m="$med" 'BEGIN { printf "%d", m * 1000 }')" - 0 "$rss" - - \
        "exec to first /healthz 200: ${times[*]} ms"
    target "$BACKEND: serve readiness < 300 ms" "$(ge 300 "$med" && echo 1 || echo 0)" "median $med ms"
}

VERIFIED=()
suite sqlite "sqlite://$TMP/bench.db"

if [[ -n $PG_URL ]]; then
    rest=${PG_URL#*://}
    host=${rest%%/*}
    query=""
    [[ $rest == *\?* ]] && query="?${rest#*\?}"
    PG_BENCH_URL="${PG_URL%%://*}://$host/portcullis_bench$query"
    log "[postgres] creating scratch database portcullis_bench"
    PGOPTIONS='-c client_min_messages=warning' psql "$PG_URL" -qX -v ON_ERROR_STOP=1 \
        -c 'DROP DATABASE IF EXISTS portcullis_bench WITH (FORCE)' -c 'CREATE DATABASE portcullis_bench' \
        >/dev/null || die "cannot create database portcullis_bench"
    PG_CREATED=1
    suite postgres "$PG_BENCH_URL"
fi

# --- report ----------------------------------------------------------------------------
mkdir -p "$TARGET_DIR/bench"
REPORT=$TARGET_DIR/bench/results.md
{
    echo "# scripts/bench.sh $( ((QUICK)) && echo --quick) $([[ -n $PG_URL ]] && echo --pg ...)"
    echo
    echo "- machine: $NPROC cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(uname -srm), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
    echo "- commit $COMMIT (at build time); $(rustc --version); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
    echo "- server: 1 worker (PORTCULLIS_WORKERS=1), taskset -c $SERVER_CPU; wrk -t1 on core $LOAD_CPU; ${SECS} s per load; throughput runs at $CONC connections"
    echo "- latencies in ms from wrk; errors = HTTP status >= 400 (single-use rows: any non-200) + socket errors and timeouts; RSS = the server's VmHWM (peak so far) after the row's run"
    echo "- cpu% = the server's CPU time / wall time during the run (all its threads, one core: 100 = saturated);"
    echo "  other% = share of core $SERVER_CPU busy with anything else (other processes, kernel work not charged to the server)."
    echo "  Sign rows: cpu% = sign_rate's on-CPU share, other% = its time runnable but waiting for the core."
    echo
    echo "| db     | what                                         |    c |      req/s | vs raw signing         |  p50 ms  |  p99 ms  | errors | RSS MiB |  cpu% | other% | notes |"
    echo "|--------|----------------------------------------------|------|------------|------------------------|----------|----------|--------|---------|-------|--------|-------|"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "Targets:"
    printf '%s\n' "${TARGETS[@]}"
    echo
    echo "Token checks:"
    printf -- '- %s\n' "${VERIFIED[@]}"
} >"$REPORT"
echo
cat "$REPORT"
echo
log "written to $REPORT"

if ((${#FAILURES[@]})); then
    printf 'errors during loads:\n' >&2
    printf '  %s\n' "${FAILURES[@]}" >&2
    [[ ${BENCH_ALLOW_ERRORS:-0} == 1 ]] || die "loads had errors (BENCH_ALLOW_ERRORS=1 to accept)"
fi
if [[ ${BENCH_ENFORCE_TARGETS:-0} == 1 ]] && printf '%s\n' "${TARGETS[@]}" | grep -q MISSED; then
    die "a performance target was missed (BENCH_ENFORCE_TARGETS=1)"
fi
log "done"
