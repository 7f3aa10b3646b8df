// Package registry stores Helm charts in OCI registries and fetches them back,
// interoperable with Helm v4 byte for byte: the same media types, the same
// config blob (Chart.yaml's metadata as JSON), the same manifest annotations
// and layer order, the same tag convention ('+' in a version becomes '_'), so
// that `kubectl chart push` and `helm push` of one archive give one manifest
// digest, and either tool pulls what the other pushed.
//
// Credentials live where Helm keeps them, the docker-style config.json of
// `helm registry login` (helmpath's RegistryConfig, $HELM_REGISTRY_CONFIG),
// read and written through oras-go's credential store, which also honours
// credsStore and credHelpers (docker-credential-* helpers) and falls back to
// Docker's own config.json, as Helm does.
//
// Pulled archives go into the content-addressed chartcache by the digest of
// their layer, which is verified; the manifest and the config blob are cached
// by their digests too, so a pull by digest whose blobs are cached sends no
// request, and a pull by tag or exact version sends one (the manifest).
//
// HTTP clients come from internal/transport (TLS flags, User-Agent), wrapped
// in oras-go's retry and auth clients. Engines here return data; the commands
// print Helm's messages.
package registry
