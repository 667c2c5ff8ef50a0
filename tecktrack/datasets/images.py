"""Image files: decoding, header sizes, and the one meaning of "image folder".

An image folder is searched recursively for files whose suffix (compared lower-case) is in
:data:`IMAGE_SUFFIXES`; every reader, the frame capture included, uses :func:`list_images`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tecktrack.errors import DatasetError, FormatError

__all__ = ["IMAGE_SUFFIXES", "image_size", "is_image_file", "list_images", "read_image"]

#: Image file suffixes recognised in folders and list files (compared lower-case).
IMAGE_SUFFIXES = frozenset({".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp"})

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


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file to a BGR uint8 array (EXIF orientation applied, as OpenCV does).

    Raises
    ------
    FormatError
        Naming the file, if it cannot be decoded as an image.

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
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FormatError("not an image (cannot be decoded)", path)
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


