import Foundation
import Testing
import Datasets

// MARK: - Helpers

/// A fresh directory under the system temporary directory, unique per call.
private func makeDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("NPZTests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

private func cleanUp(_ directory: URL) {
    try? FileManager.default.removeItem(at: directory)
}

private func bits(_ values: [Double]) -> [UInt64] { values.map(\.bitPattern) }

/// The bytes of an NPY file with the given header dict text (padded to 64 bytes) and data.
private func npy(_ dict: String, _ data: [UInt8], major: UInt8 = 1) -> Data {
    let prefix = major == 1 ? 10 : 12
    var header = Array(dict.utf8)
    while (prefix + header.count + 1) % 64 != 0 { header.append(0x20) }
    header.append(0x0A)
    var bytes = Data([0x93] + Array("NUMPY".utf8) + [major, 0])
    if major == 1 {
        bytes.append(contentsOf: [UInt8(header.count & 0xFF), UInt8(header.count >> 8)])
    } else {
        bytes.append(contentsOf: (0..<4).map { UInt8(truncatingIfNeeded: header.count >> ($0 * 8)) })
    }
    bytes.append(contentsOf: header)
    bytes.append(contentsOf: data)
    return bytes
}

private func littleEndian(_ values: [Double]) -> [UInt8] {
    values.flatMap { v in (0..<8).map { UInt8(truncatingIfNeeded: v.bitPattern >> ($0 * 8)) } }
}

/// CRC-32 (ISO 3309, as ZIP uses), bit by bit.
private func crc32(_ data: Data) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in data {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

/// A ZIP archive of stored (uncompressed) entries built by hand from the ZIP specification, so tests can
/// put arbitrary bytes (bad NPY data, duplicate names) into an NPZ file.
private func storedZip(_ entries: [(name: String, data: Data)]) -> Data {
    func u16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
    func u32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> ($0 * 8)) } }
    var archive = Data()
    var directory = Data()
    for (name, data) in entries {
        let offset = UInt32(archive.count)
        let nameBytes = Array(name.utf8)
        let crc = crc32(data)
        let common: [UInt8] = u16(20) + u16(0) + u16(0) + u16(0) + u16(0x21) // version, flags, stored, time, date
            + u32(crc) + u32(UInt32(data.count)) + u32(UInt32(data.count)) + u16(nameBytes.count) + u16(0)
        archive.append(contentsOf: u32(0x0403_4B50) + common + nameBytes)
        archive.append(data)
        directory.append(contentsOf: u32(0x0201_4B50) + u16(20) + common + u16(0) + u16(0) + u16(0)
                         + u32(0o100644 << 16) + u32(offset) + nameBytes)
    }
    let directoryOffset = UInt32(archive.count)
    archive.append(directory)
    archive.append(contentsOf: u32(0x0605_4B50) + u16(0) + u16(0) + u16(entries.count) + u16(entries.count)
                   + u32(UInt32(directory.count)) + u32(directoryOffset) + u16(0))
    return archive
}

/// Writes `bytes` as `name` in `directory` and returns its URL.
private func put(_ bytes: Data, _ name: String, in directory: URL) throws -> URL {
    let url = directory.appendingPathComponent(name)
    try bytes.write(to: url)
    return url
}

/// The `DataFormatError` that `body` throws; records an issue when it throws nothing (or another error).
private func npzError(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> DataFormatError? {
    do {
        try body()
        Issue.record("expected an DataFormatError", sourceLocation: sourceLocation)
        return nil
    } catch let error as DataFormatError {
        return error
    } catch {
        Issue.record("expected an DataFormatError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Runs `python3 -c script arguments…`; returns the exit status and output, or nil when python3 cannot start.
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

private let pythonHasNumpy: Bool = runPython("import numpy")?.status == 0

private let specials: [Double] = [
    0, -0.0, .leastNonzeroMagnitude, 2.2250738585072014e-308, .greatestFiniteMagnitude, -1.5, 0.1, 1e300,
]

// MARK: - NPY and NPZ round trips

@Test func npzRoundTripThroughWriterAndReader() throws {
    let directory = try makeDirectory()
    defer { cleanUp(directory) }
    let arrays: [String: NPYArray] = [
        "f64": try NPYArray(float64: specials, shape: [2, 4]),
        "f32": try NPYArray(float32: [0, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 0.1, -3], shape: [3, 2]),
        "flags": try NPYArray(bools: [true, false, true]),
        "ints": try NPYArray(int64: [-3, 0, 1 << 40]),
        "scalar": try NPYArray(float64: [2.5], shape: []),
        "empty": try NPYArray(float32: [], shape: [0, 3]),
        "cube": try NPYArray(float64: (0..<24).map(Double.init), shape: [2, 3, 4]),
        "infos/qpos": try NPYArray(float64: [1, 2]),
    ]
    for compression in [NPZWriter.Compression.stored, .deflate] {
        let url = directory.appendingPathComponent("round-\(compression).npz")
        try NPZWriter.write(arrays, to: url, compression: compression)
        let back = try NPZReader.read(url: url)
        #expect(back == arrays)
        #expect(bits(back["f64"]!.doubles()) == bits(specials))
        #expect(back["flags"]!.doubles() == [1, 0, 1])
        #expect(back["ints"]!.doubles() == [-3, 0, 1_099_511_627_776])
        #expect(back["scalar"]!.shape == [] && back["scalar"]!.doubles() == [2.5])
        #expect(back["empty"]!.shape == [0, 3] && back["empty"]!.count == 0)
        #expect(try NPZReader.arrayNames(url: url) == arrays.keys.sorted())
        #expect(try NPZReader.read(url: url, only: ["flags", "absent"]).keys.sorted() == ["flags"])
    }
    // Same arrays, same bytes (entry dates are fixed).
    let again = directory.appendingPathComponent("again.npz")
    try NPZWriter.write(arrays, to: again)
    #expect(try Data(contentsOf: again) == Data(contentsOf: directory.appendingPathComponent("round-stored.npz")))
    // A single .npy file.
    let single = directory.appendingPathComponent("cube.npy")
    try arrays["cube"]!.write(to: single)
    #expect(try NPYArray.read(url: single) == arrays["cube"]!)
    #expect(try Data(contentsOf: single).count % 64 == 0) // 64-byte aligned header, 192 data bytes
}

@Test func npyHeaderMatchesNumpyLayout() throws {
    let data = try NPYArray(float32: [1, 2, 3]).npyData()
    let header = String(decoding: data[10..<(10 + Int(data[8]) + Int(data[9]) * 256)], as: UTF8.self)
    #expect(Array(data[0..<8]) == [0x93] + Array("NUMPY".utf8) + [1, 0])
    #expect(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"))
    #expect(header.hasSuffix(" \n"))
    #expect((10 + header.utf8.count) % 64 == 0)
    #expect(data.count == 128 + 12) // 10 + 59-byte dict + newline > 64: padded to 128
}

@Test func npyFortranOrderAndByteOrderAreNormalized() throws {
    // C-order matrix [[0, 1, 2], [3, 4, 5]] stored column by column.
    let matrix = try NPYArray.decode(npy: npy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
                                              littleEndian([0, 3, 1, 4, 2, 5])))
    #expect(matrix.shape == [2, 3])
    #expect(matrix.doubles() == [0, 1, 2, 3, 4, 5])
    // Three dimensions: element (i, j, k) = 100i + 10j + k, stored with i fastest.
    var fortran: [Double] = []
    for k in 0..<4 { for j in 0..<3 { for i in 0..<2 { fortran.append(Double(100 * i + 10 * j + k)) } } }
    let cube = try NPYArray.decode(npy: npy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3, 4), }",
                                            littleEndian(fortran)))
    var expected: [Double] = []
    for i in 0..<2 { for j in 0..<3 { for k in 0..<4 { expected.append(Double(100 * i + 10 * j + k)) } } }
    #expect(cube.doubles() == expected)
    // A Fortran-order vector is the same as a C-order one.
    let vector = try NPYArray.decode(npy: npy("{'descr': '<f8', 'fortran_order': True, 'shape': (3,), }",
                                              littleEndian([7, 8, 9])))
    #expect(vector.doubles() == [7, 8, 9])
    // Big-endian float32 and int16; '=' (native) and '|' byte orders; format versions 2.0 and 3.0.
    let big = try NPYArray.decode(npy: npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
                                           [0x3F, 0x80, 0, 0, 0xC0, 0x20, 0, 0]))
    #expect(big.dtype == .float32 && big.doubles() == [1, -2.5])
    #expect(big.data == (try NPYArray(float32: [1, -2.5])).data)
    let int16 = try NPYArray.decode(npy: npy("{'descr': '>i2', 'fortran_order': False, 'shape': (2,), }", [0xFF, 0xFE, 0, 5]))
    #expect(int16.doubles() == [-2, 5])
    let native = try NPYArray.decode(npy: npy("{\"descr\": \"=u2\", \"fortran_order\": False, \"shape\": (1L,)}", [1, 1]))
    #expect(native.doubles() == [257])
    let version2 = try NPYArray.decode(npy: npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", [3, 4], major: 2))
    #expect(version2.doubles() == [3, 4])
    let version3 = try NPYArray.decode(npy: npy("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", [0, 0x3C, 0, 0xC0], major: 3))
    #expect(version3.doubles() == [1, -2])
}

@Test func npyDecodeErrors() throws {
    let good = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }"
    let two = littleEndian([1, 2])
    let cases: [(Data, DataFormatError.Kind, String)] = [
        (Data("PK not npy".utf8), .invalidNPY, "magic string"),
        (npy(good, two).prefix(9), .invalidNPY, "header length field"),
        ({ var d = npy(good, two); d[6] = 4; return d }(), .invalidNPY, "version 4.0"),
        (npy(good, two).prefix(40), .invalidNPY, "header length is 118 bytes but only 30 bytes follow"),
        (npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,) ", two), .invalidNPY, "expected ',' or '}'"),
        (npy("{'descr': '<f8', 'fortran_order': False}", two), .invalidNPY, "no 'shape' key"),
        (npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'extra': 1}", two), .invalidNPY, "unexpected key 'extra'"),
        (npy("{'descr': '<f8', 'fortran_order': 0, 'shape': (2,)}", two), .invalidNPY, "fortran_order is 0"),
        (npy("{'descr': '<f8', 'fortran_order': False, 'shape': (-2,)}", two), .invalidNPY, "shape holds -2"),
        (npy("{'descr': '<f8', 'fortran_order': False, 'shape': [2, 'a']}", two), .invalidNPY, "shape holds 'a'"),
        (npy("{'descr': '<c16', 'fortran_order': False, 'shape': (1,)}", Array(repeating: 0, count: 16)), .unsupportedDType, "'<c16'"),
        (npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,)}", Array(repeating: 0, count: 8)), .unsupportedDType, "'|O'"),
        (npy("{'descr': '<U3', 'fortran_order': False, 'shape': (1,)}", Array(repeating: 0, count: 12)), .unsupportedDType, "'<U3'"),
        (npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", [0, 0, 0, 0]), .unsupportedDType, "structured"),
        (npy(good, Array(two.prefix(12))), .truncatedArray, "holds 12 bytes but shape (2,) of <f8 needs 16"),
        (npy(good, two + [0]), .trailingData, "1 unexpected bytes"),
    ]
    for (bytes, kind, text) in cases {
        let error = npzError { _ = try NPYArray.decode(npy: bytes, source: "x.npz", array: "a") }
        #expect(error?.kind == kind, "\(text)")
        #expect(error?.message.contains(text) == true, "\(text): \(error?.message ?? "")")
        #expect(error?.description.hasPrefix("x.npz: array 'a': ") == true)
    }
}

@Test func npzReaderNamesTheFileAndArrayInErrors() throws {
    let directory = try makeDirectory()
    defer { cleanUp(directory) }
    let good = npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", littleEndian([1, 2]))
    let bad = npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", littleEndian([1, 2]))

    // A hand-built ZIP reads like any other; entries that are not .npy files are ignored.
    let handmade = try put(storedZip([("a.npy", good), ("README.txt", Data("hello".utf8)), ("sub/b.npy", good)]),
                           "handmade.npz", in: directory)
    #expect(try NPZReader.read(url: handmade).keys.sorted() == ["a", "sub/b"])

    let truncatedEntry = try put(storedZip([("a.npy", good), ("obs.npy", bad)]), "bad-entry.npz", in: directory)
    let truncated = npzError { _ = try NPZReader.read(url: truncatedEntry) }
    #expect(truncated?.kind == .truncatedArray)
    #expect(truncated?.array == "obs")
    #expect(truncated?.description.hasPrefix("\(truncatedEntry.path): array 'obs': ") == true)

    let duplicated = try put(storedZip([("a.npy", good), ("a.npy", good)]), "duplicate.npz", in: directory)
    let duplicate = npzError { _ = try NPZReader.read(url: duplicated) }
    #expect(duplicate?.kind == .duplicateArray)
    #expect(duplicate?.array == "a")

    // Flip one data byte of a stored entry: the CRC-32 check catches it.
    var corrupt = storedZip([("a.npy", good)])
    corrupt[30 + 5 + good.count - 1] ^= 0x40
    let corruptURL = try put(corrupt, "corrupt.npz", in: directory)
    let crc = npzError { _ = try NPZReader.read(url: corruptURL) }
    #expect(crc?.kind == .corruptEntry)
    #expect(crc?.array == "a")
    #expect(crc?.message.contains("CRC-32") == true)

    // Damage the middle of a deflate stream written by NPZWriter.
    let deflated = directory.appendingPathComponent("deflated.npz")
    try NPZWriter.write(["w": try NPYArray(float64: (0..<4000).map { Double($0 % 17) })], to: deflated,
                        compression: .deflate)
    var damaged = try Data(contentsOf: deflated)
    let dataStart = 30 + Int(damaged[26]) + Int(damaged[27]) << 8 + Int(damaged[28]) + Int(damaged[29]) << 8
    for offset in stride(from: dataStart + 40, to: dataStart + 80, by: 3) { damaged[offset] ^= 0xA5 }
    let damagedURL = try put(damaged, "damaged.npz", in: directory)
    let inflate = npzError { _ = try NPZReader.read(url: damagedURL) }
    #expect(inflate?.kind == .corruptEntry)
    #expect(inflate?.array == "w")

    let notZip = try put(Data("observations,actions\n1,2\n".utf8), "text.npz", in: directory)
    let notZipError = npzError { _ = try NPZReader.read(url: notZip) }
    #expect(notZipError?.kind == .notZip)
    #expect(notZipError?.description.hasPrefix(notZip.path + ": ") == true)

    let whole = storedZip([("a.npy", good)])
    let cut = try put(whole.prefix(whole.count - 10), "cut.npz", in: directory)
    #expect(npzError { _ = try NPZReader.read(url: cut) }?.kind == .notZip)

    let missing = directory.appendingPathComponent("absent.npz")
    let notFound = npzError { _ = try NPZReader.read(url: missing) }
    #expect(notFound?.kind == .fileNotFound)
    #expect(notFound?.description == "\(missing.path): file not found")
    #expect(npzError { _ = try NPZReader.read(url: directory) }?.kind == .io)
}

@Test func npyArrayRejectsDataThatDoesNotFitItsShape() throws {
    let shape = npzError { _ = try NPYArray(shape: [2, 2], dtype: .float64, data: Data(count: 24)) }
    #expect(shape?.kind == .invalidArgument)
    #expect(shape?.message == "shape (2, 2) of <f8 needs 32 bytes but 24 were given")
    #expect(npzError { _ = try NPYArray(shape: [-1], dtype: .uint8, data: Data()) }?.kind == .invalidArgument)
}

// MARK: - NumPy interoperability (only when python3 with numpy is installed)

@Test(.enabled(if: pythonHasNumpy, "python3 with numpy is not installed"))
func npzReadsFilesWrittenByNumpy() throws {
    let directory = try makeDirectory()
    defer { cleanUp(directory) }
    let script = """
    import sys, numpy as np
    d = sys.argv[1]
    fortran = np.asfortranarray(np.arange(24, dtype=np.float64).reshape(2, 3, 4))
    assert fortran.flags.f_contiguous and not fortran.flags.c_contiguous
    arrays = dict(
        specials=np.array([0.0, -0.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.5, 0.1, 1e300]),
        grid32=np.arange(12, dtype=np.float32).reshape(3, 4) * np.float32(0.5) - np.float32(1),
        tiny32=np.array([1e-45, -0.0, 3.4028235e38], dtype=np.float32),
        flags=np.array([True, False, True, True, False]),
        fortran=fortran,
        ints=np.array([-3, 0, 2**40], dtype=np.int64),
        int32=np.array([[-1, 2]], dtype=np.int32),
        big=np.array([1.5, -2.25], dtype='>f8'),
        u8=np.array([[0, 255]], dtype=np.uint8),
        scalar=np.array(2.5, dtype=np.float32),
        empty=np.zeros((0, 3)),
    )
    np.savez(d + '/plain.npz', **arrays)
    np.savez_compressed(d + '/compressed.npz', **arrays)
    np.save(d + '/fortran.npy', fortran)
    """
    let run = try #require(runPython(script, [directory.path]))
    #expect(run.status == 0, "python failed: \(run.output)")

    for name in ["plain.npz", "compressed.npz"] {
        let arrays = try NPZReader.read(url: directory.appendingPathComponent(name))
        #expect(arrays.count == 11, "\(name)")
        let expectedSpecials: [Double] = [0, -0.0, .leastNonzeroMagnitude, 2.2250738585072014e-308,
                                          .greatestFiniteMagnitude, -1.5, 0.1, 1e300]
        #expect(bits(arrays["specials"]!.doubles()) == bits(expectedSpecials), "\(name)")
        #expect(arrays["specials"]!.dtype == .float64)
        #expect(arrays["grid32"]!.dtype == .float32 && arrays["grid32"]!.shape == [3, 4])
        #expect(arrays["grid32"]!.doubles() == (0..<12).map { Double($0) * 0.5 - 1 })
        #expect(arrays["tiny32"]!.data == (try NPYArray(float32: [Float(bitPattern: 1), -0.0, .greatestFiniteMagnitude])).data)
        #expect(arrays["flags"]!.dtype == .bool && arrays["flags"]!.doubles() == [1, 0, 1, 1, 0])
        #expect(arrays["fortran"]!.shape == [2, 3, 4])
        #expect(arrays["fortran"]!.doubles() == (0..<24).map(Double.init))
        #expect(arrays["ints"]!.dtype == .int64 && arrays["ints"]!.doubles() == [-3, 0, 1_099_511_627_776])
        #expect(arrays["int32"]!.shape == [1, 2] && arrays["int32"]!.doubles() == [-1, 2])
        #expect(arrays["big"]!.dtype == .float64 && arrays["big"]!.doubles() == [1.5, -2.25])
        #expect(arrays["u8"]!.dtype == .uint8 && arrays["u8"]!.doubles() == [0, 255])
        #expect(arrays["scalar"]!.shape == [] && arrays["scalar"]!.doubles() == [2.5])
        #expect(arrays["empty"]!.shape == [0, 3] && arrays["empty"]!.doubles().isEmpty)
    }
    let single = try NPYArray.read(url: directory.appendingPathComponent("fortran.npy"))
    #expect(single.doubles() == (0..<24).map(Double.init))
}

@Test(.enabled(if: pythonHasNumpy, "python3 with numpy is not installed"))
func numpyReadsFilesWrittenByNPZWriter() throws {
    let directory = try makeDirectory()
    defer { cleanUp(directory) }
    let arrays: [(name: String, array: NPYArray)] = [
        ("f64", try NPYArray(float64: specials, shape: [2, 4])),
        ("f32", try NPYArray(float32: [0, -0.0, Float(bitPattern: 1), .greatestFiniteMagnitude, 0.1, -3], shape: [3, 2])),
        ("flags", try NPYArray(bools: [true, false, true])),
        ("scalar", try NPYArray(float64: [2.5], shape: [])),
        ("empty", try NPYArray(float32: [], shape: [0, 3])),
    ]
    let script = """
    import sys, numpy as np
    for path in sys.argv[1:]:
        with np.load(path) as z:
            assert sorted(z.files) == ['empty', 'f32', 'f64', 'flags', 'scalar'], z.files
            f64 = np.array([0.0, -0.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.5, 0.1, 1e300]).reshape(2, 4)
            assert z['f64'].dtype == np.float64 and z['f64'].tobytes() == f64.tobytes()
            f32 = np.array([0, -0.0, 1e-45, 3.4028235e38, 0.1, -3], dtype=np.float32).reshape(3, 2)
            assert z['f32'].dtype == np.float32 and z['f32'].tobytes() == f32.tobytes()
            assert z['flags'].dtype == np.bool_ and z['flags'].tolist() == [True, False, True]
            assert z['scalar'].shape == () and z['scalar'] == 2.5
            assert z['empty'].shape == (0, 3) and z['empty'].dtype == np.float32
    print('numpy read', len(sys.argv) - 1, 'files')
    """
    var paths: [String] = []
    for compression in [NPZWriter.Compression.stored, .deflate] {
        let url = directory.appendingPathComponent("swift-\(compression).npz")
        try NPZWriter.write(arrays: arrays, to: url, compression: compression)
        paths.append(url.path)
    }
    let run = try #require(runPython(script, paths))
    #expect(run.status == 0, "python failed: \(run.output)")
    #expect(run.output.contains("numpy read 2 files"))
}

@Test(.enabled(if: pythonHasNumpy, "python3 with numpy is not installed"))
func d4rlReadsAFileWrittenByNumpy() throws {
    let directory = try makeDirectory()
    defer { cleanUp(directory) }
    let script = """
    import sys, numpy as np
    n, s, a = 7, 3, 2
    obs = (np.arange(n * s, dtype=np.float32).reshape(n, s) * np.float32(0.25))
    act = (np.arange(n * a, dtype=np.float32).reshape(n, a) - np.float32(5))
    rew = np.arange(n, dtype=np.float32) * np.float32(0.5)
    term = np.array([0, 0, 1, 0, 0, 0, 0], dtype=bool)
    tout = np.array([0, 0, 0, 0, 0, 1, 0], dtype=bool)
    extra = {'infos/qpos': np.zeros((n, 4))}
    np.savez_compressed(sys.argv[1] + '/derived.npz', observations=obs, actions=act, rewards=rew,
                        terminals=term, timeouts=tout, **extra)
    np.savez(sys.argv[1] + '/full.npz', observations=obs, actions=act, rewards=rew.reshape(n, 1),
             terminals=term.astype(np.float32), next_observations=obs + np.float32(1))
    """
    let run = try #require(runPython(script, [directory.path]))
    #expect(run.status == 0, "python failed: \(run.output)")

    let derived = try D4RLDataset.read(url: directory.appendingPathComponent("derived.npz"))
    // Episodes: rows 0–2 (terminal at 2), 3–5 (timeout at 5), 6 (end of file). Last rows have no successor.
    #expect(derived.nextObservationsDerived && derived.hasTimeouts)
    #expect(derived.rows == [0, 1, 3, 4])
    #expect(derived.episodes == [0, 0, 1, 1])
    #expect(derived.count == 4 && derived.fileRows == 7)
    #expect(derived.observationDimension == 3 && derived.actionDimension == 2)
    #expect(Array(derived.observation(2)) == [2.25, 2.5, 2.75])
    #expect(Array(derived.nextObservation(2)) == [3, 3.25, 3.5])
    #expect(Array(derived.action(1)) == [-3, -2])
    #expect(derived.rewards == [0, 0.5, 1.5, 2])
    #expect(derived.terminals == [false, false, false, false])
    #expect(derived.episodeRanges() == [0..<2, 2..<4])

    let full = try D4RLDataset.read(url: directory.appendingPathComponent("full.npz"))
    #expect(!full.nextObservationsDerived && !full.hasTimeouts)
    #expect(full.count == 7 && full.rows == Array(0..<7))
    #expect(full.terminals == [false, false, true, false, false, false, false])
    #expect(full.episodes == [0, 0, 0, 1, 1, 1, 1])
    #expect(Array(full.nextObservation(6)) == [5.5, 5.75, 6])
    #expect(full.rewards == (0..<7).map { Double($0) * 0.5 })
}

// MARK: - D4RL

/// A small valid dataset: 6 rows, S = 2, A = 1; episode boundaries after rows 1 (terminal) and 4 (timeout).
private func sampleArrays() throws -> [String: NPYArray] {
    [
        "observations": try NPYArray(float64: (0..<12).map { Double($0) / 4 }, shape: [6, 2]),
        "actions": try NPYArray(float32: [1, 2, 3, 4, 5, 6], shape: [6, 1]),
        "rewards": try NPYArray(float64: [0.5, -1, 0, 2, 3, 4]),
        "terminals": try NPYArray(bools: [false, true, false, false, false, false]),
        "timeouts": try NPYArray(bools: [false, false, false, false, true, false]),
        "next_observations": try NPYArray(float64: (0..<12).map { Double($0) / 4 + 10 }, shape: [6, 2]),
    ]
}

@Test func d4rlRoundTripThroughNPZ() throws {
    let directory = try makeDirectory()
    defer { cleanUp(directory) }
    let dataset = try D4RLDataset(arrays: try sampleArrays())
    #expect(dataset.count == 6 && !dataset.nextObservationsDerived)
    #expect(dataset.episodes == [0, 0, 1, 1, 1, 2])
    #expect(dataset.episodeRanges() == [0..<2, 2..<5, 5..<6])
    for compression in [NPZWriter.Compression.stored, .deflate] {
        let url = directory.appendingPathComponent("d4rl-\(compression).npz")
        try dataset.write(to: url, precision: .float64, compression: compression)
        let back = try D4RLDataset.read(url: url)
        #expect(back == dataset)
        #expect(back.source == url.path)
        #expect(try NPZReader.read(url: url)["terminals"]!.dtype == .bool)
    }
    let url32 = directory.appendingPathComponent("d4rl-32.npz")
    try dataset.write(to: url32)
    let arrays32 = try NPZReader.read(url: url32)
    #expect(arrays32["observations"]!.dtype == .float32)
    #expect(try D4RLDataset.read(url: url32) == dataset) // the sample values are exact in float32

    // Built from plain arrays, next observations derived: rows 1, 4 and 5 end episodes and are dropped.
    let derived = try D4RLDataset(observations: (0..<12).map { Double($0) / 4 }, actions: [1, 2, 3, 4, 5, 6],
                                  rewards: [0.5, -1, 0, 2, 3, 4],
                                  terminals: [false, true, false, false, false, false],
                                  timeouts: [false, false, false, false, true, false],
                                  observationDimension: 2, actionDimension: 1)
    #expect(derived.rows == [0, 2, 3])
    #expect(derived.nextObservations == [0.5, 0.75, 1.5, 1.75, 2, 2.25])
    #expect(derived.episodes == [0, 1, 1])
}

@Test func d4rlMissingArraysAreNamed() throws {
    for name in ["observations", "actions", "rewards", "terminals"] {
        var arrays = try sampleArrays()
        arrays[name] = nil
        arrays[name.dropLast() + ""] = try NPYArray(float64: [0]) // a near miss, offered as a suggestion
        let error = npzError { _ = try D4RLDataset(arrays: arrays, source: "hopper.npz") }
        #expect(error?.kind == .missingArray)
        #expect(error?.array == name)
        #expect(error?.description.hasPrefix("hopper.npz: array '\(name)': required array is missing (similar: '\(name.dropLast())'") == true,
                "\(error?.description ?? "")")
    }
    // Through a file: the message lists what the archive holds.
    let directory = try makeDirectory()
    defer { cleanUp(directory) }
    let url = directory.appendingPathComponent("partial.npz")
    try NPZWriter.write(["observations": try NPYArray(float64: [1, 2], shape: [1, 2]),
                         "acts": try NPYArray(float64: [1])], to: url)
    let error = npzError { _ = try D4RLDataset.read(url: url) }
    #expect(error?.kind == .missingArray)
    #expect(error?.array == "actions")
    #expect(error?.file == url.path)
    #expect(error?.message.contains("arrays present: 'acts', 'observations'") == true)
}

@Test func d4rlShapeMismatchesNameBothArrays() throws {
    let cases: [(String, NPYArray, String)] = [
        ("actions", try NPYArray(float32: [1, 2, 3, 4, 5], shape: [5, 1]),
         "'actions' has shape (5, 1) but 'observations' has shape (6, 2): the first dimensions (rows) must match"),
        ("rewards", try NPYArray(float64: [1, 2, 3]),
         "'rewards' has shape (3,) but 'observations' has shape (6, 2)"),
        ("terminals", try NPYArray(bools: Array(repeating: false, count: 7)),
         "'terminals' has shape (7,) but 'observations' has shape (6, 2)"),
        ("timeouts", try NPYArray(bools: Array(repeating: false, count: 5)),
         "'timeouts' has shape (5,) but 'observations' has shape (6, 2)"),
        ("next_observations", try NPYArray(float64: Array(repeating: 0, count: 18), shape: [6, 3]),
         "'next_observations' has shape (6, 3) but 'observations' has shape (6, 2): the shapes must be equal"),
        ("rewards", try NPYArray(float64: Array(repeating: 0, count: 12), shape: [6, 2]),
         "has shape (6, 2); expected (N,) or (N, 1)"),
        ("observations", try NPYArray(float64: Array(repeating: 0, count: 12), shape: [6, 2, 1]),
         "has shape (6, 2, 1); expected (N, S) or (N,)"),
    ]
    for (name, array, text) in cases {
        var arrays = try sampleArrays()
        arrays[name] = array
        let error = npzError { _ = try D4RLDataset(arrays: arrays, source: "walker.npz") }
        #expect(error?.kind == .shapeMismatch, "\(name)")
        #expect(error?.array == name)
        #expect(error?.message.contains(text) == true, "\(error?.message ?? "")")
        #expect(error?.file == "walker.npz")
    }
}

@Test func d4rlNonFiniteAndInvalidValuesGiveTheFirstBadIndex() throws {
    func withValue(_ name: String, _ index: Int, _ value: Double) throws -> [String: NPYArray] {
        var arrays = try sampleArrays()
        var values = arrays[name]!.doubles()
        values[index] = value
        arrays[name] = arrays[name]!.dtype == .float32
            ? try NPYArray(float32: values.map { Float($0) }, shape: arrays[name]!.shape)
            : try NPYArray(float64: values, shape: arrays[name]!.shape)
        return arrays
    }
    let cases: [(String, Int, Double, DataFormatError.Kind, String)] = [
        ("observations", 7, .nan, .nonFinite, "NaN at row 3, column 1; values must be finite"),
        ("actions", 2, -.infinity, .nonFinite, "-inf at row 2, column 0"),
        ("next_observations", 0, .infinity, .nonFinite, "inf at row 0, column 0"),
        ("rewards", 4, .nan, .nonFinite, "NaN at row 4"),
    ]
    for (name, index, value, kind, text) in cases {
        var arrays = try withValue(name, index, value)
        if name == "observations" { // only the first bad index is reported
            var values = arrays[name]!.doubles()
            values[9] = .nan
            arrays[name] = try NPYArray(float64: values, shape: [6, 2])
        }
        let error = npzError { _ = try D4RLDataset(arrays: arrays, source: "ant.npz") }
        #expect(error?.kind == kind, "\(name)")
        #expect(error?.array == name)
        #expect(error?.index == index)
        #expect(error?.message == text || error?.message.hasPrefix(text) == true, "\(error?.message ?? "")")
        #expect(error?.description.hasPrefix("ant.npz: array '\(name)': index \(index): ") == true)
    }
    var arrays = try sampleArrays()
    arrays["terminals"] = try NPYArray(float32: [0, 0, 0.5, 0, 1, 0])
    let flag = npzError { _ = try D4RLDataset(arrays: arrays) }
    #expect(flag?.kind == .invalidValue)
    #expect(flag?.array == "terminals" && flag?.index == 2)
    #expect(flag?.description == "<arrays>: array 'terminals': index 2: 0.5 at row 2; flags must be 0 or 1")
    arrays["terminals"] = try NPYArray(float32: [0, 0, .nan, 0, 1, 0])
    #expect(npzError { _ = try D4RLDataset(arrays: arrays) }?.kind == .nonFinite)
}

@Test func d4rlEmptyDatasets() throws {
    var arrays = try sampleArrays()
    arrays["observations"] = try NPYArray(float64: [], shape: [0, 2])
    arrays["actions"] = try NPYArray(float64: [], shape: [0, 1])
    arrays["rewards"] = try NPYArray(float64: [])
    arrays["terminals"] = try NPYArray(bools: [])
    arrays["timeouts"] = nil
    arrays["next_observations"] = nil
    #expect(npzError { _ = try D4RLDataset(arrays: arrays) }?.kind == .empty)
    // Every row ends an episode, so no row has a successor.
    let allTerminal = npzError {
        _ = try D4RLDataset(observations: [1, 2], actions: [0, 0], rewards: [0, 0], terminals: [true, true],
                            observationDimension: 1, actionDimension: 1)
    }
    #expect(allTerminal?.kind == .empty)
    #expect(allTerminal?.message.contains("no transitions") == true)
}
