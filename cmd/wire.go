package main

import (
	"context"
	"fmt"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/rosterops/staff-operator/controllers"
	"github.com/rosterops/staff-operator/internal/config"
	"github.com/rosterops/staff-operator/internal/directory/ldap"
	"github.com/rosterops/staff-operator/internal/linktoken"
	"github.com/rosterops/staff-operator/internal/mail"
	"github.com/rosterops/staff-operator/internal/mail/smtp"
	"github.com/rosterops/staff-operator/internal/metrics"
	"github.com/rosterops/staff-operator/internal/web"
	"github.com/rosterops/staff-operator/internal/web/invitationstore"
)

// reconcilerOptions builds the directory client, the mail sender and the templates from the
// configuration. Everything that can be wrong with them is found here, at startup: a template
// that does not parse stops the manager instead of failing the first invitation.
func reconcilerOptions(cfg *config.Config) (controllers.Options, error) {
	l := cfg.Directory.LDAP
	dir, err := ldap.New(ldap.Config{
		URL: l.URL, StartTLS: l.StartTLS, CAFile: l.CAFile,
		// The file, not the value read at startup: the client reads it again on every
		// reconnect, so a rotated password is picked up without a restart.
		BindDN: l.BindDN, BindPasswordFile: l.BindPasswordFile, BaseDN: l.BaseDN,
		AdoptExisting: l.AdoptExisting, PolicyDN: l.PolicyDN, Connections: l.Connections,
		DialTimeout: l.Timeout.Duration, RequestTimeout: l.Timeout.Duration,
		Observer: metrics.ObserveDirectoryOperation,
	})
	if err != nil {
		return controllers.Options{}, fmt.Errorf("directory.ldap: %w", err)
	}
	s := cfg.Mail.SMTP
	sender, err := smtp.New(smtp.Config{
		Host: s.Host, Port: s.Port, TLS: smtp.TLSMode(s.TLS), CAFile: s.CAFile,
		Username: s.Username, Password: s.Password,
		ConnectTimeout: s.Timeout.Duration, SendTimeout: s.Timeout.Duration,
		MaxIdleConnections: *s.MaxIdleConnections, MaxPerSecond: s.MaxPerSecond,
	})
	if err != nil {
		return controllers.Options{}, fmt.Errorf("mail.smtp: %w", err)
	}
	templates, err := mail.LoadTemplates(cfg.Mail.TemplatesDir)
	if err != nil {
		return controllers.Options{}, fmt.Errorf("mail.templatesDir: %w", err)
	}
	from, err := mail.ParseAddress(cfg.Mail.From)
	if err != nil {
		return controllers.Options{}, fmt.Errorf("mail.from: %w", err)
	}
	tokens, err := linktoken.New(cfg.Invitations.TokenKey)
	if err != nil {
		return controllers.Options{}, fmt.Errorf("invitations.tokenKeyFile: %w", err)
	}
	return controllers.Options{
		Directory: dir, Tokens: tokens,
		Mail:                    controllers.Mailer{Sender: sender, Templates: templates, From: from, Contact: cfg.Mail.Contact},
		Clock:                   clock.RealClock{},
		PublicURL:               cfg.Web.PublicURL,
		DefaultTTL:              cfg.Invitations.DefaultTTL.Duration,
		PasswordResetTTL:        cfg.Invitations.PasswordResetTTL.Duration,
		EmailChangeNoticeWindow: cfg.Invitations.EmailChangeNoticeWindow.Duration,
		ReminderBefore:          cfg.Invitations.ReminderBefore.Duration,
		AutoResendMax:           cfg.Invitations.AutoResend.MaxResends,
		MemberWorkers:           cfg.Workers.StaffMembers,
		InvitationWorkers:       cfg.Workers.Invitations,
		GroupWorkers:            cfg.Workers.Groups,
		ResyncPeriod:            cfg.ResyncPeriod.Duration,
		RemovalGuard: &controllers.RemovalGuard{
			Entries: cfg.RemovalGuard.MaxEntries, Percent: cfg.RemovalGuard.MaxPercent, Window: cfg.RemovalGuard.Window.Duration,
		},
	}, nil
}

// invitationPage builds the invitation page's server: the handler over the controllers' Store,
// with the reconcilers' directory and clock, on web.listen, run by the manager on every replica.
func invitationPage(cfg *config.Config, mgr ctrl.Manager, reconcilers controllers.Options) (*web.Server, error) {
	log := ctrl.Log.WithName("invitation-page")
	h, err := web.NewHandler(web.Options{
		Store:             invitationstore.New(mgr, reconcilers.Directory, reconcilers.Tokens, reconcilers.Clock),
		Now:               reconcilers.Clock.Now,
		MinPasswordLength: cfg.Web.MinPasswordLength,
		SignInURL:         cfg.Web.SignInURL,
		TrustedProxies:    cfg.Web.Proxies,
		// Derived from the token key, which every replica has: a form served by one replica
		// is accepted by another.
		CSRFKey: web.CSRFKeyFrom(cfg.Invitations.TokenKey),
		Log:     log,
	})
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	return &web.Server{
		Addr: cfg.Web.Listen, Handler: h,
		TLSCertFile: cfg.Web.TLSCertFile, TLSKeyFile: cfg.Web.TLSKeyFile,
		Log: log,
	}, nil
}

// closeOnStop closes the mail sender's kept sessions (a polite QUIT) when the manager stops.
func closeOnStop(mgr ctrl.Manager, sender any) error {
	closer, ok := sender.(interface{ Close() error })
	if !ok {
		return nil
	}
	return mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		<-ctx.Done()
		return closer.Close()
	}))
}
