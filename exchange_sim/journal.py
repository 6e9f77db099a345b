"""Write-ahead journal: one JSON object per line, one line per input command, appended before the
command is applied.

Crash model: the process dies, the OS does not. Each line goes to the kernel in one unbuffered
write, so a command is journaled before its result is returned; with fsync=True it is also on disk
before that (survives power loss, at ~1 ms per command). A line cut short by a crash mid-write was
never acknowledged: it is ignored and truncated away on the next open. A bad line anywhere else
means the file was damaged and the venue refuses to start.

Decimals are strings; timestamps are ISO-8601 UTC strings."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import orjson


class JournalCorrupt(RuntimeError):
    pass


class Journal:
    def __init__(self, path: str | os.PathLike, *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._file = None

    def replay(self) -> Iterator[dict]:
        """Yield every complete record, then drop a trailing partial line. Call before append()."""
        if not self.path.exists():
            return
        good_end = 0
        with open(self.path, "rb") as f:
            data = f.read()
        lines = data.split(b"\n")
        for i, line in enumerate(lines):
            last = i == len(lines) - 1
            if last and not line:
                break  # the file ends with a newline: nothing partial
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                if last or (i == len(lines) - 2 and not lines[-1]):
                    break  # a torn final write: never acknowledged
                raise JournalCorrupt(f"{self.path}: bad record at line {i + 1}") from None
            if last:
                break  # parsable but missing its newline: the write was torn before the newline
            good_end += len(line) + 1
            yield record
        if good_end < len(data):
            with open(self.path, "r+b") as f:
                f.truncate(good_end)

    def append(self, record: dict) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "ab", buffering=0)  # noqa: SIM115  (held open for the venue's life)
        self._file.write(orjson.dumps(record) + b"\n")
        if self.fsync:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
