import ControlCore
import Foundation
import Testing
@testable import Robots

// MARK: - Helpers

/// Wraps link and joint elements in a `<robot>` element; the body starts on line 3.
private func robot(_ body: String) -> String {
    """
    <?xml version="1.0"?>
    <robot name="test">
    \(body)
    </robot>
    """
}

/// The 1-based number of the first line of `text` containing `marker`.
private func line(of marker: String, in text: String) -> Int {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    guard let index = lines.firstIndex(where: { $0.contains(marker) }) else {
        Issue.record("marker \(marker) not found")
        return -1
    }
    return index + 1
}

/// A link with a well-formed unit inertia.
private func massiveLink(_ name: String, mass: Double = 1) -> String {
    """
    <link name="\(name)">
      <inertial><mass value="\(mass)"/><inertia ixx="0.1" ixy="0" ixz="0" iyy="0.1" iyz="0" izz="0.1"/></inertial>
    </link>
    """
}

/// A revolute joint with valid limits.
private func revolute(_ name: String, parent: String, child: String) -> String {
    """
    <joint name="\(name)" type="revolute">
      <parent link="\(parent)"/><child link="\(child)"/>
      <limit lower="-1" upper="1" effort="10" velocity="5"/>
    </joint>
    """
}

private func expectClose(_ a: Double, _ b: Double, tolerance: Double = 1e-12,
                         sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(abs(a - b) <= tolerance, "\(a) ≠ \(b)", sourceLocation: sourceLocation)
}

private func expectClose(_ a: Vec3, _ b: Vec3, tolerance: Double = 1e-12,
                         sourceLocation: SourceLocation = #_sourceLocation) {
    #expect((a - b).norm <= tolerance, "\(a) ≠ \(b)", sourceLocation: sourceLocation)
}

/// The package root, found from this file (through the symbolic link of a scratch package, if any).
private let packageRoot = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private func packageFile(_ relativePath: String) -> URL { packageRoot.appendingPathComponent(relativePath) }

private func packageFileExists(_ relativePath: String) -> Bool {
    FileManager.default.fileExists(atPath: packageFile(relativePath).path)
}

// MARK: - A valid robot

private let twoLinkRobot = """
<?xml version="1.0"?>
<robot name="two_link">
  <link name="base">
    <inertial>
      <origin xyz="0 0 0.05" rpy="0 0 0"/>
      <mass value="2.5"/>
      <inertia ixx="0.02" ixy="0.001" ixz="-0.002" iyy="0.03" iyz="0.0005" izz="0.04"/>
    </inertial>
    <collision name="base_box">
      <origin xyz="0 0 0.05"/>
      <geometry><box size="0.4 0.3 0.1"/></geometry>
    </collision>
    <collision>
      <geometry><sphere radius="0.05"/></geometry>
    </collision>
    <visual>
      <geometry><mesh filename="package://two_link/meshes/base.stl"/></geometry>
      <material name="orange"/>
    </visual>
  </link>
  <link name="arm">
    <inertial>
      <mass value="1.2e0"/>
      <inertia ixx="1e-2" ixy="0" ixz="0" iyy="1.0E-2" iyz="0" izz="2e-3"/>
    </inertial>
    <collision>
      <origin xyz="0 0 0.25" rpy="0 1.5707963267948966 0"/>
      <geometry><cylinder radius="0.03" length="0.5"/></geometry>
    </collision>
    <collision>
      <geometry><capsule radius="0.02" length="0.4"/></geometry>
    </collision>
    <visual name="arm_visual">
      <geometry><mesh filename="arm.dae" scale="0.001 0.001 0.002"/></geometry>
      <material name="blue"><color rgba="0 0 1 0.5"/></material>
    </visual>
  </link>
  <joint name="shoulder" type="revolute">
    <parent link="base"/>
    <child link="arm"/>
    <origin xyz="0.1 0 0.2" rpy="0 0 1.5707963267948966"/>
    <axis xyz="0 0 2"/>
    <limit lower="-1.5" upper="2.0" effort="30" velocity="4.5"/>
    <dynamics damping="0.7" friction="0.2"/>
  </joint>
  <material name="orange">
    <color rgba="1 0.5 0 1"/>
  </material>
</robot>
"""

@Test func parsesValidTwoLinkRobot() throws {
    let robot = try URDFParser.parse(string: twoLinkRobot, fileName: "two_link.urdf")
    #expect(robot.name == "two_link")
    #expect(robot.source == "two_link.urdf")
    #expect(robot.links.map(\.name) == ["base", "arm"])
    #expect(robot.joints.map(\.name) == ["shoulder"])
    #expect(robot.rootLink == "base")
    #expect(robot.warnings.isEmpty)
    #expect(robot.materials == ["orange": [1, 0.5, 0, 1]])

    let base = try #require(robot.link(named: "base"))
    #expect(base.line == line(of: "<link name=\"base\">", in: twoLinkRobot))
    let inertial = try #require(base.inertial)
    #expect(inertial.mass == 2.5)
    expectClose(inertial.origin.position, Vec3(0, 0, 0.05))
    #expect(inertial.inertia == Mat3(Vec3(0.02, 0.001, -0.002), Vec3(0.001, 0.03, 0.0005), Vec3(-0.002, 0.0005, 0.04)))
    #expect(base.collisions.count == 2)
    #expect(base.collisions[0].name == "base_box")
    #expect(base.collisions[0].geometry == .box(size: Vec3(0.4, 0.3, 0.1)))
    #expect(base.collisions[0].line == line(of: "<collision name=\"base_box\">", in: twoLinkRobot))
    expectClose(base.collisions[0].origin.position, Vec3(0, 0, 0.05))
    #expect(base.collisions[1].name == nil)
    #expect(base.collisions[1].geometry == .sphere(radius: 0.05))
    #expect(base.visuals.count == 1)
    #expect(base.visuals[0].geometry == .mesh(filename: "package://two_link/meshes/base.stl", scale: Vec3(1, 1, 1)))
    #expect(base.visuals[0].rgba == [1, 0.5, 0, 1], "colour resolved from a material defined after its use")

    let arm = try #require(robot.link(named: "arm"))
    #expect(arm.inertial?.mass == 1.2)
    #expect(arm.inertial?.inertia == Mat3.diagonal(Vec3(0.01, 0.01, 0.002)))
    #expect(arm.collisions.map(\.geometry) == [.cylinder(radius: 0.03, length: 0.5), .capsule(radius: 0.02, length: 0.4)])
    // rpy = (0, π/2, 0): the cylinder's z axis points along +x.
    expectClose(arm.collisions[0].origin.orientation.rotate(.unitZ), .unitX)
    #expect(arm.visuals[0].name == "arm_visual")
    #expect(arm.visuals[0].geometry == .mesh(filename: "arm.dae", scale: Vec3(0.001, 0.001, 0.002)))
    #expect(arm.visuals[0].rgba == [0, 0, 1, 0.5])

    let shoulder = try #require(robot.joint(named: "shoulder"))
    #expect(shoulder.line == line(of: "<joint name=\"shoulder\"", in: twoLinkRobot))
    #expect(shoulder.type == .revolute)
    #expect(shoulder.parent == "base")
    #expect(shoulder.child == "arm")
    expectClose(shoulder.origin.position, Vec3(0.1, 0, 0.2))
    // rpy = (0, 0, π/2): yaw a quarter turn, so x → y and y → −x.
    expectClose(shoulder.origin.orientation.rotate(.unitX), .unitY)
    expectClose(shoulder.origin.orientation.rotate(.unitY), -Vec3.unitX)
    #expect(shoulder.axis == .unitZ, "axis normalized")
    #expect(shoulder.limit == URDFLimit(lower: -1.5, upper: 2.0, effort: 30, velocity: 4.5))
    #expect(shoulder.damping == 0.7)
    #expect(shoulder.friction == 0.2)
}

@Test func rollPitchYawComposesAsFixedAxes() throws {
    // R = Rz(yaw)·Ry(pitch)·Rx(roll): roll π/2 takes y to z, then yaw π/2 takes z to z and x to y.
    let text = robot("""
    \(massiveLink("a"))
    \(massiveLink("b"))
    <joint name="j" type="fixed">
      <parent link="a"/><child link="b"/>
      <origin rpy="1.5707963267948966 0 1.5707963267948966"/>
    </joint>
    """)
    let joint = try #require(try URDFParser.parse(string: text).joint(named: "j"))
    let q = joint.origin.orientation
    expectClose(q.rotate(.unitY), .unitZ)
    expectClose(q.rotate(.unitX), .unitY)
    expectClose(joint.origin.position, .zero)
}

@Test func appliesDefaults() throws {
    let text = robot("""
    \(massiveLink("a"))
    \(massiveLink("b"))
    \(massiveLink("c"))
    <joint name="wheel" type="continuous">
      <parent link="a"/><child link="b"/>
    </joint>
    <joint name="slider" type="prismatic">
      <parent link="b"/><child link="c"/>
      <limit effort="100" velocity="1"/>
    </joint>
    """)
    let parsed = try URDFParser.parse(string: text)
    let wheel = try #require(parsed.joint(named: "wheel"))
    #expect(wheel.origin == .identity)
    #expect(wheel.axis == .unitX)
    #expect(wheel.limit == nil)
    #expect(wheel.damping == 0 && wheel.friction == 0)
    let slider = try #require(parsed.joint(named: "slider"))
    #expect(slider.limit == URDFLimit(lower: 0, upper: 0, effort: 100, velocity: 1))
    #expect(parsed.link(named: "a")?.inertial?.origin == .identity)
}

@Test func acceptsMasslessFramesAndMasslessRoot() throws {
    // A massless root (`world`-style), massless fixed frames, and a massless link moved by a joint whose
    // body gets its mass from a link fixed to it.
    let text = robot("""
    <link name="base_footprint"/>
    \(massiveLink("base"))
    <link name="upper"/>
    \(massiveLink("upper_shell", mass: 0.5))
    <link name="imu_link"/>
    <link name="ee"/>
    <joint name="footprint" type="fixed"><parent link="base_footprint"/><child link="base"/></joint>
    <joint name="imu" type="fixed"><parent link="base"/><child link="imu_link"/></joint>
    \(revolute("hinge", parent: "base", child: "upper"))
    <joint name="shell" type="fixed"><parent link="upper"/><child link="upper_shell"/></joint>
    <joint name="tool" type="fixed"><parent link="upper_shell"/><child link="ee"/></joint>
    """)
    let parsed = try URDFParser.parse(string: text)
    #expect(parsed.links.count == 6)
    #expect(parsed.rootLink == "base_footprint")
}

@Test func acceptsScientificNotationAndExtraWhitespace() throws {
    let text = robot("""
    <link name="a">
      <inertial>
        <origin xyz="  1e-3\t-2.5E+1
                      +3 "/>
        <mass value="5e-1"/>
        <inertia ixx="1.5e-4" ixy="0" ixz="0" iyy="1.5e-4" iyz="0" izz="2.0e-4"/>
      </inertial>
    </link>
    """)
    let inertial = try #require(try URDFParser.parse(string: text).links[0].inertial)
    expectClose(inertial.origin.position, Vec3(0.001, -25, 3))
    #expect(inertial.mass == 0.5)
}

@Test func ignoresUnknownElements() throws {
    let text = robot("""
    <gazebo reference="a"><material>Gazebo/Grey</material><link name="not_a_link"/></gazebo>
    <link name="a">
      <sensor name="camera" type="camera"/>
      <inertial><mass value="1"/><inertia ixx="1" ixy="0" ixz="0" iyy="1" iyz="0" izz="1"/><extra/></inertial>
      <collision><geometry><box size="1 1 1"/><unknown_shape/></geometry><surface/></collision>
      <self_collision_checking/>
    </link>
    \(massiveLink("b"))
    <joint name="j" type="revolute">
      <parent link="a"/><child link="b"/>
      <limit lower="0" upper="1" effort="1" velocity="1"/>
      <mimic joint="other" multiplier="2"/>
      <calibration rising="0"/>
      <safety_controller k_velocity="10"/>
    </joint>
    <transmission name="t"><joint name="j"><hardwareInterface>Effort</hardwareInterface></joint></transmission>
    <ros2_control name="hw" type="system"><joint name="j"><command_interface name="effort"/></joint></ros2_control>
    """)
    let parsed = try URDFParser.parse(string: text)
    #expect(parsed.links.map(\.name) == ["a", "b"])
    #expect(parsed.joints.map(\.name) == ["j"])
    #expect(parsed.links[0].collisions.map(\.geometry) == [.box(size: Vec3(1, 1, 1))])
    #expect(parsed.warnings.isEmpty)
}

@Test func warnsAboutCollisionMeshesOnly() throws {
    let text = robot("""
    <link name="a">
      <inertial><mass value="1"/><inertia ixx="1" ixy="0" ixz="0" iyy="1" iyz="0" izz="1"/></inertial>
      <visual><geometry><mesh filename="a.stl"/></geometry></visual>
      <collision><geometry><mesh filename="a_collision.stl" scale="2 2 2"/></geometry></collision>
    </link>
    """)
    let parsed = try URDFParser.parse(string: text)
    #expect(parsed.links[0].collisions.map(\.geometry) == [.mesh(filename: "a_collision.stl", scale: Vec3(2, 2, 2))])
    let collisionLine = line(of: "<collision>", in: text)
    #expect(parsed.warnings == ["link 'a' (line \(collisionLine)): mesh collision geometry is not simulated (ignored)"])
}

@Test func resolvesMaterialsDefinedInlineElsewhereAndWarnsAboutUndefinedOnes() throws {
    let text = robot("""
    <link name="a">
      <visual><geometry><sphere radius="1"/></geometry><material name="red"><color rgba="1 0 0 1"/></material></visual>
      <visual><geometry><sphere radius="1"/></geometry><material name="green"/></visual>
    </link>
    <link name="b"/>
    <joint name="j" type="fixed"><parent link="a"/><child link="b"/></joint>
    <link name="c">
      <visual><geometry><sphere radius="1"/></geometry><material name="red"/></visual>
    </link>
    <joint name="k" type="fixed"><parent link="a"/><child link="c"/></joint>
    """)
    let parsed = try URDFParser.parse(string: text)
    #expect(parsed.link(named: "c")?.visuals[0].rgba == [1, 0, 0, 1])
    #expect(parsed.link(named: "a")?.visuals[1].rgba == nil)
    #expect(parsed.warnings.count == 1)
    #expect(parsed.warnings.first?.contains("material 'green' is not defined") == true)
}

@Test func warnsAboutConflictingAndOutOfRangeColours() throws {
    let text = robot("""
    <material name="red"><color rgba="1 0 0 1"/></material>
    <material name="red"><color rgba="0.9 0 0 1"/></material>
    <material name="wood"><texture filename="wood.png"/></material>
    <link name="a">
      <visual><geometry><sphere radius="1"/></geometry><material name="red"/></visual>
      <visual><geometry><sphere radius="1"/></geometry><material name="wood"/></visual>
      <visual><geometry><sphere radius="1"/></geometry><material name="bright"><color rgba="2 0.5 -1 1"/></material></visual>
    </link>
    """)
    let parsed = try URDFParser.parse(string: text)
    #expect(parsed.materials == ["red": [1, 0, 0, 1]])
    #expect(parsed.links[0].visuals.map(\.rgba) == [[1, 0, 0, 1], nil, [1, 0.5, 0, 1]])
    #expect(parsed.warnings.count == 2)
    #expect(parsed.warnings.contains { $0.hasPrefix("material 'red' (line 4): defined again with another colour") })
    #expect(parsed.warnings.contains { $0.contains("(clamped)") })
}

@Test func linesCountFromTheStartOfMultiLineTags() throws {
    let text = robot("""
    <link
        name="a">
      <inertial>
        <mass value="1"/>
        <inertia
          ixx="-1" ixy="0" ixz="0"
          iyy="1" iyz="0" izz="1"/>
      </inertial>
    </link>
    """)
    let error = try #require(throws: URDFError.self) { try URDFParser.parse(string: text) }
    #expect(error.line == 7, "the line of '<inertia', not of its last attribute")
    #expect(error.element == "link 'a'")

    let valid = text.replacingOccurrences(of: "ixx=\"-1\"", with: "ixx=\"1\"")
    #expect(try URDFParser.parse(string: valid).links[0].line == 3)
}

@Test func reportsLinesOfLinksOnOneLine() throws {
    let text = robot(#"<link name="a"/><link name="b"/>"# + "\n" + #"<link name="c"/><link name="b"/>"#)
    let error = try #require(throws: URDFError.self) { try URDFParser.parse(string: text) }
    #expect(error.line == 4)
    #expect(error.element == "link 'b'")
    #expect(error.message.contains("duplicate link name (first defined on line 3)"))
}

// MARK: - XML errors

@Test(arguments: [
    ("<robot name=\"r\">\n  <link name=\"a\">\n  <joint name=\"j\">\n</robot>\n", 4, "closing tag"),
    ("<robot name=\"r\">\n\n  <link name=a/>\n</robot>\n", 3, "quotes"),
    ("<robot name=\"r\">\n  <link name=\"a\"/>\n", 2, "document ends early"),
    ("<robot name=\"r\">\n  <link name=\"a & b\"/>\n</robot>\n", 2, "'&amp;'"),
    ("<robot name=\"r\">\n  <link name=\"a\" name=\"b\"/>\n</robot>\n", 2, "attribute given twice"),
])
func reportsXMLSyntaxErrors(text: String, expectedLine: Int, fragment: String) throws {
    let error = try #require(throws: URDFError.self) { try URDFParser.parse(string: text, fileName: "bad.urdf") }
    #expect(error.file == "bad.urdf")
    #expect(error.element == "XML")
    #expect(error.line == expectedLine, "\(error)")
    #expect(error.message.contains(fragment), "\(error)")
}

@Test func rejectsEmptyDocument() throws {
    let error = try #require(throws: URDFError.self) { try URDFParser.parse(string: "") }
    #expect(error.element == "XML")
}

// MARK: - Invalid robots

/// An invalid URDF, the text on the offending element's line, and what the error must say.
struct InvalidCase: Sendable, CustomTestStringConvertible {
    var label: String
    var text: String
    /// Text found first on the line the error must report.
    var marker: String
    /// Expected `element`.
    var element: String
    /// Text the message must contain.
    var message: String
    var testDescription: String { label }

    init(_ label: String, _ body: String, marker: String, element: String, message: String) {
        self.label = label; self.text = robot(body); self.marker = marker; self.element = element; self.message = message
    }
}

let invalidCases: [InvalidCase] = [
    InvalidCase("no links", "<material name=\"m\"/>", marker: "<robot", element: "robot 'test'", message: "no links"),
    InvalidCase("duplicate link", """
        \(massiveLink("thigh"))
        <link name="thigh"/>
        """, marker: "<link name=\"thigh\"/>", element: "link 'thigh'", message: "duplicate link name"),
    InvalidCase("duplicate joint", """
        \(massiveLink("a"))\n\(massiveLink("b"))\n\(massiveLink("c"))
        \(revolute("knee", parent: "a", child: "b"))
        <joint name="knee" type="fixed"><parent link="b"/><child link="c"/></joint>
        """, marker: "<joint name=\"knee\" type=\"fixed\"", element: "joint 'knee'", message: "duplicate joint name"),
    InvalidCase("missing parent", """
        \(massiveLink("a"))
        <joint name="knee" type="fixed"><parent link="nowhere"/><child link="a"/></joint>
        """, marker: "<joint name=\"knee\"", element: "joint 'knee'", message: "parent link 'nowhere' does not exist"),
    InvalidCase("missing child", """
        \(massiveLink("a"))
        <joint name="knee" type="fixed"><parent link="a"/><child link="nowhere"/></joint>
        """, marker: "<joint name=\"knee\"", element: "joint 'knee'", message: "child link 'nowhere' does not exist"),
    InvalidCase("two parents", """
        \(massiveLink("a"))\n\(massiveLink("b"))\n\(massiveLink("c"))
        \(revolute("hip", parent: "a", child: "c"))
        \(revolute("knee", parent: "b", child: "c"))
        """, marker: "<joint name=\"knee\"", element: "joint 'knee'",
        message: "link 'c' is already the child of joint 'hip'"),
    InvalidCase("parent is child", """
        \(massiveLink("a"))
        <joint name="knee" type="fixed"><parent link="a"/><child link="a"/></joint>
        """, marker: "<joint name=\"knee\"", element: "joint 'knee'", message: "to itself"),
    InvalidCase("cycle", """
        \(massiveLink("base"))\n\(massiveLink("a"))\n\(massiveLink("b"))\n\(massiveLink("c"))
        <joint name="ab" type="fixed"><parent link="a"/><child link="b"/></joint>
        <joint name="bc" type="fixed"><parent link="b"/><child link="c"/></joint>
        <joint name="ca" type="fixed"><parent link="c"/><child link="a"/></joint>
        """, marker: "<joint name=\"ab\"", element: "joint 'ab'", message: "kinematic cycle: links 'b' → 'c' → 'a' → 'b'"),
    InvalidCase("two roots", """
        \(massiveLink("base"))
        \(massiveLink("arm"))
        \(massiveLink("stray"))
        \(revolute("j", parent: "base", child: "arm"))
        """, marker: "<link name=\"stray\"", element: "link 'stray'", message: "2 root links (links that are no joint's child): 'base', 'stray'"),
    InvalidCase("negative mass", """
        <link name="a">
          <inertial>
            <mass value="-1"/>
            <inertia ixx="1" ixy="0" ixz="0" iyy="1" iyz="0" izz="1"/>
          </inertial>
        </link>
        """, marker: "<mass", element: "link 'a'", message: "<mass> is negative"),
    InvalidCase("indefinite inertia", """
        <link name="a">
          <inertial>
            <mass value="1"/>
            <inertia ixx="1" ixy="2" ixz="0" iyy="1" iyz="0" izz="1"/>
          </inertial>
        </link>
        """, marker: "<inertia ", element: "link 'a'", message: "inertia is not positive definite (eigenvalues -"),
    InvalidCase("triangle inequality", """
        <link name="a">
          <inertial>
            <mass value="1"/>
            <inertia ixx="0.1" ixy="0" ixz="0" iyy="0.1" iyz="0" izz="0.5"/>
          </inertial>
        </link>
        """, marker: "<inertia ", element: "link 'a'", message: "inertia violates the triangle inequality"),
    InvalidCase("moving body without mass", """
        \(massiveLink("base"))
        <link name="arm"/>
        <link name="tip"/>
        \(revolute("shoulder", parent: "base", child: "arm"))
        <joint name="tip_joint" type="fixed"><parent link="arm"/><child link="tip"/></joint>
        """, marker: "<link name=\"arm\"", element: "link 'arm'", message: "link 'arm' is moved by joint 'shoulder' but has no mass"),
    InvalidCase("moving body with zero mass", """
        \(massiveLink("base"))
        \(massiveLink("arm", mass: 0))
        <joint name="slide" type="floating"><parent link="base"/><child link="arm"/></joint>
        """, marker: "<link name=\"arm\"", element: "link 'arm'", message: "link 'arm' is moved by joint 'slide' but has no mass"),
    InvalidCase("negative box size", """
        <link name="a"><collision><geometry>
          <box size="1 -0.1 1"/>
        </geometry></collision></link>
        """, marker: "<box", element: "link 'a'", message: "<box> size must be positive"),
    InvalidCase("negative sphere radius", """
        <link name="a"><visual><geometry>
          <sphere radius="-0.1"/>
        </geometry></visual></link>
        """, marker: "<sphere", element: "link 'a'", message: "<sphere> radius must be positive"),
    InvalidCase("negative cylinder length", """
        <link name="a"><collision><geometry>
          <cylinder radius="0.1" length="-1"/>
        </geometry></collision></link>
        """, marker: "<cylinder", element: "link 'a'", message: "<cylinder> length must be positive"),
    InvalidCase("negative capsule radius", """
        <link name="a"><visual><geometry>
          <capsule radius="-0.5" length="1"/>
        </geometry></visual></link>
        """, marker: "<capsule", element: "link 'a'", message: "<capsule> radius must be positive"),
    InvalidCase("empty geometry", """
        <link name="a"><collision>
          <geometry></geometry>
        </collision></link>
        """, marker: "<geometry>", element: "link 'a'", message: "<geometry> has no shape"),
    InvalidCase("two shapes", """
        <link name="a"><collision><geometry><box size="1 1 1"/>
          <sphere radius="1"/>
        </geometry></collision></link>
        """, marker: "<sphere", element: "link 'a'", message: "more than one shape"),
    InvalidCase("no geometry", """
        <link name="a">
          <visual><origin xyz="0 0 0"/></visual>
        </link>
        """, marker: "<visual>", element: "link 'a'", message: "<visual> has no <geometry>"),
    InvalidCase("mesh without filename", """
        <link name="a"><visual><geometry>
          <mesh scale="1 1 1"/>
        </geometry></visual></link>
        """, marker: "<mesh", element: "link 'a'", message: "missing the attribute 'filename'"),
    InvalidCase("lower above upper", """
        \(massiveLink("a"))\n\(massiveLink("b"))
        <joint name="knee" type="revolute"><parent link="a"/><child link="b"/>
          <limit lower="1" upper="-1" effort="1" velocity="1"/>
        </joint>
        """, marker: "<limit", element: "joint 'knee'", message: "lower (1.0) is greater than upper (-1.0)"),
    InvalidCase("negative effort", """
        \(massiveLink("a"))\n\(massiveLink("b"))
        <joint name="knee" type="prismatic"><parent link="a"/><child link="b"/>
          <limit lower="0" upper="1" effort="-1" velocity="1"/>
        </joint>
        """, marker: "<limit", element: "joint 'knee'", message: "effort must not be negative"),
    InvalidCase("negative velocity", """
        \(massiveLink("a"))\n\(massiveLink("b"))
        <joint name="knee" type="continuous"><parent link="a"/><child link="b"/>
          <limit effort="1" velocity="-2"/>
        </joint>
        """, marker: "<limit", element: "joint 'knee'", message: "velocity must not be negative"),
    InvalidCase("limit without effort", """
        \(massiveLink("a"))\n\(massiveLink("b"))
        <joint name="knee" type="revolute"><parent link="a"/><child link="b"/>
          <limit lower="0" upper="1" velocity="1"/>
        </joint>
        """, marker: "<limit", element: "joint 'knee'", message: "<limit> is missing the attribute 'effort'"),
    InvalidCase("revolute without limit", """
        \(massiveLink("a"))\n\(massiveLink("b"))
        <joint name="knee" type="revolute">
          <parent link="a"/><child link="b"/>
        </joint>
        """, marker: "<joint name=\"knee\"", element: "joint 'knee'", message: "revolute joint needs a <limit>"),
    InvalidCase("prismatic without limit", """
        \(massiveLink("a"))\n\(massiveLink("b"))
        <joint name="slide" type="prismatic"><parent link="a"/><child link="b"/></joint>
        """, marker: "<joint name=\"slide\"", element: "joint 'slide'", message: "prismatic joint needs a <limit>"),
    InvalidCase("zero axis", """
        \(massiveLink("a"))\n\(massiveLink("b"))
        <joint name="wheel" type="continuous"><parent link="a"/><child link="b"/>
          <axis xyz="0 0 0"/>
        </joint>
        """, marker: "<axis", element: "joint 'wheel'", message: "<axis> is the zero vector"),
    InvalidCase("unknown joint type", """
        \(massiveLink("a"))\n\(massiveLink("b"))
        <joint name="ball" type="spherical"><parent link="a"/><child link="b"/></joint>
        """, marker: "<joint name=\"ball\"", element: "joint 'ball'", message: "unknown joint type 'spherical'"),
    InvalidCase("joint without child", """
        \(massiveLink("a"))
        <joint name="j" type="fixed"><parent link="a"/></joint>
        """, marker: "<joint name=\"j\"", element: "joint 'j'", message: "no <child>"),
    InvalidCase("negative damping", """
        \(massiveLink("a"))\n\(massiveLink("b"))
        <joint name="wheel" type="continuous"><parent link="a"/><child link="b"/>
          <dynamics damping="-0.1"/>
        </joint>
        """, marker: "<dynamics", element: "joint 'wheel'", message: "must not be negative"),
    InvalidCase("too few numbers", """
        \(massiveLink("a"))\n\(massiveLink("b"))
        <joint name="j" type="fixed"><parent link="a"/><child link="b"/>
          <origin xyz="1 2" rpy="0 0 0"/>
        </joint>
        """, marker: "<origin", element: "joint 'j'", message: "<origin> attribute 'xyz' must be 3 numbers, got 2"),
    InvalidCase("too many numbers", """
        <link name="a"><visual><geometry><sphere radius="1"/></geometry>
          <material name="m"><color rgba="1 0 0 1 1"/></material>
        </visual></link>
        """, marker: "<material", element: "link 'a'", message: "'rgba' must be 4 numbers, got 5"),
    InvalidCase("not a number", """
        <link name="a">
          <inertial>
            <mass value="heavy"/>
            <inertia ixx="1" ixy="0" ixz="0" iyy="1" iyz="0" izz="1"/>
          </inertial>
        </link>
        """, marker: "<mass", element: "link 'a'", message: "<mass> attribute 'value': 'heavy' is not a number"),
    InvalidCase("infinite number", """
        <link name="a">
          <inertial>
            <mass value="1"/>
            <inertia ixx="1" ixy="0" ixz="0" iyy="inf" iyz="0" izz="1"/>
          </inertial>
        </link>
        """, marker: "<inertia ", element: "link 'a'", message: "<inertia> attribute 'iyy': 'inf' is not finite"),
    InvalidCase("NaN", """
        \(massiveLink("a"))\n\(massiveLink("b"))
        <joint name="j" type="fixed"><parent link="a"/><child link="b"/>
          <origin rpy="0 nan 0"/>
        </joint>
        """, marker: "<origin", element: "joint 'j'", message: "'nan' is not finite"),
    InvalidCase("missing inertia", """
        <link name="a">
          <inertial><mass value="1"/></inertial>
        </link>
        """, marker: "<inertial>", element: "link 'a'", message: "<inertial> has no <inertia>"),
    InvalidCase("link without name", """
        \(massiveLink("a"))
          <link/>
        """, marker: "<link/>", element: "<link>", message: "missing the attribute 'name'"),
    InvalidCase("unexpanded xacro", """
        <xacro:property name="l" value="1"/>
        """, marker: "<xacro:property", element: "<xacro:property>", message: "xacro"),
]

@Test(arguments: invalidCases)
func rejectsInvalidRobot(_ invalid: InvalidCase) throws {
    let error = try #require(throws: URDFError.self) {
        try URDFParser.parse(string: invalid.text, fileName: "bad.urdf")
    }
    #expect(error.file == "bad.urdf")
    #expect(error.line == line(of: invalid.marker, in: invalid.text), "\(error)")
    #expect(error.element == invalid.element, "\(error)")
    #expect(error.message.contains(invalid.message), "\(error)")
}

@Test func rejectsNonRobotRoot() throws {
    let text = "<?xml version=\"1.0\"?>\n<sdf version=\"1.6\"><model name=\"m\"/></sdf>\n"
    let error = try #require(throws: URDFError.self) { try URDFParser.parse(string: text) }
    #expect(error.line == 2)
    #expect(error.element == "<sdf>")
    #expect(error.message.contains("root element must be <robot>"))
    #expect(error.description == "<string>:2: <sdf>: the root element must be <robot>, not <sdf>")
}

@Test func acceptsInertiaWithinTolerances() throws {
    // A thin disc (I_z = I_x + I_y) printed with rounding, a point mass, and a massless link's odd inertia.
    let text = robot("""
    <link name="disc">
      <inertial><mass value="1"/><inertia ixx="0.00123457" ixy="0" ixz="0" iyy="0.00123457" iyz="0" izz="0.00246914"/></inertial>
    </link>
    <link name="point">
      <inertial><mass value="0.1"/><inertia ixx="0" ixy="0" ixz="0" iyy="0" iyz="0" izz="0"/></inertial>
    </link>
    <link name="ghost">
      <inertial><mass value="0"/><inertia ixx="1" ixy="0" ixz="0" iyy="0" iyz="0" izz="0"/></inertial>
    </link>
    <joint name="a" type="fixed"><parent link="disc"/><child link="point"/></joint>
    <joint name="b" type="fixed"><parent link="disc"/><child link="ghost"/></joint>
    """)
    #expect(try URDFParser.parse(string: text).links.count == 3)
}

// MARK: - Files

@Test func reportsUnreadableFile() throws {
    let url = URL(fileURLWithPath: "/nonexistent/robot.urdf")
    let error = try #require(throws: URDFError.self) { try URDFParser.parse(contentsOf: url) }
    #expect(error.file == "/nonexistent/robot.urdf")
    #expect(error.line == 0)
}

@Test func parsesFileAndNamesItInErrors() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("urdf-parser-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let good = directory.appendingPathComponent("good.urdf")
    try twoLinkRobot.write(to: good, atomically: true, encoding: .utf8)
    let parsed = try URDFParser.parse(contentsOf: good)
    #expect(parsed.source == good.path)
    #expect(parsed.joints.count == 1)

    let bad = directory.appendingPathComponent("bad.urdf")
    try twoLinkRobot.replacingOccurrences(of: "<mass value=\"2.5\"/>", with: "<mass value=\"-2.5\"/>")
        .write(to: bad, atomically: true, encoding: .utf8)
    let error = try #require(throws: URDFError.self) { try URDFParser.parse(contentsOf: bad) }
    #expect(error.file == bad.path)
    #expect(error.line == line(of: "<mass value=\"2.5\"", in: twoLinkRobot))
}

@Test(.enabled(if: packageFileExists("Tests/RobotsTests/Fixtures/public_style.urdf")))
func parsesPublicStyleFixture() throws {
    let robot = try URDFParser.parse(contentsOf: packageFile("Tests/RobotsTests/Fixtures/public_style.urdf"))
    #expect(robot.name == "fake_bot")
    #expect(robot.rootLink == "base_footprint")
    #expect(robot.links.count == 7)
    #expect(robot.joints.count == 6, "the <joint> elements inside <transmission> are not joints")
    #expect(robot.joints.filter(\.type.isActuated).map(\.name) == ["left_wheel_joint", "right_wheel_joint"])
    let totalMass = robot.links.reduce(0) { $0 + ($1.inertial?.mass ?? 0) }
    expectClose(totalMass, 6.27, tolerance: 1e-9)
    #expect(robot.warnings.count == 1)
    #expect(robot.warnings.first?.hasPrefix("link 'laser_link' (line ") == true)

    let wheel = try #require(robot.joint(named: "left_wheel_joint"))
    #expect(wheel.type == .continuous)
    #expect(wheel.axis == .unitY)
    #expect(wheel.limit?.effort == 10 && wheel.limit?.velocity == 20)
    #expect(robot.link(named: "caster_link")?.visuals.first?.rgba == [0.5, 0.5, 0.5, 1])
    #expect(robot.link(named: "left_wheel_link")?.visuals.first?.rgba == [0.05, 0.05, 0.05, 1])
    let base = try #require(robot.link(named: "base_link"))
    #expect(base.visuals.first?.geometry == .mesh(filename: "package://fake_description/meshes/base.dae",
                                                   scale: Vec3(0.001, 0.001, 0.001)))
    // The right wheel's inertia frame is turned by roll π/2, taking its z (axle) axis to −y.
    let rightInertial = try #require(robot.link(named: "right_wheel_link")?.inertial)
    expectClose(rightInertial.origin.orientation.rotate(.unitZ), -Vec3.unitY)
}

/// The `.urdf` files in the package's `robots` directory (none when it does not exist).
private func bundledRobotNames() -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: packageFile("robots").path)) ?? []
    return names.filter { $0.hasSuffix(".urdf") }.sorted()
}

@Test(arguments: bundledRobotNames())
func parsesBundledRobot(_ fileName: String) throws {
    let robot = try URDFParser.parse(contentsOf: packageFile("robots/\(fileName)"))
    #expect(!robot.links.isEmpty)
    #expect(!robot.rootLink.isEmpty)
}

@Test(.enabled(if: packageFileExists("robots/quadruped.urdf")))
func parsesQuadruped() throws {
    let robot = try URDFParser.parse(contentsOf: packageFile("robots/quadruped.urdf"))
    #expect(robot.joints.filter(\.type.isActuated).count == 12)
}

@Test(.enabled(if: packageFileExists("robots/arm.urdf")))
func parsesArm() throws {
    let robot = try URDFParser.parse(contentsOf: packageFile("robots/arm.urdf"))
    #expect(robot.joints.filter(\.type.isActuated).count == 7)
}

// MARK: - Repairs of common flaws in published robot files

@Test func skipsZeroSizeVisualGeometryWithAWarning() throws {
    let text = robot("""
    <link name="a">
      <inertial><mass value="1"/><inertia ixx="1" ixy="0" ixz="0" iyy="1" iyz="0" izz="1"/></inertial>
      <visual name="marker"><geometry><box size="0 0 0"/></geometry><material name="red"><color rgba="1 0 0 1"/></material></visual>
      <visual><geometry><sphere radius="0"/></geometry></visual>
      <visual><geometry><mesh filename="a.stl" scale="0 1 1"/></geometry></visual>
      <visual><geometry><cylinder radius="0.1" length="0"/></geometry></visual>
      <visual name="kept"><geometry><box size="1 1 1"/></geometry><material name="red"/></visual>
    </link>
    """)
    let parsed = try URDFParser.parse(string: text)
    let link = parsed.links[0]
    #expect(link.visuals.map(\.name) == ["kept"])
    #expect(link.visuals[0].rgba == [1, 0, 0, 1], "a skipped visual's inline colour still defines its material")
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        .filter { $0.element.contains("<visual") }.map { $0.offset + 1 }
    #expect(parsed.warnings == [
        "link 'a' (line \(lines[0])): <visual> <box> has zero size (size \"0.0 0.0 0.0\") (skipped; visual geometry is not simulated)",
        "link 'a' (line \(lines[1])): <visual> <sphere> has zero size (radius 0) (skipped; visual geometry is not simulated)",
        "link 'a' (line \(lines[2])): <visual> <mesh> has zero size (scale \"0.0 1.0 1.0\") (skipped; visual geometry is not simulated)",
        "link 'a' (line \(lines[3])): <visual> <cylinder> has zero size (length 0) (skipped; visual geometry is not simulated)",
    ])
}

@Test func skipsZeroSizeCollisionGeometryWithAWarningNamingTheLink() throws {
    let text = robot("""
    <link name="foot">
      <inertial><mass value="1"/><inertia ixx="1" ixy="0" ixz="0" iyy="1" iyz="0" izz="1"/></inertial>
      <collision><geometry><box size="0.1 0 0.1"/></geometry></collision>
      <collision><geometry><capsule radius="0" length="1"/></geometry></collision>
      <collision><geometry><sphere radius="0.02"/></geometry></collision>
    </link>
    """)
    let parsed = try URDFParser.parse(string: text)
    #expect(parsed.links[0].collisions.map(\.geometry) == [.sphere(radius: 0.02)])
    let first = line(of: "<box size=\"0.1 0 0.1\"", in: text)
    #expect(parsed.warnings == [
        "link 'foot' (line \(first)): <collision> <box> has zero size (size \"0.1 0.0 0.1\"): a shape without volume cannot touch anything (skipped; MuJoCo refuses such a geom)",
        "link 'foot' (line \(first + 1)): <collision> <capsule> has zero size (radius 0): a shape without volume cannot touch anything (skipped; MuJoCo refuses such a geom)",
    ])
    // the simulation model has only the sphere
    let model = try RobotModel(urdf: parsed)
    #expect(model.bodies[0].shapes.count == 1)
}

@Test func balancesInertiaThatBreaksTheTriangleInequalityByRounding() throws {
    // A thin plate (I_z = I_x + I_y) printed with rounding: I_x + I_y falls 0.4 % short of I_z; and a rotated
    // tensor (products of inertia) 2 % short.
    let plate = (x: 0.00167, y: 0.00333, z: 0.00502)
    let c = cos(0.3), s = sin(0.3)
    // R · diag(0.2, 0.3, 0.51) · Rᵀ for a rotation of 0.3 rad about z: I₁ + I₂ = 0.5 < 0.51
    let rxx = c * c * 0.2 + s * s * 0.3, ryy = s * s * 0.2 + c * c * 0.3, rxy = c * s * (0.2 - 0.3)
    let text = robot("""
    <link name="plate">
      <inertial><mass value="2"/>
        <inertia ixx="\(plate.x)" ixy="0" ixz="0" iyy="\(plate.y)" iyz="0" izz="\(plate.z)"/>
      </inertial>
    </link>
    <link name="rotated">
      <inertial><mass value="1"/>
        <inertia ixx="\(rxx)" ixy="\(rxy)" ixz="0" iyy="\(ryy)" iyz="0" izz="0.51"/>
      </inertial>
    </link>
    <joint name="weld" type="fixed"><parent link="plate"/><child link="rotated"/></joint>
    """)
    let parsed = try URDFParser.parse(string: text, fileName: "plate.urdf")
    for (name, original) in [("plate", [plate.x, plate.y, plate.z]), ("rotated", [0.2, 0.3, 0.51])] {
        let inertia = try #require(parsed.link(named: name)?.inertial?.inertia)
        let moments = inertia.symmetricEigenvalues
        // MuJoCo's balanceinertia: every principal moment set to their mean — isotropic, trace kept
        let mean = original.reduce(0, +) / 3
        #expect(inertia == Mat3.diagonal(Vec3(mean, mean, mean)))
        #expect(moments[0] + moments[1] >= moments[2], "triangle inequality holds after balancing")
        expectClose(moments.reduce(0, +), original.reduce(0, +), tolerance: 1e-15)
        // the documented bound: each principal moment moves by at most ⅔ (I₃ − I₁)
        let bound = 2.0 / 3.0 * (original[2] - original[0])
        for (new, old) in zip(moments, original.sorted()) { #expect(abs(new - old) <= bound + 1e-15) }
    }
    #expect(parsed.warnings.count == 2)
    let warning = try #require(parsed.warnings.first)
    let inertiaLine = line(of: "ixx=\"\(plate.x)\"", in: text)
    #expect(warning.hasPrefix("link 'plate' (line \(inertiaLine)): <inertia> principal moments 0.00167, 0.00333, 0.00502 break the triangle inequality (I₁ + I₂ = 0.005 < I₃ = 0.00502 by 0.398406 % of I₃); balanced as MuJoCo's balanceinertia does: all three set to their mean 0.00334 kg·m²"), "\(warning)")
    #expect(parsed.warnings[1].hasPrefix("link 'rotated' (line "), "\(parsed.warnings[1])")
    #expect(parsed.warnings[1].contains("by 1.96078 % of I₃"), "\(parsed.warnings[1])")
}

@Test func acceptsRoundingBelowTheToleranceUnchangedAndRefusesFarOffInertia() throws {
    // 1e-7 relative short: within the printing tolerance, kept exactly
    let tiny = robot("""
    <link name="a"><inertial><mass value="1"/><inertia ixx="0.5" ixy="0" ixz="0" iyy="0.5" iyz="0" izz="1.0000001"/></inertial></link>
    """)
    let parsed = try URDFParser.parse(string: tiny)
    #expect(parsed.links[0].inertial?.inertia == Mat3.diagonal(Vec3(0.5, 0.5, 1.0000001)))
    #expect(parsed.warnings.isEmpty)

    // 9.8 % is still balanced; 10.5 % is refused with the moments and the inequality, at the <inertia> line
    let limit = robot("""
    <link name="a"><inertial><mass value="1"/><inertia ixx="0.451" ixy="0" ixz="0" iyy="0.451" iyz="0" izz="1"/></inertial></link>
    """)
    #expect(try URDFParser.parse(string: limit).warnings.count == 1)
    let far = robot("""
    <link name="arm_link">
      <inertial>
        <mass value="1"/>
        <inertia ixx="0.4475" ixy="0" ixz="0" iyy="0.4475" iyz="0" izz="1"/>
      </inertial>
    </link>
    """)
    let error = try #require(throws: URDFError.self) { try URDFParser.parse(string: far, fileName: "far.urdf") }
    #expect(error.file == "far.urdf")
    #expect(error.line == line(of: "<inertia ", in: far))
    #expect(error.element == "link 'arm_link'")
    #expect(error.message == "<inertia>: inertia violates the triangle inequality (principal moments 0.4475, 0.4475, 1: I₁ + I₂ = 0.895 < I₃ = 1 by 10.5 % of I₃, more than the 10 % that rounding explains; check the values and the <inertial> frame)", "\(error.message)")
}

@Test func refusesInertiaThatIsNotPositiveDefiniteOrTooLargeToAnalyse() throws {
    let indefinite = robot("""
    <link name="a"><inertial><mass value="1"/>
      <inertia ixx="0.1" ixy="0" ixz="0" iyy="0.1" iyz="0" izz="-0.01"/>
    </inertial></link>
    """)
    let error = try #require(throws: URDFError.self) { try URDFParser.parse(string: indefinite) }
    #expect(error.line == line(of: "<inertia ", in: indefinite))
    #expect(error.message == "<inertia>: inertia is not positive definite (eigenvalues -0.01, 0.1, 0.1)", "\(error.message)")

    // values whose squares overflow: analysed on the scaled tensor, so a huge but valid tensor is accepted
    let huge = robot("""
    <link name="a"><inertial><mass value="1"/><inertia ixx="1e200" ixy="1e199" ixz="0" iyy="1e200" iyz="0" izz="1e200"/></inertial></link>
    """)
    #expect(try URDFParser.parse(string: huge).warnings.isEmpty)
    let hugeIndefinite = huge.replacingOccurrences(of: "ixy=\"1e199\"", with: "ixy=\"2e200\"")
    let hugeError = try #require(throws: URDFError.self) { try URDFParser.parse(string: hugeIndefinite) }
    #expect(hugeError.message.hasPrefix("<inertia>: inertia is not positive definite (eigenvalues -1e+200"), "\(hugeError.message)")
}

// MARK: - Unexpanded xacro

@Test(arguments: [
    ("<origin xyz=\"${length/2} 0 0\"/>", "<origin> attribute 'xyz' holds the unexpanded xacro substitution '${length/2}'"),
    ("<origin xyz=\"0 0 $(arg height)\"/>", "<origin> attribute 'xyz' holds the unexpanded xacro substitution '$(arg height)'"),
    ("<limit lower=\"-1\" upper=\"1\" effort=\"$(optenv EFFORT 10)\" velocity=\"1\"/>", "<limit> attribute 'effort' holds the unexpanded xacro substitution '$(optenv EFFORT 10)'"),
    ("<parent link=\"${prefix}base\"/>", "<parent> attribute 'link' holds the unexpanded xacro substitution '${prefix}'"),
])
func namesUnexpandedXacroSubstitutionsAtTheirLine(element: String, message: String) throws {
    // a joint whose <parent>, <origin> or <limit> is replaced by `element`
    var lines = ["<parent link=\"base\"/>", "<child link=\"arm\"/>", "<limit lower=\"-1\" upper=\"1\" effort=\"1\" velocity=\"1\"/>"]
    if let same = lines.firstIndex(where: { $0.prefix(7) == element.prefix(7) }) { lines[same] = element } else { lines.append(element) }
    let text = robot("""
    \(massiveLink("base"))
    \(massiveLink("arm"))
    <joint name="j" type="revolute">
      \(lines.joined(separator: "\n  "))
    </joint>
    """)
    let error = try #require(throws: URDFError.self) { try URDFParser.parse(string: text, fileName: "/robots/arm.urdf.xacro") }
    #expect(error.line == line(of: element, in: text), "\(error)")
    #expect(error.element == "joint 'j'")
    #expect(error.message == "\(message); this is a xacro file: expand it first with `xacro arm.urdf.xacro > arm.urdf` and load arm.urdf", "\(error.message)")
}

@Test func xacroAdviceNamesTheFileOrAGenericCommand() throws {
    let text = robot("""
    <link name="a"><inertial><mass value="${mass}"/><inertia ixx="1" ixy="0" ixz="0" iyy="1" iyz="0" izz="1"/></inertial></link>
    """)
    let plain = try #require(throws: URDFError.self) { try URDFParser.parse(string: text, fileName: "robot.urdf") }
    #expect(plain.description == "robot.urdf:3: link 'a': <mass> attribute 'value' holds the unexpanded xacro substitution '${mass}'; this is a xacro file: expand its xacro source first (e.g. `xacro robot.urdf.xacro > robot.urdf`) and load the output")
    let element = robot("<xacro:include filename=\"common.xacro\"/>")
    let included = try #require(throws: URDFError.self) { try URDFParser.parse(string: element, fileName: "leg.xacro") }
    #expect(included.line == 3)
    #expect(included.message == "this is an unexpanded xacro file (a xacro: element); expand it first with `xacro leg.xacro > leg.urdf` and load leg.urdf")
}

@Test func warnsAboutAnUnexpandedMeshFilenameButLoads() throws {
    let text = robot("""
    <link name="a">
      <inertial><mass value="1"/><inertia ixx="1" ixy="0" ixz="0" iyy="1" iyz="0" izz="1"/></inertial>
      <visual><geometry><mesh filename="$(find my_robot)/meshes/a.stl"/></geometry></visual>
    </link>
    """)
    let parsed = try URDFParser.parse(string: text)
    #expect(parsed.warnings == ["link 'a' (line \(line(of: "<mesh", in: text))): <mesh> filename holds the unexpanded xacro substitution '$(find my_robot)' (meshes are not loaded; was the file run through xacro?)"])
}

// MARK: - Large robots

@Test func validatesLongChainsWithoutRecursionOrQuadraticTime() throws {
    // 10,000 links welded in a chain below a hinge: the moving body's mass comes from the chain's last link.
    // The checks walk the chain iteratively and once (before, each joint walked to the root: ~25 s).
    let count = 10_000
    var body = massiveLink("base") + "\n<link name=\"c0\"/>\n" + revolute("hinge", parent: "base", child: "c0") + "\n"
    for i in 1..<count {
        body += "<link name=\"c\(i)\"/><joint name=\"w\(i)\" type=\"fixed\"><parent link=\"c\(i - 1)\"/><child link=\"c\(i)\"/></joint>\n"
    }
    let withMass = robot(body.replacingOccurrences(of: "<link name=\"c\(count - 1)\"/>", with: massiveLink("c\(count - 1)")))
    let start = Date()
    let parsed = try URDFParser.parse(string: withMass)
    #expect(parsed.links.count == count + 1)
    #expect(Date().timeIntervalSince(start) < 60)

    let massless = robot(body)
    let error = try #require(throws: URDFError.self) { try URDFParser.parse(string: massless) }
    #expect(error.message.hasPrefix("link 'c0' is moved by joint 'hinge' but has no mass"), "\(error)")

    // closing the chain into a loop is found, and reported at the first joint of the loop in document order
    let loop = robot(body + "<joint name=\"back\" type=\"fixed\"><parent link=\"c\(count - 1)\"/><child link=\"base\"/></joint>\n")
    let cycle = try #require(throws: URDFError.self) { try URDFParser.parse(string: loop) }
    #expect(cycle.element == "joint 'hinge'")
    #expect(cycle.message == "kinematic cycle: links 'c0' → 'c1' → 'c2' → 'c3' → 'c4' → … → 'c\(count - 1)' → 'base' → 'c0' (\(count + 1) links)", "\(cycle.message.prefix(200))")
}
