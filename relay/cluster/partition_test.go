package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/internal/cutproxy"
	"github.com/tickrelay/tickrelay/internal/natstest"
	"github.com/tickrelay/tickrelay/relay/match"
)

// Nodes on an external NATS server: one leaves gracefully, one loses NATS
// (a partition: its connection goes through a proxy the test cuts) and
// gets it back, then the NATS server itself restarts and loses the
// in-memory directory.
func TestPartitionAndRestart(t *testing.T) {
	const ttl = 3 * time.Second
	storeDir := t.TempDir()
	srv := natstest.Start(t, 0, storeDir)
	natsAddr := srv.Addr().(*net.TCPAddr)
	url := "nats://" + natsAddr.String()
	px := cutproxy.New(t, natsAddr.String())
	secret := testSecret(t)
	start := func(id uint8, url string) *Node {
		n, err := Start(context.Background(), Config{
			NodeID: id, PublicKCP: fmt.Sprintf("127.0.0.%d:7777", id), URLs: []string{url},
			Secret: secret, TTL: ttl, Log: testLog(t),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	a := start(1, "nats://"+px.Addr()) // through the proxy
	b := start(2, url)
	c := start(3, url)
	blog := collect(t, b)
	waitFor(t, joinBound, "three nodes joined", func() bool {
		return a.Ready() && b.Ready() && c.Ready() && len(b.Nodes()) == 3 && len(a.Nodes()) == 3
	})
	roomsA := []Room{{ID: 1<<24 | 1, Code: "AAAAA1", Mode: "dm", MaxPlayers: 4, Public: true}}
	a.PublishRooms(roomsA)
	c.PublishRooms([]Room{{ID: 3<<24 | 1, Code: "CCCCC1", Mode: "dm", MaxPlayers: 4}})
	waitFor(t, changeBound, "node 2 lists both", func() bool { return len(b.Rooms()) == 2 })
	ctx, cancel := context.WithTimeout(context.Background(), changeBound)
	defer cancel()
	ban, err := b.PutBan(ctx, Ban{UserID: "griefer"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, changeBound, "the ban on node 1", func() bool { return len(a.Bans()) == 1 })

	t.Run("graceful leave", func(t *testing.T) {
		begin := time.Now()
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, changeBound, "node 3's room gone from node 2", func() bool {
			_, ok := b.RoomByCode("CCCCC1")
			return !ok && len(b.Nodes()) == 2
		})
		left := time.Since(begin)
		t.Logf("a node that left: gone from the others' directory %v after Close began", left.Round(time.Millisecond))
		if left >= ttl {
			t.Errorf("took %v: as long as an expiry (TTL %v), not a leave", left, ttl)
		}
		blog.wait(t, changeBound, "node 3 gone", func(m Message) bool {
			nc, ok := m.(*NodeChanged)
			return ok && nc.Gone && nc.Node.ID == 3
		})
		if err := c.SendDM(DirectMessage{To: 2<<24 | 1}); !errors.Is(err, ErrClosed) {
			t.Errorf("send on a closed node: %v", err)
		}
	})

	t.Run("partition", func(t *testing.T) {
		cut := time.Now()
		px.SetCut(true)
		waitFor(t, changeBound, "node 1 sees NATS gone", func() bool { return !a.Status().Connected })
		// Cut off, node 1 keeps working on its own: nothing blocks, sends
		// fail at once, and it says how it is.
		began := time.Now()
		a.PublishRooms(append(roomsA, Room{ID: 1<<24 | 2, Code: "AAAAA2", Mode: "dm", MaxPlayers: 4, Public: true}))
		a.ReportLoad(7, 2)
		for what, err := range map[string]error{
			"dm":      a.SendDM(DirectMessage{To: 2<<24 | 1, Text: "x"}),
			"channel": a.SayChannel(ChannelLine{Channel: "global", Text: "x"}),
			"ticket":  a.SendTicket(match.Ticket{ID: 1}),
		} {
			if err == nil {
				t.Errorf("%s while cut off: no error", what)
			}
		}
		if _, err := a.RequestSeat(context.Background(), 2, SeatRequest{}); !errors.Is(err, ErrDisconnected) {
			t.Errorf("seat while cut off: %v", err)
		}
		if err := a.RequestSeatAsync(2, SeatRequest{}, 1); !errors.Is(err, ErrDisconnected) {
			t.Errorf("async seat while cut off: %v", err)
		}
		if _, err := a.PutBan(context.Background(), Ban{UserID: "x"}); !errors.Is(err, ErrDisconnected) {
			t.Errorf("ban while cut off: %v", err)
		}
		_ = a.JoinChannel("global")
		_ = a.Rooms()
		_, _ = a.RoomByCode("AAAAA1")
		if len(a.Bans()) != 1 {
			t.Error("bans forgotten while cut off")
		}
		if d := time.Since(began); d > time.Second {
			t.Errorf("calls on a cut-off node took %v", d)
		}
		st := a.Status()
		if st.Connected || st.Ready || st.LastError == "" || a.IsMatchmakerLeader() {
			t.Errorf("status while cut off: %+v, leader %v", st, a.IsMatchmakerLeader())
		}
		waitFor(t, ttl+changeBound, "node 1's rooms gone from node 2", func() bool {
			_, ok := b.RoomByCode("AAAAA1")
			return !ok && len(b.Nodes()) == 1
		})
		gone := time.Since(cut)
		t.Logf("a cut-off node's rooms left the others' directory %v after the cut (TTL %v)", gone.Round(time.Millisecond), ttl)
		if gone > ttl+3*time.Second {
			t.Errorf("took %v (TTL %v)", gone, ttl)
		}
		waitFor(t, ttl+changeBound, "node 1 stops listing what it cannot vouch for", func() bool {
			return len(a.Rooms()) == 0 && a.Status().DirectoryAge > 0
		})
		waitFor(t, changeBound, "node 2 takes the matchmaker", b.IsMatchmakerLeader)

		healed := time.Now()
		px.SetCut(false)
		waitFor(t, changeBound, "node 1 back, its new room republished", func() bool {
			r, ok := b.RoomByCode("AAAAA2")
			ns := b.Nodes()
			return ok && r.Node == 1 && len(ns) == 2 && ns[0].Players == 7 && a.Ready()
		})
		t.Logf("after the partition healed, node 1's rooms were back on node 2 in %v", time.Since(healed).Round(time.Millisecond))
		if l, _ := a.Leader(); l != 2 {
			t.Errorf("node 1 sees leader %d, want 2", l)
		}
	})

	t.Run("NATS restarts", func(t *testing.T) {
		srv.Shutdown()
		srv.WaitForShutdown()
		waitFor(t, changeBound, "both see NATS gone", func() bool { return !a.Status().Connected && !b.Status().Connected })
		// The same port and store: the directory (in memory) is gone, the
		// bans (on disk) are not.
		srv = natstest.Start(t, natsAddr.Port, storeDir)
		restarted := time.Now()
		var seen string // what the wait saw last, for a failure's message
		defer func() {
			if t.Failed() {
				t.Logf("last seen: %s", seen)
			}
		}()
		waitFor(t, joinBound, "both back, directory rebuilt", func() bool {
			_, ok := b.RoomByCode("AAAAA2")
			seen = fmt.Sprintf("room on node 2 %v, ready %v/%v, nodes seen by node 1 %d; node 1 %+v; node 2 %+v",
				ok, a.Ready(), b.Ready(), len(a.Nodes()), a.Status(), b.Status())
			return ok && a.Ready() && b.Ready() && len(a.Nodes()) == 2
		})
		t.Logf("after NATS restarted, the directory was rebuilt in %v", time.Since(restarted).Round(time.Millisecond))
		for _, n := range []*Node{a, b} {
			if bans := n.Bans(); len(bans) != 1 || bans[0].ID != ban.ID {
				t.Errorf("node %d: bans %+v after the restart", n.ID(), bans)
			}
		}
		if blog.count(func(m Message) bool { c, ok := m.(*BanChanged); return ok && c.Removed }) != 0 {
			t.Error("a ban was reported removed across the restart")
		}
		waitFor(t, changeBound, "a matchmaker leader again", func() bool {
			la, _ := a.Leader()
			lb, _ := b.Leader()
			return la != 0 && la == lb && (a.IsMatchmakerLeader() != b.IsMatchmakerLeader())
		})
	})
}

// A node that starts while NATS is not there yet serves alone, and joins
// when NATS appears.
func TestStartBeforeNATS(t *testing.T) {
	port := natstest.FreePorts(t, 1)[0]
	n, err := Start(context.Background(), Config{
		NodeID: 4, PublicKCP: "127.0.0.4:7777", URLs: []string{fmt.Sprintf("nats://127.0.0.1:%d", port)},
		Secret: testSecret(t), TTL: time.Second, Log: testLog(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if st := n.Status(); st.Connected || st.Ready {
		t.Fatalf("status %+v with no NATS", st)
	}
	n.PublishRooms([]Room{{ID: 4<<24 | 1, Code: "DDDDDD"}})
	natstest.Start(t, port, t.TempDir())
	waitFor(t, joinBound, "joined once NATS is up", n.Ready)
}

func TestConfigRefused(t *testing.T) {
	good := Config{NodeID: 1, PublicKCP: "1.2.3.4:7777", URLs: []string{"nats://127.0.0.1:1"}, Secret: make([]byte, 16)}
	if _, err := good.withDefaults(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*Config){
		"node 0":         func(c *Config) { c.NodeID = 0 },
		"short secret":   func(c *Config) { c.Secret = c.Secret[:15] },
		"no NATS":        func(c *Config) { c.URLs = nil },
		"both NATS":      func(c *Config) { c.Embedded = &Embedded{StoreDir: "x"} },
		"no address":     func(c *Config) { c.PublicKCP = "" },
		"bad address":    func(c *Config) { c.PublicKCP = "nowhere" },
		"bad name":       func(c *Config) { c.Name = "a.b" },
		"short TTL":      func(c *Config) { c.TTL = time.Millisecond },
		"replicas":       func(c *Config) { c.Replicas = 6 },
		"embedded store": func(c *Config) { c.URLs, c.Embedded = nil, &Embedded{} },
		"routes alone":   func(c *Config) { c.URLs, c.Embedded = nil, &Embedded{StoreDir: "x", Routes: []string{"1.2.3.4:6222"}} },
	} {
		c := good
		mod(&c)
		if _, err := c.withDefaults(); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if _, err := Start(context.Background(), c); err == nil {
			t.Errorf("%s: started", name)
		}
	}
	e := good
	e.URLs, e.Embedded = nil, &Embedded{StoreDir: "x", ClusterListen: "127.0.0.1:0", Routes: []string{"a:1", "b:2", "c:3"}}
	if c, _ := e.withDefaults(); c.Replicas != 3 || c.Embedded.ServerName != "tickrelay-1" || c.Embedded.ClientListen != "127.0.0.1:0" {
		t.Errorf("defaults %+v %+v", c, c.Embedded)
	}
}
