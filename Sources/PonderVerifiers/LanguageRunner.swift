/// How to run a program in one language: the file it is saved as and the command that runs it.
///
/// The sandbox is language-agnostic; add a runner to support a new language.
public struct LanguageRunner: Sendable, Hashable {
    /// The language name used in ``PonderCore/CodeTests/language`` (e.g. `python`).
    public var name: String
    /// The file name the program is written to inside the sandbox directory.
    public var fileName: String
    /// The command, run in the sandbox directory; must be an absolute path readable by an
    /// unprivileged user (so not a shim under `/root`).
    public var command: [String]
    /// How assertion tests are appended to the program (``AssertionStyle/appended`` only).
    public var assertionSeparator: String
    /// How assertion tests are run.
    public var assertionStyle: AssertionStyle
    /// Host paths a sealed sandbox binds read-only at the same place, for a runtime outside `/usr` (e.g.
    /// `/opt/pypy`). `/usr` and the merged-`/usr` links are always there; nothing else of the host is.
    public var runtimePaths: [String]

    /// How a runner runs assertion tests (``PonderCore/CodeTestCase/assertion(_:)``).
    public enum AssertionStyle: Sendable, Hashable {
        /// The test is appended to the program and the process must exit with status 0. A program that exits
        /// early (`exit 0`) passes without running the test: use only for trusted programs.
        case appended
        /// A Python harness runs the program, then the test with trusted comparisons on plain data, and proves
        /// the test ran to its end with a per-run marker the program cannot know (see ``CodeVerifier``).
        case pythonHarness
    }

    /// Makes a runner.
    public init(
        name: String, fileName: String, command: [String], assertionSeparator: String = "\n\n",
        assertionStyle: AssertionStyle = .appended, runtimePaths: [String] = []
    ) {
        self.name = name
        self.fileName = fileName
        self.command = command
        self.assertionSeparator = assertionSeparator
        self.assertionStyle = assertionStyle
        self.runtimePaths = runtimePaths
    }

    /// Python 3 in isolated mode (`-I`: no user site-packages, no environment variables) without bytecode files;
    /// assertion tests run under the harness (``AssertionStyle/pythonHarness``).
    public static let python = LanguageRunner(
        name: "python", fileName: "main.py", command: [pythonPath, "-I", "-B", "main.py"],
        assertionStyle: .pythonHarness)

    /// POSIX shell scripts.
    public static let shell = LanguageRunner(name: "sh", fileName: "main.sh", command: ["/bin/sh", "main.sh"])

    /// The first system Python found (system paths only: user-level shims are not readable by the sandbox user).
    static let pythonPath: String = {
        for p in ["/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"] where access(p, X_OK) == 0 { return p }
        return "/usr/bin/python3"
    }()
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
