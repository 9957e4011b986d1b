"""Serve the built book on 127.0.0.1, as GitHub Pages would.

Usage: python scripts/serve_book.py [--port 8000] [--prefix /dlbook/] [DIR]
DIR defaults to _build/html.  --prefix serves the site under a sub-path, as
GitHub Pages does for a project site (https://<owner>.github.io/<repo>/), to
check that nothing in the pages assumes the site sits at the server's root.
"""

from __future__ import annotations

import argparse
import functools
import http.server
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class PrefixHandler(http.server.SimpleHTTPRequestHandler):
    prefix = "/"

    def translate_path(self, path: str) -> str:
        if not path.startswith(self.prefix):
            return str(Path(self.directory) / "__outside_the_prefix__")  # 404, like Pages outside the repo path
        return super().translate_path("/" + path[len(self.prefix):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", default=str(ROOT / "_build" / "html"))
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--prefix", default="/", help="URL path the site is served under (default /)")
    args = parser.parse_args()
    prefix = "/" + args.prefix.strip("/") + "/" if args.prefix.strip("/") else "/"
    handler = type("Handler", (PrefixHandler,), {"prefix": prefix})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), functools.partial(handler, directory=args.dir))
    print(f"serving {args.dir} at http://127.0.0.1:{server.server_address[1]}{prefix}  (Ctrl+C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
