/// Why a snapshot could not be built: which service (by index in the list given to
/// `BalancerSnapshot.build` and by name), which of its fields (a path such as
/// `strategyOptions.tableSize` or `endpoints[2].port`, so the config layer can point at the
/// file and line), and what is wrong.
public struct BalancerBuildError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        /// The strategy or its options were refused.
        case strategy(StrategyError)
        /// Another service, at `firstIndex`, has the same address, port and protocol.
        case duplicateService(firstIndex: Int, firstName: String)
        /// Another endpoint of the service, at `firstIndex`, has the same address and port.
        case duplicateEndpoint(firstIndex: Int)
        /// A field's value is not acceptable; the text says why.
        case invalid(String)
    }

    public var serviceIndex: Int
    public var serviceName: String
    /// The field within the service, as a path (`strategy`, `strategyOptions.tableSize`,
    /// `endpoints[2].address`, `sessionAffinity.timeoutSeconds`, ...).
    public var field: String
    public var reason: Reason

    public init(serviceIndex: Int, serviceName: String, field: String, reason: Reason) {
        self.serviceIndex = serviceIndex
        self.serviceName = serviceName
        self.field = field
        self.reason = reason
    }

    /// The field's path from the top of the service list: `services[3].strategyOptions.tableSize`.
    public var path: String { "services[\(serviceIndex)].\(field)" }

    /// What is wrong, without saying where.
    public var problem: String {
        switch reason {
        case .strategy(let error):
            return error.description
        case .duplicateService(let firstIndex, let firstName):
            return "same address, port and protocol as services[\(firstIndex)] '\(firstName)'"
        case .duplicateEndpoint(let firstIndex):
            return "same address and port as endpoints[\(firstIndex)]"
        case .invalid(let text):
            return text
        }
    }

    public var description: String {
        "\(path) (service '\(serviceName)'): \(problem)"
    }
}
