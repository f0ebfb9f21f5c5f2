"""The benchmark's chart: wpool against each peer, per workload, log scale.

A PNG written with the standard library only (zlib), so that the chart needs
nothing that a fresh machine lacks: every row of the results table becomes
a pair of horizontal bars (wpool, then the peer) on one logarithmic axis;
both bars of a pair share a unit, so the gap between them is the ratio.
Text uses a built-in 5x7 pixel font.
"""
import math
import struct
import zlib

# 5x7 glyphs, one 5-bit row per entry, most significant bit on the left;
# g, j, p, q and y have an eighth row for their descender.
_FONT = {
    " ": "00 00 00 00 00 00 00", "0": "0E 11 13 15 19 11 0E", "1": "04 0C 04 04 04 04 0E",
    "2": "0E 11 01 02 04 08 1F", "3": "1F 02 04 02 01 11 0E", "4": "02 06 0A 12 1F 02 02",
    "5": "1F 10 1E 01 01 11 0E", "6": "06 08 10 1E 11 11 0E", "7": "1F 01 02 04 08 08 08",
    "8": "0E 11 11 0E 11 11 0E", "9": "0E 11 11 0F 01 02 0C",
    "A": "0E 11 11 1F 11 11 11", "B": "1E 11 11 1E 11 11 1E", "C": "0E 11 10 10 10 11 0E",
    "D": "1C 12 11 11 11 12 1C", "E": "1F 10 10 1E 10 10 1F", "F": "1F 10 10 1E 10 10 10",
    "G": "0E 11 10 17 11 11 0F", "H": "11 11 11 1F 11 11 11", "I": "0E 04 04 04 04 04 0E",
    "J": "07 02 02 02 02 12 0C", "K": "11 12 14 18 14 12 11", "L": "10 10 10 10 10 10 1F",
    "M": "11 1B 15 15 11 11 11", "N": "11 11 19 15 13 11 11", "O": "0E 11 11 11 11 11 0E",
    "P": "1E 11 11 1E 10 10 10", "Q": "0E 11 11 11 15 12 0D", "R": "1E 11 11 1E 14 12 11",
    "S": "0F 10 10 0E 01 01 1E", "T": "1F 04 04 04 04 04 04", "U": "11 11 11 11 11 11 0E",
    "V": "11 11 11 11 11 0A 04", "W": "11 11 11 15 15 15 0A", "X": "11 11 0A 04 0A 11 11",
    "Y": "11 11 11 0A 04 04 04", "Z": "1F 01 02 04 08 10 1F",
    "a": "00 00 0E 01 0F 11 0F", "b": "10 10 16 19 11 11 1E", "c": "00 00 0E 10 10 11 0E",
    "d": "01 01 0D 13 11 11 0F", "e": "00 00 0E 11 1F 10 0E", "f": "06 09 08 1C 08 08 08",
    "g": "00 00 0F 11 11 0F 01 0E", "h": "10 10 16 19 11 11 11", "i": "04 00 0C 04 04 04 0E",
    "j": "02 00 06 02 02 02 12 0C", "k": "10 10 12 14 18 14 12", "l": "0C 04 04 04 04 04 0E",
    "m": "00 00 1A 15 15 11 11", "n": "00 00 16 19 11 11 11", "o": "00 00 0E 11 11 11 0E",
    "p": "00 00 1E 11 11 1E 10 10", "q": "00 00 0F 11 11 0F 01 01", "r": "00 00 16 19 10 10 10",
    "s": "00 00 0E 10 0E 01 1E", "t": "08 08 1C 08 08 09 06", "u": "00 00 11 11 11 13 0D",
    "v": "00 00 11 11 11 0A 04", "w": "00 00 11 11 15 15 0A", "x": "00 00 11 0A 04 0A 11",
    "y": "00 00 11 11 11 0F 01 0E", "z": "00 00 1F 02 04 08 1F",
    ".": "00 00 00 00 00 0C 0C", ",": "00 00 00 00 0C 04 08", ":": "00 0C 0C 00 0C 0C 00",
    ";": "00 0C 0C 00 0C 04 08", "-": "00 00 00 1F 00 00 00", "+": "00 04 04 1F 04 04 00",
    "_": "00 00 00 00 00 00 1F", "/": "00 01 02 04 08 10 00", "\\": "00 10 08 04 02 01 00",
    "(": "02 04 08 08 08 04 02", ")": "08 04 02 02 02 04 08", "[": "0E 08 08 08 08 08 0E",
    "]": "0E 02 02 02 02 02 0E", "%": "18 19 02 04 08 13 03", "=": "00 00 1F 00 1F 00 00",
    "<": "02 04 08 10 08 04 02", ">": "08 04 02 01 02 04 08", "*": "00 04 15 0E 15 04 00",
    "'": "0C 04 08 00 00 00 00", '"': "0A 0A 0A 00 00 00 00", "!": "04 04 04 04 04 00 04",
    "?": "0E 11 01 02 04 00 04", "#": "0A 0A 1F 0A 1F 0A 0A", "&": "0C 12 14 08 15 12 0D",
    "@": "0E 11 01 0D 15 15 0E", "$": "04 0F 14 0E 05 1E 04", "~": "00 00 08 15 02 00 00",
    "^": "04 0A 11 00 00 00 00", "|": "04 04 04 04 04 04 04", "{": "02 04 04 08 04 04 02",
    "}": "08 04 04 02 04 04 08", "`": "08 04 02 00 00 00 00",
}
_GLYPHS = {c: [int(h, 16) for h in rows.split()] for c, rows in _FONT.items()}

WHITE, BLACK, GREY, LIGHT = (255, 255, 255), (0, 0, 0), (110, 110, 110), (225, 225, 225)
WPOOL, PEER, MISSED = (31, 119, 180), (255, 127, 14), (200, 30, 30)


class Canvas:
    def __init__(self, width, height):
        self.w, self.h = width, height
        self.px = bytearray(WHITE * (width * height))

    def rect(self, x0, y0, x1, y1, color):
        x0, x1 = max(0, int(x0)), min(self.w, int(x1))
        y0, y1 = max(0, int(y0)), min(self.h, int(y1))
        if x1 <= x0:
            return
        line = bytes(color) * (x1 - x0)
        for y in range(y0, y1):
            i = (y * self.w + x0) * 3
            self.px[i:i + len(line)] = line

    def text(self, x, y, s, color=BLACK, scale=1):
        for ch in s:
            rows = _GLYPHS.get(ch, _GLYPHS["?"])
            for r, bits in enumerate(rows):
                for c in range(5):
                    if bits & (0x10 >> c):
                        self.rect(x + c * scale, y + r * scale,
                                  x + (c + 1) * scale, y + (r + 1) * scale, color)
            x += 6 * scale
        return x

    def png(self, path):
        raw = b"".join(b"\x00" + bytes(self.px[y * self.w * 3:(y + 1) * self.w * 3])
                       for y in range(self.h))

        def chunk(kind, data):
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

        with open(path, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n")
            f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)))
            f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
            f.write(chunk(b"IEND", b""))


def _short(v):
    if v >= 1e5 or v < 1e-2:
        m, e = ("%.2e" % v).split("e")
        return "%se%d" % (m, int(e))
    return "%.*f" % (max(0, 2 - int(math.floor(math.log10(v)))), v)


def draw(table, path, title):
    """Draw the rows of run.py's table (dicts) into a PNG at path."""
    rows = [t for t in table if (t["wpool"] or 0) > 0 or (t["peer_value"] or 0) > 0]
    vals = [v for t in rows for v in (t["wpool"], t["peer_value"]) if v and v > 0]
    if not vals:
        vals = [1.0]
    lo, hi = math.floor(math.log10(min(vals))), math.ceil(math.log10(max(vals)))
    if hi <= lo:
        hi = lo + 1
    label_w, value_w, bar_w = 560, 140, 620
    width = label_w + bar_w + value_w + 20
    workloads = []
    for t in rows:
        if not workloads or workloads[-1] != t["workload"]:
            workloads.append(t["workload"])
    pair_h, head_h, top = 22, 16, 70
    height = top + len(rows) * pair_h + len(workloads) * head_h + 50
    cv = Canvas(width, height)
    cv.text(10, 10, title, BLACK, 2)
    x = cv.text(10, 34, "log scale; each pair shares one unit. ", GREY)
    cv.rect(x, 34, x + 12, 41, WPOOL)
    x = cv.text(x + 16, 34, "wpool   ", GREY)
    cv.rect(x, 34, x + 12, 41, PEER)
    x = cv.text(x + 16, 34, "peer   ", GREY)
    cv.text(x, 34, "red label: target missed", MISSED)

    x0 = label_w

    def xpos(v):
        return x0 + (math.log10(v) - lo) / (hi - lo) * bar_w

    y_end = height - 40
    for d in range(lo, hi + 1):  # decade grid and labels
        gx = int(xpos(10.0 ** d))
        cv.rect(gx, top - 6, gx + 1, y_end, LIGHT)
        cv.text(gx - 9, top - 16, "1e%d" % d, GREY)
        cv.text(gx - 9, y_end + 4, "1e%d" % d, GREY)

    y, last = top, None
    for t in rows:
        if t["workload"] != last:
            last = t["workload"]
            cv.rect(10, y + head_h - 4, width - 10, y + head_h - 3, LIGHT)
            cv.text(10, y + 2, t["workload"], BLACK)
            y += head_h
        color = MISSED if t["met"].startswith("missed") else BLACK
        cv.text(20, y + 2, "%s %s (%s)" % (t["method"], t["metric"], t["unit"]), color)
        cv.text(20, y + 11, "vs " + t["peer"], GREY)
        for i, (v, c) in enumerate(((t["wpool"], WPOOL), (t["peer_value"], PEER))):
            by = y + 1 + i * 10
            if v and v > 0:
                cv.rect(x0, by, xpos(v), by + 8, c)
                cv.text(xpos(v) + 4, by + 1, _short(v), GREY)
            else:
                cv.text(x0 + 4, by + 1, "n/a", GREY)
        y += pair_h
    cv.png(path)
