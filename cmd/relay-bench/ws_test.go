//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"
)

// wsRun runs the bench with an embedded relay and returns its report.
func wsRun(t *testing.T, args ...string) *report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	args = append([]string{"-embedded", "-room-size", "8", "-duration", "1500ms", "-warmup", "300ms", "-progress", "0", "-json"}, args...)
	if err := run(ctx, args, &out, &errOut); err != nil {
		t.Fatalf("run %v: %v\n%s", args, err, errOut.String())
	}
	var r report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("json: %v\n%s", err, out.String())
	}
	t.Logf("%v:\n%s", args, errOut.String())
	return &r
}

// WebSocket bots alone, then beside KCP bots in the same rooms: every bot
// joins, states cross between bots of either transport both ways, and
// each transport's figures are reported on their own. Counts, not timing.
func TestWebSocketAndMixedBots(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(),
		// kcp-go's process-wide scheduler, started on first use.
		goleak.IgnoreTopFunction("github.com/xtaci/kcp-go/v5.(*TimedSched).sched"),
		goleak.IgnoreTopFunction("github.com/xtaci/kcp-go/v5.(*TimedSched).prepend"))
	for _, tc := range []struct {
		transport string
		bots      map[string]int
	}{
		{"ws", map[string]int{"ws": 16}},
		{"mixed", map[string]int{"kcp": 8, "ws": 8}},
	} {
		r := wsRun(t, "-players", "16", "-transport", tc.transport)
		if r.Transport != tc.transport || r.CCU != 16 || r.Joined != 16 || r.Failed != 0 {
			t.Errorf("%s: transport %q, ccu %d, joined %d, failed %d; want 16 joined", tc.transport, r.Transport, r.CCU, r.Joined, r.Failed)
		}
		if len(r.Transports) != len(tc.bots) {
			t.Errorf("%s: reports for %d transports, want %d", tc.transport, len(r.Transports), len(tc.bots))
		}
		for name, n := range tc.bots {
			tr := r.Transports[name]
			if tr == nil {
				t.Errorf("%s: no report for %s", tc.transport, name)
				continue
			}
			if tr.Bots != n || tr.CCU != n || tr.Joined != uint64(n) || tr.Failed != 0 {
				t.Errorf("%s/%s: bots %d ccu %d joined %d failed %d, want %d", tc.transport, name, tr.Bots, tr.CCU, tr.Joined, tr.Failed, n)
			}
			if tr.StatesSentPerSec <= 0 || tr.FramesPerSec <= 0 || tr.Latency.Samples == 0 || tr.RTT.Samples == 0 || tr.Jitter.Samples == 0 {
				t.Errorf("%s/%s: states sent %.0f/s, frames %.0f/s, latency %+v, rtt %+v", tc.transport, name,
					tr.StatesSentPerSec, tr.FramesPerSec, tr.Latency, tr.RTT)
			}
			// States crossed from every transport in the run.
			for from := range tc.bots {
				if l := tr.LatencyFrom[from]; l.Samples == 0 || l.P50 <= 0 {
					t.Errorf("%s: no states from %s bots reached %s bots (%+v)", tc.transport, from, name, tr.LatencyFrom)
				}
			}
			// Overhead may be under 1: its model counts a header per
			// message, and under load several messages share a segment.
			for dir, d := range map[string]direction{"down": tr.Down, "up": tr.Up} {
				if d.WireBytes <= d.PayloadBytes || d.PayloadBytes <= 0 || d.Datagrams <= 0 || d.Messages <= 0 || d.Overhead <= 0 {
					t.Errorf("%s/%s: %s traffic %+v", tc.transport, name, dir, d)
				}
			}
			if tr.ParseErrors != 0 {
				t.Errorf("%s/%s: %d parse errors", tc.transport, name, tr.ParseErrors)
			}
		}
		if ws := r.Transports["ws"]; ws != nil {
			// At most a few TCP segments per message: the relay writes
			// each message on its own and acks ride on the other way's
			// data (under load several messages share a segment). No
			// rate bounds: a loaded host skips ticks.
			if ws.Down.Datagrams <= 0 || ws.Down.Datagrams > 3*ws.Down.Messages {
				t.Errorf("%s: %.1f TCP segments for %.1f messages down", tc.transport, ws.Down.Datagrams, ws.Down.Messages)
			}
			if r.Server.Connections["ws"] != tc.bots["ws"] || r.Server.WSMessagesOut == 0 {
				t.Errorf("%s: server saw %v connections, %d WebSocket messages out", tc.transport, r.Server.Connections, r.Server.WSMessagesOut)
			}
		}
		if r.ClosesSeen["client_closed"] != 16 {
			t.Errorf("%s: closes after bye: %v", tc.transport, r.ClosesSeen)
		}
	}
}

// WebSocket bots connect from their own addresses: more bots than the
// relay's default sessions per IP (32) all join.
func TestWebSocketBotsHaveTheirOwnAddresses(t *testing.T) {
	r := wsRun(t, "-players", "40", "-transport", "ws", "-ramp", "400", "-duration", "500ms", "-warmup", "0")
	if r.CCU != 40 || r.Failed != 0 {
		t.Fatalf("ccu %d failed %d, errors %v, first error %q", r.CCU, r.Failed, r.ErrorsSeen, r.Transports["ws"].FirstError)
	}
}

func TestTransportFlags(t *testing.T) {
	for _, args := range [][]string{{"-transport", "udp"}, {"-ws-path", "x"}} {
		if _, err := parse(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	err := run(context.Background(), []string{"-transport", "ws", "-ws-addr", "10.0.0.1:7777", "-players", "1"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("-ws-addr 10.0.0.1: %v, want a loopback refusal", err)
	}
	c, err := parse([]string{"-transport", "mixed", "-players", "10"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	plans := planRooms(c)
	if len(plans) != 2 || plans[0].count(kindKCP) != 4 || plans[0].count(kindWS) != 4 || plans[1].count(kindWS) != 1 {
		t.Errorf("mixed plan of 10 bots in rooms of 8: %+v", plans)
	}
}

// A WebSocket bot that the relay refuses (503, as when too many
// connections are in their handshake) asks again after a pause, as a game
// client would, and each refusal is counted.
func TestWebSocketBotRetriesRefusedConnections(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var refused atomic.Int32
	accepted := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refused.Add(1) <= 2 {
			http.Error(w, "pending_cap", http.StatusServiceUnavailable)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		close(accepted)
		c.CloseNow()
	}))
	defer srv.Close()
	c, err := parse([]string{"-players", "1", "-transport", "ws", "-join-timeout", "10s"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	ctl := &control{total: 1, settledC: make(chan struct{})}
	s := newWSSet(c, "ws"+strings.TrimPrefix(srv.URL, "http")+"/", ctl, planRooms(c))
	defer s.phaseChanged(phaseStop)
	b := s.bots[0]
	tm := time.NewTimer(time.Hour)
	defer tm.Stop()
	if !b.connect(tm) {
		t.Fatalf("not connected: %v, first error %q", b.sh.st.errors, s.firstDialError())
	}
	defer b.conn.CloseNow()
	<-accepted
	if got := b.sh.st.errors["ws_connect_retried"]; got != 2 || refused.Load() != 3 {
		t.Errorf("%d retries counted, %d requests, want 2 and 3", got, refused.Load())
	}
	if !strings.Contains(s.firstDialError(), "503") {
		t.Errorf("first error %q, want the 503", s.firstDialError())
	}
}
