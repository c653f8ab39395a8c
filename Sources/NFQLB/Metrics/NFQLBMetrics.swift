import Metrics

/// The daemon's metrics that are not per queue, and the factory of per-queue handles.
///
/// Backed by whatever `MetricsSystem` was bootstrapped with (Prometheus in the daemon, the
/// no-op handler in tests that don't care).
public final class NFQLBMetrics: Sendable {
    let reloads: Counter
    let failedReloads: Counter
    let conntrackEvents: Counter
    let conntrackEventOverruns: Counter
    let staleEntriesDeleted: Counter
    let conntrackEventRestarts: Counter
    let activeFlowResyncs: Counter
    let activeFlowResyncFailures: Counter
    let activeFlowsCorrected: Counter
    let refusedOwners: Gauge

    public init() {
        reloads = Counter(label: "nfqlb_reloads_total", dimensions: [("result", "success")])
        failedReloads = Counter(label: "nfqlb_reloads_total", dimensions: [("result", "failure")])
        conntrackEvents = Counter(label: "nfqlb_conntrack_destroy_events_total")
        conntrackEventOverruns = Counter(label: "nfqlb_conntrack_event_overruns_total")
        staleEntriesDeleted = Counter(label: "nfqlb_conntrack_stale_entries_deleted_total")
        conntrackEventRestarts = Counter(label: "nfqlb_conntrack_event_monitor_restarts_total")
        activeFlowResyncs = Counter(label: "nfqlb_active_flow_resyncs_total", dimensions: [("result", "success")])
        activeFlowResyncFailures = Counter(label: "nfqlb_active_flow_resyncs_total", dimensions: [("result", "failure")])
        activeFlowsCorrected = Counter(label: "nfqlb_active_flows_corrected_total")
        refusedOwners = Gauge(label: "nfqlb_kubernetes_services_refused")
    }

    func queue(_ number: UInt16) -> QueueMetrics { QueueMetrics(queue: number) }

    public func reloadSucceeded() { reloads.increment() }
    public func reloadFailed() { failedReloads.increment() }
}
