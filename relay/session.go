package relay

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"

	"github.com/tickrelay/tickrelay/codec"
)

// inItem is what a session's reader hands the tick: one message body, or
// the reason reading stopped.
type inItem struct {
	body    *[]byte // from bodyPool; nil for a failure
	arrived time.Time
	code    codec.Code // set when reading failed
	reason  string
}

var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// session is one KCP connection. It owns two goroutines: the reader, which
// splits the stream into message bodies for the bounded inbox, and the
// writer, which hands frames to KCP so that a full send window blocks the
// writer and never the tick.
type session struct {
	srv      *Server
	conn     *kcp.UDPSession
	inbox    chan inItem
	out      chan []byte
	busy     atomic.Bool
	lastRecv atomic.Int64 // unix nanoseconds of the last bytes read
	done     chan struct{}
	once     sync.Once

	filterKnown bool // owned by the tick: the filter was told of the hello
}

func newSession(srv *Server, conn *kcp.UDPSession) *session {
	s := &session{
		srv:   srv,
		conn:  conn,
		inbox: make(chan inItem, srv.inboxSize()),
		out:   make(chan []byte, 1),
		done:  make(chan struct{}),
	}
	s.lastRecv.Store(time.Now().UnixNano())
	return s
}

// start launches the session's goroutines; the server's WaitGroup owns them.
func (s *session) start(wg *sync.WaitGroup) {
	wg.Add(2)
	go func() { defer wg.Done(); s.readLoop() }()
	go func() { defer wg.Done(); s.writeLoop() }()
}

// Read tracks when the peer last sent anything, for the idle timeout.
func (s *session) Read(b []byte) (int, error) {
	n, err := s.conn.Read(b)
	if n > 0 {
		s.lastRecv.Store(time.Now().UnixNano())
	}
	return n, err
}

func (s *session) readLoop() {
	fr := codec.NewFrameReader(s, s.srv.maxFrameSize())
	for {
		body, err := fr.Next()
		if err != nil {
			s.readFailed(err)
			return
		}
		bp := bodyPool.Get().(*[]byte)
		*bp = append((*bp)[:0], body...)
		select {
		case s.inbox <- inItem{body: bp, arrived: time.Now()}:
		case <-s.done:
			bodyPool.Put(bp)
			return
		}
	}
}

func (s *session) readFailed(err error) {
	item := inItem{code: codec.CodeMalformed, reason: err.Error()}
	switch {
	case errors.Is(err, codec.ErrFrameTooLarge):
		item.code = codec.CodeFrameTooLarge
	case errors.Is(err, io.ErrClosedPipe), errors.Is(err, io.EOF):
		item.code = 0 // the session was closed: nothing to tell the peer
	}
	select {
	case s.inbox <- item:
	case <-s.done:
	}
}

func (s *session) writeLoop() {
	for {
		select {
		case b := <-s.out:
			_, err := s.conn.Write(b)
			s.busy.Store(false)
			if err != nil {
				s.close()
				return
			}
		case <-s.done:
			return
		}
	}
}

// Busy implements link.
func (s *session) Busy() bool { return s.busy.Load() }

// Send implements link. The tick calls it only when Busy is false, and it is
// the only sender, so the one-slot channel never blocks.
func (s *session) Send(b []byte) {
	s.busy.Store(true)
	select {
	case s.out <- b:
	case <-s.done:
	}
}

// Close implements link.
func (s *session) Close() { s.close() }

func (s *session) close() {
	s.once.Do(func() {
		close(s.done)
		// Forget the address before kcp-go drops its session, or a datagram
		// in between would open a session the filter never admitted.
		if f := s.srv.filter; f != nil {
			f.forget(s.conn.RemoteAddr())
		}
		s.conn.Close()
		s.srv.forget(s)
	})
}

func (s *session) closed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}
