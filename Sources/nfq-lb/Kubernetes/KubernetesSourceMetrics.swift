import CoreMetrics
import Foundation
import KubernetesSource
import Metrics

/// The control path's metrics, named like kube-proxy's where they mean the same
/// (`kubeproxy_sync_proxy_rules_*`, `kubeproxy_network_programming_duration_seconds`).
struct KubernetesSourceMetrics: Sendable {
    /// From the first event of a batch to its snapshot in force (kube-proxy: sync duration).
    let syncDuration: Timer
    /// From an EndpointSlice's `endpoints.kubernetes.io/last-change-trigger-time` (when the
    /// change that moved it happened, e.g. a pod turning ready) to the new state in force here.
    let programmingLatency: Timer
    let lastSync: Gauge
    let lastQueued: Gauge
    let syncFailures: Counter
    let annotationErrors: Counter
    let pendingOwners: Gauge
    private let skipped: [SkipReason: Counter]

    init() {
        syncDuration = Timer(label: "nfqlb_kubernetes_sync_duration_seconds", preferredDisplayUnit: .seconds)
        programmingLatency = Timer(label: "nfqlb_kubernetes_network_programming_duration_seconds", preferredDisplayUnit: .seconds)
        lastSync = Gauge(label: "nfqlb_kubernetes_sync_last_timestamp_seconds")
        lastQueued = Gauge(label: "nfqlb_kubernetes_sync_last_queued_timestamp_seconds")
        syncFailures = Counter(label: "nfqlb_kubernetes_sync_failures_total")
        annotationErrors = Counter(label: "nfqlb_kubernetes_annotation_errors_total")
        pendingOwners = Gauge(label: "nfqlb_kubernetes_pending_services")
        skipped = Dictionary(uniqueKeysWithValues: SkipReason.allCases.map {
            ($0, Counter(label: "nfqlb_kubernetes_skipped_total", dimensions: [("reason", $0.rawValue)]))
        })
    }

    func skipped(_ reason: SkipReason) { skipped[reason]?.increment() }

    /// Records each trigger time's latency up to `inForce`; returns them (seconds) for the log.
    @discardableResult
    func programmed(triggers: [Date], inForce: Date) -> [Double] {
        triggers.map { trigger in
            let seconds = max(0, inForce.timeIntervalSince(trigger))
            programmingLatency.recordNanoseconds(Int64(seconds * 1e9))
            return seconds
        }
    }
}
