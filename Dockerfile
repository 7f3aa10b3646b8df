# syntax=docker/dockerfile:1
# chart-webhook, the ownership admission webhook of kubectl-chart, as
# manifests/ deploys it:
#
#   docker build --build-arg VERSION=v1.2.3 -t ghcr.io/kubectl-chart/chart-webhook:v1.2.3 .
#
# The binary is built as `make bin/chart-webhook` builds it (static,
# CGO_ENABLED=0, -trimpath, the version stamped; manifests/dockerfile_test.go
# checks that they agree) and runs as distroless' non-root user on
# distroless/static: no shell, no package manager, only the binary, CA
# certificates and time zone data.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=v0.0.0-dev
ARG COMMIT=
ENV GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-X github.com/kubectl-chart/kubectl-chart/internal/version.Version=${VERSION} -X github.com/kubectl-chart/kubectl-chart/internal/version.Commit=${COMMIT}" -o /out/chart-webhook ./cmd/webhook

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/chart-webhook /chart-webhook
# 65532 is distroless' nonroot user; manifests/deployment.yaml runs as it
# (runAsNonRoot needs a numeric USER to check).
USER 65532:65532
ENTRYPOINT ["/chart-webhook"]
