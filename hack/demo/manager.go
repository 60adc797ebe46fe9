package main

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

// manager is the running manager binary.
type manager struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited; err is set then
	err    error
}

// buildManager builds the real binary, so the demo runs what a release would run.
func (s *stack) buildManager(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", s.o.inRoot(s.o.managerBin), "./cmd")
	cmd.Dir = s.o.root
	cmd.Stdout, cmd.Stderr = s.o.out, s.o.out
	return cmd.Run()
}

// startManager runs the manager against the demo's API server with the demo's
// configuration, its output in the state directory, and waits until it is ready.
func (s *stack) startManager(ctx context.Context) error {
	log, err := os.Create(s.managerLog())
	if err != nil {
		return err
	}
	defer log.Close() // the child has its own descriptor
	cmd := exec.Command(s.o.inRoot(s.o.managerBin), "--config", s.config,
		"--metrics-bind-address", s.o.metrics, "--health-probe-bind-address", s.o.probe)
	cmd.Dir = s.o.root
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.kubeconfig)
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group, so Ctrl-C reaches the demo only and the demo stops the manager
	// in order; killed with the demo if the demo itself dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	m := &manager{cmd: cmd, exited: make(chan struct{})}
	go func() {
		m.err = cmd.Wait()
		close(m.exited)
	}()
	s.manager = m
	s.onStop("manager", m.stop)

	if err := s.waitHTTP(ctx, "http://"+s.o.probe+"/readyz", time.Minute); err != nil {
		return fmt.Errorf("the manager is not ready: %w", err)
	}
	s.say("  ready; log %s", s.rel(s.managerLog()))
	// The page starts with the manager, so a short wait tells whether this manager has it.
	if err := s.waitHTTP(ctx, "http://"+s.set.Web.Listen+"/healthz", 10*time.Second); err != nil {
		if s.o.check {
			return fmt.Errorf("the manager does not serve the invitation page on %s: %w", s.set.Web.Listen, err)
		}
		s.say("  WARNING: the manager does not serve the invitation page on %s (%v): the link in the mail will not open", s.set.Web.Listen, err)
		return nil
	}
	s.pageUp = true
	s.say("  invitation page %s", s.set.Web.PublicURL)
	return nil
}

// stop asks the manager to stop (SIGTERM, as Kubernetes does) and kills it after 10 seconds.
func (m *manager) stop() error {
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
func (s *stack) waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
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
		case <-s.manager.exited:
			return s.managerExited()
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

// managerExited explains an unexpected exit with the end of the manager's log.
func (s *stack) managerExited() error {
	log, _ := os.ReadFile(s.managerLog())
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return fmt.Errorf("the manager exited (%v); the end of %s:\n%s", s.manager.err, s.rel(s.managerLog()), strings.Join(lines, "\n"))
}
