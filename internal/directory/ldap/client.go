package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rosterops/staff-operator/internal/directory"
)

var _ directory.Backend = (*Client)(nil)

// Client is the LDAP backend. It holds a small pool of connections (Config.Connections),
// each dialled on first use and dialled again on its next use after the server closed it (a
// restart). Plain requests take turns round the pool, several at once on each connection
// (go-ldap multiplexes them); a paged search has a connection's paging to itself for its
// whole duration. Safe for concurrent use.
type Client struct {
	cfg  Config
	tls  *tls.Config
	base string

	conns []pooledConn
	next  atomic.Uint64
	// pagers holds the index of every connection no paged search is using. slapd keeps one
	// paging state per connection: a second paged search between the pages of a first ends
	// the first with "paged results cookie is invalid". Plain requests between the pages do
	// not disturb it (TestPlainRequestsBetweenPages), so they still use that connection.
	pagers chan int

	// emails serialize the writes that must keep an email on one account (create, adopt, a
	// changed mail), per email, so that two reconciler workers creating two members with the
	// same address cannot both pass the uniqueness check before either writes. Striped, so
	// its memory stays fixed however many addresses pass through.
	emails [64]sync.Mutex

	stats struct{ binds, searches, adds, modifies, renames, deletes, extended, errors atomic.Int64 }

	// dns remembers where the managed accounts are (accountDNs).
	dns accountDNs
	// members remembers the member lists of the managed groups (groupMembers).
	members groupMembers

	// containers are the DNs of organization and people/roles/locations OUs known to exist.
	containers sync.Map

	policyMu sync.Mutex
	policies map[string]cachedPolicy
}

// Stats counts the requests the client sent to the server.
type Stats struct {
	Binds, Searches, Adds, Modifies, Renames, Deletes, Extended int64
	// Errors counts requests that failed.
	Errors int64
}

// Writes is the number of requests that change the directory.
func (s Stats) Writes() int64 { return s.Adds + s.Modifies + s.Renames + s.Deletes + s.Extended }

// New checks the configuration and returns a client; it does not connect yet.
func New(cfg Config) (*Client, error) {
	if err := cfg.defaults(); err != nil {
		return nil, fmt.Errorf("ldap config: %w", err)
	}
	c := &Client{cfg: cfg, base: cfg.BaseDN, policies: map[string]cachedPolicy{}}
	c.conns, c.pagers = newPool(cfg.Connections)
	u, _ := url.Parse(cfg.URL)
	if u.Scheme == "ldaps" || cfg.StartTLS {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.ServerName}
		if tc.ServerName == "" {
			tc.ServerName = u.Hostname()
		}
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("ldap config: caFile: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("ldap config: caFile %s holds no PEM certificate", cfg.CAFile)
			}
			tc.RootCAs = pool
		}
		c.tls = tc
	}
	return c, nil
}

// Stats returns the request counts so far.
func (c *Client) Stats() Stats {
	return Stats{
		Binds: c.stats.binds.Load(), Searches: c.stats.searches.Load(), Adds: c.stats.adds.Load(),
		Modifies: c.stats.modifies.Load(), Renames: c.stats.renames.Load(), Deletes: c.stats.deletes.Load(), Extended: c.stats.extended.Load(),
		Errors: c.stats.errors.Load(),
	}
}

// Close closes every connection of the pool; a later call dials again.
func (c *Client) Close() error { return c.closeConns() }

// Ping connects (when not connected) and reads the base entry.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.search(ctx, searchReq(c.base, goldap.ScopeBaseObject, "(objectClass=*)", []string{"1.1"}), false)
	if err != nil {
		return fmt.Errorf("ping %s: %w", c.cfg.URL, err)
	}
	return nil
}

func (c *Client) observe(op string, counter *atomic.Int64, err error, start time.Time) {
	counter.Add(1)
	if err != nil {
		c.stats.errors.Add(1)
	}
	if c.cfg.Observer != nil {
		c.cfg.Observer(op, err, time.Since(start))
	}
}

func (c *Client) dial() (*goldap.Conn, error) {
	opts := []goldap.DialOpt{goldap.DialWithDialer(&net.Dialer{Timeout: c.cfg.DialTimeout})}
	if c.tls != nil {
		opts = append(opts, goldap.DialWithTLSConfig(c.tls))
	}
	conn, err := goldap.DialURL(c.cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", c.cfg.URL, err)
	}
	conn.SetTimeout(c.cfg.RequestTimeout)
	if c.cfg.StartTLS {
		if err := conn.StartTLS(c.tls); err != nil {
			conn.Close()
			return nil, fmt.Errorf("startTLS %s: %w", c.cfg.URL, err)
		}
	}
	if c.cfg.BindDN != "" {
		pw, err := c.cfg.bindPassword()
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("%w: bind password: %w", directory.ErrAccessDenied, err)
		}
		start := time.Now()
		err = conn.Bind(c.cfg.BindDN, pw)
		c.observe("bind", &c.stats.binds, err, start)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("bind as %s: %w", c.cfg.BindDN, err)
		}
	}
	return conn, nil
}

// run sends one plain request with fn on the next connection of the pool.
func (c *Client) run(ctx context.Context, op string, counter *atomic.Int64, fn func(*goldap.Conn) error) error {
	return c.runOn(ctx, c.nextConn(), op, counter, fn)
}

// runOn sends one request with fn on pc. When the request failed because pc's connection had
// died (the server restarted since its last use), it dials pc once more and resends: all
// requests this package sends are safe to repeat. The error is classified (classify).
func (c *Client) runOn(ctx context.Context, pc *pooledConn, op string, counter *atomic.Int64, fn func(*goldap.Conn) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", directory.ErrUnavailable, err)
	}
	for attempt := 0; ; attempt++ {
		conn, fresh, err := pc.get(c.dial)
		if err != nil {
			return classify(err)
		}
		start := time.Now()
		err = fn(conn)
		c.observe(op, counter, err, start)
		if err == nil {
			return nil
		}
		if connectionLost(conn, err) {
			pc.drop(conn)
			if !fresh && attempt == 0 && ctx.Err() == nil {
				continue
			}
		}
		return classify(err)
	}
}

// connectionLost tells a dead connection (closed by the server, reset) from a request that
// failed on a live one (including a timeout, which is not resent).
func connectionLost(conn *goldap.Conn, err error) bool {
	return conn.IsClosing() || goldap.IsErrorWithCode(err, goldap.LDAPResultServerDown)
}

// classify wraps an error from go-ldap with the directory sentinel it stands for, keeping
// the original (errors.Is matches both).
func classify(err error) error {
	if err == nil {
		return nil
	}
	var le *goldap.Error
	if !errors.As(err, &le) {
		return fmt.Errorf("%w: %w", directory.ErrUnavailable, err)
	}
	var kind error
	switch le.ResultCode {
	case goldap.ErrorNetwork, goldap.LDAPResultBusy, goldap.LDAPResultUnavailable, goldap.LDAPResultServerDown,
		goldap.LDAPResultTimeLimitExceeded, goldap.LDAPResultAdminLimitExceeded, goldap.LDAPResultTimeout,
		goldap.LDAPResultConnectError, goldap.LDAPResultLoopDetect, goldap.LDAPResultOther:
		kind = directory.ErrUnavailable
	case goldap.LDAPResultSizeLimitExceeded:
		// A limit of the server's for this bind DN: only its configuration can lift it.
		return fmt.Errorf("%w: %w: %w", directory.ErrAccessDenied, directory.ErrSizeLimit, err)
	case goldap.LDAPResultNoSuchObject:
		kind = directory.ErrNotFound
	case goldap.LDAPResultEntryAlreadyExists:
		kind = directory.ErrConflict
	case goldap.LDAPResultInvalidCredentials, goldap.LDAPResultInsufficientAccessRights,
		goldap.LDAPResultInappropriateAuthentication, goldap.LDAPResultStrongAuthRequired,
		goldap.LDAPResultConfidentialityRequired, goldap.LDAPResultAuthMethodNotSupported:
		kind = directory.ErrAccessDenied
	default:
		// Schema, syntax, constraint, naming, unwillingToPerform: the data or request is wrong.
		kind = directory.ErrInvalid
	}
	return fmt.Errorf("%w: %w", kind, err)
}

func searchReq(base string, scope int, filter string, attrs []string) *goldap.SearchRequest {
	return goldap.NewSearchRequest(base, scope, goldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil)
}

// search runs a search; paged runs it in pages of PageSize and returns all entries. A paged
// search reserves a connection for its paging (takePager) and sends every page on it.
func (c *Client) search(ctx context.Context, req *goldap.SearchRequest, paged bool) ([]*goldap.Entry, error) {
	var pc *pooledConn
	if paged {
		p, release, err := c.takePager(ctx)
		if err != nil {
			return nil, err
		}
		defer release()
		pc = p
	} else {
		pc = c.nextConn()
	}
	var res *goldap.SearchResult
	err := c.runOn(ctx, pc, "search", &c.stats.searches, func(conn *goldap.Conn) error {
		var err error
		req.Controls = nil // a resend starts a fresh paging sequence
		if paged {
			res, err = conn.SearchWithPaging(req, c.cfg.PageSize)
		} else {
			res, err = conn.Search(req)
		}
		return err
	})
	if err != nil {
		return nil, c.explainSizeLimit(err)
	}
	return res.Entries, nil
}

// explainSizeLimit names the server setting a size-limit answer asks for.
func (c *Client) explainSizeLimit(err error) error {
	if errors.Is(err, directory.ErrSizeLimit) {
		return fmt.Errorf("%w; slapd must not limit the bind DN: limits dn.exact=%q size=unlimited size.prtotal=unlimited (docs/directory.md)", err, c.cfg.BindDN)
	}
	return err
}

// searchPages runs a paged search and hands over the entries page by page, so that a listing
// of the whole directory holds one page of decoded responses at a time, not all of them: at
// 10,000 accounts the resync's listing held ~90 MB of packets at once. A search resent on a
// new connection (the first one died) starts over: start is called before each run.
func (c *Client) searchPages(ctx context.Context, req *goldap.SearchRequest, start func(), page func([]*goldap.Entry) error) error {
	pc, release, err := c.takePager(ctx)
	if err != nil {
		return err
	}
	defer release()
	err = c.runOn(ctx, pc, "search", &c.stats.searches, func(conn *goldap.Conn) error {
		start()
		paging := goldap.NewControlPaging(c.cfg.PageSize)
		req.Controls = []goldap.Control{paging}
		for {
			res, err := conn.Search(req)
			if err != nil {
				return err
			}
			if err := page(res.Entries); err != nil {
				return err
			}
			next, ok := goldap.FindControl(res.Controls, goldap.ControlTypePaging).(*goldap.ControlPaging)
			if !ok || len(next.Cookie) == 0 {
				return nil
			}
			paging.SetCookie(next.Cookie)
		}
	})
	return c.explainSizeLimit(err)
}

func (c *Client) add(ctx context.Context, req *goldap.AddRequest) error {
	return c.run(ctx, "add", &c.stats.adds, func(conn *goldap.Conn) error { return conn.Add(req) })
}

func (c *Client) modify(ctx context.Context, req *goldap.ModifyRequest) error {
	return c.run(ctx, "modify", &c.stats.modifies, func(conn *goldap.Conn) error { return conn.Modify(req) })
}

func (c *Client) modifyDN(ctx context.Context, req *goldap.ModifyDNRequest) error {
	return c.run(ctx, "modifyDN", &c.stats.renames, func(conn *goldap.Conn) error { return conn.ModifyDN(req) })
}

func (c *Client) del(ctx context.Context, dn string) error {
	return c.run(ctx, "delete", &c.stats.deletes, func(conn *goldap.Conn) error {
		return conn.Del(goldap.NewDelRequest(dn, nil))
	})
}

func (c *Client) passwordModify(ctx context.Context, dn, password string) error {
	return c.run(ctx, "passwordModify", &c.stats.extended, func(conn *goldap.Conn) error {
		_, err := conn.PasswordModify(goldap.NewPasswordModifyRequest(dn, "", password))
		return err
	})
}

// lockEmail holds the lock of email's stripe until the returned func is called. Emails
// compare case-insensitively on the server, so the stripe does too.
func (c *Client) lockEmail(email string) (unlock func()) {
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(email)))
	mu := &c.emails[h.Sum32()%uint32(len(c.emails))]
	mu.Lock()
	return mu.Unlock
}
