// Activation.swift: the element-wise nonlinearities, their derivatives, and the bridge to
// LinAlg's fused GEMM epilogue.

import Foundation
import LinAlg

/// An element-wise activation function σ applied after a layer's affine map, z ↦ σ(z).
///
/// The raw values are LinAlg's `la_activation` codes, so the forward pass runs fused in the
/// GEMM epilogue (`la_gemm`), with LinAlg's definitions:
///
/// | case       | σ(z)                          | σ′ from the output y | σ′ from the pre-activation z |
/// |------------|-------------------------------|----------------------|------------------------------|
/// | `identity` | z                             | 1                    | 1                            |
/// | `relu`     | max(z, 0)  (Nair & Hinton 2010) | y > 0 ? 1 : 0      | z > 0 ? 1 : 0                |
/// | `tanh`     | tanh z                        | 1 − y²               | 1 − tanh² z                  |
/// | `silu`     | z·s(z), s = logistic (Elfwing et al. 2018; "swish", Ramachandran et al. 2017) | — | s + y·(1 − s) |
/// | `elu`      | z > 0 ? z : eᶻ − 1, α = 1 (Clevert et al. 2016) | y > 0 ? 1 : y + 1 | z > 0 ? 1 : eᶻ |
///
/// ReLU's derivative at 0 is taken as 0 (as PyTorch does). SiLU is not invertible, so its
/// derivative needs the pre-activation z: layers keep z in their training caches only for
/// activations with `needsPreActivation`.
public enum Activation: Int32, Sendable, CaseIterable, Codable, CustomStringConvertible {
    /// z (`LA_ACT_NONE`).
    case identity = 0
    /// max(z, 0) (`LA_ACT_RELU`).
    case relu = 1
    /// tanh z (`LA_ACT_TANH`).
    case tanh = 2
    /// z·logistic(z) (`LA_ACT_SILU`), PETS/mbrl-lib's hidden activation with `use_silu`.
    case silu = 3
    /// z > 0 ? z : eᶻ − 1 (`LA_ACT_ELU`, α = 1).
    case elu = 4

    /// The `la_activation` code passed to LinAlg.
    @inlinable public var linAlgCode: Int32 { rawValue }

    /// True when the derivative cannot be recovered from the output alone (SiLU), so the
    /// training forward pass must keep the pre-activation.
    @inlinable public var needsPreActivation: Bool { self == .silu }

    /// The name ("identity", "relu", …).
    public var description: String {
        switch self {
        case .identity: "identity"
        case .relu: "relu"
        case .tanh: "tanh"
        case .silu: "silu"
        case .elu: "elu"
        }
    }

    // MARK: Scalar reference (Foundation math, not the LinAlg approximations)

    /// σ(z) for one value (Foundation `tanh`/`exp`; LinAlg's vectorized versions agree to a
    /// few ulp).
    public func callAsFunction(_ z: Float) -> Float {
        switch self {
        case .identity: z
        case .relu: Swift.max(z, 0)
        case .tanh: Foundation.tanh(z)
        case .silu: z / (1 + Foundation.exp(-z))
        case .elu: z > 0 ? z : Foundation.expm1(z)
        }
    }

    /// σ′(z), from the pre-activation z.
    public func derivative(preActivation z: Float) -> Float {
        switch self {
        case .identity: return 1
        case .relu: return z > 0 ? 1 : 0
        case .tanh:
            let t = Foundation.tanh(z)
            return 1 - t * t
        case .silu:
            let s = 1 / (1 + Foundation.exp(-z))
            return s * (1 + z * (1 - s))
        case .elu: return z > 0 ? 1 : Foundation.exp(z)
        }
    }

    /// σ′ from the output y = σ(z), or nil for SiLU (not a function of y alone).
    public func derivative(output y: Float) -> Float? {
        switch self {
        case .identity: 1
        case .relu: y > 0 ? 1 : 0
        case .tanh: 1 - y * y
        case .silu: nil
        case .elu: y > 0 ? 1 : y + 1
        }
    }

    // MARK: Batched (what the layers use)

    /// σ applied in place to a `rows × cols` row-major buffer, through LinAlg's GEMM
    /// epilogue (`la_gemm` with k = 0 and β = 1 computes c = σ(c)); bit-identical to the
    /// fused forward of `la_gemm(..., activation)`.
    func applyInPlace(rows: Int, cols: Int, _ c: UnsafeMutableBufferPointer<Float>) {
        precondition(c.count == rows * cols)
        if self == .identity || c.isEmpty { return }
        la_gemm(Int32(rows), Int32(cols), 0, UnsafePointer(emptyFloatPointer), UnsafePointer(emptyFloatPointer),
                nil, base(c), linAlgCode, 1)
    }

    /// Backward through σ: `gradPre[i] = gradOutput[i] · σ′(z_i)` for every entry.
    ///
    /// The derivative comes from the output y (`output`) for every activation but SiLU, which
    /// also reads the pre-activation z (`preActivation`, required then) and uses the logistic
    /// s(z) = y / z (z ≠ 0; s(0) = ½), so nothing is exponentiated: σ′ = s + y(1 − s).
    /// `gradPre` may be the same buffer as `gradOutput`. Plain Swift loops (vectorizable).
    func backward(gradOutput g: UnsafeBufferPointer<Float>, output y: UnsafeBufferPointer<Float>,
                  preActivation z: UnsafeBufferPointer<Float>?, into d: UnsafeMutableBufferPointer<Float>) {
        let n = g.count
        precondition(y.count == n && d.count == n, "Activation.backward: buffer sizes differ")
        guard n > 0 else { return }
        let gp = g.baseAddress!, yp = y.baseAddress!, dp = d.baseAddress!
        switch self {
        case .identity:
            if UnsafePointer(dp) != gp { dp.update(from: gp, count: n) }
        case .relu:
            // branch-free in 16-lane blocks: half the outputs are 0, so a branch per entry mispredicts
            var i = 0
            while i + 16 <= n {
                let yv = UnsafeRawPointer(yp + i).loadUnaligned(as: SIMD16<Float>.self)
                let gv = UnsafeRawPointer(gp + i).loadUnaligned(as: SIMD16<Float>.self)
                UnsafeMutableRawPointer(dp + i).storeBytes(of: gv.replacing(with: 0, where: yv .<= 0), as: SIMD16<Float>.self)
                i += 16
            }
            while i < n { dp[i] = yp[i] > 0 ? gp[i] : 0; i += 1 }
        case .tanh:
            for i in 0..<n { dp[i] = gp[i] * (1 - yp[i] * yp[i]) }
        case .elu:
            for i in 0..<n { dp[i] = yp[i] > 0 ? gp[i] : gp[i] * (yp[i] + 1) }
        case .silu:
            guard let z, z.count == n else { preconditionFailure("Activation.backward: SiLU needs the pre-activation") }
            let zp = z.baseAddress!
            for i in 0..<n {
                let s: Float = zp[i] != 0 ? yp[i] / zp[i] : 0.5
                dp[i] = gp[i] * (s + yp[i] * (1 - s))
            }
        }
    }

    /// Backward through σ on matrices: returns dL/dz = dL/dy ⊙ σ′ (same shape as `gradOutput`).
    /// - Parameters:
    ///   - gradOutput: dL/dy.
    ///   - output: y = σ(z), as the forward pass returned it.
    ///   - preActivation: z; required for SiLU, ignored otherwise.
    public func backward(gradOutput: Matrix, output: Matrix, preActivation: Matrix? = nil) -> Matrix {
        precondition(gradOutput.rows == output.rows && gradOutput.cols == output.cols, "Activation.backward: shapes differ")
        return Matrix(rows: output.rows, cols: output.cols) { d in
            gradOutput.storage.withUnsafeBufferPointer { g in
                output.storage.withUnsafeBufferPointer { y in
                    if let preActivation {
                        preActivation.storage.withUnsafeBufferPointer { z in
                            backward(gradOutput: g, output: y, preActivation: z, into: d)
                        }
                    } else {
                        backward(gradOutput: g, output: y, preActivation: nil, into: d)
                    }
                }
            }
        }
    }
}
