"""``record start FILE`` / ``record stop``: write the session as a replayable script.

Every command that ran is written as typed, except that reads become checks: a register read
becomes ``expect PATH == VALUE`` (one per register of a glob), a field read
``expect PATH.FIELD == VALUE``, a peek ``expect mem ADDR == BYTES``. Replaying the file
performs the same reads once each and verifies them, so a session recorded on silicon is a
regression test on the model (``socdbg run --check FILE``).
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any, TextIO

import click

from socdbg.commands.lexer import join
from socdbg.commands.registry import Meta, Output, register, session_command
from socdbg.commands.session import Session
from socdbg.errors import UsageError

#: Commands that change nothing and check nothing: not worth replaying; and the script
#: runners, whose lines are recorded one by one as they run.
NOT_RECORDED = ("record", "help", "info", "regs", "find", "sym", "target", "source", "run")


class Recorder:
    def __init__(self, path: Path, session: Session) -> None:
        self.path = path
        try:
            self.fh: TextIO = path.open("w", encoding="utf-8", newline="\n")
        except OSError as exc:
            raise UsageError(f"record: cannot write {path}: {exc.strerror}") from None
        self.lines = 0
        when = datetime.datetime.now().isoformat(timespec="seconds")
        target = session.target.spec if session.has_target else session.target_spec
        self.fh.write(f"# socdbg recording, {when}\n# target {target}, map "
                      f"{session.map.name} {session.map.identity[:16]}\n")
        self.fh.flush()

    def record(self, words: list[str], output: Output | None) -> None:
        name = words[0]
        if name in NOT_RECORDED or (output is not None and not output.ok):
            return
        lines = self._checks(name, output.data if output is not None else None)
        if lines is None:
            try:
                lines = [join(words)]
            except UsageError:  # a ${NAME} value with a line break: no one-line form
                lines = [f"# not recorded ({name}: a word holds a line break)"]
        for line in lines:
            self.fh.write(line + "\n")
        self.lines += len(lines)
        self.fh.flush()

    @staticmethod
    def _checks(name: str, data: Any) -> list[str] | None:
        if name == "read" and data is not None:
            items = data if isinstance(data, list) else [data]
            out = []
            for d in items:
                value = d.get("enum") or f"{d['value']:#x}"  # a field read names its enum
                out.append(f"expect {d['path']} == {value}")
            return out
        if name == "peek" and data is not None:
            size = data["width"] // 8
            raw = b"".join(w.to_bytes(size, "little") for w in data["words"])
            return [f"expect mem {data['address']:#x} == {raw.hex()}"]
        return None

    def close(self) -> None:
        self.fh.close()


@click.group("record", help="Record this session as a replayable script.")
def record() -> None:
    pass


@record.command("start", help="Start writing every command (reads as checks) to FILE.")
@click.argument("path", type=click.Path(dir_okay=False))
@session_command
def record_start(session: Session, path: str) -> Output:
    if session.one_shot and not session.scripts.stack:
        raise UsageError("record start: a one-shot command ends with its process, so the "
                         "recording would stop at once",
                         "use it in socdbg shell, or in a script run with socdbg run")
    if session.recorder is not None:
        raise UsageError("already recording", "record stop first")
    session.recorder = Recorder(Path(path), session)
    return Output(data={"recording": path}, text=f"recording to {path}")


@record.command("stop", help="Stop recording and close the file.")
@session_command
def record_stop(session: Session) -> Output:
    recorder = session.recorder
    if recorder is None:
        raise UsageError("not recording", "record start FILE")
    assert isinstance(recorder, Recorder)  # the only kind record start makes
    session.recorder = None
    recorder.close()
    return Output(data={"file": str(recorder.path), "lines": recorder.lines},
                  text=f"recorded {recorder.lines} lines to {recorder.path}")


register(record, Meta("checks", subcommands={"start": Meta("checks", writes_files=("path",)),
                                             "stop": Meta("checks")}))
