package cluster

import (
	"fmt"
	"math"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay/match"
)

// A message between nodes is [version, kind, from node, body...], the body
// depending on the kind.

func appendHeader(b []byte, fields int, k msgKind, from uint8) []byte {
	b = codec.AppendArrayLen(b, 3+fields)
	b = codec.AppendUint(b, wireVersion)
	b = codec.AppendUint(b, uint64(k))
	return codec.AppendUint(b, uint64(from))
}

// encodeMessage writes m as sent by node from. SeatResult, BanChanged,
// NodeChanged and LeaderChanged never cross the wire (each node makes its
// own from what it sees), nor do they encode.
func encodeMessage(b []byte, from uint8, m Message) ([]byte, error) {
	switch m := m.(type) {
	case *DirectMessage:
		b = appendHeader(b, 5, kindDM, from)
		b = codec.AppendUint(b, uint64(m.From))
		b = codec.AppendStr(b, m.FromName)
		b = codec.AppendUint(b, uint64(m.To))
		b = codec.AppendInt(b, m.TimeMs)
		b = codec.AppendStr(b, m.Text)
	case *ChannelLine:
		b = appendHeader(b, 5, kindChannelLine, from)
		b = codec.AppendStr(b, m.Channel)
		b = codec.AppendUint(b, uint64(m.From))
		b = codec.AppendStr(b, m.FromName)
		b = codec.AppendInt(b, m.TimeMs)
		b = codec.AppendStr(b, m.Text)
	case *TicketAdd:
		b = appendHeader(b, 1, kindTicketAdd, from)
		b = appendTicket(b, &m.Ticket)
	case *TicketCancel:
		b = appendHeader(b, 1, kindTicketCancel, from)
		b = codec.AppendUint(b, m.ID)
	case *BackfillRequest:
		b = appendHeader(b, 1, kindBackfillRequest, from)
		b = appendBackfill(b, &m.Backfill)
	case *BackfillCancel:
		b = appendHeader(b, 1, kindBackfillCancel, from)
		b = codec.AppendUint(b, m.ID)
	case *MatchAssign:
		b = appendHeader(b, 2, kindMatchAssign, from)
		b = codec.AppendUint(b, m.Term)
		b = appendMatch(b, &m.Match)
	case *FillAssign:
		b = appendHeader(b, 2, kindFillAssign, from)
		b = codec.AppendUint(b, m.Term)
		b = appendFill(b, &m.Fill)
	case *MatchResult:
		b = appendHeader(b, 7, kindMatchResult, from)
		b = codec.AppendUint(b, m.Ticket)
		b = codec.AppendInt(b, int64(m.Outcome))
		b = codec.AppendUint(b, uint64(m.Room))
		b = codec.AppendStr(b, m.Code)
		b = codec.AppendStr(b, m.Region)
		b = codec.AppendInt(b, m.WaitedMs)
		b = codec.AppendArrayLen(b, len(m.Players))
		for _, p := range m.Players {
			b = codec.AppendArrayLen(b, 3)
			b = codec.AppendUint(b, uint64(p.Player))
			b = codec.AppendInt(b, int64(p.Team))
			b = codec.AppendStr(b, p.Seat)
		}
	default:
		return b, fmt.Errorf("cluster: %T does not cross nodes", m)
	}
	if len(b) > maxWire {
		return nil, fmt.Errorf("cluster: message of %d bytes, over %d", len(b), maxWire)
	}
	return b, nil
}

// decodeMessage reads a message from another node.
func decodeMessage(b []byte) (Message, uint8, error) {
	d := newDec(b)
	n := d.version(2)
	k := msgKind(d.uint(math.MaxUint8))
	from := uint8(d.uint(math.MaxUint8))
	n -= 2
	var m Message
	known := 0
	switch k {
	case kindDM:
		known = 5
		x := &DirectMessage{}
		d.need(n, known)
		x.From = uint32(d.uint(math.MaxUint32))
		x.FromName = d.str(maxStr)
		x.To = uint32(d.uint(math.MaxUint32))
		x.TimeMs = d.int()
		x.Text = d.str(maxText)
		m = x
	case kindChannelLine:
		known = 5
		x := &ChannelLine{}
		d.need(n, known)
		x.Channel = d.str(maxStr)
		x.From = uint32(d.uint(math.MaxUint32))
		x.FromName = d.str(maxStr)
		x.TimeMs = d.int()
		x.Text = d.str(maxText)
		m = x
	case kindTicketAdd:
		known = 1
		d.need(n, known)
		m = &TicketAdd{Origin: from, Ticket: d.ticket()}
	case kindTicketCancel:
		known = 1
		d.need(n, known)
		m = &TicketCancel{Origin: from, ID: d.uint(math.MaxInt64)}
	case kindBackfillRequest:
		known = 1
		d.need(n, known)
		m = &BackfillRequest{Origin: from, Backfill: d.backfill()}
	case kindBackfillCancel:
		known = 1
		d.need(n, known)
		m = &BackfillCancel{Origin: from, ID: d.uint(math.MaxInt64)}
	case kindMatchAssign:
		known = 2
		d.need(n, known)
		x := &MatchAssign{Leader: from}
		x.Term = d.uint(math.MaxInt64)
		x.Match = d.match()
		m = x
	case kindFillAssign:
		known = 2
		d.need(n, known)
		x := &FillAssign{Leader: from}
		x.Term = d.uint(math.MaxInt64)
		x.Fill = d.fill()
		m = x
	case kindMatchResult:
		known = 7
		d.need(n, known)
		x := &MatchResult{From: from}
		x.Ticket = d.uint(math.MaxInt64)
		x.Outcome = int(d.uint(255))
		x.Room = uint32(d.uint(math.MaxUint32))
		x.Code = d.str(maxStr)
		x.Region = d.str(maxStr)
		x.WaitedMs = d.int()
		np := d.array(0, maxList)
		for range np {
			d.array(3, 3)
			x.Players = append(x.Players, MatchedSeat{
				Player: uint32(d.uint(math.MaxUint32)), Team: int(d.uint(math.MaxUint16)), Seat: d.str(maxTokenLen),
			})
			if d.err != nil {
				break
			}
		}
		m = x
	default:
		d.fail(fmt.Errorf("message kind %d", k))
	}
	d.rest(n, known)
	if err := d.done(k.String()); err != nil {
		return nil, 0, err
	}
	if from == 0 {
		return nil, 0, fmt.Errorf("%w: from node 0", errMalformed)
	}
	return m, from, nil
}

// need checks that a message body has at least the known fields.
func (d *dec) need(n, known int) {
	if d.err == nil && n < known {
		d.fail(fmt.Errorf("%d fields, want %d", n, known))
	}
}

func appendTicket(b []byte, t *match.Ticket) []byte {
	b = codec.AppendArrayLen(b, 6)
	b = codec.AppendUint(b, t.ID)
	b = codec.AppendStr(b, t.Mode)
	b = codec.AppendArrayLen(b, len(t.Players))
	for _, p := range t.Players {
		b = codec.AppendArrayLen(b, 2)
		b = codec.AppendUint(b, uint64(p.ID))
		b = codec.AppendFloat64(b, p.Skill)
	}
	b = appendStrs(b, t.Regions)
	b = appendStrMap(b, t.Props)
	return appendTime(b, t.Enqueued)
}

func (d *dec) ticket() match.Ticket {
	var t match.Ticket
	n := d.array(6, 32)
	t.ID = d.uint(math.MaxInt64)
	t.Mode = d.str(maxStr)
	np := d.array(0, maxList)
	for range np {
		d.array(2, 2)
		t.Players = append(t.Players, match.Player{ID: uint32(d.uint(math.MaxUint32)), Skill: d.float()})
		if d.err != nil {
			break
		}
	}
	t.Regions = d.strs(maxRegions, maxStr)
	t.Props = d.strMap()
	t.Enqueued = d.time()
	d.rest(n, 6)
	return t
}

func appendBackfill(b []byte, f *match.Backfill) []byte {
	b = codec.AppendArrayLen(b, 8)
	b = codec.AppendUint(b, f.ID)
	b = codec.AppendStr(b, f.Mode)
	b = codec.AppendStr(b, f.Region)
	b = codec.AppendFloat64(b, f.Skill)
	b = appendStrMap(b, f.Props)
	b = codec.AppendArrayLen(b, len(f.Seats))
	for _, s := range f.Seats {
		b = codec.AppendInt(b, int64(s))
	}
	b = appendTime(b, f.Created)
	return appendTime(b, f.Deadline)
}

func (d *dec) backfill() match.Backfill {
	var f match.Backfill
	n := d.array(8, 32)
	f.ID = d.uint(math.MaxInt64)
	f.Mode = d.str(maxStr)
	f.Region = d.str(maxStr)
	f.Skill = d.float()
	f.Props = d.strMap()
	ns := d.array(0, maxList)
	for range ns {
		f.Seats = append(f.Seats, int(d.uint(math.MaxUint16)))
		if d.err != nil {
			break
		}
	}
	f.Created = d.time()
	f.Deadline = d.time()
	d.rest(n, 8)
	return f
}

func appendMatched(b []byte, ps []match.MatchedPlayer) []byte {
	b = codec.AppendArrayLen(b, len(ps))
	for _, p := range ps {
		b = codec.AppendArrayLen(b, 3)
		b = codec.AppendUint(b, uint64(p.ID))
		b = codec.AppendUint(b, p.Ticket)
		b = codec.AppendInt(b, int64(p.Team))
	}
	return b
}

func (d *dec) matched() []match.MatchedPlayer {
	n := d.array(0, maxList)
	var out []match.MatchedPlayer
	for range n {
		d.array(3, 3)
		out = append(out, match.MatchedPlayer{
			ID: uint32(d.uint(math.MaxUint32)), Ticket: d.uint(math.MaxInt64), Team: int(d.uint(math.MaxUint16)),
		})
		if d.err != nil {
			break
		}
	}
	return out
}

func appendMatch(b []byte, m *match.Match) []byte {
	b = codec.AppendArrayLen(b, 7)
	b = codec.AppendStr(b, m.Mode)
	b = codec.AppendStr(b, m.Region)
	b = appendStrMap(b, m.Props)
	b = codec.AppendInt(b, int64(m.Teams))
	b = codec.AppendFloat64(b, m.Skill)
	b = appendU64s(b, m.Tickets)
	return appendMatched(b, m.Players)
}

func (d *dec) match() match.Match {
	var m match.Match
	n := d.array(7, 32)
	m.Mode = d.str(maxStr)
	m.Region = d.str(maxStr)
	m.Props = d.strMap()
	m.Teams = int(d.uint(math.MaxUint16))
	m.Skill = d.float()
	m.Tickets = d.u64s(maxList)
	m.Players = d.matched()
	d.rest(n, 7)
	return m
}

func appendFill(b []byte, f *match.Fill) []byte {
	b = codec.AppendArrayLen(b, 4)
	b = codec.AppendUint(b, f.Backfill)
	b = appendU64s(b, f.Tickets)
	b = appendMatched(b, f.Players)
	return codec.AppendInt(b, int64(f.Open))
}

func (d *dec) fill() match.Fill {
	var f match.Fill
	n := d.array(4, 32)
	f.Backfill = d.uint(math.MaxInt64)
	f.Tickets = d.u64s(maxList)
	f.Players = d.matched()
	f.Open = int(d.uint(math.MaxUint16))
	d.rest(n, 4)
	return f
}
