"""Write-ahead journal with snapshots: one JSON object per line, one line per input command,
appended before the command is applied; now and then a snapshot of the whole venue state, after
which the journal starts a new segment and the older ones are deleted. A restart loads the
snapshot and replays only the segments after it.

Files, in the venue's journal directory: `<name>.snapshot` (the state, and the number of the first
segment it does not cover), the segments `<name>.journal` (segment 0) and `<name>.journal.<n>`,
and `<name>.archive`: what never changes again (customers' orders once done, fills), appended at
each snapshot and tagged with its segment number, so a snapshot holds only the live state (the
books) and stays small however many orders the day has seen.

Crash model: the process dies, the OS does not. Each line goes to the kernel in one unbuffered
write, so a command is journaled before its result is returned; with fsync=True it is also on disk
before that (survives power loss, at ~1 ms per command). A line cut short by a crash mid-write was
never acknowledged: it is ignored and truncated away on the next open (it can only be at the end
of the last segment). A bad line anywhere else means the file was damaged and the venue refuses
to start.

A snapshot is taken in two steps: under the venue's lock the state is serialised and the journal
moves on to a new segment (rotate); then, outside the lock, the archive's new lines are appended
and fsynced, the snapshot is written to a temporary file, fsynced and renamed over the old one
(write_snapshot), and only then are the segments it covers deleted. A crash anywhere in between
leaves either the old snapshot with every segment after it (archive lines tagged after it are cut
off on open), or the new snapshot (older segments left over are ignored and deleted): both replay
to the same state.

Decimals are strings; timestamps are ISO-8601 UTC strings."""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import orjson

SNAPSHOT_VERSION = 1


class JournalCorrupt(RuntimeError):
    pass


class Journal:
    def __init__(self, directory: str | os.PathLike, name: str, *, fsync: bool = False) -> None:
        self.directory = Path(directory)
        self.name = name
        self.fsync = fsync
        self.snapshot_path = self.directory / f"{name}.snapshot"
        self.archive_path = self.directory / f"{name}.archive"
        self.segment = 0  # the segment appended to
        self.bytes_since_snapshot = 0
        self._file = None
        self._segment_re = re.compile(rf"^{re.escape(name)}\.journal(?:\.(\d+))?$")

    @property
    def path(self) -> Path:
        """The segment appended to."""
        return self.segment_path(self.segment)

    def segment_path(self, n: int) -> Path:
        return self.directory / (f"{self.name}.journal" if n == 0 else f"{self.name}.journal.{n}")

    def segments(self) -> list[int]:
        if not self.directory.exists():
            return []
        found = (self._segment_re.match(p.name) for p in self.directory.iterdir())
        return sorted(int(m.group(1) or 0) for m in found if m)

    # ------------------------------------------------------------------ start-up

    def load_snapshot(self) -> dict | None:
        """The last snapshot's state, or None. Segments it covers are deleted (left over by a
        crash between the snapshot's rename and their deletion)."""
        if not self.snapshot_path.exists():
            return None
        try:
            snapshot = orjson.loads(self.snapshot_path.read_bytes())
        except orjson.JSONDecodeError:
            raise JournalCorrupt(f"{self.snapshot_path}: not a snapshot") from None
        if snapshot.get("version") != SNAPSHOT_VERSION or snapshot.get("venue") != self.name:
            raise JournalCorrupt(f"{self.snapshot_path}: version {snapshot.get('version')} of "
                                 f"{snapshot.get('venue')!r}, expected {SNAPSHOT_VERSION} of {self.name!r}")
        self.segment = snapshot["segment"]
        self._delete_segments_before(self.segment)
        return snapshot["state"]

    def load_archive(self, segment: int | None) -> list[list]:
        """The archive's [kind, data] lines up to the snapshot of `segment` (None: no snapshot).
        Lines appended for a snapshot that never got renamed into place, and a torn last line,
        are cut off."""
        if not self.archive_path.exists():
            return []
        data = self.archive_path.read_bytes()
        lines = data.split(b"\n")[:-1]  # the last piece is empty, or a torn line
        try:  # one parse for the whole file: it is read on every start
            parsed = orjson.loads(b"[" + b",".join(lines) + b"]")
        except orjson.JSONDecodeError:
            parsed = [_parse_or_none(line) for line in lines]  # the part of a failed append: skipped
        entries, good_end = [], 0
        for line, entry in zip(lines, parsed):
            if entry is not None:
                tag, kind, item = entry
                if segment is None or tag > segment:
                    break  # appended for a snapshot that never got renamed into place
                entries.append([kind, item])
            good_end += len(line) + 1
        if good_end < len(data):
            with open(self.archive_path, "r+b") as f:
                f.truncate(good_end)
        return entries

    def replay(self) -> Iterator[dict]:
        """Yield every complete record of the segments after the snapshot (call load_snapshot()
        first), then drop a trailing partial line of the last one. Call before append()."""
        segments = [n for n in self.segments() if n >= self.segment]
        for i, n in enumerate(segments):
            yield from self._replay_segment(self.segment_path(n), last_segment=i == len(segments) - 1)
        if segments:
            self.segment = segments[-1]

    def _replay_segment(self, path: Path, *, last_segment: bool) -> Iterator[dict]:
        good_end = 0
        with open(path, "rb") as f:
            data = f.read()
        lines = data.split(b"\n")
        for i, line in enumerate(lines):
            last = i == len(lines) - 1
            if last and not line:
                break  # the file ends with a newline: nothing partial
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                if last_segment and (last or (i == len(lines) - 2 and not lines[-1])):
                    break  # a torn final write: never acknowledged
                raise JournalCorrupt(f"{path}: bad record at line {i + 1}") from None
            if last:
                if not last_segment:
                    raise JournalCorrupt(f"{path}: unterminated record at line {i + 1} before the last segment")
                break  # parsable but missing its newline: the write was torn before the newline
            good_end += len(line) + 1
            yield record
        self.bytes_since_snapshot += good_end
        if good_end < len(data):
            with open(path, "r+b") as f:
                f.truncate(good_end)

    # ------------------------------------------------------------------ running

    def append(self, record: dict) -> None:
        if self._file is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "ab", buffering=0)  # noqa: SIM115  (held open until rotated)
        line = orjson.dumps(record) + b"\n"
        self._file.write(line)
        self.bytes_since_snapshot += len(line)
        if self.fsync:
            os.fsync(self._file.fileno())

    def rotate(self) -> int:
        """Start a new segment (created by the next append); returns its number. The caller has
        just serialised the state as of the end of the current one."""
        self.close()
        self.segment += 1
        self.bytes_since_snapshot = 0
        return self.segment

    def write_snapshot(self, segment: int, state_json: bytes, archive: list[list] = ()) -> None:
        """Append `archive` ([kind, data] items) to the archive, then atomically replace the
        snapshot with `state_json` (the state before `segment`), then delete the segments it covers."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if archive:
            with open(self.archive_path, "ab") as f:
                f.write(b"".join(orjson.dumps([segment, kind, item]) + b"\n" for kind, item in archive))
                f.flush()
                os.fsync(f.fileno())
        tmp = self.snapshot_path.with_name(self.snapshot_path.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(b'{"version":%d,"venue":%s,"segment":%d,"state":' % (
                SNAPSHOT_VERSION, orjson.dumps(self.name), segment))
            f.write(state_json)
            f.write(b"}")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.snapshot_path)
        _fsync_dir(self.directory)  # the rename itself is durable before anything is deleted
        self._delete_segments_before(segment)

    def _delete_segments_before(self, segment: int) -> None:
        for n in self.segments():
            if n < segment:
                self.segment_path(n).unlink(missing_ok=True)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _parse_or_none(line: bytes):
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
