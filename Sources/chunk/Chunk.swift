import ArgumentParser
import RagPipeSupport
import RagPipeRecords
import RagPipeChunking
import RagPipeEmbedding
import RagPipePipeline
import RagPipeCommandLine

@main
struct Chunk: ToolCommand {
    static let toolName = "chunk"
    static let configuration = CommandConfiguration(
        abstract: "Split a corpus into token-bounded, structure-aware chunks (JSON Lines on stdout).",
        discussion: """
        Reads Markdown (.md, .markdown), text (.txt), BEIR JSONL (.jsonl: {"_id","title","text"}), \
        HTML (.html, .htm; libxml2), PDF (.pdf; poppler's pdftotext, run as a process) and DOCX \
        (.docx; zlib and libxml2) files and \
        directory trees; files with other names are read when their first bytes say HTML or PDF, \
        else skipped and counted. With no inputs, or `-`, reads stdin (JSON objects are read as \
        BEIR JSONL, HTML as HTML, anything else as one Markdown document).

        Each output line is one chunk: id, source, title, headings, text, start, end, tokens, position, \
        and for PDF pages [first, last], for HTML and DOCX anchor and element; the source's UTF-8 bytes \
        [start, end) are exactly the text: for HTML, PDF and DOCX the bytes of the extracted text, which \
        --extract prints (docs/FORMATS.md).

        Examples:
          chunk corpus/ > chunks.jsonl
          chunk --max-tokens 128 --overlap 10% notes.md
          gunzip -c corpus.jsonl.gz | chunk --format beir | embed | build-index -o scifact.ragx
          chunk --extract manual.pdf | sed -n '1,20p'
        """)

    @Argument(help: "Files or directories to chunk (default: stdin).")
    var inputs: [String] = []

    @Option(help: "Most tokens in a chunk, special tokens included.")
    var maxTokens: Int = 256

    @Option(help: "Tokens repeated from the previous chunk: a share of --max-tokens (20%) or a count (51).")
    var overlap: OverlapSpec = .percent(20)

    @Option(help: "How to read inputs.")
    var format: CorpusReader.InputFormat = .auto

    @Flag(help: "One chunk per document, not bounded by --max-tokens (the embedder truncates; BEIR-style evaluation).")
    var noSplit = false

    @Flag(help: "Warn about and skip files that are not UTF-8, and HTML, PDF or DOCX files that cannot be converted, instead of failing.")
    var skipInvalid = false

    @Flag(help: "Print the text the chunks' start/end point into (for HTML, PDF and DOCX, the extracted text) instead of chunks.")
    var extract = false

    @Option(help: "How tokens are counted: wordpiece with the model's vocab.txt (exact), upper-bound without a model, auto: wordpiece when the model is found.")
    var counter: TokenCounterChoice = .auto

    @OptionGroup var model: ModelFolderOption

    func validate() throws {
        guard maxTokens >= 8 else { throw ValidationError("--max-tokens must be at least 8") }
        let overlapTokens = overlap.tokens(maxTokens: maxTokens)
        guard overlapTokens < maxTokens / 2 else {
            throw ValidationError("--overlap (\(overlapTokens) tokens) must be less than half of --max-tokens (\(maxTokens))")
        }
    }

    func execute() throws {
        if extract {
            try ChunkStage.extract(inputs: inputs, format: format, sink: OutputSink())
            return
        }
        let counter = try self.counter.counter(modelDirectory: model.model)
        let chunker = RecursiveChunker(
            options: .init(maxTokens: maxTokens, overlapTokens: overlap.tokens(maxTokens: maxTokens), noSplit: noSplit),
            counter: counter)
        let progress = Progress(tool: "chunk")
        let s = try ChunkStage.run(inputs: inputs, format: format, chunker: chunker, skipInvalid: skipInvalid,
                                   sink: OutputSink(), progress: progress)
        progress.finish(s.line(maxTokens: maxTokens, counter: counter.name))
    }
}
