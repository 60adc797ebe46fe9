package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	meta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/mail/devmail"
)

// The demo follows one member of config/samples: the physician of the README's examples.
const (
	namespace  = "riverside-family-health"
	memberName = "ana-ruiz"
	// demoPassword passes the page's rules: 15+ characters, not common, and without the
	// email's local part (ana.ruiz).
	demoPassword = "violet tram harbor ninety"
)

// invitation is what the person needs to go on once the member is invited.
type invitation struct {
	email string
	dn    string // the account, from status.accountID
	link  string // the link from the mail
	mailN int    // the mail's number in the catcher
	phase staffv1alpha1.StaffMemberPhase
}

// waitForInvitation waits until the member is Invited, its invitation mail has arrived and
// the Invitation is Sent. The mail comes before Sent (the controller records Sent once the
// server accepted the mail), and the page opens the link only once it is Sent.
func (s *demo) waitForInvitation(ctx context.Context) (invitation, error) {
	s.Say("• wait until %s is Invited and her invitation mail has arrived", memberName)
	m, err := s.waitMember(ctx, 2*time.Minute, "Invited", func(m *staffv1alpha1.StaffMember) bool {
		return m.Status.Phase == staffv1alpha1.StaffMemberInvited && m.Status.AccountID != "" && m.Status.Invitation != ""
	})
	if err != nil {
		return invitation{}, err
	}
	mctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	mail, err := s.Mail.WaitFor(mctx, func(x devmail.Mail) bool {
		return sentTo(x, m.Spec.Email) && inviteLink(x) != ""
	})
	if err != nil {
		if ctx.Err() != nil {
			return invitation{}, context.Cause(ctx)
		}
		return invitation{}, fmt.Errorf("no invitation mail to %s within a minute (see %s): %w", m.Spec.Email, s.Rel(s.ManagerLog()), err)
	}
	err = s.wait(ctx, time.Minute, &staffv1alpha1.InvitationList{}, m.Status.Invitation, "Sent", func(o client.Object) bool {
		return o.(*staffv1alpha1.Invitation).Status.Phase == staffv1alpha1.InvitationSent
	})
	if err != nil {
		return invitation{}, err
	}
	return invitation{email: m.Spec.Email, dn: m.Status.AccountID, link: inviteLink(mail), mailN: mail.N, phase: m.Status.Phase}, nil
}

func sentTo(m devmail.Mail, email string) bool {
	for _, to := range m.To {
		if strings.EqualFold(to, email) {
			return true
		}
	}
	return false
}

func inviteLink(m devmail.Mail) string {
	for _, l := range m.Links {
		if strings.Contains(l, "/invite/") {
			return l
		}
	}
	return ""
}

// waitMember waits until done holds for the member, and returns it.
func (s *demo) waitMember(ctx context.Context, timeout time.Duration, want string, done func(*staffv1alpha1.StaffMember) bool) (*staffv1alpha1.StaffMember, error) {
	var m *staffv1alpha1.StaffMember
	err := s.wait(ctx, timeout, &staffv1alpha1.StaffMemberList{}, memberName, want, func(o client.Object) bool {
		m = o.(*staffv1alpha1.StaffMember)
		return done(m)
	})
	return m, err
}

// wait waits until done holds for the named object of the list's kind in the sample
// namespace, and says where it got stuck if it does not within timeout.
func (s *demo) wait(ctx context.Context, timeout time.Duration, list client.ObjectList, name, want string, done func(client.Object) bool) error {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last client.Object
	err := s.watch(wctx, list, name, func(o client.Object) bool {
		last = o
		return done(o)
	})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return context.Cause(ctx)
	case wctx.Err() != nil:
		return fmt.Errorf("%s did not become %s within %s: %s (see %s)", name, want, timeout, describe(last), s.Rel(s.ManagerLog()))
	default:
		return err
	}
}

// describe says where an object stands: its phase and, unless it is ready, why not.
func describe(o client.Object) string {
	var phase string
	var conds []metav1.Condition
	switch o := o.(type) {
	case *staffv1alpha1.StaffMember:
		phase, conds = string(o.Status.Phase), o.Status.Conditions
	case *staffv1alpha1.Invitation:
		phase, conds = string(o.Status.Phase), o.Status.Conditions
	default:
		return "it does not exist"
	}
	text := fmt.Sprintf("phase %q", phase)
	if c := meta.FindStatusCondition(conds, "Ready"); c != nil && c.Status != metav1.ConditionTrue {
		text += fmt.Sprintf(", Ready=%s %s: %s", c.Status, c.Reason, c.Message)
	}
	return text
}

// watch calls fn with every version of the named object, the current one first, until fn
// returns true or ctx ends. It watches rather than polls: the API server says when the
// object changes.
func (s *demo) watch(ctx context.Context, list client.ObjectList, name string, fn func(client.Object) bool) error {
	for {
		w, err := s.K8s.Watch(ctx, list, client.InNamespace(namespace), client.MatchingFields{"metadata.name": name})
		if err != nil {
			return err
		}
		done, err := drain(ctx, w, fn)
		w.Stop()
		if done || err != nil {
			return err
		}
		// The API server ends every watch after a while; the next one starts with the
		// current state again.
	}
}

func drain(ctx context.Context, w watch.Interface, fn func(client.Object) bool) (bool, error) {
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return false, nil
			}
			if ev.Type == watch.Error {
				return false, apierrors.FromObject(ev.Object)
			}
			if o, isObject := ev.Object.(client.Object); isObject && fn(o) {
				return true, nil
			}
		}
	}
}

// The commands a person runs, as argument lists: the guide prints them and the check runs
// them, so what is printed is what is tested.

func getStaffCommand() []string { return []string{kubectl, "get", "staff", "-n", namespace} }

func getMemberCommand() []string { return []string{kubectl, "get", "sm", memberName, "-n", namespace} }

func deactivateCommand() []string {
	patch := fmt.Sprintf(`{"spec":{"accountState":%q}}`, staffv1alpha1.AccountStateDeactivated)
	return []string{kubectl, "patch", "sm", memberName, "-n", namespace, "--type", "merge", "-p", patch}
}

// whoamiCommand binds as dn with a simple bind; the person adds -W (ask for the password),
// the check -w PASSWORD.
func whoamiCommand(ldapURL, dn string) []string {
	return []string{"ldapwhoami", "-x", "-H", ldapURL, "-D", dn}
}

// shellLine renders argv for a POSIX shell, quoting what needs it.
func shellLine(argv []string) string {
	words := make([]string, len(argv))
	for i, a := range argv {
		words[i] = shellQuote(a)
	}
	return strings.Join(words, " ")
}

func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+:./_-", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
