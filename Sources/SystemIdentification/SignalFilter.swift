// SignalFilter.swift: zero-phase low-pass filtering and differentiation of logged joint signals.

import Foundation

/// A second-order Butterworth low-pass filter run forward and backward (zero phase, the effective response is
/// the squared magnitude: −6 dB at the cutoff), as `scipy.signal.filtfilt`. The signal is extended at both ends
/// by its odd reflection (one cutoff period, at least 12 samples) and the recursion starts at steady state, so the
/// ends do not ring. Used on positions, velocities and torques alike (Gautier's parallel filtering: every
/// column of the identification problem sees the same filter, so the filter's attenuation cancels).
public struct ZeroPhaseLowPass: Sendable {
    /// Cutoff, Hz, and sampling rate, Hz.
    public let cutoff: Double
    public let sampleRate: Double
    let b: (Double, Double, Double)
    let a: (Double, Double)

    /// - Precondition: 0 < cutoff < sampleRate / 2.
    public init(cutoff: Double, sampleRate: Double) {
        precondition(cutoff > 0 && cutoff < sampleRate / 2, "ZeroPhaseLowPass: cutoff \(cutoff) Hz must be below half of \(sampleRate) Hz")
        self.cutoff = cutoff
        self.sampleRate = sampleRate
        // bilinear transform of the analog prototype 1 / (s² + √2 s + 1), prewarped
        let k = tan(Double.pi * cutoff / sampleRate), norm = 1 / (1 + 2.0.squareRoot() * k + k * k)
        let b0 = k * k * norm
        b = (b0, 2 * b0, b0)
        a = (2 * (k * k - 1) * norm, (1 - 2.0.squareRoot() * k + k * k) * norm)
    }

    func pass(_ x: [Double]) -> [Double] {
        var y = [Double](repeating: 0, count: x.count)
        guard let first = x.first else { return y }
        var x1 = first, x2 = first, y1 = first, y2 = first  // steady state for a constant input (DC gain 1)
        for n in x.indices {
            let v = b.0 * x[n] + b.1 * x1 + b.2 * x2 - a.0 * y1 - a.1 * y2
            x2 = x1; x1 = x[n]; y2 = y1; y1 = v
            y[n] = v
        }
        return y
    }

    /// The filtered signal, same length.
    public func apply(_ x: [Double]) -> [Double] {
        let n = x.count
        guard n > 2 else { return x }
        let pad = min(n - 1, max(12, Int((sampleRate / cutoff).rounded())))
        // odd reflection about the end points
        let head = (1...pad).reversed().map { 2 * x[0] - x[$0] }
        let tail = (1...pad).map { 2 * x[n - 1] - x[n - 1 - $0] }
        let extended = head + x + tail
        let forward = pass(extended)
        let backward = Array(pass(forward.reversed()).reversed())
        return Array(backward[pad..<(pad + n)])
    }
}

/// Central differences (one-sided at the ends) of a signal sampled every `dt` seconds.
public func centralDifference(_ x: [Double], dt: Double) -> [Double] {
    let n = x.count
    guard n > 1 else { return Array(repeating: 0, count: n) }
    return (0..<n).map { k in
        if k == 0 { return (x[1] - x[0]) / dt }
        if k == n - 1 { return (x[n - 1] - x[n - 2]) / dt }
        return (x[k + 1] - x[k - 1]) / (2 * dt)
    }
}
