package relay_test

import (
	"testing"

	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/client"
)

func TestSmokeTwoPlayersSeeEachOther(t *testing.T) {
	addr := startServer(t, &relay.Server{})
	a, b := dial(t, addr, "alice"), dial(t, addr, "bob")
	ctx := ctxT(t)
	j, err := a.CreateRoom(ctx, client.RoomOptions{Mode: "dm", MaxPlayers: 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.JoinByCode(ctx, j.Code); err != nil {
		t.Fatal(err)
	}
	if err := a.SetState(map[string]any{"x": 1}); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitFor(ctx, func(v client.RoomView) bool {
		p, ok := v.Players[a.ID()]
		return ok && p.State != nil
	}); err != nil {
		t.Fatal(err)
	}
	var st map[string]int
	if err := client.Unmarshal(b.Room().Players[a.ID()].State, &st); err != nil || st["x"] != 1 {
		t.Fatalf("state %v %v", st, err)
	}
}
