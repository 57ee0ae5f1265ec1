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
/// the parsed numbers (8 bytes per value, up to twice that while the column buffers grow), not to the text. Columns may come in any order and files may have
/// columns a caller does not use. Accepted: LF or CRLF line endings, a trailing newline (or none), blank
/// lines at the end, a UTF-8 byte-order mark, spaces or tabs around fields. Fields are decimal numbers
/// (`12`, `-0.5`, `.5`, `1e-05`, `5e-324`); `true`/`false` (any case) are read as 1/0 in boolean columns
/// (`next.done` by default). There is no quoting: a `"` anywhere is an error.
///
/// Every error is a `LogError` naming the file, line, row and column.
public enum LogReader {
    /// How `read` treats malformed data rows and which extra checks it runs.
    public struct ReadOptions: Sendable {
        /// What to do with a malformed data line: a ragged row (wrong field count), an empty field, a
        /// non-numeric field, NaN/±infinity, or a blank line between rows.
        public enum BadRowPolicy: Sendable, Equatable {
            /// Throw a `LogError` at the first malformed line.
            case error
            /// Drop the line, count it in `LogTable.skippedRows` and keep the first messages.
            case skip
        }

        /// Policy for malformed data lines (default `.error`). Header problems, missing required columns,
        /// non-monotonic timestamps and short episodes always throw.
        public var onBadRow: BadRowPolicy
        /// Episodes (runs of equal `episode_index`; the whole file without that column) with fewer rows
        /// than this are an error. Default 1, which never triggers.
        public var minimumEpisodeLength: Int
        /// Columns in which `true`/`false` (any case) are read as 1/0. Default `["next.done"]`.
        public var booleanColumns: Set<String>
        /// How many skip messages `LogTable.skipMessages` keeps (default 10).
        public var maximumSkipMessages: Int
        /// Bytes read from the file per system call (default 1 MiB; lines longer than this still work).
        public var chunkSize: Int

        /// Options with the given values; the defaults give a strict reader.
        public init(onBadRow: BadRowPolicy = .error, minimumEpisodeLength: Int = 1,
                    booleanColumns: Set<String> = [LogColumns.done], maximumSkipMessages: Int = 10,
                    chunkSize: Int = 1 << 20) {
            self.onBadRow = onBadRow
            self.minimumEpisodeLength = minimumEpisodeLength
            self.booleanColumns = booleanColumns
            self.maximumSkipMessages = maximumSkipMessages
            self.chunkSize = chunkSize
        }
    }

    /// Reads and validates a whole log.
    ///
    /// Checks, in file order: the header (present on line 1, names non-empty, unique, unquoted, not all
    /// numbers), `requiredColumns` all present, then each data row (field count equal to the header's; every
    /// field a finite decimal number), `timestamp` strictly increasing within each episode when both
    /// `timestamp` and `episode_index` exist, and every episode at least `options.minimumEpisodeLength` rows.
    ///
    /// - Parameters:
    ///   - url: file URL of the CSV log.
    ///   - requiredColumns: names that must be in the header.
    ///   - options: bad-row policy and extra checks.
    /// - Returns: the table, columns in file order.
    /// - Throws: `LogError` naming the file, the line/row and the column.
    public static func read(url: URL, requiredColumns: [String] = [], options: ReadOptions = .init()) throws
        -> LogTable {
        let parser = LogParser(path: url.path, requiredColumns: requiredColumns, options: options,
                               headerOnly: false)
        try parser.run()
        return parser.makeTable()
    }

    /// Reads only the header row and returns the column names in file order (validated as in `read`).
    /// - Throws: `LogError` for a missing or empty file or a bad header.
    public static func readColumns(url: URL) throws -> [String] {
        let parser = LogParser(path: url.path, requiredColumns: [], options: .init(chunkSize: 1 << 16),
                               headerOnly: true)
        try parser.run()
        return parser.columns
    }
}

// MARK: - Parser

/// Single-use streaming parser behind `LogReader`. Hot paths use raw pointers and local variables so that
/// debug builds stay fast enough for large logs.
final class LogParser {
    let path: String
    let requiredColumns: [String]
    let options: LogReader.ReadOptions
    let headerOnly: Bool

    private(set) var columns: [String] = []
    private var isBoolean: [Bool] = []
    private var columnCount = 0

    /// Column-major storage: `storage[c]` points at `capacity` doubles of which `stored` are rows.
    private var storage: UnsafeMutablePointer<UnsafeMutablePointer<Double>>? = nil
    private var capacity = 0
    private var stored = 0
    /// Offsets of the commas of the line being parsed (`columnCount` slots).
    private var commas: UnsafeMutablePointer<Int>? = nil

    private var line = 0                  // 1-based number of the line being parsed
    private var dataRow = 0               // 1-based number of the data row being parsed
    private var haveHeader = false
    private var finished = false
    private var blankLinesBeforeHeader = 0
    private var pendingBlankLines = 0     // blank lines after the header not yet known to be trailing
    private var firstPendingBlankLine = 0

    private var skipped = 0
    private var skipMessages: [String] = []
    private var skipCounts: [LogError.Kind: Int] = [:]

    private var timestampColumn = -1
    private var episodeColumn = -1
    private var previousTimestamp = 0.0
    private var previousTimestampLine = 0
    private var episodeValue = 0.0
    private var episodeRows = 0
    private var episodeFirstLine = 0
    private var episodeFirstRow = 0
    private var episodeLastLine = 0

    private static let comma: UInt8 = 0x2C      // ,
    private static let quote: UInt8 = 0x22      // "
    private static let space: UInt8 = 0x20
    private static let tab: UInt8 = 0x09
    private static let carriageReturn: UInt8 = 0x0D
    private static let lineFeed: UInt8 = 0x0A

    init(path: String, requiredColumns: [String], options: LogReader.ReadOptions, headerOnly: Bool) {
        self.path = path
        self.requiredColumns = requiredColumns
        self.options = options
        self.headerOnly = headerOnly
    }

    deinit {
        if let storage {
            for c in 0..<columnCount { storage[c].deallocate() }
            storage.deallocate()
        }
        commas?.deallocate()
    }

    /// Moves the parsed values into a table (call once, after `run()`).
    func makeTable() -> LogTable {
        var values: [[Double]] = []
        values.reserveCapacity(columnCount)
        let rows = stored
        if let storage {
            for c in 0..<columnCount {
                values.append(Array(UnsafeBufferPointer(start: storage[c], count: rows)))
                // Free each column as soon as it is copied, so the data is held about once, not twice.
                storage[c].deallocate()
            }
            storage.deallocate()
            self.storage = nil
        }
        var index: [String: Int] = [:]
        for (position, name) in columns.enumerated() { index[name] = position }
        var table = LogTable(trustedColumns: columns, values: values, rows: rows, index: index)
        table.source = path
        table.skippedRows = skipped
        table.skipMessages = skipMessages
        table.skipCounts = skipCounts
        return table
    }

    // MARK: Reading

    func run() throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 {
            let code = errno
            if code == ENOENT {
                throw LogError(kind: .fileNotFound, file: path, message: "file not found")
            }
            throw LogError(kind: .io, file: path, message: "cannot open: \(String(cString: strerror(code)))")
        }
        defer { _ = Self.closeDescriptor(descriptor) }

        // Parse numbers with '.' as the decimal separator whatever the process locale is.
        let numericLocale = newlocale(Self.numericMask, "C", nil)
        let previousLocale = numericLocale.map { uselocale($0) }
        defer {
            if let numericLocale {
                _ = uselocale(previousLocale ?? nil)
                freelocale(numericLocale)
            }
        }

        var bufferSize = max(16, options.chunkSize)
        // One spare byte so the last field of an unterminated final line can be NUL-terminated in place.
        var buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: bufferSize + 1)
        defer { buffer.deallocate() }
        var filled = 0
        var atEnd = false

        while !finished {
            if !atEnd {
                let count = read(descriptor, buffer + filled, bufferSize - filled)
                if count < 0 {
                    if errno == EINTR { continue }
                    throw LogError(kind: .io, file: path, message: "read failed: \(String(cString: strerror(errno)))")
                }
                if count == 0 { atEnd = true } else { filled += count }
            }
            var start = 0
            while start < filled && !finished {
                guard let newline = memchr(buffer + start, Int32(Self.lineFeed), filled - start) else { break }
                let end = UnsafeMutableRawPointer(buffer).distance(to: newline)
                try parseLine(buffer + start, end - start)
                start = end + 1
            }
            if atEnd {
                if start < filled && !finished { try parseLine(buffer + start, filled - start) }
                break
            }
            let remaining = filled - start
            if start == 0 && remaining == bufferSize {
                // A line longer than the buffer: grow it (the buffer is never full when `read` is called).
                let larger = UnsafeMutablePointer<UInt8>.allocate(capacity: bufferSize * 2 + 1)
                larger.update(from: buffer, count: remaining)
                buffer.deallocate()
                buffer = larger
                bufferSize *= 2
            } else if remaining > 0 && start > 0 {
                memmove(buffer, buffer + start, remaining)
            }
            filled = remaining
        }
        if !haveHeader {
            throw LogError(kind: .emptyFile, file: path, message: "file is empty (expected a header row)")
        }
        if !headerOnly { try finishEpisode() }
    }

    private static var numericMask: Int32 {
        #if canImport(Glibc)
        return Int32(1) << LC_NUMERIC
        #else
        return LC_NUMERIC_MASK
        #endif
    }

    private static func closeDescriptor(_ fd: Int32) -> Int32 {
        #if canImport(Glibc)
        return Glibc.close(fd)
        #else
        return Darwin.close(fd)
        #endif
    }

    // MARK: Lines

    @inline(__always) private static func isSpace(_ byte: UInt8) -> Bool {
        byte == space || byte == tab
    }

    /// Parses line `line + 1`: `count` bytes at `start`, without the LF. `start[count]` is writable.
    private func parseLine(_ start: UnsafeMutablePointer<UInt8>, _ count: Int) throws {
        line += 1
        var start = start
        var count = count
        if count > 0 && start[count - 1] == Self.carriageReturn { count -= 1 }
        if line == 1 && count >= 3 && start[0] == 0xEF && start[1] == 0xBB && start[2] == 0xBF {
            start += 3 // UTF-8 byte-order mark
            count -= 3
        }
        var blank = true
        var i = 0
        while i < count {
            if !Self.isSpace(start[i]) { blank = false; break }
            i += 1
        }
        if blank {
            if !haveHeader {
                blankLinesBeforeHeader += 1
            } else {
                if pendingBlankLines == 0 { firstPendingBlankLine = line }
                pendingBlankLines += 1
            }
            return
        }
        if !haveHeader {
            if blankLinesBeforeHeader > 0 {
                throw LogError(kind: .noHeader, file: path, line: 1,
                               message: "the first line is blank but must be the header row"
                                   + " (first non-blank line is line \(line))")
            }
            try parseHeader(start, count)
            haveHeader = true
            if headerOnly { finished = true }
            return
        }
        if pendingBlankLines > 0 {
            let blanks = pendingBlankLines
            pendingBlankLines = 0
            let error = LogError(kind: .blankLine, file: path, line: firstPendingBlankLine,
                                 message: "blank line between data rows"
                                     + (blanks > 1 ? " (\(blanks) blank lines, up to line \(line - 1))" : ""))
            if options.onBadRow == .error { throw error }
            for _ in 0..<blanks { record(error) }
        }
        dataRow += 1
        try parseDataRow(start, count)
    }

    private func text(_ start: UnsafeMutablePointer<UInt8>, _ offset: Int, _ length: Int,
                      limit: Int = 40) -> String {
        let shown = String(decoding: UnsafeBufferPointer(start: start + offset, count: min(length, limit)),
                           as: UTF8.self)
        return length > limit ? shown + "…" : shown
    }

    private func parseHeader(_ start: UnsafeMutablePointer<UInt8>, _ count: Int) throws {
        // Split at commas and trim spaces/tabs.
        var parts: [Range<Int>] = []
        var offset = 0
        while true {
            var end = count
            if let comma = memchr(start + offset, Int32(Self.comma), count - offset) {
                end = UnsafeMutableRawPointer(start).distance(to: comma)
            }
            var a = offset, b = end
            while a < b && Self.isSpace(start[a]) { a += 1 }
            while b > a && Self.isSpace(start[b - 1]) { b -= 1 }
            parts.append(a..<b)
            if end == count { break }
            offset = end + 1
        }
        var names: [String] = []
        var seen: [String: Int] = [:]
        for (position, part) in parts.enumerated() {
            let name = text(start, part.lowerBound, part.count, limit: Int.max)
            if memchr(start + part.lowerBound, Int32(Self.quote), part.count) != nil {
                throw LogError(kind: .quotedField, file: path, line: line, column: "#\(position + 1)",
                               message: "quoted column names are not supported (\(name))")
            }
            if name.isEmpty {
                throw LogError(kind: .invalidColumnName, file: path, line: line, column: "#\(position + 1)",
                               message: "column \(position + 1) of \(parts.count) has an empty name")
            }
            if let earlier = seen[name] {
                throw LogError(kind: .duplicateColumn, file: path, line: line, column: name,
                               message: "duplicate column name (positions \(earlier + 1) and \(position + 1))")
            }
            seen[name] = position
            names.append(name)
        }
        // A first line made only of numbers is data, not a header.
        if parts.allSatisfy({ decimal(start + $0.lowerBound, $0.count) != nil }) {
            throw LogError(kind: .noHeader, file: path, line: line,
                           message: "the first line holds only numbers (\(text(start, 0, count)));"
                               + " expected a header row of column names")
        }
        let missing = requiredColumns.filter { seen[$0] == nil }
        if let first = missing.first {
            let list = missing.map { "'\($0)'" }.joined(separator: ", ")
            throw LogError(kind: .missingColumn, file: path, line: line, column: first,
                           message: "missing required column\(missing.count > 1 ? "s" : "") \(list)"
                               + LogError.suggestionSuffix(for: first, in: names))
        }
        columns = names
        columnCount = names.count
        isBoolean = names.map { options.booleanColumns.contains($0) }
        timestampColumn = seen[LogColumns.timestamp] ?? -1
        episodeColumn = seen[LogColumns.episodeIndex] ?? -1
        capacity = 1024
        let storage = UnsafeMutablePointer<UnsafeMutablePointer<Double>>.allocate(capacity: columnCount)
        for c in 0..<columnCount { (storage + c).initialize(to: .allocate(capacity: capacity)) }
        self.storage = storage
        commas = .allocate(capacity: columnCount)
    }

    private func grow() {
        let larger = capacity * 2
        let storage = self.storage!
        for c in 0..<columnCount {
            let column = UnsafeMutablePointer<Double>.allocate(capacity: larger)
            column.update(from: storage[c], count: stored)
            storage[c].deallocate()
            storage[c] = column
        }
        capacity = larger
    }

    private func record(_ error: LogError) {
        skipped += 1
        skipCounts[error.kind, default: 0] += 1
        if skipMessages.count < options.maximumSkipMessages { skipMessages.append(error.description) }
    }

    /// Throws `error` in `.error` mode; records it (the caller then drops the row) in `.skip` mode.
    private func reject(_ error: LogError) throws {
        if options.onBadRow == .error { throw error }
        record(error)
    }

    private func parseDataRow(_ start: UnsafeMutablePointer<UInt8>, _ count: Int) throws {
        let n = columnCount
        let commas = self.commas!
        let storage = self.storage!
        if stored == capacity { grow() }
        let r = stored

        // Locate the commas; more than n - 1 means too many fields.
        var found = 0
        var offset = 0
        while offset <= count, let comma = memchr(start + offset, Int32(Self.comma), count - offset) {
            let position = UnsafeMutableRawPointer(start).distance(to: comma)
            if found == n - 1 { found += 1; break }
            commas[found] = position
            found += 1
            offset = position + 1
        }
        if found != n - 1 {
            try raggedRow(start, count)
            return
        }

        var fieldStart = 0
        var c = 0
        while c < n {
            let fieldEnd = c == n - 1 ? count : commas[c]
            var a = fieldStart, b = fieldEnd
            while a < b && (start[a] == 0x20 || start[a] == 0x09) { a += 1 }         // space, tab
            while b > a && (start[b - 1] == 0x20 || start[b - 1] == 0x09) { b -= 1 }
            if let value = decimal(start + a, b - a) {
                storage[c][r] = value
            } else if let value = try otherField(start, a, b - a, column: c) {
                storage[c][r] = value
            } else {
                return // rejected in skip mode
            }
            fieldStart = fieldEnd + 1
            c += 1
        }
        try accept(storage, r)
    }

    private func raggedRow(_ start: UnsafeMutablePointer<UInt8>, _ count: Int) throws {
        let expected = columnCount
        var fieldCount = 1
        for i in 0..<count where start[i] == Self.comma { fieldCount += 1 }
        let column = fieldCount < expected ? columns[fieldCount] : columns[expected - 1]
        let detail = fieldCount < expected
            ? "first missing column is '\(column)'"
            : "\(fieldCount - expected) extra field(s) after the last column '\(column)'"
        try reject(LogError(kind: .raggedRow, file: path, line: line, row: dataRow, column: column,
                            message: "expected \(expected) fields, got \(fieldCount); \(detail)"))
    }

    /// Checks a fully parsed row `r` against the episode rules and commits it.
    private func accept(_ storage: UnsafeMutablePointer<UnsafeMutablePointer<Double>>, _ r: Int) throws {
        if episodeColumn >= 0 {
            let episode = storage[episodeColumn][r]
            if episodeRows == 0 || episode != episodeValue {
                try finishEpisode()
                startEpisode(episode)
            }
            if timestampColumn >= 0 {
                let time = storage[timestampColumn][r]
                if episodeRows > 0 && !(time > previousTimestamp) {
                    throw LogError(kind: .nonMonotonicTimestamp, file: path, line: line, row: dataRow,
                                   column: LogColumns.timestamp,
                                   message: "timestamp \(time) s does not increase (previous row, line"
                                       + " \(previousTimestampLine): \(previousTimestamp) s) within episode"
                                       + " \(Self.format(episodeValue))")
                }
                previousTimestamp = time
                previousTimestampLine = line
            }
        } else if episodeRows == 0 {
            startEpisode(0)
        }
        episodeRows += 1
        episodeLastLine = line
        stored = r + 1
    }

    private func startEpisode(_ episode: Double) {
        episodeValue = episode
        episodeRows = 0
        episodeFirstLine = line
        episodeFirstRow = dataRow
    }

    private func finishEpisode() throws {
        guard episodeRows > 0, episodeRows < options.minimumEpisodeLength else { return }
        let name = episodeColumn >= 0 ? "episode \(Self.format(episodeValue))" : "the log (single episode)"
        let lines = episodeFirstLine == episodeLastLine ? "line \(episodeFirstLine)"
            : "lines \(episodeFirstLine)–\(episodeLastLine)"
        throw LogError(kind: .shortEpisode, file: path, line: episodeFirstLine, row: episodeFirstRow,
                       column: episodeColumn >= 0 ? LogColumns.episodeIndex : nil,
                       message: "\(name) has \(episodeRows) row\(episodeRows == 1 ? "" : "s") (\(lines));"
                           + " minimumEpisodeLength is \(options.minimumEpisodeLength)")
    }

    private static func format(_ value: Double) -> String {
        if value.rounded() == value && value.magnitude < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    // MARK: Numbers

    @inline(__always) private static func isDigit(_ byte: UInt8) -> Bool {
        byte &- 0x30 < 10
    }

    /// The finite decimal number spelled by the `length` bytes at `field` (`[+-]digits[.digits][e[+-]digits]`,
    /// no hexadecimal, NaN or infinity), or nil.
    @inline(__always) private func decimal(_ field: UnsafeMutablePointer<UInt8>, _ length: Int) -> Double? {
        guard let value = strictStrtod(field, length), value.isFinite else { return nil }
        return value
    }

    /// `strtod` of the whole field when it has decimal syntax (±infinity when it overflows), else nil.
    /// Temporarily writes a NUL at `field[length]`.
    private func strictStrtod(_ field: UnsafeMutablePointer<UInt8>, _ length: Int) -> Double? {
        if length == 0 { return nil }
        var first = 0
        if field[0] == 0x2B || field[0] == 0x2D { first = 1 } // + -
        if first >= length { return nil }
        let lead = field[first]
        if !(Self.isDigit(lead) || lead == 0x2E) { return nil } // digit or .
        if lead == 0x30 && first + 1 < length && field[first + 1] | 0x20 == 0x78 { return nil } // 0x…
        if length <= 17 {
            // Fast path (Clinger): at most 15 digits and no exponent. The digits form an integer m < 10¹⁵ and
            // 10ᵏ (k ≤ 15) is exact, so one IEEE division gives the correctly rounded value, as strtod would.
            var mantissa: UInt64 = 0
            var digits = 0
            var fractionDigits = -1
            var i = first
            while i < length {
                let byte = field[i]
                if byte &- 0x30 < 10 {
                    mantissa = mantissa &* 10 &+ UInt64(byte &- 0x30)
                    digits += 1
                    if fractionDigits >= 0 { fractionDigits += 1 }
                } else if byte == 0x2E && fractionDigits < 0 {
                    fractionDigits = 0
                } else {
                    break
                }
                i += 1
            }
            if i == length && digits > 0 && digits <= 15 {
                var value = Double(mantissa)
                if fractionDigits > 0 {
                    var scale = 10.0
                    var k = 1
                    while k < fractionDigits { scale *= 10; k += 1 }
                    value /= scale
                }
                return first == 1 && field[0] == 0x2D ? -value : value
            }
        }
        let saved = field[length]
        field[length] = 0
        var end: UnsafeMutablePointer<CChar>? = nil
        let value = strtod(UnsafeMutableRawPointer(field).assumingMemoryBound(to: CChar.self), &end)
        field[length] = saved
        guard let end, UnsafeMutableRawPointer(field).distance(to: UnsafeMutableRawPointer(end)) == length else {
            return nil
        }
        return value
    }

    /// Slow path for a field that is not a finite decimal: a boolean in a boolean column, or a rejected
    /// field (throws in `.error` mode, returns nil in `.skip` mode).
    private func otherField(_ start: UnsafeMutablePointer<UInt8>, _ offset: Int, _ length: Int,
                            column: Int) throws -> Double? {
        let shown = text(start, offset, length)
        let lower = shown.lowercased()
        let kind: LogError.Kind
        let message: String
        if length == 0 {
            kind = .emptyField
            message = "empty field"
        } else if isBoolean[column] && (lower == "true" || lower == "false") {
            return lower == "true" ? 1 : 0
        } else if ["nan", "inf", "infinity"].contains(lower.hasPrefix("+") || lower.hasPrefix("-")
                                                        ? String(lower.dropFirst()) : lower) {
            kind = .nonFinite
            message = "\(shown) is not allowed (values must be finite)"
        } else if memchr(start + offset, Int32(Self.quote), length) != nil {
            kind = .quotedField
            message = "quoted fields are not supported (\(shown))"
        } else if let value = strictStrtod(start + offset, length), !value.isFinite {
            kind = .nonFinite
            message = "\(shown) is too large for a Double (values must be finite)"
        } else {
            kind = .nonNumeric
            message = "'\(shown)' is not a number"
        }
        try reject(LogError(kind: kind, file: path, line: line, row: dataRow, column: columns[column],
                            message: message))
        return nil
    }
}
