# shellcheck shell=bash
# bench/lib/scenarios.sh - the benchmark's scenarios: set up, measure, tear down.
# Sourced by bench/run after testbed/lib/cluster.sh and bench/lib/gen.sh. Uses the globals that
# bench/run sets: ROOT OUT BIN RUNDIR LOGDIR NODE CLIENT_NS CLIENT_IP NFQLB_BIN HOOKS METRICS_PORT
# CONNS SYNS THREADS C_REF_SKIP, and appends one line per scenario run to $OUT/raw.csv.

# (columns after loadavg1 were added later: req_p50_us/req_p99_us = connect start to the
# response's EOF; share_n2p1 = the fraction of successful connections pod n2p1 answered, the
# slow backend of --slow-backend)
RAW_HEADER="scenario,services,rep,conn_per_s,p50_us,p99_us,conn_ok,conn_fail,syn_pps,syn_sent,syn_done_s,queue_drops,cpu_s,sched_cpu_s,cpu_s_per_10k,update_ms,status_get_ms,start_ms,loadgen_queue_drops,balancer_rc,notes,loadavg1,req_p50_us,req_p99_us,share_n2p1"

# the balancer process of the scenario that runs now (for cleanup on any exit path)
BAL_PID=""       # the process to signal (nfq-lb or lbq)
BAL_WAIT_PID=""  # the process to wait for (timeout wrapper or lbq itself)
BAL_NAME=""

log() { printf '%s\n' "$*" >&2; }
warn() { printf 'bench: warning: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

# kv KEY LINE: value of KEY=value in LINE (empty if absent)
kv() { sed -n "s/.*\\b$1=\\([^ |]*\\).*/\\1/p" <<<"$2" | head -n1; }

now_ms() { date +%s%3N; }

node_exec() { ip netns exec "$NODE" "$@"; }

# flush_conntrack: node1's conntrack table, both families (`conntrack -F` alone flushes IPv4 only)
flush_conntrack() {
    node_exec conntrack -F -f ipv4 >/dev/null 2>&1 || true
    node_exec conntrack -F -f ipv6 >/dev/null 2>&1 || true
}

# queue_stat PID: "sum_drops" of the queues of the netns of PID (queue_dropped + user_dropped)
queue_drops_of() {
    awk '{ d += $6 + $7 } END { print d + 0 }' "/proc/$1/net/netfilter/nfnetlink_queue" 2>/dev/null || echo 0
}

# wait_queues PID COUNT: until COUNT queues are bound in PID's netns (10 s at most)
wait_queues() {
    local pid=$1 want=$2 i n
    for ((i = 0; i < 200; i++)); do
        n=$(awk 'END { print NR }' "/proc/$pid/net/netfilter/nfnetlink_queue" 2>/dev/null)
        ((${n:-0} >= want)) && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# ---------------------------------------------------------------- kube-proxy rules
KUBE_JUMPS=(
    "PREROUTING -m comment --comment kubernetes-service-portals -j KUBE-SERVICES"
    "OUTPUT -m comment --comment kubernetes-service-portals -j KUBE-SERVICES"
    "POSTROUTING -m comment --comment kubernetes-postrouting-rules -j KUBE-POSTROUTING"
)

kube_jumps() {   # kube_jumps add|del
    local j
    for j in "${KUBE_JUMPS[@]}"; do
        # shellcheck disable=SC2086
        if [[ $1 == add ]]; then
            node_exec iptables -w 10 -t nat -C $j 2>/dev/null || node_exec iptables -w 10 -t nat -I ${j%% *} 1 ${j#* } || return 1
        else
            while node_exec iptables -w 10 -t nat -C $j 2>/dev/null; do node_exec iptables -w 10 -t nat -D $j || return 1; done
        fi
    done
}

# timed_restore FILE: iptables-restore --noflush FILE inside node1; prints milliseconds (3 decimals)
timed_restore() {
    node_exec bash -c 's=$(date +%s%N); iptables-restore -w 10 --noflush <"$1" || exit 1; e=$(date +%s%N); printf "%d.%03d\n" $(((e - s) / 1000000)) $(((e - s) / 1000 % 1000))' _ "$1"
}

# kube_load N: the full rule set of N services into node1's nat table (once per N); prints ms
kube_load() {
    local n=$1 f=$RUNDIR/kube-proxy-$1-full.rules
    gen_kubeproxy full "$n" base >"$f" || return 1
    gen_kubeproxy partial "$n" changed >"$RUNDIR/kube-proxy-$n-partial-changed.rules" || return 1
    gen_kubeproxy partial "$n" base >"$RUNDIR/kube-proxy-$n-partial-base.rules" || return 1
    timed_restore "$f"
}

# kube_unload: every KUBE-* chain and jump out of node1's nat table. Node1 is our own netns and
# holds nothing else in nat at this point (the hooks are removed after every run): drop the
# table (instant, where 40,000 chain deletions through iptables-nft take minutes).
kube_unload() {
    kube_jumps del || true
    if node_exec iptables-save -t nat 2>/dev/null | grep -q 'NFQLB-'; then
        warn "nat table still holds NFQLB rules; removing them first"
        "$HOOKS" remove --netns "$NODE" -q || true
    fi
    node_exec nft delete table ip nat 2>/dev/null || true
}

# ---------------------------------------------------------------- kube-proxy's nftables mode
# timed_node CMD...: CMD inside node1 (output discarded); prints its wall time in ms (3 decimals)
timed_node() {
    node_exec bash -c 's=$(date +%s%N); "$@" >/dev/null || exit 1; e=$(date +%s%N); printf "%d.%03d\n" $(((e - s) / 1000000)) $(((e - s) / 1000 % 1000))' _ "$@"
}

# kube_nft_setup N REPS: table ip kube-proxy for N services into node1 with `nft -f` (timed),
# hooked base chains empty; then REPS times a partial sync that changes the measured service's
# third endpoint and one that reverts it, each after the two listings kube-proxy's sync starts
# with (knftables List: `nft --json list chains ip`, `nft --json list sets ip`). Rows in
# extra-rows.csv: kube-proxy-nft-full-sync, kube-proxy-nft-list, kube-proxy-nft (update_ms).
kube_nft_setup() {
    local n=$1 reps=$2 f=$RUNDIR/kube-proxy-nft-$1 full r v list sync
    gen_kubeproxy_nft full "$n" base >"$f-full.nft" || return 1
    gen_kubeproxy_nft partial "$n" changed >"$f-partial-changed.nft" || return 1
    gen_kubeproxy_nft partial "$n" base >"$f-partial-base.nft" || return 1
    gen_kubeproxy_nft_entry on >"$RUNDIR/kube-proxy-nft-entry-on.nft"
    gen_kubeproxy_nft_entry off >"$RUNDIR/kube-proxy-nft-entry-off.nft"
    progress "N=$n: loading kube-proxy's nftables rule set ($((n * 4)) chains, $((n * 8)) rules) with nft -f"
    full=$(timed_node nft -f "$f-full.nft") || return 1
    printf 'kube-proxy-nft-full-sync,%s,%s\n' "$n" "$full" >>"$OUT/extra-rows.csv"
    for ((r = 1; r <= reps; r++)); do
        for v in changed base; do
            list=$(timed_node bash -c 'nft --json list chains ip && nft --json list sets ip') || return 1
            sync=$(timed_node nft -f "$f-partial-$v.nft") || return 1
            printf 'kube-proxy-nft-list,%s,%s\nkube-proxy-nft,%s,%s\n' "$n" "$list" "$n" "$sync" >>"$OUT/extra-rows.csv"
        done
    done
    progress "N=$n: kube-proxy nftables: full load $full ms; last partial sync $sync ms after nft list $list ms"
}

kube_nft_unload() { node_exec nft delete table ip kube-proxy 2>/dev/null || true; }

# ---------------------------------------------------------------- balancer processes
# hooks_install MODE [ext]: ext = the IPv6 service range too (node ports are queued by default)
hooks_install() {
    local v6=()
    [[ ${2:-} == ext ]] && v6=(--service-cidr "$BENCH_SERVICE_CIDR6")
    "$HOOKS" install --netns "$NODE" --mode "$1" --queues 0:1 --service-cidr "$BENCH_SERVICE_CIDR" "${v6[@]}" -q
}
hooks_remove() { "$HOOKS" remove --netns "$NODE" -q; }

# start_nfqlb CONFIG LOG: the daemon in node1 (bounded lifetime), wait for /healthz and the
# two queues; sets BAL_PID/BAL_WAIT_PID and START_MS (not in a subshell: it must stay our child)
start_nfqlb() {
    local cfg=$1 logf=$2 t0 i ready
    t0=$(now_ms)
    ip netns exec "$NODE" "${BALANCER_CPU[@]}" timeout -s TERM -k 10 "$BALANCER_TTL" "$NFQLB_BIN" run --config "$cfg" </dev/null >"$logf" 2>&1 &
    BAL_WAIT_PID=$!
    BAL_NAME=nfq-lb
    BAL_PID=""
    for ((i = 0; i < 100; i++)); do
        BAL_PID=$(pgrep -P "$BAL_WAIT_PID" | head -n1)
        [[ -n $BAL_PID ]] && break
        sleep 0.01
    done
    [[ -n $BAL_PID ]] || { warn "nfq-lb did not start (log $logf)"; return 1; }
    # /healthz, bounded (180 s: a 10,000-service config takes seconds), while the daemon lives
    for ((i = 0; i < 180; i++)); do
        ready=$(node_exec "$BIN/httpwait" -p "$METRICS_PORT" -u /healthz -T 1000 -i 5000) && break
        kill -0 "$BAL_PID" 2>/dev/null || { warn "nfq-lb exited at start (log ${logf#"$ROOT"/}):"; tail -n 5 "$logf" >&2; return 1; }
    done
    [[ $ready == ready_ms=* ]] || { warn "nfq-lb not healthy after 180 s (log $logf)"; tail -n 20 "$logf" >&2; return 1; }
    wait_queues "$BAL_PID" 2 || { warn "nfq-lb: queues 0 and 1 not bound (log $logf)"; tail -n 20 "$logf" >&2; return 1; }
    START_MS=$(($(now_ms) - t0))
}

# worker_nice PID: the nice values of PID's queue workers, "/"-joined: its threads pinned to one
# CPU (the workers pin themselves, queue.pinWorkers; Foundation's Thread.name does not reach
# the kernel, so the threads cannot be told apart by name)
worker_nice() {
    local t cpus
    for t in /proc/"$1"/task/*; do
        cpus=$(awk '/^Cpus_allowed_list:/ { print $2 }' "$t/status" 2>/dev/null)
        [[ -n $cpus && $cpus != *[-,]* ]] || continue
        sed 's/.*) //' "$t/stat" | awk '{ print $17 }'
    done | sort -u | paste -sd/
}

# start_lbq LOG: the C prototype, mode A, two queues, batching (its best in bench_P4.txt);
# queue length and receive buffer as nfq-lb's defaults (8192, 8192 * (2048 + 256) bytes)
start_lbq() {
    local logf=$1 t0
    t0=$(now_ms)
    ip netns exec "$NODE" "${BALANCER_CPU[@]}" "$BIN/lbq" -m A -Q 2 -B -L 8192 -r 18874368 -V "$BENCH_VIP" -P "$BENCH_VPORT" \
        -b "$(IFS=,; echo "${BENCH_BACKENDS[*]}")" -p "$BENCH_BPORT" -T "$BALANCER_TTL" </dev/null >"$logf" 2>&1 &
    BAL_PID=$!
    BAL_WAIT_PID=$!
    BAL_NAME=lbq
    wait_queues "$BAL_PID" 2 || { warn "lbq: queues not bound (log $logf)"; cat "$logf" >&2; return 1; }
    START_MS=$(($(now_ms) - t0))
}

# start_floor LOG: bench/tools/floor on queues 0:1, one endpoint mark per backend (the keys
# FLOOR_MARKS that run_floor puts into the mark-mode hooks' nft map), nfq-lb's queue settings
start_floor() {
    local logf=$1 t0
    t0=$(now_ms)
    ip netns exec "$NODE" "${BALANCER_CPU[@]}" "$BIN/floor" -q 0 -n 2 -m "$(IFS=,; echo "${FLOOR_MARKS[*]}")" -L 8192 -r 18874368 \
        -T "$BALANCER_TTL" </dev/null >"$logf" 2>&1 &
    BAL_PID=$!
    BAL_WAIT_PID=$!
    BAL_NAME=floor
    wait_queues "$BAL_PID" 2 || { warn "floor: queues not bound (log $logf)"; cat "$logf" >&2; return 1; }
    START_MS=$(($(now_ms) - t0))
}

# stop_balancer: SIGTERM, wait 20 s, then SIGKILL; sets STOP_RC to the exit status
stop_balancer() {
    local rc=0 i
    STOP_RC=0
    [[ -n $BAL_WAIT_PID ]] || return 0
    kill -TERM "${BAL_PID:-$BAL_WAIT_PID}" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
        kill -0 "$BAL_WAIT_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$BAL_WAIT_PID" 2>/dev/null; then
        warn "$BAL_NAME did not stop within 20 s of SIGTERM: killing it"
        kill -KILL "$BAL_PID" "$BAL_WAIT_PID" 2>/dev/null || true
        rc=137
    fi
    wait "$BAL_WAIT_PID" 2>/dev/null
    local wrc=$?
    ((rc == 0)) && rc=$wrc
    BAL_PID="" BAL_WAIT_PID="" BAL_NAME=""
    STOP_RC=$rc
}

# ---------------------------------------------------------------- measurements
# run_loadgen TARGETS LOG [SRC_IP]: prints the loadgen result line
run_loadgen() {
    local targets=$1 logf=$2 src=()
    [[ -n ${3:-} ]] && src=(-S "$3")
    timeout -k 5 "$((LOAD_MAXSEC + 30))" ip netns exec "$CLIENT_NS" "${CLIENT_CPU[@]}" "$BIN/loadgen" -c "$THREADS" -n "$CONNS" -T "$LOAD_MAXSEC" \
        -F "$LOAD_MAXFAIL" "${src[@]}" "$targets" >"$logf" 2>&1
    tail -n1 "$logf"
}

# run_syngen PID LOG [SRC DST PORT]: SYNS SYNs from the client pod to the VIP (or DST:PORT from
# SRC), timed by the queue counters of PID's netns, CPU of PID
run_syngen() {
    local pid=$1 logf=$2 src=${3:-$CLIENT_IP} dst=${4:-$BENCH_VIP} port=${5:-$BENCH_VPORT}
    timeout -k 5 120 ip netns exec "$CLIENT_NS" "${CLIENT_CPU[@]}" "$BIN/syngen" -s "$src" -d "$dst" -p "$port" -k "$SYNS" -b 1024 \
        -T 60 -W 60 -q "/proc/$pid/net/netfilter/nfnetlink_queue" -P "$pid" >"$logf" 2>&1
    tail -n1 "$logf"
}

# profile_balancer SCENARIO N PID: (--profile) two extra syngen runs against the running balancer,
# after the measured one (node1's conntrack table flushed before each): one under
# `perf trace -s` (syscall counts and times per thread), one under `perf record -g`
# (cpu-clock samples, call graphs); reports in bench/out/profile/N-SCENARIO.*. Their SYN
# rates are perturbed by the profiler and are not part of the results.
profile_balancer() {
    local scen=$1 n=$2 pid=$3 dir=$OUT/profile base
    base=$dir/$n-$scen
    mkdir -p "$dir"
    command -v perf >/dev/null || { warn "--profile: perf not found (Debian: linux-perf)"; return 0; }
    flush_conntrack
    timeout -k 5 60 perf trace -s -p "$pid" -o "$base.syscalls.txt" -- sleep 4 2>"$base.trace.log" &
    local tp=$!
    sleep 0.5
    run_syngen "$pid" "$base.syngen-under-trace" >/dev/null
    wait "$tp" 2>/dev/null
    flush_conntrack
    timeout -k 5 60 perf record -e cpu-clock -F 4999 -g -p "$pid" -o "$base.perf.data" -- sleep 4 >"$base.record.log" 2>&1 &
    local rp=$!
    sleep 0.5
    run_syngen "$pid" "$base.syngen-under-record" >/dev/null
    wait "$rp" 2>/dev/null
    perf report -i "$base.perf.data" --stdio --no-children -g none --sort dso --percent-limit 0.1 >"$base.by-dso.txt" 2>/dev/null
    perf report -i "$base.perf.data" --stdio --no-children -g none --sort dso,sym --percent-limit 0.2 >"$base.by-symbol.txt" 2>/dev/null
    perf report -i "$base.perf.data" --stdio --children -g none --sort sym >"$base.inclusive.txt" 2>/dev/null
    # where the balancer's CPU goes: inclusive shares of the kernel paths that matter
    {
        printf '== %s, N=%s: share of the balancer process CPU samples (inclusive)\n' "$scen" "$n"
        awk '/^#/ { next } $1 ~ /%$/ { print "dso " $2 "\t" $1 }' "$base.by-dso.txt"
        awk -v OFS='\t' '
            $NF == "__sys_sendto" || $NF == "__sys_sendmsg" { print "syscall send (verdicts, ctnetlink requests)", $1 }
            $NF == "__sys_recvfrom" || $NF == "__sys_recvmsg" { print "syscall recv (packets, ctnetlink acks)", $1 }
            $NF == "nfqnl_recv_verdict" || $NF == "nfqnl_recv_verdict_batch" { print "verdict -> reinject: the packet onward (route, bridge, backend TCP)", $1 }
            $NF == "tcp_v4_rcv" { print "  of it: backend TCP receive (SYN -> SYN-ACK)", $1 }
            $NF == "ctnetlink_new_conntrack" { print "ctnetlink: create entry", $1 }
            $NF == "ctnetlink_get_conntrack" { print "ctnetlink: get entry (EEXIST)", $1 }
            $NF == "ctnetlink_del_conntrack" { print "ctnetlink: delete entry", $1 }
            $NF == "nft_do_chain" { print "nftables rule evaluation", $1 }
        ' "$base.inclusive.txt"
        printf '%s\n' "--- syscalls of the busiest thread (perf trace -s)"
        awk '/events, / { split($0, a, ", "); p = a[2] + 0; if (p > best) { best = p; blk = "" } ; cur = p; next }
             cur == best && /^ +[a-z_0-9]+ +[0-9]+/ { blk = blk $0 "\n" }
             END { printf "%s", blk }' "$base.syscalls.txt"
        printf '\n'
    } >>"$dir/summary.txt"
    progress "N=$n $scen: profile in ${base#"$ROOT"/}.* and bench/out/profile/summary.txt"
}

# problems_in_log SCENARIO N REP LOG: copy warning/error lines of a balancer log to issues.txt
problems_in_log() {
    local scen=$1 n=$2 rep=$3 logf=$4 lines
    lines=$(grep -E ' (warning|error|critical) |[Ff]atal|panic|Crash|backtrace|ct create error|nfq error' "$logf" 2>/dev/null | head -n 20 || true)
    if [[ -n $lines ]]; then
        printf '== %s N=%s rep=%s (log %s)\n%s\n' "$scen" "$n" "$rep" "${logf#"$ROOT"/}" "$lines" >>"$OUT/issues.txt"
        return 1
    fi
    return 0
}

# emit SCENARIO N REP key=value...: one raw.csv line (missing keys = empty fields)
emit() {
    local scen=$1 n=$2 rep=$3
    shift 3
    local -A f=()
    local a
    for a in "$@"; do a=${a//,/;}; f[${a%%=*}]=${a#*=}; done
    local line="$scen,$n,$rep" col
    for col in conn_per_s p50_us p99_us conn_ok conn_fail syn_pps syn_sent syn_done_s queue_drops cpu_s sched_cpu_s cpu_s_per_10k \
        update_ms status_get_ms start_ms loadgen_queue_drops balancer_rc notes; do
        line+=",${f[$col]:-}"
    done
    line+=",$(cut -d' ' -f1 /proc/loadavg)"   # machine load (other users' work shows here)
    for col in req_p50_us req_p99_us share_n2p1; do line+=",${f[$col]:-}"; done
    printf '%s\n' "$line" >>"$OUT/raw.csv"
}

# loadgen_fields LINE: key=value args for emit from a loadgen result line (conn_per_s of an
# aborted run is the rate of what was done before it stopped)
loadgen_fields() {
    local l=$1 share
    share=$(awk -v ok="$(kv ok "$l")" '{ for (i = 1; i <= NF; i++) if ($i ~ /^n2p1=/) { split($i, a, "="); n = a[2] } }
        END { if (ok + 0 > 0) printf "%.3f", n / ok }' <<<"${l#*|}")
    printf 'conn_per_s=%s p50_us=%s p99_us=%s conn_ok=%s conn_fail=%s req_p50_us=%s req_p99_us=%s share_n2p1=%s' \
        "$(kv conn_per_s "$l")" "$(kv p50_us "$l")" "$(kv p99_us "$l")" "$(kv ok "$l")" "$(kv fail "$l")" \
        "$(kv req_p50_us "$l")" "$(kv req_p99_us "$l")" "$share"
}

# syngen_fields LINE: key=value args for emit from a syngen result line
syngen_fields() {
    local l=$1 qd ud sent cpu per10k
    qd=$(kv queue_dropped "$l"); ud=$(kv user_dropped "$l"); sent=$(kv sent "$l"); cpu=$(kv cpu_s "$l")
    per10k=""
    # per 10,000 SYNs the balancer answered (a SYN the kernel dropped at a full queue cost it nothing)
    [[ -n $cpu && -n $sent && $sent != 0 ]] && per10k=$(awk -v c="$cpu" -v s="$sent" -v d="$(( ${qd:-0} + ${ud:-0} ))" \
        'BEGIN { if (s - d > 0) printf "%.3f", c * 10000 / (s - d) }')
    local pps
    pps=$(kv verdict_per_s "$l")
    [[ $(kv timeout "$l") == 1 ]] && pps=""
    printf 'syn_pps=%s syn_sent=%s syn_done_s=%s queue_drops=%s cpu_s=%s sched_cpu_s=%s cpu_s_per_10k=%s' \
        "$pps" "$sent" "$(kv done_s "$l")" "$(( ${qd:-0} + ${ud:-0} ))" "$cpu" "$(kv sched_cpu_s "$l")" "$per10k"
}

progress() { printf '[%s] %s\n' "$(date -u -d "@$(($(date +%s) - BENCH_T0))" +%M:%S)" "$*" >&2; }

short_result() {   # short_result LOADGEN_LINE SYNGEN_LINE UPDATE_MS
    local s
    s="$(kv conn_per_s "$1") conn/s p50 $(kv p50_us "$1") us p99 $(kv p99_us "$1") us fail $(kv fail "$1")"
    [[ -n ${SLOW_MS:-} ]] && s+=", request p50 $(kv req_p50_us "$1") us p99 $(kv req_p99_us "$1") us, n2p1 got $(kv n2p1 "${1#*|}")"
    [[ $(kv aborted "$1") == 1 ]] && s+=" (ABORTED: $(kv attempted "$1") of $CONNS attempted)"
    [[ -n ${2:-} ]] && s+=", $(kv verdict_per_s "$2") SYN/s drops $(( $(kv queue_dropped "$2") + $(kv user_dropped "$2") )) cpu $(kv cpu_s "$2") s"
    [[ -n ${3:-} ]] && s+=", update $3 ms"
    printf '%s' "$s"
}

# ---------------------------------------------------------------- the scenarios
# each: run_<scenario> N REP; appends its raw.csv line(s); returns 0 (problems are recorded)

# run_direct N REP [v6]: the client round-robins over the backends' IPv4 (IPv6) addresses
run_direct() {
    local n=$1 rep=$2 scen=direct lg targets="" b src=$DIRECT_SRC_IP
    if [[ ${3:-} == v6 ]]; then
        scen=direct-v6 src=$DIRECT_SRC_IP6
        for b in "${BENCH_BACKENDS6[@]}"; do targets+="${targets:+,}[$b]:$BENCH_BPORT"; done
    else
        for b in "${BENCH_BACKENDS[@]}"; do targets+="${targets:+,}$b:$BENCH_BPORT"; done
    fi
    flush_conntrack
    # from the client pod's second address: see DIRECT_SRC_IP in bench/run
    lg=$(run_loadgen "$targets" "$LOGDIR/$n-$rep-$scen.loadgen" "$src")
    # shellcheck disable=SC2046
    emit "$scen" "$n" "$rep" $(loadgen_fields "$lg") notes="round robin over the 3 backends by the client"
    progress "N=$n rep $rep $scen: $(short_result "$lg")"
}

run_kube_proxy() {
    local n=$1 rep=$2 base=$LOGDIR/$1-$2-kube-proxy lg t1 t2
    flush_conntrack
    kube_jumps add || die "could not add the kube-proxy jump rules"
    lg=$(run_loadgen "$BENCH_VIP:$BENCH_VPORT" "$base.loadgen")
    # partial sync: replace the measured service's third endpoint, then put it back (both timed)
    t1=$(timed_restore "$RUNDIR/kube-proxy-$n-partial-changed.rules") || die "kube-proxy partial sync failed (N=$n)"
    t2=$(timed_restore "$RUNDIR/kube-proxy-$n-partial-base.rules") || die "kube-proxy partial sync (revert) failed (N=$n)"
    kube_jumps del || die "could not remove the kube-proxy jump rules"
    # shellcheck disable=SC2046
    emit kube-proxy "$n" "$rep" $(loadgen_fields "$lg") update_ms="$t1" notes="partial sync ${t1}/${t2} ms (replace/revert)"
    printf '%s,%s,%s\n' "$n" "$rep" "$t2" >>"$OUT/kube-partial-revert.csv"
    progress "N=$n rep $rep kube-proxy: $(short_result "$lg" "" "$t1")"
}

# run_nfqlb MODE N REP [FLAVOR]: FLAVOR "" (the IPv4 VIP, strategy random), v6 (the IPv6 VIP),
# nodeport (node1's 192.168.50.1:30080), or a strategy of BENCH_STRATEGIES for the measured
# service; the scenario is nfq-lb[-MODE][-FLAVOR] (nfq-lb = tcpMode conntrack)
run_nfqlb() {
    local mode=$1 n=$2 rep=$3 flavor=${4:-} scen=nfq-lb base cfg newcfg lg sg up start rc d0 d1 notes="" upd="" getms=""
    local main=main-$mode.yaml suffix="" ext="" target="$BENCH_VIP:$BENCH_VPORT" syn=("$CLIENT_IP" "$BENCH_VIP" "$BENCH_VPORT")
    [[ $mode != conntrack ]] && scen=nfq-lb-$mode
    [[ -n $flavor ]] && scen+=-$flavor
    case $flavor in
        "") ;;
        v6) main=main-$mode-ext.yaml suffix=-ext ext=ext target="[$BENCH_VIP6]:$BENCH_VPORT" syn=("$BENCH_CLIENT_IP6" "$BENCH_VIP6" "$BENCH_VPORT") ;;
        nodeport) main=main-$mode-ext.yaml suffix=-ext ext=ext target="$BENCH_NODE_IP:$BENCH_NODEPORT" syn=("$CLIENT_IP" "$BENCH_NODE_IP" "$BENCH_NODEPORT") ;;
        *) suffix=-$flavor ;;
    esac
    base=$LOGDIR/$n-$rep-$scen
    # The change replaces the measured service's file in services.d (an atomic rename).
    cfg=$RUNDIR/nfqlb-$n/services.d/measured.yaml
    newcfg=$RUNDIR/nfqlb-$n/measured.yaml.new
    flush_conntrack
    hooks_install "$mode" ${ext:+"$ext"} || die "iptables-hooks.sh install --mode $mode $ext failed"
    cp "$RUNDIR/nfqlb-$n/measured-base$suffix.yaml" "$cfg"
    if ! start_nfqlb "$RUNDIR/nfqlb-$n/$main" "$base.daemon.log"; then
        stop_balancer; rc=$STOP_RC
        hooks_remove || true
        printf '== %s N=%s rep=%s: the daemon did not start (exit %s); log %s:\n%s\n' "$scen" "$n" "$rep" "$rc" \
            "${base#"$ROOT"/}.daemon.log" "$(tail -n 5 "$base.daemon.log")" >>"$OUT/issues.txt"
        emit "$scen" "$n" "$rep" balancer_rc="$rc" notes="daemon did not start"
        progress "N=$n rep $rep $scen: daemon did not start (see $OUT/issues.txt)"
        return 0
    fi
    # fairness: the queue workers run at the niceness of every other benchmark process
    local wnice mynice
    mynice=$(ps -o ni= -p $$ | tr -d ' ')
    wnice=$(worker_nice "$BAL_PID")
    # (--placement split: every thread is on CPU 1, workers cannot be told apart: not checked)
    if [[ $PLACEMENT != split && $wnice != "$mynice" ]]; then
        notes+="queue workers at nice ${wnice:-?}, the benchmark at $mynice; "
        printf '== %s N=%s rep=%s: queue workers at nice %s, every other benchmark process at %s\n' "$scen" "$n" "$rep" "${wnice:-?}" "$mynice" >>"$OUT/issues.txt"
    fi
    if [[ $mode == mark ]]; then
        # diagnostic: does the kernel's endpoint map hold every endpoint of the config?
        local inmap
        inmap=$(node_exec nft list map ip nfqlb endpoints 2>/dev/null | grep -o '[0-9]\{1,3\}\(\.[0-9]\{1,3\}\)\{3\} \. [0-9]*' | wc -l)
        if ((inmap != 3 * n)); then
            notes+="nft map holds $inmap of $((3 * n)) endpoints after start; "
            printf '== %s N=%s rep=%s: after start the nft map ip nfqlb endpoints holds %s elements; the config has %s endpoints\n' \
                "$scen" "$n" "$rep" "$inmap" "$((3 * n))" >>"$OUT/issues.txt"
        fi
    fi
    d0=$(queue_drops_of "$BAL_PID")
    lg=$(run_loadgen "$target" "$base.loadgen")
    d1=$(queue_drops_of "$BAL_PID")
    sg=$(run_syngen "$BAL_PID" "$base.syngen" "${syn[@]}")
    if ((PROFILE)) && [[ $n == "${SERVICES[-1]}" && $rep == 1 ]]; then profile_balancer "$scen" "$n" "$BAL_PID"; fi
    cp "$RUNDIR/nfqlb-$n/measured-changed$suffix.yaml" "$newcfg"
    up=$(node_exec "$BIN/httpwait" -p "$METRICS_PORT" -u "/status?service=bench%2Fmeasured" -w "\"$BENCH_CHANGED_ENDPOINT\"" -m "$newcfg" -c "$cfg" \
        -k "$BAL_PID" -i 1000 -T "$((10000 + n * 2))" 2>&1 | tail -n1)
    printf '%s\n' "$up" >"$base.update"
    upd=$(kv update_ms "$up"); getms=$(kv get_ms "$up")
    [[ $upd == -1 || -z $upd ]] && { upd=""; notes+="update not seen in /status within the bound; "; }
    kill -0 "$BAL_PID" 2>/dev/null || notes+="daemon died during the run; "
    start=$START_MS
    stop_balancer; rc=$STOP_RC
    hooks_remove || warn "iptables-hooks.sh remove failed"
    [[ $rc != 0 ]] && notes+="daemon exit status $rc; "
    problems_in_log "$scen" "$n" "$rep" "$base.daemon.log" || notes+="warnings/errors in the daemon log (issues.txt); "
    [[ $(kv timeout "$sg") == 1 ]] && notes+="syngen: queue not drained in 60 s; "
    # shellcheck disable=SC2046
    emit "$scen" "$n" "$rep" $(loadgen_fields "$lg") $(syngen_fields "$sg") update_ms="$upd" status_get_ms="$getms" \
        start_ms="$start" loadgen_queue_drops="$((d1 - d0))" balancer_rc="$rc" notes="${notes%; }"
    progress "N=$n rep $rep $scen: $(short_result "$lg" "$sg" "$upd") (start $start ms, /status GET $getms ms)"
}

run_c_reference() {
    local n=$1 rep=$2 base=$LOGDIR/$1-$2-c-reference lg sg start rc d0 d1 notes=""
    if [[ -n $C_REF_SKIP ]]; then
        emit c-reference "$n" "$rep" notes="skipped: $C_REF_SKIP"
        return 0
    fi
    flush_conntrack
    hooks_install conntrack || die "iptables-hooks.sh install --mode conntrack failed"
    if ! start_lbq "$base.lbq.log"; then
        stop_balancer; rc=$STOP_RC
        hooks_remove || true
        emit c-reference "$n" "$rep" balancer_rc="$rc" notes="lbq did not start"
        return 0
    fi
    d0=$(queue_drops_of "$BAL_PID")
    lg=$(run_loadgen "$BENCH_VIP:$BENCH_VPORT" "$base.loadgen")
    d1=$(queue_drops_of "$BAL_PID")
    sg=$(run_syngen "$BAL_PID" "$base.syngen")
    if ((PROFILE)) && [[ $n == "${SERVICES[-1]}" && $rep == 1 ]]; then profile_balancer c-reference "$n" "$BAL_PID"; fi
    start=$START_MS
    stop_balancer; rc=$STOP_RC
    hooks_remove || warn "iptables-hooks.sh remove failed"
    [[ $(kv timeout "$sg") == 1 ]] && notes+="syngen: queue not drained in 60 s; "
    grep -q 'ct create error' "$base.lbq.log" && notes+="lbq: ct create errors; "
    # shellcheck disable=SC2046
    emit c-reference "$n" "$rep" $(loadgen_fields "$lg") $(syngen_fields "$sg") start_ms="$start" \
        loadgen_queue_drops="$((d1 - d0))" balancer_rc="$rc" notes="${notes%; }"
    progress "N=$n rep $rep c-reference: $(short_result "$lg" "$sg")"
}

# run_kube_proxy_nft N REP [FLAVOR]: FLAVOR "" (the IPv4 VIP), nodeport (node1's
# 192.168.50.1:30080 through the service-nodeports map of the same table), v6 (the IPv6 VIP:
# table ip6 kube-proxy with that service only, loaded for this run and deleted after it)
run_kube_proxy_nft() {
    local n=$1 rep=$2 flavor=${3:-} scen=kube-proxy-nft lg target="$BENCH_VIP:$BENCH_VPORT"
    [[ -n $flavor ]] && scen+=-$flavor
    local base=$LOGDIR/$n-$rep-$scen
    flush_conntrack
    case $flavor in
        nodeport) target="$BENCH_NODE_IP:$BENCH_NODEPORT" ;;
        v6) target="[$BENCH_VIP6]:$BENCH_VPORT"
            node_exec nft -f "$RUNDIR/kube-proxy-nft6.nft" || die "could not load kube-proxy's table ip6 kube-proxy" ;;
    esac
    node_exec nft -f "$RUNDIR/kube-proxy-nft-entry-on.nft" || die "could not switch kube-proxy's nftables base chains on"
    lg=$(run_loadgen "$target" "$base.loadgen")
    node_exec nft -f "$RUNDIR/kube-proxy-nft-entry-off.nft" || die "could not switch kube-proxy's nftables base chains off"
    [[ $flavor == v6 ]] && { node_exec nft delete table ip6 kube-proxy || die "could not delete table ip6 kube-proxy"; }
    # shellcheck disable=SC2046
    emit "$scen" "$n" "$rep" $(loadgen_fields "$lg")
    progress "N=$n rep $rep $scen: $(short_result "$lg")"
}

# the floor's endpoint marks (ids 8, 9, 10 in nfq-lb's default mark field 0xffff0000), one per backend
FLOOR_MARKS=(0x80000 0x90000 0xa0000)

run_floor() {
    local n=$1 rep=$2 base=$LOGDIR/$1-$2-floor lg sg start rc d0 d1 notes="" i elems=""
    flush_conntrack
    hooks_install mark || die "iptables-hooks.sh install --mode mark failed"
    for i in 0 1 2; do elems+="${elems:+, }${FLOOR_MARKS[$i]} : ${BENCH_BACKENDS[$i]} . $BENCH_BPORT"; done
    node_exec nft add element ip nfqlb endpoints "{ $elems }" || die "could not fill the nft map ip nfqlb endpoints for the floor"
    if ! start_floor "$base.floor.log"; then
        stop_balancer; rc=$STOP_RC
        hooks_remove || true
        printf '== floor N=%s rep=%s: did not start (exit %s): %s\n' "$n" "$rep" "$rc" "$(tail -n 3 "$base.floor.log")" >>"$OUT/issues.txt"
        emit floor "$n" "$rep" balancer_rc="$rc" notes="floor did not start"
        return 0
    fi
    d0=$(queue_drops_of "$BAL_PID")
    lg=$(run_loadgen "$BENCH_VIP:$BENCH_VPORT" "$base.loadgen")
    d1=$(queue_drops_of "$BAL_PID")
    sg=$(run_syngen "$BAL_PID" "$base.syngen")
    kill -0 "$BAL_PID" 2>/dev/null || notes+="floor died during the run; "
    start=$START_MS
    stop_balancer; rc=$STOP_RC
    hooks_remove || warn "iptables-hooks.sh remove failed"
    [[ $rc != 0 ]] && notes+="floor exit status $rc; "
    [[ $(kv timeout "$sg") == 1 ]] && notes+="syngen: queue not drained in 60 s; "
    # shellcheck disable=SC2046
    emit floor "$n" "$rep" $(loadgen_fields "$lg") $(syngen_fields "$sg") start_ms="$start" \
        loadgen_queue_drops="$((d1 - d0))" balancer_rc="$rc" notes="${notes%; }"
    progress "N=$n rep $rep floor: $(short_result "$lg" "$sg")"
}

# broken_contenders: one line per scenario run in raw.csv where a contender broke (nothing when
# all went well): fewer than 99% of CONNS connections succeeded, the balancer did not start,
# died, exited non-zero (nfq-lb, floor), or an update was not seen
broken_contenders() {
    awk -F, -v C="$CONNS" 'NR > 1 && $21 !~ /^skipped/ {
        why = ""
        if ($7 == "" || $7 + 0 < 0.99 * C) why = why "only " ($7 == "" ? 0 : $7) " of " C " connections succeeded; "
        if (($1 ~ /^nfq-lb/ || $1 == "floor") && $20 != "" && $20 != 0) why = why "exit status " $20 "; "
        if ($21 ~ /did not start|died|not seen/) why = why $21 "; "
        if (why != "") print $1 " N=" $2 " rep " $3 ": " why
    }' "$OUT/raw.csv"
}

run_scenario() {   # run_scenario NAME N REP
    case $1 in
        direct) run_direct "$2" "$3" ;;
        direct-v6) run_direct "$2" "$3" v6 ;;
        kube-proxy) run_kube_proxy "$2" "$3" ;;
        kube-proxy-nft) run_kube_proxy_nft "$2" "$3" ;;
        kube-proxy-nft-v6) run_kube_proxy_nft "$2" "$3" v6 ;;
        kube-proxy-nft-nodeport) run_kube_proxy_nft "$2" "$3" nodeport ;;
        floor) run_floor "$2" "$3" ;;
        nfq-lb) run_nfqlb conntrack "$2" "$3" ;;
        nfq-lb-rewrite) run_nfqlb rewrite "$2" "$3" ;;
        nfq-lb-mark) run_nfqlb mark "$2" "$3" ;;
        nfq-lb-mark-v6) run_nfqlb mark "$2" "$3" v6 ;;
        nfq-lb-mark-nodeport) run_nfqlb mark "$2" "$3" nodeport ;;
        nfq-lb-mark-least-connections) run_nfqlb mark "$2" "$3" least-connections ;;
        nfq-lb-mark-power-of-two) run_nfqlb mark "$2" "$3" power-of-two ;;
        c-reference) run_c_reference "$2" "$3" ;;
        *) die "unknown scenario $1" ;;
    esac
}
