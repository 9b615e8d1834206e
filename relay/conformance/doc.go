// Package conformance checks a tickrelay server against PROTOCOL.md, from
// the wire up.
//
// It carries its own minimal client stack, written from the document and
// sharing no code with the relay, its codec or its clients, so that the
// document and the server cannot drift apart unnoticed:
//
//   - msgpack.go, decode.go: a small msgpack encoder and a decoder of
//     untrusted bytes (PROTOCOL.md section 3);
//   - kcp.go: a minimal KCP state machine without I/O (section 1: the
//     24-byte segment header, push and ack, una, sequence numbers,
//     retransmission on a timer, reassembly in order);
//   - transport.go, kcpconn.go: the Transport interface the suite runs over
//     (send a message body, receive the next one, close, cut) and its KCP
//     implementation over UDP with the 4-byte frame length prefix
//     (section 2);
//   - messages.go: the server's messages (section 5), decoded and checked
//     field by field against the documented types.
//
// The suite itself is the package's tests, named after the sections they
// check (TestSection4_7_SetProps...): go test -race ./relay/conformance.
package conformance
