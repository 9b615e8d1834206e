package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/internal/natstest"
	"github.com/tickrelay/tickrelay/internal/relaytest"
	"github.com/tickrelay/tickrelay/relay/client"
	"github.com/tickrelay/tickrelay/relay/cluster"
)

// clusterJoinBound bounds how long three embedded NATS servers take to
// route to each other and elect JetStream's meta leader under -race on a
// loaded machine (about 4.5 s measured, docs/cluster.md).
const clusterJoinBound = 45 * time.Second

// runningRelay is one relay process's run, in this test process.
type runningRelay struct {
	id     int
	cancel context.CancelFunc
	done   chan error
	out    *lockedBuffer
	addrs  map[string]string // "kcp", "ws" (host:port), "metrics"
}

func (r *runningRelay) wsURL() string { return "ws://" + r.addrs["ws"] + "/" }

// stop cancels the run (as SIGTERM does) and waits for it to return nil.
func (r *runningRelay) stop(t *testing.T) {
	t.Helper()
	if r.done == nil {
		return
	}
	stopRun(t, r.cancel, r.done)
	r.done = nil
}

// nodeArgs is the command line of node i+1 of a test cluster: loopback
// addresses on ports of the kernel's choosing (the public addresses are
// derived from the bound ones), a metrics listener for /healthz, embedded
// NATS routed to the other nodes' ports, TTL 3 s.
func nodeArgs(t *testing.T, i int, ports []int, secretFile string) []string {
	var routes []string
	for j, p := range ports {
		if j != i {
			routes = append(routes, fmt.Sprintf("127.0.0.1:%d", p))
		}
	}
	return []string{"-addr", "127.0.0.1:0", "-ws-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0",
		"-shutdown-timeout", "3s", "-node-id", fmt.Sprint(i + 1),
		"-cluster-listen", fmt.Sprintf("127.0.0.1:%d", ports[i]), "-cluster-routes", strings.Join(routes, ","),
		"-cluster-store", t.TempDir(), "-cluster-secret-file", secretFile, "-cluster-ttl", "3s"}
}

// startClusterRuns starts n relays through run, each with its own flags:
// embedded NATS routed to the others', loopback addresses on ports of the
// kernel's choosing (the public addresses are derived from the bound
// ones), and a metrics listener for /healthz.
func startClusterRuns(t *testing.T, n int) []*runningRelay {
	t.Helper()
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	secretFile := writeSecret(t, hex.EncodeToString(secret))
	ports := natstest.FreePorts(t, n)
	relays := make([]*runningRelay, n)
	for i := range n {
		args := nodeArgs(t, i, ports, secretFile)
		ctx, cancel := context.WithCancel(context.Background())
		r := &runningRelay{id: i + 1, cancel: cancel, done: make(chan error, 1), out: &lockedBuffer{}}
		relays[i] = r
		go func() { r.done <- run(ctx, args, env(nil), r.out, &bytes.Buffer{}) }()
	}
	t.Cleanup(func() {
		for _, r := range relays {
			r.stop(t)
		}
		if t.Failed() {
			for _, r := range relays {
				t.Logf("node %d's log:\n%s", r.id, grep(r.out.String(), `"level":"`))
			}
		}
	})
	for _, r := range relays {
		r.addrs = listening(t, r.out, "kcp", "ws", "metrics")
	}
	return relays
}

// listed reports whether room is in what c lists through its relay.
func listed(t *testing.T, ctx context.Context, c *client.Client, room uint32, players int) bool {
	t.Helper()
	rooms, err := c.ListRooms(ctx, "", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(rooms, func(r codec.RoomInfo) bool { return r.ID == room && (players == 0 || r.Players == players) })
}

// Three relays started from the command line with embedded NATS form one
// cluster: /healthz turns 200 on each once joined, a room made through
// node 1 is joined by code through node 3 (over WebSocket, following the
// redirect to the room's node), and when node 2 stops, the others stay
// healthy and its rooms leave their listings.
func TestRunThreeNodeCluster(t *testing.T) {
	start := time.Now()
	relays := startClusterRuns(t, 3)
	n1, n2, n3 := relays[0], relays[1], relays[2]
	for _, r := range relays {
		waitClusterFormed(t, r.id, r.addrs["metrics"], 3)
	}
	t.Logf("three nodes up and /healthz 200 on each: %v", time.Since(start))
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	dial := func(addr, name string) *client.Client { return dialPlayer(t, ctx, addr, name) }

	// A player idles on node 3 and alice is on node 1: node 2 is the least
	// loaded, so the room alice makes goes there.
	dial(n3.addrs["kcp"], "idle")
	alice := dial(n1.addrs["kcp"], "alice")
	relaytest.WaitFor(t, ctx, "node 1 seeing one player on nodes 1 and 3 and none on node 2", func() bool {
		_, rep := healthz(t, n1.addrs["metrics"])
		load := map[uint8]int{}
		for _, m := range rep.Cluster.Members {
			load[m.ID] = m.Players
		}
		return len(load) == 3 && load[1] == 1 && load[2] == 0 && load[3] == 1
	})
	ja, err := alice.CreateRoom(ctx, client.RoomOptions{Mode: "coop", MaxPlayers: 4})
	if err != nil {
		t.Fatal(err)
	}
	if cluster.NodeOf(ja.RoomID) != 2 || cluster.NodeOf(alice.ID()) != 2 {
		t.Fatalf("room %#x, alice %#x: want both on node 2, the least loaded", ja.RoomID, alice.ID())
	}

	// Bob joins by code through node 3 over WebSocket: node 3 asks node 2
	// for a seat and redirects him there (to the WebSocket URL node 2
	// derived from its bound port).
	bob := dial(n3.wsURL(), "bob")
	relaytest.WaitFor(t, ctx, "the room listed through node 3", func() bool { return listed(t, ctx, bob, ja.RoomID, 0) })
	jb, err := bob.JoinByCode(ctx, ja.Code)
	if err != nil {
		t.Fatal(err)
	}
	if jb.RoomID != ja.RoomID || cluster.NodeOf(bob.ID()) != 2 {
		t.Fatalf("bob joined %#x as %#x; want room %#x on node 2", jb.RoomID, bob.ID(), ja.RoomID)
	}
	for _, c := range []struct {
		who   *client.Client
		other uint32
	}{{alice, bob.ID()}, {bob, alice.ID()}} {
		if err := c.who.WaitFor(ctx, func(v client.RoomView) bool { _, ok := v.Players[c.other]; return ok && len(v.Players) == 2 }); err != nil {
			t.Fatalf("player %#x never saw %#x: %v", c.who.ID(), c.other, err)
		}
	}
	carol := dial(n1.addrs["kcp"], "carol")
	relaytest.WaitFor(t, ctx, "the room listed with 2 players through node 1", func() bool { return listed(t, ctx, carol, ja.RoomID, 2) })
	idle2 := dial(n3.addrs["kcp"], "dora")

	// Node 2 stops as on SIGTERM: it leaves the cluster after its relay's
	// shutdown. The others stay healthy and forget its room.
	stopAt := time.Now()
	n2.stop(t)
	t.Logf("node 2 stopped in %v", time.Since(stopAt))
	for _, r := range []*runningRelay{n1, n3} {
		relaytest.WaitFor(t, ctx, fmt.Sprintf("node %d seeing 2 nodes, healthy throughout", r.id), func() bool {
			code, rep := healthz(t, r.addrs["metrics"])
			if code != 200 {
				t.Fatalf("node %d's /healthz after node 2 stopped: %d %+v", r.id, code, rep)
			}
			return rep.Cluster.Nodes == 2
		})
	}
	for _, c := range []*client.Client{carol, idle2} {
		relaytest.WaitFor(t, ctx, "node 2's room gone from the listing", func() bool { return !listed(t, ctx, c, ja.RoomID, 0) })
	}
	t.Logf("node 2's room left both listings %v after it was stopped", time.Since(stopAt))
	for _, r := range []*runningRelay{n1, n3} {
		if code, rep := healthz(t, r.addrs["metrics"]); code != 200 {
			t.Fatalf("node %d's /healthz: %d %+v", r.id, code, rep)
		}
	}
	t.Logf("whole test: %v", time.Since(start))
}

// dialPlayer connects a player named name to the relay at addr (a KCP
// host:port or a WebSocket URL); the test's end closes it.
func dialPlayer(t *testing.T, ctx context.Context, addr, name string) *client.Client {
	t.Helper()
	c, err := client.Dial(ctx, addr, client.Options{Name: name})
	if err != nil {
		t.Fatalf("%s dialing %s: %v", name, addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitClusterFormed waits until the relay numbered id answers /healthz 200
// and its cluster section shows it connected and ready with n NATS servers
// and n nodes in the directory. Healthy comes first: a node serves as soon
// as its own directory works, and the others' records follow within a
// publication interval (longer while JetStream elects its leaders).
func waitClusterFormed(t *testing.T, id int, metricsAddr string, n int) {
	t.Helper()
	deadline := time.Now().Add(clusterJoinBound)
	for {
		code, rep := healthz(t, metricsAddr)
		c := rep.Cluster
		if code == 200 && c != nil && c.Node == uint8(id) && c.Connected && c.Ready && c.Nodes == n && c.Servers == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %d: /healthz %d, cluster section %+v; want 200 with %d nodes and servers within %v", id, code, c, n, clusterJoinBound)
		}
		time.Sleep(20 * time.Millisecond) // polling an endpoint, bounded
	}
}
