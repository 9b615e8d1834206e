package codec

// AppendClient appends m as a complete frame (length prefix and body).
// Clients use it; the server only decodes these messages.
func AppendClient(b []byte, m *ClientMsg) []byte {
	b, start := BeginFrame(b)
	fields := int(minFields[m.Type])
	extras := m.Type == THello && (len(m.Auth) > 0 || len(m.Resume) > 0 || m.LastTick > 0)
	if extras {
		fields += helloExtras
	}
	if m.Type == TPing && m.AckedTick > 0 {
		fields++
	}
	b = AppendArrayLen(b, fields)
	b = AppendUint(b, uint64(m.Type))
	switch m.Type {
	case THello:
		b = AppendInt(b, m.Version)
		b = AppendStrBytes(b, m.Name)
		b = AppendProps(b, m.Props)
		if extras {
			b = AppendStrBytes(b, m.Auth)
			b = AppendStrBytes(b, m.Resume)
			b = AppendUint(b, m.LastTick)
		}
	case TCreateRoom:
		b = AppendUint(b, uint64(m.RID))
		b = AppendStrBytes(b, m.Mode)
		b = AppendUint(b, uint64(m.MaxPlayers))
		b = AppendBool(b, m.Public)
		b = AppendProps(b, m.Props)
	case TJoinRoom:
		b = AppendUint(AppendUint(b, uint64(m.RID)), uint64(m.RoomID))
	case TJoinCode:
		b = AppendStrBytes(AppendUint(b, uint64(m.RID)), m.Code)
	case TListRooms:
		b = AppendUint(b, uint64(m.RID))
		b = AppendStrBytes(b, m.Mode)
		b = AppendProps(b, m.Props)
		b = AppendUint(b, uint64(m.Limit))
	case TJoinOrCreate:
		b = AppendUint(b, uint64(m.RID))
		b = AppendStrBytes(b, m.Mode)
		b = AppendProps(b, m.Props)
		b = AppendUint(b, uint64(m.MaxPlayers))
	case TLeaveRoom:
		b = AppendUint(b, uint64(m.RID))
	case TSetRoomProps, TSetPlayerProps:
		b = AppendProps(AppendUint(b, uint64(m.RID)), m.Props)
	case TSetLocked:
		b = AppendBool(AppendUint(b, uint64(m.RID)), m.Locked)
	case TKick:
		b = AppendUint(AppendUint(b, uint64(m.RID)), uint64(m.PlayerID))
	case TState:
		b = AppendRawOrNil(b, m.Value)
	case TEvent:
		b = AppendUint(b, uint64(m.Target))
		b = AppendUint(b, uint64(m.EventCode))
		b = AppendRawOrNil(b, m.Value)
		if m.Target == TargetList {
			b = AppendArrayLen(b, len(m.Targets))
			for _, id := range m.Targets {
				b = AppendUint(b, uint64(id))
			}
		} else {
			b = AppendNil(b)
		}
	case TChat:
		b = AppendStrBytes(AppendUint(b, uint64(m.To)), m.Text)
	case TPing:
		b = AppendInt(b, m.ClientTime)
		if m.AckedTick > 0 {
			b = AppendUint(b, m.AckedTick)
		}
	case TBye:
	case TQueueJoin:
		b = AppendUint(b, uint64(m.RID))
		b = AppendStrBytes(b, m.Mode)
		if m.Regions == nil {
			b = AppendNil(b)
		} else {
			b = AppendArrayLen(b, len(m.Regions))
			for _, r := range m.Regions {
				b = AppendStrBytes(b, r)
			}
		}
		b = AppendFloat64(b, m.Skill)
		b = AppendProps(b, m.Props)
	case TQueueLeave, TPartyCreate, TPartyLeave:
		b = AppendUint(b, uint64(m.RID))
	case TBackfill:
		b = AppendArrayLen(AppendUint(b, uint64(m.RID)), len(m.Seats))
		for _, s := range m.Seats {
			b = AppendUint(b, uint64(s))
		}
	case TPartyJoin:
		b = AppendStrBytes(AppendUint(b, uint64(m.RID)), m.Code)
	case TChannelJoin, TChannelLeave, TChannelMembers:
		b = AppendStrBytes(AppendUint(b, uint64(m.RID)), m.Channel)
	case TChannelSay:
		b = AppendStrBytes(AppendStrBytes(b, m.Channel), m.Text)
	case TJoinSeat:
		b = AppendStrBytes(AppendUint(b, uint64(m.RID)), m.Code)
	case TPeerPacket:
		b = AppendInt(b, m.PeerTo)
		b = AppendUint(b, uint64(m.PeerMode))
		b = AppendUint(b, uint64(m.PeerChannel))
		b = AppendBin(b, m.Value)
	}
	EndFrame(b, start)
	return b
}

// AppendProps appends props as a string-keyed map (nil for no props).
func AppendProps(b []byte, props []Prop) []byte {
	if props == nil {
		return AppendNil(b)
	}
	b = AppendMapLen(b, len(props))
	for _, p := range props {
		b = AppendStrBytes(b, p.Key)
		b = AppendRawOrNil(b, p.Value)
	}
	return b
}
