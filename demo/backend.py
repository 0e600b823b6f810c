"""Demo "backend" service (Python): products and an inventory that sometimes fails."""
import json
import os
import random
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _send(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/products":
            time.sleep(0.005)
            self._send(200, json.dumps([{"id": i, "name": f"item {i}"} for i in range(5)]))
        elif self.path == "/inventory/reserve":
            time.sleep(0.015)
            if random.random() < 0.2:
                self._send(500, '{"error":"inventory service unavailable"}')
            else:
                self._send(200, '{"reserved":true}')
        else:
            self._send(404, '{"error":"not found"}')

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "28182"))), Handler).serve_forever()
