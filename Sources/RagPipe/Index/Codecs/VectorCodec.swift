import RagPipeSupport

/// How a vector is stored as a fixed-size code and how a query scores codes: faiss's
/// `Quantizer` (`train`, `compute_codes`, `decode`) and the scoring half of its
/// `InvertedListScanner` (`set_query`, then `distance_to_code` over a run) in one type.
///
/// A codec knows nothing of where its codes live: `FlatCodes` and `IVFCodes` store runs of
/// them and hand each run to `scores`, so the same codec serves every storage. Adding a coding
/// is adding a conforming type and its `VectorCoding` case; nothing at search time switches on
/// the coding, and every call is per run of codes, never per vector.
package protocol VectorCodec: Sendable {
    /// The query in the form this codec's kernel scores (sq8: integer weights).
    associatedtype Query

    /// Its name in `META` (`codes`).
    static var coding: VectorCoding { get }
    static var bytesPerComponent: Int { get }
    /// The section holding the row-ordered codes of a flat index.
    static var flatSection: IndexFormat.SectionKind { get }
    /// Whether a code is the fp32 vector itself, so `VF32` holds the codes and re-ranking
    /// with it would change nothing.
    static var isExact: Bool { get }

    var dimension: Int { get }

    /// The codec for rows of `vectors` (`count × dimension`), e.g. sq8's per-dimension ranges.
    static func train(_ vectors: UnsafeBufferPointer<Float>, dimension: Int) -> Self
    /// The same from a build's rows, read chunk by chunk.
    static func train(_ vectors: BuildVectors) throws -> Self
    /// The codec as a file stores it: its parameter sections (from `section`), checked.
    static func open(dimension: Int, section: (IndexFormat.SectionKind) -> UnsafeRawBufferPointer?) throws(IndexFileError) -> Self
    /// The sections `open` reads back.
    var parameterSections: [(IndexFormat.SectionKind, [UInt8])] { get }

    func prepare(_ query: [Float]) -> Query
    /// One score per code of the `count` consecutive codes at `codes`. `scratch` holds `count`
    /// integers for kernels that sum in integers.
    func scores(_ query: Query, codes: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>,
                scratch: UnsafeMutablePointer<Int32>)
    /// The codes of `count` rows of `vectors`, `count × codeSize` bytes at `out`.
    func encode(_ vectors: UnsafePointer<Float>, count: Int, into out: UnsafeMutableRawPointer)
    /// The vector a code stands for, `dimension` floats at `out`.
    func decode(_ code: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>)
}

/// A codec with nothing beyond its dimension (fp32, fp16): no training, no parameter sections,
/// and the query scored as it is.
package protocol UnparameterizedCodec: VectorCodec where Query == [Float] {
    init(dimension: Int)
}

extension UnparameterizedCodec {
    package static func train(_ vectors: UnsafeBufferPointer<Float>, dimension: Int) -> Self { Self(dimension: dimension) }
    package static func train(_ vectors: BuildVectors) -> Self { Self(dimension: vectors.dimension) }
    package static func open(dimension: Int, section: (IndexFormat.SectionKind) -> UnsafeRawBufferPointer?) throws(IndexFileError) -> Self {
        Self(dimension: dimension)
    }
    package func prepare(_ query: [Float]) -> [Float] { query }
}

extension VectorCodec {
    /// Bytes of one code.
    package var codeSize: Int { dimension * Self.bytesPerComponent }
    package var parameterSections: [(IndexFormat.SectionKind, [UInt8])] { [] }
    package static var isExact: Bool { false }

    package func decode(_ code: UnsafeRawPointer) -> [Float] {
        [Float](unsafeUninitializedCapacity: dimension) { buffer, n in
            decode(code, into: buffer.baseAddress!)
            n = dimension
        }
    }
}

/// How vectors are stored for search, as META names it: full fp32, IEEE half (2 bytes a
/// component), SQ8 (one byte a component, per-dimension min/max scalar quantization), or
/// RaBitQ (IVF only: 1-bit codes of each row's rotated residual to its list's centroid, scanned
/// first, then the best candidates re-scored with the lists' SQ8 codes; `IVFRaBitQCodes`). Each
/// names a `VectorCodec` type (`codec`), which does the work; for rabitq that is the SQ8 codec
/// of its lists, and the 1-bit scan is a storage of its own.
public enum VectorCoding: String, CaseIterable, Sendable {
    case fp32, fp16, sq8, rabitq

    public var bytesPerComponent: Int { codec.bytesPerComponent }

    /// The section that holds row-ordered codes of a flat index.
    var flatSection: IndexFormat.SectionKind { codec.flatSection }

    /// The codec type a `META` `codes` value names: the one place a coding becomes a type.
    package var codec: any VectorCodec.Type {
        switch self {
        case .fp32: return FP32Codec.self
        case .fp16: return FP16Codec.self
        case .sq8, .rabitq: return SQ8Codec.self
        }
    }
}
