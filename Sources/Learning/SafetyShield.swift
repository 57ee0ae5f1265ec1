// SafetyShield.swift: a recovery controller that takes over training actions near the safety boundary — the
// "safe recovery policy" of safe real-world locomotion learning (Yang et al. 2022, "Safe Reinforcement
// Learning for Legged Locomotion"; Thananjeyan et al. 2021, "Recovery RL"), here with a fixed recovery action
// and a trigger on the task's own safety margin instead of a learned one.
//
// A Lagrangian constraint (SACLagrangian.swift) can only react to violations it has already seen: λ rises after
// the cost rate passes d, and the cost critic learns what leads to a fall from falls. Measured on the quadruped,
// most unsafe steps happen in the first 30k env steps, before either has anything to act on (docs/TRAINING.md).
// The shield acts before a violation: when the margin f_s (`info["safety_margin"]`, rad; for the quadruped
// min(φ̂ − |pitch|, ρ̂ − |roll|)) of the last step, or its linear extrapolation `lookaheadSteps` ahead, falls
// below `triggerMargin`, the executed action becomes the
// recovery action (0: the quadruped's PD targets at its standing pose) until the margin is back above
// `releaseMargin` (hysteresis) or `maxSteps` recovery steps have passed (then it stays off until the margin is
// back above `triggerMargin`: a robot the recovery cannot right is left to the learner). The replay buffer stores the action
// that was executed, so the off-policy critics learn what the recovery did; evaluations and exported policies
// never use the shield, so the evaluation return measures the policy alone.

import Foundation

/// Settings of the training-time safety shield (`shield:` in a training config).
public struct ShieldSettings: Codable, Sendable, Hashable {
    /// Whether the shield runs during training (never in evaluation or in the exported policy).
    public var enabled: Bool = false
    /// Take over when the last step's safety margin f_s is below this, rad (f_s < 0 is a violation).
    public var triggerMargin: Double = 0.15
    /// Hand back to the learner when the margin is at least this, rad (≥ `triggerMargin`).
    public var releaseMargin: Double = 0.25
    /// Control steps of linear extrapolation of the margin: the shield takes over when the margin, or the margin
    /// extrapolated this many steps ahead from its change over the last step, is below `triggerMargin` — so a
    /// fast tilt is caught before it passes the trigger (0: the margin alone).
    public var lookaheadSteps: Double = 2
    /// At most this many consecutive recovery steps; then the learner acts again (a robot lying on its side
    /// cannot be recovered by standing, and the episode must still be able to end).
    public var maxSteps: Int = 25
    /// The normalized action executed while the shield holds the robot (empty: all zeros — for the quadruped
    /// the standing pose under its PD servos).
    public var recoveryAction: [Double] = []
    public init() {}
}

/// The shield's state within one episode: whether it holds the robot and for how long it has.
public struct SafetyShield: Sendable {
    public let settings: ShieldSettings
    public private(set) var active = false
    public private(set) var stepsActive = 0
    /// After a take-over that timed out, the shield re-arms only once the margin is back above `triggerMargin`.
    public private(set) var disarmed = false
    /// The margin before the last one (for the extrapolation), nil at an episode start.
    var previousMargin: Double?
    /// Steps taken over and take-overs since the start of the run (a metric).
    public private(set) var totalSteps = 0
    public private(set) var interventions = 0

    public init(settings: ShieldSettings) { self.settings = settings }

    /// Restores the counters (from a checkpoint) with the shield released.
    public init(settings: ShieldSettings, totalSteps: Int, interventions: Int) {
        self.settings = settings
        self.totalSteps = totalSteps
        self.interventions = interventions
    }

    /// Releases the shield at an episode start.
    public mutating func reset() { active = false; stepsActive = 0; disarmed = false; previousMargin = nil }

    /// The action to execute given the learner's proposal and the last step's margin (nil at an episode start
    /// or for a task without one): the recovery action while the shield holds, else the proposal.
    public mutating func filter(proposed: [Double], lastMargin: Double?) -> (action: [Double], shielded: Bool) {
        guard settings.enabled else { return (proposed, false) }
        if let m = lastMargin {
            let predicted = previousMargin.map { m + settings.lookaheadSteps * (m - $0) } ?? m
            previousMargin = m
            if m >= settings.triggerMargin { disarmed = false }
            if active {
                if m >= settings.releaseMargin {
                    active = false; stepsActive = 0
                } else if stepsActive >= settings.maxSteps {
                    active = false; stepsActive = 0; disarmed = true
                }
            } else if !disarmed && min(m, predicted) < settings.triggerMargin {
                active = true; stepsActive = 0; interventions += 1
            }
        }
        guard active else { return (proposed, false) }
        stepsActive += 1
        totalSteps += 1
        let recovery = settings.recoveryAction.isEmpty ? [Double](repeating: 0, count: proposed.count) : settings.recoveryAction
        return (recovery, true)
    }
}
