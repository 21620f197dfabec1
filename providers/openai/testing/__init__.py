"""Test support for the OpenAI provider: :func:`openai_server`, an emulator of OpenAI's API on 127.0.0.1.

The real ``openai`` SDK talks to it unmodified; the shared HTTP plumbing (faults, clock, transport) is
:mod:`ftkit.testing._http`, which every provider's emulator builds on.
"""

from ftkit.providers.openai.testing.emulator import BASE_ANSWER, OpenAIEmulator, openai_server

__all__ = ["BASE_ANSWER", "OpenAIEmulator", "openai_server"]
