"""Test support for the Together provider: :func:`together_server`, an emulator of Together's API on 127.0.0.1.

The real ``together`` SDK talks to it unmodified; the shared HTTP plumbing (faults, clock, transport) is
:mod:`ftkit.testing._http`, which every provider's emulator builds on.
"""

from ftkit.providers.together.testing.emulator import ModelSpec, TogetherServer, together_server

__all__ = ["ModelSpec", "TogetherServer", "together_server"]
