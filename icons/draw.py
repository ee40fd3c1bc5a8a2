"""Draws the app icon (a key on a green rounded square) at the sizes Tauri bundles.

Plain Python, no image libraries: run `python3 icons/draw.py` from the repository root.
"""
import pathlib
import struct
import zlib

HERE = pathlib.Path(__file__).parent


def pixel(u, v):
    bg, fg = (21, 94, 74, 255), (236, 253, 245, 255)
    r = 0.18  # corner radius of the rounded square
    dx, dy = max(abs(u - 0.5) - (0.5 - r), 0), max(abs(v - 0.5) - (0.5 - r), 0)
    if dx * dx + dy * dy > r * r:
        return (0, 0, 0, 0)
    ring = ((u - 0.36) ** 2 + (v - 0.5) ** 2) ** 0.5
    if 0.11 < ring < 0.19:
        return fg  # the bow
    if 0.52 < u < 0.82 and 0.465 < v < 0.535:
        return fg  # the shaft
    if (0.66 < u < 0.71 or 0.75 < u < 0.80) and 0.535 <= v < 0.62:
        return fg  # the teeth
    return bg


def png(size, path):
    rows = (b"\x00" + b"".join(bytes(pixel((x + 0.5) / size, (y + 0.5) / size)) for x in range(size)) for y in range(size))
    raw = b"".join(rows)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


for size, name in [(32, "32x32.png"), (128, "128x128.png"), (256, "128x128@2x.png"), (512, "icon.png")]:
    png(size, HERE / name)
