package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestEnvironmentFillsFlagsAndCommandLineWins(t *testing.T) {
	c, err := parse([]string{"-tick-rate", "60"}, env(map[string]string{
		"RELAY_ADDR": "127.0.0.1:9000", "RELAY_TICK_RATE": "20", "RELAY_IDLE_TIMEOUT": "3s", "RELAY_MAX_STATE_BYTES": "512",
	}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.srv.Addr != "127.0.0.1:9000" || c.srv.TickRate != 60 || c.srv.IdleTimeout != 3*time.Second || c.srv.Limits.State != 512 {
		t.Fatalf("got addr %q rate %d idle %v state %d", c.srv.Addr, c.srv.TickRate, c.srv.IdleTimeout, c.srv.Limits.State)
	}
	if _, err := parse(nil, env(map[string]string{"RELAY_TICK_RATE": "fast"}), &bytes.Buffer{}); err == nil ||
		!strings.Contains(err.Error(), "RELAY_TICK_RATE") {
		t.Fatalf("bad env value: %v", err)
	}
}

func TestHelpListsFlagsAndEnvironment(t *testing.T) {
	var out bytes.Buffer
	_, err := parse([]string{"-h"}, env(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, want := range []string{"-addr", "-tick-rate", "-log-format", "RELAY_TICK_RATE", "-max-state-bytes"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestBadSettingsFail(t *testing.T) {
	ctx := context.Background()
	for _, args := range [][]string{{"-log-level", "loud"}, {"-log-format", "xml"}, {"-tick-rate", "500", "-addr", "127.0.0.1:0"}, {"extra"}} {
		if err := run(ctx, args, env(nil), &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, env(nil), &out, &bytes.Buffer{}) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
}
