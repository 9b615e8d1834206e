package cluster

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/tickrelay/tickrelay/internal/natstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Bounds for waits. They are generous: the machine running the tests may
// be loaded, and -race slows NATS several times over. Measured figures are
// logged.
const (
	joinBound   = 45 * time.Second // a JetStream cluster forming, its meta leader elected
	changeBound = 10 * time.Second // a change reaching the other nodes
)

func testSecret(t *testing.T) []byte {
	s := make([]byte, 32)
	_, _ = rand.Read(s)
	return s
}

func testLog(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel).With().Timestamp().Logger()
}

// startEmbeddedNodes starts count nodes, each with an embedded NATS server
// routed to all the others.
func startEmbeddedNodes(t *testing.T, count int, ttl time.Duration) []*Node {
	t.Helper()
	ports := natstest.FreePorts(t, count)
	secret := testSecret(t)
	nodes := make([]*Node, count)
	errs := make([]error, count)
	var wg sync.WaitGroup
	for i := range count {
		var routes []string
		for j, p := range ports {
			if j != i {
				routes = append(routes, fmt.Sprintf("127.0.0.1:%d", p))
			}
		}
		cfg := Config{
			NodeID: uint8(i + 1), PublicKCP: fmt.Sprintf("127.0.0.%d:7777", i+1), PublicWS: fmt.Sprintf("ws://127.0.0.%d:7777/", i+1),
			Embedded: &Embedded{ClusterListen: fmt.Sprintf("127.0.0.1:%d", ports[i]), Routes: routes, StoreDir: t.TempDir()},
			Secret:   secret, TTL: ttl, Log: testLog(t),
		}
		wg.Add(1)
		go func() { // the servers wait for each other's routes: start them together
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), joinBound)
			defer cancel()
			nodes[i], errs[i] = Start(ctx, cfg)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
		n := nodes[i]
		t.Cleanup(func() { n.Close() })
	}
	return nodes
}

// waitFor polls cond until it holds, or fails the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("%s: not within %v", what, d)
		}
	}
	return time.Since(start)
}

// inboxLog collects what a node's Inbox delivers, for tests to look for.
type inboxLog struct {
	mu      sync.Mutex
	msgs    []Message
	changed chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

func collect(t *testing.T, n *Node) *inboxLog {
	l := &inboxLog{changed: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for {
			select {
			case <-l.stop:
				return
			case m := <-n.Inbox():
				l.mu.Lock()
				l.msgs = append(l.msgs, m)
				close(l.changed)
				l.changed = make(chan struct{})
				l.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		close(l.stop)
		<-l.done
	})
	return l
}

// find returns the first collected message pred accepts.
func (l *inboxLog) find(pred func(Message) bool) (Message, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if pred(m) {
			return m, true
		}
	}
	return nil, false
}

// wait waits up to d for a message pred accepts.
func (l *inboxLog) wait(t *testing.T, d time.Duration, what string, pred func(Message) bool) Message {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		ch := l.changed
		l.mu.Unlock()
		if m, ok := l.find(pred); ok {
			return m
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("%s: no such message within %v", what, d)
		}
	}
}

func (l *inboxLog) count(pred func(Message) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if pred(m) {
			n++
		}
	}
	return n
}

// percentiles returns the median and the maximum.
func percentiles(d []time.Duration) (p50, maxd time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2], s[len(s)-1]
}
