package ldap_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/directory/ldap"
	"github.com/rosterops/staff-operator/internal/directory/ldaptest"
)

// slapd stopped mid-way: ErrUnavailable, no panic; started again: the next call works
// with the same client, on every connection of its pool.
func TestServerRestart(t *testing.T) {
	s := ldaptest.New(t)
	var mu sync.Mutex
	ops := map[string]int{}
	const connections = 4
	c := newClient(t, s, func(cfg *ldap.Config) {
		cfg.Connections = connections
		cfg.Observer = func(op string, err error, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			ops[op]++
		}
	})
	ctx := context.Background()
	a := account("clinic-i", "rita")
	ok(t, c.CreateAccount(ctx, a))

	ok(t, s.Stop())
	_, err := c.ObserveAccount(ctx, a)
	wantErr(t, err, directory.ErrUnavailable)
	err = c.CreateAccount(ctx, account("clinic-i", "sam"))
	wantErr(t, err, directory.ErrUnavailable)
	_, err = c.LockAccount(ctx, a.Key)
	wantErr(t, err, directory.ErrUnavailable)
	_, err = c.ListManaged(ctx)
	wantErr(t, err, directory.ErrUnavailable)

	ok(t, s.Start())
	if o := mustObserve(t, c, a); !o.Exists {
		t.Fatal("account gone after restart")
	}
	// A restart between two calls, with no failed call in between, while every connection of
	// the pool is open: each is dialled again, once, on its next use, and no call fails.
	// Plain requests take turns round the pool, so a round of pings uses each connection once.
	pingRound := func() {
		t.Helper()
		for range connections {
			ok(t, c.Ping(ctx))
		}
	}
	pingRound()
	binds := c.Stats().Binds
	ok(t, s.Stop())
	ok(t, s.Start())
	pingRound()
	if got := c.Stats().Binds - binds; got != connections {
		t.Fatalf("%d connections dialled again after the restart, want %d", got, connections)
	}
	// Paged searches, on whichever connection is free for paging, work too.
	ok(t, s.Stop())
	ok(t, s.Start())
	for range connections {
		_, err := c.ListManaged(ctx)
		ok(t, err)
	}
	_, err = c.LockAccount(ctx, a.Key)
	ok(t, err)
	mu.Lock()
	defer mu.Unlock()
	if ops["bind"] < 2 || ops["search"] == 0 || ops["modify"] == 0 {
		t.Fatalf("observer saw %v", ops)
	}
}

func TestTLS(t *testing.T) {
	s := ldaptest.New(t, ldaptest.Options{TLS: true})
	ctx := context.Background()
	for name, mutate := range map[string]func(*ldap.Config){
		"ldaps":    func(c *ldap.Config) { c.URL, c.CAFile = s.LDAPSURL, s.CAFile },
		"startTLS": func(c *ldap.Config) { c.StartTLS, c.CAFile = true, s.CAFile },
	} {
		c := newClient(t, s, mutate)
		if err := c.Ping(ctx); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if err := c.CreateAccount(ctx, account("clinic-j", name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Without the CA the server is not trusted.
	c := newClient(t, s, func(c *ldap.Config) { c.URL = s.LDAPSURL })
	if err := c.Ping(ctx); err == nil {
		t.Fatal("ldaps without the CA worked")
	}
	_, err := ldap.New(ldap.Config{URL: s.LDAPSURL, BaseDN: s.BaseDN, CAFile: filepath.Join(t.TempDir(), "missing.pem")})
	if err == nil {
		t.Fatal("missing CA file accepted")
	}
}

func TestBadCredentials(t *testing.T) {
	s := ldaptest.New(t)
	pw := filepath.Join(t.TempDir(), "pw")
	ok(t, os.WriteFile(pw, []byte("wrong\n"), 0o600))
	c := newClient(t, s, func(c *ldap.Config) { c.BindPasswordFile = pw })
	wantErr(t, c.Ping(context.Background()), directory.ErrAccessDenied)
	// The file is read again at the next connect: a fixed secret is picked up.
	ok(t, os.WriteFile(pw, []byte(s.ServicePassword+"\n"), 0o600))
	ok(t, c.Ping(context.Background()))
}
