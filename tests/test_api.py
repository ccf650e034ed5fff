"""The Python API, ``socdbg.connect``: attribute access mirrors the map, ``read()`` gives a
Value, ``write()`` validates exactly as the shell's ``write`` before any access, misspelt names
raise AttributeError with a did-you-mean, Python keywords are reached with a trailing ``_``,
and the same calls work on the simulator, a dump and through ``socdbg serve``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gdb_support as gs
import pytest

import socdbg
from socdbg.api import Array, Block, Chip, FieldInt, FieldProxy, RegisterProxy, Value
from socdbg.commands.dispatch import execute
from socdbg.errors import EncodeError, SocdbgError, TargetError
from socdbg.targets.sim import SimTarget

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
FIXTURES = TESTS / "fixtures" / "butr"
KEYWORDS = FIXTURES / "keywords.rdl"


@pytest.fixture
def chip() -> Iterator[Any]:
    with socdbg.connect("sim") as handle:
        yield handle


class Recorder:
    """A Target that forwards to a SimTarget and logs each access."""

    def __init__(self, sim: SimTarget) -> None:
        self.sim = sim
        self.spec = "rec:" + sim.spec
        self.capabilities = sim.capabilities
        self.regmap = sim.regmap
        self.log: list[tuple[str, int, int]] = []

    def read(self, address: int, size: int) -> bytes:
        self.log.append(("read", address, size))
        return self.sim.read(address, size)

    def write(self, address: int, data: bytes) -> None:
        self.log.append(("write", address, len(data)))
        self.sim.write(address, data)

    def read_block(self, address: int, size: int) -> bytes:
        self.log.append(("read_block", address, size))
        return self.sim.read_block(address, size)

    def write_block(self, address: int, data: bytes) -> None:
        self.log.append(("write_block", address, len(data)))
        self.sim.write_block(address, data)

    def close(self) -> None:
        pass


@pytest.fixture
def recorded() -> Iterator[tuple[Any, Recorder]]:
    handle = socdbg.connect("sim")
    sim = handle.session.target
    assert isinstance(sim, SimTarget)
    rec = Recorder(sim)
    handle.session.use_target(rec)
    yield handle, rec
    handle.close()


# --- navigation ------------------------------------------------------------------------------
def test_attribute_access_mirrors_the_map(chip: Any) -> None:
    assert isinstance(chip, Chip)
    assert repr(chip) == "<chip soc on sim>"
    assert dir(chip) == ["dma", "hbm", "intc", "mailbox", "noc", "pcie", "sysctrl"]
    dma = chip.dma
    assert isinstance(dma, Block) and dma.path == "dma"
    assert dir(dma) == ["ch", "global_ctrl", "global_status"]
    ctrl = dma.ch[0].ctrl
    assert isinstance(ctrl, RegisterProxy)
    assert ctrl.path == "dma.ch[0].ctrl"
    assert ctrl.address == chip.map.get("dma.ch[0].ctrl").address == 0x4001_0100
    assert repr(ctrl) == "<register dma.ch[0].ctrl at 0x40010100>"
    assert {"en", "start", "mode", "irq_en", "read", "write", "address"} <= set(dir(ctrl))
    mode = ctrl.mode
    assert isinstance(mode, FieldProxy)
    assert mode.field.name == "mode"
    assert repr(mode) == "<field dma.ch[0].ctrl.mode [5:4]>"


def test_arrays_have_len_iteration_and_negative_indexes(chip: Any) -> None:
    ch = chip.dma.ch
    assert isinstance(ch, Array)
    assert len(ch) == 4
    assert repr(ch) == "<array dma.ch[4]>"
    assert [c.path for c in ch] == [f"dma.ch[{i}]" for i in range(4)]
    assert ch[-1].path == "dma.ch[3]" and ch[-4].path == "dma.ch[0]"
    for bad in (4, -5):
        with pytest.raises(IndexError, match=r"the array has 4 elements"):
            ch[bad]
    # arrays of registers, and arrays inside array elements
    msg = chip.mailbox.msg
    assert len(msg) == 8
    assert isinstance(msg[-1], RegisterProxy) and msg[-1].path == "mailbox.msg[7]"
    assert [m.address for m in msg] == [chip.map.get(f"mailbox.msg[{i}]").address
                                       for i in range(8)]
    assert len(chip.noc.router) == 16
    flits = chip.noc.router[-1].port[-1].flits
    assert flits.path == "noc.router[15].port[4].flits"


def test_misspelt_names_raise_attribute_error_with_a_hint(chip: Any) -> None:
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: chip.dam, "the chip has no 'dam' (did you mean 'dma'?)"),
        (lambda: chip.dma.chh, "dma has no 'chh' (did you mean 'ch'?)"),
        (lambda: chip.dma.ch[0].stauts, "dma.ch[0] has no 'stauts' (did you mean 'status'?)"),
        (lambda: chip.dma.ch[1].ctrl.mdoe,
         "dma.ch[1].ctrl has no field 'mdoe' (did you mean 'mode'?)"),
        (lambda: chip.dma.ch[0].status.read().bussy,
         "dma.ch[0].status has no field 'bussy' (did you mean 'busy'?)"),
    ]
    for get, message in cases:
        with pytest.raises(AttributeError) as info:
            get()
        assert str(info.value) == message
    assert not hasattr(chip.sysctrl, "scratchh")
    assert hasattr(chip.sysctrl, "scratch")


# --- reading ---------------------------------------------------------------------------------
def test_read_returns_a_value(chip: Any) -> None:
    v = chip.sysctrl.chip_id.read()
    assert isinstance(v, Value) and isinstance(v, int)
    assert v == 0x5D0C0A01 and f"{v:#x}" == "0x5d0c0a01"
    assert v.vendor == 0x5D0C and v.part == 0x0A01
    assert isinstance(v.part, FieldInt) and v.part.name is None
    assert v.register == chip.map.get("sysctrl.chip_id")
    assert v.fields == {"part": 0x0A01, "vendor": 0x5D0C}
    assert repr(v) == "<sysctrl.chip_id = 0x5d0c0a01 vendor=0x5d0c part=0xa01>"
    status = chip.dma.ch[2].status.read()
    assert status.err_code == 0 and status.err_code.name == "NONE"
    assert repr(status.err_code) == "NONE(0)"
    assert status.err_code.field.name == "err_code"
    # a field alone
    lock = chip.sysctrl.pll_status.lock.read()
    assert isinstance(lock, FieldInt) and lock == 0


def test_write_fields_and_read_back(chip: Any) -> None:
    ctrl = chip.dma.ch[1].ctrl
    written = ctrl.write(en=1, mode="RING")
    assert isinstance(written, Value)
    assert (written.en, written.mode.name) == (1, "RING")
    v = ctrl.read()
    assert (v.en, v.mode, v.mode.name, v.irq_en) == (1, 2, "RING", 0)
    ctrl.write(irq_en=1)  # read-modify-write: en and mode kept
    v = ctrl.read()
    assert (v.en, v.mode.name, v.irq_en) == (1, "RING", 1)
    ctrl.mode.write("CHAIN")
    assert ctrl.mode.read().name == "CHAIN"
    ctrl.mode.write(0)
    assert ctrl.read().mode.name == "SINGLE"
    assert chip.dma.ch[0].ctrl.read() == 0  # another channel is untouched


def test_whole_value_writes(chip: Any) -> None:
    chip.sysctrl.scratch.write(0xDEAD_BEEF)
    assert chip.sysctrl.scratch.read() == 0xDEADBEEF
    chip.mailbox.msg[-1].write(0x1234)
    assert chip.read("mailbox.msg[7]") == 0x1234
    assert chip.sysctrl.scratch.value.read() == 0xDEADBEEF
    chip.sysctrl.scratch.value.write(7)
    assert chip.sysctrl.scratch.read() == 7


def test_chip_read_and_write_by_path(chip: Any) -> None:
    w = chip.write("dma.ch[3].ctrl", en=1, mode="CHAIN")
    assert w.mode.name == "CHAIN"
    v = chip.read("dma.ch[3].ctrl")
    assert isinstance(v, Value) and v.register.path == "dma.ch[3].ctrl"
    assert (v.en, v.mode.name) == (1, "CHAIN")
    chip.write("sysctrl.scratch", 0x55)
    assert chip.read("SYSCTRL.Scratch") == 0x55  # paths are case-insensitive, as in the shell
    with pytest.raises(TypeError, match="dma is not a register"):
        chip.read("dma")
    with pytest.raises(TypeError, match=r"dma\.ch is not a register"):
        chip.write("dma.ch", 1)
    with pytest.raises(AttributeError, match="did you mean 'status'"):
        chip.read("dma.ch[0].stauts")


# --- validation: the shell's, before any access ----------------------------------------------
#: (API call on chip.dma.ch[0], the same write in the shell)
INVALID: list[tuple[Callable[[Any], object], str]] = [
    (lambda ch: ch.ctrl.write(bogus=1), "write dma.ch[0].ctrl bogus=1"),
    (lambda ch: ch.ctrl.write(enn=1), "write dma.ch[0].ctrl enn=1"),
    (lambda ch: ch.ctrl.write(mode="RINF"), "write dma.ch[0].ctrl mode=RINF"),
    (lambda ch: ch.ctrl.write(mode=7), "write dma.ch[0].ctrl mode=7"),
    (lambda ch: ch.ctrl.write(en=2), "write dma.ch[0].ctrl en=2"),
    (lambda ch: ch.ctrl.write(en=-1), "write dma.ch[0].ctrl en=-1"),
    (lambda ch: ch.ctrl.write(1 << 32), "write dma.ch[0].ctrl 0x100000000"),
    (lambda ch: ch.ctrl.write(en=1, mode="RING", irq_en=3),
     "write dma.ch[0].ctrl en=1 mode=RING irq_en=3"),
    (lambda ch: ch.status.write(busy=1), "write dma.ch[0].status busy=1"),
    (lambda ch: ch.status.busy.write(1), "write dma.ch[0].status.busy 1"),
    (lambda ch: ch.ctrl.mode.write("RINF"), "write dma.ch[0].ctrl.mode RINF"),
]


@pytest.mark.parametrize("index", range(len(INVALID)))
def test_invalid_writes_raise_before_any_access(recorded: tuple[Any, Recorder],
                                                index: int) -> None:
    handle, rec = recorded
    call, line = INVALID[index]
    with pytest.raises(SocdbgError) as api_error:
        call(handle.dma.ch[0])
    assert rec.log == []
    # the shell refuses the same write with the same error, also before any access
    with pytest.raises(SocdbgError) as shell_error:
        execute(handle.session, line)
    assert rec.log == []
    assert type(api_error.value) is type(shell_error.value)
    assert str(api_error.value) == str(shell_error.value)


def test_invalid_write_messages(recorded: tuple[Any, Recorder]) -> None:
    handle, rec = recorded
    ch = handle.dma.ch[0]
    with pytest.raises(EncodeError, match=r"'RINF' is not a value of dma_mode_e "
                                          r"\(did you mean 'RING'\?\)"):
        ch.ctrl.write(mode="RINF")
    with pytest.raises(EncodeError, match=r"7 does not fit 2 bit\(s\)"):
        ch.ctrl.write(mode=7)
    with pytest.raises(EncodeError, match=r"busy is read-only"):
        ch.status.write(busy=1)
    with pytest.raises(EncodeError, match=r"has no field 'bogus'"):
        ch.ctrl.write(bogus=1)
    with pytest.raises(EncodeError, match=r"sysctrl.chip_id is read-only"):
        handle.sysctrl.chip_id.write(0)
    with pytest.raises(TypeError, match="either a whole value or field=value"):
        ch.ctrl.write(1, en=1)
    with pytest.raises(TypeError, match="needs a value"):
        ch.ctrl.write()
    assert rec.log == []


def test_valid_writes_access_exactly_the_register(recorded: tuple[Any, Recorder]) -> None:
    handle, rec = recorded
    ctrl = handle.dma.ch[0].ctrl
    ctrl.write(en=1, mode="RING")  # other writable fields kept: read, then write
    assert rec.log == [("read", ctrl.address, 4), ("write", ctrl.address, 4)]
    rec.log.clear()
    ctrl.write(0x21)  # a whole value: no read
    assert rec.log == [("write", ctrl.address, 4)]
    rec.log.clear()
    ctrl.write(en=1, start=0, mode=2, irq_en=0, reduce=0)  # every writable field: no read
    assert rec.log == [("write", ctrl.address, 4)]
    rec.log.clear()
    ctrl.read()
    assert rec.log == [("read", ctrl.address, 4)]


# --- Python keywords -------------------------------------------------------------------------
def test_keyword_names_get_a_trailing_underscore() -> None:
    with socdbg.connect(f"sim:{KEYWORDS}") as kw:
        assert repr(kw).startswith("<chip kw_top on sim:")
        assert dir(kw) == ["class_", "global_"]
        reg = kw.class_
        assert reg.path == "class"
        assert {"in_", "from_", "is_"} <= set(dir(reg))
        v = reg.read()
        assert (v.in_, v.from_.name, v.is_) == (0, "X1", 1)
        assert v.fields == {"in": 0, "from": 1, "is": 1}  # real names in the dict
        reg.write(in_=1, from_="X4")
        v = reg.read()
        assert (v.in_, v.from_.name, v.is_) == (1, "X4", 1)
        assert reg.in_.read() == 1
        reg.from_.write("NONE")
        assert kw.read("class").from_.name == "NONE"
        kw.write("class", in_=0)
        assert kw.class_.in_.read() == 0
        assert len(kw.global_) == 2
        kw.global_[-1].pass_.write(7)
        assert kw.global_[1].pass_.path == "global[1].pass"
        assert kw.read("global[1].pass") == 7
        assert kw.global_[0].def_.lambda_.read() == 0x11
        with pytest.raises(EncodeError, match="is is read-only"):
            reg.write(is_=0)
        with pytest.raises(AttributeError, match="did you mean 'in'"):
            reg.inn  # noqa: B018


# --- the session -----------------------------------------------------------------------------
def test_the_context_manager_closes_the_session() -> None:
    with socdbg.connect("sim") as handle:
        handle.sysctrl.scratch.read()
        assert handle.session.has_target
    assert not handle.session.has_target
    handle2 = socdbg.connect("sim")
    handle2.sysctrl.scratch.read()
    handle2.close()
    assert not handle2.session.has_target


def test_connect_takes_a_map() -> None:
    right = str(FIXTURES / "right.rdl")
    for given in (right, [right]):
        with socdbg.connect(f"sim:{FIXTURES / 'wrong_reset.rdl'}", given) as handle:
            assert handle.map.name == "butr_dut"
            v = handle.ctrl.read()  # the model's reset, decoded with the map's fields
            assert v.mode.name == "ONESHOT"


# --- a dump ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dumped_state(tmp_path_factory: pytest.TempPathFactory, _socdbg_session_env: None
                 ) -> Iterator[tuple[Any, Path]]:
    """A simulator in some state, and a dump of it."""
    live = socdbg.connect("sim")
    live.sysctrl.scratch.write(0x600DCAFE)
    live.dma.ch[2].ctrl.write(en=1, mode="RING", irq_en=1)
    live.mailbox.msg[3].write(0xABCD)
    path = tmp_path_factory.mktemp("api-dump") / "state.json.gz"
    out = execute(live.session, f"dump -o {path}")
    assert out is not None and out.ok
    yield live, path
    live.close()


def readable(handle: Any) -> list[str]:
    return [r.path for r in handle.map
            if r.layout.readable and not r.layout.read_side_effect]


def test_the_api_on_a_dump(dumped_state: tuple[Any, Path]) -> None:
    live, path = dumped_state
    with socdbg.connect(f"dump:{path}") as dumped:
        paths = readable(live)
        assert len(paths) > 300
        for p in paths:
            a, b = dumped.read(p), live.read(p)
            assert (int(a), a.fields) == (int(b), b.fields), p
        v = dumped.dma.ch[2].ctrl.read()
        assert (v.en, v.mode.name, v.irq_en) == (1, "RING", 1)
        assert dumped.sysctrl.scratch.read() == 0x600DCAFE
        assert dumped.dma.ch[2].ctrl.mode.read().name == "RING"
        with pytest.raises(TargetError, match="read-only"):
            dumped.sysctrl.scratch.write(1)
        with pytest.raises(EncodeError):  # validation still comes first
            dumped.dma.ch[0].ctrl.write(mode="RINF")


# --- through socdbg serve --------------------------------------------------------------------
@pytest.fixture
def server(_socdbg_session_env: None) -> Iterator[str]:
    """``socdbg serve --allow-writes`` (the reference SoC's simulator) on a free port."""
    with gs.serve(["--allow-writes"]) as served:
        yield served.url

def test_the_api_through_serve_reads_what_the_simulator_reads(server: str) -> None:
    with socdbg.connect(server) as remote, socdbg.connect("sim") as local:
        assert repr(remote) == f"<chip soc on {server}>"
        for handle in (remote, local):
            handle.dma.ch[1].ctrl.write(en=1, mode="CHAIN")
            handle.sysctrl.scratch.write(0x0BAD_F00D)
            handle.mailbox.msg[-1].write(0x77)
        for p in readable(local):
            a, b = remote.read(p), local.read(p)
            assert (int(a), a.fields) == (int(b), b.fields), p
        assert remote.dma.ch[1].ctrl.read().mode.name == "CHAIN"
        with pytest.raises(EncodeError):
            remote.dma.ch[1].ctrl.write(mode="RINF")
        assert len(remote.dma.ch) == 4


# --- known bugs ------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["value", "enum-field", "bool"])
def test_ints_read_back_can_be_written_again(chip: Any, case: str) -> None:
    ctrl = chip.dma.ch[0].ctrl
    ctrl.write(en=1, mode="RING")
    saved = ctrl.read()
    other = chip.dma.ch[1].ctrl
    if case == "value":
        other.write(saved)  # save/restore: write back what was read
        assert other.read() == saved
    elif case == "enum-field":
        other.write(mode=saved.mode)
        assert other.read().mode.name == "RING"
    else:
        other.write(en=True)
        assert other.read().en == 1


def test_chip_read_and_write_accept_field_paths(chip: Any) -> None:
    chip.write("dma.ch[0].ctrl.mode", "RING")
    assert chip.read("dma.ch[0].ctrl.mode").name == "RING"


def test_fields_named_like_api_attributes_are_reachable() -> None:
    with socdbg.connect(f"sim:{FIXTURES / 'collisions.rdl'}") as handle:
        # like Python keywords, names the API uses itself take a trailing underscore
        v = handle.frac_div.read()
        assert (v.numerator_, v.denominator_) == (3, 7)
        assert (v.numerator, v.denominator) == (int(v), 1)  # still an int
        assert isinstance(handle.i2c_ctrl.address_, FieldProxy)
        assert handle.i2c_ctrl.address == 0x0  # the register's address
        assert handle.i2c_ctrl.read().address_ == 0x50
        handle.i2c_ctrl.write(address_=0x21)
        assert handle.i2c_ctrl.address_.read() == 0x21


def test_connect_can_open_live_silicon_for_writes(tmp_path: Path) -> None:
    device = tmp_path / "device.bin"
    device.write_bytes(bytes(0x1000))
    target = f"mmio:{device}@0+0x1000"
    with socdbg.connect(target, str(FIXTURES / "right.rdl")) as ro:
        assert ro.scratch.read() == 0
        with pytest.raises(TargetError, match="read-only"):
            ro.scratch.write(1)
    wanted: dict[str, Any] = {"allow_writes": True}  # the missing parameter
    with socdbg.connect(target, str(FIXTURES / "right.rdl"), **wanted) as rw:
        rw.scratch.write(0x1234)
    assert device.read_bytes()[0x1C:0x20] == (0x1234).to_bytes(4, "little")
