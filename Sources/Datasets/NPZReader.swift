// Reading NumPy `.npz` archives.

import Foundation
import ZIPFoundation

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
