package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay/match"
)

// Three relays, each running a NATS server routed to the other two (a
// three-server NATS cluster with JetStream, buckets with three replicas),
// exercised as the relay would: rooms published on one are listed by the
// others, seats are granted by a room's node, messages and bans cross, one
// node runs the matchmaker and another takes over when it dies.
func TestThreeNodes(t *testing.T) {
	const ttl = 3 * time.Second
	start := time.Now()
	nodes := startEmbeddedNodes(t, 3, ttl)
	logs := make([]*inboxLog, len(nodes))
	for i, n := range nodes {
		logs[i] = collect(t, n)
	}
	all := func(f func(n *Node) bool) func() bool {
		return func() bool {
			for _, n := range nodes {
				if !f(n) {
					return false
				}
			}
			return true
		}
	}
	waitFor(t, joinBound, "every node joined and sees the others", all(func(n *Node) bool {
		return n.Ready() && len(n.Nodes()) == 3
	}))
	t.Logf("three nodes joined in %v", time.Since(start).Round(time.Millisecond))
	if st := nodes[0].Status(); !st.Connected || !st.Ready || st.Servers != 3 || st.Nodes != 3 || st.DirectoryAge != 0 {
		t.Fatalf("status %+v", st)
	}

	// Each node's rooms: two public, one private.
	roomsOf := func(node uint8, players int) []Room {
		var rs []Room
		for j := range 3 {
			rs = append(rs, Room{
				ID: uint32(node)<<24 | uint32(j+1), Code: fmt.Sprintf("N%dR%d", node, j), Mode: "dm",
				Props:   map[string][]byte{"map": codec.AppendStr(nil, "dust")},
				Players: players, MaxPlayers: 8, Public: j < 2,
			})
		}
		return rs
	}

	t.Run("directory", func(t *testing.T) {
		for i, n := range nodes {
			n.PublishRooms(roomsOf(uint8(i+1), 1))
			n.ReportLoad(10*(i+1), 3)
		}
		waitFor(t, changeBound, "every node lists the others' six rooms", all(func(n *Node) bool {
			return len(n.Rooms()) == 6
		}))
		for i, n := range nodes {
			for j, other := range nodes {
				if i == j {
					if _, ok := n.RoomByCode(fmt.Sprintf("N%dR0", j+1)); ok {
						t.Errorf("node %d lists its own room", i+1)
					}
					continue
				}
				r, ok := n.RoomByCode(fmt.Sprintf("N%dR2", j+1))
				if !ok || r.Node != other.ID() || r.ID != uint32(j+1)<<24|3 || r.Public || r.MaxPlayers != 8 || string(r.Props["map"]) != "\xa4dust" {
					t.Errorf("node %d: room N%dR2 = %+v, %v", i+1, j+1, r, ok)
				}
				if byID, ok := n.RoomByID(r.ID); !ok || byID.Code != r.Code {
					t.Errorf("node %d: RoomByID(%x) = %+v", i+1, r.ID, byID)
				}
			}
		}
		waitFor(t, changeBound, "node records carry the load", all(func(n *Node) bool {
			ns := n.Nodes()
			return len(ns) == 3 && ns[0].Players == 10 && ns[1].Players == 20 && ns[2].Players == 30 && ns[2].Rooms == 3
		}))
		ns := nodes[2].Nodes()
		if ns[0].PublicKCP != "127.0.0.1:7777" || ns[1].PublicWS != "ws://127.0.0.2:7777/" {
			t.Errorf("addresses %+v", ns)
		}
		if ll := nodes[2].LeastLoaded(); ll.ID != 1 {
			t.Errorf("least loaded: node %d", ll.ID)
		}
		nodes[0].ReportLoad(100, 3)
		waitFor(t, changeBound, "new load seen", func() bool { return nodes[2].LeastLoaded().ID == 2 })
	})

	t.Run("directory latency", func(t *testing.T) {
		// Node 1 changes a room's players; how long until both others
		// show it. Changes are paced slower than the node's write
		// interval, as a room's changes usually are; a change right after
		// another waits up to that interval (250 ms) more.
		var lat []time.Duration
		pace := time.NewTicker(300 * time.Millisecond)
		defer pace.Stop()
		for i := range 30 {
			<-pace.C
			players := 100 + i
			nodes[0].PublishRooms(roomsOf(1, players))
			lat = append(lat, waitFor(t, changeBound, "a room change", func() bool {
				for _, n := range nodes[1:] {
					if r, ok := n.RoomByCode("N1R0"); !ok || r.Players != players {
						return false
					}
				}
				return true
			}))
		}
		p50, mx := percentiles(lat)
		t.Logf("directory update latency (publish on node 1 to listed on nodes 2 and 3), %d updates 300 ms apart: p50 %v, max %v",
			len(lat), p50.Round(time.Microsecond), mx.Round(time.Microsecond))
		// Back to back: each change waits for the write interval.
		lat = lat[:0]
		for i := range 10 {
			players := 200 + i
			nodes[0].PublishRooms(roomsOf(1, players))
			lat = append(lat, waitFor(t, changeBound, "a room change", func() bool {
				for _, n := range nodes[1:] {
					if r, ok := n.RoomByCode("N1R0"); !ok || r.Players != players {
						return false
					}
				}
				return true
			}))
		}
		p50, mx = percentiles(lat)
		t.Logf("directory update latency, %d updates back to back: p50 %v, max %v", len(lat), p50.Round(time.Microsecond), mx.Round(time.Microsecond))
		if mx > 5*time.Second {
			t.Errorf("an update took %v to reach the other nodes", mx)
		}
	})

	t.Run("seats", func(t *testing.T) {
		// Node 1's tick answers seat requests: room 1 has seats, room 2 is
		// full, Create makes room 9.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case c := <-nodes[0].SeatRequests():
					switch {
					case c.Request.Create != nil:
						c.Accept(1<<24|9, "NEWRM9")
					case c.Request.Room == 1<<24|2:
						c.Refuse("room_full", "the room is full")
					default:
						c.Accept(c.Request.Room, "N1R0")
					}
				}
			}
		}()
		defer func() { close(stop); wg.Wait() }()
		ctx, cancel := context.WithTimeout(context.Background(), changeBound)
		defer cancel()

		req := SeatRequest{Room: 1<<24 | 1, Player: 2<<24 | 5, Name: "ana", UserID: "sub-5"}
		seat, err := nodes[1].RequestSeat(ctx, 1, req)
		if err != nil {
			t.Fatal(err)
		}
		if seat.Node != 1 || seat.Room != 1<<24|1 || seat.Code != "N1R0" || seat.PublicKCP != "127.0.0.1:7777" || time.Until(seat.Expires) < 5*time.Second {
			t.Fatalf("seat %+v", seat)
		}
		if _, err := nodes[2].VerifySeat(seat.Token); !errors.Is(err, ErrSeatOtherNode) {
			t.Errorf("verified on node 3: %v", err)
		}
		forged := []byte(seat.Token)
		forged[len(forged)/2] ^= 1
		if _, err := nodes[0].VerifySeat(string(forged)); !errors.Is(err, ErrSeatInvalid) {
			t.Errorf("forged token: %v", err)
		}
		got, err := nodes[0].VerifySeat(seat.Token)
		if err != nil || got.Room != req.Room || got.Player != req.Player || got.Name != "ana" || got.UserID != "sub-5" {
			t.Fatalf("verified %+v, %v", got, err)
		}
		if _, err := nodes[0].VerifySeat(seat.Token); !errors.Is(err, ErrSeatUsed) {
			t.Errorf("second use: %v", err)
		}
		// A token past its lifetime is refused on its node (minted here
		// with a lifetime already over).
		old := seatClaims{Node: 1, Room: 1<<24 | 1, Expires: time.Now().Add(-time.Millisecond)}
		if _, err := nodes[0].VerifySeat(signSeat(nodes[0].seatKey, &old)); !errors.Is(err, ErrSeatExpired) {
			t.Errorf("expired token: %v", err)
		}

		_, err = nodes[2].RequestSeat(ctx, 1, SeatRequest{Room: 1<<24 | 2})
		var ref *SeatRefused
		if !errors.As(err, &ref) || ref.Code != "room_full" {
			t.Errorf("full room: %v", err)
		}
		seat, err = nodes[2].RequestSeat(ctx, 1, SeatRequest{Create: &RoomSpec{Mode: "ctf", MaxPlayers: 4}, Name: "bo"})
		if err != nil || seat.Room != 1<<24|9 {
			t.Errorf("create: %+v, %v", seat, err)
		}
		if _, err := nodes[1].RequestSeat(ctx, 2, req); !errors.Is(err, ErrLocal) {
			t.Errorf("a seat on its own node: %v", err)
		}
		if _, err := nodes[1].RequestSeat(ctx, 77, req); !errors.Is(err, ErrUnknownNode) {
			t.Errorf("a seat on no node: %v", err)
		}
		if err := nodes[1].RequestSeatAsync(1, req, 4242); err != nil {
			t.Fatal(err)
		}
		res := logs[1].wait(t, changeBound, "async seat result", func(m Message) bool {
			r, ok := m.(*SeatResult)
			return ok && r.Tag == 4242
		}).(*SeatResult)
		if res.Err != nil || res.Seat.Room != req.Room {
			t.Errorf("async seat %+v", res)
		}

		var rtt []time.Duration
		for range 100 {
			begin := time.Now()
			if _, err := nodes[1].RequestSeat(ctx, 1, req); err != nil {
				t.Fatal(err)
			}
			rtt = append(rtt, time.Since(begin))
		}
		p50, mx := percentiles(rtt)
		t.Logf("seat request round trip (node 2 to node 1 and back, answered by node 1's consumer), %d requests: p50 %v, max %v",
			len(rtt), p50.Round(time.Microsecond), mx.Round(time.Microsecond))
	})

	t.Run("direct messages and channels", func(t *testing.T) {
		dm := DirectMessage{From: 2<<24 | 5, FromName: "ana", To: 3<<24 | 7, TimeMs: 123, Text: "psst"}
		if err := nodes[1].SendDM(dm); err != nil {
			t.Fatal(err)
		}
		got := logs[2].wait(t, changeBound, "direct message on node 3", func(m Message) bool {
			d, ok := m.(*DirectMessage)
			return ok && d.Text == "psst"
		}).(*DirectMessage)
		if *got != dm {
			t.Errorf("dm %+v, want %+v", *got, dm)
		}
		if err := nodes[1].SendDM(DirectMessage{To: 2<<24 | 1}); !errors.Is(err, ErrLocal) {
			t.Errorf("dm to its own node: %v", err)
		}
		if err := nodes[1].SendDM(DirectMessage{To: 99<<24 | 1}); !errors.Is(err, ErrUnknownNode) {
			t.Errorf("dm to no node: %v", err)
		}
		if err := nodes[1].SendDM(DirectMessage{To: 3<<24 | 7, Text: strings.Repeat("x", maxText+1)}); err == nil {
			t.Error("a dm longer than the other nodes read was sent")
		}

		for _, n := range []*Node{nodes[0], nodes[2]} {
			if err := n.JoinChannel("global"); err != nil {
				t.Fatal(err)
			}
		}
		// Subscriptions take effect asynchronously: say lines until one
		// arrives on both listeners.
		isLine := func(text string) func(Message) bool {
			return func(m Message) bool { l, ok := m.(*ChannelLine); return ok && l.Text == text }
		}
		waitFor(t, changeBound, "a channel line on nodes 1 and 3", func() bool {
			_ = nodes[1].SayChannel(ChannelLine{Channel: "global", From: 2<<24 | 5, FromName: "ana", Text: "gl hf"})
			_, ok1 := logs[0].find(isLine("gl hf"))
			_, ok3 := logs[2].find(isLine("gl hf"))
			return ok1 && ok3
		})
		if err := nodes[0].SayChannel(ChannelLine{Channel: "global", From: 1<<24 | 1, Text: "from node 1"}); err != nil {
			t.Fatal(err)
		}
		logs[2].wait(t, changeBound, "node 1's line on node 3", isLine("from node 1"))
		if err := nodes[0].LeaveChannel("global"); err != nil {
			t.Fatal(err)
		}
		if n := logs[0].count(isLine("from node 1")); n != 0 {
			t.Errorf("node 1 got its own line back %d times", n)
		}
		if n := logs[1].count(isLine("gl hf")); n != 0 {
			t.Errorf("node 2, not in the channel, got %d lines", n)
		}
	})

	t.Run("bans", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), changeBound)
		defer cancel()
		b, err := nodes[0].PutBan(ctx, Ban{UserID: "cheater", Reason: "aimbot"})
		if err != nil {
			t.Fatal(err)
		}
		if b.ID == "" || b.Node != 1 || b.Created.IsZero() {
			t.Fatalf("ban %+v", b)
		}
		for i, l := range logs {
			got := l.wait(t, changeBound, fmt.Sprintf("the ban on node %d", i+1), func(m Message) bool {
				c, ok := m.(*BanChanged)
				return ok && !c.Removed && c.Ban.ID == b.ID
			}).(*BanChanged)
			if got.Ban.UserID != "cheater" || got.Ban.Reason != "aimbot" {
				t.Errorf("node %d: %+v", i+1, got.Ban)
			}
			if bans := nodes[i].Bans(); len(bans) != 1 || bans[0].ID != b.ID {
				t.Errorf("node %d: Bans() = %+v", i+1, bans)
			}
		}
		if _, err := nodes[1].PutBan(ctx, Ban{ID: b.ID, UserID: "x"}); err == nil {
			t.Error("a second ban with the same id was stored")
		}
		if _, err := nodes[1].PutBan(ctx, Ban{Reason: "nobody"}); err == nil {
			t.Error("a ban of nobody was stored")
		}
		if _, err := nodes[1].PutBan(ctx, Ban{Address: "not-an-ip"}); err == nil {
			t.Error("a ban of a malformed address was stored")
		}
		timed, err := nodes[2].PutBan(ctx, Ban{Address: "192.0.2.0/24", Until: time.Now().Add(1500 * time.Millisecond)})
		if err != nil {
			t.Fatal(err)
		}
		if err := nodes[1].DeleteBan(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
		for i, l := range logs {
			l.wait(t, changeBound, fmt.Sprintf("the ban removed on node %d", i+1), func(m Message) bool {
				c, ok := m.(*BanChanged)
				return ok && c.Removed && c.Ban.ID == b.ID
			})
		}
		if err := nodes[1].DeleteBan(ctx, b.ID); err == nil {
			t.Error("deleted a ban twice")
		}
		// The timed ban ends by itself: hidden at its end, removed by the
		// bucket shortly after.
		waitFor(t, changeBound, "the timed ban ends everywhere", all(func(n *Node) bool { return len(n.Bans()) == 0 }))
		logs[0].wait(t, changeBound, "the timed ban removed from the bucket", func(m Message) bool {
			c, ok := m.(*BanChanged)
			return ok && c.Removed && c.Ban.ID == timed.ID
		})
	})

	var leader *Node
	t.Run("matchmaker leader", func(t *testing.T) {
		waitFor(t, changeBound, "a leader every node knows", func() bool {
			var leaders []*Node
			for _, n := range nodes {
				if n.IsMatchmakerLeader() {
					leaders = append(leaders, n)
				}
			}
			if len(leaders) != 1 {
				return false
			}
			leader = leaders[0]
			return all(func(n *Node) bool { l, _ := n.Leader(); return l == leader.ID() })()
		})
		_, term := leader.Leader()
		t.Logf("matchmaker leader: node %d, term %d", leader.ID(), term)
		for i, l := range logs {
			if got := l.count(func(m Message) bool { c, ok := m.(*LeaderChanged); return ok && c.Leader != 0 }); got != 1 {
				t.Errorf("node %d heard of %d leaders, want 1 (elected once)", i+1, got)
			}
		}
		var other *Node
		for _, n := range nodes {
			if n != leader {
				other = n
				break
			}
		}
		ticket := match.Ticket{ID: uint64(other.ID())<<56 | 1, Mode: "duel", Players: []match.Player{{ID: uint32(other.ID())<<24 | 3, Skill: 1000}}, Enqueued: time.Now()}
		if err := other.SendTicket(ticket); err != nil {
			t.Fatal(err)
		}
		got := logs[int(leader.ID())-1].wait(t, changeBound, "the ticket at the leader", func(m Message) bool {
			a, ok := m.(*TicketAdd)
			return ok && a.Ticket.ID == ticket.ID
		}).(*TicketAdd)
		if got.Origin != other.ID() || got.Ticket.Players[0].Skill != 1000 {
			t.Errorf("ticket %+v", got)
		}
		if err := other.CancelTicket(ticket.ID); err != nil {
			t.Fatal(err)
		}
		logs[int(leader.ID())-1].wait(t, changeBound, "the cancel at the leader", func(m Message) bool {
			c, ok := m.(*TicketCancel)
			return ok && c.ID == ticket.ID && c.Origin == other.ID()
		})
		if err := other.SendMatch(1, match.Match{Mode: "duel"}); !errors.Is(err, ErrNotLeader) {
			t.Errorf("a match from a node that is not the leader: %v", err)
		}
		// The leader hands a match to its host, which tells a player's node.
		if err := leader.SendMatch(other.ID(), match.Match{Mode: "duel", Tickets: []uint64{ticket.ID}}); err != nil {
			t.Fatal(err)
		}
		logs[int(other.ID())-1].wait(t, changeBound, "the match at its host", func(m Message) bool {
			a, ok := m.(*MatchAssign)
			return ok && a.Leader == leader.ID() && a.Term == term && a.Match.Tickets[0] == ticket.ID
		})
		if err := other.SendMatchResult(leader.ID(), MatchResult{Ticket: 5, Outcome: codec.MatchTimedOut}); err != nil {
			t.Fatal(err)
		}
		logs[int(leader.ID())-1].wait(t, changeBound, "the result at the player's node", func(m Message) bool {
			r, ok := m.(*MatchResult)
			return ok && r.Ticket == 5 && r.From == other.ID()
		})
	})
	if leader == nil {
		t.Fatal("no leader")
	}

	t.Run("leader key race", func(t *testing.T) { testLeaderKeyRace(t, nodes) })

	var survivors []*Node
	var slogs []*inboxLog
	var next *Node // the leader after the first one died
	t.Run("leader node dies", func(t *testing.T) {
		for i, n := range nodes {
			if n != leader {
				survivors = append(survivors, n)
				slogs = append(slogs, logs[i])
			}
		}
		dead := leader.ID()
		code := fmt.Sprintf("N%dR0", dead)
		for _, n := range survivors {
			if _, ok := n.RoomByCode(code); !ok {
				t.Fatalf("node %d does not list %s before", n.ID(), code)
			}
		}
		killed := time.Now()
		leader.kill()
		// A seat on the dead node fails cleanly: no one answers (within
		// SeatTimeout), or no one listens any more.
		seatErr := make(chan error, 1)
		go func() {
			_, err := survivors[0].RequestSeat(context.Background(), dead, SeatRequest{Room: uint32(dead)<<24 | 1})
			seatErr <- err
		}()
		waitFor(t, ttl+changeBound, "the dead node's rooms leave the directory", func() bool {
			for _, n := range survivors {
				if _, ok := n.RoomByCode(code); ok || len(n.Rooms()) != 3 || len(n.Nodes()) != 2 {
					return false
				}
			}
			return true
		})
		gone := time.Since(killed)
		t.Logf("dead node's rooms left both survivors' directories %v after it died (TTL %v)", gone.Round(time.Millisecond), ttl)
		if gone > ttl+3*time.Second {
			t.Errorf("the dead node's rooms stayed %v, TTL %v", gone, ttl)
		}
		if err := <-seatErr; err == nil {
			t.Error("a seat on the dead node was granted")
		} else {
			t.Logf("a seat request to the dead node just after it died: %v", err)
		}
		if _, err := survivors[0].RequestSeat(context.Background(), dead, SeatRequest{}); !errors.Is(err, ErrUnknownNode) {
			t.Errorf("a seat on a node gone from the directory: %v", err)
		}
		for _, l := range slogs {
			l.wait(t, changeBound, "node gone", func(m Message) bool {
				c, ok := m.(*NodeChanged)
				return ok && c.Gone && c.Node.ID == dead
			})
		}
		waitFor(t, joinBound, "a new leader", func() bool {
			for _, n := range survivors {
				if n.IsMatchmakerLeader() {
					next = n
				}
			}
			if next == nil {
				return false
			}
			for _, n := range survivors {
				if l, _ := n.Leader(); l != next.ID() {
					return false
				}
			}
			return true
		})
		_, term := next.Leader()
		t.Logf("matchmaker leader re-elected %v after its node died: node %d, term %d", time.Since(killed).Round(time.Millisecond), next.ID(), term)
		for _, n := range survivors {
			if n != next {
				ticket := match.Ticket{ID: uint64(n.ID())<<56 | 2, Mode: "duel", Players: []match.Player{{ID: uint32(n.ID())<<24 | 4}}}
				if err := n.SendTicket(ticket); err != nil {
					t.Fatal(err)
				}
				idx := 0
				if next == survivors[1] {
					idx = 1
				}
				slogs[idx].wait(t, changeBound, "a ticket at the new leader", func(m Message) bool {
					a, ok := m.(*TicketAdd)
					return ok && a.Ticket.ID == ticket.ID
				})
			}
		}
	})
	if next == nil {
		t.Fatal("no new leader")
	}

	t.Run("stale renewal steps down", func(t *testing.T) { testStaleRenewal(t, next, survivors, slogs) })
}
