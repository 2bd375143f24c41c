import Foundation
import Testing
@testable import RagPipeIndex

/// `embed --cache`: an edited corpus re-embeds only what changed and rebuilds the same bytes.
@Suite struct IncrementalTests {
    func pipeline(_ embed: String) -> String {
        "chunk --counter upper-bound --max-tokens 64 --overlap 8 corpus | \(embed)"
    }

    func run(_ dir: TempDir, embedArgs: String, cache: Bool, output: String) throws -> ShellResult {
        let r = try shell(pipeline("embed \(embedArgs)" + (cache ? " --cache cache" : "")) + " | build-index -o \(output)", in: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        return r
    }

    static func counts(_ stderr: String) -> (hits: Int, embedded: Int)? {
        guard let r = stderr.range(of: #"cache: ([0-9,]+) hits, ([0-9,]+) embedded"#, options: .regularExpression) else { return nil }
        let parts = stderr[r].split(separator: " ").compactMap { Int($0.replacingOccurrences(of: ",", with: "")) }
        return parts.count == 2 ? (parts[0], parts[1]) : nil
    }

    func check(embedArgs: String) throws {
        let dir = try TempDir()
        for i in 0..<4 {
            dir.write("corpus/doc\(i).md", "# Document \(i)\n\n" + (0..<30).map { "Sentence \($0) of document \(i) talks about topic \($0 % 5)." }.joined(separator: " "))
        }
        let first = try run(dir, embedArgs: embedArgs, cache: true, output: "first.ragx")
        let total = try #require(Self.counts(first.stderr))
        #expect(total.hits == 0 && total.embedded > 8)

        // Edit one document: only its chunks are embedded again.
        dir.write("corpus/doc2.md", "# Document 2\n\nThis document was rewritten entirely. It now says something else.")
        let docChunks = try shell("chunk --counter upper-bound --max-tokens 64 --overlap 8 corpus/doc2.md | grep -c '^{\"id\"'", in: dir.path)
        let edited = try run(dir, embedArgs: embedArgs, cache: true, output: "incremental.ragx")
        let after = try #require(Self.counts(edited.stderr))
        #expect(after.embedded == Int(docChunks.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(after.hits > 0)

        // Byte for byte the same as a build without any cache.
        _ = try run(dir, embedArgs: embedArgs, cache: false, output: "scratch.ragx")
        #expect(try shell("cmp incremental.ragx scratch.ragx", in: dir.path).status == 0)

        // A damaged entry is detected, recomputed and rewritten; the index is unchanged.
        let entries = try FileManager.default.subpathsOfDirectory(atPath: dir.path + "/cache").filter { $0.hasSuffix(".vec") }
        let victim = dir.path + "/cache/" + entries[0]
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: victim)))
        bytes[40] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: victim))
        let repaired = try run(dir, embedArgs: embedArgs, cache: true, output: "repaired.ragx")
        #expect(Self.counts(repaired.stderr)?.embedded == 1)
        #expect(try shell("cmp repaired.ragx scratch.ragx", in: dir.path).status == 0)

        // A removed document leaves the next index.
        try FileManager.default.removeItem(atPath: dir.path + "/corpus/doc3.md")
        _ = try run(dir, embedArgs: embedArgs, cache: true, output: "removed.ragx")
        let index = try IndexReader(path: dir.path + "/removed.ragx")
        #expect(try (0..<index.count).allSatisfy { try index.record($0).source != "doc3.md" })
        #expect(dir.contents("cache").allSatisfy { !$0.contains(".tmp-") })
    }

    @Test func hashEmbedderRebuildsIncrementally() throws { try check(embedArgs: "--embedder hash") }

    @Test(.enabled(if: modelAvailable, "needs the model: run `make model`"))
    func miniLMRebuildsIncrementally() throws { try check(embedArgs: "--model '\(modelDirectory)'") }
}
