package conformance

import (
	"errors"
	"time"
)

// Transport is one client connection to a relay, as the suite sees it: a
// sequence of message bodies each way. Over KCP a body travels with its
// 4-byte length prefix in the KCP byte stream; over WebSocket each binary
// message is one body. Every test that is not about the wire itself runs
// over each Transport.
type Transport interface {
	// Send sends one message body.
	Send(body []byte) error
	// Recv returns the next message body from the server, waiting until
	// deadline at most (ErrTimeout).
	Recv(deadline time.Time) ([]byte, error)
	// Cut stops all traffic silently, both ways, as if the network had
	// vanished: nothing more is sent (not even acknowledgements) and
	// nothing received is taken.
	Cut()
	// Close releases the connection without a word to the server.
	Close() error
}

// Staller is a Transport that can keep its link alive while its
// application stops taking messages: the slow consumer of PROTOCOL.md
// section 5.6.
type Staller interface {
	// Stall stops taking received messages; the transport itself keeps
	// acknowledging what it can hold.
	Stall(stalled bool)
}

// StreamSender is a Transport over a byte stream (KCP): it can send bytes
// that are not a well-formed frame, such as a bare length prefix.
type StreamSender interface {
	SendStream(b []byte) error
}

// Errors of a Transport.
var (
	ErrTimeout = errors.New("conformance: no message before the deadline")
	ErrClosed  = errors.New("conformance: transport closed")
)
