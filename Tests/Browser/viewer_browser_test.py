#!/usr/bin/env python3
"""Browser test of the viewer page (`make test-browser`; not in `swift test`).

Records a 60 s quadruped log (50 Hz, random policy) and an arm-reach log with the given `mbc`, writes their
pages with `mbc view`, renders them in Debian's headless Chromium (WebGL on SwiftShader) and reads the
screenshots: the robot must be drawn (dark robot pixels in the middle of the picture, the arm's red target),
two times must give different pictures, and playback of the 60 s page must reach 30 frames per second.
Standard library only (the PNG decoder is below). Usage: viewer_browser_test.py MBC_BINARY [WORK_DIR]
"""
import os, re, shutil, subprocess, sys, tempfile, zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless=new", "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
         "--hide-scrollbars", "--window-size=800,500"]


def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def read_png(path):
    """(width, height, rows of RGB tuples) of an 8-bit non-interlaced RGB or RGBA PNG."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: not a PNG"
    pos, idat, width = 8, b"", None
    while pos < len(data):
        n = int.from_bytes(data[pos:pos + 4], "big"); kind = data[pos + 4:pos + 8]; body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height = int.from_bytes(body[0:4], "big"), int.from_bytes(body[4:8], "big")
            depth, color, interlace = body[8], body[9], body[12]
            assert depth == 8 and color in (2, 6) and interlace == 0, f"{path}: unsupported PNG (depth {depth}, colour {color})"
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride, rows, prev = width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        f = raw[y * (stride + 1)]; line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0; b = prev[i]; c = prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(width)]); prev = line
    return width, height, rows


def screenshot(page, out, fragment):
    run([CHROMIUM, *FLAGS, "--virtual-time-budget=3000", f"--screenshot={out}", f"file://{page}#{fragment}"])
    return read_png(out)


def middle(img):
    """Pixels of the middle of the picture (away from the HUD and the control bar)."""
    w, h, rows = img
    return [rows[y][x] for y in range(h // 5, h * 4 // 5) for x in range(w // 4, w * 3 // 4)]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    if not CHROMIUM:
        sys.exit("chromium not found: apt-get install chromium")
    mbc = os.path.abspath(sys.argv[1])
    work = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="mbc-viewer-")
    os.makedirs(work, exist_ok=True)
    failures = []

    def check(ok, what):
        print(("ok   " if ok else "FAIL ") + what, flush=True)
        if not ok: failures.append(what)

    # quadruped: 60 s at 50 Hz
    q_csv, q_html = os.path.join(work, "quadruped.csv"), os.path.join(work, "quadruped.html")
    run([mbc, "simulate", "--env", "quadruped-walk", "--policy", "random", "--steps", "3000", "--seed", "1",
         "--record", q_csv, "--run-dir", os.path.join(work, "run-q")], cwd=ROOT)
    run([mbc, "view", q_csv, "--robot", os.path.join(ROOT, "robots/quadruped.urdf"), "--out", q_html])
    html = open(q_html, encoding="utf-8").read()
    check("http://" not in html and "https://" not in html, "quadruped page has no http(s) reference")
    print(f"     page size {os.path.getsize(q_html) / 1e6:.2f} MB for 3000 frames")
    a = screenshot(q_html, os.path.join(work, "quadruped-a.png"), "t=0.5&paused")
    b = screenshot(q_html, os.path.join(work, "quadruped-b.png"), "t=2.5&paused")
    for name, img in (("t=0.5", a), ("t=2.5", b)):
        dark = sum(1 for p in middle(img) if max(p) < 90)
        check(dark >= 800, f"quadruped at {name}: {dark} dark robot pixels in the middle (≥ 800)")
    differ = sum(1 for p, q in zip(middle(a), middle(b)) if max(abs(p[i] - q[i]) for i in range(3)) > 40)
    check(differ >= 500, f"quadruped t=0.5 vs t=2.5: {differ} pixels differ (≥ 500)")

    # arm-reach: the arm and its red target
    a_csv, a_html = os.path.join(work, "arm.csv"), os.path.join(work, "arm.html")
    run([mbc, "simulate", "--env", "arm-reach", "--policy", "random", "--steps", "200", "--seed", "1",
         "--record", a_csv, "--run-dir", os.path.join(work, "run-a")], cwd=ROOT)
    run([mbc, "view", a_csv, "--robot", os.path.join(ROOT, "robots/arm.urdf"), "--out", a_html])
    c = screenshot(a_html, os.path.join(work, "arm-a.png"), "t=0.2&paused")
    d = screenshot(a_html, os.path.join(work, "arm-b.png"), "t=3.0&paused")
    dark = sum(1 for p in middle(c) if max(p) < 90)
    red = sum(1 for p in middle(c) if p[0] > 120 and p[1] < 60 and p[2] < 70)
    check(dark >= 300, f"arm: {dark} dark robot pixels in the middle (≥ 300)")
    check(red >= 20, f"arm: {red} red target pixels (≥ 20)")
    differ = sum(1 for p, q in zip(middle(c), middle(d)) if max(abs(p[i] - q[i]) for i in range(3)) > 40)
    check(differ >= 300, f"arm t=0.2 vs t=3.0: {differ} pixels differ (≥ 300)")

    # frame rate while playing the 60 s quadruped page (real time, not virtual)
    out = run([CHROMIUM, *FLAGS, "--timeout=8000", "--dump-dom", f"file://{q_html}#bench"]).stdout
    m = re.search(r'<div id="bench">fps=([0-9.]+)', out)
    fps = float(m.group(1)) if m else 0.0
    check(fps >= 30, f"quadruped 60 s page draws {fps:.1f} frames/s in headless Chromium, each frame waited for (≥ 30)")

    print(f"screenshots and pages in {work}")
    if failures:
        sys.exit(f"{len(failures)} check(s) failed")
    print("browser test passed")


if __name__ == "__main__":
    main()
