"""Together weights download: client memory while streaming an archive to disk, against the old buffered read.

The emulator runs in a child process serving an archive of ``--mb`` MiB at ``GET /v1/finetune/download``, so
only the client's allocations are measured (tracemalloc peak, Python objects: the response bytes live there).

1. Baseline: ``client.fine_tuning.content(...).write_to_file(path)``, what ftkit did before (the whole
   archive read into memory first).
2. ftkit: ``stream_to_file`` (``with_streaming_response`` in 256 KiB chunks, HTTP Range resume).
3. Resume: a part file holding the first half of the archive is left on disk (as a download cut off half-way
   leaves it) and the bytes fetched again are counted. Target: peak under 5% of the archive (2), and under
   55% of the archive re-fetched on resume (3).

Run: .venv/bin/python benchmarks/together_download.py [--mb 64]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import tracemalloc
from pathlib import Path

_SERVER = textwrap.dedent(
    """
    import os, sys, time
    from ftkit.providers.together.testing.emulator import TogetherServer
    from ftkit.testing._http import Response

    size = int(sys.argv[1]) << 20
    blob = os.urandom(1 << 20) * (size >> 20)

    class Big(TogetherServer):
        def _download(self, request):
            wanted = request.headers.get("range") or ""
            start = int(wanted.removeprefix("bytes=").split("-")[0] or 0) if wanted else 0
            self.record("served", bytes=size - start)
            headers = {"content-range": f"bytes {start}-{size - 1}/{size}"} if wanted else {}
            return Response(blob[start:], 206 if wanted else 200, headers, content_type="application/octet-stream")

    server = Big(api_key="bench-key-0123456789").start()
    print(server.base_url, flush=True)
    time.sleep(3600)
    """
)


def peak_mb(fn) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / (1 << 20)
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=64)
    args = parser.parse_args()
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": f"{repo}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    child = subprocess.Popen([sys.executable, "-c", _SERVER, str(args.mb)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout is not None
        base_url = child.stdout.readline().strip()
        import together
        from ftkit.providers.together._client import TogetherApi
        from ftkit.providers.together._stream import stream_to_file

        query = {"ft_id": "ft-bench", "checkpoint": "adapter"}
        client = together.Together(api_key="bench-key-0123456789", base_url=base_url, max_retries=0)
        api = TogetherApi(api_key=lambda: "bench-key-0123456789", base_url=base_url)
        api.client, api.errors  # noqa: B018 - build the SDK client outside the measured window
        client.files  # noqa: B018
        with tempfile.TemporaryDirectory() as tmp:
            old = Path(tmp) / "old.tar.zst"
            new = Path(tmp) / "new.tar.zst.part"
            baseline = peak_mb(lambda: client.fine_tuning.content(**query).write_to_file(old))
            streamed = peak_mb(lambda: stream_to_file(api, query, new))
            assert old.stat().st_size == new.stat().st_size == args.mb << 20
            half = new.read_bytes()[: (args.mb << 20) // 2]
            new.write_bytes(half)
            before = new.stat().st_size
            resumed = peak_mb(lambda: stream_to_file(api, query, new))
            assert new.read_bytes() == old.read_bytes()
        refetched = (args.mb << 20) - before
        print(f"archive {args.mb} MiB")
        print(f"  buffered (before): peak {baseline:8.1f} MiB  = {baseline / args.mb:6.1%} of the archive")
        print(f"  streamed (ftkit):  peak {streamed:8.1f} MiB  = {streamed / args.mb:6.1%} of the archive"
              f"  (ratio to buffered {streamed / baseline:.3f}; target < 5% of the archive)")
        print(f"  resumed from half: peak {resumed:8.1f} MiB, re-fetched {refetched / (args.mb << 20):.0%} of the"
              " archive (target <= 55%)")
    finally:
        child.kill()
        child.wait()


if __name__ == "__main__":
    main()
