import Foundation
import Testing
import Datasets

// MARK: - Helpers

/// A fresh directory under the system temporary directory, unique per call.
private func makeDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("DatasetsTests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Writes `text` verbatim to `name` in a fresh directory and returns its URL.
private func csvFile(_ text: String, name: String = "log.csv") throws -> URL {
    let url = try makeDirectory().appendingPathComponent(name)
    try Data(text.utf8).write(to: url)
    return url
}

/// Deletes a directory made by `makeDirectory()` (or the one holding a `csvFile`).
private func cleanUp(_ directory: URL) {
    try? FileManager.default.removeItem(at: directory)
}

/// Reads `text` as a log through a temporary file, which is deleted afterwards.
private func readText(_ text: String, required: [String] = [],
                      options: LogReader.ReadOptions = .init()) throws -> LogTable {
    let url = try csvFile(text)
    defer { cleanUp(url.deletingLastPathComponent()) }
    return try LogReader.read(url: url, requiredColumns: required, options: options)
}

/// Reads `text` as a log; returns the `DataFormatError` it throws (records an issue and returns nil otherwise).
private func readError(_ text: String, required: [String] = [],
                       options: LogReader.ReadOptions = .init()) throws -> DataFormatError? {
    let url = try csvFile(text)
    defer { cleanUp(url.deletingLastPathComponent()) }
    do {
        _ = try LogReader.read(url: url, requiredColumns: required, options: options)
        Issue.record("expected an error reading:\n\(text)")
        return nil
    } catch let error as DataFormatError {
        #expect(error.file == url.path)
        #expect(error.description.contains(url.path))
        return error
    }
}

private func exists(_ url: URL) -> Bool { FileManager.default.fileExists(atPath: url.path) }

/// Bit-exact comparison of two doubles (distinguishes -0.0 from 0.0).
private func same(_ a: [Double], _ b: [Double]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
}

/// Deterministic 64-bit generator (SplitMix64) for test data.
private struct Mix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A finite double with a uniformly random bit pattern (all exponents, subnormals included).
    mutating func anyFinite() -> Double {
        while true {
            let x = Double(bitPattern: next())
            if x.isFinite { return x }
        }
    }
}

// MARK: - Round trips

@Test func roundTripIsBitExact() throws {
    let special: [Double] = [
        0, -0.0, 1, -1, 0.1, -0.3, .pi, 1e-5, 1e16, 123456789.0, 9_007_199_254_740_992, 9_007_199_254_740_994,
        -9_007_199_254_740_991, 4.5e15,
        .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude, .leastNormalMagnitude.nextDown,
        Double(bitPattern: 0x000F_FFFF_FFFF_FFFF), 2.2250738585072014e-308 / 3,
        .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 1e300, 1.7976931348623155e308, 6.02214076e23,
    ]
    var mix = Mix(state: 42)
    let rows = special.count + 5000
    let columns = ["episode_index", "frame_index", "timestamp", "a", "b"]
    var expected = [[Double]](repeating: [], count: columns.count)
    let dir = try makeDirectory()
    defer { cleanUp(dir) }
    let url = dir.appendingPathComponent("round.csv")
    let writer = try LogWriter(url: url, columns: columns)
    for r in 0..<rows {
        let a = r < special.count ? special[r] : mix.anyFinite()
        let b = r < special.count ? -special[special.count - 1 - r] : Double(Int64(bitPattern: mix.next()) % 10_000_000) / 997
        let row = [Double(r / 100), Double(r % 100), Double(r % 100) * 0.02, a, b]
        try writer.append(row)
        for c in 0..<columns.count { expected[c].append(row[c]) }
    }
    try writer.close()

    let table = try LogReader.read(url: url)
    #expect(table.columns == columns)
    #expect(table.rows == rows)
    for (c, name) in columns.enumerated() {
        #expect(same(try table.column(name), expected[c]), "column \(name) differs")
    }
    #expect(table == (try LogTable(columns: columns, values: expected)))
    #expect(table.episodeRanges().count == (rows + 99) / 100)
}

@Test func integralValuesArePrintedWithoutDecimalPoint() throws {
    let url = try makeDirectory().appendingPathComponent("ints.csv")
    defer { cleanUp(url.deletingLastPathComponent()) }
    let writer = try LogWriter(url: url, columns: ["episode_index", "frame_index", "timestamp", "x", "next.done"])
    try writer.append([0, 7, 0.25, -0.0, 1])
    try writer.append([12, 8, 2, -3, 0])
    try writer.append([3, 9, 1e-7, 9_007_199_254_740_992, 0])
    try writer.close()
    let text = try String(contentsOf: url, encoding: .utf8)
    #expect(text == """
        episode_index,frame_index,timestamp,x,next.done
        0,7,0.25,-0.0,1
        12,8,2,-3,0
        3,9,1e-07,9007199254740992.0,0

        """)
}

@Test func shuffledColumnOrderGivesTheSameColumnsByName() throws {
    let dir = try makeDirectory()
    defer { cleanUp(dir) }
    let names = ["episode_index", "frame_index", "timestamp", "joint_state.position.hip", "action.hip", "next.reward"]
    var mix = Mix(state: 7)
    var columnsByName: [String: [Double]] = [:]
    for name in names {
        columnsByName[name] = (0..<50).map { r in
            switch name {
            case "episode_index": return Double(r / 25)
            case "frame_index": return Double(r % 25)
            case "timestamp": return Double(r % 25) * 0.01
            default: return mix.anyFinite()
            }
        }
    }
    func write(_ order: [String], _ file: String) throws -> LogTable {
        let url = dir.appendingPathComponent(file)
        let writer = try LogWriter(url: url, columns: order)
        for r in 0..<50 { try writer.append(order.map { columnsByName[$0]![r] }) }
        try writer.close()
        return try LogReader.read(url: url, requiredColumns: names)
    }
    let a = try write(names, "a.csv")
    let shuffled = [names[4], names[2], names[5], names[0], names[3], names[1]]
    let b = try write(shuffled, "b.csv")
    #expect(b.columns == shuffled)
    #expect(a.rows == b.rows)
    for name in names {
        #expect(same(try a.column(name), try b.column(name)))
        #expect(same(try b.column(name), columnsByName[name]!))
    }
    #expect(a.episodeRanges() == [0..<25, 25..<50])
    #expect(b.episodeRanges() == [0..<25, 25..<50])
}

@Test func extraColumnsAreTolerated() throws {
    let table = try readText("""
        episode_index,frame_index,timestamp,vendor.debug_counter,action.knee,notes_id
        0,0,0.0,17,0.5,3
        0,1,0.1,18,-0.5,4

        """, required: ["timestamp", "action.knee"])
    #expect(table.rows == 2)
    #expect(try table.column("action.knee") == [0.5, -0.5])
    #expect(try table.column("vendor.debug_counter") == [17, 18])
    #expect(table.hasColumn("notes_id"))
    #expect(!table.hasColumn("action.hip"))
}

@Test func lineEndingsWhitespaceBomAndBooleans() throws {
    let crlf = try readText(
        "\u{FEFF}episode_index, frame_index ,timestamp,next.done\r\n0,0,0.0,false\r\n0,1,0.5, True \r\n")
    #expect(crlf.columns == ["episode_index", "frame_index", "timestamp", "next.done"])
    #expect(try crlf.column("next.done") == [0, 1])
    #expect(try crlf.column("timestamp") == [0, 0.5])

    let noTrailingNewline = try readText("a,b\n1,2\n3,4")
    #expect(noTrailingNewline.rows == 2)
    #expect(try noTrailingNewline.column("b") == [2, 4])

    let trailingBlankLines = try readText("a,b\n1,2\n\n\r\n  \n")
    #expect(trailingBlankLines.rows == 1)

    let headerOnly = try readText("a,b\n")
    #expect(headerOnly.rows == 0 && headerOnly.columns == ["a", "b"])
    #expect(headerOnly.episodeRanges().isEmpty)

    // true/false is only accepted in boolean columns.
    let error = try readError("a,next.done\ntrue,true\n")
    #expect(error?.kind == .nonNumeric)
    #expect(error?.column == "a")
}

@Test func smallChunksGiveTheSameTable() throws {
    var text = "episode_index,frame_index,timestamp,joint_state.position.a_very_long_joint_name_that_spans_chunks\r\n"
    for r in 0..<300 { text += "\(r / 100),\(r % 100),\(Double(r % 100) * 0.01),\(Double(r) * 1.000000001)\r\n" }
    let url = try csvFile(text)
    defer { cleanUp(url.deletingLastPathComponent()) }
    let reference = try LogReader.read(url: url)
    for chunk in [1, 7, 16, 61, 4096] {
        let table = try LogReader.read(url: url, options: .init(chunkSize: chunk))
        #expect(table == reference, "chunk size \(chunk)")
    }
    #expect(reference.rows == 300)
    #expect(reference.columns.last == "joint_state.position.a_very_long_joint_name_that_spans_chunks")
}

@Test func shortDecimalsParseExactlyLikeSwift() throws {
    // Fields of up to 15 digits take a fast path; compare it with Swift's correctly rounded parser.
    var mix = Mix(state: 2024)
    var texts: [String] = []
    for i in 0..<4000 {
        let digits = 1 + Int(mix.next() % 15)
        var body = String(mix.next() % 1_000_000_000_000_000)
        body = String(body.prefix(digits))
        let point = Int(mix.next() % UInt64(body.count + 1))
        var text = body
        if point < body.count || i % 3 == 0 {
            text.insert(".", at: text.index(text.startIndex, offsetBy: point))
        }
        if mix.next() % 2 == 0 { text = "-" + text }
        if i % 7 == 0 { text = "0.000" + body } // leading zeros count as digits
        texts.append(text)
    }
    texts += ["0", "-0", "-0.0", ".5", "5.", "-.25", "999999999999999", "9999999999999999", "0.1", "0.3",
              "123456789012.345", "1.00000000000001", "+7", "0.000000000000001"]
    let url = try csvFile("x\n" + texts.joined(separator: "\n") + "\n")
    defer { cleanUp(url.deletingLastPathComponent()) }
    let parsed = try LogReader.read(url: url).column("x")
    #expect(parsed.count == texts.count)
    var mismatches: [String] = []
    for (text, value) in zip(texts, parsed) where Double(text)!.bitPattern != value.bitPattern {
        mismatches.append(text)
    }
    #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
}

// MARK: - Errors

@Test func missingAndEmptyFiles() throws {
    let dir = try makeDirectory()
    defer { cleanUp(dir) }
    let missing = dir.appendingPathComponent("nope.csv")
    #expect {
        _ = try LogReader.read(url: missing)
    } throws: { error in
        guard let error = error as? DataFormatError else { return false }
        return error.kind == .fileNotFound && error.description.contains(missing.path)
    }
    for text in ["", "\n", "  \r\n\n"] {
        let error = try readError(text)
        #expect(error?.kind == .emptyFile, "\(text.debugDescription)")
    }
}

@Test func headerErrors() throws {
    let numeric = try readError("0,1,0.0\n0,2,0.1\n")
    #expect(numeric?.kind == .noHeader)
    #expect(numeric?.line == 1)

    let blankFirst = try readError("\na,b\n1,2\n")
    #expect(blankFirst?.kind == .noHeader)
    #expect(blankFirst?.description.contains("line 1") == true)

    let duplicate = try readError("timestamp,action.hip,action.hip\n0,1,2\n")
    #expect(duplicate?.kind == .duplicateColumn)
    #expect(duplicate?.column == "action.hip")
    #expect(duplicate?.description.contains("line 1, column 'action.hip'") == true)
    #expect(duplicate?.description.contains("positions 2 and 3") == true)

    let quoted = try readError("timestamp,\"action.hip\"\n0,1\n")
    #expect(quoted?.kind == .quotedField)
    #expect(quoted?.column == "#2")
    #expect(quoted?.description.contains("quoted") == true)

    let emptyName = try readError("timestamp,,x\n0,1,2\n")
    #expect(emptyName?.kind == .invalidColumnName)
    #expect(emptyName?.column == "#2")
}

@Test func raggedRowsNameExpectedAndActualCounts() throws {
    let short = try readError("a,b,c\n1,2,3\n4,5\n")
    #expect(short?.kind == .raggedRow)
    #expect(short?.line == 3 && short?.row == 2)
    #expect(short?.column == "c")
    #expect(short?.description.contains("line 3, row 2, column 'c'") == true)
    #expect(short?.description.contains("expected 3 fields, got 2") == true)

    let long = try readError("a,b\n1,2,3,4\n")
    #expect(long?.kind == .raggedRow)
    #expect(long?.description.contains("expected 2 fields, got 4") == true)
    #expect(long?.column == "b")
}

@Test func badFieldsNameLineRowAndColumn() throws {
    let header = "episode_index,frame_index,timestamp,action.hip\n0,0,0.0,0.5\n"
    let cases: [(String, DataFormatError.Kind)] = [
        ("0,1,0.1,abc\n", .nonNumeric),
        ("0,1,0.1,\n", .emptyField),
        ("0,1,0.1, \n", .emptyField),
        ("0,1,0.1,nan\n", .nonFinite),
        ("0,1,0.1,NaN\n", .nonFinite),
        ("0,1,0.1,-inf\n", .nonFinite),
        ("0,1,0.1,Infinity\n", .nonFinite),
        ("0,1,0.1,1e999\n", .nonFinite),
        ("0,1,0.1,0x1p3\n", .nonNumeric),
        ("0,1,0.1,1.5.2\n", .nonNumeric),
        ("0,1,0.1,\"0.5\"\n", .quotedField),
        ("0,1,0.1,true\n", .nonNumeric),
    ]
    for (line, kind) in cases {
        let error = try readError(header + line)
        #expect(error?.kind == kind, "\(line.debugDescription)")
        #expect(error?.line == 3 && error?.row == 2, "\(line.debugDescription)")
        #expect(error?.column == "action.hip", "\(line.debugDescription)")
        #expect(error?.description.contains("line 3, row 2, column 'action.hip'") == true, "\(line.debugDescription)")
    }
    // Small values that underflow to subnormals or zero are fine.
    let tiny = try readText("x\n1e-320\n1e-400\n-1e-400\n")
    #expect(same(try tiny.column("x"), [Double("1e-320")!, 0, -0.0]))
}

@Test func blankLineBetweenRows() throws {
    let error = try readError("a,b\n1,2\n\n3,4\n")
    #expect(error?.kind == .blankLine)
    #expect(error?.line == 3)
}

@Test func missingRequiredColumnSuggestsSimilarNames() throws {
    let error = try readError("episode_index,timestamp,action.hip\n0,0,1\n",
                              required: ["timestamp", "action.hips", "next.reward"])
    #expect(error?.kind == .missingColumn)
    #expect(error?.line == 1)
    #expect(error?.column == "action.hips")
    #expect(error?.description.contains("'next.reward'") == true)
    #expect(error?.description.contains("similar: 'action.hip'") == true)

    let table = try readText("joint_state.position.hip,joint_state.position.knee,action.hip\n1,2,3\n")
    #expect {
        _ = try table.column("joint_state.position.Hip")
    } throws: { error in
        guard let error = error as? DataFormatError else { return false }
        return error.kind == .missingColumn && error.description.contains("'joint_state.position.hip'")
    }
    #expect(table.columns(withPrefix: "joint_state.position.") == ["joint_state.position.hip", "joint_state.position.knee"])
    #expect(table.columns(withPrefix: "base.").isEmpty)
    #expect(table.row(0) == [1, 2, 3])
}

@Test func nonMonotonicTimestampWithinEpisode() throws {
    let text = """
        episode_index,frame_index,timestamp
        0,0,0.0
        0,1,0.1
        1,0,0.0
        1,1,0.1
        1,2,0.1

        """
    let error = try readError(text)
    #expect(error?.kind == .nonMonotonicTimestamp)
    #expect(error?.line == 6 && error?.row == 5)
    #expect(error?.column == "timestamp")
    #expect(error?.description.contains("episode 1") == true)

    // Restarting the clock at a new episode is fine, and so is a decreasing timestamp without episode_index.
    let ok = try readText("episode_index,timestamp\n0,0\n0,1\n1,0\n1,1\n")
    #expect(ok.episodeRanges() == [0..<2, 2..<4])
    let noEpisodes = try readText("timestamp,x\n1,0\n0,0\n")
    #expect(noEpisodes.rows == 2)
}

@Test func shortEpisodesOnlyWhenAsked() throws {
    let text = "episode_index,frame_index,timestamp\n0,0,0\n0,1,0.1\n1,0,0\n2,0,0\n2,1,0.1\n"
    let table = try readText(text)
    #expect(table.episodeRanges() == [0..<2, 2..<3, 3..<5])
    let error = try readError(text, options: .init(minimumEpisodeLength: 2))
    #expect(error?.kind == .shortEpisode)
    #expect(error?.line == 4 && error?.row == 3)
    #expect(error?.column == "episode_index")
    #expect(error?.description.contains("episode 1 has 1 row") == true)
}

@Test func skipModeCountsBadRows() throws {
    let text = """
        episode_index,frame_index,timestamp,x
        0,0,0.0,1
        0,1,0.1,nan
        0,2,0.2,
        0,3,0.3,2
        0,4,0.4
        0,5,0.5,oops

        0,6,0.6,3
        0,7,0.7,inf

        """
    let table = try readText(text, options: .init(onBadRow: .skip, maximumSkipMessages: 3))
    #expect(table.rows == 3)
    #expect(try table.column("x") == [1, 2, 3])
    #expect(try table.column("frame_index") == [0, 3, 6])
    #expect(table.skippedRows == 6)
    #expect(table.skipCounts == [.nonFinite: 2, .emptyField: 1, .raggedRow: 1, .nonNumeric: 1, .blankLine: 1])
    #expect(table.skipMessages.count == 3)
    #expect(table.skipMessages[0].contains("line 3, row 2, column 'x'"))
    #expect(table.skipMessages[1].contains("line 4, row 3, column 'x'"))

    // Episode-level checks still throw in skip mode.
    let error = try readError("episode_index,timestamp\n0,1\n0,0\n", options: .init(onBadRow: .skip))
    #expect(error?.kind == .nonMonotonicTimestamp)
}

// MARK: - Writer

@Test func writerIsAtomic() throws {
    let dir = try makeDirectory()
    defer { cleanUp(dir) }
    let url = dir.appendingPathComponent("run.csv")
    let writer = try LogWriter(url: url, columns: ["frame_index", "x"])
    try writer.append([0, 1.5])
    #expect(!exists(url))
    #expect(exists(writer.temporaryURL))
    #expect(writer.temporaryURL.lastPathComponent == ".run.csv.tmp-\(ProcessInfo.processInfo.processIdentifier)")
    #expect(writer.temporaryURL.deletingLastPathComponent().standardizedFileURL.path
                == url.deletingLastPathComponent().standardizedFileURL.path)
    try writer.append([1, 2.5])
    #expect(!exists(url))
    try writer.close()
    try writer.close() // second close is a no-op
    #expect(exists(url))
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["run.csv"])
    #expect(try LogReader.read(url: url).rows == 2)
    #expect(throws: DataFormatError.self) { try writer.append([2, 3]) }
}

@Test func droppedWriterLeavesNoFiles() throws {
    let dir = try makeDirectory()
    defer { cleanUp(dir) }
    let url = dir.appendingPathComponent("killed.csv")
    do {
        let writer = try LogWriter(url: url, columns: ["a"])
        for i in 0..<100_000 { try writer.append([Double(i) + 0.5]) } // enough to flush to disk
        #expect(exists(writer.temporaryURL))
    }
    #expect(!exists(url))
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)

    // An existing destination keeps its old contents until close, and after discard().
    try Data("a\n1\n".utf8).write(to: url)
    let writer = try LogWriter(url: url, columns: ["a"])
    try writer.append([2])
    #expect(try LogReader.read(url: url).column("a") == [1])
    writer.discard()
    #expect(try LogReader.read(url: url).column("a") == [1])
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["killed.csv"])
}

@Test func writerRejectsNonFiniteValuesAndBadColumns() throws {
    let dir = try makeDirectory()
    defer { cleanUp(dir) }
    let url = dir.appendingPathComponent("w.csv")
    let writer = try LogWriter(url: url, columns: ["frame_index", "action.hip", "next.reward"])
    try writer.append([0, 0.1, 1])
    for bad in [Double.nan, .infinity, -.infinity] {
        #expect {
            try writer.append([1, bad, 1])
        } throws: { error in
            guard let error = error as? DataFormatError else { return false }
            return error.kind == .nonFinite && error.column == "action.hip" && error.row == 2 && error.line == 3
                && error.description.contains("row 2, column 'action.hip'")
        }
    }
    try writer.append([1, 0.2, 0]) // still usable after a rejected row
    try writer.close()
    let table = try LogReader.read(url: url)
    #expect(try table.column("action.hip") == [0.1, 0.2])

    for columns in [[], ["a", "a"], ["a,b"], ["\"a\""], [""], [" a"], ["a\nb"]] {
        #expect(throws: DataFormatError.self, "\(columns)") {
            _ = try LogWriter(url: dir.appendingPathComponent("bad.csv"), columns: columns)
        }
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["w.csv"])
}

@Test func writeTableAndEpisodeRanges() throws {
    let table = try LogTable(columns: ["episode_index", "timestamp", "x"],
                             values: [[0, 0, 1, 1, 1], [0, 0.1, 0, 0.1, 0.2], [1, 2, 3, 4, 5]])
    let url = try makeDirectory().appendingPathComponent("t.csv")
    defer { cleanUp(url.deletingLastPathComponent()) }
    try LogWriter.write(table, to: url)
    let back = try LogReader.read(url: url)
    #expect(back == table)
    let ranges = back.episodeRanges()
    #expect(ranges == [0..<2, 2..<5])
    #expect(Array(try back.column("x")[ranges[1]]) == [3, 4, 5])
    #expect(throws: DataFormatError.self) { _ = try LogTable(columns: ["a", "b"], values: [[1, 2], [3]]) }
    #expect(throws: DataFormatError.self) { _ = try LogTable(columns: ["a"], values: [[1], [3]]) }
}

@Test func standardColumnOrder() {
    let columns = LogColumns.standard(joints: ["hip", "knee"], floatingBase: true, observationDimension: 2)
    #expect(columns.prefix(3) == ["episode_index", "frame_index", "timestamp"])
    #expect(columns[3...8] == ["joint_state.position.hip", "joint_state.position.knee",
                               "joint_state.velocity.hip", "joint_state.velocity.knee",
                               "joint_state.effort.hip", "joint_state.effort.knee"])
    #expect(columns[9] == "base.position.x" && columns[12] == "base.orientation.w")
    #expect(columns.suffix(7) == ["action.hip", "action.knee", "observation.state.0", "observation.state.1",
                                  "next.reward", "next.cost", "next.done"])
    #expect(columns.count == 3 + 6 + 13 + 2 + 2 + 3)
    #expect(Set(columns).count == columns.count)
    let fixed = LogColumns.standard(joints: ["j"], floatingBase: false, observationDimension: 0)
    #expect(fixed == ["episode_index", "frame_index", "timestamp", "joint_state.position.j",
                      "joint_state.velocity.j", "joint_state.effort.j", "action.j",
                      "next.reward", "next.cost", "next.done"])
}

// MARK: - Scale

/// 50k rows × 40 columns (2 M values, ~12 MB): about a second each way in a debug build.
@Test func largeGeneratedFileReadsCorrectly() throws {
    let rowCount = 50_000
    let columnCount = 40
    let columns = ["episode_index", "frame_index", "timestamp"] + (3..<columnCount).map { "c\($0)" }
    let url = try makeDirectory().appendingPathComponent("large.csv")
    defer { cleanUp(url.deletingLastPathComponent()) }
    let writer = try LogWriter(url: url, columns: columns)
    var row = [Double](repeating: 0, count: columnCount)
    let episodeLength = 1000
    for r in 0..<rowCount {
        row[0] = Double(r / episodeLength)
        row[1] = Double(r % episodeLength)
        row[2] = Double(r % episodeLength) * 0.02
        for c in 3..<columnCount { row[c] = Double((r &* 31 &+ c &* 7) % 2001 - 1000) * 0.25 }
        try writer.append(row)
    }
    try writer.close()

    let table = try LogReader.read(url: url, requiredColumns: ["timestamp", "c39"],
                                   options: .init(minimumEpisodeLength: episodeLength))
    #expect(table.rows == rowCount)
    #expect(table.columns == columns)
    #expect(table.episodeRanges().count == rowCount / episodeLength)
    var mismatches = 0
    for r in stride(from: 0, to: rowCount, by: 997) {
        if table.values[1][r] != Double(r % episodeLength) { mismatches += 1 }
        for c in 3..<columnCount where table.values[c][r] != Double((r &* 31 &+ c &* 7) % 2001 - 1000) * 0.25 {
            mismatches += 1
        }
    }
    #expect(mismatches == 0)
    let last = table.row(rowCount - 1)
    #expect(last[0] == Double((rowCount - 1) / episodeLength))
}
