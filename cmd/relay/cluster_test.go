package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// planFor parses args and plans the cluster as run would, with the
// listeners bound to kcp and ws ("" for WebSocket off).
func planFor(t *testing.T, args []string, environ map[string]string, kcp, ws string) (*clusterPlan, error) {
	t.Helper()
	c, err := parse(args, env(environ), &bytes.Buffer{})
	if err != nil {
		return nil, err
	}
	noCache := func() (string, error) { return "", errors.New("no cache directory") }
	return c.clusterPlan(kcp, ws, env(environ), noCache)
}

func writeSecret(t *testing.T, secret string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "cluster-secret")
	if err := os.WriteFile(f, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestClusterFlagsRefuseBadCombinations(t *testing.T) {
	file := writeSecret(t, "0123456789abcdef0123")
	short := writeSecret(t, "short")
	ok := []string{"-addr", "10.0.0.1:7777", "-cluster-secret-file", file}
	embedded := append([]string{"-node-id", "1", "-cluster-listen", "10.0.0.1:6222"}, ok...)
	external := append([]string{"-node-id", "1", "-cluster-nats", "nats://10.0.0.9:4222"}, ok...)
	with := func(base []string, more ...string) []string { return append(append([]string{}, base...), more...) }
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"cluster flag without a node id", []string{"-cluster-listen", "10.0.0.1:6222"}, "-cluster-listen needs -node-id"},
		{"public address without a node id", []string{"-public-addr", "203.0.113.1:7777"}, "-public-addr needs -node-id"},
		{"node id too large", with(embedded, "-node-id", "256"), "-node-id 256: use 1 to 255"},
		{"negative node id", with(embedded, "-node-id", "-3"), "use 1 to 255"},
		{"neither NATS", with(ok, "-node-id", "2"), "needs -cluster-listen"},
		{"both NATS", with(embedded, "-cluster-nats", "nats://10.0.0.9:4222"), "not both"},
		{"routes with external NATS", with(external, "-cluster-routes", "10.0.0.2:6222"), "-cluster-routes is for NATS embedded"},
		{"store with external NATS", with(external, "-cluster-store", "/tmp/x"), "-cluster-store is for NATS embedded"},
		{"no secret", []string{"-node-id", "1", "-addr", "10.0.0.1:7777", "-cluster-listen", "10.0.0.1:6222"}, "needs -cluster-secret-file"},
		{"short secret", with(embedded[:4], "-addr", "10.0.0.1:7777", "-cluster-secret-file", short), "5 bytes: use at least 16"},
		{"secret twice", with(embedded, "-cluster-secret", "0123456789abcdef0123"), "-cluster-secret and -cluster-secret-file are both set"},
		{"missing secret file", with(embedded[:4], "-addr", "10.0.0.1:7777", "-cluster-secret-file", filepath.Join(t.TempDir(), "nope")), "-cluster-secret-file"},
		{"no host to tell players", with(embedded, "-addr", ":7777"), "-public-addr is required"},
		{"unspecified host", with(embedded, "-addr", "0.0.0.0:7777"), "-public-addr is required"},
		{"public address without a port", with(embedded, "-public-addr", "203.0.113.1"), "-public-addr"},
		{"public address without a host", with(embedded, "-public-addr", ":7777"), "names no host"},
		{"public ws not a ws URL", with(embedded, "-public-ws", "http://r1.example.com/"), "want a ws:// or wss:// URL"},
		{"bad cluster listen", with(embedded, "-cluster-listen", "10.0.0.1"), "-cluster-listen"},
		{"bad route", with(embedded, "-cluster-routes", "10.0.0.2:6222,10.0.0.3"), `-cluster-routes "10.0.0.3"`},
		{"route to port 0", with(embedded, "-cluster-routes", "10.0.0.2:0"), "bad port"},
		{"advertise without a port", with(embedded, "-cluster-advertise", "203.0.113.1"), "-cluster-advertise"},
		{"advertise with external NATS", with(external, "-cluster-advertise", "203.0.113.1:6222"), "-cluster-advertise is for NATS embedded"},
		{"ttl under a second", with(embedded, "-cluster-ttl", "500ms"), "-cluster-ttl 500ms"},
		{"too many replicas", with(embedded, "-cluster-replicas", "7"), "-cluster-replicas 7"},
		{"bad cluster name", with(embedded, "-cluster-name", "my game"), `-cluster-name "my game"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := planFor(t, tc.args, nil, "10.0.0.1:7777", "10.0.0.1:7777")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v: got %v (plan %+v), want an error with %q", tc.args, err, plan, tc.want)
			}
		})
	}
	// Public WebSocket URL for a relay that serves no WebSocket.
	if _, err := planFor(t, with(embedded, "-public-ws", "wss://r1.example.com/"), nil, "10.0.0.1:7777", ""); err == nil ||
		!strings.Contains(err.Error(), "serves no WebSocket") {
		t.Fatalf("-public-ws with WebSocket off: %v", err)
	}
}

func TestClusterFlagsBuildTheNodeConfig(t *testing.T) {
	file := writeSecret(t, "0123456789abcdef0123")
	// Embedded NATS, public addresses derived from -addr and the bound ports.
	plan, err := planFor(t, []string{"-node-id", "2", "-addr", "203.0.113.2:0", "-ws-path", "/play",
		"-cluster-listen", "0.0.0.0:6222", "-cluster-advertise", "10.0.0.2:6222", "-cluster-routes", "10.0.0.1:6222, 10.0.0.3:6222",
		"-cluster-store", "/var/lib/tickrelay/nats", "-cluster-secret-file", file, "-cluster-ttl", "3s"},
		nil, "203.0.113.2:40001", "203.0.113.2:40002")
	if err != nil {
		t.Fatal(err)
	}
	cfg := plan.cfg
	if cfg.NodeID != 2 || cfg.PublicKCP != "203.0.113.2:40001" || cfg.PublicWS != "ws://203.0.113.2:40002/play" ||
		string(cfg.Secret) != "0123456789abcdef0123" || cfg.TTL.Seconds() != 3 || cfg.Name != "tickrelay" || cfg.URLs != nil {
		t.Fatalf("config %+v", cfg)
	}
	e := cfg.Embedded
	if e == nil || e.ClusterListen != "0.0.0.0:6222" || e.ClusterAdvertise != "10.0.0.2:6222" || strings.Join(e.Routes, " ") != "10.0.0.1:6222 10.0.0.3:6222" ||
		e.StoreDir != "/var/lib/tickrelay/nats" || e.ClientListen != "127.0.0.1:0" || plan.storeFrom != "-cluster-store" {
		t.Fatalf("embedded %+v from %q", e, plan.storeFrom)
	}

	// External NATS from the environment; explicit public addresses; TLS
	// does not change an explicit URL.
	plan, err = planFor(t, nil, map[string]string{
		"RELAY_NODE_ID": "7", "RELAY_ADDR": ":7777", "RELAY_PUBLIC_ADDR": "relay7.example.com:7777",
		"RELAY_PUBLIC_WS": "wss://relay7.example.com/ws", "RELAY_CLUSTER_NATS": "nats://10.0.0.9:4222,nats://10.0.0.10:4222",
		"RELAY_CLUSTER_SECRET": "0123456789abcdef", "RELAY_CLUSTER_REPLICAS": "3", "RELAY_CLUSTER_NAME": "game-a",
		"RELAY_TLS_CERT": "/etc/cert.pem",
	}, "[::]:7777", "[::]:7777")
	if err != nil {
		t.Fatal(err)
	}
	cfg = plan.cfg
	if cfg.NodeID != 7 || cfg.PublicKCP != "relay7.example.com:7777" || cfg.PublicWS != "wss://relay7.example.com/ws" ||
		len(cfg.URLs) != 2 || cfg.URLs[1] != "nats://10.0.0.10:4222" || cfg.Replicas != 3 || cfg.Name != "game-a" || cfg.Embedded != nil {
		t.Fatalf("config %+v", cfg)
	}

	// A derived WebSocket URL is wss:// with -tls-cert, and brackets an
	// IPv6 host; WebSocket off leaves it empty.
	plan, err = planFor(t, []string{"-node-id", "1", "-addr", "[2001:db8::1]:7777", "-tls-cert", "c.pem", "-tls-key", "k.pem",
		"-cluster-listen", ":6222", "-cluster-secret-file", file}, nil, "[2001:db8::1]:7777", "[2001:db8::1]:7777")
	if err != nil {
		t.Fatal(err)
	}
	if plan.cfg.PublicKCP != "[2001:db8::1]:7777" || plan.cfg.PublicWS != "wss://[2001:db8::1]:7777/" {
		t.Fatalf("kcp %q ws %q", plan.cfg.PublicKCP, plan.cfg.PublicWS)
	}
	plan, err = planFor(t, []string{"-node-id", "1", "-public-addr", "203.0.113.1:7777", "-ws-addr", "off",
		"-cluster-listen", "10.0.0.1:6222", "-cluster-secret-file", file}, nil, "0.0.0.0:7777", "")
	if err != nil || plan.cfg.PublicWS != "" || plan.cfg.PublicKCP != "203.0.113.1:7777" {
		t.Fatalf("WebSocket off: %v %+v", err, plan)
	}

	// No -node-id, no cluster flags: no cluster.
	if plan, err := planFor(t, []string{"-addr", ":7777"}, nil, "[::]:7777", "[::]:7777"); plan != nil || err != nil {
		t.Fatalf("no cluster: %+v %v", plan, err)
	}
}

func TestClusterStoreDefault(t *testing.T) {
	f := &clusterFlags{nodeID: 3, name: "tickrelay"}
	noCache := func() (string, error) { return "", errors.New("$HOME is not defined") }
	cache := func() (string, error) { return "/home/game/.cache", nil }
	for _, tc := range []struct {
		environ  map[string]string
		cache    func() (string, error)
		dir, src string
	}{
		{map[string]string{"STATE_DIRECTORY": "/var/lib/tickrelay"}, cache, "/var/lib/tickrelay/cluster-tickrelay-3", "$STATE_DIRECTORY"},
		{map[string]string{"STATE_DIRECTORY": "/var/lib/a:/var/lib/b"}, cache, "/var/lib/a/cluster-tickrelay-3", "$STATE_DIRECTORY"},
		{nil, cache, "/home/game/.cache/tickrelay/cluster-tickrelay-3", "user cache directory"},
		{nil, noCache, "relay-cluster-3", "working directory"},
	} {
		if dir, src := storeDir(f, env(tc.environ), tc.cache); dir != tc.dir || src != tc.src {
			t.Errorf("%v: %q from %q, want %q from %q", tc.environ, dir, src, tc.dir, tc.src)
		}
	}
}

// A bad combination fails the command before it serves.
func TestRunRefusesABadClusterSetup(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-ws-addr", "127.0.0.1:0", "-node-id", "1",
		"-cluster-listen", "127.0.0.1:0"}, env(nil), &out, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "-cluster-secret") {
		t.Fatalf("a node without a secret: %v", err)
	}
	err = run(context.Background(), []string{"-addr", "127.0.0.1:0", "-ws-addr", "off", "-public-ws", "ws://127.0.0.1:1/",
		"-node-id", "1", "-cluster-listen", "127.0.0.1:0", "-cluster-secret", "0123456789abcdef"}, env(nil), &out, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "serves no WebSocket") {
		t.Fatalf("a WebSocket URL without WebSocket: %v", err)
	}
	if strings.Contains(out.String(), "relay listening") {
		t.Fatalf("the relay served:\n%s", out.String())
	}
}

// The store directory is made before NATS starts, and one the relay cannot
// make is named in the error.
func TestRunNamesAnUnwritableStore(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-node-id", "1", "-cluster-listen", "127.0.0.1:0",
		"-cluster-store", filepath.Join(blocker, "nats"), "-cluster-secret", "0123456789abcdef"}, env(nil), &bytes.Buffer{}, &bytes.Buffer{})
	var pe *os.PathError
	if err == nil || !errors.As(err, &pe) || !strings.Contains(err.Error(), "cluster store") {
		t.Fatalf("an unwritable store: %v", err)
	}
}

func TestUnspecifiedHost(t *testing.T) {
	for host, want := range map[string]bool{"": true, "0.0.0.0": true, "::": true, "127.0.0.1": false, "relay.example.com": false} {
		if got := unspecifiedHost(host); got != want {
			t.Errorf("%q: %v", host, got)
		}
	}
}
