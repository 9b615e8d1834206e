package enginetest

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
)

// tcpCutter forwards TCP connections from 127.0.0.1 to upstream (the relay's
// WebSocket port) until cut() closes every connection it carries, both
// sides, without a WebSocket close: what a browser sees when its network
// goes away, and the relay sees a connection that ended without a bye.
// After a cut it refuses connections (accepts and closes them at once, as a
// network that is still down) until restore().
type tcpCutter struct {
	ln       net.Listener
	upstream string
	wg       sync.WaitGroup // the accept loop and the pipes

	mu       sync.Mutex
	down     bool
	conns    map[net.Conn]struct{} // both sides of every carried connection
	accepted int                   // connections carried
	refused  int                   // connections closed at once while down
	changed  chan struct{}         // closed and replaced when refused grows
}

func newTCPCutter(t *testing.T, upstream string) *tcpCutter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &tcpCutter{ln: ln, upstream: upstream, conns: map[net.Conn]struct{}{}, changed: make(chan struct{})}
	c.wg.Add(1)
	go c.accept()
	t.Cleanup(c.close)
	return c
}

func (c *tcpCutter) port() int { return c.ln.Addr().(*net.TCPAddr).Port }

func (c *tcpCutter) accept() {
	defer c.wg.Done()
	for {
		down, err := c.ln.Accept()
		if err != nil {
			return // closed
		}
		c.mu.Lock()
		refuse := c.down
		if refuse {
			c.refusedOne()
		}
		c.mu.Unlock()
		if refuse {
			down.Close()
			continue
		}
		up, err := net.Dial("tcp", c.upstream)
		if err != nil {
			down.Close()
			continue
		}
		c.mu.Lock()
		if c.down { // cut while dialling
			c.refusedOne()
			c.mu.Unlock()
			down.Close()
			up.Close()
			continue
		}
		c.accepted++
		c.conns[down], c.conns[up] = struct{}{}, struct{}{}
		c.wg.Add(2)
		c.mu.Unlock()
		go c.pipe(down, up)
		go c.pipe(up, down)
	}
}

// refusedOne counts a refused connection; c.mu is held.
func (c *tcpCutter) refusedOne() {
	c.refused++
	close(c.changed)
	c.changed = make(chan struct{})
}

// waitRefused waits until n connections have been refused, or ctx ends.
func (c *tcpCutter) waitRefused(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		refused, ch := c.refused, c.changed
		c.mu.Unlock()
		if refused >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%d connections refused, want %d: %w", refused, n, ctx.Err())
		}
	}
}

// pipe copies from one side to the other; when either ends, both close.
func (c *tcpCutter) pipe(from, to net.Conn) {
	defer c.wg.Done()
	io.Copy(to, from)
	from.Close()
	to.Close()
	c.mu.Lock()
	delete(c.conns, from)
	delete(c.conns, to)
	c.mu.Unlock()
}

// cut closes every connection it carries and refuses new ones until
// restore(). It returns how many connections it closed.
func (c *tcpCutter) cut() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down = true
	n := len(c.conns) / 2
	for conn := range c.conns {
		conn.Close()
	}
	return n
}

// restore lets connections through again.
func (c *tcpCutter) restore() {
	c.mu.Lock()
	c.down = false
	c.mu.Unlock()
}

// counts returns the connections carried and refused so far.
func (c *tcpCutter) counts() (accepted, refused int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.accepted, c.refused
}

// close stops accepting, closes every connection and waits for the pipes.
func (c *tcpCutter) close() {
	c.ln.Close()
	c.mu.Lock()
	for conn := range c.conns {
		conn.Close()
	}
	c.mu.Unlock()
	c.wg.Wait()
}
