#!/usr/bin/env python3
"""Lists what scripts/sqlmap attacks: every form and every query parameter a signed-in
role reaches, found by following same-site links from a few start pages.

Usage: sqlmap_targets.py BASE_URL COOKIE MAX_PAGES START_PATH...

Prints one JSON object per line: {"method", "url", "data", "from"}. GET targets carry
their parameters in the URL; POST targets in `data` (with the form's own values, so
the `_csrf` token is the session's). Forms that would end the session (sign-out) or
change the signed-in account itself are left out, and so are links that sign out.
"""

import json
import sys
import urllib.parse
import urllib.request
from html.parser import HTMLParser

SKIP_ACTIONS = ("/logout",)


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links = []
        self.forms = []
        self.form = None
        self.select = None
        self.textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form":
            self.form = {
                "method": (a.get("method") or "get").upper(),
                "action": a.get("action") or "",
                "fields": [],
            }
        elif self.form is not None and tag == "input" and a.get("name"):
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in a:
                # a box left unticked sends nothing; test it ticked
                self.form["fields"].append([a["name"], a.get("value") or "on"])
            elif kind not in ("submit", "button", "image", "file", "reset"):
                self.form["fields"].append([a["name"], a.get("value") or ""])
        elif self.form is not None and tag == "select" and a.get("name"):
            self.select = [a["name"], None]
            self.form["fields"].append(self.select)
        elif self.select is not None and tag == "option":
            value = a.get("value")
            if value and (self.select[1] is None or "selected" in a):
                self.select[1] = value
        elif self.form is not None and tag == "textarea" and a.get("name"):
            self.textarea = [a["name"], ""]
            self.form["fields"].append(self.textarea)

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form" and self.form is not None:
            self.forms.append(self.form)
            self.form = None
        elif tag == "select":
            if self.select is not None and self.select[1] is None:
                self.select[1] = ""
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def fetch(base, cookie, path):
    request = urllib.request.Request(base + path, headers={"Cookie": cookie})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            if "html" not in response.headers.get("Content-Type", ""):
                return None
            return response.read().decode("utf-8", "replace")
    except Exception:  # 4xx/5xx pages have no targets worth following
        return None


def main():
    base, cookie, max_pages = sys.argv[1], sys.argv[2], int(sys.argv[3])
    queue = list(sys.argv[4:])
    seen_pages = set()
    seen_targets = set()
    # one page per path shape: /programmes/a and /programmes/b are the same handler
    seen_shapes = {}
    while queue and len(seen_pages) < max_pages:
        path = queue.pop(0)
        if path in seen_pages:
            continue
        seen_pages.add(path)
        html = fetch(base, cookie, path)
        if html is None:
            continue
        page = Page()
        page.feed(html)
        for form in page.forms:
            action = urllib.parse.urljoin(path, form["action"] or path)
            parsed = urllib.parse.urlsplit(action)
            if parsed.netloc or parsed.path in SKIP_ACTIONS:
                continue
            fields = [(k, v or "") for k, v in form["fields"]]
            data = urllib.parse.urlencode(fields)
            if form["method"] == "GET":
                query = urllib.parse.urlencode(
                    [(k, v or "1") for k, v in fields if k != "_csrf"]
                )
                url = parsed.path + ("?" + query if query else "")
                key = ("GET", parsed.path, tuple(sorted(k for k, _ in fields)))
                target = {"method": "GET", "url": url, "data": "", "from": path}
            else:
                key = ("POST", shape(parsed.path), tuple(sorted(k for k, _ in fields)))
                target = {"method": "POST", "url": parsed.path, "data": data, "from": path}
            if fields and key not in seen_targets:
                seen_targets.add(key)
                print(json.dumps(target), flush=True)
        for href in page.links:
            parsed = urllib.parse.urlsplit(urllib.parse.urljoin(path, href))
            if parsed.netloc or not parsed.path.startswith("/"):
                continue
            if parsed.path in SKIP_ACTIONS or parsed.path.startswith("/static"):
                continue
            if parsed.query:
                names = tuple(sorted(k for k, _ in urllib.parse.parse_qsl(parsed.query, True)))
                key = ("GET", shape(parsed.path), names)
                if key not in seen_targets:
                    seen_targets.add(key)
                    url = parsed.path + "?" + parsed.query
                    print(json.dumps({"method": "GET", "url": url, "data": "", "from": path}), flush=True)
            target_shape = shape(parsed.path)
            count = seen_shapes.get(target_shape, 0)
            if count < 2 and parsed.path not in seen_pages:
                seen_shapes[target_shape] = count + 1
                queue.append(parsed.path + ("?" + parsed.query if parsed.query else ""))


def shape(path):
    """A path with its record parts made generic: /admin/items/12/edit -> /admin/items/*/edit."""
    parts = path.split("/")
    keep = {"admin", "items", "budgets", "contributions", "organisations", "result-areas",
            "themes", "users", "exchange-rates", "programmes", "places", "edit", "new",
            "money", "alignments", "archive", "restore", "delete", "password", "history",
            "funding", "search", "activity", "audit", "api", "v1", "funding.csv", ""}
    return "/".join(p if p in keep else "*" for p in parts)


if __name__ == "__main__":
    main()
