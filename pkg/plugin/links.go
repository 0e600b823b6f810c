package plugin

import (
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/query"
)

// internalLink is a data link that runs q with this datasource: Grafana opens it in Explore, or
// offers it on a panel's value (${__value.raw} and ${__data.fields.<name>} filled from the row).
func (d *Datasource) internalLink(title string, q map[string]any) data.DataLink {
	if _, ok := q["refId"]; !ok {
		q["refId"] = "A"
	}
	return data.DataLink{Title: title, Internal: &data.InternalDataLink{DatasourceUID: d.uid, DatasourceName: d.name, Query: q}}
}

// addLinks appends links to the field's config.
func addLinks(fld *data.Field, links ...data.DataLink) {
	if fld.Config == nil {
		fld.Config = &data.FieldConfig{}
	}
	fld.Config.Links = append(fld.Config.Links, links...)
}

// mapLinks puts on the map's node and edge ids the queries a user opens from them: a node's RED,
// the requests it served, the traces through it and the flows to it; an edge's RED, requests,
// traces and flows between its two ends. On a map whose nodes are named by a tag, a node is that
// tag's value and its queries filter by the tag (a tag filter names no end in request and flow
// queries: either end matches); an edge's queries filter by its server's value alone.
func (d *Datasource) mapLinks(frames data.Frames, m *query.Model) {
	tag := ""
	if len(m.GroupBy) == 1 {
		tag = m.GroupBy[0]
	}
	// end names one end in a query: the service, or (the server's) tag value
	end := func(q map[string]any, serviceKey, value string) map[string]any {
		switch {
		case tag == "":
			q[serviceKey] = value
		case serviceKey == "service":
			q["tags"] = map[string][]string{tag: {value}}
		}
		return q
	}
	for _, f := range frames {
		id := fieldByName(f, "id")
		if id == nil {
			continue
		}
		switch f.Name {
		case "nodes":
			node := "${__data.fields.id}"
			addLinks(id,
				d.internalLink("RED of this service", end(map[string]any{"queryType": query.TypeRED, "metric": query.MetricAll}, "service", node)),
				d.internalLink("Requests it served", end(map[string]any{"queryType": query.TypeSQLLog, "format": query.FormatLogs}, "service", node)),
				d.internalLink("Traces through it", end(map[string]any{"queryType": query.TypeTraceSearch}, "service", node)),
				d.internalLink("Flows to it", end(map[string]any{"queryType": query.TypeFlowLog, "format": query.FormatLogs}, "service", node)),
			)
			if tag == "" { // the Triage page takes a service (over the dashboard's range)
				addLinks(id, data.DataLink{Title: "Triage this service", URL: TriagePage + "?service=${__data.fields.id}&from=${__from}&to=${__to}"})
			}
		case "edges":
			edge := func(q map[string]any) map[string]any {
				return end(end(q, "service", "${__data.fields.target}"), "client_service", "${__data.fields.source}")
			}
			red := edge(map[string]any{"queryType": query.TypeRED, "metric": query.MetricAll})
			if tag == "" {
				red["group_by"] = []string{"service", "client_service"}
			}
			addLinks(id,
				d.internalLink("RED of this call", red),
				d.internalLink("Requests of this call", edge(map[string]any{"queryType": query.TypeSQLLog, "format": query.FormatLogs})),
				d.internalLink("Traces of this call", edge(map[string]any{"queryType": query.TypeTraceSearch})),
				d.internalLink("Flows of this call", edge(map[string]any{"queryType": query.TypeFlowLog, "format": query.FormatLogs})),
			)
			if tag == "" {
				addLinks(id, data.DataLink{Title: "Triage this call",
					URL: TriagePage + "?service=${__data.fields.target}&client=${__data.fields.source}&from=${__from}&to=${__to}"})
			}
		}
	}
}
