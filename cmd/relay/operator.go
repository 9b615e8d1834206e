package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/rs/zerolog"

	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/admin"
	"github.com/tickrelay/tickrelay/relay/webhook"
)

// secret returns the value of a flag pair: the value itself, or the
// trimmed content of a file (what keeps a secret out of the process list).
func secret(value, file, name string) (string, error) {
	if file == "" {
		return value, nil
	}
	if value != "" {
		return "", fmt.Errorf("-%s and -%s-file are both set", name, name)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("-%s-file: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// adminListenAddr binds a bare ":port" to loopback: the operator API is
// reachable from elsewhere only when its host is named on purpose.
func adminListenAddr(addr string) string {
	if strings.HasPrefix(addr, ":") {
		return "127.0.0.1" + addr
	}
	return addr
}

// adminRun is the operator API's listener and the goroutine serving it.
type adminRun struct {
	srv  *admin.Server
	done chan struct{}
}

// startAdmin serves the operator API and dashboard, or returns nil when it
// is off. stopOperator ends it.
func startAdmin(c *config, srv *relay.Server, log zerolog.Logger) (*adminRun, error) {
	if c.adminAddr == "" {
		return nil, nil
	}
	token, err := secret(c.adminToken, c.adminFile, "admin-token")
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, errors.New("-admin-addr needs -admin-token or -admin-token-file")
	}
	ln, err := net.Listen("tcp", adminListenAddr(c.adminAddr))
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	a := &adminRun{
		srv:  &admin.Server{Handler: &admin.Handler{Relay: srv, Token: token, Log: log.With().Str("component", "admin").Logger()}},
		done: make(chan struct{}),
	}
	go func() {
		defer close(a.done)
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("admin listener")
		}
	}()
	log.Info().Str("addr", ln.Addr().String()).Msg("admin API listening")
	return a, nil
}

// startWebhooks returns the dispatcher for -webhook-url, started, or nil.
func startWebhooks(c *config, log zerolog.Logger) (*webhook.Dispatcher, error) {
	if c.hookURL == "" {
		return nil, nil
	}
	sec, err := secret(c.hookSecret, c.hookFile, "webhook-secret")
	if err != nil {
		return nil, err
	}
	d := &webhook.Dispatcher{URL: c.hookURL, Secret: sec, Log: log.With().Str("component", "webhook").Logger()}
	if err := d.Start(); err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	log.Info().Str("url", c.hookURL).Msg("webhooks on")
	return d, nil
}

// stopOperator shuts the admin API and the webhooks down within ctx.
func stopOperator(ctx context.Context, a *adminRun, d *webhook.Dispatcher, log zerolog.Logger) {
	if a != nil {
		if err := a.srv.Shutdown(ctx); err != nil {
			log.Warn().Err(err).Msg("admin shutdown")
			a.srv.Close()
		}
		<-a.done
	}
	if d != nil {
		if err := d.Shutdown(ctx); err != nil {
			log.Warn().Err(err).Msg("webhook shutdown: undelivered events dropped")
		}
	}
}
