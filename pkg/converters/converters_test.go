package converters

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/clickhouse"
)

func decode(t *testing.T, s string) *clickhouse.Result {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var r clickhouse.Result
	if err := dec.Decode(&r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func TestFrameTypes(t *testing.T) {
	res := decode(t, `{"meta":[
		{"name":"time_unix","type":"UInt32"},
		{"name":"start_time_us","type":"UInt64"},
		{"name":"dt","type":"DateTime"},
		{"name":"dtz","type":"DateTime('Asia/Tokyo')"},
		{"name":"count","type":"UInt64"},
		{"name":"code","type":"Int32"},
		{"name":"ratio","type":"Float64"},
		{"name":"svc","type":"LowCardinality(String)"},
		{"name":"maybe","type":"Nullable(Int64)"},
		{"name":"protos","type":"Array(String)"},
		{"name":"_id","type":"UInt64"}],
	 "data":[
		[1700000000,"1700000000123456","2023-11-14 22:13:20","2023-11-15 07:13:20","18","-1",0.5,"checkout",null,["HTTP","gRPC"],"18446744073709551615"],
		[1700000001,"1700000001000000","2023-11-14 22:13:21","2023-11-15 07:13:21","7","200","inf","",42,[],"1"]],
	 "rows":2}`)
	f, err := Frame("log", res, map[string]Hint{
		"time_unix":     {Name: "time", Kind: UnixSeconds},
		"start_time_us": {Name: "start_time", Kind: UnixMicros},
		"_id":           {Kind: Text},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name string
		ft   data.FieldType
	}{
		{"time", data.FieldTypeTime}, {"start_time", data.FieldTypeTime}, {"dt", data.FieldTypeTime},
		{"dtz", data.FieldTypeTime}, {"count", data.FieldTypeInt64}, {"code", data.FieldTypeInt64},
		{"ratio", data.FieldTypeFloat64}, {"svc", data.FieldTypeString}, {"maybe", data.FieldTypeNullableInt64},
		{"protos", data.FieldTypeJSON}, {"_id", data.FieldTypeString},
	}
	for i, w := range want {
		if f.Fields[i].Name != w.name || f.Fields[i].Type() != w.ft {
			t.Errorf("field %d = %s %s, want %s %s", i, f.Fields[i].Name, f.Fields[i].Type(), w.name, w.ft)
		}
	}
	t0 := time.Unix(1700000000, 0).UTC()
	if got := f.Fields[0].At(0).(time.Time); !got.Equal(t0) {
		t.Errorf("time = %v", got)
	}
	if got := f.Fields[1].At(0).(time.Time); !got.Equal(t0.Add(123456 * time.Microsecond)) {
		t.Errorf("start_time = %v", got)
	}
	if got := f.Fields[2].At(0).(time.Time); !got.Equal(t0) {
		t.Errorf("DateTime (UTC) = %v", got)
	}
	if got := f.Fields[3].At(0).(time.Time); !got.Equal(t0) {
		t.Errorf("DateTime('Asia/Tokyo') = %v", got)
	}
	if f.Fields[4].At(0).(int64) != 18 || f.Fields[5].At(0).(int64) != -1 {
		t.Error("integers wrong")
	}
	if f.Fields[8].At(0).(*int64) != nil || *f.Fields[8].At(1).(*int64) != 42 {
		t.Error("nullable wrong")
	}
	if string(f.Fields[9].At(0).(json.RawMessage)) != `["HTTP","gRPC"]` {
		t.Errorf("array = %s", f.Fields[9].At(0))
	}
	if f.Fields[10].At(0).(string) != "18446744073709551615" {
		t.Error("64-bit id not exact")
	}
}

func TestFrameErrors(t *testing.T) {
	if _, err := Frame("x", decode(t, `{"meta":[{"name":"n","type":"UInt64"}],"data":[["nope"]]}`), nil); err == nil {
		t.Error("bad integer accepted")
	}
	if _, err := Frame("x", decode(t, `{"meta":[{"name":"n","type":"UInt64"}],"data":[[null]]}`), nil); err == nil {
		t.Error("null in non-nullable accepted")
	}
	if _, err := Frame("x", decode(t, `{"meta":[{"name":"a","type":"String"},{"name":"b","type":"String"}],"data":[["x"]]}`), nil); err == nil {
		t.Error("short row accepted")
	}
}
