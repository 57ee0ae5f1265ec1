import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import ControlCore

// Reads URDF (http://wiki.ros.org/urdf/XML) into the document model of URDFModel.swift and validates it.
//
// Three stages:
//   1. `XMLTreeBuilder` turns the bytes into a small element tree, each element carrying the 1-based line on
//      which its start tag begins; XML syntax errors stop here.
//   2. `URDFReader` walks the tree, converting attributes to numbers and checking each element on its own
//      (masses, inertias, geometry sizes, limits, axes). Unknown elements are skipped wherever they occur.
//   3. `URDFValidator` checks the robot as a whole: unique names, joint references, one tree with one root,
//      and that every body a joint moves has mass.
// The first problem found is thrown as a `URDFError`; nothing is repaired silently except where a warning
// is recorded in `URDFRobot.warnings`.

/// Loads URDF robot descriptions.
///
/// What is repaired, with a warning in `URDFRobot.warnings` (naming the link and line), rather than refused:
/// - **Zero-size geometry** (a box side, radius or length of 0, or a mesh scale component of 0) is skipped.
///   In a `<visual>` this changes nothing (visual geometry is never simulated). In a `<collision>` a shape
///   without volume has nothing to collide with; MuJoCo refuses such a geom ("size must be positive"),
///   this loader skips it so that the robot loads, and the warning tells which contact shape is missing.
///   Negative or non-finite sizes remain errors.
/// - **Inertia tensors that break the triangle inequality by rounding.** With principal moments
///   I₁ ≤ I₂ ≤ I₃ of a link with mass, every real body has I₁ + I₂ ≥ I₃. The relative violation
///   δ = (I₃ − I₁ − I₂) / I₃ decides: δ ≤ `inertiaRoundingTolerance` (1e-6, values printed with about six
///   significant digits) is accepted unchanged, silently; δ ≤ `inertiaBalanceLimit` (10 %, what rounding the
///   moments to two significant digits can cause) is corrected as MuJoCo's compiler option `balanceinertia`
///   does — all three principal moments are set to their mean, so the tensor becomes (I₁ + I₂ + I₃)/3 · 1
///   (isotropic, any frame): the trace is kept exactly, and each principal moment moves by at most
///   ⅔ (I₃ − I₁); a larger δ, or a negative principal moment (beyond −1e-12 · I₃), is refused with the
///   moments and the violated inequality. MuJoCo itself refuses any violation unless `balanceinertia` is
///   set; the averaging makes the link's rotational inertia isotropic, so for a link whose rotational
///   dynamics matter, fix the file.
///
/// A file with unexpanded xacro (`<xacro:…>` elements, or `$(arg …)`, `$(optenv …)`, `$(find …)`, `${…}`
/// in a value the loader reads) is refused at the line where it occurs, with the `xacro` command to run;
/// in a mesh filename (never loaded) it is a warning.
public enum URDFParser {
    /// Relative violation of the inertia triangle inequality accepted without change (see above).
    public static let inertiaRoundingTolerance = 1e-6
    /// Largest relative violation of the inertia triangle inequality that is balanced; beyond it the tensor
    /// is refused (see above).
    public static let inertiaBalanceLimit = 0.1

    /// Parses and validates the URDF file at `url`.
    ///
    /// - Throws: `URDFError` (with `file` set to `url.path`) when the file cannot be read, is not well-formed
    ///   XML, or does not describe a valid robot.
    public static func parse(contentsOf url: URL) throws -> URDFRobot {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw URDFError(file: url.path, line: 0, element: "file",
                            message: "cannot read the file: \(error.localizedDescription)")
        }
        return try parse(data: data, fileName: url.path)
    }

    /// Parses and validates URDF text given as (UTF-8 or declared-encoding) bytes; `fileName` is used in errors
    /// and stored as the robot's `source`.
    ///
    /// - Throws: `URDFError` when the text is not well-formed XML or does not describe a valid robot.
    public static func parse(data: Data, fileName: String) throws -> URDFRobot {
        let root = try XMLTreeBuilder.build(data: tolerant(data), file: fileName)
        var reader = URDFReader(file: fileName)
        let robot = try reader.readRobot(root)
        try URDFValidator(robot: robot, robotLine: root.line).validate()
        return robot
    }

    /// Smooths over two quirks of published URDFs that ROS's own parser (TinyXML) accepts and libxml2 does
    /// not: NUL bytes after the closing tag, and an XML declaration with a version other than 1.0/1.1
    /// (e.g. `version="0.0"`). Line numbers are unchanged.
    static func tolerant(_ data: Data) -> Data {
        var bytes = [UInt8](data)
        while let last = bytes.last, last == 0 { bytes.removeLast() }
        let head = String(decoding: bytes.prefix(64), as: UTF8.self)
        if head.hasPrefix("<?xml"), let range = head.range(of: #"version\s*=\s*["'][0-9.]+["']"#, options: .regularExpression) {
            let declared = head[range]
            if !declared.contains("1.0") && !declared.contains("1.1") {
                let fixed = Array("version=\"1.0\"".utf8)
                let start = head.utf8.distance(from: head.startIndex, to: range.lowerBound)
                let length = head.utf8.distance(from: range.lowerBound, to: range.upperBound)
                bytes.replaceSubrange(start..<(start + length), with: fixed)
            }
        }
        return Data(bytes)
    }

    /// Parses and validates URDF text; `fileName` is used in errors and stored as the robot's `source`.
    ///
    /// - Throws: `URDFError` when the text is not well-formed XML or does not describe a valid robot.
    public static func parse(string: String, fileName: String = "<string>") throws -> URDFRobot {
        try parse(data: Data(string.utf8), fileName: fileName)
    }
}

// MARK: - XML element tree

/// An XML element with its attributes, child elements and the 1-based line on which its start tag begins.
/// Text content is not kept: URDF carries everything in attributes.
private final class XMLNode {
    let name: String
    let attributes: [String: String]
    let line: Int
    var children: [XMLNode] = []

    init(name: String, attributes: [String: String], line: Int) {
        self.name = name; self.attributes = attributes; self.line = line
    }

    /// The first child element called `name`.
    func child(named name: String) -> XMLNode? { children.first { $0.name == name } }
    /// All child elements called `name`, in document order.
    func children(named name: String) -> [XMLNode] { children.filter { $0.name == name } }
    /// The first element (this one or any descendant, depth first) whose name satisfies `predicate`.
    func firstDescendant(where predicate: (String) -> Bool) -> XMLNode? {
        if predicate(name) { return self }
        for child in children {
            if let found = child.firstDescendant(where: predicate) { return found }
        }
        return nil
    }
}

/// Builds an `XMLNode` tree with Foundation's `XMLParser`.
private final class XMLTreeBuilder: NSObject, XMLParserDelegate {
    private let bytes: [UInt8]
    private let lineStarts: [Int]
    private var stack: [XMLNode] = []
    private var root: XMLNode?
    private var firstError: (line: Int, message: String)?

    private init(data: Data) {
        bytes = Array(data)
        var starts = [0]
        for (offset, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") { starts.append(offset + 1) }
        lineStarts = starts
    }

    /// Parses `data` into a tree; throws a `URDFError` at the first XML syntax error or for an empty document.
    static func build(data: Data, file: String) throws -> XMLNode {
        let builder = XMLTreeBuilder(data: data)
        let parser = XMLParser(data: data)
        parser.shouldProcessNamespaces = false
        parser.shouldResolveExternalEntities = false
        parser.delegate = builder
        let succeeded = parser.parse()
        // libxml2 recovers from some errors and `parse()` may still report success, so the delegate's record
        // of the first error is what counts.
        if let error = builder.firstError {
            throw URDFError(file: file, line: error.line, element: "XML", message: error.message)
        }
        if !succeeded, let error = parser.parserError, !isNamespaceError(error) {
            throw URDFError(file: file, line: parser.lineNumber, element: "XML", message: describe(error))
        }
        guard let root = builder.root else {
            throw URDFError(file: file, line: 0, element: "XML", message: "the document has no elements")
        }
        return root
    }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        guard firstError == nil else { return }
        let line = startLine(of: elementName, tagEndLine: parser.lineNumber, tagEndColumn: parser.columnNumber)
        let node = XMLNode(name: elementName, attributes: attributeDict, line: line)
        if let parent = stack.last {
            parent.children.append(node)
        } else if root == nil {
            root = node
        }
        stack.append(node)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?) {
        guard firstError == nil, !stack.isEmpty else { return }
        stack.removeLast()
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) {
        guard firstError == nil, !Self.isNamespaceError(parseError) else { return }
        var message = Self.describe(parseError)
        if let open = stack.last, (parseError as NSError).code == 76 {
            message += " (the open element is <\(open.name)> from line \(open.line))"
        }
        firstError = (parser.lineNumber, message)
    }

    func parser(_ parser: XMLParser, validationErrorOccurred validationError: Error) {
        self.parser(parser, parseErrorOccurred: validationError)
    }

    /// The line on which the start tag `<name …>` begins. `XMLParser` reports the position where the tag
    /// ends (line, and column in characters), which differs when its attributes span several lines, so search
    /// backwards from there for `<name`.
    private func startLine(of name: String, tagEndLine: Int, tagEndColumn: Int) -> Int {
        guard tagEndLine >= 1, tagEndLine <= lineStarts.count else { return max(tagEndLine, 0) }
        let lineEnd = tagEndLine < lineStarts.count ? lineStarts[tagEndLine] : bytes.count
        // Convert the column (characters) into a byte offset by counting UTF-8 lead bytes.
        var end = lineStarts[tagEndLine - 1], characters = 0
        while end < lineEnd, characters < max(tagEndColumn, 1) {
            if bytes[end] & 0xC0 != 0x80 { characters += 1 }
            end += 1
        }
        let pattern = Array("<\(name)".utf8)
        var start = end - pattern.count
        while start >= 0 {
            let after = start + pattern.count
            if bytes[start ..< after].elementsEqual(pattern), after == bytes.count || Self.endsName(bytes[after]) {
                var line = tagEndLine
                while line > 1, lineStarts[line - 1] > start { line -= 1 }
                return line
            }
            start -= 1
        }
        return tagEndLine
    }

    /// True for the bytes that can follow an element name in a start tag.
    private static func endsName(_ byte: UInt8) -> Bool {
        [UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"),
         UInt8(ascii: "/"), UInt8(ascii: ">")].contains(byte)
    }

    /// A readable message for an `XMLParser` error. The codes are libxml2's `xmlParserErrors`, which Apple's
    /// `XMLParser.ErrorCode` mirrors; on Linux the error carries nothing but the code, and the Swift enum there
    /// is numbered differently, so the numbers are matched directly.
    private static func describe(_ error: Error) -> String {
        let nsError = error as NSError
        guard nsError.domain == XMLParser.errorDomain else { return nsError.localizedDescription }
        switch nsError.code {
        case 4: return "the document is empty"
        case 5: return "the document ends early or has content after the root element"
        case 9: return "invalid character"
        case 22, 68: return "name expected (write '&amp;' for a literal '&')"
        case 23: return "entity reference is missing its ';' (write '&amp;' for a literal '&')"
        case 26: return "undeclared entity"
        case 33, 39: return "attribute value must be in quotes"
        case 34, 40: return "attribute value is not closed"
        case 38: return "'<' is not allowed in an attribute value"
        case 41: return "attribute has no value"
        case 42: return "attribute given twice"
        case 45: return "comment is not closed"
        case 64: return "the <?xml …?> declaration must come first"
        case 65: return "whitespace expected (between attributes?)"
        case 73: return "'>' expected"
        case 74: return "'</' expected"
        case 75: return "'=' expected after the attribute name"
        case 76: return "closing tag does not match the open element"
        case 77: return "unfinished tag"
        case 80: return "'--' inside a comment"
        case 85: return "the document is not well-formed"
        case 86: return "content after the root element"
        default: return "XML syntax error (libxml2 error code \(nsError.code))"
        }
    }

    /// libxml2 namespace errors (undeclared prefixes and the like): irrelevant here, as namespaces are not
    /// processed and URDF uses none.
    private static func isNamespaceError(_ error: Error) -> Bool {
        let nsError = error as NSError
        return nsError.domain == XMLParser.errorDomain && (200 ..< 300).contains(nsError.code)
    }
}

// MARK: - Reading elements

/// Converts the element tree into the URDF model, checking each element's own values.
private struct URDFReader {
    let file: String
    private var warnings: [String] = []
    /// Colours given inline in a visual's named `<material>`; like urdfdom, these define the name for other
    /// visuals too (top-level definitions take precedence).
    private var inlineColours: [String: [Double]] = [:]
    /// Visuals whose `<material>` only names a colour, resolved once the whole document has been read.
    private var materialReferences: [MaterialReference] = []

    private struct MaterialReference {
        var link: Int, visual: Int, name: String, line: Int
    }

    init(file: String) { self.file = file }

    /// What to run to expand a xacro file, naming this file when it is one (`x.urdf.xacro` → `x.urdf`).
    static func xacroAdvice(_ file: String) -> String {
        let name = (file as NSString).lastPathComponent
        if name.hasSuffix(".xacro") {
            var output = String(name.dropLast(".xacro".count))
            if !output.hasSuffix(".urdf") { output += ".urdf" }
            return "expand it first with `xacro \(name) > \(output)` and load \(output)"
        }
        return "expand its xacro source first (e.g. `xacro robot.urdf.xacro > robot.urdf`) and load the output"
    }

    /// The xacro substitution (`$(arg …)`, `$(optenv …)`, `$(find …)`, `${…}`) that `value` contains, if any.
    static func xacroSubstitution(in value: String) -> String? {
        for opener in ["${", "$("] {
            guard let start = value.range(of: opener) else { continue }
            let close: Character = opener == "${" ? "}" : ")"
            let end = value[start.upperBound...].firstIndex(of: close).map { value.index(after: $0) } ?? value.endIndex
            return String(value[start.lowerBound ..< end])
        }
        return nil
    }

    /// The value of `attribute` on `node`, nil when absent; throws, at the element's line, when the value is
    /// an unexpanded xacro substitution (the file was not run through xacro).
    private func attribute(_ attribute: String, of node: XMLNode, in context: String) throws -> String? {
        guard let value = node.attributes[attribute] else { return nil }
        if let substitution = Self.xacroSubstitution(in: value) {
            throw error(node.line, context,
                        "<\(node.name)> attribute '\(attribute)' holds the unexpanded xacro substitution '\(substitution)'; this is a xacro file: \(Self.xacroAdvice(file))")
        }
        return value
    }

    private func error(_ line: Int, _ element: String, _ message: String) -> URDFError {
        URDFError(file: file, line: line, element: element, message: message)
    }

    mutating func readRobot(_ root: XMLNode) throws -> URDFRobot {
        if let xacro = root.firstDescendant(where: { $0.hasPrefix("xacro:") }) {
            throw error(xacro.line, "<\(xacro.name)>",
                        "this is an unexpanded xacro file (a xacro: element); \(Self.xacroAdvice(file))")
        }
        guard root.name == "robot" else {
            throw error(root.line, "<\(root.name)>", "the root element must be <robot>, not <\(root.name)>")
        }
        let name = try requiredAttribute("name", of: root, in: "<robot>")
        let materials = try readMaterials(root)
        var links: [URDFLink] = []
        for node in root.children(named: "link") {
            links.append(try readLink(node, index: links.count))
        }
        resolveMaterialReferences(in: &links, materials: materials,
                                  definedNames: Set(root.children(named: "material").compactMap { $0.attributes["name"] }))
        let joints = try root.children(named: "joint").map { try readJoint($0) }
        return URDFRobot(name: name, links: links, joints: joints, materials: materials, warnings: warnings,
                         source: file)
    }

    // MARK: Materials

    /// The top-level `<material>` elements that define a colour, by name.
    private mutating func readMaterials(_ root: XMLNode) throws -> [String: [Double]] {
        var materials: [String: [Double]] = [:]
        for node in root.children(named: "material") {
            let name = try requiredAttribute("name", of: node, in: "<material>")
            let context = "material '\(name)'"
            guard let colour = try readColour(node, in: context) else { continue }   // e.g. texture only
            if let existing = materials[name] {
                if existing != colour {
                    warnings.append("\(context) (line \(node.line)): defined again with another colour (first kept)")
                }
            } else {
                materials[name] = colour
            }
        }
        return materials
    }

    /// The colour of a visual's `<material>`: its own `<color>`, or nil when it only names a material (then
    /// remembered for `resolveMaterialReferences`).
    private mutating func readVisualMaterial(_ node: XMLNode, link: Int, visual: Int?, in context: String) throws -> [Double]? {
        let name = try attribute("name", of: node, in: context).flatMap { $0.isEmpty ? nil : $0 }
        if let colour = try readColour(node, in: context) {
            if let name, inlineColours[name] == nil { inlineColours[name] = colour }
            return colour
        }
        if let name, let visual, node.child(named: "texture") == nil {
            materialReferences.append(MaterialReference(link: link, visual: visual, name: name, line: node.line))
        }
        return nil
    }

    /// Gives each visual that names a material its colour; warns about names defined nowhere.
    private mutating func resolveMaterialReferences(in links: inout [URDFLink], materials: [String: [Double]],
                                                    definedNames: Set<String>) {
        for reference in materialReferences {
            if let colour = materials[reference.name] ?? inlineColours[reference.name] {
                links[reference.link].visuals[reference.visual].rgba = colour
            } else if !definedNames.contains(reference.name) {
                warnings.append("link '\(links[reference.link].name)' (line \(reference.line)): material '\(reference.name)' is not defined (visual left without colour)")
            }
        }
    }

    /// The `<color rgba>` of a `<material>` element, clamped to 0…1 (with a warning); nil without `<color>`.
    private mutating func readColour(_ material: XMLNode, in context: String) throws -> [Double]? {
        guard let colourNode = material.child(named: "color") else { return nil }
        let rgba = try numbers("rgba", of: colourNode, count: 4, in: context)
        let clamped = rgba.map { min(max($0, 0), 1) }
        if clamped != rgba {
            warnings.append("\(context) (line \(colourNode.line)): colour components must lie in 0…1 (clamped)")
        }
        return clamped
    }

    // MARK: Links

    private mutating func readLink(_ node: XMLNode, index: Int) throws -> URDFLink {
        let name = try requiredAttribute("name", of: node, in: "<link>")
        let context = "link '\(name)'"
        let inertial = try node.child(named: "inertial").map { try readInertial($0, in: context) }
        var collisions: [URDFShape] = []
        for shapeNode in node.children(named: "collision") {
            let shape = try readShape(shapeNode, in: context)
            if let zero = Self.zeroSize(shape.geometry) {
                warnings.append("\(context) (line \(shape.line)): <collision> \(zero): a shape without volume cannot touch anything (skipped; MuJoCo refuses such a geom)")
                continue
            }
            if case .mesh = shape.geometry {
                warnings.append("\(context) (line \(shape.line)): mesh collision geometry is not simulated (ignored)")
            }
            collisions.append(shape)
        }
        var visuals: [URDFShape] = []
        for shapeNode in node.children(named: "visual") {
            var shape = try readShape(shapeNode, in: context)
            let zero = Self.zeroSize(shape.geometry)
            if let material = shapeNode.child(named: "material") {
                // a skipped visual's inline colour still defines its material name for other visuals
                shape.rgba = try readVisualMaterial(material, link: index, visual: zero == nil ? visuals.count : nil, in: context)
            }
            if let zero {
                warnings.append("\(context) (line \(shape.line)): <visual> \(zero) (skipped; visual geometry is not simulated)")
                continue
            }
            visuals.append(shape)
        }
        return URDFLink(name: name, inertial: inertial, collisions: collisions, visuals: visuals, line: node.line)
    }

    /// A description such as `<box> has zero size ("0 0 0")` when a size of `geometry` is zero (a box side, a
    /// radius, a length, or a mesh scale component); nil otherwise. Negative sizes never get here.
    static func zeroSize(_ geometry: URDFGeometry) -> String? {
        func list(_ v: Vec3) -> String { "\"\(v.x) \(v.y) \(v.z)\"" }
        switch geometry {
        case .box(let size):
            return [size.x, size.y, size.z].contains(0) ? "<box> has zero size (size \(list(size)))" : nil
        case .sphere(let radius):
            return radius == 0 ? "<sphere> has zero size (radius 0)" : nil
        case .cylinder(let radius, let length), .capsule(let radius, let length):
            let tag = if case .cylinder = geometry { "<cylinder>" } else { "<capsule>" }
            if radius == 0 { return "\(tag) has zero size (radius 0)" }
            return length == 0 ? "\(tag) has zero size (length 0)" : nil
        case .mesh(_, let scale):
            return [scale.x, scale.y, scale.z].contains(0) ? "<mesh> has zero size (scale \(list(scale)))" : nil
        }
    }

    private mutating func readInertial(_ node: XMLNode, in context: String) throws -> URDFInertial {
        let origin = try readOrigin(node.child(named: "origin"), in: context)
        guard let massNode = node.child(named: "mass") else {
            throw error(node.line, context, "<inertial> has no <mass>")
        }
        let mass = try number("value", of: massNode, in: context)
        if mass < 0 {
            throw error(massNode.line, context, "<mass> is negative (\(mass) kg)")
        }
        guard let inertiaNode = node.child(named: "inertia") else {
            throw error(node.line, context, "<inertial> has no <inertia>")
        }
        let i = try ["ixx", "ixy", "ixz", "iyy", "iyz", "izz"].map { try number($0, of: inertiaNode, in: context) }
        let inertia = Mat3.symmetric(xx: i[0], xy: i[1], xz: i[2], yy: i[3], yz: i[4], zz: i[5])
        let checked = try checkInertia(inertia, mass: mass, line: inertiaNode.line, in: context)
        return URDFInertial(origin: origin, mass: mass, inertia: checked)
    }

    /// Checks an inertia tensor and returns it, or its balanced correction (see `URDFParser`'s
    /// "Inertia" notes): it must be symmetric positive semi-definite, and for a body with mass its principal
    /// moments I₁ ≤ I₂ ≤ I₃ must satisfy the triangle inequality I₁ + I₂ ≥ I₃, which holds for every real
    /// mass distribution. A violation δ = (I₃ − I₁ − I₂) / I₃ up to `URDFParser.inertiaRoundingTolerance` is
    /// accepted unchanged; up to `URDFParser.inertiaBalanceLimit` the tensor is balanced with a warning;
    /// beyond it, or with a negative principal moment, it is refused.
    private mutating func checkInertia(_ inertia: Mat3, mass: Double, line: Int, in context: String) throws -> Mat3 {
        // Eigenvalues of the tensor scaled to unit largest element, so that huge values cannot overflow.
        let rows = [inertia.r0, inertia.r1, inertia.r2]
        let largest = rows.map { max(abs($0.x), abs($0.y), abs($0.z)) }.max() ?? 0
        guard largest > 0 else { return inertia }   // a point mass
        let moments = ((1 / largest) * inertia).symmetricEigenvalues.map { $0 * largest }   // ascending
        func format(_ x: Double) -> String { String(format: "%.6g", x) }
        let list = moments.map(format).joined(separator: ", ")
        guard moments.allSatisfy(\.isFinite) else {
            throw error(line, context, "<inertia>: the principal moments cannot be computed (got \(list))")
        }
        let scale = moments.map(abs).max() ?? 0
        if moments[0] < -1e-12 * scale {
            throw error(line, context, "<inertia>: inertia is not positive definite (eigenvalues \(list))")
        }
        guard mass > 0 else { return inertia }
        let violation = (moments[2] - moments[0] - moments[1]) / moments[2]
        if violation <= URDFParser.inertiaRoundingTolerance { return inertia }
        let inequality = "I₁ + I₂ = \(format(moments[0] + moments[1])) < I₃ = \(format(moments[2])) by \(format(100 * violation)) % of I₃"
        guard violation <= URDFParser.inertiaBalanceLimit else {
            throw error(line, context,
                        "<inertia>: inertia violates the triangle inequality (principal moments \(list): \(inequality), more than the \(format(100 * URDFParser.inertiaBalanceLimit)) % that rounding explains; check the values and the <inertial> frame)")
        }
        let mean = (moments[0] + moments[1] + moments[2]) / 3
        warnings.append("\(context) (line \(line)): <inertia> principal moments \(list) break the triangle inequality (\(inequality)); balanced as MuJoCo's balanceinertia does: all three set to their mean \(format(mean)) kg·m²")
        return Mat3.diagonal(Vec3(mean, mean, mean))
    }

    private mutating func readShape(_ node: XMLNode, in context: String) throws -> URDFShape {
        let origin = try readOrigin(node.child(named: "origin"), in: context)
        guard let geometryNode = node.child(named: "geometry") else {
            throw error(node.line, context, "<\(node.name)> has no <geometry>")
        }
        let shapeNames: Set<String> = ["box", "cylinder", "sphere", "capsule", "mesh"]
        let shapes = geometryNode.children.filter { shapeNames.contains($0.name) }
        guard let shapeNode = shapes.first else {
            throw error(geometryNode.line, context,
                        "<geometry> has no shape (expected one of <box>, <cylinder>, <sphere>, <capsule>, <mesh>)")
        }
        if shapes.count > 1 {
            throw error(shapes[1].line, context,
                        "<geometry> has more than one shape (<\(shapeNode.name)> on line \(shapeNode.line), <\(shapes[1].name)> on line \(shapes[1].line))")
        }
        let geometry = try readGeometry(shapeNode, in: context)
        let name = try attribute("name", of: node, in: context).flatMap { $0.isEmpty ? nil : $0 }
        return URDFShape(name: name, origin: origin, geometry: geometry, line: node.line)
    }

    /// Reads a shape element. Sizes must be finite and not negative; a zero size is read as is (the caller
    /// warns and skips the shape, see `zeroSize`).
    private mutating func readGeometry(_ node: XMLNode, in context: String) throws -> URDFGeometry {
        /// Reads a size attribute that must not be negative.
        func size(_ attribute: String) throws -> Double {
            let value = try number(attribute, of: node, in: context)
            guard value >= 0 else {
                throw error(node.line, context, "<\(node.name)> \(attribute) must be positive, got \(value)")
            }
            return value
        }
        switch node.name {
        case "box":
            let size = try numbers("size", of: node, count: 3, in: context)
            guard size.allSatisfy({ $0 >= 0 }) else {
                throw error(node.line, context, "<box> size must be positive, got \(size.map { "\($0)" }.joined(separator: " "))")
            }
            return .box(size: Vec3(size))
        case "cylinder":
            return .cylinder(radius: try size("radius"), length: try size("length"))
        case "sphere":
            return .sphere(radius: try size("radius"))
        case "capsule":
            return .capsule(radius: try size("radius"), length: try size("length"))
        default: // "mesh"
            // read directly: a substitution here is only warned about (below)
            let filename = node.attributes["filename"] ?? ""
            if filename.isEmpty { _ = try requiredAttribute("filename", of: node, in: context) }   // throws: missing or empty
            if let substitution = Self.xacroSubstitution(in: filename) {
                // meshes are never loaded, so the robot still loads; the rest of the file was probably not expanded either
                warnings.append("\(context) (line \(node.line)): <mesh> filename holds the unexpanded xacro substitution '\(substitution)' (meshes are not loaded; was the file run through xacro?)")
            }
            let scale = try numbers("scale", of: node, count: 3, default: [1, 1, 1], in: context)
            return .mesh(filename: filename, scale: Vec3(scale))
        }
    }

    // MARK: Joints

    private func readJoint(_ node: XMLNode) throws -> URDFJoint {
        let name = try requiredAttribute("name", of: node, in: "<joint>")
        let context = "joint '\(name)'"
        let typeName = try requiredAttribute("type", of: node, in: context)
        guard let type = URDFJointType(rawValue: typeName) else {
            let known = URDFJointType.allCases.map(\.rawValue).joined(separator: ", ")
            throw error(node.line, context, "unknown joint type '\(typeName)' (expected one of \(known))")
        }
        let parent = try linkReference("parent", of: node, in: context)
        let child = try linkReference("child", of: node, in: context)
        let origin = try readOrigin(node.child(named: "origin"), in: context)

        var axis = Vec3.unitX
        if let axisNode = node.child(named: "axis") {
            let value = Vec3(try numbers("xyz", of: axisNode, count: 3, default: [1, 0, 0], in: context))
            if value.norm > 0 {
                axis = value.normalized
            } else if type != .fixed && type != .floating {
                throw error(axisNode.line, context, "<axis> is the zero vector")
            }
        }

        var limit: URDFLimit?
        if type.isActuated {
            if let limitNode = node.child(named: "limit") {
                limit = try readLimit(limitNode, checkRange: type != .continuous, in: context)
            } else if type != .continuous {
                throw error(node.line, context,
                            "a \(type.rawValue) joint needs a <limit> element (with effort and velocity)")
            }
        }

        var damping = 0.0, friction = 0.0
        if let dynamics = node.child(named: "dynamics") {
            damping = try number("damping", of: dynamics, default: 0, in: context)
            friction = try number("friction", of: dynamics, default: 0, in: context)
            if damping < 0 || friction < 0 {
                throw error(dynamics.line, context,
                            "<dynamics> damping and friction must not be negative (damping \(damping), friction \(friction))")
            }
        }
        return URDFJoint(name: name, type: type, parent: parent, child: child, origin: origin, axis: axis,
                         limit: limit, damping: damping, friction: friction, line: node.line)
    }

    /// The `link` attribute of the `<parent>` or `<child>` element of a joint.
    private func linkReference(_ tag: String, of joint: XMLNode, in context: String) throws -> String {
        guard let node = joint.child(named: tag) else {
            throw error(joint.line, context, "joint has no <\(tag)> element")
        }
        return try requiredAttribute("link", of: node, in: context)
    }

    private func readLimit(_ node: XMLNode, checkRange: Bool, in context: String) throws -> URDFLimit {
        let limit = URDFLimit(lower: try number("lower", of: node, default: 0, in: context),
                              upper: try number("upper", of: node, default: 0, in: context),
                              effort: try number("effort", of: node, in: context),
                              velocity: try number("velocity", of: node, in: context))
        if limit.effort < 0 {
            throw error(node.line, context, "<limit> effort must not be negative (\(limit.effort))")
        }
        if limit.velocity < 0 {
            throw error(node.line, context, "<limit> velocity must not be negative (\(limit.velocity))")
        }
        if checkRange, limit.lower > limit.upper {
            throw error(node.line, context, "<limit> lower (\(limit.lower)) is greater than upper (\(limit.upper))")
        }
        return limit
    }

    // MARK: Attributes

    /// `<origin xyz rpy>` as a pose (identity when the element or an attribute is absent).
    private func readOrigin(_ node: XMLNode?, in context: String) throws -> Pose {
        guard let node else { return .identity }
        let xyz = try numbers("xyz", of: node, count: 3, default: [0, 0, 0], in: context)
        let rpy = try numbers("rpy", of: node, count: 3, default: [0, 0, 0], in: context)
        return Pose(position: Vec3(xyz), orientation: Quat(roll: rpy[0], pitch: rpy[1], yaw: rpy[2]))
    }

    private func requiredAttribute(_ attribute: String, of node: XMLNode, in context: String) throws -> String {
        guard let value = try self.attribute(attribute, of: node, in: context) else {
            throw error(node.line, context, "<\(node.name)> is missing the attribute '\(attribute)'")
        }
        guard !value.isEmpty else {
            throw error(node.line, context, "<\(node.name)> attribute '\(attribute)' is empty")
        }
        return value
    }

    /// A whitespace-separated list of exactly `count` finite numbers; `defaultValue` when the attribute is
    /// absent (an error when there is no default).
    private func numbers(_ attribute: String, of node: XMLNode, count: Int, default defaultValue: [Double]? = nil,
                         in context: String) throws -> [Double] {
        guard let text = try self.attribute(attribute, of: node, in: context) else {
            if let defaultValue { return defaultValue }
            throw error(node.line, context, "<\(node.name)> is missing the attribute '\(attribute)'")
        }
        let subject = "<\(node.name)> attribute '\(attribute)'"
        let tokens = text.split(whereSeparator: \.isWhitespace)
        guard tokens.count == count else {
            let expected = count == 1 ? "a number" : "\(count) numbers"
            throw error(node.line, context, "\(subject) must be \(expected), got \(tokens.count) in \"\(text)\"")
        }
        return try tokens.map { token in
            guard let value = Double(token) else {
                throw error(node.line, context, "\(subject): '\(token)' is not a number")
            }
            guard value.isFinite else {
                throw error(node.line, context, "\(subject): '\(token)' is not finite")
            }
            return value
        }
    }

    /// A single finite number; see `numbers`.
    private func number(_ attribute: String, of node: XMLNode, default defaultValue: Double? = nil,
                        in context: String) throws -> Double {
        try numbers(attribute, of: node, count: 1, default: defaultValue.map { [$0] }, in: context)[0]
    }
}

// MARK: - Whole-robot validation

/// Checks the link–joint graph and the masses of moving bodies.
private struct URDFValidator {
    let robot: URDFRobot
    let robotLine: Int

    private func error(_ line: Int, _ element: String, _ message: String) -> URDFError {
        URDFError(file: robot.source, line: line, element: element, message: message)
    }

    func validate() throws {
        guard !robot.links.isEmpty else {
            throw error(robotLine, "robot '\(robot.name)'", "the robot has no links")
        }
        let links = try uniqueLinks()
        try checkUniqueJointNames()
        let parentJoint = try checkJointReferences(links: links)
        try checkForCycles(parentJoint: parentJoint)
        try checkSingleRoot(parentJoint: parentJoint)
        try checkMovingBodiesHaveMass(links: links)
    }

    /// Links by name; throws on a duplicate name.
    private func uniqueLinks() throws -> [String: URDFLink] {
        var byName: [String: URDFLink] = [:]
        for link in robot.links {
            if let first = byName[link.name] {
                throw error(link.line, "link '\(link.name)'", "duplicate link name (first defined on line \(first.line))")
            }
            byName[link.name] = link
        }
        return byName
    }

    private func checkUniqueJointNames() throws {
        var firstLine: [String: Int] = [:]
        for joint in robot.joints {
            if let first = firstLine[joint.name] {
                throw error(joint.line, "joint '\(joint.name)'", "duplicate joint name (first defined on line \(first))")
            }
            firstLine[joint.name] = joint.line
        }
    }

    /// Checks that every joint joins two different existing links and that no link has two parent joints;
    /// returns each child link's joint.
    private func checkJointReferences(links: [String: URDFLink]) throws -> [String: URDFJoint] {
        var parentJoint: [String: URDFJoint] = [:]
        for joint in robot.joints {
            let element = "joint '\(joint.name)'"
            guard links[joint.parent] != nil else {
                throw error(joint.line, element, "parent link '\(joint.parent)' does not exist")
            }
            guard links[joint.child] != nil else {
                throw error(joint.line, element, "child link '\(joint.child)' does not exist")
            }
            guard joint.parent != joint.child else {
                throw error(joint.line, element, "joint connects link '\(joint.parent)' to itself (parent == child)")
            }
            if let other = parentJoint[joint.child] {
                throw error(joint.line, element,
                            "link '\(joint.child)' is already the child of joint '\(other.name)' (line \(other.line)); a link can have only one parent joint")
            }
            parentJoint[joint.child] = joint
        }
        return parentJoint
    }

    /// Reports the first joint (in document order) that closes a kinematic cycle. Linear in the number of
    /// links: every link has at most one parent joint, so following parents from each link once finds every
    /// cycle; a joint closes one when its child lies on a cycle (its parent then does too).
    private func checkForCycles(parentJoint: [String: URDFJoint]) throws {
        var onCycle: Set<String> = []
        var finished: Set<String> = []
        for link in robot.links where !finished.contains(link.name) {
            // follow parents until a finished link, the root, or a link of this very walk (a cycle)
            var walk: [String] = [], position: [String: Int] = [:]
            var current = link.name
            while !finished.contains(current) {
                if let start = position[current] {
                    onCycle.formUnion(walk[start...])
                    break
                }
                position[current] = walk.count
                walk.append(current)
                guard let up = parentJoint[current] else { break }
                current = up.parent
            }
            finished.formUnion(walk)
        }
        guard let joint = robot.joints.first(where: { onCycle.contains($0.child) }) else { return }
        // the cycle, from the joint's child through its parent and up until the child comes round again
        var path = [joint.parent]
        var current = joint.parent
        while let up = parentJoint[current], up.parent != joint.child {
            path.append(up.parent)
            current = up.parent
        }
        var cycle = ([joint.child] + path.reversed() + [joint.child]).map { "'\($0)'" }
        var count = ""
        if cycle.count > 12 {   // keep the message one readable line
            count = " (\(cycle.count - 1) links)"
            cycle = cycle.prefix(5) + ["…"] + cycle.suffix(3)
        }
        throw error(joint.line, "joint '\(joint.name)'", "kinematic cycle: links \(cycle.joined(separator: " → "))\(count)")
    }

    private func checkSingleRoot(parentJoint: [String: URDFJoint]) throws {
        let roots = robot.links.filter { parentJoint[$0.name] == nil }
        guard roots.count > 1 else { return }
        let names = roots.map { "'\($0.name)'" }.joined(separator: ", ")
        throw error(roots[1].line, "link '\(roots[1].name)'",
                    "the robot has \(roots.count) root links (links that are no joint's child): \(names); all links must form one tree")
    }

    /// Every link moved by a non-fixed joint must carry mass, counting links welded to it by fixed joints.
    /// (Iterative and linear: a chain of thousands of fixed joints must neither recurse nor take long.)
    private func checkMovingBodiesHaveMass(links: [String: URDFLink]) throws {
        var parentJoint: [String: URDFJoint] = [:]
        for joint in robot.joints { parentJoint[joint.child] = joint }
        // each link's group: the link reached by following fixed joints upwards (the tree is validated)
        var group: [String: String] = [:]
        for link in robot.links where group[link.name] == nil {
            var walk: [String] = []
            var current = link.name
            var top = current
            while true {
                if let known = group[current] { top = known; break }
                walk.append(current)
                guard let up = parentJoint[current], up.type == .fixed else { top = current; break }
                current = up.parent
            }
            for name in walk { group[name] = top }
        }
        var groupMass: [String: Double] = [:]
        for link in robot.links { groupMass[group[link.name]!, default: 0] += link.inertial?.mass ?? 0 }
        for joint in robot.joints where joint.type != .fixed {
            if (groupMass[joint.child] ?? 0) <= 0, let child = links[joint.child] {
                throw error(child.line, "link '\(child.name)'",
                            "link '\(child.name)' is moved by joint '\(joint.name)' but has no mass (give it, or a link fixed to it, an <inertial> with positive mass)")
            }
        }
    }
}
