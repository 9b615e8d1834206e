package conformance

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/relay"
)

// Section 4.1 hello and section 5.1 welcome.

var tokenPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// checkWelcome checks a fresh welcome's fields as section 5.1 lists them.
func checkWelcome(t *testing.T, w Welcome, tickRate uint64) {
	t.Helper()
	now := uint64(time.Now().UnixMilli())
	switch {
	case w.Version != 1:
		t.Errorf("welcome version %d", w.Version)
	case w.PlayerID == 0:
		t.Error("welcome player_id 0")
	case !tokenPattern.MatchString(w.ResumeToken):
		t.Errorf("resume_token %q is not 32 hex characters", w.ResumeToken)
	case w.TickRate != tickRate:
		t.Errorf("tick_rate %d, want %d", w.TickRate, tickRate)
	case w.ServerTimeMs+5000 < now || w.ServerTimeMs > now+5000:
		t.Errorf("server_time_ms %d, now is %d", w.ServerTimeMs, now)
	case w.Resumed || w.RoomID != 0:
		t.Errorf("a fresh welcome with resumed %v, room_id %d", w.Resumed, w.RoomID)
	}
}

func TestSection4_1_Hello(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{TickRate: 20})
		a := e.connect("ana")
		checkWelcome(t, a.hello("ana", propsMap("team", "red")), 20)

		// The optional fields, empty: the same as none.
		name32 := strings.Repeat("n", 32)
		b := e.connect(name32)
		b.send(THello, 1, name32, nil, "", "", 0)
		wb := b.expectWelcome()
		checkWelcome(t, wb, 20)
		if wb.PlayerID == a.welcome.PlayerID || wb.ResumeToken == a.welcome.ResumeToken {
			t.Error("two players share an id or a resume token")
		}

		// 32 property keys of 32 bytes with 256-byte values are within
		// the limits.
		c := e.connect("cy")
		big := propsMap()
		for i := range 32 {
			big = append(big, KV{strings.Repeat(string(rune('a'+i%26)), 31) + string(rune('0'+i/26)), Raw(Encode(strings.Repeat("v", 254)))})
		}
		if len(Encode(big[0].Value)) != 256 || len(big[0].Key.(string)) != 32 {
			t.Fatal("bad test props")
		}
		c.hello("cy", big)

		// The name and props travel with the player into a room.
		j := a.joined(a.request(TCreateRoom, "dm", 0, true, nil))
		b.joined(b.request(TJoinRoom, j.RoomID))
		c.joined(c.request(TJoinRoom, j.RoomID))
		a.waitView("three players", func(v *roomView) bool { return len(v.players) == 3 })
		if p := a.view.players[a.welcome.PlayerID]; p.name != "ana" || !equalProps(p.props, props("team", "red")) {
			t.Errorf("ana appears as %q %v", p.name, p.props)
		}
		if p := a.view.players[wb.PlayerID]; p.name != name32 || len(p.props) != 0 {
			t.Errorf("the 32-byte name appears as %q %v", p.name, p.props)
		}
		if p := a.view.players[c.welcome.PlayerID]; len(p.props) != 32 {
			t.Errorf("cy has %d props", len(p.props))
		}
	})
}

// Hello is all or nothing: every refusal closes the session with its code
// (decision 3).
func TestSection4_1_HelloRefusals(t *testing.T) {
	many := propsMap()
	for i := range 33 {
		many = append(many, KV{string(rune('A' + i)), i})
	}
	cases := []struct {
		name   string
		fields []any
		code   int
	}{
		{"version 2", []any{THello, 2, "ana", nil}, CodeVersionMismatch},
		{"version 0", []any{THello, 0, "ana", nil}, CodeVersionMismatch},
		{"name of 33 bytes", []any{THello, 1, strings.Repeat("n", 33), nil}, CodeTooLarge},
		{"33 props", []any{THello, 1, "ana", many}, CodeLimit},
		{"prop value of 257 bytes", []any{THello, 1, "ana", propsMap("k", strings.Repeat("v", 255))}, CodeTooLarge},
		{"prop key of 33 bytes", []any{THello, 1, "ana", propsMap(strings.Repeat("k", 33), 1)}, CodeTooLarge},
		{"name not a str", []any{THello, 1, 7, nil}, CodeMalformed},
		{"props not a map", []any{THello, 1, "ana", []any{1}}, CodeMalformed},
	}
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := e.on(t).connect("x")
				c.send(tc.fields...)
				c.expectClose(tc.code)
			})
		}
		t.Run("second hello", func(t *testing.T) {
			c := e.on(t).join("ana")
			c.send(THello, 1, "ana", nil)
			c.expectClose(CodeNotReady)
		})
		t.Run("three fields", func(t *testing.T) {
			if k.helloFirst {
				t.Skip("over this transport a first segment that is not a hello of 4 or more fields is dropped unanswered")
			}
			c := e.on(t).connect("x")
			c.send(THello, 1, "ana")
			c.expectClose(CodeMalformed)
		})
		t.Run("not hello first", func(t *testing.T) {
			if k.helloFirst {
				t.Skip("over this transport a first message that is not hello is dropped unanswered (TestSection1_UnknownAddressOnlyHelloStartsASession)")
			}
			c := e.on(t).connect("x")
			c.send(TPing, 1)
			c.expectClose(CodeNotReady)
		})
	})
}
