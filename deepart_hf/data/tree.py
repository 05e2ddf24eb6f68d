"""A source's files by relative path, whether they sit in a folder, a ``.zip``, or zips inside a folder.

Sources list and read files only through a ``SourceTree``, so every layout can be read from an archive
without extracting it to disk: ``--source data.zip`` reads the archive's members, and a ``.zip`` found
inside a source folder reads as a sub-folder named after its stem (``unseen_AI_images.zip`` ->
``unseen_AI_images/``), which is how the MIE1517 project ships its test images.

Hidden and system files (``.DS_Store``, ``Thumbs.db``, dotfiles, ``__MACOSX/``) are set aside when the
tree is opened: they are counted, never read and never reported as bad. Every other file is accounted
for: a source ``claim``s what it reads, and whatever no source claimed is listed in the build report.
"""

from __future__ import annotations

import os
import threading
import zipfile
from pathlib import Path, PurePosixPath

from ..constants import IMAGE_EXTENSIONS
from ..errors import SourceError

# Names written by operating systems and archivers, never part of a collection (compared lower-case).
SYSTEM_NAMES = {".ds_store", "thumbs.db", "desktop.ini", "__macosx", "ehthumbs.db", "icon\r"}
ARCHIVE_SUFFIX = ".zip"


def is_hidden(relpath: str) -> bool:
    """A dotfile, a system file, or anything inside a hidden or system folder."""
    return any(part.startswith(".") or part.lower() in SYSTEM_NAMES for part in PurePosixPath(relpath).parts)


def is_image_name(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in IMAGE_EXTENSIONS


class SourceTree:
    """Files of one source by relative posix path (``"castle/training_set/AI_generated/1.jpg"``)."""

    def __init__(self, location: Path):
        self.location = location
        self._readers: dict[str, tuple[zipfile.ZipFile | None, str]] = {}  # relpath -> (archive or None, member)
        self._folders: set[str] = {""}
        self._archives: list[zipfile.ZipFile] = []
        self._lock = threading.Lock()  # a ZipFile's handle is shared by its members
        self.hidden: list[str] = []
        self.notes: list[str] = []
        self.claimed: set[str] = set()

    # -- opening -----------------------------------------------------------------------------------
    @classmethod
    def open(cls, source: str | Path, what: str) -> "SourceTree":
        """A folder or a ``.zip``; anything else is a one-line error naming it."""
        path = Path(source)
        if not path.exists():
            raise SourceError(f"{what} not found: {path}")
        tree = cls(path)
        if path.is_dir():
            tree._add_folder(path)
        elif path.suffix.lower() == ARCHIVE_SUFFIX:
            tree._add_archive(path, prefix="")
        else:
            raise SourceError(f"{what} is not a folder or a .zip archive: {path}")
        return tree

    def _add(self, relpath: str, archive: zipfile.ZipFile | None, member: str) -> None:
        if is_hidden(relpath):
            self.hidden.append(relpath)
            return
        self._readers[relpath] = (archive, member)
        self._add_parents(relpath)

    def _add_parents(self, relpath: str) -> None:
        parent = PurePosixPath(relpath).parent
        while str(parent) not in self._folders and str(parent) != ".":
            self._folders.add(str(parent))
            parent = parent.parent

    def _add_folder(self, root: Path) -> None:
        archives = []
        for folder, dirs, names in os.walk(root, followlinks=True):  # a linked folder is part of the source
            dirs.sort()
            base = Path(folder)
            for name in dirs:
                rel = (base / name).relative_to(root).as_posix()
                if not is_hidden(rel):
                    self._add_parents(rel + "/x")
            for name in sorted(names):
                path = base / name
                rel = path.relative_to(root).as_posix()
                if path.suffix.lower() == ARCHIVE_SUFFIX and not is_hidden(rel):
                    archives.append((path, rel))
                else:
                    self._add(rel, None, str(path))
        for path, rel in archives:
            folder = rel[: -len(ARCHIVE_SUFFIX)]
            if folder in self._folders:
                # Usually the archive was extracted beside itself: read the folder once, not twice.
                self.claimed.add(rel)
                self._readers[rel] = (None, str(path))
                self.notes.append(f"{rel} not read: the folder {folder}/ beside it is read instead")
            else:
                self._add_archive(path, prefix=folder + "/")

    def _add_archive(self, path: Path, prefix: str) -> None:
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise SourceError(f"cannot read archive {path}: {exc}") from None
        self._archives.append(archive)
        if prefix:
            self._folders.add(prefix.rstrip("/"))
            self._add_parents(prefix + "x")
        for info in archive.infolist():
            rel = prefix + info.filename.rstrip("/")
            if info.is_dir():
                if not is_hidden(rel):
                    self._add_parents(rel + "/x")
            else:
                self._add(rel, archive, info.filename)

    def close(self) -> None:
        for archive in self._archives:
            archive.close()

    # -- listing -----------------------------------------------------------------------------------
    def is_folder(self, folder: str) -> bool:
        return folder in self._folders

    def subfolders(self, folder: str = "") -> list[str]:
        """Names of the immediate sub-folders of ``folder``, sorted."""
        prefix = f"{folder}/" if folder else ""
        return sorted(f[len(prefix):] for f in self._folders if f.startswith(prefix) and f != folder and "/" not in f[len(prefix):])

    def files(self, folder: str = "", *, recursive: bool = True) -> list[str]:
        """Relative paths of the files under ``folder`` (hidden ones excluded), sorted."""
        prefix = f"{folder}/" if folder else ""
        return sorted(
            rel for rel in self._readers if rel.startswith(prefix) and (recursive or "/" not in rel[len(prefix):])
        )

    def describe(self, relpath: str = "") -> str:
        """How to name a file or folder of the tree in a message."""
        archive, member = self._readers.get(relpath, (None, None))
        if archive is not None:
            return f"{archive.filename}:{member}"
        if self.location.is_dir():
            return str(self.location / relpath) if relpath else str(self.location)
        return f"{self.location}:{relpath}" if relpath else str(self.location)

    # -- reading -----------------------------------------------------------------------------------
    def read(self, relpath: str) -> bytes:
        """The file's bytes; raises OSError like reading a file would."""
        self.claimed.add(relpath)
        archive, member = self._readers[relpath]
        if archive is None:
            return Path(member).read_bytes()
        with self._lock:
            return archive.read(member)

    def claim(self, relpath: str) -> None:
        """Mark a file as accounted for without reading it (the caller reported it)."""
        self.claimed.add(relpath)

    def unclaimed(self) -> list[str]:
        return sorted(set(self._readers) - self.claimed)
