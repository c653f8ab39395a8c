#!/usr/bin/env bash
# Captures the real kernel netlink messages under this directory, as root, in a throwaway
# network namespace (nlfix) that it deletes again. Each .hex file is one received datagram.
set -euo pipefail
cd "$(dirname "$0")"
ns=nlfix
ip netns add $ns
trap 'ip netns del $ns' EXIT
ip netns exec $ns ip link set lo up
ip netns exec $ns iptables -A OUTPUT -p udp --dport 9999 -j NFQUEUE --queue-num 7 --queue-bypass
for range in 65535 64; do
    ip netns exec $ns timeout 5 python3 capture-queue-packet.py $range > /tmp/nlfix-$range.hex &
    sleep 0.5
    ip netns exec $ns python3 -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'z'*200, ('127.0.0.1', 9999))"
    wait
done
ip netns exec $ns conntrack -I -p udp -s 10.244.1.13 -d 10.96.0.90 --sport 40000 --dport 9000 --timeout 100 --mark 0x10020000
ip netns exec $ns python3 -c '
import socket, struct
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12); s.bind((0, 0))
s.send(struct.pack("=IHHII", 20, (1 << 8) | 1, 1 | 0x300, 1, 0) + struct.pack("BBH", 2, 0, 0))
data = s.recv(65536); print(data[:struct.unpack_from("=I", data, 0)[0]].hex())' > /tmp/nlfix-ct.hex
mk() { { echo "# $2"; tr -d '\n' < "$1" | fold -w 64; echo; } > "$3"; }
mk /tmp/nlfix-65535.hex "NFQNL_MSG_PACKET: a 200-byte UDP datagram 127.0.0.1 -> 127.0.0.1:9999 on queue 7, copy range 65535 (whole)" queue-packet-udp-whole.hex
mk /tmp/nlfix-64.hex "NFQNL_MSG_PACKET: the same datagram with copy range 64 (truncated: NFQA_CAP_LEN 228)" queue-packet-udp-truncated.hex
mk /tmp/nlfix-ct.hex "IPCTNL_MSG_CT_NEW (dump answer): udp 10.244.1.13:40000 -> 10.96.0.90:9000, mark 0x10020000, made by conntrack -I" conntrack-entry-udp.hex
rm -f /tmp/nlfix-*.hex
