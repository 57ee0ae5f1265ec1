// Reading and writing safetensors files (the Hugging Face tensor file format) of floating-point tensors.

import Foundation

/// Element type of a safetensors tensor, spelled as in the file's header. These are the floating-point types
/// PyTorch models are saved in; the format's integer, boolean, complex and 8-bit float types are refused with
/// an error naming the tensor and its dtype. All are stored little-endian.
public enum SafetensorsDType: String, Sendable, Hashable, CaseIterable {
    /// IEEE 754 half precision (binary16).
    case float16 = "F16"
    /// bfloat16: the upper 16 bits of an IEEE 754 binary32.
    case bfloat16 = "BF16"
    /// IEEE 754 single precision (`Float`).
    case float32 = "F32"
    /// IEEE 754 double precision (`Double`).
    case float64 = "F64"

    /// Bytes per element.
    public var byteSize: Int { self == .float64 ? 8 : self == .float32 ? 4 : 2 }

    /// The reference writer puts tensors of a higher rank first (the order of `allCases`, reversed).
    var writeRank: Int { Self.allCases.firstIndex(of: self)! }

    /// The format's other dtypes, which this module does not read.
    static let otherNames: Set<String> = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ",
                                          "F8_E5M2FNUZ", "I16", "U16", "I32", "U32", "C64", "I64", "U64", "F4",
                                          "F6_E2M3", "F6_E3M2"]
}

/// A safetensors file: named tensors with dtype and shape, plus string metadata.
///
/// Format (all integers little-endian):
/// 1. 8 bytes: `N`, the header length in bytes, as an unsigned 64-bit integer;
/// 2. `N` bytes: a UTF-8 JSON object mapping each tensor name to
///    `{"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}`, plus an optional `"__metadata__"`
///    object of string → string; the writer pads it with spaces so that `N` is a multiple of 8;
/// 3. the data section: each tensor's elements in row-major (C) order at bytes `begin..<end` counted from the
///    start of the data section. Tensors are contiguous: sorted by offset, each begins where the previous one
///    ends, the first at 0, the last at the end of the file.
///
/// `read(url:)` loads the whole file and validates all of this; every problem is a `DataFormatError` naming
/// the file (and the tensor). The header is parsed with Foundation's `JSONSerialization`: offsets and
/// dimensions must be JSON integers (read exactly as 64-bit integers; `4.0`, `-1` or `1e20` are refused),
/// and a trailing comma or a tensor named twice, which it would let through, are refused too. Tensor values
/// are in whatever units the producer used; this type only moves bytes.
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

    /// Reads and validates a safetensors file; tensor data stays in memory and is converted on access.
    /// - Throws: `DataFormatError` naming the file (and the tensor): `.fileNotFound`, `.io`, `.fileTooShort`,
    ///   `.headerLengthOutOfRange`, `.invalidHeader`, `.missingDType`, `.unknownDType`, `.invalidShape`,
    ///   `.offsetsOutOfRange`, `.sizeMismatch`, `.overlappingTensors`, `.misplacedTensor`, `.truncatedData`,
    ///   `.trailingData`.
    public static func read(url: URL) throws -> SafetensorsFile {
        try decode(readWholeFile(url), source: url.path)
    }

    /// Parses and validates the bytes of a whole safetensors file (as `read(url:)` does); `source` names it
    /// in errors and in `source`.
    public static func decode(_ bytes: Data, source: String = "<memory>") throws -> SafetensorsFile {
        let bytes = bytes.startIndex == 0 ? bytes : Data(bytes)
        func fail(_ kind: DataFormatError.Kind, tensor: String? = nil, _ message: String) -> DataFormatError {
            DataFormatError(kind: kind, file: source, tensor: tensor, message: message)
        }
        guard bytes.count >= 8 else {
            throw fail(.fileTooShort, "file is \(bytes.count) bytes long; a safetensors file starts with an 8-byte "
                       + "little-endian header length")
        }
        let declared = bytes.withUnsafeBytes { LittleEndian.load(UInt64.self, from: $0, at: 0) }
        let available = bytes.count - 8
        if declared > UInt64(maximumHeaderLength) {
            throw fail(.headerLengthOutOfRange, "header length \(declared) exceeds the limit of \(maximumHeaderLength)"
                       + " bytes (the file holds \(available) bytes after the length field)")
        }
        let headerLength = Int(declared)
        if headerLength > available {
            throw fail(.headerLengthOutOfRange, "header length is \(headerLength) bytes but only \(available) bytes "
                       + "follow the 8-byte length field")
        }
        let headerBytes = [UInt8](bytes[8..<(8 + headerLength)])
        var utf8 = headerBytes.makeIterator(), decoder = UTF8(), offset = 0
        decoding: while true {
            switch decoder.decode(&utf8) {
            case .scalarValue(let scalar): offset += UTF8.width(scalar)
            case .emptyInput: break decoding
            case .error: throw fail(.invalidHeader, "header is not valid UTF-8 (byte \(offset) of the header)")
            }
        }
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: Data(headerBytes), options: .fragmentsAllowed) } catch {
            throw fail(.invalidHeader, "header is not valid JSON: "
                       + ((error as NSError).userInfo["NSDebugDescription"] as? String ?? "\(error)"))
        }
        guard let members = json as? [String: Any] else {
            throw fail(.invalidHeader, "header is \(describe(json)), not a JSON object")
        }
        if let (problem, key) = strictnessProblem(headerBytes) { throw fail(.invalidHeader, tensor: key, problem) }

        var metadata: [String: String] = [:]
        var tensors: [TensorInfo] = []
        for key in members.keys.sorted() {
            if key == "__metadata__" {
                guard let entries = members[key] as? [String: Any] else {
                    throw fail(.invalidHeader, "__metadata__ is \(describe(members[key]!)), not an object of strings")
                }
                for (name, entry) in entries.sorted(by: { $0.key < $1.key }) {
                    guard let text = entry as? String else {
                        throw fail(.invalidHeader, "__metadata__ value of '\(name)' is \(describe(entry)), not a string")
                    }
                    metadata[name] = text
                }
            } else {
                tensors.append(try parseTensor(name: key, members[key]!) { fail($0, tensor: key, $1) })
            }
        }

        // Layout: contiguous from 0 in offset order, no overlaps, covering the data section exactly.
        tensors.sort {
            ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound)
                || ($0.dataOffsets == $1.dataOffsets && $0.name.utf8.lexicographicallyPrecedes($1.name.utf8))
        }
        var end = 0
        var previous: TensorInfo? = nil
        for tensor in tensors {
            let range = tensor.dataOffsets
            if range.lowerBound < end, !range.isEmpty, let previous {
                throw fail(.overlappingTensors, tensor: tensor.name, "data_offsets [\(range.lowerBound), \(range.upperBound)] "
                           + "overlap tensor '\(previous.name)' at [\(previous.dataOffsets.lowerBound), \(end)]")
            }
            if range.lowerBound < end {
                throw fail(.misplacedTensor, tensor: tensor.name, "empty tensor at byte \(range.lowerBound) lies inside "
                           + "the data of tensor '\(previous?.name ?? "?")', which ends at byte \(end)")
            }
            if range.lowerBound > end {
                let after = previous.map { "the previous tensor '\($0.name)' ends at byte \(end)" }
                    ?? "the data section starts at byte 0"
                throw fail(.misplacedTensor, tensor: tensor.name, "data begins at byte \(range.lowerBound) of the data section "
                           + "but \(after); tensors must be contiguous (a gap of \(range.lowerBound - end) bytes)")
            }
            end = range.upperBound
            previous = tensor
        }
        let dataLength = available - headerLength
        if let first = tensors.first(where: { $0.dataOffsets.upperBound > dataLength }) {
            throw fail(.truncatedData, tensor: first.name, "data section holds \(dataLength) bytes but the tensors need \(end) "
                       + "(this tensor needs bytes \(first.dataOffsets.lowerBound)..<\(first.dataOffsets.upperBound)); "
                       + "the file is truncated")
        }
        if dataLength > end {
            throw fail(.trailingData, "data section holds \(dataLength) bytes but the tensors end at byte \(end); "
                       + "\(dataLength - end) unexpected bytes follow the last tensor")
        }
        return SafetensorsFile(source: source, metadata: metadata, tensors: tensors, headerLength: headerLength,
                               bytes: bytes, dataStart: 8 + headerLength,
                               index: Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($1.name, $0) }))
    }

    private init(source: String, metadata: [String: String], tensors: [TensorInfo], headerLength: Int,
                 bytes: Data, dataStart: Int, index: [String: Int]) {
        self.source = source; self.metadata = metadata; self.tensors = tensors; self.headerLength = headerLength
        self.bytes = bytes; self.dataStart = dataStart; self.index = index
    }

    /// A JSON value's kind for error messages (`an object`, `the number 1.5`, `true`, …).
    private static func describe(_ value: Any) -> String {
        switch value {
        case is [String: Any]: return "an object"
        case is [Any]: return "an array"
        case is String: return "a string"
        case let number as NSNumber:
            return number.objCType.pointee == CChar(UInt8(ascii: "c")) ? "\(number.boolValue)" : "the number \(number)"
        default: return "null"
        }
    }

    /// The value when it is a JSON integer (not `4.0` or `1e3`) from 0 to `Int64.max`.
    private static func nonNegativeInteger(_ value: Any) -> Int? {
        guard let number = value as? NSNumber, !(number is NSDecimalNumber),
              "qilsQILS".utf8.contains(UInt8(bitPattern: number.objCType.pointee)), number.int64Value >= 0 else {
            return nil
        }
        return Int(number.int64Value)
    }

    /// What RFC 8259 forbids but `JSONSerialization` accepts, in text it has accepted: a comma before `}` or
    /// `]`, and a key given twice in the top-level object (it keeps the last). A message, and the key.
    private static func strictnessProblem(_ bytes: [UInt8]) -> (String, String?)? {
        var depth = 0, position = 0, previous: UInt8 = 0
        var keys = Set<String>()
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                let start = position
                position += 1
                while bytes[position] != UInt8(ascii: "\"") { position += bytes[position] == UInt8(ascii: "\\") ? 2 : 1 }
                if depth == 1 && (previous == UInt8(ascii: "{") || previous == UInt8(ascii: ",")),
                   let key = try? JSONSerialization.jsonObject(with: Data(bytes[start...position]),
                                                               options: .fragmentsAllowed) as? String,
                   !keys.insert(key).inserted {
                    return ("header has the key '\(key)' twice", key == "__metadata__" ? nil : key)
                }
                previous = byte
            } else if ![0x20, 0x09, 0x0A, 0x0D].contains(byte) {
                if (byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]")) && previous == UInt8(ascii: ",") {
                    return ("header is not valid JSON: a comma before '\(Character(Unicode.Scalar(byte)))' at byte "
                            + "\(position) of the header", nil)
                }
                if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") { depth += 1 }
                if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") { depth -= 1 }
                previous = byte
            }
            position += 1
        }
        return nil
    }

    private static func parseTensor(name: String, _ value: Any,
                                    fail: (DataFormatError.Kind, String) -> DataFormatError) throws -> TensorInfo {
        guard let fields = value as? [String: Any] else {
            throw fail(.invalidHeader, "header entry is \(describe(value)), not an object with dtype, shape and data_offsets")
        }
        guard let dtypeValue = fields["dtype"] else { throw fail(.missingDType, "header entry has no dtype") }
        guard let dtypeName = dtypeValue as? String else {
            throw fail(.unknownDType, "dtype is \(describe(dtypeValue)), not a string")
        }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
            let supported = "this reader handles " + SafetensorsDType.allCases.map(\.rawValue).joined(separator: ", ")
            throw fail(.unknownDType, SafetensorsDType.otherNames.contains(dtypeName)
                       ? "dtype '\(dtypeName)' is not supported (\(supported))" : "unknown dtype '\(dtypeName)' (\(supported))")
        }
        guard let shapeValue = fields["shape"] else { throw fail(.invalidShape, "header entry has no shape") }
        guard let dimensions = shapeValue as? [Any] else {
            throw fail(.invalidShape, "shape is \(describe(shapeValue)), not an array of integers")
        }
        var shape: [Int] = []
        var byteCount = dtype.byteSize, overflow = false
        for (axis, dimension) in dimensions.enumerated() {
            guard let size = nonNegativeInteger(dimension) else {
                throw fail(.invalidShape, "shape[\(axis)] is \(describe(dimension)), not a non-negative integer")
            }
            shape.append(size)
            let (product, overflowed) = byteCount.multipliedReportingOverflow(by: size)
            (byteCount, overflow) = (product, overflow || overflowed)
        }
        if overflow { throw fail(.invalidShape, "shape \(shape) of \(dtypeName) is too large to address") }
        guard let offsetsValue = fields["data_offsets"] else {
            throw fail(.offsetsOutOfRange, "header entry has no data_offsets")
        }
        guard let offsets = offsetsValue as? [Any], offsets.count == 2 else {
            let count = (offsetsValue as? [Any]).map { " of \($0.count) values" } ?? ""
            throw fail(.offsetsOutOfRange, "data_offsets is \(describe(offsetsValue))\(count), not [begin, end]")
        }
        guard let begin = nonNegativeInteger(offsets[0]), let end = nonNegativeInteger(offsets[1]) else {
            throw fail(.offsetsOutOfRange, "data_offsets hold \(describe(nonNegativeInteger(offsets[0]) == nil ? offsets[0] : offsets[1])); "
                       + "offsets are non-negative integers that fit in 64 bits")
        }
        guard begin <= end else { throw fail(.offsetsOutOfRange, "data_offsets [\(begin), \(end)] end before they begin") }
        if end - begin != byteCount {
            throw fail(.sizeMismatch, "shape \(shape) of \(dtypeName) needs \(byteCount) bytes but data_offsets "
                       + "[\(begin), \(end)] span \(end - begin)")
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }

    // MARK: - Access

    /// Whether a tensor called `name` exists.
    public func contains(_ name: String) -> Bool { index[name] != nil }

    /// The dtype, shape and offsets of the tensor called `name`.
    /// - Throws: `DataFormatError.Kind.tensorNotFound`, listing tensors with similar names.
    public func info(_ name: String) throws -> TensorInfo {
        guard let position = index[name] else {
            throw DataFormatError(kind: .tensorNotFound, file: source, tensor: name, message: "no such tensor"
                                  + DataFormatError.suggestionSuffix(for: name, in: tensorNames))
        }
        return tensors[position]
    }

    /// Dimensions of the tensor called `name`, outermost first. - Throws: `.tensorNotFound`.
    public func shape(_ name: String) throws -> [Int] { try info(name).shape }

    /// Element type of the tensor called `name`. - Throws: `.tensorNotFound`.
    public func dtype(_ name: String) throws -> SafetensorsDType { try info(name).dtype }

    /// The raw bytes of the tensor called `name`: elements in row-major order, little-endian.
    /// - Throws: `.tensorNotFound`.
    public func data(_ name: String) throws -> Data {
        let range = try info(name).dataOffsets
        return bytes.subdata(in: (dataStart + range.lowerBound)..<(dataStart + range.upperBound))
    }

    /// The elements of the tensor called `name` as `Float`s, row-major: `F32` bit for bit, `F16` and `BF16`
    /// widened exactly.
    /// - Throws: `.tensorNotFound`; `.dtypeMismatch` for `F64` (use `doubles(_:)`).
    public func floats(_ name: String) throws -> [Float] {
        let tensor = try info(name)
        func load<T>(_ type: T.Type) -> [T] {
            bytes.withUnsafeBytes { LittleEndian.elements(T.self, from: $0, offset: dataStart + tensor.dataOffsets.lowerBound,
                                                          count: tensor.elementCount) }
        }
        switch tensor.dtype {
        case .float32: return load(Float.self)
        case .float16: return load(UInt16.self).map(HalfPrecision.float(fromBinary16:))
        case .bfloat16: return load(UInt16.self).map(HalfPrecision.float(fromBFloat16:))
        case .float64:
            throw DataFormatError(kind: .dtypeMismatch, file: source, tensor: name, message: "dtype F64 cannot be "
                                  + "read as Float exactly; floats() reads F32, F16 and BF16, use doubles()")
        }
    }

    /// The elements of the tensor called `name` as `Double`s, row-major: `F64` bit for bit, the others
    /// widened exactly. - Throws: `.tensorNotFound`.
    public func doubles(_ name: String) throws -> [Double] {
        let tensor = try info(name)
        guard tensor.dtype == .float64 else { return try floats(name).map(Double.init) }
        return bytes.withUnsafeBytes {
            LittleEndian.elements(Double.self, from: $0, offset: dataStart + tensor.dataOffsets.lowerBound,
                                  count: tensor.elementCount)
        }
    }

    // MARK: - Writing

    /// Writes tensors and metadata to `url` as a safetensors file, atomically (`AtomicFile`).
    ///
    /// Layout follows the reference implementation: tensors are ordered by dtype (larger first: F64, F32,
    /// BF16, F16), then by name (byte-wise UTF-8 order), and stored contiguously in that order; the header is
    /// compact JSON (`__metadata__` first, keys sorted, omitted when `metadata` is empty; then each tensor's
    /// `dtype`, `shape`, `data_offsets`) padded with spaces to a multiple of 8 bytes.
    ///
    /// - Parameters:
    ///   - tensors: each tensor's name (unique, not empty, not `__metadata__`), dtype, shape (non-negative
    ///     dimensions, `[]` for a scalar) and raw little-endian row-major bytes (exactly
    ///     `product(shape) × dtype.byteSize` of them).
    ///   - metadata: string pairs stored under `__metadata__`.
    ///   - url: destination file URL; its directory must exist and be writable.
    /// - Throws: `DataFormatError.Kind.invalidArgument` for inconsistent tensors, `.io` for system errors.
    public static func write(tensors: [(name: String, dtype: SafetensorsDType, shape: [Int], data: Data)],
                             metadata: [String: String] = [:], to url: URL) throws {
        try AtomicFile.write(encode(tensors: tensors, metadata: metadata, file: url.standardizedFileURL.path), to: url)
    }

    /// The complete bytes of the safetensors file that `write(tensors:metadata:to:)` would write.
    /// - Throws: `DataFormatError.Kind.invalidArgument` (file `<memory>`).
    public static func encode(tensors: [(name: String, dtype: SafetensorsDType, shape: [Int], data: Data)],
                              metadata: [String: String] = [:]) throws -> Data {
        try encode(tensors: tensors, metadata: metadata, file: "<memory>")
    }

    /// Writes `Float` tensors (dtype `F32`) atomically; `values.count == product(shape)`.
    public static func write(floats tensors: [(name: String, shape: [Int], values: [Float])],
                             metadata: [String: String] = [:], to url: URL) throws {
        try write(tensors: tensors.map { ($0.name, .float32, $0.shape, LittleEndian.bytes(of: $0.values)) },
                  metadata: metadata, to: url)
    }

    /// Writes `Double` tensors (dtype `F64`) atomically; `values.count == product(shape)`.
    public static func write(doubles tensors: [(name: String, shape: [Int], values: [Double])],
                             metadata: [String: String] = [:], to url: URL) throws {
        try write(tensors: tensors.map { ($0.name, .float64, $0.shape, LittleEndian.bytes(of: $0.values)) },
                  metadata: metadata, to: url)
    }

    private static func encode(tensors: [(name: String, dtype: SafetensorsDType, shape: [Int], data: Data)],
                               metadata: [String: String], file: String) throws -> Data {
        func invalid(_ tensor: String?, _ message: String) -> DataFormatError {
            DataFormatError(kind: .invalidArgument, file: file, tensor: tensor, message: message)
        }
        var seen = Set<String>()
        for tensor in tensors {
            if tensor.name.isEmpty { throw invalid(tensor.name, "tensor names may not be empty") }
            if tensor.name == "__metadata__" { throw invalid(tensor.name, "the name is reserved for metadata") }
            if !seen.insert(tensor.name).inserted { throw invalid(tensor.name, "two tensors have this name") }
            var needed = tensor.dtype.byteSize, overflow = false
            for (axis, dimension) in tensor.shape.enumerated() {
                if dimension < 0 { throw invalid(tensor.name, "shape[\(axis)] is \(dimension); dimensions must be ≥ 0") }
                let (product, overflowed) = needed.multipliedReportingOverflow(by: dimension)
                (needed, overflow) = (product, overflow || overflowed)
            }
            if overflow || needed != tensor.data.count {
                throw invalid(tensor.name, "shape \(tensor.shape) of \(tensor.dtype.rawValue) needs "
                              + "\(overflow ? "too many" : String(needed)) bytes but \(tensor.data.count) were given")
            }
        }
        let order = tensors.indices.sorted { a, b in
            let (left, right) = (tensors[a], tensors[b])
            if left.dtype != right.dtype { return left.dtype.writeRank > right.dtype.writeRank }
            return left.name.utf8.lexicographicallyPrecedes(right.name.utf8)
        }
        // Strings are escaped as the reference writer (serde_json) does: `"`, `\` and control characters only.
        func json(_ text: String) -> String {
            String(decoding: try! JSONSerialization.data(withJSONObject: text, options: [.fragmentsAllowed, .withoutEscapingSlashes]),
                   as: UTF8.self)
        }
        var entries: [String] = []
        if !metadata.isEmpty {
            let keys = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            entries.append(json("__metadata__") + ":{" + keys.map { json($0) + ":" + json(metadata[$0]!) }.joined(separator: ",") + "}")
        }
        var offset = 0
        for tensor in order.map({ tensors[$0] }) {
            entries.append(json(tensor.name) + ":{\"dtype\":\"\(tensor.dtype.rawValue)\",\"shape\":["
                           + tensor.shape.map(String.init).joined(separator: ",")
                           + "],\"data_offsets\":[\(offset),\(offset + tensor.data.count)]}")
            offset += tensor.data.count
        }
        var header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        header += Array(repeating: UInt8(ascii: " "), count: (8 - header.count % 8) % 8)
        if header.count > maximumHeaderLength {
            throw invalid(nil, "the header would be \(header.count) bytes, above the limit of \(maximumHeaderLength)")
        }
        var output = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Data($0) } + header
        for position in order { output.append(tensors[position].data) }
        return output
    }
}
