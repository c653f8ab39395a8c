# shellcheck shell=bash
# bench/lib/gen.sh - generators for the benchmark's N-service rule sets and configs.
#
# Service layout (the same for kube-proxy rules and nfq-lb configs):
#   services 0 .. N-2  dummies: VIP 10.97.(i/250).(i%250+1):80/tcp (inside 10.96.0.0/12), three
#                      endpoints each, endpoint e = 3i+j at 10.244.2.(20 + e%200):(20000 + e/200)
#                      (node2's pod range; never contacted: nothing sends to a dummy VIP)
#   service  N-1       the measured one: VIP 10.96.0.10:80/tcp -> 10.244.1.11:8080 (n1p1),
#                      10.244.1.12:8080 (n1p2), 10.244.2.11:8080 (n2p1). It is the LAST service
#                      in kube-proxy's KUBE-SERVICES chain (every earlier rule is evaluated first).
# The config change that update_ms measures replaces the third measured endpoint
# 10.244.2.11:8080 by 10.244.2.12:8080 (variant "changed"); variant "base" is the original.
# The scenarios *-v6 and *-nodeport reach the same three pods another way: the IPv6 service
# bench/measured-v6, VIP fd00:10:96::10:80 -> the pods' IPv6 addresses :8080 (an extra file,
# ext.d/measured-v6.yaml, next to the N IPv4 services), and node port 30080 of the measured
# service on node1's address 192.168.50.1 (the client pod reaches it through node1's PREROUTING,
# as a pod calling a node address does).

BENCH_VIP=10.96.0.10
BENCH_VPORT=80
BENCH_BACKENDS=(10.244.1.11 10.244.1.12 10.244.2.11)
BENCH_BPORT=8080
BENCH_CHANGED_ENDPOINT=10.244.2.12
BENCH_SERVICE_CIDR=10.96.0.0/12
BENCH_POD_CIDR=10.244.0.0/16
BENCH_VIP6=fd00:10:96::10
BENCH_BACKENDS6=(fd00:10:244:1::11 fd00:10:244:1::12 fd00:10:244:2::11)
BENCH_SERVICE_CIDR6=fd00:10:96::/108
BENCH_CLIENT_IP6=fd00:10:244:1::13
BENCH_NODE_IP=192.168.50.1
BENCH_NODEPORT=30080
# strategies of the measured service that scenarios other than random ask for (--slow-backend)
BENCH_STRATEGIES=(least-connections power-of-two)

# gen_kubeproxy MODE N [VARIANT]: iptables-restore input for the nat table, as kube-proxy's
# iptables mode writes it (KUBE-SERVICES -> KUBE-SVC-* (statistic random) -> KUBE-SEP-*
# (masquerade mark for hairpin, DNAT), KUBE-MARK-MASQ / KUBE-POSTROUTING with mark 0x4000,
# -m comment everywhere; KUBE-NODEPORTS last in KUBE-SERVICES).
#   MODE full     every chain and rule (a full sync; loaded with --noflush)
#   MODE partial  what kube-proxy's partial sync writes when one endpoint of the measured
#                 service changed: the top-level chains KUBE-SERVICES (all N service rules:
#                 kube-proxy rewrites them on every sync), KUBE-NODEPORTS, KUBE-POSTROUTING,
#                 KUBE-MARK-MASQ, plus the changed service's KUBE-SVC chain, the new endpoint's
#                 KUBE-SEP chain, and the removal (flush + -X) of the stale endpoint's chain.
#   VARIANT base|changed: which third endpoint the measured service has (partial: the target
#                 state; the stale chain is the other variant's).
# The jump rules from PREROUTING/OUTPUT/POSTROUTING are not part of it (kube_jumps adds them).
gen_kubeproxy() {
    local mode=$1 n=$2 variant=${3:-base}
    awk -v MODE="$mode" -v N="$n" -v VARIANT="$variant" -v VIP="$BENCH_VIP" -v VPORT="$BENCH_VPORT" \
        -v B1="${BENCH_BACKENDS[0]}" -v B2="${BENCH_BACKENDS[1]}" -v B3="${BENCH_BACKENDS[2]}" \
        -v B3NEW="$BENCH_CHANGED_ENDPOINT" -v BPORT="$BENCH_BPORT" -v PODCIDR="$BENCH_POD_CIDR" '
    function h16(x, salt,   a, b, s, k) {   # 16 base32 chars, unique per (x, salt): a is bijective in x
        a = (x * 2654435761 + salt * 97) % 4294967296
        b = ((x + 1) * 40503 + salt * 7919) % 4294967296
        s = ""
        for (k = 0; k < 8; k++) { s = s substr(B32, a % 32 + 1, 1); a = int(a / 32) }
        for (k = 0; k < 8; k++) { s = s substr(B32, b % 32 + 1, 1); b = int(b / 32) }
        return s
    }
    function svcname(i) { return (i == N - 1) ? "bench/measured:http" : sprintf("bench/svc-%05d:http", i) }
    function vip(i) { return (i == N - 1) ? VIP : sprintf("10.97.%d.%d", int(i / 250), i % 250 + 1) }
    function svcchain(i) { return "KUBE-SVC-" h16(i, 1) }
    # endpoint e of service i (j = 0..2); the measured service uses fixed ids 3N+j, its changed third endpoint 3N+3
    function ep_addr(i, j, v) {
        if (i == N - 1) return (j == 0) ? B1 : (j == 1) ? B2 : (v == "changed") ? B3NEW : B3
        return sprintf("10.244.2.%d", 20 + (3 * i + j) % 200)
    }
    function ep_port(i, j) { return (i == N - 1) ? BPORT : 20000 + int((3 * i + j) / 200) }
    function sepchain(i, j, v) {
        if (i == N - 1) return "KUBE-SEP-" h16(3 * N + ((j == 2 && v == "changed") ? 3 : j), 2)
        return "KUBE-SEP-" h16(3 * i + j, 2)
    }
    function svc_rules(i, v,   j, c, p) {
        c = svcchain(i)
        printf "-A %s ! -s %s -d %s/32 -p tcp -m comment --comment \"%s cluster IP\" -m tcp --dport %d -j KUBE-MARK-MASQ\n", c, PODCIDR, vip(i), svcname(i), VPORT
        for (j = 0; j < 3; j++) {
            p = (j == 0) ? " -m statistic --mode random --probability 0.3333333333" : (j == 1) ? " -m statistic --mode random --probability 0.5000000000" : ""
            printf "-A %s -m comment --comment \"%s -> %s:%d\"%s -j %s\n", c, svcname(i), ep_addr(i, j, v), ep_port(i, j), p, sepchain(i, j, v)
        }
    }
    function sep_rules(i, j, v,   c) {
        c = sepchain(i, j, v)
        printf "-A %s -s %s/32 -m comment --comment \"%s\" -j KUBE-MARK-MASQ\n", c, ep_addr(i, j, v), svcname(i)
        printf "-A %s -p tcp -m comment --comment \"%s\" -m tcp -j DNAT --to-destination %s:%d\n", c, svcname(i), ep_addr(i, j, v), ep_port(i, j)
    }
    BEGIN {
        B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        other = (VARIANT == "changed") ? "base" : "changed"
        print "*nat"
        print ":KUBE-SERVICES - [0:0]"
        print ":KUBE-NODEPORTS - [0:0]"
        print ":KUBE-POSTROUTING - [0:0]"
        print ":KUBE-MARK-MASQ - [0:0]"
        if (MODE == "full") {
            for (i = 0; i < N; i++) {
                print ":" svcchain(i) " - [0:0]"
                for (j = 0; j < 3; j++) print ":" sepchain(i, j, VARIANT) " - [0:0]"
            }
        } else {
            print ":" svcchain(N - 1) " - [0:0]"
            print ":" sepchain(N - 1, 2, VARIANT) " - [0:0]"
            print ":" sepchain(N - 1, 2, other) " - [0:0]"   # declaring flushes it; -X below deletes it
        }
        print "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN"
        print "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000"
        print "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully"
        print "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000"
        for (i = 0; i < N; i++)
            printf "-A KUBE-SERVICES -d %s/32 -p tcp -m comment --comment \"%s cluster IP\" -m tcp --dport %d -j %s\n", vip(i), svcname(i), VPORT, svcchain(i)
        print "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"
        if (MODE == "full") {
            for (i = 0; i < N; i++) {
                svc_rules(i, VARIANT)
                for (j = 0; j < 3; j++) sep_rules(i, j, VARIANT)
            }
        } else {
            svc_rules(N - 1, VARIANT)
            sep_rules(N - 1, 2, VARIANT)
            print "-X " sepchain(N - 1, 2, other)
        }
        print "COMMIT"
    }'
}

# gen_nfqlb_services N DIR: the same N services as the kube-proxy rules (strategy random, like
# kube-proxy), as an operator at that scale keeps them: a services.d directory of files of 100
# services each (DIR/services.d/part-NNN.yaml), the measured service in a file of its own
# (DIR/services.d/measured.yaml, also kept as DIR/measured-base.yaml), and the changed version
# of that file (DIR/measured-changed.yaml: its third endpoint replaced). A reload after the
# change parses that one file only (nfq-lb caches the others by file identity).
gen_nfqlb_services() {
    local n=$1 dir=$2
    mkdir -p "$dir/services.d"
    rm -f "$dir"/services.d/*.yaml
    awk -v N="$n" -v VPORT="$BENCH_VPORT" -v DIR="$dir/services.d" '
    BEGIN {
        for (i = 0; i < N - 1; i++) {
            file = sprintf("%s/part-%03d.yaml", DIR, int(i / 100))
            if (i % 100 == 0) { if (i) close(previous); print "services:" > file; previous = file }
            printf "  - {name: bench/svc-%05d, vip: 10.97.%d.%d, port: %d, protocol: tcp, strategy: random, endpoints: [", i, int(i / 250), i % 250 + 1, VPORT > file
            for (j = 0; j < 3; j++) {
                e = 3 * i + j
                printf "%s{address: 10.244.2.%d, port: %d}", (j ? ", " : ""), 20 + e % 200, 20000 + int(e / 200) > file
            }
            print "]}" > file
        }
    }'
    local variant third flavor strategy extra
    # flavors of the measured service's file: "" (random, as kube-proxy), -ext (random, node
    # port 30080), -STRATEGY (another strategy); each as measured-VARIANTFLAVOR.yaml
    for flavor in "" -ext "${BENCH_STRATEGIES[@]/#/-}"; do
        strategy=random extra=""
        [[ $flavor == -ext ]] && extra=", nodePort: $BENCH_NODEPORT"
        [[ -n $flavor && $flavor != -ext ]] && strategy=${flavor#-}
        for variant in base changed; do
            third=${BENCH_BACKENDS[2]}
            [[ $variant == changed ]] && third=$BENCH_CHANGED_ENDPOINT
            printf 'services:\n  - {name: bench/measured, vip: %s, port: %d, protocol: tcp, strategy: %s%s, endpoints: [{address: %s, port: %d}, {address: %s, port: %d}, {address: %s, port: %d}]}\n' \
                "$BENCH_VIP" "$BENCH_VPORT" "$strategy" "$extra" "${BENCH_BACKENDS[0]}" "$BENCH_BPORT" "${BENCH_BACKENDS[1]}" "$BENCH_BPORT" "$third" "$BENCH_BPORT" \
                >"$dir/measured-$variant$flavor.yaml"
        done
    done
    cp "$dir/measured-base.yaml" "$dir/services.d/measured.yaml"
    mkdir -p "$dir/ext.d"
    printf 'services:\n  - {name: bench/measured-v6, vip: "%s", port: %d, protocol: tcp, strategy: random, endpoints: [{address: "%s", port: %d}, {address: "%s", port: %d}, {address: "%s", port: %d}]}\n' \
        "$BENCH_VIP6" "$BENCH_VPORT" "${BENCH_BACKENDS6[0]}" "$BENCH_BPORT" "${BENCH_BACKENDS6[1]}" "$BENCH_BPORT" "${BENCH_BACKENDS6[2]}" "$BENCH_BPORT" \
        >"$dir/ext.d/measured-v6.yaml"
}

# gen_nfqlb_main MODE METRICS_PORT [ext]: the main config: settings, and services from services.d
# (next to it); queues 0:1, all other settings at their defaults. With "ext" (the scenarios
# *-v6 and *-nodeport): dual stack, the IPv6 range too and the services of ext.d.
gen_nfqlb_main() {
    local cidrs=$BENCH_SERVICE_CIDR inc=services.d
    [[ ${3:-} == ext ]] && cidrs+=", \"$BENCH_SERVICE_CIDR6\"" inc+=", ext.d"
    printf '# generated by bench/run (bench/lib/gen.sh): tcpMode %s, services in %s\n' "$1" "$inc"
    printf 'queues: "0:1"\nserviceCIDRs: [%s]\ntcpMode: %s\nmetrics: {port: %s}\ninclude: [%s]\n%s' "$cidrs" "$1" "$2" "$inc" "${BENCH_EXTRA_CONFIG:-}"
}

# gen_kubeproxy_nft MODE N [VARIANT]: `nft -f` input for table `ip kube-proxy`, as kube-proxy's
# nftables mode writes it (kubernetes pkg/proxy/nftables/proxier.go; the expected output of its
# TestOverallNFTablesRules): the base sets, verdict maps and chains; per service a chain
# service-HASH-ns/name/tcp/port (masquerade mark for off-cluster clients, then `numgen random
# mod K vmap` over its endpoint chains), per endpoint a chain endpoint-HASH-...__IP/PORT (the
# masquerade mark for hairpin, `dnat to`), the service's entries in `cluster-ips` and in the
# `service-ips` verdict map keyed by `ip daddr . meta l4proto . th dport`. A new connection to
# any service costs one map lookup, whatever N. Same services and endpoints as gen_kubeproxy.
#   MODE full     the whole table (a full sync), without the rules of the hooked base chains
#                 (gen_kubeproxy_nft_entry adds those; bench/run turns them on per run)
#   MODE partial  what a partial sync writes when one endpoint of the measured service
#                 changed: only that service's chain (flushed and refilled), the new
#                 endpoint's chain, and the stale endpoint's chain flushed (kube-proxy deletes
#                 stale chains in a later sync); unchanged services are not written.
#   VARIANT base|changed: as for gen_kubeproxy.
gen_kubeproxy_nft() {
    local mode=$1 n=$2 variant=${3:-base}
    awk -v MODE="$mode" -v N="$n" -v VARIANT="$variant" -v VIP="$BENCH_VIP" -v VPORT="$BENCH_VPORT" \
        -v B1="${BENCH_BACKENDS[0]}" -v B2="${BENCH_BACKENDS[1]}" -v B3="${BENCH_BACKENDS[2]}" \
        -v B3NEW="$BENCH_CHANGED_ENDPOINT" -v BPORT="$BENCH_BPORT" -v PODCIDR="$BENCH_POD_CIDR" \
        -v SVCCIDR="$BENCH_SERVICE_CIDR" -v NODEIP="$BENCH_NODE_IP" -v NODEPORT="$BENCH_NODEPORT" '
    function h8(x, salt,   a, s, k) {   # 8 base32 chars, unique per (x, salt) for x < 2^32
        a = (x * 2654435761 + salt * 97) % 4294967296
        s = ""
        for (k = 0; k < 7; k++) { s = s substr(B32, a % 32 + 1, 1); a = int(a / 32) }
        return s substr(B32, salt % 32 + 1, 1)
    }
    function svcid(i) { return (i == N - 1) ? "bench/measured/tcp/http" : sprintf("bench/svc-%05d/tcp/http", i) }
    function vip(i) { return (i == N - 1) ? VIP : sprintf("10.97.%d.%d", int(i / 250), i % 250 + 1) }
    function svcchain(i) { return "service-" h8(i, 1) "-" svcid(i) }
    function ep_addr(i, j, v) {
        if (i == N - 1) return (j == 0) ? B1 : (j == 1) ? B2 : (v == "changed") ? B3NEW : B3
        return sprintf("10.244.2.%d", 20 + (3 * i + j) % 200)
    }
    function ep_port(i, j) { return (i == N - 1) ? BPORT : 20000 + int((3 * i + j) / 200) }
    function epchain(i, j, v,   e) {
        e = (i == N - 1) ? 3 * N + ((j == 2 && v == "changed") ? 3 : j) : 3 * i + j
        return "endpoint-" h8(e, 2) "-" svcid(i) "__" ep_addr(i, j, v) "/" ep_port(i, j)
    }
    function service(i, v,   c, j) {
        c = svcchain(i)
        print "add chain ip kube-proxy " c
        if (MODE == "partial") print "flush chain ip kube-proxy " c
        printf "add rule ip kube-proxy %s ip daddr %s ip saddr != %s jump mark-for-masquerade\n", c, vip(i), PODCIDR
        printf "add rule ip kube-proxy %s numgen random mod 3 vmap { 0 : goto %s , 1 : goto %s , 2 : goto %s }\n", c, epchain(i, 0, v), epchain(i, 1, v), epchain(i, 2, v)
    }
    function endpoint(i, j, v,   c) {
        c = epchain(i, j, v)
        print "add chain ip kube-proxy " c
        if (MODE == "partial") print "flush chain ip kube-proxy " c
        printf "add rule ip kube-proxy %s ip saddr %s jump mark-for-masquerade\n", c, ep_addr(i, j, v)
        printf "add rule ip kube-proxy %s meta l4proto tcp dnat to %s:%d\n", c, ep_addr(i, j, v), ep_port(i, j)
    }
    BEGIN {
        B32 = "abcdefghijklmnopqrstuvwxyz234567"
        other = (VARIANT == "changed") ? "base" : "changed"
        if (MODE == "partial") {
            # chains first (the service chain refers to them), then the service, then the stale chain
            endpoint(N - 1, 2, VARIANT)
            service(N - 1, VARIANT)
            print "flush chain ip kube-proxy " epchain(N - 1, 2, other)
            exit
        }
        print "add table ip kube-proxy { comment \"rules for kube-proxy\" ; }"
        print "add set ip kube-proxy cluster-ips { type ipv4_addr ; comment \"Active ClusterIPs\" ; }"
        print "add set ip kube-proxy nodeport-ips { type ipv4_addr ; comment \"IPs that accept NodePort traffic\" ; }"
        print "add map ip kube-proxy firewall-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment \"destinations that are subject to LoadBalancerSourceRanges\" ; }"
        print "add map ip kube-proxy no-endpoint-nodeports { type inet_proto . inet_service : verdict ; comment \"vmap to drop or reject packets to service nodeports with no endpoints\" ; }"
        print "add map ip kube-proxy no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict ; comment \"vmap to drop or reject packets to services with no endpoints\" ; }"
        print "add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment \"ClusterIP, ExternalIP and LoadBalancer IP traffic\" ; }"
        print "add map ip kube-proxy service-nodeports { type inet_proto . inet_service : verdict ; comment \"NodePort traffic\" ; }"
        print "add chain ip kube-proxy cluster-ips-check"
        print "add chain ip kube-proxy filter-prerouting-pre-dnat { type filter hook prerouting priority -110 ; }"
        print "add chain ip kube-proxy filter-output-pre-dnat { type filter hook output priority -110 ; }"
        print "add chain ip kube-proxy filter-forward { type filter hook forward priority 0 ; }"
        print "add chain ip kube-proxy filter-input { type filter hook input priority 0 ; }"
        print "add chain ip kube-proxy filter-output { type filter hook output priority 0 ; }"
        print "add chain ip kube-proxy firewall-check"
        print "add chain ip kube-proxy mark-for-masquerade"
        print "add chain ip kube-proxy masquerading"
        print "add chain ip kube-proxy nat-output { type nat hook output priority -100 ; }"
        print "add chain ip kube-proxy nat-postrouting { type nat hook postrouting priority 100 ; }"
        print "add chain ip kube-proxy nat-prerouting { type nat hook prerouting priority -100 ; }"
        print "add chain ip kube-proxy nodeport-endpoints-check"
        print "add chain ip kube-proxy reject-chain { comment \"helper for @no-endpoint-services / @no-endpoint-nodeports\" ; }"
        print "add chain ip kube-proxy services"
        print "add chain ip kube-proxy service-endpoints-check"
        print "add rule ip kube-proxy cluster-ips-check ip daddr @cluster-ips reject comment \"Reject traffic to invalid ports of ClusterIPs\""
        print "add rule ip kube-proxy cluster-ips-check ip daddr { " SVCCIDR " } drop comment \"Drop traffic to unallocated ClusterIPs\""
        print "add rule ip kube-proxy firewall-check ip daddr . meta l4proto . th dport vmap @firewall-ips"
        print "add rule ip kube-proxy mark-for-masquerade mark set mark or 0x4000"
        print "add rule ip kube-proxy masquerading mark and 0x4000 == 0 return"
        print "add rule ip kube-proxy masquerading mark set mark xor 0x4000"
        print "add rule ip kube-proxy masquerading masquerade fully-random"
        print "add rule ip kube-proxy nodeport-endpoints-check ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports"
        print "add rule ip kube-proxy reject-chain reject"
        print "add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips"
        print "add rule ip kube-proxy services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports"
        print "add rule ip kube-proxy service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services"
        for (i = 0; i < N; i++) {
            for (j = 0; j < 3; j++) endpoint(i, j, VARIANT)   # before the vmap that refers to them
            service(i, VARIANT)
            printf "add element ip kube-proxy cluster-ips { %s }\n", vip(i)
            printf "add element ip kube-proxy service-ips { %s . tcp . %d : goto %s }\n", vip(i), VPORT, svcchain(i)
        }
        # the measured service is also a NodePort service (externalTrafficPolicy Cluster): its
        # external chain masquerades and goes to the service chain; the address of node1 in nodeport-ips
        c = "external-" h8(N - 1, 3) "-" svcid(N - 1)
        print "add chain ip kube-proxy " c
        print "add rule ip kube-proxy " c " jump mark-for-masquerade"
        print "add rule ip kube-proxy " c " goto " svcchain(N - 1)
        print "add element ip kube-proxy nodeport-ips { " NODEIP " }"
        printf "add element ip kube-proxy service-nodeports { tcp . %d : goto %s }\n", NODEPORT, c
    }'
}

# gen_kubeproxy_nft6: table ip6 kube-proxy with the IPv6 measured service only (kube-proxy writes
# one table per family; its mode is flat in N, so one service stands for any N), its hooked base
# chains' rules included: gen_kubeproxy_nft's one-service table and entry rules, carried over to
# IPv6 (family, address types, the IPv6 VIP, pod and service ranges and endpoints); no node port.
gen_kubeproxy_nft6() {
    local sedargs=(-e 's/ ip kube-proxy/ ip6 kube-proxy/g' -e 's/ipv4_addr/ipv6_addr/g' -e 's/ ip daddr/ ip6 daddr/g'
        -e 's/ ip saddr/ ip6 saddr/g' -e "s|$BENCH_POD_CIDR|fd00:10:244::/48|g" -e "s|$BENCH_SERVICE_CIDR|$BENCH_SERVICE_CIDR6|g"
        -e "s/\b${BENCH_VIP//./\\.}\b/$BENCH_VIP6/g") j
    for j in 0 1 2; do
        sedargs+=(-e "s/dnat to ${BENCH_BACKENDS[$j]//./\\.}:/dnat to [${BENCH_BACKENDS6[$j]}]:/g"
            -e "s/\b${BENCH_BACKENDS[$j]//./\\.}\b/${BENCH_BACKENDS6[$j]}/g")
    done
    { gen_kubeproxy_nft full 1 base; gen_kubeproxy_nft_entry on; } | grep -v -e 'external-' -e 'element ip kube-proxy nodeport-ips' | sed "${sedargs[@]}"
}

# gen_kubeproxy_nft_entry on|off: the rules of kube-proxy's hooked base chains (part of its base
# rule set; `off` empties those chains, so the table stays loaded but sees no packet)
gen_kubeproxy_nft_entry() {
    local c
    for c in filter-prerouting-pre-dnat filter-output-pre-dnat filter-forward filter-input filter-output nat-output nat-postrouting nat-prerouting; do
        printf 'flush chain ip kube-proxy %s\n' "$c"
    done
    [[ $1 == on ]] || return 0
    cat <<'EOF2'
add rule ip kube-proxy filter-prerouting-pre-dnat ct state new jump firewall-check
add rule ip kube-proxy filter-forward ct state new jump service-endpoints-check
add rule ip kube-proxy filter-forward ct state new jump cluster-ips-check
add rule ip kube-proxy filter-input ct state new jump nodeport-endpoints-check
add rule ip kube-proxy filter-input ct state new jump service-endpoints-check
add rule ip kube-proxy filter-output ct state new jump service-endpoints-check
add rule ip kube-proxy filter-output-pre-dnat ct state new jump firewall-check
add rule ip kube-proxy filter-output ct state new jump cluster-ips-check
add rule ip kube-proxy nat-output jump services
add rule ip kube-proxy nat-postrouting jump masquerading
add rule ip kube-proxy nat-prerouting jump services
EOF2
}
