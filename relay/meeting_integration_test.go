package relay_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/internal/relaytest"
	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/client"
	"github.com/tickrelay/tickrelay/relay/match"
)

// Sixteen players on both transports queue for 2v2 at once, two of them as
// a party: four rooms form, each with two teams of two, the party on one
// team, and every player in the room its match message names.
func TestManyClientsQueueAtOnce(t *testing.T) {
	srv := &relay.Server{Matchmaker: &match.Config{Queues: map[string]match.QueueConfig{
		"2v2": {Teams: 2, TeamSize: 2, SkillWindow: 1000, Interval: 100 * time.Millisecond},
	}}}
	kcpAddr, wsURL := relaytest.StartBoth(t, srv)
	ctx := ctxT(t)
	const n = 16
	cs := make([]*client.Client, n)
	ks := make([]*collector, n)
	for i := range cs {
		addr := kcpAddr
		if i%2 == 1 {
			addr = wsURL
		}
		cs[i] = dial(t, addr, fmt.Sprintf("p%d", i))
		ks[i] = collect(cs[i])
	}
	party, err := cs[0].CreateParty(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs[1].JoinParty(ctx, party.Code); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range cs {
		if i == 1 {
			continue // in the leader's party
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- cs[i].QueueJoin(ctx, client.QueueOptions{Mode: "2v2", Skill: float64(1000 + 10*i), Regions: []string{"eu"}})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	type seat struct {
		room uint32
		team int
	}
	seats := make([]seat, n)
	for i, k := range ks {
		k.waitUntil(t, ctx, "a match", func() bool {
			for _, m := range k.other {
				if m.Type == codec.TMatch && m.Outcome == codec.MatchFound {
					seats[i] = seat{m.RoomID, m.Team}
					return true
				}
			}
			return false
		})
		if err := cs[i].WaitFor(ctx, func(v client.RoomView) bool { return v.ID == seats[i].room && len(v.Players) == 4 }); err != nil {
			t.Fatalf("player %d never saw its room of 4: %v (%+v)", i, err, cs[i].Room())
		}
	}
	rooms := map[uint32]map[int]int{}
	for _, s := range seats {
		if rooms[s.room] == nil {
			rooms[s.room] = map[int]int{}
		}
		rooms[s.room][s.team]++
	}
	if len(rooms) != 4 {
		t.Fatalf("%d rooms, want 4: %v", len(rooms), seats)
	}
	for id, teams := range rooms {
		if teams[0] != 2 || teams[1] != 2 {
			t.Errorf("room %d teams %v, want 2 and 2", id, teams)
		}
	}
	if seats[0] != seats[1] {
		t.Errorf("the party split: %v and %v", seats[0], seats[1])
	}
	// The team is in each player's properties, as the room sees them.
	v := cs[2].Room()
	for id, p := range v.Players {
		if len(p.Props["team"]) == 0 {
			t.Errorf("player %d has no team property", id)
		}
	}
}

// Lobby chat across transports, outside any room.
func TestLobbyChatAcrossTransports(t *testing.T) {
	srv := &relay.Server{}
	kcpAddr, wsURL := relaytest.StartBoth(t, srv)
	ctx := ctxT(t)
	a, b := dial(t, kcpAddr, "ana"), dial(t, wsURL, "bo")
	kb := collect(b)
	if _, err := a.JoinChannel(ctx, "mode:ctf"); err != nil {
		t.Fatal(err)
	}
	ch, err := b.JoinChannel(ctx, "mode:ctf")
	if err != nil {
		t.Fatal(err)
	}
	if ch.Count != 2 || len(ch.Members) != 2 {
		t.Fatalf("channel %+v", ch)
	}
	if err := a.ChannelSay("mode:ctf", "anyone for ctf?"); err != nil {
		t.Fatal(err)
	}
	kb.waitUntil(t, ctx, "the line", func() bool {
		return len(kb.chat) == 1 && kb.chat[0].Channel == "mode:ctf" && kb.chat[0].FromName == "ana" && kb.chat[0].Text == "anyone for ctf?"
	})
}
