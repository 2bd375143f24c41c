// libFuzzer entry point (scripts/fuzz.sh compiles it with the library sources and
// `swiftc -sanitize=fuzzer,address`). RAGPIPE_FUZZ_TARGET picks the parser (FuzzHarness.Target).
#if canImport(Glibc)
import Glibc
#endif

let fuzzTarget: FuzzHarness.Target = {
    let name = getenv("RAGPIPE_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzHarness.Target(rawValue: name) else {
        let names = FuzzHarness.Target.allCases.map(\.rawValue).joined(separator: ", ")
        fputs("fuzz: set RAGPIPE_FUZZ_TARGET to one of \(names)\n", stderr)
        exit(64)
    }
    return target
}()

/// The readers take paths, as the tools do: each input goes to a file in memory (/dev/shm).
let scratch: String = {
    let dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
    return "\(dir)/ragpipe-fuzz-\(getpid())"
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    FuzzHarness.run(fuzzTarget, UnsafeRawBufferPointer(start: bytes, count: size), scratch: scratch)
    return 0
}
