"""The provider registry: entry points (built-in and third-party), lazy loading, clear errors."""

from __future__ import annotations

import pytest

from ftkit import ConfigError, UnknownProviderError
from ftkit.errors import ProviderUnavailableError
from ftkit.provider import Provider
from ftkit.registry import available_providers, get_provider, register_provider


def test_builtins_and_the_plugin_are_listed_without_importing_them():
    providers = available_providers()
    assert {"local", "openai", "together", "echo"} <= set(providers)
    assert providers["echo"].origin == "entry point (ftkit-echo)"
    assert providers["local"].target == "ftkit.providers.local:LocalProvider"
    assert providers["local"].origin == "built-in" and providers["local"].extra == "local"


def test_plugin_provider_loads_through_its_entry_point():
    cls = get_provider("echo")
    assert issubclass(cls, Provider) and cls.name == "echo"
    assert get_provider("ECHO") is cls


def test_unknown_provider_lists_what_exists():
    with pytest.raises(UnknownProviderError) as info:
        get_provider("nosuch")
    assert "echo" in str(info.value) and "ftkit providers" in str(info.value)


def test_missing_dependency_names_the_extra():
    register_provider("needs-extra", "ftkit_not_installed_anywhere.provider:P", replace=True)
    from ftkit import registry

    registry._targets["needs-extra"] = registry.ProviderInfo("needs-extra", "ftkit_not_installed_anywhere:P", "test", "local")
    with pytest.raises(ProviderUnavailableError, match=r"pip install 'ftkit\[local\]'"):
        get_provider("needs-extra")


def test_registering_twice_needs_replace():
    class Mine(get_provider("echo")):  # type: ignore[misc]
        name = "mine"

    register_provider("mine", Mine, replace=True)
    assert get_provider("mine") is Mine
    with pytest.raises(ConfigError, match="already registered"):
        register_provider("mine", Mine)


def test_target_that_is_not_a_provider_is_refused():
    register_provider("notaprovider", "ftkit.spec:JobSpec", replace=True)
    with pytest.raises(ConfigError, match="not a subclass"):
        get_provider("notaprovider")
