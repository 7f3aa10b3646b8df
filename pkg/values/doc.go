// Package values reads and merges chart values the way Helm does: YAML files
// (several documents merged, YAML 1.1 scalars), the --set family of flags
// (subpackage strvals), and path lookups such as dependency conditions.
package values
