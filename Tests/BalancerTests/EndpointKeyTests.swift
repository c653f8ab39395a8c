import Balancer
import PacketRewrite
import Testing

@Suite("EndpointKey")
struct EndpointKeyTests {
    @Test func theCanonicalTextIsAddressColonPortWithIPv6Bracketed() {
        #expect(EndpointKey(address: IPAddress("10.0.0.1")!, port: 80).description == "10.0.0.1:80")
        #expect(EndpointKey(address: IPAddress("FD00:0:0::1")!, port: 443).description == "[fd00::1]:443")
    }

    /// Golden values (computed independently, in Python): the stable hash is FNV-1a of the
    /// canonical text with splitmix64's finaliser, the same in every process, on every node
    /// and in every version (Maglev tables and affinity depend on it).
    @Test func theStableHashIsTheSameInEveryProcess() {
        #expect(EndpointKey(address: IPAddress("10.0.0.1")!, port: 80).stableHash == 0xDBBC_907F_2153_1A73)
        #expect(EndpointKey(address: IPAddress("fd00::1")!, port: 443).stableHash == 0xE97E_E421_6E92_3A1F)
    }

    @Test func keysDifferingOnlyInPortHashDifferently() {
        let a = EndpointKey(address: IPAddress("10.0.0.1")!, port: 80)
        let b = EndpointKey(address: IPAddress("10.0.0.1")!, port: 81)
        #expect(a.stableHash != b.stableHash)
        #expect(a.stableHash != a.secondaryStableHash)
    }

    @Test func anEndpointsKeyIgnoresWeightAndConditions() {
        let a = Endpoint(address: IPAddress("10.0.0.1")!, port: 80, weight: 1)
        let b = Endpoint(address: IPAddress("10.0.0.1")!, port: 80, weight: 7, conditions: .init(ready: false))
        #expect(a.key == b.key)
    }
}
