import Testing
@testable import NFQLB

/// The `kubernetes:` block: read as plain settings, defaults as documented, mistakes reported
/// with their line like every other field.
@Suite struct KubernetesSettingsTests {
    func load(_ text: String) throws(ConfigError) -> NFQLBConfig {
        try ConfigLoader().parse("queues: \"0:0\"\nserviceCIDRs: [10.96.0.0/12]\n" + text, file: "nfq-lb.yaml")
    }

    func issues(_ text: String) -> [String] {
        do {
            _ = try load(text)
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }

    @Test func aConfigWithoutTheBlockHasNoKubernetesSource() throws {
        #expect(try load("services: []").kubernetes == nil)
    }

    @Test func theBlockIsReadWithItsDefaults() throws {
        let settings = try #require(try load("kubernetes: {apiServer: \"https://10.0.0.1:6443\", nodeName: node1}").kubernetes)
        #expect(settings == KubernetesSettings(apiServer: "https://10.0.0.1:6443", nodeName: "node1"))
        #expect(settings.serviceProxyName == "nfq-lb")
        #expect(settings.coalesceMilliseconds == 10)
        #expect(settings.tokenFile == KubernetesSettings.inClusterTokenFile)
    }

    @Test func anEmptyServiceProxyNameMeansEveryUnlabelledService() throws {
        let settings = try load("kubernetes: {kubeconfig: /etc/kube.conf, serviceProxyName: \"\", coalesceMilliseconds: 0}").kubernetes
        #expect(settings?.serviceProxyName == "")
        #expect(settings?.coalesceMilliseconds == 0)
        #expect(settings?.kubeconfig == "/etc/kube.conf")
    }

    @Test func mistakesAreReportedWithTheirLineAndField() {
        let found = issues("""
            kubernetes:
              apiServer: http://10.0.0.1:6443
              coalesceMilliseconds: 99999
              nodename: x
            """)
        #expect(found.contains { $0.hasPrefix("nfq-lb.yaml:4: kubernetes.apiServer: must be an https:// URL") })
        #expect(found.contains { $0.hasPrefix("nfq-lb.yaml:5: kubernetes.coalesceMilliseconds:") })
        #expect(found.contains { $0.contains("nodename") })
    }

    @Test func aBlockWithNeitherServerNorKubeconfigIsRefused() {
        #expect(issues("kubernetes: {nodeName: node1}").contains { $0.contains("needs apiServer") })
    }

    @Test func changingTheBlockNeedsARestart() throws {
        let before = try load("kubernetes: {apiServer: \"https://10.0.0.1:6443\"}")
        let after = try load("kubernetes: {apiServer: \"https://10.0.0.2:6443\"}")
        #expect(throws: DaemonError.self) { try NFQLBDaemon.checkRestartOnlySettings(old: before, new: after, file: "f") }
    }
}
