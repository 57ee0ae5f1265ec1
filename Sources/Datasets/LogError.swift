// Errors raised while reading or writing CSV logs (format: docs/LOG_FORMAT.md).

/// An error from reading or writing a CSV log.
///
/// Every error names the file it concerns and, where they apply, the 1-based line number in the file (the
/// header is line 1), the 1-based data-row number (the first row after the header is row 1; blank lines are
/// not numbered as rows) and the column. `description` renders all of them, e.g.
/// `run.csv: line 7, row 6, column 'action.hip': NaN is not allowed (nan)`.
public struct LogError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// The file does not exist.
        case fileNotFound
        /// The file has no bytes, or only whitespace: there is no header row.
        case emptyFile
        /// The first line is not a header: it is blank, or every field in it is a number.
        case noHeader
        /// A column name is empty or contains a character the format forbids (`,`, `"`, CR, LF).
        case invalidColumnName
        /// Two header fields have the same name.
        case duplicateColumn
        /// A field contains a double quote; the format has no quoting.
        case quotedField
        /// An empty line between data rows (blank lines are only allowed at the end of the file).
        case blankLine
        /// A data row has a different number of fields than the header.
        case raggedRow
        /// A data field is empty.
        case emptyField
        /// A data field is not a decimal number (nor `true`/`false` in a boolean column).
        case nonNumeric
        /// A data field is NaN or ±infinity, or a decimal number too large for a `Double`.
        case nonFinite
        /// A column that was required (or asked for by name) is not in the file.
        case missingColumn
        /// `timestamp` does not strictly increase from one row to the next within an episode.
        case nonMonotonicTimestamp
        /// An episode has fewer rows than `ReadOptions.minimumEpisodeLength`.
        case shortEpisode
        /// Table columns of different lengths or a column-name list that does not match the values.
        case shapeMismatch
        /// An operating-system error (permissions, disk full, a directory instead of a file, …) or use of a
        /// closed writer.
        case io
    }

    /// What went wrong.
    public var kind: Kind
    /// Path of the file concerned (for an in-memory table, its `source` or `<table>`).
    public var file: String
    /// 1-based line number in the file (header = line 1), when the error concerns one line.
    public var line: Int?
    /// 1-based data-row number (first row after the header = 1), when the error concerns one row.
    public var row: Int?
    /// Name of the column concerned (or `#k`, its 1-based position, when it has no usable name).
    public var column: String?
    /// Human-readable detail without the location prefix.
    public var message: String

    /// Creates an error; `description` combines the location and `message`.
    public init(kind: Kind, file: String, line: Int? = nil, row: Int? = nil, column: String? = nil,
                message: String) {
        self.kind = kind; self.file = file; self.line = line; self.row = row
        self.column = column; self.message = message
    }

    /// `file: line L, row R, column 'C': message`, leaving out the parts that do not apply.
    public var description: String {
        var location: [String] = []
        if let line { location.append("line \(line)") }
        if let row { location.append("row \(row)") }
        if let column { location.append("column '\(column)'") }
        if location.isEmpty { return "\(file): \(message)" }
        return "\(file): \(location.joined(separator: ", ")): \(message)"
    }
}

extension LogError {
    /// Up to `limit` names from `candidates` that look like `name` (case-insensitive match, small edit
    /// distance, one containing the other, or the same last dotted component), best first.
    static func similarNames(to name: String, in candidates: [String], limit: Int = 5) -> [String] {
        let target = Array(name.lowercased())
        let targetTail = name.lowercased().split(separator: ".").last.map(String.init) ?? ""
        let threshold = max(2, target.count / 3)
        var scored: [(score: Int, position: Int, name: String)] = []
        for (position, candidate) in candidates.enumerated() {
            let lower = candidate.lowercased()
            let score: Int
            let distance = editDistance(target, Array(lower), cap: threshold + 1)
            if distance <= threshold {
                score = distance
            } else if !target.isEmpty && (lower.contains(String(target)) || String(target).contains(lower)) {
                score = 100
            } else if !targetTail.isEmpty,
                      lower.split(separator: ".").last.map(String.init) == targetTail {
                score = 200
            } else {
                continue
            }
            scored.append((score, position, candidate))
        }
        scored.sort { ($0.score, $0.position) < ($1.score, $1.position) }
        return scored.prefix(limit).map(\.name)
    }

    /// Levenshtein distance between `a` and `b`, returning `cap` early once it is certain to reach it.
    static func editDistance(_ a: [Character], _ b: [Character], cap: Int) -> Int {
        if abs(a.count - b.count) >= cap { return cap }
        if a.isEmpty { return min(b.count, cap) }
        if b.isEmpty { return min(a.count, cap) }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            var rowMinimum = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(substitution, previous[j] + 1, current[j - 1] + 1)
                rowMinimum = min(rowMinimum, current[j])
            }
            if rowMinimum >= cap { return cap }
            swap(&previous, &current)
        }
        return min(previous[b.count], cap)
    }

    /// `" (similar: 'a', 'b')"`, or `""` when nothing looks like `name`.
    static func suggestionSuffix(for name: String, in candidates: [String]) -> String {
        let similar = similarNames(to: name, in: candidates)
        if similar.isEmpty { return "" }
        return " (similar: " + similar.map { "'\($0)'" }.joined(separator: ", ") + ")"
    }
}
