"""`ftkit demo`: a bundled support-ticket routing dataset and a runner that exercises the whole product.

* ``tickets_{train,validation,test}.jsonl``: 600 tickets (420 / 60 / 120) routed to seven queues, chat
  format with one system prompt, written for ftkit by ``_make_dataset.py``.
* ``general_instructions.jsonl``: 40 short general questions, the regression set of ``ftkit eval --regression``.
"""

from __future__ import annotations

from ftkit.demo.runner import DemoSettings, DemoSummary, data_path, run_demo

__all__ = ["DemoSettings", "DemoSummary", "data_path", "run_demo"]
