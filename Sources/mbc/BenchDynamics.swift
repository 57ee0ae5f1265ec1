import ArgumentParser
import ControlCore
import Dynamics
import Foundation
import LinAlg
import NeuralNets

struct BenchDynamics: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dynamics",
        abstract: "Ensemble training throughput, planner-sized forward throughput and the GEMM peak, against PyTorch.")
    @Option(help: "Observation and action sizes (the peers' script uses 27 and 8; our quadruped's state is 37, action 12).")
    var sizes: [String] = ["27x8", "37x12"]
    @Option(help: "Training steps per measurement.") var steps: Int = 60
    @Option(help: "Python with torch (../shared/peers/README.md) to measure PyTorch in the same run.") var peersPython: String?
    @Option(help: "The peers' nn_rate.py.") var peersScript: String = "../shared/peers/nn_rate.py"
    @OptionGroup var common: CommonOptions

    func run() throws {
        #if DEBUG
        FileHandle.standardError.write("warning: this is a debug build; benchmark with `swift run -c release mbc bench dynamics`\n".data(using: .utf8)!)
        #endif
        var results: [[String: Any]] = []
        // GEMM peak of our own kernel: 10000×200×200, one thread
        let rates = gemmRates(m: 10000, n: 200, k: 200)
        let gemm = max(rates.blas, rates.packed)
        say(String(format: "LinAlg GEMM 10000×200×200: %.1f GFLOP/s = the peak below (la_gemm via OpenBLAS %.1f, la_gemm_packed %.1f; %@)",
                   gemm, rates.blas, rates.packed, String(cString: la_build_info()) as NSString))
        results.append(["measure": "gemm 10000x200x200", "gflops": gemm, "openblas_gflops": rates.blas, "packed_gflops": rates.packed])
        for size in sizes {
            let parts = size.split(separator: "x").compactMap { Int($0) }
            guard parts.count == 2 else { throw ValidationError("--sizes takes OBSxACT, e.g. 27x8") }
            let (obs, act) = (parts[0], parts[1])
            let rate = try trainingRate(obs: obs, act: act)
            say(String(format: "ensemble training E=7 4×200 SiLU batch 256/member, obs %d act %d: %.0f member-samples/s (%.1f GFLOP/s)",
                       obs, act, rate.samples, rate.gflops))
            results.append(["measure": "ensemble_train E=7 obs=\(obs) act=\(act)", "member_samples_per_s": rate.samples, "gflops": rate.gflops])
        }
        let forward = try forwardRate(obs: 27, act: 8)
        say(String(format: "ensemble forward E=5, 500×20 rows (CEM population × particles), planner path (EnsemblePropagator: normalize, 5 GEMMs, sample): %.0f rows/s, %.1f GFLOP/s = %.0f %% of the GEMM peak",
                   forward.rows, forward.gflops, 100 * forward.gflops / gemm))
        say(String(format: "  (predictMembers, the Double API path: %.0f rows/s = %.0f %% of the peak)", forward.apiRows, 100 * forward.apiGflops / gemm))
        results.append(["measure": "ensemble_forward E=5 rows=10000", "rows_per_s": forward.rows, "gflops": forward.gflops,
                        "fraction_of_gemm_peak": forward.gflops / gemm,
                        "api_rows_per_s": forward.apiRows, "api_fraction_of_gemm_peak": forward.apiGflops / gemm])
        var peers: [[String: Any]] = []
        if let python = peersPython {
            peers = runPeerScript(python: python, script: peersScript, arguments: ["--threads", "1", "--only", "ensemble_train"])
            for p in peers { say("peer: \(p)") }
            if let torch = peers.first(where: { ($0["measure"] as? String) == "ensemble_train E=7" })?["member_samples_per_s"] as? Double,
               let ours = results.first(where: { ($0["measure"] as? String) == "ensemble_train E=7 obs=27 act=8" })?["member_samples_per_s"] as? Double {
                say(String(format: "ensemble training ÷ PyTorch: %.2f×", ours / torch))
            }
        }
        if common.json { printJSON(["results": results, "peers": peers]) }
    }

    /// Our single-thread fp32 GEMM peak on (m × k)·(k × n), GFLOP/s: the better of the two `gemmRates`.
    func gemmGFLOPS(m: Int, n: Int, k: Int) -> Double {
        let rates = gemmRates(m: m, n: n, k: k)
        return max(rates.blas, rates.packed)
    }

    /// GFLOP/s of `la_gemm` (OpenBLAS for this size) and of `la_gemm_packed` (our fused AVX2 kernel, weights
    /// packed once, no activation) on (m × k)·(k × n), best of 5 × 3 products each, the two interleaved so
    /// both see the same machine.
    func gemmRates(m: Int, n: Int, k: Int) -> (blas: Double, packed: Double) {
        var rng = SeededRNG(seed: 1)
        let a = (0..<(m * k)).map { _ in Float(rng.uniform(-1, 1)) }, b = (0..<(k * n)).map { _ in Float(rng.uniform(-1, 1)) }
        var packed = [Float](repeating: 0, count: la_packed_size(Int32(k), Int32(n)))
        la_pack_b(Int32(k), Int32(n), b, &packed)
        var c = [Float](repeating: 0, count: m * n)
        var blas = 0.0, fused = 0.0
        let flops = 3 * 2 * Double(m * n * k)
        for _ in 0..<5 {
            var start = Date()
            for _ in 0..<3 { la_gemm(Int32(m), Int32(n), Int32(k), a, b, nil, &c, Int32(LA_ACT_NONE.rawValue), 0) }
            blas = max(blas, flops / Date().timeIntervalSince(start) / 1e9)
            start = Date()
            for _ in 0..<3 { la_gemm_packed(Int32(m), Int32(n), Int32(k), a, packed, nil, &c, Int32(LA_ACT_NONE.rawValue)) }
            fused = max(fused, flops / Date().timeIntervalSince(start) / 1e9)
        }
        return (blas, fused)
    }

    /// The same step `fit` runs, on synthetic normalized data of the benchmark's shapes.
    func trainingRate(obs: Int, act: Int) throws -> (samples: Double, gflops: Double) {
        let model = try ProbabilisticEnsemble(config: EnsembleConfig(), stateNames: (0..<obs).map { "s\($0)" }, actionNames: (0..<act).map { "a\($0)" })
        var rng = SeededRNG(seed: 2)
        let E = 7, B = 256, F = model.inputSize
        let x = (0..<(E * B * F)).map { _ in Float(rng.normal()) }, y = (0..<(E * B * obs)).map { _ in Float(rng.normal()) }
        var adam = Adam(learningRate: 1e-3)
        for _ in 0..<5 { model.trainStep(inputs: x, targets: y, batch: B, optimizer: &adam) }
        let start = Date()
        for _ in 0..<steps { model.trainStep(inputs: x, targets: y, batch: B, optimizer: &adam) }
        let wall = Date().timeIntervalSince(start)
        let samples = Double(steps * E * B) / wall
        // forward 2·Σ(in·out) flops per sample, backward about twice that
        let widths = [F, 200, 200, 200, 200, 2 * obs]
        let flops = 6 * zip(widths, widths.dropFirst()).reduce(0) { $0 + Double($1.0 * $1.1) }
        return (samples, samples * flops / 1e9)
    }

    /// Rows/s of one TS-∞ planning step through the elites (`EnsemblePropagator.step`: features and
    /// normalization, one batched GEMM per layer, soft log-variance bounds, a Gaussian sample), and of the
    /// `Double` API (`predictMembers`), on 500 × 20 rows split over 5 members.
    func forwardRate(obs: Int, act: Int) throws -> (rows: Double, gflops: Double, apiRows: Double, apiGflops: Double) {
        var config = EnsembleConfig(); config.members = 5; config.elites = 5
        let model = try ProbabilisticEnsemble(config: config, stateNames: (0..<obs).map { "s\($0)" }, actionNames: (0..<act).map { "a\($0)" })
        var rng = SeededRNG(seed: 3)
        let rows = 10_000 / 5  // 500 × 20 particles split over 5 members (TS-∞)
        let s = (0..<(rows * obs)).map { _ in rng.normal() }, a = (0..<(rows * act)).map { _ in rng.uniform(-1, 1) }
        _ = model.predictMembers(states: s, actions: a, count: rows)
        let start = Date()
        let reps = 10
        for _ in 0..<reps { _ = model.predictMembers(states: s, actions: a, count: rows) }
        let apiPerSecond = Double(reps * rows * 5) / Date().timeIntervalSince(start)
        let widths = [obs + act, 200, 200, 200, 200, 2 * obs]
        let flops = 2 * zip(widths, widths.dropFirst()).reduce(0) { $0 + Double($1.0 * $1.1) }
        // the planner's path: all 5 × 2000 rows, member-major, one step each
        let propagator = EnsemblePropagator(model: model, maxRowsPerMember: rows)
        let s5 = (0..<(5 * rows * obs)).map { _ in Float(rng.normal()) }, a5 = (0..<(5 * rows * act)).map { _ in Float(rng.uniform(-1, 1)) }
        var next = [Float](repeating: 0, count: 5 * rows * obs)
        var noise = NormalStream(seed: 1)
        propagator.step(states: s5, actions: a5, rowsPerMember: rows, next: &next, noise: &noise)
        var best = 0.0
        for _ in 0..<5 {
            let t0 = Date()
            for _ in 0..<reps { propagator.step(states: s5, actions: a5, rowsPerMember: rows, next: &next, noise: &noise) }
            best = max(best, Double(reps * rows * 5) / Date().timeIntervalSince(t0))
        }
        return (best, best * flops / 1e9, apiPerSecond, apiPerSecond * flops / 1e9)
    }
}

/// Runs a peers' script pinned to one core and parses its JSON lines.
func runPeerScript(python: String, script: String, arguments: [String]) -> [[String: Any]] {
    startPeer(python: python, arguments: [script] + arguments)?.finish() ?? []
}

/// Runs exactly one of the peer script's `MEASUREMENTS` (its `--only` matches substrings, so `cem_E5`
/// would also run the slow `cem_E5_bf16`): loads the script as a module and calls that entry, one thread.
func runPeerMeasurement(python: String, script: String, name: String) -> [[String: Any]] {
    startPeerMeasurement(python: python, script: script, name: name)?.finish() ?? []
}

/// Starts `runPeerMeasurement`'s command without waiting, or nil if it cannot start.
func startPeerMeasurement(python: String, script: String, name: String) -> PeerRun? {
    let code = """
        import runpy, torch
        torch.set_num_threads(1); torch.set_num_interop_threads(1)
        runpy.run_path(\(String(reflecting: script)), run_name="peer")["MEASUREMENTS"][\(String(reflecting: name))]()
        """
    return startPeer(python: python, arguments: ["-c", code])
}

/// A peer running in the background (see `startPeer`).
final class PeerRun {
    let process: Process
    let pipe: Pipe
    init(process: Process, pipe: Pipe) { self.process = process; self.pipe = pipe }
    var isRunning: Bool { process.isRunning }
    /// Waits for the peer and returns the JSON lines it printed.
    func finish() -> [[String: Any]] {
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
}

/// Starts `python arguments…` pinned to core 0 without waiting, or nil (after saying why) if it cannot start.
private func startPeer(python: String, arguments: [String]) -> PeerRun? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
    process.arguments = ["-c", "0", python] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    do { try process.run() } catch {
        FileHandle.standardError.write("peers: could not run \(python): \(error)\n".data(using: .utf8)!)
        return nil
    }
    return PeerRun(process: process, pipe: pipe)
}
