"""Image files: decoding, header sizes, and the one meaning of "image folder".

An image folder is searched recursively for files whose suffix (compared lower-case) is in
:data:`IMAGE_SUFFIXES`; every reader, the frame capture included, uses :func:`list_images`.

Every decoder goes through :func:`decode_image`, which catches what libjpeg prints straight to
the process's stderr ("Premature end of JPEG file"), so it never lands on a progress bar's
line; it becomes part of the error (or, for an image that decodes anyway, a warning).
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np

from tecktrack.errors import DatasetError, FormatError

__all__ = ["IMAGE_SUFFIXES", "ImageWarning", "decode_image", "image_size", "imread_or_none",
           "is_image_file", "list_images", "read_image"]

#: Image file suffixes recognised in folders and list files (compared lower-case).
#: Ultralytics' image formats (``IMG_FORMATS``), so a dataset lists the same images under both;
#: one a decoder here cannot read (HEIC without a plugin) is skipped, counted and named.
IMAGE_SUFFIXES = frozenset({".avif", ".bmp", ".dng", ".heic", ".heif", ".jp2", ".jpeg", ".jpg",
                            ".mpo", ".png", ".tif", ".tiff", ".webp"})

# EXIF orientations that rotate by 90 degrees, so decoders swap width and height.
_EXIF_ORIENTATION_TAG = 0x0112
_SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})


def is_image_file(path: str | Path) -> bool:
    """True for an existing file whose suffix is an image suffix (any case).

    Examples
    --------
    >>> is_image_file("no/such/file.jpg")
    False
    """
    path = Path(path)
    return path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()


class ImageWarning(UserWarning):
    """An image that decoded, but whose decoder complained (e.g. a truncated JPEG, whose
    missing rows come out grey)."""


_STDERR_LOCK = threading.Lock()
#: ``(pid, file descriptor)`` of the temporary file that catches the decoder's stderr: one
#: per process (a forked child gets its own), emptied after each call that wrote to it.
_SINK: tuple[int, int] | None = None


def _stderr_sink() -> int:
    """This process's sink for the decoder's stderr, created on first use (call under
    ``_STDERR_LOCK``). A file made per call cost ~0.1 ms, 4-6 % of decoding a 640x480 JPEG."""
    global _SINK
    if _SINK is None or _SINK[0] != os.getpid():
        if _SINK is not None:  # a forked child: this copy of the parent's file is not ours
            os.close(_SINK[1])
        handle = tempfile.TemporaryFile(buffering=0)
        _SINK = (os.getpid(), os.dup(handle.fileno()))
        handle.close()
    return _SINK[1]


def _drain(fd: int) -> bytes:
    """What was written to the sink ``fd`` since it was last drained; leaves it empty."""
    size = os.lseek(fd, 0, os.SEEK_CUR)
    if not size:
        return b""
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, size):
        chunks.append(chunk)
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    return b"".join(chunks)


def decode_image(path: str | Path) -> tuple[np.ndarray | None, str]:
    """Decode with ``cv2.imread``; return the BGR image (None if it cannot be decoded) and
    what the decoder printed to stderr meanwhile (stripped; ``""`` when it said nothing).

    The process's stderr (file descriptor 2) is pointed at a temporary file for the call,
    under a lock, because libjpeg writes its messages there directly.

    Examples
    --------
    >>> p = Path(tempfile.mkdtemp()) / "x.jpg"
    >>> _ = p.write_bytes(bytes.fromhex("ffd8ffe0") + b"0" * 40)     # a truncated JPEG
    >>> image, said = decode_image(p)
    >>> image is None, said.splitlines()[-1] if said else said
    (True, 'Premature end of JPEG file')
    """
    import cv2

    with _STDERR_LOCK:
        sink = _stderr_sink()
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink, 2)
        refused = ""
        try:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        except cv2.error as exc:  # OpenCV raises (not returns None) for a few refusals
            image, refused = None, _refusal(exc)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        said = _drain(sink).decode("utf-8", errors="replace").strip()
    return image, "\n".join(filter(None, (said, refused)))


def imread_or_none(path: str | Path) -> np.ndarray | None:
    """``cv2.imread`` in colour, ``None`` for any file it cannot decode: also those it raises
    for (a header claiming more than ``CV_IO_MAX_IMAGE_PIXELS``) instead of returning ``None``.
    Unlike :func:`decode_image`, the decoder's messages are not caught.

    Examples
    --------
    >>> p = Path(tempfile.mkdtemp()) / "x.png"; _ = p.write_bytes(b"text")
    >>> imread_or_none(p) is None
    True
    """
    import cv2

    try:
        return cv2.imread(str(path), cv2.IMREAD_COLOR)
    except cv2.error:
        return None


def _refusal(exc: Exception) -> str:
    """OpenCV's exception from ``imread`` in a few words, without its source paths: above
    all a header claiming more pixels than it decodes (a decompression bomb)."""
    condition = str(getattr(exc, "err", "") or "")  # the failed check, without file or line
    if "CV_IO_MAX_IMAGE_PIXELS" in condition:
        return "its header claims more pixels than OpenCV decodes (CV_IO_MAX_IMAGE_PIXELS)"
    if "CV_IO_MAX_IMAGE_" in condition:  # _WIDTH, _HEIGHT
        return f"its header claims a size OpenCV does not decode ({condition})"
    return f"OpenCV refused it ({condition or type(exc).__name__})"


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file to a BGR uint8 array (EXIF orientation applied, as OpenCV does).

    A decoder's complaint about an image that decodes anyway (a truncated JPEG) is an
    :class:`ImageWarning` naming the file.

    Raises
    ------
    FormatError
        Naming the file, if it cannot be decoded as an image (with the decoder's message).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "x.jpg"; _ = p.write_bytes(b"text")
    >>> try:
    ...     read_image(p)
    ... except FormatError as exc:
    ...     print(exc.message, exc.path.endswith("x.jpg"))
    not an image (cannot be decoded) True
    """
    image, said = decode_image(path)
    said = " ".join(said.split())
    if image is None:
        raise FormatError("not an image (cannot be decoded" + (f": {said})" if said else ")"),
                          path)
    if said:
        warnings.warn(f"{path}: the decoder said {said!r}; decoded anyway", ImageWarning,
                      stacklevel=2)
    return image


def image_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` of an image, read from its header without decoding the pixels.

    The size is the one a decoder that honours EXIF orientation (``cv2.imread``) returns,
    so width and height are swapped for images stored rotated by 90 degrees.

    Parameters
    ----------
    path : str or Path
        An image file.

    Returns
    -------
    tuple of int
        ``(width, height)`` in pixels.

    Raises
    ------
    DatasetError
        If the file is missing or is not an image PIL can identify.

    Examples
    --------
    >>> import tempfile, cv2
    >>> p = Path(tempfile.mkdtemp()) / "a.png"
    >>> _ = cv2.imwrite(str(p), np.zeros((20, 30, 3), np.uint8))
    >>> image_size(p)
    (30, 20)
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as img:
            width, height = img.size
            orientation = img.getexif().get(_EXIF_ORIENTATION_TAG)
    except FileNotFoundError:
        raise DatasetError("image file not found", path) from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DatasetError(f"not a readable image ({exc.__class__.__name__})", path) from None
    if orientation in _SWAPPING_ORIENTATIONS:
        width, height = height, width
    return int(width), int(height)



def list_images(folder: str | Path) -> list[Path]:
    """Image files under ``folder`` (recursively), sorted by path.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); (d / "b.JPG").touch(); (d / "a.txt").touch()
    >>> [p.name for p in list_images(d)]
    ['b.JPG']
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError("image folder not found", folder)
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES
                  and p.is_file())


