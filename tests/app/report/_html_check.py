"""Reading a written report back: the HTML as XML, its tables, its PNGs decoded."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import numpy as np


def parse(index: Path) -> ET.Element:
    """index.html parsed as XML (the report is well-formed); fails on anything that is not."""
    text = index.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>\n")
    return ET.fromstring(text.removeprefix("<!DOCTYPE html>\n"))


def text(el: ET.Element) -> str:
    return "".join(el.itertext()).strip()


def rows(table: ET.Element) -> list[list[str]]:
    """The body rows of a table as cell texts."""
    return [[text(td) for td in tr.findall("td")] for tr in table.iter("tr") if tr.findall("td")]


def case_section(root: ET.Element, name: str) -> ET.Element:
    for d in root.iter("details"):
        summary = d.find("summary")
        if summary is not None and text(summary).startswith(name):
            return d
    raise AssertionError(f"no case {name}")


def decode_png(data: bytes) -> np.ndarray:
    """An 8-bit RGB PNG (filter 0, as the report writes) to an array; every CRC checked."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, colour = struct.unpack(">IIBB", header[:10])
    assert (depth, colour) == (8, 2)
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + 3 * w)
    assert not raw[:, 0].any()  # filter 0 on every row
    return raw[:, 1:].reshape(h, w, 3)


def check_files(index: Path, root: ET.Element) -> list[Path]:
    """Every file the page refers to exists in its folder and decodes; nothing outside it."""
    refs = [el.get("src") or "" for el in root.iter("img")]
    refs += [el.get("href") or "" for el in root.iter("a") if not (el.get("href") or "#")
             .startswith("#")]
    assert not root.findall(".//script") and not root.findall(".//link")
    paths = []
    for ref in refs:
        assert "://" not in ref and not ref.startswith("/"), ref
        p = index.parent / ref
        assert p.is_file(), ref
        if p.suffix == ".png":
            decode_png(p.read_bytes())
        paths.append(p)
    return paths
