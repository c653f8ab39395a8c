#!/usr/bin/env bash
# cluster.sh - bring the namespace test cluster of testbed/lib/cluster.sh up or down.
# Used by people, the demo, the benchmark and the Swift integration tests
# (CLUSTER_PREFIX=nfqt testbed/cluster.sh up).
set -euo pipefail

PROG=${0##*/}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/cluster.sh
source "$HERE/lib/cluster.sh"

usage() {
    cat <<EOF
usage: $PROG up [PODS_PER_NODE] [--servers]
       $PROG down
       $PROG status
       $PROG servers            start the standard servers in every pod
       $PROG exec NAME cmd...   run cmd in a pod/node netns (n1p2, node1, or full name)

  up        create nodes $(_cl_p)-node1/2 and PODS_PER_NODE (default 3) pods per node
            (an existing cluster of this prefix is replaced); --servers also starts,
            in every pod: nginx on :8080 ("GET /" -> pod name), dnsmasq on :53
            (whoami.svc.test A/AAAA/TXT), UDP echo on :9000
  down      kill everything in the $(_cl_p)-* namespaces and delete them, with
            /etc/netns/$(_cl_p)-* and the state dir (idempotent)
  status    namespaces, pod addresses, servers, node routes (exit 3 when down)

environment: CLUSTER_PREFIX (default nfqlb), CLUSTER_STATE_DIR (default /tmp/\$PREFIX-cluster),
             CLUSTER_NGINX_ACCESS_LOG=0 to disable nginx access logs
Pod nNpI has address 10.244.N.(10+I); node1 192.168.50.1, node2 192.168.50.2;
service range 10.96.0.0/12 routed from node1 toward node2 (unreachable in node2).
EOF
}

start_servers() {
    local pod
    for pod in $(cluster_pods); do
        cluster_start_http "$pod" 8080
        cluster_start_dns "$pod" 53
        cluster_start_udp_echo "$pod" 9000
    done
}

cmd=${1:-}
[[ -n $cmd ]] || { usage >&2; exit 2; }
shift
case $cmd in
    up)
        pods=3 servers=0
        for a in "$@"; do
            case $a in
                --servers) servers=1 ;;
                [0-9]*) pods=$a ;;
                *) echo "$PROG: unknown argument to up: $a" >&2; exit 2 ;;
            esac
        done
        cluster_up "$pods"
        if ((servers)); then
            if ! start_servers; then
                echo "$PROG: starting servers failed; tearing the cluster down" >&2
                cluster_down || true
                exit 1
            fi
        fi
        cluster_status
        ;;
    down) cluster_down ;;
    status) cluster_status ;;
    servers) start_servers ;;
    exec)
        [[ $# -ge 2 ]] || { echo "$PROG: usage: $PROG exec NAME cmd..." >&2; exit 2; }
        cluster_exec "$@" ;;
    -h|--help|help) usage ;;
    *) echo "$PROG: unknown command: $cmd" >&2; usage >&2; exit 2 ;;
esac
