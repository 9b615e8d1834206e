//go:build !linux

// Command relay-bench loads a relay with bots; it needs Linux (epoll and
// /proc), see BENCHMARKS.md.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "relay-bench: Linux only (it drives its bots with epoll and reads /proc)")
	os.Exit(2)
}
