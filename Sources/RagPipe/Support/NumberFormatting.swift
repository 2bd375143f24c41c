/// Numbers in logs and summaries, without Foundation.
extension String {
    /// One decimal, without Foundation.
    public init(format1 value: Double) {
        let tenths = (value * 10).rounded()
        let whole = Int(tenths / 10)
        let frac = Int(abs(tenths).truncatingRemainder(dividingBy: 10))
        self = "\(tenths < 0 && whole == 0 ? "-" : "")\(whole).\(frac)"
    }

    /// Three decimals, without Foundation.
    public init(format3 value: Double) {
        let thousandths = Int((abs(value) * 1000).rounded())
        let frac = String(thousandths % 1000)
        self = (value < 0 && thousandths > 0 ? "-" : "") + "\(thousandths / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
    }
}
