// NumPy `.npy` arrays: an in-memory n-dimensional array and the NPY format reader and writer.

import Foundation

/// An n-dimensional array of numbers or booleans as NumPy stores it in a `.npy` file.
///
/// Elements are kept as raw bytes in row-major (C) order and little-endian byte order, whatever the
/// order of the file they came from (Fortran-order arrays are transposed on read, big-endian ones byte-swapped).
///
/// NPY format (versions 1.0, 2.0 and 3.0 are read; 1.0 is written, 2.0 when the header exceeds 65535 bytes):
/// the magic string `\x93NUMPY`, one byte major and one byte minor version, the header length as a
/// little-endian `u16` (version 1) or `u32` (versions 2 and 3), then the header: an ASCII (version 3:
/// UTF-8) Python dict literal such as `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }` padded
/// with spaces and a final newline so that the data starts at a multiple of 64 bytes; then the elements.
public struct NPYArray: Sendable, Equatable {
    /// Element type; raw values are NumPy's little-endian `descr` strings.
    public enum DType: String, Sendable, Hashable, CaseIterable {
        /// `numpy.bool_`: one byte, 0 or 1.
        case bool = "|b1"
        /// `numpy.int8`.
        case int8 = "|i1"
        /// `numpy.uint8`.
        case uint8 = "|u1"
        /// `numpy.int16`, little-endian.
        case int16 = "<i2"
        /// `numpy.uint16`, little-endian.
        case uint16 = "<u2"
        /// `numpy.int32`, little-endian.
        case int32 = "<i4"
        /// `numpy.uint32`, little-endian.
        case uint32 = "<u4"
        /// `numpy.int64`, little-endian.
        case int64 = "<i8"
        /// `numpy.uint64`, little-endian.
        case uint64 = "<u8"
        /// `numpy.float16` (IEEE 754 binary16), little-endian.
        case float16 = "<f2"
        /// `numpy.float32` (`Float`), little-endian.
        case float32 = "<f4"
        /// `numpy.float64` (`Double`), little-endian.
        case float64 = "<f8"

        /// NumPy's type string for this dtype in little-endian order (`"<f8"`, `"|b1"`, …).
        public var descr: String { rawValue }

        /// Bytes per element.
        public var byteSize: Int {
            switch self {
            case .bool, .int8, .uint8: return 1
            case .int16, .uint16, .float16: return 2
            case .int32, .uint32, .float32: return 4
            case .int64, .uint64, .float64: return 8
            }
        }

        /// Whether the type is a floating-point type (and so may hold NaN or ±infinity).
        public var isFloatingPoint: Bool { self == .float16 || self == .float32 || self == .float64 }

        /// The dtype for a kind letter (`b`, `i`, `u`, `f`) and byte size, or nil.
        static func from(kind: Character, size: Int) -> DType? {
            switch (kind, size) {
            case ("b", 1): return .bool
            case ("i", 1): return .int8
            case ("u", 1): return .uint8
            case ("i", 2): return .int16
            case ("u", 2): return .uint16
            case ("i", 4): return .int32
            case ("u", 4): return .uint32
            case ("i", 8): return .int64
            case ("u", 8): return .uint64
            case ("f", 2): return .float16
            case ("f", 4): return .float32
            case ("f", 8): return .float64
            default: return nil
            }
        }
    }

    /// Dimensions, outermost first; `[]` is a 0-dimensional array holding one element.
    public let shape: [Int]
    /// Element type.
    public let dtype: DType
    /// Element bytes: `count × dtype.byteSize` of them, row-major (C) order, little-endian.
    public let data: Data
    /// Number of elements: the product of `shape` (1 for `[]`).
    public var count: Int { shape.reduce(1, *) }

    // MARK: - Building

    /// An array from raw little-endian row-major element bytes.
    /// - Throws: `NPZError.Kind.invalidArgument` (file `<array>`) when a dimension is negative or
    ///   `data.count != product(shape) × dtype.byteSize`.
    public init(shape: [Int], dtype: DType, data: Data) throws {
        let expected = try Self.byteCount(shape: shape, dtype: dtype, file: "<array>", array: nil)
        guard expected == data.count else {
            throw NPZError(kind: .invalidArgument, file: "<array>",
                           message: "shape \(Self.describe(shape)) of \(dtype.descr) needs \(expected) bytes but "
                           + "\(data.count) were given")
        }
        self.init(trustedShape: shape, dtype: dtype, data: data)
    }

    /// A `float64` array; `shape` defaults to one dimension of `values.count`.
    /// - Throws: `NPZError.Kind.invalidArgument` when `product(shape) != values.count`.
    public init(float64 values: [Double], shape: [Int]? = nil) throws {
        try self.init(shape: shape ?? [values.count], dtype: .float64, data: LittleEndian.bytes(of: values))
    }

    /// A `float32` array; `shape` defaults to one dimension of `values.count`.
    /// - Throws: `NPZError.Kind.invalidArgument` when `product(shape) != values.count`.
    public init(float32 values: [Float], shape: [Int]? = nil) throws {
        try self.init(shape: shape ?? [values.count], dtype: .float32, data: LittleEndian.bytes(of: values))
    }

    /// A `bool` array (stored as bytes 0 and 1); `shape` defaults to one dimension of `values.count`.
    /// - Throws: `NPZError.Kind.invalidArgument` when `product(shape) != values.count`.
    public init(bools values: [Bool], shape: [Int]? = nil) throws {
        try self.init(shape: shape ?? [values.count], dtype: .bool, data: Data(values.map { $0 ? 1 : 0 }))
    }

    /// An `int64` array; `shape` defaults to one dimension of `values.count`.
    /// - Throws: `NPZError.Kind.invalidArgument` when `product(shape) != values.count`.
    public init(int64 values: [Int64], shape: [Int]? = nil) throws {
        try self.init(shape: shape ?? [values.count], dtype: .int64, data: LittleEndian.bytes(of: values))
    }

    init(trustedShape shape: [Int], dtype: DType, data: Data) {
        self.shape = shape
        self.dtype = dtype
        self.data = data.startIndex == 0 ? data : Data(data)
    }

    // MARK: - Conversion

    /// All elements as `Double`s in row-major order.
    ///
    /// Floats are widened exactly; booleans become 0 or 1; integers are converted exactly up to magnitude
    /// 2⁵³ and rounded to the nearest `Double` beyond.
    public func doubles() -> [Double] {
        let n = count
        func load<T>(_ type: T.Type) -> [T] {
            data.withUnsafeBytes { LittleEndian.elements(T.self, from: $0, offset: 0, count: n) }
        }
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

    // MARK: - NPY encoding

    /// The array as the bytes of a `.npy` file (format 1.0, or 2.0 for a header over 65535 bytes), C order,
    /// little-endian.
    public func npyData() -> Data {
        let shapeText: String
        switch shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(shape[0]),)"
        default: shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
        }
        var header = Array("{'descr': '\(dtype.descr)', 'fortran_order': False, 'shape': \(shapeText), }".utf8)
        // Version 1.0 (u16 length) unless the padded header does not fit in 65535 bytes.
        var prefixLength = 10 // magic (6) + version (2) + u16 length
        var padding = (64 - (prefixLength + header.count + 1) % 64) % 64
        if header.count + 1 + padding > 65535 {
            prefixLength = 12 // version 2.0: u32 length
            padding = (64 - (prefixLength + header.count + 1) % 64) % 64
        }
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padding))
        header.append(UInt8(ascii: "\n"))

        var output = Data([0x93] + Array("NUMPY".utf8))
        if prefixLength == 10 {
            output.append(contentsOf: [1, 0])
            LittleEndian.append(UInt16(header.count), to: &output)
        } else {
            output.append(contentsOf: [2, 0])
            LittleEndian.append(UInt32(header.count), to: &output)
        }
        output.append(contentsOf: header)
        output.append(data)
        return output
    }

    /// Writes the array to `url` as a `.npy` file (see `npyData()`), atomically: the bytes go to a temporary
    /// file in the destination's directory that is synced and renamed over `url`.
    /// - Throws: `NPZError.Kind.io`.
    public func write(to url: URL) throws {
        do {
            try AtomicFile.write(to: url) { append in try append(npyData()) }
        } catch let failure as AtomicFile.Failure {
            throw NPZError(kind: .io, file: url.standardizedFileURL.path, message: failure.message)
        }
    }

    // MARK: - NPY decoding

    /// Reads a `.npy` file.
    /// - Throws: `NPZError` naming the file: `.fileNotFound`, `.io`, `.invalidNPY`, `.unsupportedDType`,
    ///   `.truncatedArray`, `.trailingData`.
    public static func read(url: URL) throws -> NPYArray {
        let path = url.path
        let bytes: Data
        do {
            bytes = try WholeFile.read(url)
        } catch {
            switch error {
            case .notFound: throw NPZError(kind: .fileNotFound, file: path, message: "file not found")
            case .io(let text): throw NPZError(kind: .io, file: path, message: text)
            }
        }
        return try decode(npy: bytes, source: path)
    }

    /// Parses the bytes of a `.npy` file.
    ///
    /// Accepts format versions 1.0, 2.0 and 3.0; dtypes bool, (u)int8/16/32/64 and float16/32/64 in either
    /// byte order (`<`, `>`, `|`, `=`); C or Fortran order (Fortran-order data is transposed to C order).
    /// The data must be exactly `product(shape) × itemsize` bytes.
    /// - Parameters:
    ///   - npy: the file's bytes.
    ///   - source: file name used in errors.
    ///   - array: array name used in errors (e.g. the NPZ entry), or nil.
    /// - Throws: `NPZError`: `.invalidNPY`, `.unsupportedDType`, `.truncatedArray`, `.trailingData`.
    public static func decode(npy: Data, source: String = "<memory>", array: String? = nil) throws -> NPYArray {
        let bytes = npy.startIndex == 0 ? npy : Data(npy)
        func invalid(_ message: String) -> NPZError {
            NPZError(kind: .invalidNPY, file: source, array: array, message: message)
        }
        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        guard bytes.count >= 8, Array(bytes[0..<6]) == magic else {
            throw invalid("not an NPY array: it does not start with the magic string \\x93NUMPY")
        }
        let major = bytes[6], minor = bytes[7]
        guard (1...3).contains(major) else {
            throw invalid("unsupported NPY format version \(major).\(minor) (1.0, 2.0 and 3.0 are supported)")
        }
        let lengthSize = major == 1 ? 2 : 4
        guard bytes.count >= 8 + lengthSize else {
            throw invalid("NPY data ends inside the header length field (\(bytes.count) bytes)")
        }
        let headerLength = bytes.withUnsafeBytes {
            lengthSize == 2 ? Int(LittleEndian.load(UInt16.self, from: $0, at: 8))
                            : Int(LittleEndian.load(UInt32.self, from: $0, at: 8))
        }
        let headerStart = 8 + lengthSize
        guard headerLength <= bytes.count - headerStart else {
            throw invalid("header length is \(headerLength) bytes but only \(bytes.count - headerStart) bytes follow")
        }
        let headerBytes = [UInt8](bytes[headerStart..<(headerStart + headerLength)])
        let header: NPYHeader
        do {
            header = try NPYHeader.parse(headerBytes)
        } catch {
            throw NPZError(kind: error.unsupportedDType ? .unsupportedDType : .invalidNPY, file: source,
                           array: array, message: error.message)
        }

        let expected = try byteCount(shape: header.shape, dtype: header.dtype, file: source, array: array)
        let dataStart = headerStart + headerLength
        let available = bytes.count - dataStart
        if available < expected {
            throw NPZError(kind: .truncatedArray, file: source, array: array,
                           message: "array data holds \(available) bytes but shape \(describe(header.shape)) of "
                           + "\(header.descr) needs \(expected); the data is truncated")
        }
        if available > expected {
            throw NPZError(kind: .trailingData, file: source, array: array,
                           message: "\(available - expected) unexpected bytes follow the \(expected) bytes of "
                           + "shape \(describe(header.shape)) of \(header.descr)")
        }
        var elements = bytes.subdata(in: dataStart..<(dataStart + expected))
        let size = header.dtype.byteSize
        if header.bigEndian && size > 1 {
            elements.withUnsafeMutableBytes { raw in
                for start in stride(from: 0, to: raw.count, by: size) {
                    var low = start, high = start + size - 1
                    while low < high { raw.swapAt(low, high); low += 1; high -= 1 }
                }
            }
        }
        if header.fortranOrder && header.shape.count > 1 {
            elements = fortranToC(elements, shape: header.shape, elementSize: size)
        }
        return NPYArray(trustedShape: header.shape, dtype: header.dtype, data: elements)
    }

    /// Reorders column-major (Fortran) element bytes into row-major (C) order.
    static func fortranToC(_ source: Data, shape: [Int], elementSize size: Int) -> Data {
        let total = shape.reduce(1, *)
        guard total > 0 else { return source }
        var fortranStrides = [Int](repeating: 1, count: shape.count) // in elements
        for axis in 1..<shape.count { fortranStrides[axis] = fortranStrides[axis - 1] * shape[axis - 1] }
        var output = Data(count: source.count)
        source.withUnsafeBytes { from in
            output.withUnsafeMutableBytes { to in
                var counter = [Int](repeating: 0, count: shape.count)
                var fortranOffset = 0
                for position in 0..<total {
                    (to.baseAddress! + position * size)
                        .copyMemory(from: from.baseAddress! + fortranOffset * size, byteCount: size)
                    // Advance the row-major multi-index (last axis fastest), keeping the Fortran offset.
                    var axis = shape.count - 1
                    while axis >= 0 {
                        counter[axis] += 1
                        fortranOffset += fortranStrides[axis]
                        if counter[axis] < shape[axis] { break }
                        fortranOffset -= counter[axis] * fortranStrides[axis]
                        counter[axis] = 0
                        axis -= 1
                    }
                }
            }
        }
        return output
    }

    /// `product(shape) × dtype.byteSize`, checking for negative dimensions and overflow.
    static func byteCount(shape: [Int], dtype: DType, file: String, array: String?) throws -> Int {
        var total = dtype.byteSize
        for (axis, dimension) in shape.enumerated() {
            guard dimension >= 0 else {
                throw NPZError(kind: .invalidArgument, file: file, array: array,
                               message: "shape[\(axis)] is \(dimension); dimensions must be ≥ 0")
            }
            let (product, overflow) = total.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw NPZError(kind: .invalidNPY, file: file, array: array,
                               message: "shape \(describe(shape)) is too large to address")
            }
            total = product
        }
        return total
    }

    /// A shape as NumPy prints it: `(3, 4)`, `(5,)`, `()`.
    static func describe(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }
}

/// The parsed header dict of an NPY file.
struct NPYHeader {
    var dtype: NPYArray.DType
    var bigEndian: Bool
    var descr: String
    var fortranOrder: Bool
    var shape: [Int]

    /// Why a header did not parse; `unsupportedDType` marks a well-formed header with a dtype this reader
    /// does not handle.
    struct Failure: Error {
        var message: String
        var unsupportedDType = false
    }

    /// A value of the Python literal subset NPY headers use.
    private indirect enum Literal {
        case string(String)
        case bool(Bool)
        case none
        case integer(Int?) // nil: too large
        case sequence([Literal])

        var summary: String {
            switch self {
            case .string(let text): return "'\(text)'"
            case .bool(let value): return value ? "True" : "False"
            case .none: return "None"
            case .integer(let value): return value.map(String.init) ?? "a huge integer"
            case .sequence: return "a tuple or list"
            }
        }
    }

    /// Parses `{'descr': …, 'fortran_order': …, 'shape': (…)}` followed by whitespace.
    static func parse(_ bytes: [UInt8]) throws(Failure) -> NPYHeader {
        var scanner = Scanner(bytes: bytes)
        let entries = try scanner.parseDict()
        scanner.skipWhitespace()
        if scanner.position != bytes.count {
            throw Failure(message: "malformed NPY header: unexpected text after the dict at byte \(scanner.position)")
        }
        var values: [String: Literal] = [:]
        for (key, value) in entries {
            guard ["descr", "fortran_order", "shape"].contains(key) else {
                throw Failure(message: "malformed NPY header: unexpected key '\(key)' (expected descr, fortran_order, shape)")
            }
            if values[key] != nil { throw Failure(message: "malformed NPY header: key '\(key)' appears twice") }
            values[key] = value
        }
        for key in ["descr", "fortran_order", "shape"] where values[key] == nil {
            throw Failure(message: "malformed NPY header: no '\(key)' key")
        }

        guard case .bool(let fortranOrder) = values["fortran_order"]! else {
            throw Failure(message: "malformed NPY header: fortran_order is \(values["fortran_order"]!.summary), not True or False")
        }
        guard case .sequence(let dimensions) = values["shape"]! else {
            throw Failure(message: "malformed NPY header: shape is \(values["shape"]!.summary), not a tuple")
        }
        var shape: [Int] = []
        for dimension in dimensions {
            guard case .integer(let size?) = dimension, size >= 0 else {
                throw Failure(message: "malformed NPY header: shape holds \(dimension.summary), not a non-negative integer")
            }
            shape.append(size)
        }
        let descrValue = values["descr"]!
        guard case .string(let descr) = descrValue else {
            if case .sequence = descrValue {
                throw Failure(message: "structured dtypes (a list descr) are not supported", unsupportedDType: true)
            }
            throw Failure(message: "malformed NPY header: descr is \(descrValue.summary), not a string")
        }
        let (dtype, bigEndian) = try parseDescr(descr)
        return NPYHeader(dtype: dtype, bigEndian: bigEndian, descr: descr, fortranOrder: fortranOrder, shape: shape)
    }

    /// Splits a type string such as `<f8`, `>i4`, `|b1` or `=u2` into a dtype and whether it is big-endian.
    private static func parseDescr(_ descr: String) throws(Failure) -> (NPYArray.DType, Bool) {
        let characters = Array(descr)
        let supported = "supported: bool (b1), int8–int64 (i1–i8), uint8–uint64 (u1–u8), float16–float64 (f2–f8)"
        guard characters.count >= 3, "<>|=".contains(characters[0]), let size = Int(String(characters[2...])),
              let dtype = NPYArray.DType.from(kind: characters[1], size: size) else {
            throw Failure(message: "unsupported dtype '\(descr)' (\(supported))", unsupportedDType: true)
        }
        #if _endian(big)
        let bigEndian = characters[0] != "<"
        #else
        let bigEndian = characters[0] == ">"
        #endif
        return (dtype, bigEndian)
    }

    /// Byte scanner for the Python literal subset.
    private struct Scanner {
        let bytes: [UInt8]
        var position = 0

        mutating func skipWhitespace() {
            while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
        }

        func here() -> String {
            guard position < bytes.count else { return "the end of the header" }
            let byte = bytes[position]
            if byte >= 0x20 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))' at byte \(position)" }
            return "byte 0x\(String(byte, radix: 16, uppercase: true)) at byte \(position)"
        }

        func failure(_ expected: String) -> Failure {
            Failure(message: "malformed NPY header: expected \(expected) but found \(here())")
        }

        mutating func consume(_ byte: UInt8) -> Bool {
            if position < bytes.count, bytes[position] == byte { position += 1; return true }
            return false
        }

        mutating func parseDict() throws(Failure) -> [(String, Literal)] {
            skipWhitespace()
            guard consume(UInt8(ascii: "{")) else { throw failure("'{'") }
            var entries: [(String, Literal)] = []
            while true {
                skipWhitespace()
                if consume(UInt8(ascii: "}")) { return entries }
                guard case .string(let key) = try parseValue() else { throw failure("a string key") }
                skipWhitespace()
                guard consume(UInt8(ascii: ":")) else { throw failure("':'") }
                skipWhitespace()
                entries.append((key, try parseValue()))
                skipWhitespace()
                if consume(UInt8(ascii: ",")) { continue }
                guard consume(UInt8(ascii: "}")) else { throw failure("',' or '}'") }
                return entries
            }
        }

        mutating func parseValue() throws(Failure) -> Literal {
            guard position < bytes.count else { throw failure("a value") }
            let byte = bytes[position]
            switch byte {
            case UInt8(ascii: "'"), UInt8(ascii: "\""): return .string(try parseString(quote: byte))
            case UInt8(ascii: "("): return .sequence(try parseSequence(close: UInt8(ascii: ")")))
            case UInt8(ascii: "["): return .sequence(try parseSequence(close: UInt8(ascii: "]")))
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"):
                let start = position
                position += 1
                while position < bytes.count, bytes[position] >= 0x30 && bytes[position] <= 0x39 { position += 1 }
                let text = String(decoding: bytes[start..<position], as: UTF8.self)
                _ = consume(UInt8(ascii: "L")) // Python 2 long suffix
                if text == "-" { throw failure("a digit") }
                return .integer(Int(text))
            default:
                for (word, value) in [("True", Literal.bool(true)), ("False", .bool(false)), ("None", .none)] {
                    let utf8 = Array(word.utf8)
                    if position + utf8.count <= bytes.count, Array(bytes[position..<(position + utf8.count)]) == utf8 {
                        position += utf8.count
                        return value
                    }
                }
                throw failure("a value")
            }
        }

        mutating func parseString(quote: UInt8) throws(Failure) -> String {
            position += 1
            var output: [UInt8] = []
            while true {
                guard position < bytes.count else { throw Failure(message: "malformed NPY header: unterminated string") }
                let byte = bytes[position]
                position += 1
                if byte == quote { return String(decoding: output, as: UTF8.self) }
                if byte == UInt8(ascii: "\\") {
                    guard position < bytes.count else { throw Failure(message: "malformed NPY header: unterminated string") }
                    output.append(bytes[position])
                    position += 1
                } else {
                    output.append(byte)
                }
            }
        }

        mutating func parseSequence(close: UInt8) throws(Failure) -> [Literal] {
            position += 1
            var elements: [Literal] = []
            while true {
                skipWhitespace()
                if consume(close) { return elements }
                elements.append(try parseValue())
                skipWhitespace()
                if consume(UInt8(ascii: ",")) { continue }
                guard consume(close) else { throw failure("',' or '\(Character(Unicode.Scalar(close)))'") }
                return elements
            }
        }
    }
}
