// Package converters turns ClickHouse JSONCompact results into Grafana data frames with
// proper field types: time as time.Time, integers as int64, floats as float64.
package converters

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/clickhouse"
)

// Kind overrides how a column is converted.
type Kind int

const (
	Auto        Kind = iota // by ClickHouse type
	UnixSeconds             // integer seconds since epoch → time.Time
	UnixMicros              // integer µs since epoch → time.Time
	Text                    // any value → its decimal/text form (exact 64-bit ids for JavaScript)
)

// Hint renames a column (Name, optional) and sets its Kind.
type Hint struct {
	Name string
	Kind Kind
}

// Frame converts a result into a frame named name.
func Frame(name string, res *clickhouse.Result, hints map[string]Hint) (*data.Frame, error) {
	frame := data.NewFrame(name)
	for ci, col := range res.Meta {
		h := hints[col.Name]
		fieldName := col.Name
		if h.Name != "" {
			fieldName = h.Name
		}
		conv, ft, err := converterFor(col.Type, h.Kind)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", col.Name, err)
		}
		field := data.NewFieldFromFieldType(ft, len(res.Data))
		field.Name = fieldName
		for ri, row := range res.Data {
			if ci >= len(row) {
				return nil, fmt.Errorf("row %d has %d values, meta has %d columns", ri, len(row), len(res.Meta))
			}
			v, err := conv(row[ci])
			if err != nil {
				return nil, fmt.Errorf("column %s row %d: %w", col.Name, ri, err)
			}
			field.Set(ri, v)
		}
		frame.Fields = append(frame.Fields, field)
	}
	return frame, nil
}

type convFunc func(any) (any, error)

// converterFor picks the conversion for a ClickHouse type.
func converterFor(chType string, kind Kind) (convFunc, data.FieldType, error) {
	t := strings.TrimSpace(chType)
	if inner, ok := unwrap(t, "LowCardinality"); ok {
		t = inner
	}
	nullable := false
	if inner, ok := unwrap(t, "Nullable"); ok {
		t, nullable = inner, true
	}
	var base convFunc
	var ft data.FieldType
	switch {
	case kind == UnixSeconds || kind == UnixMicros:
		unit := time.Second
		if kind == UnixMicros {
			unit = time.Microsecond
		}
		base, ft = func(v any) (any, error) {
			n, err := Int64(v)
			if err != nil {
				return nil, err
			}
			if unit == time.Second {
				return time.Unix(n, 0).UTC(), nil
			}
			return time.UnixMicro(n).UTC(), nil
		}, data.FieldTypeTime
	case kind == Text:
		base, ft = func(v any) (any, error) { return String(v), nil }, data.FieldTypeString
	case strings.HasPrefix(t, "DateTime64"):
		loc := typeLocation(t)
		base, ft = func(v any) (any, error) { return parseTime(v, "2006-01-02 15:04:05.999999999", loc) }, data.FieldTypeTime
	case strings.HasPrefix(t, "DateTime"):
		loc := typeLocation(t)
		base, ft = func(v any) (any, error) { return parseTime(v, "2006-01-02 15:04:05", loc) }, data.FieldTypeTime
	case t == "Date" || t == "Date32":
		base, ft = func(v any) (any, error) { return parseTime(v, "2006-01-02", time.UTC) }, data.FieldTypeTime
	case strings.HasPrefix(t, "Int") || t == "UInt8" || t == "UInt16" || t == "UInt32" || t == "UInt64":
		base, ft = func(v any) (any, error) { return Int64(v) }, data.FieldTypeInt64
	case strings.HasPrefix(t, "Float") || strings.HasPrefix(t, "Decimal"):
		base, ft = func(v any) (any, error) { return Float64(v) }, data.FieldTypeFloat64
	case t == "Bool":
		base, ft = func(v any) (any, error) { b, _ := v.(bool); return b, nil }, data.FieldTypeBool
	case strings.HasPrefix(t, "Array") || strings.HasPrefix(t, "Tuple") || strings.HasPrefix(t, "Map"):
		base, ft = func(v any) (any, error) {
			b, err := json.Marshal(v)
			return json.RawMessage(b), err
		}, data.FieldTypeJSON
	default: // String, FixedString, Enum, UUID, IPv4, IPv6, ...
		base, ft = func(v any) (any, error) { return String(v), nil }, data.FieldTypeString
	}
	if !nullable {
		return func(v any) (any, error) {
			if v == nil {
				return nil, fmt.Errorf("null in non-Nullable column of type %s", chType)
			}
			return base(v)
		}, ft, nil
	}
	return func(v any) (any, error) {
		if v == nil {
			return nil, nil // NewFieldFromFieldType(nullable) zero value is a nil pointer
		}
		x, err := base(v)
		if err != nil {
			return nil, err
		}
		return pointerTo(x), nil
	}, ft.NullableType(), nil
}

func pointerTo(x any) any {
	switch v := x.(type) {
	case int64:
		return &v
	case float64:
		return &v
	case string:
		return &v
	case bool:
		return &v
	case time.Time:
		return &v
	case json.RawMessage:
		return &v
	}
	return x
}

func unwrap(t, wrapper string) (string, bool) {
	if strings.HasPrefix(t, wrapper+"(") && strings.HasSuffix(t, ")") {
		return t[len(wrapper)+1 : len(t)-1], true
	}
	return t, false
}

// typeLocation reads the zone of DateTime('Zone'); without one the server's zone applies,
// which the HTTP response does not tell, so UTC is assumed (the FlowLens servers run in UTC;
// queries that need exactness select toUInt32(time) instead).
func typeLocation(t string) *time.Location {
	if i := strings.Index(t, "'"); i >= 0 {
		if j := strings.LastIndex(t, "'"); j > i {
			if loc, err := time.LoadLocation(t[i+1 : j]); err == nil {
				return loc
			}
		}
	}
	return time.UTC
}

func parseTime(v any, layout string, loc *time.Location) (any, error) {
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("time value %v is not a string", v)
	}
	ts, err := time.ParseInLocation(layout, s, loc)
	if err != nil {
		return nil, err
	}
	return ts.UTC(), nil
}

// Int64 reads an integer that ClickHouse wrote as a JSON number or a quoted 64-bit string.
func Int64(v any) (int64, error) {
	switch x := v.(type) {
	case json.Number:
		return strconv.ParseInt(string(x), 10, 64)
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("integer %q: %w", x, err)
		}
		return n, nil
	case float64:
		return int64(x), nil
	case int64:
		return x, nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	}
	return 0, fmt.Errorf("value %v (%T) is not an integer", v, v)
}

// Float64 reads a number written as a JSON number or a quoted string (64-bit ints, inf, nan).
func Float64(v any) (float64, error) {
	switch x := v.(type) {
	case json.Number:
		return strconv.ParseFloat(string(x), 64)
	case string:
		switch x {
		case "inf", "+inf":
			return math.Inf(1), nil
		case "-inf":
			return math.Inf(-1), nil
		case "nan", "-nan":
			return math.NaN(), nil
		}
		f, err := strconv.ParseFloat(x, 64)
		if err != nil {
			return 0, fmt.Errorf("number %q: %w", x, err)
		}
		return f, nil
	case float64:
		return x, nil
	}
	return 0, fmt.Errorf("value %v (%T) is not a number", v, v)
}

// String renders any decoded JSON value as text.
func String(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return string(x)
	case []any, map[string]any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}

// Strings reads an Array(String) value.
func Strings(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		out = append(out, String(x))
	}
	return out
}
