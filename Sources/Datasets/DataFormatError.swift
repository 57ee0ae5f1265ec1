// The one error type of the file formats in this module (CSV logs, metrics, NPY/NPZ/D4RL, safetensors).

/// An error from reading or writing a data file: what went wrong, the file, where in it, and a message.
///
/// The location parts that apply are set: for a CSV log the 1-based `line` (header = line 1), the 1-based
/// data `row` (blank lines are not numbered) and the `column`; for an NPZ archive the `array` (entry name
/// without `.npy`) and the 0-based flat element `index`; for a safetensors file the `tensor`. `description`
/// renders them all, e.g. `run.csv: line 7, row 6, column 'action.hip': NaN is not allowed`,
/// `hopper.npz: array 'actions': index 17: NaN at row 5, column 2; values must be finite`,
/// `model.safetensors: tensor 'w': shape [2, 3] of F32 needs 24 bytes but data_offsets [0, 20] span 20`.
public struct DataFormatError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, grouped by the format that raises it.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// Any format: no such file; an operating-system error (a directory, no permission, disk full, a closed
        /// writer); inconsistent arguments; values that do not fit a shape or each other; NaN, ±infinity or a
        /// decimal too large for a `Double`; bytes after the end of the data.
        case fileNotFound, io, invalidArgument, shapeMismatch, nonFinite, trailingData
        /// CSV logs (docs/LOG_FORMAT.md): no bytes; a first line blank or all numbers; an empty column name or
        /// one with `,` `"` CR LF; a repeated column; a quoted field; a blank line between rows; a row with
        /// another field count than the header; an empty field; a field that is not a decimal number; a
        /// required column absent; `timestamp` not increasing within an episode; an episode too short.
        case emptyFile, noHeader, invalidColumnName, duplicateColumn, quotedField, blankLine, raggedRow,
             emptyField, nonNumeric, missingColumn, nonMonotonicTimestamp, shortEpisode
        /// NPY/NPZ/D4RL: not a ZIP archive; an entry failing its CRC or inflation; a bad NPY magic, version or
        /// header; an unsupported dtype; array data shorter than its shape; two entries of one name; a required
        /// array absent; a value outside its set (a flag not 0 or 1); no usable rows.
        case notZip, corruptEntry, invalidNPY, unsupportedDType, truncatedArray, duplicateArray, missingArray, invalidValue, empty
        /// Safetensors: shorter than 8 bytes; a header length past the end (or above 100 MB); a header that is
        /// not UTF-8 JSON of the expected shape; no `dtype`; a dtype other than F32, F64, F16, BF16; a bad
        /// `shape`; bad `data_offsets`; a span that is not shape × dtype; overlapping tensors; a gap before a
        /// tensor; a data section shorter than the offsets; no such tensor; a dtype not readable as asked.
        case fileTooShort, headerLengthOutOfRange, invalidHeader, missingDType, unknownDType, invalidShape,
             offsetsOutOfRange, sizeMismatch, overlappingTensors, misplacedTensor, truncatedData, tensorNotFound, dtypeMismatch
        /// Metrics runs (`MetricsWriter`): a bad run name; a bad, reserved or missing tag; a tag twice in one
        /// call; tags other than the CSV columns; a fresh run over an existing one; a `metrics.csv` that cannot
        /// be resumed; `log` after `close()`.
        case invalidRunName, invalidTag, duplicateTag, tagMismatch, runExists, malformedCSV, closed
    }

    /// What went wrong.
    public var kind: Kind
    /// Path of the file concerned (`<memory>`, `<table>` or `<arrays>` for data held in memory).
    public var file: String
    /// 1-based line in a text file (header = line 1), when the error concerns one line.
    public var line: Int?
    /// 1-based data row of a CSV log (first row after the header = 1), when the error concerns one row.
    public var row: Int?
    /// Column of a CSV log (or `#k`, its 1-based position, when it has no usable name).
    public var column: String?
    /// Array of an NPZ archive (entry name without `.npy`).
    public var array: String?
    /// Tensor of a safetensors file.
    public var tensor: String?
    /// 0-based flat (row-major) element index within `array`.
    public var index: Int?
    /// Human-readable detail without the location prefix.
    public var message: String

    /// Creates an error; `description` combines the location and `message`.
    public init(kind: Kind, file: String, line: Int? = nil, row: Int? = nil, column: String? = nil,
                array: String? = nil, tensor: String? = nil, index: Int? = nil, message: String) {
        self.kind = kind; self.file = file; self.line = line; self.row = row; self.column = column
        self.array = array; self.tensor = tensor; self.index = index; self.message = message
    }

    /// `file: line L, row R, column 'C': array 'A': tensor 'T': index I: message`, leaving out what does not
    /// apply.
    public var description: String {
        let place = [line.map { "line \($0)" }, row.map { "row \($0)" }, column.map { "column '\($0)'" }]
            .compactMap { $0 }.joined(separator: ", ")
        let parts = [file, place.isEmpty ? nil : place, array.map { "array '\($0)'" },
                     tensor.map { "tensor '\($0)'" }, index.map { "index \($0)" }, message]
        return parts.compactMap { $0 }.joined(separator: ": ")
    }

    /// `" (similar: 'a', 'b')"` naming up to five of `candidates` that look like `name`, best first: the same
    /// up to case or a small edit distance, then one containing the other, then the same last dotted part.
    static func suggestionSuffix(for name: String, in candidates: [String]) -> String {
        let target = name.lowercased(), tail = target.split(separator: ".").last
        let threshold = max(2, target.count / 3)
        let scored = candidates.enumerated().compactMap { position, candidate -> (Int, Int, String)? in
            let lower = candidate.lowercased(), distance = editDistance(Array(target), Array(lower), cap: threshold + 1)
            if distance <= threshold { return (distance, position, candidate) }
            if !target.isEmpty && (lower.contains(target) || target.contains(lower)) { return (100, position, candidate) }
            if tail != nil && lower.split(separator: ".").last == tail { return (200, position, candidate) }
            return nil
        }
        let similar = scored.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.prefix(5).map { "'\($0.2)'" }
        return similar.isEmpty ? "" : " (similar: " + similar.joined(separator: ", ") + ")"
    }

    /// Levenshtein distance between `a` and `b`, or `cap` as soon as it is certain to reach it.
    static func editDistance(_ a: [Character], _ b: [Character], cap: Int) -> Int {
        if abs(a.count - b.count) >= cap { return cap }
        var previous = Array(0...b.count)
        for i in a.indices {
            var current = [i + 1]
            for j in b.indices { current.append(min(previous[j] + (a[i] == b[j] ? 0 : 1), previous[j + 1] + 1, current[j] + 1)) }
            if current.min()! >= cap { return cap }
            previous = current
        }
        return min(previous[b.count], cap)
    }
}
