package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/internal/natstest"
	"github.com/tickrelay/tickrelay/internal/relaytest"
	"github.com/tickrelay/tickrelay/relay/client"
	"github.com/tickrelay/tickrelay/relay/cluster"
)

// relayProcess is a relay binary running as its own process.
type relayProcess struct {
	id    int
	cmd   *exec.Cmd
	out   *lockedBuffer
	addrs map[string]string
}

// A node killed with SIGKILL (no goodbye to anyone) leaves the others'
// directory within the TTL: its room's code is no longer found, the
// survivors stay healthy and elect a matchmaker leader among themselves,
// and its players, whose resume is refused on a live node, quick-match
// again there.
func TestKilledNode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the relay and runs three processes")
	}
	bin := filepath.Join(t.TempDir(), "relay")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	secretFile := writeSecret(t, hex.EncodeToString(secret))
	ports := natstest.FreePorts(t, 3)
	procs := make([]*relayProcess, 3)
	for i := range procs {
		p := &relayProcess{id: i + 1, out: &lockedBuffer{}}
		p.cmd = exec.Command(bin, nodeArgs(t, i, ports, secretFile)...)
		p.cmd.Env = append(os.Environ(), "RELAY_LOG_LEVEL=info")
		p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs[i] = p
	}
	t.Cleanup(func() {
		for _, p := range procs {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
		for _, p := range procs {
			done := make(chan struct{})
			go func() { _ = p.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				_ = p.cmd.Process.Kill()
				<-done
			}
		}
		if t.Failed() {
			for _, p := range procs {
				t.Logf("node %d's log:\n%s", p.id, grep(p.out.String(), `"level":"`))
			}
		}
	})
	for _, p := range procs {
		p.addrs = listening(t, p.out, "kcp", "ws", "metrics")
	}
	for _, p := range procs {
		waitClusterFormed(t, p.id, p.addrs["metrics"], 3)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dial := func(addr, name string) *client.Client { return dialPlayer(t, ctx, addr, name) }

	// Two players in a room; its node is the one killed.
	ana := dial(procs[0].addrs["kcp"], "ana")
	j, err := ana.CreateRoom(ctx, client.RoomOptions{Mode: "coop"})
	if err != nil {
		t.Fatal(err)
	}
	victim := procs[cluster.NodeOf(j.RoomID)-1]
	var survivors []*relayProcess
	for _, p := range procs {
		if p != victim {
			survivors = append(survivors, p)
		}
	}
	bo := dial(survivors[0].addrs["kcp"], "bo")
	relaytest.WaitFor(t, ctx, "the room listed through a survivor", func() bool { return listed(t, ctx, bo, j.RoomID, 1) })
	if _, err := bo.JoinByCode(ctx, j.Code); err != nil {
		t.Fatal(err)
	}
	if err := ana.WaitFor(ctx, func(v client.RoomView) bool { return len(v.Players) == 2 }); err != nil {
		t.Fatal(err)
	}
	watcher := dial(survivors[1].addrs["kcp"], "watcher")

	killed := time.Now()
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	relaytest.WaitFor(t, ctx, "the killed node's room gone from a survivor's listing", func() bool { return !listed(t, ctx, watcher, j.RoomID, 0) })
	t.Logf("killed node %d: its room left the survivors' listing after %v (TTL 3 s)", victim.id, time.Since(killed).Round(time.Millisecond))
	var ce *client.Error
	if _, err := watcher.JoinByCode(ctx, j.Code); !errors.As(err, &ce) || ce.Code != codec.CodeRoomNotFound {
		t.Fatalf("join by the killed node's code: %v, want room_not_found", err)
	}
	// The survivors' /healthz never turns 503: while JetStream elects new
	// leaders they answer 200 "degraded". Their states are logged as they
	// change.
	seen := map[int]string{}
	for _, p := range survivors {
		relaytest.WaitFor(t, ctx, fmt.Sprintf("node %d healthy, seeing 2 nodes and a live leader", p.id), func() bool {
			code, rep := healthz(t, p.addrs["metrics"])
			if code != 200 {
				t.Fatalf("node %d /healthz %d after a node was killed: %+v", p.id, code, rep)
			}
			c := rep.Cluster
			if st := fmt.Sprintf("%s %s nodes=%d leader=%d", rep.Status, rep.Reason, c.Nodes, c.Leader); seen[p.id] != st {
				seen[p.id] = st
				t.Logf("+%v node %d: %s", time.Since(killed).Round(time.Millisecond), p.id, st)
			}
			return rep.Status == "ok" && c.Nodes == 2 && c.Leader != 0 && c.Leader != uint8(victim.id)
		})
	}
	t.Logf("survivors healthy with 2 nodes and a leader %v after the kill", time.Since(killed).Round(time.Millisecond))

	// The killed node's players: their resume on a survivor is refused
	// cleanly, and a fresh session quick-matches there.
	for _, c := range []*client.Client{ana, bo} {
		c.Drop()
		if err := c.ReconnectTo(ctx, survivors[0].addrs["kcp"]); !errors.As(err, &ce) || ce.Code != codec.CodeResumeFailed {
			t.Fatalf("resume of a killed node's player on a survivor: %v, want resume_failed", err)
		}
	}
	again := dial(survivors[0].addrs["kcp"], "ana")
	if j2, err := again.JoinOrCreate(ctx, "coop", nil, 0); err != nil || cluster.NodeOf(j2.RoomID) == uint8(victim.id) {
		t.Fatalf("quick match after the kill: room %#x, %v", j2.RoomID, err)
	}
}
