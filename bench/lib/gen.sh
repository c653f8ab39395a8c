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

BENCH_VIP=10.96.0.10
BENCH_VPORT=80
BENCH_BACKENDS=(10.244.1.11 10.244.1.12 10.244.2.11)
BENCH_BPORT=8080
BENCH_CHANGED_ENDPOINT=10.244.2.12
BENCH_SERVICE_CIDR=10.96.0.0/12
BENCH_POD_CIDR=10.244.0.0/16

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
    local variant third
    for variant in base changed; do
        third=${BENCH_BACKENDS[2]}
        [[ $variant == changed ]] && third=$BENCH_CHANGED_ENDPOINT
        printf 'services:\n  - {name: bench/measured, vip: %s, port: %d, protocol: tcp, strategy: random, endpoints: [{address: %s, port: %d}, {address: %s, port: %d}, {address: %s, port: %d}]}\n' \
            "$BENCH_VIP" "$BENCH_VPORT" "${BENCH_BACKENDS[0]}" "$BENCH_BPORT" "${BENCH_BACKENDS[1]}" "$BENCH_BPORT" "$third" "$BENCH_BPORT" \
            >"$dir/measured-$variant.yaml"
    done
    cp "$dir/measured-base.yaml" "$dir/services.d/measured.yaml"
}

# gen_nfqlb_main MODE METRICS_PORT: the main config: settings, and services from services.d
# (next to it); queues 0:1, all other settings at their defaults.
gen_nfqlb_main() {
    printf '# generated by bench/run (bench/lib/gen.sh): tcpMode %s, services in services.d\n' "$1"
    printf 'queues: "0:1"\nserviceCIDRs: [%s]\ntcpMode: %s\nmetrics: {port: %s}\ninclude: [services.d]\n%s' "$BENCH_SERVICE_CIDR" "$1" "$2" "${BENCH_EXTRA_CONFIG:-}"
}
