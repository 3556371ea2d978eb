package httpx

import (
	"fmt"
	"net"
	"net/http"
	"strings"
)

// Proxies is GATEWAY_TRUSTED_PROXIES parsed. gin applies the same list to
// X-Forwarded-For (Engine.SetTrustedProxies) but keeps its matcher to
// itself, so the other forwarding headers the gateway believes are checked
// against this copy, built from the same strings by the same rule (a bare
// address is a /32 or /128).
type Proxies []*net.IPNet

// ParseProxies parses addresses and CIDRs; the error names the first entry
// that is neither (Config.Validate reports it).
func ParseProxies(list []string) (Proxies, error) {
	var p Proxies
	for _, s := range list {
		if _, n, err := net.ParseCIDR(s); err == nil {
			p = append(p, n)
			continue
		}
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR", s)
		}
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		p = append(p, &net.IPNet{IP: ip, Mask: net.CIDRMask(len(ip)*8, len(ip)*8)})
	}
	return p, nil
}

// Trusts reports whether the request's TCP peer is one of the proxies. The
// peer is the only part of a request a client cannot choose.
func (p Proxies) Trusts(r *http.Request) bool {
	host, _, err := net.SplitHostPort(strings.TrimSpace(r.RemoteAddr))
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	for _, n := range p {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// HTTPS reports whether the browser's connection was encrypted: it reached
// the gateway over TLS, or a trusted proxy that terminated TLS says so in
// X-Forwarded-Proto or Forwarded (RFC 7239). From any other peer these
// headers are the client's own words and change nothing.
//
// Only the last entry of each header counts: proxies append, so the last
// one is what the trusted peer itself wrote, and earlier ones may have come
// from the client. Either header saying https is enough; the answer only
// ever adds a cookie's Secure flag, so a client forging it through a proxy
// that passes the header on can break nothing but its own sign-in.
func (p Proxies) HTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if len(p) == 0 || !p.Trusts(r) {
		return false
	}
	if xfp := r.Header.Values("X-Forwarded-Proto"); len(xfp) > 0 {
		items := strings.Split(xfp[len(xfp)-1], ",")
		if strings.EqualFold(strings.TrimSpace(items[len(items)-1]), "https") {
			return true
		}
	}
	if fwd := r.Header.Values("Forwarded"); len(fwd) > 0 {
		elems := splitQuoted(fwd[len(fwd)-1], ',')
		for _, pair := range splitQuoted(elems[len(elems)-1], ';') {
			name, value, _ := strings.Cut(strings.TrimSpace(pair), "=")
			if strings.EqualFold(name, "proto") && strings.EqualFold(unquote(value), "https") {
				return true
			}
		}
	}
	return false
}

// splitQuoted splits s at sep outside RFC 7230 quoted strings (a Forwarded
// value may quote a separator).
func splitQuoted(s string, sep byte) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unquote returns a token as is and a quoted string's content.
func unquote(v string) string {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return v
	}
	var b strings.Builder
	for i := 1; i < len(v)-1; i++ {
		if v[i] == '\\' && i+1 < len(v)-1 {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}
