"""Folders of many tiny photos for the benchmarks, cheaply: 64 distinct 16x16 PNGs and N hard
links to them, 1000 per folder (a million photos cost directory entries, not disk).

    python3 scripts/tiny_photos.py OUT_DIR N
"""
import os
import struct
import sys
import zlib


def png(path, seed):
    w = h = 16
    raw = b"".join(
        b"\0" + bytes(((x * 7 + y * 13 + c * 5 + seed * 11) % 256) for x in range(w) for c in range(3)) for y in range(h)
    )
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def main(out, n):
    src = os.path.join(out, ".src")
    os.makedirs(src, exist_ok=True)
    for i in range(64):
        png(f"{src}/{i}.png", i)
    for i in range(n):
        folder = f"{out}/{i // 1000:04d}"
        if i % 1000 == 0:
            os.makedirs(folder, exist_ok=True)
        os.link(f"{src}/{i % 64}.png", f"{folder}/{i:07d}.png")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
