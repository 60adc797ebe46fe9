package web

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// maxFormBytes bounds a POST body. The form holds two passwords of at most
// MaxPasswordLength characters (4 bytes each, percent-encoded) and a few short fields.
const maxFormBytes = 16 << 10

// serveLink answers everything under /invite/.
func (h *handler) serveLink(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.showForm(w, r, token)
	case http.MethodPost:
		h.submit(w, r, token)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		h.pages.write(w, h.log, http.StatusMethodNotAllowed, h.pages.message,
			messageView("This page cannot do that", "Open the link from your mail in a web browser."))
	}
}

func (h *handler) showForm(w http.ResponseWriter, r *http.Request, token string) {
	hash := TokenHash(token)
	inv, err := h.lookup(r.Context(), token, hash)
	if err != nil {
		h.fail(w, "lookup", err)
		return
	}
	h.pages.write(w, h.log, http.StatusOK, h.pages.form, h.formView(inv, hash, nil))
}

// submit handles the form. The order matters: the rate limits come first, so that nothing
// behind them (the Store, the directory) can be hammered; the CSRF field comes before the
// lookup, so a refused form never reaches the Store and says nothing about the link; and
// the password rules come before Redeem, which is the single point where a link is used up.
func (h *handler) submit(w http.ResponseWriter, r *http.Request, token string) {
	hash := TokenHash(token)
	now := h.now()
	if ok, wait := h.clients.allow(h.clientKey(r), now); !ok {
		h.tooMany(w, "client", wait)
		return
	}
	if ok, wait := h.links.allow(hash, now); !ok {
		h.tooMany(w, "link", wait)
		return
	}

	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		status := http.StatusBadRequest
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			status = http.StatusRequestEntityTooLarge
		}
		h.pages.write(w, h.log, status, h.pages.message,
			messageView("The form could not be read", "Open the link from your mail again and fill in the form once more."))
		return
	}
	if !h.csrf.valid(hash, r.PostForm.Get(csrfField)) {
		h.forbidden(w, r)
		return
	}

	inv, err := h.lookup(r.Context(), token, hash)
	if err != nil {
		h.fail(w, "lookup", err)
		return
	}
	password := r.PostForm.Get("password")
	if errs := h.policy.check(password, r.PostForm.Get("confirmPassword"), inv); len(errs) > 0 {
		// The form comes back empty: a password is never written into a page.
		h.pages.write(w, h.log, http.StatusUnprocessableEntity, h.pages.form, h.formView(inv, hash, errs))
		return
	}
	// Redeem is the only acceptance: its nil is the one success page for this link. The
	// page never retries it and never treats any other answer as success.
	if err := h.store.Redeem(r.Context(), hash, password); err != nil {
		h.fail(w, "redeem", err)
		return
	}
	h.log.V(1).Info("password set through link", "purpose", string(inv.Purpose))
	h.pages.write(w, h.log, http.StatusOK, h.pages.success, h.successView(inv))
}

// lookup finds a live link. A string that cannot be a token is not looked up, and a link
// past its expiry is dead even if the Store has not caught up yet.
func (h *handler) lookup(ctx context.Context, token, hash string) (Invitee, error) {
	if !wellFormed(token) {
		return Invitee{}, ErrInvalidLink
	}
	inv, err := h.store.Lookup(ctx, hash)
	if err != nil {
		return Invitee{}, err
	}
	if inv.ExpiresAt.IsZero() || !h.now().Before(inv.ExpiresAt) {
		return Invitee{}, ErrInvalidLink
	}
	return inv, nil
}

// fail answers a Store error: the invalid-link page for ErrInvalidLink, whatever its cause,
// and "try again" for anything else.
func (h *handler) fail(w http.ResponseWriter, step string, err error) {
	if errors.Is(err, ErrInvalidLink) {
		writeHTML(w, http.StatusNotFound, h.invalidLink)
		return
	}
	if errors.Is(err, context.Canceled) {
		return // the visitor went away
	}
	if errors.Is(err, ErrNotConfirmed) {
		h.log.Error(err, "a password was set through a link whose claim was lost", "step", step)
		h.pages.write(w, h.log, http.StatusConflict, h.pages.message,
			messageView("Your new password could not be confirmed",
				"It may have been saved: try signing in with it.",
				"If that does not work, open the link from your mail again, or ask the person who manages staff accounts at your practice for a new link."))
		return
	}
	h.log.Error(err, "invitation store failed", "step", step)
	w.Header().Set("Retry-After", "60")
	h.pages.write(w, h.log, http.StatusServiceUnavailable, h.pages.message,
		messageView("Something went wrong on our side",
			"Your password has not been changed. Please try again in a minute with the same link.",
			"If this keeps happening, ask the person who manages staff accounts at your practice for help."))
}

func (h *handler) tooMany(w http.ResponseWriter, limit string, wait time.Duration) {
	secs := int64((wait + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	h.log.V(1).Info("rate limit reached", "limit", limit)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	h.pages.write(w, h.log, http.StatusTooManyRequests, h.pages.message,
		messageView("Too many attempts",
			"Nothing was changed. Please wait "+waitText(time.Duration(secs)*time.Second)+", then go back and submit the form again."))
}

func (h *handler) forbidden(w http.ResponseWriter, _ *http.Request) {
	h.pages.write(w, h.log, http.StatusForbidden, h.pages.message,
		messageView("This form could not be accepted",
			"Nothing was changed. The form was not sent from this page, or it was loaded too long ago.",
			"Open the link from your mail again and fill in the form once more."))
}

func (h *handler) notFound(w http.ResponseWriter, _ *http.Request) {
	h.pages.write(w, h.log, http.StatusNotFound, h.pages.message,
		messageView("Page not found", "Open the link from your mail exactly as it is written there."))
}

// clientKey is what the per-client limit counts by: the client's IP address (clientAddr),
// and for IPv6 its /64, since one client holds a whole /64 and can rotate through it. A
// connection address that does not parse (not from a TCP listener) is its own key.
func (h *handler) clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	return addrKey(h.clientAddr(peer.Unmap(), r.Header.Values("X-Forwarded-For")))
}

// clientAddr finds the client behind a chain of trusted proxies. Each proxy appends the
// address it received the request from, so the header is read from the right: the entries a
// trusted proxy added can be believed, and the first one that is not a trusted proxy is the
// client. Entries left of it were written by the client and could say anything. The header is
// read only when the connection itself comes from a trusted proxy: anyone else could write it.
// An entry that does not parse ends the walk at the last trusted address read, so garbage
// never becomes a key of its own.
func (h *handler) clientAddr(peer netip.Addr, xff []string) netip.Addr {
	if !h.trusted(peer) {
		return peer
	}
	client := peer
	for i := len(xff) - 1; i >= 0; i-- {
		entries := strings.Split(xff[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			addr, ok := parseForwardedAddr(entries[j])
			if !ok {
				return client
			}
			client = addr
			if !h.trusted(addr) {
				return addr
			}
		}
	}
	return client
}

func (h *handler) trusted(addr netip.Addr) bool {
	for _, p := range h.proxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// parseForwardedAddr reads one X-Forwarded-For entry: an address, host:port, [v6]:port or
// [v6]. Proxies differ in which they write; anything else ("unknown", a name) is refused.
func parseForwardedAddr(entry string) (netip.Addr, bool) {
	s := strings.TrimSpace(entry)
	if addr, err := netip.ParseAddr(s); err == nil {
		return addr.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		if addr, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && addr.Is6() {
			return addr.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

func addrKey(addr netip.Addr) string {
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		return netip.PrefixFrom(addr, 64).Masked().String()
	}
	return addr.String()
}
