import ControlCore
import Foundation
import NeuralNets
import Testing
@testable import Learning

/// Writes a SAC learner's weights, three minibatches with the noise each update draws, and the gradients and
/// weights after each update as raw little-endian float32 files into `$SAC_DUMP`, for
/// `scripts/sac-update-vs-pytorch.py` to redo the same updates in PyTorch and compare (run by
/// `scripts/check-sac-against-pytorch.sh`; off unless SAC_DUMP is set).
@Suite struct SACReferenceDump {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["SAC_DUMP"] != nil))
    func dumpUpdatesForPyTorch() throws {
        let dir = ProcessInfo.processInfo.environment["SAC_DUMP"]!
        let od = 46, ad = 12, b = 256  // the quadruped's sizes, batch 256
        var rng = SeededRNG(seed: 7)
        var settings = SACSettings(); settings.batchSize = b
        var agent = SACAgent(observationDimension: od, actionDimension: ad, settings: settings, rng: &rng)
        var buffer = ReplayBuffer(capacity: 10000, observationDimension: od, actionDimension: ad)
        for _ in 0..<1000 {
            buffer.append(observation: (0..<od).map { _ in rng.normal() }, action: (0..<ad).map { _ in rng.uniform(-1, 1) },
                          reward: rng.normal(), cost: 0, nextObservation: (0..<od).map { _ in rng.normal() }, terminated: rng.uniform() < 0.1)
        }
        func write(_ name: String, _ a: [Float]) throws {
            try a.withUnsafeBufferPointer { Data(buffer: $0) }.write(to: URL(fileURLWithPath: "\(dir)/\(name).bin"))
        }
        for (k, p) in agent.actor.parameters.enumerated() { try write("actor\(k)", p.value) }
        for (k, p) in agent.critic.parameters.enumerated() { try write("critic\(k)", p.value) }
        for (k, p) in agent.targetCritic.parameters.enumerated() { try write("target\(k)", p.value) }
        for step in 0..<3 {
            let batch = buffer.sample(b, rng: &rng)
            var copy = rng
            let n1 = SquashedGaussianActor.noise(rows: b, ad, &copy), n2 = SquashedGaussianActor.noise(rows: b, ad, &copy)
            try write("obs\(step)", batch.observations.storage); try write("act\(step)", batch.actions.storage)
            try write("rew\(step)", batch.rewards); try write("next\(step)", batch.nextObservations.storage); try write("term\(step)", batch.terminals)
            try write("n1_\(step)", n1); try write("n2_\(step)", n2)
            let s = try agent.update(batch, rng: &rng)
            for (k, p) in agent.actor.parameters.enumerated() { try write("actorgrad\(step)_\(k)", p.grad); try write("actorafter\(step)_\(k)", p.value) }
            for (k, p) in agent.critic.parameters.enumerated() { try write("criticgrad\(step)_\(k)", p.grad); try write("criticafter\(step)_\(k)", p.value) }
            try write("stats\(step)", [Float(s.criticLoss), Float(s.actorLoss), Float(s.entropy), Float(s.meanQ), Float(agent.alpha)])
        }
    }
}

