"""Leaving a fine-tuning service: inventory, import, keep the data, record, retarget, retrain and prove parity.

The core is generic: it asks the source provider through its declared hooks (``Capability.IMPORT`` /
``Capability.INVENTORY``: :meth:`~ftkit.provider.Provider.import_job`, ``inventory``, ``download_file``) and the
targets through their declarations, so any provider that declares them can be left or moved to.

>>> from ftkit.migration import migrate, plan_migration
>>> plans = plan_migration("ftjob-abc123", ["together:Qwen/Qwen3-8B"])              # doctest: +SKIP
>>> [(t.setting, t.target, t.rule) for t in plans[0].translations][:2]              # doctest: +SKIP
>>> report = migrate("ftjob-abc123", targets=["together:Qwen/Qwen3-8B"], test="test.jsonl",
...                  out="migration/")                                                # doctest: +SKIP

``ftkit migrate ftjob-... --to together:MODEL --test FILE --out DIR`` runs the same, resumably.
"""

from ftkit.migration._types import DownloadedFile, ImportedJob, InventoryItem, RemoteFile
from ftkit.migration.imports import import_remote
from ftkit.migration.keep import KeptData, keep_data
from ftkit.migration.record import HeldOut, Recording, choose_held_out, record
from ftkit.migration.report import MigrationReport, TargetResult
from ftkit.migration.retarget import RetargetPlan, Suggestion, Translation, retarget, suggest_replacements
from ftkit.migration.run import default_source, inventory, migrate, plan_migration, record_source

__all__ = [
    "DownloadedFile",
    "HeldOut",
    "ImportedJob",
    "InventoryItem",
    "KeptData",
    "MigrationReport",
    "Recording",
    "RemoteFile",
    "RetargetPlan",
    "Suggestion",
    "TargetResult",
    "Translation",
    "choose_held_out",
    "default_source",
    "import_remote",
    "inventory",
    "keep_data",
    "migrate",
    "plan_migration",
    "record",
    "record_source",
    "retarget",
    "suggest_replacements",
]
