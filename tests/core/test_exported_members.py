"""``ftkit`` exports its whole exception tree, so ``except ftkit.SomeError`` works for every error it raises.

In the spirit of httpx's tests/test_exported_members.py: the public lists are checked against what
the modules actually define, so a new error cannot be added without exporting it.
"""

from __future__ import annotations

import inspect

import ftkit
import ftkit.errors


def _public_error_classes() -> dict[str, type]:
    return {
        name: obj
        for name, obj in vars(ftkit.errors).items()
        if inspect.isclass(obj) and issubclass(obj, BaseException) and not name.startswith("_")
        and obj.__module__ == "ftkit.errors"
    }


def test_every_error_class_is_in_the_error_modules_all():
    assert sorted(_public_error_classes()) == sorted(ftkit.errors.__all__)


def test_every_error_is_rooted_at_ftkit_error():
    for name, cls in _public_error_classes().items():
        assert issubclass(cls, ftkit.FtkitError), name


def test_ftkit_exports_every_public_error():
    missing = sorted(set(_public_error_classes()) - set(ftkit.__all__))
    assert not missing, f"add to ftkit/__init__.py: {missing}"
    for name, cls in _public_error_classes().items():
        assert getattr(ftkit, name) is cls


def test_every_error_is_documented_in_the_tree():
    # the tree in ftkit/errors.py's docstring is how a user finds what to catch
    for name in _public_error_classes():
        assert f" {name}" in ftkit.errors.__doc__, name


def test_every_name_in_ftkit_all_resolves():
    assert len(set(ftkit.__all__)) == len(ftkit.__all__)
    for name in ftkit.__all__:
        assert getattr(ftkit, name) is not None


def test_no_public_module_defines_its_own_ftkit_error():
    # one exception tree: an FtkitError subclass lives in ftkit/errors.py (a module may re-export it)
    import ftkit.deployment
    import ftkit.job
    import ftkit.store

    for module in (ftkit.deployment, ftkit.job, ftkit.store):
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, ftkit.FtkitError):
                assert obj.__module__ == "ftkit.errors", f"{module.__name__}.{name} belongs in ftkit/errors.py"
