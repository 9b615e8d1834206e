package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine running.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testSecret = "whsec-test"

// request is one request the backend received.
type request struct {
	env     Envelope
	attempt int
	event   string // X-Tickrelay-Event
}

// backend is a webhook receiver on a loopback port that verifies every
// request and answers with the status respond chooses.
type backend struct {
	t       testing.TB
	url     string
	now     func() time.Time
	respond func(r request) int // nil: 200

	mu       sync.Mutex
	requests []request
	arrived  chan request // every verified request, if set (buffered by the test)
}

func newBackend(t testing.TB, respond func(r request) int) *backend {
	b := &backend{t: t, now: time.Now, respond: respond}
	srv := httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(srv.Close)
	b.url = srv.URL + "/hook"
	return b
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if err := Verify(testSecret, r.Header.Get(SignatureHeader), body, b.now(), 0); err != nil {
		b.t.Errorf("backend: %v", err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var req request
	if err := json.Unmarshal(body, &req.env); err != nil {
		b.t.Errorf("backend: body %q: %v", body, err)
	}
	req.attempt, _ = strconv.Atoi(r.Header.Get("X-Tickrelay-Attempt"))
	req.event = r.Header.Get("X-Tickrelay-Event")
	if r.Header.Get("X-Tickrelay-Delivery") != req.env.ID || r.Header.Get("Content-Type") != "application/json" {
		b.t.Errorf("backend: headers %v for event %s", r.Header, req.env.ID)
	}
	b.mu.Lock()
	b.requests = append(b.requests, req)
	b.mu.Unlock()
	if b.arrived != nil {
		b.arrived <- req
	}
	status := http.StatusOK
	if b.respond != nil {
		status = b.respond(req)
	}
	w.WriteHeader(status)
}

func (b *backend) received() []request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]request(nil), b.requests...)
}

// shutdown delivers what is queued, failing the test if it takes over 10 s.
func shutdown(t *testing.T, d *Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func noBackoff(int) time.Duration { return 0 }

func TestDeliversSignedEventsInOrder(t *testing.T) {
	b := newBackend(t, nil)
	d := &Dispatcher{URL: b.url, Secret: testSecret, Workers: 1}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(d.Enqueue(RoomCreated, 7, RoomEvent{Room: 7, Code: "ABC123", Mode: "arena", MaxPlayers: 8}))
	must(d.Enqueue(PlayerJoined, 7, PlayerEvent{Room: 7, Player: 11, UserID: "u-1", Name: "alice"}))
	must(d.Enqueue(MatchFormed, 0, map[string]any{"players": []int{11, 12}}))
	must(d.Enqueue(RoomClosed, 7, RoomEvent{Room: 7, Reason: "empty"}))
	must(d.Enqueue(RoomCreated, 7, RoomEvent{Room: 7, Code: "NEW777"})) // a new room with the id
	shutdown(t, d)

	var room7 []string
	for _, r := range b.received() {
		if r.env.Room == 7 {
			room7 = append(room7, r.env.Type+"#"+strconv.FormatUint(r.env.Seq, 10))
		}
		if r.event != r.env.Type || r.attempt != 1 || r.env.ID == "" || time.Since(r.env.Time) > time.Minute {
			t.Errorf("request %+v", r)
		}
	}
	if want := "room.created#1 player.joined#2 room.closed#3 room.created#1"; strings.Join(room7, " ") != want {
		t.Errorf("room 7 received %v, want %s", room7, want)
	}
	byType := map[string]Envelope{}
	for _, r := range b.received() {
		byType[r.env.Type] = r.env
	}
	var joined PlayerEvent
	if err := json.Unmarshal(byType[PlayerJoined].Data, &joined); err != nil || joined.Name != "alice" || joined.UserID != "u-1" {
		t.Errorf("player.joined data %s: %+v %v", byType[PlayerJoined].Data, joined, err)
	}
	if m := byType[MatchFormed]; m.Room != 0 || m.Seq != 1 || string(m.Data) != `{"players":[11,12]}` {
		t.Errorf("match.formed: %+v", m)
	}
	s := d.Stats()
	if s.Enqueued != 5 || s.Delivered != 5 || s.Attempts != 5 || s.Retries != 0 || len(s.Drops) != 0 || s.Queued != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestRetriesThenSucceeds(t *testing.T) {
	answers := []int{500, 503, 429, 408, 200}
	b := newBackend(t, func(r request) int { return answers[r.attempt-1] })
	d := &Dispatcher{URL: b.url, Secret: testSecret, Backoff: noBackoff}
	if err := d.Enqueue(PlayerLeft, 3, PlayerEvent{Room: 3, Player: 9}); err != nil {
		t.Fatal(err)
	}
	shutdown(t, d)
	got := b.received()
	if len(got) != 5 {
		t.Fatalf("%d requests, want 5", len(got))
	}
	for i, r := range got {
		if r.attempt != i+1 || r.env.ID != got[0].env.ID || r.env.Seq != 1 {
			t.Errorf("request %d: attempt %d, id %s, seq %d", i, r.attempt, r.env.ID, r.env.Seq)
		}
	}
	if s := d.Stats(); s.Delivered != 1 || s.Attempts != 5 || s.Retries != 4 || len(s.Drops) != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestGivesUpAfterMaxAttemptsThenSendsTheNext(t *testing.T) {
	b := newBackend(t, func(r request) int {
		if r.env.Seq == 1 {
			return http.StatusBadGateway
		}
		return http.StatusOK
	})
	d := &Dispatcher{URL: b.url, Secret: testSecret, Backoff: noBackoff, MaxAttempts: 3}
	d.Enqueue(RoomCreated, 5, RoomEvent{Room: 5})
	d.Enqueue(PlayerJoined, 5, PlayerEvent{Room: 5, Player: 1})
	shutdown(t, d)
	var seqs []uint64
	for _, r := range b.received() {
		seqs = append(seqs, r.env.Seq)
	}
	// Seq 2 waits for seq 1 to be given up.
	if want := []uint64{1, 1, 1, 2}; !slicesEqual(seqs, want) {
		t.Errorf("seqs received %v, want %v", seqs, want)
	}
	if s := d.Stats(); s.Drops[DropGaveUp] != 1 || s.Delivered != 1 || s.Attempts != 4 {
		t.Errorf("stats %+v", s)
	}
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestGivesUpAfterMaxAge(t *testing.T) {
	var mu sync.Mutex
	clock := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return clock
	}
	b := newBackend(t, func(request) int {
		mu.Lock()
		clock = clock.Add(time.Minute) // each attempt takes a minute of the fake clock
		mu.Unlock()
		return http.StatusServiceUnavailable
	})
	b.now = now
	d := &Dispatcher{URL: b.url, Secret: testSecret, Backoff: noBackoff, MaxAttempts: 100, MaxAge: 150 * time.Second, Now: now}
	d.Enqueue(RoomClosed, 1, RoomEvent{Room: 1})
	shutdown(t, d)
	// Attempts end 1, 2 and 3 minutes after the event: the third is past 150 s.
	if s := d.Stats(); s.Attempts != 3 || s.Drops[DropGaveUp] != 1 {
		t.Errorf("stats %+v, want 3 attempts and one gave_up", s)
	}
}

func TestRejectedAndRedirectedAreNotRetried(t *testing.T) {
	for _, status := range []int{400, 401, 404, 410, 302} {
		b := newBackend(t, func(request) int { return status })
		d := &Dispatcher{URL: b.url, Secret: testSecret, Backoff: noBackoff}
		d.Enqueue(RoomCreated, 1, nil)
		shutdown(t, d)
		if s := d.Stats(); s.Attempts != 1 || s.Drops[DropRejected] != 1 || s.Delivered != 0 {
			t.Errorf("answer %d: stats %+v, want one attempt, rejected", status, s)
		}
	}
}

func TestNetworkErrorsAreRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now: connections are refused
	d := &Dispatcher{URL: url, Secret: testSecret, Backoff: noBackoff, MaxAttempts: 4}
	d.Enqueue(RoomCreated, 1, nil)
	shutdown(t, d)
	if s := d.Stats(); s.Attempts != 4 || s.Drops[DropGaveUp] != 1 {
		t.Errorf("stats %+v, want 4 attempts then gave_up", s)
	}
}

// failOften fails about a third of the attempts, the same ones every run.
func failOften(r request) int {
	h := fnv.New32a()
	h.Write([]byte(r.env.ID + strconv.Itoa(r.attempt)))
	if h.Sum32()%3 == 0 {
		return http.StatusServiceUnavailable
	}
	return http.StatusOK
}

func TestOrderPerRoomUnderConcurrentRoomsAndFailures(t *testing.T) {
	const rooms, perRoom = 8, 25
	var mu sync.Mutex
	acked := map[uint32]uint64{} // the last seq answered 200, per room
	inFlight := map[uint32]int{} // requests of the room being answered
	var violations []string
	b := newBackend(t, nil)
	b.respond = func(r request) int {
		room := r.env.Room
		mu.Lock()
		inFlight[room]++
		if inFlight[room] > 1 {
			violations = append(violations, "two requests of room "+strconv.Itoa(int(room))+" at once")
		}
		if r.env.Seq != acked[room]+1 {
			violations = append(violations, "room "+strconv.Itoa(int(room))+": seq "+strconv.FormatUint(r.env.Seq, 10)+
				" after "+strconv.FormatUint(acked[room], 10))
		}
		mu.Unlock()
		status := failOften(r)
		mu.Lock()
		inFlight[room]--
		if status == http.StatusOK {
			acked[room] = r.env.Seq
		}
		mu.Unlock()
		return status
	}
	d := &Dispatcher{URL: b.url, Secret: testSecret, Backoff: noBackoff, MaxAttempts: 40, Workers: 4}
	var wg sync.WaitGroup
	for room := uint32(1); room <= rooms; room++ {
		wg.Go(func() {
			for i := range perRoom {
				if err := d.Enqueue(PlayerJoined, room, PlayerEvent{Room: room, Player: uint32(i)}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	shutdown(t, d)
	for room := uint32(1); room <= rooms; room++ {
		if acked[room] != perRoom {
			t.Errorf("room %d: last acknowledged seq %d, want %d", room, acked[room], perRoom)
		}
	}
	if len(violations) > 0 {
		t.Errorf("%d order violations, first: %s", len(violations), violations[0])
	}
	s := d.Stats()
	if s.Delivered != rooms*perRoom || s.Retries == 0 || len(s.Drops) != 0 {
		t.Errorf("stats %+v: want every event delivered, some after retries", s)
	}
}

func TestRoomsAreDeliveredConcurrently(t *testing.T) {
	// Each request waits until two are in flight: with one at a time, both
	// time out and answer 500.
	var mu sync.Mutex
	inFlight := 0
	both := make(chan struct{})
	b := newBackend(t, func(request) int {
		mu.Lock()
		inFlight++
		if inFlight == 2 {
			close(both)
		}
		mu.Unlock()
		select {
		case <-both:
			return http.StatusOK
		case <-time.After(10 * time.Second):
			return http.StatusInternalServerError
		}
	})
	d := &Dispatcher{URL: b.url, Secret: testSecret, Workers: 2, MaxAttempts: 1}
	d.Enqueue(RoomCreated, 1, nil)
	d.Enqueue(RoomCreated, 2, nil)
	shutdown(t, d)
	if s := d.Stats(); s.Delivered != 2 {
		t.Errorf("stats %+v: the two rooms were not in flight together", s)
	}
}

// hangingBackend answers nothing until the test ends; it reports each
// request's arrival.
func hangingBackend(t testing.TB) (*backend, chan request) {
	release := make(chan struct{})
	b := newBackend(t, func(request) int { <-release; return http.StatusOK })
	t.Cleanup(func() { close(release) }) // before the server's Close, which waits for handlers
	b.arrived = make(chan request, 100)
	return b, b.arrived
}

func waitArrival(t *testing.T, arrived chan request) request {
	t.Helper()
	select {
	case r := <-arrived:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no request reached the backend")
		return request{}
	}
}

func TestFullQueueDropsAndCounts(t *testing.T) {
	b, arrived := hangingBackend(t)
	d := &Dispatcher{URL: b.url, Secret: testSecret, Workers: 1, MaxQueue: 4}
	d.Enqueue(PlayerJoined, 1, nil)
	waitArrival(t, arrived)
	var full int
	for range 6 {
		if err := d.Enqueue(PlayerJoined, 1, nil); errors.Is(err, ErrQueueFull) {
			full++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	s := d.Stats()
	if full != 3 || s.Drops[DropQueueFull] != 3 || s.Queued != 4 || s.InFlight != 1 || s.Enqueued != 4 {
		t.Errorf("%d refused, stats %+v; want 3 queue_full, 4 queued, 1 in flight", full, s)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if s := d.Stats(); s.Drops[DropShutdown] != 4 || s.Queued != 0 || s.InFlight != 0 {
		t.Errorf("after Close: %+v", s)
	}
}

func TestQueueBytesBound(t *testing.T) {
	b, arrived := hangingBackend(t)
	d := &Dispatcher{URL: b.url, Secret: testSecret, Workers: 1, MaxQueueBytes: 1000}
	big := map[string]string{"pad": strings.Repeat("x", 300)} // a body of about 420 bytes
	if err := d.Enqueue(MatchFormed, 0, big); err != nil {
		t.Fatal(err)
	}
	waitArrival(t, arrived)
	if err := d.Enqueue(MatchFormed, 0, big); err != nil {
		t.Fatalf("second event, about 840 bytes in all: %v", err)
	}
	if err := d.Enqueue(MatchFormed, 0, big); !errors.Is(err, ErrQueueFull) {
		t.Errorf("third event, over 1000 bytes: %v", err)
	}
	if err := d.Enqueue(MatchFormed, 0, map[string]string{"pad": strings.Repeat("x", 1000)}); !errors.Is(err, ErrQueueFull) {
		t.Errorf("an event larger than the bound: %v", err)
	}
	s := d.Stats()
	if s.Drops[DropQueueFull] != 1 || s.Drops[DropTooLarge] != 1 || s.QueuedBytes > 1000 || s.QueuedBytes < 800 {
		t.Errorf("stats %+v", s)
	}
	d.Close()
}

func TestHangingBackendNeverBlocksEnqueue(t *testing.T) {
	b, _ := hangingBackend(t)
	d := &Dispatcher{URL: b.url, Secret: testSecret, Workers: 2, MaxQueue: 1000, Timeout: time.Hour}
	const n = 20000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			d.Enqueue(PlayerJoined, uint32(i%50), PlayerEvent{Player: uint32(i)})
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Enqueue blocked behind a backend that does not answer")
	}
	s := d.Stats()
	if s.Enqueued+s.Drops[DropQueueFull] != n || s.Enqueued != 1000 {
		t.Errorf("stats %+v: want 1000 queued and the rest counted as queue_full", s)
	}
	closed := make(chan error, 1)
	go func() { closed <- d.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close blocked behind a backend that does not answer")
	}
	if s := d.Stats(); s.Drops[DropShutdown] != 1000 {
		t.Errorf("after Close: %+v", s)
	}
}

func TestShutdownDeadlineCutsAHangingBackend(t *testing.T) {
	b, arrived := hangingBackend(t)
	d := &Dispatcher{URL: b.url, Secret: testSecret, Workers: 1}
	for room := uint32(1); room <= 3; room++ {
		d.Enqueue(RoomCreated, room, nil)
	}
	waitArrival(t, arrived)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := d.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v, want DeadlineExceeded", err)
	}
	if s := d.Stats(); s.Drops[DropShutdown] != 3 || s.InFlight != 0 || s.Queued != 0 || s.Delivered != 0 {
		t.Errorf("stats %+v: want the 3 events counted as shutdown", s)
	}
	if err := d.Enqueue(RoomCreated, 1, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Enqueue after Shutdown: %v", err)
	}
	if s := d.Stats(); s.Drops[DropClosed] != 1 {
		t.Errorf("closed drops %d", s.Drops[DropClosed])
	}
	// goleak (TestMain) checks that the workers and the client's
	// connections are gone.
}

func TestConfiguration(t *testing.T) {
	for _, d := range []*Dispatcher{
		{Secret: "s"},
		{URL: "ftp://example.test/hook", Secret: "s"},
		{URL: "http://", Secret: "s"},
		{URL: "::", Secret: "s"},
		{URL: "http://127.0.0.1:1/hook"},
	} {
		if err := d.Start(); err == nil {
			t.Errorf("Start with URL %q, secret %q: no error", d.URL, d.Secret)
		}
		if err := d.Enqueue(RoomCreated, 1, nil); err == nil {
			t.Errorf("Enqueue on a misconfigured dispatcher: no error")
		}
		if err := d.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown of a misconfigured dispatcher: %v", err)
		}
	}
	// Shut down before it started: it never starts.
	d := &Dispatcher{URL: "http://127.0.0.1:1/hook", Secret: "s"}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Enqueue(RoomCreated, 1, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Enqueue after Close: %v", err)
	}
	if s := d.Stats(); s.Drops[DropClosed] != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestInvalidEvents(t *testing.T) {
	b := newBackend(t, nil)
	d := &Dispatcher{URL: b.url, Secret: testSecret}
	for _, c := range []struct {
		typ  string
		data any
	}{{"", nil}, {"Room Created", nil}, {`room"x`, nil}, {strings.Repeat("a", 65), nil}, {RoomCreated, make(chan int)}} {
		if err := d.Enqueue(c.typ, 1, c.data); err == nil {
			t.Errorf("Enqueue(%q, %T): no error", c.typ, c.data)
		}
	}
	shutdown(t, d)
	if s := d.Stats(); s.Drops[DropInvalid] != 5 || s.Attempts != 0 {
		t.Errorf("stats %+v", s)
	}
}
