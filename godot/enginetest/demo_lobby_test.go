package enginetest

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/godot/web"
	"github.com/tickrelay/tickrelay/internal/relaytest"
	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/match"
)

// TestDemoLobby runs the demo's lobby headless in the Godot 4.6 web engine
// (tests/demo_lobby_test.gd checks what its labels show) with bo, a Go
// client: the demo creates a party, bo joins it by the code the demo shows,
// the demo's lobby line reaches #global, the party queues for "arena" (the
// relay's queue pairs two players) and lands in one room, then leaves.
func TestDemoLobby(t *testing.T) {
	t.Parallel()
	sharedWebEngine(t)
	srv := &relay.Server{Matchmaker: &match.Config{Queues: map[string]match.QueueConfig{
		"arena": {MaxPlayers: 2, SkillWindow: 1000, Interval: 100 * time.Millisecond},
	}}}
	kcpAddr, wsURL := relaytest.StartBoth(t, srv)
	u, err := url.Parse(wsURL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	ana := dialInLobby(t, ctx, kcpAddr, "ana", "hello lobby")
	bo := dialRecorded(t, ctx, kcpAddr, "bo")

	p := addonPack(t)
	if err := p.AddFS(os.DirFS(filepath.Join("..", "demo")), ".", "demo", func(rel string, d os.DirEntry) bool {
		return rel == "addons" || (!d.IsDir() && !strings.HasSuffix(rel, ".gd"))
	}); err != nil {
		t.Fatal(err)
	}
	settings := map[string]map[string]string{
		"autoload":  {"Relay": `"*res://addons/tickrelay/relay_node.gd"`},
		"tickrelay": {"host": `"127.0.0.1"`, "port": u.Port()},
	}
	run := startWebPlan(t, p, []web.Step{{
		Script: "res://tests/demo_lobby_test.gd", Kind: web.StepNode,
		Args: map[string]string{"timeout-ms": "30000"}, TimeoutSeconds: 40,
	}}, settings, 60*time.Second)
	fail := run.failer(t)
	line, err := run.waitLine(ctx, "demo-lobby: party ")
	if err != nil {
		fail("%v", err)
	}
	code := strings.TrimSpace(line[strings.Index(line, "party ")+len("party "):])
	if _, err := bo.c.JoinParty(ctx, code); err != nil {
		fail("bo joins party %q: %v", code, err)
	}
	if err := ana.waitFor(ctx, "the demo's lobby line", func(_ []codec.Event, chat []codec.ChatMsg) bool {
		for _, c := range chat {
			if c.Channel == "global" && c.Text == "lobby line from the demo" {
				return true
			}
		}
		return false
	}); err != nil {
		fail("%v", err)
	}
	run.wait()
}
