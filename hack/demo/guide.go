package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/mail/devmail"
)

// printGuide prints what runs where and the steps to follow, each with the exact command.
func (s *demo) printGuide(inv invitation) {
	whoami := shellLine(slices.Concat(whoamiCommand(s.Slapd.URL, inv.dn), []string{"-W"}))
	local := strings.SplitN(inv.email, "@", 2)[0]
	lines := []string{
		"",
		"The demo is running. Everything listens on 127.0.0.1 only:",
		fmt.Sprintf("  kube-apiserver  %s (kubeconfig %s)", s.Env.Config.Host, s.Rel(s.Kubeconfig)),
		fmt.Sprintf("  slapd           %s (service account %s, password in %s)", s.Slapd.URL, s.Slapd.ServiceDN, s.Set.Directory.LDAP.BindPasswordFile),
		fmt.Sprintf("  mail catcher    SMTP %s, web view %s", s.Mail.SMTPAddr(), s.Mail.WebURL()),
		fmt.Sprintf("  manager         invitation page %s, metrics %s, probes %s, log %s", s.Set.Web.PublicURL, s.O.Metrics, s.O.Probe, s.Rel(s.ManagerLog())),
		"",
		"Follow these steps in another terminal. This one reports each step as it happens;",
		"Ctrl-C here stops everything.",
		"",
		fmt.Sprintf("1. See the staff of the sample practice. %s is Invited: her account exists in the", memberName),
		"   directory and her invitation mail is out.",
		"     cd " + shellQuote(s.O.Root),
		"     export KUBECONFIG=" + shellQuote(s.Kubeconfig),
		"     " + shellLine(getStaffCommand()),
		"",
		fmt.Sprintf("2. Read her invitation mail: %smail/%d (all mails: %s)", s.Mail.WebURL(), inv.mailN, s.Mail.WebURL()),
		"   Its link:",
		"     " + inv.link,
		"",
		"3. Open the link in a browser and choose a password: 15 characters or more,",
		fmt.Sprintf("   not containing %q, for example:", local),
		"     " + demoPassword,
		fmt.Sprintf("   (Browser on another machine? Forward the ports: ssh -L %s:%s -L %s:%s THIS-HOST)",
			port(s.O.MailWeb), s.O.MailWeb, port(s.Set.Web.Listen), s.Set.Web.Listen),
		"",
		"4. Sign in to the directory with that password (ldapwhoami asks for it):",
		"     " + whoami,
		"   It answers dn:" + inv.dn,
		"",
		"5. Deactivate her, as an offboarding pipeline would, and see the phase change:",
		"     " + shellLine(deactivateCommand()),
		"     " + shellLine(getMemberCommand()),
		"",
		"6. Sign in again with the same password. It fails now: ldap_bind: Invalid credentials (49)",
		"     " + whoami,
		"",
	}
	if !s.PageUp {
		lines = append(lines, "WARNING: this manager does not serve the invitation page yet, so step 3 cannot work.", "")
	}
	s.Say("%s", strings.Join(lines, "\n"))
}

func port(hostPort string) string {
	_, p, _ := strings.Cut(hostPort, ":")
	return p
}

// narrate reports the member's phase changes and new mails until ctx ends or a part fails.
func (s *demo) narrate(ctx context.Context, inv invitation) error {
	errc := make(chan error, 2)
	go func() { errc <- s.watch(ctx, &staffv1alpha1.StaffMemberList{}, memberName, s.phaseReporter(inv.phase)) }()
	go func() { errc <- s.reportMails(ctx, len(s.Mail.Mails())) }()
	s.Say("[%s] waiting for you; %s is %s", clock(), memberName, inv.phase)
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case err := <-errc:
		return err
	case err := <-s.Mail.Failed():
		return fmt.Errorf("the mail catcher's web view stopped: %w", err)
	}
}

// phaseHints say what a person can do next once the member reaches a phase.
var phaseHints = map[staffv1alpha1.StaffMemberPhase]string{
	staffv1alpha1.StaffMemberActive:      ": she set her password, so step 4 signs in now",
	staffv1alpha1.StaffMemberDeactivated: ": her account is locked and her invitation revoked, so step 6 fails now",
}

func (s *demo) phaseReporter(phase staffv1alpha1.StaffMemberPhase) func(client.Object) bool {
	return func(o client.Object) bool {
		m := o.(*staffv1alpha1.StaffMember)
		if m.Status.Phase != phase {
			s.Say("[%s] %s is %s (was %s)%s", clock(), memberName, m.Status.Phase, phase, phaseHints[m.Status.Phase])
			phase = m.Status.Phase
		}
		return false
	}
}

// reportMails announces every mail after the first seen ones.
func (s *demo) reportMails(ctx context.Context, seen int) error {
	for {
		m, err := s.Mail.WaitFor(ctx, func(m devmail.Mail) bool { return m.N > seen })
		if err != nil {
			return err
		}
		s.Say("[%s] mail to %s: %q (%smail/%d)", clock(), strings.Join(m.To, ", "), m.Subject, s.Mail.WebURL(), m.N)
		seen = m.N
	}
}

func clock() string { return time.Now().Format("15:04:05") }
