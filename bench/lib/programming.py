#!/usr/bin/env python3
"""bench/programming's driver: the objects and files, the changes, the measurements, the report.

Subcommands (bench/programming runs them; each prints nothing but progress on stderr):
  objects     N Services x K endpoints as the fake API server's --objects file
  files       the same N services as nfq-lb config files (services.d, 1,000 per file)
  kubernetes  M single-endpoint EndpointSlice updates through the fake API server's control
              socket, each stamped with endpoints.kubernetes.io/last-change-trigger-time = now;
              per change, the latency the daemon records in
              nfqlb_kubernetes_network_programming_duration_seconds, from its log line (the
              histogram's _count and _sum, read before and after, must agree with them)
  file        M single-endpoint file changes (one included file rewritten and renamed into
              place), then SIGHUP (--trigger sighup) or nothing (--trigger poll: the daemon's
              own file poller); per change, write to the daemon's "reloaded config" log line
  report      the markdown section from the JSON results

Python 3 standard library only.
"""

import argparse
import datetime
import http.client
import json
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.request

METRIC = "nfqlb_kubernetes_network_programming_duration_seconds"
TRIGGER = "endpoints.kubernetes.io/last-change-trigger-time"
PROXY_LABEL = {"service.kubernetes.io/service-proxy-name": "nfq-lb"}
BUCKETS_MS = [2, 5, 10, 15, 20, 25, 30, 40, 50, 75, 100, 250, 500, 1000]


def progress(text):
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), text))
    sys.stderr.flush()


def ip(value):
    return "%d.%d.%d.%d" % (value >> 24 & 255, value >> 16 & 255, value >> 8 & 255, value & 255)


VIP0 = 10 << 24 | 96 << 16 | 1       # service i: 10.96.0.1 + i (inside 10.96.0.0/12)
EP0 = 10 << 24 | 128 << 16           # its endpoint j: 10.128.0.0 + i*K + j
NEW0 = 10 << 24 | 64 << 16 | 1       # change c moves an endpoint to 10.64.0.1 + c: never seen before


def endpoints_of(i, per):
    return [ip(EP0 + i * per + j) for j in range(per)]


def change_target(c, services, per):
    """Change c: which service, which of its endpoints, and the endpoint's new address. The
    services are spread over the whole range (a large prime stride), each change on its own."""
    return (c * 7919 + 13) % services, c % per, ip(NEW0 + c)


# --------------------------------------------------------------------------------------------
# Kubernetes objects, as the EndpointSlice controller and a user would leave them.


def service_object(i):
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "svc-%d" % i, "namespace": "default", "labels": PROXY_LABEL},
            "spec": {"type": "ClusterIP", "clusterIP": ip(VIP0 + i), "clusterIPs": [ip(VIP0 + i)],
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}}


def slice_object(i, addresses, trigger=None):
    metadata = {"name": "svc-%d-x7k2p" % i, "namespace": "default",
                "labels": {"kubernetes.io/service-name": "svc-%d" % i,
                           "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}}
    if trigger:
        metadata["annotations"] = {TRIGGER: trigger}
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4", "metadata": metadata,
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [address], "conditions": {"ready": True, "serving": True, "terminating": False},
                           "nodeName": "node-%d" % (n % 50)} for n, address in enumerate(addresses)]}


def rfc3339nano(seconds):
    """time.RFC3339Nano as the EndpointSlice controller writes it (UTC, trailing zeros trimmed)."""
    whole = int(seconds)
    nanos = int(round((seconds - whole) * 1e9))
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    text = datetime.datetime.fromtimestamp(whole, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = ("%09d" % nanos).rstrip("0")
    return text + ("." + fraction if fraction else "") + "Z"


def cmd_objects(args):
    items = [service_object(i) for i in range(args.services)]
    items += [slice_object(i, endpoints_of(i, args.endpoints)) for i in range(args.services)]
    with open(args.out, "w") as handle:
        json.dump({"items": items}, handle, separators=(",", ":"))


# --------------------------------------------------------------------------------------------
# Config files: the same services, --per-file of them per included file.


def file_name(start):
    return "part-%06d.yaml" % start


def write_part(directory, start, services, per_file, table):
    lines = ["services:"]
    for i in range(start, min(start + per_file, services)):
        lines.append("  - {name: svc-%d, vip: %s, port: 80, endpoints: [%s]}" % (
            i, ip(VIP0 + i), ", ".join("{address: %s, port: 8080}" % address for address in table[i])))
    path = os.path.join(directory, "services.d", file_name(start))
    with open(path + ".new", "w") as handle:
        handle.write("\n".join(lines) + "\n")
    os.rename(path + ".new", path)  # a finished file replaces the old one, as a config tool does


def cmd_files(args):
    os.makedirs(os.path.join(args.dir, "services.d"), exist_ok=True)
    table = [endpoints_of(i, args.endpoints) for i in range(args.services)]
    with open(os.path.join(args.dir, "nfq-lb.yaml"), "w") as handle:
        handle.write('queues: "0:1"\nserviceCIDRs: [10.96.0.0/12]\ntcpMode: mark\nmarks: {mask: %s}\n'
                     "metrics: {enabled: true, address: 127.0.0.1, port: %d}\ninclude: [services.d]\nservices: []\n" % (args.mask, args.port))
    for start in range(0, args.services, args.per_file):
        write_part(args.dir, start, args.services, args.per_file, table)


# --------------------------------------------------------------------------------------------
# The daemon: /metrics, /status, its log.


class Daemon:
    def __init__(self, address, log):
        self.base = "http://%s" % address
        self.log = log
        self.offset = os.path.getsize(log)

    def get(self, path):
        with urllib.request.urlopen(self.base + path, timeout=10) as reply:
            return reply.read().decode()

    def histogram(self):
        """(_sum in seconds, _count, {le: cumulative count}) of the programming latency."""
        total, count, buckets = 0.0, 0, {}
        for line in self.get("/metrics").splitlines():
            if not line.startswith(METRIC):
                continue
            name, value = line.rsplit(" ", 1)
            if name == METRIC + "_sum":
                total = float(value)
            elif name == METRIC + "_count":
                count = int(float(value))
            elif name.startswith(METRIC + "_bucket"):
                buckets[re.search(r'le="([^"]+)"', name).group(1)] = int(float(value))
        return total, count, buckets

    def endpoints(self, service):
        report = json.loads(self.get("/status?service=" + urllib.request.quote(service, safe="")))
        return {endpoint["address"] for entry in report["services"] for endpoint in entry["endpoints"]}

    def new_lines(self):
        """The log lines written since the last call."""
        with open(self.log, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        return data[:end].decode(errors="replace").splitlines()


def log_time(line):
    """The LineLogHandler's timestamp (UTC, milliseconds) as seconds since the epoch."""
    stamp = line.split(" ", 1)[0]
    moment = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


class ControlSocket(http.client.HTTPConnection):
    """The fake API server's control API: plain HTTP on a unix socket, one kept-alive connection."""

    def __init__(self, path):
        super().__init__("control", timeout=30)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.path)

    def apply(self, obj):
        body = json.dumps(obj).encode()
        self.request("POST", "/apply", body, {"Content-Type": "application/json"})
        reply = self.getresponse()
        data = reply.read()
        if reply.status != 200:
            raise RuntimeError("the fake API server refused the change: %s" % data.decode())


class SliceWatch(threading.Thread):
    """A watch of its own on the EndpointSlices, as a second client of the API server: when each
    change's event is on the wire (by the new address it carries), to tell the API server's
    share of the latency from the daemon's."""

    def __init__(self, server, resource_version):
        super().__init__(daemon=True)
        with open(server) as handle:
            info = json.load(handle)
        context = ssl.create_default_context(cafile=info["caFile"])
        self.connection = http.client.HTTPSConnection("127.0.0.1", info["port"], context=context, timeout=600)
        self.connection.request("GET", "/apis/discovery.k8s.io/v1/endpointslices?watch=1&resourceVersion=%s" % resource_version,
                                headers={"Authorization": "Bearer " + info["token"]})
        self.reply = self.connection.getresponse()
        if self.reply.status != 200:
            raise RuntimeError("the slice watch was refused: %d" % self.reply.status)
        self.seen = {}
        self.lock = threading.Lock()

    def run(self):
        try:
            while True:
                line = self.reply.readline()
                if not line:
                    return
                arrived = time.time()
                event = json.loads(line)
                for endpoint in event["object"].get("endpoints") or []:
                    for address in endpoint.get("addresses") or []:
                        if address.startswith("10.64."):
                            with self.lock:
                                self.seen.setdefault(address, arrived)
        except (OSError, ValueError, http.client.HTTPException):
            return

    def arrival(self, address):
        with self.lock:
            return self.seen.get(address)


def wait(deadline_seconds, condition, step=0.005):
    end = time.monotonic() + deadline_seconds
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(step)
    return None


def cmd_kubernetes(args):
    daemon = Daemon(args.metrics, args.log)
    control = ControlSocket(args.control)
    control.request("GET", "/state")
    state = json.loads(control.getresponse().read())
    watch = SliceWatch(args.server, state["resourceVersion"])
    watch.start()
    table = [endpoints_of(i, args.endpoints) for i in range(args.services)]
    samples = []
    # /metrics is read only before and after (at 10,000 services it is tens of megabytes and
    # takes the daemon seconds to write): each change's own latency is in its log line, the
    # same figure the histogram records.
    total, count, _ = daemon.histogram()
    started = time.monotonic()
    for c in range(args.changes):
        if time.monotonic() - started > args.time_limit:
            progress("kubernetes: stopping after %d changes: the %d s bound is reached" % (c, args.time_limit))
            break
        service, index, address = change_target(c, args.services, args.endpoints)
        old = table[service][index]
        table[service][index] = address
        daemon.new_lines()
        # The EndpointSlice controller stamps the slice with the time of the change it reflects
        # (the pod turning ready) before writing it: here the write follows at once.
        trigger = time.time()
        control.apply(slice_object(service, table[service], rfc3339nano(trigger)))
        applied_at = time.time()
        found = []

        def in_force():
            found.extend(line for line in daemon.new_lines() if "Kubernetes change in force" in line or "rejected" in line)
            return bool(found)

        if not wait(10, in_force, step=0.002):
            raise SystemExit("bench/programming: change %d (svc-%d) was not programmed within 10 s" % (c, service))
        line = found[0]
        match = re.search(r"applied in ([0-9.]+) ms; network programming latency ([0-9.]+) ms over ([0-9]+) trigger times", line)
        if not match:
            raise SystemExit("bench/programming: change %d: not a change in force with one latency: %s" % (c, line))
        if int(match.group(3)) != 1 or len(found) != 1:
            raise SystemExit("bench/programming: change %d came with %s trigger times in %d changes (pace it slower: --interval-ms)" % (
                c, match.group(3), len(found)))
        latency_ms = float(match.group(2))
        # The log's stamp is truncated to the millisecond and written after the tidying.
        log_latency = log_time(line) + 0.0005 - trigger
        time.sleep(max(0.0, trigger + args.interval_ms / 1000 - time.time()))
        # In force means in /status: the new endpoint is there and the old one is gone.
        now = daemon.endpoints("default/svc-%d:http" % service)
        if not (address in now and old not in now and len(now) == args.endpoints):
            raise SystemExit("bench/programming: change %d: svc-%d's endpoints are %s, not with %s instead of %s" % (
                c, service, sorted(now), address, old))
        on_wire = watch.arrival(address)
        samples.append({"change": c, "service": service, "new": address, "old": old, "trigger": trigger,
                        "apiWriteMs": (applied_at - trigger) * 1e3, "latencyMs": latency_ms,
                        "eventMs": None if on_wire is None else (on_wire - trigger) * 1e3,
                        "logLatencyMs": log_latency * 1e3, "applyMs": float(match.group(1))})
        if (c + 1) % 50 == 0:
            progress("kubernetes: %d changes, last %.2f ms" % (c + 1, latency_ms))
    new_total, new_count, buckets = daemon.histogram()
    # The histogram must hold exactly these changes, with these latencies.
    if new_count - count != len(samples) or abs((new_total - total) * 1e3 - sum(s["latencyMs"] for s in samples)) > 0.01 * len(samples) + 1:
        raise SystemExit("bench/programming: the histogram grew by %d observations, %.3f ms; the log lines say %d, %.3f ms" % (
            new_count - count, (new_total - total) * 1e3, len(samples), sum(s["latencyMs"] for s in samples)))
    with open(args.out, "w") as handle:
        json.dump({"source": "kubernetes", "samples": samples, "daemonBuckets": buckets,
                   "intervalMs": args.interval_ms}, handle, indent=1)


def cmd_file(args):
    daemon = Daemon(args.metrics, args.log)
    table = [endpoints_of(i, args.endpoints) for i in range(args.services)]
    reason = "SIGHUP" if args.trigger == "sighup" else "config file changed"
    samples = []
    started = time.monotonic()
    for c in range(args.changes):
        if time.monotonic() - started > args.time_limit:
            progress("file (%s): stopping after %d changes: the %d s bound is reached" % (args.trigger, c, args.time_limit))
            break
        service, index, address = change_target(c, args.services, args.endpoints)
        old = table[service][index]
        table[service][index] = address
        daemon.new_lines()
        write_part(args.dir, service - service % args.per_file, args.services, args.per_file, table)
        written = time.time()
        if args.trigger == "sighup":
            os.kill(args.pid, signal.SIGHUP)
        found = []

        def reloaded():
            found.extend(line for line in daemon.new_lines() if "reloaded config (%s)" % reason in line or "reload rejected" in line)
            return bool(found)

        if not wait(10, reloaded):
            raise SystemExit("bench/programming: change %d: no reload (%s) logged within 10 s" % (c, reason))
        line = found[0]
        if "reload rejected" in line:
            raise SystemExit("bench/programming: change %d: %s" % (c, line))
        match = re.search(r"parsed in ([0-9.]+) ms, applied in ([0-9.]+) ms", line)
        # The log's clock has milliseconds, truncated: its line is written 0-1 ms after the
        # stamp's millisecond began, so half a millisecond is added.
        latency = log_time(line) + 0.0005 - written
        now = daemon.endpoints("svc-%d" % service)
        if not (address in now and old not in now and len(now) == args.endpoints):
            raise SystemExit("bench/programming: change %d: svc-%d's endpoints are %s, not with %s instead of %s" % (
                c, service, sorted(now), address, old))
        samples.append({"change": c, "service": service, "new": address, "old": old, "latencyMs": latency * 1e3,
                        "parseMs": float(match.group(1)), "applyMs": float(match.group(2))})
        if args.trigger == "sighup":
            # The poller sees the renamed file too and reloads it again (nothing changed by
            # then): let that pass before the next change, so each change is one reload.
            wait(2, lambda: any("reloaded config (config file changed)" in l for l in daemon.new_lines()), step=0.02)
        time.sleep(max(0.0, written + args.interval_ms / 1000 - time.time()))
        if (c + 1) % 50 == 0:
            progress("file (%s): %d changes, last %.2f ms" % (args.trigger, c + 1, latency * 1e3))
    with open(args.out, "w") as handle:
        json.dump({"source": "file-" + args.trigger, "samples": samples, "intervalMs": args.interval_ms,
                   "perFile": args.per_file}, handle, indent=1)


# --------------------------------------------------------------------------------------------
# The report.


def percentile(values, p):
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def summary_row(name, values):
    return "| %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f |" % (
        name, len(values), percentile(values, 50), percentile(values, 90), percentile(values, 99), max(values), min(values))


def histogram_rows(columns):
    """Counts per bucket (upper bound inclusive), one column per series."""
    rows = []
    lower = 0
    for upper in BUCKETS_MS + [None]:
        cells = []
        for values in columns.values():
            n = sum(1 for v in values if v > lower and (upper is None or v <= upper))
            cells.append(str(n) if n else "")
        label = "%g-%g ms" % (lower, upper) if upper is not None else "> %g ms" % lower
        if any(cells):
            rows.append("| %s | %s |" % (label, " | ".join(cells)))
        lower = upper if upper is not None else lower
    return rows


def cmd_report(args):
    results = {}
    for path in args.results:
        with open(path) as handle:
            data = json.load(handle)
        results[data["source"]] = data
    out = []
    k8s = results.get("kubernetes")
    sighup = results.get("file-sighup")
    poll = results.get("file-poll")
    columns = {}
    rows = []
    if k8s:
        values = [s["latencyMs"] for s in k8s["samples"]]
        columns["Kubernetes"] = values
        rows.append(summary_row("Kubernetes source: trigger time to in force (the daemon's metric)", values))
        events = [s["eventMs"] for s in k8s["samples"] if s["eventMs"] is not None]
        if events:
            rows.append(summary_row("  of which the API server: trigger to the event on a watch (a second client's)", events))
            rows.append(summary_row("  of which nfq-lb: the event on the wire to in force", [
                s["latencyMs"] - s["eventMs"] for s in k8s["samples"] if s["eventMs"] is not None]))
        applied = [s["applyMs"] for s in k8s["samples"] if s["applyMs"] is not None]
        if applied:
            rows.append(summary_row("  of which the daemon's apply (build, publish, map write)", applied))
        logged = [s["logLatencyMs"] for s in k8s["samples"] if s["logLatencyMs"] is not None]
        if logged:
            rows.append(summary_row("Kubernetes source: trigger time to the log line (after the tidying, as the file rows)", logged))
    if sighup:
        values = [s["latencyMs"] for s in sighup["samples"]]
        columns["file + SIGHUP"] = values
        rows.append(summary_row("file source, SIGHUP: write to in force (the daemon's log)", values))
        rows.append(summary_row("  of which parse (the changed file: %d services)" % sighup.get("perFile", 0),
                                [s["parseMs"] for s in sighup["samples"]]))
        rows.append(summary_row("  of which apply (build, publish, map write)", [s["applyMs"] for s in sighup["samples"]]))
    if poll:
        values = [s["latencyMs"] for s in poll["samples"]]
        columns["file, poller"] = values
        rows.append(summary_row("file source, no signal: write to in force (the 250 ms poller)", values))
    out.append("| series (ms) | n | p50 | p90 | p99 | max | min |")
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    out += rows
    out.append("")
    out.append("| latency | %s |" % " | ".join(columns))
    out.append("|---|" + "---:|" * len(columns))
    out += histogram_rows(columns)
    if k8s and k8s.get("daemonBuckets"):
        out.append("")
        cumulative = k8s["daemonBuckets"]
        ordered = sorted(cumulative.items(), key=lambda item: float("inf") if item[0] == "+Inf" else float(item[0]))
        out.append("The daemon's own histogram at the end (`%s_bucket`, cumulative; its _count and _sum grew by exactly "
                   "the changes above): %s." % (
            METRIC, ", ".join("le %s: %d" % (le, n) for le, n in ordered)))
        both = [(s["latencyMs"], s["logLatencyMs"]) for s in k8s["samples"] if s["logLatencyMs"] is not None]
        if both:
            later = sorted(b - a for a, b in both)
            out.append("The log line's own stamp (millisecond, written after the tidying that follows the change in force) "
                       "is %.1f ms after the in-force instant at the median (%.1f to %.1f) over %d changes." % (
                           percentile(later, 50), later[0], later[-1], len(both)))
    print("\n".join(out))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("objects")
    p.add_argument("--services", type=int, required=True)
    p.add_argument("--endpoints", type=int, required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("files")
    p.add_argument("--services", type=int, required=True)
    p.add_argument("--endpoints", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--per-file", type=int, required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mask", required=True)
    for name in ("kubernetes", "file"):
        p = sub.add_parser(name)
        p.add_argument("--services", type=int, required=True)
        p.add_argument("--endpoints", type=int, required=True)
        p.add_argument("--changes", type=int, required=True)
        p.add_argument("--interval-ms", type=float, required=True)
        p.add_argument("--time-limit", type=int, default=600, help="seconds; the changes stop there")
        p.add_argument("--metrics", required=True, help="the daemon's metrics address, host:port")
        p.add_argument("--log", required=True, help="the daemon's log file")
        p.add_argument("--out", required=True)
        if name == "kubernetes":
            p.add_argument("--control", required=True, help="the fake API server's control socket")
            p.add_argument("--server", required=True, help="the fake API server's server.json")
        else:
            p.add_argument("--dir", required=True)
            p.add_argument("--per-file", type=int, required=True)
            p.add_argument("--pid", type=int, required=True)
            p.add_argument("--trigger", choices=["sighup", "poll"], required=True)
    p = sub.add_parser("report")
    p.add_argument("results", nargs="+")
    args = parser.parse_args()
    {"objects": cmd_objects, "files": cmd_files, "kubernetes": cmd_kubernetes, "file": cmd_file, "report": cmd_report}[args.command](args)


if __name__ == "__main__":
    main()
