#!/usr/bin/env python3
"""Writes NAME.rewritten.hex for every captured NAME.hex in the given folder: the packet with its
destination rewritten to the test backend (10.123.0.99:9090 or [fd00:123::99]:9090) and every
checksum computed from scratch.

This is deliberately a second, independent implementation (plain RFC 791/768/793/8200 and the
RFC 1071 sum, no incremental update) so that the Swift tests compare PacketRewrite's output to
bytes it did not produce. Rules it shares with PacketRewrite because the RFCs say so: an IPv4 UDP
checksum of 0 means "none" and stays 0; a computed UDP checksum of 0 is sent as 0xFFFF.
"""
import ipaddress
import os
import struct
import sys

BACKEND_V4 = ipaddress.IPv4Address("10.123.0.99").packed
BACKEND_V6 = ipaddress.IPv6Address("fd00:123::99").packed
BACKEND_PORT = 9090
EXTENSION_HEADERS = {0, 43, 60}  # hop-by-hop, routing, destination options (no fragments here)


def ones_complement_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def checksum(data: bytes) -> int:
    return ~ones_complement_sum(data) & 0xFFFF


def rewrite(packet: bytes) -> bytes:
    p = bytearray(packet)
    version = p[0] >> 4
    if version == 4:
        header_length = (p[0] & 0x0F) * 4
        total_length = struct.unpack("!H", p[2:4])[0]
        p = p[:total_length]
        proto = p[9]
        p[16:20] = BACKEND_V4
        p[10:12] = b"\0\0"
        p[10:12] = struct.pack("!H", checksum(bytes(p[:header_length])))
        offset = header_length
        segment_length = total_length - header_length
        pseudo = bytes(p[12:20]) + struct.pack("!BBH", 0, proto, segment_length)
    elif version == 6:
        payload_length = struct.unpack("!H", p[4:6])[0]
        p = p[:40 + payload_length]
        proto, offset = p[6], 40
        while proto in EXTENSION_HEADERS:
            proto, offset = p[offset], offset + (p[offset + 1] + 1) * 8
        p[24:40] = BACKEND_V6
        segment_length = 40 + payload_length - offset
        pseudo = bytes(p[8:40]) + struct.pack("!IxxxB", segment_length, proto)
    else:
        raise ValueError("not IP")
    checksum_offset = {6: 16, 17: 6}[proto]
    if proto == 17:
        segment_length = struct.unpack("!H", p[offset + 4:offset + 6])[0]
    p[offset + 2:offset + 4] = struct.pack("!H", BACKEND_PORT)
    at = offset + checksum_offset
    if version == 4 and proto == 17 and p[at:at + 2] == b"\0\0":
        return bytes(p)  # IPv4 UDP without checksum stays without one
    p[at:at + 2] = b"\0\0"
    value = checksum(pseudo + bytes(p[offset:offset + segment_length]))
    if proto == 17 and value == 0:
        value = 0xFFFF
    p[at:at + 2] = struct.pack("!H", value)
    return bytes(p)


def read_hex(path: str) -> bytes:
    with open(path) as f:
        return bytes.fromhex("".join(line.strip() for line in f if not line.startswith("#")))


def main(folder: str) -> None:
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".hex") or name.endswith(".rewritten.hex"):
            continue
        packet = read_hex(os.path.join(folder, name))
        out = rewrite(packet)
        backend = "10.123.0.99:9090" if packet[0] >> 4 == 4 else "[fd00:123::99]:9090"
        target = os.path.join(folder, name[:-len(".hex")] + ".rewritten.hex")
        with open(target, "w") as f:
            f.write("# %s with its destination rewritten to %s and every checksum computed from scratch by "
                    "expected-rewrites.py\n" % (name, backend))
            for i in range(0, len(out), 16):
                f.write(out[i:i + 16].hex() + "\n")
        print("wrote", os.path.basename(target))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
