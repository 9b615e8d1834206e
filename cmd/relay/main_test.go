package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/relay/client"
	"github.com/tickrelay/tickrelay/relay/webhook"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestEnvironmentFillsFlagsAndCommandLineWins(t *testing.T) {
	c, err := parse([]string{"-tick-rate", "60"}, env(map[string]string{
		"RELAY_ADDR": "127.0.0.1:9000", "RELAY_TICK_RATE": "20", "RELAY_IDLE_TIMEOUT": "3s", "RELAY_MAX_STATE_BYTES": "512",
	}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.srv.Addr != "127.0.0.1:9000" || c.srv.TickRate != 60 || c.srv.IdleTimeout != 3*time.Second || c.srv.Limits.State != 512 {
		t.Fatalf("got addr %q rate %d idle %v state %d", c.srv.Addr, c.srv.TickRate, c.srv.IdleTimeout, c.srv.Limits.State)
	}
	if _, err := parse(nil, env(map[string]string{"RELAY_TICK_RATE": "fast"}), &bytes.Buffer{}); err == nil ||
		!strings.Contains(err.Error(), "RELAY_TICK_RATE") {
		t.Fatalf("bad env value: %v", err)
	}
}

func TestHelpListsFlagsAndEnvironment(t *testing.T) {
	var out bytes.Buffer
	_, err := parse([]string{"-h"}, env(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, want := range []string{"-addr", "-tick-rate", "-log-format", "RELAY_TICK_RATE", "-max-state-bytes"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestBadSettingsFail(t *testing.T) {
	ctx := context.Background()
	for _, args := range [][]string{{"-log-level", "loud"}, {"-log-format", "xml"}, {"-tick-rate", "500", "-addr", "127.0.0.1:0"}, {"extra"}} {
		if err := run(ctx, args, env(nil), &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, env(nil), &out, &bytes.Buffer{}) }()
	stopRun(t, cancel, done)
}

func TestWebSocketListFlags(t *testing.T) {
	c, err := parse([]string{"-allowed-origins", "*.itch.zone, https://game.example.com", "-trusted-proxies", "10.0.0.0/8,192.0.2.7"}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.applyLists(); err != nil {
		t.Fatal(err)
	}
	w := c.srv.WebSocket
	if len(w.AllowedOrigins) != 2 || w.AllowedOrigins[0] != "*.itch.zone" || w.AllowedOrigins[1] != "https://game.example.com" {
		t.Fatalf("origins %q", w.AllowedOrigins)
	}
	if len(w.TrustedProxies) != 2 || w.TrustedProxies[0].String() != "10.0.0.0/8" || w.TrustedProxies[1].String() != "192.0.2.7/32" {
		t.Fatalf("proxies %v", w.TrustedProxies)
	}
	c, _ = parse([]string{"-trusted-proxies", "not-an-address"}, env(nil), &bytes.Buffer{})
	if err := c.applyLists(); err == nil {
		t.Fatal("a bad proxy address was accepted")
	}
}

// lockedBuffer is a log sink the test may read while the relay writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The binary serves KCP and WebSocket players from one command line, and
// both reach the same relay.
func TestRunServesKCPAndWebSocket(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-ws-addr", "127.0.0.1:0"}, env(nil), out, &bytes.Buffer{})
	}()
	addrs := map[string]string{}
	for deadline := time.Now().Add(10 * time.Second); len(addrs) < 2; time.Sleep(5 * time.Millisecond) { // polling the log
		if time.Now().After(deadline) {
			t.Fatalf("no listening lines:\n%s", out.String())
		}
		for _, line := range strings.Split(out.String(), "\n") {
			var l struct{ Message, Addr, Transport string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Message == "relay listening" {
				addrs[l.Transport] = l.Addr
			}
		}
	}
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	k, err := client.Dial(dctx, addrs["kcp"], client.Options{Name: "k"})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	w, err := client.Dial(dctx, "ws://"+addrs["ws"]+"/", client.Options{Name: "w"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if k.ID() == w.ID() {
		t.Fatal("both players got one id")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
}

// listening waits for the relay's log to name the address of each listener
// ("kcp", "ws", "admin", "metrics").
func listening(t *testing.T, out *lockedBuffer, want ...string) map[string]string {
	t.Helper()
	addrs := map[string]string{}
	for deadline := time.Now().Add(10 * time.Second); len(addrs) < len(want); time.Sleep(5 * time.Millisecond) { // polling the log
		if time.Now().After(deadline) {
			t.Fatalf("no listening lines for %v:\n%s", want, out.String())
		}
		for _, line := range strings.Split(out.String(), "\n") {
			var l struct{ Message, Addr, Transport string }
			if json.Unmarshal([]byte(line), &l) != nil {
				continue
			}
			for _, w := range want {
				if (w == "admin" && l.Message == "admin API listening") || (w == "metrics" && l.Message == "metrics listening") ||
					(l.Message == "relay listening" && l.Transport == w) {
					addrs[w] = l.Addr
				}
			}
		}
	}
	return addrs
}

// The operator API comes up with the relay from a token file, refuses a
// request without the token, and answers one with it; webhooks from the
// flags reach a backend.
func TestRunServesTheOperatorAPIAndWebhooks(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	events := make(chan string, 16)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := webhook.VerifyRequest(r, "hook", 1<<20)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var e webhook.Envelope
		_ = json.Unmarshal(body, &e)
		events <- e.Type
	}))
	defer backend.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-ws-addr", "off", "-admin-addr", "127.0.0.1:0",
			"-admin-token-file", tokenFile, "-webhook-url", backend.URL, "-webhook-secret", "hook"}, env(nil), out, &bytes.Buffer{})
	}()
	addrs := listening(t, out, "kcp", "admin")
	get := func(token string) int {
		req, _ := http.NewRequest("GET", "http://"+addrs["admin"]+"/api/v1/overview", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(""); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", code)
	}
	if code := get("wrong"); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", code)
	}
	if code := get("s3cret-token"); code != http.StatusOK {
		t.Fatalf("the token from the file: %d", code)
	}
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	c, err := client.Dial(dctx, addrs["kcp"], client.Options{Name: "p"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.CreateRoom(dctx, client.RoomOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"room.created", "player.joined"} {
		select {
		case got := <-events:
			if got != want {
				t.Fatalf("event %q, want %q", got, want)
			}
		case <-dctx.Done():
			t.Fatalf("no %s event", want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestAdminNeedsAToken(t *testing.T) {
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-admin-addr", "127.0.0.1:0"}, env(nil), &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "admin-token") {
		t.Fatalf("an admin API without a token: %v", err)
	}
	if got := adminListenAddr(":9200"); got != "127.0.0.1:9200" {
		t.Fatalf("a bare port binds %q", got)
	}
}

func TestMatchmakerConfigFlag(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "mm.json")
	if err := os.WriteFile(bad, []byte(`{"queues": {"duel": {"max_playerz": 2}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-matchmaker-config", bad}, env(nil), &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "max_playerz") {
		t.Fatalf("a misspelt setting: %v", err)
	}
}
