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

// MARK: - Errors

/// An error from creating, resuming or writing a metrics run (``MetricsWriter``).
///
/// Every error names the file (or run directory) it concerns and, when it is about one line of `metrics.csv`,
/// the 1-based line number (the header is line 1). `description` renders them, e.g.
/// `runs/pets/metrics.csv: line 4: step 'x' is not an integer`.
public struct MetricsError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// The run name is empty, `.` or `..`, or contains `/` or NUL.
        case invalidRunName
        /// A tag is empty, is `step` or `wall_time`, or contains `,`, `"`, CR or LF; or a `log` call has no values.
        case invalidTag
        /// One `log` call names the same tag twice.
        case duplicateTag
        /// A `log` call's tags differ from the CSV columns (fixed by the first `log` call, or by the header of
        /// the existing `metrics.csv` when resuming).
        case tagMismatch
        /// A fresh run (no `resumeAfter`) was started in a directory that already holds metrics or event files.
        case runExists
        /// The existing `metrics.csv` cannot be resumed: not UTF-8, a bad header, a blank line, a row with the
        /// wrong number of fields or a step that is not an integer.
        case malformedCSV
        /// An operating-system error (permissions, disk full, a file where a directory should be, …).
        case io
        /// `log` was called after `close()`.
        case closed
    }

    /// What went wrong.
    public var kind: Kind
    /// Path of the file (or run directory) concerned.
    public var file: String
    /// 1-based line number in `metrics.csv` (header = line 1), when the error concerns one line.
    public var line: Int?
    /// Human-readable detail without the location prefix.
    public var message: String

    /// Creates an error; `description` combines `file`, `line` and `message`.
    public init(kind: Kind, file: String, line: Int? = nil, message: String) {
        self.kind = kind; self.file = file; self.line = line; self.message = message
    }

    /// `file: line L: message`, or `file: message` when no line applies.
    public var description: String {
        if let line { return "\(file): line \(line): \(message)" }
        return "\(file): \(message)"
    }
}

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
        var lengthBytes = Data()
        LittleEndian.append(UInt64(data.count), to: &lengthBytes)
        var record = Data(capacity: data.count + 16)
        record.append(lengthBytes)
        LittleEndian.append(maskedCRC32C(lengthBytes), to: &record)
        record.append(data)
        LittleEndian.append(maskedCRC32C(data), to: &record)
        return record
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
    /// Protocol-buffer wire types.
    private enum WireType: UInt64 {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5
    }

    /// Appends a base-128 varint (negative `int64` values take 10 bytes, as two's complement).
    private static func appendVarint(_ value: UInt64, to data: inout Data) {
        var value = value
        while value >= 0x80 {
            data.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        data.append(UInt8(value))
    }

    /// Appends the key of field `number` with wire type `type`.
    private static func appendKey(_ number: UInt64, _ type: WireType, to data: inout Data) {
        appendVarint(number << 3 | type.rawValue, to: &data)
    }

    /// Appends a length-delimited field (string, bytes or embedded message).
    private static func appendBytes(_ number: UInt64, _ bytes: Data, to data: inout Data) {
        appendKey(number, .lengthDelimited, to: &data)
        appendVarint(UInt64(bytes.count), to: &data)
        data.append(bytes)
    }

    /// `Event.wall_time` (field 1, double) and `Event.step` (field 2, int64; omitted when nil).
    private static func header(wallTime: Double, step: Int?) -> Data {
        var data = Data()
        appendKey(1, .fixed64, to: &data)
        LittleEndian.append(wallTime.bitPattern, to: &data)
        if let step {
            appendKey(2, .varint, to: &data)
            appendVarint(UInt64(bitPattern: Int64(step)), to: &data)
        }
        return data
    }

    /// The first event of every file: `Event{wall_time, file_version}`.
    static func fileVersion(_ version: String, wallTime: Double) -> Data {
        var data = header(wallTime: wallTime, step: nil)
        appendBytes(3, Data(version.utf8), to: &data)
        return data
    }

    /// `Event{wall_time, step, session_log: {status: START}}`: a (re)start of the run at `step`. TensorBoard's
    /// Python loaders treat every START after the run's first as a restart and discard the events with
    /// step ≥ `step` read before it (orphaned by the restart).
    static func sessionStart(step: Int, wallTime: Double) -> Data {
        var sessionLog = Data()
        appendKey(1, .varint, to: &sessionLog)
        appendVarint(1, to: &sessionLog) // SessionLog.START
        var data = header(wallTime: wallTime, step: step)
        appendBytes(7, sessionLog, to: &data)
        return data
    }

    /// `Event{wall_time, step, summary: {value: [{tag, simple_value}, …]}}`.
    static func scalars(_ values: [(tag: String, value: Float)], step: Int, wallTime: Double) -> Data {
        var summary = Data()
        for (tag, value) in values {
            var entry = Data()
            appendBytes(1, Data(tag.utf8), to: &entry)
            appendKey(2, .fixed32, to: &entry)
            LittleEndian.append(value.bitPattern, to: &entry)
            appendBytes(1, entry, to: &summary)
        }
        var data = header(wallTime: wallTime, step: step)
        appendBytes(5, summary, to: &data)
        return data
    }
}

// MARK: - Writer

/// Writes the scalar metrics of one training run (e.g. one PETS run, one row per iteration) to a CSV file and
/// a TensorBoard event file in the run directory `<directory>/<runName>/`, and resumes such a run after it
/// was killed.
///
/// **`metrics.csv`** — header `step,wall_time,<tag1>,<tag2>,…`, then one row per ``log(step:values:wallTime:)``
/// call. The tag columns are fixed by the first `log` call (in the order given there) or, when resuming, by
/// the header of the existing file; every later call must give exactly the same set of tags (in any order),
/// otherwise it throws ``MetricsError/Kind/tagMismatch``. `step` is an integer; `wall_time` is seconds since
/// the Unix epoch (1970-01-01 UTC); values are printed in full precision with Swift's shortest round-trip
/// representation (`String(describing:)`: `0.1`, `3.0`, `0.30000000000000004`, `1e-07`), NaN as `nan`,
/// infinities as `inf` / `-inf`. Fields are never quoted. Lines end with LF.
///
/// **`events.out.tfevents.<unix-seconds>.<hostname>.<pid>.<n>`** — a TensorBoard event file: TFRecord
/// records (``TFRecord``) holding `Event` protos (tensorboard/compat/proto/event.proto). The first is
/// `Event{wall_time, file_version: "brain.Event:2"}`, the second `Event{wall_time, step: s, session_log:
/// {status: START}}` marking where this writer starts (`s` = 0 for a fresh run, `n + 1` when resuming after
/// `n`); each `log` call adds
/// `Event{wall_time, step, summary: {value: [{tag, simple_value}, …]}}` (summary.proto), values rounded to
/// `Float` (single precision, as TensorBoard's `simple_value` stores them; magnitudes beyond `Float`'s range
/// become ±infinity). `<unix-seconds>` is the writer's creation time (made later than any existing event
/// file's, so a resumed run's file sorts last); `<n>` is 0 unless a file of that name already exists. Point
/// TensorBoard at `<directory>` (`tensorboard --logdir <directory>`) to see the run as `<runName>`.
///
/// **Durability** — every row and every event is handed to the operating system (`write(2)`, no user-space
/// buffering) before `log` returns, so a killed process keeps every completed row and event. `close()` also
/// syncs both files to disk.
///
/// **Resume** — `MetricsWriter(directory:runName:resumeAfter: n)` keeps the existing `metrics.csv` without its
/// rows whose step is greater than `n` (and without an incomplete last line left by a killed run), rewriting
/// it atomically (temporary file in the run directory, synced, then renamed over `metrics.csv`), and appends
/// later rows under the same header. Old event files are left alone; a new event file is started, and
/// TensorBoard, which merges all event files of a run directory in name order, shows the old files' values
/// for steps ≤ `n` and the new file's after: its Rust data server replaces a series' points from a step on
/// when that step is logged again, and its Python loaders discard events with step > `n` on reading the new
/// file's START marker (a second START in the run means a restart).
///
/// Not thread-safe: use one writer from one thread or task at a time. Only one writer per run directory.
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

    private let csvPath: String
    private let eventPath: String
    private var csvDescriptor: Int32
    private var eventDescriptor: Int32
    private var isOpen = true
    /// Whether `tags` came from the header of an existing file (only changes the wording of errors).
    private let tagsFromExistingFile: Bool

    /// Starts a run, or resumes one after step `step`.
    ///
    /// - Parameters:
    ///   - directory: parent directory of the run (TensorBoard's `--logdir`); created if missing.
    ///   - runName: name of the run's subdirectory; not empty, `.` or `..`, no `/` or NUL.
    ///   - step: nil for a fresh run, which requires that the run directory holds no event file and no
    ///     non-empty `metrics.csv` (throws ``MetricsError/Kind/runExists`` otherwise). Otherwise the last step
    ///     whose metrics are kept (typically the iteration of the checkpoint being resumed): rows of an existing
    ///     `metrics.csv` with a greater step are dropped and the remaining ones kept with their header, whose
    ///     tags later `log` calls must match. A missing or empty `metrics.csv` is fine (nothing to keep).
    ///     With steps ≥ 0, `resumeAfter: -1` restarts from scratch over the leftovers of a run killed before
    ///     its first checkpoint: no row is kept (the header is), and TensorBoard discards the old events; a
    ///     caller that keeps its own checkpoint can therefore always pass its last completed step (-1 if none).
    /// - Throws: ``MetricsError`` (`.invalidRunName`, `.runExists`, `.malformedCSV`, `.io`).
    public init(directory: URL, runName: String, resumeAfter step: Int? = nil) throws {
        guard !runName.isEmpty, runName != ".", runName != "..", !runName.contains("/"),
              !runName.unicodeScalars.contains("\0") else {
            throw MetricsError(kind: .invalidRunName, file: directory.path,
                               message: "invalid run name '\(runName)': it must be a non-empty directory name "
                                   + "without '/' (and not '.' or '..')")
        }
        let runDirectory = directory.appendingPathComponent(runName, isDirectory: true).standardizedFileURL
        let csvURL = runDirectory.appendingPathComponent(Self.csvFileName)
        let csvPath = csvURL.path
        do {
            try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        } catch {
            throw MetricsError(kind: .io, file: runDirectory.path,
                               message: "cannot create the run directory: \(error.localizedDescription)")
        }

        var tags: [String]? = nil
        var rowsKept = 0
        if let step {
            let existing: Data?
            do {
                existing = try WholeFile.read(csvURL)
            } catch .notFound {
                existing = nil
            } catch .io(let message) {
                throw MetricsError(kind: .io, file: csvPath, message: message)
            }
            if let existing, !existing.isEmpty {
                let kept = try Self.rowsToKeep(in: existing, afterStep: step, file: csvPath)
                do {
                    try AtomicFile.write(to: csvURL) { append in try append(kept.text) }
                } catch let failure as AtomicFile.Failure {
                    throw MetricsError(kind: .io, file: csvPath,
                                       message: "cannot rewrite the file for resuming: \(failure.message)")
                }
                tags = kept.tags
                rowsKept = kept.rows
            }
        } else {
            try Self.checkFreshRun(runDirectory: runDirectory, csvPath: csvPath)
        }

        // metrics.csv: truncated for a fresh run or when it was absent/empty; appended to otherwise.
        let truncate = tags == nil ? O_TRUNC : 0
        let csvDescriptor = open(csvPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | truncate, 0o644)
        if csvDescriptor < 0 {
            throw MetricsError(kind: .io, file: csvPath, message: "cannot open for writing: \(Self.errnoText())")
        }

        let startTime = Date().timeIntervalSince1970
        let event: (url: URL, descriptor: Int32)
        do {
            event = try Self.createEventFile(in: runDirectory, time: startTime)
        } catch {
            _ = Self.closeDescriptor(csvDescriptor)
            throw error
        }

        self.runName = runName
        self.runDirectory = runDirectory
        self.csvURL = csvURL
        self.csvPath = csvPath
        self.eventFileURL = event.url
        self.eventPath = event.url.path
        self.csvDescriptor = csvDescriptor
        self.eventDescriptor = event.descriptor
        self.resumedAfterStep = step
        self.tags = tags
        self.tagsFromExistingFile = tags != nil
        self.rowsKept = rowsKept

        do {
            try Self.writeAll(TFRecord.frame(TensorBoardEvent.fileVersion(Self.fileVersion, wallTime: startTime)),
                              to: eventDescriptor, path: eventPath)
            let firstStep = step.map { $0 == Int.max ? $0 : $0 + 1 } ?? 0
            try Self.writeAll(TFRecord.frame(TensorBoardEvent.sessionStart(step: firstStep, wallTime: startTime)),
                              to: eventDescriptor, path: eventPath)
        } catch {
            closeDescriptors()
            throw error
        }
    }

    deinit {
        if isOpen { closeDescriptors() }
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
    /// - Throws: ``MetricsError`` (`.invalidTag`, `.duplicateTag`, `.tagMismatch`, `.io`, `.closed`). Nothing is
    ///   written when the values are rejected.
    public func log(step: Int, values: KeyValuePairs<String, Double>, wallTime: Double? = nil) throws {
        try log(step: step, values: values.map { ($0.key, $0.value) }, wallTime: wallTime)
    }

    /// Same as ``log(step:values:wallTime:)`` with the `(tag, value)` pairs in an array (for values collected
    /// at run time).
    public func log(step: Int, values: [(String, Double)], wallTime: Double? = nil) throws {
        guard isOpen else {
            throw MetricsError(kind: .closed, file: csvPath, message: "log(step: \(step)) after close()")
        }
        guard !values.isEmpty else {
            throw MetricsError(kind: .invalidTag, file: csvPath, message: "log(step: \(step)) needs at least one value")
        }
        var byTag: [String: Double] = [:]
        for (tag, value) in values {
            try Self.validate(tag: tag, file: csvPath)
            if byTag.updateValue(value, forKey: tag) != nil {
                throw MetricsError(kind: .duplicateTag, file: csvPath,
                                   message: "log(step: \(step)) names tag '\(tag)' twice")
            }
        }
        let columns: [String]
        if let tags {
            if Set(tags) != Set(byTag.keys) {
                throw tagMismatch(given: values.map(\.0), columns: tags, step: step)
            }
            columns = tags
        } else {
            columns = values.map(\.0)
        }
        let ordered = columns.map { (tag: $0, value: byTag[$0]!) }
        let time = wallTime ?? Date().timeIntervalSince1970

        var text = ""
        if tags == nil {
            text = (["step", "wall_time"] + columns).joined(separator: ",") + "\n"
        }
        text += "\(step),\(Self.format(time))"
        for entry in ordered { text += "," + Self.format(entry.value) }
        text += "\n"
        try Self.writeAll(Data(text.utf8), to: csvDescriptor, path: csvPath)
        tags = columns

        let event = TensorBoardEvent.scalars(ordered.map { (tag: $0.tag, value: Float($0.value)) },
                                             step: step, wallTime: time)
        try Self.writeAll(TFRecord.frame(event), to: eventDescriptor, path: eventPath)
        rowsWritten += 1
    }

    /// Syncs both files to disk and closes them. Later `log` calls throw ``MetricsError/Kind/closed``; calling
    /// `close()` again does nothing. A writer released without `close()` closes its files without syncing
    /// (everything already logged is in them).
    ///
    /// - Throws: ``MetricsError`` (`.io`) when syncing or closing fails; the files are closed anyway.
    public func close() throws {
        guard isOpen else { return }
        var failure: MetricsError?
        for (descriptor, path) in [(csvDescriptor, csvPath), (eventDescriptor, eventPath)] {
            if fsync(descriptor) != 0, failure == nil {
                failure = MetricsError(kind: .io, file: path, message: "fsync failed: \(Self.errnoText())")
            }
        }
        for (descriptor, path) in [(csvDescriptor, csvPath), (eventDescriptor, eventPath)] {
            if Self.closeDescriptor(descriptor) != 0, failure == nil {
                failure = MetricsError(kind: .io, file: path, message: "close failed: \(Self.errnoText())")
            }
        }
        isOpen = false
        if let failure { throw failure }
    }

    // MARK: Helpers

    /// Closes both descriptors, ignoring errors.
    private func closeDescriptors() {
        _ = Self.closeDescriptor(csvDescriptor)
        _ = Self.closeDescriptor(eventDescriptor)
        isOpen = false
    }

    /// The error for a `log` call whose tags are not the CSV columns.
    private func tagMismatch(given: [String], columns: [String], step: Int) -> MetricsError {
        let missing = columns.filter { !given.contains($0) }
        let unexpected = given.filter { !columns.contains($0) }
        var parts: [String] = []
        if !missing.isEmpty { parts.append("missing " + missing.map { "'\($0)'" }.joined(separator: ", ")) }
        if !unexpected.isEmpty { parts.append("unexpected " + unexpected.map { "'\($0)'" }.joined(separator: ", ")) }
        let origin = tagsFromExistingFile ? "the header of the existing file" : "the first log call"
        return MetricsError(kind: .tagMismatch, file: csvPath,
                            message: "log(step: \(step)) tags differ from the columns fixed by \(origin) "
                                + "(\(columns.joined(separator: ","))): \(parts.joined(separator: "; "))")
    }

    /// A CSV field for `value`: `String(describing:)`, except that every NaN (negative or signaling too) is `nan`.
    static func format(_ value: Double) -> String {
        value.isNaN ? "nan" : String(describing: value)
    }

    /// Throws `.invalidTag` unless `tag` can be a CSV column and a TensorBoard tag.
    private static func validate(tag: String, file: String) throws {
        if tag.isEmpty {
            throw MetricsError(kind: .invalidTag, file: file, message: "empty tag")
        }
        if tag == "step" || tag == "wall_time" {
            throw MetricsError(kind: .invalidTag, file: file, message: "tag '\(tag)' is reserved for a CSV column")
        }
        if tag.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" }) {
            throw MetricsError(kind: .invalidTag, file: file,
                               message: "tag '\(tag)' contains ',', '\"', CR or LF, which the CSV file cannot hold")
        }
    }

    /// Throws `.runExists` if `runDirectory` already holds an event file or a non-empty `metrics.csv`.
    private static func checkFreshRun(runDirectory: URL, csvPath: String) throws {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: runDirectory.path)
        } catch {
            throw MetricsError(kind: .io, file: runDirectory.path,
                               message: "cannot list the run directory: \(error.localizedDescription)")
        }
        let csvSize = (try? FileManager.default.attributesOfItem(atPath: csvPath)[.size] as? NSNumber)?.intValue ?? 0
        let eventFiles = names.filter { $0.hasPrefix(eventFilePrefix) }.sorted()
        if csvSize > 0 || !eventFiles.isEmpty {
            let found = csvSize > 0 ? csvFileName : eventFiles[0]
            throw MetricsError(kind: .runExists, file: runDirectory.path,
                               message: "the run directory already holds \(found); pass resumeAfter: to continue "
                                   + "that run, or use another run name")
        }
    }

    /// The header + kept rows of an existing `metrics.csv` (as the text to write back), its tags and the
    /// number of kept rows. An incomplete last line (no LF: a row cut by a kill) is dropped; a file whose
    /// header itself is incomplete counts as empty (`tags` nil).
    static func rowsToKeep(in data: Data, afterStep resumeStep: Int, file: String)
        throws -> (text: Data, tags: [String]?, rows: Int) {
        var lines = [UInt8](data).split(separator: 0x0A, omittingEmptySubsequences: false)
        lines.removeLast() // empty after the final LF, or an incomplete line
        guard let header = lines.first else { return (Data(), nil, 0) }
        func text(_ line: ArraySlice<UInt8>, _ number: Int) throws -> String {
            guard let string = String(bytes: line, encoding: .utf8) else {
                throw MetricsError(kind: .malformedCSV, file: file, line: number, message: "not UTF-8 text")
            }
            return string
        }
        let headerText = try text(header, 1)
        let fields = headerText.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard fields.count >= 3, fields[0] == "step", fields[1] == "wall_time" else {
            throw MetricsError(kind: .malformedCSV, file: file, line: 1,
                               message: "header must be 'step,wall_time,<tag>,…', found '\(headerText)'")
        }
        let tags = Array(fields.dropFirst(2))
        for tag in tags {
            do {
                try validate(tag: tag, file: file)
            } catch let error as MetricsError {
                throw MetricsError(kind: .malformedCSV, file: file, line: 1, message: "header: \(error.message)")
            }
        }
        if Set(tags).count != tags.count {
            throw MetricsError(kind: .malformedCSV, file: file, line: 1,
                               message: "header repeats a tag: '\(headerText)'")
        }
        var kept = Data(header)
        kept.append(0x0A)
        var rows = 0
        for (index, line) in lines.enumerated().dropFirst() {
            let lineNumber = index + 1
            if line.isEmpty {
                throw MetricsError(kind: .malformedCSV, file: file, line: lineNumber, message: "blank line")
            }
            let rowFields = try text(line, lineNumber).split(separator: ",", omittingEmptySubsequences: false)
            guard rowFields.count == fields.count else {
                throw MetricsError(kind: .malformedCSV, file: file, line: lineNumber,
                                   message: "\(rowFields.count) fields, but the header has \(fields.count)")
            }
            guard let step = Int(rowFields[0]) else {
                throw MetricsError(kind: .malformedCSV, file: file, line: lineNumber,
                                   message: "step '\(rowFields[0])' is not an integer")
            }
            if step <= resumeStep {
                kept.append(contentsOf: line)
                kept.append(0x0A)
                rows += 1
            }
        }
        return (kept, tags, rows)
    }

    /// Creates `events.out.tfevents.<seconds>.<host>.<pid>.<n>` in `directory` with the smallest free `n`.
    /// `<seconds>` is `time` rounded down, or one more than the newest existing event file's seconds when that
    /// is not earlier, so the new file sorts after the old ones (TensorBoard reads a run's files in name
    /// order, which the restart marker of a resumed run relies on).
    private static func createEventFile(in directory: URL, time: Double) throws -> (url: URL, descriptor: Int32) {
        var seconds = Int(time)
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in existing where name.hasPrefix(eventFilePrefix) {
            if let previous = Int(name.dropFirst(eventFilePrefix.count).prefix { $0 != "." }), previous >= seconds {
                seconds = previous + 1
            }
        }
        let stem = "\(eventFilePrefix)\(seconds).\(hostName()).\(getpid())."
        for suffix in 0..<1000 {
            let url = directory.appendingPathComponent(stem + String(suffix))
            let descriptor = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o644)
            if descriptor >= 0 { return (url, descriptor) }
            if errno != EEXIST {
                throw MetricsError(kind: .io, file: url.path, message: "cannot create event file: \(errnoText())")
            }
        }
        throw MetricsError(kind: .io, file: directory.appendingPathComponent(stem + "*").path,
                           message: "cannot create event file: 1000 files with this name stem exist")
    }

    /// This machine's host name (`gethostname`), with `/` replaced; `localhost` if unavailable.
    private static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let cleaned = name.replacingOccurrences(of: "/", with: "_")
        return cleaned.isEmpty ? "localhost" : cleaned
    }

    /// Writes all of `data` to `descriptor` (retrying short writes and EINTR).
    private static func writeAll(_ data: Data, to descriptor: Int32, path: String) throws {
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < raw.count {
                #if canImport(Glibc)
                let written = Glibc.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                #else
                let written = Darwin.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                #endif
                if written < 0 {
                    if errno == EINTR { continue }
                    throw MetricsError(kind: .io, file: path, message: "write failed: \(errnoText())")
                }
                offset += written
            }
        }
    }

    private static func closeDescriptor(_ descriptor: Int32) -> Int32 {
        #if canImport(Glibc)
        return Glibc.close(descriptor)
        #else
        return Darwin.close(descriptor)
        #endif
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
