// Package browsertest starts Debian's headless Chromium for tests, driven by chromedp, and
// keeps what the tests save (screenshots) under the repository's testdata/out.
//
// A missing browser fails the test with the command that installs it; it never skips.
package browsertest

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/rosterops/staff-operator/internal/testenv"
)

// ChromiumPath is where Debian's chromium package installs the browser.
const ChromiumPath = "/usr/bin/chromium"

// installHint is how to get the browser.
const installHint = "run hack/install-packages.sh (as root) or apt-get install chromium"

// Timeout bounds a whole browser session: a test that hangs fails instead.
const Timeout = 2 * time.Minute

// New starts a headless Chromium for the test and returns a chromedp context for one tab in
// it. The browser has a fresh profile in t.TempDir(), no network of its own beyond what the
// page asks for, and is killed when the test ends. Derive per-step timeouts from the returned
// context with context.WithTimeout; do not cancel it yourself.
func New(t testing.TB) context.Context {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		t.Fatalf("headless browser not found at %s: %v; %s", ChromiumPath, err, installHint)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		// /dev/shm is small in containers; Chromium crashes when it fills up.
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-crash-reporter", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("password-store", "basic"),
	}
	// The allocator's context bounds the whole session: when it ends, the browser is killed.
	base, cancelBase := context.WithTimeout(context.Background(), Timeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(base, opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() {
		// Close the browser gracefully first, so that it ends its own helper processes;
		// then make sure: the allocator kills whatever is left and waits for it.
		closeCtx, cancelClose := context.WithTimeout(ctx, 10*time.Second)
		if err := chromedp.Cancel(closeCtx); err != nil {
			t.Logf("close browser: %v", err)
		}
		cancelClose()
		cancelCtx()
		cancelAlloc()
		cancelBase()
	})
	// Start the browser now, on the untimed tab context, so that later timeouts only bound
	// their own step.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v; %s", ChromiumPath, err, installHint)
	}
	return ctx
}

// ArtifactDir returns testdata/out/<test name> under the repository root, created empty. It
// is git-ignored; CI can collect it.
func ArtifactDir(t testing.TB) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatalf("find repository root: %v", err)
	}
	dir := filepath.Join(root, "testdata", "out", filepath.FromSlash(t.Name()))
	if err := os.RemoveAll(dir); err != nil {
		t.Fatalf("clear %s: %v", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("create %s: %v", dir, err)
	}
	return dir
}

// SaveScreenshot checks that buf is a PNG that shows something (more than one colour) and
// writes it to dir/name. It returns the path.
func SaveScreenshot(t testing.TB, dir, name string, buf []byte) string {
	t.Helper()
	if err := CheckNotBlank(buf); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatalf("save screenshot: %v", err)
	}
	t.Logf("screenshot: %s", path)
	return path
}

// CheckNotBlank decodes a PNG and fails unless it holds at least two distinct colours.
func CheckNotBlank(buf []byte) error {
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		return err
	}
	if colours(img, 2) < 2 {
		return errBlank
	}
	return nil
}

// colours counts the distinct colours of img, stopping at limit.
func colours(img image.Image, limit int) int {
	seen := map[[4]uint32]struct{}{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = struct{}{}
			if len(seen) >= limit {
				return len(seen)
			}
		}
	}
	return len(seen)
}

var errBlank = errors.New("image is blank: it has a single colour")
