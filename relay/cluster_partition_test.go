package relay_test

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/internal/cutproxy"
	"github.com/tickrelay/tickrelay/internal/natstest"
	"github.com/tickrelay/tickrelay/internal/relaytest"
	"github.com/tickrelay/tickrelay/relay/client"
	"github.com/tickrelay/tickrelay/relay/cluster"
)

// Two relays on an external NATS server, each through a proxy the test
// can cut. The node of a room loses NATS: it keeps serving that room and
// makes new rooms itself; the other node forgets its rooms within the TTL
// and answers their code room_not_found. When NATS comes back, the room is
// found through the other node again.
func TestClusterPartition(t *testing.T) {
	const ttl = 2 * time.Second
	srv := natstest.Start(t, 0, t.TempDir())
	target := srv.Addr().(*net.TCPAddr).String()
	proxies := []*cutproxy.Proxy{cutproxy.New(t, target), cutproxy.New(t, target)}
	nodes := relaytest.StartClusterOn(t, []string{"nats://" + proxies[0].Addr(), "nats://" + proxies[1].Addr()}, ttl, nil)
	ctx := clusterCtx(t)

	ana := dial(t, nodes[0].KCP, "ana")
	j, err := ana.CreateRoom(ctx, client.RoomOptions{Mode: "coop"})
	if err != nil {
		t.Fatal(err)
	}
	x := int(cluster.NodeOf(j.RoomID)) - 1 // the room's node, cut below
	y := 1 - x
	relaytest.WaitFor(t, ctx, "the room in the other node's directory", func() bool {
		_, ok := nodes[y].Node.RoomByCode(j.Code)
		return ok
	})
	bo := dial(t, nodes[y].KCP, "bo")
	if _, err := bo.JoinByCode(ctx, j.Code); err != nil {
		t.Fatal(err)
	}

	cut := time.Now()
	proxies[x].SetCut(true)
	relaytest.WaitFor(t, ctx, "the cut node says it lost NATS", func() bool { return !nodes[x].Node.Status().Connected })
	// The room goes on: a state set by one member reaches the other.
	if err := bo.SetState([]int{7}); err != nil {
		t.Fatal(err)
	}
	if err := ana.WaitFor(ctx, func(v client.RoomView) bool {
		p, ok := v.Players[bo.ID()]
		return ok && len(p.State) > 0
	}); err != nil {
		t.Fatalf("the cut node's room stopped: %v", err)
	}
	// New rooms on the cut node are made there, whatever its stale view
	// of the others' load says.
	cy := dial(t, nodes[x].KCP, "cy")
	jc, err := cy.CreateRoom(ctx, client.RoomOptions{Mode: "solo"})
	if err != nil {
		t.Fatal(err)
	}
	if cluster.NodeOf(jc.RoomID) != uint8(x+1) {
		t.Fatalf("a room made on the cut node %d is on node %d", x+1, cluster.NodeOf(jc.RoomID))
	}
	// The other node forgets the cut node's rooms within the TTL.
	relaytest.WaitFor(t, ctx, "the cut node's room gone from the other's directory", func() bool {
		_, ok := nodes[y].Node.RoomByCode(j.Code)
		return !ok
	})
	t.Logf("a cut-off node's rooms left the other's directory %v after the cut (TTL %v)", time.Since(cut).Round(time.Millisecond), ttl)
	dee := dial(t, nodes[y].KCP, "dee")
	var ce *client.Error
	if _, err := dee.JoinByCode(ctx, j.Code); !errors.As(err, &ce) || ce.Code != codec.CodeRoomNotFound {
		t.Fatalf("join by the code of a cut-off node's room: %v, want room_not_found", err)
	}

	healed := time.Now()
	proxies[x].SetCut(false)
	relaytest.WaitFor(t, ctx, "the room back in the other node's directory", func() bool {
		_, ok := nodes[y].Node.RoomByCode(j.Code)
		return ok
	})
	t.Logf("after the cut healed, its rooms back on the other node in %v", time.Since(healed).Round(time.Millisecond))
	if _, err := dee.JoinByCode(ctx, j.Code); err != nil {
		t.Fatalf("join by code after the cut healed: %v", err)
	}
	if err := dee.WaitFor(ctx, func(v client.RoomView) bool { return v.ID == j.RoomID && len(v.Players) == 3 }); err != nil {
		t.Fatalf("the late joiner never saw the room of three: %v", err)
	}
}
