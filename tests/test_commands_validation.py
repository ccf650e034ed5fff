"""Commands validate everything before they touch the bus.

A recording target wraps a SimTarget and logs every access; a Session is given the recorder as
its target. An invalid command must leave the log empty (not one read, not one write); a valid
one must perform exactly the expected accesses at the register's access width.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import socdbg.targets.recorder as socdbg_recorder
from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.errors import EncodeError, SocdbgError
from socdbg.regmap import RegMap
from socdbg.targets.base import HasMap, SimTime, Target
from socdbg.targets.sim import SimTarget

Access = tuple[Any, ...]


class RecordingTarget(socdbg_recorder.RecordingTarget):
    """The library's recorder (socdbg/targets/recorder.py) in front of a SimTarget: every
    call on the target is logged, memory accesses as ``("read", address, size)``,
    ``("write", address, data)``, ``("read_block", ...)``, ``("write_block", ...)``, and every
    other operation (reset, CPU registers, simulated time, backdoor writes...) too, so a
    command that fails validation must leave the whole log empty."""

    def __init__(self, sim: SimTarget) -> None:
        super().__init__(sim, "rec:" + sim.spec)
        self.sim = sim

    def close(self) -> None:
        pass  # the simulator outlives the session that borrowed it


def recording_session(regmap: RegMap) -> tuple[Session, RecordingTarget]:
    rec = RecordingTarget(SimTarget(regmap))
    session = Session()
    session.use_target(rec)  # the session opens no target of its own: it uses this one
    return session, rec


@pytest.fixture
def rec_session(ref_map: RegMap) -> Iterator[tuple[Session, RecordingTarget]]:
    session, rec = recording_session(ref_map)
    yield session, rec
    session.close()


def test_the_recorder_is_a_target(rec_session: tuple[Session, RecordingTarget]) -> None:
    session, rec = rec_session
    assert isinstance(rec, Target) and isinstance(rec, SimTime) and isinstance(rec, HasMap)
    assert session.target is rec
    assert session.map is rec.regmap
    execute(session, "read sysctrl.chip_id")
    assert rec.take() == [("read", 0x40000000, 4)]


INVALID = [
    # unknown field in the 2nd of 3 assignments
    "write dma.ch[0].ctrl en=1 bogus=1 mode=RING",
    # value too big in the last assignment
    "write dma.ch[0].ctrl en=1 irq_en=1 mode=7",
    "write dma.ch[0].ctrl en=1 irq_en=2",
    # glob write where some matched registers lack the field (ctrl has it, status does not)
    "write dma.ch[0].* en=1",
    "write dma.ch[*].ctrl mode=RING bogus=1",
    # glob write where one matched register is read-only (intc.pending)
    "write intc.* dma_ch0=1",
    # block write: the first register has no such field
    "write dma en=1",
    # bad enum name, or a number the enum does not name
    "write dma.ch[0].ctrl mode=RINGG",
    "write dma.ch[0].ctrl en=1 mode=3",
    "write dma.ch[2].ctrl.mode RINGG",
    # whole value too wide
    "write sysctrl.scratch 0x100000000",
    "write dma.ch[*].ctrl 0x1_0000_0000",
    "write sysctrl.scratch -1",
    # read-only field / register
    "write sysctrl.chip_id vendor=1",
    "write sysctrl.chip_id 0",
    "write dma.ch[0].status busy=1 err=1",
    # malformed values
    "write sysctrl.scratch 0xzz",
    "write dma.ch[0].ctrl en=",
    "write dma.ch[0].ctrl en=1 0x5",
    "write dma.ch[0].ctrl en=1 en=0",
    "write dma.ch[0].ctrl.en 2",
    "write dma.ch[0].ctrl.en en=1",
    "write dma.ch[0].ctrl 'mode=RING",
    # write with no value, no such register
    "write sysctrl.scratch",
    "write",
    "write nosuch.reg 1",
    "write dma.ch[9].ctrl en=1",
    # poke with a value too big for the access, unaligned, not a number
    "poke sram 0x100000000",
    "poke --width 16 sram 0x10000",
    "poke sram -1",
    "poke sram+1 0",
    "poke sram zz",
    "poke --width 24 sram 0",
    "poke nowhere 0",
    # reads and peeks that cannot resolve
    "read dma.ch[0].stauts",
    "read dma.ch[0].status.dnoe",
    "read nosuch.*",
    "peek sram+2",
    "peek --width 64 sysctrl.revision",
    "peek sram 0",
    "peek sram lots",
    "peek --width 12 sram",
    # commands that change state other than memory: nothing at all may reach the target
    "step -5",
    "step lots",
    "step --until dma.ch[0].status.dnoe == 1",
    "step --until dma.ch[0].status.done == 1 --max-cycles -1",
    "sleep -1",
    "core pc 0x1000",
    "stepi 0",
    "halt",
    "resume",
    "monitor info",
    "load /nonexistent/fw.elf",
    "poll dma.ch[0].status.dnoe == 1",
]


@pytest.mark.parametrize("line", INVALID)
def test_invalid_commands_touch_nothing(rec_session: tuple[Session, RecordingTarget],
                                        line: str) -> None:
    session, rec = rec_session
    before = {p: rec.sim.regs.peek(p) for p in ("dma.ch[0].ctrl", "sysctrl.scratch",
                                                "intc.status", "intc.enable")}
    with pytest.raises(SocdbgError):
        execute(session, line)
    assert rec.log == [], f"{line!r} accessed the bus before failing validation"
    assert {p: rec.sim.regs.peek(p) for p in before} == before


def test_the_recorder_sees_every_change_not_only_memory_writes(
        rec_session: tuple[Session, RecordingTarget]) -> None:
    session, rec = rec_session
    execute(session, "step 10")
    execute(session, "reset")
    assert rec.take() == [("step", 10), ("reset",)]
    execute(session, "step --until sysctrl.cycle >= 5")
    # the run goes in slices (progress, Ctrl-C); each slice is a run_until_text
    assert {c[0] for c in rec.changes()} == {"run_until_text"}  # then a read of the cycle


def w32(address: int, value: int) -> Access:
    return ("write", address, value.to_bytes(4, "little"))


def test_field_write_is_one_read_and_one_write(rec_session: tuple[Session, RecordingTarget]
                                               ) -> None:
    session, rec = rec_session
    execute(session, "write dma.ch[0].ctrl mode=RING")
    assert rec.take() == [("read", 0x40010100, 4), w32(0x40010100, 0x20)]
    execute(session, "write dma.ch[0].ctrl en=1")
    assert rec.take() == [("read", 0x40010100, 4), w32(0x40010100, 0x21)]
    execute(session, "write dma.ch[0].ctrl.irq_en 1")
    assert rec.take() == [("read", 0x40010100, 4), w32(0x40010100, 0x121)]


def test_naming_every_writable_field_needs_no_read(
        rec_session: tuple[Session, RecordingTarget]) -> None:
    session, rec = rec_session
    execute(session, "write dma.ch[1].ctrl en=1 start=0 mode=CHAIN irq_en=1 reduce=NONE")
    assert rec.take() == [w32(0x40010140, 0x111)]


def test_whole_value_write_is_one_write(rec_session: tuple[Session, RecordingTarget]) -> None:
    session, rec = rec_session
    execute(session, "write sysctrl.scratch 0x1234")
    assert rec.take() == [w32(0x40000008, 0x1234)]


def test_glob_write_validates_all_then_read_modify_writes_each(
        rec_session: tuple[Session, RecordingTarget]) -> None:
    session, rec = rec_session
    execute(session, "write dma.ch[*].ctrl mode=RING")
    expected: list[Access] = []
    for n in range(4):
        addr = 0x40010100 + n * 0x40
        expected += [("read", addr, 4), w32(addr, 0x20)]
    assert rec.take() == expected


def test_64_bit_register_with_32_bit_accesswidth_is_two_accesses(
        rec_session: tuple[Session, RecordingTarget]) -> None:
    session, rec = rec_session
    execute(session, "write mailbox.msg64 0x1122334455667788")
    assert rec.take() == [w32(0x40050080, 0x55667788), w32(0x40050084, 0x11223344)]
    out = execute(session, "read --json mailbox.msg64")
    assert out is not None and out.data["value"] == 0x1122334455667788
    assert rec.take() == [("read", 0x40050080, 4), ("read", 0x40050084, 4)]
    execute(session, "write mailbox.msg64 data=5")  # the only field: no read needed
    assert rec.take() == [w32(0x40050080, 5), w32(0x40050084, 0)]


def test_64_bit_registers_are_two_32_bit_accesses_low_word_first(
        rec_session: tuple[Session, RecordingTarget]) -> None:
    """Every 64-bit register of the reference map has accesswidth 32 (registers/udp.rdl:
    the low word is read first and latches the high word; the high word is written last and
    commits): the DMA addresses and the cycle counter too."""
    session, rec = rec_session
    execute(session, "write dma.ch[0].src 0x1_8000_1000")
    assert rec.take() == [w32(0x40010108, 0x80001000), w32(0x4001010C, 1)]
    assert rec.sim.regs.peek("dma.ch[0].src") == 0x1_8000_1000
    execute(session, "read dma.ch[0].src")
    assert rec.take() == [("read", 0x40010108, 4), ("read", 0x4001010C, 4)]
    execute(session, "read sysctrl.cycle")
    assert rec.take() == [("read", 0x40000030, 4), ("read", 0x40000034, 4)]


def test_rmw_writes_w1c_fields_it_was_not_asked_to_change_as_zero(
        rec_session: tuple[Session, RecordingTarget]) -> None:
    """The channel finished with an error: done and err are both set. Clearing err alone
    must not clear done, although a read of the register shows done = 1."""
    session, rec = rec_session
    rec.sim.regs.hw_set("dma.ch[0].status", done=1, err=1, err_code=2)
    execute(session, "write dma.ch[0].status err=1")
    log = rec.take()
    assert log[0] == ("read", 0x40010104, 4)
    assert len(log) == 2 and log[1][:2] == ("write", 0x40010104)
    written = int.from_bytes(log[1][2], "little")
    assert written & 0b110 == 0b100  # err=1 (clear it), done=0 (leave it)
    assert rec.sim.regs.field("dma.ch[0].status", "done") == 1
    assert rec.sim.regs.field("dma.ch[0].status", "err") == 0
    assert rec.sim.regs.field("dma.ch[0].status", "err_code") == 2


def test_rmw_does_not_refire_singlepulse_fields(rec_session: tuple[Session, RecordingTarget]
                                               ) -> None:
    session, rec = rec_session
    execute(session, "write hbm.train_ctrl ch_mask=0x0f")
    log = rec.take()
    assert log == [("read", 0x40030000, 4), w32(0x40030000, 0x0F00)]


def test_intc_w1c_clear_of_one_source_keeps_the_others(
        rec_session: tuple[Session, RecordingTarget]) -> None:
    session, rec = rec_session
    execute(session, "write intc.test_set dma_ch1=1 mbox=1")
    rec.take()
    execute(session, "write intc.status mbox=1")
    log = rec.take()
    assert log == [("read", 0x40001000, 4), w32(0x40001000, 1 << 20)]
    assert rec.sim.regs.peek("intc.status") == 1 << 1


def test_write_to_a_write_only_register_does_no_read(
        rec_session: tuple[Session, RecordingTarget]) -> None:
    session, rec = rec_session
    execute(session, "write sysctrl.rst_ctrl mailbox_rst=0")
    rec.take()
    execute(session, "write mailbox.doorbell db3=1")
    assert rec.take() == [w32(0x40050000, 1 << 3)]
    assert rec.sim.regs.peek("mailbox.doorbell_status") == 1 << 3


def test_write_to_register_with_rclr_fields_does_no_read(sem_map: RegMap) -> None:
    session, rec = recording_session(sem_map)
    rec.sim.regs.hw_set("clr_on_read", events=9)
    # a read-modify-write would have to read (clearing events) to keep mode: refused, no access
    with pytest.raises(EncodeError, match="reading it has side effects"):
        execute(session, "write clr_on_read cfg=7")
    assert rec.take() == []
    # naming every writable field needs no read
    execute(session, "write clr_on_read cfg=7 mode=1")
    assert rec.take() == [w32(0x44, 0x1_0700)]
    assert rec.sim.regs.field("clr_on_read", "events") == 9
    assert rec.sim.regs.field("clr_on_read", "cfg") == 7


def test_glob_read_never_reads_side_effect_registers(
        rec_session: tuple[Session, RecordingTarget]) -> None:
    session, rec = rec_session
    execute(session, "read hbm.*")
    addresses = [a for _, a, _ in rec.take()]
    assert 0x40030010 not in addresses  # hbm.ecc_err_cnt: rclr, unsafe_read
    assert addresses == [0x40030000, 0x40030004, 0x40030018, 0x4003001C, 0x40030020]
    execute(session, "read intc.*")
    assert 0x4000100C not in [a for _, a, _ in rec.take()]  # write-only test_set
    execute(session, "read hbm.ecc_err_cnt")  # named: read
    assert rec.take() == [("read", 0x40030010, 4)]


def test_peek_and_poke_accesses(rec_session: tuple[Session, RecordingTarget]) -> None:
    session, rec = rec_session
    execute(session, "poke sram+8 0xabcd")
    assert rec.take() == [w32(0x10000008, 0xABCD)]
    execute(session, "poke --width 8 sram+3 0x7f")
    assert rec.take() == [("write", 0x10000003, b"\x7f")]
    execute(session, "peek sram 4")
    assert rec.take() == [("read_block", 0x10000000, 16)]
    execute(session, "peek sysctrl.chip_id 2")
    assert rec.take() == [("read", 0x40000000, 4), ("read", 0x40000004, 4)]
    execute(session, "peek --width 16 sysctrl.chip_id")
    assert rec.take() == [("read", 0x40000000, 2)]


def test_a_failing_bus_access_stops_the_command(
        rec_session: tuple[Session, RecordingTarget]) -> None:
    session, rec = rec_session
    with pytest.raises(SocdbgError, match="bus error"):
        execute(session, "peek sysctrl.scratch 2")  # 0x4000000c is a hole
    assert rec.take() == [("read", 0x40000008, 4), ("read", 0x4000000C, 4)]
