"""Recording TCP proxy used once to capture real Kafka client/broker bytes as unit-test fixtures.

Usage: record_proxy.py LISTEN_PORT TARGET_PORT OUT_JSON
Each accepted connection is forwarded to 127.0.0.1:TARGET_PORT; every recv() chunk is appended to
OUT_JSON as {"conn": n, "dir": "c2s"|"s2c", "hex": ...} in arrival order (written on SIGTERM).
"""
import json
import select
import signal
import socket
import sys

listen_port, target_port, out_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
chunks = []


def save(*_):
    with open(out_path, 'w') as f:
        json.dump(chunks, f)
    sys.exit(0)


signal.signal(signal.SIGTERM, save)
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(('127.0.0.1', listen_port))
server.listen(16)
peers = {}
conn_ids = {}
next_conn = 0
while True:
    readable, _, _ = select.select([server, *peers.keys()], [], [])
    for s in readable:
        if s is server:
            client, _ = server.accept()
            upstream = socket.create_connection(('127.0.0.1', target_port))
            peers[client], peers[upstream] = upstream, client
            conn_ids[client] = conn_ids[upstream] = next_conn
            next_conn += 1
            continue
        data = s.recv(65536)
        other = peers.get(s)
        if not data:
            for end in (s, other):
                peers.pop(end, None)
                end.close()
            continue
        direction = 'c2s' if s in conn_ids and s.getpeername()[1] != target_port else 's2c'
        chunks.append({'conn': conn_ids[s], 'dir': direction, 'hex': data.hex()})
        other.sendall(data)
