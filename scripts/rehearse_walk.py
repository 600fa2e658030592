"""The walk of scripts/rehearse-deploy.sh: what a user and an operator do, over
the TLS router, against two web processes and a worker. Stops at the first
broken step (an AssertionError names it).

Environment: ROUTER (https://localhost:PORT), ROUTER_CA (its certificate),
TOKEN (an API token), WEB1_PID, SOURCE_URL (a file the worker may fetch),
REDIS_PID_FILE (redis-server's); the arguments after `--` start redis-server
again after the walk has killed it.
"""

import http.client
import json
import os
import signal
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

from websockets.sync.client import connect as websocket

ROUTER = urllib.parse.urlsplit(os.environ["ROUTER"])
CONTEXT = ssl.create_default_context(cafile=os.environ["ROUTER_CA"])
TOKEN = os.environ["TOKEN"]
# Loopback has many addresses: each stands for a client of its own.
ALICE_ADDRESS, BOB_ADDRESS = "127.0.0.2", "127.0.0.3"


def ok(message):
    print(f"ok: {message}", flush=True)


class Client:
    """One client behind the router, from its own address, on a kept-alive
    connection."""

    def __init__(self, address="127.0.0.1"):
        self.address = address
        self.connection = None

    def request(self, method, path, body=None, headers=None, instance=None):
        headers = dict(headers or {})
        if instance:
            headers["X-Rehearsal-Instance"] = str(instance)
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPSConnection(
                    ROUTER.hostname, ROUTER.port, context=CONTEXT,
                    source_address=(self.address, 0), timeout=30)
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                return response.status, response.headers, response.read()
            except (http.client.HTTPException, ConnectionError):
                # The router closed a kept-alive connection: one new try.
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise

    def gql(self, query, variables=None, token=TOKEN, instance=None, expect_ok=True):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Token {token}"
        body = json.dumps({"query": query, "variables": variables or {}})
        status, response_headers, raw = self.request(
            "POST", "/api/graphql", body, headers, instance)
        if not expect_ok:
            return status, response_headers, raw
        # A step after a load by the same user (the autosave writers share the
        # token) waits out its allowance as a client is told to.
        for _ in range(5):
            if status != 429:
                break
            time.sleep(int(response_headers.get("Retry-After", "1")))
            status, response_headers, raw = self.request(
                "POST", "/api/graphql", body, headers, instance)
        assert status == 200, f"{status}: {raw[:300]!r}"
        answer = json.loads(raw)
        assert not answer.get("errors"), answer["errors"]
        return answer["data"]


CLIENT = Client()

READ = """query($id: ID!) { notebook(id: $id) {
    title latestRevision { content } files { filename } } }"""
SAVE = """mutation($input: CreateRevisionInput!) {
    createRevision(input: $input) { id } }"""


def read(notebook_id, instance):
    notebook = CLIENT.gql(READ, {"id": notebook_id}, instance=instance)["notebook"]
    return notebook["title"], notebook["latestRevision"]["content"]


def save(client, notebook_id, title, content, instance):
    client.gql(SAVE, {"input": {"notebookId": notebook_id, "title": title,
                                "content": content}}, instance=instance)


def both_web_processes_are_healthy():
    for instance in (1, 2):
        status, _, raw = CLIENT.request("GET", "/__heartbeat__", instance=instance)
        health = json.loads(raw)
        assert status == 200 and health["status"] == "ok", f"web{instance}: {raw!r}"
        assert health["cache_backend"] == "redis", f"web{instance}: {raw!r}"
    ok("web1 and web2 reach PostgreSQL and Redis (heartbeat ok)")


def notebooks_are_shared_and_fresh():
    created = CLIENT.gql(
        "mutation($input: CreateNotebookInput!) { createNotebook(input: $input) { id } }",
        {"input": {"title": "Rehearsal", "content": "first"}}, instance=1)
    notebook_id = created["createNotebook"]["id"]
    assert read(notebook_id, 2) == ("Rehearsal", "first")
    ok("a notebook created on web1 is read on web2")
    assert read(notebook_id, 1) == ("Rehearsal", "first")  # now cached
    save(CLIENT, notebook_id, "Rehearsal", "second", instance=2)
    assert read(notebook_id, 1) == ("Rehearsal", "second"), "web1 served a stale copy"
    ok("a save on web2 is seen at once on web1 (no stale cache)")
    return notebook_id


def a_save_on_web2_reaches_a_subscriber_on_web1():
    """A subscription through the router (wss, upgraded by it) on web1 hears a
    save made on web2: the event crosses instances through Redis over TLS."""
    created = CLIENT.gql(
        "mutation($input: CreateNotebookInput!) { createNotebook(input: $input) { id } }",
        {"input": {"title": "Live", "content": "first"}}, instance=1)
    notebook_id = created["createNotebook"]["id"]
    url = f"wss://{ROUTER.hostname}:{ROUTER.port}/api/graphql"
    with websocket(url, ssl=CONTEXT, subprotocols=["graphql-transport-ws"],
                   additional_headers={"X-Rehearsal-Instance": "1"},
                   open_timeout=10) as socket:
        def receive(seconds=10):
            message = json.loads(socket.recv(timeout=seconds))
            while message["type"] == "ping":
                socket.send(json.dumps({"type": "pong"}))
                message = json.loads(socket.recv(timeout=seconds))
            return message

        socket.send(json.dumps({"type": "connection_init",
                                "payload": {"Authorization": f"Token {TOKEN}"}}))
        assert receive()["type"] == "connection_ack"
        socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
            "query": "subscription($id: ID!) { revisionSaved(notebookId: $id) { content } }",
            "variables": {"id": notebook_id}}}))
        # The subscription has no acknowledgement: saves until one is heard.
        for attempt in range(10):
            save(CLIENT, notebook_id, "Live", f"live {attempt}", instance=2)
            try:
                message = receive(seconds=3)
                break
            except TimeoutError:
                continue
        else:
            raise AssertionError("no revisionSaved event reached web1's subscriber")
        assert message["type"] == "next", message
        content = message["payload"]["data"]["revisionSaved"]["content"]
        assert content.startswith("live "), message
    ok("a save on web2 reaches a subscriber on web1 through the router (wss, Redis over TLS)")


def files_go_up_and_come_down(notebook_id):
    boundary = uuid.uuid4().hex
    content = os.urandom(200_000)
    operations = json.dumps({
        "query": "mutation($input: UploadFileInput!) { uploadFile(input: $input) { url } }",
        "variables": {"input": {"notebookId": notebook_id, "filename": "data.bin",
                                "file": None}}})
    parts = [
        ("operations", None, operations.encode()),
        ("map", None, b'{"0": ["variables.input.file"]}'),
        ("0", "data.bin", content),
    ]
    body = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename:
            disposition += f'; filename="{filename}"'
        body += (f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n").encode()
        body += data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    status, _, raw = CLIENT.request("POST", "/api/graphql", body, {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Authorization": f"Token {TOKEN}", "X-Requested-With": "rehearsal"}, instance=1)
    answer = json.loads(raw)
    assert status == 200 and not answer.get("errors"), raw[:300]
    url = answer["data"]["uploadFile"]["url"]
    status, _, downloaded = CLIENT.request("GET", url, instance=2)
    assert status == 200 and downloaded == content, f"download: {status}"
    ok(f"a {len(content)}-byte file uploaded on web1 is downloaded from web2")


def the_worker_fills_a_file_source(notebook_id):
    source = CLIENT.gql(
        "mutation($input: CreateFileSourceInput!) { createFileSource(input: $input) { id } }",
        {"input": {"notebookId": notebook_id, "filename": "source.txt",
                   "url": os.environ["SOURCE_URL"]}}, instance=2)["createFileSource"]
    CLIENT.gql("mutation($id: ID!) { refreshFileSource(id: $id) { id } }",
               {"id": source["id"]}, instance=1)
    path = f"/notebooks/{notebook_id}/files/source.txt"
    deadline = time.monotonic() + 30
    while True:
        status, _, body = CLIENT.request("GET", path, instance=2)
        if status == 200:
            assert body == b"the file source's content\n", body
            break
        assert time.monotonic() < deadline, f"the worker did not fill the file source ({status})"
        time.sleep(0.2)
    ok("the worker fetched a file source into the notebook")


def static_files_are_compressed_with_an_etag():
    path = "/graphiql/assets/graphiql.min.js"
    status, headers, body = CLIENT.request("GET", path, headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip", (status, dict(headers))
    etag = headers["ETag"]
    status, _, _ = CLIENT.request("GET", path, headers={"If-None-Match": etag})
    assert status == 304, status
    status, headers, _ = CLIENT.gql("{ __typename }", expect_ok=False)
    assert "Content-Encoding" not in headers, "the API's answer was compressed"
    ok(f"GraphiQL's script comes gzipped ({len(body)} bytes), then 304; the API never compressed")


def ask_for_a_token(client, instance, forwarded_for=None):
    """An anonymous POST /token/ (refused with 401): it counts against the
    client's /token/ allowance, the smallest one (TOKEN_REQUESTS_PER_MINUTE,
    10 by default), so that a few requests show whether the web processes
    share it through Redis."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    status, response_headers, _ = client.request("POST", "/token/", b"", headers, instance)
    return status, response_headers


def rate_limits_are_shared_and_per_client():
    alice, bob = Client(ALICE_ADDRESS), Client(BOB_ADDRESS)
    statuses = []
    while 429 not in statuses:
        status, headers = ask_for_a_token(alice, instance=1 + len(statuses) % 2)
        statuses.append(status)
        assert len(statuses) <= 50, "no 429 after 50 requests"
        limit = int(headers["X-RateLimit-Limit"])
    allowed = len(statuses) - 1
    # One more may have dripped back in while the requests ran.
    assert limit <= allowed <= limit + 1, (
        f"{allowed} requests allowed across web1 and web2 for a limit of {limit}: "
        "the allowance is not shared")
    ok(f"one allowance across web1 and web2: 429 after {allowed} requests (limit {limit})")
    status, _ = ask_for_a_token(alice, 2, forwarded_for="198.51.100.7")
    assert status == 429, "a forged X-Forwarded-For escaped the limit"
    status, headers = ask_for_a_token(bob, 1)
    assert status == 401 and int(headers["X-RateLimit-Remaining"]) == limit - 1, status
    ok("a second client behind the router has its own allowance; a forged "
       "X-Forwarded-For does not help the first")


def wait_for_exit(pid, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().split(") ")[1].startswith("Z"):
                    return
        except FileNotFoundError:
            return
        time.sleep(0.1)
    raise AssertionError(f"pid {pid} still runs {seconds} s after SIGTERM")


def no_acknowledged_save_is_lost_on_sigterm():
    notebook_id = CLIENT.gql(
        "mutation($input: CreateNotebookInput!) { createNotebook(input: $input) { id } }",
        {"input": {"title": "Autosave", "content": "start"}}, instance=2)["createNotebook"]["id"]
    acknowledged, stop = [], threading.Event()
    web1_pid = int(os.environ["WEB1_PID"])

    def autosave(writer):
        client, n = Client(), 0
        while not stop.is_set():
            n += 1
            content = f"save {writer}-{n}"
            try:
                status, _, raw = client.gql(
                    SAVE, {"input": {"notebookId": notebook_id, "title": "Autosave",
                                     "content": content}}, instance=1, expect_ok=False)
            except (OSError, http.client.HTTPException):
                continue
            if status == 200 and not json.loads(raw).get("errors"):
                acknowledged.append(content)
            elif status != 200:
                time.sleep(0.05)

    writers = [threading.Thread(target=autosave, args=(w,)) for w in range(4)]
    for writer in writers:
        writer.start()
    time.sleep(2)
    before = len(acknowledged)
    os.kill(web1_pid, signal.SIGTERM)
    wait_for_exit(web1_pid, 25)
    stop.set()
    for writer in writers:
        writer.join()
    assert before > 0, "no save was acknowledged before SIGTERM"
    stored, after = set(), None
    while True:
        page = CLIENT.gql(
            """query($id: ID!, $after: String) { notebook(id: $id) {
                revisions(first: 100, after: $after) {
                  nodes { content } pageInfo { hasNextPage endCursor } } } }""",
            {"id": notebook_id, "after": after}, instance=2)["notebook"]["revisions"]
        stored.update(node["content"] for node in page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    lost = [content for content in acknowledged if content not in stored]
    assert not lost, f"{len(lost)} acknowledged saves lost: {lost[:5]}"
    ok(f"web1 stopped on SIGTERM under autosave load: {len(acknowledged)} saves "
       f"acknowledged ({before} before the signal), none lost")


def redis_restarts_under_the_app(notebook_id, redis_command):
    with open(os.environ["REDIS_PID_FILE"]) as pid_file:
        os.kill(int(pid_file.read()), signal.SIGKILL)
    time.sleep(0.3)
    assert read(notebook_id, 2) == ("Rehearsal", "second")
    save(CLIENT, notebook_id, "Rehearsal", "during the outage", instance=2)
    assert read(notebook_id, 2) == ("Rehearsal", "during the outage")
    status, _, raw = CLIENT.request("GET", "/__heartbeat__", instance=2)
    assert status == 200 and json.loads(raw)["checks"]["cache"] == "degraded", raw
    ok("Redis killed: the app still answers, from the database, and says it is degraded")
    os.spawnvp(os.P_WAIT, redis_command[0], redis_command)
    deadline = time.monotonic() + 30
    while True:
        status, _, raw = CLIENT.request("GET", "/__heartbeat__", instance=2)
        if status == 200 and json.loads(raw)["checks"]["cache"] == "ok":
            break
        assert time.monotonic() < deadline, f"the cache did not come back: {raw!r}"
        time.sleep(0.5)
    assert read(notebook_id, 2) == ("Rehearsal", "during the outage")
    ok("Redis restarted: the app uses it again")


def main():
    redis_command = sys.argv[sys.argv.index("--") + 1:]
    both_web_processes_are_healthy()
    notebook_id = notebooks_are_shared_and_fresh()
    a_save_on_web2_reaches_a_subscriber_on_web1()
    files_go_up_and_come_down(notebook_id)
    the_worker_fills_a_file_source(notebook_id)
    static_files_are_compressed_with_an_etag()
    rate_limits_are_shared_and_per_client()
    no_acknowledged_save_is_lost_on_sigterm()
    redis_restarts_under_the_app(notebook_id, redis_command)


if __name__ == "__main__":
    main()
