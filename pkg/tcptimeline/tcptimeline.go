// Package tcptimeline reads the packets of one TCP flow as an observation point saw them
// (tcp_timeline's event arrays) and derives what the network profile and the trace's network
// evidence show: each packet's kind, the four latencies and the retransmitted segments with the
// time their lost copy was sent. One pass, linear in the packets (a row holds at most 256).
package tcptimeline

import (
	"fmt"
	"sort"

	"github.com/flowlens/flowlens/pkg/converters"
)

// TCP flags of tcp_timeline.event_tcp_flags.
const (
	FlagFIN = 0x01
	FlagSYN = 0x02
	FlagRST = 0x04
	FlagACK = 0x10
)

// Packet kinds.
const (
	PacketSYN     = "syn"
	PacketSYNACK  = "syn_ack"
	PacketACK     = "ack"
	PacketData    = "data"
	PacketRetrans = "retransmission"
	PacketFIN     = "fin"
	PacketRST     = "rst"
)

// Latency kinds: the four latencies of the Network Profile.
const (
	LatencyConnection     = "connection"      // SYN → the ACK of the SYN/ACK
	LatencySystemACK      = "system_ack"      // a data segment → the peer's ACK covering it (the largest only)
	LatencyServerResponse = "server_response" // last request byte → first response byte
	LatencyClientWait     = "client_wait"     // last response byte → next request byte
)

// Packet is one packet of a flow as one observation point saw it.
type Packet struct {
	TimeUs     int64
	Dir        int // 0 client → server, 1 server → client
	Flags      int
	Seq, Ack   uint32
	PayloadLen int64
	Kind       string
	// Window is the TCP window field as sent (unscaled), nil in rows written before tcp_timeline kept it
	Window *int64
}

// ZeroWindow says the packet advertises a zero window (its sender's receive buffer is full), as the
// agent counts it: a RST's window means nothing and a SYN's is never a stopped reader.
func (p Packet) ZeroWindow() bool {
	return p.Window != nil && *p.Window == 0 && p.Flags&(FlagRST|FlagSYN) == 0
}

// Interval is one latency of the flow at one observation point.
type Interval struct {
	Kind           string
	StartUs, EndUs int64
}

// Retransmission is a data segment (or a lone FIN) sent again: when its first copy and the resend
// were seen. FirstUs is 0 when the first copy is not among the packets (sent before the row's first
// packet).
type Retransmission struct {
	Dir               int
	Seq               uint32
	Len               int64
	FirstUs, ResentUs int64
	FIN               bool // a FIN without data sent again (Len 0)
}

// WaitUs is how long the data waited for the resend (0 when the first copy is unknown).
func (r Retransmission) WaitUs() int64 {
	if r.FirstUs == 0 {
		return 0
	}
	return max(0, r.ResentUs-r.FirstUs)
}

// seqDiff is a - b in sequence space, as a signed 32-bit difference.
func seqDiff(a, b uint32) int32 { return int32(a - b) }

// sent is new data of one direction: where it starts and when it was first seen.
type sent struct {
	seq uint32
	tUs int64
}

// firstSent is when the byte at seq was first seen among new data sent in order (nil: not seen).
func firstSent(list []sent, seq uint32) int64 {
	i := sort.Search(len(list), func(i int) bool { return seqDiff(list[i].seq, seq) > 0 })
	if i == 0 {
		return 0
	}
	return list[i-1].tUs
}

// Analyze classifies the packets of one observation point (oldest first), setting each one's Kind,
// and derives its latencies the way the agent does (src/agent/network/packets/tcpTimeline.ts): the
// handshake, each turn of the conversation (server response, client wait) and the largest ACK
// latency; resent data counts as neither request nor response bytes and is listed with the time its
// first copy was seen.
func Analyze(pkts []Packet) ([]Interval, []Retransmission) {
	var out []Interval
	var resent []Retransmission
	var synUs, synAckUs int64 = -1, -1
	var synAckSeq uint32
	connDone := false
	var nextSeq [2]*uint32
	var finUs [2]int64 // when each direction's FIN was first seen
	type unacked struct {
		end  uint32
		tsUs int64
	}
	var queue [2][]unacked
	var firsts [2][]sent
	lastDataDir := -1
	var lastDataUs [2]int64
	var bestAck *Interval
	for i := range pkts {
		p := &pkts[i]
		dir := p.Dir & 1
		f := p.Flags
		switch {
		case f&FlagSYN != 0:
			if f&FlagACK != 0 {
				p.Kind, synAckUs, synAckSeq = PacketSYNACK, p.TimeUs, p.Seq
			} else {
				p.Kind, synUs, synAckUs = PacketSYN, p.TimeUs, -1
			}
			n := p.Seq + 1
			nextSeq[dir] = &n
			continue
		case f&FlagRST != 0:
			p.Kind = PacketRST
		case f&FlagFIN != 0:
			p.Kind = PacketFIN
		case p.PayloadLen > 0:
			p.Kind = PacketData
		default:
			p.Kind = PacketACK
		}
		if f&FlagACK != 0 {
			if !connDone && synUs >= 0 && synAckUs >= 0 && dir == 0 && p.Ack == synAckSeq+1 {
				out = append(out, Interval{Kind: LatencyConnection, StartUs: synUs, EndUs: p.TimeUs})
				connDone = true
			}
			q := queue[1-dir]
			var covered *unacked
			for len(q) > 0 && seqDiff(p.Ack, q[0].end) >= 0 {
				covered = &q[0]
				q = q[1:]
			}
			queue[1-dir] = q
			if covered != nil && (bestAck == nil || p.TimeUs-covered.tsUs > bestAck.EndUs-bestAck.StartUs) {
				bestAck = &Interval{Kind: LatencySystemACK, StartUs: covered.tsUs, EndUs: p.TimeUs}
			}
		}
		if f&FlagRST != 0 {
			continue
		}
		if p.PayloadLen == 0 {
			if f&FlagFIN != 0 {
				end := p.Seq + 1
				if nextSeq[dir] != nil && seqDiff(end, *nextSeq[dir]) <= 0 && finUs[dir] > 0 {
					// the FIN sent again: the kernel counts it as a retransmitted segment, so do we
					p.Kind = PacketRetrans
					resent = append(resent, Retransmission{Dir: dir, Seq: p.Seq, FirstUs: finUs[dir], ResentUs: p.TimeUs, FIN: true})
				} else if nextSeq[dir] == nil || seqDiff(end, *nextSeq[dir]) > 0 {
					nextSeq[dir], finUs[dir] = &end, p.TimeUs
				}
			}
			continue
		}
		end := p.Seq + uint32(p.PayloadLen)
		if next := nextSeq[dir]; next != nil && seqDiff(*next, p.Seq) >= int32(p.PayloadLen) {
			// resent data, the last segment's FIN riding on it or not: closing right after the last
			// write merges the FIN into that segment, and losing it resends both
			p.Kind = PacketRetrans
			resent = append(resent, Retransmission{Dir: dir, Seq: p.Seq, Len: p.PayloadLen, FirstUs: firstSent(firsts[dir], p.Seq), ResentUs: p.TimeUs})
			continue
		}
		nextSeq[dir] = &end
		if f&FlagFIN != 0 {
			e := end + 1
			nextSeq[dir], finUs[dir] = &e, p.TimeUs
		}
		firsts[dir] = append(firsts[dir], sent{p.Seq, p.TimeUs})
		if len(queue[dir]) >= 64 {
			queue[dir] = queue[dir][1:]
		}
		queue[dir] = append(queue[dir], unacked{end, p.TimeUs})
		if lastDataDir >= 0 && lastDataDir != dir {
			kind := LatencyClientWait
			if dir == 1 {
				kind = LatencyServerResponse
			}
			out = append(out, Interval{Kind: kind, StartUs: lastDataUs[lastDataDir], EndUs: p.TimeUs})
		}
		lastDataDir, lastDataUs[dir] = dir, p.TimeUs
	}
	if bestAck != nil {
		out = append(out, *bestAck)
	}
	return out, resent
}

// EventColumns are tcp_timeline's packet arrays, in Packet's field order.
var EventColumns = []string{"event_time_us", "event_direction", "event_tcp_flags", "event_seq", "event_ack", "event_payload_len"}

// WindowColumn holds each packet's TCP window (migration 9): optional, rows written before it
// (and answers that do not select it) have none.
const WindowColumn = "event_window"

// RowPackets reads the packets of one tcp_timeline row from its event arrays (value of each of
// EventColumns and WindowColumn, as the JSON answer gives them; nil for a column not selected).
func RowPackets(value func(column string) any) ([]Packet, error) {
	ints := func(c string) ([]int64, error) {
		arr, ok := value(c).([]any)
		if !ok {
			return nil, fmt.Errorf("%s: expected an array, got %T", c, value(c))
		}
		out := make([]int64, len(arr))
		for j, x := range arr {
			n, err := converters.Int64(x)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c, err)
			}
			out[j] = n
		}
		return out, nil
	}
	var arrays [6][]int64
	for i, c := range EventColumns {
		a, err := ints(c)
		if err != nil {
			return nil, err
		}
		if len(a) != len(arrays[0]) && i > 0 {
			return nil, fmt.Errorf("event arrays of different lengths")
		}
		arrays[i] = a
	}
	var windows []int64
	if value(WindowColumn) != nil {
		w, err := ints(WindowColumn)
		if err != nil || (len(w) != len(arrays[0]) && len(w) != 0) {
			return nil, fmt.Errorf("%s: %d windows of %d packets (%v)", WindowColumn, len(w), len(arrays[0]), err)
		}
		windows = w
	}
	out := make([]Packet, len(arrays[0]))
	for i := range out {
		out[i] = Packet{TimeUs: arrays[0][i], Dir: int(arrays[1][i]), Flags: int(arrays[2][i]), Seq: uint32(arrays[3][i]),
			Ack: uint32(arrays[4][i]), PayloadLen: arrays[5][i]}
		if len(windows) == len(out) {
			out[i].Window = &windows[i]
		}
	}
	return out, nil
}
