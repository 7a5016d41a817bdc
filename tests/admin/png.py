"""Just enough PNG decoding to find a colour in a screenshot (8-bit RGB/RGBA, no interlace)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def rows(png: bytes) -> Iterator[list[tuple[int, int, int]]]:
    """RGB pixels row by row, from the top (stop iterating early to save time)."""
    if png[:8] != SIGNATURE:
        raise ValueError("not a PNG")
    offset, idat, header = 8, b"", b""
    while offset < len(png):
        length, kind = struct.unpack(">I4s", png[offset : offset + 8])
        data = png[offset + 8 : offset + 8 + length]
        offset += 12 + length
        if kind == b"IHDR":
            header = data
        elif kind == b"IDAT":
            idat += data
        elif kind == b"IEND":
            break
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG (depth {depth}, colour type {colour})")
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    raw = zlib.decompress(idat)
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(kind, line, previous, bpp)
        yield [(line[i], line[i + 1], line[i + 2]) for i in range(0, stride, bpp)]
        previous = line


def _unfilter(kind: int, line: bytearray, previous: bytearray, bpp: int) -> None:
    if kind == 0:
        return
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up = previous[i]
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
        elif kind == 4:
            upper_left = previous[i - bpp] if i >= bpp else 0
            p = left + up - upper_left
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - upper_left)
            best = left if pa <= pb and pa <= pc else (up if pb <= pc else upper_left)
            line[i] = (line[i] + best) & 0xFF
        else:
            raise ValueError(f"bad PNG filter {kind}")


def find_band(png: bytes, colour: tuple[int, int, int], min_pixels: int) -> int | None:
    """The first row (y) with at least `min_pixels` pixels of exactly `colour`."""
    for y, row in enumerate(rows(png)):
        if sum(1 for pixel in row if pixel == colour) >= min_pixels:
            return y
    return None
