package admin

// The Grafana dashboard in docs/ is the other half of the operator's view;
// this test keeps it in step with the metrics cmd/relay exports.

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// exportedMetrics reads cmd/relay/metrics.go and returns every metric name
// a query may use (histograms with their _bucket, _sum and _count series),
// each with the labels it carries, and the quantile label values.
func exportedMetrics(t *testing.T) (metrics map[string][]string, quantiles []string) {
	t.Helper()
	src, err := os.ReadFile("../../cmd/relay/metrics.go")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	if !strings.Contains(text, `prometheus.NewDesc("relay_"+name`) {
		t.Fatal(`metrics.go no longer names its metrics "relay_"+name: update this test`)
	}
	metrics = map[string][]string{}
	fields := map[string]string{}
	desc := regexp.MustCompile(`(\w+):\s*d\("([a-z0-9_]+)",\s*"(?:[^"\\]|\\.)*"((?:,\s*"\w+")*)\)`)
	for _, m := range desc.FindAllStringSubmatch(text, -1) {
		name := "relay_" + m[2]
		fields[m[1]] = name
		var labels []string
		for _, l := range regexp.MustCompile(`"(\w+)"`).FindAllStringSubmatch(m[3], -1) {
			labels = append(labels, l[1])
		}
		metrics[name] = labels
	}
	if len(metrics) < 20 {
		t.Fatalf("found only %d metric definitions in metrics.go: update this test's pattern", len(metrics))
	}
	for _, m := range regexp.MustCompile(`histogram\(ch, c\.(\w+)`).FindAllStringSubmatch(text, -1) {
		name, ok := fields[m[1]]
		if !ok {
			t.Fatalf("histogram of unknown field %s", m[1])
		}
		delete(metrics, name)
		metrics[name+"_bucket"] = []string{"le"}
		metrics[name+"_sum"] = nil
		metrics[name+"_count"] = nil
	}
	for _, m := range regexp.MustCompile(`\{"([0-9.]+)",\s*s\.Tick`).FindAllStringSubmatch(text, -1) {
		quantiles = append(quantiles, m[1])
	}
	// The standard collectors metrics.go registers, and the series of theirs
	// the dashboard may use.
	if strings.Contains(text, "collectors.NewGoCollector(") {
		metrics["go_goroutines"] = nil
	}
	if strings.Contains(text, "collectors.NewProcessCollector(") {
		metrics["process_resident_memory_bytes"] = nil
		metrics["process_cpu_seconds_total"] = nil
	}
	return metrics, quantiles
}

var (
	promString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promRange    = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	promIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
	promQuantile = regexp.MustCompile(`quantile=~?"([^"]*)"`)
	promKeywords = []string{"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}
)

// checkExpr reports the metric names expr uses that are not exported, and
// the grouping labels no metric of it has.
func checkExpr(t reporter, where, expr string, metrics map[string][]string, quantiles []string) {
	t.Helper()
	for _, m := range promQuantile.FindAllStringSubmatch(expr, -1) {
		for _, q := range strings.Split(m[1], "|") {
			if !slices.Contains(quantiles, q) {
				t.Errorf("%s: quantile %q is not exported (exported: %v)", where, q, quantiles)
			}
		}
	}
	bare := promRange.ReplaceAllString(promMatchers.ReplaceAllString(promString.ReplaceAllString(expr, `""`), ""), "")
	var groupLabels []string
	for _, m := range promGrouping.FindAllStringSubmatch(bare, -1) {
		for _, l := range strings.Split(m[1], ",") {
			groupLabels = append(groupLabels, strings.TrimSpace(l))
		}
	}
	bare = promGrouping.ReplaceAllString(bare, "")
	used := map[string]bool{}
	for _, m := range promIdent.FindAllStringSubmatch(bare, -1) {
		name := strings.TrimRight(strings.TrimSuffix(strings.TrimSpace(m[0]), "("), " ")
		if m[1] != "" || slices.Contains(promKeywords, name) {
			continue // a function call or a keyword
		}
		if _, ok := metrics[name]; !ok {
			t.Errorf("%s: %q is not a metric cmd/relay/metrics.go exports (expr %s)", where, name, expr)
			continue
		}
		used[name] = true
	}
	if len(used) == 0 {
		t.Errorf("%s: no metric in expr %s", where, expr)
	}
	for _, l := range groupLabels {
		ok := l == "instance" || l == "job"
		for name := range used {
			ok = ok || slices.Contains(metrics[name], l)
		}
		if !ok {
			t.Errorf("%s: grouping by %q, a label none of its metrics has (expr %s)", where, l, expr)
		}
	}
}

// reporter is the part of testing.T checkExpr uses, so that a test can
// check the checker.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// recorder is a reporter that remembers failures.
type recorder struct{ failures []string }

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

type grafanaPanel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource map[string]any `json:"datasource"`
	GridPos    struct{ H, W, X, Y int }
	Targets    []struct {
		Expr       string         `json:"expr"`
		Datasource map[string]any `json:"datasource"`
	} `json:"targets"`
}

func TestGrafanaDashboardUsesExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title         string         `json:"title"`
		SchemaVersion int            `json:"schemaVersion"`
		Panels        []grafanaPanel `json:"panels"`
		Templating    struct {
			List []struct {
				Name, Type, Definition string
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("docs/grafana-dashboard.json is not valid JSON: %v", err)
	}
	if dash.Title == "" || dash.SchemaVersion == 0 {
		t.Errorf("title %q, schemaVersion %d", dash.Title, dash.SchemaVersion)
	}
	metrics, quantiles := exportedMetrics(t)

	hasDatasourceVar := false
	labelValues := regexp.MustCompile(`^label_values\((\w+),\s*(\w+)\)$`)
	for _, v := range dash.Templating.List {
		hasDatasourceVar = hasDatasourceVar || (v.Type == "datasource" && v.Name == "datasource")
		if v.Type == "query" {
			m := labelValues.FindStringSubmatch(v.Definition)
			if m == nil {
				t.Errorf("variable %s: query %q", v.Name, v.Definition)
			} else if _, ok := metrics[m[1]]; !ok {
				t.Errorf("variable %s: %q is not an exported metric", v.Name, m[1])
			}
		}
	}
	if !hasDatasourceVar {
		t.Error("no datasource variable named datasource")
	}

	ids := map[int]bool{}
	var titles []string
	exprs := 0
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W <= 0 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H <= 0 {
			t.Errorf("panel %q: gridPos %+v outside the 24 columns", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		titles = append(titles, p.Title)
		if p.Datasource["uid"] != "${datasource}" {
			t.Errorf("panel %q: datasource %v, want the ${datasource} variable", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Datasource["uid"] != "${datasource}" {
				t.Errorf("panel %q: a query's datasource %v", p.Title, tg.Datasource)
			}
			checkExpr(t, "panel "+p.Title, tg.Expr, metrics, quantiles)
			exprs++
		}
	}
	for _, want := range []string{"CCU", "Rooms", "Tick work", "Tick start lateness", "Bytes out",
		"Sessions closed by reason", "Datagrams dropped by reason"} {
		if !slices.Contains(titles, want) {
			t.Errorf("no panel titled %q (panels: %q)", want, titles)
		}
	}
	t.Logf("%d panels, %d queries checked against %d exported series", len(titles), exprs, len(metrics))
}

// The checker itself must catch what it is for.
func TestGrafanaCheckerCatchesUnknownNames(t *testing.T) {
	metrics := map[string][]string{"relay_players": nil, "relay_sessions_closed_total": {"reason"}}
	for _, expr := range []string{
		`sum(relay_player{instance=~"$instance"})`,
		`sum by (cause) (rate(relay_sessions_closed_total[5m]))`,
		`relay_tick_work_seconds{quantile="0.95"}`,
		`rate(relay_sessions_closed_total[1m]) / relay_rooms`,
	} {
		var r recorder
		checkExpr(&r, "test", expr, metrics, []string{"0.5", "0.99"})
		if len(r.failures) == 0 {
			t.Errorf("checker passed %s", expr)
		}
	}
	var r recorder
	checkExpr(&r, "test", `sum by (reason) (rate(relay_sessions_closed_total{instance=~"a|b"}[$__rate_interval])) + sum(relay_players)`, metrics, nil)
	if len(r.failures) > 0 {
		t.Errorf("checker refused a valid expression: %q", r.failures)
	}
}
