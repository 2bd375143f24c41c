import Foundation
import Testing
@testable import RagPipeSupport

/// A stream cut short at a line boundary (a stage killed mid-pipeline) must never become the
/// index: every `chunk` and `embed` output ends with an end-of-stream line that counts its records.
@Suite struct StreamEndTests {
    func corpus(files: Int, sentences: Int = 20) throws -> TempDir {
        let dir = try TempDir()
        for f in 0..<files {
            dir.write("corpus/doc\(f).md", "# Document \(f)\n\n" + (0..<sentences).map {
                "Sentence \($0) of document \(f) is about topic \(($0 * 7 + f) % 23) and subject \($0 % 5)."
            }.joined(separator: " ") + "\n")
        }
        return dir
    }

    @Test func streamsCutAtALineBoundaryAreRefusedAndLeaveTheIndex() throws {
        let dir = try corpus(files: 6)
        let build = try shell("chunk --counter upper-bound --max-tokens 64 corpus | embed --embedder hash | build-index -o T.ragx", in: dir.path)
        #expect(build.status == 0, "\(build.stderr)")
        let good = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/T.ragx"))
        let chunks = try shell("chunk --counter upper-bound --max-tokens 64 corpus > chunks.jsonl && grep -c '^{\"id\"' chunks.jsonl", in: dir.path)
        let n = Int(chunks.stdout.trimmingCharacters(in: .whitespacesAndNewlines))!
        #expect(n > 6)
        // Cut after chunk, and after embed: the next stage refuses, the index stays as it was.
        for cut in ["head -n \(n / 2) chunks.jsonl | embed --embedder hash | build-index -o T.ragx",
                    "embed --embedder hash chunks.jsonl | head -n \(n - 1) | build-index -o T.ragx",
                    "embed --embedder hash chunks.jsonl | head -n \(n) | build-index -o T.ragx"] {
            let r = try shell(cut, in: dir.path)
            // 65 from the stage that saw the cut, or 66 from build-index when embed refused before writing anything.
            #expect(r.status == 65 || r.status == 66, "\(cut): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains("without an end_of_stream line"), "\(r.stderr)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: dir.path + "/T.ragx")) == good, "\(cut)")
        }
        // A count that does not match its segment: records lost between two stages.
        let lost = try shell("embed --embedder hash chunks.jsonl | sed 2d | build-index -o T.ragx", in: dir.path)
        #expect(lost.status == 65, "\(lost.stderr)")
        #expect(lost.stderr.contains("counts \(n) records, its segment has \(n - 1)"), "\(lost.stderr)")
        // Hand-made streams are accepted only when asked.
        let handMade = try shell("embed --embedder hash chunks.jsonl | grep -v end_of_stream > hand.jsonl && build-index --allow-unterminated -o H.ragx hand.jsonl"
                                 + " && grep -v end_of_stream chunks.jsonl | embed --embedder hash --allow-unterminated | build-index -o H2.ragx && cmp H.ragx T.ragx && cmp H2.ragx T.ragx", in: dir.path)
        #expect(handMade.status == 0, "\(handMade.stderr)")
        let newer = try shell("(embed --embedder hash chunks.jsonl | grep -v end_of_stream; echo '{\"end_of_stream\":{\"version\":2,\"stage\":\"x\",\"records\":\(n)}}') | build-index -o T.ragx", in: dir.path)
        #expect(newer.status == 65 && newer.stderr.contains("version 2 is newer"), "\(newer.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.path + "/T.ragx")) == good)
    }

    @Test func concatenatedStreamsAndPartFilesEachCloseTheirSegment() throws {
        let dir = try corpus(files: 4)
        let r = try shell("""
            mkdir parts && for i in 0 1 2 3; do chunk --counter upper-bound --max-tokens 64 corpus/doc$i.md > parts/c$i.jsonl; done
            cat parts/c*.jsonl | embed --embedder hash > cat.jsonl
            for i in 0 1 2 3; do embed --embedder hash parts/c$i.jsonl > parts/e$i.jsonl; done
            build-index -o cat.ragx cat.jsonl && build-index -o parts.ragx parts/e*.jsonl && cat parts/e*.jsonl | build-index -o stdin.ragx
            cmp cat.ragx parts.ragx && cmp cat.ragx stdin.ragx
            grep -c end_of_stream cat.jsonl
            """, in: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasSuffix("4\n"), "embed keeps one end-of-stream line per input segment: \(r.stdout)")
        // One part file whose producer died: the whole build is refused.
        let broken = try shell("head -n 1 parts/e2.jsonl > parts/e2.cut && build-index -o broken.ragx parts/e0.jsonl parts/e2.cut parts/e3.jsonl", in: dir.path)
        #expect(broken.status == 65 && broken.stderr.contains("parts/e2.cut:1"), "\(broken.stderr)")
        let empty = try shell(": > parts/empty.jsonl && build-index -o broken.ragx parts/e0.jsonl parts/empty.jsonl", in: dir.path)
        #expect(empty.status == 66, "\(empty.stderr)")
        #expect(!dir.exists("broken.ragx"))
    }

    /// RAGPIPE_KILL_ACCEPT_UNTERMINATED=1 runs the kill loop as ragpipe ran before end-of-stream
    /// lines (to see it fail).
    static let unterminated = ProcessInfo.processInfo.environment["RAGPIPE_KILL_ACCEPT_UNTERMINATED"] == "1" ? ["--allow-unterminated"] : []

    /// Starts `chunk | embed | build-index -o target` as three processes joined by pipes.
    func startPipeline(_ dir: TempDir, target: String) throws -> [Process] {
        let stages: [(String, [String])] = [
            ("chunk", ["--counter", "upper-bound", dir.path + "/corpus"]),
            ("embed", ["--embedder", "hash", "--dim", "64"] + Self.unterminated),
            ("build-index", ["-o", target] + Self.unterminated),
        ]
        var processes: [Process] = []
        var upstream: Pipe?
        for (i, (tool, arguments)) in stages.enumerated() {
            let p = Process()
            // Children of the test runner inherit its blocked signals (SIGTERM among them), so each
            // stage starts with an empty mask, as from a shell: python3 clears it and execs the tool.
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["python3", "-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])",
                           commandDirectory + "/" + tool] + arguments
            p.standardError = FileHandle.nullDevice
            if let upstream { p.standardInput = upstream } else { p.standardInput = FileHandle.nullDevice }
            let next = i < stages.count - 1 ? Pipe() : nil
            p.standardOutput = next ?? FileHandle.nullDevice
            try p.run()
            // The parent's copies must go, or a dead stage's reader would never see end of file.
            try upstream?.fileHandleForReading.close()
            try next?.fileHandleForWriting.close()
            upstream = next
            processes.append(p)
        }
        return processes
    }

    /// `rchar` or `wchar` of /proc/PID/io: bytes the process has read or written so far.
    static func ioBytes(_ pid: Int32, _ field: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/io", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    /// Moments to kill at, as (stage, field, bytes): `chunk` and `embed` flush 1 MiB at a time,
    /// each write ending at a line boundary, so a kill after one leaves a complete-looking prefix
    /// downstream. `build-index` is also killed once its input is all read (writing, renaming).
    static let moments: [(stage: Int, field: String, bytes: Int)] = [
        (0, "wchar", 1 << 20), (1, "wchar", 1 << 20), (1, "wchar", 2 << 20), (2, "rchar", 1 << 20), (2, "rchar", -1),
    ]

    @Test func killingAnyStageLeavesTheOldOrTheCompleteNewIndex() throws {
        #expect(FileManager.default.fileExists(atPath: "/proc/self/io"), "the kill loop times kills by /proc/PID/io")
        // 1.4 MB of chunk records and 2.5 MB of embedded ones: more than one 1 MiB write each.
        let dir = try corpus(files: 40, sentences: 300)
        let target = dir.path + "/T.ragx"
        // The old index: another corpus. The new one: this corpus, built once without a kill.
        let old = try corpus(files: 3)
        #expect(try shell("chunk --counter upper-bound corpus | embed --embedder hash --dim 64 | build-index -o '\(target)'", in: old.path).status == 0)
        let oldBytes = try Data(contentsOf: URL(fileURLWithPath: target))
        let clock = Stopwatch()
        #expect(try shell("chunk --counter upper-bound corpus | embed --embedder hash --dim 64 | build-index -o new.ragx", in: dir.path).status == 0)
        let pipelineMilliseconds = Int(clock.seconds * 1000)
        let newBytes = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/new.ragx"))
        #expect(newBytes != oldBytes)
        var outcomes = (old: 0, new: 0, missed: 0), rounds = 0
        var log: [String] = []
        for moment in Self.moments {
            for signal in [SIGKILL, SIGTERM] {
                let processes = try startPipeline(dir, target: target)
                let victim = processes[moment.stage]
                // Poll until the moment (or the stage's end: then the kill comes too late to matter).
                var reached = false
                while victim.isRunning {
                    if moment.bytes < 0 {
                        if !processes[1].isRunning { reached = true; break }
                    } else if let n = Self.ioBytes(victim.processIdentifier, moment.field), n >= moment.bytes {
                        reached = true; break
                    }
                    usleep(200)
                }
                kill(victim.processIdentifier, signal)
                for p in processes { p.waitUntilExit() }
                let now = try Data(contentsOf: URL(fileURLWithPath: target))
                let name = ["chunk", "embed", "build-index"][moment.stage]
                #expect(now == oldBytes || now == newBytes, "\(name) killed (signal \(signal)) at \(moment.field) \(moment.bytes): the index is neither old nor new")
                if !reached { outcomes.missed += 1 } else if now == newBytes { outcomes.new += 1 } else if now == oldBytes { outcomes.old += 1 }
                log.append("\(name)@\(moment.field)\(moment.bytes < 0 ? "-end" : "≥\(moment.bytes >> 20)MiB")/\(signal == SIGKILL ? "KILL" : "TERM"):\(now == newBytes ? "new" : now == oldBytes ? "old" : "MIX")")
                // Back to the old index, so that each round can tell the two apart.
                try oldBytes.write(to: URL(fileURLWithPath: target))
                rounds += 1
            }
        }
        print("stream kill loop: \(rounds) pipelines with one stage killed mid-stream (a pipeline takes \(pipelineMilliseconds) ms here): "
              + "\(outcomes.old) left the old index, \(outcomes.new) the new one, \(outcomes.missed) stages ended before their moment: " + log.joined(separator: " "))
        // Kills that land mid-stream leave the old index; if none did, the loop tested nothing.
        #expect(outcomes.old > 0, "no kill landed mid-stream")
    }
}
