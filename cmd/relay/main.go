// Command relay runs the relay server. Every flag has an environment
// variable equivalent: -tick-rate is RELAY_TICK_RATE, and so on; a flag on
// the command line wins over the environment.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/match"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := run
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "token" {
		cmd = func(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
			return tokenCmd(args, getenv, stdout, stderr)
		}
		args = args[1:]
	}
	if err := cmd(ctx, args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "relay:", err)
		os.Exit(1)
	}
}

// config is what the command line and environment set.
type config struct {
	srv          relay.Server
	logLevel     string
	logFormat    string
	shutdownWait time.Duration
	authSecret   string
	metricsAddr  string
	pprof        bool
	origins      string
	proxies      string
	adminAddr    string
	adminToken   string
	adminFile    string
	hookURL      string
	hookSecret   string
	hookFile     string
	mmConfig     string
	cluster      clusterFlags
	// set names the flags given on the command line or by the environment.
	set map[string]bool
}

func newFlagSet(c *config, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	s := &c.srv
	fs.StringVar(&s.Addr, "addr", ":7777", "UDP address for KCP players")
	fs.StringVar(&s.WebSocketAddr, "ws-addr", "", `TCP address for WebSocket players (web exports); empty: the port of -addr; "off": none`)
	fs.StringVar(&s.WebSocket.Path, "ws-path", "/", "URL path of the WebSocket endpoint")
	fs.StringVar(&s.WebSocket.TLSCertFile, "tls-cert", "", "certificate file (PEM) to serve wss:// directly; re-read when it changes")
	fs.StringVar(&s.WebSocket.TLSKeyFile, "tls-key", "", "key file (PEM) for -tls-cert")
	fs.StringVar(&c.origins, "allowed-origins", "", "comma-separated page origins allowed to connect over WebSocket (e.g. *.itch.zone); empty: any")
	fs.StringVar(&c.proxies, "trusted-proxies", "", "comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For names the client")
	fs.IntVar(&s.TickRate, "tick-rate", 30, "ticks (frames) per second, 1-128")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.logFormat, "log-format", "json", "log format: json, or console for humans")
	fs.IntVar(&s.MaxPlayersPerRoom, "max-players-per-room", 16, "largest room size a client may ask for")
	fs.IntVar(&s.MaxRooms, "max-rooms", 10000, "rooms on the server at most")
	fs.IntVar(&s.MaxSessions, "max-sessions", 10000, "connected sessions at most")
	fs.IntVar(&s.MaxSessionsPerIP, "max-sessions-per-ip", 32, "sessions from one source IP at most (IPv6: one /64)")
	fs.IntVar(&s.MaxHandshakesPerIP, "max-handshakes-per-ip", 4, "sessions from one source IP admitted but not yet past their hello")
	fs.Float64Var(&s.NewSessionRate, "new-session-rate", 200, "new sessions admitted per second from unknown addresses")
	fs.IntVar(&s.Limits.State, "max-state-bytes", codec.DefaultLimits.State, "largest player state value, encoded bytes")
	fs.IntVar(&s.Limits.Payload, "max-event-bytes", codec.DefaultLimits.Payload, "largest event payload, encoded bytes")
	fs.IntVar(&s.Limits.Chat, "max-chat-bytes", codec.DefaultLimits.Chat, "longest chat line, bytes")
	fs.IntVar(&s.MaxFrameSize, "max-message-bytes", 16<<10, "largest client message; a larger one closes the session")
	fs.IntVar(&s.MaxPendingBytes, "max-pending-bytes", 256<<10, "output waiting for a slow client before it is dropped")
	fs.DurationVar(&s.SlowClientTimeout, "slow-client-timeout", 5*time.Second, "drop a client whose frames are held back this long")
	fs.DurationVar(&s.IdleTimeout, "idle-timeout", 10*time.Second, "close a session that sends nothing for this long")
	fs.DurationVar(&s.HandshakeTimeout, "handshake-timeout", 5*time.Second, "close a session that has not said hello in time")
	fs.DurationVar(&s.ResumeGrace, "resume-grace", 15*time.Second, "how long a lost player keeps its place for a resume (negative: no resume)")
	fs.DurationVar(&s.EmptyRoomGrace, "empty-room-grace", 10*time.Second, "how long an empty room is kept")
	fs.IntVar(&s.KCP.MTU, "mtu", 1200, "KCP MTU: bytes per UDP payload")
	fs.IntVar(&s.KCP.SendWindow, "send-window", 128, "KCP send window, packets")
	fs.IntVar(&s.KCP.RecvWindow, "recv-window", 128, "KCP receive window, packets")
	fs.IntVar(&s.KCP.MinRTO, "min-rto", 0, "least ms before KCP resends an unacknowledged packet (0: 30 + one tick, 63 at 30 Hz)")
	fs.IntVar(&s.KCP.MaxInFlight, "max-in-flight", 8, "unacknowledged messages before a client's frames are held back and merged (at most 64)")
	fs.StringVar(&c.authSecret, "auth-secret", "", "HMAC secret for player tokens; empty allows anonymous play")
	fs.Float64Var(&s.RateLimits.Messages, "rate-messages", 120, "messages per second per session (negative: no limit)")
	fs.Float64Var(&s.RateLimits.Bytes, "rate-bytes", 64<<10, "bytes per second per session (negative: no limit)")
	fs.Float64Var(&s.RateLimits.Chat, "rate-chat", 4, "chat lines per second per session (negative: no limit)")
	fs.DurationVar(&c.shutdownWait, "shutdown-timeout", 5*time.Second, "how long a graceful shutdown may take")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "TCP address serving /metrics (Prometheus), /stats (JSON) and /healthz; empty: off")
	fs.BoolVar(&c.pprof, "pprof", false, "also serve net/http/pprof under /debug/pprof/ on -metrics-addr")
	fs.StringVar(&c.adminAddr, "admin-addr", "", "TCP address of the operator API and dashboard; empty: off; a bare :port binds loopback only")
	fs.StringVar(&c.adminToken, "admin-token", "", "bearer token for the operator API (prefer -admin-token-file)")
	fs.StringVar(&c.adminFile, "admin-token-file", "", "file holding the operator API's bearer token")
	fs.StringVar(&c.hookURL, "webhook-url", "", "URL of the game backend that receives room and player events (POST, JSON, signed); empty: off")
	fs.StringVar(&c.hookSecret, "webhook-secret", "", "HMAC secret signing webhook requests (prefer -webhook-secret-file)")
	fs.StringVar(&c.hookFile, "webhook-secret-file", "", "file holding the webhook secret")
	fs.StringVar(&c.mmConfig, "matchmaker-config", "", "JSON file of the matchmaker's queues per mode (players, teams, skill windows, waits); empty: every mode gets free-for-all matches of 2 to 8")
	addClusterFlags(fs, &c.cluster)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: relay [flags]\n       relay token -h\n\nRuns the relay server. Each flag can also be set by an environment variable:\n"+
			"-tick-rate is RELAY_TICK_RATE and so on; the command line wins.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	return fs
}

// applyLists parses the comma-separated flags into the server's fields.
func (c *config) applyLists() error {
	for _, o := range strings.Split(c.origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.srv.WebSocket.AllowedOrigins = append(c.srv.WebSocket.AllowedOrigins, o)
		}
	}
	for _, p := range strings.Split(c.proxies, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !strings.Contains(p, "/") {
			a, err := netip.ParseAddr(p)
			if err != nil {
				return fmt.Errorf("-trusted-proxies: %v", err)
			}
			p = netip.PrefixFrom(a, a.BitLen()).String()
		}
		pre, err := netip.ParsePrefix(p)
		if err != nil {
			return fmt.Errorf("-trusted-proxies: %v", err)
		}
		c.srv.WebSocket.TrustedProxies = append(c.srv.WebSocket.TrustedProxies, pre.Masked())
	}
	return nil
}

// envName is a flag's environment variable: tick-rate -> RELAY_TICK_RATE.
func envName(flagName string) string {
	return "RELAY_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parse reads flags, then fills each flag not given on the command line
// from its environment variable.
func parse(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := newFlagSet(c, stderr)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	c.set = map[string]bool{}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if v := getenv(envName(f.Name)); v != "" && !given[f.Name] && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %v", envName(f.Name), v, e)
			}
			c.set[f.Name] = true
		}
	})
	for name := range given {
		c.set[name] = true
	}
	return c, err
}

func newLogger(level, format string, out io.Writer) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(level))
	if err != nil || level == "" {
		// ParseLevel("") yields NoLevel, which would silence everything.
		return zerolog.Logger{}, fmt.Errorf("unknown log level %q", level)
	}
	switch format {
	case "json":
	case "console":
		out = zerolog.ConsoleWriter{Out: out, TimeFormat: time.TimeOnly}
	default:
		return zerolog.Logger{}, fmt.Errorf("unknown log format %q (json or console)", format)
	}
	// Serve, run and the metrics listener log from different goroutines,
	// and an io.Writer is not promised to be safe for concurrent writes.
	return zerolog.New(zerolog.SyncWriter(out)).Level(lvl).With().Timestamp().Logger(), nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := parse(args, getenv, stderr)
	if err != nil {
		return err
	}
	log, err := newLogger(c.logLevel, c.logFormat, stdout)
	if err != nil {
		return err
	}
	srv := &c.srv
	srv.Logger = log
	if err := c.applyLists(); err != nil {
		return err
	}
	if c.mmConfig != "" {
		mc, err := match.LoadConfig(c.mmConfig)
		if err != nil {
			return err
		}
		srv.Matchmaker = &mc
	}
	if c.authSecret != "" {
		srv.AuthSecret = []byte(c.authSecret)
	}
	ls, err := listenPlayers(srv)
	if err != nil {
		return err
	}
	serving := false
	defer func() {
		if !serving {
			ls.close()
		}
	}()
	plan, err := c.clusterPlan(ls.kcpAddr(), ls.wsAddr(), getenv, os.UserCacheDir)
	if err != nil {
		return err
	}
	health := &healthChecker{relay: srv}
	mopt := metricsOptions{health: health, pprof: c.pprof}
	if plan != nil {
		node, err := startNode(ctx, plan, log)
		if err != nil {
			return err
		}
		// Deferred first, so run last: the node leaves the cluster after
		// the relay's Shutdown, which may still need it to place players.
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), c.shutdownWait)
			defer cancel()
			if err := node.Shutdown(ctx); err != nil {
				log.Warn().Err(err).Msg("cluster node shutdown: left without deleting its records (they expire within -cluster-ttl)")
			} else {
				log.Info().Msg("left the cluster")
			}
		}()
		srv.Cluster = node
		health.node, mopt.cluster = node, node
	}
	if c.metricsAddr != "" {
		m, err := startMetrics(c.metricsAddr, srv.Stats, mopt)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		log.Info().Str("addr", m.Addr()).Bool("pprof", c.pprof).Msg("metrics listening")
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), c.shutdownWait)
			defer cancel()
			if err := m.Shutdown(ctx); err != nil {
				log.Warn().Err(err).Msg("metrics shutdown")
			}
		}()
	}
	hooks, err := startWebhooks(c, log)
	if err != nil {
		return err
	}
	srv.Webhooks = hooks
	as, err := startAdmin(c, srv, log)
	if err != nil {
		if hooks != nil {
			hooks.Close()
		}
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.shutdownWait)
		defer cancel()
		stopOperator(ctx, as, hooks, log)
	}()
	serving = true
	errc := make(chan error, 1)
	go func() { errc <- servePlayers(srv, ls) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down")
	health.stop() // a load balancer stops sending players while they are told to go
	sctx, cancel := context.WithTimeout(context.Background(), c.shutdownWait)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn().Err(err).Msg("shutdown did not finish in time; closed the rest")
	}
	if err := <-errc; !errors.Is(err, relay.ErrServerClosed) {
		return err
	}
	log.Info().Msg("stopped")
	return nil
}
