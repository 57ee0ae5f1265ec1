import Foundation
import Testing
import Datasets

// MARK: - Helpers

/// A fresh directory under the system temporary directory, unique per call.
private func makeMetricsDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("MetricsWriterTests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Deletes a directory made by `makeMetricsDirectory()`.
private func removeMetricsDirectory(_ url: URL) {
    try? FileManager.default.removeItem(at: url)
}

/// The text of a file.
private func fileText(_ url: URL) throws -> String {
    String(decoding: try Data(contentsOf: url), as: UTF8.self)
}

/// Names of the event files in `directory`, sorted.
private func eventFileNames(in directory: URL) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory.path)
        .filter { $0.hasPrefix("events.out.tfevents.") }.sorted()
}

/// Runs `body`, which must throw a `DataFormatError`; returns it (records an issue and returns nil otherwise).
private func metricsError(_ body: () throws -> Void) -> DataFormatError? {
    do {
        try body()
        Issue.record("expected a DataFormatError, nothing was thrown")
    } catch let error as DataFormatError {
        return error
    } catch {
        Issue.record("expected a DataFormatError, got \(error)")
    }
    return nil
}

/// A failure of the test's own TFRecord / protobuf reader.
private struct ReaderFailure: Error, CustomStringConvertible {
    let description: String
}

/// CRC-32C computed bit by bit (no table): an implementation independent of the writer's.
private func referenceCRC32C(_ bytes: some Sequence<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = (crc >> 1) ^ (0x82F6_3B78 & (0 &- (crc & 1))) }
    }
    return ~crc
}

/// TFRecord's mask, written out independently of the writer.
private func referenceMask(_ crc: UInt32) -> UInt32 {
    ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
}

/// Little-endian unsigned integer from `bytes` (any length up to 8).
private func littleEndian(_ bytes: ArraySlice<UInt8>) -> UInt64 {
    bytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
}

/// The payloads of a TFRecord file, after checking every length, both masked CRC-32Cs and that nothing is left.
private func readRecords(_ data: Data) throws -> [[UInt8]] {
    let bytes = [UInt8](data)
    var records: [[UInt8]] = []
    var offset = 0
    while offset < bytes.count {
        guard offset + 12 <= bytes.count else {
            throw ReaderFailure(description: "truncated record header at offset \(offset)")
        }
        let lengthBytes = bytes[offset..<(offset + 8)]
        let length = Int(littleEndian(lengthBytes))
        let lengthCRC = UInt32(littleEndian(bytes[(offset + 8)..<(offset + 12)]))
        guard lengthCRC == referenceMask(referenceCRC32C(lengthBytes)) else {
            throw ReaderFailure(description: "bad length CRC at offset \(offset)")
        }
        let dataStart = offset + 12
        guard dataStart + length + 4 <= bytes.count else {
            throw ReaderFailure(description: "record at offset \(offset) overruns the file (length \(length))")
        }
        let payload = bytes[dataStart..<(dataStart + length)]
        let dataCRC = UInt32(littleEndian(bytes[(dataStart + length)..<(dataStart + length + 4)]))
        guard dataCRC == referenceMask(referenceCRC32C(payload)) else {
            throw ReaderFailure(description: "bad data CRC at offset \(offset)")
        }
        records.append(Array(payload))
        offset = dataStart + length + 4
    }
    return records
}

/// One protobuf field value by wire type.
private enum ProtoValue {
    case varint(UInt64), fixed64(UInt64), bytes([UInt8]), fixed32(UInt32)
}

/// The fields of a protobuf message, in order (a minimal decoder for wire types 0, 1, 2 and 5).
private func decodeMessage(_ bytes: [UInt8]) throws -> [(number: Int, value: ProtoValue)] {
    var fields: [(number: Int, value: ProtoValue)] = []
    var offset = 0
    func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count, shift < 64 else { throw ReaderFailure(description: "bad varint") }
            let byte = bytes[offset]
            offset += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }
    func take(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, offset + count <= bytes.count else { throw ReaderFailure(description: "truncated field") }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }
    while offset < bytes.count {
        let key = try varint()
        let number = Int(key >> 3)
        switch key & 7 {
        case 0: fields.append((number, .varint(try varint())))
        case 1: fields.append((number, .fixed64(littleEndian(try take(8)))))
        case 2: fields.append((number, .bytes(Array(try take(Int(try varint()))))))
        case 5: fields.append((number, .fixed32(UInt32(littleEndian(try take(4))))))
        default: throw ReaderFailure(description: "unsupported wire type \(key & 7)")
        }
    }
    return fields
}

/// The parts of a TensorBoard `Event` (tensorboard/compat/proto/event.proto) the writer produces.
private struct DecodedEvent {
    var wallTime: Double?
    var step: Int64?
    var fileVersion: String?
    var sessionStatus: UInt64?
    var scalars: [(tag: String, value: Float)]?
}

/// Decodes an `Event`, failing on any field or wire type the writer does not produce.
private func decodeEvent(_ bytes: [UInt8]) throws -> DecodedEvent {
    var event = DecodedEvent()
    for (number, value) in try decodeMessage(bytes) {
        switch (number, value) {
        case (1, .fixed64(let bits)): event.wallTime = Double(bitPattern: bits)
        case (2, .varint(let raw)): event.step = Int64(bitPattern: raw)
        case (3, .bytes(let text)): event.fileVersion = String(decoding: text, as: UTF8.self)
        case (5, .bytes(let summary)):
            var scalars: [(tag: String, value: Float)] = []
            for (valueNumber, valueField) in try decodeMessage(summary) {
                guard valueNumber == 1, case .bytes(let entry) = valueField else {
                    throw ReaderFailure(description: "unexpected Summary field \(valueNumber)")
                }
                var tag: String?
                var simple: Float?
                for (entryNumber, entryField) in try decodeMessage(entry) {
                    switch (entryNumber, entryField) {
                    case (1, .bytes(let text)): tag = String(decoding: text, as: UTF8.self)
                    case (2, .fixed32(let bits)): simple = Float(bitPattern: bits)
                    default: throw ReaderFailure(description: "unexpected Summary.Value field \(entryNumber)")
                    }
                }
                guard let tag, let simple else { throw ReaderFailure(description: "Summary.Value without tag/value") }
                scalars.append((tag, simple))
            }
            event.scalars = scalars
        case (7, .bytes(let sessionLog)):
            for (logNumber, logField) in try decodeMessage(sessionLog) {
                guard logNumber == 1, case .varint(let status) = logField else {
                    throw ReaderFailure(description: "unexpected SessionLog field \(logNumber)")
                }
                event.sessionStatus = status
            }
        default:
            throw ReaderFailure(description: "unexpected Event field \(number)")
        }
    }
    return event
}

/// The decoded events of an event file.
private func readEvents(_ url: URL) throws -> [DecodedEvent] {
    try readRecords(Data(contentsOf: url)).map(decodeEvent)
}

/// Writes steps 0..<count of a run with tags `loss` and `reward` and fixed wall times `1000 + step`, then closes.
private func writeRun(in directory: URL, runName: String = "run", steps: Range<Int>) throws -> MetricsWriter {
    let writer = try MetricsWriter(directory: directory, runName: runName)
    for step in steps {
        try writer.log(step: step, values: ["loss": 1.0 / Double(step + 1), "reward": Double(step) * 10],
                       wallTime: 1000 + Double(step))
    }
    try writer.close()
    return writer
}

// MARK: - Tests

@Suite("MetricsWriter: CSV + TensorBoard event files")
struct MetricsWriterTests {
    @Test("CRC-32C known vectors (RFC 3720 B.4) and the TFRecord mask")
    func crc32cVectors() {
        #expect(TFRecord.crc32c(Array("123456789".utf8)) == 0xE306_9283)
        #expect(TFRecord.crc32c([UInt8]()) == 0)
        #expect(TFRecord.crc32c([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(TFRecord.crc32c([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(TFRecord.crc32c((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(TFRecord.crc32c(Data("123456789".utf8)) == 0xE306_9283)
        // Mask: rotate right 15, add 0xa282ead8.
        #expect(TFRecord.mask(0) == 0xA282_EAD8)
        #expect(TFRecord.mask(0x0000_8000) == 0xA282_EAD9)
        #expect(TFRecord.mask(0xE306_9283) == 0xC78A_B0E5) // rotr15 = 0x2507C60D, + 0xa282ead8
        var generator = SystemRandomNumberGenerator()
        for length in [1, 7, 8, 100, 1000] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(TFRecord.crc32c(bytes) == referenceCRC32C(bytes))
            #expect(TFRecord.maskedCRC32C(bytes) == referenceMask(referenceCRC32C(bytes)))
        }
    }

    @Test("TFRecord framing: length, masked CRCs, payload")
    func framing() throws {
        let payload = Data("hello".utf8)
        let record = TFRecord.frame(payload)
        #expect(record.count == 16 + 5)
        #expect(Array(record.prefix(8)) == [5, 0, 0, 0, 0, 0, 0, 0])
        #expect(try readRecords(record) == [Array(payload)])
        #expect(try readRecords(TFRecord.frame(Data())) == [[]])
        var corrupted = record
        corrupted[14] ^= 0x01 // a payload byte
        #expect(throws: ReaderFailure.self) { try readRecords(corrupted) }
    }

    @Test("3 logged steps read back from the event file: lengths, both CRCs, step, tag, value")
    func eventFileRoundTrip() throws {
        let directory = try makeMetricsDirectory()
        defer { removeMetricsDirectory(directory) }
        let before = Date().timeIntervalSince1970
        let writer = try MetricsWriter(directory: directory, runName: "pets-seed0")
        try writer.log(step: 0, values: ["train/loss": 0.5, "eval/return": -12.25], wallTime: 1_700_000_000.5)
        try writer.log(step: 1, values: ["train/loss": 0.1, "eval/return": 310.75], wallTime: 1_700_000_001.25)
        try writer.log(step: 300, values: ["eval/return": 1e30, "train/loss": 1e-3]) // other order, wall time now
        try writer.close()
        let after = Date().timeIntervalSince1970

        #expect(writer.runDirectory.lastPathComponent == "pets-seed0")
        #expect(writer.eventFileURL.deletingLastPathComponent().path == writer.runDirectory.path)
        let name = writer.eventFileURL.lastPathComponent
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        #expect(name.hasPrefix("events.out.tfevents."))
        #expect(Int(parts[3]).map { Double($0) >= before.rounded(.down) && Double($0) <= after } == true)
        #expect(parts.last == "0")
        #expect(parts[parts.count - 2] == Substring(String(ProcessInfo.processInfo.processIdentifier)))
        #expect(try eventFileNames(in: writer.runDirectory) == [name])

        let all = try readEvents(writer.eventFileURL)
        try #require(all.count == 5)
        #expect(all[0].fileVersion == "brain.Event:2")
        #expect(all[0].scalars == nil && all[0].step == nil && all[0].sessionStatus == nil)
        #expect(all[0].wallTime.map { $0 >= before && $0 <= after } == true)
        #expect(all[1].sessionStatus == 1 && all[1].step == 0 && all[1].scalars == nil) // SessionLog.START at 0
        #expect(all[1].wallTime == all[0].wallTime)

        let events = Array(all.dropFirst(2))
        #expect(events.allSatisfy { $0.sessionStatus == nil && $0.fileVersion == nil })
        #expect(events[0].step == 0 && events[0].wallTime == 1_700_000_000.5)
        #expect(events[0].scalars?.map(\.tag) == ["train/loss", "eval/return"])
        #expect(events[0].scalars?.map(\.value) == [0.5, -12.25])
        #expect(events[1].step == 1 && events[1].wallTime == 1_700_000_001.25)
        #expect(events[1].scalars?.map(\.value) == [Float(0.1), 310.75])
        #expect(events[2].step == 300) // a two-byte varint
        #expect(events[2].wallTime.map { $0 >= before && $0 <= after } == true)
        #expect(events[2].scalars?.map(\.tag) == ["train/loss", "eval/return"]) // CSV column order
        #expect(events[2].scalars?.map(\.value) == [Float(1e-3), Float(1e30)])
    }

    @Test("metrics.csv: header fixed by the first call, full-precision values, one row per call")
    func csvContent() throws {
        let directory = try makeMetricsDirectory()
        defer { removeMetricsDirectory(directory) }
        let writer = try MetricsWriter(directory: directory, runName: "run")
        #expect(writer.tags == nil)
        try writer.log(step: 0, values: ["loss": 0.1 + 0.2, "reward": 3], wallTime: 1_700_000_000.123456)
        #expect(writer.tags == ["loss", "reward"])
        try writer.log(step: 1, values: [("reward", -1e-7), ("loss", Double.leastNonzeroMagnitude)],
                       wallTime: 1_700_000_001)
        try writer.log(step: 2, values: ["loss": 1.7976931348623157e308, "reward": -0.0], wallTime: 1_700_000_002.5)
        try writer.close()
        #expect(writer.rowsWritten == 3)
        #expect(writer.csvURL.lastPathComponent == "metrics.csv")
        #expect(try fileText(writer.csvURL) == """
            step,wall_time,loss,reward
            0,1700000000.123456,0.30000000000000004,3.0
            1,1700000001.0,5e-324,-1e-07
            2,1700000002.5,1.7976931348623157e+308,-0.0

            """)
        // Every value reads back to the same Double.
        let row = try fileText(writer.csvURL).split(separator: "\n")[1].split(separator: ",")
        #expect(Double(String(row[2])) == 0.1 + 0.2)
    }

    @Test("each row and event is on disk before log returns (a killed run keeps them)")
    func flushedPerCall() throws {
        let directory = try makeMetricsDirectory()
        defer { removeMetricsDirectory(directory) }
        let writer = try MetricsWriter(directory: directory, runName: "run")
        #expect(try readEvents(writer.eventFileURL).count == 2) // file_version and START, before any log
        try writer.log(step: 7, values: ["a": 1], wallTime: 5)
        #expect(try fileText(writer.csvURL) == "step,wall_time,a\n7,5.0,1.0\n")
        #expect(try readEvents(writer.eventFileURL).map(\.step) == [nil, 0, 7])
        try writer.log(step: 8, values: ["a": 2], wallTime: 6)
        #expect(try fileText(writer.csvURL) == "step,wall_time,a\n7,5.0,1.0\n8,6.0,2.0\n")
        #expect(try readEvents(writer.eventFileURL).map(\.step) == [nil, 0, 7, 8])
        // Not closed: the writer is released here, as after a kill nothing more would be written.
    }

    @Test("NaN and infinities are written (nan, inf, -inf) without crashing")
    func nonFiniteValues() throws {
        let directory = try makeMetricsDirectory()
        defer { removeMetricsDirectory(directory) }
        let writer = try MetricsWriter(directory: directory, runName: "run")
        try writer.log(step: 0, values: ["a": .nan, "b": -.nan, "c": .infinity, "d": -.infinity,
                                         "e": .signalingNaN, "f": 1e300],
                       wallTime: 1)
        try writer.close()
        #expect(try fileText(writer.csvURL) == "step,wall_time,a,b,c,d,e,f\n0,1.0,nan,nan,inf,-inf,nan,1e+300\n")
        let values = try #require(try readEvents(writer.eventFileURL).last?.scalars?.map(\.value))
        #expect(values.count == 6)
        #expect(values[0].isNaN && values[1].isNaN && values[4].isNaN)
        #expect(values[2] == .infinity && values[3] == -.infinity)
        #expect(values[5] == .infinity) // beyond Float's range
    }

    @Test("resume: rows after the step are dropped, later rows appended, a new event file started")
    func resumeDropsAndAppends() throws {
        let directory = try makeMetricsDirectory()
        defer { removeMetricsDirectory(directory) }
        let first = try writeRun(in: directory, steps: 0..<5)
        let original = try fileText(first.csvURL)
        #expect(original.split(separator: "\n").count == 6)

        let resumed = try MetricsWriter(directory: directory, runName: "run", resumeAfter: 2)
        #expect(resumed.resumedAfterStep == 2)
        #expect(resumed.rowsKept == 3)
        #expect(resumed.tags == ["loss", "reward"])
        #expect(resumed.eventFileURL != first.eventFileURL)
        #expect(try fileText(resumed.csvURL) == """
            step,wall_time,loss,reward
            0,1000.0,1.0,0.0
            1,1001.0,0.5,10.0
            2,1002.0,0.3333333333333333,20.0

            """)
        try resumed.log(step: 3, values: ["reward": -5, "loss": 0.75], wallTime: 2003) // header order applies
        try resumed.log(step: 4, values: ["loss": 0.5, "reward": -4], wallTime: 2004)
        try resumed.close()
        #expect(try fileText(resumed.csvURL) == """
            step,wall_time,loss,reward
            0,1000.0,1.0,0.0
            1,1001.0,0.5,10.0
            2,1002.0,0.3333333333333333,20.0
            3,2003.0,0.75,-5.0
            4,2004.0,0.5,-4.0

            """)

        // Both event files remain; the old one untouched, the new one announces the restart at step 3.
        let names = try eventFileNames(in: resumed.runDirectory)
        #expect(Set(names) == [first.eventFileURL.lastPathComponent, resumed.eventFileURL.lastPathComponent])
        #expect(try readEvents(first.eventFileURL).filter { $0.scalars != nil }.map(\.step) == [0, 1, 2, 3, 4])
        let events = try readEvents(resumed.eventFileURL)
        try #require(events.count == 4)
        #expect(events[0].fileVersion == "brain.Event:2")
        #expect(events[1].sessionStatus == 1 && events[1].step == 3) // SessionLog.START
        #expect(events[2].step == 3 && events[2].scalars?.map(\.tag) == ["loss", "reward"])
        #expect(events[2].scalars?.map(\.value) == [0.75, -5])
        #expect(events[3].step == 4)

        // No temporary file left behind by the atomic rewrite.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: resumed.runDirectory.path)
            .filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty)
    }

    @Test("resume: tags that differ from the existing header throw, naming the file; nothing is written")
    func resumeHeaderMismatch() throws {
        let directory = try makeMetricsDirectory()
        defer { removeMetricsDirectory(directory) }
        _ = try writeRun(in: directory, steps: 0..<3)
        let resumed = try MetricsWriter(directory: directory, runName: "run", resumeAfter: 1)
        let before = try fileText(resumed.csvURL)
        let eventsBefore = try readEvents(resumed.eventFileURL).count

        let renamed = metricsError { try resumed.log(step: 2, values: ["loss": 1, "return": 2]) }
        #expect(renamed?.kind == .tagMismatch)
        #expect(renamed?.file == resumed.csvURL.path)
        #expect(renamed?.description.contains(resumed.csvURL.path) == true)
        #expect(renamed?.description.contains("header of the existing file") == true)
        #expect(renamed?.description.contains("missing 'reward'") == true)
        #expect(renamed?.description.contains("unexpected 'return'") == true)

        let extra = metricsError { try resumed.log(step: 2, values: ["loss": 1, "reward": 2, "x": 3]) }
        #expect(extra?.kind == .tagMismatch)
        #expect(try fileText(resumed.csvURL) == before)
        #expect(try readEvents(resumed.eventFileURL).count == eventsBefore)

        try resumed.log(step: 2, values: ["loss": 1, "reward": 2], wallTime: 9) // the right tags still work
        #expect(try fileText(resumed.csvURL) == before + "2,9.0,1.0,2.0\n")
    }

    @Test("resume: an incomplete last line (killed mid-row) is dropped; resuming past the end keeps all rows")
    func resumeIncompleteLine() throws {
        let directory = try makeMetricsDirectory()
        defer { removeMetricsDirectory(directory) }
        let run = directory.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        let csv = run.appendingPathComponent("metrics.csv")
        try Data("step,wall_time,a\n0,1.0,0.5\n1,2.0,0.25\n2,3.0,0.1".utf8).write(to: csv)
        let resumed = try MetricsWriter(directory: directory, runName: "run", resumeAfter: 100)
        #expect(resumed.rowsKept == 2)
        try resumed.log(step: 2, values: ["a": 0.125], wallTime: 4)
        #expect(try fileText(csv) == "step,wall_time,a\n0,1.0,0.5\n1,2.0,0.25\n2,4.0,0.125\n")
    }

    @Test("resume: no metrics.csv yet (killed before the first log) starts it; a header-only file keeps its tags")
    func resumeWithoutRows() throws {
        let directory = try makeMetricsDirectory()
        defer { removeMetricsDirectory(directory) }
        let empty = try MetricsWriter(directory: directory, runName: "a", resumeAfter: 0)
        #expect(empty.tags == nil && empty.rowsKept == 0)
        try empty.log(step: 1, values: ["x": 1], wallTime: 1)
        #expect(try fileText(empty.csvURL) == "step,wall_time,x\n1,1.0,1.0\n")

        let run = directory.appendingPathComponent("b")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        try Data("step,wall_time,x,y\n5,1.0,1.0,2.0\n".utf8).write(to: run.appendingPathComponent("metrics.csv"))
        let headerOnly = try MetricsWriter(directory: directory, runName: "b", resumeAfter: 4)
        #expect(headerOnly.tags == ["x", "y"] && headerOnly.rowsKept == 0)
        #expect(try fileText(headerOnly.csvURL) == "step,wall_time,x,y\n")
        #expect(metricsError { try headerOnly.log(step: 5, values: ["x": 1]) }?.kind == .tagMismatch)
    }

    @Test("resume after -1 over a run killed before its first checkpoint: no row kept, restart at step 0")
    func resumeFromScratch() throws {
        let directory = try makeMetricsDirectory()
        defer { removeMetricsDirectory(directory) }
        let killed = try MetricsWriter(directory: directory, runName: "run")
        try killed.log(step: 0, values: ["loss": 9], wallTime: 1) // row written, checkpoint never made
        let restarted = try MetricsWriter(directory: directory, runName: "run", resumeAfter: -1)
        #expect(restarted.rowsKept == 0 && restarted.tags == ["loss"])
        #expect(try fileText(restarted.csvURL) == "step,wall_time,loss\n")
        try restarted.log(step: 0, values: ["loss": 1], wallTime: 2)
        #expect(try fileText(restarted.csvURL) == "step,wall_time,loss\n0,2.0,1.0\n")
        let events = try readEvents(restarted.eventFileURL)
        #expect(events.map(\.sessionStatus) == [nil, 1, nil])
        #expect(events.map(\.step) == [nil, 0, 0])
        // Created in the same second as the killed run's file, the new file still sorts after it.
        let names = try eventFileNames(in: restarted.runDirectory)
        #expect(names == [killed.eventFileURL.lastPathComponent, restarted.eventFileURL.lastPathComponent])
    }

    @Test("resume: a malformed metrics.csv throws with the file and line")
    func resumeMalformed() throws {
        let directory = try makeMetricsDirectory()
        defer { removeMetricsDirectory(directory) }
        let run = directory.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        let csv = run.appendingPathComponent("metrics.csv")
        let cases: [(text: String, line: Int)] = [
            ("step,wall_time,a\n0,1.0,2.0\nx,2.0,3.0\n", 3),  // step not an integer
            ("step,wall_time,a\n0,1.0\n", 2),                  // ragged row
            ("step,wall_time,a\n\n0,1.0,2.0\n", 2),            // blank line
            ("time,a\n0,1.0\n", 1),                             // not our header
            ("step,wall_time,a,a\n", 1),                        // repeated tag
        ]
        for (text, line) in cases {
            try Data(text.utf8).write(to: csv)
            let error = metricsError { _ = try MetricsWriter(directory: directory, runName: "run", resumeAfter: 0) }
            #expect(error?.kind == .malformedCSV, "\(text)")
            #expect(error?.line == line, "\(text)")
            #expect(error?.description.hasPrefix(csv.standardizedFileURL.path + ": line \(line): ") == true)
            #expect(try fileText(csv) == text) // left as it was
        }
    }

    @Test("a fresh run refuses a directory that already holds a run")
    func freshRunExists() throws {
        let directory = try makeMetricsDirectory()
        defer { removeMetricsDirectory(directory) }
        let first = try writeRun(in: directory, steps: 0..<2)
        let error = metricsError { _ = try MetricsWriter(directory: directory, runName: "run") }
        #expect(error?.kind == .runExists)
        #expect(error?.file == first.runDirectory.path)
        #expect(try fileText(first.csvURL).split(separator: "\n").count == 3) // untouched

        // Only an event file (killed before the first log) also counts as a run.
        let other = try MetricsWriter(directory: directory, runName: "other")
        try other.close()
        #expect(metricsError { _ = try MetricsWriter(directory: directory, runName: "other") }?.kind == .runExists)
        // Another run name is a separate run.
        _ = try writeRun(in: directory, runName: "run2", steps: 0..<1)
    }

    @Test("invalid tags, run names and calls after close throw DataFormatError")
    func validation() throws {
        let directory = try makeMetricsDirectory()
        defer { removeMetricsDirectory(directory) }
        for name in ["", ".", "..", "a/b"] {
            let error = metricsError { _ = try MetricsWriter(directory: directory, runName: name) }
            #expect(error?.kind == .invalidRunName)
        }
        let writer = try MetricsWriter(directory: directory, runName: "run")
        #expect(metricsError { try writer.log(step: 0, values: [(String, Double)]()) }?.kind == .invalidTag)
        #expect(metricsError { try writer.log(step: 0, values: ["": 1]) }?.kind == .invalidTag)
        #expect(metricsError { try writer.log(step: 0, values: ["step": 1]) }?.kind == .invalidTag)
        #expect(metricsError { try writer.log(step: 0, values: ["wall_time": 1]) }?.kind == .invalidTag)
        #expect(metricsError { try writer.log(step: 0, values: ["a,b": 1]) }?.kind == .invalidTag)
        #expect(metricsError { try writer.log(step: 0, values: ["a\nb": 1]) }?.kind == .invalidTag)
        #expect(metricsError { try writer.log(step: 0, values: [("a", 1), ("a", 2)]) }?.kind == .duplicateTag)
        #expect(writer.tags == nil)
        #expect(try fileText(writer.csvURL).isEmpty) // rejected calls wrote nothing

        try writer.log(step: 0, values: ["a": 1, "b": 2], wallTime: 1)
        let missing = metricsError { try writer.log(step: 1, values: ["a": 1]) }
        #expect(missing?.kind == .tagMismatch)
        #expect(missing?.description.contains("first log call") == true)
        #expect(missing?.description.contains("missing 'b'") == true)
        try writer.close()
        try writer.close() // no-op
        let closed = metricsError { try writer.log(step: 1, values: ["a": 1, "b": 2]) }
        #expect(closed?.kind == .closed)
        #expect(closed?.description.hasPrefix(writer.csvURL.path) == true)
        #expect(try fileText(writer.csvURL) == "step,wall_time,a,b\n0,1.0,1.0,2.0\n")
    }
}
