// Column-name conventions of the CSV log format (docs/LOG_FORMAT.md).

/// Standard column names of the CSV log format (LeRobot/ROS style). All quantities are SI: rad, rad/s,
/// N·m, m, m/s, s. Joint names are the actuated joints' names in the robot's URDF.
public enum LogColumns {
    /// 0-based index of the episode the row belongs to; an episode is a contiguous run of equal values.
    public static let episodeIndex = "episode_index"
    /// 0-based index of the control step within its episode.
    public static let frameIndex = "frame_index"
    /// Simulated time in s at the start of the step, measured from the start of the episode.
    public static let timestamp = "timestamp"
    /// Reward returned by the step.
    public static let reward = "next.reward"
    /// Safety cost returned by the step (≥ 0, 0 when safe).
    public static let cost = "next.cost"
    /// 1 when the step ended the episode (terminated or truncated), else 0.
    public static let done = "next.done"

    /// Joint position in rad (revolute) or m (prismatic) at the start of the step.
    public static func jointPosition(_ joint: String) -> String { "joint_state.position.\(joint)" }
    /// Joint velocity in rad/s (revolute) or m/s (prismatic) at the start of the step.
    public static func jointVelocity(_ joint: String) -> String { "joint_state.velocity.\(joint)" }
    /// Joint effort in N·m (revolute) or N (prismatic) measured at the start of the step.
    public static func jointEffort(_ joint: String) -> String { "joint_state.effort.\(joint)" }
    /// Physical command applied to `joint` during the step: a PD target in rad for a position-controlled
    /// joint, a torque in N·m for a torque-controlled one.
    public static func action(_ joint: String) -> String { "action.\(joint)" }
    /// Component `k` (0-based) of the environment's observation vector at the start of the step.
    public static func observationState(_ k: Int) -> String { "observation.state.\(k)" }

    /// Floating-base position in the world frame, m: `base.position.{x,y,z}`.
    public static let basePosition = ["base.position.x", "base.position.y", "base.position.z"]
    /// Floating-base orientation as a unit quaternion (body → world), scalar first: `base.orientation.{w,x,y,z}`.
    public static let baseOrientation = ["base.orientation.w", "base.orientation.x",
                                         "base.orientation.y", "base.orientation.z"]
    /// Floating-base linear velocity in the world frame, m/s: `base.linear_velocity.{x,y,z}`.
    public static let baseLinearVelocity = ["base.linear_velocity.x", "base.linear_velocity.y",
                                            "base.linear_velocity.z"]
    /// Floating-base angular velocity in the world frame, rad/s: `base.angular_velocity.{x,y,z}`.
    public static let baseAngularVelocity = ["base.angular_velocity.x", "base.angular_velocity.y",
                                             "base.angular_velocity.z"]

    /// The standard column list, in the canonical order: indices and timestamp; position, velocity and
    /// effort of every joint in `joints`; the 13 floating-base columns when `floatingBase`; one `action.`
    /// column per joint; `observationDimension` `observation.state.` columns; reward, cost, done.
    public static func standard(joints: [String], floatingBase: Bool, observationDimension: Int) -> [String] {
        var columns = [episodeIndex, frameIndex, timestamp]
        columns += joints.map(jointPosition)
        columns += joints.map(jointVelocity)
        columns += joints.map(jointEffort)
        if floatingBase {
            columns += basePosition + baseOrientation + baseLinearVelocity + baseAngularVelocity
        }
        columns += joints.map(action)
        columns += (0..<max(0, observationDimension)).map(observationState)
        columns += [reward, cost, done]
        return columns
    }

    /// Why `name` cannot be a column name (empty, surrounding spaces, or a `,` `"` CR LF character), or nil.
    static func problem(with name: String) -> String? {
        if name.isEmpty { return "column name is empty" }
        for byte in name.utf8 {
            switch byte {
            case UInt8(ascii: ","): return "column name contains ','"
            case UInt8(ascii: "\""): return "column name contains '\"' (quoting is not supported)"
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"): return "column name contains a line break"
            default: continue
            }
        }
        if let first = name.utf8.first, let last = name.utf8.last,
           first == UInt8(ascii: " ") || first == UInt8(ascii: "\t")
            || last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") {
            return "column name has leading or trailing whitespace"
        }
        return nil
    }
}
