package plugin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/flowlens/flowlens/pkg/converters"
	"github.com/flowlens/flowlens/pkg/query"
)

// Business tags through the resource API (/api/datasources/uid/<uid>/resources/tags):
//   GET    tags → {"tags":[{kind, subject, key, value, updated_at (ms), updated_by, updated_by_role}]}
//   POST   tags {kind, subject, key, value} → sets a tag (201)
//   DELETE tags {kind, subject, key}        → removes it (200)
// Grafana lets a user call a datasource's resources only with query permission on it; changes
// also need the Editor or Admin role, which Grafana sends with the call (the user's role in the
// organisation). Each change is stored with that user's login and role (the audit trail).

// maxTagBody bounds a change's JSON body.
const maxTagBody = 4 << 10

func (d *Datasource) handleBusinessTags(w http.ResponseWriter, r *http.Request) {
	if d.settingsErr != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": d.settingsErr.Error()})
		return
	}
	switch r.Method {
	case http.MethodGet:
		d.listBusinessTags(w, r)
	case http.MethodPost, http.MethodDelete:
		d.changeBusinessTag(w, r, r.Method == http.MethodDelete)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "tags: GET, POST or DELETE"})
	}
}

func (d *Datasource) listBusinessTags(w http.ResponseWriter, r *http.Request) {
	st, err := query.BuildBusinessTags(d.settings.Database)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	res, err := d.client.Query(r.Context(), st.SQL)
	if err != nil {
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": err.Error()})
		return
	}
	type tag struct {
		query.BusinessTag
		UpdatedAt     int64  `json:"updated_at"`
		UpdatedBy     string `json:"updated_by"`
		UpdatedByRole string `json:"updated_by_role"`
	}
	out := make([]tag, 0, len(res.Data))
	for _, row := range res.Data {
		if len(row) < len(query.BusinessTagColumns) || len(out) == st.Limit {
			continue
		}
		us, _ := strconv.ParseInt(converters.String(row[4]), 10, 64) // 64-bit integers arrive quoted
		out = append(out, tag{
			BusinessTag: query.BusinessTag{Kind: converters.String(row[0]), Subject: converters.String(row[1]), Key: converters.String(row[2]), Value: converters.String(row[3])},
			UpdatedAt:   us / 1000, UpdatedBy: converters.String(row[5]), UpdatedByRole: converters.String(row[6]),
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"tags": out, "writable": d.tagsWriter != nil, "truncated": len(res.Data) > st.Limit})
}

// canChangeTags: Grafana's organisation roles that may change business tags.
func canChangeTags(u *backend.User) bool {
	return u != nil && u.Login != "" && (u.Role == "Editor" || u.Role == "Admin")
}

func (d *Datasource) changeBusinessTag(w http.ResponseWriter, r *http.Request, removal bool) {
	user := backend.UserFromContext(r.Context())
	if !canChangeTags(user) {
		who := "an anonymous call"
		if user != nil && user.Login != "" {
			who = fmt.Sprintf("%s (role %s)", user.Login, firstNonEmpty(user.Role, "none"))
		}
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "changing business tags needs the Editor or Admin role: " + who + " has neither"})
		return
	}
	if d.tagsWriter == nil {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "this datasource has no tags writer: set tagsUsername (and its password) in its settings to let users change business tags"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxTagBody+1))
	if err != nil || len(body) > maxTagBody {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("a tag change is a JSON object of at most %d bytes", maxTagBody)})
		return
	}
	var t query.BusinessTag
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "a tag change is {\"kind\", \"subject\", \"key\", \"value\"}: " + err.Error()})
		return
	}
	if err := t.Validate(removal); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	sql, err := query.BuildBusinessTagChange(d.settings.Database, t, removal, user.Login, user.Role, time.Now())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if err := d.tagsWriter.Write(r.Context(), sql); err != nil {
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": "the tag change was not stored: " + err.Error()})
		return
	}
	status := http.StatusCreated
	if removal {
		status = http.StatusOK
	}
	writeJSON(w, status, map[string]any{"tag": t, "removed": removal, "by": user.Login})
}
