package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/relay/admin"
	"github.com/tickrelay/tickrelay/relay/cluster"
)

// fakeRelay answers Overview with a fixed overview or error, counting calls.
type fakeRelay struct {
	ov    admin.Overview
	err   error
	calls atomic.Int32
}

func (f *fakeRelay) Overview(ctx context.Context) (admin.Overview, error) {
	f.calls.Add(1)
	if errors.Is(f.err, context.DeadlineExceeded) {
		<-ctx.Done() // a tick that never answers
		return admin.Overview{}, ctx.Err()
	}
	return f.ov, f.err
}

// fakeNode is a cluster node with a fixed status and counters.
type fakeNode struct {
	id     uint8
	status cluster.Status
	stats  cluster.Stats
	nodes  []cluster.NodeInfo
}

func (f *fakeNode) ID() uint8                 { return f.id }
func (f *fakeNode) Status() cluster.Status    { return f.status }
func (f *fakeNode) Stats() cluster.Stats      { return f.stats }
func (f *fakeNode) Nodes() []cluster.NodeInfo { return f.nodes }
func (f *fakeNode) String() string            { return fmt.Sprintf("node %d %+v", f.id, f.status) }
func joined(n int) cluster.Status {
	return cluster.Status{Connected: true, Ready: true, Servers: n, Nodes: n, Leader: 1}
}
func fakeCluster(st cluster.Status) *fakeNode { return &fakeNode{id: 2, status: st} }

func TestJudgeHealth(t *testing.T) {
	serving := admin.Overview{Players: 5, Rooms: 2}
	draining := admin.Overview{Players: 5, Draining: true, DrainDeadline: time.Unix(1e9, 0)}
	errNotServing := errors.New("relay: not serving")
	for _, tc := range []struct {
		name     string
		ov       admin.Overview
		err      error
		stopping bool
		rejoin   bool
		node     *fakeNode
		code     int
		reason   string
	}{
		{"a lone relay serving", serving, nil, false, false, nil, 200, ""},
		{"a node joined", serving, nil, false, false, fakeCluster(joined(3)), 200, ""},
		{"draining", draining, nil, false, false, nil, 503, "draining"},
		{"draining in a cluster", draining, nil, false, false, fakeCluster(joined(3)), 503, "draining"},
		{"not serving yet", admin.Overview{}, errNotServing, false, false, nil, 503, "not serving: relay: not serving"},
		{"a stuck tick", admin.Overview{}, context.DeadlineExceeded, false, false, nil, 503, "tick did not answer"},
		{"shutting down", serving, nil, true, false, nil, 503, "shutting down"},
		{"NATS unreachable", serving, nil, false, false, fakeCluster(cluster.Status{LastError: "connection refused"}), 503,
			"cluster: NATS unreachable (last error: connection refused)"},
		{"connected, not joined", serving, nil, false, false, fakeCluster(cluster.Status{Connected: true, Servers: 1}), 503, "cluster: not joined yet"},
		{"joining again after a lapse", serving, nil, false, true, fakeCluster(cluster.Status{Connected: true, Servers: 2}), 200, "cluster: joining again"},
		{"NATS lost a moment ago", serving, nil, false, true, fakeCluster(cluster.Status{}), 200, "cluster: NATS unreachable"},
		{"draining while re-joining", draining, nil, false, true, fakeCluster(cluster.Status{Connected: true}), 503, "draining"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var node clusterView
			if tc.node != nil {
				node = tc.node
			}
			code, rep := judgeHealth(tc.ov, tc.err, tc.stopping, tc.rejoin, node)
			if code != tc.code || !strings.Contains(rep.Reason, tc.reason) || (tc.reason == "") != (rep.Reason == "") {
				t.Fatalf("%d %q, want %d %q", code, rep.Reason, tc.code, tc.reason)
			}
			want := map[int]string{200: "ok", 503: "unavailable"}[code]
			if tc.rejoin && code == 200 {
				want = "degraded"
			}
			if rep.Status != want {
				t.Fatalf("status %q with %d", rep.Status, code)
			}
			if (rep.Cluster != nil) != (tc.node != nil) {
				t.Fatalf("cluster section %+v for node %v", rep.Cluster, tc.node)
			}
			if tc.ov.Draining && (!rep.Draining || !rep.DrainDeadline.Equal(tc.ov.DrainDeadline)) {
				t.Fatalf("drain not reported: %+v", rep)
			}
		})
	}
}

// Concurrent probes share one call into the relay; a shutdown is reported
// at once, whatever was answered before.
func TestHealthCheckerSharesAnswers(t *testing.T) {
	f := &fakeRelay{ov: admin.Overview{Players: 1}}
	node := &fakeNode{id: 4, status: joined(2), nodes: []cluster.NodeInfo{
		{ID: 3, PublicKCP: "203.0.113.3:7777", Players: 9, Rooms: 2}, {ID: 4, PublicKCP: "203.0.113.4:7777", PublicWS: "wss://r4/"}}}
	h := &healthChecker{relay: f, node: node}
	ts := httptest.NewServer(h)
	defer ts.Close()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if code, _ := get(t, ts.URL); code != 200 {
				t.Errorf("code %d", code)
			}
		})
	}
	wg.Wait()
	if n := f.calls.Load(); n < 1 || n > 2 { // two if the probes straddled the reuse window
		t.Fatalf("8 concurrent probes made %d calls", n)
	}
	code, body := get(t, ts.URL)
	var rep healthReport
	if err := json.Unmarshal([]byte(body), &rep); err != nil || code != 200 {
		t.Fatalf("%d %v %s", code, err, body)
	}
	if c := rep.Cluster; c == nil || c.Node != 4 || c.Nodes != 2 || len(c.Members) != 2 || c.Members[0].Players != 9 || c.Members[1].WS != "wss://r4/" {
		t.Fatalf("cluster section: %s", body)
	}
	h.stop()
	if code, body := get(t, ts.URL); code != 503 || !strings.Contains(body, "shutting down") {
		t.Fatalf("after stop: %d %s", code, body)
	}
}

// A tick that does not answer makes /healthz fail within its timeout.
func TestHealthzBoundsAStuckTick(t *testing.T) {
	h := &healthChecker{relay: &fakeRelay{err: context.DeadlineExceeded}, timeout: 50 * time.Millisecond}
	ts := httptest.NewServer(h)
	defer ts.Close()
	start := time.Now()
	code, body := get(t, ts.URL)
	if code != 503 || !strings.Contains(body, "did not answer") || time.Since(start) > 5*time.Second {
		t.Fatalf("%d %s after %v", code, body, time.Since(start))
	}
}

// healthz fetches and decodes /healthz.
func healthz(t *testing.T, metricsAddr string) (int, healthReport) {
	t.Helper()
	code, body := get(t, "http://"+metricsAddr+"/healthz")
	var rep healthReport
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatalf("/healthz %d: %v: %s", code, err, body)
	}
	return code, rep
}

// waitHealth polls /healthz until it answers code, or fails the test.
func waitHealth(t *testing.T, metricsAddr string, code int, within time.Duration) healthReport {
	t.Helper()
	var rep healthReport
	var got int
	for deadline := time.Now().Add(within); ; time.Sleep(20 * time.Millisecond) { // polling an endpoint, bounded
		if got, rep = healthz(t, metricsAddr); got == code {
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz at %s: %d %+v, want %d within %v", metricsAddr, got, rep, code, within)
		}
	}
}

// stopRun cancels a run and waits for it to return nil.
func stopRun(t *testing.T, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not stop")
	}
}

// A lone relay is healthy while it serves, and not once an operator
// drains it: a load balancer stops sending players there.
func TestHealthzServesThenDrains(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("tok-tok-tok"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-ws-addr", "off", "-metrics-addr", "127.0.0.1:0",
			"-admin-addr", "127.0.0.1:0", "-admin-token-file", tokenFile}, env(nil), out, &bytes.Buffer{})
	}()
	addrs := listening(t, out, "kcp", "metrics", "admin")
	rep := waitHealth(t, addrs["metrics"], 200, 10*time.Second)
	if rep.Status != "ok" || rep.Cluster != nil || rep.Draining {
		t.Fatalf("serving: %+v", rep)
	}
	req, _ := http.NewRequest("POST", "http://"+addrs["admin"]+"/api/v1/drain", strings.NewReader(`{"after": "10m"}`))
	req.Header.Set("Authorization", "Bearer tok-tok-tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("drain: %d", resp.StatusCode)
	}
	rep = waitHealth(t, addrs["metrics"], 503, 5*time.Second)
	if rep.Status != "unavailable" || !rep.Draining || !strings.Contains(rep.Reason, "draining") {
		t.Fatalf("draining: %+v", rep)
	}
	stopRun(t, cancel, done)
}

// A node whose NATS is unreachable serves its own players but reports 503
// (and its metrics say why); it still stops promptly.
func TestHealthzWhenNATSIsUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0", "-shutdown-timeout", "2s",
			"-node-id", "1", "-cluster-nats", "nats://" + closed, "-cluster-secret", "0123456789abcdef"}, env(nil), out, &bytes.Buffer{})
	}()
	addrs := listening(t, out, "kcp", "ws", "metrics")
	code, rep := healthz(t, addrs["metrics"])
	if code != 503 || rep.Status != "unavailable" || !strings.Contains(rep.Reason, "NATS unreachable") {
		t.Fatalf("/healthz %d %+v", code, rep)
	}
	c := rep.Cluster
	if c == nil || c.Node != 1 || c.Connected || c.Ready {
		t.Fatalf("cluster section %+v", c)
	}
	if !strings.Contains(out.String(), `"public_kcp":"`+addrs["kcp"]+`"`) || !strings.Contains(out.String(), `"public_ws":"ws://`+addrs["ws"]+`/"`) {
		t.Fatalf("public addresses not the bound ones (%v):\n%s", addrs, out.String())
	}
	_, body := get(t, "http://"+addrs["metrics"]+"/metrics")
	for _, want := range []string{"relay_cluster_connected 0\n", "relay_cluster_ready 0\n", "relay_cluster_nodes "} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, grep(body, "relay_cluster"))
		}
	}
	stopRun(t, cancel, done)
}
