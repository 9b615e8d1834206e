package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/tick"
)

// statsCollector turns one relay.Stats snapshot into metrics at scrape time.
// Reading Stats on demand (rather than mirroring every counter into
// prometheus types as it changes) keeps the tick free of metrics work: the
// relay already counts with atomics, and a scrape costs one snapshot.
type statsCollector struct {
	stats func() relay.Stats

	ticks, overruns, skipped             *prometheus.Desc
	work, late, workMax, lateMax         *prometheus.Desc
	players, rooms                       *prometheus.Desc
	framesSent, framesBehind, bytesOut   *prometheus.Desc
	messagesIn, eventsRelayed, chatRelay *prometheus.Desc
	closes                               *prometheus.Desc
	dgramsIn, dgramsDropped, dgramsOut   *prometheus.Desc
	sendRefused, kcpOut, kcpResent       *prometheus.Desc
	workHist, lateHist                   *prometheus.Desc
	connections, bytesIn                 *prometheus.Desc
	wsRefused, wsClosedBad               *prometheus.Desc
	hookEvents, hookDropped, hookQueued  *prometheus.Desc
	peerPackets, tickets, matches        *prometheus.Desc
	parties, channels                    *prometheus.Desc
}

func newStatsCollector(stats func() relay.Stats) *statsCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("relay_"+name, help, labels, nil)
	}
	return &statsCollector{
		stats:    stats,
		ticks:    d("ticks_total", "Ticks whose work ran."),
		overruns: d("tick_overruns_total", "Ticks whose work ended after the next tick was due."),
		skipped:  d("ticks_skipped_total", "Tick numbers never run because a later one was due."),
		// Gauges, not a summary: the relay keeps percentiles over a sliding
		// window of recent ticks and no running sum, and a summary without
		// a true _sum would mislead rate() queries.
		work:          d("tick_work_seconds", "Tick work duration percentile over the last 4096 ticks.", "quantile"),
		late:          d("tick_lateness_seconds", "Tick start lateness percentile over the last 4096 ticks.", "quantile"),
		workMax:       d("tick_work_max_seconds", "Longest tick work since the server started."),
		lateMax:       d("tick_lateness_max_seconds", "Latest tick start since the server started."),
		players:       d("players", "Connected sessions, including those still in the handshake."),
		rooms:         d("rooms", "Rooms on the server."),
		framesSent:    d("frames_sent_total", "Per-tick frames sent to clients."),
		framesBehind:  d("frames_held_back_total", "Frames not sent because the client's KCP send window was full."),
		bytesOut:      d("bytes_out_total", "Frame and reply bytes handed to KCP, before KCP and UDP headers."),
		messagesIn:    d("messages_in_total", "Client messages received."),
		eventsRelayed: d("events_relayed_total", "Event deliveries, one per recipient."),
		chatRelay:     d("chat_relayed_total", "Chat deliveries, one per recipient."),
		closes:        d("sessions_closed_total", "Sessions closed by the server, by reason.", "reason"),
		dgramsIn:      d("datagrams_in_total", "Datagrams the filter in front of KCP let through."),
		dgramsDropped: d("datagrams_dropped_total", "Datagrams the filter in front of KCP dropped, by reason.", "reason"),
		dgramsOut:     d("datagrams_out_total", "Datagrams sent."),
		sendRefused:   d("datagrams_send_refused_total", "Datagrams the socket refused (its buffer full) and that were dropped."),
		kcpOut:        d("kcp_segments_out_total", "KCP segments sent, resends included (per process)."),
		kcpResent:     d("kcp_segments_resent_total", "KCP segments resent, by cause (per process).", "cause"),
		workHist:      d("tick_work_duration_seconds", "Tick work duration, every tick since the server started."),
		connections:   d("connections", "Open connections, by transport.", "transport"),
		bytesIn:       d("bytes_in_total", "Client message bytes received, framing included."),
		wsRefused:     d("websocket_refused_total", "WebSocket connections refused at admission, by reason.", "reason"),
		wsClosedBad:   d("websocket_hostile_closed_total", "WebSocket connections closed for a text message or one over the size limit.", "reason"),
		hookEvents:    d("webhook_events_total", "Webhook events, by outcome: enqueued, delivered.", "outcome"),
		hookDropped:   d("webhook_dropped_total", "Webhook events dropped, by reason.", "reason"),
		hookQueued:    d("webhook_queued", "Webhook events waiting, in backoff or in flight."),
		peerPackets:   d("peer_packets_total", "Godot multiplayer packets between members, by outcome: relayed (per recipient), replaced, dropped.", "outcome"),
		tickets:       d("matchmaker_tickets", "Tickets waiting in the matchmaker's queue."),
		matches:       d("matchmaker_events_total", "Matchmaker outcomes: matched (rooms made), timeout (tickets).", "outcome"),
		parties:       d("parties", "Parties."),
		channels:      d("lobby_channels", "Lobby chat channels with members."),
		lateHist:      d("tick_lateness_duration_seconds", "Tick start lateness, every tick since the server started."),
	}
}

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.ticks, c.overruns, c.skipped, c.work, c.late, c.workMax, c.lateMax,
		c.players, c.rooms, c.framesSent, c.framesBehind, c.bytesOut, c.messagesIn, c.eventsRelayed,
		c.chatRelay, c.closes, c.dgramsIn, c.dgramsDropped, c.dgramsOut, c.sendRefused, c.kcpOut, c.kcpResent, c.workHist, c.lateHist,
		c.connections, c.bytesIn, c.wsRefused, c.wsClosedBad, c.hookEvents, c.hookDropped, c.hookQueued,
		c.peerPackets, c.tickets, c.matches, c.parties, c.channels} {
		ch <- d
	}
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter(c.ticks, s.Tick.Ticks)
	counter(c.overruns, s.Tick.Overruns)
	counter(c.skipped, s.Tick.Skipped)
	for _, q := range []struct {
		label     string
		work, lat time.Duration
	}{
		{"0.5", s.Tick.Work.P50, s.Tick.Late.P50},
		{"0.9", s.Tick.Work.P90, s.Tick.Late.P90},
		{"0.99", s.Tick.Work.P99, s.Tick.Late.P99},
		{"1", s.Tick.Work.Max, s.Tick.Late.Max},
	} {
		gauge(c.work, q.work.Seconds(), q.label)
		gauge(c.late, q.lat.Seconds(), q.label)
	}
	gauge(c.workMax, s.Tick.Work.AllTimeMax.Seconds())
	gauge(c.lateMax, s.Tick.Late.AllTimeMax.Seconds())
	gauge(c.players, float64(s.Players))
	gauge(c.rooms, float64(s.Rooms))
	counter(c.framesSent, s.FramesSent)
	counter(c.framesBehind, s.FramesBehind)
	counter(c.bytesOut, s.BytesOut)
	counter(c.messagesIn, s.MessagesIn)
	counter(c.eventsRelayed, s.EventsRelayed)
	counter(c.chatRelay, s.ChatRelayed)
	for reason, n := range s.Closes {
		counter(c.closes, n, reason)
	}
	counter(c.dgramsIn, s.Filter.Passed)
	for reason, n := range s.Filter.Drops {
		counter(c.dgramsDropped, n, reason)
	}
	counter(c.dgramsOut, s.Filter.Sent)
	counter(c.sendRefused, s.Filter.SendRefused)
	counter(c.kcpOut, s.KCP.OutSegs)
	counter(c.kcpResent, s.KCP.FastRetransSegs, "fast")
	counter(c.kcpResent, s.KCP.EarlyRetransSegs, "early")
	counter(c.kcpResent, s.KCP.LostSegs, "timeout")
	for transport, n := range s.Transports {
		gauge(c.connections, float64(n), transport)
	}
	counter(c.bytesIn, s.BytesIn)
	for reason, n := range s.WebSocket.Refused {
		counter(c.wsRefused, n, reason)
	}
	counter(c.wsClosedBad, s.WebSocket.TextMessages, "text_message")
	counter(c.wsClosedBad, s.WebSocket.TooLarge, "too_large")
	counter(c.hookEvents, s.Webhooks.Enqueued, "enqueued")
	counter(c.hookEvents, s.Webhooks.Delivered, "delivered")
	for reason, n := range s.Webhooks.Drops {
		counter(c.hookDropped, n, reason)
	}
	gauge(c.hookQueued, float64(s.Webhooks.Queued))
	counter(c.peerPackets, s.Peer.Relayed, "relayed")
	counter(c.peerPackets, s.Peer.Replaced, "replaced")
	counter(c.peerPackets, s.Peer.Dropped, "dropped")
	gauge(c.tickets, float64(s.Meeting.Tickets))
	counter(c.matches, s.Meeting.MatchesFormed, "matched")
	counter(c.matches, s.Meeting.TicketsTimeout, "timeout")
	gauge(c.parties, float64(s.Meeting.Parties))
	gauge(c.channels, float64(s.Meeting.Channels))
	histogram(ch, c.workHist, &s.Tick.WorkHist)
	histogram(ch, c.lateHist, &s.Tick.LateHist)
}

// clusterCollector exports a cluster node's Status and Stats at scrape
// time, as statsCollector does the relay's. It is registered only for a
// relay in a cluster.
type clusterCollector struct {
	node clusterView

	connected, ready, servers, nodes, leader, dirAge *prometheus.Desc
	sent, received, drops                            *prometheus.Desc
	writes, deletes, writeErrors, watchRestarts      *prometheus.Desc
}

func newClusterCollector(node clusterView) *clusterCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("relay_"+name, help, labels, nil)
	}
	return &clusterCollector{
		node:          node,
		connected:     d("cluster_connected", "1 while the node's NATS connection is up."),
		ready:         d("cluster_ready", "1 while the node is joined: the shared directory read and watched."),
		servers:       d("cluster_nats_servers", "NATS servers the node knows (embedded: its own and those routed to it)."),
		nodes:         d("cluster_nodes", "Live nodes of the cluster as this node sees them, itself included."),
		leader:        d("cluster_leader", "Node id of the matchmaker's leader, 0 for none."),
		dirAge:        d("cluster_directory_age_seconds", "How long the shared directory has not been watched; 0 while it is."),
		sent:          d("cluster_messages_sent_total", "Messages sent to other nodes, by kind.", "kind"),
		received:      d("cluster_messages_received_total", "Messages received from other nodes, by kind.", "kind"),
		drops:         d("cluster_dropped_total", "Messages between nodes dropped, by reason.", "reason"),
		writes:        d("cluster_record_writes_total", "This node's writes to the shared directory."),
		deletes:       d("cluster_record_deletes_total", "This node's deletes from the shared directory."),
		writeErrors:   d("cluster_record_write_errors_total", "This node's failed directory writes and deletes."),
		watchRestarts: d("cluster_watch_restarts_total", "Restarts of the directory watch (after a reconnect, or a watch gone quiet)."),
	}
}

func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.connected, c.ready, c.servers, c.nodes, c.leader, c.dirAge,
		c.sent, c.received, c.drops, c.writes, c.deletes, c.writeErrors, c.watchRestarts} {
		ch <- d
	}
}

func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	st, s := c.node.Status(), c.node.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	gauge(c.connected, b(st.Connected))
	gauge(c.ready, b(st.Ready))
	gauge(c.servers, float64(st.Servers))
	gauge(c.nodes, float64(st.Nodes))
	gauge(c.leader, float64(st.Leader))
	gauge(c.dirAge, st.DirectoryAge.Seconds())
	for kind, n := range s.Sent {
		counter(c.sent, n, kind)
	}
	for kind, n := range s.Received {
		counter(c.received, n, kind)
	}
	for reason, n := range s.Drops {
		counter(c.drops, n, reason)
	}
	counter(c.writes, s.RecordWrites)
	counter(c.deletes, s.RecordDeletes)
	counter(c.writeErrors, s.WriteErrors)
	counter(c.watchRestarts, s.WatchRestarts)
}

// histogram exports h with every fourth of its bounds (half-octaves): its
// buckets are cumulative, so the coarser ones are exact.
func histogram(ch chan<- prometheus.Metric, d *prometheus.Desc, h *tick.Hist) {
	buckets := make(map[float64]uint64, tick.HistBuckets/4+1)
	var cum uint64
	for i, c := range h.Counts[:tick.HistBuckets-1] {
		cum += c
		if i%4 == 0 {
			buckets[tick.HistBound(i).Seconds()] = cum
		}
	}
	ch <- prometheus.MustNewConstHistogram(d, h.Total(), h.Sum.Seconds(), buckets)
}

// metricsOptions say what the metrics listener serves besides the relay's
// Stats.
type metricsOptions struct {
	// cluster, when set, adds the relay_cluster_* series of its node.
	cluster clusterView
	// health, when set, serves /healthz.
	health http.Handler
	// pprof serves the net/http/pprof handlers under /debug/pprof/.
	pprof bool
}

// metricsHandler serves /metrics (Prometheus text format), /stats (the same
// snapshot as JSON, durations in nanoseconds, decodable into relay.Stats),
// /healthz when opt.health is set and, when opt.pprof is set, the
// net/http/pprof handlers under /debug/pprof/. pprof is opt-in because a
// profile endpoint lets whoever reaches the port stall the process for the
// profile's duration.
func metricsHandler(stats func() relay.Stats, opt metricsOptions) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newStatsCollector(stats),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if opt.cluster != nil {
		reg.MustRegister(newClusterCollector(opt.cluster))
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(stats())
	})
	if opt.health != nil {
		mux.Handle("GET /healthz", opt.health)
	}
	if opt.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// metricsServer is the HTTP listener for metricsHandler.
type metricsServer struct {
	http *http.Server
	ln   net.Listener
	done chan error
}

// startMetrics listens on addr before returning, so a bad address fails the
// command at start-up rather than in a log line later, and so a caller that
// asked for port 0 can read the port from Addr.
func startMetrics(addr string, stats func() relay.Stats, opt metricsOptions) (*metricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	m := &metricsServer{
		http: &http.Server{
			Handler:           metricsHandler(stats, opt),
			ReadHeaderTimeout: 5 * time.Second,
		},
		ln:   ln,
		done: make(chan error, 1),
	}
	go func() { m.done <- m.http.Serve(ln) }()
	return m, nil
}

// Addr is the address the listener is bound to.
func (m *metricsServer) Addr() string { return m.ln.Addr().String() }

// Shutdown stops accepting scrapes, waits for those in flight (or ctx), and
// waits for the serving goroutine to return.
func (m *metricsServer) Shutdown(ctx context.Context) error {
	err := m.http.Shutdown(ctx)
	if err != nil {
		m.http.Close() // a scrape or profile outlived ctx: cut it
	}
	if serr := <-m.done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
