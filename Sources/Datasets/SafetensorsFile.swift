// Reading and writing safetensors files (the Hugging Face tensor file format).

import Foundation

/// Element type of a safetensors tensor, spelled as in the file's header (`"F32"`, `"BF16"`, …).
///
/// Cases are declared in the order the reference implementation ranks dtypes (increasing alignment); the
/// writer uses that order. Sub-byte types of the format (`F4`, `F6_E2M3`, `F6_E3M2`) are not supported.
/// All multi-byte types are stored little-endian.
public enum SafetensorsDType: String, Sendable, Hashable, CaseIterable {
    /// Boolean, 1 byte (0 or 1).
    case bool = "BOOL"
    /// Unsigned 8-bit integer.
    case uint8 = "U8"
    /// Signed 8-bit integer.
    case int8 = "I8"
    /// 8-bit float, 5 exponent and 2 mantissa bits.
    case float8E5M2 = "F8_E5M2"
    /// 8-bit float, 4 exponent and 3 mantissa bits.
    case float8E4M3 = "F8_E4M3"
    /// 8-bit power-of-two scale (exponent only).
    case float8E8M0 = "F8_E8M0"
    /// 8-bit float E4M3, finite with unsigned zero (FNUZ).
    case float8E4M3FNUZ = "F8_E4M3FNUZ"
    /// 8-bit float E5M2, finite with unsigned zero (FNUZ).
    case float8E5M2FNUZ = "F8_E5M2FNUZ"
    /// Signed 16-bit integer.
    case int16 = "I16"
    /// Unsigned 16-bit integer.
    case uint16 = "U16"
    /// IEEE 754 half precision (binary16).
    case float16 = "F16"
    /// bfloat16: the upper 16 bits of an IEEE 754 binary32.
    case bfloat16 = "BF16"
    /// Signed 32-bit integer.
    case int32 = "I32"
    /// Unsigned 32-bit integer.
    case uint32 = "U32"
    /// IEEE 754 single precision (`Float`).
    case float32 = "F32"
    /// Complex number of two binary32 parts (real, imaginary), 8 bytes.
    case complex64 = "C64"
    /// IEEE 754 double precision (`Double`).
    case float64 = "F64"
    /// Signed 64-bit integer.
    case int64 = "I64"
    /// Unsigned 64-bit integer.
    case uint64 = "U64"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .bool, .uint8, .int8, .float8E5M2, .float8E4M3, .float8E8M0, .float8E4M3FNUZ, .float8E5M2FNUZ: return 1
        case .int16, .uint16, .float16, .bfloat16: return 2
        case .int32, .uint32, .float32: return 4
        case .complex64, .float64, .int64, .uint64: return 8
        }
    }

    /// Rank used to order tensors when writing (higher first), as the reference implementation does.
    var writeRank: Int { Self.allCases.firstIndex(of: self)! }

    /// dtype names of the format that this type does not support (sub-byte floats).
    static let unsupportedNames: Set<String> = ["F4", "F6_E2M3", "F6_E3M2"]
}

/// A safetensors file: named tensors with dtype and shape, plus string metadata.
///
/// Format (all integers little-endian):
/// 1. 8 bytes: `N`, the header length in bytes, as an unsigned 64-bit integer;
/// 2. `N` bytes: a UTF-8 JSON object mapping each tensor name to
///    `{"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}`, plus an optional `"__metadata__"`
///    object of string → string; the writer pads it with spaces so that `N` is a multiple of 8;
/// 3. the data section: each tensor's elements in row-major (C) order, little-endian, at bytes
///    `begin..<end` counted from the start of the data section. Tensors are contiguous: sorted by offset,
///    each begins where the previous one ends, the first at 0, the last ends at the end of the file.
///
/// `read(url:)` loads the whole file and validates all of this; every problem is a `SafetensorsError`
/// naming the file (and the tensor). Units of tensor values are whatever the producer used; this type only
/// moves bytes.
public struct SafetensorsFile: Sendable {
    /// Where one tensor is and what it holds.
    public struct TensorInfo: Sendable, Hashable {
        /// The tensor's name (its key in the header).
        public let name: String
        /// Element type.
        public let dtype: SafetensorsDType
        /// Dimensions, outermost first (row-major); `[]` is a scalar (one element).
        public let shape: [Int]
        /// Byte range of the tensor's data, relative to the start of the data section.
        public let dataOffsets: Range<Int>
        /// Number of elements: the product of `shape` (1 for a scalar).
        public var elementCount: Int { shape.reduce(1, *) }
        /// Number of bytes: `elementCount × dtype.byteSize`, equal to `dataOffsets.count`.
        public var byteCount: Int { dataOffsets.count }
    }

    /// Path of the file the tensors were read from (`<memory>` for `decode` without a source).
    public let source: String
    /// The `__metadata__` object of the header (empty when the header has none).
    public let metadata: [String: String]
    /// Every tensor, in the order of their data offsets.
    public let tensors: [TensorInfo]
    /// Tensor names in the order of their data offsets.
    public var tensorNames: [String] { tensors.map(\.name) }
    /// Header length `N` as stored in the first 8 bytes (including padding).
    public let headerLength: Int

    private let bytes: Data
    private let dataStart: Int
    private let index: [String: Int]

    /// The largest header this reader accepts, as in the reference implementation (100 MB).
    public static let maximumHeaderLength = 100_000_000

    // MARK: - Reading

    /// Reads and validates a safetensors file.
    ///
    /// - Parameter url: file URL of the `.safetensors` file.
    /// - Returns: the parsed file; tensor data stays in memory and is converted on access.
    /// - Throws: `SafetensorsError` naming the file: `.fileNotFound`, `.io`, `.fileTooShort`,
    ///   `.headerLengthOutOfRange`, `.invalidHeader`, `.missingDType`, `.unknownDType`, `.invalidShape`,
    ///   `.offsetsOutOfRange`, `.sizeMismatch`, `.overlappingTensors`, `.misplacedTensor`,
    ///   `.truncatedData`, `.trailingData`.
    public static func read(url: URL) throws -> SafetensorsFile {
        let path = url.path
        let bytes: Data
        do {
            bytes = try WholeFile.read(url)
        } catch {
            switch error {
            case .notFound: throw SafetensorsError(kind: .fileNotFound, file: path, message: "file not found")
            case .io(let text): throw SafetensorsError(kind: .io, file: path, message: text)
            }
        }
        return try decode(bytes, source: path)
    }

    /// Parses and validates the bytes of a whole safetensors file (as `read(url:)` does).
    /// - Parameters:
    ///   - bytes: the file's contents.
    ///   - source: name used in errors and stored in `source`.
    /// - Throws: `SafetensorsError` as `read(url:)`.
    public static func decode(_ bytes: Data, source: String = "<memory>") throws -> SafetensorsFile {
        let bytes = bytes.startIndex == 0 ? bytes : Data(bytes)
        let file = source
        func fail(_ kind: SafetensorsError.Kind, _ tensor: String? = nil, _ message: String) -> SafetensorsError {
            SafetensorsError(kind: kind, file: file, tensor: tensor, message: message)
        }

        guard bytes.count >= 8 else {
            throw fail(.fileTooShort, nil, "file is \(bytes.count) bytes long; a safetensors file starts with "
                       + "an 8-byte little-endian header length")
        }
        let declared = bytes.withUnsafeBytes { LittleEndian.load(UInt64.self, from: $0, at: 0) }
        let available = bytes.count - 8
        if declared > UInt64(maximumHeaderLength) {
            throw fail(.headerLengthOutOfRange, nil, "header length \(declared) exceeds the limit of "
                       + "\(maximumHeaderLength) bytes (the file holds \(available) bytes after the length field)")
        }
        let headerLength = Int(declared)
        if headerLength > available {
            throw fail(.headerLengthOutOfRange, nil, "header length is \(headerLength) bytes but only "
                       + "\(available) bytes follow the 8-byte length field")
        }
        let headerBytes = [UInt8](bytes[8..<(8 + headerLength)])
        if let bad = firstInvalidUTF8(headerBytes) {
            throw fail(.invalidHeader, nil, "header is not valid UTF-8 (byte \(bad) of the header)")
        }
        let json: JSONValue
        do {
            json = try JSONParser.parse(headerBytes)
        } catch {
            throw fail(.invalidHeader, nil, "header is not valid JSON: \(error.message) at byte \(error.offset) "
                       + "of the header")
        }
        guard case .object(let members) = json else {
            throw fail(.invalidHeader, nil, "header is \(json.kindDescription), not a JSON object")
        }

        var metadata: [String: String] = [:]
        var tensors: [TensorInfo] = []
        var seen = Set<String>()
        for (key, value) in members {
            if !seen.insert(key).inserted {
                throw fail(.invalidHeader, key == "__metadata__" ? nil : key, "header has the key '\(key)' twice")
            }
            if key == "__metadata__" {
                metadata = try parseMetadata(value, fail: fail)
            } else {
                tensors.append(try parseTensor(name: key, value, fail: fail))
            }
        }

        // Layout: contiguous from 0 in offset order, no overlaps, covering the data section exactly.
        tensors.sort {
            if $0.dataOffsets != $1.dataOffsets {
                return ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound)
                    < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound)
            }
            return $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) // empty tensors at one offset
        }
        var end = 0
        var previous: TensorInfo? = nil
        for tensor in tensors {
            let range = tensor.dataOffsets
            if range.lowerBound < end {
                if !range.isEmpty, let previous {
                    throw fail(.overlappingTensors, tensor.name, "data_offsets [\(range.lowerBound), "
                               + "\(range.upperBound)] overlap tensor '\(previous.name)' at [\(previous.dataOffsets.lowerBound), "
                               + "\(previous.dataOffsets.upperBound)]")
                }
                throw fail(.misplacedTensor, tensor.name, "empty tensor at byte \(range.lowerBound) lies inside "
                           + "the data of tensor '\(previous?.name ?? "?")', which ends at byte \(end)")
            }
            if range.lowerBound > end {
                let after = previous.map { "the previous tensor '\($0.name)' ends at byte \(end)" }
                    ?? "the data section starts at byte 0"
                throw fail(.misplacedTensor, tensor.name, "data begins at byte \(range.lowerBound) of the data "
                           + "section but \(after); tensors must be contiguous (a gap of "
                           + "\(range.lowerBound - end) bytes)")
            }
            end = range.upperBound
            previous = tensor
        }
        let dataLength = available - headerLength
        if dataLength < end {
            let first = tensors.first { $0.dataOffsets.upperBound > dataLength }!
            throw fail(.truncatedData, first.name, "data section holds \(dataLength) bytes but the tensors need "
                       + "\(end) (this tensor needs bytes \(first.dataOffsets.lowerBound)..<"
                       + "\(first.dataOffsets.upperBound)); the file is truncated")
        }
        if dataLength > end {
            throw fail(.trailingData, nil, "data section holds \(dataLength) bytes but the tensors end at byte "
                       + "\(end); \(dataLength - end) unexpected bytes follow the last tensor")
        }

        var index: [String: Int] = [:]
        for (position, tensor) in tensors.enumerated() { index[tensor.name] = position }
        return SafetensorsFile(source: source, metadata: metadata, tensors: tensors, headerLength: headerLength,
                               bytes: bytes, dataStart: 8 + headerLength, index: index)
    }

    private init(source: String, metadata: [String: String], tensors: [TensorInfo], headerLength: Int,
                 bytes: Data, dataStart: Int, index: [String: Int]) {
        self.source = source; self.metadata = metadata; self.tensors = tensors; self.headerLength = headerLength
        self.bytes = bytes; self.dataStart = dataStart; self.index = index
    }

    /// Byte offset of the first invalid UTF-8 sequence in `bytes`, or nil when all of it is valid.
    private static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): offset += UTF8.width(scalar)
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    private static func parseMetadata(
        _ value: JSONValue, fail: (SafetensorsError.Kind, String?, String) -> SafetensorsError
    ) throws -> [String: String] {
        guard case .object(let members) = value else {
            throw fail(.invalidHeader, nil, "__metadata__ is \(value.kindDescription), not an object of strings")
        }
        var metadata: [String: String] = [:]
        for (key, entry) in members {
            guard case .string(let text) = entry else {
                throw fail(.invalidHeader, nil, "__metadata__ value of '\(key)' is \(entry.kindDescription), "
                           + "not a string")
            }
            if metadata[key] != nil {
                throw fail(.invalidHeader, nil, "__metadata__ has the key '\(key)' twice")
            }
            metadata[key] = text
        }
        return metadata
    }

    private static func parseTensor(
        name: String, _ value: JSONValue, fail: (SafetensorsError.Kind, String?, String) -> SafetensorsError
    ) throws -> TensorInfo {
        guard case .object(let fields) = value else {
            throw fail(.invalidHeader, name, "header entry is \(value.kindDescription), not an object with "
                       + "dtype, shape and data_offsets")
        }
        func field(_ key: String) -> JSONValue? { fields.last { $0.key == key }?.value }

        guard let dtypeValue = field("dtype") else { throw fail(.missingDType, name, "header entry has no dtype") }
        guard case .string(let dtypeName) = dtypeValue else {
            throw fail(.unknownDType, name, "dtype is \(dtypeValue.kindDescription), not a string")
        }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
            if SafetensorsDType.unsupportedNames.contains(dtypeName) {
                throw fail(.unknownDType, name, "sub-byte dtype '\(dtypeName)' is not supported")
            }
            let known = SafetensorsDType.allCases.map(\.rawValue).joined(separator: ", ")
            throw fail(.unknownDType, name, "unknown dtype '\(dtypeName)' (known: \(known))")
        }

        guard let shapeValue = field("shape") else { throw fail(.invalidShape, name, "header entry has no shape") }
        guard case .array(let dimensions) = shapeValue else {
            throw fail(.invalidShape, name, "shape is \(shapeValue.kindDescription), not an array of integers")
        }
        var shape: [Int] = []
        var elements = 1
        var overflow = false
        for (axis, dimension) in dimensions.enumerated() {
            guard let size = dimension.nonNegativeInteger else {
                throw fail(.invalidShape, name, "shape[\(axis)] is \(dimension.kindDescription), not a "
                           + "non-negative integer")
            }
            shape.append(size)
            let (product, overflowed) = elements.multipliedReportingOverflow(by: size)
            overflow = overflow || overflowed
            elements = product
        }
        let (byteCount, bytesOverflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        if overflow || bytesOverflow {
            throw fail(.invalidShape, name, "shape \(shape) of \(dtype.rawValue) is too large to address")
        }

        guard let offsetsValue = field("data_offsets") else {
            throw fail(.offsetsOutOfRange, name, "header entry has no data_offsets")
        }
        guard case .array(let offsets) = offsetsValue, offsets.count == 2 else {
            throw fail(.offsetsOutOfRange, name, "data_offsets is \(offsetsValue.kindDescription)"
                       + (offsetsValue.arrayCount.map { " of \($0) values" } ?? "")
                       + ", not [begin, end]")
        }
        guard let begin = offsets[0].nonNegativeInteger, let end = offsets[1].nonNegativeInteger else {
            let bad = offsets[0].nonNegativeInteger == nil ? offsets[0] : offsets[1]
            throw fail(.offsetsOutOfRange, name, "data_offsets hold \(bad.kindDescription); offsets are "
                       + "non-negative integers that fit in \(Int.bitWidth) bits")
        }
        guard begin <= end else {
            throw fail(.offsetsOutOfRange, name, "data_offsets [\(begin), \(end)] end before they begin")
        }
        if end - begin != byteCount {
            throw fail(.sizeMismatch, name, "shape \(shape) of \(dtype.rawValue) needs \(byteCount) bytes but "
                       + "data_offsets [\(begin), \(end)] span \(end - begin)")
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }

    // MARK: - Access

    /// Whether a tensor called `name` exists.
    public func contains(_ name: String) -> Bool { index[name] != nil }

    /// The dtype, shape and offsets of the tensor called `name`.
    /// - Throws: `SafetensorsError.Kind.tensorNotFound`, listing tensors with similar names.
    public func info(_ name: String) throws -> TensorInfo {
        guard let position = index[name] else {
            throw SafetensorsError(kind: .tensorNotFound, file: source, tensor: name,
                                   message: "no such tensor" + LogError.suggestionSuffix(for: name, in: tensorNames))
        }
        return tensors[position]
    }

    /// Dimensions of the tensor called `name`, outermost first.
    /// - Throws: `SafetensorsError.Kind.tensorNotFound`.
    public func shape(_ name: String) throws -> [Int] { try info(name).shape }

    /// Element type of the tensor called `name`.
    /// - Throws: `SafetensorsError.Kind.tensorNotFound`.
    public func dtype(_ name: String) throws -> SafetensorsDType { try info(name).dtype }

    /// The raw bytes of the tensor called `name`: elements in row-major order, little-endian.
    /// - Throws: `SafetensorsError.Kind.tensorNotFound`.
    public func data(_ name: String) throws -> Data {
        let tensor = try info(name)
        return bytes.subdata(in: (dataStart + tensor.dataOffsets.lowerBound)..<(dataStart + tensor.dataOffsets.upperBound))
    }

    /// The elements of the tensor called `name` as `Float`s, row-major.
    ///
    /// `F32` is returned bit for bit; `F16` and `BF16` are widened exactly.
    /// - Throws: `.tensorNotFound`; `.dtypeMismatch` for any other dtype (use `doubles(_:)` for `F64` and
    ///   integer types).
    public func floats(_ name: String) throws -> [Float] {
        let tensor = try info(name)
        let offset = dataStart + tensor.dataOffsets.lowerBound
        let count = tensor.elementCount
        switch tensor.dtype {
        case .float32:
            return bytes.withUnsafeBytes { LittleEndian.elements(Float.self, from: $0, offset: offset, count: count) }
        case .float16:
            return bytes.withUnsafeBytes {
                LittleEndian.elements(UInt16.self, from: $0, offset: offset, count: count)
            }.map(HalfPrecision.float(fromBinary16:))
        case .bfloat16:
            return bytes.withUnsafeBytes {
                LittleEndian.elements(UInt16.self, from: $0, offset: offset, count: count)
            }.map(HalfPrecision.float(fromBFloat16:))
        default:
            throw SafetensorsError(kind: .dtypeMismatch, file: source, tensor: name,
                                   message: "dtype \(tensor.dtype.rawValue) cannot be read as Float exactly; "
                                   + "floats() reads F32, F16 and BF16" + (tensor.dtype == .complex64 ? "" : ", use doubles()"))
        }
    }

    /// The elements of the tensor called `name` as `Double`s, row-major.
    ///
    /// `F64` is returned bit for bit; `F32`, `F16`, `BF16`, `BOOL` (0/1) and the 8-, 16- and 32-bit integer
    /// types are converted exactly; `I64` and `U64` are converted when every value has magnitude ≤ 2⁵³.
    /// - Throws: `.tensorNotFound`; `.dtypeMismatch` for the 8-bit float types and `C64`, or a 64-bit
    ///   integer that a `Double` cannot hold exactly (naming its index).
    public func doubles(_ name: String) throws -> [Double] {
        let tensor = try info(name)
        let offset = dataStart + tensor.dataOffsets.lowerBound
        let count = tensor.elementCount
        func load<T>(_ type: T.Type) -> [T] {
            bytes.withUnsafeBytes { LittleEndian.elements(T.self, from: $0, offset: offset, count: count) }
        }
        func exact<T: BinaryInteger>(_ values: [T]) throws -> [Double] {
            var result = [Double]()
            result.reserveCapacity(values.count)
            for (position, value) in values.enumerated() {
                guard value.magnitude <= 1 << 53 else {
                    throw SafetensorsError(kind: .dtypeMismatch, file: source, tensor: name,
                                           message: "element \(position) (\(value)) of dtype \(tensor.dtype.rawValue) "
                                           + "is not exactly representable as a Double")
                }
                result.append(Double(value))
            }
            return result
        }
        switch tensor.dtype {
        case .float64: return load(Double.self)
        case .float32: return load(Float.self).map(Double.init)
        case .float16, .bfloat16: return try floats(name).map(Double.init)
        case .bool: return load(UInt8.self).map { $0 == 0 ? 0 : 1 }
        case .uint8: return load(UInt8.self).map(Double.init)
        case .int8: return load(Int8.self).map(Double.init)
        case .int16: return load(Int16.self).map(Double.init)
        case .uint16: return load(UInt16.self).map(Double.init)
        case .int32: return load(Int32.self).map(Double.init)
        case .uint32: return load(UInt32.self).map(Double.init)
        case .int64: return try exact(load(Int64.self))
        case .uint64: return try exact(load(UInt64.self))
        case .float8E5M2, .float8E4M3, .float8E8M0, .float8E4M3FNUZ, .float8E5M2FNUZ, .complex64:
            throw SafetensorsError(kind: .dtypeMismatch, file: source, tensor: name,
                                   message: "dtype \(tensor.dtype.rawValue) cannot be read as Double; use data()")
        }
    }

    // MARK: - Writing

    /// Writes tensors and metadata to `url` as a safetensors file, atomically.
    ///
    /// Layout follows the reference implementation: tensors are ordered by dtype (larger alignment first, in
    /// the reverse order of `SafetensorsDType.allCases`), then by name (byte-wise UTF-8 order), and stored
    /// contiguously in that order; the header is compact JSON (`__metadata__` first, keys sorted, omitted
    /// when `metadata` is empty; then each tensor's `dtype`, `shape`, `data_offsets`) padded with spaces
    /// to a multiple of 8 bytes. The bytes go to a temporary file in the destination's directory that is
    /// synced and renamed over `url`, so `url` is never left half-written.
    ///
    /// - Parameters:
    ///   - tensors: each tensor's name (unique, not empty, not `__metadata__`), dtype, shape (non-negative
    ///     dimensions, `[]` for a scalar) and raw little-endian row-major bytes (exactly
    ///     `product(shape) × dtype.byteSize` of them).
    ///   - metadata: string pairs stored under `__metadata__`.
    ///   - url: destination file URL; its directory must exist and be writable.
    /// - Throws: `SafetensorsError.Kind.invalidArgument` for inconsistent tensors, `.io` for system errors.
    public static func write(tensors: [(name: String, dtype: SafetensorsDType, shape: [Int], data: Data)],
                             metadata: [String: String] = [:], to url: URL) throws {
        let file = url.standardizedFileURL.path
        let (header, order) = try prepare(tensors: tensors, metadata: metadata, file: file)
        do {
            try AtomicFile.write(to: url) { append in
                try append(Data(header))
                for position in order { try append(tensors[position].data) }
            }
        } catch let failure as AtomicFile.Failure {
            throw SafetensorsError(kind: .io, file: file, message: failure.message)
        }
    }

    /// The complete bytes of the safetensors file that `write(tensors:metadata:to:)` would write.
    /// - Throws: `SafetensorsError.Kind.invalidArgument` (file `<memory>`).
    public static func encode(tensors: [(name: String, dtype: SafetensorsDType, shape: [Int], data: Data)],
                              metadata: [String: String] = [:]) throws -> Data {
        let (header, order) = try prepare(tensors: tensors, metadata: metadata, file: "<memory>")
        var output = Data(header)
        for position in order { output.append(tensors[position].data) }
        return output
    }

    /// Writes `Float` tensors (dtype `F32`) atomically; see `write(tensors:metadata:to:)`.
    /// - Parameter tensors: each tensor's name, shape and values in row-major order
    ///   (`values.count == product(shape)`).
    /// - Throws: `SafetensorsError.Kind.invalidArgument`, `.io`.
    public static func write(floats tensors: [(name: String, shape: [Int], values: [Float])],
                             metadata: [String: String] = [:], to url: URL) throws {
        try write(tensors: tensors.map { ($0.name, .float32, $0.shape, LittleEndian.bytes(of: $0.values)) },
                  metadata: metadata, to: url)
    }

    /// Writes `Double` tensors (dtype `F64`) atomically; see `write(tensors:metadata:to:)`.
    /// - Parameter tensors: each tensor's name, shape and values in row-major order
    ///   (`values.count == product(shape)`).
    /// - Throws: `SafetensorsError.Kind.invalidArgument`, `.io`.
    public static func write(doubles tensors: [(name: String, shape: [Int], values: [Double])],
                             metadata: [String: String] = [:], to url: URL) throws {
        try write(tensors: tensors.map { ($0.name, .float64, $0.shape, LittleEndian.bytes(of: $0.values)) },
                  metadata: metadata, to: url)
    }

    /// Validates the tensors and builds the 8-byte length plus padded header; returns it and the order in
    /// which the tensors' data follow.
    private static func prepare(tensors: [(name: String, dtype: SafetensorsDType, shape: [Int], data: Data)],
                                metadata: [String: String], file: String) throws -> (header: [UInt8], order: [Int]) {
        func invalid(_ tensor: String?, _ message: String) -> SafetensorsError {
            SafetensorsError(kind: .invalidArgument, file: file, tensor: tensor, message: message)
        }
        var seen = Set<String>()
        for tensor in tensors {
            if tensor.name.isEmpty { throw invalid(tensor.name, "tensor names may not be empty") }
            if tensor.name == "__metadata__" { throw invalid(tensor.name, "the name is reserved for metadata") }
            if !seen.insert(tensor.name).inserted { throw invalid(tensor.name, "two tensors have this name") }
            var elements = 1
            for (axis, dimension) in tensor.shape.enumerated() {
                if dimension < 0 { throw invalid(tensor.name, "shape[\(axis)] is \(dimension); dimensions must be ≥ 0") }
                let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
                if overflow { throw invalid(tensor.name, "shape \(tensor.shape) is too large") }
                elements = product
            }
            let (needed, overflow) = elements.multipliedReportingOverflow(by: tensor.dtype.byteSize)
            if overflow || needed != tensor.data.count {
                throw invalid(tensor.name, "shape \(tensor.shape) of \(tensor.dtype.rawValue) needs "
                              + "\(overflow ? "too many" : String(needed)) bytes but \(tensor.data.count) were given")
            }
        }

        let order = tensors.indices.sorted { a, b in
            let left = tensors[a], right = tensors[b]
            if left.dtype != right.dtype { return left.dtype.writeRank > right.dtype.writeRank }
            return left.name.utf8.lexicographicallyPrecedes(right.name.utf8)
        }

        var json: [UInt8] = [UInt8(ascii: "{")]
        var first = true
        if !metadata.isEmpty {
            JSONOutput.appendString("__metadata__", to: &json)
            json.append(contentsOf: [UInt8(ascii: ":"), UInt8(ascii: "{")])
            let keys = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for (position, key) in keys.enumerated() {
                if position > 0 { json.append(UInt8(ascii: ",")) }
                JSONOutput.appendString(key, to: &json)
                json.append(UInt8(ascii: ":"))
                JSONOutput.appendString(metadata[key]!, to: &json)
            }
            json.append(UInt8(ascii: "}"))
            first = false
        }
        var offset = 0
        for position in order {
            let tensor = tensors[position]
            if !first { json.append(UInt8(ascii: ",")) }
            first = false
            JSONOutput.appendString(tensor.name, to: &json)
            json.append(contentsOf: Array(":{\"dtype\":".utf8))
            JSONOutput.appendString(tensor.dtype.rawValue, to: &json)
            json.append(contentsOf: Array(",\"shape\":[".utf8))
            for (axis, dimension) in tensor.shape.enumerated() {
                if axis > 0 { json.append(UInt8(ascii: ",")) }
                JSONOutput.appendInteger(dimension, to: &json)
            }
            json.append(contentsOf: Array("],\"data_offsets\":[".utf8))
            JSONOutput.appendInteger(offset, to: &json)
            json.append(UInt8(ascii: ","))
            offset += tensor.data.count
            JSONOutput.appendInteger(offset, to: &json)
            json.append(contentsOf: [UInt8(ascii: "]"), UInt8(ascii: "}")])
        }
        json.append(UInt8(ascii: "}"))
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        if json.count > maximumHeaderLength {
            throw invalid(nil, "the header would be \(json.count) bytes, above the limit of \(maximumHeaderLength)")
        }

        var header: [UInt8] = []
        header.reserveCapacity(8 + json.count)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { header.append(contentsOf: $0) }
        header.append(contentsOf: json)
        return (header, order)
    }
}

extension JSONValue {
    /// Element count when the value is an array.
    fileprivate var arrayCount: Int? {
        if case .array(let elements) = self { return elements.count }
        return nil
    }
}
