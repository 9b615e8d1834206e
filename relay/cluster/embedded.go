package cluster

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"
)

// startEmbedded starts cfg.Embedded's NATS server and waits until it takes
// connections (its JetStream cluster may still be forming: the node's
// setup retries until it has formed).
func startEmbedded(ctx context.Context, cfg Config) (*server.Server, error) {
	e := cfg.Embedded
	host, port, err := splitListen(e.ClientListen)
	if err != nil {
		return nil, fmt.Errorf("cluster: Embedded.ClientListen: %w", err)
	}
	user, pass := Credentials(cfg.Secret)
	opts := &server.Options{
		ServerName:         e.ServerName,
		Host:               host,
		Port:               port,
		Username:           user,
		Password:           pass,
		JetStream:          true,
		StoreDir:           e.StoreDir,
		JetStreamMaxMemory: e.MaxMemory,
		JetStreamMaxStore:  e.MaxStore,
		NoSigs:             true, // the relay owns the process's signals
		NoLog:              true, // logs go to cfg.Log through serverLog
	}
	if e.ClusterListen != "" {
		ch, cp, err := splitListen(e.ClusterListen)
		if err != nil {
			return nil, fmt.Errorf("cluster: Embedded.ClusterListen: %w", err)
		}
		opts.Cluster = server.ClusterOpts{
			Name: cfg.Name, Host: ch, Port: cp, Advertise: e.ClusterAdvertise,
			Username: "route", Password: routePassword(cfg.Secret),
		}
		if e.ClusterAdvertise != "" {
			if _, _, err := net.SplitHostPort(e.ClusterAdvertise); err != nil {
				return nil, fmt.Errorf("cluster: Embedded.ClusterAdvertise: %w", err)
			}
		}
		for _, r := range e.Routes {
			if _, _, err := net.SplitHostPort(r); err != nil {
				return nil, fmt.Errorf("cluster: Embedded.Routes %q: %w", r, err)
			}
			opts.Routes = append(opts.Routes, &url.URL{
				Scheme: "nats-route", Host: r, User: url.UserPassword("route", routePassword(cfg.Secret)),
			})
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("cluster: embedded NATS server: %w", err)
	}
	// A peer that is down makes the server repeat its route errors every
	// second: a few per minute are enough to say so.
	slog := cfg.Log.With().Str("nats_server", e.ServerName).Logger().
		Sample(zerolog.LevelSampler{
			WarnSampler:  &zerolog.BurstSampler{Burst: 5, Period: time.Minute},
			ErrorSampler: &zerolog.BurstSampler{Burst: 5, Period: time.Minute},
		})
	s.SetLoggerV2(serverLog{slog}, false, false, false)
	go s.Start() // returns once its listeners are up; the server's goroutines end in Shutdown
	wait := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		wait = time.Until(d)
	}
	if !s.ReadyForConnections(wait) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("cluster: embedded NATS server not ready within %v (are its ports free?)", wait)
	}
	return s, nil
}

// splitListen parses host:port, port 0 meaning any free port.
func splitListen(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

// serverLog passes the embedded server's warnings and errors to zerolog;
// its notices (a banner and routine route changes) go to debug.
type serverLog struct{ l zerolog.Logger }

func (s serverLog) Noticef(format string, v ...any) { s.l.Debug().Msgf(format, v...) }
func (s serverLog) Warnf(format string, v ...any)   { s.l.Warn().Msgf(format, v...) }
func (s serverLog) Fatalf(format string, v ...any)  { s.l.Error().Msgf(format, v...) }
func (s serverLog) Errorf(format string, v ...any)  { s.l.Error().Msgf(format, v...) }
func (s serverLog) Debugf(format string, v ...any)  {}
func (s serverLog) Tracef(format string, v ...any)  {}
