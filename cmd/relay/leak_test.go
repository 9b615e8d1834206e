package main

import (
	"fmt"
	"net/http"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that every run the tests started, with its relay,
// listeners, cluster node and embedded NATS server, left no goroutine
// behind once it returned.
func TestMain(m *testing.M) {
	opts := []goleak.Option{goleak.IgnoreCurrent()}
	code := m.Run()
	http.DefaultClient.CloseIdleConnections() // the tests' keep-alive connections, not the relay's
	if code == 0 {
		if err := goleak.Find(opts...); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines left running: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
