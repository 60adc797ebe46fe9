package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// What the image runs as and what it starts. The Dockerfile says the same (USER, ENTRYPOINT,
// WORKDIR); image_test.go fails when the two drift apart.
const (
	imageUser       = "65532:65532" // distroless's nonroot: no name lookup needed, runAsNonRoot can verify it
	imageEntrypoint = "/manager"
	imageWorkingDir = "/"
	imageTitle      = "staff-operator"
)

// The files besides the binary. A static Go program needs no libc, no shell and no CA bundle
// (the operator is given its LDAP and SMTP CAs as files from its Secret), but code that looks
// the user up (Go's os/user, getpwuid) expects /etc/passwd and /etc/group to name it, and code
// that falls back on os.TempDir expects a writable /tmp. These are the entries distroless's static:nonroot carries for the same user.
const (
	etcPasswd = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	etcGroup = "root:x:0:\n" +
		"nonroot:x:65532:\n"
)

type options struct {
	tag       string
	arch      string
	layoutDir string
	tarPath   string
	binary    string
	source    string
}

type result struct {
	digest v1.Hash // of the manifest in the OCI layout
	size   int64   // compressed layer bytes: what a node pulls
}

func run(ctx context.Context, o options) (result, error) {
	ref, err := name.NewTag(o.tag)
	if err != nil {
		return result{}, fmt.Errorf("-tag %q: %w", o.tag, err)
	}
	if _, ok := elfMachines[o.arch]; !ok {
		return result{}, fmt.Errorf("-arch %q: not one of the architectures this builder knows", o.arch)
	}
	binary := o.binary
	if binary == "" {
		dir, err := os.MkdirTemp("", "staff-operator-image-")
		if err != nil {
			return result{}, err
		}
		defer os.RemoveAll(dir)
		if binary, err = buildManager(ctx, dir, o.arch); err != nil {
			return result{}, err
		}
	}
	if err := checkStatic(binary, o.arch); err != nil {
		return result{}, err
	}

	info := describe(ctx)
	img, err := buildImage(binary, o.arch, o.source, info)
	if err != nil {
		return result{}, err
	}
	if err := writeLayout(o.layoutDir, ref, o.arch, img); err != nil {
		return result{}, err
	}
	if err := writeTarball(o.tarPath, ref, img); err != nil {
		return result{}, err
	}

	var res result
	if res.digest, err = img.Digest(); err != nil {
		return result{}, err
	}
	layers, err := img.Layers()
	if err != nil {
		return result{}, err
	}
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			return result{}, err
		}
		res.size += n
	}
	return res, nil
}

// sourceInfo is what the image says about where it came from.
type sourceInfo struct {
	version  string    // git describe, or "dev" outside a git checkout
	revision string    // the commit, empty outside a git checkout
	created  time.Time // the commit's time, so that the same commit gives the same image digest
}

func describe(ctx context.Context) sourceInfo {
	git := func(args ...string) string {
		out, err := exec.CommandContext(ctx, "git", args...).Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	info := sourceInfo{
		version:  git("describe", "--tags", "--always", "--dirty"),
		revision: git("rev-parse", "HEAD"),
		created:  time.Unix(0, 0).UTC(),
	}
	if info.version == "" {
		info.version = "dev"
	}
	// SOURCE_DATE_EPOCH is the reproducible-builds convention for pinning timestamps; the commit
	// time is the next best thing. The wall clock would make every build a new digest.
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if sec, err := strconv.ParseInt(s, 10, 64); err == nil {
			info.created = time.Unix(sec, 0).UTC()
		}
	} else if sec, err := strconv.ParseInt(git("log", "-1", "--format=%ct"), 10, 64); err == nil {
		info.created = time.Unix(sec, 0).UTC()
	}
	return info
}

func buildImage(binary, arch, source string, info sourceInfo) (v1.Image, error) {
	layer, err := rootfsLayer(binary, info.created)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{
		"org.opencontainers.image.title":   imageTitle,
		"org.opencontainers.image.source":  source,
		"org.opencontainers.image.version": info.version,
	}
	if info.revision != "" {
		labels["org.opencontainers.image.revision"] = info.revision
	}
	cfg := &v1.ConfigFile{
		Architecture: arch,
		OS:           "linux",
		Created:      v1.Time{Time: info.created},
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			User:       imageUser,
			Entrypoint: []string{imageEntrypoint},
			WorkingDir: imageWorkingDir,
			Labels:     labels,
		},
	}
	img, err := mutate.ConfigFile(empty.Image, cfg)
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: info.created},
			CreatedBy: "hack/image: " + imageEntrypoint + ", /etc/passwd, /etc/group, /home/nonroot, /tmp",
		},
	})
	if err != nil {
		return nil, err
	}
	// empty.Image speaks Docker's media types; an OCI layout should hold an OCI manifest, and
	// registries and runtimes all take it.
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	return mutate.ConfigMediaType(img, types.OCIConfigJSON), nil
}

// rootfsLayer writes the layer once, gzip'ed in memory: the library would otherwise compress
// the 50 MB binary again for every digest and every output. Fixed owners, modes and times
// (and gzip's zero header) make the layer's digest depend on the binary alone.
func rootfsLayer(binary string, mtime time.Time) (v1.Layer, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	dir := func(path string, mode int64, id int) *tar.Header {
		return &tar.Header{Typeflag: tar.TypeDir, Name: path + "/", Mode: mode, Uid: id, Gid: id, ModTime: mtime}
	}
	file := func(path string, mode int64, size int) *tar.Header {
		return &tar.Header{Typeflag: tar.TypeReg, Name: path, Mode: mode, Size: int64(size), ModTime: mtime}
	}
	entries := []struct {
		hdr  *tar.Header
		body []byte
	}{
		{dir("etc", 0o755, 0), nil},
		{file("etc/group", 0o644, len(etcGroup)), []byte(etcGroup)},
		{file("etc/passwd", 0o644, len(etcPasswd)), []byte(etcPasswd)},
		{dir("home", 0o755, 0), nil},
		{dir("home/nonroot", 0o700, 65532), nil},
		// Sticky and world-writable, as on any Linux: a pod that mounts nothing there can still
		// create temp files as 65532.
		{dir("tmp", 0o1777, 0), nil},
		// Owned by root and not writable by 65532, so the running manager cannot replace itself.
		{file(strings.TrimPrefix(imageEntrypoint, "/"), 0o755, len(bin)), bin},
	}
	for _, e := range entries {
		e.hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(e.hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, err
		}
	}
	if err := errors.Join(tw.Close(), zw.Close()); err != nil {
		return nil, err
	}
	blob := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(blob)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// writeLayout replaces the layout at dir rather than appending to it, so that bin/image holds
// this build only and does not grow with every make image.
func writeLayout(dir string, ref name.Tag, arch string, img v1.Image) error {
	if err := removeLayout(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendImage(img,
		layout.WithPlatform(v1.Platform{OS: "linux", Architecture: arch}),
		layout.WithAnnotations(map[string]string{
			// The OCI spec's name is the tag (skopeo's oci:bin/image:dev); containerd's import
			// looks for the full reference.
			"org.opencontainers.image.ref.name": ref.TagStr(),
			"io.containerd.image.name":          ref.String(),
		}))
}

// removeLayout removes dir when it is an OCI layout (or empty), and refuses anything else, so
// that a mistyped -layout cannot wipe a folder of someone's files.
func removeLayout(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
			return fmt.Errorf("-layout %s: not empty and not an OCI image layout; not replacing it", dir)
		}
	}
	return os.RemoveAll(dir)
}

// writeTarball writes next to the target and renames, so that an interrupted build never
// leaves a truncated tarball for docker load or crane push to choke on.
func writeTarball(path string, ref name.Tag, img v1.Image) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".partial"
	if err := tarball.WriteToFile(tmp, ref, img); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
