#!/usr/bin/env bash
# bench/tls_compare.sh — the cost of TLS: ringmail (discard handler) beside aiosmtpd, both
# offering STARTTLS with the same certificate, both driven by ringmail-bench in the same
# run, with and without --starttls. Cells: one message per session (handshake-bound:
# handshakes/s) and 50 messages per session. Prints msgs/s, handshakes/s and the server's
# CPU seconds per 10,000 messages (from /proc). Needs a build (ninja -C build) and
# python3-aiosmtpd. Every run is bounded (--messages); every process is stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
RINGMAIL=${RINGMAIL:-build/tools/ringmail}
BENCH=${BENCH:-build/bench/ringmail-bench}
MSGS=${MSGS:-3000}
CONNS=${CONNS:-20}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 \
  -keyout "$work/k.pem" -out "$work/c.pem" 2>/dev/null
tck=$(getconf CLK_TCK)
cpu() { awk -v t="$tck" '{print ($14 + $15) / t}' "/proc/$1/stat"; }

start_server() {  # $1 name; sets port and pid
  case $1 in
    ringmail)
      printf 'port = 0\nhandler = discard\ntls_crt = %s\ntls_key = %s\n' "$work/c.pem" "$work/k.pem" > "$work/mail.ini"
      "$RINGMAIL" serve --config "$work/mail.ini" 2> "$work/srv.err" > /dev/null &
      pid=$!
      for _ in $(seq 100); do grep -q 'listening on' "$work/srv.err" && break; sleep 0.05; done
      port=$(grep -o '127.0.0.1:[0-9]*' "$work/srv.err" | head -1 | cut -d: -f2) ;;
    aiosmtpd)
      /usr/bin/python3 bench/peers/aiosmtpd-sink.py 0 "$work/c.pem" "$work/k.pem" > "$work/srv.out" 2>&1 &
      pid=$!
      for _ in $(seq 100); do grep -q 'listening on' "$work/srv.out" && break; sleep 0.05; done
      port=$(grep -o '127.0.0.1:[0-9]*' "$work/srv.out" | head -1 | cut -d: -f2) ;;
  esac
  pids+=("$pid")
}

printf '| server | cell | msgs/s | handshakes/s | server CPU s/10k msgs | msgs/s vs aiosmtpd |\n|---|---|--:|--:|--:|--:|\n'
for cell in "plain 1/session" "starttls 1/session" "plain 50/session" "starttls 50/session"; do
  set -- $cell
  mode=$1; per=${2%%/*}
  args=(--connections "$CONNS" --messages "$MSGS" --transactions-per-connection "$per" --pipelining --json)
  [ "$mode" = starttls ] && args+=(--starttls)
  declare -A rate=()
  for server in aiosmtpd ringmail; do
    start_server $server
    c0=$(cpu "$pid")
    out=$("$BENCH" --port "$port" "${args[@]}")
    c1=$(cpu "$pid")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    read -r mps hps ok < <(python3 -c '
import json,sys; j=json.loads(sys.argv[1]); e=j["elapsed_s"] or 1
print("%.0f %.0f %d" % (j["messages_per_s"], j.get("tls_handshakes",0)/e, j["messages_ok"]))' "$out")
    [ "$ok" = "$MSGS" ] || { echo "$server $cell: only $ok of $MSGS messages got 250" >&2; exit 1; }
    rate[$server]=$mps
    cps=$(awk -v a="$c0" -v b="$c1" -v n="$MSGS" 'BEGIN{printf "%.2f", (b-a)*10000/n}')
    ratio=$(awk -v a="$mps" -v b="${rate[aiosmtpd]}" 'BEGIN{printf "%.2fx", a/b}')
    printf '| %s | %s | %s | %s | %s | %s |\n' "$server" "$cell" "$mps" "$hps" "$cps" "$ratio"
  done
done
