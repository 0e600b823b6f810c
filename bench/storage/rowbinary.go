package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/flowlens/flowlens/pkg/schema"
)

// encoder writes rows in ClickHouse's RowBinary format, one function per column in the order
// of the table's columns in schema.json (columns the generator does not know get their type's
// default, so the bench keeps working as migrations add columns).
type encoder struct {
	w    *bufio.Writer
	cols []string
	put  []func(*encoder, *row)
	tmp  [binary.MaxVarintLen64]byte
}

func (e *encoder) u8(v uint8)   { e.w.WriteByte(v) }
func (e *encoder) u16(v uint16) { e.w.Write(binary.LittleEndian.AppendUint16(e.tmp[:0], v)) }
func (e *encoder) u32(v uint32) { e.w.Write(binary.LittleEndian.AppendUint32(e.tmp[:0], v)) }
func (e *encoder) u64(v uint64) { e.w.Write(binary.LittleEndian.AppendUint64(e.tmp[:0], v)) }
func (e *encoder) str(s string) {
	e.w.Write(binary.AppendUvarint(e.tmp[:0], uint64(len(s))))
	e.w.WriteString(s)
}
func (e *encoder) bytes(b []byte) {
	e.w.Write(binary.AppendUvarint(e.tmp[:0], uint64(len(b))))
	e.w.Write(b)
}

var l7Writers = map[string]func(*encoder, *row){
	"time":                       func(e *encoder, r *row) { e.u32(uint32(r.start / 1_000_000)) },
	"_id":                        func(e *encoder, r *row) { e.u64(r.id) },
	"start_time_us":              func(e *encoder, r *row) { e.u64(uint64(r.start)) },
	"end_time_us":                func(e *encoder, r *row) { e.u64(uint64(r.end)) },
	"response_duration_us":       func(e *encoder, r *row) { e.u64(uint64(max(0, r.end-r.start))) },
	"host":                       func(e *encoder, r *row) { e.str(r.host.name) },
	"observation_point":          func(e *encoder, r *row) { e.str(r.obs) },
	"signal_source":              func(e *encoder, r *row) { e.str(r.source) },
	"l7_protocol":                func(e *encoder, r *row) { e.str(r.proto) },
	"version":                    func(e *encoder, r *row) { e.str(r.version) },
	"request_type":               func(e *encoder, r *row) { e.str(r.rtype) },
	"request_domain":             func(e *encoder, r *row) { e.str(r.domain) },
	"request_resource":           func(e *encoder, r *row) { e.bytes(r.resource) },
	"endpoint":                   func(e *encoder, r *row) { e.str(r.endpoint) },
	"response_code":              func(e *encoder, r *row) { e.u32(uint32(r.code)) },
	"response_status":            func(e *encoder, r *row) { e.str(r.status) },
	"response_exception":         func(e *encoder, r *row) { e.str(r.exception) },
	"request_length":             func(e *encoder, r *row) { e.u32(r.reqLen) },
	"response_length":            func(e *encoder, r *row) { e.u32(r.respLen) },
	"trace_id":                   func(e *encoder, r *row) { e.str(r.traceID) },
	"span_id":                    func(e *encoder, r *row) { e.str(r.spanID) },
	"parent_span_id":             func(e *encoder, r *row) { e.str("") },
	"x_request_id":               func(e *encoder, r *row) { e.str(r.xrid) },
	"syscall_trace_id_request":   func(e *encoder, r *row) { e.u64(r.sysReq) },
	"syscall_trace_id_response":  func(e *encoder, r *row) { e.u64(r.sysResp) },
	"syscall_thread_request":     func(e *encoder, r *row) { e.u32(r.thrReq) },
	"syscall_thread_response":    func(e *encoder, r *row) { e.u32(r.thrResp) },
	"syscall_coroutine_request":  func(e *encoder, r *row) { e.u64(r.coReq) },
	"syscall_coroutine_response": func(e *encoder, r *row) { e.u64(r.coResp) },
	"syscall_cap_seq_request":    func(e *encoder, r *row) { e.u64(r.capReq) },
	"syscall_cap_seq_response":   func(e *encoder, r *row) { e.u64(r.capResp) },
	"tcp_seq_request":            func(e *encoder, r *row) { e.u32(r.seqReq) },
	"tcp_seq_response":           func(e *encoder, r *row) { e.u32(r.seqResp) },
	"flow_id":                    func(e *encoder, r *row) { e.u64(r.flowID) },
	"l4_protocol":                func(e *encoder, r *row) { e.str(r.l4prot) },
	"client_ip":                  func(e *encoder, r *row) { e.str(r.cip) },
	"client_port":                func(e *encoder, r *row) { e.u16(r.cport) },
	"server_ip":                  func(e *encoder, r *row) { e.str(r.sip) },
	"server_port":                func(e *encoder, r *row) { e.u16(r.sport) },
	"client_pid":                 func(e *encoder, r *row) { e.u32(r.cpid) },
	"server_pid":                 func(e *encoder, r *row) { e.u32(r.spid) },
	"client_process":             func(e *encoder, r *row) { e.str(r.cproc) },
	"server_process":             func(e *encoder, r *row) { e.str(r.sproc) },
	"client_service":             func(e *encoder, r *row) { e.str(r.csvc) },
	"server_service":             func(e *encoder, r *row) { e.str(r.ssvc) },
}

// defaultWriter writes a type's zero value.
func defaultWriter(typ string) (func(*encoder, *row), error) {
	switch {
	case typ == "String" || typ == "LowString":
		return func(e *encoder, _ *row) { e.str("") }, nil
	case strings.HasPrefix(typ, "Array("):
		return func(e *encoder, _ *row) { e.u8(0) }, nil
	case typ == "UInt8":
		return func(e *encoder, _ *row) { e.u8(0) }, nil
	case typ == "UInt16":
		return func(e *encoder, _ *row) { e.u16(0) }, nil
	case typ == "UInt32" || typ == "Int32" || typ == "DateTime":
		return func(e *encoder, _ *row) { e.u32(0) }, nil
	case typ == "UInt64" || typ == "Int64":
		return func(e *encoder, _ *row) { e.u64(0) }, nil
	case typ == "Float64":
		return func(e *encoder, _ *row) { e.u64(math.Float64bits(0)) }, nil
	}
	return nil, fmt.Errorf("bench: no RowBinary default for column type %s", typ)
}

func newEncoder(w *bufio.Writer) (*encoder, error) {
	t := schema.Get().Table("l7_flow_log")
	if t == nil {
		return nil, fmt.Errorf("schema.json has no l7_flow_log")
	}
	e := &encoder{w: w}
	for _, c := range t.Columns {
		f := l7Writers[c.Name]
		if f == nil {
			var err error
			if f, err = defaultWriter(c.Type); err != nil {
				return nil, err
			}
		}
		e.cols = append(e.cols, "`"+c.Name+"`")
		e.put = append(e.put, f)
	}
	return e, nil
}

func (e *encoder) write(r *row) {
	for _, f := range e.put {
		f(e, r)
	}
}
