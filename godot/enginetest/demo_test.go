package enginetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"

	"github.com/tickrelay/tickrelay/godot/web"
	"github.com/tickrelay/tickrelay/internal/relaytest"
	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/match"
)

// TestDemoInTheBrowser exports the demo (godot/demo, as it is) for the web,
// opens it in two pages against one relay over WebSocket and plays it as a
// person would, with key events sent to the pages. Both pages start in the
// lobby: they show the lobby chat of #global (a line ana, a Go client, said
// before) and the operator's announcement (a screenshot of page a's lobby is
// kept); M on each page queues it for "arena" (the relay's queue pairs two
// players), and both land in one room. There it moves each page's player
// with the arrow keys and checks that the other page sees it move: from
// what the engine shows (an autoload added to the export,
// tests/demo_probe.gd, prints each player's position as the demo draws it)
// and in a screenshot of each page (kept in the test's artifact directory),
// where both players' circles must be drawn, in their colours, where the
// engine says they are. Then both leave (Escape), switch to the @rpc mode
// (R: Godot's MultiplayerSynchronizer and @rpc over the relay), queue
// again, and page b must see page a's player move.
func TestDemoInTheBrowser(t *testing.T) {
	t.Parallel()
	e := sharedWebEngine(t)
	srv := &relay.Server{Matchmaker: &match.Config{Queues: map[string]match.QueueConfig{
		"arena": {MaxPlayers: 2, SkillWindow: 1000, Interval: 100 * time.Millisecond},
	}}}
	kcpAddr, wsURL := relaytest.StartBoth(t, srv)
	u, err := url.Parse(wsURL)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	pack := demoPack(t, port)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	dialInLobby(t, ctx, kcpAddr, "ana", "welcome to the lobby")

	views := &demoViews{changed: make(chan struct{})}
	a := views.open(t, ctx, e, pack, "a")
	b := views.open(t, ctx, e, pack, "b")
	for _, p := range []*demoPage{a, b} {
		if err := views.waitUntil(ctx, func() bool { l := p.lobby(); return l != nil && slices.Contains(l.Chat, "ana: welcome to the lobby") }); err != nil {
			t.Fatalf("page %s never showed the lobby chat: %v\n%s", p.name, err, p.output())
		}
	}
	if err := srv.Announce(ctx, "restart at 18:00"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*demoPage{a, b} {
		if err := views.waitUntil(ctx, func() bool { return p.lobby().Announcement == "restart at 18:00" }); err != nil {
			t.Fatalf("page %s never showed the announcement: %v\n%s", p.name, err, p.output())
		}
	}
	shot, err := a.page.Screenshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.ArtifactDir(), "demo-lobby-a.png")
	if err := os.WriteFile(file, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("page a's lobby: %+v; screenshot %s", *a.lobby(), file)
	// M: both queue for arena and are matched into one room.
	views.press(t, ctx, a, "m")
	views.press(t, ctx, b, "m")
	if err := views.waitUntil(ctx, func() bool {
		la, lb := a.last(), b.last()
		return la != nil && lb != nil && la.Others[strconv.Itoa(lb.Me)] != nil && lb.Others[strconv.Itoa(la.Me)] != nil
	}); err != nil {
		t.Fatalf("the pages never saw each other: %v\npage a:\n%s\npage b:\n%s", err, a.output(), b.output())
	}
	if la, lb := a.last(), b.last(); la.Room != lb.Room || la.Room == "" {
		t.Fatalf("the pages are in rooms %q and %q, want one room", la.Room, lb.Room)
	}
	t.Logf("room %s: page a is player %d, page b player %d", a.last().Room, a.last().Me, b.last().Me)

	// a moves along x, b along y, each towards the side with more room.
	views.move(t, ctx, a, b, 0)
	views.move(t, ctx, b, a, 1)

	// What each page shows: both circles, in their colours, where its
	// engine draws them.
	for _, p := range []*demoPage{a, b} {
		other := b
		if p == b {
			other = a
		}
		shot, err := p.page.Screenshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.ArtifactDir(), "demo-"+p.name+".png")
		if err := os.WriteFile(file, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(shot))
		if err != nil {
			t.Fatal(err)
		}
		if sz := img.Bounds().Size(); sz.X != demoWidth || sz.Y != demoHeight {
			t.Errorf("page %s: screenshot %dx%d, want %dx%d", p.name, sz.X, sz.Y, demoWidth, demoHeight)
		}
		l := p.last()
		seen := l.Others[strconv.Itoa(other.last().Me)]
		if seen == nil {
			t.Fatalf("page %s no longer shows page %s's player", p.name, other.name)
		}
		if seen.Color != other.last().Color {
			t.Errorf("page %s shows page %s's player in %v, its own colour is %v", p.name, other.name, seen.Color, other.last().Color)
		}
		checkCircle(t, img, p.name+", its own player", l.Pos, l.Color)
		// Unless the circles overlap (this page's own is drawn on top).
		if math.Hypot(seen.Pos[0]-l.Pos[0], seen.Pos[1]-l.Pos[1]) > 2*demoRadius+2 {
			checkCircle(t, img, p.name+", page "+other.name+"'s player", seen.Pos, seen.Color)
		}
		t.Logf("page %s: screenshot %s; the engine draws %.0f frames/s, round trip %d ms (polled once a frame)", p.name, file, l.FPS, l.RTTms)
	}

	// The @rpc mode: back to the lobby, R, queue again.
	room := a.last().Room
	for _, p := range []*demoPage{a, b} {
		views.press(t, ctx, p, kb.Escape)
		if err := views.waitUntil(ctx, func() bool { return p.lobby() != nil && p.lobbyAfterRoom() }); err != nil {
			t.Fatalf("page %s did not go back to the lobby: %v\n%s", p.name, err, p.output())
		}
		views.press(t, ctx, p, "r")
		if err := views.waitUntil(ctx, func() bool { return p.lobby().Mode == "rpc" }); err != nil {
			t.Fatalf("page %s did not switch to the @rpc mode: %v", p.name, err)
		}
		views.press(t, ctx, p, "m")
	}
	if err := views.waitUntil(ctx, func() bool {
		la, lb := a.last(), b.last()
		return la.Room != room && la.Room == lb.Room && la.Mode == "rpc" && lb.Mode == "rpc" &&
			la.Others[strconv.Itoa(lb.Me)] != nil && lb.Others[strconv.Itoa(la.Me)] != nil
	}); err != nil {
		t.Fatalf("the pages never met in the @rpc mode: %v\npage a:\n%s\npage b:\n%s", err, a.output(), b.output())
	}
	views.move(t, ctx, a, b, 0)
	shot, err = b.page.Screenshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(t.ArtifactDir(), "demo-rpc-b.png")
	if err := os.WriteFile(file, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if img, err := png.Decode(bytes.NewReader(shot)); err == nil {
		checkCircle(t, img, "b in the @rpc mode, page a's player", b.last().Others[strconv.Itoa(a.last().Me)].Pos, a.last().Color)
	}
	t.Logf("@rpc mode: room %s; page b's screenshot %s", a.last().Room, file)
}

// lobbyLine is the probe's line while the demo shows its lobby.
type lobbyLine struct {
	Me           int      `json:"me"`
	Status       string   `json:"status"`
	Announcement string   `json:"announcement"`
	Party        string   `json:"party"`
	Chat         []string `json:"chat"`
	Queued       bool     `json:"queued"`
	Mode         string   `json:"mode"`
}

// lobby is the page's latest lobby line, or nil.
func (p *demoPage) lobby() *lobbyLine {
	p.views.mu.Lock()
	defer p.views.mu.Unlock()
	if len(p.lobbies) == 0 {
		return nil
	}
	l := p.lobbies[len(p.lobbies)-1]
	return &l
}

// lobbyAfterRoom reports whether the page's last line is a lobby line (it
// left its room).
func (p *demoPage) lobbyAfterRoom() bool {
	p.views.mu.Lock()
	defer p.views.mu.Unlock()
	return p.lastWasLobby
}

// press presses and releases key on page p.
func (v *demoViews) press(t *testing.T, ctx context.Context, p *demoPage, key string) {
	t.Helper()
	if err := p.page.KeyDown(ctx, key); err != nil {
		t.Fatalf("page %s: key %q down: %v", p.name, key, err)
	}
	if err := p.page.KeyUp(ctx, key); err != nil {
		t.Fatalf("page %s: key %q up: %v", p.name, key, err)
	}
}

// The demo's window and circles (godot/demo/project.godot and main.gd).
const (
	demoWidth, demoHeight = 960, 600
	demoRadius            = 16
)

// demoPack is godot/demo as a web export (the addon in it, as its symlink
// has it) with the relay's address in its settings and the probe autoload.
func demoPack(t *testing.T, port int) *web.Pack {
	t.Helper()
	p := &web.Pack{}
	if err := p.AddFS(os.DirFS(filepath.Join("..", "demo")), ".", "", func(rel string, _ os.DirEntry) bool {
		return rel == "README.md" || rel == "project.godot"
	}); err != nil {
		t.Fatal(err)
	}
	if !p.Has("addons/tickrelay/client.gd") || !p.Has("main.tscn") {
		t.Fatalf("the demo's pack lacks the addon or the main scene: %v", p.Names())
	}
	probe, err := os.ReadFile(filepath.Join("..", "tests", "demo_probe.gd"))
	if err != nil {
		t.Fatal(err)
	}
	p.Add("tests/demo_probe.gd", probe)
	project, err := os.ReadFile(filepath.Join("..", "demo", "project.godot"))
	if err != nil {
		t.Fatal(err)
	}
	settings := string(project)
	settings = web.SetProjectSetting(settings, "tickrelay", "host", `"127.0.0.1"`)
	settings = web.SetProjectSetting(settings, "tickrelay", "port", strconv.Itoa(port))
	settings = web.SetProjectSetting(settings, "autoload", "DemoProbe", `"*res://tests/demo_probe.gd"`)
	// What a web export uses (the only renderer of the web template).
	settings = web.SetProjectSetting(settings, "rendering", "renderer/rendering_method", `"gl_compatibility"`)
	p.Add("project.godot", []byte(settings))
	if err := p.AddClassCache(); err != nil {
		t.Fatal(err)
	}
	return p
}

// demoLine is one line of the probe (tests/demo_probe.gd).
type demoLine struct {
	Me     int                   `json:"me"`
	Room   string                `json:"room"`
	Pos    [2]float64            `json:"pos"`
	Color  [3]int                `json:"color"`
	Others map[string]*demoOther `json:"others"`
	Mode   string                `json:"mode"`
	FPS    float64               `json:"fps"`
	RTTms  int                   `json:"rtt_ms"`
}

type demoOther struct {
	Pos   [2]float64 `json:"pos"`
	Color [3]int     `json:"color"`
}

// demoViews collects what the demo pages print, and wakes waiters on any
// page's new line.
type demoViews struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every line of any page
}

type demoPage struct {
	name         string
	page         *web.Page
	views        *demoViews
	lines        []demoLine  // under views.mu
	lobbies      []lobbyLine // under views.mu
	lastWasLobby bool        // under views.mu
	out          []string    // the whole console, under views.mu
}

func (v *demoViews) open(t *testing.T, ctx context.Context, e *web.Engine, pack *web.Pack, name string) *demoPage {
	t.Helper()
	p := &demoPage{name: name, views: v}
	page, err := e.Open(ctx, pack, web.PageConfig{Render: true, Width: demoWidth, Height: demoHeight}, func(l web.Line) {
		v.mu.Lock()
		defer v.mu.Unlock()
		p.out = append(p.out, l.Text)
		if rest, ok := strings.CutPrefix(l.Text, "demo: "); ok {
			var d demoLine
			if err := json.Unmarshal([]byte(rest), &d); err == nil {
				p.lines = append(p.lines, d)
				p.lastWasLobby = false
			} else {
				p.out = append(p.out, fmt.Sprintf("(undecodable probe line: %v)", err))
			}
		}
		if rest, ok := strings.CutPrefix(l.Text, "lobby: "); ok {
			var d lobbyLine
			if err := json.Unmarshal([]byte(rest), &d); err == nil {
				p.lobbies = append(p.lobbies, d)
				p.lastWasLobby = true
			} else {
				p.out = append(p.out, fmt.Sprintf("(undecodable probe line: %v)", err))
			}
		}
		close(v.changed)
		v.changed = make(chan struct{})
	})
	if err != nil {
		t.Fatalf("open page %s: %v", name, err)
	}
	p.page = page
	t.Cleanup(func() {
		page.Close()
		v.mu.Lock()
		defer v.mu.Unlock()
		for _, l := range p.out {
			if web.IsScriptError(l) {
				t.Errorf("page %s: %s", name, l)
			}
		}
	})
	return p
}

// last is the page's latest probe line, or nil.
func (p *demoPage) last() *demoLine {
	p.views.mu.Lock()
	defer p.views.mu.Unlock()
	if len(p.lines) == 0 {
		return nil
	}
	l := p.lines[len(p.lines)-1]
	return &l
}

// seenOf lists where this page showed player id, in order.
func (p *demoPage) seenOf(id int) [][2]float64 {
	p.views.mu.Lock()
	defer p.views.mu.Unlock()
	var out [][2]float64
	for _, l := range p.lines {
		if o := l.Others[strconv.Itoa(id)]; o != nil {
			out = append(out, o.Pos)
		}
	}
	return out
}

func (p *demoPage) output() string {
	p.views.mu.Lock()
	defer p.views.mu.Unlock()
	return strings.Join(p.out, "\n")
}

// waitUntil waits until cond holds, re-checking it on every line of any
// page, or until ctx ends.
func (v *demoViews) waitUntil(ctx context.Context, cond func() bool) error {
	for {
		v.mu.Lock()
		ch := v.changed
		v.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// move holds an arrow key on page mover until its player has gone 150 px
// along axis (0: x, 1: y) towards the side with more room, releases it,
// and waits until page watcher shows the player where the mover says it
// stopped, having seen it go that way.
func (v *demoViews) move(t *testing.T, ctx context.Context, mover, watcher *demoPage, axis int) {
	t.Helper()
	const distance = 150
	start := mover.last().Pos
	id := mover.last().Me
	keys := [2][2]string{{kb.ArrowLeft, kb.ArrowRight}, {kb.ArrowUp, kb.ArrowDown}}
	centre := [2]float64{demoWidth / 2, demoHeight / 2}
	dir := 1.0
	key := keys[axis][1]
	if start[axis] > centre[axis] {
		dir, key = -1, keys[axis][0]
	}
	seenBefore := len(watcher.seenOf(id))
	if err := mover.page.KeyDown(ctx, key); err != nil {
		t.Fatalf("page %s: key down: %v", mover.name, err)
	}
	err := v.waitUntil(ctx, func() bool { return (mover.last().Pos[axis]-start[axis])*dir >= distance })
	if uerr := mover.page.KeyUp(ctx, key); uerr != nil && err == nil {
		err = uerr
	}
	if err != nil {
		t.Fatalf("page %s: the player did not move %d px with the key held: %v (from %v to %v)\n%s",
			mover.name, distance, err, start, mover.last().Pos, mover.output())
	}
	// The mover stops a frame or two after the key is up: the watcher's view
	// converges on where it stopped.
	if err := v.waitUntil(ctx, func() bool {
		o := watcher.last().Others[strconv.Itoa(id)]
		return o != nil && o.Pos == mover.last().Pos
	}); err != nil {
		t.Fatalf("page %s never showed page %s's player where it stopped (%v): it shows %v: %v\n%s",
			watcher.name, mover.name, mover.last().Pos, watcher.last().Others[strconv.Itoa(id)], err, watcher.output())
	}
	seen := watcher.seenOf(id)[seenBefore:]
	end := mover.last().Pos
	// The watcher saw it go, not jump: positions along the way, each no
	// further back than the one before.
	along := 0
	for i, p := range seen {
		if d := (p[axis] - start[axis]) * dir; d > 1 && d < (end[axis]-start[axis])*dir-1 {
			along++
		}
		if i > 0 && (p[axis]-seen[i-1][axis])*dir < -0.5 {
			t.Errorf("page %s saw page %s's player go back: %v after %v", watcher.name, mover.name, p, seen[i-1])
		}
		if math.Abs(p[1-axis]-start[1-axis]) > 0.5 {
			t.Errorf("page %s saw page %s's player off its line: %v (it started at %v)", watcher.name, mover.name, p, start)
		}
	}
	if along < 2 {
		t.Errorf("page %s saw page %s's player at %d points on its way from %v to %v, want it seen moving: %v",
			watcher.name, mover.name, along, start, end, seen)
	}
	t.Logf("page %s moved its player from %v to %v; page %s saw it at %d points on the way", mover.name, start, end, watcher.name, along)
}

// checkCircle checks that the pixel at pos is the colour of a player's
// circle there (the demo fills it with the player's colour).
func checkCircle(t *testing.T, img image.Image, what string, pos [2]float64, want [3]int) {
	t.Helper()
	x, y := int(math.Round(pos[0])), int(math.Round(pos[1]))
	r, g, b, _ := img.At(x, y).RGBA()
	got := [3]int{int(r >> 8), int(g >> 8), int(b >> 8)}
	for i := range got {
		if d := got[i] - want[i]; d > 12 || d < -12 {
			t.Errorf("%s: the pixel at (%d, %d) is rgb%v, want the player's colour rgb%v", what, x, y, got, want)
			return
		}
	}
}
