// Per-step scalar metrics of a training run (e.g. PETS iterations), written as a CSV file and as a TensorBoard
// event file, both flushed after every step and resumable after a killed run.
//
// Format references:
// - TFRecord framing: https://www.tensorflow.org/tutorials/load_data/tfrecord ("TFRecords format details").
// - TensorBoard `Event`: tensorboard/compat/proto/event.proto; `Summary`: tensorboard/compat/proto/summary.proto.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - TFRecord framing

/// The TFRecord container format used by TensorBoard event files, and its checksum.
///
/// Each record is `uint64 length` (little-endian), `uint32 masked_crc32c(length bytes)`, the `length` data
/// bytes, then `uint32 masked_crc32c(data)`, all integers little-endian. The checksum is CRC-32C
/// (Castagnoli, reflected polynomial `0x82F63B78`), masked as `((crc >> 15) | (crc << 17)) &+ 0xa282ead8`.
/// Reference: https://www.tensorflow.org/tutorials/load_data/tfrecord ("TFRecords format details") and
/// `tensorflow/core/lib/hash/crc32c.h` (`Mask`).
public enum TFRecord {
    /// CRC-32C (Castagnoli) lookup table for the reflected polynomial `0x82F63B78`.
    private static let table: [UInt32] = (0..<256).map { index -> UInt32 in
        var crc = UInt32(index)
        for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        return crc
    }

    /// CRC-32C (Castagnoli) of `bytes`: initial value `0xFFFFFFFF`, reflected, final XOR `0xFFFFFFFF`
    /// (the iSCSI / RFC 3720 checksum; `crc32c("123456789") == 0xE3069283`).
    public static func crc32c<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        var crc: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { table in
            for byte in bytes {
                crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
            }
        }
        return ~crc
    }

    /// TFRecord's masked form of a CRC: `((crc >> 15) | (crc << 17)) &+ 0xa282ead8` (rotate right by 15 bits,
    /// then add a constant, so a CRC stored inside checksummed data does not checksum to a fixed value).
    public static func mask(_ crc: UInt32) -> UInt32 {
        ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    /// `mask(crc32c(bytes))`, the checksum TFRecord stores.
    public static func maskedCRC32C<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        mask(crc32c(bytes))
    }

    /// One framed record: length (8 bytes), masked CRC of the length (4), `data`, masked CRC of `data` (4),
    /// integers little-endian; `data.count + 16` bytes in all.
    public static func frame(_ data: Data) -> Data {
        let length = TensorBoardEvent.littleEndian(UInt64(data.count))
        return length + TensorBoardEvent.littleEndian(maskedCRC32C(length)) + data
            + TensorBoardEvent.littleEndian(maskedCRC32C(data))
    }
}

// MARK: - Protocol buffer encoding of TensorBoard events

/// Hand-written protocol-buffer encoding of the few TensorBoard messages a scalar writer needs
/// (tensorboard/compat/proto/event.proto and summary.proto):
///
///     message Event   { double wall_time = 1; int64 step = 2;
///                       oneof what { string file_version = 3; Summary summary = 5; SessionLog session_log = 7; } }
///     message Summary { repeated Value value = 1;
///                       message Value { string tag = 1; oneof value { float simple_value = 2; } } }
///     message SessionLog { enum SessionStatus { STATUS_UNSPECIFIED = 0; START = 1; } SessionStatus status = 1; }
enum TensorBoardEvent {
    /// The bytes of `value`, little-endian.
    static func littleEndian<T: FixedWidthInteger>(_ value: T) -> Data { withUnsafeBytes(of: value.littleEndian) { Data($0) } }

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
        field(1, wireType: 1, littleEndian(wallTime.bitPattern))
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
                                + field(2, wireType: 5, littleEndian(entry.value.bitPattern)))
        }
        return event(wallTime: wallTime, step: step, field(5, wireType: 2, summary))
    }
}

// MARK: - Writer

/// Writes the scalar metrics of one training run (e.g. one PETS run, one row per iteration) to a CSV file and
/// a TensorBoard event file in the run directory `<directory>/<runName>/`, and resumes such a run after it
/// was killed.
///
/// **`metrics.csv`**: header `step,wall_time,<tag1>,<tag2>,…`, then one row per `log` call. The tag columns
/// are fixed by the first `log` call (in its order) or, when resuming, by the header of the existing file;
/// every later call must give the same set of tags (in any order), else `.tagMismatch`. `step` is an integer;
/// `wall_time` is seconds since the Unix epoch; values are printed with Swift's shortest round-trip
/// representation (`0.1`, `3.0`, `1e-07`), NaN as `nan`, infinities as `inf` / `-inf`. No quoting; LF endings.
///
/// **`events.out.tfevents.<unix-seconds>.<hostname>.<pid>.<n>`**: TFRecord records (`TFRecord`) holding
/// `Event` protos: first `Event{wall_time, file_version: "brain.Event:2"}`, then `Event{wall_time, step: s,
/// session_log: {status: START}}` marking where this writer starts (`s` = 0 for a fresh run, `n + 1` when
/// resuming after `n`), then per `log` call `Event{wall_time, step, summary: {value: [{tag, simple_value}]}}`
/// with the values rounded to `Float` (beyond its range: ±infinity). `<unix-seconds>` is made later than any
/// existing event file's, so a resumed run's file sorts last; `<n>` is 0 unless that name exists. Run
/// `tensorboard --logdir <directory>` to see the run as `<runName>`.
///
/// **Durability**: every row and event is handed to the operating system (`write(2)`, no user-space
/// buffering) before `log` returns, so a killed process keeps every completed row and event; `close()` also
/// syncs both files to disk.
///
/// **Resume**: `resumeAfter: n` keeps the existing `metrics.csv` without its rows whose step is greater than
/// `n` (and without an incomplete last line left by a killed run), rewriting it atomically (`AtomicFile`),
/// and appends later rows under the same header. Old event files are left alone and a new one is started:
/// TensorBoard merges a run's event files in name order; its Rust data server replaces a series' points from
/// a step on when that step is logged again, and its Python loaders discard events with step > `n` on
/// reading the new file's START marker (a second START in a run means a restart).
///
/// Not thread-safe: use one writer from one thread or task at a time, and one writer per run directory.
public final class MetricsWriter {
    /// Name of the CSV file in the run directory.
    public static let csvFileName = "metrics.csv"
    /// `Event.file_version` written as the first event of every event file.
    public static let fileVersion = "brain.Event:2"
    /// Prefix of TensorBoard event file names.
    public static let eventFilePrefix = "events.out.tfevents."

    /// Name of the run: the last path component of `runDirectory` (TensorBoard shows it as the run name).
    public let runName: String
    /// `<directory>/<runName>/`, where both files are written (created if missing).
    public let runDirectory: URL
    /// `<runDirectory>/metrics.csv`.
    public let csvURL: URL
    /// The event file this writer appends to (a new file per writer, also when resuming).
    public let eventFileURL: URL
    /// The step given as `resumeAfter`, or nil for a fresh run.
    public let resumedAfterStep: Int?
    /// The CSV tag columns (after `step` and `wall_time`), in file order; nil until the first `log` call
    /// unless they came from the header of a resumed `metrics.csv`.
    public private(set) var tags: [String]?
    /// Rows of the previous run kept in `metrics.csv` when resuming (0 for a fresh run).
    public let rowsKept: Int
    /// Rows (and summary events) written by this writer.
    public private(set) var rowsWritten = 0

    private let csv: FileHandle
    private let events: FileHandle
    private var isOpen = true
    /// Whether `tags` came from the header of an existing file (only changes the wording of errors).
    private let tagsFromExistingFile: Bool

    /// Starts a run, or resumes one after step `step`.
    ///
    /// - Parameters:
    ///   - directory: parent directory of the run (TensorBoard's `--logdir`); created if missing.
    ///   - runName: name of the run's subdirectory; not empty, `.` or `..`, no `/` or NUL.
    ///   - step: nil for a fresh run, which requires that the run directory holds no event file and no
    ///     non-empty `metrics.csv` (else `.runExists`). Otherwise the last step whose metrics are kept
    ///     (typically the checkpoint's iteration): rows of an existing `metrics.csv` with a greater step are
    ///     dropped, the others kept with their header, whose tags later `log` calls must match; a missing or
    ///     empty `metrics.csv` is fine. `resumeAfter: -1` (with steps ≥ 0) restarts from scratch over the
    ///     leftovers of a run killed before its first checkpoint, so a caller can always pass its last
    ///     completed step (-1 if none).
    /// - Throws: `DataFormatError` (`.invalidRunName`, `.runExists`, `.malformedCSV`, `.io`).
    public init(directory: URL, runName: String, resumeAfter step: Int? = nil) throws {
        guard !runName.isEmpty, runName != ".", runName != "..", !runName.contains("/"),
              !runName.unicodeScalars.contains("\0") else {
            throw DataFormatError(kind: .invalidRunName, file: directory.path,
                                  message: "invalid run name '\(runName)': it must be a non-empty directory name "
                                      + "without '/' (and not '.' or '..')")
        }
        let runDirectory = directory.appendingPathComponent(runName, isDirectory: true).standardizedFileURL
        let csvURL = runDirectory.appendingPathComponent(Self.csvFileName)
        do {
            try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        } catch {
            throw DataFormatError(kind: .io, file: runDirectory.path,
                                  message: "cannot create the run directory: \(error.localizedDescription)")
        }
        var tags: [String]? = nil
        var rowsKept = 0
        if let step {
            var existing = Data()
            do { existing = try readWholeFile(csvURL) } catch let error as DataFormatError where error.kind == .fileNotFound {}
            if !existing.isEmpty {
                let kept = try Self.rowsToKeep(in: existing, afterStep: step, file: csvURL.path)
                try AtomicFile.write(kept.text, to: csvURL)
                (tags, rowsKept) = (kept.tags, kept.rows)
            }
        } else {
            try Self.checkFreshRun(runDirectory: runDirectory, csvPath: csvURL.path)
        }
        // metrics.csv: truncated for a fresh run or when it was absent/empty; appended to otherwise.
        let csvDescriptor = open(csvURL.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (tags == nil ? O_TRUNC : 0), 0o644)
        if csvDescriptor < 0 {
            throw DataFormatError(kind: .io, file: csvURL.path, message: "cannot open for writing: \(Self.errnoText())")
        }
        csv = FileHandle(fileDescriptor: csvDescriptor, closeOnDealloc: true)
        let startTime = Date().timeIntervalSince1970
        (eventFileURL, events) = try Self.createEventFile(in: runDirectory, time: startTime)
        self.runName = runName
        self.runDirectory = runDirectory
        self.csvURL = csvURL
        self.resumedAfterStep = step
        self.tags = tags
        self.tagsFromExistingFile = tags != nil
        self.rowsKept = rowsKept
        let firstStep = step.map { $0 == Int.max ? $0 : $0 + 1 } ?? 0
        try write(TensorBoardEvent.fileVersion(Self.fileVersion, wallTime: startTime), to: events, eventFileURL)
        try write(TensorBoardEvent.sessionStart(step: firstStep, wallTime: startTime), to: events, eventFileURL)
    }

    /// Appends one row to `metrics.csv` and one summary event to the event file, each handed to the operating
    /// system before returning.
    ///
    /// - Parameters:
    ///   - step: the step (e.g. PETS iteration) the values belong to; TensorBoard's x axis.
    ///   - values: `tag: value` pairs, e.g. `["train/loss": 0.12, "eval/return": 310.5]`. Tags are not empty,
    ///     not `step` or `wall_time`, contain no `,`, `"`, CR or LF, and are unique. The first call fixes the CSV
    ///     columns in this order (unless resuming a file that has a header); later calls must give the same
    ///     tags, in any order. NaN and ±infinity are allowed (written as `nan`, `inf`, `-inf`).
    ///   - wallTime: seconds since the Unix epoch for the `wall_time` column and `Event.wall_time`; nil means now.
    /// - Throws: `DataFormatError` (`.invalidTag`, `.duplicateTag`, `.tagMismatch`, `.io`, `.closed`). Nothing is
    ///   written when the values are rejected.
    public func log(step: Int, values: KeyValuePairs<String, Double>, wallTime: Double? = nil) throws {
        try log(step: step, values: values.map { ($0.key, $0.value) }, wallTime: wallTime)
    }

    /// Same as `log(step:values:wallTime:)` with the `(tag, value)` pairs in an array (for values collected
    /// at run time).
    public func log(step: Int, values: [(String, Double)], wallTime: Double? = nil) throws {
        let file = csvURL.path
        guard isOpen else {
            throw DataFormatError(kind: .closed, file: file, message: "log(step: \(step)) after close()")
        }
        guard !values.isEmpty else {
            throw DataFormatError(kind: .invalidTag, file: file, message: "log(step: \(step)) needs at least one value")
        }
        var byTag: [String: Double] = [:]
        for (tag, value) in values {
            try Self.validate(tag: tag, file: file)
            if byTag.updateValue(value, forKey: tag) != nil {
                throw DataFormatError(kind: .duplicateTag, file: file, message: "log(step: \(step)) names tag '\(tag)' twice")
            }
        }
        if let tags, Set(tags) != Set(byTag.keys) {
            throw tagMismatch(given: values.map(\.0), columns: tags, step: step)
        }
        let columns = tags ?? values.map(\.0)
        let time = wallTime ?? Date().timeIntervalSince1970
        var text = tags == nil ? (["step", "wall_time"] + columns).joined(separator: ",") + "\n" : ""
        text += "\(step),\(Self.format(time))" + columns.map { "," + Self.format(byTag[$0]!) }.joined() + "\n"
        try write(Data(text.utf8), to: csv, csvURL)
        tags = columns
        let event = TensorBoardEvent.scalars(columns.map { (tag: $0, value: Float(byTag[$0]!)) }, step: step, wallTime: time)
        try write(event, to: events, eventFileURL)
        rowsWritten += 1
    }

    /// Syncs both files to disk and closes them. Later `log` calls throw `.closed`; calling `close()` again
    /// does nothing. A writer released without `close()` closes its files without syncing (everything
    /// already logged is in them).
    /// - Throws: `DataFormatError` (`.io`) when syncing or closing fails; the files are closed anyway.
    public func close() throws {
        guard isOpen else { return }
        isOpen = false
        var failure: DataFormatError?
        for (handle, url) in [(csv, csvURL), (events, eventFileURL)] {
            do { try handle.synchronize(); try handle.close() } catch {
                try? handle.close()
                failure = failure ?? DataFormatError(kind: .io, file: url.path,
                                                     message: "cannot sync or close: \(error.localizedDescription)")
            }
        }
        if let failure { throw failure }
    }

    // MARK: Helpers

    /// Writes all of `data` (a TensorBoard event is framed as a TFRecord first) to `handle`.
    private func write(_ data: Data, to handle: FileHandle, _ url: URL) throws {
        do { try handle.write(contentsOf: handle === events ? TFRecord.frame(data) : data) } catch {
            throw DataFormatError(kind: .io, file: url.path, message: "write failed: \(error.localizedDescription)")
        }
    }

    /// The error for a `log` call whose tags are not the CSV columns.
    private func tagMismatch(given: [String], columns: [String], step: Int) -> DataFormatError {
        let missing = columns.filter { !given.contains($0) }, unexpected = given.filter { !columns.contains($0) }
        let parts = [missing.isEmpty ? nil : "missing " + missing.map { "'\($0)'" }.joined(separator: ", "),
                     unexpected.isEmpty ? nil : "unexpected " + unexpected.map { "'\($0)'" }.joined(separator: ", ")]
        let origin = tagsFromExistingFile ? "the header of the existing file" : "the first log call"
        return DataFormatError(kind: .tagMismatch, file: csvURL.path,
                               message: "log(step: \(step)) tags differ from the columns fixed by \(origin) "
                                   + "(\(columns.joined(separator: ","))): \(parts.compactMap { $0 }.joined(separator: "; "))")
    }

    /// A CSV field for `value`: `String(describing:)`, except that every NaN (negative or signaling too) is `nan`.
    private static func format(_ value: Double) -> String { value.isNaN ? "nan" : String(describing: value) }

    /// Throws `.invalidTag` unless `tag` can be a CSV column and a TensorBoard tag.
    private static func validate(tag: String, file: String) throws {
        let problem = tag.isEmpty ? "empty tag"
            : tag == "step" || tag == "wall_time" ? "tag '\(tag)' is reserved for a CSV column"
            : tag.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" })
            ? "tag '\(tag)' contains ',', '\"', CR or LF, which the CSV file cannot hold" : nil
        if let problem { throw DataFormatError(kind: .invalidTag, file: file, message: problem) }
    }

    /// Throws `.runExists` if `runDirectory` already holds an event file or a non-empty `metrics.csv`.
    private static func checkFreshRun(runDirectory: URL, csvPath: String) throws {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: runDirectory.path) } catch {
            throw DataFormatError(kind: .io, file: runDirectory.path,
                                  message: "cannot list the run directory: \(error.localizedDescription)")
        }
        let csvSize = (try? FileManager.default.attributesOfItem(atPath: csvPath)[.size] as? NSNumber)?.intValue ?? 0
        if let found = csvSize > 0 ? csvFileName : names.filter({ $0.hasPrefix(eventFilePrefix) }).min() {
            throw DataFormatError(kind: .runExists, file: runDirectory.path,
                                  message: "the run directory already holds \(found); pass resumeAfter: to continue "
                                      + "that run, or use another run name")
        }
    }

    /// The header + kept rows of an existing `metrics.csv` (as the text to write back), its tags and the
    /// number of kept rows. An incomplete last line (no LF: a row cut by a kill) is dropped; a file whose
    /// header itself is incomplete counts as empty (`tags` nil).
    static func rowsToKeep(in data: Data, afterStep resumeStep: Int, file: String)
        throws -> (text: Data, tags: [String]?, rows: Int) {
        func malformed(_ line: Int, _ message: String) -> DataFormatError {
            DataFormatError(kind: .malformedCSV, file: file, line: line, message: message)
        }
        var lines = [UInt8](data).split(separator: 0x0A, omittingEmptySubsequences: false)
        lines.removeLast() // empty after the final LF, or an incomplete line
        guard let header = lines.first else { return (Data(), nil, 0) }
        func text(_ line: ArraySlice<UInt8>, _ number: Int) throws -> String {
            guard let string = String(bytes: line, encoding: .utf8) else { throw malformed(number, "not UTF-8 text") }
            return string
        }
        let headerText = try text(header, 1)
        let fields = headerText.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard fields.count >= 3, fields[0] == "step", fields[1] == "wall_time" else {
            throw malformed(1, "header must be 'step,wall_time,<tag>,…', found '\(headerText)'")
        }
        let tags = Array(fields.dropFirst(2))
        for tag in tags {
            do { try validate(tag: tag, file: file) } catch let error as DataFormatError {
                throw malformed(1, "header: \(error.message)")
            }
        }
        if Set(tags).count != tags.count { throw malformed(1, "header repeats a tag: '\(headerText)'") }
        var kept = Data(header + [0x0A])
        var rows = 0
        for (index, line) in lines.enumerated().dropFirst() {
            if line.isEmpty { throw malformed(index + 1, "blank line") }
            let rowFields = try text(line, index + 1).split(separator: ",", omittingEmptySubsequences: false)
            guard rowFields.count == fields.count else {
                throw malformed(index + 1, "\(rowFields.count) fields, but the header has \(fields.count)")
            }
            guard let step = Int(rowFields[0]) else {
                throw malformed(index + 1, "step '\(rowFields[0])' is not an integer")
            }
            if step <= resumeStep {
                kept.append(contentsOf: line + [0x0A])
                rows += 1
            }
        }
        return (kept, tags, rows)
    }

    /// Creates `events.out.tfevents.<seconds>.<host>.<pid>.<n>` in `directory` with the smallest free `n`.
    /// `<seconds>` is `time` rounded down, or one more than the newest existing event file's seconds when that
    /// is not earlier, so the new file sorts after the old ones (TensorBoard reads a run's files in name
    /// order, which the restart marker of a resumed run relies on).
    private static func createEventFile(in directory: URL, time: Double) throws -> (URL, FileHandle) {
        var seconds = Int(time)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        where name.hasPrefix(eventFilePrefix) {
            if let previous = Int(name.dropFirst(eventFilePrefix.count).prefix { $0 != "." }), previous >= seconds {
                seconds = previous + 1
            }
        }
        var host = [CChar](repeating: 0, count: 256)
        let hostName = gethostname(&host, 255) != 0 ? ""
            : host.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }.replacingOccurrences(of: "/", with: "_")
        let stem = "\(eventFilePrefix)\(seconds).\(hostName.isEmpty ? "localhost" : hostName).\(getpid())."
        for suffix in 0..<1000 {
            let url = directory.appendingPathComponent(stem + String(suffix))
            let descriptor = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o644)
            if descriptor >= 0 { return (url, FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)) }
            if errno != EEXIST {
                throw DataFormatError(kind: .io, file: url.path, message: "cannot create event file: \(errnoText())")
            }
        }
        throw DataFormatError(kind: .io, file: directory.appendingPathComponent(stem + "*").path,
                              message: "cannot create event file: 1000 files with this name stem exist")
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
