package ldap_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/rosterops/staff-operator/internal/directory/ldaptest"
)

// BenchmarkCreateAccount creates b.N accounts against the real slapd (one search for
// conflicts and one add each).
func BenchmarkCreateAccount(b *testing.B) {
	s := ldaptest.New(b)
	c := newClient(b, s)
	ctx := context.Background()
	if err := c.CreateAccount(ctx, account("bench", "warmup")); err != nil { // containers
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		if err := c.CreateAccount(ctx, account("bench", fmt.Sprintf("user-%d", i))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "accounts/s")
}

// BenchmarkEnsureUnchanged re-ensures an unchanged account the way a controller does on
// every resync (observe; update only when not up to date) and reports the writes per ensure,
// which must be 0.
func BenchmarkEnsureUnchanged(b *testing.B) {
	s := ldaptest.New(b)
	c := newClient(b, s)
	ctx := context.Background()
	want := account("bench", "steady")
	if err := c.CreateAccount(ctx, want); err != nil {
		b.Fatal(err)
	}
	before := c.Stats()
	b.ResetTimer()
	for range b.N {
		o, err := c.ObserveAccount(ctx, want)
		if err != nil {
			b.Fatal(err)
		}
		if !o.UpToDate {
			if _, err := c.UpdateAccount(ctx, want); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := c.UpdateAccount(ctx, want); err != nil { // and the unconditional form
			b.Fatal(err)
		}
	}
	b.StopTimer()
	writes := c.Stats().Writes() - before.Writes()
	b.ReportMetric(float64(writes)/float64(b.N), "writes/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ensures/s")
	if writes != 0 {
		b.Fatalf("%d writes re-ensuring an unchanged account", writes)
	}
}
