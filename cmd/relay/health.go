package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickrelay/tickrelay/relay/admin"
	"github.com/tickrelay/tickrelay/relay/cluster"
)

// overviewer is the part of relay.Server /healthz reads. Overview is
// answered by the tick, so a reply also proves the tick is running.
type overviewer interface {
	Overview(ctx context.Context) (admin.Overview, error)
}

// clusterView is the part of cluster.Node /healthz and the metrics read.
type clusterView interface {
	ID() uint8
	Status() cluster.Status
	Stats() cluster.Stats
	Nodes() []cluster.NodeInfo
}

// healthReport is /healthz's JSON body.
type healthReport struct {
	Status        string         `json:"status"`           // "ok" or "unavailable"
	Reason        string         `json:"reason,omitempty"` // why it is unavailable
	Players       int            `json:"players"`
	Rooms         int            `json:"rooms"`
	Draining      bool           `json:"draining"`
	DrainDeadline time.Time      `json:"drain_deadline,omitzero"`
	Cluster       *clusterHealth `json:"cluster,omitempty"` // only in a cluster
}

// clusterHealth is the node's part of a healthReport (cluster.Status).
type clusterHealth struct {
	Node           uint8          `json:"node"`
	Connected      bool           `json:"connected"` // the NATS connection is up
	Ready          bool           `json:"ready"`     // joined: the shared directory is read and watched
	Servers        int            `json:"servers"`   // NATS servers known
	Nodes          int            `json:"nodes"`     // live nodes, this one included
	Leader         uint8          `json:"leader"`    // the matchmaker's node, 0 for none
	DirectoryAgeMs int64          `json:"directory_age_ms"`
	Since          time.Time      `json:"since,omitzero"` // when Connected last changed
	LastError      string         `json:"last_error,omitempty"`
	Members        []memberHealth `json:"members"` // the live nodes as this one sees them
}

// memberHealth is one live node of the cluster, with its reported load.
type memberHealth struct {
	ID      uint8  `json:"id"`
	Players int    `json:"players"`
	Rooms   int    `json:"rooms"`
	KCP     string `json:"kcp"`
	WS      string `json:"ws,omitempty"`
}

// judgeHealth decides /healthz's answer from what the relay and the node
// said. stopping is set once the process began its shutdown; ovErr is
// Overview's error (the relay not serving, or its tick not answering).
// node is nil outside a cluster; rejoining says that it was joined until
// recently (within rejoinGrace): a lapse that short is degraded, not down.
func judgeHealth(ov admin.Overview, ovErr error, stopping, rejoining bool, node clusterView) (int, healthReport) {
	r := healthReport{Status: "ok", Players: ov.Players, Rooms: ov.Rooms, Draining: ov.Draining, DrainDeadline: ov.DrainDeadline}
	if node != nil {
		st := node.Status()
		ch := &clusterHealth{
			Node: node.ID(), Connected: st.Connected, Ready: st.Ready, Servers: st.Servers, Nodes: st.Nodes,
			Leader: st.Leader, DirectoryAgeMs: st.DirectoryAge.Milliseconds(), Since: st.Since, LastError: st.LastError,
			Members: []memberHealth{},
		}
		for _, n := range node.Nodes() {
			ch.Members = append(ch.Members, memberHealth{ID: n.ID, Players: n.Players, Rooms: n.Rooms, KCP: n.PublicKCP, WS: n.PublicWS})
		}
		r.Cluster = ch
	}
	// The first reason that applies, the most fundamental first.
	switch {
	case stopping:
		r.Reason = "shutting down"
	case errors.Is(ovErr, context.DeadlineExceeded):
		r.Reason = "the relay's tick did not answer in time"
	case ovErr != nil:
		r.Reason = "not serving: " + ovErr.Error()
	case ov.Draining:
		r.Reason = "draining for maintenance: no new sessions or rooms"
	case r.Cluster != nil && !r.Cluster.Connected:
		r.Reason = "cluster: NATS unreachable"
	case r.Cluster != nil && !r.Cluster.Ready:
		r.Reason = "cluster: not joined yet"
		if rejoining {
			r.Reason = "cluster: joining again"
		}
	}
	if r.Reason == "" {
		return http.StatusOK, r
	}
	if rejoining && r.Cluster != nil && (!r.Cluster.Connected || !r.Cluster.Ready) && ovErr == nil && !stopping && !ov.Draining {
		// NATS or JetStream lapsed briefly (a peer died and JetStream
		// elects new leaders; a reconnection): the relay serves its rooms
		// meanwhile, and pulling every node from a load balancer at once
		// would stop the whole game.
		r.Status = "degraded"
		return http.StatusOK, r
	}
	if r.Cluster != nil && r.Cluster.LastError != "" && !r.Cluster.Ready {
		r.Reason += fmt.Sprintf(" (last error: %s)", r.Cluster.LastError)
	}
	r.Status = "unavailable"
	return http.StatusServiceUnavailable, r
}

// rejoinGrace is how long a node that was joined may be cut off from NATS,
// or re-joining, and still answer 200 ("degraded"): a peer's death makes
// JetStream elect new stream leaders, which took up to about 10 s in our
// tests, during which the survivors cannot read or write the directory.
// Longer, it answers 503 so that a load balancer sends new players to
// nodes that see the whole lobby.
const rejoinGrace = 30 * time.Second

// healthAnswerFor is how long one answer is reused: a load balancer's
// probes, however many, cost the tick at most a few calls a second.
const healthAnswerFor = 100 * time.Millisecond

// healthChecker serves /healthz: 200 when the relay serves players and,
// in a cluster, its node is connected and joined (or was until less than
// rejoinGrace ago: "degraded"); 503 with the reason otherwise, draining and
// shutting down included, so that a load balancer stops sending players.
type healthChecker struct {
	relay   overviewer
	node    clusterView   // nil outside a cluster
	timeout time.Duration // bound on the tick's answer; 0: 1 s

	stopping atomic.Bool

	mu         sync.Mutex // held while answering: concurrent probes share one answer
	lastJoined time.Time  // when the node was last seen connected and joined
	at         time.Time
	code       int
	report     healthReport
}

// stop makes /healthz answer 503 from now on: the relay is shutting down.
func (h *healthChecker) stop() { h.stopping.Store(true) }

// check returns the current answer, or the last one if it is fresh. The
// call into the relay is bounded by the timeout, not by a probe's request:
// a probe that hung up must not leave its cancellation as the answer
// others share.
func (h *healthChecker) check() (int, healthReport) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.at.IsZero() && time.Since(h.at) < healthAnswerFor && !h.stopping.Load() {
		return h.code, h.report
	}
	timeout := h.timeout
	if timeout <= 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ov, err := h.relay.Overview(ctx)
	now := time.Now()
	rejoining := false
	if h.node != nil {
		if st := h.node.Status(); st.Connected && st.Ready {
			h.lastJoined = now
		}
		rejoining = !h.lastJoined.IsZero() && now.Sub(h.lastJoined) < rejoinGrace
	}
	h.code, h.report = judgeHealth(ov, err, h.stopping.Load(), rejoining, h.node)
	h.at = time.Now()
	return h.code, h.report
}

func (h *healthChecker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	code, rep := h.check()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(rep)
}
