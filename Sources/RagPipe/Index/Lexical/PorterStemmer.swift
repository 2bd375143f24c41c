import RagPipeRecords
import RagPipeChunking

/// The Porter stemmer (M. F. Porter, "An algorithm for suffix stripping", 1980), in the form of
/// Porter's own reference C implementation that Lucene's `PorterStemFilter` ports: including its
/// departures from the paper (`bli`→`ble` instead of `abli`→`able`, and `logi`→`log`).
/// Words of one or two letters are left alone. Works on lowercase ASCII bytes.
public enum PorterStemmer {
    public static func stem(_ word: [UInt8]) -> [UInt8] {
        guard word.count > 2 else { return word }
        var s = Stemmer(b: word)
        s.run()
        return Array(s.b[0...s.k])
    }

    public static func stem(_ word: String) -> String {
        String(decoding: stem(Array(word.utf8)), as: UTF8.self)
    }

    struct Stemmer {
        /// As in the C original, bytes past `k` stay in the buffer: step 5 measures the stem up
        /// to the end it had before dropping a final "e".
        var b: [UInt8]
        var k: Int          // end of the word
        var j = 0           // end of the stem during suffix tests

        init(b: [UInt8]) { self.b = b; k = b.count - 1 }

        func cons(_ i: Int) -> Bool {
            switch b[i] {
            case 0x61, 0x65, 0x69, 0x6F, 0x75: return false          // a e i o u
            case 0x79: return i == 0 ? true : !cons(i - 1)           // y
            default: return true
            }
        }

        /// Number of vowel-consonant sequences in b[0...j].
        func m() -> Int {
            var n = 0, i = 0
            while true {
                if i > j { return n }
                if !cons(i) { break }
                i += 1
            }
            i += 1
            while true {
                while true {
                    if i > j { return n }
                    if cons(i) { break }
                    i += 1
                }
                i += 1
                n += 1
                while true {
                    if i > j { return n }
                    if !cons(i) { break }
                    i += 1
                }
                i += 1
            }
        }

        func vowelInStem() -> Bool { (0...max(j, 0)).contains { j >= 0 && !cons($0) } }

        func doubleConsonant(_ i: Int) -> Bool { i >= 1 && b[i] == b[i - 1] && cons(i) }

        /// consonant-vowel-consonant ending at i, the last not w, x or y.
        func cvc(_ i: Int) -> Bool {
            guard i >= 2, cons(i), !cons(i - 1), cons(i - 2) else { return false }
            return b[i] != 0x77 && b[i] != 0x78 && b[i] != 0x79
        }

        mutating func ends(_ suffix: StaticString) -> Bool {
            let n = suffix.utf8CodeUnitCount
            guard n <= k + 1 else { return false }
            let s = suffix.utf8Start
            for i in 0..<n where b[k - n + 1 + i] != s[i] { return false }
            j = k - n
            return true
        }

        /// Replaces b[j+1...k] with `replacement`.
        mutating func setTo(_ replacement: StaticString) {
            b.removeSubrange((j + 1)...)
            b.append(contentsOf: UnsafeBufferPointer(start: replacement.utf8Start, count: replacement.utf8CodeUnitCount))
            k = b.count - 1
        }

        mutating func r(_ replacement: StaticString) { if m() > 0 { setTo(replacement) } }

        mutating func step1ab() {
            if b[k] == 0x73 {                                       // s
                if ends("sses") { k -= 2 }
                else if ends("ies") { setTo("i") }
                else if b[k - 1] != 0x73 { k -= 1 }
            }
            if ends("eed") {
                if m() > 0 { k -= 1 }
            } else if (ends("ed") || ends("ing")) && vowelInStem() {
                k = j
                if ends("at") { setTo("ate") }
                else if ends("bl") { setTo("ble") }
                else if ends("iz") { setTo("ize") }
                else if doubleConsonant(k) {
                    k -= 1
                    let c = b[k]
                    if c == 0x6C || c == 0x73 || c == 0x7A { k += 1 }   // l s z stay double
                } else {
                    j = k
                    if m() == 1 && cvc(k) { setTo("e") }
                }
            }
        }

        mutating func step1c() {
            if ends("y") && vowelInStem() { b[k] = 0x69 }
        }

        mutating func step2() {
            guard k >= 1 else { return }
            let rules: [(StaticString, StaticString)]
            switch b[k - 1] {
            case 0x61: rules = [("ational", "ate"), ("tional", "tion")]
            case 0x63: rules = [("enci", "ence"), ("anci", "ance")]
            case 0x65: rules = [("izer", "ize")]
            case 0x6C: rules = [("bli", "ble"), ("alli", "al"), ("entli", "ent"), ("eli", "e"), ("ousli", "ous")]
            case 0x6F: rules = [("ization", "ize"), ("ation", "ate"), ("ator", "ate")]
            case 0x73: rules = [("alism", "al"), ("iveness", "ive"), ("fulness", "ful"), ("ousness", "ous")]
            case 0x74: rules = [("aliti", "al"), ("iviti", "ive"), ("biliti", "ble")]
            case 0x67: rules = [("logi", "log")]
            default: return
            }
            for (suffix, replacement) in rules where ends(suffix) { r(replacement); return }
        }

        mutating func step3() {
            let rules: [(StaticString, StaticString)]
            switch b[k] {
            case 0x65: rules = [("icate", "ic"), ("ative", ""), ("alize", "al")]
            case 0x69: rules = [("iciti", "ic")]
            case 0x6C: rules = [("ical", "ic"), ("ful", "")]
            case 0x73: rules = [("ness", "")]
            default: return
            }
            for (suffix, replacement) in rules where ends(suffix) { r(replacement); return }
        }

        mutating func step4() {
            guard k >= 1 else { return }
            var matched = false
            switch b[k - 1] {
            case 0x61: matched = ends("al")
            case 0x63: matched = ends("ance") || ends("ence")
            case 0x65: matched = ends("er")
            case 0x69: matched = ends("ic")
            case 0x6C: matched = ends("able") || ends("ible")
            case 0x6E: matched = ends("ant") || ends("ement") || ends("ment") || ends("ent")
            case 0x6F:
                if ends("ion") && j >= 0 && (b[j] == 0x73 || b[j] == 0x74) { matched = true }
                else { matched = ends("ou") }
            case 0x73: matched = ends("ism")
            case 0x74: matched = ends("ate") || ends("iti")
            case 0x75: matched = ends("ous")
            case 0x76: matched = ends("ive")
            case 0x7A: matched = ends("ize")
            default: return
            }
            if matched && m() > 1 { k = j }
        }

        mutating func step5() {
            j = k
            if b[k] == 0x65 {
                let a = m()
                if a > 1 || (a == 1 && !cvc(k - 1)) { k -= 1 }
            }
            if b[k] == 0x6C && doubleConsonant(k) && m() > 1 { k -= 1 }
        }

        package mutating func run() {
            step1ab()
            guard k > 0 else { return }
            step1c(); step2(); step3(); step4(); step5()
        }
    }
}
