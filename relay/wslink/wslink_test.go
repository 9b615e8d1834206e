package wslink

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay/admit"
	"github.com/tickrelay/tickrelay/relay/link"
)

// sink stands in for the relay's tick: it keeps the links it is given.
type sink struct {
	mu    sync.Mutex
	links []link.Link
	added chan link.Link
}

func (s *sink) Accept(l link.Link) bool {
	s.mu.Lock()
	s.links = append(s.links, l)
	s.mu.Unlock()
	s.added <- l
	return true
}

// serve runs a transport on 127.0.0.1:0 until the test ends and returns
// its ws:// URL.
func serve(t *testing.T, cfg Config) (*Transport, *sink, string) {
	t.Helper()
	sk := &sink{added: make(chan link.Link, 64)}
	tr, err := New(cfg, admit.New(admit.Config{MaxPendingPerIP: 1000, MaxSessionsPerIP: 1000}), sk)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- tr.Serve(ln) }()
	t.Cleanup(func() {
		tr.Stop()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	scheme := "ws://"
	if tr.TLS() {
		scheme = "wss://"
	}
	return tr, sk, scheme + ln.Addr().String() + "/"
}

func dialT(t *testing.T, url string, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	return ws
}

func next(t *testing.T, sk *sink) link.Link {
	t.Helper()
	select {
	case l := <-sk.added:
		return l
	case <-time.After(5 * time.Second): // a failure bound
		t.Fatal("no link accepted")
		return nil
	}
}

// takeUntil drains l until cond holds on everything taken so far.
func takeUntil(t *testing.T, l link.Link, what string, cond func([]link.Inbound) bool) []link.Inbound {
	t.Helper()
	var got []link.Inbound
	deadline := time.Now().Add(10 * time.Second)
	for !cond(got) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (%d items)", what, len(got))
		}
		got = append(got, l.Take(nil)...)
		runtime.Gosched()
		time.Sleep(time.Millisecond) // polling the inbox as the tick does, bounded by the deadline
	}
	return got
}

func failedWith(code codec.Code) func([]link.Inbound) bool {
	return func(in []link.Inbound) bool {
		return len(in) > 0 && in[len(in)-1].Body == nil && in[len(in)-1].Code == code
	}
}

// Messages arrive one body each; output frames leave one message each,
// without their length prefix.
func TestMessagesBothWays(t *testing.T) {
	_, sk, url := serve(t, Config{})
	ws := dialT(t, url, nil)
	l := next(t, sk)
	ctx := context.Background()
	for _, m := range []string{"a", "bc", "def"} {
		if err := ws.Write(ctx, websocket.MessageBinary, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	got := takeUntil(t, l, "three messages", func(in []link.Inbound) bool { return len(in) == 3 })
	for i, want := range []string{"a", "bc", "def"} {
		if string(*got[i].Body) != want {
			t.Fatalf("message %d: %q", i, *got[i].Body)
		}
	}
	out := codec.AppendPong(nil, 1, 2, 3, 4)
	out = codec.AppendOK(out, 9)
	l.Send(out)
	for _, typ := range []codec.Type{codec.TPong, codec.TOK} {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m, err := codec.DecodeServer(b); err != nil || m.Type != typ {
			t.Fatalf("got %v %v, want type %d", m, err, typ)
		}
	}
	if l.Transport() != "ws" || !l.Remote().Addr().IsLoopback() {
		t.Fatalf("transport %q remote %v", l.Transport(), l.Remote())
	}
}

// A message over the limit is refused once the limit is passed: the
// reader never holds more than the limit, whatever the client sends.
func TestOversizedMessageRefusedEarly(t *testing.T) {
	tr, sk, url := serve(t, Config{MaxFrameSize: 1024})
	ws := dialT(t, url, nil)
	l := next(t, sk)
	go func() {
		w, err := ws.Writer(context.Background(), websocket.MessageBinary)
		if err != nil {
			return
		}
		chunk := make([]byte, 64<<10)
		for range 1024 { // 64 MiB, if nobody stopped it
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}()
	takeUntil(t, l, "frame_too_large", failedWith(codec.CodeFrameTooLarge))
	if tr.Stats().TooLarge != 1 {
		t.Fatalf("stats %+v", tr.Stats())
	}
	b, err := readBody(bytes.NewReader(make([]byte, 1<<20)), nil, 1024)
	if !errors.Is(err, errTooLarge) || cap(b) > 1025 {
		t.Fatalf("readBody: %v, buffer of %d", err, cap(b))
	}
}

// A message trickled in tiny fragments for longer than MessageTimeout is
// cut off, whatever its size.
func TestFragmentFloodIsCutOff(t *testing.T) {
	_, sk, url := serve(t, Config{MessageTimeout: 300 * time.Millisecond})
	ws := dialT(t, url, nil)
	l := next(t, sk)
	w, err := ws.Writer(context.Background(), websocket.MessageBinary)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var werr error
	for time.Since(start) < 10*time.Second && werr == nil {
		_, werr = w.Write([]byte{1})
		time.Sleep(time.Millisecond) // the attacker's pace
	}
	if werr == nil {
		t.Fatal("a 10 s fragment flood was not cut off")
	}
	takeUntil(t, l, "the link closed", func([]link.Inbound) bool { return l.Closed() })
	t.Logf("cut off after %v", time.Since(start).Round(time.Millisecond))
}

// A text message is refused with malformed.
func TestTextMessageRefused(t *testing.T) {
	_, sk, url := serve(t, Config{})
	ws := dialT(t, url, nil)
	l := next(t, sk)
	if err := ws.Write(context.Background(), websocket.MessageText, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	takeUntil(t, l, "malformed", failedWith(codec.CodeMalformed))
}

// A full inbox stops the reader (that client only) until the tick takes.
func TestInboxBounded(t *testing.T) {
	_, sk, url := serve(t, Config{InboxSize: 4})
	ws := dialT(t, url, nil)
	l := next(t, sk)
	go func() {
		for range 20 {
			if ws.Write(context.Background(), websocket.MessageBinary, []byte{1}) != nil {
				return
			}
		}
	}()
	c := l.(*conn)
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out: %s", what)
			}
		}
	}
	inbox := func() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.inbox) }
	waitFor("a full inbox", func() bool { return inbox() == 4 })
	time.Sleep(50 * time.Millisecond) // give an unbounded reader the chance to overfill
	if n := inbox(); n != 4 {
		t.Fatalf("inbox holds %d, bound 4", n)
	}
	total := 0
	waitFor("every message", func() bool { total += len(l.Take(nil)); return total == 20 })
}

// A client that stops reading makes its link busy within a bounded number
// of frames, instead of the kernel queueing megabytes of stale ones.
func TestBusyWhenTheClientStopsReading(t *testing.T) {
	_, sk, url := serve(t, Config{})
	d := &net.Dialer{Control: recvBufferControl(4096)}
	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	dialT(t, url, &websocket.DialOptions{HTTPClient: client}) // never read
	l := next(t, sk)
	frame := codec.AppendClose(nil, codec.CodeBadRequest, strings.Repeat("x", 1000))
	sent := 0
	for ; !l.Busy() && sent < 10000; sent++ {
		l.Send(frame)
		time.Sleep(100 * time.Microsecond) // let the writer take it, as between ticks
	}
	if !l.Busy() {
		t.Fatalf("never busy after %d KiB to a client that does not read", sent)
	}
	t.Logf("busy after %d frames of 1 KiB", sent)
	if sent > 1000 {
		t.Fatalf("busy only after %d KiB", sent)
	}
}

// An origin outside AllowedOrigins is refused at the handshake.
func TestAllowedOrigins(t *testing.T) {
	_, _, url := serve(t, Config{AllowedOrigins: []string{"game.example.com"}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h := http.Header{"Origin": {"https://evil.example.com"}}
	if _, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("evil origin: %v %v", err, resp)
	}
	h = http.Header{"Origin": {"https://game.example.com"}}
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("allowed origin: %v", err)
	}
	ws.CloseNow()
}

// X-Forwarded-For counts only from a trusted proxy, and only its rightmost
// entry that is not a proxy.
func TestClientAddrBehindProxy(t *testing.T) {
	tr, err := New(Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, nil, &sink{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ peer, xff, want string }{
		{"192.0.2.1:5000", "203.0.113.9", "192.0.2.1"},                     // not a proxy: the header is ignored
		{"10.1.2.3:5000", "203.0.113.9", "203.0.113.9"},                    // a proxy names its client
		{"10.1.2.3:5000", "1.1.1.1, 203.0.113.9, 10.9.9.9", "203.0.113.9"}, // client-written entries are skipped
		{"10.1.2.3:5000", "", "10.1.2.3"},
		{"10.1.2.3:5000", "garbage", "10.1.2.3"},
	} {
		r := &http.Request{RemoteAddr: c.peer, Header: http.Header{}}
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		got, ok := tr.clientAddr(r)
		if !ok || got.Addr().String() != c.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %v, want %s", c.peer, c.xff, got, c.want)
		}
	}
}

// writeCert writes a fresh self-signed certificate for 127.0.0.1 and its
// key, and returns the certificate's serial.
func writeCert(t *testing.T, certFile, keyFile string, serial int64) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "relay"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// wss:// is served from the files, and a renewed certificate is picked up
// without a restart.
func TestTLSServedAndReloaded(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, certFile, keyFile, 1)
	tr, sk, url := serve(t, Config{TLSCertFile: certFile, TLSKeyFile: keyFile})
	if !strings.HasPrefix(url, "wss://") {
		t.Fatal(url)
	}
	serialSeen := func() int64 {
		var serial int64
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true, // a self-signed test certificate; the serial is checked below
			VerifyConnection: func(cs tls.ConnectionState) error {
				serial = cs.PeerCertificates[0].SerialNumber.Int64()
				return nil
			},
		}}}
		ws := dialT(t, url, &websocket.DialOptions{HTTPClient: client})
		next(t, sk)
		if err := ws.Write(context.Background(), websocket.MessageBinary, []byte{1}); err != nil {
			t.Fatal(err)
		}
		return serial
	}
	if s := serialSeen(); s != 1 {
		t.Fatalf("serial %d, want 1", s)
	}
	writeCert(t, certFile, keyFile, 2)
	later := time.Now().Add(2 * time.Second)
	tr.certs.mu.Lock()
	tr.certs.now = func() time.Time { return later } // the once-a-second check is due
	// File systems with coarse timestamps: make sure the times differ.
	_ = os.Chtimes(certFile, later, later)
	_ = os.Chtimes(keyFile, later, later)
	tr.certs.mu.Unlock()
	if s := serialSeen(); s != 2 {
		t.Fatalf("after renewal: serial %d, want 2", s)
	}
}
