#!/usr/bin/env bash
# cluster-test.sh - self-test of testbed/lib/cluster.sh (the namespace test cluster).
#
# Brings a cluster up with prefix "cltest" (3 pods per node) and checks: pod->pod HTTP on
# the same node and across nodes, node->pod HTTP, dig to a dnsmasq pod (TXT/A/AAAA), glibc
# getent ahosts through /etc/netns/<ns>/resolv.conf, UDP echo, the service-range routes
# (un-NATed service packets fail fast), the same over IPv6 (dual stack), stop/restart of servers, a second cluster with
# another prefix side by side, and failure handling. Then cluster_down, and verifies that
# no cltest-* netns, no process, no /etc/netns/cltest-* and no state dir remain.
# A trap tears everything down on failure too.
#
# usage: testbed/tests/cluster-test.sh [-v]    (root)
# exit: 0 all passed, 1 some check failed (each failure is printed), 2 cannot run
# functions below are called indirectly through check:
# shellcheck disable=SC2317 source-path=SCRIPTDIR
set -euo pipefail

PROG=${0##*/}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VERBOSE=0
case ${1:-} in
    -h|--help) sed -n '2,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    -v|--verbose) VERBOSE=1 ;;
    "") ;;
    *) echo "usage: $PROG [-v]" >&2; exit 2 ;;
esac
[[ $(id -u) -eq 0 ]] || { echo "$PROG: must run as root (network namespaces)" >&2; exit 2; }
for tool in ip nginx dnsmasq python3 curl dig socat getent ss timeout; do
    command -v "$tool" >/dev/null || { echo "$PROG: missing tool: $tool" >&2; exit 2; }
done

export CLUSTER_PREFIX=cltest
unset CLUSTER_STATE_DIR
export CLUSTER_QUIET=1
# shellcheck source=../lib/cluster.sh
source "$HERE/../lib/cluster.sh"
STATE=/tmp/cltest-cluster
OTHER=cltestb

PASS=0
FAIL=0
declare -a FAILED=()
CTX=setup

cleanup() {
    CLUSTER_PREFIX=$OTHER CLUSTER_STATE_DIR=/tmp/$OTHER-cluster cluster_down || true
    cluster_down || true
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { PASS=$((PASS + 1)); ((VERBOSE)) && printf '  ok   %s\n' "$*"; return 0; }
bad() { FAIL=$((FAIL + 1)); FAILED+=("$CTX: $*"); printf '  FAIL %s: %s\n' "$CTX" "$*"; }
check() { local d=$1; shift; if "$@" >/dev/null 2>&1; then ok "$d"; else bad "$d"; fi; }
expect() { # expect WANT DESC cmd...: the command's stdout (trimmed) must equal WANT
    local want=$1 d=$2 got; shift 2
    got=$("$@" 2>&1 | tr -d '\r' | sed -e 's/[[:space:]]*$//') || true
    if [[ $got == "$want" ]]; then ok "$d"; else bad "$d: want '$want', got '$got'"; fi
}
nsx() { ip netns exec "$(cluster_ns "$1")" "${@:2}"; }
curl_in() { nsx "$1" curl -s --max-time 3 "http://$2:8080/"; }
udp_in() { printf '%s' "$3" | nsx "$1" timeout 5 socat -T 2 - "UDP:$2:9000"; }

# ---------------------------------------------------------------- up
CTX=up
cluster_down || true
t0=$(date +%s%N)
if ! cluster_up 3; then
    echo "$PROG: cluster_up failed" >&2
    exit 1
fi
echo "== cluster up in $((($(date +%s%N) - t0) / 1000000)) ms"
expect "n1p1 n1p2 n1p3 n2p1 n2p2 n2p3" "cluster_pods" bash -c "source '$HERE/../lib/cluster.sh'; cluster_pods | tr '\n' ' '"
expect 10.244.2.13 "cluster_pod_ip n2p3" cluster_pod_ip n2p3
expect 10.244.1.11 "cluster_pod_ip with full name" cluster_pod_ip cltest-n1p1
expect cltest-node2 "cluster_node_ns 2" cluster_node_ns 2
expect 8 "8 namespaces" bash -c "ip netns list | grep -c '^cltest-'"
expect "10.244.1.12/24" "pod address" bash -c "ip -n cltest-n1p2 -4 -o addr show dev eth0 | awk '{print \$4}'"
expect "default via 10.244.2.1 dev eth0" "pod default route" bash -c "ip -n cltest-n2p3 route show default | sed 's/ *\$//'"
expect "unreachable 10.96.0.0/12" "node2 service route" bash -c "ip -n cltest-node2 route show 10.96.0.0/12 | sed 's/ *\$//'"
expect "10.96.0.0/12 via 192.168.50.2 dev eth0" "node1 service route" bash -c "ip -n cltest-node1 route show 10.96.0.0/12 | sed 's/ *\$//'"
expect 1 "node1 ip_forward" nsx node1 sysctl -n net.ipv4.ip_forward
expect 1 "node2 ip_forward" nsx node2 sysctl -n net.ipv4.ip_forward
bnf1=$(nsx node1 sysctl -n net.bridge.bridge-nf-call-iptables 2>/dev/null || echo "n/a")
bnf2=$(nsx node2 sysctl -n net.bridge.bridge-nf-call-iptables 2>/dev/null || echo "n/a")
echo "== net.bridge.bridge-nf-call-iptables: node1=$bnf1 node2=$bnf2 (kernel default per netns, left as is)"
expect "cltest-n1p1" "cluster_exec runs in the pod netns" cluster_exec n1p1 ip netns identify

# ---------------------------------------------------------------- servers
CTX=servers
for pod in $(cluster_pods); do
    cluster_start_http "$pod" || bad "cluster_start_http $pod"
done
cluster_start_dns n1p2 || bad "cluster_start_dns n1p2"
cluster_start_dns n2p3 || bad "cluster_start_dns n2p3"
cluster_start_udp_echo n2p2 || bad "cluster_start_udp_echo n2p2"
cluster_start_udp_echo n1p1 9001 || bad "cluster_start_udp_echo n1p1 9001"
check "nginx listens on 8080 in n2p1" bash -c "[[ -n \$(ip netns exec cltest-n2p1 ss -Hltn 'sport = :8080') ]]"
check "dnsmasq listens on 10.244.1.12:53" bash -c "ip netns exec cltest-n1p2 ss -Hlun 'sport = :53' | grep -q 10.244.1.12:53"
check "cluster_status exits 0" cluster_status
# a port held by another process: the start must fail loudly, not mistake the other socket for ours
ip netns exec cltest-n2p3 timeout 20 socat -u UDP-RECV:9100,bind=10.244.2.13 /dev/null &
blocker=$!
sleep 0.3
err=$(cluster_start_udp_echo n2p3 9100 2>&1) && rc=0 || rc=$?
check "a server that cannot start fails (port in use, rc=$rc)" test "$rc" -ne 0
check "... loudly (message names the server and its log)" grep -q 'udp-echo exited at start' <<<"$err"
((VERBOSE)) && printf '%s\n' "$err" | sed 's/^/       /'
kill "$blocker" 2>/dev/null || true
wait "$blocker" 2>/dev/null || true

# ---------------------------------------------------------------- traffic
CTX=http
expect n1p2 "pod->pod, same node (n1p1 -> 10.244.1.12)" curl_in n1p1 10.244.1.12
expect n2p1 "pod->pod, across nodes (n1p1 -> 10.244.2.11)" curl_in n1p1 10.244.2.11
expect n1p3 "pod->pod, across nodes (n2p3 -> 10.244.1.13)" curl_in n2p3 10.244.1.13
expect n2p2 "pod->pod, same node on node2 (n2p1 -> 10.244.2.12)" curl_in n2p1 10.244.2.12
expect n1p1 "node1 -> own pod" curl_in node1 10.244.1.11
expect n2p1 "node1 -> pod on node2" curl_in node1 10.244.2.11
expect n1p3 "node2 -> pod on node1" curl_in node2 10.244.1.13
check "nginx logs in the state dir" test -e "$STATE/n1p2/nginx-8080.access.log" -a -e "$STATE/n1p2/nginx-8080.error.log"

CTX=dns
expect '"n1p2"' "dig TXT from a pod on the other node" nsx n2p1 dig +short +time=2 +tries=1 @10.244.1.12 whoami.svc.test TXT
expect '"n1p2"' "dig TXT from node1" nsx node1 dig +short +time=2 +tries=1 @10.244.1.12 whoami.svc.test TXT
expect 10.244.1.12 "dig A" nsx n1p1 dig +short +time=2 +tries=1 @10.244.1.12 whoami.svc.test A
expect fd00:10:244:1::12 "dig AAAA" nsx n1p1 dig +short +time=2 +tries=1 @10.244.1.12 whoami.svc.test AAAA
expect '"n2p3"' "dig TXT, second dns pod" nsx n1p3 dig +short +time=2 +tries=1 @10.244.2.13 whoami.svc.test TXT
expect NXDOMAIN "other svc.test names: NXDOMAIN" bash -c "ip netns exec cltest-n1p1 dig +time=2 +tries=1 @10.244.1.12 nope.svc.test A | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'"

CTX=resolver
cluster_set_resolver n2p1 10.244.1.12
check "/etc/netns/cltest-n2p1/resolv.conf written" grep -q 'nameserver 10.244.1.12' /etc/netns/cltest-n2p1/resolv.conf
expect "nameserver 10.244.1.12" "resolv.conf seen inside the pod" bash -c "ip netns exec cltest-n2p1 grep ^nameserver /etc/resolv.conf"
t0=$(date +%s%N)
out=$(nsx n2p1 getent ahosts whoami.svc.test 2>&1 || true)
ms=$((($(date +%s%N) - t0) / 1000000))
check "getent ahosts returns the A answer" grep -q '^10.244.1.12 ' <<<"$out"
check "getent ahosts returns the AAAA answer" grep -q '^fd00:10:244:1::12 ' <<<"$out"
check "getent ahosts is fast (${ms} ms, no 5 s stall)" test "$ms" -lt 2000
((VERBOSE)) && printf '%s\n' "$out" | sed 's/^/       /'
check "the root namespace resolv.conf is untouched" bash -c "! grep -q 10.244.1.12 /etc/resolv.conf"
cluster_set_resolver n1p1 10.244.2.13 "timeout:1 attempts:1"
expect "options timeout:1 attempts:1" "custom resolver options" grep ^options /etc/netns/cltest-n1p1/resolv.conf
expect 10.244.2.13 "getent ahostsv4 through the other dns pod" bash -c "ip netns exec cltest-n1p1 getent ahostsv4 whoami.svc.test | awk 'NR==1{print \$1}'"

CTX=udp
expect "n2p2 hello" "UDP echo across nodes" udp_in n1p1 10.244.2.12 hello
expect "n2p2 same-node" "UDP echo same node" udp_in n2p1 10.244.2.12 same-node
expect "n1p1 x" "UDP echo on a second port" bash -c "printf x | ip netns exec cltest-n2p1 timeout 5 socat -T 2 - UDP:10.244.1.11:9001"

CTX=service-range
# no balancer: a service packet fails fast (ICMP unreachable from node2), never loops or hangs
for from in n1p1 n2p1 node1; do
    t0=$(date +%s%N)
    rc=0; nsx "$from" curl -s --max-time 3 http://10.96.0.10:80/ >/dev/null 2>&1 || rc=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
    check "$from -> 10.96.0.10: fails fast with 'no route' (curl rc $rc, ${ms} ms)" test "$rc" -eq 7 -a "$ms" -lt 2000
done

CTX=ipv6
curl6_in() { nsx "$1" curl -s --max-time 3 "http://[$2]:8080/"; }
expect fd00:10:244:2::13 "cluster_pod_ip6 n2p3" cluster_pod_ip6 n2p3
expect "fd00:10:244:1::12/64" "pod IPv6 address" bash -c "ip -n cltest-n1p2 -6 -o addr show dev eth0 scope global | awk '{print \$4}'"
check "no address is tentative (nodad)" bash -c "for n in \$(ip netns list | awk '/^cltest-/{print \$1}'); do ip -n \$n -6 addr show | grep -q tentative && exit 1; done; exit 0"
expect "default via fd00:10:244:2::1 dev eth0 metric 1024 pref medium" "pod IPv6 default route" bash -c "ip -n cltest-n2p3 -6 route show default | sed 's/ *\$//'"
expect "unreachable fd00:10:96::/108 dev lo metric 1024 pref medium" "node2 IPv6 service route" bash -c "ip -n cltest-node2 -6 route show fd00:10:96::/108 | sed 's/ *\$//'"
expect "fd00:10:96::/108 via fd00:192:168:50::2 dev eth0 metric 1024 pref medium" "node1 IPv6 service route" bash -c "ip -n cltest-node1 -6 route show fd00:10:96::/108 | sed 's/ *\$//'"
expect 1 "node1 IPv6 forwarding" nsx node1 sysctl -n net.ipv6.conf.all.forwarding
expect 0 "no IPv6 forwarding in a pod" nsx n1p1 sysctl -n net.ipv6.conf.all.forwarding
expect n1p2 "IPv6 pod->pod, same node" curl6_in n1p1 fd00:10:244:1::12
expect n2p1 "IPv6 pod->pod, across nodes" curl6_in n1p1 fd00:10:244:2::11
expect n2p1 "IPv6 node1 -> pod on node2" curl6_in node1 fd00:10:244:2::11
expect '"n1p2"' "dig TXT over IPv6" nsx n2p1 dig +short +time=2 +tries=1 @fd00:10:244:1::12 whoami.svc.test TXT
expect "n2p2 hello6" "UDP echo over IPv6 across nodes" bash -c "printf hello6 | ip netns exec cltest-n1p1 timeout 5 socat -T 2 - UDP6:[fd00:10:244:2::12]:9000"
rc=0; t0=$(date +%s%N); nsx n1p1 curl -s --max-time 3 "http://[fd00:10:96::10]:80/" >/dev/null 2>&1 || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
check "n1p1 -> fd00:10:96::10: fails fast with 'no route' (curl rc $rc, ${ms} ms)" test "$rc" -eq 7 -a "$ms" -lt 2000

# ---------------------------------------------------------------- stop / restart
CTX=stop
mapfile -t spids < <(cat "$STATE"/*/*.pid)
cluster_stop_servers
alive=0
for p in "${spids[@]}"; do _cl_running "$p" && alive=$((alive + 1)); done
check "cluster_stop_servers: all ${#spids[@]} servers gone" test "$alive" -eq 0
check "nothing listens on 8080 any more" bash -c "[[ -z \$(ip netns exec cltest-n2p1 ss -Hltn 'sport = :8080') ]]"
expect "" "no process left in any pod" bash -c "for n in \$(ip netns list | awk '/^cltest-/{print \$1}'); do ip netns pids \$n; done"
if ! { cluster_start_http n2p2 && cluster_start_dns n2p2 && cluster_start_udp_echo n2p2; }; then
    bad "restart servers"
fi
expect n2p2 "restarted nginx answers" curl_in n1p1 10.244.2.12

# ---------------------------------------------------------------- a second cluster beside it
CTX=parallel
if CLUSTER_PREFIX=$OTHER CLUSTER_STATE_DIR=/tmp/$OTHER-cluster cluster_up 1 &&
    CLUSTER_PREFIX=$OTHER CLUSTER_STATE_DIR=/tmp/$OTHER-cluster cluster_start_http n2p1; then
    expect n2p1 "second cluster ($OTHER) works" bash -c "ip netns exec $OTHER-n1p1 curl -s --max-time 3 http://10.244.2.11:8080/"
    expect n2p2 "first cluster works beside it" curl_in n1p1 10.244.2.12
    CLUSTER_PREFIX=$OTHER CLUSTER_STATE_DIR=/tmp/$OTHER-cluster cluster_down
    expect 0 "second cluster removed" bash -c "ip netns list | grep -c '^$OTHER-' || true"
    expect 8 "first cluster untouched by the other's down" bash -c "ip netns list | grep -c '^cltest-'"
    expect n2p2 "first cluster still answers" curl_in n1p1 10.244.2.12
else
    bad "second cluster up"
fi

CTX=errors
check "cluster_pod_ip rejects a node" bash -c "! (source '$HERE/../lib/cluster.sh'; cluster_pod_ip node1) 2>/dev/null"
check "cluster_up rejects 0 pods" bash -c "! (CLUSTER_PREFIX=cltestc; source '$HERE/../lib/cluster.sh'; cluster_up 0) 2>/dev/null"
check "cluster_start_http on a missing pod fails" bash -c "! (CLUSTER_PREFIX=cltest; source '$HERE/../lib/cluster.sh'; cluster_start_http n9p9) 2>/dev/null"
check "a failing library call does not exit a set -e caller" bash -c "set -e; source '$HERE/../lib/cluster.sh'; cluster_pod_ip bogus 2>/dev/null || true; echo alive | grep -q alive"
# a half-built cluster (only a node and a resolv.conf) is removed by cluster_down
ip netns add cltestc-node1
mkdir -p /etc/netns/cltestc-n1p1 && echo "nameserver 10.244.1.12" >/etc/netns/cltestc-n1p1/resolv.conf
CLUSTER_PREFIX=cltestc cluster_down
check "cluster_down removes a partial cluster" bash -c "! ip netns list | grep -q '^cltestc-' && ! ls -d /etc/netns/cltestc-* 2>/dev/null"

# ---------------------------------------------------------------- down
CTX=down
mapfile -t spids < <(cat "$STATE"/*/*.pid 2>/dev/null)
# plus a stray process started by hand in a pod: cluster_down must kill it too
ip netns exec cltest-n1p3 sleep 300 &
stray=$!
cluster_down
check "cluster_down exits 0 again (idempotent)" cluster_down
expect 0 "no cltest-* netns left" bash -c "ip netns list | grep -c '^cltest-' || true"
alive=0
for p in "${spids[@]}" "$stray"; do _cl_running "$p" && alive=$((alive + 1)); done
check "no server or stray process left (${#spids[@]} servers + 1 stray)" test "$alive" -eq 0
wait "$stray" 2>/dev/null || true
no_state_procs() { ! pgrep -f "[/]tmp/cltest-cluster/"; }
check "no process refers to the state dir" no_state_procs
check "no /etc/netns/cltest-* left" bash -c "! ls -d /etc/netns/cltest-* 2>/dev/null"
check "state dir removed" test ! -e "$STATE"

echo "cluster-test: $PASS passed, $FAIL failed"
if ((FAIL > 0)); then
    printf 'failed checks:\n'
    printf '  %s\n' "${FAILED[@]}"
    exit 1
fi
exit 0
