import ArgumentParser
import ControlCore
import Foundation
import Learning
import NeuralNets

/// `mbc bench sac`: SAC gradient steps per second (actor + twin critics 2×256 ReLU, batch 256, Adam, α
/// update, Polyak targets; SAC-Lagrangian adds the cost critic) on random data of the quadruped's sizes
/// (46 observations, 12 actions), one thread, against the peers' PyTorch `sac` measurement patched to the
/// same sizes, in the same run.
struct BenchSAC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sac",
        abstract: "SAC updates/s (2×256, batch 256, the quadruped's 46 observations and 12 actions) against PyTorch, one thread each.")
    @Option(help: "Observation and action sizes (default: quadruped-walk's).") var observations: Int = 46
    @Option var actions: Int = 12
    @Option(help: "Minibatch size.") var batch: Int = 256
    @Option(help: "Updates timed per round (after 50 warm-up updates).") var updates: Int = 500
    @Flag(help: "Time SAC-Lagrangian's update (with the cost critic) instead.") var lagrangian = false
    @Option(help: "Python with torch (../shared/peers/README.md) to measure PyTorch in the same run.") var peersPython: String?
    @Option(help: "The peers' nn_rate.py.") var peersScript: String = "../shared/peers/nn_rate.py"
    @Option(help: "Rounds of (ours, PyTorch) back to back; medians are reported.") var repeats: Int = 3
    @Flag(help: "Run PyTorch at the same time on core 0 (pin ours to core 1: `taskset -c 1 mbc bench sac …`); ours is timed in chunks of 100 updates for as long as the peer runs.")
    var concurrent = false
    @OptionGroup var common: CommonOptions

    func validate() throws {
        try validatePeers(python: peersPython, script: peersScript)
        guard observations > 0, actions > 0, batch > 0, updates > 0, repeats > 0 else {
            throw ValidationError("--observations, --actions, --batch, --updates and --repeats must be positive")
        }
    }

    func run() throws {
        #if DEBUG
        FileHandle.standardError.write("warning: this is a debug build; benchmark with `swift run -c release mbc bench sac`\n".data(using: .utf8)!)
        #endif
        var rng = SeededRNG(seed: 0)
        var settings = SACSettings(); settings.batchSize = batch
        var agent = SACAgent(observationDimension: observations, actionDimension: actions, settings: settings,
                             lagrangian: lagrangian ? LagrangianSettings() : nil, rng: &rng)
        var buffer = ReplayBuffer(capacity: 100_000, observationDimension: observations, actionDimension: actions)
        for _ in 0..<100_000 {
            buffer.append(observation: (0..<observations).map { _ in rng.normal() }, action: (0..<actions).map { _ in rng.uniform(-1, 1) },
                          reward: rng.normal(), cost: rng.uniform() < 0.05 ? 1 : 0,
                          nextObservation: (0..<observations).map { _ in rng.normal() }, terminated: false)
        }
        func timed(_ n: Int) throws -> Double {
            let start = Date()
            for _ in 0..<n { try agent.update(buffer.sample(batch, rng: &rng), rng: &rng) }
            return Double(n) / Date().timeIntervalSince(start)
        }
        _ = try timed(50)
        let code = """
            import runpy, torch
            torch.set_num_threads(1); torch.set_num_interop_threads(1)
            g = runpy.run_path(\(String(reflecting: peersScript)), run_name="peer")
            g["sac"].__globals__.update(OBS=\(observations), ACT=\(actions))
            g["sac"](batch=\(batch))
            """
        var ours: [Double] = [], torch: [Double] = [], ratios: [Double] = []
        for round in 1...repeats {
            let peer = concurrent ? peersPython.flatMap { startPeer(python: $0, arguments: ["-c", code]) } : nil
            var chunks: [Double] = []
            if peer != nil {
                repeat { chunks.append(try timed(100)) } while peer?.isRunning == true
            } else {
                chunks.append(try timed(updates))
            }
            let mine = median(chunks)
            ours.append(mine)
            var line = String(format: "round %d: ours %.1f updates/s", round, mine)
            let records = peer?.finish() ?? peersPython.map { startPeer(python: $0, arguments: ["-c", code])?.finish() ?? [] } ?? []
            if let rate = records.first(where: { $0["measure"] as? String == "sac_update" })?["updates_per_s"] as? Double {
                torch.append(rate); ratios.append(mine / rate)
                line += String(format: ", PyTorch %.1f updates/s: %.2f×%@", rate, mine / rate, peer != nil ? " (side by side)" : "")
            }
            say(line)
        }
        let flops = updateFLOPs()
        say(String(format: "SAC%@ update, obs %d, act %d, batch %d, 2×256: %.1f updates/s (median of %d), %.1f GFLOP/s of GEMM work (%.2f GFLOP per update)",
                   lagrangian ? "-Lagrangian" : "", observations, actions, batch, median(ours), repeats,
                   median(ours) * flops / 1e9, flops / 1e9))
        if !ratios.isEmpty {
            say(String(format: "ours ÷ PyTorch: %.2f× (median of %d rounds: %@)", median(ratios), ratios.count,
                       ratios.map { String(format: "%.2f", $0) }.joined(separator: ", ")))
        }
        if common.json {
            var o: [String: Any] = ["measure": lagrangian ? "sac_lagrangian_update" : "sac_update", "observations": observations, "actions": actions,
                                    "batch": batch, "updates_per_s": median(ours), "rounds_updates_per_s": ours,
                                    "gflop_per_update": flops / 1e9, "concurrent": concurrent]
            if !ratios.isEmpty {
                o["torch_updates_per_s"] = median(torch); o["ratio"] = median(ratios); o["rounds_ratio"] = ratios
            }
            printJSON(o)
        }
    }

    /// Multiply-adds ×2 of the GEMMs one update needs (hidden 2×256): the target critics and the next
    /// action, the critic step (forward, weight and input gradients), the actor step (actor forward and
    /// backward, the critics' forward and input gradient), and the cost critic's share for SAC-Lagrangian.
    func updateFLOPs() -> Double {
        let h = 256.0, b = Double(batch), o = Double(observations), a = Double(actions), i = o + a
        let criticForward = b * (i * h + h * h + h)
        let actorForward = b * (o * h + h * h + h * 2 * a)
        // one twin critic: its targets at (s′, a′), its step (forward, dW, dX but the first layer's), its
        // forward at (s, ã) and ∂Q/∂a through the picked critic per row
        let twinCritic = 2 * criticForward + 2 * (criticForward + (i * h + h * h + h) * b + (h * h + h) * b)
            + 2 * criticForward + (h * h + h + i * h) * b
        var macs = twinCritic + 2 * actorForward                                   // a′ ~ π(s′), ã ~ π(s)
        macs += (o * h + h * h + h * 2 * a) * b + (h * h + h * 2 * a) * b          // actor dW, dX
        if lagrangian { macs += twinCritic }                                       // the cost critics
        return 2 * macs
    }
}
