package v1alpha1_test

import (
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestEverySpecStringHasARule keeps the classes closed as the API grows: a string field added to
// a spec without an enum or a CEL rule (for text people read, DisplayText or ParagraphText)
// would let control and invisible characters in again, so it fails here.
func TestEverySpecStringHasARule(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(env.Root, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in config/crd/bases (%v)", err)
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var crd map[string]any
		if err := yaml.Unmarshal(raw, &crd); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, version := range list(crd, "spec", "versions") {
			spec := object(version.(map[string]any), "schema", "openAPIV3Schema", "properties", "spec")
			for _, path := range unruledStrings(spec, "spec") {
				t.Errorf("%s: %s is a string with neither an enum nor an x-kubernetes-validations rule", filepath.Base(file), path)
			}
		}
	}
}

// unruledStrings returns the paths of the string fields under schema that nothing restricts.
func unruledStrings(schema map[string]any, path string) []string {
	var found []string
	switch schema["type"] {
	case "string":
		if schema["enum"] == nil && schema["x-kubernetes-validations"] == nil {
			found = append(found, path)
		}
	case "array":
		found = append(found, unruledStrings(object(schema, "items"), path+"[]")...)
	case "object":
		for name, prop := range object(schema, "properties") {
			found = append(found, unruledStrings(prop.(map[string]any), path+"."+name)...)
		}
	}
	return found
}

func object(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		m, _ = m[k].(map[string]any)
	}
	return m
}

func list(m map[string]any, keys ...string) []any {
	l, _ := object(m, keys[:len(keys)-1]...)[keys[len(keys)-1]].([]any)
	return l
}
