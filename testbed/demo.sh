#!/usr/bin/env bash
# The main job on a fresh machine (as root): builds nfq-lb, creates a two-node demo cluster in
# network namespaces, installs the hooks on node1, starts nfq-lb there and shows requests to
# service addresses spread over pods on both nodes (TCP from a pod and from the node itself,
# UDP DNS), `nfq-lb status`, a few metrics and a live reload; then removes everything.
#
#   testbed/demo.sh [--mode mark|conntrack|rewrite] [--requests N]
set -euo pipefail
cd "$(dirname "$0")/.."

mode=mark
requests=12
while (($#)); do
    case $1 in
        --mode) mode=${2:?--mode needs a value}; shift 2 ;;
        --requests) requests=${2:?--requests needs a value}; shift 2 ;;
        -h | --help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "demo: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
case $mode in conntrack | rewrite | mark) ;; *) echo "demo: --mode must be conntrack, rewrite or mark" >&2; exit 2 ;; esac
[[ $(id -u) -eq 0 ]] || { echo "demo: needs root (network namespaces, iptables, NFQUEUE)" >&2; exit 1; }

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "installing Debian packages (if missing) and building nfq-lb (release)"
scripts/install-deps.sh
swift build -c release --product nfq-lb 2>&1 | tail -1
bin=$(swift build -c release --show-bin-path)/nfq-lb

export CLUSTER_PREFIX=demo CLUSTER_QUIET=1
# shellcheck source=testbed/lib/cluster.sh
source testbed/lib/cluster.sh
work=$(mktemp -d /tmp/nfq-lb-demo.XXXXXX)
daemon_pid=
cleanup() {
    [[ -n $daemon_pid ]] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    ip netns exec demo-node1 deploy/iptables-hooks.sh remove >/dev/null 2>&1 || true
    cluster_down >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

say "creating the cluster: node1 and node2, 3 pods each (nginx :8080, dnsmasq :53)"
cluster_up 3
for pod in n1p1 n1p2 n2p1 n2p2; do cluster_start_http "$pod"; done
for pod in n1p1 n2p1; do cluster_start_dns "$pod"; done

cat > "$work/nfq-lb.yaml" <<YAML
queues: "0:1"
serviceCIDRs: [10.96.0.0/12]
tcpMode: $mode
metrics: {port: 9464}
services:
  - name: web
    vip: 10.96.0.10
    port: 80
    strategy: round-robin
    endpoints:
      - {address: 10.244.1.11, port: 8080}
      - {address: 10.244.1.12, port: 8080}
      - {address: 10.244.2.11, port: 8080}
      - {address: 10.244.2.12, port: 8080}
  - name: dns
    vip: 10.96.0.53
    port: 53
    protocol: udp
    strategy: round-robin
    endpoints:
      - {address: 10.244.1.11, port: 53}
      - {address: 10.244.2.11, port: 53}
YAML
say "config ($mode mode): web 10.96.0.10:80 -> 4 pods on 2 nodes, dns 10.96.0.53:53/udp -> 2 pods"
"$bin" check-config "$work/nfq-lb.yaml"

say "installing the hooks on node1 and starting nfq-lb there"
ip netns exec demo-node1 deploy/iptables-hooks.sh install --queues 0:1 --service-cidr 10.96.0.0/12 --mode "$mode"
ip netns exec demo-node1 "$bin" run --config "$work/nfq-lb.yaml" > "$work/nfq-lb.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 50); do
    ip netns exec demo-node1 curl -s --max-time 1 http://127.0.0.1:9464/healthz >/dev/null 2>&1 && break
    sleep 0.1
done
sed 's/^/   /' "$work/nfq-lb.log"

spread() { sort | uniq -c | sed 's/^/   /'; }
say "$requests HTTP requests from pod n1p3 (10.244.1.13) to http://10.96.0.10/: who answered"
for _ in $(seq 1 "$requests"); do ip netns exec demo-n1p3 curl -s --max-time 3 http://10.96.0.10/ || echo "(failed)"; done | spread
say "4 requests from node1 itself (OUTPUT path)"
for _ in 1 2 3 4; do ip netns exec demo-node1 curl -s --max-time 3 http://10.96.0.10/ || echo "(failed)"; done | spread
say "6 DNS queries (UDP) from n1p3 to 10.96.0.53: TXT whoami.svc.test"
for _ in 1 2 3 4 5 6; do ip netns exec demo-n1p3 dig +short +time=2 +tries=1 @10.96.0.53 whoami.svc.test TXT || echo "(failed)"; done | spread

say "nfq-lb status (inside node1)"
ip netns exec demo-node1 "$bin" status --config "$work/nfq-lb.yaml" | sed 's/^/   /'

say "a few metrics (curl http://127.0.0.1:9464/metrics inside node1)"
ip netns exec demo-node1 curl -s http://127.0.0.1:9464/metrics |
    grep -E '^nfqlb_(endpoint_new_flows_total|verdicts_total|conntrack_operations_total)' | sed 's/^/   /'

say "live reload: remove the two node2 pods from web; the file change is picked up"
sed -i '/10.244.2.1[12], port: 8080/d' "$work/nfq-lb.yaml"
sleep 1.5
for _ in $(seq 1 8); do ip netns exec demo-n1p3 curl -s --max-time 3 http://10.96.0.10/ || echo "(failed)"; done | spread
grep -h "reloaded" "$work/nfq-lb.log" | sed 's/^/   /' || true

say "done: cleaning up (daemon, hooks, namespaces)"
