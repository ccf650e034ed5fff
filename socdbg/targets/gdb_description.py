"""The target description of a GDB stub: the ``target.xml`` document and the documents it
includes, read with ``qXfer:features:read`` in packet-sized pieces, bounded in size and number,
and the CPU registers they list (name, number, width)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from socdbg.errors import TargetError
from socdbg.targets.rsp_connection import _error_code

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

MAX_DESCRIPTION = 1 << 20  # bytes of target description XML, over all its documents
MAX_DOCUMENTS = 64  # target description documents (target.xml and its includes)


@dataclass(frozen=True)
class CoreReg:
    name: str
    regnum: int
    bits: int


def fetch_document(spec: str, request: Callable[[bytes], bytes], packet_size: int,
                   annex: str) -> bytes:
    """One target-description document, ``qXfer`` piece by piece (``request`` sends a
    packet and returns the reply)."""
    out = bytearray()
    offset = 0
    chunk = max(64, packet_size - 16)
    while True:
        reply = request(f"qXfer:features:read:{annex}:{offset:x},{chunk:x}".encode())
        if not reply or reply[:1] not in (b"m", b"l"):
            raise TargetError(f"{spec}: cannot read target description {annex} "
                              f"({_error_code(reply) or reply[:16]!r})")
        out += reply[1:]
        offset += len(reply) - 1
        if reply[:1] == b"l":
            return bytes(out)
        if len(reply) == 1:  # 'm' and nothing: asking again would never end
            raise TargetError(f"{spec}: the stub answered qXfer {annex} at offset "
                              f"{offset:#x} with 'm' and no data")
        if len(out) > MAX_DESCRIPTION:
            raise TargetError(f"{spec}: target description {annex} is larger than "
                              f"{MAX_DESCRIPTION} bytes")


def describe(spec: str, xfer: Callable[[str], bytes]) -> list[CoreReg]:
    """The CPU registers of ``target.xml`` and the documents it includes (``xfer`` reads
    one document by name)."""
    regs: list[CoreReg] = []
    next_num = 0
    pending = ["target.xml"]
    seen: set[str] = set()
    while pending:
        annex = pending.pop(0)
        if annex in seen:
            continue
        seen.add(annex)
        if len(seen) > MAX_DOCUMENTS:
            raise TargetError(f"{spec}: target description includes more than "
                              f"{MAX_DOCUMENTS} documents")
        text = xfer(annex)
        import xml.etree.ElementTree as ET  # only here: one-shot commands skip it
        # stubs (QEMU among them) use xi:include without declaring the xi prefix
        text = re.sub(rb"<(/?)xi:include", rb"<\1include", text)
        try:
            root = ET.fromstring(text)
        except ET.ParseError as exc:
            raise TargetError(f"{spec}: malformed target description {annex}: "
                              f"{exc}") from None
        for el in root.iter():
            tag = el.tag.rsplit("}", 1)[-1]
            if tag == "include" and el.get("href"):
                pending.append(el.get("href", ""))
            elif tag == "reg":
                num = _xml_number(spec, annex, el, "regnum", next_num, 0xFFFF)
                bits = _xml_number(spec, annex, el, "bitsize", 32, 4096)
                if bits == 0:
                    raise TargetError(f"{spec}: target description {annex}: "
                                      f"register {el.get('name')!r} has bitsize 0")
                regs.append(CoreReg(el.get("name", f"r{num}"), num, bits))
                next_num = num + 1
    if not regs:
        raise TargetError(f"{spec}: target description lists no registers")
    return regs


def _xml_number(spec: str, annex: str, el: ET.Element, attr: str, default: int,
                limit: int) -> int:
    text = el.get(attr)
    if text is None:
        return default
    if not re.fullmatch(r"\d{1,6}", text.strip()) or int(text) > limit:
        raise TargetError(f"{spec}: target description {annex}: register "
                          f"{el.get('name')!r} has {attr}={text[:20]!r} (expected a number "
                          f"up to {limit})")
    return int(text)
