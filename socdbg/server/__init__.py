"""``socdbg serve``: a GDB Remote Serial Protocol server in front of any socdbg target.

gdb-multiarch can ``target remote`` it to read and write memory (and CPU registers when the
target has a CPU) and run ``monitor <any socdbg command>``; a socdbg shell elsewhere reaches
the device as ``gdb://host:port``. It binds to loopback unless told otherwise, is read-only
unless ``--allow-writes``, serialises clients (one lock around every packet, so no access of
one client interleaves with another's), NAKs damaged packets and survives clients that vanish.

``protocol`` answers packets, ``shared`` holds what the clients share (the locked target,
monitor commands), ``network`` accepts and serves the connections.
"""

from socdbg.server.network import bind_warning, is_loopback, make_server, serve, serve_client
from socdbg.server.protocol import RspServer, ServeOptions
from socdbg.server.shared import ClientState, MonitorTimeout, SharedTarget, run_monitor

__all__ = [
    "ClientState", "MonitorTimeout", "RspServer", "ServeOptions", "SharedTarget",
    "bind_warning", "is_loopback", "make_server", "run_monitor", "serve", "serve_client",
]
