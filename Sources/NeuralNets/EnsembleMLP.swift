// EnsembleMLP.swift: E independent MLPs evaluated together (the probabilistic ensembles of
// PETS, Chua et al. 2018, and MBPO, Janner et al. 2019).
//
// Member weights are stacked (E × in × out) so one `la_gemm_batched` call runs a layer for
// every member; backward loops over members with `la_gemm_tn` / `la_gemm_nt`.

import ControlCore
import Foundation
import LinAlg

/// E independent fully connected layers y_e = σ(x_e·W_e + b_e), evaluated together.
///
/// Shapes: input (E × B × in) as a `BatchedMatrix` (member e's batch is matrix e), stacked
/// weights [E, in, out], stacked biases [E, out], output (E × B × out). Members share only
/// the shapes and the activation.
public struct EnsembleLinear: Trainable, Sendable {
    /// Number of members E.
    public let members: Int
    /// Input width.
    public let inputSize: Int
    /// Output width.
    public let outputSize: Int
    /// The activation σ (the same for every member).
    public var activation: Activation
    /// Stacked weights, shape [E, in, out]: member e's (in × out) matrix starts at e·in·out.
    public var weight: Parameter
    /// Stacked biases, shape [E, out].
    public var bias: Parameter

    struct Cache: Sendable {
        var input: BatchedMatrix
        var output: BatchedMatrix
        var preActivation: BatchedMatrix?
    }
    var cache: Cache?

    /// Stacks independent layers (same sizes and activation) into one ensemble layer.
    public init(stacking layers: [Linear], name: String = "linear") {
        precondition(!layers.isEmpty, "EnsembleLinear: no members")
        let first = layers[0]
        precondition(layers.allSatisfy {
            $0.inputSize == first.inputSize && $0.outputSize == first.outputSize && $0.activation == first.activation
        }, "EnsembleLinear: members differ in shape or activation")
        members = layers.count
        inputSize = first.inputSize
        outputSize = first.outputSize
        activation = first.activation
        weight = Parameter(name: name + ".weight", shape: [members, inputSize, outputSize],
                           value: layers.flatMap { $0.weight.value }, weightDecay: first.weight.weightDecay)
        bias = Parameter(name: name + ".bias", shape: [members, outputSize],
                         value: layers.flatMap { $0.bias.value }, weightDecay: first.bias.weightDecay)
    }

    /// Member e as a standalone `Linear` (copied; gradients included).
    public func member(_ e: Int) -> Linear {
        precondition(e >= 0 && e < members, "EnsembleLinear: member \(e) out of \(members)")
        let wn = inputSize * outputSize
        var layer = Linear(weight: Matrix(rows: inputSize, cols: outputSize,
                                          storage: Array(weight.value[e * wn..<(e + 1) * wn])),
                           bias: Array(bias.value[e * outputSize..<(e + 1) * outputSize]),
                           activation: activation, name: String(weight.name.dropLast(".weight".count)))
        layer.weight.grad = Array(weight.grad[e * wn..<(e + 1) * wn])
        layer.bias.grad = Array(bias.grad[e * outputSize..<(e + 1) * outputSize])
        layer.weight.weightDecay = weight.weightDecay
        layer.bias.weightDecay = bias.weightDecay
        return layer
    }

    /// Visits `weight`, then `bias`.
    public mutating func forEachParameter(_ body: (inout Parameter) throws -> Void) rethrows {
        try body(&weight)
        try body(&bias)
    }

    /// Inference: (E × B × in) → (E × B × out), ONE `la_gemm_batched` call (bias and
    /// activation fused). Keeps no cache.
    public func callAsFunction(_ x: BatchedMatrix) -> BatchedMatrix {
        batchedForward(x, activation: activation)
    }

    /// Training forward, keeping x, y (and z for SiLU) for `backward`. One fused
    /// `la_gemm_batched` call; for SiLU the call fuses only the bias (giving z) and σ is then
    /// applied to a copy through LinAlg's epilogue (bit-identical to the fused result).
    public mutating func forward(_ x: BatchedMatrix) -> BatchedMatrix {
        if activation.needsPreActivation {
            let z = batchedForward(x, activation: .identity)
            var y = z
            y.storage.withUnsafeMutableBufferPointer {
                activation.applyInPlace(rows: z.count * z.rows, cols: z.cols, $0)
            }
            cache = Cache(input: x, output: y, preActivation: z)
            return y
        }
        let y = batchedForward(x, activation: activation)
        cache = Cache(input: x, output: y, preActivation: nil)
        return y
    }

    /// Backward: given dL/dy (E × B × out) for the last `forward`, adds every member's weight
    /// and bias gradients and returns dL/dx (E × B × in). Per member: `la_gemm_tn` (dW, db)
    /// and `la_gemm_nt` (dx).
    @discardableResult
    public mutating func backward(_ gradOutput: BatchedMatrix) -> BatchedMatrix {
        backward(gradOutput, computeInputGradient: true)!
    }

    /// Like `backward` but skips dL/dx.
    public mutating func accumulateGradients(_ gradOutput: BatchedMatrix) {
        _ = backward(gradOutput, computeInputGradient: false)
    }

    mutating func backward(_ gradOutput: BatchedMatrix, computeInputGradient: Bool) -> BatchedMatrix? {
        guard let cache else { preconditionFailure("EnsembleLinear.backward: call forward(_:) first") }
        let e = members, b = cache.input.rows, inS = inputSize, outS = outputSize, act = activation
        precondition(gradOutput.isConsistent && gradOutput.count == e && gradOutput.rows == b && gradOutput.cols == outS,
                     "EnsembleLinear.backward: gradient is \(gradOutput), output was \(e)×\(b)×\(outS)")
        // Every member's slice of dx is overwritten by la_gemm_nt (accumulate = 0).
        var dxStorage = uninitializedFloats(computeInputGradient ? e * b * inS : 0)
        let w = weight.value
        cache.input.storage.withUnsafeBufferPointer { x in
            cache.output.storage.withUnsafeBufferPointer { y in
                withOptionalBuffer(cache.preActivation?.storage) { z in
                    gradOutput.storage.withUnsafeBufferPointer { g in
                        w.withUnsafeBufferPointer { wp in
                            weight.grad.withUnsafeMutableBufferPointer { dw in
                                bias.grad.withUnsafeMutableBufferPointer { db in
                                    dxStorage.withUnsafeMutableBufferPointer { dx in
                                        for m in 0..<e {
                                            let xo = m * b * inS, yo = m * b * outS, wo = m * inS * outS
                                            linearBackward(
                                                batch: b, inputSize: inS, outputSize: outS, activation: act,
                                                x: UnsafeBufferPointer(rebasing: x[xo..<xo + b * inS]),
                                                y: UnsafeBufferPointer(rebasing: y[yo..<yo + b * outS]),
                                                z: z.map { $0 + yo },
                                                w: UnsafeBufferPointer(rebasing: wp[wo..<wo + inS * outS]),
                                                gradOutput: UnsafeBufferPointer(rebasing: g[yo..<yo + b * outS]),
                                                weightGrad: UnsafeMutableBufferPointer(rebasing: dw[wo..<wo + inS * outS]),
                                                biasGrad: UnsafeMutableBufferPointer(rebasing: db[m * outS..<(m + 1) * outS]),
                                                gradInput: computeInputGradient
                                                    ? UnsafeMutableBufferPointer(rebasing: dx[xo..<xo + b * inS]) : nil)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return computeInputGradient ? BatchedMatrix(count: e, rows: b, cols: inS, storage: dxStorage) : nil
    }

    /// Drops the training caches.
    public mutating func clearCache() { cache = nil }

    /// One `la_gemm_batched`: y_e = act(x_e·W_e + b_e) for every member.
    private func batchedForward(_ x: BatchedMatrix, activation: Activation) -> BatchedMatrix {
        precondition(x.isConsistent && x.count == members && x.cols == inputSize,
                     "EnsembleLinear: input is \(x), layer takes \(members)×B×\(inputSize)")
        precondition(weight.value.count == members * inputSize * outputSize && bias.value.count == members * outputSize,
                     "EnsembleLinear: weight or bias resized")
        return BatchedMatrix(count: members, rows: x.rows, cols: outputSize) { y in
            x.storage.withUnsafeBufferPointer { xp in
                weight.value.withUnsafeBufferPointer { wp in
                    bias.value.withUnsafeBufferPointer { bp in
                        la_gemm_batched(Int32(members), Int32(x.rows), Int32(outputSize), Int32(inputSize),
                                        base(xp), base(wp), base(bp), base(y), activation.linAlgCode)
                    }
                }
            }
        }
    }
}

/// An ensemble of E independent MLPs with identical widths, evaluated together: the
/// probabilistic-ensemble backbone of PETS (Chua et al. 2018; B = 5 members) and MBPO
/// (Janner et al. 2019; 7 members).
///
/// Shapes: input (E × B × in) → output (E × B × out); member e reads matrix e of the input
/// (its own bootstrap batch, or the same batch repeated via `BatchedMatrix(repeating:count:)`).
/// Each layer is an `EnsembleLinear`, run by one `la_gemm_batched` call for all members.
public struct EnsembleMLP: Trainable, Sendable {
    /// The stacked layers, input to output.
    public var layers: [EnsembleLinear]

    /// E members with the given widths; member e is exactly `MLP(widths:…, rng: &sub_e)`
    /// where sub_e is the e-th `rng.split()`, so members start different and reproducibly.
    public init(members: Int, widths: [Int], hiddenActivation: Activation, outputActivation: Activation = .identity,
                initialization: WeightInitialization? = nil, rng: inout SeededRNG) {
        precondition(members > 0, "EnsembleMLP: need at least one member")
        var nets: [MLP] = []
        for _ in 0..<members {
            var sub = rng.split()
            nets.append(MLP(widths: widths, hiddenActivation: hiddenActivation, outputActivation: outputActivation,
                            initialization: initialization, rng: &sub))
        }
        self.init(stacking: nets)
    }

    /// Stacks independent MLPs (same widths and activations) into one ensemble.
    public init(stacking nets: [MLP]) {
        precondition(!nets.isEmpty, "EnsembleMLP: no members")
        let depth = nets[0].layers.count
        precondition(nets.allSatisfy { $0.layers.count == depth }, "EnsembleMLP: members differ in depth")
        layers = (0..<depth).map { l in
            EnsembleLinear(stacking: nets.map { $0.layers[l] }, name: "layers.\(l)")
        }
    }

    /// Number of members E.
    public var members: Int { layers[0].members }
    /// Input width.
    public var inputSize: Int { layers[0].inputSize }
    /// Output width.
    public var outputSize: Int { layers[layers.count - 1].outputSize }

    /// Member e as a standalone `MLP` (copied).
    public func member(_ e: Int) -> MLP { MLP(layers: layers.map { $0.member(e) }) }

    /// A new ensemble of the chosen members, in the given order (e.g. MBPO's elites).
    public func selecting(members indices: [Int]) -> EnsembleMLP {
        EnsembleMLP(stacking: indices.map { member($0) })
    }

    /// Visits each layer's stacked weight then bias, input layer first.
    public mutating func forEachParameter(_ body: (inout Parameter) throws -> Void) rethrows {
        for l in layers.indices { try layers[l].forEachParameter(body) }
    }

    /// Inference: (E × B × in) → (E × B × out), one `la_gemm_batched` per layer, no caches.
    public func callAsFunction(_ x: BatchedMatrix) -> BatchedMatrix {
        var h = x
        for layer in layers { h = layer(h) }
        return h
    }

    /// Training forward: (E × B × in) → (E × B × out), keeping caches for `backward`.
    public mutating func forward(_ x: BatchedMatrix) -> BatchedMatrix {
        var h = x
        for l in layers.indices { h = layers[l].forward(h) }
        return h
    }

    /// Backward: given dL/dy (E × B × out), adds all members' gradients and returns dL/dx
    /// (E × B × in).
    @discardableResult
    public mutating func backward(_ gradOutput: BatchedMatrix) -> BatchedMatrix {
        var g = gradOutput
        for l in layers.indices.reversed() { g = layers[l].backward(g) }
        return g
    }

    /// Like `backward` but without dL/dx (skips the first layer's `la_gemm_nt` calls).
    public mutating func accumulateGradients(_ gradOutput: BatchedMatrix) {
        var g = gradOutput
        for l in layers.indices.reversed() {
            if l == 0 { layers[l].accumulateGradients(g) } else { g = layers[l].backward(g) }
        }
    }

    /// Sets each layer's weight decay (one coefficient per layer, input first; the same for
    /// every member), e.g. PETS' L2 decays [2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4]; biases get
    /// `biasDecay` (none by default).
    public mutating func setWeightDecay(_ coefficients: [Float], decoupled: Bool = false,
                                        biasDecay: WeightDecay = .none) {
        precondition(coefficients.count == layers.count, "EnsembleMLP: \(coefficients.count) decays for \(layers.count) layers")
        for l in layers.indices {
            layers[l].weight.weightDecay = decoupled ? .decoupled(coefficients[l]) : .l2(coefficients[l])
            layers[l].bias.weightDecay = biasDecay
        }
    }

    /// Drops every layer's training caches.
    public mutating func clearCache() {
        for l in layers.indices { layers[l].clearCache() }
    }
}
