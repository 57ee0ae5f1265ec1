// Writers of NumPy `.npy`/`.npz` files and D4RL archives, used only by the tests to make input files
// (the library reads these formats; it never writes them).

import Datasets
import Foundation
import ZIPFoundation

extension NPYArray {
    /// A `float64` array; `shape` defaults to one dimension of `values.count`.
    init(float64 values: [Double], shape: [Int]? = nil) throws {
        try self.init(shape: shape ?? [values.count], dtype: .float64, data: values.withUnsafeBytes { Data($0) })
    }

    /// A `float32` array; `shape` defaults to one dimension of `values.count`.
    init(float32 values: [Float], shape: [Int]? = nil) throws {
        try self.init(shape: shape ?? [values.count], dtype: .float32, data: values.withUnsafeBytes { Data($0) })
    }

    /// A `bool` array (bytes 0 and 1); `shape` defaults to one dimension of `values.count`.
    init(bools values: [Bool], shape: [Int]? = nil) throws {
        try self.init(shape: shape ?? [values.count], dtype: .bool, data: Data(values.map { $0 ? 1 : 0 }))
    }

    /// An `int64` array; `shape` defaults to one dimension of `values.count`.
    init(int64 values: [Int64], shape: [Int]? = nil) throws {
        try self.init(shape: shape ?? [values.count], dtype: .int64, data: values.withUnsafeBytes { Data($0) })
    }

    /// The array as the bytes of a `.npy` file, format 1.0: magic, version, u16 header length, the header
    /// dict padded with spaces and a newline so that the data starts at a multiple of 64 bytes, the data.
    func npyData() -> Data {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = Array("{'descr': '\(dtype.descr)', 'fortran_order': False, 'shape': \(shapeText), }".utf8)
        header += Array(repeating: UInt8(ascii: " "), count: (64 - (10 + header.count + 1) % 64) % 64) + [0x0A]
        return Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)] + header) + data
    }

    /// Writes the array to `url` as a `.npy` file.
    func write(to url: URL) throws { try npyData().write(to: url) }
}

/// Writes NumPy `.npz` files: a ZIP archive with one entry `NAME.npy` per array, stored (as `numpy.savez`
/// does) or deflated (`numpy.savez_compressed`), with fixed entry dates so the same arrays give the same bytes.
enum NPZWriter {
    enum Compression { case stored, deflate }

    /// Writes `arrays` in order of their names.
    static func write(_ arrays: [String: NPYArray], to url: URL, compression: Compression = .stored) throws {
        try write(arrays: arrays.keys.sorted().map { ($0, arrays[$0]!) }, to: url, compression: compression)
    }

    /// Writes `arrays` as entries `name.npy`, in the given order (replacing an existing file).
    static func write(arrays: [(name: String, array: NPYArray)], to url: URL, compression: Compression = .stored) throws {
        try? FileManager.default.removeItem(at: url)
        let archive = try Archive(url: url, accessMode: .create)
        for (name, array) in arrays {
            let bytes = array.npyData()
            try archive.addEntry(with: name + ".npy", type: .file, uncompressedSize: Int64(bytes.count),
                                 modificationDate: Date(timeIntervalSince1970: 315_576_000), permissions: 0o644,
                                 compressionMethod: compression == .stored ? .none : .deflate, bufferSize: 1 << 20,
                                 provider: { position, size in
                                     bytes.subdata(in: Int(position)..<min(bytes.count, Int(position) + size))
                                 })
        }
    }
}

/// Floating-point type of the observation, action and reward arrays a test writes.
enum D4RLPrecision { case float32, float64 }

extension D4RLDataset {
    /// A dataset from row-major values, as if read from a file holding them.
    init(observations: [Double], actions: [Double], rewards: [Double], terminals: [Bool], timeouts: [Bool]? = nil,
         nextObservations: [Double]? = nil, observationDimension: Int, actionDimension: Int) throws {
        let n = rewards.count
        var arrays: [String: NPYArray] = [
            ArrayName.observations: try NPYArray(float64: observations, shape: [n, observationDimension]),
            ArrayName.actions: try NPYArray(float64: actions, shape: [n, actionDimension]),
            ArrayName.rewards: try NPYArray(float64: rewards),
            ArrayName.terminals: try NPYArray(bools: terminals),
        ]
        if let timeouts { arrays[ArrayName.timeouts] = try NPYArray(bools: timeouts) }
        if let nextObservations {
            arrays[ArrayName.nextObservations] = try NPYArray(float64: nextObservations, shape: [n, observationDimension])
        }
        try self.init(arrays: arrays, source: nil)
    }

    /// Writes the transitions as a D4RL `.npz` file: observations, actions, next observations and rewards in
    /// `precision`, terminals (and timeouts when the dataset has them) as `bool`.
    func write(to url: URL, precision: D4RLPrecision = .float32, compression: NPZWriter.Compression = .stored) throws {
        func array(_ values: [Double], _ shape: [Int]) throws -> NPYArray {
            precision == .float32 ? try NPYArray(float32: values.map { Float($0) }, shape: shape)
                : try NPYArray(float64: values, shape: shape)
        }
        var arrays: [(name: String, array: NPYArray)] = [
            (ArrayName.observations, try array(observations, [count, observationDimension])),
            (ArrayName.actions, try array(actions, [count, actionDimension])),
            (ArrayName.nextObservations, try array(nextObservations, [count, observationDimension])),
            (ArrayName.rewards, try array(rewards, [count])),
            (ArrayName.terminals, try NPYArray(bools: terminals)),
        ]
        if hasTimeouts { arrays.append((ArrayName.timeouts, try NPYArray(bools: timeouts))) }
        try NPZWriter.write(arrays: arrays, to: url, compression: compression)
    }
}
