import PacketRewrite

/// What a run must have left behind, checked after every run of either language (outside the
/// timed part), so that neither optimizer can have skipped the work and neither side can be
/// fast by being wrong.
enum RingCheck {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Every packet of the ring: checksums valid (IPv4 header and TCP over pseudo-header and
    /// segment, computed from scratch by PacketRewrite), destination rewritten to a candidate
    /// of the service the packet was sent to, port to the endpoint port; and the outcome says
    /// every packet of every pass was rewritten.
    static func verify(ring: PacketRing, scenario: Scenario, outcome: SwiftPath.Outcome, passes: Int,
                       language: String) throws(Failure) {
        let expected = UInt64(ring.count * passes)
        guard outcome.rewritten == expected, outcome.malformed == 0, outcome.notService == 0,
              outcome.noEndpoint == 0 else {
            throw Failure(description: "\(language): \(outcome) after \(passes) passes of \(ring.count) packets; "
                + "expected \(expected) rewritten and nothing else")
        }
        for i in 0..<ring.count {
            let view: PacketView
            do {
                view = try PacketView(validating: ring.packet(i))
            } catch {
                throw Failure(description: "\(language): packet \(i) no longer parses: \(error)")
            }
            guard view.checksumsAreValid else {
                throw Failure(description: "\(language): packet \(i) has an invalid checksum after the rewrite")
            }
            let service = ring.services[i]
            let first = Scenario.endpointAddress(service: service, candidate: 0, per: scenario.endpointsPerService)
            guard case .v4(let destination) = view.destinationAddress,
                  destination.rawValue &- first.rawValue < UInt32(scenario.endpointsPerService),
                  view.destinationPort == Scenario.endpointPort else {
                throw Failure(description: "\(language): packet \(i) went to \(view.destinationAddress):"
                    + "\(view.destinationPort), not to an endpoint of service \(service)")
            }
        }
    }

    /// The picks spread over the candidates as every strategy here should spread equal-weight
    /// endpoints: each candidate index within 40% of an equal share (over 1,024 packets and 8
    /// candidates that is more than 4 standard deviations of a uniform random pick).
    static func verifySpread(_ histogram: [UInt64], language: String) throws(Failure) {
        let total = histogram.reduce(0, +)
        let share = Double(total) / Double(histogram.count)
        for (index, picks) in histogram.enumerated() where abs(Double(picks) - share) > 0.4 * share {
            throw Failure(description: "\(language): candidate \(index) got \(picks) picks of \(total); "
                + "an equal share is \(Int(share)): \(histogram)")
        }
    }

    /// For deterministic strategies (Maglev, source hash) both languages pick the same
    /// endpoint for every packet, so their rings must be byte for byte the same.
    static func verifySame(_ swift: UnsafeRawBufferPointer, _ c: UnsafeRawBufferPointer) throws(Failure) {
        guard swift.elementsEqual(c) else {
            let slot = zip(swift, c).enumerated().first { $0.element.0 != $0.element.1 }.map { $0.offset / PacketRing.slotBytes }
            throw Failure(description: "Swift and C rewrote packet \(slot ?? -1) differently with a deterministic strategy")
        }
    }
}
