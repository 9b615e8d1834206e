package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/client"
	"github.com/tickrelay/tickrelay/relay/cluster"
	"github.com/tickrelay/tickrelay/tick"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// A fixed snapshot pins every exported series to its source field, so a
// renamed or swapped field shows up here rather than on a dashboard.
func TestMetricsExposeEveryStat(t *testing.T) {
	snap := relay.Stats{
		Tick: tick.Stats{
			Ticks: 900, Overruns: 2, Skipped: 3,
			Work: tick.Summary{P50: time.Millisecond, P90: 2 * time.Millisecond, P99: 4 * time.Millisecond, Max: 5 * time.Millisecond, AllTimeMax: 9 * time.Millisecond},
			Late: tick.Summary{P50: 100 * time.Microsecond, P99: 800 * time.Microsecond, Max: time.Millisecond, AllTimeMax: 7 * time.Millisecond},
		},
		Players: 12, Rooms: 3, FramesSent: 1000, FramesBehind: 4, BytesOut: 65536, MessagesIn: 777,
		EventsRelayed: 5, ChatRelayed: 6, Closes: map[string]uint64{"idle_timeout": 2, "client_closed": 1},
		Filter: relay.FilterStats{Passed: 4000, Sent: 3000, SendRefused: 7, Drops: map[string]uint64{"junk": 9}},
		KCP:    relay.KCPStats{OutSegs: 5000, FastRetransSegs: 11, EarlyRetransSegs: 12, LostSegs: 13},
	}
	snap.Tick.WorkHist.Counts[0], snap.Tick.WorkHist.Counts[8] = 3, 2 // up to 10 µs, (18.3, 20] µs
	snap.Tick.WorkHist.Counts[tick.HistBuckets-1] = 1                 // longer than any bound
	snap.Tick.WorkHist.Sum = 2 * time.Second
	ts := httptest.NewServer(metricsHandler(func() relay.Stats { return snap }, metricsOptions{}))
	defer ts.Close()

	code, body := get(t, ts.URL+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		"relay_ticks_total 900", "relay_tick_overruns_total 2", "relay_ticks_skipped_total 3",
		`relay_tick_work_seconds{quantile="0.5"} 0.001`, `relay_tick_work_seconds{quantile="0.99"} 0.004`,
		`relay_tick_work_seconds{quantile="1"} 0.005`, "relay_tick_work_max_seconds 0.009",
		`relay_tick_lateness_seconds{quantile="0.99"} 0.0008`, "relay_tick_lateness_max_seconds 0.007",
		"relay_players 12", "relay_rooms 3", "relay_frames_sent_total 1000", "relay_frames_held_back_total 4",
		"relay_bytes_out_total 65536", "relay_messages_in_total 777", "relay_events_relayed_total 5",
		"relay_chat_relayed_total 6", `relay_sessions_closed_total{reason="idle_timeout"} 2`,
		`relay_sessions_closed_total{reason="client_closed"} 1`, "relay_datagrams_in_total 4000",
		`relay_datagrams_dropped_total{reason="junk"} 9`, "relay_datagrams_out_total 3000",
		"relay_datagrams_send_refused_total 7", "relay_kcp_segments_out_total 5000",
		`relay_kcp_segments_resent_total{cause="fast"} 11`, `relay_kcp_segments_resent_total{cause="early"} 12`,
		`relay_kcp_segments_resent_total{cause="timeout"} 13`, `relay_tick_work_duration_seconds_bucket{le="1e-05"} 3`,
		`relay_tick_work_duration_seconds_bucket{le="2e-05"} 5`, `relay_tick_work_duration_seconds_bucket{le="+Inf"} 6`,
		"relay_tick_work_duration_seconds_sum 2", "relay_tick_work_duration_seconds_count 6",
		"relay_tick_lateness_duration_seconds_count 0", "go_goroutines", "process_resident_memory_bytes",
	} {
		if !strings.Contains(body, want+"\n") && !strings.Contains(body, want+" ") {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	code, body = get(t, ts.URL+"/stats")
	var got relay.Stats
	if err := json.Unmarshal([]byte(body), &got); code != http.StatusOK || err != nil {
		t.Fatalf("/stats: %d %v", code, err)
	}
	if got.Tick.Work.P99 != snap.Tick.Work.P99 || got.Players != 12 || got.Closes["idle_timeout"] != 2 {
		t.Fatalf("/stats round trip: %+v", got)
	}
	if code, _ := get(t, ts.URL+"/debug/pprof/"); code != http.StatusNotFound {
		t.Fatalf("pprof served without -pprof: %d", code)
	}
}

// The listener reads a live server, serves pprof when asked, and stops.
func TestMetricsListenerScrapesLiveServer(t *testing.T) {
	pc, err := relay.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &relay.Server{}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(pc) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		<-done
	}()

	m, err := startMetrics("127.0.0.1:0", srv.Stats, metricsOptions{pprof: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, pc.LocalAddr().String(), client.Options{Name: "scraper"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	base := "http://" + m.Addr()
	// The welcome is sent from a tick after the session was counted, so
	// both are visible once Dial returns.
	_, body := get(t, base+"/metrics")
	if !strings.Contains(body, "relay_players 1\n") {
		t.Errorf("players not 1:\n%s", grep(body, "relay_players"))
	}
	// The tick that sent the welcome is counted once its work returns,
	// which may be just after the client read the welcome.
	var st relay.Stats
	for deadline := time.Now().Add(5 * time.Second); ; {
		_, js := get(t, base+"/stats")
		if err := json.Unmarshal([]byte(js), &st); err != nil || st.Players != 1 {
			t.Fatalf("/stats: %v %+v", err, st)
		}
		if st.Tick.Ticks > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/stats: no tick counted: %+v", st)
		}
		time.Sleep(10 * time.Millisecond) // polling a counter, bounded by the deadline
	}
	if code, body := get(t, base+"/debug/pprof/cmdline"); code != http.StatusOK || body == "" {
		t.Fatalf("pprof cmdline: %d", code)
	}

	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := m.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(base + "/metrics"); err == nil {
		t.Fatal("metrics still served after Shutdown")
	}
}

func TestMetricsFlagFromEnvironmentAndBadAddress(t *testing.T) {
	c, err := parse(nil, env(map[string]string{"RELAY_METRICS_ADDR": "127.0.0.1:9100", "RELAY_PPROF": "true"}), &bytes.Buffer{})
	if err != nil || c.metricsAddr != "127.0.0.1:9100" || !c.pprof {
		t.Fatalf("env: %v %q %v", err, c.metricsAddr, c.pprof)
	}
	err = run(context.Background(), []string{"-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:-1"}, env(nil), &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "metrics") {
		t.Fatalf("bad metrics address: %v", err)
	}
}

// grep keeps the lines of s that contain substr, for short failure output.
func grep(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// clusterSnapshot is a node whose every exported series has a distinct value.
func clusterSnapshot() *fakeNode {
	return &fakeNode{id: 2,
		status: cluster.Status{Connected: true, Ready: false, Servers: 3, Nodes: 2, Leader: 3, DirectoryAge: 1500 * time.Millisecond},
		stats: cluster.Stats{
			Sent: map[string]uint64{"dm": 4, "seat_request": 5}, Received: map[string]uint64{"channel_line": 6},
			Drops:        map[string]uint64{"inbox_full": 7, "malformed": 0},
			RecordWrites: 80, RecordDeletes: 9, WriteErrors: 10, WatchRestarts: 11,
		}}
}

func TestMetricsExposeTheClusterNode(t *testing.T) {
	stats := func() relay.Stats { return relay.Stats{} }
	ts := httptest.NewServer(metricsHandler(stats, metricsOptions{cluster: clusterSnapshot()}))
	defer ts.Close()
	_, body := get(t, ts.URL+"/metrics")
	for _, want := range []string{
		"relay_cluster_connected 1", "relay_cluster_ready 0", "relay_cluster_nats_servers 3", "relay_cluster_nodes 2",
		"relay_cluster_leader 3", "relay_cluster_directory_age_seconds 1.5",
		`relay_cluster_messages_sent_total{kind="dm"} 4`, `relay_cluster_messages_sent_total{kind="seat_request"} 5`,
		`relay_cluster_messages_received_total{kind="channel_line"} 6`, `relay_cluster_dropped_total{reason="inbox_full"} 7`,
		`relay_cluster_dropped_total{reason="malformed"} 0`, "relay_cluster_record_writes_total 80",
		"relay_cluster_record_deletes_total 9", "relay_cluster_record_write_errors_total 10", "relay_cluster_watch_restarts_total 11",
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", want, grep(body, "relay_cluster"))
		}
	}
	// Without a cluster, no cluster series and no /healthz unless asked.
	lone := httptest.NewServer(metricsHandler(stats, metricsOptions{}))
	defer lone.Close()
	if _, body := get(t, lone.URL+"/metrics"); strings.Contains(body, "relay_cluster") {
		t.Errorf("a lone relay exports cluster series:\n%s", grep(body, "relay_cluster"))
	}
	if code, _ := get(t, lone.URL+"/healthz"); code != http.StatusNotFound {
		t.Errorf("/healthz without a checker: %d", code)
	}
}

// Every cluster series appears on the Grafana dashboard (the check in
// relay/admin is the other way round: every series the dashboard uses is
// exported).
func TestDashboardShowsEveryClusterSeries(t *testing.T) {
	raw, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *prometheus.Desc, 64)
	newClusterCollector(clusterSnapshot()).Describe(ch)
	close(ch)
	name := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	n := 0
	for d := range ch {
		m := name.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("no name in %s", d)
		}
		n++
		if !strings.Contains(string(raw), m[1]) {
			t.Errorf("docs/grafana-dashboard.json does not show %s", m[1])
		}
	}
	if n < 10 {
		t.Fatalf("only %d cluster series described", n)
	}
}
