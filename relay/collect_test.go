package relay_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay/client"
)

// collector drains a client's Messages and keeps what the test asserts on.
type collector struct {
	c      *client.Client
	mu     sync.Mutex
	frames []*codec.Frame
	events []codec.Event
	chat   []codec.ChatMsg
	other  []*codec.ServerMsg
	done   chan struct{}
	signal chan struct{} // closed and replaced on every message
}

func collect(c *client.Client) *collector {
	k := &collector{c: c, done: make(chan struct{}), signal: make(chan struct{})}
	go func() {
		defer close(k.done)
		for m := range c.Messages() {
			k.mu.Lock()
			if m.Type == codec.TFrame {
				k.frames = append(k.frames, m.Frame)
				k.events = append(k.events, m.Frame.Events...)
				k.chat = append(k.chat, m.Frame.Chat...)
			} else {
				k.other = append(k.other, m)
			}
			close(k.signal)
			k.signal = make(chan struct{})
			k.mu.Unlock()
		}
	}()
	return k
}

// waitUntil blocks until cond (called under the collector's lock) holds.
func (k *collector) waitUntil(t testing.TB, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for {
		k.mu.Lock()
		ok := cond()
		sig := k.signal
		k.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-sig:
		case <-k.done:
			k.mu.Lock()
			ok := cond()
			k.mu.Unlock()
			if !ok {
				t.Fatalf("client %d closed (%v) before: %s", k.c.ID(), k.c.Err(), what)
			}
			return
		case <-ctx.Done():
			t.Fatalf("client %d: timed out waiting for: %s", k.c.ID(), what)
		}
	}
}

func (k *collector) frameCount() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.frames)
}

// framesSince returns the frames after the first n.
func (k *collector) framesSince(n int) []*codec.Frame {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]*codec.Frame(nil), k.frames[n:]...)
}

func waitFrames(t testing.TB, ctx context.Context, k *collector, n int) {
	t.Helper()
	start := k.frameCount()
	k.waitUntil(t, ctx, "more frames", func() bool { return len(k.frames) >= start+n })
}

var _ = time.Second
