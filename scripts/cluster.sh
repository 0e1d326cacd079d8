#!/usr/bin/env bash
# A local Chorus cluster on loopback, without Docker: one redis-server (no persistence),
# N chorus-node processes with --proxy-protocol and an operator port each (--admin-port:
# /health, /ready, /metrics), and HAProxy with deploy/haproxy.cfg in front of them,
# sending new clients only to nodes whose /ready answers 200. Runs in the foreground; Ctrl-C or SIGTERM stops everything, and so does
# the death of any process of the cluster (unless --keep-going, see below).
#
# Usage: scripts/cluster.sh [options] [-- extra chorus-node arguments]
#   -n, --nodes N          number of nodes, 1 to 9 (default 3)
#   -p, --port PORT        where clients connect, through HAProxy (default 9875)
#   -w, --web-port PORT    where browsers connect, through HAProxy: the chat page at /,
#                          WebSocket at /ws and /xmlsocket (default 8080)
#       --redis-port PORT  Redis port (default: a free port)
#       --node-ports LIST  comma-separated node ports, one per node (default: each node binds
#                          a free port and logs it; cluster.env lists them)
#       --admin-ports LIST comma-separated operator ports, one per node (default: as node ports)
#   -d, --run-dir DIR      logs, pid files and cluster.env go here (default: a new
#                          directory under ${TMPDIR:-/tmp})
#   -l, --log-level LEVEL  the nodes' log level (default info)
#   -k, --keep-going       when a node dies, keep the others running (to try failover);
#                          the cluster still stops when Redis, HAProxy or the last node dies
#   -h, --help
#
# Environment:
#   CHORUS_NODE_BINARY  the chorus-node to run (default: .build/release/chorus-node,
#                       built with `swift build -c release --product chorus-node` if missing)
#   Other CHORUS_* variables reach the nodes as usual (e.g. CHORUS_ROOMS=Lobby); the
#   flags this script passes (--host --port --http-port --node-id --redis
#   --proxy-protocol --admin-port --log-level) win over them.
#
# The run directory holds redis.log, node<K>.log, haproxy.log, <name>.pid files, the
# HAProxy runtime socket haproxy.sock, and cluster.env (shell syntax: ports, PIDs, logs),
# which is written last, once every process answers: its presence means "ready".
#
# Stopping one node by hand with SIGTERM drains it (--drain-seconds, default 5): its /ready
# turns 503 and HAProxy sends new clients elsewhere while its sessions finish. Stopping the
# cluster sends the nodes SIGINT: everything goes, so there is nothing to drain for.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
me=cluster.sh

say() { printf '%s: %s\n' "$me" "$*"; }
die() { printf '%s: %s\n' "$me" "$*" >&2; exit 2; }
usage() { sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }

nodes=3
client_port=9875
web_port=8080
redis_port=""
node_ports_arg=""
admin_ports_arg=""
run_dir=""
log_level=info
keep_going=0
node_args=()

while [ $# -gt 0 ]; do
  case "$1" in
    -n | --nodes) [ $# -ge 2 ] || die "$1 needs a value"; nodes=$2; shift 2 ;;
    -p | --port) [ $# -ge 2 ] || die "$1 needs a value"; client_port=$2; shift 2 ;;
    -w | --web-port) [ $# -ge 2 ] || die "$1 needs a value"; web_port=$2; shift 2 ;;
    --redis-port) [ $# -ge 2 ] || die "$1 needs a value"; redis_port=$2; shift 2 ;;
    --node-ports) [ $# -ge 2 ] || die "$1 needs a value"; node_ports_arg=$2; shift 2 ;;
    --admin-ports) [ $# -ge 2 ] || die "$1 needs a value"; admin_ports_arg=$2; shift 2 ;;
    -d | --run-dir) [ $# -ge 2 ] || die "$1 needs a value"; run_dir=$2; shift 2 ;;
    -l | --log-level) [ $# -ge 2 ] || die "$1 needs a value"; log_level=$2; shift 2 ;;
    -k | --keep-going) keep_going=1; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; node_args=("$@"); break ;;
    *) die "unknown argument \"$1\" (see --help)" ;;
  esac
done

is_port() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]; }
[[ $nodes =~ ^[1-9]$ ]] || die "--nodes must be 1 to 9 (deploy/haproxy.cfg has slots NODE1_ADDR..NODE9_ADDR), not \"$nodes\""
is_port "$client_port" || die "invalid --port \"$client_port\""
is_port "$web_port" || die "invalid --web-port \"$web_port\""
[ -z "$redis_port" ] || is_port "$redis_port" || die "invalid --redis-port \"$redis_port\""

# --- tools -----------------------------------------------------------------------------
if ! command -v redis-server >/dev/null 2>&1 || ! command -v haproxy >/dev/null 2>&1; then
  "$repo/scripts/install-deps.sh" redis-server haproxy || die "cannot install redis-server and haproxy"
fi
command -v redis-server >/dev/null 2>&1 || die "redis-server is not on PATH"
command -v haproxy >/dev/null 2>&1 || die "haproxy is not on PATH"

binary=${CHORUS_NODE_BINARY:-}
if [ -z "$binary" ]; then
  binary="$repo/.build/release/chorus-node"
  if [ ! -x "$binary" ]; then
    "$repo/scripts/install-deps.sh" libhiredis-dev libicu-dev || die "cannot install libhiredis-dev and libicu-dev"
    say "building chorus-node (release) ..."
    (cd "$repo" && swift build -c release --product chorus-node) || die "swift build failed"
    binary="$(cd "$repo" && swift build -c release --show-bin-path)/chorus-node"
  fi
fi
[ -x "$binary" ] || die "chorus-node binary \"$binary\" is missing or not executable (CHORUS_NODE_BINARY)"

# --- ports -----------------------------------------------------------------------------
# A port is taken when something accepts a connection on it. Chosen ports are also
# remembered, so no two processes get the same one. They are drawn below the kernel's
# ephemeral range (32768 and up), where outgoing connections take their source ports, so
# a port found free is not taken by one a moment later. Nodes need none of this: they
# bind port 0 and say in their log which ports they got.
chosen=" "
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { # sets port to a free port not chosen before
  local tries
  for ((tries = 0; tries < 200; tries++)); do
    port=$((10000 + RANDOM % 22000))
    case "$chosen" in *" $port "*) continue ;; esac
    port_in_use "$port" && continue
    chosen="$chosen$port "
    return 0
  done
  return 1
}
take_port() { # take_port PORT DESCRIPTION: a port given by the user
  case "$chosen" in *" $1 "*) die "port $1 is given twice" ;; esac
  port_in_use "$1" && die "port $1 ($2) is already in use"
  chosen="$chosen$1 "
}

take_port "$client_port" "client port, -p"
take_port "$web_port" "web port, -w"
if [ -n "$redis_port" ]; then
  take_port "$redis_port" "--redis-port"
else
  free_port || die "no free port for Redis"
  redis_port=$port
fi
node_ports=()
if [ -n "$node_ports_arg" ]; then
  IFS=, read -r -a node_ports <<<"$node_ports_arg"
  [ "${#node_ports[@]}" -eq "$nodes" ] || die "--node-ports lists ${#node_ports[@]} ports for $nodes nodes"
  for p in "${node_ports[@]}"; do is_port "$p" || die "invalid node port \"$p\""; take_port "$p" "--node-ports"; done
else
  for ((k = 1; k <= nodes; k++)); do node_ports+=(0); done  # the node picks, its log tells
fi
admin_ports=()
if [ -n "$admin_ports_arg" ]; then
  IFS=, read -r -a admin_ports <<<"$admin_ports_arg"
  [ "${#admin_ports[@]}" -eq "$nodes" ] || die "--admin-ports lists ${#admin_ports[@]} ports for $nodes nodes"
  for p in "${admin_ports[@]}"; do is_port "$p" || die "invalid admin port \"$p\""; take_port "$p" "--admin-ports"; done
else
  for ((k = 1; k <= nodes; k++)); do admin_ports+=(0); done
fi
node_web_ports=()
for ((k = 1; k <= nodes; k++)); do node_web_ports+=(0); done

if [ -z "$run_dir" ]; then
  run_dir=$(mktemp -d "${TMPDIR:-/tmp}/chorus-cluster.XXXXXX") || die "cannot create a run directory"
else
  mkdir -p "$run_dir" || die "cannot create $run_dir"
fi
run_dir=$(cd "$run_dir" && pwd)
rm -f "$run_dir/cluster.env" "$run_dir"/*.pid "$run_dir/haproxy.sock"

# --- supervision -----------------------------------------------------------------------
# Every process is a direct child of this script (setsid execs it in place, so $! is its
# PID) in a session of its own: a Ctrl-C in the terminal reaches only this script, which
# then stops the processes in order, HAProxy and the nodes first, Redis last.
names=()   # names[i] and pids[i] belong together
pids=()
stopping=0

started() { names+=("$1"); pids+=("$2"); echo "$2" >"$run_dir/$1.pid"; }
alive() { kill -0 "$1" 2>/dev/null; }

stop_all() {
  [ "$stopping" -eq 1 ] && return
  stopping=1
  trap '' INT TERM
  local i pid deadline left
  # Nodes and HAProxy first; the nodes take their sessions out of Redis as they stop.
  # SIGINT: a node stops at once (SIGTERM would drain it, pointless when all stop).
  for i in "${!pids[@]}"; do
    case "${names[$i]}" in
      redis) ;;
      node*) kill -INT "${pids[$i]}" 2>/dev/null ;;
      *) kill -TERM "${pids[$i]}" 2>/dev/null ;;
    esac
  done
  for phase in others redis; do
    if [ "$phase" = redis ]; then
      for i in "${!pids[@]}"; do [ "${names[$i]}" = redis ] && kill -TERM "${pids[$i]}" 2>/dev/null; done
    fi
    deadline=$((SECONDS + 10))
    while :; do
      left=()
      for i in "${!pids[@]}"; do
        if [ "$phase" = others ] && [ "${names[$i]}" = redis ]; then continue; fi
        alive "${pids[$i]}" && left+=("${pids[$i]}")
      done
      [ ${#left[@]} -eq 0 ] && break
      if [ $SECONDS -ge $deadline ]; then
        say "still running after 10 s, killing: ${left[*]}"
        kill -KILL "${left[@]}" 2>/dev/null
        break
      fi
      sleep 0.1
    done
  done
  wait 2>/dev/null
  left=()
  for pid in "${pids[@]}"; do alive "$pid" && left+=("$pid"); done
  if [ ${#left[@]} -gt 0 ]; then
    say "could not stop: ${left[*]}" >&2
  elif [ ${#pids[@]} -gt 0 ]; then
    say "stopped redis, ${nodes} node(s) and haproxy; logs are in $run_dir"
  fi
  rm -f "$run_dir/cluster.env" "$run_dir"/*.pid "$run_dir/haproxy.sock"
}

trap 'stop_all' EXIT
trap 'say "SIGINT: stopping"; exit 130' INT
trap 'say "SIGTERM: stopping"; exit 143' TERM
trap 'say "SIGHUP: stopping"; exit 129' HUP

# wait_until SECONDS NAME PID COMMAND...: retries COMMAND until it succeeds; fails if the
# process PID dies or time runs out.
wait_until() {
  local limit=$1 name=$2 pid=$3
  shift 3
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    alive "$pid" || { say "$name exited during start-up; see $run_dir/$name.log:" >&2; tail -n 20 "$run_dir/$name.log" >&2; return 1; }
    [ $SECONDS -lt $deadline ] || { say "$name did not answer within $limit s; see $run_dir/$name.log" >&2; return 1; }
    sleep 0.2
  done
}

redis_ping() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'PING\r\n' >&3
  IFS= read -r -t 2 reply <&3
  exec 3>&-
  [[ $reply == +PONG* ]]
}

# page_ok PORT [proxy]: the web port at PORT serves the page (with a PROXY header first
# when it is a node's, which expects one).
page_ok() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  [ "${2-}" = proxy ] && printf 'PROXY TCP4 127.0.0.1 127.0.0.1 1 %s\r\n' "$1" >&3
  printf 'GET / HTTP/1.0\r\n\r\n' >&3
  IFS= read -r -t 2 reply <&3
  exec 3>&-
  [[ $reply == HTTP/1.?\ 200* ]]
}

# --- start -----------------------------------------------------------------------------
setsid redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$run_dir" --daemonize no --logfile "" >"$run_dir/redis.log" 2>&1 &
started redis $!
wait_until 20 redis "$!" redis_ping "$redis_port" || exit 1

for ((k = 1; k <= nodes; k++)); do
  setsid "$binary" --host 127.0.0.1 --port "${node_ports[$((k - 1))]}" --http-port "${node_web_ports[$((k - 1))]}" --node-id "node$k" \
    --redis "redis://127.0.0.1:$redis_port" --proxy-protocol --admin-port "${admin_ports[$((k - 1))]}" \
    --log-level "$log_level" "${node_args[@]}" >"$run_dir/node$k.log" 2>&1 &
  started "node$k" $!
done
# logged_port K PATTERN: the port node K logged after PATTERN (e.g. "accepting connections
# on 127.0.0.1:"); fails until the line is there.
logged_port() {
  local found
  found=$(grep -o -m1 "$2[0-9]*" "$run_dir/node$1.log" 2>/dev/null) || return 1
  port=${found##*:}
  [ -n "$port" ]
}
for ((k = 1; k <= nodes; k++)); do
  wait_until 60 "node$k" "${pids[$k]}" logged_port "$k" "accepting connections on 127.0.0.1:" || exit 1
  logged_port "$k" "accepting connections on 127.0.0.1:" && node_ports[$((k - 1))]=$port
  wait_until 20 "node$k" "${pids[$k]}" logged_port "$k" "serving web clients on 127.0.0.1:" || exit 1
  logged_port "$k" "serving web clients on 127.0.0.1:" && node_web_ports[$((k - 1))]=$port
  wait_until 20 "node$k" "${pids[$k]}" logged_port "$k" "operator endpoints on http://127.0.0.1:" || exit 1
  logged_port "$k" "operator endpoints on http://127.0.0.1:" && admin_ports[$((k - 1))]=$port
  wait_until 60 "node$k" "${pids[$k]}" "$repo/deploy/chorus-healthcheck" 127.0.0.1 "${node_ports[$((k - 1))]}" || exit 1
  wait_until 20 "node$k" "${pids[$k]}" page_ok "${node_web_ports[$((k - 1))]}" proxy || exit 1
done

# HAProxy reads the node list and its addresses from the environment (deploy/haproxy.cfg).
unset NODES_FQDN NODES_MAX NODES_PORT NODES_WEB_PORT NODES_ADMIN_PORT
for ((k = 1; k <= 9; k++)); do
  if [ "$k" -le "$nodes" ]; then
    export "NODE${k}_ADDR=127.0.0.1:${node_ports[$((k - 1))]}" "NODE${k}_WEB=127.0.0.1:${node_web_ports[$((k - 1))]}" \
      "NODE${k}_ADMIN_PORT=${admin_ports[$((k - 1))]}"
  else
    unset "NODE${k}_ADDR" "NODE${k}_WEB" "NODE${k}_ADMIN_PORT"
  fi
done
export HAPROXY_BIND="127.0.0.1:$client_port"
export HAPROXY_WEB_BIND="127.0.0.1:$web_port"
export HAPROXY_STATS_SOCKET="$run_dir/haproxy.sock"
setsid haproxy -db -f "$repo/deploy/haproxy.cfg" >"$run_dir/haproxy.log" 2>&1 &
started haproxy $!
wait_until 20 haproxy "$!" "$repo/deploy/chorus-healthcheck" 127.0.0.1 "$client_port" || exit 1
wait_until 20 haproxy "${pids[$((nodes + 1))]}" page_ok "$web_port" || exit 1

{
  echo "RUN_DIR=$run_dir"
  echo "SCRIPT_PID=$$"
  echo "CLIENT_PORT=$client_port"
  echo "WEB_PORT=$web_port"
  echo "HAPROXY_PID=${pids[$((nodes + 1))]}"
  echo "HAPROXY_STATS_SOCKET=$run_dir/haproxy.sock"
  echo "HAPROXY_LOG=$run_dir/haproxy.log"
  echo "REDIS_PORT=$redis_port"
  echo "REDIS_PID=${pids[0]}"
  echo "REDIS_LOG=$run_dir/redis.log"
  echo "NODE_COUNT=$nodes"
  for ((k = 1; k <= nodes; k++)); do
    echo "NODE${k}_PORT=${node_ports[$((k - 1))]}"
    echo "NODE${k}_WEB_PORT=${node_web_ports[$((k - 1))]}"
    echo "NODE${k}_ADMIN_PORT=${admin_ports[$((k - 1))]}"
    echo "NODE${k}_PID=${pids[$k]}"
    echo "NODE${k}_LOG=$run_dir/node$k.log"
  done
} >"$run_dir/cluster.env.tmp" && mv "$run_dir/cluster.env.tmp" "$run_dir/cluster.env"

say "cluster ready: clients connect to 127.0.0.1:$client_port (HAProxy, leastconn, PROXY protocol to the nodes)"
say "  web chat page: http://127.0.0.1:$web_port/ (WebSocket at /ws and /xmlsocket, through HAProxy)"
say "  redis    127.0.0.1:$redis_port  pid ${pids[0]}  log $run_dir/redis.log"
for ((k = 1; k <= nodes; k++)); do
  say "  node$k    127.0.0.1:${node_ports[$((k - 1))]} (web ${node_web_ports[$((k - 1))]})  pid ${pids[$k]}  log $run_dir/node$k.log  http://127.0.0.1:${admin_ports[$((k - 1))]}/metrics"
done
say "  haproxy  127.0.0.1:$client_port  pid ${pids[$((nodes + 1))]}  log $run_dir/haproxy.log  runtime API $run_dir/haproxy.sock"
say "  binary   $binary"
say "Ctrl-C stops everything.$([ $keep_going -eq 1 ] && echo ' (--keep-going: a node may die; the others keep serving)')"

# --- watch -----------------------------------------------------------------------------
while :; do
  wait -n
  # A signal trap exits from inside `wait`; getting here means a child ended.
  dead=()
  nodes_alive=0
  core_dead=0
  for i in "${!pids[@]}"; do
    if alive "${pids[$i]}"; then
      case "${names[$i]}" in node*) nodes_alive=$((nodes_alive + 1)) ;; esac
    else
      dead+=("${names[$i]}")
      case "${names[$i]}" in node*) ;; *) core_dead=1 ;; esac
    fi
  done
  [ ${#dead[@]} -eq 0 ] && continue
  if [ $keep_going -eq 1 ] && [ $core_dead -eq 0 ] && [ $nodes_alive -gt 0 ]; then
    # Report each dead node once.
    for name in "${dead[@]}"; do
      case " ${reported:-} " in *" $name "*) ;; *) say "$name exited (see $run_dir/$name.log); $nodes_alive node(s) still serving"; reported="${reported:-} $name" ;; esac
    done
    continue
  fi
  say "${dead[*]} exited; stopping the cluster (see the logs in $run_dir)" >&2
  exit 1
done
