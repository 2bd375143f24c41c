import Testing
@testable import RagPipeIndex

@Suite struct AnalyzerTests {
    /// Examples from Porter's paper and his published vocabulary/output lists.
    @Test(arguments: [
        ("caresses", "caress"), ("ponies", "poni"), ("ties", "ti"), ("caress", "caress"), ("cats", "cat"),
        ("feed", "feed"), ("agreed", "agre"), ("plastered", "plaster"), ("bled", "bled"), ("motoring", "motor"),
        ("sing", "sing"), ("conflated", "conflat"), ("troubled", "troubl"), ("sized", "size"), ("hopping", "hop"),
        ("tanned", "tan"), ("falling", "fall"), ("hissing", "hiss"), ("fizzed", "fizz"), ("failing", "fail"),
        ("filing", "file"), ("happy", "happi"), ("sky", "sky"), ("relational", "relat"), ("conditional", "condit"),
        ("rational", "ration"), ("valenci", "valenc"), ("hesitanci", "hesit"), ("digitizer", "digit"),
        ("conformabli", "conform"), ("radicalli", "radic"), ("differentli", "differ"), ("vileli", "vile"),
        ("analogousli", "analog"), ("vietnamization", "vietnam"), ("predication", "predic"), ("operator", "oper"),
        ("feudalism", "feudal"), ("decisiveness", "decis"), ("hopefulness", "hope"), ("callousness", "callous"),
        ("formaliti", "formal"), ("sensitiviti", "sensit"), ("sensibiliti", "sensibl"), ("triplicate", "triplic"),
        ("formative", "form"), ("formalize", "formal"), ("electriciti", "electr"), ("electrical", "electr"),
        ("hopeful", "hope"), ("goodness", "good"), ("revival", "reviv"), ("allowance", "allow"),
        ("inference", "infer"), ("airliner", "airlin"), ("gyroscopic", "gyroscop"), ("adjustable", "adjust"),
        ("defensible", "defens"), ("irritant", "irrit"), ("replacement", "replac"), ("adjustment", "adjust"),
        ("dependent", "depend"), ("adoption", "adopt"), ("homologou", "homolog"), ("communism", "commun"),
        ("activate", "activ"), ("angulariti", "angular"), ("homologous", "homolog"), ("effective", "effect"),
        ("bowdlerize", "bowdler"), ("probate", "probat"), ("rate", "rate"), ("cease", "ceas"),
        ("controll", "control"), ("roll", "roll"), ("generalizations", "gener"), ("oscillators", "oscil"),
        ("is", "is"), ("a", "a"), ("archaeology", "archaeolog"), ("indexes", "index"), ("running", "run"),
        ("gazelle", "gazel"), ("belle", "bell"), ("tell", "tell"),
    ])
    func porterMatchesReference(word: String, stem: String) {
        #expect(PorterStemmer.stem(word) == stem)
    }

    /// Step 5 once read past a trimmed buffer ("gazelle"): random words over the letters the
    /// rules test must never trap.
    @Test func randomWordsNeverTrap() {
        let letters = Array("aeiouylsnzgdtcbmrpwx".utf8)
        var rng = SplitMix(seed: 5)
        for _ in 0..<50_000 {
            let word = (0..<(1 + Int(rng.next() % 14))).map { _ in letters[Int(rng.next() % UInt64(letters.count))] }
            let stem = PorterStemmer.stem(word)
            #expect(stem.count <= word.count + 1)
        }
    }

    /// The ASCII fast path must give exactly the general path's terms.
    @Test func asciiFastPathMatchesTheGeneralPath() {
        let pieces = ["The", "cat's", "U.S.", "1,000.50", "3.14", "don't", "IL-6", "a.b", "x_y", "'s", "..", ",", ";",
                      "Running", "indexes", "(e.g.", "x'", "'y", "9;9", "A;b", "THE", "\t", "\n", "  ", "gazelle"]
        var rng = SplitMix(seed: 9)
        let a = EnglishAnalyzer()
        for _ in 0..<3000 {
            var text = ""
            for _ in 0..<(1 + Int(rng.next() % 12)) {
                text += pieces[Int(rng.next() % UInt64(pieces.count))]
                if rng.next() % 3 != 0 { text += " " }
            }
            var fast: [String] = [], general: [String] = []
            a.forEachASCIITerm(text) { fast.append($0) }
            a.forEachUnicodeTerm(text) { general.append($0) }
            #expect(fast == general, "\(text)")
            if fast != general { break }
        }
    }

    @Test func analyzerChain() {
        let a = EnglishAnalyzer()
        #expect(a.terms("The cat's toys aren't in the U.S. lab, IL-6 costs $1,000.50 and 3.14.")
            == ["cat", "toi", "aren't", "u.", "lab", "il", "6", "cost", "1,000.50", "3.14"])   // Porter: "u.s" → "u."
        #expect(a.terms("中文 indexing") == ["中", "文", "index"])
        #expect(a.terms("") == [])
    }
}
