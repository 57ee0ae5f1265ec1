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
    public static let baseOrientation = ["base.orientation.w", "base.orientation.x", "base.orientation.y", "base.orientation.z"]
    /// Floating-base linear velocity in the world frame, m/s: `base.linear_velocity.{x,y,z}`.
    public static let baseLinearVelocity = ["base.linear_velocity.x", "base.linear_velocity.y", "base.linear_velocity.z"]
    /// Floating-base angular velocity in the world frame, rad/s: `base.angular_velocity.{x,y,z}`.
    public static let baseAngularVelocity = ["base.angular_velocity.x", "base.angular_velocity.y", "base.angular_velocity.z"]

    /// The standard column list, in the canonical order: indices and timestamp; position, velocity and
    /// effort of every joint in `joints`; the 13 floating-base columns when `floatingBase`; one `action.`
    /// column per joint; `observationDimension` `observation.state.` columns; reward, cost, done.
    public static func standard(joints: [String], floatingBase: Bool, observationDimension: Int) -> [String] {
        [episodeIndex, frameIndex, timestamp] + joints.map(jointPosition) + joints.map(jointVelocity) + joints.map(jointEffort)
            + (floatingBase ? basePosition + baseOrientation + baseLinearVelocity + baseAngularVelocity : [])
            + joints.map(action) + (0..<max(0, observationDimension)).map(observationState) + [reward, cost, done]
    }

    /// Why `name` cannot be a column name (empty, surrounding spaces, or a `,` `"` CR LF character), or nil.
    static func problem(with name: String) -> String? {
        if name.isEmpty { return "column name is empty" }
        if name.contains(",") { return "column name contains ','" }
        if name.contains("\"") { return "column name contains '\"' (quoting is not supported)" }
        if name.unicodeScalars.contains(where: { $0 == "\n" || $0 == "\r" }) { return "column name contains a line break" }
        if [" ", "\t"].contains(name.first!) || [" ", "\t"].contains(name.last!) { return "column name has leading or trailing whitespace" }
        return nil
    }

    /// The position of each name; throws `.duplicateColumn` naming the first repeated one and both positions.
    static func positions(of columns: [String], file: String, line: Int?) throws -> [String: Int] {
        var positions: [String: Int] = [:]
        for (position, name) in columns.enumerated() {
            if let earlier = positions.updateValue(position, forKey: name) {
                throw DataFormatError(kind: .duplicateColumn, file: file, line: line, column: name,
                                      message: "duplicate column name (positions \(earlier + 1) and \(position + 1))")
            }
        }
        return positions
    }
}
