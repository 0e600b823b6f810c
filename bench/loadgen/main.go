// Command loadgen is the benchmark's HTTP load generator: open loop at a constant rate (latency
// measured from each request's scheduled start, so a stall is not hidden by fewer requests), or
// closed loop at saturation (-rate 0). Prints one JSON line.
//
// Usage: loadgen -url URL -rate N -duration D -conns C
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

type result struct {
	Requests   int64   `json:"requests"`
	Errors     int64   `json:"errors"`
	RatePerSec float64 `json:"rate_per_sec"`
	P50Us      float64 `json:"p50_us"`
	P99Us      float64 `json:"p99_us"`
	P999Us     float64 `json:"p999_us"`
}

// conn is one keep-alive HTTP/1.1 connection doing one request at a time.
type conn struct {
	c   net.Conn
	r   *bufio.Reader
	req []byte
}

func dial(u *url.URL) (*conn, error) {
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: flowlens-loadgen\r\n\r\n", u.RequestURI(), u.Host)
	return &conn{c: c, r: bufio.NewReaderSize(c, 16384), req: []byte(req)}, nil
}

// do sends one request and reads one response with a Content-Length body (as nginx answers).
func (k *conn) do() error {
	if _, err := k.c.Write(k.req); err != nil {
		return err
	}
	length := -1
	for {
		line, err := k.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		var n int
		if _, err := fmt.Sscanf(string(line), "Content-Length: %d", &n); err == nil {
			length = n
		}
	}
	if length < 0 {
		return fmt.Errorf("response without Content-Length")
	}
	_, err := io.CopyN(io.Discard, k.r, int64(length))
	return err
}

func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return float64(sorted[i].Microseconds())
}

func main() {
	target := flag.String("url", "http://127.0.0.1:28400/", "URL")
	rate := flag.Int("rate", 1000, "requests per second (0: as fast as possible)")
	duration := flag.Duration("duration", 10*time.Second, "how long")
	warmup := flag.Duration("warmup", 0, "unmeasured load at the same rate first, in this same process")
	conns := flag.Int("conns", 32, "connections")
	mark := flag.String("mark", "", "a file created when the measured run starts (after the warm-up)")
	flag.Parse()
	u, err := url.Parse(*target)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	if *warmup > 0 {
		// The same process and connections' code as the measured run: an agent watching this
		// process has learnt its stacks and threads by the time the figures are taken.
		run(u, *rate, *warmup, *conns)
	}
	if *mark != "" {
		if err := os.WriteFile(*mark, nil, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(2)
		}
	}
	_ = json.NewEncoder(os.Stdout).Encode(run(u, *rate, *duration, *conns))
}

// run sends requests for `duration` on `conns` keep-alive connections, open loop at `rate` (closed
// loop when 0), and measures each request's latency from its scheduled start.
func run(u *url.URL, rate int, duration time.Duration, conns int) result {
	var requests, errors int64
	var mu sync.Mutex
	var lat []time.Duration
	start := time.Now()
	end := start.Add(duration)
	var next int64 // index of the next scheduled request (open loop)
	interval := time.Duration(0)
	if rate > 0 {
		interval = time.Second / time.Duration(rate)
	}
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := dial(u)
			if err != nil {
				atomic.AddInt64(&errors, 1)
				return
			}
			defer k.c.Close()
			local := make([]time.Duration, 0, 1<<16)
			for {
				scheduled := time.Now()
				if interval > 0 {
					scheduled = start.Add(time.Duration(atomic.AddInt64(&next, 1)-1) * interval)
					if scheduled.After(end) {
						break
					}
					if d := time.Until(scheduled); d > 0 {
						time.Sleep(d)
					}
				} else if scheduled.After(end) {
					break
				}
				if err := k.do(); err != nil {
					atomic.AddInt64(&errors, 1)
					return
				}
				local = append(local, time.Since(scheduled))
				atomic.AddInt64(&requests, 1)
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return result{
		Requests: requests, Errors: errors, RatePerSec: float64(requests) / elapsed,
		P50Us: percentile(lat, 0.50), P99Us: percentile(lat, 0.99), P999Us: percentile(lat, 0.999),
	}
}
