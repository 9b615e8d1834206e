package relay

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// udpDrops is how many datagrams the kernel dropped at the UDP socket
// bound to 127.0.0.1:port (its receive queue was full), from
// /proc/net/udp; -1 when it cannot tell.
func udpDrops(port int) int {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return -1
	}
	want := fmt.Sprintf("0100007F:%04X", port)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 13 && f[1] == want && f[2] == "00000000:0000" {
			if n, err := strconv.Atoi(f[12]); err == nil {
				return n
			}
		}
	}
	return -1
}
