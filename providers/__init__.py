"""Built-in providers, installed as ``ftkit.providers.<name>``: one subpackage each.

Providers are found through the ``ftkit.providers`` entry-point group (see :mod:`ftkit.registry`);
nothing here is imported by ``import ftkit``.
"""
