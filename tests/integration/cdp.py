#!/usr/bin/env python3
"""Drives one headless Chromium page through a list of steps, over the
DevTools protocol on a pipe (--remote-debugging-pipe: NUL-separated JSON on
file descriptors 3 and 4), with the standard library only.

    cdp.py [options] STEP...

Steps, run in order; the first that fails ends the run with status 1:
    open URL            navigate the page (once; later steps see the same page)
    size WxH            emulate a viewport of W x H CSS pixels
    scheme dark|light   emulate prefers-color-scheme
    wait REGEX SECS     until document.body.innerText matches REGEX
    gone REGEX SECS     until it no longer matches
    until EXPR SECS     until the JavaScript expression EXPR is true
    sync NAME           create DIR/NAME.ready, then wait (up to 120 s) for
                        DIR/NAME.go: the calling script acts in between
    sleep SECS          let the page run
    mark                set a value on the page's window ...
    marked              ... and check it is still there (no reload since)
    shot FILE           save a PNG screenshot of the viewport
    text FILE           save document.body.innerText

Options:
    --chromium PATH     the browser (default /usr/bin/chromium-headless-shell)
    --dir DIR           for profile, sync files and the browser's log (required)
    --spki HASH         trust a certificate with this SPKI SHA-256 (base64), as
                        --ignore-certificate-errors-spki-list does; no other
                        certificate errors are ignored

It prints each step with its time, and at the end every JavaScript exception
and console error the page had; an exception fails the run.
"""
import base64
import json
import os
import re
import select
import subprocess
import sys
import time


class Browser:
    def __init__(self, chromium, workdir, spki):
        args = [
            chromium,
            "--remote-debugging-pipe",
            "--user-data-dir=" + os.path.join(workdir, "profile"),
            "--no-first-run",
            "--disable-gpu",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-sync",
            "--hide-scrollbars",
            "--mute-audio",
            "--window-size=1280,900",
        ]
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium's sandbox refuses to run as root
        if spki:
            args.append("--ignore-certificate-errors-spki-list=" + spki)
        args.append("about:blank")
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()

        def fds():
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        self.log = open(os.path.join(workdir, "chromium.log"), "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                     preexec_fn=fds, pass_fds=(3, 4))
        os.close(to_child_r)
        os.close(from_child_w)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def close(self):
        try:
            self.call("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_child)
        os.close(self.from_child)
        self.log.close()

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from the browser")
            r, _, _ = select.select([self.from_child], [], [], left)
            if not r:
                continue
            chunk = os.read(self.from_child, 1 << 16)
            if not chunk:
                raise RuntimeError("the browser closed its DevTools pipe (exit status %s)" % self.proc.poll())
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            data = data[os.write(self.to_child, data):]
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"].get("message")))
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def attach(self):
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        self.call("Page.enable")
        self.call("Runtime.enable")

    def eval(self, expr):
        # The page may be between documents (the sign-in page moves on to
        # "/" by itself): try again for a moment.
        for _ in range(50):
            try:
                r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True})
                break
            except RuntimeError as e:
                if not re.search(r"navigated or closed|context was destroyed|Cannot find context", str(e)):
                    raise
                time.sleep(0.1)
        else:
            raise RuntimeError("%s: the page kept navigating" % expr)
        if "exceptionDetails" in r:
            raise RuntimeError("%s: %s" % (expr, r["exceptionDetails"].get("text")))
        return r["result"].get("value")

    def problems(self):
        out = []
        for e in self.events:
            if e["method"] == "Runtime.exceptionThrown":
                d = e["params"]["exceptionDetails"]
                ex = d.get("exception", {}).get("description") or d.get("text")
                out.append(("exception", "%s (line %s)" % (ex, d.get("lineNumber"))))
            elif e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "warning"):
                out.append(("console", " ".join(str(a.get("value", a.get("description", ""))) for a in e["params"]["args"])))
        return out


def stamp(t0, text):
    print("[cdp %7.2fs] %s" % (time.monotonic() - t0, text), flush=True)


def main(argv):
    chromium, workdir, spki = "/usr/bin/chromium-headless-shell", None, None
    while argv and argv[0].startswith("--"):
        opt = argv.pop(0)
        if opt == "--chromium":
            chromium = argv.pop(0)
        elif opt == "--dir":
            workdir = argv.pop(0)
        elif opt == "--spki":
            spki = argv.pop(0)
        else:
            print("cdp.py: unknown option " + opt, file=sys.stderr)
            return 2
    if not workdir:
        print("cdp.py: --dir is required", file=sys.stderr)
        return 2
    os.makedirs(workdir, exist_ok=True)
    t0 = time.monotonic()
    b = Browser(chromium, workdir, spki)
    rc = 0
    try:
        b.attach()
        text = ""
        while argv:
            step = argv.pop(0)
            if step == "open":
                url = argv.pop(0)
                stamp(t0, "open " + re.sub(r"([?&]code=)[^&]+", r"\1...", url))
                r = b.call("Page.navigate", {"url": url})
                if r.get("errorText"):
                    raise RuntimeError("cannot load %s: %s" % (re.sub(r"([?&]code=)[^&]+", r"\1...", url), r["errorText"]))
            elif step == "size":
                w, h = (int(x) for x in argv.pop(0).split("x"))
                b.call("Emulation.setDeviceMetricsOverride",
                       {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": w < 600})
            elif step == "scheme":
                b.call("Emulation.setEmulatedMedia",
                       {"features": [{"name": "prefers-color-scheme", "value": argv.pop(0)}]})
            elif step in ("wait", "gone"):
                pattern, secs = re.compile(argv.pop(0)), float(argv.pop(0))
                deadline = time.monotonic() + secs
                while True:
                    text = b.eval("document.body ? document.body.innerText : ''") or ""
                    if bool(pattern.search(text)) == (step == "wait"):
                        stamp(t0, "%s /%s/: ok" % (step, pattern.pattern))
                        break
                    if time.monotonic() > deadline:
                        raise RuntimeError("%s /%s/: not within %g s; the page shows:\n%s" %
                                           (step, pattern.pattern, secs, text[-4000:]))
                    time.sleep(0.2)
            elif step == "until":
                expr, secs = argv.pop(0), float(argv.pop(0))
                deadline = time.monotonic() + secs
                while b.eval("!!(" + expr + ")") is not True:
                    if time.monotonic() > deadline:
                        raise RuntimeError("until %s: not true within %g s" % (expr, secs))
                    time.sleep(0.2)
                stamp(t0, "until %s: ok" % expr)
            elif step == "sync":
                name = argv.pop(0)
                open(os.path.join(workdir, name + ".ready"), "w").close()
                go = os.path.join(workdir, name + ".go")
                deadline = time.monotonic() + 120
                while not os.path.exists(go):
                    if time.monotonic() > deadline:
                        raise RuntimeError("sync %s: no %s within 120 s" % (name, go))
                    time.sleep(0.05)
                stamp(t0, "sync " + name)
            elif step == "sleep":
                time.sleep(float(argv.pop(0)))
            elif step == "mark":
                b.eval("window.brmTestMark = 'same page'")
            elif step == "marked":
                if b.eval("window.brmTestMark") != "same page":
                    raise RuntimeError("the page was reloaded (its mark is gone)")
                stamp(t0, "same page, no reload")
            elif step == "shot":
                path = argv.pop(0)
                data = b.call("Page.captureScreenshot", {"format": "png"})["data"]
                with open(path, "wb") as f:
                    f.write(base64.b64decode(data))
                stamp(t0, "screenshot " + path)
            elif step == "text":
                path = argv.pop(0)
                with open(path, "w") as f:
                    f.write(b.eval("document.body ? document.body.innerText : ''") or "")
            else:
                raise RuntimeError("unknown step " + step)
    except Exception as e:
        print("cdp.py: " + str(e), file=sys.stderr)
        rc = 1
    finally:
        for kind, what in b.problems():
            print("cdp.py: page %s: %s" % (kind, what), file=sys.stderr)
            if kind == "exception":
                rc = rc or 1
        b.close()
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
