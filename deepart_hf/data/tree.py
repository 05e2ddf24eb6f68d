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
import posixpath
import sys
import threading
import zipfile
from pathlib import Path, PurePosixPath

from PIL import Image

from ..constants import DATASET_MARKER, IMAGE_EXTENSIONS
from ..errors import SourceError

# Names written by operating systems and archivers, never part of a collection (compared lower-case).
SYSTEM_NAMES = {".ds_store", "thumbs.db", "desktop.ini", "__macosx", "ehthumbs.db", "icon\r"}
ARCHIVE_SUFFIX = ".zip"


def max_file_bytes() -> int:
    """The most bytes read from one file: one byte per pixel of the largest image the decoder opens without a
    decompression-bomb warning (Pillow's ``Image.MAX_IMAGE_PIXELS``, about 89 MB). Image files are compressed
    pixels, so a larger file is not an image a build would keep, or is a zip bomb; raising Pillow's limit
    raises this one."""
    return int(Image.MAX_IMAGE_PIXELS or 0) or sys.maxsize


class TooLarge(OSError):
    def __init__(self, size: int, cap: int):
        super().__init__(
            f"too large to read safely: {size} bytes, over the {cap}-byte cap (PIL.Image.MAX_IMAGE_PIXELS)"
        )


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
        self.skipped: list[tuple[str, str]] = []  # (relpath, reason): links and members left out when opening
        self.followed_links: list[str] = []  # links out of the source that were read
        self.claimed: set[str] = set()

    # -- opening -----------------------------------------------------------------------------------
    @classmethod
    def open(cls, source: str | Path, what: str) -> SourceTree:
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
        archives: list[tuple[Path, str]] = []
        real_root = root.resolve()
        read_folders = {real_root: ""}  # real path -> where it was read, so no folder is read twice
        read_files: dict[tuple[int, int], str] = {}  # (device, inode) -> relpath: hard links are one file

        def walk(folder: Path, rel_folder: str, real_folder: Path) -> None:
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError as exc:
                if not rel_folder:
                    raise SourceError(f"cannot list {folder}: {exc.strerror or exc}") from None
                self.skipped.append((rel_folder, f"cannot list this folder ({exc.strerror or exc})"))
                return
            for entry in entries:
                rel = f"{rel_folder}/{entry.name}" if rel_folder else entry.name
                path = Path(entry.path)
                if is_hidden(rel) and not entry.is_dir(follow_symlinks=False):
                    self.hidden.append(rel)  # never read, so a hidden link is never followed
                    continue
                if entry.is_symlink() and not self._link_allowed(path, rel, real_root, real_folder):
                    continue
                if entry.is_dir():
                    real = path.resolve()
                    if real in read_folders:
                        self.skipped.append(
                            (
                                rel,
                                f"a link to a folder already read as {read_folders[real] or 'the source'}/: not read twice",
                            )
                        )
                        continue
                    read_folders[real] = rel
                    if (path / DATASET_MARKER).is_file():
                        self.skipped.append(
                            (rel, f"a dataset built by deepart-hf ({DATASET_MARKER}): not read as images")
                        )
                        continue
                    if not is_hidden(rel):
                        self._add_parents(rel + "/x")
                    walk(path, rel, real)
                elif entry.is_file():
                    status = entry.stat()
                    first = read_files.setdefault((status.st_dev, status.st_ino), rel)
                    if first != rel:
                        self.skipped.append((rel, f"same file as {first} (a hard link): read once, as {first}"))
                    elif path.suffix.lower() == ARCHIVE_SUFFIX and not is_hidden(rel):
                        archives.append((path, rel))
                    else:
                        self._add(rel, None, str(path))

        walk(root, "", real_root)
        for path, rel in archives:
            folder = rel[: -len(ARCHIVE_SUFFIX)]
            if folder in self._folders:
                # Usually the archive was extracted beside itself: read the folder once, not twice.
                self.claimed.add(rel)
                self._readers[rel] = (None, str(path))
                self.notes.append(f"{rel} not read: the folder {folder}/ beside it is read instead")
            else:
                self._add_archive(path, prefix=folder + "/")

    def _link_allowed(self, path: Path, rel: str, real_root: Path, real_parent: Path) -> bool:
        """A link out of the source is followed (photo libraries are often links) and noted; a link back into
        the source would read its files a second time, perhaps under another label, so it is skipped."""
        target = path.resolve()
        if not target.exists():
            self.skipped.append((rel, "a broken link: its target does not exist"))
            return False
        if real_parent.is_relative_to(target):
            self.skipped.append((rel, "a link loop: it leads back to a folder that contains it"))
            return False
        if target == real_root or target.is_relative_to(real_root):
            where = target.relative_to(real_root).as_posix()
            self.skipped.append((rel, f"a link to {where} inside the source: read there, not a second time here"))
            return False
        self.followed_links.append(rel)
        return True

    def _add_archive(self, path: Path, prefix: str) -> None:
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise SourceError(f"cannot read archive {path}: {exc}") from None
        self._archives.append(archive)
        if prefix:
            self._folders.add(prefix.rstrip("/"))
            self._add_parents(prefix + "x")
        members: dict[str, str] = {}  # normalised name -> the member that has it
        for info in archive.infolist():
            name = posixpath.normpath(info.filename)
            if info.filename.startswith("/") or name == ".." or name.startswith("../"):
                self.skipped.append((prefix + info.filename, "its name leads outside the archive: not read"))
                continue
            rel = prefix + name
            if info.is_dir():
                if not is_hidden(rel):
                    self._add_parents(rel + "/x")
            elif name in members or rel in self._readers:
                first = prefix + members.get(name, name)
                self.skipped.append((prefix + info.filename, f"same name as {first} once normalised ({rel}): not read"))
            else:
                members[name] = info.filename
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
        return sorted(
            f[len(prefix) :]
            for f in self._folders
            if f.startswith(prefix) and f != folder and "/" not in f[len(prefix) :]
        )

    def files(self, folder: str = "", *, recursive: bool = True) -> list[str]:
        """Relative paths of the files under ``folder`` (hidden ones excluded), sorted."""
        prefix = f"{folder}/" if folder else ""
        return sorted(
            rel for rel in self._readers if rel.startswith(prefix) and (recursive or "/" not in rel[len(prefix) :])
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
        """The file's bytes; raises OSError like reading a file would, and ``TooLarge`` over ``max_file_bytes()``."""
        self.claimed.add(relpath)
        archive, member = self._readers[relpath]
        cap = max_file_bytes()
        if archive is None:
            with open(member, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size > cap:
                    raise TooLarge(size, cap)
                data = handle.read(cap + 1)
        else:
            with self._lock:
                size = archive.getinfo(member).file_size
                if size > cap:
                    raise TooLarge(size, cap)
                with archive.open(member) as handle:
                    data = handle.read(cap + 1)  # a header can understate the size: never inflate past the cap
        if len(data) > cap:
            raise TooLarge(len(data), cap)
        return data

    def claim(self, relpath: str) -> None:
        """Mark a file as accounted for without reading it (the caller reported it)."""
        self.claimed.add(relpath)

    def unclaimed(self) -> list[str]:
        return sorted(set(self._readers) - self.claimed)
