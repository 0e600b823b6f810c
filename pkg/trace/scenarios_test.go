package trace

// Hand-built span sets shared by the tests. Times are µs after t0.

const t0 = int64(1_700_000_000_000_000)

type mod func(*Span)

func span(id uint64, obs, host string, start, end int64, mods ...mod) *Span {
	s := &Span{RowID: id, ObservationPoint: obs, Host: host, StartUs: t0 + start, EndUs: t0 + end,
		L7Protocol: "HTTP", RequestType: "GET", Endpoint: "/", RequestResource: "/", ResponseStatus: "ok", ResponseCode: 200}
	for _, m := range mods {
		m(s)
	}
	return s
}

func tuple(cip string, cport uint16, sip string, sport uint16, seq uint32) mod {
	return func(s *Span) {
		s.ClientIP, s.ClientPort, s.ServerIP, s.ServerPort, s.TCPSeqReq = cip, cport, sip, sport, seq
	}
}

// client and server name an end by service; its process name is the service's with "-bin".
func client(pid uint32, service string) mod {
	return func(s *Span) { s.ClientPID, s.ClientService, s.ClientProcess = pid, service, service+"-bin" }
}

func server(pid uint32, service string) mod {
	return func(s *Span) { s.ServerPID, s.ServerService, s.ServerProcess = pid, service, service+"-bin" }
}

func sys(req, resp uint64, thread uint32) mod {
	return func(s *Span) { s.SyscallReq, s.SyscallResp, s.ThreadReq, s.ThreadResp = req, resp, thread, thread }
}

func xrid(v string) mod { return func(s *Span) { s.XRequestID = v } }

func traced(traceID, spanID, parent string) mod {
	return func(s *Span) { s.TraceID, s.SpanID, s.ParentSpanID = traceID, spanID, parent }
}

func proto(p, typ, res string) mod {
	return func(s *Span) { s.L7Protocol, s.RequestType, s.RequestResource, s.Endpoint = p, typ, res, res }
}

func shift(us int64) mod { return func(s *Span) { s.StartUs += us; s.EndUs += us } }

// deepflowChain: curl → web (Node) on one host; web calls redis then postgres on the thread that
// read the request. Ids as DeepFlow gives them: web req=X resp=Z; redis req=X resp=Y; pg req=Y resp=Z.
// Noise: a later web request, and a process elsewhere whose id collides with X.
func deepflowChain() []*Span {
	const X, Y, Z = 9001, 9002, 9003
	return []*Span{
		span(1, ClientProcess, "h1", 0, 100_000, tuple("127.0.0.1", 40000, "127.0.0.1", 8080, 1111), client(100, "curl"), server(200, "web"), sys(501, 502, 100)),
		span(2, ServerProcess, "h1", 200, 99_800, tuple("127.0.0.1", 40000, "127.0.0.1", 8080, 1111), client(100, "curl"), server(200, "web"), sys(X, Z, 201)),
		span(3, ClientProcess, "h1", 10_000, 15_000, tuple("127.0.0.1", 41000, "10.0.0.5", 6379, 2222), client(200, "web"), server(0, "redis"), sys(X, Y, 201), proto("Redis", "GET", "GET user:1")),
		span(4, ClientProcess, "h1", 20_000, 90_000, tuple("127.0.0.1", 42000, "10.0.0.6", 5432, 3333), client(200, "web"), server(0, "postgres"), sys(Y, Z, 201), proto("PostgreSQL", "SELECT", "SELECT orders")),
		// noise: the next request on web, and a colliding id in another process
		span(5, ServerProcess, "h1", 200_000, 300_000, tuple("127.0.0.1", 40000, "127.0.0.1", 8080, 1500), client(100, "curl"), server(200, "web"), sys(9010, 9011, 201)),
		span(6, ClientProcess, "h1", 12_000, 13_000, tuple("127.0.0.1", 43000, "10.0.0.5", 6379, 4444), client(999, "cron"), server(0, "redis"), sys(X, 9020, 999), proto("Redis", "GET", "GET k")),
	}
}

// gatewayPath: an external client → nginx (host gw, event loop: both requests' reads get id
// 7000) → frontend (host fe) → an L4 load balancer observed as a gateway (host lb-1) → backend
// (host be) → redis. nginx sets X-Request-ID; the frontend forwards it after a thread hand-off
// (no syscall id on its call). Two requests, rid-1 (the gateway holds it 100 ms) and rid-2,
// overlap in time; row ids of rid-2 are those of rid-1 + 100.
func gatewayPath() []*Span {
	req := func(base uint64, rid string, port uint16, slowGateway bool) []*Span {
		delay := int64(0)
		if slowGateway {
			delay = 100_000
		}
		e := 40_000 + delay // the backend call's end, relative
		seq := func(k uint32) uint32 { return uint32(base)*100 + k }
		in := tuple("203.0.113.9", port, "10.0.0.1", 80, seq(1))
		up := tuple("10.0.0.1", port+1, "10.0.0.2", 3000, seq(2))
		be := tuple("10.0.0.2", port+2, "10.0.0.3", 4000, seq(3))
		rd := tuple("10.0.0.3", port+3, "10.0.0.9", 6379, seq(4))
		bs := uint64(9000 + base*10)
		return []*Span{
			span(base+1, ServerProcess, "gw", 0, e+10_000, in, server(10, "nginx"), sys(7000, 7001, 11), xrid(rid)),
			span(base+2, ClientProcess, "gw", 1000, e+9000, up, client(10, "nginx"), server(0, "frontend"), sys(7000, 7001, 11), xrid(rid)),
			span(base+3, ClientNIC, "gw", 1050, e+8950, up, client(10, "nginx"), server(0, "frontend"), xrid(rid)),
			span(base+4, ServerNIC, "fe", 1150, e+8850, up, client(0, "nginx"), server(20, "frontend"), xrid(rid)),
			span(base+5, ServerProcess, "fe", 1200, e+8800, up, client(0, "nginx"), server(20, "frontend"), sys(8000+base, 8100+base, 21), xrid(rid)),
			span(base+6, ClientProcess, "fe", 5000, e+5000, be, client(20, "frontend"), server(0, "backend"), xrid(rid)),
			span(base+7, ClientNIC, "fe", 5050, e+4950, be, client(20, "frontend"), server(0, "backend"), xrid(rid)),
			span(base+8, Gateway, "lb-1", 5100, e+4900, be, client(0, "frontend"), server(0, "backend"), xrid(rid)),
			span(base+9, ServerNIC, "be", 5100+delay, e+4800, be, client(0, "frontend"), server(30, "backend"), xrid(rid)),
			span(base+10, ServerProcess, "be", 5150+delay, e+4750, be, client(0, "frontend"), server(30, "backend"), sys(bs, bs+2, 31), xrid(rid)),
			span(base+11, ClientProcess, "be", 10_000+delay, 12_000+delay, rd, client(30, "backend"), server(0, "redis"), sys(bs, bs+1, 31), proto("Redis", "GET", "GET cart")),
		}
	}
	out := req(0, "rid-1", 50001, true)
	for _, s := range req(100, "rid-2", 50011, false) {
		shift(500)(s)
		out = append(out, s)
	}
	return out
}

// pipelined: one client sends A and B back to back on one keep-alive connection; the server
// (one event-loop thread) reads both before answering, so both reads, both downstream calls and
// both replies share ids (req=X, resp=Y). Row ids: client A 1, server A 2, call A 3; B 11, 12, 13.
func pipelined(withKeys bool) []*Span {
	const X, Y = 5000, 5001
	key := func(v string) mod {
		if withKeys {
			return xrid(v)
		}
		return func(*Span) {}
	}
	conn := func(seq uint32) mod { return tuple("10.1.0.1", 45000, "10.1.0.2", 8080, seq) }
	return []*Span{
		span(1, ClientProcess, "h", 0, 50_000, conn(100), client(1, "client"), server(2, "api"), sys(4000, 4001, 1), key("A")),
		span(2, ServerProcess, "h", 100, 49_900, conn(100), client(1, "client"), server(2, "api"), sys(X, Y, 2), key("A")),
		span(3, ClientProcess, "h", 5000, 40_000, tuple("10.1.0.2", 46000, "10.1.0.9", 5432, 300), client(2, "api"), server(0, "db"), sys(X, Y, 2), key("A"), proto("PostgreSQL", "SELECT", "SELECT a")),
		span(11, ClientProcess, "h", 10, 60_000, conn(200), client(1, "client"), server(2, "api"), sys(4000, 4001, 1), key("B")),
		span(12, ServerProcess, "h", 120, 59_900, conn(200), client(1, "client"), server(2, "api"), sys(X, Y, 2), key("B")),
		span(13, ClientProcess, "h", 6000, 45_000, tuple("10.1.0.2", 46001, "10.1.0.9", 5432, 400), client(2, "api"), server(0, "db"), sys(X, Y, 2), key("B"), proto("PostgreSQL", "SELECT", "SELECT b")),
	}
}

// sequentialKeepAlive: the same connection and thread, but B is read after A was answered, so B's
// read gets a new id and each request keeps its own downstream call.
func sequentialKeepAlive() []*Span {
	conn := func(seq uint32) mod { return tuple("10.1.0.1", 45000, "10.1.0.2", 8080, seq) }
	return []*Span{
		span(1, ClientProcess, "h", 0, 10_000, conn(100), client(1, "client"), server(2, "api"), sys(4000, 4000, 1)),
		span(2, ServerProcess, "h", 100, 9_900, conn(100), client(1, "client"), server(2, "api"), sys(6000, 6001, 2)),
		span(3, ClientProcess, "h", 1000, 9000, tuple("10.1.0.2", 46000, "10.1.0.9", 6379, 300), client(2, "api"), server(0, "redis"), sys(6000, 6001, 2), proto("Redis", "GET", "GET a")),
		span(11, ClientProcess, "h", 10_050, 20_000, conn(200), client(1, "client"), server(2, "api"), sys(4000, 4000, 1)),
		span(12, ServerProcess, "h", 10_150, 19_900, conn(200), client(1, "client"), server(2, "api"), sys(6002, 6003, 2)),
		span(13, ClientProcess, "h", 11_000, 19_000, tuple("10.1.0.2", 46000, "10.1.0.9", 6379, 301), client(2, "api"), server(0, "redis"), sys(6002, 6003, 2), proto("Redis", "GET", "GET b")),
	}
}
