import ControlCore
import Foundation

/// Gaussian noise sequences of length H with power spectral density ∝ 1/f^β ("colored noise"), as iCEM
/// samples action perturbations (Pinneri et al. 2020, §3 "colored noise", following the spectral method of
/// Timmer & König 1995 used by the `colorednoise` package). β = 0 is white noise, β = 2 is red/Brownian-like:
/// larger β gives smoother, more temporally correlated sequences.
///
/// **FFT-free: a direct inverse real DFT of length H.** Horizons are short (≈ 10–50), so an O(H²) sum with
/// precomputed cos/sin tables is cheap and needs no FFT library. For frequency bin k = 0 … ⌊H/2⌋
/// (f_k = k/H, with f_0 replaced by 1/H, the lowest resolvable frequency) the amplitude is s_k = f_k^(−β/2);
/// the real and imaginary parts are independent N(0, s_k²), except the DC bin and (H even) the Nyquist bin,
/// which are real with variance 2 s_k². Then
///
///     x_t ∝ √2 s_0 g_0 + Σ_{0<k<H/2} 2 s_k (g_k cos(2πkt/H) − h_k sin(2πkt/H)) + [H even] √2 s_{H/2} g_{H/2} (−1)^t
///
/// uses exactly H standard normals. Its variance is the same at every t (the process is circular
/// stationary), Var = 2 s_0² + 4 Σ s_k² + [H even] 2 s_{H/2}², and we divide by its square root, so every
/// x_t has unit variance exactly. With β = 0 all s_k = 1 and the sequence is exactly white.
public struct ColoredNoiseGenerator: Sendable {
    /// Sequence length H.
    public let length: Int
    /// Spectral exponent β ≥ 0.
    public let exponent: Double

    /// Normalized amplitudes, shape (H): [c_0, (c_k for 0 < k < H/2)…, c_{H/2} if H even].
    private let amplitudes: [Double]
    /// cos(2πkt/H) for the interior bins, shape (interior × H), row k−1.
    private let cosTable: [Double]
    /// sin(2πkt/H) for the interior bins, shape (interior × H).
    private let sinTable: [Double]
    /// Number of interior bins 0 < k < H/2.
    private let interior: Int

    /// - Parameters:
    ///   - length: H ≥ 1.
    ///   - exponent: β ≥ 0 (iCEM uses 2–2.5).
    public init(length: Int, exponent: Double) {
        precondition(length >= 1 && exponent >= 0 && exponent.isFinite, "ColoredNoise: need H ≥ 1, β ≥ 0")
        self.length = length; self.exponent = exponent
        let h = length, even = h % 2 == 0
        let m = even ? h / 2 - 1 : (h - 1) / 2
        interior = m
        func scale(_ k: Int) -> Double { pow(max(Double(k), 1) / Double(h), -exponent / 2) }
        // raw amplitudes and the exact variance of the unnormalized sum
        var amps = [Double(2).squareRoot() * scale(0)]
        var variance = 2 * scale(0) * scale(0)
        for k in stride(from: 1, through: m, by: 1) { amps.append(2 * scale(k)); variance += 4 * scale(k) * scale(k) }
        if even && h >= 2 { amps.append(Double(2).squareRoot() * scale(h / 2)); variance += 2 * scale(h / 2) * scale(h / 2) }
        let norm = 1 / variance.squareRoot()
        amplitudes = amps.map { $0 * norm }
        // trigonometric tables for the interior bins
        var c = [Double](repeating: 0, count: m * h), s = [Double](repeating: 0, count: m * h)
        for k in stride(from: 1, through: m, by: 1) {
            for t in 0..<h {
                let theta = 2 * Double.pi * Double(k * t % h) / Double(h)
                c[(k - 1) * h + t] = cos(theta); s[(k - 1) * h + t] = sin(theta)
            }
        }
        cosTable = c; sinTable = s
    }

    /// Writes one unit-variance colored sequence: `output[offset + t * stride]` for t = 0 … H−1.
    /// Draws exactly H standard normals from `rng`.
    public func sample(into output: inout [Double], offset: Int, stride: Int, using rng: inout SeededRNG) {
        let h = length
        // DC bin
        let g0 = amplitudes[0] * rng.normal()
        for t in 0..<h { output[offset + t * stride] = g0 }
        // interior bins: real and imaginary parts
        for k in 0..<interior {
            let a = amplitudes[k + 1]
            let g = a * rng.normal(), q = a * rng.normal()
            let row = k * h
            for t in 0..<h { output[offset + t * stride] += g * cosTable[row + t] - q * sinTable[row + t] }
        }
        // Nyquist bin (H even)
        if h % 2 == 0 && h >= 2 {
            let gn = amplitudes[interior + 1] * rng.normal()
            for t in 0..<h { output[offset + t * stride] += t % 2 == 0 ? gn : -gn }
        }
    }
}
