import NFQLB
import Testing

/// Every test that runs the real kernel path: network namespaces (testbed/lib/cluster.sh,
/// prefix nfqt), the hooks of deploy/iptables-hooks.sh in node1, and the nfq-lb binary in
/// node1's netns. The nested suites live in the other files of this directory; all of them run
/// one after the other (`.serialized`), inside one cluster that `.kernelCluster` brings up once
/// and always tears down.
///
/// Clients are pod n1p3 (PREROUTING path) and node1 itself (OUTPUT path). Services:
/// 10.96.0.10:80 nginx (answers the pod name), 10.96.0.53:53/udp dnsmasq, 10.96.0.90:9000/udp
/// echo, 10.96.0.91:9100 TCP echo (the tests' own server).
@Suite("nfq-lb on the real kernel", .serialized, .kernelCluster, .timeLimit(.minutes(3)))
struct KernelTests {
    static let modes = NFQLBConfig.TCPMode.allCases
    /// The modes that create conntrack entries through ctnetlink (EEXIST policy, counters).
    static let ctnetlinkModes: [NFQLBConfig.TCPMode] = [.conntrack, .rewrite]

    static let webVIP = "10.96.0.10"
    static let dnsVIP = "10.96.0.53"
    static let udpEchoVIP = "10.96.0.90"
    static let tcpEchoVIP = "10.96.0.91"
    /// The three web endpoints of most tests: two on the client's node, one on the other.
    static let threePods = ["n1p1", "n1p2", "n2p1"]

    /// Fixed client ports, all below the ephemeral range (32768-60999): a fixed port inside it
    /// may still be held in TIME_WAIT by an earlier curl of the same pod (EADDRINUSE at bind).
    enum ClientPorts {
        static let reuse = 21000  // ... 21009
        static let reuseAfterRemoval = 21500  // + mode index
        static let retransmit = 22000  // + mode index
        static let staleUDP = 23000  // + mode index
        static let twoCPUs = 24100  // + 20 * mode index + 0..<20
        static let hairpinUDP = 25000  // + 2 * mode index + masquerade
        static let masqueradedUDP = 25100  // + 10 * mode index + 0..<4
    }
}
