// Command dist builds the release of kubectl-chart (make dist VERSION=vX.Y.Z):
//
//   - one archive per platform in -out (default dist/):
//     kubectl-chart_<version>_<os>_<arch>.tar.gz, or .zip for Windows, each
//     holding LICENSE, the binary and kubectl_complete-chart, the helper
//     kubectl (1.26 and later) runs to complete `kubectl chart <TAB>`;
//   - kubectl-chart_<version>_sha256sums.txt, as sha256sum -c reads it;
//   - chart.yaml, the krew Plugin manifest, rendered from .krew.yaml (the
//     template krew-release-bot renders after a GitHub release) with the
//     sums of these archives; -manifest writes a copy (krew/chart.yaml).
//
// The archives are reproducible: the same source, Go toolchain, -version,
// -commit and entry time give the same bytes on any machine and in any
// folder. Binaries are built with -trimpath, without cgo or VCS stamping, the
// version and commit stamped with -ldflags; archive entries are sorted, owned
// by 0:0 and dated $SOURCE_DATE_EPOCH (default: the commit time of HEAD).
// test/krew installs the result with the real krew and checks that two builds
// in two folders are identical.
package main
