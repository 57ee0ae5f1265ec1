// Matrix.swift: the two dense value types the networks compute with.
//
// `Matrix` is one row-major Float matrix (rows × cols); `BatchedMatrix` is `count` such
// matrices of one shape stored back to back (count × rows × cols), the layout LinAlg's
// batched GEMM reads for ensembles. Both are plain value types over a Swift `[Float]`
// (copy-on-write); products go through LinAlg in ONE C call per product, never per element.

import ControlCore
import Foundation
import LinAlg

// MARK: - Matrix

/// A dense row-major matrix of `Float`: element (i, j) is `storage[i * cols + j]`.
///
/// Batches of samples are matrices with one sample per row (batch × features), the layout
/// every layer of this module takes and returns. Invariant: `storage.count == rows * cols`
/// (checked by every initializer and before every LinAlg call).
///
/// Products (`matmul`, `transposedMatmul`, `matmulTransposed`) are single calls into LinAlg
/// (`la_gemm`, `la_gemm_tn`, `la_gemm_nt`); element-wise helpers are plain Swift loops.
public struct Matrix: Sendable, Equatable, CustomStringConvertible {
    /// Number of rows (for a batch: the batch size).
    public let rows: Int
    /// Number of columns (for a batch: the feature width).
    public let cols: Int
    /// The entries, row-major; `storage.count == rows * cols` must hold.
    public var storage: [Float]

    /// A `rows × cols` matrix filled with `value` (0 by default).
    /// - Precondition: `rows >= 0`, `cols >= 0`.
    public init(rows: Int, cols: Int, repeating value: Float = 0) {
        precondition(rows >= 0 && cols >= 0, "Matrix: negative shape \(rows)×\(cols)")
        self.rows = rows
        self.cols = cols
        storage = Array(repeating: value, count: rows * cols)
    }

    /// A `rows × cols` matrix over the given row-major entries.
    /// - Precondition: `storage.count == rows * cols`.
    public init(rows: Int, cols: Int, storage: [Float]) {
        precondition(rows >= 0 && cols >= 0, "Matrix: negative shape \(rows)×\(cols)")
        precondition(storage.count == rows * cols,
                     "Matrix: \(storage.count) entries for a \(rows)×\(cols) matrix")
        self.rows = rows
        self.cols = cols
        self.storage = storage
    }

    /// A matrix from nested rows (`rowArrays[i][j]` is element (i, j)); all rows equally long.
    /// An empty array gives a 0 × 0 matrix.
    public init(_ rowArrays: [[Float]]) {
        let c = rowArrays.first?.count ?? 0
        precondition(rowArrays.allSatisfy { $0.count == c }, "Matrix: ragged rows")
        self.init(rows: rowArrays.count, cols: c, storage: rowArrays.flatMap { $0 })
    }

    /// A matrix whose entries are written by `fill`, which must initialize all
    /// `rows * cols` entries of the buffer it is given (no zero-filling first).
    @inlinable
    public init(rows: Int, cols: Int, uninitialized fill: (UnsafeMutableBufferPointer<Float>) -> Void) {
        precondition(rows >= 0 && cols >= 0, "Matrix: negative shape \(rows)×\(cols)")
        self.rows = rows
        self.cols = cols
        let n = rows * cols
        storage = [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            fill(UnsafeMutableBufferPointer(rebasing: buffer[0..<n]))
            initialized = n
        }
    }

    /// A matrix of independent uniform samples in `[low, high)` drawn from `rng`, row by row.
    public static func uniform(rows: Int, cols: Int, low: Float, high: Float,
                               using rng: inout SeededRNG) -> Matrix {
        var m = Matrix(rows: rows, cols: cols)
        for i in m.storage.indices { m.storage[i] = Float(rng.uniform(Double(low), Double(high))) }
        return m
    }

    /// The `n × n` identity matrix.
    public static func identity(_ n: Int) -> Matrix {
        var m = Matrix(rows: n, cols: n)
        for i in 0..<n { m.storage[i * n + i] = 1 }
        return m
    }

    /// `rows * cols`.
    @inlinable public var count: Int { rows * cols }
    /// True when `storage.count == rows * cols` (checked before every LinAlg call).
    @inlinable public var isConsistent: Bool { storage.count == rows * cols }
    /// `(rows, cols)`.
    @inlinable public var shape: (rows: Int, cols: Int) { (rows, cols) }

    /// Element (i, j) (bounds-checked).
    @inlinable public subscript(i: Int, j: Int) -> Float {
        get {
            precondition(i >= 0 && i < rows && j >= 0 && j < cols, "Matrix: index (\(i), \(j)) out of \(rows)×\(cols)")
            return storage[i * cols + j]
        }
        set {
            precondition(i >= 0 && i < rows && j >= 0 && j < cols, "Matrix: index (\(i), \(j)) out of \(rows)×\(cols)")
            storage[i * cols + j] = newValue
        }
    }

    /// Row `i` as an array of `cols` entries.
    public func row(_ i: Int) -> [Float] {
        precondition(i >= 0 && i < rows, "Matrix: row \(i) out of \(rows)")
        return Array(storage[i * cols..<(i + 1) * cols])
    }

    /// The rows in `range` as a new matrix (range.count × cols).
    public func rows(_ range: Range<Int>) -> Matrix {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "Matrix: rows \(range) out of \(rows)")
        return Matrix(rows: range.count, cols: cols,
                      storage: Array(storage[range.lowerBound * cols..<range.upperBound * cols]))
    }

    /// The columns in `range` as a new matrix (rows × range.count), e.g. the mean half of a
    /// Gaussian head's output.
    public func columns(_ range: Range<Int>) -> Matrix {
        precondition(range.lowerBound >= 0 && range.upperBound <= cols, "Matrix: columns \(range) out of \(cols)")
        let w = range.count
        return Matrix(rows: rows, cols: w) { out in
            storage.withUnsafeBufferPointer { src in
                for i in 0..<rows {
                    for j in 0..<w { out[i * w + j] = src[i * cols + range.lowerBound + j] }
                }
            }
        }
    }

    /// `[self | other]`: the columns of `other` appended to those of `self` (same row count).
    public func concatenatingColumns(_ other: Matrix) -> Matrix {
        precondition(rows == other.rows, "Matrix: cannot concatenate \(rows) rows with \(other.rows)")
        let w = cols + other.cols
        return Matrix(rows: rows, cols: w) { out in
            storage.withUnsafeBufferPointer { a in
                other.storage.withUnsafeBufferPointer { b in
                    for i in 0..<rows {
                        for j in 0..<cols { out[i * w + j] = a[i * cols + j] }
                        for j in 0..<other.cols { out[i * w + cols + j] = b[i * other.cols + j] }
                    }
                }
            }
        }
    }

    /// `[self; other]`: the rows of `other` below those of `self` (same column count).
    public func concatenatingRows(_ other: Matrix) -> Matrix {
        precondition(cols == other.cols, "Matrix: cannot stack \(cols) columns on \(other.cols)")
        return Matrix(rows: rows + other.rows, cols: cols, storage: storage + other.storage)
    }

    /// The transpose (cols × rows), copied.
    public func transposed() -> Matrix {
        Matrix(rows: cols, cols: rows) { out in
            storage.withUnsafeBufferPointer { src in
                for i in 0..<rows { for j in 0..<cols { out[j * rows + i] = src[i * cols + j] } }
            }
        }
    }

    // MARK: Products (LinAlg)

    /// `act(self · b + bias)`: (rows × k)·(k × n) → (rows × n), ONE `la_gemm` call with the
    /// bias (length n, added to every row) and the activation fused into its epilogue.
    /// - Precondition: `cols == b.rows`; `bias` is nil or has `b.cols` entries.
    public func matmul(_ b: Matrix, bias: [Float]? = nil, activation: Activation = .identity) -> Matrix {
        precondition(isConsistent && b.isConsistent, "Matrix.matmul: storage size does not match the shape")
        precondition(cols == b.rows, "Matrix.matmul: (\(rows)×\(cols))·(\(b.rows)×\(b.cols))")
        precondition(bias == nil || bias!.count == b.cols, "Matrix.matmul: bias has \(bias!.count) entries, need \(b.cols)")
        return Matrix(rows: rows, cols: b.cols) { c in
            storage.withUnsafeBufferPointer { pa in
                b.storage.withUnsafeBufferPointer { pb in
                    withOptionalBuffer(bias) { pbias in
                        la_gemm(Int32(rows), Int32(b.cols), Int32(cols), base(pa), base(pb), pbias,
                                base(c), activation.linAlgCode, 0)
                    }
                }
            }
        }
    }

    /// `selfᵀ · b`: self is (k × m), b is (k × n), result (m × n); ONE `la_gemm_tn` call
    /// (self is not transposed in memory). Backprop's weight gradient Xᵀ·dZ.
    /// - Precondition: `rows == b.rows`.
    public func transposedMatmul(_ b: Matrix) -> Matrix {
        precondition(isConsistent && b.isConsistent, "Matrix.transposedMatmul: storage size does not match the shape")
        precondition(rows == b.rows, "Matrix.transposedMatmul: (\(rows)×\(cols))ᵀ·(\(b.rows)×\(b.cols))")
        return Matrix(rows: cols, cols: b.cols) { c in
            storage.withUnsafeBufferPointer { pa in
                b.storage.withUnsafeBufferPointer { pb in
                    la_gemm_tn(Int32(cols), Int32(b.cols), Int32(rows), base(pa), base(pb), base(c), 0)
                }
            }
        }
    }

    /// `self · bᵀ`: self is (m × k), b is (n × k), result (m × n); ONE `la_gemm_nt` call.
    /// Backprop's input gradient dZ·Wᵀ.
    /// - Precondition: `cols == b.cols`.
    public func matmulTransposed(_ b: Matrix) -> Matrix {
        precondition(isConsistent && b.isConsistent, "Matrix.matmulTransposed: storage size does not match the shape")
        precondition(cols == b.cols, "Matrix.matmulTransposed: (\(rows)×\(cols))·(\(b.rows)×\(b.cols))ᵀ")
        return Matrix(rows: rows, cols: b.rows) { c in
            storage.withUnsafeBufferPointer { pa in
                b.storage.withUnsafeBufferPointer { pb in
                    la_gemm_nt(Int32(rows), Int32(b.rows), Int32(cols), base(pa), base(pb), base(c), 0)
                }
            }
        }
    }

    /// The activation applied element-wise (same shape), through LinAlg's GEMM epilogue, so
    /// the values are bit-identical to a fused `matmul(..., activation:)`.
    public func applying(_ activation: Activation) -> Matrix {
        precondition(isConsistent, "Matrix.applying: storage size does not match the shape")
        var out = self
        if activation == .identity || count == 0 { return out }
        out.storage.withUnsafeMutableBufferPointer { activation.applyInPlace(rows: rows, cols: cols, $0) }
        return out
    }

    // MARK: Element-wise

    /// Element-wise sum (same shape).
    public static func + (a: Matrix, b: Matrix) -> Matrix { a.zipMap(b, +) }
    /// Element-wise difference (same shape).
    public static func - (a: Matrix, b: Matrix) -> Matrix { a.zipMap(b, -) }
    /// Every entry scaled by `s`.
    public static func * (s: Float, a: Matrix) -> Matrix {
        Matrix(rows: a.rows, cols: a.cols, storage: a.storage.map { s * $0 })
    }
    /// Element-wise (Hadamard) product (same shape).
    public func hadamard(_ b: Matrix) -> Matrix { zipMap(b, *) }

    /// Element-wise combination of two same-shaped matrices.
    public func zipMap(_ b: Matrix, _ f: (Float, Float) -> Float) -> Matrix {
        precondition(rows == b.rows && cols == b.cols,
                     "Matrix: shapes \(rows)×\(cols) and \(b.rows)×\(b.cols) differ")
        return Matrix(rows: rows, cols: cols) { out in
            storage.withUnsafeBufferPointer { pa in
                b.storage.withUnsafeBufferPointer { pb in
                    for i in 0..<pa.count { out[i] = f(pa[i], pb[i]) }
                }
            }
        }
    }

    /// Column sums (length cols), accumulated in Double.
    public func columnSums() -> [Float] {
        var acc = [Double](repeating: 0, count: cols)
        storage.withUnsafeBufferPointer { p in
            for i in 0..<rows { for j in 0..<cols { acc[j] += Double(p[i * cols + j]) } }
        }
        return acc.map { Float($0) }
    }

    /// Largest absolute entry-wise difference to `other` (same shape); 0 for empty matrices.
    public func maxAbsDifference(_ other: Matrix) -> Float {
        precondition(rows == other.rows && cols == other.cols, "Matrix: shapes differ")
        var m: Float = 0
        for i in storage.indices { m = Swift.max(m, abs(storage[i] - other.storage[i])) }
        return m
    }

    /// A short description with the shape and (for small matrices) the rows.
    public var description: String {
        if count > 64 { return "Matrix(\(rows)×\(cols))" }
        return "Matrix(\(rows)×\(cols)) " + (0..<rows).map { "\(row($0))" }.joined(separator: " ")
    }
}

// MARK: - BatchedMatrix

/// `count` row-major matrices of one shape (rows × cols) stored back to back: element
/// (e, i, j) is `storage[(e * rows + i) * cols + j]`. The shape (E × B × features) of the
/// ensemble layers: member e's batch is matrix e.
///
/// Invariant: `storage.count == count * rows * cols`.
public struct BatchedMatrix: Sendable, Equatable, CustomStringConvertible {
    /// Number of matrices (for an ensemble: the member count E).
    public let count: Int
    /// Rows of each matrix (for an ensemble: the batch size per member).
    public let rows: Int
    /// Columns of each matrix (feature width).
    public let cols: Int
    /// All entries, matrix after matrix, each row-major.
    public var storage: [Float]

    /// `count` matrices of shape `rows × cols`, filled with `value`.
    public init(count: Int, rows: Int, cols: Int, repeating value: Float = 0) {
        precondition(count >= 0 && rows >= 0 && cols >= 0, "BatchedMatrix: negative shape")
        self.count = count
        self.rows = rows
        self.cols = cols
        storage = Array(repeating: value, count: count * rows * cols)
    }

    /// `count` matrices of shape `rows × cols` over the given entries.
    /// - Precondition: `storage.count == count * rows * cols`.
    public init(count: Int, rows: Int, cols: Int, storage: [Float]) {
        precondition(count >= 0 && rows >= 0 && cols >= 0, "BatchedMatrix: negative shape")
        precondition(storage.count == count * rows * cols,
                     "BatchedMatrix: \(storage.count) entries for \(count)×\(rows)×\(cols)")
        self.count = count
        self.rows = rows
        self.cols = cols
        self.storage = storage
    }

    /// The given matrices stacked; all must have the same shape (at least one matrix).
    public init(_ members: [Matrix]) {
        precondition(!members.isEmpty, "BatchedMatrix: no matrices")
        let r = members[0].rows, c = members[0].cols
        precondition(members.allSatisfy { $0.rows == r && $0.cols == c }, "BatchedMatrix: shapes differ")
        self.init(count: members.count, rows: r, cols: c, storage: members.flatMap { $0.storage })
    }

    /// The same matrix repeated `count` times (e.g. one batch fed to every ensemble member).
    public init(repeating matrix: Matrix, count: Int) {
        var s = [Float]()
        s.reserveCapacity(count * matrix.count)
        for _ in 0..<count { s.append(contentsOf: matrix.storage) }
        self.init(count: count, rows: matrix.rows, cols: matrix.cols, storage: s)
    }

    /// Storage written by `fill`, which must initialize all `count * rows * cols` entries.
    @inlinable
    public init(count: Int, rows: Int, cols: Int, uninitialized fill: (UnsafeMutableBufferPointer<Float>) -> Void) {
        precondition(count >= 0 && rows >= 0 && cols >= 0, "BatchedMatrix: negative shape")
        self.count = count
        self.rows = rows
        self.cols = cols
        let n = count * rows * cols
        storage = [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            fill(UnsafeMutableBufferPointer(rebasing: buffer[0..<n]))
            initialized = n
        }
    }

    /// Entries per matrix (`rows * cols`).
    @inlinable public var matrixSize: Int { rows * cols }
    /// True when `storage.count == count * rows * cols` (checked before every LinAlg call).
    @inlinable public var isConsistent: Bool { storage.count == count * rows * cols }

    /// Matrix `e` (copied out on get; its shape must match on set).
    public subscript(e: Int) -> Matrix {
        get {
            precondition(e >= 0 && e < count, "BatchedMatrix: matrix \(e) out of \(count)")
            return Matrix(rows: rows, cols: cols, storage: Array(storage[e * matrixSize..<(e + 1) * matrixSize]))
        }
        set {
            precondition(e >= 0 && e < count, "BatchedMatrix: matrix \(e) out of \(count)")
            precondition(newValue.rows == rows && newValue.cols == cols, "BatchedMatrix: shape mismatch")
            storage.replaceSubrange(e * matrixSize..<(e + 1) * matrixSize, with: newValue.storage)
        }
    }

    /// Element (e, i, j) (bounds-checked).
    public subscript(e: Int, i: Int, j: Int) -> Float {
        get {
            precondition(e >= 0 && e < count && i >= 0 && i < rows && j >= 0 && j < cols, "BatchedMatrix: index out of range")
            return storage[(e * rows + i) * cols + j]
        }
        set {
            precondition(e >= 0 && e < count && i >= 0 && i < rows && j >= 0 && j < cols, "BatchedMatrix: index out of range")
            storage[(e * rows + i) * cols + j] = newValue
        }
    }

    /// The matrices as an array.
    public var matrices: [Matrix] { (0..<count).map { self[$0] } }

    /// All `count * rows` rows as one (count·rows × cols) matrix (same storage order).
    public var flattened: Matrix { Matrix(rows: count * rows, cols: cols, storage: storage) }

    /// The columns in `range` of every matrix (count × rows × range.count).
    public func columns(_ range: Range<Int>) -> BatchedMatrix {
        let m = flattened.columns(range)
        return BatchedMatrix(count: count, rows: rows, cols: range.count, storage: m.storage)
    }

    /// Largest absolute entry-wise difference to `other` (same shape).
    public func maxAbsDifference(_ other: BatchedMatrix) -> Float {
        precondition(count == other.count && rows == other.rows && cols == other.cols, "BatchedMatrix: shapes differ")
        return flattened.maxAbsDifference(other.flattened)
    }

    /// A short description with the shape.
    public var description: String { "BatchedMatrix(\(count)×\(rows)×\(cols))" }
}

// MARK: - Pointer helpers (internal)

/// A valid non-null pointer handed to LinAlg for empty arrays (which LinAlg never reads or
/// writes); Swift gives empty buffers a nil base address.
nonisolated(unsafe) let emptyFloatPointer = UnsafeMutablePointer<Float>.allocate(capacity: 1)

@inline(__always) func base(_ p: UnsafeBufferPointer<Float>) -> UnsafePointer<Float> {
    p.baseAddress ?? UnsafePointer(emptyFloatPointer)
}

@inline(__always) func base(_ p: UnsafeMutableBufferPointer<Float>) -> UnsafeMutablePointer<Float> {
    p.baseAddress ?? emptyFloatPointer
}

/// Calls `body` with a pointer to `array`'s storage, or nil when `array` is nil.
@inline(__always) func withOptionalBuffer<R>(_ array: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let array else { return body(nil) }
    return array.withUnsafeBufferPointer { body(base($0)) }
}
