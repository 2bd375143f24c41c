extension RecordCodec {
    /// The vector (appended to `vectors`) and model of one line holding a `vector` (base64) or
    /// an `embedding` (array); other fields are skipped, so an `embed` record and an
    /// `embed --lines` line are both read. Throws `JSONScanError`.
    public static func parseVectorLine(_ line: UnsafeRawBufferPointer, into vectors: inout [Float]) throws -> String? {
        var s = JSONScanner(line)
        var model: String?
        var found = false
        try s.beginObject()
        while let key = try s.nextKey() {
            if key.equals("vector") || key.equals("embedding") {
                guard !found else { throw s.fail("two vectors in one line") }
                found = true
                if key.equals("vector") {
                    guard VectorBase64.decode(try s.readRawString(), appendingTo: &vectors) != nil else {
                        throw s.fail("\"vector\" is not base64 of little-endian float32 values")
                    }
                } else {
                    _ = try s.readFloatArray(into: &vectors)
                }
            } else if key.equals("model") {
                model = try s.readString()
            } else {
                try s.skipValue()
            }
        }
        try s.expectEnd()
        return model
    }

}
