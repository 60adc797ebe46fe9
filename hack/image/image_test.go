package main

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const testTag = "staff-operator:test"

// TestImage runs `make image` (the README's command) once, with its outputs in a temp dir and
// the architecture of this machine so that the binary in the image can be run here, and then
// checks what a cluster would get from the layout and from the tarball.
func TestImage(t *testing.T) {
	root := repoRoot(t)
	out := t.TempDir()
	layoutDir := filepath.Join(out, "image")
	tarPath := filepath.Join(out, "staff-operator-image.tar")
	mk := exec.Command("make", "--no-print-directory", "-C", root, "image",
		"IMAGE_TAG="+testTag, "IMAGE_ARCH="+runtime.GOARCH, "IMAGE_LAYOUT="+layoutDir, "IMAGE_TAR="+tarPath)
	if b, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, b)
	} else {
		t.Logf("make image:\n%s", b)
	}

	img := imageFromLayout(t, layoutDir)
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("config", func(t *testing.T) {
		c := cfg.Config
		if c.User != "65532:65532" {
			t.Errorf("User = %q, want 65532:65532 (numeric, so that runAsNonRoot can verify it)", c.User)
		}
		if !slices.Equal(c.Entrypoint, []string{"/manager"}) || len(c.Cmd) != 0 {
			t.Errorf("Entrypoint = %q, Cmd = %q; want [/manager] and no Cmd", c.Entrypoint, c.Cmd)
		}
		if c.WorkingDir != "/" {
			t.Errorf("WorkingDir = %q, want /", c.WorkingDir)
		}
		if cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH {
			t.Errorf("platform = %s/%s, want linux/%s", cfg.OS, cfg.Architecture, runtime.GOARCH)
		}
		for k, want := range map[string]string{
			"org.opencontainers.image.title":  "staff-operator",
			"org.opencontainers.image.source": "https://github.com/rosterops/staff-operator",
		} {
			if got := c.Labels[k]; got != want {
				t.Errorf("label %s = %q, want %q", k, got, want)
			}
		}
		if c.Labels["org.opencontainers.image.version"] == "" {
			t.Errorf("no org.opencontainers.image.version label: %v", c.Labels)
		}
	})

	t.Run("filesystem holds the manager and nonroot's files, no shell", func(t *testing.T) {
		files := extract(t, img, out)
		want := map[string]struct {
			mode     int64
			uid, gid int
		}{
			// mutate.Extract names folders without their trailing slash.
			"etc": {0o755, 0, 0}, "etc/group": {0o644, 0, 0}, "etc/passwd": {0o644, 0, 0},
			"home": {0o755, 0, 0}, "home/nonroot": {0o700, 65532, 65532},
			"tmp": {0o1777, 0, 0}, "manager": {0o755, 0, 0},
		}
		for name, hdr := range files {
			w, ok := want[name]
			if !ok {
				// This is also what proves there is no /bin/sh: nothing but these entries.
				t.Errorf("unexpected entry %s in the image", name)
				continue
			}
			if hdr.Mode != w.mode || hdr.Uid != w.uid || hdr.Gid != w.gid {
				t.Errorf("%s: mode %o owner %d:%d, want %o %d:%d", name, hdr.Mode, hdr.Uid, hdr.Gid, w.mode, w.uid, w.gid)
			}
		}
		for name := range want {
			if _, ok := files[name]; !ok {
				t.Errorf("%s is missing from the image", name)
			}
		}
		passwd := readFile(t, filepath.Join(out, "rootfs", "etc", "passwd"))
		group := readFile(t, filepath.Join(out, "rootfs", "etc", "group"))
		if !strings.Contains(passwd, "\nnonroot:x:65532:65532:") || !strings.Contains(group, "\nnonroot:x:65532:") {
			t.Errorf("/etc/passwd or /etc/group does not name nonroot 65532:\n%s%s", passwd, group)
		}
	})

	t.Run("the manager in the image is static and runs --help", func(t *testing.T) {
		manager := filepath.Join(out, "rootfs", "manager")
		if _, err := os.Stat(manager); err != nil {
			t.Fatalf("the filesystem subtest did not extract /manager: %v", err)
		}
		if err := checkStatic(manager, runtime.GOARCH); err != nil {
			t.Error(err)
		}
		b, err := exec.Command(manager, "--help").CombinedOutput()
		if err != nil {
			t.Fatalf("/manager --help: %v\n%s", err, b)
		}
		if !strings.Contains(string(b), "-config") {
			t.Errorf("/manager --help does not mention --config:\n%s", b)
		}
	})

	// The same binary and commit must give the same digest, so that a rebuild in CI does not
	// push a new image for nothing: the layer and config are built again from the binary in
	// the image and what its labels say.
	t.Run("rebuilding from the same binary gives the same digest", func(t *testing.T) {
		labels := cfg.Config.Labels
		again, err := buildImage(filepath.Join(out, "rootfs", "manager"), cfg.Architecture, labels["org.opencontainers.image.source"], sourceInfo{
			version:  labels["org.opencontainers.image.version"],
			revision: labels["org.opencontainers.image.revision"],
			created:  cfg.Created.Time,
		})
		if err != nil {
			t.Fatal(err)
		}
		want, err1 := img.Digest()
		got, err2 := again.Digest()
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("rebuilt image %s, want %s", got, want)
		}

		// The same through -binary, as for a binary built elsewhere. Only the layer is
		// compared: the labels follow the work tree, which others may change meanwhile.
		againDir := filepath.Join(out, "again")
		if _, err := run(t.Context(), options{
			tag: testTag, arch: runtime.GOARCH, binary: filepath.Join(out, "rootfs", "manager"),
			layoutDir: filepath.Join(againDir, "image"), tarPath: filepath.Join(againDir, "image.tar"),
			source: labels["org.opencontainers.image.source"],
		}); err != nil {
			t.Fatalf("-binary: %v", err)
		}
		wl, err1 := img.Layers()
		gl, err2 := imageFromLayout(t, filepath.Join(againDir, "image")).Layers()
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		wd, err1 := wl[0].Digest()
		gd, err2 := gl[0].Digest()
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		if wd != gd {
			t.Errorf("-binary gives layer %s, want %s", gd, wd)
		}
	})

	t.Run("the tarball holds the same image under the tag", func(t *testing.T) {
		tag, err := name.NewTag(testTag)
		if err != nil {
			t.Fatal(err)
		}
		fromTar, err := tarball.ImageFromPath(tarPath, &tag)
		if err != nil {
			t.Fatalf("the tarball has no image tagged %s: %v", testTag, err)
		}
		sameImage(t, img, fromTar)
	})

	// README: crane push bin/staff-operator-image.tar REGISTRY/staff-operator:v0.1.0. crane's
	// push is crane.Load and crane.Push; the registry is go-containerregistry's own, on loopback.
	t.Run("crane pushes the tarball to a registry", func(t *testing.T) {
		reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
		defer reg.Close()
		dst := strings.TrimPrefix(reg.URL, "http://") + "/staff-operator:v0.1.0"
		loaded, err := crane.Load(tarPath)
		if err != nil {
			t.Fatal(err)
		}
		if err := crane.Push(loaded, dst); err != nil {
			t.Fatalf("crane push: %v", err)
		}
		pulled, err := crane.Pull(dst)
		if err != nil {
			t.Fatalf("pulling it back: %v", err)
		}
		sameImage(t, img, pulled)
	})

	t.Run("the Dockerfile builds the same image", func(t *testing.T) {
		checkDockerfile(t, root, cfg)
	})
}

// checkDockerfile holds the Dockerfile, which cannot be built here (no Docker, no registry), to
// what the Go-built image has, line by line where they must agree.
func checkDockerfile(t *testing.T, root string, cfg *v1.ConfigFile) {
	stages := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	if len(stages) != 2 {
		t.Fatalf("the Dockerfile has %d stages, want 2 (build, runtime)", len(stages))
	}
	build, final := stages[0], stages[1]

	goMod := readFile(t, filepath.Join(root, "go.mod"))
	goMinor := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(goMod)
	if goMinor == nil || build.from != "golang:"+goMinor[1]+" AS build" {
		t.Errorf("build stage FROM %q, want golang:<go.mod's minor> AS build (go.mod: %v)", build.from, goMinor)
	}
	run := build.all("RUN")
	for _, want := range []string{"CGO_ENABLED=0", "GOOS=linux"} {
		if !strings.Contains(run, want) {
			t.Errorf("build stage does not set %s: %s", want, run)
		}
	}
	for _, f := range buildFlags {
		k, v, hasValue := strings.Cut(f, "=")
		ok := strings.Contains(run, f)
		if hasValue {
			ok = strings.Contains(run, k+` "`+v+`"`) || strings.Contains(run, k+`="`+v+`"`)
		}
		if !ok {
			t.Errorf("build stage does not pass %s to go build as hack/image does: %s", f, run)
		}
	}

	if final.from != "gcr.io/distroless/static:nonroot" {
		t.Errorf("runtime stage FROM %q, want gcr.io/distroless/static:nonroot", final.from)
	}
	if got := final.last("USER"); got != cfg.Config.User {
		t.Errorf("Dockerfile USER %q, the built image's %q", got, cfg.Config.User)
	}
	if got := final.last("WORKDIR"); got != cfg.Config.WorkingDir {
		t.Errorf("Dockerfile WORKDIR %q, the built image's %q", got, cfg.Config.WorkingDir)
	}
	var entrypoint []string
	if err := json.Unmarshal([]byte(final.last("ENTRYPOINT")), &entrypoint); err != nil ||
		!slices.Equal(entrypoint, cfg.Config.Entrypoint) {
		t.Errorf("Dockerfile ENTRYPOINT %s (exec form wanted: no shell in the image), the built image's %q",
			final.last("ENTRYPOINT"), cfg.Config.Entrypoint)
	}
	if cp := final.last("COPY"); !strings.HasPrefix(cp, "--from=build ") || !strings.HasSuffix(cp, " "+cfg.Config.Entrypoint[0]) {
		t.Errorf("runtime stage COPY %q does not put the built binary at %s", cp, cfg.Config.Entrypoint[0])
	}
	labels := final.all("LABEL")
	for _, k := range []string{"org.opencontainers.image.title", "org.opencontainers.image.source"} {
		if !strings.Contains(labels, k+`="`+cfg.Config.Labels[k]+`"`) {
			t.Errorf("Dockerfile LABEL %s is not %q as in the built image: %s", k, cfg.Config.Labels[k], labels)
		}
	}

	checkBuildContext(t, root, build)
}

// checkBuildContext fails when a package the manager is compiled from (or a file it embeds) is
// not copied into the build stage or is left out of the context by .dockerignore: the build
// would fail only on the platform team's machine.
func checkBuildContext(t *testing.T, root string, build stage) {
	copied := map[string]bool{}
	for _, args := range build.each("COPY") {
		fields := strings.Fields(args)
		for _, src := range fields[:len(fields)-1] {
			copied[strings.TrimSuffix(src, "/")] = true
		}
	}
	cmd := exec.Command("go", "list", "-deps", "-f",
		`{{if .Module}}{{if .Module.Main}}{{.Dir}}{{range .GoFiles}} {{.}}{{end}}{{range .EmbedFiles}} {{.}}{{end}}{{"\n"}}{{end}}{{end}}`,
		managerPackage)
	cmd.Dir = root
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	needed := []string{"go.mod", "go.sum"}
	for line := range strings.Lines(string(b)) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		rel, err := filepath.Rel(root, fields[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fields[1:] {
			needed = append(needed, filepath.ToSlash(filepath.Join(rel, f)))
		}
	}
	ignore := dockerignore(t, filepath.Join(root, ".dockerignore"))
	reported := map[string]bool{}
	for _, p := range needed {
		top, _, _ := strings.Cut(p, "/")
		if !copied[top] && !reported[top] {
			reported[top] = true
			t.Errorf("the Dockerfile's build stage does not COPY %s, which the manager needs (%s)", top, p)
		}
		if pattern, ok := ignored(ignore, p); ok {
			t.Errorf(".dockerignore's %q leaves %s out of the build context", pattern, p)
		}
	}
}

type stage struct {
	from   string
	instrs [][2]string // instruction, arguments
}

func (s stage) each(instr string) []string {
	var args []string
	for _, in := range s.instrs {
		if in[0] == instr {
			args = append(args, in[1])
		}
	}
	return args
}

func (s stage) all(instr string) string { return strings.Join(s.each(instr), "\n") }

func (s stage) last(instr string) string {
	args := s.each(instr)
	if len(args) == 0 {
		return ""
	}
	return args[len(args)-1]
}

// parseDockerfile reads instructions, joining continued lines and dropping comments (the
// parser directive on the first line is a comment too), split into stages at FROM.
func parseDockerfile(t *testing.T, path string) []stage {
	var stages []stage
	var logical strings.Builder
	flush := func() {
		line := strings.TrimSpace(logical.String())
		logical.Reset()
		if line == "" {
			return
		}
		instr, args, _ := strings.Cut(line, " ")
		instr, args = strings.ToUpper(instr), strings.Join(strings.Fields(args), " ")
		if instr == "FROM" {
			stages = append(stages, stage{from: args})
			return
		}
		if len(stages) == 0 {
			t.Fatalf("%s: %s before the first FROM", path, instr)
		}
		s := &stages[len(stages)-1]
		s.instrs = append(s.instrs, [2]string{instr, args})
	}
	for line := range strings.Lines(readFile(t, path)) {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if cont, ok := strings.CutSuffix(trimmed, `\`); ok {
			logical.WriteString(cont + " ")
			continue
		}
		logical.WriteString(trimmed)
		flush()
	}
	flush()
	return stages
}

func dockerignore(t *testing.T, path string) []string {
	var patterns []string
	for line := range strings.Lines(readFile(t, path)) {
		p := strings.TrimSpace(line)
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		if strings.HasPrefix(p, "!") || strings.Contains(p, "**") {
			t.Fatalf(".dockerignore %q: this test understands plain patterns only; extend it first", p)
		}
		patterns = append(patterns, strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/"))
	}
	return patterns
}

// ignored matches as Docker does for plain patterns: against the path from the context's root,
// where a pattern matching a folder leaves out everything in it.
func ignored(patterns []string, p string) (string, bool) {
	parts := strings.Split(p, "/")
	for i := range parts {
		prefix := strings.Join(parts[:i+1], "/")
		for _, pattern := range patterns {
			if ok, _ := filepath.Match(pattern, prefix); ok {
				return pattern, true
			}
		}
	}
	return "", false
}

func TestCheckStaticRefusesDynamicBinaries(t *testing.T) {
	// Debian's ls is linked against libc, as a cgo-enabled manager would be.
	ls, err := exec.LookPath("ls")
	if err != nil {
		t.Fatalf("no ls on PATH to test with: %v", err)
	}
	err = checkStatic(ls, runtime.GOARCH)
	if err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Errorf("checkStatic(%s) = %v, want a refusal that says to build with CGO_ENABLED=0", ls, err)
	}
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	if err := checkStatic(ls, other); err == nil || !strings.Contains(err.Error(), "built for") {
		t.Errorf("checkStatic(%s, %s) = %v, want a refusal naming the architecture", ls, other, err)
	}
}

func TestRemoveLayoutKeepsFoldersThatAreNoLayout(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(keep, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := removeLayout(dir); err == nil {
		t.Error("removeLayout removed a folder that is not an OCI layout")
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("the folder's file is gone: %v", err)
	}
	if err := removeLayout(filepath.Join(dir, "absent")); err != nil {
		t.Errorf("removeLayout of a missing folder: %v", err)
	}
}

func repoRoot(t *testing.T) string {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("not at the repository root: %v", err)
	}
	return root
}

func readFile(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func imageFromLayout(t *testing.T, dir string) v1.Image {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("reading the OCI layout: %v", err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 {
		t.Fatalf("the layout holds %d manifests, want 1", len(m.Manifests))
	}
	d := m.Manifests[0]
	if got := d.Annotations["org.opencontainers.image.ref.name"]; got != "test" {
		t.Errorf("layout ref.name = %q, want the tag, test", got)
	}
	if d.Platform == nil || d.Platform.OS != "linux" || d.Platform.Architecture != runtime.GOARCH {
		t.Errorf("layout platform = %v, want linux/%s", d.Platform, runtime.GOARCH)
	}
	img, err := idx.Image(d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// extract writes the image's filesystem under dir/rootfs and returns its tar headers by name.
func extract(t *testing.T, img v1.Image, dir string) map[string]*tar.Header {
	rc := mutate.Extract(img)
	defer rc.Close()
	rootfs := filepath.Join(dir, "rootfs")
	files := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		files[hdr.Name] = hdr
		target := filepath.Join(rootfs, filepath.FromSlash(hdr.Name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.Copy(f, tr)
			if err = errors.Join(err, f.Close()); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// sameImage compares what a runtime uses: the config blob and the layers. The manifests differ
// on purpose: a docker tarball (and so crane's push of it) has Docker media types.
func sameImage(t *testing.T, want, got v1.Image) {
	t.Helper()
	wc, err := want.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	gc, err := got.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if string(wc) != string(gc) {
		t.Errorf("config differs:\n%s\nwant\n%s", gc, wc)
	}
	wl, err := want.Layers()
	if err != nil {
		t.Fatal(err)
	}
	gl, err := got.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(wl) != len(gl) {
		t.Fatalf("%d layers, want %d", len(gl), len(wl))
	}
	for i := range wl {
		wd, err1 := wl[i].Digest()
		gd, err2 := gl[i].Digest()
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		if wd != gd {
			t.Errorf("layer %d is %s, want %s", i, gd, wd)
		}
	}
}
