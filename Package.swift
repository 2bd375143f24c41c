// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "ragpipe",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "RagPipe", targets: ["RagPipeSupport", "RagPipeRecords", "RagPipeChunking", "RagPipeEmbedding", "RagPipeIndex",
                                            "RagPipeRetrieval", "RagPipeAnswering", "RagPipeEvaluation", "RagPipePipeline"]),
        .executable(name: "chunk", targets: ["chunk"]),
        .executable(name: "embed", targets: ["embed"]),
        .executable(name: "build-index", targets: ["build-index"]),
        .executable(name: "query", targets: ["query"]),
        .executable(name: "evaluate", targets: ["evaluate"]),
        // The index behind an HTTP server (hummingbird on SwiftNIO); only this tool links NIO.
        .executable(name: "serve", targets: ["serve"]),
        // Opened with dlopen by query and embed only when they talk HTTP (HTTPPlugin.swift).
        .library(name: "RagPipeHTTPPlugin", type: .dynamic, targets: ["RagPipeHTTP"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.14.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        // System zlib (zlib1g-dev): compress2/uncompress for text blocks, crc32 for checksums.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),
        // A real BLAS for the encoder's matrix products: OpenBLAS (libopenblas-dev) on Linux.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS",
                       providers: [.apt(["libopenblas-dev"])]),
        // libxml2's HTML parser (libxml2-dev, MIT), linked: `chunk` reads .html with it.
        .systemLibrary(name: "CLibXML2", path: "Sources/CLibXML2", pkgConfig: "libxml-2.0",
                       providers: [.apt(["libxml2-dev"]), .brew(["libxml2"])]),
        // Distance kernels over fp16/sq8 codes, compiled per instruction set with run-time dispatch.
        .target(name: "CKernels"),
        // The library, one module per layer; each depends only on the layer below it, so the
        // compiler refuses a use against the direction (docs/ARCHITECTURE.md).
        .target(name: "RagPipeSupport", dependencies: ["CZlib", "CBLAS", "CKernels"], path: "Sources/RagPipe/Support"),
        .target(name: "RagPipeRecords", dependencies: ["RagPipeSupport"], path: "Sources/RagPipe/Records"),
        .target(name: "RagPipeChunking", dependencies: ["RagPipeRecords", "CLibXML2"], path: "Sources/RagPipe/Chunking"),
        .target(name: "RagPipeEmbedding", dependencies: ["RagPipeChunking", "CKernels"], path: "Sources/RagPipe/Embedding"),
        .target(name: "RagPipeIndex", dependencies: ["RagPipeEmbedding", "CKernels", "CZlib"], path: "Sources/RagPipe/Index"),
        .target(name: "RagPipeRetrieval", dependencies: ["RagPipeIndex"], path: "Sources/RagPipe/Retrieval"),
        .target(name: "RagPipeAnswering", dependencies: ["RagPipeRetrieval"], path: "Sources/RagPipe/Answering"),
        .target(name: "RagPipeEvaluation", dependencies: ["RagPipeAnswering"], path: "Sources/RagPipe/Evaluation"),
        // The stages the executables run, and how every tool reports an error.
        .target(name: "RagPipePipeline", dependencies: ["RagPipeEvaluation"], path: "Sources/RagPipe/Pipeline"),
        // Every parser of untrusted input behind one entry point (scripts/fuzz.sh, FuzzRegressionTests).
        .target(name: "RagPipeFuzzing", dependencies: ["RagPipePipeline"], path: "Sources/RagPipe/Fuzzing"),
        // Above the library: what every executable parses the same way (shared option groups, the
        // ExpressibleByArgument conformances of library types, the error-to-exit-status wrapper).
        .target(name: "RagPipeCommandLine", dependencies: ["RagPipePipeline", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "chunk", dependencies: ["RagPipeCommandLine", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "embed", dependencies: ["RagPipeCommandLine", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "build-index", dependencies: ["RagPipeCommandLine", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // OpenAI-compatible HTTP clients (chat, embeddings) on URLSession: Foundation stays out of
        // the core library.
        .target(name: "RagPipeHTTP", dependencies: ["RagPipeAnswering"]),
        .executableTarget(name: "query", dependencies: ["RagPipeCommandLine", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "evaluate", dependencies: ["RagPipeCommandLine", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // `serve`: the HTTP endpoints, the semantic cache, metrics and hot reload, above the
        // library's top layer; the only target that links hummingbird and SwiftNIO.
        .target(name: "RagPipeServer", dependencies: ["RagPipePipeline", .product(name: "Hummingbird", package: "hummingbird"),
                                                     .product(name: "NIOCore", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
                                                     .product(name: "HTTPTypes", package: "swift-http-types")]),
        .executableTarget(name: "serve", dependencies: ["RagPipeServer", "RagPipeCommandLine", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // `make bench`: release benchmarks that print figures (never timed unit tests).
        .executableTarget(name: "ragpipe-bench", dependencies: ["RagPipePipeline", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // The tests read Fixtures/ in place (Fixtures in Support.swift), not as bundled resources.
        .testTarget(name: "RagPipeTests", dependencies: ["RagPipeFuzzing", "RagPipeHTTP", "RagPipeCommandLine", "chunk", "embed", "build-index", "query", "evaluate"],
                    exclude: ["Fixtures"]),
    ]
)
