import RagPipeRecords

/// A request body as a tree, read with the library's `JSONScanner`: small bodies, read once, so
/// a tree is simpler than pulling key by key, and every key can be checked against the known ones.
enum JSONValue: Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    /// Keys in body order; a repeated key is refused when parsing.
    case object([(key: String, value: JSONValue)])

    static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// Deeper bodies are refused: no request this server takes nests more than a few levels.
    static let maximumDepth = 32

    /// Parses one JSON value that must fill `bytes` (white space aside).
    static func parse(_ bytes: UnsafeRawBufferPointer) throws -> JSONValue {
        var scanner = JSONScanner(bytes)
        let value = try read(&scanner, depth: 0)
        try scanner.expectEnd()
        return value
    }

    private static func read(_ s: inout JSONScanner, depth: Int) throws -> JSONValue {
        guard depth < maximumDepth else { throw APIError.badRequest("the body nests arrays and objects deeper than \(maximumDepth) levels") }
        switch s.peek() {
        case 0x7B:
            try s.beginObject()
            var fields: [(key: String, value: JSONValue)] = []
            while let key = try s.nextKey() {
                let name = String(decoding: key, as: UTF8.self)
                if fields.contains(where: { $0.key == name }) { throw APIError.badRequest("the key '\(name)' appears twice") }
                fields.append((name, try read(&s, depth: depth + 1)))
            }
            return .object(fields)
        case 0x5B:
            var items: [JSONValue] = []
            try s.readArray { items.append(try read(&$0, depth: depth + 1)) }
            return .array(items)
        case 0x22: return .string(try s.readString())
        case 0x74, 0x66: return .bool(try s.readBool())
        case 0x6E:
            guard s.readNull() else { throw APIError.badRequest("the body is not valid JSON: an invalid literal", code: "invalid_json") }
            return .null
        case nil: throw APIError.badRequest(depth == 0 ? "the body is empty" : "the body is not valid JSON: it ends where a value was expected",
                                            code: "invalid_json")
        default: return .number(try s.readDouble())
        }
    }

    /// Parses a request body, turning a scan error into a 400 that says where it stopped.
    static func parseBody(_ bytes: [UInt8]) throws -> JSONValue {
        do {
            return try bytes.withUnsafeBytes { try parse($0) }
        } catch let error as JSONScanError {
            throw APIError.badRequest("the body is not valid JSON: \(error)", code: "invalid_json")
        }
    }

    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// Reads the fields of one JSON object, refusing a key no caller asked for (`finish`).
struct FieldReader {
    let fields: [(key: String, value: JSONValue)]
    let context: String
    private var read: Set<String> = []

    init(_ value: JSONValue, context: String = "the body") throws {
        guard case .object(let fields) = value else { throw APIError.badRequest("\(context) must be a JSON object, not \(value.typeName)") }
        self.fields = fields
        self.context = context
    }

    /// The value of `key`; nil when absent or null (null means the default, as absent does).
    mutating func value(_ key: String) -> JSONValue? {
        read.insert(key)
        guard let v = fields.first(where: { $0.key == key })?.value, v != .null else { return nil }
        return v
    }

    mutating func string(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard case .string(let s) = v else { throw APIError.badRequest("'\(key)' must be a string, not \(v.typeName)") }
        return s
    }

    mutating func bool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        guard case .bool(let b) = v else { throw APIError.badRequest("'\(key)' must be true or false, not \(v.typeName)") }
        return b
    }

    mutating func number(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        guard case .number(let x) = v else { throw APIError.badRequest("'\(key)' must be a number, not \(v.typeName)") }
        return x
    }

    mutating func float(_ key: String) throws -> Float? { try number(key).map(Float.init) }

    mutating func int(_ key: String) throws -> Int? {
        guard let x = try number(key) else { return nil }
        guard x == x.rounded(), abs(x) < 1e15 else { throw APIError.badRequest("'\(key)' must be an integer, not \(x)") }
        return Int(x)
    }

    /// A string that must be one of `T`'s raw values.
    mutating func choice<T: RawRepresentable & CaseIterable>(_ key: String, _: T.Type) throws -> T? where T.RawValue == String {
        guard let s = try string(key) else { return nil }
        guard let value = T(rawValue: s) else {
            throw APIError.badRequest("'\(key)' must be one of \(T.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")), not '\(s)'")
        }
        return value
    }

    /// Refuses the keys nobody read, naming them and the keys this body takes. `ignored`: keys
    /// accepted and not used (OpenAI parameters that mean nothing here).
    func finish(ignoring ignored: Set<String> = []) throws {
        let unknown = fields.map(\.key).filter { !read.contains($0) && !ignored.contains($0) }
        guard unknown.isEmpty else {
            let known = (read.union(ignored)).sorted().map { "'\($0)'" }.joined(separator: ", ")
            throw APIError.badRequest("unknown field\(unknown.count == 1 ? "" : "s") \(unknown.map { "'\($0)'" }.joined(separator: ", ")) in \(context) (known: \(known))",
                                      code: "unknown_field")
        }
    }
}
