import Foundation
import Testing
@testable import RagPipeSupport
@testable import RagPipeIndex

/// `build-index` killed at any moment leaves the old index or the new one, never a mix.
@Suite struct CrashSafetyTests {
    static let kills = Int(ProcessInfo.processInfo.environment["RAGPIPE_KILL_LOOPS"] ?? "") ?? 12

    @Test func killedBuildsLeaveOldOrNewIndex() throws {
        let dir = try TempDir()
        // Two streams that differ in record count, so old and new indexes are told apart.
        var lines: [String] = []
        for i in 0..<6000 {
            lines.append("Record \(i) says something about subject \(i % 17) and \(i % 5).")
        }
        dir.write("texts.txt", lines.joined(separator: "\n") + "\n")
        _ = try shell("embed --embedder hash --lines texts.txt | awk '{ sub(/^\\{/, \"{\\\"id\\\":\\\"\" NR \"\\\",\"); print } END { print \"{\\\"end_of_stream\\\":{\\\"version\\\":1,\\\"stage\\\":\\\"embed\\\",\\\"records\\\":\" NR \"}}\" }' > a.jsonl && "
            + "(head -n 5999 a.jsonl; echo '{\"end_of_stream\":{\"version\":1,\"stage\":\"embed\",\"records\":5999}}') > b.jsonl", in: dir.path)
        let target = dir.path + "/index.ragx"
        // One complete build: the old index, and the time a build takes here.
        var clock = Stopwatch()
        #expect(try shell("build-index -o index.ragx b.jsonl", in: dir.path).status == 0)
        let buildMicroseconds = UInt64(clock.seconds * 1e6)
        clock.restart()
        var previous: Int? = 5999
        var outcomes = (old: 0, new: 0, absent: 0)
        var rng = SplitMix(seed: 3)
        for round in 0..<Self.kills {
            let input = round % 2 == 0 ? "a.jsonl" : "b.jsonl"
            let expected = round % 2 == 0 ? 6000 : 5999
            let process = Process()
            process.executableURL = URL(fileURLWithPath: commandDirectory + "/build-index")
            process.arguments = ["-o", target, dir.path + "/" + input]
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Anywhere from start-up to a little after the rename.
            usleep(UInt32(rng.next() % (buildMicroseconds * 13 / 10 + 1)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if FileManager.default.fileExists(atPath: target) {
                let index = try IndexReader(path: target)
                try index.verify()
                if index.count == expected { outcomes.new += 1 } else {
                    #expect(index.count == previous, "round \(round): \(index.count) records is neither old nor new")
                    outcomes.old += 1
                }
                previous = index.count
            } else {
                Issue.record("round \(round): a complete index disappeared")
                outcomes.absent += 1
            }
        }
        print("kill loop: \(Self.kills) builds killed (a build takes \(buildMicroseconds / 1000) ms here): \(outcomes.new) left the new index, \(outcomes.old) the old one")
        #expect(outcomes.absent == 0)
        // The next build removes the temporaries of killed writers and completes.
        let finish = try shell("build-index -o index.ragx a.jsonl", in: dir.path)
        #expect(finish.status == 0)
        #expect(dir.contents("").filter { $0.contains(".tmp-") }.isEmpty, "\(dir.contents(""))")
        #expect(try IndexReader(path: target).count == 6000)
    }
}
