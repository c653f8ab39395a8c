/// A `nfq-lb.io/...` annotation that could not be used: logged as a warning and counted; the
/// service keeps the default for what the annotation would have set.
public struct AnnotationProblem: Sendable, Equatable, CustomStringConvertible {
    /// `namespace/name` of the Service.
    public var owner: String
    public var annotation: String
    public var message: String

    public init(owner: String, annotation: String, message: String) {
        self.owner = owner
        self.annotation = annotation
        self.message = message
    }

    public var description: String { "service \(owner): annotation \(annotation): \(message); the default is used" }
}
