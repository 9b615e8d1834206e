package conformance

import (
	"testing"

	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/match"
)

// Sections 4.15-4.18 and 5.9-5.10: a party of two and a player alone queue
// for a free-for-all of three; all land in one room, told by a match
// message, seated without another request.
func TestSection4_15_QueueAndParty(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		srv := &relay.Server{Matchmaker: &match.Config{Strict: true, Queues: map[string]match.QueueConfig{
			"trio": {MaxPlayers: 3, SkillWindow: 100},
		}}}
		e := start(t, k, srv)
		lead, mate, solo := e.join("lead"), e.join("mate"), e.join("solo")

		lead.expectOK(lead.request(TPartyCreate))
		p := untilType(lead, TParty).Party
		if p.ID == 0 || len(p.Code) != 6 || p.Leader != lead.welcome.PlayerID || len(p.Members) != 1 {
			t.Fatalf("party %+v", p)
		}
		mate.expectOK(mate.request(TPartyJoin, p.Code))
		for _, c := range []*client{lead, mate} {
			if p := untilType(c, TParty).Party; len(p.Members) != 2 || p.Members[1].Name != "mate" {
				t.Fatalf("%s: party after the join %+v", c.name, p)
			}
		}
		mate.expectError(mate.request(TQueueJoin, "trio", nil, 1000, nil), CodeNotLeader)
		lead.expectOK(lead.request(TQueueJoin, "trio", []any{"eu"}, 1000, nil))
		solo.expectError(solo.request(TQueueJoin, "nope", nil, 1000, nil), CodeBadRequest)
		solo.expectOK(solo.request(TQueueJoin, "trio", nil, 1050.5, nil))
		var room uint32
		for _, c := range []*client{lead, mate, solo} {
			m := untilType(c, TMatch).Match
			if m.Outcome != 0 || m.RoomID == 0 || m.Region != "eu" {
				t.Fatalf("%s: match %+v", c.name, m)
			}
			if room != 0 && m.RoomID != room {
				t.Fatalf("%s: another room", c.name)
			}
			room = m.RoomID
			if j := untilType(c, TRoomJoined); j.RID != 0 || j.Joined.RoomID != room {
				t.Fatalf("%s: room_joined rid %d room %d", c.name, j.RID, j.Joined.RoomID)
			}
		}
	})
}

// Section 4.19 and 5.11: lobby chat.
func TestSection4_19_Channels(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		a, b := e.join("ana"), e.join("bo")
		a.send(TChannelJoin, 1, "global")
		if c := untilType(a, TChannel); c.RID != 1 || c.Channel.Count != 1 {
			t.Fatalf("join: %+v", c.Channel)
		}
		a.send(TChannelSay, "global", "first")
		b.send(TChannelJoin, 1, "global")
		c := untilType(b, TChannel).Channel
		if c.Count != 2 || len(c.History) != 1 || c.History[0].Text != "first" || c.History[0].FromName != "ana" {
			t.Fatalf("history on joining: %+v", c)
		}
		b.send(TChannelSay, "global", "hello")
		for _, x := range []*client{a, b} {
			f := untilType(x, TFrame).Frame
			for len(f.Chat) == 0 || f.Chat[len(f.Chat)-1].Text != "hello" {
				f = untilType(x, TFrame).Frame
			}
			got := f.Chat[len(f.Chat)-1]
			if got.Text != "hello" || got.Channel != "global" || got.FromName != "bo" || got.From != b.welcome.PlayerID {
				t.Fatalf("%s: line %+v", x.name, got)
			}
		}
		b.expectOK(b.request(TChannelLeave, "global"))
		b.expectError(b.request(TChannelMembers, "global"), CodeBadRequest)
	})
}
