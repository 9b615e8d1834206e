package relay_test

import (
	"context"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/client"
)

func dialErr(addr string, opt client.Options) (*client.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return client.Dial(ctx, addr, opt)
}

func TestAuthTokens(t *testing.T) {
	secret := []byte("backend-secret")
	addr := startServer(t, &relay.Server{AuthSecret: secret})
	ctx := ctxT(t)
	now := time.Now()
	mint := func(sub, name, room string, ttl time.Duration, key []byte) string {
		tok, err := relay.MintToken(key, sub, name, room, ttl, now)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	refused := map[string]string{
		"no token":     "",
		"garbage":      "not.a.token",
		"wrong secret": mint("u1", "x", "", time.Hour, []byte("other")),
		"expired":      mint("u1", "x", "", -time.Minute, secret),
	}
	for name, tok := range refused {
		c, err := dialErr(addr, client.Options{Name: "x", AuthToken: tok})
		if err == nil {
			c.Close()
			t.Errorf("%s: connected", name)
			continue
		}
		if !isCode(err, codec.CodeUnauthorized) {
			t.Errorf("%s: %v, want unauthorized", name, err)
		}
	}

	// A valid token: the name comes from the token, not from hello.
	a, err := dialErr(addr, client.Options{Name: "spoofed", AuthToken: mint("u1", "Ana", "", time.Hour, secret)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	j, err := a.CreateRoom(ctx, client.RoomOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.WaitFor(ctx, func(v client.RoomView) bool { return v.Players[a.ID()].Name == "Ana" }); err != nil {
		t.Fatalf("name from token: %v %+v", err, a.Room())
	}

	// A token for one room: that room only, and no creating.
	b, err := dialErr(addr, client.Options{AuthToken: mint("u2", "Bo", j.Code, time.Hour, secret)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.CreateRoom(ctx, client.RoomOptions{}); !isCode(err, codec.CodeForbidden) {
		t.Fatalf("create with a room-bound token: %v", err)
	}
	if _, err := b.JoinOrCreate(ctx, "", nil, 0); !isCode(err, codec.CodeForbidden) {
		t.Fatalf("quick match with a room-bound token: %v", err)
	}
	other, err := dialErr(addr, client.Options{AuthToken: mint("u3", "Cy", "", time.Hour, secret)})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	jo, err := other.CreateRoom(ctx, client.RoomOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.JoinByCode(ctx, jo.Code); !isCode(err, codec.CodeForbidden) {
		t.Fatalf("join of another room: %v", err)
	}
	if _, err := b.JoinByCode(ctx, j.Code); err != nil {
		t.Fatalf("join of the allowed room: %v", err)
	}
}

func TestAnonymousWithoutSecret(t *testing.T) {
	addr := startServer(t, &relay.Server{})
	c, err := dialErr(addr, client.Options{Name: "anon", AuthToken: "ignored"})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestRateLimitDisconnectsAFlood(t *testing.T) {
	srv := &relay.Server{RateLimits: relay.RateLimits{Messages: 20, Violations: 5}}
	addr := startServer(t, srv)
	ctx := ctxT(t)
	calm := dial(t, addr, "calm")
	j, err := calm.CreateRoom(ctx, client.RoomOptions{})
	if err != nil {
		t.Fatal(err)
	}
	flood := dial(t, addr, "flood")
	if _, err := flood.JoinRoom(ctx, j.RoomID); err != nil {
		t.Fatal(err)
	}
	kf := collect(flood)
	for i := 0; i < 500; i++ {
		if flood.SetState(i) != nil {
			break
		}
	}
	select {
	case <-flood.Done():
	case <-ctx.Done():
		t.Fatal("flooding client not disconnected")
	}
	if !isCode(flood.Err(), codec.CodeRateLimited) {
		t.Fatalf("flood ended with %v", flood.Err())
	}
	<-kf.done
	warned := 0
	for _, m := range kf.other {
		if m.Type == codec.TError && m.Code == codec.CodeRateLimited {
			warned++
		}
	}
	if warned == 0 {
		t.Error("no rate_limited error before the disconnect")
	}
	// The calm player is unaffected and sees the flooder leave.
	if err := calm.WaitFor(ctx, func(v client.RoomView) bool { return len(v.Players) == 1 }); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.Closes["rate_limited"] != 1 {
		t.Errorf("closes: %v", st.Closes)
	}
}
