package kcplink

// filterConn is the admission table as a net.PacketConn wrapper: kcp-go's
// own listener can be served through it. The server's transport uses the
// table directly; the tests use this wrapper to check the filter in front
// of a real kcp-go listener and to flood a server through it.

import (
	"net"
	"time"
)

// filterConn wraps a PacketConn with the admission table (filter.go).
// ReadFrom is meant for one reader (kcp-go's listener); established and
// forget may be called from any goroutine.
type filterConn struct {
	*admission
	pc net.PacketConn
}

func newFilterConn(pc net.PacketConn, cfg filterConfig) *filterConn {
	return &filterConn{admission: newAdmission(cfg), pc: pc}
}

// ReadFrom reads the next datagram the filter lets through.
func (f *filterConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := f.pc.ReadFrom(p)
		if err != nil {
			return n, addr, err
		}
		key, ok := addrKey(addr)
		if !ok {
			f.count(dropJunk, false, n)
			continue
		}
		if ok, _ := f.admit(p[:n], key); ok {
			return n, addr, nil
		}
	}
}

// established records that the session at addr said hello with conv: it
// stops being pending and no longer expires. The server calls it when it
// accepts a hello, and forget when the session closes.
func (f *filterConn) established(addr net.Addr, conv uint32) {
	if key, ok := addrKey(addr); ok {
		f.establishedKey(key, conv)
	}
}

// forget drops addr from the table: its session is closed. A later
// datagram from addr must earn admission again.
func (f *filterConn) forget(addr net.Addr) {
	if key, ok := addrKey(addr); ok {
		f.forgetKey(key)
	}
}

// WriteTo sends p; every datagram kcp-go sends goes through here.
func (f *filterConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	n, err := f.pc.WriteTo(p, addr)
	if n > 0 {
		f.countSent(1, n, 0)
	}
	return n, err
}

func (f *filterConn) Close() error                       { return f.pc.Close() }
func (f *filterConn) LocalAddr() net.Addr                { return f.pc.LocalAddr() }
func (f *filterConn) SetDeadline(t time.Time) error      { return f.pc.SetDeadline(t) }
func (f *filterConn) SetReadDeadline(t time.Time) error  { return f.pc.SetReadDeadline(t) }
func (f *filterConn) SetWriteDeadline(t time.Time) error { return f.pc.SetWriteDeadline(t) }

// SetReadBuffer and SetWriteBuffer reach the socket when it supports them
// (kcp-go's Listener.SetReadBuffer asks its conn for these).
func (f *filterConn) SetReadBuffer(bytes int) error {
	if c, ok := f.pc.(interface{ SetReadBuffer(int) error }); ok {
		return c.SetReadBuffer(bytes)
	}
	return nil
}

func (f *filterConn) SetWriteBuffer(bytes int) error {
	if c, ok := f.pc.(interface{ SetWriteBuffer(int) error }); ok {
		return c.SetWriteBuffer(bytes)
	}
	return nil
}

// check decides the fate of a datagram from addr, without counting it.
func (f *filterConn) check(b []byte, addr net.Addr) (dropReason, bool) {
	key, ok := addrKey(addr)
	if !ok {
		return dropJunk, false
	}
	r, _, ok := f.admission.check(b, key)
	return r, ok
}
