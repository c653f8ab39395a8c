import Foundation
import Testing
@testable import KubernetesSource

@Suite struct ObjectMetaTests {
    @Test func unknownFieldsAreIgnoredAndKnownOnesRead() throws {
        let json = #"{"name":"demo","namespace":"default","resourceVersion":"42","managedFields":[{"x":1}],"labels":{"a":"b"}}"#
        let meta = try JSONDecoder().decode(ObjectMeta.self, from: Data(json.utf8))
        #expect(meta.name == "demo")
        #expect(meta.namespace == "default")
        #expect(meta.resourceVersion == "42")
        #expect(meta.labels == ["a": "b"])
        #expect(meta.annotations == nil)
    }
}
