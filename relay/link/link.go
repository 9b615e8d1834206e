// Package link is the contract between the relay's rooms and its
// transports. A transport (KCP over UDP, WebSocket, ...) turns each client
// connection into a Link and hands it to an Acceptor; the tick then drains
// each link's inbound messages, applies them, and hands the link one buffer
// of output per tick. The rooms never learn which transport a player uses.
package link

import (
	"net/netip"
	"sync"
	"time"

	"github.com/tickrelay/tickrelay/codec"
)

// Link is one client connection as the relay's tick sees it. Every method
// is safe to call from the tick goroutine while the transport's own
// goroutines run; none of them blocks on the network.
type Link interface {
	// Take hands over the messages queued since the last call, in arrival
	// order, appended to spare[:0]. A failure (the transport could not cut
	// or read a message) is the last item it returns for this link.
	Take(spare []Inbound) []Inbound
	// Busy reports whether the client is behind: the last output handed
	// to Send is not yet delivered (KCP: too many messages unacknowledged;
	// WebSocket: writes still queued). A busy link is skipped this tick.
	Busy() bool
	// Send hands b to the transport, which owns it until Busy is false.
	Send(b []byte)
	// Close ends the connection at once.
	Close()
	// Closed reports whether the connection has ended.
	Closed() bool
	// Heard is when anything at all last arrived from the peer (Unix ns):
	// a message, or only transport acknowledgements.
	Heard() int64
	// LastMessage is when the last whole message arrived (Unix ns): what
	// the idle timeout watches. Acknowledgements alone do not count.
	LastMessage() int64
	// Established tells the transport that the peer's hello was accepted:
	// its address is no longer a pending handshake for admission.
	Established()
	// Remote is the peer's address, for logs and per-address accounting.
	Remote() netip.AddrPort
	// Transport names the transport: "kcp" or "ws".
	Transport() string
}

// Inbound is one message body a link received, or the reason it stopped
// reading (Body nil).
type Inbound struct {
	Body    *[]byte // from GetBody; the tick returns it with PutBody
	Arrived time.Time
	Code    codec.Code // why reading stopped, when Body is nil
	Reason  string
}

// Acceptor takes new links from transports. Accept returns false when the
// relay is closing: the transport then closes the link.
type Acceptor interface {
	Accept(l Link) bool
}

var bodies = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// GetBody returns an empty body buffer from the shared pool.
func GetBody() *[]byte {
	b := bodies.Get().(*[]byte)
	*b = (*b)[:0]
	return b
}

// PutBody returns a body buffer to the pool. Oversized buffers are dropped
// so that one large message does not pin memory.
func PutBody(b *[]byte) {
	if cap(*b) > 64<<10 {
		return
	}
	bodies.Put(b)
}
