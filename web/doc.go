// Package web is FreshTrack's operator app: the pages a kitchen manager, a
// cook on a phone and an inspector open, served by `freshtrack serve` at /.
//
// People sign in with OpenID Connect's authorization code flow and PKCE
// (signin.go) into a server-side session (session.go): the browser holds
// an HttpOnly cookie, never a provider token, and the API accepts that
// cookie (api.SessionAuth) with the page's CSRF token on every change. The
// pages are HTML shells rendered here (app.go, templates/) with small
// scripts (assets/) that read and change everything through the public
// /v1 API, under the same role checks as any client. Assets are embedded
// and served with content-hashed URLs (assets.go); uPlot is vendored as its
// released files.
package web
