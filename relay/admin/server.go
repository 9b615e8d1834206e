package admin

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// DefaultAddr is where Server listens when Addr is empty: loopback, because
// the API is plain HTTP (put it behind TLS or an SSH tunnel to reach it from
// elsewhere).
const DefaultAddr = "127.0.0.1:9200"

// ErrNoToken is returned by Serve when the handler has no token: an admin
// API anyone can call is never what an operator wants.
var ErrNoToken = errors.New("admin: refusing to serve without a token")

// Server serves a Handler over HTTP, like http.Server. Serve and
// ListenAndServe return http.ErrServerClosed after Shutdown or Close.
type Server struct {
	// Addr is the TCP address to listen on; empty means DefaultAddr.
	Addr string
	// Handler serves the requests. Its Token and Relay must be set.
	Handler *Handler

	mu     sync.Mutex
	http   *http.Server
	closed bool
}

// httpServer makes the http.Server on first use; it fails once the Server
// is closed, so that a Serve after Shutdown returns at once.
func (s *Server) httpServer() (*http.Server, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, http.ErrServerClosed
	}
	if s.http == nil {
		callTimeout := DefaultTimeout
		if s.Handler != nil && s.Handler.Timeout > 0 {
			callTimeout = s.Handler.Timeout
		}
		s.http = &http.Server{
			Handler: s.Handler,
			// A client that opens connections and sends nothing (or
			// dribbles) must not hold them forever; a response may take
			// as long as the slowest relay call.
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      callTimeout + 10*time.Second,
			IdleTimeout:       60 * time.Second,
			MaxHeaderBytes:    16 << 10,
		}
	}
	return s.http, nil
}

func (s *Server) check() error {
	switch {
	case s.Handler == nil:
		return errors.New("admin: Server.Handler is nil")
	case s.Handler.Token == "":
		return ErrNoToken
	case s.Handler.Relay == nil:
		return errors.New("admin: Handler.Relay is nil")
	}
	return nil
}

// ListenAndServe listens on Addr and serves until Shutdown or Close.
func (s *Server) ListenAndServe() error {
	if err := s.check(); err != nil {
		return err
	}
	addr := s.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve serves on ln until Shutdown or Close; it closes ln when it returns.
func (s *Server) Serve(ln net.Listener) error {
	err := s.check()
	var srv *http.Server
	if err == nil {
		srv, err = s.httpServer()
	}
	if err != nil {
		ln.Close()
		return err
	}
	return srv.Serve(ln)
}

// Shutdown stops accepting connections and waits for requests in flight to
// finish, or for ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	if srv := s.stop(); srv != nil {
		return srv.Shutdown(ctx)
	}
	return nil
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	if srv := s.stop(); srv != nil {
		return srv.Close()
	}
	return nil
}

// stop marks the Server closed and returns its http.Server, or nil if it
// was closed before.
func (s *Server) stop() *http.Server {
	srv, err := s.httpServer()
	if err != nil {
		return nil
	}
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return srv
}
