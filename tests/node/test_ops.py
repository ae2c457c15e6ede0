"""``shora doctor``, ``shora status`` and ``shora keys`` as an operator runs them (issue 10): each doctor
check failing for real, with its finding and exit 1; a healthy folder exit 0."""

from __future__ import annotations

import contextlib
import email.utils
import http.server
import io
import json
import os
import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from federation.peers import PeerTable
from federation.store import LogStore, verified
from node.backup.keyfile import RECOVERY_FILE
from node.ops.progress import Progress
from protocol import codec
from protocol.keys import SigningKey
from tests.node.test_cli import SHORA, as_json, init, refused, shora, start_serving, stop_serving


def private(directory: Path) -> Path:
    """Make the folder as doctor wants it: private, and the recovery file moved off the machine."""
    (directory / RECOVERY_FILE).unlink(missing_ok=True)
    os.chmod(directory, 0o700)
    for path in directory.iterdir():
        os.chmod(path, 0o600)
    return directory


def doctor(home: Path, code: int) -> dict[str, Any]:
    done = shora("doctor", "--dir", home, "--json", code=code)
    assert done.stdout.count("\n") == 1, done.stdout
    value: dict[str, Any] = json.loads(done.stdout)
    assert value["ok"] is (code == 0)
    return value


def problems(value: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for f in value["findings"]:
        if not f["ok"]:
            assert f["fix"], f  # every problem says what to do
            found.setdefault(f["check"], []).append(f["message"])
    return found


@pytest.fixture
def home(tmp_path: Path) -> Path:
    directory = tmp_path / "toronto"
    init(directory)
    return private(directory)


def test_doctor_on_a_healthy_folder_exits_0_and_says_so(home: Path) -> None:
    value = doctor(home, 0)
    checks = {f["check"] for f in value["findings"]}
    assert {"files", "database", "log", "checkpoint", "parser", "disk", "peers", "node"} <= checks
    human = shora("doctor", "--dir", home).stdout
    assert "all is well" in human and "PROBLEM" not in human


def test_doctor_finds_the_recovery_file_left_in_the_folder(home: Path) -> None:
    (home / RECOVERY_FILE).write_bytes(b"left behind")
    os.chmod(home / RECOVERY_FILE, 0o600)
    found = problems(doctor(home, 1))
    assert list(found) == ["recovery"] and str(home / RECOVERY_FILE) in found["recovery"][0]
    human = shora("doctor", "--dir", home, code=1).stdout
    assert f"rm {home / RECOVERY_FILE}" in human and "1 problem found" in human


def test_doctor_takes_the_folder_from_shora_dir_and_the_groups_dir(home: Path, tmp_path: Path) -> None:
    """Not only from its own --dir: SHORA_DIR and ``shora --dir X doctor`` as every command (no traceback)."""
    said = shora("doctor", home=home).stdout
    assert "all is well" in said and str(home) in said
    value = json.loads(shora("--dir", home, "--json", "doctor").stdout)
    assert value["ok"] is True
    other = tmp_path / "other"
    init(other)  # an old identity's recovery file; this folder names no federation to ask
    moved = refused("keys", "move-root", "--recovery", other / RECOVERY_FILE, "--reason", "x", home=home)
    assert "this folder names no federation: give --federation URL KEY" in moved


def test_doctor_finds_a_file_others_can_read(home: Path) -> None:
    os.chmod(home / "node.json", 0o644)
    found = problems(doctor(home, 1))
    assert list(found) == ["files"]
    assert "node.json" in found["files"][0] and "644" in found["files"][0]
    human = shora("doctor", "--dir", home, code=1).stdout
    assert f"chmod 600 {home / 'node.json'}" in human


def test_doctor_finds_a_corrupted_database_page(home: Path) -> None:
    db = home / "shora.db"
    page = sqlite3.connect(db).execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(db.read_bytes())
    for offset in range(2 * page, len(data) - page, page):  # every page but the header's: garbage
        data[offset + 8 : offset + 40] = b"\xa5" * 32
    db.write_bytes(bytes(data))
    found = problems(doctor(home, 1))
    assert "database" in found
    assert "damaged" in found["database"][0] or "cannot be read" in found["database"][0]


def test_doctor_finds_a_flipped_byte_in_an_entry(home: Path) -> None:
    with sqlite3.connect(home / "shora.db") as conn:
        (signature,) = conn.execute("SELECT signature FROM entries WHERE seq = 0").fetchone()
        flipped = bytes([signature[0] ^ 1]) + bytes(signature[1:])
        conn.execute("UPDATE entries SET signature = ? WHERE seq = 0", (flipped,))
    found = problems(doctor(home, 1))
    assert list(found) == ["log"]
    assert found["log"][0].startswith("entry 0 of the log fails verification")


def test_doctor_tells_of_a_peer_log_whose_owner_signed_a_bad_entry_into_its_tree(home: Path) -> None:
    # what Replica.settle keeps when the log's owner served an entry whose own signature fails under the
    # checkpoint it signed (tests/federation/test_replica.py makes it happen through a real ingest)
    owner = SigningKey.generate().public.raw
    with contextlib.closing(sqlite3.connect(home / "shora.db")) as conn, conn:
        verified.add(conn, owner, 3, 10, owner)
        verified.record_bad(conn, owner, 3, bytes(64), owner, "a checkpoint note")
    found = problems(doctor(home, 1))
    assert list(found) == ["replicas"]
    assert "bad signature by its own owner" in found["replicas"][0]
    assert f"{codec.short_id(owner)} entry 3" in found["replicas"][0]


def test_doctor_counts_the_peer_entries_still_waiting_for_their_signature_check(home: Path) -> None:
    with contextlib.closing(sqlite3.connect(home / "shora.db")) as conn, conn:
        verified.add(conn, SigningKey.generate().public.raw, 0, 250, None)
    checks = {f["check"]: f for f in doctor(home, 0)["findings"]}
    assert checks["replicas"]["ok"] and checks["replicas"]["message"].startswith("250 entries of peers' logs")


def test_doctor_checks_a_long_log_on_workers_and_names_the_first_entry_that_fails(tmp_path: Path) -> None:
    """A log of POOL_FROM entries or more has its signatures checked on worker processes while the chain is
    checked in the doctor's own: a bad signature late in the log is still found, and where the chain
    breaks after an earlier bad signature, the earlier entry is the one named."""
    from node.ops.doctor import POOL_FROM, check_log
    from node.storage.drafts import checkpoint_signer
    from node.storage.migrations import open_database
    from tests.bench.gossip import _build_log

    key = SigningKey.from_seed(b"\x61" * 32)
    conn = open_database(tmp_path / "shora.db")
    LogStore(conn).append(key.public.raw, _build_log(key, POOL_FROM + 100), checkpoint_signer(key))
    assert [f.ok for f in check_log(conn, key.public.raw)] == [True, True]

    def spoil(column: str, seq: int) -> None:
        (value,) = conn.execute(f"SELECT {column} FROM entries WHERE seq = ?", (seq,)).fetchone()
        spoilt = bytes([value[0] ^ 1]) + bytes(value[1:])
        with conn:
            conn.execute(f"UPDATE entries SET {column} = ? WHERE seq = ?", (spoilt, seq))

    spoil("signature", POOL_FROM + 50)
    (found,) = check_log(conn, key.public.raw)
    assert not found.ok and found.message.startswith(f"entry {POOL_FROM + 50} of the log fails verification")
    spoil("header", POOL_FROM + 80)  # the chain breaks later: the bad signature is still the first
    (found,) = check_log(conn, key.public.raw)
    assert found.message.startswith(f"entry {POOL_FROM + 50} of the log fails verification")
    spoil("header", 7)  # and a break before it is named first
    (found,) = check_log(conn, key.public.raw)
    assert found.message.startswith("entry 7 of the log fails verification")


def test_doctor_finds_a_peer_that_is_down(home: Path, tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    peer = SigningKey.generate().public.raw
    with contextlib.closing(sqlite3.connect(home / "shora.db")) as conn, conn:
        PeerTable(conn).add(peer, f"http://127.0.0.1:{port}", 0)
    found = problems(doctor(home, 1))
    assert list(found) == ["peers"]
    assert "does not answer" in found["peers"][0] and str(port) in found["peers"][0]


def test_doctor_refuses_a_folder_that_is_not_a_node(tmp_path: Path) -> None:
    assert "not a shora data folder" in refused("doctor", "--dir", tmp_path)


def test_status_keys_and_operator_rotation_on_a_running_node(home: Path, tmp_path: Path) -> None:
    server = start_serving(home, tmp_path / "serve.log")
    try:
        private(home)  # the WAL files and serve.addr too
        status = as_json("status", "--dir", home)
        assert status["log"]["size"] == status["log"]["checkpoint_size"] >= 1
        assert status["peers"] == [] and status["warnings"] == []
        assert "no warnings" in shora("status", "--dir", home).stdout
        value = doctor(home, 0)
        assert any(f["check"] == "node" and "running" in f["message"] for f in value["findings"])

        listed = as_json("keys", "list", "--dir", home)["keys"]
        assert [k["role"] for k in listed] == ["root", "operator"]
        old = listed[1]["key"]
        old_key = (home / "operator.key").read_bytes()

        rotated = as_json("keys", "operator-rotate", "--dir", home)["operator_key"]
        assert rotated != old
        assert json.loads((home / "node.json").read_text())["operator_key"] == rotated
        assert as_json("keys", "list", "--dir", home)["keys"][-1]["key"] == rotated
        assert oct((home / "operator.key").stat().st_mode & 0o777) == "0o600"

        # the old key is refused from now on, and nothing changes
        (home / "operator.key").rename(tmp_path / "new.key")
        (home / "operator.key").write_bytes(old_key)
        os.chmod(home / "operator.key", 0o600)
        denied = json.loads(shora("status", "--dir", home, "--json", code=1).stdout)
        assert denied["error"] == "request-unknown-key"
        again = json.loads(shora("keys", "operator-rotate", "--dir", home, "--json", code=1).stdout)
        assert again["error"] == "request-unknown-key"
        assert json.loads((home / "node.json").read_text())["operator_key"] == rotated
        assert not (home / "operator.key.new").exists()
        (tmp_path / "new.key").replace(home / "operator.key")
    finally:
        stop_serving(server, home)


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_progress_redraws_one_line_on_a_terminal_and_writes_plain_lines_elsewhere() -> None:
    tty = _Stream(tty=True)
    bar = Progress("verifying the log", 3, stream=tty)
    for done in (1, 2, 3):
        bar.update(done)
    bar.finish()
    assert tty.getvalue().count("\r") == 4 and tty.getvalue().endswith("\n")
    assert "verifying the log: 3/3 entries" in tty.getvalue()

    plain = _Stream(tty=False)
    bar = Progress("catching up", None, stream=plain, interval_s=0.0)
    bar.update(10, 40)
    bar.update(40)
    bar.finish("done")
    lines = plain.getvalue().splitlines()
    assert lines[0].startswith("catching up: 10/40 entries") and "\r" not in plain.getvalue()
    assert lines[-1].startswith("catching up: 40/40 entries") and lines[-1].endswith("— done")

    quiet = _Stream(tty=False)  # between intervals nothing is written, only the last line
    bar = Progress("catching up", 1000, stream=quiet, interval_s=3600.0)
    for done in range(1, 1001):
        bar.update(done)
    bar.finish()
    assert quiet.getvalue().splitlines() == [quiet.getvalue().strip()]


def test_doctor_reports_its_progress_on_stderr_and_keeps_stdout_one_object(home: Path) -> None:
    done = shora("doctor", "--dir", home, "--json")
    assert done.stdout.count("\n") == 1 and json.loads(done.stdout)["ok"] is True
    assert "verifying the log: 1/1 entries" in done.stderr


def test_doctor_finds_the_pure_python_http_parser(home: Path) -> None:
    env = {**os.environ, "AIOHTTP_NO_EXTENSIONS": "1"}
    assert SHORA is not None
    done = subprocess.run(
        [SHORA, "doctor", "--dir", str(home), "--json"], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 1, done.stderr
    found = problems(json.loads(done.stdout))
    assert list(found) == ["parser"] and "pure-Python" in found["parser"][0]


def test_status_warns_about_a_peer_that_fails(home: Path, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = start_serving(home, tmp_path / "serve.log")
    try:
        peer = codec.b64u(SigningKey.generate().public.raw)
        as_json("peers", "add", f"http://127.0.0.1:{port}", peer, "--dir", home)
        synced = shora("sync", "--dir", home, code=1)  # a peer it could not reach: said, exit 1
        assert "could not sync with 1 peer" in synced.stderr and synced.stdout == ""
        status = as_json("status", "--dir", home)
        (listed,) = status["peers"]
        assert listed["node_id"] == peer and listed["status"] in ("failing", "suspended")
        assert any(peer[:10] in w for w in status["warnings"])
        assert "no peer is reachable" in " ".join(status["warnings"])
        human = shora("status", "--dir", home).stdout
        assert "WARNING" in human and peer[:10] in human
    finally:
        stop_serving(server, home)


def test_doctor_finds_a_missing_migration_a_bad_checkpoint_and_a_full_disk(home: Path) -> None:
    with contextlib.closing(sqlite3.connect(home / "shora.db")) as conn, conn:
        (name,) = conn.execute("SELECT max(name) FROM migrations").fetchone()
        conn.execute("DELETE FROM migrations WHERE name = ?", (name,))
    found = problems(doctor(home, 1))
    assert list(found) == ["database"] and name in found["database"][0]
    with contextlib.closing(sqlite3.connect(home / "shora.db")) as conn, conn:
        conn.execute("INSERT INTO migrations VALUES (?, 0)", (name,))

    stranger = SigningKey.generate()
    with contextlib.closing(sqlite3.connect(home / "shora.db")) as conn, conn:
        (note,) = conn.execute("SELECT checkpoint FROM logs").fetchone()
        lines = note.split("\n")
        forged = "\n".join([*lines[:3], "", f"— {lines[0]} {codec.b64u(stranger.public.raw)[:20]}"])
        conn.execute("UPDATE logs SET checkpoint = ?", (forged,))
    raw = json.loads((home / "node.json").read_text())
    raw["settings"] = {"doctor_min_free_mib": 1 << 40}
    (home / "node.json").write_text(json.dumps(raw))
    found = problems(doctor(home, 1))
    assert {"checkpoint", "disk"} <= set(found)
    assert "does not verify" in found["checkpoint"][0] and "MiB free" in found["disk"][0]


def test_doctor_finds_a_peer_whose_clock_is_off(home: Path) -> None:
    peer = SigningKey.generate().public.raw
    skew = 3600

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"id": codec.b64u(peer)}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def date_time_string(self, timestamp: float | None = None) -> str:
            return email.utils.formatdate(time.time() + skew, usegmt=True)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with contextlib.closing(sqlite3.connect(home / "shora.db")) as conn, conn:
            PeerTable(conn).add(peer, f"http://127.0.0.1:{server.server_address[1]}", 0)
        found = problems(doctor(home, 1))
    finally:
        server.shutdown()
        server.server_close()
    assert list(found) == ["clock"]
    assert "behind" in found["clock"][0]
