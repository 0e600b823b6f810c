// Command storage is the storage and query benchmark (issue 7, part 4): it generates realistic
// request logs (bench/storage/gen.go) for one hour, inserts them as RowBinary into an own
// database on the local ClickHouse, derives the matching per-second RED rows into app_metrics,
// and prints bytes on disk per request log and the latency of the backend's own Universal Map
// and RED queries and trace search (the exact SQL of pkg/query) and of trace assembly (pkg/trace), each the
// median of several runs, beside its target. Assembled traces are checked against the generated
// ones (exact span sets); a mismatch prints FAILED.
//
// Usage: go run ./bench/storage [-rows 10000000] [-runs 5] [-traces 9] [-url http://127.0.0.1:18123]
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/flowlens/flowlens/pkg/clickhouse"
	"github.com/flowlens/flowlens/pkg/localch"
	"github.com/flowlens/flowlens/pkg/plugin"
	"github.com/flowlens/flowlens/pkg/query"
	"github.com/flowlens/flowlens/pkg/schema"
	"github.com/flowlens/flowlens/pkg/trace"
)

// hour is the generated hour: the last full hour before now (inside any retention, one daily
// partition: an hour never straddles midnight UTC).
var hour = time.Now().Unix()/3600*3600 - 3600

type sample struct {
	seed     uint64
	seedTime int64
	rows     map[uint64]bool
}

// admin talks to the server as the local setup's writer (pkg/localch: the environment of
// scripts/clickhouse.sh env, else its credentials file).
type admin struct {
	url   string
	local localch.Server
}

// post sends a request as the writer.
func (a admin) post(u, contentType string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPost, u, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	req.SetBasicAuth(a.local.Writer, a.local.WriterPassword)
	return http.DefaultClient.Do(req)
}

// exec runs a statement as the writer and returns the body.
func (a admin) exec(sql string, body io.Reader) (string, error) {
	u := a.url + "/"
	var resp *http.Response
	var err error
	if body == nil {
		resp, err = a.post(u, "text/plain", strings.NewReader(sql))
	} else {
		resp, err = a.post(u+"?query="+url.QueryEscape(sql), "application/octet-stream", body)
	}
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("ClickHouse: %s: %s", truncate(sql, 120), strings.TrimSpace(string(b)))
	}
	return strings.TrimSpace(string(b)), nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/storage:", err)
		os.Exit(1)
	}
}

// createSchema applies the generated DDL for the server's version to database db.
func createSchema(a admin, db string) string {
	version, err := a.exec("SELECT version()", nil)
	must(err)
	ddl := "ddl_modern.sql"
	if strings.HasPrefix(version, "18.") || strings.HasPrefix(version, "19.") {
		ddl = "ddl_legacy.sql"
	}
	raw, err := os.ReadFile(filepath.Join("pkg", "schema", ddl))
	must(err)
	_, err = a.exec("DROP DATABASE IF EXISTS "+db, nil)
	must(err)
	for _, stmt := range strings.Split(string(raw), ";\n") {
		var lines []string
		for _, l := range strings.Split(stmt, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "--") {
				lines = append(lines, l)
			}
		}
		stmt = strings.TrimSpace(strings.Join(lines, "\n"))
		if stmt == "" {
			continue
		}
		stmt = strings.ReplaceAll(stmt, "flowlens.", db+".")
		stmt = strings.Replace(stmt, "DATABASE IF NOT EXISTS flowlens", "DATABASE IF NOT EXISTS "+db, 1)
		_, err = a.exec(stmt, nil)
		must(err)
	}
	return version + " (" + ddl + ")"
}

// insert streams the generated rows as RowBinary and returns the samples to assemble. The first
// sampleRows rows are also written to sampleFile (RowBinary; its column list beside it in
// sampleFile+".columns") for the modern-DDL measurement.
func insert(a admin, db string, rows int, nSamples int, seed int64, sampleFile string, sampleRows int) (int, []sample, time.Duration) {
	perTrace := rowsPerTrace(seed + 1)
	traces := int(float64(rows)/perTrace) + 1
	spacing := float64(3600e6) / float64(traces)
	g := newGen(seed)
	pr, pw := io.Pipe()
	bw := bufio.NewWriterSize(pw, 1<<20)
	enc, err := newEncoder(bw)
	must(err)
	var samples []sample
	every := traces / (nSamples + 1)
	written := 0
	var tee *encoder
	var teeBuf *bufio.Writer
	if sampleFile != "" {
		f, err := os.Create(sampleFile)
		must(err)
		defer f.Close()
		teeBuf = bufio.NewWriterSize(f, 1<<20)
		tee, err = newEncoder(teeBuf)
		must(err)
		must(os.WriteFile(sampleFile+".columns", []byte(strings.Join(tee.cols, ", ")), 0o644))
	}
	go func() {
		for i := 0; written < rows; i++ {
			start := hour*1_000_000 + int64(float64(i)*spacing) + int64(g.r.Intn(int(spacing)+1))
			tr := g.trace(start)
			for j := range tr {
				enc.write(&tr[j])
				if tee != nil && written+j < sampleRows {
					tee.write(&tr[j])
				}
			}
			written += len(tr)
			if nSamples > 0 && every > 0 && i%every == every/2 && len(samples) < nSamples {
				s := sample{rows: map[uint64]bool{}}
				// Start from the last process-side call: usually a database call deep in the tree.
				for j := range tr {
					s.rows[tr[j].id] = true
					if tr[j].obs == "client_process" {
						s.seed, s.seedTime = tr[j].id, tr[j].start/1_000_000
					}
				}
				samples = append(samples, s)
			}
		}
		pw.CloseWithError(bw.Flush())
	}()
	began := time.Now()
	_, err = a.exec(fmt.Sprintf("INSERT INTO %s.l7_flow_log (%s) FORMAT RowBinary", db, strings.Join(enc.cols, ", ")), pr)
	must(err)
	if teeBuf != nil {
		must(teeBuf.Flush())
	}
	return written, samples, time.Since(began)
}

// deriveMetrics fills app_metrics with the per-second RED rows of the request logs, as the agent
// computes them (by the second each request completed); its materialized view fills the rollup.
func deriveMetrics(a admin, db string) time.Duration {
	bounds := schema.Get().LatencyBucketsUs
	var hist []string
	lo := uint64(0)
	for i, b := range bounds {
		if i == 0 {
			hist = append(hist, fmt.Sprintf("countIf(response_duration_us <= %d)", b))
		} else {
			hist = append(hist, fmt.Sprintf("countIf(response_duration_us > %d AND response_duration_us <= %d)", lo, b))
		}
		lo = b
	}
	hist = append(hist, fmt.Sprintf("countIf(response_duration_us > %d)", lo))
	// the latency sketch's key of each request (schema.ts latencySketchKey), summed per row by sumMap
	key := fmt.Sprintf("if(response_duration_us < 1, 0, toUInt16(ceil(log(response_duration_us) / log(%v)) + 1))", schema.Get().LatencySketchGamma)
	sql := fmt.Sprintf(`INSERT INTO %[1]s.app_metrics (time, host, observation_point, client_service, server_service, l7_protocol,
  endpoint, server_port, request_count, error_count, client_error_count, server_error_count, timeout_count,
  response_duration_sum_us, response_duration_max_us, latency_histogram, request_bytes, response_bytes,
  latency_sketch_keys, latency_sketch_counts)
SELECT t, host, observation_point, client_service, server_service, l7_protocol, endpoint, server_port,
  requests, errors, client_errors, server_errors, timeouts, sum_us, max_us, hist, req_bytes, resp_bytes,
  tupleElement(sketch, 1), tupleElement(sketch, 2)
FROM (
  SELECT toDateTime(intDiv(end_time_us, 1000000)) AS t, host, observation_point, client_service, server_service, l7_protocol,
    endpoint, server_port, count() AS requests, countIf(response_status IN ('client_error', 'server_error', 'timeout')) AS errors,
    countIf(response_status = 'client_error') AS client_errors, countIf(response_status = 'server_error') AS server_errors,
    countIf(response_status = 'timeout') AS timeouts, sum(response_duration_us) AS sum_us, max(response_duration_us) AS max_us,
    [%[2]s] AS hist, sum(request_length) AS req_bytes, sum(response_length) AS resp_bytes,
    sumMap([%[3]s], [toUInt64(1)]) AS sketch
  FROM %[1]s.l7_flow_log
  GROUP BY t, host, observation_point, client_service, server_service, l7_protocol, endpoint, server_port
)`, db, strings.Join(hist, ", "), key)
	began := time.Now()
	_, err := a.exec(sql, nil)
	must(err)
	return time.Since(began)
}

// answer is a query's rows as text, to compare two forms of one query.
func answer(ctx context.Context, client *clickhouse.Client, sql string) string {
	res, err := client.Query(ctx, sql)
	must(err)
	return fmt.Sprint(res.Data)
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }

// line prints one figure in bench/run.sh's table layout (figure, without, with agent, difference,
// target), the value in the middle column, and a note after the target.
func line(figure, value, target, note string) {
	fmt.Printf("%-44s %12s %12s %12s %10s  %s\n", figure, "", value, "", target, note)
}

func verdict(ok bool) string {
	if ok {
		return "meets target"
	}
	return "MISSES target"
}

// compression reads the method byte of the first compressed block of a column file of the part
// (after its 16-byte checksum): the server's <compression> choice is not visible over SQL.
func compression(partPath string) string {
	f, err := os.Open(filepath.Join(partPath, "_id.bin"))
	if err != nil {
		return "method unknown"
	}
	defer f.Close()
	var hdr [17]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return "method unknown"
	}
	switch hdr[16] {
	case 0x82:
		return "lz4"
	case 0x90:
		return "zstd"
	case 0x02:
		return "none"
	}
	return fmt.Sprintf("method 0x%02x", hdr[16])
}

func main() {
	rows := flag.Int("rows", 10_000_000, "request logs to generate")
	runs := flag.Int("runs", 5, "runs of each query (median reported)")
	nTraces := flag.Int("traces", 9, "traces to assemble (median reported)")
	chURL := flag.String("url", localch.Local().URL, "ClickHouse HTTP URL")
	db := flag.String("database", "flowlens_bench_storage", "bench database (dropped and recreated)")
	keep := flag.Bool("keep", false, "keep the bench database afterwards")
	seed := flag.Int64("seed", 7, "generator seed")
	sampleFile := flag.String("sample-file", "", "also write the first -sample-rows rows here (RowBinary), for bench/storage/modern_bytes.py")
	sampleRows := flag.Int("sample-rows", 1_000_000, "rows written to -sample-file")
	flag.Parse()
	a := admin{url: strings.TrimRight(*chURL, "/"), local: localch.Local()}
	if _, err := query.Ident(*db); err != nil {
		must(err)
	}
	version := createSchema(a, *db)
	if !*keep {
		defer a.exec("DROP DATABASE IF EXISTS "+*db, nil)
	}

	n, samples, insertTook := insert(a, *db, *rows, *nTraces, *seed, *sampleFile, *sampleRows)
	metricsTook := deriveMetrics(a, *db)
	began := time.Now()
	for _, t := range []string{"l7_flow_log", "app_metrics", query.EdgeTable} {
		_, err := a.exec(fmt.Sprintf("OPTIMIZE TABLE %s.%s FINAL", *db, t), nil)
		must(err)
	}
	optimizeTook := time.Since(began)

	partBytes := func(table string) (bytes, count float64) {
		out, err := a.exec(fmt.Sprintf("SELECT sum(bytes_on_disk), sum(rows) FROM system.parts WHERE database = '%s' AND table = '%s' AND active FORMAT TSV", *db, table), nil)
		must(err)
		fmt.Sscanf(out, "%f\t%f", &bytes, &count)
		return
	}
	l7Bytes, l7Rows := partBytes("l7_flow_log")
	ratio, err := a.exec(fmt.Sprintf("SELECT sum(data_uncompressed_bytes), sum(data_compressed_bytes), any(path) FROM system.parts WHERE database = '%s' AND table = 'l7_flow_log' AND active FORMAT TSV", *db), nil)
	must(err)
	var l7Uncompressed, l7Compressed float64
	var partPath string
	fmt.Sscanf(ratio, "%f\t%f\t%s", &l7Uncompressed, &l7Compressed, &partPath)
	amBytes, amRows := partBytes("app_metrics")
	edgeBytes, edgeRows := partBytes(query.EdgeTable)
	cols, err := a.exec(fmt.Sprintf("SELECT name, data_compressed_bytes FROM system.columns WHERE database = '%s' AND table = 'l7_flow_log' ORDER BY data_compressed_bytes DESC LIMIT 8 FORMAT TSV", *db), nil)
	must(err)

	client, err := clickhouse.New(clickhouse.Config{URL: a.url, Username: a.local.Reader, Password: a.local.ReaderPassword, Timeout: 60 * time.Second})
	must(err)
	ctx := context.Background()
	r := query.Range{From: time.Unix(hour, 0), To: time.Unix(hour+3599, 0)}
	timeQuery := func(sql string) (time.Duration, int) {
		var d []time.Duration
		var got int
		for i := 0; i < *runs; i++ {
			t := time.Now()
			res, err := client.Query(ctx, sql)
			must(err)
			d = append(d, time.Since(t))
			got = len(res.Data)
		}
		return median(d), got
	}
	// The server's CPU time for a query (query_log), which machine load does not inflate.
	cpu := func(sql string) string {
		var ids []string
		for i := 0; i < *runs; i++ {
			id := fmt.Sprintf("flowlens-bench-%d-%d", time.Now().UnixNano(), i)
			ids = append(ids, "'"+id+"'")
			resp, err := a.post(a.url+"/?log_queries=1&query_id="+id, "text/plain", strings.NewReader(sql+"\nFORMAT Null"))
			must(err)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		_, _ = a.exec("SYSTEM FLUSH LOGS", nil)
		for i := 0; i < 40; i++ { // otherwise query_log is flushed every 7.5 s
			out, err := a.exec("SELECT quantileExact(0.5)(ProfileEvents.Values[indexOf(ProfileEvents.Names, 'OSCPUVirtualTimeMicroseconds')]), count() "+
				"FROM system.query_log WHERE type = 2 AND query_id IN ("+strings.Join(ids, ", ")+") FORMAT TSV", nil)
			var us float64
			var n int
			if err == nil {
				fmt.Sscanf(out, "%f\t%d", &us, &n)
			}
			if n == len(ids) {
				return fmt.Sprintf("server CPU %.0f ms", us/1000)
			}
			time.Sleep(500 * time.Millisecond)
		}
		return "server CPU unknown"
	}
	mapSt, err := query.BuildMap(*db, &query.Model{}, r)
	must(err)
	mapTook, edges := timeQuery(mapSt.SQL)
	mapCPU := cpu(mapSt.SQL)
	bucket := query.Bucket(5*time.Second, r)
	// the counts and latency sums and maxima (any metric but a percentile: the per-edge rollup)
	redSt, err := query.BuildRED(*db, &query.Model{Metric: query.MetricErrorRatio}, r, bucket)
	must(err)
	redTook, redRows := timeQuery(redSt.SQL)
	redCPU := cpu(redSt.SQL)
	// every metric, percentiles included: from the rollup's sketch (BuildRED), and before the
	// rollup carried it, from app_metrics' (the same answer: checked row for row)
	redAll, err := query.BuildRED(*db, &query.Model{}, r, bucket)
	must(err)
	redAllTook, redAllRows := timeQuery(redAll.SQL)
	redAllCPU := cpu(redAll.SQL)
	redAllBefore, err := query.BuildREDFromAppMetrics(*db, &query.Model{}, r, bucket)
	must(err)
	redAllBeforeTook, _ := timeQuery(redAllBefore.SQL)
	redAllBeforeCPU := cpu(redAllBefore.SQL)
	sameAnswer := "the same rows as from app_metrics"
	if a, b := answer(ctx, client, redAll.SQL), answer(ctx, client, redAllBefore.SQL); a != b {
		sameAnswer = "FAILED: rows differ from app_metrics'"
	}
	redOne, err := query.BuildRED(*db, &query.Model{Metric: query.MetricErrorRatio, Service: query.Values{"checkout"}}, r, bucket)
	must(err)
	redOneTook, _ := timeQuery(redOne.SQL)
	redOneCPU := cpu(redOne.SQL)

	// Newest-first queries as the plugin runs them (query.Newest: the last minute, the last 15
	// minutes, then the hour, up to the first full page): trace search (the Traces page's list: the
	// newest 100 traces, a narrow search, one X-Request-ID) and the request log (Explore's logs).
	newest := func(searchFn func(string, *query.Model, query.Range, func(*query.Statement) (int, error)) (*query.Statement, error),
		m *query.Model) (took time.Duration, rows int, sqls []string) {
		var d []time.Duration
		for i := 0; i < *runs; i++ {
			sqls = sqls[:0]
			t := time.Now()
			_, err := searchFn(*db, m, r, func(st *query.Statement) (int, error) {
				sqls = append(sqls, st.SQL)
				res, err := client.Query(ctx, st.SQL)
				if err != nil {
					return 0, err
				}
				rows = len(res.Data)
				return rows, nil
			})
			must(err)
			d = append(d, time.Since(t))
		}
		return median(d), rows, sqls
	}
	// The trace search as the plugin runs it: the newest matching requests, then the walk to their
	// roots and down their calls (pkg/trace Search); rows = traces listed.
	search := func(m *query.Model) (took time.Duration, rows int, sqls []string) {
		limit, _ := query.TraceSearchLimit(m)
		var d []time.Duration
		for i := 0; i < *runs; i++ {
			sqls = sqls[:0]
			t := time.Now()
			var matched []*trace.Span
			_, err := query.SearchTraces(*db, m, r, func(st *query.Statement) (int, error) {
				sqls = append(sqls, st.SQL)
				res, err := client.Query(ctx, st.SQL)
				if err != nil {
					return 0, err
				}
				matched, err = trace.SpansFromResult(res)
				return len(matched), err
			})
			must(err)
			calls := &trace.ClickHouseCalls{Client: client, Database: *db}
			found, err := trace.Search(ctx, calls, matched, limit, trace.DefaultOptions())
			must(err)
			sqls = append(sqls, calls.SQL...)
			rows = len(found.Traces)
			d = append(d, time.Since(t))
		}
		return median(d), rows, sqls
	}
	cpuAll := func(sqls []string) string {
		parts := make([]string, len(sqls))
		for i, s := range sqls {
			parts[i] = strings.TrimPrefix(cpu(s), "server CPU ")
		}
		return "server CPU " + strings.Join(parts, " + ")
	}
	searchAllTook, searchAllRows, sqls := search(&query.Model{})
	searchAllCPU := cpuAll(sqls)
	searchOneTook, searchOneRows, sqls := search(&query.Model{Service: query.Values{"checkout"}, MinDurationMs: 50})
	searchOneCPU := cpuAll(sqls)
	logTook, logRows, sqls := newest(query.SearchLog, &query.Model{})
	logCPU := cpuAll(sqls)
	logRareTook, logRareRows, sqls := newest(query.SearchLog, &query.Model{Status: query.Values{"server_error"}, MinDurationMs: 100})
	logRareCPU := cpuAll(sqls)
	rid, err := client.Query(ctx, fmt.Sprintf("SELECT x_request_id FROM %s.l7_flow_log WHERE time = toDateTime(%d) AND x_request_id != '' LIMIT 1", *db, hour+1800))
	must(err)
	var ridTook time.Duration
	var ridRows int
	ridCPU := "no X-Request-ID found"
	if len(rid.Data) == 1 {
		ridTook, ridRows, sqls = search(&query.Model{RequestID: fmt.Sprint(rid.Data[0][0])})
		ridCPU = cpuAll(sqls)
	}

	// The triage of one service as the plugin runs it (pkg/plugin RunTriage: its queries and the
	// ranking): the hour's last 15 minutes against the 15 before (the default baseline).
	tm := &query.TriageModel{Service: query.Values{"checkout"}}
	tw, err := tm.Windows(query.Range{From: time.Unix(hour+2700, 0), To: time.Unix(hour+3599, 0)})
	must(err)
	var triageTimes []time.Duration
	var triageSuspects int
	var triageSQL []string
	for i := 0; i < *runs; i++ {
		t := time.Now()
		res, sqls, err := plugin.RunTriage(ctx, client, *db, tm, tw)
		must(err)
		triageTimes = append(triageTimes, time.Since(t))
		triageSuspects, triageSQL = len(res.Suspects), sqls
	}
	triageTook := median(triageTimes)
	triageCPU := cpuAll(triageSQL)
	// when time is added between the ends of an edge on the walk, the triage reads that edge's NIC points
	// too: the wire query for the edges into the service (the generated hour holds no fault, so it is
	// timed on its own)
	edgeSt, err := query.BuildTriageEdges(*db, tm, tw)
	must(err)
	edgeRes, err := client.Query(ctx, edgeSt.SQL)
	must(err)
	var wireClients, wireServers query.Values
	seenEnd := map[string]bool{}
	for _, row := range edgeRes.Data {
		c, sv := fmt.Sprint(row[1]), fmt.Sprint(row[2])
		if sv == "checkout" && !seenEnd[c+"→"+sv] {
			seenEnd[c+"→"+sv] = true
			if !seenEnd["c"+c] {
				seenEnd["c"+c], wireClients = true, append(wireClients, c)
			}
			if !seenEnd["s"+sv] {
				seenEnd["s"+sv], wireServers = true, append(wireServers, sv)
			}
		}
	}
	wireSt, err := query.BuildTriageWireEdges(*db, tm, tw, trace.ErrorStatus, wireClients, wireServers)
	must(err)
	wireTook, wireRows := timeQuery(wireSt.SQL)
	wireCPU := cpu(wireSt.SQL)

	fetcher := &trace.ClickHouseFetcher{Client: client, Database: *db}
	var traceTimes []time.Duration
	exact, spans, queries := 0, 0, 0
	var failures []string
	for i, s := range samples {
		// one warm-up assembly per trace is not counted: the figure is a dashboard click on warm caches
		if i == 0 {
			_, _ = trace.Assemble(ctx, fetcher, trace.Seed{RowID: s.seed, TimeSec: s.seedTime}, trace.Options{})
		}
		t := time.Now()
		tr, err := trace.Assemble(ctx, fetcher, trace.Seed{RowID: s.seed, TimeSec: s.seedTime}, trace.Options{})
		must(err)
		traceTimes = append(traceTimes, time.Since(t))
		got := map[uint64]bool{}
		for _, nd := range tr.Nodes {
			got[nd.RowID] = true
		}
		same := len(got) == len(s.rows)
		for id := range s.rows {
			same = same && got[id]
		}
		if same {
			exact++
		} else {
			failures = append(failures, fmt.Sprintf("trace from row %d: %d spans assembled, %d generated (warnings %v)", s.seed, len(got), len(s.rows), tr.Warnings))
		}
		spans += len(tr.Nodes)
		queries += tr.Stats.Queries
	}

	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("storage and queries: %d generated request logs over one hour on ClickHouse %s; %d CPUs, load average %s\n",
		n, version, runtime.NumCPU(), strings.Join(strings.Fields(string(load))[:min(3, len(strings.Fields(string(load))))], " "))
	line(fmt.Sprintf("generate + insert %dk request logs", n/1000), fmt.Sprintf("%.1f s", insertTook.Seconds()), "",
		fmt.Sprintf("%.0fk rows/s RowBinary over HTTP; app_metrics derived in %.1f s; OPTIMIZE FINAL %.1f s", float64(n)/insertTook.Seconds()/1000, metricsTook.Seconds(), optimizeTook.Seconds()))
	perRow := l7Bytes / l7Rows
	line("storage: bytes on disk per request log", fmt.Sprintf("%.1f B", perRow), "<= 64 B",
		fmt.Sprintf("%s; compressed %.1fx (%s)", verdict(perRow <= 64), l7Uncompressed/l7Compressed, compression(partPath)))
	line("storage: + app_metrics (+ rollup) per log", fmt.Sprintf("%.1f B", (amBytes+edgeBytes)/l7Rows), "",
		fmt.Sprintf("%.0f app_metrics rows (%.1f B), %.0f app_metrics_edge rows (%.1f B)", amRows, amBytes/l7Rows, edgeRows, edgeBytes/l7Rows))
	line("Universal Map query, 1 h", ms(mapTook), "< 500 ms", fmt.Sprintf("%s; %s; %d edges; SQL of pkg/query BuildMap", verdict(mapTook < 500*time.Millisecond), mapCPU, edges))
	line(fmt.Sprintf("RED series, 1 h, %d s buckets, all services", bucket), ms(redTook), "< 200 ms", fmt.Sprintf("%s; %s; %d rows; SQL of pkg/query BuildRED", verdict(redTook < 200*time.Millisecond), redCPU, redRows))
	fmt.Printf("%-44s %12s %12s %12s %10s  %s\n", "RED with p50/p90/p99 (metric: all), 1 h,", "app_metrics", "rollup", "", "", "")
	fmt.Printf("%-44s %12s %12s %12s %10s  %s\n", fmt.Sprintf("  %d s buckets, all services (before | after)", bucket), ms(redAllBeforeTook), ms(redAllTook), "", "< 200 ms",
		fmt.Sprintf("%s; before %s, after %s; %d rows, %s", verdict(redAllTook < 200*time.Millisecond), redAllBeforeCPU, redAllCPU, redAllRows, sameAnswer))
	line(fmt.Sprintf("RED series, 1 h, %d s buckets, one service", bucket), ms(redOneTook), "< 200 ms", verdict(redOneTook < 200*time.Millisecond)+"; "+redOneCPU)
	line("trace search, 1 h, newest 100 traces", ms(searchAllTook), "< 500 ms", fmt.Sprintf("%s; %s; %d traces; pkg/query BuildTraceMatches + pkg/trace Search",
		verdict(searchAllTook < 500*time.Millisecond), searchAllCPU, searchAllRows))
	line("trace search, 1 h, checkout >= 50 ms", ms(searchOneTook), "< 500 ms", fmt.Sprintf("%s; %s; %d traces",
		verdict(searchOneTook < 500*time.Millisecond), searchOneCPU, searchOneRows))
	line("trace search, 1 h, one X-Request-ID", ms(ridTook), "< 500 ms", fmt.Sprintf("%s; %s; %d traces",
		verdict(ridTook < 500*time.Millisecond), ridCPU, ridRows))
	line("triage of one service, 15 min vs 15 before", ms(triageTook), "< 1 s", fmt.Sprintf("%s; %s; %d queries, %d suspects; pkg/plugin RunTriage",
		verdict(triageTook < time.Second), triageCPU, len(triageSQL), triageSuspects))
	line("triage + the NIC query of its inbound edges", ms(triageTook+wireTook), "< 1 s", fmt.Sprintf("%s; the NIC query %s, %s; %d clients, %d servers, %d rows",
		verdict(triageTook+wireTook < time.Second), ms(wireTook), wireCPU, len(wireClients), len(wireServers), wireRows))
	line("request log, 1 h, newest 1000", ms(logTook), "< 500 ms", fmt.Sprintf("%s; %s; %d rows; SQL of pkg/query BuildLog",
		verdict(logTook < 500*time.Millisecond), logCPU, logRows))
	line("request log, 1 h, server_error >= 100 ms", ms(logRareTook), "< 500 ms", fmt.Sprintf("%s; %s; %d rows",
		verdict(logRareTook < 500*time.Millisecond), logRareCPU, logRareRows))
	if len(traceTimes) > 0 {
		tt := median(traceTimes)
		line("trace assembly (pkg/trace), one trace", ms(tt), "< 300 ms", fmt.Sprintf("%s; %.1f spans, %.1f queries per trace",
			verdict(tt < 300*time.Millisecond), float64(spans)/float64(len(samples)), float64(queries)/float64(len(samples))))
		status := "exact"
		if exact != len(samples) {
			status = "FAILED"
		}
		line("assembled traces = generated ones", fmt.Sprintf("%d/%d", exact, len(samples)), "all", status)
		for _, f := range failures {
			fmt.Println("  " + f)
		}
	}
	fmt.Printf("  largest l7_flow_log columns, compressed bytes per request log:")
	for _, l := range strings.Split(cols, "\n") {
		var name string
		var b float64
		if _, err := fmt.Sscanf(l, "%s\t%f", &name, &b); err == nil {
			fmt.Printf(" %s %.1f,", name, b/l7Rows)
		}
	}
	fmt.Println()
}
