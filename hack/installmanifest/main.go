// Command installmanifest renders config/default with kustomize into one file, dist/install.yaml,
// that a platform team applies as it is (`kubectl apply --server-side -f dist/install.yaml`).
// `make install-manifest` runs it; a test renders again and fails when the committed file differs.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// header opens the rendered file: it says where the file comes from, so that nobody edits it.
const header = `# staff-operator: everything it needs in a cluster, rendered from config/default by
# ` + "`make install-manifest`" + ` (hack/installmanifest). Do not edit: change config/ and render again.
# Before applying, create the Secrets the manager mounts (README: Install on a cluster).
`

func main() {
	root := flag.String("root", ".", "The repository's root directory.")
	out := flag.String("o", filepath.Join("dist", "install.yaml"), "Where to write the manifest, relative to -root unless absolute.")
	flag.Parse()

	manifest, err := Render(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "installmanifest:", err)
		os.Exit(1)
	}
	path := *out
	if !filepath.IsAbs(path) {
		path = filepath.Join(*root, path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "installmanifest:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(path, manifest, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "installmanifest:", err)
		os.Exit(1)
	}
}

// Render builds config/default under root as `kubectl kustomize` does, in the order kubectl
// needs to apply one file: Namespaces and CRDs before what lives in them.
func Render(root string) ([]byte, error) {
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy
	resources, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), filepath.Join(root, "config", "default"))
	if err != nil {
		return nil, fmt.Errorf("kustomize config/default: %w", err)
	}
	body, err := resources.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("write config/default as YAML: %w", err)
	}
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString("---\n")
	b.Write(body)
	return b.Bytes(), nil
}
