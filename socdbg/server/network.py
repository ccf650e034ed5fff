"""The network side of ``socdbg serve``: one thread per client, reading packets, NAKing damaged
ones and answering through the shared :class:`~socdbg.server.protocol.RspServer`; binding
(loopback unless told otherwise) and the warning for any other address."""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket
import socketserver
from collections.abc import Callable
from typing import Any

from socdbg.commands.session import Session
from socdbg.errors import SocdbgError, UsageError
from socdbg.server.protocol import IDLE_TIMEOUT, STOP_POLL, RspServer, ServeOptions
from socdbg.server.shared import ClientState
from socdbg.targets.rsp import (
    INTERRUPT,
    Decoder,
)


def serve_client(server: RspServer, sock: socket.socket,
                 on_error: Callable[[str], None] | None = None) -> None:
    """Serve one client until it detaches, vanishes or goes silent."""
    sock.settimeout(IDLE_TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    state = ClientState(sock, server.new_session())
    # packets longer than the PacketSize offered are dropped unread; run-length encoding
    # is for replies only, so a client's '*' is never expanded
    decoder = Decoder(max_packet=server.options.packet_size + 16, runs=False)
    try:
        while not state.closing:
            sock.settimeout(STOP_POLL if state.running else IDLE_TIMEOUT)
            try:
                data = sock.recv(65536)
            except TimeoutError:
                if state.running:  # did the CPU stop by itself (a breakpoint)?
                    stop = server.poll_stop()
                    if stop is not None:
                        state.running = False
                        state.send_packet(stop)
                    continue
                return
            except OSError:
                return
            if not data:
                return
            for pkt in decoder.feed(data):
                if pkt.bad:
                    if state.ack_mode:
                        state.send_raw(b"-")
                    continue
                if pkt.oob is not None:
                    if pkt.oob == INTERRUPT:
                        state.running = False
                        state.send_packet(server.interrupt())
                    continue  # acks of our replies
                assert pkt.payload is not None
                if state.ack_mode:
                    state.send_raw(b"+")
                reply = server.handle(pkt.payload, state)
                if reply is not None:
                    state.send_packet(reply)
                elif not state.closing:
                    state.running = True  # 'c': the stop reply comes later
                if state.switch_to_noack:
                    state.ack_mode = False
                    state.switch_to_noack = False
                if state.closing:
                    break
    except OSError as exc:  # the client vanished mid-reply
        if on_error is not None:
            on_error(str(exc))
    except Exception as exc:  # a bug outside the packet handler: drop this client only
        if on_error is not None:
            on_error(f"internal error: {type(exc).__name__}: {exc}")
    finally:
        with contextlib.suppress(OSError):
            sock.close()
        with contextlib.suppress(Exception):
            state.session.close()  # finishes its trace or recording; the target stays open


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    rsp: RspServer | None = None

    def server_close(self) -> None:
        super().server_close()
        if self.rsp is not None:
            self.rsp.close()
            self.rsp = None


class _TCP6Server(_TCPServer):
    address_family = socket.AF_INET6


def _family(bind: str, port: int) -> socket.AddressFamily:
    """The address family of ``bind``, or a UsageError saying the address is invalid."""
    try:
        infos = socket.getaddrinfo(bind, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError, ValueError):
        raise UsageError(f"--bind {bind}: not a valid address or host name",
                         "e.g. 127.0.0.1, ::1, 0.0.0.0") from None
    if not infos:
        raise UsageError(f"--bind {bind}: not a valid address or host name")
    return infos[0][0]


def is_loopback(bind: str) -> bool:
    try:
        return ipaddress.ip_address(bind.split("%", 1)[0]).is_loopback
    except ValueError:
        return bind == "localhost"


def bind_warning(bind: str, port: int, options: ServeOptions) -> str | None:
    """What to tell the user when a server that lets clients change things listens beyond
    this machine (the protocol has no authentication), else None."""
    if is_loopback(bind) or not (options.allow_writes or options.allow_host_files):
        return None
    what = " and ".join(w for w, on in (("--allow-writes", options.allow_writes),
                                        ("--allow-host-files", options.allow_host_files))
                        if on)
    return (f"warning: --bind {bind} is not loopback and {what} is given: anyone who can "
            f"reach port {port} can change the target"
            f"{' and files on this host' if options.allow_host_files else ''} "
            "(the GDB protocol has no authentication)")


def make_server(session: Session, bind: str, port: int, allow_writes: bool = False,
                options: ServeOptions | None = None
                ) -> tuple[socketserver.ThreadingTCPServer, RspServer]:
    """A listening server (not yet serving) in front of ``session``'s target."""
    if options is None:
        options = ServeOptions(allow_writes=allow_writes)
    options.check()
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: must be 0..65535 (0 picks a free port)")
    family = _family(bind, port)
    server_type = _TCP6Server if family == socket.AF_INET6 else _TCPServer

    rsp_box: list[RspServer] = []

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            serve_client(rsp_box[0], self.request)

    try:
        srv = server_type((bind, port), Handler)
    except OSError as exc:
        hint = ("is another server on that port?" if exc.errno == errno.EADDRINUSE else
                "no interface of this machine has that address"
                if exc.errno == errno.EADDRNOTAVAIL else None)
        raise SocdbgError(f"cannot listen on {bind}:{port}: {exc.strerror or exc}",
                          hint) from None
    try:
        rsp = RspServer(session, options)
    except BaseException:
        srv.server_close()
        raise
    rsp_box.append(rsp)
    srv.rsp = rsp
    return srv, rsp


def serve(session: Session, bind: str, port: int, allow_writes: bool = False,
          announce: Callable[[str], Any] = print, options: ServeOptions | None = None,
          warn: Callable[[str], Any] | None = None) -> None:
    if options is None:
        options = ServeOptions(allow_writes=allow_writes)
    srv, _ = make_server(session, bind, port, options=options)
    host, real_port = str(srv.server_address[0]), int(srv.server_address[1])
    warning = bind_warning(bind, real_port, options)
    if warning:
        (warn or announce)(warning)
    shown = f"[{host}]" if ":" in host else host
    announce(f"serving {session.target.spec} on {shown}:{real_port} "
             f"({'read-write' if options.allow_writes else 'read-only'}); Ctrl-C stops")
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
        session.close()
