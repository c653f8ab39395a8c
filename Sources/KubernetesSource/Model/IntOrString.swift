/// Kubernetes' `intstr.IntOrString`: a `targetPort` is either a port number or the name of a
/// port, and the wire says which by the JSON type.
public enum IntOrString: Codable, Sendable, Hashable, CustomStringConvertible {
    case int(Int)
    case string(String)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int.self) {
            self = .int(number)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .int(let number): try container.encode(number)
        case .string(let name): try container.encode(name)
        }
    }

    public var description: String {
        switch self {
        case .int(let number): "\(number)"
        case .string(let name): name
        }
    }
}
