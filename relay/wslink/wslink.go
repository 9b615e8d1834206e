// Package wslink is the relay's WebSocket transport, for clients that
// cannot open UDP sockets (web exports of Godot games). Each binary
// WebSocket message carries exactly one protocol message body, the same
// msgpack messages as over KCP but without the 4-byte length prefix (a
// WebSocket keeps message boundaries). Each connection is a link.Link for
// the relay's tick, so WebSocket players share rooms with KCP players.
//
// The WebSocket protocol itself (handshake, framing, masking, control
// frames, the close handshake) is github.com/coder/websocket's: a small,
// maintained implementation with context support, no dependencies, and
// streaming reads, so a message's declared length never sizes a buffer.
package wslink

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/internal/dflt"
	"github.com/tickrelay/tickrelay/relay/admit"
	"github.com/tickrelay/tickrelay/relay/link"
)

// Config tunes the transport. Zero fields take the defaults.
type Config struct {
	// Path is the URL path of the WebSocket endpoint. Default "/".
	Path string
	// MaxFrameSize is the largest client message body; a larger message
	// closes the connection (frame_too_large) before it is read whole.
	// Default 16 KiB.
	MaxFrameSize int
	// InboxSize bounds the messages a connection may queue between ticks;
	// a reader with a full inbox waits. Default 64.
	InboxSize int
	// MaxQueued is how many buffers of output may wait for the socket
	// before the link is busy (the client's frames are held back and
	// merged). Default 4.
	MaxQueued int
	// MessageTimeout bounds how long one message may take to arrive once
	// its first frame did (a flood of fragments or a stalled upload
	// closes the connection). Default 10 s.
	MessageTimeout time.Duration
	// HandshakeTimeout bounds reading the HTTP upgrade request. Default 5 s.
	HandshakeTimeout time.Duration
	// AllowedOrigins lists the page origins that may connect, as
	// coder/websocket's OriginPatterns (host patterns such as
	// "*.itch.zone", or "https://game.example.com"). Empty allows every
	// origin: a web export is usually served from another site than the
	// relay's.
	AllowedOrigins []string
	// TrustedProxies are the addresses of reverse proxies in front of the
	// relay: for a connection from one of them, the client's address is
	// taken from X-Forwarded-For (the last entry that is not a trusted
	// proxy), so per-address caps and bans apply to clients, not to the
	// proxy.
	TrustedProxies []netip.Prefix
	// TLSCertFile and TLSKeyFile, when both set, make the transport serve
	// wss:// itself. The files are read again when they change (checked at
	// most once a second), so a renewed certificate needs no restart.
	TLSCertFile, TLSKeyFile string
	// Log receives connection-level warnings. The zero value logs nothing.
	Log zerolog.Logger
}

// Transport serves WebSocket connections on listeners given to Serve and
// hands each to an Acceptor as a link.Link.
type Transport struct {
	cfg   Config
	quota *admit.Quota
	acc   link.Acceptor
	certs *certReloader
	http  *http.Server
	// replies bounds server_full answers to connections refused for room.
	replies *rate.Limiter

	mu       sync.Mutex // guards conns and closing
	conns    map[*conn]struct{}
	closing  bool
	wg       sync.WaitGroup // handlers (readers) and writers
	stopOnce sync.Once

	stats counters
	tcp   sync.Map // remote address string -> *net.TCPConn, while open
}

// New returns a transport. quota is the admission budget shared with the
// relay's other transports (nil: one of its own with default caps).
func New(cfg Config, quota *admit.Quota, acc link.Acceptor) (*Transport, error) {
	if quota == nil {
		quota = admit.New(admit.Config{})
	}
	if cfg.Path == "" {
		cfg.Path = "/"
	}
	cfg.MaxFrameSize = dflt.Or(cfg.MaxFrameSize, 16<<10)
	cfg.InboxSize = dflt.Or(cfg.InboxSize, 64)
	cfg.MaxQueued = dflt.Or(cfg.MaxQueued, 4)
	cfg.MessageTimeout = dflt.Or(cfg.MessageTimeout, 10*time.Second)
	cfg.HandshakeTimeout = dflt.Or(cfg.HandshakeTimeout, 5*time.Second)
	t := &Transport{
		cfg:     cfg,
		quota:   quota,
		acc:     acc,
		conns:   make(map[*conn]struct{}),
		replies: newReplyLimiter(),
	}
	if (cfg.TLSCertFile == "") != (cfg.TLSKeyFile == "") {
		return nil, errors.New("wslink: TLS needs both a certificate and a key file")
	}
	if cfg.TLSCertFile != "" {
		cr, err := newCertReloader(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, err
		}
		t.certs = cr
	}
	mux := http.NewServeMux()
	mux.HandleFunc(cfg.Path, t.handle)
	t.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: cfg.HandshakeTimeout,
		ReadTimeout:       cfg.HandshakeTimeout, // the upgrade request; hijacked connections drop it
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          nil,
	}
	if t.certs != nil {
		t.http.TLSConfig = &tls.Config{GetCertificate: t.certs.get, MinVersion: tls.VersionTLS12}
	}
	return t, nil
}

// TLS reports whether the transport serves wss://.
func (t *Transport) TLS() bool { return t.certs != nil }

// tunedListener sets each accepted connection's socket options and
// remembers its TCP connection by remote address, for the handler (the
// WebSocket library hides the connection it hijacks; its round trip comes
// from the kernel's TCP_INFO).
type tunedListener struct {
	net.Listener
	t *Transport
}

func (l tunedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	tuneConn(c)
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	key := c.RemoteAddr().String()
	l.t.tcp.Store(key, tc)
	return &forgetOnClose{TCPConn: tc, forget: func() { l.t.tcp.CompareAndDelete(key, tc) }}, nil
}

// forgetOnClose drops a connection from Transport.tcp when it closes.
type forgetOnClose struct {
	*net.TCPConn
	once   sync.Once
	forget func()
}

func (c *forgetOnClose) Close() error {
	c.once.Do(c.forget)
	return c.TCPConn.Close()
}

// Serve accepts connections on ln until Stop; it returns nil after Stop.
func (t *Transport) Serve(ln net.Listener) error {
	ln = tunedListener{Listener: ln, t: t}
	var err error
	if t.certs != nil {
		err = t.http.ServeTLS(ln, "", "")
	} else {
		err = t.http.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// BeginTick implements the relay's transport: nothing to do, the writers
// send as soon as the tick hands them output.
func (t *Transport) BeginTick(time.Duration) {}

// EndTick implements the relay's transport.
func (t *Transport) EndTick() {}

// Stop closes the listeners and every connection, and waits for the
// transport's goroutines.
func (t *Transport) Stop() {
	t.stopOnce.Do(func() {
		t.mu.Lock()
		t.closing = true
		open := make([]*conn, 0, len(t.conns))
		for c := range t.conns {
			open = append(open, c)
		}
		t.mu.Unlock()
		_ = t.http.Close() // listeners; hijacked WebSocket connections are ours
		for _, c := range open {
			c.abort()
		}
	})
	t.wg.Wait()
}

// handle upgrades one request and runs the connection's reader in the
// handler's goroutine.
func (t *Transport) handle(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != t.cfg.Path {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Upgrade") == "" {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		http.Error(w, "tickrelay: this is a WebSocket endpoint", http.StatusUpgradeRequired)
		return
	}
	remote, ok := t.clientAddr(r)
	if !ok {
		http.Error(w, "bad remote address", http.StatusBadRequest)
		return
	}
	t.mu.Lock()
	if t.closing {
		t.mu.Unlock()
		http.Error(w, "tickrelay: shutting down", http.StatusServiceUnavailable)
		return
	}
	t.wg.Add(1)
	t.mu.Unlock()
	defer t.wg.Done()

	ip := admit.IPKey(remote.Addr())
	refusal := t.quota.Admit(ip, time.Now())
	if refusal != admit.OK && !(refusal.Answered() && t.replies.Allow()) {
		t.stats.refused[refusal].Add(1)
		status := http.StatusServiceUnavailable
		switch refusal {
		case admit.RateCap, admit.PerIPPending:
			status = http.StatusTooManyRequests
		case admit.Banned:
			status = http.StatusForbidden
		}
		http.Error(w, "tickrelay: "+refusal.String(), status)
		return
	}
	opts := &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled}
	if len(t.cfg.AllowedOrigins) > 0 {
		opts.OriginPatterns = t.cfg.AllowedOrigins
	} else {
		opts.InsecureSkipVerify = true // any origin: see Config.AllowedOrigins
	}
	c := &conn{t: t, remote: remote, ip: ip}
	if tc, ok := t.tcp.Load(r.RemoteAddr); ok {
		c.tcp = tc.(*net.TCPConn)
	}
	opts.OnPongReceived = func(context.Context, []byte) { c.heard() }
	opts.OnPingReceived = func(context.Context, []byte) bool { c.heard(); return true }
	ws, err := websocket.Accept(w, r, opts)
	if err != nil {
		// Accept wrote the HTTP error (a bad handshake or a refused origin).
		if refusal == admit.OK {
			t.quota.Release(ip, true)
		}
		t.stats.handshakeFailed.Add(1)
		return
	}
	if refusal != admit.OK {
		// No room for another session, or a banned address: say so in
		// the protocol, then close.
		t.stats.refused[refusal].Add(1)
		t.stats.fullReplies.Add(1)
		code, reason, status := codec.CodeServerFull, "the server is full", websocket.StatusTryAgainLater
		if refusal == admit.Banned {
			code, reason, status = codec.CodeBanned, "this address is banned", websocket.StatusPolicyViolation
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = ws.Write(ctx, websocket.MessageBinary, closeBody(code, reason))
		cancel()
		_ = ws.Close(status, code.String())
		return
	}
	c.init(ws)
	t.mu.Lock()
	if t.closing {
		t.mu.Unlock()
		c.abort()
		c.release()
		return
	}
	t.conns[c] = struct{}{}
	t.wg.Add(1)
	t.mu.Unlock()
	go func() { defer t.wg.Done(); c.writeLoop() }()
	t.stats.accepted.Add(1)
	if !t.acc.Accept(c) {
		c.abort()
	}
	c.readLoop()
}

// forget drops a finished connection.
func (t *Transport) forget(c *conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
}

// closeBody is the protocol's close message body: [4, code, reason].
func closeBody(code codec.Code, reason string) []byte {
	return codec.AppendClose(nil, code, reason)[codec.FrameHeaderSize:]
}
