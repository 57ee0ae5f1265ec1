import Foundation
import Testing
import Datasets

// MARK: - Helpers

/// A fresh directory under the system temporary directory, unique per call.
private func makeDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("SafetensorsTests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

private func cleanUp(_ directory: URL) {
    try? FileManager.default.removeItem(at: directory)
}

/// A safetensors file: 8-byte little-endian `header.utf8.count`, the header, then `data`.
private func fileBytes(header: String, data: [UInt8] = []) -> Data {
    var bytes = Data()
    withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
    bytes.append(contentsOf: Array(header.utf8))
    bytes.append(contentsOf: data)
    return bytes
}

/// Writes `bytes` to a temporary file, reads it, and returns the `DataFormatError` it throws (recording an
/// issue and returning nil when it does not throw). Checks that the error names the file.
private func readError(_ bytes: Data, sourceLocation: SourceLocation = #_sourceLocation) throws -> DataFormatError? {
    let directory = try makeDirectory()
    defer { cleanUp(directory) }
    let url = directory.appendingPathComponent("bad.safetensors")
    try bytes.write(to: url)
    do {
        _ = try SafetensorsFile.read(url: url)
        Issue.record("expected an error", sourceLocation: sourceLocation)
        return nil
    } catch let error as DataFormatError {
        #expect(error.file == url.path, sourceLocation: sourceLocation)
        #expect(error.description.hasPrefix(url.path + ": "), sourceLocation: sourceLocation)
        return error
    }
}

/// The little-endian bytes of `values`.
private func littleEndian(_ values: [Float]) -> Data {
    Data(values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> ($0 * 8)) } })
}

/// The little-endian bytes of `values`.
private func littleEndian(_ values: [Double]) -> Data {
    Data(values.flatMap { v in (0..<8).map { UInt8(truncatingIfNeeded: v.bitPattern >> ($0 * 8)) } })
}

private func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }
private func bits(_ values: [Double]) -> [UInt64] { values.map(\.bitPattern) }

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
    mutating func finiteDouble() -> Double {
        while true { let x = Double(bitPattern: next()); if x.isFinite { return x } }
    }
    mutating func finiteFloat() -> Float {
        while true { let x = Float(bitPattern: UInt32(truncatingIfNeeded: next())); if x.isFinite { return x } }
    }
}

private let specialFloats: [Float] = [
    0, -0.0, 1, -1, 0.1, 1.0 / 3, .pi, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude,
    Float(bitPattern: 0x0040_0000), .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 3.4e38, 16_777_215, 65504,
]
private let specialDoubles: [Double] = [
    0, -0.0, 1, -1, 0.1, 1.0 / 3, .pi, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude,
    Double(bitPattern: 0x0008_0000_0000_0000), .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 1e308,
    9_007_199_254_740_991, 2.2250738585072014e-308,
]

// MARK: - Round trips

@Test func safetensorsRoundTripIsBitExact() throws {
    let directory = try makeDirectory()
    defer { cleanUp(directory) }
    var mix = Mix(state: 42)
    let floats = specialFloats + (0..<200).map { _ in mix.finiteFloat() }  // 216 = 6 × 36
    let doubles = specialDoubles + (0..<184).map { _ in mix.finiteDouble() } // 200 = 2 × 10 × 10

    let floatURL = directory.appendingPathComponent("floats.safetensors")
    try SafetensorsFile.write(floats: [("w", [6, 36], floats), ("scalar", [], [-0.0]), ("empty", [0, 4], [])],
                              to: floatURL)
    let floatFile = try SafetensorsFile.read(url: floatURL)
    #expect(bits(try floatFile.floats("w")) == bits(floats))
    #expect(try floatFile.shape("w") == [6, 36])
    #expect(try floatFile.dtype("w") == .float32)
    #expect(bits(try floatFile.floats("scalar")) == bits([-0.0]))
    #expect(try floatFile.shape("scalar") == [])
    #expect(try floatFile.floats("empty").isEmpty)
    #expect(try floatFile.shape("empty") == [0, 4])
    #expect(bits(try floatFile.doubles("w")) == bits(floats.map(Double.init)))
    #expect(floatFile.metadata.isEmpty)

    let doubleURL = directory.appendingPathComponent("doubles.safetensors")
    try SafetensorsFile.write(doubles: [("q", [2, 10, 10], doubles)], to: doubleURL)
    let doubleFile = try SafetensorsFile.read(url: doubleURL)
    #expect(bits(try doubleFile.doubles("q")) == bits(doubles))
    #expect(try doubleFile.shape("q") == [2, 10, 10])
    #expect(try doubleFile.dtype("q") == .float64)
    #expect(doubleFile.tensorNames == ["q"])

    // The header length is a multiple of 8 and the file is exactly header + data.
    let raw = try Data(contentsOf: doubleURL)
    #expect(doubleFile.headerLength % 8 == 0)
    #expect(raw.count == 8 + doubleFile.headerLength + doubles.count * 8)
    // Overwriting an existing file works and leaves no temporary file behind.
    try SafetensorsFile.write(doubles: [("q", [2], [1, 2])], to: doubleURL)
    #expect(try SafetensorsFile.read(url: doubleURL).doubles("q") == [1, 2])
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
            == ["doubles.safetensors", "floats.safetensors"])
}

@Test func safetensorsMetadataRoundTrip() throws {
    let directory = try makeDirectory()
    defer { cleanUp(directory) }
    let metadata = [
        "format": "pt", "empty": "", "quote\"and\\backslash": "line\nbreak\ttab\u{01}",
        "unicode ∆": "ünïcödé 🤖", "json": "{\"nested\": [1, 2]}",
    ]
    let url = directory.appendingPathComponent("meta.safetensors")
    try SafetensorsFile.write(floats: [("x", [1], [1])], metadata: metadata, to: url)
    let file = try SafetensorsFile.read(url: url)
    #expect(file.metadata == metadata)
    #expect(try file.floats("x") == [1])
    // A file with metadata only.
    try SafetensorsFile.write(tensors: [], metadata: ["only": "metadata"], to: url)
    let bare = try SafetensorsFile.read(url: url)
    #expect(bare.metadata == ["only": "metadata"])
    #expect(bare.tensors.isEmpty)
}

@Test func safetensorsAllDTypesRoundTripRawBytes() throws {
    var mix = Mix(state: 7)
    var tensors: [(name: String, dtype: SafetensorsDType, shape: [Int], data: Data)] = []
    for dtype in SafetensorsDType.allCases {
        let bytes = (0..<(3 * dtype.byteSize)).map { _ in UInt8(truncatingIfNeeded: mix.next()) }
        tensors.append((dtype.rawValue.lowercased(), dtype, [3], Data(bytes)))
    }
    let encoded = try SafetensorsFile.encode(tensors: tensors)
    let file = try SafetensorsFile.decode(encoded)
    for tensor in tensors {
        #expect(try file.data(tensor.name) == tensor.data)
        #expect(try file.dtype(tensor.name) == tensor.dtype)
    }
    // Larger dtypes come first, as in the reference writer (F64, F32, BF16, F16).
    #expect(file.tensorNames == ["f64", "f32", "bf16", "f16"])
}

@Test func safetensorsHalfConversionsAndUnsupportedDTypes() throws {
    func le16(_ values: [UInt16]) -> Data { Data(values.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }) }
    let f16: [UInt16] = [0x3C00, 0xC000, 0x0001, 0x8000, 0x7BFF, 0x3555, 0x0400]
    let bf16: [UInt16] = [0x3F80, 0xC040, 0x0001, 0x7F7F]
    let data = try SafetensorsFile.encode(tensors: [
        ("h", .float16, [7], le16(f16)),
        ("b", .bfloat16, [4], le16(bf16)),
        ("d", .float64, [1], littleEndian([-2.5])),
    ])
    let file = try SafetensorsFile.decode(data, source: "conversions")
    #expect(bits(try file.floats("h")) == bits([1, -2, 0x1p-24, -0.0, 65504, 0.333251953125, 0x1p-14]))
    #expect(try file.floats("b") == [1, -3, Float(bitPattern: 0x0001_0000), Float(bitPattern: 0x7F7F_0000)])
    #expect(try file.doubles("h") == [1, -2, 0x1p-24, -0.0, 65504, 0.333251953125, 0x1p-14])
    #expect(try file.doubles("d") == [-2.5])
    let wrongType = #expect(throws: DataFormatError.self) { try file.floats("d") }
    #expect(wrongType?.kind == .dtypeMismatch)
    #expect(wrongType?.description == "conversions: tensor 'd': dtype F64 cannot be read as Float exactly; floats() reads F32, F16 and BF16, use doubles()")
    let missing = #expect(throws: DataFormatError.self) { try file.floats("hh") }
    #expect(missing?.kind == .tensorNotFound)
    #expect(missing?.message.contains("'h'") == true)

    // Integer, boolean, complex and 8-bit float tensors are refused, naming the tensor and the dtype.
    for dtype in ["I64", "BOOL", "U8", "F8_E4M3", "C64", "I32"] {
        let size = ["I64": 8, "C64": 8, "I32": 4][dtype] ?? 1
        let header = #"{"w": {"dtype": "\#(dtype)", "shape": [1], "data_offsets": [0, \#(size)]}}"#
        let error = try readError(fileBytes(header: header, data: Array(repeating: 0, count: size)))
        #expect(error?.kind == .unknownDType, "\(dtype)")
        #expect(error?.tensor == "w")
        #expect(error?.message.hasPrefix("dtype '\(dtype)' is not supported (this reader handles F16, BF16, F32, F64)") == true,
                "\(error?.message ?? "")")
    }
}

// MARK: - Reference bytes

/// A file built by hand from the format description: F64 "weight" [2], F32 "bias" [2, 2], F32 "zeta" [1],
/// metadata {"format": "pt"}. Tensors are ordered by dtype (larger first) then name, as the reference
/// writer orders them, and the header is padded with spaces to a multiple of 8 bytes.
private let referenceHeader = #"{"__metadata__":{"format":"pt"},"weight":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},"bias":{"dtype":"F32","shape":[2,2],"data_offsets":[16,32]},"zeta":{"dtype":"F32","shape":[1],"data_offsets":[32,36]}}"#
private let referenceData: [UInt8] = [
    0, 0, 0, 0, 0, 0, 0xF0, 0x3F,   // weight[0] = 1.0
    0, 0, 0, 0, 0, 0, 0x04, 0xC0,   // weight[1] = -2.5
    0, 0, 0x80, 0x3F,               // bias = 1.0, 0.5, -0.0, 2.0
    0, 0, 0, 0x3F,
    0, 0, 0, 0x80,
    0, 0, 0, 0x40,
    0, 0, 0x40, 0x40,               // zeta = 3.0
]

@Test func safetensorsMatchesHandBuiltReferenceBytes() throws {
    var header = referenceHeader
    while header.utf8.count % 8 != 0 { header += " " }
    let reference = fileBytes(header: header, data: referenceData)

    let file = try SafetensorsFile.decode(reference)
    #expect(file.tensorNames == ["weight", "bias", "zeta"])
    #expect(file.metadata == ["format": "pt"])
    #expect(try file.doubles("weight") == [1, -2.5])
    #expect(bits(try file.floats("bias")) == bits([1, 0.5, -0.0, 2]))
    #expect(try file.shape("bias") == [2, 2])
    #expect(try file.floats("zeta") == [3])
    #expect(try file.info("bias").dataOffsets == 16..<32)

    // Given the same tensors in another order, the writer produces exactly these bytes.
    let encoded = try SafetensorsFile.encode(tensors: [
        ("zeta", .float32, [1], Data(referenceData[32..<36])),
        ("bias", .float32, [2, 2], Data(referenceData[16..<32])),
        ("weight", .float64, [2], Data(referenceData[0..<16])),
    ], metadata: ["format": "pt"])
    #expect(encoded == reference)

    // Readers accept a header without padding and with whitespace.
    let unpadded = fileBytes(header: #"{ "t" : { "shape" : [2], "dtype" : "F32", "data_offsets" : [0, 8] } }"#,
                             data: [0, 0, 0x80, 0x3F, 0, 0, 0, 0xC0])
    #expect(try SafetensorsFile.decode(unpadded).doubles("t") == [1, -2])
}

// MARK: - Python's safetensors library (only when it is installed)

/// Runs `python3 -c script arguments…`; returns the exit status and the output (nil when python3 cannot be
/// started).
private func runPython(_ script: String, _ arguments: [String] = []) -> (status: Int32, output: String)? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle.nullDevice
    do { try process.run() } catch { return nil }
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}

private let pythonHasSafetensors: Bool =
    runPython("import numpy, safetensors.numpy")?.status == 0

@Test(.enabled(if: pythonHasSafetensors, "python3 with numpy and safetensors is not installed"))
func safetensorsInteroperatesWithPythonLibrary() throws {
    let directory = try makeDirectory()
    defer { cleanUp(directory) }
    let fromPython = directory.appendingPathComponent("python.safetensors")
    let fromSwift = directory.appendingPathComponent("swift.safetensors")
    let script = """
    import sys, numpy as np
    from safetensors.numpy import save_file, load_file
    specials = np.array([0.0, -0.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.5, 0.1])
    tensors = {
        "zeta": np.array([3.0], dtype=np.float32),
        "bias": np.array([[1.0, 0.5], [-0.0, 2.0]], dtype=np.float32),
        "weight": specials,
        "half": np.array([1.0, -2.0, 65504.0], dtype=np.float16),
    }
    save_file(tensors, sys.argv[1], metadata={"format": "np"})
    if len(sys.argv) > 2:
        loaded = load_file(sys.argv[2])
        assert sorted(loaded) == ["a", "b"], sorted(loaded)
        assert loaded["a"].dtype == np.float32 and loaded["a"].shape == (2, 3)
        assert loaded["a"].tobytes() == np.array([[0, -0.0, 1e-45], [3.4e38, -1, 0.1]], dtype=np.float32).tobytes()
        assert loaded["b"].dtype == np.float64 and loaded["b"].tobytes() == specials.tobytes()
        print("python read the swift file")
    """
    // Python writes; Swift reads.
    let first = try #require(runPython(script, [fromPython.path]))
    #expect(first.status == 0, "python failed: \(first.output)")
    let file = try SafetensorsFile.read(url: fromPython)
    #expect(file.metadata == ["format": "np"])
    let specials: [Double] = [0, -0.0, .leastNonzeroMagnitude, 2.2250738585072014e-308, 1.7976931348623157e308, -1.5, 0.1]
    #expect(bits(try file.doubles("weight")) == bits(specials))
    #expect(bits(try file.floats("bias")) == bits([1, 0.5, -0.0, 2]))
    #expect(try file.shape("bias") == [2, 2])
    #expect(try file.floats("half") == [1, -2, 65504])
    // Same tensors through the Swift writer give the same bytes as the reference writer.
    let encoded = try SafetensorsFile.encode(
        tensors: try file.tensorNames.map { ($0, try file.dtype($0), try file.shape($0), try file.data($0)) },
        metadata: file.metadata)
    #expect(encoded == (try Data(contentsOf: fromPython)))

    // Swift writes; Python reads.
    try SafetensorsFile.write(tensors: [
        ("a", .float32, [2, 3], littleEndian([0, -0.0, Float(bitPattern: 1), 3.4e38, -1, 0.1])),
        ("b", .float64, [7], littleEndian(specials)),
    ], to: fromSwift)
    let second = try #require(runPython(script, [fromPython.path, fromSwift.path]))
    #expect(second.status == 0, "python failed: \(second.output)")
    #expect(second.output.contains("python read the swift file"))

    // An integer tensor (as PyTorch's BatchNorm keeps `num_batches_tracked`) is refused by name.
    let withInteger = directory.appendingPathComponent("int.safetensors")
    let third = try #require(runPython("""
    import sys, numpy as np
    from safetensors.numpy import save_file
    save_file({"w": np.zeros(2, dtype=np.float32), "count": np.array([1], dtype=np.int64)}, sys.argv[1])
    """, [withInteger.path]))
    #expect(third.status == 0, "python failed: \(third.output)")
    let refused = #expect(throws: DataFormatError.self) { try SafetensorsFile.read(url: withInteger) }
    #expect(refused?.kind == .unknownDType)
    #expect(refused?.description.hasPrefix("\(withInteger.path): tensor 'count': dtype 'I64' is not supported") == true)
}

// MARK: - Errors

@Test func safetensorsShortFilesAndBadHeaderLengths() throws {
    for count in [0, 1, 7] {
        let error = try readError(Data(repeating: 0, count: count))
        #expect(error?.kind == .fileTooShort)
        #expect(error?.message.contains("\(count) bytes") == true)
    }
    var beyond = fileBytes(header: "{}")
    beyond.replaceSubrange(0..<8, with: [100, 0, 0, 0, 0, 0, 0, 0])
    let error = try readError(beyond)
    #expect(error?.kind == .headerLengthOutOfRange)
    #expect(error?.message == "header length is 100 bytes but only 2 bytes follow the 8-byte length field")
    var huge = fileBytes(header: "{}")
    huge.replaceSubrange(0..<8, with: [0, 0, 0, 0, 0, 0, 0, 0x80])
    #expect(try readError(huge)?.kind == .headerLengthOutOfRange)
}

@Test func safetensorsInvalidHeaders() throws {
    let cases: [(String, String)] = [
        ("", "not valid JSON"),
        (#"{"a": "#, "not valid JSON"),
        (#"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},}"#, "not valid JSON"),
        ("[1, 2]", "an array, not a JSON object"),
        (#"{"__metadata__": {"k": 1}}"#, "__metadata__ value of 'k' is the number 1, not a string"),
        (#"{"__metadata__": ["x"]}"#, "__metadata__ is an array"),
        (#"{"a": 3}"#, "not an object"),
        (#"{"a": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}, "a": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}}"#,
         "the key 'a' twice"),
    ]
    for (header, expected) in cases {
        let error = try readError(fileBytes(header: header))
        #expect(error?.kind == .invalidHeader, "\(header)")
        #expect(error?.message.contains(expected) == true, "\(header): \(error?.message ?? "")")
    }
    var notUTF8 = fileBytes(header: #"{"a":1}"#)
    notUTF8[10] = 0xFF
    #expect(try readError(notUTF8)?.message.contains("not valid UTF-8") == true)
}

@Test func safetensorsMissingAndUnknownDTypes() throws {
    let missing = try readError(fileBytes(header: #"{"w": {"shape": [1], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0]))
    #expect(missing?.kind == .missingDType)
    #expect(missing?.tensor == "w")
    let unknown = try readError(fileBytes(header: #"{"w": {"dtype": "F128", "shape": [1], "data_offsets": [0, 16]}}"#))
    #expect(unknown?.kind == .unknownDType)
    #expect(unknown?.tensor == "w")
    #expect(unknown?.message.hasPrefix("unknown dtype 'F128'") == true)
    let subByte = try readError(fileBytes(header: #"{"w": {"dtype": "F4", "shape": [2], "data_offsets": [0, 1]}}"#, data: [0]))
    #expect(subByte?.kind == .unknownDType)
    let notString = try readError(fileBytes(header: #"{"w": {"dtype": 4, "shape": [1], "data_offsets": [0, 4]}}"#))
    #expect(notString?.kind == .unknownDType)
}

@Test func safetensorsShapeAndSizeErrors() throws {
    let mismatch = try readError(fileBytes(header: #"{"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}}"#,
                                           data: Array(repeating: 0, count: 20)))
    #expect(mismatch?.kind == .sizeMismatch)
    #expect(mismatch?.tensor == "w")
    #expect(mismatch?.message == "shape [2, 3] of F32 needs 24 bytes but data_offsets [0, 20] span 20")
    for shape in ["[-1]", "[1.5]", "\"2\"", "[9223372036854775807, 4]"] {
        let error = try readError(fileBytes(header: #"{"w": {"dtype": "F32", "shape": \#(shape), "data_offsets": [0, 4]}}"#))
        #expect(error?.kind == .invalidShape, "\(shape)")
    }
}

@Test func safetensorsOffsetErrors() throws {
    for offsets in ["[8, 4]", "[-4, 0]", "[0, 4.0]", "[0]", "[0, 4, 8]", "\"0,4\"", "[0, 99999999999999999999]"] {
        let error = try readError(fileBytes(header: #"{"w": {"dtype": "F32", "shape": [1], "data_offsets": \#(offsets)}}"#,
                                            data: [1, 2, 3, 4]))
        #expect(error?.kind == .offsetsOutOfRange, "\(offsets)")
        #expect(error?.tensor == "w")
    }
    let noOffsets = try readError(fileBytes(header: #"{"w": {"dtype": "F32", "shape": [1]}}"#, data: [1, 2, 3, 4]))
    #expect(noOffsets?.kind == .offsetsOutOfRange)

    let overlap = try readError(fileBytes(
        header: #"{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}, "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}"#,
        data: Array(repeating: 0, count: 24)))
    #expect(overlap?.kind == .overlappingTensors)
    #expect(overlap?.tensor == "b")
    #expect(overlap?.message.contains("'a'") == true)
}

@Test func safetensorsTruncatedAndMisplacedData() throws {
    let valid = try SafetensorsFile.encode(tensors: [
        ("a", .float32, [4], Data(count: 16)), ("b", .float64, [2], Data(count: 16)),
    ])
    #expect(try SafetensorsFile.decode(valid).tensorNames == ["b", "a"])
    for cut in [1, 5, 16, 17, 31] {
        let error = try readError(valid.prefix(valid.count - cut))
        #expect(error?.kind == .truncatedData, "cut \(cut)")
        #expect(error?.message.contains("truncated") == true)
        #expect(error?.tensor == (cut <= 16 ? "a" : "b"))
    }
    let cutHeader = try readError(valid.prefix(20))
    #expect(cutHeader?.kind == .headerLengthOutOfRange)

    var longer = valid
    longer.append(contentsOf: [0, 0, 0, 0])
    let trailing = try readError(longer)
    #expect(trailing?.kind == .trailingData)
    #expect(trailing?.message.contains("4 unexpected bytes") == true)

    // A gap between two tensors: 'b' is not where the contiguous layout puts it.
    let gap = try readError(fileBytes(
        header: #"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}"#,
        data: Array(repeating: 7, count: 12)))
    #expect(gap?.kind == .misplacedTensor)
    #expect(gap?.tensor == "b")
    #expect(gap?.message.contains("previous tensor 'a' ends at byte 4") == true)
    // The first tensor does not start at the beginning of the data section.
    let late = try readError(fileBytes(header: #"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}"#,
                                       data: Array(repeating: 7, count: 8)))
    #expect(late?.kind == .misplacedTensor)
    #expect(late?.message.contains("the data section starts at byte 0") == true)
}

@Test func safetensorsFileNotFoundAndIO() throws {
    let directory = try makeDirectory()
    defer { cleanUp(directory) }
    let missing = directory.appendingPathComponent("absent.safetensors")
    let notFound = #expect(throws: DataFormatError.self) { try SafetensorsFile.read(url: missing) }
    #expect(notFound?.kind == .fileNotFound)
    #expect(notFound?.description == "\(missing.path): file not found")
    let isDirectory = #expect(throws: DataFormatError.self) { try SafetensorsFile.read(url: directory) }
    #expect(isDirectory?.kind == .io)
}

@Test func safetensorsWriterRejectsBadArgumentsAndLeavesDestinationAlone() throws {
    let directory = try makeDirectory()
    defer { cleanUp(directory) }
    let url = directory.appendingPathComponent("out.safetensors")
    try SafetensorsFile.write(floats: [("keep", [1], [5])], to: url)
    let before = try Data(contentsOf: url)
    let cases: [([(name: String, dtype: SafetensorsDType, shape: [Int], data: Data)], String)] = [
        ([("a", .float32, [2], Data(count: 4))], "needs 8 bytes but 4 were given"),
        ([("a", .float32, [1], Data(count: 4)), ("a", .float64, [1], Data(count: 8))], "two tensors have this name"),
        ([("__metadata__", .float16, [1], Data(count: 2))], "reserved"),
        ([("", .float16, [1], Data(count: 2))], "may not be empty"),
        ([("a", .float16, [-1], Data())], "dimensions must be ≥ 0"),
    ]
    for (tensors, expected) in cases {
        let error = #expect(throws: DataFormatError.self) { try SafetensorsFile.write(tensors: tensors, to: url) }
        #expect(error?.kind == .invalidArgument)
        #expect(error?.file == url.path)
        #expect(error?.message.contains(expected) == true, "\(error?.message ?? "")")
    }
    let shapeMismatch = #expect(throws: DataFormatError.self) {
        try SafetensorsFile.write(doubles: [("d", [2, 2], [1, 2, 3])], to: url)
    }
    #expect(shapeMismatch?.kind == .invalidArgument)
    #expect(try Data(contentsOf: url) == before)

    let nowhere = directory.appendingPathComponent("no-such-folder/out.safetensors")
    let io = #expect(throws: DataFormatError.self) { try SafetensorsFile.write(floats: [("a", [1], [1])], to: nowhere) }
    #expect(io?.kind == .io)
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["out.safetensors"])
}
