import RagPipeSupport
import RagPipeRecords
import RagPipeChunking

/// A read-only, memory-mapped `.safetensors` file: an 8-byte little-endian header length, a
/// JSON header `{name: {"dtype", "shape", "data_offsets": [begin, end]}}`, then the data.
/// F32 tensors are used in place; every offset is checked against the file first.
public final class SafetensorsFile: @unchecked Sendable {
    public struct Tensor: Sendable {
        public var dtype: String
        public var shape: [Int]
        /// Absolute byte range in the file.
        public var range: Range<Int>
    }

    public let file: MappedFile
    public let tensors: [String: Tensor]

    public init(path: String) throws {
        file = try MappedFile(path: path)
        let bytes = file.bytes
        func bad(_ reason: String) -> RagPipeError { .unavailable("\(path): invalid safetensors file: \(reason)") }
        guard bytes.count >= 8 else { throw bad("shorter than its 8-byte header length") }
        let headerLength = bytes.u64(at: 0)
        guard headerLength <= UInt64(bytes.count - 8), headerLength <= 100 << 20 else { throw bad("header length \(headerLength) exceeds the file") }
        let dataStart = 8 + Int(headerLength)
        let dataLength = bytes.count - dataStart
        var tensors: [String: Tensor] = [:]
        do {
            var s = JSONScanner(UnsafeRawBufferPointer(rebasing: bytes[8..<dataStart]))
            try s.beginObject()
            while let key = try s.nextKey() {
                let name = String(decoding: key, as: UTF8.self)
                if name == "__metadata__" { try s.skipValue(); continue }
                var t = Tensor(dtype: "", shape: [], range: 0..<0)
                var offsets: [Int] = []
                try s.beginObject()
                while let field = try s.nextKey() {
                    if field.equals("dtype") { t.dtype = try s.readString() }
                    else if field.equals("shape") { t.shape = try s.readIntArray() }
                    else if field.equals("data_offsets") { offsets = try s.readIntArray() }
                    else { try s.skipValue() }
                }
                guard offsets.count == 2, offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= dataLength else {
                    throw bad("tensor \(name) has data offsets \(offsets) outside the \(dataLength)-byte data section")
                }
                guard t.shape.allSatisfy({ $0 >= 0 }) else { throw bad("tensor \(name) has a negative dimension") }
                t.range = (dataStart + offsets[0])..<(dataStart + offsets[1])
                tensors[name] = t
            }
        } catch let error as JSONScanError {
            throw bad("header: \(error)")
        }
        self.tensors = tensors
    }

    /// An F32 tensor of exactly `shape`, read in place.
    public func floats(_ name: String, shape: [Int]) throws -> UnsafeBufferPointer<Float> {
        guard let t = tensors[name] else { throw RagPipeError.unavailable("\(file.path): no tensor \(name)") }
        guard t.dtype == "F32" else { throw RagPipeError.unavailable("\(file.path): tensor \(name) is \(t.dtype), expected F32") }
        guard t.shape == shape else { throw RagPipeError.unavailable("\(file.path): tensor \(name) has shape \(t.shape), expected \(shape)") }
        let count = shape.reduce(1, *)
        guard t.range.count == count * 4 else { throw RagPipeError.unavailable("\(file.path): tensor \(name) holds \(t.range.count) bytes for \(count) floats") }
        let base = file.bytes.baseAddress! + t.range.lowerBound
        guard Int(bitPattern: base) % 4 == 0 else { throw RagPipeError.unavailable("\(file.path): tensor \(name) is not 4-byte aligned") }
        return UnsafeBufferPointer(start: base.assumingMemoryBound(to: Float.self), count: count)
    }
}

