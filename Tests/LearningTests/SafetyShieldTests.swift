import ControlCore
import Environments
import Foundation
import Testing
@testable import Learning

@Suite struct SafetyShieldTests {
    func settings(trigger: Double = 0.2, release: Double = 0.3, maxSteps: Int = 3) -> ShieldSettings {
        var s = ShieldSettings()
        s.enabled = true; s.triggerMargin = trigger; s.releaseMargin = release; s.maxSteps = maxSteps
        return s
    }

    /// Takes over below the trigger, holds between trigger and release (hysteresis), hands back at the release.
    @Test func triggersHoldsAndReleasesWithHysteresis() {
        var shield = SafetyShield(settings: settings(maxSteps: 100))
        let p = [0.5, -0.5]
        #expect(shield.filter(proposed: p, lastMargin: nil) == (p, false))      // episode start: no margin yet
        #expect(shield.filter(proposed: p, lastMargin: 0.25) == (p, false))     // above the trigger
        #expect(shield.filter(proposed: p, lastMargin: 0.1) == ([0, 0], true))  // below: recovery action
        #expect(shield.filter(proposed: p, lastMargin: 0.25) == ([0, 0], true)) // between: still held
        #expect(shield.filter(proposed: p, lastMargin: 0.3) == (p, false))      // at the release: handed back
        #expect(shield.totalSteps == 2 && shield.interventions == 1)
    }

    /// After `maxSteps` recovery steps it hands back and stays off until the margin recovers above the trigger.
    @Test func timesOutAndRearmsOnlyAfterRecovery() {
        var s = settings(maxSteps: 2)
        s.recoveryAction = [0.1, 0.2]
        var shield = SafetyShield(settings: s)
        let p = [0.5, -0.5]
        #expect(shield.filter(proposed: p, lastMargin: 0.0).shielded)
        #expect(shield.filter(proposed: p, lastMargin: 0.0).action == [0.1, 0.2])
        #expect(!shield.filter(proposed: p, lastMargin: 0.0).shielded)         // timed out
        #expect(!shield.filter(proposed: p, lastMargin: -0.1).shielded)        // disarmed: a robot on its side
        #expect(!shield.filter(proposed: p, lastMargin: 0.19).shielded)        // still below the trigger
        #expect(!shield.filter(proposed: p, lastMargin: 0.35).shielded)        // recovered: re-armed
        #expect(shield.filter(proposed: p, lastMargin: 0.1).shielded)
        #expect(shield.interventions == 2)
        shield.reset()
        #expect(!shield.active && shield.stepsActive == 0)
    }

    /// A margin falling fast is caught before it reaches the trigger: 0.4 → 0.3 extrapolates to 0.1 two steps on.
    @Test func extrapolationCatchesAFastTilt() {
        var shield = SafetyShield(settings: settings())
        #expect(!shield.filter(proposed: [1], lastMargin: 0.4).shielded)
        #expect(shield.filter(proposed: [1], lastMargin: 0.3).shielded)
        var slow = SafetyShield(settings: settings())
        #expect(!slow.filter(proposed: [1], lastMargin: 0.33).shielded)
        #expect(!slow.filter(proposed: [1], lastMargin: 0.3).shielded)      // 0.3 − 2·0.03 = 0.24 ≥ 0.2
        var none = settings(); none.lookaheadSteps = 0
        var plain = SafetyShield(settings: none)
        #expect(!plain.filter(proposed: [1], lastMargin: 0.4).shielded)
        #expect(!plain.filter(proposed: [1], lastMargin: 0.21).shielded)
    }

    @Test func disabledPassesEverythingThrough() {
        var shield = SafetyShield(settings: ShieldSettings())
        #expect(shield.filter(proposed: [1], lastMargin: -1).shielded == false)
        #expect(shield.totalSteps == 0)
    }

    /// On the quadruped under uniform random actions (the warm-up), the standing-pose recovery triggered at
    /// 0.1 rad of tilt cuts the unsafe steps (|pitch| or |roll| > 0.35 rad) by more than 5×; it counts its
    /// take-overs, and a recovery action of the wrong size is a clear error.
    @Test func shieldKeepsRandomActionsOnTheQuadrupedSafe() throws {
        func run(_ shield: Bool) throws -> TrainSummary {
            var c = TrainConfig()
            c.algorithm = .sac
            c.totalSteps = 3000; c.randomSteps = 3000
            c.sac.hidden = [8]; c.sac.batchSize = 8; c.replayCapacity = 3000
            c.evaluationEpisodes = 0; c.logInterval = 1000; c.checkpointInterval = 3000
            c.shield = settings(trigger: 0.25, release: 0.3, maxSteps: 25)
            c.shield.enabled = shield
            let dir = temporaryDirectory("shield-\(shield)")
            defer { try? FileManager.default.removeItem(at: dir) }
            let t = SACTrainer(config: c, env: try QuadrupedWalkEnv(config: c.quadruped, seed: 0),
                               evaluationEnv: try QuadrupedWalkEnv(config: c.quadruped, seed: 0), directory: dir)
            return try t.run(resume: false)
        }
        let free = try run(false), shielded = try run(true)
        #expect(free.shieldSteps == 0)
        #expect(shielded.shieldSteps > 0)
        #expect(free.violations >= 50)
        #expect(shielded.violations * 5 < free.violations, "unsafe steps \(shielded.violations) with the shield, \(free.violations) without")

        var c = TrainConfig()
        c.env = .pendulumSwingUp; c.totalSteps = 10
        c.shield.enabled = true; c.shield.recoveryAction = [0, 0]
        let dir = temporaryDirectory("shield-size")
        defer { try? FileManager.default.removeItem(at: dir) }
        let t = try pendulumTrainer(c, dir)
        #expect(throws: TrainSettingsError.self) { _ = try t.run(resume: false) }
    }
}
