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

// Three relays with embedded NATS, their routes through proxies: one node
// is split from the other two (a network split, 1 against 2). The two keep
// a quorum: they forget the lone node's rooms within the TTL and go on
// making and joining rooms between them. The lone node has no quorum: it
// forgets the others' rooms, and its own room goes on. When the split
// heals, each side lists the other's rooms again and a join by code
// crosses it.
func TestClusterSplit(t *testing.T) {
	// Longer than the majority's JetStream takes to elect new stream
	// leaders (2-5 s here): meanwhile nothing is written, and a shorter
	// TTL drops the majority's own rooms from its directories until then.
	const ttl = 5 * time.Second
	sc := relaytest.StartSplittableCluster(t, 3, ttl, nil)
	nodes := sc.Nodes
	ctx := clusterCtx(t)

	ana := dial(t, nodes[0].KCP, "ana")
	ja, err := ana.CreateRoom(ctx, client.RoomOptions{Mode: "coop"})
	if err != nil {
		t.Fatal(err)
	}
	x := int(cluster.NodeOf(ja.RoomID)) - 1 // the node split off below
	var majority []*relaytest.ClusterNode
	for i, n := range nodes {
		if i != x {
			majority = append(majority, n)
		}
	}
	// A second member of the lone node's room, and a room on the other side.
	cy := dial(t, nodes[x].KCP, "cy")
	if _, err := cy.JoinByCode(ctx, ja.Code); err != nil {
		t.Fatal(err)
	}
	relaytest.WaitFor(t, ctx, "the lone node no longer the least loaded", func() bool {
		return majority[0].Node.LeastLoaded().ID != uint8(x+1)
	})
	bo := dial(t, majority[0].KCP, "bo")
	jb, err := bo.CreateRoom(ctx, client.RoomOptions{Mode: "coop"})
	if err != nil {
		t.Fatal(err)
	}
	if int(cluster.NodeOf(jb.RoomID))-1 == x {
		t.Fatalf("test setup: the second room %#x went to the node %d that has the first", jb.RoomID, x+1)
	}
	// (A node's directory holds the other nodes' rooms.)
	for _, n := range nodes {
		relaytest.WaitFor(t, ctx, "both rooms listed on the nodes they are not on", func() bool {
			for _, j := range []client.Joined{ja, jb} {
				if _, ok := n.Node.RoomByCode(j.Code); !ok && cluster.NodeOf(j.RoomID) != n.Node.ID() {
					return false
				}
			}
			return true
		})
	}

	split := time.Now()
	sc.Isolate(x, true)
	for _, n := range majority {
		d := relaytest.WaitFor(t, ctx, "the lone node's room gone from the majority's directory", func() bool {
			_, ok := n.Node.RoomByCode(ja.Code)
			return !ok
		})
		t.Logf("node %d: the lone node's room left its directory %v after the split (TTL %v)", n.Node.ID(), time.Since(split).Round(time.Millisecond), ttl)
		_ = d
	}
	relaytest.WaitFor(t, ctx, "the majority's room gone from the lone node's directory", func() bool {
		_, ok := nodes[x].Node.RoomByCode(jb.Code)
		return !ok
	})
	t.Logf("node %d (alone): the others' room left its directory %v after the split; status %+v", x+1, time.Since(split).Round(time.Millisecond), nodes[x].Node.Status())
	// The lone node's room goes on.
	if err := cy.SetState([]int{7}); err != nil {
		t.Fatal(err)
	}
	if err := ana.WaitFor(ctx, func(v client.RoomView) bool {
		p, ok := v.Players[cy.ID()]
		return ok && len(p.State) > 0
	}); err != nil {
		t.Fatalf("the lone node's room stopped: %v", err)
	}
	// The majority goes on: a room made through one of its nodes is
	// joined by code through the other.
	other := majority[0] // a majority node that is not the room's
	if other.Node.ID() == cluster.NodeOf(jb.RoomID) {
		other = majority[1]
	}
	d := relaytest.WaitFor(t, ctx, "the majority's room in its other node's directory", func() bool {
		_, ok := other.Node.RoomByCode(jb.Code)
		return ok
	})
	t.Logf("node %d: the majority's room listed %v after the split (waited %v here)", other.Node.ID(), time.Since(split).Round(time.Millisecond), d.Round(time.Millisecond))
	dee := dial(t, other.KCP, "dee")
	var ce *client.Error
	relaytest.WaitFor(t, ctx, "a join by code within the majority during the split", func() bool {
		_, err := dee.JoinByCode(ctx, jb.Code)
		if err != nil && (!errors.As(err, &ce) || ce.Code != codec.CodeRoomNotFound) {
			t.Fatalf("join by code within the majority during the split: %v", err)
		}
		return err == nil
	})
	eve := dial(t, other.KCP, "eve")
	if _, err := eve.JoinByCode(ctx, ja.Code); !errors.As(err, &ce) || ce.Code != codec.CodeRoomNotFound {
		t.Fatalf("join by the code of the lone node's room: %v, want room_not_found", err)
	}

	healed := time.Now()
	sc.Isolate(x, false)
	for _, n := range majority {
		relaytest.WaitFor(t, ctx, "the lone node's room back in the majority's directories", func() bool {
			_, ok := n.Node.RoomByCode(ja.Code)
			return ok
		})
	}
	t.Logf("after the split healed, the lone node's room back on both others in %v", time.Since(healed).Round(time.Millisecond))
	relaytest.WaitFor(t, ctx, "the majority's room back in the lone node's directory", func() bool {
		_, ok := nodes[x].Node.RoomByCode(jb.Code)
		return ok
	})
	t.Logf("after the split healed, the others' room back on the lone node in %v", time.Since(healed).Round(time.Millisecond))
	if _, err := eve.JoinByCode(ctx, ja.Code); err != nil {
		t.Fatalf("join by code across the healed split: %v", err)
	}
	if err := eve.WaitFor(ctx, func(v client.RoomView) bool { return v.ID == ja.RoomID && len(v.Players) == 3 }); err != nil {
		t.Fatalf("the joiner never saw the room of three: %v", err)
	}
}
