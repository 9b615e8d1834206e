package relaytest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tickrelay/tickrelay/internal/cutproxy"
	"github.com/tickrelay/tickrelay/internal/natstest"
	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/cluster"
)

// ClusterJoinBound bounds how long a test cluster may take to form: its
// embedded NATS servers routing to each other and electing JetStream's
// meta leader, slow under -race on a loaded machine.
const ClusterJoinBound = 60 * time.Second

// ClusterNode is one relay of a test cluster.
type ClusterNode struct {
	Server *relay.Server
	Node   *cluster.Node
	KCP    string // the address to dial over KCP
	WS     string // the WebSocket URL
}

// StartCluster starts n relays on 127.0.0.1, serving KCP and WebSocket on
// kernel-chosen ports, each a node of one cluster (ids 1 to n) with its own
// embedded NATS server routed to the others'. configure, when not nil,
// sets each server up before it serves. It returns once every node has
// joined and sees the others; the test's end shuts the relays down, then
// the nodes.
func StartCluster(t testing.TB, n int, ttl time.Duration, configure func(i int, s *relay.Server)) []*ClusterNode {
	t.Helper()
	routePorts := natstest.FreePorts(t, n)
	return startCluster(t, n, ttl, func(i int, cfg *cluster.Config) {
		var routes []string
		for j, p := range routePorts {
			if j != i {
				routes = append(routes, fmt.Sprintf("127.0.0.1:%d", p))
			}
		}
		cfg.Embedded = &cluster.Embedded{ClusterListen: fmt.Sprintf("127.0.0.1:%d", routePorts[i]), Routes: routes, StoreDir: t.TempDir()}
	}, configure)
}

// StartClusterOn is StartCluster with external NATS: node i connects to
// urls[i] (a test may put a proxy it can cut in front of one).
func StartClusterOn(t testing.TB, urls []string, ttl time.Duration, configure func(i int, s *relay.Server)) []*ClusterNode {
	t.Helper()
	return startCluster(t, len(urls), ttl, func(i int, cfg *cluster.Config) { cfg.URLs = []string{urls[i]} }, configure)
}

func startCluster(t testing.TB, n int, ttl time.Duration, natsConfig func(i int, cfg *cluster.Config), configure func(i int, s *relay.Server)) []*ClusterNode {
	t.Helper()
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	nodes := make([]*ClusterNode, n)
	socks := make([]struct {
		pc net.PacketConn
		ln net.Listener
	}, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		s := &relay.Server{}
		if configure != nil {
			configure(i, s)
		}
		pc, ln := listen(t, true)
		socks[i].pc, socks[i].ln = pc, ln
		nodes[i] = &ClusterNode{Server: s, KCP: pc.LocalAddr().String(), WS: wsURL(s, ln)}
		cfg := cluster.Config{
			NodeID: uint8(i + 1), PublicKCP: nodes[i].KCP, PublicWS: nodes[i].WS, Secret: secret, TTL: ttl,
			Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel).With().Int("node", i+1).Logger(),
		}
		natsConfig(i, &cfg)
		wg.Add(1)
		go func() { // embedded servers wait for each other's routes: start them together
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), ClusterJoinBound)
			defer cancel()
			nodes[i].Node, errs[i] = cluster.Start(ctx, cfg)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			for _, sk := range socks {
				sk.pc.Close()
				sk.ln.Close()
			}
			for _, cn := range nodes { // the nodes that did start: their NATS servers log until closed
				if cn.Node != nil {
					cn.Node.Close()
				}
			}
			t.Fatalf("cluster node %d: %v", i+1, err)
		}
	}
	for i, cn := range nodes {
		node := cn.Node
		t.Cleanup(func() { node.Close() }) // runs after the relay's shutdown, registered below
		cn.Server.Cluster = node
		serve(t, cn.Server, socks[i].pc, socks[i].ln)
	}
	deadline := time.Now().Add(ClusterJoinBound)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for _, cn := range nodes {
		for !cn.Node.Ready() || len(cn.Node.Nodes()) < n {
			if time.Now().After(deadline) {
				t.Fatalf("cluster node %d: not joined with %d nodes within %v: %+v", cn.Node.ID(), n, ClusterJoinBound, cn.Node.Status())
			}
			<-tick.C
		}
	}
	return nodes
}

// SplitCluster is a test cluster whose NATS routes each go through a
// proxy the test can cut, to split the cluster's network.
type SplitCluster struct {
	Nodes   []*ClusterNode
	proxies [][]*cutproxy.Proxy // [from][to]: the route node from dials; nil on the diagonal
}

// StartSplittableCluster is StartCluster with every route between two
// nodes' embedded NATS servers through a proxy (cutproxy) that Isolate
// cuts.
func StartSplittableCluster(t testing.TB, n int, ttl time.Duration, configure func(i int, s *relay.Server)) *SplitCluster {
	t.Helper()
	routePorts := natstest.FreePorts(t, n)
	px := make([][]*cutproxy.Proxy, n)
	for i := range n {
		px[i] = make([]*cutproxy.Proxy, n)
		for j := range n {
			if j != i {
				px[i][j] = cutproxy.New(t, fmt.Sprintf("127.0.0.1:%d", routePorts[j]))
			}
		}
	}
	nodes := startCluster(t, n, ttl, func(i int, cfg *cluster.Config) {
		var routes []string
		for j := range n {
			if j != i {
				routes = append(routes, px[i][j].Addr())
			}
		}
		// A server tells the others where to reach it when they learn of
		// it from a third (NATS's implicit routes), which would go around
		// the proxies: the address it gives is one where nothing listens.
		cfg.Embedded = &cluster.Embedded{ClusterListen: fmt.Sprintf("127.0.0.1:%d", routePorts[i]),
			ClusterAdvertise: "127.0.0.1:1", Routes: routes, StoreDir: t.TempDir()}
	}, configure)
	return &SplitCluster{Nodes: nodes, proxies: px}
}

// Isolate cuts every route between Nodes[i] and the others (a split of one
// node against the rest), or, with cut false, restores them.
func (s *SplitCluster) Isolate(i int, cut bool) {
	for j := range s.proxies {
		if j != i {
			s.proxies[i][j].SetCut(cut)
			s.proxies[j][i].SetCut(cut)
		}
	}
}
