package cluster

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"regexp"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

// Config configures a Node. Zero fields take the documented defaults.
type Config struct {
	// NodeID is this relay's number in the cluster, 1 to 255, unique among
	// the nodes. The relay puts it in the top byte of its player and room
	// ids, so an id names the node that owns it (NodeOf).
	NodeID uint8
	// PublicKCP is the host:port clients reach this node's KCP at; other
	// nodes hand it to players they redirect here.
	PublicKCP string
	// PublicWS is the ws:// or wss:// URL of this node's WebSocket endpoint;
	// empty when it serves none.
	PublicWS string

	// URLs are the NATS servers to connect to (an external NATS cluster),
	// e.g. "nats://user:pass@10.0.0.5:4222". Exactly one of URLs and
	// Embedded is set.
	URLs []string
	// Embedded runs a NATS server (with JetStream) in this process, routed
	// to the other nodes' embedded servers: three relays then form a
	// cluster with no other process.
	Embedded *Embedded
	// NATSOptions are extra client options (credentials, TLS) for URLs.
	NATSOptions []nats.Option

	// Secret signs seat tokens (HMAC-SHA256) and, with Embedded, derives the
	// passwords of the embedded servers' client and route ports. The same
	// on every node; at least 16 bytes.
	Secret []byte
	// Name namespaces everything this cluster puts in NATS: subjects start
	// with it and buckets are named after it, so several games can share
	// one NATS cluster. Letters, digits, '-' and '_'. Default "tickrelay".
	Name string
	// TTL is how long directory and node records live without a refresh:
	// a node that stops refreshing (it died, or lost NATS) disappears from
	// the others' directory within TTL. Nodes refresh every TTL/3. The
	// bucket keeps the TTL it was created with; every node should use the
	// same. Default 10 s, at least 1 s.
	TTL time.Duration
	// Replicas is the JetStream replica count of the buckets. Default: with
	// Embedded, one per server up to 3 (1 + len(Routes)); with URLs, 1 (set
	// 3 for a NATS cluster of three or more servers, so that losing one
	// loses nothing).
	Replicas int
	// SeatLifetime is how long a seat token is good for. Default 10 s.
	SeatLifetime time.Duration
	// SeatTimeout bounds a seat request's round trip (RequestSeatAsync).
	// Default 2 s.
	SeatTimeout time.Duration
	// InboxSize bounds the Inbox channel; messages arriving while it is full
	// are dropped and counted. Default 4096.
	InboxSize int
	// Log receives the node's logs (and, with Embedded, the NATS server's
	// warnings and errors). The zero value logs nothing.
	Log zerolog.Logger

	now func() time.Time // the clock; nil means time.Now (tests inject one)
}

// Embedded configures the NATS server a node runs in its own process.
type Embedded struct {
	// ClientListen is where the server accepts NATS clients (tools such as
	// the nats CLI; the node itself connects in-process). Default
	// "127.0.0.1:0": loopback, a port of the kernel's choosing. Clients need
	// the user and password of Credentials(Secret).
	ClientListen string
	// ClusterListen is the host:port the other nodes' servers route to,
	// e.g. "10.0.0.1:6222". Required when there are Routes.
	ClusterListen string
	// ClusterAdvertise is the host:port the servers tell each other to
	// reach this one at, when ClusterListen binds an address the others
	// cannot use (0.0.0.0, a node behind NAT or a proxy). A server that
	// learns of a peer it has no route to connects there. Default:
	// ClusterListen.
	ClusterAdvertise string
	// Routes are the other nodes' ClusterListen addresses (host:port). A
	// route's password is derived from Secret, so only nodes that share it
	// can join.
	Routes []string
	// StoreDir is where JetStream keeps its files (bans survive a restart
	// of every node). Required.
	StoreDir string
	// ServerName names the server in the NATS cluster; unique. Default
	// "<Name>-<NodeID>".
	ServerName string
	// MaxMemory and MaxStore cap JetStream's memory and disk use. Defaults
	// 256 MiB and 1 GiB.
	MaxMemory, MaxStore int64
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// withDefaults validates c and returns it with defaults applied.
func (c Config) withDefaults() (Config, error) {
	if c.NodeID == 0 {
		return c, errors.New("cluster: NodeID must be 1 to 255")
	}
	if len(c.Secret) < 16 {
		return c, errors.New("cluster: Secret must be at least 16 bytes, the same on every node")
	}
	if (len(c.URLs) == 0) == (c.Embedded == nil) {
		return c, errors.New("cluster: set exactly one of URLs (an external NATS cluster) and Embedded")
	}
	if c.PublicKCP == "" && c.PublicWS == "" {
		return c, errors.New("cluster: PublicKCP or PublicWS is needed: other nodes send players there")
	}
	if c.PublicKCP != "" {
		if _, _, err := net.SplitHostPort(c.PublicKCP); err != nil {
			return c, fmt.Errorf("cluster: PublicKCP %q: %w", c.PublicKCP, err)
		}
	}
	if c.Name == "" {
		c.Name = "tickrelay"
	}
	if !nameRE.MatchString(c.Name) {
		return c, fmt.Errorf("cluster: Name %q: use 1 to 32 letters, digits, '-' or '_'", c.Name)
	}
	if c.TTL == 0 {
		c.TTL = 10 * time.Second
	}
	if c.TTL < time.Second {
		return c, fmt.Errorf("cluster: TTL %v is under 1 s", c.TTL)
	}
	if c.Replicas == 0 {
		c.Replicas = 1
		if c.Embedded != nil {
			c.Replicas = min(3, 1+len(c.Embedded.Routes))
		}
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		return c, fmt.Errorf("cluster: Replicas %d: JetStream allows 1 to 5", c.Replicas)
	}
	if c.SeatLifetime <= 0 {
		c.SeatLifetime = 10 * time.Second
	}
	if c.SeatTimeout <= 0 {
		c.SeatTimeout = 2 * time.Second
	}
	if c.InboxSize <= 0 {
		c.InboxSize = 4096
	}
	if c.now == nil {
		c.now = time.Now
	}
	if e := c.Embedded; e != nil {
		ec := *e
		if ec.StoreDir == "" {
			return c, errors.New("cluster: Embedded.StoreDir is required")
		}
		if ec.ClientListen == "" {
			ec.ClientListen = "127.0.0.1:0"
		}
		if len(ec.Routes) > 0 && ec.ClusterListen == "" {
			return c, errors.New("cluster: Embedded.ClusterListen is required with Routes")
		}
		if ec.ServerName == "" {
			ec.ServerName = fmt.Sprintf("%s-%d", c.Name, c.NodeID)
		}
		if ec.MaxMemory <= 0 {
			ec.MaxMemory = 256 << 20
		}
		if ec.MaxStore <= 0 {
			ec.MaxStore = 1 << 30
		}
		c.Embedded = &ec
	}
	return c, nil
}

// Credentials returns the user and password that an embedded NATS server
// of a cluster with this Secret asks of its clients (for the nats CLI and
// other tools). Routes between the servers use another password derived
// from the same Secret.
func Credentials(secret []byte) (user, password string) {
	return "tickrelay", derive(secret, "nats-client")
}

func routePassword(secret []byte) string { return derive(secret, "nats-route") }

// derive is a password for one purpose, so that one leaked password (a
// client's) does not give away another (the routes') or the seat key.
func derive(secret []byte, purpose string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("tickrelay-cluster/" + purpose))
	return hex.EncodeToString(m.Sum(nil)[:24])
}

// seatKey is the HMAC key of seat tokens.
func seatKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("tickrelay-cluster/seat"))
	return m.Sum(nil)
}
