package match

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// Check refuses what Add refuses for the ticket's own sake, and queues
// nothing.
func TestCheck(t *testing.T) {
	m, err := New(Config{Queues: map[string]QueueConfig{"2v2": {Teams: 2, TeamSize: 2}}, Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	ok := Ticket{ID: 1, Mode: "2v2", Enqueued: now, Players: []Player{{ID: 1, Skill: 1000}}}
	if err := m.Check(ok); err != nil {
		t.Fatalf("a good ticket: %v", err)
	}
	if m.Len() != 0 || m.Queued(1) {
		t.Fatal("Check queued the ticket")
	}
	bad := map[string]struct {
		t    Ticket
		want error
	}{
		"party over a team": {Ticket{ID: 2, Mode: "2v2", Enqueued: now, Players: []Player{{ID: 1}, {ID: 2}, {ID: 3}}}, ErrPartyTooLarge},
		"unknown mode":      {Ticket{ID: 3, Mode: "nope", Enqueued: now, Players: []Player{{ID: 3}}}, ErrUnknownMode},
		"no players":        {Ticket{ID: 4, Mode: "2v2", Enqueued: now}, ErrInvalid},
		"long region":       {Ticket{ID: 5, Mode: "2v2", Enqueued: now, Players: []Player{{ID: 5}}, Regions: []string{strings.Repeat("r", MaxRegionLen+1)}}, ErrInvalid},
		"long property":     {Ticket{ID: 6, Mode: "2v2", Enqueued: now, Players: []Player{{ID: 6}}, Props: map[string]string{"k": strings.Repeat("v", MaxPropLen+1)}}, ErrInvalid},
	}
	for name, c := range bad {
		err := m.Check(c.t)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: Check says %v, want %v", name, err, c.want)
		}
		if addErr := m.Add(c.t); addErr == nil {
			t.Errorf("%s: Add accepts what Check refuses (%v)", name, err)
		}
	}
}

// CheckBackfill refuses what RequestBackfill refuses for the request's own
// sake, and keeps nothing: a matchmaker that only checks (a cluster node
// whose leader runs the queue) holds no buckets or requests however many
// it checks.
func TestCheckBackfill(t *testing.T) {
	m, err := New(Config{Queues: map[string]QueueConfig{"2v2": {Teams: 2, TeamSize: 2}}, Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	for i := range 100 {
		ok := Backfill{ID: uint64(i + 1), Mode: "2v2", Seats: []int{1}, Created: now, Props: map[string]string{"map": strings.Repeat("m", i%7)}}
		if err := m.CheckBackfill(ok); err != nil {
			t.Fatalf("a good request: %v", err)
		}
	}
	buckets := 0
	for _, q := range m.queues {
		buckets += len(q.buckets)
	}
	if len(m.backfills) != 0 || buckets != 0 {
		t.Fatalf("CheckBackfill kept %d requests and %d buckets", len(m.backfills), buckets)
	}
	bad := map[string]struct {
		b    Backfill
		want error
	}{
		"unknown mode":  {Backfill{ID: 2, Mode: "nope", Seats: []int{0}, Created: now}, ErrUnknownMode},
		"no seats":      {Backfill{ID: 3, Mode: "2v2", Created: now}, ErrInvalid},
		"no time":       {Backfill{ID: 4, Mode: "2v2", Seats: []int{0}}, ErrInvalid},
		"long region":   {Backfill{ID: 5, Mode: "2v2", Seats: []int{0}, Created: now, Region: strings.Repeat("r", MaxRegionLen+1)}, ErrInvalid},
		"long property": {Backfill{ID: 6, Mode: "2v2", Seats: []int{0}, Created: now, Props: map[string]string{"k": strings.Repeat("v", MaxPropLen+1)}}, ErrInvalid},
	}
	for name, c := range bad {
		err := m.CheckBackfill(c.b)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: CheckBackfill says %v, want %v", name, err, c.want)
		}
		if reqErr := m.RequestBackfill(c.b); reqErr == nil {
			t.Errorf("%s: RequestBackfill accepts what CheckBackfill refuses (%v)", name, err)
		}
	}
}
