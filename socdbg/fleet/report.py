"""A fleet run's results as JUnit XML (one test case per target), the exit status, and the
file name of each target's dump."""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from pathlib import Path

from socdbg.errors import UsageError
from socdbg.fleet.engine import TargetResult

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
MAX_STEM = 100


def junit_xml(results: Sequence[TargetResult], suite_name: str) -> bytes:
    """``<testsuites><testsuite>`` with one ``<testcase>`` per target: a failed check is a
    failure; an error, an unreachable or a cancelled target an error."""
    import xml.etree.ElementTree as ET

    failures = sum(1 for r in results if r.result == "failed")
    errors = sum(1 for r in results if r.result not in ("passed", "failed"))
    suite = ET.Element("testsuite", name=suite_name, tests=str(len(results)),
                       failures=str(failures), errors=str(errors),
                       time=f"{sum(r.seconds for r in results):.3f}")
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=suite_name, name=r.name,
                             time=f"{r.seconds:.3f}")
        if r.ok:
            continue
        tag = "failure" if r.result == "failed" else "error"
        message = f"{r.result}: {r.where + ': ' if r.where else ''}{r.reason}"
        ET.SubElement(case, tag, message=message, type=r.result).text = \
            f"{r.spec}: {message}"
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def exit_status(results: Sequence[TargetResult]) -> int:
    return 0 if results and all(r.ok for r in results) else 1


def safe_stem(name: str) -> str:
    """A target name as a plain file name: runs of anything but letters, digits and ``._+-``
    become ``_``, no leading dot, at most :data:`MAX_STEM` characters."""
    stem = _UNSAFE.sub("_", name).lstrip("._")[:MAX_STEM].rstrip("_") or "target"
    return stem


def dump_path(folder: Path, name: str, when: datetime.datetime) -> Path:
    """``FOLDER/NAME-YYYYmmddTHHMMSSffffffZ.json.gz``, checked to be inside FOLDER."""
    stamp = when.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"{safe_stem(name)}-{stamp}.json.gz"
    if path.resolve().parent != folder.resolve():
        raise UsageError(f"target name {name!r} would write outside {folder}")
    return path


_STAMPED = re.compile(r"(?P<name>.+)-(?P<stamp>\d{8}T\d{12}Z)\.json(\.gz)?")


def name_from_file(file_name: str) -> str | None:
    """The target name part of a file :func:`dump_path` named (None: not one of ours)."""
    m = _STAMPED.fullmatch(file_name)
    return m.group("name") if m else None
