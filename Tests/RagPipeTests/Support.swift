import Foundation
@testable import RagPipeFuzzing

/// A temporary directory removed when the value goes away.
final class TempDir {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "ragpipe-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    @discardableResult
    func write(_ name: String, _ text: String) -> String {
        write(name, bytes: Array(text.utf8))
    }

    @discardableResult
    func write(_ name: String, bytes: [UInt8]) -> String {
        let full = path + "/" + name
        try! FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: full, contents: Data(bytes))
        return full
    }

    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path + "/" + name) }

    func contents(_ name: String) -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: path + "/" + name)) ?? [] }
}

/// The folder of the built executables: the test bundle sits beside them.
let productsDirectory: String = {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var dir = (exe as NSString).deletingLastPathComponent
    // On macOS the bundle is a directory tree: walk up to the folder holding `chunk`.
    while !FileManager.default.fileExists(atPath: dir + "/chunk") && dir != "/" { dir = (dir as NSString).deletingLastPathComponent }
    return dir
}()

/// The folder whose executables the command-line tests run: `productsDirectory`, or the folder
/// RAGPIPE_TEST_BIN names. Set it to run the command-line tests against other binaries, e.g. an
/// older build, to show a test fails before its fix. Tests that call the library in-process still
/// test this checkout's library.
let commandDirectory: String = {
    guard let folder = ProcessInfo.processInfo.environment["RAGPIPE_TEST_BIN"], !folder.isEmpty else { return productsDirectory }
    return URL(fileURLWithPath: folder).path  // absolute: the tests run commands in other directories
}()

struct ShellResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a shell command line with the built executables (`commandDirectory`) first on PATH.
func shell(_ command: String, in directory: String? = nil, stdin: String? = nil) throws -> ShellResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = ["-o", "pipefail", "-c", command]
    var env = ProcessInfo.processInfo.environment
    env["PATH"] = commandDirectory + ":" + (env["PATH"] ?? "/usr/bin:/bin")
    process.environment = env
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let out = Pipe(), err = Pipe(), input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    // Read both pipes concurrently so neither fills up.
    let errBox = DataBox()
    let group = DispatchGroup()
    group.enter()
    let errHandle = err.fileHandleForReading
    DispatchQueue.global().async { errBox.data = errHandle.readDataToEndOfFile(); group.leave() }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    let errData = errBox.data
    process.waitUntilExit()
    return ShellResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                       stderr: String(decoding: errData, as: UTF8.self))
}

/// The committed test data, read where it lies in the checkout: `#filePath` names this file in
/// the source tree on Linux and macOS alike, so no copy into `.build` (SwiftPM resources and
/// `Bundle.module`) can go stale or hide a deleted file.
enum Fixtures {
    static let directory: String = {
        var dir = URL(fileURLWithPath: #filePath)
        dir.deleteLastPathComponent()
        return dir.appendingPathComponent("Fixtures").path
    }()

    /// The full path of `name` under Fixtures/; throws, naming that path, when it is missing.
    static func path(_ name: String, in directory: String = Fixtures.directory) throws -> String {
        let full = directory + "/" + name
        guard FileManager.default.fileExists(atPath: full) else { throw FixtureError.missing(full) }
        return full
    }

    static func data(_ name: String, in directory: String = Fixtures.directory) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: try path(name, in: directory)))
    }

    /// Each non-empty line of a JSON Lines fixture as an object.
    static func jsonLines(_ name: String, in directory: String = Fixtures.directory) throws -> [[String: Any]] {
        let full = try path(name, in: directory)
        var objects: [[String: Any]] = []
        for (number, line) in try String(contentsOfFile: full, encoding: .utf8).split(separator: "\n").enumerated() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw FixtureError.malformed(full, "line \(number + 1) is not a JSON object")
            }
            objects.append(object)
        }
        return objects
    }
}

enum FixtureError: Error, CustomStringConvertible {
    case missing(String)
    case malformed(String, String)

    var description: String {
        switch self {
        case .missing(let path): "missing test fixture \(path)"
        case .malformed(let path, let why): "malformed test fixture \(path): \(why)"
        }
    }
}

final class DataBox: @unchecked Sendable { var data = Data() }

/// `original` edited by `edit`, its checksums mended (so the reader's own checks of the edited
/// field are what refuses it), written to `dir`/damaged.ragx; the path.
func damagedCopy(of original: Data, in dir: TempDir, _ edit: (inout [UInt8]) -> Void) throws -> String {
    var bytes = [UInt8](original)
    edit(&bytes)
    FuzzHarness.mendChecksums(&bytes, fileSize: false)
    let p = dir.path + "/damaged.ragx"
    try Data(bytes).write(to: URL(fileURLWithPath: p))
    return p
}

/// Stores `value` little-endian at `offset`.
func put32(_ bytes: inout [UInt8], _ value: UInt32, at offset: Int) {
    withUnsafeBytes(of: value.littleEndian) { for k in 0..<4 { bytes[offset + k] = $0[k] } }
}
