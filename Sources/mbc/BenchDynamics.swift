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

    @Option(help: "Rounds of (ours, PyTorch) training with --peers-python; the median of the per-round ratios is reported (this machine's speed varies from minute to minute).")
    var repeats: Int = 3
    @Flag(help: "Run PyTorch's training at the same time on core 0 (pin ours to core 1: `taskset -c 1 mbc bench dynamics …`) so both see the same machine; ours is timed in chunks of 10 steps for as long as the peer runs, and the median chunk is compared.")
    var concurrent = false
    @Option(help: "Interleaved rounds of (GEMM peak, planner-path forward); the median of the per-round ratios is reported.")
    var forwardRounds: Int = 9

    func validate() throws { try validatePeers(python: peersPython, script: peersScript) }

    func run() throws {
        #if DEBUG
        FileHandle.standardError.write("warning: this is a debug build; benchmark with `swift run -c release mbc bench dynamics`\n".data(using: .utf8)!)
        #endif
        guard repeats >= 1, forwardRounds >= 1 else { throw ValidationError("--repeats and --forward-rounds must be at least 1") }
        var results: [[String: Any]] = []
        var peers: [[String: Any]] = []
        // training throughput per size; for 27x8 against PyTorch's E=7 run, round by round
        for size in sizes {
            let parts = size.split(separator: "x").compactMap { Int($0) }
            guard parts.count == 2 else { throw ValidationError("--sizes takes OBSxACT, e.g. 27x8") }
            let (obs, act) = (parts[0], parts[1])
            let trainer = try TrainingBench(obs: obs, act: act)
            let withPeer = peersPython != nil && obs == 27 && act == 8
            var rates: [Double] = [], torchRates: [Double] = [], ratios: [Double] = []
            for round in 0..<(withPeer ? repeats : 1) {
                let peerRun = concurrent && withPeer
                    ? startPeerMeasurement(python: peersPython!, script: peersScript, name: "ensemble_train_E7") : nil
                var chunks: [Double] = []
                var done = 0
                repeat {
                    let n = peerRun == nil ? steps : 10
                    chunks.append(trainer.rate(steps: n)); done += n
                } while done < steps || peerRun?.isRunning == true
                let rate = median(chunks)
                rates.append(rate)
                say(String(format: "ensemble training E=7 4×200 SiLU batch 256/member, obs %d act %d: %.0f member-samples/s (%.1f GFLOP/s)%@",
                           obs, act, rate, rate * trainer.flopsPerSample / 1e9,
                           (peerRun == nil ? "" : String(format: ", median of %d chunks of 10 steps while PyTorch ran", chunks.count)) as NSString))
                guard withPeer else { continue }
                let roundPeers = peerRun?.finish() ?? runPeerMeasurement(python: peersPython!, script: peersScript, name: "ensemble_train_E7")
                peers += roundPeers
                if let torch = roundPeers.first(where: { ($0["measure"] as? String) == "ensemble_train E=7" })?["member_samples_per_s"] as? Double {
                    torchRates.append(torch); ratios.append(rate / torch)
                    say(String(format: "round %d: PyTorch %.0f member-samples/s → ours %.2f×", round + 1, torch, rate / torch))
                }
            }
            var entry: [String: Any] = ["measure": "ensemble_train E=7 obs=\(obs) act=\(act)", "member_samples_per_s": median(rates),
                                        "gflops": median(rates) * trainer.flopsPerSample / 1e9, "rounds_member_samples_per_s": rates]
            if !ratios.isEmpty {
                say(String(format: "ensemble training ÷ PyTorch: %.2f× (median of %d rounds: %@)", median(ratios), ratios.count,
                           ratios.map { String(format: "%.2f", $0) }.joined(separator: ", ") as NSString))
                entry["ratio_vs_torch"] = median(ratios); entry["rounds_ratio_vs_torch"] = ratios
                entry["torch_member_samples_per_s"] = median(torchRates)
            }
            results.append(entry)
        }
        // the planner-path forward against the GEMM peak, interleaved round by round
        let forward = try ForwardBench(obs: 27, act: 8)
        var fractions: [Double] = [], peaks: [Double] = [], rows: [Double] = [], apiFractions: [Double] = []
        var blasPeaks: [Double] = [], packedPeaks: [Double] = []
        for round in 0..<forwardRounds {
            let rates = gemmRates(m: 10000, n: 200, k: 200)
            let gemm = max(rates.blas, rates.packed)
            let r = forward.rates()
            let api = forward.apiRate()
            fractions.append(r * forward.flopsPerRow / 1e9 / gemm); apiFractions.append(api * forward.flopsPerRow / 1e9 / gemm)
            peaks.append(gemm); rows.append(r); blasPeaks.append(rates.blas); packedPeaks.append(rates.packed)
            say(String(format: "round %d: GEMM 10000×200×200 %.1f GFLOP/s (OpenBLAS %.1f, packed %.1f); planner-path forward %.0f rows/s, %.1f GFLOP/s = %.0f %% of it",
                       round + 1, gemm, rates.blas, rates.packed, r, r * forward.flopsPerRow / 1e9, 100 * fractions.last!))
        }
        say("LinAlg: \(String(cString: la_build_info()))")
        say(String(format: "LinAlg GEMM 10000×200×200: %.1f GFLOP/s, median of %d rounds (la_gemm via OpenBLAS %.1f, la_gemm_packed %.1f)",
                   median(peaks), forwardRounds, median(blasPeaks), median(packedPeaks)))
        say(String(format: "ensemble forward E=5, 500×20 rows (CEM population × particles), planner path (EnsemblePropagator: normalize, 5 GEMMs, sample): %.0f rows/s, %.0f %% of the GEMM peak of the same round (median of %d: %@)",
                   median(rows), 100 * median(fractions), forwardRounds, fractions.map { String(format: "%.0f %%", 100 * $0) }.joined(separator: ", ") as NSString))
        say(String(format: "  (predictMembers, the Double API path: %.0f %% of the peak)", 100 * median(apiFractions)))
        results.insert(["measure": "gemm 10000x200x200", "gflops": median(peaks), "openblas_gflops": median(blasPeaks),
                        "packed_gflops": median(packedPeaks)], at: 0)
        results.append(["measure": "ensemble_forward E=5 rows=10000", "rows_per_s": median(rows),
                        "gflops": median(rows) * forward.flopsPerRow / 1e9, "fraction_of_gemm_peak": median(fractions),
                        "rounds_fraction_of_gemm_peak": fractions, "api_fraction_of_gemm_peak": median(apiFractions)])
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
}

/// The training step `fit` runs (E = 7, 4 × 200 SiLU, batch 256 per member, Adam), on synthetic normalized
/// data of the benchmark's shapes.
final class TrainingBench {
    let model: ProbabilisticEnsemble
    let x: [Float], y: [Float]
    var adam = Adam(learningRate: 1e-3)
    let E = 7, B = 256
    /// Forward 2·Σ(in·out) flops per sample, backward about twice that.
    let flopsPerSample: Double
    init(obs: Int, act: Int) throws {
        model = try ProbabilisticEnsemble(config: EnsembleConfig(), stateNames: (0..<obs).map { "s\($0)" }, actionNames: (0..<act).map { "a\($0)" })
        var rng = SeededRNG(seed: 2)
        let F = model.inputSize
        x = (0..<(E * B * F)).map { _ in Float(rng.normal()) }; y = (0..<(E * B * obs)).map { _ in Float(rng.normal()) }
        let widths = [F, 200, 200, 200, 200, 2 * obs]
        flopsPerSample = 6 * zip(widths, widths.dropFirst()).reduce(0) { $0 + Double($1.0 * $1.1) }
        _ = rate(steps: 5)  // warm-up
    }
    /// Member-samples/s over `steps` training steps.
    func rate(steps: Int) -> Double {
        let start = Date()
        for _ in 0..<steps { model.trainStep(inputs: x, targets: y, batch: B, optimizer: &adam) }
        return Double(steps * E * B) / Date().timeIntervalSince(start)
    }
}

/// One TS-∞ planning step through the elites (`EnsemblePropagator.step`: features and normalization, one
/// batched GEMM per layer, soft log-variance bounds, a Gaussian sample), and the `Double` API
/// (`predictMembers`), on 500 × 20 rows split over 5 members.
final class ForwardBench {
    let model: ProbabilisticEnsemble
    let propagator: EnsemblePropagator
    let rows = 10_000 / 5  // 500 × 20 particles split over 5 members (TS-∞)
    let s: [Double], a: [Double], s5: [Float], a5: [Float]
    var next: [Float]
    var noise = NormalStream(seed: 1)
    /// 2·Σ(in·out) flops per row.
    let flopsPerRow: Double
    init(obs: Int, act: Int) throws {
        var config = EnsembleConfig(); config.members = 5; config.elites = 5
        model = try ProbabilisticEnsemble(config: config, stateNames: (0..<obs).map { "s\($0)" }, actionNames: (0..<act).map { "a\($0)" })
        var rng = SeededRNG(seed: 3)
        s = (0..<(rows * obs)).map { _ in rng.normal() }; a = (0..<(rows * act)).map { _ in rng.uniform(-1, 1) }
        propagator = EnsemblePropagator(model: model, maxRowsPerMember: rows)
        s5 = (0..<(5 * rows * obs)).map { _ in Float(rng.normal()) }; a5 = (0..<(5 * rows * act)).map { _ in Float(rng.uniform(-1, 1)) }
        next = [Float](repeating: 0, count: 5 * rows * obs)
        let widths = [obs + act, 200, 200, 200, 200, 2 * obs]
        flopsPerRow = 2 * zip(widths, widths.dropFirst()).reduce(0) { $0 + Double($1.0 * $1.1) }
        _ = model.predictMembers(states: s, actions: a, count: rows)
        propagator.step(states: s5, actions: a5, rowsPerMember: rows, next: &next, noise: &noise)
    }
    /// Rows/s of the planner path: the best of 3 × 10 steps.
    func rates() -> Double {
        var best = 0.0
        for _ in 0..<3 {
            let t0 = Date()
            for _ in 0..<10 { propagator.step(states: s5, actions: a5, rowsPerMember: rows, next: &next, noise: &noise) }
            best = max(best, Double(10 * rows * 5) / Date().timeIntervalSince(t0))
        }
        return best
    }
    /// Rows/s of `predictMembers` over 5 calls.
    func apiRate() -> Double {
        let start = Date()
        for _ in 0..<5 { _ = model.predictMembers(states: s, actions: a, count: rows) }
        return Double(5 * rows * 5) / Date().timeIntervalSince(start)
    }
}

/// Fails early, naming the path, when peers are asked for but their Python or script is not there (the
/// default script path is relative to the package root, where the commands are meant to be run).
func validatePeers(python: String?, script: String) throws {
    guard let python else { return }
    guard FileManager.default.isExecutableFile(atPath: python) else {
        throw ValidationError("--peers-python \(python): no executable there (see ../shared/peers/README.md)")
    }
    guard FileManager.default.fileExists(atPath: script) else {
        throw ValidationError("peers script \(script) not found (relative to \(FileManager.default.currentDirectoryPath)); run from the package root or pass --peers-script")
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
func startPeer(python: String, arguments: [String]) -> PeerRun? {
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
