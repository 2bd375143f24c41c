// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "ragpipe",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "RagPipe", targets: ["RagPipe"]),
        .executable(name: "chunk", targets: ["chunk"]),
        .executable(name: "embed", targets: ["embed"]),
        .executable(name: "build-index", targets: ["build-index"]),
        .executable(name: "query", targets: ["query"]),
        .executable(name: "evaluate", targets: ["evaluate"]),
        // Opened with dlopen by query and embed only when they talk HTTP (HTTPPlugin.swift).
        .library(name: "RagPipeHTTPPlugin", type: .dynamic, targets: ["RagPipeHTTP"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System zlib (zlib1g-dev): compress2/uncompress for text blocks, crc32 for checksums.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),
        // A real BLAS for the encoder's matrix products: OpenBLAS (libopenblas-dev) on Linux.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS",
                       providers: [.apt(["libopenblas-dev"])]),
        // Distance kernels over fp16/sq8 codes, compiled per instruction set with run-time dispatch.
        .target(name: "CKernels"),
        .target(name: "RagPipe", dependencies: ["CZlib", "CBLAS", "CKernels"]),
        .executableTarget(name: "chunk", dependencies: ["RagPipe", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "embed", dependencies: ["RagPipe", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "build-index", dependencies: ["RagPipe", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // OpenAI-compatible HTTP clients (chat, embeddings) on URLSession: Foundation stays out of
        // the core library.
        .target(name: "RagPipeHTTP", dependencies: ["RagPipe"]),
        .executableTarget(name: "query", dependencies: ["RagPipe", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "evaluate", dependencies: ["RagPipe", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // `make bench`: release benchmarks that print figures (never timed unit tests).
        .executableTarget(name: "ragpipe-bench", dependencies: ["RagPipe", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // The tests read Fixtures/ in place (Fixtures in Support.swift), not as bundled resources.
        .testTarget(name: "RagPipeTests", dependencies: ["RagPipe", "RagPipeHTTP", "chunk", "embed", "build-index", "query", "evaluate"],
                    exclude: ["Fixtures"]),
    ]
)
