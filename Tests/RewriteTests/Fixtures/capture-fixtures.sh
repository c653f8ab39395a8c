#!/usr/bin/env bash
# Captures the real packets that RewriteTests use as known vectors, then writes the expected
# rewrites with expected-rewrites.py (an independent Python implementation).
#
# Two network namespaces (rwfix-a, rwfix-b) joined by a veth pair, 10.123.0.0/24 and
# fd00:123::/64. Each packet is sent by the kernel of rwfix-a (curl, dig, or a Python socket
# with sticky options) and captured with tcpdump on rwfix-vb inside rwfix-b (ingress only);
# the Ethernet header is stripped and the IP packet written as hex after one `#` line.
#
# Transmit checksum offload is switched off on rwfix-va so that the kernel writes complete
# checksums; the *-partial-checksum fixtures are captured with it on, so their TCP checksum
# field holds only the pseudo-header sum, as NFQUEUE hands locally generated packets over
# with NFQA_SKB_CSUMNOTREADY.
#
# Needs root, iproute2, tcpdump, ethtool, curl, dig, python3. Run from anywhere:
#   sudo Tests/RewriteTests/Fixtures/capture-fixtures.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
A=rwfix-a
B=rwfix-b
work=$(mktemp -d)
tcpdump_pid=

cleanup() {
    if [[ -n $tcpdump_pid ]]; then kill "$tcpdump_pid" 2>/dev/null || true; fi
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

for tool in ip tcpdump ethtool curl dig python3; do
    command -v "$tool" >/dev/null || { echo "capture-fixtures: $tool is missing" >&2; exit 1; }
done

ip netns add "$A"
ip netns add "$B"
ip link add rwfix-va netns "$A" type veth peer name rwfix-vb netns "$B"
for ns in "$A" "$B"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    ip -n "$ns" link set lo up
done
ip -n "$A" addr add 10.123.0.1/24 dev rwfix-va
ip -n "$A" addr add fd00:123::1/64 dev rwfix-va nodad
ip -n "$B" addr add 10.123.0.2/24 dev rwfix-vb
ip -n "$B" addr add fd00:123::2/64 dev rwfix-vb nodad
ip -n "$A" link set rwfix-va up
ip -n "$B" link set rwfix-vb up
# Static neighbours: no ARP or neighbour discovery races with the first packet.
mac_a=$(ip -n "$A" -br link show rwfix-va | awk '{print $3}')
mac_b=$(ip -n "$B" -br link show rwfix-vb | awk '{print $3}')
ip -n "$A" neigh replace 10.123.0.2 lladdr "$mac_b" dev rwfix-va nud permanent
ip -n "$A" neigh replace fd00:123::2 lladdr "$mac_b" dev rwfix-va nud permanent
ip -n "$B" neigh replace 10.123.0.1 lladdr "$mac_a" dev rwfix-vb nud permanent
ip -n "$B" neigh replace fd00:123::1 lladdr "$mac_a" dev rwfix-vb nud permanent

offload() { ip netns exec "$A" ethtool -K rwfix-va tx "$1" >/dev/null; }

# capture NAME DESCRIPTION FILTER -- COMMAND...: runs COMMAND in rwfix-a and keeps the first
# packet that rwfix-b receives matching FILTER.
capture() {
    local name=$1 description=$2 filter=$3
    shift 4
    local pcap=$work/$name.pcap
    ip netns exec "$B" tcpdump -i rwfix-vb -Q in -U -c 1 -s 0 -w "$pcap" "$filter" 2>"$work/$name.log" &
    tcpdump_pid=$!
    for _ in $(seq 50); do
        grep -q "listening on" "$work/$name.log" 2>/dev/null && break
        sleep 0.1
    done
    ip netns exec "$A" "$@" >/dev/null 2>&1 || true
    for _ in $(seq 50); do
        kill -0 "$tcpdump_pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$tcpdump_pid" 2>/dev/null; then
        echo "capture-fixtures: $name: nothing captured" >&2
        exit 1
    fi
    wait "$tcpdump_pid" || true
    tcpdump_pid=
    python3 - "$pcap" "$here/$name.hex" "$description" <<'EOF'
import struct, sys
pcap, out, description = sys.argv[1:4]
data = open(pcap, "rb").read()
magic, = struct.unpack("<I", data[:4])
assert magic == 0xA1B2C3D4, "expected a little-endian microsecond pcap"
linktype, = struct.unpack("<I", data[20:24])
assert linktype == 1, "expected Ethernet"
_, _, caplen, wirelen = struct.unpack("<IIII", data[24:40])
assert caplen == wirelen, "truncated capture"
frame = data[40:40 + caplen]
ethertype, = struct.unpack("!H", frame[12:14])
assert ethertype in (0x0800, 0x86DD), hex(ethertype)
packet = frame[14:]
with open(out, "w") as f:
    f.write("# " + description + "; tcpdump -i rwfix-vb -Q in (netns rwfix-b), Ethernet header stripped\n")
    for i in range(0, len(packet), 16):
        f.write(packet[i:i + 16].hex() + "\n")
EOF
    echo "captured $name (${description})"
}

v4tcp="dst host 10.123.0.2 and tcp"
v4udp="dst host 10.123.0.2 and udp"
v6="dst host fd00:123::2 and not icmp6"

offload off
capture ipv4-tcp-syn "IPv4 TCP SYN 10.123.0.1:40000 -> 10.123.0.2:8080 from curl --local-port 40000" "$v4tcp" -- \
    curl -s --max-time 2 --local-port 40000 http://10.123.0.2:8080/
capture ipv6-tcp-syn "IPv6 TCP SYN [fd00:123::1]:40001 -> [fd00:123::2]:8080 from curl --local-port 40001" "$v6" -- \
    curl -s -g --max-time 2 --local-port 40001 "http://[fd00:123::2]:8080/"
capture ipv4-udp-dns "IPv4 UDP DNS query 10.123.0.1:40002 -> 10.123.0.2:53 from dig -b 10.123.0.1#40002" "$v4udp" -- \
    dig -b '10.123.0.1#40002' @10.123.0.2 -p 53 +tries=1 +time=1 example.test A
capture ipv6-udp-dns "IPv6 UDP DNS query [fd00:123::1]:40003 -> [fd00:123::2]:53 from dig -b fd00:123::1#40003" "$v6" -- \
    dig -b 'fd00:123::1#40003' @fd00:123::2 -p 53 +tries=1 +time=1 example.test AAAA
capture ipv4-udp-zero-checksum "IPv4 UDP 10.123.0.1:40004 -> 10.123.0.2:5000 with no checksum (0) from a Python socket with SO_NO_CHECK" "$v4udp" -- \
    python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 11, 1)  # SO_NO_CHECK
s.bind(("10.123.0.1", 40004))
s.sendto(b"nfq-lb: an IPv4 datagram without checksum", ("10.123.0.2", 5000))'
capture ipv4-tcp-syn-ip-options "IPv4 TCP SYN 10.123.0.1:40005 -> 10.123.0.2:8080 with a Record Route IP option (IHL 8) from a Python socket with IP_OPTIONS" "$v4tcp" -- \
    python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, bytes([7, 11, 4] + [0] * 8 + [0]))
s.bind(("10.123.0.1", 40005))
s.settimeout(1)
try: s.connect(("10.123.0.2", 8080))
except OSError: pass'
capture ipv6-udp-hbh-dstopts "IPv6 UDP [fd00:123::1]:40006 -> [fd00:123::2]:5000 behind Hop-by-Hop and Destination Options headers from a Python socket with IPV6_HOPOPTS and IPV6_DSTOPTS" "$v6" -- \
    python3 -c '
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_HOPOPTS, bytes([0, 0, 1, 4, 0, 0, 0, 0]))
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, bytes([0, 1, 1, 12] + [0] * 12))
s.bind(("fd00:123::1", 40006))
s.sendto(b"nfq-lb: an IPv6 datagram behind extension headers", ("fd00:123::2", 5000))'
capture ipv6-tcp-syn-dstopts "IPv6 TCP SYN [fd00:123::1]:40007 -> [fd00:123::2]:8080 behind a Destination Options header from a Python socket with IPV6_DSTOPTS" "$v6" -- \
    python3 -c '
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, bytes([0, 0, 1, 4, 0, 0, 0, 0]))
s.bind(("fd00:123::1", 40007))
s.settimeout(1)
try: s.connect(("fd00:123::2", 8080))
except OSError: pass'

offload on
capture ipv4-tcp-syn-partial-checksum "IPv4 TCP SYN 10.123.0.1:40008 -> 10.123.0.2:8080 with transmit checksum offload on (TCP checksum is the partial pseudo-header sum) from curl --local-port 40008" "$v4tcp" -- \
    curl -s --max-time 2 --local-port 40008 http://10.123.0.2:8080/
capture ipv6-udp-partial-checksum "IPv6 UDP DNS query [fd00:123::1]:40009 -> [fd00:123::2]:53 with transmit checksum offload on (UDP checksum is the partial pseudo-header sum) from dig -b fd00:123::1#40009" "$v6" -- \
    dig -b 'fd00:123::1#40009' @fd00:123::2 -p 53 +tries=1 +time=1 example.test AAAA

python3 "$here/expected-rewrites.py" "$here"
