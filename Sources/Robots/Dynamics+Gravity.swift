import ControlCore

extension RobotModel {
    /// Joint torques (N·m, or N for sliders) that hold the robot still against gravity at configuration
    /// `q` (DOF order) with the base at `base`: τ_i = −Σ_{b ∈ subtree(i)} a_i · ((c_b − p_i) × m_b g) for a
    /// hinge with world axis a_i through p_i, and −Σ m_b g · a_i for a slider (the transpose of each body's
    /// COM Jacobian applied to its weight). This is what a Franka-class arm's controller adds to every
    /// commanded torque.
    public func gravityTorques(q: [Double], base: Pose = .identity, gravity: Vec3 = Vec3(0, 0, -9.81)) -> [Double] {
        let frames = forwardKinematics(base: base, q: q)
        // subtree membership: walk each body's ancestry
        var result = [Double](repeating: 0, count: dof)
        var dofOf = [Int: Int]()
        for (i, k) in actuatedJoints.enumerated() { dofOf[k] = i }
        for (b, body) in bodies.enumerated() where body.mass > 0 {
            let com = frames[b].transform(body.centerOfMass)
            let weight = body.mass * gravity
            var current = b
            while let k = bodies[current].parentJoint {
                let j = joints[k]
                if let i = dofOf[k] {
                    let axis = frames[j.childBody].orientation.rotate(j.axis)
                    let anchor = frames[j.childBody].position
                    if j.type == .prismatic {
                        result[i] -= weight.dot(axis)
                    } else {
                        result[i] -= axis.dot((com - anchor).cross(weight))
                    }
                }
                current = j.parentBody
            }
        }
        return result
    }
}
