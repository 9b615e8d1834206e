package main

import (
	"errors"
	"fmt"
	"net"

	"github.com/tickrelay/tickrelay/relay"
)

// playerListeners are the sockets players connect to. The command opens
// them before anything else starts, rather than leaving it to
// relay.Server.ListenAndServe, so that a node of a cluster knows the ports
// it got (-addr host:0 included) before it tells the other nodes where
// players reach it.
type playerListeners struct {
	kcp net.PacketConn
	ws  net.Listener // nil when WebSocket is off
}

// wsListenAddr is the WebSocket listener's address for s, as
// relay.Server.ListenAndServe reads WebSocketAddr: "" when off.
func wsListenAddr(s *relay.Server) string {
	switch s.WebSocketAddr {
	case "off":
		return ""
	case "":
		return kcpListenAddr(s)
	}
	return s.WebSocketAddr
}

// kcpListenAddr is s.Addr or its default.
func kcpListenAddr(s *relay.Server) string {
	if s.Addr == "" {
		return ":7777"
	}
	return s.Addr
}

// listenPlayers opens the KCP socket and, unless it is off, the WebSocket
// listener.
func listenPlayers(s *relay.Server) (playerListeners, error) {
	var l playerListeners
	var err error
	if l.kcp, err = relay.Listen(kcpListenAddr(s)); err != nil {
		return l, fmt.Errorf("-addr: %w", err)
	}
	if addr := wsListenAddr(s); addr != "" {
		if l.ws, err = net.Listen("tcp", addr); err != nil {
			l.kcp.Close()
			return playerListeners{}, fmt.Errorf("-ws-addr: %w", err)
		}
	}
	return l, nil
}

// kcpAddr and wsAddr are the bound addresses ("" for a listener that is off).
func (l playerListeners) kcpAddr() string { return l.kcp.LocalAddr().String() }

func (l playerListeners) wsAddr() string {
	if l.ws == nil {
		return ""
	}
	return l.ws.Addr().String()
}

// close closes listeners that were opened but never served.
func (l playerListeners) close() {
	l.kcp.Close()
	if l.ws != nil {
		l.ws.Close()
	}
}

// servePlayers serves s on l as ListenAndServe would: until Shutdown or
// Close, returning relay.ErrServerClosed then, or the first error that
// stopped either transport (the other is stopped too).
func servePlayers(s *relay.Server, l playerListeners) error {
	errc := make(chan error, 2)
	go func() { errc <- s.Serve(l.kcp) }()
	if l.ws != nil {
		go func() { errc <- s.ServeWebSocket(l.ws) }()
	}
	first := <-errc
	if !errors.Is(first, relay.ErrServerClosed) {
		s.Close() // one transport failed: stop the other
	}
	if l.ws != nil {
		<-errc
	}
	return first
}
