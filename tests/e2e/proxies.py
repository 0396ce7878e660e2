"""Two small real proxies on loopback for the client's proxy tests: an HTTP CONNECT proxy
(what HTTPS_PROXY points at) and a SOCKS5 proxy with remote DNS (``socks5h://``, what an
``ssh -D`` bastion tunnel offers). Each records the targets it was asked for."""

from __future__ import annotations

import socket
import socketserver
import struct
import threading


def _pipe(a: socket.socket, b: socket.socket) -> None:
    def one_way(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    t = threading.Thread(target=one_way, args=(b, a), daemon=True)
    t.start()
    one_way(a, b)
    t.join()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.targets: list[str] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server_address[1]


class _Connect(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        request = self.rfile.readline().decode("latin-1").split()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        if len(request) < 2 or request[0] != "CONNECT":
            self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
            return
        host, port = request[1].rsplit(":", 1)
        self.server.targets.append(request[1])
        upstream = socket.create_connection((host, int(port)))
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        _pipe(self.connection, upstream)


class _Socks5(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        _version, n = self.rfile.read(2)
        self.rfile.read(n)  # offered auth methods
        self.wfile.write(b"\x05\x00")  # no authentication
        _, _command, _, atyp = self.rfile.read(4)
        if atyp == 3:  # a host name: resolved here, as socks5h asks
            host = self.rfile.read(self.rfile.read(1)[0]).decode()
        elif atyp == 1:
            host = socket.inet_ntoa(self.rfile.read(4))
        else:
            host = socket.inet_ntop(socket.AF_INET6, self.rfile.read(16))
        port = struct.unpack("!H", self.rfile.read(2))[0]
        self.server.targets.append(f"{'name' if atyp == 3 else 'ip'}:{host}:{port}")
        upstream = socket.create_connection((host, port))
        self.wfile.write(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + b"\x00\x00")
        self.wfile.flush()
        _pipe(self.connection, upstream)


def connect_proxy() -> _Server:
    return _Server(_Connect)


def socks5_proxy() -> _Server:
    return _Server(_Socks5)
