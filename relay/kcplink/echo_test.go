package kcplink

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay/admit"
	"github.com/tickrelay/tickrelay/relay/link"
)

// echoRelay stands in for the relay's tick in this package's tests: every
// 10 ms it takes each link's messages, answers each with a pong, calls
// Established after the first, and flushes the output batch.
type echoRelay struct {
	tr    *Transport
	mu    sync.Mutex
	links []link.Link
	stop  chan struct{}
	wg    sync.WaitGroup
}

func (e *echoRelay) Accept(l link.Link) bool {
	e.mu.Lock()
	e.links = append(e.links, l)
	e.mu.Unlock()
	return true
}

// count returns the links that are still open.
func (e *echoRelay) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, l := range e.links {
		if !l.Closed() {
			n++
		}
	}
	return n
}

func (e *echoRelay) run() {
	tk := time.NewTicker(10 * time.Millisecond)
	defer tk.Stop()
	var items []link.Inbound
	var out []byte
	for {
		select {
		case <-e.stop:
			return
		case <-tk.C:
		}
		e.tr.BeginTick(10 * time.Millisecond)
		e.mu.Lock()
		links := append([]link.Link(nil), e.links...)
		e.mu.Unlock()
		for _, l := range links {
			items = l.Take(items)
			for _, it := range items {
				if it.Body == nil {
					continue
				}
				link.PutBody(it.Body)
				l.Established()
				out = codec.AppendPong(out[:0], 1, 2, 3, 4)
				if !l.Busy() {
					l.Send(out)
				}
			}
		}
		e.tr.EndTick()
	}
}

// serveEcho runs a transport on a new 127.0.0.1 socket until the test
// ends; quota may be nil.
func serveEcho(t *testing.T, cfg Config, quota *admit.Quota) (*echoRelay, *net.UDPAddr) {
	t.Helper()
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	e := &echoRelay{stop: make(chan struct{})}
	e.tr = New(pc, cfg, quota, e)
	done := e.tr.Start(&e.wg)
	e.wg.Add(1)
	go func() { defer e.wg.Done(); e.run() }()
	t.Cleanup(func() {
		close(e.stop)
		e.tr.Stop()
		<-done
		e.wg.Wait()
		if err := e.tr.Err(); err != nil {
			t.Errorf("reader: %v", err)
		}
	})
	return e, pc.LocalAddr().(*net.UDPAddr)
}
