// Streaming, validating CSV log reader (format: docs/LOG_FORMAT.md).

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads CSV logs into `LogTable`s.
///
/// The file is read in chunks (1 MiB by default) and parsed line by line, so memory stays proportional to
/// the parsed numbers, not to the text. Columns may come in any order and files may have columns a caller does
/// not use. Accepted: LF or CRLF line endings, a missing final newline, blank lines at the end, a UTF-8
/// byte-order mark, spaces or tabs around fields. Fields are decimal numbers (`12`, `-0.5`, `.5`, `1e-05`);
/// `true`/`false` (any case) are 1/0 in boolean columns (`next.done` by default). There is no quoting: a `"`
/// anywhere is an error. Every error is a `DataFormatError` naming the file, line, row and column.
public enum LogReader {
    /// How `read` treats malformed data rows and which extra checks it runs.
    public struct ReadOptions: Sendable {
        /// What to do with a malformed data line: a ragged row (wrong field count), an empty, non-numeric or
        /// non-finite field, or a blank line between rows.
        public enum BadRowPolicy: Sendable, Equatable {
            /// Throw at the first malformed line.
            case error
            /// Drop the line, count it in `LogTable.skippedRows` and keep the first messages.
            case skip
        }

        /// Policy for malformed data lines (default `.error`). Header problems, missing required columns,
        /// non-monotonic timestamps and short episodes always throw.
        public var onBadRow: BadRowPolicy
        /// Episodes (runs of equal `episode_index`; without it the whole file) with fewer rows are an error.
        /// Default 1, which never triggers.
        public var minimumEpisodeLength: Int
        /// Columns in which `true`/`false` (any case) are read as 1/0. Default `["next.done"]`.
        public var booleanColumns: Set<String>
        /// How many skip messages `LogTable.skipMessages` keeps (default 10).
        public var maximumSkipMessages: Int
        /// Bytes read from the file at a time (default 1 MiB; longer lines still work).
        public var chunkSize: Int

        /// Options with the given values; the defaults give a strict reader.
        public init(onBadRow: BadRowPolicy = .error, minimumEpisodeLength: Int = 1,
                    booleanColumns: Set<String> = [LogColumns.done], maximumSkipMessages: Int = 10, chunkSize: Int = 1 << 20) {
            (self.onBadRow, self.minimumEpisodeLength, self.booleanColumns) = (onBadRow, minimumEpisodeLength, booleanColumns)
            (self.maximumSkipMessages, self.chunkSize) = (maximumSkipMessages, chunkSize)
        }
    }

    /// Reads and validates a whole log, checking in file order: the header (on line 1, names non-empty, unique,
    /// unquoted, not all numbers), `requiredColumns` present, each data row (as many fields as the header,
    /// each a finite decimal number), `timestamp` strictly increasing within each episode when both
    /// `timestamp` and `episode_index` exist, and every episode at least `options.minimumEpisodeLength` rows.
    /// - Returns: the table, columns in file order.
    /// - Throws: `DataFormatError` naming the file, the line/row and the column.
    public static func read(url: URL, requiredColumns: [String] = [], options: ReadOptions = .init()) throws -> LogTable {
        let parser = LogParser(path: url.path, requiredColumns: requiredColumns, options: options)
        try parser.run()
        var table = LogTable(trustedColumns: parser.columns, values: parser.values)
        (table.source, table.skippedRows, table.skipMessages, table.skipCounts)
            = (url.path, parser.skipped, parser.skipMessages, parser.skipCounts)
        return table
    }
}

/// Single-use streaming parser behind `LogReader`: lines are parsed in place in the read buffer, numbers with
/// `strtod` in the C locale.
private final class LogParser {
    let path: String, requiredColumns: [String], options: LogReader.ReadOptions
    private(set) var columns: [String] = [], values: [[Double]] = []
    private(set) var skipped = 0, skipMessages: [String] = [], skipCounts: [DataFormatError.Kind: Int] = [:]
    private var isBoolean: [Bool] = [], rowValues: [Double] = []
    private var line = 0, dataRow = 0 // 1-based numbers of the line and data row being parsed
    private var haveHeader = false
    private var blankLinesBeforeHeader = 0, pendingBlankLines = 0, firstPendingBlankLine = 0
    private var timestampColumn = -1, episodeColumn = -1, previousTimestamp = 0.0, previousTimestampLine = 0
    private var episodeValue = 0.0, episodeRows = 0, episodeFirstLine = 0, episodeFirstRow = 0, episodeLastLine = 0

    init(path: String, requiredColumns: [String], options: LogReader.ReadOptions) {
        (self.path, self.requiredColumns, self.options) = (path, requiredColumns, options)
    }

    private func error(_ kind: DataFormatError.Kind, line: Int? = nil, row: Int? = nil, column: String? = nil,
                       _ message: String) -> DataFormatError {
        DataFormatError(kind: kind, file: path, line: line, row: row, column: column, message: message)
    }

    func run() throws {
        try checkReadableFile(URL(fileURLWithPath: path))
        guard let file = FileHandle(forReadingAtPath: path) else { throw error(.io, "cannot open for reading") }
        defer { try? file.close() }
        // Numbers have '.' as the decimal separator whatever the process locale is.
        #if canImport(Glibc)
        let numericLocale = newlocale(Int32(1) << LC_NUMERIC, "C", nil)
        #else
        let numericLocale = newlocale(LC_NUMERIC_MASK, "C", nil)
        #endif
        let previousLocale = numericLocale.map { uselocale($0) }
        defer { if let numericLocale { _ = uselocale(previousLocale ?? nil); freelocale(numericLocale) } }

        var pending: [UInt8] = [] // read, not yet parsed
        while true {
            let chunk: Data
            do { chunk = try file.read(upToCount: max(16, options.chunkSize)) ?? Data() } catch {
                throw self.error(.io, "read failed: \(error.localizedDescription)")
            }
            pending += chunk
            // Complete lines (the last line of the file need not end with LF); the NUL after them is a spare
            // byte, so that the last field of an unterminated line can be NUL-terminated in place.
            let complete = chunk.isEmpty ? pending.count : (pending.lastIndex(of: 0x0A) ?? -1) + 1
            pending.append(0)
            try pending.withUnsafeMutableBufferPointer { buffer in
                var start = 0
                while start < complete {
                    let end = memchr(buffer.baseAddress! + start, 0x0A, complete - start)
                        .map { UnsafeMutableRawPointer(buffer.baseAddress!).distance(to: $0) } ?? complete
                    try parseLine(buffer.baseAddress! + start, end - start)
                    start = end + 1
                }
            }
            pending.removeLast()
            pending.removeFirst(complete)
            if chunk.isEmpty { break }
        }
        if !haveHeader { throw error(.emptyFile, "file is empty (expected a header row)") }
        try finishEpisode()
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    /// `length` bytes at `start + offset` as text, cut after `limit` characters.
    private func text(_ start: UnsafeMutablePointer<UInt8>, _ offset: Int, _ length: Int, limit: Int = 40) -> String {
        let shown = String(decoding: UnsafeBufferPointer(start: start + offset, count: min(length, limit)), as: UTF8.self)
        return length > limit ? shown + "…" : shown
    }

    /// The comma-separated fields of `count` bytes at `start` (at most `limit`), without surrounding spaces/tabs.
    private func fields(_ start: UnsafeMutablePointer<UInt8>, _ count: Int, limit: Int = .max) -> [Range<Int>] {
        var ranges: [Range<Int>] = [], fieldStart = 0
        while ranges.count < limit && fieldStart <= count {
            var end = memchr(start + fieldStart, 0x2C, count - fieldStart).map { UnsafeMutableRawPointer(start).distance(to: $0) } ?? count
            var begin = fieldStart
            fieldStart = end + 1
            while begin < end && Self.isSpace(start[begin]) { begin += 1 }
            while end > begin && Self.isSpace(start[end - 1]) { end -= 1 }
            ranges.append(begin..<end)
        }
        return ranges
    }

    /// Parses line `line + 1`: `count` bytes at `start`, without the LF. `start[count]` is writable.
    private func parseLine(_ start: UnsafeMutablePointer<UInt8>, _ count: Int) throws {
        line += 1
        var start = start, count = count
        if count > 0 && start[count - 1] == 0x0D { count -= 1 } // CR
        if line == 1 && count >= 3 && start[0] == 0xEF && start[1] == 0xBB && start[2] == 0xBF { (start, count) = (start + 3, count - 3) } // BOM
        if (0..<count).allSatisfy({ Self.isSpace(start[$0]) }) {
            if !haveHeader { blankLinesBeforeHeader += 1; return }
            if pendingBlankLines == 0 { firstPendingBlankLine = line }
            pendingBlankLines += 1
            return
        }
        if !haveHeader {
            if blankLinesBeforeHeader > 0 {
                throw error(.noHeader, line: 1, "the first line is blank but must be the header row (first non-blank line is line \(line))")
            }
            try parseHeader(start, count)
            haveHeader = true
            return
        }
        if pendingBlankLines > 0 {
            let blanks = pendingBlankLines
            pendingBlankLines = 0
            let blank = error(.blankLine, line: firstPendingBlankLine,
                              "blank line between data rows" + (blanks > 1 ? " (\(blanks) blank lines, up to line \(line - 1))" : ""))
            for _ in 0..<blanks { try reject(blank) }
        }
        dataRow += 1
        try parseDataRow(start, count)
    }

    private func parseHeader(_ start: UnsafeMutablePointer<UInt8>, _ count: Int) throws {
        let parts = fields(start, count)
        for (position, part) in parts.enumerated() {
            let name = text(start, part.lowerBound, part.count, limit: .max)
            if memchr(start + part.lowerBound, 0x22, part.count) != nil {
                throw error(.quotedField, line: line, column: "#\(position + 1)", "quoted column names are not supported (\(name))")
            }
            if name.isEmpty {
                throw error(.invalidColumnName, line: line, column: "#\(position + 1)", "column \(position + 1) of \(parts.count) has an empty name")
            }
            columns.append(name)
        }
        let seen = try LogColumns.positions(of: columns, file: path, line: line)
        if parts.allSatisfy({ decimal(start + $0.lowerBound, $0.count)?.isFinite == true }) {
            throw error(.noHeader, line: line, "the first line holds only numbers (\(text(start, 0, count))); expected a header row of column names")
        }
        let missing = requiredColumns.filter { seen[$0] == nil }
        if let first = missing.first {
            throw error(.missingColumn, line: line, column: first, "missing required column\(missing.count > 1 ? "s" : "") "
                        + missing.map { "'\($0)'" }.joined(separator: ", ") + DataFormatError.suggestionSuffix(for: first, in: columns))
        }
        isBoolean = columns.map { options.booleanColumns.contains($0) }
        timestampColumn = seen[LogColumns.timestamp] ?? -1
        episodeColumn = seen[LogColumns.episodeIndex] ?? -1
        values = Array(repeating: [], count: columns.count)
    }

    /// Throws `error` in `.error` mode; records it (the caller then drops the row) in `.skip` mode.
    private func reject(_ error: DataFormatError) throws {
        if options.onBadRow == .error { throw error }
        skipped += 1
        skipCounts[error.kind, default: 0] += 1
        if skipMessages.count < options.maximumSkipMessages { skipMessages.append(error.description) }
    }

    private func parseDataRow(_ start: UnsafeMutablePointer<UInt8>, _ count: Int) throws {
        let n = columns.count, parts = fields(start, count, limit: n + 1)
        if parts.count != n {
            let fieldCount = (0..<count).reduce(1) { $0 + (start[$1] == 0x2C ? 1 : 0) }, column = columns[min(fieldCount, n - 1)]
            let detail = fieldCount < n ? "first missing column is '\(column)'" : "\(fieldCount - n) extra field(s) after the last column '\(column)'"
            return try reject(error(.raggedRow, line: line, row: dataRow, column: column, "expected \(n) fields, got \(fieldCount); \(detail)"))
        }
        rowValues.removeAll(keepingCapacity: true)
        for (c, field) in parts.enumerated() {
            if let value = decimal(start + field.lowerBound, field.count), value.isFinite {
                rowValues.append(value)
            } else if let value = try otherField(start, field, column: c) {
                rowValues.append(value)
            } else {
                return // rejected in skip mode
            }
        }
        try acceptRow()
    }

    /// A field that is not a finite decimal: a boolean in a boolean column, or a rejected field (throws in
    /// `.error` mode, returns nil in `.skip` mode).
    private func otherField(_ start: UnsafeMutablePointer<UInt8>, _ field: Range<Int>, column: Int) throws -> Double? {
        let shown = text(start, field.lowerBound, field.count), lower = shown.lowercased()
        let unsigned = lower.hasPrefix("+") || lower.hasPrefix("-") ? String(lower.dropFirst()) : lower
        let kind: DataFormatError.Kind, message: String
        if field.isEmpty {
            (kind, message) = (.emptyField, "empty field")
        } else if isBoolean[column] && (lower == "true" || lower == "false") {
            return lower == "true" ? 1 : 0
        } else if ["nan", "inf", "infinity"].contains(unsigned) {
            (kind, message) = (.nonFinite, "\(shown) is not allowed (values must be finite)")
        } else if memchr(start + field.lowerBound, 0x22, field.count) != nil {
            (kind, message) = (.quotedField, "quoted fields are not supported (\(shown))")
        } else if decimal(start + field.lowerBound, field.count) != nil {
            (kind, message) = (.nonFinite, "\(shown) is too large for a Double (values must be finite)")
        } else {
            (kind, message) = (.nonNumeric, "'\(shown)' is not a number")
        }
        try reject(error(kind, line: line, row: dataRow, column: columns[column], message))
        return nil
    }

    /// The number spelled by the `length` bytes at `field` when they have decimal syntax
    /// (`[+-]digits[.digits][e[+-]digits]`: no hexadecimal, NaN or infinity), ±infinity when it overflows;
    /// nil otherwise. Writes a NUL at `field[length]` while `strtod` runs.
    private func decimal(_ field: UnsafeMutablePointer<UInt8>, _ length: Int) -> Double? {
        let first = length > 0 && (field[0] == 0x2B || field[0] == 0x2D) ? 1 : 0 // + -
        guard first < length, field[first] &- 0x30 < 10 || field[first] == 0x2E else { return nil } // digit or .
        if field[first] == 0x30 && first + 1 < length && field[first + 1] | 0x20 == 0x78 { return nil } // 0x…
        let saved = field[length]
        field[length] = 0
        defer { field[length] = saved }
        var end: UnsafeMutablePointer<CChar>? = nil
        let value = strtod(UnsafeMutableRawPointer(field).assumingMemoryBound(to: CChar.self), &end)
        return end.map { UnsafeMutableRawPointer(field).distance(to: $0) == length } == true ? value : nil
    }

    /// Checks the parsed row against the episode rules and keeps it.
    private func acceptRow() throws {
        if episodeColumn >= 0 {
            let episode = rowValues[episodeColumn]
            if episodeRows == 0 || episode != episodeValue {
                try finishEpisode()
                (episodeValue, episodeRows, episodeFirstLine, episodeFirstRow) = (episode, 0, line, dataRow)
            }
            if timestampColumn >= 0 {
                let time = rowValues[timestampColumn]
                if episodeRows > 0 && !(time > previousTimestamp) {
                    throw error(.nonMonotonicTimestamp, line: line, row: dataRow, column: LogColumns.timestamp,
                                "timestamp \(time) s does not increase (previous row, line \(previousTimestampLine): "
                                + "\(previousTimestamp) s) within episode \(Self.format(episodeValue))")
                }
                (previousTimestamp, previousTimestampLine) = (time, line)
            }
        } else if episodeRows == 0 {
            (episodeValue, episodeFirstLine, episodeFirstRow) = (0, line, dataRow)
        }
        episodeRows += 1
        episodeLastLine = line
        for (c, value) in rowValues.enumerated() { values[c].append(value) }
    }

    private func finishEpisode() throws {
        guard episodeRows > 0, episodeRows < options.minimumEpisodeLength else { return }
        let name = episodeColumn >= 0 ? "episode \(Self.format(episodeValue))" : "the log (single episode)"
        let lines = episodeFirstLine == episodeLastLine ? "line \(episodeFirstLine)" : "lines \(episodeFirstLine)–\(episodeLastLine)"
        throw error(.shortEpisode, line: episodeFirstLine, row: episodeFirstRow, column: episodeColumn >= 0 ? LogColumns.episodeIndex : nil,
                    "\(name) has \(episodeRows) row\(episodeRows == 1 ? "" : "s") (\(lines)); minimumEpisodeLength is \(options.minimumEpisodeLength)")
    }

    private static func format(_ value: Double) -> String {
        value.rounded() == value && value.magnitude < 1e15 ? String(Int64(value)) : "\(value)"
    }
}
