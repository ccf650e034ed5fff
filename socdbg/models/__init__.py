"""Functional models of the reference SoC: the simulation kernel, register file semantics,
memories, and the blocks' hardware behaviour. No shell, no rich."""
