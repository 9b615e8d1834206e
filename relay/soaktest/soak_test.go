// Package soaktest runs the relay under a lossy link for a long time. It
// is its own package so that `go test ./...` runs it beside the others.
package soaktest

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/internal/lossy"
	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/client"
)

var soakFor = flag.Duration("soak", 60*time.Second, "how long the lossy-link soak runs (e.g. -soak 10m)")

type moved struct {
	ID  uint32
	Seq int
}

// tally is what one client received, checked as it arrives.
type tally struct {
	mu       sync.Mutex
	nextEv   map[uint32]int // sender -> next expected event number
	nextChat map[uint32]int
	errs     []string
	events   int
	chat     int
	sig      chan struct{} // closed and replaced after every frame
}

func (t *tally) fail(format string, a ...any) {
	if len(t.errs) < 10 {
		t.errs = append(t.errs, fmt.Sprintf(format, a...))
	}
}

func (t *tally) frame(f *codec.Frame) {
	t.mu.Lock()
	defer t.mu.Unlock()
	defer func() { close(t.sig); t.sig = make(chan struct{}) }()
	for _, e := range f.Events {
		var n int
		if err := client.Unmarshal(e.Payload, &n); err != nil {
			t.fail("bad payload: %v", err)
			continue
		}
		t.nextEv[e.From]++
		if n != t.nextEv[e.From] {
			t.fail("event %d from %d arrived as number %d", n, e.From, t.nextEv[e.From])
		}
		t.events++
	}
	for _, c := range f.Chat {
		t.nextChat[c.From]++
		if want := fmt.Sprintf("line %d", t.nextChat[c.From]); c.Text != want {
			t.fail("chat %q from %d, want %q", c.Text, c.From, want)
		}
		t.chat++
	}
}

// Sixteen clients in two rooms play for a minute through a link that drops
// 10% of datagrams each way, duplicates, reorders, delays and caps
// bandwidth. Every event and chat line arrives exactly once, in order;
// every view converges to every member's latest state; nothing leaks.
func TestLossySoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak skipped in -short mode")
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutinesBefore := runtime.NumGoroutine()

	srv := &relay.Server{}
	pc, err := relay.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(pc) }()
	bad := lossy.Link{Drop: 0.10, Duplicate: 0.02, Reorder: 0.02, Delay: 20 * time.Millisecond, Jitter: 10 * time.Millisecond, Bandwidth: 2 << 20}
	proxy, err := lossy.New(lossy.Config{Upstream: pc.LocalAddr().String(), ToServer: bad, ToClient: bad, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	addr := proxy.Addr().String()

	ctx, cancel := context.WithTimeout(context.Background(), *soakFor+2*time.Minute)
	defer cancel()
	const rooms, perRoom = 2, 8
	var clients []*client.Client
	tallies := map[uint32]*tally{}
	var readers sync.WaitGroup
	code := make([]string, rooms)
	for r := 0; r < rooms; r++ {
		for i := 0; i < perRoom; i++ {
			c, err := client.Dial(ctx, addr, client.Options{Name: fmt.Sprintf("r%dp%d", r, i)})
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				j, err := c.CreateRoom(ctx, client.RoomOptions{MaxPlayers: perRoom})
				if err != nil {
					t.Fatal(err)
				}
				code[r] = j.Code
			} else if _, err := c.JoinByCode(ctx, code[r]); err != nil {
				t.Fatal(err)
			}
			tl := &tally{nextEv: map[uint32]int{}, nextChat: map[uint32]int{}, sig: make(chan struct{})}
			tallies[c.ID()] = tl
			readers.Add(1)
			go func() {
				defer readers.Done()
				for m := range c.Messages() {
					if m.Type == codec.TFrame {
						tl.frame(m.Frame)
					}
				}
			}()
			clients = append(clients, c)
		}
	}
	for _, c := range clients {
		if err := c.WaitFor(ctx, func(v client.RoomView) bool { return len(v.Players) == perRoom }); err != nil {
			t.Fatalf("room never filled: %v", err)
		}
	}

	// Play: states at 20 Hz, an event every 100 ms, a chat line a second.
	sentEvents := map[uint32]int{}
	sentChat := map[uint32]int{}
	finalSeq := map[uint32]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	end := time.Now().Add(*soakFor)
	for _, c := range clients {
		wg.Add(1)
		go func(c *client.Client) {
			defer wg.Done()
			tk := time.NewTicker(50 * time.Millisecond) // the game's send rate
			defer tk.Stop()
			seq, ev, ch := 0, 0, 0
			for time.Now().Before(end) {
				<-tk.C
				seq++
				if c.SetState(moved{ID: c.ID(), Seq: seq}) != nil {
					break
				}
				if seq%2 == 0 {
					ev++
					if c.SendEvent(codec.TargetOthers, nil, 1, ev) != nil {
						break
					}
				}
				if seq%20 == 0 {
					ch++
					if c.Chat(fmt.Sprintf("line %d", ch)) != nil {
						break
					}
				}
			}
			mu.Lock()
			finalSeq[c.ID()], sentEvents[c.ID()], sentChat[c.ID()] = seq, ev, ch
			mu.Unlock()
		}(c)
	}
	wg.Wait()

	// Convergence: every view holds every member's final state, and every
	// event and chat line from the room has arrived.
	for idx, c := range clients {
		r := idx / perRoom
		members := clients[r*perRoom : (r+1)*perRoom]
		if err := c.WaitFor(ctx, func(v client.RoomView) bool {
			for _, m := range members {
				var s moved
				if client.Unmarshal(v.Players[m.ID()].State, &s) != nil || s.Seq != finalSeq[m.ID()] {
					return false
				}
			}
			return true
		}); err != nil {
			t.Fatalf("client %d did not converge: %v", c.ID(), err)
		}
		wantEv, wantChat := 0, 0
		for _, m := range members {
			if m != c {
				wantEv += sentEvents[m.ID()]
			}
			wantChat += sentChat[m.ID()]
		}
		tl := tallies[c.ID()]
		timeout := time.After(30 * time.Second) // a failure bound
		for {
			tl.mu.Lock()
			done := tl.events >= wantEv && tl.chat >= wantChat
			got, gotChat, sig := tl.events, tl.chat, tl.sig
			tl.mu.Unlock()
			if done {
				break
			}
			select {
			case <-sig:
			case <-timeout:
				t.Fatalf("client %d: %d/%d events, %d/%d chat lines", c.ID(), got, wantEv, gotChat, wantChat)
			}
		}
		tl.mu.Lock()
		if len(tl.errs) > 0 || tl.events != wantEv || tl.chat != wantChat {
			t.Errorf("client %d: %d/%d events, %d/%d chat: %s", c.ID(), tl.events, wantEv, tl.chat, wantChat, strings.Join(tl.errs, "; "))
		}
		tl.mu.Unlock()
	}
	for d, name := range map[lossy.Direction]string{lossy.ToServer: "to server", lossy.ToClient: "to clients"} {
		st := proxy.Stats(d)
		t.Logf("%s: %d datagrams, %d dropped (%.1f%%), %d over bandwidth, %d duplicated, %d reordered",
			name, st.Received, st.Dropped, 100*float64(st.Dropped)/float64(max(st.Received, 1)), st.OverBandwidth, st.Duplicated, st.Reordered)
	}
	st := srv.Stats()
	t.Logf("server: %d ticks, %d overruns, lateness p99 %v, work p99 %v, %d events relayed, closes %v",
		st.Tick.Ticks, st.Tick.Overruns, st.Tick.Late.P99, st.Tick.Work.P99, st.EventsRelayed, st.Closes)

	// Afterwards: nothing left running, memory back down.
	for _, c := range clients {
		c.Close()
	}
	readers.Wait()
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		t.Error(err)
	}
	if err := <-served; err != relay.ErrServerClosed {
		t.Errorf("Serve: %v", err)
	}
	proxy.Close()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > goroutinesBefore+4 && time.Now().Before(deadline) { // kcp-go keeps a few scheduler goroutines
		time.Sleep(50 * time.Millisecond) // polling for goroutines to exit, not synchronising
	}
	if n := runtime.NumGoroutine(); n > goroutinesBefore+4 {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines before, %d after:\n%s", goroutinesBefore, n, buf[:runtime.Stack(buf, true)])
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	t.Logf("heap in use: %d KiB before, %d KiB after", before.HeapInuse>>10, after.HeapInuse>>10)
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 16<<20 {
		t.Errorf("heap grew by %d MiB and stayed", grew>>20)
	}
}
