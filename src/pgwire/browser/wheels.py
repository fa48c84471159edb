"""Wheels for the browser page: pgwire and its pure-Python dependencies, so that the page
installs them into Pyodide with no network.

:func:`browser_wheels` takes each distribution the driver needs in a browser
(:data:`DEPENDENCIES`) from a folder of wheels downloaded for Pyodide's Python
(``scripts/install-pyodide`` fills one), or else zips, in memory, its files as installed
here into a ``py3-none-any`` wheel; pgwire's own wheel is always made from its package (its
source tree, also when installed in editable mode). botocore is left out: the page gets IAM
tokens from the server that serves it. A distribution with compiled files cannot run in
Pyodide and is refused, and so is one too old for Pyodide (:data:`MIN_VERSIONS`).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import io
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEPENDENCIES",
    "MIN_VERSIONS",
    "OPTIONAL_DEPENDENCIES",
    "Wheel",
    "browser_wheels",
    "check_version",
    "installed_wheel",
    "pgwire_wheel",
]

#: What the async driver imports, directly or through its dependencies, on Python 3.14
#: (Pyodide's): scramp (SCRAM) and asn1crypto (its channel binding), anyio with idna and
#: typing_extensions, wsproto with h11.
DEPENDENCIES = ("scramp", "asn1crypto", "anyio", "idna", "typing_extensions", "wsproto", "h11")
#: Served when installed: older anyio releases import sniffio.
OPTIONAL_DEPENDENCIES = ("sniffio",)
#: Releases older than these do not run in Pyodide: scramp before 1.5 calls
#: ``hashlib.pbkdf2_hmac``, which Pyodide's hashlib lacks (Python 3.10 installs scramp 1.4).
MIN_VERSIONS = {"scramp": (1, 5)}
#: Compiled files, which a wheel for Pyodide cannot hold.
_COMPILED = (".so", ".pyd", ".dylib", ".dll")
#: Written anew (RECORD, WHEEL, METADATA), or meaningless elsewhere (the installer's records).
_SKIPPED_METADATA = {
    "RECORD",
    "WHEEL",
    "METADATA",
    "PKG-INFO",
    "INSTALLER",
    "REQUESTED",
    "direct_url.json",
}
#: Parts of pgwire that a page does not need: the page's own static files.
_PGWIRE_SKIPPED = {("browser", "static")}


@dataclass(frozen=True)
class Wheel:
    """A wheel file: its ``filename`` (``name-version-py3-none-any.whl``) and bytes."""

    filename: str
    data: bytes = b""

    def __repr__(self) -> str:
        return f"<Wheel {self.filename} ({len(self.data)} bytes)>"


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name)


def _entry(path: str) -> zipfile.ZipInfo:
    """A zip entry with a fixed date: the same files make the same wheel (and ETag), so a
    browser keeps its copy across restarts of the server."""
    entry = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
    entry.compress_type = zipfile.ZIP_DEFLATED
    entry.external_attr = 0o644 << 16
    return entry


def _wheel(name: str, version: str, files: list[tuple[str, bytes]], metadata: str) -> Wheel:
    """Zip ``files`` (archive path, content) with a ``.dist-info`` of ``metadata``."""
    dist_info = f"{_normalize(name)}-{version}.dist-info"
    entries = [
        *files,
        (f"{dist_info}/METADATA", metadata.encode()),
        (
            f"{dist_info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: pgwire.browser\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n",
        ),
    ]
    record = io.StringIO()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, content in entries:
            archive.writestr(_entry(path), content)
            digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
            record.write(f"{path},sha256={digest.decode()},{len(content)}\n")
        record.write(f"{dist_info}/RECORD,,\n")
        archive.writestr(_entry(f"{dist_info}/RECORD"), record.getvalue())
    return Wheel(f"{_normalize(name)}-{version}-py3-none-any.whl", buffer.getvalue())


def check_version(name: str, version: str) -> None:
    """Raise ``LookupError`` if ``version`` of ``name`` is too old to run in Pyodide."""
    wanted = MIN_VERSIONS.get(name)
    numbers = tuple(int(part) for part in re.findall(r"\d+", version)[:2])
    if wanted is not None and numbers < wanted:
        least = ".".join(map(str, wanted))
        raise LookupError(
            f"{name} {version} is installed here, and the page needs {name}>={least} "
            "(older releases do not run in Pyodide): install it, or give the page wheels "
            "downloaded for Python 3.14 (scripts/install-pyodide, or --wheels DIR)"
        )


def installed_wheel(name: str) -> Wheel:
    """A wheel of the installed distribution ``name`` (pure Python only)."""
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        raise LookupError(
            f"the page needs the Python package {name!r}, which is not installed here: "
            f"pip install {name}"
        ) from None
    check_version(name, dist.version)
    metadata = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    if metadata is None or not dist.files:
        raise LookupError(f"the installed {name!r} lists no files: reinstall it with pip")
    project = dist.metadata["Name"] or name
    files: list[tuple[str, bytes]] = []
    dist_info = f"{_normalize(project)}-{dist.version}.dist-info"
    for file in dist.files:
        path, parts = str(file), file.parts
        if path.startswith("..") or "__pycache__" in parts or path.endswith(".pyc"):
            continue
        in_metadata = parts[0].endswith((".dist-info", ".egg-info"))
        if in_metadata and (len(parts) != 2 or parts[1] in _SKIPPED_METADATA):
            continue
        if path.endswith(_COMPILED):
            raise LookupError(
                f"{name} is installed with compiled code ({path}), which Pyodide cannot load: "
                "the page needs a pure-Python build of it installed here"
            )
        located = Path(str(dist.locate_file(file)))
        if located.is_file():
            files.append((f"{dist_info}/{parts[1]}" if in_metadata else path, located.read_bytes()))
    return _wheel(project, dist.version, files, metadata)


def pgwire_wheel() -> Wheel:
    """A wheel of pgwire's package as imported here (an editable install included: the
    files come from the package's folder, ``transports`` through its link)."""
    import pgwire

    root = Path(pgwire.__file__).resolve().parent
    files: list[tuple[str, bytes]] = []
    for folder, subfolders, names in os.walk(root, followlinks=True):
        relative = Path(folder).relative_to(root).parts
        subfolders[:] = sorted(
            sub
            for sub in subfolders
            if sub != "__pycache__" and (*relative, sub) not in _PGWIRE_SKIPPED
        )
        for name in sorted(names):
            if name.endswith(".py") or name == "py.typed":
                path = "/".join(("pgwire", *relative, name))
                files.append((path, (Path(folder) / name).read_bytes()))
    metadata = (
        "Metadata-Version: 2.1\nName: pgwire\n"
        f"Version: {pgwire.__version__}\n"
        "Summary: pgwire for the browser page (made from the installed package)\n"
    )
    return _wheel("pgwire", pgwire.__version__, files, metadata)


def _downloaded(folder: Path, name: str) -> Wheel | None:
    """The wheel of ``name`` in ``folder`` (the newest, if several), or ``None``."""
    found = sorted(folder.glob(f"{_normalize(name)}-*-none-any.whl"))
    if not found:
        return None
    return Wheel(found[-1].name, found[-1].read_bytes())


def browser_wheels(folder: Path | None = None) -> list[Wheel]:
    """pgwire's wheel and its dependencies', in the order to install them: each from
    ``folder`` when it holds one, else made from what is installed here."""
    wheels = []
    for name in DEPENDENCIES:
        downloaded = _downloaded(folder, name) if folder is not None else None
        wheels.append(downloaded or installed_wheel(name))
    if folder is None:
        for name in OPTIONAL_DEPENDENCIES:
            try:
                wheels.append(installed_wheel(name))
            except LookupError:
                continue
    wheels.append(pgwire_wheel())
    return wheels
