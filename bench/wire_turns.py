"""Measuring client–server round trips: a TCP proxy between the application and PostgreSQL that
holds every answer of the server for `latency` seconds before passing it on. Whatever the client
sends without waiting (a pipeline of statements) costs nothing extra; each time the client must
wait for an answer costs one `latency`. So the round trips of an operation are

    round((seconds with latency L - seconds without) / L)

which counts exactly what round trips cost a deployment whose database is on another machine.
Used by bench/engine_throughput.py and tests/test_round_trips.py.

    link = SlowLink("127.0.0.1", 5432).start()      # connect to link.port
    link.latency = 0.05"""
from __future__ import annotations

import queue
import selectors
import socket
import threading
import time


class SlowLink:
    def __init__(self, host: str, port: int, latency: float = 0.0):
        self.target = (host, port)
        self.latency = latency
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stopped = False

    def start(self) -> "SlowLink":
        threading.Thread(target=self._accept, daemon=True, name="slow-link").start()
        return self

    def stop(self) -> None:
        self._stopped = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            answers: queue.SimpleQueue = queue.SimpleQueue()
            threading.Thread(target=self._pump, args=(client, server, answers), daemon=True).start()
            threading.Thread(target=self._deliver, args=(client, answers), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket, answers: queue.SimpleQueue) -> None:
        sel = selectors.DefaultSelector()
        sel.register(client, selectors.EVENT_READ)
        sel.register(server, selectors.EVENT_READ)
        try:
            while True:
                for key, _ in sel.select():
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                    if not data:
                        return
                    if key.fileobj is client:
                        server.sendall(data)
                    else:  # held back, in order, by the delivery thread
                        answers.put((time.monotonic() + self.latency, data))
        except OSError:
            return
        finally:
            answers.put(None)
            sel.close()
            server.close()

    @staticmethod
    def _deliver(client: socket.socket, answers: queue.SimpleQueue) -> None:
        try:
            while (item := answers.get()) is not None:
                due, data = item
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                client.sendall(data)
        except OSError:
            pass
        finally:
            client.close()
