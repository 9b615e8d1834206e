package enginetest

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tickrelay/tickrelay/godot/web"
	"github.com/tickrelay/tickrelay/internal/relaytest"
	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/admin"
	"github.com/tickrelay/tickrelay/relay/client"
	"github.com/tickrelay/tickrelay/relay/cluster"
	"github.com/tickrelay/tickrelay/relay/match"
)

// TestCluster runs the addon against a real cluster of three relays (one
// started for all its subtests: forming it takes seconds), each serving
// KCP and WebSocket with an embedded NATS server routed to the others
// (relaytest.StartCluster), with no stand-ins (tests/cluster_e2e_test.gd):
//   - Godot3JoinByCode: a Go client makes a room; the engine, over KCP,
//     joins it by code through another node, follows the redirect to the
//     room's node, exchanges states with the Go client there, and a second
//     engine client on the third node lists the room with both players;
//   - WebJoinByCode: the same in the Godot 4.6 web engine over WebSocket,
//     on a page that draws where the player is (asserted in a screenshot);
//   - Godot3Match: the engine queues for a duel on one node, a Go client
//     on the matchmaker's leader, which hosts the match: the engine gets a
//     match message and a redirect with rid 0, follows it, and the game
//     sees room_joined then match_found on the host node;
//   - WebMatch: the same in the web engine over WebSocket (on a queue of
//     its own, so that the two engines are not matched with each other);
//   - Godot3Party, WebParty: a Go client makes a party; the engine joins
//     it by its code through another node and follows the redirect to the
//     party's node;
//   - Godot3PartyMatch, WebPartyMatch: the engine in a Go client's party;
//     the party queues for a match of five with three players of another
//     node, which hosts it: the party moves there with the match.
func TestCluster(t *testing.T) {
	t.Parallel()
	if !godot3Present() && web.Available() != nil {
		godotBin(t) // skips, or fails under RELAY_REQUIRE_GODOT=1
	}
	queues := &match.Config{Queues: map[string]match.QueueConfig{
		"duel":     {Teams: 2, TeamSize: 1, SkillWindow: 1000, Interval: 50 * time.Millisecond},
		"duel-web": {Teams: 2, TeamSize: 1, SkillWindow: 1000, Interval: 50 * time.Millisecond},
		"five":     {MaxPlayers: 5, SkillWindow: 1000, Interval: 50 * time.Millisecond},
		"five-web": {MaxPlayers: 5, SkillWindow: 1000, Interval: 50 * time.Millisecond},
	}}
	nodes := relaytest.StartCluster(t, 3, 3*time.Second, func(_ int, s *relay.Server) { s.Matchmaker = queues })
	for _, st := range []struct {
		name string
		run  func(*testing.T, []*relaytest.ClusterNode, bool)
	}{{"JoinByCode", clusterJoin}, {"Match", clusterMatch}, {"Party", clusterParty}, {"PartyMatch", clusterPartyMatch}} {
		t.Run("Godot3"+st.name, func(t *testing.T) {
			t.Parallel()
			godotBin(t)
			st.run(t, nodes, false)
		})
		t.Run("Web"+st.name, func(t *testing.T) {
			t.Parallel()
			sharedWebEngine(t)
			st.run(t, nodes, true)
		})
	}
}

// clusterParty: a Go client makes a party; the engine joins it by its
// code through another node.
func clusterParty(t *testing.T, nodes []*relaytest.ClusterNode, browser bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	engine, peer := "gd-party", "go-party"
	if browser {
		engine, peer = "gd-party-web", "go-party-web"
	}
	ana := dialRecorded(t, ctx, nodes[0].KCP, peer)
	pa, err := ana.c.CreateParty(ctx)
	if err != nil {
		t.Fatal(err)
	}
	home := cluster.NodeOf(ana.c.ID())
	via := nodes[home%3] // not the party's node
	args := map[string]string{
		"mode": "party", "name": engine, "peer": peer, "code": pa.Code, "home": strconv.Itoa(int(home)),
		"leader": strconv.FormatUint(uint64(ana.c.ID()), 10), "via": strconv.Itoa(int(via.Node.ID())), "timeout-ms": "45000",
	}
	homeNode := nodes[home-1]
	if browser {
		args["url"], args["home-link"] = via.WS, homeNode.WS
	} else {
		args["port"], args["home-link"] = portOf(t, via.KCP), "udp://"+homeNode.KCP+" (KCP)"
	}
	t.Logf("party %s on node %d; the engine joins through node %d", pa.Code, home, via.Node.ID())
	run := startClusterScript(t, browser, args)
	p, err := ana.c.WaitParty(run.ctx, func(p client.Party) bool { return len(p.Members) == 2 })
	if err != nil {
		run.fail("the Go client never saw the engine in its party: %v (%+v)", err, ana.c.Party())
	}
	if m := p.Members[1]; m.Name != engine || cluster.NodeOf(m.ID) != home {
		t.Errorf("the party's second member %+v: want %s on node %d", m, engine, home)
	}
	leftNode(t, run, via, engine)
	run.finish()
}

func godot3Present() bool {
	name := os.Getenv("GODOT_BIN")
	if name == "" {
		name = "godot3-server"
	}
	_, err := exec.LookPath(name)
	return err == nil
}

// clusterJoin: a Go client makes a room (placed by the cluster on its
// least loaded node); the engine joins it by code through another node
// and lists it through the third.
func clusterJoin(t *testing.T, nodes []*relaytest.ClusterNode, browser bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	engine, peer := "gd-kcp", "go-kcp"
	if browser {
		engine, peer = "gd-web", "go-web"
	}
	alice := dialRecorded(t, ctx, nodes[0].KCP, peer)
	j, err := alice.c.CreateRoom(ctx, client.RoomOptions{Mode: "coop", MaxPlayers: 4})
	if err != nil {
		t.Fatal(err)
	}
	home := cluster.NodeOf(j.RoomID)
	if cluster.NodeOf(alice.c.ID()) != home {
		t.Fatalf("the creator is player %#x, its room %#x", alice.c.ID(), j.RoomID)
	}
	if err := alice.c.SetState(map[string]any{"from": "go"}); err != nil {
		t.Fatal(err)
	}
	via, list := nodes[home%3], nodes[(home+1)%3] // neither is the room's node
	relaytest.WaitFor(t, ctx, "the room in the directory of the node the engine joins through", func() bool {
		_, ok := via.Node.RoomByCode(j.Code)
		return ok
	})
	args := map[string]string{
		"mode": "join", "name": engine, "peer": peer, "code": j.Code, "room": strconv.FormatUint(uint64(j.RoomID), 10),
		"via": strconv.Itoa(int(via.Node.ID())), "home": strconv.Itoa(int(home)), "list": strconv.Itoa(int(list.Node.ID())),
		"timeout-ms": "45000",
	}
	homeNode := nodes[home-1]
	if browser {
		args["url"], args["list-url"], args["home-link"] = via.WS, list.WS, homeNode.WS
	} else {
		args["port"], args["list-port"] = portOf(t, via.KCP), portOf(t, list.KCP)
		args["home-link"] = "udp://" + homeNode.KCP + " (KCP)"
	}
	t.Logf("room %#x (%s) on node %d; the engine joins through node %d, lists through node %d", j.RoomID, j.Code, home, via.Node.ID(), list.Node.ID())
	run := startClusterScript(t, browser, args)

	// The Go client sees the engine's player on the room's node, with its
	// state.
	var id uint32
	err = alice.c.WaitFor(run.ctx, func(v client.RoomView) bool {
		id = stateFrom(v, engine)
		return id != 0
	})
	if err != nil {
		run.fail("the Go client never saw the engine's player and state: %v (room %+v)", err, alice.c.Room())
	}
	if cluster.NodeOf(id) != home {
		t.Errorf("the engine's player is %#x, not on the room's node %d", id, home)
	}
	leftNode(t, run, via, engine)
	if browser {
		line, err := run.waitLine("cluster: shown ")
		if err != nil {
			run.fail("%v", err)
		}
		checkClusterPage(t, run, strings.TrimPrefix(line, "cluster: shown "), j.Code, home)
	}
	if err := alice.c.SendEvent(0, nil, clusterDoneEvent, nil); err != nil {
		t.Fatal(err)
	}
	run.finish()
}

// clusterMatch: a Go client queues for a duel on the matchmaker's leader,
// the engine on another node; the leader hosts the match (the node of most
// of its players, itself first on a tie), so the engine is redirected.
func clusterMatch(t *testing.T, nodes []*relaytest.ClusterNode, browser bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var leader uint8
	relaytest.WaitFor(t, ctx, "a matchmaker leader every node knows", func() bool {
		leader, _ = nodes[0].Node.Leader()
		for _, n := range nodes {
			if l, _ := n.Node.Leader(); l == 0 || l != leader {
				return false
			}
		}
		return true
	})
	host := nodes[leader-1]
	via := nodes[leader%3]
	if via.Node.ID() == leader {
		t.Fatal("test setup: the engine's node is the leader's")
	}
	queue, engine, peer := "duel", "gd-match", "go-match"
	if browser {
		queue, engine, peer = "duel-web", "gd-match-web", "go-match-web"
	}
	bob := dialRecorded(t, ctx, host.KCP, peer)
	if err := bob.c.QueueJoin(ctx, client.QueueOptions{Mode: queue, Skill: 1000}); err != nil {
		t.Fatal(err)
	}
	t.Logf("leader and host: node %d; the engine queues on node %d", leader, via.Node.ID())
	args := map[string]string{
		"mode": "match", "queue": queue, "name": engine, "peer": peer, "via": strconv.Itoa(int(via.Node.ID())),
		"host": strconv.Itoa(int(leader)), "timeout-ms": "45000",
	}
	if browser {
		args["url"], args["host-link"] = via.WS, host.WS
	} else {
		args["port"], args["host-link"] = portOf(t, via.KCP), "udp://"+host.KCP+" (KCP)"
	}
	run := startClusterScript(t, browser, args)
	if err := bob.c.WaitFor(run.ctx, func(v client.RoomView) bool { return v.ID != 0 }); err != nil {
		run.fail("the Go client was never seated: %v", err)
	}
	if err := bob.c.SetState(map[string]any{"from": "go"}); err != nil {
		t.Fatal(err)
	}
	var id uint32
	if err := bob.c.WaitFor(run.ctx, func(v client.RoomView) bool {
		id = stateFrom(v, engine)
		return id != 0
	}); err != nil {
		run.fail("the Go client never saw the engine's player and state in the match: %v (room %+v)", err, bob.c.Room())
	}
	if room := bob.c.Room().ID; cluster.NodeOf(room) != leader || cluster.NodeOf(id) != leader {
		t.Errorf("the match's room %#x and the engine's player %#x, want both on node %d", room, id, leader)
	}
	leftNode(t, run, via, engine)
	if err := bob.c.SendEvent(0, nil, clusterDoneEvent, nil); err != nil {
		t.Fatal(err)
	}
	run.finish()
}

// leftNode checks that the engine's player named name is no longer on the
// node it was redirected from: it said bye there (a player whose link just
// went silent would stay, away, for the relay's resume grace).
func leftNode(t *testing.T, run *clusterRun, n *relaytest.ClusterNode, name string) {
	t.Helper()
	// Not run.ctx: the party script may have ended already (it ends once
	// it is in the party), and the relays are the test's.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var left []admin.PlayerSummary
	tk := time.NewTicker(10 * time.Millisecond)
	defer tk.Stop()
	for {
		players, err := n.Server.Players(ctx, admin.PlayerQuery{Text: name})
		if err == nil {
			// Text matches names that contain it: gd-match-web is not gd-match.
			players = slices.DeleteFunc(players, func(p admin.PlayerSummary) bool { return p.Name != name })
			if len(players) == 0 {
				return
			}
			left = players
		}
		select {
		case <-tk.C:
		case <-ctx.Done():
			t.Errorf("the engine's player is still on node %d after the redirect: %+v", n.Node.ID(), left)
			return
		}
	}
}

// clusterDoneEvent is the Go client's event that ends the engine's script
// (tests/cluster_e2e_test.gd's DONE_EVENT).
const clusterDoneEvent = 7

// stateFrom returns the id of the player named name in v once its state
// says {"from": "engine"}, or 0.
func stateFrom(v client.RoomView, name string) uint32 {
	for pid, p := range v.Players {
		if p.Name != name || p.State == nil {
			continue
		}
		var s map[string]string
		if msgpack.Unmarshal(p.State, &s) == nil && s["from"] == "engine" {
			return pid
		}
	}
	return 0
}

// clusterRun is tests/cluster_e2e_test.gd running in Godot 3.2 or on a
// page of the web engine.
type clusterRun struct {
	t      *testing.T
	ctx    context.Context // ends when the engine does, or at the deadline
	engine *engineRun      // Godot 3.2
	page   *web.Page       // the web engine
	lines  func() []string
}

// startClusterScript starts the script with args: in Godot 3.2 over KCP
// (tests/node_runner.gd), or on a page of the web engine (a runner pack
// with the addon and the tests).
func startClusterScript(t *testing.T, browser bool, args map[string]string) *clusterRun {
	t.Helper()
	if !browser {
		argv := []string{"--node=cluster_e2e_test.gd"}
		for k, v := range args {
			argv = append(argv, "--"+k+"="+v)
		}
		r := startScript(t, 60*time.Second, "node_runner.gd", argv...)
		return &clusterRun{t: t, ctx: untilEngineExits(t, r, 60*time.Second), engine: r,
			lines: func() []string { return strings.Split(r.output(), "\n") }}
	}
	e := sharedWebEngine(t)
	p := addonPack(t)
	plan := []web.Step{{Script: "res://tests/cluster_e2e_test.gd", Kind: web.StepNode, Args: args, TimeoutSeconds: 60}}
	// What a web export draws with (the web template's only renderer).
	settings := map[string]map[string]string{"rendering": {"renderer/rendering_method": `"gl_compatibility"`}}
	if err := p.AddRunner(plan, settings); err != nil {
		t.Fatal(err)
	}
	if err := p.AddClassCache(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 75*time.Second)
	t.Cleanup(cancel)
	// The join's page draws (its screenshot is checked); the match's runs
	// headless, which spares the machine's CPU.
	cfg := web.PageConfig{Render: args["mode"] == "join", Width: clusterPageWidth, Height: clusterPageHeight}
	page, err := e.Open(ctx, p, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(page.Close)
	// The context ends when the runner does (as web.Engine.RunPack sees
	// its end).
	go func() {
		_, _, _ = page.WaitLine(ctx, 0, func(l web.Line) bool {
			for _, end := range []string{"gdrun: done ", "gdrun: the engine did not start", "gdrun: engine exited", "page: "} {
				if strings.HasPrefix(l.Text, end) {
					return true
				}
			}
			return false
		})
		cancel()
	}()
	return &clusterRun{t: t, ctx: ctx, page: page, lines: func() []string {
		var out []string
		for _, l := range page.Lines() {
			out = append(out, l.Text)
		}
		return out
	}}
}

const clusterPageWidth, clusterPageHeight = 640, 360

// waitLine waits for the page's line that starts with prefix.
func (r *clusterRun) waitLine(prefix string) (string, error) {
	_, l, err := r.page.WaitLine(r.ctx, 0, func(l web.Line) bool { return strings.HasPrefix(l.Text, prefix) })
	if err != nil {
		return "", fmt.Errorf("no line %q on the page: %w", prefix, err)
	}
	return l.Text, nil
}

// fail ends the test with what the engine printed so far.
func (r *clusterRun) fail(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf(format+"\nengine output so far:\n%s", append(args, filterNoise(strings.Join(r.lines(), "\n")))...)
}

// finish waits for the script's end, requires it to pass, and logs its
// cluster lines (the measured join time).
func (r *clusterRun) finish() {
	t := r.t
	t.Helper()
	if r.engine != nil {
		r.engine.wait()
	} else {
		<-r.ctx.Done()
		res := web.ParseRun(r.page.Lines())
		var out strings.Builder
		for _, l := range res.Output {
			out.WriteString(l.Text + "\n")
		}
		if !res.OK() {
			t.Fatalf("the page's run failed (done %v, %d failed steps, script errors %v):\n%s", res.Done, res.FailedSteps, res.ScriptErrors, filterNoise(out.String()))
		}
	}
	for _, l := range r.lines() {
		if strings.HasPrefix(l, "cluster: ") {
			t.Log(l)
		}
	}
}

// checkClusterPage checks what the page shows: the line it printed as its
// label's text names the room and its node, and the screenshot (kept in
// the test's artifact directory) has the band drawn and text on it.
func checkClusterPage(t *testing.T, r *clusterRun, shown, code string, home uint8) {
	t.Helper()
	want := fmt.Sprintf("room %s on node %d, player %x", code, home, home)
	if !strings.HasPrefix(shown, want) || !strings.Contains(shown, "gd-web") || !strings.Contains(shown, "go-web") {
		t.Errorf("the page shows %q, want %q... with both players", shown, want)
	}
	shot, err := r.page.Screenshot(r.ctx)
	if err != nil {
		r.fail("screenshot: %v", err)
	}
	file := filepath.Join(t.ArtifactDir(), "cluster-join.png")
	if err := os.WriteFile(file, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatal(err)
	}
	if sz := img.Bounds().Size(); sz.X != clusterPageWidth || sz.Y != clusterPageHeight {
		t.Errorf("screenshot %dx%d, want %dx%d", sz.X, sz.Y, clusterPageWidth, clusterPageHeight)
	}
	// The band: Color(0.1, 0.55, 0.3) at the right end (no text there).
	band := [3]int{26, 140, 77}
	if got := rgbAt(img, clusterPageWidth-8, 8); !near(got, band, 12) {
		t.Errorf("the band's pixel is rgb%v, want rgb%v", got, band)
	}
	// The label: light text on the band, where the script put it.
	text := 0
	for y := 20; y < 44; y++ {
		for x := 16; x < 400; x++ {
			if c := rgbAt(img, x, y); c[0] > 150 && c[1] > 150 && c[2] > 150 {
				text++
			}
		}
	}
	if text < 100 {
		t.Errorf("the label's text is not drawn on the band: %d light pixels", text)
	}
	t.Logf("the page shows %q; screenshot %s", shown, file)
}

func rgbAt(img image.Image, x, y int) [3]int {
	r, g, b, _ := img.At(x, y).RGBA()
	return [3]int{int(r >> 8), int(g >> 8), int(b >> 8)}
}

func near(a, b [3]int, tol int) bool {
	for i := range a {
		if d := a[i] - b[i]; d > tol || d < -tol {
			return false
		}
	}
	return true
}

// clusterPartyMatch: the engine joins a Go client's party on the party's
// node; the party queues for a match of five with three Go players of
// another node, which hosts the match (it has most of the players), and
// the party moves there with it.
func clusterPartyMatch(t *testing.T, nodes []*relaytest.ClusterNode, browser bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	queue, engine, peer := "five", "gd-pm", "go-pm"
	if browser {
		queue, engine, peer = "five-web", "gd-pm-web", "go-pm-web"
	}
	ana := dialRecorded(t, ctx, nodes[0].KCP, peer)
	pa, err := ana.c.CreateParty(ctx)
	if err != nil {
		t.Fatal(err)
	}
	home := cluster.NodeOf(ana.c.ID())
	homeNode, host := nodes[home-1], nodes[home%3]
	args := map[string]string{
		"mode": "partymatch", "name": engine, "peer": peer, "code": pa.Code, "via": strconv.Itoa(int(home)),
		"host": strconv.Itoa(int(host.Node.ID())), "host-prefix": codePrefix(host.Node.ID()), "timeout-ms": "45000",
	}
	if browser {
		args["url"] = homeNode.WS
	} else {
		args["port"] = portOf(t, homeNode.KCP)
	}
	t.Logf("party %s on node %d; the match's players wait on node %d", pa.Code, home, host.Node.ID())
	run := startClusterScript(t, browser, args)
	if _, err := ana.c.WaitParty(run.ctx, func(p client.Party) bool { return len(p.Members) == 2 }); err != nil {
		run.fail("the engine never joined the party: %v (%+v)", err, ana.c.Party())
	}
	for i := range 3 {
		solo := dialRecorded(t, ctx, host.KCP, fmt.Sprintf("%s-solo%d", peer, i))
		if err := solo.c.QueueJoin(ctx, client.QueueOptions{Mode: queue, Skill: 1000}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ana.c.QueueJoin(ctx, client.QueueOptions{Mode: queue, Skill: 1000}); err != nil {
		t.Fatal(err)
	}
	p, err := ana.c.WaitParty(run.ctx, func(p client.Party) bool { return len(p.Members) == 2 && p.Code != pa.Code })
	if err != nil {
		run.fail("the Go client's party never came back after the match: %v (%+v)", err, ana.c.Party())
	}
	if cluster.NodeOf(ana.c.ID()) != host.Node.ID() || p.Leader != ana.c.ID() {
		t.Errorf("the Go client %#x, its party %+v: want it on node %d, leading", ana.c.ID(), p, host.Node.ID())
	}
	run.finish()
}

// codePrefix is the two characters that begin a cluster's party codes of
// node id (PROTOCOL.md 4.18).
func codePrefix(id uint8) string {
	const alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
	return string([]byte{alphabet[int(id)/len(alphabet)], alphabet[int(id)%len(alphabet)]})
}
