package admin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

const testToken = "s3cret-admin-token"

var testNow = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func testRooms() []RoomDetail { return testRoomsAt(testNow) }

// testRoomsAt is two rooms (7: ABC123, arena, alice and bob; 9: XYZ789,
// race, carol) whose times are relative to testNow.
func testRoomsAt(testNow time.Time) []RoomDetail {
	return []RoomDetail{
		{
			RoomSummary: RoomSummary{ID: 7, Code: "ABC123", Mode: "arena", Players: 2, MaxPlayers: 8, Public: true,
				Master: 11, Created: testNow.Add(-90 * time.Second)},
			Props: map[string]any{"map": "dunes"},
			Members: []PlayerSummary{
				{ID: 11, Name: "alice", UserID: "u-alice", Room: 7, Transport: TransportKCP, Remote: "198.51.100.4:5000",
					RTT: Millis(42 * time.Millisecond), StateBytes: 24, ConnectedAt: testNow.Add(-2 * time.Minute)},
				{ID: 12, Name: "bob", Room: 7, Transport: TransportWS, Remote: "198.51.100.5:6000",
					RTT: Millis(61500 * time.Microsecond), StateBytes: 30, ConnectedAt: testNow.Add(-time.Minute)},
			},
		},
		{
			RoomSummary: RoomSummary{ID: 9, Code: "XYZ789", Mode: "race", Players: 1, MaxPlayers: 4, Locked: true,
				Master: 13, Created: testNow.Add(-time.Hour)},
			Members: []PlayerSummary{{ID: 13, Name: "carol", Room: 9, Transport: TransportKCP, Remote: "203.0.113.9:7000"}},
		},
	}
}

func testOverview() Overview {
	return Overview{
		Time: testNow, Uptime: Millis(3 * time.Hour), Version: "v1.2.3", TickRate: 30,
		Players: 3, PlayersByTransport: map[string]int{"kcp": 2, "ws": 1}, Rooms: 2,
		TickWork:     Percentiles{P50: Millis(time.Millisecond), P99: Millis(3 * time.Millisecond), Max: Millis(9 * time.Millisecond)},
		TickLateness: Percentiles{P50: Millis(100 * time.Microsecond), P99: Millis(400 * time.Microsecond), Max: Millis(2 * time.Millisecond)},
		Overruns:     1, BytesIn: 1000, BytesOut: 50000, FramesSent: 900,
		Drops:  map[string]uint64{"junk": 5},
		Closes: map[string]uint64{"idle_timeout": 4, "kicked": 1},
	}
}

type apiFixture struct {
	relay   *fakeRelay
	handler *Handler
	log     *bytes.Buffer
}

func newAPIFixture(t *testing.T) *apiFixture {
	t.Helper()
	f := &apiFixture{relay: newFakeRelay(), log: &bytes.Buffer{}}
	f.relay.setOverview(testOverview())
	f.relay.setRooms(testRooms()...)
	f.handler = &Handler{Relay: f.relay, Token: testToken, Log: zerolog.New(f.log), Now: func() time.Time { return testNow }}
	return f
}

// do sends one request with the given Authorization header value.
func (f *apiFixture) do(method, path, body, auth string) *httptest.ResponseRecorder {
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	} else {
		r = httptest.NewRequest(method, path, nil)
	}
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	return w
}

func decodeJSON[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json; body %s", ct, w.Body)
	}
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("response %q: %v", w.Body, err)
	}
	return v
}

// route is one call of every API route, made with valid arguments.
var routes = []struct{ method, path, body string }{
	{"GET", "/api/v1/overview", ""},
	{"GET", "/api/v1/rooms", ""},
	{"GET", "/api/v1/rooms/7", ""},
	{"POST", "/api/v1/rooms/9/close", `{"reason":"maintenance"}`},
	{"GET", "/api/v1/players", ""},
	{"POST", "/api/v1/players/11/kick", `{"reason":"spam"}`},
	{"GET", "/api/v1/bans", ""},
	{"POST", "/api/v1/bans", `{"address":"203.0.113.7"}`},
	{"DELETE", "/api/v1/bans/b1", ""},
	{"POST", "/api/v1/announce", `{"text":"restart at 18:00"}`},
	{"POST", "/api/v1/drain", `{"after":"10m"}`},
}

func TestEveryRouteRefusesWithoutTheToken(t *testing.T) {
	for _, auth := range []string{"", "Bearer wrong", "Bearer " + testToken + "x", "Bearer", "Basic " + testToken,
		"bearer " + testToken, "Bearer  " + testToken} {
		for _, rt := range routes {
			f := newAPIFixture(t)
			w := f.do(rt.method, rt.path, rt.body, auth)
			if w.Code != http.StatusUnauthorized {
				t.Errorf("%s %s with Authorization %q: status %d, want 401", rt.method, rt.path, auth, w.Code)
				continue
			}
			if got := decodeJSON[errorBody](t, w).Error; got == "" {
				t.Errorf("%s %s: 401 without an error message", rt.method, rt.path)
			}
			if w.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s: 401 without WWW-Authenticate", rt.method, rt.path)
			}
			if calls := f.relay.Calls(); len(calls) > 0 {
				t.Errorf("%s %s without the token reached the relay: %q", rt.method, rt.path, calls)
			}
		}
	}
}

func TestEmptyTokenRefusesEverything(t *testing.T) {
	f := newAPIFixture(t)
	f.handler.Token = ""
	for _, auth := range []string{"", "Bearer "} {
		if w := f.do("GET", "/api/v1/overview", "", auth); w.Code != http.StatusUnauthorized {
			t.Errorf("empty handler token, Authorization %q: status %d, want 401", auth, w.Code)
		}
	}
}

func TestEveryRouteWorksWithTheToken(t *testing.T) {
	f := newAPIFixture(t)
	f.relay.bans = []Ban{{ID: "b1", Address: "198.51.100.0/24"}}
	for _, rt := range routes {
		w := f.do(rt.method, rt.path, rt.body, "Bearer "+testToken)
		if w.Code >= 300 {
			t.Errorf("%s %s: status %d, body %s", rt.method, rt.path, w.Code, w.Body)
		}
		if w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: Cache-Control %q, want no-store", rt.method, rt.path, w.Header().Get("Cache-Control"))
		}
	}
}

func (f *apiFixture) get(t *testing.T, path string) *httptest.ResponseRecorder {
	t.Helper()
	return f.do("GET", path, "", "Bearer "+testToken)
}

func (f *apiFixture) post(t *testing.T, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	return f.do("POST", path, body, "Bearer "+testToken)
}

func TestOverview(t *testing.T) {
	f := newAPIFixture(t)
	w := f.get(t, "/api/v1/overview")
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	raw := decodeJSON[map[string]any](t, w)
	for key, want := range map[string]any{
		"players": 3.0, "rooms": 2.0, "tick_rate": 30.0, "version": "v1.2.3", "uptime_ms": 10800000.0,
		"overruns": 1.0, "bytes_in": 1000.0, "bytes_out": 50000.0, "frames_sent": 900.0, "draining": false,
	} {
		if raw[key] != want {
			t.Errorf("%s = %v, want %v", key, raw[key], want)
		}
	}
	if _, ok := raw["drain_deadline"]; ok {
		t.Errorf("drain_deadline present while not draining")
	}
	if got := raw["tick_work"].(map[string]any)["p99_ms"]; got != 3.0 {
		t.Errorf("tick_work.p99_ms = %v, want 3", got)
	}
	if got := raw["tick_lateness"].(map[string]any)["p50_ms"]; got != 0.1 {
		t.Errorf("tick_lateness.p50_ms = %v, want 0.1", got)
	}
	if got := raw["closes"].(map[string]any)["kicked"]; got != 1.0 {
		t.Errorf("closes.kicked = %v, want 1", got)
	}
	if got := raw["players_by_transport"].(map[string]any)["ws"]; got != 1.0 {
		t.Errorf("players_by_transport.ws = %v, want 1", got)
	}

	// Missing maps are sent as {} so a client can iterate without checks.
	f.relay.setOverview(Overview{})
	raw = decodeJSON[map[string]any](t, f.get(t, "/api/v1/overview"))
	for _, key := range []string{"drops", "closes", "players_by_transport"} {
		if m, ok := raw[key].(map[string]any); !ok || len(m) != 0 {
			t.Errorf("%s = %#v, want {}", key, raw[key])
		}
	}
	if w := f.get(t, "/api/v1/overview?x=1"); w.Code != 400 {
		t.Errorf("unknown parameter: status %d, want 400", w.Code)
	}
}

func TestRooms(t *testing.T) {
	f := newAPIFixture(t)
	w := f.get(t, "/api/v1/rooms?q=abc&limit=10&offset=0")
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	got := decodeJSON[roomsResponse](t, w)
	if len(got.Rooms) != 1 || got.Rooms[0].Code != "ABC123" || got.Rooms[0].Players != 2 || got.Limit != 10 {
		t.Fatalf("rooms ?q=abc: %+v", got)
	}
	if got.Rooms[0].Age != Millis(90*time.Second) {
		t.Errorf("age %v, want 90 s from Created", time.Duration(got.Rooms[0].Age))
	}
	if calls := f.relay.Calls(); calls[len(calls)-1] != "rooms mode= q=abc limit=10 offset=0" {
		t.Errorf("relay asked %q", calls[len(calls)-1])
	}

	got = decodeJSON[roomsResponse](t, f.get(t, "/api/v1/rooms"))
	if len(got.Rooms) != 2 || got.Limit != DefaultLimit {
		t.Errorf("rooms: %d rooms, limit %d; want 2, %d", len(got.Rooms), got.Limit, DefaultLimit)
	}
	got = decodeJSON[roomsResponse](t, f.get(t, "/api/v1/rooms?mode=race"))
	if len(got.Rooms) != 1 || got.Rooms[0].ID != 9 {
		t.Errorf("rooms ?mode=race: %+v", got.Rooms)
	}
	w = f.get(t, "/api/v1/rooms?q=nothing-matches")
	if body := w.Body.String(); !strings.Contains(body, `"rooms":[]`) {
		t.Errorf("no match: body %s, want an empty list, not null", body)
	}

	for _, bad := range []string{"limit=0", "limit=501", "limit=x", "offset=-1", "offset=1e3", "sort=code",
		"q=" + strings.Repeat("a", 101), "q=%00", "q=%ff", "limit=1&limit=2"} {
		w := f.get(t, "/api/v1/rooms?"+bad)
		if w.Code != 400 || decodeJSON[errorBody](t, w).Error == "" {
			t.Errorf("rooms?%s: status %d, body %s; want 400 with an error", bad, w.Code, w.Body)
		}
	}
}

func TestRoomDetail(t *testing.T) {
	f := newAPIFixture(t)
	w := f.get(t, "/api/v1/rooms/7")
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	d := decodeJSON[RoomDetail](t, w)
	if d.Code != "ABC123" || len(d.Members) != 2 || d.Members[0].Name != "alice" || d.Props["map"] != "dunes" {
		t.Errorf("detail: %+v", d)
	}
	if d.Members[1].RTT != Millis(61500*time.Microsecond) || d.Members[1].StateBytes != 30 {
		t.Errorf("bob: rtt %v, state %d", time.Duration(d.Members[1].RTT), d.Members[1].StateBytes)
	}
	if d.Members[0].Age != Millis(2*time.Minute) {
		t.Errorf("alice's age %v, want 2m from ConnectedAt", time.Duration(d.Members[0].Age))
	}
	raw := decodeJSON[map[string]any](t, f.get(t, "/api/v1/rooms/9"))
	if _, ok := raw["props"].(map[string]any); !ok {
		t.Errorf("room without props: props = %#v, want {}", raw["props"])
	}
	for path, want := range map[string]int{
		"/api/v1/rooms/8": 404, "/api/v1/rooms/0": 400, "/api/v1/rooms/x": 400, "/api/v1/rooms/-1": 400,
		"/api/v1/rooms/4294967296": 400, "/api/v1/rooms/4294967295": 404,
	} {
		w := f.get(t, path)
		if w.Code != want || decodeJSON[errorBody](t, w).Error == "" {
			t.Errorf("GET %s: status %d, body %s; want %d with an error", path, w.Code, w.Body, want)
		}
	}
}

func TestPlayers(t *testing.T) {
	f := newAPIFixture(t)
	got := decodeJSON[playersResponse](t, f.get(t, "/api/v1/players?room=7&transport=ws&q=b"))
	if len(got.Players) != 1 || got.Players[0].Name != "bob" {
		t.Fatalf("players: %+v", got.Players)
	}
	if calls := f.relay.Calls(); calls[len(calls)-1] != "players q=b room=7 transport=ws limit=50 offset=0" {
		t.Errorf("relay asked %q", calls[len(calls)-1])
	}
	got = decodeJSON[playersResponse](t, f.get(t, "/api/v1/players?limit=2"))
	if len(got.Players) != 2 {
		t.Errorf("limit=2: %d players", len(got.Players))
	}
	for _, bad := range []string{"transport=udp", "room=0", "room=x", "room=4294967296", "limit=9999", "name=bob"} {
		if w := f.get(t, "/api/v1/players?"+bad); w.Code != 400 {
			t.Errorf("players?%s: status %d, want 400", bad, w.Code)
		}
	}
}

func TestKickAndCloseRoom(t *testing.T) {
	f := newAPIFixture(t)
	if w := f.post(t, "/api/v1/players/12/kick", `{"reason":"  griefing "}`); w.Code != 200 {
		t.Fatalf("kick: status %d: %s", w.Code, w.Body)
	}
	if w := f.post(t, "/api/v1/rooms/9/close", ""); w.Code != 200 {
		t.Fatalf("close without a body: status %d: %s", w.Code, w.Body)
	}
	want := []string{"kick 12 griefing", "close 9 "}
	if calls := f.relay.Calls(); !slices.Equal(calls, want) {
		t.Errorf("calls %q, want %q", calls, want)
	}
	for _, c := range []struct {
		path, body string
		status     int
	}{
		{"/api/v1/players/99/kick", `{}`, 404},
		{"/api/v1/rooms/99/close", `{}`, 404},
		{"/api/v1/players/x/kick", `{}`, 400},
		{"/api/v1/rooms/0/close", `{}`, 400},
		{"/api/v1/players/11/kick", `{"reason":"` + strings.Repeat("x", MaxReasonBytes+1) + `"}`, 400},
		{"/api/v1/players/11/kick", `{"reason":"a\u0007b"}`, 400},
		{"/api/v1/players/11/kick", `{"why":"x"}`, 400},
		{"/api/v1/players/11/kick", `{"reason":1}`, 400},
		{"/api/v1/players/11/kick", `{"reason":"x"}{}`, 400},
		{"/api/v1/players/11/kick", `[`, 400},
		{"/api/v1/rooms/7/close", `{"reason":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, 413},
	} {
		w := f.post(t, c.path, c.body)
		if w.Code != c.status || decodeJSON[errorBody](t, w).Error == "" {
			t.Errorf("POST %s %.40q: status %d, body %s; want %d with an error", c.path, c.body, w.Code, w.Body, c.status)
		}
	}
	if calls := f.relay.Calls(); len(calls) != 2 {
		t.Errorf("refused requests reached the relay: %q", calls)
	}
}

func TestBans(t *testing.T) {
	f := newAPIFixture(t)
	for _, c := range []struct{ body, call string }{
		{`{"address":"203.0.113.7","reason":"cheating","duration":"24h"}`,
			"ban b1 player=0 user= address=203.0.113.7 until=2026-12-04T12:00:00Z reason=cheating"},
		{`{"address":"203.0.113.77/24"}`, "ban b2 player=0 user= address=203.0.113.0/24 until=0001-01-01T00:00:00Z reason="},
		{`{"address":"::ffff:198.51.100.1"}`, "ban b3 player=0 user= address=198.51.100.1 until=0001-01-01T00:00:00Z reason="},
		{`{"address":"2001:db8::1/48"}`, "ban b4 player=0 user= address=2001:db8::/48 until=0001-01-01T00:00:00Z reason="},
		{`{"user_id":"u-42","until":"2026-12-10T00:00:00Z"}`, "ban b5 player=0 user=u-42 address= until=2026-12-10T00:00:00Z reason="},
		{`{"player_id":11,"reason":"spam"}`, "ban b6 player=11 user= address= until=0001-01-01T00:00:00Z reason=spam"},
	} {
		w := f.post(t, "/api/v1/bans", c.body)
		if w.Code != http.StatusCreated {
			t.Fatalf("ban %s: status %d: %s", c.body, w.Code, w.Body)
		}
		b := decodeJSON[Ban](t, w)
		if calls := f.relay.Calls(); calls[len(calls)-1] != c.call {
			t.Errorf("ban %s: relay got %q, want %q", c.body, calls[len(calls)-1], c.call)
		}
		if b.ID == "" || b.Created.IsZero() {
			t.Errorf("ban %s: answer %+v lacks id or created", c.body, b)
		}
	}
	list := decodeJSON[bansResponse](t, f.get(t, "/api/v1/bans"))
	if len(list.Bans) != 6 || list.Bans[0].Until != testNow.Add(24*time.Hour) {
		t.Errorf("bans: %+v", list.Bans)
	}
	if w := f.do("DELETE", "/api/v1/bans/b2", "", "Bearer "+testToken); w.Code != 200 {
		t.Errorf("unban b2: status %d: %s", w.Code, w.Body)
	}
	if w := f.do("DELETE", "/api/v1/bans/b2", "", "Bearer "+testToken); w.Code != 404 {
		t.Errorf("unban b2 again: status %d, want 404", w.Code)
	}
	if w := f.do("DELETE", "/api/v1/bans/"+strings.Repeat("b", 65), "", "Bearer "+testToken); w.Code != 400 {
		t.Errorf("unban with a 65-byte id: status %d, want 400", w.Code)
	}

	for _, bad := range []string{
		``, `{}`, `{"reason":"x"}`,
		`{"address":"203.0.113.7","user_id":"u"}`,
		`{"address":"example.com"}`, `{"address":"203.0.113.7/33"}`, `{"address":"0.0.0.0/0"}`, `{"address":"10.0.0.0/7"}`,
		`{"address":"::/0"}`, `{"address":"fe80::1%eth0"}`,
		`{"address":"203.0.113.7","duration":"-1h"}`, `{"address":"203.0.113.7","duration":"soon"}`,
		`{"address":"203.0.113.7","duration":"876000h"}`,
		`{"address":"203.0.113.7","until":"2020-01-01T00:00:00Z"}`,
		`{"address":"203.0.113.7","until":"2027-01-01T00:00:00Z","duration":"1h"}`,
		`{"address":"203.0.113.7","until":"tomorrow"}`,
		`{"player_id":-1}`, `{"player_id":4294967296}`, `{"user_id":"` + strings.Repeat("u", 129) + `"}`,
		`{"address":"203.0.113.7","extra":1}`,
	} {
		w := f.post(t, "/api/v1/bans", bad)
		if w.Code != 400 || decodeJSON[errorBody](t, w).Error == "" {
			t.Errorf("ban %s: status %d, body %s; want 400 with an error", bad, w.Code, w.Body)
		}
	}
}

func TestAnnounce(t *testing.T) {
	f := newAPIFixture(t)
	if w := f.post(t, "/api/v1/announce", `{"text":"server restarts in 10 minutes"}`); w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if calls := f.relay.Calls(); !slices.Equal(calls, []string{"announce server restarts in 10 minutes"}) {
		t.Errorf("calls %q", calls)
	}
	for _, bad := range []string{``, `{}`, `{"text":"   "}`, `{"text":"` + strings.Repeat("x", MaxAnnounceBytes+1) + `"}`,
		`{"text":"line\nbreak"}`} {
		if w := f.post(t, "/api/v1/announce", bad); w.Code != 400 {
			t.Errorf("announce %.60s: status %d, want 400", bad, w.Code)
		}
	}
}

func TestDrain(t *testing.T) {
	f := newAPIFixture(t)
	w := f.post(t, "/api/v1/drain", `{"after":"10m"}`)
	if w.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if got := decodeJSON[drainResponse](t, w); !got.Draining || !got.Deadline.Equal(testNow.Add(10*time.Minute)) {
		t.Errorf("answer %+v", got)
	}
	raw := decodeJSON[map[string]any](t, f.get(t, "/api/v1/overview"))
	if raw["draining"] != true || raw["drain_deadline"] != "2026-12-03T12:10:00Z" {
		t.Errorf("overview while draining: draining %v, deadline %v", raw["draining"], raw["drain_deadline"])
	}
	if w := f.post(t, "/api/v1/drain", `{"deadline":"2026-12-03T13:00:00Z"}`); w.Code != http.StatusConflict {
		t.Errorf("second drain: status %d, want 409", w.Code)
	}
	for _, bad := range []string{`{}`, `{"after":"-1m"}`, `{"after":"25h"}`, `{"after":"ten"}`,
		`{"deadline":"2026-12-03T11:00:00Z"}`, `{"deadline":"2026-12-05T12:00:00Z"}`,
		`{"deadline":"2026-12-03T13:00:00Z","after":"1m"}`} {
		if w := f.post(t, "/api/v1/drain", bad); w.Code != 400 {
			t.Errorf("drain %s: status %d, want 400", bad, w.Code)
		}
	}
}

func TestWrongMethodAndUnknownPathAreJSON(t *testing.T) {
	f := newAPIFixture(t)
	for _, c := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"POST", "/api/v1/overview", 405, "GET, HEAD"},
		{"DELETE", "/api/v1/rooms/7", 405, "GET, HEAD"},
		{"GET", "/api/v1/rooms/7/close", 405, "POST"},
		{"GET", "/api/v1/bans/b1", 405, "DELETE"},
		{"PUT", "/api/v1/bans", 405, "GET, HEAD, POST"},
		{"GET", "/api/v1/nothing", 404, ""},
		{"GET", "/api/v2/overview", 404, ""},
	} {
		w := f.do(c.method, c.path, "", "Bearer "+testToken)
		if w.Code != c.status || decodeJSON[errorBody](t, w).Error == "" || w.Header().Get("Allow") != c.allow {
			t.Errorf("%s %s: status %d, Allow %q, body %s; want %d, %q", c.method, c.path, w.Code,
				w.Header().Get("Allow"), w.Body, c.status, c.allow)
		}
	}
	// Without the token even a wrong method is 401: nothing about the API
	// is told to a caller without it.
	if w := f.do("POST", "/api/v1/overview", "", ""); w.Code != 401 {
		t.Errorf("wrong method without a token: status %d, want 401", w.Code)
	}
}

func TestStuckRelayAnswers503(t *testing.T) {
	f := newAPIFixture(t)
	f.relay.stuck = true
	f.handler.Timeout = 20 * time.Millisecond
	for _, rt := range routes {
		w := f.do(rt.method, rt.path, rt.body, "Bearer "+testToken)
		if w.Code != http.StatusServiceUnavailable || decodeJSON[errorBody](t, w).Error == "" {
			t.Errorf("%s %s with a stuck relay: status %d, body %s; want 503", rt.method, rt.path, w.Code, w.Body)
		}
	}
}

func TestActionsAreLogged(t *testing.T) {
	f := newAPIFixture(t)
	f.post(t, "/api/v1/players/11/kick", `{"reason":"spam"}`)
	f.post(t, "/api/v1/rooms/99/close", `{"reason":"gone"}`) // fails: not found
	f.post(t, "/api/v1/bans", `{"user_id":"u-9","duration":"1h","reason":"abuse"}`)
	f.do("DELETE", "/api/v1/bans/b1", "", "Bearer "+testToken)
	f.post(t, "/api/v1/announce", `{"text":"hello"}`)
	f.post(t, "/api/v1/drain", `{"after":"5m"}`)
	f.get(t, "/api/v1/rooms") // a read: not logged

	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(f.log.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	want := []map[string]any{
		{"admin_action": "kick", "player": 11.0, "reason": "spam", "level": "info"},
		{"admin_action": "close_room", "room": 99.0, "reason": "gone", "level": "warn", "error": "room 99: not found"},
		{"admin_action": "ban", "ban": "b1", "user": "u-9", "reason": "abuse", "until": "2026-12-03T13:00:00Z"},
		{"admin_action": "unban", "ban": "b1"},
		{"admin_action": "announce", "text": "hello"},
		{"admin_action": "drain", "deadline": "2026-12-03T12:05:00Z"},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d log lines, want %d:\n%s", len(lines), len(want), f.log)
	}
	for i, w := range want {
		for k, v := range w {
			if lines[i][k] != v {
				t.Errorf("log line %d: %s = %v, want %v", i, k, lines[i][k], v)
			}
		}
		// httptest.NewRequest's remote address, and the handler's clock.
		if lines[i]["by"] != "192.0.2.1:1234" || lines[i]["at"] != "2026-12-03T12:00:00Z" {
			t.Errorf("log line %d: by %v at %v", i, lines[i]["by"], lines[i]["at"])
		}
	}
}

func TestMillisJSON(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		json string
	}{{0, "0"}, {time.Millisecond, "1"}, {1500 * time.Microsecond, "1.5"}, {2 * time.Microsecond, "0.002"}, {-time.Second, "-1000"}} {
		b, err := json.Marshal(Millis(c.d))
		if err != nil || string(b) != c.json {
			t.Errorf("Millis(%v) = %s, %v; want %s", c.d, b, err, c.json)
		}
		var back Millis
		if err := json.Unmarshal(b, &back); err != nil || time.Duration(back) != c.d {
			t.Errorf("Millis %s read back as %v, %v", b, time.Duration(back), err)
		}
	}
}
