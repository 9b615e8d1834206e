package admin

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// fakeRelay is a Relay whose state the test sets and whose calls it
// records. When stuck is set, every call waits for ctx, like a relay whose
// tick never picks the request up.
type fakeRelay struct {
	mu       sync.Mutex
	overview Overview
	rooms    []RoomDetail
	bans     []Ban
	calls    []string
	nextBan  int
	draining bool
	stuck    bool
	// With liveTime, Overview reports the current time, and byte totals
	// growing at these rates since started (for rates over real polls).
	liveTime            bool
	started             time.Time
	inPerSec, outPerSec float64
	changed             chan struct{} // closed and replaced on every recorded call
}

func newFakeRelay() *fakeRelay {
	return &fakeRelay{changed: make(chan struct{})}
}

// record notes an action for the test to assert on; f.mu is held.
func (f *fakeRelay) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	close(f.changed)
	f.changed = make(chan struct{})
}

// waitCall waits until a call equal to want was recorded, or ctx ends.
func (f *fakeRelay) waitCall(ctx context.Context, want string) error {
	for {
		f.mu.Lock()
		found := slices.Contains(f.calls, want)
		ch := f.changed
		calls := slices.Clone(f.calls)
		f.mu.Unlock()
		if found {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("call %q not made; calls: %q", want, calls)
		}
	}
}

func (f *fakeRelay) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeRelay) setOverview(o Overview) {
	f.mu.Lock()
	f.overview = o
	f.mu.Unlock()
}

// update changes the relay's numbers under its lock.
func (f *fakeRelay) update(fn func(o *Overview)) {
	f.mu.Lock()
	fn(&f.overview)
	f.mu.Unlock()
}

func (f *fakeRelay) setRooms(rooms ...RoomDetail) {
	f.mu.Lock()
	f.rooms = rooms
	f.mu.Unlock()
}

// enter locks f, or waits for ctx when the relay is stuck.
func (f *fakeRelay) enter(ctx context.Context) error {
	f.mu.Lock()
	if f.stuck {
		f.mu.Unlock()
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (f *fakeRelay) Overview(ctx context.Context) (Overview, error) {
	if err := f.enter(ctx); err != nil {
		return Overview{}, err
	}
	defer f.mu.Unlock()
	o := f.overview
	if f.liveTime {
		// Whole milliseconds, as JavaScript's Date keeps them: the page's
		// rates are then exact.
		o.Time = time.Now().Truncate(time.Millisecond)
		elapsed := o.Time.Sub(f.started).Seconds()
		o.BytesIn += uint64(elapsed * f.inPerSec)
		o.BytesOut += uint64(elapsed * f.outPerSec)
	}
	return o, nil
}

func (f *fakeRelay) Rooms(ctx context.Context, q RoomQuery) ([]RoomSummary, error) {
	if err := f.enter(ctx); err != nil {
		return nil, err
	}
	defer f.mu.Unlock()
	f.record("rooms mode=%s q=%s limit=%d offset=%d", q.Mode, q.Text, q.Limit, q.Offset)
	var out []RoomSummary
	text := strings.ToLower(q.Text)
	for _, r := range f.rooms {
		if q.Mode != "" && r.Mode != q.Mode {
			continue
		}
		if text != "" && !strings.Contains(strings.ToLower(r.Code+" "+strconv.Itoa(int(r.ID))+" "+r.Mode), text) {
			continue
		}
		out = append(out, r.RoomSummary)
	}
	out = out[min(q.Offset, len(out)):]
	return out[:min(q.Limit, len(out))], nil
}

func (f *fakeRelay) Room(ctx context.Context, id uint32) (RoomDetail, error) {
	if err := f.enter(ctx); err != nil {
		return RoomDetail{}, err
	}
	defer f.mu.Unlock()
	for _, r := range f.rooms {
		if r.ID == id {
			r.Members = slices.Clone(r.Members)
			return r, nil
		}
	}
	return RoomDetail{}, fmt.Errorf("room %d: %w", id, ErrNotFound)
}

func (f *fakeRelay) Players(ctx context.Context, q PlayerQuery) ([]PlayerSummary, error) {
	if err := f.enter(ctx); err != nil {
		return nil, err
	}
	defer f.mu.Unlock()
	f.record("players q=%s room=%d transport=%s limit=%d offset=%d", q.Text, q.Room, q.Transport, q.Limit, q.Offset)
	var out []PlayerSummary
	for _, r := range f.rooms {
		for _, m := range r.Members {
			if (q.Room == 0 || m.Room == q.Room) && (q.Transport == "" || m.Transport == q.Transport) &&
				strings.Contains(m.Name, q.Text) {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

func (f *fakeRelay) Kick(ctx context.Context, player uint32, reason string) error {
	if err := f.enter(ctx); err != nil {
		return err
	}
	defer f.mu.Unlock()
	for i := range f.rooms {
		r := &f.rooms[i]
		for j, m := range r.Members {
			if m.ID == player {
				r.Members = slices.Delete(r.Members, j, j+1)
				r.Players--
				f.record("kick %d %s", player, reason)
				return nil
			}
		}
	}
	return fmt.Errorf("player %d: %w", player, ErrNotFound)
}

func (f *fakeRelay) CloseRoom(ctx context.Context, room uint32, reason string) error {
	if err := f.enter(ctx); err != nil {
		return err
	}
	defer f.mu.Unlock()
	for i, r := range f.rooms {
		if r.ID == room {
			f.rooms = slices.Delete(f.rooms, i, i+1)
			f.record("close %d %s", room, reason)
			return nil
		}
	}
	return fmt.Errorf("room %d: %w", room, ErrNotFound)
}

func (f *fakeRelay) Ban(ctx context.Context, b Ban) (Ban, error) {
	if err := f.enter(ctx); err != nil {
		return Ban{}, err
	}
	defer f.mu.Unlock()
	f.nextBan++
	b.ID = "b" + strconv.Itoa(f.nextBan)
	b.Created = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	f.bans = append(f.bans, b)
	f.record("ban %s player=%d user=%s address=%s until=%s reason=%s", b.ID, b.PlayerID, b.UserID, b.Address,
		b.Until.UTC().Format(time.RFC3339), b.Reason)
	return b, nil
}

func (f *fakeRelay) Unban(ctx context.Context, id string) error {
	if err := f.enter(ctx); err != nil {
		return err
	}
	defer f.mu.Unlock()
	for i, b := range f.bans {
		if b.ID == id {
			f.bans = slices.Delete(f.bans, i, i+1)
			f.record("unban %s", id)
			return nil
		}
	}
	return fmt.Errorf("ban %q: %w", id, ErrNotFound)
}

func (f *fakeRelay) Bans(ctx context.Context) ([]Ban, error) {
	if err := f.enter(ctx); err != nil {
		return nil, err
	}
	defer f.mu.Unlock()
	return slices.Clone(f.bans), nil
}

func (f *fakeRelay) Announce(ctx context.Context, text string) error {
	if err := f.enter(ctx); err != nil {
		return err
	}
	defer f.mu.Unlock()
	f.record("announce %s", text)
	return nil
}

func (f *fakeRelay) Drain(ctx context.Context, deadline time.Time) error {
	if err := f.enter(ctx); err != nil {
		return err
	}
	defer f.mu.Unlock()
	if f.draining {
		return fmt.Errorf("already draining: %w", ErrConflict)
	}
	f.draining = true
	f.overview.Draining, f.overview.DrainDeadline = true, deadline
	f.record("drain %s", deadline.UTC().Format(time.RFC3339))
	return nil
}
