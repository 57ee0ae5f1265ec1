import ControlCore
import Foundation

/// Writes a robot back out as URDF (http://wiki.ros.org/urdf/XML), with the inertials and joint `<dynamics>`
/// of a `PhysicsParameters` value: what system identification emits.
///
/// Everything the parsed `URDFRobot` holds is written as it was — links, joints (origin, axis, limits),
/// visuals and collisions (geometry, origin, name), top-level materials and visual colours — in document
/// order. Elements the parser does not keep (`<transmission>`, `<gazebo>`, `<mimic>`, `<safety_controller>`,
/// `<calibration>`, textures, comments) are not written. Numbers are printed in the shortest form that reads
/// back to the same `Double`, and orientations as `rpy` recovered from the parsed rotation (equal to it
/// within rounding).
///
/// Bodies and merged links: `RobotModel` merges links joined by fixed joints into one rigid body (named
/// after its root link), and parameters are per body. A body whose mass, centre of mass and inertia equal
/// the model's keeps every link's `<inertial>` as parsed. A changed body is written as one `<inertial>` on
/// its root link — the body's mass, its centre of mass as `origin xyz` (rpy 0) in the root link's frame, and
/// its inertia about the COM in that frame — and the other links merged into it lose theirs: the lumped
/// body is what the parameters describe, and parsing the file back gives exactly that body. Joint
/// `<dynamics damping friction>` come from the parameters for every joint they list (others keep theirs).
/// Actuator strength, PD gains, latency, ground contact and gravity have no place in URDF and are not
/// written (encode the `PhysicsParameters` value itself, it is `Codable`).
public enum URDFWriter {
    /// URDF text for `model`'s robot, with the inertials and joint dynamics of `parameters` (nil: as parsed).
    /// - Throws: `PhysicsParametersError` for invalid values or a body or joint name the model does not have.
    public static func urdf(for model: RobotModel, parameters: PhysicsParameters? = nil) throws -> String {
        let robot = model.urdf
        var inertialOverride: [String: URDFInertial?] = [:]
        var dynamicsOverride: [String: (damping: Double, friction: Double)] = [:]
        if let parameters {
            try parameters.validate()
            for p in parameters.bodies {
                guard let body = model.bodies.first(where: { $0.name == p.name }) else {
                    let hint = model.linkFrames[p.name].map { "is merged by fixed joints into body '\(model.bodies[$0.body].name)'" }
                    throw PhysicsParametersError(element: "link '\(p.name)'", message: hint ?? "no such body in robot '\(model.name)'")
                }
                if p.mass == body.mass && p.centerOfMass == body.centerOfMass && p.inertia == body.inertia { continue }
                for link in body.links { inertialOverride[link] = .some(nil) }
                inertialOverride[body.name] = URDFInertial(origin: Pose(position: p.centerOfMass), mass: p.mass, inertia: p.inertia)
            }
            for j in parameters.joints {
                guard model.joints.contains(where: { $0.name == j.name }) else {
                    throw PhysicsParametersError(element: "joint '\(j.name)'", message: "no such movable joint in robot '\(model.name)'")
                }
                dynamicsOverride[j.name] = (j.damping, j.friction)
            }
        }

        var out = "<?xml version=\"1.0\"?>\n"
        let source = robot.source.replacingOccurrences(of: "--", with: "- -")
        out += "<!-- Written by URDFWriter from \(source)\(parameters == nil ? "" : ", with inertials and joint dynamics from physical parameters") -->\n"
        out += "<robot name=\"\(escape(robot.name))\">\n"
        for name in robot.materials.keys.sorted() {
            out += "  <material name=\"\(escape(name))\">\n    <color rgba=\"\(numbers(robot.materials[name]!))\"/>\n  </material>\n"
        }
        var usedMaterialNames = Set(robot.materials.keys)
        for link in robot.links {
            out += "  <link name=\"\(escape(link.name))\">\n"
            let inertial: URDFInertial? = inertialOverride[link.name] ?? link.inertial
            if let inertial {
                let i = inertial.inertia
                out += "    <inertial>\n"
                out += "      \(origin(inertial.origin))\n"
                out += "      <mass value=\"\(number(inertial.mass))\"/>\n"
                out += "      <inertia ixx=\"\(number(i.r0.x))\" ixy=\"\(number(i.r0.y))\" ixz=\"\(number(i.r0.z))\" iyy=\"\(number(i.r1.y))\" iyz=\"\(number(i.r1.z))\" izz=\"\(number(i.r2.z))\"/>\n"
                out += "    </inertial>\n"
            } else if inertialOverride[link.name] != nil, link.inertial != nil {
                out += "    <!-- inertial folded into the inertial of the body it is fixed to -->\n"
            }
            for (k, visual) in link.visuals.enumerated() {
                var material = ""
                if let rgba = visual.rgba {
                    if let named = robot.materials.keys.sorted().first(where: { robot.materials[$0] == rgba }) {
                        material = "      <material name=\"\(escape(named))\"/>\n"
                    } else {
                        var name = "\(link.name)_visual\(k)"
                        while usedMaterialNames.contains(name) { name += "_" }
                        usedMaterialNames.insert(name)
                        material = "      <material name=\"\(escape(name))\">\n        <color rgba=\"\(numbers(rgba))\"/>\n      </material>\n"
                    }
                }
                out += shape("visual", visual, extra: material)
            }
            for collision in link.collisions { out += shape("collision", collision, extra: "") }
            out += "  </link>\n"
        }
        for joint in robot.joints {
            out += "  <joint name=\"\(escape(joint.name))\" type=\"\(joint.type.rawValue)\">\n"
            out += "    \(origin(joint.origin))\n"
            out += "    <parent link=\"\(escape(joint.parent))\"/>\n"
            out += "    <child link=\"\(escape(joint.child))\"/>\n"
            if joint.type != .fixed && joint.type != .floating {
                out += "    <axis xyz=\"\(numbers([joint.axis.x, joint.axis.y, joint.axis.z]))\"/>\n"
            }
            if let l = joint.limit {
                out += "    <limit lower=\"\(number(l.lower))\" upper=\"\(number(l.upper))\" effort=\"\(number(l.effort))\" velocity=\"\(number(l.velocity))\"/>\n"
            }
            let dynamics = dynamicsOverride[joint.name] ?? (joint.damping, joint.friction)
            if dynamics.damping != 0 || dynamics.friction != 0 {
                out += "    <dynamics damping=\"\(number(dynamics.damping))\" friction=\"\(number(dynamics.friction))\"/>\n"
            }
            out += "  </joint>\n"
        }
        out += "</robot>\n"
        return out
    }

    /// Writes `urdf(for:parameters:)` to `url` atomically (a temporary file in the same directory, then a
    /// rename), so a reader never sees a partial file.
    /// - Throws: `PhysicsParametersError` as `urdf(for:parameters:)`; `URDFError` naming the file when it
    ///   cannot be written.
    public static func write(_ model: RobotModel, parameters: PhysicsParameters? = nil, to url: URL) throws {
        let text = try urdf(for: model, parameters: parameters)
        do {
            try Data(text.utf8).write(to: url, options: .atomic)
        } catch {
            throw URDFError(file: url.path, line: 0, element: "file", message: "cannot write the file: \(error.localizedDescription)")
        }
    }

    // MARK: - pieces

    private static func shape(_ tag: String, _ s: URDFShape, extra: String) -> String {
        var out = "    <\(tag)\(s.name.map { " name=\"\(escape($0))\"" } ?? "")>\n"
        out += "      \(origin(s.origin))\n"
        out += "      <geometry>\n        \(geometry(s.geometry))\n      </geometry>\n"
        out += extra
        out += "    </\(tag)>\n"
        return out
    }

    private static func geometry(_ g: URDFGeometry) -> String {
        switch g {
        case .box(let s): return "<box size=\"\(numbers([s.x, s.y, s.z]))\"/>"
        case .cylinder(let r, let l): return "<cylinder radius=\"\(number(r))\" length=\"\(number(l))\"/>"
        case .sphere(let r): return "<sphere radius=\"\(number(r))\"/>"
        case .capsule(let r, let l): return "<capsule radius=\"\(number(r))\" length=\"\(number(l))\"/>"
        case .mesh(let file, let s): return "<mesh filename=\"\(escape(file))\" scale=\"\(numbers([s.x, s.y, s.z]))\"/>"
        }
    }

    private static func origin(_ pose: Pose) -> String {
        let rpy = pose.orientation == .identity ? Vec3.zero : pose.orientation.rollPitchYaw
        return "<origin xyz=\"\(numbers([pose.position.x, pose.position.y, pose.position.z]))\" rpy=\"\(numbers([rpy.x, rpy.y, rpy.z]))\"/>"
    }

    /// The shortest decimal form that reads back to the same value (Swift's `description`).
    private static func number(_ x: Double) -> String { x == 0 ? "0" : "\(x)" }
    private static func numbers(_ xs: [Double]) -> String { xs.map(number).joined(separator: " ") }

    private static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(c)
            }
        }
        return out
    }
}
