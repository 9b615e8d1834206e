package relay

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Tokens are JWTs signed with HMAC by the game's own backend, so the relay
// needs no database and no call home: it checks the signature and expiry.
// golang-jwt is the standard, audited implementation; a hand-rolled one
// would get algorithm confusion or time checks wrong.

// Claims are what a relay token carries.
type Claims struct {
	// Name is the player's display name; it overrides the name in hello.
	Name string `json:"name,omitempty"`
	// Room, when set, is the join code of the only room the player may
	// join (by code or id); creating rooms and quick match are refused.
	Room string `json:"room,omitempty"`
	// Subject (sub) is the player's id in the game's backend. Expiry (exp)
	// is required.
	jwt.RegisteredClaims
}

var validMethods = []string{"HS256", "HS384", "HS512"}

// MintToken signs a token for a player: what a game backend does, and what
// `relay token` does for testing.
func MintToken(secret []byte, subject, name, room string, ttl time.Duration, now time.Time) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("relay: empty auth secret")
	}
	if subject == "" {
		return "", errors.New("relay: a token needs a subject (the player's id)")
	}
	c := Claims{Name: name, Room: room, RegisteredClaims: jwt.RegisteredClaims{
		Subject:   subject,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
}

// verifyToken checks a token's signature, algorithm, expiry and subject.
func verifyToken(secret []byte, token string, now time.Time) (*Claims, error) {
	if token == "" {
		return nil, errors.New("this server needs an auth token in hello")
	}
	p := jwt.NewParser(jwt.WithValidMethods(validMethods), jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }), jwt.WithLeeway(5*time.Second))
	var c Claims
	if _, err := p.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return secret, nil }); err != nil {
		return nil, fmt.Errorf("invalid auth token: %w", err)
	}
	if c.Subject == "" {
		return nil, errors.New("invalid auth token: no subject")
	}
	return &c, nil
}

// roomAllowed reports whether a player restricted to a room (by its token)
// may join r. An empty restriction allows every room.
func roomAllowed(allowed string, r *room) bool {
	return allowed == "" || allowed == r.code || allowed == strconv.FormatUint(uint64(r.id), 10)
}
