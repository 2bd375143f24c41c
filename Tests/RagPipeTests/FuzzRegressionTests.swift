import Foundation
import Testing
@testable import RagPipeSupport
@testable import RagPipeIndex
@testable import RagPipeFuzzing

/// Every input the fuzzer ever crashed on (Tests/Fuzz/regressions/TARGET/) and every seed
/// (Tests/Fuzz/seeds/TARGET/), replayed through the fuzz targets' own code: none may trap.
@Suite struct FuzzRegressionTests {
    static let fuzzDirectory: String = {
        var dir = URL(fileURLWithPath: #filePath)
        dir.deleteLastPathComponent()
        dir.deleteLastPathComponent()
        return dir.appendingPathComponent("Fuzz").path
    }()

    @Test(arguments: FuzzHarness.Target.allCases)
    func savedInputsDoNotCrash(_ target: FuzzHarness.Target) throws {
        let dir = try TempDir()
        var replayed = 0
        for kind in ["seeds", "regressions"] {
            let folder = Self.fuzzDirectory + "/\(kind)/\(target.rawValue)"
            for name in ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted() {
                let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: folder + "/" + name)))
                bytes.withUnsafeBytes { FuzzHarness.run(target, $0, scratch: dir.path + "/input") }
                replayed += 1
            }
        }
        #expect(replayed > 0, "every target has seeds")
    }

    /// The first crash found (fuzz target `index`): an SQ8P section whose steps overflow a query's
    /// weights to infinity, and NaN then trapped converting them to Int16.
    @Test func hugeSQ8StepsAreACorruptIndexNotATrap() throws {
        let path = Self.fuzzDirectory + "/regressions/index/sq8-step-overflows-query-weights.ragx"
        #expect(throws: RagPipeError.self) { try IndexReader(path: path) }
    }
}
