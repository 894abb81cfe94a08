"""The files a line names (invoice PDFs, documents): found, checked, copied with the import."""
import filecmp
import hashlib
import os
import re
import shutil
import uuid
from pathlib import Path, PurePosixPath

from portal.attachments import fsync_directory, make_folders
from portal.exchange.values import CONTROL_CHARACTERS, BadValue, shown

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


class FileStore:
    """Files named by an import, looked up inside the folder given to the command
    (never outside it) and copied under FILES_DIR only if the whole file is
    imported: copies wait in a hidden staging folder until publish()."""

    def __init__(self, source_dir, files_root):
        self.source_dir = Path(source_dir).resolve()
        self.root = Path(files_root)
        self.pending = None
        self.copying = True
        self.copied = 0

    def source(self, name, pdf=False):
        """The file `name` inside the source folder, or BadValue."""
        relative = PurePosixPath(name.replace("\\", "/"))
        if (relative.is_absolute() or ".." in relative.parts or ":" in name
                or CONTROL_CHARACTERS.search(name) or not relative.parts):
            raise BadValue(f"'{shown(name)}' must be a file name inside the folder "
                           f"{self.source_dir}, without '..' or a leading '/'")
        path = (self.source_dir / relative).resolve()
        if not path.is_relative_to(self.source_dir):
            raise BadValue(f"'{shown(name)}' leads outside the folder {self.source_dir}")
        if not path.is_file():
            raise BadValue(f"file '{shown(name)}' not found in {self.source_dir}")
        if pdf:
            with open(path, "rb") as handle:
                if handle.read(5) != b"%PDF-":
                    raise BadValue(f"'{shown(name)}' is not a PDF")
        return path

    def stage(self, source, relative):
        """Copy source to FILES_DIR/relative at publish(), unless it is already there."""
        if not self.copying:
            return
        destination = self.root / relative
        if destination.is_file() and filecmp.cmp(source, destination, shallow=False):
            return
        if self.pending is None:
            self.pending = self.root / f".import-{uuid.uuid4().hex}"
        target = self.pending / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        # On disk now, while no lock is held: publish() only renames, inside the
        # merge's transaction, and a committed row must never name an empty file.
        with open(target, "rb") as copy:
            os.fsync(copy.fileno())
        self.copied += 1

    def publish(self):
        """Move the staged copies into place, each folder's entries on disk before
        the caller commits the rows that name them."""
        if self.pending is None:
            return
        folders = set()
        for staged in sorted(self.pending.rglob("*")):
            if staged.is_file():
                destination = self.root / staged.relative_to(self.pending)
                make_folders(destination.parent)
                os.replace(staged, destination)
                folders.add(destination.parent)
        for folder in sorted(folders):
            fsync_directory(folder)

    def discard(self):
        if self.pending is not None:
            shutil.rmtree(self.pending, ignore_errors=True)
            self.pending = None


def safe_file_name(text):
    """A name usable on every file system; a short hash keeps names distinct when
    characters had to be replaced."""
    name = _SAFE_NAME.sub("_", text).lstrip(".") or "file"
    if name != text:
        name = f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"
    return name
