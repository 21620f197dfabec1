"""Test support for the Azure provider: :func:`azure_server`, an emulator of Azure OpenAI (data plane and
the ARM deployments it needs) on 127.0.0.1, built on the OpenAI provider's emulator."""

from ftkit.providers.azure.testing.emulator import AzureOpenAIServer, azure_server

__all__ = ["AzureOpenAIServer", "azure_server"]
