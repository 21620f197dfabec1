"""Test support for the Fireworks provider: :func:`fireworks_server`, an emulator of Fireworks' API on 127.0.0.1.

The real ``fireworks-ai`` SDK talks to it unmodified; the shared HTTP plumbing (faults, clock) is
:mod:`ftkit.testing._http`.
"""

from ftkit.providers.fireworks.testing.emulator import FireworksServer, fireworks_server

__all__ = ["FireworksServer", "fireworks_server"]
