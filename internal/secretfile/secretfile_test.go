package secretfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		content, want, err string
	}{
		{"s3cret", "s3cret", ""},
		{"s3cret\n", "s3cret", ""},
		{"s3cret\r\n", "s3cret", ""},
		{" spaced  \n", " spaced  ", ""},
		{"\n", "", "is empty"},
		{"one\ntwo\n", "", "more than one line"},
	}
	for i, c := range cases {
		path := filepath.Join(dir, strings.Repeat("f", i+1))
		if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := Read(path)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "one\ntwo") {
				t.Errorf("%q: error %v, want one saying %q without the content", c.content, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: got %q, %v; want %q", c.content, got, err, c.want)
		}
	}
	if _, err := Read(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "cannot read secret file") {
		t.Errorf("missing file: %v", err)
	}
}
