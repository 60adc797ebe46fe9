// Package web serves the invitation page: the one page a person outside the cluster reaches,
// where an invited staff member (or one who asked for a password reset) opens the link from
// the mail, chooses a password, and becomes an active user.
//
// The page knows nothing about Kubernetes or the directory. It talks to a Store, which finds
// a link by the hex SHA-256 of its token and redeems it exactly once; the controllers
// implement the Store with Invitation objects and the directory backend. Tokens never leave
// this package: the page hashes the token from the URL and hands only the hash on.
//
// What a request goes through (docs/invitation-page.md tells the whole story):
//
//	GET  /invite/{token}  security headers, look the link up, show the form
//	POST /invite/{token}  security headers, cross-origin check, rate limits (429),
//	                      CSRF field (403), look the link up, password rules (422),
//	                      Store.Redeem, success page
//
// Every link that cannot be used, whatever the reason, gets the same response, byte for byte:
// 404 and a page saying the link is no longer valid. The page never says which case it was or
// whether an account exists.
package web
