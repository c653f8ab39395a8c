import Balancer
import PacketRewrite
import Testing

@Suite("IPPrefix")
struct IPPrefixTests {
    @Test func anIPv4PrefixContainsItsBlockOnly() throws {
        let prefix = try #require(IPPrefix("10.96.0.0/12"))
        #expect(prefix.contains(IPAddress("10.96.0.1")!))
        #expect(prefix.contains(IPAddress("10.111.255.255")!))
        #expect(!prefix.contains(IPAddress("10.112.0.0")!))
        #expect(!prefix.contains(IPAddress("10.95.255.255")!))
        #expect(!prefix.contains(IPAddress("::ffff:10.96.0.1")!))
    }

    @Test func anIPv6PrefixContainsItsBlockOnly() throws {
        let prefix = try #require(IPPrefix("fd00:10:96::/108"))
        #expect(prefix.contains(IPAddress("fd00:10:96::1")!))
        #expect(prefix.contains(IPAddress("fd00:10:96::f:ffff")!))
        #expect(!prefix.contains(IPAddress("fd00:10:96::10:0")!))
        #expect(!prefix.contains(IPAddress("10.96.0.1")!))
        let wide = try #require(IPPrefix("fd00::/8"))
        #expect(wide.contains(IPAddress("fdff:1::1")!))
        #expect(!wide.contains(IPAddress("fe80::1")!))
    }

    @Test func hostBitsAreMaskedOff() throws {
        let prefix = try #require(IPPrefix("10.96.7.1/12"))
        #expect(prefix.description == "10.96.0.0/12")
        #expect(prefix == IPPrefix("10.96.0.0/12"))
        #expect(IPPrefix("fd00::1/64")?.description == "fd00::/64")
    }

    @Test func edgeLengthsWork() throws {
        #expect(try #require(IPPrefix("0.0.0.0/0")).contains(IPAddress("203.0.113.9")!))
        #expect(try #require(IPPrefix("10.0.0.1/32")).contains(IPAddress("10.0.0.1")!))
        #expect(try !#require(IPPrefix("10.0.0.1/32")).contains(IPAddress("10.0.0.2")!))
        #expect(try #require(IPPrefix("::/0")).contains(IPAddress("2001:db8::1")!))
        #expect(try #require(IPPrefix("2001:db8::1/128")).contains(IPAddress("2001:db8::1")!))
        #expect(try #require(IPPrefix("2001:db8::/64")).contains(IPAddress("2001:db8::ffff:ffff:ffff:ffff")!))
    }

    @Test(arguments: ["10.96.0.0", "10.96.0.0/33", "10.96.0.0/-1", "10.96.0.0/+8", "10.96.0.0/012", "10.96.0/12",
                      "fd00::/129", "/12", "10.96.0.0/", "10.96.0.0/1 2", "10.96.0.0/12/1"])
    func malformedTextIsRejected(text: String) {
        #expect(IPPrefix(text) == nil)
    }
}
