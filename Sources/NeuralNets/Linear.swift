// Linear.swift: a fully connected layer y = σ(x·W + b) with manual reverse-mode backward.
//
// Forward is ONE `la_gemm` call with the bias and activation fused into the epilogue; backward
// is `la_gemm_tn` (dW += Xᵀ·dZ, and db += 1ᵀ·dZ) and `la_gemm_nt` (dX = dZ·Wᵀ).

import ControlCore
import Foundation
import LinAlg

/// A fully connected layer y = σ(x·W + b) on a batch of row vectors.
///
/// Shapes: input x (B × in), weight W (in × out, row-major), bias b (out), output y (B × out).
/// W is stored as (in × out) (transposed relative to PyTorch's `nn.Linear.weight`) so that
/// the forward product is a plain row-major GEMM.
///
/// - `callAsFunction(_:)`: inference, one fused `la_gemm`, no caches.
/// - `forward(_:)`: training forward, keeps what `backward` needs (x, y, and z for SiLU).
/// - `backward(_:)`: given dL/dy, ADDS dL/dW and dL/db into the parameters' `grad` and
///   returns dL/dx.
public struct Linear: Trainable, Sendable {
    /// Input width (fan-in).
    public let inputSize: Int
    /// Output width (fan-out).
    public let outputSize: Int
    /// The activation σ fused after the affine map.
    public var activation: Activation
    /// W, shape [in, out].
    public var weight: Parameter
    /// b, shape [out].
    public var bias: Parameter

    /// What the last training forward kept for backward.
    struct Cache: Sendable {
        var input: Matrix
        var output: Matrix
        var preActivation: Matrix?
    }
    var cache: Cache?

    /// A layer with weights drawn from `rng` by `initialization` (default: He for the ReLU
    /// family, Xavier otherwise) and zero bias.
    public init(inputSize: Int, outputSize: Int, activation: Activation = .identity,
                initialization: WeightInitialization? = nil, name: String = "linear",
                rng: inout SeededRNG) {
        precondition(inputSize > 0 && outputSize > 0, "Linear: sizes must be positive")
        let initialization = initialization ?? .default(for: activation)
        self.init(weight: Matrix(rows: inputSize, cols: outputSize,
                                 storage: initialization.sample(fanIn: inputSize, fanOut: outputSize, using: &rng)),
                  bias: Array(repeating: 0, count: outputSize), activation: activation, name: name)
    }

    /// A layer with the given weight (in × out) and bias (out).
    public init(weight: Matrix, bias: [Float], activation: Activation = .identity, name: String = "linear") {
        precondition(bias.count == weight.cols, "Linear: bias has \(bias.count) entries, weight has \(weight.cols) columns")
        inputSize = weight.rows
        outputSize = weight.cols
        self.activation = activation
        self.weight = Parameter(name: name + ".weight", shape: [weight.rows, weight.cols], value: weight.storage)
        self.bias = Parameter(name: name + ".bias", shape: [weight.cols], value: bias)
    }

    /// W as a matrix (in × out).
    public var weightMatrix: Matrix {
        get { Matrix(rows: inputSize, cols: outputSize, storage: weight.value) }
        set {
            precondition(newValue.rows == inputSize && newValue.cols == outputSize, "Linear: weight shape mismatch")
            weight.value = newValue.storage
        }
    }

    /// Visits `weight`, then `bias`.
    public mutating func forEachParameter(_ body: (inout Parameter) throws -> Void) rethrows {
        try body(&weight)
        try body(&bias)
    }

    /// Inference: y = σ(x·W + b), (B × in) → (B × out), one fused `la_gemm`. Keeps no cache.
    public func callAsFunction(_ x: Matrix) -> Matrix {
        precondition(x.isConsistent && x.cols == inputSize, "Linear: input has \(x.cols) columns, layer takes \(inputSize)")
        return Matrix(rows: x.rows, cols: outputSize) { y in
            gemmForward(rows: x.rows, x: x.storage, activation: activation, into: y)
        }
    }

    /// Training forward: y = σ(x·W + b), (B × in) → (B × out), keeping x, y (and z for SiLU)
    /// for `backward`.
    ///
    /// One fused `la_gemm` call, except for activations whose derivative needs z (SiLU): then
    /// `la_gemm` fuses only the bias (giving z) and σ is applied to a copy through the same
    /// LinAlg epilogue (bit-identical to the fused call).
    public mutating func forward(_ x: Matrix) -> Matrix {
        precondition(x.isConsistent && x.cols == inputSize, "Linear: input has \(x.cols) columns, layer takes \(inputSize)")
        if activation.needsPreActivation {
            let z = Matrix(rows: x.rows, cols: outputSize) { z in
                gemmForward(rows: x.rows, x: x.storage, activation: .identity, into: z)
            }
            let y = z.applying(activation)
            cache = Cache(input: x, output: y, preActivation: z)
            return y
        }
        let y = self(x)
        cache = Cache(input: x, output: y, preActivation: nil)
        return y
    }

    /// Backward: given dL/dy (B × out) for the last `forward`, adds dL/dW = xᵀ·dz and
    /// dL/db = Σ_rows dz into the gradients (dz = dL/dy ⊙ σ′) and returns dL/dx = dz·Wᵀ (B × in).
    /// - Precondition: `forward` was called with a batch of the same size.
    @discardableResult
    public mutating func backward(_ gradOutput: Matrix) -> Matrix {
        backward(gradOutput, computeInputGradient: true)!
    }

    /// Like `backward` but skips dL/dx (the first layer of a network needs no input gradient).
    public mutating func accumulateGradients(_ gradOutput: Matrix) {
        _ = backward(gradOutput, computeInputGradient: false)
    }

    mutating func backward(_ gradOutput: Matrix, computeInputGradient: Bool) -> Matrix? {
        guard let cache else { preconditionFailure("Linear.backward: call forward(_:) first") }
        return weight.grad.withUnsafeMutableBufferPointer { dw in
            bias.grad.withUnsafeMutableBufferPointer { db in
                Self.backward(cache: cache, weight: weight.value, activation: activation, gradOutput: gradOutput,
                              weightGrad: dw, biasGrad: db, computeInputGradient: computeInputGradient)
            }
        }
    }

    /// dL/dx (B × in) = (dL/dy ⊙ σ′)·Wᵀ for the last `forward`, WITHOUT touching the parameter gradients:
    /// what an actor update needs from a critic (∂Q/∂action) while the critic itself is not trained.
    public func inputGradient(_ gradOutput: Matrix) -> Matrix {
        guard let cache else { preconditionFailure("Linear.inputGradient: call forward(_:) first") }
        return Self.backward(cache: cache, weight: weight.value, activation: activation, gradOutput: gradOutput,
                             weightGrad: nil, biasGrad: nil, computeInputGradient: true)!
    }

    /// dL/dx for the rows `rows` of the last `forward` only ((rows.count) × in), given dL/dy for those rows
    /// (rows.count × out), without touching the parameter gradients: the same numbers as the matching rows of
    /// `inputGradient` for a gradient that is zero on every other row, at rows.count/B of its cost.
    public func inputGradient(_ gradOutput: Matrix, rows: [Int]) -> Matrix {
        guard let cache else { preconditionFailure("Linear.inputGradient: call forward(_:) first") }
        let n = rows.count, outSize = outputSize
        precondition(gradOutput.isConsistent && gradOutput.rows == n && gradOutput.cols == outSize,
                     "Linear.inputGradient: gradient is \(gradOutput.rows)×\(gradOutput.cols) for \(n) rows of width \(outSize)")
        func gather(_ m: Matrix) -> Matrix {
            Matrix(rows: n, cols: m.cols) { out in
                m.storage.withUnsafeBufferPointer { src in
                    let w = m.cols
                    for (r, i) in rows.enumerated() {
                        precondition(i >= 0 && i < m.rows, "Linear.inputGradient: row \(i) of \(m.rows)")
                        (out.baseAddress! + r * w).update(from: src.baseAddress! + i * w, count: w)
                    }
                }
            }
        }
        // dL/dx does not depend on x: only y (and z) of the chosen rows are needed.
        let rowsCache = Cache(input: Matrix(rows: n, cols: 0), output: gather(cache.output), preActivation: cache.preActivation.map(gather))
        return Self.backward(cache: rowsCache, weight: weight.value, activation: activation, gradOutput: gradOutput,
                             weightGrad: nil, biasGrad: nil, computeInputGradient: true, inputSize: inputSize)!
    }

    private static func backward(cache: Cache, weight w: [Float], activation act: Activation, gradOutput: Matrix,
                                 weightGrad: UnsafeMutableBufferPointer<Float>?, biasGrad: UnsafeMutableBufferPointer<Float>?,
                                 computeInputGradient: Bool, inputSize: Int? = nil) -> Matrix? {
        let b = cache.output.rows, inSize = inputSize ?? cache.input.cols, outSize = cache.output.cols
        precondition(gradOutput.isConsistent && gradOutput.rows == b && gradOutput.cols == outSize,
                     "Linear.backward: gradient is \(gradOutput.rows)×\(gradOutput.cols), output was \(b)×\(outSize)")
        // dx is fully overwritten by la_gemm_nt (accumulate = 0), so it starts uninitialized.
        var dx = uninitializedFloats(computeInputGradient ? b * inSize : 0)
        cache.input.storage.withUnsafeBufferPointer { x in
            cache.output.storage.withUnsafeBufferPointer { y in
                withOptionalBuffer(cache.preActivation?.storage) { z in
                    gradOutput.storage.withUnsafeBufferPointer { g in
                        w.withUnsafeBufferPointer { wp in
                            dx.withUnsafeMutableBufferPointer { dxp in
                                linearBackward(batch: b, inputSize: inSize, outputSize: outSize, activation: act,
                                               x: x, y: y, z: z, w: wp, gradOutput: g,
                                               weightGrad: weightGrad, biasGrad: biasGrad,
                                               gradInput: computeInputGradient ? dxp : nil)
                            }
                        }
                    }
                }
            }
        }
        return computeInputGradient ? Matrix(rows: b, cols: inSize, storage: dx) : nil
    }

    /// Drops the training caches (frees the stored activations).
    public mutating func clearCache() { cache = nil }

    /// y (rows × out) = σ(x·W + b) for x (rows × in): one `la_gemm`.
    private func gemmForward(rows: Int, x: [Float], activation: Activation, into y: UnsafeMutableBufferPointer<Float>) {
        precondition(weight.value.count == inputSize * outputSize && bias.value.count == outputSize,
                     "Linear: weight or bias resized")
        x.withUnsafeBufferPointer { xp in
            weight.value.withUnsafeBufferPointer { wp in
                bias.value.withUnsafeBufferPointer { bp in
                    la_gemm(Int32(rows), Int32(outputSize), Int32(inputSize), base(xp), base(wp), base(bp),
                            base(y), activation.linAlgCode, 0)
                }
            }
        }
    }
}

// MARK: - Shared backward kernel (also used per member by EnsembleLinear)

/// The backward pass of one affine + activation layer on raw buffers.
///
/// dz = gradOutput ⊙ σ′ (from y, or z for SiLU); weightGrad (in × out) += xᵀ·dz
/// (`la_gemm_tn`) and biasGrad (out) += 1ᵀ·dz (`la_gemm_tn` with a ones vector), each when not nil;
/// gradInput (batch × in) = dz·Wᵀ (`la_gemm_nt`) when not nil.
func linearBackward(batch: Int, inputSize: Int, outputSize: Int, activation: Activation,
                    x: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Float>, z: UnsafePointer<Float>?,
                    w: UnsafeBufferPointer<Float>, gradOutput: UnsafeBufferPointer<Float>,
                    weightGrad: UnsafeMutableBufferPointer<Float>?, biasGrad: UnsafeMutableBufferPointer<Float>?,
                    gradInput: UnsafeMutableBufferPointer<Float>?) {
    let n = batch * outputSize
    precondition((weightGrad == nil || x.count == batch * inputSize) && y.count == n && gradOutput.count == n)
    precondition(w.count == inputSize * outputSize && (weightGrad?.count ?? w.count) == w.count
                 && (biasGrad?.count ?? outputSize) == outputSize)
    precondition(gradInput == nil || gradInput!.count == batch * inputSize)
    guard batch > 0 else {
        if let gradInput, let p = gradInput.baseAddress { p.update(repeating: 0, count: gradInput.count) }
        return
    }
    let body = { (dz: UnsafeBufferPointer<Float>) in
        if let weightGrad {
            la_gemm_tn(Int32(inputSize), Int32(outputSize), Int32(batch), base(x), base(dz), base(weightGrad), 1)
        }
        if let biasGrad {
            withOnes(batch) { ones in
                la_gemm_tn(1, Int32(outputSize), Int32(batch), ones, base(dz), base(biasGrad), 1)
            }
        }
        if let gradInput {
            la_gemm_nt(Int32(batch), Int32(inputSize), Int32(outputSize), base(dz), base(w), base(gradInput), 0)
        }
    }
    if activation == .identity {
        body(gradOutput)
    } else {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { dz in
            activation.backward(gradOutput: gradOutput, output: y,
                                preActivation: z.map { UnsafeBufferPointer(start: $0, count: n) }, into: dz)
            body(UnsafeBufferPointer(dz))
        }
    }
}

/// An array of `count` floats whose content is unspecified (to be overwritten entirely by a
/// LinAlg call that never reads it).
func uninitializedFloats(_ count: Int) -> [Float] {
    [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
}

/// Calls `body` with `count` ones (the column-sum vector for bias gradients).
func withOnes<R>(_ count: Int, _ body: (UnsafePointer<Float>) -> R) -> R {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: Swift.max(count, 1)) { p in
        p.initialize(repeating: 1)
        return body(UnsafePointer(p.baseAddress!))
    }
}
