package relay

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickrelay/tickrelay/relay/admin"
)

// banList holds the operator's bans. The tick checks user and address bans
// at hello; the transports check address bans at admission, before a
// session exists, through a snapshot they read without locking.
type banList struct {
	mu   sync.Mutex
	bans []storedBan
	next uint64

	addrs atomic.Pointer[[]storedBan] // the address bans, for admission
	now   func() time.Time
}

type storedBan struct {
	admin.Ban
	prefix netip.Prefix // for an address ban
}

func newBanList() *banList {
	l := &banList{now: time.Now}
	l.addrs.Store(&[]storedBan{})
	return l
}

func (b storedBan) expired(now time.Time) bool { return !b.Until.IsZero() && !now.Before(b.Until) }

// checkBan parses b's address and checks that it bans someone.
func checkBan(b admin.Ban) (storedBan, error) {
	sb := storedBan{Ban: b}
	if b.Address != "" {
		p, err := parsePrefix(b.Address)
		if err != nil {
			return sb, &admin.InputError{Msg: err.Error()}
		}
		sb.prefix = p
	} else if b.UserID == "" && b.PlayerID == 0 {
		return sb, &admin.InputError{Msg: "a ban needs a player, a user or an address"}
	}
	return sb, nil
}

// put stores b as it is, id included, replacing a ban with its id (a
// cluster's ban, made on any node).
func (l *banList) put(b admin.Ban) error {
	sb, err := checkBan(b)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bans = slices.DeleteFunc(l.bans, func(x storedBan) bool { return x.ID == b.ID })
	l.bans = append(l.bans, sb)
	l.publishLocked(l.now())
	return nil
}

// add stores b and returns it with its id and creation time.
func (l *banList) add(b admin.Ban, now time.Time) (admin.Ban, error) {
	sb, err := checkBan(b)
	if err != nil {
		return admin.Ban{}, err
	}
	if b.UserID == "" && b.Address == "" {
		return admin.Ban{}, &admin.InputError{Msg: "a ban needs a player, a user or an address"}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	sb.ID = "b" + strconv.FormatUint(l.next, 10)
	sb.Created = now
	l.bans = append(l.bans, sb)
	l.publishLocked(now)
	return sb.Ban, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("ban address %q: not an IP or CIDR prefix", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// remove deletes ban id.
func (l *banList) remove(id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := slices.IndexFunc(l.bans, func(b storedBan) bool { return b.ID == id })
	if i < 0 {
		return admin.ErrNotFound
	}
	l.bans = slices.Delete(l.bans, i, i+1)
	l.publishLocked(l.now())
	return nil
}

// has reports whether ban id is in the list.
func (l *banList) has(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.ContainsFunc(l.bans, func(b storedBan) bool { return b.ID == id })
}

// list returns the bans in force.
func (l *banList) list(now time.Time) []admin.Ban {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pruneLocked(now)
	out := make([]admin.Ban, 0, len(l.bans))
	for _, b := range l.bans {
		out = append(out, b.Ban)
	}
	return out
}

func (l *banList) pruneLocked(now time.Time) {
	n := len(l.bans)
	l.bans = slices.DeleteFunc(l.bans, func(b storedBan) bool { return b.expired(now) })
	if len(l.bans) != n {
		l.publishLocked(now)
	}
}

func (l *banList) publishLocked(now time.Time) {
	var addrs []storedBan
	for _, b := range l.bans {
		if b.prefix.IsValid() && !b.expired(now) {
			addrs = append(addrs, b)
		}
	}
	l.addrs.Store(&addrs)
}

// match returns the ban that refuses user userID (if not empty) or address
// a, if any. A nil list bans nothing.
func (l *banList) match(userID string, a netip.Addr, now time.Time) (admin.Ban, bool) {
	if l == nil {
		return admin.Ban{}, false
	}
	a = a.Unmap()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range l.bans {
		if b.expired(now) {
			continue
		}
		if (userID != "" && b.UserID == userID) || (b.prefix.IsValid() && a.IsValid() && b.prefix.Contains(a)) {
			return b.Ban, true
		}
	}
	return admin.Ban{}, false
}

// addressBanned is the admission check: key is a source's accounting key
// (an IPv4 address, or the /64 of an IPv6 one, admit.IPKey), so a ban on
// any IPv6 address refuses its whole /64, which one host usually holds.
func (l *banList) addressBanned(key netip.Addr) bool {
	now := l.now()
	for _, b := range *l.addrs.Load() {
		if b.expired(now) {
			continue
		}
		if key.Is4() && b.prefix.Contains(key) {
			return true
		}
		if key.Is6() && b.prefix.Overlaps(netip.PrefixFrom(key, 64)) {
			return true
		}
	}
	return false
}
