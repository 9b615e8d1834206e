package cluster

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Errors of the sending methods. None of them blocks: a message that cannot
// go now fails at once.
var (
	ErrClosed       = errors.New("cluster: node closed")
	ErrDisconnected = errors.New("cluster: NATS unreachable")
	ErrNotReady     = errors.New("cluster: not joined to the cluster yet")
	ErrUnknownNode  = errors.New("cluster: no such live node")
	ErrLocal        = errors.New("cluster: that is this node: handle it locally")
	ErrBacklog      = errors.New("cluster: too many messages waiting to be sent")
	ErrNoLeader     = errors.New("cluster: no matchmaker leader")
	ErrNotLeader    = errors.New("cluster: this node is not the matchmaker leader")
	ErrBusy         = errors.New("cluster: too many seat requests in flight")
)

// Node is this relay's membership of a cluster. Create one with Start; its
// methods are safe for concurrent use. The relay's tick may call every
// method except RequestSeat, PutBan, DeleteBan and Shutdown, which wait for
// NATS: none of the others blocks.
type Node struct {
	cfg         Config
	id          uint8
	log         zerolog.Logger
	incarnation uint64
	seatKey     []byte
	srv         *server.Server // the embedded server, or nil
	nc          *nats.Conn
	js          jetstream.JetStream
	started     time.Time

	ctx       context.Context // ends the node's goroutines
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closing   atomic.Bool
	closeOnce sync.Once
	closeErr  error

	inbox     chan Message
	seats     chan *SeatCall
	out       chan outbound // to the sender
	wakeRun   chan struct{} // the run loop has work (rooms, load, a connection change)
	rewatch   chan struct{} // the watch loop should (re)start its watches
	seatSlots chan struct{} // RequestSeatAsync's calls in flight

	ttl       atomic.Int64 // the directory bucket's TTL, ns
	leaderTTL atomic.Int64 // the leader bucket's TTL, ns: the leadership's
	buckets   atomic.Pointer[buckets]
	snap      atomic.Pointer[dirSnapshot]

	mu         sync.Mutex // guards the fields below
	rooms      []Room
	roomsDirty bool
	players    int
	numRooms   int
	loadDirty  bool
	channels   map[string]bool // the lobby channels this node listens to
	st         connState
	snapWait   chan struct{} // closed and replaced at each new snapshot

	leaderMu   sync.Mutex // guards leaderNode and leaderTerm
	leaderNode uint8
	leaderTerm uint64
	isLeader   atomic.Bool
	leaseUntil atomic.Int64 // Unix ns: the leadership is good until then

	bans      banCache
	seatsUsed usedSeats
	stats     counters
	rs        *runState // owned by the run loop; read by Shutdown after it ends
}

// connState is what Status reports of the connection and the directory.
type connState struct {
	connected   bool
	since       time.Time
	lastError   string
	ready       bool      // buckets bound
	dirLive     bool      // the directory watch has replayed and runs
	dirLastLive time.Time // when it last stopped being live
}

// buckets are the key-value buckets, bound once NATS is reached.
type buckets struct {
	dir, bans jetstream.KeyValue
	leader    *leaderBucket
}

// Start joins the cluster: it starts the embedded NATS server (with
// Embedded) and connects, then returns; joining (binding the buckets,
// reading the directory) goes on in the background, retried until it
// works, and so does every reconnection. Ready reports when the node has
// joined. ctx bounds only the start of the embedded server.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var inc [8]byte
	_, _ = rand.Read(inc[:])
	n := &Node{
		cfg: cfg, id: cfg.NodeID, log: cfg.Log.With().Uint8("node", cfg.NodeID).Logger(),
		incarnation: binary.BigEndian.Uint64(inc[:]) >> 1, seatKey: seatKey(cfg.Secret), started: cfg.now(),
		inbox: make(chan Message, cfg.InboxSize), seats: make(chan *SeatCall, 256),
		out: make(chan outbound, 4096), wakeRun: make(chan struct{}, 1), rewatch: make(chan struct{}, 1),
		seatSlots: make(chan struct{}, 64), channels: map[string]bool{}, snapWait: make(chan struct{}),
	}
	n.rs = &runState{table: newRoomTable(cfg.NodeID), needSetup: true}
	n.ttl.Store(int64(cfg.TTL))
	n.leaderTTL.Store(int64(cfg.TTL))
	n.snap.Store(emptySnapshot)
	n.st.since = n.started
	n.st.dirLastLive = n.started
	n.stats.init()
	if cfg.Embedded != nil {
		if n.srv, err = startEmbedded(ctx, cfg); err != nil {
			return nil, err
		}
	}
	if err := n.connect(); err != nil {
		n.stopServer()
		return nil, err
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.wg.Add(3)
	go n.run()
	go n.watch()
	go n.send()
	n.log.Info().Bool("embedded", n.srv != nil).Int("replicas", cfg.Replicas).Dur("ttl", cfg.TTL).Msg("cluster node started")
	return n, nil
}

// connect makes the NATS connection (retrying in the background if NATS is
// not there yet) and subscribes to this node's subjects.
func (n *Node) connect() error {
	cfg := n.cfg
	opts := []nats.Option{
		nats.Name(fmt.Sprintf("%s node %d", cfg.Name, cfg.NodeID)),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.RetryOnFailedConnect(true),
		// No buffering while disconnected: a message that cannot go fails
		// at once (and is counted) instead of arriving stale.
		nats.ReconnectBufSize(-1),
		// A dead connection is found within a few seconds, well within TTL.
		nats.PingInterval(max(time.Second, cfg.TTL/5)),
		nats.MaxPingsOutstanding(2),
		nats.Timeout(2 * time.Second),
		nats.NoCallbacksAfterClientClose(),
		nats.ConnectHandler(func(*nats.Conn) { n.setConnected(true, nil) }),
		nats.ReconnectHandler(func(*nats.Conn) { n.setConnected(true, nil) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { n.setConnected(false, err) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			n.log.Warn().Err(err).Msg("cluster: NATS")
			n.setError(err)
		}),
	}
	url := strings.Join(cfg.URLs, ",")
	if n.srv != nil {
		user, pass := Credentials(cfg.Secret)
		opts = append(opts, nats.InProcessServer(n.srv), nats.UserInfo(user, pass))
		url = ""
	} else {
		opts = append(opts, cfg.NATSOptions...)
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return fmt.Errorf("cluster: NATS: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return fmt.Errorf("cluster: JetStream: %w", err)
	}
	n.nc, n.js = nc, js
	if nc.IsConnected() {
		n.setConnected(true, nil)
	}
	if _, err := nc.Subscribe(n.subject("node", n.id), n.onNodeMsg); err != nil {
		nc.Close()
		return fmt.Errorf("cluster: subscribe: %w", err)
	}
	if _, err := nc.Subscribe(n.subject("seat", n.id), n.onSeatRequest); err != nil {
		nc.Close()
		return fmt.Errorf("cluster: subscribe: %w", err)
	}
	return nil
}

// subject is "<Name>.<what>.<node>".
func (n *Node) subject(what string, node uint8) string {
	return n.cfg.Name + "." + what + "." + strconv.Itoa(int(node))
}

func (n *Node) setConnected(up bool, err error) {
	n.mu.Lock()
	if up != n.st.connected {
		n.st.connected, n.st.since = up, n.cfg.now()
	}
	if err != nil {
		n.st.lastError = err.Error()
	}
	if !up {
		n.setDirLiveLocked(false)
		n.st.ready = false
	}
	n.mu.Unlock()
	if up {
		n.log.Info().Msg("cluster: NATS connected")
	} else {
		n.log.Warn().Err(err).Msg("cluster: NATS disconnected; serving this node's rooms only")
	}
	signal(n.wakeRun)
	signal(n.rewatch)
}

func (n *Node) setError(err error) {
	n.mu.Lock()
	n.st.lastError = err.Error()
	n.mu.Unlock()
}

func (n *Node) setDirLiveLocked(live bool) {
	if n.st.dirLive && !live {
		n.st.dirLastLive = n.cfg.now()
	}
	n.st.dirLive = live
}

func (n *Node) connected() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.st.connected
}

// signal wakes a loop without blocking.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// ID is this node's id.
func (n *Node) ID() uint8 { return n.id }

// Inbox delivers what other nodes send this one, and what the node learns
// (ban, node and leader changes, seat results). The relay's tick drains
// it; when it is full, newer messages are dropped and counted
// (Stats().Drops["inbox_full"]).
func (n *Node) Inbox() <-chan Message { return n.inbox }

// SeatRequests delivers other nodes' requests for seats in this node's
// rooms; the tick answers each with Accept or Refuse. When it is full,
// requests are refused as "busy".
func (n *Node) SeatRequests() <-chan *SeatCall { return n.seats }

// deliver queues m on the inbox, or drops it.
func (n *Node) deliver(m Message) bool {
	select {
	case n.inbox <- m:
		return true
	default:
		n.stats.drop(dropInboxFull)
		return false
	}
}

// Ready reports whether the node has joined: NATS reached, buckets bound,
// and the directory read.
func (n *Node) Ready() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.st.connected && n.st.ready && n.st.dirLive
}

// Status says how the node's link to the cluster is: for /healthz and the
// metrics.
type Status struct {
	// Connected: the NATS connection is up.
	Connected bool
	// Ready: joined (buckets bound, the directory read and watched); other
	// nodes' rooms are current.
	Ready bool
	// Servers is how many NATS servers the node knows (with Embedded: its
	// own and the ones it is routed to).
	Servers int
	// LastError is the last NATS or cluster error, if any.
	LastError string
	// Since is when Connected last changed.
	Since time.Time
	// DirectoryAge is 0 while the directory is watched, else how long it
	// has not been: what Rooms shows may be that old (it empties within
	// TTL as records expire).
	DirectoryAge time.Duration
	// Leader is the matchmaker's leader, 0 for none.
	Leader uint8
	// Nodes is how many nodes are live, this one included.
	Nodes int
}

// Status reports the node's link to the cluster.
func (n *Node) Status() Status {
	now := n.cfg.now()
	n.mu.Lock()
	s := Status{
		Connected: n.st.connected, Ready: n.st.connected && n.st.ready && n.st.dirLive,
		LastError: n.st.lastError, Since: n.st.since,
	}
	if !n.st.dirLive {
		s.DirectoryAge = now.Sub(n.st.dirLastLive)
	}
	n.mu.Unlock()
	if n.srv != nil {
		s.Servers = 1 + n.srv.NumRemotes()
	} else {
		s.Servers = len(n.nc.Servers())
	}
	s.Leader, _ = n.Leader()
	s.Nodes = 1 + len(n.snap.Load().nodes)
	return s
}

// Shutdown leaves the cluster: it deletes this node's records (its rooms
// leave the others' directory at once, and its matchmaker leadership
// passes), stops the node's goroutines, closes the connection and stops
// the embedded server. Leaving is bounded by ctx; the rest happens anyway.
func (n *Node) Shutdown(ctx context.Context) error {
	n.closeOnce.Do(func() {
		n.mu.Lock()
		n.closing.Store(true)
		n.mu.Unlock()
		n.cancel()
		n.wg.Wait()
		n.closeErr = n.leave(ctx)
		n.stop()
		n.log.Info().Msg("cluster node stopped")
	})
	return n.closeErr
}

// Close is Shutdown with two seconds to leave.
func (n *Node) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return n.Shutdown(ctx)
}

// kill stops the node as a crash would: nothing is deleted, the others
// find out when its records expire. For tests.
func (n *Node) kill() {
	n.closeOnce.Do(func() {
		n.mu.Lock()
		n.closing.Store(true)
		n.mu.Unlock()
		n.cancel()
		n.wg.Wait()
		n.stop()
		n.closeErr = ErrClosed
	})
}

func (n *Node) stop() {
	n.nc.Close()
	n.stopServer()
}

func (n *Node) stopServer() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
}

// leave deletes this node's records; the goroutines have ended.
func (n *Node) leave(ctx context.Context) error {
	b := n.buckets.Load()
	if b == nil || !n.nc.IsConnected() {
		return nil // nothing to delete, or no way to: the records expire
	}
	var errs []error
	if err := b.dir.Delete(ctx, nodeKey(n.id)); err != nil {
		errs = append(errs, err)
	}
	if n.isLeader.Load() {
		if _, err := b.leader.del(ctx, n.rs.leaderRev); err != nil {
			errs = append(errs, err)
		} else {
			n.stats.deletes.Add(1)
		}
		n.isLeader.Store(false)
	}
	if r := n.rs; r != nil {
		var keys []string
		for _, id := range r.table.writtenIDs() {
			keys = append(keys, roomKey(n.id, id))
		}
		if err := n.deleteKeys(ctx, b.dir, keys); err != nil {
			errs = append(errs, err)
		}
	}
	if err := n.nc.FlushWithContext(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cluster: leaving: %w", err)
	}
	return nil
}
