import Foundation
import Metrics

/// The reflector's metrics for one resource (see `Reflector` for their meaning), created once
/// so events cost no registry lookup.
struct ReflectorMetrics: Sendable {
    let resource: String
    let lists: Counter
    let watches: Counter
    let lastSync: Gauge
    private let restartsTimeout: Counter
    private let restartsError: Counter
    private let restartsExpired: Counter
    private let relistsExpired: Counter
    private let relistsError: Counter

    init(resource: String) {
        self.resource = resource
        let dimensions = [("resource", resource)]
        lists = Counter(label: "nfqlb_kubernetes_lists_total", dimensions: dimensions)
        watches = Counter(label: "nfqlb_kubernetes_watches_total", dimensions: dimensions)
        lastSync = Gauge(label: "nfqlb_kubernetes_last_sync_timestamp_seconds", dimensions: dimensions)
        restartsTimeout = Counter(label: "nfqlb_kubernetes_watch_restarts_total", dimensions: dimensions + [("reason", "timeout")])
        restartsError = Counter(label: "nfqlb_kubernetes_watch_restarts_total", dimensions: dimensions + [("reason", "error")])
        restartsExpired = Counter(label: "nfqlb_kubernetes_watch_restarts_total", dimensions: dimensions + [("reason", "expired")])
        relistsExpired = Counter(label: "nfqlb_kubernetes_relists_total", dimensions: dimensions + [("reason", "expired")])
        relistsError = Counter(label: "nfqlb_kubernetes_relists_total", dimensions: dimensions + [("reason", "error")])
    }

    func watchRestarts(reason: String) -> Counter {
        switch reason {
        case "expired": restartsExpired
        case "timeout": restartsTimeout
        default: restartsError
        }
    }

    func relists(reason: String) -> Counter {
        reason == "expired" ? relistsExpired : relistsError
    }

    func markSynced() {
        lastSync.record(Date().timeIntervalSince1970)
    }
}
