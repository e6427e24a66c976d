"""A small client of contactlog's HTTP API for the black-box tests (stdlib only).

    srv = cltest.Server(t, d, ["--lmtp", "127.0.0.1:0", "--http", "127.0.0.1:0"]).start()
    api = apiclient.Client(srv.address("http"))
    api.login("anna.berg@alpha-agentur.example", "test-anna")   # session cookie + CSRF token
    r = api.get("/api/v1/me/inbox")
    t.eq(r.status, 200, "inbox")
    r.json["items"] ...

A Client keeps its own cookie (cl_session) and sends X-CSRF-Token on unsafe methods,
as the web UI does; `Client(addr, token=...)` uses an API token instead.
"""
import http.client
import json
import uuid


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # list of (name, value)
        self.body = body                # bytes

    def header(self, name):
        """The first header of that name (case-insensitive), or None."""
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def all_headers(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError:
            return None

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return f"<{self.status} {self.text[:300]!r}>"


def multipart(fields=None, files=None):
    """A multipart/form-data body: fields {name: text}, files [(field, filename, type, bytes)].
    Returns (content_type, body)."""
    boundary = "----cltest" + uuid.uuid4().hex
    out = []
    for name, value in (fields or {}).items():
        out.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                   .encode() + value.encode("utf-8") + b"\r\n")
    for field, filename, ctype, data in files or []:
        out.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
                   f"filename=\"{filename}\"\r\nContent-Type: {ctype}\r\n\r\n".encode("utf-8")
                   + data + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(out)


class Client:
    def __init__(self, address, token=None, timeout=30):
        self.host, self.port = address
        self.token = token
        self.cookie = None
        self.csrf = None
        self.timeout = timeout

    def request(self, method, path, body=None, json_body=None, content_type=None, headers=None,
                csrf=True):
        h = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode("utf-8")
            content_type = content_type or "application/json"
        if content_type:
            h["Content-Type"] = content_type
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        if self.cookie:
            h["Cookie"] = "cl_session=" + self.cookie
        if csrf and self.csrf and method not in ("GET", "HEAD"):
            h["X-CSRF-Token"] = self.csrf
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=h)
            resp = conn.getresponse()
            data = resp.read()
            r = Response(resp.status, resp.getheaders(), data)
        finally:
            conn.close()
        for value in r.all_headers("Set-Cookie"):
            if value.startswith("cl_session="):
                v = value.split(";", 1)[0].split("=", 1)[1]
                self.cookie = v or None
        return r

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json_body=None, **kw):
        return self.request("POST", path, json_body=json_body, **kw)

    def patch(self, path, json_body=None, **kw):
        return self.request("PATCH", path, json_body=json_body, **kw)

    def put(self, path, json_body=None, **kw):
        return self.request("PUT", path, json_body=json_body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def login(self, email, password):
        """POST /api/v1/session; keeps the cookie and the CSRF token. Returns the response."""
        r = self.post("/api/v1/session", {"email": email, "password": password})
        if r.status == 201:
            self.csrf = r.json["csrf_token"]
        return r

    def logout(self):
        r = self.delete("/api/v1/session")
        self.csrf = None
        return r
