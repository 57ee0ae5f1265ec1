// Atomic, buffered CSV log writer (format: docs/LOG_FORMAT.md).

import Foundation

/// Writes a CSV log: one header row, then one row of numbers per `append`.
///
/// The file is written atomically (`AtomicFile`): rows go to a temporary file `.<name>.tmp-<pid>` in the
/// destination's directory, which `close()` syncs to disk and renames over the destination. Until `close()`
/// returns the destination is untouched, so a run that is killed or fails never leaves a half-written log
/// there; a writer released without `close()` (or after `discard()`) deletes its temporary file. Output is
/// buffered (64 KiB).
///
/// Numbers: integral values of magnitude below 2⁵³ (indices, flags, counts) are printed as integers (`3`,
/// `-12`); every other value with Swift's shortest round-trip representation (`0.1`, `-0.0`, `5e-324`), so
/// `LogReader` reads back bit-identical doubles. NaN and ±infinity are rejected.
///
/// Not thread-safe: use one writer from one thread or task at a time.
public final class LogWriter {
    /// Destination of the log (written on `close()`).
    public let url: URL
    /// Column names, in file order.
    public let columns: [String]
    /// Number of data rows appended so far.
    public private(set) var rowsWritten = 0
    /// Path of the temporary file rows are written to before `close()`.
    public var temporaryURL: URL { file.temporary }

    private let file: AtomicFile
    private var buffer: [UInt8] = []

    /// Creates the temporary file next to `url` and writes the header row.
    ///
    /// - Parameters:
    ///   - url: destination file URL; its directory must exist and be writable.
    ///   - columns: column names in file order; at least one, unique, none empty, none containing `,`, `"`,
    ///     CR or LF, none with leading or trailing whitespace.
    /// - Throws: `DataFormatError` (`.invalidColumnName`, `.duplicateColumn`, `.io`).
    public init(url: URL, columns: [String]) throws {
        let path = url.standardizedFileURL.path
        if columns.isEmpty {
            throw DataFormatError(kind: .invalidColumnName, file: path, message: "a log needs at least one column")
        }
        for (position, name) in columns.enumerated() {
            if let problem = LogColumns.problem(with: name) {
                throw DataFormatError(kind: .invalidColumnName, file: path, line: 1, column: name.isEmpty ? "#\(position + 1)" : name, message: problem)
            }
        }
        _ = try LogColumns.positions(of: columns, file: path, line: 1)
        file = try AtomicFile(url)
        self.url = file.destination
        self.columns = columns
        buffer.reserveCapacity(1 << 16)
        buffer.append(contentsOf: columns.joined(separator: ",").utf8)
        buffer.append(0x0A)
    }

    /// Appends one data row; `row[i]` is the value of `columns[i]` in SI units.
    ///
    /// The whole row is checked before anything is written, so a rejected row leaves the writer usable.
    /// - Precondition: `row.count == columns.count`.
    /// - Throws: `DataFormatError.Kind.nonFinite` naming the column and row for NaN or ±infinity; `.io` when
    ///   the writer is closed or a write fails (the writer is then discarded).
    public func append(_ row: [Double]) throws {
        precondition(row.count == columns.count,
                     "LogWriter.append: row has \(row.count) values but the log has \(columns.count) columns")
        guard file.isOpen else {
            throw DataFormatError(kind: .io, file: url.path, message: "append after close() or discard()")
        }
        if let bad = row.firstIndex(where: { !$0.isFinite }) {
            throw DataFormatError(kind: .nonFinite, file: url.path, line: rowsWritten + 2, row: rowsWritten + 1,
                                  column: columns[bad], message: "\(row[bad]) cannot be written; log values must be finite")
        }
        for (position, value) in row.enumerated() {
            if position > 0 { buffer.append(0x2C) } // ,
            if value.rounded(.towardZero) == value && value.magnitude < 9_007_199_254_740_992
                && !(value == 0 && value.sign == .minus) {
                buffer.append(contentsOf: String(Int64(value)).utf8)
            } else {
                buffer.append(contentsOf: value.description.utf8) // shortest round-trip representation
            }
        }
        buffer.append(0x0A)
        rowsWritten += 1
        if buffer.count >= 1 << 16 { try flush() }
    }

    /// Flushes the buffer, syncs the temporary file to disk and renames it over `url`.
    ///
    /// Calling it again is a no-op. If it fails, the temporary file is deleted and the destination is left
    /// as it was.
    /// - Throws: `DataFormatError.Kind.io`.
    public func close() throws {
        guard file.isOpen else { return }
        try flush()
        try file.commit()
    }

    /// Abandons the log: closes and deletes the temporary file without touching the destination.
    public func discard() { file.discard() }

    private func flush() throws {
        try file.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes a whole table to `url` atomically (columns in table order).
    /// - Throws: `DataFormatError` as `init(url:columns:)`, `append(_:)` and `close()` do.
    public static func write(_ table: LogTable, to url: URL) throws {
        let writer = try LogWriter(url: url, columns: table.columns)
        for r in 0..<table.rows { try writer.append(table.values.map { $0[r] }) }
        try writer.close()
    }
}
