package enginetest

import (
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/internal/lossy"
	"github.com/xtaci/kcp-go/v5"
)

func TestKCPSelf(t *testing.T) {
	t.Parallel()
	runScript(t, 30*time.Second, "kcp_self_test.gd", "--seed=7")
}

func TestKCPEchoCleanPath(t *testing.T) {
	t.Parallel()
	godotBin(t)
	srv := startEchoServer(t)
	res := runScript(t, 40*time.Second, "kcp_echo_test.gd",
		"--host=127.0.0.1", "--port="+strconv.Itoa(srv.port()), "--messages=200", "--seed=11", "--timeout-ms=25000")
	t.Logf("%d checks passed in %v", res.passed, res.duration.Round(time.Millisecond))
	if srv.sessionCount() != 1 {
		t.Errorf("server saw %d sessions, want 1", srv.sessionCount())
	}
}

func TestKCPEchoLossyPath(t *testing.T) {
	t.Parallel()
	godotBin(t)
	srv := startEchoServer(t)
	link := lossy.Link{Drop: 0.05, Duplicate: 0.01, Reorder: 0.02, Delay: 20 * time.Millisecond, Jitter: 10 * time.Millisecond}
	p, err := lossy.New(lossy.Config{
		Upstream: net.JoinHostPort("127.0.0.1", strconv.Itoa(srv.port())),
		ToServer: link,
		ToClient: link,
		Seed:     20260101,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	res := runScript(t, 50*time.Second, "kcp_echo_test.gd",
		"--host=127.0.0.1", "--port="+strconv.Itoa(p.Addr().Port), "--messages=200", "--seed=12", "--timeout-ms=35000")
	up, down := p.Stats(lossy.ToServer), p.Stats(lossy.ToClient)
	t.Logf("%d checks passed in %v; proxy to server %+v; to client %+v", res.passed, res.duration.Round(time.Millisecond), up, down)
	if up.Dropped == 0 || down.Dropped == 0 || up.Delayed == 0 {
		t.Errorf("the path was not impaired: up %+v down %+v", up, down)
	}
}

// echoServer is a kcp-go v5 server with the relay's session settings that
// writes back every byte it reads.
type echoServer struct {
	conn *net.UDPConn
	l    *kcp.Listener

	mu       sync.Mutex
	sessions []*kcp.UDPSession
	wg       sync.WaitGroup
}

func startEchoServer(t *testing.T) *echoServer {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	// Room for a full window of bursts even when -race slows the reader;
	// kernel drops would make the "clean" path lossy.
	_ = conn.SetReadBuffer(4 << 20)
	_ = conn.SetWriteBuffer(4 << 20)
	l, err := kcp.ServeConn(nil, 0, 0, conn)
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{conn: conn, l: l}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

func (s *echoServer) port() int { return s.conn.LocalAddr().(*net.UDPAddr).Port }

func (s *echoServer) accept() {
	defer s.wg.Done()
	for {
		sess, err := s.l.AcceptKCP()
		if err != nil {
			return
		}
		sess.SetNoDelay(1, 10, 2, 1)
		sess.SetWindowSize(128, 128)
		sess.SetMtu(1200)
		s.mu.Lock()
		s.sessions = append(s.sessions, sess)
		s.mu.Unlock()
		s.wg.Add(1)
		go s.echo(sess)
	}
}

func (s *echoServer) echo(sess *kcp.UDPSession) {
	defer s.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n, err := sess.Read(buf)
		if err != nil {
			return
		}
		if _, err := sess.Write(buf[:n]); err != nil {
			return
		}
	}
}

func (s *echoServer) sessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// close stops accepting, closes the sessions (the listener does not) and the
// socket (ServeConn does not own it), then waits for the goroutines.
func (s *echoServer) close() {
	_ = s.l.Close()
	s.mu.Lock()
	for _, sess := range s.sessions {
		_ = sess.Close()
	}
	s.mu.Unlock()
	if err := s.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		panic(err)
	}
	s.wg.Wait()
}
