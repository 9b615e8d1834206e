package relay

import (
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay/match"
)

// meetingHarness is a hub with a matchmaker whose queues run every tick.
func meetingHarness(t *testing.T, queues map[string]match.QueueConfig) *harness {
	cfg := testHubConfig()
	cfg.matchmaker = &match.Config{Queues: queues, Strict: true}
	return newHarnessConfig(t, cfg)
}

func queueMsg(rid uint32, mode string, skill float64, regions ...string) codec.ClientMsg {
	m := codec.ClientMsg{Type: codec.TQueueJoin, RID: rid, Mode: []byte(mode), Skill: skill}
	for _, r := range regions {
		m.Regions = append(m.Regions, []byte(r))
	}
	return m
}

// Two players queue for a duel: the matchmaker makes a room and seats both
// without another request, each told with a match message.
func TestQueueTwoPlayersLandInOneRoom(t *testing.T) {
	x := meetingHarness(t, map[string]match.QueueConfig{"duel": {MaxPlayers: 2, SkillWindow: 50}})
	a, b := x.player("a"), x.player("b")
	a.send(queueMsg(1, "duel", 1000, "eu", "us"))
	b.send(queueMsg(1, "duel", 1020, "us"))
	x.tick()
	var room uint32
	for _, c := range []*tc{a, b} {
		ms := c.recv()
		wantOK(t, ms, 1)
		m := one(t, ms, codec.TMatch)
		j := one(t, ms, codec.TRoomJoined)
		if m.Outcome != codec.MatchFound || m.RoomID == 0 || m.RoomID != j.RoomID || m.Region != "us" {
			t.Fatalf("%d: match %+v joined %+v", c.id(), m, j)
		}
		if room != 0 && room != m.RoomID {
			t.Fatal("two rooms for one match")
		}
		room = m.RoomID
		if rd := roomOf(t, ms); !rd.Full || len(rd.Joins) != 2 || string(rd.Props["region"]) != string(mpStr("us")) {
			t.Fatalf("%d: first frame %+v", c.id(), rd)
		}
	}
	if len(x.h.tickets) != 0 || a.p.ticket != 0 || x.h.mm.Len() != 0 {
		t.Fatal("tickets left after the match")
	}
}

// A party queues as one ticket (its leader's); members land on one team.
func TestPartyQueuesTogetherOnOneTeam(t *testing.T) {
	x := meetingHarness(t, map[string]match.QueueConfig{"2v2": {Teams: 2, TeamSize: 2}})
	lead, mate, c, d := x.player("lead"), x.player("mate"), x.player("c"), x.player("d")
	lead.send(codec.ClientMsg{Type: codec.TPartyCreate, RID: 1})
	x.tick()
	ms := lead.recv()
	wantOK(t, ms, 1)
	pm := one(t, ms, codec.TParty)
	if pm.Leader != lead.id() || len(pm.Members) != 1 || len(pm.JoinCode) != 6 {
		t.Fatalf("party %+v", pm)
	}
	mate.send(codec.ClientMsg{Type: codec.TPartyJoin, RID: 2, Code: []byte(pm.JoinCode)})
	x.tick()
	wantOK(t, mate.recv(), 2)
	if pm := one(t, lead.recv(), codec.TParty); len(pm.Members) != 2 {
		t.Fatalf("the leader's party message %+v", pm)
	}
	// Only the leader queues the party.
	mate.send(queueMsg(3, "2v2", 0))
	x.tick()
	wantError(t, mate.recv(), 3, codec.CodeNotLeader)
	lead.send(queueMsg(4, "2v2", 0))
	c.send(queueMsg(1, "2v2", 0))
	d.send(queueMsg(1, "2v2", 0))
	x.tick()
	teams := map[uint32]int{}
	for _, p := range []*tc{lead, mate, c, d} {
		m := one(t, p.recv(), codec.TMatch)
		if m.Outcome != codec.MatchFound {
			t.Fatalf("%d: %+v", p.id(), m)
		}
		teams[p.id()] = m.Team
		if team := p.p.props.values[indexOf(p.p.props.keys, []byte("team"))]; string(team) != string(mpInt(int64(m.Team))) {
			t.Errorf("%d: team property % x, want %d", p.id(), team, m.Team)
		}
	}
	if teams[lead.id()] != teams[mate.id()] || teams[c.id()] == teams[lead.id()] || teams[d.id()] == teams[lead.id()] {
		t.Fatalf("teams %v: the party split or the others joined it", teams)
	}
}

// Leaving the queue, leaving the party, and the leader's role passing on.
func TestQueueCancelAndPartyHandover(t *testing.T) {
	x := meetingHarness(t, map[string]match.QueueConfig{"4ffa": {MaxPlayers: 4}})
	lead, mate := x.player("lead"), x.player("mate")
	lead.send(codec.ClientMsg{Type: codec.TPartyCreate, RID: 1})
	x.tick()
	code := one(t, lead.recv(), codec.TParty).JoinCode
	mate.send(codec.ClientMsg{Type: codec.TPartyJoin, RID: 1, Code: []byte(code)})
	lead.send(queueMsg(2, "4ffa", 0))
	x.tick()
	drain(lead, mate)
	if mate.p.ticket == 0 {
		t.Fatal("the member is not in the party's ticket")
	}
	// A queued member cannot join a room.
	mate.send(codec.ClientMsg{Type: codec.TCreateRoom, RID: 5})
	x.tick()
	wantError(t, mate.recv(), 5, codec.CodeQueued)
	// The leader leaves the party: the ticket is withdrawn (the member is
	// told), and the member leads.
	lead.send(codec.ClientMsg{Type: codec.TPartyLeave, RID: 3})
	x.tick()
	ms := mate.recv()
	if m := one(t, ms, codec.TMatch); m.Outcome != codec.MatchCancelled {
		t.Fatalf("the member's match message %+v", m)
	}
	if pm := one(t, ms, codec.TParty); pm.Leader != mate.id() || len(pm.Members) != 1 {
		t.Fatalf("after the leader left %+v", pm)
	}
	ms = lead.recv()
	wantOK(t, ms, 3)
	if pm := one(t, ms, codec.TParty); pm.PartyID != 0 {
		t.Fatalf("the leaver's party message %+v", pm)
	}
	if x.h.mm.Len() != 0 || len(x.h.tickets) != 0 {
		t.Fatal("the ticket is still queued")
	}
	// Queue and leave the queue.
	mate.send(queueMsg(6, "4ffa", 0))
	x.tick()
	wantOK(t, mate.recv(), 6)
	mate.send(codec.ClientMsg{Type: codec.TQueueLeave, RID: 7})
	x.tick()
	if ms := mate.recv(); len(ofType(ms, codec.TMatch)) != 0 {
		t.Fatalf("the one who left the queue got a match message: %s", dump(ms))
	}
	if x.h.mm.Len() != 0 {
		t.Fatal("queue_leave left the ticket")
	}
}

// A ticket past the queue's maximum wait ends with a timeout; an unknown
// mode is refused.
func TestQueueTimeoutAndUnknownMode(t *testing.T) {
	x := meetingHarness(t, map[string]match.QueueConfig{"duel": {MaxPlayers: 2, MaxWait: time.Second}})
	a := x.player("a")
	a.send(queueMsg(1, "nope", 0))
	x.tick()
	wantError(t, a.recv(), 1, codec.CodeBadRequest)
	a.send(queueMsg(2, "duel", 0))
	x.tick()
	wantOK(t, a.recv(), 2)
	x.ticks(40)
	m := one(t, a.recv(), codec.TMatch)
	if m.Outcome != codec.MatchTimedOut || m.WaitedMs < 1000 {
		t.Fatalf("timeout %+v", m)
	}
	if a.p.ticket != 0 {
		t.Fatal("the ticket outlived its timeout")
	}
}

// A disconnected player leaves the queue and its party; one away for a
// resume keeps both.
func TestLeavingTheServerLeavesQueueAndParty(t *testing.T) {
	x := meetingHarness(t, map[string]match.QueueConfig{"4ffa": {MaxPlayers: 4}})
	x.h.cfg.resumeGrace = 5 * time.Second
	lead, mate := x.player("lead"), x.player("mate")
	lead.send(codec.ClientMsg{Type: codec.TPartyCreate, RID: 1})
	x.tick()
	code := one(t, lead.recv(), codec.TParty).JoinCode
	mate.send(codec.ClientMsg{Type: codec.TPartyJoin, RID: 1, Code: []byte(code)})
	lead.send(queueMsg(2, "4ffa", 0))
	x.tick()
	drain(lead, mate)
	// mate's link is lost: away, still in the party and the queue.
	x.n++
	x.h.begin(x.n, x.timeOf(x.n))
	x.h.lostLink(mate.l, 0, "gone")
	x.h.end()
	if mate.p.party == nil || mate.p.ticket == 0 || x.h.mm.Len() != 1 {
		t.Fatal("an away member left its party or the queue")
	}
	// mate says bye from a new session? No: its grace runs out.
	x.ticks(int(6 * time.Second / tickPeriod))
	if len(lead.p.party.members) != 1 || x.h.mm.Len() != 0 {
		t.Fatalf("after the grace: party of %d, %d tickets", len(lead.p.party.members), x.h.mm.Len())
	}
}

// Lobby chat: channels joined outside any room, history on joining,
// members, lines to every member, party chat.
func TestLobbyChannels(t *testing.T) {
	x := meetingHarness(t, nil)
	a, b, c := x.player("ana"), x.player("bo"), x.player("cy")
	a.send(codec.ClientMsg{Type: codec.TChannelJoin, RID: 1, Channel: []byte("global")})
	b.send(codec.ClientMsg{Type: codec.TChannelJoin, RID: 1, Channel: []byte("global")})
	x.tick()
	ch := one(t, b.recv(), codec.TChannel)
	if ch.RID != 1 || ch.Channel != "global" || ch.Count != 2 || len(ch.Members) != 2 || len(ch.History) != 0 {
		t.Fatalf("channel %+v", ch)
	}
	a.recv()
	a.send(codec.ClientMsg{Type: codec.TChannelSay, Channel: []byte("global"), Text: []byte("hi all")})
	c.send(codec.ClientMsg{Type: codec.TChannelSay, Channel: []byte("global"), Text: []byte("lurker")})
	x.tick()
	for _, p := range []*tc{a, b} {
		f := frameOf(t, p.recv())
		if len(f.Chat) != 1 || f.Chat[0].Text != "hi all" || f.Chat[0].Channel != "global" || f.Chat[0].FromName != "ana" || f.Room != nil {
			t.Fatalf("%d: chat %+v", p.id(), f.Chat)
		}
	}
	wantError(t, c.recv(), 0, codec.CodeBadRequest) // not a member
	c.send(codec.ClientMsg{Type: codec.TChannelJoin, RID: 2, Channel: []byte("global")})
	x.tick()
	ch = one(t, c.recv(), codec.TChannel)
	if ch.Count != 3 || len(ch.History) != 1 || ch.History[0].Text != "hi all" || ch.History[0].FromName != "ana" {
		t.Fatalf("history on joining %+v", ch)
	}
	b.send(codec.ClientMsg{Type: codec.TChannelLeave, RID: 3, Channel: []byte("global")})
	x.tick()
	wantOK(t, b.recv(), 3)
	b.send(codec.ClientMsg{Type: codec.TChannelMembers, RID: 4, Channel: []byte("global")})
	x.tick()
	wantError(t, b.recv(), 4, codec.CodeBadRequest)
	// Party chat goes to the party only.
	a.send(codec.ClientMsg{Type: codec.TPartyCreate, RID: 5})
	x.tick()
	code := one(t, a.recv(), codec.TParty).JoinCode
	b.send(codec.ClientMsg{Type: codec.TPartyJoin, RID: 6, Code: []byte(code)})
	x.tick()
	drain(a, b, c)
	b.send(codec.ClientMsg{Type: codec.TChannelSay, Channel: []byte("party"), Text: []byte("gg")})
	x.tick()
	for _, p := range []*tc{a, b} {
		if f := frameOf(t, p.recv()); len(f.Chat) != 1 || f.Chat[0].Channel != "party" {
			t.Fatalf("%d: party chat %+v", p.id(), f.Chat)
		}
	}
	if ms := c.recv(); len(ms) != 0 {
		t.Fatalf("party chat reached a non-member: %s", dump(ms))
	}
}

// A running room asks for one more player; a queued player fills the seat.
func TestBackfillFillsASeat(t *testing.T) {
	x := meetingHarness(t, map[string]match.QueueConfig{"duel": {MaxPlayers: 2, MaxWait: time.Minute}})
	a, b, c := x.player("a"), x.player("b"), x.player("c")
	a.send(queueMsg(1, "duel", 0))
	b.send(queueMsg(1, "duel", 0))
	x.tick()
	room := one(t, a.recv(), codec.TMatch).RoomID
	b.recv()
	b.send(codec.ClientMsg{Type: codec.TLeaveRoom, RID: 2})
	x.tick()
	r := x.h.rooms[room]
	master := a
	if r.master != a.p {
		master = b
	}
	drain(a, b)
	master.send(codec.ClientMsg{Type: codec.TBackfill, RID: 3, Seats: []uint32{0}})
	x.tick()
	wantOK(t, master.recv(), 3)
	c.send(queueMsg(4, "duel", 0))
	x.tick()
	ms := c.recv()
	m := one(t, ms, codec.TMatch)
	if m.Outcome != codec.MatchBackfill || m.RoomID != room || c.p.room != r {
		t.Fatalf("backfill %+v, in room %v", m, c.p.room != nil)
	}
}

// join_seat needs a cluster: a lone relay refuses it with an error.
func TestJoinSeatWithoutACluster(t *testing.T) {
	x := newHarness(t)
	a := x.player("a")
	a.send(codec.ClientMsg{Type: codec.TJoinSeat, RID: 3, Code: []byte("token")})
	x.tick()
	wantError(t, a.recv(), 3, codec.CodeForbidden)
}

// A cluster's party codes name their node in the first two characters:
// every node id reads back, and codes of another shape name none.
func TestPartyCodeNode(t *testing.T) {
	for id := 1; id <= 255; id++ {
		code := nodeCodePrefix(uint8(id)) + "ABCDEF"
		if got, ok := partyCodeNode(code); !ok || got != uint8(id) {
			t.Fatalf("node %d: code %s reads as %d, %v", id, code, got, ok)
		}
	}
	if nodeCodePrefix(200) != "GR" {
		t.Fatalf("node 200 is %q (the cluster test names it)", nodeCodePrefix(200))
	}
	for _, code := range []string{"ABCDEF", "AAABCDEF", "Z9ABCDEF", "0BABCDEF", "ABABCDEFG"} {
		if id, ok := partyCodeNode(code); ok {
			t.Errorf("%s names node %d", code, id)
		}
	}
}
