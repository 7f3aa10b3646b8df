// Package ignore reads .helmignore files and decides which chart files they
// exclude, with exactly the rules of Helm v4 (helm.sh/helm/v4/pkg/ignore).
//
// The format follows .gitignore closely but not exactly:
//
//   - parsing is line by line; blank lines and lines starting with # are skipped
//   - leading and trailing spaces are always trimmed; there are no inline comments
//   - patterns are shell globs as understood by Go's path/filepath.Match
//   - a leading ! negates the pattern
//   - a leading / anchors the pattern at the chart root
//   - a trailing / makes the pattern match directories only
//   - a pattern without a slash is matched against the base name only
//   - "**" is refused ("double-star (**) syntax is not supported")
//
// Helm also ignores every dotfile under templates/ (AddDefaults).
package ignore
