"""The GPU catalog: memory, peak BF16 throughput and an hourly price for each GPU a local job is sized against.

Shipped as ``ftkit/estimation/gpus.yaml``; overridden (merged per GPU) by ``$FTKIT_HOME/catalog/gpus.yaml``
and then ``$FTKIT_CATALOG_DIR/gpus.yaml``, exactly like the provider catalogs.

>>> [g.name for g in load_gpus()][:3]
['RTX 4090', 'L4', 'A10G']
"""

from __future__ import annotations

import functools
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ftkit.errors import ConfigError
from ftkit.estimation.catalog import Price, existing_overrides, merge_catalog_data, read_yaml

__all__ = ["Gpu", "find_gpu", "load_gpus"]


class Gpu(BaseModel):
    """One GPU model. ``memory_gib`` is its memory as sold ("80GB" is GiB); ``bf16_tflops`` the dense peak."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    memory_gib: float = Field(gt=0)
    bf16_tflops: float = Field(gt=0)
    tflops_source: str
    price: Price

    @property
    def memory_gb(self) -> float:
        """Memory in GB (10^9 bytes), the unit of every ftkit estimate."""
        return self.memory_gib * 2**30 / 1e9


@functools.lru_cache(maxsize=8)
def _load(overrides: tuple[tuple[str, float], ...]) -> tuple[Gpu, ...]:
    shipped = resources.files("ftkit.estimation").joinpath("gpus.yaml")
    data = read_yaml(shipped.read_text(encoding="utf-8"), str(shipped))
    for path, _mtime in overrides:
        with open(path, encoding="utf-8") as f:
            data = merge_catalog_data(data, read_yaml(f.read(), path))
    try:
        return tuple(Gpu.model_validate({"name": name, **fields}) for name, fields in data["gpus"].items())
    except (ValidationError, KeyError, AttributeError) as e:
        files = ", ".join([str(shipped), *(p for p, _ in overrides)])
        raise ConfigError(f"Invalid GPU catalog ({files}): {e}") from None


def load_gpus() -> list[Gpu]:
    """Every GPU of the catalog, in catalog order (smallest first in the shipped file)."""
    return list(_load(existing_overrides("gpus")))


def find_gpu(name: str) -> Gpu:
    """The GPU called ``name`` (case and spaces ignored), or a ConfigError listing them."""
    def key(s: str) -> str:
        return "".join(s.lower().split()).replace("-", "")

    gpus = load_gpus()
    for gpu in gpus:
        if key(gpu.name) == key(name):
            return gpu
    raise ConfigError(f"No GPU {name!r} in the catalog. Known GPUs: {', '.join(g.name for g in gpus)}.")
