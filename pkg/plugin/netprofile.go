package plugin

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/clickhouse"
	"github.com/flowlens/flowlens/pkg/converters"
	"github.com/flowlens/flowlens/pkg/query"
	"github.com/flowlens/flowlens/pkg/tcptimeline"
)

// NetProfilePanelID is the panel that draws the network profile (Explore opens it where it can).
const NetProfilePanelID = "flowlens-netprofile-panel"

// profilePoint is what one observation point (host, namespace, interface) saw of the flow.
type profilePoint struct {
	key, obs, host, netns, iface string
	packets                      []tcptimeline.Packet
	stats                        map[string]int64 // summed or max'd latency columns
	meanSums                     map[string]int64 // latency mean × count, for the weighted mean
	truncated                    int64
}

// profileStatColumns are the tcp_timeline latency columns the latencies frame carries, in order.
var profileStatColumns = []string{"conn_latency_us", "ack_latency_us", "ack_latency_max_us", "ack_count",
	"server_response_us", "server_response_max_us", "server_response_count", "client_wait_us", "client_wait_max_us", "client_wait_count",
	"packet_count", "retrans_count", "events_truncated", "zero_window_count"}

// profileMeans pairs each mean column with its sample count.
var profileMeans = map[string]string{"ack_latency_us": "ack_count", "server_response_us": "server_response_count", "client_wait_us": "client_wait_count"}

func (d *Datasource) netProfile(ctx context.Context, raw []byte, r query.Range) (data.Frames, error) {
	m, err := query.ParseNet(raw)
	if err != nil {
		return nil, badQuery{err}
	}
	st, err := query.BuildNetProfile(d.settings.Database, m, r)
	if err != nil {
		return nil, badQuery{err}
	}
	res, err := d.client.Query(ctx, st.SQL)
	if err != nil {
		return nil, err
	}
	return netProfileFrames(res, st, m)
}

// readProfilePoints groups tcp_timeline rows by observation point (rows of one point in time order:
// a flow is written again every 60 s and when idle).
func readProfilePoints(res *clickhouse.Result) ([]*profilePoint, error) {
	idx := map[string]int{}
	for i, c := range res.Meta {
		idx[c.Name] = i
	}
	for _, c := range append(append([]string{"host", "netns", "interface", "observation_point"}, tcptimeline.EventColumns...), profileStatColumns...) {
		if _, ok := idx[c]; !ok {
			return nil, fmt.Errorf("tcp_timeline answer lacks column %s", c)
		}
	}
	byKey := map[string]*profilePoint{}
	var points []*profilePoint
	for ri, row := range res.Data {
		if len(row) < len(res.Meta) {
			return nil, fmt.Errorf("tcp_timeline row %d has %d columns, want %d", ri, len(row), len(res.Meta))
		}
		s := func(c string) string { return converters.String(row[idx[c]]) }
		obs, host, netns, iface := s("observation_point"), s("host"), s("netns"), s("interface")
		where := iface
		if netns != "" {
			where = netns + "/" + iface
		}
		key := obs + " " + host + ":" + where
		p := byKey[key]
		if p == nil {
			p = &profilePoint{key: key, obs: obs, host: host, netns: netns, iface: iface, stats: map[string]int64{}, meanSums: map[string]int64{}}
			byKey[key] = p
			points = append(points, p)
		}
		pkts, err := tcptimeline.RowPackets(func(c string) any {
			if i, ok := idx[c]; ok {
				return row[i]
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("tcp_timeline row %d: %w", ri, err)
		}
		p.packets = append(p.packets, pkts...)
		for _, c := range profileStatColumns {
			v, err := converters.Int64(row[idx[c]])
			if err != nil {
				return nil, fmt.Errorf("tcp_timeline row %d %s: %w", ri, c, err)
			}
			switch {
			case strings.HasSuffix(c, "_max_us"):
				p.stats[c] = max(p.stats[c], v)
			case c == "conn_latency_us":
				if p.stats[c] == 0 {
					p.stats[c] = v
				}
			case profileMeans[c] != "":
				n, _ := converters.Int64(row[idx[profileMeans[c]]])
				p.meanSums[c] += v * n
			default:
				p.stats[c] += v
			}
		}
		p.truncated = p.stats["events_truncated"]
	}
	for _, p := range points {
		for c, countCol := range profileMeans {
			if n := p.stats[countCol]; n > 0 {
				p.stats[c] = (p.meanSums[c] + n/2) / n
			}
		}
		sort.SliceStable(p.packets, func(i, j int) bool { return p.packets[i].TimeUs < p.packets[j].TimeUs })
	}
	// client side first, in the order a request crosses them
	rank := map[string]int{"client_process": 0, "client_nic": 1, "gateway": 2, "server_nic": 3, "server_process": 4}
	sort.SliceStable(points, func(i, j int) bool { return rank[points[i].obs] < rank[points[j].obs] })
	return points, nil
}

// flagText names a packet's TCP flags as tcpdump does (SYN|ACK).
func flagText(f int) string {
	var parts []string
	for _, x := range []struct {
		bit  int
		name string
	}{{tcptimeline.FlagSYN, "SYN"}, {tcptimeline.FlagFIN, "FIN"}, {tcptimeline.FlagRST, "RST"}, {0x08, "PSH"}, {tcptimeline.FlagACK, "ACK"}, {0x20, "URG"}} {
		if f&x.bit != 0 {
			parts = append(parts, x.name)
		}
	}
	return strings.Join(parts, "|")
}

// netProfileFrames builds the network profile's three frames: "packets" (one row per packet per
// observation point: its lane, direction, kind, flags, sequence numbers, payload size), "intervals"
// (the latencies derived from those packets: handshake, each server response and client wait, the
// largest ACK latency) and "latencies" (per observation point, the agent's four latencies over every
// packet, stored ones and those beyond the 256 a row keeps).
func netProfileFrames(res *clickhouse.Result, st *query.Statement, m *query.NetModel) (data.Frames, error) {
	points, err := readProfilePoints(res)
	if err != nil {
		return nil, err
	}
	var notices []data.Notice
	if len(res.Data) > st.Limit {
		notices = append(notices, data.Notice{Severity: data.NoticeSeverityWarning,
			Text: fmt.Sprintf("more than %d timeline rows for this flow: the first %d are shown; narrow the time range", st.Limit, st.Limit)})
	}
	pk := struct {
		t                                         []time.Time
		us, seq, ack, size                        []int64
		point, obs, host, iface, dir, kind, flags []string
		window                                    []*int64
		zeroWindow                                []bool
	}{}
	iv := struct {
		point, obs, kind    []string
		start               []time.Time
		startUs, endUs, dur []int64
	}{}
	lat := map[string][]int64{}
	var latPoint, latObs, latHost, latNetns, latIface []string
	var stored []int64
	for _, p := range points {
		intervals, _ := tcptimeline.Analyze(p.packets)
		for _, x := range p.packets {
			pk.t = append(pk.t, time.UnixMicro(x.TimeUs).UTC())
			pk.us, pk.seq, pk.ack, pk.size = append(pk.us, x.TimeUs), append(pk.seq, int64(x.Seq)), append(pk.ack, int64(x.Ack)), append(pk.size, x.PayloadLen)
			dir := "client_to_server"
			if x.Dir == 1 {
				dir = "server_to_client"
			}
			pk.point, pk.obs, pk.host, pk.iface = append(pk.point, p.key), append(pk.obs, p.obs), append(pk.host, p.host), append(pk.iface, p.iface)
			pk.dir, pk.kind, pk.flags = append(pk.dir, dir), append(pk.kind, x.Kind), append(pk.flags, flagText(x.Flags))
			pk.window, pk.zeroWindow = append(pk.window, x.Window), append(pk.zeroWindow, x.ZeroWindow())
		}
		for _, x := range intervals {
			iv.point, iv.obs, iv.kind = append(iv.point, p.key), append(iv.obs, p.obs), append(iv.kind, x.Kind)
			iv.start, iv.startUs, iv.endUs, iv.dur = append(iv.start, time.UnixMicro(x.StartUs).UTC()), append(iv.startUs, x.StartUs), append(iv.endUs, x.EndUs), append(iv.dur, x.EndUs-x.StartUs)
		}
		latPoint, latObs, latHost, latNetns, latIface = append(latPoint, p.key), append(latObs, p.obs), append(latHost, p.host), append(latNetns, p.netns), append(latIface, p.iface)
		stored = append(stored, int64(len(p.packets)))
		for _, c := range profileStatColumns {
			lat[c] = append(lat[c], p.stats[c])
		}
		if p.truncated > 0 {
			notices = append(notices, data.Notice{Severity: data.NoticeSeverityInfo,
				Text: fmt.Sprintf("%s: %d of %d packets are drawn (a timeline row keeps its first 256); the latencies count them all", p.key, len(p.packets), p.stats["packet_count"])})
		}
	}
	flow := fmt.Sprintf("%s:%d → %s:%d", m.ClientIP[0], m.ClientPort[0], m.ServerIP[0], m.ServerPort[0])
	if len(points) == 0 {
		notices = append(notices, data.Notice{Severity: data.NoticeSeverityInfo,
			Text: fmt.Sprintf("no packet timeline of %s in the time range: packet capture records TCP flows that cross a captured interface (network.capture), written when they close, go idle or every 60 s", flow)})
	}
	packets := data.NewFrame("packets",
		data.NewField("time", nil, nonNil(pk.t)), data.NewField("time_us", nil, nonNil(pk.us)), data.NewField("point", nil, nonNil(pk.point)),
		data.NewField("observation_point", nil, nonNil(pk.obs)), data.NewField("host", nil, nonNil(pk.host)), data.NewField("interface", nil, nonNil(pk.iface)),
		data.NewField("direction", nil, nonNil(pk.dir)), data.NewField("kind", nil, nonNil(pk.kind)), data.NewField("flags", nil, nonNil(pk.flags)),
		data.NewField("seq", nil, nonNil(pk.seq)), data.NewField("ack", nil, nonNil(pk.ack)), data.NewField("payload_len", nil, nonNil(pk.size)),
		data.NewField("window", nil, nonNil(pk.window)), data.NewField("zero_window", nil, nonNil(pk.zeroWindow)))
	packets.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable, PreferredVisualizationPluginID: NetProfilePanelID, ExecutedQueryString: st.SQL, Notices: notices,
		Custom: map[string]any{"flow": map[string]any{"client_ip": m.ClientIP[0], "client_port": m.ClientPort[0], "server_ip": m.ServerIP[0], "server_port": m.ServerPort[0]}}}
	intervals := data.NewFrame("intervals",
		data.NewField("point", nil, nonNil(iv.point)), data.NewField("observation_point", nil, nonNil(iv.obs)), data.NewField("kind", nil, nonNil(iv.kind)),
		data.NewField("start", nil, nonNil(iv.start)), data.NewField("start_us", nil, nonNil(iv.startUs)), data.NewField("end_us", nil, nonNil(iv.endUs)),
		data.NewField("duration_us", nil, nonNil(iv.dur)))
	intervals.Fields[6].Config = &data.FieldConfig{Unit: "µs"}
	latencies := data.NewFrame("latencies",
		data.NewField("point", nil, nonNil(latPoint)), data.NewField("observation_point", nil, nonNil(latObs)), data.NewField("host", nil, nonNil(latHost)),
		data.NewField("netns", nil, nonNil(latNetns)), data.NewField("interface", nil, nonNil(latIface)))
	for _, c := range profileStatColumns {
		fld := data.NewField(c, nil, nonNil(lat[c]))
		if strings.HasSuffix(c, "_us") {
			fld.Config = &data.FieldConfig{Unit: "µs"}
		}
		latencies.Fields = append(latencies.Fields, fld)
	}
	latencies.Fields = append(latencies.Fields, data.NewField("events_stored", nil, nonNil(stored)))
	for _, f := range []*data.Frame{intervals, latencies} {
		f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	}
	return data.Frames{packets, intervals, latencies}, nil
}

// nonNil gives a field an empty slice rather than nil (a nil slice has no element type).
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
