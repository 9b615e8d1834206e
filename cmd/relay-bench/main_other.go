//go:build !linux

// Command relay-bench loads a relay with bots; it needs Linux (recvmmsg,
// /proc), see BENCHMARKS.md.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "relay-bench: Linux only (its bots use recvmmsg, sendmmsg and IP_PKTINFO, and it reads /proc)")
	os.Exit(2)
}
