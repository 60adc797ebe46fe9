package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/go-logr/logr"
)

// Options configure the invitation page. Only Store is required.
type Options struct {
	// Store finds and redeems links.
	Store Store

	// MinPasswordLength is the shortest password accepted, in characters: from
	// MinPasswordFloor (8) to MaxPasswordLength (128). Zero means DefaultMinPasswordLength (15).
	MinPasswordLength int

	// SignInURL is where the success page sends people to sign in (http or https); optional.
	SignInURL string

	// Now tells the time: link expiry and rate limits go by it. Nil means time.Now.
	Now func() time.Time

	// ClientLimit bounds POSTs per client IP address (IPv6 per /64); zero means
	// DefaultClientLimit (10 a minute).
	ClientLimit Limit
	// LinkLimit bounds POSTs per link, whoever sends them; zero means DefaultLinkLimit
	// (5 per 15 minutes).
	LinkLimit Limit
	// TrustedProxies are the proxies in front of the page (web.trustedProxies). When a
	// request's connection comes from one of them, the per-client limit counts it under the
	// right-most X-Forwarded-For address that is not itself a trusted proxy (the address the
	// outermost trusted proxy saw); otherwise under the connection's address, whatever the
	// header says. Empty trusts no header.
	TrustedProxies []netip.Prefix

	// CSRFKey is the HMAC key for the form's CSRF field, at least 32 bytes. All replicas
	// serving the page must share it (see CSRFKeyFrom), or a form loaded from one replica is
	// refused by another. Nil means a random key: fine for one replica.
	CSRFKey []byte

	// Log receives failures of the Store and of rendering; it never sees tokens, their
	// hashes or passwords.
	Log logr.Logger
}

// handler serves the invitation page. It keeps no state about links: that is the Store's.
// Its only memory is the rate limiters'.
type handler struct {
	store     Store
	policy    passwordPolicy
	signInURL string
	now       func() time.Time
	clients   *limiter
	links     *limiter
	proxies   []netip.Prefix
	csrf      csrfTokens
	log       logr.Logger
	pages     *pages

	// invalidLink is the whole response body for a link that cannot be used, rendered once,
	// so that every such case is answered with the same bytes.
	invalidLink []byte
}

// NewHandler returns the invitation page's HTTP handler:
//
//	GET, HEAD /invite/{token}  the form, or the invalid-link page (404)
//	POST /invite/{token}       set the password: success, 422 form, 403, 404, 429 or 503
//	GET /static/page.css       the stylesheet
//	GET /healthz               200 "ok"
//
// Every response carries the security headers (see securityHeaders).
func NewHandler(opts Options) (http.Handler, error) {
	h, err := newHandler(opts)
	if err != nil {
		return nil, err
	}
	return h.routes(), nil
}

func newHandler(opts Options) (*handler, error) {
	if opts.Store == nil {
		return nil, errors.New("web: Options.Store is required")
	}
	minLen := opts.MinPasswordLength
	if minLen == 0 {
		minLen = DefaultMinPasswordLength
	}
	if minLen < MinPasswordFloor || minLen > MaxPasswordLength {
		return nil, fmt.Errorf("web: MinPasswordLength must be between %d and %d, got %d", MinPasswordFloor, MaxPasswordLength, opts.MinPasswordLength)
	}
	if opts.SignInURL != "" {
		u, err := url.Parse(opts.SignInURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("web: SignInURL must be an http:// or https:// URL, got %q", opts.SignInURL)
		}
	}
	clientLimit, err := limitOrDefault("ClientLimit", opts.ClientLimit, DefaultClientLimit)
	if err != nil {
		return nil, err
	}
	linkLimit, err := limitOrDefault("LinkLimit", opts.LinkLimit, DefaultLinkLimit)
	if err != nil {
		return nil, err
	}
	csrf, err := newCSRFTokens(opts.CSRFKey)
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	p, err := parsePages()
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	h := &handler{
		store:     opts.Store,
		policy:    passwordPolicy{min: minLen},
		signInURL: opts.SignInURL,
		now:       now,
		clients:   newLimiter(clientLimit, defaultMaxKeys),
		links:     newLimiter(linkLimit, defaultMaxKeys),
		proxies:   opts.TrustedProxies,
		csrf:      csrf,
		log:       opts.Log,
		pages:     p,
	}
	if h.invalidLink, err = p.render(p.message, invalidLinkView()); err != nil {
		return nil, fmt.Errorf("web: render invalid-link page: %w", err)
	}
	return h, nil
}

func limitOrDefault(name string, l, def Limit) (Limit, error) {
	if l == (Limit{}) {
		return def, nil
	}
	if l.Events < 1 || l.Per <= 0 || l.Per/time.Duration(l.Events) <= 0 {
		return Limit{}, fmt.Errorf("web: %s must allow at least one event per positive period, got %d per %s", name, l.Events, l.Per)
	}
	return l, nil
}

func (h *handler) routes() http.Handler {
	mux := http.NewServeMux()
	// {token...} takes the rest of the path, so that empty and slash-bearing tokens are
	// answered like any other link that cannot be used.
	mux.HandleFunc(LinkPath+"{token...}", h.serveLink)
	mux.HandleFunc("GET /static/page.css", serveStylesheet)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/", h.notFound)

	// A browser form posted from another site is refused before it costs anything; requests
	// without Sec-Fetch-Site and Origin (not from a browser) go on to the CSRF field check.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(h.forbidden))
	return securityHeaders(cop.Handler(mux))
}
