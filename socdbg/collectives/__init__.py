"""Collectives over a multi-chip simulator: planned (plan.py, pure), checked against numpy
(reference.py), executed by programming each chip's DMA through its registers (run.py), and
diagnosed from registers alone (status.py)."""
