import Foundation

/// The small helper programs the tests run inside pods. They live here as text (written to the
/// scratch directory at first use) rather than as loose files next to the sources, because the
/// test target declares no resources and SwiftPM warns about every unhandled file in it.
enum HelperPrograms {
    /// TCP echo server: `tcp-echo.py NAME ADDRESS PORT TTL`. Answers each line with
    /// "NAME line"; every connection on its own thread; ends after TTL seconds.
    static let tcpEchoServer = #"""
    import socket, sys, threading, time
    name, addr, port, ttl = sys.argv[1].encode(), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(64)
    srv.settimeout(1.0)

    def serve(conn):
        conn.settimeout(ttl)
        buf = b""
        try:
            while True:
                data = conn.recv(4096)
                if not data:
                    break
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    conn.sendall(name + b" " + line + b"\n")
        except OSError:
            pass
        finally:
            conn.close()

    end = time.monotonic() + ttl
    while time.monotonic() < end:
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
    """#

    /// Long-lived TCP client: `tcp-client.py HOST PORT INTERVAL DURATION`. Connects once,
    /// then every INTERVAL s sends "ping I" and waits up to 1.5 s for the echo. Prints, with
    /// the wall-clock time first: "connected LOCALPORT", "reply POD ping I", "timeout I",
    /// "closed", "error E", "connect-error E", "done". Ends after DURATION s or when the
    /// connection closes or fails.
    static let tcpClient = #"""
    import socket, sys, time
    host, port, interval, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])

    def out(*words):
        print("%.3f" % time.time(), *words, flush=True)

    try:
        s = socket.create_connection((host, port), timeout=2)
    except OSError as e:
        out("connect-error", e)
        sys.exit(2)
    out("connected", s.getsockname()[1])
    s.settimeout(1.5)
    end = time.monotonic() + duration
    i, buf = 0, b""
    while time.monotonic() < end:
        i += 1
        try:
            s.sendall(b"ping %d\n" % i)
            while b"\n" not in buf:
                data = s.recv(4096)
                if not data:
                    out("closed")
                    sys.exit(3)
                buf += data
            line, buf = buf.split(b"\n", 1)
            out("reply", line.decode())
        except socket.timeout:
            out("timeout", i)
        except OSError as e:
            out("error", e)
            sys.exit(4)
        time.sleep(interval)
    out("done")
    """#

    /// UDP client with a fixed source port: `udp-client.py HOST PORT SRCPORT INTERVAL DURATION`.
    /// Every INTERVAL s sends "ping I" from SRCPORT and waits up to INTERVAL s for an answer.
    /// Prints, with the wall-clock time first: "reply POD ping I", "timeout I", "error E", "done".
    static let udpClient = #"""
    import socket, sys, time
    host, port, sport, interval, duration = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])

    def out(*words):
        print("%.3f" % time.time(), *words, flush=True)

    v6 = ":" in host
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::" if v6 else "0.0.0.0", sport))
    end = time.monotonic() + duration
    i = 0
    while time.monotonic() < end:
        i += 1
        started = time.monotonic()
        s.settimeout(interval)
        try:
            s.sendto(b"ping %d" % i, (host, port))
            data, _ = s.recvfrom(65535)
            out("reply", data.decode())
        except socket.timeout:
            out("timeout", i)
        except OSError as e:
            out("error", e)
        rest = interval - (time.monotonic() - started)
        if rest > 0:
            time.sleep(rest)
    out("done")
    """#

    /// HTTP/1.0 GETs from a small range of fixed client ports, in turn:
    /// `http-ports.py HOST PORT FIRSTPORT NPORTS COUNT [pin]` ("pin": run on the first CPU only,
    /// so that every SYN is queued to the same queue under --queue-cpu-fanout). Each connection binds its port with
    /// SO_REUSEADDR, sends the request and reads until the server closes: the server closes
    /// first, so the client port is free again at once (curl --local-port may close first and
    /// leave its port in TIME_WAIT, and then cannot bind it again). Prints one line per
    /// request: "RC|CLIENTPORT|SECONDS|BODY-or-ERROR" (RC 0 ok, 1 failed).
    static let httpFromPorts = #"""
    import os, socket, sys, time
    host, port, first, nports, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    if sys.argv[6:] == ["pin"]:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    for i in range(count):
        sport = first + i % nports
        started = time.monotonic()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.settimeout(3)
        try:
            s.bind(("0.0.0.0", sport))
            s.connect((host, port))
            s.sendall(b"GET / HTTP/1.0\r\nHost: service\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            body = data.split(b"\r\n\r\n", 1)[-1].decode().strip()
            print("0|%d|%.3f|%s" % (sport, time.monotonic() - started, body), flush=True)
        except OSError as e:
            print("1|%d|%.3f|%s" % (sport, time.monotonic() - started, e), flush=True)
        finally:
            s.close()
    """#

    /// Two datagrams of one flow sent back to back from two CPUs:
    /// `udp-two-cpus.py HOST PORT SRCPORT`. One socket bound to SRCPORT sends "ping 1" while
    /// pinned to the first CPU and "ping 2" pinned to the last, then waits up to 2 s for both
    /// answers. With `--queue-cpu-fanout` the kernel queues each on the queue of its CPU.
    /// Prints "reply POD ping N" per answer, "timeout", "done" (wall-clock time first).
    static let udpFromTwoCPUs = #"""
    import os, socket, sys, time
    host, port, sport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

    def out(*words):
        print("%.3f" % time.time(), *words, flush=True)

    cpus = sorted(os.sched_getaffinity(0))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", sport))
    s.settimeout(2)
    os.sched_setaffinity(0, {cpus[0]})
    s.sendto(b"ping 1", (host, port))
    os.sched_setaffinity(0, {cpus[-1]})
    s.sendto(b"ping 2", (host, port))
    try:
        for _ in range(2):
            data, _ = s.recvfrom(65535)
            out("reply", data.decode())
    except socket.timeout:
        out("timeout")
    out("done")
    """#

    private static let written = Locked<[String: String]>([:])

    /// The path of `program` written to the scratch directory (once).
    static func path(_ name: String, _ program: String) throws -> String {
        try written.withLock { paths in
            if let path = paths[name] { return path }
            let path = Shell.scratch + "/" + name
            let text = program.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n") + "\n"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            paths[name] = path
            return path
        }
    }
}

/// The tests' TCP echo server on :9100 in every pod (cluster.sh has no TCP server whose
/// connections stay open). Started detached, like cluster.sh's servers: not a child of the test
/// process, so cluster_down's SIGKILL is followed by init's reaping, not by Foundation's.
enum TCPEchoServer {
    static func startEverywhere() throws {
        let script = try HelperPrograms.path("tcp-echo.py", HelperPrograms.tcpEchoServer)
        for pod in Cluster.pods {
            let log = "\(Shell.scratch)/tcp-echo-\(pod).log"
            let start = "ip netns exec \(Cluster.ns(pod)) timeout -s KILL 1800 python3 -u \(Shell.quote(script)) \(pod) "
                + "\(Cluster.ip(pod)) \(Cluster.tcpEchoPort) 1800 </dev/null >\(Shell.quote(log)) 2>&1 &"
            let started = try Shell.run(["bash", "-c", start], timeout: 10, detachDescendants: true)
            guard started.succeeded else { throw SetupError("starting the TCP echo server in \(pod) failed: \(started)") }
            let listening = try eventually(timeout: 5, interval: 0.1) {
                try !Cluster.exec(pod, ["ss", "-Hltn", "sport = :\(Cluster.tcpEchoPort)"]).trimmedStdout.isEmpty
            }
            guard listening else {
                throw SetupError("the TCP echo server does not listen in \(pod) after 5 s: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            }
        }
    }
}

/// One line a helper client printed: its wall-clock time and what happened.
struct ClientEvent: Sendable, CustomStringConvertible {
    var time: Double
    var kind: String
    var words: [String]

    /// For "reply POD ping I": the pod.
    var pod: String? { kind == "reply" ? words.first : nil }

    var description: String { "\(String(format: "%.3f", time)) \(kind) \(words.joined(separator: " "))" }

    static func parse(_ text: String) -> [ClientEvent] {
        text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ").map(String.init)
            guard parts.count >= 2, let time = Double(parts[0]) else { return nil }
            return ClientEvent(time: time, kind: parts[1], words: Array(parts.dropFirst(2)))
        }
    }
}

/// A helper client running in a pod in the background.
final class HelperClient: @unchecked Sendable {
    let process: BackgroundProcess

    private init(process: BackgroundProcess) { self.process = process }

    /// A long-lived TCP connection from `pod` to `host:port`, pinging every `interval` s.
    static func tcp(from pod: String, to host: String, port: Int, interval: Double = 0.2, duration: Double) throws -> HelperClient {
        let script = try HelperPrograms.path("tcp-client.py", HelperPrograms.tcpClient)
        return HelperClient(process: try Cluster.spawn(pod, ["python3", "-u", script, host, String(port), String(interval), String(duration)],
                                                       timeout: duration + 10, label: "tcp-client"))
    }

    /// A UDP client in `pod` sending from `sourcePort` to `host:port` every `interval` s.
    static func udp(from pod: String, to host: String, port: Int, sourcePort: Int, interval: Double = 0.2, duration: Double) throws -> HelperClient {
        let script = try HelperPrograms.path("udp-client.py", HelperPrograms.udpClient)
        return HelperClient(process: try Cluster.spawn(pod, ["python3", "-u", script, host, String(port), String(sourcePort), String(interval), String(duration)],
                                                       timeout: duration + 10, label: "udp-client"))
    }

    var events: [ClientEvent] { ClientEvent.parse(process.stdout) }

    /// Waits (bounded) until some event satisfies `condition`; returns it.
    func waitFor(timeout: Double, _ condition: (ClientEvent) -> Bool) -> ClientEvent? {
        var found: ClientEvent?
        eventually(timeout: timeout, interval: 0.05) {
            found = events.first(where: condition)
            return found != nil || !process.isRunning
        }
        return found ?? events.first(where: condition)
    }

    /// Waits for the client to end by itself (bounded), then returns everything it printed.
    func finish(timeout: Double) -> [ClientEvent] {
        process.wait(timeout: timeout)
        return events
    }

    func stop() { process.stop(grace: 1) }

    var transcript: String { process.stdout + process.stderr }
}
