package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/tickrelay/tickrelay/relay/cluster"
)

// clusterFlags are the flags that make the relay a node of a cluster
// (relay/cluster, docs/cluster.md).
type clusterFlags struct {
	nodeID       int
	publicAddr   string
	publicWS     string
	nats         string
	listen       string
	advertise    string
	routes       string
	store        string
	clientListen string
	secret       string
	secretFile   string
	name         string
	ttl          time.Duration
	replicas     int
}

// clusterFlagNames are the flags that mean nothing without -node-id.
var clusterFlagNames = []string{"public-addr", "public-ws", "cluster-nats", "cluster-listen", "cluster-advertise", "cluster-routes",
	"cluster-store", "cluster-client-listen", "cluster-secret", "cluster-secret-file", "cluster-name",
	"cluster-ttl", "cluster-replicas"}

// embeddedOnly are the flags for a NATS server embedded in the relay.
var embeddedOnly = []string{"cluster-advertise", "cluster-routes", "cluster-store", "cluster-client-listen"}

func addClusterFlags(fs *flag.FlagSet, f *clusterFlags) {
	fs.IntVar(&f.nodeID, "node-id", 0, "this relay's number in a cluster, 1-255, unique among its nodes; unset: no cluster")
	fs.StringVar(&f.publicAddr, "public-addr", "", "cluster: host:port players reach this node's KCP at (default: -addr, when it names a host)")
	fs.StringVar(&f.publicWS, "public-ws", "", "cluster: ws:// or wss:// URL players reach this node's WebSocket at (default: -public-addr's host, the WebSocket port and -ws-path; wss with -tls-cert)")
	fs.StringVar(&f.nats, "cluster-nats", "", "cluster: comma-separated URLs of an external NATS cluster (instead of -cluster-listen)")
	fs.StringVar(&f.listen, "cluster-listen", "", "cluster: host:port of the NATS server embedded in this relay, which the other nodes' servers route to")
	fs.StringVar(&f.advertise, "cluster-advertise", "", "cluster, embedded NATS: host:port the other nodes' servers reach this one's -cluster-listen at, when it binds an address they cannot use (0.0.0.0, behind NAT; default: -cluster-listen)")
	fs.StringVar(&f.routes, "cluster-routes", "", "cluster, embedded NATS: comma-separated -cluster-listen addresses of the other nodes")
	fs.StringVar(&f.store, "cluster-store", "", "cluster, embedded NATS: JetStream directory, which keeps the bans (default: $STATE_DIRECTORY/cluster-<name>-<id>, else <user cache dir>/tickrelay/cluster-<name>-<id>, else ./relay-cluster-<id>)")
	fs.StringVar(&f.clientListen, "cluster-client-listen", "127.0.0.1:0", "cluster, embedded NATS: address for NATS tools such as the nats CLI")
	fs.StringVar(&f.secret, "cluster-secret", "", "cluster: secret shared by every node, at least 16 bytes (prefer -cluster-secret-file)")
	fs.StringVar(&f.secretFile, "cluster-secret-file", "", "cluster: file holding the secret shared by every node")
	fs.StringVar(&f.name, "cluster-name", "tickrelay", "cluster: namespace of its subjects and buckets in NATS")
	fs.DurationVar(&f.ttl, "cluster-ttl", 10*time.Second, "cluster: a node that stops refreshing its records leaves the others' directory within this")
	fs.IntVar(&f.replicas, "cluster-replicas", 0, "cluster: JetStream replicas of the shared buckets (0: one per embedded server up to 3; external NATS: 1)")
}

// clusterNameRE is what relay/cluster accepts as Config.Name, checked here
// so that the error names the flag.
var clusterNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// clusterPlan is a validated cluster configuration and where its store
// directory came from (for the log).
type clusterPlan struct {
	cfg       cluster.Config
	storeFrom string
}

// clusterPlan checks the cluster flags and builds the node's configuration.
// kcpAddr and wsAddr are the addresses the player listeners are bound to
// (wsAddr "" when WebSocket is off). It returns nil, nil without -node-id.
// getenv and cacheDir are the environment and os.UserCacheDir, for the
// store's default.
func (c *config) clusterPlan(kcpAddr, wsAddr string, getenv func(string) string, cacheDir func() (string, error)) (*clusterPlan, error) {
	f := &c.cluster
	if f.nodeID == 0 {
		for _, name := range clusterFlagNames {
			if c.set[name] {
				return nil, fmt.Errorf("-%s needs -node-id: without it the relay is not in a cluster", name)
			}
		}
		return nil, nil
	}
	if f.nodeID < 1 || f.nodeID > 255 {
		return nil, fmt.Errorf("-node-id %d: use 1 to 255", f.nodeID)
	}
	cfg := cluster.Config{NodeID: uint8(f.nodeID), Name: f.name, TTL: f.ttl, Replicas: f.replicas}
	if !clusterNameRE.MatchString(f.name) {
		return nil, fmt.Errorf("-cluster-name %q: use 1 to 32 letters, digits, '-' or '_'", f.name)
	}
	if f.ttl < time.Second {
		return nil, fmt.Errorf("-cluster-ttl %v: at least 1s", f.ttl)
	}
	if f.replicas < 0 || f.replicas > 5 {
		return nil, fmt.Errorf("-cluster-replicas %d: JetStream allows 1 to 5 (0: the default)", f.replicas)
	}
	sec, err := secret(f.secret, f.secretFile, "cluster-secret")
	if err != nil {
		return nil, err
	}
	switch {
	case sec == "":
		return nil, errors.New("-node-id needs -cluster-secret-file (or -cluster-secret): a secret of at least 16 bytes, the same on every node")
	case len(sec) < 16:
		return nil, fmt.Errorf("the cluster secret is %d bytes: use at least 16 (e.g. head -c 32 /dev/urandom | base64)", len(sec))
	}
	cfg.Secret = []byte(sec)

	plan := &clusterPlan{}
	switch {
	case f.nats != "" && f.listen != "":
		return nil, errors.New("set one of -cluster-nats (an external NATS cluster) and -cluster-listen (NATS embedded in each relay), not both")
	case f.nats != "":
		for _, name := range embeddedOnly {
			if c.set[name] {
				return nil, fmt.Errorf("-%s is for NATS embedded in the relay (-cluster-listen), not for -cluster-nats", name)
			}
		}
		cfg.URLs = splitList(f.nats)
	case f.listen != "":
		e := &cluster.Embedded{ClusterListen: f.listen, ClusterAdvertise: f.advertise, ClientListen: f.clientListen}
		if err := checkHostPort(f.listen, true); err != nil {
			return nil, fmt.Errorf("-cluster-listen: %w", err)
		}
		if f.advertise != "" {
			if err := checkHostPort(f.advertise, false); err != nil {
				return nil, fmt.Errorf("-cluster-advertise: %w", err)
			}
		}
		if err := checkHostPort(f.clientListen, true); err != nil {
			return nil, fmt.Errorf("-cluster-client-listen: %w", err)
		}
		for _, r := range splitList(f.routes) {
			if err := checkHostPort(r, false); err != nil {
				return nil, fmt.Errorf("-cluster-routes %q: %w", r, err)
			}
			e.Routes = append(e.Routes, r)
		}
		e.StoreDir, plan.storeFrom = storeDir(f, getenv, cacheDir)
		cfg.Embedded = e
	default:
		return nil, errors.New("-node-id needs -cluster-listen (NATS embedded in each relay, routed to the others' with -cluster-routes) or -cluster-nats (an external NATS cluster)")
	}

	if cfg.PublicKCP, err = c.publicKCP(kcpAddr); err != nil {
		return nil, err
	}
	if cfg.PublicWS, err = c.publicWS(cfg.PublicKCP, wsAddr); err != nil {
		return nil, err
	}
	plan.cfg = cfg
	return plan, nil
}

// publicKCP is -public-addr, or -addr's host with the bound port when -addr
// names a host.
func (c *config) publicKCP(bound string) (string, error) {
	if p := c.cluster.publicAddr; p != "" {
		if err := checkHostPort(p, false); err != nil {
			return "", fmt.Errorf("-public-addr: %w", err)
		}
		return p, nil
	}
	addr := kcpListenAddr(&c.srv)
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("-addr %q: %w", addr, err)
	}
	if unspecifiedHost(host) {
		return "", fmt.Errorf("-public-addr is required: -addr %q names no host, so the other nodes could not tell players where this node is; give the host:port players reach it at, e.g. -public-addr 203.0.113.1:7777", addr)
	}
	_, port, err := net.SplitHostPort(bound)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(host, port), nil
}

// publicWS is -public-ws, or a URL made of publicKCP's host, the bound
// WebSocket port and -ws-path; "" when WebSocket is off.
func (c *config) publicWS(publicKCP, bound string) (string, error) {
	p := c.cluster.publicWS
	if bound == "" {
		if p != "" {
			return "", fmt.Errorf("-public-ws %q, but this relay serves no WebSocket (-ws-addr off)", p)
		}
		return "", nil
	}
	if p != "" {
		u, err := url.Parse(p)
		if err != nil {
			return "", fmt.Errorf("-public-ws: %w", err)
		}
		if (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return "", fmt.Errorf("-public-ws %q: want a ws:// or wss:// URL with a host", p)
		}
		return p, nil
	}
	host, _, err := net.SplitHostPort(publicKCP)
	if err != nil {
		return "", err
	}
	_, port, err := net.SplitHostPort(bound)
	if err != nil {
		return "", err
	}
	u := url.URL{Scheme: "ws", Host: net.JoinHostPort(host, port), Path: c.srv.WebSocket.Path}
	if c.srv.WebSocket.TLSCertFile != "" {
		u.Scheme = "wss"
	}
	if !strings.HasPrefix(u.Path, "/") {
		u.Path = "/" + u.Path
	}
	return u.String(), nil
}

// storeDir is -cluster-store or its default, and where that came from.
// systemd's StateDirectory= sets $STATE_DIRECTORY: the place for state
// that must survive restarts (the bans). Without it, the user's cache
// directory; without that (no $HOME), the working directory.
func storeDir(f *clusterFlags, getenv func(string) string, cacheDir func() (string, error)) (dir, from string) {
	if f.store != "" {
		return f.store, "-cluster-store"
	}
	sub := fmt.Sprintf("cluster-%s-%d", f.name, f.nodeID)
	if sd, _, _ := strings.Cut(getenv("STATE_DIRECTORY"), ":"); sd != "" {
		return filepath.Join(sd, sub), "$STATE_DIRECTORY"
	}
	if cd, err := cacheDir(); err == nil && cd != "" {
		return filepath.Join(cd, "tickrelay", sub), "user cache directory"
	}
	return fmt.Sprintf("relay-cluster-%d", f.nodeID), "working directory"
}

// checkHostPort checks a host:port; a listen address may leave the host
// out and use port 0.
func checkHostPort(addr string, listen bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || (n == 0 && !listen) {
		return fmt.Errorf("bad port %q", port)
	}
	if host == "" && !listen {
		return fmt.Errorf("%q names no host", addr)
	}
	return nil
}

// unspecifiedHost reports whether host binds every interface ("", 0.0.0.0,
// ::): an address to listen on, not one to reach.
func unspecifiedHost(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// splitList splits a comma-separated flag, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// startNode joins the cluster planned by p, logging to log. The embedded
// store directory is made first, so that a directory the relay may not
// write fails here with its name rather than inside NATS.
func startNode(ctx context.Context, p *clusterPlan, log zerolog.Logger) (*cluster.Node, error) {
	cfg := p.cfg
	cfg.Log = log.With().Str("component", "cluster").Logger() // the node adds its id
	ev := log.Info().Uint8("node", cfg.NodeID).Str("public_kcp", cfg.PublicKCP).Str("public_ws", cfg.PublicWS)
	if e := cfg.Embedded; e != nil {
		if err := os.MkdirAll(e.StoreDir, 0o700); err != nil {
			return nil, fmt.Errorf("cluster store (from %s): %w", p.storeFrom, err)
		}
		ev = ev.Str("nats", "embedded").Str("cluster_listen", e.ClusterListen).Strs("routes", e.Routes).
			Str("store", e.StoreDir).Str("store_from", p.storeFrom)
	} else {
		ev = ev.Str("nats", "external").Strs("urls", redactURLs(cfg.URLs))
	}
	node, err := cluster.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	ev.Msg("cluster node started")
	return node, nil
}

// redactURLs hides the passwords of NATS URLs for the log.
func redactURLs(urls []string) []string {
	out := make([]string, len(urls))
	for i, s := range urls {
		if u, err := url.Parse(s); err == nil && u.User != nil {
			out[i] = u.Redacted()
		} else {
			out[i] = s
		}
	}
	return out
}
