package ldap_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/directory/ldap"
	"github.com/rosterops/staff-operator/internal/directory/ldaptest"
)

func TestConnectionsValidated(t *testing.T) {
	for _, tc := range []struct {
		name        string
		reason      string
		connections int
		wantErr     bool
	}{
		{name: "zero", reason: "0 means the default", connections: 0},
		{name: "one", reason: "a single connection pages one search at a time", connections: 1},
		{name: "most", reason: "32 is the largest pool", connections: 32},
		{name: "negative", reason: "a pool cannot be negative", connections: -1, wantErr: true},
		{name: "too many", reason: "more than 32 is refused", connections: 33, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ldap.New(ldap.Config{URL: "ldap://127.0.0.1:1", BaseDN: "dc=example,dc=test", Connections: tc.connections})
			if tc.wantErr != (err != nil) {
				t.Fatalf("%s: New with %d connections: error %v, want error %v", tc.reason, tc.connections, err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("connections %d: must be between 1 and 32", tc.connections)) {
				t.Fatalf("%s: error %q does not say what is allowed", tc.reason, err)
			}
		})
	}
}

// Connections are dialled on first use, each once, however many requests pass: every dial
// binds as the service account, so Binds counts them.
func TestPoolDialsLazily(t *testing.T) {
	s := ldaptest.New(t)
	ctx := context.Background()
	for _, tc := range []struct {
		connections int
		wantBinds   int64
	}{
		{connections: 0, wantBinds: 4}, // the default
		{connections: 1, wantBinds: 1},
		{connections: 3, wantBinds: 3},
	} {
		t.Run(fmt.Sprint(tc.connections), func(t *testing.T) {
			c := newClient(t, s, func(cfg *ldap.Config) { cfg.Connections = tc.connections })
			if got := c.Stats().Binds; got != 0 {
				t.Fatalf("New dialled: %d binds", got)
			}
			ok(t, c.Ping(ctx))
			if got := c.Stats().Binds; got != 1 {
				t.Fatalf("one request: %d binds, want 1", got)
			}
			for range 20 {
				ok(t, c.Ping(ctx))
			}
			if got := c.Stats().Binds; got != tc.wantBinds {
				t.Fatalf("21 requests: %d binds, want %d", got, tc.wantBinds)
			}
		})
	}
}

// The pool lets plain requests share a connection with a paged search. That rests on this
// behaviour of slapd, checked here on one raw connection: plain requests of every kind the
// backend sends, between the pages of a paged search, leave its paging state alone; a second
// paged search does not.
func TestPlainRequestsBetweenPages(t *testing.T) {
	s := ldaptest.New(t)
	conn := admin(t, s)
	people := "ou=people,ou=clinic-pages," + s.BaseDN
	addOU(t, conn, "ou=clinic-pages,"+s.BaseDN, people)
	const n = 20
	for i := range n {
		addPerson(t, conn, fmt.Sprintf("uid=u-%02d,%s", i, people), fmt.Sprintf("u-%02d@clinic-pages.example.test", i), "a password of theirs")
	}
	svc, err := s.DialAs(s.ServiceDN, s.ServicePassword)
	ok(t, err)
	defer svc.Close()
	list := func() *goldap.SearchRequest {
		return goldap.NewSearchRequest(people, goldap.ScopeSingleLevel, goldap.NeverDerefAliases, 0, 0, false, "(objectClass=inetOrgPerson)", []string{"uid"}, nil)
	}

	seen := 0
	err = pages(svc, list(), 3, func(page int, entries int) error {
		seen += entries
		return plainRequests(svc, s.BaseDN, people, page)
	})
	ok(t, err)
	if seen != n {
		t.Fatalf("paged search with plain requests between pages saw %d entries, want %d", seen, n)
	}

	err = pages(svc, list(), 3, func(int, int) error {
		_, err := svc.SearchWithPaging(list(), 3)
		return err
	})
	if !goldap.IsErrorWithCode(err, goldap.LDAPResultProtocolError) {
		t.Fatalf("paged search with another paged search between pages: %v, want slapd's invalid cookie", err)
	}
}

// pages runs req in pages of size by hand, calling between after each page but the last.
func pages(conn *goldap.Conn, req *goldap.SearchRequest, size uint32, between func(page, entries int) error) error {
	paging := goldap.NewControlPaging(size)
	req.Controls = []goldap.Control{paging}
	for page := 0; ; page++ {
		res, err := conn.Search(req)
		if err != nil {
			return fmt.Errorf("page %d: %w", page, err)
		}
		ctrl, _ := goldap.FindControl(res.Controls, goldap.ControlTypePaging).(*goldap.ControlPaging)
		if ctrl == nil || len(ctrl.Cookie) == 0 {
			return between(page, len(res.Entries))
		}
		if err := between(page, len(res.Entries)); err != nil {
			return err
		}
		paging.SetCookie(ctrl.Cookie)
	}
}

// plainRequests sends one request of every kind the backend sends, other than a paged search.
func plainRequests(conn *goldap.Conn, base, people string, page int) error {
	person := fmt.Sprintf("uid=u-%02d,%s", page, people)
	if _, err := conn.Search(goldap.NewSearchRequest(people, goldap.ScopeSingleLevel, goldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"uid"}, nil)); err != nil {
		return fmt.Errorf("search: %w", err)
	}
	mod := goldap.NewModifyRequest(person, nil)
	mod.Replace("title", []string{fmt.Sprint("page ", page)})
	if err := conn.Modify(mod); err != nil {
		return fmt.Errorf("modify: %w", err)
	}
	if _, err := conn.PasswordModify(goldap.NewPasswordModifyRequest(person, "", "another password of theirs")); err != nil {
		return fmt.Errorf("password modify: %w", err)
	}
	dn := fmt.Sprintf("uid=extra-%d,ou=clinic-pages,%s", page, base)
	add := goldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", []string{"inetOrgPerson"})
	add.Attribute("uid", []string{fmt.Sprint("extra-", page)})
	add.Attribute("cn", []string{"extra"})
	add.Attribute("sn", []string{"extra"})
	if err := conn.Add(add); err != nil {
		return fmt.Errorf("add: %w", err)
	}
	if err := conn.ModifyDN(goldap.NewModifyDNRequest(dn, fmt.Sprint("uid=renamed-", page), true, "")); err != nil {
		return fmt.Errorf("modifyDN: %w", err)
	}
	if err := conn.Del(goldap.NewDelRequest(fmt.Sprintf("uid=renamed-%d,ou=clinic-pages,%s", page, base), nil)); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	return nil
}

// A paged search has a connection's paging to itself: with one connection a second paged
// search waits for the first (plain requests do not), with two both run at once. The first
// is held mid-way, connection and all, by blocking in the Observer, which runs on the
// caller's goroutine before the request gives its connection back: no timing is involved.
func TestPagedSearchesRunInParallel(t *testing.T) {
	s := ldaptest.New(t)
	ctx := context.Background()
	const n = 30
	seed := newClient(t, s)
	for i := range n {
		ok(t, seed.CreateAccount(ctx, account("clinic-parallel", fmt.Sprintf("p-%02d", i))))
	}
	for _, tc := range []struct {
		connections int
		parallel    bool
		// wait bounds the second listing: long when it must succeed, short when it must wait.
		wait time.Duration
	}{
		{connections: 1, parallel: false, wait: time.Second},
		{connections: 2, parallel: true, wait: 10 * time.Second},
	} {
		t.Run(fmt.Sprint(tc.connections), func(t *testing.T) {
			var armed atomic.Bool
			held, release := make(chan struct{}), make(chan struct{})
			releaseOnce := sync.OnceFunc(func() { close(release) })
			t.Cleanup(releaseOnce) // never leave the first listing blocked
			c := newClient(t, s, func(cfg *ldap.Config) {
				cfg.Connections, cfg.PageSize = tc.connections, 5
				cfg.Observer = func(op string, err error, d time.Duration) {
					if op == "search" && armed.CompareAndSwap(true, false) {
						close(held)
						<-release
					}
				}
			})
			listing := func(ctx context.Context) error {
				inv, err := c.ListManaged(ctx)
				if err == nil && len(inv.Accounts) != n {
					err = fmt.Errorf("listed %d accounts, want %d", len(inv.Accounts), n)
				}
				return err
			}

			armed.Store(true)
			first := make(chan error, 1)
			go func() { first <- listing(ctx) }() // its first request is the paged search
			<-held

			// Plain requests share the held connection.
			mustObserve(t, c, account("clinic-parallel", "p-00"))
			waitCtx, cancel := context.WithTimeout(ctx, tc.wait)
			defer cancel()
			err := listing(waitCtx)
			switch {
			case tc.parallel && err != nil:
				t.Errorf("second listing while the first holds a connection: %v", err)
			case !tc.parallel && !(errors.Is(err, directory.ErrUnavailable) && errors.Is(err, context.DeadlineExceeded)):
				t.Errorf("second listing on the connection the first pages on: %v, want it to wait", err)
			}
			releaseOnce()
			ok(t, <-first)
			if got := c.Stats().Binds; got != int64(tc.connections) {
				t.Errorf("%d binds, want one per connection (%d)", got, tc.connections)
			}
		})
	}
}
