/// Numbers in logs, summaries and report tables, without Foundation. A value that is not finite,
/// or too large for the digits to fit an Int, is written as Swift spells it (`nan`, `inf`,
/// `1e+20`) instead of trapping.
extension String {
    /// One decimal, without Foundation.
    public init(format1 value: Double) {
        guard value.isFinite && abs(value) < 1e17 else { self = value.description; return }
        let tenths = (value * 10).rounded()
        let whole = Int(tenths / 10)
        let frac = Int(abs(tenths).truncatingRemainder(dividingBy: 10))
        self = "\(tenths < 0 && whole == 0 ? "-" : "")\(whole).\(frac)"
    }

    /// Three decimals, without Foundation.
    public init(format3 value: Double) {
        self.init(value, decimals: 3)
    }

    /// Four decimals, without Foundation (the metrics of `evaluate beir`).
    public init(format4 value: Double) {
        self.init(value, decimals: 4)
    }

    /// `decimals` decimals, rounded half away from zero; "-" only when a non-zero digit is shown.
    init(_ value: Double, decimals: Int) {
        var scale = 1
        for _ in 0..<decimals { scale *= 10 }
        guard value.isFinite && abs(value) * Double(scale) < 1e18 else { self = value.description; return }
        let scaled = Int((abs(value) * Double(scale)).rounded())
        let frac = String(scaled % scale)
        self = (value < 0 && scaled > 0 ? "-" : "") + "\(scaled / scale)." + String(repeating: "0", count: decimals - frac.count) + frac
    }

    /// This text then spaces up to `width` characters, and at least one space: a table column.
    public func padded(to width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
