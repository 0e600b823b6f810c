package tcptimeline

import (
	"reflect"
	"testing"
)

// A response of three segments whose second is lost and resent twice (a fast retransmit, then an
// RTO), the client's ACKs, and a keep-alive client's next request 200 ms later.
func TestAnalyzeFindsEachResendAndItsLostCopy(t *testing.T) {
	const ack, psh = FlagACK, FlagACK | 0x08
	pkts := []Packet{
		{TimeUs: 0, Dir: 0, Flags: FlagSYN, Seq: 99},
		{TimeUs: 10, Dir: 1, Flags: FlagSYN | FlagACK, Seq: 499, Ack: 100},
		{TimeUs: 20, Dir: 0, Flags: ack, Seq: 100, Ack: 500},
		{TimeUs: 30, Dir: 0, Flags: psh, Seq: 100, Ack: 500, PayloadLen: 50}, // request
		{TimeUs: 1000, Dir: 1, Flags: ack, Seq: 500, Ack: 150, PayloadLen: 1000},
		{TimeUs: 1010, Dir: 1, Flags: ack, Seq: 1500, Ack: 150, PayloadLen: 1000}, // lost
		{TimeUs: 1020, Dir: 1, Flags: psh, Seq: 2500, Ack: 150, PayloadLen: 500},
		{TimeUs: 1100, Dir: 0, Flags: ack, Seq: 150, Ack: 1500},
		{TimeUs: 1300, Dir: 1, Flags: ack, Seq: 1500, Ack: 150, PayloadLen: 1000},   // fast retransmit
		{TimeUs: 201300, Dir: 1, Flags: ack, Seq: 1500, Ack: 150, PayloadLen: 1000}, // RTO
		{TimeUs: 201400, Dir: 0, Flags: ack, Seq: 150, Ack: 3000},
		{TimeUs: 401400, Dir: 0, Flags: psh, Seq: 150, Ack: 3000, PayloadLen: 50}, // the next request
	}
	intervals, resent := Analyze(pkts)
	want := []Retransmission{
		{Dir: 1, Seq: 1500, Len: 1000, FirstUs: 1010, ResentUs: 1300},
		{Dir: 1, Seq: 1500, Len: 1000, FirstUs: 1010, ResentUs: 201300},
	}
	if !reflect.DeepEqual(resent, want) {
		t.Errorf("resent %+v, want %+v", resent, want)
	}
	if resent[1].WaitUs() != 200290 {
		t.Errorf("wait %d", resent[1].WaitUs())
	}
	kinds := make([]string, len(pkts))
	for i, p := range pkts {
		kinds[i] = p.Kind
	}
	if !reflect.DeepEqual(kinds, []string{PacketSYN, PacketSYNACK, PacketACK, PacketData, PacketData, PacketData, PacketData, PacketACK,
		PacketRetrans, PacketRetrans, PacketACK, PacketData}) {
		t.Errorf("kinds %v", kinds)
	}
	var wait []Interval
	for _, iv := range intervals {
		if iv.Kind == LatencyClientWait || iv.Kind == LatencyServerResponse {
			wait = append(wait, iv)
		}
	}
	// the server answered 970 µs after the request; the client waited from the last new response byte
	if !reflect.DeepEqual(wait, []Interval{{LatencyServerResponse, 30, 1000}, {LatencyClientWait, 1020, 401400}}) {
		t.Errorf("intervals %+v", wait)
	}
	// a row that starts mid-stream knows the first copy it holds
	_, resent = Analyze(append([]Packet(nil), pkts[8:10]...))
	if !reflect.DeepEqual(resent, []Retransmission{{Dir: 1, Seq: 1500, Len: 1000, FirstUs: 1300, ResentUs: 201300}}) {
		t.Errorf("mid-stream: %+v", resent)
	}
}

// A server that closes right after its last write sends the FIN on that last data segment; when
// that segment is lost, the resend carries the FIN too and is a retransmission all the same (the
// kernel's tcp_retransmit_skb counts it; it once read as a second FIN and the NIC was one short of
// the socket). A lone FIN lost and sent again is a retransmitted segment too.
func TestAnalyzeCountsResentFINs(t *testing.T) {
	const ack, fin = FlagACK, FlagACK | FlagFIN
	pkts := []Packet{
		{TimeUs: 0, Dir: 0, Flags: FlagSYN, Seq: 99},
		{TimeUs: 10, Dir: 1, Flags: FlagSYN | FlagACK, Seq: 499, Ack: 100},
		{TimeUs: 20, Dir: 0, Flags: ack, Seq: 100, Ack: 500, PayloadLen: 50},
		{TimeUs: 1000, Dir: 1, Flags: ack, Seq: 500, Ack: 150, PayloadLen: 1000},
		{TimeUs: 1010, Dir: 1, Flags: fin, Seq: 1500, Ack: 150, PayloadLen: 400}, // lost
		{TimeUs: 1100, Dir: 0, Flags: ack, Seq: 150, Ack: 1500},
		{TimeUs: 201010, Dir: 1, Flags: fin, Seq: 1500, Ack: 150, PayloadLen: 400}, // RTO: data and FIN again
		{TimeUs: 201100, Dir: 0, Flags: fin, Seq: 150, Ack: 1901},                  // the client's FIN, lost
		{TimeUs: 401100, Dir: 0, Flags: fin, Seq: 150, Ack: 1901},                  // and sent again
		{TimeUs: 401200, Dir: 1, Flags: ack, Seq: 1901, Ack: 151},
	}
	_, resent := Analyze(pkts)
	want := []Retransmission{
		{Dir: 1, Seq: 1500, Len: 400, FirstUs: 1010, ResentUs: 201010},
		{Dir: 0, Seq: 150, FirstUs: 201100, ResentUs: 401100, FIN: true},
	}
	if !reflect.DeepEqual(resent, want) {
		t.Errorf("resent %+v, want %+v", resent, want)
	}
	kinds := make([]string, len(pkts))
	for i, p := range pkts {
		kinds[i] = p.Kind
	}
	if !reflect.DeepEqual(kinds, []string{PacketSYN, PacketSYNACK, PacketData, PacketData, PacketFIN, PacketACK, PacketRetrans, PacketFIN, PacketRetrans, PacketACK}) {
		t.Errorf("kinds %v", kinds)
	}
}
