#!/usr/bin/env bash
# Builds and runs a libFuzzer target with AddressSanitizer.
#
#   fuzz/run.sh [TARGET] [SECONDS]     TARGET defaults to "packet", SECONDS to 60
#   fuzz/run.sh 300                    the packet target for 300 s
#
# Build products go to fuzz/.build/TARGET, the corpus and any crash to fuzz/out/TARGET (both
# git-ignored). Exits non-zero when the fuzzer finds a crash; the reproducer is written as
# fuzz/out/TARGET/crash-*, rerun with: fuzz/.build/TARGET/fuzzer fuzz/out/TARGET/crash-...
#
# Targets (add one as a case below: its sources and where its seeds come from):
#   packet  PacketView(validating:) and the destination rewrite (fuzz/PacketParserFuzz.swift),
#           seeded from the captured packets in Tests/RewriteTests/Fixtures/*.hex.
#   netlink NetlinkMessages/NetlinkAttributes, QueuedPacket and ConntrackMessage.parseEntry on any
#           datagram (fuzz/NetlinkParserFuzz.swift), seeded from Tests/NFQLBTests/Fixtures/*.hex.
#   config  ConfigLoader.parse on any bytes (fuzz/config, its own package so that NFQLB and
#           Yams are instrumented too), seeded from deploy/*.yaml and fuzz/config/seeds/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [[ $# -ge 1 && $1 =~ ^[0-9]+$ ]]; then
    target=packet
    seconds=$1
else
    target=${1:-packet}
    seconds=${2:-60}
fi
[[ $seconds =~ ^[0-9]+$ ]] || { echo "run.sh: SECONDS must be a number, got '$seconds'" >&2; exit 2; }

build=fuzz/.build/$target
extra=()
out=fuzz/out/$target
mkdir -p "$build" "$out/corpus"

# hex_seeds FILE...: each hex fixture (lines starting with # are comments) becomes one binary seed.
hex_seeds() {
    local file name
    for file in "$@"; do
        name=$(basename "$file" .hex)
        grep -v '^#' "$file" | tr -d ' \t\r\n' | xxd -r -p > "$out/corpus/seed-$name"
    done
}

case $target in
    packet)
        sources=(Sources/PacketRewrite/*.swift fuzz/PacketParserFuzz.swift)
        hex_seeds Tests/RewriteTests/Fixtures/*.hex
        ;;
    netlink)
        # NFQLB's parsing sources are compiled into one module with PacketRewrite: their
        # `import PacketRewrite` lines are left out of the copies.
        mkdir -p "$build/src"
        for file in Sources/NFQLB/Netlink/{NetlinkAttributes,NetlinkConstants,NetlinkMessageWriter,QueueMessages}.swift \
                    Sources/NFQLB/Queue/QueuedPacket.swift \
                    Sources/NFQLB/Conntrack/{ConntrackMessage,ConntrackEntry,ConntrackStatus,ConntrackCreateRequest}.swift; do
            grep -v '^import PacketRewrite$' "$file" > "$build/src/$(basename "$file")"
        done
        sources=(Sources/PacketRewrite/*.swift "$build"/src/*.swift fuzz/NetlinkParserFuzz.swift)
        extra=(-I Sources/CNFQueue)
        hex_seeds Tests/NFQLBTests/Fixtures/*.hex
        ;;
    config)
        sources=()
        cp deploy/*.yaml fuzz/config/seeds/*.yaml "$out/corpus/" 2>/dev/null || true
        ;;
    *)
        echo "run.sh: unknown target '$target' (known: packet, netlink, config)" >&2
        exit 2
        ;;
esac

command -v xxd >/dev/null || { echo "run.sh: xxd is needed to turn hex seeds into binary" >&2; exit 2; }

echo "building $target fuzzer"
if [[ $target == config ]]; then
    swift build -c release --package-path fuzz/config --scratch-path "$build/swiftpm" --product ConfigFuzz \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -g -Xcc -fsanitize=fuzzer-no-link,address
    cp "$build/swiftpm/release/ConfigFuzz" "$build/fuzzer"
else
    swiftc -sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6 \
        -module-name "Fuzz_$target" "${extra[@]}" "${sources[@]}" -o "$build/fuzzer"
fi

echo "fuzzing $target for $seconds s"
# libFuzzer exits 0 when time runs out and non-zero (with a crash-* artifact) on a finding.
# SWIFT_BACKTRACE off: the Swift crash handler's own memory reads would trip ASan and hide the finding.
SWIFT_BACKTRACE=enable=no "$build/fuzzer" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$out/" "$out/corpus"
