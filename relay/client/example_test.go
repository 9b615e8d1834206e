package client_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/client"
)

type position struct {
	X, Y float64
}

// Two players meet in a room by code and see each other move. Against a
// running relay, use its address ("127.0.0.1:7777") instead of starting one.
func Example() {
	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	srv := &relay.Server{}
	go srv.Serve(pc)
	defer srv.Shutdown(context.Background())
	addr := pc.LocalAddr().String()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	alice, err := client.Dial(ctx, addr, client.Options{Name: "alice"})
	if err != nil {
		panic(err)
	}
	defer alice.Close()
	bob, err := client.Dial(ctx, addr, client.Options{Name: "bob"})
	if err != nil {
		panic(err)
	}
	defer bob.Close()

	room, _ := alice.CreateRoom(ctx, client.RoomOptions{Mode: "arena", MaxPlayers: 8})
	bob.JoinByCode(ctx, room.Code) // the code a player would type in

	alice.SetState(position{X: 3, Y: 4})
	bob.WaitFor(ctx, func(v client.RoomView) bool { return v.Players[alice.ID()].State != nil })

	var p position
	view := bob.Room()
	client.Unmarshal(view.Players[alice.ID()].State, &p)
	fmt.Printf("bob sees %s at (%v, %v); %d players; master is %s\n",
		view.Players[alice.ID()].Name, p.X, p.Y, len(view.Players), view.Players[view.Master].Name)
	// Output: bob sees alice at (3, 4); 2 players; master is alice
}
