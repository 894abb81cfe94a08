"""Uploaded files (ticket attachments, published documents, meter photos): what they
are, judged by their content and never by their name, and where they live under FILES_DIR."""
import io
import os
import re
import secrets
import unicodedata
import warnings
from pathlib import Path

from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps

MAX_SIZE = 5 * 1024 * 1024

# kind -> (content type, magic bytes at offset 0, extension used on disk and in names)
KINDS = {
    "pdf": ("application/pdf", b"%PDF-", ".pdf"),
    "jpeg": ("image/jpeg", b"\xff\xd8\xff", ".jpg"),
    "png": ("image/png", b"\x89PNG\r\n\x1a\n", ".png"),
}
CONTENT_TYPES = {content_type for content_type, _, _ in KINDS.values()}

NOT_ALLOWED = _l("Sono accettati solo file PDF, JPEG o PNG: il file scelto non lo è "
                 "(conta il contenuto del file, non il nome).")
TOO_LARGE = _l("Il file supera la dimensione massima di 5 MB.")
EMPTY = _l("Il file scelto è vuoto.")


PHOTO_NOT_ALLOWED = _l("Sono accettate solo foto JPEG o PNG: il file scelto non lo è (conta "
                       "il contenuto del file, non il nome). Dal telefono scatta la foto "
                       "direttamente dal modulo.")
PHOTO_TOO_LARGE = _l("La foto supera la dimensione massima di 5 MB.")
# A photo bigger than this many pixels is no phone photo (a decompression bomb, say).
PHOTO_MAX_PIXELS = 64_000_000


class AttachmentError(ValueError):
    """The upload is not acceptable; the message is for the user."""


class Upload:
    """A checked upload: its bytes, kind and a safe name for the download."""

    def __init__(self, data, kind, name):
        self.data = data
        self.kind = kind
        self.name = name

    @property
    def content_type(self):
        return KINDS[self.kind][0]

    @property
    def extension(self):
        return KINDS[self.kind][2]


def detect_kind(head):
    """'pdf', 'jpeg' or 'png' from the first bytes of a file, else None."""
    for kind, (_, magic, _) in KINDS.items():
        if head.startswith(magic):
            return kind
    return None


def check_upload(file_storage, max_size=MAX_SIZE):
    """An Upload from a werkzeug FileStorage, or AttachmentError.

    Reads at most max_size + 1 bytes: a bigger file is refused without being read
    whole (MAX_CONTENT_LENGTH already stops anything far bigger)."""
    data = file_storage.stream.read(max_size + 1)
    if not data:
        raise AttachmentError(EMPTY)
    if len(data) > max_size:
        raise AttachmentError(TOO_LARGE)
    kind = detect_kind(data[:16])
    if kind is None:
        raise AttachmentError(NOT_ALLOWED)
    return Upload(data, kind, safe_name(file_storage.filename or "", KINDS[kind][2]))


def meter_photo(file_storage, long_side, max_size=MAX_SIZE):
    """An Upload of a meter photo from a werkzeug FileStorage, or AttachmentError.

    The content decides: Pillow must read it whole as JPEG or PNG. The photo is turned
    upright (the EXIF orientation of phone cameras), shrunk to at most `long_side`
    pixels on its longer side and encoded again without any metadata: EXIF (the
    place it was taken, the phone), XMP and comments never reach the disk."""
    data = file_storage.stream.read(max_size + 1)
    if not data:
        raise AttachmentError(EMPTY)
    if len(data) > max_size:
        raise AttachmentError(PHOTO_TOO_LARGE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format not in ("JPEG", "PNG") or \
                        probe.width * probe.height > PHOTO_MAX_PIXELS:
                    raise AttachmentError(PHOTO_NOT_ALLOWED)
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                kind = "jpeg" if image.format == "JPEG" else "png"
                # A JPEG decodes straight at 1/2, 1/4 or 1/8 of its size when that is
                # still at least long_side: a 12 MP photo costs a quarter of the memory.
                image.draft("RGB", (long_side, long_side))
                image.load()
                upright = ImageOps.exif_transpose(image)
    except AttachmentError:
        raise
    except Exception:  # noqa: BLE001
        # Truncated, corrupt or crafted: Pillow's decoders say no in many ways (OSError,
        # SyntaxError, struct.error, IndexError...). Any of them is a file we refuse.
        raise AttachmentError(PHOTO_NOT_ALLOWED) from None
    upright.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    mode = "RGB" if kind == "jpeg" else ("RGBA" if "A" in upright.getbands() else "RGB")
    upright = upright.convert(mode)
    # A new image from the pixels alone: no metadata of the upload can follow it.
    pixels_only = Image.frombytes(mode, upright.size, upright.tobytes())
    output = io.BytesIO()
    if kind == "jpeg":
        pixels_only.save(output, "JPEG", quality=85, optimize=True)
    else:
        pixels_only.save(output, "PNG", optimize=True)
    return Upload(output.getvalue(), kind, safe_name("", KINDS[kind][2], default="contatore"))


def safe_name(original, extension, default="allegato"):
    """A name fit for Content-Disposition and for display: no path, no control or
    odd characters, at most 100 characters, and the extension of the real content."""
    name = re.split(r"[/\\]", original)[-1]
    name = unicodedata.normalize("NFKC", name)
    name = "".join(char for char in name
                   if unicodedata.category(char)[0] not in "CZ" or char == " ")
    name = re.sub(r"[^\w .()\-]", "_", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    stem = name.rsplit(".", 1)[0].strip(" .") if "." in name else name
    stem = stem[:100 - len(extension)] or default
    return stem + extension


def store(files_dir, folder, upload):
    """Write the upload under FILES_DIR/<folder>/ with a random name; return the path
    relative to FILES_DIR (what the database keeps).

    The file and its folder are on disk (fsynced) before this returns, so a row
    committed afterwards never points at an empty file after a power cut. Any
    failure (a full disk among them) leaves neither the `.part` file nor the
    file behind, and the error goes up: nothing may be committed."""
    relative = Path(folder) / f"{secrets.token_hex(16)}{upload.extension}"
    target = Path(files_dir) / relative
    temporary = target.with_suffix(".part")
    try:
        make_folders(target.parent)
        with open(temporary, "wb") as handle:
            handle.write(upload.data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
        fsync_directory(target.parent)
    except BaseException:
        temporary.unlink(missing_ok=True)
        target.unlink(missing_ok=True)
        raise
    return relative.as_posix()


def make_folders(folder):
    """Create `folder` and the missing ones above it, each entry on disk in its parent."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        made.mkdir(exist_ok=True)
        fsync_directory(made.parent)


def fsync_directory(folder):
    """Put a folder's entries (a file just renamed into it) on disk."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def resolve(files_dir, relative):
    """The file behind a stored relative path, or None when it is missing or the path
    would leave FILES_DIR."""
    if not relative:
        return None
    root = Path(files_dir).resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def remove(files_dir, relative):
    """Delete a stored file if it is there (withdrawn documents, undone uploads)."""
    path = resolve(files_dir, relative)
    if path is not None:
        path.unlink(missing_ok=True)
