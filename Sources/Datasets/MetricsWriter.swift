// Per-step scalar metrics of a training run as a CSV file and a TensorBoard event file (TFRecord framing:
// tensorflow.org/tutorials/load_data/tfrecord; `Event`, `Summary`: tensorboard/compat/proto/event.proto, summary.proto).

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The TFRecord container of TensorBoard event files: each record is the data length as a `UInt64`, the
/// masked CRC-32C of those 8 bytes, the data, and the masked CRC-32C of the data, integers little-endian.
/// CRC-32C is Castagnoli's (reflected polynomial `0x82F63B78`, as iSCSI, RFC 3720), masked as
/// `((crc >> 15) | (crc << 17)) &+ 0xa282ead8` (tensorflow/core/lib/hash/crc32c.h, `Mask`).
public enum TFRecord {
    private static let table: [UInt32] = (0..<256).map { index -> UInt32 in
        (0..<8).reduce(UInt32(index)) { crc, _ in crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    }

    /// CRC-32C of `bytes`: initial value `0xFFFFFFFF`, reflected, final XOR `0xFFFFFFFF`
    /// (`crc32c("123456789") == 0xE3069283`).
    public static func crc32c<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        ~bytes.reduce(0xFFFF_FFFF) { crc, byte in table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
    }

    /// The masked form of a CRC: rotated right by 15 bits plus a constant, so that a CRC stored inside
    /// checksummed data does not checksum to a fixed value.
    public static func mask(_ crc: UInt32) -> UInt32 { ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8 }

    /// `mask(crc32c(bytes))`, the checksum TFRecord stores.
    public static func maskedCRC32C<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        mask(crc32c(bytes))
    }

    /// One framed record, `data.count + 16` bytes.
    public static func frame(_ data: Data) -> Data {
        let length = LittleEndian.bytes(of: [UInt64(data.count)])
        return length + LittleEndian.bytes(of: [maskedCRC32C(length)]) + data + LittleEndian.bytes(of: [maskedCRC32C(data)])
    }
}

/// Hand-written protocol-buffer encoding of the few TensorBoard messages a scalar writer needs
/// (tensorboard/compat/proto/event.proto and summary.proto):
///
///     message Event   { double wall_time = 1; int64 step = 2;
///                       oneof what { string file_version = 3; Summary summary = 5; SessionLog session_log = 7; } }
///     message Summary { repeated Value value = 1;
///                       message Value { string tag = 1; oneof value { float simple_value = 2; } } }
///     message SessionLog { enum SessionStatus { STATUS_UNSPECIFIED = 0; START = 1; } SessionStatus status = 1; }
enum TensorBoardEvent {
    /// A base-128 varint (negative `int64` values take 10 bytes, as two's complement).
    private static func varint(_ value: UInt64) -> Data {
        var value = value, data = Data()
        while value >= 0x80 {
            data.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        return data + [UInt8(value)]
    }

    /// Field `number` of wire type 0 (varint), 1 (fixed64), 2 (length-delimited) or 5 (fixed32), with its
    /// encoded `payload`.
    private static func field(_ number: UInt64, wireType: UInt64, _ payload: Data) -> Data {
        varint(number << 3 | wireType) + (wireType == 2 ? varint(UInt64(payload.count)) : Data()) + payload
    }

    /// `Event.wall_time` (field 1, double), `Event.step` (field 2, int64; omitted when nil), then `what`.
    private static func event(wallTime: Double, step: Int?, _ what: Data) -> Data {
        field(1, wireType: 1, LittleEndian.bytes(of: [wallTime.bitPattern]))
            + (step.map { field(2, wireType: 0, varint(UInt64(bitPattern: Int64($0)))) } ?? Data()) + what
    }

    /// The first event of every file: `Event{wall_time, file_version}`.
    static func fileVersion(_ version: String, wallTime: Double) -> Data {
        event(wallTime: wallTime, step: nil, field(3, wireType: 2, Data(version.utf8)))
    }

    /// `Event{wall_time, step, session_log: {status: START}}`: a (re)start of the run at `step`. TensorBoard's
    /// Python loaders treat every START after the run's first as a restart and discard the events with
    /// step ≥ `step` read before it (orphaned by the restart).
    static func sessionStart(step: Int, wallTime: Double) -> Data {
        event(wallTime: wallTime, step: step, field(7, wireType: 2, field(1, wireType: 0, varint(1))))
    }

    /// `Event{wall_time, step, summary: {value: [{tag, simple_value}, …]}}`.
    static func scalars(_ values: [(tag: String, value: Float)], step: Int, wallTime: Double) -> Data {
        let summary = values.reduce(Data()) { summary, entry in
            summary + field(1, wireType: 2, field(1, wireType: 2, Data(entry.tag.utf8))
                                + field(2, wireType: 5, LittleEndian.bytes(of: [entry.value.bitPattern])))
        }
        return event(wallTime: wallTime, step: step, field(5, wireType: 2, summary))
    }
}

/// Writes the scalar metrics of one training run (e.g. one PETS run, a row per iteration) to `metrics.csv`
/// and a TensorBoard event file in the run directory `<directory>/<runName>/`, and resumes such a run.
///
/// **`metrics.csv`**: header `step,wall_time,<tag1>,…`, then a row per `log` call. The tags are fixed by the
/// first `log` call (in its order) or by the header of a resumed file; later calls must give the same set
/// (any order). `wall_time` is seconds since the Unix epoch; values are printed with Swift's shortest
/// round-trip representation (`0.1`, `3.0`, `1e-07`), NaN as `nan`, infinities as `inf`/`-inf`; LF endings.
///
/// **`events.out.tfevents.<unix-seconds>.<host>.<pid>.<n>`**: `TFRecord`s of TensorBoard `Event` protos:
/// `file_version: "brain.Event:2"`, then `session_log: START` at the first step this writer writes (0, or
/// `n + 1` when resuming after `n`), then per `log` call a summary of `simple_value`s (rounded to `Float`).
/// The seconds are made later than any existing event file's, so a resumed run's file sorts last. Run
/// `tensorboard --logdir <directory>` to see the run as `<runName>`.
///
/// **Durability**: every row and event goes to the operating system (`write(2)`, unbuffered) before `log`
/// returns, so a killed process keeps every completed row and event; `close()` also syncs both files.
///
/// **Resume** (`resumeAfter: n`): `metrics.csv` is rewritten atomically (`AtomicFile`) without its rows of
/// step > `n` and without an incomplete last line left by a kill, and later rows follow under its header. Old
/// event files are left alone; TensorBoard merges a run's files in name order, its data server replaces a
/// series' points from a re-logged step on, and its Python loaders drop events of step > `n` on reading the
/// new file's START (a second START in a run means a restart).
///
/// Not thread-safe: one writer per run directory, used from one thread or task at a time.
public final class MetricsWriter {
    /// Name of the CSV file in the run directory.
    public static let csvFileName = "metrics.csv"
    /// `Event.file_version` written as the first event of every event file.
    public static let fileVersion = "brain.Event:2"
    /// Prefix of TensorBoard event file names.
    public static let eventFilePrefix = "events.out.tfevents."

    /// Name of the run: the last path component of `runDirectory`.
    public let runName: String
    /// `<directory>/<runName>/`, where both files are written (created if missing).
    public let runDirectory: URL
    /// `<runDirectory>/metrics.csv`.
    public let csvURL: URL
    /// The event file this writer appends to (a new file per writer, also when resuming).
    public let eventFileURL: URL
    /// The step given as `resumeAfter`, or nil for a fresh run.
    public let resumedAfterStep: Int?
    /// The CSV tag columns after `step` and `wall_time`; nil until the first `log` unless resumed from a header.
    public private(set) var tags: [String]?
    /// Rows of the previous run kept in `metrics.csv` when resuming (0 for a fresh run).
    public let rowsKept: Int
    /// Rows (and summary events) written by this writer.
    public private(set) var rowsWritten = 0

    private let csv: FileHandle, events: FileHandle
    private var isOpen = true
    private let tagsFromExistingFile: Bool // only changes the wording of errors

    /// Starts a run, or resumes one after step `step`.
    /// - Parameters:
    ///   - directory: parent directory of the run (TensorBoard's `--logdir`); created if missing.
    ///   - runName: name of the run's subdirectory; not empty, `.` or `..`, no `/` or NUL.
    ///   - step: nil for a fresh run, which needs a run directory without event files and without a non-empty
    ///     `metrics.csv`. Otherwise the last step whose rows are kept (a missing or empty `metrics.csv` is
    ///     fine); `-1` keeps none, so a caller can always pass its last completed step.
    /// - Throws: `DataFormatError` (`.invalidRunName`, `.runExists`, `.malformedCSV`, `.io`).
    public init(directory: URL, runName: String, resumeAfter step: Int? = nil) throws {
        guard !runName.isEmpty, runName != ".", runName != "..", !runName.contains("/"), !runName.unicodeScalars.contains("\0") else {
            throw DataFormatError(kind: .invalidRunName, file: directory.path, message: "invalid run name '\(runName)': it must be "
                                  + "a non-empty directory name without '/' (and not '.' or '..')")
        }
        runDirectory = directory.appendingPathComponent(runName, isDirectory: true).standardizedFileURL
        csvURL = runDirectory.appendingPathComponent(Self.csvFileName)
        do { try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true) } catch {
            throw DataFormatError(kind: .io, file: runDirectory.path, message: "cannot create the run directory: \(error.localizedDescription)")
        }
        var kept: (text: Data, tags: [String]?, rows: Int) = (Data(), nil, 0)
        if let step {
            var existing = Data()
            do { existing = try readWholeFile(csvURL) } catch let error as DataFormatError where error.kind == .fileNotFound {}
            if !existing.isEmpty {
                kept = try Self.rowsToKeep(in: existing, afterStep: step, file: csvURL.path)
                try AtomicFile.write(kept.text, to: csvURL)
            }
        } else {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: runDirectory.path)) ?? []
            let csvSize = (try? FileManager.default.attributesOfItem(atPath: csvURL.path)[.size] as? NSNumber)?.intValue ?? 0
            if let found = csvSize > 0 ? Self.csvFileName : names.filter({ $0.hasPrefix(Self.eventFilePrefix) }).min() {
                throw DataFormatError(kind: .runExists, file: runDirectory.path, message: "the run directory already holds \(found); "
                                      + "pass resumeAfter: to continue that run, or use another run name")
            }
        }
        (self.runName, resumedAfterStep, tags, tagsFromExistingFile, rowsKept) = (runName, step, kept.tags, kept.tags != nil, kept.rows)
        // metrics.csv: appended to when it kept a header, else started afresh.
        let descriptor = open(csvURL.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (kept.tags == nil ? O_TRUNC : 0), 0o644)
        if descriptor < 0 {
            throw DataFormatError(kind: .io, file: csvURL.path, message: "cannot open for writing: \(String(cString: strerror(errno)))")
        }
        csv = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        let startTime = Date().timeIntervalSince1970
        (eventFileURL, events) = try Self.createEventFile(in: runDirectory, time: startTime)
        try write(TensorBoardEvent.fileVersion(Self.fileVersion, wallTime: startTime), to: events, eventFileURL)
        let firstStep = step.map { $0 == Int.max ? $0 : $0 + 1 } ?? 0
        try write(TensorBoardEvent.sessionStart(step: firstStep, wallTime: startTime), to: events, eventFileURL)
    }

    /// Appends one row to `metrics.csv` and one summary event to the event file, both handed to the operating
    /// system before returning.
    /// - Parameters:
    ///   - step: the step (e.g. PETS iteration) the values belong to; TensorBoard's x axis.
    ///   - values: `tag: value` pairs, e.g. `["train/loss": 0.12]`; tags are unique, not empty, not `step` or
    ///     `wall_time`, without `,` `"` CR LF. NaN and ±infinity are allowed.
    ///   - wallTime: seconds since the Unix epoch; nil means now.
    /// - Throws: `DataFormatError` (`.invalidTag`, `.duplicateTag`, `.tagMismatch`, `.io`, `.closed`); nothing is
    ///   written when the values are rejected.
    public func log(step: Int, values: KeyValuePairs<String, Double>, wallTime: Double? = nil) throws {
        try log(step: step, values: values.map { ($0.key, $0.value) }, wallTime: wallTime)
    }

    /// `log(step:values:wallTime:)` with the `(tag, value)` pairs in an array (values collected at run time).
    public func log(step: Int, values: [(String, Double)], wallTime: Double? = nil) throws {
        func fail(_ kind: DataFormatError.Kind, _ message: String) -> DataFormatError {
            DataFormatError(kind: kind, file: csvURL.path, message: "log(step: \(step)) " + message)
        }
        guard isOpen else { throw fail(.closed, "after close()") }
        guard !values.isEmpty else { throw fail(.invalidTag, "needs at least one value") }
        var byTag: [String: Double] = [:]
        for (tag, value) in values {
            try Self.validate(tag: tag, file: csvURL.path)
            if byTag.updateValue(value, forKey: tag) != nil { throw fail(.duplicateTag, "names tag '\(tag)' twice") }
        }
        if let tags, Set(tags) != Set(byTag.keys) {
            let missing = tags.filter { byTag[$0] == nil }.map { "'\($0)'" }, unexpected = values.map(\.0).filter { !tags.contains($0) }.map { "'\($0)'" }
            let parts = [missing.isEmpty ? nil : "missing " + missing.joined(separator: ", "),
                         unexpected.isEmpty ? nil : "unexpected " + unexpected.joined(separator: ", ")]
            throw fail(.tagMismatch, "tags differ from the columns fixed by \(tagsFromExistingFile ? "the header of the existing file" : "the first log call") "
                       + "(\(tags.joined(separator: ","))): \(parts.compactMap { $0 }.joined(separator: "; "))")
        }
        let columns = tags ?? values.map(\.0), time = wallTime ?? Date().timeIntervalSince1970
        let header = tags == nil ? (["step", "wall_time"] + columns).joined(separator: ",") + "\n" : ""
        let row = "\(step),\(Self.format(time))" + columns.map { "," + Self.format(byTag[$0]!) }.joined() + "\n"
        try write(Data((header + row).utf8), to: csv, csvURL)
        tags = columns
        try write(TensorBoardEvent.scalars(columns.map { ($0, Float(byTag[$0]!)) }, step: step, wallTime: time), to: events, eventFileURL)
        rowsWritten += 1
    }

    /// Syncs both files to disk and closes them; later `log` calls throw `.closed`, a second `close()` does
    /// nothing. A writer released without `close()` closes its files without syncing.
    /// - Throws: `DataFormatError` (`.io`) when syncing or closing fails; the files are closed anyway.
    public func close() throws {
        guard isOpen else { return }
        isOpen = false
        let failures = [(csv, csvURL), (events, eventFileURL)].compactMap { handle, url -> DataFormatError? in
            do { try handle.synchronize(); try handle.close(); return nil } catch {
                try? handle.close()
                return DataFormatError(kind: .io, file: url.path, message: "cannot sync or close: \(error.localizedDescription)")
            }
        }
        if let failure = failures.first { throw failure }
    }

    /// Writes `data` to `handle`; an event (to the event file) is framed as a TFRecord first.
    private func write(_ data: Data, to handle: FileHandle, _ url: URL) throws {
        do { try handle.write(contentsOf: handle === events ? TFRecord.frame(data) : data) } catch {
            throw DataFormatError(kind: .io, file: url.path, message: "write failed: \(error.localizedDescription)")
        }
    }

    /// A CSV field for `value`: `String(describing:)`, except that every NaN (negative or signaling too) is `nan`.
    private static func format(_ value: Double) -> String { value.isNaN ? "nan" : String(describing: value) }

    /// Throws `.invalidTag` unless `tag` can be a CSV column and a TensorBoard tag.
    private static func validate(tag: String, file: String) throws {
        let problem = tag.isEmpty ? "empty tag" : tag == "step" || tag == "wall_time" ? "tag '\(tag)' is reserved for a CSV column"
            : tag.unicodeScalars.contains(where: { "," == $0 || "\"" == $0 || "\r" == $0 || "\n" == $0 })
            ? "tag '\(tag)' contains ',', '\"', CR or LF, which the CSV file cannot hold" : nil
        if let problem { throw DataFormatError(kind: .invalidTag, file: file, message: problem) }
    }

    /// The header and kept rows of an existing `metrics.csv` (the text to write back), its tags and the number
    /// of kept rows. An incomplete last line (no LF) is dropped; a file whose header is incomplete counts as empty.
    static func rowsToKeep(in data: Data, afterStep resumeStep: Int, file: String) throws -> (text: Data, tags: [String]?, rows: Int) {
        var lines = [UInt8](data).split(separator: 0x0A, omittingEmptySubsequences: false)
        lines.removeLast() // empty after the final LF, or an incomplete line
        guard !lines.isEmpty else { return (Data(), nil, 0) }
        var kept = Data(), tags: [String] = [], rows = 0
        for (index, line) in lines.enumerated() {
            func malformed(_ message: String) -> DataFormatError {
                DataFormatError(kind: .malformedCSV, file: file, line: index + 1, message: message)
            }
            guard let text = String(bytes: line, encoding: .utf8) else { throw malformed("not UTF-8 text") }
            let fields = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            if index == 0 {
                guard fields.count >= 3, fields[0] == "step", fields[1] == "wall_time" else {
                    throw malformed("header must be 'step,wall_time,<tag>,…', found '\(text)'")
                }
                tags = Array(fields.dropFirst(2))
                for tag in tags {
                    do { try validate(tag: tag, file: file) } catch let error as DataFormatError { throw malformed("header: \(error.message)") }
                }
                if Set(tags).count != tags.count { throw malformed("header repeats a tag: '\(text)'") }
            } else if line.isEmpty {
                throw malformed("blank line")
            } else if fields.count != tags.count + 2 {
                throw malformed("\(fields.count) fields, but the header has \(tags.count + 2)")
            } else if let step = Int(fields[0]) {
                if step > resumeStep { continue }
                rows += 1
            } else {
                throw malformed("step '\(fields[0])' is not an integer")
            }
            kept += line + [0x0A]
        }
        return (kept, tags, rows)
    }

    /// Creates `events.out.tfevents.<seconds>.<host>.<pid>.<n>` in `directory` with the smallest free `n`;
    /// `<seconds>` is `time` rounded down, or one more than the newest existing event file's when that is not
    /// earlier, so the new file sorts last (the restart marker of a resumed run relies on that order).
    private static func createEventFile(in directory: URL, time: Double) throws -> (URL, FileHandle) {
        var seconds = Int(time)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [] where name.hasPrefix(eventFilePrefix) {
            if let previous = Int(name.dropFirst(eventFilePrefix.count).prefix { $0 != "." }), previous >= seconds { seconds = previous + 1 }
        }
        let host = ProcessInfo.processInfo.hostName.replacingOccurrences(of: "/", with: "_")
        let stem = "\(eventFilePrefix)\(seconds).\(host.isEmpty ? "localhost" : host).\(getpid())."
        for suffix in 0..<1000 {
            let url = directory.appendingPathComponent(stem + String(suffix))
            let descriptor = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o644)
            if descriptor >= 0 { return (url, FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)) }
            if errno != EEXIST {
                throw DataFormatError(kind: .io, file: url.path, message: "cannot create event file: \(String(cString: strerror(errno)))")
            }
        }
        throw DataFormatError(kind: .io, file: directory.appendingPathComponent(stem + "*").path,
                              message: "cannot create event file: 1000 files with this name stem exist")
    }
}
