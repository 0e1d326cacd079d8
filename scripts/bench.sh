#!/usr/bin/env bash
# Chorus benchmark, one command: the Centrifuge peer's scenario (see docs/benchmarks.md)
# against a 2-node Chorus cluster sharing one redis-server, everything on 127.0.0.0/8.
#
#   scripts/bench.sh                 # full run (~9 min plus builds): closed, rate, logins, private, idle, churn;
#                                    # closed, rate and idle over TCP, WebSocket and both mixed in the same rooms
#   QUICK=1 scripts/bench.sh         # short version of every phase (~2.5 min plus builds)
#   SKIP_INSTALL=1 SKIP_BUILD=1 ...  # no apt-get, no swift build (binaries from $SCRATCH)
#
# Knobs (env), defaults = the peer's:
#   C=1000 R=10 W=4 DUR=20 DRAIN=10 RATE=1000 REPEAT=1 SWEEP_RATES="" SWEEP_DUR=10
#   LOGINS=10000 LOGIN_CONC=100 PRIVATE_W=$W IDLE_PER_NODE=10000 IDLE_SETTLE=15 IDLE_CONC=64
#   SRC_IPS=127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4 THREADS=1 (generator event loops)
#   NODE_THREADS=1 (chorus-node --threads: 2 nodes share 2 cores with Redis and the generator,
#   so one event loop each; NODE_THREADS= for one per core) MAX_CONN=20000
#   FLOOD_RATE=100000 FLOOD_BURST=100000 PHASES="closed rate logins private idle churn"
#   TRANSPORTS="tcp ws mixed" (closed, rate and idle run once per transport: ws = WebSocket on the nodes'
#   --http-port, GET /ws; mixed = half of each room's members on each node over each; logins, private
#   and churn run over TCP)
#   CHURN_CYCLES=200000 CHURN_WARMUP=20000 CHURN_DENIED=0.2 CHURN_CONC=64 CHURN_SETTLE=3
#   CHURN_PER_IP=1000 (the churn phase restarts the nodes with this per-address limit, so that
#   it can hold node1 full for one address and measure denials; the other phases run without one)
#   SCRATCH=.build (swift build --scratch-path)  OUT=/tmp/chorus-bench/<UTC timestamp>
#
# The nodes run with an operator port (--admin-port: metrics on, as in production); their
# /metrics at the end is saved as $OUT/node1.metrics and node2.metrics.
#
# Writes only under $OUT and $SCRATCH (and what apt-get installs). Every process it starts is
# stopped by PID on exit or Ctrl-C.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
QUICK="${QUICK:-0}"
if [ "$QUICK" = 1 ]; then
  : "${C:=200}" "${R:=4}" "${DUR:=3}" "${DRAIN:=5}" "${RATE:=500}" "${LOGINS:=1000}" "${LOGIN_CONC:=50}"
  : "${IDLE_PER_NODE:=1000}" "${IDLE_SETTLE:=3}" "${CHURN_CYCLES:=30000}" "${CHURN_WARMUP:=10000}"
fi
C="${C:-1000}"; R="${R:-10}"; W="${W:-4}"; DUR="${DUR:-20}"; DRAIN="${DRAIN:-10}"; RATE="${RATE:-1000}"
REPEAT="${REPEAT:-1}"; SWEEP_RATES="${SWEEP_RATES-}"; SWEEP_DUR="${SWEEP_DUR:-10}"
LOGINS="${LOGINS:-10000}"; LOGIN_CONC="${LOGIN_CONC:-100}"; PRIVATE_W="${PRIVATE_W:-$W}"
IDLE_PER_NODE="${IDLE_PER_NODE:-10000}"; IDLE_SETTLE="${IDLE_SETTLE:-15}"; IDLE_CONC="${IDLE_CONC:-64}"
SRC_IPS="${SRC_IPS:-127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4}"; THREADS="${THREADS:-1}"
NODE_THREADS="${NODE_THREADS-1}"; MAX_CONN="${MAX_CONN:-20000}"
FLOOD_RATE="${FLOOD_RATE:-100000}"; FLOOD_BURST="${FLOOD_BURST:-100000}"
CHURN_CYCLES="${CHURN_CYCLES:-200000}"; CHURN_WARMUP="${CHURN_WARMUP:-20000}"; CHURN_DENIED="${CHURN_DENIED:-0.2}"
CHURN_CONC="${CHURN_CONC:-64}"; CHURN_SETTLE="${CHURN_SETTLE:-3}"; CHURN_PER_IP="${CHURN_PER_IP:-1000}"
PHASES="${PHASES:-closed rate logins private idle churn}"; TRANSPORTS="${TRANSPORTS:-tcp ws mixed}"
SCRATCH="${SCRATCH:-.build}"; SKIP_INSTALL="${SKIP_INSTALL:-0}"; SKIP_BUILD="${SKIP_BUILD:-0}"
OUT="${OUT:-/tmp/chorus-bench/$(date -u +%Y%m%dT%H%M%SZ)}"

log() { echo "[bench.sh $(date -u +%T)] $*" >&2; }
die() { log "FATAL: $*"; exit 1; }
want() { case " $PHASES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# ---------------------------------------------------------------- processes we started
PIDS=()
track() { PIDS+=("$1"); }
stop_pid() { # stop one process we started, by PID: TERM, then KILL after 5 s
  local pid="$1" i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}
cleanup() { # newest first: generators, then nodes (they deregister from Redis), then redis
  local k
  for (( k = ${#PIDS[@]} - 1; k >= 0; k-- )); do stop_pid "${PIDS[$k]}"; done
  PIDS=()
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

free_port() { # first port >= $1 with no listener
  local p="$1"
  while ss -Htln "sport = :$p" 2>/dev/null | grep -q .; do p=$((p + 1)); done
  echo "$p"
}
wait_port() { # port, seconds
  local i
  for i in $(seq 1 $(( $2 * 10 ))); do
    ss -Htln "sport = :$1" 2>/dev/null | grep -q . && return 0
    sleep 0.1
  done
  return 1
}

# ---------------------------------------------------------------- install + build
mkdir -p "$OUT" || die "cannot create $OUT"
if [ "$SKIP_INSTALL" != 1 ]; then
  scripts/install-deps.sh redis-server libhiredis-dev libicu-dev || die "installing redis-server libhiredis-dev libicu-dev failed"
fi
command -v redis-server >/dev/null || die "redis-server is not installed (scripts/install-deps.sh redis-server)"
if [ "$SKIP_BUILD" != 1 ]; then
  log "building chorus-node and chorus-bench (release, --scratch-path $SCRATCH)"
  swift build -c release --scratch-path "$SCRATCH" --product chorus-node >"$OUT/build.log" 2>&1 || { tail -20 "$OUT/build.log" >&2; die "swift build chorus-node failed"; }
  swift build -c release --scratch-path "$SCRATCH" --product chorus-bench >>"$OUT/build.log" 2>&1 || { tail -20 "$OUT/build.log" >&2; die "swift build chorus-bench failed"; }
fi
BIN="$(swift build -c release --scratch-path "$SCRATCH" --show-bin-path 2>/dev/null)"
[ -x "$BIN/chorus-node" ] && [ -x "$BIN/chorus-bench" ] || die "no chorus-node / chorus-bench in $BIN"

{
  echo "date: $(date -u)"; echo "host: $(uname -srm)"; echo "cpus: $(nproc)  mem: $(free -g | awk '/Mem:/{print $2}') GiB"
  echo "cpu model: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "swift: $(swift --version 2>&1 | head -1)"
  echo "chorus: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (with local changes)')"
  echo "redis: $(redis-server --version)"
  echo "params: QUICK=$QUICK TRANSPORTS='$TRANSPORTS' C=$C R=$R W=$W DUR=$DUR DRAIN=$DRAIN RATE=$RATE REPEAT=$REPEAT SWEEP_RATES='$SWEEP_RATES' LOGINS=$LOGINS LOGIN_CONC=$LOGIN_CONC PRIVATE_W=$PRIVATE_W IDLE_PER_NODE=$IDLE_PER_NODE IDLE_SETTLE=$IDLE_SETTLE IDLE_CONC=$IDLE_CONC CHURN_CYCLES=$CHURN_CYCLES CHURN_WARMUP=$CHURN_WARMUP CHURN_DENIED=$CHURN_DENIED CHURN_CONC=$CHURN_CONC CHURN_PER_IP=$CHURN_PER_IP THREADS=$THREADS NODE_THREADS=${NODE_THREADS:-auto}"
  echo "nodes: 2, --flood-rate $FLOOD_RATE --flood-burst $FLOOD_BURST (raised: the defaults, 10 msg/s burst 20 per session, would refuse this load) --max-connections $MAX_CONN"
  echo "descriptor limit (soft/hard): $(ulimit -Sn)/$(ulimit -Hn)"
  echo "other processes using CPU at start:"; ps -eo pid,pcpu,rss,comm --sort=-pcpu | head -6
} > "$OUT/env.txt"
log "results go to $OUT"

# ---------------------------------------------------------------- redis
RP="$(free_port 6390)"
log "starting redis-server on 127.0.0.1:$RP"
redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no --daemonize no --logfile "$OUT/redis.log" >/dev/null 2>&1 &
REDIS_PID=$!; track "$REDIS_PID"
for i in $(seq 1 50); do redis-cli -p "$RP" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$RP" ping >/dev/null 2>&1 || die "redis-server did not start (see $OUT/redis.log)"

# ---------------------------------------------------------------- nodes
P1="$(free_port 9101)"; P2="$(free_port $((P1 + 1)))"
# Operator ports: the nodes run with their metrics on, as in production; their /metrics
# is saved at the end (node1.metrics, node2.metrics).
A1="$(free_port $((P2 + 1)))"; A2="$(free_port $((A1 + 1)))"
# HTTP listeners (WebSocket on GET /ws), only if this chorus-node has them and a phase wants them.
H1=""; H2=""
case " $TRANSPORTS " in *" ws "*|*" mixed "*)
  NODE_HELP="$("$BIN/chorus-node" --help 2>&1)" # (not piped into grep -q: pipefail and SIGPIPE)
  if grep -q -- '--http-port' <<<"$NODE_HELP"; then
    H1="$(free_port $((A2 + 1)))"; H2="$(free_port $((H1 + 1)))"
  else
    log "this chorus-node has no --http-port: running the TCP variants only"
    TRANSPORTS="tcp"
  fi ;;
esac
PER_IP=0 # no per-address limit: every client comes from 127.0.0.x (the churn phase sets one)
start_nodes() {
  NODE_ARGS=(--host 127.0.0.1 --redis "redis://127.0.0.1:$RP" --flood-rate "$FLOOD_RATE" --flood-burst "$FLOOD_BURST" --max-connections "$MAX_CONN" --max-connections-per-ip "$PER_IP")
  [ -n "$NODE_THREADS" ] && NODE_ARGS+=(--threads "$NODE_THREADS")
  local http1=() http2=()
  [ -n "$H1" ] && http1=(--http-port "$H1") && http2=(--http-port "$H2")
  "$BIN/chorus-node" --port "$P1" --admin-port "$A1" "${http1[@]}" --node-id node1 "${NODE_ARGS[@]}" >>"$OUT/node1.log" 2>&1 &
  N1=$!; track "$N1"
  "$BIN/chorus-node" --port "$P2" --admin-port "$A2" "${http2[@]}" --node-id node2 "${NODE_ARGS[@]}" >>"$OUT/node2.log" 2>&1 &
  N2=$!; track "$N2"
  wait_port "$P1" 30 && wait_port "$P2" 30 || die "nodes did not start (see $OUT/node*.log)"
  if [ -n "$H1" ]; then wait_port "$H1" 30 && wait_port "$H2" 30 || die "the nodes' HTTP listeners did not start (see $OUT/node*.log)"; fi
  log "nodes: node1 pid $N1 on :$P1${H1:+ (HTTP :$H1)}, node2 pid $N2 on :$P2${H2:+ (HTTP :$H2)} (flood control raised to --flood-rate $FLOOD_RATE --flood-burst $FLOOD_BURST; --max-connections-per-ip $PER_IP)"
}
stop_nodes() { stop_pid "$N1"; stop_pid "$N2"; }
start_nodes
NODES="127.0.0.1:$P1,127.0.0.1:$P2"
WS_NODES="127.0.0.1:$H1,127.0.0.1:$H2"
transport_args() { # transport: chorus-bench options for it
  case "$1" in tcp) ;; *) echo "--transport $1 --ws-nodes $WS_NODES" ;; esac
}
suffix() { [ "$1" = tcp ] || echo "-$1"; }

FILES=()
FAILED=0
run_phase() { # label mode args...
  local label="$1" mode="$2"; shift 2
  log "phase $label: chorus-bench $mode $*"
  timeout $(( DUR + SWEEP_DUR + IDLE_SETTLE + 600 )) "$BIN/chorus-bench" "$mode" --nodes "$NODES" --label "$label" \
    --json --out "$OUT/$label.json" --pid "node1=$N1" --pid "node2=$N2" --redis-pid "$REDIS_PID" --threads "$THREADS" \
    --max-runtime $(( DUR + SWEEP_DUR + IDLE_SETTLE + 590 )) "$@" >/dev/null 2>"$OUT/$label.log" &
  local bp=$!; track "$bp"
  wait "$bp"; local rc=$?
  if [ -s "$OUT/$label.json" ]; then
    FILES+=("$OUT/$label.json")
    "$BIN/chorus-bench" report "$OUT/$label.json" | grep -E "^($label |$label:|  node[0-9]|  redis|  $label:|  (kinds|failures|growth)[: ])" | sed 's/^/    /' >&2
  fi
  if [ "$rc" != 0 ]; then
    FAILED=1
    log "phase $label: chorus-bench exited with $rc; last lines of $OUT/$label.log:"; tail -5 "$OUT/$label.log" >&2
  fi
  sleep 1
  return $rc
}
json_field() { sed -n "s/.*\"$2\":\\([-0-9.e]*\\).*/\\1/p" "$1" | head -1; }

# ---------------------------------------------------------------- fan-out, logins, private
for rep in $(seq 1 "$REPEAT"); do
  sfx=""; [ "$REPEAT" -gt 1 ] && sfx="-run$rep"
  for tr in $TRANSPORTS; do
    # shellcheck disable=SC2046 # transport_args is a list of words
    want closed && run_phase "closed-w$W$(suffix "$tr")$sfx" closed -c "$C" -r "$R" -w "$W" -d "$DUR" --drain "$DRAIN" $(transport_args "$tr")
  done
  for tr in $TRANSPORTS; do
    # shellcheck disable=SC2046
    want rate && run_phase "rate-$RATE$(suffix "$tr")$sfx" rate -c "$C" -r "$R" --rate "$RATE" -d "$DUR" --drain "$DRAIN" $(transport_args "$tr")
  done
done
for rt in $SWEEP_RATES; do
  run_phase "sweep-$rt" rate -c "$C" -r "$R" --rate "$rt" -d "$SWEEP_DUR" --drain "$DRAIN" || break
  got="$(json_field "$OUT/sweep-$rt.json" deliveries_per_s)"; want_d=$(( rt * C / R ))
  if [ "${got%.*}" -lt $(( want_d * 97 / 100 )) ]; then log "sweep: ${got%.*} < 97% of offered $want_d deliveries/s, stopping"; break; fi
done
want logins && run_phase "logins-$LOGINS" logins -c "$LOGINS" --concurrency "$LOGIN_CONC"
want private && run_phase "private-w$PRIVATE_W" private -c "$C" -w "$PRIVATE_W" -d "$DUR" --drain "$DRAIN"

# ---------------------------------------------------------------- idle memory (fresh nodes)
if want idle; then
  IDLE_ROOMS=$(( 2 * IDLE_PER_NODE / 100 )); [ "$IDLE_ROOMS" -lt 1 ] && IDLE_ROOMS=1
  for tr in $TRANSPORTS; do
    log "idle memory ($tr): restarting the nodes fresh"
    stop_nodes
    redis-cli -p "$RP" flushall >/dev/null
    start_nodes
    sleep 3
    # shellcheck disable=SC2046
    run_phase "idle-$IDLE_PER_NODE-per-node$(suffix "$tr")" idle -c $(( 2 * IDLE_PER_NODE )) -r "$IDLE_ROOMS" --settle "$IDLE_SETTLE" \
      --source-ips "$SRC_IPS" --concurrency "$IDLE_CONC" $(transport_args "$tr")
  done
fi

# ---------------------------------------------------------------- churn: memory per connect/close cycle (fresh nodes)
if want churn; then
  log "churn: restarting the nodes fresh, with --max-connections-per-ip $CHURN_PER_IP (denials need a per-address limit to hold)"
  stop_nodes
  redis-cli -p "$RP" flushall >/dev/null
  PER_IP="$CHURN_PER_IP"
  start_nodes
  sleep 3
  # Cycles go to node1 (the first of --nodes); its VmRSS is read after the warm-up and at the end.
  run_phase "churn-$CHURN_CYCLES" churn --cycles "$CHURN_CYCLES" --warmup "$CHURN_WARMUP" --denied "$CHURN_DENIED" \
    --concurrency "$CHURN_CONC" --settle "$CHURN_SETTLE"
fi

# ---------------------------------------------------------------- stop + report
if command -v curl >/dev/null; then
  curl -s "http://127.0.0.1:$A1/metrics" >"$OUT/node1.metrics" 2>/dev/null
  curl -s "http://127.0.0.1:$A2/metrics" >"$OUT/node2.metrics" 2>/dev/null
fi
{ redis-cli -p "$RP" info memory | grep -E '^used_memory(_human)?:'; redis-cli -p "$RP" info commandstats | grep -E 'publish|evalsha'; } \
  > "$OUT/redis-stats.txt" 2>/dev/null
cleanup
{
  cat "$OUT/env.txt"
  echo
  if [ "${#FILES[@]}" -gt 0 ]; then "$BIN/chorus-bench" report "${FILES[@]}"; else echo "no results"; fi
  echo
  echo "results: $OUT"
} | tee "$OUT/table.txt"
exit "$FAILED"
