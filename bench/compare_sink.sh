#!/usr/bin/env bash
# Side-by-side throughput and server CPU: ringmail (discard, maildir) vs Postfix's smtp-sink,
# all driven by Postfix's smtp-source with the same flags in the same run.
#
# Usage (from the repository root, after `ninja -C build`):
#   bench/compare_sink.sh
# Environment:
#   RINGMAIL   ringmail binary (default: build/tools/ringmail); nothing is built here
#   MSGS       messages per measured cell (default 20000)
#   SESSIONS   parallel smtp-source sessions (default 200)
#   SIZE       smtp-source -l payload bytes (default 1024)
#   REPEAT     repetitions of every cell; the table shows medians (default 5)
#   REACTORS   if set, passed to ringmail as --reactors N (default: the ini default, one per core)
#   SMTP_SOURCE, SMTP_SINK  paths (default /usr/sbin/smtp-source, /usr/sbin/smtp-sink)
#
# Cells:
#   1/conn    smtp-source without -d: every message on a fresh connection (EHLO..QUIT per message)
#   100/sess  smtp-source -d: sessions stay open, MSGS/SESSIONS messages per session (~100)
# Server CPU is utime+stime of the server process (all its threads) from /proc/PID/stat, sampled
# just before and after smtp-source; wall seconds are smtp-source's run time.
set -euo pipefail

RINGMAIL=${RINGMAIL:-build/tools/ringmail}
SMTP_SOURCE=${SMTP_SOURCE:-/usr/sbin/smtp-source}
SMTP_SINK=${SMTP_SINK:-/usr/sbin/smtp-sink}
MSGS=${MSGS:-20000}
SESSIONS=${SESSIONS:-200}
SIZE=${SIZE:-1024}
REPEAT=${REPEAT:-5}
REACTORS=${REACTORS:-}
WARMUP=$SESSIONS           # one message per session before each measured cell, not counted
SOURCE_TIMEOUT=300         # seconds: bound on one smtp-source run
CLK_TCK=$(getconf CLK_TCK)

for exe in "$RINGMAIL" "$SMTP_SOURCE" "$SMTP_SINK"; do
    [[ -x $exe ]] || { echo "compare_sink: $exe: not an executable (build first, or set RINGMAIL)" >&2; exit 2; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ringmail-bench.XXXXXX")
SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "compare_sink: $*" >&2; exit 1; }

cpu_ticks() {  # utime+stime (fields 14, 15) of a process; comm may hold spaces, so cut after ") "
    local stat
    stat=$(<"/proc/$1/stat") || fail "process $1 is gone"
    stat=${stat##*) }
    awk '{ print $12 + $13 }' <<<"$stat"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server NAME: starts it, sets SERVER_PID and PORT
start_server() {
    local name=$1 log="$WORK/server.log"
    : >"$log"
    case $name in
        smtp-sink)
            PORT=$(free_port)
            local sinkuser=()
            ((EUID == 0)) && sinkuser=(-u nobody)   # smtp-sink refuses to run as root without -u
            "$SMTP_SINK" "${sinkuser[@]}" "127.0.0.1:$PORT" 1000 >"$log" 2>&1 &
            SERVER_PID=$!
            for _ in $(seq 100); do
                ss -Hltn "sport = :$PORT" | grep -q LISTEN && return 0
                kill -0 "$SERVER_PID" 2>/dev/null || break
                sleep 0.05
            done
            fail "smtp-sink did not start: $(cat "$log")"
            ;;
        ringmail-*)
            local handler=${name#ringmail-} cfgdir="$WORK/cfg"
            rm -rf "$cfgdir"; mkdir -p "$cfgdir"
            [[ $handler == maildir ]] && handler="maildir:$MAILDIR"
            local extra=()
            [[ -n $REACTORS ]] && extra=(--reactors "$REACTORS")
            "$RINGMAIL" serve --config "$cfgdir/mail.ini" --init --port 0 --handler "$handler" "${extra[@]}" 2>"$log" &
            SERVER_PID=$!
            PORT=
            for _ in $(seq 100); do
                PORT=$(sed -n 's/^ringmail: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")
                [[ -n $PORT ]] && return 0
                kill -0 "$SERVER_PID" 2>/dev/null || break
                sleep 0.05
            done
            fail "ringmail did not start: $(cat "$log")"
            ;;
    esac
}

stop_server() {
    local name=$1 pid=$SERVER_PID rc=0
    kill -0 "$pid" 2>/dev/null || fail "$name (pid $pid) died during the run: $(tail -5 "$WORK/server.log")"
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        fail "$name (pid $pid) did not exit within 10 s of SIGTERM"
    fi
    wait "$pid" || rc=$?
    SERVER_PID=
    # smtp-sink dies of SIGTERM (143); ringmail must exit 0
    if [[ $name == ringmail-* && $rc -ne 0 ]]; then
        fail "$name exited $rc after SIGTERM: $(tail -5 "$WORK/server.log")"
    fi
}

source_flags() {  # cell messages
    local flags=(-l "$SIZE" -m "$2" -s "$SESSIONS" -f from@example.com -t to@example.com)
    [[ $1 == 100/sess ]] && flags=(-d "${flags[@]}")
    echo "${flags[@]}"
}

run_source() {  # cell messages
    local rc=0
    # shellcheck disable=SC2046
    timeout "$SOURCE_TIMEOUT" "$SMTP_SOURCE" $(source_flags "$1" "$2") "127.0.0.1:$PORT" \
        >"$WORK/source.log" 2>&1 || rc=$?
    ((rc == 0)) || fail "smtp-source ($1, $2 msgs) against $3 exited $rc: $(tail -5 "$WORK/source.log")"
}

SERVERS=(smtp-sink ringmail-discard ringmail-maildir)
CELLS=(1/conn 100/sess)
RESULTS="$WORK/results"
: >"$RESULTS"

for ((rep = 1; rep <= REPEAT; rep++)); do
    for cell in "${CELLS[@]}"; do
        # rotate the server order each repetition so no server always runs first
        for ((i = 0; i < ${#SERVERS[@]}; i++)); do
            server=${SERVERS[(i + rep - 1) % ${#SERVERS[@]}]}
            # a fresh Maildir per cell, deleted only at exit: on ext4 without a journal, inode
            # allocation scans past recently deleted inodes, so rm -rf between cells would slow the next
            MAILDIR="$WORK/maildir.$rep.${cell%%/*}"
            start_server "$server"
            run_source "$cell" "$WARMUP" "$server"
            cpu0=$(cpu_ticks "$SERVER_PID")
            t0=$(date +%s.%N)
            run_source "$cell" "$MSGS" "$server"
            t1=$(date +%s.%N)
            cpu1=$(cpu_ticks "$SERVER_PID")
            stop_server "$server"
            if [[ $server == ringmail-maildir ]]; then
                n=$(find "$MAILDIR/new" -type f | wc -l)
                left=$(find "$MAILDIR/tmp" -type f | wc -l)
                ((n == MSGS + WARMUP && left == 0)) ||
                    fail "maildir: $n messages in new/ and $left in tmp/, expected $((MSGS + WARMUP)) and 0"
            fi
            echo "$server $cell $MSGS $t0 $t1 $((cpu1 - cpu0))" >>"$RESULTS"
            printf 'run %d/%d  %-16s %-8s %6.2f s  server CPU %5.2f s\n' "$rep" "$REPEAT" "$server" "$cell" \
                "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
                "$(awk -v c="$((cpu1 - cpu0))" -v h="$CLK_TCK" 'BEGIN { print c / h }')" >&2
        done
    done
done

echo
echo "smtp-source $(source_flags '1/conn' "$MSGS") 127.0.0.1:PORT   (100/sess adds -d)"
echo "median of $REPEAT runs; msgs/s range in brackets; CPU = server utime+stime"
echo
awk -v hz="$CLK_TCK" -v servers="${SERVERS[*]}" -v cells="${CELLS[*]}" "$(cat "$(dirname "$0")/stats.awk")"'
{
    k = $1 SUBSEP $2; secs = $5 - $4
    msgs[k] = $3
    s[k] = s[k] " " secs
    r[k] = r[k] " " ($3 / secs)
    c[k] = c[k] " " ($6 / hz * 10000 / $3)
}
END {
    ns = split(servers, sv, " "); nc = split(cells, cl, " ")
    printf "| %-16s | %-8s | %8s | %7s | %-19s | %13s | %14s | %13s |\n", "server", "cell", "messages", "seconds",
        "msgs/s", "CPU s/10k msg", "msgs/s vs sink", "CPU vs sink"
    printf "|%s|%s|%s|%s|%s|%s|%s|%s|\n", "------------------", "----------", "---------:", "--------:",
        "---------------------", "--------------:", "---------------:", "--------------:"
    for (j = 1; j <= nc; j++) {
        ks = "smtp-sink" SUBSEP cl[j]
        for (i = 1; i <= ns; i++) {
            k = sv[i] SUBSEP cl[j]
            if (!(k in msgs)) continue
            rate = median(r[k]); cpu = median(c[k])
            printf "| %-16s | %-8s | %8d | %7.2f | %-19s | %13.2f | %13.2fx | %12.2fx |\n", sv[i], cl[j],
                msgs[k], median(s[k]), sprintf("%.0f (%s)", rate, minmax(r[k])), cpu,
                rate / median(r[ks]), cpu / median(c[ks])
        }
    }
}' "$RESULTS"
