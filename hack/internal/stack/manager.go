package stack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Manager is the running manager binary.
type Manager struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited; err is set then
	err    error
}

// Pid is the manager's process id.
func (m *Manager) Pid() int { return m.cmd.Process.Pid }

// Exited is closed when the manager has exited.
func (m *Manager) Exited() <-chan struct{} { return m.exited }

// buildManager builds the real binary, so what runs is what a release would run.
func (s *Stack) buildManager(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", s.O.InRoot(s.O.ManagerBin), "./cmd")
	cmd.Dir = s.O.Root
	cmd.Stdout, cmd.Stderr = s.O.Out, s.O.Out
	return cmd.Run()
}

// startManager runs the manager against the stack's API server with the stack's
// configuration, its output in the state directory, and waits until it is ready.
func (s *Stack) startManager(ctx context.Context) error {
	log, err := os.Create(s.ManagerLog())
	if err != nil {
		return err
	}
	defer log.Close() // the child has its own descriptor
	args := append([]string{"--config", s.ConfigFile,
		"--metrics-bind-address", s.O.Metrics, "--health-probe-bind-address", s.O.Probe}, s.O.ManagerArgs...)
	cmd := exec.Command(s.O.InRoot(s.O.ManagerBin), args...)
	cmd.Dir = s.O.Root
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.Kubeconfig)
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group, so Ctrl-C reaches the caller only and the caller stops the
	// manager in order; killed with the caller if the caller itself dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	m := &Manager{cmd: cmd, exited: make(chan struct{})}
	go func() {
		m.err = cmd.Wait()
		close(m.exited)
	}()
	s.Manager = m
	s.OnStop("manager", m.stop)

	if err := s.waitHTTP(ctx, "http://"+s.O.Probe+"/readyz", time.Minute); err != nil {
		return fmt.Errorf("the manager is not ready: %w", err)
	}
	s.Say("  ready; log %s", s.Rel(s.ManagerLog()))
	// The page starts with the manager, so a short wait tells whether this manager has it.
	if err := s.waitHTTP(ctx, "http://"+s.Set.Web.Listen+"/healthz", 10*time.Second); err != nil {
		if s.O.RequirePage {
			return fmt.Errorf("the manager does not serve the invitation page on %s: %w", s.Set.Web.Listen, err)
		}
		s.Say("  WARNING: the manager does not serve the invitation page on %s (%v): the link in the mail will not open", s.Set.Web.Listen, err)
		return nil
	}
	s.PageUp = true
	s.Say("  invitation page %s", s.Set.Web.PublicURL)
	return nil
}

// stop asks the manager to stop (SIGTERM, as Kubernetes does) and kills it after 10 seconds.
func (m *Manager) stop() error {
	select {
	case <-m.exited:
		return nil
	default:
	}
	_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-m.exited:
		return nil
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		<-m.exited
		return errors.New("did not stop within 10s; killed")
	}
}

// waitHTTP waits until url answers 200, the manager exits, or the timeout passes. It asks
// every 100 ms: nothing announces that a listener is up.
func (s *Stack) waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last := errors.New("no answer yet")
	for {
		if last = get200(ctx, url); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("GET %s within %s: %w", url, timeout, last)
		case <-s.Manager.exited:
			return s.ManagerExited()
		case <-tick.C:
		}
	}
}

func get200(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// ManagerExited explains an unexpected exit with the end of the manager's log.
func (s *Stack) ManagerExited() error {
	log, _ := os.ReadFile(s.ManagerLog())
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return fmt.Errorf("the manager exited (%v); the end of %s:\n%s", s.Manager.err, s.Rel(s.ManagerLog()), strings.Join(lines, "\n"))
}

// WatchManager returns a context that ends, with the manager's log as its cause, when the
// manager exits: from then on every wait ends at once instead of timing out.
func (s *Stack) WatchManager(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	go func() {
		select {
		case <-s.Manager.exited:
			cancel(s.ManagerExited())
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(nil) }
}
