// Writing NumPy `.npz` archives.

import Foundation
import ZIPFoundation

/// Writes NumPy `.npz` files that `numpy.load` and `NPZReader` read: a ZIP archive with one entry
/// `NAME.npy` per array, each an NPY 1.0 file in C order and little-endian byte order (see `NPYArray`).
///
/// Entries are stored uncompressed by default (like `numpy.savez`) or deflated (like
/// `numpy.savez_compressed`). Entry dates are fixed (1980-01-01), so the same arrays give the same bytes.
/// The archive is built in a temporary file in the destination's directory, synced and renamed over the
/// destination, so the destination is never left half-written.
public enum NPZWriter {
    /// How entries are stored in the ZIP archive.
    public enum Compression: Sendable, Hashable {
        /// Uncompressed entries (ZIP method 0), as `numpy.savez` writes.
        case stored
        /// Deflate-compressed entries (ZIP method 8), as `numpy.savez_compressed` writes.
        case deflate
    }

    /// Writes `arrays` in order of their names (byte-wise UTF-8 order).
    /// - Throws: as `write(arrays:to:compression:)`.
    public static func write(_ arrays: [String: NPYArray], to url: URL, compression: Compression = .stored) throws {
        let ordered = arrays.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.map { ($0, arrays[$0]!) }
        try write(arrays: ordered, to: url, compression: compression)
    }

    /// Writes `arrays` as entries `name.npy`, in the given order.
    ///
    /// - Parameters:
    ///   - arrays: names (unique, not empty, no NUL character, not starting with `/`; `/` makes a nested
    ///     path such as `infos/qpos`) and arrays.
    ///   - url: destination file URL; its directory must exist and be writable.
    ///   - compression: `.stored` (default) or `.deflate`.
    /// - Throws: `NPZError.Kind.invalidArgument` for a bad or repeated name, `.io` for a system or ZIP error.
    public static func write(arrays: [(name: String, array: NPYArray)], to url: URL,
                             compression: Compression = .stored) throws {
        let destination = url.standardizedFileURL
        let file = destination.path
        var seen = Set<String>()
        for (name, _) in arrays {
            if name.isEmpty || name.contains("\0") || name.hasPrefix("/") {
                throw NPZError(kind: .invalidArgument, file: file, array: name,
                               message: "array names must be non-empty, without NUL, and not start with '/'")
            }
            if !seen.insert(name).inserted {
                throw NPZError(kind: .invalidArgument, file: file, array: name, message: "two arrays have this name")
            }
        }
        let temporary = AtomicFile.temporaryURL(for: destination)
        do {
            try buildArchive(at: temporary, arrays: arrays, compression: compression)
            try AtomicFile.commit(temporary: temporary, to: destination)
        } catch let failure as AtomicFile.Failure {
            throw NPZError(kind: .io, file: file, message: failure.message)
        } catch let error as NPZError {
            AtomicFile.discard(temporary)
            throw error
        } catch {
            AtomicFile.discard(temporary)
            throw NPZError(kind: .io, file: file, message: "cannot write the ZIP archive \(temporary.path): \(error)")
        }
    }

    /// 1980-01-01 12:00 UTC: the earliest ZIP date, away from midnight so every time zone keeps the day.
    private static let entryDate = Date(timeIntervalSince1970: 315_576_000)

    /// Creates the archive at `temporary` and closes it (the `Archive` is released on return).
    private static func buildArchive(at temporary: URL, arrays: [(name: String, array: NPYArray)],
                                     compression: Compression) throws {
        let archive = try Archive(url: temporary, accessMode: .create)
        for (name, array) in arrays {
            let bytes = array.npyData()
            try archive.addEntry(with: name + ".npy", type: .file, uncompressedSize: Int64(bytes.count),
                                 modificationDate: entryDate, permissions: 0o644,
                                 compressionMethod: compression == .stored ? .none : .deflate, bufferSize: 1 << 20,
                                 provider: { position, size in
                                     let start = Int(position)
                                     return bytes.subdata(in: start..<min(bytes.count, start + size))
                                 })
        }
    }
}
