package cluster

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bans live in their own bucket (file storage: they outlast a restart of
// every node), one key per ban. Every node watches it and hands each
// change to the relay as BanChanged; a ban with an end is written with
// that time to live, so the bucket drops it when it ends.

var banIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// PutBan stores a new ban for every node. It fills in an empty ID, a zero
// Created and Node; an ID in use is an error. It waits for NATS (ctx
// bounds it): call it from the admin API, not the tick. The change comes
// back to this node too, as a BanChanged.
func (n *Node) PutBan(ctx context.Context, b Ban) (Ban, error) {
	now := n.cfg.now()
	if b.ID == "" {
		var r [8]byte
		_, _ = rand.Read(r[:])
		b.ID = strconv.Itoa(int(n.id)) + "-" + hex.EncodeToString(r[:])
	}
	if b.Created.IsZero() {
		b.Created = now
	}
	if b.Node == 0 {
		b.Node = n.id
	}
	if err := validBan(&b, now); err != nil {
		return Ban{}, err
	}
	kv, err := n.bansBucket()
	if err != nil {
		return Ban{}, err
	}
	var opts []jetstream.KVCreateOpt
	if !b.Until.IsZero() {
		// The bucket drops the ban when it ends (its TTL has a resolution
		// of a second: Bans hides it from its end on).
		opts = append(opts, jetstream.KeyTTL(max(time.Second, b.Until.Sub(now).Truncate(time.Second)+time.Second)))
	}
	// Create sends a per-key condition (Nats-Expected-Last-Subject-Sequence),
	// on which nats-server v2.15.3 races right after a stream leader change
	// (see leaderkey.go). The leader key no longer uses one for that reason:
	// it is written all the time, and exactly when nodes die. A ban is a
	// rare operator write, the bucket holds many keys (a stream-level
	// condition would fail on any other ban written meanwhile), and an ID in
	// use must be refused: the per-key condition stays here.
	if _, err := kv.Create(ctx, b.ID, appendBan(nil, &b), opts...); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return Ban{}, fmt.Errorf("cluster: ban %q exists", b.ID)
		}
		return Ban{}, fmt.Errorf("cluster: putting ban: %w", err)
	}
	n.stats.writes.Add(1)
	return b, nil
}

func validBan(b *Ban, now time.Time) error {
	switch {
	case !banIDRE.MatchString(b.ID):
		return fmt.Errorf("cluster: ban id %q: use 1 to 64 letters, digits, '-' or '_'", b.ID)
	case b.PlayerID == 0 && b.UserID == "" && b.Address == "":
		return errors.New("cluster: a ban needs a player, a user or an address")
	case len(b.UserID) > maxStr || len(b.Address) > maxStr || len(b.Reason) > maxText:
		return errors.New("cluster: a ban's user id, address or reason is too long")
	case !b.Until.IsZero() && !b.Until.After(now):
		return errors.New("cluster: the ban's end is not in the future")
	}
	if b.Address != "" {
		if _, err := netip.ParsePrefix(b.Address); err != nil {
			if _, err := netip.ParseAddr(b.Address); err != nil {
				return fmt.Errorf("cluster: ban address %q: not an IP or CIDR prefix", b.Address)
			}
		}
	}
	return nil
}

// DeleteBan removes a ban from every node. It waits for NATS (ctx bounds
// it).
func (n *Node) DeleteBan(ctx context.Context, id string) error {
	if !banIDRE.MatchString(id) {
		return fmt.Errorf("cluster: ban id %q: no such ban", id)
	}
	kv, err := n.bansBucket()
	if err != nil {
		return err
	}
	// Known from the watch: a read of the bucket may be served by a
	// replica that lags behind it.
	if !n.bans.has(id) {
		return fmt.Errorf("cluster: no ban %q", id)
	}
	if err := kv.Purge(ctx, id, jetstream.PurgeTTL(time.Minute)); err != nil {
		return fmt.Errorf("cluster: deleting ban: %w", err)
	}
	n.stats.deletes.Add(1)
	return nil
}

func (n *Node) bansBucket() (jetstream.KeyValue, error) {
	if n.closing.Load() {
		return nil, ErrClosed
	}
	if !n.connected() {
		return nil, ErrDisconnected
	}
	b := n.buckets.Load()
	if b == nil {
		return nil, ErrNotReady
	}
	return b.bans, nil
}

// Bans lists the bans in force, oldest first, as last seen in the bucket
// (kept while NATS is unreachable).
func (n *Node) Bans() []Ban { return n.bans.list(n.cfg.now()) }

// banCache is the watched ban list.
type banCache struct {
	mu   sync.Mutex
	bans map[string]banEntry
	gen  uint64
}

type banEntry struct {
	ban Ban
	gen uint64
}

func (c *banCache) beginReplay() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
}

// endReplay drops the bans the replay did not find (deleted while the
// node was cut off).
func (c *banCache) endReplay(n *Node) {
	c.mu.Lock()
	var gone []string
	for id, e := range c.bans {
		if e.gen != c.gen {
			delete(c.bans, id)
			gone = append(gone, id)
		}
	}
	c.mu.Unlock()
	for _, id := range gone {
		n.deliver(&BanChanged{Ban: Ban{ID: id}, Removed: true})
	}
}

// apply takes one change of the bucket and tells the relay.
func (c *banCache) apply(n *Node, e kvEntry) error {
	if e.deleted {
		c.mu.Lock()
		_, had := c.bans[e.key]
		delete(c.bans, e.key)
		c.mu.Unlock()
		if had {
			n.deliver(&BanChanged{Ban: Ban{ID: e.key}, Removed: true})
		}
		return nil
	}
	b, err := decodeBan(e.value)
	if err != nil {
		return err
	}
	b.ID = e.key
	c.mu.Lock()
	if c.bans == nil {
		c.bans = map[string]banEntry{}
	}
	old, had := c.bans[b.ID]
	c.bans[b.ID] = banEntry{ban: b, gen: c.gen}
	c.mu.Unlock()
	if !had || old.ban != b {
		n.deliver(&BanChanged{Ban: b})
	}
	return nil
}

func (c *banCache) has(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.bans[id]
	return ok
}

func (c *banCache) list(now time.Time) []Ban {
	c.mu.Lock()
	out := make([]Ban, 0, len(c.bans))
	for _, e := range c.bans {
		if e.ban.Until.IsZero() || now.Before(e.ban.Until) {
			out = append(out, e.ban)
		}
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b Ban) int { return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID)) })
	return out
}
