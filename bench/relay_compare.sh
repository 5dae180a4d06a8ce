#!/usr/bin/env bash
# End-to-end relaying, side by side: inbound SMTP -> durable queue -> delivery over SMTP to a sink,
#   ringmail  ringmail serve, handler = queue, [relay] smarthost = the sink
#   postfix   a private Postfix instance: smtpd -> cleanup -> queue file -> qmgr -> smtp -> the sink,
#             relayhost = the sink
# both fed by Postfix's smtp-source with the same flags and delivering to a fresh Postfix smtp-sink
# (127.0.0.2, counting with -c), for 1 KiB and 100 KiB messages, in one run (issue 14, Benchmark).
#
# Usage (from the repository root, after `ninja -C build`; as root, for Postfix's master):
#   bench/relay_compare.sh
# Environment:
#   RINGMAIL     ringmail binary (default build/tools/ringmail); nothing is built here
#   MSGS_1K      1 KiB messages per measured run (default 5000)
#   MSGS_100K    100 KiB messages per measured run (default 2000)
#   SESSIONS     parallel smtp-source sessions (default 20)
#   REPEAT       repetitions of every run; the table shows medians (default 3)
#   CONNECTIONS  ringmail's [relay] connections (default 20: Postfix's default per-destination
#                concurrency, default_destination_concurrency_limit)
#   KEEP         if set, the work directory (logs, queues, sink counters) is kept and named at exit
#   SMTP_SOURCE, SMTP_SINK, POSTFIX  paths (default /usr/sbin/smtp-source, smtp-sink, postfix)
#
# Generator: smtp-source -d -s SESSIONS -m MSGS -l SIZE -f from@example.com -t to@example.com
# 127.0.0.1:PORT (sessions stay open, no pipelining, one recipient per message). Each run starts a
# fresh sink and a fresh server and first relays one warm-up message per session (not counted).
#
# End to end: seconds run from just before smtp-source starts until the sink has counted every
# message (bench/relay_compare.py polls smtp-sink's -c counter every 5 ms), bounded by
# DRAIN_TIMEOUT. Then each side must account for every message: ringmail's log one
# `delivery ... status=sent` per message and none deferred or bounced, and
# `ringmail queue list --status queued` empty; Postfix's queue directories empty and its log one
# `status=sent` per message, nothing deferred or bounced; and the sink's count must not have
# gone past the number sent (nothing delivered twice).
#
# CPU, sampled at the start and when the sink has counted the last message:
#   ringmail: utime+stime of its process (all threads) from /proc/PID/stat.
#   Postfix:  every process of the instance (master, smtpd, cleanup, qmgr, trivial-rewrite, smtp,
#     postlogd, anvil, scache...). They come and go during a run, so `postfix start` runs inside a
#     cgroup of its own that master and all its children inherit, and the cgroup's CPU counter
#     (v2 cpu.stat usage_usec, or v1 cpuacct.usage) counts the exited ones too. Without a cgroup:
#     master and its live children from /proc (schedstat run time, plus cutime/cstime for the
#     children master has reaped), as bench/maildir_vs_postfix.sh does.
#   Neither smtp-source's nor smtp-sink's CPU is in either figure.
# Order: every ringmail run first, then every Postfix run: Postfix deletes a queue file per
# message, and on this ext4 inode allocation then scans past the recently deleted inodes
# (see bench/maildir_vs_postfix.sh), which a ringmail run just after would pay for.
# Nothing but loopback: the servers listen on 127.0.0.1, the sink on 127.0.0.2. The system's
# Postfix (/etc/postfix, its service, /var/spool/postfix) is never touched: the private instance
# has its own config, queue and data directories under the work directory, is stopped with
# `postfix -c DIR stop` (on failure too), and only its own processes, found by its cgroup or its
# master's PID, are ever killed, and only if stop leaves them behind.
set -euo pipefail

RINGMAIL=${RINGMAIL:-build/tools/ringmail}
SMTP_SOURCE=${SMTP_SOURCE:-/usr/sbin/smtp-source}
SMTP_SINK=${SMTP_SINK:-/usr/sbin/smtp-sink}
POSTFIX=${POSTFIX:-/usr/sbin/postfix}
MSGS_1K=${MSGS_1K:-5000}
MSGS_100K=${MSGS_100K:-2000}
SESSIONS=${SESSIONS:-20}
REPEAT=${REPEAT:-3}
CONNECTIONS=${CONNECTIONS:-20}
HELPER="$(dirname "$0")/relay_compare.py"
SINK_HOST=127.0.0.2
WARMUP=$SESSIONS            # one message per session before each measured run, not counted
GEN_TIMEOUT=300             # seconds: bound on one smtp-source run
DRAIN_TIMEOUT=300           # seconds: bound on the sink counting every message after the start
START_TIMEOUT=20            # seconds: bound on a server or the sink starting to listen
STOP_TIMEOUT=30             # seconds: bound on a server's processes exiting after stop
LOG_TIMEOUT=20              # seconds: bound on a log showing deliveries the sink has already seen
CLK_TCK=$(getconf CLK_TCK)

fail() { echo "relay_compare: $*" >&2; exit 1; }

for v in MSGS_1K MSGS_100K SESSIONS REPEAT CONNECTIONS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || fail "$v=${!v}: not a positive integer"
done
for exe in "$RINGMAIL" "$SMTP_SOURCE" "$SMTP_SINK" "$POSTFIX" /usr/bin/python3; do
    [[ -x $exe ]] || fail "$exe: not an executable (build first, or set RINGMAIL)"
done
[[ -r $HELPER ]] || fail "$HELPER: missing"
((EUID == 0)) || fail "Postfix's master must be started as root; run this as root"
id postfix >/dev/null 2>&1 || fail "no 'postfix' user (Postfix's mail_owner)"
id nobody >/dev/null 2>&1 || fail "no 'nobody' user (smtp-sink runs as it)"
for tool in ss timeout; do command -v "$tool" >/dev/null || fail "$tool not found"; done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ringmail-relay.XXXXXX")
chmod 755 "$WORK"           # Postfix's daemons run as 'postfix' and must reach the queue below it

# --- state the clean-up needs ---------------------------------------------------------------
SINK_PID=                   # smtp-sink of the current run
RM_PID=                     # ringmail server
PF_DIR=                     # Postfix instance in use (its etc/ is the config_directory)
PF_CG=                      # its cgroup directory, if any
PF_CG_KIND=                 # v2, v1 or empty (/proc fallback)
PF_MASTER=                  # its master's PID
PF_CHILDREN=                # /proc fallback only: master's children, listed before stopping it
PF_CPU_METHOD=

stop_pid() {  # pid: SIGTERM, wait up to STOP_TIMEOUT, then SIGKILL; only a process we started
    local pid=$1
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq $((STOP_TIMEOUT * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? leftover=0
    set +e
    [[ -n $RM_PID ]] && stop_pid "$RM_PID"
    [[ -n $PF_DIR ]] && { pf_stop quiet || leftover=1; }
    [[ -n $SINK_PID ]] && stop_pid "$SINK_PID"
    if [[ -n ${KEEP:-} ]]; then
        echo "relay_compare: kept $WORK" >&2
    else
        # many small files: parallel unlinks (on a file system mounted with `discard`, each can wait)
        find "$WORK" -type f -print0 2>/dev/null | xargs -0 -r -P 16 -n 256 rm -f
        rm -rf "$WORK"
    fi
    if ((rc != 0 && rc != 130 || leftover)); then exit 1; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { /usr/bin/python3 "$HELPER" free-port "$1"; }

proc_ticks() {  # utime+stime (+cutime+cstime with a 2nd argument) of a process; "" if it is gone
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo ""; return 0; }
    stat=${stat##*) }       # comm may hold spaces: fields from the state on
    awk -v all="${2:-}" '{ print $12 + $13 + (all ? $14 + $15 : 0) }' <<<"$stat"
}

wait_listen() {  # host port pid name log
    local deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        ss -Hltn "src $1 and sport = :$2" | grep -q LISTEN && return 0
        kill -0 "$3" 2>/dev/null || break
        sleep 0.05
    done
    fail "$4 is not listening on $1:$2: $(tail -5 "$5" 2>/dev/null)"
}

count_lines() {  # ERE file: matching lines, 0 if none or no file
    grep -cE "$1" "$2" 2>/dev/null || true
}

# --- the sink ------------------------------------------------------------------------------------
sink_start() {  # sets SINK_PID, SINK_PORT, SINK_OUT
    SINK_PORT=$(free_port "$SINK_HOST")
    SINK_OUT="$RUN_DIR/sink.out"
    # -c: running counters on stdout; -u nobody: it refuses to run as root; backlog 1000
    "$SMTP_SINK" -u nobody -c "$SINK_HOST:$SINK_PORT" 1000 >"$SINK_OUT" 2>"$RUN_DIR/sink.err" &
    SINK_PID=$!
    wait_listen "$SINK_HOST" "$SINK_PORT" "$SINK_PID" smtp-sink "$RUN_DIR/sink.err"
}

sink_wait() {  # count: wait for the sink to have counted `count` messages; sets SINK_DONE_AT
    SINK_DONE_AT=$(/usr/bin/python3 "$HELPER" wait-count "$SINK_OUT" "$1" "$DRAIN_TIMEOUT") ||
        fail "$SERVER: not every message reached the sink; server log: $(tail -3 "$SERVER_LOG")"
}

sink_count() { /usr/bin/python3 "$HELPER" count "$SINK_OUT"; }

sink_stop() {
    kill -0 "$SINK_PID" 2>/dev/null || fail "smtp-sink (pid $SINK_PID) died during the run: $(tail -3 "$RUN_DIR/sink.err")"
    stop_pid "$SINK_PID"
    SINK_PID=
}

# --- ringmail -----------------------------------------------------------------------------------
rm_start() {  # sets RM_PID, PORT, SERVER_LOG
    local ini="$RUN_DIR/relay.ini" deadline=$((SECONDS + START_TIMEOUT))
    cat >"$ini" <<EOF
; bench/relay_compare.sh: every message to the sink, no DNS
port = 0
handler = queue
[relay]
queue_dir = $RUN_DIR/queue
smarthost = $SINK_HOST:$SINK_PORT
connections = $CONNECTIONS
[http]
; no HTTP API: the default port may be another run's
listen =
EOF
    SERVER_LOG="$RUN_DIR/ringmail.log"
    "$RINGMAIL" serve --config "$ini" >"$SERVER_LOG" 2>&1 &
    RM_PID=$!
    PORT=
    while ((SECONDS < deadline)); do
        PORT=$(sed -n 's/^ringmail: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$SERVER_LOG")
        [[ -n $PORT ]] && return 0
        kill -0 "$RM_PID" 2>/dev/null || break
        sleep 0.05
    done
    fail "ringmail did not start: $(tail -5 "$SERVER_LOG")"
}

rm_check() {  # total: every message sent according to the log and to the queue
    local total=$1 sent bad queued deadline=$((SECONDS + LOG_TIMEOUT))
    while :; do
        sent=$(count_lines '^ringmail: delivery .* status=sent ' "$SERVER_LOG")
        ((sent >= total)) && break
        ((SECONDS < deadline)) || fail "ringmail: the sink has every message but the log shows $sent of $total sent"
        sleep 0.1
    done
    bad=$(count_lines '^ringmail: delivery .* status=(deferred|bounced)' "$SERVER_LOG")
    ((sent == total && bad == 0)) ||
        fail "ringmail log: $sent status=sent (expected $total), $bad deferred or bounced: $(grep -m3 -E 'status=(deferred|bounced)' "$SERVER_LOG")"
    queued=$("$RINGMAIL" queue list --status queued --config "$RUN_DIR/relay.ini" | grep -c . || true)
    ((queued == 0)) || fail "ringmail: $queued messages still queued after the sink had them all"
}

rm_stop() {
    local pid=$RM_PID rc=0
    kill -0 "$pid" 2>/dev/null || fail "ringmail (pid $pid) died during the run: $(tail -5 "$SERVER_LOG")"
    kill -TERM "$pid"
    for _ in $(seq $((STOP_TIMEOUT * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && fail "ringmail (pid $pid) did not exit within $STOP_TIMEOUT s of SIGTERM"
    wait "$pid" || rc=$?
    RM_PID=
    ((rc == 0)) || fail "ringmail exited $rc after SIGTERM: $(tail -5 "$SERVER_LOG")"
}

# --- the private Postfix instance ---------------------------------------------------------------
cg_create() {  # sets PF_CG, PF_CG_KIND; empty kind if no cgroup can be made here
    local v2 name="ringmail-relay.$$.$RUN_ID"
    PF_CG='' PF_CG_KIND=''
    v2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
    if [[ -n $v2 ]] && mkdir "$v2/$name" 2>/dev/null; then
        PF_CG="$v2/$name" PF_CG_KIND=v2
    elif [[ -d /sys/fs/cgroup/cpuacct ]] && mkdir "/sys/fs/cgroup/cpuacct/$name" 2>/dev/null; then
        PF_CG="/sys/fs/cgroup/cpuacct/$name" PF_CG_KIND=v1
    fi
}

pf_pids() {  # every process of the instance, one a line
    if [[ -n $PF_CG ]]; then
        cat "$PF_CG/cgroup.procs" 2>/dev/null || true
    elif [[ -n $PF_MASTER ]]; then
        kill -0 "$PF_MASTER" 2>/dev/null && echo "$PF_MASTER"
        ps -o pid= --ppid "$PF_MASTER" 2>/dev/null | tr -d ' ' || true
    fi
}

pf_cpu_usec() {  # CPU microseconds of the whole instance so far
    local t s total=0 pid
    case $PF_CG_KIND in
        v2) awk '$1 == "usage_usec" { print $2 }' "$PF_CG/cpu.stat" ;;
        v1) echo $(($(<"$PF_CG/cpuacct.usage") / 1000)) ;;
        *)  # per process: run time in ns from schedstat (utime and stime are truncated to ticks
            # per process, which over hundreds of short-lived processes loses seconds) +
            # cutime+cstime in ticks (the children master has reaped)
            for pid in $(pf_pids); do
                t=$(cat "/proc/$pid/schedstat" 2>/dev/null) || continue
                total=$((total + ${t%% *} / 1000))
                t=$(proc_ticks "$pid" all) s=$(proc_ticks "$pid")
                total=$((total + (${t:-0} - ${s:-0}) * 1000000 / CLK_TCK))
            done
            echo "$total"
            ;;
    esac
}

pf_start() {  # sets PF_DIR, PF_MASTER, PORT, SERVER_LOG
    PF_DIR="$RUN_DIR/postfix"
    local etc="$PF_DIR/etc" q="$PF_DIR/spool" deadline
    mkdir -p "$etc" "$q" "$PF_DIR/data"
    chown postfix "$PF_DIR/data"
    PORT=$(free_port 127.0.0.1)
    SERVER_LOG="$PF_DIR/maillog"
    cat >"$etc/main.cf" <<EOF
# private instance for bench/relay_compare.sh: loopback only, every message relayed to the sink.
# Postfix's defaults otherwise (process limits, concurrency, connection cache, in_flow_delay).
compatibility_level = 3.6
mail_owner = postfix
queue_directory = $q
data_directory = $PF_DIR/data
maillog_file = $SERVER_LOG
maillog_file_prefixes = $PF_DIR
myhostname = relay.localdomain
mydomain = localdomain
myorigin = \$myhostname
mydestination =
relay_domains =
relayhost = [$SINK_HOST]:$SINK_PORT
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = permit_mynetworks, reject
smtpd_tls_security_level = none
smtp_tls_security_level = none
alias_maps =
alias_database =
local_recipient_maps =
biff = no
# no reverse DNS lookup of 127.0.0.1 per session (ringmail makes none either)
smtpd_peername_lookup = no
EOF
    cat >"$etc/master.cf" <<EOF
127.0.0.1:$PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
    cg_create
    case $PF_CG_KIND in
        v2) PF_CPU_METHOD="cgroup v2 cpu.stat" ;;
        v1) PF_CPU_METHOD="cgroup v1 cpuacct.usage" ;;
        *) PF_CPU_METHOD="/proc: master and its children, schedstat + cutime/cstime" ;;
    esac
    # the subshell joins the cgroup, then becomes `postfix start`: master and its children inherit it
    (
        if [[ -n $PF_CG ]]; then echo "$BASHPID" >"$PF_CG/cgroup.procs"; fi
        exec timeout "$START_TIMEOUT" "$POSTFIX" -c "$etc" start
    ) >"$PF_DIR/start.log" 2>&1 ||
        fail "postfix -c $etc start failed: $(tail -5 "$PF_DIR/start.log") $(tail -5 "$SERVER_LOG" 2>/dev/null)"
    deadline=$((SECONDS + START_TIMEOUT))
    PF_MASTER=
    while ((SECONDS < deadline)); do
        PF_MASTER=$(tr -d ' ' <"$q/pid/master.pid" 2>/dev/null) || true
        [[ -n $PF_MASTER ]] && break
        sleep 0.05
    done
    [[ -n $PF_MASTER ]] || fail "Postfix master did not write $q/pid/master.pid: $(tail -5 "$SERVER_LOG")"
    wait_listen 127.0.0.1 "$PORT" "$PF_MASTER" "Postfix smtpd" "$SERVER_LOG"
}

pf_stop() {  # [quiet]: stop the instance and wait for every one of its processes; kill leftovers
    local quiet=${1:-} pids pid deadline
    [[ -n $PF_DIR ]] || return 0
    if [[ -z $PF_CG && -n $PF_MASTER ]]; then
        PF_CHILDREN=$(pf_pids)      # children are reparented once master exits: list them now
    fi
    timeout "$STOP_TIMEOUT" "$POSTFIX" -c "$PF_DIR/etc" stop >>"$PF_DIR/start.log" 2>&1 ||
        [[ -n $quiet ]] || fail "postfix -c $PF_DIR/etc stop failed: $(tail -3 "$PF_DIR/start.log")"
    deadline=$((SECONDS + STOP_TIMEOUT))
    while :; do
        if [[ -n $PF_CG ]]; then
            pids=$(pf_pids)
        else
            pids=
            for pid in $PF_MASTER ${PF_CHILDREN:-}; do
                kill -0 "$pid" 2>/dev/null && pids+="$pid "
            done
        fi
        [[ -z ${pids// /} ]] && break
        if ((SECONDS >= deadline)); then
            for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
            sleep 0.5
            echo "relay_compare: Postfix processes still there $STOP_TIMEOUT s after stop, killed: $pids" >&2
            [[ -n $PF_CG ]] && rmdir "$PF_CG" 2>/dev/null
            PF_DIR='' PF_CG='' PF_MASTER=''
            return 1
        fi
        sleep 0.1
    done
    if [[ -n $PF_CG ]]; then rmdir "$PF_CG" || { [[ -n $quiet ]] || fail "rmdir $PF_CG failed"; }; fi
    PF_DIR='' PF_CG='' PF_CG_KIND='' PF_MASTER='' PF_CHILDREN=''
}

pf_check() {  # total: an empty queue (no Postfix command: it would add a showq to the CPU) and
              # one status=sent per message in the log, nothing deferred or bounced
    local total=$1 q="$PF_DIR/spool" deadline=$((SECONDS + LOG_TIMEOUT)) files sent bad
    while :; do
        shopt -s nullglob
        files=("$q"/incoming/* "$q"/active/* "$q"/hold/* "$q"/maildrop/* "$q"/deferred/*/* "$q"/deferred/*/*/*)
        shopt -u nullglob
        sent=$(count_lines ' status=sent ' "$SERVER_LOG")
        ((${#files[@]} == 0 && sent >= total)) && break
        ((SECONDS < deadline)) ||
            fail "Postfix: the sink has every message, but ${#files[@]} queue files are left and the log shows $sent of $total sent"
        sleep 0.1
    done
    bad=$(count_lines ' status=(deferred|bounced|expired)|fatal:|panic:' "$SERVER_LOG")
    ((sent == total && bad == 0)) ||
        fail "Postfix log: $sent status=sent (expected $total), $bad errors: $(grep -m3 -E 'status=(deferred|bounced)|fatal:|panic:' "$SERVER_LOG")"
}

# --- one measured run ------------------------------------------------------------------------------
run_source() {  # count size
    local rc=0
    timeout "$GEN_TIMEOUT" "$SMTP_SOURCE" -d -s "$SESSIONS" -m "$1" -l "$2" \
        -f from@example.com -t to@example.com "127.0.0.1:$PORT" >"$RUN_DIR/source.log" 2>&1 || rc=$?
    ((rc == 0)) || fail "smtp-source ($1 msgs of $2 bytes) against $SERVER exited $rc: $(tail -5 "$RUN_DIR/source.log")"
}

server_cpu_usec() {
    if [[ $SERVER == ringmail ]]; then
        local t
        t=$(proc_ticks "$RM_PID")
        [[ -n $t ]] || fail "ringmail (pid $RM_PID) is gone: $(tail -5 "$SERVER_LOG")"
        echo $((t * 1000000 / CLK_TCK))
    else
        pf_cpu_usec
    fi
}

measure() {  # server size msgs; appends "server size msgs t0 t_gen t1 cpu_usec sessions" to $RESULTS
    SERVER=$1
    local size=$2 msgs=$3 total=$((WARMUP + $3)) cpu0 cpu1 t0 tg t1 n sess0 sess1
    RUN_DIR="$WORK/$RUN_ID"
    mkdir -p "$RUN_DIR"
    sink_start
    if [[ $SERVER == ringmail ]]; then rm_start; else pf_start; fi
    run_source "$WARMUP" "$size"
    sink_wait "$WARMUP"
    if [[ $SERVER == ringmail ]]; then rm_check "$WARMUP"; else pf_check "$WARMUP"; fi
    read -r _ sess0 < <(sink_count)
    cpu0=$(server_cpu_usec)
    t0=$(date +%s.%N)
    run_source "$msgs" "$size"
    tg=$(date +%s.%N)
    sink_wait "$total"
    t1=$SINK_DONE_AT
    cpu1=$(server_cpu_usec)
    if [[ $SERVER == ringmail ]]; then rm_check "$total"; rm_stop; else pf_check "$total"; pf_stop; fi
    read -r n sess1 < <(sink_count)
    ((n == total)) || fail "$SERVER: the sink counted $n messages, $total were sent"
    sink_stop
    echo "$SERVER $size $msgs $t0 $tg $t1 $((cpu1 - cpu0)) $((sess1 - sess0))" >>"$RESULTS"
    printf 'run %d/%d  %-8s %6d B x %5d  accepted %6.2f s  delivered %6.2f s  server CPU %6.2f s  sink sessions %d\n' \
        "$rep" "$REPEAT" "$SERVER" "$size" "$msgs" \
        "$(awk -v a="$t0" -v b="$tg" 'BEGIN { print b - a }')" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
        "$(awk -v c="$((cpu1 - cpu0))" 'BEGIN { print c / 1e6 }')" "$((sess1 - sess0))" >&2
}

SIZES=(1024 102400)
declare -A MSGS=([1024]=$MSGS_1K [102400]=$MSGS_100K)
RESULTS="$WORK/results"
: >"$RESULTS"
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

for server in ringmail postfix; do
    for ((rep = 1; rep <= REPEAT; rep++)); do
        for size in "${SIZES[@]}"; do
            RUN_ID="$server.$size.$rep"        # fresh directories per run, deleted only at exit
            measure "$server" "$size" "${MSGS[$size]}"
        done
    done
done

echo
echo "started $STARTED, $((SECONDS / 60)) min $((SECONDS % 60)) s; load average $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo "$("$RINGMAIL" --version 2>/dev/null | head -1) ($RINGMAIL, script from $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo '?')), [relay] connections = $CONNECTIONS;"
echo "postfix: $(/usr/sbin/postconf -h mail_version 2>/dev/null), defaults but the relay settings"
echo "smtp-source -d -s $SESSIONS -m MSGS -l SIZE -f from@example.com -t to@example.com 127.0.0.1:PORT; sink: smtp-sink -c $SINK_HOST:PORT"
echo "median of $REPEAT runs, msgs/s range in brackets; accepted = smtp-source's wall time;"
echo "end to end = until the sink has every message; sink sessions = SMTP sessions the relay opened to the sink;"
echo "CPU: ringmail process (all threads),"
echo "Postfix every process of the instance ($PF_CPU_METHOD)"
echo
awk -v sizes="${SIZES[*]}" "$(cat "$(dirname "$0")/stats.awk")"'
{
    k = $1 SUBSEP $2; secs = $6 - $4
    msgs[k] = $3
    a[k] = a[k] " " ($5 - $4)
    s[k] = s[k] " " secs
    r[k] = r[k] " " ($3 / secs)
    c[k] = c[k] " " ($7 / 1e3 / $3)
    n[k] = n[k] " " $8
}
function label(size) { return size >= 1024 ? sprintf("%d KiB", size / 1024) : size " B" }
END {
    nz = split(sizes, zl, " ")
    printf "| %-8s | %-7s | %8s | %10s | %11s | %-19s | %10s | %13s |\n", "server", "size", "messages", "accepted s",
        "end to end s", "msgs/s end to end", "CPU ms/msg", "sink sessions"
    printf "|%s|%s|%s|%s|%s|%s|%s|%s|\n", "----------", "---------", "---------:", "-----------:", "-------------:",
        "---------------------", "-----------:", "--------------:"
    for (j = 1; j <= nz; j++)
        for (i = 1; i <= 2; i++) {
            sv = i == 1 ? "ringmail" : "postfix"; k = sv SUBSEP zl[j]
            if (!(k in msgs)) continue
            rate[k] = median(r[k]); cpu[k] = median(c[k])
            printf "| %-8s | %-7s | %8d | %10.2f | %12.2f | %-19s | %10.3f | %13d |\n", sv, label(zl[j]), msgs[k],
                median(a[k]), median(s[k]), sprintf("%.0f (%s)", rate[k], minmax(r[k])), cpu[k], median(n[k])
        }
    print ""
    printf "| %-7s | %-34s | %-38s | %-30s |\n", "size", "msgs/s ringmail/postfix", "CPU per msg ringmail/postfix",
        "ringmail msgs/s"
    printf "|%s|%s|%s|%s|\n", "---------", "------------------------------------", "----------------------------------------",
        "--------------------------------"
    for (j = 1; j <= nz; j++) {
        m = "ringmail" SUBSEP zl[j]; p = "postfix" SUBSEP zl[j]
        x = rate[m] / rate[p]; y = cpu[m] / cpu[p]
        t = zl[j] >= 102400 ? sprintf("%.0f (target >= 1000: %s)", rate[m], rate[m] >= 1000 ? "met" : "not met") : "-"
        printf "| %-7s | %-34s | %-38s | %-30s |\n", label(zl[j]),
            sprintf("%.2fx (target >= 5x: %s)", x, x >= 5 ? "met" : "not met"),
            sprintf("%.2fx (target <= 0.33x: %s)", y, y <= 1 / 3 ? "met" : "not met"), t
    }
}' "$RESULTS"
