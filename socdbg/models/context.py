"""What a behaviour sees of the simulator: a typed simulation context.

Behaviours (socdbg.models.blocks, the DMA engine, the mesh binding) take a :class:`SimContext`,
never a target: the register file, the kernel, the memories, the typed options and the event
signals. The models attached to it are found through typed accessors (``dma``, ``mesh``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from socdbg.models.events import SimEvents
from socdbg.models.kernel import Kernel
from socdbg.models.memory import SparseMemory
from socdbg.models.options import SimOptions
from socdbg.models.regfile import RegisterFile
from socdbg.regmap import Memory, RegMap

if TYPE_CHECKING:
    from socdbg.models.dma import DmaEngine
    from socdbg.models.noc import Mesh


class Behaviour(Protocol):
    def reset(self) -> None: ...


@dataclass
class SimContext:
    """One simulator's state, shared by its behaviours."""

    regmap: RegMap
    options: SimOptions = field(default_factory=SimOptions)
    events: SimEvents = field(default_factory=SimEvents)
    kernel: Kernel = field(default_factory=Kernel)
    regs: RegisterFile = field(init=False)
    memories: list[tuple[Memory, SparseMemory]] = field(init=False)
    #: Every behaviour attached, in attach order (chip reset resets them in this order).
    behaviours: list[Behaviour] = field(default_factory=list)
    #: The DMA engine and the NoC mesh, when the map has them.
    dma: DmaEngine | None = None
    mesh: Mesh | None = None

    def __post_init__(self) -> None:
        self.regs = RegisterFile(self.regmap, self.events)
        self.memories = [(m, SparseMemory(m.address, m.size)) for m in self.regmap.memories]

    def memory_at(self, address: int) -> SparseMemory | None:
        for m, store in self.memories:
            if m.contains(address):
                return store
        return None
