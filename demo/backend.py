#!/usr/bin/env python3
"""Demo backend for mini-balancer: a tiny greeting echo server.

Usage: backend.py NAME HOST:PORT

Listens on HOST:PORT (IPv6 as [addr]:port). Each connection is greeted with
"hello from NAME", then everything the client sends is echoed back until the
client closes its side; then this side is closed too. One line is printed
per connection, so you can see which backend the balancer picked. Clients
are served in parallel, one thread each. Python 3 standard library only.
"""

import signal
import socket
import socketserver
import sys
import threading


def parse_address(text):
    """Split "host:port" or "[v6]:port" into (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    port = int(port)
    if not 1 <= port <= 65535:
        raise ValueError(f"port out of range in {text!r}")
    return host, port


def format_peer(peer):
    host, port = peer[0], peer[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        server = self.server
        with server.lock:
            server.count += 1
            number = server.count
        print(f"backend {server.name}: connection #{number} from "
              f"{format_peer(self.client_address)}", flush=True)
        conn = self.request
        try:
            conn.sendall(f"hello from {server.name}\n".encode())
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the client went away (reset, broken pipe): nothing to do


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, name, address):
        self.name = name
        self.count = 0
        self.lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)


def main(argv):
    if len(argv) != 3:
        print("usage: backend.py NAME HOST:PORT", file=sys.stderr)
        return 64
    name = argv[1]
    try:
        address = parse_address(argv[2])
    except ValueError as e:
        print(f"backend.py: {e}", file=sys.stderr)
        return 64
    try:
        server = Server(name, address)
    except OSError as e:
        print(f"backend {name}: cannot listen on {argv[2]}: {e.strerror}",
              file=sys.stderr)
        return 1

    # SIGTERM (sent by quickstart.sh on exit) ends the server quietly.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"backend {name}: listening on {argv[2]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
