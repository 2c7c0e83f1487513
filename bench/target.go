package bench

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/valyala/fasthttp"
)

// targetClient returns the client of a server at base, an http or https
// URL, with at most maxConns connections. An https server is verified with
// the system's roots, or with only the certificates in the PEM file caFile
// when it is set (a proxy's private CA, such as Caddy's internal one).
func targetClient(base, caFile string, maxConns int) (*fasthttp.HostClient, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	if u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("target %q: want http://host:port or https://host:port", base)
	}
	c := &fasthttp.HostClient{Addr: u.Host, MaxConns: maxConns, MaxIdleConnDuration: time.Minute,
		ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second}
	if u.Scheme == "http" {
		if caFile != "" {
			return nil, fmt.Errorf("target %s: a CA file is for https targets", base)
		}
		if u.Port() == "" {
			c.Addr = net.JoinHostPort(u.Hostname(), "80")
		}
		return c, nil
	}
	c.IsTLS = true
	if u.Port() == "" {
		c.Addr = net.JoinHostPort(u.Hostname(), "443")
	}
	c.TLSConfig = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("target CA: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("target CA %s: no PEM certificate in it", caFile)
		}
		c.TLSConfig.RootCAs = roots
	}
	return c, nil
}

// baseURL is the scheme and address client requests go to.
func baseURL(client *fasthttp.HostClient) string {
	if client.IsTLS {
		return "https://" + client.Addr
	}
	return "http://" + client.Addr
}
