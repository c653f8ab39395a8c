import Balancer
import PacketRewrite

/// Shared fixtures: endpoints, services, flows, and the chi-square critical values the
/// distribution tests compare against.
enum Fixture {
    static func v4(_ text: String) -> IPAddress { IPAddress(text)! }

    /// `count` endpoints 10.1.<i/250>.<i%250+1>:8080 with the given weights (1 if absent).
    static func endpoints(_ count: Int, weights: [UInt32]? = nil, port: UInt16 = 8080) -> [Endpoint] {
        (0..<count).map { i in
            Endpoint(address: .v4(IPv4Address(10, 1, UInt8(i / 250), UInt8(i % 250 + 1))), port: port,
                     weight: weights?[i] ?? 1)
        }
    }

    static func endpoints(weights: [UInt32]) -> [Endpoint] {
        endpoints(weights.count, weights: weights)
    }

    /// A TCP flow from client number `client` (10.244.x.y) port `port` to 10.96.0.10:80.
    static func flow(client: Int, port: UInt16 = 40000, to vip: IPAddress = v4("10.96.0.10"),
                     servicePort: UInt16 = 80, proto: IPProtocolNumber = .tcp) -> FlowTuple {
        FlowTuple(proto: proto, source: clientAddress(client), sourcePort: port,
                  destination: vip, destinationPort: servicePort)
    }

    static func clientAddress(_ client: Int) -> IPAddress {
        .v4(IPv4Address(rawValue: 0x0AF4_0000 &+ UInt32(truncatingIfNeeded: client)))
    }

    static func service(_ name: String = "web", vip: String = "10.96.0.10", port: UInt16 = 80,
                        proto: IPProtocolNumber = .tcp, strategy: String = "random",
                        options: StrategyOptions = [:], affinity: SessionAffinity? = nil,
                        endpoints: [Endpoint]) -> Service {
        Service(name: name, vip: IPAddress(vip)!, port: port, proto: proto, strategy: strategy,
                strategyOptions: options, sessionAffinity: affinity, endpoints: endpoints)
    }

    static func strategy(_ name: String, _ endpoints: [Endpoint], options: StrategyOptions = [:],
                         load: [FlowCounter] = []) throws -> any BalancingStrategy {
        try StrategyRegistry.standard.make(name: name, endpoints: endpoints,
                                           context: StrategyBuildContext(options: options, load: load))
    }

    /// Picks `count` times with fresh flows (distinct clients and ports), counting per index.
    static func histogram(_ strategy: any BalancingStrategy, candidates: Int, picks count: Int,
                          seed: UInt64 = 42) -> [Int] {
        var context = PickContext(seed: seed)
        var counts = [Int](repeating: 0, count: candidates)
        for i in 0..<count {
            let flow = Fixture.flow(client: i, port: UInt16(truncatingIfNeeded: 1024 + i))
            counts[strategy.pick(flow, hash: flow.stableHash, context: &context)!] += 1
        }
        return counts
    }
}

enum Statistics {
    /// Pearson's chi-square statistic of `observed` against `expected` probabilities.
    static func chiSquare(observed: [Int], probabilities: [Double]) -> Double {
        let total = Double(observed.reduce(0, +))
        var statistic = 0.0
        for (o, p) in zip(observed, probabilities) where p > 0 {
            let e = total * p
            statistic += (Double(o) - e) * (Double(o) - e) / e
        }
        return statistic
    }

    /// The chi-square critical value at p = 0.001 for `df` degrees of freedom: exact values
    /// for 1...20, the Wilson-Hilferty approximation beyond (within 0.5% there).
    static func critical(degreesOfFreedom df: Int) -> Double {
        let table: [Double] = [10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322, 26.124, 27.877, 29.588,
                               31.264, 32.909, 34.528, 36.123, 37.697, 39.252, 40.790, 42.312, 43.820, 45.315]
        if df >= 1 && df <= table.count { return table[df - 1] }
        let k = Double(df)
        let z = 3.090232  // standard normal quantile at 0.999
        let t = 1 - 2 / (9 * k) + z * (2 / (9 * k)).squareRoot()
        return k * t * t * t
    }

    /// Whether `observed` is consistent with `probabilities` at p = 0.001.
    static func fits(_ observed: [Int], _ probabilities: [Double]) -> Bool {
        let df = probabilities.filter { $0 > 0 }.count - 1
        return chiSquare(observed: observed, probabilities: probabilities) < critical(degreesOfFreedom: df)
    }

    static func shares(_ weights: [UInt32]) -> [Double] {
        let total = Double(weights.reduce(0, +))
        return weights.map { Double($0) / total }
    }
}
