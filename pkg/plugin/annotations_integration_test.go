package plugin_test

// FlowLens events as Grafana annotations, through the plugin binary on the known data set
// (agentred_integration_test.go: the agent's own RED rows in the real ClickHouse): backend's error
// ratio rises to 8% in its second minute, every service starts at redDataStart.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// annotationRows reads the annotations frame: its four fields, one line per event.
func annotationRows(t *testing.T, res backend.DataResponse) []string {
	t.Helper()
	if res.Error != nil {
		t.Fatalf("annotations: %v", res.Error)
	}
	if len(res.Frames) != 1 {
		t.Fatalf("%d frames, want 1", len(res.Frames))
	}
	f := res.Frames[0]
	var names []string
	for _, x := range f.Fields {
		names = append(names, x.Name)
	}
	if strings.Join(names, ",") != "time,timeEnd,text,tags" {
		t.Fatalf("fields %v, want time, timeEnd, text, tags (what Grafana reads an annotation from)", names)
	}
	var out []string
	for i := 0; i < f.Rows(); i++ {
		start, end := f.Fields[0].At(i).(time.Time), f.Fields[1].At(i).(time.Time)
		out = append(out, fmt.Sprintf("%d–%d %s [%s]", start.Unix()-redDataStart, end.Unix()-redDataStart, f.Fields[2].At(i), f.Fields[3].At(i)))
	}
	return out
}

func TestAnnotationsIntegration(t *testing.T) {
	e, pc, reqs := startKnownRED(t)
	// backend's second minute: its exact failures
	var errs, total int
	for _, r := range reqs {
		if r.ServerService == "backend" && r.Time >= redDataStart+60 {
			total++
			if r.ResponseStatus != "ok" {
				errs++
			}
		}
	}
	ratio := 100 * float64(errs) / float64(total)

	// error spikes over the data set's minutes and around: only backend's second minute is above 5%
	rows := annotationRows(t, e.query(pc, redDataStart-300, redDataStart+300, time.Second, `{"queryType":"annotations","annotation":"error_spike"}`))
	want := fmt.Sprintf("60–120 backend: error ratio up to %.1f%% (%d of %d requests failed over 1m0s; threshold 5.0%%) [flowlens,error_spike,service=backend]", ratio, errs, total)
	if len(rows) != 1 || rows[0] != want {
		t.Errorf("error spikes:\n%s\nwant\n%s", strings.Join(rows, "\n"), want)
	}
	// a threshold of 0.5%: frontend's 0.2%/0.4% stays below, backend's 1% first minute joins its second as one region
	rows = annotationRows(t, e.query(pc, redDataStart-300, redDataStart+300, time.Second, `{"queryType":"annotations","annotation":"error_spike","threshold":"0.005"}`))
	if len(rows) != 1 || !strings.HasPrefix(rows[0], "0–120 backend: ") {
		t.Errorf("error spikes above 0.5%%: %v, want backend over both minutes", rows)
	}
	// the team filter (tags) and the service filter narrow the services judged
	rows = annotationRows(t, e.query(pc, redDataStart-300, redDataStart+300, time.Second, `{"queryType":"annotations","annotation":"error_spike","service":["frontend","postgres"]}`))
	if len(rows) != 0 {
		t.Errorf("error spikes of frontend and postgres: %v, want none", rows)
	}
	// a bucket needs min_requests: 6001 are more than backend's minute has
	rows = annotationRows(t, e.query(pc, redDataStart-300, redDataStart+300, time.Second, fmt.Sprintf(`{"queryType":"annotations","annotation":"error_spike","min_requests":%d}`, total+1)))
	if len(rows) != 0 {
		t.Errorf("error spikes with min_requests above the minute's %d requests: %v", total, rows)
	}

	// new services: every server and client of the data set starts at redDataStart
	rows = annotationRows(t, e.query(pc, redDataStart-300, redDataStart+300, time.Second, `{"queryType":"annotations","annotation":"new_service"}`))
	wantNew := []string{}
	for _, s := range []string{"backend", "frontend", "postgres", "slb"} {
		wantNew = append(wantNew, fmt.Sprintf("0–0 %s: new service, first seen (not in the 7 days before) [flowlens,new_service,service=%s]", s, s))
	}
	if strings.Join(rows, "\n") != strings.Join(wantNew, "\n") {
		t.Errorf("new services:\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(wantNew, "\n"))
	}
	// a range starting after they appeared: none is new (they were seen in the week before)
	if rows = annotationRows(t, e.query(pc, redDataStart+30, redDataStart+300, time.Second, `{"queryType":"annotations","annotation":"new_service"}`)); len(rows) != 0 {
		t.Errorf("new services after their first minute: %v", rows)
	}

	// hostile or unknown options are the query's error
	for model, msg := range map[string]string{
		`{"queryType":"annotations","annotation":"reboot"}`:                        "annotation 'reboot' is not one of error_spike, new_service",
		`{"queryType":"annotations","annotation":"error_spike","threshold":"2"}`:   "threshold 2 is not an error ratio",
		`{"queryType":"annotations","annotation":"new_service","service":["a'b"]}`: "",
	} {
		res := e.query(pc, redDataStart-300, redDataStart+300, time.Second, model)
		if msg == "" {
			if res.Error != nil {
				t.Errorf("%s: %v (a quote in a value is escaped, not an error)", model, res.Error)
			}
			continue
		}
		if res.Error == nil || !strings.Contains(res.Error.Error(), msg) || res.Status != backend.StatusBadRequest {
			t.Errorf("%s: %v (%d), want %q", model, res.Error, res.Status, msg)
		}
	}
}
