// Reading and writing safetensors files (the Hugging Face tensor file format) of floating-point tensors.

import Foundation

/// Element type of a safetensors tensor, spelled as in the file's header: the floating-point types PyTorch
/// saves models in, stored little-endian. The format's integer, boolean, complex and 8-bit float types are
/// refused with an error naming the tensor and its dtype.
public enum SafetensorsDType: String, Sendable, Hashable, CaseIterable {
    /// IEEE 754 half precision (binary16), bfloat16 (the upper 16 bits of a binary32), `Float`, `Double`.
    case float16 = "F16", bfloat16 = "BF16", float32 = "F32", float64 = "F64"

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
/// Format (integers little-endian): 8 bytes `N`, the header length, as a `UInt64`; `N` bytes of UTF-8 JSON
/// mapping each tensor name to `{"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}`, plus an
/// optional `"__metadata__"` object of string → string (the writer pads it with spaces to a multiple of 8);
/// then the data section, each tensor's elements in row-major order at bytes `begin..<end` of it. Tensors are
/// contiguous: in offset order each begins where the previous one ends, the first at 0, the last at the end.
///
/// `read(url:)` loads the whole file and validates all of this; every problem is a `DataFormatError` naming
/// the file (and the tensor). The header is parsed with `JSONSerialization`: offsets and dimensions must be
/// JSON integers (read exactly as 64-bit integers; `4.0`, `-1` or `1e20` are refused), and a trailing comma
/// or a key given twice, which it would let through, are refused too. Values are in the producer's units.
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
    }

    /// Path of the file the tensors were read from (`<memory>` for `decode` without a source).
    public let source: String
    /// The `__metadata__` object of the header (empty when the header has none).
    public let metadata: [String: String]
    /// Every tensor, in the order of their data offsets.
    public let tensors: [TensorInfo]
    /// Header length `N` as stored in the first 8 bytes (including padding).
    public let headerLength: Int
    private let bytes: Data // the whole file
    private let dataStart: Int
    private let index: [String: Int]

    /// Tensor names in the order of their data offsets.
    public var tensorNames: [String] { tensors.map(\.name) }
    /// The largest header this reader accepts, as in the reference implementation (100 MB).
    public static let maximumHeaderLength = 100_000_000

    /// Reads and validates a safetensors file; tensor data stays in memory and is converted on access.
    /// - Throws: `DataFormatError` naming the file (and the tensor): `.fileNotFound`, `.io`, `.fileTooShort`,
    ///   `.headerLengthOutOfRange`, `.invalidHeader`, `.missingDType`, `.unknownDType`, `.invalidShape`,
    ///   `.offsetsOutOfRange`, `.sizeMismatch`, `.overlappingTensors`, `.misplacedTensor`, `.truncatedData`,
    ///   `.trailingData`.
    public static func read(url: URL) throws -> SafetensorsFile { try decode(readWholeFile(url), source: url.path) }

    /// Parses and validates the bytes of a whole safetensors file as `read(url:)` does; `source` names it.
    public static func decode(_ bytes: Data, source: String = "<memory>") throws -> SafetensorsFile {
        let bytes = bytes.startIndex == 0 ? bytes : Data(bytes)
        func fail(_ kind: DataFormatError.Kind, tensor: String? = nil, _ message: String) -> DataFormatError {
            DataFormatError(kind: kind, file: source, tensor: tensor, message: message)
        }
        guard bytes.count >= 8 else {
            throw fail(.fileTooShort, "file is \(bytes.count) bytes long; a safetensors file starts with an 8-byte little-endian header length")
        }
        let declared = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }, available = bytes.count - 8
        if declared > UInt64(maximumHeaderLength) {
            throw fail(.headerLengthOutOfRange, "header length \(declared) exceeds the limit of \(maximumHeaderLength) bytes "
                       + "(the file holds \(available) bytes after the length field)")
        }
        let headerLength = Int(declared)
        if headerLength > available {
            throw fail(.headerLengthOutOfRange, "header length is \(headerLength) bytes but only \(available) bytes follow the 8-byte length field")
        }
        let header = [UInt8](bytes[8..<(8 + headerLength)])
        var utf8 = header.makeIterator(), decoder = UTF8(), offset = 0
        while case .scalarValue(let scalar) = decoder.decode(&utf8) { offset += UTF8.width(scalar) }
        if offset < header.count { throw fail(.invalidHeader, "header is not valid UTF-8 (byte \(offset) of the header)") }
        let json = try JSONValue.parse(header) { fail(.invalidHeader, "header is not valid JSON: " + $0) }
        guard let members = json as? [String: Any] else {
            throw fail(.invalidHeader, "header is \(JSONValue.describe(json)), not a JSON object")
        }
        if let (problem, key) = strictnessProblem(header) { throw fail(.invalidHeader, tensor: key, problem) }

        var metadata: [String: String] = [:], tensors: [TensorInfo] = []
        for (key, value) in members.sorted(by: { $0.key < $1.key }) {
            guard key == "__metadata__" else {
                tensors.append(try parseTensor(name: key, value) { fail($0, tensor: key, $1) })
                continue
            }
            guard let entries = value as? [String: Any] else {
                throw fail(.invalidHeader, "__metadata__ is \(JSONValue.describe(value)), not an object of strings")
            }
            for (name, entry) in entries.sorted(by: { $0.key < $1.key }) {
                guard let text = entry as? String else {
                    throw fail(.invalidHeader, "__metadata__ value of '\(name)' is \(JSONValue.describe(entry)), not a string")
                }
                metadata[name] = text
            }
        }
        // Layout: contiguous from 0 in offset order (empty tensors at one offset by name), covering the data.
        tensors.sort {
            ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound)
                || ($0.dataOffsets == $1.dataOffsets && $0.name.utf8.lexicographicallyPrecedes($1.name.utf8))
        }
        var end = 0, previous: TensorInfo? = nil
        for tensor in tensors {
            let (begin, name) = (tensor.dataOffsets.lowerBound, tensor.name)
            if begin < end, !tensor.dataOffsets.isEmpty, let previous {
                throw fail(.overlappingTensors, tensor: name, "data_offsets [\(begin), \(tensor.dataOffsets.upperBound)] overlap "
                           + "tensor '\(previous.name)' at [\(previous.dataOffsets.lowerBound), \(end)]")
            }
            if begin < end {
                throw fail(.misplacedTensor, tensor: name, "empty tensor at byte \(begin) lies inside the data of tensor "
                           + "'\(previous?.name ?? "?")', which ends at byte \(end)")
            }
            if begin > end {
                let after = previous.map { "the previous tensor '\($0.name)' ends at byte \(end)" } ?? "the data section starts at byte 0"
                throw fail(.misplacedTensor, tensor: name, "data begins at byte \(begin) of the data section but \(after); "
                           + "tensors must be contiguous (a gap of \(begin - end) bytes)")
            }
            (end, previous) = (tensor.dataOffsets.upperBound, tensor)
        }
        let dataLength = available - headerLength
        if let first = tensors.first(where: { $0.dataOffsets.upperBound > dataLength }) {
            throw fail(.truncatedData, tensor: first.name, "data section holds \(dataLength) bytes but the tensors need \(end) "
                       + "(this tensor needs bytes \(first.dataOffsets)); the file is truncated")
        }
        if dataLength > end {
            throw fail(.trailingData, "data section holds \(dataLength) bytes but the tensors end at byte \(end); "
                       + "\(dataLength - end) unexpected bytes follow the last tensor")
        }
        return SafetensorsFile(source: source, metadata: metadata, tensors: tensors, headerLength: headerLength,
                               bytes: bytes, dataStart: 8 + headerLength,
                               index: Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($1.name, $0) }))
    }

    /// What RFC 8259 forbids but `JSONSerialization` accepts, in text it has accepted: a comma before `}` or
    /// `]`, and a key given twice in the top-level object (it keeps the last). A message, and the key.
    private static func strictnessProblem(_ bytes: [UInt8]) -> (String, String?)? {
        var depth = 0, position = 0, previous: UInt8 = 0, keys = Set<String>()
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                let start = position
                position += 1
                while bytes[position] != byte { position += bytes[position] == UInt8(ascii: "\\") ? 2 : 1 }
                if depth == 1 && (previous == UInt8(ascii: "{") || previous == UInt8(ascii: ",")),
                   let key = try? JSONSerialization.jsonObject(with: Data(bytes[start...position]), options: .fragmentsAllowed) as? String, !keys.insert(key).inserted {
                    return ("header has the key '\(key)' twice", key == "__metadata__" ? nil : key)
                }
                previous = byte
            } else if ![0x20, 0x09, 0x0A, 0x0D].contains(byte) {
                let closing = byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]")
                if closing && previous == UInt8(ascii: ",") {
                    return ("header is not valid JSON: a comma before '\(Character(Unicode.Scalar(byte)))' at byte \(position)", nil)
                }
                depth += byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") ? 1 : closing ? -1 : 0
                previous = byte
            }
            position += 1
        }
        return nil
    }

    private static func parseTensor(name: String, _ value: Any,
                                    fail: (DataFormatError.Kind, String) -> DataFormatError) throws -> TensorInfo {
        let describe = JSONValue.describe
        guard let fields = value as? [String: Any] else {
            throw fail(.invalidHeader, "header entry is \(describe(value)), not an object with dtype, shape and data_offsets")
        }
        guard let dtypeValue = fields["dtype"] else { throw fail(.missingDType, "header entry has no dtype") }
        guard let dtypeName = dtypeValue as? String else { throw fail(.unknownDType, "dtype is \(describe(dtypeValue)), not a string") }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
            let supported = "this reader handles " + SafetensorsDType.allCases.map(\.rawValue).joined(separator: ", ")
            throw fail(.unknownDType, SafetensorsDType.otherNames.contains(dtypeName)
                       ? "dtype '\(dtypeName)' is not supported (\(supported))" : "unknown dtype '\(dtypeName)' (\(supported))")
        }
        guard let shapeValue = fields["shape"] else { throw fail(.invalidShape, "header entry has no shape") }
        guard let dimensions = shapeValue as? [Any] else {
            throw fail(.invalidShape, "shape is \(describe(shapeValue)), not an array of integers")
        }
        let shape = try dimensions.enumerated().map { axis, dimension in
            guard let size = JSONValue.integer(dimension), size >= 0 else {
                throw fail(.invalidShape, "shape[\(axis)] is \(describe(dimension)), not a non-negative integer")
            }
            return size
        }
        guard let byteCount = Datasets.byteCount(shape: shape, elementSize: dtype.byteSize) else {
            throw fail(.invalidShape, "shape \(shape) of \(dtypeName) is too large to address")
        }
        guard let offsetsValue = fields["data_offsets"] else { throw fail(.offsetsOutOfRange, "header entry has no data_offsets") }
        guard let offsets = offsetsValue as? [Any], offsets.count == 2 else {
            let count = (offsetsValue as? [Any]).map { " of \($0.count) values" } ?? ""
            throw fail(.offsetsOutOfRange, "data_offsets is \(describe(offsetsValue))\(count), not [begin, end]")
        }
        let values = offsets.map { JSONValue.integer($0).flatMap { $0 >= 0 ? $0 : nil } }
        guard let begin = values[0], let end = values[1] else {
            throw fail(.offsetsOutOfRange, "data_offsets hold \(describe(offsets[values[0] == nil ? 0 : 1])); offsets are "
                       + "non-negative integers that fit in 64 bits")
        }
        guard begin <= end else { throw fail(.offsetsOutOfRange, "data_offsets [\(begin), \(end)] end before they begin") }
        if end - begin != byteCount {
            throw fail(.sizeMismatch, "shape \(shape) of \(dtypeName) needs \(byteCount) bytes but data_offsets [\(begin), \(end)] span \(end - begin)")
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }

    /// The dtype, shape and offsets of the tensor called `name`.
    /// - Throws: `DataFormatError.Kind.tensorNotFound`, listing tensors with similar names.
    public func info(_ name: String) throws -> TensorInfo {
        guard let position = index[name] else {
            throw DataFormatError(kind: .tensorNotFound, file: source, tensor: name,
                                  message: "no such tensor" + DataFormatError.suggestionSuffix(for: name, in: tensorNames))
        }
        return tensors[position]
    }

    /// Dimensions of the tensor called `name`, outermost first. - Throws: `.tensorNotFound`.
    public func shape(_ name: String) throws -> [Int] { try info(name).shape }

    /// Element type of the tensor called `name`. - Throws: `.tensorNotFound`.
    public func dtype(_ name: String) throws -> SafetensorsDType { try info(name).dtype }

    /// The raw bytes of the tensor called `name`: row-major, little-endian. - Throws: `.tensorNotFound`.
    public func data(_ name: String) throws -> Data {
        let range = try info(name).dataOffsets
        return bytes.subdata(in: (dataStart + range.lowerBound)..<(dataStart + range.upperBound))
    }

    /// The elements of the tensor called `name` as `Float`s, row-major: `F32` bit for bit, `F16` and `BF16`
    /// widened exactly. - Throws: `.tensorNotFound`; `.dtypeMismatch` for `F64` (use `doubles(_:)`).
    public func floats(_ name: String) throws -> [Float] {
        let tensor = try info(name)
        switch tensor.dtype {
        case .float32: return elements(of: tensor)
        case .float16: return elements(of: tensor).map(HalfPrecision.float(fromBinary16:))
        case .bfloat16: return elements(of: tensor).map(HalfPrecision.float(fromBFloat16:))
        case .float64: throw DataFormatError(kind: .dtypeMismatch, file: source, tensor: name,
                                  message: "dtype F64 cannot be read as Float exactly; floats() reads F32, F16 and BF16, use doubles()")
        }
    }

    /// The elements of the tensor called `name` as `Double`s, row-major: `F64` bit for bit, the others widened
    /// exactly. - Throws: `.tensorNotFound`.
    public func doubles(_ name: String) throws -> [Double] {
        try info(name).dtype == .float64 ? elements(of: info(name)) : floats(name).map(Double.init)
    }

    private func elements<T>(of tensor: TensorInfo) -> [T] {
        bytes.withUnsafeBytes { LittleEndian.elements(T.self, from: $0, offset: dataStart + tensor.dataOffsets.lowerBound, count: tensor.elementCount) }
    }

    /// Writes tensors and metadata to `url` as a safetensors file, atomically (`AtomicFile`).
    ///
    /// Layout as the reference implementation writes it: tensors ordered by dtype (F64, F32, BF16, F16), then
    /// by name (byte-wise UTF-8), stored contiguously in that order; the header is compact JSON (`__metadata__`
    /// first with sorted keys, omitted when empty; then each tensor's `dtype`, `shape`, `data_offsets`) padded
    /// with spaces to a multiple of 8 bytes.
    /// - Parameters:
    ///   - tensors: each tensor's name (unique, not empty, not `__metadata__`), dtype, shape (dimensions ≥ 0,
    ///     `[]` for a scalar) and raw little-endian row-major bytes (`product(shape) × dtype.byteSize` of them).
    ///   - metadata: string pairs stored under `__metadata__`.
    ///   - url: destination file URL; its directory must exist and be writable.
    /// - Throws: `DataFormatError.Kind.invalidArgument` for inconsistent tensors, `.io` for system errors.
    public static func write(tensors: [(name: String, dtype: SafetensorsDType, shape: [Int], data: Data)],
                             metadata: [String: String] = [:], to url: URL) throws {
        try AtomicFile.write(encode(tensors: tensors, metadata: metadata, file: url.standardizedFileURL.path), to: url)
    }

    /// The bytes `write(tensors:metadata:to:)` would write. - Throws: `.invalidArgument` (file `<memory>`).
    public static func encode(tensors: [(name: String, dtype: SafetensorsDType, shape: [Int], data: Data)],
                              metadata: [String: String] = [:]) throws -> Data {
        try encode(tensors: tensors, metadata: metadata, file: "<memory>")
    }

    /// Writes `Float` tensors (dtype `F32`, `values.count == product(shape)`) as `write(tensors:metadata:to:)`.
    public static func write(floats tensors: [(name: String, shape: [Int], values: [Float])], metadata: [String: String] = [:], to url: URL) throws {
        try write(tensors: tensors.map { ($0.name, .float32, $0.shape, LittleEndian.bytes(of: $0.values)) }, metadata: metadata, to: url)
    }

    /// Writes `Double` tensors (dtype `F64`, `values.count == product(shape)`) as `write(tensors:metadata:to:)`.
    public static func write(doubles tensors: [(name: String, shape: [Int], values: [Double])], metadata: [String: String] = [:], to url: URL) throws {
        try write(tensors: tensors.map { ($0.name, .float64, $0.shape, LittleEndian.bytes(of: $0.values)) }, metadata: metadata, to: url)
    }

    private static func encode(tensors: [(name: String, dtype: SafetensorsDType, shape: [Int], data: Data)],
                               metadata: [String: String], file: String) throws -> Data {
        func invalid(_ tensor: String?, _ message: String) -> DataFormatError {
            DataFormatError(kind: .invalidArgument, file: file, tensor: tensor, message: message)
        }
        var seen = Set<String>()
        for (name, dtype, shape, data) in tensors {
            if name.isEmpty { throw invalid(name, "tensor names may not be empty") }
            if name == "__metadata__" { throw invalid(name, "the name is reserved for metadata") }
            if !seen.insert(name).inserted { throw invalid(name, "two tensors have this name") }
            if let axis = shape.firstIndex(where: { $0 < 0 }) { throw invalid(name, "shape[\(axis)] is \(shape[axis]); dimensions must be ≥ 0") }
            let needed = byteCount(shape: shape, elementSize: dtype.byteSize)
            if needed != data.count {
                throw invalid(name, "shape \(shape) of \(dtype.rawValue) needs \(needed.map(String.init) ?? "too many") bytes but \(data.count) were given")
            }
        }
        let ordered = tensors.sorted {
            $0.dtype != $1.dtype ? $0.dtype.writeRank > $1.dtype.writeRank : $0.name.utf8.lexicographicallyPrecedes($1.name.utf8)
        }
        let json = JSONValue.string
        var entries: [String] = []
        if !metadata.isEmpty {
            let keys = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            entries.append(json("__metadata__") + ":{" + keys.map { json($0) + ":" + json(metadata[$0]!) }.joined(separator: ",") + "}")
        }
        var offset = 0
        for tensor in ordered {
            entries.append(json(tensor.name) + ":{\"dtype\":\"\(tensor.dtype.rawValue)\",\"shape\":["
                           + tensor.shape.map(String.init).joined(separator: ",") + "],\"data_offsets\":[\(offset),\(offset + tensor.data.count)]}")
            offset += tensor.data.count
        }
        var header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        header += Array(repeating: UInt8(ascii: " "), count: (8 - header.count % 8) % 8)
        if header.count > maximumHeaderLength {
            throw invalid(nil, "the header would be \(header.count) bytes, above the limit of \(maximumHeaderLength)")
        }
        return ordered.reduce(LittleEndian.bytes(of: [UInt64(header.count)]) + header) { $0 + $1.data }
    }
}
