#!/usr/bin/env python3
"""pages.py - the e2e lab's page server for the headless browsers.

Usage: pages.py WWW RESULTS PORT

Serves the directory WWW on 127.0.0.1:PORT (a secure context for the
pages: WebCrypto and the camera need one) and takes each page's result:
POST /result/NAME writes the request body to RESULTS/NAME.json, whole
(written aside, then renamed), so that the shell reading it never sees
half of it. Prints "ready" once listening; runs until killed.
"""
import http.server
import os
import re
import sys


def main():
    www, results, port = sys.argv[1], sys.argv[2], int(sys.argv[3])

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=www, **kwargs)

        def end_headers(self):
            self.send_header("Cache-Control", "no-store")
            super().end_headers()

        def do_POST(self):
            m = re.fullmatch(r"/result/([A-Za-z0-9_.-]+)", self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if 0 < length <= 1 << 20 else b""
            if not m or not body:
                self.send_response(400)
                self.end_headers()
                return
            path = os.path.join(results, m.group(1) + ".json")
            with open(path + ".tmp", "wb") as fh:
                fh.write(body)
            os.rename(path + ".tmp", path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, fmt, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
