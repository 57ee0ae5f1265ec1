// Reading NumPy `.npz` archives.

import Foundation
import ZIPFoundation

/// Reads NumPy `.npz` files: ZIP archives whose entries `NAME.npy` each hold one NPY array (see
/// `NPYArray` for that format), as written by `numpy.savez` (stored entries) and `numpy.savez_compressed`
/// (deflate entries). ZIP64 archives are accepted.
///
/// Array names are the entry paths without `.npy` (`observations.npy` → `observations`,
/// `infos/qpos.npy` → `infos/qpos`). Entries that do not end in `.npy` and directories are ignored. Every
/// entry read is checked against its CRC-32.
public enum NPZReader {
    /// Reads every array of the archive.
    ///
    /// - Parameter url: file URL of the `.npz` file.
    /// - Returns: arrays by name.
    /// - Throws: `DataFormatError` naming the file (and the array): `.fileNotFound`, `.io`, `.notZip`,
    ///   `.corruptEntry`, `.duplicateArray`, and the NPY errors of `NPYArray.decode(npy:source:array:)`.
    public static func read(url: URL) throws -> [String: NPYArray] {
        try read(url: url, only: nil)
    }

    /// Reads the arrays whose names are in `names` (all of them when `names` is nil); names not in the
    /// archive are simply absent from the result.
    /// - Throws: as `read(url:)`.
    public static func read(url: URL, only names: Set<String>?) throws -> [String: NPYArray] {
        let path = url.path
        let archive = try open(url)
        var arrays: [String: NPYArray] = [:]
        var seen = Set<String>()
        for entry in archive {
            guard let name = arrayName(of: entry) else { continue }
            if !seen.insert(name).inserted {
                throw DataFormatError(kind: .duplicateArray, file: path, array: name,
                               message: "the archive has two entries named '\(entry.path)'")
            }
            if let names, !names.contains(name) { continue }
            let bytes = try extract(entry, named: name, from: archive, file: path)
            arrays[name] = try NPYArray.decode(npy: bytes, source: path, array: name)
        }
        return arrays
    }

    /// Names of the arrays in the archive, in archive order, without reading their data.
    /// - Throws: `.fileNotFound`, `.io`, `.notZip`.
    public static func arrayNames(url: URL) throws -> [String] {
        try open(url).compactMap(arrayName(of:))
    }

    /// The array name of a `.npy` file entry, or nil for directories and other files.
    private static func arrayName(of entry: Entry) -> String? {
        guard entry.type == .file, entry.path.hasSuffix(".npy"), entry.path.count > 4 else { return nil }
        return String(entry.path.dropLast(4))
    }

    private static func open(_ url: URL) throws -> Archive {
        let path = url.path
        try checkReadableFile(url)
        do {
            return try Archive(url: url, accessMode: .read)
        } catch {
            let reason: String
            switch error as? Archive.ArchiveError {
            case .missingEndOfCentralDirectoryRecord?:
                reason = "no ZIP end-of-central-directory record: not a ZIP archive, or a truncated one"
            default:
                reason = "cannot be opened as a ZIP archive (\(error))"
            }
            throw DataFormatError(kind: .notZip, file: path,
                           message: reason + "; an NPZ file is a ZIP archive of .npy files")
        }
    }

    private static func extract(_ entry: Entry, named name: String, from archive: Archive, file: String) throws -> Data {
        var bytes = Data()
        bytes.reserveCapacity(Int(min(entry.uncompressedSize, 1 << 28)))
        let checksum: CRC32
        do {
            checksum = try archive.extract(entry, bufferSize: 1 << 20, consumer: { bytes.append($0) })
        } catch {
            let reason: String
            switch error as? Archive.ArchiveError {
            case .invalidCompressionMethod?: reason = "uses a compression method other than stored or deflate"
            default: reason = "cannot be extracted: damaged ZIP data (\(error))"
            }
            throw DataFormatError(kind: .corruptEntry, file: file, array: name, message: "entry '\(entry.path)' \(reason)")
        }
        if checksum != entry.checksum {
            throw DataFormatError(kind: .corruptEntry, file: file, array: name,
                           message: "entry '\(entry.path)' fails its CRC-32 check (stored "
                           + "\(hex(entry.checksum)), computed \(hex(checksum))): the archive is damaged")
        }
        if UInt64(bytes.count) != entry.uncompressedSize {
            throw DataFormatError(kind: .corruptEntry, file: file, array: name,
                           message: "entry '\(entry.path)' holds \(bytes.count) bytes but the archive says "
                           + "\(entry.uncompressedSize)")
        }
        return bytes
    }

    private static func hex(_ value: CRC32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }
}
