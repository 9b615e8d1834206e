package cluster

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/tickrelay/tickrelay/codec"
)

// A player joining a room on another node gets a seat from the room's node
// (the owner decides: the room may be full or locked) as a signed token,
// then reconnects to that node with it. The token is HMAC-SHA256 with a key
// derived from Secret, names the node and the room, and expires within
// SeatLifetime; the owning node takes each token once.

// SeatRequest asks a node for a seat in one of its rooms, for a new room,
// or for a place in one of its parties.
type SeatRequest struct {
	// Room is the room to join, a room of the owning node (a global id);
	// 0 with Create or Party.
	Room uint32
	// Create asks the owning node to make a room (new rooms go to the
	// least-loaded node) and seat the player as its first member.
	Create *RoomSpec
	// Player is the player's global id on the node it is on now.
	Player uint32
	Name   string
	// UserID is the player's auth token's sub; "" for anonymous play.
	UserID string
	// Party is the code of a party of the owning node to join (friends
	// on different nodes: the player moves to the party's node).
	Party string
	// Expires is set in the request VerifySeat returns: until when the
	// seat was good.
	Expires time.Time
}

// RoomSpec describes a room to create, as a create_room does.
type RoomSpec struct {
	Mode       string
	MaxPlayers int
	Public     bool
	Props      map[string][]byte
}

// Seat is a granted seat: the token to present to the owning node, where
// that node is, and the room.
type Seat struct {
	Token     string
	Node      uint8
	Room      uint32 // global id
	Code      string
	PublicKCP string
	PublicWS  string
	Expires   time.Time
}

// SeatRefused is the owning node's refusal of a seat. Code is the
// protocol's error name (e.g. "room_full", "room_not_found",
// "room_locked"), or "busy" when its queue of seat requests was full.
type SeatRefused struct {
	Code    string
	Message string
}

func (e *SeatRefused) Error() string { return "cluster: seat refused: " + e.Code + ": " + e.Message }

// Errors of VerifySeat.
var (
	ErrSeatInvalid   = errors.New("cluster: seat token is malformed or its signature is wrong")
	ErrSeatExpired   = errors.New("cluster: seat token expired")
	ErrSeatOtherNode = errors.New("cluster: seat token is for another node")
	ErrSeatUsed      = errors.New("cluster: seat token was used already")
	ErrSeatsBusy     = errors.New("cluster: too many seat tokens in flight")
)

// SeatCall is a seat request from another node, for the tick to answer
// with Accept or Refuse (exactly once; later answers are ignored). An
// unanswered call times out on the requesting side.
type SeatCall struct {
	From    uint8 // the requesting node
	Request SeatRequest

	n     *Node
	reply string
	once  sync.Once
}

// Accept grants the seat in room (the requested one, or the room made for
// Create) and answers with its token. The returned Seat says until when
// the token is good (to hold the seat that long).
func (c *SeatCall) Accept(room uint32, code string) Seat {
	s := c.n.IssueSeat(c.Request, room, code)
	c.once.Do(func() {
		c.n.respond(c.reply, appendSeatReply(nil, &s, nil))
	})
	return s
}

// Refuse answers that there is no seat; code is the protocol's error name.
func (c *SeatCall) Refuse(code, message string) {
	c.once.Do(func() {
		c.n.respond(c.reply, appendSeatReply(nil, nil, &SeatRefused{Code: code, Message: message}))
	})
}

// IssueSeat mints a seat token for a room of this node without a request
// (a match's host seating players of other nodes).
func (n *Node) IssueSeat(req SeatRequest, room uint32, code string) Seat {
	exp := n.cfg.now().Add(n.cfg.SeatLifetime)
	c := seatClaims{Node: n.id, Room: room, Player: req.Player, Name: req.Name, UserID: req.UserID, Party: req.Party, Expires: exp}
	return Seat{
		Token: signSeat(n.seatKey, &c), Node: n.id, Room: room, Code: code,
		PublicKCP: n.cfg.PublicKCP, PublicWS: n.cfg.PublicWS, Expires: exp,
	}
}

// VerifySeat checks a seat token on the node it names: its signature, its
// expiry, that it is for this node, and that it was not used before (a
// token is taken once). It returns the request it was issued for, with
// the granted Room and Expires.
func (n *Node) VerifySeat(token string) (SeatRequest, error) {
	c, err := verifySeat(n.seatKey, token, n.id, n.cfg.now())
	if err != nil {
		return SeatRequest{}, err
	}
	if err := n.seatsUsed.take(c.Nonce, c.Expires, n.cfg.now()); err != nil {
		return SeatRequest{}, err
	}
	return SeatRequest{Room: c.Room, Player: c.Player, Name: c.Name, UserID: c.UserID, Party: c.Party, Expires: c.Expires}, nil
}

// seatClaims is what a token says.
type seatClaims struct {
	Node    uint8
	Room    uint32
	Player  uint32
	Name    string
	UserID  string
	Expires time.Time
	Nonce   string // random: tells tokens apart for single use
	Party   string // a party seat: the party's code (Room 0)
}

const seatTokenPrefix = "s1."

// signSeat returns "s1.<claims>.<mac>", both parts base64url.
func signSeat(key []byte, c *seatClaims) string {
	if c.Nonce == "" {
		var nb [12]byte
		_, _ = rand.Read(nb[:]) // crypto/rand.Read does not return errors (it crashes the program instead)
		c.Nonce = hex.EncodeToString(nb[:])
	}
	b := codec.AppendArrayLen(nil, 9)
	b = codec.AppendUint(b, wireVersion)
	b = codec.AppendUint(b, uint64(c.Node))
	b = codec.AppendUint(b, uint64(c.Room))
	b = codec.AppendUint(b, uint64(c.Player))
	b = codec.AppendStr(b, c.Name)
	b = codec.AppendStr(b, c.UserID)
	b = codec.AppendInt(b, c.Expires.UnixMilli())
	b = codec.AppendStr(b, c.Nonce)
	b = codec.AppendStr(b, c.Party)
	body := seatTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return body + "." + base64.RawURLEncoding.EncodeToString(seatMAC(key, body))
}

func seatMAC(key []byte, body string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(body))
	return m.Sum(nil)
}

// tokenEncoding reads a token's parts: strict, so that a token has one
// spelling (the lenient decoder takes a last character whose unused bits
// differ as the same bytes).
var tokenEncoding = base64.RawURLEncoding.Strict()

// verifySeat checks a token's form, signature, node and expiry, in that
// order: nothing in a token is read before its signature is checked.
func verifySeat(key []byte, token string, node uint8, now time.Time) (seatClaims, error) {
	var c seatClaims
	if len(token) > maxTokenLen || !strings.HasPrefix(token, seatTokenPrefix) {
		return c, ErrSeatInvalid
	}
	i := strings.LastIndexByte(token, '.')
	if i < len(seatTokenPrefix) {
		return c, ErrSeatInvalid
	}
	body, sig := token[:i], token[i+1:]
	mac, err := tokenEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(mac, seatMAC(key, body)) {
		return c, ErrSeatInvalid
	}
	raw, err := tokenEncoding.DecodeString(body[len(seatTokenPrefix):])
	if err != nil {
		return c, ErrSeatInvalid
	}
	d := newDec(raw)
	n := d.version(7)
	c.Node = uint8(d.uint(math.MaxUint8))
	c.Room = uint32(d.uint(math.MaxUint32))
	c.Player = uint32(d.uint(math.MaxUint32))
	c.Name = d.str(maxStr)
	c.UserID = d.str(maxStr)
	c.Expires = time.UnixMilli(d.int())
	c.Nonce = d.str(64)
	c.Party = d.laterStr(n, 8, maxStr)
	d.rest(n, 8)
	if err := d.done("seat token"); err != nil {
		return c, fmt.Errorf("%w: %v", ErrSeatInvalid, err)
	}
	if c.Node != node {
		return c, ErrSeatOtherNode
	}
	if !now.Before(c.Expires) {
		return c, ErrSeatExpired
	}
	return c, nil
}

// usedSeats remembers the tokens taken until they expire. Only tokens with
// a valid signature that have not expired get here, so its size is bounded
// by how many seats the cluster grants within a lifetime; maxUsedSeats
// bounds it anyway.
type usedSeats struct {
	mu        sync.Mutex
	nonce     map[string]time.Time // to its token's expiry
	nextPrune time.Time
}

const maxUsedSeats = 1 << 16

func (u *usedSeats) take(nonce string, exp, now time.Time) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.nonce == nil {
		u.nonce = make(map[string]time.Time)
	}
	if _, ok := u.nonce[nonce]; ok {
		return ErrSeatUsed
	}
	if len(u.nonce) >= maxUsedSeats/2 && !now.Before(u.nextPrune) {
		u.nextPrune = now.Add(time.Second) // a scan at most once a second
		for k, e := range u.nonce {
			if !now.Before(e) {
				delete(u.nonce, k)
			}
		}
	}
	if len(u.nonce) >= maxUsedSeats {
		return ErrSeatsBusy
	}
	u.nonce[nonce] = exp
	return nil
}

// Seat requests and replies on the wire.

func appendSeatRequest(b []byte, from uint8, r *SeatRequest) []byte {
	b = appendHeader(b, 6, kindSeatRequest, from)
	b = codec.AppendUint(b, uint64(r.Room))
	if r.Create == nil {
		b = codec.AppendNil(b)
	} else {
		b = codec.AppendArrayLen(b, 4)
		b = codec.AppendStr(b, r.Create.Mode)
		b = codec.AppendInt(b, int64(r.Create.MaxPlayers))
		b = codec.AppendBool(b, r.Create.Public)
		b = appendProps(b, r.Create.Props)
	}
	b = codec.AppendUint(b, uint64(r.Player))
	b = codec.AppendStr(b, r.Name)
	b = codec.AppendStr(b, r.UserID)
	return codec.AppendStr(b, r.Party)
}

func decodeSeatRequest(b []byte) (SeatRequest, uint8, error) {
	var r SeatRequest
	d := newDec(b)
	n := d.version(7)
	if k := msgKind(d.uint(math.MaxUint8)); d.err == nil && k != kindSeatRequest {
		d.fail(fmt.Errorf("kind %v where a seat request was expected", k))
	}
	from := uint8(d.uint(math.MaxUint8))
	r.Room = uint32(d.uint(math.MaxUint32))
	if d.err == nil && !d.r.IsNil() {
		cn := d.array(4, 16)
		r.Create = &RoomSpec{Mode: d.str(maxStr), MaxPlayers: d.count(math.MaxUint16), Public: d.bool(), Props: d.props()}
		d.rest(cn, 4)
	}
	r.Player = uint32(d.uint(math.MaxUint32))
	r.Name = d.str(maxStr)
	r.UserID = d.str(maxStr)
	r.Party = d.laterStr(n, 8, maxStr)
	d.rest(n, 8)
	if err := d.done("seat request"); err != nil {
		return r, 0, err
	}
	if from == 0 {
		return r, 0, fmt.Errorf("%w: from node 0", errMalformed)
	}
	return r, from, nil
}

// appendSeatReply writes [version, true, token, node, room, code, kcp, ws,
// expires ms] or [version, false, code, message].
func appendSeatReply(b []byte, s *Seat, refused *SeatRefused) []byte {
	if refused != nil {
		b = codec.AppendArrayLen(b, 4)
		b = codec.AppendUint(b, wireVersion)
		b = codec.AppendBool(b, false)
		b = codec.AppendStr(b, refused.Code)
		return codec.AppendStr(b, refused.Message)
	}
	b = codec.AppendArrayLen(b, 9)
	b = codec.AppendUint(b, wireVersion)
	b = codec.AppendBool(b, true)
	b = codec.AppendStr(b, s.Token)
	b = codec.AppendUint(b, uint64(s.Node))
	b = codec.AppendUint(b, uint64(s.Room))
	b = codec.AppendStr(b, s.Code)
	b = codec.AppendStr(b, s.PublicKCP)
	b = codec.AppendStr(b, s.PublicWS)
	return codec.AppendInt(b, s.Expires.UnixMilli())
}

// decodeSeatReply returns the seat, or a *SeatRefused error.
func decodeSeatReply(b []byte) (Seat, error) {
	var s Seat
	d := newDec(b)
	n := d.version(3)
	if !d.bool() {
		ref := &SeatRefused{Code: d.str(maxStr), Message: d.str(maxText)}
		d.rest(n, 3)
		if err := d.done("seat reply"); err != nil {
			return s, err
		}
		return s, ref
	}
	if d.err == nil && n < 8 {
		d.fail(fmt.Errorf("seat reply of %d fields", n))
	}
	s.Token = d.str(maxTokenLen)
	s.Node = uint8(d.uint(math.MaxUint8))
	s.Room = uint32(d.uint(math.MaxUint32))
	s.Code = d.str(maxStr)
	s.PublicKCP = d.str(maxStr)
	s.PublicWS = d.str(maxStr)
	s.Expires = time.UnixMilli(d.int())
	d.rest(n, 8)
	return s, d.done("seat reply")
}
