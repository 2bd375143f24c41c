/// Bounds every reader of vectors applies, whatever carries them (a stream, an .npy file, an index).
public enum VectorLimits {
    /// The largest vector dimension: readers refuse more, so writers never write it.
    public static let maxDimension = 65_536
}
