// Atomic, buffered CSV log writer (format: docs/LOG_FORMAT.md).

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a CSV log: one header row, then one row of numbers per `append`.
///
/// The file is written atomically: rows go to a temporary file `.<name>.tmp-<pid>` in the destination's
/// directory, which `close()` flushes, syncs to disk and renames over the destination. Until `close()`
/// returns, the destination is untouched (absent, or holding its previous contents), so a run that is
/// killed or fails never leaves a half-written log there. A writer released without `close()` (or after
/// `discard()`) deletes its temporary file. Output is buffered (64 KiB), not written value by value.
///
/// Numbers: integral values of magnitude below 2⁵³ (indices, flags, counts) are printed as integers without a
/// decimal point (`3`, `-12`); every other value is printed with Swift's shortest round-trip representation
/// (`"\(x)"`: `0.1`, `-0.0`, `5e-324`, `1.7976931348623157e+308`), so reading the file back with
/// `LogReader` gives bit-identical doubles. NaN and ±infinity are rejected.
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
    public let temporaryURL: URL

    private let destinationPath: String
    private let temporaryPath: String
    private var descriptor: Int32
    private var isOpen = true
    private let buffer: UnsafeMutablePointer<UInt8>
    private var buffered = 0
    private static let bufferCapacity = 1 << 16
    /// Longest text one value can produce (`-2.2250738585072014e-308` is 24 bytes) plus a separator.
    private static let maximumValueLength = 32

    /// Creates the temporary file next to `url` and writes the header row.
    ///
    /// - Parameters:
    ///   - url: destination file URL; its directory must exist and be writable.
    ///   - columns: column names in file order; at least one, unique, none empty, none containing `,`, `"`,
    ///     CR or LF, none with leading or trailing whitespace.
    /// - Throws: `LogError` (`.invalidColumnName`, `.duplicateColumn`, `.io`).
    public init(url: URL, columns: [String]) throws {
        let destination = url.standardizedFileURL
        let destinationPath = destination.path
        let temporaryURL = destination.deletingLastPathComponent()
            .appendingPathComponent(".\(destination.lastPathComponent).tmp-\(getpid())")
        let temporaryPath = temporaryURL.path
        try Self.validate(columns: columns, file: destinationPath)
        let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if descriptor < 0 {
            throw LogError(kind: .io, file: destinationPath,
                           message: "cannot create temporary file \(temporaryPath): \(String(cString: strerror(errno)))")
        }
        self.url = destination
        self.columns = columns
        self.destinationPath = destinationPath
        self.temporaryURL = temporaryURL
        self.temporaryPath = temporaryPath
        self.descriptor = descriptor
        buffer = .allocate(capacity: LogWriter.bufferCapacity)
        do {
            for (position, name) in columns.enumerated() {
                if position > 0 { try put(0x2C) } // ,
                try put(name)
            }
            try put(0x0A) // LF
        } catch {
            abandon()
            throw error
        }
    }

    private static func validate(columns: [String], file: String) throws {
        if columns.isEmpty {
            throw LogError(kind: .invalidColumnName, file: file, message: "a log needs at least one column")
        }
        var seen: [String: Int] = [:]
        for (position, name) in columns.enumerated() {
            if let problem = LogColumns.problem(with: name) {
                throw LogError(kind: .invalidColumnName, file: file, line: 1,
                               column: name.isEmpty ? "#\(position + 1)" : name, message: problem)
            }
            if let earlier = seen[name] {
                throw LogError(kind: .duplicateColumn, file: file, line: 1, column: name,
                               message: "duplicate column name (positions \(earlier + 1) and \(position + 1))")
            }
            seen[name] = position
        }
    }

    deinit {
        if isOpen { abandon() }
        buffer.deallocate()
    }

    /// Appends one data row; `row[i]` is the value of `columns[i]` in SI units.
    ///
    /// The whole row is checked before anything is written, so a rejected row leaves the writer usable.
    /// - Precondition: `row.count == columns.count`.
    /// - Throws: `LogError.Kind.nonFinite` naming the column and row for NaN or ±infinity; `.io` when the
    ///   writer is closed or a write fails (the writer is then discarded: temporary file deleted).
    public func append(_ row: [Double]) throws {
        precondition(row.count == columns.count,
                     "LogWriter.append: row has \(row.count) values but the log has \(columns.count) columns")
        guard isOpen else {
            throw LogError(kind: .io, file: destinationPath, message: "append after close() or discard()")
        }
        var position = 0
        while position < row.count {
            let value = row[position]
            if !value.isFinite {
                throw LogError(kind: .nonFinite, file: destinationPath, line: rowsWritten + 2,
                               row: rowsWritten + 1, column: columns[position],
                               message: "\(value) cannot be written; log values must be finite")
            }
            position += 1
        }
        let buffer = self.buffer
        var used = buffered
        position = 0
        do {
            while position < row.count {
                if LogWriter.bufferCapacity - used < LogWriter.maximumValueLength {
                    buffered = used
                    try flush()
                    used = 0
                }
                if position > 0 { buffer[used] = 0x2C } // ,
                used += position > 0 ? 1 : 0
                used = Self.format(row[position], into: buffer, at: used)
                position += 1
            }
            buffered = used
            try put(0x0A) // LF
        } catch {
            // A write failed with part of the row out: the file can no longer be trusted.
            abandon()
            throw error
        }
        rowsWritten += 1
    }

    /// Flushes the buffer, syncs the temporary file to disk and renames it over `url`.
    ///
    /// Calling it again is a no-op. If it fails, the temporary file is deleted and the destination is left
    /// as it was.
    /// - Throws: `LogError.Kind.io`.
    public func close() throws {
        guard isOpen else { return }
        do {
            try flush()
            if fsync(descriptor) != 0 { throw ioError("fsync failed") }
        } catch {
            abandon()
            throw error
        }
        let status = Self.closeDescriptor(descriptor)
        descriptor = -1
        isOpen = false
        if status != 0 {
            let failure = ioError("close failed")
            unlink(temporaryPath)
            throw failure
        }
        if rename(temporaryPath, destinationPath) != 0 {
            let failure = ioError("cannot rename \(temporaryPath) to the destination")
            unlink(temporaryPath)
            throw failure
        }
    }

    /// Abandons the log: closes and deletes the temporary file without touching the destination.
    public func discard() {
        if isOpen { abandon() }
    }

    // MARK: - Internals

    private func abandon() {
        if descriptor >= 0 { _ = Self.closeDescriptor(descriptor) }
        descriptor = -1
        isOpen = false
        unlink(temporaryPath)
    }

    private static func closeDescriptor(_ fd: Int32) -> Int32 {
        #if canImport(Glibc)
        return Glibc.close(fd)
        #else
        return Darwin.close(fd)
        #endif
    }

    private static func writeBytes(_ fd: Int32, _ bytes: UnsafeMutablePointer<UInt8>, _ count: Int) -> Int {
        #if canImport(Glibc)
        return Glibc.write(fd, bytes, count)
        #else
        return Darwin.write(fd, bytes, count)
        #endif
    }

    private func ioError(_ what: String) -> LogError {
        LogError(kind: .io, file: destinationPath, message: "\(what): \(String(cString: strerror(errno)))")
    }

    private func flush() throws {
        var offset = 0
        while offset < buffered {
            let written = Self.writeBytes(descriptor, buffer + offset, buffered - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw ioError("write to \(temporaryPath) failed")
            }
            offset += written
        }
        buffered = 0
    }

    private func put(_ byte: UInt8) throws {
        if buffered == LogWriter.bufferCapacity { try flush() }
        buffer[buffered] = byte
        buffered += 1
    }

    private func put(_ text: String) throws {
        for byte in text.utf8 { try put(byte) }
    }

    /// Writes finite `value` at `buffer + offset` (at least `maximumValueLength` bytes free) and returns
    /// the offset after it: integral values below 2⁵³ in magnitude as integers, others as `"\(value)"`.
    private static func format(_ value: Double, into buffer: UnsafeMutablePointer<UInt8>, at offset: Int) -> Int {
        if value.rounded(.towardZero) == value && value.magnitude < 9_007_199_254_740_992
            && !(value == 0 && value.sign == .minus) {
            var magnitude = UInt64(value.magnitude)
            var position = offset
            if value < 0 { buffer[position] = 0x2D; position += 1 } // -
            var digits = 1
            var scratch = magnitude / 10
            while scratch > 0 { digits += 1; scratch /= 10 }
            var cursor = position + digits - 1
            repeat {
                buffer[cursor] = 0x30 &+ UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
                cursor -= 1
            } while magnitude > 0
            return position + digits
        }
        var text = value.description // identical to "\(value)": shortest round-trip representation
        return text.withUTF8 { bytes in
            (buffer + offset).update(from: bytes.baseAddress!, count: bytes.count)
            return offset + bytes.count
        }
    }

    /// Writes a whole table to `url` atomically (columns in table order).
    /// - Throws: `LogError` as `init(url:columns:)`, `append(_:)` and `close()` do.
    public static func write(_ table: LogTable, to url: URL) throws {
        let writer = try LogWriter(url: url, columns: table.columns)
        var row = [Double](repeating: 0, count: table.columns.count)
        for r in 0..<table.rows {
            for c in 0..<table.columns.count { row[c] = table.values[c][r] }
            try writer.append(row)
        }
        try writer.close()
    }
}
