package web

import "net/http"

// contentSecurityPolicy allows the page nothing but its own stylesheet and posting its form
// back to itself: no scripts, no frames, no images, no <base>.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// strictTransportSecurity tells browsers to use only HTTPS for the page's host for a year.
// No includeSubDomains: the page does not know what else runs under its domain.
const strictTransportSecurity = "max-age=31536000"

// securityHeaders sets the headers every response carries, errors included, before anything
// else runs. The link is a secret: no-referrer keeps it out of the Referer of the sign-in
// link, no-store keeps the form and the success page out of caches and the back-forward
// cache, and DENY plus frame-ancestors keep the page out of other sites' frames.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		// Only over TLS that this server terminates: browsers ignore the header over plain
		// HTTP, and behind an ingress that terminates TLS the ingress sets it for its host.
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", strictTransportSecurity)
		}
		next.ServeHTTP(w, r)
	})
}
