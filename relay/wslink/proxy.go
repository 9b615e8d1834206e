package wslink

import (
	"net/http"
	"net/netip"
	"strings"
)

// clientAddr is the address a connection counts as: its peer, or, when the
// peer is a trusted reverse proxy, the client the proxy names in
// X-Forwarded-For (the rightmost entry that is not itself a trusted proxy:
// entries to its left were written by the client and prove nothing).
func (t *Transport) clientAddr(r *http.Request) (netip.AddrPort, bool) {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.AddrPort{}, false
	}
	peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
	if !t.trusted(peer.Addr()) {
		return peer, true
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer, true // a garbled header: count the proxy itself
		}
		a = a.Unmap()
		if !t.trusted(a) {
			return netip.AddrPortFrom(a, 0), true
		}
	}
	return peer, true
}

func (t *Transport) trusted(a netip.Addr) bool {
	for _, p := range t.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
