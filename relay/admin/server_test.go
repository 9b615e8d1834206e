package admin

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine running.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// startServer serves h on a loopback port until the test ends, and checks
// that Serve returns ErrServerClosed after Shutdown.
func startServer(t *testing.T, h *Handler) (baseURL string) {
	t.Helper()
	ln := listenLoopback(t)
	srv := &Server{Handler: h}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func TestServerRefusesToStartWithoutAToken(t *testing.T) {
	for _, srv := range []*Server{
		{Handler: &Handler{Relay: newFakeRelay()}},
		{Addr: "127.0.0.1:0", Handler: &Handler{Relay: newFakeRelay()}},
	} {
		ln := listenLoopback(t)
		if err := srv.Serve(ln); !errors.Is(err, ErrNoToken) {
			t.Errorf("Serve without a token: %v, want ErrNoToken", err)
		}
		if _, err := ln.Accept(); err == nil {
			t.Errorf("Serve refused but left the listener open")
		}
		if err := srv.ListenAndServe(); !errors.Is(err, ErrNoToken) {
			t.Errorf("ListenAndServe without a token: %v, want ErrNoToken", err)
		}
	}
	if err := (&Server{}).Serve(listenLoopback(t)); err == nil || errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve without a handler: %v", err)
	}
	if err := (&Server{Handler: &Handler{Token: "t"}}).Serve(listenLoopback(t)); err == nil {
		t.Errorf("Serve without a relay: no error")
	}
}

func TestServerServesTheAPIAndTheDashboard(t *testing.T) {
	relay := newFakeRelay()
	relay.setOverview(testOverview())
	base := startServer(t, &Handler{Relay: relay, Token: testToken})

	get := func(path, auth string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}

	if resp, body := get("/api/v1/overview", "Bearer "+testToken); resp.StatusCode != 200 || !strings.Contains(body, `"players":3`) {
		t.Errorf("overview: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get("/api/v1/overview", ""); resp.StatusCode != 401 {
		t.Errorf("overview without a token: %d", resp.StatusCode)
	}
	resp, body := get("/", "")
	if resp.StatusCode != 200 || !strings.Contains(body, "<title>tickrelay admin</title>") {
		t.Errorf("dashboard: %d %.200s", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("dashboard CSP %q", csp)
	}
	for _, f := range []string{"/static/app.js", "/static/chart.js", "/static/style.css"} {
		if resp, body := get(f, ""); resp.StatusCode != 200 || len(body) < 500 {
			t.Errorf("%s: %d, %d bytes", f, resp.StatusCode, len(body))
		}
	}
	if resp, _ := get("/static/nothing.js", ""); resp.StatusCode != 404 {
		t.Errorf("missing file: %d", resp.StatusCode)
	}
	// The page loads nothing from anywhere else.
	for _, f := range []string{"/", "/static/app.js", "/static/chart.js", "/static/style.css"} {
		if _, body := get(f, ""); strings.Contains(body, "http://") || strings.Contains(body, "https://") {
			t.Errorf("%s names an external URL", f)
		}
	}
}

func TestServeAfterShutdownReturnsAtOnce(t *testing.T) {
	srv := &Server{Handler: &Handler{Relay: newFakeRelay(), Token: testToken}}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(listenLoopback(t)); !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve after Shutdown: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("Close after Shutdown: %v", err)
	}
}

func TestStuckRelayOverHTTPThenClose(t *testing.T) {
	relay := newFakeRelay()
	relay.stuck = true
	h := &Handler{Relay: relay, Token: testToken, Timeout: 100 * time.Millisecond}
	ln := listenLoopback(t)
	srv := &Server{Handler: h}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()

	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/api/v1/overview", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("stuck relay over HTTP: %d, want 503", resp.StatusCode)
	}
	http.DefaultClient.CloseIdleConnections()
	if err := srv.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}
}
