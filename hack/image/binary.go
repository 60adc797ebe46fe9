package main

import (
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// managerPackage is named by import path so that the build works from any folder of the
// module (make runs at the root, go test in hack/image).
const managerPackage = "github.com/rosterops/staff-operator/cmd"

// buildFlags are the Dockerfile's too: -trimpath keeps the builder's paths out of the binary
// (and makes it reproducible), -s -w drop the symbol table and DWARF, about a third of the size.
var buildFlags = []string{"-trimpath", "-ldflags=-s -w"}

func buildManager(ctx context.Context, dir, arch string) (string, error) {
	out := filepath.Join(dir, "manager")
	args := append([]string{"build"}, buildFlags...)
	args = append(args, "-o", out, managerPackage)
	cmd := exec.CommandContext(ctx, "go", args...)
	// CGO_ENABLED=0: the image has no libc for a cgo binary to load.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s for linux/%s: %w", managerPackage, arch, err)
	}
	return out, nil
}

// elfMachines maps the GOARCH values a cluster node may have to their ELF machine.
var elfMachines = map[string]elf.Machine{
	"amd64":   elf.EM_X86_64,
	"arm64":   elf.EM_AARCH64,
	"arm":     elf.EM_ARM,
	"386":     elf.EM_386,
	"ppc64le": elf.EM_PPC64,
	"s390x":   elf.EM_S390,
	"riscv64": elf.EM_RISCV,
}

// checkStatic refuses a binary that could not start in the image: one for another
// architecture, or one that needs a dynamic loader or shared libraries, which the empty base
// does not have. Without this check such an image builds fine and then fails in the pod with
// a bare "no such file or directory".
func checkStatic(path, arch string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: not a Linux executable: %w", path, err)
	}
	defer f.Close()
	if want := elfMachines[arch]; f.Machine != want {
		return fmt.Errorf("%s is built for %s, the image is for %s (%s)", path, f.Machine, arch, want)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked: the image has no libc; build it with CGO_ENABLED=0", path)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(libs) > 0 {
		return fmt.Errorf("%s needs shared libraries %v: the image has none; build it with CGO_ENABLED=0", path, libs)
	}
	return nil
}
