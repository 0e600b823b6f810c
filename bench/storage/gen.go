package main

// The request-log generator: a shop of ~30 services on 12 hosts behind an nginx gateway, each
// trace a tree of calls seen at the observation points an agent would see (process ends, NICs
// on cross-host hops, a load balancer), with the ids the agent writes: per-host unique row ids
// and syscall_trace_ids chained along each handling thread (event-loop servers share ids across
// concurrent requests), random TCP sequence numbers on keep-alive connection pools,
// X-Request-ID from the gateway, W3C trace context on 40% of traces, per-host clock skew.

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/rand"
	"strconv"
)

type row struct {
	id                               uint64
	start, end                       int64
	host                             *host
	obs, source                      string
	proto, version, rtype, domain    string
	resource                         []byte
	endpoint                         string
	code                             int32
	status, exception                string
	reqLen, respLen                  uint32
	traceID, spanID, xrid            string
	sysReq, sysResp                  uint64
	thrReq, thrResp                  uint32
	coReq, coResp                    uint64
	capReq, capResp                  uint64
	seqReq, seqResp                  uint32
	flowID                           uint64
	cip, sip                         string
	cport, sport                     uint16
	cpid, spid                       uint32
	cproc, sproc, csvc, ssvc, l4prot string
}

type host struct {
	name           string
	rowPrefix, ctr uint64
	sysPrefix, sys uint64
	skew           int64 // µs this host's clock is off
}

func (h *host) rowID() uint64  { h.ctr++; return h.rowPrefix + h.ctr }
func (h *host) newSys() uint64 { h.sys++; return h.sysPrefix + h.sys }

type instance struct {
	svc       *service
	host      *host
	ip        string
	pid       uint32
	coroutine uint64
	shared    uint64 // event loop: the id the last read got
	sharedTil int64  // reads until then get the same id (no write in between)
	pools     map[*instance][]*conn
}

type conn struct {
	port   uint16
	flowID uint64
	cap    uint64
}

type call struct {
	target string
	prob   float64
	ep     *endpoint // nil: picked by weight
}

type endpoint struct {
	rtype, path string // request type and endpoint
	weight      float64
	selfUs      float64 // median own time
	calls       []call
	resource    func(b []byte, r *rand.Rand) []byte
}

type service struct {
	name, proto, process, domain string
	port                         uint16
	observed                     bool // an agent sees the server process (and its host's NIC)
	eventLoop                    bool
	goRuntime                    bool
	eps                          []endpoint
	total                        float64
	inst                         []*instance
}

type gen struct {
	r        *rand.Rand
	hosts    []*host
	services map[string]*service
	gateway  *service
	flowCtr  uint64
	rows     []row // the current trace
	traceHex [16]byte
	xrid     string
	traceID  string
	ports    uint16
}

func idRes(prefix string, max int) func(b []byte, r *rand.Rand) []byte {
	return func(b []byte, r *rand.Rand) []byte {
		b = append(b, prefix...)
		return strconv.AppendInt(b, int64(r.Intn(max)), 10)
	}
}

func httpEp(path string, w, self float64, q string, calls ...call) endpoint {
	return endpoint{rtype: "GET", path: path, weight: w, selfUs: self, calls: calls, resource: func(b []byte, r *rand.Rand) []byte {
		b = append(b, path...)
		if q != "" {
			b = append(b, '?')
			b = append(b, q...)
			b = append(b, '=')
			b = strconv.AppendInt(b, int64(r.Intn(500_000)), 10)
			if r.Intn(3) == 0 {
				b = append(b, "&page="...)
				b = strconv.AppendInt(b, int64(1+r.Intn(9)), 10)
			}
		}
		return b
	}}
}

func post(e endpoint) endpoint { e.rtype = "POST"; return e }

func sqlEp(cmd, table string, w, self float64, text string, max int) endpoint {
	return endpoint{rtype: cmd, path: cmd + " " + table, weight: w, selfUs: self, resource: idRes(text, max)}
}

func kvEp(cmd string, w, self float64, keyPrefix string, max int) endpoint {
	return endpoint{rtype: cmd, path: cmd, weight: w, selfUs: self, resource: idRes(cmd+" "+keyPrefix, max)}
}

func c(target string, prob float64) call { return call{target: target, prob: prob} }

func newGen(seed int64) *gen {
	g := &gen{r: rand.New(rand.NewSource(seed)), services: map[string]*service{}, ports: 32768}
	for _, name := range []string{"gw-1", "gw-2", "node-1", "node-2", "node-3", "node-4", "node-5", "node-6", "node-7", "node-8", "db-1", "db-2"} {
		h := &host{name: name, rowPrefix: uint64(g.r.Intn(0x1fffff)) << 32, sysPrefix: uint64(g.r.Intn(0xffff)+1) << 40,
			skew: int64(g.r.Intn(3000)) - 1500}
		g.hosts = append(g.hosts, h)
	}
	add := func(s *service, hosts []int, replicas int) {
		s.domain = s.name + ".shop.svc.cluster.local"
		for i := range s.eps {
			s.total += s.eps[i].weight
		}
		for i := 0; i < replicas; i++ {
			h := g.hosts[hosts[i%len(hosts)]]
			hi := hosts[i%len(hosts)]
			in := &instance{svc: s, host: h, ip: fmt.Sprintf("10.244.%d.%d", hi, 10+len(g.services)*3+i),
				pid: uint32(1000 + g.r.Intn(60000)), coroutine: uint64(g.r.Intn(1000)), pools: map[*instance][]*conn{}}
			if hi >= 10 {
				in.ip = fmt.Sprintf("10.10.0.%d", 10+len(g.services)+i)
			}
			s.inst = append(s.inst, in)
		}
		g.services[s.name] = s
	}
	nodes := []int{2, 3, 4, 5, 6, 7, 8, 9}
	http := func(name, process string, goRT bool, eps ...endpoint) *service {
		return &service{name: name, proto: "HTTP", process: process, port: 8080, observed: true, goRuntime: goRT, eps: eps}
	}
	data := func(name, proto, process string, port uint16, observed bool, eps ...endpoint) *service {
		return &service{name: name, proto: proto, process: process, port: port, observed: observed, eps: eps}
	}
	add(data("orders-db", "PostgreSQL", "postgres", 5432, true,
		sqlEp("SELECT", "orders", 6, 900, "SELECT id, total, status FROM orders WHERE user_id = ", 500_000),
		sqlEp("INSERT", "orders", 2, 1500, "INSERT INTO orders (user_id, total, status) VALUES (", 500_000),
		sqlEp("UPDATE", "orders", 1, 1200, "UPDATE orders SET status = 'paid' WHERE id = ", 5_000_000)), []int{10}, 1)
	add(data("users-db", "PostgreSQL", "postgres", 5432, true,
		sqlEp("SELECT", "users", 8, 500, "SELECT id, name, email FROM users WHERE id = ", 500_000),
		sqlEp("SELECT", "sessions", 3, 400, "SELECT user_id FROM sessions WHERE token_hash = ", 9_000_000)), []int{11}, 1)
	add(data("catalog-db", "MySQL", "mysqld", 3306, false,
		sqlEp("SELECT", "products", 8, 700, "SELECT id, title, price FROM products WHERE id = ", 200_000),
		sqlEp("SELECT", "stock", 4, 600, "SELECT qty FROM stock WHERE product_id = ", 200_000)), []int{11}, 1)
	add(data("redis-cache", "Redis", "redis-server", 6379, true,
		kvEp("GET", 8, 60, "product:", 200_000), kvEp("SET", 2, 70, "product:", 200_000), kvEp("GET", 4, 60, "price:", 200_000)), []int{10}, 1)
	add(data("redis-session", "Redis", "redis-server", 6379, false, kvEp("GET", 9, 50, "session:", 9_000_000), kvEp("EXPIRE", 1, 50, "session:", 9_000_000)), []int{11}, 1)
	add(data("memcached", "Memcached", "memcached", 11211, true, kvEp("get", 1, 40, "reco:", 500_000)), []int{2}, 1)
	add(data("kafka", "Kafka", "java", 9092, false, endpoint{rtype: "Produce", path: "Produce orders-events", weight: 1, selfUs: 2500,
		resource: func(b []byte, _ *rand.Rand) []byte { return append(b, "Produce orders-events"...) }}), []int{10}, 1)
	add(data("search-es", "HTTP", "java", 9200, false, post(httpEp("/products/_search", 1, 6000, "q"))), []int{11}, 1)
	add(data("payments-api", "HTTP", "", 443, false, post(httpEp("/v1/charges", 1, 45_000, "idempotency"))), []int{11}, 1)

	add(http("auth", "auth", true, httpEp("/api/v1/auth/verify", 1, 300, "token", c("redis-session", 1), c("users-db", 0.2))), nodes, 3)
	add(http("user", "user-svc", true, httpEp("/api/v1/users/profile", 3, 800, "id", c("users-db", 1), c("redis-cache", 0.5)),
		httpEp("/api/v1/users/addresses", 1, 600, "id", c("users-db", 1))), nodes, 2)
	add(http("pricing", "java", false, httpEp("/api/v1/prices", 1, 1200, "sku", c("redis-cache", 1), c("catalog-db", 0.3))), nodes, 2)
	add(http("inventory", "java", false, httpEp("/api/v1/stock", 1, 900, "sku", c("catalog-db", 1))), nodes, 2)
	add(http("catalog", "catalog", true, httpEp("/api/v1/products", 3, 1500, "id", c("redis-cache", 1), c("catalog-db", 0.4), c("pricing", 0.8)),
		httpEp("/api/v1/categories", 1, 900, "cat", c("catalog-db", 1))), nodes, 3)
	add(http("search", "search", true, post(httpEp("/api/v1/search", 1, 2500, "q", c("search-es", 1), c("pricing", 0.5)))), nodes, 2)
	add(http("recommend", "python3", false, httpEp("/api/v1/recommendations", 1, 8000, "user", c("memcached", 1), c("catalog", 0.6))), nodes, 2)
	add(http("review", "python3", false, httpEp("/api/v1/reviews", 1, 3000, "product", c("catalog-db", 1))), nodes, 1)
	add(http("ads", "node", false, httpEp("/api/v1/ads", 1, 2000, "slot", c("redis-cache", 0.7))), nodes, 1)
	add(http("cart", "cart", true, httpEp("/api/v1/cart", 3, 700, "user", c("redis-session", 1), c("catalog", 0.7)),
		post(httpEp("/api/v1/cart/items", 1, 900, "user", c("inventory", 1), c("redis-session", 1)))), nodes, 2)
	add(http("shipping", "java", false, httpEp("/api/v1/shipping/quote", 1, 1500, "zip", c("users-db", 0.5))), nodes, 1)
	add(http("payment", "payment", true, post(httpEp("/api/v1/payments", 1, 2000, "order", c("payments-api", 1), c("orders-db", 1)))), nodes, 2)
	add(http("notify", "node", false, post(httpEp("/api/v1/notify", 1, 900, "user", c("kafka", 1)))), nodes, 1)
	add(http("checkout", "checkout", true, post(httpEp("/api/v1/checkout", 1, 3000, "cart", c("cart", 1), c("inventory", 1), c("pricing", 1),
		c("payment", 1), c("shipping", 0.8), c("orders-db", 1), c("notify", 0.9)))), nodes, 2)
	add(http("orders", "orders", true, httpEp("/api/v1/orders", 1, 1200, "user", c("orders-db", 1), c("shipping", 0.2))), nodes, 2)
	add(http("account", "python3", false, httpEp("/api/v1/account", 1, 2000, "user", c("user", 1), c("orders", 0.8))), nodes, 2)

	// Frontends: web is a Node event loop (only HTTP calls, which carry X-Request-ID).
	web := http("web", "node", false,
		httpEp("/", 5, 1500, "", c("catalog", 1), c("recommend", 0.6), c("ads", 0.8)),
		httpEp("/product", 6, 1800, "id", c("catalog", 1), c("review", 0.7), c("recommend", 0.4)),
		httpEp("/search", 3, 1500, "q", c("search", 1), c("ads", 0.5)),
		httpEp("/cart", 3, 1200, "session", c("auth", 1), c("cart", 1)),
		post(httpEp("/checkout", 1, 2500, "session", c("auth", 1), c("checkout", 1))),
		httpEp("/account", 1, 1500, "session", c("auth", 1), c("account", 1)))
	web.eventLoop = true
	add(web, nodes, 3)
	mobile := http("mobile-bff", "mobile-bff", true,
		httpEp("/m/feed", 3, 1200, "user", c("auth", 1), c("catalog", 1), c("recommend", 0.5)),
		httpEp("/m/cart", 1, 900, "user", c("auth", 1), c("cart", 1)))
	add(mobile, nodes, 2)
	gw := &service{name: "nginx", proto: "HTTP", process: "nginx", port: 80, observed: true, eventLoop: true,
		eps: []endpoint{{weight: 1}}}
	add(gw, []int{0, 1}, 2)
	g.gateway = gw
	return g
}

func (g *gen) pick(s *service) *endpoint {
	x := g.r.Float64() * s.total
	for i := range s.eps {
		x -= s.eps[i].weight
		if x < 0 {
			return &s.eps[i]
		}
	}
	return &s.eps[len(s.eps)-1]
}

// lognormal around median m (σ 0.5), with a 1% slow tail (×8).
func (g *gen) dur(m float64) int64 {
	v := m * math.Exp(g.r.NormFloat64()*0.5)
	if g.r.Intn(100) == 0 {
		v *= 8
	}
	return max(5, int64(v))
}

func (g *gen) conn(from, to *instance) *conn {
	pool := from.pools[to]
	if len(pool) < 4 {
		g.flowCtr++
		g.ports++
		if g.ports < 32768 {
			g.ports = 32768
		}
		cn := &conn{port: g.ports, flowID: g.flowCtr}
		from.pools[to] = append(pool, cn)
		return cn
	}
	return pool[g.r.Intn(len(pool))]
}

func hex16(r *rand.Rand, n int) string {
	var b [16]byte
	r.Read(b[:n])
	return hex.EncodeToString(b[:n])
}

func (g *gen) uuid() string {
	var b [16]byte
	g.r.Read(b[:])
	s := hex.EncodeToString(b[:])
	return s[0:8] + "-" + s[8:12] + "-4" + s[13:16] + "-a" + s[17:20] + "-" + s[20:32]
}

type outcome struct {
	status, exception string
	code              int32
}

var (
	httpOK     = outcome{"ok", "", 200}
	httpErrors = []outcome{{"client_error", "", 404}, {"client_error", "", 400}, {"server_error", "Internal Server Error", 500},
		{"server_error", "Service Unavailable", 503}}
)

func (g *gen) outcome(proto string, childFailed bool) outcome {
	x := g.r.Intn(1000)
	switch proto {
	case "HTTP":
		if childFailed && x < 600 {
			return httpErrors[2]
		}
		if x < 25 {
			return httpErrors[x%len(httpErrors)]
		}
		return httpOK
	case "PostgreSQL":
		if x < 4 {
			return outcome{"client_error", "23505: duplicate key value violates unique constraint \"orders_pkey\"", -1}
		}
		if x < 5 {
			return outcome{"server_error", "40P01: deadlock detected", -1}
		}
	case "MySQL":
		if x < 3 {
			return outcome{"server_error", "1205: Lock wait timeout exceeded; try restarting transaction", 1205}
		}
	}
	if x == 999 {
		return outcome{"timeout", "no response before the timeout", -1}
	}
	return outcome{"ok", "", -1}
}

// emit appends one observation of a call.
func (g *gen) emit(h *host, obs string, start, end int64, cl, sv *instance, s *service, ep *endpoint, res []byte, o outcome,
	cn *conn, seqReq, seqResp uint32, spanID string, withKeys bool) *row {
	g.rows = append(g.rows, row{})
	rw := &g.rows[len(g.rows)-1]
	rw.id, rw.host, rw.obs = h.rowID(), h, obs
	rw.start, rw.end = start+h.skew, end+h.skew
	rw.source = "ebpf"
	if obs == "client_nic" || obs == "server_nic" || obs == "gateway" {
		rw.source = "packet"
	}
	rw.proto, rw.rtype, rw.resource, rw.endpoint = s.proto, ep.rtype, res, ep.path
	switch s.proto {
	case "HTTP":
		rw.version, rw.domain = "1.1", s.domain
	case "PostgreSQL", "MySQL":
		rw.domain = s.name
	}
	rw.code, rw.status, rw.exception = o.code, o.status, o.exception
	rw.reqLen, rw.respLen = uint32(80+g.r.Intn(600)), uint32(40+g.r.Intn(4000))
	if o.status == "timeout" {
		rw.respLen = 0
	}
	if withKeys && s.proto == "HTTP" {
		rw.xrid, rw.traceID, rw.spanID = g.xrid, g.traceID, spanID
	}
	rw.seqReq, rw.seqResp, rw.flowID = seqReq, seqResp, cn.flowID
	rw.capReq, rw.capResp = cn.cap, cn.cap+1
	rw.l4prot = "TCP"
	rw.sip, rw.sport, rw.ssvc = s.inst[0].ip, s.port, s.name
	if sv != nil {
		rw.sip = sv.ip
		if s.observed {
			rw.spid, rw.sproc = sv.pid, s.process
		}
	}
	if cl != nil {
		rw.cip, rw.cport, rw.csvc = cl.ip, cn.port, cl.svc.name
		if obs == "client_process" || (obs == "server_process" && cl.host == h) {
			rw.cpid, rw.cproc = cl.pid, cl.svc.process
		}
	} else {
		rw.cip = fmt.Sprintf("%d.%d.%d.%d", 100+g.r.Intn(100), g.r.Intn(256), g.r.Intn(256), 1+g.r.Intn(254))
		rw.cport = uint16(1024 + g.r.Intn(60000))
	}
	if obs != "client_process" && obs != "server_process" {
		rw.cpid, rw.spid = 0, 0
	}
	return rw
}

// handle runs one request at a server instance from start (server clock, no skew) and returns
// its end, the syscall ids of its request and response and whether it failed.
func (g *gen) handle(sv *instance, ep *endpoint, start int64, withKeys bool) (end int64, sysReq, sysResp uint64, thread uint32, co uint64, failed bool) {
	s := sv.svc
	thread = sv.pid
	if !sv.svc.eventLoop {
		thread = sv.pid + 1 + uint32(g.r.Intn(16))
	}
	if s.goRuntime {
		sv.coroutine += uint64(1 + g.r.Intn(40))
		co = sv.coroutine
	}
	if s.eventLoop {
		// A read that follows a read keeps the thread's id: concurrent requests share it.
		if sv.shared == 0 || start > sv.sharedTil {
			sv.shared = sv.host.newSys()
		}
		sysReq = sv.shared
		sv.sharedTil = start + 2000
	} else {
		sysReq = sv.host.newSys()
	}
	cur := sysReq
	t := start + g.dur(ep.selfUs*0.4)
	childFailed := false
	for _, cl := range ep.calls {
		if g.r.Float64() >= cl.prob {
			continue
		}
		target := g.services[cl.target]
		ep := cl.ep
		if ep == nil {
			ep = g.pick(target)
		}
		cend, respID, bad := g.call(sv, target, ep, t, cur, thread, co, withKeys || target.proto == "HTTP")
		if !s.eventLoop {
			cur = respID // the reply's read gave the thread a new id
		}
		childFailed = childFailed || bad
		t = cend + g.dur(ep.selfUs*0.1)
	}
	end = t + g.dur(ep.selfUs*0.5)
	sysResp = cur
	return end, sysReq, sysResp, thread, co, childFailed
}

// call makes one call from a client instance (nil: an external client) and emits its rows.
func (g *gen) call(cl *instance, s *service, ep *endpoint, start int64, sysReq uint64, thread uint32, co uint64, withKeys bool) (end int64, sysResp uint64, failed bool) {
	sv := s.inst[g.r.Intn(len(s.inst))]
	var cn *conn
	if cl != nil {
		cn = g.conn(cl, sv)
	} else {
		g.flowCtr++
		cn = &conn{flowID: g.flowCtr}
	}
	cn.cap += 2
	seqReq, seqResp := g.r.Uint32(), g.r.Uint32()
	res := ep.resource(nil, g.r)
	spanID := ""
	if g.traceID != "" && s.proto == "HTTP" {
		spanID = hex16(g.r, 8)
	}
	cross := cl == nil || cl.host != sv.host
	oneWay := int64(20 + g.r.Intn(30))
	if cross {
		oneWay = int64(120 + g.r.Intn(400))
	}
	nic := int64(10 + g.r.Intn(25)) // process ↔ NIC, each way
	srvStart := start + oneWay + 2*nic
	var srvEnd int64
	var srvReqID, srvRespID uint64
	var srvThread uint32
	var srvCo uint64
	var childFailed bool
	if s.observed {
		srvEnd, srvReqID, srvRespID, srvThread, srvCo, childFailed = g.handle(sv, ep, srvStart, withKeys)
	} else {
		srvEnd = srvStart + g.dur(ep.selfUs)
	}
	o := g.outcome(s.proto, childFailed)
	end = srvEnd + oneWay + 2*nic
	if o.status == "timeout" {
		end = start + 5_000_000
	}
	sysResp = 0
	if cl != nil {
		sysResp = cl.host.newSys()
		rw := g.emit(cl.host, "client_process", start, end, cl, sv, s, ep, res, o, cn, seqReq, seqResp, spanID, withKeys)
		rw.sysReq, rw.sysResp, rw.thrReq, rw.thrResp, rw.coReq, rw.coResp = sysReq, sysResp, thread, thread, co, co
		if cross {
			g.emit(cl.host, "client_nic", start+nic, end-nic, cl, sv, s, ep, res, o, cn, seqReq, seqResp, spanID, withKeys)
		}
	}
	if s.observed {
		if cross {
			if cl != nil && s.name == "checkout" {
				// the checkout service sits behind an L4 load balancer observed by its own agent
				lb := g.hosts[1]
				g.emit(lb, "gateway", start+nic+oneWay/3, end-nic-oneWay/3, cl, sv, s, ep, res, o, cn, seqReq, seqResp, spanID, withKeys)
			}
			g.emit(sv.host, "server_nic", srvStart-nic, srvEnd+nic, cl, sv, s, ep, res, o, cn, seqReq, seqResp, spanID, withKeys)
		}
		rw := g.emit(sv.host, "server_process", srvStart, srvEnd, cl, sv, s, ep, res, o, cn, seqReq, seqResp, spanID, withKeys)
		rw.sysReq, rw.sysResp, rw.thrReq, rw.thrResp, rw.coReq, rw.coResp = srvReqID, srvRespID, srvThread, srvThread, srvCo, srvCo
	}
	return end, sysResp, o.status != "ok"
}

// trace generates one trace entering at the gateway at start and returns its rows. The gateway
// forwards the request unchanged to a frontend (web 4 : mobile-bff 1).
func (g *gen) trace(start int64) []row {
	g.rows = g.rows[:0]
	g.xrid = g.uuid()
	g.traceID = ""
	if g.r.Intn(10) < 4 {
		g.traceID = hex16(g.r, 16)
	}
	front := g.services["web"]
	if g.r.Intn(5) == 0 {
		front = g.services["mobile-bff"]
	}
	fe := *g.pick(front)
	res := fe.resource(nil, g.r)
	fe.resource = func(b []byte, _ *rand.Rand) []byte { return append(b, res...) }
	gwEp := endpoint{rtype: fe.rtype, path: fe.path, selfUs: 150, calls: []call{{target: front.name, prob: 1, ep: &fe}}, resource: fe.resource}
	g.call(nil, g.gateway, &gwEp, start, 0, 0, 0, true)
	return g.rows
}

// rowsPerTrace estimates the mean trace size with a separate generator.
func rowsPerTrace(seed int64) float64 {
	p := newGen(seed)
	n := 0
	for i := 0; i < 3000; i++ {
		n += len(p.trace(int64(i) * 1000))
	}
	return float64(n) / 3000
}
