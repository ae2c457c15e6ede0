"""``shora`` as people and scripts run it (DESIGN.md §8): a real ``shora serve`` and the console script.

Exit 0 on success, 1 when the node (or the verifier) refuses, with ``shora: why`` on stderr, 2 on usage
errors; ``--json`` prints one JSON object.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from protocol import codec
from protocol.bundle import Bundle
from protocol.keys import SigningKey
from protocol.note import KeyKind, open_checkpoint, sign_checkpoint, vkey
from tests.vectors.generate import COUNCIL, WITNESSES

SHORA = shutil.which("shora", path=str(Path(sys.executable).parent)) or shutil.which("shora")
assert SHORA is not None, "the shora console script is not installed: run `make test`, which installs it"

INIT = ["--name", "Toronto Council", "--city", "Toronto", "--country", "CA", "--continent", "North America"]


def shora(*args: str | Path, home: Path | None = None, code: int = 0) -> subprocess.CompletedProcess[str]:
    """Run ``shora ARGS`` (with ``SHORA_DIR=home``) and insist on exit status ``code``."""
    env = {k: v for k, v in os.environ.items() if k != "SHORA_DIR"}
    if home is not None:
        env["SHORA_DIR"] = str(home)
    assert SHORA is not None
    done = subprocess.run(
        [SHORA, *map(str, args)], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert done.returncode == code, (args, done.returncode, done.stdout, done.stderr)
    return done


def as_json(*args: str | Path, home: Path | None = None) -> Any:
    out = shora(*args, "--json", home=home).stdout
    assert out.count("\n") == 1, out  # one JSON object on one line
    return json.loads(out)


def refused(*args: str | Path, home: Path | None = None) -> str:
    """Exit 1 with ``shora: why`` on stderr and nothing on stdout; returns the message."""
    done = shora(*args, home=home, code=1)
    assert done.stderr.startswith("shora: "), done.stderr
    assert done.stdout == ""
    return done.stderr


def usage_error(*args: str | Path, home: Path | None = None) -> str:
    done = shora(*args, home=home, code=2)
    assert "Usage:" in done.stderr or "Error:" in done.stderr, done.stderr
    return done.stderr


def init(directory: Path) -> dict[str, Any]:
    return dict(as_json("init", directory, *INIT, "--listen", "127.0.0.1:0"))


def start_serving(directory: Path, log: Path) -> subprocess.Popen[bytes]:
    assert SHORA is not None
    with open(log, "wb") as out:
        server = subprocess.Popen([SHORA, "serve", str(directory)], stdout=out, stderr=subprocess.STDOUT)
    address = directory / "serve.addr"
    deadline = time.monotonic() + 120  # a hang bound: a loaded machine starts it well within
    while not address.exists():
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise AssertionError(f"shora serve did not start: {log.read_text()}")
        time.sleep(0.02)
    return server


def stop_serving(server: subprocess.Popen[bytes], directory: Path) -> None:
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=20) == 0
    assert not (directory / "serve.addr").exists()


def test_whole_assembly_from_init_to_verify(tmp_path: Path) -> None:
    home = tmp_path / "toronto"
    created = init(home)
    council_key = created["node_id"]
    assert created["dir"] == str(home) and len(codec.unb64u(council_key, 32)) == 32
    assert (home / "operator.key").stat().st_mode & 0o077 == 0
    server = start_serving(home, tmp_path / "serve.log")
    try:
        ids = {
            name: as_json("member", "join", "--name", name, home=home)["member_id"]
            for name in ("Ava", "Babak", "Chris", "Dara")
        }
        # --dir works as well as SHORA_DIR
        listed = as_json("member", "list", "--dir", home)["members"]
        assert {m["name"]: m["member_id"] for m in listed} == ids

        assembly = as_json("assembly", "open", "--agenda", "Spring assembly", home=home)["assembly_id"]
        assert (
            as_json("assembly", "attend", "current", "Ava", "Babak", "chris", ids["Dara"], home=home)[
                "present"
            ]
            == 4
        )
        assert as_json("assembly", "depart", assembly, "Dara", home=home)["present"] == 3

        rally = as_json("motion", "propose", assembly, "--text", "Hold a rally", home=home)["motion_id"]
        for member, choice in (("Ava", "yes"), ("Babak", "yes"), ("Chris", "no")):
            assert shora("vote", rally, member, choice, home=home).stdout.strip() == "vote recorded"

        # refusals: exit 1, the reason on stderr (and the rule as the error code with --json)
        assert "one vote per member" in refused("vote", rally, "Ava", "no", home=home)
        assert "left the assembly" in refused("vote", rally, "Dara", "yes", home=home)
        assert "Zed" in refused("vote", rally, "Zed", "yes", home=home)
        done = shora("vote", rally, "Ava", "no", "--json", home=home, code=1)
        assert json.loads(done.stdout)["error"] == "vote.duplicate"

        decision = as_json("motion", "close", rally, home=home)
        assert decision["outcome"] == "adopted"
        assert decision["tally"] == {"yes": 2, "no": 1, "abstain": 0}
        assert "decided" in refused("vote", rally, "Babak", "no", home=home)

        # a candidate stands only with their consent: the secretary records it for members without a key
        assert "consent to stand recorded" in shora("assembly", "consent", "current", "Ava", home=home).stdout
        shora("assembly", "consent", "current", "Babak", home=home)
        election = as_json(
            "motion",
            "propose",
            "current",
            "--kind",
            "election",
            "--seats",
            "2",
            "--candidate",
            "Ava",
            "--candidate",
            "Babak",
            "--text",
            "Elect the board",
            home=home,
        )["motion_id"]
        shora("vote", election, "Ava", "Ava", "Babak", home=home)
        shora("vote", election, "Babak", "Babak", home=home)
        shora("vote", election, "Chris", "Ava", home=home)
        elected = as_json("motion", "close", election, home=home)
        assert elected["outcome"] == "adopted"
        assert {e["member"] for e in elected["elected"]} == {ids["Ava"], ids["Babak"]}

        board = as_json("board", home=home)
        assert board["seats"] == 3 and board["vacancies"] == 1
        assert {m["member"] for m in board["mandates"]} == {ids["Ava"], ids["Babak"]}
        decisions = as_json("decisions", home=home)["decisions"]
        assert [d["decision_id"] for d in decisions] == [elected["decision_id"], decision["decision_id"]]
        assert "Hold a rally" in shora("decisions", home=home).stdout
        # issue 13: a rules motion changes only the rule it names; `shora rules` shows the rules in force
        change = ("motion", "propose", "current", "--kind", "rules", "--census-bucket", "2", "--text", "By 2")
        bucket = as_json(*change, home=home)["motion_id"]
        for member in ("Ava", "Babak", "Chris"):
            shora("vote", bucket, member, "yes", home=home)
        assert as_json("motion", "close", bucket, home=home)["outcome"] == "adopted"
        in_force = as_json("rules", home=home)
        assert in_force["version"] == 2 and in_force["rules"]["census_bucket"] == 2
        assert in_force["rules"]["board_seats"] == 3  # not named, not reset
        assert "census_bucket: 2" in shora("rules", home=home).stdout
        history = as_json("rules", "--history", home=home)["versions"]
        assert [(v["version"], v["changed"]) for v in history] == [(1, {}), (2, {"census_bucket": [1, 2]})]
        assert "census_bucket: 1 -> 2" in shora("rules", "--history", home=home).stdout
        motions = len(as_json("assembly", "list", home=home)["assemblies"][0]["motions"])
        lock = ("motion", "propose", "current", "--kind", "rules", "--quorum", "5", "--text", "Lock")
        assert "more than the 4 active members" in refused(*lock, home=home)
        assert json.loads(shora(*lock, "--json", home=home, code=1).stdout)["error"] == "impossible-rules"
        uncap = ("motion", "propose", "current", "--kind", "rules", "--no-quorum-cap", "--quorum", "2")
        assert "without quorum_cap" in refused(*uncap, "--text", "Uncap", home=home)
        assert len(as_json("assembly", "list", home=home)["assemblies"][0]["motions"]) == motions
        assert as_json("rules", home=home)["version"] == 2

        minutes = tmp_path / "minutes.txt"
        minutes.write_text("We agreed to hold a rally and elected a board.\n", encoding="utf-8")
        closed = as_json("assembly", "close", assembly, "--minutes", minutes, home=home)
        assert closed["participants"] == 4  # Dara attended, then left: still a participant
        assert "closed" in refused("motion", "propose", assembly, "--text", "Too late", home=home)

        bundle = tmp_path / "rally.bundle"
        written = as_json("bundle", decision["decision_id"], "-o", bundle, home=home)
        assert written == {"file": str(bundle), "bytes": bundle.stat().st_size, "council": council_key}
    finally:
        if server.poll() is None:
            stop_serving(server, home)
    assert server.returncode == 0

    # verify works offline, with the node stopped
    report = shora("verify", bundle, "--council", council_key).stdout
    checked = as_json("verify", bundle, "--council", council_key)
    assert checked["valid"] is True and checked["record_id"] == decision["decision_id"]
    assert checked["council"]["name"] == "Toronto Council" and checked["outcome"] == "adopted"
    when = datetime.datetime.fromtimestamp(checked["ts_ms"] / 1000, datetime.UTC).strftime(
        "%Y-%m-%d %H:%M UTC"
    )
    for expected in (
        "VALID decision",
        "Toronto Council",
        "Toronto, CA",
        "Hold a rally",
        "outcome:     adopted",
        "tally:       yes 2, no 1, abstain 0",
        f"decided:     {when}",
        f"tree size {checked['checkpoint_size']}",
        "cosigned by: nobody",
    ):
        assert expected in report, (expected, report)
    assert checked["checkpoint_size"] > 0 and checked["cosigners"] == []

    # a tampered bundle, or the wrong council's key: exit 1 and say so
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered = tmp_path / "tampered.bundle"
    tampered.write_bytes(bytes(data))
    assert "NOT VALID" in refused("verify", tampered, "--council", council_key)
    stranger = codec.b64u(SigningKey.generate().public.raw)
    assert "NOT VALID" in refused("verify", bundle, "--council", stranger)
    assert "council key" in refused("verify", bundle, "--council", "not-a-key")

    # any command once no node is running
    assert "cannot reach the node" in refused("member", "list", home=home)


def test_init_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    assert "not empty" in refused("init", folder, *INIT)
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]
    init(tmp_path / "fresh")
    assert "not empty" in refused("init", tmp_path / "fresh", *INIT)


def test_commands_without_a_running_node_or_a_data_folder(tmp_path: Path) -> None:
    home = tmp_path / "idle"
    init(home)
    assert "cannot reach the node" in refused("member", "join", "--name", "Ava", home=home)
    missing = tmp_path / "missing"
    assert "not a shora data folder" in refused("member", "list", "--dir", missing)
    assert "not a shora data folder" in refused("serve", missing)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "node.json").write_text("{")
    assert "cannot read" in refused("member", "list", "--dir", broken)
    done = shora("member", "list", "--dir", missing, "--json", code=1)  # the refusal as JSON too
    assert set(json.loads(done.stdout)) == {"error", "message"}


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert "--name" in usage_error("member", "join", home=home)
    assert "--continent" in usage_error("init", tmp_path / "x", "--name", "Toronto Council")
    assert not (tmp_path / "x").exists()
    bundle = tmp_path / "some.bundle"
    bundle.write_bytes(b"\x00")
    assert "--council" in usage_error("verify", bundle)
    usage_error("vote", "abcd", home=home)
    usage_error("frobnicate")


def test_ids_that_begin_with_a_dash_are_arguments(tmp_path: Path) -> None:
    # one base64url id in 64 begins with "-": shora must take it back as printed, not as an option
    from click.testing import CliRunner

    from node import config as cfg
    from node.cli.main import cli

    result = CliRunner().invoke(cli, ["vote", "-Abcd", "--dir", str(tmp_path), "-efgh", "yes", "--json"])
    assert isinstance(result.exception, cfg.ConfigError), result.output  # parsed; then no data folder
    result = CliRunner().invoke(cli, ["vote", "-Abcd", "-efgh", "yes", "--bogus"])
    assert result.exit_code == 2 and "--bogus" in result.output


BAD_QUORUMS = {
    "not_a_number": "abc",
    "zero": "0",
    "more_than_all": "5/3",
    "zero_denominator": "1/0",
    "negative": "-1",
}


@pytest.mark.parametrize("quorum", BAD_QUORUMS.values(), ids=BAD_QUORUMS.keys())
def test_a_bad_quorum_is_refused_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], quorum: str
) -> None:
    """``init`` and ``motion propose --kind rules`` share one parser: exit 1 and a message, no traceback,
    and nothing created or sent."""
    from node.bootstrap import init_node
    from node.cli.main import main
    from node.rules.council import FoundCouncil

    def refused(*argv: str) -> str:
        with pytest.raises(SystemExit) as exited:
            main([*argv, "--quorum", quorum])
        assert exited.value.code == 1
        out = capsys.readouterr()
        assert out.err.startswith(f"shora: --quorum {quorum!r}: a quorum is a count") and out.out == ""
        return out.err

    refused("init", str(tmp_path / "new"), *INIT)
    assert not (tmp_path / "new").exists()
    home = tmp_path / "home"
    init_node(home, FoundCouncil(name="Toronto Council", continent="North America"), listen="127.0.0.1:0")
    # no node is serving: a request would fail differently, so this message proves none was attempted
    refused("motion", "propose", "current", "--text", "New rules", "--kind", "rules", "--dir", str(home))


def test_verify_requires_every_named_witness(tmp_path: Path) -> None:
    """``--witness K`` alone requires K's cosignature; ``--min-cosignatures`` may ask for fewer."""
    vectors = Path(__file__).parents[1] / "vectors"
    bundle = Bundle.decode((vectors / "bundle.bin").read_bytes())
    checkpoint = open_checkpoint(bundle.checkpoint, COUNCIL.public).checkpoint
    uncosigned = tmp_path / "uncosigned.bundle"
    uncosigned.write_bytes(
        Bundle(bundle.decision, sign_checkpoint(COUNCIL, checkpoint), bundle.founding, bundle.keys).encode()
    )
    cosigned = vectors / "bundle.bin"  # cosigned by both witnesses
    council = codec.b64u(COUNCIL.public.raw)
    first, second = (vkey(name, key.public, KeyKind.COSIGNATURE_V1) for name, key in WITNESSES)
    stranger = vkey("shora-witness/stranger", SigningKey.generate().public, KeyKind.COSIGNATURE_V1)

    why = refused("verify", uncosigned, "--council", council, "--witness", first)
    assert "NOT VALID — cosignatures: 0 valid witness cosignatures, at least 1 required" in why
    assert "at least 2 required" in refused(
        "verify", cosigned, "--council", council, "--witness", first, "--witness", stranger
    )
    shora("verify", cosigned, "--council", council, "--witness", first, "--witness", second)
    checked = as_json(
        "verify", cosigned, "--council", council, "--witness", first, "--witness", stranger,
        "--min-cosignatures", "1",
    )  # fmt: skip
    assert [c["name"] for c in checked["cosigners"]] == [WITNESSES[0][0]]
    shora("verify", uncosigned, "--council", council, "--witness", first, "--min-cosignatures", "0")
    shora("verify", uncosigned, "--council", council)  # no witness named, none required


def test_a_rules_motion_names_the_rules_it_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 13: a rules motion changes only the rules it names, so one naming none is a usage error; no node
    is serving, so the message proves nothing was sent."""
    from node.bootstrap import init_node
    from node.cli.main import main
    from node.rules.council import FoundCouncil

    home = tmp_path / "home"
    init_node(home, FoundCouncil(name="Toronto Council", continent="North America"), listen="127.0.0.1:0")
    with pytest.raises(SystemExit) as exited:
        main(["motion", "propose", "current", "--text", "New rules", "--kind", "rules", "--dir", str(home)])
    assert exited.value.code == 2
    assert "--kind rules names the rules it changes" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["motion", "propose", "current", "--text", "Rally", "--census-bucket", "5", "--dir", str(home)])
    assert exited.value.code == 2
    assert "belong to --kind rules" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("quorum", "cap"), [("1/1", "--quorum-cap"), ("3/3", "--quorum-cap"), ("3", "--no-quorum-cap")]
)
def test_init_refuses_a_quorum_of_every_member(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], quorum: str, cap: str
) -> None:
    """Issue 13: a council founded with a quorum of all its members could never decide anything (one absent
    member blocks even the repeal), nor one founded with a count and no quorum cap once members leave: exit
    1 with the reason, and no folder created."""
    from node.cli.main import main

    with pytest.raises(SystemExit) as exited:
        main(["init", str(tmp_path / "new"), *INIT, "--quorum", quorum, cap])
    assert exited.value.code == 1
    out = capsys.readouterr()
    assert (
        out.err.startswith(f"shora: --quorum {quorum}: these rules could never decide anything")
        and not out.out
    )
    assert not (tmp_path / "new").exists()
