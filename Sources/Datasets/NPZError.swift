// Errors raised while reading or writing NPY arrays, NPZ archives and D4RL datasets.

/// An error from reading or writing an NPY array, an NPZ archive or a D4RL dataset.
///
/// Every error names the file it concerns (`<memory>` for bytes decoded in memory) and, where they apply,
/// the array (its name in the archive, without `.npy`) and the 0-based flat element index. `description`
/// renders them all, e.g. `hopper.npz: array 'actions': index 17: NaN at row 5, column 2; values must be
/// finite`.
public struct NPZError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// The file does not exist.
        case fileNotFound
        /// The file is not a ZIP archive (an NPZ file is a ZIP of `.npy` files).
        case notZip
        /// A ZIP entry cannot be extracted: CRC-32 mismatch, damaged compressed data, unsupported
        /// compression method.
        case corruptEntry
        /// The bytes are not a valid NPY array: bad magic string, unsupported format version, malformed or
        /// incomplete header, keys other than `descr`, `fortran_order` and `shape`, a bad shape.
        case invalidNPY
        /// The array's `descr` is not a supported dtype (structured, complex, string, object, datetime, …).
        case unsupportedDType
        /// The array data is shorter than shape × dtype requires.
        case truncatedArray
        /// Bytes follow the end of the array data.
        case trailingData
        /// Two entries of the archive give the same array name.
        case duplicateArray
        /// An array the caller requires is not in the archive.
        case missingArray
        /// Arrays have incompatible shapes (or an array has the wrong rank, or values do not match a shape).
        case shapeMismatch
        /// An array holds NaN or ±infinity.
        case nonFinite
        /// An array holds a value outside its allowed set (e.g. a terminal flag other than 0 or 1).
        case invalidValue
        /// A dataset has no usable rows (e.g. no transition once next observations are derived).
        case empty
        /// Arguments to a writer or initializer are inconsistent (empty or duplicate name, …).
        case invalidArgument
        /// An operating-system error (permissions, disk full, a directory instead of a file, …).
        case io
    }

    /// What went wrong.
    public var kind: Kind
    /// Path of the file concerned (`<memory>` or `<arrays>` for in-memory data).
    public var file: String
    /// Name of the array concerned (archive entry name without `.npy`), when the error concerns one.
    public var array: String?
    /// 0-based flat (row-major) index of the element concerned, when the error concerns one.
    public var index: Int?
    /// Human-readable detail without the location prefix.
    public var message: String

    /// Creates an error; `description` combines the location and `message`.
    public init(kind: Kind, file: String, array: String? = nil, index: Int? = nil, message: String) {
        self.kind = kind; self.file = file; self.array = array; self.index = index; self.message = message
    }

    /// `file: array 'name': index i: message`, leaving out the parts that do not apply.
    public var description: String {
        var location: [String] = []
        if let array { location.append("array '\(array)'") }
        if let index { location.append("index \(index)") }
        if location.isEmpty { return "\(file): \(message)" }
        return "\(file): \(location.joined(separator: ": ")): \(message)"
    }
}
