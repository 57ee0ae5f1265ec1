// Helpers shared by the binary dataset formats (safetensors, NPY, NPZ): atomic file writes, reading whole
// files, little-endian element copies and half-precision conversions.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Atomic file output: bytes go to a temporary file `.<name>.tmp-<pid>-<random>` in the destination's
/// directory, which is synced to disk and renamed over the destination only when everything was written.
/// On any failure the temporary file is deleted and the destination is left as it was.
enum AtomicFile {
    /// Why an atomic write failed; callers wrap `message` into their own error type.
    struct Failure: Error {
        let message: String
    }

    /// A temporary path next to `destination` (same directory, so the final rename stays on one file system).
    static func temporaryURL(for destination: URL) -> URL {
        let random = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return destination.deletingLastPathComponent()
            .appendingPathComponent(".\(destination.lastPathComponent).tmp-\(getpid())-\(random)")
    }

    /// Creates a temporary file, lets `body` write to it through the closure it is given (each call appends
    /// the bytes), then syncs, closes and renames it over `destination`.
    ///
    /// - Throws: `Failure` for operating-system errors; whatever `body` throws is rethrown unchanged (after
    ///   the temporary file is deleted).
    static func write(to destination: URL, _ body: (_ append: (Data) throws -> Void) throws -> Void) throws {
        let destination = destination.standardizedFileURL
        let temporary = temporaryURL(for: destination)
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if descriptor < 0 {
            throw Failure(message: "cannot create temporary file \(temporary.path): \(errorText())")
        }
        var isOpen = true
        defer {
            if isOpen {
                _ = closeDescriptor(descriptor)
                unlink(temporary.path)
            }
        }
        try body { data in
            try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                var offset = 0
                while offset < raw.count {
                    let written = writeBytes(descriptor, raw.baseAddress! + offset, raw.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw Failure(message: "write to \(temporary.path) failed: \(errorText())")
                    }
                    offset += written
                }
            }
        }
        if fsync(descriptor) != 0 {
            throw Failure(message: "fsync of \(temporary.path) failed: \(errorText())")
        }
        isOpen = false
        if closeDescriptor(descriptor) != 0 {
            let failure = Failure(message: "close of \(temporary.path) failed: \(errorText())")
            unlink(temporary.path)
            throw failure
        }
        try commit(temporary: temporary, to: destination, sync: false)
    }

    /// Syncs `temporary` (a complete file written by someone else, e.g. a ZIP library) when `sync` is true,
    /// then renames it over `destination`. Deletes `temporary` on failure.
    static func commit(temporary: URL, to destination: URL, sync: Bool = true) throws {
        if sync {
            let descriptor = open(temporary.path, O_RDONLY | O_CLOEXEC)
            if descriptor < 0 {
                let failure = Failure(message: "cannot reopen \(temporary.path): \(errorText())")
                unlink(temporary.path)
                throw failure
            }
            let synced = fsync(descriptor) == 0
            let failure = synced ? nil : Failure(message: "fsync of \(temporary.path) failed: \(errorText())")
            _ = closeDescriptor(descriptor)
            if let failure {
                unlink(temporary.path)
                throw failure
            }
        }
        if rename(temporary.path, destination.standardizedFileURL.path) != 0 {
            let failure = Failure(message: "cannot rename \(temporary.path) to the destination: \(errorText())")
            unlink(temporary.path)
            throw failure
        }
    }

    /// Deletes a temporary file left by a failed write (ignores errors).
    static func discard(_ temporary: URL) {
        unlink(temporary.path)
    }

    private static func errorText() -> String { String(cString: strerror(errno)) }

    private static func closeDescriptor(_ fd: Int32) -> Int32 {
        #if canImport(Glibc)
        return Glibc.close(fd)
        #else
        return Darwin.close(fd)
        #endif
    }

    private static func writeBytes(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        return Glibc.write(fd, bytes, count)
        #else
        return Darwin.write(fd, bytes, count)
        #endif
    }
}

/// Reading a whole file with a message that says what went wrong.
enum WholeFile {
    /// Why a file could not be read.
    enum Failure: Error {
        /// The path does not exist.
        case notFound
        /// Any other operating-system error (a directory, no permission, …), with the system's text.
        case io(String)
    }

    /// The file's bytes (`startIndex == 0`).
    static func read(_ url: URL) throws(Failure) -> Data {
        let path = url.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw .notFound }
        if isDirectory.boolValue { throw .io("is a directory, not a file") }
        do {
            return try Data(contentsOf: url)
        } catch {
            throw .io("cannot read: \(error.localizedDescription)")
        }
    }
}

/// Byte-level helpers for little-endian element data.
enum LittleEndian {
    /// `count` elements of `T` stored little-endian at `offset` in `bytes`, copied into an array.
    /// `T` is a fixed-size trivial type (integer or IEEE float).
    static func elements<T>(_ type: T.Type, from bytes: UnsafeRawBufferPointer, offset: Int, count: Int) -> [T] {
        let size = MemoryLayout<T>.size
        precondition(offset >= 0 && count >= 0 && offset + count * size <= bytes.count)
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 {
                let target = UnsafeMutableRawBufferPointer(buffer)
                target.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count * size)]))
                #if _endian(big)
                for start in stride(from: 0, to: count * size, by: size) {
                    var low = start, high = start + size - 1
                    while low < high { target.swapAt(low, high); low += 1; high -= 1 }
                }
                #endif
            }
            initialized = count
        }
    }

    /// The bytes of `values` in little-endian order.
    static func bytes<T>(of values: [T]) -> Data {
        var data = values.withUnsafeBytes { Data($0) }
        #if _endian(big)
        let size = MemoryLayout<T>.size
        data.withUnsafeMutableBytes { target in
            for start in stride(from: 0, to: target.count, by: size) {
                var low = start, high = start + size - 1
                while low < high { target.swapAt(low, high); low += 1; high -= 1 }
            }
        }
        #endif
        return data
    }

    /// Unsigned integer stored little-endian at `offset` (any alignment).
    static func load<T: FixedWidthInteger>(_ type: T.Type, from bytes: UnsafeRawBufferPointer, at offset: Int) -> T {
        T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// Appends `value` to `data` in little-endian order.
    static func append<T: FixedWidthInteger>(_ value: T, to data: inout Data) {
        withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) }
    }
}

/// Exact conversions from 16-bit floating-point formats to `Float` (every value of both is representable).
enum HalfPrecision {
    /// IEEE 754 binary16 (`float16`, `F16`) bit pattern → `Float`; infinities and NaN payloads are kept.
    static func float(fromBinary16 bits: UInt16) -> Float {
        let sign: UInt32 = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x03FF)
        if exponent == 0x1F { // infinity or NaN
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        if exponent == 0 { // zero or subnormal: mantissa × 2⁻²⁴, exact in Float
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        }
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13)) // rebias 15 → 127
    }

    /// bfloat16 (`BF16`) bit pattern → `Float`: the upper half of a binary32.
    static func float(fromBFloat16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }
}
