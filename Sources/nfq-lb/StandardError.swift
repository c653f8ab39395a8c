import Foundation

/// Writes a line to standard error (diagnostics never mix with output a script parses).
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
