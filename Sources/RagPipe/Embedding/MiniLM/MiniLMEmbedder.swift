import RagPipeSupport
import RagPipeRecords
import RagPipeChunking
import CKernels
import Dispatch

/// A sentence-transformers BERT model (all-MiniLM-L6-v2 by default) run natively: WordPiece
/// tokenizer, BERT encoder (oneDNN or BLAS products, in fp32, bf16 or int8), mean pooling, L2
/// normalization.
///
/// A folder works when it holds `config.json` (BERT, GELU, absolute positions), `vocab.txt`,
/// `model.safetensors` (F32) and optionally `1_Pooling/config.json` and
/// `sentence_bert_config.json` (`max_seq_length`, default 256 capped by the position table).
public final class MiniLMEmbedder: Embedder, @unchecked Sendable {
    /// The folder's name, with "@bf16" or "@int8" for reduced precision (EmbeddingModelID).
    public let modelID: String
    /// The folder's name alone.
    public let modelName: String
    public let directory: String
    public let tokenizer: WordPieceTokenizer
    public let encoder: BertEncoder
    public let maxTokens: Int
    public let pooling: Pooling
    /// Forward passes run concurrently, one sequence per thread, each product single-threaded.
    public var threads: Int

    public enum Pooling: String, Sendable { case mean, cls }

    public var dimension: Int { encoder.config.hiddenSize }
    public var tokenCounter: any TokenCounter { WordPieceTokenCounter(tokenizer: tokenizer) }
    /// Reduced precisions included: their vectors' cosine to fp32 is ≥ 0.995 (README,
    /// "Embedding precision"), close enough for thresholds calibrated in fp32.
    public var reproducedModel: String? { modelName }

    public init(directory: String, threads: Int = 1, precision: EncoderPrecision = .fp32, use: EncoderUse = .batch) throws {
        self.directory = directory
        modelName = lastComponent(directory)
        modelID = EmbeddingModelID(name: modelName, precision: precision).description
        let config = try Self.modelFile { try BertConfig(configFile: directory + "/config.json") }
        (tokenizer, maxTokens) = try Self.tokenizer(directory: directory, config: config)
        let (words, limit) = (tokenizer, maxTokens)
        let calibration = precision == .int8 ? Self.calibrationTexts.map { words.encode($0, maxLength: limit).ids } : []
        encoder = try Self.modelFile {
            try BertEncoder(config: config, weights: SafetensorsFile(path: directory + "/model.safetensors"),
                            precision: precision, use: use, calibration: calibration)
        }
        var pooling = Pooling.mean
        if let bytes = try? readFileBytes(directory + "/1_Pooling/config.json") {
            var mean = false, cls = false
            try bytes.withUnsafeBytes { raw in
                var s = JSONScanner(raw)
                try s.beginObject()
                while let key = try s.nextKey() {
                    if key.equals("pooling_mode_mean_tokens") { mean = try s.readBool() }
                    else if key.equals("pooling_mode_cls_token") { cls = try s.readBool() }
                    else if key.equals("pooling_mode_max_tokens") || key.equals("pooling_mode_mean_sqrt_len_tokens") {
                        if try s.readBool() { throw RagPipeError.unavailable("\(directory)/1_Pooling/config.json: only mean and CLS pooling are supported") }
                    }
                    else { try s.skipValue() }
                }
            }
            guard mean != cls else { throw RagPipeError.unavailable("\(directory)/1_Pooling/config.json: exactly one of mean and CLS pooling must be set") }
            pooling = mean ? .mean : .cls
        }
        guard pooling == .mean else { throw RagPipeError.unavailable("\(directory): CLS pooling is not implemented yet; mean pooling models only") }
        self.pooling = pooling
        self.threads = max(1, threads)
    }

    public var precision: EncoderPrecision { encoder.precision }

    public var cacheIdentity: String { precision.arithmeticRevision.map { "\(modelID).r\($0)" } ?? modelID }

    /// What int8 calibrates its input ranges on: prose, a question, code, numbers and non-Latin
    /// scripts, so that every hidden dimension the model uses is exercised. Fixed, so int8
    /// vectors are reproducible.
    static let calibrationTexts = [
        "Retrieval-augmented generation answers a question from passages found in an index: the corpus is split into chunks, each chunk is embedded, and the nearest chunks to the question are given to the reader with their sources.",
        "How do I choose the number of lists to probe in an IVF index?",
        "The 2019 trial enrolled 1,204 patients aged 18 to 65; mortality fell from 12.5% to 8.1% (p < 0.001) after 30 days of treatment with 40 mg daily.",
        "func search(_ query: [Float], k: Int) -> [Hit] { return index.topK(query, k) } // O(n·d)",
        "Привет, как дела? 東京タワーは1958年に完成しました。 한국어 문장도 테스트합니다. مرحبا بالعالم",
        "a",
    ]

    /// The model folder's tokenizer and the input length sentence-transformers truncates at:
    /// `max_seq_length` of `sentence_bert_config.json` (default 256), capped by the position table.
    public static func tokenizer(directory: String, config: BertConfig? = nil) throws -> (WordPieceTokenizer, maxTokens: Int) {
        let config = try modelFile { try config ?? BertConfig(configFile: directory + "/config.json") }
        let tokenizer = try modelFile { try WordPieceTokenizer(vocabFile: directory + "/vocab.txt") }
        var maxLength = min(256, config.maxPositions)
        let file = directory + "/sentence_bert_config.json"
        if let bytes = try? readFileBytes(file) {
            do {
                try bytes.withUnsafeBytes { raw in
                    var s = JSONScanner(raw)
                    try s.beginObject()
                    while let key = try s.nextKey() {
                        guard key.equals("max_seq_length") else { try s.skipValue(); continue }
                        let value = try s.readInt()
                        // [CLS] and [SEP] always stay: a shorter limit cannot hold any sequence.
                        guard value >= 2 else { throw RagPipeError.unavailable("\(file): max_seq_length \(value) must be at least 2") }
                        maxLength = min(value, config.maxPositions)
                    }
                }
            } catch let error as JSONScanError {
                throw RagPipeError.unavailable("\(file): \(error)")
            }
        }
        guard maxLength >= 2 else { throw RagPipeError.unavailable("\(directory)/config.json: max_position_embeddings \(config.maxPositions) must be at least 2") }
        return (tokenizer, maxLength)
    }

    /// A model folder missing a file is a model that is not usable (exit 69, with how to get one),
    /// not a missing input.
    static func modelFile<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch RagPipeError.unreadable(let path, let reason) {
            throw RagPipeError.unavailable("\(path): cannot read: \(reason): not a usable model folder (`make model` fetches \(ModelLocator.defaultModel))")
        }
    }

    public func embed(_ texts: [String], into output: UnsafeMutableBufferPointer<Float>) throws -> Int {
        var sequences: [[Int32]] = []
        sequences.reserveCapacity(texts.count)
        var truncated = 0
        for text in texts {
            let (ids, full) = tokenizer.encode(text, maxLength: maxTokens)
            if full > ids.count { truncated += 1 }
            sequences.append(ids)
        }
        try embed(tokenIDs: sequences, into: output)
        return truncated
    }

    /// Why `ids` cannot be run as one sequence (an id outside the vocabulary, more than
    /// `maxTokens` ids), or nil. Sequences from `tokenizer.encode` always run.
    public func problem(tokenIDs ids: [Int32]) -> String? {
        let vocabulary = encoder.config.vocabSize
        if ids.count > maxTokens { return "\(ids.count) token ids, more than the model's \(maxTokens)" }
        if let bad = ids.first(where: { $0 < 0 || Int($0) >= vocabulary }) { return "token id \(bad) is outside the vocabulary (0..<\(vocabulary))" }
        return nil
    }

    /// Embeds sequences already tokenized as `tokenizer.encode` makes them ([CLS] … [SEP]) into
    /// consecutive rows of `output`: what a client that tokenizes itself sends (`embed
    /// --tokenizer`). A sequence `problem(tokenIDs:)` refuses is an error, not truncated.
    public func embed(tokenIDs sequences: [[Int32]], into output: UnsafeMutableBufferPointer<Float>) throws {
        let dim = dimension
        precondition(output.count >= sequences.count * dim)
        for (i, ids) in sequences.enumerated() {
            if let problem = problem(tokenIDs: ids) { throw RagPipeError.usage("input \(i): \(problem)") }
        }
        // Longest first, each worker taking the next sequence when it is free: the costly ones
        // start early and the short ones fill the gaps, so no worker waits at the end of a batch.
        let order = sequences.indices.sorted { sequences[$0].count > sequences[$1].count || (sequences[$0].count == sequences[$1].count && $0 < $1) }
        let workers = min(threads, sequences.count)
        let longest = sequences.map(\.count).max() ?? 0
        guard longest > 0 else {
            for j in 0..<(sequences.count * dim) { output[j] = 0 }
            return
        }
        let scratches = (0..<workers).map { _ in BertEncoder.Scratch(tokens: longest, config: encoder.config) }
        try Parallel.forEachItem(order.count, workers: workers) { worker, rank in
            let index = order[rank]
            encoder.forward(sequences[index], scratch: scratches[worker],
                            into: UnsafeMutableBufferPointer(rebasing: output[(index * dim)..<((index + 1) * dim)]))
        }
    }
}

/// Where model folders are found: `$RAGPIPE_MODELS`, then `./models`, then `models/` beside the
/// package when running from `.build/*/` (so `make` and the tests find `make model`'s folder).
public enum ModelLocator {
    public static let defaultModel = "all-MiniLM-L6-v2"

    public static func searchPaths() -> [String] {
        var paths: [String] = []
        if let env = getenv("RAGPIPE_MODELS") { paths.append(String(cString: env)) }
        paths.append("models")
        if let exe = executablePath() {
            var dir = exe
            for _ in 0..<5 {
                guard let slash = dir.lastIndex(of: "/") else { break }
                dir = String(dir[..<slash])
                if dir.hasSuffix("/.build") {
                    paths.append(String(dir.dropLast("/.build".count)) + "/models")
                    break
                }
            }
        }
        return paths
    }

    /// The folder of model `name`, if some search path has its weights.
    public static func find(_ name: String = defaultModel) -> String? {
        for base in searchPaths() {
            let dir = base + "/" + name
            if access(dir + "/model.safetensors", R_OK) == 0 { return dir }
        }
        return nil
    }

    public static func missing(_ name: String = defaultModel) -> RagPipeError {
        .unavailable("model \(name) not found (looked in \(searchPaths().map { $0 + "/" + name }.joined(separator: ", "))): "
            + "run `make model`, or pass --model DIR; `--embedder hash` needs no model")
    }

    static func executablePath() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
