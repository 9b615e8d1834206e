package relay_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/internal/relaytest"
	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/admin"
	"github.com/tickrelay/tickrelay/relay/client"
	"github.com/tickrelay/tickrelay/relay/cluster"
	"github.com/tickrelay/tickrelay/relay/match"
)

// clusterCtx bounds one cluster test: directory changes travel through
// NATS, and a machine under -race and load is slow.
func clusterCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitLeader waits until every node knows the same matchmaker leader.
func waitLeader(t *testing.T, ctx context.Context, nodes []*relaytest.ClusterNode) {
	t.Helper()
	relaytest.WaitFor(t, ctx, "a matchmaker leader every node knows", func() bool {
		l, _ := nodes[0].Node.Leader()
		for _, n := range nodes {
			if m, _ := n.Node.Leader(); m == 0 || m != l {
				return false
			}
		}
		return true
	})
}

// nodeOf returns the test cluster's node with id.
func nodeOf(nodes []*relaytest.ClusterNode, id uint8) *relaytest.ClusterNode {
	for _, n := range nodes {
		if n.Node.ID() == id {
			return n
		}
	}
	return nil
}

// Three relays, one lobby: a room made through one node is joined by code
// through another (over WebSocket), listed and quick-matched through the
// third; direct messages, channel lines and bans cross nodes; when the
// room's node leaves, the others forget its rooms and stop sending players
// there.
func TestClusterLobby(t *testing.T) {
	nodes := relaytest.StartCluster(t, 3, 3*time.Second, nil)
	ctx := clusterCtx(t)

	// A room created through node 1 is placed on the least loaded node;
	// the client follows the redirect by itself.
	alice := dial(t, nodes[0].KCP, "alice")
	ja, err := alice.CreateRoom(ctx, client.RoomOptions{Mode: "coop", MaxPlayers: 3, Props: map[string]any{"map": "dunes"}})
	if err != nil {
		t.Fatal(err)
	}
	home := cluster.NodeOf(ja.RoomID)
	if cluster.NodeOf(alice.ID()) != home {
		t.Fatalf("alice is player %#x, her room %#x: not on its node", alice.ID(), ja.RoomID)
	}
	t.Logf("room %#x (%s) on node %d", ja.RoomID, ja.Code, home)
	other := nodes[home%3]     // a node that is not the room's
	third := nodes[(home+1)%3] // nor that one
	if other.Node.ID() == home || third.Node.ID() == home || other == third {
		t.Fatal("test setup: nodes overlap")
	}

	var ce *client.Error

	// Join by code through another node, over WebSocket: a redirect, and
	// the seat taken on the room's node.
	lag := relaytest.WaitFor(t, ctx, "the room in the other node's directory", func() bool {
		_, ok := other.Node.RoomByCode(ja.Code)
		return ok
	})
	t.Logf("the new room reached another node's directory in %v", lag)
	bob := dial(t, other.WS, "bob")
	start := time.Now()
	jb, err := bob.JoinByCode(ctx, ja.Code)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("join by code through another node, redirect followed: %v", time.Since(start))
	if jb.RoomID != ja.RoomID || cluster.NodeOf(bob.ID()) != home {
		t.Fatalf("bob joined room %#x as player %#x; want room %#x on node %d", jb.RoomID, bob.ID(), ja.RoomID, home)
	}
	for _, c := range []*client.Client{alice, bob} {
		if err := c.WaitFor(ctx, func(v client.RoomView) bool { return len(v.Players) == 2 }); err != nil {
			t.Fatalf("player %#x never saw both players: %v", c.ID(), err)
		}
	}

	// Listed, with its players and properties, through the third node.
	carol := dial(t, third.KCP, "carol")
	relaytest.WaitFor(t, ctx, "the room listed with 2 players through the third node", func() bool {
		rooms, err := carol.ListRooms(ctx, "coop", map[string]any{"map": "dunes"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(rooms, func(r codec.RoomInfo) bool { return r.ID == ja.RoomID && r.Players == 2 })
	})
	if rooms, err := carol.ListRooms(ctx, "coop", map[string]any{"map": "other"}, 0); err != nil || len(rooms) != 0 {
		t.Fatalf("a filter no room matches listed %v (%v)", rooms, err)
	}
	// Quick match through the third node finds it.
	jc, err := carol.JoinOrCreate(ctx, "coop", map[string]any{"map": "dunes"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if jc.RoomID != ja.RoomID {
		t.Fatalf("quick match put carol in %#x, not the open room %#x", jc.RoomID, ja.RoomID)
	}

	// The room is full now: the room's node refuses a seat, and the
	// refusal answers the request made through another node.
	dave := dial(t, other.KCP, "dave")
	if _, err := dave.JoinByCode(ctx, ja.Code); !errors.As(err, &ce) || ce.Code != codec.CodeRoomFull {
		t.Fatalf("join by code of a full room on another node: %v, want room_full", err)
	}
	// Its node has the most players now: a new room goes elsewhere, and
	// its creator follows the redirect.
	relaytest.WaitFor(t, ctx, "the room's node no longer the least loaded", func() bool {
		return nodeOf(nodes, home).Node.LeastLoaded().ID != home
	})
	mover := dial(t, nodeOf(nodes, home).KCP, "mover")
	jm, err := mover.CreateRoom(ctx, client.RoomOptions{Mode: "duel", Private: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := cluster.NodeOf(jm.RoomID); n == home || cluster.NodeOf(mover.ID()) != n {
		t.Fatalf("room %#x made by a player of the busiest node %d, now player %#x", jm.RoomID, home, mover.ID())
	}
	if err := mover.WaitFor(ctx, func(v client.RoomView) bool { return v.ID == jm.RoomID && v.Master == mover.ID() }); err != nil {
		t.Fatalf("the redirected creator is not its room's master: %v", err)
	}

	// A direct message from a player of one node to a player of another.
	dk := collect(dave)
	if err := alice.DirectMessage(dave.ID(), "hello from afar"); err != nil {
		t.Fatal(err)
	}
	dk.waitUntil(t, ctx, "alice's direct message", func() bool {
		return slices.ContainsFunc(dk.chat, func(c codec.ChatMsg) bool {
			return c.From == alice.ID() && c.To == dave.ID() && c.Text == "hello from afar"
		})
	})

	// A lobby channel spans the nodes: a line said on one reaches the
	// members on another, and is in the history a later member gets.
	erin := dial(t, third.KCP, "erin")
	ek := collect(erin)
	if _, err := dave.JoinChannel(ctx, "global"); err != nil {
		t.Fatal(err)
	}
	if _, err := erin.JoinChannel(ctx, "global"); err != nil {
		t.Fatal(err)
	}
	// The channel's subscription reaches the other node shortly after the
	// join: say lines until one arrives.
	relaytest.WaitFor(t, ctx, "a channel line across nodes", func() bool {
		if err := dave.ChannelSay("global", "anyone?"); err != nil {
			t.Fatal(err)
		}
		ek.mu.Lock()
		defer ek.mu.Unlock()
		return slices.ContainsFunc(ek.chat, func(c codec.ChatMsg) bool {
			return c.Channel == "global" && c.From == dave.ID() && c.FromName == "dave" && c.Text == "anyone?"
		})
	})

	// A ban made through node 1 of a player of another node closes that
	// player; every node lists it, and an unban removes it everywhere.
	victim := dial(t, nodeOf(nodes, home).KCP, "victim")
	if cluster.NodeOf(victim.ID()) == 1 {
		victim = dial(t, other.KCP, "victim2")
	}
	b, err := nodes[0].Server.Ban(ctx, admin.Ban{PlayerID: victim.ID(), Reason: "griefing"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-victim.Done():
	case <-ctx.Done():
		t.Fatal("the banned player of another node was not closed")
	}
	if !errors.As(victim.Err(), &ce) || ce.Code != codec.CodeBanned {
		t.Fatalf("banned player closed with %v, want banned", victim.Err())
	}
	for _, n := range nodes {
		relaytest.WaitFor(t, ctx, "the ban listed on every node", func() bool {
			bans, _ := n.Server.Bans(ctx)
			return slices.ContainsFunc(bans, func(x admin.Ban) bool { return x.ID == b.ID })
		})
	}
	if err := nodes[2].Server.Unban(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		relaytest.WaitFor(t, ctx, "the ban gone from every node", func() bool {
			bans, _ := n.Server.Bans(ctx)
			return !slices.ContainsFunc(bans, func(x admin.Ban) bool { return x.ID == b.ID })
		})
	}

	// The room's node leaves: the others forget its rooms, and a code of
	// its rooms no longer redirects.
	gone := nodeOf(nodes, home)
	bob.Drop() // lost its link just before its node went: it will try to resume elsewhere
	if err := gone.Server.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	gone.Node.Close()
	relaytest.WaitFor(t, ctx, "the gone node's room out of the directory", func() bool {
		_, ok := other.Node.RoomByCode(ja.Code)
		return !ok && len(other.Node.Nodes()) == 2
	})
	// A player of the gone node cannot resume elsewhere (resume is per
	// node): it is refused cleanly, and a fresh session quick-matches on a
	// live node.
	if err := bob.ReconnectTo(ctx, other.KCP); !errors.As(err, &ce) || ce.Code != codec.CodeResumeFailed {
		t.Fatalf("resume of a gone node's player on another node: %v, want resume_failed", err)
	}
	bob2 := dial(t, other.KCP, "bob")
	if j, err := bob2.JoinOrCreate(ctx, "coop", nil, 0); err != nil || cluster.NodeOf(j.RoomID) == home {
		t.Fatalf("quick match after the node went: room %#x, %v", j.RoomID, err)
	}
	frank := dial(t, other.KCP, "frank")
	if _, err := frank.JoinByCode(ctx, ja.Code); !errors.As(err, &ce) || ce.Code != codec.CodeRoomNotFound {
		t.Fatalf("join by a gone node's code: %v, want room_not_found", err)
	}
	// New rooms go to the live nodes only.
	for range 4 {
		j, err := frank.CreateRoom(ctx, client.RoomOptions{Mode: "solo"})
		if err != nil {
			t.Fatal(err)
		}
		if cluster.NodeOf(j.RoomID) == home {
			t.Fatalf("room %#x made on the gone node", j.RoomID)
		}
		if err := frank.LeaveRoom(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// The cluster's matchmaker runs on one node for all: four players on
// three nodes queue for 2v2 and land in one room, on their teams, those of
// other nodes than the room's after a redirect; a player that queues when
// the leader has left is matched by the next leader.
func TestClusterMatchmaking(t *testing.T) {
	queues := &match.Config{Queues: map[string]match.QueueConfig{
		"2v2":  {Teams: 2, TeamSize: 2, SkillWindow: 1000, Interval: 50 * time.Millisecond},
		"duel": {Teams: 2, TeamSize: 1, SkillWindow: 1000, Interval: 50 * time.Millisecond},
	}}
	nodes := relaytest.StartCluster(t, 3, 3*time.Second, func(_ int, s *relay.Server) { s.Matchmaker = queues })
	ctx := clusterCtx(t)
	waitLeader(t, ctx, nodes)
	players := make([]*client.Client, 4)
	cols := make([]*collector, 4)
	for i := range players {
		players[i] = dial(t, nodes[i%3].KCP, fmt.Sprintf("p%d", i))
		cols[i] = collect(players[i])
	}
	start := time.Now()
	for i, p := range players {
		if err := p.QueueJoin(ctx, client.QueueOptions{Mode: "2v2", Skill: float64(1000 + i)}); err != nil {
			t.Fatal(err)
		}
	}
	var room uint32
	teams := map[int]int{}
	for i, k := range cols {
		var found *codec.ServerMsg
		k.waitUntil(t, ctx, "a match", func() bool {
			for _, m := range k.other {
				if m.Type == codec.TMatch && m.Outcome == codec.MatchFound {
					found = m
					return true
				}
			}
			return false
		})
		if room == 0 {
			room = found.RoomID
		}
		if found.RoomID != room {
			t.Fatalf("player %d matched into room %#x, another into %#x", i, found.RoomID, room)
		}
		teams[found.Team]++
	}
	if teams[0] != 2 || teams[1] != 2 {
		t.Fatalf("teams of the match: %v, want two of two", teams)
	}
	for i, p := range players {
		if err := p.WaitFor(ctx, func(v client.RoomView) bool { return v.ID == room && len(v.Players) == 4 }); err != nil {
			t.Fatalf("player %d never saw its room of 4: %v (%+v)", i, err, p.Room())
		}
		if cluster.NodeOf(p.ID()) != cluster.NodeOf(room) {
			t.Fatalf("player %d is %#x, not on the room's node %d", i, p.ID(), cluster.NodeOf(room))
		}
	}
	t.Logf("2v2 across 3 nodes: queued to all four in the room in %v", time.Since(start))
	v := players[0].Room()
	for id, pv := range v.Players {
		if _, ok := pv.Props["team"]; !ok {
			t.Fatalf("player %#x has no team property: %v", id, pv.Props)
		}
	}

	// The leader leaves with a ticket of another node queued: the next
	// leader gets it again and matches it with one queued after.
	leader, _ := nodes[0].Node.Leader()
	var rest []*relaytest.ClusterNode
	for _, n := range nodes {
		if n.Node.ID() != leader {
			rest = append(rest, n)
		}
	}
	early := dial(t, rest[0].KCP, "early")
	ek := collect(early)
	if err := early.QueueJoin(ctx, client.QueueOptions{Mode: "duel", Skill: 1000}); err != nil {
		t.Fatal(err)
	}
	gone := nodeOf(nodes, leader)
	if err := gone.Server.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	gone.Node.Close()
	d := relaytest.WaitFor(t, ctx, "a new leader", func() bool {
		l, _ := rest[0].Node.Leader()
		m, _ := rest[1].Node.Leader()
		return l != 0 && l != leader && l == m
	})
	t.Logf("matchmaker leader %d left; a new one in %v", leader, d)
	late := dial(t, rest[1].KCP, "late")
	lk := collect(late)
	if err := late.QueueJoin(ctx, client.QueueOptions{Mode: "duel", Skill: 1001}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []*collector{ek, lk} {
		k.waitUntil(t, ctx, "a duel", func() bool {
			return slices.ContainsFunc(k.other, func(m *codec.ServerMsg) bool { return m.Type == codec.TMatch && m.Outcome == codec.MatchFound })
		})
	}
	for _, p := range []*client.Client{early, late} {
		if err := p.WaitFor(ctx, func(v client.RoomView) bool { return len(v.Players) == 2 }); err != nil {
			t.Fatalf("player %#x never saw its duel: %v", p.ID(), err)
		}
	}
}

// Friends on different nodes form one party: a code names the party's
// node, and a player of another node that joins it moves there (over KCP
// and over WebSocket) and is a member like any other; refusals from the
// party's node answer the request made through another. A match on
// another node takes the party along.
func TestClusterParties(t *testing.T) {
	five := &match.Config{Queues: map[string]match.QueueConfig{
		"five": {MaxPlayers: 5, SkillWindow: 1000, Interval: 50 * time.Millisecond},
	}}
	nodes := relaytest.StartCluster(t, 3, 3*time.Second, func(_ int, s *relay.Server) { s.Matchmaker = five })
	ctx := clusterCtx(t)
	var ce *client.Error

	ana := dial(t, nodes[0].KCP, "ana")
	pa, err := ana.CreateParty(ctx)
	if err != nil {
		t.Fatal(err)
	}
	home := cluster.NodeOf(ana.ID())
	if len(pa.Code) != 8 {
		t.Fatalf("a cluster's party code %q: want 8 characters", pa.Code)
	}
	t.Logf("party %s on node %d", pa.Code, home)

	// bo, on another node over KCP, joins by the code: he moves to the
	// party's node.
	bo := dial(t, nodes[1].KCP, "bo")
	start := time.Now()
	pb, err := bo.JoinParty(ctx, pa.Code)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("party joined through another node, redirect followed: %v", time.Since(start))
	if cluster.NodeOf(bo.ID()) != home || pb.Code != pa.Code || pb.Leader != ana.ID() || len(pb.Members) != 2 {
		t.Fatalf("bo is %#x in party %+v; want a member of %s on node %d", bo.ID(), pb, pa.Code, home)
	}
	// cy, on the third node over WebSocket, types it in lower case.
	cy := dial(t, nodes[2].WS, "cy")
	if _, err := cy.JoinParty(ctx, strings.ToLower(pa.Code)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{ana, bo, cy} {
		if _, err := c.WaitParty(ctx, func(p client.Party) bool { return len(p.Members) == 3 }); err != nil {
			t.Fatalf("player %#x never saw the party of three: %v (%+v)", c.ID(), err, c.Party())
		}
	}
	// Party chat reaches the members who came from other nodes.
	ck := collect(cy)
	if err := bo.ChannelSay("party", "ready?"); err != nil {
		t.Fatal(err)
	}
	ck.waitUntil(t, ctx, "bo's party line", func() bool {
		return slices.ContainsFunc(ck.chat, func(c codec.ChatMsg) bool { return c.From == bo.ID() && c.Text == "ready?" })
	})

	// Refusals, answered through another node: a player in a room there
	// (moving would take it out of its room), a code no party has, a code
	// naming no node of the cluster, and a queued party.
	other := nodes[(home)%3] // not the party's node
	dan := dial(t, other.KCP, "dan")
	if _, err := dan.CreateRoom(ctx, client.RoomOptions{Mode: "solo"}); err != nil {
		t.Fatal(err)
	}
	if cluster.NodeOf(dan.ID()) != home { // still on another node than the party's
		if _, err := dan.JoinParty(ctx, pa.Code); !errors.As(err, &ce) || ce.Code != codec.CodeAlreadyInRoom {
			t.Fatalf("joining a party of another node from a room: %v, want already_in_room", err)
		}
	}
	eve := dial(t, other.KCP, "eve")
	unknown := pa.Code[:2] + "ZZZZZZ"
	if unknown == pa.Code {
		unknown = pa.Code[:2] + "YYYYYY"
	}
	if _, err := eve.JoinParty(ctx, unknown); !errors.As(err, &ce) || ce.Code != codec.CodeRoomNotFound {
		t.Fatalf("a code no party has: %v, want room_not_found", err)
	}
	// "GR" is node 200, not in this cluster.
	if _, err := eve.JoinParty(ctx, "GR"+pa.Code[2:]); !errors.As(err, &ce) || ce.Code != codec.CodeRoomNotFound {
		t.Fatalf("a code naming no node of the cluster: %v, want room_not_found", err)
	}
	if cluster.NodeOf(eve.ID()) == home {
		t.Fatalf("eve moved to node %d for a refused join", home)
	}
	if err := ana.QueueJoin(ctx, client.QueueOptions{Mode: "five"}); err != nil {
		t.Fatal(err)
	}
	if _, err := eve.JoinParty(ctx, pa.Code); !errors.As(err, &ce) || ce.Code != codec.CodeQueued {
		t.Fatalf("joining a queued party through another node: %v, want queued", err)
	}
	if err := ana.QueueLeave(ctx); err != nil {
		t.Fatal(err)
	}

	// The party (ana and bo; cy leaves it) queues for a match of five with
	// three players of another node: the match's room is on that node (it
	// has most of the players), and the party moves there with it, under
	// a code of that node, ana leading it again.
	if err := cy.LeaveParty(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ana.WaitParty(ctx, func(p client.Party) bool { return len(p.Members) == 2 }); err != nil {
		t.Fatal(err)
	}
	waitLeader(t, ctx, nodes)
	var solos []*client.Client
	for i := range 3 {
		s := dial(t, other.KCP, fmt.Sprintf("solo%d", i))
		solos = append(solos, s)
		if err := s.QueueJoin(ctx, client.QueueOptions{Mode: "five", Skill: 1000}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ana.QueueJoin(ctx, client.QueueOptions{Mode: "five", Skill: 1000}); err != nil {
		t.Fatal(err)
	}
	away := other.Node.ID()
	for _, c := range append([]*client.Client{ana, bo}, solos...) {
		if err := c.WaitFor(ctx, func(v client.RoomView) bool { return len(v.Players) == 5 }); err != nil {
			t.Fatalf("player %#x never saw the match of five: %v", c.ID(), err)
		}
	}
	// Free-for-all: nobody gets a team, wherever they came from.
	for id, pv := range ana.Room().Players {
		if _, ok := pv.Props["team"]; ok {
			t.Fatalf("player %#x of a match without teams has a team: %v", id, pv.Props)
		}
	}
	var moved client.Party
	for _, c := range []*client.Client{ana, bo} {
		if cluster.NodeOf(c.ID()) != away {
			t.Fatalf("player %#x is not on the match's node %d", c.ID(), away)
		}
		p, err := c.WaitParty(ctx, func(p client.Party) bool { return len(p.Members) == 2 })
		if err != nil {
			t.Fatalf("player %#x has no party of two after the match moved it: %v (%+v)", c.ID(), err, c.Party())
		}
		moved = p
	}
	if n, ok := relay.PartyCodeNode(moved.Code); !ok || n != away || moved.Leader != ana.ID() || moved.Members[0].ID != ana.ID() {
		t.Fatalf("the moved party %+v: want a code of node %d, led by ana (%#x)", moved, away, ana.ID())
	}
	t.Logf("party %s moved with its match to node %d as %s", pa.Code, away, moved.Code)
	// Both said bye on the party's first node (over KCP): they are gone
	// there, not kept away for a resume.
	players, err := nodeOf(nodes, home).Server.Players(ctx, admin.PlayerQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range players {
		if p.Name == "ana" || p.Name == "bo" {
			t.Fatalf("%s is still on node %d after moving: %+v", p.Name, home, p)
		}
	}
	// Nobody is left in the party on its first node: its code is gone.
	if _, err := eve.JoinParty(ctx, pa.Code); !errors.As(err, &ce) || ce.Code != codec.CodeRoomNotFound {
		t.Fatalf("joining a party that moved away: %v, want room_not_found", err)
	}
}
