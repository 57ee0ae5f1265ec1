// File helpers shared by every format of this module: the atomic writer, whole-file reads, little-endian
// element copies and 16-bit float conversions.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if _endian(big)
#error("Datasets reads and writes little-endian formats by copying memory; big-endian hosts are not supported")
#endif

/// Atomic file output, used by every writer of this module: bytes go to `.<name>.tmp-<pid>` in the
/// destination's directory, which `commit()` syncs and renames over the destination. Until then the
/// destination is untouched; a writer that fails, is discarded or is released without `commit()` deletes its
/// temporary file. One writer per destination at a time.
final class AtomicFile {
    /// The file written on `commit()`, and where the bytes go until then.
    let destination: URL, temporary: URL
    private var handle: FileHandle?

    /// Creates (or truncates) the temporary file next to `url`. - Throws: `.io` naming `url`.
    init(_ url: URL) throws {
        destination = url.standardizedFileURL
        temporary = destination.deletingLastPathComponent().appendingPathComponent(".\(destination.lastPathComponent).tmp-\(getpid())")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if descriptor < 0 {
            throw DataFormatError(kind: .io, file: destination.path,
                                  message: "cannot create temporary file \(temporary.path): \(String(cString: strerror(errno)))")
        }
        handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    }

    deinit { discard() }

    /// Whether neither `commit()` nor `discard()` was called.
    var isOpen: Bool { handle != nil }

    /// Appends `data`, written through to the operating system; a failed write discards the file.
    func write(_ data: Data) throws {
        do { try handle?.write(contentsOf: data) } catch {
            discard()
            throw DataFormatError(kind: .io, file: destination.path, message: "write to \(temporary.path) failed: \(error.localizedDescription)")
        }
    }

    /// Syncs, closes and renames the temporary file over the destination (a no-op once done); on failure the
    /// temporary file is deleted and the destination left as it was.
    func commit() throws {
        guard let handle else { return }
        self.handle = nil
        var problem: String?
        do { try handle.synchronize(); try handle.close() } catch { problem = "cannot sync: \(error.localizedDescription)" }
        if problem == nil && rename(temporary.path, destination.path) != 0 { problem = "cannot rename: \(String(cString: strerror(errno)))" }
        if let problem {
            unlink(temporary.path)
            throw DataFormatError(kind: .io, file: destination.path, message: "\(temporary.path): \(problem)")
        }
    }

    /// Closes and deletes the temporary file without touching the destination.
    func discard() {
        guard let handle else { return }
        try? handle.close()
        self.handle = nil
        unlink(temporary.path)
    }

    /// Writes `data` to `url` atomically.
    static func write(_ data: Data, to url: URL) throws {
        let file = try AtomicFile(url)
        try file.write(data)
        try file.commit()
    }
}

/// Throws `.fileNotFound` or `.io` (a directory, no permission) unless `url` is a readable regular file.
func checkReadableFile(_ url: URL) throws {
    var isDirectory: ObjCBool = false
    let problem = !FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) ? "file not found"
        : isDirectory.boolValue ? "is a directory, not a file"
        : !FileManager.default.isReadableFile(atPath: url.path) ? "cannot read: permission denied" : nil
    if let problem { throw DataFormatError(kind: problem == "file not found" ? .fileNotFound : .io, file: url.path, message: problem) }
}

/// The bytes of the file at `url` (`startIndex == 0`). - Throws: `.fileNotFound`, `.io`, naming the file.
func readWholeFile(_ url: URL) throws -> Data {
    try checkReadableFile(url)
    do { return try Data(contentsOf: url) } catch {
        throw DataFormatError(kind: .io, file: url.path, message: "cannot read: \(error.localizedDescription)")
    }
}

/// `product(shape) × elementSize` (dimensions ≥ 0), or nil when it overflows `Int`.
func byteCount(shape: [Int], elementSize: Int) -> Int? {
    shape.reduce(elementSize as Int?) { total, dimension in
        total.flatMap { let (product, overflow) = $0.multipliedReportingOverflow(by: dimension); return overflow ? nil : product }
    }
}

/// Copies of little-endian element data (the host is little-endian, see the `#error` above).
enum LittleEndian {
    /// `count` elements of the trivial type `T` stored at byte `offset` of `bytes`.
    static func elements<T>(_ type: T.Type, from bytes: UnsafeRawBufferPointer, offset: Int, count: Int) -> [T] {
        let size = count * MemoryLayout<T>.size
        precondition(offset >= 0 && count >= 0 && offset + size <= bytes.count)
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: .init(rebasing: bytes[offset..<(offset + size)])) }
            initialized = count
        }
    }

    /// The bytes of `values` (`[value]` for one).
    static func bytes<T>(of values: [T]) -> Data { values.withUnsafeBytes { Data($0) } }

}

/// Values from `JSONSerialization` (safetensors and NPY headers): objects `[String: Any]`, arrays `[Any]`,
/// `String`, `NSNumber` (integers, floats and booleans told apart by `objCType`) and `NSNull`.
enum JSONValue {
    /// Parses JSON text; on failure throws `failure` of Foundation's reason ("Unexpected end of file during JSON parse.").
    static func parse(_ bytes: [UInt8], failure: (String) -> DataFormatError) throws -> Any {
        do { return try JSONSerialization.jsonObject(with: Data(bytes), options: .fragmentsAllowed) } catch {
            throw failure((error as NSError).userInfo["NSDebugDescription"] as? String ?? "\(error)")
        }
    }

    /// The value when it is a JSON integer that fits in 64 bits (not `4.0`, `1e3`, `true` or a huge number).
    static func integer(_ value: Any) -> Int? {
        guard let number = value as? NSNumber, !(number is NSDecimalNumber),
              "qils".utf8.contains(UInt8(bitPattern: number.objCType.pointee)) else { return nil }
        return Int(number.int64Value)
    }

    /// Whether the value is JSON `true` or `false`.
    static func isBool(_ value: Any) -> Bool {
        (value as? NSNumber).map { $0.objCType.pointee == CChar(UInt8(ascii: "c")) } ?? false
    }

    /// The value's kind for error messages: `an object`, `an array`, `a string`, `the number 1.5`, `true`, `null`.
    static func describe(_ value: Any) -> String {
        switch value {
        case is [String: Any]: return "an object"
        case is [Any]: return "an array"
        case is String: return "a string"
        case let number as NSNumber: return isBool(number) ? "\(number.boolValue)" : "the number \(number)"
        default: return "null"
        }
    }

    /// `text` as a JSON string literal, escaped as the reference safetensors writer (serde_json) does:
    /// `"`, `\` and control characters only.
    static func string(_ text: String) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: text, options: [.fragmentsAllowed, .withoutEscapingSlashes]),
               as: UTF8.self)
    }
}

/// Exact conversions of 16-bit floats to `Float` (every value of both formats is a `Float`).
enum HalfPrecision {
    /// IEEE 754 binary16 (`F16`, `float16`) bits → `Float`; infinities and NaN payloads are kept.
    static func float(fromBinary16 bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16, exponent = UInt32(bits >> 10) & 0x1F, mantissa = UInt32(bits & 0x03FF)
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) } // inf, NaN
        if exponent == 0 { return sign == 0 ? Float(mantissa) * 0x1p-24 : -Float(mantissa) * 0x1p-24 } // zero, subnormal
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13)) // rebias 15 → 127
    }

    /// bfloat16 (`BF16`) bits → `Float`: the upper half of a binary32.
    static func float(fromBFloat16 bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }
}
