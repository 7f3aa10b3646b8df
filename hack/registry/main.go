// Command registry is the CNCF distribution registry as the tests run it
// (internal/testregistry): distribution's cmd/registry with only the
// storage drivers and authenticators they use (filesystem, inmemory;
// htpasswd, token). The cloud drivers (S3, Azure, GCS, CloudFront) would
// double the packages a cold `make test` compiles for nothing.
package main

import (
	"github.com/distribution/distribution/v3/registry"
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/auth/token"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

func main() {
	// RootCmd's two commands exit with a non-zero status themselves when
	// they fail.
	_ = registry.RootCmd.Execute()
}
