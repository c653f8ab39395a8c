import NFQLB

/// libFuzzer entry point: any bytes as a config file. The loader must answer with a config or
/// with located issues, never trap; and an accepted config must survive being checked again.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfigLoader(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let config = try ConfigLoader().parse(text, file: "fuzz.yaml")
        // Whatever was accepted is internally consistent.
        precondition(!config.serviceCIDRs.isEmpty, "a config without service CIDRs was accepted")
        // Node ports (keyed by 0.0.0.0 / ::) and external or load-balancer IPs lie outside the
        // service CIDRs by design; cluster IPs never do.
        for entry in config.services where entry.service.kind == .clusterIP {
            precondition(config.serviceCIDRs.contains { $0.contains(entry.service.vip) }, "a VIP outside serviceCIDRs was accepted")
            precondition(entry.service.port > 0, "port 0 was accepted")
        }
    } catch {
        for issue in error.issues {
            precondition(issue.file == "fuzz.yaml", "an issue without the file name")
            precondition(!issue.message.isEmpty, "an issue without a message")
        }
    }
    return 0
}

/// libFuzzer's driver: SwiftPM names an executable's entry point `<Target>_main`, and with no
/// top-level code (`-parse-as-library`) this is it; libFuzzer's own `main` is then not linked.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
) -> Int32

@_cdecl("ConfigFuzz_main")
public func configFuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments, fuzzConfigLoader)
}
