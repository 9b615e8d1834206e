package relay

import (
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/codec"
)

// FuzzHandshake feeds arbitrary first messages (and a second one) to a
// fresh connection, with auth and resume enabled: the hub must answer with
// a welcome or a close, never panic, and never disturb another player.
func FuzzHandshake(f *testing.F) {
	hello := codec.ClientMsg{Type: codec.THello, Version: 1, Name: []byte("x")}
	f.Add(enc(hello), []byte{})
	withAuth := hello
	withAuth.Auth = []byte("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig")
	f.Add(enc(withAuth), enc(codec.ClientMsg{Type: codec.TCreateRoom, RID: 1}))
	resume := hello
	resume.Resume, resume.LastTick = []byte("00112233445566778899aabbccddeeff"), 5
	f.Add(enc(resume), []byte{0x91, 0x18})
	f.Add([]byte{0xdd, 0x10, 0x00, 0x00, 0x00}, []byte{0x90})
	f.Fuzz(func(t *testing.T, first, second []byte) {
		cfg := testHubConfig()
		cfg.resumeGrace = time.Second
		cfg.authSecret = []byte("secret")
		x := newHarnessConfig(t, cfg)
		tok, err := MintToken(cfg.authSecret, "u1", "a", "", time.Hour, x.timeOf(1))
		if err != nil {
			t.Fatal(err)
		}
		a := x.connect()
		a.send(codec.ClientMsg{Type: codec.THello, Version: 1, Auth: []byte(tok)})
		x.tick()
		a.recv()
		c := x.connect()
		c.sendBody(first)
		if len(second) > 0 {
			c.sendBody(second)
		}
		x.tick()
		ms := c.recv()
		if len(ms) == 0 {
			t.Fatal("no answer to a first message")
		}
		if ms[0].Type != codec.TWelcome && ms[0].Type != codec.TClose {
			t.Fatalf("first answer is type %d", ms[0].Type)
		}
		a.send(codec.ClientMsg{Type: codec.TPing, ClientTime: 1})
		x.tick()
		if got := ofType(a.recv(), codec.TPong); len(got) != 1 || a.p.closing {
			t.Fatal("another player was disturbed")
		}
	})
}
