package main

import (
	"context"
	"fmt"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// floorOU holds T_ldap's entries, beside the practices: ou=floor,<base>. The manager never
// reads them: they carry no marker of the operator's.
const floorOU = "floor"

// loadFloor measures T_ldap, the least time the directory needs for N accounts: N adds of
// inetOrgPerson entries shaped like the operator's accounts, one after another on one
// connection bound as the operator's service account, under the production access control.
// It runs before the manager starts, so nothing else uses slapd meanwhile.
func (b *bench) loadFloor(ctx context.Context) error {
	conn, err := b.Slapd.DialAs(b.Slapd.ServiceDN, b.Slapd.ServicePassword)
	if err != nil {
		return fmt.Errorf("bind as %s: %w", b.Slapd.ServiceDN, err)
	}
	defer conn.Close()
	base := fmt.Sprintf("ou=%s,%s", floorOU, b.Set.Directory.LDAP.BaseDN)
	ou := goldap.NewAddRequest(base, nil)
	ou.Attribute("objectClass", []string{"organizationalUnit"})
	ou.Attribute("ou", []string{floorOU})
	if err := conn.Add(ou); err != nil {
		return fmt.Errorf("add %s: %w", base, err)
	}
	start := time.Now()
	for i := range b.o.n {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := memberName(i)
		req := goldap.NewAddRequest(fmt.Sprintf("uid=%s,%s", name, base), nil)
		req.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "inetOrgPerson"})
		req.Attribute("uid", []string{name})
		req.Attribute("cn", []string{"Member " + name})
		req.Attribute("sn", []string{name})
		req.Attribute("givenName", []string{"Member"})
		req.Attribute("mail", []string{fmt.Sprintf("%s@floor.example.test", name)})
		req.Attribute("title", []string{"Medical Assistant"})
		req.Attribute("employeeNumber", []string{fmt.Sprintf("F-%05d", i)})
		req.Attribute("businessCategory", []string{"bench/floor"})
		if err := conn.Add(req); err != nil {
			return fmt.Errorf("add %s: %w", req.DN, err)
		}
	}
	b.res.tLDAP = time.Since(start)
	b.Say("  %d entries in %s (%.0f/s)", b.o.n, seconds(b.res.tLDAP), float64(b.o.n)/b.res.tLDAP.Seconds())
	return nil
}

// applyFloor measures T_apply, the least time the API server needs for N members: the burst's
// manifests, server-side applied with the burst's concurrency into a practice of their own,
// before the manager starts, so that nothing else uses the API server meanwhile. They are
// deleted again (untimed) before the manager starts, so it never sees them.
func (b *bench) applyFloor(ctx context.Context) error {
	if err := createPractice(ctx, b.k8s, applyNS); err != nil {
		return err
	}
	start := time.Now()
	if err := applyMembers(ctx, b.k8s, applyNS, b.o.n, b.o.workers); err != nil {
		return err
	}
	b.res.tApply = time.Since(start)
	b.Say("  %d members in %s (%.0f/s); deleting them again", b.o.n, seconds(b.res.tApply), float64(b.o.n)/b.res.tApply.Seconds())
	return deleteMembers(ctx, b.k8s, applyNS, b.o.n, b.o.workers)
}
