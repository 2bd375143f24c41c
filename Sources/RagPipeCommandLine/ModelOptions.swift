import ArgumentParser
import RagPipeEmbedding

/// `--model`: a native model's folder, when it is not found by name (`ModelLocator`). `chunk`
/// reads its vocabulary; the tools that embed use it through `ModelOptions`.
public struct ModelFolderOption: ParsableArguments {
    @Option(help: "Model folder (default: the index's model, or all-MiniLM-L6-v2, found by name in $RAGPIPE_MODELS, ./models or the checkout's models/; README).")
    public var model: String?

    public init() {}
}

/// The native encoder's options, shared by every tool that embeds (`embed`, `query`,
/// `evaluate beir|squad`): where its folder is and how many forward passes run at once.
public struct ModelOptions: ParsableArguments {
    @OptionGroup public var folder: ModelFolderOption

    @Option(help: "Concurrent forward passes of the native encoder (minilm; vectors do not depend on it).")
    public var threads: Int = 2

    public init() {}

    public static let threadRange = 1...256

    public func validate() throws {
        guard Self.threadRange.contains(threads) else {
            throw ValidationError("--threads must be in \(Self.threadRange.lowerBound)...\(Self.threadRange.upperBound), not \(threads)")
        }
    }

    /// The model folder given with --model, if any.
    public var directory: String? { folder.model }

    /// How the native encoder is loaded: `use` says what for (batch work or a few queries).
    public func native(use: EncoderUse) -> EmbedderRegistry.NativeSettings {
        EmbedderRegistry.NativeSettings(modelDirectory: folder.model, threads: threads, use: use)
    }
}
