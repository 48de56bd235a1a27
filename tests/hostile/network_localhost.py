# Connects to a listener the test started on the host's 127.0.0.1 -> its own network namespace: refused.
import socket

try:
    socket.create_connection(("127.0.0.1", __PORT__), timeout=3).sendall(b"stolen")
    hostile_win("reached the host's 127.0.0.1")
except OSError:
    pass
