package enginetest

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/codec"
)

// messagesPath holds the Go codec's golden message vectors.
const messagesPath = "../../codec/testdata/golden/messages.txt"

// TestProtocolGoldenMessages checks protocol.gd against every vector of the
// Go codec: the s2c ones decode to what codec.DecodeServer makes of them, and
// the c2s ones re-encode to the same bytes (protocol_vectors_test.gd).
func TestProtocolGoldenMessages(t *testing.T) {
	t.Parallel()
	godotBin(t)
	abs, expect, s2c, c2s := protocolExpectations(t)
	path := filepath.Join(t.TempDir(), "expect.txt")
	if err := os.WriteFile(path, []byte(expect), 0o644); err != nil {
		t.Fatal(err)
	}
	res := runScript(t, 30*time.Second, "protocol_vectors_test.gd", "--messages="+abs, "--expect="+path, "--seed=5")
	t.Logf("%d s2c and %d c2s vectors: %d checks passed", s2c, c2s, res.passed)
}

// protocolExpectations reads the Go codec's golden messages and renders what
// codec.DecodeServer makes of each s2c vector, for protocol_vectors_test.gd:
// the path of the vectors, the expectations, and the count of each kind.
func protocolExpectations(t *testing.T) (messagesAbs, expect string, s2c, c2s int) {
	t.Helper()
	abs, err := filepath.Abs(messagesPath)
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(abs)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("# name<TAB>codec.DecodeServer's result, rendered by renderServer\n")
	for _, line := range strings.Split(string(text), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) < 3 {
			t.Fatalf("bad vector line %q", line)
		}
		if f[1] != "s2c" {
			c2s++
			continue
		}
		frame, err := hex.DecodeString(f[2])
		if err != nil || len(frame) < 4 {
			t.Fatalf("%s: bad hex", f[0])
		}
		m, err := codec.DecodeServer(frame[4:])
		if err != nil {
			t.Fatalf("%s: the Go codec cannot decode its own vector: %v", f[0], err)
		}
		fmt.Fprintf(&b, "%s\t%s\n", f[0], renderServer(m))
		s2c++
	}
	return abs, b.String(), s2c, c2s
}

func TestProtocolUnit(t *testing.T) {
	t.Parallel()
	runScript(t, 30*time.Second, "protocol_unit_test.gd")
}

// renderServer renders a decoded server message as render() in
// protocol_vectors_test.gd renders protocol.gd's result. Opaque values are
// shown as hex of their msgpack bytes (the GDScript side re-encodes what it
// decoded, so the vectors' values must be in canonical form).
func renderServer(m *codec.ServerMsg) string {
	switch m.Type {
	case codec.TWelcome:
		return fmt.Sprintf("welcome version=%d player_id=%d resume_token=%s tick_rate=%d server_time_ms=%d tick=%d resumed=%t room_id=%d",
			m.Version, m.PlayerID, m.ResumeToken, m.TickRate, m.ServerTimeMs, m.Tick, m.Resumed, m.RoomID)
	case codec.TError:
		return fmt.Sprintf("error rid=%d code=%d message=%s", m.RID, m.Code, m.Message)
	case codec.TClose:
		return fmt.Sprintf("close code=%d reason=%s", m.Code, m.Message)
	case codec.TOK:
		return fmt.Sprintf("ok rid=%d", m.RID)
	case codec.TRoomJoined:
		return fmt.Sprintf("room_joined rid=%d room_id=%d code=%s mode=%s max_players=%d", m.RID, m.RoomID, m.JoinCode, m.Mode, m.MaxPlayers)
	case codec.TRoomList:
		var rooms []string
		for _, r := range m.Rooms {
			p := r.Props
			if p == nil {
				p = codec.Props{} // protocol.gd gives {} for a nil room property map
			}
			rooms = append(rooms, fmt.Sprintf("%d,%s,%d,%d,%t,%s", r.ID, r.Mode, r.Players, r.MaxPlayers, r.Locked, renderProps(p)))
		}
		return fmt.Sprintf("room_list rid=%d rooms=[%s]", m.RID, strings.Join(rooms, ";"))
	case codec.TRoomLeft:
		return fmt.Sprintf("room_left rid=%d code=%d", m.RID, m.Code)
	case codec.TPong:
		return fmt.Sprintf("pong client_time=%d server_time_ms=%d tick=%d hold_us=%d", m.ClientTime, m.ServerTimeMs, m.Tick, m.HoldUs)
	case codec.TFrame:
		f := m.Frame
		room := "nil"
		if d := f.Room; d != nil {
			var leaves, joins, pprops, states, presence []string
			for _, id := range d.Leaves {
				leaves = append(leaves, fmt.Sprint(id))
			}
			for _, j := range d.Joins {
				joins = append(joins, fmt.Sprintf("%d,%s,%s", j.ID, j.Name, renderProps(j.Props)))
			}
			for _, p := range d.PlayerProps {
				pprops = append(pprops, fmt.Sprintf("%d,%s", p.ID, renderProps(p.Props)))
			}
			for _, s := range d.States {
				states = append(states, fmt.Sprintf("%d,%x", s.ID, s.Value))
			}
			for _, p := range d.Presence {
				presence = append(presence, fmt.Sprintf("%d,%t", p.ID, p.Connected))
			}
			room = fmt.Sprintf("%d,%t,%d,%t,%s,leaves=[%s],joins=[%s],player_props=[%s],states=[%s],presence=[%s]",
				d.ID, d.Full, d.Master, d.Locked, renderProps(d.Props), strings.Join(leaves, ","),
				strings.Join(joins, ";"), strings.Join(pprops, ";"), strings.Join(states, ";"), strings.Join(presence, ";"))
		}
		var events, chat []string
		for _, e := range f.Events {
			events = append(events, fmt.Sprintf("%d,%d,%d,%x", e.Tick, e.From, e.Code, e.Payload))
		}
		for _, c := range f.Chat {
			line := fmt.Sprintf("%d,%d,%d,%s", c.From, c.To, c.ServerTimeMs, c.Text)
			if c.Channel != "" {
				line += fmt.Sprintf(",%s,%s", c.Channel, c.FromName)
			}
			chat = append(chat, line)
		}
		out := fmt.Sprintf("frame tick=%d server_time_ms=%d room=%s events=[%s] chat=[%s]",
			f.Tick, f.ServerTimeMs, room, strings.Join(events, ";"), strings.Join(chat, ";"))
		if len(f.Packets) > 0 {
			var pks []string
			for _, p := range f.Packets {
				pks = append(pks, fmt.Sprintf("%d,%d,%d,%x", p.From, p.Mode, p.Channel, p.Data))
			}
			out += fmt.Sprintf(" packets=[%s]", strings.Join(pks, ";"))
		}
		return out
	case codec.TAnnounce:
		return fmt.Sprintf("announce text=%s server_time_ms=%d", m.Message, m.ServerTimeMs)
	case codec.TMatch:
		return fmt.Sprintf("match outcome=%d room_id=%d team=%d region=%s waited_ms=%d", m.Outcome, m.RoomID, m.Team, m.Region, m.WaitedMs)
	case codec.TParty:
		return fmt.Sprintf("party party_id=%d code=%s leader=%d members=[%s]", m.PartyID, m.JoinCode, m.Leader, renderMembers(m.Members))
	case codec.TChannel:
		var hist []string
		for _, l := range m.History {
			hist = append(hist, fmt.Sprintf("%d,%s,%d,%s", l.From, l.FromName, l.ServerTimeMs, l.Text))
		}
		return fmt.Sprintf("channel rid=%d name=%s count=%d members=[%s] history=[%s]", m.RID, m.Channel, m.Count, renderMembers(m.Members), strings.Join(hist, ";"))
	case codec.TRedirect:
		return fmt.Sprintf("redirect rid=%d node=%d kcp_addr=%s ws_url=%s token=%s", m.RID, m.Node, m.KCPAddr, m.WSURL, m.Token)
	}
	return fmt.Sprintf("unknown type %d", m.Type)
}

func renderMembers(ms []codec.PartyMember) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = fmt.Sprintf("%d,%s", m.ID, m.Name)
	}
	return strings.Join(parts, ";")
}

func renderProps(p codec.Props) string {
	if p == nil {
		return "nil"
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%x", k, p[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}
