// Errors raised while reading or writing safetensors files.

/// An error from reading or writing a safetensors file (see `SafetensorsFile` for the format).
///
/// Every error names the file it concerns (`<memory>` for bytes decoded in memory) and, when it concerns
/// one tensor, the tensor's name. `description` renders both, e.g.
/// `model.safetensors: tensor 'w': shape [2, 3] of F32 needs 24 bytes but data_offsets [0, 20] span 20`.
public struct SafetensorsError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// The file does not exist.
        case fileNotFound
        /// The file is shorter than the 8-byte header-length field.
        case fileTooShort
        /// The header length in the first 8 bytes points past the end of the file (or above the 100 MB limit).
        case headerLengthOutOfRange
        /// The header is not UTF-8, not valid JSON, not a JSON object, has a duplicate key, or has a field of
        /// the wrong JSON type (including a malformed `__metadata__`).
        case invalidHeader
        /// A tensor entry has no `dtype`.
        case missingDType
        /// A tensor's `dtype` is not one this reader knows (or is a sub-byte type it does not support).
        case unknownDType
        /// A tensor's `shape` is missing, not an array of non-negative integers, or too large.
        case invalidShape
        /// A tensor's `data_offsets` are missing, not two non-negative integers, or end before they begin.
        case offsetsOutOfRange
        /// The byte count of `shape` × `dtype` differs from the span of the tensor's `data_offsets`.
        case sizeMismatch
        /// Two tensors' byte ranges overlap.
        case overlappingTensors
        /// A tensor does not start where the previous one ends (a gap, or a first tensor not at 0): the
        /// format lays tensors out contiguously in the order of their offsets.
        case misplacedTensor
        /// The data section is shorter than the tensors' offsets require.
        case truncatedData
        /// The data section has bytes after the end of the last tensor.
        case trailingData
        /// No tensor has the requested name.
        case tensorNotFound
        /// The tensor's dtype cannot be returned as the requested element type without loss.
        case dtypeMismatch
        /// Arguments to a writer are inconsistent (duplicate or reserved name, negative dimension, data
        /// size that does not match shape × dtype).
        case invalidArgument
        /// An operating-system error (permissions, disk full, a directory instead of a file, …).
        case io
    }

    /// What went wrong.
    public var kind: Kind
    /// Path of the file concerned (`<memory>` for in-memory bytes).
    public var file: String
    /// Name of the tensor concerned, when the error concerns one.
    public var tensor: String?
    /// Human-readable detail without the location prefix.
    public var message: String

    /// Creates an error; `description` combines the location and `message`.
    public init(kind: Kind, file: String, tensor: String? = nil, message: String) {
        self.kind = kind; self.file = file; self.tensor = tensor; self.message = message
    }

    /// `file: tensor 'name': message`, leaving out the tensor when there is none.
    public var description: String {
        if let tensor { return "\(file): tensor '\(tensor)': \(message)" }
        return "\(file): \(message)"
    }
}
