extension StringProtocol {
    /// Without leading and trailing white space.
    public func trimmingWhitespace() -> String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s = s.dropFirst() }
        while s.last?.isWhitespace == true { s = s.dropLast() }
        return String(s)
    }
}

extension String {
    package func trimmingASCIISpace() -> String {
        var s = Substring(self)
        while let c = s.first, c.isASCII, c.isWhitespace { s = s.dropFirst() }
        while let c = s.last, c.isASCII, c.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
