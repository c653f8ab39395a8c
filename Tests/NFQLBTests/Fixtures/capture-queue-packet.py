import socket, struct, sys, os
# Binds NFQUEUE 7 in this netns, captures one packet message, answers it (accept), prints hex.
NETLINK_NETFILTER = 12
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
s.bind((0, 0))
def msg(mtype, flags, seq, payload, res_id):
    body = struct.pack("BBH", 0, 0, socket.htons(res_id)) + payload
    return struct.pack("=IHHII", 16 + len(body), mtype, flags, seq, 0) + body
def attr(t, data):
    a = struct.pack("=HH", 4 + len(data), t) + data
    return a + b"\0" * ((4 - len(a) % 4) % 4)
CFG = (3 << 8) | 2; VERDICT = (3 << 8) | 1
# bind: NFQA_CFG_CMD(1) = {cmd u8, pad u8, pf be16}
s.send(msg(CFG, 1 | 4, 1, attr(1, struct.pack("!BBH", 1, 0, 2)), 7))
print("ack", s.recv(4096).hex(), file=sys.stderr)
# params: NFQA_CFG_PARAMS(2) = {copy_range be32, copy_mode u8}; copy range from argv
s.send(msg(CFG, 1 | 4, 2, attr(2, struct.pack("!IB", int(sys.argv[1]), 2)), 7))
print("ack", s.recv(4096).hex(), file=sys.stderr)
data = s.recv(70000)
print(data.hex())
mlen, = struct.unpack_from("=I", data, 0)
off = 20; pid = None
while off + 4 <= mlen:
    l, t = struct.unpack_from("=HH", data, off)
    if (t & 0x3fff) == 1: pid, = struct.unpack_from("!I", data, off + 4)
    off += (l + 3) & ~3
s.send(msg(VERDICT, 1, 3, attr(2, struct.pack("!II", 1, pid)), 7))
