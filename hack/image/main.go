// Command image builds the manager's container image without Docker, without a registry and
// without pulling a base image, so that it works offline on a developer's machine and in CI:
// the static manager binary and the few files a non-root static program expects (/etc/passwd
// and /etc/group naming nonroot 65532, its home, /tmp) are one layer on an empty base. The
// result is written twice: as an OCI image layout (for crane, skopeo, containerd) and as a
// tarball that `docker load` reads. The Dockerfile at the root builds the same image for those
// who build with Docker; the test keeps the two in step.
//
//	go run ./hack/image [-tag staff-operator:dev] [-arch amd64] [-layout bin/image]
//	                    [-tar bin/staff-operator-image.tar] [-binary PATH]
//
// make image runs it. Without -binary the manager is built from ./cmd with CGO_ENABLED=0,
// so the image needs no libc.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	var o options
	flag.StringVar(&o.tag, "tag", "staff-operator:dev", "The image reference written into the tarball and the layout (docker load names the image after it).")
	flag.StringVar(&o.arch, "arch", "amd64", "The architecture of the cluster's nodes (a GOARCH value).")
	flag.StringVar(&o.layoutDir, "layout", "bin/image", "Where to write the OCI image layout (replaced if it is one).")
	flag.StringVar(&o.tarPath, "tar", "bin/staff-operator-image.tar", "Where to write the tarball for docker load.")
	flag.StringVar(&o.binary, "binary", "", "A static linux manager binary to put in the image; built from ./cmd when empty.")
	flag.StringVar(&o.source, "source", "https://github.com/rosterops/staff-operator", "The org.opencontainers.image.source label.")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
	fmt.Printf("image %s (%s, linux/%s, %s compressed)\n  OCI layout: %s\n  tarball:    %s\n",
		o.tag, res.digest, o.arch, humanBytes(res.size), o.layoutDir, o.tarPath)
}

func humanBytes(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
