"""Pre-flight estimates: tokens, billed tokens, cost, GPU memory and time, offline."""

from ftkit.estimation.types import Estimate, GpuFit, TokenCount

__all__ = ["Estimate", "GpuFit", "TokenCount"]
