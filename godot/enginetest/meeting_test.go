package enginetest

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/godot/web"
	"github.com/tickrelay/tickrelay/internal/relaytest"
	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/match"
)

// meetingRelay starts a relay whose matchmaker has the queue "duel" (2
// players, run every 100 ms), and ana, a Go client over KCP in the lobby
// channel "global" where she said "hello lobby". The returned func waits
// for the engine clients' line "ready" in global, then has the operator
// announce "restart at 18:00" (tests/meeting_e2e_test.gd waits for it).
func meetingRelay(t *testing.T) (srv *relay.Server, kcpAddr, wsURL string, announce func(ctx context.Context) error) {
	t.Helper()
	srv = &relay.Server{Matchmaker: &match.Config{Queues: map[string]match.QueueConfig{
		"duel": {MaxPlayers: 2, SkillWindow: 100, Interval: 100 * time.Millisecond},
	}}}
	kcpAddr, wsURL = relaytest.StartBoth(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ana := dialInLobby(t, ctx, kcpAddr, "ana", "hello lobby")
	announce = func(ctx context.Context) error {
		err := ana.waitFor(ctx, "the engine's line in global", func(_ []codec.Event, chat []codec.ChatMsg) bool {
			for _, c := range chat {
				if c.Channel == "global" && c.FromName == "gd-a" && c.Text == "ready" {
					return true
				}
			}
			return false
		})
		if err != nil {
			return err
		}
		return srv.Announce(ctx, "restart at 18:00")
	}
	return srv, kcpAddr, wsURL, announce
}

// TestMeetingEndToEnd runs tests/meeting_e2e_test.gd in Godot 3.2 with two
// engine clients over KCP: lobby chat (history, lines with their channel),
// an announcement, a party (create, join by code, its channel, leave), and
// both queueing for a 2-player match and landing in one room.
func TestMeetingEndToEnd(t *testing.T) {
	t.Parallel()
	godotBin(t)
	_, kcpAddr, _, announce := meetingRelay(t)
	run := startScript(t, 40*time.Second, "node_runner.gd", "--node=meeting_e2e_test.gd", "--port="+portOf(t, kcpAddr), "--timeout-ms=30000")
	ctx, cancel := context.WithTimeout(context.Background(), 35*time.Second)
	defer cancel()
	if err := announce(ctx); err != nil {
		run.wait()
		t.Fatal(err)
	}
	res := run.wait()
	for _, l := range strings.Split(res.out, "\n") {
		if strings.HasPrefix(l, "meeting:") {
			t.Log(l)
		}
	}
}

// TestMeetingWebSocket is TestMeetingEndToEnd in the Godot 4.6 web engine:
// the two clients over WebSocket.
func TestMeetingWebSocket(t *testing.T) {
	t.Parallel()
	sharedWebEngine(t)
	_, _, wsURL, announce := meetingRelay(t)
	u, err := url.Parse(wsURL)
	if err != nil {
		t.Fatal(err)
	}
	run := startWebPlan(t, addonPack(t), []web.Step{{
		Script:         "res://tests/meeting_e2e_test.gd",
		Kind:           web.StepNode,
		Args:           map[string]string{"port": u.Port(), "timeout-ms": "30000"},
		TimeoutSeconds: 40,
	}}, nil, 60*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	if err := announce(ctx); err != nil {
		run.failer(t)("%v", err)
	}
	res := run.wait()
	for _, l := range res.Output {
		if strings.HasPrefix(l.Text, "meeting:") {
			t.Log(l.Text)
		}
	}
}
