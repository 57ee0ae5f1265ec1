// An in-memory CSV log (format: docs/LOG_FORMAT.md).

/// A loaded CSV log: named columns of `Double`s, stored column-major.
///
/// Values are in the file's units (SI: rad, rad/s, N·m, m, s); `next.done` and other boolean columns hold
/// 0 or 1. Columns keep their file order; look them up by name, never by position, because files may
/// order and extend columns freely.
public struct LogTable: Sendable, Equatable {
    /// Column names in file order.
    public let columns: [String]
    /// Number of data rows.
    public let rows: Int
    /// Column-major values: `values[c][r]` is row `r` of `columns[c]`; every column has `rows` values.
    public let values: [[Double]]
    /// Path of the file the table was read from, or nil for a table built in memory (used in error messages).
    public var source: String?
    /// Number of malformed lines dropped because `ReadOptions.onBadRow` was `.skip` (0 otherwise).
    public var skippedRows: Int = 0
    /// Messages for the first few skipped lines (`ReadOptions.maximumSkipMessages`), each naming line, row
    /// and column.
    public var skipMessages: [String] = []
    /// Number of skipped lines per reason.
    public var skipCounts: [DataFormatError.Kind: Int] = [:]

    private let index: [String: Int]

    /// Builds a table from column names and column-major values.
    /// - Throws: `DataFormatError.Kind.shapeMismatch` when `values.count != columns.count` or the columns
    ///   differ in length, `.duplicateColumn` for a repeated name.
    public init(columns: [String], values: [[Double]], source: String? = nil) throws {
        let file = source ?? "<table>"
        guard columns.count == values.count else {
            throw DataFormatError(kind: .shapeMismatch, file: file,
                                  message: "\(columns.count) column names but \(values.count) value columns")
        }
        _ = try LogColumns.positions(of: columns, file: file, line: nil)
        if let bad = values.firstIndex(where: { $0.count != values[0].count }) {
            throw DataFormatError(kind: .shapeMismatch, file: file, column: columns[bad],
                                  message: "column has \(values[bad].count) values, expected \(values[0].count)")
        }
        self.init(trustedColumns: columns, values: values)
        self.source = source
    }

    /// Internal initializer for values already checked (same lengths, unique names).
    init(trustedColumns columns: [String], values: [[Double]]) {
        self.columns = columns
        self.values = values
        self.rows = values.first?.count ?? 0
        self.index = Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($1, $0) })
    }

    /// Whether a column called `name` exists.
    public func hasColumn(_ name: String) -> Bool { index[name] != nil }

    /// All values of the column called `name`, one per row.
    /// - Throws: `DataFormatError.Kind.missingColumn`, listing columns with similar names.
    public func column(_ name: String) throws -> [Double] {
        guard let position = index[name] else {
            throw DataFormatError(kind: .missingColumn, file: source ?? "<table>", column: name,
                                  message: "no such column" + DataFormatError.suggestionSuffix(for: name, in: columns))
        }
        return values[position]
    }

    /// Names of the columns starting with `prefix` (e.g. `"joint_state.position."`), in file order.
    public func columns(withPrefix prefix: String) -> [String] { columns.filter { $0.hasPrefix(prefix) } }

    /// Row `r` (0-based) as one value per column, in `columns` order. - Precondition: `0 <= r < rows`.
    public func row(_ r: Int) -> [Double] {
        precondition(r >= 0 && r < rows, "LogTable.row: \(r) is out of 0..<\(rows)")
        return values.map { $0[r] }
    }

    /// The rows of each episode, in file order: maximal runs of consecutive rows with the same
    /// `episode_index`. Without an `episode_index` column the whole table is one episode; an empty table
    /// has none.
    public func episodeRanges() -> [Range<Int>] {
        let episode = index[LogColumns.episodeIndex].map { values[$0] }
        let starts = (0..<rows).filter { r in r == 0 || (episode.map { $0[r] != $0[r - 1] } ?? false) }
        return zip(starts, starts.dropFirst() + [rows]).map { $0..<$1 }
    }

    /// Tables are equal when they have the same columns in the same order and bit-for-bit equal values
    /// (`-0.0` differs from `0.0`); `source` and skip statistics are ignored.
    public static func == (lhs: LogTable, rhs: LogTable) -> Bool {
        lhs.columns == rhs.columns && lhs.rows == rhs.rows && lhs.values.map { $0.map(\.bitPattern) } == rhs.values.map { $0.map(\.bitPattern) }
    }
}
