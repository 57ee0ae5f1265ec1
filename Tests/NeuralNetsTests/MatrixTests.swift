// Matrix / BatchedMatrix checks: LinAlg-backed products against naive loops, slicing, shapes,
// initialization statistics.

import ControlCore
import Foundation
import NeuralNets
import Testing

/// Naive (m × k)·(k × n) in Double.
private func naive(_ a: Matrix, _ b: Matrix) -> [Double] {
    var c = [Double](repeating: 0, count: a.rows * b.cols)
    for i in 0..<a.rows { for j in 0..<b.cols { for p in 0..<a.cols {
        c[i * b.cols + j] += Double(a[i, p]) * Double(b[p, j])
    } } }
    return c
}

private func close(_ x: Matrix, _ y: [Double], _ tol: Double = 1e-5) -> Bool {
    zip(x.storage, y).allSatisfy { abs(Double($0) - $1) <= tol * max(1, abs($1)) }
}

@Suite("Matrix")
struct MatrixTests {
    @Test("Products through LinAlg match naive loops")
    func products() {
        var rng = SeededRNG(seed: 80)
        let a = randomMatrix(7, 5, &rng), b = randomMatrix(5, 3, &rng)
        #expect(close(a.matmul(b), naive(a, b)))
        let bias: [Float] = [0.5, -1, 2]
        let withBias = a.matmul(b, bias: bias, activation: .relu)
        let ref = naive(a, b).enumerated().map { max($0.element + Double(bias[$0.offset % 3]), 0) }
        #expect(close(withBias, ref))
        let c = randomMatrix(7, 4, &rng)
        #expect(close(a.transposedMatmul(c), naive(a.transposed(), c)))
        let d = randomMatrix(6, 5, &rng)
        #expect(close(a.matmulTransposed(d), naive(a, d.transposed())))
        // Empty shapes are fine.
        #expect(Matrix(rows: 0, cols: 5).matmul(b).count == 0)
        #expect(Matrix(rows: 3, cols: 0).matmul(Matrix(rows: 0, cols: 2)) == Matrix(rows: 3, cols: 2))
    }

    @Test("Slicing, concatenation, transposition and batches")
    func shapes() {
        let m = Matrix([[1, 2, 3], [4, 5, 6]])
        #expect(m.shape == (2, 3) && m[1, 2] == 6)
        #expect(m.columns(1..<3) == Matrix([[2, 3], [5, 6]]))
        #expect(m.rows(1..<2) == Matrix([[4, 5, 6]]))
        #expect(m.columns(0..<1).concatenatingColumns(m.columns(1..<3)) == m)
        #expect(m.transposed() == Matrix([[1, 4], [2, 5], [3, 6]]))
        #expect((m + m) == 2 * m && (m - m) == Matrix(rows: 2, cols: 3))
        #expect(m.columnSums() == [5, 7, 9])
        var bm = BatchedMatrix([m, 2 * m])
        #expect(bm.count == 2 && bm[1] == 2 * m && bm[1, 0, 2] == 6)
        bm[0] = m.hadamard(m)
        #expect(bm[0] == Matrix([[1, 4, 9], [16, 25, 36]]))
        #expect(bm.columns(2..<3)[1] == Matrix([[6], [12]]))
        #expect(bm.flattened.rows == 4)
    }

    @Test("A shape mismatch stops the process (precondition)")
    func shapeMismatchTraps() async {
        await #expect(processExitsWith: .failure) {
            _ = Matrix(rows: 2, cols: 3).matmul(Matrix(rows: 2, cols: 3))
        }
    }

    @Test("Initializations have the documented spread", arguments: [WeightInitialization.xavierUniform, .heUniform, .truncatedNormal])
    func initializationSpread(_ initialization: WeightInitialization) {
        var rng = SeededRNG(seed: 81)
        let (fanIn, fanOut) = (100, 60)
        let w = initialization.sample(fanIn: fanIn, fanOut: fanOut, using: &rng).map(Double.init)
        let variance = w.reduce(0) { $0 + $1 * $1 } / Double(w.count)
        let expected: Double
        switch initialization {
        case .xavierUniform: expected = 2.0 / Double(fanIn + fanOut)
        case .heUniform: expected = 2.0 / Double(fanIn)
        case .truncatedNormal:
            expected = 0.7737 / (4.0 * Double(fanIn))  // N(0, σ²) truncated at ±2σ: variance 0.7737σ²
            #expect(w.allSatisfy { abs($0) <= 2 / (2 * Double(fanIn).squareRoot()) + 1e-6 })
        }
        #expect(abs(variance / expected - 1) < 0.08, "\(initialization): variance \(variance) vs \(expected)")
    }
}
