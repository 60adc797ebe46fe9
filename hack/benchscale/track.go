package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/mail/devmail"
)

// phases follows the phase of every StaffMember of one namespace through a watch, and
// records when each member first reached each phase: the API server says when an object
// changes, so a watch sees a change within milliseconds, with no polling.
type phases struct {
	mu    sync.Mutex
	now   map[string]staffv1alpha1.StaffMemberPhase
	count map[staffv1alpha1.StaffMemberPhase]int
	first map[staffv1alpha1.StaffMemberPhase]map[string]time.Time
	// all records when count[phase] first reached want[phase].
	want map[staffv1alpha1.StaffMemberPhase]int
	all  map[staffv1alpha1.StaffMemberPhase]time.Time
	changes
}

func newPhases() *phases {
	return &phases{
		now:     map[string]staffv1alpha1.StaffMemberPhase{},
		count:   map[staffv1alpha1.StaffMemberPhase]int{},
		first:   map[staffv1alpha1.StaffMemberPhase]map[string]time.Time{},
		want:    map[staffv1alpha1.StaffMemberPhase]int{},
		all:     map[staffv1alpha1.StaffMemberPhase]time.Time{},
		changes: newChanges(),
	}
}

// expect asks phases to record when n members are in phase at once.
func (p *phases) expect(phase staffv1alpha1.StaffMemberPhase, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.want[phase] = n
}

func (p *phases) set(name string, phase staffv1alpha1.StaffMemberPhase, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old, known := p.now[name]
	if known && old == phase {
		return
	}
	if known {
		p.count[old]--
	}
	if phase == "" {
		delete(p.now, name)
	} else {
		p.now[name] = phase
		p.count[phase]++
		if p.first[phase] == nil {
			p.first[phase] = map[string]time.Time{}
		}
		if _, ok := p.first[phase][name]; !ok {
			p.first[phase][name] = at
		}
		if w := p.want[phase]; w > 0 && p.count[phase] >= w && p.all[phase].IsZero() {
			p.all[phase] = at
		}
	}
	p.notify()
}

// in returns how many members are in phase now.
func (p *phases) in(phase staffv1alpha1.StaffMemberPhase) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count[phase]
}

// reached returns when the number expected in phase was first reached.
func (p *phases) reached(phase staffv1alpha1.StaffMemberPhase) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.all[phase]
	return t, !t.IsZero()
}

// firstIn returns when name first reached phase.
func (p *phases) firstIn(phase staffv1alpha1.StaffMemberPhase, name string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.first[phase][name]
	return t, ok
}

// summary says how many members are in each phase.
func (p *phases) summary() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var parts []string
	for ph, n := range p.count {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, ph))
		}
	}
	if len(parts) == 0 {
		return "no members"
	}
	return strings.Join(parts, ", ")
}

// waitFor waits until done holds or ctx ends.
func (p *phases) waitFor(ctx context.Context, done func() bool) error {
	return p.changes.waitFor(ctx, &p.mu, done)
}

// follow watches the members of ns until ctx ends. A new watch starts with the current
// state of every member; the API server ends each watch after a while, and follow starts
// another.
func (p *phases) follow(ctx context.Context, c client.WithWatch, ns string) error {
	for ctx.Err() == nil {
		w, err := c.Watch(ctx, &staffv1alpha1.StaffMemberList{}, client.InNamespace(ns))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watch the members of %s: %w", ns, err)
		}
		err = p.drain(ctx, w)
		w.Stop()
		if err != nil {
			return fmt.Errorf("watch the members of %s: %w", ns, err)
		}
	}
	return nil
}

func (p *phases) drain(ctx context.Context, w watch.Interface) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil
			}
			at := time.Now()
			switch ev.Type {
			case watch.Error:
				if err := apierrors.FromObject(ev.Object); !apierrors.IsGone(err) && !apierrors.IsResourceExpired(err) {
					return err
				}
				return nil
			case watch.Deleted:
				if m, ok := ev.Object.(*staffv1alpha1.StaffMember); ok {
					p.set(m.Name, "", at)
				}
			case watch.Added, watch.Modified:
				if m, ok := ev.Object.(*staffv1alpha1.StaffMember); ok {
					p.set(m.Name, m.Status.Phase, at)
				}
			}
		}
	}
}

// mails counts the invitation mails the catcher received, by practice (the recipient's
// domain), and records when the number expected of a practice first arrived. It counts
// every mail once and distinct recipients apart, so a mail sent twice shows.
type mails struct {
	mu     sync.Mutex
	total  map[string]int
	unique map[string]map[string]bool
	want   map[string]int
	all    map[string]time.Time
	changes
}

func newMails() *mails {
	return &mails{total: map[string]int{}, unique: map[string]map[string]bool{}, want: map[string]int{},
		all: map[string]time.Time{}, changes: newChanges()}
}

func (m *mails) expect(ns string, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.want[ns] = n
}

// follow counts every mail, oldest first, until ctx ends.
func (m *mails) follow(ctx context.Context, box *devmail.Server, practices ...string) {
	_, _ = box.WaitFor(ctx, func(x devmail.Mail) bool {
		if !isInvitation(x) {
			return false
		}
		for _, to := range x.To {
			for _, ns := range practices {
				if strings.HasSuffix(strings.ToLower(to), mailDomain(ns)) {
					m.add(ns, strings.ToLower(to), x.At)
				}
			}
		}
		return false // never done: count until ctx ends
	})
}

func isInvitation(x devmail.Mail) bool {
	for _, l := range x.Links {
		if strings.Contains(l, "/invite/") {
			return true
		}
	}
	return false
}

func (m *mails) add(ns, to string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.total[ns]++
	if m.unique[ns] == nil {
		m.unique[ns] = map[string]bool{}
	}
	m.unique[ns][to] = true
	if w := m.want[ns]; w > 0 && len(m.unique[ns]) >= w && m.all[ns].IsZero() {
		m.all[ns] = at
	}
	m.notify()
}

// counts returns the invitation mails of ns so far and their distinct recipients.
func (m *mails) counts(ns string) (total, recipients int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.total[ns], len(m.unique[ns])
}

// reached returns when the expected number of recipients of ns had their mail.
func (m *mails) reached(ns string) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.all[ns]
	return t, !t.IsZero()
}

// waitFor waits until done holds or ctx ends.
func (m *mails) waitFor(ctx context.Context, done func() bool) error {
	return m.changes.waitFor(ctx, &m.mu, done)
}

// changes lets a waiter sleep until the next change, with no polling: its channel is closed,
// and replaced, on every change. The lock of the type that embeds it guards it.
type changes struct {
	ch chan struct{}
}

func newChanges() changes { return changes{ch: make(chan struct{})} }

// notify wakes every waiter; call it with the lock held.
func (c *changes) notify() {
	close(c.ch)
	c.ch = make(chan struct{})
}

// waitFor waits until done holds or ctx ends; mu is the lock that guards c.
func (c *changes) waitFor(ctx context.Context, mu *sync.Mutex, done func() bool) error {
	for {
		mu.Lock()
		ch := c.ch
		mu.Unlock()
		if done() {
			return nil
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-ch:
		}
	}
}
