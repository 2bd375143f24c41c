/// Memory the dense sections are built in, 64-byte aligned, freed with the object.
public final class OwnedBytes: @unchecked Sendable {
    public let base: UnsafeMutableRawPointer
    public let count: Int
    init(count: Int) {
        self.count = count
        base = .allocate(byteCount: max(count, 1), alignment: IndexFormat.alignment)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1))
    }
    convenience init(_ bytes: [UInt8]) {
        self.init(count: bytes.count)
        bytes.withUnsafeBytes { if $0.count > 0 { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
    }
    deinit { base.deallocate() }
    public var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}
