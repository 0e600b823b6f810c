// Package schema embeds schema.json, generated from src/shared/schema.ts, so the Go backend
// checks its queries against the same table and column names the agent writes.
package schema

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"sync"
)

//go:embed schema.json
var schemaJSON []byte

// Column is one column of a table.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Table is one ClickHouse table of the FlowLens database.
type Table struct {
	Name    string   `json:"name"`
	Columns []Column `json:"columns"`
}

// Schema is the content of schema.json.
type Schema struct {
	Database          string   `json:"database"`
	ObservationPoints []string `json:"observation_points"`
	ResponseStatuses  []string `json:"response_statuses"`
	CloseTypes        []string `json:"close_types"`
	RstSenders        []string `json:"rst_senders"`
	LatencyBucketsUs  []uint64 `json:"latency_buckets_us"`
	// LatencySketchGamma is the bucket ratio of app_metrics.latency_sketch_* (schema.ts LATENCY_SKETCH_GAMMA).
	LatencySketchGamma float64 `json:"latency_sketch_gamma"`
	Tables             []Table `json:"tables"`
}

var (
	loadOnce sync.Once
	loaded   *Schema
	loadErr  error
)

// Get returns the embedded schema; it panics if schema.json is malformed, which a unit test rules out.
func Get() *Schema {
	loadOnce.Do(func() {
		var s Schema
		loadErr = json.Unmarshal(schemaJSON, &s)
		loaded = &s
	})
	if loadErr != nil {
		panic(fmt.Sprintf("pkg/schema: embedded schema.json is invalid: %v", loadErr))
	}
	return loaded
}

// SketchValueUs is the duration (µs) a latency-sketch key stands for: 0 for key 0, else
// 2γ^(k-1)/(γ+1), within (γ-1)/(γ+1) of every duration the agent put under the key.
func (s *Schema) SketchValueUs(key int64) float64 {
	if key <= 0 {
		return 0
	}
	g := s.LatencySketchGamma
	return 2 * math.Pow(g, float64(key-1)) / (g + 1)
}

// Raw returns the embedded schema.json bytes.
func Raw() []byte { return schemaJSON }

// Table returns the named table, or nil.
func (s *Schema) Table(name string) *Table {
	for i := range s.Tables {
		if s.Tables[i].Name == name {
			return &s.Tables[i]
		}
	}
	return nil
}

// HasColumn reports whether table has column.
func (s *Schema) HasColumn(table, column string) bool {
	t := s.Table(table)
	if t == nil {
		return false
	}
	for _, c := range t.Columns {
		if c.Name == column {
			return true
		}
	}
	return false
}

// IsObservationPoint reports whether v is one of the known observation points.
func (s *Schema) IsObservationPoint(v string) bool { return contains(s.ObservationPoints, v) }

// IsResponseStatus reports whether v is one of the known response statuses.
func (s *Schema) IsResponseStatus(v string) bool { return contains(s.ResponseStatuses, v) }

// IsCloseType reports whether v is one of l4_flow_log's close types.
func (s *Schema) IsCloseType(v string) bool { return contains(s.CloseTypes, v) }

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
