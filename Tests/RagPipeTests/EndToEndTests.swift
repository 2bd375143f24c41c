import Foundation
import Testing

/// Runs the four built executables through real pipes.
@Suite struct EndToEndTests {
    func makeCorpus() throws -> TempDir {
        let dir = try TempDir()
        dir.write("corpus/indexes.md", """
        # Vector indexes

        ## IVF

        An inverted file index partitions the vectors into lists with k-means clustering. At query time \
        only nprobe lists are scanned, so more probes mean higher recall and slower queries.

        ## Flat

        A flat index compares the query with every stored vector and is therefore exact.
        """)
        dir.write("corpus/guides/compression.md", """
        # Compression

        Text blocks are compressed with zlib in blocks of sixty-four kibibytes, so fetching a hit inflates one block.
        """)
        dir.write("corpus/notes.txt", "Tokenizers split words into word pieces.\n\nA budget of tokens bounds each chunk.")
        dir.write("corpus/image.png", "not text")
        return dir
    }

    @Test func pipelineAnswersWithTheRightCitation() throws {
        let dir = try makeCorpus()
        let build = try shell("chunk --counter upper-bound corpus | embed --embedder hash | build-index -o index.ragx", in: dir.path)
        #expect(build.status == 0, "\(build.stderr)")
        #expect(build.stderr.contains("3 documents"))
        #expect(build.stderr.contains("1 files skipped"))
        let q = try shell("query --json index.ragx 'how many lists does IVF scan at query time?'", in: dir.path)
        #expect(q.status == 0, "\(q.stderr)")
        let result = try JSONSerialization.jsonObject(with: Data(q.stdout.utf8)) as! [String: Any]
        let hits = result["hits"] as! [[String: Any]]
        #expect(hits.first?["source"] as? String == "indexes.md")
        #expect((hits.first?["text"] as? String)?.contains("nprobe") == true)
        #expect(result["abstained"] as? Bool == false)
        let citations = result["citations"] as! [[String: Any]]
        #expect(citations.first?["source"] as? String == "indexes.md")
        #expect((result["answer"] as! String).contains("[1]"))
        #expect(result["timings_ms"] is [String: Any])

        // Every hit's text is exactly its source span.
        for hit in hits {
            let source = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/corpus/" + (hit["source"] as! String)))
            let span = source[(hit["start"] as! Int)..<(hit["end"] as! Int)]
            #expect(String(decoding: span, as: UTF8.self) == hit["text"] as! String)
        }

        let off = try shell("query --json index.ragx 'banana bread with walnuts'", in: dir.path)
        let offResult = try JSONSerialization.jsonObject(with: Data(off.stdout.utf8)) as! [String: Any]
        #expect(offResult["abstained"] as? Bool == true)
        #expect((offResult["answer"] as! String).hasPrefix("I don't know"))

        let batch = try shell("printf 'flat index\\n\\nzlib blocks\\n' | query --json -k 2 index.ragx", in: dir.path)
        #expect(batch.status == 0)
        #expect(batch.stdout.split(separator: "\n").count == 2, "one JSON object per query line")

        let text = try shell("query --verify index.ragx 'zlib blocks'", in: dir.path)
        #expect(text.status == 0)
        #expect(text.stdout.contains("compression.md") || text.stdout.contains("guides/compression.md"))
    }

    @Test func outputIsDeterministic() throws {
        let dir = try makeCorpus()
        let a = try shell("chunk --counter upper-bound corpus | embed --embedder hash | build-index -o a.ragx && chunk --counter upper-bound corpus | embed --embedder hash | build-index -o b.ragx && cmp a.ragx b.ragx", in: dir.path)
        #expect(a.status == 0, "\(a.stderr)")
        let j1 = try shell("chunk --counter upper-bound corpus | embed --embedder hash --format jsonl | sha256sum", in: dir.path)
        let j2 = try shell("chunk --counter upper-bound corpus | embed --embedder hash --format jsonl | sha256sum", in: dir.path)
        #expect(j1.stdout == j2.stdout)
        // The readable form builds the same index as the base64 form.
        let c = try shell("chunk --counter upper-bound corpus | embed --embedder hash --format jsonl | build-index -o c.ragx && cmp a.ragx c.ragx", in: dir.path)
        #expect(c.status == 0, "\(c.stderr)")
    }

    @Test func badInputsFailCleanlyAndLeaveNoFile() throws {
        let dir = try makeCorpus()
        _ = try shell("chunk --counter upper-bound corpus | embed --embedder hash > good.jsonl", in: dir.path)

        let malformed = try shell("(head -2 good.jsonl; echo '{\"id\": oops}'; tail -n +3 good.jsonl) | build-index -o out.ragx", in: dir.path)
        #expect(malformed.status == 65)
        #expect(malformed.stderr.contains("stdin:3"), "\(malformed.stderr)")
        #expect(malformed.stderr.split(separator: "\n").count == 1, "one line: \(malformed.stderr)")

        let mixed = try shell("(head -1 good.jsonl; echo x | embed --embedder hash --lines --dim 8 | sed 's/\"text\"/\"id\":\"z\",\"text\"/') | build-index -o out.ragx", in: dir.path)
        #expect(mixed.status == 83, "\(mixed.stderr)")

        let empty = try shell("build-index -o out.ragx < /dev/null", in: dir.path)
        #expect(empty.status == 66)
        let unembedded = try shell("chunk --counter upper-bound corpus | build-index -o out.ragx", in: dir.path)
        #expect(unembedded.status == 65)
        #expect(unembedded.stderr.contains("embed"))
        #expect(!dir.exists("out.ragx"))
        #expect(dir.contents("").filter { $0.contains(".tmp-") }.isEmpty)

        // A failed rebuild leaves the previous index untouched.
        _ = try shell("build-index -o out.ragx < good.jsonl", in: dir.path)
        let before = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/out.ragx"))
        _ = try shell("(cat good.jsonl; echo garbage) | build-index -o out.ragx", in: dir.path)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.path + "/out.ragx")) == before)

        dir.write("bad/latin1.md", bytes: [0x63, 0x61, 0x66, 0xE9, 0x0A])
        let nonUTF8 = try shell("chunk --counter upper-bound bad", in: dir.path)
        #expect(nonUTF8.status == 65)
        #expect(nonUTF8.stderr.contains("latin1.md"))
        let skipped = try shell("chunk --counter upper-bound --skip-invalid bad corpus | wc -l", in: dir.path)
        #expect(skipped.status == 0)
        #expect(skipped.stderr.contains("1 non-UTF-8"))

        // An unreadable file inside a tree is warned about, counted and skipped; a dangling link too.
        dir.write("corpus/secret.md", "# Secret")
        chmod(dir.path + "/corpus/secret.md", 0)
        symlink(dir.path + "/nowhere.md", dir.path + "/corpus/dangling.md")
        if getuid() == 0 {
            // root reads anything: make the file unreadable another way (a directory named like a file's target).
            unlink(dir.path + "/corpus/secret.md")
            symlink(dir.path + "/corpus/secret.md", dir.path + "/corpus/secret.md")   // a link loop: ELOOP
        }
        let partly = try shell("chunk --counter upper-bound corpus > /dev/null", in: dir.path)
        #expect(partly.status == 0, "\(partly.stderr)")
        #expect(partly.stderr.contains("2 unreadable files skipped"), "\(partly.stderr)")
        #expect(partly.stderr.contains("dangling.md: cannot read"))
        unlink(dir.path + "/corpus/secret.md"); unlink(dir.path + "/corpus/dangling.md")

        let missing = try shell("query nothing.ragx 'q'", in: dir.path)
        #expect(missing.status == 66, "a missing input, as in every tool: \(missing.stderr)")
        #expect(missing.stderr.contains("nothing.ragx"))

        dir.write("garbage.ragx", String(repeating: "x", count: 200))
        let garbage = try shell("query garbage.ragx 'q'", in: dir.path)
        #expect(garbage.status == 80)
        #expect(garbage.stderr.contains("bad magic"))
    }

    @Test func beirJSONLIsChunkedWithTitles() throws {
        let dir = try TempDir()
        dir.write("corpus.jsonl", """
        {"_id": "d1", "title": "Zinc and colds", "text": "Zinc lozenges shorten colds.", "metadata": {}}
        {"_id": "d2", "title": "", "text": "Vitamin C does not prevent colds.", "metadata": {}}
        """)
        let r = try shell("chunk --counter upper-bound corpus.jsonl", in: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines.last == #"{"end_of_stream":{"version":1,"stage":"chunk","records":2}}"#)
        #expect(lines[0].contains(#""source":"d1""#) && lines[0].contains(#""title":"Zinc and colds""#))
        #expect(lines[0].contains(#""text":"Zinc and colds\n\nZinc lozenges shorten colds.""#))
        let stdin = try shell("cat corpus.jsonl | chunk --counter upper-bound", in: dir.path)
        #expect(stdin.stdout == r.stdout, "stdin JSON objects are read as BEIR")
        let bad = try shell("echo '{\"title\":\"x\"}' | chunk --format beir", in: dir.path)
        #expect(bad.status == 65)
        #expect(bad.stderr.contains("stdin:1") && bad.stderr.contains("_id"))
    }
}

@Suite(.enabled(if: modelAvailable, "needs the model: run `make model`"))
struct MiniLMEndToEndTests {
    @Test func semanticPipelineCitesTheRightSource() throws {
        let dir = try EndToEndTests().makeCorpus()
        let build = try shell("chunk --model '\(modelDirectory)' corpus | embed --model '\(modelDirectory)' | build-index -o index.ragx", in: dir.path)
        #expect(build.status == 0, "\(build.stderr)")
        #expect(build.stderr.contains("wordpiece tokens"))
        #expect(build.stderr.contains("all-MiniLM-L6-v2"))
        // No shared words with the answer's chunk: only a semantic match finds it.
        for (question, source) in [("how is stored text made smaller on disk?", "guides/compression.md"),
                                   ("how do I split words into subword units?", "notes.txt")] {
            let q = try shell("query --json --model '\(modelDirectory)' index.ragx '\(question)'", in: dir.path)
            #expect(q.status == 0, "\(q.stderr)")
            let result = try JSONSerialization.jsonObject(with: Data(q.stdout.utf8)) as! [String: Any]
            let hits = result["hits"] as! [[String: Any]]
            #expect(hits.first?["source"] as? String == source, "\(question): \(hits.first ?? [:])")
            #expect(result["abstained"] as? Bool == false)
            #expect((result["citations"] as? [[String: Any]])?.first?["source"] as? String == source)
        }

        let hashQuery = try shell("chunk --counter upper-bound corpus | embed --embedder hash | build-index -o hash.ragx && query hash.ragx 'x' --model '\(modelDirectory)'", in: dir.path)
        #expect(hashQuery.status == 0, "an index names its embedder: the hash index needs no model")

        let lines = try shell("printf 'first\\nsecond\\n' | embed --model '\(modelDirectory)' --lines --format jsonl", in: dir.path)
        #expect(lines.status == 0)
        #expect(lines.stdout.split(separator: "\n").count == 2, "two vectors, no end-of-stream line (not an index stream)")
        #expect(lines.stdout.contains("\"embedding\":["))
    }

    @Test func missingModelIsAClearError() throws {
        let dir = try TempDir()
        let r = try shell("echo hi | RAGPIPE_MODELS=/nonexistent embed --model /nonexistent/all-MiniLM-L6-v2 --lines", in: dir.path)
        #expect(r.status == 69, "\(r.stderr)")
        #expect(r.stderr.contains("/nonexistent/all-MiniLM-L6-v2"))
    }
}
