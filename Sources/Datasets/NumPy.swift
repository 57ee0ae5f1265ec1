// NumPy files: `.npy` arrays (an in-memory n-dimensional array and the NPY format reader) and `.npz` archives.

import Foundation
import ZIPFoundation

/// An n-dimensional array of numbers or booleans as NumPy stores it in a `.npy` file, kept as raw bytes in
/// row-major (C) order and little-endian byte order whatever the file's (Fortran-order arrays are transposed
/// on read, big-endian ones byte-swapped).
///
/// NPY format (versions 1.0, 2.0 and 3.0): the magic string `\x93NUMPY`, a major and a minor version byte,
/// the header length as a little-endian `u16` (version 1) or `u32`, then the header, a Python dict literal
/// such as `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }` padded with spaces and a newline,
/// then the elements.
public struct NPYArray: Sendable, Equatable {
    /// Element type; raw values are NumPy's little-endian `descr` strings: `bool_` (one byte, 0 or 1),
    /// signed and unsigned integers of 1, 2, 4 and 8 bytes, and IEEE 754 floats of 2, 4 and 8 bytes.
    public enum DType: String, Sendable, Hashable, CaseIterable {
        case bool = "|b1", int8 = "|i1", uint8 = "|u1", int16 = "<i2", uint16 = "<u2", int32 = "<i4",
             uint32 = "<u4", int64 = "<i8", uint64 = "<u8", float16 = "<f2", float32 = "<f4", float64 = "<f8"

        /// NumPy's type string for this dtype in little-endian order (`"<f8"`, `"|b1"`, …).
        public var descr: String { rawValue }
        /// Bytes per element.
        public var byteSize: Int { Int(rawValue.dropFirst(2))! }
        /// Whether the type is a floating-point type (and so may hold NaN or ±infinity).
        public var isFloatingPoint: Bool { rawValue.dropFirst().first == "f" }
    }

    /// Dimensions, outermost first; `[]` is a 0-dimensional array holding one element.
    public let shape: [Int]
    /// Element type.
    public let dtype: DType
    /// Element bytes: `count × dtype.byteSize` of them, row-major (C) order, little-endian.
    public let data: Data
    /// Number of elements: the product of `shape` (1 for `[]`).
    public var count: Int { shape.reduce(1, *) }

    /// An array from raw little-endian row-major element bytes.
    /// - Throws: `DataFormatError.Kind.invalidArgument` (file `<array>`) when a dimension is negative or
    ///   `data.count != product(shape) × dtype.byteSize`.
    public init(shape: [Int], dtype: DType, data: Data) throws {
        let expected = try Self.byteCount(shape: shape, dtype: dtype) { DataFormatError(kind: $1, file: "<array>", message: $0) }
        guard expected == data.count else {
            throw DataFormatError(kind: .invalidArgument, file: "<array>", message: "shape \(Self.describe(shape)) of "
                                  + "\(dtype.descr) needs \(expected) bytes but \(data.count) were given")
        }
        (self.shape, self.dtype, self.data) = (shape, dtype, data.startIndex == 0 ? data : Data(data))
    }

    /// All elements as `Double`s in row-major order: floats widened exactly, booleans as 0 or 1, integers
    /// exactly up to magnitude 2⁵³ and rounded to the nearest `Double` beyond.
    public func doubles() -> [Double] {
        func load<T>(_ type: T.Type) -> [T] { data.withUnsafeBytes { LittleEndian.elements(T.self, from: $0, offset: 0, count: count) } }
        switch dtype {
        case .float64: return load(Double.self)
        case .float32: return load(Float.self).map(Double.init)
        case .float16: return load(UInt16.self).map { Double(HalfPrecision.float(fromBinary16: $0)) }
        case .bool: return load(UInt8.self).map { $0 == 0 ? 0 : 1 }
        case .int8: return load(Int8.self).map(Double.init)
        case .uint8: return load(UInt8.self).map(Double.init)
        case .int16: return load(Int16.self).map(Double.init)
        case .uint16: return load(UInt16.self).map(Double.init)
        case .int32: return load(Int32.self).map(Double.init)
        case .uint32: return load(UInt32.self).map(Double.init)
        case .int64: return load(Int64.self).map(Double.init)
        case .uint64: return load(UInt64.self).map(Double.init)
        }
    }

    /// Reads a `.npy` file. - Throws: `DataFormatError` naming the file: `.fileNotFound`, `.io`, and those of
    /// `decode`.
    public static func read(url: URL) throws -> NPYArray { try decode(npy: readWholeFile(url), source: url.path) }

    /// Parses the bytes of a `.npy` file: format versions 1.0, 2.0 and 3.0; the dtypes of `DType` in any byte
    /// order (`<`, `>`, `|`, `=`); C or Fortran order; exactly `product(shape) × itemsize` data bytes.
    /// `source` (the file) and `array` (e.g. the NPZ entry) name it in errors.
    /// - Throws: `DataFormatError`: `.invalidNPY`, `.unsupportedDType`, `.truncatedArray`, `.trailingData`.
    public static func decode(npy: Data, source: String = "<memory>", array: String? = nil) throws -> NPYArray {
        let bytes = [UInt8](npy)
        func fail(_ message: String, _ kind: DataFormatError.Kind = .invalidNPY) -> DataFormatError {
            DataFormatError(kind: kind, file: source, array: array, message: message)
        }
        guard bytes.count >= 8, bytes[0..<6].elementsEqual([0x93] + Array("NUMPY".utf8)) else {
            throw fail("not an NPY array: it does not start with the magic string \\x93NUMPY")
        }
        guard (1...3).contains(bytes[6]) else {
            throw fail("unsupported NPY format version \(bytes[6]).\(bytes[7]) (1.0, 2.0 and 3.0 are supported)")
        }
        let headerStart = bytes[6] == 1 ? 10 : 12
        guard bytes.count >= headerStart else { throw fail("NPY data ends inside the header length field (\(bytes.count) bytes)") }
        let headerLength = bytes[8..<headerStart].reversed().reduce(0) { $0 << 8 | Int($1) }, dataStart = headerStart + headerLength
        guard headerLength <= bytes.count - headerStart else {
            throw fail("header length is \(headerLength) bytes but only \(bytes.count - headerStart) bytes follow")
        }
        let header = try parseHeader(Array(bytes[headerStart..<dataStart]), fail: fail)
        let expected = try byteCount(shape: header.shape, dtype: header.dtype, fail: fail), available = bytes.count - dataStart
        let what = "shape \(describe(header.shape)) of \(header.descr)"
        if available < expected {
            throw fail("array data holds \(available) bytes but \(what) needs \(expected); the data is truncated", .truncatedArray)
        }
        if available > expected { throw fail("\(available - expected) unexpected bytes follow the \(expected) bytes of \(what)", .trailingData) }
        var elements = Array(bytes[dataStart...])
        let size = header.dtype.byteSize
        if header.descr.first == ">" && size > 1 {
            for start in stride(from: 0, to: elements.count, by: size) { elements[start..<(start + size)].reverse() }
        }
        if header.fortranOrder && header.shape.count > 1 { // row-major index → multi-index → column-major offset
            elements = (0..<header.shape.reduce(1, *)).flatMap { position in
                var rest = position, offset = 0, stride = elements.count / size
                for extent in header.shape.reversed() {
                    stride /= extent
                    offset += rest % extent * stride
                    rest /= extent
                }
                return elements[(offset * size)..<((offset + 1) * size)]
            }
        }
        return try NPYArray(shape: header.shape, dtype: header.dtype, data: Data(elements))
    }

    /// `product(shape) × dtype.byteSize`, checking for negative dimensions and overflow.
    private static func byteCount(shape: [Int], dtype: DType, fail: (String, DataFormatError.Kind) -> DataFormatError) throws -> Int {
        if let axis = shape.firstIndex(where: { $0 < 0 }) {
            throw fail("shape[\(axis)] is \(shape[axis]); dimensions must be ≥ 0", .invalidArgument)
        }
        guard let count = Datasets.byteCount(shape: shape, elementSize: dtype.byteSize) else {
            throw fail("shape \(describe(shape)) is too large to address", .invalidNPY)
        }
        return count
    }

    /// A shape as NumPy prints it: `(3, 4)`, `(5,)`, `()`.
    static func describe(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }

    /// The header dict `{'descr': …, 'fortran_order': …, 'shape': (…)}`: its Python literal is rewritten as
    /// JSON (`jsonText(python:)`) and read with `JSONSerialization`, then the three keys are checked.
    private static func parseHeader(_ bytes: [UInt8], fail: (String, DataFormatError.Kind) -> DataFormatError) throws
        -> (dtype: DType, descr: String, fortranOrder: Bool, shape: [Int]) {
        func malformed(_ message: String) -> DataFormatError { fail("malformed NPY header: " + message, .invalidNPY) }
        let value = try JSONValue.parse(try jsonText(python: bytes, malformed: malformed), failure: malformed)
        guard let dict = value as? [String: Any] else { throw malformed("expected a dict but found \(summary(value))") }
        if let key = dict.keys.sorted().first(where: { !["descr", "fortran_order", "shape"].contains($0) }) {
            throw malformed("unexpected key '\(key)' (expected descr, fortran_order, shape)")
        }
        for key in ["descr", "fortran_order", "shape"] where dict[key] == nil { throw malformed("no '\(key)' key") }
        guard let order = dict["fortran_order"] as? NSNumber, JSONValue.isBool(order) else {
            throw malformed("fortran_order is \(summary(dict["fortran_order"]!)), not True or False")
        }
        guard let dimensions = dict["shape"] as? [Any] else { throw malformed("shape is \(summary(dict["shape"]!)), not a tuple") }
        let shape = try dimensions.map { dimension in
            guard let size = JSONValue.integer(dimension), size >= 0 else {
                throw malformed("shape holds \(summary(dimension)), not a non-negative integer")
            }
            return size
        }
        guard let descr = dict["descr"] as? String else {
            if dict["descr"] is [Any] { throw fail("structured dtypes (a list descr) are not supported", .unsupportedDType) }
            throw malformed("descr is \(summary(dict["descr"]!)), not a string")
        }
        // A type string: byte order (<, >, | or =), kind letter (b, i, u, f), size in bytes.
        guard "<>|=".contains(descr.first ?? " "), let dtype = DType.allCases.first(where: { $0.rawValue.dropFirst() == descr.dropFirst() }) else {
            throw fail("unsupported dtype '\(descr)' (supported: bool (b1), int8–int64 (i1–i8), uint8–uint64 (u1–u8), "
                       + "float16–float64 (f2–f8))", .unsupportedDType)
        }
        return (dtype, descr, order.boolValue, shape)
    }

    /// A parsed value as Python writes it, for error messages: `'a'`, `-2`, `True`, `None`, `a tuple or list`.
    private static func summary(_ value: Any) -> String {
        switch value {
        case let text as String: return "'\(text)'"
        case let number as NSNumber: return JSONValue.isBool(number) ? (number.boolValue ? "True" : "False") : "\(number)"
        case is [Any]: return "a tuple or list"
        case is [String: Any]: return "a dict"
        default: return "None"
        }
    }

    /// The Python literal subset NPY headers use, rewritten as JSON: `'…'` strings as JSON strings, tuples as
    /// arrays, `True`/`False`/`None` as `true`/`false`/`null`, the Python 2 long suffix (`3L`) dropped.
    /// Trailing commas (`(3,)`, `, }`) are left for `JSONSerialization`, which accepts them.
    private static func jsonText(python bytes: [UInt8], malformed: (String) -> DataFormatError) throws -> [UInt8] {
        var output: [UInt8] = [], closers: [UInt8] = [], position = 0
        while position < bytes.count {
            let byte = bytes[position]
            switch Unicode.Scalar(byte) {
            case "'", "\"":
                var text: [UInt8] = []
                position += 1
                while position < bytes.count && bytes[position] != byte {
                    if bytes[position] == UInt8(ascii: "\\") { position += 1 }
                    if position < bytes.count { text.append(bytes[position]) }
                    position += 1
                }
                if position == bytes.count { throw malformed("unterminated string") }
                output += JSONValue.string(String(decoding: text, as: UTF8.self)).utf8
            case "{", "(", "[":
                closers.append(byte == UInt8(ascii: "(") ? UInt8(ascii: ")") : byte + 2) // { → }, [ → ]
                output.append(byte == UInt8(ascii: "(") ? UInt8(ascii: "[") : byte)
            case "}", ")", "]":
                _ = closers.popLast()
                output.append(byte == UInt8(ascii: "}") ? byte : UInt8(ascii: "]"))
            case "L" where position > 0 && (0x30...0x39).contains(bytes[position - 1]): break
            default:
                if let (word, json) = [("True", "true"), ("False", "false"), ("None", "null")].first(where: { bytes[position...].starts(with: $0.0.utf8) }) {
                    output += json.utf8
                    position += word.utf8.count - 1
                } else {
                    output.append(byte)
                }
            }
            position += 1
        }
        if let closer = closers.last {
            throw malformed("expected ',' or '\(Character(Unicode.Scalar(closer)))' but found the end of the header")
        }
        return output
    }
}

/// Reads NumPy `.npz` files: ZIP archives (ZIP64 too) whose entries `NAME.npy` each hold one NPY array (see
/// `NPYArray`), as `numpy.savez` (stored entries) and `numpy.savez_compressed` (deflate entries) write them.
/// Array names are the entry paths without `.npy` (`infos/qpos.npy` → `infos/qpos`); other entries and
/// directories are ignored. Every entry read is checked against its CRC-32.
public enum NPZReader {
    /// Reads every array of the archive, by name.
    /// - Throws: `DataFormatError` naming the file (and the array): `.fileNotFound`, `.io`, `.notZip`,
    ///   `.corruptEntry`, `.duplicateArray`, and the NPY errors of `NPYArray.decode(npy:source:array:)`.
    public static func read(url: URL) throws -> [String: NPYArray] { try read(url: url, only: nil) }

    /// Reads the arrays whose names are in `names` (all when nil); names not in the archive are absent from
    /// the result. - Throws: as `read(url:)`.
    public static func read(url: URL, only names: Set<String>?) throws -> [String: NPYArray] {
        let archive = try open(url)
        var arrays: [String: NPYArray] = [:], seen = Set<String>()
        for entry in archive {
            guard let name = arrayName(of: entry) else { continue }
            func corrupt(_ message: String) -> DataFormatError {
                DataFormatError(kind: .corruptEntry, file: url.path, array: name, message: "entry '\(entry.path)' " + message)
            }
            if !seen.insert(name).inserted {
                throw DataFormatError(kind: .duplicateArray, file: url.path, array: name, message: "the archive has two entries named '\(entry.path)'")
            }
            if let names, !names.contains(name) { continue }
            var bytes = Data(capacity: Int(min(entry.uncompressedSize, 1 << 28)))
            let checksum: CRC32
            do { checksum = try archive.extract(entry, bufferSize: 1 << 20) { bytes.append($0) } } catch {
                if case .invalidCompressionMethod? = error as? Archive.ArchiveError {
                    throw corrupt("uses a compression method other than stored or deflate")
                }
                throw corrupt("cannot be extracted: damaged ZIP data (\(error))")
            }
            if checksum != entry.checksum {
                throw corrupt("fails its CRC-32 check (stored \(hex(entry.checksum)), computed \(hex(checksum))): the archive is damaged")
            }
            if UInt64(bytes.count) != entry.uncompressedSize {
                throw corrupt("holds \(bytes.count) bytes but the archive says \(entry.uncompressedSize)")
            }
            arrays[name] = try NPYArray.decode(npy: bytes, source: url.path, array: name)
        }
        return arrays
    }

    /// Names of the arrays in the archive, in archive order, without reading their data.
    /// - Throws: `.fileNotFound`, `.io`, `.notZip`.
    public static func arrayNames(url: URL) throws -> [String] { try open(url).compactMap(arrayName(of:)) }

    /// The array name of a `.npy` file entry, or nil for directories and other files.
    private static func arrayName(of entry: Entry) -> String? {
        entry.type == .file && entry.path.hasSuffix(".npy") && entry.path.count > 4 ? String(entry.path.dropLast(4)) : nil
    }

    private static func open(_ url: URL) throws -> Archive {
        try checkReadableFile(url)
        do { return try Archive(url: url, accessMode: .read) } catch {
            let reason = if case .missingEndOfCentralDirectoryRecord? = error as? Archive.ArchiveError {
                "no ZIP end-of-central-directory record: not a ZIP archive, or a truncated one"
            } else {
                "cannot be opened as a ZIP archive (\(error))"
            }
            throw DataFormatError(kind: .notZip, file: url.path, message: reason + "; an NPZ file is a ZIP archive of .npy files")
        }
    }

    private static func hex(_ value: CRC32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }
}
