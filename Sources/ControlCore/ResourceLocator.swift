// ResourceLocator.swift: where robot files (and other resources named by a config) are found, so that an
// installed `mbc` works from any directory.

import Foundation

/// Finds a resource named by a relative path (e.g. `robots/arm.urdf`). An absolute path is used as is.
/// A relative one is looked up, in order:
/// 1. relative to the directory of the config file that named it (when there is one);
/// 2. relative to the working directory;
/// 3. in each directory of `$MBC_RESOURCES` (colon-separated);
/// 4. in `<executable directory>/../share/mbc/` (an installed layout: `bin/mbc`, `share/mbc/robots/…`);
/// 5. in the source checkout the executable was built in (the nearest ancestor of the executable's
///    directory, up to four levels up, that holds the path: `swift build` puts `mbc` in
///    `.build/<triple>/<configuration>/`), so `.build/debug/mbc` works from any directory.
/// A missing resource is an error listing every place searched.
public struct ResourceLocator: Sendable {
    /// Name of the environment variable with extra resource directories.
    public static let environmentVariable = "MBC_RESOURCES"
    /// The directory of the config file that names resources, if any.
    public var configDirectory: URL?

    /// - Parameter configFile: the config file whose directory is searched first.
    public init(configFile: String? = nil) {
        configDirectory = configFile.map { URL(fileURLWithPath: $0).deletingLastPathComponent() }
    }

    /// The directories searched for a relative path, in order, each with a short description.
    public func searchDirectories() -> [(directory: URL, label: String)] {
        var out: [(URL, String)] = []
        if let configDirectory { out.append((configDirectory, "the config file's directory")) }
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        out.append((cwd, "the working directory"))
        if let env = ProcessInfo.processInfo.environment[Self.environmentVariable] {
            for dir in env.split(separator: ":") where !dir.isEmpty {
                out.append((URL(fileURLWithPath: String(dir)), "$\(Self.environmentVariable)"))
            }
        }
        if let exe = Self.executableDirectory() {
            out.append((exe.deletingLastPathComponent().appendingPathComponent("share/mbc"), "the installed resources"))
            var dir = exe
            for _ in 0..<4 {
                dir = dir.deletingLastPathComponent()
                out.append((dir, "the checkout the executable was built in"))
            }
        }
        return out
    }

    /// The URL of an existing file for `path`.
    /// - Throws: `ResourceNotFound` listing every place searched.
    public func locate(_ path: String) throws -> URL {
        if path.hasPrefix("/") {
            let url = URL(fileURLWithPath: path)
            guard FileManager.default.fileExists(atPath: url.path) else { throw ResourceNotFound(path: path, searched: [url.path]) }
            return url
        }
        var searched: [String] = []
        for (dir, _) in searchDirectories() {
            let url = dir.appendingPathComponent(path).standardizedFileURL
            if FileManager.default.fileExists(atPath: url.path) { return url }
            if !searched.contains(url.path) { searched.append(url.path) }
        }
        throw ResourceNotFound(path: path, searched: searched)
    }

    /// The directory of the running executable (`/proc/self/exe` on Linux, else the main bundle's).
    static func executableDirectory() -> URL? {
        #if os(Linux)
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return URL(fileURLWithPath: target).deletingLastPathComponent()
        }
        #endif
        return Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent()
    }
}

/// A resource that is in none of the searched places.
public struct ResourceNotFound: Error, Sendable, CustomStringConvertible {
    public var path: String
    /// Every candidate path tried, in order.
    public var searched: [String]
    public var description: String {
        "cannot find '\(path)'; looked in: \(searched.joined(separator: ", ")) (set $\(ResourceLocator.environmentVariable) to a directory holding it)"
    }
}
