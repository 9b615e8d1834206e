package relay_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/internal/relaytest"
	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/admin"
	"github.com/tickrelay/tickrelay/relay/client"
	"github.com/tickrelay/tickrelay/relay/webhook"
)

const adminToken = "test-admin-token"

// adminAPI serves the operator API of srv on 127.0.0.1 for the test.
type adminAPI struct {
	t    *testing.T
	base string
}

func startAdmin(t *testing.T, srv *relay.Server) *adminAPI {
	t.Helper()
	hs := httptest.NewServer(&admin.Handler{Relay: srv, Token: adminToken})
	t.Cleanup(hs.Close)
	return &adminAPI{t: t, base: hs.URL}
}

// call makes one API request and decodes the JSON answer into out (if not
// nil); it returns the status.
func (a *adminAPI) call(method, path, body string, out any) int {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	if resp.StatusCode >= 300 {
		a.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

func (a *adminAPI) ok(method, path, body string, out any) {
	a.t.Helper()
	if code := a.call(method, path, body, out); code >= 300 {
		a.t.Fatalf("%s %s: status %d", method, path, code)
	}
}

// closedWith waits for c to end and checks the server's reason.
func closedWith(t *testing.T, c *client.Client, code codec.Code) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second): // a failure bound
		t.Fatalf("client %d still open, want closed with %v", c.ID(), code)
	}
	var e *client.Error
	if !errors.As(c.Err(), &e) || e.Code != code {
		t.Fatalf("client %d closed with %v, want %v", c.ID(), c.Err(), code)
	}
}

func dialRefused(t *testing.T, addr string, code codec.Code) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, addr, client.Options{Name: "late"})
	if err == nil {
		c.Close()
		t.Fatalf("dial %s: admitted, want %v", addr, code)
	}
	var e *client.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("dial %s: %v, want %v", addr, err, code)
	}
}

// Every operator call against a live relay with KCP and WebSocket players:
// what the API reports, and what the players see.
func TestOperatorAPIOnALiveRelay(t *testing.T) {
	srv := &relay.Server{}
	kcpAddr, wsURL := relaytest.StartBoth(t, srv)
	api := startAdmin(t, srv)
	ctx := ctxT(t)
	host := dial(t, kcpAddr, "host")
	web := dial(t, wsURL, "web")
	extra := dial(t, kcpAddr, "extra")
	hc, wc := collect(host), collect(web)
	j, err := host.CreateRoom(ctx, client.RoomOptions{Mode: "ops", MaxPlayers: 8, Props: map[string]any{"map": "dust", "round": 3}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := web.JoinByCode(ctx, j.Code); err != nil {
		t.Fatal(err)
	}
	if err := host.SetState([]int{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if err := web.WaitFor(ctx, func(v client.RoomView) bool { return v.Players[host.ID()].State != nil }); err != nil {
		t.Fatal(err)
	}

	var o admin.Overview
	api.ok("GET", "/api/v1/overview", "", &o)
	if o.Players != 3 || o.Rooms != 1 || o.PlayersByTransport["kcp"] != 2 || o.PlayersByTransport["ws"] != 1 || o.TickRate != 30 || o.BytesIn == 0 {
		t.Fatalf("overview %+v", o)
	}
	var rooms struct{ Rooms []admin.RoomSummary }
	api.ok("GET", "/api/v1/rooms?q="+strings.ToLower(j.Code), "", &rooms)
	if len(rooms.Rooms) != 1 || rooms.Rooms[0].ID != j.RoomID || rooms.Rooms[0].Players != 2 || rooms.Rooms[0].Master != host.ID() {
		t.Fatalf("rooms %+v", rooms)
	}
	var detail admin.RoomDetail
	api.ok("GET", fmt.Sprintf("/api/v1/rooms/%d", j.RoomID), "", &detail)
	if detail.Props["map"] != "dust" || detail.Props["round"] != float64(3) || len(detail.Members) != 2 {
		t.Fatalf("room detail %+v", detail)
	}
	var players struct{ Players []admin.PlayerSummary }
	api.ok("GET", "/api/v1/players?transport=ws", "", &players)
	if len(players.Players) != 1 || players.Players[0].ID != web.ID() || players.Players[0].Room != j.RoomID || players.Players[0].BytesIn == 0 {
		t.Fatalf("ws players %+v", players)
	}
	api.ok("GET", fmt.Sprintf("/api/v1/players?room=%d", j.RoomID), "", &players)
	for _, p := range players.Players {
		if p.ID == host.ID() && p.StateBytes == 0 {
			t.Errorf("host's state size not reported: %+v", p)
		}
	}
	if code := api.call("GET", "/api/v1/rooms/999", "", nil); code != http.StatusNotFound {
		t.Fatalf("unknown room: %d", code)
	}

	// An announcement reaches every player, on both transports.
	api.ok("POST", "/api/v1/announce", `{"text":"restart at 18:00"}`, nil)
	for _, k := range []*collector{hc, wc} {
		k.waitUntil(t, ctx, "the announcement", func() bool {
			for _, m := range k.other {
				if m.Type == codec.TAnnounce && m.Message == "restart at 18:00" && m.ServerTimeMs > 0 {
					return true
				}
			}
			return false
		})
	}

	// Kick: the session is closed with kicked and the reason.
	api.ok("POST", fmt.Sprintf("/api/v1/players/%d/kick", extra.ID()), `{"reason":"cheating"}`, nil)
	closedWith(t, extra, codec.CodeKicked)
	if !strings.Contains(extra.Err().Error(), "cheating") {
		t.Errorf("kick reason not sent: %v", extra.Err())
	}

	// Close the room: both members are told room_closed, the room is gone.
	api.ok("POST", fmt.Sprintf("/api/v1/rooms/%d/close", j.RoomID), `{"reason":"maintenance"}`, nil)
	for _, k := range []*collector{hc, wc} {
		k.waitUntil(t, ctx, "room_left room_closed", func() bool {
			for _, m := range k.other {
				if m.Type == codec.TRoomLeft && m.Code == codec.CodeRoomClosed {
					return true
				}
			}
			return false
		})
	}
	api.ok("GET", "/api/v1/rooms", "", &rooms)
	if len(rooms.Rooms) != 0 {
		t.Fatalf("rooms after close: %+v", rooms)
	}
	if _, err := web.JoinByCode(ctx, j.Code); err == nil {
		t.Fatal("joined a closed room")
	}

	// Ban 127.0.0.1: its players are closed, new sessions are refused with
	// banned on both transports, until the ban is lifted.
	var ban admin.Ban
	api.ok("POST", "/api/v1/bans", `{"address":"127.0.0.1","reason":"abuse","duration":"1h"}`, &ban)
	closedWith(t, host, codec.CodeBanned)
	closedWith(t, web, codec.CodeBanned)
	dialRefused(t, kcpAddr, codec.CodeBanned)
	dialRefused(t, wsURL, codec.CodeBanned)
	var bans struct{ Bans []admin.Ban }
	api.ok("GET", "/api/v1/bans", "", &bans)
	if len(bans.Bans) != 1 || bans.Bans[0].ID != ban.ID || bans.Bans[0].Reason != "abuse" {
		t.Fatalf("bans %+v", bans)
	}
	api.ok("DELETE", "/api/v1/bans/"+ban.ID, "", nil)
	dial(t, kcpAddr, "after the ban")
	if st := srv.Stats(); st.Closes["banned"] != 2 {
		t.Errorf("closes %v", st.Closes)
	}
}

// A ban on an authenticated user closes its session and refuses its next
// hello, whatever its address.
func TestOperatorBansAUser(t *testing.T) {
	secret := []byte("s3cret")
	srv := &relay.Server{AuthSecret: secret}
	addr := startServer(t, srv)
	api := startAdmin(t, srv)
	tok := func(sub string) string {
		s, err := relay.MintToken(secret, sub, sub, "", time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ctx := ctxT(t)
	mallory, err := client.Dial(ctx, addr, client.Options{Name: "m", AuthToken: tok("mallory")})
	if err != nil {
		t.Fatal(err)
	}
	defer mallory.Close()
	alice, err := client.Dial(ctx, addr, client.Options{Name: "a", AuthToken: tok("alice")})
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	api.ok("POST", "/api/v1/bans", fmt.Sprintf(`{"player_id":%d,"reason":"griefing"}`, mallory.ID()), nil)
	closedWith(t, mallory, codec.CodeBanned)
	var bans struct{ Bans []admin.Ban }
	api.ok("GET", "/api/v1/bans", "", &bans)
	if len(bans.Bans) != 1 || bans.Bans[0].UserID != "mallory" {
		t.Fatalf("a player's ban did not resolve to its user: %+v", bans)
	}
	_, err = client.Dial(ctx, addr, client.Options{Name: "m2", AuthToken: tok("mallory")})
	var e *client.Error
	if !errors.As(err, &e) || e.Code != codec.CodeBanned || !strings.Contains(e.Message, "griefing") {
		t.Fatalf("the banned user's next hello: %v", err)
	}
	if _, err := alice.Ping(ctx); err != nil {
		t.Fatalf("another user was disturbed: %v", err)
	}
}

// A maintenance drain: no new sessions or rooms, running rooms go on, and
// at the deadline every client is told server_closing.
func TestOperatorDrain(t *testing.T) {
	srv := &relay.Server{}
	addr := startServer(t, srv)
	api := startAdmin(t, srv)
	ctx := ctxT(t)
	host := dial(t, addr, "host")
	guest := dial(t, addr, "guest")
	j, err := host.CreateRoom(ctx, client.RoomOptions{})
	if err != nil {
		t.Fatal(err)
	}
	api.ok("POST", "/api/v1/drain", `{"after":"2s"}`, nil)
	if code := api.call("POST", "/api/v1/drain", `{"after":"1s"}`, nil); code != http.StatusConflict {
		t.Fatalf("second drain: %d, want 409", code)
	}
	var o admin.Overview
	api.ok("GET", "/api/v1/overview", "", &o)
	if !o.Draining || o.DrainDeadline.IsZero() {
		t.Fatalf("overview while draining: %+v", o)
	}
	dialRefused(t, addr, codec.CodeServerClosing)
	if _, err := guest.CreateRoom(ctx, client.RoomOptions{}); !isCode(err, codec.CodeServerClosing) {
		t.Fatalf("a new room while draining: %v", err)
	}
	if _, err := guest.JoinByCode(ctx, j.Code); err != nil {
		t.Fatalf("joining a running room while draining: %v", err)
	}
	closedWith(t, host, codec.CodeServerClosing)
	closedWith(t, guest, codec.CodeServerClosing)
}

// Webhooks: the game's backend gets signed room and player events, in
// order per room.
func TestWebhooksReachTheBackend(t *testing.T) {
	const secret = "hook-secret"
	var mu sync.Mutex
	var got []webhook.Envelope
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := webhook.VerifyRequest(r, secret, 1<<20)
		if err != nil {
			t.Errorf("a request that does not verify: %v", err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var e webhook.Envelope
		if err := json.Unmarshal(body, &e); err != nil {
			t.Errorf("body: %v", err)
		}
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
	}))
	defer backend.Close()
	d := &webhook.Dispatcher{URL: backend.URL, Secret: secret}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	srv := &relay.Server{Webhooks: d, EmptyRoomGrace: 100 * time.Millisecond}
	addr := startServer(t, srv)
	ctx := ctxT(t)
	a, b := dial(t, addr, "ana"), dial(t, addr, "bo")
	j, err := a.CreateRoom(ctx, client.RoomOptions{Mode: "dm"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.JoinByCode(ctx, j.Code); err != nil {
		t.Fatal(err)
	}
	if err := b.LeaveRoom(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.LeaveRoom(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"room.created", "player.joined", "player.joined", "player.left", "player.left", "room.closed"}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d events, want %d", n, len(want))
		}
		time.Sleep(10 * time.Millisecond) // polling the backend's record, bounded by the deadline
	}
	mu.Lock()
	defer mu.Unlock()
	for i, e := range got {
		if e.Type != want[i] || e.Room != j.RoomID || e.Seq != uint64(i+1) {
			t.Errorf("event %d: %s room %d seq %d, want %s room %d seq %d", i, e.Type, e.Room, e.Seq, want[i], j.RoomID, i+1)
		}
	}
	var joined webhook.PlayerEvent
	if err := json.Unmarshal(got[1].Data, &joined); err != nil || joined.Player != a.ID() || joined.Name != "ana" {
		t.Errorf("player.joined data %s: %v", got[1].Data, err)
	}
}

// An operator call whose context ends while the tick has it queued is not
// run later behind the caller's back: run under -race, a call that wrote
// its result after returning would be reported. Each call either answers
// or fails with its context's error.
func TestOperatorCallGivenUpNeverRunsLate(t *testing.T) {
	s := &relay.Server{}
	addr := relaytest.Start(t, s)
	c := dial(t, addr, "watched")
	for i := range 300 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%7)*100*time.Microsecond)
		players, err := s.Players(ctx, admin.PlayerQuery{})
		cancel()
		switch {
		case err == nil && (len(players) != 1 || players[0].ID != c.ID()):
			t.Fatalf("call %d answered %+v", i, players)
		case err != nil && !errors.Is(err, context.DeadlineExceeded):
			t.Fatalf("call %d: %v", i, err)
		}
	}
}
