# syntax=docker/dockerfile:1
# The manager's image for clusters that build with Docker (docker build -t staff-operator:dev .).
# make image builds the same image without Docker (hack/image); hack/image/image_test.go checks
# that both run the same static binary as the same user with the same entrypoint.

# The Go minor of go.mod's go directive.
FROM golang:1.26 AS build
WORKDIR /src
# Modules first, in their own layer, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
# BuildKit sets TARGETARCH from --platform; a cross build needs no emulation since cgo is off.
ARG TARGETARCH
# Static: the runtime base has no libc. -trimpath and -s -w as in hack/image.
RUN CGO_ENABLED=0 GOOS=linux GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w" -o /out/manager ./cmd

# Static files only (passwd/group naming nonroot, /tmp, CA certificates), no shell, no package
# manager. Pin it by digest in a production build.
FROM gcr.io/distroless/static:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="staff-operator" \
      org.opencontainers.image.source="https://github.com/rosterops/staff-operator" \
      org.opencontainers.image.version="${VERSION}"
WORKDIR /
COPY --from=build /out/manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]
