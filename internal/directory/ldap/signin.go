package ldap

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rosterops/staff-operator/internal/directory"
)

// permanentLock is the pwdAccountLockedTime value ppolicy reads as "locked until an
// administrator unlocks".
const permanentLock = "000001010000Z"

// relaxRulesOID is the Relax Rules control (draft-zeilenga-ldap-relax).
const relaxRulesOID = "1.3.6.1.4.1.4203.666.5.12"

// policyTTL bounds how long a password policy read from the server is reused.
const policyTTL = time.Minute

type passwordPolicy struct {
	maxIdle         time.Duration
	lockout         bool
	lockoutDuration time.Duration
	// known is false when no policy could be read; lock times are then taken at face value.
	known bool
}

type cachedPolicy struct {
	passwordPolicy
	read time.Time
}

// policyFor returns the password policy that governs e: its pwdPolicySubentry, else the
// configured default.
func (c *Client) policyFor(ctx context.Context, e *goldap.Entry) (passwordPolicy, error) {
	dn := e.GetEqualFoldAttributeValue("pwdPolicySubentry")
	if dn == "" {
		dn = c.cfg.PolicyDN
	}
	if dn == "" {
		return passwordPolicy{}, nil
	}
	c.policyMu.Lock()
	p, ok := c.policies[dn]
	c.policyMu.Unlock()
	if ok && time.Since(p.read) < policyTTL {
		return p.passwordPolicy, nil
	}
	entries, err := c.search(ctx, searchReq(dn, goldap.ScopeBaseObject, "(objectClass=pwdPolicy)",
		[]string{"pwdMaxIdle", "pwdLockout", "pwdLockoutDuration"}), false)
	if errors.Is(err, directory.ErrNotFound) {
		entries, err = nil, nil
	}
	if err != nil {
		return passwordPolicy{}, fmt.Errorf("read password policy %s: %w", dn, err)
	}
	var pol passwordPolicy
	if len(entries) == 1 {
		pe := entries[0]
		pol.known = true
		pol.lockout = strings.EqualFold(pe.GetEqualFoldAttributeValue("pwdLockout"), "TRUE")
		pol.maxIdle = seconds(pe.GetEqualFoldAttributeValue("pwdMaxIdle"))
		pol.lockoutDuration = seconds(pe.GetEqualFoldAttributeValue("pwdLockoutDuration"))
	}
	c.policyMu.Lock()
	c.policies[dn] = cachedPolicy{passwordPolicy: pol, read: time.Now()}
	c.policyMu.Unlock()
	return pol, nil
}

func seconds(s string) time.Duration {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// parseGeneralizedTime parses the GeneralizedTime values ppolicy writes (UTC, optional
// fraction). The zero time when absent or unparsable.
func parseGeneralizedTime(s string) time.Time {
	for _, layout := range []string{"20060102150405Z0700", "20060102150405.999999999Z0700", "200601021504Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

func (c *Client) facts(ctx context.Context, e *goldap.Entry) (directory.SignInFacts, error) {
	pol, err := c.policyFor(ctx, e)
	if err != nil {
		return directory.SignInFacts{}, err
	}
	return signInFacts(e, pol, time.Now()), nil
}

// signInFacts reads ppolicy's operational attributes the way ppolicy decides a bind:
// an administrative lock (000001010000Z) first, then a failure lockout still in effect, then
// idleness (no success, or password change, within pwdMaxIdle). The operator's own values say
// whose the administrative lock is and whether the password is one it trusts.
func signInFacts(e *goldap.Entry, pol passwordPolicy, now time.Time) directory.SignInFacts {
	f := directory.SignInFacts{
		LastSignIn:      parseGeneralizedTime(e.GetEqualFoldAttributeValue("pwdLastSuccess")),
		PasswordChanged: parseGeneralizedTime(e.GetEqualFoldAttributeValue("pwdChangedTime")),
		FailedSignIns:   len(e.GetEqualFoldAttributeValues("pwdFailureTime")),
	}
	f.PasswordUntrusted = hasFlag(e, untrustedMarker)
	f.PasswordSet = !f.PasswordChanged.IsZero() && !f.PasswordUntrusted
	if locked := e.GetEqualFoldAttributeValue("pwdAccountLockedTime"); locked != "" {
		if locked == permanentLock {
			f.Locked, f.LockReason = true, directory.LockAdministrative
			f.LockedByOperator = hasFlag(e, lockRecord)
			f.LockEnforced = pol.known && pol.lockout
			return f
		}
		t := parseGeneralizedTime(locked)
		inEffect := !pol.known || (pol.lockout && !now.Before(t) && (pol.lockoutDuration == 0 || now.Before(t.Add(pol.lockoutDuration))))
		if inEffect {
			f.Locked, f.LockReason, f.LockedSince = true, directory.LockTooManyFailures, t
			f.LockEnforced = pol.lockout
			return f
		}
	}
	if pol.lockout && pol.maxIdle > 0 {
		last := f.LastSignIn
		if last.IsZero() {
			last = f.PasswordChanged
		}
		if !last.IsZero() && now.After(last.Add(pol.maxIdle)) {
			f.Locked, f.LockReason, f.LockedSince = true, directory.LockIdle, last.Add(pol.maxIdle)
			f.LockEnforced = true
		}
	}
	return f
}

// SignInFacts implements directory.Backend.
func (c *Client) SignInFacts(ctx context.Context, key directory.AccountKey) (directory.SignInFacts, error) {
	if err := validateAccountKey(key); err != nil {
		return directory.SignInFacts{}, fmt.Errorf("sign-in facts: %w", err)
	}
	e, err := c.findAccount(ctx, key)
	if err == nil && e == nil {
		err = directory.ErrNotFound
	}
	if err != nil {
		return directory.SignInFacts{}, fmt.Errorf("sign-in facts %s: %w", key, err)
	}
	f, err := c.facts(ctx, e)
	if err != nil {
		return directory.SignInFacts{}, fmt.Errorf("sign-in facts %s: %w", key, err)
	}
	return f, nil
}

// LockAccount implements directory.Backend: pwdAccountLockedTime 000001010000Z, which
// ppolicy (with pwdLockout TRUE) treats as locked until an administrator unlocks, and the
// record that the lock is the operator's, in one modify. ppolicy's lock holds no author, and
// the operator must not lift, on reactivation, a lock that an administrator set by hand (a
// compromised account): hence its own record, and a lock found without it is left alone.
func (c *Client) LockAccount(ctx context.Context, key directory.AccountKey) (bool, error) {
	if err := validateAccountKey(key); err != nil {
		return false, fmt.Errorf("lock account: %w", err)
	}
	e, err := c.findAccount(ctx, key)
	if err == nil && e == nil {
		err = directory.ErrNotFound
	}
	if err != nil {
		return false, fmt.Errorf("lock account %s: %w", key, err)
	}
	if e.GetEqualFoldAttributeValue("pwdAccountLockedTime") == permanentLock {
		return false, nil // ours already, or someone else's to keep
	}
	req := goldap.NewModifyRequest(e.DN, nil)
	req.Replace("pwdAccountLockedTime", []string{permanentLock})
	if !hasFlag(e, lockRecord) {
		req.Add(markerAttr, []string{lockRecord})
	}
	if err := c.modify(ctx, req); err != nil {
		return false, fmt.Errorf("lock account %s: %w", key, err)
	}
	return true, nil
}

// errIdleLockout: an idle lockout cannot be cleared over LDAP.
var errIdleLockout = errors.New("the account is locked for inactivity (pwdMaxIdle); OpenLDAP does not let clients reset pwdLastSuccess, so an administrator must raise pwdMaxIdle or give the entry a policy without it (pwdPolicySubentry)")

// UnlockAccount implements directory.Backend: it removes pwdAccountLockedTime, the recorded
// failures and the record of the operator's lock (also one left without a lock). An idle
// lockout remains (and is reported as ErrInvalid): OpenLDAP 2.5 keeps pwdLastSuccess out of
// clients' reach.
func (c *Client) UnlockAccount(ctx context.Context, key directory.AccountKey) (bool, error) {
	if err := validateAccountKey(key); err != nil {
		return false, fmt.Errorf("unlock account: %w", err)
	}
	e, err := c.findAccount(ctx, key)
	if err == nil && e == nil {
		err = directory.ErrNotFound
	}
	if err != nil {
		return false, fmt.Errorf("unlock account %s: %w", key, err)
	}
	// pwdFailureTime is NO-USER-MODIFICATION; OpenLDAP lets the Relax Rules control remove it.
	// Without clearing it, the next failed sign-in would lock the account again at once.
	req := goldap.NewModifyRequest(e.DN, []goldap.Control{goldap.NewControlString(relaxRulesOID, false, "")})
	for _, attr := range []string{"pwdAccountLockedTime", "pwdFailureTime"} {
		if len(e.GetEqualFoldAttributeValues(attr)) > 0 {
			req.Delete(attr, nil)
		}
	}
	if hasFlag(e, lockRecord) {
		req.Delete(markerAttr, []string{lockRecord})
	}
	changed := len(req.Changes) > 0
	if changed {
		if err := c.modify(ctx, req); err != nil {
			return false, fmt.Errorf("unlock account %s: %w", key, err)
		}
	}
	pol, err := c.policyFor(ctx, e)
	if err != nil {
		return changed, fmt.Errorf("unlock account %s: %w", key, err)
	}
	rest := *e
	rest.Attributes = nil
	for _, a := range e.Attributes {
		if !strings.EqualFold(a.Name, "pwdAccountLockedTime") && !strings.EqualFold(a.Name, "pwdFailureTime") {
			rest.Attributes = append(rest.Attributes, a)
		}
	}
	if f := signInFacts(&rest, pol, time.Now()); f.LockReason == directory.LockIdle {
		return changed, fmt.Errorf("unlock account %s: %w: %w", key, directory.ErrInvalid, errIdleLockout)
	}
	return changed, nil
}
