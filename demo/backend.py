"""Demo "backend" service (Python): products and an inventory kept in PostgreSQL, view counters in Redis.

Each request is handled on its own thread (ThreadingHTTPServer, one thread per connection) and
makes its calls on that thread, as most Python services do: no tracing code anywhere.

  GET  /products?item=N            redis INCR views:N, then postgres SELECT of product N
  POST /inventory/reserve?item=N   postgres UPDATE of N's stock, then redis LPUSH orders:N
  ?slow=backend|postgres|redis     adds slow_ms (default 100) to /products at that hop: a sleep here,
                                   pg_sleep in the SQL, or a redis DEBUG SLEEP before the INCR (for the
                                   triage demo and tests; a checkout's reservation ignores it)

Environment: BIND (address), PORT, PG (libpq conninfo, optional), REDIS_HOST, REDIS_PORT (optional),
FAIL_RATE (share of reservations answered 500, default 0.2). Without PG/REDIS the data is in memory.
"""
import json
import os
import queue
import random
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PG = os.environ.get("PG", "")
REDIS_HOST = os.environ.get("REDIS_HOST", "")
REDIS_PORT = int(os.environ.get("REDIS_PORT", "6379"))
FAIL_RATE = float(os.environ.get("FAIL_RATE", "0.2"))
POOL_SIZE = 8


class PgPool:
    """A few PostgreSQL connections shared by the request threads (each call runs on the caller's thread)."""

    def __init__(self, conninfo):
        import psycopg

        self.psycopg = psycopg
        self.conninfo = conninfo
        self.idle = queue.LifoQueue()
        self.created = 0
        self.lock = threading.Lock()

    def run(self, sql, params):
        try:
            conn = self.idle.get_nowait()
        except queue.Empty:
            with self.lock:
                grow = self.created < POOL_SIZE
                self.created += grow
            conn = self.psycopg.connect(self.conninfo, autocommit=True) if grow else self.idle.get(timeout=10)
        try:
            # client-side binding: the values are in the SQL text the agent sees (one simple Query message)
            with self.psycopg.ClientCursor(conn) as cur:
                cur.execute(sql, params)
                rows = cur.fetchall() if cur.description else []
            self.idle.put(conn)
            return rows
        except Exception:
            conn.close()
            with self.lock:
                self.created -= 1
            raise


def setup_schema(conninfo):
    import psycopg

    # its own short connection: the pool's connections open with the first requests
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS products (id int PRIMARY KEY, name text NOT NULL, price numeric NOT NULL, stock int NOT NULL)"
        )
        conn.execute(
            "INSERT INTO products SELECT i, 'item ' || i, (i % 17) + 0.99, 1000000 FROM generate_series(1, 100000) AS i ON CONFLICT DO NOTHING"
        )


pg = PgPool(PG) if PG else None
if pg:
    setup_schema(PG)
cache = None
if REDIS_HOST:
    import redis

    extra = {}
    try:  # redis-py >= 7 asks servers for maintenance notifications, which Redis 7.0 refuses
        from redis.maint_notifications import MaintNotificationsConfig

        extra["maint_notifications_config"] = MaintNotificationsConfig(enabled=False)
    except ImportError:
        pass
    # no CLIENT SETINFO on connect (Redis 7.0 refuses it too): only the demo's own commands are seen
    with warnings.catch_warnings():  # lib_name/lib_version are deprecated but the only way to skip SETINFO here
        warnings.simplefilter("ignore", DeprecationWarning)
        cache = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_timeout=10, lib_name=None, lib_version=None, **extra)
memory_views = {}


def pause(slow, hop, ms):
    return ms / 1000 if slow == hop else 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body are two writes: without TCP_NODELAY the body waits for the delayed ACK (~40 ms)
    disable_nagle_algorithm = True

    def _send(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _views(self, item, slow, ms):
        if not cache:
            memory_views[item] = memory_views.get(item, 0) + 1
            return memory_views[item]
        if slow == "redis":
            cache.execute_command("DEBUG", "SLEEP", ms / 1000)  # one more call, blocking redis for ms
        return cache.incr(f"views:{item}")

    def _product(self, item, slow, ms):
        if not pg:
            return [item, f"item {item}", 1.99]
        if slow == "postgres":
            rows = pg.run("SELECT id, name, price FROM products, pg_sleep(%s) WHERE id = %s", (ms / 1000, item))
        else:
            rows = pg.run("SELECT id, name, price FROM products WHERE id = %s", (item,))
        return [rows[0][0], rows[0][1], float(rows[0][2])] if rows else None

    def _reserve(self, item):
        left = 1
        if pg:
            rows = pg.run("UPDATE products SET stock = stock - 1 WHERE id = %s AND stock > 0 RETURNING stock", (item,))
            left = rows[0][0] if rows else 0
        if cache:
            cache.lpush(f"orders:{item}", str(time.time()))
        return left

    def _handle(self, method):
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        slow = q.get("slow", [""])[0]
        ms = float(q.get("slow_ms", ["100"])[0])
        try:
            item = int(q.get("item", ["1"])[0])
        except ValueError:
            return self._send(400, '{"error":"item must be a number"}')
        if url.path == "/products" and method == "GET":
            views = self._views(item, slow, ms)
            product = self._product(item, slow, ms)
            time.sleep(pause(slow, "backend", ms))
            if not product:
                return self._send(404, json.dumps({"error": f"no product {item}"}))
            return self._send(200, json.dumps({"product": product, "views": views}))
        if url.path == "/inventory/reserve" and method == "POST":
            left = self._reserve(item)
            if random.random() < FAIL_RATE:
                return self._send(500, '{"error":"inventory service unavailable"}')
            return self._send(200 if left else 409, json.dumps({"reserved": bool(left), "left": left}))
        return self._send(404, '{"error":"not found"}')

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        if length:
            self.rfile.read(length)
        self._handle("POST")

    def log_message(self, *args):
        pass


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer((os.environ.get("BIND", "127.0.0.1"), int(os.environ.get("PORT", "28182"))), Handler).serve_forever()
