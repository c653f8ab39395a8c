# shellcheck shell=bash
# testbed/lib/cluster.sh - a two-node Kubernetes-like test cluster in network namespaces.
# Source it from bash:  source testbed/lib/cluster.sh   (needs root, iproute2)
#
# Picture (P = ${CLUSTER_PREFIX:-nfqlb}; all names start with "$P-"):
#
#   $P-n1p1 10.244.1.11 ─┐                                       ┌─ $P-n2p1 10.244.2.11
#   $P-n1p2 10.244.1.12 ─┤ cni0 10.244.1.1                        │ ...
#   ...        (eth0) vpN┘ $P-node1 eth0 192.168.50.1 ── eth0 192.168.50.2 $P-node2 cni0 10.244.2.1
#
#   pods:  eth0 10.244.N.(10+i)/24, default via 10.244.N.1, lo up
#   node1: 10.244.2.0/24 via 192.168.50.2; 10.96.0.0/12 via 192.168.50.2 (like a default
#          route: an un-NATed service packet leaves toward node2)
#   node2: 10.244.1.0/24 via 192.168.50.1; unreachable 10.96.0.0/12 (no balancer there: an
#          un-NATed service packet gets an ICMP unreachable back at once)
#   both:  net.ipv4.ip_forward=1; br_netfilter's bridge-nf-call-iptables left as the kernel
#          sets it per netns (1 on this kernel), so bridged pod-to-pod traffic passes iptables.
#   IPv6 (dual stack, every address `nodad` so it is usable at once): pods
#          fd00:10:244:N::(10+i)/64 default via fd00:10:244:N::1 (cni0); node link
#          fd00:192:168:50::N/64; node1: fd00:10:244:2::/64 and fd00:10:96::/108 via node2;
#          node2: fd00:10:244:1::/64 via node1, unreachable fd00:10:96::/108; IPv6
#          forwarding on in the node namespaces only (bridge-nf-call-ip6tables as for IPv4).
# Outside client (cluster_ext_up): $P-ext eth0 192.168.60.10 and .11 ── ext0 192.168.60.1 in
#   node1, its own subnet. Its only routes are to the node addresses (192.168.50.0/24) and to
#   the external/load-balancer pool 192.168.70.0/24, both via node1 (as a router or an L2
#   announcement would send them); node2 has no route back, so a reply that is not returned
#   through node1 (a flow not masqueraded there) is lost.
# The service range (10.96.0.0/12) has no addresses: the balancer under test (in node1)
# NATs it. Only addresses inside these namespaces are created.
#
# Functions (all return non-zero with a message on stderr on failure; none exits the caller):
#   cluster_up [PODS_PER_NODE=3]   create everything (an existing cluster of this prefix is
#                                  torn down first); on failure cleans up after itself
#   cluster_ext_up                 add $P-ext, a client outside the cluster (below); idempotent
#   cluster_ext_down               remove $P-ext (cluster_down removes it too)
#   cluster_down                   kill every process in any $P-* netns, delete them all,
#                                  /etc/netns/$P-* and the state dir; idempotent, always safe
#   cluster_status                 print namespaces, addresses and running servers
#   cluster_pods                   list pod names (n1p1 n1p2 ... n2p1 ...), one per line
#   cluster_pod_ip POD             10.244.N.(10+i) of pod nNpI
#   cluster_pod_ip6 POD            fd00:10:244:N::(10+i) of pod nNpI
#   cluster_node_ns N              netns name of node N ($P-nodeN)
#   cluster_ns NAME                netns name of a pod or node given short (n1p2, node1) or full
#   cluster_exec NS cmd...         run cmd in a netns (short or full name) via ip netns exec
#   cluster_start_http POD [PORT=8080]      nginx answering "GET /" with "<pod>\n"
#   cluster_start_dns POD [PORT=53]         dnsmasq: whoami.svc.test A = pod IP, AAAA =
#                                  fd00:10:244:N::(10+i), TXT = pod name
#   cluster_start_udp_echo POD [PORT=9000]  UDP server replying "<pod> <payload>"
#                                  (every server listens on the pod's IPv4 and IPv6 addresses)
#   cluster_stop_servers           stop every server started by cluster_start_*
#   cluster_set_resolver POD IP [OPTIONS]   glibc in POD (through ip netns exec) asks IP;
#                                  OPTIONS default "timeout:5 attempts:1" (so a lost reply
#                                  shows as the 5 s stall); uses /etc/netns/<ns>/resolv.conf
#
# Environment:
#   CLUSTER_PREFIX       name prefix (default nfqlb); keep it short, and not "X" when another
#                        user has "X-something" (cluster_down removes every "$P-*" netns)
#   CLUSTER_STATE_DIR    configs, pids, logs (default /tmp/$P-cluster; removed by cluster_down)
#   CLUSTER_NGINX_ACCESS_LOG  1 (default) = access log in the state dir, 0 = off (benchmarks)
#   CLUSTER_SERVER_TTL   seconds the UDP echo server lives at most (default 14400)

_cl_p() { printf '%s' "${CLUSTER_PREFIX:-nfqlb}"; }
_cl_state() { printf '%s' "${CLUSTER_STATE_DIR:-/tmp/$(_cl_p)-cluster}"; }
_cl_err() { printf 'cluster: error: %s\n' "$*" >&2; }
_cl_log() { [[ -n ${CLUSTER_QUIET:-} ]] || printf 'cluster: %s\n' "$*" >&2; }

# _cl_run FUNC args...: run FUNC in a subshell with errexit/nounset/pipefail, whatever the
# caller's shell options are, and return its status (errexit must not be in an ignored
# context, so the caller's own errexit is switched off around the subshell).
_cl_run() {
    local rc had_e=0
    [[ $- == *e* ]] && had_e=1
    set +e
    (
        set -euo pipefail
        "$@"
    )
    rc=$?
    ((had_e)) && set -e
    return "$rc"
}

# ---------------------------------------------------------------- names
cluster_node_ns() {
    [[ ${1:-} =~ ^[0-9]+$ ]] || { _cl_err "cluster_node_ns: node number expected, got '${1:-}'"; return 2; }
    printf '%s-node%s\n' "$(_cl_p)" "$1"
}

# cluster_ns NAME: n1p2 | node1 | $P-n1p2 -> full netns name
cluster_ns() {
    local n=${1:-} p
    p=$(_cl_p)
    [[ -n $n ]] || { _cl_err "cluster_ns: name expected"; return 2; }
    if [[ $n == "$p"-* ]]; then
        printf '%s\n' "$n"
    else
        printf '%s-%s\n' "$p" "$n"
    fi
}

# _cl_short NAME: full or short -> short (n1p2)
_cl_short() {
    local n=$1 p
    p=$(_cl_p)
    printf '%s\n' "${n#"$p"-}"
}

cluster_pod_ip() {
    local pod
    pod=$(_cl_short "${1:-}")
    if [[ $pod =~ ^n([0-9]+)p([0-9]+)$ ]]; then
        printf '10.244.%d.%d\n' "${BASH_REMATCH[1]}" $((10 + BASH_REMATCH[2]))
    else
        _cl_err "cluster_pod_ip: not a pod name (nNpI): '${1:-}'"
        return 2
    fi
}

_cl_pod_ip6() {
    local pod
    pod=$(_cl_short "$1")
    [[ $pod =~ ^n([0-9]+)p([0-9]+)$ ]] || return 2
    printf 'fd00:10:244:%d::%d\n' "${BASH_REMATCH[1]}" $((10 + BASH_REMATCH[2]))
}

cluster_pod_ip6() {
    _cl_pod_ip6 "${1:-}" || { _cl_err "cluster_pod_ip6: not a pod name (nNpI): '${1:-}'"; return 2; }
}

# every netns of this prefix
_cl_all_ns() {
    local p n
    p=$(_cl_p)
    ip netns list 2>/dev/null | while read -r n _; do
        # Not `[[ ]] && printf`: a last non-matching name would make the loop, and under
        # pipefail the whole function, fail.
        [[ $n == "$p"-* ]] || continue
        printf '%s\n' "$n"
    done
    return 0
}

cluster_pods() {
    local p n
    p=$(_cl_p)
    _cl_all_ns | while read -r n; do
        n=${n#"$p"-}
        [[ $n =~ ^n[0-9]+p[0-9]+$ ]] && printf '%s\n' "$n"
    done | sort -V
}

cluster_exec() {
    local ns
    [[ $# -ge 2 ]] || { _cl_err "usage: cluster_exec NS cmd..."; return 2; }
    ns=$(cluster_ns "$1") || return 2
    shift
    [[ -e /run/netns/$ns ]] || { _cl_err "cluster_exec: no such netns: $ns"; return 2; }
    ip netns exec "$ns" "$@"
}

# ---------------------------------------------------------------- up / down
_cl_require() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null || { _cl_err "missing tool: $t"; return 1; }
    done
}

_cl_up_impl() {
    local per=${1:-3} p node pod ns n i ip vp
    p=$(_cl_p)
    if ! [[ $per =~ ^[0-9]+$ ]] || ((per < 1 || per > 200)); then
        _cl_err "cluster_up: pods per node must be 1..200, got '$per'"
        return 2
    fi
    [[ $(id -u) -eq 0 ]] || { _cl_err "cluster_up needs root"; return 1; }
    _cl_require ip sysctl
    [[ ${#p} -le 40 && $p =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || { _cl_err "bad CLUSTER_PREFIX '$p'"; return 2; }

    mkdir -p "$(_cl_state)"
    for n in 1 2; do
        node=$p-node$n
        ip netns add "$node"
        ip -n "$node" link set lo up
        ip -n "$node" link add cni0 type bridge
        ip -n "$node" addr add "10.244.$n.1/24" dev cni0
        ip -n "$node" link set cni0 up
        ip netns exec "$node" sysctl -qw net.ipv4.ip_forward=1
    done
    # node-to-node link: both ends created directly inside the node namespaces
    ip link add eth0 netns "$p-node1" type veth peer name eth0 netns "$p-node2"
    ip -n "$p-node1" addr add 192.168.50.1/24 dev eth0
    ip -n "$p-node2" addr add 192.168.50.2/24 dev eth0
    ip -n "$p-node1" link set eth0 up
    ip -n "$p-node2" link set eth0 up
    ip -n "$p-node1" route add 10.244.2.0/24 via 192.168.50.2
    ip -n "$p-node2" route add 10.244.1.0/24 via 192.168.50.1
    ip -n "$p-node1" route add 10.96.0.0/12 via 192.168.50.2
    ip -n "$p-node2" route add unreachable 10.96.0.0/12

    for n in 1 2; do
        node=$p-node$n
        for ((i = 1; i <= per; i++)); do
            pod=n${n}p$i
            ns=$p-$pod
            ip=$(cluster_pod_ip "$pod")
            vp=vp$i
            ip netns add "$ns"
            ip -n "$ns" link set lo up
            ip link add eth0 netns "$ns" type veth peer name "$vp" netns "$node"
            ip -n "$node" link set "$vp" master cni0
            # As bridge CNIs do (hairpinMode): a masqueraded pod may reach itself through a service.
            ip -n "$node" link set "$vp" type bridge_slave hairpin on
            ip -n "$node" link set "$vp" up
            ip -n "$ns" addr add "$ip/24" dev eth0
            ip -n "$ns" link set eth0 up
            ip -n "$ns" route add default via "10.244.$n.1"
        done
    done
    _cl_up_ipv6 "$per"
    printf '%s\n' "$per" >"$(_cl_state)/pods-per-node"
}

# _cl_up_ipv6 PODS_PER_NODE: the IPv6 half of the dual-stack cluster, on the links
# _cl_up_impl made. `nodad`: an address in duplicate address detection is tentative for about
# a second and a bind or connect to it fails meanwhile; nothing here can be duplicated.
_cl_up_ipv6() {
    local per=$1 p n i pod ns node
    p=$(_cl_p)
    for n in 1 2; do
        node=$p-node$n
        ip netns exec "$node" sysctl -qw net.ipv6.conf.all.forwarding=1
        ip -n "$node" addr add "fd00:10:244:$n::1/64" dev cni0 nodad
        ip -n "$node" addr add "fd00:192:168:50::$n/64" dev eth0 nodad
        for ((i = 1; i <= per; i++)); do
            pod=n${n}p$i
            ns=$p-$pod
            ip -n "$ns" addr add "$(_cl_pod_ip6 "$pod")/64" dev eth0 nodad
            ip -n "$ns" -6 route add default via "fd00:10:244:$n::1"
        done
    done
    ip -n "$p-node1" -6 route add fd00:10:244:2::/64 via fd00:192:168:50::2
    ip -n "$p-node2" -6 route add fd00:10:244:1::/64 via fd00:192:168:50::1
    ip -n "$p-node1" -6 route add fd00:10:96::/108 via fd00:192:168:50::2
    ip -n "$p-node2" -6 route add unreachable fd00:10:96::/108
}

cluster_up() {
    local rc=0
    if [[ -n $(_cl_all_ns) ]]; then
        _cl_log "a cluster with prefix $(_cl_p) exists: tearing it down first"
        cluster_down || return 1
    fi
    _cl_run _cl_up_impl "$@" || rc=$?
    if ((rc != 0)); then
        _cl_err "cluster_up failed (status $rc); cleaning up"
        cluster_down || true
        return "$rc"
    fi
    _cl_log "cluster $(_cl_p) up: $(cluster_pods | tr '\n' ' ')"
}

# _cl_running PID: the process exists and is not a zombie (a zombie is dead, only not yet
# reaped by its parent, which for an orphan can take init a moment).
_cl_running() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

# _cl_kill_pids PIDS...: TERM, wait up to 3 s, then KILL (only the given pids)
_cl_kill_pids() {
    local pid i
    local -a alive
    (($# > 0)) || return 0
    kill -TERM "$@" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        alive=()
        for pid in "$@"; do
            _cl_running "$pid" && alive+=("$pid")
        done
        ((${#alive[@]})) || return 0
        ((i == 30)) && kill -KILL "${alive[@]}" 2>/dev/null
        sleep 0.1
    done
    _cl_err "processes survived SIGKILL: ${alive[*]}"
    return 1
}

cluster_down() {
    local p ns rc=0 state
    local -a nss pids
    p=$(_cl_p)
    state=$(_cl_state)
    mapfile -t nss < <(_cl_all_ns)
    pids=()
    for ns in "${nss[@]}"; do
        mapfile -t -O "${#pids[@]}" pids < <(ip netns pids "$ns" 2>/dev/null || true)
    done
    _cl_kill_pids "${pids[@]}" || rc=1
    # pods first, then nodes (deleting a netns deletes its veth ends and their peers)
    for ns in "${nss[@]}"; do
        [[ $ns == "$p"-node* ]] && continue
        ip netns del "$ns" 2>/dev/null || { _cl_err "could not delete netns $ns"; rc=1; }
    done
    for ns in "${nss[@]}"; do
        [[ $ns == "$p"-node* ]] || continue
        ip netns del "$ns" 2>/dev/null || { _cl_err "could not delete netns $ns"; rc=1; }
    done
    for ns in /etc/netns/"$p"-*; do
        [[ -e $ns ]] || continue
        rm -rf -- "$ns"
    done
    rmdir /etc/netns 2>/dev/null || true
    if [[ -d $state ]]; then
        rm -rf -- "$state"
    fi
    return "$rc"
}

_cl_ext_up_impl() {
    local p ext node
    p=$(_cl_p); ext=$p-ext; node=$p-node1
    [[ -e /run/netns/$node ]] || { _cl_err "cluster_ext_up: no cluster ($node missing): run cluster_up first"; return 1; }
    [[ -e /run/netns/$ext ]] && return 0
    ip netns add "$ext"
    ip -n "$ext" link set lo up
    ip link add eth0 netns "$ext" type veth peer name ext0 netns "$node"
    ip -n "$node" addr add 192.168.60.1/24 dev ext0
    ip -n "$node" link set ext0 up
    ip -n "$ext" addr add 192.168.60.10/24 dev eth0
    ip -n "$ext" addr add 192.168.60.11/24 dev eth0
    ip -n "$ext" link set eth0 up
    ip -n "$ext" route add 192.168.50.0/24 via 192.168.60.1
    ip -n "$ext" route add 192.168.70.0/24 via 192.168.60.1
}

cluster_ext_up() {
    local rc=0
    _cl_run _cl_ext_up_impl || rc=$?
    if ((rc != 0)); then
        _cl_err "cluster_ext_up failed (status $rc)"
        cluster_ext_down || true
    fi
    return "$rc"
}

cluster_ext_down() {
    local ext pids
    ext=$(_cl_p)-ext
    [[ -e /run/netns/$ext ]] || return 0
    mapfile -t pids < <(ip netns pids "$ext" 2>/dev/null || true)
    _cl_kill_pids "${pids[@]}" || true
    ip netns del "$ext" || { _cl_err "could not delete netns $ext"; return 1; }
}

cluster_status() {
    local p ns pod f pid kind
    p=$(_cl_p)
    if [[ -z $(_cl_all_ns) ]]; then
        printf 'cluster %s: down\n' "$p"
        return 3
    fi
    printf 'cluster %s: namespaces\n' "$p"
    _cl_all_ns | sort -V | sed 's/^/  /'
    printf 'pods:\n'
    for pod in $(cluster_pods); do
        printf '  %-8s %-14s' "$pod" "$(cluster_pod_ip "$pod")"
        for f in "$(_cl_state)/$pod"/*.pid; do
            [[ -e $f ]] || continue
            kind=$(basename "$f" .pid)
            pid=$(cat "$f" 2>/dev/null || true)
            if [[ -n $pid ]] && _cl_running "$pid"; then
                printf ' %s(pid %s)' "$kind" "$pid"
            else
                printf ' %s(dead)' "$kind"
            fi
        done
        printf '\n'
    done
    for ns in "$p-node1" "$p-node2"; do
        [[ -e /run/netns/$ns ]] || continue
        printf '%s routes:\n' "$ns"
        ip -n "$ns" -4 route show | sed 's/^/  /'
        ip -n "$ns" -6 route show | grep -v '^fe80' | sed 's/^/  /'
    done
    return 0
}

# ---------------------------------------------------------------- servers
# _cl_wait_listen NS PROTO(t|u) PORT PID LOG NAME: wait up to 5 s until process PID
# itself holds a listening socket on PORT (a socket of another process does not count)
_cl_wait_listen() {
    local ns=$1 proto=$2 port=$3 pid=$4 log=$5 name=$6 i flag=-Hltnp
    [[ $proto == u ]] && flag=-Hlunp
    for ((i = 0; i < 50; i++)); do
        if ! _cl_running "$pid"; then
            _cl_err "$name exited at start in $ns; log $log:"
            tail -n 20 "$log" >&2 2>/dev/null || true
            return 1
        fi
        if ip netns exec "$ns" ss "$flag" "sport = :$port" 2>/dev/null | grep -q "pid=$pid,"; then
            return 0
        fi
        sleep 0.1
    done
    _cl_err "$name does not listen on port $port in $ns after 5 s; log $log:"
    tail -n 20 "$log" >&2 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
    return 1
}

_cl_pod_dir() {
    local pod=$1 ns
    ns=$(cluster_ns "$pod")
    [[ -e /run/netns/$ns ]] || { _cl_err "no such pod netns: $ns"; return 2; }
    [[ $(_cl_short "$pod") =~ ^n[0-9]+p[0-9]+$ ]] || { _cl_err "not a pod: $pod"; return 2; }
    mkdir -p "$(_cl_state)/$(_cl_short "$pod")"
    printf '%s\n' "$(_cl_state)/$(_cl_short "$pod")"
}

# _cl_stop_kind DIR KIND: stop a previous server of this kind in this pod
_cl_stop_kind() {
    local f=$1/$2.pid pid
    [[ -e $f ]] || return 0
    pid=$(cat "$f" 2>/dev/null || true)
    [[ -n $pid ]] && _cl_kill_pids "$pid"
    rm -f "$f"
}

_cl_http_impl() {
    local pod=$1 port=${2:-8080} ns dir name access pid
    _cl_require nginx ss
    [[ $port =~ ^[0-9]+$ ]] || { _cl_err "bad port '$port'"; return 2; }
    ns=$(cluster_ns "$pod"); name=$(_cl_short "$pod")
    dir=$(_cl_pod_dir "$pod")
    _cl_stop_kind "$dir" "nginx-$port"
    mkdir -p "$dir/nginx-$port.tmp"
    access="access_log $dir/nginx-$port.access.log combined buffer=64k flush=1s;"
    [[ ${CLUSTER_NGINX_ACCESS_LOG:-1} == 0 ]] && access="access_log off;"
    cat >"$dir/nginx-$port.conf" <<EOF
# nginx for pod $name, port $port (generated by testbed/lib/cluster.sh)
user root;
worker_processes 1;
worker_rlimit_nofile 16384;
daemon off;
pid $dir/nginx-$port.pidfile;
error_log $dir/nginx-$port.error.log warn;
events { worker_connections 4096; }
http {
    $access
    client_body_temp_path $dir/nginx-$port.tmp/body;
    proxy_temp_path $dir/nginx-$port.tmp/proxy;
    fastcgi_temp_path $dir/nginx-$port.tmp/fastcgi;
    uwsgi_temp_path $dir/nginx-$port.tmp/uwsgi;
    scgi_temp_path $dir/nginx-$port.tmp/scgi;
    keepalive_timeout 0;
    default_type text/plain;
    server {
        listen $port backlog=4096;
        listen [::]:$port backlog=4096 ipv6only=on;
        location / { return 200 "$name\n"; }
    }
}
EOF
    ip netns exec "$ns" nginx -p "$dir" -e "$dir/nginx-$port.error.log" -c "$dir/nginx-$port.conf" \
        </dev/null >>"$dir/nginx-$port.out" 2>&1 &
    pid=$!
    printf '%s\n' "$pid" >"$dir/nginx-$port.pid"
    _cl_wait_listen "$ns" t "$port" "$pid" "$dir/nginx-$port.error.log" nginx
}
cluster_start_http() { [[ $# -ge 1 ]] || { _cl_err "usage: cluster_start_http POD [PORT]"; return 2; }; _cl_run _cl_http_impl "$@"; }

_cl_dns_impl() {
    local pod=$1 port=${2:-53} ns dir name ip ip6 pid
    _cl_require dnsmasq ss
    [[ $port =~ ^[0-9]+$ ]] || { _cl_err "bad port '$port'"; return 2; }
    ns=$(cluster_ns "$pod"); name=$(_cl_short "$pod")
    ip=$(cluster_pod_ip "$pod"); ip6=$(_cl_pod_ip6 "$pod")
    dir=$(_cl_pod_dir "$pod")
    _cl_stop_kind "$dir" "dnsmasq-$port"
    # --conf-file=/dev/null: ignore /etc/dnsmasq.conf; -u root: no privilege drop (files in
    # the state dir); --local=/svc.test/: other names there get NXDOMAIN, not REFUSED
    ip netns exec "$ns" dnsmasq --keep-in-foreground --conf-file=/dev/null -u root \
        --no-resolv --no-hosts --bind-interfaces --listen-address="$ip,$ip6" --port="$port" \
        --host-record="whoami.svc.test,$ip,$ip6" --txt-record="whoami.svc.test,$name" \
        --local=/svc.test/ --cache-size=0 \
        --pid-file="$dir/dnsmasq-$port.pidfile" \
        --log-facility="$dir/dnsmasq-$port.log" ${CLUSTER_DNS_LOG_QUERIES:+--log-queries} \
        </dev/null >>"$dir/dnsmasq-$port.out" 2>&1 &
    pid=$!
    printf '%s\n' "$pid" >"$dir/dnsmasq-$port.pid"
    _cl_wait_listen "$ns" u "$port" "$pid" "$dir/dnsmasq-$port.out" dnsmasq
}
cluster_start_dns() { [[ $# -ge 1 ]] || { _cl_err "usage: cluster_start_dns POD [PORT]"; return 2; }; _cl_run _cl_dns_impl "$@"; }

_cl_udp_impl() {
    local pod=$1 port=${2:-9000} ns dir name ip ip6 pid ttl=${CLUSTER_SERVER_TTL:-14400}
    _cl_require python3 ss
    [[ $port =~ ^[0-9]+$ ]] || { _cl_err "bad port '$port'"; return 2; }
    [[ $ttl =~ ^[0-9]+$ ]] || { _cl_err "bad CLUSTER_SERVER_TTL '$ttl'"; return 2; }
    ns=$(cluster_ns "$pod"); name=$(_cl_short "$pod"); ip=$(cluster_pod_ip "$pod"); ip6=$(_cl_pod_ip6 "$pod")
    dir=$(_cl_pod_dir "$pod")
    _cl_stop_kind "$dir" "udp-echo-$port"
    cat >"$dir/udp-echo.py" <<'EOF'
# UDP echo for a test pod: replies "<name> <payload>" to every datagram on its IPv4 and
# IPv6 address; ends after TTL s.
import select, socket, sys, time
name, port, ttl = sys.argv[1].encode(), int(sys.argv[3]), float(sys.argv[4])
socks = []
for addr in sys.argv[2].split(","):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind((addr, port))
    s.setblocking(False)
    socks.append(s)
end = time.monotonic() + ttl
while time.monotonic() < end:
    ready, _, _ = select.select(socks, [], [], 1.0)
    for s in ready:
        try:
            data, peer = s.recvfrom(65535)
            s.sendto(name + b" " + data, peer)
        except OSError:
            pass
EOF
    ip netns exec "$ns" python3 -u "$dir/udp-echo.py" "$name" "$ip,$ip6" "$port" "$ttl" \
        </dev/null >>"$dir/udp-echo-$port.log" 2>&1 &
    pid=$!
    printf '%s\n' "$pid" >"$dir/udp-echo-$port.pid"
    _cl_wait_listen "$ns" u "$port" "$pid" "$dir/udp-echo-$port.log" udp-echo
}
cluster_start_udp_echo() { [[ $# -ge 1 ]] || { _cl_err "usage: cluster_start_udp_echo POD [PORT]"; return 2; }; _cl_run _cl_udp_impl "$@"; }

cluster_stop_servers() {
    local state f pid rc=0
    local -a pids=()
    state=$(_cl_state)
    [[ -d $state ]] || return 0
    for f in "$state"/*/*.pid; do
        [[ -e $f ]] || continue
        pid=$(cat "$f" 2>/dev/null || true)
        [[ $pid =~ ^[0-9]+$ ]] && pids+=("$pid")
        rm -f "$f"
    done
    _cl_kill_pids "${pids[@]}" || rc=1
    return "$rc"
}

cluster_set_resolver() {
    local ns ip opts
    [[ $# -ge 2 ]] || { _cl_err "usage: cluster_set_resolver POD IP [OPTIONS]"; return 2; }
    ns=$(cluster_ns "$1") || return 2
    ip=$2
    opts=${3:-timeout:5 attempts:1}
    [[ -e /run/netns/$ns ]] || { _cl_err "cluster_set_resolver: no such netns: $ns"; return 2; }
    [[ $ip =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || { _cl_err "cluster_set_resolver: not an IPv4 address: '$ip'"; return 2; }
    [[ -e /etc/resolv.conf ]] || { _cl_err "/etc/resolv.conf must exist (ip netns exec bind-mounts over it)"; return 1; }
    mkdir -p "/etc/netns/$ns" || return 1
    printf '# generated by testbed/lib/cluster.sh for %s\nnameserver %s\noptions %s\n' "$ns" "$ip" "$opts" \
        >"/etc/netns/$ns/resolv.conf" || return 1
}
