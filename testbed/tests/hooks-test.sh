#!/usr/bin/env bash
# hooks-test.sh - self-contained test of deploy/iptables-hooks.sh.
#
# For each iptables backend (iptables = nf_tables, iptables-legacy) it creates a fresh
# scratch network namespace and checks, in modes conntrack, rewrite and mark:
#   - status before install exits 3, remove with nothing installed succeeds quietly
#   - install twice = install once (same iptables-save and nft list ruleset)
#   - the expected rules are there; status exits 0
#   - the rules work: a SYN/datagram to a service address hits the queue rule, a
#     REJECT-marked one is refused, rewrite's NOTRACK mark bypasses the queue, and in mode
#     mark an endpoint-id mark is DNATed through the nft map while an unmarked first
#     packet hits the trailing drop (marks are set with SO_MARK, standing in for the daemon)
#   - remove leaves nothing of ours (iptables-save, nft list ruleset), status exits 3
#   - the same for an IPv6 service range installed beside the IPv4 ones: ip6tables rules
#     (icmp6 rejects), mode mark's `ip6 nfqlb` table DNATing through its map, and an
#     install with one family only leaves nothing of ours in the other
# plus: mode/option switches equal a fresh install, map elements survive re-install,
# stray/duplicate jumps are cleaned up, remove without --iptables finds legacy rules,
# and bad options are refused with exit 2.
# Everything happens inside the namespace; it is deleted on exit, also on failure.
#
# usage: testbed/tests/hooks-test.sh [-v]      (root; env HOOKS_TEST_NETNS, default hooks-scratch;
#        HOOKS_TEST_MODES, default "conntrack rewrite mark")
# exit: 0 all passed, 1 some check failed (each failure is printed), 2 cannot run

# functions below are called indirectly through check/bash -c:
# shellcheck disable=SC2317
set -euo pipefail

PROG=${0##*/}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HOOKS=$HERE/../../deploy/iptables-hooks.sh
NS=${HOOKS_TEST_NETNS:-hooks-scratch}
VERBOSE=0

usage() {
    sed -n '2,24s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

case ${1:-} in
    -h|--help) usage; exit 0 ;;
    -v|--verbose) VERBOSE=1 ;;
    "") ;;
    *) usage >&2; exit 2 ;;
esac

[[ $(id -u) -eq 0 ]] || { echo "$PROG: must run as root (network namespaces)" >&2; exit 2; }
for tool in ip iptables iptables-legacy ip6tables ip6tables-legacy nft python3 timeout; do
    command -v "$tool" >/dev/null || { echo "$PROG: missing tool: $tool" >&2; exit 2; }
done
[[ -x $HOOKS ]] || { echo "$PROG: not executable: $HOOKS" >&2; exit 2; }

TMP=$(mktemp -d "/tmp/$PROG.XXXXXX")
PASS=0
FAIL=0
declare -a FAILED=()

cleanup() {
    local pid
    if [[ -e /run/netns/$NS ]]; then
        for pid in $(ip netns pids "$NS" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
        ip netns del "$NS" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
trap 'echo "$PROG: setup command failed (line $LINENO): $BASH_COMMAND" >&2' ERR

nsx() { ip netns exec "$NS" "$@"; }
ok() { PASS=$((PASS + 1)); ((VERBOSE)) && printf '  ok   %s\n' "$*"; return 0; }
bad() { FAIL=$((FAIL + 1)); FAILED+=("$CTX: $*"); printf '  FAIL %s: %s\n' "$CTX" "$*"; }
check() { # check DESCRIPTION cmd...
    local d=$1; shift
    if "$@" >/dev/null; then ok "$d"; else bad "$d"; fi
}
hooks() { "$HOOKS" --netns "$NS" "$@"; }
ip6t() { printf 'ip6%s\n' "${1#ip}"; }   # ip6t IPT: the ip6tables command of IPT's backend

# snapshot IPT: iptables-save of backend IPT and nft ruleset, without comments/counters
snapshot() {
    local ipt=$1
    nsx "$ipt-save" 2>/dev/null | grep -v '^#' || true
    echo "---- ip6 (built-in chain counters zeroed: IPv6 link traffic, such as MLD reports, moves them)"
    nsx "$(ip6t "$ipt")-save" 2>/dev/null | grep -v '^#' | sed 's/ \[[0-9]*:[0-9]*\]$/ [0:0]/' || true
    echo "---- nft"
    nsx nft list ruleset 2>/dev/null | sed 's/counter packets [0-9]* bytes [0-9]*/counter/' || true
}

# ours IPT: only our lines (iptables-save lines naming NFQLB-*, our nft table)
ours() {
    nsx "$1-save" 2>/dev/null | grep 'NFQLB-' || true
    nsx "$(ip6t "$1")-save" 2>/dev/null | grep 'NFQLB-' || true
    echo "---- nft"
    nsx nft list table ip nfqlb 2>/dev/null | sed 's/counter packets [0-9]* bytes [0-9]*/counter/' || true
    nsx nft list table ip6 nfqlb 2>/dev/null | sed 's/counter packets [0-9]* bytes [0-9]*/counter/' || true
}

nothing_of_ours() { # nothing_of_ours: no NFQLB in any backend, no nft table
    local s
    s=$(nsx iptables-save 2>/dev/null; nsx iptables-legacy-save 2>/dev/null
        nsx ip6tables-save 2>/dev/null; nsx ip6tables-legacy-save 2>/dev/null; nsx nft list ruleset 2>/dev/null)
    if grep -qiE 'NFQLB|table ip nfqlb' <<<"$s"; then
        grep -iE 'NFQLB|nfqlb' <<<"$s" | sed 's/^/       left: /' >&2
        return 1
    fi
}

fresh_ns() {
    cleanup_ns_only
    ip netns add "$NS"
    nsx ip link set lo up
    # an "uplink" (veth pair, both ends here; this kernel has no dummy driver):
    # un-NATed service packets leave through d0 toward 192.168.77.2, which never answers
    nsx ip link add d0 type veth peer name d1
    nsx ip addr add 192.168.77.1/24 dev d0
    nsx ip link set d0 up
    nsx ip link set d1 up
    # a permanent neighbour: no ARP failure (EHOSTUNREACH) after a few lost packets
    nsx ip neigh add 192.168.77.2 lladdr 02:00:00:00:77:02 dev d0 nud permanent
    nsx ip route add 10.96.0.0/12 via 192.168.77.2 dev d0
    nsx ip route add 10.200.0.0/16 via 192.168.77.2 dev d0
    # the same for IPv6 (nodad: usable at once)
    nsx ip addr add fd00:77::1/64 dev d0 nodad
    nsx ip neigh add fd00:77::2 lladdr 02:00:00:00:77:02 dev d0 nud permanent
    nsx ip route add fd00:10:96::/108 via fd00:77::2 dev d0
}
cleanup_ns_only() {
    local pid
    if [[ -e /run/netns/$NS ]]; then
        for pid in $(ip netns pids "$NS" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
        ip netns del "$NS"
    fi
}

# --- tiny traffic helper (runs inside the netns); every operation bounded by a timeout
cat >"$TMP/net.py" <<'EOF'
import socket, struct, sys, time, select
SO_MARK = 36
def fam(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET
def mk(kind, mark):
    s = socket.socket(fam(sys.argv[2]), kind)
    if mark:
        s.setsockopt(socket.SOL_SOCKET, SO_MARK, struct.pack("I", mark))
    return s
cmd = sys.argv[1]
if cmd == "serve":            # serve ADDR PORT SECONDS: TCP accept + UDP echo
    addr, port, secs = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    t = socket.socket(fam(addr)); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((addr, port)); t.listen(16)
    u = socket.socket(fam(addr), socket.SOCK_DGRAM); u.bind((addr, port))
    print("ready", flush=True)
    end = time.time() + secs
    while time.time() < end:
        r, _, _ = select.select([t, u], [], [], 0.2)
        if t in r:
            c, _ = t.accept(); c.sendall(b"hello\n"); c.close()
        if u in r:
            d, a = u.recvfrom(2048); u.sendto(b"echo " + d, a)
    sys.exit(0)
dst, port, mark, tmo = sys.argv[2], int(sys.argv[3]), int(sys.argv[4], 0), float(sys.argv[5])
try:
    if cmd == "tcp":
        s = mk(socket.SOCK_STREAM, mark); s.settimeout(tmo); s.connect((dst, port))
        print("ok")
    elif cmd == "udp":
        s = mk(socket.SOCK_DGRAM, mark); s.settimeout(tmo); s.connect((dst, port))
        s.send(b"ping"); d = s.recv(2048)
        print("reply" if d.startswith(b"echo") else "other")
except ConnectionRefusedError:
    print("refused")
except (socket.timeout, TimeoutError):
    print("timeout")
except OSError as e:
    print("error:%s" % e.errno)
EOF
net() { timeout 10 ip netns exec "$NS" python3 "$TMP/net.py" "$@" 2>&1 || true; }
expect_net() { # expect_net WANT DESC args...
    local want=$1 desc=$2 got; shift 2
    got=$(net "$@")
    if [[ $got == "$want" ]]; then ok "$desc"; else bad "$desc: want $want, got '$got'"; fi
}

# packets counted by the NFQUEUE rules of one of our chains
queue_pkts() { # queue_pkts IPT TABLE CHAIN
    nsx "$1" -w 5 -t "$2" -L "$3" -n -v -x 2>/dev/null | awk '/NFQUEUE/ {n += $1} END {print n + 0}'
}
rule_pkts() { # rule_pkts IPT TABLE CHAIN TARGET
    nsx "$1" -w 5 -t "$2" -L "$3" -n -v -x 2>/dev/null | awk -v t="$4" '$3 == t {n += $1} END {print n + 0}'
}
nft_drop_pkts() { # nft_drop_pkts CHAIN [FAMILY=ip]
    nsx nft list chain "${2:-ip}" nfqlb "$1" 2>/dev/null | sed -n 's/.*counter packets \([0-9]*\) .* drop.*/\1/p' | head -n1
}

has_line() { grep -qxF -- "$2" <<<"$1"; }

# ---------------------------------------------------------------- per-mode checks
test_mode() { # test_mode IPT MODE
    local ipt=$1 mode=$2 s1 s2 rc out before after
    CTX="$ipt/$mode"
    local -a opts=(--iptables "$ipt" --mode "$mode" --queues 0:1 --service-cidr 10.96.0.0/12 --service-cidr 10.200.0.0/16
        --service-cidr fd00:10:96::/108 --external-cidr 192.168.70.0/24)

    rc=0; hooks "${opts[@]}" -q install || rc=$?
    check "install exits 0" test "$rc" -eq 0
    s1=$(snapshot "$ipt")
    rc=0; hooks "${opts[@]}" -q install || rc=$?
    check "second install exits 0" test "$rc" -eq 0
    s2=$(snapshot "$ipt")
    if [[ $s1 == "$s2" ]]; then ok "install twice = install once"; else
        bad "install twice differs from install once"; diff <(echo "$s1") <(echo "$s2") | sed 's/^/       /' || true
    fi

    local save
    save=$(nsx "$ipt-save")
    local q='--queue-balance 0:1 --queue-bypass --queue-cpu-fanout'
    local syn='-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN'
    local jump
    for jump in "-A PREROUTING -j NFQLB-PREROUTING" "-A OUTPUT -j NFQLB-OUTPUT" \
        "-A POSTROUTING -j NFQLB-POSTROUTING" "-A FORWARD -j NFQLB-REJECT" "-A OUTPUT -j NFQLB-REJECT" "-A FORWARD -j NFQLB-FORWARD" \
        "-A INPUT -j NFQLB-REJECT"; do
        check "jump present: $jump" has_line "$save" "$jump"
    done
    check "raw tcp queue rule" has_line "$save" "-A NFQLB-PREROUTING -d 10.96.0.0/12 $syn -j NFQUEUE $q"
    check "raw tcp queue rule, 2nd cidr, OUTPUT" has_line "$save" "-A NFQLB-OUTPUT -d 10.200.0.0/16 $syn -j NFQUEUE $q"
    check "mangle ping queue rule" has_line "$save" "-A NFQLB-PREROUTING -d 10.96.0.0/12 -p icmp -m icmp --icmp-type 8 -j NFQUEUE $q"
    check "raw tcp queue rule, external cidr" has_line "$save" "-A NFQLB-PREROUTING -d 192.168.70.0/24 $syn -j NFQUEUE $q"
    check "raw tcp node port rule (default range)" has_line "$save" "-A NFQLB-PREROUTING -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 30000:32767 --tcp-flags FIN,SYN,RST,ACK SYN -j NFQUEUE $q"
    check "nat prerequisite" has_line "$save" "-A NFQLB-POSTROUTING -m conntrack --ctstate DNAT -j RETURN"
    check "reject tcp" has_line "$save" "-A NFQLB-REJECT -p tcp -m mark --mark 0x10000/0x7fff0000 -j REJECT --reject-with tcp-reset"
    check "reject udp" has_line "$save" "-A NFQLB-REJECT -p udp -m mark --mark 0x10000/0x7fff0000 -j REJECT --reject-with icmp-port-unreachable"
    check "conntrack INVALID dropped in FORWARD" has_line "$save" "-A NFQLB-FORWARD -m conntrack --ctstate INVALID -j DROP"
    if [[ $mode == mark ]]; then
        check "mangle udp rule (! CONFIRMED)" has_line "$save" "-A NFQLB-PREROUTING -d 10.96.0.0/12 -p udp -m conntrack ! --ctstatus CONFIRMED -j NFQUEUE $q"
        check "nft table present" nsx nft list table ip nfqlb
        check "nft node port dnat rule" bash -c "ip netns exec '$NS' nft list chain ip nfqlb pre | grep -q 'fib daddr type local'"
    else
        check "mangle udp rule (NEW)" has_line "$save" "-A NFQLB-PREROUTING -d 10.96.0.0/12 -p udp -m conntrack --ctstate NEW -j NFQUEUE $q"
        check "no nft table" bash -c "! ip netns exec '$NS' nft list table ip nfqlb >/dev/null 2>&1"
    fi
    if [[ $mode == rewrite ]]; then
        check "notrack rule" has_line "$save" "-A NFQLB-OUTPUT -m mark --mark 0x20000/0x7fff0000 -j CT --notrack"
        check "notrack return rule" has_line "$save" "-A NFQLB-OUTPUT -m mark --mark 0x20000/0x7fff0000 -j RETURN"
    else
        check "no notrack rule" bash -c "! grep -q -- '--notrack' <<<\"\$1\"" _ "$save"
    fi
    # exactly one jump per built-in chain even after two installs
    local n
    n=$(grep -c -- '-j NFQLB-' <<<"$(grep -v '^-A NFQLB-' <<<"$save")")
    check "exactly 9 jump rules (got $n)" test "$n" -eq 9

    test_mode_ipv6 "$ipt" "$mode"
    CTX="$ipt/$mode"

    rc=0; out=$(hooks --iptables "$ipt" status 2>&1) || rc=$?
    check "status exits 0 when installed (rc=$rc)" test "$rc" -eq 0
    check "status shows the queue rule" grep -q 'NFQUEUE' <<<"$out"
    check "status shows the kernel queue section" grep -q 'nfnetlink_queue' <<<"$out"
    [[ $mode == mark ]] && check "status shows nft table" grep -q 'table ip nfqlb' <<<"$out"

    # ---- behaviour (OUTPUT path; marks set with SO_MARK in place of the daemon's verdict)
    before=$(queue_pkts "$ipt" raw NFQLB-OUTPUT)
    if [[ $mode == mark ]]; then
        local d0; d0=$(nft_drop_pkts out)
        expect_net timeout "unmarked SYN, no daemon: dropped in nat (mark)" tcp 10.96.0.10 80 0 1
        local d1; d1=$(nft_drop_pkts out)
        check "nft trailing drop counted the SYN ($d0 -> $d1)" test "${d1:-0}" -gt "${d0:-0}"
    else
        expect_net timeout "unmarked SYN, no daemon: passes un-NATed and is lost" tcp 10.96.0.10 80 0 1
    fi
    after=$(queue_pkts "$ipt" raw NFQLB-OUTPUT)
    check "raw queue rule hit by the SYN ($before -> $after)" test "$after" -gt "$before"
    before=$(queue_pkts "$ipt" mangle NFQLB-OUTPUT)
    net udp 10.200.1.1 53 0 0.5 >/dev/null
    after=$(queue_pkts "$ipt" mangle NFQLB-OUTPUT)
    check "mangle queue rule hit by the datagram ($before -> $after)" test "$after" -gt "$before"
    expect_net refused "REJECT mark: tcp reset" tcp 10.96.0.10 80 0x10000 2
    # a local sender sees the REJECT of its datagram in OUTPUT as EPERM from send()
    expect_net error:1 "REJECT mark: udp datagram rejected in OUTPUT" udp 10.96.0.10 53 0x10000 2
    expect_net refused "REJECT value plus kube-proxy bit 0x4000 is still REJECT" tcp 10.96.0.10 80 0x14000 2
    expect_net refused "REJECT value plus MASQ bit is still REJECT" tcp 10.96.0.10 80 0x80010000 2
    if [[ $mode == rewrite ]]; then
        before=$(queue_pkts "$ipt" raw NFQLB-OUTPUT)
        local r0; r0=$(rule_pkts "$ipt" raw NFQLB-OUTPUT CT)
        net tcp 10.96.0.10 80 0x20000 0.5 >/dev/null
        after=$(queue_pkts "$ipt" raw NFQLB-OUTPUT)
        local r1; r1=$(rule_pkts "$ipt" raw NFQLB-OUTPUT CT)
        check "NOTRACK mark: notrack rule hit ($r0 -> $r1)" test "$r1" -gt "$r0"
        check "NOTRACK mark: not queued ($before -> $after)" test "$after" -eq "$before"
    fi
    if [[ $mode == mark ]]; then
        local srv srvpid
        nsx nft add element ip nfqlb endpoints '{ 0x80000 : 192.168.77.1 . 8080 }'
        srv=$(mktemp "$TMP/srv.XXXXXX")
        timeout 30 ip netns exec "$NS" python3 "$TMP/net.py" serve 192.168.77.1 8080 25 >"$srv" 2>&1 &
        srvpid=$!
        local _
        for _ in $(seq 1 50); do grep -q ready "$srv" && break; sleep 0.1; done
        expect_net ok "endpoint-id mark: TCP DNATed through the nft map" tcp 10.96.0.10 80 0x80000 2
        expect_net ok "endpoint id + foreign bit 0x4000: still DNATed" tcp 10.96.0.11 80 0x84000 2
        expect_net reply "endpoint-id mark: UDP DNATed through the nft map" udp 10.96.0.10 53 0x80000 2
        expect_net timeout "unknown endpoint id: dropped" tcp 10.96.0.12 80 0x90000 1
        local ct
        ct=$(nsx conntrack -L -d 10.96.0.10 -p tcp 2>/dev/null || true)
        check "conntrack entry carries our mark (ct mark set)" grep -q 'mark=524288' <<<"$ct"
        # the map survives a re-install with other CIDRs
        hooks --iptables "$ipt" --mode mark --queues 0:1 --service-cidr 10.96.0.0/12 -q install
        check "map element kept across re-install" bash -c "ip netns exec '$NS' nft list map ip nfqlb endpoints | grep -q '192.168.77.1 . 8080'"
        check "re-install dropped the old CIDR" bash -c "! ip netns exec '$NS' nft list table ip nfqlb | grep -q 10.200.0.0"
        nsx conntrack -F >/dev/null 2>&1 || true
        kill "$srvpid" 2>/dev/null || true
        wait "$srvpid" 2>/dev/null || true
    fi

    rc=0; hooks --iptables "$ipt" remove >/dev/null || rc=$?
    check "remove exits 0" test "$rc" -eq 0
    check "nothing of ours after remove" nothing_of_ours
    rc=0; hooks --iptables "$ipt" status >/dev/null || rc=$?
    check "status exits 3 after remove (rc=$rc)" test "$rc" -eq 3
    rc=0; out=$(hooks --iptables "$ipt" remove 2>&1) || rc=$?
    check "second remove exits 0 and is quiet" test "$rc" -eq 0 -a -z "$out"
}

# test_mode_ipv6 IPT MODE: the IPv6 half of test_mode's install (fd00:10:96::/108)
test_mode_ipv6() {
    local ipt=$1 mode=$2 ip6 save6 n jump
    local -a opts=(--iptables "$ipt" --mode "$mode" --queues 0:1 --service-cidr 10.96.0.0/12 --service-cidr 10.200.0.0/16
        --service-cidr fd00:10:96::/108 --external-cidr 192.168.70.0/24)
    ip6=$(ip6t "$ipt")
    CTX="$ip6/$mode"
    save6=$(nsx "$ip6-save")
    local q='--queue-balance 0:1 --queue-bypass --queue-cpu-fanout'
    local syn='-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN'
    for jump in "-A PREROUTING -j NFQLB-PREROUTING" "-A OUTPUT -j NFQLB-OUTPUT" \
        "-A POSTROUTING -j NFQLB-POSTROUTING" "-A FORWARD -j NFQLB-REJECT" "-A OUTPUT -j NFQLB-REJECT" "-A FORWARD -j NFQLB-FORWARD" "-A INPUT -j NFQLB-REJECT"; do
        check "jump present: $jump" has_line "$save6" "$jump"
    done
    n=$(grep -c -- '-j NFQLB-' <<<"$(grep -v '^-A NFQLB-' <<<"$save6")")
    check "exactly 9 jump rules (got $n)" test "$n" -eq 9
    check "raw tcp queue rule" has_line "$save6" "-A NFQLB-PREROUTING -d fd00:10:96::/108 $syn -j NFQUEUE $q"
    check "raw tcp node port rule (default range)" has_line "$save6" "-A NFQLB-PREROUTING -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 30000:32767 --tcp-flags FIN,SYN,RST,ACK SYN -j NFQUEUE $q"
    check "the IPv4 external range stays out of ip6tables" bash -c "! grep -q 192.168.70 <<<\"\$1\"" _ "$save6"
    check "no IPv4 range in ip6tables" bash -c "! grep -q 10.96.0.0 <<<\"\$1\"" _ "$save6"
    check "reject tcp" has_line "$save6" "-A NFQLB-REJECT -p tcp -m mark --mark 0x10000/0x7fff0000 -j REJECT --reject-with tcp-reset"
    check "no ICMPv6 echo queue rule (answerPing is IPv4 only)" bash -c "! grep -q -- '-p ipv6-icmp\\|-p icmp' <<<\"\$1\"" _ "$save6"
    check "reject udp with icmp6" has_line "$save6" "-A NFQLB-REJECT -p udp -m mark --mark 0x10000/0x7fff0000 -j REJECT --reject-with icmp6-port-unreachable"
    check "conntrack INVALID dropped in FORWARD" has_line "$save6" "-A NFQLB-FORWARD -m conntrack --ctstate INVALID -j DROP"
    if [[ $mode == mark ]]; then
        check "mangle udp rule (! CONFIRMED)" has_line "$save6" "-A NFQLB-OUTPUT -d fd00:10:96::/108 -p udp -m conntrack ! --ctstatus CONFIRMED -j NFQUEUE $q"
        check "nft table ip6 nfqlb present, map of ipv6_addr" bash -c "ip netns exec '$NS' nft list map ip6 nfqlb endpoints | grep -q 'type mark : ipv6_addr . inet_service'"
        check "the ip table holds no IPv6 range" bash -c "! ip netns exec '$NS' nft list table ip nfqlb | grep -q fd00"
        check "ip6 table: node ports dnat through the map" bash -c "ip netns exec '$NS' nft list chain ip6 nfqlb pre | grep -q 'fib daddr type local'"
    else
        check "mangle udp rule (NEW)" has_line "$save6" "-A NFQLB-OUTPUT -d fd00:10:96::/108 -p udp -m conntrack --ctstate NEW -j NFQUEUE $q"
        check "no nft table ip6 nfqlb" bash -c "! ip netns exec '$NS' nft list table ip6 nfqlb >/dev/null 2>&1"
    fi
    [[ $mode == rewrite ]] && check "notrack rule" has_line "$save6" "-A NFQLB-OUTPUT -m mark --mark 0x20000/0x7fff0000 -j CT --notrack"

    local before after
    before=$(queue_pkts "$ip6" raw NFQLB-OUTPUT)
    expect_net timeout "unmarked SYN, no daemon: not answered" tcp fd00:10:96::10 80 0 1
    after=$(queue_pkts "$ip6" raw NFQLB-OUTPUT)
    check "raw queue rule hit by the SYN ($before -> $after)" test "$after" -gt "$before"
    before=$(queue_pkts "$ip6" mangle NFQLB-OUTPUT)
    net udp fd00:10:96::53 53 0 0.5 >/dev/null
    after=$(queue_pkts "$ip6" mangle NFQLB-OUTPUT)
    check "mangle queue rule hit by the datagram ($before -> $after)" test "$after" -gt "$before"
    expect_net refused "REJECT mark: tcp reset" tcp fd00:10:96::10 80 0x10000 2
    expect_net error:1 "REJECT mark: udp datagram rejected in OUTPUT" udp fd00:10:96::10 53 0x10000 2
    if [[ $mode == mark ]]; then
        local srv srvpid _ d0 d1
        d0=$(nft_drop_pkts out ip6)
        net tcp fd00:10:96::12 80 0x90000 1 >/dev/null
        d1=$(nft_drop_pkts out ip6)
        check "unknown endpoint id: the ip6 table's trailing drop counted it ($d0 -> $d1)" test "${d1:-0}" -gt "${d0:-0}"
        nsx nft add element ip6 nfqlb endpoints '{ 0x80000 : fd00:77::1 . 8080 }'
        srv=$(mktemp "$TMP/srv.XXXXXX")
        timeout 30 ip netns exec "$NS" python3 "$TMP/net.py" serve fd00:77::1 8080 25 >"$srv" 2>&1 &
        srvpid=$!
        for _ in $(seq 1 50); do grep -q ready "$srv" && break; sleep 0.1; done
        expect_net ok "endpoint-id mark: TCP DNATed through the ip6 map" tcp fd00:10:96::10 80 0x80000 2
        expect_net reply "endpoint-id mark: UDP DNATed through the ip6 map" udp fd00:10:96::10 53 0x80000 2
        hooks "${opts[@]}" -q install
        check "ip6 map element kept across re-install" bash -c "ip netns exec '$NS' nft list map ip6 nfqlb endpoints | grep -q 'fd00:77::1 . 8080'"
        nsx conntrack -F -f ipv6 >/dev/null 2>&1 || true
        kill "$srvpid" 2>/dev/null || true
        wait "$srvpid" 2>/dev/null || true
    fi
}

# test_families IPT: an install of one family only leaves nothing of ours in the other
test_families() {
    local ipt=$1 ip6 rc
    ip6=$(ip6t "$ipt")
    CTX="$ipt/families"
    hooks --iptables "$ipt" -q install --mode mark --queues 0 --service-cidr 10.96.0.0/12 --service-cidr fd00:10:96::/108
    hooks --iptables "$ipt" -q install --mode mark --queues 0 --service-cidr fd00:10:96::1/108
    check "IPv6 only: no NFQLB rules in $ipt" bash -c "! ip netns exec '$NS' $ipt-save | grep -q NFQLB"
    check "IPv6 only: no table ip nfqlb" bash -c "! ip netns exec '$NS' nft list table ip nfqlb >/dev/null 2>&1"
    check "IPv6 only: table ip6 nfqlb" bash -c "ip netns exec '$NS' nft list table ip6 nfqlb >/dev/null"
    rc=0; hooks --iptables "$ipt" status >/dev/null || rc=$?
    check "IPv6 only: status exits 0 (rc=$rc)" test "$rc" -eq 0
    nsx nft delete table ip6 nfqlb
    rc=0; hooks --iptables "$ipt" status >/dev/null || rc=$?
    check "IPv6 mode mark without its nft table: status exits 3 (rc=$rc)" test "$rc" -eq 3
    hooks --iptables "$ipt" -q install --mode mark --queues 0 --service-cidr 10.96.0.0/12
    check "IPv4 only: no NFQLB rules in $ip6" bash -c "! ip netns exec '$NS' $ip6-save | grep -q NFQLB"
    check "IPv4 only: no table ip6 nfqlb" bash -c "! ip netns exec '$NS' nft list table ip6 nfqlb >/dev/null 2>&1"
    hooks --iptables "$ipt" -q install --mode conntrack --queues 0 --service-cidr 10.96.0.0/12 --service-cidr fd00:10:96::/108
    check "mode conntrack: no table ip6 nfqlb" bash -c "! ip netns exec '$NS' nft list table ip6 nfqlb >/dev/null 2>&1"
    hooks --iptables "$ipt" remove >/dev/null
    check "remove leaves nothing of either family" nothing_of_ours
}

# ---------------------------------------------------------------- switches and strays
test_switches() { # test_switches IPT
    local ipt=$1 a b rc
    CTX="$ipt/switch"
    hooks --iptables "$ipt" -q install --mode conntrack --queues 0:1 --service-cidr 10.96.0.0/12
    hooks --iptables "$ipt" -q install --mode mark --queues 3 --no-bypass --service-cidr 10.96.0.0/12 --service-cidr 10.100.0.0/16
    nsx nft add element ip nfqlb endpoints '{ 0x80000 : 10.244.1.11 . 8080 }'
    hooks --iptables "$ipt" -q install --mode mark --queues 2:5 --mark-mask 0xff00 --service-cidr 10.96.0.0/12
    check "mark->mark: map element kept" bash -c "ip netns exec '$NS' nft list map ip nfqlb endpoints | grep -q '10.244.1.11 . 8080'"
    local save; save=$(nsx "$ipt-save")
    check "mask 0xff00: REJECT=0x100/0x7f00" grep -qF -- '--mark 0x100/0x7f00 -j REJECT' <<<"$save"
    check "mask 0xff00: nft map key uses 0x7f00" bash -c "ip netns exec '$NS' nft list table ip nfqlb | grep -q 'meta mark & 0x00007f00 map @endpoints'"
    check "mask 0xff00: nft MASQ bit 0x8000" bash -c "ip netns exec '$NS' nft list table ip nfqlb | grep -q 'ct mark & 0x00008000 == 0x00008000 masquerade'"
    hooks --iptables "$ipt" -q install --mode rewrite --queues 7 --service-cidr 10.96.0.0/12
    a=$(snapshot "$ipt")
    check "switch away from mark deletes the nft table" bash -c "! ip netns exec '$NS' nft list table ip nfqlb >/dev/null 2>&1"
    check "single queue: --queue-num, no fanout" grep -qF -- '-j NFQUEUE --queue-num 7 --queue-bypass' <<<"$a"
    hooks --iptables "$ipt" remove >/dev/null
    hooks --iptables "$ipt" -q install --mode rewrite --queues 7 --service-cidr 10.96.0.0/12
    b=$(snapshot "$ipt")
    if [[ $a == "$b" ]]; then ok "switched install = fresh install"; else
        bad "switched install differs from a fresh install"; diff <(echo "$a") <(echo "$b") | sed 's/^/       /' || true
    fi
    a=$(ours "$ipt")
    # strays: a duplicate jump, a jump from elsewhere, an old chain of ours
    nsx "$ipt" -w 5 -t raw -A PREROUTING -j NFQLB-PREROUTING
    nsx "$ipt" -w 5 -t filter -N NFQLB-OLD
    nsx "$ipt" -w 5 -t filter -A NFQLB-OLD -j ACCEPT
    nsx "$ipt" -w 5 -t filter -A INPUT -p tcp --dport 1 -j NFQLB-OLD
    hooks --iptables "$ipt" -q install --mode rewrite --queues 7 --service-cidr 10.96.0.0/12
    b=$(ours "$ipt")
    if [[ $a == "$b" ]]; then ok "install cleans duplicate jumps and stray NFQLB chains"; else
        bad "install left strays"; diff <(echo "$a") <(echo "$b") | sed 's/^/       /' || true
    fi
    # remove finds every chain, also ones we never install
    nsx "$ipt" -w 5 -t mangle -N NFQLB-EXTRA
    nsx "$ipt" -w 5 -t mangle -A FORWARD -j NFQLB-EXTRA
    hooks --iptables "$ipt" -q install --mode mark --queues 0 --service-cidr 10.96.0.0/12
    hooks --iptables "$ipt" remove >/dev/null
    check "remove after mixed installs leaves nothing" nothing_of_ours
    # remove without --iptables looks at every backend
    hooks --iptables "$ipt" -q install --mode mark --queues 0 --service-cidr 10.96.0.0/12
    rc=0; hooks status >/dev/null || rc=$?
    check "status without --iptables finds the install (rc=$rc)" test "$rc" -eq 0
    hooks remove >/dev/null
    check "remove without --iptables leaves nothing" nothing_of_ours
}

test_usage() {
    CTX=usage
    local rc
    expect_rc() { # expect_rc WANT DESC args...
        local want=$1 d=$2; shift 2
        rc=0; "$HOOKS" --netns "$NS" "$@" >/dev/null 2>"$TMP/err" || rc=$?
        if [[ $rc == "$want" ]]; then ok "$d"; else bad "$d: want rc $want, got $rc: $(head -c 300 "$TMP/err")"; fi
    }
    expect_rc 2 "no action" --queues 0
    expect_rc 2 "install without --queues" install --service-cidr 10.96.0.0/12
    expect_rc 2 "install without --service-cidr" install --queues 0
    expect_rc 2 "bad queue range" install --queues 5:2 --service-cidr 10.96.0.0/12
    expect_rc 2 "queue too large" install --queues 70000 --service-cidr 10.96.0.0/12
    expect_rc 2 "bad cidr" install --queues 0 --service-cidr 10.96.0.0/33
    expect_rc 2 "ipv6 prefix too long" install --queues 0 --service-cidr fd00::/129
    expect_rc 2 "bad ipv6 address" install --queues 0 --service-cidr fd00::1::/64
    expect_rc 2 "bad mode" install --queues 0 --service-cidr 10.96.0.0/12 --mode ipvs
    expect_rc 2 "non-contiguous mask" install --queues 0 --service-cidr 10.96.0.0/12 --mark-mask 0xff00ff00
    expect_rc 2 "mask too narrow" install --queues 0 --service-cidr 10.96.0.0/12 --mark-mask 0x7f
    expect_rc 2 "mask not hex" install --queues 0 --service-cidr 10.96.0.0/12 --mark-mask 0xzz
    expect_rc 1 "unknown iptables command" install --queues 0 --service-cidr 10.96.0.0/12 --iptables no-such-iptables
    expect_rc 0 "help" --help
    check "nothing installed by failed invocations" nothing_of_ours
    local out
    out=$("$HOOKS" --netns "$NS" --dry-run install --queues 0 --service-cidr 10.96.0.1/12 --mode mark)
    check "dry-run normalizes host bits" grep -q -- '-d 10.96.0.0/12 ' <<<"$out"
    out=$("$HOOKS" --netns "$NS" --dry-run install --queues 0 --service-cidr FD00:10:96:0:0:0:0:1/108 --mode mark)
    check "dry-run normalizes an IPv6 range" grep -q -- '-d fd00:10:96::/108 ' <<<"$out"
    check "dry-run shows the ip6 table" grep -q -- 'add map ip6 nfqlb endpoints { type mark : ipv6_addr . inet_service; }' <<<"$out"
    check "dry-run changes nothing" nothing_of_ours
    rc=0; "$HOOKS" --netns no-such-ns-$$ status >/dev/null 2>&1 || rc=$?
    check "unknown netns is an error (rc=$rc)" test "$rc" -eq 1
}

# ---------------------------------------------------------------- main
for ipt in iptables iptables-legacy; do
    echo "== backend $ipt ($($ipt -V))"
    fresh_ns
    CTX="$ipt/empty"
    rc=0; hooks --iptables "$ipt" status >/dev/null || rc=$?
    check "status exits 3 when nothing installed (rc=$rc)" test "$rc" -eq 3
    rc=0; out=$(hooks --iptables "$ipt" remove 2>&1) || rc=$?
    check "remove with nothing installed: rc 0 and quiet" test "$rc" -eq 0 -a -z "$out"
    for mode in ${HOOKS_TEST_MODES:-conntrack rewrite mark}; do
        test_mode "$ipt" "$mode"
    done
    test_switches "$ipt"
    test_families "$ipt"
    if [[ $ipt == iptables-legacy ]]; then
        CTX="$ipt/other-backend"
        check "legacy install never touched the nf_tables backend" \
            bash -c "! ip netns exec '$NS' iptables-nft-save 2>/dev/null | grep -q NFQLB"
    fi
done
fresh_ns
test_usage
cleanup_ns_only

echo "hooks-test: $PASS passed, $FAIL failed"
if ((FAIL > 0)); then
    printf 'failed checks:\n'
    printf '  %s\n' "${FAILED[@]}"
    exit 1
fi
exit 0
