// Package kcpx reaches into kcp-go's KCP state machine for what its API
// does not offer and a relay with thousands of sessions needs: the time of
// a KCP's earliest resend (ResendIn), a flush now rather than at the next
// interval (FlushNow), kcp-go's own clock (Now), smaller buffers for a KCP
// that carries a few messages at a time (Trim), and a lower bound on the
// resend time that covers a peer holding its acks for a tick (SetMinRTO,
// and SetSessionMinRTO for the KCP inside a UDPSession).
//
// The fields it touches are unexported. Each is found by reflection when
// the package loads and compared, field by field, with a mirror type here;
// if kcp-go ever changes one, the function that needs it reports that it
// could not act (ok false, or no effect) and the caller falls back to
// kcp-go's public API. The tests fail in that case, so an upgrade of
// kcp-go that breaks a mirror is noticed.
package kcpx
