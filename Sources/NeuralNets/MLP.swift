// MLP.swift: a multilayer perceptron, a stack of `Linear` layers.

import ControlCore
import Foundation

/// A multilayer perceptron: `Linear` layers with a hidden activation after every layer but
/// the last, whose activation is `outputActivation` (identity by default).
///
/// Shapes: input (B × widths[0]) → output (B × widths.last). `widths` lists every layer
/// boundary, e.g. [35, 200, 200, 200, 200, 54] is PETS' network for a 27-dim state and
/// 8-dim action with a (mean, log-variance) head: 4 hidden layers of 200, 5 `Linear`s.
public struct MLP: Trainable, Sendable {
    /// The layers, input to output.
    public var layers: [Linear]

    /// A network with the given widths (at least two), weights drawn from `rng` layer by
    /// layer (input first) with `initialization` (default: chosen per layer by its activation,
    /// see `WeightInitialization.default(for:)`), zero biases.
    public init(widths: [Int], hiddenActivation: Activation, outputActivation: Activation = .identity,
                initialization: WeightInitialization? = nil, rng: inout SeededRNG) {
        precondition(widths.count >= 2, "MLP: need at least input and output widths")
        var layers: [Linear] = []
        for l in 0..<(widths.count - 1) {
            let act = l == widths.count - 2 ? outputActivation : hiddenActivation
            layers.append(Linear(inputSize: widths[l], outputSize: widths[l + 1], activation: act,
                                 initialization: initialization, name: "layers.\(l)", rng: &rng))
        }
        self.layers = layers
    }

    /// A network over the given layers (each layer's input width must equal the previous
    /// layer's output width).
    public init(layers: [Linear]) {
        precondition(!layers.isEmpty, "MLP: no layers")
        for l in 1..<layers.count {
            precondition(layers[l].inputSize == layers[l - 1].outputSize, "MLP: layer \(l) width mismatch")
        }
        self.layers = layers
    }

    /// Input width.
    public var inputSize: Int { layers[0].inputSize }
    /// Output width.
    public var outputSize: Int { layers[layers.count - 1].outputSize }
    /// The widths of every layer boundary, input first.
    public var widths: [Int] { [inputSize] + layers.map(\.outputSize) }

    /// Visits each layer's weight then bias, input layer first.
    public mutating func forEachParameter(_ body: (inout Parameter) throws -> Void) rethrows {
        for l in layers.indices { try layers[l].forEachParameter(body) }
    }

    /// Inference: (B × in) → (B × out), one fused `la_gemm` per layer, no caches.
    public func callAsFunction(_ x: Matrix) -> Matrix {
        var h = x
        for layer in layers { h = layer(h) }
        return h
    }

    /// Training forward: (B × in) → (B × out), each layer keeping its caches for `backward`.
    public mutating func forward(_ x: Matrix) -> Matrix {
        var h = x
        for l in layers.indices { h = layers[l].forward(h) }
        return h
    }

    /// Backward: given dL/dy (B × out) for the last `forward`, adds every layer's weight and
    /// bias gradients into `grad` and returns dL/dx (B × in).
    @discardableResult
    public mutating func backward(_ gradOutput: Matrix) -> Matrix {
        var g = gradOutput
        for l in layers.indices.reversed() { g = layers[l].backward(g) }
        return g
    }

    /// dL/dx (B × in) for the last `forward`, given dL/dy, leaving every parameter gradient untouched (the
    /// actor update of SAC differentiates a critic with respect to its action input only).
    public func inputGradient(_ gradOutput: Matrix) -> Matrix {
        var g = gradOutput
        for l in layers.indices.reversed() { g = layers[l].inputGradient(g) }
        return g
    }

    /// `inputGradient` restricted to some rows of the last `forward`: dL/dx for `rows` (rows.count × in) given
    /// dL/dy for them — what the full call gives on those rows when dL/dy is zero elsewhere, at a fraction of
    /// the cost (SAC's actor step backpropagates each row through the one critic it picked).
    public func inputGradient(_ gradOutput: Matrix, rows: [Int]) -> Matrix {
        var g = gradOutput
        for l in layers.indices.reversed() { g = layers[l].inputGradient(g, rows: rows) }
        return g
    }

    /// Like `backward` but without dL/dx (skips the first layer's `la_gemm_nt`).
    public mutating func accumulateGradients(_ gradOutput: Matrix) {
        var g = gradOutput
        for l in layers.indices.reversed() {
            if l == 0 { layers[l].accumulateGradients(g) } else { g = layers[l].backward(g) }
        }
    }

    /// Sets each layer's weight decay (one coefficient per layer, input layer first), e.g.
    /// PETS' L2 decays [2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4]. Biases get `biasDecay`
    /// (none by default, as in PETS, which decays weights only).
    public mutating func setWeightDecay(_ coefficients: [Float], decoupled: Bool = false,
                                        biasDecay: WeightDecay = .none) {
        precondition(coefficients.count == layers.count, "MLP: \(coefficients.count) decays for \(layers.count) layers")
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
