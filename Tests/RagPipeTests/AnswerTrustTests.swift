import Foundation
import Testing
@testable import RagPipeHTTP
@testable import RagPipeSupport
@testable import RagPipeRecords
@testable import RagPipeEmbedding
@testable import RagPipeIndex
@testable import RagPipeRetrieval
@testable import RagPipeAnswering
@testable import RagPipeEvaluation

/// The groundedness guardrail, prompt packing, and the parsers behind `query --llm` and
/// `evaluate --squad` (the server itself is exercised in LLMServerTests).
@Suite struct AnswerTrustTests {
    func hit(_ rank: Int, _ text: String, source: String = "doc.md") -> QueryHit {
        QueryHit(rank: rank, row: rank - 1, score: 1, similarity: 0.5,
                 record: ChunkRecord(id: "c\(rank)", source: source, title: "T\(rank)", headings: [], text: text,
                                     start: 0, end: text.utf8.count, tokens: 10, position: 0))
    }

    @Test func citationsAreReadAndStripped() {
        #expect(GroundednessCheck.stripCitations("The lists are scanned in place [2].") == ("The lists are scanned in place.", [2]))
        #expect(GroundednessCheck.stripCitations("Both hold [1][3] and [1, 2] too") == ("Both hold and too", [1, 3, 2]))
        #expect(GroundednessCheck.stripCitations("An array [x] stays [ 4 ].") == ("An array [x] stays.", [4]))
    }

    @Test func rareQueryTermsDecideTheSentence() throws {
        // "founded" is everywhere, "Zorblax" in one sentence: IDF makes that sentence the answer.
        let hits = [hit(1, "Many companies were founded in that decade and were founded by engineers. Zorblax started in 1901 as a small shop. The founders were founded on trust.")]
        var answerer = ExtractiveAnswerer(minScore: -1)
        answerer.maxSentences = 1
        answerer.idf = { ["zorblax": 5, "found": 0.2][$0] ?? 0.1 }
        #expect(answerer.coverage(of: "When was Zorblax founded?", in: "Zorblax started in 1901.")! > 0.9)
        let embedder = HashEmbedder(dimension: 256)
        let q = try embedder.embed("When was Zorblax founded?")
        let a = try answerer.answer(query: q, queryText: "When was Zorblax founded?", hits: hits, embedder: embedder)
        #expect(a.text.hasPrefix("Zorblax started in 1901"), "\(a.text)")
        answerer.idf = nil
        answerer.lexicalWeight = 0
        let b = try answerer.answer(query: q, queryText: "When was Zorblax founded?", hits: hits, embedder: embedder)
        #expect(!b.text.hasPrefix("Zorblax"), "without IDF the frequent word wins: \(b.text)")
    }

    @Test func weakAnswerEvidenceAbstains() throws {
        // Same topic, but the question's rare term is in no sentence: the best sentence's score is low.
        let hits = [hit(1, "Zorblax started in 1901 as a small shop. It sold lamps and later radios to the town.")]
        var answerer = ExtractiveAnswerer(minScore: -1)
        answerer.idf = { ["zorblax": 5, "found": 0.5, "quimby": 6][$0] ?? 0.1 }
        let embedder = HashEmbedder(dimension: 256)
        func ask(_ question: String) throws -> Answer {
            try answerer.answer(query: try embedder.embed(question), queryText: question, hits: hits, embedder: embedder)
        }
        let strong = try ask("When was Zorblax founded?"), weak = try ask("When was Quimby founded?")
        let e1 = try #require(strong.evidence), e2 = try #require(weak.evidence)
        #expect(e1 > e2 + 0.5, "\(e1) vs \(e2)")
        let scored = try answerer.scoredSentences(query: try embedder.embed("When was Zorblax founded?"), queryText: "When was Zorblax founded?",
                                                  hits: hits, embedder: embedder)
        #expect(scored.map(\.score).max() == e1)
        answerer.minEvidence = (e1 + e2) / 2
        #expect(try !ask("When was Zorblax founded?").abstained)
        let abstained = try ask("When was Quimby founded?")
        #expect(abstained.abstained && abstained.text == ExtractiveAnswerer.weakEvidence && abstained.evidence == e2)
        #expect(abstained.citations.map(\.source) == ["doc.md"])
        // Without IDF statistics the score has another scale, so the threshold does not apply.
        answerer.idf = nil
        #expect(!answerer.judgesEvidence)
        #expect(try !ask("When was Quimby founded?").abstained)
    }

    @Test func answerLengthIsBoundedFromTheCommandLine() throws {
        let dir = try TempDir()
        dir.write("corpus/a.md", "# Lists\n\nIVF lists are scanned in place. Each list holds row ids and codes. Lists are aligned to 64 bytes. Probing more lists finds more neighbours.\n")
        let r = try shell("chunk --counter upper-bound corpus | embed --embedder hash | build-index -o i.ragx && query --json --min-score=-1 --answer-sentences 1 i.ragx 'how are IVF lists scanned?' && query --json --min-score=-1 i.ragx 'how are IVF lists scanned?'", in: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        let one = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        let three = try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as! [String: Any]
        #expect((one["answer_sentences"] as! [Any]).count == 1 && (three["answer_sentences"] as! [Any]).count == 3)
        #expect((one["answer"] as! String).contains("scanned in place"))
        let bad = try shell("query --answer-sentences 0 i.ragx q", in: dir.path)
        #expect(bad.status == 64)
        #expect(three["evidence"] as! Double > 0.5, "the evidence an answer rests on is reported")
        let strict = try shell("query --json --min-evidence 9 i.ragx 'how are IVF lists scanned?'", in: dir.path)
        #expect(strict.status == 0, "\(strict.stderr)")
        let o = try JSONSerialization.jsonObject(with: Data(strict.stdout.utf8)) as! [String: Any]
        #expect(o["abstained"] as! Bool && o["evidence"] as! Double == three["evidence"] as! Double)
    }

    @Test func markersCiteTheSentenceTheyFollow() {
        let extractive = GroundednessCheck.claims(in: "Vitamin D helps. [1] It is cheap, e.g. 2 cents. [1][3] Nobody knows why. [2]")
        #expect(extractive.map(\.text) == ["Vitamin D helps.", "It is cheap, e.g. 2 cents.", "Nobody knows why."])
        #expect(extractive.map(\.citations) == [[1], [1, 3], [2]])
        let generated = GroundednessCheck.claims(in: "The code is ZQX-4471 [1]. It changes monthly [1, 2]. Trust me.")
        #expect(generated.map(\.text) == ["The code is ZQX-4471.", "It changes monthly.", "Trust me."])
        #expect(generated.map(\.citations) == [[1], [1, 2], []])
    }

    @Test func verbatimAndParaphrasedSentencesAreSupportedInventedOnesAreNot() throws {
        let hits = [hit(1, "The index file is memory-mapped. Opening it reads only the header and tables."),
                    hit(2, "Zebras graze on the savanna in large herds.")]
        let embedder = HashEmbedder(dimension: 256)
        let check = GroundednessCheck(sentenceThreshold: 0.5, answerThreshold: 0.7)
        let verbatim = try check.check(answer: "Opening it reads only the header and tables [1].", hits: hits, shown: [1, 2], embedder: embedder)
        #expect(verbatim.grounded && verbatim.groundedness == 1 && verbatim.sentences[0].support == 1)

        let paraphrase = try check.check(answer: "Opening the index file reads only its header and tables [1].", hits: hits, shown: [1, 2], embedder: embedder)
        #expect(paraphrase.sentences[0].support >= 0.5 && paraphrase.grounded, "\(paraphrase)")

        let invented = try check.check(answer: "The index is stored in a relational database [1]. Opening it reads only the header and tables [1].",
                                       hits: hits, shown: [1, 2], embedder: embedder)
        #expect(!invented.sentences[0].supported && invented.sentences[1].supported && invented.groundedness == 0.5 && !invented.grounded)

        // Citing a passage that was not shown, or does not exist, is never support.
        let badCitation = try check.check(answer: "Opening it reads only the header and tables [7].", hits: hits, shown: [1, 2], embedder: embedder)
        #expect(!badCitation.sentences[0].citationsValid && !badCitation.grounded)
        // Support is judged against the cited passage only.
        let wrongPassage = try check.check(answer: "Opening it reads only the header and tables [2].", hits: hits, shown: [1, 2], embedder: embedder)
        #expect(!wrongPassage.sentences[0].supported)
    }

    @Test func strictModeReplacesUngroundedGeneratedAnswers() throws {
        final class Scripted: AnswerGenerator {
            var reply: String
            init(_ reply: String) { self.reply = reply }
            func generate(_ prompt: GroundedPrompt, onText: ((String) -> Void)?) throws -> GeneratedAnswer {
                onText?(reply)
                return GeneratedAnswer(text: reply, model: "scripted")
            }
        }
        let dir = try TempDir()
        let builder = IndexBuilder()
        let embedder = HashEmbedder(dimension: 64)
        for (i, text) in ["The index file is memory-mapped and opening it reads only the header.", "Lists are scanned in place."].enumerated() {
            try builder.add(ChunkRecord(id: "\(i)", source: "d\(i).md", title: "", headings: [], text: text, start: 0, end: text.utf8.count, tokens: 5, position: 0),
                            vector: try embedder.embed(text), model: HashEmbedder.modelName)
        }
        _ = try builder.write(to: dir.path + "/x.ragx")
        let retriever = try Retriever(index: try IndexReader(path: dir.path + "/x.ragx"), mode: .dense, settings: .init(k: 2))
        let generator = Scripted("The index file is memory-mapped [1].")
        func engine(strict: Bool) -> QueryEngine {
            QueryEngine(retriever: retriever, answerer: Answerer(ExtractiveAnswerer(minScore: -1), bm25: retriever.bm25,
                                                                 generation: .init(generator: generator), strict: strict))
        }
        var good = try engine(strict: false).run("is the index file memory-mapped?")
        #expect(good.answer.backend == .llm && good.answer.groundedness?.grounded == true && !good.answer.escalated)
        #expect(good.answer.citations.map(\.number) == [1])
        generator.reply = "It is stored in a relational database and replicated across data centres [1]."
        good = try engine(strict: true).run("is the index file memory-mapped?")
        #expect(good.answer.escalated && good.answer.abstained && good.answer.text.hasPrefix("I don't know"))
        generator.reply = "I don't know."
        let declined = try engine(strict: true).run("what colour is the sky?")
        #expect(declined.answer.abstained && !declined.answer.escalated && declined.answer.groundedness == nil)
    }

    @Test func promptPacksHitsInRankOrderWithinTheBudget() {
        let hits = (1...5).map { hit($0, String(repeating: "word\($0) ", count: 200), source: "s\($0).md") }   // ~350 tokens each
        let prompt = GroundedPrompt(question: "what?", hits: hits, tokenBudget: 1000)
        #expect(prompt.shown == [1, 2] && prompt.estimatedTokens <= 1000)
        #expect(prompt.messages[0].role == "system" && prompt.messages[0].content.contains("I don't know"))
        #expect(prompt.messages[1].content.contains("[1] (s1.md, T1)") && prompt.messages[1].content.contains("[2] (s2.md, T2)")
                && !prompt.messages[1].content.contains("[3]"))
        // The best hit is always included, cut to fit.
        let tiny = GroundedPrompt(question: "what?", hits: hits, tokenBudget: 200)
        #expect(tiny.shown == [1] && tiny.estimatedTokens <= 220)
    }

    @Test func eventStreamsAreSplitIntoDataPayloads() throws {
        var parser = EventStreamParser()
        var events = parser.feed(Data("data: {\"a\":1}\n\ndata: {\"b\"".utf8))
        #expect(events == ["{\"a\":1}"])
        events = parser.feed(Data(":2}\r\n\r\n: comment\n\ndata: [DONE]\n\n".utf8))
        #expect(events == ["{\"b\":2}", "[DONE]"])
        var answer = GeneratedAnswer(text: "", model: "m")
        let url = URL(string: "http://127.0.0.1:1/v1/chat/completions")!
        #expect(try ChatClient.apply(event: "{\"model\":\"x\",\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}", to: &answer, endpoint: url) == "Hel")
        _ = try? ChatClient.apply(event: "{\"choices\":[{\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}", to: &answer, endpoint: url)
        #expect(answer.text == "Hello" && answer.model == "x" && answer.finishReason == "stop" && answer.completionTokens == 2)
        #expect(throws: RagPipeError.self) { try ChatClient.apply(event: "{\"error\":{\"message\":\"boom\"}}", to: &answer, endpoint: url) }
    }

    @Test func endpointsAcceptBaseURLsAndRefuseOthers() throws {
        #expect(try URL.endpoint("http://127.0.0.1:8080", "/v1/chat/completions").absoluteString == "http://127.0.0.1:8080/v1/chat/completions")
        #expect(try URL.endpoint("https://api.example.com/v1/", "/v1/embeddings").absoluteString == "https://api.example.com/v1/embeddings")
        #expect(try URL.endpoint("http://h:1/v1/embeddings", "/v1/embeddings").absoluteString == "http://h:1/v1/embeddings")
        #expect(throws: RagPipeError.self) { try URL.endpoint("ftp://h/x", "/v1/embeddings") }
    }

    @Test func squadFilesAreReadAsParagraphDocuments() throws {
        let dir = try TempDir()
        let path = dir.write("s.json", """
            {"version": "1.1", "data": [{"title": "Alpha", "paragraphs": [
              {"context": "Alpha was founded in 1901 by Dr. Smith.", "qas": [{"id": "q1", "question": "When was Alpha founded?", "answers": [{"text": "1901", "answer_start": 22}, {"text": "in 1901", "answer_start": 19}]}]},
              {"context": "It has 3.5 million members.", "qas": [{"id": "q2", "question": "How many members?", "answers": [{"text": "3.5 million", "answer_start": 7}]}]}]},
              {"title": "Beta", "paragraphs": [{"context": "Beta is small.", "qas": []}]}]}
            """)
        let data = try SQuADData(path: path)
        #expect(data.paragraphs.map(\.id) == ["squad-000-000", "squad-000-001", "squad-001-000"])
        #expect(data.paragraphs.map(\.title) == ["Alpha", "Alpha", "Beta"])
        #expect(data.questions.count == 2 && data.questions[0].answers == ["1901", "in 1901"] && data.questions[1].paragraph == "squad-000-001")
        let corpus = String(decoding: data.corpusJSONL(), as: UTF8.self).split(separator: "\n")
        #expect(corpus.count == 3 && corpus[1].contains("\"_id\":\"squad-000-001\"") && corpus[1].contains("3.5 million"))
        dir.write("bad.json", "{\"data\": [{\"title\": 3}]}")
        #expect(throws: RagPipeError.self) { try SQuADData(path: dir.path + "/bad.json") }

        // End to end on the hash embedder: the gold paragraph is found, answers contain the answer,
        // and every question is also asked with its paragraph removed.
        let build = try shell("evaluate export-squad s.json | chunk --no-split --counter upper-bound | embed --embedder hash | build-index -o s.ragx", in: dir.path)
        #expect(build.status == 0, "\(build.stderr)")
        let r = try shell("evaluate squad s.ragx --squad s.json", in: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("2 questions") && r.stdout.contains("abstention (2 questions"), "\(r.stdout)")
        #expect(r.stdout.contains("bm25                 1.000  1.000"), "\(r.stdout)")
        #expect(r.stdout.contains("\ndefault (≤ 3 sentences, ≤ 80 words)   "), "\(r.stdout)")
        // The label states the answerer's own limits.
        let reader = try IndexReader(path: dir.path + "/s.ragx")
        let retriever = try Retriever(index: reader)
        var answerer = ExtractiveAnswerer(.calibrated(for: retriever.embedder))
        answerer.maxSentences = 2
        answerer.maxWords = 50
        let report = try SQuADEvaluator(engine: QueryEngine(retriever: retriever, answerer: Answerer(answerer, bm25: retriever.bm25))).run(data)
        #expect(report.text.contains("\ndefault (≤ 2 sentences, ≤ 50 words)   "), "\(report.text)")
        let f = try shell("evaluate squad s.ragx --squad s.json --answerability-features f.tsv", in: dir.path)
        #expect(f.status == 0, "\(f.stderr)")
        let rows = try String(contentsOfFile: dir.path + "/f.tsv", encoding: .utf8).split(separator: "\n").dropFirst()
        #expect(rows.map { $0.split(separator: "\t").prefix(2).joined(separator: " ") } == ["squad-000 1", "squad-000 0", "squad-000 1", "squad-000 0"])
        // An IVF index: the report also says what IVF loses on the questions; a flat one does not.
        #expect(!r.stdout.contains("IVF"))
        let ivf = try shell("evaluate export-squad s.json | chunk --no-split --counter upper-bound | embed --embedder hash | build-index --kind ivf --nlist 2 --nprobe 1 -o i.ragx && evaluate squad i.ragx --squad s.json", in: dir.path)
        #expect(ivf.status == 0, "\(ivf.stderr)")
        #expect(ivf.stdout.contains("\ndense IVF recall@10 ") && ivf.stdout.contains("(exact search), nprobe 1 of 2 lists, 2 queries"), "\(ivf.stdout)")
    }

    @Test func abstentionThresholdKeepsFalseAbstentionsUnderTheBudget() {
        let answerable: [Float] = (0..<100).map { 0.3 + Float($0) / 200 }       // 0.30 … 0.795
        let unanswerable: [Float] = (0..<100).map { 0.1 + Float($0) / 400 }     // 0.10 … 0.3475
        let c = AbstentionCalibration(answerable: answerable, unanswerable: unanswerable)
        #expect(c.abstainAnswerable <= 0.05 && c.abstainAnswerable > 0.03)
        #expect(c.abstainUnanswerable > 0.9)
        let fixed = AbstentionCalibration(threshold: 0.2, answerable: answerable, unanswerable: unanswerable)
        #expect(fixed.abstainAnswerable == 0 && fixed.abstainUnanswerable == 0.4)
    }
}
