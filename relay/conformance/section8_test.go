package conformance

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"hash"
	"strconv"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/relay"
)

// Section 8: auth tokens. The suite signs its own JWTs (a game backend's
// job), independently of the relay's MintToken.

func mintJWT(t testing.TB, alg string, secret []byte, claims map[string]any) string {
	t.Helper()
	hashes := map[string]func() hash.Hash{"HS256": sha256.New, "HS384": sha512.New384, "HS512": sha512.New}
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT"})
	body, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(body)
	if alg == "none" {
		return signing + "."
	}
	mac := hmac.New(hashes[alg], secret)
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

var authSecret = []byte("a secret the game's backend shares")

func claims(sub, name, room string, ttl time.Duration) map[string]any {
	c := map[string]any{"exp": time.Now().Add(ttl).Unix()}
	if sub != "" {
		c["sub"] = sub
	}
	if name != "" {
		c["name"] = name
	}
	if room != "" {
		c["room"] = room
	}
	return c
}

// helloAuth says hello with an auth token.
func (c *client) helloAuth(token string) {
	c.t.Helper()
	c.send(THello, 1, c.name, nil, token, "", 0)
}

func TestSection8_AuthRefusals(t *testing.T) {
	cases := map[string]func(t *testing.T) string{
		"no token": func(*testing.T) string { return "" },
		"garbage":  func(*testing.T) string { return "not.a.jwt" },
		"other secret": func(t *testing.T) string {
			return mintJWT(t, "HS256", []byte("other"), claims("p1", "", "", time.Hour))
		},
		"expired":    func(t *testing.T) string { return mintJWT(t, "HS256", authSecret, claims("p1", "", "", -time.Hour)) },
		"no subject": func(t *testing.T) string { return mintJWT(t, "HS256", authSecret, claims("", "", "", time.Hour)) },
		"no expiry": func(t *testing.T) string {
			return mintJWT(t, "HS256", authSecret, map[string]any{"sub": "p1"})
		},
		"alg none": func(t *testing.T) string { return mintJWT(t, "none", nil, claims("p1", "", "", time.Hour)) },
	}
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{AuthSecret: authSecret})
		for name, token := range cases {
			t.Run(name, func(t *testing.T) {
				c := e.on(t).connect("ana")
				c.helloAuth(token(t))
				c.expectClose(CodeUnauthorized)
			})
		}
		t.Run("hello without the optional fields", func(t *testing.T) {
			c := e.on(t).connect("ana")
			c.send(THello, 1, "ana", nil)
			c.expectClose(CodeUnauthorized)
		})
	})
}

func TestSection8_AuthTokens(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{AuthSecret: authSecret})
		var players []*client
		for _, alg := range []string{"HS256", "HS384", "HS512"} {
			c := e.connect("hello-name")
			c.helloAuth(mintJWT(t, alg, authSecret, claims("user-"+alg, "Token "+alg, "", time.Hour)))
			c.expectWelcome()
			players = append(players, c)
		}
		// The token's name replaces hello's.
		a := players[0]
		j := a.joined(a.request(TCreateRoom, "dm", 0, true, nil))
		if n := a.view.players[a.welcome.PlayerID].name; n != "Token HS256" {
			t.Errorf("name %q, want the token's", n)
		}
		other := players[1].joined(players[1].request(TCreateRoom, "dm", 0, true, nil))

		// A token for one room: that room only, by code or by id; no
		// creating, no quick match.
		for i, room := range []string{j.Code, strconv.FormatUint(uint64(j.RoomID), 10)} {
			r := e.connect("guest")
			r.helloAuth(mintJWT(t, "HS256", authSecret, claims("guest"+strconv.Itoa(i), "", room, time.Hour)))
			r.expectWelcome()
			r.expectRefused(r.request(TCreateRoom, "dm", 0, true, nil), CodeForbidden)
			r.expectRefused(r.request(TJoinOrCreate, "dm", nil, 0), CodeForbidden)
			r.expectRefused(r.request(TJoinRoom, other.RoomID), CodeForbidden)
			r.expectRefused(r.request(TJoinCode, other.Code), CodeForbidden)
			if i == 0 {
				r.joined(r.request(TJoinCode, j.Code))
			} else {
				r.joined(r.request(TJoinRoom, j.RoomID))
			}
		}
	})
}

// Without a secret, play is anonymous and auth is ignored.
func TestSection8_NoSecretIgnoresAuth(t *testing.T) {
	eachTransport(t, func(t *testing.T, k transportKind) {
		e := start(t, k, &relay.Server{})
		c := e.connect("ana")
		c.helloAuth("anything at all")
		c.expectWelcome()
		c.joined(c.request(TCreateRoom, "dm", 0, true, nil))
	})
}
